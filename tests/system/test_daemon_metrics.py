"""GET /metrics: the Prometheus text format, checked by the real
`promtool check metrics` (Debian `prometheus`), what it exports by default
and with --metrics-all, the optional token, and label escaping of the
strings that come from certificates."""
import calendar
import hashlib
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from daemon import (MIN, Certmond, parse_metrics, promtool_check, ts,
                    utcnow)

pytestmark = pytest.mark.skipif(
    shutil.which("promtool") is None,
    reason="promtool missing: apt-get install prometheus")

ODD_CN = 'odd "q" \\ back\nnew line \u00fc'


@pytest.fixture(scope="module")
def certs(pki):
    out = {
        "valid": pki.leaf("m-valid.example", days=200, name="m-valid"),
        "expiring": pki.leaf("m-expiring.example", days=10,
                             name="m-expiring"),
        "critical": pki.leaf("m-critical.example", days=1, faketime="-12h",
                             name="m-critical"),
        "expired": pki.leaf("m-expired.example", days=10, faketime="-30d",
                            name="m-expired"),
        "quote": pki.leaf('m-say "hi" \\\\ there', days=7, name="m-quote",
                          san="DNS:quote.example"),
    }
    # a CN with a double quote, a backslash, a newline and non-ASCII: the
    # openssl config parser is the only way to get a newline into a name
    cnf = pki.dir / "m-odd.cnf"
    cnf.write_text("[req]\nprompt = no\ndistinguished_name = dn\n"
                   "utf8 = yes\nstring_mask = utf8only\n[dn]\n"
                   "O = certmon tests\n"
                   "CN = odd \\\"q\\\" \\\\ back\\nnew line \u00fc\n",
                   encoding="utf-8")
    out["odd"] = pki.dir / "m-odd.pem"
    subprocess.run(["openssl", "req", "-x509", "-new", "-key", str(pki.key),
                    "-config", str(cnf), "-days", "5", "-out",
                    str(out["odd"])], check=True, capture_output=True)
    return out


def fp_of(path):
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(
        Path(path).read_text())).hexdigest()


def load(d, certs, names=None):
    for name in names or certs:
        unit = "tomcat-trust" if name in ("odd",) else "CallManager-trust"
        d.cli_ok("cert", "upload", "--unit", unit, certs[name])
    d.sync()


def series(text, name):
    return [(l, v) for n, l, v in parse_metrics(text) if n == name]


def cert_fps(text):
    return {l["fingerprint"] for l, v in series(
        text, "certmon_cert_not_after_seconds")}


def check(text):
    rc, out = promtool_check(text)
    assert rc == 0, f"promtool check metrics: {out}\n---\n{text}"


@pytest.fixture
def T():
    return utcnow() - 2 * MIN


def test_promtool_passes_and_default_exports_non_valid_only(
        tmp_path, certs, T):
    with Certmond(tmp_path, now=T) as d:
        check(d.metrics())              # an almost empty store
        load(d, certs)
        text = d.metrics()
        check(text)
        fps = cert_fps(text)
        for name in ("expiring", "critical", "expired", "quote", "odd"):
            assert fp_of(certs[name]) in fps, name
        assert fp_of(certs["valid"]) not in fps
        https = fp_of(d.https_cert)
        assert https not in fps           # valid for 397 days
        # the three per-certificate families list the same certificates
        for fam in ("certmon_cert_expires_in_seconds",
                    "certmon_cert_revocation_status"):
            assert {l["fingerprint"] for l, v in series(text, fam)} == fps
        # the counts cover every certificate, valid ones included
        counts = {(l["unit"], l["state"]): v
                  for l, v in series(text, "certmon_certificates")}
        assert counts[("CallManager-trust", "valid")] == 1
        assert counts[("CallManager-trust", "expiring")] == 2  # 10 d, 7 d
        assert counts[("CallManager-trust", "critical")] == 1
        assert counts[("CallManager-trust", "expired")] == 1
        assert counts[("tomcat-trust", "expiring")] == 1
        assert counts[("tomcat", "valid")] == 1
        assert "# TYPE certmon_certificates gauge" in text


def test_metrics_all_exports_every_certificate(tmp_path, certs, T):
    with Certmond(tmp_path, now=T, args=["--metrics-all"]) as d:
        load(d, certs)
        text = d.metrics()
        check(text)
        fps = cert_fps(text)
        assert fps == {fp_of(p) for p in certs.values()} | {
            fp_of(d.https_cert)}
        # one series per (unit, certificate): the same certificate in two
        # units is two series
        d.cli_ok("cert", "upload", "--unit", "ipsec-trust", certs["valid"])
        d.sync()
        text = d.metrics()
        check(text)
        units = sorted(l["unit"] for l, v in series(
            text, "certmon_cert_not_after_seconds")
            if l["fingerprint"] == fp_of(certs["valid"]))
        assert units == ["CallManager-trust", "ipsec-trust"]


def test_values_follow_the_injected_clock(tmp_path, certs, T):
    with Certmond(tmp_path, now=T) as d:
        load(d, certs, ["expiring"])
        fp = fp_of(certs["expiring"])
        [row] = [c for c in d.get("/certs")["certs"]
                 if c["fingerprint"] == fp]
        na = calendar.timegm(ts(row["not_after"]).timetuple())
        text = d.metrics()
        [(l, v)] = [(l, v) for l, v in series(
            text, "certmon_cert_not_after_seconds") if l["fingerprint"] == fp]
        assert v == na
        assert l["cn"] == "m-expiring.example" and l["serial"] == row["serial"]
        assert l["unit"] == "CallManager-trust"
        [(l, v)] = [(l, v) for l, v in series(
            text, "certmon_cert_expires_in_seconds") if l["fingerprint"] == fp]
        assert v == na - calendar.timegm(T.timetuple())
        [(l, v)] = [(l, v) for l, v in series(
            text, "certmon_cert_revocation_status") if l["fingerprint"] == fp]
        assert l["status"] == "unchecked" and v == 1
        # after notAfter: negative, and state expired in the counts
        d.set_time(ts(row["not_after"]) + 10 * MIN)
        text = d.metrics()
        check(text)
        [(l, v)] = [(l, v) for l, v in series(
            text, "certmon_cert_expires_in_seconds") if l["fingerprint"] == fp]
        assert v == -600
        counts = {(l["unit"], l["state"]): v
                  for l, v in series(text, "certmon_certificates")}
        assert counts[("CallManager-trust", "expired")] == 1


def test_service_and_outbox_metrics(tmp_path, T):
    with Certmond(tmp_path, now=T) as d:
        d.wait_for(lambda: d.last_run() == T)
        text = d.metrics()
        check(text)
        running = {l["service"]: v for l, v in series(
            text, "certmon_service_running")}
        assert running == {"expiry-monitor": 1, "revocation-check": 1}
        last = {l["service"]: v for l, v in series(
            text, "certmon_service_last_run_timestamp_seconds")}
        assert last["expiry-monitor"] == calendar.timegm(T.timetuple())
        nxt = {l["service"]: v for l, v in series(
            text, "certmon_service_next_run_timestamp_seconds")}
        assert nxt["expiry-monitor"] == calendar.timegm(
            d.next_run().timetuple())
        assert series(text, "certmon_expiry_runs_total") == [({}, 1.0)]
        assert series(text, "certmon_mail_sent_total") == [({}, 0.0)]
        out = {l["state"]: v for l, v in series(
            text, "certmon_outbox_messages")}
        assert out == {"pending": 0, "failed": 0}

        d.api("POST", "/services/revocation-check/stop", expect=200)
        text = d.metrics()
        running = {l["service"]: v for l, v in series(
            text, "certmon_service_running")}
        assert running["revocation-check"] == 0


def test_labels_with_quotes_backslashes_and_newlines(tmp_path, certs, T):
    with Certmond(tmp_path, now=T) as d:
        load(d, certs, ["quote", "odd"])
        text = d.metrics()
        check(text)
        cns = {l["cn"] for l, v in series(
            text, "certmon_cert_not_after_seconds")}
        api_cns = {c["subject_cn"] for c in d.get("/certs")["certs"]}
        assert 'm-say "hi" \\ there' in api_cns
        assert ODD_CN in api_cns
        # parsed back (escapes undone), each label equals the certificate's
        # CN exactly: nothing lost, nothing injected
        assert cns == {'m-say "hi" \\ there', ODD_CN}
        # and the raw text has the escapes of the text format, so the
        # newline did not start a new sample line
        assert 'cn="m-say \\"hi\\" \\\\ there"' in text
        assert 'cn="odd \\"q\\" \\\\ back\\nnew line \u00fc"' in text
        for line in text.splitlines():
            assert line.startswith(("#", "certmon_")), line


def test_metrics_token_file(tmp_path, T):
    tokfile = tmp_path / "metrics.token"
    tokfile.write_text("scrape-secret-0123456789\n")
    d = Certmond(tmp_path / "d", now=T,
                 args=["--metrics-token-file", str(tokfile)])
    with d:
        r = d.request("GET", "/metrics", auth=False)
        assert r.status == 401, r
        assert r.json["status"] == "error"
        assert "Location" not in r.headers
        for wrong in ("scrape-secret-012345678", "x", d.token,
                      "scrape-secret-0123456789 "):
            r = d.request("GET", "/metrics", auth=False,
                          headers={"Authorization": f"Bearer {wrong}"})
            assert r.status == 401, (wrong, r)
        text = d.metrics(token="scrape-secret-0123456789")
        check(text)
        # the API token opens the API, not /metrics; the metrics token
        # opens /metrics, not the API
        r = d.request("GET", "/api/v1/units",
                      token="scrape-secret-0123456789")
        assert r.status == 401
        # healthz stays open
        assert d.request("GET", "/healthz", auth=False).status == 200


def test_metrics_token_scheme_is_case_insensitive(tmp_path, T):
    """RFC 9110 11.1: the auth scheme name is case-insensitive (the API
    accepts "bearer"; /metrics must too)."""
    tokfile = tmp_path / "metrics.token"
    tokfile.write_text("scrape-secret\n")
    with Certmond(tmp_path / "d", now=T,
                  args=["--metrics-token-file", str(tokfile)]) as d:
        r = d.request("GET", "/metrics", auth=False,
                      headers={"Authorization": "bearer scrape-secret"})
        assert r.status == 200, r


def test_metrics_token_file_missing_fails_at_start(tmp_path):
    from daemon import CERTMOND_BIN, free_port
    p = subprocess.run([CERTMOND_BIN, "--db", str(tmp_path / "s.db"),
                        "--listen", f"127.0.0.1:{free_port()}", "--no-tls",
                        "--metrics-token-file", str(tmp_path / "nope")],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "nope" in p.stderr


def test_metrics_without_token_file_needs_no_auth(tmp_path, T):
    with Certmond(tmp_path, now=T) as d:
        r = d.request("GET", "/metrics", auth=False)
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
