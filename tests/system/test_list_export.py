"""cert list (columns, states, filters), cert export, CERTMON_NOW."""
import subprocess

from conftest import one_line_error


def test_list_columns_and_states(certmon, pki):
    certmon.ok("cert", "upload", "--unit", "tomcat",
               pki.leaf("long.example", days=300))
    certmon.ok("cert", "upload", "--unit", "CallManager",
               pki.leaf("soon.example", days=10))
    certmon.ok("cert", "upload", "--unit", "ipsec",
               pki.leaf("tomorrow.example", days=1))
    certmon.ok("cert", "upload", "--unit", "TVS",
               pki.leaf("gone.example", days=10, faketime="-20d"))
    states = {c["subject_cn"]: c["state"] for c in certmon.certs()}
    assert states == {"long.example": "valid", "soon.example": "expiring",
                      "tomorrow.example": "critical", "gone.example": "expired"}
    for state, cn in [("valid", "long.example"), ("expiring", "soon.example"),
                      ("critical", "tomorrow.example"),
                      ("expired", "gone.example")]:
        assert [c["subject_cn"] for c in certmon.certs("--state", state)] == [cn]
    # soonest first
    assert [c["subject_cn"] for c in certmon.certs()] == [
        "gone.example", "tomorrow.example", "soon.example", "long.example"]
    lines = certmon.ok("cert", "list").out.splitlines()
    assert lines[0].split() == ["UNIT", "SUBJECT", "CN", "ISSUER", "CN",
                                "SERIAL", "NOT", "AFTER", "(UTC)", "DAYS",
                                "STATE", "REVOCATION", "FINGERPRINT"]
    assert "gone.example" in lines[1] and "expired" in lines[1]
    assert "unchecked" in lines[1]


def test_now_can_be_moved(certmon, pki):
    certmon.ok("cert", "upload", "--unit", "tomcat",
               pki.leaf("move.example", days=100))
    later = {"CERTMON_NOW": "2099-01-01T00:00:00Z"}
    [c] = certmon.ok("cert", "list", "--json", env=later).json["certs"]
    assert c["state"] == "expired"
    r = certmon("cert", "list", env={"CERTMON_NOW": "tomorrow"})
    assert r.rc == 2 and "ISO 8601" in r.err


def test_filters_by_unit_and_search(certmon, pki):
    certmon.ok("cert", "upload", "--unit", "tomcat", pki.leaf("alpha.example"))
    certmon.ok("cert", "upload", "--unit", "CAPF", pki.leaf("beta.example"))
    assert [c["subject_cn"] for c in certmon.certs("--unit", "CAPF")] == [
        "beta.example"]
    assert [c["subject_cn"] for c in certmon.certs("--search", "ALPH")] == [
        "alpha.example"]
    r = certmon("cert", "list", "--unit", "nope")
    assert r.rc == 1 and "unknown unit" in one_line_error(r)


def test_revoked_state_filter(certmon, pki):
    import sqlite3
    certmon.ok("cert", "upload", "--unit", "tomcat-trust",
               pki.leaf("rev.example"), pki.leaf("fine.example"))
    # Until `certmon revocation run` exists, record a revocation answer
    # directly, as that run will.
    with sqlite3.connect(certmon.db) as db:
        db.execute("INSERT INTO revocation (cert_id, status, checked_at) "
                   "SELECT id, 'revoked', 1 FROM certs WHERE subject_cn = "
                   "'rev.example'")
    assert [c["subject_cn"] for c in certmon.certs("--state", "revoked")] == [
        "rev.example"]


def test_export_leaves_out_expired_and_revoked(certmon, pki, tmp_path):
    import sqlite3
    good = pki.leaf("export-good.example")
    expired = pki.leaf("export-old.example", days=5, faketime="-30d")
    revoked = pki.leaf("export-revoked.example")
    certmon.ok("cert", "upload", "--unit", "tomcat-trust", good, expired,
               revoked)
    with sqlite3.connect(certmon.db) as db:
        db.execute("INSERT INTO revocation (cert_id, status, checked_at) "
                   "SELECT id, 'revoked', 1 FROM certs WHERE subject_cn = "
                   "'export-revoked.example'")
    out = tmp_path / "bundle.pem"
    doc = certmon.ok("cert", "export", "--unit", "tomcat-trust", "--out", out,
                     "--json").json
    assert doc["exported"] == 1 and doc["skipped"] == 2
    assert out.read_text() == good.read_text()
    # the bundle is what `openssl` loads as a trust store
    subprocess.run(["openssl", "verify", "-CAfile", str(pki.ca), str(out)],
                   check=True, capture_output=True)
    stdout_bundle = certmon.ok("cert", "export", "--unit", "tomcat-trust").out
    assert stdout_bundle == good.read_text()
    r = certmon("cert", "export", "--unit", "tomcat-trust", "--out",
                tmp_path / "no-such-dir" / "x.pem")
    assert r.rc == 1 and "cannot write" in one_line_error(r)


def test_odd_characters_are_escaped(certmon, pki):
    leaf = pki.leaf("Zoë \"quoted\" <b>", utf8=True)
    certmon.ok("cert", "upload", "--unit", "tomcat", leaf)
    [c] = certmon.certs()
    assert c["subject_cn"] == "Zoë \"quoted\" <b>"
    assert "Zoë" in certmon.ok("cert", "list").out
