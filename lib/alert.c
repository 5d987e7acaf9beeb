/*
 * Alerts: what a rule (or the daemon itself) raised, and the plain-text
 * body every notifier can fall back on. Record fields come from attackers:
 * the body keeps them on their own line (control characters become
 * spaces) and otherwise shows them exactly as they are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "buf.h"
#include "guid.h"
#include "record.h"
#include "timeutil.h"
#include "xmalloc.h"

static const char *const alert_kind_names[] = {
	"event", "digest", "absence", "system", "test", "batch"
};

#define ALERT_NKINDS	(sizeof alert_kind_names / sizeof alert_kind_names[0])

/* Azure Monitor's names for Sev0 .. Sev4. */
static const char *const alert_severity_names[] = {
	"Critical", "Error", "Warning", "Informational", "Verbose"
};

struct alert *
alert_new(enum alert_kind kind)
{
	struct alert *a;
	char guid[GUID_LEN];

	a = xcalloc(1, sizeof *a);
	guid_random(guid);
	a->id = xasprintf("gw-%s", guid);
	a->kind = kind;
	a->created_us = time_now_us();
	return a;
}

void
alert_add_record(struct alert *a, struct record *r)
{
	size_t n = a->nrecords;

	/* The array grows in powers of two. */
	if ((n & (n - 1)) == 0)
		a->records = xreallocarray(a->records, n == 0 ? 1 : n * 2,
		    sizeof *a->records);
	a->records[a->nrecords++] = r;
}

void
alert_free(struct alert *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->nrecords; i++)
		record_free(a->records[i]);
	free(a->records);
	free(a->id);
	free(a->rule);
	free(a->description);
	free(a->tenant);
	free(a->tenant_id);
	free(a->account_oid);
	free(a->account_upn);
	free(a->subject);
	free(a->drill);
	free(a);
}

void
alert_mark_drill(struct alert *a, const char *note)
{
	char *s;

	free(a->drill);
	a->drill = xstrdup(note);
	if (a->subject != NULL && strncmp(a->subject, "[DRILL] ", 8) != 0) {
		s = xasprintf("[DRILL] %s", a->subject);
		free(a->subject);
		a->subject = s;
	}
}

const char *
alert_kind_name(enum alert_kind kind)
{
	if ((size_t)kind < ALERT_NKINDS)
		return alert_kind_names[kind];
	return "unknown";
}

int
alert_kind_from_name(const char *name, enum alert_kind *kind)
{
	for (size_t i = 0; i < ALERT_NKINDS; i++) {
		if (strcmp(name, alert_kind_names[i]) == 0) {
			*kind = (enum alert_kind)i;
			return 0;
		}
	}
	return -1;
}

const char *
alert_severity_name(int severity)
{
	if (severity >= 0 && severity <= 4)
		return alert_severity_names[severity];
	return "Unknown";
}

/* A value on one line: control characters become spaces; missing is -. */
static void
alert_put_value(struct buf *b, const char *v)
{
	const unsigned char *p;

	if (v == NULL || *v == '\0') {
		buf_putc(b, '-');
		return;
	}
	for (p = (const unsigned char *)v; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			buf_putc(b, ' ');
		else
			buf_putc(b, (char)*p);
	}
}

/* The account the alert is about, as the first line names it. */
static const char *
alert_account(const struct alert *a)
{
	if (a->account_upn != NULL && *a->account_upn != '\0')
		return a->account_upn;
	if (a->account_oid != NULL && *a->account_oid != '\0')
		return a->account_oid;
	if (a->nrecords > 0 && a->records[0]->upn != NULL &&
	    *a->records[0]->upn != '\0')
		return a->records[0]->upn;
	return NULL;
}

static const char *
alert_signal_words(const struct alert *a)
{
	enum signal s;

	if (a->nrecords == 0)
		return "records";
	s = a->records[0]->signal;
	for (size_t i = 1; i < a->nrecords; i++)
		if (a->records[i]->signal != s)
			return "records";
	switch (s) {
	case SIGNAL_SIGN_IN:
		return "sign-in records";
	case SIGNAL_NON_INTERACTIVE:
		return "non-interactive sign-in records";
	case SIGNAL_AUDIT:
		return "audit records";
	default:
		return "records";
	}
}

static void
alert_put_event_headline(struct buf *b, const struct alert *a)
{
	const struct record *r;
	const char *acct = alert_account(a);
	char result[32];

	if (a->nrecords == 0) {
		buf_puts(b, "Rule ");
		alert_put_value(b, a->rule);
		buf_puts(b, " raised an alert");
		return;
	}
	buf_puts(b, "Break-glass account ");
	alert_put_value(b, acct);
	if (a->nrecords > 1) {
		buf_printf(b, ": %zu %s", a->nrecords, alert_signal_words(a));
		return;
	}
	r = a->records[0];
	switch (r->signal) {
	case SIGNAL_SIGN_IN:
	case SIGNAL_NON_INTERACTIVE:
		if (r->success)
			buf_puts(b, " signed in");
		else {
			buf_printf(b, " failed to sign in (%s)",
			    record_result_text(r, result, sizeof result));
		}
		if (r->signal == SIGNAL_NON_INTERACTIVE)
			buf_puts(b, " (non-interactive)");
		break;
	case SIGNAL_AUDIT:
		buf_puts(b, " was involved in a directory change: ");
		alert_put_value(b, r->activity);
		break;
	default:
		buf_puts(b, ": 1 record");
		break;
	}
}

static void
alert_put_headline(struct buf *b, const struct alert *a)
{
	/* First, so that a short SMS or a chat preview still shows it. */
	if (a->drill != NULL) {
		alert_put_value(b, a->drill);
		buf_puts(b, ": ");
	}
	switch (a->kind) {
	case ALERT_EVENT:
		alert_put_event_headline(b, a);
		break;
	case ALERT_DIGEST:
		buf_printf(b, "Digest: %zu %s suppressed for break-glass "
		    "account ", a->nrecords, alert_signal_words(a));
		alert_put_value(b, alert_account(a));
		break;
	case ALERT_ABSENCE:
		buf_puts(b, "Absence: rule ");
		alert_put_value(b, a->rule);
		buf_printf(b, " found %ld matching record%s in its period",
		    a->count, a->count == 1 ? "" : "s");
		break;
	case ALERT_SYSTEM:
		buf_puts(b, "glasswatch system alert: ");
		if (a->subject != NULL && *a->subject != '\0')
			alert_put_value(b, a->subject);
		else
			alert_put_value(b, a->description);
		break;
	case ALERT_TEST:
		buf_puts(b, "TEST ALERT from glasswatch: this is only a test "
		    "of notification delivery");
		break;
	case ALERT_BATCH:
		buf_printf(b, "%ld alerts held by a rate limit, delivered "
		    "together", a->count);
		break;
	default:
		buf_puts(b, "glasswatch alert");
		break;
	}
}

char *
alert_headline(const struct alert *a)
{
	struct buf b;

	buf_init(&b);
	alert_put_headline(&b, a);
	return buf_steal(&b);
}

char *
alert_log_context(const struct alert *a)
{
	const char *rid = a->nrecords > 0 && a->records[0]->id != NULL ?
	    a->records[0]->id : "-";
	char more[32] = "";

	if (a->nrecords > 1)
		snprintf(more, sizeof more, " (+%zu more)", a->nrecords - 1);
	if (a->rule == NULL)
		return xasprintf("%s alert, tenant %s, record %s%s",
		    alert_kind_name(a->kind), a->tenant != NULL ? a->tenant :
		    "-", rid, more);
	return xasprintf("tenant %s rule %s record %s%s", a->tenant != NULL ?
	    a->tenant : "-", a->rule, rid, more);
}

/*
 * The body, in one order for every format: the headline, what kind of
 * alert this is, the alert's fields, then each record's. A style writes
 * each piece as its format wants (plain text, HTML).
 */
struct alert_out {
	struct buf	b;
	int		in_fields;	/* a block of fields is open */
};

struct alert_style {
	void	(*begin)(struct alert_out *, const struct alert *);
	void	(*headline)(struct alert_out *, const char *);
	void	(*paragraph)(struct alert_out *, const char *);
	/* level 0: the alert; 1: a record. NULL or "" renders "-". */
	void	(*field)(struct alert_out *, int level, const char *key,
		    const char *value);
	void	(*section)(struct alert_out *, const char *title);
	void	(*end)(struct alert_out *);
};

static void
alert_render_record(struct alert_out *b, const struct alert_style *st,
    const struct alert *a, size_t i)
{
	const struct record *r = a->records[i];
	char tmp[TIME_ISO_LEN], result[32], *title, *res;

	title = xasprintf("Record %zu of %zu%s", i + 1, a->nrecords,
	    a->kind == ALERT_TEST ? " (sample data, not a real event)" : "");
	st->section(b, title);
	free(title);
	if (r->event_us != 0)
		time_format_iso8601_sec(r->event_us, tmp);
	st->field(b, 1, "Time:", r->event_us != 0 ? tmp : NULL);
	st->field(b, 1, "Type:", signal_name(r->signal));
	if (r->signal == SIGNAL_AUDIT) {
		st->field(b, 1, "Activity:", r->activity);
		st->field(b, 1, "Category:", r->category);
		st->field(b, 1, "Service:", r->service);
		st->field(b, 1, "Initiator:", r->initiator);
		st->field(b, 1, "Target:", r->target);
		if (r->modified != NULL)
			st->field(b, 1, "Modified:", r->modified);
	}
	st->field(b, 1, "UPN:", r->upn);
	st->field(b, 1, "Object ID:", r->user_id);
	st->field(b, 1, "IP:", r->ip);
	st->field(b, 1, "Location:", r->location);
	st->field(b, 1, "App:", r->app);
	record_result_text(r, result, sizeof result);
	if (!r->success && r->failure_reason != NULL &&
	    *r->failure_reason != '\0')
		res = xasprintf("%s (%s)", result, r->failure_reason);
	else
		res = xstrdup(result);
	st->field(b, 1, "Result:", res);
	free(res);
	st->field(b, 1, "Correlation ID:", r->correlation_id);
	st->field(b, 1, "Record ID:", r->id);
}

/* Why this alert reads as it does, for the kinds that need saying. */
static const char *
alert_kind_paragraph(const struct alert *a)
{
	switch (a->kind) {
	case ALERT_TEST:
		return "This message was sent on request "
		    "(glasswatchd --test-notify) to check that this\n"
		    "notifier delivers. No break-glass account was used and "
		    "nothing needs to be done.";
	case ALERT_DIGEST:
		return "These records matched while alerts of this "
		    "rule were suppressed (suppress:),\n"
		    "so they were not paged one by one. "
		    "Review each of them.";
	case ALERT_ABSENCE:
		return "An absence rule held: expected activity was "
		    "not received in the rule's period.";
	case ALERT_BATCH:
		return "These alerts came faster than this notifier's "
		    "rate_limit allows, so they\nare delivered together, "
		    "none dropped. The description lists each one;\nthe "
		    "records of all of them follow.";
	default:
		return NULL;
	}
}

static char *
alert_render(const struct alert *a, const struct alert_style *st)
{
	struct alert_out b;
	struct buf line;
	char tmp[TIME_ISO_LEN];
	const char *tenant, *para;

	buf_init(&b.b);
	b.in_fields = 0;
	buf_init(&line);
	st->begin(&b, a);
	alert_put_headline(&line, a);
	st->headline(&b, buf_cstr(&line));
	if ((para = alert_kind_paragraph(a)) != NULL)
		st->paragraph(&b, para);

	st->field(&b, 0, "Rule:", a->rule);
	st->field(&b, 0, "Description:", a->description);
	buf_reset(&line);
	buf_printf(&line, "Sev%d (%s)", a->severity,
	    alert_severity_name(a->severity));
	st->field(&b, 0, "Severity:", buf_cstr(&line));
	tenant = a->tenant;
	if ((tenant == NULL || *tenant == '\0') && a->nrecords > 0)
		tenant = a->records[0]->tenant;
	buf_reset(&line);
	alert_put_value(&line, tenant);
	buf_puts(&line, " (");
	alert_put_value(&line, a->tenant_id);
	buf_putc(&line, ')');
	st->field(&b, 0, "Tenant:", buf_cstr(&line));
	if (a->account_upn != NULL || a->account_oid != NULL) {
		buf_reset(&line);
		alert_put_value(&line, a->account_upn);
		buf_puts(&line, " (");
		alert_put_value(&line, a->account_oid);
		buf_putc(&line, ')');
		st->field(&b, 0, "Account:", buf_cstr(&line));
	}
	if (a->kind == ALERT_BATCH) {
		buf_reset(&line);
		buf_printf(&line, "%ld", a->count);
		st->field(&b, 0, "Alerts:", buf_cstr(&line));
	}
	buf_reset(&line);
	buf_printf(&line, "%ld", a->kind == ALERT_ABSENCE ? a->count :
	    (long)a->nrecords);
	st->field(&b, 0, "Records:", buf_cstr(&line));
	st->field(&b, 0, "Alert ID:", a->id);
	st->field(&b, 0, "Kind:", alert_kind_name(a->kind));
	if (a->created_us != 0) {
		time_format_iso8601_sec(a->created_us, tmp);
		st->field(&b, 0, "Raised:", tmp);
	}
	for (size_t i = 0; i < a->nrecords; i++)
		alert_render_record(&b, st, a, i);
	st->end(&b);
	buf_free(&line);
	return buf_steal(&b.b);
}

/* --- plain text --------------------------------------------------------- */

static void
text_begin(struct alert_out *o, const struct alert *a)
{
	(void)o;
	(void)a;
}

static void
text_headline(struct alert_out *o, const char *s)
{
	buf_printf(&o->b, "%s\n", s);
}

static void
text_paragraph(struct alert_out *o, const char *s)
{
	buf_printf(&o->b, "\n%s\n", s);
}

/* Values stay on their line; text the operator wrote (a description) may
 * span lines: continuation lines are indented under the value. */
static void
text_field(struct alert_out *o, int level, const char *key, const char *v)
{
	const char *indent = level > 0 ? "  " : "";

	/* A blank line between the headline (and paragraph) and the
	 * alert's fields; the section title does it for a record's. */
	if (!o->in_fields)
		buf_putc(&o->b, '\n');
	o->in_fields = 1;
	buf_printf(&o->b, "%s%-16s", indent, key);
	if (v == NULL || *v == '\0') {
		buf_puts(&o->b, "-\n");
		return;
	}
	for (const char *p = v; *p != '\0'; p++) {
		if (*p == '\n' && level == 0) {
			if (p[1] != '\0')
				buf_printf(&o->b, "\n%-16s", "");
			continue;
		}
		buf_putc(&o->b, (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p);
	}
	buf_putc(&o->b, '\n');
}

static void
text_section(struct alert_out *o, const char *title)
{
	buf_printf(&o->b, "\n%s\n", title);
}

static void
text_end(struct alert_out *o)
{
	buf_printf(&o->b, "\n-- \nglasswatch %s\n", GLASSWATCH_VERSION);
}

static const struct alert_style alert_text_style = {
	text_begin, text_headline, text_paragraph, text_field, text_section,
	text_end
};

char *
alert_text_body(const struct alert *a)
{
	return alert_render(a, &alert_text_style);
}

/* --- HTML (the alternative part of a mail) ------------------------------- */

/* Escaped for element content and attribute values; control characters
 * become spaces, newlines <br>. */
static void
html_put(struct buf *b, const char *s)
{
	if (s == NULL || *s == '\0') {
		buf_putc(b, '-');
		return;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0';
	    p++) {
		switch (*p) {
		case '&':
			buf_puts(b, "&amp;");
			break;
		case '<':
			buf_puts(b, "&lt;");
			break;
		case '>':
			buf_puts(b, "&gt;");
			break;
		case '"':
			buf_puts(b, "&quot;");
			break;
		case '\'':
			buf_puts(b, "&#39;");
			break;
		case '\n':
			buf_puts(b, "<br>\n");
			break;
		default:
			buf_putc(b, *p < 0x20 || *p == 0x7f ? ' ' : (char)*p);
			break;
		}
	}
}

/* Sev0 red to Sev4 grey: the banner a SOC reads first. */
static const char *const html_severity_colours[] = {
	"#b00020", "#c0392b", "#b9770e", "#1f618d", "#566573"
};

static void
html_close_table(struct alert_out *o)
{
	if (o->in_fields)
		buf_puts(&o->b, "</table>\n");
	o->in_fields = 0;
}

static void
html_begin(struct alert_out *o, const struct alert *a)
{
	int sev = a->severity >= 0 && a->severity <= 4 ? a->severity : 4;

	o->in_fields = 0;
	buf_puts(&o->b, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>");
	html_put(&o->b, a->subject != NULL ? a->subject : a->rule);
	buf_puts(&o->b, "</title></head>\n<body style=\"font-family: sans-serif; "
	    "font-size: 14px\">\n");
	buf_printf(&o->b, "<div style=\"background: %s; color: #ffffff; "
	    "padding: 8px 12px; font-weight: bold\">%sSev%d %s &mdash; "
	    "glasswatch</div>\n", html_severity_colours[sev],
	    a->kind == ALERT_TEST ? "TEST &mdash; " : "", a->severity,
	    alert_severity_name(a->severity));
}

static void
html_headline(struct alert_out *o, const char *s)
{
	buf_puts(&o->b, "<h2 style=\"font-size: 18px\">");
	html_put(&o->b, s);
	buf_puts(&o->b, "</h2>\n");
}

static void
html_paragraph(struct alert_out *o, const char *s)
{
	buf_puts(&o->b, "<p>");
	html_put(&o->b, s);
	buf_puts(&o->b, "</p>\n");
}

static void
html_field(struct alert_out *o, int level, const char *key, const char *v)
{
	(void)level;
	if (!o->in_fields)
		buf_puts(&o->b, "<table style=\"border-collapse: collapse\">\n");
	o->in_fields = 1;
	buf_puts(&o->b, "<tr><th style=\"text-align: left; vertical-align: top; "
	    "padding: 2px 16px 2px 0\">");
	html_put(&o->b, key);
	buf_puts(&o->b, "</th><td style=\"padding: 2px 0\">");
	html_put(&o->b, v);
	buf_puts(&o->b, "</td></tr>\n");
}

static void
html_section(struct alert_out *o, const char *title)
{
	html_close_table(o);
	buf_puts(&o->b, "<h3 style=\"font-size: 15px\">");
	html_put(&o->b, title);
	buf_puts(&o->b, "</h3>\n");
}

static void
html_end(struct alert_out *o)
{
	html_close_table(o);
	buf_printf(&o->b, "<p style=\"color: #666666; font-size: 12px\">"
	    "glasswatch %s</p>\n</body></html>\n", GLASSWATCH_VERSION);
}

static const struct alert_style alert_html_style = {
	html_begin, html_headline, html_paragraph, html_field, html_section,
	html_end
};

char *
alert_html_body(const struct alert *a)
{
	return alert_render(a, &alert_html_style);
}
