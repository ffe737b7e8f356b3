"""A PKI and real OCSP responders for the OCSP system tests.

Everything is made on the spot with the openssl CLI (no binary fixtures):

    root CA -> intermediate CA (run as `openssl ca`, with an index.txt)
      leaves:     good, revoked (keyCompromise), hold (certificateHold),
                  expired (valid in January 2020), all in the index, with
                  the AIA OCSP URL http://127.0.0.1:<aia_port>/;
                  unknown (signed by the intermediate, never entered in the
                  index: the responder answers "unknown")
      responders: delegated     (OCSPSigning EKU + id-pkix-ocsp-nocheck)
                  delegated_cdp (OCSPSigning EKU + a CRL distribution point,
                                 no nocheck: Common Criteria needs a CRL)
                  noeku         (certified by the intermediate, no EKU)
    designated:   a self-signed responder certificate with OCSPSigning, given
                  to certmon with --trusted-responder
    rogue:        a self-signed responder nobody trusts

Responder processes are `openssl ocsp -index ... -port P -rsigner R -rkey K
-CA intermediate.pem`, optionally under `faketime` (responses from the past
or the future). A port is awaited with `ss -ltn`, never by connecting: an
empty connection makes `openssl ocsp` spin.
"""
import http.server
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from pki import faketime_env


def run(*args, cwd=None, faketime=None):
    cmd = [str(a) for a in args]
    env = faketime_env(faketime) if faketime is not None else None
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: "
                           f"{proc.stderr.decode(errors='replace')}")
    return proc.stdout


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_listening(port):
    """True when `ss -ltn` shows a socket listening on port (no connection
    is made)."""
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"],
                         capture_output=True, text=True).stdout
    return any(line.split()[3].endswith(f":{port}")
               for line in out.splitlines() if len(line.split()) >= 4)


CA_CONF = """\
[ ca ]
default_ca = int_ca

[ int_ca ]
dir = {dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
certificate = $dir/int.pem
private_key = $dir/int.key
default_md = sha256
default_days = 365
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no

[ policy_any ]
organizationName = optional
commonName = supplied

[ leaf_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:leaf.test
authorityInfoAccess = OCSP;URI:http://127.0.0.1:{aia_port}/

[ leaf_noaia_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth

[ delegated_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
noCheck = ignored

[ delegated_cdp_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = OCSPSigning
crlDistributionPoints = URI:http://127.0.0.1:9/int.crl

[ noeku_ext ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
"""


class OcspPki:
    """The PKI above in a directory. Attributes are paths."""

    def __init__(self, root):
        self.dir = Path(root)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "newcerts").mkdir(exist_ok=True)
        (self.dir / "index.txt").write_text("")
        (self.dir / "serial").write_text("1000\n")
        self.aia_port = free_port()
        self.conf = self.dir / "ca.cnf"
        self.conf.write_text(CA_CONF.format(dir=self.dir,
                                            aia_port=self.aia_port))
        d = self.dir
        # root and intermediate CAs
        self.root_key = self.key("root")
        self.root = d / "root.pem"
        run("openssl", "req", "-x509", "-new", "-key", self.root_key,
            "-subj", "/O=certmon tests/CN=OCSP Test Root", "-days", "3650",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            "-out", self.root)
        self.int_key = self.key("int")
        self.int = d / "int.pem"
        csr = self.csr("int", self.int_key, "OCSP Test Intermediate")
        ext = d / "int.ext"
        ext.write_text("basicConstraints=critical,CA:TRUE,pathlen:0\n"
                       "keyUsage=critical,keyCertSign,cRLSign\n")
        run("openssl", "x509", "-req", "-in", csr, "-CA", self.root,
            "-CAkey", self.root_key, "-set_serial", "4096", "-days", "3650",
            "-extfile", ext, "-out", self.int)
        # leaves
        self.leaf_key = self.key("leaf")
        self.good = self.issue("good", "Good Leaf", "leaf_ext")
        self.revoked = self.issue("revoked", "Revoked Leaf", "leaf_ext")
        self.hold = self.issue("hold", "Held Leaf", "leaf_ext")
        self.noaia = self.issue("noaia", "No AIA Leaf", "leaf_noaia_ext")
        self.expired = self.issue("expired", "Expired Leaf", "leaf_ext",
                                  dates=("20200101000000Z",
                                         "20200201000000Z"))
        self.unknown = d / "unknown.pem"
        ext = d / "unknown.ext"
        ext.write_text("basicConstraints=CA:FALSE\n"
                       "extendedKeyUsage=serverAuth\n"
                       "authorityInfoAccess=OCSP;URI:http://127.0.0.1:"
                       f"{self.aia_port}/\n")
        run("openssl", "x509", "-req", "-in",
            self.csr("unknown", self.leaf_key, "Never Issued Leaf"),
            "-CA", self.int, "-CAkey", self.int_key, "-set_serial",
            "0x7E57ABCDEF", "-days", "365", "-extfile", ext,
            "-out", self.unknown)
        run("openssl", "ca", "-batch", "-config", self.conf, "-revoke",
            self.revoked, "-crl_reason", "keyCompromise")
        run("openssl", "ca", "-batch", "-config", self.conf, "-revoke",
            self.hold, "-crl_hold", "holdInstructionCallIssuer")
        # responder certificates
        self.responders = {}
        for name, cn, section in (
                ("delegated", "Delegated Responder", "delegated_ext"),
                ("delegated_cdp", "Delegated CDP Responder",
                 "delegated_cdp_ext"),
                ("noeku", "No EKU Responder", "noeku_ext")):
            key = self.key(name)
            self.responders[name] = (self.issue(name, cn, section, key=key),
                                     key)
        for name, cn, eku in (("designated", "Designated Responder",
                               "OCSPSigning"),
                              ("rogue", "Rogue", "OCSPSigning")):
            key = self.key(name)
            pem = d / f"{name}.pem"
            run("openssl", "req", "-x509", "-new", "-key", key, "-subj",
                f"/O=certmon tests/CN={cn}", "-days", "365",
                "-addext", "basicConstraints=critical,CA:FALSE",
                "-addext", f"extendedKeyUsage={eku}", "-out", pem)
            self.responders[name] = (pem, key)
        self.responders["ca"] = (self.int, self.int_key)
        # a bundle: the certificate first, then its issuer
        self.good_bundle = d / "good-bundle.pem"
        self.good_bundle.write_text(self.good.read_text() +
                                    self.int.read_text())

    def key(self, name):
        path = self.dir / f"{name}.key"
        run("openssl", "ecparam", "-name", "prime256v1", "-genkey",
            "-noout", "-out", path)
        return path

    def csr(self, name, key, cn):
        path = self.dir / f"{name}.csr"
        run("openssl", "req", "-new", "-key", key, "-subj",
            f"/O=certmon tests/CN={cn}", "-out", path)
        return path

    def issue(self, name, cn, section, key=None, dates=None):
        """Issues through `openssl ca` (so it is in index.txt)."""
        out = self.dir / f"{name}.pem"
        args = ["openssl", "ca", "-batch", "-config", self.conf,
                "-extensions", section, "-notext", "-in",
                self.csr(name, key or self.leaf_key, cn), "-out", out]
        if dates:
            args += ["-startdate", dates[0], "-enddate", dates[1]]
        run(*args)
        return out

    def responder(self, mode, **kw):
        """An OcspResponder signing as `mode` ("ca", "delegated", ...)."""
        pem, key = self.responders[mode]
        return OcspResponder(self, pem, key, **kw)

    def capture(self, url, cert, out, nonce=True):
        """Asks url about cert with the openssl client (its own nonce, or
        none) and saves the DER response at out."""
        args = ["openssl", "ocsp", "-issuer", self.int, "-cert", cert,
                "-url", url, "-respout", out, "-noverify", "-timeout", "5"]
        if not nonce:
            args.append("-no_nonce")
        run(*args)
        return Path(out).read_bytes()


class OcspResponder:
    """`openssl ocsp` serving the intermediate's index on a free port (or
    the given one), signing with pem/key."""

    def __init__(self, pki, pem, key, port=None, ndays=1, faketime=None,
                 key_id=False):
        self.pki = pki
        self.pem, self.key = pem, key
        self.port = port
        self.ndays = ndays
        self.faketime = faketime
        self.key_id = key_id
        self.proc = None
        self.log_path = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/"

    def start(self, timeout=15.0):
        fixed = self.port is not None
        for _attempt in range(5):
            if not fixed:
                self.port = free_port()
            argv = ["openssl", "ocsp", "-index", self.pki.dir / "index.txt",
                    "-port", self.port, "-rsigner", self.pem, "-rkey",
                    self.key, "-CA", self.pki.int, "-ignore_err",
                    "-timeout", "5"]
            if self.ndays:
                argv += ["-ndays", self.ndays]
            if self.key_id:
                argv.append("-resp_key_id")
            env = (faketime_env(self.faketime) if self.faketime
                   else None)
            self.log_path = self.pki.dir / f"ocsp-{self.port}.log"
            with open(self.log_path, "ab") as log:
                # its own process group, which stop() ends
                self.proc = subprocess.Popen(
                    [str(a) for a in argv], stdin=subprocess.DEVNULL,
                    stdout=log, stderr=log, env=env,
                    start_new_session=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if port_listening(self.port):
                    return self
                time.sleep(0.02)
            if self.proc.poll() is None:
                self.stop()
                raise RuntimeError(f"openssl ocsp did not listen on "
                                   f"{self.port}: {self.log()}")
            if fixed:
                break
        raise RuntimeError(f"openssl ocsp exited: {self.log()}")

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


class FixedHttp:
    """A tiny HTTP server answering every request to a path with fixed
    (status, headers, body): stands in for a broken or replaying responder.
    routes: {"/path": (status, {"Header": "value"}, b"body")}."""

    def __init__(self, routes):
        self.routes = routes
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                status, headers, body = outer.routes.get(
                    self.path.split("?")[0], (404, {}, b"not found"))
                self.send_response(status)
                if ("Content-Length" not in headers and
                        "Transfer-Encoding" not in headers):
                    self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            do_POST = _answer
            do_GET = _answer

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class Silent:
    """A socket that listens and never answers (the kernel completes the
    handshake; nobody ever reads): a responder that hangs."""

    def __enter__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        return self

    def __exit__(self, *exc):
        self.sock.close()


def closed_port_url():
    """A URL whose port refuses connections."""
    return f"http://127.0.0.1:{free_port()}/"


def _der_tlv(der, i):
    """The DER element at der[i]: (tag, start of its content, end)."""
    tag, n = der[i], der[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(der[i:i + k], "big")
        i += k
    return tag, i, i + n


def certid_count(der):
    """How many certificates (Requests, each a CertID) the DER OCSPRequest
    asks about (RFC 6960 4.1.1)."""
    _, i, _ = _der_tlv(der, 0)              # OCSPRequest
    _, i, _ = _der_tlv(der, i)              # tbsRequest
    tag, start, end = _der_tlv(der, i)
    while tag in (0xA0, 0xA1):              # version, requestorName
        tag, start, end = _der_tlv(der, end)
    assert tag == 0x30, f"no requestList (tag {tag:#x})"
    n, j = 0, start
    while j < end:
        _, _, j = _der_tlv(der, j)
        n += 1
    return n


def one_certid_only(der):
    """None when python3-cryptography's OCSP request parser takes der, else
    the DER OCSPResponse it would answer with: malformedRequest. That parser
    reads one CertID only, as RFC 5019's lightweight profile allows: a
    responder built on it refuses a request about several."""
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509 import ocsp

    try:
        ocsp.load_der_ocsp_request(der)
        return None
    except NotImplementedError:
        return ocsp.OCSPResponseBuilder.build_unsuccessful(
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST).public_bytes(
                Encoding.DER)
