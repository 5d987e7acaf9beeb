#!/usr/bin/python3
"""hooksink — a webhook receiver for glasswatch's tests.

Listens over HTTPS on 127.0.0.1 (a certificate of the test CA) and takes
any POST, on any path: it records the request (path, headers, body), checks
the Standard Webhooks signature when it knows the key, and answers as the
test scripted it.  A second listener, plain HTTP on loopback, is the
control API:

  GET  /requests          every request so far, oldest first (JSON list)
  POST /script            {"answers": [{"status": 500},
                            {"status": 429, "retry_after": 1}, ...],
                           "default": 200}: the next requests get these
                           answers in turn, then the default; an
                           answer's "delay" (seconds) holds it back
  POST /reset             forget the requests and the script

Each recorded request: {"n", "t", "method", "path", "headers" (names in
lower case), "body" (text), "json" (parsed or null), "signature"
("ok", "bad: why" or null without a key), "status" (what was answered)}.
A request whose signature does not verify is answered 401, as a receiver
that checks would.  With --record-file, each answered request is also
appended there as one JSON line, so a sink stopped and started again on
the same port (--port) keeps its history.

  hooksink.py --cert server.pem --key server.key [--port 0]
      [--control-port 0] [--secret-file F] [--tolerance 300]
      [--record-file F] [--ready-file F]

Standard library only; run with /usr/bin/python3.
"""

import argparse
import base64
import hashlib
import hmac
import http.server
import json
import os
import signal
import ssl
import sys
import threading
import time

MAX_BODY = 4 * 1024 * 1024


def load_key(path):
    """The signing key a secret file holds: whsec_ + base64, else the
    bytes as written (without the trailing newline)."""
    with open(path, "rb") as f:
        raw = f.read().rstrip(b"\r\n")
    if raw.startswith(b"whsec_"):
        return base64.b64decode(raw[len(b"whsec_"):], validate=True)
    return raw


def verify(key, headers, body, tolerance, now=None):
    """None when the Standard Webhooks signature holds, else why not."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature")
    if not msg_id or not stamp or not sigs:
        return "missing webhook-id, webhook-timestamp or webhook-signature"
    try:
        ts = int(stamp)
    except ValueError:
        return "webhook-timestamp is not a number"
    now = time.time() if now is None else now
    if abs(now - ts) > tolerance:
        return "webhook-timestamp is %ds away from now" % (now - ts)
    signed = msg_id.encode() + b"." + stamp.encode() + b"." + body
    want = base64.b64encode(hmac.new(key, signed,
                                     hashlib.sha256).digest()).decode()
    for item in sigs.split(" "):
        version, _, value = item.partition(",")
        if version == "v1" and hmac.compare_digest(value, want):
            return None
    return "no v1 signature matches"


class Sink:
    def __init__(self, key, tolerance, record_file=None):
        self.key = key
        self.record_file = record_file
        self.tolerance = tolerance
        self.lock = threading.Lock()
        self.requests = []
        self.answers = []
        self.default = {"status": 200}

    def take(self, method, path, headers, body):
        """Record one request; the answer to give."""
        sig = None
        if self.key is not None:
            why = verify(self.key, headers, body, self.tolerance)
            sig = "ok" if why is None else "bad: " + why
        try:
            parsed = json.loads(body.decode("utf-8"))
        except ValueError:
            parsed = None
        with self.lock:
            if sig not in (None, "ok"):
                answer = {"status": 401}
            elif self.answers:
                answer = self.answers.pop(0)
            else:
                answer = dict(self.default)
            entry = {
                "n": len(self.requests) + 1, "t": time.time(),
                "method": method, "path": path, "headers": headers,
                "body": body.decode("utf-8", "replace"), "json": parsed,
                "signature": sig, "status": answer["status"]}
            self.requests.append(entry)
        return answer, entry

    def persist(self, entry):
        """Append an answered request to the record file."""
        if self.record_file is None:
            return
        line = json.dumps(dict(entry, answered=time.time())) + "\n"
        with self.lock:
            with open(self.record_file, "a") as f:
                f.write(line)

    def script(self, spec):
        with self.lock:
            self.answers = list(spec.get("answers", []))
            if "default" in spec:
                self.default = {"status": int(spec["default"])}

    def reset(self):
        with self.lock:
            self.requests = []
            self.answers = []
            self.default = {"status": 200}

    def snapshot(self):
        with self.lock:
            return list(self.requests)


class HookHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30

    def log_message(self, fmt, *args):
        sys.stderr.write("hooksink: %s\n" % (fmt % args))

    def reply(self, status, data, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            self.reply(413, b'{"error":"body too large"}')
            return
        body = self.rfile.read(length)
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer, entry = self.server.sink.take("POST", self.path, headers,
                                              body)
        if answer.get("delay"):
            time.sleep(min(float(answer["delay"]), 60))
        extra = {}
        if "retry_after" in answer:
            extra["Retry-After"] = str(answer["retry_after"])
        status = answer["status"]
        # What the real services say on success.
        data = b'{"status":"success"}' if status < 300 else \
            b'{"error":"scripted failure"}'
        self.reply(status, data, extra)
        self.server.sink.persist(entry)

    def do_GET(self):
        self.reply(405, b'{"error":"POST only"}')


class HookServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, sink, ctx):
        self.sink = sink
        self.tls = ctx
        super().__init__(addr, HookHandler)

    def get_request(self):
        conn, peer = self.socket.accept()
        # Handshake in the handler's thread, not in the accept loop.
        return (self.tls.wrap_socket(conn, server_side=True,
                                     do_handshake_on_connect=False), peer)


class ControlHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def send_json(self, obj, status=200):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.split("?")[0] == "/requests":
            self.send_json(self.server.sink.snapshot())
        else:
            self.send_json({"error": "no such path"}, 404)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            spec = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self.send_json({"error": "not JSON"}, 400)
            return
        if self.path == "/script":
            self.server.sink.script(spec)
        elif self.path == "/reset":
            self.server.sink.reset()
        else:
            self.send_json({"error": "no such path"}, 404)
            return
        self.send_json({"ok": True})


class ControlServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, sink):
        self.sink = sink
        super().__init__(addr, ControlHandler)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--control-port", type=int, default=0)
    ap.add_argument("--secret-file",
                    help="verify Standard Webhooks signatures with this key")
    ap.add_argument("--tolerance", type=int, default=300,
                    help="largest webhook-timestamp skew, in seconds")
    ap.add_argument("--record-file",
                    help="append every answered request here (JSON lines)")
    ap.add_argument("--ready-file")
    args = ap.parse_args(argv)

    key = load_key(args.secret_file) if args.secret_file else None
    sink = Sink(key, args.tolerance, args.record_file)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    hooks = HookServer(("127.0.0.1", args.port), sink, ctx)
    control = ControlServer(("127.0.0.1", args.control_port), sink)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    for srv in (hooks, control):
        threading.Thread(target=srv.serve_forever, daemon=True,
                         kwargs={"poll_interval": 0.2}).start()
    info = {"port": hooks.server_address[1],
            "control_port": control.server_address[1], "pid": os.getpid()}
    sys.stderr.write("hooksink: https://127.0.0.1:%d, control "
                     "http://127.0.0.1:%d\n" % (info["port"],
                                                info["control_port"]))
    sys.stderr.flush()
    if args.ready_file:
        partial = args.ready_file + ".part"
        with open(partial, "w") as f:
            json.dump(info, f)
        os.rename(partial, args.ready_file)
    while not done.wait(0.5):
        pass
    hooks.shutdown()
    control.shutdown()
    hooks.server_close()
    control.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
