#!/usr/bin/python3
"""smsprovider — simulated SMS providers for glasswatch's tests.

Serves, over HTTPS on 127.0.0.1 (certificate from the test CA), the SMS
APIs the daemon calls, shaped like the real ones (shared NOTIFIER-FACTS
sections 5.1 and 5.2):

  POST /2010-04-01/Accounts/{sid}/Messages.json   Twilio: HTTP basic auth
       (account SID and auth token) checked, form fields To, From or
       MessagingServiceSid, Body; 201 with a Message resource, or Twilio's
       error JSON {"code", "message", "more_info", "status"}.
  POST /sms?api-version=2021-03-07                Azure Communication
       Services: the HMAC-SHA256 access-key signature is recomputed from
       the request (verb, path and query, x-ms-date, Host, the body's
       SHA-256) and verified; a bad one is answered 401. Recipients whose
       repeatabilityRequestId was accepted before are answered "accepted"
       again and not sent twice, as ACS does.
  *    /gateway[/...]                             a generic gateway: any
       method, form or JSON; with --gateway-token-file, a bearer token.

Every accepted message is recorded. A JSON control API on a second port
(plain HTTP, loopback) reads them and injects faults:

  GET  /messages      accepted messages, oldest first
  GET  /requests      every request, with its answer status
  POST /faults        {"provider": "twilio" | "acs" | "gateway" | "any",
                       "count": N (default 1), "status": 500,
                       "retry_after": S, "twilio_code": 21211,
                       "acs_recipient_status": 400,
                       "process": true (ACS: send, then answer with the
                       fault, as when an answer is lost)}
                      the next N requests to that provider answer so
  POST /reset         forget messages, requests and faults

Standard library only; run with /usr/bin/python3.

  smsprovider.py --cert server.pem --key server.key \\
      --twilio-sid AC... --twilio-token-file F --acs-key-file F \\
      [--gateway-token-file F] [--port 0] [--control-port 0] \\
      [--ready-file F]
"""

import argparse
import base64
import email.utils
import hashlib
import hmac
import http.server
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
ACS_API_VERSION = "2021-03-07"
ACS_SIGNED = "x-ms-date;host;x-ms-content-sha256"
ACS_CLOCK_SKEW = 15 * 60
MAX_BODY = 1 << 20

TWILIO_ERRORS = {
    20003: "Authenticate",
    20429: "Too Many Requests",
    21211: "The 'To' number is not a valid phone number.",
    21610: "Attempt to send to unsubscribed recipient",
    30001: "Queue overflow",
}


def log(msg):
    print("smsprovider: %s %s" % (time.strftime("%H:%M:%S"), msg),
          file=sys.stderr, flush=True)


def read_secret(path):
    with open(path) as f:
        return f.read().rstrip("\r\n")


class Provider:
    """What the providers share: the records, the faults, the lock."""

    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.messages = []
        self.requests = []
        self.faults = []
        self.repeatability = {}     # id -> the messageId it was given
        self.next_id = 1

    def reset(self):
        with self.lock:
            self.messages.clear()
            self.requests.clear()
            self.faults.clear()
            self.repeatability.clear()

    def take_fault(self, provider):
        """The fault the next request to `provider` gets, or None."""
        with self.lock:
            for f in self.faults:
                if f["provider"] in (provider, "any") and f["count"] > 0:
                    f["count"] -= 1
                    return dict(f)
        return None

    def new_id(self, prefix):
        with self.lock:
            n = self.next_id
            self.next_id += 1
        return "%s%032x" % (prefix, n)

    def record(self, kind, item):
        item["t"] = time.time()
        with self.lock:
            (self.messages if kind == "message" else
             self.requests).append(item)


class ApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "smsprovider/1"

    def log_message(self, fmt, *args):
        pass

    @property
    def p(self):
        return self.server.provider

    def reply(self, status, obj, headers=()):
        data = json.dumps(obj).encode() if obj is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n) if n > 0 else b""

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (OSError, ssl.SSLError):
            self.close_connection = True

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def do_PUT(self):
        self.route()

    def route(self):
        path = urllib.parse.urlsplit(self.path).path
        try:
            raw = self.body()
        except ValueError:
            self.reply(413, {"error": "too large"})
            return
        if path.startswith("/2010-04-01/Accounts/"):
            self.twilio(path, raw)
        elif path == "/sms":
            self.acs(raw)
        elif path == "/gateway" or path.startswith("/gateway/"):
            self.gateway(raw)
        else:
            self.reply(404, {"error": "no such path"})

    # -- common
    def fault_reply(self, provider, fault, req):
        headers = []
        if fault.get("retry_after") is not None:
            headers.append(("Retry-After", str(fault["retry_after"])))
        status = fault.get("status") or 500
        if provider == "twilio" and fault.get("twilio_code"):
            code = fault["twilio_code"]
            status = fault.get("status") or (429 if code == 20429 else 400)
            body = {"code": code, "message": TWILIO_ERRORS.get(
                code, "Error %d" % code), "more_info":
                "https://www.twilio.com/docs/errors/%d" % code,
                "status": status}
        elif provider == "acs":
            body = {"error": {"code": "ServiceUnavailable" if status >= 500
                              else "TooManyRequests",
                              "message": "injected fault"}}
        else:
            body = {"error": "injected fault"}
        req["status"] = status
        req["fault"] = fault
        self.p.record("request", req)
        log("%s: fault, answered %d" % (provider, status))
        self.reply(status, body, headers)

    def refuse(self, req, status, body):
        req["status"] = status
        self.p.record("request", req)
        log("%s: refused %d: %s" % (req["provider"], status, body))
        self.reply(status, body)

    # -- Twilio
    def twilio(self, path, raw):
        req = {"provider": "twilio", "method": self.command, "path": path}
        m = re.match(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$", path)
        if self.command != "POST" or m is None:
            self.refuse(req, 404, {"code": 20404, "message": "The "
                                   "requested resource was not found",
                                   "status": 404})
            return
        sid = m.group(1)
        auth = self.headers.get("Authorization") or ""
        want = "Basic " + base64.b64encode(
            ("%s:%s" % (self.p.args.twilio_sid, read_secret(
                self.p.args.twilio_token_file))).encode()).decode()
        req["auth_ok"] = hmac.compare_digest(auth, want)
        if sid != self.p.args.twilio_sid or not req["auth_ok"]:
            self.refuse(req, 401, {"code": 20003, "message":
                                   "Authenticate", "status": 401})
            return
        ctype = (self.headers.get("Content-Type") or "").split(";")[0]
        form = urllib.parse.parse_qs(raw.decode("utf-8", "replace"),
                                     keep_blank_values=True)
        fields = {k: v[0] for k, v in form.items()}
        req["form"] = fields
        if ctype != "application/x-www-form-urlencoded":
            self.refuse(req, 415, {"code": 20415, "message":
                                   "Unsupported Media Type"})
            return
        fault = self.p.take_fault("twilio")
        if fault is not None:
            self.fault_reply("twilio", fault, req)
            return
        to, body = fields.get("To", ""), fields.get("Body", "")
        senders = [k for k in ("From", "MessagingServiceSid")
                   if fields.get(k)]
        if not E164.match(to):
            self.refuse(req, 400, {"code": 21211, "message":
                                   TWILIO_ERRORS[21211], "status": 400})
            return
        if len(senders) != 1:
            self.refuse(req, 400, {"code": 21603, "message": "A 'From' or "
                                   "'MessagingServiceSid' parameter is "
                                   "required", "status": 400})
            return
        if not body or len(body) > 1600:
            self.refuse(req, 400, {"code": 21602, "message": "Message "
                                   "body is required (1600 characters "
                                   "at most)", "status": 400})
            return
        msid = self.p.new_id("SM")
        req["status"] = 201
        req["sid"] = msid
        self.p.record("request", req)
        self.p.record("message", {"provider": "twilio", "to": to,
                                  "from": fields.get("From"),
                                  "service": fields.get(
                                      "MessagingServiceSid"),
                                  "body": body, "sid": msid})
        log("twilio: %s to %s" % (msid, to))
        self.reply(201, {"sid": msid, "account_sid": sid, "to": to,
                         "from": fields.get("From"),
                         "messaging_service_sid": fields.get(
                             "MessagingServiceSid"),
                         "body": body, "status": "queued",
                         "num_segments": "1", "error_code": None,
                         "error_message": None})

    # -- Azure Communication Services
    def acs_verify(self, raw):
        """None when the signature holds, else why not."""
        date = self.headers.get("x-ms-date")
        chash = self.headers.get("x-ms-content-sha256")
        auth = self.headers.get("Authorization") or ""
        host = self.headers.get("Host")
        if not date or not chash or not host:
            return "x-ms-date, x-ms-content-sha256 or Host missing"
        want_hash = base64.b64encode(hashlib.sha256(raw).digest()).decode()
        if not hmac.compare_digest(chash, want_hash):
            return "x-ms-content-sha256 is not the body's hash"
        try:
            when = email.utils.parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return "x-ms-date is not an RFC 1123 date"
        if abs(time.time() - when) > ACS_CLOCK_SKEW:
            return "x-ms-date is too far from now"
        m = re.match(r"^HMAC-SHA256 SignedHeaders=([^&]+)&Signature=(.+)$",
                     auth)
        if m is None or m.group(1) != ACS_SIGNED:
            return "Authorization is not HMAC-SHA256 over %s" % ACS_SIGNED
        key = base64.b64decode(read_secret(self.p.args.acs_key_file))
        sts = "%s\n%s\n%s;%s;%s" % (self.command, self.path, date, host,
                                   chash)
        sig = base64.b64encode(hmac.new(key, sts.encode(),
                                        hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(sig, m.group(2)):
            return "the signature does not match"
        return None

    def acs(self, raw):
        req = {"provider": "acs", "method": self.command,
               "path": self.path}
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(
            self.path).query)
        if self.command != "POST" or \
                query.get("api-version") != [ACS_API_VERSION]:
            self.refuse(req, 404, {"error": {"code": "NotFound",
                                             "message": "no such API"}})
            return
        why = self.acs_verify(raw)
        req["auth_ok"] = why is None
        if why is not None:
            self.refuse(req, 401, {"error": {"code": "Denied",
                                             "message": why}})
            return
        try:
            doc = json.loads(raw)
            rcpts = doc["smsRecipients"]
            sender, text = doc["from"], doc["message"]
            assert isinstance(rcpts, list) and rcpts
            for r in rcpts:
                uuid.UUID(r["repeatabilityRequestId"])
                email.utils.parsedate_to_datetime(
                    r["repeatabilityFirstSent"])
        except (ValueError, KeyError, TypeError, AssertionError) as e:
            self.refuse(req, 400, {"error": {"code": "BadRequest",
                                             "message": repr(e)}})
            return
        req["recipients"] = rcpts
        fault = self.p.take_fault("acs")
        if fault is not None and not fault.get("process") and \
                not fault.get("acs_recipient_status"):
            self.fault_reply("acs", fault, req)
            return
        value = []
        for r in rcpts:
            rid, to = r["repeatabilityRequestId"], r["to"]
            out = {"to": to, "repeatabilityResult": "accepted"}
            with self.p.lock:
                seen = self.p.repeatability.get(rid)
            if seen is not None:
                out.update(messageId=seen, httpStatusCode=202,
                           successful=True)
                log("acs: repeat of %s to %s: not sent again" % (rid, to))
            elif fault is not None and fault.get("acs_recipient_status"):
                st = fault["acs_recipient_status"]
                out.update(messageId=None, httpStatusCode=st,
                           successful=False, repeatabilityResult="rejected",
                           errorMessage="injected recipient fault %d" % st)
            elif not E164.match(to):
                out.update(messageId=None, httpStatusCode=400,
                           successful=False, repeatabilityResult="rejected",
                           errorMessage="Invalid To phone number format.")
            else:
                mid = "Outgoing_" + self.p.new_id("")
                with self.p.lock:
                    self.p.repeatability[rid] = mid
                self.p.record("message", {
                    "provider": "acs", "to": to, "from": sender,
                    "body": text, "message_id": mid,
                    "repeatability_id": rid,
                    "first_sent": r["repeatabilityFirstSent"]})
                out.update(messageId=mid, httpStatusCode=202,
                           successful=True)
                log("acs: %s to %s" % (mid, to))
            value.append(out)
        req["value"] = value
        if fault is not None and fault.get("process") and \
                not fault.get("acs_recipient_status"):
            # Sent, but the answer is lost: the client must try again.
            self.fault_reply("acs", fault, req)
            return
        req["status"] = 202
        self.p.record("request", req)
        self.reply(202, {"value": value})

    # -- the generic gateway
    def gateway(self, raw):
        split = urllib.parse.urlsplit(self.path)
        ctype = (self.headers.get("Content-Type") or "").split(";")[0]
        req = {"provider": "gateway", "method": self.command,
               "path": split.path,
               "query": {k: v[0] for k, v in urllib.parse.parse_qs(
                   split.query, keep_blank_values=True).items()},
               "content_type": ctype,
               "headers": {k.lower(): v for k, v in self.headers.items()
                           if k.lower() not in ("authorization",)}}
        if self.p.args.gateway_token_file:
            want = "Bearer " + read_secret(self.p.args.gateway_token_file)
            req["auth_ok"] = hmac.compare_digest(
                self.headers.get("Authorization") or "", want)
            if not req["auth_ok"]:
                self.refuse(req, 401, {"error": "bad token"})
                return
        try:
            if ctype == "application/json":
                fields = json.loads(raw)
            elif raw:
                fields = {k: v[0] for k, v in urllib.parse.parse_qs(
                    raw.decode(), keep_blank_values=True).items()}
            else:
                fields = dict(req["query"])
        except ValueError as e:
            self.refuse(req, 400, {"error": repr(e)})
            return
        req["fields"] = fields
        fault = self.p.take_fault("gateway")
        if fault is not None:
            self.fault_reply("gateway", fault, req)
            return
        req["status"] = 200
        self.p.record("request", req)
        self.p.record("message", {"provider": "gateway",
                                  "method": self.command,
                                  "fields": fields,
                                  "headers": req["headers"]})
        log("gateway: %s %s" % (self.command, split.path))
        self.reply(200, {"ok": True})


class TlsServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, provider, ctx):
        self.provider, self.ctx = provider, ctx
        super().__init__(addr, handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        # Handshake in the handler's thread: a stuck client stalls no one.
        return self.ctx.wrap_socket(sock, server_side=True,
                                    do_handshake_on_connect=False), addr


class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        p = self.server.provider
        with p.lock:
            if self.path == "/messages":
                self.reply(200, list(p.messages))
            elif self.path == "/requests":
                self.reply(200, list(p.requests))
            else:
                self.reply(404, {"error": "no such control path"})

    def do_POST(self):
        p = self.server.provider
        n = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            self.reply(400, {"error": "not JSON"})
            return
        if self.path == "/faults":
            fault = {"provider": body.get("provider", "any"),
                     "count": int(body.get("count", 1)),
                     "status": body.get("status"),
                     "retry_after": body.get("retry_after"),
                     "twilio_code": body.get("twilio_code"),
                     "acs_recipient_status": body.get(
                         "acs_recipient_status"),
                     "process": bool(body.get("process"))}
            with p.lock:
                p.faults.append(fault)
            self.reply(200, fault)
        elif self.path == "/reset":
            p.reset()
            self.reply(200, {})
        else:
            self.reply(404, {"error": "no such control path"})


class ControlServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, provider):
        self.provider = provider
        super().__init__(addr, handler)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--control-port", type=int, default=0)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--twilio-sid", required=True)
    ap.add_argument("--twilio-token-file", required=True)
    ap.add_argument("--acs-key-file", required=True)
    ap.add_argument("--gateway-token-file")
    ap.add_argument("--ready-file")
    args = ap.parse_args(argv)

    read_secret(args.twilio_token_file)     # fail now, not at a request
    base64.b64decode(read_secret(args.acs_key_file), validate=True)
    provider = Provider(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    api = TlsServer(("127.0.0.1", args.port), ApiHandler, provider, ctx)
    control = ControlServer(("127.0.0.1", args.control_port),
                            ControlHandler, provider)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threads = [threading.Thread(target=s.serve_forever,
                                kwargs={"poll_interval": 0.2}, daemon=True)
               for s in (api, control)]
    for t in threads:
        t.start()
    info = {"port": api.server_address[1],
            "control_port": control.server_address[1], "pid": os.getpid()}
    log("listening on https://127.0.0.1:%d (control http://127.0.0.1:%d)"
        % (info["port"], info["control_port"]))
    if args.ready_file:
        tmp = "%s.tmp.%d" % (args.ready_file, os.getpid())
        with open(tmp, "w") as f:
            json.dump(info, f)
        os.replace(tmp, args.ready_file)
    while not stop.wait(0.5):
        pass
    for s in (api, control):
        s.shutdown()
        s.server_close()
    if args.ready_file:
        try:
            os.unlink(args.ready_file)
        except OSError:
            pass
    log("stopped")
    return 0


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    sys.exit(main())
