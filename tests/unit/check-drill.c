/*
 * Drills (lib/drill.c): the request and its checks, which account a name
 * means, the daemon's answer (stored in a real store), the DRILL mark on
 * a rule's alert with drills.actions added once, and the sign-in that
 * posture counts as validation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <jansson.h>

#include "alert.h"
#include "cfgtest.h"
#include "config.h"
#include "drill.h"
#include "posture.h"
#include "record.h"
#include "store.h"
#include "strlist.h"
#include "timeutil.h"
#include "xmalloc.h"

#define SEC	USEC_PER_SEC
/* 2026-11-22T03:49:15Z */
#define T0	(INT64_C(1795319355) * SEC)
#define OID1	"33333333-3333-3333-3333-333333333333"
#define OID2	"44444444-4444-4444-4444-444444444444"

/* Two tenants; bg2 only in contoso, shared@ in both. */
#define TWO_TENANTS							\
	CFGTEST_TENANT							\
	"      - { object_id: " OID2 ", upn: bg2@contoso.onmicrosoft.com }\n" \
	"      - { object_id: 55555555-5555-5555-5555-555555555555, "	\
	"upn: shared@example.org }\n"					\
	"  - name: fabrikam\n"						\
	"    tenant_id: 00000000-0000-0000-0000-0000000000BB\n"		\
	"    cloud: custom\n"						\
	"    endpoints: { login: \"https://127.0.0.1:1\", "		\
	"log_analytics: \"https://127.0.0.1:2\" }\n"			\
	"    credentials:\n"						\
	"      client_id: 11111111-1111-1111-1111-111111111111\n"	\
	"      client_secret_file: ${CREDENTIALS_DIRECTORY}/secret\n"	\
	"    log_analytics: { workspace_id: "				\
	"22222222-2222-2222-2222-222222222222 }\n"			\
	"    break_glass:\n"						\
	"      - { object_id: 66666666-6666-6666-6666-666666666666, "	\
	"upn: shared@example.org }\n"

static struct config	*cfg;
static struct store	*st;

static void
setup(void)
{
	char dir[600], *err = NULL;

	cfgtest_setup();
	cfg = load_yaml("drills: { actions: [pager, mail] }\n" TWO_TENANTS
	    CFGTEST_RULE CFGTEST_NOTIFIER
	    "  - name: pager\n"
	    "    type: email\n"
	    "    url: smtp://127.0.0.1:2525\n"
	    "    tls: none\n"
	    "    from: gw@example.org\n"
	    "    to: [pager@example.org]\n");
	ck_assert_msg(cfg != NULL, "%s", errs.n ? errs.v[0] : "?");
	snprintf(dir, sizeof dir, "%s/state", cfgdir);
	ck_assert_msg(store_open(dir, 0, &st, &err) == 0, "%s", err);
}

static void
teardown(void)
{
	store_close(st);
	config_free(cfg);
	cfgtest_teardown();
}

static json_t *
request(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	ck_assert_msg(j != NULL, "%s", e.text);
	return j;
}

static void
expect_bad(const char *text, const char *want)
{
	const char *acct, *reason, *why = NULL;
	int64_t w;
	json_t *j = request(text);

	ck_assert_int_eq(drill_request_parse(j, &acct, &w, &reason, &why), -1);
	ck_assert_str_eq(why, want);
	json_decref(j);
}

START_TEST(request_round_trip_and_checks)
{
	const char *acct, *reason, *why = NULL;
	int64_t w;
	json_t *j = drill_request_new("bg1@x", 600, "quarterly");

	ck_assert_int_eq(drill_request_parse(j, &acct, &w, &reason, &why), 0);
	ck_assert_str_eq(acct, "bg1@x");
	ck_assert_int_eq(w, 600);
	ck_assert_str_eq(reason, "quarterly");
	json_decref(j);

	expect_bad("{}", "the request is not a drill announcement");
	expect_bad("{\"drill\": {\"window\": 600}}",
	    "drill: account must be a non-empty string");
	expect_bad("{\"drill\": {\"account\": \"\", \"window\": 600}}",
	    "drill: account must be a non-empty string");
	expect_bad("{\"drill\": {\"account\": \"a\", \"window\": \"10m\"}}",
	    "drill: window must be a number of seconds");
	expect_bad("{\"drill\": {\"account\": \"a\", \"window\": 59}}",
	    "a drill window is at least 1m");
	expect_bad("{\"drill\": {\"account\": \"a\", \"window\": 86401}}",
	    "a drill window is at most 24h");
	expect_bad("{\"drill\": {\"account\": \"a\", \"window\": 60, "
	    "\"reason\": 7}}", "drill: reason must be a string of at most 200 "
	    "bytes");
	expect_bad("{\"drill\": {\"account\": \"a\", \"window\": 60, "
	    "\"reason\": \"x\\nFAKE log line\"}}", "drill: reason must not "
	    "hold control characters");
	ck_assert_int_eq(drill_window_check(60, &why), 0);
	ck_assert_int_eq(drill_window_check(86400, &why), 0);
}
END_TEST

START_TEST(account_names)
{
	const struct tenant_config *t;
	const struct account *a;

	ck_assert_int_eq(drill_account_find(cfg, "BG2@contoso.onmicrosoft.com",
	    &t, &a), 1);
	ck_assert_str_eq(t->name, "contoso");
	ck_assert_str_eq(a->object_id, OID2);
	ck_assert_int_eq(drill_account_find(cfg,
	    "66666666-6666-6666-6666-666666666666", &t, &a), 1);
	ck_assert_str_eq(t->name, "fabrikam");
	ck_assert_int_eq(drill_account_find(cfg, "shared@example.org", &t, &a),
	    -1);
	ck_assert_int_eq(drill_account_find(cfg, "nobody@example.org", &t, &a),
	    0);
	ck_assert_ptr_null(a);
}
END_TEST

/* The daemon's answer: the drill is stored under the peer's name, whatever
 * the request says; a wrong request is refused as usage. */
START_TEST(answer_stores_the_drill)
{
	json_t *req, *rep;
	struct drill *d;

	req = request("{\"drill\": {\"account\": \"bg1@contoso.onmicrosoft.com\","
	    " \"window\": 600, \"announced_by\": \"mallory\"}}");
	rep = drill_answer(st, cfg, req, 1000, "alice", T0);
	json_decref(req);
	ck_assert(json_is_true(json_object_get(rep, "ok")));
	ck_assert_str_eq(json_string_value(json_object_get(rep, "until")),
	    "2026-11-22T03:59:15Z");
	ck_assert_str_eq(json_string_value(json_object_get(rep,
	    "announced_by")), "alice");
	ck_assert_int_eq(strncmp(json_string_value(json_object_get(rep, "id")),
	    "drill-", 6), 0);
	json_decref(rep);
	ck_assert_int_eq(store_drill_at(st, "contoso", OID1, T0 + 600 * SEC,
	    &d), 1);
	ck_assert_str_eq(d->announced_by, "alice");
	ck_assert_int_eq(d->uid, 1000);
	drill_free(d);

	req = request("{\"drill\": {\"account\": \"shared@example.org\", "
	    "\"window\": 600}}");
	rep = drill_answer(st, cfg, req, 1000, "alice", T0);
	json_decref(req);
	ck_assert(json_is_false(json_object_get(rep, "ok")));
	ck_assert(json_is_true(json_object_get(rep, "usage")));
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(rep,
	    "error")), "more than one tenant"));
	json_decref(rep);
	req = request("{\"drill\": {\"account\": \"ghost\", \"window\": 600}}");
	rep = drill_answer(st, cfg, req, 1000, "alice", T0);
	json_decref(req);
	ck_assert_str_eq(json_string_value(json_object_get(rep, "error")),
	    "'ghost' is not a configured break-glass account");
	json_decref(rep);
}
END_TEST

static struct alert *
signin_alert(const char *oid, int64_t event_us, enum signal sig)
{
	struct alert *a = alert_new(ALERT_EVENT);
	struct record *r = record_new();

	a->rule = xstrdup("bg");
	a->tenant = xstrdup("contoso");
	a->account_oid = xstrdup(oid);
	a->subject = xstrdup("[Sev0] bg: x");
	r->tenant = xstrdup("contoso");
	r->id = xstrdup("rec-1");
	r->signal = sig;
	r->event_us = event_us;
	r->user_id = xstrdup(oid);
	r->success = 1;
	alert_add_record(a, r);
	return a;
}

START_TEST(marks_alerts_inside_the_window)
{
	struct drill d = { "drill-1", "contoso", OID1, NULL, "alice", 1000,
	    NULL, T0, T0 + 600 * SEC };
	struct strlist actions = { NULL, 0 };
	struct alert *a;

	ck_assert_int_eq(store_drill_insert(st, &d), 0);
	strlist_add(&actions, "mail");

	/* The other account, an audit record, a time outside: unmarked. */
	a = signin_alert(OID2, T0 + SEC, SIGNAL_SIGN_IN);
	ck_assert_int_eq(drill_mark_alert(st, cfg, a, &actions), 0);
	ck_assert_ptr_null(a->drill);
	alert_free(a);
	a = signin_alert(OID1, T0 + SEC, SIGNAL_AUDIT);
	ck_assert_int_eq(drill_mark_alert(st, cfg, a, &actions), 0);
	alert_free(a);
	a = signin_alert(OID1, T0 + 601 * SEC, SIGNAL_SIGN_IN);
	ck_assert_int_eq(drill_mark_alert(st, cfg, a, &actions), 0);
	alert_free(a);
	ck_assert_uint_eq(actions.n, 1);

	a = signin_alert(OID1, T0 + SEC, SIGNAL_NON_INTERACTIVE);
	ck_assert_int_eq(drill_mark_alert(st, cfg, a, &actions), 1);
	ck_assert_str_eq(a->drill, "DRILL announced by alice at "
	    "2026-11-22T03:49:15Z, window until 2026-11-22T03:59:15Z");
	ck_assert_str_eq(a->subject, "[DRILL] [Sev0] bg: x");
	alert_free(a);
	/* The rule's own mail once, then the pager. */
	ck_assert_uint_eq(actions.n, 2);
	ck_assert_str_eq(actions.v[0], "mail");
	ck_assert_str_eq(actions.v[1], "pager");
	strlist_clear(&actions);
}
END_TEST

/* signInActivity 200 days old fails; a drill sign-in 10 days ago
 * passes, naming the drill. */
START_TEST(drill_sign_in_validates)
{
	struct drill d = { "drill-1", "contoso", OID1, NULL, "alice", 1000,
	    NULL, T0, T0 + 600 * SEC };
	struct posture_findings fs = { NULL, 0 };
	const struct tenant_config *t = &cfg->tenants[0];
	int64_t now = T0 + 10 * 86400 * SEC;
	struct record *r = record_new();
	const char *ev = NULL;
	json_t *snap;

	snap = json_pack("{s:{s:{s:{s:{s:s}}}}}", "accounts", OID1, "user",
	    "signInActivity", "lastSuccessfulSignInDateTime",
	    "2026-05-06T00:00:00Z");
	ck_assert_int_eq(drill_posture_evidence(st, t, snap, now - 90 * 86400 *
	    SEC), 0);
	posture_check(t, snap, now, &fs);
	for (size_t i = 0; i < fs.n; i++)
		if (strcmp(fs.v[i].check, "sign-in-90d") == 0 &&
		    strcmp(fs.v[i].account, "bg1@contoso.onmicrosoft.com") == 0) {
			ck_assert_int_eq(fs.v[i].result, POSTURE_FAIL);
		}
	posture_findings_clear(&fs);

	ck_assert_int_eq(store_drill_insert(st, &d), 0);
	r->tenant = xstrdup("contoso");
	r->id = xstrdup("rec-1");
	r->signal = SIGNAL_SIGN_IN;
	r->event_us = T0 + 60 * SEC;
	r->ingest_us = r->received_us = r->event_us;
	r->user_id = xstrdup(OID1);
	r->success = 1;
	ck_assert_int_eq(store_record_insert(st, r), 1);
	record_free(r);
	ck_assert_int_eq(drill_posture_evidence(st, t, snap, now - 90 * 86400 *
	    SEC), 0);
	posture_check(t, snap, now, &fs);
	for (size_t i = 0; i < fs.n; i++)
		if (strcmp(fs.v[i].check, "sign-in-90d") == 0 &&
		    strcmp(fs.v[i].account, "bg1@contoso.onmicrosoft.com") == 0) {
			ck_assert_int_eq(fs.v[i].result, POSTURE_PASS);
			ev = fs.v[i].evidence;
			ck_assert_str_eq(ev, "validated by drill drill-1 announced "
			    "by alice: successful sign-in 2026-11-22T03:50:15Z "
			    "(9 days ago)");
		}
	ck_assert_ptr_nonnull(ev);
	posture_findings_clear(&fs);
	json_decref(snap);
}
END_TEST

static Suite *
drill_suite(void)
{
	Suite *s = suite_create("drill");
	TCase *tc = tcase_create("drill");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, request_round_trip_and_checks);
	tcase_add_test(tc, account_names);
	tcase_add_test(tc, answer_stores_the_drill);
	tcase_add_test(tc, marks_alerts_inside_the_window);
	tcase_add_test(tc, drill_sign_in_validates);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(drill_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
