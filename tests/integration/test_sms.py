#!/usr/bin/python3
"""SMS: a break-glass sign-in pages through Twilio, Azure Communication
Services and a generic gateway (tests/sim/smsprovider.py, HTTPS with the
test CA); retries, Retry-After, ACS repeatability and signatures, and a
permanent Twilio error that ends the delivery failed."""

import base64
import os
import subprocess
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
from gwtest import BG1, BG1_UPN, PYTHON, SIM_DIR, wait_for  # noqa: E402

TWILIO_SID = "AC5ef8732a3c49700934481addd5ce1659"
TWILIO_TOKEN = "twilio-auth-token-9f8e7d6c5b4a39281706"
ACS_KEY = "c2VjcmV0LWFjcy1hY2Nlc3Mta2V5LWZvci1nbGFzc3dhdGNoLXRlc3Rz"
GATEWAY_TOKEN = "gateway-bearer-0a1b2c3d4e5f6071"
FROM = "+15005550006"
TO = ["+15005550009", "+447700900123"]
# Glasswatch's namespace for ACS repeatability ids (lib/sms-acs.c).
UUID_NS = uuid.UUID("1d10de0d-b872-41f4-8c9b-483822882466")


class SmsProvider:
    """A running tests/sim/smsprovider.py and its control API."""

    def __init__(self, env, acs_key=ACS_KEY):
        self.env = env
        n = env.next_id()
        self.ready = env.path("smsprovider-%d.ready" % n)
        self.log_path = env.path("smsprovider-%d.log" % n)
        args = [PYTHON, os.path.join(SIM_DIR, "smsprovider.py"),
                "--cert", env.cert("server.pem"),
                "--key", env.cert("server.key"),
                "--twilio-sid", TWILIO_SID,
                "--twilio-token-file",
                env.write_secret("sim-twilio-token", TWILIO_TOKEN),
                "--acs-key-file", env.write_secret("sim-acs-key", acs_key),
                "--gateway-token-file",
                env.write_secret("sim-gateway-token", GATEWAY_TOKEN),
                "--ready-file", self.ready]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        info = wait_for(lambda: self.proc.poll() is None and
                        gwtest._read_ready(self.ready), 15,
                        what="smsprovider to listen",
                        on_timeout=self.log_tail)
        self.url = "https://127.0.0.1:%d" % info["port"]
        self.control = "http://127.0.0.1:%d" % info["control_port"]

    def _call(self, method, path, body=None):
        import json
        import urllib.request
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.control + path, data=data,
                                     method=method, headers={
                                         "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read().decode())

    def messages(self, provider=None):
        return [m for m in self._call("GET", "/messages")
                if provider is None or m["provider"] == provider]

    def requests(self, provider=None):
        return [r for r in self._call("GET", "/requests")
                if provider is None or r["provider"] == provider]

    def fault(self, **spec):
        return self._call("POST", "/faults", spec)

    def log_tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "--- smsprovider log:\n" + \
                    "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        return gwtest._stop_process(self.proc)


class SmsTest(gwtest.TestCase):

    def start(self, make, acs_key=ACS_KEY, provider_key=ACS_KEY):
        """Sim, SMS provider and daemon. make(self) returns the notifiers
        (without the common keys; each is named sms-N) once the provider
        listens; the rule pages every one of them."""
        self.sim = self.env.start_sim()
        self.sms = self.env._own(SmsProvider(self.env, acs_key=provider_key))
        self.env.write_secret("twilio-token", TWILIO_TOKEN)
        self.env.write_secret("acs-key", acs_key)
        self.env.write_secret("gateway-token", GATEWAY_TOKEN)
        cfg = self.env.config(self.sim, None)
        cfg["notifiers"] = []
        for i, n in enumerate(make(self)):
            full = {"name": "sms-%d" % i, "type": "sms",
                    "ca_file": self.env.cert("ca.pem"),
                    "retry": {"initial": "1s", "max": "2s",
                              "expire_after": "1h"}}
            full.update(n)
            cfg["notifiers"].append(full)
        cfg["rules"][0]["actions"] = [n["name"] for n in cfg["notifiers"]]
        self.config_path = self.env.write_config(cfg)
        r = self.env.run_daemon(["-c", self.config_path, "--check"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.daemon = self.env.start_daemon(self.config_path)

    def twilio(self, **kw):
        n = {"provider": "twilio", "account_sid": TWILIO_SID,
             "auth_token_file": self.env.path("twilio-token"),
             "from": FROM, "to": TO, "api_url": self.sms.url}
        n.update(kw)
        return n

    def acs(self, **kw):
        n = {"provider": "acs", "endpoint": self.sms.url,
             "access_key_file": self.env.path("acs-key"),
             "from": FROM, "to": [TO[0]]}
        n.update(kw)
        return n

    def diagnostics(self):
        parts = [super().diagnostics()]
        if getattr(self, "sms", None) is not None:
            parts.append(self.sms.log_tail())
        return "\n".join(parts)

    def wait_messages(self, n, provider=None, timeout=30):
        return wait_for(self.alive(lambda: len(self.sms.messages(provider))
                                   >= n and self.sms.messages(provider)),
                        timeout, what="%d SMS" % n,
                        on_timeout=self.diagnostics)

    def deliveries(self, kind="event"):
        """The delivery rows of alerts of one kind: a delivery lost for
        good raises a system alert, which has deliveries of its own."""
        return self.env.db("SELECT d.* FROM deliveries d JOIN alerts a "
                           "ON a.id = d.alert_id WHERE a.kind = ? "
                           "ORDER BY d.recipient", (kind,))

    def wait_states(self, want, timeout=30, kind="event"):
        """Wait until the states of the delivery rows of `kind` alerts
        are exactly `want` (sorted); returns the rows."""
        return wait_for(self.alive(lambda: sorted(
            d["state"] for d in self.deliveries(kind)) == want and
            self.deliveries(kind)), timeout,
            what="%s delivery states %s" % (kind, want),
            on_timeout=lambda: "%s\n%s" % (self.env.deliveries(),
                                           self.diagnostics()))

    def alert_id(self):
        rows = self.env.db("SELECT id FROM alerts WHERE kind = 'event'")
        self.assertEqual(len(rows), 1, rows)
        return rows[0]["id"]

    def assert_no_secrets(self):
        out = self.daemon.output()
        basic = base64.b64encode(("%s:%s" % (TWILIO_SID, TWILIO_TOKEN))
                                 .encode()).decode()
        for s in (TWILIO_TOKEN, ACS_KEY, GATEWAY_TOKEN, basic,
                  gwtest.CLIENT_SECRET):
            self.assertNotIn(s, out)
        # URLs as origins only: the Twilio path names the account.
        self.assertNotIn("/2010-04-01/Accounts", out)

    def assert_page(self, body, alert_id):
        self.assertTrue(body.startswith("Sev0: Break-glass account %s "
                                        "signed in. IP " % BG1_UPN), body)
        self.assertTrue(body.endswith(" (%s)" % alert_id[:11]), body)
        self.assertLessEqual(len(body), 160, body)

    # ------------------------------------------------------------------

    def test_twilio_one_message_per_number(self):
        self.start(lambda t: [t.twilio()])
        self.sim.signin(BG1, BG1_UPN, IPAddress="203.0.113.7")
        msgs = self.wait_messages(2)
        self.wait_states(["delivered", "delivered"])
        alert_id = self.alert_id()
        self.assertEqual(sorted(m["to"] for m in msgs), sorted(TO))
        for m in msgs:
            self.assertEqual(m["from"], FROM)
            self.assertIn("IP 203.0.113.7", m["body"])
            self.assert_page(m["body"], alert_id)
        reqs = self.sms.requests()
        self.assertEqual(len(reqs), 2, reqs)
        self.assertTrue(all(r["auth_ok"] for r in reqs), reqs)
        # Twilio has no idempotency key: its message SID is kept.
        sids = sorted(m["sid"] for m in msgs)
        errors = self.env.db("SELECT error FROM delivery_attempts "
                             "WHERE result = 'ok' ORDER BY error")
        self.assertEqual(len(errors), 2, errors)
        for sid in sids:
            self.assertTrue(any(sid in (e["error"] or "")
                                for e in errors), (sid, errors))
        self.assert_no_secrets()

    def test_twilio_retries_after_500_and_honours_retry_after(self):
        self.start(lambda t: [t.twilio(to=[TO[0]])])
        self.sms.fault(provider="twilio", status=500)
        self.sms.fault(provider="twilio", status=429, retry_after=3)
        self.sim.signin(BG1, BG1_UPN)
        self.wait_messages(1)
        self.wait_states(["delivered"])
        reqs = self.sms.requests("twilio")
        self.assertEqual([r["status"] for r in reqs], [500, 429, 201])
        # retry.max is 2s: only the server's Retry-After explains 3s.
        self.assertGreaterEqual(reqs[2]["t"] - reqs[1]["t"], 2.8)
        self.settle(n=3)
        self.assertEqual(len(self.sms.messages()), 1)
        row = self.deliveries()[0]
        self.assertEqual(row["attempts"], 2, row)
        self.assertIn("as the server asked", self.daemon.output())
        self.assert_no_secrets()

    def test_twilio_permanent_error_fails_the_delivery(self):
        self.start(lambda t: [t.twilio(to=[TO[0]])])
        self.sms.fault(provider="twilio", twilio_code=21211)
        self.sim.signin(BG1, BG1_UPN)
        rows = self.wait_states(["failed"])
        self.assertEqual(rows[0]["attempts"], 0, rows)
        self.assertIn("21211", rows[0]["last_error"])
        self.assertIn("invalid To number", rows[0]["last_error"])
        self.assertIn("failed permanently", self.daemon.output())
        # Never retried; the Sev-1 system alert about it goes out by SMS
        # (system_actions defaults to the rules' notifiers).
        self.wait_states(["delivered"], kind="system")
        self.settle(n=3)
        alert_id = self.alert_id()
        msgs = self.sms.messages("twilio")
        self.assertEqual(len(msgs), 1, msgs)
        self.assertTrue(msgs[0]["body"].startswith(
            "Sev1: glasswatch system alert: "), msgs)
        self.assertFalse(msgs[0]["body"].endswith("(%s)" % alert_id[:11]))
        self.assertEqual(len(self.sms.requests("twilio")), 2)
        self.assert_no_secrets()

    def test_acs_signed_and_sent_once_across_a_retry(self):
        self.start(lambda t: [t.acs()])
        # ACS takes the message but the answer is lost (500): the retry
        # carries the same repeatability id, and ACS sends nothing twice.
        self.sms.fault(provider="acs", status=500, process=True)
        self.sim.signin(BG1, BG1_UPN)
        self.wait_states(["delivered"])
        alert_id = self.alert_id()
        reqs = self.sms.requests("acs")
        self.assertEqual([r["status"] for r in reqs], [500, 202], reqs)
        self.assertTrue(all(r["auth_ok"] for r in reqs), reqs)
        first, second = (r["recipients"][0] for r in reqs)
        self.assertEqual(first["repeatabilityRequestId"],
                         second["repeatabilityRequestId"])
        self.assertEqual(first["repeatabilityFirstSent"],
                         second["repeatabilityFirstSent"])
        self.assertEqual(first["repeatabilityRequestId"],
                         str(uuid.uuid5(UUID_NS, "%s/%s"
                                        % (alert_id, TO[0]))))
        self.settle(n=3)
        msgs = self.sms.messages("acs")
        self.assertEqual(len(msgs), 1, msgs)
        self.assertEqual(msgs[0]["from"], FROM)
        self.assert_page(msgs[0]["body"], alert_id)
        self.assert_no_secrets()

    def test_acs_wrong_key_is_refused_by_the_receiver(self):
        wrong = base64.b64encode(b"not the resource's key").decode()
        self.start(lambda t: [t.acs()], acs_key=wrong)
        self.sim.signin(BG1, BG1_UPN)
        rows = self.wait_states(["failed"])
        self.assertIn("HTTP 401", rows[0]["last_error"])
        self.assertIn("signature does not match", rows[0]["last_error"])
        # The system alert about it fails the same way, and stops there.
        self.wait_states(["failed"], kind="system")
        self.settle(n=3)
        reqs = self.sms.requests("acs")
        self.assertEqual([(r["status"], r["auth_ok"]) for r in reqs],
                         [(401, False)] * 2)
        self.assertEqual(self.sms.messages(), [])
        self.assertNotIn(wrong, self.daemon.output())

    def test_acs_recipient_refused_is_dropped(self):
        self.start(lambda t: [t.acs()])
        self.sms.fault(provider="acs", acs_recipient_status=400)
        self.sim.signin(BG1, BG1_UPN)
        rows = self.wait_states(["failed"])
        self.assertIn("result 400", rows[0]["last_error"])
        self.wait_states(["delivered"], kind="system")
        alert_id = self.alert_id()
        self.assertFalse([m for m in self.sms.messages()
                          if m["body"].endswith("(%s)" % alert_id[:11])])

    def test_gateway_json_and_form_over_get(self):
        def make(t):
            return [
                {"provider": "http", "url": t.sms.url + "/gateway/send",
                 "auth_token_file": t.env.path("gateway-token"),
                 "to": [TO[0]],
                 "headers": {"X-Alert-Id": "{alert_id}"},
                 "json": {"to": "{to}", "text": "{message}",
                          "meta": {"rule": "{rule}", "tags": ["{sev}"]}}},
                {"provider": "http", "url": t.sms.url + "/gateway/get",
                 "method": "GET", "auth_token_file":
                 t.env.path("gateway-token"), "to": [TO[1]],
                 "form": {"dest": "{to}", "msg": "{message}",
                          "literal": "{{to}}"}, "max_length": 306},
            ]
        self.start(make)
        self.sim.signin(BG1, BG1_UPN)
        msgs = self.wait_messages(2, "gateway")
        self.wait_states(["delivered", "delivered"])
        alert_id = self.alert_id()
        by_method = {m["method"]: m for m in msgs}
        post, get = by_method["POST"], by_method["GET"]
        self.assertEqual(post["fields"]["to"], TO[0])
        self.assert_page(post["fields"]["text"], alert_id)
        self.assertEqual(post["fields"]["meta"],
                         {"rule": gwtest.RULE, "tags": ["Sev0"]})
        self.assertEqual(post["headers"]["x-alert-id"], alert_id)
        self.assertEqual(post["headers"]["content-type"],
                         "application/json")
        self.assertEqual(get["fields"]["dest"], TO[1])
        self.assertEqual(get["fields"]["literal"], "{to}")
        self.assertTrue(get["fields"]["msg"].startswith("Sev0: "))
        self.assertTrue(all(r["auth_ok"] for r in
                            self.sms.requests("gateway")))
        self.assert_no_secrets()


if __name__ == "__main__":
    gwtest.main()
