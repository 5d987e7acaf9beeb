#!/usr/bin/python3
"""Webhooks: a break-glass sign-in posts every format to a real HTTPS
receiver (tests/sim/hooksink.py) that verifies the Standard Webhooks
signature; 500 and 429 are retried and end in exactly one delivery; a
url_file's token never reaches the log or the state store; a real
Alertmanager (Debian's prometheus-alertmanager) lists the alert."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
from gwtest import (BG1, BG1_UPN, PYTHON, RULE, SIM_DIR, TENANT_ID,  # noqa
                    free_port, wait_for)

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
HOOK_KEY = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
ROUTING_KEY = "R0UT1NGKEY0123456789abcdefABCDEF"
URL_TOKEN = "T0KEN-in-the-path-9f8e7d6c"
QUERY_TOKEN = "sig-in-the-query-1a2b3c4d"


def read_json(path):
    with open(path) as f:
        return json.load(f)


def http_json(url, body=None, method=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type":
                                          "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read().decode() or "null")


class Helper:
    """A process a test starts: its log and how to stop it."""

    name = "helper"
    proc = None
    log_path = None

    def log_tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "--- %s log:\n%s" % (self.name,
                                            "".join(f.readlines()[-n:]))
        except (OSError, TypeError):
            return ""

    def wait_up(self, ready, what, timeout=30):
        """ready() while the process runs; stopped when it never is."""
        try:
            return wait_for(lambda: self.proc.poll() is None and ready(),
                            timeout, what=what, on_timeout=self.log_tail)
        except AssertionError:
            self.stop()
            raise

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


class HookSink(Helper):
    """A running tests/sim/hooksink.py and its control API."""

    name = "hooksink"

    def __init__(self, env, key_file=None):
        self.env = env
        n = env.next_id()
        ready = env.path("hooksink-%d.ready" % n)
        self.log_path = env.path("hooksink-%d.log" % n)
        args = [PYTHON, os.path.join(SIM_DIR, "hooksink.py"),
                "--cert", env.cert("server.pem"),
                "--key", env.cert("server.key"),
                "--ready-file", ready]
        if key_file is not None:
            args += ["--secret-file", key_file]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        info = self.wait_up(lambda: read_json(ready), "hooksink to listen")
        self.url = "https://127.0.0.1:%d" % info["port"]
        self.control = "http://127.0.0.1:%d" % info["control_port"]

    def requests(self, path=None):
        reqs = http_json(self.control + "/requests")
        return [r for r in reqs if path is None or r["path"] == path]

    def script(self, answers, default=200):
        http_json(self.control + "/script",
                  {"answers": answers, "default": default}, "POST")


class Alertmanager(Helper):
    """/usr/bin/prometheus-alertmanager on a free loopback port, with its
    own storage and config, clustering off."""

    name = "alertmanager"

    def __init__(self, env):
        self.env = env
        self.dir = env.path("alertmanager")
        os.makedirs(os.path.join(self.dir, "data"))
        config = os.path.join(self.dir, "alertmanager.yml")
        with open(config, "w") as f:
            f.write('route:\n  receiver: "null"\n'
                    'receivers:\n  - name: "null"\n')
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(self.dir, "alertmanager.log")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [ALERTMANAGER, "--config.file=" + config,
                 "--storage.path=" + os.path.join(self.dir, "data"),
                 "--web.listen-address=127.0.0.1:%d" % self.port,
                 "--cluster.listen-address="],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.wait_up(self._ready, "alertmanager to be ready")

    def _ready(self):
        try:
            with urllib.request.urlopen(self.url + "/-/ready",
                                        timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def alerts(self):
        return http_json(self.url + "/api/v2/alerts")


class WebhookTest(gwtest.TestCase):

    def start_sink(self, sink_key=HOOK_KEY):
        """The sim and a hook sink that verifies signatures with
        sink_key (None: it does not)."""
        self.sim = self.env.start_sim()
        self.key_file = self.env.write_secret("hook-key", HOOK_KEY)
        key_file = None
        if sink_key is not None:
            key_file = self.env.write_secret("sink-key", sink_key)
        self.sink = self.env._own(HookSink(self.env, key_file))
        return self.sink

    def start_daemon(self, notifiers):
        """The daemon with these notifiers, all of them the rule's
        actions; short retries and the test CA unless given."""
        for n in notifiers:
            n.setdefault("type", "webhook")
            n.setdefault("retry", {"initial": "1s", "max": "2s",
                                   "expire_after": "1h"})
            n.setdefault("ca_file", self.env.cert("ca.pem"))
        cfg = self.env.config(self.sim, None, rule={
            "actions": [n["name"] for n in notifiers]})
        cfg["notifiers"] = notifiers
        self.config_path = self.env.write_config(cfg)
        check = self.env.run_daemon(["-c", self.config_path, "--check"])
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.daemon = self.env.start_daemon(self.config_path)
        return check

    def diagnostics(self):
        parts = [super().diagnostics()]
        for name in ("sink", "am"):
            obj = getattr(self, name, None)
            if obj is not None:
                parts.append(obj.log_tail())
        return "\n".join(parts)

    def wait_requests(self, path, n, timeout=30):
        return wait_for(self.alive(lambda: len(self.sink.requests(path))
                                   >= n and self.sink.requests(path)),
                        timeout, what="%d request(s) to %s" % (n, path),
                        on_timeout=self.diagnostics)

    def wait_delivered(self, n=1, timeout=30):
        return wait_for(self.alive(lambda: len(
            self.env.deliveries("delivered")) >= n), timeout,
            what="%d delivered deliveries" % n, on_timeout=self.diagnostics)

    def alert_id(self):
        rows = self.env.db("SELECT id FROM alerts WHERE kind = 'event'")
        self.assertEqual(len(rows), 1, rows)
        return rows[0]["id"]

    # ------------------------------------------------------------------

    def test_every_format_is_posted_and_signed(self):
        rk = self.env.write_secret("pd-key", ROUTING_KEY)
        formats = ["json", "azure-common-alert", "slack", "teams",
                   "pagerduty", "alertmanager"]
        sink = self.start_sink().url
        notifiers = []
        for f in formats:
            n = {"name": "hook-" + f, "format": f, "url": sink + "/" + f,
                 "secret_file": self.key_file,
                 "headers": {"X-Glasswatch-Test": "yes"}}
            if f == "pagerduty":
                n["routing_key_file"] = rk
            notifiers.append(n)
        self.start_daemon(notifiers)

        self.sim.signin(BG1, BG1_UPN, IPAddress="203.0.113.9")
        self.wait_delivered(len(formats))
        alert_id = self.alert_id()
        paths = {"json": "/json", "azure-common-alert": "/azure-common-alert",
                 "slack": "/slack", "teams": "/teams",
                 "pagerduty": "/pagerduty",
                 "alertmanager": "/alertmanager/api/v2/alerts"}
        bodies = {}
        for f, path in paths.items():
            reqs = self.sink.requests(path)
            self.assertEqual(len(reqs), 1, (f, self.sink.requests()))
            req = reqs[0]
            self.assertEqual(req["signature"], "ok", (f, req))
            self.assertEqual(req["status"], 200)
            h = req["headers"]
            self.assertEqual(h["content-type"], "application/json")
            self.assertEqual(h["webhook-id"], alert_id)
            self.assertEqual(h["x-glasswatch-test"], "yes")
            self.assertTrue(h["webhook-signature"].startswith("v1,"))
            self.assertLess(abs(int(h["webhook-timestamp"]) - time.time()),
                            120)
            self.assertIsNotNone(req["json"], req["body"])
            bodies[f] = req["json"]

        j = bodies["json"]
        self.assertEqual(j["schema"], "glasswatch.alert/v1")
        self.assertEqual(j["id"], alert_id)
        self.assertEqual(j["rule"], RULE)
        self.assertEqual(j["tenant_id"], TENANT_ID)
        self.assertEqual(j["account"], {"upn": BG1_UPN, "object_id": BG1})
        self.assertEqual(j["records"][0]["ip"], "203.0.113.9")
        self.assertEqual(j["records"][0]["user_id"], BG1)
        ess = bodies["azure-common-alert"]["data"]["essentials"]
        self.assertEqual(bodies["azure-common-alert"]["schemaId"],
                         "azureMonitorCommonAlertSchema")
        self.assertEqual(ess["alertId"], "glasswatch/" + alert_id)
        self.assertEqual(ess["severity"], "Sev0")
        self.assertEqual(ess["alertTargetIDs"],
                         ["/tenants/%s/users/%s" % (TENANT_ID, BG1)])
        self.assertEqual(bodies["azure-common-alert"]["data"]
                         ["alertContext"]["glasswatch"]["id"], alert_id)
        self.assertIn(BG1_UPN, bodies["slack"]["text"])
        self.assertEqual(bodies["slack"]["blocks"][0]["type"], "section")
        att = bodies["teams"]["attachments"][0]
        self.assertEqual(att["contentType"],
                         "application/vnd.microsoft.card.adaptive")
        self.assertEqual(att["content"]["type"], "AdaptiveCard")
        pd = bodies["pagerduty"]
        self.assertEqual(pd["routing_key"], ROUTING_KEY)
        self.assertEqual(pd["event_action"], "trigger")
        self.assertEqual(pd["dedup_key"], alert_id)
        self.assertEqual(pd["payload"]["severity"], "critical")
        am = bodies["alertmanager"]
        self.assertEqual(am[0]["labels"]["glasswatch_alert_id"], alert_id)
        self.assertEqual(am[0]["labels"]["account"], BG1_UPN)

        # One delivery row per notifier, to the sink's origin.
        rows = self.env.deliveries()
        self.assertEqual(len(rows), len(formats), rows)
        self.assertEqual({d["recipient"] for d in rows}, {sink})
        self.assertNotIn(ROUTING_KEY, self.daemon.output())

    def test_500_then_429_then_200_is_delivered_once(self):
        self.start_sink()
        self.sink.script([{"status": 500},
                          {"status": 429, "retry_after": 2}])
        self.start_daemon([{"name": "hook", "url": self.sink.url + "/hook",
                            "secret_file": self.key_file}])
        self.sim.signin(BG1, BG1_UPN)
        self.wait_delivered(1)
        reqs = self.wait_requests("/hook", 3)
        self.settle(n=3)
        time.sleep(gwtest.scaled(3))     # longer than retry.max
        reqs = self.sink.requests("/hook")
        self.assertEqual([r["status"] for r in reqs], [500, 429, 200])
        self.assertEqual({r["signature"] for r in reqs}, {"ok"})
        ids = {r["headers"]["webhook-id"] for r in reqs}
        self.assertEqual(ids, {self.alert_id()})
        self.assertEqual(len({r["body"] for r in reqs}), 1)
        # Retry-After: 2 was honoured.
        self.assertGreaterEqual(reqs[2]["t"] - reqs[1]["t"], 1.9)
        self.assertIn("as the server asked", self.daemon.output())
        states = [d["state"] for d in self.env.deliveries()]
        self.assertEqual(states, ["delivered"])

    def test_url_file_token_stays_out_of_logs(self):
        self.start_sink(sink_key=None)
        url_file = self.env.write_secret(
            "hook-url", "%s/services/%s/x?sig=%s" % (self.sink.url,
                                                     URL_TOKEN, QUERY_TOKEN))
        check = self.start_daemon([{"name": "hook", "url_file": url_file,
                                    "format": "slack"}])
        self.sink.script([{"status": 503}])
        self.sim.signin(BG1, BG1_UPN)
        self.wait_delivered(1)
        reqs = self.sink.requests()
        self.assertEqual(len(reqs), 2, reqs)
        self.assertEqual(reqs[1]["path"], "/services/%s/x?sig=%s"
                         % (URL_TOKEN, QUERY_TOKEN))
        self.assertIsNone(reqs[1]["signature"])   # no secret_file
        self.assertNotIn("webhook-signature", reqs[1]["headers"])
        self.daemon.terminate()
        for text in [self.daemon.output(), check.stdout, check.stderr,
                     json.dumps(self.env.deliveries()),
                     json.dumps(self.env.db(
                         "SELECT * FROM delivery_attempts"))]:
            self.assertNotIn(URL_TOKEN, text)
            self.assertNotIn(QUERY_TOKEN, text)
        self.assertIn(self.sink.url, self.daemon.output())
        self.assertEqual(self.env.deliveries()[0]["recipient"],
                         self.sink.url)

    def test_wrong_signing_key_is_refused_by_the_receiver(self):
        self.start_sink(sink_key="a raw key of thirty-two bytes!!!")
        self.start_daemon([{"name": "hook", "url": self.sink.url + "/hook",
                            "secret_file": self.key_file}])
        self.sim.signin(BG1, BG1_UPN)
        wait_for(self.alive(lambda: self.env.deliveries("failed")), 30,
                 what="a failed delivery", on_timeout=self.diagnostics)
        rule_alert = self.alert_id()
        reqs = [r for r in self.sink.requests("/hook")
                if r["headers"].get("webhook-id") == rule_alert]
        self.assertEqual(len(reqs), 1, reqs)    # 401: not retried
        self.assertTrue(reqs[0]["signature"].startswith("bad:"), reqs)
        self.assertIn("HTTP 401, refused", self.daemon.output())
        # The lost delivery raises a system alert, through the same
        # notifier (the default system_actions), refused alike.
        system = wait_for(self.alive(lambda: [
            r for r in self.sink.requests("/hook")
            if (r["json"] or {}).get("kind") == "system"]), 20,
            what="the system alert", on_timeout=self.diagnostics)
        self.assertIn(rule_alert, system[0]["json"]["description"])

    def test_real_alertmanager_lists_the_alert(self):
        if not os.access(ALERTMANAGER, os.X_OK):
            if os.environ.get("CI") == "true":
                self.fail("%s is missing (tests/deps.sh installs "
                          "prometheus-alertmanager)" % ALERTMANAGER)
            self.skipTest("%s is not installed" % ALERTMANAGER)
        self.am = self.env._own(Alertmanager(self.env))
        self.sim = self.env.start_sim()
        # Plain HTTP: allowed because the host is loopback.
        self.start_daemon([{"name": "am", "format": "alertmanager",
                            "url": self.am.url}])
        self.sim.signin(BG1, BG1_UPN)
        self.wait_delivered(1)
        alert_id = self.alert_id()
        listed = wait_for(self.alive(lambda: [
            a for a in self.am.alerts()
            if a["labels"].get("glasswatch_alert_id") == alert_id]), 20,
            what="the alert in Alertmanager", on_timeout=self.diagnostics)
        a = listed[0]
        self.assertEqual(a["labels"]["alertname"], RULE)
        self.assertEqual(a["labels"]["rule"], RULE)
        self.assertEqual(a["labels"]["severity"], "critical")
        self.assertEqual(a["labels"]["tenant"], "contoso")
        self.assertEqual(a["labels"]["account"], BG1_UPN)
        self.assertIn(BG1_UPN, a["annotations"]["summary"])
        self.assertIn(alert_id, a["annotations"]["description"])
        self.assertEqual(a["status"]["state"], "active")

    def test_heartbeat_pings_after_cycles_and_fail_url_on_failure(self):
        self.start_sink(sink_key=None)
        self.smtp = self.env.start_smtp()
        cfg = self.env.config(self.sim, self.smtp)
        cfg["notifiers"].append({
            "name": "deadman", "type": "heartbeat",
            "url": self.sink.url + "/ping/abc",
            "fail_url": self.sink.url + "/ping/abc/fail",
            "ca_file": self.env.cert("ca.pem")})
        self.daemon = self.env.start_daemon(self.env.write_config(cfg))
        oks = self.wait_requests("/ping/abc", 3)
        self.assertTrue(oks[0]["body"].startswith("glasswatchd ok"), oks[0])
        self.assertEqual(self.sink.requests("/ping/abc/fail"), [])
        # A cycle with a failing source pings fail_url, saying what fails.
        self.sim.fault(path="query", status=503, count=2)
        fails = self.wait_requests("/ping/abc/fail", 1)
        self.assertIn("contoso/log_analytics/sign_in: HTTP 503",
                      fails[0]["body"])
        self.assertTrue(fails[0]["body"].startswith("glasswatchd failing"))
        n = len(self.sink.requests("/ping/abc"))
        self.wait_requests("/ping/abc", n + 2)
        # A stopped daemon stops pinging: that is what pages externally.
        self.assertEqual(self.daemon.terminate(), 0)
        n = len(self.sink.requests())
        time.sleep(gwtest.scaled(2))
        self.assertEqual(len(self.sink.requests()), n)
        # Heartbeats carry no alerts: the rule's mail went by email only.
        self.assertNotIn("deadman", str(self.env.deliveries()))

    def test_cleartext_to_a_remote_host_is_refused(self):
        self.sim = self.env.start_sim()
        cfg = self.env.config(self.sim, None, rule={"actions": ["hook"]})
        cfg["notifiers"] = [{"name": "hook", "type": "webhook",
                             "format": "alertmanager",
                             "url": "http://am.example:9093"}]
        self.config_path = self.env.write_config(cfg)
        r = self.env.run_daemon(["-c", self.config_path, "--check"])
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("cleartext http:// is allowed only to a loopback "
                      "host", r.stderr)


if __name__ == "__main__":
    gwtest.main()
