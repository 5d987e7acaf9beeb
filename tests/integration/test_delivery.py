#!/usr/bin/python3
"""Delivery: the outbox survives an SMTP outage and a kill -9; TLS and
AUTH towards the mail server; permanent versus temporary refusals."""

import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
from gwtest import BG1, BG1_UPN, MAIL_TO, wait_for  # noqa: E402


class DeliveryTest(gwtest.TestCase):

    def start_with_smtp_down(self):
        """Sim and daemon up; the sink's port chosen but nothing there."""
        self.sim = self.env.start_sim()
        self.smtp = self.env.start_smtp(start=False)
        self.config_path = self.env.write_config(
            self.env.config(self.sim, self.smtp))
        self.daemon = self.env.start_daemon(self.config_path)

    def wait_pending_with_attempts(self, attempts=1):
        return wait_for(self.alive(lambda: [
            d for d in self.env.deliveries("pending")
            if d["attempts"] >= attempts]), 30,
            what="a pending delivery with %d attempt(s)" % attempts,
            on_timeout=self.diagnostics)

    def assert_delivered_once(self):
        self.settle(n=3)
        time.sleep(gwtest.scaled(3))    # longer than retry.max (2s)
        self.assertEqual(len(self.smtp.rule_mails()), 1, self.smtp.mails())
        states = [d["state"] for d in self.env.deliveries()]
        self.assertTrue(states, "no delivery rows")
        self.assertEqual(set(states), {"delivered"}, states)

    def test_smtp_down_for_a_minute_then_up_delivers(self):
        self.start_with_smtp_down()
        self.sim.signin(BG1, BG1_UPN)
        self.wait_pending_with_attempts(1)
        # A minute of refused connections: retried all along (retry.max
        # is 2 s here), never given up.
        down_until = time.time() + 60
        while time.time() < down_until:
            self.assertTrue(self.daemon.running(), self.daemon.log_tail())
            time.sleep(5)
        pending = self.wait_pending_with_attempts(10)
        self.assertEqual(self.env.deliveries("failed"), [])
        self.assertEqual(self.smtp.mails(), [], pending)
        self.smtp.start()               # same port, same maildir
        self.wait_mails(1)
        self.assert_delivered_once()

    def test_sighup_keeps_pending_deliveries(self):
        # A delivery waits for the SMTP server; an invalid file is refused
        # and a valid one (the notifier changed, a rule added) taken: the
        # pending delivery survives both and is delivered once.
        self.start_with_smtp_down()
        self.sim.signin(BG1, BG1_UPN)
        self.wait_pending_with_attempts(1)
        with open(self.config_path) as f:
            good = f.read()
        mark = len(self.daemon.output())
        self.env.write_config(good + "bogus: 1\n")
        self.daemon.signal(signal.SIGHUP)
        self.daemon.wait_log("reload failed", since=mark)
        self.assertEqual(len(self.env.deliveries("pending")) +
                         len(self.env.deliveries("sending")), 1)
        cfg = self.env.config(self.sim, self.smtp)
        cfg["notifiers"][0]["retry"]["max"] = "3s"
        cfg["rules"].append(dict(cfg["rules"][0], name="second-rule",
                                 severity=2))
        mark = len(self.daemon.output())
        self.env.write_config(cfg)
        self.daemon.signal(signal.SIGHUP)
        self.daemon.wait_log("reloaded", since=mark)
        self.assertEqual(self.env.deliveries("failed"), [])
        self.smtp.start()
        self.wait_mails(1)
        self.assert_delivered_once()

    def test_kill_9_with_a_pending_delivery_delivers_once_after_restart(self):
        self.start_with_smtp_down()
        self.sim.signin(BG1, BG1_UPN)
        self.wait_pending_with_attempts(1)
        self.daemon.kill9()
        self.smtp.start()
        self.daemon = self.env.start_daemon(self.config_path)
        self.wait_mails(1)
        self.assert_delivered_once()

    def test_starttls_with_the_test_ca(self):
        self.start_all(tls="starttls")
        self.sim.signin(BG1, BG1_UPN)
        mails = self.wait_mails(1)
        self.assertTrue(mails[0].meta["tls"], mails[0].meta)

    def test_starttls_with_auth(self):
        password = "smtp-Pa55word-never-logged"
        self.sim = self.env.start_sim()
        self.smtp = self.env.start_smtp(tls="starttls",
                                        auth=("glasswatch", password))
        self.config_path = self.env.write_config(self.env.config(
            self.sim, self.smtp, tls="starttls",
            notifier={"username": "glasswatch",
                      "password_file": self.env.path("smtp-password")}))
        self.daemon = self.env.start_daemon(self.config_path)
        self.sim.signin(BG1, BG1_UPN)
        mails = self.wait_mails(1)
        self.assertTrue(mails[0].meta["tls"])
        self.assertEqual(mails[0].meta["auth_user"], "glasswatch")
        self.assertNotIn(password, self.daemon.output())
        self.assertNotIn(password, mails[0].raw.decode("utf-8", "replace"))

    def test_untrusted_smtp_certificate_is_refused(self):
        self.start_all(tls="starttls", smtp_kw={"cert": "rogue-server"})
        self.sim.signin(BG1, BG1_UPN)
        self.wait_pending_with_attempts(2)
        self.assertEqual(self.smtp.mails(), [])

    def test_recipient_refused_550_fails_permanently(self):
        self.start_all(smtp_kw={"refuse": [MAIL_TO]})
        self.sim.signin(BG1, BG1_UPN)
        wait_for(self.alive(lambda: self.env.deliveries("failed")), 30,
                 what="a failed delivery", on_timeout=self.diagnostics)
        self.assertEqual(self.smtp.rule_mails(), [])

    def test_refused_recipient_escalates_to_fallback_and_system_alert(self):
        # soc-mail's recipient is refused for good: the alert goes to the
        # fallback (pager-mail) at once, and a Sev-1 system alert to the
        # system actions (pager-mail here).
        pager = "pager@example.org"
        self.sim = self.env.start_sim()
        self.smtp = self.env.start_smtp(refuse=[MAIL_TO])
        cfg = self.env.config(self.sim, self.smtp,
                              notifier={"fallback": "pager-mail"})
        pager_mail = dict(cfg["notifiers"][0], name="pager-mail",
                          to=[pager])
        del pager_mail["fallback"]
        cfg["notifiers"].append(pager_mail)
        cfg["system_actions"] = ["pager-mail"]
        self.daemon = self.env.start_daemon(self.env.write_config(cfg))
        rec = self.sim.signin(BG1, BG1_UPN)
        mails = self.wait_mails(1)
        self.assertEqual(mails[0].meta["rcpt_tos"], [pager])
        self.assertIn(rec["id"], mails[0].body)
        system = wait_for(self.alive(lambda: [
            m for m in self.smtp.mails()
            if "[Sev1] glasswatch: delivery of alert" in m.subject]), 30,
            what="the system alert", on_timeout=self.diagnostics)
        self.assertEqual(len(system), 1)
        self.assertEqual(system[0].meta["rcpt_tos"], [pager])
        self.assertIn(MAIL_TO, system[0].body)
        states = {(d["notifier"], d["state"])
                  for d in self.env.deliveries()}
        self.assertIn(("soc-mail", "failed"), states)
        self.assertIn(("pager-mail", "delivered"), states)

    def test_test_notify_sends_a_marked_test_and_reports(self):
        self.start_all()
        r = self.env.run_daemon(["-c", self.config_path,
                                 "--test-notify", "soc-mail"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("soc-mail -> %s: delivered: " % MAIL_TO, r.stdout)
        mails = wait_for(lambda: self.smtp.mails(), 10, what="the test mail")
        self.assertTrue(mails[0].subject.startswith("[TEST] "),
                        mails[0].subject)
        self.assertIn("glasswatchd --test-notify", mails[0].body)
        # Text and HTML alternatives, the same alert in both.
        self.assertEqual(mails[0].msg.get_content_type(),
                         "multipart/alternative")
        html = mails[0].msg.get_body(preferencelist=("html",)).get_content()
        self.assertIn("TEST &mdash; Sev4 Verbose", html)
        self.assertIn(mails[0]["X-Glasswatch-Alert-Id"], html)
        # No outbox: the running daemon's store has no test alert.
        self.assertEqual([a for a in self.env.db("SELECT kind FROM alerts")
                          if a["kind"] == "test"], [])
        r = self.env.run_daemon(["-c", self.config_path,
                                 "--test-notify", "nobody"])
        self.assertEqual(r.returncode, 64)
        self.assertIn("no notifier is named 'nobody'", r.stderr)

    def test_test_notify_reports_a_refusal_and_exits_2(self):
        self.start_all(smtp_kw={"refuse": [MAIL_TO]})
        r = self.env.run_daemon(["-c", self.config_path,
                                 "--test-notify", "soc-mail"])
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"soc-mail -> %s: FAILED \(permanent: "
                         r"the daemon would not retry\): .*550" % MAIL_TO)

    def test_recipient_deferred_451_stays_pending(self):
        self.start_all(smtp_kw={"tempfail": [MAIL_TO]})
        self.sim.signin(BG1, BG1_UPN)
        self.wait_pending_with_attempts(2)
        self.assertEqual(self.env.deliveries("failed"), [])
        self.assertEqual(self.smtp.rule_mails(), [])


if __name__ == "__main__":
    gwtest.main()
