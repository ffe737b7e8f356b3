"""Runs the real certmond for the system tests.

    with Certmond(tmp_path) as d:          # a fresh store next to tmp_path
        d.set_time(T)                      # the injected clock (--clock-file)
        r = d.api("GET", "/api/v1/certs")  # HTTPS, trusting the daemon's cert
        d.wait_for(lambda: ..., timeout=3) # poll, never sleep fixed amounts

What the helper asserts on every daemon it runs (the issue's requirements):
- the daemon listens (seen with `ss -ltn`, never a bare TCP probe) within
  5 s of its start, the first start (key generation) included;
- SIGTERM makes it exit with status 0 within 2 s;
- on a sanitizer build, an ASan/UBSan report on stderr fails the test.

The binary is $CERTMOND_BIN, by default `certmond` next to $CERTMON_BIN
(build/certmond without either).
"""
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CERTMON_BIN = os.environ.get("CERTMON_BIN", str(ROOT / "build" / "certmon"))
CERTMOND_BIN = os.environ.get(
    "CERTMOND_BIN", str(Path(CERTMON_BIN).resolve().parent / "certmond"))

LISTEN_DEADLINE = 5.0      # seconds from exec to a listening socket
STOP_DEADLINE = 2.0        # seconds from SIGTERM to exit

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)
SEC = timedelta(seconds=1)


# ---------------------------------------------------------------- time

def iso(t):
    """ISO 8601 UTC with seconds, as certmon writes and reads it."""
    if isinstance(t, str):
        return t
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def ts(s):
    """Parses certmon's ISO 8601 UTC text (None stays None)."""
    if s is None:
        return None
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=timezone.utc)


def utcnow():
    """The real time, whole seconds."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def wait_for(predicate, timeout=3.0, interval=0.02, what=None):
    """Polls predicate until it returns a true value (returned), or fails
    the test after timeout seconds with the last value seen."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout}s waiting for "
                f"{what or getattr(predicate, '__name__', 'a condition')}; "
                f"last value: {last!r}")
        time.sleep(interval)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """True when something listens on TCP port (ss -ltn: no connection is
    made, so nothing is disturbed)."""
    out = subprocess.run(["ss", "-Htln", f"sport = :{port}"],
                         capture_output=True, text=True, check=True).stdout
    return any(line.strip() for line in out.splitlines())


# ---------------------------------------------------------------- HTTP

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8")

    @property
    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return (f"<HTTP {self.status} {dict(self.headers)!r} "
                f"{self.body[:1500]!r}>")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is a finding, never followed (the API must answer 401
    itself)."""

    def redirect_request(self, *args, **kw):
        return None


class Certmond:
    """The real daemon on a free loopback port, with a temporary store,
    an injected clock, and its stderr collected into a file."""

    def __init__(self, workdir, now=None, tls=True, args=(), db=None,
                 port=None, clock=True, token=True, env=None):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db = Path(db) if db is not None else self.dir / "store.db"
        self.port = port or free_port()
        self.tls = tls
        self.args = list(args)
        self.clock_file = self.dir / "certmond.clock" if clock else None
        self.want_token = token
        self.env = dict(env or {})
        self.cafile = None         # default: the daemon's own certificate
        self.token = None
        self.proc = None
        self.starts = 0
        self.log_path = None
        self.listen_seconds = None
        self.now = None
        if clock:
            self.set_time(now or utcnow())

    # ------------------------------------------------------------ life

    @property
    def scheme(self):
        return "https" if self.tls else "http"

    @property
    def url(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def https_cert(self):
        return Path(f"{self.db}.https-cert.pem")

    @property
    def https_key(self):
        return Path(f"{self.db}.https-key.pem")

    def command(self):
        cmd = [CERTMOND_BIN, "--db", str(self.db),
               "--listen", f"127.0.0.1:{self.port}"]
        if self.clock_file is not None:
            cmd += ["--clock-file", str(self.clock_file)]
        if not self.tls:
            cmd.append("--no-tls")
        return cmd + self.args

    def start(self):
        """Starts the daemon and waits (at most 5 s, asserted) until it
        listens."""
        assert self.proc is None, "already running"
        self.starts += 1
        self.log_path = self.dir / f"certmond.{self.starts}.log"
        self._log = open(self.log_path, "wb")
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("CERTMON_NOW", None)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        env.update(self.env)
        t0 = time.monotonic()
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log,
                                     env=env, cwd=self.dir)
        while not listening(self.port):
            rc = self.proc.poll()
            if rc is not None:
                self._close_log()
                self.proc = None
                raise AssertionError(
                    f"certmond exited with {rc} before listening:\n"
                    f"{self.log()}")
            if time.monotonic() - t0 > LISTEN_DEADLINE:
                raise AssertionError(
                    f"certmond does not listen on {self.port} within "
                    f"{LISTEN_DEADLINE}s of its start:\n{self.log()}")
            time.sleep(0.01)
        self.listen_seconds = time.monotonic() - t0
        assert self.listen_seconds <= LISTEN_DEADLINE, self.listen_seconds
        if self.want_token and self.token is None:
            self.token = self.make_token("tests")
        return self

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM):
        """Stops the daemon with sig; asserts exit status 0 within 2 s and
        no sanitizer report. Returns the seconds it took."""
        if self.proc is None:
            return None
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._close_log()
            self.proc = None
            raise AssertionError(
                f"certmond still runs {STOP_DEADLINE}s after "
                f"{signal.Signals(sig).name}:\n{self.log()}")
        took = time.monotonic() - t0
        self.proc = None
        self._close_log()
        assert rc == 0, (f"certmond exited with {rc} after "
                         f"{signal.Signals(sig).name}:\n{self.log()}")
        self.assert_clean_log()
        return took

    def kill(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
        self._close_log()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def _close_log(self):
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()

    def log(self):
        """Everything the daemon wrote to stderr (this start)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def all_logs(self):
        return "".join(p.read_text(errors="replace")
                       for p in sorted(self.dir.glob("certmond.*.log")))

    def assert_clean_log(self):
        text = self.log()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                       "runtime error:", "SUMMARY: AddressSanitizer",
                       "SUMMARY: UndefinedBehaviorSanitizer"):
            assert marker not in text, f"sanitizer report:\n{text}"

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            self.kill()
        return False

    # ----------------------------------------------------------- clock

    def set_time(self, t):
        """Moves the injected clock (atomically: the daemon never reads a
        half-written file)."""
        assert self.clock_file is not None, "no injected clock"
        if isinstance(t, str):
            t = ts(t)
        tmp = self.clock_file.with_suffix(".tmp")
        tmp.write_text(iso(t) + "\n")
        os.replace(tmp, self.clock_file)
        self.now = t

    def advance(self, delta):
        self.set_time(self.now + delta)

    def sync(self):
        """Returns once the event loop has gone round at least once since
        the call: requests are served on the loop's thread, and each loop
        pass reads the clock, notices store changes and runs what is due
        before it serves the next request. So after sync() the daemon has
        acted on the current clock and on every committed store change."""
        for _ in range(2):
            r = self.request("GET", "/healthz", auth=False)
            assert r.status == 200, r

    def wait_for(self, predicate, timeout=3.0, what=None):
        return wait_for(predicate, timeout=timeout, what=what)

    # -------------------------------------------------------------- CLI

    def cli(self, *args, env=None, input=None, at=True):
        """Runs the certmon CLI on the daemon's store; at=True makes it act
        at the daemon's injected time (CERTMON_NOW)."""
        full = dict(os.environ)
        full.pop("CERTMON_NOW", None)
        if at and self.now is not None:
            full["CERTMON_NOW"] = iso(self.now)
        full.update(env or {})
        return subprocess.run([CERTMON_BIN, "--db", str(self.db),
                               *map(str, args)], capture_output=True,
                              text=True, env=full, input=input, timeout=60)

    def cli_ok(self, *args, **kw):
        p = self.cli(*args, **kw)
        assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr)
        return p

    def cli_json(self, *args, **kw):
        return json.loads(self.cli_ok(*args, "--json", **kw).stdout)

    def make_token(self, name):
        p = self.cli_ok("token", "add", name)
        secret = p.stdout.strip()
        assert secret, p
        return secret

    # ------------------------------------------------------------- HTTP

    def ssl_context(self):
        """Trusts exactly the daemon's own certificate (or self.cafile) and
        checks that it names 127.0.0.1."""
        ctx = ssl.create_default_context(
            cafile=str(self.cafile or self.https_cert))
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def request(self, method, path, body=None, headers=None, auth=True,
                token=None, content_type=None, timeout=10):
        """One request; returns a Response for every status (never raises
        on 4xx/5xx, never follows redirects)."""
        hdrs = dict(headers or {})
        if auth:
            hdrs.setdefault("Authorization", f"Bearer {token or self.token}")
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            content_type = content_type or "application/json"
        elif isinstance(body, str):
            body = body.encode()
        if content_type:
            hdrs["Content-Type"] = content_type
        req = urllib.request.Request(self.url + path, data=body,
                                     headers=hdrs, method=method)
        handlers = [_NoRedirect()]
        if self.tls:
            handlers.append(urllib.request.HTTPSHandler(
                context=self.ssl_context()))
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(req, timeout=timeout) as resp:
                return Response(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers, e.read())

    def api(self, method, path, body=None, expect=None, **kw):
        """A request to /api/v1 + path; with expect, asserts the status and
        returns the JSON document."""
        r = self.request(method, "/api/v1" + path, body=body, **kw)
        if expect is None:
            return r
        assert r.status == expect, r
        assert r.headers.get("Content-Type", "").startswith(
            "application/json"), r
        return r.json

    def get(self, path, **kw):
        return self.api("GET", path, expect=200, **kw)

    def service(self, sid="expiry-monitor"):
        return self.get(f"/services/{sid}")["service"]

    def last_run(self, sid="expiry-monitor"):
        return ts(self.service(sid)["last_run"])

    def next_run(self, sid="expiry-monitor"):
        return ts(self.service(sid)["next_run"])

    def snapshot(self):
        """What a refused request must leave unchanged, read through the
        API (faster than the CLI's snapshot; same content): certificates
        with history, units, events, both settings, services."""
        return (self.get("/certs?history=1&limit=1000")["certs"],
                self.get("/units")["units"],
                self.get("/events?limit=1000")["events"],
                self.get("/settings/monitor")["monitor"],
                self.get("/settings/smtp")["smtp"],
                self.get("/services")["services"],
                self.get("/mail/queue?all=1")["messages"])

    def metrics(self, token=None):
        hdrs = {"Authorization": f"Bearer {token}"} if token else None
        r = self.request("GET", "/metrics", auth=False, headers=hdrs)
        assert r.status == 200, r
        assert r.headers["Content-Type"].startswith("text/plain"), r
        return r.text


def multipart(fields, files):
    """A multipart/form-data body: fields {name: text}, files {name:
    (filename, bytes)}. Returns (content_type, body)."""
    boundary = "certmon-test-" + os.urandom(8).hex()
    out = bytearray()
    for k, v in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; "
                f"name=\"{k}\"\r\n\r\n{v}\r\n").encode()
    for k, (fname, data) in files.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; "
                f"name=\"{k}\"; filename=\"{fname}\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n").encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", bytes(out)


def parse_metrics(text):
    """Parses the Prometheus text format into [(name, {labels}, value)],
    undoing the label escapes (\\\\, \\", \\n)."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        i = 0
        while i < len(line) and line[i] not in "{ ":
            i += 1
        name, labels = line[:i], {}
        if i < len(line) and line[i] == "{":
            i += 1
            while line[i] != "}":
                eq = line.index("=", i)
                key = line[i:eq].strip().lstrip(",").strip()
                assert line[eq + 1] == '"', line
                j, val = eq + 2, []
                while line[j] != '"':
                    if line[j] == "\\":
                        val.append({"\\": "\\", '"': '"', "n": "\n"}[
                            line[j + 1]])
                        j += 2
                    else:
                        val.append(line[j])
                        j += 1
                labels[key] = "".join(val)
                i = j + 1
                if line[i] == ",":
                    i += 1
            i += 1
        value = line[i:].strip().split()[0]
        samples.append((name, labels, float(value)))
    return samples


def promtool_check(text):
    """Runs `promtool check metrics` on text; returns (rc, output)."""
    p = subprocess.run(["promtool", "check", "metrics"], input=text,
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout + p.stderr
