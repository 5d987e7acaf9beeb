#!/usr/bin/python3
"""multigraph — many simulated Entra tenants behind one Microsoft Graph,
for the 1,000-tenant benchmark (tests/bench/bench.py).

Each tenant has its own app registration (client id and secret, from a
JSON file {tenant_id: [client_id, secret]}).  Serves over HTTPS on
127.0.0.1 (keep-alive, like the real services):

  POST /{tenant}/oauth2/v2.0/token          client-credentials tokens
  GET  /v1.0/auditLogs/signIns              \\
  GET  /beta/auditLogs/signIns               > an empty page: the steady
  GET  /v1.0/auditLogs/directoryAudits      /  state of a quiet tenant
  GET  /v1.0/applications(appId='...')      403 (no Application.Read.All)

and, over plain HTTP on a second loopback port, GET /stats: requests by
kind, TLS handshakes, and the Graph budget (5 requests per 10 s per app
and tenant) broken.  tests/sim/simtenant.py is the full single tenant;
this one is kept small so that 50 requests a second cost it little.
"""

import argparse
import collections
import http.server
import json
import os
import re
import secrets
import signal
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

GRAPH_RE = re.compile(r"^/(v1\.0|beta)/auditLogs/(signIns|directoryAudits)$")
TOKEN_RE = re.compile(r"^/([^/]+)/oauth2/v2\.0/token$")
BUDGET, WINDOW = 5, 10.0


class State:
    def __init__(self, apps):
        self.lock = threading.Lock()
        self.apps = apps                # tenant -> (client_id, secret)
        self.tokens = {}                # token -> tenant
        self.stats = collections.Counter()
        self.recent = collections.defaultdict(collections.deque)

    def graph_hit(self, tenant):
        """Count a Graph request of the tenant's app; note a request over
        its budget."""
        now = time.monotonic()
        with self.lock:
            q = self.recent[tenant]
            while q and q[0] <= now - WINDOW:
                q.popleft()
            q.append(now)
            if len(q) > BUDGET:
                self.stats["over_budget"] += 1


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120

    def setup(self):
        super().setup()
        try:
            self.request.do_handshake()
            self.ok = True
            self.count("tls_handshakes")
        except (ssl.SSLError, OSError):
            self.ok = False
            self.close_connection = True

    def handle(self):
        if self.ok:
            try:
                super().handle()
            except (ssl.SSLError, ConnectionError, TimeoutError):
                pass

    def log_message(self, fmt, *args):
        pass

    def count(self, key):
        st = self.server.state
        with st.lock:
            st.stats[key] += 1

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
        m = TOKEN_RE.match(self.path)
        self.count("token")
        app = st.apps.get(m.group(1).lower()) if m else None
        if app is None or form.get("client_id") != app[0] or \
                form.get("client_secret") != app[1]:
            self.count("token_refused")
            return self.reply(401, {"error": "invalid_client",
                                    "error_codes": [7000215],
                                    "error_description": "AADSTS7000215: "
                                    "Invalid client secret provided."})
        token = secrets.token_urlsafe(32)
        with st.lock:
            st.tokens[token] = m.group(1).lower()
        self.reply(200, {"token_type": "Bearer", "expires_in": 3599,
                         "ext_expires_in": 3599, "access_token": token})

    def do_GET(self):
        st = self.server.state
        url = urllib.parse.urlsplit(self.path)
        auth = self.headers.get("Authorization") or ""
        with st.lock:
            tenant = st.tokens.get(auth[7:]) \
                if auth.startswith("Bearer ") else None
        if tenant is None:
            self.count("graph_unauthorized")
            return self.reply(401, {"error": {
                "code": "InvalidAuthenticationToken",
                "message": "Access token is empty."}})
        m = GRAPH_RE.match(url.path)
        if m:
            self.count("graph")
            st.graph_hit(tenant)
            return self.reply(200, {
                "@odata.context": "https://graph.microsoft.com/%s/"
                "$metadata#auditLogs/%s" % m.groups(), "value": []})
        if url.path.startswith("/v1.0/applications"):
            self.count("application")
            return self.reply(403, {"error": {
                "code": "Authorization_RequestDenied",
                "message": "Insufficient privileges to complete the "
                           "operation."}})
        self.count("other")
        self.reply(404, {"error": {"code": "BadRequest",
                                   "message": "Resource not found."}})


class TlsServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

    def __init__(self, addr, state, ctx):
        self.state, self.ctx = state, ctx
        super().__init__(addr, Handler)

    def get_request(self):
        sock, addr = self.socket.accept()
        return self.ctx.wrap_socket(sock, server_side=True,
                                    do_handshake_on_connect=False), addr


class ControlHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        st = self.server.state
        with st.lock:
            data = json.dumps(dict(st.stats)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--apps", required=True,
                    help="JSON file {tenant_id: [client_id, secret]}")
    ap.add_argument("--ready-file", required=True)
    args = ap.parse_args()
    with open(args.apps) as f:
        apps = {k.lower(): tuple(v) for k, v in json.load(f).items()}
    state = State(apps)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    api = TlsServer(("127.0.0.1", 0), state, ctx)
    control = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                              ControlHandler)
    control.state = state
    for s in (api, control):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    with open(args.ready_file + ".tmp", "w") as f:
        json.dump({"port": api.server_address[1],
                   "control_port": control.server_address[1]}, f)
    os.replace(args.ready_file + ".tmp", args.ready_file)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())
    while not stop.wait(0.5):
        pass
    api.shutdown()
    control.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
