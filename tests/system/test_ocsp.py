"""`certmon ocsp check` against real `openssl ocsp` responders: every
signing mode x every certificate status x Common Criteria on/off, and the
command's own rules (issuer, URL, exit codes, JSON, human output).

The verdict table of DESIGN.md, row by row (test_matrix covers them all):

    status                  CC on          CC off
    good                    pass (0)       pass (0)
    revoked (incl. on hold) fail (2)       fail (2)
    unknown                 fail (2)       pass, warning (1)
    error                   fail (2)       pass, alarm (1)  <- soft-fail
"""
import pytest

from ocsp_pki import OcspPki

MODES = ("ca", "delegated", "delegated_cdp", "noeku", "designated", "rogue")
CERTS = ("good", "revoked", "hold", "unknown")
KEYS = {"status", "trust_model", "verdict", "warning", "alarm", "reason",
        "ocsp_reason", "this_update", "next_update", "produced_at",
        "revocation_time", "revocation_reason", "url", "responder",
        "subject", "serial", "not_after", "expired"}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    pki = OcspPki(tmp_path_factory.mktemp("ocsp-pki"))
    responders = {}
    try:
        for mode in MODES:
            kw = {}
            if mode == "ca":
                kw["port"] = pki.aia_port       # the leaves' AIA URL
            if mode == "delegated":
                kw["key_id"] = True             # ResponderID byKey
            responders[mode] = pki.responder(mode, **kw).start()
        yield pki, responders
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
    assert r.rc in (0, 1, 2), r
    return r, doc


def expected(mode, cert, cc):
    """(status, trust_model, reason fragment) of one matrix cell."""
    status = {"good": "good", "revoked": "revoked", "hold": "revoked",
              "unknown": "unknown"}[cert]
    if mode in ("ca", "delegated"):
        return status, "delegated", None
    if mode == "delegated_cdp":
        if cc:
            return ("error", None, "step 2/3 signer: responder CN=Delegated "
                    "CDP Responder,O=certmon tests not accepted: responder "
                    "certificate revocation unchecked (Common Criteria)")
        return status, "delegated", None
    if mode == "designated":
        return status, "trusted-responder", None
    if mode == "noeku":
        return "error", None, "lacks the id-kp-OCSPSigning EKU"
    return ("error", None, "step 2/3 signer: response signed by an unknown "
            "responder (CN=Rogue,O=certmon tests)")


def verdict(status, cc):
    """(verdict, exit code, alarm) by the table."""
    if status == "good":
        return "pass", 0, False
    if status == "revoked":
        return "fail", 2, False
    if cc:
        return "fail", 2, False
    return "pass", 1, status == "error"


@pytest.mark.parametrize("cc", [False, True], ids=["cc-off", "cc-on"])
@pytest.mark.parametrize("cert", CERTS)
@pytest.mark.parametrize("mode", MODES)
def test_matrix(certmon, env, mode, cert, cc):
    pki, responders = env
    args = ["--cert", getattr(pki, cert), "--issuer", pki.int,
            "--url", responders[mode].url]
    if mode == "designated":
        args += ["--trusted-responder", pki.responders["designated"][0]]
    r, doc = check(certmon, *args, cc=cc)
    status, trust, fragment = expected(mode, cert, cc)
    want_verdict, rc, alarm = verdict(status, cc)
    assert (doc["status"], doc["trust_model"], doc["verdict"], r.rc,
            doc["alarm"]) == (status, trust, want_verdict, rc, alarm), r
    assert doc["warning"] == (rc == 1)
    if fragment:
        assert fragment in doc["reason"], r
    if status == "error":
        # never good, never revoked, nothing of the response kept
        assert doc["revocation_time"] is None
        assert doc["responder"] is None
        assert doc["this_update"] is None
    else:
        assert doc["this_update"] and doc["produced_at"]
        assert doc["next_update"]               # the responders use -ndays 1
        assert doc["responder"], r
    if status == "revoked":
        assert doc["revocation_time"]
        assert doc["revocation_reason"] == ("keyCompromise" if cert ==
                                            "revoked" else "certificateHold")
    else:
        assert doc["revocation_reason"] is None
    if mode == "ca" and status != "error":
        assert doc["responder"] == "CN=OCSP Test Intermediate,O=certmon tests"
    if mode == "delegated" and status != "error":
        assert doc["responder"] == "CN=Delegated Responder,O=certmon tests"
    assert not certmon.db.exists()              # no store, no cache


def test_designated_not_given_is_unknown_responder(certmon, env):
    pki, responders = env
    r, doc = check(certmon, "--cert", pki.good, "--issuer", pki.int, "--url",
                   responders["designated"].url)
    assert (doc["status"], doc["trust_model"], r.rc) == ("error", None, 1)
    assert ("response signed by an unknown responder (CN=Designated "
            "Responder,O=certmon tests)") in doc["reason"]


def test_no_eku_responder_designated_explicitly(certmon, env):
    pki, responders = env
    r, doc = check(certmon, "--cert", pki.revoked, "--issuer", pki.int,
                   "--url", responders["noeku"].url, "--trusted-responder",
                   pki.responders["noeku"][0], cc=True)
    assert (doc["status"], doc["trust_model"], doc["verdict"], r.rc) == \
        ("revoked", "trusted-responder", "fail", 2)


def test_aia_url_and_issuer_from_bundle(certmon, env):
    pki, responders = env
    r, doc = check(certmon, "--cert", pki.good_bundle)
    assert r.rc == 0, r
    assert doc["url"] == responders["ca"].url
    assert doc["issuer"] == "CN=OCSP Test Intermediate,O=certmon tests"
    assert doc["subject"] == "CN=Good Leaf,O=certmon tests"


def test_require_nonce_with_an_echoing_responder(certmon, env):
    pki, responders = env
    r, doc = check(certmon, "--cert", pki.good, "--issuer", pki.int,
                   "--url", responders["delegated"].url, "--require-nonce")
    assert (doc["status"], r.rc) == ("good", 0), r
    r, doc = check(certmon, "--cert", pki.good, "--issuer", pki.int,
                   "--url", responders["delegated"].url, "--no-nonce")
    assert (doc["status"], r.rc) == ("good", 0), r


def test_expired_leaf_fails(certmon, env):
    pki, responders = env
    for cc in (False, True):
        r, doc = check(certmon, "--cert", pki.expired, "--issuer", pki.int,
                       "--url", responders["ca"].url, cc=cc)
        assert (doc["status"], doc["verdict"], doc["expired"], r.rc) == \
            ("good", "fail", True, 2), r
        assert doc["reason"].startswith("certificate expired"), r
        assert doc["not_after"] == "2020-02-01T00:00:00Z"


def test_human_output(certmon, env):
    pki, responders = env
    r = certmon("ocsp", "check", "--cert", pki.revoked, "--issuer", pki.int,
                "--url", responders["delegated"].url)
    assert r.rc == 2, r
    lines = r.out.splitlines()
    assert lines[0].startswith("OCSP FAIL: revoked at "), r
    fields = dict(l.split(None, 1) for l in lines[1:])
    assert fields["status"] == "revoked"
    assert fields["verdict"] == "fail"
    assert fields["trust_model"] == "delegated"
    assert fields["revocation_reason"] == "keyCompromise"
    assert fields["url"] == responders["delegated"].url
    r = certmon("ocsp", "check", "--cert", pki.unknown, "--issuer", pki.int,
                "--url", responders["ca"].url)
    assert r.rc == 1 and r.out.startswith("OCSP PASS (WARNING): unknown"), r
    r = certmon("ocsp", "check", "--cert", pki.good, "--issuer", pki.int,
                "--url", responders["ca"].url)
    assert r.rc == 0 and r.out.startswith("OCSP PASS: good"), r


def test_allow_list_refuses_other_hosts(certmon, env):
    pki, responders = env
    r, doc = check(certmon, "--cert", pki.revoked, "--issuer", pki.int,
                   "--url", responders["ca"].url, "--allow-host",
                   "ocsp.example.com")
    assert (doc["status"], doc["verdict"], doc["alarm"], r.rc) == \
        ("error", "pass", True, 1), r
    assert "fetch: " in doc["reason"] and "not on the allow-list" in \
        doc["reason"], r
    r, doc = check(certmon, "--cert", pki.revoked, "--issuer", pki.int,
                   "--url", responders["ca"].url, "--allow-host", "127.0.0.1")
    assert (doc["status"], r.rc) == ("revoked", 2), r


@pytest.mark.parametrize("args,fragment", [
    (["--cert", "{noaia}", "--issuer", "{int}"], "no OCSP URL"),
    (["--cert", "{good}"], "no issuer"),
    (["--cert", "{good}", "--issuer", "{root}"], "no issuer"),
    (["--cert", "{good}", "--issuer", "{rogue}"], "step 0 issuer"),
    (["--cert", "{missing}", "--issuer", "{int}"], "missing.pem"),
    (["--cert", "{ca_cnf}", "--issuer", "{int}"], "ca.cnf"),
    (["--cert", "{good}", "--issuer", "{int}", "--trusted-responder",
      "{missing}"], "--trusted-responder"),
], ids=["no-url", "no-issuer", "wrong-issuer", "unrelated-issuer",
        "missing-file", "not-a-certificate", "missing-responder-file"])
def test_local_errors_exit_3(certmon, env, args, fragment):
    pki, _ = env
    paths = {"noaia": pki.noaia, "int": pki.int, "good": pki.good,
             "root": pki.root, "rogue": pki.responders["rogue"][0],
             "missing": pki.dir / "missing.pem", "ca_cnf": pki.conf}
    argv = [a.format(**paths) for a in args]
    r = certmon("ocsp", "check", *argv, "--json")
    assert r.rc == 3, r
    assert r.json["status"] == "error" and fragment in r.json["error"], r
    assert len([l for l in r.err.splitlines() if l.strip()]) == 1, r


@pytest.mark.parametrize("args", [
    [],
    ["--cert"],
    ["--cert", "x.pem", "--no-nonce", "--require-nonce"],
    ["--cert", "x.pem", "--timeout", "0"],
    ["--cert", "x.pem", "--timeout", "soon"],
    ["--cert", "x.pem", "--bogus"],
    ["--cert", "x.pem", "extra"],
], ids=["nothing", "no-value", "nonce-both", "timeout-0", "timeout-text",
        "unknown-option", "extra-arg"])
def test_usage_errors_exit_3(certmon, args):
    r = certmon("ocsp", "check", *args)
    assert r.rc == 3, r
    assert "usage: certmon ocsp check" in r.err


def test_unknown_subcommand_exit_3(certmon):
    assert certmon("ocsp", "frobnicate").rc == 3
    r = certmon("ocsp", "--help")
    assert r.rc == 0 and "ocsp check --cert FILE" in r.out
