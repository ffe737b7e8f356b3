"""The notification mail of the Certificate Expiry Monitor, as a real SMTP
server (tests/system/smtpd.py) receives it.

DESIGN.md: one run sends one e-mail to all E-mail IDs, listing every
certificate due, grouped by state (EXPIRED, CRITICAL, EXPIRING): unit,
subject CN, issuer, serial, notAfter, time left (and the fingerprint);
Subject "[certmon] certificates: N expiring, N critical, N expired"; headers
Date, Message-ID, From, To, Subject; text/plain; charset=utf-8,
quoted-printable. SMTP plain, STARTTLS or implicit TLS. Every string that
comes from a certificate is escaped for where it goes (mail headers, JSON).
"""
import email
import email.policy
import email.utils
import importlib.util
import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import one_line_error

_spec = importlib.util.spec_from_file_location(
    "certmon_test_smtpd_mail", Path(__file__).resolve().parent / "smtpd.py")
_smtpd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_smtpd)
SmtpServer = _smtpd.SmtpServer

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)
FROM = "certmon@example.org"
RCPTS = ["ops@example.com", "pki-team@example.net", "third@example.org"]


def ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc)


def iso(d):
    return d.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def openssl_out(*args):
    return subprocess.run(["openssl", *map(str, args)], capture_output=True,
                          text=True, check=True).stdout


def serial_hex(pem):
    out = openssl_out("x509", "-in", pem, "-noout", "-serial")
    return out.strip().split("=", 1)[1].upper().lstrip("0")


def fingerprint(pem):
    out = openssl_out("x509", "-in", pem, "-noout", "-fingerprint",
                      "-sha256")
    return out.strip().split("=", 1)[1].replace(":", "").lower()


def parse(raw):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert not msg.defects, msg.defects
    return msg


def check_wire_format(raw):
    """7-bit, CRLF line ends, no bare CR or LF anywhere."""
    assert all(b < 0x80 for b in raw), raw
    assert b"\n" not in raw.replace(b"\r\n", b""), raw
    assert b"\r" not in raw.replace(b"\r\n", b""), raw
    head = raw.split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        assert len(line) <= 998


def header_names(msg):
    return [k.lower() for k in msg.keys()]


# ------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def certs(pki):
    """Issued now; the run happens at creation + 10 days (`when`)."""
    return {
        # 25 days -> 15 days left at the run: expiring
        "exp_a": pki.leaf("alpha.example", days=25, name="mail-exp-a"),
        "exp_b": pki.leaf("bravo.example", days=28, name="mail-exp-b"),
        # issued 12 h "later" for 10 days -> 12 h left at the run: critical
        "crit": pki.leaf("charlie.example", days=10, name="mail-crit",
                         faketime="+12h"),
        # 5 days -> expired 5 days before the run
        "expired": pki.leaf("delta.example", days=5, name="mail-expired"),
        # 200 days: valid, never listed
        "valid": pki.leaf("echo.example", days=200, name="mail-valid"),
    }


@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 / localhost (also its CA)."""
    d = tmp_path_factory.mktemp("smtp-tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2",
         "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True)
    return cert, key


@pytest.fixture
def mailsrv(tmp_path):
    with SmtpServer(tmp_path / "mail") as srv:
        yield srv


def smtp_set(certmon, srv, *extra):
    certmon.ok("smtp", "set", "--host", srv.host, "--port", srv.port,
               "--from", FROM, *extra)


def enable(certmon, emails=";".join(RCPTS)):
    certmon.ok("monitor", "set", "--emails", emails, "--email", "on")


def created(certmon):
    svcs = certmon.ok("service", "list", "--json").json["services"]
    [svc] = [s for s in svcs if s["id"] == "expiry-monitor"]
    return ts(svc["started_at"])


# ----------------------------------------------------------- the message

def test_one_message_to_every_recipient_grouped_by_state(
        certmon, certs, mailsrv):
    for name in ("exp_a", "exp_b", "crit", "expired", "valid"):
        certmon.ok("cert", "upload", "--unit", "tomcat", certs[name])
    certmon.ok("cert", "upload", "--unit", "CallManager", certs["exp_b"])
    smtp_set(certmon, mailsrv, "--tls", "none")
    enable(certmon, "ops@example.com; pki-team@example.net ;third@example.org")
    when = created(certmon) + 10 * DAY + 7 * MIN
    doc = certmon.ok("monitor", "run", "--at", iso(when), "--json").json
    assert doc["mail"] == "sent", doc
    assert doc["counts"] == {"expiring": 3, "critical": 1, "expired": 1}
    assert len(doc["notified"]) == 5

    [m] = mailsrv.messages()                 # one message for the run
    assert m["mail_from"] == FROM
    assert sorted(m["rcpt_tos"]) == sorted(RCPTS)
    assert m["tls"] is False
    raw = m["data"]
    check_wire_format(raw)
    msg = parse(raw)

    names = header_names(msg)
    for h in ("date", "message-id", "from", "to", "subject"):
        assert names.count(h) == 1, (h, names)
    assert "bcc" not in names and "cc" not in names
    assert msg["From"].addresses[0].addr_spec == FROM
    assert sorted(a.addr_spec for a in msg["To"].addresses) == sorted(RCPTS)
    assert msg["Message-ID"] == doc["message_id"]
    assert email.utils.parsedate_to_datetime(msg["Date"]) == when
    assert msg["Subject"] == ("[certmon] certificates: 3 expiring, "
                              "1 critical, 1 expired")

    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg["Content-Transfer-Encoding"].lower() == "quoted-printable"
    body = msg.get_content()

    # grouped by state, in the order EXPIRED, CRITICAL, EXPIRING
    heads = {s: body.find(s) for s in ("EXPIRED", "CRITICAL", "EXPIRING")}
    assert all(p >= 0 for p in heads.values()), body
    assert heads["EXPIRED"] < heads["CRITICAL"] < heads["EXPIRING"], body
    sections = {
        "expired": body[heads["EXPIRED"]:heads["CRITICAL"]],
        "critical": body[heads["CRITICAL"]:heads["EXPIRING"]],
        "expiring": body[heads["EXPIRING"]:],
    }
    placed = {"expired": ["expired"], "critical": ["crit"],
              "expiring": ["exp_a", "exp_b"]}
    for state, names_in in placed.items():
        for name in names_in:
            pem = certs[name]
            row = [c for c in certmon.certs() if c["fingerprint"] ==
                   fingerprint(pem)][0]
            sec = sections[state]
            for value in (row["subject_cn"], serial_hex(pem),
                          row["not_after"], fingerprint(pem)):
                assert value in sec, (state, value, sec)
            for other in sections:
                if other != state:
                    assert row["subject_cn"] not in sections[other]
    # unit and issuer of every listed certificate; the valid one is absent
    assert body.count("Test Root CA") >= 5
    assert body.count("tomcat") >= 4 and "CallManager" in sections["expiring"]
    assert sections["expiring"].count("bravo.example") == 2   # two units
    assert "echo.example" not in body
    # nothing from the certificate list leaks into the headers
    assert "alpha.example" not in raw.split(b"\r\n\r\n", 1)[0].decode()

    # the outbox keeps the sent message with the same Message-ID
    [q] = certmon.ok("mail", "queue", "--all", "--json").json["messages"]
    assert q["message_id"] == doc["message_id"] and q["state"] == "sent"
    assert q["attempts"] == 1 and ts(q["sent_at"]) == when


def test_starttls_with_a_private_ca(certmon, certs, tmp_path, tls_cert):
    cert, key = tls_cert
    certmon.ok("cert", "upload", "--unit", "tomcat", certs["exp_a"])
    with SmtpServer(tmp_path / "tlsmail", starttls=(cert, key),
                    require_starttls=True) as srv:
        smtp_set(certmon, srv, "--tls", "starttls", "--ca-file", cert)
        enable(certmon)
        when = created(certmon) + 10 * DAY + 7 * MIN
        doc = certmon.ok("monitor", "run", "--at", iso(when), "--json").json
        assert doc["mail"] == "sent", doc
        r = certmon.ok("smtp", "test", "--to", "ops@example.com", "--json")
        assert r.json["reply"].startswith("250"), r
        msgs = srv.messages()
    assert len(msgs) == 2
    assert all(m["tls"] is True for m in msgs)
    run_msg = [m for m in msgs if parse(m["data"])["Message-ID"] ==
               doc["message_id"]]
    assert len(run_msg) == 1
    assert sorted(run_msg[0]["rcpt_tos"]) == sorted(RCPTS)


def test_starttls_refuses_an_untrusted_server(certmon, certs, tmp_path,
                                              tls_cert):
    """Without --ca-file the self-signed server is not trusted: the mail
    must not go out, neither over TLS nor in the clear (the server offers
    STARTTLS but does not require it, so a fallback would be accepted)."""
    cert, key = tls_cert
    with SmtpServer(tmp_path / "untrusted", starttls=(cert, key)) as srv:
        smtp_set(certmon, srv, "--tls", "starttls")
        r = certmon("smtp", "test", "--to", "ops@example.com")
        assert r.rc == 1, r
        one_line_error(r)
        assert srv.messages() == []


def test_auth_over_starttls_and_password_never_shown(certmon, tmp_path,
                                                     tls_cert):
    cert, key = tls_cert
    secret = "s3cr3t-Pa55word"
    pwfile = tmp_path / "pw"
    pwfile.write_text(secret + "\n")
    with SmtpServer(tmp_path / "authmail", starttls=(cert, key),
                    require_starttls=True, auth=f"mailer:{secret}") as srv:
        smtp_set(certmon, srv, "--tls", "starttls", "--ca-file", cert,
                 "--user", "mailer", "--password-file", pwfile)
        shown = certmon.ok("smtp", "show", "--json")
        assert shown.json["smtp"]["password_set"] is True
        assert shown.json["smtp"]["user"] == "mailer"
        human = certmon.ok("smtp", "show")
        for out in (shown.out, human.out, human.err, shown.err):
            assert secret not in out
        certmon.ok("smtp", "test", "--to", "ops@example.com")
        [m] = srv.messages()
    assert m["tls"] is True and m["auth_login"] == "mailer"
    evs = certmon.ok("events", "--limit", "100000", "--json").out
    assert secret not in evs


def test_smtp_test_delivers_and_fails_clearly(certmon, mailsrv):
    smtp_set(certmon, mailsrv, "--tls", "none")
    r = certmon.ok("smtp", "test", "--to", "ops@example.com", "--json")
    assert r.json["reply"].startswith("250"), r
    [m] = mailsrv.messages()
    assert m["rcpt_tos"] == ["ops@example.com"]
    assert m["mail_from"] == FROM
    msg = parse(m["data"])
    check_wire_format(m["data"])
    assert msg["Message-ID"] == r.json["message_id"]
    assert [a.addr_spec for a in msg["To"].addresses] == ["ops@example.com"]
    # human output prints the server's reply
    r = certmon.ok("smtp", "test", "--to", "ops@example.com")
    assert "250" in r.out

    port = mailsrv.port
    mailsrv.stop()
    r = certmon("smtp", "test", "--to", "ops@example.com")
    assert r.rc == 1, r
    line = one_line_error(r)
    assert line.startswith("certmon: ")
    assert str(port) in line or "127.0.0.1" in line, line
    r = certmon("smtp", "test", "--to", "ops@example.com", "--json")
    assert r.rc == 1, r
    doc = json.loads(r.out)
    assert doc["status"] != "ok" and doc["error"]


def test_smtp_test_refuses_header_injection_in_to(certmon, mailsrv):
    smtp_set(certmon, mailsrv, "--tls", "none")
    r = certmon("smtp", "test", "--to", "ops@example.com\r\nBcc: evil@x.org")
    assert r.rc != 0, r
    assert mailsrv.messages() == []


def test_smtp_set_refuses_crlf_in_from(certmon, mailsrv):
    smtp_set(certmon, mailsrv, "--tls", "none")
    before = certmon.ok("smtp", "show", "--json").json["smtp"]
    r = certmon("smtp", "set", "--from", "certmon@example.org\r\nBcc: e@x.org")
    assert r.rc != 0, r
    assert "\r" not in r.err
    assert certmon.ok("smtp", "show", "--json").json["smtp"] == before


# --------------------------------------------------------------- escaping

# A CN with CR LF: openssl's -subj takes the raw bytes of its argument, so
# the control characters go into the UTF8String as they are (checked below
# with the openssl CLI).
HOSTILE = {
    "quote": 'Say "hi" Corp \\ backslash',
    "utf8": "Zo\u00eb M\u00fcller \u6771\u4eac",
    "crlf": "evil.example\r\nBcc: victim@example.com\r\nSubject: pwned",
    # SMTP smuggling shapes: an end-of-data line inside the text
    "dot": "dot.example\r\n.\r\nMAIL FROM:<smuggled@example.com>",
    "lf": "lf.example\n.\nRCPT TO:<lf-victim@example.com>",
    "cr": "cr.example\rX-Cr: injected",
}
CONTROL = ("crlf", "dot", "lf", "cr")


@pytest.fixture(scope="module")
def hostile(pki):
    # -subj reads a backslash as an escape: double it for a literal one
    out = {k: pki.leaf(cn.replace("\\", "\\\\"), days=20,
                       name=f"hostile-{k}", utf8=True)
           for k, cn in HOSTILE.items()}
    subj = openssl_out("x509", "-in", out["crlf"], "-noout", "-subject",
                       "-nameopt", "RFC2253")
    assert "\\0D\\0A" in subj or "\\0d\\0a" in subj.lower(), subj
    return out


@pytest.fixture
def hostile_run(certmon, hostile, mailsrv):
    """All hostile certificates uploaded (expiring) and one run's mail."""
    for pem in hostile.values():
        certmon.ok("cert", "upload", "--unit", "tomcat", pem)
    smtp_set(certmon, mailsrv, "--tls", "none")
    enable(certmon, "ops@example.com")
    when = created(certmon) + 5 * DAY + 7 * MIN
    r = certmon.ok("monitor", "run", "--at", iso(when), "--json")
    doc = json.loads(r.out)
    assert doc["mail"] == "sent", doc
    msgs = mailsrv.messages()
    assert len(msgs) == 1, [m["rcpt_tos"] for m in msgs]
    return doc, msgs[0], when


def test_hostile_cns_round_trip_through_json(certmon, hostile_run):
    doc, _m, when = hostile_run
    assert sorted(n["cn"] for n in doc["notified"]) == sorted(HOSTILE.values())
    rows = json.loads(certmon.ok("cert", "list", "--json").out)["certs"]
    assert sorted(c["subject_cn"] for c in rows) == sorted(HOSTILE.values())
    json.loads(certmon.ok("cert", "list", "--history", "--json").out)
    for c in rows:
        shown = json.loads(certmon.ok("cert", "show", c["fingerprint"][:16],
                                      "--json").out)
        assert shown["cert"]["subject_cn"] == c["subject_cn"]
    json.loads(certmon.ok("events", "--limit", "100000", "--json").out)
    json.loads(certmon.ok("mail", "queue", "--all", "--json").out)
    json.loads(certmon.ok("monitor", "run", "--at", iso(when + HOUR),
                          "--json").out)


def test_hostile_cns_do_not_touch_headers_or_envelope(hostile, hostile_run):
    _doc, m, _when = hostile_run
    assert m["mail_from"] == FROM
    assert m["rcpt_tos"] == ["ops@example.com"]     # no injected recipient
    raw = m["data"]
    check_wire_format(raw)                          # no bare CR / LF
    msg = parse(raw)
    names = header_names(msg)
    assert sorted(set(names)) == sorted(names), names   # no header twice
    for h in ("date", "message-id", "from", "to", "subject"):
        assert h in names, names
    assert "bcc" not in names and "cc" not in names and "x-cr" not in names
    assert msg["Subject"] == ("[certmon] certificates: 6 expiring, "
                              "0 critical, 0 expired")
    assert [a.addr_spec for a in msg["To"].addresses] == ["ops@example.com"]
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    for word in ("victim", "pwned", "evil", "smuggled", "injected"):
        assert word not in head
    body = msg.get_content()
    # the whole message arrived: a "." line inside the text did not end the
    # DATA early (every certificate's fingerprint is there, in order of the
    # listing, and the server got one message)
    for pem in hostile.values():
        assert fingerprint(pem) in body, body
    assert HOSTILE["quote"] in body
    assert HOSTILE["utf8"] in body


def test_hostile_cns_are_escaped_in_the_body(hostile_run):
    """The body must show each CN on its own line, its control characters
    escaped (as `cert list` does with \\x0d\\x0a): a certificate must not be
    able to write lines of its own into the notification (a forged
    "Bcc:"/"Subject:" line, or a fake entry)."""
    _doc, m, _when = hostile_run
    body = parse(m["data"]).get_content()
    lines = body.splitlines()
    for key in CONTROL:
        first, *rest = [p for p in
                        HOSTILE[key].replace("\r\n", "\n").replace("\r", "\n")
                        .split("\n") if p]
        on_one_line = [l for l in lines if first in l and rest[-1] in l]
        assert on_one_line, (key, body)
    for l in lines:
        s = l.strip()
        assert s != "." and not s.startswith(("Bcc:", "Subject:", "X-Cr:",
                                              "MAIL FROM", "RCPT TO")), body


@pytest.mark.parametrize("emails", [
    "ops@example.com\r\nBcc: evil@example.org",
    "ops@example.com\nBcc: evil@example.org",
    "ops@example.com;evil@example.org\r\nX-Injected: 1",
    "ops@example.com>\r\nRCPT TO:<evil@example.org",
])
def test_crlf_in_email_ids_is_refused(certmon, emails, mailsrv):
    smtp_set(certmon, mailsrv, "--tls", "none")
    before = certmon.ok("monitor", "show", "--json").json["monitor"]
    r = certmon("monitor", "set", "--emails", emails, "--email", "on")
    assert r.rc == 1, r
    assert one_line_error(r).startswith("certmon: settings not changed: ")
    assert certmon.ok("monitor", "show", "--json").json["monitor"] == before
