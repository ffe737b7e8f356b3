#!/usr/bin/python3
"""A real SMTP server for certmon's tests (Debian python3-aiosmtpd).

Run it with Debian's /usr/bin/python3 (the default python3 on PATH may be a
build without aiosmtpd):

    /usr/bin/python3 tests/system/smtpd.py --port P --maildir DIR
        [--host 127.0.0.1] [--starttls CERT KEY] [--require-starttls]
        [--tls CERT KEY] [--auth USER:PASS]
        [--reply-code CODE [--reply-at rcpt|data] [--reply-text TEXT]]
        [--delay SECONDS]

--starttls offers STARTTLS, --require-starttls refuses mail before it,
--tls is implicit TLS (smtps). --auth requires AUTH (over TLS). --reply-code
answers every RCPT TO (or, with --reply-at data, the end of DATA) with CODE
instead of accepting. --delay waits before answering the end of DATA.

Every accepted message is stored atomically as DIR/NNNNNN-PID.json:
{"mail_from", "rcpt_tos", "data_b64" (raw bytes as received, after SMTP
dot-unstuffing), "tls" (session was TLS), "auth_login", "peer", "received_at"}.
The reply to DATA is "250 2.0.0 Ok: queued as certmon-test-N".

Imported by pytest, SmtpServer runs the script as a subprocess on a free
loopback port and waits until `ss -ltn` shows the port listening (never by
connecting to it):

    with SmtpServer(tmp_path / "mail") as srv:
        ... srv.port ...
        msgs = srv.messages()   # [{"mail_from", "rcpt_tos", "data", ...}]
"""

import argparse
import base64
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).resolve()


# --------------------------------------------------------------- the server

def _serve(args):
    import asyncio
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    maildir = Path(args.maildir)
    maildir.mkdir(parents=True, exist_ok=True)
    counter = itertools.count(1)

    def tls_context(cert, key):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        return ctx

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address,
                              rcpt_options):
            if args.reply_code and args.reply_at == "rcpt":
                return f"{args.reply_code} {args.reply_text}"
            envelope.rcpt_tos.append(address)
            return "250 2.1.5 OK"

        async def handle_DATA(self, server, session, envelope):
            if args.delay:
                await asyncio.sleep(args.delay)
            if args.reply_code and args.reply_at == "data":
                return f"{args.reply_code} {args.reply_text}"
            n = next(counter)
            login = None
            if session.authenticated and isinstance(session.auth_data,
                                                    LoginPassword):
                login = session.auth_data.login.decode("utf-8", "replace")
            record = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "data_b64": base64.b64encode(envelope.content).decode(),
                "tls": (session.ssl is not None or server.transport
                        .get_extra_info("ssl_object") is not None),
                "auth_login": login,
                "peer": list(session.peer) if session.peer else None,
                "received_at": time.time(),
            }
            final = maildir / f"{n:06d}-{os.getpid()}.json"
            tmp = maildir / f".{final.name}.tmp"
            tmp.write_text(json.dumps(record))
            os.replace(tmp, final)
            print(f"smtpd: stored {final.name} from {envelope.mail_from} "
                  f"to {envelope.rcpt_tos}", file=sys.stderr, flush=True)
            return f"250 2.0.0 Ok: queued as certmon-test-{n}"

    kwargs = {
        "hostname": args.host,
        "port": args.port,
        "ready_timeout": 10.0,
        "server_hostname": "smtpd.test",   # no getfqdn() DNS lookups
        "enable_SMTPUTF8": False,
    }
    if args.starttls:
        kwargs["tls_context"] = tls_context(*args.starttls)
        kwargs["require_starttls"] = args.require_starttls
    if args.tls:
        kwargs["ssl_context"] = tls_context(*args.tls)
    if args.auth:
        user, _, password = args.auth.partition(":")

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login == user.encode()
                  and auth_data.password == password.encode())
            # handled=False: aiosmtpd answers 535 itself on failure
            return AuthResult(success=ok, handled=False,
                              auth_data=auth_data if ok else None)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
        kwargs["auth_require_tls"] = True

    controller = Controller(Handler(), **kwargs)
    controller.start()
    print(f"smtpd: listening on {args.host}:{args.port}", file=sys.stderr,
          flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--maildir", required=True)
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--require-starttls", action="store_true")
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"),
                   help="implicit TLS (smtps)")
    p.add_argument("--auth", metavar="USER:PASS")
    p.add_argument("--reply-code", type=int)
    p.add_argument("--reply-at", choices=("rcpt", "data"), default="rcpt")
    p.add_argument("--reply-text", default=None)
    p.add_argument("--delay", type=float, default=0.0)
    args = p.parse_args(argv)
    if args.require_starttls and not args.starttls:
        p.error("--require-starttls needs --starttls")
    if args.starttls and args.tls:
        p.error("--starttls and --tls exclude each other")
    if args.reply_code is not None and not 400 <= args.reply_code <= 599:
        p.error("--reply-code must be 4xx or 5xx")
    if args.reply_text is None and args.reply_code is not None:
        args.reply_text = ("4.3.0 Try again later (test)"
                           if args.reply_code < 500 else
                           "5.1.1 Rejected permanently (test)")
    return _serve(args)


# ------------------------------------------------------- the pytest helper

def _free_port(host):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_listening(host, port):
    """True when `ss -ltn` shows host:port listening (no connection made)."""
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"],
                         capture_output=True, text=True, check=False).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[3] in (f"{host}:{port}",
                                             f"*:{port}",
                                             f"0.0.0.0:{port}"):
            return True
    return False


class SmtpServer:
    """The script above as a subprocess on a free loopback port."""

    def __init__(self, maildir, *, host="127.0.0.1", starttls=None,
                 require_starttls=False, tls=None, auth=None,
                 reply_code=None, reply_at="rcpt", reply_text=None,
                 delay=0.0, python=PYTHON, port=None):
        self.maildir = Path(maildir)
        self.host = host
        self.fixed_port = port          # None: a free one
        self.port = None
        self.starttls = starttls
        self.require_starttls = require_starttls
        self.tls = tls
        self.auth = auth
        self.reply_code = reply_code
        self.reply_at = reply_at
        self.reply_text = reply_text
        self.delay = delay
        self.python = python
        self.proc = None
        self.log_path = self.maildir.parent / f"{self.maildir.name}.smtpd.log"

    def _argv(self):
        argv = [self.python, str(SCRIPT), "--host", self.host,
                "--port", str(self.port), "--maildir", str(self.maildir)]
        if self.starttls:
            argv += ["--starttls", *map(str, self.starttls)]
        if self.require_starttls:
            argv.append("--require-starttls")
        if self.tls:
            argv += ["--tls", *map(str, self.tls)]
        if self.auth:
            argv += ["--auth", self.auth]
        if self.reply_code is not None:
            argv += ["--reply-code", str(self.reply_code),
                     "--reply-at", self.reply_at]
            if self.reply_text is not None:
                argv += ["--reply-text", self.reply_text]
        if self.delay:
            argv += ["--delay", str(self.delay)]
        return argv

    def start(self, timeout=15.0):
        self.maildir.mkdir(parents=True, exist_ok=True)
        for _attempt in range(5):       # a free port may be taken meanwhile
            self.port = self.fixed_port or _free_port(self.host)
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    self._argv(), stdin=subprocess.DEVNULL,
                    stdout=log, stderr=log)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if port_listening(self.host, self.port):
                    return self
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.stop()
                raise RuntimeError(f"smtpd did not listen on port "
                                   f"{self.port} within {timeout}s: "
                                   f"{self.log()}")
            if "Address already in use" not in self.log():
                break
        raise RuntimeError(f"smtpd exited with {self.proc.returncode}: "
                           f"{self.log()}")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def messages(self):
        """Stored messages, oldest first; "data" holds the raw bytes."""
        out = []
        for f in sorted(self.maildir.glob("[0-9]*.json")):
            rec = json.loads(f.read_text())
            rec["data"] = base64.b64decode(rec.pop("data_b64"))
            rec["file"] = str(f)
            out.append(rec)
        return out

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    sys.exit(main())
