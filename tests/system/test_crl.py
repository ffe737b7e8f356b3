"""CRL checking through the real binary: CRLs made by `openssl ca -gencrl`
and served over HTTP on the loopback (a python http.server serving a
directory), for certificates with a CRL distribution point and for
configured CRL URIs; OCSP off, OCSP failing (fallback), the store's CRL
cache, every refused kind of CRL (wrong key, expired, signer without
cRLSign, delta, indirect, another distribution point), and the CRL check
of a delegated OCSP responder in Common Criteria mode."""
import functools
import http.server
import re
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from conftest import one_line_error
from ocsp_pki import OcspPki, closed_port_url, run

EXTRA_SECTIONS = """
[ cdp_leaf_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
crlDistributionPoints = URI:{base}/int.crl

[ crl_idp ]
issuingDistributionPoint = critical, @idp_url

[ idp_url ]
fullname = URI:{base}/int-idp.crl

[ crl_indirect ]
issuingDistributionPoint = critical, @idp_indirect

[ idp_indirect ]
indirectCRL = TRUE

[ crl_delta ]
deltaCRL = critical,ASN1:INTEGER:1
"""

MINI_CONF = """\
[ ca ]
default_ca = mini

[ mini ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
crlnumber = $dir/crlnumber
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none

[ any ]
organizationName = optional
commonName = supplied

[ leaf_ext ]
basicConstraints = CA:FALSE
crlDistributionPoints = URI:{cdp}
"""


class CrlServer:
    """http.server serving a directory on a free loopback port, counting
    requests."""

    def __init__(self, directory):
        self.count = 0
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                outer.count += 1
                super().do_GET()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler,
                                                directory=str(directory)))
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def url(self, name):
        return f"{self.base}/{name}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def mini_ca(root, name, subject, ku, cdp):
    """A self-signed CA run by `openssl ca` in its own directory."""
    d = Path(root) / name
    d.mkdir()
    (d / "index.txt").write_text("")
    (d / "serial").write_text("2000\n")
    (d / "crlnumber").write_text("01\n")
    conf = d / "ca.cnf"
    conf.write_text(MINI_CONF.format(dir=d, cdp=cdp))
    run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
        "-out", d / "ca.key")
    run("openssl", "req", "-x509", "-new", "-key", d / "ca.key", "-subj",
        subject, "-days", "3650", "-addext",
        "basicConstraints=critical,CA:TRUE", "-addext",
        f"keyUsage=critical,{ku}", "-out", d / "ca.pem")
    return d, conf


def gencrl(conf, out, *extra, faketime=None):
    pem = Path(str(out) + ".pem")
    run("openssl", "ca", "-batch", "-gencrl", "-config", conf, "-crldays",
        "1", "-out", pem, *extra, faketime=faketime)
    run("openssl", "crl", "-in", pem, "-outform", "DER", "-out", out)
    return out


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("crl")
    pki = OcspPki(root / "pki")
    served = root / "www"
    served.mkdir()
    srv = CrlServer(served)
    # the intermediate's CA configuration, with CRL numbers and the CRL
    # extensions of the tests
    text = pki.conf.read_text()
    text = re.sub(r"(\ndir = [^\n]*\n)", r"\1crlnumber = $dir/crlnumber\n",
                  text, count=1)
    conf = pki.dir / "ca-crl.cnf"
    conf.write_text(text + EXTRA_SECTIONS.format(base=srv.base))
    (pki.dir / "crlnumber").write_text("10\n")
    cdp = {}
    for name, cn in (("cdp_good", "CDP Good Leaf"),
                     ("cdp_revoked", "CDP Revoked Leaf")):
        out = pki.dir / f"{name}.pem"
        run("openssl", "ca", "-batch", "-config", conf, "-extensions",
            "cdp_leaf_ext", "-notext", "-in", pki.csr(name, pki.leaf_key, cn),
            "-out", out)
        cdp[name] = out
    run("openssl", "ca", "-batch", "-config", conf, "-revoke",
        cdp["cdp_revoked"], "-crl_reason", "keyCompromise")
    # the CRLs of the intermediate: good, PEM, with an IDP, delta, indirect
    gencrl(conf, served / "int.crl")
    (served / "int.pem.crl").write_text(
        Path(str(served / "int.crl") + ".pem").read_text())
    gencrl(conf, served / "int-idp.crl", "-crlexts", "crl_idp")
    gencrl(conf, served / "int-idp-elsewhere.crl", "-crlexts", "crl_idp")
    gencrl(conf, served / "int-delta.crl", "-crlexts", "crl_delta")
    gencrl(conf, served / "int-indirect.crl", "-crlexts", "crl_indirect")
    # expired: made ten days ago, valid for one
    gencrl(conf, served / "int-expired.crl", faketime="-10d")
    # the intermediate's name, another key
    _, fake_conf = mini_ca(root, "fake", "/O=certmon tests/CN=OCSP Test "
                           "Intermediate", "keyCertSign,cRLSign",
                           srv.url("x.crl"))
    gencrl(fake_conf, served / "int-wrong-key.crl")
    # a CA whose keyUsage lacks cRLSign, and a leaf of it
    nsdir, ns_conf = mini_ca(root, "nosign", "/O=certmon tests/CN=No "
                             "cRLSign CA", "keyCertSign",
                             srv.url("nosign.crl"))
    ns_leaf = nsdir / "leaf.pem"
    run("openssl", "ca", "-batch", "-config", ns_conf, "-extensions",
        "leaf_ext", "-notext", "-days", "365", "-in",
        pki.csr("nosign-leaf", pki.leaf_key, "No cRLSign Leaf"),
        "-out", ns_leaf)
    gencrl(ns_conf, served / "nosign.crl")
    responders = {}
    try:
        responders["delegated_cdp"] = pki.responder("delegated_cdp").start()
        yield {"pki": pki, "srv": srv, "cdp": cdp, "nosign_ca":
               nsdir / "ca.pem", "nosign_leaf": ns_leaf,
               "responders": responders}
    finally:
        for r in responders.values():
            r.stop()
        srv.close()


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def run_rev(certmon, *args):
    doc = certmon.ok("revocation", "run", "--json", *args).json
    return doc, {x["cn"]: x for x in doc["results"]}


def test_revoked_found_by_crl_when_ocsp_is_off(certmon, env):
    pki, srv, cdp = env["pki"], env["srv"], env["cdp"]
    certmon.ok("cert", "upload", "--unit", "tomcat-trust", pki.int)
    certmon.ok("cert", "upload", "--unit", "tomcat", cdp["cdp_good"],
               cdp["cdp_revoked"])
    certmon.ok("revocation", "set", "--crl", "on", "--every", "1h")
    seen = srv.count
    doc, by = run_rev(certmon)
    assert (by["CDP Good Leaf"]["status"], by["CDP Good Leaf"]["source"]) == \
        ("good", "crl"), doc
    rev = by["CDP Revoked Leaf"]
    assert (rev["status"], rev["source"], rev["verdict"]) == \
        ("revoked", "crl", "fail"), doc
    assert "keyCompromise" in rev["reason"]
    assert srv.url("int.crl") in rev["reason"]
    assert doc["requests"] == 1 and srv.count - seen == 1, doc
    assert [c["subject_cn"] for c in certmon.certs("--state", "revoked")] \
        == ["CDP Revoked Leaf"]
    alarms = certmon.ok("events", "--kind", "alarm", "--json").json["events"]
    assert [a["name"] for a in alarms] == ["CertificateRevoked"]
    # within Check Every: the answers are reused
    doc, by = run_rev(certmon)
    assert (doc["requests"], doc["from_cache"]) == (0, 2), doc
    # later: the answers are checked again, the CRL comes from the store's
    # cache (its nextUpdate has not passed): still no download
    later = iso(datetime.now(timezone.utc) + timedelta(hours=2))
    doc, by = run_rev(certmon, "--at", later)
    assert (doc["requests"], doc["from_cache"]) == (0, 0), doc
    assert by["CDP Revoked Leaf"]["status"] == "revoked"
    assert srv.count - seen == 1


def test_configured_crl_uri_pem_and_hold(certmon, env):
    pki, srv = env["pki"], env["srv"]
    certmon.ok("cert", "upload", "--unit", "tomcat-trust", pki.int)
    certmon.ok("cert", "upload", "--unit", "tomcat", pki.good, pki.revoked,
               pki.hold)
    certmon.ok("revocation", "set", "--crl", "on", "--crl-uri",
               srv.url("int.pem.crl"))
    doc, by = run_rev(certmon)
    assert {cn: x["status"] for cn, x in by.items()} == {
        "Good Leaf": "good", "Revoked Leaf": "revoked",
        "Held Leaf": "revoked"}, doc
    assert "certificateHold" in by["Held Leaf"]["reason"]


def test_crl_answers_when_ocsp_gives_no_valid_answer(certmon, env):
    pki, srv = env["pki"], env["srv"]
    certmon.ok("cert", "upload", "--unit", "tomcat-trust", pki.int)
    certmon.ok("cert", "upload", "--unit", "tomcat", pki.good, pki.revoked)
    certmon.ok("revocation", "set", "--ocsp", "on", "--uri-source",
               "configured", "--uri", closed_port_url(), "--crl", "on",
               "--crl-uri", srv.url("int.crl"))
    doc, by = run_rev(certmon)
    assert {cn: (x["status"], x["source"]) for cn, x in by.items()} == {
        "Good Leaf": ("good", "crl"), "Revoked Leaf": ("revoked", "crl")}, doc
    # the upload check falls back the same way
    certmon.ok("cert", "delete", by["Revoked Leaf"]["fingerprint"][:16])
    r = certmon("cert", "upload", "--unit", "tomcat", pki.revoked)
    assert r.rc == 1 and "keyCompromise" in one_line_error(r), r
    # both fail: one error naming both
    certmon.ok("revocation", "set", "--crl-uri", srv.url("missing.crl"))
    later = iso(datetime.now(timezone.utc) + timedelta(days=2))
    doc, by = run_rev(certmon, "--at", later)
    good = by["Good Leaf"]
    assert good["status"] == "error", doc
    assert good["reason"].startswith("OCSP: fetch: "), good
    assert "CRL: no valid CRL: " in good["reason"] and "HTTP status 404" in \
        good["reason"], good


@pytest.mark.parametrize("crl, why", [
    ("int-wrong-key.crl", "CRL signature: the CRL's signature does not "
     "verify with the key of the issuer certificate"),
    ("int-expired.crl", "CRL freshness: stale CRL: nextUpdate"),
    ("int-delta.crl", "CRL kind: a delta CRL (deltaCRLIndicator) is refused"),
    ("int-indirect.crl", "CRL kind: an indirect CRL"),
    ("int-idp-elsewhere.crl", "CRL scope: the issuingDistributionPoint does "
     "not name"),
])
def test_refused_crls_are_errors(certmon, env, crl, why):
    pki, srv = env["pki"], env["srv"]
    certmon.ok("cert", "upload", "--unit", "tomcat-trust", pki.int)
    certmon.ok("cert", "upload", "--unit", "tomcat", pki.revoked)
    certmon.ok("revocation", "set", "--crl", "on", "--crl-uri", srv.url(crl))
    doc, by = run_rev(certmon)
    rev = by["Revoked Leaf"]
    assert (rev["status"], rev["source"], rev["verdict"]) == \
        ("error", "crl", "pass"), doc         # never revoked, never good
    assert why in rev["reason"], rev
    alarms = certmon.ok("events", "--kind", "alarm", "--json").json["events"]
    assert [a["name"] for a in alarms] == ["RevocationCheckFailed"]
    # Common Criteria: no valid answer fails
    certmon.ok("params", "set", "--common-criteria", "on")
    doc, by = run_rev(certmon)
    assert by["Revoked Leaf"]["verdict"] == "fail"


def test_crl_naming_its_distribution_point(certmon, env):
    pki, srv = env["pki"], env["srv"]
    certmon.ok("cert", "upload", "--unit", "tomcat-trust", pki.int)
    certmon.ok("cert", "upload", "--unit", "tomcat", pki.revoked)
    certmon.ok("revocation", "set", "--crl", "on", "--crl-uri",
               srv.url("int-idp.crl"))
    doc, by = run_rev(certmon)
    assert by["Revoked Leaf"]["status"] == "revoked", doc


def test_signer_without_crlsign(certmon, env):
    certmon.ok("cert", "upload", "--unit", "tomcat-trust", env["nosign_ca"])
    certmon.ok("cert", "upload", "--unit", "tomcat", env["nosign_leaf"])
    certmon.ok("revocation", "set", "--crl", "on")     # the leaf's CDP
    doc, by = run_rev(certmon)
    leaf = by["No cRLSign Leaf"]
    assert leaf["status"] == "error", doc
    assert "CRL signer: the issuer certificate (CN=No cRLSign CA,O=certmon " \
        "tests) lacks cRLSign" in leaf["reason"], leaf


def test_common_criteria_checks_a_delegated_responder_by_crl(certmon, env):
    pki, srv = env["pki"], env["srv"]
    resp = env["responders"]["delegated_cdp"]
    certmon.ok("cert", "upload", "--unit", "tomcat-trust", pki.int)
    certmon.ok("cert", "upload", "--unit", "tomcat", pki.revoked)
    certmon.ok("params", "set", "--common-criteria", "on")
    # the responder certificate's own CDP answers nobody: no valid answer
    certmon.ok("revocation", "set", "--ocsp", "on", "--uri-source",
               "configured", "--uri", resp.url)
    doc, by = run_rev(certmon)
    rev = by["Revoked Leaf"]
    assert rev["status"] == "error", doc
    assert "its CRL check says error" in rev["reason"], rev
    # with the intermediate's CRL (CRL URIs apply to responders too), the
    # delegated responder is vouched for and its answer accepted
    certmon.ok("revocation", "set", "--crl-uri", srv.url("int.crl"))
    doc, by = run_rev(certmon)
    rev = by["Revoked Leaf"]
    assert (rev["status"], rev["source"]) == ("revoked", "ocsp"), doc
    assert "Delegated CDP Responder" in rev["reason"]
