/*
 * The webhook bodies. Each format is a pure function of the alert, built
 * with jansson (record fields come from attackers: JSON escaping is
 * jansson's, never ours), so each can be tested without a network.
 *
 * Text meant for people (Slack mrkdwn, Teams card markdown) is escaped for
 * its renderer as well, kept on one line per value and cut to the
 * services' limits. Bytes that are not UTF-8 become U+FFFD: jansson
 * refuses them, and a page must not be lost over one bad byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "alert.h"
#include "buf.h"
#include "log.h"
#include "record.h"
#include "timeutil.h"
#include "webhook-format.h"
#include "xmalloc.h"

const char *const webhook_format_names[] = {
	"json", "azure-common-alert", "slack", "teams", "pagerduty",
	"alertmanager", NULL
};

static const char *const wf_pd_severities[] = {
	"critical", "error", "warning", "info", "info"
};

/* Chat values: a record field gets this many bytes, a heading more. */
#define WF_VALUE_MAX	300
#define WF_HEADING_MAX	1000

/* ---- text ----------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0. */
static size_t
wf_utf8_len(const unsigned char *p)
{
	uint32_t cp, min;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
		min = 0x80;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
		min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
		min = 0x10000;
	} else
		return 0;
	/* A NUL is never a continuation byte: this stops at the end. */
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

#define WF_REPLACEMENT	"\xef\xbf\xbd"	/* U+FFFD */

static char *
wf_utf8_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	struct buf b;
	size_t n;

	buf_init(&b);
	while (*p != '\0') {
		if ((n = wf_utf8_len(p)) == 0) {
			buf_puts(&b, WF_REPLACEMENT);
			p++;
			continue;
		}
		buf_append(&b, p, n);
		p += n;
	}
	return buf_steal(&b);
}

/* A JSON string of any text (never NULL). */
static json_t *
wf_text(const char *s)
{
	json_t *v;
	char *clean;

	if (s == NULL)
		s = "";
	if ((v = json_string(s)) != NULL)
		return v;
	clean = wf_utf8_clean(s);
	v = json_string(clean);
	free(clean);
	if (v == NULL)
		fatalx("json_string refused cleaned UTF-8");
	return v;
}

/* A value that may be missing: null when NULL or empty. */
static json_t *
wf_str(const char *s)
{
	if (s == NULL || *s == '\0')
		return json_null();
	return wf_text(s);
}

static json_t *
wf_time(int64_t us)
{
	char tmp[TIME_ISO_LEN];

	if (us == 0)
		return json_null();
	time_format_iso8601(us, tmp);
	return json_string(tmp);
}

static int
wf_alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* Where a character stands in its value, for Markdown list markers. */
enum wf_pos { WF_FIRST, WF_AFTER_DIGITS, WF_INSIDE };

/* One unit of escaped output for the character at *pp (advanced): what a
 * chat renderer must not read as markup. */
static size_t
wf_escape_unit(const unsigned char **pp, int teams, enum wf_pos pos,
    unsigned char prev, char out[8])
{
	const unsigned char *p = *pp;
	size_t n;

	if ((n = wf_utf8_len(p)) == 0) {
		*pp = p + 1;
		memcpy(out, WF_REPLACEMENT, 3);
		return 3;
	}
	*pp = p + n;
	if (n > 1) {
		memcpy(out, p, n);
		return n;
	}
	if (*p < 0x20 || *p == 0x7f) {
		out[0] = ' ';
		return 1;
	}
	if (!teams) {
		/* Slack: the three characters its mrkdwn parses as
		 * markup (<!channel>, links); everything else is text. */
		switch (*p) {
		case '&':
			memcpy(out, "&amp;", 5);
			return 5;
		case '<':
			memcpy(out, "&lt;", 4);
			return 4;
		case '>':
			memcpy(out, "&gt;", 4);
			return 4;
		default:
			out[0] = (char)*p;
			return 1;
		}
	}
	/* Teams: CommonMark backslash escapes for emphasis, links (no
	 * link without its [text]), code, headings, HTML, and for list
	 * markers where the value starts. An underscore inside a word
	 * (sign_in) cannot start emphasis and stays as it is. */
	if (*p == '_' && wf_alnum(prev) && wf_alnum(p[1])) {
		out[0] = '_';
		return 1;
	}
	if (strchr("\\*_[]~`#<>", *p) != NULL ||
	    (pos == WF_FIRST && (*p == '-' || *p == '+')) ||
	    (pos == WF_AFTER_DIGITS && (*p == '.' || *p == ')') &&
	    (p[1] == ' ' || p[1] == '\t' || p[1] == '\0'))) {
		out[0] = '\\';
		out[1] = (char)*p;
		return 2;
	}
	out[0] = (char)*p;
	return 1;
}

static enum wf_pos
wf_next_pos(enum wf_pos pos, unsigned char c)
{
	if (pos != WF_INSIDE && c >= '0' && c <= '9')
		return WF_AFTER_DIGITS;
	return WF_INSIDE;
}

static void
wf_escape(struct buf *b, const char *s, size_t max, int teams)
{
	const unsigned char *p;
	size_t total = 0, n, limit, used = 0;
	enum wf_pos pos;
	unsigned char prev;
	char unit[8];

	if (s == NULL || *s == '\0') {
		buf_putc(b, '-');
		return;
	}
	/* First the whole length: cut only what does not fit. */
	pos = WF_FIRST;
	prev = '\0';
	for (p = (const unsigned char *)s; *p != '\0'; ) {
		unsigned char c = *p;

		total += wf_escape_unit(&p, teams, pos, prev, unit);
		pos = wf_next_pos(pos, c);
		prev = c;
	}
	limit = total <= max ? total : (max > 3 ? max - 3 : 0);
	pos = WF_FIRST;
	prev = '\0';
	for (p = (const unsigned char *)s; *p != '\0'; ) {
		unsigned char c = *p;

		n = wf_escape_unit(&p, teams, pos, prev, unit);
		pos = wf_next_pos(pos, c);
		prev = c;
		if (used + n > limit)
			break;
		buf_append(b, unit, n);
		used += n;
	}
	if (total > max)
		buf_puts(b, "...");
}

void
webhook_slack_escape(struct buf *b, const char *s, size_t max)
{
	wf_escape(b, s, max, 0);
}

void
webhook_teams_escape(struct buf *b, const char *s, size_t max)
{
	wf_escape(b, s, max, 1);
}

/* ---- what every format says ----------------------------------------- */

const char *
webhook_pagerduty_severity(int severity)
{
	if (severity < 0)
		severity = 0;
	if (severity > 4)
		severity = 4;
	return wf_pd_severities[severity];
}

char *
webhook_summary(const struct alert *a)
{
	char *head = NULL, *s;
	const char *test = "";

	if (a->kind == ALERT_TEST && (a->subject == NULL ||
	    strncmp(a->subject, "[TEST] ", 7) != 0))
		test = "[TEST] ";
	if (a->subject != NULL && *a->subject != '\0')
		s = xasprintf("%s%s", test, a->subject);
	else {
		head = alert_headline(a);
		s = xasprintf("%s[Sev%d] %s", test, a->severity, head);
		free(head);
	}
	for (char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return s;
}

/* The tenant an alert is about: its own, else its first record's. */
static const char *
wf_tenant(const struct alert *a)
{
	if (a->tenant != NULL && *a->tenant != '\0')
		return a->tenant;
	if (a->nrecords > 0)
		return a->records[0]->tenant;
	return NULL;
}

static const char *
wf_account(const struct alert *a)
{
	if (a->account_upn != NULL && *a->account_upn != '\0')
		return a->account_upn;
	if (a->account_oid != NULL && *a->account_oid != '\0')
		return a->account_oid;
	return NULL;
}

/* Records counted: an absence alert carries none but found some. */
static long
wf_count(const struct alert *a)
{
	return a->kind == ALERT_ABSENCE ? a->count : (long)a->nrecords;
}

/* A name for the alert's rule even when no rule raised it. */
static char *
wf_rule_name(const struct alert *a)
{
	if (a->rule != NULL && *a->rule != '\0')
		return xstrdup(a->rule);
	return xasprintf("glasswatch-%s", alert_kind_name(a->kind));
}

static char *
wf_dump(json_t *root, size_t *lenp)
{
	char *s;

	s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (s == NULL)
		fatalx("json_dumps failed");
	*lenp = strlen(s);
	return s;
}

/* ---- json: glasswatch.alert/v1 ----------------------------------------- */

static json_t *
wf_record_json(const struct record *r)
{
	json_t *o = json_object(), *ids = json_array();
	const char *p, *q;
	char result[32], *id;

	json_object_set_new(o, "signal", json_string(signal_name(r->signal)));
	json_object_set_new(o, "id", wf_str(r->id));
	json_object_set_new(o, "tenant", wf_str(r->tenant));
	json_object_set_new(o, "time", wf_time(r->event_us));
	json_object_set_new(o, "ingested", wf_time(r->ingest_us));
	json_object_set_new(o, "received", wf_time(r->received_us));
	json_object_set_new(o, "user_id", wf_str(r->user_id));
	json_object_set_new(o, "upn", wf_str(r->upn));
	json_object_set_new(o, "ip", wf_str(r->ip));
	json_object_set_new(o, "location", wf_str(r->location));
	json_object_set_new(o, "app", wf_str(r->app));
	json_object_set_new(o, "success", json_boolean(r->success));
	json_object_set_new(o, "result",
	    json_string(record_result_text(r, result, sizeof result)));
	json_object_set_new(o, "result_code", json_integer(r->result_code));
	json_object_set_new(o, "failure_reason", wf_str(r->failure_reason));
	json_object_set_new(o, "correlation_id", wf_str(r->correlation_id));
	json_object_set_new(o, "activity", wf_str(r->activity));
	json_object_set_new(o, "category", wf_str(r->category));
	json_object_set_new(o, "service", wf_str(r->service));
	json_object_set_new(o, "initiator", wf_str(r->initiator));
	json_object_set_new(o, "initiator_id", wf_str(r->initiator_id));
	json_object_set_new(o, "target", wf_str(r->target));
	for (p = r->target_ids; p != NULL && *p != '\0'; p = q) {
		while (*p == ' ')
			p++;
		for (q = p; *q != '\0' && *q != ' '; q++)
			;
		if (q == p)
			break;
		id = xstrndup(p, (size_t)(q - p));
		json_array_append_new(ids, wf_text(id));
		free(id);
	}
	json_object_set_new(o, "target_ids", ids);
	json_object_set_new(o, "modified", wf_str(r->modified));
	return o;
}

/* The object with at most max records (the rest counted). */
static json_t *
wf_alert_json(const struct alert *a, size_t max)
{
	json_t *o = json_object(), *acct = json_object(), *recs;
	char sev[8], *s;

	json_object_set_new(o, "schema", json_string(WEBHOOK_SCHEMA));
	json_object_set_new(o, "id", wf_str(a->id));
	json_object_set_new(o, "kind", json_string(alert_kind_name(a->kind)));
	json_object_set_new(o, "test", json_boolean(a->kind == ALERT_TEST));
	json_object_set_new(o, "rule", wf_str(a->rule));
	json_object_set_new(o, "description", wf_str(a->description));
	json_object_set_new(o, "severity", json_integer(a->severity));
	json_object_set_new(o, "severity_name",
	    json_string(alert_severity_name(a->severity)));
	snprintf(sev, sizeof sev, "Sev%d", a->severity);
	json_object_set_new(o, "sev", json_string(sev));
	json_object_set_new(o, "tenant", wf_str(wf_tenant(a)));
	json_object_set_new(o, "tenant_id", wf_str(a->tenant_id));
	json_object_set_new(acct, "upn", wf_str(a->account_upn));
	json_object_set_new(acct, "object_id", wf_str(a->account_oid));
	json_object_set_new(o, "account", acct);
	json_object_set_new(o, "created", wf_time(a->created_us));
	s = webhook_summary(a);
	json_object_set_new(o, "summary", wf_text(s));
	free(s);
	json_object_set_new(o, "subject", wf_str(a->subject));
	if (a->drill != NULL)
		json_object_set_new(o, "drill", wf_text(a->drill));
	s = alert_headline(a);
	json_object_set_new(o, "headline", wf_text(s));
	free(s);
	json_object_set_new(o, "count", json_integer(wf_count(a)));
	recs = json_array();
	for (size_t i = 0; i < a->nrecords && i < max; i++)
		json_array_append_new(recs, wf_record_json(a->records[i]));
	json_object_set_new(o, "records", recs);
	json_object_set_new(o, "records_omitted", json_integer(
	    a->nrecords > max ? (json_int_t)(a->nrecords - max) : 0));
	json_object_set_new(o, "generator", json_pack("{s:s, s:s}",
	    "name", "glasswatch", "version", GLASSWATCH_VERSION));
	return o;
}

json_t *
webhook_alert_json(const struct alert *a)
{
	return wf_alert_json(a, SIZE_MAX);
}

/* ---- azure-common-alert --------------------------------------------- */

/* firedDateTime as Azure writes it: seven fractional digits. */
static json_t *
wf_azure_time(int64_t us)
{
	char tmp[TIME_ISO_LEN], out[TIME_ISO_LEN + 2];
	size_t len;

	time_format_iso8601(us, tmp);
	len = strlen(tmp);		/* ...ss.ffffffZ */
	snprintf(out, sizeof out, "%.*s0Z", (int)(len - 1), tmp);
	return json_string(out);
}

static json_t *
wf_azure(const struct alert *a)
{
	json_t *ess = json_object(), *targets = json_array(),
	    *items = json_array(), *ctx = json_object(), *data;
	char sev[8], *id, *rule, *head;
	const char *tid = a->tenant_id != NULL && *a->tenant_id != '\0' ?
	    a->tenant_id : "-";

	id = xasprintf("glasswatch/%s", a->id != NULL ? a->id : "-");
	json_object_set_new(ess, "alertId", wf_text(id));
	free(id);
	rule = wf_rule_name(a);
	json_object_set_new(ess, "alertRule", wf_text(rule));
	free(rule);
	snprintf(sev, sizeof sev, "Sev%d", a->severity);
	json_object_set_new(ess, "severity", json_string(sev));
	json_object_set_new(ess, "signalType", json_string("Log"));
	json_object_set_new(ess, "monitorCondition", json_string("Fired"));
	json_object_set_new(ess, "monitoringService",
	    json_string("glasswatch"));
	if (a->account_oid != NULL && *a->account_oid != '\0')
		id = xasprintf("/tenants/%s/users/%s", tid, a->account_oid);
	else
		id = xasprintf("/tenants/%s", tid);
	json_array_append_new(targets, wf_text(id));
	free(id);
	json_object_set_new(ess, "alertTargetIDs", targets);
	if (wf_account(a) != NULL)
		json_array_append_new(items, wf_text(wf_account(a)));
	json_object_set_new(ess, "configurationItems", items);
	json_object_set_new(ess, "originAlertId", wf_text(a->id));
	json_object_set_new(ess, "firedDateTime", wf_azure_time(a->created_us));
	if (a->description != NULL && *a->description != '\0')
		json_object_set_new(ess, "description", wf_text(a->description));
	else {
		head = alert_headline(a);
		json_object_set_new(ess, "description", wf_text(head));
		free(head);
	}
	json_object_set_new(ess, "essentialsVersion", json_string("1.0"));
	json_object_set_new(ess, "alertContextVersion", json_string("1.0"));

	json_object_set_new(ctx, "glasswatch", webhook_alert_json(a));
	data = json_object();
	json_object_set_new(data, "essentials", ess);
	json_object_set_new(data, "alertContext", ctx);
	json_object_set_new(data, "customProperties", json_null());
	return json_pack("{s:s, s:o}", "schemaId",
	    "azureMonitorCommonAlertSchema", "data", data);
}

/* ---- what chat messages show --------------------------------------- */

#define WF_MAX_FACTS	16

/* Label and value pairs, in the order a person reads them; the values
 * point into the alert or into the struct's own buffers. */
struct wf_facts {
	const char	*label[WF_MAX_FACTS];
	const char	*value[WF_MAX_FACTS];
	size_t		 n;
	char		 sev[48];
	char		 count[32];
	char		 time[TIME_ISO_LEN];
	char		 result[32];
};

static void
wf_fact(struct wf_facts *f, const char *label, const char *value)
{
	if (f->n < WF_MAX_FACTS) {
		f->label[f->n] = label;
		f->value[f->n++] = value;
	}
}

static void
wf_alert_facts(const struct alert *a, struct wf_facts *f)
{
	f->n = 0;
	wf_fact(f, "Rule", a->rule);
	snprintf(f->sev, sizeof f->sev, "Sev%d (%s)", a->severity,
	    alert_severity_name(a->severity));
	wf_fact(f, "Severity", f->sev);
	wf_fact(f, "Tenant", wf_tenant(a));
	wf_fact(f, "Account", wf_account(a));
	snprintf(f->count, sizeof f->count, "%ld", wf_count(a));
	wf_fact(f, "Records", f->count);
	time_format_iso8601_sec(a->created_us, f->time);
	wf_fact(f, "Raised", f->time);
}

static void
wf_record_facts(const struct record *r, struct wf_facts *f)
{
	f->n = 0;
	if (r->event_us != 0)
		time_format_iso8601_sec(r->event_us, f->time);
	wf_fact(f, "Time", r->event_us != 0 ? f->time : NULL);
	wf_fact(f, "Type", signal_name(r->signal));
	if (r->signal == SIGNAL_AUDIT) {
		wf_fact(f, "Activity", r->activity);
		wf_fact(f, "Initiator", r->initiator);
		wf_fact(f, "Target", r->target);
		if (r->modified != NULL)
			wf_fact(f, "Modified", r->modified);
	}
	wf_fact(f, "UPN", r->upn);
	wf_fact(f, "IP", r->ip);
	wf_fact(f, "Location", r->location);
	wf_fact(f, "App", r->app);
	wf_fact(f, "Result", record_result_text(r, f->result,
	    sizeof f->result));
	if (!r->success && r->failure_reason != NULL)
		wf_fact(f, "Reason", r->failure_reason);
	wf_fact(f, "Correlation ID", r->correlation_id);
}

/* What both chat formats start from. */
struct wf_chat {
	struct buf	 b;		/* the text being built */
	char		*summary;
	char		*head;
	struct wf_facts	 f;
};

static void
wf_chat_init(struct wf_chat *c, const struct alert *a)
{
	buf_init(&c->b);
	c->summary = webhook_summary(a);
	c->head = alert_headline(a);
}

static void
wf_chat_free(struct wf_chat *c)
{
	buf_free(&c->b);
	free(c->summary);
	free(c->head);
}

/* ---- slack ---------------------------------------------------------- */

static json_t *
wf_mrkdwn(struct buf *b)
{
	json_t *t = json_pack("{s:s, s:o}", "type", "mrkdwn", "text",
	    wf_text(buf_cstr(b)));

	buf_reset(b);
	return t;
}

/* One section per record: its facts as lines. */
static json_t *
wf_slack_record(struct buf *b, const struct alert *a, size_t i)
{
	struct wf_facts f;

	buf_printf(b, "*Record %zu of %zu*", i + 1, a->nrecords);
	wf_record_facts(a->records[i], &f);
	for (size_t k = 0; k < f.n; k++) {
		buf_printf(b, "\n*%s:* ", f.label[k]);
		webhook_slack_escape(b, f.value[k], WF_VALUE_MAX);
	}
	return json_pack("{s:s, s:o}", "type", "section", "text",
	    wf_mrkdwn(b));
}

static json_t *
wf_slack(const struct alert *a)
{
	json_t *blocks = json_array(), *fields = json_array(), *text;
	struct wf_chat c;

	wf_chat_init(&c, a);
	webhook_slack_escape(&c.b, c.summary, WF_HEADING_MAX);
	text = wf_text(buf_cstr(&c.b));
	buf_reset(&c.b);
	buf_puts(&c.b, "*");
	webhook_slack_escape(&c.b, c.summary, WF_HEADING_MAX);
	buf_puts(&c.b, "*\n");
	webhook_slack_escape(&c.b, c.head, WF_HEADING_MAX);
	json_array_append_new(blocks, json_pack("{s:s, s:o}", "type",
	    "section", "text", wf_mrkdwn(&c.b)));

	/* Slack shows at most 10 fields: the alert's facts are 6. */
	wf_alert_facts(a, &c.f);
	for (size_t k = 0; k < c.f.n; k++) {
		buf_printf(&c.b, "*%s*\n", c.f.label[k]);
		webhook_slack_escape(&c.b, c.f.value[k], WF_VALUE_MAX);
		json_array_append_new(fields, wf_mrkdwn(&c.b));
	}
	json_array_append_new(blocks, json_pack("{s:s, s:o}", "type",
	    "section", "fields", fields));

	for (size_t i = 0; i < a->nrecords && i < WEBHOOK_SHOWN_RECORDS; i++)
		json_array_append_new(blocks, wf_slack_record(&c.b, a, i));
	if (a->nrecords > WEBHOOK_SHOWN_RECORDS)
		buf_printf(&c.b, "... and %zu more records (see the alert "
		    "mail or the JSON webhook)", a->nrecords -
		    WEBHOOK_SHOWN_RECORDS);
	else
		buf_puts(&c.b, "glasswatch");
	buf_puts(&c.b, " | alert ");
	webhook_slack_escape(&c.b, a->id, WF_VALUE_MAX);
	json_array_append_new(blocks, json_pack("{s:s, s:[o]}", "type",
	    "context", "elements", wf_mrkdwn(&c.b)));

	wf_chat_free(&c);
	return json_pack("{s:o, s:o}", "text", text, "blocks", blocks);
}

/* ---- teams ---------------------------------------------------------- */

static json_t *
wf_teams_textblock(struct buf *b, int heading)
{
	json_t *t = json_pack("{s:s, s:o, s:b}", "type", "TextBlock", "text",
	    wf_text(buf_cstr(b)), "wrap", 1);

	buf_reset(b);
	if (heading) {
		json_object_set_new(t, "weight", json_string("Bolder"));
		json_object_set_new(t, "size", json_string("Medium"));
		json_object_set_new(t, "style", json_string("heading"));
	}
	return t;
}

static void
wf_teams_fact(struct buf *b, json_t *facts, const char *title,
    const char *value)
{
	webhook_teams_escape(b, value, WF_VALUE_MAX);
	json_array_append_new(facts, json_pack("{s:s, s:o}", "title", title,
	    "value", wf_text(buf_cstr(b))));
	buf_reset(b);
}

/* A FactSet of the facts, and one more when extra_label is not NULL. */
static json_t *
wf_teams_factset(struct buf *b, const struct wf_facts *f,
    const char *extra_label, const char *extra)
{
	json_t *facts = json_array();

	for (size_t k = 0; k < f->n; k++)
		wf_teams_fact(b, facts, f->label[k], f->value[k]);
	if (extra_label != NULL)
		wf_teams_fact(b, facts, extra_label, extra);
	return json_pack("{s:s, s:o}", "type", "FactSet", "facts", facts);
}

static json_t *
wf_teams(const struct alert *a)
{
	json_t *body = json_array(), *card, *t;
	struct wf_chat c;

	wf_chat_init(&c, a);
	webhook_teams_escape(&c.b, c.summary, WF_HEADING_MAX);
	t = wf_teams_textblock(&c.b, 1);
	if (a->severity <= 1 && a->kind != ALERT_TEST)
		json_object_set_new(t, "color", json_string("Attention"));
	json_array_append_new(body, t);
	webhook_teams_escape(&c.b, c.head, WF_HEADING_MAX);
	json_array_append_new(body, wf_teams_textblock(&c.b, 0));
	wf_alert_facts(a, &c.f);
	json_array_append_new(body, wf_teams_factset(&c.b, &c.f, "Alert ID",
	    a->id));

	for (size_t i = 0; i < a->nrecords && i < WEBHOOK_SHOWN_RECORDS;
	    i++) {
		buf_printf(&c.b, "Record %zu of %zu", i + 1, a->nrecords);
		t = wf_teams_textblock(&c.b, 0);
		json_object_set_new(t, "weight", json_string("Bolder"));
		json_object_set_new(t, "separator", json_true());
		json_array_append_new(body, t);
		wf_record_facts(a->records[i], &c.f);
		json_array_append_new(body, wf_teams_factset(&c.b, &c.f, NULL,
		    NULL));
	}
	if (a->nrecords > WEBHOOK_SHOWN_RECORDS) {
		buf_printf(&c.b, "... and %zu more records", a->nrecords -
		    WEBHOOK_SHOWN_RECORDS);
		json_array_append_new(body, wf_teams_textblock(&c.b, 0));
	}
	wf_chat_free(&c);

	card = json_pack("{s:s, s:s, s:s, s:o, s:{s:s}}",
	    "$schema", "http://adaptivecards.io/schemas/adaptive-card.json",
	    "type", "AdaptiveCard", "version", "1.2", "body", body,
	    "msteams", "width", "Full");
	return json_pack("{s:s, s:[{s:s, s:n, s:o}]}", "type", "message",
	    "attachments", "contentType",
	    "application/vnd.microsoft.card.adaptive", "contentUrl",
	    "content", card);
}

/* ---- pagerduty ------------------------------------------------------ */

/* At most max bytes, never cutting a UTF-8 sequence. */
static char *
wf_cut_utf8(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return xstrdup(s);
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return xstrndup(s, n);
}

static json_t *
wf_pagerduty(const struct alert *a, const char *routing_key)
{
	json_t *payload = json_object();
	char *summary, *cut, *rule;
	const char *tenant = wf_tenant(a);

	summary = webhook_summary(a);
	cut = wf_cut_utf8(summary, WEBHOOK_PD_SUMMARY_MAX);
	json_object_set_new(payload, "summary", wf_text(cut));
	free(cut);
	free(summary);
	json_object_set_new(payload, "source", wf_text(tenant != NULL &&
	    *tenant != '\0' ? tenant : "glasswatch"));
	json_object_set_new(payload, "severity",
	    json_string(webhook_pagerduty_severity(a->severity)));
	json_object_set_new(payload, "timestamp", wf_time(a->created_us));
	if (wf_account(a) != NULL)
		json_object_set_new(payload, "component",
		    wf_text(wf_account(a)));
	rule = wf_rule_name(a);
	json_object_set_new(payload, "group", wf_text(rule));
	free(rule);
	json_object_set_new(payload, "class",
	    json_string(alert_kind_name(a->kind)));
	/* PagerDuty refuses events over 512 KB: a large digest keeps its
	 * first records here (the summary still counts them all). */
	json_object_set_new(payload, "custom_details", wf_alert_json(a,
	    WEBHOOK_PD_MAX_RECORDS));

	return json_pack("{s:o, s:s, s:o, s:o, s:s}",
	    "routing_key", wf_text(routing_key),
	    "event_action", "trigger",
	    "dedup_key", wf_text(a->id),
	    "payload", payload,
	    "client", "glasswatch");
}

/* ---- alertmanager --------------------------------------------------- */

static void
wf_label(json_t *labels, const char *name, const char *value)
{
	if (value != NULL && *value != '\0')
		json_object_set_new(labels, name, wf_text(value));
}

static json_t *
wf_alertmanager(const struct alert *a)
{
	json_t *labels = json_object(), *ann = json_object();
	char *rule, *s;

	rule = wf_rule_name(a);
	wf_label(labels, "alertname", rule);
	free(rule);
	wf_label(labels, "severity", webhook_pagerduty_severity(a->severity));
	wf_label(labels, "tenant", wf_tenant(a));
	wf_label(labels, "account", wf_account(a));
	wf_label(labels, "rule", a->rule);
	wf_label(labels, "kind", alert_kind_name(a->kind));
	wf_label(labels, "glasswatch_alert_id", a->id);

	s = webhook_summary(a);
	json_object_set_new(ann, "summary", wf_text(s));
	free(s);
	s = alert_text_body(a);
	json_object_set_new(ann, "description", wf_text(s));
	free(s);

	return json_pack("[{s:o, s:o, s:o}]", "labels", labels,
	    "annotations", ann, "startsAt", wf_time(a->created_us));
}

/* ---- the entry point ------------------------------------------------ */

char *
webhook_format_body(enum webhook_format f, const struct alert *a,
    const char *routing_key, size_t *lenp)
{
	json_t *root;

	switch (f) {
	case WEBHOOK_AZURE:
		root = wf_azure(a);
		break;
	case WEBHOOK_SLACK:
		root = wf_slack(a);
		break;
	case WEBHOOK_TEAMS:
		root = wf_teams(a);
		break;
	case WEBHOOK_PAGERDUTY:
		root = wf_pagerduty(a, routing_key);
		break;
	case WEBHOOK_ALERTMANAGER:
		root = wf_alertmanager(a);
		break;
	case WEBHOOK_JSON:
	default:
		root = webhook_alert_json(a);
		break;
	}
	if (root == NULL)
		fatalx("webhook: cannot build the %s body",
		    webhook_format_names[f]);
	return wf_dump(root, lenp);
}
