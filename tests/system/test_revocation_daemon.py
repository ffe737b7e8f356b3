"""certmond runs the Certificate Revocation Check on its schedule (driven
by the injected clock, --clock-file), serves its settings and the
Enterprise Parameters over the REST API (validated like the CLI), runs it
on demand, refuses revoked certificates on API uploads with Enable OCSP on,
and stops promptly (SIGTERM) in the middle of a run against a responder
that never answers."""
import subprocess

import pytest

from daemon import (DAY, HOUR, MIN, SEC, Certmond, parse_metrics,
                    promtool_check, ts, utcnow, wait_for)
from ocsp_pki import OcspPki, Silent

SID = "revocation-check"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    pki = OcspPki(tmp_path_factory.mktemp("revd-pki"))
    ca = pki.responder("ca", port=pki.aia_port).start()
    try:
        yield pki
    finally:
        ca.stop()


@pytest.fixture
def T():
    # a little in the past: the responder's answers (thisUpdate = the real
    # time) are then within the clock skew of the injected time
    return utcnow() - 2 * MIN


def statuses(d):
    """The test leaves of unit tomcat (where the daemon also puts its own
    HTTPS certificate) and their revocation status."""
    return {c["subject_cn"]: c["revocation"]
            for c in d.get("/certs?unit=tomcat")["certs"]
            if c["subject_cn"].endswith("Leaf")}


def test_scheduled_runs(tmp_path, env, T):
    pki = env
    with Certmond(tmp_path, now=T) as d:
        d.cli_ok("cert", "upload", "--unit", "tomcat-trust", pki.int)
        d.cli_ok("cert", "upload", "--unit", "tomcat", pki.good, pki.revoked)
        # off: the service does not run, and has no next run
        d.sync()
        assert d.last_run(SID) is None
        assert d.service(SID)["next_run"] is None
        # on through the API: it never ran, so it runs at once
        doc = d.api("PUT", "/settings/revocation", body={
            "ocsp": True, "check": True, "every": "1h"}, expect=200)
        assert doc["revocation"]["every"] == "1h"
        assert doc["revocation"]["check"] is True
        wait_for(lambda: d.last_run(SID) == T, what="the first run")
        assert d.next_run(SID) == T + HOUR
        assert statuses(d) == {"Good Leaf": "good", "Revoked Leaf": "revoked"}
        alarms = d.get("/events?kind=alarm")["events"]
        assert [a["name"] for a in alarms] == ["CertificateRevoked"]
        svc = d.service(SID)
        assert "2 checked (1 good, 1 revoked" in svc["last_result"], svc

        # not before Check Every has passed
        d.set_time(T + HOUR - SEC)
        d.sync()
        assert d.last_run(SID) == T
        d.set_time(T + HOUR + 5 * SEC)
        wait_for(lambda: d.last_run(SID) == T + HOUR + 5 * SEC,
                 what="the run one hour later")
        assert d.next_run(SID) == T + 2 * HOUR + 5 * SEC
        assert len(d.get("/events?kind=alarm")["events"]) == 1   # once

        # a longer Check Every (CLI) takes effect after the next run
        d.cli_ok("revocation", "set", "--every", "1d")
        d.sync()
        assert d.next_run(SID) == T + 2 * HOUR + 5 * SEC
        # stopped: no run, no next run
        d.api("POST", f"/services/{SID}/stop", expect=200)
        d.set_time(T + 3 * HOUR)
        d.sync()
        assert d.last_run(SID) == T + HOUR + 5 * SEC
        assert d.service(SID)["next_run"] is None
        # started again: start + Check Every
        d.api("POST", f"/services/{SID}/start", expect=200)
        d.sync()
        assert d.next_run(SID) == T + 3 * HOUR + DAY
        # Enable Revocation Check off: no schedule
        d.api("PUT", "/settings/revocation", body={"check": False},
              expect=200)
        d.sync()
        assert d.service(SID)["next_run"] is None


def test_api_settings_run_and_upload(tmp_path, env, T):
    pki = env
    with Certmond(tmp_path, now=T) as d:
        r = d.get("/settings/revocation")["revocation"]
        assert (r["ocsp"], r["uri_source"], r["every"], r["trust_unit"]) == \
            (False, "cert", "1d", "tomcat-trust")
        e = d.get("/settings/enterprise")["enterprise"]
        assert e == {"cert_validity_check": False,
                     "validity_check_frequency": "1d",
                     "common_criteria": False}
        # invalid: 400, nothing changed
        for body, why in (({"every": "90m"}, "\"every\""),
                          ({"every": "45d"}, "Check Every"),
                          ({"uri_source": "configured"}, "OCSP Configured"),
                          ({"uri": "ftp://x/"}, "OCSP Configured URI"),
                          ({"crl_uris": ["ldap://x/"]}, "CRL URIs"),
                          ({"trust_unit": "nope"}, "trust unit"),
                          ({"ocsp": "yes"}, "\"ocsp\""),
                          ({"timeout": 0}, "timeout")):
            res = d.api("PUT", "/settings/revocation", body=body)
            assert res.status == 400, (body, res)
            assert why in res.json["error"], (body, res)
        res = d.api("PUT", "/settings/enterprise",
                    body={"validity_check_frequency": "2h30m"})
        assert res.status == 400, res
        assert d.get("/settings/revocation")["revocation"] == r
        doc = d.api("PUT", "/settings/enterprise", body={
            "common_criteria": True, "cert_validity_check": True,
            "validity_check_frequency": "12h"}, expect=200)
        assert doc["enterprise"]["validity_check_frequency"] == "12h"
        assert d.cli_json("params", "show")["params"]["common_criteria"]
        d.api("PUT", "/settings/enterprise", body={"common_criteria": False},
              expect=200)

        # an on-demand run works whatever Enable Revocation Check says
        d.cli_ok("cert", "upload", "--unit", "tomcat-trust", pki.int)
        d.cli_ok("cert", "upload", "--unit", "tomcat", pki.good)
        d.api("PUT", "/settings/revocation", body={"ocsp": True},
              expect=200)
        doc = d.api("POST", f"/services/{SID}/run", expect=200)
        assert (doc["checked"], doc["requests"]) == (1, 1), doc
        assert doc["results"][0]["status"] == "good"
        # the request is counted in /metrics by responder and outcome
        text = d.metrics()
        promtool_check(text)
        ocsp = [(l["responder"], l["outcome"], v)
                for n, l, v in parse_metrics(text)
                if n == "certmon_ocsp_checks_total"]
        assert ocsp == [(f"http://127.0.0.1:{pki.aia_port}/", "good", 1.0)], ocsp
        assert ("certmon_revocation_runs_total", {}, 1.0) in \
            parse_metrics(text)
        assert ts(doc["next_run"]) == T + DAY
        assert d.last_run(SID) == T

        # an API upload of a revoked certificate is refused (409)
        res = d.request("POST", "/api/v1/certs?unit=tomcat",
                        body=pki.revoked.read_bytes(),
                        content_type="application/x-pem-file")
        assert res.status == 409, res
        assert "'Revoked Leaf'" in res.json["error"]
        assert "revoked at" in res.json["error"]
        assert list(statuses(d)) == ["Good Leaf"]
        res = d.request("POST", "/api/v1/certs?unit=tomcat",
                        body=pki.unknown.read_bytes(),
                        content_type="application/x-pem-file")
        assert res.status == 201, res
        assert statuses(d)["Never Issued Leaf"] == "unknown"


def established(port):
    """True when a TCP connection to port is established (ss: nothing is
    disturbed)."""
    out = subprocess.run(["ss", "-Htn", "state", "established",
                          f"dport = :{port}"], capture_output=True,
                         text=True).stdout
    return bool(out.strip())


def test_sigterm_stops_a_run_promptly(tmp_path, env, T):
    pki = env
    with Silent() as hang:
        d = Certmond(tmp_path, now=T)
        d.cli_ok("cert", "upload", "--unit", "tomcat-trust", pki.int)
        d.cli_ok("cert", "upload", "--unit", "tomcat", pki.good)
        d.cli_ok("revocation", "set", "--ocsp", "on", "--check", "on",
                 "--uri-source", "configured", "--uri", hang.url,
                 "--timeout", "30")
        try:
            d.start()
            # the run starts at once (it never ran) and waits for the
            # responder, which never answers
            wait_for(lambda: established(hang.port), timeout=5,
                     what="the request to the silent responder")
            took = d.stop()        # asserts exit 0 within 2 s
        finally:
            d.kill()
        assert took < 2.0
        assert "cancelled" in d.log(), d.log()
        # nothing was recorded by the cancelled run
        svc = {s["id"]: s for s in d.cli_json("service", "list")["services"]}
        assert svc[SID]["last_run"] is None
        assert d.cli_json("cert", "list")["certs"][0]["revocation"] == \
            "unchecked"
