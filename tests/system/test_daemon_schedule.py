"""certmond runs the Certificate Expiry Monitor on its schedule, driven by
the injected clock (--clock-file): no test sleeps through real hours.

Rules (DESIGN.md, "Certificate Expiry Monitor"; docs/MONITOR.md):
- the service runs every 24 h counted from its last (re)start; starting the
  daemon (re)starts the Running services; a new store counts its creation
  as the first start;
- a service that never ran, or whose last completed run is more than 24 h
  before the start, runs at once;
- while any monitored certificate is within 1 day of expiry, or expired, it
  runs every hour (on the same grid);
- `service start|stop|restart` through the CLI or the API: the other side
  sees the change within ~1 s; start/restart put the next run at
  start + 24 h.

How "no run happened" is checked without sleeping: Certmond.sync() returns
only after the daemon's loop has gone round at least once with the clock
already moved (requests are served between loop passes), so a run that was
due would have been recorded by then.
"""
import importlib.util
from pathlib import Path

import pytest

from daemon import (DAY, HOUR, MIN, SEC, Certmond, iso, parse_metrics, ts,
                    utcnow, wait_for)

_spec = importlib.util.spec_from_file_location(
    "certmon_test_smtpd_daemon", Path(__file__).resolve().parent / "smtpd.py")
_smtpd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_smtpd)
SmtpServer = _smtpd.SmtpServer


@pytest.fixture(scope="module")
def certs(pki):
    return {
        # notAfter = now + 10 days: expiring from the start
        "ten": pki.leaf("ten-days.example", days=10, name="dsched-ten"),
        # notAfter = now + 1 day (issued a day ago for two days)
        "one": pki.leaf("one-day.example", days=2, faketime="-1d",
                        name="dsched-one"),
        # notAfter = now + 12 h: critical at once
        "half": pki.leaf("half-day.example", days=1, faketime="-12h",
                         name="dsched-half"),
        "valid": pki.leaf("valid.example", days=300, name="dsched-valid"),
    }


def not_after(d, pem):
    [c] = d.cli_json("inspect", pem, at=False)["certs"]
    return ts(c["not_after"])


def fp_of(d, pem):
    [c] = d.cli_json("inspect", pem, at=False)["certs"]
    return c["fingerprint"]


def next_cycle(start, t, period):
    """The first start + k*period strictly after t."""
    k = (t - start) // period
    assert start + k * period != t, "test picked a time on a cycle point"
    return start + (k + 1) * period


def runs_total(d):
    return [v for n, l, v in parse_metrics(d.metrics())
            if n == "certmon_expiry_runs_total"][0]


def start_at(tmp_path, T, **kw):
    d = Certmond(tmp_path, now=T, **kw)
    d.start()
    return d


@pytest.fixture
def T():
    """The start time: a little in the past, so that the HTTPS certificate
    the daemon makes (notBefore = T - 5 min) is valid on the wall clock."""
    return utcnow() - 2 * MIN


# ------------------------------------------------------------ the schedule

def test_daily_run_from_the_daemon_start(tmp_path, certs, T):
    with start_at(tmp_path, T) as d:
        # a new store never ran: the service runs at once, at T
        wait_for(lambda: d.last_run() == T, what="the first run at T")
        svc = d.service()
        assert svc["state"] == "Running"
        assert ts(svc["started_at"]) == T
        assert ts(svc["next_run"]) == T + DAY
        assert "0 notified" in svc["last_result"]

        d.cli_ok("cert", "upload", "--unit", "tomcat", certs["ten"])
        d.sync()
        assert d.next_run() == T + DAY     # expiring: still daily

        d.set_time(T + 23 * HOUR)
        d.sync()
        assert d.last_run() == T
        d.set_time(T + DAY - SEC)
        d.sync()
        assert d.last_run() == T
        assert runs_total(d) == 1

        d.set_time(T + DAY + 2 * SEC)
        wait_for(lambda: d.last_run() == T + DAY + 2 * SEC,
                 what="the run at T + 24 h")
        svc = d.service()
        assert ts(svc["next_run"]) == T + 2 * DAY
        assert "1 expiring" in svc["last_result"], svc
        assert runs_total(d) == 2
        # the CLI agrees, at the same (injected) time
        st = d.cli_json("monitor", "status")
        assert ts(st["last_run"]) == T + DAY + 2 * SEC
        assert ts(st["next_run"]) == T + 2 * DAY
        assert st["cadence"] == "24h"
        assert len([l for l in d.log().splitlines()
                    if "Certificate Expiry Monitor ran" in l]) == 2


def test_hourly_while_critical_or_expired(tmp_path, certs, T):
    with start_at(tmp_path, T) as d:
        wait_for(lambda: d.last_run() == T)
        d.cli_ok("cert", "upload", "--unit", "tomcat", certs["ten"])
        N = not_after(d, certs["ten"])
        fp = fp_of(d, certs["ten"])

        # 12 h before notAfter: critical; the daily run is long overdue
        t1 = N - 12 * HOUR + 7 * MIN
        d.set_time(t1)
        wait_for(lambda: d.last_run() == t1)
        nxt = next_cycle(T, t1, HOUR)
        assert d.next_run() == nxt
        assert d.cli_json("monitor", "status")["cadence"] == "1h"

        d.set_time(nxt - MIN)
        d.sync()
        assert d.last_run() == t1
        d.set_time(nxt + 2 * SEC)
        wait_for(lambda: d.last_run() == nxt + 2 * SEC)
        assert d.next_run() == nxt + HOUR

        # expired: still hourly
        t2 = N + 3 * HOUR + 7 * MIN
        d.set_time(t2)
        wait_for(lambda: d.last_run() == t2)
        assert d.next_run() == next_cycle(T, t2, HOUR)

        # the alarms of the transitions, raised by the daemon's runs
        evs = d.get("/events?kind=alarm")["events"]
        got = sorted((e["name"], e["fingerprint"], e["actor"]) for e in evs)
        assert got == [("CertExpired", fp, "certmond"),
                       ("CertValidLessthanADay", fp, "certmond")], evs
        assert "CertExpired" in d.log()           # (no --syslog: stderr)

        # the expired certificate deleted: back to the daily grid
        d.cli_ok("cert", "delete", fp[:16], "--unit", "tomcat")
        daily = next_cycle(T, t2, DAY)
        wait_for(lambda: d.next_run() == daily, timeout=1.5)
        d.set_time(next_cycle(T, t2, HOUR) + 2 * SEC)
        d.sync()
        assert d.last_run() == t2
        d.set_time(daily + 2 * SEC)
        wait_for(lambda: d.last_run() == daily + 2 * SEC)


def test_certificate_turning_critical_between_runs_switches_to_hourly(
        tmp_path, certs):
    """A certificate with 1 day 3 h left at the daily run becomes critical
    3 h later; from then on the service runs every hour (DESIGN.md: "While
    any monitored certificate is within 1 day of expiry, or expired, the
    service runs every hour") - not only after the next daily run, 21 h
    late. `certmon monitor status` already says so."""
    d = Certmond(tmp_path / "probe", token=False)
    N = not_after(d, certs["one"])
    T = N - DAY - 3 * HOUR - 13 * MIN
    assert T < utcnow()
    with start_at(tmp_path, T) as d:
        d.cli_ok("cert", "upload", "--unit", "tomcat", certs["one"])
        wait_for(lambda: d.last_run() == T)
        d.sync()
        assert d.next_run() == T + DAY          # not critical yet: daily

        t = T + 3 * HOUR + 30 * MIN             # critical since T + 3:13
        d.set_time(t)
        # the hourly grid point T + 1 h has passed: the daemon runs at once
        wait_for(lambda: d.last_run() == t, timeout=3,
                 what="an hourly run once the certificate is critical")
        d.sync()
        st = d.cli_json("monitor", "status")
        assert st["cadence"] == "1h" and st["due_now"] is False, st
        assert ts(st["next_run"]) == T + 4 * HOUR, st
        # the daemon agrees with the CLI
        assert d.next_run() == ts(st["next_run"]), (d.service(), st)


@pytest.mark.parametrize("how", ["cli", "api"])
def test_upload_of_a_critical_certificate_switches_to_hourly(
        tmp_path, certs, T, how):
    """Uploading a critical certificate changes the cadence at once: the
    next run is the next hour of the grid, whoever uploaded it."""
    with start_at(tmp_path, T) as d:
        wait_for(lambda: d.last_run() == T)
        if how == "cli":
            d.cli_ok("cert", "upload", "--unit", "tomcat", certs["half"])
        else:
            d.api("POST", "/certs?unit=tomcat",
                  body=Path(certs["half"]).read_bytes(),
                  content_type="application/x-pem-file", expect=201)
        d.set_time(T + 10 * MIN)
        d.sync()
        st = d.cli_json("monitor", "status")
        assert st["cadence"] == "1h" and ts(st["next_run"]) == T + HOUR, st
        wait_for(lambda: d.next_run() == T + HOUR, timeout=1.5,
                 what="next_run = T + 1 h after the upload")
        d.set_time(T + HOUR + 2 * SEC)
        wait_for(lambda: d.last_run() == T + HOUR + 2 * SEC, timeout=3)


def test_daemon_restart_counts_the_cycle_from_its_start(tmp_path, T):
    d = start_at(tmp_path, T)
    wait_for(lambda: d.last_run() == T)
    d.stop()

    # started again 5 h later: the cycle restarts there, no run at once
    S = T + 5 * HOUR
    d.set_time(S)
    d.start()
    d.sync()
    svc = d.service()
    assert ts(svc["started_at"]) == S
    assert d.last_run() == T
    assert ts(svc["next_run"]) == S + DAY
    d.set_time(S + DAY - MIN)
    d.sync()
    assert d.last_run() == T
    d.stop()

    # started 26 h after the last run: more than 24 h -> runs at once
    S2 = T + 26 * HOUR
    d.set_time(S2)
    d.start()
    wait_for(lambda: d.last_run() == S2, what="a run at once on start")
    assert d.next_run() == S2 + DAY
    assert ts(d.service()["started_at"]) == S2
    d.stop()


def test_stopped_service_stays_stopped_across_daemon_restart(tmp_path, T):
    d = start_at(tmp_path, T)
    wait_for(lambda: d.last_run() == T)
    d.set_time(T + HOUR)
    d.cli_ok("service", "stop", "expiry-monitor")
    d.stop()
    d.set_time(T + 30 * HOUR)       # would run at once if it were Running
    d.start()
    d.sync()
    svc = d.service()
    assert svc["state"] == "Stopped"
    assert svc["next_run"] is None
    assert ts(svc["started_at"]) == T       # not restarted
    assert d.last_run() == T
    # the revocation service (Running) was restarted by the daemon start
    assert ts(d.service("revocation-check")["started_at"]) == T + 30 * HOUR
    d.stop()


# --------------------------------------------------- control: CLI and API

def test_cli_stop_and_start_seen_by_the_daemon(tmp_path, T):
    with start_at(tmp_path, T) as d:
        wait_for(lambda: d.last_run() == T)

        d.set_time(T + HOUR)
        d.cli_ok("service", "stop", "expiry-monitor")
        svc = wait_for(lambda: (lambda s: s if s["state"] == "Stopped"
                                else None)(d.service()), timeout=1.5)
        assert svc["next_run"] is None
        wait_for(lambda: ("certmon_service_running{service=\"expiry-monitor\"}"
                          " 0") in d.metrics(), timeout=1.5)
        wait_for(lambda: "certmon_service_next_run_timestamp_seconds{service="
                         "\"expiry-monitor\"} 0\n" in d.metrics(), timeout=1.5)

        # stopped: nothing runs, however late it gets
        d.set_time(T + 3 * DAY)
        d.sync()
        assert d.last_run() == T

        # started again: the last run is more than 24 h old, so it runs at
        # once, and the next run is a day later
        S = T + 3 * DAY + 7 * MIN
        d.set_time(S)
        d.cli_ok("service", "start", "expiry-monitor")
        wait_for(lambda: d.last_run() == S, timeout=1.5)
        assert d.next_run() == S + DAY
        assert ts(d.service()["started_at"]) == S


def test_cli_restart_moves_the_next_run(tmp_path, T):
    with start_at(tmp_path, T) as d:
        wait_for(lambda: d.last_run() == T)
        R = T + 5 * HOUR + 11 * MIN
        d.set_time(R)
        d.cli_ok("service", "restart", "Certificate Expiry Monitor")
        wait_for(lambda: d.next_run() == R + DAY, timeout=1.5,
                 what="next_run = restart + 24 h")
        assert ts(d.service()["started_at"]) == R
        d.set_time(T + DAY + MIN)          # the old schedule: no run
        d.sync()
        assert d.last_run() == T
        d.set_time(R + DAY + 2 * SEC)
        wait_for(lambda: d.last_run() == R + DAY + 2 * SEC)


def test_api_stop_start_restart_seen_by_the_cli(tmp_path, T):
    with start_at(tmp_path, T) as d:
        wait_for(lambda: d.last_run() == T)

        d.set_time(T + HOUR)
        doc = d.api("POST", "/services/expiry-monitor/stop", expect=200)
        assert doc["service"]["state"] == "Stopped"
        assert doc["service"]["next_run"] is None
        svcs = {s["id"]: s for s in d.cli_json("service", "list")["services"]}
        assert svcs["expiry-monitor"]["state"] == "Stopped"
        assert svcs["revocation-check"]["state"] == "Running"
        st = d.cli_json("monitor", "status")
        assert st["state"] == "Stopped"
        # the audit trail names the token
        ev = d.get("/events?name=service.control")["events"][0]  # newest
        assert ev["actor"] == "token:tests", ev
        assert "stopped" in ev["message"]

        S = T + 2 * HOUR
        d.set_time(S)
        doc = d.api("POST", "/services/expiry-monitor/start", expect=200)
        assert doc["service"]["state"] == "Running"
        assert ts(doc["service"]["started_at"]) == S
        svcs = {s["id"]: s for s in d.cli_json("service", "list")["services"]}
        assert svcs["expiry-monitor"]["state"] == "Running"
        assert ts(svcs["expiry-monitor"]["started_at"]) == S
        assert ts(svcs["expiry-monitor"]["next_run"]) == S + DAY
        wait_for(lambda: d.next_run() == S + DAY, timeout=1.5)

        R = T + 4 * HOUR
        d.set_time(R)
        d.api("POST", "/services/Certificate%20Expiry%20Monitor/restart",
              expect=200)
        assert ts(d.cli_json("monitor", "status")["next_run"]) == R + DAY
        wait_for(lambda: d.next_run() == R + DAY, timeout=1.5)
        d.set_time(R + DAY - SEC)
        d.sync()
        assert d.last_run() == T
        d.set_time(R + DAY + 2 * SEC)
        wait_for(lambda: d.last_run() == R + DAY + 2 * SEC)


@pytest.mark.parametrize("action", ["start", "restart"])
def test_api_control_answer_shows_the_new_next_run(tmp_path, T, action):
    """The answer to POST .../start|restart describes the service after the
    action: Running, started now, next run = now + 24 h (the last run is
    recent)."""
    with start_at(tmp_path, T) as d:
        wait_for(lambda: d.last_run() == T)
        if action == "start":
            d.set_time(T + HOUR)
            d.api("POST", "/services/expiry-monitor/stop", expect=200)
            d.sync()
        R = T + 3 * HOUR
        d.set_time(R)
        svc = d.api("POST", f"/services/expiry-monitor/{action}",
                    expect=200)["service"]
        assert svc["state"] == "Running"
        assert ts(svc["started_at"]) == R
        assert ts(svc["next_run"]) == R + DAY, svc


def test_api_run_now(tmp_path, certs, T):
    with start_at(tmp_path, T) as d:
        wait_for(lambda: d.last_run() == T)
        d.cli_ok("cert", "upload", "--unit", "tomcat", certs["ten"])
        t = T + 3 * HOUR
        d.set_time(t)
        doc = d.api("POST", "/services/expiry-monitor/run", expect=200)
        assert [(n["cn"], n["unit"], n["state"]) for n in doc["notified"]] \
            == [("ten-days.example", "tomcat", "expiring")]
        assert doc["mail"] == "disabled"
        assert ts(doc["next_run"]) == T + DAY
        assert d.last_run() == t
        assert runs_total(d) == 2
        # an on-demand run does not move the schedule
        d.sync()
        assert d.next_run() == T + DAY
        # the revocation check runs on demand too: nothing has an issuer in
        # the store here, so it checks nothing and asks no responder
        rev = d.api("POST", "/services/revocation-check/run", expect=200)
        assert rev["checked"] == 0 and rev["requests"] == 0, rev


# ------------------------------------------------ store changes, the outbox

def test_cli_upload_is_seen_within_a_second(tmp_path, certs, T):
    with start_at(tmp_path, T) as d:
        fp = fp_of(d, certs["ten"])
        assert fp not in d.metrics()
        d.cli_ok("cert", "upload", "--unit", "CallManager", certs["ten"])

        def listed():
            return [c for c in d.get("/certs?unit=CallManager")["certs"]
                    if c["fingerprint"] == fp]
        [row] = wait_for(listed, timeout=1.0)
        assert row["state"] == "expiring"
        # expiring: exported per certificate by default
        wait_for(lambda: f'fingerprint="{fp}"' in d.metrics(), timeout=1.0)
        samples = parse_metrics(d.metrics())
        assert ("certmon_certificates", {"unit": "CallManager",
                                         "state": "expiring",
                                         "revocation": "unchecked"}, 1.0) \
            in samples

        d.cli_ok("cert", "delete", fp[:12], "--unit", "CallManager")
        wait_for(lambda: not listed(), timeout=1.0)
        assert f'fingerprint="{fp}"' not in d.metrics()


def test_settings_changed_with_the_cli_are_used(tmp_path, certs, T):
    """Start Time set to 5 days with the CLI: the 10-day certificate is
    valid for the API and the metrics at once."""
    with start_at(tmp_path, T) as d:
        d.cli_ok("cert", "upload", "--unit", "tomcat", certs["ten"])
        fp = fp_of(d, certs["ten"])
        assert d.get("/certs?state=expiring")["total"] == 1
        d.cli_ok("monitor", "set", "--start-days", "5")
        wait_for(lambda: d.get("/certs?state=expiring")["total"] == 0,
                 timeout=1.0)
        assert d.get("/settings/monitor")["monitor"]["start_days"] == 5
        assert f'fingerprint="{fp}"' not in d.metrics()


def smtp_put(d, port):
    d.api("PUT", "/settings/smtp", body={
        "host": "127.0.0.1", "port": port, "tls": "none",
        "from": "certmon@example.org"}, expect=200)


def test_scheduled_run_mails_and_outbox_retries_with_backoff(
        tmp_path, certs, T):
    with start_at(tmp_path, T) as d:
        wait_for(lambda: d.last_run() == T)
        d.cli_ok("cert", "upload", "--unit", "tomcat", certs["ten"])
        # mail on, but the mail server is down (nothing listens there)
        down = _smtpd._free_port("127.0.0.1")
        smtp_put(d, down)
        d.api("PUT", "/settings/monitor", body={
            "email": True, "emails": "ops@example.com"}, expect=200)

        t1 = T + DAY + 2 * SEC
        d.set_time(t1)
        wait_for(lambda: d.last_run() == t1)
        [m] = d.get("/mail/queue")["messages"]
        assert m["state"] == "pending" and m["attempts"] >= 1, m
        assert m["last_error"]
        retry = ts(m["next_attempt_at"])
        assert t1 < retry <= t1 + HOUR
        samples = parse_metrics(d.metrics())
        assert ("certmon_outbox_messages", {"state": "pending"}, 1.0) \
            in samples
        [failed] = [v for n, l, v in samples
                    if n == "certmon_mail_failed_total"]
        assert failed >= 1

        with SmtpServer(tmp_path / "mail") as srv:
            smtp_put(d, srv.port)
            d.set_time(retry - SEC)
            d.sync()
            assert srv.messages() == []          # not before its time
            d.set_time(retry + SEC)
            [msg] = wait_for(srv.messages, timeout=3,
                             what="the retried message")
            assert msg["rcpt_tos"] == ["ops@example.com"]
            assert m["message_id"].encode() in msg["data"]
            wait_for(lambda: d.get("/mail/queue")["messages"] == [])
            [sent] = d.get("/mail/queue?all=1")["messages"]
            assert sent["state"] == "sent" and sent["sent_at"] == iso(
                retry + SEC)
            samples = parse_metrics(d.metrics())
            assert ("certmon_mail_sent_total", {}, 1.0) in samples
            assert ("certmon_outbox_messages", {"state": "pending"}, 0.0) \
                in samples

            # the next daily run: the certificate is due again (1 day)
            t2 = T + 2 * DAY + 2 * SEC
            d.set_time(t2)
            wait_for(lambda: len(srv.messages()) == 2, timeout=3)
            assert d.last_run() == t2


def test_sigterm_while_the_mail_server_hangs(tmp_path, certs, T):
    """A run blocked in SMTP (the server takes 20 s to answer DATA) does
    not keep the daemon past 2 s after SIGTERM."""
    d = start_at(tmp_path, T)
    try:
        wait_for(lambda: d.last_run() == T)
        d.cli_ok("cert", "upload", "--unit", "tomcat", certs["ten"])
        with SmtpServer(tmp_path / "mail", delay=20) as srv:
            smtp_put(d, srv.port)
            d.api("PUT", "/settings/monitor", body={
                "email": True, "emails": "ops@example.com"}, expect=200)
            d.set_time(T + DAY + 2 * SEC)

            def busy():
                # the loop is inside the SMTP exchange: requests wait
                try:
                    d.request("GET", "/healthz", auth=False, timeout=0.3)
                    return False
                except OSError:
                    return True
            wait_for(busy, timeout=5, what="the run to hang in SMTP")
            assert d.stop() < 2.0
    finally:
        d.kill()
