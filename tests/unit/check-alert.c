/* check-alert: alerts, their plain-text body, the notifier registry, and
 * the email notifier's message builder (headers stripped of CR/LF, RFC 2047
 * encoding, Message-ID, body encoding) and result classification. The SMTP
 * transfer itself is covered by the integration tests. */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <openssl/evp.h>

#include "alert.h"
#include "buf.h"
#include "cfgparse.h"
#include "cfgtest.h"
#include "config.h"
#include "guid.h"
#include "notifier.h"
#include "notify-email-msg.h"
#include "record.h"
#include "strlist.h"
#include "timeutil.h"
#include "xmalloc.h"

/* 2026-11-22T03:49:15.123456Z, a Sunday */
#define T0	(INT64_C(1795319355) * 1000000 + 123456)

static struct record *
sample_record(void)
{
	struct record *r = record_new();

	r->signal = SIGNAL_SIGN_IN;
	r->tenant = xstrdup("contoso");
	r->id = xstrdup("5f0c9d2e-rec-1");
	r->event_us = T0;
	r->user_id = xstrdup("33333333-3333-3333-3333-333333333333");
	r->upn = xstrdup("bg1@contoso.onmicrosoft.com");
	r->ip = xstrdup("203.0.113.7");
	r->location = xstrdup("Redmond, Washington, US");
	r->app = xstrdup("Azure Portal");
	r->success = 0;
	r->result_code = 50126;
	r->failure_reason = xstrdup("Invalid username or password");
	r->correlation_id = xstrdup("c0rre1a7-1d00-0000-0000-000000000001");
	return r;
}

static struct alert *
sample_alert(enum alert_kind kind)
{
	struct alert *a = alert_new(kind);

	a->rule = xstrdup("break-glass-sign-in");
	a->description = xstrdup("An emergency access account signed in");
	a->severity = 0;
	a->tenant = xstrdup("contoso");
	a->tenant_id = xstrdup("00000000-0000-0000-0000-000000000000");
	a->account_oid = xstrdup("33333333-3333-3333-3333-333333333333");
	a->account_upn = xstrdup("bg1@contoso.onmicrosoft.com");
	a->subject = xstrdup("[Sev0] break-glass-sign-in: "
	    "bg1@contoso.onmicrosoft.com from 203.0.113.7");
	alert_add_record(a, sample_record());
	return a;
}

#define ck_assert_has(hay, needle)					\
	ck_assert_msg(strstr((hay), (needle)) != NULL,			\
	    "'%s' not found in:\n%s", (needle), (hay))
#define ck_assert_prefix(s, p)						\
	ck_assert_msg(strncmp((s), (p), strlen(p)) == 0,		\
	    "'%s' does not start:\n%s", (p), (s))
#define ck_assert_lacks(hay, needle)					\
	ck_assert_msg(strstr((hay), (needle)) == NULL,			\
	    "'%s' found in:\n%s", (needle), (hay))

/* ---- alerts ---------------------------------------------------------- */

START_TEST(test_new)
{
	struct alert *a = alert_new(ALERT_EVENT), *b = alert_new(ALERT_TEST);
	int64_t now = time_now_us();

	ck_assert_int_eq(strncmp(a->id, "gw-", 3), 0);
	ck_assert_uint_eq(strlen(a->id), 3 + GUID_LEN - 1);
	ck_assert(guid_valid(a->id + 3));
	ck_assert_str_ne(a->id, b->id);
	ck_assert_int_eq(a->kind, ALERT_EVENT);
	ck_assert_int_eq(b->kind, ALERT_TEST);
	ck_assert(a->created_us <= now && a->created_us > now - 60000000);
	ck_assert_uint_eq(a->nrecords, 0);
	alert_free(a);
	alert_free(b);
	alert_free(NULL);
}
END_TEST

START_TEST(test_records)
{
	struct alert *a = alert_new(ALERT_DIGEST);

	for (int i = 0; i < 100; i++)
		alert_add_record(a, sample_record());
	ck_assert_uint_eq(a->nrecords, 100);
	for (int i = 0; i < 100; i++)
		ck_assert_str_eq(a->records[i]->ip, "203.0.113.7");
	alert_free(a);
}
END_TEST

START_TEST(test_kind_names)
{
	static const char *const names[] = {
		"event", "digest", "absence", "system", "test"
	};
	enum alert_kind k;

	for (int i = 0; i < 5; i++) {
		ck_assert_str_eq(alert_kind_name((enum alert_kind)i), names[i]);
		ck_assert_int_eq(alert_kind_from_name(names[i], &k), 0);
		ck_assert_int_eq(k, i);
	}
	ck_assert_int_eq(alert_kind_from_name("Event", &k), -1);
	ck_assert_int_eq(alert_kind_from_name("", &k), -1);
	ck_assert_str_eq(alert_kind_name((enum alert_kind)99), "unknown");
	ck_assert_str_eq(alert_severity_name(0), "Critical");
	ck_assert_str_eq(alert_severity_name(4), "Verbose");
	ck_assert_str_eq(alert_severity_name(5), "Unknown");
}
END_TEST

START_TEST(test_body_fields)
{
	struct alert *a = sample_alert(ALERT_EVENT);
	char *body = alert_text_body(a), *want;

	/* What happened comes first. */
	ck_assert_prefix(body, "Break-glass account "
	    "bg1@contoso.onmicrosoft.com failed to sign in (failure:50126)\n");
	ck_assert_has(body, "\nRule:           break-glass-sign-in\n");
	ck_assert_has(body, "\nDescription:    An emergency access account "
	    "signed in\n");
	ck_assert_has(body, "\nSeverity:       Sev0 (Critical)\n");
	ck_assert_has(body, "\nTenant:         contoso "
	    "(00000000-0000-0000-0000-000000000000)\n");
	want = xasprintf("\nAlert ID:       %s\n", a->id);
	ck_assert_has(body, want);
	free(want);
	ck_assert_has(body, "\nRecord 1 of 1\n");
	ck_assert_has(body, "\n  Time:           2026-11-22T03:49:15Z\n");
	ck_assert_has(body, "\n  UPN:            bg1@contoso.onmicrosoft.com\n");
	ck_assert_has(body, "\n  Object ID:      "
	    "33333333-3333-3333-3333-333333333333\n");
	ck_assert_has(body, "\n  IP:             203.0.113.7\n");
	ck_assert_has(body, "\n  Location:       Redmond, Washington, US\n");
	ck_assert_has(body, "\n  App:            Azure Portal\n");
	ck_assert_has(body, "\n  Result:         failure:50126 (Invalid "
	    "username or password)\n");
	ck_assert_has(body, "\n  Correlation ID: "
	    "c0rre1a7-1d00-0000-0000-000000000001\n");
	ck_assert_has(body, "\n  Record ID:      5f0c9d2e-rec-1\n");
	ck_assert_lacks(body, "\r");
	free(body);

	/* A success says so. */
	a->records[0]->success = 1;
	a->records[0]->result_code = 0;
	body = alert_text_body(a);
	ck_assert_prefix(body, "Break-glass account "
	    "bg1@contoso.onmicrosoft.com signed in\n");
	ck_assert_has(body, "\n  Result:         success\n");
	free(body);
	alert_free(a);
}
END_TEST

START_TEST(test_body_many_records)
{
	struct alert *a = sample_alert(ALERT_EVENT);
	char *body;

	alert_add_record(a, sample_record());
	alert_add_record(a, sample_record());
	body = alert_text_body(a);
	ck_assert_has(body, "bg1@contoso.onmicrosoft.com: 3 sign-in records\n");
	ck_assert_has(body, "\nRecords:        3\n");
	ck_assert_has(body, "\nRecord 1 of 3\n");
	ck_assert_has(body, "\nRecord 3 of 3\n");
	free(body);
	alert_free(a);
}
END_TEST

START_TEST(test_body_escapes_nothing)
{
	struct alert *a = sample_alert(ALERT_EVENT);
	char *body;

	free(a->records[0]->app);
	a->records[0]->app = xstrdup("<script>alert(\"x\")</script> & "
	    "{rule} 'q' \\ M\xc3\xbcnchen =?UTF-8?B?QQ==?=");
	body = alert_text_body(a);
	ck_assert_has(body, "\n  App:            <script>alert(\"x\")</script> "
	    "& {rule} 'q' \\ M\xc3\xbcnchen =?UTF-8?B?QQ==?=\n");
	free(body);
	alert_free(a);
}
END_TEST

START_TEST(test_body_fields_cannot_forge_lines)
{
	struct alert *a = sample_alert(ALERT_EVENT);
	char *body;

	free(a->records[0]->app);
	a->records[0]->app = xstrdup("Portal\r\n  Result:         success\n");
	free(a->records[0]->location);
	a->records[0]->location = xstrdup("A\tB\x01" "C");
	body = alert_text_body(a);
	ck_assert_lacks(body, "\n  Result:         success");
	ck_assert_lacks(body, "\r");
	ck_assert_has(body, "App:            Portal    Result:         "
	    "success \n");
	ck_assert_has(body, "Location:       A B C\n");
	free(body);
	alert_free(a);
}
END_TEST

START_TEST(test_body_missing_values)
{
	struct alert *a = alert_new(ALERT_EVENT);
	struct record *r = record_new();
	char *body;

	r->success = 1;
	alert_add_record(a, r);
	body = alert_text_body(a);
	ck_assert_has(body, "\nRule:           -\n");
	ck_assert_has(body, "\nDescription:    -\n");
	ck_assert_has(body, "\nTenant:         - (-)\n");
	ck_assert_has(body, "\n  Time:           -\n");
	ck_assert_has(body, "\n  UPN:            -\n");
	ck_assert_has(body, "\n  IP:             -\n");
	ck_assert_has(body, "\n  Correlation ID: -\n");
	ck_assert_has(body, "\n  Record ID:      -\n");
	free(body);
	alert_free(a);
}
END_TEST

START_TEST(test_body_kinds)
{
	struct alert *a;
	char *body;

	a = sample_alert(ALERT_TEST);
	body = alert_text_body(a);
	ck_assert_prefix(body, "TEST ALERT");
	ck_assert_has(body, "No break-glass account was used");
	ck_assert_has(body, "Record 1 of 1 (sample data, not a real event)");
	free(body);
	alert_free(a);

	a = sample_alert(ALERT_DIGEST);
	alert_add_record(a, sample_record());
	body = alert_text_body(a);
	ck_assert_prefix(body, "Digest: 2 sign-in records suppressed "
	    "for break-glass account bg1@contoso.onmicrosoft.com\n");
	ck_assert_has(body, "suppressed");
	free(body);
	alert_free(a);

	a = alert_new(ALERT_ABSENCE);
	a->rule = xstrdup("heartbeat-sign-in");
	a->count = 0;
	body = alert_text_body(a);
	ck_assert_prefix(body, "Absence: rule heartbeat-sign-in found "
	    "0 matching records in its period\n");
	ck_assert_has(body, "\nRecords:        0\n");
	free(body);
	alert_free(a);

	a = alert_new(ALERT_SYSTEM);
	a->severity = 1;
	a->subject = xstrdup("monitoring blind: contoso log_analytics");
	body = alert_text_body(a);
	ck_assert_prefix(body, "glasswatch system alert: monitoring "
	    "blind: contoso log_analytics\n");
	ck_assert_has(body, "Sev1 (Error)");
	free(body);
	alert_free(a);

	a = sample_alert(ALERT_EVENT);
	a->records[0]->signal = SIGNAL_AUDIT;
	a->records[0]->activity = xstrdup("Reset user password");
	a->records[0]->initiator = xstrdup("admin@contoso.example");
	body = alert_text_body(a);
	ck_assert_has(body, "was involved in a directory change: Reset user "
	    "password\n");
	ck_assert_has(body, "\n  Initiator:      admin@contoso.example\n");
	free(body);
	alert_free(a);
}
END_TEST

START_TEST(test_headline)
{
	struct alert *a = sample_alert(ALERT_EVENT);
	char *h;

	a->records[0]->success = 1;
	free(a->account_upn);
	a->account_upn = xstrdup("bg1@x\r\nBcc: y");
	h = alert_headline(a);
	ck_assert_str_eq(h, "Break-glass account bg1@x  Bcc: y signed in");
	free(h);
	alert_free(a);
}
END_TEST

/* A drill marks the rendered alert: the subject once, every body by its
 * headline. */
START_TEST(test_drill_marking)
{
	static const char note[] = "DRILL announced by alice at "
	    "2026-11-22T03:40:00Z, window until 2026-11-22T04:10:00Z";
	struct alert *a = sample_alert(ALERT_EVENT);
	char *h, *text, *html;

	h = alert_headline(a);
	ck_assert_lacks(h, "DRILL");
	free(h);
	a->records[0]->success = 1;
	alert_mark_drill(a, note);
	alert_mark_drill(a, note);
	ck_assert_str_eq(a->subject, "[DRILL] [Sev0] break-glass-sign-in: "
	    "bg1@contoso.onmicrosoft.com from 203.0.113.7");
	h = alert_headline(a);
	ck_assert_str_eq(h, "DRILL announced by alice at 2026-11-22T03:40:00Z, "
	    "window until 2026-11-22T04:10:00Z: Break-glass account "
	    "bg1@contoso.onmicrosoft.com signed in");
	text = alert_text_body(a);
	ck_assert_prefix(text, h);
	html = alert_html_body(a);
	ck_assert_has(html, "DRILL announced by alice at");
	ck_assert_has(html, "<title>[DRILL] [Sev0]");
	free(h);
	free(text);
	free(html);
	alert_free(a);
}
END_TEST

/* ---- the notifier registry ------------------------------------------ */

static int fake_inits, fake_finis;

static int
fake_init(struct notifier *n, char **cause)
{
	(void)n;
	if (fake_inits++ == 1) {
		*cause = xstrdup("refused");
		return -1;
	}
	return 0;
}

static void
fake_fini(struct notifier *n)
{
	(void)n;
	fake_finis++;
}

static const struct notifier_ops fake_ops = {
	.type = "fake",
	.priv_size = 16,
	.init = fake_init,
	.fini = fake_fini,
};

START_TEST(test_registry)
{
	struct notifier_config nc = { .name = (char *)"n", .type = (char *)"fake",
	    .ops = &fake_ops };
	struct notifier_env env = { 0 };
	struct notifier *n;
	char *cause = NULL;

	ck_assert_ptr_eq(notifier_find("email"), &notify_email_ops);
	ck_assert_str_eq(notify_email_ops.type, "email");
	ck_assert_ptr_eq(notifier_find("sms"), &notify_sms_ops);
	ck_assert_ptr_null(notifier_find("Email"));
	ck_assert_ptr_eq(notifier_find("webhook"), &notify_webhook_ops);
	ck_assert_ptr_eq(notifier_find("heartbeat"), &notify_heartbeat_ops);
	ck_assert_ptr_null(notifier_find("pager"));

	fake_inits = fake_finis = 0;
	n = notifier_new(&nc, &env, &cause);
	ck_assert_ptr_nonnull(n);
	ck_assert_ptr_nonnull(n->priv);
	ck_assert_int_eq(n->refs, 1);
	notifier_ref(n);
	notifier_unref(n);
	ck_assert_int_eq(fake_finis, 0);
	notifier_unref(n);
	ck_assert_int_eq(fake_finis, 1);

	/* init failing: NULL with its cause, no fini. */
	ck_assert_ptr_null(notifier_new(&nc, &env, &cause));
	ck_assert_str_eq(cause, "refused");
	free(cause);
	ck_assert_int_eq(fake_finis, 1);

	nc.ops = NULL;
	nc.type = (char *)"nope";
	cause = NULL;
	ck_assert_ptr_null(notifier_new(&nc, &env, &cause));
	ck_assert_has(cause, "unknown notifier type 'nope'");
	free(cause);
}
END_TEST

START_TEST(test_email_recipients)
{
	struct strlist to = { 0 }, out = { 0 };

	/* The conf's layout is private; recipients() only reads "to", which
	 * the option table places. Build a conf through the table. */
	const struct opt_spec *o;
	char *conf = xcalloc(1, notify_email_ops.conf_size);

	strlist_add(&to, "a@example.org");
	strlist_add(&to, "b@example.org");
	strlist_add(&to, "A@example.org");
	for (o = notify_email_ops.opts; o->key != NULL; o++)
		if (strcmp(o->key, "to") == 0)
			memcpy(conf + o->offset, &to, sizeof to);
	notify_email_ops.recipients(conf, &out);
	ck_assert_uint_eq(out.n, 2);
	ck_assert_str_eq(out.v[0], "a@example.org");
	ck_assert_str_eq(out.v[1], "b@example.org");
	strlist_clear(&out);
	strlist_clear(&to);
	free(conf);
}
END_TEST

/* ---- the email message ---------------------------------------------- */

static char *
header(const char *name, const char *value)
{
	struct buf b;

	buf_init(&b);
	email_header_put(&b, name, value);
	return buf_steal(&b);
}

/* Every line ends in CRLF and none is longer than max (without CRLF). */
static void
check_lines(const char *s, size_t max)
{
	const char *p = s, *nl;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		ck_assert_msg(nl != NULL, "unterminated line: %s", p);
		ck_assert_msg(nl > p && nl[-1] == '\r', "bare LF in:\n%s", s);
		ck_assert_msg((size_t)(nl - 1 - p) <= max,
		    "line of %zu > %zu: %.*s", (size_t)(nl - 1 - p), max,
		    (int)(nl - p), p);
		p = nl + 1;
	}
}

/* Decodes the encoded words of a header value back to UTF-8. */
static char *
decode_words(const char *h)
{
	struct buf out;
	const char *p = strchr(h, ':') + 2, *end;
	unsigned char dec[128];
	int n;

	buf_init(&out);
	while ((p = strstr(p, "=?UTF-8?B?")) != NULL) {
		p += 10;
		end = strstr(p, "?=");
		ck_assert_ptr_nonnull(end);
		ck_assert_int_le(end - p + 12, 75);
		n = EVP_DecodeBlock(dec, (const unsigned char *)p,
		    (int)(end - p));
		ck_assert_int_ge(n, 0);
		/* EVP_DecodeBlock counts the padding as bytes. */
		if (end - p >= 2 && end[-1] == '=')
			n--;
		if (end - p >= 2 && end[-2] == '=')
			n--;
		/* No word starts inside a UTF-8 sequence. */
		ck_assert_msg(n == 0 || (dec[0] & 0xc0) != 0x80,
		    "word splits a UTF-8 sequence");
		buf_append(&out, dec, (size_t)n);
		p = end + 2;
	}
	return buf_steal(&out);
}

START_TEST(test_header_ascii)
{
	char *h;

	h = header("Subject", "[Sev0] rule: bg1@contoso from 203.0.113.7");
	ck_assert_str_eq(h, "Subject: [Sev0] rule: bg1@contoso from "
	    "203.0.113.7\r\n");
	free(h);
	h = header("X-Glasswatch-Severity", "0");
	ck_assert_str_eq(h, "X-Glasswatch-Severity: 0\r\n");
	free(h);
	h = header("Subject", "");
	ck_assert_str_eq(h, "Subject: \r\n");
	free(h);
	h = header("Subject", NULL);
	ck_assert_str_eq(h, "Subject: \r\n");
	free(h);
}
END_TEST

START_TEST(test_header_crlf_stripped)
{
	char *h;

	h = header("Subject", "login from evil\r\nBcc: victim@example.org\r\n"
	    "\r\nbody");
	ck_assert_str_eq(h, "Subject: login from evil  Bcc: "
	    "victim@example.org    body\r\n");
	free(h);
	h = header("Subject", "a\nb\rc\x00");
	ck_assert_str_eq(h, "Subject: a b c\r\n");
	free(h);
	h = header("Subject", "\r\n\r\nX-Evil: 1");
	ck_assert_str_eq(h, "Subject: X-Evil: 1\r\n");
	free(h);
	h = header("Subject", "tab\there\x7f" "del\x1b[31m");
	ck_assert_str_eq(h, "Subject: tab here del [31m\r\n");
	free(h);
}
END_TEST

START_TEST(test_header_rfc2047)
{
	const char *v = "Anmeldung aus M\xc3\xbcnchen: \xe2\x9c\x93 "
	    "\xf0\x9f\x94\x91 bg1@contoso";
	char *h, *dec;

	h = header("Subject", v);
	ck_assert_int_eq(strncmp(h, "Subject: =?UTF-8?B?", 19), 0);
	ck_assert_lacks(h, "\xc3");
	check_lines(h, 998);
	dec = decode_words(h);
	ck_assert_str_eq(dec, v);
	free(dec);
	free(h);

	/* CR/LF inside a non-ASCII value go before encoding. */
	h = header("Subject", "\xc3\xa9\r\nBcc: x@y");
	dec = decode_words(h);
	ck_assert_str_eq(dec, "\xc3\xa9  Bcc: x@y");
	free(dec);
	ck_assert_lacks(h, "\r\nBcc");
	free(h);

	/* Something that looks like an encoded word is encoded itself. */
	h = header("Subject", "=?UTF-8?B?RmFrZQ==?=");
	dec = decode_words(h);
	ck_assert_str_eq(dec, "=?UTF-8?B?RmFrZQ==?=");
	free(dec);
	free(h);
}
END_TEST

START_TEST(test_header_rfc2047_long)
{
	struct buf v;
	char *h, *dec;

	/* Many two- and three-byte characters: the words must cut between
	 * sequences, stay within 75 characters and fold onto new lines. */
	buf_init(&v);
	for (int i = 0; i < 60; i++)
		buf_puts(&v, i % 2 ? "\xc3\xbc" : "\xe2\x82\xac");
	h = header("Subject", buf_cstr(&v));
	check_lines(h, 78 + 9);
	ck_assert_has(h, "?=\r\n =?UTF-8?B?");
	dec = decode_words(h);
	ck_assert_str_eq(dec, buf_cstr(&v));
	free(dec);
	free(h);
	buf_free(&v);
}
END_TEST

START_TEST(test_header_folding)
{
	struct buf v, unfolded;
	char *h, *p, *dec;

	buf_init(&v);
	for (int i = 0; i < 40; i++)
		buf_printf(&v, "%sword%d", i ? " " : "", i);
	h = header("Subject", buf_cstr(&v));
	ck_assert_lacks(h, "=?");
	check_lines(h, 78);
	ck_assert_has(h, "\r\n word");
	/* Unfolding (removing CRLF) gives the value back. */
	buf_init(&unfolded);
	for (p = h; *p != '\0'; p++)
		if (*p != '\r' && *p != '\n')
			buf_putc(&unfolded, *p);
	ck_assert_str_eq(buf_cstr(&unfolded) + 9, buf_cstr(&v));
	buf_free(&unfolded);
	free(h);
	buf_free(&v);

	/* A word too long for any line is encoded rather than sent as an
	 * over-long line. */
	buf_init(&v);
	for (int i = 0; i < 1200; i++)
		buf_putc(&v, 'a');
	h = header("Subject", buf_cstr(&v));
	check_lines(h, 998);
	ck_assert_int_eq(strncmp(h, "Subject: =?UTF-8?B?", 19), 0);
	dec = decode_words(h);
	ck_assert_str_eq(dec, buf_cstr(&v));
	free(dec);
	free(h);
	buf_free(&v);
}
END_TEST

START_TEST(test_date)
{
	char d[64];

	email_date_format(T0, d, sizeof d);
	ck_assert_str_eq(d, "Sun, 22 Nov 2026 03:49:15 +0000");
	email_date_format(0, d, sizeof d);
	ck_assert_str_eq(d, "Thu, 01 Jan 1970 00:00:00 +0000");
}
END_TEST

/* The header block of a message up to its blank line, unfolded (RFC 5322
 * 2.2.3: a CRLF followed by white space goes). */
static char *
headers_of(const char *msg)
{
	const char *end = strstr(msg, "\r\n\r\n"), *p;
	struct buf b;

	ck_assert_ptr_nonnull(end);
	buf_init(&b);
	for (p = msg; p < end + 2; p++) {
		if (p[0] == '\r' && p[1] == '\n' && (p[2] == ' ' ||
		    p[2] == '\t')) {
			p++;
			continue;
		}
		buf_putc(&b, *p);
	}
	return buf_steal(&b);
}

START_TEST(test_message)
{
	struct alert *a = sample_alert(ALERT_EVENT);
	struct strlist to = { 0 };
	char *msg, *hdr, *want;
	size_t len;

	strlist_add(&to, "soc@contoso.example");
	strlist_add(&to, "oncall@contoso.example");
	msg = email_message_build(a, "glasswatch@contoso.example", &to, T0,
	    &len);
	ck_assert_uint_eq(len, strlen(msg));
	check_lines(msg, 998);
	hdr = headers_of(msg);
	ck_assert_int_eq(strncmp(hdr, "From: glasswatch@contoso.example\r\n",
	    34), 0);
	ck_assert_has(hdr, "\r\nTo: soc@contoso.example, "
	    "oncall@contoso.example\r\n");
	ck_assert_has(hdr, "\r\nDate: Sun, 22 Nov 2026 03:49:15 +0000\r\n");
	want = xasprintf("\r\nMessage-ID: <%s@contoso.example>\r\n", a->id);
	ck_assert_has(hdr, want);
	free(want);
	ck_assert_has(hdr, "\r\nSubject: [Sev0] break-glass-sign-in: "
	    "bg1@contoso.onmicrosoft.com from 203.0.113.7\r\n");
	ck_assert_has(hdr, "\r\nMIME-Version: 1.0\r\n");
	want = xasprintf("\r\nContent-Type: multipart/alternative; "
	    "boundary=\"=_glasswatch_%s\"\r\n", a->id);
	ck_assert_has(hdr, want);
	free(want);
	ck_assert_has(hdr, "\r\nAuto-Submitted: auto-generated\r\n");
	want = xasprintf("\r\nX-Glasswatch-Alert-Id: %s\r\n", a->id);
	ck_assert_has(hdr, want);
	free(want);
	ck_assert_has(hdr, "\r\nX-Glasswatch-Severity: 0\r\n");
	ck_assert_has(hdr, "\r\nImportance: high\r\n");
	/* Two parts, plain text first: the text body with CRLF line ends,
	 * then the HTML one; then the closing delimiter. */
	want = xasprintf("\r\n--=_glasswatch_%s\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
	    "Break-glass account bg1@contoso.onmicrosoft.com failed to sign "
	    "in", a->id);
	ck_assert_has(msg, want);
	free(want);
	ck_assert_has(msg, "\r\n  IP:             203.0.113.7\r\n");
	want = xasprintf("\r\n--=_glasswatch_%s\r\nContent-Type: text/html; "
	    "charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
	    "<!DOCTYPE html>", a->id);
	ck_assert_has(msg, want);
	free(want);
	ck_assert(strstr(msg, "text/plain") < strstr(msg, "text/html"));
	want = xasprintf("\r\n--=_glasswatch_%s--\r\n", a->id);
	ck_assert(len > strlen(want) &&
	    strcmp(msg + len - strlen(want), want) == 0);
	free(want);
	free(hdr);
	free(msg);
	strlist_clear(&to);
	alert_free(a);
}
END_TEST

/* The HTML part says what the text part says, every value escaped: a
 * record field is attacker-controlled. */
START_TEST(test_html_body)
{
	struct alert *a = sample_alert(ALERT_EVENT);
	char *html, *text;

	free(a->records[0]->app);
	a->records[0]->app = xstrdup("<script>alert('x')</script> & \"co\"");
	html = alert_html_body(a);
	text = alert_text_body(a);
	ck_assert_has(html, "<!DOCTYPE html>");
	ck_assert_has(html, "background: #b00020");	/* Sev0 */
	ck_assert_has(html, "Sev0 Critical");
	ck_assert_has(html, "<h2 style=\"font-size: 18px\">Break-glass "
	    "account bg1@contoso.onmicrosoft.com failed to sign in");
	ck_assert_has(html, "<th style=\"text-align: left; vertical-align: "
	    "top; padding: 2px 16px 2px 0\">App:</th><td style=\"padding: "
	    "2px 0\">&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
	    "&quot;co&quot;</td>");
	ck_assert_ptr_null(strstr(html, "<script>"));
	ck_assert_has(html, "<h3 style=\"font-size: 15px\">Record 1 of 1</h3>");
	ck_assert_has(html, "203.0.113.7");
	ck_assert_has(html, a->id);
	ck_assert_has(text, "<script>alert('x')</script> & \"co\"");
	free(html);
	free(text);
	alert_free(a);
}
END_TEST

START_TEST(test_message_id_stable)
{
	struct alert *a = sample_alert(ALERT_EVENT);
	struct strlist to = { 0 };
	char *m1, *m2, *id1, *id2;
	size_t len;

	strlist_add(&to, "soc@contoso.example");
	m1 = email_message_build(a, "gw@mail.contoso.example", &to, T0, &len);
	m2 = email_message_build(a, "gw@mail.contoso.example", &to,
	    T0 + 3600 * INT64_C(1000000), &len);
	id1 = strstr(m1, "Message-ID: ");
	id2 = strstr(m2, "Message-ID: ");
	ck_assert_ptr_nonnull(id1);
	ck_assert_ptr_nonnull(id2);
	ck_assert_int_eq(strncmp(id1, id2, strcspn(id1, "\r")), 0);
	ck_assert_has(id1, "@mail.contoso.example>\r\n");
	free(m1);
	free(m2);
	strlist_clear(&to);
	alert_free(a);
}
END_TEST

START_TEST(test_message_hostile_subject)
{
	struct alert *a = sample_alert(ALERT_EVENT);
	struct strlist to = { 0 };
	char *msg, *hdr, *dec, *subj;
	size_t len;

	strlist_add(&to, "soc@contoso.example");
	free(a->subject);
	a->subject = xstrdup("[Sev0] bg: x@y\r\nBcc: attacker@evil.example\r\n"
	    "\r\nfake body from M\xc3\xbcnchen");
	msg = email_message_build(a, "gw@contoso.example", &to, T0, &len);
	hdr = headers_of(msg);
	ck_assert_lacks(hdr, "\nBcc:");
	ck_assert_lacks(hdr, "\nfake body");
	check_lines(msg, 998);
	subj = strstr(hdr, "\r\nSubject: ");
	ck_assert_ptr_nonnull(subj);
	dec = decode_words(subj + 2);
	ck_assert_str_eq(dec, "[Sev0] bg: x@y  Bcc: attacker@evil.example    "
	    "fake body from M\xc3\xbcnchen");
	free(dec);
	free(hdr);
	free(msg);
	strlist_clear(&to);
	alert_free(a);
}
END_TEST

START_TEST(test_message_test_alert)
{
	struct alert *a = sample_alert(ALERT_TEST);
	struct strlist to = { 0 };
	char *msg;
	size_t len;

	strlist_add(&to, "soc@contoso.example");
	msg = email_message_build(a, "gw@contoso.example", &to, T0, &len);
	ck_assert_has(msg, "\r\nSubject: [TEST] [Sev0] break-glass-sign-in");
	ck_assert_has(msg, "\r\n\r\nTEST ALERT");
	ck_assert_lacks(msg, "Importance: high");
	free(msg);

	free(a->subject);
	a->subject = NULL;
	msg = email_message_build(a, "gw@contoso.example", &to, T0, &len);
	ck_assert_has(msg, "\r\nSubject: [TEST] glasswatch test alert\r\n");
	free(msg);
	strlist_clear(&to);
	alert_free(a);
}
END_TEST

START_TEST(test_message_long_line_qp)
{
	struct alert *a = sample_alert(ALERT_EVENT);
	struct strlist to = { 0 };
	struct buf app;
	char *msg;
	size_t len;

	buf_init(&app);
	for (int i = 0; i < 300; i++)
		buf_puts(&app, "ab=\xc3\xbc ");
	free(a->records[0]->app);
	a->records[0]->app = buf_steal(&app);
	strlist_add(&to, "soc@contoso.example");
	msg = email_message_build(a, "gw@contoso.example", &to, T0, &len);
	ck_assert_has(msg, "\r\nContent-Transfer-Encoding: quoted-printable\r\n");
	check_lines(msg, 998);
	check_lines(strstr(msg, "\r\n\r\n") + 4, 76);
	ck_assert_has(msg, "ab=3D=C3=BC");
	free(msg);
	strlist_clear(&to);
	alert_free(a);
}
END_TEST

START_TEST(test_classify)
{
	ck_assert_int_eq(email_classify(CURLE_OK, 250), DELIVER_OK);
	/* 5xx: permanent, whatever the stage. */
	ck_assert_int_eq(email_classify(CURLE_SEND_ERROR, 550), DELIVER_DROP);
	ck_assert_int_eq(email_classify(CURLE_RECV_ERROR, 554), DELIVER_DROP);
	ck_assert_int_eq(email_classify(CURLE_LOGIN_DENIED, 535),
	    DELIVER_DROP);
	ck_assert_int_eq(email_classify(CURLE_LOGIN_DENIED, 0), DELIVER_DROP);
	/* 4xx: try again, even a temporary AUTH failure. */
	ck_assert_int_eq(email_classify(CURLE_SEND_ERROR, 451),
	    DELIVER_RETRY);
	ck_assert_int_eq(email_classify(CURLE_RECV_ERROR, 421),
	    DELIVER_RETRY);
	ck_assert_int_eq(email_classify(CURLE_LOGIN_DENIED, 454),
	    DELIVER_RETRY);
	/* Network, timeout, TLS. */
	ck_assert_int_eq(email_classify(CURLE_COULDNT_CONNECT, 0),
	    DELIVER_RETRY);
	ck_assert_int_eq(email_classify(CURLE_OPERATION_TIMEDOUT, 250),
	    DELIVER_RETRY);
	ck_assert_int_eq(email_classify(CURLE_PEER_FAILED_VERIFICATION, 0),
	    DELIVER_RETRY);
	ck_assert_int_eq(email_classify(CURLE_USE_SSL_FAILED, 250),
	    DELIVER_RETRY);
	ck_assert_int_eq(email_classify(CURLE_COULDNT_RESOLVE_HOST, 0),
	    DELIVER_RETRY);
}
END_TEST

START_TEST(test_address_check)
{
	const char *why;

	ck_assert_int_eq(email_address_check("soc@contoso.example", &why), 0);
	ck_assert_int_eq(email_address_check("a+b.c@sub.example", &why), 0);
	ck_assert_int_eq(email_address_check("soc@contoso.example\r\nRCPT",
	    &why), -1);
	ck_assert_has(why, "CR or LF");
	ck_assert_int_eq(email_address_check("soc\n@x", &why), -1);
	ck_assert_int_eq(email_address_check("soc.contoso.example", &why), -1);
	ck_assert_has(why, "not an address");
	ck_assert_int_eq(email_address_check("@example", &why), -1);
	ck_assert_int_eq(email_address_check("soc@", &why), -1);
	ck_assert_int_eq(email_address_check("SOC <soc@x>", &why), -1);
	ck_assert_int_eq(email_address_check("a@x,b@y", &why), -1);
}
END_TEST

/* ---- the email notifier's configuration ----------------------------- */

static void
cfg_setup(void)
{
	cfgtest_setup();
	write_file("smtp", "pw\n", 0600);
	write_file("ca.pem", "not really\n", 0644);
}

/* Lines 1-15; the notifier's own keys start on line 19. */
#define CFG_HEAD							\
	CFGTEST_TENANT							\
	"rules:\n"							\
	"  - name: bg\n"						\
	"    threshold: { operator: gt, value: 0 }\n"			\
	"    actions: [mail]\n"						\
	"notifiers:\n"							\
	"  - name: mail\n"						\
	"    type: email\n"

static struct config *
load_email(const char *keys)
{
	char *text = xasprintf("%s%s", CFG_HEAD, keys);
	struct config *c = load_yaml(text);

	free(text);
	return c;
}

static const void *
email_conf_of(const struct config *c)
{
	const struct notifier_config *nc = config_notifier(c, "mail");

	ck_assert_ptr_nonnull(nc);
	ck_assert_ptr_eq(nc->ops, &notify_email_ops);
	return nc->conf;
}

START_TEST(test_config_good)
{
	struct config *c;
	struct strlist r = { 0 };

	c = load_email(
	    "    url: smtp://127.0.0.1:2525\n"
	    "    tls: none\n"
	    "    from: gw@example.org\n"
	    "    to: [soc@example.org, oncall@example.org]\n");
	ck_assert_msg(c != NULL, "%s", errs.n ? errs.v[0] : "");
	notify_email_ops.recipients(email_conf_of(c), &r);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_str_eq(r.v[1], "oncall@example.org");
	strlist_clear(&r);
	config_free(c);

	c = load_email(
	    "    url: smtps://mail.example.org\n"
	    "    from: gw@example.org\n"
	    "    to: [soc@example.org]\n"
	    "    username: glasswatch\n"
	    "    password_file: ${CREDENTIALS_DIRECTORY}/smtp\n"
	    "    ca_file: ${CREDENTIALS_DIRECTORY}/ca.pem\n");
	ck_assert_msg(c != NULL, "%s", errs.n ? errs.v[0] : "");
	config_free(c);

	c = load_email(
	    "    url: smtp://mail.example.org:587\n"
	    "    tls: starttls\n"
	    "    from: gw@example.org\n"
	    "    to: [soc@example.org]\n");
	ck_assert_msg(c != NULL, "%s", errs.n ? errs.v[0] : "");
	config_free(c);
}
END_TEST

START_TEST(test_config_url_and_tls)
{
	ck_assert_ptr_null(load_email(
	    "    url: https://mail.example.org\n"
	    "    from: gw@example.org\n"
	    "    to: [soc@example.org]\n"));
	expect_error(19, 10, "url: not an smtp:// or smtps:// URL");

	ck_assert_ptr_null(load_email(
	    "    url: smtps://mail.example.org\n"
	    "    tls: starttls\n"
	    "    from: gw@example.org\n"
	    "    to: [soc@example.org]\n"));
	expect_error(20, 10, "tls: an smtps:// URL means tls: implicit");

	ck_assert_ptr_null(load_email(
	    "    url: smtps://127.0.0.1\n"
	    "    tls: none\n"
	    "    from: gw@example.org\n"
	    "    to: [soc@example.org]\n"));
	expect_error(20, 10, "tls: an smtps:// URL means tls: implicit");

	ck_assert_ptr_null(load_email(
	    "    url: smtp://mail.example.org\n"
	    "    tls: implicit\n"
	    "    from: gw@example.org\n"
	    "    to: [soc@example.org]\n"));
	expect_error(20, 10, "tls: implicit needs an smtps:// URL (smtp:// "
	    "is starttls or none)");

	ck_assert_ptr_null(load_email(
	    "    url: smtp://mail.example.org:25\n"
	    "    tls: none\n"
	    "    from: gw@example.org\n"
	    "    to: [soc@example.org]\n"));
	expect_error(20, 10, "tls: none is allowed only to loopback hosts "
	    "(127.0.0.0/8, ::1, localhost)");
	ck_assert_uint_eq(errs.n, 1);

	ck_assert_ptr_null(load_email(
	    "    url: smtp://glasswatch:hunter2@mail.example.org\n"
	    "    from: gw@example.org\n"
	    "    to: [soc@example.org]\n"));
	expect_error(19, 10, "url: the URL must not carry credentials (use "
	    "username and password_file)");
	for (size_t i = 0; i < errs.n; i++)
		ck_assert_lacks(errs.v[i], "hunter2");
}
END_TEST

START_TEST(test_config_addresses)
{
	ck_assert_ptr_null(load_email(
	    "    url: smtp://localhost:25\n"
	    "    tls: none\n"
	    "    from: glasswatch\n"
	    "    to: [\"soc@example.org\\r\\nRCPT TO:<x@y>\", nobody, "
	    "ok@example.org]\n"));
	expect_error(21, 11, "from: 'glasswatch' is not an address "
	    "(local@domain)");
	expect_error(22, 10, "to: 'soc@example.org\\x0d\\x0aRCPT TO:<x@y>' "
	    "must not contain CR or LF");
	expect_error(22, 46, "to: 'nobody' is not an address (local@domain)");
	ck_assert_uint_eq(errs.n, 3);

	ck_assert_ptr_null(load_email(
	    "    url: smtp://localhost:25\n"
	    "    tls: none\n"
	    "    from: gw@example.org\n"
	    "    to: []\n"));
	expect_error(22, 9, "to: needs at least one address");
}
END_TEST

START_TEST(test_config_auth_pair)
{
	ck_assert_ptr_null(load_email(
	    "    url: smtp://localhost:25\n"
	    "    tls: none\n"
	    "    from: gw@example.org\n"
	    "    to: [soc@example.org]\n"
	    "    username: glasswatch\n"));
	expect_error(23, 15, "username: needs password_file");

	ck_assert_ptr_null(load_email(
	    "    url: smtp://localhost:25\n"
	    "    tls: none\n"
	    "    from: gw@example.org\n"
	    "    to: [soc@example.org]\n"
	    "    password_file: ${CREDENTIALS_DIRECTORY}/smtp\n"));
	expect_error(23, 20, "password_file: needs username");

	/* A password file others can read is refused by the loader. */
	write_file("smtp", "pw\n", 0644);
	ck_assert_ptr_null(load_email(
	    "    url: smtp://localhost:25\n"
	    "    tls: none\n"
	    "    from: gw@example.org\n"
	    "    to: [soc@example.org]\n"
	    "    username: glasswatch\n"
	    "    password_file: ${CREDENTIALS_DIRECTORY}/smtp\n"));
	ck_assert_uint_ge(errs.n, 1);
}
END_TEST

static Suite *
alert_suite(void)
{
	Suite *s = suite_create("alert");
	TCase *tc;

	tc = tcase_create("alert");
	tcase_add_test(tc, test_new);
	tcase_add_test(tc, test_records);
	tcase_add_test(tc, test_kind_names);
	tcase_add_test(tc, test_body_fields);
	tcase_add_test(tc, test_body_many_records);
	tcase_add_test(tc, test_body_escapes_nothing);
	tcase_add_test(tc, test_body_fields_cannot_forge_lines);
	tcase_add_test(tc, test_body_missing_values);
	tcase_add_test(tc, test_body_kinds);
	tcase_add_test(tc, test_headline);
	tcase_add_test(tc, test_drill_marking);
	suite_add_tcase(s, tc);

	tc = tcase_create("notifiers");
	tcase_add_test(tc, test_registry);
	tcase_add_test(tc, test_email_recipients);
	suite_add_tcase(s, tc);

	tc = tcase_create("email");
	tcase_add_test(tc, test_header_ascii);
	tcase_add_test(tc, test_header_crlf_stripped);
	tcase_add_test(tc, test_header_rfc2047);
	tcase_add_test(tc, test_header_rfc2047_long);
	tcase_add_test(tc, test_header_folding);
	tcase_add_test(tc, test_date);
	tcase_add_test(tc, test_message);
	tcase_add_test(tc, test_html_body);
	tcase_add_test(tc, test_message_id_stable);
	tcase_add_test(tc, test_message_hostile_subject);
	tcase_add_test(tc, test_message_test_alert);
	tcase_add_test(tc, test_message_long_line_qp);
	tcase_add_test(tc, test_classify);
	tcase_add_test(tc, test_address_check);
	suite_add_tcase(s, tc);

	tc = tcase_create("email-config");
	tcase_add_checked_fixture(tc, cfg_setup, cfgtest_teardown);
	tcase_add_test(tc, test_config_good);
	tcase_add_test(tc, test_config_url_and_tls);
	tcase_add_test(tc, test_config_addresses);
	tcase_add_test(tc, test_config_auth_pair);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(alert_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
