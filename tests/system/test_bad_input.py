"""Bad input gets a clear one-line error naming the file and the reason,
and changes nothing."""
import os

import pytest

from conftest import one_line_error


@pytest.fixture(scope="module")
def bad_files(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    good = pki.leaf("bad-input-base.example")
    der = pki.der(good).read_bytes()
    files = {}

    def put(name, data):
        p = d / name
        p.write_bytes(data)
        files[name] = p

    put("empty.pem", b"")
    put("garbage.bin", os.urandom(700))
    put("text.txt", b"hello, this is not a certificate\n" * 10)
    put("truncated.der", der[: len(der) // 2])
    pem = good.read_text().splitlines()
    put("truncated.pem", ("\n".join(pem[: len(pem) // 2]) + "\n").encode())
    put("trailing.der", der + b"\x00\x01")
    put("toobig.pem", good.read_bytes() + b"#" * (1024 * 1024))
    put("key-only.pem", pki.key.read_bytes())
    files["wrong-password.p12"] = pki.p12(good, "wrongpw.p12", "right")
    files["no-password.p12"] = pki.p12(good, "nopw.p12", "right2")
    files["many-iterations.p12"] = pki.p12(good, "iter.p12", "pw",
                                           iterations=2_000_000)
    files["rsa-4608.pem"] = pki.rsa_leaf("big-rsa.example", 4608, "rsa4608")
    files["missing.pem"] = d / "does-not-exist.pem"
    files["good"] = good
    return files


CASES = [
    ("empty.pem", [], "empty"),
    ("garbage.bin", [], "not a certificate"),
    ("text.txt", [], "not a certificate"),
    ("truncated.der", [], ""),
    ("truncated.pem", [], ""),
    ("trailing.der", [], ""),
    ("toobig.pem", [], "cap"),
    ("key-only.pem", [], "no certificate"),
    ("wrong-password.p12", ["--password", "wrong"], "password"),
    ("no-password.p12", [], "password"),
    ("many-iterations.p12", ["--password", "pw"], "iterations"),
    ("rsa-4608.pem", [], "4096"),
    ("missing.pem", [], "No such file"),
]


@pytest.mark.parametrize("name,extra,words", CASES, ids=[c[0] for c in CASES])
def test_bad_file_is_refused_and_changes_nothing(certmon, bad_files, name,
                                                 extra, words):
    certmon.ok("cert", "upload", "--unit", "tomcat-trust", bad_files["good"])
    before = certmon.snapshot()
    r = certmon("cert", "upload", "--unit", "tomcat-trust", *extra,
                bad_files[name])
    assert r.rc == 1, r
    line = one_line_error(r)
    assert str(bad_files[name]) in line
    assert words.lower() in line.lower()
    assert certmon.snapshot() == before
    j = certmon("cert", "upload", "--unit", "tomcat-trust", "--json", *extra,
                bad_files[name])
    assert j.rc == 1 and j.json["status"] == "error"
    assert str(bad_files[name]) in j.json["error"]


def test_unknown_unit_is_refused(certmon, bad_files):
    before = certmon.snapshot()
    r = certmon("cert", "upload", "--unit", "nope", bad_files["good"])
    assert r.rc == 1
    assert "unknown unit 'nope'" in one_line_error(r)
    assert certmon.snapshot() == before


def test_usage_errors_exit_2(certmon, bad_files):
    assert certmon("cert", "upload", bad_files["good"]).rc == 2
    assert certmon("cert", "upload", "--unit", "tomcat").rc == 2
    assert certmon("cert", "list", "--state", "bogus").rc == 2
    assert certmon("--bogus", "cert", "list").rc == 2
    assert certmon("cert", "show").rc == 2
    # commands whose only option is --json refuse stray arguments
    for cmd in (["monitor", "show"], ["monitor", "status"], ["smtp", "show"],
                ["service", "list"], ["token", "list"], ["endpoint", "list"],
                ["revocation", "show"], ["params", "show"],
                ["token", "add", "a", "b"]):
        r = certmon(*cmd, "stray")
        assert r.rc == 2 and "unexpected argument" in r.err, (cmd, r)


def test_bad_fingerprints(certmon, bad_files):
    certmon.ok("cert", "upload", "--unit", "tomcat-trust", bad_files["good"])
    r = certmon("cert", "show", "xyz")
    assert r.rc == 1 and "hexadecimal" in one_line_error(r)
    r = certmon("cert", "delete", "0000000000000000000000")
    assert r.rc == 1 and "no certificate" in one_line_error(r)
