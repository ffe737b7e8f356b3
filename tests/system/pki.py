"""Certificates for the system tests, made on the spot with the openssl CLI.

Every fixture the tests use is created here (no binary fixtures), with
faketime where a certificate must have been issued in the past or future.
"""
import glob
import os
import subprocess
from pathlib import Path


def faketime_env(spec, env=None):
    """The environment that runs a program at the faked time `spec` (as
    `faketime -f SPEC`, e.g. "-10d"): libfaketime preloaded directly. The
    `faketime` wrapper is not used: it keeps a named semaphore per PID in
    /dev/shm, left behind when the process is killed, and a later process
    that gets the same PID then fails with "sem_open: File exists"."""
    libs = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not libs:
        raise RuntimeError("libfaketime not found: apt-get install faketime")
    env = dict(os.environ if env is None else env)
    env["LD_PRELOAD"] = libs[0]
    env["FAKETIME"] = spec
    return env


def run(*args, cwd=None, env=None, faketime=None):
    if faketime is not None:
        env = faketime_env(faketime, env)
    subprocess.run(list(args), cwd=cwd, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Pki:
    """A small PKI in a directory: one root CA and leaves on demand."""

    def __init__(self, root: Path):
        self.dir = Path(root)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.key = self.dir / "leaf.key"   # one EC key for all leaves: fast
        run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
            "-out", str(self.key))
        self.ca_key = self.dir / "ca.key"
        self.ca = self.dir / "ca.pem"
        run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout",
            "-out", str(self.ca_key))
        run("openssl", "req", "-x509", "-new", "-key", str(self.ca_key),
            "-subj", "/O=certmon tests/CN=Test Root CA", "-days", "3650",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-out", str(self.ca), faketime="-1d")
        self._n = 0

    def leaf(self, cn, days=365, name=None, faketime=None, key=None,
             san=None, eku="serverAuth", ca_key=None, ca=None, utf8=False):
        """Issues a leaf certificate for cn; returns its PEM path.

        faketime shifts the issuing time (e.g. "-400d" for an expired one,
        "+1d" for a renewal with a later notBefore)."""
        self._n += 1
        name = name or f"leaf{self._n}"
        csr = self.dir / f"{name}.csr"
        out = self.dir / f"{name}.pem"
        ext = self.dir / f"{name}.ext"
        if san is None:
            host = "".join(ch for ch in cn.lower() if ch.isascii() and
                           (ch.isalnum() or ch in ".-"))
            san = f"DNS:{host or 'example.test'}"
        ext.write_text(
            f"subjectAltName={san}\n"
            f"extendedKeyUsage={eku}\n"
            "basicConstraints=CA:FALSE\n"
            "authorityInfoAccess=OCSP;URI:http://127.0.0.1:8888/ocsp\n"
            "crlDistributionPoints=URI:http://127.0.0.1:8889/root.crl\n")
        subj = ["-subj", f"/O=certmon tests/CN={cn}"]
        if utf8:
            subj.append("-utf8")
        run("openssl", "req", "-new", "-key", str(key or self.key), *subj,
            "-out", str(csr))
        run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca or self.ca),
            "-CAkey", str(ca_key or self.ca_key), "-set_serial",
            str(int.from_bytes(os.urandom(8), "big")), "-days", str(days),
            "-extfile", str(ext), "-out", str(out), faketime=faketime)
        return out

    def der(self, pem, name=None):
        out = self.dir / (name or Path(pem).stem + ".der")
        run("openssl", "x509", "-in", str(pem), "-outform", "DER",
            "-out", str(out))
        return out

    def p7b(self, pems, name, der=False):
        out = self.dir / name
        args = ["openssl", "crl2pkcs7", "-nocrl"]
        for p in pems:
            args += ["-certfile", str(p)]
        args += ["-out", str(out)]
        if der:
            args += ["-outform", "DER"]
        run(*args)
        return out

    def p12(self, pem, name, password, key=None, chain=(), iterations=None):
        out = self.dir / name
        args = ["openssl", "pkcs12", "-export", "-in", str(pem), "-inkey",
                str(key or self.key), "-passout", f"pass:{password}",
                "-out", str(out)]
        for c in chain:
            args += ["-certfile", str(c)]
        if iterations is not None:
            args += ["-iter", str(iterations)]
        run(*args)
        return out

    def rsa_leaf(self, cn, bits, name):
        key = self.dir / f"{name}.key"
        run("openssl", "genrsa", "-out", str(key), str(bits))
        return self.leaf(cn, name=name, key=key)
