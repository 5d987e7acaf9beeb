#!/usr/bin/python3
"""systemd: the notification protocol on a test NOTIFY_SOCKET (READY,
STATUS, WATCHDOG, RELOADING, STOPPING), and the unit file: verified, and
hardened to an exposure of 1.5 or lower."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
from gwtest import wait_for  # noqa: E402

UNIT = os.path.join(gwtest.SOURCE_ROOT, "systemd", "glasswatchd.service")


class NotifySocket:
    """An AF_UNIX datagram socket collecting what the daemon says."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setblocking(False)
        self.messages = []

    def drain(self):
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.messages

    def wait(self, pred, timeout, what):
        return wait_for(lambda: [m for m in self.drain() if pred(m)],
                        timeout, what=what)

    def close(self):
        self.sock.close()


class SystemdTest(gwtest.TestCase):

    def test_notify_protocol(self):
        ns = NotifySocket(self.env.path("notify.sock"))
        self.addCleanup(ns.close)
        self.sim = self.env.start_sim()
        self.smtp = self.env.start_smtp()
        self.config_path = self.env.write_config(
            self.env.config(self.sim, self.smtp))
        self.daemon = self.env.start_daemon(
            self.config_path, environ={"NOTIFY_SOCKET": ns.path,
                                       "WATCHDOG_USEC": "1000000"})
        ns.wait(lambda m: m == "READY=1", 15, "READY=1")
        ns.wait(lambda m: m.startswith("STATUS=1 tenant, 1 rule; last poll"),
                15, "a STATUS= line")
        # Pinged every half interval (0.5 s) from the loop.
        t0 = time.time()
        n0 = len([m for m in ns.drain() if m == "WATCHDOG=1"])
        time.sleep(gwtest.scaled(2))
        n1 = len([m for m in ns.drain() if m == "WATCHDOG=1"])
        if not gwtest.VALGRIND:     # memcheck slows the loop itself
            self.assertGreaterEqual(n1 - n0,
                                    int((time.time() - t0) / 0.5) - 2)
        self.assertGreater(n1 - n0, 0)

        # A valid reload: RELOADING=1 with the monotonic clock, READY=1.
        mark = len(ns.drain())
        self.daemon.signal(signal.SIGHUP)
        wait_for(lambda: "READY=1" in ns.drain()[mark + 1:], 15,
                 what="READY=1 after the reload")
        reloading = [m for m in ns.messages[mark:]
                     if m.startswith("RELOADING=1")]
        self.assertEqual(len(reloading), 1, ns.messages[mark:])
        self.assertRegex(reloading[0], r"^RELOADING=1\nMONOTONIC_USEC=\d+$")

        # An invalid file: still READY=1 after, saying the reload failed.
        with open(self.config_path, "a") as f:
            f.write("bogus_key: 1\n")
        mark = len(ns.drain())
        self.daemon.signal(signal.SIGHUP)
        failed = ns.wait(lambda m: "reload failed" in m, 15,
                         "the failed reload")
        self.assertTrue(failed[0].startswith("READY=1\nSTATUS=reload "
                                             "failed"), failed)
        self.assertTrue(self.daemon.running())

        self.daemon.signal(signal.SIGTERM)
        self.assertEqual(self.daemon.wait(), 0)
        stopping = [m for m in ns.drain() if m.startswith("STOPPING=1")]
        self.assertEqual(len(stopping), 1, ns.messages)

    def test_without_notify_socket_nothing_is_sent(self):
        # The daemon runs the same outside systemd (and says nothing).
        self.start_all()
        self.settle(n=2)
        self.assertNotIn("NOTIFY_SOCKET", self.daemon.output())
        self.assertNotIn("watchdog", self.daemon.output())

    def unit_copy(self):
        """The unit with ExecStart naming the binary under test (verify
        checks that it exists)."""
        path = self.env.path("glasswatchd.service")
        with open(UNIT) as f:
            text = f.read()
        text = re.sub(r"^ExecStart=\S+", "ExecStart=" + self.env.glasswatchd,
                      text, flags=re.M)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_unit_verifies_and_is_hardened(self):
        tool = shutil.which("systemd-analyze")
        if tool is None:
            self.skipTest("systemd-analyze is not installed")
        unit = self.unit_copy()
        r = subprocess.run([tool, "verify", "--man=no", unit],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stderr.strip(), "", r.stderr)
        r = subprocess.run([tool, "security", "--offline=true", unit],
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)",
                      r.stdout)
        self.assertIsNotNone(m, r.stdout + r.stderr)
        self.assertLessEqual(float(m.group(1)), 1.5, r.stdout)
        with open(UNIT) as f:
            text = f.read()
        for line in ("Type=notify", "WatchdogSec=", "DynamicUser=yes",
                     "StateDirectory=glasswatch",
                     "ConfigurationDirectory=glasswatch", "LoadCredential=",
                     "Restart=on-failure", "RestartPreventExitStatus=78"):
            self.assertIn(line, text)


if __name__ == "__main__":
    gwtest.main()
