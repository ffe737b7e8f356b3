"""Certificate Expiry Monitor settings: `certmon monitor show|set`.

DESIGN.md, "Certificate Expiry Monitor (service)": Notification Start Time
1-365 days (default 30), Notification Frequency N hours or days, 1 hour -
30 days (default 1 day), Enable E-mail notification (off), Enable LSC
Monitoring (off), E-mail IDs (ASCII RFC 5321 mailboxes separated by `;`, no
spaces, commas, CR or LF inside an address). An invalid value changes
nothing and gets one line on stderr "certmon: settings not changed: ...".
"""
import json

import pytest

from conftest import one_line_error

DEFAULTS = {
    "start_days": 30,
    "frequency": "1d",
    "email": False,
    "lsc": False,
    "emails": "",
    "retry_cap": "1h",
    "give_up_after": "7d",
}


def show(certmon):
    doc = certmon.ok("monitor", "show", "--json").json
    return doc["monitor"]


def test_defaults_of_a_new_store(certmon):
    assert show(certmon) == DEFAULTS


# each of these must be refused, whatever the rest of the command says
INVALID = [
    ["--start-days", "0"],
    ["--start-days", "366"],
    ["--start-days", "400"],
    ["--start-days", "-5"],
    ["--start-days", "ten"],
    ["--start-days", "10d"],
    ["--start-days", ""],
    ["--frequency", "5x"],
    ["--frequency", "0h"],
    ["--frequency", "0d"],
    ["--frequency", "31d"],          # above 30 days
    ["--frequency", "721h"],         # 30 days and one hour
    ["--frequency", "d"],
    ["--frequency", "-1d"],
    ["--frequency", ""],
    ["--email", "maybe"],
    ["--email", "on"],               # no E-mail IDs configured
    ["--lsc", "yes"],
    ["--emails", "not-an-address"],
    ["--emails", "ops@example.com;not-an-address"],
    ["--emails", "ops@example.com;pki team@example.com"],
    ["--emails", "ops@example.com,pki@example.com"],
    ["--emails", "ops@example.com\r\nBcc: evil@example.org"],
    ["--emails", "ops@example.com\nevil@example.org"],
    ["--emails", "ops@exa\rmple.com"],
    ["--emails", "<ops@example.com>\r\nRCPT TO:<evil@example.org>"],
    ["--emails", "z\u00f6e@example.com"],      # not ASCII
    ["--emails", "@example.com"],
    ["--emails", "ops@"],
    ["--retry-cap", "5x"],
    ["--retry-cap", "0h"],
    ["--give-up-after", "0d"],
    ["--give-up-after", "forever"],
    # a valid change next to an invalid one: nothing at all is changed
    ["--start-days", "10", "--frequency", "5x"],
    ["--lsc", "on", "--emails", "ops@example.com;bad address"],
    ["--emails", "ops@example.com", "--email", "on", "--start-days", "0"],
]


@pytest.mark.parametrize("args", INVALID, ids=lambda a: " ".join(map(repr, a)))
def test_invalid_value_is_refused_and_changes_nothing(certmon, args):
    before_settings = show(certmon)
    before = certmon.snapshot()
    r = certmon("monitor", "set", *args)
    assert r.rc == 1, r
    line = one_line_error(r)
    assert line.startswith("certmon: settings not changed: "), r
    # the message never echoes a raw control character to the terminal
    assert "\r" not in r.err
    assert show(certmon) == before_settings
    assert certmon.snapshot() == before

    # --json: exactly one JSON document on stdout, also on failure
    r = certmon("monitor", "set", *args, "--json")
    assert r.rc == 1, r
    doc = json.loads(r.out)
    assert doc["status"] != "ok"
    assert doc.get("error")
    assert show(certmon) == before_settings
    assert certmon.snapshot() == before


def test_email_ids_cannot_be_emptied_while_email_is_on(certmon):
    certmon.ok("monitor", "set", "--emails", "ops@example.com",
               "--email", "on")
    before = certmon.snapshot()
    r = certmon("monitor", "set", "--emails", "")
    assert r.rc == 1, r
    assert one_line_error(r).startswith("certmon: settings not changed: ")
    s = show(certmon)
    assert s["email"] is True and s["emails"] == "ops@example.com"
    assert certmon.snapshot() == before


def test_valid_changes_persist(certmon):
    certmon.ok("monitor", "set", "--start-days", "45", "--frequency", "12h",
               "--lsc", "on", "--emails", "ops@example.com;pki@example.net",
               "--email", "on", "--retry-cap", "2h", "--give-up-after", "3d")
    expected = {
        "start_days": 45,
        "frequency": "12h",
        "email": True,
        "lsc": True,
        "emails": "ops@example.com;pki@example.net",
        "retry_cap": "2h",
        "give_up_after": "3d",
    }
    assert show(certmon) == expected           # a new process reads it back

    # one field at a time leaves the others alone
    certmon.ok("monitor", "set", "--frequency", "3d")
    expected["frequency"] = "3d"
    assert show(certmon) == expected
    certmon.ok("monitor", "set", "--email", "off")
    expected["email"] = False
    assert show(certmon) == expected

    # the limits themselves are valid
    certmon.ok("monitor", "set", "--start-days", "1", "--frequency", "1h")
    s = show(certmon)
    assert (s["start_days"], s["frequency"]) == (1, "1h")
    certmon.ok("monitor", "set", "--start-days", "365", "--frequency", "30d")
    s = show(certmon)
    assert (s["start_days"], s["frequency"]) == (365, "30d")

    # --json of a successful set prints the new settings
    doc = certmon.ok("monitor", "set", "--lsc", "off", "--json").json
    assert doc["monitor"]["lsc"] is False
    assert doc["monitor"] == show(certmon)


def test_whitespace_around_separators_is_trimmed(certmon):
    certmon.ok("monitor", "set", "--emails",
               "  ops@example.com ;pki@example.net ;  third@example.org ")
    emails = show(certmon)["emails"]
    assert [a.strip() for a in emails.split(";")] == [
        "ops@example.com", "pki@example.net", "third@example.org"]
