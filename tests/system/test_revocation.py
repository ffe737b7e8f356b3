"""The Certificate Revocation service through the real binary against real
`openssl ocsp` responders (tests/system/ocsp_pki.py): typed settings and
their validation, `revocation run` (statuses, events, alarms, the cache,
answers without nextUpdate), `cert list --state revoked`, and the check on
upload (`cert upload` with Enable OCSP on, Common Criteria mode).

Requests are counted at the responder: a counting proxy sits on the AIA
port of the leaves and forwards to the responder, so "no request" means
the responder saw none (not only that certmon says so)."""
import http.server
import json
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import one_line_error
from ocsp_pki import OcspPki, certid_count, free_port, one_certid_only


class CountingProxy:
    """Forwards every POST/GET to `target` and counts them; `certids`
    lists how many certificates each POSTed request asked about. With
    one_certid, a request about several is refused the way a responder
    built on python3-cryptography refuses it (malformedRequest), as an
    RFC 5019 lightweight responder may."""

    def __init__(self, target, port=0, one_certid=False):
        self.target = target
        self.count = 0
        self.certids = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                with outer.lock:
                    outer.count += 1
                    if body:
                        outer.certids.append(certid_count(body))
                refusal = one_certid_only(body) if (
                    one_certid and body) else None
                if refusal is not None:
                    status, data = 200, refusal
                    ctype = "application/ocsp-response"
                else:
                    status, data, ctype = self._ask_target(body)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _ask_target(self, body):
                """(status, body, Content-Type) of the target's answer."""
                req = urllib.request.Request(
                    outer.target.rstrip("/") + self.path, data=body,
                    method=self.command, headers={
                        "Content-Type": self.headers.get(
                            "Content-Type", "application/octet-stream")})
                try:
                    with urllib.request.urlopen(req, timeout=10) as r:
                        return (r.status, r.read(),
                                r.headers.get("Content-Type", ""))
                except Exception:      # the responder is down: a 502
                    return 502, b"", "text/plain"

            do_POST = _forward
            do_GET = _forward

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                                      Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    pki = OcspPki(tmp_path_factory.mktemp("rev-pki"))
    started = []
    try:
        ca = pki.responder("ca").start()            # ndays 1: nextUpdate
        started.append(ca)
        proxy = CountingProxy(ca.url, port=pki.aia_port)
        bare = pki.responder("ca", ndays=0).start()  # no nextUpdate
        started.append(bare)
        bare_proxy = CountingProxy(bare.url)
        designated = pki.responder("designated").start()
        started.append(designated)
        yield {"pki": pki, "proxy": proxy, "bare": bare_proxy,
               "designated": designated}
        proxy.close()
        bare_proxy.close()
    finally:
        for r in started:
            r.stop()


def now():
    return datetime.now(timezone.utc).replace(microsecond=0)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def run(certmon, *args):
    r = certmon.ok("revocation", "run", "--json", *args)
    doc = r.json
    by_cn = {x["cn"]: x for x in doc["results"]}
    return doc, by_cn


def alarms(certmon, name):
    return [e for e in certmon.ok("events", "--kind", "alarm", "--limit",
                                  "1000", "--json").json["events"]
            if e["name"] == name]


def raw_setting(certmon, key):
    with sqlite3.connect(certmon.db) as db:
        row = db.execute("SELECT value FROM settings WHERE key = ?",
                         (key,)).fetchone()
    return row[0] if row else None


def rev_settings(certmon):
    return certmon.ok("revocation", "show", "--json").json["revocation"]


def load(certmon, pki, *leaves):
    certmon.ok("cert", "upload", "--unit", "tomcat-trust", pki.int)
    if leaves:
        certmon.ok("cert", "upload", "--unit", "tomcat", *leaves)


# ------------------------------------------------------------ settings

def test_settings_defaults_and_encodings(certmon):
    s = rev_settings(certmon)
    assert s == {"ocsp": False, "uri_source": "cert", "uri": "",
                 "check": False, "every": "1d", "crl": False,
                 "crl_uris": [], "trust_unit": "tomcat-trust",
                 "require_nonce": False, "skew": "5m", "timeout": 5,
                 "cache_max": "7d", "allow_hosts": []}
    p = certmon.ok("params", "show", "--json").json["params"]
    assert p == {"cert_validity_check": False,
                 "validity_check_frequency": "1d", "common_criteria": False}

    certmon.ok("revocation", "set", "--ocsp", "on", "--check", "on",
               "--every", "12h", "--crl", "on", "--crl-uri",
               "http://crl.example/a.crl", "--crl-uri",
               "https://crl.example/b.crl", "--uri-source", "configured",
               "--uri", "http://ocsp.example:8080/", "--skew", "90s",
               "--timeout", "7", "--cache-max", "2d", "--allow-host",
               "*.example", "--require-nonce", "on")
    certmon.ok("params", "set", "--cert-validity-check", "on",
               "--validity-check-frequency", "6h", "--common-criteria", "on")
    # the keys and encodings the web admin reads and writes
    assert raw_setting(certmon, "revocation.ocsp") == "1"
    assert raw_setting(certmon, "revocation.uri_source") == "configured"
    assert raw_setting(certmon, "revocation.uri") == "http://ocsp.example:8080/"
    assert raw_setting(certmon, "revocation.check") == "1"
    assert raw_setting(certmon, "revocation.every") == "43200"
    assert raw_setting(certmon, "revocation.crl") == "1"
    assert raw_setting(certmon, "revocation.crl_uris") == \
        "http://crl.example/a.crl\nhttps://crl.example/b.crl"
    assert raw_setting(certmon, "revocation.skew") == "90"
    assert raw_setting(certmon, "revocation.timeout") == "7"
    assert raw_setting(certmon, "revocation.cache_max") == "172800"
    assert raw_setting(certmon, "revocation.allow_hosts") == "*.example"
    assert raw_setting(certmon, "revocation.require_nonce") == "1"
    assert raw_setting(certmon, "params.cert_validity_check") == "1"
    assert raw_setting(certmon, "params.validity_check_frequency") == "21600"
    assert raw_setting(certmon, "params.common_criteria") == "1"
    s = rev_settings(certmon)
    assert (s["every"], s["skew"], s["cache_max"], s["crl_uris"]) == \
        ("12h", "90s", "2d", ["http://crl.example/a.crl",
                              "https://crl.example/b.crl"])
    # --no-crl-uris back to the certificate's CDP; the source back to AIA
    certmon.ok("revocation", "set", "--no-crl-uris", "--uri-source", "cert",
               "--no-allow-hosts")
    s = rev_settings(certmon)
    assert (s["crl_uris"], s["uri_source"], s["allow_hosts"]) == \
        ([], "cert", [])
    assert raw_setting(certmon, "revocation.crl_uris") == ""


@pytest.mark.parametrize("args, why", [
    (["--ocsp", "maybe"], "--ocsp takes on or off"),
    (["--uri-source", "aia"], "--uri-source takes cert or configured"),
    (["--uri-source", "configured"], "OCSP Configured URI is needed"),
    (["--uri", "ftp://ocsp.example/"], "is not an http:// or https:// URL"),
    (["--uri", "http://ocsp example/"], "is not an http:// or https:// URL"),
    (["--every", "30m"], "--every takes a duration like 12h or 1d"),
    (["--every", "31d"], "Check Every of 2678400 s is out of range"),
    (["--every", "0h"], "--every takes a duration"),
    (["--crl-uri", "ldap://crl.example/"], "CRL URIs: 'ldap://crl.example/'"),
    (["--trust-unit", "no-such-trust"], "trust unit 'no-such-trust'"),
    (["--skew", "2h"], "clock skew of 7200 s is out of range"),
    (["--skew", "soon"], "--skew takes a duration"),
    (["--timeout", "0"], "--timeout takes whole seconds from 1 to 60"),
    (["--timeout", "61"], "--timeout takes whole seconds from 1 to 60"),
    (["--cache-max", "31d"], "cache maximum"),
    (["--allow-host", "a b"], "allowed hosts: 'a b'"),
    (["--ocsp", "on", "--every", "90m"], "--every takes a duration"),
])
def test_invalid_revocation_settings_change_nothing(certmon, args, why):
    before = certmon.snapshot(), rev_settings(certmon)
    r = certmon("revocation", "set", *args)
    assert r.rc == 1, r
    line = one_line_error(r)
    assert line.startswith("certmon: settings not changed: "), r
    assert why in line, r
    assert (certmon.snapshot(), rev_settings(certmon)) == before
    r = certmon("revocation", "set", *args, "--json")
    assert r.rc == 1 and r.json["status"] == "error", r


@pytest.mark.parametrize("args, why", [
    (["--common-criteria", "yes"], "--common-criteria takes on or off"),
    (["--validity-check-frequency", "45m"], "takes a duration like 12h"),
    (["--validity-check-frequency", "40d"], "Validity Check Frequency of"),
    (["--cert-validity-check", "2"], "--cert-validity-check takes on or off"),
])
def test_invalid_params_change_nothing(certmon, args, why):
    before = certmon.ok("params", "show", "--json").json
    r = certmon("params", "set", *args)
    assert r.rc == 1, r
    line = one_line_error(r)
    assert line.startswith("certmon: settings not changed: ") and why in line
    assert certmon.ok("params", "show", "--json").json == before


def test_set_needs_a_setting(certmon):
    r = certmon("revocation", "set")
    assert r.rc == 2, r
    r = certmon("revocation", "set", "--bogus", "1")
    assert r.rc == 2, r


# ------------------------------------------------------------ runs

def test_run_records_each_status_alarms_once_and_caches(certmon, env):
    pki, proxy = env["pki"], env["proxy"]
    load(certmon, pki, pki.good, pki.revoked, pki.hold, pki.unknown,
         pki.noaia, pki.expired)
    certmon.ok("revocation", "set", "--ocsp", "on", "--every", "1h")
    seen = proxy.count
    doc, by = run(certmon)
    want = {"Good Leaf": ("good", "ocsp", "pass"),
            "Revoked Leaf": ("revoked", "ocsp", "fail"),
            "Held Leaf": ("revoked", "ocsp", "fail"),
            "Never Issued Leaf": ("unknown", "ocsp", "pass"),
            "No AIA Leaf": ("error", "ocsp", "pass"),
            "Expired Leaf": ("unchecked", None, "fail")}
    assert {cn: (x["status"], x["source"], x["verdict"])
            for cn, x in by.items()} == want, doc
    assert by["Revoked Leaf"]["reason"].startswith("revoked at ")
    assert "keyCompromise" in by["Revoked Leaf"]["reason"]
    assert "certificateHold" in by["Held Leaf"]["reason"]
    assert by["Never Issued Leaf"]["warning"] is True
    assert "no OCSP URL" in by["No AIA Leaf"]["reason"]
    assert by["Expired Leaf"]["verdict_reason"].startswith(
        "certificate expired")
    assert by["Good Leaf"]["units"] == ["tomcat"]
    # the intermediate's issuer (the root) is not in the store: skipped
    assert "OCSP Test Intermediate" not in by
    assert (doc["checked"], doc["from_cache"], doc["requests"],
            doc["skipped"], doc["expired"]) == (5, 0, 1, 1, 1), doc
    assert doc["counts"] == {"good": 1, "revoked": 2, "unknown": 1,
                             "error": 1}
    # the responder saw one request, about the 4 leaves with an AIA URL
    assert proxy.count - seen == 1
    assert proxy.certids[-1] == 4, proxy.certids
    assert len(alarms(certmon, "CertificateRevoked")) == 2
    assert len(alarms(certmon, "RevocationCheckFailed")) == 1
    assert not alarms(certmon, "CertExpired")   # not this service's job
    changes = [e for e in certmon.ok("events", "--limit", "1000",
                                     "--json").json["events"]
               if e["name"] == "cert.revocation"]
    assert len(changes) == 5
    # the service's run is recorded
    svc = {s["id"]: s for s in certmon.ok("service", "list", "--json")
           .json["services"]}["revocation-check"]
    assert svc["last_run"] == doc["ran_at"]
    assert "5 checked" in svc["last_result"]

    # cert list: revoked ones, with their status; expired stays unchecked
    revoked = certmon.certs("--state", "revoked")
    assert sorted(c["subject_cn"] for c in revoked) == ["Held Leaf",
                                                        "Revoked Leaf"]
    assert all(c["revocation"] == "revoked" for c in revoked)
    assert {c["subject_cn"]: c["revocation"] for c in certmon.certs(
        "--unit", "tomcat")}["Expired Leaf"] == "unchecked"
    # an expired certificate is never exported, whatever its status
    exported = certmon.ok("cert", "export", "--unit", "tomcat").out
    assert exported.count("BEGIN CERTIFICATE") == 3   # good, unknown, noaia

    # a second run within Check Every: no request at all
    seen = proxy.count
    doc2, by2 = run(certmon)
    assert (doc2["requests"], doc2["from_cache"], doc2["checked"]) == \
        (0, 4, 5), doc2
    assert proxy.count == seen
    assert {cn: x["status"] for cn, x in by2.items()} == \
        {cn: w[0] for cn, w in want.items()}
    assert by2["Good Leaf"]["from_cache"] is True
    assert len(alarms(certmon, "CertificateRevoked")) == 2     # once
    assert len(alarms(certmon, "RevocationCheckFailed")) == 1  # once

    # two hours later (Check Every 1 h): asked again, still no new alarm
    later = iso(now() + timedelta(hours=2))
    doc3, by3 = run(certmon, "--at", later)
    assert (doc3["requests"], doc3["from_cache"]) == (1, 0), doc3
    assert proxy.count - seen == 1
    assert by3["Revoked Leaf"]["status"] == "revoked"
    assert doc3["ran_at"] == later
    assert len(alarms(certmon, "CertificateRevoked")) == 2
    assert len(alarms(certmon, "RevocationCheckFailed")) == 1

    # human output
    r = certmon.ok("revocation", "run")
    assert "5 checked (1 good, 2 revoked, 1 unknown, 1 error)" in r.out, r
    assert "next run: " in r.out


def test_certificates_stored_before_their_ocsp_urls_were(certmon, env):
    """Stores made before schema 6 hold no OCSP URLs in their rows: the
    run reads them from the certificates themselves."""
    pki, proxy = env["pki"], env["proxy"]
    load(certmon, pki, pki.good, pki.noaia)
    with sqlite3.connect(certmon.db) as db:
        stored = dict(db.execute("SELECT subject_cn, ocsp_urls FROM certs"))
        db.execute("UPDATE certs SET ocsp_urls = NULL")
    assert stored["Good Leaf"].startswith("http://127.0.0.1:"), stored
    assert stored["No AIA Leaf"] == ""
    certmon.ok("revocation", "set", "--ocsp", "on")
    seen = proxy.count
    doc, by = run(certmon)
    assert by["Good Leaf"]["status"] == "good", doc
    assert "no OCSP URL" in by["No AIA Leaf"]["reason"]
    assert proxy.count - seen == 1


def test_answer_without_next_update_is_never_cached(certmon, env):
    pki, bare = env["pki"], env["bare"]
    load(certmon, pki, pki.good)
    certmon.ok("revocation", "set", "--ocsp", "on", "--uri-source",
               "configured", "--uri", bare.url)
    seen = bare.count
    doc, by = run(certmon)
    assert (by["Good Leaf"]["status"], doc["requests"]) == ("good", 1), doc
    doc, by = run(certmon)
    # recorded as the status, but asked again
    assert (by["Good Leaf"]["status"], doc["requests"],
            by["Good Leaf"]["from_cache"]) == ("good", 1, False), doc
    assert bare.count - seen == 2
    assert {c["subject_cn"]: c["revocation"] for c in certmon.certs()}[
        "Good Leaf"] == "good"


def test_designated_responder_from_the_trust_unit(certmon, env):
    pki, designated = env["pki"], env["designated"]
    load(certmon, pki, pki.revoked)
    certmon.ok("revocation", "set", "--ocsp", "on", "--uri-source",
               "configured", "--uri", designated.url)
    doc, by = run(certmon)
    assert by["Revoked Leaf"]["status"] == "error", doc
    assert "unknown responder" in by["Revoked Leaf"]["reason"]
    # marked as a designated responder in the trust unit
    certmon.ok("cert", "upload", "--unit", "tomcat-trust", "--ocsp-responder",
               pki.responders["designated"][0])
    doc, by = run(certmon)
    assert by["Revoked Leaf"]["status"] == "revoked", doc
    assert "trusted-responder" in by["Revoked Leaf"]["reason"]
    # the error -> revoked transition raised both alarms, once each
    assert len(alarms(certmon, "RevocationCheckFailed")) == 1
    assert len(alarms(certmon, "CertificateRevoked")) == 1
    # in another unit than the configured trust unit it does not count
    certmon.ok("unit", "add", "resp-trust")
    certmon.ok("revocation", "set", "--trust-unit", "resp-trust")
    later = iso(now() + timedelta(days=1, hours=1))
    doc, by = run(certmon, "--at", later)
    # no valid answer; the revocation stands (an error never replaces it)
    assert by["Revoked Leaf"]["status"] == "revoked", doc
    assert "kept: a revocation stands" in by["Revoked Leaf"]["reason"]


def test_allow_list_refuses_the_responder(certmon, env):
    pki = env["pki"]
    load(certmon, pki, pki.good)
    certmon.ok("revocation", "set", "--ocsp", "on", "--allow-host",
               "ocsp.example.com")
    doc, by = run(certmon)
    assert (by["Good Leaf"]["status"], doc["requests"]) == ("error", 0), doc
    assert "not on the allow-list" in by["Good Leaf"]["reason"]


# ------------------------------------------------------------ uploads

def test_upload_refused_when_revoked_accepted_when_good(certmon, env):
    pki = env["pki"]
    load(certmon, pki)
    certmon.ok("revocation", "set", "--ocsp", "on")
    before = certmon.snapshot()
    r = certmon("cert", "upload", "--unit", "tomcat", pki.good, pki.revoked)
    assert r.rc == 1, r
    line = one_line_error(r)
    assert line.startswith("certmon: upload refused, nothing changed: "), r
    assert str(pki.revoked) in line and "'Revoked Leaf'" in line, r
    assert "revoked at" in line and "keyCompromise" in line, r
    assert certmon.snapshot() == before
    r = certmon("cert", "upload", "--unit", "tomcat", "--json", pki.hold)
    assert r.rc == 1 and r.json["status"] == "error", r
    assert "certificateHold" in r.json["error"]

    r = certmon.ok("cert", "upload", "--unit", "tomcat", "--json", pki.good)
    assert r.json["added"] == 1
    [c] = certmon.certs("--unit", "tomcat")
    assert (c["subject_cn"], c["revocation"]) == ("Good Leaf", "good")
    # unknown and no valid answer pass outside Common Criteria mode (the
    # answers are recorded, with the soft-fail alarm)
    certmon.ok("cert", "upload", "--unit", "tomcat", pki.unknown, pki.noaia)
    st = {c["subject_cn"]: c["revocation"] for c in certmon.certs()}
    assert (st["Never Issued Leaf"], st["No AIA Leaf"]) == ("unknown", "error")
    assert len(alarms(certmon, "RevocationCheckFailed")) == 1
    # expiry alone never refuses an upload
    r = certmon.ok("cert", "upload", "--unit", "tomcat", pki.expired)
    assert "has expired" in r.err


def test_upload_checks_with_the_issuer_in_the_same_upload(certmon, env):
    pki = env["pki"]
    certmon.ok("revocation", "set", "--ocsp", "on")
    bundle = pki.dir / "revoked-bundle.pem"
    bundle.write_text(pki.revoked.read_text() + pki.int.read_text())
    r = certmon("cert", "upload", "--unit", "tomcat-trust", bundle)
    assert r.rc == 1 and "'Revoked Leaf'" in one_line_error(r), r
    assert certmon.certs() == []
    # without an issuer anywhere it cannot be checked, and is accepted
    certmon.ok("cert", "upload", "--unit", "tomcat", pki.revoked)
    assert certmon.certs()[0]["revocation"] == "unchecked"


def test_upload_in_common_criteria_mode(certmon, env):
    pki = env["pki"]
    load(certmon, pki)
    certmon.ok("revocation", "set", "--ocsp", "on")
    certmon.ok("params", "set", "--common-criteria", "on")
    for leaf, why in ((pki.unknown, "fails in Common Criteria mode"),
                      (pki.noaia, "no valid answer fails in Common "
                       "Criteria mode")):
        before = certmon.snapshot()
        r = certmon("cert", "upload", "--unit", "tomcat", leaf)
        assert r.rc == 1, r
        line = one_line_error(r)
        assert str(leaf) in line and why in line, r
        assert certmon.snapshot() == before
    certmon.ok("cert", "upload", "--unit", "tomcat", pki.good)


def test_upload_unchecked_with_ocsp_off(certmon, env):
    pki = env["pki"]
    load(certmon, pki)
    seen = env["proxy"].count
    certmon.ok("cert", "upload", "--unit", "tomcat", pki.revoked)
    assert env["proxy"].count == seen
    assert certmon.certs("--unit", "tomcat")[0]["revocation"] == "unchecked"


def test_a_silent_responder_costs_one_timeout(certmon, env):
    """A responder that never answers: one request asks about the five
    certificates of one issuer and times out once - a run is not held for
    a timeout per certificate. (What becomes of the other requests to a
    dead responder: the run over several batches below.)"""
    import time

    from ocsp_pki import Silent

    pki = env["pki"]
    load(certmon, pki, pki.good, pki.revoked, pki.hold, pki.unknown,
         pki.noaia)
    with Silent() as hang:
        certmon.ok("revocation", "set", "--ocsp", "on", "--uri-source",
                   "configured", "--uri", hang.url, "--timeout", "1")
        t0 = time.monotonic()
        doc, by = run(certmon)
        took = time.monotonic() - t0
    assert doc["requests"] == 1, doc
    assert doc["counts"]["error"] == 5, doc
    reasons = [x["reason"] for x in by.values()]
    assert all("timeout" in r for r in reasons), reasons
    assert took < 1.9, took


def test_a_responder_that_answers_one_certid_only_is_asked_one_by_one(
        certmon, env):
    """RFC 5019's lightweight profile allows one CertID per request: a
    responder that refuses a request about several (malformedRequest) is
    asked about each certificate alone, in the same run, and the answers
    are those of the responder itself."""
    pki = env["pki"]
    load(certmon, pki, pki.good, pki.revoked, pki.hold, pki.unknown)
    gate = CountingProxy(env["proxy"].target, one_certid=True)
    try:
        certmon.ok("revocation", "set", "--ocsp", "on", "--uri-source",
                   "configured", "--uri", gate.url)
        doc, by = run(certmon)
    finally:
        gate.close()
    assert {cn: x["status"] for cn, x in by.items()} == {
        "Good Leaf": "good", "Revoked Leaf": "revoked",
        "Held Leaf": "revoked", "Never Issued Leaf": "unknown"}, doc
    assert "keyCompromise" in by["Revoked Leaf"]["reason"]
    assert sorted(gate.certids) == [1, 1, 1, 1, 4], gate.certids
    assert doc["requests"] == 5, doc


def test_certificates_of_two_issuers_at_one_url_are_asked_apart(
        certmon, env):
    """One request asks about certificates of one issuer (its CertIDs
    name that issuer): the intermediate (issued by the root) and the
    leaves (issued by the intermediate) go to the same URL in two
    requests, and the leaves' answers are right."""
    pki, proxy = env["pki"], env["proxy"]
    certmon.ok("cert", "upload", "--unit", "tomcat-trust", pki.root)
    load(certmon, pki, pki.good, pki.revoked, pki.unknown)
    certmon.ok("revocation", "set", "--ocsp", "on", "--uri-source",
               "configured", "--uri", proxy.url)
    seen = len(proxy.certids)
    doc, by = run(certmon)
    assert sorted(proxy.certids[seen:]) == [1, 3], proxy.certids
    assert doc["requests"] == 2, doc
    assert {cn: by[cn]["status"] for cn in (
        "Good Leaf", "Revoked Leaf", "Never Issued Leaf")} == {
        "Good Leaf": "good", "Revoked Leaf": "revoked",
        "Never Issued Leaf": "unknown"}, doc
    # the responder signs as the intermediate: not the root's delegate
    assert by["OCSP Test Intermediate"]["status"] == "error", doc


# ------------------------------------------------- runs over many batches

class CountingSilent:
    """Accepts connections, counts them, and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.accepted = []
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self):
        self.sock.close()
        for c in self.accepted:
            c.close()


def test_a_run_over_several_batches_records_all_and_asks_a_dead_responder_once(
        certmon, tmp_path):
    """1,030 leaves (a run checks and records 1,024 at a time), half of
    them naming a responder that never answers: every certificate is
    recorded, and the dead responder gets only the first wave of one run
    (4 connections, each a request about 16 certificates), not one per
    batch."""
    root = Path(__file__).resolve().parents[2]
    subprocess.run(["make", "-s", "-C", root / "bench", "build/ocsp_mint"],
                   check=True)
    dead = CountingSilent()
    port = free_port()
    live = f"http://127.0.0.1:{port}/"
    pki = tmp_path / "pki"
    subprocess.run([root / "bench/build/ocsp_mint", pki, "1030", "--url",
                    live, "--url", dead.url], check=True,
                   stdout=subprocess.DEVNULL)
    responder = subprocess.Popen(
        ["openssl", "ocsp", "-index", pki / "index.txt", "-port", str(port),
         "-rsigner", pki / "responder.pem", "-rkey",
         pki / "responder-key.pem", "-CA", pki / "ca.pem", "-ndays", "1",
         "-ignore_err"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        wait_listening(port)
        certmon.ok("unit", "add", "trust", "--trust")
        certmon.ok("unit", "add", "leaves")
        certmon.ok("cert", "upload", "--unit", "trust", pki / "ca.pem",
                   pki / "responder.pem")
        certmon.ok("cert", "upload", "--unit", "leaves", pki / "certs")
        certmon.ok("revocation", "set", "--ocsp", "on", "--uri-source",
                   "cert", "--trust-unit", "trust", "--timeout", "2")
        doc, _ = run(certmon)
        # the leaves and the responder certificate (its AIA is the live
        # URL); the CA is a root
        assert (doc["checked"], doc["skipped"]) == (1031, 1), doc["counts"]
        assert doc["counts"] == {"good": 516, "revoked": 0, "unknown": 0,
                                 "error": 515}
        assert len(dead.accepted) == 4
        errors = [r for r in doc["results"] if r["status"] == "error"]
        # 515 leaves at the dead URL, 16 to a request: the first wave
        # of 4 requests asked about 64; the others were not sent
        assert sum("not sent: the responder answered none of the first 4"
                   in r["reason"] for r in errors) == 515 - 4 * 16, \
            errors[:2]
        rows = certmon.certs("--unit", "leaves")
        assert len(rows) == 1030
        assert not [c for c in rows if c["revocation"] == "unchecked"]
        # a second run reuses the good answers and asks the dead
        # responder's first wave again (errors are never reused)
        doc2, _ = run(certmon)
        assert (doc2["from_cache"], doc2["requests"]) == (516, 4), doc2
        assert len(dead.accepted) == 8
    finally:
        responder.terminate()
        responder.wait(timeout=10)
        dead.close()


def wait_listening(port, timeout=15.0):
    """Waits until something listens on port, without connecting (openssl
    ocsp spins on an empty connection)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"],
                             capture_output=True, text=True).stdout
        if out.strip():
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")
