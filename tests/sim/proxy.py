#!/usr/bin/python3
"""A forward proxy for the tests: CONNECT tunnels (HTTPS through a proxy)
and absolute-URI GETs (plain HTTP through a proxy, answered 502 here).
Every request line is appended to a log the test reads, one JSON object a
line: {"method": "CONNECT", "target": "127.0.0.1:8443"}.

usage: proxy.py --ready-file F --log F   (listens on 127.0.0.1, free port)
"""

import argparse
import json
import os
import select
import socket
import socketserver
import threading

LOCK = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    def record(self, method, target):
        with LOCK, open(self.server.log, "a") as f:
            f.write(json.dumps({"method": method, "target": target}) + "\n")

    def handle(self):
        line = self.rfile.readline(8192).decode("latin-1").strip()
        parts = line.split()
        if len(parts) != 3:
            return
        method, target = parts[0], parts[1]
        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
            pass
        self.record(method, target)
        if method != "CONNECT":
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\n"
                             b"Content-Length: 0\r\n\r\n")
            return
        host, _, port = target.rpartition(":")
        try:
            upstream = socket.create_connection((host, int(port)), 10)
        except (OSError, ValueError):
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        conns = [self.connection, upstream]
        try:
            for _ in range(100000):         # bounded: a tunnel ends
                readable, _, _ = select.select(conns, [], [], 30)
                if not readable:
                    break
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is self.connection
                     else self.connection).sendall(data)
        except OSError:
            pass
        finally:
            upstream.close()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    server.log = args.log
    tmp = args.ready_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"port": server.server_address[1], "pid": os.getpid()}, f)
    os.replace(tmp, args.ready_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
