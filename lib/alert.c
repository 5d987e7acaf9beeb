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
	free(a);
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

static void
alert_put_field(struct buf *b, const char *indent, const char *key,
    const char *v)
{
	buf_printf(b, "%s%-16s", indent, key);
	alert_put_value(b, v);
	buf_putc(b, '\n');
}

/* Text the operator wrote (a description) may span lines: continuation
 * lines are indented under the value. */
static void
alert_put_text(struct buf *b, const char *key, const char *v)
{
	const char *p;

	if (v == NULL || *v == '\0') {
		alert_put_field(b, "", key, v);
		return;
	}
	buf_printf(b, "%-16s", key);
	for (p = v; *p != '\0'; p++) {
		if (*p == '\n') {
			if (p[1] != '\0')
				buf_printf(b, "\n%-16s", "");
			continue;
		}
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			buf_putc(b, ' ');
		else
			buf_putc(b, *p);
	}
	buf_putc(b, '\n');
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

static void
alert_put_record(struct buf *b, const struct alert *a, size_t i)
{
	const struct record *r = a->records[i];
	const char *in = "  ";
	char tmp[TIME_ISO_LEN], result[32];

	buf_printf(b, "Record %zu of %zu%s\n", i + 1, a->nrecords,
	    a->kind == ALERT_TEST ? " (sample data, not a real event)" : "");
	if (r->event_us != 0) {
		time_format_iso8601_sec(r->event_us, tmp);
		alert_put_field(b, in, "Time:", tmp);
	} else
		alert_put_field(b, in, "Time:", NULL);
	alert_put_field(b, in, "Type:", signal_name(r->signal));
	if (r->signal == SIGNAL_AUDIT) {
		alert_put_field(b, in, "Activity:", r->activity);
		alert_put_field(b, in, "Category:", r->category);
		alert_put_field(b, in, "Service:", r->service);
		alert_put_field(b, in, "Initiator:", r->initiator);
		alert_put_field(b, in, "Target:", r->target);
		if (r->modified != NULL)
			alert_put_field(b, in, "Modified:", r->modified);
	}
	alert_put_field(b, in, "UPN:", r->upn);
	alert_put_field(b, in, "Object ID:", r->user_id);
	alert_put_field(b, in, "IP:", r->ip);
	alert_put_field(b, in, "Location:", r->location);
	alert_put_field(b, in, "App:", r->app);
	buf_printf(b, "%s%-16s%s", in, "Result:",
	    record_result_text(r, result, sizeof result));
	if (!r->success && r->failure_reason != NULL &&
	    *r->failure_reason != '\0') {
		buf_puts(b, " (");
		alert_put_value(b, r->failure_reason);
		buf_putc(b, ')');
	}
	buf_putc(b, '\n');
	alert_put_field(b, in, "Correlation ID:", r->correlation_id);
	alert_put_field(b, in, "Record ID:", r->id);
}

char *
alert_text_body(const struct alert *a)
{
	struct buf b;
	char tmp[TIME_ISO_LEN];
	const char *tenant;

	buf_init(&b);
	alert_put_headline(&b, a);
	buf_puts(&b, "\n");

	switch (a->kind) {
	case ALERT_TEST:
		buf_puts(&b, "\nThis message was sent on request "
		    "(glasswatchd --test-notify) to check that this\n"
		    "notifier delivers. No break-glass account was used and "
		    "nothing needs to be done.\n");
		break;
	case ALERT_DIGEST:
		buf_puts(&b, "\nThese records matched while alerts of this "
		    "rule were suppressed (suppress:),\n"
		    "so they were not paged one by one. "
		    "Review each of them.\n");
		break;
	case ALERT_ABSENCE:
		buf_puts(&b, "\nAn absence rule held: expected activity was "
		    "not received in the rule's period.\n");
		break;
	case ALERT_BATCH:
		buf_puts(&b, "\nThese alerts came faster than this notifier's "
		    "rate_limit allows, so they\nare delivered together, "
		    "none dropped. The description lists each one;\nthe "
		    "records of all of them follow.\n");
		break;
	default:
		break;
	}

	buf_putc(&b, '\n');
	alert_put_field(&b, "", "Rule:", a->rule);
	alert_put_text(&b, "Description:", a->description);
	buf_printf(&b, "%-16sSev%d (%s)\n", "Severity:", a->severity,
	    alert_severity_name(a->severity));
	tenant = a->tenant;
	if ((tenant == NULL || *tenant == '\0') && a->nrecords > 0)
		tenant = a->records[0]->tenant;
	buf_printf(&b, "%-16s", "Tenant:");
	alert_put_value(&b, tenant);
	buf_puts(&b, " (");
	alert_put_value(&b, a->tenant_id);
	buf_puts(&b, ")\n");
	if (a->account_upn != NULL || a->account_oid != NULL) {
		buf_printf(&b, "%-16s", "Account:");
		alert_put_value(&b, a->account_upn);
		buf_puts(&b, " (");
		alert_put_value(&b, a->account_oid);
		buf_puts(&b, ")\n");
	}
	if (a->kind == ALERT_BATCH)
		buf_printf(&b, "%-16s%ld\n", "Alerts:", a->count);
	buf_printf(&b, "%-16s%ld\n", "Records:", a->kind == ALERT_ABSENCE ?
	    a->count : (long)a->nrecords);
	alert_put_field(&b, "", "Alert ID:", a->id);
	alert_put_field(&b, "", "Kind:", alert_kind_name(a->kind));
	if (a->created_us != 0) {
		time_format_iso8601_sec(a->created_us, tmp);
		alert_put_field(&b, "", "Raised:", tmp);
	}

	for (size_t i = 0; i < a->nrecords; i++) {
		buf_putc(&b, '\n');
		alert_put_record(&b, a, i);
	}

	buf_printf(&b, "\n-- \nglasswatch %s\n", GLASSWATCH_VERSION);
	return buf_steal(&b);
}
