"""certmon unit list | add | remove"""
import os
import sqlite3
import stat

from conftest import one_line_error

SEEDED = {
    "tomcat": "identity", "tomcat-ECDSA": "identity",
    "CallManager": "identity", "CallManager-ECDSA": "identity",
    "ipsec": "identity", "CAPF": "identity", "TVS": "identity",
    "ITLRecovery": "identity", "tomcat-trust": "trust",
    "CallManager-trust": "trust", "CAPF-trust": "trust",
    "ipsec-trust": "trust", "TVS-trust": "trust", "Phone-trust": "trust",
    "lsc": "lsc",
}


def units(certmon):
    return {u["name"]: u for u in certmon.ok("unit", "list", "--json").json["units"]}


def test_new_store_is_seeded_with_the_standard_units(certmon):
    got = units(certmon)
    assert {n: u["kind"] for n, u in got.items()} == SEEDED
    assert all(u["certs"] == 0 for u in got.values())


def test_human_unit_list_is_an_aligned_table(certmon):
    out = certmon.ok("unit", "list").out.splitlines()
    assert out[0].split()[:4] == ["UNIT", "KIND", "CERTS", "HISTORY"]
    assert len(out) == 1 + len(SEEDED)
    col = out[0].index("KIND")
    assert all(line[col - 2:col] == "  " for line in out[1:])


def test_store_file_is_private_and_in_wal_mode(certmon):
    certmon.ok("unit", "list")
    assert stat.S_IMODE(os.stat(certmon.db).st_mode) == 0o600
    with sqlite3.connect(certmon.db) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 1
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_db_defaults_to_env_then_cwd(tmp_path):
    import subprocess
    from conftest import BIN
    env = dict(os.environ, CERTMON_DB=str(tmp_path / "env.db"))
    subprocess.run([BIN, "unit", "list"], env=env, check=True,
                   capture_output=True)
    assert (tmp_path / "env.db").exists()
    env.pop("CERTMON_DB")
    subprocess.run([BIN, "unit", "list"], env=env, cwd=tmp_path, check=True,
                   capture_output=True)
    assert (tmp_path / "certmon.db").exists()


def test_add_unit_kinds(certmon):
    certmon.ok("unit", "add", "web")
    certmon.ok("unit", "add", "partners-trust")
    certmon.ok("unit", "add", "phones", "--lsc")
    certmon.ok("unit", "add", "roots", "--trust")
    got = units(certmon)
    assert got["web"]["kind"] == "identity"
    assert got["partners-trust"]["kind"] == "trust"
    assert got["phones"]["kind"] == "lsc"
    assert got["roots"]["kind"] == "trust"
    events = certmon.ok("events", "--json").json["events"]
    assert any(e["name"] == "unit.added" and e["unit"] == "web" for e in events)


def test_add_unit_refusals_change_nothing(certmon):
    before = certmon.snapshot()
    for args, words in [
        (["tomcat"], "exists already"),
        (["bad name"], "invalid"),
        (["x" * 65], "invalid"),
        (["a;b"], "invalid"),
        (["foo-trust", "--identity"], "trust unit"),
    ]:
        r = certmon("unit", "add", *args)
        assert r.rc == 1, r
        assert words in one_line_error(r)
    assert certmon.snapshot() == before


def test_add_unit_usage_errors(certmon):
    r = certmon("unit", "add")
    assert r.rc == 2
    r = certmon("unit", "add", "x", "--trust", "--lsc")
    assert r.rc == 2
    r = certmon("unit", "frobnicate")
    assert r.rc == 2


def test_remove_unit(certmon, pki):
    certmon.ok("unit", "add", "web")
    certmon.ok("unit", "remove", "web")
    assert "web" not in units(certmon)
    r = certmon("unit", "remove", "web")
    assert r.rc == 1 and "unknown unit 'web'" in one_line_error(r)


def test_remove_unit_holding_certificates_needs_force(certmon, pki):
    leaf = pki.leaf("remove.example")
    certmon.ok("unit", "add", "web")
    certmon.ok("cert", "upload", "--unit", "web", leaf)
    before = certmon.snapshot()
    r = certmon("unit", "remove", "web")
    assert r.rc == 1 and "--force" in one_line_error(r)
    assert certmon.snapshot() == before
    certmon.ok("unit", "remove", "web", "--force")
    assert "web" not in units(certmon)
    assert certmon.certs() == []


def test_json_error_document(certmon):
    r = certmon("unit", "add", "tomcat", "--json")
    assert r.rc == 1
    doc = r.json
    assert doc["status"] == "error"
    assert "exists already" in doc["error"]
