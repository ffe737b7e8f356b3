"""Fault injection: hostile or broken OCSP responders (a 50 MiB body, a
connection closed mid-body, a trickle slower than the deadline), kill -9
during a 100,000-certificate upload and during a revocation run, a full and
a read-only file system, and the store's integrity after each.

The SMTP faults (server down, slow, 4xx/5xx, kill -9 mid-delivery) are in
test_monitor_outbox.py and test_daemon_schedule.py; two writers at once in
test_concurrency.py.
"""
import os
import resource
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import BIN, ROOT, one_line_error
from ocsp_pki import OcspPki, free_port

DEADLINE = 5          # certmon's default fetch deadline, seconds


class RawHttp:
    """A loopback HTTP server that answers every request with `behaviour`
    (a function writing to the socket) - for bodies no real server sends."""

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def url(self, path="/ocsp"):
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self._one, args=(conn,),
                             daemon=True).start()

    def _one(self, conn):
        try:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            self.behaviour(conn, self.stop)
        except OSError:
            pass
        finally:
            conn.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


def huge_body(conn, stop):
    """50 MiB of zeros, no Content-Length (read until close)."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/ocsp-response"
                 b"\r\nConnection: close\r\n\r\n")
    block = b"\x00" * 65536
    for _ in range(800):
        if stop.is_set():
            return
        conn.sendall(block)


def closed_mid_body(conn, stop):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n"
                 b"Content-Type: application/ocsp-response\r\n\r\n" +
                 b"\x30\x82\x13\x84" + b"\x00" * 96)


def trickle(conn, stop):
    """One byte a second: slower than any deadline."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n")
    for _ in range(60):
        if stop.is_set():
            return
        conn.sendall(b"\x00")
        time.sleep(1)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return OcspPki(tmp_path_factory.mktemp("faults-pki"))


def ocsp_check(pki, url, timeout=DEADLINE):
    """Runs `certmon ocsp check`; returns (json, seconds, peak RSS in KiB of
    the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.monotonic()
    p = subprocess.run([BIN, "ocsp", "check", "--cert", str(pki.good),
                        "--issuer", str(pki.int), "--url", url, "--json",
                        "--timeout", str(timeout)],
                       capture_output=True, text=True, timeout=60)
    took = time.monotonic() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    import json
    doc = json.loads(p.stdout)
    return p, doc, took, max(rss, before)


@pytest.mark.parametrize("behaviour,fragment", [
    (huge_body, "above the 65536-byte cap"),
    (closed_mid_body, "fetch"),
    (trickle, "fetch"),
], ids=["50MiB-body", "closed-mid-body", "trickle"])
def test_broken_responder_is_an_error_in_bounded_time_and_memory(
        pki, behaviour, fragment):
    with RawHttp(behaviour) as srv:
        p, doc, took, rss_kib = ocsp_check(pki, srv.url())
    assert doc["status"] == "error", doc
    assert fragment in doc["reason"], doc
    # never good, never revoked; soft-fail outside Common Criteria mode
    assert doc["verdict"] == "pass" and p.returncode == 1, doc
    assert took < DEADLINE + 3, took
    # bounded memory: a 50 MiB body never lives in memory (ASan builds
    # carry their shadow memory, hence the generous bound)
    assert rss_kib < 400 * 1024, rss_kib


def integrity_ok(db):
    with sqlite3.connect(db) as c:
        return c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def count_rows(db, unit):
    with sqlite3.connect(db) as c:
        return c.execute("SELECT count(*) FROM unit_certs WHERE unit = ?",
                         (unit,)).fetchone()[0]


@pytest.fixture(scope="module")
def many_certs(tmp_path_factory):
    """100,000 distinct certificates, minted by bench/mint (libcrypto)."""
    subprocess.run(["make", "-s", "-C", str(ROOT / "bench")], check=True,
                   capture_output=True)
    d = tmp_path_factory.mktemp("many") / "certs"
    subprocess.run([str(ROOT / "bench" / "build" / "mint"), str(d), "100000",
                    "--threads", "2"], check=True, capture_output=True,
                   timeout=900)
    return d


def test_kill_9_during_a_100k_upload_leaves_all_or_nothing(certmon,
                                                           many_certs):
    certmon.ok("unit", "add", "bulk", "--trust")
    files = len(os.listdir(many_certs))
    assert files == 100000
    proc = subprocess.Popen([BIN, "--db", str(certmon.db), "cert", "upload",
                             "--unit", "bulk", str(many_certs)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    # kill it while it writes: after some files are in the open transaction
    time.sleep(1.5)
    assert proc.poll() is None, "the upload ended before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert integrity_ok(certmon.db)
    assert count_rows(certmon.db, "bulk") == 0      # whole or absent
    # and the upload works when run again
    certmon.ok("cert", "upload", "--unit", "bulk", str(many_certs),
               timeout=900)
    assert count_rows(certmon.db, "bulk") == 100000
    assert integrity_ok(certmon.db)


def test_kill_9_during_a_revocation_run_then_the_run_resumes(certmon, pki,
                                                             tmp_path):
    responder = pki.responder("ca", ndays=1).start()
    try:
        with RawHttp(trickle) as slow:
            certmon.ok("cert", "upload", "--unit", "tomcat-trust", pki.root,
                       pki.int)
            certmon.ok("cert", "upload", "--unit", "tomcat", pki.good)
            # the first run asks a responder that trickles: kill it then
            certmon.ok("revocation", "set", "--ocsp", "on", "--uri-source",
                       "configured", "--uri", slow.url())
            proc = subprocess.Popen([BIN, "--db", str(certmon.db),
                                     "revocation", "run"],
                                    stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            time.sleep(1.5)
            assert proc.poll() is None
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        assert integrity_ok(certmon.db)
        # the next run, against a working responder, checks and records
        certmon.ok("revocation", "set", "--uri", responder.url)
        doc = certmon.ok("revocation", "run", "--json").json
        good = [r for r in doc["results"] if r["cn"] == "Good Leaf"]
        assert good and good[0]["status"] == "good", doc
        [row] = [c for c in certmon.certs() if c["subject_cn"] ==
                 "Good Leaf"]
        assert row["revocation"] == "good"
    finally:
        responder.stop()


def mount_tmpfs(path, size):
    path.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}",
                        "tmpfs", str(path)], capture_output=True)
    return r.returncode == 0


needs_mount = pytest.mark.skipif(
    os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI is root)")


@needs_mount
def test_full_disk_gives_a_clear_error_and_loses_nothing(tmp_path, pki):
    mnt = tmp_path / "small"
    if not mount_tmpfs(mnt, "1m"):
        pytest.skip("this kernel refuses tmpfs mounts here")
    try:
        db = mnt / "store.db"
        from conftest import Certmon
        cm = Certmon(db)
        cm.ok("cert", "upload", "--unit", "tomcat", pki.good)
        before = cm.snapshot()
        # fill the file system
        with open(mnt / "filler", "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        r = cm("cert", "upload", "--unit", "tomcat-trust", pki.root, pki.int,
               pki.revoked)
        assert r.rc == 1, r
        assert "disk full" in one_line_error(r) or "full" in r.err, r
        os.unlink(mnt / "filler")
        assert cm.snapshot() == before
        assert integrity_ok(db)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@needs_mount
def test_read_only_store_gives_a_clear_error_and_loses_nothing(tmp_path, pki):
    mnt = tmp_path / "ro"
    if not mount_tmpfs(mnt, "8m"):
        pytest.skip("this kernel refuses tmpfs mounts here")
    try:
        db = mnt / "store.db"
        from conftest import Certmon
        cm = Certmon(db)
        cm.ok("cert", "upload", "--unit", "tomcat", pki.good)
        before_bytes = db.read_bytes()
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        r = cm("cert", "upload", "--unit", "tomcat-trust", pki.root)
        assert r.rc == 1, r
        line = one_line_error(r)
        assert "read-only" in line or "readonly" in line, line
        assert db.read_bytes() == before_bytes
        # reading still works
        listed = cm("cert", "list", "--json")
        assert listed.rc == 0 or "read-only" in listed.err, listed
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
