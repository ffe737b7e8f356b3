"""The REST API of certmond (/api/v1), through real HTTPS requests.

Every endpoint: what it answers, and what it does with bad input - a
failed call answers {"status":"error","error":...} with 400 (bad input),
401 (no or wrong token), 404 (no such thing), 405 (wrong method), 409
(conflict, refused by a rule) or 413 (too large), and changes nothing
(checked with the CLI's snapshot of the store: certificates with history,
units, events, settings)."""
import hashlib
import json
import ssl
from pathlib import Path

import pytest

from daemon import Certmond, multipart, wait_for

MiB = 1024 * 1024


@pytest.fixture
def daemon(tmp_path):
    # the store is tmp_path/store.db: the `certmon` fixture opens the same
    with Certmond(tmp_path) as d:
        yield d


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One daemon for the tests of refused requests (each checks that
    nothing changed, so they cannot disturb each other)."""
    with Certmond(tmp_path_factory.mktemp("shared")) as d:
        yield d


@pytest.fixture(scope="module")
def certs(pki):
    return {
        "a": pki.leaf("api-a.example", days=200, name="api-a"),
        "b": pki.leaf("api-b.example", days=20, name="api-b"),
        "renewal_old": pki.leaf("api-renew.example", days=100,
                                name="api-renew-old", faketime="-2d"),
        "renewal_new": pki.leaf("api-renew.example", days=100,
                                name="api-renew-new"),
        "expired": pki.leaf("api-expired.example", days=10,
                            name="api-expired", faketime="-30d"),
    }


def pem(path):
    return Path(path).read_bytes()


def fp_of(path):
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(
        Path(path).read_text())).hexdigest()


def upload(d, unit, path, expect=201, **kw):
    return d.api("POST", f"/certs?unit={unit}", body=pem(path),
                 content_type="application/x-pem-file", expect=expect, **kw)


def error(r, status):
    """Asserts a JSON error answer with status; returns its message."""
    assert r.status == status, r
    assert r.headers["Content-Type"].startswith("application/json"), r
    doc = r.json
    assert doc["status"] == "error", doc
    assert isinstance(doc["error"], str) and doc["error"], doc
    assert "\n" not in doc["error"]
    return doc["error"]


# ------------------------------------------------------------ authentication

ENDPOINTS = [
    ("GET", "/api/v1/certs"),
    ("POST", "/api/v1/certs?unit=tomcat"),
    ("GET", "/api/v1/certs/00"),
    ("DELETE", "/api/v1/certs/00?unit=tomcat"),
    ("GET", "/api/v1/units"),
    ("POST", "/api/v1/units"),
    ("DELETE", "/api/v1/units/tomcat?force=1"),
    ("GET", "/api/v1/settings/monitor"),
    ("PUT", "/api/v1/settings/monitor"),
    ("GET", "/api/v1/settings/smtp"),
    ("PUT", "/api/v1/settings/smtp"),
    ("GET", "/api/v1/services"),
    ("GET", "/api/v1/services/expiry-monitor"),
    ("POST", "/api/v1/services/expiry-monitor/stop"),
    ("POST", "/api/v1/services/expiry-monitor/restart"),
    ("POST", "/api/v1/services/expiry-monitor/run"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/mail/queue"),
    ("GET", "/api/v1/no-such-thing"),
]


def body_for(method):
    return b'{"name":"x","start_days":5}' if method in ("POST", "PUT") \
        else None


def test_every_endpoint_needs_a_token(shared):
    before = shared.snapshot()
    for method, path in ENDPOINTS:
        r = shared.request(method, path, body=body_for(method), auth=False,
                           content_type="application/json")
        msg = error(r, 401)
        assert "Location" not in r.headers, (method, path, r)
        assert "token" in msg.lower() or "auth" in msg.lower(), msg
    assert shared.snapshot() == before
    svc = shared.service()
    assert svc["state"] == "Running"


@pytest.mark.parametrize("authz", [
    "Bearer cmt_thisIsNotAToken",
    "Bearer ",
    "Bearer",
    "Basic dXNlcjpwYXNz",
    "cmt_nobearer",
    "Bearer " + "A" * 400,
])
def test_wrong_tokens_get_401(shared, authz):
    for method, path in (("GET", "/api/v1/units"),
                         ("POST", "/api/v1/services/expiry-monitor/stop")):
        r = shared.request(method, path, auth=False,
                           headers={"Authorization": authz})
        error(r, 401)
        assert "Location" not in r.headers
    assert shared.service()["state"] == "Running"


def test_token_prefix_or_hash_is_not_the_token(shared):
    tok = shared.token
    for wrong in (tok[:-1], tok + "x", tok.upper(),
                  hashlib.sha256(tok.encode()).hexdigest()):
        error(shared.request("GET", "/api/v1/units", token=wrong), 401)
    assert shared.request("GET", "/api/v1/units").status == 200


def test_401_names_the_scheme(shared):
    """RFC 9110 15.5.2: a 401 response MUST send WWW-Authenticate."""
    r = shared.request("GET", "/api/v1/certs", auth=False)
    assert r.status == 401
    assert r.headers.get("WWW-Authenticate", "").lower().startswith(
        "bearer"), r


def test_a_removed_token_stops_working(daemon):
    other = daemon.make_token("second")
    assert daemon.request("GET", "/api/v1/units", token=other).status == 200
    daemon.cli_ok("token", "remove", "second")
    error(daemon.request("GET", "/api/v1/units", token=other), 401)
    assert daemon.request("GET", "/api/v1/units").status == 200


def test_scheme_name_is_case_insensitive(shared):
    r = shared.request("GET", "/api/v1/units", auth=False,
                       headers={"Authorization": f"bearer {shared.token}"})
    assert r.status == 200, r


def test_healthz_needs_no_token(shared):
    r = shared.request("GET", "/healthz", auth=False)
    assert r.status == 200 and r.json == {"status": "ok"}
    # a token does not hurt either
    assert shared.request("GET", "/healthz").status == 200


def test_unknown_paths_are_404(shared):
    # (paths outside /api belong to the web admin)
    for path in ("/api/v1/nope", "/api/v1/", "/api/v2/certs",
                 "/api/v1/certs/00/extra", "/api/v1/settings/nope",
                 "/api/v1/mail/nope"):
        error(shared.request("GET", path), 404)


# ------------------------------------------------------------------- certs

def test_upload_pem_der_and_multipart(daemon, certs, pki, certmon):
    doc = upload(daemon, "CallManager", certs["a"])
    assert doc["status"] == "ok" and doc["unit"] == "CallManager"
    assert (doc["added"], doc["replaced"], doc["unchanged"]) == (1, 0, 0)
    [c] = doc["certs"]
    assert c == {"fingerprint": fp_of(certs["a"]),
                 "subject_cn": "api-a.example", "action": "added",
                 "replaced": None, "expired": False}

    # the same again: unchanged
    doc = upload(daemon, "CallManager", certs["a"])
    assert (doc["added"], doc["unchanged"]) == (0, 1)
    assert doc["certs"][0]["action"] == "unchanged"

    # DER
    der = pki.der(certs["b"], name="api-b.der").read_bytes()
    doc = daemon.api("POST", "/certs?unit=CallManager", body=der,
                     content_type="application/pkix-cert", expect=201)
    assert doc["added"] == 1
    assert doc["certs"][0]["fingerprint"] == fp_of(certs["b"])

    # multipart/form-data, as a browser form sends it
    ctype, body = multipart({"unit": "tomcat-trust"},
                            {"file": ("a.pem", pem(certs["a"]))})
    doc = daemon.api("POST", "/certs", body=body, content_type=ctype,
                     expect=201)
    assert doc["unit"] == "tomcat-trust" and doc["added"] == 1

    rows = daemon.get("/certs?unit=CallManager")["certs"]
    assert sorted(r["subject_cn"] for r in rows) == ["api-a.example",
                                                     "api-b.example"]
    # the audit trail names the token
    evs = daemon.get(f"/events?fingerprint={fp_of(certs['a'])}")["events"]
    assert evs and all(e["actor"] == "token:tests" for e in evs), evs
    # the CLI sees the same
    assert len(certmon.certs("--unit", "CallManager")) == 2


def test_upload_pkcs12_with_password(daemon, certs, pki):
    p12 = pki.p12(certs["a"], "api-a.p12", "s3cret pass")
    ctype, body = multipart({"unit": "CallManager", "password": "s3cret pass"},
                            {"file": ("a.p12", p12.read_bytes())})
    doc = daemon.api("POST", "/certs", body=body, content_type=ctype,
                     expect=201)
    assert doc["added"] == 1
    assert doc["certs"][0]["fingerprint"] == fp_of(certs["a"])
    # the password in the query string works as well
    doc = daemon.api("POST", "/certs?unit=ipsec&password=s3cret%20pass",
                     body=p12.read_bytes(),
                     content_type="application/x-pkcs12", expect=201)
    assert doc["added"] == 1


def test_upload_pkcs12_wrong_password_is_400(daemon, certs, pki, certmon):
    p12 = pki.p12(certs["a"], "api-a-wrong.p12", "right")
    before = certmon.snapshot()
    r = daemon.api("POST", "/certs?unit=CallManager&password=wrong",
                   body=p12.read_bytes(), content_type="application/x-pkcs12")
    error(r, 400)
    assert certmon.snapshot() == before


def test_upload_expired_certificate_is_accepted_with_a_flag(daemon, certs):
    doc = upload(daemon, "CallManager", certs["expired"])
    assert doc["certs"][0]["expired"] is True
    [row] = daemon.get("/certs?unit=CallManager&state=expired")["certs"]
    assert row["subject_cn"] == "api-expired.example"


def test_upload_older_identity_certificate_is_409(daemon, certs, certmon):
    upload(daemon, "CallManager", certs["renewal_new"])
    before = certmon.snapshot()
    r = daemon.api("POST", "/certs?unit=CallManager",
                   body=pem(certs["renewal_old"]),
                   content_type="application/x-pem-file")
    msg = error(r, 409)
    assert certmon.snapshot() == before, msg
    # a trust unit keeps both (a CA rollover needs old and new)
    upload(daemon, "CallManager-trust", certs["renewal_new"])
    upload(daemon, "CallManager-trust", certs["renewal_old"])
    assert daemon.get("/certs?unit=CallManager-trust")["total"] == 2


def test_upload_newer_identity_certificate_replaces(daemon, certs):
    upload(daemon, "CallManager", certs["renewal_old"])
    doc = upload(daemon, "CallManager", certs["renewal_new"])
    assert doc["replaced"] == 1
    [c] = doc["certs"]
    assert c["action"] == "replaced"
    assert c["replaced"] == fp_of(certs["renewal_old"])
    cur = daemon.get("/certs?unit=CallManager")
    assert [r["fingerprint"] for r in cur["certs"]] == [
        fp_of(certs["renewal_new"])]
    hist = daemon.get("/certs?unit=CallManager&history=1")
    assert hist["total"] == 2
    [old] = [r for r in hist["certs"] if not r["current"]]
    assert old["fingerprint"] == fp_of(certs["renewal_old"])
    assert old["replaced_by"] == fp_of(certs["renewal_new"])


@pytest.mark.parametrize("case", [
    "unknown_unit", "no_unit", "empty", "garbage", "truncated",
    "multipart_no_file", "multipart_no_unit", "multipart_broken"])
def test_upload_bad_input(shared, certs, case):
    good = pem(certs["a"])
    status = {"unknown_unit": 404}.get(case, 400)
    ctype = "application/x-pem-file"
    path, body = "/certs?unit=CallManager", good
    if case == "unknown_unit":
        path = "/certs?unit=NoSuchUnit"
    elif case == "no_unit":
        path = "/certs"
    elif case == "empty":
        body = b""
    elif case == "garbage":
        body = b"\x00\x01garbage that is no certificate\xff" * 10
    elif case == "truncated":
        body = good[:len(good) // 2]
    elif case == "multipart_no_file":
        ctype, body = multipart({"unit": "CallManager"}, {})
        path = "/certs"
    elif case == "multipart_no_unit":
        ctype, body = multipart({}, {"file": ("a.pem", good)})
        path = "/certs"
    elif case == "multipart_broken":
        ctype = "multipart/form-data; boundary=XYZ"
        body = b"--XYZ\r\nContent-Disposition: form-data; name=\"unit\"" \
               b"\r\n\r\nCallManager\r\n--XYZ\r\nContent-Disposition: " \
               b"form-data; name=\"file\"; filename=\"a.pem\"\r\n\r\n" + \
               good[:200]
        path = "/certs"
    before = shared.snapshot()
    r = shared.api("POST", path, body=body, content_type=ctype)
    msg = error(r, status)
    if case == "unknown_unit":
        assert "NoSuchUnit" in msg
    assert shared.snapshot() == before


def test_multipart_part_without_a_name_is_refused_not_a_crash(shared, certs):
    """Found by fuzz/fuzz_http.c: a part whose Content-Disposition header
    libmicrohttpd cannot read reaches the form handlers with no name (a
    NULL key), which certmond passed to strcmp - a crash, and before
    authentication on the web admin's POSTs (their form is read before the
    session is checked). Now the body is refused as malformed."""
    ctype = "multipart/form-data; boundary=XB"
    body = (b"--XB\r\nContent-Disposition: form-data; name=\"unit\"\r\n\r\n"
            b"CallManager\r\n--XB\r\nConteta; name=\"unit\"\r\n\r\n"
            b"tomcat\r\n--XB\r\nContent-Disposition: form-data; "
            b"name=\"file\"; filename=\"a.pem\"\r\n\r\n" + pem(certs["a"]) +
            b"\r\n--XB--\r\n")
    before = shared.snapshot()
    msg = error(shared.api("POST", "/certs", body=body, content_type=ctype),
                400)
    assert "multipart" in msg
    # the web admin, with no session at all: refused, the daemon lives on
    for path in ("/login", "/certs/upload"):
        r = shared.request("POST", path, body=body, content_type=ctype,
                           auth=False)
        assert r.status in (303, 403), r
    assert shared.alive()
    assert shared.request("GET", "/healthz", auth=False).status == 200
    assert shared.snapshot() == before


def test_upload_body_over_2_mib_is_413(daemon, certs, certmon):
    before = certmon.snapshot()
    big = pem(certs["a"]) * (3 * MiB // len(pem(certs["a"])) + 1)
    assert len(big) > 3 * MiB - 4096
    r = daemon.api("POST", "/certs?unit=CallManager", body=big,
                   content_type="application/x-pem-file")
    error(r, 413)
    ctype, body = multipart({"unit": "CallManager"},
                            {"file": ("big.pem", big)})
    error(daemon.api("POST", "/certs", body=body, content_type=ctype), 413)
    assert certmon.snapshot() == before
    # the daemon is fine afterwards
    assert upload(daemon, "CallManager", certs["a"])["added"] == 1


def test_upload_file_over_the_file_cap_is_413(daemon, certs, certmon):
    """Under the 2 MiB request limit but over the 1 MiB file-size cap."""
    before = certmon.snapshot()
    big = pem(certs["a"]) * (3 * MiB // 2 // len(pem(certs["a"])))
    assert MiB < len(big) < 2 * MiB
    r = daemon.api("POST", "/certs?unit=CallManager", body=big,
                   content_type="application/x-pem-file")
    error(r, 413)
    ctype, body = multipart({"unit": "CallManager"},
                            {"file": ("big.pem", big)})
    error(daemon.api("POST", "/certs", body=body, content_type=ctype), 413)
    assert certmon.snapshot() == before


def test_list_filters_and_paging(daemon, certs):
    upload(daemon, "CallManager", certs["a"])
    upload(daemon, "CallManager", certs["b"])
    upload(daemon, "CallManager", certs["expired"])
    upload(daemon, "ipsec", certs["b"])

    doc = daemon.get("/certs?unit=CallManager")
    assert doc["total"] == 3 and doc["limit"] == 100 and doc["offset"] == 0
    # soonest expiry first
    assert [c["subject_cn"] for c in doc["certs"]] == [
        "api-expired.example", "api-b.example", "api-a.example"]
    c = doc["certs"][2]
    for k in ("unit", "fingerprint", "subject_cn", "issuer_cn", "serial",
              "not_before", "not_after", "days_left", "state", "revocation"):
        assert k in c, c

    def cns(q):
        return [c["subject_cn"] for c in daemon.get(q)["certs"]]
    assert cns("/certs?unit=CallManager&state=expired") == [
        "api-expired.example"]
    assert cns("/certs?unit=CallManager&state=expiring") == ["api-b.example"]
    assert cns("/certs?unit=CallManager&state=valid") == ["api-a.example"]
    assert cns("/certs?unit=CallManager&state=critical") == []
    assert cns("/certs?unit=CallManager&state=revoked") == []
    assert sorted(cns("/certs?search=api-b")) == ["api-b.example"] * 2
    page = daemon.get("/certs?unit=CallManager&limit=1&offset=1")
    assert page["total"] == 3 and page["limit"] == 1 and page["offset"] == 1
    assert [c["subject_cn"] for c in page["certs"]] == ["api-b.example"]
    assert daemon.get("/certs?unit=CallManager&limit=1000")["total"] == 3
    assert daemon.get("/certs?offset=100")["certs"] == []


@pytest.mark.parametrize("query", [
    "limit=0", "limit=1001", "limit=abc", "limit=", "limit=10x",
    "offset=-1", "offset=x", "state=bogus", "state="])
def test_list_bad_query_is_400(shared, query):
    error(shared.api("GET", "/certs?" + query), 400)


def test_list_unknown_unit_is_404(shared):
    """As `certmon cert list --unit NoSuchUnit` refuses: an unknown unit is
    not an empty one."""
    msg = error(shared.api("GET", "/certs?unit=NoSuchUnit"), 404)
    assert "NoSuchUnit" in msg


def test_show_and_delete(daemon, certs, certmon):
    upload(daemon, "CallManager", certs["a"])
    upload(daemon, "ipsec", certs["a"])
    fp = fp_of(certs["a"])

    # in two units: the unit is needed
    error(daemon.api("GET", f"/certs/{fp[:12]}"), 409)
    doc = daemon.get(f"/certs/{fp[:12]}?unit=CallManager")
    c = doc["cert"]
    assert c["fingerprint"] == fp and c["unit"] == "CallManager"
    assert c["pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert ssl.PEM_cert_to_DER_cert(c["pem"]) == ssl.PEM_cert_to_DER_cert(
        pem(certs["a"]).decode())
    assert "DNS:api-a.example" in json.dumps(c["sans"]) or \
        "api-a.example" in json.dumps(c["sans"])
    assert any(e["name"] for e in c["events"])
    # upper case and colons are fine
    colon = ":".join(fp[i:i + 2] for i in range(0, 16, 2)).upper()
    assert daemon.get(f"/certs/{colon}?unit=ipsec")["cert"][
        "fingerprint"] == fp

    error(daemon.api("GET", "/certs/" + "0" * 64), 404)
    error(daemon.api("GET", "/certs/zzzz"), 400)
    error(daemon.api("GET", f"/certs/{fp[:12]}?unit=NoSuchUnit"), 404)

    before = certmon.snapshot()
    error(daemon.api("DELETE", f"/certs/{fp[:12]}"), 409)   # which unit?
    error(daemon.api("DELETE", "/certs/" + "0" * 64 + "?unit=ipsec"), 404)
    assert certmon.snapshot() == before

    doc = daemon.api("DELETE", f"/certs/{fp[:12]}?unit=CallManager",
                     expect=200)
    assert doc["deleted"] == fp and doc["unit"] == "CallManager"
    error(daemon.api("DELETE", f"/certs/{fp[:12]}?unit=CallManager"), 404)
    # still in the other unit, now unambiguous
    assert daemon.get(f"/certs/{fp[:12]}")["cert"]["unit"] == "ipsec"


# ------------------------------------------------------------------- units

def test_units(daemon, certs, certmon):
    units = {u["name"]: u for u in daemon.get("/units")["units"]}
    for name, kind in (("tomcat", "identity"), ("tomcat-trust", "trust"),
                       ("lsc", "lsc"), ("Phone-trust", "trust"),
                       ("CallManager-ECDSA", "identity")):
        assert units[name]["kind"] == kind
    assert units["tomcat"]["certs"] == 1            # the HTTPS certificate

    doc = daemon.api("POST", "/units", body={"name": "web", "kind":
                                             "identity"}, expect=201)
    assert doc == {"status": "ok", "name": "web", "kind": "identity"}
    assert daemon.api("POST", "/units", body={"name": "edge-trust"},
                      expect=201)["kind"] == "trust"
    assert daemon.api("POST", "/units", body={"name": "phones", "kind":
                                              "lsc"}, expect=201)["kind"] \
        == "lsc"
    names = [u["name"] for u in daemon.get("/units")["units"]]
    assert {"web", "edge-trust", "phones"} <= set(names)
    assert "web" in certmon.ok("unit", "list").out

    upload(daemon, "web", certs["a"])
    before = certmon.snapshot()
    error(daemon.api("DELETE", "/units/web"), 409)          # holds certs
    error(daemon.api("DELETE", "/units/nope"), 404)
    error(daemon.api("POST", "/units", body={"name": "web"}), 409)
    assert certmon.snapshot() == before
    assert daemon.api("DELETE", "/units/web?force=1", expect=200)[
        "removed"] == "web"
    assert daemon.api("DELETE", "/units/phones", expect=200)
    assert "web" not in [u["name"] for u in daemon.get("/units")["units"]]


@pytest.mark.parametrize("body", [
    b"{not json", b"[]", b'"web"', b"", b'{"kind":"identity"}',
    b'{"name":""}', b'{"name":"bad name"}', b'{"name":"a/b"}',
    b'{"name":"' + b"x" * 65 + b'"}', b'{"name":"web","kind":"bogus"}',
    b'{"name":"web-trust","kind":"identity"}', b'{"name":5}',
    b'{"name":"web","name":"other"}'])
def test_unit_add_bad_input_is_400(shared, body):
    before = shared.snapshot()
    error(shared.api("POST", "/units", body=body,
                     content_type="application/json"), 400)
    assert shared.snapshot() == before


# ---------------------------------------------------------------- settings

MONITOR_DEFAULTS = {"start_days": 30, "frequency": "1d", "email": False,
                    "lsc": False, "emails": "", "retry_cap": "1h",
                    "give_up_after": "7d"}


def test_monitor_settings(daemon, certmon):
    assert daemon.get("/settings/monitor")["monitor"] == MONITOR_DEFAULTS
    new = {"start_days": 45, "frequency": "12h", "email": True, "lsc": True,
           "emails": "ops@example.com; pki@example.org", "retry_cap": "2h",
           "give_up_after": "3d"}
    doc = daemon.api("PUT", "/settings/monitor", body=new, expect=200)
    got = doc["monitor"]
    assert got["start_days"] == 45 and got["frequency"] == "12h"
    assert got["email"] is True and got["lsc"] is True
    assert "ops@example.com" in got["emails"] and \
        "pki@example.org" in got["emails"]
    stored = daemon.get("/settings/monitor")["monitor"]
    cli = certmon.ok("monitor", "show", "--json").json["monitor"]
    assert cli["start_days"] == 45
    assert cli["emails"] == stored["emails"]
    # a partial update changes only what it names
    daemon.api("PUT", "/settings/monitor", body={"start_days": 10},
               expect=200)
    assert daemon.get("/settings/monitor")["monitor"] == dict(
        stored, start_days=10)
    # each change is in the event log, by the token
    evs = daemon.get("/events?kind=audit&limit=100")["events"]
    assert any(e["actor"] == "token:tests" and "start_days" in
               json.dumps(e) for e in evs), evs


def test_settings_put_answers_what_was_stored(daemon):
    """The answer to PUT is "the settings after the change" (openapi.yaml):
    exactly what a GET returns afterwards, also where the store normalises
    a value (E-mail IDs: spaces around ';' trimmed)."""
    doc = daemon.api("PUT", "/settings/monitor", body={
        "emails": " ops@example.com ;  pki@example.org ", "email": True},
        expect=200)
    assert doc["monitor"] == daemon.get("/settings/monitor")["monitor"]
    doc = daemon.api("PUT", "/settings/smtp", body={
        "host": "mail.example.com", "port": 25, "tls": "none",
        "from": "certmon@example.com"}, expect=200)
    assert doc["smtp"] == daemon.get("/settings/smtp")["smtp"]


@pytest.mark.parametrize("body", [
    {"start_days": 0}, {"start_days": 366}, {"start_days": -1},
    {"start_days": "30"}, {"start_days": 30.5}, {"start_days": 2 ** 40},
    {"start_days": None}, {"frequency": "0h"}, {"frequency": "31d"},
    {"frequency": "1w"}, {"frequency": "90m"}, {"frequency": 24},
    {"frequency": ""}, {"email": "yes"}, {"email": 1},
    {"email": True},                          # no E-mail IDs
    {"lsc": "on"}, {"emails": "not an address"},
    {"emails": "a@example.com, b@example.com"},
    {"emails": "a@example.com\r\nBcc: x@evil.example"}, {"emails": 5},
    {"retry_cap": "2d"}, {"retry_cap": "x"}, {"give_up_after": "31d"},
    {"give_up_after": "0d"},
    # one bad value spoils the whole request
    {"start_days": 10, "frequency": "bogus"},
    {"start_days": 10, "emails": "bad address@x"},
])
def test_monitor_settings_bad_values_are_400_and_change_nothing(
        shared, body):
    before = shared.snapshot()
    msg = error(shared.api("PUT", "/settings/monitor", body=body), 400)
    assert shared.get("/settings/monitor")["monitor"] == MONITOR_DEFAULTS, msg
    assert shared.snapshot() == before


@pytest.mark.parametrize("raw", [
    b"", b"{", b"null", b"[1]", b'"x"', b"{'start_days': 5}",
    b'{"start_days": 5, "start_days": 6}', b"\xff\xfe{}"])
def test_settings_bad_json_is_400(shared, raw):
    before = shared.snapshot()
    for path in ("/settings/monitor", "/settings/smtp"):
        error(shared.api("PUT", path, body=raw,
                         content_type="application/json"), 400)
    assert shared.snapshot() == before


def test_smtp_settings(daemon, certmon):
    doc = daemon.get("/settings/smtp")["smtp"]
    assert doc["password_set"] is False and "password" not in doc
    new = {"host": "mail.example.com", "port": 587, "tls": "starttls",
           "user": "certmon", "password": "hunter2-secret",
           "from": "certmon@example.com", "ca_file": ""}
    r = daemon.api("PUT", "/settings/smtp", body=new)
    assert r.status == 200, r
    assert b"hunter2-secret" not in r.body
    got = r.json["smtp"]
    assert got == {"host": "mail.example.com", "port": 587,
                   "tls": "starttls", "user": "certmon",
                   "password_set": True, "from": "certmon@example.com",
                   "ca_file": got["ca_file"]}
    assert got["ca_file"] in ("", None)
    r = daemon.api("GET", "/settings/smtp")
    assert b"hunter2-secret" not in r.body and r.json["smtp"] == got
    # never in the event log either
    evs = daemon.api("GET", "/events?limit=1000")
    assert b"hunter2-secret" not in evs.body
    assert certmon.ok("smtp", "show", "--json").json["smtp"]["host"] == \
        "mail.example.com"
    # partial: the password stays
    doc = daemon.api("PUT", "/settings/smtp", body={"port": 2525},
                     expect=200)["smtp"]
    assert doc["port"] == 2525 and doc["password_set"] is True


@pytest.mark.parametrize("body", [
    {"port": 70000}, {"port": -1}, {"port": "25"}, {"port": 25.5},
    {"tls": "ssl"}, {"tls": 1}, {"host": ""}, {"host": "bad host"},
    {"from": "not an address"}, {"from": ""},
    {"tls": "none", "user": "u", "password": "p"},   # auth needs TLS
    {"user": "", "password": "p"},                  # password needs a user
    {"host": "x" * 5000},
])
def test_smtp_settings_bad_values_are_400_and_change_nothing(
        shared, body):
    good = {"host": "mail.example.com", "port": 25, "tls": "starttls",
            "from": "certmon@example.com"}
    shared.api("PUT", "/settings/smtp", body=good, expect=200)
    before = shared.snapshot()
    error(shared.api("PUT", "/settings/smtp", body=body), 400)
    assert shared.snapshot() == before


# ---------------------------------------------------------------- services

def test_services(daemon):
    doc = daemon.get("/services")
    ids = [s["id"] for s in doc["services"]]
    assert ids == ["expiry-monitor", "revocation-check"]
    for s in doc["services"]:
        assert s["state"] == "Running"
        for k in ("name", "started_at", "last_run", "next_run",
                  "last_duration_seconds", "last_result"):
            assert k in s, s
    em = daemon.get("/services/expiry-monitor")["service"]
    assert em["name"] == "Certificate Expiry Monitor"
    assert daemon.get("/services/Certificate%20Expiry%20Monitor")[
        "service"]["id"] == "expiry-monitor"
    assert daemon.get("/services/revocation-check")["service"]["name"] == \
        "Certificate Revocation Check"
    error(daemon.api("GET", "/services/nope"), 404)
    error(daemon.api("POST", "/services/nope/start"), 404)
    error(daemon.api("POST", "/services/expiry-monitor/explode"), 404)


def test_service_start_stop_are_idempotent(daemon):
    for _ in range(2):
        assert daemon.api("POST", "/services/revocation-check/stop",
                          expect=200)["service"]["state"] == "Stopped"
    for _ in range(2):
        assert daemon.api("POST", "/services/revocation-check/start",
                          expect=200)["service"]["state"] == "Running"


# ------------------------------------------------------------ wrong methods

WRONG_METHODS = [
    ("PUT", "/api/v1/certs"),
    ("PATCH", "/api/v1/certs"),
    ("DELETE", "/api/v1/certs"),
    ("POST", "/api/v1/certs/00"),
    ("PUT", "/api/v1/units"),
    ("GET", "/api/v1/units/tomcat"),
    ("POST", "/api/v1/units/tomcat"),
    ("POST", "/api/v1/settings/monitor"),
    ("DELETE", "/api/v1/settings/smtp"),
    ("POST", "/api/v1/services"),
    ("DELETE", "/api/v1/services/expiry-monitor"),
    ("GET", "/api/v1/services/expiry-monitor/start"),
    ("GET", "/api/v1/services/expiry-monitor/run"),
    ("POST", "/api/v1/events"),
    ("DELETE", "/api/v1/events"),
    ("POST", "/api/v1/mail/queue"),
    ("DELETE", "/api/v1/mail/queue"),
    ("POST", "/metrics"),
]


@pytest.mark.parametrize("method,path", WRONG_METHODS)
def test_wrong_method_is_405(shared, method, path):
    before = shared.snapshot()
    r = shared.request(method, path, body=body_for(method),
                       content_type="application/json")
    error(r, 405)
    assert shared.snapshot() == before


def test_405_lists_the_allowed_methods(shared):
    """RFC 9110 15.5.6: a 405 response MUST carry an Allow header."""
    r = shared.request("PATCH", "/api/v1/certs")
    assert r.status == 405
    allow = {m.strip() for m in r.headers.get("Allow", "").split(",")}
    assert {"GET", "POST"} <= allow, r


# ----------------------------------------------------------- events, mail

def test_events_filters_and_paging(daemon, certs):
    upload(daemon, "CallManager", certs["a"])
    upload(daemon, "CallManager", certs["b"])
    for n in range(3):
        daemon.api("PUT", "/settings/monitor", body={"start_days": 10 + n},
                   expect=200)
    all_ = daemon.get("/events?limit=1000")
    evs = all_["events"]
    assert all_["next_before"] is None
    ids = [e["id"] for e in evs]
    assert ids == sorted(ids, reverse=True)            # newest first
    for e in evs:
        for k in ("id", "at", "kind", "name", "actor", "unit",
                  "fingerprint", "message"):
            assert k in e, e

    page1 = daemon.get("/events?limit=2")
    assert [e["id"] for e in page1["events"]] == ids[:2]
    assert page1["next_before"] == ids[1]
    page2 = daemon.get(f"/events?limit=2&before={page1['next_before']}")
    assert [e["id"] for e in page2["events"]] == ids[2:4]

    audit = daemon.get("/events?kind=audit&limit=1000")["events"]
    assert audit and all(e["kind"] == "audit" for e in audit)
    fp = fp_of(certs["b"])
    mine = daemon.get(f"/events?fingerprint={fp}")["events"]
    assert mine and all(e["fingerprint"] == fp for e in mine)
    name = evs[0]["name"]
    named = daemon.get(f"/events?name={name}&limit=1000")["events"]
    assert named and all(e["name"] == name for e in named)
    assert daemon.get("/events?kind=nosuchkind")["events"] == []


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x",
                                   "before=-1", "before=abc"])
def test_events_bad_query_is_400(shared, query):
    error(shared.api("GET", "/events?" + query), 400)


def test_mail_queue(daemon):
    doc = daemon.get("/mail/queue")
    assert doc == {"status": "ok", "messages": []}
    assert daemon.get("/mail/queue?all=1")["messages"] == []


# ----------------------------------------------------------- escaping, JSON

def test_json_answers_escape_certificate_strings(daemon, pki):
    odd = pki.leaf('odd "quoted" \\\\ back <b>&amp;', days=5,
                   name="api-odd", san="DNS:odd.example")
    doc = upload(daemon, "CallManager", odd)
    cn = doc["certs"][0]["subject_cn"]
    assert '"quoted"' in cn and "\\" in cn and "<b>" in cn
    r = daemon.api("GET", "/certs?unit=CallManager")
    assert r.status == 200
    assert r.json["certs"][0]["subject_cn"] == cn
    assert b"<b>" in r.body and r.headers["Content-Type"].startswith(
        "application/json")
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_requests_after_errors_still_work(daemon, certs):
    """A burst of bad requests leaves the daemon serving."""
    for _ in range(20):
        daemon.api("POST", "/units", body=b"{",
                   content_type="application/json")
        daemon.request("GET", "/api/v1/certs", auth=False)
    assert upload(daemon, "CallManager", certs["a"])["added"] == 1
    wait_for(lambda: daemon.request("GET", "/healthz", auth=False).status
             == 200)


def test_cli_writes_while_the_api_is_busy(daemon, pki):
    """SQLite WAL: the CLI writes while the daemon answers; no request
    fails with 5xx, no CLI write is refused."""
    import threading
    leaves = [pki.leaf(f"busy-{i}.example", days=40 + i, name=f"api-busy-{i}")
              for i in range(5)]
    bad = []

    def reader():
        for _ in range(10):
            for path in ("/certs?limit=1000", "/services", "/events"):
                r = daemon.request("GET", "/api/v1" + path)
                if r.status != 200:
                    bad.append(r)
            r = daemon.request("GET", "/metrics", auth=False)
            if r.status != 200:
                bad.append(r)
    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    for i, leaf in enumerate(leaves):
        daemon.cli_ok("cert", "upload", "--unit", "CallManager-trust", leaf)
        daemon.cli_ok("monitor", "set", "--start-days", 20 + i)
        upload(daemon, "ipsec-trust", leaf)
    for t in threads:
        t.join()
    assert bad == []
    assert daemon.get("/certs?unit=CallManager-trust")["total"] == 5
    assert daemon.get("/certs?unit=ipsec-trust")["total"] == 5
