#!/usr/bin/python3
"""Watching the watcher: /metrics in the Prometheus text format (checked by
promtool) counts polls, records, alerts and deliveries of a real
break-glass sign-in; /healthz turns 503 while the source fails; the
listener is loopback-only unless allowed, survives reloads with its
counters, and a port in use does not stop the monitoring."""

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
from gwtest import BG1, BG1_UPN, EXIT_CONFIG, RULE, free_port, wait_for  # noqa

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$')
PROMTOOL = shutil.which("promtool")


def parse(text):
    """{(name, frozenset(labels)): value} of an exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if m is None:
            raise AssertionError("not a sample line: %r" % line)
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"',
                                      m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(samples, name, **labels):
    """The sum of the series of name whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items()
               if n == name and want <= set(ls))


class MetricsTest(gwtest.TestCase):

    def request(self, path, method="GET", port=None, host="127.0.0.1"):
        conn = http.client.HTTPConnection(host, port or self.port,
                                          timeout=gwtest.scaled(5))
        try:
            conn.request(method, path)
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read().decode()
        finally:
            conn.close()

    def scrape(self):
        status, headers, body = self.request("/metrics")
        self.assertEqual(status, 200, body)
        return headers, body

    def start_listening(self, listen=None, **kw):
        self.port = free_port()
        listen = listen or "127.0.0.1:%d" % self.port
        kw.setdefault("top", {})["metrics"] = {"listen": listen}
        self.start_all(**kw)
        self.daemon.wait_log("metrics: listening on %s" % listen)

    def wait_value(self, name, at_least, timeout=20, **labels):
        def check():
            return value(parse(self.scrape()[1]), name, **labels) >= \
                at_least
        wait_for(self.alive(check), timeout, what="%s%r >= %s" % (
            name, labels, at_least), on_timeout=self.diagnostics)

    def promtool(self, text):
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text,
                           capture_output=True, text=True,
                           timeout=gwtest.scaled(30))
        self.assertEqual(r.returncode, 0, "promtool check metrics:\n%s%s"
                         % (r.stdout, r.stderr))
        self.assertEqual(r.stdout + r.stderr, "", "promtool lint findings")

    def test_a_delivered_sign_in_is_counted(self):
        self.start_listening()
        rec = self.sim.signin(BG1, BG1_UPN)
        self.wait_mails(1)
        self.wait_value("glasswatch_deliveries_total", 1,
                        notifier="soc-mail", state="delivered")
        headers, text = self.scrape()
        self.assertEqual(headers["Content-Type"],
                         "text/plain; version=0.0.4; charset=utf-8")
        self.promtool(text)
        s = parse(text)
        poller = dict(tenant="contoso", source="log_analytics",
                      signal="sign_in")
        self.assertGreaterEqual(value(s, "glasswatch_polls_total", **poller),
                                1)
        self.assertEqual(value(s, "glasswatch_poll_failures_total",
                               **poller), 0)
        self.assertGreaterEqual(value(s, "glasswatch_records_seen_total",
                                      **poller), 1)
        self.assertEqual(value(s, "glasswatch_alerts_total", rule=RULE,
                               kind="event", severity="0"), 1)
        self.assertEqual(value(s, "glasswatch_deliveries_total",
                               notifier="soc-mail", state="delivered"), 1)
        self.assertEqual(value(s, "glasswatch_deliveries_pending",
                               notifier="soc-mail"), 0)
        last = value(s, "glasswatch_last_successful_poll_timestamp_seconds",
                     **poller)
        self.assertLess(abs(last - time.time()), 30)
        self.assertGreaterEqual(value(
            s, "glasswatch_token_refreshes_total", tenant="contoso"), 1)
        self.assertGreaterEqual(value(
            s, "glasswatch_detection_latency_seconds_count",
            notifier="soc-mail"), 1)
        self.assertEqual(value(
            s, "glasswatch_detection_latency_seconds_bucket",
            notifier="soc-mail", le="+Inf"), value(
            s, "glasswatch_detection_latency_seconds_count"))
        self.assertIn(("glasswatch_build_info",
                       frozenset({("version", "0.1.0")})), s)
        self.assertTrue(rec["id"])

        # HEAD has the headers and no body; other paths and methods.
        status, headers, body = self.request("/metrics", "HEAD")
        self.assertEqual((status, body), (200, ""))
        self.assertEqual(self.request("/nothing")[0], 404)
        status, headers, _ = self.request("/metrics", "POST")
        self.assertEqual(status, 405)
        self.assertEqual(headers.get("Allow"), "GET, HEAD")

        # A reload keeps the listener and every counter.
        before = parse(self.scrape()[1])
        size = len(self.daemon.output())
        self.daemon.signal(signal.SIGHUP)
        self.daemon.wait_log("reloaded:", since=size)
        after = parse(self.scrape()[1])
        self.assertEqual(value(after, "glasswatch_alerts_total", rule=RULE),
                         1)
        self.assertGreaterEqual(value(after, "glasswatch_polls_total",
                                      **poller),
                                value(before, "glasswatch_polls_total",
                                      **poller))
        self.assertEqual(value(after, "glasswatch_deliveries_total",
                               state="delivered"), 1)
        self.assertGreaterEqual(value(after,
                                      "glasswatch_records_seen_total"), 1)
        self.assertEqual(self.request("/healthz")[0], 200)

    def test_undeliverable_alert_is_pending(self):
        # No mail server behind the notifier's port: the delivery waits.
        self.port = free_port()
        self.sim = self.env.start_sim()
        self.smtp = None
        cfg = self.env.config(self.sim, None, top={
            "metrics": {"listen": "127.0.0.1:%d" % self.port}})
        self.daemon = self.env.start_daemon(self.env.write_config(cfg))
        self.daemon.wait_log("metrics: listening on")
        self.sim.signin(BG1, BG1_UPN)
        self.wait_value("glasswatch_delivery_retries_total", 1,
                        notifier="soc-mail")
        s = parse(self.scrape()[1])
        self.assertEqual(value(s, "glasswatch_deliveries_pending",
                               notifier="soc-mail"), 1)
        self.assertEqual(value(s, "glasswatch_deliveries_total"), 0)
        self.assertEqual(value(s, "glasswatch_alerts_total", rule=RULE), 1)
        self.assertEqual(value(
            s, "glasswatch_detection_latency_seconds_count"), 0)

    def test_reload_moves_then_closes_the_listener(self):
        self.start_listening()
        self.wait_value("glasswatch_polls_total", 1)
        old = self.port
        new = free_port()
        cfg = self.env.config(self.sim, self.smtp, top={
            "metrics": {"listen": "[::1]:%d" % new}})
        self.env.write_config(cfg)
        size = len(self.daemon.output())
        self.daemon.signal(signal.SIGHUP)
        self.daemon.wait_log("metrics: listening on [::1]:%d" % new,
                             since=size)
        with self.assertRaises(OSError):
            self.request("/metrics", port=old)
        status, _, text = self.request("/metrics", port=new, host="::1")
        self.assertEqual(status, 200)
        self.assertGreaterEqual(value(parse(text), "glasswatch_polls_total"),
                                1)
        # metrics: removed: closed.
        self.env.write_config(self.env.config(self.sim, self.smtp))
        size = len(self.daemon.output())
        self.daemon.signal(signal.SIGHUP)
        self.daemon.wait_log("metrics: no longer listening", since=size)
        with self.assertRaises(OSError):
            self.request("/metrics", port=new, host="::1")
        self.assertTrue(self.daemon.running())

    def test_healthz_follows_the_source(self):
        self.start_listening()

        def health(code):
            return lambda: self.request("/healthz")[0] == code and \
                self.request("/healthz")
        status, _, body = wait_for(self.alive(health(200)), 20,
                                   what="/healthz 200",
                                   on_timeout=self.diagnostics)
        self.assertEqual(body, "ok\n")
        # Every query fails (rule frequency 1s): stale after 2s.
        self.sim.fault(path="query", status=503, count=100000)
        failing_since = time.time()
        status, _, body = wait_for(self.alive(health(503)), 20,
                                   what="/healthz 503",
                                   on_timeout=self.diagnostics)
        self.assertGreaterEqual(time.time() - failing_since, 2)
        self.assertIn("contoso/log_analytics/sign_in: last read", body)
        self.assertIn("(every 1s)", body)
        s = parse(self.scrape()[1])
        self.assertGreaterEqual(value(s, "glasswatch_poll_failures_total",
                                      tenant="contoso"), 1)
        self.sim.reset()                # the faults are gone
        wait_for(self.alive(health(200)), 20, what="/healthz 200 again",
                 on_timeout=self.diagnostics)

    def test_remote_address_needs_allow_remote(self):
        sim = self.env.start_sim()
        port = free_port()
        cfg = self.env.config(sim, None, top={
            "metrics": {"listen": "0.0.0.0:%d" % port}})
        path = self.env.write_config(cfg)
        r = self.env.run_daemon(["-c", path, "--check"])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout + r.stderr,
                         r"glasswatch\.yaml:\d+:\d+: metrics: listen: "
                         r"0\.0\.0\.0:%d is not a loopback address" % port)
        d = self.env.start_daemon(path)
        self.assertEqual(d.wait(), EXIT_CONFIG)
        # The opt-in makes it valid.
        cfg["metrics"]["allow_remote"] = True
        path = self.env.write_config(cfg)
        r = self.env.run_daemon(["-c", path, "--check"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_port_in_use_keeps_monitoring(self):
        busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        self.port = busy.getsockname()[1]
        try:
            self.start_all(top={"metrics": {
                "listen": "127.0.0.1:%d" % self.port}})
            self.daemon.wait_log("metrics: cannot listen on 127.0.0.1:%d"
                                 % self.port)
            self.sim.signin(BG1, BG1_UPN)
            self.wait_mails(1)          # monitoring goes on
        finally:
            busy.close()
        # Bound at the next retry (every 30 s).
        self.daemon.wait_log("metrics: listening on 127.0.0.1:%d"
                             % self.port, timeout=45)
        s = parse(self.scrape()[1])
        self.assertEqual(value(s, "glasswatch_alerts_total", rule=RULE), 1)


if __name__ == "__main__":
    if PROMTOOL is None:
        print("promtool (Debian's prometheus package) is missing",
              file=sys.stderr)
        sys.exit(gwtest.EXIT_SKIP)
    gwtest.main()
