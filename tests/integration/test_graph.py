#!/usr/bin/python3
"""Microsoft Graph as a source: every signal read from the simulated
tenant's Graph endpoints (v1.0 signIns, beta non-interactive signIns,
directoryAudits), late records, paging, the `or` fallback, faults, the
request budget, and one record read from both Graph and Log Analytics."""

import json
import os
import signal
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
from gwtest import (BG1, BG1_UPN, BG2, BG2_UPN, ORDINARY,  # noqa: E402
                    ORDINARY_UPN, RULE)

NONINTERACTIVE = "AADNonInteractiveUserSignInLogs"
AUDIT_SUBJECT = "[Sev{severity}] {rule}: {activity} by {initiator} on {target}"
LA_RULE = "la-sign-in"


def user_target(oid, upn):
    return {"id": oid, "displayName": None, "type": "User",
            "userPrincipalName": upn, "modifiedProperties": []}


def user_initiator(oid, upn):
    return {"user": {"id": oid, "displayName": None,
                     "userPrincipalName": upn, "ipAddress": "192.0.2.9"}}


class GraphTest(gwtest.TestCase):

    def start_graph(self, rule=None, rules=None, sim_setup=None, **kw):
        """The standard setup with the tenant's graph: section and the
        rule reading Graph; `rules` adds more rules."""
        def setup(sim):
            if sim_setup is not None:
                sim_setup(sim)

        r = {"source": "graph"}
        r.update(rule or {})
        self.sim = self.env.start_sim()
        self.smtp = self.env.start_smtp()
        cfg = self.env.config(self.sim, self.smtp, rule=r, tenant={
            "endpoints": {"login": self.sim.url,
                          "log_analytics": self.sim.url,
                          "graph": self.sim.url},
            "graph": {"lookback": "2h"}}, **kw)
        cfg["rules"] += rules or []
        self.config_path = self.env.write_config(cfg)
        setup(self.sim)
        self.daemon = self.env.start_daemon(self.config_path)
        return self.daemon

    def graph_requests(self, after=0, status=200):
        return [r for r in self.sim.requests("graph")
                if r["t"] > after and (status is None or
                                       r["status"] == status)]

    def wait_graph(self, n, after, timeout=30):
        return gwtest.wait_for(self.alive(
            lambda: len(self.graph_requests(after)) >= n), timeout,
            what="%d Graph requests after %.3f" % (n, after),
            on_timeout=self.diagnostics)

    def stored(self):
        return self.env.db("SELECT id, signal FROM records")

    # -- every signal

    def test_sign_in_pages_once(self):
        self.start_graph()
        rec = self.sim.signin(BG1, BG1_UPN, IPAddress="198.51.100.23")
        self.sim.signin(ORDINARY, ORDINARY_UPN)
        self.wait_mails(1)
        self.wait_graph(3, after=rec["visible_at"])
        mails = self.smtp.rule_mails()
        self.assertEqual(len(mails), 1, mails)
        self.assertEqual(mails[0].subject, "[Sev0] %s: %s from 198.51.100.23"
                         % (RULE, BG1_UPN))
        self.assertIn(self.sim.record(rec["id"])["CorrelationId"],
                      mails[0].body)
        self.assertIn("Azor, Tel Aviv, IL", mails[0].body)
        self.assertEqual([(r["id"], r["signal"]) for r in self.stored()],
                         [(rec["id"], "sign_in")])
        reqs = self.graph_requests()
        self.assertTrue(reqs)
        for r in reqs:
            self.assertEqual(r["path"], "/v1.0/auditLogs/signIns")
            self.assertIn("userId eq '%s'" % BG1, r["query"])
            self.assertIn("userId eq '%s'" % BG2, r["query"])
            self.assertIn("createdDateTime ge ", r["query"])
        # Graph only: Log Analytics is never asked.
        self.assertEqual(self.sim.requests("query"), [])

    def test_non_interactive_from_beta(self):
        self.start_graph(rule={"signal": "non_interactive_sign_in"})
        rec = self.sim.add_record(
            {"UserId": BG2, "UserPrincipalName": BG2_UPN,
             "IPAddress": "198.51.100.77"}, table=NONINTERACTIVE)
        # An interactive sign-in is another signal.
        self.sim.signin(BG1, BG1_UPN)
        self.wait_mails(1)
        self.wait_graph(3, after=rec["visible_at"])
        mails = self.smtp.rule_mails()
        self.assertEqual(len(mails), 1, mails)
        self.assertEqual(mails[0].subject, "[Sev0] %s: %s from 198.51.100.77"
                         % (RULE, BG2_UPN))
        self.assertEqual([(r["id"], r["signal"]) for r in self.stored()],
                         [(rec["id"], "non_interactive_sign_in")])
        for r in self.graph_requests():
            self.assertEqual(r["path"], "/beta/auditLogs/signIns")
            self.assertIn("signInEventTypes/any(t: t eq "
                          "'nonInteractiveUser')", r["query"])

    def test_audit_target_and_initiator(self):
        self.start_graph(rule={"signal": "audit", "subject": AUDIT_SUBJECT})
        target = self.sim.add_record(
            {"ActivityDisplayName": "User registered security info",
             "OperationName": "User registered security info",
             "InitiatedBy": user_initiator(ORDINARY, ORDINARY_UPN),
             "TargetResources": [user_target(BG1, BG1_UPN)]},
            table="AuditLogs")
        by = self.sim.add_record(
            {"ActivityDisplayName": "Reset password (by admin)",
             "OperationName": "Reset password (by admin)",
             "InitiatedBy": user_initiator(BG2.upper(), BG2_UPN),
             "TargetResources": [user_target(ORDINARY, ORDINARY_UPN)]},
            table="AuditLogs")
        # Neither the target nor the initiator: not paged.
        self.sim.add_record(
            {"ActivityDisplayName": "Update user",
             "InitiatedBy": user_initiator(ORDINARY, ORDINARY_UPN),
             "TargetResources": [user_target(ORDINARY, ORDINARY_UPN)]},
            table="AuditLogs")
        self.wait_mails(2)
        self.wait_graph(3, after=by["visible_at"])
        subjects = sorted(m.subject.strip() for m in self.smtp.rule_mails())
        self.assertEqual(subjects, sorted([
            "[Sev0] %s: User registered security info by %s on %s"
            % (RULE, ORDINARY_UPN, BG1_UPN),
            "[Sev0] %s: Reset password (by admin) by %s on %s"
            % (RULE, BG2_UPN, ORDINARY_UPN)]))
        self.assertEqual(sorted(r["id"] for r in self.stored()),
                         sorted([target["id"], by["id"]]))
        for r in self.graph_requests():
            self.assertEqual(r["path"], "/v1.0/auditLogs/directoryAudits")
            self.assertIn("targetResources/any(t: t/id eq '%s')" % BG1,
                          r["query"])
            self.assertIn("initiatedBy/user/id eq '%s'" % BG2, r["query"])
            self.assertIn("activityDateTime ge ", r["query"])

    # -- late data

    def test_record_visible_30_minutes_late_pages_once(self):
        self.start_graph()
        self.wait_graph(2, after=0)
        # Its event time is 30 minutes ago; Graph shows it only now.
        rec = self.sim.signin(BG1, BG1_UPN, event_age=1800)
        self.wait_mails(1)
        self.wait_graph(4, after=rec["visible_at"])
        self.assertEqual(len(self.smtp.rule_mails()), 1)
        self.assertEqual([r["id"] for r in self.stored()], [rec["id"]])

    def test_visible_after_ingest_delay(self):
        self.start_graph()
        rec = self.sim.signin(BG1, BG1_UPN, event_age=1800,
                              ingest_delay=gwtest.scaled(4))
        self.wait_graph(2, after=0)
        self.assertEqual(self.smtp.rule_mails(), [])
        self.wait_mails(1, timeout=30)
        self.wait_graph(3, after=rec["visible_at"])
        self.assertEqual(len(self.smtp.rule_mails()), 1)

    # -- one record, two sources

    def test_same_sign_in_from_both_sources_stored_once(self):
        la_rule = {
            "name": LA_RULE, "source": "log_analytics", "signal": "sign_in",
            "threshold": {"operator": "gt", "value": 0}, "period": "5m",
            "frequency": "1s", "severity": 0, "actions": ["soc-mail"],
            "subject": "[Sev{severity}] {rule}: {upn} from {ip}"}
        self.start_graph(rules=[la_rule])
        rec = self.sim.signin(BG1, BG1_UPN)
        self.wait_mails(1)
        self.wait_mails(1, rule=LA_RULE)
        self.wait_graph(3, after=rec["visible_at"])
        self.settle(after=rec["visible_at"])
        self.assertEqual(len(self.smtp.rule_mails()), 1)
        self.assertEqual(len(self.smtp.rule_mails(LA_RULE)), 1)
        self.assertEqual([r["id"] for r in self.stored()], [rec["id"]])

    # -- paging

    def test_more_records_than_a_page(self):
        def setup(sim):
            sim.settings(graph_page_size=2)
        self.start_graph(sim_setup=setup)
        ids = [self.sim.signin(BG1 if i % 2 else BG2,
                               BG1_UPN if i % 2 else BG2_UPN,
                               event_age=60 * i)["id"] for i in range(5)]
        gwtest.wait_for(self.alive(lambda: len(self.stored()) == 5), 30,
                        what="5 stored records", on_timeout=self.diagnostics)
        self.assertEqual(sorted(r["id"] for r in self.stored()),
                         sorted(ids))
        self.wait_mails(1)
        # The next links were followed: same filter, with a $skiptoken.
        first = self.graph_requests()[0]
        follow = [r for r in self.graph_requests() if r["skiptoken"]]
        self.assertGreaterEqual(len(follow), 2)
        self.assertEqual(follow[0]["query"], first["query"])
        log = self.daemon.output()
        self.assertIn("3 pages", log)

    # -- the `or` fallback

    def test_or_refused_falls_back_to_one_request_per_account(self):
        def setup(sim):
            sim.settings(graph_reject_or=True)
        self.start_graph(sim_setup=setup)
        rec = self.sim.signin(BG2, BG2_UPN)
        self.wait_mails(1)
        self.wait_graph(4, after=rec["visible_at"])
        log = self.daemon.output()
        self.assertEqual(log.count("from now on one request per account"),
                         1, log)
        ok = self.graph_requests()
        self.assertTrue(all(" or " not in r["query"] for r in ok))
        self.assertTrue(any("userId eq '%s'" % BG1 in r["query"]
                            for r in ok))
        self.assertTrue(any("userId eq '%s'" % BG2 in r["query"]
                            for r in ok))
        refused = self.graph_requests(status=400)
        self.assertEqual(len(refused), 1)
        self.assertIn(" or ", refused[0]["query"])
        self.assertEqual(len(self.smtp.rule_mails()), 1)

        # A reload keeps what was learnt: no second 400.
        mark = len(self.daemon.output())
        t = time.time()
        self.daemon.signal(signal.SIGHUP)
        self.daemon.wait_log("reloaded", since=mark)
        self.wait_graph(4, after=t)
        self.assertEqual(len(self.graph_requests(status=400)), 1)

    # -- faults

    def test_429_and_503_then_recovery_lose_nothing(self):
        self.start_graph()
        self.wait_graph(1, after=0)
        self.sim.fault(path="graph", status=429, retry_after=2)
        self.sim.fault(path="graph", status=503)
        rec = self.sim.signin(BG1, BG1_UPN)
        self.wait_mails(1, timeout=40)
        gwtest.wait_for(lambda: self.sim.stats()["pending_faults"] == 0, 20,
                        what="the faults to be used")
        self.wait_graph(2, after=rec["visible_at"])
        self.assertEqual(len(self.smtp.rule_mails()), 1)
        self.assertEqual([r["id"] for r in self.stored()], [rec["id"]])
        statuses = [r["status"] for r in self.sim.requests("graph")]
        self.assertIn(429, statuses)
        self.assertIn(503, statuses)
        # Retry-After was honoured: nothing asked within 2 s of the 429.
        reqs = self.sim.requests("graph")
        i = statuses.index(429)
        self.assertGreaterEqual(reqs[i + 1]["t"] - reqs[i]["t"], 1.9)

    def test_truncated_json_then_recovery(self):
        self.start_graph()
        self.wait_graph(1, after=0)
        self.sim.fault(path="graph", kind="truncated")
        rec = self.sim.signin(BG1, BG1_UPN)
        self.wait_mails(1, timeout=40)
        self.wait_graph(2, after=rec["visible_at"])
        self.assertEqual(len(self.smtp.rule_mails()), 1)

    def test_stall_past_the_http_timeout_then_recovery(self):
        self.start_graph(top={"http": {"timeout": "2s"}})
        self.wait_graph(1, after=0)
        self.sim.fault(path="graph", kind="delay", delay=5)
        rec = self.sim.signin(BG1, BG1_UPN)
        self.wait_mails(1, timeout=40)
        self.wait_graph(2, after=rec["visible_at"])
        self.assertEqual(len(self.smtp.rule_mails()), 1)
        self.assertIn("poller contoso/graph/sign_in:", self.daemon.output())
        self.assertTrue(self.daemon.running())

    def test_body_over_the_cap_is_refused_then_recovery(self):
        self.start_graph(top={"http": {"max_response": "256KiB"}})
        self.wait_graph(1, after=0)
        self.sim.fault(path="graph", kind="oversize", size=512 * 1024)
        rec = self.sim.signin(BG1, BG1_UPN)
        self.wait_mails(1, timeout=40)
        self.assertEqual([r["fault"] for r in self.sim.requests("graph")
                          if r["fault"]], ["oversize"])
        out = self.daemon.output()
        self.assertRegex(out, r"poller contoso/graph/sign_in: .*larger "
                         r"than 262144 bytes")
        self.wait_graph(2, after=rec["visible_at"])
        self.assertEqual(len(self.smtp.rule_mails()), 1)

    def test_expired_token_refreshes_once(self):
        self.start_graph()
        self.wait_graph(1, after=0)
        before = self.sim.stats()["token_requests"]
        self.sim.expire_tokens()        # revoked early, as Entra may
        t0 = time.time()
        self.sim.signin(BG1, BG1_UPN)
        self.wait_mails(1, timeout=40)
        self.wait_graph(2, after=time.time())
        self.assertEqual(self.sim.stats()["token_requests"], before + 1)
        refused = self.graph_requests(after=t0, status=401)
        self.assertEqual(len(refused), 1, refused)
        self.assertEqual(len(self.smtp.rule_mails()), 1)

    def test_revoked_secret_pages_nothing_until_rotated(self):
        # The daemon reads its own copy of the secret; the sim's file is
        # the secret Entra holds. Revoking = Entra's copy changes.
        mine = self.env.write_secret("daemon-secret", gwtest.CLIENT_SECRET)
        self.sim = self.env.start_sim()
        self.smtp = self.env.start_smtp()
        cfg = self.env.config(self.sim, self.smtp, rule={"source": "graph"},
                              tenant={
                                  "endpoints": {"login": self.sim.url,
                                                "log_analytics": self.sim.url,
                                                "graph": self.sim.url},
                                  "graph": {"lookback": "2h"},
                                  "credentials": {
                                      "client_id": gwtest.CLIENT_ID,
                                      "client_secret_file": mine}})
        self.daemon = self.env.start_daemon(self.env.write_config(cfg))
        self.wait_graph(1, after=0)

        rotated = "gw~Rotated.Secret_5Hn~c2WqJ7vLs0Pd"
        self.env.write_secret("client-secret", rotated)   # Entra's copy
        self.sim.expire_tokens()
        self.sim.signin(BG1, BG1_UPN)
        gwtest.wait_for(self.alive(lambda: self.sim.stats()["token_errors"] >= 2),
                 30, what="the revoked secret to be refused twice",
                 on_timeout=self.diagnostics)
        out = self.daemon.output()
        self.assertIn("7000215", out)
        self.assertEqual(self.smtp.rule_mails(), [])
        # Blind meanwhile, not dead: the new secret is read at the next
        # token request, without a reload.
        self.env.write_secret("daemon-secret", rotated)
        self.wait_mails(1, timeout=40)
        self.assertEqual(len(self.smtp.rule_mails()), 1)
        self.assertEqual(self.daemon.terminate(), 0)
        self.assertNotIn(rotated, self.daemon.output())

    def test_429_holds_every_graph_request_of_the_tenant(self):
        rules = [{"name": "graph-audit", "source": "graph",
                  "signal": "audit",
                  "threshold": {"operator": "gt", "value": 0},
                  "period": "5m", "frequency": "2s", "severity": 0,
                  "actions": ["soc-mail"]}]
        self.start_graph(rule={"frequency": "2s"}, rules=rules)
        self.wait_graph(2, after=0)
        self.sim.fault(path="graph", status=429, retry_after=4)
        gwtest.wait_for(self.alive(
            lambda: self.graph_requests(status=429) != []), 20,
            what="the 429 to be served", on_timeout=self.diagnostics)
        t429 = self.graph_requests(status=429)[0]["t"]
        self.wait_graph(2, after=t429 + 4)
        # Neither poller asked Graph while the tenant was throttled (a
        # request already on its way when the 429 was sent may land in
        # the first moments).
        during = [r for r in self.sim.requests("graph")
                  if t429 + 1.0 < r["t"] < t429 + 3.9]
        self.assertEqual(during, [])
        self.assertIn("Graph throttled tenant contoso", self.daemon.output())

    def test_graph_token_required(self):
        # The sim binds tokens to their audience: Graph refuses a Log
        # Analytics token with 401; the daemon asks for a Graph token
        # (the tenant's scopes.graph) and is never refused.
        self.start_graph()
        self.wait_graph(2, after=0)
        scopes = {r.get("scope") for r in self.sim.requests("token")}
        self.assertEqual(scopes, {"https://graph.microsoft.com/.default"})
        self.assertEqual(self.graph_requests(status=401), [])
        ctx = ssl.create_default_context(cafile=self.env.cert("ca.pem"))

        def token(scope):
            form = urllib.parse.urlencode({
                "grant_type": "client_credentials",
                "client_id": gwtest.CLIENT_ID,
                "client_secret": gwtest.CLIENT_SECRET,
                "scope": scope}).encode()
            req = urllib.request.Request(
                "%s/%s/oauth2/v2.0/token" % (self.sim.url, gwtest.TENANT_ID),
                data=form, headers={
                    "Content-Type": "application/x-www-form-urlencoded"})
            with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                return json.loads(r.read())["access_token"]

        def get(tok):
            req = urllib.request.Request(
                self.sim.url + "/v1.0/auditLogs/signIns?$top=5",
                headers={"Authorization": "Bearer " + tok})
            try:
                with urllib.request.urlopen(req, context=ctx,
                                            timeout=10) as r:
                    return r.status, json.loads(r.read())
            except urllib.error.HTTPError as e:
                return e.code, json.loads(e.read())

        status, body = get(token("https://api.loganalytics.io/.default"))
        self.assertEqual(status, 401)
        self.assertEqual(body["error"]["code"], "InvalidAuthenticationToken")
        status, body = get(token("https://graph.microsoft.com/.default"))
        self.assertEqual(status, 200)
        self.assertIn("value", body)

    # -- the budget

    def test_budget_five_requests_per_ten_seconds(self):
        rules = []
        for sig in ("non_interactive_sign_in", "audit"):
            rules.append({
                "name": "graph-" + sig, "source": "graph", "signal": sig,
                "threshold": {"operator": "gt", "value": 0},
                "period": "5m", "frequency": "1s", "severity": 0,
                "actions": ["soc-mail"]})
        self.start_graph(rules=rules)
        r = self.env.run_daemon(["-c", self.config_path, "--check"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Graph: tenant contoso: 30.0 requests per 10 s of 5 "
                      "allowed: frequencies will be stretched evenly",
                      r.stdout)
        self.daemon.wait_log("polling Graph 6.00 times less often")
        # Pages count against the budget too.
        self.sim.settings(graph_page_size=1)
        for i in range(3):
            self.sim.signin(BG1, BG1_UPN, event_age=10 * i)
        time.sleep(gwtest.scaled(26))
        times = sorted(r["t"] for r in self.sim.requests("graph"))
        self.assertGreaterEqual(len(times), 10)
        # The sim sees a request when it arrives; memcheck's slow TLS
        # puts more than the limiter's half-second margin between sending
        # and arriving, so under it arrival times say nothing here.
        for i in range(5, len(times) if not gwtest.VALGRIND else 0):
            self.assertGreaterEqual(times[i] - times[i - 5], 10.0,
                                    "6 Graph requests within 10 s: %r"
                                    % times)
        self.wait_mails(1)


if __name__ == "__main__":
    gwtest.main()
