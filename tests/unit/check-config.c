/* Config loader: good files, and every kind of error with its position. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfgtest.h"
#include "config.h"
#include "notifier.h"

static struct config *
load(const char *text)
{
	return load_yaml(text);
}

/* A valid file; %s slots let a test change one part. */
#define TENANT	CFGTEST_TENANT
#define RULE	CFGTEST_RULE
#define NOTIFIER	CFGTEST_NOTIFIER

START_TEST(good_file_and_defaults)
{
	struct config *c = load(TENANT RULE NOTIFIER);
	const struct tenant_config *t;
	const struct rule_config *r;

	ck_assert_msg(c != NULL, "errors: %s", errs.n ? errs.v[0] : "");
	ck_assert_uint_eq(c->ntenants, 1);
	t = &c->tenants[0];
	ck_assert_str_eq(t->tenant_id, "00000000-0000-0000-0000-0000000000aa");
	ck_assert_str_eq(t->endpoints.log_analytics, "https://127.0.0.1:2");
	ck_assert_str_eq(t->scopes.log_analytics,
	    "https://api.loganalytics.io/.default");
	ck_assert_int_eq(t->log_analytics.enabled, 1);
	ck_assert_int_eq(t->log_analytics.overlap, 120);
	ck_assert_int_eq(t->log_analytics.lookback, 2 * 86400);
	ck_assert_str_eq(t->credentials.client_secret_file,
	    strcat(strcpy((char[300]){ 0 }, cfgdir), "/secret"));
	r = &c->rules[0];
	ck_assert_int_eq(r->period, 300);
	ck_assert_int_eq(r->frequency, 60);
	ck_assert_int_eq(r->severity, 0);
	ck_assert_int_eq(r->enabled, 1);
	ck_assert_int_eq(r->all_accounts, 1);
	ck_assert_int_eq(r->op, OP_GT);
	ck_assert_int_eq(r->source, SOURCE_LOG_ANALYTICS);
	ck_assert_int_eq(r->signal, SIGNAL_SIGN_IN);
	ck_assert_ptr_nonnull(r->subject_tpl);
	ck_assert_int_eq(c->incident_window, 600);
	ck_assert_int_eq(c->http_timeout, 30);
	ck_assert_uint_eq(c->http_max_response, 64u * 1024 * 1024);
	ck_assert_str_eq(c->state_dir, "/var/lib/glasswatch");
	ck_assert_int_eq(c->notifiers[0].retry.initial, 5);
	ck_assert_int_eq(c->notifiers[0].retry.expire_after, 86400);
	ck_assert_ptr_eq(c->notifiers[0].ops, notifier_find("email"));
	config_free(c);
}
END_TEST

START_TEST(public_cloud_fills_endpoints)
{
	struct config *c = load(
	    "tenants:\n"
	    "  - name: t\n"
	    "    tenant_id: 00000000-0000-0000-0000-000000000000\n"
	    "    credentials: { client_id: 11111111-1111-1111-1111-111111111111,"
	    " client_secret_file: \"${CREDENTIALS_DIRECTORY}/secret\" }\n"
	    "    log_analytics: { workspace_id: "
	    "22222222-2222-2222-2222-222222222222 }\n"
	    "    break_glass: [{ object_id: 33333333-3333-3333-3333-333333333333 }]\n"
	    RULE NOTIFIER);

	ck_assert_msg(c != NULL, "errors: %s", errs.n ? errs.v[0] : "");
	ck_assert_str_eq(c->tenants[0].endpoints.login,
	    "https://login.microsoftonline.com");
	ck_assert_str_eq(c->tenants[0].endpoints.log_analytics,
	    "https://api.loganalytics.azure.com");
	config_free(c);
}
END_TEST

START_TEST(state_dir_from_systemd)
{
	struct config *c;

	setenv("STATE_DIRECTORY", "/var/lib/gw:/var/lib/other", 1);
	c = load(TENANT RULE NOTIFIER);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->state_dir, "/var/lib/gw");
	config_free(c);
}
END_TEST

START_TEST(unknown_key)
{
	ck_assert_ptr_null(load("bogus: 1\n" TENANT RULE NOTIFIER));
	expect_error(1, 1, "unknown key 'bogus'");
	ck_assert_uint_eq(errs.n, 1);
}
END_TEST

/* Found by fuzzing: a tenant without a name was still matched against
 * the rules' tenants lists (strcmp on NULL) after the error. */
START_TEST(tenant_without_name)
{
	ck_assert_ptr_null(load(
	    "tenants:\n"
	    "  - tenant_id: 00000000-0000-0000-0000-0000000000AA\n"
	    RULE
	    "    tenants: [contoso]\n"
	    NOTIFIER));
	expect_error(2, 5, "missing key 'name'");
}
END_TEST

START_TEST(wrong_types)
{
	ck_assert_ptr_null(load(TENANT RULE
	    "    severity: high\n"
	    "    enabled: maybe\n"
	    "    tenants: contoso\n"
	    NOTIFIER));
	/* RULE starts on line 13: name 14, threshold 15, actions 16. */
	expect_error(16, 15, "severity: 'high' is not a whole number");
	expect_error(17, 14, "enabled: expected true or false");
	expect_error(18, 14, "tenants: expected a list");
}
END_TEST

START_TEST(bad_durations)
{
	ck_assert_ptr_null(load(TENANT RULE
	    "    period: 5x\n"
	    "    frequency: 10\n"
	    "    suppress: 0s\n"
	    NOTIFIER));
	expect_error(16, 13, "period: '5x' is not a duration: a duration's "
	    "unit is one of s, m, h or d");
	expect_error(17, 16, "frequency: '10' is not a duration: a duration "
	    "needs a unit: s, m, h or d");
	ck_assert_uint_eq(errs.n, 2);
}
END_TEST

START_TEST(zero_frequency_refused)
{
	ck_assert_ptr_null(load(TENANT RULE "    frequency: 0s\n" NOTIFIER));
	expect_error(16, 16, "frequency: must be at least 1s");
}
END_TEST

START_TEST(bad_guid)
{
	ck_assert_ptr_null(load(
	    "tenants:\n"
	    "  - name: t\n"
	    "    tenant_id: not-a-guid\n"
	    "    credentials: { client_id: 1111, client_secret_env: X }\n"
	    "    log_analytics: { workspace_id: 22222222-2222-2222-2222-222222222222 }\n"
	    "    break_glass: [{ object_id: 33333333-3333-3333-3333-33333333333 }]\n"
	    RULE NOTIFIER));
	expect_error(3, 16, "tenant_id: 'not-a-guid' is not a GUID "
	    "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
	expect_error(4, 31, "client_id: '1111' is not a GUID "
	    "(xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
	expect_error(6, 32, "object_id: '33333333-3333-3333-3333-33333333333' "
	    "is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
	/* client_secret_env X is not set either. */
	expect_error(4, 56, "environment variable X is not set");
}
END_TEST

START_TEST(huge_severity_is_not_wrapped)
{
	ck_assert_ptr_null(load(TENANT RULE "    severity: 4294967296\n"
	    NOTIFIER));
	expect_error(16, 15, "severity: must be 0 (Critical) to 4 (Verbose)");
}
END_TEST

START_TEST(urls_with_credentials_are_not_echoed)
{
	ck_assert_ptr_null(load(TENANT RULE
	    "notifiers:\n"
	    "  - name: mail\n"
	    "    type: email\n"
	    "    url: smpt://glasswatch:Hunter2Secret@mail.example.org\n"
	    "    from: gw@example.org\n"
	    "    to: [soc@example.org]\n"));
	ck_assert_uint_ge(errs.n, 1);
	for (size_t i = 0; i < errs.n; i++)
		ck_assert_msg(strstr(errs.v[i], "Hunter2Secret") == NULL, "%s",
		    errs.v[i]);
	ck_assert_ptr_null(load(
	    "tenants:\n"
	    "  - name: t\n"
	    "    tenant_id: 00000000-0000-0000-0000-000000000000\n"
	    "    cloud: custom\n"
	    "    endpoints: { login: \"ftp://u:Hunter2Secret@x\" }\n"
	    "    credentials: { client_id: 11111111-1111-1111-1111-111111111111,"
	    " client_secret_env: HOME }\n"
	    "    break_glass: [{ object_id: 33333333-3333-3333-3333-333333333333 }]\n"
	    RULE NOTIFIER));
	ck_assert_uint_ge(errs.n, 1);
	for (size_t i = 0; i < errs.n; i++)
		ck_assert_msg(strstr(errs.v[i], "Hunter2Secret") == NULL, "%s",
		    errs.v[i]);
}
END_TEST

START_TEST(history_shorter_than_lookback)
{
	ck_assert_ptr_null(load("history: { keep: 1d }\n" TENANT RULE
	    NOTIFIER));
	expect_error(1, 18, "history.keep must be longer than every "
	    "log_analytics lookback + overlap (tenant 'contoso')");
	ck_assert_ptr_null(load("history: { keep: 3d }\n" TENANT RULE
	    "    suppress: 3d\n" NOTIFIER));
	expect_error(17, 15, "suppress: must be shorter than history.keep");
}
END_TEST

START_TEST(frequency_longer_than_period)
{
	ck_assert_ptr_null(load(TENANT RULE
	    "    period: 1m\n"
	    "    frequency: 5m\n"
	    NOTIFIER));
	expect_error(17, 16, "frequency: must not be longer than period");
	ck_assert_uint_eq(errs.n, 1);
}
END_TEST

START_TEST(severity_out_of_range)
{
	ck_assert_ptr_null(load(TENANT RULE "    severity: 5\n" NOTIFIER));
	expect_error(16, 15, "severity: must be 0 (Critical) to 4 (Verbose)");
	ck_assert_ptr_null(load(TENANT RULE "    severity: -1\n" NOTIFIER));
	expect_error(16, 15, "severity: must be 0 (Critical) to 4 (Verbose)");
}
END_TEST

START_TEST(action_names_no_notifier)
{
	ck_assert_ptr_null(load(TENANT
	    "rules:\n"
	    "  - name: bg\n"
	    "    threshold: { operator: gt, value: 0 }\n"
	    "    actions: [mail, pager]\n"
	    NOTIFIER));
	expect_error(15, 21, "actions: no notifier is named 'pager'");
	ck_assert_uint_eq(errs.n, 1);
}
END_TEST

/* fallback, fallback_after, rate_limit and system_actions: defaults,
 * and every reference checked. */
START_TEST(escalation_keys)
{
	struct config *c;

	c = load(TENANT RULE NOTIFIER
	    "    fallback: pager\n"
	    "    rate_limit: { count: 3, per: 5m }\n"
	    "  - name: pager\n"
	    "    type: email\n"
	    "    url: smtp://127.0.0.1:2526\n"
	    "    tls: none\n"
	    "    from: gw@example.org\n"
	    "    to: [pager@example.org]\n");
	ck_assert_msg(c != NULL, "%s", errs.n ? errs.v[0] : "?");
	ck_assert_str_eq(c->notifiers[0].fallback, "pager");
	ck_assert_int_eq(c->notifiers[0].fallback_after, 600);
	ck_assert_int_eq(c->notifiers[0].rate_limit.count, 3);
	ck_assert_int_eq(c->notifiers[0].rate_limit.per, 300);
	ck_assert_int_eq(c->notifiers[1].rate_limit.count, 0);
	/* No system_actions: every notifier a rule uses. */
	ck_assert_uint_eq(c->system_actions.n, 1);
	ck_assert_str_eq(c->system_actions.v[0], "mail");
	config_free(c);

	ck_assert_ptr_null(load("system_actions: [mail, nobody]\n"
	    TENANT RULE NOTIFIER
	    "    fallback: mail\n"
	    "    fallback_after: 5m\n"
	    "  - name: hook\n"
	    "    type: email\n"
	    "    url: smtp://127.0.0.1:2526\n"
	    "    tls: none\n"
	    "    from: gw@example.org\n"
	    "    to: [x@example.org]\n"
	    "    fallback: ghost\n"
	    "    fallback_after: 1m\n"
	    "    rate_limit: { count: 0, per: 1m }\n"));
	expect_error(1, 24, "system_actions: no notifier is named 'nobody'");
	expect_error(24, 15, "fallback: a notifier cannot be its own "
	    "fallback");
	expect_error(32, 15, "fallback: no notifier is named 'ghost'");
	expect_error(34, 26, "rate_limit: count must be from 1 to 1000000");
	ck_assert_uint_eq(errs.n, 4);

	ck_assert_ptr_null(load("system_actions: []\n" TENANT RULE NOTIFIER
	    "    fallback_after: 5m\n"
	    "    rate_limit: { count: 2 }\n"));
	expect_error(1, 17, "system_actions: an empty list would leave system "
	    "alerts (a blind monitor, a failed delivery) unsent");
	expect_error(24, 5, "fallback_after: needs a fallback");
	expect_error(25, 17, "missing key 'per'");
	ck_assert_uint_eq(errs.n, 3);
}
END_TEST

/* drills.actions and runtime_dir: names checked like a rule's actions;
 * runtime_dir follows systemd's RuntimeDirectory= when unset. */
START_TEST(drills_and_runtime_dir)
{
	struct config *c;

	setenv("RUNTIME_DIRECTORY", "/run/gw-test:/run/other", 1);
	c = load("drills: { actions: [mail] }\n" TENANT RULE NOTIFIER);
	ck_assert_msg(c != NULL, "%s", errs.n ? errs.v[0] : "?");
	ck_assert_uint_eq(c->drill_actions.n, 1);
	ck_assert_str_eq(c->drill_actions.v[0], "mail");
	ck_assert_str_eq(c->runtime_dir, "/run/gw-test");
	config_free(c);
	unsetenv("RUNTIME_DIRECTORY");
	c = load(TENANT RULE NOTIFIER);
	ck_assert_msg(c != NULL, "%s", errs.n ? errs.v[0] : "?");
	ck_assert_uint_eq(c->drill_actions.n, 0);
	ck_assert_str_eq(c->runtime_dir, "/run/glasswatch");
	config_free(c);
	c = load("runtime_dir: /tmp/gw-run\n" TENANT RULE NOTIFIER);
	ck_assert_msg(c != NULL, "%s", errs.n ? errs.v[0] : "?");
	ck_assert_str_eq(c->runtime_dir, "/tmp/gw-run");
	config_free(c);

	ck_assert_ptr_null(load("drills: { actions: [mail, ghost, beat] }\n"
	    TENANT RULE NOTIFIER
	    "  - name: beat\n"
	    "    type: heartbeat\n"
	    "    url: https://hc-ping.example/0b1c\n"));
	expect_error(1, 27, "drills.actions: no notifier is named 'ghost'");
	expect_error(1, 34, "drills.actions: 'beat' is a heartbeat: it "
	    "carries no alerts");
	ck_assert_uint_eq(errs.n, 2);
}
END_TEST

/* A heartbeat is pinged after poll cycles; it carries no alerts. */
START_TEST(heartbeat_carries_no_alerts)
{
	struct config *c;

	c = load("system_actions: [mail]\n" TENANT RULE NOTIFIER
	    "  - name: beat\n"
	    "    type: heartbeat\n"
	    "    url: https://hc-ping.example/0b1c\n"
	    "    fail_url: https://hc-ping.example/0b1c/fail\n");
	ck_assert_msg(c != NULL, "%s", errs.n ? errs.v[0] : "?");
	config_free(c);
	ck_assert_ptr_null(load("system_actions: [beat]\n" TENANT
	    "rules:\n"
	    "  - name: bg\n"
	    "    threshold: { operator: gt, value: 0 }\n"
	    "    actions: [mail, beat]\n"
	    NOTIFIER
	    "  - name: beat\n"
	    "    type: heartbeat\n"
	    "  - name: beat2\n"
	    "    type: heartbeat\n"
	    "    url: http://192.0.2.7/ping\n"));
	expect_error(1, 18, "system_actions: 'beat' is a heartbeat: it "
	    "carries no alerts");
	expect_error(16, 21, "actions: 'beat' is a heartbeat: it carries no "
	    "alerts");
	expect_error(24, 5, "missing key 'url'");
	expect_error(28, 10, "cleartext http:// is allowed only to a loopback "
	    "host (127.0.0.0/8, ::1, localhost)");
	ck_assert_uint_eq(errs.n, 4);
}
END_TEST

START_TEST(secret_file_readable_by_others)
{
	char want[512];

	ck_assert_ptr_null(load(TENANT RULE NOTIFIER
	    "    username: u\n"
	    "    password_file: ${CREDENTIALS_DIRECTORY}/open-secret\n"));
	snprintf(want, sizeof want, "secret file %s/open-secret may be read "
	    "by group or others (mode 0644): make it 0600 or 0400", cfgdir);
	expect_error(24, 20, want);
}
END_TEST

START_TEST(credentials_directory_unset)
{
	unsetenv("CREDENTIALS_DIRECTORY");
	ck_assert_ptr_null(load(TENANT RULE NOTIFIER));
	expect_error(8, 27, "${CREDENTIALS_DIRECTORY} is used but not set "
	    "(systemd sets it with LoadCredential=)");
}
END_TEST

START_TEST(every_error_in_one_run)
{
	ck_assert_ptr_null(load("bogus: 1\n" TENANT
	    "rules:\n"
	    "  - name: bg\n"
	    "    threshold: { operator: gt, value: 0 }\n"
	    "    actions: [nobody]\n"
	    "    severity: 9\n"
	    "    period: soon\n"
	    NOTIFIER "    extra: 1\n"));
	expect_error(1, 1, "unknown key 'bogus'");
	expect_error(16, 15, "actions: no notifier is named 'nobody'");
	expect_error(17, 15, "severity: must be 0 (Critical) to 4 (Verbose)");
	expect_error(18, 13, "period: 'soon' is not a duration: a duration is "
	    "a whole number followed by s, m, h or d");
	expect_error(26, 5, "unknown key 'extra'");
	ck_assert_uint_eq(errs.n, 5);
}
END_TEST

START_TEST(syntax_error_position)
{
	ck_assert_ptr_null(load("tenants:\n  - name: [unclosed\n"));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_msg(strstr(errs.v[0], "g.yaml:3:1: ") != NULL, "%s",
	    errs.v[0]);
}
END_TEST

START_TEST(missing_keys)
{
	ck_assert_ptr_null(load(TENANT
	    "rules:\n"
	    "  - name: bg\n"
	    "    actions: [mail]\n"
	    NOTIFIER));
	expect_error(13, 5, "missing key 'threshold'");
	ck_assert_ptr_null(load(TENANT RULE));
	/* No notifiers: the action names nothing. */
	expect_error(15, 15, "actions: no notifier is named 'mail'");
}
END_TEST

START_TEST(unsupported_features)
{
	ck_assert_ptr_null(load(TENANT RULE "    blind: x\n    signal: audit\n"
	    NOTIFIER
	    "  - name: pager\n"
	    "    type: pager\n"));
	expect_error(16, 5, "unknown key 'blind'");
	expect_error(26, 11, "type: unknown notifier type 'pager' (email, "
	    "sms, webhook or heartbeat)");
	ck_assert_uint_eq(errs.n, 2);
}
END_TEST

/* Log Analytics reads all three signals; each rule keeps its own. */
START_TEST(log_analytics_signals)
{
	struct config *c = load(TENANT
	    "rules:\n"
	    "  - name: sign-in\n"
	    "    signal: sign_in\n"
	    "    match: { result: failure, error_codes: [50126], "
	    "apps: [\"Azure Portal\"] }\n"
	    "    threshold: { operator: gt, value: 5 }\n"
	    "    period: 10m\n"
	    "    actions: [mail]\n"
	    "  - name: non-interactive\n"
	    "    source: log_analytics\n"
	    "    signal: non_interactive_sign_in\n"
	    "    threshold: { operator: gt, value: 0 }\n"
	    "    actions: [mail]\n"
	    "  - name: audit\n"
	    "    source: log_analytics\n"
	    "    signal: audit\n"
	    "    match:\n"
	    "      result: any\n"
	    "      activities: [\"User registered security info\", "
	    "\"Reset password (by admin)\"]\n"
	    "      categories: [UserManagement]\n"
	    "      services: [\"Authentication Methods\"]\n"
	    "    threshold: { operator: gt, value: 0 }\n"
	    "    actions: [mail]\n"
	    "    subject: \"{activity} by {initiator} on {target}\"\n"
	    NOTIFIER);
	const struct rule_config *r;

	ck_assert_msg(c != NULL, "errors: %s", errs.n ? errs.v[0] : "");
	ck_assert_uint_eq(c->nrules, 3);
	r = &c->rules[0];
	ck_assert_int_eq(r->signal, SIGNAL_SIGN_IN);
	ck_assert_int_eq(r->match.result, MATCH_FAILURE);
	ck_assert_uint_eq(r->match.nerror_codes, 1);
	ck_assert_int_eq(r->match.error_codes[0], 50126);
	ck_assert_uint_eq(r->match.apps.n, 1);
	r = &c->rules[1];
	ck_assert_int_eq(r->source, SOURCE_LOG_ANALYTICS);
	ck_assert_int_eq(r->signal, SIGNAL_NON_INTERACTIVE);
	r = &c->rules[2];
	ck_assert_int_eq(r->source, SOURCE_LOG_ANALYTICS);
	ck_assert_int_eq(r->signal, SIGNAL_AUDIT);
	ck_assert_uint_eq(r->match.activities.n, 2);
	ck_assert_str_eq(r->match.activities.v[1], "Reset password (by admin)");
	ck_assert_uint_eq(r->match.categories.n, 1);
	ck_assert_str_eq(r->match.services.v[0], "Authentication Methods");
	config_free(c);
}
END_TEST

/* A tenant with graph: and custom endpoints for it. */
#define GRAPH_TENANT							\
	"tenants:\n"							\
	"  - name: contoso\n"						\
	"    tenant_id: 00000000-0000-0000-0000-0000000000AA\n"		\
	"    cloud: custom\n"						\
	"    endpoints: { login: \"https://127.0.0.1:1\", "		\
	"graph: \"https://127.0.0.1:3\" }\n"				\
	"    credentials:\n"						\
	"      client_id: 11111111-1111-1111-1111-111111111111\n"	\
	"      client_secret_file: ${CREDENTIALS_DIRECTORY}/secret\n"	\
	"    graph: %s\n"						\
	"    break_glass:\n"						\
	"      - { object_id: 33333333-3333-3333-3333-333333333333, "	\
	"upn: bg1@contoso.onmicrosoft.com }\n"

/* Graph reads every signal; graph: takes a lookback (default 2h). */
START_TEST(graph_signals_accepted)
{
	static const char *const signals[] = {
		"sign_in", "non_interactive_sign_in", "audit"
	};
	char text[4096];
	struct config *c;

	for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
		snprintf(text, sizeof text, GRAPH_TENANT "%s    source: graph\n"
		    "    signal: %s\n%s", i == 0 ? "{}" : "{ lookback: 30m }",
		    RULE, signals[i], NOTIFIER);
		c = load(text);
		ck_assert_msg(c != NULL, "errors: %s", errs.n ? errs.v[0] : "");
		ck_assert_int_eq(c->rules[0].source, SOURCE_GRAPH);
		ck_assert_int_eq(c->rules[0].signal, (int)i);
		ck_assert_int_eq(c->tenants[0].graph_enabled, 1);
		ck_assert_int_eq(c->tenants[0].graph_lookback,
		    i == 0 ? 7200 : 1800);
		ck_assert_str_eq(c->tenants[0].endpoints.graph,
		    "https://127.0.0.1:3");
		ck_assert_str_eq(c->tenants[0].scopes.graph,
		    "https://graph.microsoft.com/.default");
		config_free(c);
	}
}
END_TEST

/* A rule reading Graph needs the tenant's graph: section; cloud: custom
 * then needs endpoints.graph; a bad lookback is an error at its value. */
START_TEST(graph_errors)
{
	char text[4096];

	snprintf(text, sizeof text, "%s%s    source: graph\n%s", TENANT, RULE,
	    NOTIFIER);
	ck_assert_ptr_null(load(text));
	expect_error(13, 5, "rule 'bg' reads Graph but tenant 'contoso' has "
	    "no graph: section");
	ck_assert_uint_eq(errs.n, 1);

	snprintf(text, sizeof text,
	    "tenants:\n"
	    "  - name: contoso\n"
	    "    tenant_id: 00000000-0000-0000-0000-0000000000AA\n"
	    "    cloud: custom\n"
	    "    endpoints: { login: \"https://127.0.0.1:1\" }\n"
	    "    credentials:\n"
	    "      client_id: 11111111-1111-1111-1111-111111111111\n"
	    "      client_secret_file: ${CREDENTIALS_DIRECTORY}/secret\n"
	    "    graph: { lookback: 2h }\n"
	    "    break_glass:\n"
	    "      - { object_id: 33333333-3333-3333-3333-333333333333 }\n"
	    "%s    source: graph\n%s", RULE, NOTIFIER);
	ck_assert_ptr_null(load(text));
	expect_error(5, 16, "cloud: custom needs endpoints.graph");
	ck_assert_uint_eq(errs.n, 1);

	snprintf(text, sizeof text, GRAPH_TENANT "%s    source: graph\n%s",
	    "{ lookback: 0s, extra: 1 }", RULE, NOTIFIER);
	ck_assert_ptr_null(load(text));
	ck_assert_uint_eq(errs.n, 2);
}
END_TEST

/* A match key that the signal's records never carry would make a rule
 * that never fires: an error at the key. */
START_TEST(match_keys_of_another_signal)
{
	ck_assert_ptr_null(load(TENANT
	    "rules:\n"
	    "  - name: sign-in\n"
	    "    match: { activities: [\"Update user\"] }\n"
	    "    threshold: { operator: gt, value: 0 }\n"
	    "    actions: [mail]\n"
	    "  - name: non-interactive\n"
	    "    signal: non_interactive_sign_in\n"
	    "    match:\n"
	    "      categories: [UserManagement]\n"
	    "      services: [\"Core Directory\"]\n"
	    "    threshold: { operator: gt, value: 0 }\n"
	    "    actions: [mail]\n"
	    "  - name: audit\n"
	    "    signal: audit\n"
	    "    match: { result: failure, error_codes: [50126], "
	    "apps: [x] }\n"
	    "    threshold: { operator: gt, value: 0 }\n"
	    "    actions: [mail]\n"
	    NOTIFIER));
	expect_error(14, 14, "activities: applies only to signal: audit; a "
	    "rule with signal: sign_in would never match");
	expect_error(20, 7, "categories: applies only to signal: audit; a "
	    "rule with signal: non_interactive_sign_in would never match");
	expect_error(21, 7, "services: applies only to signal: audit; a "
	    "rule with signal: non_interactive_sign_in would never match");
	expect_error(26, 31, "error_codes: applies only to signals sign_in "
	    "and non_interactive_sign_in; a rule with signal: audit would "
	    "never match");
	expect_error(26, 53, "apps: applies only to signals sign_in and "
	    "non_interactive_sign_in; a rule with signal: audit would never "
	    "match");
	ck_assert_uint_eq(errs.n, 5);
}
END_TEST

START_TEST(cleartext_only_to_loopback)
{
	ck_assert_ptr_null(load(
	    "tenants:\n"
	    "  - name: contoso\n"
	    "    tenant_id: 00000000-0000-0000-0000-0000000000AA\n"
	    "    cloud: custom\n"
	    "    endpoints: { login: \"http://login.example\", "
	    "log_analytics: \"http://127.0.0.1:2\" }\n"
	    "    credentials:\n"
	    "      client_id: 11111111-1111-1111-1111-111111111111\n"
	    "      client_secret_file: ${CREDENTIALS_DIRECTORY}/secret\n"
	    "    log_analytics: { workspace_id: "
	    "22222222-2222-2222-2222-222222222222 }\n"
	    "    break_glass: [{ object_id: 33333333-3333-3333-3333-333333333333 }]\n"
	    RULE NOTIFIER));
	expect_error(5, 25, "cleartext http:// is allowed only to a loopback "
	    "host (127.0.0.0/8, ::1, localhost)");
	ck_assert_uint_eq(errs.n, 1);
}
END_TEST

START_TEST(subject_template_errors)
{
	ck_assert_ptr_null(load(TENANT RULE
	    "    subject: \"[{sev}] {nope} {upn}\"\n" NOTIFIER));
	ck_assert_uint_eq(errs.n, 1);
	/* The column points at the unknown placeholder inside the quotes. */
	ck_assert_msg(strstr(errs.v[0], "g.yaml:16:23: subject: ") != NULL,
	    "%s", errs.v[0]);
}
END_TEST

START_TEST(duplicate_names_and_accounts)
{
	ck_assert_ptr_null(load(TENANT RULE
	    "  - name: bg\n"
	    "    threshold: { operator: gt, value: 0 }\n"
	    "    actions: [mail]\n"
	    "    accounts: [nobody@contoso.onmicrosoft.com]\n"
	    NOTIFIER));
	expect_error(16, 11, "rule name 'bg' is used twice");
	expect_error(19, 16, "accounts: 'nobody@contoso.onmicrosoft.com' is "
	    "not a break_glass account of tenant 'contoso'");
}
END_TEST

START_TEST(email_tls_rules)
{
	ck_assert_ptr_null(load(TENANT RULE
	    "notifiers:\n"
	    "  - name: mail\n"
	    "    type: email\n"
	    "    url: smtp://mail.example.org:25\n"
	    "    tls: none\n"
	    "    from: gw@example.org\n"
	    "    to: [soc@example.org]\n"));
	ck_assert_uint_ge(errs.n, 1);
	ck_assert_msg(strstr(errs.v[0], "g.yaml:20:10: ") != NULL, "%s",
	    errs.v[0]);
}
END_TEST

START_TEST(example_file_is_valid)
{
	struct config *c;

	write_file("contoso", "x\n", 0600);
	write_file("smtp", "x\n", 0400);
	config_errors_clear(&errs);
	c = config_load(GW_SOURCE_ROOT "/config/glasswatch.yaml.example",
	    &errs);
	ck_assert_msg(c != NULL, "example: %s", errs.n ? errs.v[0] : "");
	config_free(c);
}
END_TEST

START_TEST(demo_file_is_valid)
{
	struct config *c;

	write_file("demo-client-secret", "x\n", 0600);
	write_file("ca.pem", "x\n", 0644);
	config_errors_clear(&errs);
	c = config_load(GW_SOURCE_ROOT "/config/demo.yaml", &errs);
	ck_assert_msg(c != NULL, "demo: %s", errs.n ? errs.v[0] : "");
	config_free(c);
}
END_TEST

/* ---- credentials ---------------------------------------------------- */

/* make-certs.sh's PKI, made once in main(). */
static char certs[] = "/tmp/check-config-certs-XXXXXX";

static void
cred_setup(void)
{
	char cmd[512];

	cfgtest_setup();
	/* cp keeps the keys' 0600. */
	snprintf(cmd, sizeof cmd, "cp %s/client.pem %s/client.key "
	    "%s/other-client.key %s/server.pem %s/server.key %s/ && "
	    "cp %s/client.key %s/open.key && chmod 0644 %s/open.key",
	    certs, certs, certs, certs, certs, cfgdir, certs, cfgdir, cfgdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A tenant whose credentials mapping (from line 7) is creds. */
#define CRED_TENANT_HEAD						\
	"tenants:\n"							\
	"  - name: contoso\n"						\
	"    tenant_id: 00000000-0000-0000-0000-0000000000AA\n"		\
	"    cloud: custom\n"						\
	"    endpoints: { login: \"https://127.0.0.1:1\", "		\
	"log_analytics: \"https://127.0.0.1:2\" }\n"			\
	"    credentials:\n"
#define CRED_TENANT_TAIL						\
	"    log_analytics: { workspace_id: "				\
	"22222222-2222-2222-2222-222222222222 }\n"			\
	"    break_glass:\n"						\
	"      - { object_id: 33333333-3333-3333-3333-333333333333 }\n"
#define CID	"      client_id: 11111111-1111-1111-1111-111111111111\n"
#define CERT	"      certificate_file: ${CREDENTIALS_DIRECTORY}/client.pem\n"
#define KEY	"      private_key_file: ${CREDENTIALS_DIRECTORY}/client.key\n"
#define SECRET	"      client_secret_file: ${CREDENTIALS_DIRECTORY}/secret\n"

static struct config *
load_cred(const char *creds)
{
	char text[4096];

	snprintf(text, sizeof text, "%s%s%s%s%s", CRED_TENANT_HEAD, creds,
	    CRED_TENANT_TAIL, RULE, NOTIFIER);
	return load(text);
}

START_TEST(certificate_credential)
{
	struct config *c;
	const struct credentials *cr;
	char want[512];

	c = load_cred(CID CERT KEY);
	ck_assert_msg(c != NULL, "errors: %s", errs.n ? errs.v[0] : "");
	cr = &c->tenants[0].credentials;
	snprintf(want, sizeof want, "%s/client.pem", cfgdir);
	ck_assert_str_eq(cr->certificate_file, want);
	snprintf(want, sizeof want, "%s/client.key", cfgdir);
	ck_assert_str_eq(cr->private_key_file, want);
	ck_assert_int_eq(cr->assertion_alg, ASSERTION_PS256);
	ck_assert_int_eq(cr->managed_identity, 0);
	ck_assert_ptr_null(cr->client_secret_file);
	config_free(c);

	c = load_cred(CID CERT KEY "      assertion_alg: RS256\n");
	ck_assert_msg(c != NULL, "errors: %s", errs.n ? errs.v[0] : "");
	ck_assert_int_eq(c->tenants[0].credentials.assertion_alg,
	    ASSERTION_RS256);
	config_free(c);

	ck_assert_ptr_null(load_cred(CID CERT KEY
	    "      assertion_alg: ES256\n"));
	expect_error(10, 22, "assertion_alg: 'ES256' is not one of PS256, "
	    "RS256");
}
END_TEST

START_TEST(certificate_errors)
{
	char want[1024];

	/* A key that belongs to another certificate. */
	ck_assert_ptr_null(load_cred(CID CERT "      private_key_file: "
	    "${CREDENTIALS_DIRECTORY}/other-client.key\n"));
	snprintf(want, sizeof want, "private_key_file: the private key in "
	    "%s/other-client.key does not belong to the certificate in "
	    "%s/client.pem", cfgdir, cfgdir);
	expect_error(9, 25, want);
	ck_assert_uint_eq(errs.n, 1);

	/* A key anyone may read. */
	ck_assert_ptr_null(load_cred(CID CERT "      private_key_file: "
	    "${CREDENTIALS_DIRECTORY}/open.key\n"));
	snprintf(want, sizeof want, "secret file %s/open.key may be read by "
	    "group or others (mode 0644): make it 0600 or 0400", cfgdir);
	expect_error(9, 25, want);

	/* Not an RSA key (an EC server key). */
	ck_assert_ptr_null(load_cred(CID
	    "      certificate_file: ${CREDENTIALS_DIRECTORY}/server.pem\n"
	    "      private_key_file: ${CREDENTIALS_DIRECTORY}/server.key\n"));
	snprintf(want, sizeof want, "private_key_file: %s/server.key: the "
	    "private key is not an RSA key (PS256 and RS256 need one)", cfgdir);
	expect_error(9, 25, want);

	/* Not a certificate. */
	ck_assert_ptr_null(load_cred(CID
	    "      certificate_file: ${CREDENTIALS_DIRECTORY}/secret\n" KEY));
	snprintf(want, sizeof want, "certificate_file: %s/secret holds no "
	    "PEM certificate", cfgdir);
	expect_error(8, 25, want);

	/* Half a pair. */
	ck_assert_ptr_null(load_cred(CID CERT));
	expect_error(7, 7, "certificate_file needs private_key_file too");
	ck_assert_ptr_null(load_cred(CID KEY));
	expect_error(7, 7, "private_key_file needs certificate_file too");

	/* assertion_alg without a certificate. */
	ck_assert_ptr_null(load_cred(CID SECRET
	    "      assertion_alg: RS256\n"));
	expect_error(9, 7, "assertion_alg applies only to a certificate "
	    "credential (certificate_file)");
}
END_TEST

START_TEST(one_kind_of_credential)
{
	static const char one_kind[] = "give one kind of credential: "
	    "client_secret_file, client_secret_env, certificate_file with "
	    "private_key_file, or managed_identity";

	ck_assert_ptr_null(load_cred(CID SECRET CERT KEY));
	expect_error(9, 7, one_kind);
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_ptr_null(load_cred(CID CERT KEY SECRET));
	expect_error(10, 7, one_kind);
	ck_assert_ptr_null(load_cred(CID "      managed_identity: true\n"
	    SECRET));
	expect_error(9, 7, one_kind);
	ck_assert_ptr_null(load_cred(CID SECRET
	    "      client_secret_env: HOME\n"));
	expect_error(9, 26, "give client_secret_file or client_secret_env, "
	    "not both");
	ck_assert_ptr_null(load_cred(CID));
	expect_error(7, 7, "credentials need one of client_secret_file, "
	    "client_secret_env, certificate_file with private_key_file, or "
	    "managed_identity: true");
	/* managed_identity: false is no credential. */
	ck_assert_ptr_null(load_cred(CID "      managed_identity: false\n"));
	expect_error(7, 7, "credentials need one of client_secret_file, "
	    "client_secret_env, certificate_file with private_key_file, or "
	    "managed_identity: true");
	/* Only a managed identity goes without client_id. */
	ck_assert_ptr_null(load_cred(SECRET));
	expect_error(7, 7, "missing key 'client_id'");
}
END_TEST

START_TEST(managed_identity)
{
	struct config *c;

	/* System-assigned: no client_id; IMDS at its link-local address. */
	c = load_cred("      managed_identity: true\n");
	ck_assert_msg(c != NULL, "errors: %s", errs.n ? errs.v[0] : "");
	ck_assert_int_eq(c->tenants[0].credentials.managed_identity, 1);
	ck_assert_ptr_null(c->tenants[0].credentials.client_id);
	ck_assert_str_eq(c->tenants[0].endpoints.imds,
	    "http://169.254.169.254");
	config_free(c);

	/* User-assigned, and IMDS on loopback (tests). */
	c = load(
	    "tenants:\n"
	    "  - name: contoso\n"
	    "    tenant_id: 00000000-0000-0000-0000-0000000000AA\n"
	    "    cloud: custom\n"
	    "    endpoints: { login: \"https://127.0.0.1:1\", "
	    "log_analytics: \"https://127.0.0.1:2\", "
	    "imds: \"http://127.0.0.1:3/\" }\n"
	    "    credentials: { managed_identity: true, "
	    "client_id: 11111111-1111-1111-1111-111111111111 }\n"
	    CRED_TENANT_TAIL RULE NOTIFIER);
	ck_assert_msg(c != NULL, "errors: %s", errs.n ? errs.v[0] : "");
	ck_assert_str_eq(c->tenants[0].endpoints.imds, "http://127.0.0.1:3");
	ck_assert_str_eq(c->tenants[0].credentials.client_id,
	    "11111111-1111-1111-1111-111111111111");
	config_free(c);

	/* A national cloud keeps its endpoints but may name IMDS. */
	c = load(
	    "tenants:\n"
	    "  - name: contoso\n"
	    "    tenant_id: 00000000-0000-0000-0000-0000000000AA\n"
	    "    endpoints: { imds: \"http://169.254.169.254\" }\n"
	    "    credentials: { managed_identity: true }\n"
	    CRED_TENANT_TAIL RULE NOTIFIER);
	ck_assert_msg(c != NULL, "errors: %s", errs.n ? errs.v[0] : "");
	ck_assert_str_eq(c->tenants[0].endpoints.login,
	    "https://login.microsoftonline.com");
	config_free(c);

	/* Cleartext anywhere else is refused. */
	ck_assert_ptr_null(load(
	    "tenants:\n"
	    "  - name: contoso\n"
	    "    tenant_id: 00000000-0000-0000-0000-0000000000AA\n"
	    "    endpoints: { imds: \"http://10.1.2.3\" }\n"
	    "    credentials: { managed_identity: true }\n"
	    CRED_TENANT_TAIL RULE NOTIFIER));
	expect_error(4, 24, "imds: cleartext http:// is allowed only to the "
	    "link-local metadata address (169.254.0.0/16) or a loopback "
	    "host");
	ck_assert_uint_eq(errs.n, 1);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, cfgtest_setup, cfgtest_teardown);
	tcase_add_test(tc, good_file_and_defaults);
	tcase_add_test(tc, drills_and_runtime_dir);
	tcase_add_test(tc, public_cloud_fills_endpoints);
	tcase_add_test(tc, state_dir_from_systemd);
	tcase_add_test(tc, unknown_key);
	tcase_add_test(tc, tenant_without_name);
	tcase_add_test(tc, wrong_types);
	tcase_add_test(tc, bad_durations);
	tcase_add_test(tc, zero_frequency_refused);
	tcase_add_test(tc, bad_guid);
	tcase_add_test(tc, frequency_longer_than_period);
	tcase_add_test(tc, huge_severity_is_not_wrapped);
	tcase_add_test(tc, urls_with_credentials_are_not_echoed);
	tcase_add_test(tc, history_shorter_than_lookback);
	tcase_add_test(tc, severity_out_of_range);
	tcase_add_test(tc, action_names_no_notifier);
	tcase_add_test(tc, escalation_keys);
	tcase_add_test(tc, heartbeat_carries_no_alerts);
	tcase_add_test(tc, secret_file_readable_by_others);
	tcase_add_test(tc, credentials_directory_unset);
	tcase_add_test(tc, every_error_in_one_run);
	tcase_add_test(tc, syntax_error_position);
	tcase_add_test(tc, missing_keys);
	tcase_add_test(tc, unsupported_features);
	tcase_add_test(tc, log_analytics_signals);
	tcase_add_test(tc, graph_signals_accepted);
	tcase_add_test(tc, graph_errors);
	tcase_add_test(tc, match_keys_of_another_signal);
	tcase_add_test(tc, cleartext_only_to_loopback);
	tcase_add_test(tc, subject_template_errors);
	tcase_add_test(tc, duplicate_names_and_accounts);
	tcase_add_test(tc, email_tls_rules);
	tcase_add_test(tc, example_file_is_valid);
	tcase_add_test(tc, demo_file_is_valid);
	suite_add_tcase(s, tc);

	tc = tcase_create("credentials");
	tcase_add_checked_fixture(tc, cred_setup, cfgtest_teardown);
	tcase_add_test(tc, certificate_credential);
	tcase_add_test(tc, certificate_errors);
	tcase_add_test(tc, one_kind_of_credential);
	tcase_add_test(tc, managed_identity);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	char cmd[512];
	int failed;

	if (system("openssl version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "openssl missing: skipped\n");
		return 77;
	}
	if (mkdtemp(certs) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	snprintf(cmd, sizeof cmd, "/bin/sh %s/tests/sim/make-certs.sh %s",
	    GW_SOURCE_ROOT, certs);
	if (system(cmd) != 0) {
		fprintf(stderr, "make-certs.sh failed\n");
		return EXIT_FAILURE;
	}
	sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	config_errors_clear(&errs);
	snprintf(cmd, sizeof cmd, "rm -rf %s", certs);
	if (system(cmd) != 0)
		failed++;
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
