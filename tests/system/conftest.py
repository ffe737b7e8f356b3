"""Shared fixtures of the system tests: the real certmon binary, a fresh
store per test, and a PKI made with the openssl CLI once per session."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from pki import Pki

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("CERTMON_BIN", str(ROOT / "build" / "certmon"))
# Under Valgrind (CERTMON_BIN is scripts/valgrind-certmon) the plain binary
# is CERTMON_REAL_BIN: snapshots - reads that check a command changed
# nothing - use it, the commands under test run under Valgrind.
PLAIN_BIN = os.environ.get("CERTMON_REAL_BIN", BIN)
# Valgrind runs the binary ~20x slower: scale the commands' timeouts.
TIMEOUT_SCALE = float(os.environ.get("CERTMON_TIMEOUT_SCALE", "1"))


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    @property
    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"<rc={self.rc} out={self.out[:2000]!r} err={self.err[:2000]!r}>"


class Certmon:
    """Runs the real binary against one store."""

    def __init__(self, db: Path):
        self.db = db

    def __call__(self, *args, env=None, input=None, timeout=120, bin=None):
        full_env = dict(os.environ)
        full_env.pop("CERTMON_NOW", None)
        full_env.update(env or {})
        proc = subprocess.run([bin or BIN, "--db", str(self.db),
                               *map(str, args)],
                              capture_output=True, text=True, env=full_env,
                              input=input, timeout=timeout * TIMEOUT_SCALE)
        return Result(proc)

    def ok(self, *args, **kw):
        r = self(*args, **kw)
        assert r.rc == 0, r
        return r

    def certs(self, *args):
        return self.ok("cert", "list", "--json", *args).json["certs"]

    def snapshot(self):
        """Everything a failed command must leave unchanged (read at one
        fixed time, so that computed fields such as days_left compare)."""
        if not self.db.exists():
            self.ok("unit", "list")   # created now, not at the fixed time
        kw = {"env": {"CERTMON_NOW": "2030-01-01T00:00:00Z"},
              "bin": PLAIN_BIN}
        return (self.ok("cert", "list", "--history", "--json",
                        **kw).json["certs"],
                self.ok("unit", "list", "--json", **kw).json["units"],
                self.ok("events", "--limit", "100000", "--json",
                        **kw).json["events"],
                self.ok("monitor", "show", "--json", **kw).json["monitor"],
                self.ok("smtp", "show", "--json", **kw).json["smtp"])


@pytest.fixture
def certmon(tmp_path):
    return Certmon(tmp_path / "store.db")


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


def one_line_error(r):
    """The error of a failed command: exactly one line on stderr."""
    lines = [l for l in r.err.splitlines() if l.strip()]
    assert len(lines) == 1, r
    return lines[0]
