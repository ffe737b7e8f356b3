"""`certmon ocsp check` when there is no valid answer: stale and future
responses (real responders under faketime), replayed responses (another
certificate, an old nonce), and broken responders (garbage, oversized,
HTTP 500, tryLater, content encoding, a hang, a refused connection).

Every such outcome is status "error" - never good, never revoked - with a
reason naming the failed step, one JSON object, and the verdict of the
table: outside Common Criteria a pass with an alarm (exit 1, soft-fail: an
attacker who can break the exchange turns a revoked certificate into a
pass, as test_soft_fail_lets_a_revoked_certificate_pass shows), in Common
Criteria mode a fail (exit 2).
"""
import datetime
import time

import pytest

from ocsp_pki import FixedHttp, OcspPki, Silent, closed_port_url

KEYS = {"status", "trust_model", "verdict", "warning", "alarm", "reason",
        "ocsp_reason", "this_update", "next_update", "produced_at",
        "revocation_time", "revocation_reason", "url", "responder"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    pki = OcspPki(tmp_path_factory.mktemp("ocsp-err-pki"))
    specs = {
        "fresh": dict(),
        "fresh_no_next": dict(ndays=0),          # no nextUpdate
        "past": dict(faketime="-10d"),           # nextUpdate 9 days ago
        "future": dict(faketime="+10d"),         # thisUpdate in 10 days
        "old_no_next": dict(faketime="-8d", ndays=0),
    }
    responders = {}
    try:
        for name, kw in specs.items():
            responders[name] = pki.responder("ca", **kw).start()
        url = responders["fresh"].url
        # responses captured with the openssl client
        good_nonce = pki.capture(url, pki.good, pki.dir / "good-nonce.der")
        good_plain = pki.capture(url, pki.good, pki.dir / "good-plain.der",
                                 nonce=False)
        big = b"\x30\x84\x00\x01\x11\x70" + b"\x00" * 70000
        routes = {
            "/replay-good": (200, {"Content-Type":
                                   "application/ocsp-response"}, good_nonce),
            "/plain-good": (200, {}, good_plain),
            "/garbage": (200, {}, b"<html>this is not OCSP</html>"),
            "/big": (200, {}, big),
            "/big-chunked": (200, {"Transfer-Encoding": "chunked"},
                             b"11170\r\n" + big[:70000] + b"\r\n0\r\n\r\n"),
            "/500": (500, {}, b"internal error"),
            "/try-later": (200, {}, bytes([0x30, 0x03, 0x0a, 0x01, 0x03])),
            "/gzip": (200, {"Content-Encoding": "gzip"}, good_plain),
            "/empty": (200, {}, b""),
        }
        with FixedHttp(routes) as fixed, Silent() as silent:
            yield pki, responders, fixed, silent
    finally:
        for r in responders.values():
            r.stop()


def check(certmon, *args, cc=False):
    argv = ["ocsp", "check", *args, "--json"]
    if cc:
        argv.append("--common-criteria")
    r = certmon(*argv)
    doc = r.json
    assert KEYS <= set(doc), r
    return r, doc


def assert_error(r, doc, cc, fragment, trust=None):
    """An error answer: the verdict of the table, the step named."""
    assert doc["status"] == "error", r
    assert doc["trust_model"] == trust, r
    assert fragment in doc["reason"], r
    assert doc["revocation_time"] is None and doc["revocation_reason"] is None
    if cc:
        assert (doc["verdict"], doc["alarm"], r.rc) == ("fail", False, 2), r
    else:
        assert (doc["verdict"], doc["alarm"], doc["warning"], r.rc) == \
            ("pass", True, True, 1), r
        assert "soft-fail" in doc["reason"], r


CC = pytest.mark.parametrize("cc", [False, True], ids=["cc-off", "cc-on"])


@CC
def test_stale_response(certmon, env, cc):
    pki, responders, _, _ = env
    r, doc = check(certmon, "--cert", pki.revoked, "--issuer", pki.int,
                   "--url", responders["past"].url, cc=cc)
    assert_error(r, doc, cc, "step 4 freshness: stale response: nextUpdate",
                 trust="delegated")
    # the times say why: nextUpdate lies about 9 days back
    now = datetime.datetime.now(datetime.timezone.utc)
    assert doc["next_update"] < (now - datetime.timedelta(days=8)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"), r


@CC
def test_response_from_the_future(certmon, env, cc):
    pki, responders, _, _ = env
    r, doc = check(certmon, "--cert", pki.good, "--issuer", pki.int,
                   "--url", responders["future"].url, cc=cc)
    assert_error(r, doc, cc, "is in the future", trust="delegated")
    assert "step 4 freshness: producedAt" in doc["reason"]


def test_no_next_update(certmon, env):
    pki, responders, _, _ = env
    r, doc = check(certmon, "--cert", pki.good, "--issuer", pki.int,
                   "--url", responders["fresh_no_next"].url)
    assert (doc["status"], doc["next_update"], r.rc) == ("good", None, 0), r
    r, doc = check(certmon, "--cert", pki.good, "--issuer", pki.int,
                   "--url", responders["old_no_next"].url)
    assert_error(r, doc, False, "older than the maximum age of 7d and there "
                 "is no nextUpdate", trust="delegated")


@CC
def test_replayed_response_for_another_certificate(certmon, env, cc):
    pki, _, fixed, _ = env
    r, doc = check(certmon, "--cert", pki.revoked, "--issuer", pki.int,
                   "--url", fixed.url("/replay-good"), cc=cc)
    assert_error(r, doc, cc, "step 1 response: no SingleResponse matches our "
                 "CertID (serial 1001): the response answers 1 other, e.g. "
                 "serial 1000")


def test_soft_fail_lets_a_revoked_certificate_pass(certmon, env):
    """What the docs say plainly: outside Common Criteria mode, whoever can
    replace the answer (here with a good answer for another certificate)
    turns a revoked certificate into a pass, with an alarm."""
    pki, responders, fixed, _ = env
    r, doc = check(certmon, "--cert", pki.revoked, "--issuer", pki.int,
                   "--url", responders["fresh"].url)
    assert (doc["status"], r.rc) == ("revoked", 2)
    r, doc = check(certmon, "--cert", pki.revoked, "--issuer", pki.int,
                   "--url", fixed.url("/replay-good"))
    assert (doc["status"], doc["verdict"], doc["alarm"], r.rc) == \
        ("error", "pass", True, 1)
    r, doc = check(certmon, "--cert", pki.revoked, "--issuer", pki.int,
                   "--url", fixed.url("/replay-good"), cc=True)
    assert (doc["verdict"], r.rc) == ("fail", 2)


@CC
def test_replayed_response_with_an_old_nonce(certmon, env, cc):
    pki, _, fixed, _ = env
    r, doc = check(certmon, "--cert", pki.good, "--issuer", pki.int,
                   "--url", fixed.url("/replay-good"), cc=cc)
    assert_error(r, doc, cc, "step 5 nonce: the response's nonce does not "
                 "match our request's", trust="delegated")


def test_nonce_rules(certmon, env):
    pki, _, fixed, _ = env
    # a response with someone else's nonce, to a request without one
    r, doc = check(certmon, "--cert", pki.good, "--issuer", pki.int,
                   "--url", fixed.url("/replay-good"), "--no-nonce")
    assert_error(r, doc, False, "step 5 nonce: the response carries a nonce "
                 "but our request had none", trust="delegated")
    # a response without a nonce: accepted, unless a nonce is required
    r, doc = check(certmon, "--cert", pki.good, "--issuer", pki.int,
                   "--url", fixed.url("/plain-good"))
    assert (doc["status"], r.rc) == ("good", 0), r
    r, doc = check(certmon, "--cert", pki.good, "--issuer", pki.int,
                   "--url", fixed.url("/plain-good"), "--require-nonce")
    assert_error(r, doc, False, "step 5 nonce: the response carries no "
                 "nonce and a nonce is required", trust="delegated")


BROKEN = [
    ("/garbage", "step 1 response: not a DER OCSPResponse"),
    ("/empty", "step 1 response: the body is empty"),
    ("/try-later", "step 1 response: the responder answered tryLater (3)"),
    ("/big", "fetch: http://127.0.0.1:{port}/big: the body of 70006 bytes "
             "is above the 65536-byte cap"),
    ("/big-chunked", "the body is above the 65536-byte cap"),
    ("/500", "fetch: http://127.0.0.1:{port}/500: HTTP status 500"),
    ("/gzip", "refused Content-Encoding gzip"),
    ("/nowhere", "HTTP status 404"),
]


@pytest.mark.parametrize("path,fragment", BROKEN,
                         ids=[p.strip("/") for p, _ in BROKEN])
@CC
def test_broken_responder(certmon, env, path, fragment, cc):
    pki, _, fixed, _ = env
    r, doc = check(certmon, "--cert", pki.revoked, "--issuer", pki.int,
                   "--url", fixed.url(path), cc=cc)
    assert_error(r, doc, cc, fragment.format(port=fixed.port))
    assert doc["url"] == fixed.url(path)


@CC
def test_responder_that_never_answers(certmon, env, cc):
    pki, _, _, silent = env
    t0 = time.monotonic()
    r, doc = check(certmon, "--cert", pki.revoked, "--issuer", pki.int,
                   "--url", silent.url, "--timeout", "2", cc=cc)
    elapsed = time.monotonic() - t0
    assert_error(r, doc, cc, "no complete answer within 2000 ms (timeout)")
    assert 1.5 < elapsed < 5, elapsed


@CC
def test_refused_connection(certmon, env, cc):
    pki, _, _, _ = env
    r, doc = check(certmon, "--cert", pki.revoked, "--issuer", pki.int,
                   "--url", closed_port_url(), cc=cc)
    assert_error(r, doc, cc, "fetch: http://127.0.0.1:")


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/ocsp", "file:///etc/passwd",
                                 "ldap://127.0.0.1/cn=x", "not a url"])
def test_other_schemes_never_fetched(certmon, env, url):
    pki, _, _, _ = env
    r, doc = check(certmon, "--cert", pki.revoked, "--issuer", pki.int,
                   "--url", url)
    assert_error(r, doc, False, "fetch: ")
