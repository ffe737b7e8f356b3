"""TLS peers for the TLS system tests, all made on the spot:

    TlsPki        the OCSP test PKI of ocsp_pki.py (root -> intermediate run
                  as `openssl ca`) plus TLS server leaves for tls.test and
                  127.0.0.1 (one key for all), stapled OCSP responses made
                  with `openssl ocsp -reqin` (no port), and a CRL
    SServer       `openssl s_server` serving one leaf + the intermediate,
                  optionally stapling a response file (-status_file) or
                  limited to TLS 1.2
    StartTlsServer a small Python server that speaks enough SMTP (EHLO,
                  STARTTLS) or LDAP (the StartTLS extended operation) and
                  then wraps the socket with ssl (`openssl s_server` has no
                  server-side STARTTLS)
    build_example builds examples/tls_client.c against `make install-lib
                  PREFIX=...` with `pkg-config --cflags --libs certmon`

Leaves (serverAuth, SAN DNS:tls.test + IP:127.0.0.1, AIA OCSP at the
CA's responder port, unless said otherwise):
    good, revoked (keyCompromise), unknown (never entered in the index),
    expired (January 2020), noeku (no EKU extension), clientonly (EKU
    clientAuth only), silent (AIA at a socket that never answers),
    crlonly (revoked; AIA at a refused port; a CRL distribution point
    served by a FixedHttp), late (revoked by a test while connected)
Staples: staple_good/revoked/unknown, stale (made 10 days ago, nextUpdate
9 days ago), rogue (signed by a self-signed "Rogue" responder, saying good
for the revoked leaf).
A port is awaited with `ss -ltn`, never by connecting.
"""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

from ocsp_pki import FixedHttp, OcspPki, free_port, port_listening, run

ROOT = Path(__file__).resolve().parents[2]

TLS_SECTIONS = """
[ tls_leaf_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:tls.test,IP:127.0.0.1
authorityInfoAccess = OCSP;URI:http://127.0.0.1:{aia}/

[ tls_noeku_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
subjectAltName = DNS:tls.test,IP:127.0.0.1
authorityInfoAccess = OCSP;URI:http://127.0.0.1:{aia}/

[ tls_clientonly_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:tls.test,IP:127.0.0.1
authorityInfoAccess = OCSP;URI:http://127.0.0.1:{aia}/

[ tls_silent_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:tls.test,IP:127.0.0.1
authorityInfoAccess = OCSP;URI:http://127.0.0.1:{silent}/

[ tls_crl_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:tls.test,IP:127.0.0.1
authorityInfoAccess = OCSP;URI:http://127.0.0.1:{refused}/
crlDistributionPoints = URI:http://127.0.0.1:{crl}/int.crl
"""


class TlsPki:
    """The PKI above in a directory. Attributes are paths; the caller
    starts the CA responder (ca_responder()) and the CRL server (crl_http)
    and closes silent_sock."""

    def __init__(self, root):
        self.pki = p = OcspPki(root)
        self.dir = p.dir
        self.int, self.root = p.int, p.root
        self.key = p.leaf_key
        # a socket that listens and never answers, held open by the caller
        self.silent_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.silent_sock.bind(("127.0.0.1", 0))
        self.silent_sock.listen(64)
        silent = self.silent_sock.getsockname()[1]
        self.crl_der = self.dir / "int.crl.der"
        self.crl_http = FixedHttp({})       # routes filled below
        with open(p.conf, "a") as f:
            f.write(TLS_SECTIONS.format(aia=p.aia_port, silent=silent,
                                        refused=free_port(),
                                        crl=self.crl_http.port))
        self.good = p.issue("tls-good", "TLS Good", "tls_leaf_ext")
        self.revoked = p.issue("tls-revoked", "TLS Revoked", "tls_leaf_ext")
        self.late = p.issue("tls-late", "TLS Late", "tls_leaf_ext")
        self.expired = p.issue("tls-expired", "TLS Expired", "tls_leaf_ext",
                               dates=("20200101000000Z", "20200201000000Z"))
        self.noeku = p.issue("tls-noeku", "TLS No EKU", "tls_noeku_ext")
        self.clientonly = p.issue("tls-clientonly", "TLS Client Only",
                                  "tls_clientonly_ext")
        self.silent = p.issue("tls-silent", "TLS Silent", "tls_silent_ext")
        self.crlonly = p.issue("tls-crlonly", "TLS CRL Only", "tls_crl_ext")
        # unknown: signed by the intermediate, never entered in the index
        self.unknown = self.dir / "tls-unknown.pem"
        ext = self.dir / "tls-unknown.ext"
        ext.write_text(
            "basicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectAltName=DNS:tls.test,IP:127.0.0.1\n"
            f"authorityInfoAccess=OCSP;URI:http://127.0.0.1:{p.aia_port}/\n")
        run("openssl", "x509", "-req", "-in",
            p.csr("tls-unknown", self.key, "TLS Unknown"), "-CA", p.int,
            "-CAkey", p.int_key, "-set_serial", "0x7E57C0FFEE", "-days", "365",
            "-extfile", ext, "-out", self.unknown)
        for leaf in (self.revoked, self.crlonly):
            run("openssl", "ca", "-batch", "-config", p.conf, "-revoke", leaf,
                "-crl_reason", "keyCompromise")
        # staples (before `late` is revoked: the rogue index is a copy)
        index = self.dir / "index.txt"
        self.staples = {
            "good": self.staple(self.good, index),
            "revoked": self.staple(self.revoked, index),
            "unknown": self.staple(self.unknown, index),
            "stale": self.staple(self.good, index, faketime="-10d",
                                 name="stale"),
        }
        rogue_index = self.dir / "rogue-index.txt"
        rogue_index.write_text("".join(
            "V" + line[1:] if line.startswith("R") else line
            for line in index.read_text().splitlines(True)))
        # a "good" for the revoked leaf, signed by nobody the CA vouches for
        self.staples["rogue"] = self.staple(
            self.revoked, rogue_index, signer=p.responders["rogue"],
            name="rogue")
        # the CRL (lists revoked and crlonly), served over HTTP
        crl_pem = self.dir / "int.crl.pem"
        run("openssl", "ca", "-batch", "-config", p.conf, "-gencrl",
            "-crldays", "2", "-out", crl_pem)
        run("openssl", "crl", "-in", crl_pem, "-outform", "DER",
            "-out", self.crl_der)
        self.crl_http.routes["/int.crl"] = (
            200, {"Content-Type": "application/pkix-crl"},
            self.crl_der.read_bytes())
        # chains for servers that take one file
        self.chains = {}

    def staple(self, leaf, index, signer=None, faketime=None, name=None):
        """A DER OCSP response about leaf, made by `openssl ocsp` from a
        request file (no port), signed by the intermediate or signer."""
        name = name or Path(leaf).stem
        req = self.dir / f"staple-{name}.req"
        out = self.dir / f"staple-{name}.der"
        run("openssl", "ocsp", "-issuer", self.int, "-cert", leaf,
            "-reqout", req, "-no_nonce")
        pem, key = signer or (self.int, self.pki.int_key)
        run("openssl", "ocsp", "-index", index, "-rsigner", pem, "-rkey", key,
            "-CA", self.int, "-reqin", req, "-respout", out, "-ndays", "1",
            faketime=faketime)
        return out

    def revoke(self, leaf):
        run("openssl", "ca", "-batch", "-config", self.pki.conf, "-revoke",
            leaf, "-crl_reason", "keyCompromise")

    def chain(self, leaf):
        """leaf + intermediate in one PEM file (for Python's ssl)."""
        if leaf not in self.chains:
            out = self.dir / (Path(leaf).stem + "-chain.pem")
            out.write_text(Path(leaf).read_text() +
                           Path(self.int).read_text())
            self.chains[leaf] = out
        return self.chains[leaf]

    def ca_responder(self, **kw):
        """`openssl ocsp` signing as the intermediate on the leaves' AIA
        port (not started)."""
        return self.pki.responder("ca", port=self.pki.aia_port, **kw)


class SServer:
    """`openssl s_server -www` for one leaf on a free port."""

    def __init__(self, pki, leaf, staple=None, tls12=False, extra=()):
        self.pki = pki
        self.leaf = leaf
        self.staple = staple
        self.tls12 = tls12
        self.extra = list(extra)
        self.port = None
        self.proc = None
        self.log_path = None

    def start(self, timeout=15.0):
        for _attempt in range(5):
            self.port = free_port()
            argv = ["openssl", "s_server", "-accept",
                    f"127.0.0.1:{self.port}", "-cert", self.leaf, "-key",
                    self.pki.key, "-cert_chain", self.pki.int, "-www"]
            if self.staple is not None:
                argv += ["-status_file", self.staple]
            if self.tls12:
                argv.append("-tls1_2")
            argv += self.extra
            self.log_path = self.pki.dir / f"s_server-{self.port}.log"
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [str(a) for a in argv], stdin=subprocess.DEVNULL,
                    stdout=log, stderr=log, start_new_session=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if port_listening(self.port):
                    return self
                time.sleep(0.02)
            if self.proc.poll() is None:
                self.stop()
                raise RuntimeError(f"s_server did not listen: {self.log()}")
        raise RuntimeError(f"s_server exited: {self.log()}")

    @property
    def target(self):
        return f"127.0.0.1:{self.port}"

    def stop(self):
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except (OSError, AttributeError):
            return ""


# The LDAP StartTLS request certmon sends, and the answers.
LDAP_STARTTLS_REQ = (bytes([0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80,
                            0x16]) + b"1.3.6.1.4.1.1466.20037")
LDAP_STARTTLS_OK = bytes([0x30, 0x0c, 0x02, 0x01, 0x01, 0x78, 0x07, 0x0a,
                          0x01, 0x00, 0x04, 0x00, 0x04, 0x00])


def ldap_refusal(code, message):
    msg = message.encode()
    inner = bytes([0x0a, 0x01, code, 0x04, 0x00, 0x04, len(msg)]) + msg
    op = bytes([0x78, len(inner)]) + inner
    body = bytes([0x02, 0x01, 0x01]) + op
    return bytes([0x30, len(body)]) + body


class StartTlsServer:
    """SMTP or LDAP up to STARTTLS, then TLS with Python's ssl, for each
    connection in turn. refuse=True answers STARTTLS with an error."""

    def __init__(self, proto, chain, key, refuse=False):
        self.proto = proto
        self.refuse = refuse
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(chain), str(key))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.errors = []
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def target(self):
        return f"127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.sock.close()

    @staticmethod
    def _line(f):
        return f.readline(1024).decode(errors="replace").strip()

    def _smtp(self, conn):
        f = conn.makefile("rb")
        conn.sendall(b"220 mail.test ESMTP ready\r\n")
        if not self._line(f).upper().startswith("EHLO"):
            raise RuntimeError("no EHLO")
        conn.sendall(b"250-mail.test\r\n250-SIZE 1000000\r\n250 STARTTLS\r\n")
        if self._line(f).upper() != "STARTTLS":
            raise RuntimeError("no STARTTLS")
        if self.refuse:
            conn.sendall(b"454 TLS not available now\r\n")
            return False
        conn.sendall(b"220 go ahead\r\n")
        return True

    def _ldap(self, conn):
        got = b""
        while len(got) < len(LDAP_STARTTLS_REQ):
            chunk = conn.recv(len(LDAP_STARTTLS_REQ) - len(got))
            if not chunk:
                raise RuntimeError("short LDAP request")
            got += chunk
        if got != LDAP_STARTTLS_REQ:
            raise RuntimeError(f"unexpected LDAP request {got.hex()}")
        if self.refuse:
            conn.sendall(ldap_refusal(2, "StartTLS not supported here"))
            return False
        conn.sendall(LDAP_STARTTLS_OK)
        return True

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                conn.settimeout(10)
                go = self._smtp(conn) if self.proto == "smtp" else \
                    self._ldap(conn)
                if go:
                    tls = self.ctx.wrap_socket(conn, server_side=True)
                    try:
                        tls.recv(1)     # until the client closes
                    except (OSError, ssl.SSLError):
                        pass
                    tls.close()
            except Exception as e:      # noqa: BLE001 - recorded for tests
                self.errors.append(repr(e))
            finally:
                conn.close()


def build_example(tmp):
    """Installs libcertmon under tmp/prefix (`make install-lib`) and builds
    examples/tls_client.c with `pkg-config --cflags --libs certmon`.
    Returns the binary's path."""
    tmp = Path(tmp)
    prefix = tmp / "prefix"
    proc = subprocess.run(["make", "-s", "-C", str(ROOT), "install-lib",
                           f"PREFIX={prefix}"], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"make install-lib failed: {proc.stderr[-3000:]}")
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "certmon"],
                           capture_output=True, text=True, env=env,
                           check=True).stdout.split()
    out = tmp / "tls_client"
    cc = shutil.which(os.environ.get("CC", "cc")) or "cc"
    proc = subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror",
                           "-o", str(out), str(ROOT / "examples" /
                                               "tls_client.c"), *flags,
                           f"-Wl,-rpath,{prefix / 'lib'}"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"building the example failed: {proc.stderr}")
    return out, flags
