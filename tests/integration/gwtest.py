"""gwtest — the harness for glasswatch's integration tests.

Each test gets an Env: a private temp dir with a throwaway PKI, the
simulated tenant (tests/sim/simtenant.py), an SMTP sink
(tests/sim/smtpsink.py), a config written from a Python dict and the real
`glasswatchd` (path in $GLASSWATCHD).  Everything listens on 127.0.0.1 only;
every wait is bounded in time and in iterations.

Run with /usr/bin/python3 (Debian's: it has python3-aiosmtpd).  Environment:
  GLASSWATCHD       the daemon under test (required)
  GW_SOURCE_ROOT    the source tree (default: two levels above this file)
  GW_TIMEOUT_SCALE  multiply every timeout (slow machines, sanitizers)
  GW_KEEP_TMP=1     keep every temp dir (they are kept anyway on failure)
  GW_VALGRIND=1     run every daemon under valgrind memcheck; any error or
                    definite leak it reports fails the test (tests/valgrind.sh)
"""

import email
import email.policy
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("GW_SOURCE_ROOT") or \
    os.path.dirname(os.path.dirname(HERE))
SIM_DIR = os.path.join(SOURCE_ROOT, "tests", "sim")
PYTHON = "/usr/bin/python3"
SCALE = float(os.environ.get("GW_TIMEOUT_SCALE") or 1)
VALGRIND = os.environ.get("GW_VALGRIND") == "1"

# Identities of the simulated tenant.
TENANT_ID = "0b5e4c1a-7d2f-4e8b-9c3a-1f6d2e8a4b70"
CLIENT_ID = "6c1d9e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f"
WORKSPACE_ID = "63613592-b6f7-4c3d-a390-22ba13102111"
CLIENT_SECRET = "gw~Sim.Secret_8Q~x7YpZr2kLm9Nv4Tq"   # must never leak
BG1 = "33333333-3333-4333-8333-333333333333"
BG1_UPN = "bg1@contoso.onmicrosoft.com"
BG2 = "44444444-4444-4444-8444-444444444444"
BG2_UPN = "bg2@contoso.onmicrosoft.com"
ORDINARY = "55555555-5555-4555-8555-555555555555"
ORDINARY_UPN = "alice@contoso.onmicrosoft.com"
RULE = "break-glass-sign-in"
MAIL_FROM = "glasswatch@contoso.example"
MAIL_TO = "soc@contoso.example"

EXIT_CONFIG = 78
EXIT_SKIP = 77


def scaled(seconds):
    return seconds * SCALE


def wait_for(predicate, timeout, interval=0.2, what="condition",
             on_timeout=None):
    """Poll `predicate` until it returns something truthy; return that.
    Bounded by `timeout` seconds (scaled) and by a maximum number of
    tries; raises AssertionError naming `what` (plus on_timeout() output)."""
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    tries = int(timeout / interval) + 2
    last_exc = None
    for _ in range(tries):
        try:
            value = predicate()
            if value:
                return value
            last_exc = None
        except (OSError, ValueError, sqlite3.Error) as e:
            last_exc = e                # not there yet (file, socket, db)
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    msg = "timed out after %.0fs waiting for %s" % (timeout, what)
    if last_exc is not None:
        msg += " (last error: %r)" % (last_exc,)
    if on_timeout is not None:
        msg += "\n" + on_timeout()
    raise AssertionError(msg)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_ready(path):
    with open(path) as f:
        return json.load(f)


def _stop_process(proc, timeout=5):
    """SIGTERM, then SIGKILL; returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait(10)


# --------------------------------------------------------------------------
# YAML: written by hand (PyYAML may be missing).  Strings are always
# double-quoted with JSON escapes, which YAML reads the same way.

def _yaml_scalar(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return repr(v)
    return json.dumps(str(v), ensure_ascii=False)


def to_yaml(obj, indent=0):
    pad = " " * indent
    lines = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                lines.append("%s%s:" % (pad, k))
                lines.append(to_yaml(v, indent + 2))
            elif isinstance(v, list):
                lines.append("%s%s: []" % (pad, k))
            elif isinstance(v, dict):
                lines.append("%s%s: {}" % (pad, k))
            else:
                lines.append("%s%s: %s" % (pad, k, _yaml_scalar(v)))
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict) and item:
                body = to_yaml(item, indent + 2).split("\n")
                lines.append(pad + "- " + body[0].lstrip())
                lines.extend(body[1:])
            elif isinstance(item, (dict, list)):
                lines.append(pad + "- " + ("{}" if isinstance(item, dict)
                                           else "[]"))
            else:
                lines.append(pad + "- " + _yaml_scalar(item))
    else:
        lines.append(pad + _yaml_scalar(obj))
    return "\n".join(lines)


# --------------------------------------------------------------------------
# The simulated tenant.

class SimTenant:
    """A running tests/sim/simtenant.py and its control API."""

    def __init__(self, env, cert="server", token_ttl=None, port=0,
                 client_cert=None, imds=False, imds_client_id=None,
                 tenant_id=TENANT_ID):
        """client_cert: the name (under the test PKI, without .pem) of
        the app certificate whose client assertions the token endpoint
        accepts; imds: also serve the managed identity endpoint at
        self.imds_url, knowing imds_client_id as a user-assigned
        identity."""
        self.env = env
        self.ready = os.path.join(env.tmp, "simtenant-%d.ready"
                                  % env.next_id())
        self.log_path = self.ready.replace(".ready", ".log")
        args = [PYTHON, os.path.join(SIM_DIR, "simtenant.py"),
                "--cert", env.cert(cert + ".pem"),
                "--key", env.cert(cert + ".key"),
                "--tenant-id", tenant_id, "--client-id", CLIENT_ID,
                "--client-secret-file", env.client_secret_file,
                "--workspace-id", WORKSPACE_ID,
                "--port", str(port), "--control-port", "0",
                "--ready-file", self.ready]
        if token_ttl is not None:
            args += ["--token-ttl", str(token_ttl)]
        if client_cert is not None:
            args += ["--client-cert", env.cert(client_cert + ".pem")]
        if imds:
            args += ["--imds-port", "0"]
        if imds_client_id is not None:
            args += ["--imds-client-id", imds_client_id]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        info = wait_for(lambda: self.proc.poll() is None and
                        _read_ready(self.ready), 15,
                        what="simtenant to listen",
                        on_timeout=self.log_tail)
        self.port, self.control_port = info["port"], info["control_port"]
        self.url = "https://127.0.0.1:%d" % self.port
        self.imds_port = info.get("imds_port")
        self.imds_url = "http://127.0.0.1:%d" % self.imds_port \
            if self.imds_port else None

    def log_tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "--- simtenant log:\n" + "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.control_port, path),
            data=data, method=method,
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read().decode())

    def add_record(self, row=None, table="SigninLogs", ingest_delay=0,
                   event_age=None):
        body = {"table": table, "row": row or {},
                "ingest_delay": ingest_delay}
        if event_age is not None:
            body["event_age"] = event_age
        return self._call("POST", "/records", body)["records"][0]

    def signin(self, user=BG1, upn=BG1_UPN, **kw):
        """A SigninLogs row for `user`; extra columns as keyword arguments,
        plus ingest_delay= and event_age=."""
        opts = {k: kw.pop(k) for k in ("ingest_delay", "event_age")
                if k in kw}
        row = {"UserId": user, "UserPrincipalName": upn}
        row.update(kw)
        return self.add_record(row, **opts)

    def fault(self, **spec):
        return self._call("POST", "/faults", spec)

    def settings(self, **kw):
        return self._call("POST", "/settings", kw)

    def posture(self, directory):
        """Set the directory the posture APIs serve (simposture.py)."""
        return self._call("POST", "/posture", directory)

    def expire_tokens(self):
        return self._call("POST", "/expire-tokens", {})

    def requests(self, kind=None, since=0):
        path = "/requests?since=%d" % since
        if kind:
            path += "&kind=" + kind
        return self._call("GET", path)

    def stats(self):
        return self._call("GET", "/stats")

    def records(self, table=None):
        """Every stored row (dynamic columns nested, scalars native)."""
        return self._call("GET", "/records" +
                          ("?table=" + table if table else ""))

    def record(self, rec_id):
        for r in self.records():
            if r.get("Id") == rec_id:
                return r
        raise AssertionError("record %s is not in the sim" % rec_id)

    def reset(self):
        return self._call("POST", "/reset", {})

    def queries_after(self, t, status=200):
        """Query requests answered with `status` that arrived after Unix
        time t."""
        return [r for r in self.requests("query")
                if r["t"] > t and r["status"] == status]

    def stop(self):
        return _stop_process(self.proc)


# --------------------------------------------------------------------------
# The SMTP sink.

class Mail:
    def __init__(self, eml_path):
        self.path = eml_path
        with open(eml_path, "rb") as f:
            self.raw = f.read()
        with open(eml_path[:-4] + ".json") as f:
            self.meta = json.load(f)
        self.msg = email.message_from_bytes(self.raw,
                                            policy=email.policy.default)

    def __getitem__(self, header):
        return self.msg[header]

    @property
    def subject(self):
        return str(self.msg["Subject"] or "")

    @property
    def body(self):
        part = self.msg.get_body(preferencelist=("plain",)) or self.msg
        return part.get_content()

    def __repr__(self):
        return "<Mail %s %r>" % (os.path.basename(self.path), self.subject)


class SmtpSink:
    """tests/sim/smtpsink.py; stop() and start() again keep the port and
    the maildir, for "SMTP down, then up"."""

    def __init__(self, env, port=0, tls=None, auth=None, refuse=(),
                 tempfail=(), start=True, cert="server"):
        self.env = env
        self.maildir = os.path.join(env.tmp, "maildir-%d" % env.next_id())
        os.makedirs(self.maildir)
        self.log_path = self.maildir + ".log"
        self.port = port or free_port()
        self.extra = []
        if tls in ("starttls", "implicit"):
            self.extra += ["--starttls" if tls == "starttls"
                           else "--implicit-tls",
                           env.cert(cert + ".pem"), env.cert(cert + ".key")]
        if auth is not None:
            user, password = auth
            self.extra += ["--auth-user", user, "--auth-password-file",
                           env.write_secret("smtp-password", password)]
        for a in refuse:
            self.extra += ["--refuse-rcpt", a]
        for a in tempfail:
            self.extra += ["--tempfail-rcpt", a]
        self.proc = None
        if start:
            self.start()

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        ready = self.maildir + ".ready"
        if os.path.exists(ready):
            os.unlink(ready)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(SIM_DIR, "smtpsink.py"),
             "--maildir", self.maildir, "--port", str(self.port),
             "--ready-file", ready] + self.extra,
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        wait_for(lambda: self.proc.poll() is None and _read_ready(ready),
                 15, what="smtpsink to listen", on_timeout=self.log_tail)

    def stop(self):
        if self.proc is not None:
            return _stop_process(self.proc)
        return None

    def log_tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "--- smtpsink log:\n" + "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def mails(self):
        """Every accepted message, oldest first."""
        names = sorted(n for n in os.listdir(self.maildir)
                       if n.endswith(".eml"))
        return [Mail(os.path.join(self.maildir, n)) for n in names]

    def rule_mails(self, rule=RULE):
        return [m for m in self.mails() if rule in m.subject]

    @property
    def url(self):
        scheme = "smtps" if "--implicit-tls" in self.extra else "smtp"
        return "%s://127.0.0.1:%d" % (scheme, self.port)


# --------------------------------------------------------------------------
# The daemon.

class Daemon:
    """A running glasswatchd; stdout and stderr go to one log file."""

    def __init__(self, env, config_path, args=(), environ=None):
        self.env = env
        self.log_path = os.path.join(env.tmp, "glasswatchd-%d.log"
                                     % env.next_id())
        self.started = time.time()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                env.daemon_command() + ["-c", config_path] + list(args),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                env=dict(env.daemon_environ(), **(environ or {})),
                cwd=env.tmp)

    @property
    def pid(self):
        return self.proc.pid

    def running(self):
        return self.proc.poll() is None

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, n=40):
        try:
            lines = self.output().splitlines()[-n:]
        except OSError:
            return ""
        return "--- glasswatchd log (%s):\n%s" % (self.log_path,
                                                  "\n".join(lines))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=10):
        """The exit status, or AssertionError when it does not exit."""
        try:
            return self.proc.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            raise AssertionError("glasswatchd did not exit within %ss\n%s"
                                 % (timeout, self.log_tail()))

    def terminate(self, timeout=10):
        """SIGTERM and the exit status."""
        if self.running():
            self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill9(self):
        self.proc.kill()
        self.proc.wait(10)

    def wait_log(self, needle, timeout=10, since=0):
        """Wait until `needle` shows up in the log after byte `since`."""
        return wait_for(lambda: needle in self.output()[since:], timeout,
                        what="%r in the daemon log" % needle,
                        on_timeout=self.log_tail)


# --------------------------------------------------------------------------
# The environment of one test.

class Env:
    def __init__(self):
        self.glasswatchd = os.environ.get("GLASSWATCHD")
        if not self.glasswatchd or not os.access(self.glasswatchd, os.X_OK):
            raise AssertionError("GLASSWATCHD must name the glasswatchd "
                                 "executable (got %r)" % self.glasswatchd)
        self.tmp = tempfile.mkdtemp(prefix="gw-it-")
        self._ids = 0
        self.processes = []
        self.run_outputs = []
        self.certs = os.path.join(self.tmp, "certs")
        subprocess.run(["sh", os.path.join(SIM_DIR, "make-certs.sh"),
                        self.certs], check=True, timeout=scaled(60))
        self.state_dir = os.path.join(self.tmp, "state")
        self.client_secret_file = self.write_secret("client-secret",
                                                    CLIENT_SECRET)

    def next_id(self):
        self._ids += 1
        return self._ids

    def daemon_command(self):
        """The daemon, under valgrind memcheck with GW_VALGRIND=1 (its
        report goes to a file of its own, so the daemon's output stays
        what the tests read)."""
        if not VALGRIND:
            return [self.glasswatchd]
        return ["valgrind", "--quiet", "--leak-check=full",
                "--show-leak-kinds=definite",
                "--errors-for-leak-kinds=definite",
                "--log-file=" + os.path.join(self.tmp, "valgrind-%p.log"),
                self.glasswatchd]

    def cert(self, name):
        return os.path.join(self.certs, name)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def write_secret(self, name, value):
        """A secret file, mode 0600 as the daemon demands."""
        path = self.path(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(value + "\n")
        os.chmod(path, 0o600)
        return path

    def daemon_environ(self):
        env = {k: v for k, v in os.environ.items()
               if k not in ("STATE_DIRECTORY", "CREDENTIALS_DIRECTORY",
                            "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
                            "LISTEN_FDS", "LISTEN_PID")}
        env.setdefault("LC_ALL", "C.UTF-8")
        return env

    # -- processes
    def _own(self, proc_holder):
        self.processes.append(proc_holder)
        return proc_holder

    def start_sim(self, **kw):
        return self._own(SimTenant(self, **kw))

    def start_smtp(self, **kw):
        return self._own(SmtpSink(self, **kw))

    def start_daemon(self, config_path, args=(), environ=None):
        return self._own(Daemon(self, config_path, args, environ))

    def run_daemon(self, args, timeout=60):
        """Run glasswatchd to completion (--check, --once, --version)."""
        r = subprocess.run(self.daemon_command() + list(args),
                           stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=self.daemon_environ(), cwd=self.tmp,
                           timeout=scaled(timeout), text=True,
                           errors="replace")
        self.run_outputs.append(("glasswatchd %s" % " ".join(args),
                                 r.stdout + r.stderr))
        return r

    # -- configuration
    def config(self, sim, smtp, tls="none", rule=None, notifier=None,
               tenant=None, top=None):
        """The standard test configuration as a dict; the keyword
        arguments update the tenant, rule, notifier and top level."""
        t = {
            "name": "contoso",
            "tenant_id": TENANT_ID,
            "cloud": "custom",
            "endpoints": {"login": sim.url, "log_analytics": sim.url},
            "ca_file": self.cert("ca.pem"),
            "credentials": {"client_id": CLIENT_ID,
                            "client_secret_file": self.client_secret_file},
            "log_analytics": {"workspace_id": WORKSPACE_ID,
                              "overlap": "2m", "lookback": "2d"},
            "break_glass": [{"object_id": BG1, "upn": BG1_UPN},
                            {"object_id": BG2, "upn": BG2_UPN}],
        }
        r = {
            "name": RULE,
            "description": "An emergency access account signed in",
            "source": "log_analytics",
            "signal": "sign_in",
            "threshold": {"operator": "gt", "value": 0},
            "period": "5m",
            "frequency": "1s",
            "severity": 0,
            "actions": ["soc-mail"],
            "subject": "[Sev{severity}] {rule}: {upn} from {ip}",
        }
        n = {
            "name": "soc-mail",
            "type": "email",
            "url": smtp.url if smtp is not None else
            "smtp://127.0.0.1:%d" % free_port(),
            "tls": tls,
            "from": MAIL_FROM,
            "to": [MAIL_TO],
            "retry": {"initial": "1s", "max": "2s", "expire_after": "1h"},
        }
        if tls != "none":
            n["ca_file"] = self.cert("ca.pem")
        t.update(tenant or {})
        r.update(rule or {})
        n.update(notifier or {})
        cfg = {
            "state_dir": self.state_dir,
            "log": {"level": "debug"},
            "tenants": [t],
            "rules": [r],
            "notifiers": [n],
        }
        cfg.update(top or {})
        return cfg

    def write_config(self, cfg, name="glasswatch.yaml"):
        """Write a dict (or ready YAML text) as the config file."""
        path = self.path(name)
        text = cfg if isinstance(cfg, str) else to_yaml(cfg) + "\n"
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)           # a reload never sees half a file
        return path

    # -- the state store
    @property
    def db_path(self):
        return os.path.join(self.state_dir, "glasswatch.db")

    def db(self, sql, params=()):
        """Rows of a read-only query on the daemon's store ([] while the
        file or the table does not exist yet)."""
        if not os.path.exists(self.db_path):
            return []
        conn = sqlite3.connect("file:%s?mode=ro" % self.db_path, uri=True,
                               timeout=5)
        try:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(sql, params).fetchall()]
        except sqlite3.OperationalError as e:
            if "no such table" in str(e):
                return []
            raise
        finally:
            conn.close()

    def deliveries(self, state=None):
        if state is None:
            return self.db("SELECT * FROM deliveries")
        return self.db("SELECT * FROM deliveries WHERE state = ?", (state,))

    def stop_daemons(self):
        """SIGTERM every daemon still running and wait for it."""
        for p in self.processes:
            if isinstance(p, Daemon) and p.running():
                p.signal(signal.SIGTERM)
                try:
                    p.proc.wait(scaled(10))
                except subprocess.TimeoutExpired:
                    p.proc.kill()
                    p.proc.wait(10)

    def sanitizer_reports(self):
        """AddressSanitizer, LeakSanitizer or UBSan lines in any daemon
        log of this test (the sanitizer build runs the same tests)."""
        outputs = list(self.run_outputs)
        outputs += [(p.log_path, p.output()) for p in self.processes
                    if isinstance(p, Daemon)]
        found = []
        for where, text in outputs:
            for line in text.splitlines():
                if ("ERROR: AddressSanitizer" in line or
                        "ERROR: LeakSanitizer" in line or
                        "runtime error:" in line):
                    found.append("%s: %s" % (where, line))
        # memcheck's own files: with --quiet they hold only its reports
        # (a daemon killed with SIGKILL leaves an empty one).
        for name in sorted(os.listdir(self.tmp)):
            if name.startswith("valgrind-") and name.endswith(".log"):
                with open(os.path.join(self.tmp, name), errors="replace") \
                        as f:
                    text = f.read()
                if text.strip():
                    found.append("%s:\n%s" % (name, text))
        return found

    def cleanup(self, keep):
        for p in reversed(self.processes):
            try:
                if isinstance(p, Daemon):
                    # SIGTERM first: a clean exit is where LeakSanitizer
                    # looks for leaks.
                    if p.running():
                        p.signal(signal.SIGTERM)
                        try:
                            p.proc.wait(scaled(10))
                        except subprocess.TimeoutExpired:
                            p.proc.kill()
                            p.proc.wait(10)
                else:
                    p.stop()
            except Exception as e:          # cleanup goes on regardless
                print("gwtest: cleanup: %r" % (e,), file=sys.stderr)
        if keep or os.environ.get("GW_KEEP_TMP"):
            print("gwtest: kept %s" % self.tmp, file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


class TestCase(unittest.TestCase):
    """A test with an Env in self.env; its temp dir is kept on failure,
    and the daemon's log is printed then."""

    def setUp(self):
        self.env = Env()
        self.addCleanup(self._cleanup)

    def _failed(self):
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        if result is None:
            return False
        for test, _ in list(result.failures) + list(result.errors):
            if test is self:
                return True
        return False

    def _cleanup(self):
        failed = self._failed()
        reports = []
        try:
            self.env.stop_daemons()
            reports = self.env.sanitizer_reports()
        finally:
            if reports:
                failed = True
        if failed:
            for p in self.env.processes:
                if isinstance(p, (Daemon, SimTenant, SmtpSink)):
                    print(p.log_tail(), file=sys.stderr)
        self.env.cleanup(keep=failed)
        if reports:
            self.fail("a sanitizer reported a problem in glasswatchd:\n" +
                      "\n".join(reports))

    # -- common steps
    def start_all(self, tls="none", smtp_kw=None, sim_kw=None, setup=None,
                  **cfg_kw):
        """The sim, the sink and the daemon with the standard config;
        setup(sim), when given, runs before the daemon starts."""
        self.sim = self.env.start_sim(**(sim_kw or {}))
        self.smtp = self.env.start_smtp(tls=tls if tls != "none" else None,
                                        **(smtp_kw or {}))
        self.config_path = self.env.write_config(
            self.env.config(self.sim, self.smtp, tls=tls, **cfg_kw))
        if setup is not None:
            setup(self.sim)
        self.daemon = self.env.start_daemon(self.config_path)
        return self.daemon

    def diagnostics(self):
        parts = []
        for name in ("daemon", "sim", "smtp"):
            obj = getattr(self, name, None)
            if obj is not None:
                parts.append(obj.log_tail())
        return "\n".join(parts)

    def alive(self, predicate):
        """`predicate`, failing at once when the daemon has exited."""
        def check():
            d = getattr(self, "daemon", None)
            if d is not None and not d.running():
                raise AssertionError("glasswatchd exited with status %s\n%s"
                                     % (d.proc.returncode,
                                        self.diagnostics()))
            return predicate()
        return check

    def wait_mails(self, n, timeout=30, rule=RULE):
        """Wait until at least n alert mails of `rule` arrived."""
        return wait_for(self.alive(lambda: len(self.smtp.rule_mails(rule))
                                   >= n and self.smtp.rule_mails(rule)),
                        timeout, what="%d mail(s) of %s" % (n, rule),
                        on_timeout=self.diagnostics)

    def wait_queries(self, n, after, timeout=20, rows=False):
        """Wait until the sim answered n successful queries that arrived
        after Unix time `after` (so the daemon had its chance); with
        rows=True, only answers that carried rows count."""
        return wait_for(self.alive(lambda: len(
            [r for r in self.sim.queries_after(after)
             if r["rows"] or not rows]) >= n), timeout,
            what="%d queries%s after %.3f" % (n, " with rows" if rows
                                              else "", after),
            on_timeout=self.diagnostics)

    def settle(self, after=None, n=3, timeout=20):
        """Let the daemon poll n more times (and send anything it would)."""
        self.wait_queries(n, time.time() if after is None else after,
                          timeout)


def prerequisites():
    """Why these tests cannot run here, or None."""
    try:
        import aiosmtpd
        del aiosmtpd
    except ImportError:
        return "python3-aiosmtpd is not installed for %s" % sys.executable
    if shutil.which("openssl") is None:
        return "the openssl command is missing"
    return None


def main():
    """unittest.main for a test file: exit 77 only when the test
    environment truly cannot run, 0 on success, 1 otherwise."""
    why = prerequisites()
    if why is not None:
        print("SKIP: %s" % why)
        sys.exit(EXIT_SKIP)
    prog = unittest.main(exit=False, verbosity=2)
    result = prog.result
    sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
