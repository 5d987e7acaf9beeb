#!/usr/bin/python3
"""Break-glass sign-ins in SigninLogs page the SOC exactly once; nothing
else does — late rows, overlapping windows and restarts included."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
from gwtest import (BG1, BG1_UPN, BG2, BG2_UPN, MAIL_FROM, MAIL_TO,  # noqa
                    ORDINARY, ORDINARY_UPN, RULE)


class SignInTest(gwtest.TestCase):

    def test_break_glass_sign_in_mails_once_with_the_fields(self):
        self.start_all()
        rec = self.sim.signin(BG1, BG1_UPN, IPAddress="198.51.100.23",
                              AppDisplayName="Azure Portal")
        mails = self.wait_mails(1)
        self.settle()
        mails = self.smtp.rule_mails()
        self.assertEqual(len(mails), 1, mails)
        m = mails[0]

        self.assertEqual(m.meta["mail_from"], MAIL_FROM)
        self.assertEqual(m.meta["rcpt_tos"], [MAIL_TO])
        self.assertIn(MAIL_FROM, str(m["From"]))
        self.assertIn(MAIL_TO, str(m["To"]))
        self.assertIsNotNone(m["Date"])
        self.assertEqual(
            m.subject, "[Sev0] %s: %s from 198.51.100.23" % (RULE, BG1_UPN))

        # Message-ID is derived from the stable alert id.
        msgid = str(m["Message-ID"]).strip()
        self.assertRegex(msgid, r"^<[^<>@\s]+@[^<>@\s]+>$")
        alert_ids = [a["id"] for a in self.env.db(
            "SELECT id FROM alerts WHERE rule = ?", (RULE,))]
        self.assertEqual(len(alert_ids), 1, alert_ids)
        self.assertEqual(msgid[1:msgid.index("@")], alert_ids[0])

        body = m.body
        for needle in (BG1_UPN, BG1, "198.51.100.23", "Azure Portal",
                       self.sim.record(rec["id"])["CorrelationId"],
                       RULE, "contoso"):
            self.assertIn(needle, body, "%r missing from the body:\n%s"
                          % (needle, body))
        self.assertTrue("Azor" in body or "IL" in body, body)
        self.assertRegex(body, r"Sev ?0|[Ss]everity:? ?0")
        # The record's time, to the second, in ISO 8601.
        self.assertIn(rec["time_generated"][:19], body.replace(" ", "T"))

        # The log line about the delivery names tenant, rule and record.
        self.assertRegex(
            self.daemon.output(),
            r"tenant contoso rule %s record %s: alert %s delivered via "
            % (RULE, rec["id"], alert_ids[0]))

    def test_ordinary_user_sign_in_sends_nothing(self):
        self.start_all()
        rec = self.sim.signin(ORDINARY, ORDINARY_UPN)
        # Several successful polls after the row became visible.
        self.wait_queries(4, after=rec["visible_at"])
        self.assertEqual(self.smtp.mails(), [])
        self.assertEqual(self.env.db("SELECT id FROM alerts"), [])

    def test_record_in_overlapping_windows_mails_once(self):
        self.start_all()
        rec = self.sim.signin(BG2, BG2_UPN)
        self.wait_mails(1)
        # With overlap 2m and frequency 1s, later polls return the same row
        # again: wait for several answers that carried it.
        self.wait_queries(3, after=time.time(), rows=True)
        self.settle()
        self.assertEqual(len(self.smtp.rule_mails()), 1,
                         self.smtp.mails())
        self.assertIn(self.sim.record(rec["id"])["CorrelationId"],
                      self.smtp.rule_mails()[0].body)

    def test_restart_does_not_mail_an_old_record_again(self):
        self.start_all()
        self.sim.signin(BG1, BG1_UPN)
        self.wait_mails(1)
        self.assertEqual(self.daemon.terminate(), 0)

        # The row is still within overlap and look-back: the restarted
        # daemon reads it again and must recognise it.
        t0 = time.time()
        self.daemon = self.env.start_daemon(self.config_path)
        self.wait_queries(3, after=t0, rows=True)
        self.settle()
        self.assertEqual(len(self.smtp.rule_mails()), 1, self.smtp.mails())

    def test_record_visible_twenty_minutes_after_the_event_is_mailed(self):
        self.start_all()
        # Some polls first, so the cursor has moved past the event time.
        self.settle(n=2)
        rec = self.sim.signin(BG1, BG1_UPN, IPAddress="203.0.113.99",
                              event_age=1200, ingest_delay=2)
        mails = self.wait_mails(1)
        self.assertEqual(len(mails), 1)
        self.assertIn(self.sim.record(rec["id"])["CorrelationId"],
                      mails[0].body)
        self.assertIn("203.0.113.99", mails[0].subject)


if __name__ == "__main__":
    gwtest.main()
