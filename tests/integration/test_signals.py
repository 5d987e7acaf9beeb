#!/usr/bin/python3
"""The Log Analytics signals beyond interactive sign-ins: non-interactive
sign-ins (AADNonInteractiveUserSignInLogs, whose structured columns are JSON
text) and audit events (AuditLogs) where a break-glass account is the
target or the initiator.  Each pages once; other users' events do not."""

import calendar
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
from gwtest import (BG1, BG1_UPN, BG2, BG2_UPN, ORDINARY,  # noqa: E402
                    ORDINARY_UPN, RULE)

NONINTERACTIVE = "AADNonInteractiveUserSignInLogs"
AUDIT_SUBJECT = "[Sev{severity}] {rule}: {activity} by {initiator} on {target}"


def user_target(oid, upn):
    return {"id": oid, "displayName": None, "type": "User",
            "userPrincipalName": upn, "modifiedProperties": [],
            "administrativeUnits": []}


def user_initiator(oid, upn, ip="45.153.160.2"):
    return {"user": {"id": oid, "displayName": None,
                     "userPrincipalName": upn, "ipAddress": ip,
                     "roles": []}}


APP_SP_ID = "9d2b4c6e-0f1a-4b3c-8d5e-7f9a1b3c5d7e"


def app_initiator(name="Microsoft Graph"):
    return {"app": {"displayName": name, "appId": None,
                    "servicePrincipalId": APP_SP_ID,
                    "servicePrincipalName": None}}


def iso_us(text):
    """Microseconds since the epoch of an ISO 8601 UTC time (7 digits of
    fraction, as Log Analytics writes them, cut to 6)."""
    whole, _, frac = text.rstrip("Z").partition(".")
    secs = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return secs * 1000000 + int((frac + "000000")[:6])


class SignalsTest(gwtest.TestCase):

    def audit(self, activity, initiated_by, targets, **kw):
        """An AuditLogs row; extra columns as keyword arguments, plus
        ingest_delay= and event_age=."""
        opts = {k: kw.pop(k) for k in ("ingest_delay", "event_age")
                if k in kw}
        row = {"ActivityDisplayName": activity, "OperationName": activity,
               "InitiatedBy": initiated_by, "TargetResources": targets}
        row.update(kw)
        return self.sim.add_record(row, table="AuditLogs", **opts)

    def polls(self):
        """The poll queries (not the log-pipeline check's "take 1")."""
        return [q["query"] for q in self.sim.requests("query")
                if q.get("query") and "| take 1 |" not in q["query"]]

    def queried_tables(self):
        return {q.split("\n", 1)[0] for q in self.polls()}

    # -- non-interactive sign-ins

    def test_non_interactive_sign_in_pages_once(self):
        self.start_all(rule={"signal": "non_interactive_sign_in"})
        rec = self.sim.add_record(
            {"UserId": BG1, "UserPrincipalName": BG1_UPN,
             "IPAddress": "198.51.100.77",
             "AppDisplayName": "Microsoft Authentication Broker"},
            table=NONINTERACTIVE)
        # Neither an interactive row of the account (another signal) nor
        # another user's non-interactive row pages under this rule.
        self.sim.signin(BG1, BG1_UPN)
        other = self.sim.add_record(
            {"UserId": ORDINARY, "UserPrincipalName": ORDINARY_UPN},
            table=NONINTERACTIVE)
        self.wait_mails(1)
        self.wait_queries(3, after=max(rec["visible_at"],
                                       other["visible_at"]), rows=True)
        self.settle()
        mails = self.smtp.rule_mails()
        self.assertEqual(len(mails), 1, mails)
        self.assertEqual(mails[0].subject, "[Sev0] %s: %s from 198.51.100.77"
                         % (RULE, BG1_UPN))
        body = mails[0].body
        for needle in (BG1_UPN, "Microsoft Authentication Broker",
                       self.sim.record(rec["id"])["CorrelationId"]):
            self.assertIn(needle, body)
        # LocationDetails arrives as JSON text in this table; it is read
        # like SigninLogs' dynamic column.
        self.assertIn("Azor, Tel Aviv, IL", body)
        self.assertEqual(self.queried_tables(), {NONINTERACTIVE})
        stored = self.env.db("SELECT id, signal FROM records")
        self.assertEqual([(r["id"], r["signal"]) for r in stored],
                         [(rec["id"], "non_interactive_sign_in")])

    # -- audit events

    def test_audit_target_pages(self):
        self.start_all(rule={
            "signal": "audit",
            "match": {"activities": ["User registered security info"]},
            "subject": AUDIT_SUBJECT})
        # Entra's activity names carry a trailing space.
        rec = self.audit("User registered security info ",
                         user_initiator(BG1, BG1_UPN),
                         [user_target(BG1, BG1_UPN)],
                         Category="UserManagement",
                         LoggedByService="Authentication Methods")
        # The account as target of another activity: not this rule's.
        self.audit("Update user", app_initiator(),
                   [user_target(BG1, BG1_UPN)])
        self.wait_mails(1)
        self.wait_queries(3, after=rec["visible_at"], rows=True)
        self.settle()
        mails = self.smtp.rule_mails()
        self.assertEqual(len(mails), 1, mails)
        self.assertEqual(
            mails[0].subject.strip(),
            "[Sev0] %s: User registered security info by %s on %s"
            % (RULE, BG1_UPN, BG1_UPN))
        self.assertIn(self.sim.record(rec["id"])["CorrelationId"],
                      mails[0].body)
        self.assertEqual(self.queried_tables(), {"AuditLogs"})

    def test_audit_target_among_several_pages(self):
        # "Add member to role": the role and the user are both targets;
        # the break-glass account is the second one. The initiator is an
        # ordinary admin. Dynamic columns arrive nested on the wire here.
        self.start_all(rule={"signal": "audit", "subject": AUDIT_SUBJECT})
        self.sim.settings(dynamic_as="nested")
        rec = self.audit(
            "Add member to role", user_initiator(ORDINARY, ORDINARY_UPN),
            [{"id": "62e90394-69f5-4237-9190-012177145e10",
              "displayName": "Global Administrator", "type": "Role",
              "modifiedProperties": []},
             user_target(BG2, BG2_UPN)],
            Category="RoleManagement")
        mails = self.wait_mails(1)
        self.settle()
        mails = self.smtp.rule_mails()
        self.assertEqual(len(mails), 1, mails)
        # The target shown is the break-glass account, not the role.
        self.assertEqual(mails[0].subject.strip(),
                         "[Sev0] %s: Add member to role by %s on %s"
                         % (RULE, ORDINARY_UPN, BG2_UPN))
        self.assertIn(BG2_UPN, mails[0].body)
        self.assertIn(self.sim.record(rec["id"])["CorrelationId"],
                      mails[0].body)

    def test_audit_initiator_pages(self):
        self.start_all(rule={"signal": "audit", "subject": AUDIT_SUBJECT})
        # The break-glass account changes someone else (upper-case id on
        # the wire: ids compare case-insensitively).
        rec = self.audit("Reset password (by admin)",
                         user_initiator(BG2.upper(), BG2_UPN,
                                        ip="203.0.113.50"),
                         [user_target(ORDINARY, ORDINARY_UPN)],
                         LoggedByService="Self-service Password Management")
        mails = self.wait_mails(1)
        self.settle()
        mails = self.smtp.rule_mails()
        self.assertEqual(len(mails), 1, mails)
        self.assertEqual(
            mails[0].subject.strip(),
            "[Sev0] %s: Reset password (by admin) by %s on %s"
            % (RULE, BG2_UPN, ORDINARY_UPN))
        self.assertIn(BG2_UPN, mails[0].body)
        self.assertIn(self.sim.record(rec["id"])["CorrelationId"],
                      mails[0].body)

    def test_audit_of_another_user_sends_nothing(self):
        self.start_all(rule={"signal": "audit"})
        recs = [
            self.audit("Update user", app_initiator(),
                       [user_target(ORDINARY, ORDINARY_UPN)]),
            self.audit("User registered security info",
                       user_initiator(ORDINARY, ORDINARY_UPN),
                       [user_target(ORDINARY, ORDINARY_UPN)]),
            # The break-glass id only inside a modified property's value:
            # the account is neither the target nor the initiator.
            self.audit("Update group", app_initiator(),
                       [{"id": "7a1c3e5f-2b4d-4f6a-8c0e-1d3f5a7b9c2e",
                         "displayName": "Emergency access exclusions",
                         "type": "Group",
                         "modifiedProperties": [{
                             "displayName": "Description",
                             "oldValue": None,
                             "newValue": "\"excludes %s\"" % BG1}]}]),
        ]
        self.wait_queries(4, after=max(r["visible_at"] for r in recs))
        self.assertEqual(self.smtp.mails(), [])
        self.assertEqual(self.env.db("SELECT id FROM alerts"), [])

    def test_late_audit_record_is_alerted_once(self):
        self.start_all(rule={"signal": "audit", "subject": AUDIT_SUBJECT})
        # Some polls first, so the cursor has moved past the event time.
        self.settle(n=2)
        rec = self.audit("Update user", app_initiator(),
                         [user_target(BG1, BG1_UPN)],
                         event_age=1800, ingest_delay=2)
        mails = self.wait_mails(1)
        self.wait_queries(3, after=rec["visible_at"], rows=True)
        self.settle()
        mails = self.smtp.rule_mails()
        self.assertEqual(len(mails), 1, mails)
        self.assertIn("Update user", mails[0].subject)
        self.assertIn(self.sim.record(rec["id"])["CorrelationId"],
                      mails[0].body)

    # -- all three at once

    def test_three_signals_one_union_query_three_cursors(self):
        rules = []
        for name, signal in (("bg-sign-in", "sign_in"),
                             ("bg-non-interactive",
                              "non_interactive_sign_in"),
                             ("bg-audit", "audit")):
            rules.append({
                "name": name, "source": "log_analytics", "signal": signal,
                "threshold": {"operator": "gt", "value": 0},
                "period": "5m", "frequency": "1s", "severity": 0,
                "actions": ["soc-mail"],
                "subject": "[Sev{severity}] {rule}: {upn}"})
        self.start_all(top={"rules": rules})
        # Ingested a second apart, so the three cursors differ.
        recs = {"sign_in": self.sim.signin(BG1, BG1_UPN, ingest_delay=1),
                "non_interactive_sign_in": self.sim.add_record(
                    {"UserId": BG2, "UserPrincipalName": BG2_UPN},
                    table=NONINTERACTIVE, ingest_delay=2),
                "audit": self.audit("Disable account", app_initiator(),
                                    [user_target(BG1, BG1_UPN)],
                                    ingest_delay=3)}
        for name in ("bg-sign-in", "bg-non-interactive", "bg-audit"):
            self.wait_mails(1, rule=name)
        self.settle(after=time.time(), n=6)
        subjects = sorted(m.subject for m in self.smtp.mails())
        self.assertEqual(subjects, [
            "[Sev0] bg-audit: %s" % BG1_UPN,
            "[Sev0] bg-non-interactive: %s" % BG2_UPN,
            "[Sev0] bg-sign-in: %s" % BG1_UPN])
        # One query per poll: a union with a leg per table.
        queries = self.polls()
        self.assertEqual(self.queried_tables(), {"union"})
        for q in queries:
            for table in ("SigninLogs", NONINTERACTIVE, "AuditLogs"):
                self.assertIn("(%s\n" % table, q)
        self.assertIn("poller contoso/log_analytics/"
                      "sign_in+non_interactive_sign_in+audit: every 1.0s",
                      self.daemon.output())
        # Each signal keeps its own cursor: the last ingestion time of
        # its own rows.
        cursors = {r["poller"]: r["cursor_us"] for r in self.env.db(
            "SELECT * FROM cursors")}
        self.assertEqual(sorted(cursors), [
            "contoso/log_analytics/audit",
            "contoso/log_analytics/non_interactive_sign_in",
            "contoso/log_analytics/sign_in"])
        for key, rec in recs.items():
            self.assertEqual(cursors["contoso/log_analytics/" + key],
                             iso_us(rec["ingestion_time"]), key)


if __name__ == "__main__":
    gwtest.main()
