#!/usr/bin/python3
"""smtpsink — a real SMTP server for glasswatch's tests (Debian's aiosmtpd).

Every accepted message is written atomically as MAILDIR/NNNN.eml (the bytes
received) next to MAILDIR/NNNN.json with the envelope:
{"mail_from", "rcpt_tos", "peer", "tls", "auth_user", "helo", "received"}.
The .json file is renamed into place first, so a reader that sees the .eml
always finds its .json.

  smtpsink.py --maildir DIR [--port 0] [--ready-file F]
      [--starttls CERT KEY | --implicit-tls CERT KEY]
      [--auth-user U --auth-password-file P]
      [--refuse-rcpt ADDR]... [--tempfail-rcpt ADDR]... [--hold-file F]

--starttls offers STARTTLS and refuses mail until the client uses it;
--implicit-tls speaks TLS from the first byte (SMTPS).  With --auth-user,
AUTH PLAIN/LOGIN is required; it is offered only over TLS, or in cleartext
when no TLS is configured at all (we listen on loopback only).  The sink
keeps numbering after the highest NNNN already in DIR, so it can be
restarted on the same port and maildir ("SMTP down, then up").  When the
--hold-file exists at the end of a message, the sink stores the message,
removes the file and waits the seconds it holds before answering 250 (a
client killed meanwhile sends the message again).
"""

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import ssl
import sys
import time
import warnings

try:
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
except ImportError:                     # the tests turn this into a skip
    print("smtpsink: python3-aiosmtpd is not installed", file=sys.stderr)
    sys.exit(77)


def log(msg):
    print("smtpsink: %s %s" % (time.strftime("%H:%M:%S"), msg),
          file=sys.stderr, flush=True)


def write_atomic(path, data):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Sink:
    """The aiosmtpd handler: recipient policy and the maildir."""

    def __init__(self, args):
        self.maildir = args.maildir
        self.refuse = {a.lower() for a in args.refuse_rcpt}
        self.tempfail = {a.lower() for a in args.tempfail_rcpt}
        self.implicit = args.implicit_tls is not None
        self.hold_file = args.hold_file
        numbers = [int(m.group(1)) for m in
                   (re.match(r"^(\d+)\.eml$", n)
                    for n in os.listdir(self.maildir)) if m]
        self.next = max(numbers, default=0) + 1

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        addr = address.lower()
        if addr in self.refuse:
            log("RCPT %s refused (550)" % address)
            return "550 5.1.1 <%s>: Recipient address rejected: " \
                   "User unknown" % address
        if addr in self.tempfail:
            log("RCPT %s deferred (451)" % address)
            return "451 4.3.0 <%s>: Temporary failure, try again later" \
                % address
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        n = self.next
        self.next += 1
        base = os.path.join(self.maildir, "%04d" % n)
        auth = session.auth_data
        if isinstance(auth, LoginPassword):
            auth = auth.login.decode("utf-8", "replace")
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": "%s:%s" % tuple(session.peer[:2]),
            "tls": self.implicit or session.ssl is not None,
            "auth_user": auth if isinstance(auth, str) else None,
            "helo": session.host_name,
            "received": time.time(),
        }
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8")
        write_atomic(base + ".json", json.dumps(meta).encode("utf-8"))
        write_atomic(base + ".eml", content)
        log("accepted %04d from %s to %s (%d bytes, tls=%s, auth=%s)"
            % (n, meta["mail_from"], ",".join(meta["rcpt_tos"]),
               len(content), meta["tls"], meta["auth_user"]))
        hold = self.take_hold()
        if hold > 0:
            log("holding the answer to %04d for %.1fs" % (n, hold))
            await asyncio.sleep(hold)
        return "250 2.0.0 OK: queued as %04d" % n

    def take_hold(self):
        """The seconds the hold file asks for, once (0: none)."""
        if self.hold_file is None:
            return 0
        try:
            with open(self.hold_file) as f:
                text = f.read()
            os.unlink(self.hold_file)
        except OSError:
            return 0
        try:
            return min(float(text.strip() or 0), 60)
        except ValueError:
            return 0

    async def handle_exception(self, error):
        # One line instead of aiosmtpd's traceback (e.g. a client that
        # rejects our certificate during STARTTLS).
        cause = error.__cause__ or error
        log("session error: %s: %s" % (type(cause).__name__, cause))
        return "421 4.3.0 Error: %s" % type(cause).__name__


def make_authenticator(user, password):
    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and \
            auth_data.login == user.encode("utf-8") and \
            auth_data.password == password.encode("utf-8")
        log("AUTH %s as %r: %s" % (
            mechanism,
            auth_data.login.decode("utf-8", "replace")
            if isinstance(auth_data, LoginPassword) else None,
            "ok" if ok else "failed"))
        return AuthResult(success=ok, handled=False,
                          auth_data=user if ok else None)
    return authenticator


def tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


async def serve(args):
    sink = Sink(args)
    starttls = tls_context(*args.starttls) if args.starttls else None
    implicit = tls_context(*args.implicit_tls) if args.implicit_tls else None
    auth = {}
    if args.auth_user:
        with open(args.auth_password_file, "rb") as f:
            password = f.read().decode("utf-8").rstrip("\r\n")
        auth = {
            "authenticator": make_authenticator(args.auth_user, password),
            "auth_required": True,
            # aiosmtpd only counts STARTTLS as TLS: on SMTPS the whole
            # session is encrypted, and without any TLS we are loopback-only.
            "auth_require_tls": starttls is not None,
        }

    def factory():
        return SMTP(sink, hostname="smtpsink.test", ident="smtpsink",
                    tls_context=starttls, require_starttls=bool(starttls),
                    timeout=60, **auth)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host=args.host,
                                      port=args.port, ssl=implicit,
                                      reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    log("listening on %s:%d (%s%s)" % (
        args.host, port,
        "starttls" if starttls else "implicit tls" if implicit else "plain",
        ", auth required" if auth else ""))
    if args.ready_file:
        tmp = "%s.tmp.%d" % (args.ready_file, os.getpid())
        with open(tmp, "w") as f:
            json.dump({"port": port, "pid": os.getpid()}, f)
        os.replace(tmp, args.ready_file)

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.close()
    await server.wait_closed()
    if args.ready_file:
        try:
            os.unlink(args.ready_file)
        except OSError:
            pass
    log("stopped")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1",
                    choices=["127.0.0.1", "::1"])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--ready-file")
    ap.add_argument("--maildir", required=True)
    tls = ap.add_mutually_exclusive_group()
    tls.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    tls.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--auth-user")
    ap.add_argument("--auth-password-file")
    ap.add_argument("--refuse-rcpt", action="append", default=[],
                    metavar="ADDR")
    ap.add_argument("--tempfail-rcpt", action="append", default=[],
                    metavar="ADDR")
    ap.add_argument("--hold-file", metavar="F",
                    help="when F exists, answer the next message late")
    args = ap.parse_args(argv)
    if bool(args.auth_user) != bool(args.auth_password_file):
        ap.error("--auth-user and --auth-password-file go together")
    os.makedirs(args.maildir, exist_ok=True)
    # aiosmtpd warns about cleartext AUTH, which we allow on loopback only,
    # and logs every connection; our own log lines suffice.
    warnings.filterwarnings("ignore", message="Requiring AUTH")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
