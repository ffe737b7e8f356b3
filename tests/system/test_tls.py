"""Real-time revocation checks of TLS peers: certmon's TLS hook in the
example client (examples/tls_client.c, built against `make install-lib`
with pkg-config) and `certmon tls-check`, against real `openssl s_server`
peers and a real `openssl ocsp` responder (tls_peers.py builds the PKI).

Every peer x Common Criteria off/on x {example client, tls-check}, with the
verdict of DESIGN.md's table:

    status                  CC on          CC off
    good                    pass (0)       pass (0)
    revoked                 fail (2)       fail (2)
    unknown                 fail (2)       pass, warning (1)
    error (no valid answer) fail (2)       pass, alarm (1)  <- soft-fail

plus the checks around it (host name, expiry, EKU), stapled responses
(valid, stale, signed by a rogue responder: an invalid staple is ignored
with a warning, as if none came), a responder that never answers, a long
-lived connection whose peer is revoked mid-way, the CRL fallback of
tls-check, STARTTLS (SMTP and LDAP, against a small Python server) and
tls-check's rules as a monitoring plugin.
"""
import subprocess
import sys

import pytest

from ocsp_pki import free_port
from tls_peers import SServer, StartTlsServer, TlsPki, build_example

# name: (leaf attribute, staple name or None, TLS 1.2 only)
SERVERS = {
    "good": ("good", None, False),
    "good+staple": ("good", "good", False),
    "revoked": ("revoked", None, False),
    "revoked+staple": ("revoked", "revoked", False),
    "revoked+staple-tls12": ("revoked", "revoked", True),
    "unknown": ("unknown", None, False),
    "unknown+staple": ("unknown", "unknown", False),
    "good+stale-staple": ("good", "stale", False),
    "revoked+rogue-staple": ("revoked", "rogue", False),
    "noeku": ("noeku", None, False),
    "clientonly": ("clientonly", None, False),
    "expired": ("expired", None, False),
    "silent": ("silent", None, False),
    "silent+staple": ("silent", "silent", False),
    "crlonly": ("crlonly", None, False),
}

# (id, server, name to check, verdict CC off, verdict CC on,
#  source (tls-check), staple state (tls-check), reason fragment)
CASES = [
    ("good", "good", "tls.test", "pass", "pass", "responder", "none",
     "responder http://127.0.0.1:"),
    ("good-stapled", "good+staple", "tls.test", "pass", "pass", "staple",
     "valid", "stapled response: good"),
    ("revoked", "revoked", "tls.test", "fail", "fail", "responder", "none",
     "revoked at "),
    ("revoked-stapled", "revoked+staple", "tls.test", "fail", "fail",
     "staple", "valid", "stapled response: revoked at"),
    ("revoked-stapled-tls12", "revoked+staple-tls12", "tls.test", "fail",
     "fail", "staple", "valid", "reason keyCompromise"),
    ("unknown", "unknown", "tls.test", "warn", "fail", "responder", "none",
     "unknown: the responder does not know the certificate"),
    ("unknown-stapled", "unknown+staple", "tls.test", "warn", "fail",
     "staple", "valid", "stapled response: unknown"),
    ("stale-staple", "good+stale-staple", "tls.test", "pass", "pass",
     "responder", "ignored", "stapled response ignored; responder"),
    ("rogue-staple", "revoked+rogue-staple", "tls.test", "fail", "fail",
     "responder", "ignored", "stapled response ignored; responder"),
    ("no-eku", "noeku", "tls.test", "pass", "fail", "responder", "none",
     None),
    ("client-eku-only", "clientonly", "tls.test", "fail", "fail",
     "responder", "none", "lacks the serverAuth EKU"),
    ("wrong-host", "good", "wrong.test", "fail", "fail", "responder",
     "none", "host name: wrong.test does not match the certificate "
     "(DNS:tls.test, IP:127.0.0.1)"),
    ("ip-address", "good", None, "pass", "pass", "responder", "none",
     "good"),
    ("expired", "expired", "tls.test", "fail", "fail", "responder", "none",
     "certificate expired (notAfter 2020-02-01T00:00:00Z)"),
    ("responder-silent", "silent", "tls.test", "warn", "fail", None, "none",
     "no complete answer within 1000 ms (timeout)"),
    ("responder-silent-stapled", "silent+staple", "tls.test", "pass", "pass",
     "staple", "valid", "stapled response: good"),
]

EXIT = {"pass": 0, "warn": 1, "fail": 2}
WORD = {"pass": "PASS: ", "warn": "PASS (WARNING): ", "fail": "FAIL: "}
KEYS = {"verdict", "warning", "alarm", "reason", "target", "host", "port",
        "servername", "starttls", "trust", "common_criteria", "tls_version",
        "checks", "status", "source", "staple", "staple_reason",
        "ocsp_reason", "url", "responder", "trust_model", "this_update",
        "next_update", "revocation_time", "revocation_reason", "subject",
        "issuer", "serial", "fingerprint", "not_after", "expired"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    pki = TlsPki(tmp_path_factory.mktemp("tls-pki"))
    pki.staples["silent"] = pki.staple(pki.silent, pki.dir / "index.txt")
    responder = pki.ca_responder()
    servers = {}
    try:
        responder.start()
        with pki.crl_http:
            for name, (leaf, staple, tls12) in SERVERS.items():
                servers[name] = SServer(
                    pki, getattr(pki, leaf),
                    staple=pki.staples[staple] if staple else None,
                    tls12=tls12).start()
            example, flags = build_example(tmp_path_factory.mktemp("example"))
            yield {"pki": pki, "servers": servers, "example": example,
                   "flags": flags, "responder": responder}
    finally:
        for s in servers.values():
            s.stop()
        responder.stop()
        pki.silent_sock.close()


def run_example(env, server, name, cc, timeout=1, extra=()):
    argv = [str(env["example"]), "127.0.0.1", str(server.port),
            str(env["pki"].root), "--timeout", str(timeout), *extra]
    if name is not None:
        argv += ["--servername", name]
    if cc:
        argv.append("--cc")
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def tls_check(certmon, target, *args, cc=False, json=True):
    argv = ["tls-check", target, *map(str, args), "--timeout", "1"]
    if cc:
        argv.append("--common-criteria")
    if json:
        argv.append("--json")
    return certmon(*argv, timeout=60)


@pytest.mark.parametrize("cc", [False, True], ids=["cc-off", "cc-on"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_example_client(env, case, cc):
    """The hook in a small TLS client refuses what the table fails."""
    _id, server, name, off, on, _src, staple, fragment = case
    want = on if cc else off
    p = run_example(env, env["servers"][server], name, cc)
    assert p.returncode == EXIT[want], (p.stdout, p.stderr)
    lines = p.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(WORD[want]), p.stdout
    if fragment:
        assert fragment in lines[0], p.stdout
    if _id == "no-eku" and cc:
        assert "EKU: the certificate has no EKU extension; Common Criteria " \
            "mode requires serverAuth for a TLS server" in lines[0]
    if staple == "ignored":
        assert "invalid stapled OCSP response ignored" in p.stderr, p.stderr
    if want == "warn" and _id == "responder-silent":
        assert "soft-fail" in p.stderr, p.stderr


@pytest.mark.parametrize("cc", [False, True], ids=["cc-off", "cc-on"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_tls_check(certmon, env, case, cc):
    """tls-check reports every check and exits like a monitoring plugin."""
    _id, server, name, off, on, source, staple, fragment = case
    want = on if cc else off
    srv = env["servers"][server]
    args = ["--ca-file", env["pki"].root]
    if name is not None:
        args += ["--servername", name]
    r = tls_check(certmon, srv.target, *args, cc=cc)
    assert r.rc == EXIT[want], r
    doc = r.json
    assert KEYS <= set(doc), r
    assert doc["verdict"] == ("fail" if want == "fail" else "pass"), r
    assert doc["warning"] == (want == "warn")
    assert doc["alarm"] == (want == "warn" and doc["status"] == "error"), r
    assert doc["common_criteria"] == cc
    assert doc["servername"] == (name or "127.0.0.1")
    assert doc["staple"] == staple, r
    # observe mode: revocation is checked even when another check fails
    assert doc["source"] == source, r
    if fragment:
        assert fragment in doc["reason"], r
    checks = doc["checks"]
    assert set(checks) == {"chain", "host", "expiry", "eku",
                           "common_criteria", "revocation"}
    assert checks["chain"]["result"] == "pass", r
    assert checks["host"]["result"] == ("fail" if _id == "wrong-host"
                                        else "pass"), r
    assert checks["expiry"]["result"] == ("fail" if _id == "expired"
                                          else "pass"), r
    assert checks["common_criteria"]["result"] == ("pass" if cc
                                                   else "not run"), r
    if _id == "no-eku":
        assert checks["eku"]["result"] == ("fail" if cc else "pass"), r
    if _id == "client-eku-only":
        assert checks["eku"]["result"] == "fail", r
    if _id == "expired":
        assert doc["expired"] is True
        assert doc["not_after"] == "2020-02-01T00:00:00Z"
    if staple == "ignored":
        assert doc["staple_reason"].startswith(
            "step 4 freshness: stale response" if _id == "stale-staple"
            else "step 2/3 signer: response signed by an unknown responder "
            "(CN=Rogue,O=certmon tests)"), r
    if doc["status"] == "revoked":
        assert doc["revocation_reason"] == "keyCompromise"
        assert checks["revocation"]["result"] == "fail"
    assert doc["tls_version"] == ("TLSv1.2" if "tls12" in _id else "TLSv1.3")
    assert not certmon.db.exists()              # no store, no cache


def test_long_lived_connection_revoked_midway(env):
    """A connection stays open; the peer is revoked at the CA; the next
    re-check of the long-lived connection reports it and hangs up."""
    pki = env["pki"]
    server = SServer(pki, pki.late).start()
    try:
        p = subprocess.Popen(
            [str(env["example"]), "127.0.0.1", str(server.port),
             str(pki.root), "--servername", "tls.test", "--hold"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        try:
            first = p.stdout.readline()
            assert first.startswith("PASS: responder "), first
            p.stdin.write("\n")
            p.stdin.flush()
            again = p.stdout.readline()
            assert again.startswith("recheck PASS: responder "), again
            pki.revoke(pki.late)
            # `openssl ocsp` re-reads its index before the request after
            # the next one: one request makes it current
            pki.pki.capture(env["responder"].url, pki.late,
                            pki.dir / "nudge.der")
            p.stdin.write("\n")
            p.stdin.flush()
            after = p.stdout.readline()
            assert after.startswith("recheck FAIL: responder "), after
            assert "revoked at" in after and "keyCompromise" in after
            assert p.wait(10) == 2
            assert "re-check fails" in p.stderr.read()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    finally:
        server.stop()


def test_crl_fallback(certmon, env):
    """OCSP unreachable: tls-check asks the CRL (the example client, which
    has no CRL hook, soft-fails outside Common Criteria mode)."""
    srv = env["servers"]["crlonly"]
    for cc in (False, True):
        r = tls_check(certmon, srv.target, "--ca-file", env["pki"].root,
                      "--servername", "tls.test", cc=cc)
        assert r.rc == 2, r
        doc = r.json
        assert (doc["status"], doc["source"]) == ("revoked", "crl"), r
        assert doc["reason"].startswith("CRL: revoked at "), r
        assert "keyCompromise" in doc["reason"]
        assert "Couldn't connect" in doc["ocsp_reason"] or \
            "connect" in doc["ocsp_reason"], r
    p = run_example(env, srv, "tls.test", False)
    assert p.returncode == 1 and "soft-fail" in p.stdout, p.stdout
    p = run_example(env, srv, "tls.test", True)
    assert p.returncode == 2, p.stdout


def test_human_output(certmon, env):
    srv = env["servers"]["revoked+staple"]
    r = tls_check(certmon, srv.target, "--ca-file", env["pki"].root,
                  "--servername", "tls.test", json=False)
    assert r.rc == 2, r
    lines = r.out.splitlines()
    assert lines[0].startswith("TLS FAIL: stapled response: revoked at "), r
    fields = dict(l.split(None, 1) for l in lines[1:])
    assert fields["target"] == srv.target
    assert fields["chain"].startswith("pass: verified to CN=OCSP Test Root")
    assert fields["host"] == "pass: tls.test matches the certificate"
    assert fields["revocation"].startswith("fail: stapled response: revoked")
    assert fields["status"] == "revoked"
    assert fields["source"] == "staple"
    assert fields["revocation_reason"] == "keyCompromise"
    r = tls_check(certmon, env["servers"]["unknown"].target, "--ca-file",
                  env["pki"].root, "--servername", "tls.test", json=False)
    assert r.rc == 1 and r.out.startswith("TLS PASS (WARNING): "), r
    r = tls_check(certmon, env["servers"]["good"].target, "--ca-file",
                  env["pki"].root, json=False)
    assert r.rc == 0 and r.out.startswith("TLS PASS: "), r
    assert "host               pass: 127.0.0.1 matches" in r.out


def test_trust_unit(certmon, env):
    """--trust-unit builds the trust anchors from the store's unit."""
    pki = env["pki"]
    target = env["servers"]["good"].target
    certmon.ok("cert", "upload", "--unit", "tomcat-trust", pki.root)
    r = tls_check(certmon, target, "--trust-unit", "tomcat-trust",
                  "--servername", "tls.test")
    assert r.rc == 0, r
    assert r.json["trust"] == "unit tomcat-trust"
    # an intermediate alone is an anchor too (every certificate of the
    # unit is trusted)
    certmon.ok("cert", "upload", "--unit", "CallManager-trust", pki.int)
    r = tls_check(certmon, target, "--trust-unit", "CallManager-trust",
                  "--servername", "tls.test")
    assert r.rc == 0, r
    # a unit that trusts someone else: the chain fails
    certmon.ok("cert", "upload", "--unit", "CAPF-trust",
               pki.pki.responders["rogue"][0])
    r = tls_check(certmon, target, "--trust-unit", "CAPF-trust",
                  "--servername", "tls.test")
    assert r.rc == 2, r
    assert r.json["checks"]["chain"]["result"] == "fail"
    assert r.json["reason"].startswith("chain: unable to get local issuer")
    # local errors: an empty unit, an unknown unit
    r = tls_check(certmon, target, "--trust-unit", "Phone-trust")
    assert r.rc == 3 and "holds no current, valid certificate" in \
        r.json["error"], r
    r = tls_check(certmon, target, "--trust-unit", "nosuch-trust")
    assert r.rc == 3 and "--trust-unit" in r.json["error"], r


def test_trust_unit_needs_a_store(certmon, env):
    r = tls_check(certmon, env["servers"]["good"].target, "--trust-unit",
                  "tomcat-trust")
    assert r.rc == 3 and "no store at" in r.json["error"], r
    assert not certmon.db.exists()


@pytest.mark.parametrize("proto", ["smtp", "ldap"])
def test_starttls(certmon, env, proto):
    pki = env["pki"]
    with StartTlsServer(proto, pki.chain(pki.good), pki.key) as srv:
        r = tls_check(certmon, srv.target, "--starttls", proto, "--ca-file",
                      pki.root, "--servername", "tls.test")
        assert r.rc == 0, (r, srv.errors)
        assert (r.json["starttls"], r.json["status"]) == (proto, "good"), r
    with StartTlsServer(proto, pki.chain(pki.revoked), pki.key) as srv:
        r = tls_check(certmon, srv.target, "--starttls", proto, "--ca-file",
                      pki.root, "--servername", "tls.test", cc=True)
        assert r.rc == 2 and r.json["status"] == "revoked", (r, srv.errors)
    with StartTlsServer(proto, pki.chain(pki.good), pki.key,
                        refuse=True) as srv:
        r = tls_check(certmon, srv.target, "--starttls", proto, "--ca-file",
                      pki.root)
        assert r.rc == 2, r
        want = ("SMTP STARTTLS: refused: 454 TLS not available now"
                if proto == "smtp" else "LDAP StartTLS: refused with "
                "resultCode 2 (StartTLS not supported here)")
        assert r.json["reason"] == want, r


def test_common_criteria_requires_tls12(certmon, env):
    """An old server: Common Criteria mode refuses TLS 1.1 outright."""
    pki = env["pki"]
    server = SServer(pki, pki.good, extra=["-tls1_1", "-cipher",
                                           "DEFAULT@SECLEVEL=0"]).start()
    try:
        r = tls_check(certmon, server.target, "--ca-file", pki.root,
                      "--servername", "tls.test", cc=True)
        assert r.rc == 2, r
        assert "TLS handshake with 127.0.0.1 port" in r.json["reason"], r
        assert "Common Criteria mode requires TLS 1.2" in r.json["reason"]
        assert r.json["checks"]["revocation"]["result"] == "not run"
        p = run_example(env, server, "tls.test", True)
        assert p.returncode == 2, p.stdout
    finally:
        server.stop()


def test_connection_refused_is_critical(certmon, env):
    r = tls_check(certmon, f"127.0.0.1:{free_port()}", "--ca-file",
                  env["pki"].root)
    assert r.rc == 2, r
    assert r.json["verdict"] == "fail"
    assert "Connection refused" in r.json["reason"], r
    assert r.json["checks"]["revocation"]["result"] == "not run"


@pytest.mark.parametrize("args,fragment", [
    ([], "HOST:PORT is needed"),
    (["127.0.0.1"], "is not HOST:PORT"),
    (["127.0.0.1:0"], "is not HOST:PORT"),
    (["127.0.0.1:99999"], "is not HOST:PORT"),
    (["::1:443"], "is not HOST:PORT"),
    (["127.0.0.1:443", "--starttls", "imap"], "--starttls takes smtp or ldap"),
    (["127.0.0.1:443", "--trust-unit", "x", "--ca-file", "y"],
     "exclude each other"),
    (["127.0.0.1:443", "--timeout", "0"], "--timeout takes seconds"),
    (["127.0.0.1:443", "--bogus"], "unknown option"),
    (["127.0.0.1:443", "extra"], "unexpected argument"),
], ids=["nothing", "no-port", "port-0", "port-big", "bare-v6", "starttls",
        "two-trusts", "timeout", "unknown-option", "extra"])
def test_usage_errors_exit_3(certmon, args, fragment):
    r = certmon("tls-check", *args)
    assert r.rc == 3, r
    assert fragment in r.err and "usage: certmon tls-check" in r.err, r


def test_local_errors_exit_3(certmon, env, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    for f in (bad, tmp_path / "missing.pem"):
        r = certmon("tls-check", env["servers"]["good"].target, "--ca-file",
                    f, "--json")
        assert r.rc == 3, r
        assert r.json["status"] == "error" and "--ca-file" in \
            r.json["error"], r
        assert len([l for l in r.err.splitlines() if l.strip()]) == 1, r


def test_help(certmon):
    r = certmon("tls-check", "--help")
    assert r.rc == 0 and r.out.startswith("usage: certmon tls-check HOST:PORT")
    r = certmon("--help")
    assert "tls-check" in r.out


def test_example_builds_with_pkg_config(env):
    """The example was built from an installed libcertmon with nothing but
    `pkg-config --cflags --libs certmon` (and an rpath)."""
    flags = env["flags"]
    assert "-lcertmon" in flags and any(f.startswith("-I") and
                                        f.endswith("/include")
                                        for f in flags), flags
    out = subprocess.run(["ldd", str(env["example"])], capture_output=True,
                         text=True).stdout
    assert "libcertmon.so.0" in out, out
    p = subprocess.run([str(env["example"])], capture_output=True, text=True)
    assert p.returncode == 3 and "usage:" in p.stderr


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-q"]))
