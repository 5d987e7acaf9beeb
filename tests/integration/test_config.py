#!/usr/bin/python3
"""Configuration and signals: --check, exit 78, SIGHUP reloads (and keeps
the old configuration when the new file is broken), SIGTERM exits 0."""

import os
import re
import signal
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
from gwtest import BG1, BG1_UPN, BG2, BG2_UPN, RULE, to_yaml  # noqa: E402


def position(text, line_startswith, token):
    """1-based (line, column) of `token` on the first line that starts
    with `line_startswith`."""
    for n, line in enumerate(text.split("\n"), 1):
        if line.startswith(line_startswith):
            return n, line.index(token) + 1
    raise AssertionError("no line starts with %r" % line_startswith)


class ConfigTest(gwtest.TestCase):

    def standard_text(self):
        self.sim = self.env.start_sim()
        self.smtp = self.env.start_smtp()
        return to_yaml(self.env.config(self.sim, self.smtp)) + "\n"

    def check(self, path):
        return self.env.run_daemon(["-c", path, "--check"], timeout=30)

    def test_check_accepts_the_standard_config(self):
        path = self.env.write_config(self.standard_text())
        res = self.check(path)
        self.assertEqual(res.returncode, 0, res.stderr)

    def test_check_reports_every_error_as_file_line_col(self):
        text = self.standard_text()
        # Two errors in one file: an unknown key in the rule, and a
        # frequency longer than the period (reported at the frequency).
        text = text.replace('    frequency: "1s"\n',
                            '    frequency: "10m"\n    colour: "blue"\n')
        path = self.env.write_config(text)
        res = self.check(path)
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        unknown = "%s:%d:%d:" % ((path,) + position(text, "    colour:",
                                                   "colour"))
        freq = "%s:%d:%d:" % ((path,) + position(text, "    frequency:",
                                                '"10m"'))
        self.assertIn(unknown, res.stderr)
        self.assertIn(freq, res.stderr)
        located = [ln for ln in res.stderr.splitlines()
                   if re.match(r"^%s:\d+:\d+: \S" % re.escape(path), ln)]
        self.assertGreaterEqual(len(located), 2, res.stderr)

    def test_check_reports_a_yaml_syntax_error_with_its_position(self):
        text = self.standard_text() + "rules: [unclosed\n"
        path = self.env.write_config(text)
        res = self.check(path)
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertRegex(res.stderr, r"(?m)^%s:\d+:\d+: " % re.escape(path))

    def test_check_refuses_a_world_readable_secret(self):
        text = self.standard_text()
        os.chmod(self.env.client_secret_file, 0o644)
        path = self.env.write_config(text)
        res = self.check(path)
        self.assertEqual(res.returncode, 1, res.stderr)
        where = "%s:%d:%d:" % ((path,) + position(
            text, "      client_secret_file:", '"'))
        self.assertIn(where, res.stderr)

    def test_daemon_exits_78_on_an_invalid_config(self):
        text = self.standard_text().replace('    severity: 0\n',
                                            '    severity: 9\n')
        path = self.env.write_config(text)
        res = self.env.run_daemon(["-c", path], timeout=30)
        self.assertEqual(res.returncode, gwtest.EXIT_CONFIG,
                         res.stdout + res.stderr)
        self.assertRegex(res.stderr, r"(?m)^%s:\d+:\d+: " % re.escape(path))
        self.assertEqual(self.sim.stats()["requests"], 0)

    def test_version(self):
        res = self.env.run_daemon(["--version"])
        self.assertEqual(res.returncode, 0)
        self.assertIn("glasswatchd", res.stdout)

    def test_sigterm_and_sigint_exit_0(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            if getattr(self, "daemon", None) is None:
                self.start_all()
            else:
                self.daemon = self.env.start_daemon(self.config_path)
            self.settle(n=1)
            self.daemon.signal(sig)
            self.assertEqual(self.daemon.wait(10), 0, self.daemon.log_tail())

    def test_sigterm_while_starting_is_handled_by_the_loop(self):
        # A store another process holds keeps the daemon in its start
        # (SQLite's busy timeout): a SIGTERM then must still end in a
        # clean exit 0, not in death by the signal.
        self.start_all()
        self.settle(n=1)
        self.assertEqual(self.daemon.terminate(), 0)
        holder = sqlite3.connect(self.env.db_path, timeout=5,
                                 isolation_level=None)
        try:
            holder.execute("PRAGMA locking_mode = EXCLUSIVE")
            holder.execute("BEGIN EXCLUSIVE")
            holder.execute("UPDATE cursors SET updated_us = updated_us")
            self.daemon = self.env.start_daemon(self.config_path)
            time.sleep(gwtest.scaled(1))
            self.assertTrue(self.daemon.running(), self.daemon.log_tail())
            self.assertNotIn("started:", self.daemon.output())
            self.daemon.signal(signal.SIGTERM)
            time.sleep(0.2)
        finally:
            holder.execute("COMMIT")
            holder.close()
        self.assertEqual(self.daemon.wait(10), 0, self.daemon.log_tail())
        self.assertIn("SIGTERM", self.daemon.output())

    def test_sighup_with_a_broken_file_keeps_the_old_config(self):
        self.start_all()
        self.settle(n=1)
        with open(self.config_path) as f:
            good = f.read()
        broken = good.replace('    frequency: "1s"\n',
                              '    frequency: "1s"\n    colour: "blue"\n')
        mark = len(self.daemon.output())
        self.env.write_config(broken)
        self.daemon.signal(signal.SIGHUP)
        # The log names the error, with its position.
        gwtest.wait_for(self.alive(lambda: re.search(
            r"%s:\d+:\d+: .*colour" % re.escape(self.config_path),
            self.daemon.output()[mark:])), 10,
            what="the reload error in the log", on_timeout=self.diagnostics)
        self.assertTrue(self.daemon.running())
        # The old configuration still polls and pages.
        self.sim.signin(BG1, BG1_UPN)
        self.wait_mails(1)

        # A good file is taken: the new subject shows on the next page.
        self.env.write_config(good.replace(
            "[Sev{severity}] {rule}: {upn} from {ip}",
            "[Sev{severity}] {rule} reloaded: {upn}"))
        mark = len(self.daemon.output())
        self.daemon.signal(signal.SIGHUP)
        self.daemon.wait_log("reloaded", since=mark)
        time.sleep(gwtest.scaled(0.5))
        self.sim.signin(BG2, BG2_UPN)
        mails = self.wait_mails(2)
        self.assertEqual(mails[1].subject,
                         "[Sev0] %s reloaded: %s" % (RULE, BG2_UPN))


if __name__ == "__main__":
    gwtest.main()
