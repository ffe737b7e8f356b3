"""Simulated weeks of the Certificate Expiry Monitor through the real CLI.

`certmon monitor run --at TIME` is a real run at TIME, so a test walks a
certificate through its last 45 days in a fraction of a second and checks
every run against the rules of DESIGN.md ("Certificate Expiry Monitor"):

- state: valid -> expiring (notAfter within Start Time) -> critical (<= 1 day
  left) -> expired;
- a certificate is due when it is within Start Time (or expired) AND (never
  notified, or its last notice is >= Frequency ago, or that notice lies in the
  future, or its state changed since that notice);
- notices are recorded only when a message is queued (e-mail on and SMTP
  configured); with e-mail off the due certificates are listed, mail is
  "disabled" and nothing is recorded;
- schedule: next run = last (re)start + k * 24 h (a new store counts its
  creation as the first start), + k * 1 h while a monitored certificate is
  critical or expired; a service that never ran, or whose last run is more
  than 24 h older than its last start, is due at once.

The expected notices below are derived from those rules by hand (with the
reasoning in comments), never copied from the program's output. Run times
are offset by odd minutes from both notAfter and the store's creation so
that no expectation hangs on an exact boundary unless a test says so.
"""
import email
import email.policy
import importlib.util
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "certmon_test_smtpd_schedule",
    Path(__file__).resolve().parent / "smtpd.py")
_smtpd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_smtpd)
SmtpServer = _smtpd.SmtpServer

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)


def ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc)


def iso(d):
    return d.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def at(t):
    return {"CERTMON_NOW": iso(t)}


# ------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def certs(pki):
    """Certificates shared by the module (the store is fresh per test)."""
    return {
        # notAfter ~40 days from now: enters a 30-day window on day ~10
        "main": pki.leaf("expiry40.example", days=40, name="sched-main"),
        # its renewal: same CN and issuer, newer notBefore
        "renewal": pki.leaf("expiry40.example", days=365,
                            name="sched-renewal", faketime="+1d"),
        "lsc": pki.leaf("phone-lsc.example", days=10, name="sched-lsc"),
        "lsc_expired": pki.leaf("phone-old-lsc.example", days=10,
                                name="sched-lsc-old", faketime="-20d"),
        "valid": pki.leaf("far-away.example", days=200, name="sched-valid"),
    }


@pytest.fixture
def mailsrv(tmp_path):
    with SmtpServer(tmp_path / "mail") as srv:
        yield srv


def enable_mail(certmon, srv, emails="ops@example.com"):
    certmon.ok("smtp", "set", "--host", srv.host, "--port", srv.port,
               "--tls", "none", "--from", "certmon@example.org")
    certmon.ok("monitor", "set", "--emails", emails, "--email", "on")


def upload(certmon, unit, pem, env=None):
    return certmon.ok("cert", "upload", "--unit", unit, "--json", pem,
                      env=env).json


def created(certmon):
    """The store's creation = the expiry monitor's first start."""
    svcs = certmon.ok("service", "list", "--json").json["services"]
    [svc] = [s for s in svcs if s["id"] == "expiry-monitor"]
    return ts(svc["started_at"])


def cert_row(certmon, pem_cn, unit="tomcat"):
    rows = [c for c in certmon.certs() if c["subject_cn"] == pem_cn
            and c["unit"] == unit]
    assert len(rows) == 1, rows
    return rows[0]


def run(certmon, t, *extra):
    doc = certmon.ok("monitor", "run", "--at", iso(t), "--json", *extra).json
    assert doc["ran_at"] == iso(t)
    return doc


def status(certmon, t):
    return certmon.ok("monitor", "status", "--json", env=at(t)).json


def next_cycle(start, t, period):
    """The first start + k*period strictly after t."""
    k = (t - start) // period
    assert start + k * period != t, "test picked a time on a cycle point"
    return start + (k + 1) * period


def alarms(certmon, name=None):
    evs = certmon.ok("events", "--kind", "alarm", "--limit", "100000",
                     "--json").json["events"]
    return [e for e in evs if name is None or e["name"] == name]


def check_walk(certmon, srv, fp, walk):
    """Runs every (time, expected state or None) of walk; checks each run."""
    notices = []
    for t, want in walk:
        doc = run(certmon, t)
        got = [(n["fingerprint"], n["state"]) for n in doc["notified"]]
        expect = [(fp, want)] if want else []
        assert got == expect, (iso(t), doc)
        if want:
            assert doc["mail"] == "sent", (iso(t), doc)
            assert doc["message_id"], doc
            notices.append((t, want, doc["message_id"]))
        else:
            assert doc["mail"] == "none", (iso(t), doc)
    msgs = srv.messages()
    assert len(msgs) == len(notices), [m["data"][:300] for m in msgs]
    for m, (t, want, mid) in zip(msgs, notices):
        msg = email.message_from_bytes(m["data"], policy=email.policy.default)
        assert msg["Message-ID"] == mid
        n = {s: int(s == want) for s in ("expiring", "critical", "expired")}
        assert msg["Subject"] == (
            f"[certmon] certificates: {n['expiring']} expiring, "
            f"{n['critical']} critical, {n['expired']} expired"), iso(t)
    return notices


# ------------------------------------------------- notices, day by day

def test_daily_frequency_over_46_days(certmon, pki, certs, mailsrv):
    upload(certmon, "tomcat", certs["main"])
    enable_mail(certmon, mailsrv)
    row = cert_row(certmon, "expiry40.example")
    fp, N = row["fingerprint"], ts(row["not_after"])
    base = N - 40 * DAY          # "day 0" (about when the store was made)

    def day(d, hours=6, minutes=7):
        return base + d * DAY + timedelta(hours=hours, minutes=minutes)

    walk = []
    # days 0..9: more than 30 days left -> valid, nothing
    walk += [(day(d), None) for d in range(0, 10)]
    # day 10: 29 d 18 h left -> expiring, never notified -> notice
    walk += [(day(10), "expiring")]
    # 12 h later: same state, 12 h < 1 d -> quiet
    walk += [(day(10, 18), None)]
    # days 11..20: exactly 24 h after the last notice (>= frequency) -> notice
    walk += [(day(d), "expiring") for d in range(11, 21)]
    # day 21 an hour earlier: 23 h after the last notice -> quiet
    walk += [(day(21, 5), None)]
    # day 22: 48 h after the last notice -> notice; then daily to day 38
    # (day 38 = notAfter - 2 d + 6 h: 1 d 18 h left, still expiring)
    walk += [(day(d), "expiring") for d in range(22, 39)]
    # notAfter - 1 d + 1 h: 23 h left -> critical; only 19 h since the last
    # notice, but the state changed -> notice at once
    walk += [(N - DAY + HOUR + 7 * MIN, "critical")]
    # day 39 (notAfter - 1 d + 6 h): critical, 5 h after that -> quiet
    walk += [(day(39), None)]
    # notAfter + 10 min: expired, state changed 5 h later -> notice
    walk += [(N + 10 * MIN, "expired")]
    # day 40 (notAfter + 6 h): expired, 6 h after -> quiet
    walk += [(day(40), None)]
    # day 41 (30 h after), then every 24 h -> notice
    walk += [(day(d), "expired") for d in range(41, 46)]

    notices = check_walk(certmon, mailsrv, fp, walk)
    assert len(notices) == 1 + 10 + 17 + 1 + 1 + 5

    # the two alarms, once per transition, and only on the transition runs
    [crit] = alarms(certmon, "CertValidLessthanADay")
    [exp] = alarms(certmon, "CertExpired")
    assert (crit["unit"], crit["fingerprint"]) == ("tomcat", fp)
    assert (exp["unit"], exp["fingerprint"]) == ("tomcat", fp)
    assert ts(crit["at"]) == N - DAY + HOUR + 7 * MIN
    assert ts(exp["at"]) == N + 10 * MIN
    assert not alarms(certmon, "CertificateRevoked")


def test_alarm_count_of_each_run(certmon, certs):
    """`alarms` counts what this run raised: each transition once per
    (unit, certificate); e-mail off does not matter."""
    upload(certmon, "tomcat", certs["main"])
    upload(certmon, "CallManager", certs["main"])
    N = ts(cert_row(certmon, "expiry40.example")["not_after"])
    assert run(certmon, N - 5 * DAY)["alarms"] == 0
    doc = run(certmon, N - 20 * HOUR)
    assert sorted(n["unit"] for n in doc["notified"]) == ["CallManager",
                                                          "tomcat"]
    assert doc["alarms"] == 2                    # one per unit
    assert run(certmon, N - 19 * HOUR)["alarms"] == 0
    assert run(certmon, N - 2 * HOUR)["alarms"] == 0
    assert run(certmon, N + 13 * MIN)["alarms"] == 2
    assert run(certmon, N + 2 * DAY)["alarms"] == 0
    assert len(alarms(certmon, "CertValidLessthanADay")) == 2
    assert len(alarms(certmon, "CertExpired")) == 2
    assert {e["unit"] for e in alarms(certmon, "CertExpired")} == {
        "tomcat", "CallManager"}


def test_three_day_frequency(certmon, certs, mailsrv):
    upload(certmon, "tomcat", certs["main"])
    enable_mail(certmon, mailsrv)
    certmon.ok("monitor", "set", "--frequency", "3d")
    row = cert_row(certmon, "expiry40.example")
    fp, N = row["fingerprint"], ts(row["not_after"])
    base = N - 40 * DAY

    # one run a day at 06:07 after day 0; day 10 enters the window, then
    # every third day (10, 13, ..., 37); day 38 is 1 day after 37 -> quiet;
    # day 39 (18 h left) turned critical -> notice; day 40 (notAfter + 6 h)
    # turned expired -> notice although only 1 day passed; then day 43.
    due = {d: "expiring" for d in range(10, 38, 3)}
    due[39] = "critical"
    due[40] = "expired"
    due[43] = "expired"
    walk = [(base + d * DAY + 6 * HOUR + 7 * MIN, due.get(d))
            for d in range(0, 46)]
    notices = check_walk(certmon, mailsrv, fp, walk)
    assert [n[1] for n in notices].count("expiring") == 10


def test_email_off_lists_due_certificates_but_records_nothing(
        certmon, certs, mailsrv):
    upload(certmon, "tomcat", certs["main"])
    row = cert_row(certmon, "expiry40.example")
    fp, N = row["fingerprint"], ts(row["not_after"])
    t = N - 20 * DAY + 3 * HOUR + 7 * MIN
    for k in range(3):               # nothing recorded: due every time
        doc = run(certmon, t + k * HOUR)
        assert [(n["fingerprint"], n["state"], n["unit"])
                for n in doc["notified"]] == [(fp, "expiring", "tomcat")]
        assert doc["mail"] == "disabled"
        assert doc["message_id"] is None
    assert certmon.ok("mail", "queue", "--all", "--json").json[
        "messages"] == []

    # switched on: the next run notifies and records, the one after is quiet
    enable_mail(certmon, mailsrv)
    doc = run(certmon, t + 3 * HOUR)
    assert [n["fingerprint"] for n in doc["notified"]] == [fp]
    assert doc["mail"] == "sent"
    doc = run(certmon, t + 4 * HOUR)
    assert doc["notified"] == [] and doc["mail"] == "none"
    assert len(mailsrv.messages()) == 1


def test_email_on_without_smtp_records_nothing(certmon, certs):
    """No message can be queued without an SMTP server, so no notice is
    recorded and the certificate stays due."""
    upload(certmon, "tomcat", certs["main"])
    certmon.ok("monitor", "set", "--emails", "ops@example.com",
               "--email", "on")
    N = ts(cert_row(certmon, "expiry40.example")["not_after"])
    t = N - 20 * DAY + 7 * MIN
    assert len(run(certmon, t)["notified"]) == 1
    assert len(run(certmon, t + HOUR)["notified"]) == 1
    assert certmon.ok("mail", "queue", "--all", "--json").json[
        "messages"] == []


def test_dry_run_stores_and_sends_nothing(certmon, certs, mailsrv):
    upload(certmon, "tomcat", certs["main"])
    enable_mail(certmon, mailsrv)
    row = cert_row(certmon, "expiry40.example")
    fp, N = row["fingerprint"], ts(row["not_after"])
    before = certmon.snapshot()
    for t, state in ((N - 20 * DAY, "expiring"), (N - 5 * HOUR, "critical"),
                     (N + 5 * HOUR, "expired")):
        doc = run(certmon, t, "--dry-run")
        assert doc["dry_run"] is True
        assert [(n["fingerprint"], n["state"]) for n in doc["notified"]] == [
            (fp, state)]
        # (what "mail" says of a dry run is not specified; that nothing is
        # queued or sent is checked below)
    assert certmon.snapshot() == before          # no alarms, no notices
    assert certmon.ok("mail", "queue", "--all", "--json").json[
        "messages"] == []
    assert mailsrv.messages() == []
    assert certmon.ok("monitor", "status", "--json").json["last_run"] is None
    # the real run at the same time still notifies: nothing was recorded
    doc = run(certmon, N - 20 * DAY)
    assert doc["dry_run"] is False and doc["mail"] == "sent"
    assert len(doc["notified"]) == 1


def test_notice_in_the_future_counts_as_due(certmon, certs, mailsrv):
    upload(certmon, "tomcat", certs["main"])
    enable_mail(certmon, mailsrv)
    N = ts(cert_row(certmon, "expiry40.example")["not_after"])
    later = N - 10 * DAY + 7 * MIN
    assert run(certmon, later)["mail"] == "sent"
    # back to 5 days earlier (clock set back): the last notice is in the
    # future -> due, although "now - last notice" is negative
    earlier = N - 15 * DAY + 7 * MIN
    doc = run(certmon, earlier)
    assert len(doc["notified"]) == 1 and doc["mail"] == "sent"
    # that notice (at `earlier`) is now the last one: an hour later is quiet
    doc = run(certmon, earlier + HOUR)
    assert doc["notified"] == [] and doc["mail"] == "none"


def test_frequency_boundary_is_inclusive(certmon, certs, mailsrv):
    """"last notice at least Notification Frequency ago": exactly 24 h is
    due, one second less is not."""
    upload(certmon, "tomcat", certs["main"])
    enable_mail(certmon, mailsrv)
    N = ts(cert_row(certmon, "expiry40.example")["not_after"])
    t = N - 20 * DAY + 7 * MIN
    assert run(certmon, t)["mail"] == "sent"
    assert run(certmon, t + DAY - timedelta(seconds=1))["notified"] == []
    assert len(run(certmon, t + DAY)["notified"]) == 1
    certmon.ok("monitor", "set", "--frequency", "6h")
    assert run(certmon, t + DAY + 6 * HOUR - timedelta(seconds=1))[
        "notified"] == []
    assert len(run(certmon, t + DAY + 6 * HOUR)["notified"]) == 1


# ------------------------------------------------------- LSC, renewal

def test_lsc_monitoring_on_and_off(certmon, certs, mailsrv):
    upload(certmon, "lsc", certs["lsc"])
    upload(certmon, "lsc", certs["lsc_expired"])
    upload(certmon, "tomcat", certs["valid"])
    enable_mail(certmon, mailsrv)
    C = created(certmon)
    lsc_fp = cert_row(certmon, "phone-lsc.example", "lsc")["fingerprint"]
    old_fp = cert_row(certmon, "phone-old-lsc.example", "lsc")["fingerprint"]

    # LSC monitoring off (default): LSCs are left out of every check, even
    # the expired one: nothing due, no alarm, and the cadence stays 24 h
    t1 = C + DAY + 3 * HOUR + 7 * MIN
    doc = run(certmon, t1)
    assert doc["notified"] == [] and doc["mail"] == "none"
    assert doc["counts"] == {"expiring": 0, "critical": 0, "expired": 0}
    assert doc["alarms"] == 0
    assert doc["cadence"] == "24h"
    assert ts(doc["next_run"]) == next_cycle(C, t1, DAY)
    assert alarms(certmon) == []

    certmon.ok("monitor", "set", "--lsc", "on")
    t2 = t1 + HOUR
    doc = run(certmon, t2)
    got = sorted((n["fingerprint"], n["unit"], n["state"])
                 for n in doc["notified"])
    assert got == sorted([(lsc_fp, "lsc", "expiring"),
                          (old_fp, "lsc", "expired")])
    assert doc["mail"] == "sent"
    assert doc["alarms"] == 1                   # CertExpired of the old LSC
    assert [(e["name"], e["fingerprint"]) for e in alarms(certmon)] == [
        ("CertExpired", old_fp)]
    assert doc["cadence"] == "1h"
    assert ts(doc["next_run"]) == next_cycle(C, t2, HOUR)

    certmon.ok("monitor", "set", "--lsc", "off")
    t3 = t2 + 2 * DAY
    doc = run(certmon, t3)
    assert doc["notified"] == [] and doc["mail"] == "none"
    assert doc["cadence"] == "24h"
    assert len(mailsrv.messages()) == 1


def test_renewed_certificate_stops_the_notices(certmon, certs, mailsrv):
    upload(certmon, "tomcat", certs["main"])
    enable_mail(certmon, mailsrv)
    old = cert_row(certmon, "expiry40.example")
    N = ts(old["not_after"])
    t = N - 25 * DAY + 4 * HOUR + 7 * MIN
    assert run(certmon, t)["mail"] == "sent"
    assert run(certmon, t + DAY)["mail"] == "sent"

    # the renewal (same CN and issuer, newer notBefore) is uploaded into
    # the identity unit: it replaces the old certificate
    doc = upload(certmon, "tomcat", certs["renewal"], env=at(t + DAY + HOUR))
    assert doc["replaced"] == 1, doc
    [cur] = [c for c in certmon.certs() if c["unit"] == "tomcat"]
    assert cur["fingerprint"] != old["fingerprint"]
    assert cur["state"] == "valid"

    # from now on: the old one is history, the new one is valid -> quiet,
    # also when the old one would have turned critical and expired
    for when in (t + 2 * DAY, N - 20 * HOUR, N + 13 * MIN, N + 3 * DAY):
        doc = run(certmon, when)
        assert doc["notified"] == [], (iso(when), doc)
        assert doc["mail"] == "none"
        assert doc["alarms"] == 0
        assert doc["counts"] == {"expiring": 0, "critical": 0, "expired": 0}
        assert doc["cadence"] == "24h"
    assert alarms(certmon) == []
    assert len(mailsrv.messages()) == 2


# -------------------------------------------------- next run, cadence

def test_next_run_and_cadence(certmon, certs):
    upload(certmon, "tomcat", certs["main"])
    C = created(certmon)
    N = ts(cert_row(certmon, "expiry40.example")["not_after"])

    # a new store has never run: due at once
    st = status(certmon, C + 10 * MIN)
    assert st["state"] == "Running"
    assert st["last_run"] is None and st["due_now"] is True

    # valid certificate: the 24 h cycle counted from the creation
    t = C + 5 * DAY + 3 * HOUR + 17 * MIN
    doc = run(certmon, t)
    assert doc["cadence"] == "24h"
    assert ts(doc["next_run"]) == C + 6 * DAY
    st = status(certmon, t + HOUR)
    assert ts(st["started_at"]) == C
    assert ts(st["last_run"]) == t
    assert ts(st["next_run"]) == C + 6 * DAY
    assert st["cadence"] == "24h" and st["due_now"] is False
    assert status(certmon, C + 6 * DAY - MIN)["due_now"] is False
    assert status(certmon, C + 6 * DAY + MIN)["due_now"] is True

    # expiring (within 30 days) does not change the period
    t = N - 10 * DAY + 2 * HOUR + 13 * MIN
    doc = run(certmon, t)
    assert doc["cadence"] == "24h"
    assert ts(doc["next_run"]) == next_cycle(C, t, DAY)

    # critical: hourly, still counted from the start
    t = N - DAY + 2 * HOUR + 13 * MIN
    doc = run(certmon, t)
    assert doc["cadence"] == "1h"
    nxt = next_cycle(C, t, HOUR)
    assert ts(doc["next_run"]) == nxt
    st = status(certmon, t + 10 * MIN)
    assert st["cadence"] == "1h" and ts(st["next_run"]) == nxt
    assert st["due_now"] is False
    assert status(certmon, nxt + MIN)["due_now"] is True

    # expired: hourly for as long as it is monitored
    for t in (N + 3 * HOUR + 7 * MIN, N + 10 * DAY + 5 * HOUR + 29 * MIN):
        doc = run(certmon, t)
        assert doc["cadence"] == "1h"
        assert ts(doc["next_run"]) == next_cycle(C, t, HOUR)

    # the expired certificate deleted: back to the daily cycle
    fp = cert_row(certmon, "expiry40.example")["fingerprint"]
    certmon.ok("cert", "delete", fp[:16], "--unit", "tomcat")
    t = N + 11 * DAY + 7 * MIN
    doc = run(certmon, t)
    assert doc["cadence"] == "24h"
    assert ts(doc["next_run"]) == next_cycle(C, t, DAY)


def test_restart_resets_the_cycle(certmon, certs):
    upload(certmon, "tomcat", certs["valid"])
    C = created(certmon)

    last = C + 2 * DAY + 5 * HOUR + 13 * MIN
    assert ts(run(certmon, last)["next_run"]) == C + 3 * DAY

    # restart 4 h after the last run: the next run is restart + 24 h
    R = C + 2 * DAY + 9 * HOUR + 11 * MIN
    certmon.ok("service", "restart", "expiry-monitor", env=at(R))
    svcs = {s["id"]: s for s in certmon.ok(
        "service", "list", "--json", env=at(R + MIN)).json["services"]}
    assert ts(svcs["expiry-monitor"]["started_at"]) == R
    assert svcs["expiry-monitor"]["state"] == "Running"
    assert ts(svcs["revocation-check"]["started_at"]) == C   # untouched
    st = status(certmon, R + HOUR)
    assert ts(st["started_at"]) == R
    assert ts(st["next_run"]) == R + DAY
    assert st["due_now"] is False
    t = R + 3 * HOUR
    assert ts(run(certmon, t)["next_run"]) == R + DAY
    assert status(certmon, R + DAY - MIN)["due_now"] is False
    assert status(certmon, R + DAY + MIN)["due_now"] is True
    assert ts(run(certmon, R + DAY + 2 * HOUR)["next_run"]) == R + 2 * DAY

    # restart (by its display name) 30 h after the last run: due at once
    last = R + DAY + 2 * HOUR
    R2 = last + 30 * HOUR
    certmon.ok("service", "restart", "Certificate Expiry Monitor", env=at(R2))
    st = status(certmon, R2)
    assert ts(st["started_at"]) == R2
    assert st["due_now"] is True
    assert ts(st["next_run"]) <= R2
    t = R2 + 10 * MIN
    assert ts(run(certmon, t)["next_run"]) == R2 + DAY

    # stop / start: Stopped, then a new cycle from the start
    certmon.ok("service", "stop", "expiry-monitor", env=at(R2 + HOUR))
    assert status(certmon, R2 + 2 * HOUR)["state"] == "Stopped"
    svcs = {s["id"]: s for s in certmon.ok(
        "service", "list", "--json").json["services"]}
    assert svcs["expiry-monitor"]["state"] == "Stopped"
    S = R2 + 5 * HOUR
    certmon.ok("service", "start", "expiry-monitor", env=at(S))
    st = status(certmon, S + MIN)
    assert st["state"] == "Running"
    assert ts(st["started_at"]) == S
    assert ts(st["next_run"]) == S + DAY
    assert st["due_now"] is False
