"""certmon inspect: fields without a store."""
import os

from conftest import one_line_error


def test_inspect_json_fields(certmon, pki, tmp_path):
    leaf = pki.leaf("inspect.example", days=90)
    r = certmon.ok("inspect", "--json", leaf)
    [c] = r.json["certs"]
    assert c["subject_cn"] == "inspect.example"
    assert c["sans"] == ["DNS:inspect.example"]
    assert c["ekus"] == ["serverAuth"]
    assert c["ocsp_urls"] == ["http://127.0.0.1:8888/ocsp"]
    assert c["crl_urls"] == ["http://127.0.0.1:8889/root.crl"]
    assert c["key_type"] == "EC" and c["version"] == 3
    assert c["days_left"] in (89, 90)
    assert not os.path.exists(certmon.db)   # no store involved


def test_inspect_human_and_errors(certmon, pki, tmp_path):
    leaf = pki.leaf("inspect2.example")
    bad = tmp_path / "bad.pem"
    bad.write_text("nope")
    r = certmon("inspect", leaf, bad)
    assert r.rc == 1
    assert "inspect2.example" in r.out
    assert str(bad) in one_line_error(r)
    j = certmon("inspect", "--json", leaf, bad)
    assert j.json["status"] == "error" and len(j.json["certs"]) == 1
