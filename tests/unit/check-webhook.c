/* check-webhook: the webhook notifier's six body formats (each parsed back
 * with jansson and checked field by field against the shape README.md
 * documents), text escaping for Slack and Teams, severity mapping, the
 * Standard Webhooks signature against independently computed vectors, and
 * the notifier's configuration checks. The HTTP exchange itself is covered
 * by tests/integration/test_webhook.py. */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "alert.h"
#include "buf.h"
#include "cfgtest.h"
#include "config.h"
#include "notifier.h"
#include "record.h"
#include "webhook-format.h"
#include "webhook-sign.h"
#include "xmalloc.h"

/* 2026-11-22T03:49:15.123456Z */
#define T0		(INT64_C(1795319355) * 1000000 + 123456)
#define T0_ISO		"2026-11-22T03:49:15.123456Z"
#define ALERT_ID	"gw-0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"
#define TENANT_ID	"00000000-0000-0000-0000-0000000000aa"
#define BG_OID		"33333333-3333-3333-3333-333333333333"
#define BG_UPN		"bg1@contoso.onmicrosoft.com"

static struct record *
signin_record(void)
{
	struct record *r = record_new();

	r->signal = SIGNAL_SIGN_IN;
	r->tenant = xstrdup("contoso");
	r->id = xstrdup("rec-1");
	r->event_us = T0 - 60 * INT64_C(1000000);
	r->ingest_us = T0 - 30 * INT64_C(1000000);
	r->received_us = T0 - 1000000;
	r->user_id = xstrdup(BG_OID);
	r->upn = xstrdup(BG_UPN);
	r->ip = xstrdup("203.0.113.7");
	/* Attacker-chosen text: markup for every renderer. */
	r->location = xstrdup("<!channel> & [click](https://evil.example)");
	r->app = xstrdup("*Portal*_x_\r\nInjected: line");
	r->success = 0;
	r->result_code = 50126;
	r->failure_reason = xstrdup("Invalid username or password");
	r->correlation_id = xstrdup("c0rre1a7-1d00-0000-0000-000000000001");
	return r;
}

static struct record *
audit_record(void)
{
	struct record *r = record_new();

	r->signal = SIGNAL_AUDIT;
	r->tenant = xstrdup("contoso");
	r->id = xstrdup("rec-2");
	r->event_us = T0 - 10 * INT64_C(1000000);
	r->user_id = xstrdup(BG_OID);
	r->success = 1;
	r->activity = xstrdup("Reset password (by admin)");
	r->category = xstrdup("UserManagement");
	r->service = xstrdup("Core Directory");
	r->initiator = xstrdup("mallory@contoso.onmicrosoft.com");
	r->initiator_id = xstrdup("66666666-6666-6666-6666-666666666666");
	r->target = xstrdup(BG_UPN);
	r->target_ids = xstrdup(BG_OID " 77777777-7777-7777-7777-777777777777");
	r->modified = xstrdup("PasswordProfile: [] -> [<redacted>]");
	/* Not UTF-8: must come out as U+FFFD, not lose the page. */
	r->upn = xstrdup("bad\xff\xfe" "byte");
	return r;
}

static struct alert *
sample_alert(void)
{
	struct alert *a = alert_new(ALERT_EVENT);

	free(a->id);
	a->id = xstrdup(ALERT_ID);
	a->created_us = T0;
	a->rule = xstrdup("break-glass-sign-in");
	a->description = xstrdup("An emergency access account signed in");
	a->severity = 0;
	a->tenant = xstrdup("contoso");
	a->tenant_id = xstrdup(TENANT_ID);
	a->account_oid = xstrdup(BG_OID);
	a->account_upn = xstrdup(BG_UPN);
	a->subject = xstrdup("[Sev0] break-glass-sign-in: " BG_UPN
	    " from <b>203.0.113.7</b>");
	a->count = 2;
	alert_add_record(a, signin_record());
	alert_add_record(a, audit_record());
	return a;
}

static json_t *
body_of(enum webhook_format f, const struct alert *a, const char *rkey)
{
	json_error_t e;
	json_t *root;
	size_t len = 0;
	char *s;

	s = webhook_format_body(f, a, rkey, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(len, strlen(s));
	root = json_loads(s, JSON_REJECT_DUPLICATES, &e);
	ck_assert_msg(root != NULL, "not JSON (%s): %s", e.text, s);
	free(s);
	return root;
}

/* The string at a path like "data.essentials.alertId" or "records.0.ip". */
static json_t *
at(json_t *root, const char *path)
{
	char *copy = xstrdup(path), *save = NULL, *tok;
	json_t *v = root;

	for (tok = strtok_r(copy, ".", &save); tok != NULL && v != NULL;
	    tok = strtok_r(NULL, ".", &save)) {
		if (json_is_array(v))
			v = json_array_get(v, (size_t)atoi(tok));
		else
			v = json_object_get(v, tok);
	}
	ck_assert_msg(v != NULL, "no %s", path);
	free(copy);
	return v;
}

#define ck_str_at(root, path, want) do {				\
	json_t *v_ = at((root), (path));				\
	ck_assert_msg(json_is_string(v_), "%s is not a string", (path));	\
	ck_assert_str_eq(json_string_value(v_), (want));		\
} while (0)
#define ck_int_at(root, path, want) do {				\
	json_t *v_ = at((root), (path));				\
	ck_assert_msg(json_is_integer(v_), "%s is not a number", (path));	\
	ck_assert_int_eq(json_integer_value(v_), (want));		\
} while (0)
#define ck_null_at(root, path)						\
	ck_assert_msg(json_is_null(at((root), (path))), "%s is not null",	\
	    (path))
#define ck_has(hay, needle)						\
	ck_assert_msg(strstr((hay), (needle)) != NULL,			\
	    "'%s' not found in:\n%s", (needle), (hay))
#define ck_lacks(hay, needle)						\
	ck_assert_msg(strstr((hay), (needle)) == NULL,			\
	    "'%s' found in:\n%s", (needle), (hay))

/* ---- json ------------------------------------------------------------ */

static void
check_alert_object(json_t *o)
{
	ck_str_at(o, "schema", "glasswatch.alert/v1");
	ck_str_at(o, "id", ALERT_ID);
	ck_str_at(o, "kind", "event");
	ck_assert(json_is_false(at(o, "test")));
	ck_str_at(o, "rule", "break-glass-sign-in");
	ck_str_at(o, "description", "An emergency access account signed in");
	ck_int_at(o, "severity", 0);
	ck_str_at(o, "severity_name", "Critical");
	ck_str_at(o, "sev", "Sev0");
	ck_str_at(o, "tenant", "contoso");
	ck_str_at(o, "tenant_id", TENANT_ID);
	ck_str_at(o, "account.upn", BG_UPN);
	ck_str_at(o, "account.object_id", BG_OID);
	ck_str_at(o, "created", T0_ISO);
	ck_str_at(o, "summary", "[Sev0] break-glass-sign-in: " BG_UPN
	    " from <b>203.0.113.7</b>");
	ck_str_at(o, "subject", "[Sev0] break-glass-sign-in: " BG_UPN
	    " from <b>203.0.113.7</b>");
	ck_str_at(o, "headline", "Break-glass account " BG_UPN ": 2 records");
	ck_int_at(o, "count", 2);
	ck_str_at(o, "generator.name", "glasswatch");
	ck_str_at(o, "generator.version", GLASSWATCH_VERSION);
	ck_assert_uint_eq(json_array_size(at(o, "records")), 2);

	ck_str_at(o, "records.0.signal", "sign_in");
	ck_str_at(o, "records.0.id", "rec-1");
	ck_str_at(o, "records.0.tenant", "contoso");
	ck_str_at(o, "records.0.time", "2026-11-22T03:48:15.123456Z");
	ck_str_at(o, "records.0.ingested", "2026-11-22T03:48:45.123456Z");
	ck_str_at(o, "records.0.received", "2026-11-22T03:49:14.123456Z");
	ck_str_at(o, "records.0.user_id", BG_OID);
	ck_str_at(o, "records.0.upn", BG_UPN);
	ck_str_at(o, "records.0.ip", "203.0.113.7");
	ck_str_at(o, "records.0.location",
	    "<!channel> & [click](https://evil.example)");
	/* JSON carries the text exactly; jansson escapes it. */
	ck_str_at(o, "records.0.app", "*Portal*_x_\r\nInjected: line");
	ck_assert(json_is_false(at(o, "records.0.success")));
	ck_str_at(o, "records.0.result", "failure:50126");
	ck_int_at(o, "records.0.result_code", 50126);
	ck_str_at(o, "records.0.failure_reason",
	    "Invalid username or password");
	ck_str_at(o, "records.0.correlation_id",
	    "c0rre1a7-1d00-0000-0000-000000000001");
	ck_null_at(o, "records.0.activity");
	ck_null_at(o, "records.0.category");
	ck_null_at(o, "records.0.service");
	ck_null_at(o, "records.0.initiator");
	ck_null_at(o, "records.0.initiator_id");
	ck_null_at(o, "records.0.target");
	ck_assert_uint_eq(json_array_size(at(o, "records.0.target_ids")), 0);

	ck_str_at(o, "records.1.signal", "audit");
	ck_null_at(o, "records.1.ingested");
	ck_null_at(o, "records.1.received");
	ck_null_at(o, "records.1.ip");
	ck_str_at(o, "records.1.upn", "bad\xef\xbf\xbd\xef\xbf\xbd" "byte");
	ck_assert(json_is_true(at(o, "records.1.success")));
	ck_str_at(o, "records.1.result", "success");
	ck_int_at(o, "records.1.result_code", 0);
	ck_str_at(o, "records.1.activity", "Reset password (by admin)");
	ck_str_at(o, "records.1.category", "UserManagement");
	ck_str_at(o, "records.1.service", "Core Directory");
	ck_str_at(o, "records.1.initiator", "mallory@contoso.onmicrosoft.com");
	ck_str_at(o, "records.1.initiator_id",
	    "66666666-6666-6666-6666-666666666666");
	ck_str_at(o, "records.1.target", BG_UPN);
	ck_assert_uint_eq(json_array_size(at(o, "records.1.target_ids")), 2);
	ck_str_at(o, "records.1.target_ids.0", BG_OID);
	ck_str_at(o, "records.1.target_ids.1",
	    "77777777-7777-7777-7777-777777777777");
	ck_null_at(o, "records.0.modified");
	ck_str_at(o, "records.1.modified",
	    "PasswordProfile: [] -> [<redacted>]");
	/* Exactly the documented keys, no more. */
	ck_int_at(o, "records_omitted", 0);
	ck_assert_uint_eq(json_object_size(o), 20);
	ck_assert_uint_eq(json_object_size(at(o, "records.0")), 24);
}

START_TEST(format_json)
{
	struct alert *a = sample_alert();
	json_t *o = body_of(WEBHOOK_JSON, a, NULL);

	check_alert_object(o);
	json_decref(o);
	alert_free(a);
}
END_TEST

START_TEST(format_json_system_and_test_alerts)
{
	struct alert *a = alert_new(ALERT_SYSTEM);
	json_t *o;

	a->severity = 1;
	a->subject = xstrdup("monitoring blind: contoso");
	o = body_of(WEBHOOK_JSON, a, NULL);
	ck_str_at(o, "kind", "system");
	ck_null_at(o, "rule");
	ck_null_at(o, "tenant");
	ck_null_at(o, "account.upn");
	ck_str_at(o, "severity_name", "Error");
	ck_int_at(o, "count", 0);
	ck_assert_uint_eq(json_array_size(at(o, "records")), 0);
	json_decref(o);
	alert_free(a);

	a = alert_new(ALERT_TEST);
	a->severity = 4;
	o = body_of(WEBHOOK_JSON, a, NULL);
	ck_assert(json_is_true(at(o, "test")));
	ck_str_at(o, "sev", "Sev4");
	ck_str_at(o, "severity_name", "Verbose");
	ck_assert_msg(strncmp(json_string_value(at(o, "summary")),
	    "[TEST] [Sev4] TEST ALERT", 24) == 0, "%s",
	    json_string_value(at(o, "summary")));
	json_decref(o);
	alert_free(a);
}
END_TEST

/* ---- azure-common-alert ------------------------------------------------ */

START_TEST(format_azure)
{
	struct alert *a = sample_alert();
	json_t *o = body_of(WEBHOOK_AZURE, a, NULL);

	ck_str_at(o, "schemaId", "azureMonitorCommonAlertSchema");
	ck_str_at(o, "data.essentials.alertId", "glasswatch/" ALERT_ID);
	ck_str_at(o, "data.essentials.alertRule", "break-glass-sign-in");
	ck_str_at(o, "data.essentials.severity", "Sev0");
	ck_str_at(o, "data.essentials.signalType", "Log");
	ck_str_at(o, "data.essentials.monitorCondition", "Fired");
	ck_str_at(o, "data.essentials.monitoringService", "glasswatch");
	ck_assert_uint_eq(json_array_size(at(o,
	    "data.essentials.alertTargetIDs")), 1);
	ck_str_at(o, "data.essentials.alertTargetIDs.0",
	    "/tenants/" TENANT_ID "/users/" BG_OID);
	ck_str_at(o, "data.essentials.configurationItems.0", BG_UPN);
	ck_str_at(o, "data.essentials.originAlertId", ALERT_ID);
	ck_str_at(o, "data.essentials.firedDateTime",
	    "2026-11-22T03:49:15.1234560Z");
	ck_str_at(o, "data.essentials.description",
	    "An emergency access account signed in");
	ck_str_at(o, "data.essentials.essentialsVersion", "1.0");
	ck_str_at(o, "data.essentials.alertContextVersion", "1.0");
	ck_null_at(o, "data.customProperties");
	check_alert_object(at(o, "data.alertContext.glasswatch"));
	json_decref(o);

	/* Sev3 and a system alert without a rule or an account. */
	alert_free(a);
	a = alert_new(ALERT_SYSTEM);
	a->severity = 3;
	a->tenant_id = xstrdup(TENANT_ID);
	o = body_of(WEBHOOK_AZURE, a, NULL);
	ck_str_at(o, "data.essentials.severity", "Sev3");
	ck_str_at(o, "data.essentials.alertRule", "glasswatch-system");
	ck_str_at(o, "data.essentials.alertTargetIDs.0", "/tenants/" TENANT_ID);
	ck_assert_uint_eq(json_array_size(at(o,
	    "data.essentials.configurationItems")), 0);
	json_decref(o);
	alert_free(a);
}
END_TEST

/* ---- slack ------------------------------------------------------------ */

/* Every text of a Slack message, joined. */
static void
slack_texts(json_t *v, struct buf *out)
{
	const char *k;
	json_t *x;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, k, x) {
			if (strcmp(k, "text") == 0 && json_is_string(x)) {
				buf_puts(out, json_string_value(x));
				buf_putc(out, '\n');
			} else
				slack_texts(x, out);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			slack_texts(x, out);
	}
}

START_TEST(format_slack)
{
	struct alert *a = sample_alert();
	json_t *o = body_of(WEBHOOK_SLACK, a, NULL), *blocks;
	struct buf all;

	ck_str_at(o, "text", "[Sev0] break-glass-sign-in: " BG_UPN
	    " from &lt;b&gt;203.0.113.7&lt;/b&gt;");
	blocks = at(o, "blocks");
	/* heading, fields, two records, the context line */
	ck_assert_uint_eq(json_array_size(blocks), 5);
	ck_str_at(o, "blocks.0.type", "section");
	ck_str_at(o, "blocks.0.text.type", "mrkdwn");
	ck_str_at(o, "blocks.0.text.text", "*[Sev0] break-glass-sign-in: "
	    BG_UPN " from &lt;b&gt;203.0.113.7&lt;/b&gt;*\n"
	    "Break-glass account " BG_UPN ": 2 records");
	ck_assert_uint_eq(json_array_size(at(o, "blocks.1.fields")), 6);
	ck_str_at(o, "blocks.1.fields.0.type", "mrkdwn");
	ck_str_at(o, "blocks.1.fields.0.text", "*Rule*\nbreak-glass-sign-in");
	ck_str_at(o, "blocks.1.fields.1.text", "*Severity*\nSev0 (Critical)");
	ck_str_at(o, "blocks.1.fields.2.text", "*Tenant*\ncontoso");
	ck_str_at(o, "blocks.1.fields.3.text", "*Account*\n" BG_UPN);
	ck_str_at(o, "blocks.1.fields.4.text", "*Records*\n2");
	ck_str_at(o, "blocks.1.fields.5.text", "*Raised*\n2026-11-22T03:49:15Z");
	ck_str_at(o, "blocks.2.type", "section");
	ck_has(json_string_value(at(o, "blocks.2.text.text")),
	    "*Location:* &lt;!channel&gt; &amp; [click](https://evil.example)");
	/* CR/LF became spaces: no fake line. */
	ck_has(json_string_value(at(o, "blocks.2.text.text")),
	    "*App:* *Portal*_x_  Injected: line");
	ck_has(json_string_value(at(o, "blocks.3.text.text")),
	    "*Activity:* Reset password (by admin)");
	ck_has(json_string_value(at(o, "blocks.3.text.text")),
	    "*Modified:* PasswordProfile: [] -&gt; [&lt;redacted&gt;]");
	ck_str_at(o, "blocks.4.type", "context");
	ck_str_at(o, "blocks.4.elements.0.type", "mrkdwn");
	ck_has(json_string_value(at(o, "blocks.4.elements.0.text")),
	    ALERT_ID);

	buf_init(&all);
	slack_texts(o, &all);
	ck_lacks(buf_cstr(&all), "<");
	ck_lacks(buf_cstr(&all), ">");
	ck_lacks(buf_cstr(&all), "\r");
	buf_free(&all);
	json_decref(o);
	alert_free(a);
}
END_TEST

START_TEST(format_slack_many_records)
{
	struct alert *a = sample_alert();
	json_t *o;

	for (int i = 0; i < 6; i++)
		alert_add_record(a, signin_record());
	o = body_of(WEBHOOK_SLACK, a, NULL);
	ck_assert_uint_eq(json_array_size(at(o, "blocks")),
	    2 + WEBHOOK_SHOWN_RECORDS + 1);
	ck_has(json_string_value(at(o, "blocks.7.elements.0.text")),
	    "and 3 more records");
	json_decref(o);
	alert_free(a);
}
END_TEST

struct escape_case {
	const char	*in;
	size_t		 max;
	const char	*want;
};

static void
check_escapes(void (*escape)(struct buf *, const char *, size_t),
    const struct escape_case *cases, size_t n)
{
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; i < n; i++) {
		buf_reset(&b);
		escape(&b, cases[i].in, cases[i].max);
		ck_assert_msg(strcmp(buf_cstr(&b), cases[i].want) == 0,
		    "case %zu: '%s' gave '%s', not '%s'", i, cases[i].in,
		    buf_cstr(&b), cases[i].want);
	}
	buf_free(&b);
}

START_TEST(escape_slack)
{
	static const struct escape_case cases[] = {
		{ "<!channel> a&b <https://x|y>", 100,
		  "&lt;!channel&gt; a&amp;b &lt;https://x|y&gt;" },
		{ NULL, 100, "-" },
		{ "", 100, "-" },
		{ "a\tb\nc\x7f" "d", 100, "a b c d" },
		/* Cut on a whole entity, and marked. */
		{ "abcd&&&&", 12, "abcd&amp;..." },
		{ "abc&", 8, "abc&amp;" },
		/* Never half a UTF-8 character. */
		{ "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 7,
		  "\xc3\xa9\xc3\xa9..." },
		{ "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 8,
		  "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9" },
		/* Not UTF-8: the replacement character. */
		{ "a\xff" "b", 100, "a\xef\xbf\xbd" "b" },
	};

	check_escapes(webhook_slack_escape, cases,
	    sizeof cases / sizeof cases[0]);
}
END_TEST

/* ---- teams ------------------------------------------------------------ */

START_TEST(format_teams)
{
	struct alert *a = sample_alert();
	json_t *o = body_of(WEBHOOK_TEAMS, a, NULL), *facts;

	ck_str_at(o, "type", "message");
	ck_assert_uint_eq(json_array_size(at(o, "attachments")), 1);
	ck_str_at(o, "attachments.0.contentType",
	    "application/vnd.microsoft.card.adaptive");
	ck_null_at(o, "attachments.0.contentUrl");
	ck_str_at(o, "attachments.0.content.$schema",
	    "http://adaptivecards.io/schemas/adaptive-card.json");
	ck_str_at(o, "attachments.0.content.type", "AdaptiveCard");
	ck_str_at(o, "attachments.0.content.version", "1.2");
	ck_str_at(o, "attachments.0.content.msteams.width", "Full");
	ck_str_at(o, "attachments.0.content.body.0.type", "TextBlock");
	ck_str_at(o, "attachments.0.content.body.0.weight", "Bolder");
	ck_str_at(o, "attachments.0.content.body.0.size", "Medium");
	ck_str_at(o, "attachments.0.content.body.0.style", "heading");
	ck_str_at(o, "attachments.0.content.body.0.color", "Attention");
	ck_assert(json_is_true(at(o, "attachments.0.content.body.0.wrap")));
	ck_str_at(o, "attachments.0.content.body.0.text",
	    "\\[Sev0\\] break-glass-sign-in: " BG_UPN
	    " from \\<b\\>203.0.113.7\\</b\\>");
	ck_str_at(o, "attachments.0.content.body.1.text",
	    "Break-glass account " BG_UPN ": 2 records");
	ck_str_at(o, "attachments.0.content.body.2.type", "FactSet");
	facts = at(o, "attachments.0.content.body.2.facts");
	ck_assert_uint_eq(json_array_size(facts), 7);
	ck_str_at(facts, "0.title", "Rule");
	ck_str_at(facts, "0.value", "break-glass-sign-in");
	ck_str_at(facts, "1.value", "Sev0 (Critical)");
	ck_str_at(facts, "2.value", "contoso");
	ck_str_at(facts, "3.value", BG_UPN);
	ck_str_at(facts, "4.value", "2");
	ck_str_at(facts, "5.value", "2026-11-22T03:49:15Z");
	ck_str_at(facts, "6.title", "Alert ID");
	ck_str_at(facts, "6.value", ALERT_ID);
	/* Record 1: heading then facts; the attacker's link is text. */
	ck_str_at(o, "attachments.0.content.body.3.text", "Record 1 of 2");
	facts = at(o, "attachments.0.content.body.4.facts");
	ck_str_at(facts, "2.title", "UPN");
	ck_str_at(facts, "4.title", "Location");
	ck_str_at(facts, "4.value",
	    "\\<!channel\\> & \\[click\\](https://evil.example)");
	ck_str_at(facts, "5.value", "\\*Portal\\*\\_x\\_  Injected: line");
	ck_str_at(facts, "6.value", "failure:50126");
	ck_str_at(o, "attachments.0.content.body.5.text", "Record 2 of 2");
	json_decref(o);
	alert_free(a);
}
END_TEST

START_TEST(escape_teams)
{
	static const struct escape_case cases[] = {
		{ "# 1. *a* _b_ `c` [d](e) <f> ~g~ \\", 200,
		  "\\# 1. \\*a\\* \\_b\\_ \\`c\\` \\[d\\](e) \\<f\\> \\~g\\~ "
		  "\\\\" },
		/* List markers only where the value starts. */
		{ "- x - y", 200, "\\- x - y" },
		{ "+1) x", 200, "\\+1) x" },
		{ "12. x 3.4", 200, "12\\. x 3.4" },
		{ "7) x", 200, "7\\) x" },
		{ "12.", 200, "12\\." },
		{ "203.0.113.7", 200, "203.0.113.7" },
		{ "2026-11-22 1) +x", 200, "2026-11-22 1) +x" },
		/* Inside a word an underscore is no markup; at its edge
		 * it is. */
		{ "sign_in _x_ a_ _b", 200, "sign_in \\_x\\_ a\\_ \\_b" },
		{ "a\r\nb", 200, "a  b" },
		{ "[[[[", 7, "\\[\\[..." },
	};

	check_escapes(webhook_teams_escape, cases,
	    sizeof cases / sizeof cases[0]);
}
END_TEST

/* ---- pagerduty -------------------------------------------------------- */

START_TEST(format_pagerduty)
{
	struct alert *a = sample_alert();
	json_t *o = body_of(WEBHOOK_PAGERDUTY, a,
	    "R0UT1NGKEY0123456789abcdefABCDEF");
	size_t n;

	ck_str_at(o, "routing_key", "R0UT1NGKEY0123456789abcdefABCDEF");
	ck_str_at(o, "event_action", "trigger");
	ck_str_at(o, "dedup_key", ALERT_ID);
	ck_str_at(o, "client", "glasswatch");
	ck_str_at(o, "payload.summary", "[Sev0] break-glass-sign-in: " BG_UPN
	    " from <b>203.0.113.7</b>");
	ck_str_at(o, "payload.source", "contoso");
	ck_str_at(o, "payload.severity", "critical");
	ck_str_at(o, "payload.timestamp", T0_ISO);
	ck_str_at(o, "payload.component", BG_UPN);
	ck_str_at(o, "payload.group", "break-glass-sign-in");
	ck_str_at(o, "payload.class", "event");
	check_alert_object(at(o, "payload.custom_details"));
	json_decref(o);

	/* A long subject is cut to 1024 bytes, on a character boundary. */
	free(a->subject);
	a->subject = xmalloc(3000);
	for (n = 0; n < 2998; n += 2)
		memcpy(a->subject + n, "\xc3\xa9", 2);
	a->subject[n] = '\0';
	o = body_of(WEBHOOK_PAGERDUTY, a, "k");
	n = strlen(json_string_value(at(o, "payload.summary")));
	ck_assert_uint_eq(n, 1024);
	json_decref(o);
	free(a->subject);
	a->subject = xmalloc(3000);
	memset(a->subject, 'x', 1);
	for (n = 1; n < 2999; n += 2)
		memcpy(a->subject + n, "\xc3\xa9", 2);
	a->subject[n] = '\0';
	o = body_of(WEBHOOK_PAGERDUTY, a, "k");
	ck_assert_uint_eq(strlen(json_string_value(at(o, "payload.summary"))),
	    1023);
	json_decref(o);

	/* A large digest: the first 100 records, the rest counted. */
	for (int i = 0; i < 150; i++)
		alert_add_record(a, signin_record());
	o = body_of(WEBHOOK_PAGERDUTY, a, "k");
	ck_assert_uint_eq(json_array_size(at(o,
	    "payload.custom_details.records")), WEBHOOK_PD_MAX_RECORDS);
	ck_int_at(o, "payload.custom_details.records_omitted", 52);
	json_decref(o);
	o = body_of(WEBHOOK_JSON, a, NULL);
	ck_assert_uint_eq(json_array_size(at(o, "records")), 152);
	ck_int_at(o, "records_omitted", 0);
	json_decref(o);
	alert_free(a);
}
END_TEST

START_TEST(severity_mapping)
{
	static const char *const want[] = {
		"critical", "error", "warning", "info", "info"
	};
	struct alert *a = sample_alert();
	json_t *o;

	for (int s = 0; s <= 4; s++) {
		ck_assert_str_eq(webhook_pagerduty_severity(s), want[s]);
		a->severity = s;
		o = body_of(WEBHOOK_PAGERDUTY, a, "k");
		ck_str_at(o, "payload.severity", want[s]);
		json_decref(o);
		o = body_of(WEBHOOK_ALERTMANAGER, a, NULL);
		ck_str_at(o, "0.labels.severity", want[s]);
		json_decref(o);
	}
	ck_assert_str_eq(webhook_pagerduty_severity(-1), "critical");
	ck_assert_str_eq(webhook_pagerduty_severity(9), "info");
	alert_free(a);
}
END_TEST

/* ---- alertmanager ----------------------------------------------------- */

START_TEST(format_alertmanager)
{
	struct alert *a = sample_alert();
	json_t *o = body_of(WEBHOOK_ALERTMANAGER, a, NULL);

	ck_assert(json_is_array(o));
	ck_assert_uint_eq(json_array_size(o), 1);
	ck_str_at(o, "0.labels.alertname", "break-glass-sign-in");
	ck_str_at(o, "0.labels.severity", "critical");
	ck_str_at(o, "0.labels.tenant", "contoso");
	ck_str_at(o, "0.labels.account", BG_UPN);
	ck_str_at(o, "0.labels.rule", "break-glass-sign-in");
	ck_str_at(o, "0.labels.kind", "event");
	ck_str_at(o, "0.labels.glasswatch_alert_id", ALERT_ID);
	ck_assert_uint_eq(json_object_size(at(o, "0.labels")), 7);
	ck_str_at(o, "0.annotations.summary", "[Sev0] break-glass-sign-in: "
	    BG_UPN " from <b>203.0.113.7</b>");
	ck_has(json_string_value(at(o, "0.annotations.description")),
	    "Alert ID:       " ALERT_ID);
	ck_str_at(o, "0.startsAt", T0_ISO);
	ck_assert_ptr_null(json_object_get(json_array_get(o, 0), "endsAt"));
	json_decref(o);

	/* No empty label: Alertmanager drops them; alertname never is. */
	alert_free(a);
	a = alert_new(ALERT_SYSTEM);
	o = body_of(WEBHOOK_ALERTMANAGER, a, NULL);
	ck_str_at(o, "0.labels.alertname", "glasswatch-system");
	ck_assert_ptr_null(json_object_get(at(o, "0.labels"), "rule"));
	ck_assert_ptr_null(json_object_get(at(o, "0.labels"), "tenant"));
	ck_assert_ptr_null(json_object_get(at(o, "0.labels"), "account"));
	json_decref(o);
	alert_free(a);
}
END_TEST

/* ---- signing ---------------------------------------------------------- */

START_TEST(signature_vectors)
{
	unsigned char *key;
	size_t keylen;
	const char *why = NULL;
	const char *body = "{\"test\": 2432232314}";
	char *sig;

	/* The Standard Webhooks specification's example, checked with
	 * Python's hmac module. */
	ck_assert_int_eq(webhook_key_decode(
	    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", &key, &keylen, &why),
	    0);
	ck_assert_uint_eq(keylen, 24);
	sig = webhook_sign(key, keylen, "msg_p5jXN8AQM9LWM0D4loKWxJek",
	    1614265330, body, strlen(body));
	ck_assert_str_eq(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
	free(sig);
	freezero(key, keylen);

	/* A raw key is used as written. */
	ck_assert_int_eq(webhook_key_decode("a raw key of thirty-two bytes!!!",
	    &key, &keylen, &why), 0);
	ck_assert_uint_eq(keylen, 32);
	sig = webhook_sign(key, keylen,
	    "gw-00000000-0000-4000-8000-000000000001", 1795319355,
	    "{\"a\":1}", 7);
	ck_assert_str_eq(sig, "v1,EGzUYPq52aA+3vC0bnhnqDLTjLHMMhIp/msfO8YReKo=");
	free(sig);
	freezero(key, keylen);
}
END_TEST

START_TEST(signature_bad_keys)
{
	unsigned char *key = (unsigned char *)"x";
	size_t keylen = 1;
	const char *why = NULL;

	ck_assert_int_eq(webhook_key_decode("whsec_not*base64!", &key,
	    &keylen, &why), -1);
	ck_assert_ptr_null(key);
	ck_assert_ptr_nonnull(why);
	ck_assert_int_eq(webhook_key_decode("whsec_MfKQ9r8GKYqrTwjUPD8IL",
	    &key, &keylen, &why), -1);
	/* 12 bytes decoded: too short. */
	ck_assert_int_eq(webhook_key_decode("whsec_AAAAAAAAAAAAAAAA", &key,
	    &keylen, &why), -1);
	ck_assert_int_eq(webhook_key_decode("short", &key, &keylen, &why),
	    -1);
	ck_assert_int_eq(webhook_key_decode("whsec_", &key, &keylen, &why),
	    -1);
	ck_assert_uint_eq(keylen, 0);
}
END_TEST

/* ---- configuration ---------------------------------------------------- */

static void
cfg_setup(void)
{
	cfgtest_setup();
	write_file("hook-url", "https://hooks.example/services/T0/B0/"
	    "tok3n\n", 0600);
	write_file("plain-url", "http://hooks.example/x\n", 0600);
	write_file("hook-key", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
	    0600);
	write_file("short-key", "short\n", 0600);
	write_file("open-key", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
	    0644);
	write_file("pd-key", "R0UT1NGKEY0123456789abcdefABCDEF\n", 0600);
}

#define HEAD								\
	CFGTEST_TENANT							\
	"rules:\n"							\
	"  - name: bg\n"						\
	"    threshold: { operator: gt, value: 0 }\n"			\
	"    actions: [hook]\n"						\
	"notifiers:\n"							\
	"  - name: hook\n"						\
	"    type: webhook\n"
/* Line 19 is the first key after type:. */

static struct config *
load(const char *notifier_keys)
{
	char *text = xasprintf("%s%s", HEAD, notifier_keys);
	struct config *c = load_yaml(text);

	free(text);
	return c;
}

static void
expect_ok(struct config *c)
{
	ck_assert_msg(c != NULL, "errors: %s", errs.n ? errs.v[0] : "");
	ck_assert_ptr_eq(c->notifiers[0].ops, &notify_webhook_ops);
}

static const char *
only_recipient(struct config *c)
{
	static char out[256];
	struct strlist l = { 0 };

	c->notifiers[0].ops->recipients(c->notifiers[0].conf, &l);
	ck_assert_uint_eq(l.n, 1);
	snprintf(out, sizeof out, "%s", l.v[0]);
	strlist_clear(&l);
	return out;
}

START_TEST(config_good)
{
	struct config *c;

	ck_assert_ptr_eq(notifier_find("webhook"), &notify_webhook_ops);

	c = load("    url: https://hooks.example/path/?a=1\n");
	expect_ok(c);
	ck_assert_str_eq(only_recipient(c), "https://hooks.example");
	config_free(c);

	c = load("    url_file: ${CREDENTIALS_DIRECTORY}/hook-url\n"
	    "    format: slack\n"
	    "    secret_file: ${CREDENTIALS_DIRECTORY}/hook-key\n"
	    "    headers: { X-Team: soc, Authorization: \"Bearer abc\" }\n"
	    "    ca_file: ${CREDENTIALS_DIRECTORY}/secret\n");
	expect_ok(c);
	/* The origin only: the path is the token. */
	ck_assert_str_eq(only_recipient(c), "https://hooks.example");
	config_free(c);

	c = load("    format: pagerduty\n"
	    "    routing_key_file: ${CREDENTIALS_DIRECTORY}/pd-key\n");
	expect_ok(c);
	ck_assert_str_eq(only_recipient(c), "https://events.pagerduty.com");
	config_free(c);

	c = load("    url: http://127.0.0.1:9093\n"
	    "    format: alertmanager\n");
	expect_ok(c);
	ck_assert_str_eq(only_recipient(c), "http://127.0.0.1:9093");
	config_free(c);
}
END_TEST

START_TEST(config_errors)
{
	ck_assert_ptr_null(load("    format: json\n"));
	expect_error(17, 5, "a webhook needs url or url_file");

	ck_assert_ptr_null(load("    url: https://a.example\n"
	    "    url_file: ${CREDENTIALS_DIRECTORY}/hook-url\n"));
	expect_error(20, 15, "url_file: give url or url_file, not both");

	ck_assert_ptr_null(load("    url: http://hooks.example/secret\n"));
	expect_error(19, 10, "url: cleartext http:// is allowed only to a "
	    "loopback host (127.0.0.0/8, ::1, localhost)");
	ck_assert_ptr_null(load("    url: ftp://hooks.example/secret\n"));
	expect_error(19, 10, "url: the URL must be https:// (or http:// to "
	    "a loopback host)");
	ck_assert_ptr_null(load("    url: https://u:p@hooks.example/\n"));
	expect_error(19, 10, "url: a URL holding credentials belongs in "
	    "url_file");
	for (size_t i = 0; i < errs.n; i++)
		ck_assert_msg(strstr(errs.v[i], "u:p@") == NULL, "%s",
		    errs.v[i]);

	ck_assert_ptr_null(load("    url_file: ${CREDENTIALS_DIRECTORY}/"
	    "plain-url\n"));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_ptr_nonnull(strstr(errs.v[0], "cleartext http://"));
	ck_assert_ptr_null(strstr(errs.v[0], "hooks.example"));

	ck_assert_ptr_null(load("    url: https://a.example\n"
	    "    format: teams2\n"));
	expect_error(20, 13, "format: 'teams2' is not one of json, "
	    "azure-common-alert, slack, teams, pagerduty, alertmanager");

	ck_assert_ptr_null(load("    format: pagerduty\n"));
	expect_error(17, 5, "format: pagerduty needs routing_key_file");
	ck_assert_ptr_null(load("    url: https://a.example\n"
	    "    routing_key_file: ${CREDENTIALS_DIRECTORY}/pd-key\n"));
	expect_error(20, 23, "routing_key_file: only for format: pagerduty");

	ck_assert_ptr_null(load("    url: https://a.example\n"
	    "    secret_file: ${CREDENTIALS_DIRECTORY}/short-key\n"));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_ptr_nonnull(strstr(errs.v[0], "the key must be 16 to 1024"));
	ck_assert_ptr_null(strstr(errs.v[0], "short\n"));
	ck_assert_ptr_null(load("    url: https://a.example\n"
	    "    secret_file: ${CREDENTIALS_DIRECTORY}/open-key\n"));
	ck_assert_ptr_nonnull(strstr(errs.v[0], "may be read by group"));

	ck_assert_ptr_null(load("    url: https://a.example\n"
	    "    headers:\n"
	    "      Content-Type: text/plain\n"
	    "      webhook-signature: forged\n"
	    "      \"Bad Name\": x\n"
	    "      X-A: \"one\\r\\nX-B: two\"\n"
	    "      x-c: 1\n"
	    "      X-C: 2\n"));
	expect_error(21, 7, "headers: Content-Type is set by glasswatch and "
	    "cannot be given");
	expect_error(22, 7, "headers: webhook-signature is set by glasswatch "
	    "and cannot be given");
	expect_error(23, 7, "headers: 'Bad Name' is not a header name");
	expect_error(24, 12, "headers: the value of X-A must not hold "
	    "control characters (CR, LF, ...)");
	expect_error(26, 7, "headers: X-C is given twice");
	ck_assert_uint_eq(errs.n, 5);
	ck_assert_ptr_null(load("    url: https://a.example\n"
	    "    headers: [a, b]\n"));
	expect_error(20, 14, "headers: expected a mapping of header names "
	    "to values");
}
END_TEST

static Suite *
webhook_suite(void)
{
	Suite *s = suite_create("webhook");
	TCase *tc = tcase_create("formats");

	tcase_add_test(tc, format_json);
	tcase_add_test(tc, format_json_system_and_test_alerts);
	tcase_add_test(tc, format_azure);
	tcase_add_test(tc, format_slack);
	tcase_add_test(tc, format_slack_many_records);
	tcase_add_test(tc, escape_slack);
	tcase_add_test(tc, format_teams);
	tcase_add_test(tc, escape_teams);
	tcase_add_test(tc, format_pagerduty);
	tcase_add_test(tc, severity_mapping);
	tcase_add_test(tc, format_alertmanager);
	suite_add_tcase(s, tc);

	tc = tcase_create("signing");
	tcase_add_test(tc, signature_vectors);
	tcase_add_test(tc, signature_bad_keys);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_checked_fixture(tc, cfg_setup, cfgtest_teardown);
	tcase_add_test(tc, config_good);
	tcase_add_test(tc, config_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(webhook_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
