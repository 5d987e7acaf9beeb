#!/usr/bin/python3
"""Operator commands: --status and --history read the state store while
the daemon runs (and holds the lock) and after; --replay runs the rules
over a saved Graph page, a Log Analytics response and CSV exports, prints
the alerts and sends nothing."""

import hashlib
import os
import re
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
from gwtest import BG1, BG1_UPN, MAIL_TO, RULE, wait_for  # noqa: E402

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
PAGER_TO = "pager@example.org"
EX_USAGE, EX_DATAERR, EX_NOINPUT, EX_STATE = 64, 65, 66, 73


def table(out, title):
    """The rows of the table under the line starting with `title`, each a
    list of cells (cells are two or more spaces apart)."""
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(title):
            rows = []
            for row in lines[i + 2:]:
                if not row.strip():
                    break
                rows.append(re.split(r"\s{2,}", row.strip()))
            if lines[i + 1] == "none":
                return []
            return rows
    raise AssertionError("no table %r in:\n%s" % (title, out))


def tree_digest(path):
    """A digest of every file below path, names and contents."""
    h = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            h.update(full.encode())
            with open(full, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


class OperatorTest(gwtest.TestCase):

    def operator_config(self):
        """soc-mail delivers; pager-mail points at a port nobody listens
        on, so its delivery stays pending; an audit rule for the CSV."""
        self.sim = self.env.start_sim()
        self.smtp = self.env.start_smtp()
        cfg = self.env.config(self.sim, self.smtp,
                              rule={"actions": ["soc-mail", "pager-mail"]})
        pager = dict(cfg["notifiers"][0], name="pager-mail", to=[PAGER_TO],
                     url="smtp://127.0.0.1:%d" % gwtest.free_port())
        cfg["notifiers"].append(pager)
        cfg["rules"].append(dict(
            cfg["rules"][0], name="bg-audit", signal="audit", severity=1,
            actions=["soc-mail"],
            subject="[Sev{severity}] {rule}: {activity} by {initiator}"))
        self.cfg = cfg
        self.config_path = self.env.write_config(cfg)
        return cfg

    def op(self, *args):
        return self.env.run_daemon(["-c", self.config_path] + list(args))

    def check_status(self):
        r = self.op("--status")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        pollers = table(r.stdout, "Pollers")
        keys = {p[0]: p for p in pollers}
        self.assertIn("contoso/log_analytics/sign_in", keys, r.stdout)
        row = keys["contoso/log_analytics/sign_in"]
        # POLLER, LAST OK, LAST ATTEMPT, RESULT, CURSOR, FAILING SINCE, ERROR
        self.assertRegex(row[1], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(row[3], "ok", row)
        self.assertRegex(row[4], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(row[5:], ["-", "-"], row)
        notifiers = {n[0]: n for n in table(r.stdout, "Notifiers")}
        # NOTIFIER TYPE PENDING SENDING DELIVERED FAILED EXPIRED OLDEST
        self.assertEqual(notifiers["soc-mail"][1:7],
                         ["email", "0", "0", "1", "0", "0"], r.stdout)
        # Pending, or sending if the status caught it in an attempt.
        self.assertIn(notifiers["pager-mail"][2:4], (["1", "0"], ["0", "1"]),
                      r.stdout)
        self.assertRegex(notifiers["pager-mail"][7], r"^\d{4}-.*Z$")
        pending = table(r.stdout, "Pending deliveries")
        self.assertEqual([p[1:3] for p in pending],
                         [["pager-mail", PAGER_TO]], r.stdout)
        self.assertIn(pending[0][3], ("pending", "sending"))
        self.assertEqual(pending[0][0], self.alert_id)
        return r.stdout

    def check_history(self, rec_id):
        r = self.op("--history")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("(the last 7d)", r.stdout)
        records = table(r.stdout, "Records (1)")
        self.assertEqual(len(records), 1, r.stdout)
        # EVENT TIME TENANT SIGNAL ACCOUNT IP WHAT RECORD RULE DECISION ALERT
        rec = records[0]
        self.assertEqual(rec[1:4], ["contoso", "sign_in", BG1_UPN], rec)
        self.assertEqual(rec[6:], [rec_id, RULE, "alerted", self.alert_id],
                         rec)
        alerts = table(r.stdout, "Alerts (1)")
        self.assertEqual(alerts[0][0], self.alert_id)
        self.assertEqual(alerts[0][2:8], ["event", RULE, "0", "contoso",
                                          BG1_UPN, "1"], alerts)
        deliveries = {d[1]: d for d in table(r.stdout, "Deliveries (2)")}
        self.assertEqual(deliveries["soc-mail"][2:5],
                         [MAIL_TO, "delivered", "1"], deliveries)
        self.assertRegex(deliveries["soc-mail"][5], r"^\d{4}-.*Z$")
        pager = deliveries["pager-mail"]
        self.assertEqual(pager[2], PAGER_TO, deliveries)
        self.assertIn(pager[3], ("pending", "sending"), deliveries)
        if pager[3] == "pending":
            self.assertTrue(pager[5].startswith("next try"), pager)
        return r.stdout

    def test_status_and_history_while_the_daemon_runs_and_after(self):
        self.operator_config()
        self.daemon = self.env.start_daemon(self.config_path)
        rec = self.sim.signin(BG1, BG1_UPN)
        self.wait_mails(1)
        wait_for(self.alive(lambda: [
            d for d in self.env.deliveries("pending")
            if d["notifier"] == "pager-mail" and d["attempts"] >= 1] and
            self.env.deliveries("delivered")), 30,
            what="soc-mail delivered, pager-mail pending",
            on_timeout=self.diagnostics)
        self.alert_id = self.env.db("SELECT id FROM alerts")[0]["id"]
        # The daemon holds the lock on state_dir all along.
        self.assertTrue(self.daemon.running())
        self.check_status()
        self.check_history(rec["id"])
        self.assertTrue(self.daemon.running(), self.daemon.log_tail())
        # A locked state_dir stops a second daemon, not the reports.
        self.assertEqual(self.op("--once").returncode, 75)

        self.daemon.terminate()
        self.check_status()
        self.check_history(rec["id"])
        # Nothing in the window: --since bounds what is listed.
        time.sleep(2.5)
        r = self.op("--history", "--since", "1s")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(table(r.stdout, "Records (0)"), [])

        # pager-mail removed from the file: its delivery still waits, and
        # --status says so.
        cfg = dict(self.cfg)
        cfg["notifiers"] = [self.cfg["notifiers"][0]]
        cfg["rules"] = [dict(r, actions=["soc-mail"])
                        for r in self.cfg["rules"]]
        self.env.write_config(cfg)
        r = self.op("--status")
        self.assertEqual(r.returncode, 0, r.stderr)
        gone = {n[0]: n for n in table(r.stdout, "Notifiers")}["pager-mail"]
        self.assertEqual(gone[1:3], ["-", "1"], gone)
        self.assertIn("not in the configuration", gone[-1])

    def test_no_state_yet_and_bad_usage(self):
        self.operator_config()
        for mode in (["--status"], ["--history"]):
            r = self.op(*mode)
            self.assertEqual(r.returncode, EX_STATE, r.stderr)
            self.assertIn("no state yet", r.stderr)
            self.assertFalse(os.path.exists(self.env.db_path))
        for args in (["--since", "7d"], ["--history", "--since", "soon"],
                     ["--history", "--since", "0s"], ["--status", "--history"],
                     ["--tenant", "contoso"],
                     ["--replay", os.path.join(DATA, "replay-la.json"),
                      "--tenant", "fabrikam"]):
            r = self.op(*args)
            self.assertEqual(r.returncode, EX_USAGE, (args, r.stderr))
        r = self.env.run_daemon(["-c", self.env.path("missing.yaml"),
                                 "--status"])
        self.assertEqual(r.returncode, gwtest.EXIT_CONFIG, r.stderr)

        # A store of a newer glasswatchd is refused, never read or changed.
        os.makedirs(self.env.state_dir, exist_ok=True)
        conn = sqlite3.connect(self.env.db_path)
        conn.execute("PRAGMA application_id = %d" % 0x47574154)
        conn.execute("PRAGMA user_version = 99")
        conn.close()
        before = tree_digest(self.env.state_dir)
        for mode in (["--status"], ["--history"]):
            r = self.op(*mode)
            self.assertEqual(r.returncode, EX_STATE, r.stderr)
            self.assertIn("schema version 99, newer than this glasswatchd",
                          r.stderr)
        self.assertEqual(tree_digest(self.env.state_dir), before)

    def replay(self, name, *extra):
        r = self.op("--replay", os.path.join(DATA, name), *extra)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def assert_alerts(self, out, expected):
        """expected: (kind, rule, sev, account, records, subject) each."""
        got = table(out, "Alerts that would be raised")
        self.assertEqual([a[1:] for a in got],
                         [list(e) for e in expected], out)
        self.assertEqual([a[0] for a in got],
                         ["#%d" % (i + 1) for i in range(len(expected))])
        self.assertIn("%d alert%s would be raised; nothing was sent" %
                      (len(expected), "" if len(expected) == 1 else "s"),
                      out)

    def test_replay_graph_log_analytics_and_csv_sends_nothing(self):
        self.operator_config()
        # A store with history in it, which replay must leave alone.
        self.daemon = self.env.start_daemon(self.config_path)
        self.sim.signin(BG1, BG1_UPN)
        self.wait_mails(1)
        self.daemon.terminate()
        mails = len(self.smtp.mails())
        before = tree_digest(self.env.state_dir)
        bg2 = gwtest.BG2_UPN
        sub = "[Sev0] %s: %s from %s"

        out = self.replay("replay-graph.json")
        self.assertIn("(Graph page): 4 rows, 3 records", out)
        self.assert_alerts(out, [
            ("event", RULE, "0", "contoso", BG1_UPN, "1",
             sub % (RULE, BG1_UPN, "198.51.100.7")),
            ("event", RULE, "0", "contoso", bg2, "1",
             sub % (RULE, bg2, "203.0.113.9"))])
        records = table(out, "Records (3)")
        # The second row of one Entra sign-in is attached, not paged.
        self.assertEqual([r[6:] for r in records], [
            ["a1000000-0000-4000-8000-000000000001", RULE, "alerted", "#1"],
            ["a1000000-0000-4000-8000-000000000002", RULE,
             "duplicate of a1000000-0000-4000-8000-000000000001", "#1"],
            ["a1000000-0000-4000-8000-000000000004", RULE, "alerted",
             "#2"]])
        self.assertEqual(records[2][5], "failure:50126")
        notify = table(out, "Would notify")
        self.assertEqual(sorted(map(tuple, notify)), [
            ("#1", "pager-mail", PAGER_TO), ("#1", "soc-mail", MAIL_TO),
            ("#2", "pager-mail", PAGER_TO), ("#2", "soc-mail", MAIL_TO)])

        # An interrupt (50074) then a success of one sign-in: two pages.
        out = self.replay("replay-la.json")
        self.assertIn("(Log Analytics query response): 3 rows, 2 records",
                      out)
        self.assert_alerts(out, [
            ("event", RULE, "0", "contoso", BG1_UPN, "1",
             sub % (RULE, BG1_UPN, "192.0.2.44"))] * 2)
        self.assertEqual([r[5] for r in table(out, "Records (2)")],
                         ["failure:50074", "success"])

        out = self.replay("replay-portal-signins.csv", "--tenant",
                          "contoso")
        self.assertIn("(CSV export of Entra portal sign-ins): 3 rows, "
                      "2 records of break-glass accounts of tenant contoso",
                      out)
        self.assert_alerts(out, [
            ("event", RULE, "0", "contoso", bg2, "1",
             sub % (RULE, bg2, "203.0.113.77")),
            ("event", RULE, "0", "contoso", bg2, "1",
             sub % (RULE, bg2, "203.0.113.78"))])

        out = self.replay("replay-auditlogs.csv")
        self.assertIn("(CSV export of Log Analytics rows): 1 row, 1 record",
                      out)
        activity = "Update application \u2013 Certificates and secrets " \
            "management"
        self.assert_alerts(out, [
            ("event", "bg-audit", "1", "contoso", BG1_UPN, "1",
             "[Sev1] bg-audit: %s by %s" % (activity, BG1_UPN))])

        # With suppress: the second page of the account waits for the
        # digest, as the daemon would decide.
        cfg = dict(self.cfg)
        cfg["rules"] = [dict(self.cfg["rules"][0], suppress="1h")] + \
            self.cfg["rules"][1:]
        r = self.env.run_daemon(["-c", self.env.write_config(
            cfg, "suppress.yaml"), "--replay",
            os.path.join(DATA, "replay-la.json")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_alerts(r.stdout, [
            ("event", RULE, "0", "contoso", BG1_UPN, "1",
             sub % (RULE, BG1_UPN, "192.0.2.44"))])
        self.assertEqual([x[8:] for x in table(r.stdout, "Records (2)")],
                         [["alerted", "#1"],
                          ["suppressed: waits for the digest", "-"]])

        # Rows of nobody watched: no alert, still exit 0.
        empty = self.env.path("nobody.json")
        with open(empty, "w") as f:
            f.write('{"value": []}')
        r = self.op("--replay", empty)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("0 alerts would be raised", r.stdout)

        r = self.op("--replay", self.env.path("absent.json"))
        self.assertEqual(r.returncode, EX_NOINPUT, r.stderr)
        bad = self.env.path("bad.csv")
        with open(bad, "w") as f:
            f.write('UserId,Id\n"unterminated,1\n')
        r = self.op("--replay", bad)
        self.assertEqual(r.returncode, EX_DATAERR, r.stderr)
        self.assertIn("never closed", r.stderr)

        # Nothing was sent, and the real store is as it was.
        self.assertEqual(len(self.smtp.mails()), mails)
        self.assertEqual(tree_digest(self.env.state_dir), before)


if __name__ == "__main__":
    gwtest.main()
