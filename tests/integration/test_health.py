#!/usr/bin/python3
"""A monitor that cannot read pages instead of staying silent: a source
failing longer than blind_after raises a Sev-1 system alert, its recovery
a message; an expired client secret is Sev-1 at once."""

import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
from gwtest import (BG1, BG1_UPN, ORDINARY, ORDINARY_UPN,  # noqa: E402
                    RULE, wait_for)

BLIND = "[Sev1] glasswatch: monitoring blind: contoso/log_analytics/sign_in"
RESTORED = "[Sev3] glasswatch: monitoring restored: " \
    "contoso/log_analytics/sign_in"


class HealthTest(gwtest.TestCase):

    def mails_with(self, subject):
        return [m for m in self.smtp.mails() if m.subject == subject]

    def wait_subject(self, subject, timeout=40):
        return wait_for(self.alive(lambda: self.mails_with(subject)),
                        timeout, what="a mail %r" % subject,
                        on_timeout=self.diagnostics)

    def test_blind_source_pages_then_recovers(self):
        self.start_all(tenant={"blind_after": "4s"})
        self.settle(n=1)
        # Every query fails for a while (503 with backoff within the 1 s
        # frequency): longer than blind_after.
        self.sim.fault(path="query", status=503, count=12)
        rec = self.sim.signin(BG1, BG1_UPN)
        blind = self.wait_subject(BLIND)
        self.assertEqual(len(blind), 1)
        self.assertIn("HTTP 503", blind[0].body)
        self.assertIn("Kind:           system", blind[0].body)
        self.assertEqual(self.smtp.rule_mails(), [])
        # The faults run out: the source reads, says so, and the sign-in
        # made while blind pages (nothing lost).
        restored = self.wait_subject(RESTORED, timeout=60)
        self.assertEqual(len(restored), 1)
        mails = self.wait_mails(1)
        self.assertIn(rec["id"], mails[0].body)
        self.settle(n=3)
        self.assertEqual(len(self.mails_with(BLIND)), 1)
        self.assertEqual(len(self.mails_with(RESTORED)), 1)
        self.assertEqual(len(self.smtp.rule_mails(RULE)), 1)

    def test_repeated_token_failures_make_it_blind(self):
        self.start_all(tenant={"blind_after": "4s"})
        self.settle(n=1)
        self.sim.fault(path="token", status=503, count=40)
        self.sim.expire_tokens()
        blind = self.wait_subject(BLIND)
        self.assertIn("no access token for contoso", blind[0].body)

    def test_short_outage_is_not_blind(self):
        self.start_all(tenant={"blind_after": "30s"})
        self.settle(n=1)
        self.sim.fault(path="query", status=503, count=2)
        self.sim.signin(BG1, BG1_UPN)
        self.wait_mails(1)
        self.settle(n=3)
        self.assertEqual(self.mails_with(BLIND), [])
        self.assertEqual(self.mails_with(RESTORED), [])

    def test_silent_pipeline_pages_then_flows_again(self):
        # The sim's tables hold one row of someone, a minute old: with
        # silent_after 20s (checked every 5 s) that is a silent export.
        self.start_all(tenant={"silent_after": "20s"})
        silent = self.wait_subject("[Sev1] glasswatch: log pipeline "
                                   "silent: tenant contoso, SigninLogs")
        self.assertIn("Diagnostic settings", silent[0].body)
        # Any row at all (an ordinary user's) says it works again.
        self.sim.signin(ORDINARY, ORDINARY_UPN)
        self.wait_subject("[Sev3] glasswatch: log pipeline flowing again: "
                          "tenant contoso, SigninLogs")
        self.assertEqual(len(self.mails_with(
            "[Sev1] glasswatch: log pipeline silent: tenant contoso, "
            "SigninLogs")), 1)
        queries = [q["query"] for q in self.sim.requests("query")
                   if "take 1" in (q.get("query") or "")]
        self.assertTrue(queries)
        self.assertNotIn("UserId", queries[0])   # unfiltered

    def test_live_pipeline_is_quiet(self):
        self.start_all()        # silent_after 6h: the background row is fresh
        self.settle(n=3)
        self.assertEqual([m for m in self.smtp.mails()
                          if "pipeline" in m.subject], [])
        self.assertTrue([q for q in self.sim.requests("query")
                         if "take 1" in (q.get("query") or "")])

    def test_a_store_that_cannot_grow_raises_a_system_alert(self):
        # No file of the daemon may grow any more (as on a full disk):
        # the store's writes fail; a Sev-1 alert still goes out, straight
        # from memory, and the daemon keeps running.
        self.start_all()
        self.settle(n=2)
        resource.prlimit(self.daemon.pid, resource.RLIMIT_FSIZE, (0, 0))
        for i in range(20):         # enough writes to need more room
            self.sim.signin(BG1, BG1_UPN, IPAddress="203.0.113.%d" % i)
        mails = self.wait_subject("[Sev1] glasswatch: the state store "
                                  "fails", timeout=60)
        self.assertIn("free disk space", mails[0].body)
        self.assertIn("glasswatch.db", mails[0].body)
        # (Its log cannot grow either: the mail is what tells.)
        self.assertTrue(self.daemon.running())

    def test_expired_secret_is_sev1_at_once(self):
        self.start_all(tenant={"blind_after": "1h"})
        self.settle(n=1)
        self.sim.settings(secret_expired=True)
        self.sim.expire_tokens()
        mails = self.wait_subject("[Sev1] glasswatch: client secret of "
                                  "tenant contoso expired", timeout=30)
        self.assertEqual(len(mails), 1)
        self.assertIn("AADSTS7000222", mails[0].body)
        self.assertIn("client_secret_file", mails[0].body)
        self.assertNotIn(gwtest.CLIENT_SECRET, mails[0].body)


if __name__ == "__main__":
    gwtest.main()
