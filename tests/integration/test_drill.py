#!/usr/bin/python3
"""Drill mode: `glasswatchd --drill ACCOUNT --window D` tells the running
daemon over its control socket of a planned test sign-in. Sign-ins of that
account inside the window still page the rule's actions, marked [DRILL]
with who announced it, and also go to drills.actions; the drill survives a
restart; without a daemon, or with a wrong account or window, the command
says so."""

import os
import pwd
import socket
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
from gwtest import BG1, BG1_UPN, BG2, BG2_UPN, MAIL_FROM, MAIL_TO  # noqa

DRILL_TO = "drills@contoso.example"
USER = pwd.getpwuid(os.getuid()).pw_name


class DrillTest(gwtest.TestCase):

    def write(self, smtp=True):
        self.sim = self.env.start_sim()
        self.smtp = self.env.start_smtp() if smtp else None
        self.run_dir = self.env.path("run")
        cfg = self.env.config(self.sim, self.smtp, top={
            "runtime_dir": self.run_dir,
            # soc-mail is also the rule's: it gets the alert once.
            "drills": {"actions": ["drill-mail", "soc-mail"]},
        })
        drill_mail = dict(cfg["notifiers"][0], name="drill-mail",
                          to=[DRILL_TO])
        cfg["notifiers"].append(drill_mail)
        self.config_path = self.env.write_config(cfg)
        self.sock = os.path.join(self.run_dir, "glasswatchd.sock")

    def start(self):
        since = 0
        self.daemon = self.env.start_daemon(self.config_path)
        self.daemon.wait_log("control: listening on " + self.sock,
                             since=since)
        return self.daemon

    def drill(self, *args):
        return self.env.run_daemon(["-c", self.config_path, "--drill"] +
                                   list(args), timeout=30)

    def mails_to(self, rcpt):
        return [m for m in self.smtp.rule_mails()
                if m.meta["rcpt_tos"] == [rcpt]]

    def test_sign_in_inside_the_window_pages_marked_and_survives_restart(
            self):
        self.write()
        self.start()
        st = os.stat(self.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)

        r = self.drill(BG1_UPN, "--window", "10m", "--reason", "quarterly")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"^drill drill-[0-9a-f-]{36} accepted: "
                         r"%s \(tenant contoso\), announced by %s, window "
                         r"until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$"
                         % (BG1_UPN, USER))
        self.daemon.wait_log("announced by %s (uid %d)" % (USER,
                                                           os.getuid()))

        # Inside the window: the SOC is paged, marked; the drill
        # notifier gets it too, and soc-mail only once.
        self.sim.signin(BG1, BG1_UPN, IPAddress="198.51.100.23")
        self.wait_mails(2)
        self.settle()
        soc, drills = self.mails_to(MAIL_TO), self.mails_to(DRILL_TO)
        self.assertEqual(len(soc), 1, self.smtp.mails())
        self.assertEqual(len(drills), 1, self.smtp.mails())
        for m in soc + drills:
            self.assertTrue(m.subject.startswith("[DRILL] [Sev0] "),
                            m.subject)
            self.assertIn("DRILL announced by %s at " % USER, m.body)
            self.assertIn(", window until ", m.body)
            self.assertIn(BG1_UPN, m.body)
        notes = self.env.db("SELECT drill FROM alerts")
        self.assertEqual(len(notes), 1, notes)
        self.assertTrue(notes[0]["drill"].startswith(
            "DRILL announced by %s at " % USER), notes)

        # The other break-glass account is not covered.
        self.sim.signin(BG2, BG2_UPN)
        wait = gwtest.wait_for(self.alive(lambda: [
            m for m in self.mails_to(MAIL_TO) if BG2_UPN in m.subject]),
            30, what="the mail about bg2", on_timeout=self.diagnostics)
        self.assertFalse(wait[0].subject.startswith("[DRILL]"),
                         wait[0].subject)
        self.assertNotIn("DRILL", wait[0].body)
        self.assertEqual(len(self.mails_to(DRILL_TO)), 1)

        # A restart inside the window keeps the drill; the socket goes
        # with the daemon and comes back with the next one.
        self.assertEqual(self.daemon.terminate(), 0)
        self.assertFalse(os.path.exists(self.sock))
        self.start()
        self.sim.signin(BG1, BG1_UPN, IPAddress="198.51.100.99")
        wait = gwtest.wait_for(self.alive(lambda: [
            m for m in self.mails_to(MAIL_TO)
            if "198.51.100.99" in m.subject]), 30,
            what="the mail after the restart", on_timeout=self.diagnostics)
        self.assertTrue(wait[0].subject.startswith("[DRILL] "),
                        wait[0].subject)
        gwtest.wait_for(self.alive(lambda: len(self.mails_to(DRILL_TO))
                                   == 2), 30, what="the second drill mail",
                        on_timeout=self.diagnostics)
        self.assertEqual(len(self.env.db("SELECT id FROM drills")), 1)

    def test_drill_sign_in_counts_as_the_90_day_validation(self):
        from test_posture import directory, parse_table, user
        self.write()
        d = directory()
        user(d, BG1)["signInActivity"]["lastSuccessfulSignInDateTime"] = \
            "2020-01-01T00:00:00Z"
        self.sim.posture(d)
        cfg = self.env.config(self.sim, self.smtp, tenant={
            "endpoints": {"login": self.sim.url, "graph": self.sim.url,
                          "log_analytics": self.sim.url}},
            top={"runtime_dir": self.run_dir})
        self.config_path = self.env.write_config(cfg)

        def row():
            r = self.env.run_daemon(["-c", self.config_path, "--posture"],
                                    timeout=120)
            return r, parse_table(r.stdout)["contoso"][
                ("sign-in-90d", BG1_UPN)]
        r, (result, evidence) = row()
        self.assertEqual((r.returncode, result), (2, "FAIL"), r.stdout)
        self.assertIn("validation overdue", evidence)

        self.start()
        r = self.drill(BG1_UPN, "--window", "10m")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        drill_id = r.stdout.split()[1]
        self.sim.signin(BG1, BG1_UPN)
        self.wait_mails(1)
        r, (result, evidence) = row()
        self.assertEqual((r.returncode, result), (0, "pass"),
                         r.stdout + r.stderr)
        self.assertRegex(evidence, r"^validated by drill %s announced by "
                         r"%s: successful sign-in \d{4}-" % (drill_id, USER))

    def test_refusals_and_a_stale_socket(self):
        self.write(smtp=False)
        # No daemon: no socket, then a stale one that nobody answers.
        r = self.drill(BG1_UPN, "--window", "10m")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("no daemon answered", r.stderr)
        os.makedirs(self.run_dir, exist_ok=True)
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(self.sock)
        stale.close()
        r = self.drill(BG1, "--window", "10m")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("no daemon answered", r.stderr)

        # Usage: checked before any daemon is asked.
        for args, needle in (
                (["nobody@contoso.onmicrosoft.com", "--window", "10m"],
                 "not a break-glass account"),
                ([BG1_UPN, "--window", "30s"], "at least 1m"),
                ([BG1_UPN, "--window", "25h"], "at most 24h"),
                ([BG1_UPN, "--window", "soon"], "--window soon"),
                ([BG1_UPN], "--drill needs --window")):
            r = self.drill(*args)
            self.assertEqual(r.returncode, 64, (args, r.stderr))
            self.assertIn(needle, r.stderr)
        r = self.env.run_daemon(["-c", self.config_path, "--window", "10m"])
        self.assertEqual(r.returncode, 64, r.stderr)

        # The daemon replaces the stale socket and takes the drill by
        # object id, any case.
        self.start()
        self.daemon.wait_log("removing the stale socket")
        r = self.drill(BG2.upper(), "--window", "1m")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("accepted: %s" % BG2_UPN, r.stdout)

        # A second daemon on the same runtime_dir leaves the live socket
        # alone (its own state_dir, so it is not stopped by the lock).
        cfg2 = self.env.config(self.sim, None, top={
            "runtime_dir": self.run_dir,
            "state_dir": self.env.path("state2")})
        other = self.env.start_daemon(self.env.write_config(cfg2, "b.yaml"))
        other.wait_log("another glasswatchd answers on " + self.sock)
        self.assertEqual(other.terminate(), 0)
        self.assertTrue(os.path.exists(self.sock))
        r = self.drill(BG1_UPN, "--window", "1m")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        # A client that connects and says nothing is dropped; one that
        # sends garbage is refused; the daemon keeps answering.
        idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        idle.connect(self.sock)
        bad = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        bad.connect(self.sock)
        bad.sendall(b"not json\n")
        bad.settimeout(gwtest.scaled(10))
        self.assertIn(b'"ok":false', bad.recv(4096))
        bad.close()
        r = self.drill(BG1_UPN, "--window", "1m")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        idle.settimeout(gwtest.scaled(15))
        self.assertEqual(idle.recv(16), b"")
        idle.close()


if __name__ == "__main__":
    gwtest.main()
