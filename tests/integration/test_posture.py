#!/usr/bin/python3
"""glasswatchd --posture against the simulated tenant's directory
(tests/sim/simposture.py): a well-configured tenant passes every check
and exits 0; each check fails on its own in a tenant set up to break it
(several tenants, each its own sim, read side by side within their own
Graph budgets), with exit 2; the Microsoft-managed report-only policy
gets its switch-on date, or "date unknown"; a read Graph refuses is an
"error" row naming the HTTP status; bad usage is 64, a bad config 78.
In the daemon (posture: {every}), findings go to the store and a check
that starts failing, or recovers, raises a system alert."""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
from gwtest import (BG1, BG1_UPN, BG2, BG2_UPN, ORDINARY,  # noqa: E402
                    ORDINARY_UPN)

GA = "62e90394-69f5-4237-9190-012177145e10"
GROUP = "e1e1e1e1-0000-4000-8000-000000000001"
BG_KEY = "2fc0579f-8113-47ea-b116-bb5a8db9202a"
ALICE_KEY = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
MANAGED_TEMPLATE = "c7503427-338e-4c5e-902d-abe252abfb43"
CHECKS = ("cloud-only", "enabled", "password-expiry", "sign-in-90d",
          "global-admin", "ca-excluded", "ms-managed", "no-phone",
          "phishing-resistant", "distinct-mechanism")


def iso(days_ago):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ",
                         time.gmtime(time.time() - days_ago * 86400))


def fido2(aaguid):
    return {"@odata.type": "#microsoft.graph.fido2AuthenticationMethod",
            "aaGuid": aaguid}


PASSWORD = {"@odata.type": "#microsoft.graph.passwordAuthenticationMethod"}
CERT = {"@odata.type":
        "#microsoft.graph.x509CertificateAuthenticationMethod"}


def directory():
    """A tenant set up as Microsoft's guidance says: two cloud-only
    permanent Global Administrators excluded from every policy (BG2
    through a group), FIDO2 and certificate sign-in no other admin
    uses, signed in recently; and Alice, an everyday admin."""
    def bg(oid, upn, methods, days):
        return {"id": oid, "userPrincipalName": upn,
                "passwordPolicies": "DisablePasswordExpiration",
                "signInActivity": {
                    "lastSignInDateTime": iso(days),
                    "lastSuccessfulSignInDateTime": iso(days)},
                "methods": [PASSWORD] + methods}
    return {
        "users": [
            bg(BG1, BG1_UPN, [fido2(BG_KEY)], 20),
            bg(BG2, BG2_UPN, [CERT], 45),
            {"id": ORDINARY, "userPrincipalName": ORDINARY_UPN,
             "methods": [PASSWORD, fido2(ALICE_KEY), {
                 "@odata.type": "#microsoft.graph."
                 "microsoftAuthenticatorAuthenticationMethod"}]},
        ],
        "groups": {GROUP: [BG2]},
        "roleAssignments": [{"principalId": p, "roleDefinitionId": GA}
                            for p in (BG1, BG2, ORDINARY)],
        "roleAssignmentSchedules": [
            {"principalId": p, "roleDefinitionId": GA}
            for p in (BG1, BG2)] + [
            {"principalId": ORDINARY, "roleDefinitionId": GA,
             "assignmentType": "Activated",
             "expiration": {"type": "afterDuration", "duration": "PT8H"}}],
        "roleEligibilitySchedules": [
            {"principalId": ORDINARY, "roleDefinitionId": GA}],
        "policies": [
            {"displayName": "Require MFA for administrators",
             "state": "enabled",
             "users": {"includeRoles": [GA], "excludeUsers": [BG1],
                       "excludeGroups": [GROUP]}},
            {"displayName": "Block legacy authentication",
             "state": "enabledForReportingButNotEnforced",
             "createdDateTime": None,
             "grantControls": {"operator": "OR",
                               "builtInControls": ["block"]},
             "users": {"includeUsers": ["All"],
                       "excludeUsers": [BG1, BG2]}},
            {"displayName": "Microsoft-managed: Multifactor "
             "authentication for admins accessing Microsoft Admin Portals",
             "state": "enabledForReportingButNotEnforced",
             "templateId": MANAGED_TEMPLATE, "createdDateTime": iso(30),
             "users": {"includeRoles": [GA], "excludeUsers": [BG1, BG2]}},
            {"displayName": "Old experiment", "state": "disabled",
             "users": {"includeUsers": ["All"]}},
        ],
        # Lists come in pages of two: @odata.nextLink is followed.
        "page_size": 2,
    }


def user(d, oid):
    return next(u for u in d["users"] if u["id"] == oid)


def parse_table(out):
    """{tenant: {(check, account): (result, evidence)}}."""
    tables, rows = {}, None
    for line in out.splitlines():
        if line.startswith("tenant "):
            rows = tables.setdefault(line.split()[1], {})
        elif rows is not None and line and not line.startswith(
                ("CHECK", " ")):
            check, account, result, evidence = line.split(None, 3)
            rows[(check, account)] = (result, evidence)
    return tables


class PostureTest(gwtest.TestCase):

    def tenant(self, name, sim, accounts=((BG1, BG1_UPN), (BG2, BG2_UPN))):
        return {"name": name, "tenant_id": sim.tenant_id,
                "cloud": "custom",
                "endpoints": {"login": sim.url, "graph": sim.url,
                              "log_analytics": sim.url},
                "ca_file": self.env.cert("ca.pem"),
                "credentials": {
                    "client_id": gwtest.CLIENT_ID,
                    "client_secret_file": self.env.client_secret_file},
                "log_analytics": {"workspace_id": gwtest.WORKSPACE_ID},
                "break_glass": [{"object_id": o, "upn": u}
                                for o, u in accounts]}

    def start_sim(self, tenant_id=gwtest.TENANT_ID):
        sim = self.env.start_sim(tenant_id=tenant_id)
        sim.tenant_id = tenant_id
        return sim

    def posture(self, tenants):
        cfg = self.env.config(self.sim, None, top={"tenants": tenants})
        path = self.env.write_config(cfg)
        r = self.env.run_daemon(["-c", path, "--posture"], timeout=120)
        return r, parse_table(r.stdout)

    def assert_only_failing(self, rows, failing, tenant):
        """Exactly the (check, account) pairs in `failing` fail."""
        for key, (result, evidence) in rows.items():
            if key in failing:
                self.assertEqual(result, "FAIL", "%s %s: %s"
                                 % (tenant, key, evidence))
            else:
                self.assertEqual(result, "pass", "%s %s: %s: %s"
                                 % (tenant, key, result, evidence))
        for key in failing:
            self.assertIn(key, rows, tenant)

    def test_well_configured_tenant_passes(self):
        self.sim = self.start_sim()
        self.sim.posture(directory())
        r, tables = self.posture([self.tenant("contoso", self.sim)])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        rows = tables["contoso"]
        self.assertEqual(len(rows), 1 + 2 * len(CHECKS), r.stdout)
        self.assert_only_failing(rows, set(), "contoso")
        self.assertIn("through group " + GROUP,
                      rows[("ca-excluded", BG2_UPN)][1])
        self.assertIn("excluded from all 3", rows[("ca-excluded",
                                                   BG1_UPN)][1])
        self.assertIn("FIDO2 key AAGUID " + BG_KEY,
                      rows[("phishing-resistant", BG1_UPN)][1])
        self.assertIn("1 other Global Administrator",
                      rows[("distinct-mechanism", BG1_UPN)][1])
        reqs = self.sim.requests("posture")
        users = [q for q in reqs if q["path"] == "/v1.0/users/" + BG1]
        self.assertEqual(len(users), 1)
        self.assertIn("signInActivity", users[0]["query"])
        # 4 policies in pages of 2; BG1's permanent GA needs no
        # eligibility read.
        self.assertEqual(len([q for q in reqs if q["path"].endswith(
            "/conditionalAccess/policies")]), 2)
        self.assertFalse([q for q in reqs if "Eligibility" in q["path"]
                          and BG1 in (q["query"] or "")])
        self.assertTrue(all(q["status"] == 200 for q in reqs), reqs)
        self.assertNotIn(gwtest.CLIENT_SECRET, r.stdout + r.stderr)

    def test_each_check_fails_on_its_own(self):
        """Five tenants, each broken in its own ways, read at once."""
        broken = {}

        d = directory()                                 # t1
        user(d, BG1)["onPremisesSyncEnabled"] = True
        user(d, BG2)["accountEnabled"] = False
        broken["t1"] = (d, {("cloud-only", BG1_UPN), ("enabled", BG2_UPN)},
                        None)

        d = directory()                                 # t2
        user(d, BG1)["passwordPolicies"] = "DisableStrongPassword"
        d["roleAssignmentSchedules"] = [
            s for s in d["roleAssignmentSchedules"]
            if s["principalId"] != BG2]
        d["roleEligibilitySchedules"].append(
            {"principalId": BG2, "roleDefinitionId": GA})
        broken["t2"] = (d, {("password-expiry", BG1_UPN),
                            ("global-admin", BG2_UPN)}, None)

        d = directory()                                 # t3
        d["policies"][0]["users"]["excludeUsers"] = []
        user(d, BG2)["methods"].append(
            {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod",
             "phoneType": "mobile"})
        broken["t3"] = (d, {("ca-excluded", BG1_UPN), ("no-phone", BG2_UPN)},
                        None)

        d = directory()                                 # t4
        user(d, BG1)["methods"] = [PASSWORD, {
            "@odata.type": "#microsoft.graph."
            "microsoftAuthenticatorAuthenticationMethod"}]
        user(d, BG2)["methods"] = [PASSWORD, fido2(ALICE_KEY)]
        broken["t4"] = (d, {("phishing-resistant", BG1_UPN),
                            ("distinct-mechanism", BG1_UPN),
                            ("distinct-mechanism", BG2_UPN)}, None)

        d = directory()                                 # t5: one account
        user(d, BG1)["signInActivity"]["lastSuccessfulSignInDateTime"] = \
            iso(120)
        d["roleAssignmentSchedules"][0]["expiration"] = {
            "type": "afterDateTime", "endDateTime": iso(-30)}
        broken["t5"] = (d, {("two-accounts", "-"), ("sign-in-90d", BG1_UPN),
                            ("global-admin", BG1_UPN)}, ((BG1, BG1_UPN),))

        sims, tenants = {}, []
        for name, (d, _, accounts) in sorted(broken.items()):
            sims[name] = self.start_sim(str(uuid.uuid4()))
            sims[name].posture(d)
            kw = {"accounts": accounts} if accounts else {}
            tenants.append(self.tenant(name, sims[name], **kw))
        self.sim = sims["t1"]
        started = time.time()
        r, tables = self.posture(tenants)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        for name, (_, failing, _) in broken.items():
            self.assert_only_failing(tables[name], failing, name)
        t = tables
        self.assertIn("onPremisesSyncEnabled is true",
                      t["t1"][("cloud-only", BG1_UPN)][1])
        self.assertIn("eligible only", t["t2"][("global-admin", BG2_UPN)][1])
        self.assertIn("\"Require MFA for administrators\" (enabled)",
                      t["t3"][("ca-excluded", BG1_UPN)][1])
        self.assertIn("mobile phone", t["t3"][("no-phone", BG2_UPN)][1])
        self.assertIn("FIDO2 key AAGUID %s (Security Key) also used by %s"
                      % (ALICE_KEY, ORDINARY_UPN),
                      t["t4"][("distinct-mechanism", BG2_UPN)][1])
        self.assertIn("validation overdue",
                      t["t5"][("sign-in-90d", BG1_UPN)][1])
        end = broken["t5"][0]["roleAssignmentSchedules"][0]["expiration"]
        self.assertIn("ends " + end["endDateTime"],
                      t["t5"][("global-admin", BG1_UPN)][1])
        # Each tenant has its own budget: side by side, not one after
        # the other (each alone takes about 10 s at 5 requests / 10 s).
        self.assertLess(time.time() - started, gwtest.scaled(45))

    def test_managed_policy_switch_on_date(self):
        d = directory()
        managed = d["policies"][2]
        managed["users"]["excludeUsers"] = [BG2]
        managed["createdDateTime"] = time.strftime(
            "%Y-%m-%dT12:00:00Z", time.gmtime(time.time() - 30 * 86400))
        second = dict(managed, displayName="Microsoft-managed: Block "
                      "legacy authentication", createdDateTime=None,
                      users={"includeUsers": ["All"],
                             "excludeUsers": [BG1]})
        d["policies"].append(second)
        self.sim = self.start_sim()
        self.sim.posture(d)
        r, tables = self.posture([self.tenant("contoso", self.sim)])
        rows = tables["contoso"]
        on = time.strftime("%Y-%m-%d", time.gmtime(
            time.time() - 30 * 86400 + 90 * 86400))
        res, ev = rows[("ms-managed", BG1_UPN)]
        self.assertEqual(res, "warn", ev)
        self.assertIn("switches itself on on " + on, ev)
        self.assertIn("template " + MANAGED_TEMPLATE, ev)
        res, ev = rows[("ms-managed", BG2_UPN)]
        self.assertEqual(res, "warn", ev)
        self.assertIn("date unknown", ev)
        # Not excluded from a report-only policy: that fails anyway.
        self.assertEqual(rows[("ca-excluded", BG1_UPN)][0], "FAIL")
        self.assertEqual(r.returncode, 2)

        # Within the 14 days' notice the warning becomes a failure.
        managed["createdDateTime"] = iso(80)
        d["policies"] = d["policies"][:4]
        d["policies"][2] = managed
        d["policies"][2]["users"] = {"includeRoles": [GA],
                                     "excludeUsers": [BG2]}
        self.sim.posture(d)
        r, tables = self.posture([self.tenant("contoso", self.sim)])
        res, ev = tables["contoso"][("ms-managed", BG1_UPN)]
        self.assertEqual(res, "FAIL", ev)
        self.assertIn("in 9 days", ev)

    def test_graph_errors_are_reported(self):
        d = directory()
        d["denied"] = ["signInActivity", "groups"]
        self.sim = self.start_sim()
        self.sim.posture(d)
        # A passing 503 is retried and does not show.
        self.sim.fault(path="posture", status=503, retry_after=1)
        r, tables = self.posture([self.tenant("contoso", self.sim)])
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        rows = tables["contoso"]
        for acct in (BG1_UPN, BG2_UPN):
            for check in ("cloud-only", "enabled", "sign-in-90d"):
                res, ev = rows[(check, acct)]
                self.assertEqual(res, "error", ev)
                self.assertIn("HTTP 403 Authorization_RequestDenied", ev)
        # BG1 is excluded directly, BG2 only through the group.
        self.assertEqual(rows[("ca-excluded", BG1_UPN)][0], "pass")
        self.assertEqual(rows[("ca-excluded", BG2_UPN)][0], "error")
        self.assertEqual(rows[("no-phone", BG1_UPN)][0], "pass")
        statuses = [q["status"] for q in self.sim.requests("posture")]
        self.assertIn(503, statuses)

    def posture_mails(self):
        return [m for m in self.smtp.mails()
                if "glasswatch: posture:" in m.subject]

    def wait_posture_mail(self, needle, timeout=60):
        return gwtest.wait_for(self.alive(lambda: [
            m for m in self.posture_mails() if needle in m.subject]),
            timeout, what="a posture mail with %r" % needle,
            on_timeout=self.diagnostics)

    def test_drift_and_recovery_alerts(self):
        """posture: {every: 2s} in the daemon: findings in the store, a
        Sev-0 alert when a break-glass account is no longer excluded
        from an enabled policy, Sev 1 for another check, Sev 2 for a
        Microsoft-managed policy's warning, and recovery messages;
        nothing while nothing changes."""
        d = directory()
        self.sim = self.start_sim()
        self.sim.posture(d)
        self.smtp = self.env.start_smtp()
        cfg = self.env.config(self.sim, self.smtp, top={
            "tenants": [self.tenant("contoso", self.sim)],
            "posture": {"every": "2s"}})
        self.daemon = self.env.start_daemon(self.env.write_config(cfg))
        findings = "SELECT * FROM posture_findings"
        gwtest.wait_for(self.alive(lambda: len(self.env.db(findings)) ==
                                   1 + 2 * len(CHECKS)), 60,
                        what="the first posture findings",
                        on_timeout=self.diagnostics)
        self.assertEqual({r["result"] for r in self.env.db(findings)},
                         {"pass"})

        broken = directory()
        broken["policies"][0]["users"]["excludeUsers"] = []
        broken["policies"][2]["users"]["excludeUsers"] = [BG2]
        user(broken, BG2)["accountEnabled"] = False
        self.sim.posture(broken)
        sev0 = self.wait_posture_mail("no longer excluded")
        self.assertIn("[Sev0] glasswatch: posture: %s no longer excluded "
                      "from a Conditional Access policy" % BG1_UPN,
                      sev0[0].subject)
        self.assertIn("Require MFA for administrators", sev0[0].body)
        sev1 = self.wait_posture_mail("enabled fails for " + BG2_UPN)
        self.assertIn("[Sev1]", sev1[0].subject)
        sev2 = self.wait_posture_mail("ms-managed warns for " + BG1_UPN)
        self.assertIn("[Sev2]", sev2[0].subject)
        self.assertIn("switches itself on on", sev2[0].body)
        row = self.env.db("SELECT * FROM posture_findings WHERE check_id "
                          "= 'ca-excluded' AND account = ?", (BG1_UPN,))
        self.assertEqual(row[0]["result"], "FAIL")
        # Still failing at the next runs: said once.
        n = len(self.sim.requests("posture"))
        gwtest.wait_for(lambda: len(self.sim.requests("posture")) >=
                        n + 8, 60, what="another posture run")
        self.assertEqual(len(self.posture_mails()), 3,
                         [m.subject for m in self.posture_mails()])

        self.sim.posture(d)
        back = self.wait_posture_mail("ca-excluded passes again for " +
                                      BG1_UPN)
        self.assertIn("[Sev3]", back[0].subject)
        self.wait_posture_mail("enabled passes again for " + BG2_UPN)
        self.wait_posture_mail("ms-managed passes again for " + BG1_UPN)
        hist = self.env.db("SELECT result FROM posture_history WHERE "
                           "check_id = 'ca-excluded' AND account = ? "
                           "ORDER BY at_us", (BG1_UPN,))
        self.assertEqual([h["result"] for h in hist],
                         ["pass", "FAIL", "pass"])
        self.assertEqual(self.daemon.terminate(), 0)

    def test_usage_and_bad_config(self):
        self.sim = self.start_sim()
        path = self.env.write_config(self.env.config(
            self.sim, None, top={"tenants": [self.tenant("contoso",
                                                         self.sim)]}))
        r = self.env.run_daemon(["-c", path, "--posture", "--once"])
        self.assertEqual(r.returncode, 64)
        bad = self.env.write_config("tenants: [\n", name="bad.yaml")
        r = self.env.run_daemon(["-c", bad, "--posture"])
        self.assertEqual(r.returncode, gwtest.EXIT_CONFIG)
        self.assertIn("bad.yaml:", r.stderr)
        self.assertEqual(self.sim.requests("posture"), [])


if __name__ == "__main__":
    gwtest.main()
