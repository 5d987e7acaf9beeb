/*
 * The rule engine: the pure window and matching helpers, then the engine
 * over a real SQLite store and a real outbox whose one notifier never gets
 * to send (the loop does not run), so each alert leaves one pending
 * delivery row to count.
 */
#include <sys/types.h>
#include <sys/time.h>

#include <check.h>
#include <dirent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "config.h"
#include "notifier.h"
#include "outbox.h"
#include "record.h"
#include "rules.h"
#include "store.h"
#include "strlist.h"
#include "template.h"
#include "timeutil.h"
#include "xmalloc.h"

#define SEC		USEC_PER_SEC
#define MIN		(60 * USEC_PER_SEC)

#define TENANT		"contoso"
#define BG1		"33333333-3333-3333-3333-333333333333"
#define BG2		"44444444-4444-4444-4444-444444444444"
#define BG1_UPN		"bg1@contoso.onmicrosoft.com"
#define BG2_UPN		"bg2@contoso.onmicrosoft.com"
#define OTHER		"55555555-5555-5555-5555-555555555555"

/* ---------------------------------------------------------------------
 * rule_window_fires
 */

static struct rule_config
window_rule(enum threshold_op op, long value, int64_t period)
{
	struct rule_config	r;

	memset(&r, 0, sizeof r);
	r.name = "w";
	r.op = op;
	r.threshold = value;
	r.period = period;
	return r;
}

START_TEST(window_gt0_fires_on_any)
{
	struct rule_config	r = window_rule(OP_GT, 0, 300);
	int64_t			one[] = { 1000 * SEC };
	int64_t			far[] = { 0, 1000 * SEC, 5000 * SEC };
	size_t			first = 99, last = 99;

	ck_assert_int_eq(rule_window_fires(&r, one, 1, 0, &first, &last), 1);
	ck_assert_uint_eq(first, 0);
	ck_assert_uint_eq(last, 0);
	/* Alone in its windows: still fires, spanning only itself. */
	ck_assert_int_eq(rule_window_fires(&r, far, 3, 1, &first, &last), 1);
	ck_assert_uint_eq(first, 1);
	ck_assert_uint_eq(last, 1);
}
END_TEST

START_TEST(window_gt5_burst_completed_late)
{
	struct rule_config	r = window_rule(OP_GT, 5, 600);
	/* Six failures within ten minutes. */
	int64_t			t[] = { 0, 1 * MIN, 2 * MIN, 3 * MIN, 4 * MIN,
				    9 * MIN };
	size_t			first, last, k;

	/* Whichever one arrives last completes the burst. */
	for (k = 0; k < 6; k++) {
		first = last = 99;
		ck_assert_int_eq(rule_window_fires(&r, t, 6, k, &first, &last),
		    1);
		ck_assert_uint_eq(first, 0);
		ck_assert_uint_eq(last, 5);
	}
	/* Five are not more than five. */
	ck_assert_int_eq(rule_window_fires(&r, t, 5, 4, &first, &last), 0);
	ck_assert_int_eq(rule_window_fires(&r, t + 1, 5, 0, &first, &last), 0);
}
END_TEST

START_TEST(window_gt5_spread_out)
{
	struct rule_config	r = window_rule(OP_GT, 5, 600);
	/* Eleven failures five minutes apart: at most three per window. */
	int64_t			t[11];
	size_t			first, last;

	for (size_t i = 0; i < 11; i++)
		t[i] = (int64_t)i * 5 * MIN;
	for (size_t i = 0; i < 11; i++)
		ck_assert_int_eq(rule_window_fires(&r, t, 11, i, &first,
		    &last), 0);
}
END_TEST

START_TEST(window_only_windows_holding_the_new_one)
{
	struct rule_config	r = window_rule(OP_GT, 2, 600);
	int64_t			t[] = { 0, 100 * SEC, 200 * SEC, 900 * SEC };
	int64_t			u[] = { 0, 100 * SEC, 200 * SEC, 700 * SEC,
				    800 * SEC };
	size_t			first = 99, last = 99;

	/* The burst at 0..200 s is over before 900 s - 600 s. */
	ck_assert_int_eq(rule_window_fires(&r, t, 4, 3, &first, &last), 0);
	ck_assert_int_eq(rule_window_fires(&r, t, 4, 2, &first, &last), 1);
	ck_assert_uint_eq(first, 0);
	ck_assert_uint_eq(last, 2);
	/* Windows [0,600], [100,700], [200,800] all hold 200 s and three
	 * incidents: the span is their union. */
	ck_assert_int_eq(rule_window_fires(&r, u, 5, 2, &first, &last), 1);
	ck_assert_uint_eq(first, 0);
	ck_assert_uint_eq(last, 4);
	/* 800 s: [200,800] holds 200, 700, 800. */
	ck_assert_int_eq(rule_window_fires(&r, u, 5, 4, &first, &last), 1);
	ck_assert_uint_eq(first, 2);
	ck_assert_uint_eq(last, 4);
}
END_TEST

START_TEST(window_ge)
{
	struct rule_config	ge6 = window_rule(OP_GE, 6, 600);
	struct rule_config	ge7 = window_rule(OP_GE, 7, 600);
	struct rule_config	ge1 = window_rule(OP_GE, 1, 600);
	int64_t			t[] = { 0, 1 * MIN, 2 * MIN, 3 * MIN, 4 * MIN,
				    5 * MIN };
	size_t			first, last;

	ck_assert_int_eq(rule_window_fires(&ge6, t, 6, 3, &first, &last), 1);
	ck_assert_int_eq(rule_window_fires(&ge7, t, 6, 3, &first, &last), 0);
	ck_assert_int_eq(rule_window_fires(&ge1, t, 1, 0, &first, &last), 1);
}
END_TEST

START_TEST(window_exactly_period_apart)
{
	struct rule_config	r = window_rule(OP_GT, 1, 600);
	int64_t			in[] = { 0, 600 * SEC };
	int64_t			out[] = { 0, 600 * SEC + 1 };
	size_t			first, last;

	/* Windows are closed: [s, s + period] holds both ends. */
	ck_assert_int_eq(rule_window_fires(&r, in, 2, 1, &first, &last), 1);
	ck_assert_uint_eq(first, 0);
	ck_assert_uint_eq(last, 1);
	ck_assert_int_eq(rule_window_fires(&r, in, 2, 0, &first, &last), 1);
	ck_assert_int_eq(rule_window_fires(&r, out, 2, 1, &first, &last), 0);
	ck_assert_int_eq(rule_window_fires(&r, out, 2, 0, &first, &last), 0);
}
END_TEST

START_TEST(window_equal_times)
{
	struct rule_config	r = window_rule(OP_GT, 2, 60);
	int64_t			t[] = { 5 * SEC, 5 * SEC, 5 * SEC };
	size_t			first, last;

	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(rule_window_fires(&r, t, 3, i, &first, &last),
		    1);
		ck_assert_uint_eq(first, 0);
		ck_assert_uint_eq(last, 2);
	}
}
END_TEST

START_TEST(window_bad_input)
{
	struct rule_config	r = window_rule(OP_GT, 0, 600);
	struct rule_config	lt = window_rule(OP_LT, 1, 600);
	int64_t			unsorted[] = { 0, 2 * MIN, 1 * MIN };
	int64_t			t[] = { 0, 1 * MIN };
	size_t			first, last;

	/* Unsorted times are refused, not guessed at. */
	ck_assert_int_eq(rule_window_fires(&r, unsorted, 3, 0, &first, &last),
	    -1);
	ck_assert_int_eq(rule_window_fires(&r, t, 2, 2, &first, &last), -1);
	ck_assert_int_eq(rule_window_fires(&r, t, 0, 0, &first, &last), -1);
	/* Absence rules have no event windows. */
	ck_assert_int_eq(rule_window_fires(&lt, t, 2, 0, &first, &last), -1);
}
END_TEST

/* ---------------------------------------------------------------------
 * rule_matches
 */

static struct record *
sign_in(int success, long code)
{
	struct record	*r = record_new();

	r->signal = SIGNAL_SIGN_IN;
	r->success = success;
	r->result_code = code;
	r->app = xstrdup("Azure Portal");
	return r;
}

START_TEST(match_result)
{
	struct rule_config	 rule;
	struct record		*ok = sign_in(1, 0), *bad = sign_in(0, 50126);

	memset(&rule, 0, sizeof rule);
	rule.signal = SIGNAL_SIGN_IN;
	rule.match.result = MATCH_ANY;
	ck_assert_int_eq(rule_matches(&rule, ok), 1);
	ck_assert_int_eq(rule_matches(&rule, bad), 1);
	rule.match.result = MATCH_SUCCESS;
	ck_assert_int_eq(rule_matches(&rule, ok), 1);
	ck_assert_int_eq(rule_matches(&rule, bad), 0);
	rule.match.result = MATCH_FAILURE;
	ck_assert_int_eq(rule_matches(&rule, ok), 0);
	ck_assert_int_eq(rule_matches(&rule, bad), 1);

	/* Another signal never matches. */
	rule.match.result = MATCH_ANY;
	rule.signal = SIGNAL_NON_INTERACTIVE;
	ck_assert_int_eq(rule_matches(&rule, ok), 0);
	record_free(ok);
	record_free(bad);
}
END_TEST

START_TEST(match_error_codes)
{
	struct rule_config	 rule;
	long			 codes[] = { 50126, 50053 };
	struct record		*a = sign_in(0, 50053), *b = sign_in(0, 50074);
	struct record		*ok = sign_in(1, 0);

	memset(&rule, 0, sizeof rule);
	rule.signal = SIGNAL_SIGN_IN;
	rule.match.error_codes = codes;
	rule.match.nerror_codes = 2;
	ck_assert_int_eq(rule_matches(&rule, a), 1);
	ck_assert_int_eq(rule_matches(&rule, b), 0);
	ck_assert_int_eq(rule_matches(&rule, ok), 0);
	record_free(a);
	record_free(b);
	record_free(ok);
}
END_TEST

START_TEST(match_apps_case)
{
	struct rule_config	 rule;
	struct record		*r = sign_in(1, 0);

	memset(&rule, 0, sizeof rule);
	rule.signal = SIGNAL_SIGN_IN;
	strlist_add(&rule.match.apps, "azure PORTAL");
	ck_assert_int_eq(rule_matches(&rule, r), 1);
	free(r->app);
	r->app = xstrdup("Microsoft Graph PowerShell");
	ck_assert_int_eq(rule_matches(&rule, r), 0);
	free(r->app);
	r->app = NULL;
	ck_assert_int_eq(rule_matches(&rule, r), 0);
	strlist_clear(&rule.match.apps);
	record_free(r);
}
END_TEST

START_TEST(match_audit_trimmed)
{
	struct rule_config	 rule;
	struct record		*r = record_new();

	r->signal = SIGNAL_AUDIT;
	r->success = 1;
	/* Real activity names carry a trailing space. */
	r->activity = xstrdup("User registered security info ");
	r->category = xstrdup("UserManagement");
	r->service = xstrdup("Authentication Methods");

	memset(&rule, 0, sizeof rule);
	rule.signal = SIGNAL_AUDIT;
	strlist_add(&rule.match.activities, "user registered security info");
	strlist_add(&rule.match.activities, "Reset password (by admin)");
	ck_assert_int_eq(rule_matches(&rule, r), 1);
	strlist_add(&rule.match.categories, " usermanagement ");
	ck_assert_int_eq(rule_matches(&rule, r), 1);
	strlist_add(&rule.match.services, "Core Directory");
	ck_assert_int_eq(rule_matches(&rule, r), 0);
	strlist_add(&rule.match.services, "AUTHENTICATION METHODS");
	ck_assert_int_eq(rule_matches(&rule, r), 1);

	free(r->activity);
	r->activity = xstrdup("User registered security info again");
	ck_assert_int_eq(rule_matches(&rule, r), 0);
	free(r->activity);
	r->activity = NULL;
	ck_assert_int_eq(rule_matches(&rule, r), 0);

	strlist_clear(&rule.match.activities);
	strlist_clear(&rule.match.categories);
	strlist_clear(&rule.match.services);
	record_free(r);
}
END_TEST

/* ---------------------------------------------------------------------
 * The engine over a real store
 */

static char			 dir[64];
static struct event_base	*base;
static struct store		*store;
static struct outbox		*outbox;
static struct rules		*rules;
static struct notifier		*notifier;
static struct config		 cfg;
static struct tenant_config	 tenant;
static struct account		 bg[2];
static struct rule_config	 rule;
static struct notifier_config	 ncfg;
static int			 nseq;

static void
test_recipients(const void *conf, struct strlist *out)
{
	(void)conf;
	strlist_add(out, "soc@contoso.example");
}

static int
test_send(struct notifier *n, struct delivery *d)
{
	(void)n;
	delivery_done(d, DELIVER_RETRY, "test notifier does not send");
	return -1;
}

static const struct notifier_ops test_ops = {
	.type = "test",
	.recipients = test_recipients,
	.send = test_send,
};

static void
setup(void)
{
	struct notifier_env	 env;
	char			*err = NULL;

	snprintf(dir, sizeof dir, "/tmp/check-rules.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(store_open(dir, 0, &store, &err), 0);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	outbox = outbox_new(base, store);

	memset(&cfg, 0, sizeof cfg);
	cfg.state_dir = dir;
	cfg.incident_window = 600;

	memset(&tenant, 0, sizeof tenant);
	tenant.name = TENANT;
	tenant.tenant_id = "00000000-0000-0000-0000-000000000000";
	bg[0].object_id = BG1;
	bg[0].upn = BG1_UPN;
	bg[1].object_id = BG2;
	bg[1].upn = BG2_UPN;
	tenant.break_glass = bg;
	tenant.nbreak_glass = 2;
	cfg.tenants = &tenant;
	cfg.ntenants = 1;

	memset(&ncfg, 0, sizeof ncfg);
	ncfg.name = "test";
	ncfg.type = "test";
	ncfg.ops = &test_ops;
	ncfg.retry.initial = 5;
	ncfg.retry.max = 300;
	ncfg.retry.expire_after = 86400;
	cfg.notifiers = &ncfg;
	cfg.nnotifiers = 1;

	env.base = base;
	env.http = NULL;
	env.config = &cfg;
	notifier = notifier_new(&ncfg, &env, &err);
	ck_assert_ptr_nonnull(notifier);
	outbox_set_notifiers(outbox, &notifier, 1);

	memset(&rule, 0, sizeof rule);
	rule.name = "break-glass-sign-in";
	rule.description = "An emergency access account signed in";
	rule.source = SOURCE_LOG_ANALYTICS;
	rule.signal = SIGNAL_SIGN_IN;
	rule.all_accounts = 1;
	rule.match.result = MATCH_ANY;
	rule.op = OP_GT;
	rule.threshold = 0;
	rule.period = 300;
	rule.frequency = 60;
	rule.severity = 0;
	rule.enabled = 1;
	strlist_add(&rule.actions, "test");
	rule.subject = "[Sev{severity}] {rule}: {upn} {result}";
	rule.subject_tpl = template_compile(rule.subject, &err, &(size_t){0});
	ck_assert_ptr_nonnull(rule.subject_tpl);
	cfg.rules = &rule;
	cfg.nrules = 1;

	rules = rules_new(base, store, outbox);
	nseq = 0;
}

static void
teardown(void)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[512];

	rules_free(rules);
	outbox_free(outbox);
	notifier_unref(notifier);
	store_close(store);
	event_base_free(base);
	template_free(rule.subject_tpl);
	strlist_clear(&rule.actions);
	strlist_clear(&rule.accounts);
	strlist_clear(&rule.match.activities);

	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

static void
start(void)
{
	rules_set_config(rules, &cfg);
}

/* Stores a sign-in of the account; returns its (static) id. */
static const char *
put_sign_in_at(const char *oid, int64_t event_us, int64_t received_us,
    const char *corr, long code)
{
	static char	 id[64];
	struct record	*r = record_new();

	snprintf(id, sizeof id, "rec-%02d", ++nseq);
	r->signal = SIGNAL_SIGN_IN;
	r->tenant = xstrdup(TENANT);
	r->id = xstrdup(id);
	r->event_us = event_us;
	r->ingest_us = received_us;
	r->received_us = received_us;
	r->user_id = xstrdup(oid);
	r->upn = xstrdup(strcmp(oid, BG1) == 0 ? BG1_UPN : BG2_UPN);
	r->ip = xstrdup("203.0.113.7");
	r->app = xstrdup("Azure Portal");
	r->success = code == 0;
	r->result_code = code;
	if (code != 0)
		r->failure_reason = xstrdup("Invalid username or password");
	if (corr != NULL)
		r->correlation_id = xstrdup(corr);
	r->raw = xstrdup("{}");
	ck_assert_int_eq(store_record_insert(store, r), 1);
	record_free(r);
	return id;
}

static const char *
put_sign_in(const char *oid, int64_t event_us, const char *corr, long code)
{
	return put_sign_in_at(oid, event_us, time_now_us(), corr, code);
}

static long
pending(void)
{
	long	n = -1;

	ck_assert_int_eq(store_delivery_count(store, NULL, DELIVERY_PENDING,
	    &n), 0);
	return n;
}

/* The rule's mark of a record of the account. */
static struct rule_mark *
mark_of(const char *oid, const char *id, struct rule_mark **all,
    size_t *n)
{
	ck_assert_int_eq(store_rule_marks_window(store, rule.name, TENANT,
	    oid, 0, INT64_MAX, all, n), 0);
	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*all)[i].record_id, id) == 0)
			return &(*all)[i];
	}
	return NULL;
}

START_TEST(engine_gt0_one_alert_per_record)
{
	int64_t	now = time_now_us();

	start();
	put_sign_in(BG1, now - 3 * MIN, "c1", 0);
	put_sign_in(BG1, now - 2 * MIN, "c2", 0);
	put_sign_in(BG2, now - 1 * MIN, "c3", 50126);
	/* Not a break-glass account: stored, never paged. */
	put_sign_in(OTHER, now - 1 * MIN, "c4", 0);
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 3);
	ck_assert_int_eq(pending(), 3);
	/* Nothing new: nothing more. */
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 0);
	ck_assert_int_eq(pending(), 3);
}
END_TEST

START_TEST(engine_late_record_alerts)
{
	struct rule_mark	*m = NULL, *x;
	struct alert		*a = NULL;
	size_t			 n = 0;
	int64_t			 now = time_now_us();
	char			*id;

	start();
	put_sign_in(BG1, now - 1 * MIN, "c1", 0);
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 1);
	/* Twenty minutes late: far outside period, still an alert. */
	id = xstrdup(put_sign_in(BG1, now - 20 * MIN, "c0", 0));
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 1);
	ck_assert_int_eq(pending(), 2);

	x = mark_of(BG1, id, &m, &n);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->state, MARK_ALERTED);
	ck_assert_ptr_nonnull(x->alert_id);
	ck_assert_int_eq(store_alert_load(store, x->alert_id, &a), 1);
	ck_assert_int_eq(a->kind, ALERT_EVENT);
	ck_assert_uint_eq(a->nrecords, 1);
	ck_assert_str_eq(a->records[0]->id, id);
	ck_assert_str_eq(a->account_upn, BG1_UPN);
	ck_assert_str_eq(a->subject,
	    "[Sev0] break-glass-sign-in: " BG1_UPN " success");
	alert_free(a);
	rule_marks_free(m, n);
	free(id);
}
END_TEST

START_TEST(engine_same_record_twice)
{
	struct record	*r;
	int64_t		 now = time_now_us();
	const char	*id;

	start();
	id = put_sign_in(BG1, now - 1 * MIN, "c1", 0);
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 1);
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 0);
	/* Returned again by another source or window: stored once. */
	ck_assert_int_eq(store_record_get(store, TENANT, id, &r), 1);
	ck_assert_int_eq(store_record_insert(store, r), 0);
	record_free(r);
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 0);
	ck_assert_int_eq(pending(), 1);
}
END_TEST

START_TEST(engine_duplicate_incident_rows)
{
	struct rule_mark	*m = NULL, *x;
	size_t			 n = 0;
	int64_t			 now = time_now_us();
	char			*head, *dup, *dup2;

	start();
	head = xstrdup(put_sign_in(BG1, now - 5 * MIN, "CORR-1", 0));
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 1);
	/* Entra republishes the sign-in: same correlation id (other case)
	 * and result, a minute later, arriving later. */
	dup = xstrdup(put_sign_in(BG1, now - 4 * MIN, "corr-1", 0));
	/* And one that arrives first but happened before the head. */
	dup2 = xstrdup(put_sign_in(BG1, now - 6 * MIN, "Corr-1", 0));
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 0);
	ck_assert_int_eq(pending(), 1);

	x = mark_of(BG1, dup, &m, &n);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->state, MARK_DUPLICATE);
	ck_assert_str_eq(x->incident_of, head);
	ck_assert_ptr_nonnull(x->alert_id);
	rule_marks_free(m, n);
	x = mark_of(BG1, dup2, &m, &n);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->state, MARK_DUPLICATE);
	ck_assert_str_eq(x->incident_of, head);
	rule_marks_free(m, n);

	/* Outside the incident window it is a new incident. */
	put_sign_in(BG1, now - 16 * MIN, "corr-1", 0);
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 1);
	/* No correlation id: never merged. */
	put_sign_in(BG1, now - 5 * MIN, NULL, 0);
	put_sign_in(BG1, now - 5 * MIN, "", 0);
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 2);
	ck_assert_int_eq(pending(), 4);
	free(head);
	free(dup);
	free(dup2);
}
END_TEST

START_TEST(engine_interrupt_then_success)
{
	int64_t	now = time_now_us();

	start();
	/* MFA interrupt, then the success of the same sign-in. */
	put_sign_in(BG1, now - 2 * MIN, "corr-mfa", 50074);
	put_sign_in(BG1, now - 2 * MIN + 20 * SEC, "corr-mfa", 0);
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 2);
	ck_assert_int_eq(pending(), 2);
}
END_TEST

START_TEST(engine_gt5_late_record_completes_burst)
{
	struct rule_mark	*m = NULL, *x;
	struct alert		*a = NULL;
	size_t			 n = 0, i;
	int64_t			 now = time_now_us();
	char			 corr[16], *late;

	rule.op = OP_GT;
	rule.threshold = 5;
	rule.period = 600;
	rule.match.result = MATCH_FAILURE;
	start();
	/* Five failures in ten minutes, and a success: not enough. */
	for (i = 0; i < 5; i++) {
		snprintf(corr, sizeof corr, "c%zu", i);
		put_sign_in(BG1, now - (9 - (int64_t)i) * MIN, corr, 50126);
	}
	put_sign_in(BG1, now - 3 * MIN, "ok", 0);
	/* The other account's failures are counted on their own. */
	put_sign_in(BG2, now - 9 * MIN, "x", 50126);
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 0);
	ck_assert_int_eq(pending(), 0);

	/* The sixth arrives late, before the others in event time. */
	late = xstrdup(put_sign_in(BG1, now - 10 * MIN, "c9", 50126));
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 1);
	ck_assert_int_eq(pending(), 1);
	x = mark_of(BG1, late, &m, &n);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->state, MARK_ALERTED);
	ck_assert_int_eq(store_alert_load(store, x->alert_id, &a), 1);
	ck_assert_uint_eq(a->nrecords, 6);
	ck_assert_int_eq(a->count, 6);
	ck_assert_str_eq(a->records[0]->id, late);
	alert_free(a);
	for (i = 0; i < n; i++) {
		if (m[i].state != MARK_NOMATCH)
			ck_assert_int_eq(m[i].state, MARK_ALERTED);
	}
	rule_marks_free(m, n);

	/* A seventh in the burst: the alert carries only it. */
	free(late);
	late = xstrdup(put_sign_in(BG1, now - 2 * MIN, "c10", 50126));
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 1);
	x = mark_of(BG1, late, &m, &n);
	ck_assert_int_eq(store_alert_load(store, x->alert_id, &a), 1);
	ck_assert_uint_eq(a->nrecords, 1);
	alert_free(a);
	rule_marks_free(m, n);
	free(late);
}
END_TEST

START_TEST(engine_suppression_digest)
{
	struct rule_mark	*m = NULL;
	struct alert		*a = NULL;
	size_t			 n = 0, i, nsup = 0;
	int64_t			 now = time_now_us(), until;
	char			*first, *digest_id = NULL;

	rule.suppress = 600;
	start();
	first = xstrdup(put_sign_in(BG1, now - 3 * MIN, "a", 0));
	put_sign_in(BG1, now - 2 * MIN, "b", 0);
	put_sign_in(BG1, now - 1 * MIN, "c", 0);
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 1);
	ck_assert_int_eq(pending(), 1);
	ck_assert_int_eq(store_suppression_get(store, rule.name, TENANT, BG1,
	    &until), 1);
	ck_assert_int_ge(until, now + 600 * SEC);
	/* The other account is not suppressed. */
	put_sign_in(BG2, now - 1 * MIN, "d", 0);
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 1);
	ck_assert_int_eq(pending(), 2);

	ck_assert_int_eq(store_rule_marks_window(store, rule.name, TENANT, BG1,
	    0, INT64_MAX, &m, &n), 0);
	for (i = 0; i < n; i++) {
		if (strcmp(m[i].record_id, first) == 0)
			ck_assert_int_eq(m[i].state, MARK_ALERTED);
		else
			ck_assert_int_eq(m[i].state, MARK_SUPPRESSED);
	}
	rule_marks_free(m, n);

	/* Inside the window nothing ends. */
	ck_assert_int_eq(rules_tick(rules, now + 300 * SEC), 0);
	ck_assert_int_eq(pending(), 2);
	/* After it: one digest with both. */
	ck_assert_int_eq(rules_tick(rules, until + 1), 1);
	ck_assert_int_eq(pending(), 3);
	ck_assert_int_eq(store_suppression_get(store, rule.name, TENANT, BG1,
	    &until), 0);

	ck_assert_int_eq(store_rule_marks_window(store, rule.name, TENANT, BG1,
	    0, INT64_MAX, &m, &n), 0);
	for (i = 0; i < n; i++) {
		if (strcmp(m[i].record_id, first) == 0)
			continue;
		ck_assert_int_eq(m[i].state, MARK_DIGESTED);
		ck_assert_ptr_nonnull(m[i].alert_id);
		if (digest_id == NULL)
			digest_id = xstrdup(m[i].alert_id);
		ck_assert_str_eq(m[i].alert_id, digest_id);
		nsup++;
	}
	ck_assert_uint_eq(nsup, 2);
	rule_marks_free(m, n);
	ck_assert_int_eq(store_alert_load(store, digest_id, &a), 1);
	ck_assert_int_eq(a->kind, ALERT_DIGEST);
	ck_assert_uint_eq(a->nrecords, 2);
	ck_assert_int_eq(a->count, 2);
	ck_assert_str_eq(a->account_upn, BG1_UPN);
	ck_assert(strncmp(a->subject, "Digest: ", 8) == 0);
	alert_free(a);

	/* A digest opens no window. bg2's window ends with nothing
	 * suppressed: no digest. */
	ck_assert_int_eq(store_suppression_get(store, rule.name, TENANT, BG1,
	    &until), 0);
	ck_assert_int_eq(rules_tick(rules, now + 3600 * SEC), 0);
	ck_assert_int_eq(store_suppression_get(store, rule.name, TENANT, BG2,
	    &until), 0);
	ck_assert_int_eq(pending(), 3);
	free(first);
	free(digest_id);
}
END_TEST

START_TEST(engine_suppression_nothing_suppressed)
{
	int64_t	now = time_now_us(), until;

	rule.suppress = 60;
	start();
	put_sign_in(BG1, now - 1 * MIN, "a", 0);
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 1);
	ck_assert_int_eq(store_suppression_get(store, rule.name, TENANT, BG1,
	    &until), 1);
	ck_assert_int_eq(rules_tick(rules, until), 0);
	ck_assert_int_eq(store_suppression_get(store, rule.name, TENANT, BG1,
	    &until), 0);
	ck_assert_int_eq(pending(), 1);
}
END_TEST

START_TEST(engine_absence_once_per_period)
{
	int64_t	since, p = 3600 * SEC;

	rule.name = "bg-heartbeat";
	rule.op = OP_LT;
	rule.threshold = 1;
	rule.period = 3600;
	rule.frequency = 600;
	rule.all_accounts = 0;
	/* A UPN, in another case: only this account is watched. */
	strlist_add(&rule.accounts, "BG1@Contoso.onmicrosoft.com");
	start();
	ck_assert_int_eq(store_rule_since(store, rule.name, 0, &since), 0);

	/* Not watched a whole period yet. */
	ck_assert_int_eq(rules_tick(rules, since + p / 2), 0);
	ck_assert_int_eq(rules_tick(rules, since + p - 1), 0);
	ck_assert_int_eq(rules_tick(rules, since + p), 1);
	ck_assert_int_eq(pending(), 1);
	/* Still absent, but it fired within the period. */
	ck_assert_int_eq(rules_tick(rules, since + p + p / 2), 0);
	ck_assert_int_eq(rules_tick(rules, since + 2 * p), 1);
	ck_assert_int_eq(pending(), 2);

	/* A sign-in received in the period ends the absence. */
	put_sign_in_at(BG1, since + 2 * p + 10 * SEC, since + 2 * p + 20 * SEC,
	    "x", 0);
	ck_assert_int_eq(rules_tick(rules, since + 3 * p), 0);
	/* Event rules never fire an absence rule's records. */
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 0);
	ck_assert_int_eq(rules_tick(rules, since + 4 * p), 1);
	ck_assert_int_eq(pending(), 3);
}
END_TEST

START_TEST(engine_absence_by_received_time)
{
	int64_t	since, p = 3600 * SEC;

	rule.name = "bg-heartbeat";
	rule.op = OP_LE;
	rule.threshold = 0;
	rule.period = 3600;
	start();
	ck_assert_int_eq(store_rule_since(store, rule.name, 0, &since), 0);

	/* A row received now that happened two days ago counts: it was
	 * received in the period. bg2 has nothing. */
	put_sign_in_at(BG1, since - 2 * 86400 * SEC, since + p - 60 * SEC,
	    "old", 0);
	ck_assert_int_eq(rules_tick(rules, since + p), 1);
	ck_assert_int_eq(pending(), 1);
}
END_TEST

START_TEST(engine_absence_counts_incidents)
{
	int64_t	since, p = 3600 * SEC;

	rule.name = "bg-eq";
	rule.op = OP_EQ;
	rule.threshold = 1;
	rule.period = 3600;
	start();
	ck_assert_int_eq(store_rule_since(store, rule.name, 0, &since), 0);
	/* bg1: two rows of one incident count once; bg2: two incidents. */
	put_sign_in_at(BG1, since - 3600 * SEC, since + 10 * SEC, "inc", 0);
	put_sign_in_at(BG1, since - 3590 * SEC, since + 20 * SEC, "inc", 0);
	put_sign_in_at(BG2, since - 3600 * SEC, since + 10 * SEC, "i1", 0);
	put_sign_in_at(BG2, since - 3000 * SEC, since + 20 * SEC, "i2", 0);
	ck_assert_int_eq(rules_tick(rules, since + p), 1);
	ck_assert_int_eq(pending(), 1);
}
END_TEST

START_TEST(engine_audit_target)
{
	struct record	*r = record_new();
	int64_t		 now = time_now_us();

	rule.signal = SIGNAL_AUDIT;
	strlist_add(&rule.match.activities, "User registered security info");
	start();
	r->signal = SIGNAL_AUDIT;
	r->tenant = xstrdup(TENANT);
	r->id = xstrdup("audit-1");
	r->event_us = now - MIN;
	r->received_us = time_now_us();	/* after the rule started */
	r->success = 1;
	r->activity = xstrdup("User registered security info ");
	r->initiator_id = xstrdup(OTHER);
	r->target_ids = xstrdup(OTHER " " BG2);
	r->correlation_id = xstrdup("same");
	ck_assert_int_eq(store_record_insert(store, r), 1);
	/* Audit rows are never merged. */
	free(r->id);
	r->id = xstrdup("audit-2");
	ck_assert_int_eq(store_record_insert(store, r), 1);
	/* Another activity does not match. */
	free(r->id);
	r->id = xstrdup("audit-3");
	free(r->activity);
	r->activity = xstrdup("Update user");
	ck_assert_int_eq(store_record_insert(store, r), 1);
	record_free(r);
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 2);
	ck_assert_int_eq(pending(), 2);
}
END_TEST

START_TEST(engine_reload_keeps_state)
{
	struct config	cfg2;
	int64_t		now = time_now_us();

	rule.suppress = 600;
	start();
	put_sign_in(BG1, now - 2 * MIN, "a", 0);
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 1);
	/* A reload with a new config of the same rule. */
	cfg2 = cfg;
	rules_set_config(rules, &cfg2);
	put_sign_in(BG1, now - 1 * MIN, "b", 0);
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 0);
	ck_assert_int_eq(rules_tick(rules, now + 601 * SEC), 1);
	ck_assert_int_eq(pending(), 2);
}
END_TEST

START_TEST(engine_store_error_leaves_unmarked)
{
	struct rule_mark	*m = NULL;
	size_t			 n = 0;
	int64_t			 now = time_now_us();
	char			*id;

	start();
	id = xstrdup(put_sign_in(BG1, now - MIN, "a", 0));
	/* Someone else holds a transaction: the alert cannot commit. */
	ck_assert_int_eq(store_begin(store), 0);
	ck_assert_int_eq(rules_evaluate(rules, TENANT), -1);
	store_rollback(store);
	ck_assert_int_eq(pending(), 0);
	ck_assert_ptr_null(mark_of(BG1, id, &m, &n));
	rule_marks_free(m, n);
	/* Nothing was lost: the next evaluation pages. */
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 1);
	ck_assert_int_eq(pending(), 1);
	ck_assert_ptr_nonnull(mark_of(BG1, id, &m, &n));
	rule_marks_free(m, n);
	free(id);
}
END_TEST

static void
run_loop(int64_t us)
{
	struct timeval	tv;

	tv.tv_sec = us / USEC_PER_SEC;
	tv.tv_usec = us % USEC_PER_SEC;
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

START_TEST(engine_timer_ends_suppression)
{
	struct rule_mark	*m = NULL, *x;
	size_t			 n = 0;
	int64_t			 now = time_now_us();
	char			*id;

	rule.suppress = 1;
	start();
	put_sign_in(BG1, now - 2 * MIN, "a", 0);
	id = xstrdup(put_sign_in(BG1, now - MIN, "b", 0));
	ck_assert_int_eq(rules_evaluate(rules, TENANT), 1);
	x = mark_of(BG1, id, &m, &n);
	ck_assert_int_eq(x->state, MARK_SUPPRESSED);
	rule_marks_free(m, n);
	/* No tick: the timer armed for the end of the window does it. */
	run_loop(1500 * 1000);
	x = mark_of(BG1, id, &m, &n);
	ck_assert_int_eq(x->state, MARK_DIGESTED);
	rule_marks_free(m, n);
	free(id);
}
END_TEST

START_TEST(engine_timer_runs_absence)
{
	int64_t	last;

	rule.name = "bg-heartbeat";
	rule.op = OP_LT;
	rule.threshold = 1;
	rule.period = 1;
	rule.frequency = 1;
	start();
	ck_assert_int_eq(store_absence_get(store, rule.name, TENANT, BG1,
	    &last), 0);
	run_loop(2500 * 1000);
	ck_assert_int_eq(store_absence_get(store, rule.name, TENANT, BG1,
	    &last), 1);
	ck_assert_int_eq(store_absence_get(store, rule.name, TENANT, BG2,
	    &last), 1);
}
END_TEST

static Suite *
rules_suite(void)
{
	Suite	*s = suite_create("rules");
	TCase	*tc;

	tc = tcase_create("window");
	tcase_add_test(tc, window_gt0_fires_on_any);
	tcase_add_test(tc, window_gt5_burst_completed_late);
	tcase_add_test(tc, window_gt5_spread_out);
	tcase_add_test(tc, window_only_windows_holding_the_new_one);
	tcase_add_test(tc, window_ge);
	tcase_add_test(tc, window_exactly_period_apart);
	tcase_add_test(tc, window_equal_times);
	tcase_add_test(tc, window_bad_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("match");
	tcase_add_test(tc, match_result);
	tcase_add_test(tc, match_error_codes);
	tcase_add_test(tc, match_apps_case);
	tcase_add_test(tc, match_audit_trimmed);
	suite_add_tcase(s, tc);

	tc = tcase_create("engine");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, engine_gt0_one_alert_per_record);
	tcase_add_test(tc, engine_late_record_alerts);
	tcase_add_test(tc, engine_same_record_twice);
	tcase_add_test(tc, engine_duplicate_incident_rows);
	tcase_add_test(tc, engine_interrupt_then_success);
	tcase_add_test(tc, engine_gt5_late_record_completes_burst);
	tcase_add_test(tc, engine_suppression_digest);
	tcase_add_test(tc, engine_suppression_nothing_suppressed);
	tcase_add_test(tc, engine_absence_once_per_period);
	tcase_add_test(tc, engine_absence_by_received_time);
	tcase_add_test(tc, engine_absence_counts_incidents);
	tcase_add_test(tc, engine_audit_target);
	tcase_add_test(tc, engine_reload_keeps_state);
	tcase_add_test(tc, engine_store_error_leaves_unmarked);
	tcase_add_test(tc, engine_timer_ends_suppression);
	tcase_add_test(tc, engine_timer_runs_absence);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(rules_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
