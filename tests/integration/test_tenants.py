#!/usr/bin/python3
"""Several tenants in one daemon: each with its own endpoints, token and
cursor, polled side by side on the one loop; a tenant whose service fails
does not hold up the others."""

import copy
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
from gwtest import BG1, BG1_UPN, BG2, BG2_UPN, RULE  # noqa: E402


class TenantsTest(gwtest.TestCase):

    def start_two(self):
        self.sim = self.env.start_sim()
        self.sim2 = self.env.start_sim()
        self.smtp = self.env.start_smtp()
        cfg = self.env.config(self.sim, self.smtp)
        other = copy.deepcopy(cfg["tenants"][0])
        other["name"] = "fabrikam"
        other["endpoints"] = {"login": self.sim2.url,
                              "log_analytics": self.sim2.url}
        cfg["tenants"].append(other)
        self.config_path = self.env.write_config(cfg)
        self.daemon = self.env.start_daemon(self.config_path)

    @staticmethod
    def tenant_of(mail):
        for line in mail.body.splitlines():
            if line.startswith("Tenant:"):
                return line.split()[1]
        raise AssertionError("no Tenant line in %r" % mail.body)

    def test_each_tenant_is_polled_and_pages_on_its_own(self):
        self.start_two()
        self.sim.signin(BG1, BG1_UPN, IPAddress="203.0.113.1")
        self.sim2.signin(BG2, BG2_UPN, IPAddress="203.0.113.2")
        mails = self.wait_mails(2)
        self.assertEqual(sorted(self.tenant_of(m) for m in mails),
                         ["contoso", "fabrikam"])
        # Each tenant has its own cursor in the store.
        keys = sorted(r["poller"] for r in
                      self.env.db("SELECT poller FROM cursors"))
        self.assertEqual(keys, ["contoso/log_analytics/sign_in",
                                "fabrikam/log_analytics/sign_in"])
        # And its own token.
        self.assertGreaterEqual(len(self.sim.requests("token")), 1)
        self.assertGreaterEqual(len(self.sim2.requests("token")), 1)
        self.settle(n=2)
        self.assertEqual(len(self.smtp.rule_mails(RULE)), 2)

    def test_a_failing_tenant_does_not_hold_up_the_others(self):
        self.start_two()
        self.settle(n=1)
        # fabrikam's service answers 503 to its next 6 queries; a
        # break-glass sign-in is already waiting there.
        self.sim2.fault(path="query", kind="status", status=503, count=6)
        self.sim2.signin(BG2, BG2_UPN)
        self.sim.signin(BG1, BG1_UPN)
        mails = self.wait_mails(1)
        self.assertEqual(self.tenant_of(mails[0]), "contoso")
        # Once fabrikam recovers its record pages: nothing is lost.
        mails = self.wait_mails(2, timeout=60)
        self.assertEqual(sorted(self.tenant_of(m) for m in mails),
                         ["contoso", "fabrikam"])
        failed = [r for r in self.sim2.requests("query")
                  if r["status"] == 503]
        self.assertEqual(len(failed), 6)
        time.sleep(gwtest.scaled(1))
        self.assertEqual(len(self.smtp.rule_mails(RULE)), 2)


    def test_two_tenants_read_from_graph_each_in_its_own_budget(self):
        fabrikam_id = "22222222-3333-4444-8555-666666666666"
        self.sim = self.env.start_sim()
        self.sim2 = self.env.start_sim(tenant_id=fabrikam_id)
        self.smtp = self.env.start_smtp()
        graph = {"lookback": "2h"}
        cfg = self.env.config(self.sim, self.smtp, rule={"source": "graph"},
                              tenant={"graph": graph, "endpoints": {
                                  "login": self.sim.url,
                                  "log_analytics": self.sim.url,
                                  "graph": self.sim.url}})
        other = copy.deepcopy(cfg["tenants"][0])
        other.update(name="fabrikam", tenant_id=fabrikam_id,
                     endpoints={"login": self.sim2.url,
                                "log_analytics": self.sim2.url,
                                "graph": self.sim2.url})
        cfg["tenants"].append(other)
        self.daemon = self.env.start_daemon(self.env.write_config(cfg))
        # fabrikam is throttled for 5 s; contoso's budget is its own.
        self.sim2.fault(path="graph", status=429, retry_after=5)
        self.sim.signin(BG1, BG1_UPN)
        self.sim2.signin(BG2, BG2_UPN)
        mails = self.wait_mails(2, timeout=60)
        self.assertEqual(sorted(self.tenant_of(m) for m in mails),
                         ["contoso", "fabrikam"])
        t429 = [r["t"] for r in self.sim2.requests("graph")
                if r["status"] == 429]
        self.assertEqual(len(t429), 1)
        during = [r for r in self.sim.requests("graph")
                  if t429[0] < r["t"] < t429[0] + 4]
        self.assertNotEqual(during, [], "contoso waited for fabrikam")
        # Each tenant's token came from its own token endpoint.
        for sim in (self.sim, self.sim2):
            self.assertGreaterEqual(len(sim.requests("token")), 1)
            self.assertEqual([r for r in sim.requests("graph")
                              if r["status"] == 401], [])
        time.sleep(gwtest.scaled(2))
        self.assertEqual(len(self.smtp.rule_mails(RULE)), 2)


if __name__ == "__main__":
    gwtest.main()
