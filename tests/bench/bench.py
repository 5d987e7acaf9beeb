#!/usr/bin/python3
"""bench — glasswatch's benchmarks (README "Benchmarks"); run by
tests/bench/run.sh, which builds build-bench/ and sets the environment:

  GLASSWATCHD        the daemon (release build)
  GW_BENCH_BACKFILL  build-bench/tests/bench/gw-bench-backfill
  GW_BENCH_QUICK=1   fewer records, cycles and seconds (a smoke run)

Every figure comes from real processes: the daemon against the simulated
tenant (tests/sim/simtenant.py) or many tenants (multigraph.py), mail to
the SMTP sink (tests/sim/smtpsink.py).  Daemon CPU is utime + stime from
/proc/PID/stat, memory VmRSS and VmHWM from /proc/PID/status; TLS
handshakes are counted by the servers.  Prints one table.
"""

import json
import os
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "sim"))

import gwtest                                   # noqa: E402
from gwtest import BG1, BG1_UPN, BG2, BG2_UPN   # noqa: E402

QUICK = os.environ.get("GW_BENCH_QUICK") == "1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024


# --------------------------------------------------------------------------
# Measuring a process.

def proc_cpu(pid):
    """utime + stime of the process (all its threads), in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_mem(pid):
    """(VmRSS, VmHWM) in bytes."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
    return out["VmRSS"], out["VmHWM"]


def proc_private(pid):
    """(Pss, Private_Clean + Private_Dirty) in bytes: VmRSS also counts
    the shared libraries' pages that every process using them shares."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Pss", "Private_Clean", "Private_Dirty"):
                out[k] = int(v.split()[0]) * 1024
    return out["Pss"], out["Private_Clean"] + out["Private_Dirty"]


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "%d CPUs, %s" % (os.cpu_count(), model)


class LoadSampler(threading.Thread):
    """The 1-minute load average every 10 s while the benchmarks run."""

    def __init__(self):
        super().__init__(daemon=True)
        self.samples = [loadavg()]
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(10):
            self.samples.append(loadavg())


# --------------------------------------------------------------------------
# Configurations.

RULE_NAMES = ("bg-sign-in", "bg-non-interactive", "bg-audit", "bg-failures")


def four_rules(source, frequency):
    """1 tenant's worth of rules: every sign-in, every non-interactive
    sign-in, every audit event of the accounts, and a failure burst."""
    common = {"source": source, "period": "10m", "frequency": frequency,
              "severity": 0, "actions": ["soc-mail"],
              "subject": "[Sev{severity}] {rule}: {upn} {alert_id}"}
    rules = []
    for name, signal, match, thr in (
            (RULE_NAMES[0], "sign_in", "any", 0),
            (RULE_NAMES[1], "non_interactive_sign_in", "any", 0),
            (RULE_NAMES[2], "audit", None, 0),
            (RULE_NAMES[3], "sign_in", "failure", 5)):
        r = dict(common, name=name, signal=signal,
                 threshold={"operator": "gt", "value": thr})
        if match is not None:
            r["match"] = {"result": match}
        rules.append(r)
    return rules


def la_config(env, sim, smtp, frequency):
    cfg = env.config(sim, smtp)
    cfg["log"] = {"level": "info"}
    cfg["rules"] = four_rules("log_analytics", frequency)
    return cfg


# --------------------------------------------------------------------------
# Detection latency: record visible in the sim -> mail accepted by the sink.

def latency(frequency, n, results, key):
    env = gwtest.Env()
    try:
        sim = env.start_sim()
        smtp = env.start_smtp()
        path = env.write_config(la_config(env, sim, smtp, "%ds" % frequency))
        d = env.start_daemon(path)
        # First poll done: from here every record is a steady-state one.
        gwtest.wait_for(lambda: sim.stats()["queries_ok"] >= 1, 30,
                        what="the first poll", on_timeout=d.log_tail)
        lat = []
        seen = set()
        for _ in range(n):
            # A random phase against the poll schedule.
            time.sleep(random.uniform(0, frequency))
            rec = sim.signin()
            visible = rec["visible_at"]

            def mail():
                for m in smtp.rule_mails(RULE_NAMES[0]):
                    if m.path not in seen and rec["id"] in \
                            m.raw.decode("utf-8", "replace"):
                        return m
                return None
            m = gwtest.wait_for(mail, frequency + 30, interval=0.05,
                                what="the mail of %s" % rec["id"],
                                on_timeout=d.log_tail)
            seen.add(m.path)
            lat.append(m.meta["received"] - visible)
        results[key] = lat
    except Exception as e:              # reported in the table
        results[key] = e
    finally:
        env.cleanup(keep=isinstance(results.get(key), Exception))


def percentile(values, p):
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(round(p / 100 * len(v) + 0.5)) - 1))
    return v[k]


# --------------------------------------------------------------------------
# CPU per poll cycle and memory: 1 tenant, 2 accounts, 4 rules.

def cycles(n, results):
    env = gwtest.Env()
    try:
        sim = env.start_sim()
        smtp = env.start_smtp()
        path = env.write_config(la_config(env, sim, smtp, "1s"))
        d = env.start_daemon(path)
        # Warm up: token, first connection, first polls.
        gwtest.wait_for(lambda: sim.stats()["queries_ok"] >= 5, 30,
                        what="5 polls", on_timeout=d.log_tail)
        s0 = sim.stats()
        c0 = proc_cpu(d.pid)
        gwtest.wait_for(lambda: sim.stats()["queries_ok"] >=
                        s0["queries_ok"] + n, n * 3 + 30, interval=0.1,
                        what="%d polls" % n, on_timeout=d.log_tail)
        c1 = proc_cpu(d.pid)
        s1 = sim.stats()
        rss, hwm = proc_mem(d.pid)
        pss, private = proc_private(d.pid)
        polls = s1["queries_ok"] - s0["queries_ok"]
        results["cycles"] = {
            "polls": polls, "cpu": c1 - c0,
            "handshakes": s1["tls_handshakes"] - s0["tls_handshakes"],
            "startup_cpu": c0, "startup_polls": s0["queries_ok"],
            "startup_handshakes": s0["tls_handshakes"],
            "rss": rss, "hwm": hwm, "pss": pss, "private": private,
            "sim": env, "simtenant": sim,
            "smtp": smtp}
        d.terminate()
    except Exception as e:
        results["cycles"] = e
        env.cleanup(keep=True)


# --------------------------------------------------------------------------
# The cron-style script, same sim, same job, every cycle.

def cron(n, results):
    c = results.get("cycles")
    if not isinstance(c, dict):
        results["cron"] = RuntimeError("needs the cycle benchmark's sim")
        return
    env, sim, smtp = c["sim"], c["simtenant"], c["smtp"]
    try:
        # One break-glass sign-in for the script to find and mail once,
        # as the daemon did not see it (it is stopped).
        sim.signin()
        environ = dict(os.environ, GW_LOGIN=sim.url,
                       GW_TENANT_ID=gwtest.TENANT_ID,
                       GW_CLIENT_ID=gwtest.CLIENT_ID,
                       GW_SECRET_FILE=env.client_secret_file, GW_LA=sim.url,
                       GW_WORKSPACE=gwtest.WORKSPACE_ID,
                       GW_IDS="%s %s" % (BG1, BG2),
                       GW_STATE=env.path("cron.state"), GW_SMTP=smtp.url,
                       GW_FROM=gwtest.MAIL_FROM, GW_TO=gwtest.MAIL_TO,
                       GW_CA=env.cert("ca.pem"))
        script = os.path.join(HERE, "cron-baseline.sh")
        mails0 = len(smtp.mails())
        runs = []
        for i in range(n):
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(["sh", script], env=environ, check=True,
                           timeout=60, stdin=subprocess.DEVNULL)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            runs.append((r1.ru_utime - r0.ru_utime) +
                        (r1.ru_stime - r0.ru_stime))
        results["cron"] = {"runs": runs,
                           "mails": len(smtp.mails()) - mails0}
    except Exception as e:
        results["cron"] = e
    finally:
        env.cleanup(keep=isinstance(results.get("cron"), Exception))


# --------------------------------------------------------------------------
# 1,000 tenants x 4 accounts at 60 s through Graph, one app per tenant.

def many(ntenants, seconds, results):
    env = gwtest.Env()
    proc = None
    try:
        apps, tenants = {}, []
        for i in range(ntenants):
            tid, cid = str(uuid.uuid4()), str(uuid.uuid4())
            secret = "gw~Bench.%s" % uuid.uuid4().hex
            apps[tid] = [cid, secret]
            sfile = env.write_secret("secret-%04d" % i, secret)
            tenants.append((i, tid, cid, sfile))
        with open(env.path("apps.json"), "w") as f:
            json.dump(apps, f)
        ready = env.path("multigraph.ready")
        log = open(env.path("multigraph.log"), "ab")
        proc = subprocess.Popen(
            [gwtest.PYTHON, os.path.join(HERE, "multigraph.py"),
             "--cert", env.cert("server.pem"), "--key",
             env.cert("server.key"), "--apps", env.path("apps.json"),
             "--ready-file", ready], stdout=log, stderr=log,
            stdin=subprocess.DEVNULL)
        info = gwtest.wait_for(lambda: os.path.exists(ready) and
                               json.load(open(ready)), 15,
                               what="multigraph")
        url = "https://127.0.0.1:%d" % info["port"]

        def stats():
            import urllib.request
            with urllib.request.urlopen("http://127.0.0.1:%d/stats"
                                        % info["control_port"],
                                        timeout=10) as r:
                return json.loads(r.read().decode())

        smtp = env.start_smtp()
        cfg = {
            "state_dir": env.state_dir,
            "log": {"level": "info"},
            "tenants": [{
                "name": "t%04d" % i, "tenant_id": tid, "cloud": "custom",
                "endpoints": {"login": url, "graph": url},
                "ca_file": env.cert("ca.pem"),
                "credentials": {"client_id": cid,
                                "client_secret_file": sfile},
                "graph": {"lookback": "2h"},
                "break_glass": [{"object_id": str(uuid.uuid4()),
                                 "upn": "bg%d@t%04d.example" % (k, i)}
                                for k in range(4)],
            } for i, tid, cid, sfile in tenants],
            "rules": four_rules("graph", "60s"),
            "notifiers": [{"name": "soc-mail", "type": "email",
                           "url": smtp.url, "tls": "none",
                           "from": gwtest.MAIL_FROM,
                           "to": [gwtest.MAIL_TO]}],
        }
        path = env.write_config(cfg)
        t_start = time.monotonic()
        d = env.start_daemon(path)
        # Startup: every tenant's token and first round of requests (3
        # signals each), then a little more so stragglers are done.
        gwtest.wait_for(lambda: d.running() and
                        stats().get("graph", 0) >= 3 * ntenants, 240,
                        interval=1, what="the first round",
                        on_timeout=d.log_tail)
        startup = time.monotonic() - t_start
        startup_cpu = proc_cpu(d.pid)
        time.sleep(10)
        s0, c0, w0 = stats(), proc_cpu(d.pid), time.monotonic()
        time.sleep(seconds)
        s1, c1, w1 = stats(), proc_cpu(d.pid), time.monotonic()
        rss, hwm = proc_mem(d.pid)
        results["many"] = {
            "tenants": ntenants, "wall": w1 - w0, "cpu": c1 - c0,
            "requests": s1.get("graph", 0) - s0.get("graph", 0),
            "handshakes": s1.get("tls_handshakes", 0) -
            s0.get("tls_handshakes", 0),
            "over_budget": s1.get("over_budget", 0),
            "refused": s1.get("token_refused", 0),
            "startup": startup, "startup_cpu": startup_cpu,
            "rss": rss, "hwm": hwm}
        d.terminate(30)
    except Exception as e:
        results["many"] = e
    finally:
        if proc is not None:
            gwtest._stop_process(proc)
        env.cleanup(keep=isinstance(results.get("many"), Exception))


# --------------------------------------------------------------------------
# A 100,000-record backfill: parsed, stored and evaluated.

def backfill_response(request, path, n):
    """A Log Analytics answer to the daemon's first query holding n
    break-glass sign-ins spread over the lookback: a few template rows go
    through the simulated tenant's own KQL engine and table renderer (the
    real shape and cells), then are repeated with fresh ids and times."""
    import argparse
    import simtenant
    ns = argparse.Namespace(tenant_id=gwtest.TENANT_ID,
                            client_id=gwtest.CLIENT_ID,
                            workspace_id=gwtest.WORKSPACE_ID,
                            client_cert=None, client_secret_file=None,
                            token_ttl=3599, imds_client_id=None)
    sim = simtenant.Sim(ns)
    try:
        rows = []
        for k in range(20):
            user, upn = (BG1, BG1_UPN) if k % 2 else (BG2, BG2_UPN)
            row = {"UserId": user, "UserPrincipalName": upn}
            if k % 4 == 3:
                row["ResultType"] = "50126"
            rows.append(row)
        sim.add_records({"rows": rows, "ingest_delay": -5})
        now = simtenant.now_ticks()
        lo, hi = simtenant.parse_timespan_param(request["timespan"], now)
        tables = {name: (schema, [r for r in rs
                                  if lo <= r["TimeGenerated"] <= hi])
                  for name, (schema, rs) in sim.visible_tables(now).items()}
        schema, out = simtenant.run_kql(request["query"], tables, now)
        table = simtenant.render_table(schema, out, sim.settings)
    finally:
        import shutil
        shutil.rmtree(sim.workdir, ignore_errors=True)
    cols = {c["name"]: i for i, c in enumerate(table["columns"])}
    templates = [r for r in table["rows"]
                 if r[cols["UserId"]] in (BG1, BG2)]
    if not templates:
        raise RuntimeError("the daemon's query found no template row")
    span = (hi - lo) // simtenant.TICKS_PER_SEC - 120
    t0 = now // simtenant.TICKS_PER_SEC - span
    with open(path, "w") as f:
        f.write('{"tables": [{"name": "PrimaryResult", "columns": ')
        f.write(json.dumps(table["columns"]))
        f.write(', "rows": [')
        for i in range(n):
            r = list(templates[i % len(templates)])
            when = simtenant.format_ticks(
                (t0 + span * i // n) * simtenant.TICKS_PER_SEC + i % 9973)
            for c in ("Id", "CorrelationId", "OriginalRequestId"):
                if c in cols:
                    r[cols[c]] = str(uuid.uuid4())
            for c in ("TimeGenerated", "CreatedDateTime"):
                if c in cols:
                    r[cols[c]] = when
            f.write(("," if i else "") + json.dumps(r))
        f.write("]}]}")


def backfill(n, results):
    env = gwtest.Env()
    try:
        prog = os.environ["GW_BENCH_BACKFILL"]
        cfg = la_config(env, type("S", (), {"url": "https://127.0.0.1:1"}),
                        None, "1m")
        path = env.write_config(cfg)
        req = subprocess.run([prog, "--request", path], check=True,
                             capture_output=True, text=True, timeout=30)
        resp = env.path("backfill.json")
        t0 = time.monotonic()
        backfill_response(json.loads(req.stdout), resp, n)
        print("bench: backfill: the %d-record answer written in %.0f s"
              % (n, time.monotonic() - t0), file=sys.stderr)
        r = subprocess.run([prog, path, resp], capture_output=True,
                           text=True, timeout=600)
        if r.returncode != 0:
            raise RuntimeError("gw-bench-backfill: %s" % r.stderr)
        results["backfill"] = json.loads(r.stdout)
    except Exception as e:
        results["backfill"] = e
    finally:
        env.cleanup(keep=isinstance(results.get("backfill"), Exception))


# --------------------------------------------------------------------------
# The table.

def main():
    random.seed(1)
    n10, n60 = (10, 3) if QUICK else (50, 10)
    ncycles = 20 if QUICK else 100
    ntenants, seconds = 1000, (60 if QUICK else 180)
    nbackfill = 100_000
    results = {}
    sampler = LoadSampler()
    sampler.start()
    started = time.time()

    # The two latency runs mostly wait: they run side by side.
    only = set(sys.argv[1:]) or {"latency", "cycles", "backfill", "many"}
    lat = [threading.Thread(target=latency, args=(10, n10, results, "l10")),
           threading.Thread(target=latency, args=(60, n60, results, "l60"))]
    if "latency" in only:
        for t in lat:
            t.start()
        for t in lat:
            t.join()
    if "cycles" in only:
        cycles(ncycles, results)
        cron(10 if QUICK else 30, results)
    if "backfill" in only:
        backfill(nbackfill, results)
    if "many" in only:
        many(ntenants, seconds, results)
    sampler.stop.set()

    rows = []

    def row(figure, value, target, ok):
        rows.append((figure, value, target,
                     "-" if ok is None else ("pass" if ok else "FAIL")))

    def failed(figure, e):
        if e is None:
            return
        row(figure, "error: %s" % str(e).splitlines()[0][:60], "", False)

    for key, freq, n in (("l10", 10, n10), ("l60", 60, n60)):
        v = results.get(key)
        if isinstance(v, list):
            p50, p99 = statistics.median(v), percentile(v, 99)
            row("latency @%ds p50 (n=%d)" % (freq, len(v)), "%.2f s" % p50,
                "", None)
            row("latency @%ds p99 (n=%d)" % (freq, len(v)), "%.2f s" % p99,
                "<= %d s" % (freq + 1), p99 <= freq + 1)
        else:
            failed("latency @%ds" % freq, v)

    c = results.get("cycles")
    per_cycle = None
    if isinstance(c, dict):
        per_cycle = c["cpu"] / c["polls"]
        row("CPU per poll cycle (%d polls, %d handshakes)"
            % (c["polls"], c["handshakes"]), "%.2f ms" % (per_cycle * 1e3),
            "<= 2 ms", per_cycle <= 0.002 and c["handshakes"] == 0)
        row("  start-up CPU (%d polls, %d TLS handshakes)"
            % (c["startup_polls"], c["startup_handshakes"]),
            "%.0f ms" % (c["startup_cpu"] * 1e3), "", None)
        row("RSS after %d cycles (peak)" % (c["polls"] + c["startup_polls"]),
            "%.2f MiB (%.2f)" % (c["rss"] / MIB, c["hwm"] / MIB), "<= 8 MiB",
            c["rss"] <= 8 * MIB)
        row("  of which its own (private; PSS)", "%.2f MiB (%.2f)"
            % (c["private"] / MIB, c["pss"] / MIB), "", None)
    else:
        failed("CPU per poll cycle", c)

    k = results.get("cron")
    if isinstance(k, dict) and per_cycle:
        steady = k["runs"][1:] or k["runs"]
        script = statistics.mean(steady)
        row("cron script CPU per cycle (%d runs, %d mail)"
            % (len(steady), k["mails"]),
            "%.1f ms" % (script * 1e3), "", None)
        ratio = script / per_cycle if per_cycle > 0 else float("inf")
        row("script / glasswatchd CPU", "%.0fx" % ratio, ">= 10x",
            ratio >= 10)
    else:
        failed("cron script", k)

    m = results.get("many")
    if isinstance(m, dict):
        share = m["cpu"] / m["wall"]
        row("%d tenants x 4 accounts @60s CPU (%.0f s)"
            % (m["tenants"], m["wall"]), "%.1f %% of a core" % (share * 100),
            "<= 20 %", share <= 0.20)
        row("  Graph requests/s, handshakes, over budget",
            "%.1f, %d, %d" % (m["requests"] / m["wall"], m["handshakes"],
                              m["over_budget"]), "0 over", m["over_budget"]
            == 0)
        row("  start-up (first round) wall, CPU",
            "%.0f s, %.1f s" % (m["startup"], m["startup_cpu"]), "", None)
        row("  RSS (peak)", "%.1f MiB (%.1f)" % (m["rss"] / MIB,
                                                m["hwm"] / MIB), "", None)
    else:
        failed("1000 tenants", m)

    b = results.get("backfill")
    if isinstance(b, dict):
        row("backfill %d records (%.0f MB): parse+store+evaluate"
            % (b["records"], b["bytes"] / 1e6), "%.2f s CPU" % b["cpu"],
            "<= 1 s", b["cpu"] <= 1.0)
        row("  parse / store / evaluate",
            "%.2f / %.2f / %.2f s" % (b["parse_cpu"], b["store_cpu"],
                                      b["eval_cpu"]), "", None)
        row("  alerts, wall, peak RSS", "%d, %.2f s, %.0f MiB"
            % (b["alerts"], b["wall"], b["maxrss_kib"] / 1024), "", None)
    else:
        failed("backfill", b)

    w = [max(len(r[i]) for r in rows + [("figure", "value", "target",
                                          "")]) for i in range(4)]
    fmt = "%%-%ds  %%-%ds  %%-%ds  %%s" % (w[0], w[1], w[2])
    print()
    print("glasswatch benchmarks%s, %s" % (" (quick)" if QUICK else "",
                                           time.strftime("%Y-%m-%d %H:%M UTC",
                                                         time.gmtime(started))))
    print("machine: %s; load average (1 min) during the run: min %.2f, "
          "mean %.2f, max %.2f; run took %.0f s"
          % (machine(), min(sampler.samples),
             statistics.mean(sampler.samples), max(sampler.samples),
             time.time() - started))
    print("CPU from /proc/PID/stat has %d ms resolution" % (1000 // CLK_TCK))
    print(fmt % ("figure", "value", "target", "result"))
    print(fmt % (tuple("-" * x for x in w[:3]) + ("------",)))
    for r in rows:
        print(fmt % r)
    return 0 if all(r[3] != "FAIL" for r in rows) else 1


if __name__ == "__main__":
    why = gwtest.prerequisites()
    if why is not None:
        print("SKIP: %s" % why)
        sys.exit(77)
    sys.exit(main())
