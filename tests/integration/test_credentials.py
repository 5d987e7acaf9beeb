#!/usr/bin/python3
"""The three kinds of credential end to end: a break-glass sign-in is mailed
when the daemon signs in with a certificate (PS256 + x5t#S256, and RS256 +
x5t), and with a managed identity through the simulated IMDS; a certificate
the tenant does not know is refused (AADSTS700027) and nothing of the key
or the assertion reaches the log."""

import base64
import hashlib
import json
import os
import re
import ssl
import subprocess
import time
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gwtest  # noqa: E402
from gwtest import BG1, BG1_UPN, CLIENT_ID, wait_for  # noqa: E402

USER_ASSIGNED = "8d2b6f4e-1c3a-4e5f-9a7b-2c4d6e8f0a1b"


def b64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def thumbprint(pem_path, algo):
    with open(pem_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return base64.urlsafe_b64encode(
        hashlib.new(algo, der).digest()).decode().rstrip("=")


class CredentialTest(gwtest.TestCase):

    def cert_credentials(self, name="client", alg=None):
        c = {"client_id": CLIENT_ID,
             "certificate_file": self.env.cert(name + ".pem"),
             "private_key_file": self.env.cert(name + ".key")}
        if alg is not None:
            c["assertion_alg"] = alg
        return {"credentials": c}

    def token_requests(self):
        return self.sim.requests("token")

    def signin_is_mailed(self):
        self.sim.signin(BG1, BG1_UPN, IPAddress="203.0.113.7")
        mails = self.wait_mails(1)
        self.assertIn(BG1_UPN, mails[0].subject)
        self.assertIn("203.0.113.7", mails[0].subject)

    def assert_no_key_material(self, text):
        with open(self.env.cert("client.key")) as f:
            key_lines = [ln for ln in f.read().splitlines()
                         if ln and not ln.startswith("-----")]
        for ln in key_lines:
            self.assertNotIn(ln, text)
        self.assertNotIn("PRIVATE KEY", text)
        self.assertNotIn("client_assertion=", text)
        for r in self.sim.requests("token"):
            h = r.get("assertion_header")
            if h is not None:
                # The JWT's first part never shows up in a log line.
                enc = base64.urlsafe_b64encode(json.dumps(
                    h, separators=(",", ":")).encode()).decode().rstrip("=")
                self.assertNotIn(enc[:40], text)
        self.assertNotIn("eyJhbGciOi", text)

    def test_certificate_ps256(self):
        self.start_all(sim_kw={"client_cert": "client"},
                       tenant=self.cert_credentials())
        self.signin_is_mailed()
        reqs = [r for r in self.token_requests() if r["status"] == 200]
        self.assertTrue(reqs, "no token was issued")
        r = reqs[0]
        self.assertEqual(r["credential"], "assertion")
        h, c = r["assertion_header"], r["assertion_claims"]
        self.assertEqual(h, {"alg": "PS256", "typ": "JWT",
                             "x5t#S256": thumbprint(
                                 self.env.cert("client.pem"), "sha256")})
        self.assertEqual(c["aud"], "%s/%s/oauth2/v2.0/token"
                         % (self.sim.url, gwtest.TENANT_ID))
        self.assertEqual(c["iss"], CLIENT_ID)
        self.assertEqual(c["sub"], CLIENT_ID)
        self.assertEqual(c["exp"] - c["nbf"], 600)
        self.assertEqual(c["iat"], c["nbf"])
        self.assertEqual(self.daemon.terminate(), 0)
        self.assert_no_key_material(self.daemon.output())
        res = self.env.run_daemon(["-c", self.config_path, "--check"])
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assert_no_key_material(res.stdout + res.stderr)

    def test_certificate_expiring_within_30_days_warns_once(self):
        cert, key = self.env.path("short.pem"), self.env.path("short.key")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", key, "-out", cert, "-days",
                        "10", "-subj", "/CN=glasswatch short-lived"],
                       check=True, capture_output=True, timeout=60)
        os.chmod(key, 0o600)
        self.start_all(tenant={"blind_after": "1h", "credentials": {
            "client_id": CLIENT_ID, "certificate_file": cert,
            "private_key_file": key}})
        subject = re.compile(r"\[Sev2\] glasswatch: certificate of tenant "
                             r"contoso expires in (9|10) days$")
        mails = gwtest.wait_for(self.alive(lambda: [
            m for m in self.smtp.mails() if subject.match(m.subject)]), 30,
            what="the expiry warning", on_timeout=self.diagnostics)
        self.assertIn("short.pem", mails[0].body)
        time.sleep(gwtest.scaled(2))
        self.assertEqual(len([m for m in self.smtp.mails()
                              if "certificate of tenant" in m.subject]), 1)

    def start_with_graph(self, **sim_settings):
        """The standard setup with a Graph endpoint (where the app's
        registration is read) and these sim settings."""
        self.sim = self.env.start_sim()
        self.smtp = self.env.start_smtp()
        self.sim.settings(**sim_settings)
        cfg = self.env.config(self.sim, self.smtp, tenant={
            "blind_after": "1h", "endpoints": {
                "login": self.sim.url, "log_analytics": self.sim.url,
                "graph": self.sim.url}})
        self.config_path = self.env.write_config(cfg)
        self.daemon = self.env.start_daemon(self.config_path)

    def test_client_secret_ending_soon_is_read_from_the_app_registration(self):
        end = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                            time.gmtime(time.time() + 10 * 86400 + 3600))
        self.start_with_graph(app_secret_end=end)
        subject = re.compile(r"\[Sev2\] glasswatch: client secret of tenant "
                             r"contoso expires in 10 days$")
        mails = gwtest.wait_for(self.alive(lambda: [
            m for m in self.smtp.mails() if subject.match(m.subject)]), 30,
            what="the secret expiry warning", on_timeout=self.diagnostics)
        self.assertIn(end, mails[0].body)
        self.assertNotIn(gwtest.CLIENT_SECRET, mails[0].body)
        reqs = self.sim.requests("application")
        self.assertEqual(reqs[0]["status"], 200)
        self.assertIn("passwordCredentials", reqs[0]["query"])

    def test_app_registration_unreadable_is_only_noted(self):
        self.start_with_graph(app_read_denied=True)
        self.daemon.wait_log("may not read its own registration", timeout=30)
        self.settle(n=2)
        self.assertEqual([m for m in self.smtp.mails()
                          if "client secret" in m.subject], [])
        # Tried once, not on every check.
        self.assertEqual(len(self.sim.requests("application")), 1)

    def test_certificate_rs256(self):
        self.start_all(sim_kw={"client_cert": "client"},
                       tenant=self.cert_credentials(alg="RS256"))
        self.signin_is_mailed()
        r = [r for r in self.token_requests() if r["status"] == 200][0]
        self.assertEqual(r["assertion_header"],
                         {"alg": "RS256", "typ": "JWT",
                          "x5t": thumbprint(self.env.cert("client.pem"),
                                            "sha1")})
        self.assertEqual(self.daemon.terminate(), 0)

    def test_managed_identity(self):
        self.sim = self.env.start_sim(imds=True)
        self.smtp = self.env.start_smtp()
        cfg = self.env.config(self.sim, self.smtp, tenant={
            "endpoints": {"login": self.sim.url,
                          "log_analytics": self.sim.url,
                          "imds": self.sim.imds_url},
            "credentials": {"managed_identity": True}})
        self.config_path = self.env.write_config(cfg)
        self.daemon = self.env.start_daemon(self.config_path)
        self.signin_is_mailed()
        reqs = self.sim.requests("imds")
        ok = [r for r in reqs if r["status"] == 200]
        self.assertTrue(ok, reqs)
        r = ok[0]
        self.assertEqual(r["method"], "GET")
        self.assertEqual(r["metadata"], "true")
        self.assertEqual(r["api_version"], "2018-02-01")
        self.assertEqual(r["resource"], "https://api.loganalytics.io")
        self.assertIsNone(r["client_id"])
        # No client-credentials request at all.
        self.assertEqual(self.sim.requests("token"), [])
        self.assertEqual(self.daemon.terminate(), 0)

    def test_proxy_from_the_environment_but_never_for_imds(self):
        # https_proxy is honoured for Log Analytics (a CONNECT tunnel);
        # the IMDS token request never goes through a proxy.
        log = self.env.path("proxy.log")
        ready = self.env.path("proxy.ready")
        proc = subprocess.Popen(
            [gwtest.PYTHON, os.path.join(gwtest.SIM_DIR, "proxy.py"),
             "--ready-file", ready, "--log", log],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self.addCleanup(proc.kill)
        info = gwtest.wait_for(lambda: gwtest._read_ready(ready), 15,
                               what="the proxy to listen")
        proxy = "http://127.0.0.1:%d" % info["port"]
        self.sim = self.env.start_sim(imds=True)
        self.smtp = self.env.start_smtp()
        cfg = self.env.config(self.sim, self.smtp, tenant={
            "endpoints": {"login": self.sim.url,
                          "log_analytics": self.sim.url,
                          "imds": self.sim.imds_url},
            "credentials": {"managed_identity": True}})
        self.config_path = self.env.write_config(cfg)
        self.daemon = self.env.start_daemon(
            self.config_path, environ={"https_proxy": proxy,
                                       "http_proxy": proxy})
        self.signin_is_mailed()
        with open(log) as f:
            seen = [json.loads(line) for line in f]
        self.assertIn({"method": "CONNECT",
                       "target": "127.0.0.1:%d" % self.sim.port}, seen)
        self.assertEqual([s for s in seen if s["method"] != "CONNECT"], [],
                         "IMDS went through the proxy")
        self.assertTrue([r for r in self.sim.requests("imds")
                         if r["status"] == 200])

    def test_managed_identity_user_assigned_and_retry(self):
        self.sim = self.env.start_sim(imds=True,
                                      imds_client_id=USER_ASSIGNED)
        # IMDS updating: a 410 is retried, not fatal.
        self.sim.fault(path="imds", status=410)
        self.smtp = self.env.start_smtp()
        cfg = self.env.config(self.sim, self.smtp, tenant={
            "endpoints": {"login": self.sim.url,
                          "log_analytics": self.sim.url,
                          "imds": self.sim.imds_url},
            "credentials": {"managed_identity": True,
                            "client_id": USER_ASSIGNED}})
        self.config_path = self.env.write_config(cfg)
        self.daemon = self.env.start_daemon(self.config_path)
        self.signin_is_mailed()
        reqs = self.sim.requests("imds")
        self.assertEqual(reqs[0]["status"], 410)
        ok = [r for r in reqs if r["status"] == 200]
        self.assertTrue(ok, reqs)
        self.assertEqual(ok[0]["client_id"], USER_ASSIGNED)
        self.assertEqual(self.daemon.terminate(), 0)

    def test_wrong_certificate_is_refused(self):
        self.start_all(sim_kw={"client_cert": "client"},
                       tenant=self.cert_credentials("other-client"))
        self.sim.signin(BG1, BG1_UPN)
        self.daemon.wait_log("AADSTS700027", timeout=20)
        wait_for(lambda: all(r["status"] == 401 for r in
                             self.token_requests()) and
                 self.token_requests(), 10, what="refused token requests")
        self.assertEqual(self.sim.stats()["tokens_issued"], 0)
        self.assertEqual(self.smtp.rule_mails(), [])
        self.daemon.terminate()
        out = self.daemon.output()
        self.assert_no_key_material(out)
        with open(self.env.cert("other-client.key")) as f:
            for ln in f.read().splitlines():
                if ln and not ln.startswith("-----"):
                    self.assertNotIn(ln, out)

    def test_check_refuses_a_mismatched_pair(self):
        sim = self.env.start_sim(client_cert="client")
        cfg = self.env.config(sim, None, tenant={"credentials": {
            "client_id": CLIENT_ID,
            "certificate_file": self.env.cert("client.pem"),
            "private_key_file": self.env.cert("other-client.key")}})
        path = self.env.write_config(cfg)
        res = self.env.run_daemon(["-c", path, "--check"])
        self.assertEqual(res.returncode, 1, res.stdout + res.stderr)
        self.assertIn("private_key_file: the private key in", res.stderr)
        self.assertIn("does not belong to the certificate", res.stderr)
        self.assertRegex(res.stderr, r"glasswatch\.yaml:\d+:\d+: ")
        res = self.env.run_daemon(["-c", path, "--once"])
        self.assertEqual(res.returncode, gwtest.EXIT_CONFIG)


if __name__ == "__main__":
    gwtest.main()
