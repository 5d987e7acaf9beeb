#!/usr/bin/python3
"""campaign — a seeded, bounded fault campaign against glasswatchd.

The simulated tenant (tests/sim/simtenant.py) serves break-glass and
ordinary sign-ins with random lateness, through Log Analytics and Graph;
it answers with random faults (429 with Retry-After, 5xx, stalls past
http.timeout, dropped connections, truncated and malformed bodies, revoked
tokens, a failing token endpoint, outages longer than blind_after).  The
SMTP sink and the webhook receiver go down and come back on the same port;
glasswatchd is killed with SIGKILL at random moments (some while a webhook
delivery is in flight) and restarted on the same state_dir.  When every
fault has stopped and the daemon has settled, every break-glass record
must have reached every notifier through every rule, nothing of an
ordinary user may have been sent, every other message must be a system
alert the injected faults call for, and no delivery may have failed.
Duplicates (the same alert sent again after a kill) are counted.

  GLASSWATCHD=build/daemon/glasswatchd /usr/bin/python3 \\
      tests/campaign/campaign.py [--seed N] [--kills N] [--records N]
      [--duration S] [--settle S] [--no-graph] [--keep]

The seed is printed first: the same seed replays the same schedule of
faults, records and kills (the moments follow the wall clock, so the
daemon's interleaving differs).  Exit 0 when every invariant held, 1 on a
violation (the seed is in the message), 77 when the tools are missing.
Run with /usr/bin/python3 (Debian's: it has python3-aiosmtpd).
"""

import argparse
import calendar
import json
import os
import random
import re
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
import gwtest  # noqa: E402
from gwtest import (BG1, BG1_UPN, BG2, BG2_UPN, ORDINARY,  # noqa: E402
                    ORDINARY_UPN, PYTHON, SIM_DIR, scaled)

LA_RULE = "bg-sign-in-la"
GRAPH_RULE = "bg-sign-in-graph"
NOTIFIERS = ("soc-mail", "soc-hook")
HOOK_KEY = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HTTP_TIMEOUT = 5            # http.timeout (s); a stall outlasts it
STALL = HTTP_TIMEOUT + 2
BLIND_AFTER = 20            # the tenant's blind_after (s)
HOLD = 2.5                  # a receiver holds its answer: a kill lands in it
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
                     r"[0-9a-f]{4}-[0-9a-f]{12}", re.I)
SYSTEM_RE = re.compile(r"^\[Sev(\d)\] glasswatch: (.*)$")
SEVERE_RE = re.compile(r"^\S+Z (emerg|alert|crit|error): ")


class Violation(Exception):
    pass


def http_json(url, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data,
                                 method="POST" if data else "GET",
                                 headers={"Content-Type":
                                          "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read().decode() or "null")


class HookSink:
    """tests/sim/hooksink.py on a fixed port with a record file, so it
    can go down and come back and keep what it was sent."""

    def __init__(self, env):
        self.env = env
        self.port = gwtest.free_port()
        self.record_file = env.path("hooksink-records.jsonl")
        self.log_path = env.path("hooksink.log")
        self.key_file = env.write_secret("hook-key", HOOK_KEY)
        self.proc = None
        self.control = None
        self.start()

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        ready = self.env.path("hooksink.ready")
        if os.path.exists(ready):
            os.unlink(ready)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [PYTHON, os.path.join(SIM_DIR, "hooksink.py"),
                 "--cert", self.env.cert("server.pem"),
                 "--key", self.env.cert("server.key"),
                 "--port", str(self.port), "--secret-file", self.key_file,
                 "--record-file", self.record_file, "--ready-file", ready],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        info = gwtest.wait_for(
            lambda: self.proc.poll() is None and gwtest._read_ready(ready),
            15, what="hooksink to listen", on_timeout=self.log_tail)
        self.control = "http://127.0.0.1:%d" % info["control_port"]

    def up(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is not None:
            return gwtest._stop_process(self.proc)
        return None

    def script(self, answers):
        http_json(self.control + "/script",
                  {"answers": answers, "default": 200})

    def arrived(self):
        """Requests this run of the sink has taken (answered or not)."""
        return len(http_json(self.control + "/requests"))

    def answered(self):
        """Every request any run of the sink answered, oldest first."""
        if not os.path.exists(self.record_file):
            return []
        out = []
        with open(self.record_file) as f:
            for line in f:
                if line.endswith("\n"):
                    out.append(json.loads(line))
        return out

    def log_tail(self, n=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "--- hooksink log:\n" + "".join(f.readlines()[-n:])
        except OSError:
            return ""

    @property
    def url(self):
        return "https://127.0.0.1:%d/hook" % self.port


class Campaign:
    def __init__(self, env, args):
        self.env = env
        self.args = args
        self.rng = random.Random(args.seed)
        self.graph = not args.no_graph
        self.rules = [LA_RULE] + ([GRAPH_RULE] if self.graph else [])
        self.daemon = None
        self.lives = []             # [start, end or None] per daemon process
        self.kills = 0
        self.kill_modes = {}
        self.records = []           # {"id", "bg", "upn", "visible_at", ...}
        self.faults = {}            # type -> times injected
        self.outages = []           # (path, start, end) of "until" faults
        self.violations = []
        self.timeline = []
        self.system = {}            # system alert kind -> messages
        self.mail_cache = {}
        self.active_end = self.settle_start = self.settled = None

    # -- helpers
    def note(self, what):
        t = time.time() - self.t0
        self.timeline.append("%7.2f %s" % (t, what))
        if self.args.verbose:
            print("campaign: %7.2f %s" % (t, what), flush=True)

    def count(self, kind, n=1):
        self.faults[kind] = self.faults.get(kind, 0) + n

    def violate(self, msg):
        self.violations.append(msg)

    def remaining(self):
        return self.deadline - time.monotonic()

    def bounded(self, seconds):
        """`seconds`, scaled, but never past the global deadline."""
        return max(0.0, min(scaled(seconds), self.remaining()))

    # -- set-up
    def config(self):
        env = self.env
        tenant = {"blind_after": "%ds" % BLIND_AFTER}
        if self.graph:
            tenant["endpoints"] = {"login": self.sim.url,
                                   "log_analytics": self.sim.url,
                                   "graph": self.sim.url}
            tenant["graph"] = {"lookback": "2h"}
        retry = {"initial": "1s", "max": "2s", "expire_after": "1h"}
        cfg = env.config(self.sim, self.smtp, tenant=tenant, rule={
            "name": LA_RULE, "actions": list(NOTIFIERS)},
            notifier={"retry": retry},
            top={"http": {"timeout": "%ds" % HTTP_TIMEOUT},
                 "log": {"level": "info"}})
        if self.graph:
            cfg["rules"].append(dict(cfg["rules"][0], name=GRAPH_RULE,
                                     source="graph", frequency="2s"))
        cfg["notifiers"].append({
            "name": "soc-hook", "type": "webhook", "format": "json",
            "url": self.hook.url, "secret_file": self.hook.key_file,
            "ca_file": env.cert("ca.pem"), "retry": retry})
        return cfg

    def setup(self):
        env = self.env
        self.sim = env.start_sim()
        self.smtp = env.start_smtp(start=False)
        self.hold_file = env.path("smtp-hold")
        self.smtp.extra += ["--hold-file", self.hold_file]
        self.smtp.start()
        self.hook = env._own(HookSink(env))
        self.config_path = env.write_config(self.config())
        check = env.run_daemon(["-c", self.config_path, "--check"])
        if check.returncode != 0:
            raise Violation("the campaign's config is refused:\n%s%s"
                            % (check.stdout, check.stderr))
        self.start_daemon()

    # -- the daemon
    def start_daemon(self):
        self.daemon = self.env.start_daemon(self.config_path)
        self.lives.append([time.time(), None])
        self.note("glasswatchd started (pid %d)" % self.daemon.pid)

    def daemon_check(self):
        """A daemon that exited without being killed is a violation."""
        if self.daemon is not None and not self.daemon.running():
            rc = self.daemon.proc.returncode
            self.violate("glasswatchd exited by itself with status %s\n%s"
                         % (rc, self.daemon.log_tail()))
            self.lives[-1][1] = time.time()
            self.daemon = None
            self.start_daemon()

    def kill(self, mode):
        self.daemon_check()
        if mode == "mid-hook" and self.hook.up():
            # Hold the next webhook answer, page, and kill while the
            # delivery is in flight (the receiver has the request).
            before = self.hook.arrived()
            self.hook.script([{"status": 200, "delay": HOLD}])
            self.add_record(bg=True, ingest_delay=0, event_age=5)
            end = time.monotonic() + self.bounded(10)
            while time.monotonic() < end:
                if self.hook.arrived() > before:
                    time.sleep(self.rng.uniform(0, HOLD / 2))
                    break
                time.sleep(0.05)
            else:
                mode = "mid-hook (nothing in flight)"
        elif mode == "mid-mail" and self.smtp.proc.poll() is None:
            # The same with the mail server: it stores the message and
            # holds its 250.
            before = len(self.mails())
            with open(self.hold_file, "w") as f:
                f.write("%g\n" % HOLD)
            self.add_record(bg=True, ingest_delay=0, event_age=5)
            end = time.monotonic() + self.bounded(10)
            while time.monotonic() < end:
                if len(self.mails()) > before:
                    time.sleep(self.rng.uniform(0, HOLD / 2))
                    break
                time.sleep(0.05)
            else:
                mode = "mid-mail (nothing in flight)"
            if os.path.exists(self.hold_file):
                os.unlink(self.hold_file)
        elif mode == "after-record":
            self.add_record(bg=True, ingest_delay=0,
                            event_age=self.rng.uniform(0, 60))
            time.sleep(self.rng.uniform(0.2, 2.5))
        elif mode == "at-start":
            # Right after the last restart: opening the store, putting
            # back what a crash left sending, the first polls.
            time.sleep(self.rng.uniform(0.05, 0.8))
        self.daemon_check()
        self.daemon.kill9()
        self.lives[-1][1] = time.time()
        self.kills += 1
        self.kill_modes[mode] = self.kill_modes.get(mode, 0) + 1
        self.note("SIGKILL #%d (%s)" % (self.kills, mode))
        time.sleep(self.rng.uniform(0, 2))
        self.start_daemon()

    # -- records
    def add_record(self, bg, ingest_delay, event_age):
        if bg:
            user, upn = self.rng.choice([(BG1, BG1_UPN), (BG2, BG2_UPN)])
        else:
            user, upn = ORDINARY, ORDINARY_UPN
        result = self.rng.choice(["0", "0", "50126", "50074"])
        rec = self.sim.signin(user, upn, ResultType=result,
                              IPAddress="198.51.100.%d" %
                              self.rng.randint(1, 254),
                              ingest_delay=round(ingest_delay, 2),
                              event_age=round(event_age, 2))
        self.records.append({"id": rec["id"], "bg": bg, "upn": upn,
                             "visible_at": rec["visible_at"]})
        self.note("record %s %s (late %.0fs, visible in %.1fs)"
                  % (rec["id"][:8], upn, event_age, ingest_delay))

    def random_record(self):
        bg = self.rng.random() < 0.6
        delay = self.rng.uniform(0, 20) if self.rng.random() < 0.6 else 0
        if self.rng.random() < 0.85:
            age = self.rng.uniform(0, 180)
        else:
            age = self.rng.uniform(180, 3000)     # within Graph's 2h
        self.add_record(bg, delay, age)

    def burst(self, n):
        """n sign-ins, break-glass and ordinary, in one insert."""
        users = [self.rng.choice([(BG1, BG1_UPN), (BG2, BG2_UPN),
                                  (ORDINARY, ORDINARY_UPN)])
                 for _ in range(n)]
        rows = [{"UserId": u, "UserPrincipalName": upn} for u, upn in users]
        delay = round(self.rng.uniform(0, 10), 2)
        age = round(self.rng.uniform(0, 180), 2)
        out = self.sim._call("POST", "/records", {
            "table": "SigninLogs", "rows": rows, "ingest_delay": delay,
            "event_age": age})
        for (user, upn), rec in zip(users, out["records"]):
            self.records.append({"id": rec["id"], "bg": user != ORDINARY,
                                 "upn": upn,
                                 "visible_at": rec["visible_at"]})
        self.note("burst of %d records (late %.0fs, visible in %.1fs)"
                  % (n, age, delay))

    # -- faults of the tenant
    def source_path(self):
        return "graph" if self.graph and self.rng.random() < 0.35 \
            else "query"

    def fault(self, avoid=None):
        """One random fault; none on source `avoid` (the one in its
        long outage, so that it reads again as soon as that ends)."""
        kinds = ["429", "5xx", "stall", "truncated", "malformed", "drop"]
        if avoid is None:
            kinds += ["token-expiry", "token-endpoint", "short-outage"]
        kind = self.rng.choice(kinds)
        path = self.source_path()
        if avoid is not None:
            if not self.graph:
                return
            path = "graph" if avoid == "query" else "query"
        spec = None
        if kind == "429":
            spec = {"status": 429, "retry_after": self.rng.randint(1, 3),
                    "count": self.rng.randint(1, 2)}
        elif kind == "5xx":
            spec = {"status": self.rng.choice([500, 502, 503, 504]),
                    "count": self.rng.randint(1, 3)}
        elif kind == "stall":
            spec = {"kind": "delay", "delay": STALL}
        elif kind in ("truncated", "malformed", "drop"):
            spec = {"kind": kind, "count": self.rng.randint(1, 2)}
        elif kind == "token-expiry":
            status = self.rng.choice([401, 403])
            self.sim.settings(expired_token_status=status)
            self.sim.expire_tokens()
            self.count("token-expiry")
            self.note("tokens revoked (queries answer %d)" % status)
            return
        elif kind == "token-endpoint":
            self.sim.fault(path="token", status=self.rng.choice([503, 429]),
                           retry_after=1, count=self.rng.randint(1, 2))
            self.sim.expire_tokens()
            self.count("token-endpoint")
            self.note("token endpoint fails, tokens revoked")
            return
        elif kind == "short-outage":
            self.outage(path, self.rng.uniform(3, 10))
            return
        spec["path"] = path
        self.sim.fault(**spec)
        self.count(kind)
        self.note("fault %s on %s: %s" % (kind, path, spec))

    def outage(self, path, seconds, kind="short-outage"):
        start = time.time()
        self.sim.fault(path=path, status=503, until=start + seconds)
        self.outages.append((path, start, start + seconds))
        self.count(kind)
        self.note("%s of %s for %.0fs" % (kind, path, seconds))

    # -- receivers
    def sink_down(self, which, seconds):
        sink = self.smtp if which == "smtp" else self.hook
        sink.stop()
        self.count(which + "-down")
        self.note("%s down for %.0fs" % (which, seconds))
        return time.monotonic() + seconds

    def sink_up(self, which):
        sink = self.smtp if which == "smtp" else self.hook
        if not (sink.proc is not None and sink.proc.poll() is None):
            sink.start()
            self.note("%s up" % which)

    def hook_refuses(self):
        answers = self.rng.choice([[{"status": 500}],
                                   [{"status": 503}, {"status": 502}],
                                   [{"status": 429, "retry_after": 1}]])
        if self.hook.up():
            self.hook.script(answers)
            self.count("hook-5xx/429")
            self.note("hook answers %s" % [a["status"] for a in answers])

    # -- the schedule
    def schedule(self):
        """(offset, action, argument), drawn from the seed only."""
        d = self.args.duration
        rng = self.rng
        events = []
        # Outages longer than blind_after: one per 150 s of run.  No kill
        # falls in the first one or just after it, so that a daemon lives
        # through it and must say the source is blind, then restored.
        quiet = None
        for i in range(max(1, int(d / 150))):
            start = rng.uniform(5, max(6, d - BLIND_AFTER - 25))
            length = rng.uniform(BLIND_AFTER + 12, BLIND_AFTER + 18)
            path = "query" if not self.graph or rng.random() < 0.5 \
                else "graph"
            events.append((start, "long-outage", (path, length)))
            if quiet is None:
                quiet = (start - 12, start + length + 10, path)
        # Kills: spread over the run, at least 2 s apart.
        times = sorted(rng.uniform(3, d - 3) for _ in range(self.args.kills))
        last = 0.0
        for t in times:
            mode = rng.choice(["random", "random", "after-record",
                               "mid-hook", "mid-mail", "at-start"])
            # at-start follows the previous kill's restart at once.
            t = last if mode == "at-start" and last > 0 else \
                max(t, last + 2.0)
            if quiet[0] <= t <= quiet[1]:
                t = quiet[1] + rng.uniform(0, 2)
            last = t
            events.append((t, "kill", mode))
        # Records, the last ones visible well before the settle phase;
        # now and then a burst of them in one go.
        n = self.args.records
        while n > 0:
            burst = rng.randint(5, 15) if rng.random() < 0.05 else 1
            burst = min(burst, n)
            n -= burst
            events.append((rng.uniform(1, max(2, d - 25)), "record", burst))
        # Tenant faults, about one every 3 s.
        for _ in range(max(3, int(d / 3))):
            t = rng.uniform(2, d - 5)
            # None queued behind the first long outage: when it ends the
            # source reads again at once.
            events.append((t, "fault", quiet[2] if quiet[0] <= t <= quiet[1]
                           else None))
        # Receivers down and back, each on its own, one in 25 s.
        for which in ("smtp", "hook"):
            t = rng.uniform(3, 20)
            while t < d - 10:
                down = rng.uniform(2, 12)
                events.append((t, "down", (which, down)))
                t += down + rng.uniform(8, 30)
        for _ in range(max(1, int(d / 20))):
            events.append((rng.uniform(2, d - 5), "hook-refuses", None))
        events.sort(key=lambda e: e[0])
        return events

    def active(self):
        events = self.schedule()
        start = time.monotonic()
        ups = {}                    # sink -> monotonic time to come back
        for offset, action, arg in events:
            while True:
                now = time.monotonic()
                for which, when in list(ups.items()):
                    if now >= when:
                        self.sink_up(which)
                        del ups[which]
                wait = start + offset * self.args.scale - now
                if wait <= 0:
                    break
                if self.remaining() < self.settle_reserve:
                    raise Violation("the active phase ran out of time")
                time.sleep(min(wait, 0.25))
            self.daemon_check()
            if action == "kill":
                self.kill(arg)
            elif action == "record" and arg == 1:
                self.random_record()
            elif action == "record":
                self.burst(arg)
            elif action == "fault":
                self.fault(arg)
            elif action == "long-outage":
                self.outage(arg[0], arg[1], "long-outage")
            elif action == "down":
                which, seconds = arg
                if which not in ups:
                    ups[which] = self.sink_down(which, seconds)
            elif action == "hook-refuses":
                self.hook_refuses()
        for which in list(ups):
            self.sink_up(which)
        self.active_end = time.time()

    # -- the end
    def mails(self):
        """The sink's mails, each parsed once (a long run has many)."""
        names = sorted(n for n in os.listdir(self.smtp.maildir)
                       if n.endswith(".eml"))
        for n in names:
            if n not in self.mail_cache:
                self.mail_cache[n] = gwtest.Mail(
                    os.path.join(self.smtp.maildir, n))
        return [self.mail_cache[n] for n in names]

    def delivered(self):
        """(rule, notifier, record id) -> alert ids that carried it, as
        received: mails accepted by the sink, webhooks answered 2xx."""
        got = {}
        others = []                 # (notifier, alert id, title, text)
        known = {r["id"].lower() for r in self.records}
        for m in self.mails():
            aid = str(m["X-Glasswatch-Alert-Id"] or "")
            sysm = SYSTEM_RE.match(m.subject)
            if sysm:
                others.append(("soc-mail", aid, sysm.group(2), m.subject))
                continue
            rule = next((r for r in self.rules if r in m.subject), None)
            if rule is None:
                others.append(("soc-mail", aid, None, m.subject))
                continue
            # The body's GUIDs that are records of this campaign (the
            # accounts', tenant's and correlation ids are not).
            ids = {i.lower() for i in UUID_RE.findall(m.body)} & known
            for rid in ids:
                got.setdefault((rule, "soc-mail", rid.lower()),
                               []).append(aid)
        for r in self.hook.answered():
            if not 200 <= r["status"] < 300:
                continue
            j = r["json"] or {}
            aid = j.get("id", "")
            if j.get("kind") == "system":
                title = SYSTEM_RE.match(j.get("summary") or "")
                others.append(("soc-hook", aid, title.group(2)
                               if title else j.get("summary"),
                               j.get("summary")))
                continue
            if j.get("kind") != "event" or j.get("rule") not in self.rules:
                others.append(("soc-hook", aid, None, r["body"][:200]))
                continue
            for rec in j.get("records") or []:
                got.setdefault((j["rule"], "soc-hook",
                                (rec.get("id") or "").lower()),
                               []).append(aid)
        return got, others

    def missing(self):
        got, _ = self.delivered()
        out = []
        for rec in self.records:
            if not rec["bg"]:
                continue
            for rule in self.rules:
                for n in NOTIFIERS:
                    if (rule, n, rec["id"].lower()) not in got:
                        out.append((rule, n, rec["id"]))
        return out

    def unsettled(self):
        return [d for d in self.env.deliveries()
                if d["state"] in ("pending", "sending")]

    def settle(self):
        cleared = self.sim._call("POST", "/clear-faults", {})["cleared"]
        self.note("faults stopped (%d queued faults dropped)" % cleared)
        for which in ("smtp", "hook"):
            self.sink_up(which)
        self.hook.script([])
        self.daemon_check()
        self.settle_start = time.time()
        end = time.monotonic() + self.bounded(self.args.settle)
        while time.monotonic() < end:
            self.daemon_check()
            if not self.missing() and not self.unsettled():
                break
            time.sleep(1)
        # A few more polls and longer than retry.max: anything late shows.
        t = time.time()
        gwtest.wait_for(lambda: len(self.sim.queries_after(t)) >= 3,
                        max(1, self.bounded(20)), what="3 quiet polls")
        time.sleep(self.bounded(3))
        self.daemon_check()
        self.settled = time.time()
        rc = self.daemon.terminate(timeout=30)
        self.lives[-1][1] = time.time()
        if rc != 0:
            self.violate("glasswatchd exited %s on SIGTERM\n%s"
                         % (rc, self.daemon.log_tail()))
        self.daemon = None

    # -- the verdict
    def source_requests(self, path):
        """The sim's answers to one source's polls (not the pipeline
        check), oldest first: (t, clean) where clean = a plain 200."""
        kind = "graph" if path == "graph" else "query"
        out = []
        for r in self.sim.requests(kind):
            if kind == "query" and "| take 1 |" in (r.get("query") or ""):
                continue
            out.append((r["t"], r["status"] == 200 and not r["fault"]))
        return out

    def blind_justified(self, key, since, created):
        """A blind alert: the source's polls between `since` (when the
        daemon says it first failed) and the alert were all failures."""
        path = "graph" if "/graph/" in key else "query"
        slack = 2.0
        clean = [t for t, ok in self.source_requests(path)
                 if ok and since + 1 + slack < t < created - slack]
        return not clean, clean

    def verify(self):
        got, others = self.delivered()
        bg = {r["id"].lower() for r in self.records if r["bg"]}
        ordinary = {r["id"].lower() for r in self.records if not r["bg"]}

        for rule, n, rid in self.missing():
            self.violate("break-glass record %s was never delivered by "
                         "rule %s to %s" % (rid, rule, n))
        for (rule, n, rid), aids in got.items():
            if rid in ordinary:
                self.violate("ordinary user's record %s was delivered "
                             "(rule %s, %s, alerts %s)" % (rid, rule, n,
                                                          sorted(aids)))
            elif rid not in bg and n == "soc-hook":
                self.violate("unknown record %s delivered by %s to %s"
                             % (rid, rule, n))
        # Every ordinary id anywhere in what was sent, not only records.
        blobs = [m.raw.decode("utf-8", "replace") for m in self.mails()]
        blobs += [r["body"] for r in self.hook.answered()]
        for rid in ordinary:
            if any(rid in b.lower() for b in blobs):
                self.violate("ordinary user's record %s appears in a "
                             "delivered message" % rid)
        # One alert per (rule, record): a record re-alerted after a kill
        # would page twice under a new id.
        per_record = {}
        for (rule, n, rid), aids in got.items():
            per_record.setdefault((rule, rid), set()).update(aids)
        for (rule, rid), aids in per_record.items():
            if len(aids) > 1:
                self.violate("record %s was alerted %d times by %s: %s"
                             % (rid, len(aids), rule, sorted(aids)))

        # System alerts: only blind/restored, each justified.
        alerts = {a["id"]: a for a in self.env.db(
            "SELECT id, kind, subject, description, created_us "
            "FROM alerts")}
        blind = {}                  # key -> [created]
        checked = set()             # blind alerts checked (one per id)
        self.system = {}
        for n, aid, title, text in others:
            a = alerts.get(aid)
            if title is None or a is None or a["kind"] != "system":
                self.violate("%s got a message that is neither a rule "
                             "alert nor a system alert: %s" % (n, text))
                continue
            what = title.split(":")[0]
            self.system[what] = self.system.get(what, 0) + 1
            key = title.split(": ", 1)[1] if ": " in title else ""
            created = a["created_us"] / 1e6
            if what == "monitoring blind" and aid in checked:
                blind.setdefault(key, []).append(created)
            elif what == "monitoring blind":
                checked.add(aid)
                m = re.search(r"has not read \S+ since (\S+) \(",
                              a["description"] or "")
                if m is None:
                    self.violate("blind alert %s without a since time: %s"
                                 % (aid, a["description"]))
                    continue
                since = calendar.timegm(time.strptime(
                    m.group(1).rstrip("Z"), "%Y-%m-%dT%H:%M:%S"))
                if created - since < BLIND_AFTER - 1:
                    self.violate("blind alert %s for %s after %.1fs of "
                                 "failures, before blind_after (%ds)"
                                 % (aid, key, created - since, BLIND_AFTER))
                ok, clean = self.blind_justified(key, since, created)
                if not ok:
                    self.violate("blind alert %s for %s since %s is not "
                                 "justified: the source answered cleanly "
                                 "at %s" % (aid, key, m.group(1), clean))
                blind.setdefault(key, []).append(created)
            elif what == "monitoring restored":
                pass                # checked below, once blind is known
            else:
                self.violate("unexpected system alert to %s: %s"
                             % (n, text))
        for n, aid, title, text in others:
            if title and title.startswith("monitoring restored: "):
                key = title.split(": ", 1)[1]
                created = alerts[aid]["created_us"] / 1e6
                if not any(b <= created for b in blind.get(key, [])):
                    self.violate("restored alert %s for %s without a "
                                 "blind alert before it" % (aid, key))
        # A daemon that said "blind" and then read cleanly must say
        # "restored" (unless it was killed before it could).
        restored = {}
        for n, aid, title, text in others:
            if title and title.startswith("monitoring restored: "):
                restored.setdefault(title.split(": ", 1)[1], []).append(
                    alerts[aid]["created_us"] / 1e6)
        for key, created_list in blind.items():
            path = "graph" if "/graph/" in key else "query"
            for created in set(created_list):
                life = next((lv for lv in self.lives if lv[0] <= created and
                             (lv[1] is None or created <= lv[1])), None)
                ok_at = next((t for t, ok in self.source_requests(path)
                              if ok and t > created), None)
                if life is None or ok_at is None or life[1] is None or \
                        life[1] < ok_at + 7 * gwtest.SCALE:
                    continue
                if not any(ok_at - 1 <= r <= life[1]
                           for r in restored.get(key, [])):
                    self.violate("%s read cleanly at %.0fs after its blind "
                                 "alert, the daemon ran on till %.0fs, "
                                 "but no restored alert came"
                                 % (key, ok_at - self.t0,
                                    life[1] - self.t0))
        # An outage a single daemon lived through well past blind_after
        # must have been reported.
        for path, start, end in self.outages:
            if end - start < BLIND_AFTER + 10 * gwtest.SCALE:
                continue
            lived = any(s <= start and e is not None and e >= end
                        for s, e in self.lives)
            if not lived:
                continue
            sig = "/graph/" if path == "graph" else "/log_analytics/"
            # The source may already have been failing (faults in a
            # row) when the outage began: its blind alert came earlier.
            if not any(sig in k and any(start - 3 * BLIND_AFTER <= c <=
                                        end + 5 for c in v)
                       for k, v in blind.items()):
                self.violate("outage of %s %.0f-%.0fs (%.0fs) raised no "
                             "blind alert" % (path, start - self.t0,
                                              end - self.t0, end - start))
        for d in self.env.deliveries():
            if d["state"] not in ("delivered",):
                self.violate("delivery %s/%s ended %s: %s"
                             % (d["alert_id"], d["notifier"], d["state"],
                                d["last_error"]))
        for line in self.env.sanitizer_reports():
            self.violate("sanitizer: " + line)
        # The daemon's own alarms: only the blind sources it reported.
        for p in self.env.processes:
            if not isinstance(p, gwtest.Daemon):
                continue
            for line in p.output().splitlines():
                if SEVERE_RE.search(line) and "is blind since" not in line:
                    self.violate("%s: %s" % (os.path.basename(p.log_path),
                                             line))
        return got

    def duplicates(self, got):
        """Per notifier: rule-record pairs received more than once, and
        the extra copies."""
        out = {}
        for (rule, n, rid), aids in got.items():
            extra = len(aids) - 1
            pairs, copies = out.get(n, (0, 0))
            if extra > 0:
                out[n] = (pairs + 1, copies + extra)
            else:
                out[n] = (pairs, copies)
        return out

    def report(self, got):
        served = {}
        for kind in ("query", "graph", "token"):
            for r in self.sim.requests(kind):
                if r["fault"]:
                    k = "%s:%s" % (kind, r["fault"] if r["fault"] !=
                                   "status" else r["status"])
                    served[k] = served.get(k, 0) + 1
        per_n = {n: 0 for n in NOTIFIERS}
        per_n["soc-mail"] = len(self.mails())
        per_n["soc-hook"] = len([r for r in self.hook.answered()
                                 if 200 <= r["status"] < 300])
        dups = self.duplicates(got)
        bg = sum(1 for r in self.records if r["bg"])
        lines = [
            "fault campaign summary",
            "  seed              %d" % self.args.seed,
            "  sources           %s" % ("log_analytics + graph"
                                        if self.graph else "log_analytics"),
            "  kills             %d  (%s)" % (self.kills, ", ".join(
                "%s %d" % kv for kv in sorted(self.kill_modes.items()))),
            "  records           %d  (break-glass %d, ordinary %d)"
            % (len(self.records), bg, len(self.records) - bg),
            "  faults injected   %s" % ", ".join(
                "%s %d" % kv for kv in sorted(self.faults.items())),
            "  faults served     %s" % ", ".join(
                "%s %d" % kv for kv in sorted(served.items())),
            "  system alerts     %s" % (", ".join(
                "%s %d" % kv for kv in sorted(self.system.items()))
                or "none"),
        ]
        for n in NOTIFIERS:
            pairs, copies = dups.get(n, (0, 0))
            lines.append("  %-17s %d messages, %d duplicate copies "
                         "(%d rule-record pairs sent more than once)"
                         % (n, per_n[n], copies, pairs))
        lines += [
            "  elapsed           %.0fs (active %.0fs, settle %.0fs)"
            % (time.time() - self.t0, self.active_end - self.t0,
               self.settled - self.settle_start),
            "  violations        %d" % len(self.violations),
        ]
        print("\n".join(lines), flush=True)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int,
                    help="the random seed (default: a random one, printed)")
    ap.add_argument("--kills", type=int, default=10,
                    help="SIGKILLs of glasswatchd (default 10)")
    ap.add_argument("--records", type=int,
                    help="sign-ins inserted (default: 3 per kill, "
                         "at least 20)")
    ap.add_argument("--duration", type=float,
                    help="seconds of faults (default: 4 per kill, at "
                         "least 60)")
    ap.add_argument("--settle", type=float, default=120,
                    help="at most this long (scaled) for everything to "
                         "be delivered after the faults stop (default 120)")
    ap.add_argument("--no-graph", action="store_true",
                    help="Log Analytics only")
    ap.add_argument("--keep", action="store_true",
                    help="keep the temp dir even on success")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print each step as it happens")
    args = ap.parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2 ** 31)
    if args.kills < 0:
        ap.error("--kills must not be negative")
    if args.records is None:
        args.records = max(20, 3 * args.kills)
    if args.duration is None:
        args.duration = max(60.0, 4.0 * args.kills)
    if args.duration < 40:
        ap.error("--duration must be at least 40 s")
    # On a slow build (GW_TIMEOUT_SCALE) the schedule stretches alike.
    args.scale = gwtest.SCALE
    return args


def main(argv=None):
    args = parse_args(argv)
    print("campaign: seed %d (replay: --seed %d --kills %d --records %d "
          "--duration %g%s)" % (args.seed, args.seed, args.kills,
                                args.records, args.duration,
                                " --no-graph" if args.no_graph else ""),
          flush=True)
    why = gwtest.prerequisites()
    if why is not None:
        print("SKIP: %s" % why)
        return gwtest.EXIT_SKIP
    env = gwtest.Env()
    c = Campaign(env, args)
    c.t0 = time.time()
    c.settle_reserve = scaled(args.settle) + scaled(60)
    c.deadline = time.monotonic() + args.duration * args.scale + \
        c.settle_reserve + scaled(60)
    failed = True
    try:
        c.setup()
        c.active()
        c.settle()
        got = c.verify()
        c.report(got)
        failed = bool(c.violations)
    except (Violation, AssertionError) as e:
        c.violate(str(e))
    finally:
        env.stop_daemons()
        if failed:
            print("--- timeline:\n" + "\n".join(c.timeline[-60:]),
                  file=sys.stderr)
            for p in env.processes:
                tail = getattr(p, "log_tail", None)
                if tail is not None:
                    print(tail(), file=sys.stderr)
        env.cleanup(keep=failed or args.keep)
    if c.violations:
        for v in c.violations:
            print("VIOLATION (seed %d): %s" % (args.seed, v),
                  file=sys.stderr)
        print("campaign: FAILED, %d violation(s); replay with --seed %d"
              % (len(c.violations), args.seed), file=sys.stderr)
        return 1
    print("campaign: OK (seed %d)" % args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
