"""certmon cert upload: formats and the upload rules of DESIGN.md."""
import os
import sqlite3
import subprocess

import pytest

from conftest import one_line_error


def upload(certmon, unit, *files, **kw):
    return certmon.ok("cert", "upload", "--unit", unit, "--json", *files, **kw).json


def fingerprint(pem):
    out = subprocess.run(["openssl", "x509", "-in", str(pem), "-noout",
                          "-fingerprint", "-sha256"], capture_output=True,
                         text=True, check=True).stdout
    return out.strip().split("=", 1)[1].replace(":", "").lower()


def serial(pem):
    out = subprocess.run(["openssl", "x509", "-in", str(pem), "-noout",
                          "-serial"], capture_output=True, text=True,
                         check=True).stdout
    return out.strip().split("=", 1)[1].upper()


def test_pem_upload_stores_every_field(certmon, pki):
    leaf = pki.leaf("web1.example", days=200)
    doc = upload(certmon, "tomcat", leaf)
    assert doc["added"] == 1 and doc["certs"][0]["action"] == "added"
    [c] = certmon.certs()
    assert c["fingerprint"] == fingerprint(leaf)
    assert c["unit"] == "tomcat" and c["unit_kind"] == "identity"
    assert c["subject_cn"] == "web1.example"
    assert c["issuer_cn"] == "Test Root CA"
    assert c["serial"] == serial(leaf).lstrip("0") or c["serial"] == serial(leaf)
    assert c["days_left"] in (199, 200)
    assert c["state"] == "valid"
    assert c["revocation"] == "unchecked"
    assert c["key_type"] == "EC" and c["key_bits"] == 256
    assert c["sig_alg"] == "ecdsa-with-SHA256"
    assert c["is_ca"] is False
    shown = certmon.ok("cert", "show", c["fingerprint"][:10], "--json").json["cert"]
    assert shown["sans"] == ["DNS:web1.example"]
    assert shown["ekus"] == ["serverAuth"]
    assert shown["ocsp_urls"] == ["http://127.0.0.1:8888/ocsp"]
    assert shown["crl_urls"] == ["http://127.0.0.1:8889/root.crl"]
    assert shown["pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert shown["pem"] == leaf.read_text()
    assert [e["name"] for e in shown["events"]] == ["cert.added"]


def test_same_certificate_twice_is_a_no_op(certmon, pki):
    leaf = pki.leaf("twice.example")
    upload(certmon, "tomcat", leaf)
    before = certmon.snapshot()
    doc = upload(certmon, "tomcat", leaf)
    assert doc["unchanged"] == 1 and doc["added"] == 0
    assert certmon.snapshot() == before


def test_der_pem_bundle_and_pkcs7(certmon, pki):
    a = pki.leaf("a.example")
    b = pki.leaf("b.example")
    c = pki.leaf("c.example")
    d = pki.leaf("d.example")
    bundle = pki.dir / "bundle.pem"
    bundle.write_text(a.read_text() + "some text between blocks\n" + b.read_text())
    assert upload(certmon, "tomcat-trust", bundle)["added"] == 2
    assert upload(certmon, "tomcat-trust", pki.der(c))["added"] == 1
    p7 = pki.p7b([d, pki.ca], "chain.p7b", der=True)
    assert upload(certmon, "tomcat-trust", p7)["added"] == 2
    p7pem = pki.p7b([a, d], "chain-pem.p7b")
    assert upload(certmon, "tomcat-trust", p7pem)["unchanged"] == 2
    cns = sorted(x["subject_cn"] for x in certmon.certs("--unit", "tomcat-trust"))
    assert cns == ["Test Root CA", "a.example", "b.example", "c.example",
                   "d.example"]
    ca = [x for x in certmon.certs() if x["subject_cn"] == "Test Root CA"][0]
    assert ca["is_ca"] is True


def test_pkcs12_certificates_stored_private_key_never(certmon, pki, tmp_path):
    leaf = pki.leaf("p12.example")
    p12 = pki.p12(leaf, "id.p12", "s3cret", chain=[pki.ca])
    pwfile = tmp_path / "pw"
    pwfile.write_text("s3cret\n")
    doc = upload(certmon, "tomcat", "--password-file", pwfile, p12)
    assert sorted(c["subject_cn"] for c in doc["certs"]) == ["Test Root CA",
                                                              "p12.example"]
    keyder = subprocess.run(["openssl", "pkey", "-in", str(pki.key),
                             "-outform", "DER"], capture_output=True,
                            check=True).stdout
    # The private scalar of the EC key is the 32 bytes after the 0x04 0x20
    # tag of the ECPrivateKey: it must appear nowhere in the store.
    scalar = keyder[keyder.index(b"\x04\x20") + 2:][:32]
    certmon.ok("unit", "list")  # checkpoint nothing; read all files
    for name in os.listdir(certmon.db.parent):
        if name.startswith(certmon.db.name):
            assert scalar not in (certmon.db.parent / name).read_bytes()


def test_pkcs12_password_on_the_command_line(certmon, pki):
    leaf = pki.leaf("p12b.example")
    p12 = pki.p12(leaf, "idb.p12", "pw2")
    assert upload(certmon, "tomcat", "--password", "pw2", p12)["added"] == 1


def test_identity_unit_newer_not_before_replaces_older(certmon, pki):
    v1 = pki.leaf("rollover.example", name="roll-v1", faketime="-2d")
    v2 = pki.leaf("rollover.example", name="roll-v2")
    v0 = pki.leaf("rollover.example", name="roll-v0", faketime="-5d")
    upload(certmon, "tomcat", v1)
    doc = upload(certmon, "tomcat", v2)
    assert doc["replaced"] == 1
    assert doc["certs"][0]["replaced"] == fingerprint(v1)
    current = certmon.certs("--unit", "tomcat")
    assert [c["fingerprint"] for c in current] == [fingerprint(v2)]
    hist = certmon.certs("--unit", "tomcat", "--history")
    old = [c for c in hist if not c["current"]]
    assert [c["fingerprint"] for c in old] == [fingerprint(v1)]
    assert old[0]["replaced_by"] == fingerprint(v2)
    human = certmon.ok("cert", "list", "--history").out
    assert "replaced" in human and "current" in human
    # an older one is refused and changes nothing
    before = certmon.snapshot()
    r = certmon("cert", "upload", "--unit", "tomcat", v0)
    assert r.rc == 1
    assert "not newer" in one_line_error(r) and str(v0) in r.err
    assert certmon.snapshot() == before


def test_trust_unit_keeps_both(certmon, pki):
    v1 = pki.leaf("ca-rollover.example", name="tr-v1", faketime="-2d")
    v2 = pki.leaf("ca-rollover.example", name="tr-v2")
    upload(certmon, "CallManager-trust", v1)
    assert upload(certmon, "CallManager-trust", v2)["added"] == 1
    assert len(certmon.certs("--unit", "CallManager-trust")) == 2


def test_expired_certificate_is_accepted_with_a_warning(certmon, pki):
    old = pki.leaf("expired.example", days=30, faketime="-400d")
    r = certmon.ok("cert", "upload", "--unit", "tomcat", old)
    assert "warning" in r.err and "expired" in r.err
    [c] = certmon.certs()
    assert c["state"] == "expired" and c["days_left"] < 0


def test_upload_is_all_or_nothing(certmon, pki, tmp_path):
    good = pki.leaf("good.example")
    bad = tmp_path / "zz-garbage.pem"
    bad.write_bytes(os.urandom(300))
    before = certmon.snapshot()
    r = certmon("cert", "upload", "--unit", "tomcat", good, bad)
    assert r.rc == 1
    assert str(bad) in one_line_error(r)
    assert certmon.snapshot() == before


def test_directory_upload_takes_every_file(certmon, pki, tmp_path):
    d = tmp_path / "many"
    d.mkdir()
    for i in range(5):
        (d / f"c{i}.pem").write_text(pki.leaf(f"dir{i}.example").read_text())
    (d / ".hidden").write_text("ignored")
    doc = upload(certmon, "tomcat-trust", d)
    assert doc["added"] == 5


def test_same_certificate_in_several_units(certmon, pki):
    leaf = pki.leaf("shared.example")
    upload(certmon, "tomcat", leaf)
    upload(certmon, "CallManager", leaf)
    fp = fingerprint(leaf)
    r = certmon("cert", "show", fp[:8])
    assert r.rc == 1
    msg = one_line_error(r)
    assert "several units" in msg and "CallManager" in msg and "tomcat" in msg
    shown = certmon.ok("cert", "show", fp[:8], "--unit", "tomcat", "--json")
    assert shown.json["cert"]["unit"] == "tomcat"
    certmon.ok("cert", "delete", fp[:8], "--unit", "tomcat")
    rows = certmon.certs()
    assert [(c["unit"], c["fingerprint"]) for c in rows] == [("CallManager", fp)]
    certmon.ok("cert", "delete", fp)   # the only row left: no --unit needed
    assert certmon.certs() == []


def test_ocsp_responder_mark(certmon, pki):
    leaf = pki.leaf("responder.example", eku="OCSPSigning")
    upload(certmon, "tomcat-trust", "--ocsp-responder", leaf)
    assert certmon.certs()[0]["ocsp_responder"] is True
    certmon.ok("cert", "mark", fingerprint(leaf)[:6], "--no-ocsp-responder")
    assert certmon.certs()[0]["ocsp_responder"] is False


def test_audit_events_record_who_and_what(certmon, pki):
    leaf = pki.leaf("audit.example")
    upload(certmon, "tomcat", leaf)
    certmon.ok("cert", "delete", fingerprint(leaf)[:12])
    ev = certmon.ok("events", "--kind", "audit", "--json").json["events"]
    names = [e["name"] for e in ev]
    assert names[:2] == ["cert.deleted", "cert.added"]
    assert all(e["actor"].startswith("cli:") for e in ev[:2])
    assert ev[0]["fingerprint"] == fingerprint(leaf)
