"""certmond as a process: start (within 5 s, key generation included), its
HTTPS identity, plain HTTP, TLS versions, signals, logs, bad options.

Every daemon these tests start is stopped by the helper with SIGTERM, which
asserts exit status 0 within 2 s and no sanitizer report."""
import hashlib
import os
import shutil
import signal
import socket
import ssl
import stat
import struct
import subprocess
import time
from pathlib import Path

import pytest

from daemon import (CERTMOND_BIN, DAY, HOUR, LISTEN_DEADLINE, STOP_DEADLINE,
                    Certmond, free_port, listening, ts, wait_for)


@pytest.fixture
def daemon(tmp_path):
    with Certmond(tmp_path) as d:
        yield d


def fingerprint(pem_path):
    der = ssl.PEM_cert_to_DER_cert(open(pem_path).read())
    return hashlib.sha256(der).hexdigest()


def served_cert(port):
    """The DER certificate the server presents (no verification)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            return t.getpeercert(binary_form=True)


# ------------------------------------------------------------ first start

def test_first_start_listens_within_5s_and_creates_the_identity(tmp_path):
    d = Certmond(tmp_path)
    assert not d.db.exists() and not d.https_key.exists()
    with d:
        # the helper asserted the deadline; say it here too
        assert d.listen_seconds <= LISTEN_DEADLINE
        assert d.db.exists()
        assert d.https_key.exists() and d.https_cert.exists()
        assert stat.S_IMODE(d.https_key.stat().st_mode) == 0o600
        # the certificate is public; it must not be writable by others
        assert not stat.S_IMODE(d.https_cert.stat().st_mode) & 0o022
        # the store holds secrets (token hashes, the SMTP password)
        assert stat.S_IMODE(d.db.stat().st_mode) & 0o077 == 0
        assert "BEGIN" in d.https_key.read_text() and \
            "PRIVATE KEY" in d.https_key.read_text()

        # the HTTPS certificate verifies for 127.0.0.1 (the helper's
        # context checks the host name) and is the one in the file
        r = d.request("GET", "/healthz", auth=False)
        assert r.status == 200 and r.json["status"] == "ok"
        der = served_cert(d.port)
        assert hashlib.sha256(der).hexdigest() == fingerprint(d.https_cert)
        assert "created a self-signed HTTPS certificate" in d.log()
        assert f"listening on https://127.0.0.1:{d.port}" in d.log()


def test_https_certificate_is_monitored_in_tomcat(daemon):
    fp = fingerprint(daemon.https_cert)
    doc = daemon.get("/certs?unit=tomcat")
    rows = [c for c in doc["certs"] if c["fingerprint"] == fp]
    assert len(rows) == 1, doc
    row = rows[0]
    assert row["unit"] == "tomcat" and row["current"] is True
    assert row["key_type"] == "EC" and row["key_bits"] == 256
    assert row["state"] == "valid"
    # the CLI sees the same row
    certs = daemon.cli_json("cert", "list", "--unit", "tomcat")["certs"]
    assert fp in [c["fingerprint"] for c in certs]


def test_second_start_reuses_the_identity(tmp_path):
    d = Certmond(tmp_path)
    d.start()
    key1, cert1 = d.https_key.read_bytes(), d.https_cert.read_bytes()
    d.stop()
    d.start()
    try:
        assert d.https_key.read_bytes() == key1
        assert d.https_cert.read_bytes() == cert1
        assert "created a self-signed" not in d.log()
        assert hashlib.sha256(served_cert(d.port)).hexdigest() == \
            fingerprint(d.https_cert)
        # still one row in tomcat, not a duplicate or a replacement
        fp = fingerprint(d.https_cert)
        doc = d.get("/certs?unit=tomcat&history=1")
        assert [c["fingerprint"] for c in doc["certs"]] == [fp]
    finally:
        d.stop()


def test_admin_certificate_and_key(tmp_path, pki):
    leaf = pki.leaf("certmond.example", days=100, name="daemon-https",
                    san="DNS:localhost,IP:127.0.0.1")
    d = Certmond(tmp_path, args=["--tls-cert", str(leaf),
                                 "--tls-key", str(pki.key)])
    d.cafile = pki.ca
    with d:
        assert hashlib.sha256(served_cert(d.port)).hexdigest() == \
            fingerprint(leaf)
        assert d.request("GET", "/healthz", auth=False).status == 200
        # nothing self-signed was made
        assert not d.https_key.exists() and not d.https_cert.exists()
        tomcat = d.get("/certs?unit=tomcat")["certs"]
        assert [c["subject_cn"] for c in tomcat] == ["certmond.example"]


def test_tls_cert_without_key_is_a_usage_error(tmp_path, pki):
    leaf = pki.leaf("half.example", name="daemon-half")
    p = subprocess.run([CERTMOND_BIN, "--db", str(tmp_path / "s.db"),
                        "--listen", f"127.0.0.1:{free_port()}",
                        "--tls-cert", str(leaf)],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 3, p
    assert "usage" in p.stderr


def test_unknown_option_is_a_usage_error(tmp_path):
    p = subprocess.run([CERTMOND_BIN, "--db", str(tmp_path / "s.db"),
                        "--no-such-option"], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 3, p
    assert not (tmp_path / "s.db").exists()


def test_port_in_use_fails_fast_with_one_clear_line(tmp_path):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        t0 = time.monotonic()
        p = subprocess.run([CERTMOND_BIN, "--db", str(tmp_path / "s.db"),
                            "--listen", f"127.0.0.1:{port}", "--no-tls"],
                           capture_output=True, text=True, timeout=10)
        assert time.monotonic() - t0 < 5
    assert p.returncode != 0, p
    assert f"127.0.0.1:{port}" in p.stderr, p.stderr


def test_bad_listen_address(tmp_path):
    p = subprocess.run([CERTMOND_BIN, "--db", str(tmp_path / "s.db"),
                        "--listen", "localhost-8443", "--no-tls"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "--listen" in p.stderr


# ------------------------------------------------------- HTTP, TLS versions

def test_plain_http_with_no_tls(tmp_path):
    with Certmond(tmp_path, tls=False) as d:
        r = d.request("GET", "/healthz", auth=False)
        assert r.status == 200 and r.json == {"status": "ok"}
        assert d.get("/units")["units"]
        assert "listening on http://" in d.log()
        # no HTTPS identity is made, and a TLS client gets no handshake
        assert not d.https_key.exists() and not d.https_cert.exists()
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            served_cert(d.port)
        d.sync()       # the garbage handshake did not disturb the daemon
        # no HSTS over plain HTTP
        assert "Strict-Transport-Security" not in r.headers


def s_client(port, *opts):
    return subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
         "-servername", "localhost", *opts],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)


def test_tls_1_1_is_refused_and_1_2_1_3_accepted(daemon):
    # SECLEVEL=0 lets the local OpenSSL offer TLS 1.1 at all: the refusal
    # below is the daemon's, not the client library's
    weak = ["-cipher", "DEFAULT:@SECLEVEL=0"]
    for version in ("-tls1_1", "-tls1"):
        old = s_client(daemon.port, version, *weak)
        assert old.returncode != 0, old.stdout
        # no cipher was agreed and the server never showed its certificate
        assert "Cipher is (NONE)" in old.stdout, old.stdout
        assert "BEGIN CERTIFICATE" not in old.stdout
    # the same client, allowed TLS 1.2 or 1.3, gets through
    ok12 = s_client(daemon.port, "-tls1_2", *weak)
    assert ok12.returncode == 0, ok12.stderr
    assert "New, TLSv1.2, Cipher is" in ok12.stdout, ok12.stdout
    ok13 = s_client(daemon.port, "-tls1_3")
    assert ok13.returncode == 0, ok13.stderr
    assert "New, TLSv1.3, Cipher is" in ok13.stdout, ok13.stdout
    daemon.sync()


def test_security_headers(daemon):
    r = daemon.request("GET", "/api/v1/units")
    assert r.status == 200
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")


# ---------------------------------------------------------------- signals

def test_sigterm_exits_0_within_2s(tmp_path):
    d = Certmond(tmp_path).start()
    took = d.stop(signal.SIGTERM)
    assert took < STOP_DEADLINE
    assert "stopping" in d.log()


def test_sigint_exits_0(tmp_path):
    d = Certmond(tmp_path).start()
    assert d.stop(signal.SIGINT) < STOP_DEADLINE


def test_sigterm_with_idle_and_half_sent_connections(tmp_path):
    """Open connections (an idle one, one with half a request) must not
    hold the daemon past 2 s."""
    d = Certmond(tmp_path, tls=False).start()
    idle = socket.create_connection(("127.0.0.1", d.port))
    half = socket.create_connection(("127.0.0.1", d.port))
    half.sendall(b"POST /api/v1/certs?unit=tomcat HTTP/1.1\r\n"
                 b"Host: x\r\nContent-Length: 100000\r\n\r\nabc")
    try:
        d.sync()
        assert d.stop(signal.SIGTERM) < STOP_DEADLINE
    finally:
        idle.close()
        half.close()


def test_sigterm_during_tls_handshake(tmp_path):
    d = Certmond(tmp_path).start()
    raw = socket.create_connection(("127.0.0.1", d.port))
    raw.sendall(b"\x16\x03\x01\x00\x05")     # the start of a ClientHello
    try:
        assert d.stop(signal.SIGTERM) < STOP_DEADLINE
    finally:
        raw.close()


def test_sighup_keeps_running_and_reloads(daemon):
    before = daemon.service()
    daemon.send_signal(signal.SIGHUP)
    wait_for(lambda: "SIGHUP" in daemon.log(), what="the SIGHUP log line")
    assert daemon.alive()
    daemon.sync()
    # a reload, not a restart: the services' cycle is untouched
    after = daemon.service()
    assert after["started_at"] == before["started_at"]
    assert after["next_run"] == before["next_run"]
    daemon.send_signal(signal.SIGHUP)
    wait_for(lambda: daemon.log().count("SIGHUP") >= 2)
    assert daemon.alive()
    assert daemon.get("/units")["units"]


# --------------------------------------------------------------- logging

def test_logs_one_line_per_event_on_stderr(daemon):
    daemon.cli_ok("service", "restart", "expiry-monitor")
    daemon.sync()
    text = daemon.log()
    lines = text.splitlines()
    assert lines and all(l.startswith("certmond: ") for l in lines), text
    assert any("Certificate Expiry Monitor ran" in l for l in lines)


def test_listens_within_5s_even_under_load(tmp_path):
    """Several first starts in a row (a key each): all within the limit."""
    for i in range(3):
        d = Certmond(tmp_path / f"d{i}")
        d.start()
        assert d.listen_seconds <= LISTEN_DEADLINE
        d.stop()


def test_clock_file_drives_now(daemon):
    [row] = daemon.get("/certs?unit=tomcat")["certs"]
    assert row["state"] == "valid"
    # ten days before the HTTPS certificate's notAfter (397 days away on
    # the wall clock): states follow the injected clock
    daemon.set_time(ts(row["not_after"]) - 10 * DAY + HOUR)
    [row] = daemon.get("/certs?unit=tomcat")["certs"]
    assert row["state"] == "expiring" and row["days_left"] in (9, 10), row


# ---------------------------------------------------------------- systemd

def test_notifies_systemd_when_ready(tmp_path):
    """With NOTIFY_SOCKET set (Type=notify), the daemon itself - its own
    PID, checked with SO_PASSCRED - sends READY=1 once it listens, so the
    unit works with systemd's default NotifyAccess=main."""
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    sock.settimeout(5)
    d = Certmond(tmp_path, env={"NOTIFY_SOCKET": path})
    d.start()
    try:
        msg, anc, _flags, _addr = sock.recvmsg(
            4096, socket.CMSG_SPACE(struct.calcsize("3i")))
        assert msg == b"READY=1", msg
        creds = [data for level, kind, data in anc
                 if level == socket.SOL_SOCKET and
                 kind == socket.SCM_CREDENTIALS]
        assert creds, anc
        pid, _uid, _gid = struct.unpack("3i", creds[0][:12])
        assert pid == d.proc.pid
        assert d.request("GET", "/healthz", auth=False).status == 200
        assert "could not notify systemd" not in d.log()
    finally:
        d.stop()
        sock.close()


def test_unusable_store_fails_at_start_with_one_line(tmp_path):
    bad = tmp_path / "not-a-store"
    bad.write_bytes(b"this is not an SQLite database" * 100)
    p = subprocess.run([CERTMOND_BIN, "--db", str(bad), "--no-tls",
                        "--listen", f"127.0.0.1:{free_port()}"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode != 0, p
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "not-a-store" in lines[0], p.stderr


def test_dist_default_options_and_certmon_db_env(tmp_path):
    """As the systemd unit runs it: the store from $CERTMON_DB, the options
    from CERTMOND_OPTS in dist/certmond.default (its port replaced)."""
    default = Path(__file__).resolve().parents[2] / "dist" / "certmond.default"
    opts = None
    for line in default.read_text().splitlines():
        if line.startswith("CERTMOND_OPTS="):
            opts = line.split("=", 1)[1].split()
    assert opts is not None and "--listen" in opts
    port = free_port()
    opts[opts.index("--listen") + 1] = f"127.0.0.1:{port}"
    db = tmp_path / "env.db"
    env = dict(os.environ, CERTMON_DB=str(db))
    log = open(tmp_path / "env.log", "wb")
    proc = subprocess.Popen([CERTMOND_BIN, *opts], env=env, cwd=tmp_path,
                            stdout=log, stderr=log)
    try:
        wait_for(lambda: listening(port) or proc.poll() is not None,
                 timeout=LISTEN_DEADLINE)
        assert proc.poll() is None, (tmp_path / "env.log").read_text()
        assert db.exists() and Path(f"{db}.https-key.pem").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=STOP_DEADLINE) == 0
        log.close()
