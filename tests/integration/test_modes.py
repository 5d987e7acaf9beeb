#!/usr/bin/python3
"""Modes and the state directory: --once (exit 0, and 2 with what is left
pending in the outbox), the single-instance lock (75), an unusable
state_dir (73), and a record that only becomes visible after a delay."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
from gwtest import BG1, BG1_UPN, RULE  # noqa: E402

EXIT_INCOMPLETE = 2
EXIT_STATE_DIR = 73
EXIT_LOCKED = 75


class ModesTest(gwtest.TestCase):

    def once(self, timeout=90):
        return self.env.run_daemon(["-c", self.config_path, "--once"],
                                   timeout=timeout)

    def setup_files(self, smtp_start=True, **cfg_kw):
        self.sim = self.env.start_sim()
        self.smtp = self.env.start_smtp()
        if not smtp_start:
            self.smtp.stop()
        self.config_path = self.env.write_config(
            self.env.config(self.sim, self.smtp, **cfg_kw))

    def test_once_polls_alerts_delivers_and_exits_0(self):
        self.setup_files()
        self.sim.signin(BG1, BG1_UPN, IPAddress="203.0.113.9")
        res = self.once()
        self.assertEqual(res.returncode, 0, res.stderr)
        mails = self.smtp.rule_mails(RULE)
        self.assertEqual(len(mails), 1)
        self.assertIn("203.0.113.9", mails[0].subject)
        self.assertEqual(len(self.env.deliveries("delivered")), 1)
        # A second run finds nothing new: no mail, still exit 0.
        res = self.once()
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(len(self.smtp.rule_mails(RULE)), 1)

    def test_once_leaves_an_undelivered_alert_pending_and_exits_2(self):
        self.setup_files(smtp_start=False)
        self.sim.signin(BG1, BG1_UPN)
        started = time.time()
        res = self.once()
        self.assertEqual(res.returncode, EXIT_INCOMPLETE, res.stderr)
        # It gave the deliveries their 30 s, not forever.
        self.assertLess(time.time() - started, gwtest.scaled(60))
        self.assertEqual(len(self.env.deliveries("pending")), 1)
        self.assertEqual(len(self.env.deliveries("delivered")), 0)
        # The next run, with the mail server back, delivers it once.
        self.smtp.start()
        res = self.once()
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(len(self.smtp.rule_mails(RULE)), 1)
        self.assertEqual(len(self.env.deliveries("pending")), 0)

    def test_once_exits_2_when_the_source_keeps_failing(self):
        wrong = self.env.write_secret("wrong-secret", "not-the-secret")
        self.setup_files(tenant={"credentials": {
            "client_id": gwtest.CLIENT_ID, "client_secret_file": wrong}})
        res = self.once()
        self.assertEqual(res.returncode, EXIT_INCOMPLETE, res.stderr)
        self.assertIn("AADSTS7000215", res.stderr)
        self.assertNotIn("not-the-secret", res.stdout + res.stderr)

    def test_a_second_instance_on_the_same_state_dir_exits_75(self):
        self.start_all()
        self.settle(n=1)
        res = self.once(timeout=30)
        self.assertEqual(res.returncode, EXIT_LOCKED, res.stderr)
        self.assertIn("locked", res.stderr)
        res = self.env.run_daemon(["-c", self.config_path], timeout=30)
        self.assertEqual(res.returncode, EXIT_LOCKED, res.stderr)
        # The running daemon is not disturbed.
        self.assertTrue(self.daemon.running())
        self.sim.signin(BG1, BG1_UPN)
        self.wait_mails(1)

    def test_an_unusable_state_dir_exits_73(self):
        blocker = self.env.path("not-a-dir")
        with open(blocker, "w") as f:
            f.write("x")
        self.setup_files(top={"state_dir": os.path.join(blocker, "state")})
        res = self.env.run_daemon(["-c", self.config_path], timeout=30)
        self.assertEqual(res.returncode, EXIT_STATE_DIR, res.stderr)
        self.assertIn("state_dir", res.stderr)
        self.assertEqual(self.sim.stats()["requests"], 0)

    def test_a_record_visible_only_after_a_delay_is_mailed_once_visible(self):
        self.start_all()
        self.settle(n=1)
        # Event time 20 minutes ago, queryable only 4 s from now.
        rec = self.sim.signin(BG1, BG1_UPN, event_age=1200, ingest_delay=4)
        before = time.time()
        self.settle(n=2)
        if time.time() - before < 3:
            # Polls while it was invisible found nothing.
            self.assertEqual(self.smtp.rule_mails(RULE), [])
        mails = self.wait_mails(1, timeout=30)
        self.assertIn(rec["id"], mails[0].body)
        self.settle(n=3)
        self.assertEqual(len(self.smtp.rule_mails(RULE)), 1)


if __name__ == "__main__":
    gwtest.main()
