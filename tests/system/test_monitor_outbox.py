"""The outbox of the Certificate Expiry Monitor against a real SMTP server
that is down, refuses, or dies under us.

DESIGN.md: mail is queued in the store in the same transaction that
records the notices, and retried with backoff (60 s doubling, capped at
retry_cap, default 1 h; given up only after give_up_after, default 7 d): a
down mail server delays mail, never loses it. Delivery is at-least-once: a
message is marked sent right after the server's 250 and keeps one stable
Message-ID across retries, so the only possible duplicate carries the same
Message-ID. MailDeliveryFailed is raised on a message's first failed
delivery.
"""
import email
import email.policy
import importlib.util
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import BIN

_spec = importlib.util.spec_from_file_location(
    "certmon_test_smtpd_outbox", Path(__file__).resolve().parent / "smtpd.py")
_smtpd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_smtpd)
SmtpServer = _smtpd.SmtpServer

SEC = timedelta(seconds=1)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
FROM = "certmon@example.org"
RCPTS = ["ops@example.com", "pki@example.net"]


def ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc)


def iso(d):
    return d.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def start_on(srv, port):
    """srv, to be started (by `with`) on a given port: the server came
    back at its address."""
    srv.fixed_port = port
    return srv


def free_port():
    return _smtpd._free_port("127.0.0.1")


def message_ids(srv):
    return [email.message_from_bytes(m["data"], policy=email.policy.default)
            ["Message-ID"] for m in srv.messages()]


@pytest.fixture(scope="module")
def leaf(pki):
    return pki.leaf("outbox.example", days=20, name="outbox-leaf")


@pytest.fixture
def setup(certmon, leaf):
    """An expiring certificate, e-mail on; returns the store's creation."""
    certmon.ok("cert", "upload", "--unit", "tomcat", leaf)
    certmon.ok("monitor", "set", "--emails", ";".join(RCPTS), "--email", "on")
    svcs = certmon.ok("service", "list", "--json").json["services"]
    [svc] = [s for s in svcs if s["id"] == "expiry-monitor"]
    return ts(svc["started_at"])


def smtp_to(certmon, port):
    certmon.ok("smtp", "set", "--host", "127.0.0.1", "--port", port,
               "--tls", "none", "--from", FROM)


def run(certmon, t):
    doc = certmon.ok("monitor", "run", "--at", iso(t), "--json").json
    assert doc["ran_at"] == iso(t)
    return doc


def deliver(certmon, t):
    return certmon.ok("mail", "deliver", "--at", iso(t), "--json").json


def queue(certmon, *extra):
    return certmon.ok("mail", "queue", "--json", *extra).json["messages"]


def by_mid(msgs):
    return {m["message_id"]: m for m in msgs}


def failed_alarms(certmon):
    evs = certmon.ok("events", "--kind", "alarm", "--limit", "100000",
                     "--json").json["events"]
    return [e for e in evs if e["name"] == "MailDeliveryFailed"]


# ---------------------------------------------------------- server down

def test_server_down_delays_mail_never_loses_it(certmon, setup, tmp_path):
    C = setup
    port = free_port()                       # nothing listens there (yet)
    smtp_to(certmon, port)

    t1 = C + 12 * DAY + 7 * MIN
    d1 = run(certmon, t1)
    assert d1["mail"] == "failed", d1
    assert d1["mail_error"] and d1["message_id"]
    assert len(d1["notified"]) == 1
    [q] = queue(certmon)
    assert q["state"] == "pending"
    assert q["message_id"] == d1["message_id"]
    assert q["attempts"] == 1
    assert q["last_error"]
    assert ts(q["next_attempt_at"]) == t1 + 60 * SEC     # first backoff
    assert sorted(a.strip() for a in q["recipients"].split(";")) == \
        sorted(RCPTS)
    assert len(failed_alarms(certmon)) == 1
    st = certmon.ok("monitor", "status", "--json",
                    env={"CERTMON_NOW": iso(t1 + MIN)}).json
    assert st["outbox_pending"] == 1 and st["outbox_failed"] == 0

    # the notice was recorded with the queued message: an hour later quiet
    d = run(certmon, t1 + HOUR)
    assert d["notified"] == [] and d["mail"] == "none"

    # a day later: due again, a second message queued, also failing
    t2 = t1 + DAY
    d2 = run(certmon, t2)
    assert d2["mail"] == "failed" and d2["message_id"] != d1["message_id"]
    pend = by_mid(queue(certmon))
    assert set(pend) == {d1["message_id"], d2["message_id"]}
    assert all(m["state"] == "pending" for m in pend.values())
    # MailDeliveryFailed once per message, not once per attempt
    assert len(failed_alarms(certmon)) == 2
    deliver(certmon, t2 + 10 * MIN)
    deliver(certmon, t2 + 30 * MIN)
    assert len(failed_alarms(certmon)) == 2

    # the server comes back
    with start_on(SmtpServer(tmp_path / "mail"), port) as srv:
        # not due yet: every message is inside its backoff
        nxt = min(ts(m["next_attempt_at"]) for m in queue(certmon))
        assert nxt > t2 + 30 * MIN
        r = deliver(certmon, nxt - SEC)
        assert r["attempted"] == 0 and r["sent"] == 0
        assert srv.messages() == []

        t3 = t2 + 2 * DAY
        r = deliver(certmon, t3)
        assert (r["attempted"], r["sent"], r["failed"]) == (2, 2, 0), r
        assert Counter(message_ids(srv)) == Counter(
            {d1["message_id"]: 1, d2["message_id"]: 1})
        for m in srv.messages():
            assert sorted(m["rcpt_tos"]) == sorted(RCPTS)
        # a second deliver has nothing left to send
        r = deliver(certmon, t3 + HOUR)
        assert (r["attempted"], r["sent"]) == (0, 0), r
        assert len(srv.messages()) == 2

    assert queue(certmon) == []
    done = by_mid(queue(certmon, "--all"))
    for mid in (d1["message_id"], d2["message_id"]):
        assert done[mid]["state"] == "sent"
        assert ts(done[mid]["sent_at"]) == t3
        assert done[mid]["last_reply"].startswith("250")
    st = certmon.ok("monitor", "status", "--json",
                    env={"CERTMON_NOW": iso(t3 + HOUR)}).json
    assert st["outbox_pending"] == 0 and st["outbox_failed"] == 0


def test_backoff_doubles_up_to_the_cap_and_gives_up_late(certmon, setup,
                                                         tmp_path):
    C = setup
    port = free_port()
    smtp_to(certmon, port)
    certmon.ok("monitor", "set", "--retry-cap", "1h")   # the default
    t = C + 12 * DAY + 7 * MIN
    d = run(certmon, t)
    assert d["mail"] == "failed"
    # deliver exactly when due each time: 60 s, then doubling to the 1 h cap
    delays = []
    prev = t
    for _ in range(9):
        [q] = queue(certmon)
        assert q["state"] == "pending"
        nxt = ts(q["next_attempt_at"])
        delays.append(int((nxt - prev).total_seconds()))
        r = deliver(certmon, nxt)
        assert (r["attempted"], r["sent"]) == (1, 0), r
        prev = nxt
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert len(failed_alarms(certmon)) == 1
    [q] = queue(certmon)
    assert q["attempts"] == 10

    # still pending just before give_up_after (7 d) ...
    r = deliver(certmon, t + 7 * DAY - HOUR)
    assert r["attempted"] == 1
    [q] = queue(certmon)
    assert q["state"] == "pending"
    # ... and given up ("failed") after a failed attempt past 7 d
    deliver(certmon, t + 7 * DAY + MIN)
    [q] = queue(certmon, "--all")
    assert q["state"] == "failed" and q["last_error"]
    st = certmon.ok("monitor", "status", "--json",
                    env={"CERTMON_NOW": iso(t + 7 * DAY + HOUR)}).json
    assert st["outbox_failed"] == 1 and st["outbox_pending"] == 0
    # (MailDeliveryFailed: the first failure, and giving up per
    # docs/MONITOR.md)
    n_alarms = len(failed_alarms(certmon))
    assert n_alarms in (1, 2)
    # given up = no more retries ("stop retrying after", settings.h): a
    # later deliver does not try it again, raises no further alarm ...
    r = deliver(certmon, t + 8 * DAY)
    assert r["attempted"] == 0, r
    assert len(failed_alarms(certmon)) == n_alarms
    # ... and it is not sent behind the admin's back when the server is
    # back, but kept for inspection (not lost)
    with start_on(SmtpServer(tmp_path / "mail"), port) as srv:
        r = deliver(certmon, t + 9 * DAY)
        assert r["sent"] == 0, r
        d2 = run(certmon, t + 9 * DAY + HOUR)    # a run delivers too
        assert srv.messages() == [] or message_ids(srv) == [d2["message_id"]]
    q = by_mid(queue(certmon, "--all"))[d["message_id"]]
    assert q["state"] == "failed"


def test_given_up_message_is_not_retried_nor_alarmed_again(certmon, setup):
    """After give_up_after a message is "failed": MailDeliveryFailed was
    raised on its first failure (and, per docs/MONITOR.md, on giving up);
    it must not be retried, so no further alarm follows, however often the
    outbox is worked through."""
    C = setup
    smtp_to(certmon, free_port())
    certmon.ok("monitor", "set", "--give-up-after", "1h")
    t = C + 12 * DAY + 7 * MIN
    run(certmon, t)
    assert len(failed_alarms(certmon)) == 1
    deliver(certmon, t + 2 * HOUR)                  # past 1 h: given up
    [q] = queue(certmon, "--all")
    assert q["state"] == "failed"
    given_up = len(failed_alarms(certmon))
    assert given_up in (1, 2)
    for k in range(3, 8):
        deliver(certmon, t + k * HOUR)
    run(certmon, t + 8 * HOUR)
    assert len(failed_alarms(certmon)) == given_up
    [q] = queue(certmon, "--all")
    assert q["state"] == "failed"


def test_retry_cap_setting_caps_the_backoff(certmon, setup):
    C = setup
    smtp_to(certmon, free_port())
    certmon.ok("monitor", "set", "--retry-cap", "5h", "--give-up-after", "2d")
    t = C + 12 * DAY + 7 * MIN
    run(certmon, t)
    prev, delays = t, []
    for _ in range(11):
        [q] = queue(certmon)
        nxt = ts(q["next_attempt_at"])
        delays.append(int((nxt - prev).total_seconds()))
        deliver(certmon, nxt)
        prev = nxt
    assert delays == [60 * 2 ** k for k in range(9)] + [5 * 3600, 5 * 3600]
    # give_up_after 2 d: given up after the first failure past 2 d
    deliver(certmon, t + 2 * DAY + MIN)
    [q] = queue(certmon, "--all")
    assert q["state"] == "failed"


@pytest.mark.parametrize("code,at", [(451, "rcpt"), (451, "data"),
                                     (550, "rcpt"), (554, "data")])
def test_refusing_server_then_fixed(certmon, setup, tmp_path, code, at):
    """A 4xx is retried; a 5xx too ("still retried, not lost") until
    give_up_after. Once the server accepts, the message goes out once."""
    C = setup
    bad = SmtpServer(tmp_path / "bad", reply_code=code, reply_at=at)
    bad.start()
    port = bad.port
    try:
        smtp_to(certmon, port)
        t = C + 12 * DAY + 7 * MIN
        d = run(certmon, t)
        assert d["mail"] == "failed", d
        assert str(code) in d["mail_error"], d
        [q] = queue(certmon)
        assert q["state"] == "pending" and q["attempts"] == 1
        assert str(code) in (q["last_error"] or "") + (q["last_reply"] or "")
        assert len(failed_alarms(certmon)) == 1
        # still refused an hour later: still pending, no second alarm
        r = deliver(certmon, t + HOUR)
        assert (r["attempted"], r["sent"], r["failed"]) == (1, 0, 1), r
        [q] = queue(certmon)
        assert q["state"] == "pending" and q["attempts"] == 2
        assert len(failed_alarms(certmon)) == 1
        assert bad.messages() == []
    finally:
        bad.stop()
    with start_on(SmtpServer(tmp_path / "good"), port) as good:
        r = deliver(certmon, t + 3 * HOUR)
        assert (r["attempted"], r["sent"]) == (1, 1), r
        assert message_ids(good) == [d["message_id"]]
        assert sorted(good.messages()[0]["rcpt_tos"]) == sorted(RCPTS)
        r = deliver(certmon, t + 4 * HOUR)
        assert r["attempted"] == 0
        assert len(good.messages()) == 1
    [q] = queue(certmon, "--all")
    assert q["state"] == "sent" and q["message_id"] == d["message_id"]


# --------------------------------------------------------- kill -9

def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def established(port):
    out = subprocess.run(["ss", "-tnH", "state", "established",
                          f"dport = :{port}"], capture_output=True,
                         text=True).stdout
    return bool(out.strip())


def test_kill_9_during_delivery(certmon, setup, tmp_path):
    C = setup
    slow = SmtpServer(tmp_path / "slow", delay=3.0)
    slow.start()
    try:
        port = slow.port
        smtp_to(certmon, port)
        t = C + 12 * DAY + 7 * MIN
        env = dict(os.environ)
        env.pop("CERTMON_NOW", None)
        proc = subprocess.Popen([BIN, "--db", str(certmon.db), "monitor",
                                 "run", "--at", iso(t), "--json"], env=env,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            wait_for(lambda: established(port), 10, "the SMTP connection")
            time.sleep(1.0)      # the message is sent, the server waits 3 s
            assert proc.poll() is None, proc.communicate()
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == -signal.SIGKILL
        # let the slow server finish with that session (it may or may not
        # store the message of a peer that is gone), then take it down
        time.sleep(2.5)
        first = slow.messages()
    finally:
        slow.stop()
    assert len(first) <= 1

    # the message was committed to the outbox before the delivery began
    [q] = queue(certmon, "--all")
    assert q["state"] == "pending", q
    mid = q["message_id"]
    assert mid

    with start_on(SmtpServer(tmp_path / "fast"), port) as fast:
        r = deliver(certmon, t + HOUR)
        assert r["sent"] == 1, r
        r = deliver(certmon, t + 2 * HOUR)
        assert r["attempted"] == 0
        again = fast.messages()
    copies = [email.message_from_bytes(m["data"],
                                       policy=email.policy.default)
              for m in first + again]
    assert 1 <= len(copies) <= 2                # at most one repeat
    assert {c["Message-ID"] for c in copies} == {mid}
    assert len({c["Date"] for c in copies}) == 1
    [q] = queue(certmon, "--all")
    assert q["state"] == "sent" and q["message_id"] == mid
    # the notice was recorded with the queued message: no new one an hour on
    d = run(certmon, t + HOUR)
    assert d["notified"] == [] and d["mail"] == "none"

    db = sqlite3.connect(str(certmon.db))
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()
