"""Two writers at once: both uploads land (SQLite WAL + busy timeout)."""
import subprocess

from conftest import BIN


def test_two_concurrent_uploads_both_land(certmon, pki, tmp_path):
    dirs = []
    for w in range(2):
        d = tmp_path / f"w{w}"
        d.mkdir()
        for i in range(60):
            p = pki.leaf(f"w{w}-{i}.example", name=f"conc-{w}-{i}")
            (d / p.name).write_text(p.read_text())
        dirs.append(d)
    certmon.ok("unit", "list")   # create the store first
    procs = [subprocess.Popen([BIN, "--db", str(certmon.db), "cert", "upload",
                               "--unit", unit, str(d)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
             for unit, d in zip(["tomcat-trust", "CallManager-trust"], dirs)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert len(certmon.certs("--unit", "tomcat-trust")) == 60
    assert len(certmon.certs("--unit", "CallManager-trust")) == 60
    # and two concurrent stores being created at once
    fresh = tmp_path / "fresh.db"
    procs = [subprocess.Popen([BIN, "--db", str(fresh), "cert", "upload",
                               "--unit", "tomcat-trust", str(d)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for d in dirs]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    r = subprocess.run([BIN, "--db", str(fresh), "unit", "list", "--json"],
                       capture_output=True, text=True, check=True)
    assert len([u for u in __import__("json").loads(r.stdout)["units"]]) == 15
