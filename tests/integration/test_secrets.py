#!/usr/bin/python3
"""The client secret never reaches a log line, a mail or the state store,
on the good path and on the error paths that handle it."""

import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
from gwtest import BG1, BG1_UPN, CLIENT_SECRET, wait_for  # noqa: E402


def forms(secret):
    """The secret as it could appear: plain, form- and URL-encoded."""
    return {secret, urllib.parse.quote_plus(secret),
            urllib.parse.quote(secret, safe="")}


class SecretTest(gwtest.TestCase):

    def assert_nowhere(self, secret):
        places = {self.daemon.log_path: None}
        for m in self.smtp.mails():
            places[m.path] = None
        for root, _, files in os.walk(self.env.state_dir):
            for name in files:          # glasswatch.db, -wal, -shm, ...
                places[os.path.join(root, name)] = None
        self.assertTrue(any(p.endswith("glasswatch.db") for p in places),
                        "no state store to inspect")
        for path in places:
            with open(path, "rb") as f:
                data = f.read()
            for form in forms(secret):
                self.assertNotIn(form.encode(), data,
                                 "the secret is in %s" % path)

    def test_client_secret_is_in_no_log_mail_or_store(self):
        self.start_all(setup=lambda sim: sim.fault(path="token",
                                                   status=500))
        self.settle(n=1)
        # Exercise the refresh path too.
        self.sim.settings(expired_token_status=401)
        self.sim.expire_tokens()
        self.sim.signin(BG1, BG1_UPN)
        self.wait_mails(1)
        self.settle(n=2)
        self.assertEqual(self.daemon.terminate(), 0)
        self.assert_nowhere(CLIENT_SECRET)
        res = self.env.run_daemon(["-c", self.config_path, "--check"])
        for form in forms(CLIENT_SECRET):
            self.assertNotIn(form, res.stdout + res.stderr)

    def test_wrong_secret_is_refused_and_not_logged(self):
        wrong = "gw~Wrong.Secret_3Zq~p8XyB1nMv6Rt"
        self.start_all(tenant={"credentials": {
            "client_id": gwtest.CLIENT_ID,
            "client_secret_file": self.env.write_secret("wrong-secret",
                                                        wrong)}})
        self.sim.signin(BG1, BG1_UPN)
        wait_for(self.alive(lambda: self.sim.stats()["token_errors"] >= 2),
                 30, what="the token endpoint to refuse the secret twice",
                 on_timeout=self.diagnostics)
        # The log says why (invalid_client / AADSTS7000215) ...
        out = self.daemon.output()
        self.assertTrue("7000215" in out or "invalid_client" in out,
                        self.daemon.log_tail())
        self.assertEqual(self.sim.stats()["query_requests"], 0)
        self.assertEqual(self.smtp.rule_mails(), [])
        self.assertEqual(self.daemon.terminate(), 0)
        # ... and never what was sent.
        self.assert_nowhere(wrong)


if __name__ == "__main__":
    gwtest.main()
