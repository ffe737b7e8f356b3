"""cm_mail_send against a real SMTP server (tests/system/smtpd.py).

Runs the cmocka test test_smtp_live of build/tests/test_mail (or
$CERTMON_TEST_MAIL_BIN, e.g. build-san/tests/test_mail) with
CERTMON_TEST_SMTP_* set, then checks what the server stored. The message
the C test sends is fixed there (SMTP_FROM, SMTP_TO, SMTP_SUBJECT,
SMTP_BODY in tests/unit/test_mail.c): keep the constants below in sync.

    /usr/bin/python3 -m pytest -q tests/system/test_smtp_lib.py
"""

import email
import email.policy
import importlib.util
import os
import subprocess
import time
from pathlib import Path

import pytest

# smtpd.py by path: the name "smtpd" is also a (deprecated) stdlib module
_spec = importlib.util.spec_from_file_location(
    "certmon_test_smtpd", Path(__file__).resolve().parent / "smtpd.py")
_smtpd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_smtpd)
SmtpServer = _smtpd.SmtpServer

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("CERTMON_TEST_MAIL_BIN",
                          ROOT / "build" / "tests" / "test_mail"))

FROM = "certmon@example.org"
RCPTS = ["ops@example.com", "pki-team@example.net"]
# SMTP_SUBJECT had "\r\n": it became a space inside one encoded header
SUBJECT = "Zertifikat l\u00e4uft ab: tomcat  Bcc: evil@example.org"
BODY = ("Certificates expiring within 30 days:\n"
        "\n"
        "tomcat  CN=web01.example.com  expires 2027-02-01T00:00:00Z "
        "(\u6771\u4eac)\n"
        ".leading dot\n"
        ".\n"
        "..two dots\n"
        "end\n")


@pytest.fixture(scope="session")
def test_bin():
    if not BIN.exists():
        subprocess.run(["make", "build/tests/test_mail"], cwd=ROOT,
                       check=False, capture_output=True)
    if not BIN.exists():
        pytest.fail(f"{BIN} is missing: build it with "
                    f"`make build/tests/test_mail`")
    return BIN


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 / localhost (also the CA)."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True)
    return cert, key


def run_send(test_bin, server, *, tls="none", ca=None, user=None,
             password=None, timeout_ms=None, expect="ok"):
    """Runs test_smtp_live; returns its SMTP-* lines as a dict."""
    env = dict(os.environ)
    env.update({
        "CERTMON_TEST_FILTER": "test_smtp_live",
        "CERTMON_TEST_SMTP_HOST": server.host,
        "CERTMON_TEST_SMTP_PORT": str(server.port),
        "CERTMON_TEST_SMTP_TLS": tls,
        "CERTMON_TEST_SMTP_EXPECT": expect,
    })
    for name, val in (("CA", ca), ("USER", user), ("PASSWORD", password),
                      ("TIMEOUT_MS", timeout_ms)):
        if val is not None:
            env[f"CERTMON_TEST_SMTP_{name}"] = str(val)
        else:
            env.pop(f"CERTMON_TEST_SMTP_{name}", None)
    start = time.monotonic()
    r = subprocess.run([str(test_bin)], env=env, capture_output=True,
                       text=True, timeout=60)
    out = {"elapsed": time.monotonic() - start}
    for line in r.stdout.splitlines():
        if line.startswith("SMTP-"):
            k, _, v = line.partition(": ")
            out[k[5:].lower()] = v
    assert r.returncode == 0, (
        f"test_smtp_live failed (expect={expect}):\n{r.stdout}\n{r.stderr}\n"
        f"server log:\n{server.log()}")
    assert "[  PASSED  ] 1 test(s)." in r.stdout + r.stderr, r.stdout
    return out


def check_delivered(server, result):
    msgs = server.messages()
    assert len(msgs) == 1, msgs
    m = msgs[0]
    assert m["mail_from"] == FROM
    assert m["rcpt_tos"] == RCPTS
    raw = m["data"]
    # 7-bit, CRLF everywhere, no bare CR or LF
    assert all(b < 0x80 for b in raw)
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    # libcurl dot-stuffed, the server unstuffed: dots arrive exactly once
    assert b"\r\n.leading dot\r\n.\r\n..two dots\r\n" in raw
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert not msg.defects, msg.defects
    assert msg["From"] == FROM
    assert [a.addr_spec for a in msg["To"].addresses] == RCPTS
    assert msg["Subject"] == SUBJECT
    assert msg["Bcc"] is None
    assert msg["Message-ID"] == result["message-id"]
    assert msg["Date"] == "Sun, 31 Jan 2027 12:00:00 +0000"
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    # (get_content keeps the CRLF of the decoded text lines)
    assert msg.get_content().replace("\r\n", "\n") == BODY
    # the reply is the server's own final line
    assert result["reply"] == "250 2.0.0 Ok: queued as certmon-test-1"
    assert result["status"] == "ok"
    return m


def test_plain(test_bin, tmp_path):
    with SmtpServer(tmp_path / "mail") as srv:
        res = run_send(test_bin, srv)
        m = check_delivered(srv, res)
        assert m["tls"] is False


def test_starttls_with_auth(test_bin, tmp_path, tls_cert):
    with SmtpServer(tmp_path / "mail", starttls=tls_cert,
                    require_starttls=True, auth="alice:s3cret") as srv:
        res = run_send(test_bin, srv, tls="starttls", ca=tls_cert[0],
                       user="alice", password="s3cret")
        m = check_delivered(srv, res)
        assert m["tls"] is True
        assert m["auth_login"] == "alice"


def test_implicit_tls(test_bin, tmp_path, tls_cert):
    with SmtpServer(tmp_path / "mail", tls=tls_cert) as srv:
        res = run_send(test_bin, srv, tls="implicit", ca=tls_cert[0])
        m = check_delivered(srv, res)
        assert m["tls"] is True


def test_starttls_never_falls_back_to_plain(test_bin, tmp_path):
    # the server offers no STARTTLS: nothing may be sent in plain text
    with SmtpServer(tmp_path / "mail") as srv:
        res = run_send(test_bin, srv, tls="starttls", expect="temporary")
        assert srv.messages() == []
        assert "STARTTLS" in res["error"] or "SSL" in res["error"], res


def test_starttls_untrusted_certificate(test_bin, tmp_path, tls_cert):
    # no ca_file: the system store does not trust the test certificate
    with SmtpServer(tmp_path / "mail", starttls=tls_cert,
                    require_starttls=True) as srv:
        res = run_send(test_bin, srv, tls="starttls", expect="temporary")
        assert srv.messages() == []
        assert "certificate" in res["error"].lower(), res


def test_plain_to_server_requiring_starttls(test_bin, tmp_path, tls_cert):
    # 530 "Must issue a STARTTLS command first" is a 5xx: permanent
    with SmtpServer(tmp_path / "mail", starttls=tls_cert,
                    require_starttls=True) as srv:
        res = run_send(test_bin, srv, tls="none", expect="permanent")
        assert res["reply"].startswith("530"), res
        assert srv.messages() == []


def test_wrong_password_is_permanent(test_bin, tmp_path, tls_cert):
    with SmtpServer(tmp_path / "mail", starttls=tls_cert,
                    require_starttls=True, auth="alice:s3cret") as srv:
        res = run_send(test_bin, srv, tls="starttls", ca=tls_cert[0],
                       user="alice", password="wrong", expect="permanent")
        assert res["reply"].startswith("535"), res
        assert srv.messages() == []


@pytest.mark.parametrize("code,stage,expect", [
    (451, "rcpt", "temporary"),
    (550, "rcpt", "permanent"),
    (452, "data", "temporary"),
    (554, "data", "permanent"),
])
def test_reply_classification(test_bin, tmp_path, code, stage, expect):
    with SmtpServer(tmp_path / "mail", reply_code=code,
                    reply_at=stage) as srv:
        res = run_send(test_bin, srv, expect=expect)
        assert res["reply"].startswith(f"{code} "), res
        assert res["permanent"] == ("1" if expect == "permanent" else "0")
        assert str(code) in res["error"], res
        assert srv.messages() == []


def test_timeout_is_temporary(test_bin, tmp_path):
    # the server sits on the end of DATA for 5 s; the client gives up at 1 s
    with SmtpServer(tmp_path / "mail", delay=5) as srv:
        res = run_send(test_bin, srv, timeout_ms=1000, expect="temporary")
        assert res["elapsed"] < 4.5, res
        assert "timed out" in res["error"].lower() or \
            "timeout" in res["error"].lower(), res
        # the server may still accept the message after the client gave up:
        # this is the at-least-once case the stable Message-ID is for
