#!/usr/bin/env python3
"""Scripted HTTP(S) server for check-http and check-auth.

Listens on 127.0.0.1 only, on a port the kernel picks, written to
--port-file once listening. Exits by itself after --lifetime seconds.

Routes:
  GET  /hello              200 text/plain "hello"
  *    /echo               200, the request body back
  GET  /bytes/N            200 with N bytes and a Content-Length
  GET  /chunked/N          200 with N bytes, chunked (no length up front)
  GET  /slow/MS            sleeps MS milliseconds, then 200
  GET  /retry-after/N      429 with Retry-After: N
  GET  /retry-date/N       503 with Retry-After: an HTTP-date N s ahead
  GET  /redirect           302 to /hello
  GET  /stats              JSON counters: connections, requests, tokens
  POST /TENANT/oauth2/v2.0/token   an Entra-like token endpoint; TENANT
                           picks the behaviour (see token()).
  GET  [/STATUS]/metadata/identity/oauth2/token   an IMDS-like managed
                           identity endpoint (see imds()); a STATUS prefix
                           answers with that status.
  GET  /last               JSON: the last token and IMDS requests as seen
"""
import argparse
import base64
import email.utils
import json
import os
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = "S3cr3t+/=&% value"      # what a token request must carry
CLIENT_ID = "11111111-1111-1111-1111-111111111111"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

lock = threading.Lock()
stats = {"connections": 0, "requests": 0, "tokens": 0}
last = {"token": None, "imds": None}


def bump(key):
    with lock:
        stats[key] += 1
        return stats[key]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive, so reuse is visible

    def log_message(self, fmt, *args):
        pass

    def send(self, code, body, ctype="text/plain", headers=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self):
        self.route(b"")

    def do_POST(self):
        self.route(self.read_body())

    def do_PUT(self):
        self.route(self.read_body())

    def route(self, body):
        bump("requests")
        path = urllib.parse.urlsplit(self.path).path
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"] \
                and self.command == "POST":
            self.token(parts[0], body)
        elif path.endswith("/metadata/identity/oauth2/token"):
            self.imds(path, urllib.parse.urlsplit(self.path).query)
        elif path == "/last":
            with lock:
                self.send(200, json.dumps(last), "application/json")
        elif path == "/hello":
            self.send(200, "hello")
        elif path == "/echo":
            self.send(200, body, "application/octet-stream",
                      [("X-Method", self.command)])
        elif parts[0] == "bytes":
            self.send(200, b"x" * int(parts[1]))
        elif parts[0] == "chunked":
            self.chunked(int(parts[1]))
        elif parts[0] == "slow":
            time.sleep(int(parts[1]) / 1000.0)
            self.send(200, "slow")
        elif parts[0] == "retry-after":
            self.send(429, "slow down", headers=[("Retry-After", parts[1])])
        elif parts[0] == "retry-date":
            when = email.utils.formatdate(time.time() + int(parts[1]),
                                          usegmt=True)
            self.send(503, "later", headers=[("Retry-After", when)])
        elif path == "/redirect":
            self.send(302, "", headers=[("Location", "/hello")])
        elif path == "/stats":
            with lock:
                self.send(200, json.dumps(stats), "application/json")
        else:
            self.send(404, "no such route")

    def chunked(self, n):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        left = n
        while left > 0:
            k = min(left, 1000)
            self.wfile.write(b"%x\r\n" % k + b"y" * k + b"\r\n")
            left -= k
        self.wfile.write(b"0\r\n\r\n")

    def oauth_error(self, code, error, aadsts, text, headers=()):
        desc = ("AADSTS%d: %s\r\nTrace ID: 0000aaaa-11bb-cccc-dd22-eeeeee333333"
                "\r\nCorrelation ID: aaaa0000-bb11-2222-33cc-444444dddddd"
                "\r\nTimestamp: 2026-01-09 02:02:12Z" % (aadsts, text))
        self.send(code, json.dumps({
            "error": error, "error_description": desc,
            "error_codes": [aadsts], "timestamp": "2026-01-09 02:02:12Z",
            "trace_id": "0000aaaa-11bb-cccc-dd22-eeeeee333333",
            "correlation_id": "aaaa0000-bb11-2222-33cc-444444dddddd",
            "error_uri": "https://login.example/error?code=%d" % aadsts,
        }), "application/json; charset=utf-8", headers)

    def token(self, tenant, body):
        form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True,
                                     strict_parsing=False)
        field = {k: v[0] for k, v in form.items()}
        seen = {"tenant": tenant, "form": field,
                "content_type": self.headers.get("Content-Type")}
        parts = field.get("client_assertion", "").split(".")
        if len(parts) == 3:
            def dec(p):
                return json.loads(base64.urlsafe_b64decode(
                    p + "=" * (-len(p) % 4)))
            try:
                seen["assertion_header"] = dec(parts[0])
                seen["assertion_claims"] = dec(parts[1])
            except ValueError:
                pass
        with lock:
            last["token"] = seen
        if tenant == "slow":
            time.sleep(0.3)
        if tenant == "throttled":
            self.oauth_error(429, "temporarily_unavailable", 90055,
                             "TenantThrottlingError: too many requests.",
                             [("Retry-After", "9")])
            return
        if tenant == "noapp":
            self.oauth_error(400, "unauthorized_client", 700016,
                             "Application with identifier 'x' was not "
                             "found in the directory 'noapp'.")
            return
        if tenant == "broken":
            self.send(502, "<html>bad gateway</html>", "text/html")
            return
        if field.get("grant_type") != "client_credentials" or \
                field.get("client_id") != CLIENT_ID or \
                not field.get("scope", "").endswith("/.default"):
            self.oauth_error(400, "invalid_request", 900144,
                             "The request body must contain the "
                             "following parameter: 'grant_type'.")
            return
        if field.get("client_assertion") and field.get(
                "client_assertion_type") == ASSERTION_TYPE:
            pass                # check-jwt verifies signatures
        elif field.get("client_secret") != SECRET:
            self.oauth_error(401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the "
                             "secret being sent in the request is the "
                             "client secret value, not the client secret "
                             "ID, for a secret added to app '%s'."
                             % CLIENT_ID)
            return
        n = bump("tokens")
        token = "eyJ0eXAi.tok%d-%s.SIGNATURE" % (n, tenant)
        if tenant == "notjson":
            self.send(200, "<html>sign in</html>", "text/html")
        elif tenant == "badtype":
            self.send(200, json.dumps({"token_type": "pop",
                                       "expires_in": 3599,
                                       "access_token": token}),
                      "application/json")
        elif tenant == "strexp":
            self.send(200, json.dumps({"token_type": "bearer",
                                       "expires_in": "3600",
                                       "ext_expires_in": "3600",
                                       "resource": "https://api.example",
                                       "access_token": token}),
                      "application/json")
        elif tenant == "short":
            self.send(200, json.dumps({"token_type": "Bearer",
                                       "expires_in": 30,
                                       "access_token": token}),
                      "application/json")
        else:
            self.send(200, json.dumps({"token_type": "Bearer",
                                       "expires_in": 3599,
                                       "access_token": token}),
                      "application/json")

    def imds(self, path, query):
        seen = {"method": self.command, "path": path, "query": query,
                "params": {k: v[0] for k, v in urllib.parse.parse_qs(
                    query, keep_blank_values=True).items()},
                "metadata": self.headers.get("Metadata")}
        with lock:
            last["imds"] = seen
        prefix = path[:-len("/metadata/identity/oauth2/token")].strip("/")
        if self.headers.get("Metadata") != "true":
            self.send(400, json.dumps({
                "error": "bad_request_102",
                "error_description": "Required metadata header not "
                                     "specified"}), "application/json")
            return
        if prefix:
            code = int(prefix)
            self.send(code, json.dumps({
                "error": "error_%d" % code,
                "error_description": "scripted %d" % code}),
                "application/json")
            return
        n = bump("tokens")
        now = int(time.time())
        self.send(200, json.dumps({
            "access_token": "eyJ0eXAi.mi%d.SIGNATURE" % n,
            "refresh_token": "", "expires_in": "3599",
            "expires_on": str(now + 3599), "not_before": str(now),
            "resource": seen["params"].get("resource", ""),
            "token_type": "Bearer"}), "application/json")


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls = None

    def finish_request(self, request, client_address):
        bump("connections")
        if self.tls is not None:
            # Handshake in the connection's thread, not the accept loop.
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        try:
            super().finish_request(request, client_address)
        except (OSError, ssl.SSLError):
            pass

    def handle_error(self, request, client_address):
        pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--lifetime", type=float, default=300)
    args = ap.parse_args()

    srv = Server(("127.0.0.1", 0), Handler)
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.cert, args.key)
        srv.tls = ctx
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)

    threading.Timer(args.lifetime, lambda: os._exit(0)).start()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
