/* check-template: {placeholder} templates (DESIGN.md "Configuration
 * contract"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "alert.h"
#include "buf.h"
#include "record.h"
#include "template.h"
#include "xmalloc.h"

/* 2026-11-22T03:49:15.123456Z */
#define T0	(INT64_C(1795319355) * 1000000 + 123456)

static struct record *
sample_record(void)
{
	struct record *r = record_new();

	r->signal = SIGNAL_SIGN_IN;
	r->tenant = xstrdup("contoso");
	r->id = xstrdup("rec-1");
	r->event_us = T0;
	r->user_id = xstrdup("33333333-3333-3333-3333-333333333333");
	r->upn = xstrdup("bg1@contoso.onmicrosoft.com");
	r->ip = xstrdup("203.0.113.7");
	r->location = xstrdup("Redmond, Washington, US");
	r->app = xstrdup("Azure Portal");
	r->success = 0;
	r->result_code = 50126;
	r->failure_reason = xstrdup("Invalid username or password");
	r->correlation_id = xstrdup("corr-1");
	r->activity = xstrdup("Update user");
	r->initiator = xstrdup("admin@contoso.example");
	r->target = xstrdup("bg2@contoso.onmicrosoft.com");
	return r;
}

static struct alert *
sample_alert(void)
{
	struct alert *a = alert_new(ALERT_EVENT);

	a->rule = xstrdup("break-glass-sign-in");
	a->description = xstrdup("An emergency access account signed in");
	a->severity = 0;
	a->tenant = xstrdup("contoso");
	a->tenant_id = xstrdup("00000000-0000-0000-0000-000000000000");
	a->account_oid = xstrdup("33333333-3333-3333-3333-333333333333");
	a->account_upn = xstrdup("bg1@contoso.onmicrosoft.com");
	alert_add_record(a, sample_record());
	return a;
}

/* Compiles (must succeed) and renders. Caller frees. */
static char *
render(const char *src, const struct alert *a)
{
	struct template *t;
	char *err = NULL, *out;
	size_t off = 99;

	t = template_compile(src, &err, &off);
	ck_assert_msg(t != NULL, "'%s' did not compile: %s at %zu", src,
	    err != NULL ? err : "?", off);
	out = template_render(t, a);
	template_free(t);
	return out;
}

static void
check_render(const char *src, const struct alert *a, const char *want)
{
	char *got = render(src, a);

	ck_assert_str_eq(got, want);
	free(got);
}

/* Compiling must fail at offset want_off with a message holding part. */
static void
check_error(const char *src, size_t want_off, const char *part)
{
	struct template *t;
	char *err = NULL;
	size_t off = 9999;

	t = template_compile(src, &err, &off);
	ck_assert_msg(t == NULL, "'%s' compiled", src);
	ck_assert_ptr_nonnull(err);
	ck_assert_uint_eq(off, want_off);
	ck_assert_msg(strstr(err, part) != NULL, "'%s': error '%s' lacks '%s'",
	    src, err, part);
	free(err);
}

START_TEST(test_every_placeholder)
{
	struct alert *a = sample_alert();
	static const struct {
		const char	*src;
		const char	*want;
	} cases[] = {
		{ "{rule}",		"break-glass-sign-in" },
		{ "{description}",	"An emergency access account signed in" },
		{ "{severity}",		"0" },
		{ "{sev}",		"Sev0" },
		{ "{tenant}",		"contoso" },
		{ "{tenant_id}",	"00000000-0000-0000-0000-000000000000" },
		{ "{upn}",		"bg1@contoso.onmicrosoft.com" },
		{ "{object_id}",	"33333333-3333-3333-3333-333333333333" },
		{ "{ip}",		"203.0.113.7" },
		{ "{location}",		"Redmond, Washington, US" },
		{ "{app}",		"Azure Portal" },
		{ "{result}",		"failure:50126" },
		{ "{error}",		"Invalid username or password" },
		{ "{time}",		"2026-11-22T03:49:15Z" },
		{ "{count}",		"1" },
		{ "{activity}",		"Update user" },
		{ "{initiator}",	"admin@contoso.example" },
		{ "{target}",		"bg2@contoso.onmicrosoft.com" },
	};
	char *want;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_render(cases[i].src, a, cases[i].want);
	check_render("{alert_id}", a, a->id);
	ck_assert_int_eq(strncmp(a->id, "gw-", 3), 0);

	want = xasprintf("[Sev0] break-glass-sign-in: "
	    "bg1@contoso.onmicrosoft.com from 203.0.113.7 (%s)", a->id);
	check_render("[Sev{severity}] {rule}: {upn} from {ip} ({alert_id})",
	    a, want);
	free(want);
	alert_free(a);
}
END_TEST

START_TEST(test_upn_is_the_account)
{
	struct alert *a = sample_alert();

	/* An audit record's upn (the initiator, say) is not the account. */
	free(a->records[0]->upn);
	a->records[0]->upn = xstrdup("admin@contoso.example");
	check_render("{upn} {object_id}", a, "bg1@contoso.onmicrosoft.com "
	    "33333333-3333-3333-3333-333333333333");
	free(a->account_upn);
	a->account_upn = NULL;
	check_render("{upn}", a, "-");
	alert_free(a);
}
END_TEST

START_TEST(test_missing_values)
{
	struct alert *a = alert_new(ALERT_EVENT);
	struct record *r;
	static const char *const record_vars[] = {
		"{ip}", "{location}", "{app}", "{result}", "{error}", "{time}",
		"{activity}", "{initiator}", "{target}"
	};

	/* No records, no strings: every value but the numbers is "-". */
	for (size_t i = 0; i < sizeof record_vars / sizeof record_vars[0]; i++)
		check_render(record_vars[i], a, "-");
	check_render("{rule}|{description}|{tenant}|{tenant_id}|{upn}|"
	    "{object_id}", a, "-|-|-|-|-|-");
	check_render("{count} {severity} {sev}", a, "0 0 Sev0");

	/* A record without the fields, and empty strings, render "-" too;
	 * a success has no {error}. */
	r = record_new();
	r->success = 1;
	r->ip = xstrdup("");
	alert_add_record(a, r);
	check_render("{ip} {location} {app} {error} {time} {activity}", a,
	    "- - - - - -");
	check_render("{result}", a, "success");
	a->rule = xstrdup("");
	check_render("[{rule}]", a, "[-]");
	alert_free(a);
}
END_TEST

START_TEST(test_tenant_falls_back_to_record)
{
	struct alert *a = sample_alert();

	free(a->tenant);
	a->tenant = NULL;
	check_render("{tenant}", a, "contoso");
	alert_free(a);
}
END_TEST

START_TEST(test_braces)
{
	struct alert *a = sample_alert();

	check_render("{{rule}}", a, "{rule}");
	check_render("{{{rule}}}", a, "{break-glass-sign-in}");
	check_render("a}}b{{c", a, "a}b{c");
	check_render("{{}}", a, "{}");
	check_render("json: {{\"ip\": \"{ip}\"}}", a,
	    "json: {\"ip\": \"203.0.113.7\"}");
	check_render("", a, "");
	check_render("no placeholders at all", a, "no placeholders at all");
	alert_free(a);
}
END_TEST

START_TEST(test_errors)
{
	check_error("x{foo}y", 1, "unknown placeholder '{foo}'");
	check_error("{RULE}", 0, "unknown placeholder");
	check_error("{ rule }", 0, "unknown placeholder");
	check_error("{}", 0, "unknown placeholder '{}'");
	check_error("[Sev{severity}] {rule}: {upm}", 24, "{upm}");
	check_error("abc{rule", 3, "unclosed '{'");
	check_error("{", 0, "unclosed");
	check_error("{ru{le}", 0, "unclosed");
	check_error("ok {rule} {ip", 10, "unclosed");
	check_error("ab}c", 2, "lone '}'");
	check_error("}", 0, "lone");
	check_error("}}}", 2, "lone");
	check_error("{rule}}", 6, "lone");
	check_error("{{rule}", 6, "lone");
}
END_TEST

START_TEST(test_count)
{
	struct alert *a = sample_alert();

	alert_add_record(a, sample_record());
	alert_add_record(a, sample_record());
	a->count = 42;	/* only absence alerts render this */
	check_render("{count} records", a, "3 records");
	alert_free(a);

	a = alert_new(ALERT_ABSENCE);
	a->count = 7;
	check_render("{count}", a, "7");
	a->count = 0;
	check_render("{count}", a, "0");
	alert_free(a);

	a = alert_new(ALERT_DIGEST);
	for (int i = 0; i < 12; i++)
		alert_add_record(a, sample_record());
	check_render("{count}", a, "12");
	alert_free(a);
}
END_TEST

START_TEST(test_sev)
{
	struct alert *a = sample_alert();
	char want[32];

	for (int s = 0; s <= 4; s++) {
		a->severity = s;
		snprintf(want, sizeof want, "Sev%d %d", s, s);
		check_render("{sev} {severity}", a, want);
	}
	alert_free(a);
}
END_TEST

START_TEST(test_first_record)
{
	struct alert *a = sample_alert();
	struct record *r = sample_record();

	free(r->ip);
	r->ip = xstrdup("198.51.100.1");
	r->success = 1;
	r->event_us += 3600 * INT64_C(1000000);
	alert_add_record(a, r);
	check_render("{ip} {result} {time} {count}", a,
	    "203.0.113.7 failure:50126 2026-11-22T03:49:15Z 2");
	alert_free(a);
}
END_TEST

START_TEST(test_values_not_escaped)
{
	struct alert *a = sample_alert();

	/* Values are rendered as they are; a value that looks like a
	 * placeholder is not expanded again. */
	free(a->records[0]->app);
	a->records[0]->app = xstrdup("<b>&{rule}}{");
	check_render("{app}", a, "<b>&{rule}}{");
	alert_free(a);
}
END_TEST

static void
escape_angle(struct buf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '<')
			buf_puts(b, "&lt;");
		else
			buf_putc(b, *v);
	}
}

START_TEST(test_render_escaped)
{
	struct alert *a = sample_alert();
	struct template *t;
	char *err = NULL, *out;
	size_t off;

	free(a->records[0]->app);
	a->records[0]->app = xstrdup("<script>");
	t = template_compile("<b>{app}</b> {ip}", &err, &off);
	ck_assert_ptr_nonnull(t);
	out = template_render_escaped(t, a, escape_angle);
	ck_assert_str_eq(out, "<b>&lt;script></b> 203.0.113.7");
	free(out);
	out = template_render(t, a);
	ck_assert_str_eq(out, "<b><script></b> 203.0.113.7");
	free(out);
	template_free(t);
	alert_free(a);
}
END_TEST

START_TEST(test_is_placeholder)
{
	ck_assert(template_is_placeholder("rule"));
	ck_assert(template_is_placeholder("alert_id"));
	ck_assert(!template_is_placeholder("ALERT_ID"));
	ck_assert(!template_is_placeholder(""));
	ck_assert(!template_is_placeholder("rules"));
	template_free(NULL);
}
END_TEST

static Suite *
template_suite(void)
{
	Suite *s = suite_create("template");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_every_placeholder);
	tcase_add_test(tc, test_upn_is_the_account);
	tcase_add_test(tc, test_missing_values);
	tcase_add_test(tc, test_tenant_falls_back_to_record);
	tcase_add_test(tc, test_braces);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_count);
	tcase_add_test(tc, test_sev);
	tcase_add_test(tc, test_first_record);
	tcase_add_test(tc, test_values_not_escaped);
	tcase_add_test(tc, test_render_escaped);
	tcase_add_test(tc, test_is_placeholder);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(template_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
