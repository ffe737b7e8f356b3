"""Long-lived connections (CTI, IPsec, LDAP peers): `certmon endpoint
add|list|show|remove|check`, the daemon's re-checks on the interval of
DESIGN.md (none while Certificate Validity Check is off; Check Every when
Enable Revocation Check is on, else Validity Check Frequency), and a real
`openssl s_server` peer whose leaf gets revoked at the real `openssl ocsp`
responder (it reads its index per request) turning to fail, with one
EndpointCertificateFailed alarm, shown by GET /api/v1/endpoints.
"""
import pytest

from conftest import one_line_error
from daemon import HOUR, Certmond, ts, utcnow, wait_for
from ocsp_pki import free_port
from tls_peers import SServer, TlsPki

ALARM = "EndpointCertificateFailed"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    pki = TlsPki(tmp_path_factory.mktemp("endpoint-pki"))
    responder = pki.ca_responder()
    servers = {}
    try:
        responder.start()
        servers["good"] = SServer(pki, pki.good).start()
        servers["late"] = SServer(pki, pki.late).start()
        yield {"pki": pki, "servers": servers, "responder": responder}
    finally:
        for s in servers.values():
            s.stop()
        responder.stop()
        pki.silent_sock.close()


def setup_store(run, pki):
    """The root as trust anchor, OCSP on (short timeout)."""
    run("cert", "upload", "--unit", "tomcat-trust", pki.root)
    run("revocation", "set", "--ocsp", "on", "--timeout", "2")


# ------------------------------------------------------------------ CLI

def test_cli_add_list_show_remove_and_bad_input(certmon):
    certmon.ok("endpoint", "add", "cti1", "127.0.0.1:2748", "--trust-unit",
               "CallManager-trust")
    before = certmon.snapshot()
    listed = certmon.ok("endpoint", "list", "--json").json
    bad = [
        (("endpoint", "add", "x", "127.0.0.1"), "is not HOST:PORT"),
        (("endpoint", "add", "x", "host:0"), "is not HOST:PORT"),
        (("endpoint", "add", "x", "host:70000"), "is not HOST:PORT"),
        (("endpoint", "add", "x", "a:b:1"), "is not HOST:PORT"),
        (("endpoint", "add", "x", "h:1", "--trust-unit", "nosuch-trust"),
         "nosuch-trust"),
        (("endpoint", "add", "x", "h:1", "--starttls", "imap"),
         "--starttls takes smtp or ldap"),
        (("endpoint", "add", "bad name", "h:1"), "endpoint name"),
        (("endpoint", "add", "cti1", "h:1"), "exists already"),
        (("endpoint", "remove", "nosuch"), "no endpoint named 'nosuch'"),
        (("endpoint", "show", "nosuch"), "no endpoint named 'nosuch'"),
    ]
    for args, fragment in bad:
        r = certmon(*args)
        assert r.rc in (1, 2), (args, r)
        assert fragment in one_line_error(r), (args, r)
    r = certmon("endpoint", "add", "onlyname")
    assert r.rc == 2 and "NAME and HOST:PORT are needed" in r.err, r
    assert certmon.snapshot() == before
    assert certmon.ok("endpoint", "list", "--json").json == listed

    [ep] = listed["endpoints"]
    assert ep["name"] == "cti1" and ep["address"] == "127.0.0.1:2748"
    assert ep["trust_unit"] == "CallManager-trust"
    assert ep["starttls"] is None and ep["verdict"] == "unchecked"
    assert ep["next_check"] is None and listed["interval_seconds"] == 0
    certmon.ok("endpoint", "add", "ldap1", "[::1]:389", "--starttls", "ldap")
    human = certmon.ok("endpoint", "list").out
    assert "cti1" in human and "[::1]:389" in human and "unchecked" in human
    shown = certmon.ok("endpoint", "show", "ldap1", "--json").json
    assert shown["endpoint"]["starttls"] == "ldap"
    assert shown["endpoint"]["chain_pem"] == ""
    certmon.ok("endpoint", "remove", "cti1")
    names = [e["name"] for e in
             certmon.ok("endpoint", "list", "--json").json["endpoints"]]
    assert names == ["ldap1"]
    events = certmon.ok("events", "--json").json["events"]
    assert {"endpoint.added", "endpoint.removed"} <= {e["name"]
                                                      for e in events}


def test_cli_check(certmon, env):
    pki, good = env["pki"], env["servers"]["good"]
    setup_store(certmon.ok, pki)
    certmon.ok("endpoint", "add", "peer", good.target, "--trust-unit",
               "tomcat-trust")
    r = certmon("endpoint", "check", "peer", "--json")
    assert r.rc == 0, r
    ep = r.json["endpoint"]
    assert ep["verdict"] == "pass" and ep["status"] == "good", ep
    assert ep["leaf_cn"] == "TLS Good" and len(ep["leaf_fingerprint"]) == 64
    assert ep["last_check"] is not None and ep["alarm"] is None
    shown = certmon.ok("endpoint", "show", "peer", "--json").json["endpoint"]
    assert shown["chain_pem"].count("BEGIN CERTIFICATE") == 2
    # human output
    r = certmon("endpoint", "check", "peer")
    assert r.rc == 0 and r.out.startswith("ENDPOINT peer PASS: "), r
    # a peer that cannot be reached fails (2), with one alarm
    certmon.ok("endpoint", "add", "gone", f"127.0.0.1:{free_port()}")
    for _ in range(2):
        r = certmon("endpoint", "check", "gone", "--json")
        assert r.rc == 2, r
        assert r.json["endpoint"]["verdict"] == "fail"
        assert "connect to 127.0.0.1" in r.json["endpoint"]["reason"]
    alarms = [e for e in certmon.ok("events", "--json").json["events"]
              if e["name"] == ALARM]
    assert len(alarms) == 1 and "gone" in alarms[0]["message"], alarms
    # an unknown endpoint is a local error (3)
    r = certmon("endpoint", "check", "nosuch", "--json")
    assert r.rc == 3 and "no endpoint named" in r.json["error"], r


# --------------------------------------------------------------- daemon

def endpoint(d, name):
    return d.get(f"/endpoints/{name}")["endpoint"]


def test_daemon_interval_follows_the_settings(tmp_path, env):
    """Off: never re-checked. On with Enable Revocation Check off: every
    Validity Check Frequency."""
    pki, good = env["pki"], env["servers"]["good"]
    t0 = utcnow()
    d = Certmond(tmp_path, now=t0)
    setup_store(d.cli_ok, pki)
    d.cli_ok("endpoint", "add", "peer", good.target, "--trust-unit",
             "tomcat-trust")
    with d:
        d.sync()
        assert endpoint(d, "peer")["verdict"] == "unchecked"
        d.advance(10 * HOUR)    # (the responder's answers last 1 day)
        d.sync()
        ep = endpoint(d, "peer")
        assert ep["verdict"] == "unchecked" and ep["last_check"] is None
        assert ep["next_check"] is None
        # on, Validity Check Frequency 6h: checked at once, then every 6 h
        d.cli_ok("params", "set", "--cert-validity-check", "on",
                 "--validity-check-frequency", "6h")
        first = d.now
        wait_for(lambda: endpoint(d, "peer")["last_check"], timeout=10,
                 what="the first check")
        ep = endpoint(d, "peer")
        assert ts(ep["last_check"]) == first and ep["verdict"] == "pass", ep
        assert ts(ep["next_check"]) == first + 6 * HOUR
        assert d.get("/endpoints")["interval_seconds"] == 6 * 3600
        d.advance(5 * HOUR)
        d.sync()
        assert ts(endpoint(d, "peer")["last_check"]) == first
        d.advance(HOUR)
        wait_for(lambda: ts(endpoint(d, "peer")["last_check"]) ==
                 first + 6 * HOUR, timeout=10, what="the 6 h re-check")


def test_daemon_revoked_peer_turns_to_fail(tmp_path, env):
    """Check Every 2h (Enable Revocation Check on takes precedence over the
    Validity Check Frequency of 24h); the peer's leaf is revoked between
    two re-checks."""
    pki, late = env["pki"], env["servers"]["late"]
    t0 = utcnow()
    d = Certmond(tmp_path, now=t0)
    setup_store(d.cli_ok, pki)
    d.cli_ok("revocation", "set", "--check", "on", "--every", "2h")
    d.cli_ok("service", "stop", "revocation-check")
    d.cli_ok("params", "set", "--cert-validity-check", "on",
             "--validity-check-frequency", "24h")
    d.cli_ok("endpoint", "add", "ldap-peer", late.target, "--trust-unit",
             "tomcat-trust")
    with d:
        ep = wait_for(lambda: endpoint(d, "ldap-peer")["last_check"] and
                      endpoint(d, "ldap-peer"), timeout=10,
                      what="the first check")
        assert ep["verdict"] == "pass" and ep["status"] == "good", ep
        assert ts(ep["last_check"]) == t0
        assert ts(ep["next_check"]) == t0 + 2 * HOUR
        d.advance(HOUR)
        d.sync()
        assert ts(endpoint(d, "ldap-peer")["last_check"]) == t0
        d.advance(HOUR)
        wait_for(lambda: ts(endpoint(d, "ldap-peer")["last_check"]) ==
                 t0 + 2 * HOUR, timeout=10, what="the 2 h re-check")
        assert endpoint(d, "ldap-peer")["verdict"] == "pass"
        assert d.get(f"/events?name={ALARM}")["events"] == []

        pki.revoke(pki.late)
        # `openssl ocsp` re-reads its index before the request after the
        # next one: one request makes it current
        pki.pki.capture(env["responder"].url, pki.late, pki.dir / "nudge.der")
        d.advance(2 * HOUR)
        ep = wait_for(lambda: endpoint(d, "ldap-peer")["verdict"] == "fail"
                      and endpoint(d, "ldap-peer"), timeout=10,
                      what="the verdict to turn to fail")
        assert ts(ep["last_check"]) == t0 + 4 * HOUR
        assert ep["status"] == "revoked" and "revoked" in ep["reason"], ep
        assert ts(ep["changed_at"]) == t0 + 4 * HOUR
        [listed] = d.get("/endpoints")["endpoints"]
        assert listed["name"] == "ldap-peer" and listed["verdict"] == "fail"
        # still revoked at the next re-check: no second alarm
        d.advance(2 * HOUR)
        wait_for(lambda: ts(endpoint(d, "ldap-peer")["last_check"]) ==
                 t0 + 6 * HOUR, timeout=10, what="the next re-check")
        alarms = d.get(f"/events?name={ALARM}")["events"]
        assert len(alarms) == 1, alarms
        assert alarms[0]["kind"] == "alarm" and alarms[0]["actor"] == \
            "certmond"
        assert "ldap-peer" in alarms[0]["message"]
        assert alarms[0]["fingerprint"] == ep["leaf_fingerprint"]
        # on demand through the API
        r = d.api("POST", "/endpoints/ldap-peer/check", expect=200)
        assert r["endpoint"]["verdict"] == "fail" and \
            r["endpoint"]["alarm"] is None
        assert "alarm EndpointCertificateFailed" in d.log() or \
            "endpoint ldap-peer checked: fail" in d.log()
