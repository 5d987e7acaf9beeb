/*
 * The delivery core over a real store and a real event loop, with a fake
 * notifier (through the real notifier_new/ref/unref) whose sends finish on
 * the next loop turn with scripted results, or are held until the test
 * lets them go. Retries use real time, so the retry settings are seconds.
 */
#include <sys/time.h>

#include <check.h>
#include <event2/event.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "config.h"
#include "notifier.h"
#include "outbox.h"
#include "store.h"
#include "strlist.h"
#include "sysalert.h"
#include "timeutil.h"
#include "xmalloc.h"

#define SEC		USEC_PER_SEC
#define SLACK		SEC		/* loop and scheduling latency */
#define MAXSENT		256
#define MAXNOTIFIERS	10

/* --- the fake notifier ----------------------------------------------- */

struct fake_conf {
	const char	*rcpt[16];
	size_t		 nrcpt;
};

struct step {
	enum deliver_result	 result;
	int64_t			 retry_after;
	const char		*why;
};

struct sent {
	char		alert_id[64];
	char		notifier[32];
	char		recipient[32];
	int		attempts;
	int64_t		at_us;
	int64_t		next_us;	/* the row's, as the send started */
};

static struct step	 script[16];
static size_t		 nscript, script_at;
static struct sent	 sent[MAXSENT];
static size_t		 nsent;
static int		 hold;		/* keep sends until release_held */
static struct delivery	*held[MAXSENT];
static size_t		 nheld;
static size_t		 fake_inflight, fake_max_inflight;
static int		 always_retry[MAXNOTIFIERS];	/* by notifier */
static int		 changes;

static char		 tmp[] = "/tmp/check-outbox-XXXXXX";
static char		 dbpath[400];
static struct event_base *base;
static struct store	*st;
static struct outbox	*ob;
static sqlite3		*db;		/* a reader, as --status would be */

static struct notifier_config	 ncfg[MAXNOTIFIERS];
static struct fake_conf		 nconf[MAXNOTIFIERS];
static struct notifier		*nv[MAXNOTIFIERS];
static char			 names[MAXNOTIFIERS][16];

static int64_t
sql_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int64_t
sql_int(const char *fmt, ...)
{
	sqlite3_stmt *s;
	va_list ap;
	char sql[512];
	int64_t v = -1;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof sql, fmt, ap);
	va_end(ap);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL),
	    SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void
fake_recipients(const void *conf, struct strlist *out)
{
	const struct fake_conf *c = conf;

	for (size_t i = 0; i < c->nrcpt; i++)
		strlist_add(out, c->rcpt[i]);
}

static void
fake_complete(struct delivery *d)
{
	struct step s = { DELIVER_OK, -1, NULL };

	if (d->notifier_name[0] == 'n' &&
	    always_retry[atoi(d->notifier_name + 1)])
		s.result = DELIVER_RETRY;
	else if (script_at < nscript)
		s = script[script_at++];
	fake_inflight--;
	d->retry_after = s.retry_after;
	delivery_done(d, s.result, s.why);
}

static void
fake_complete_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	fake_complete(arg);
}

static int
fake_send(struct notifier *n, struct delivery *d)
{
	struct timeval zero = { 0, 0 };
	struct sent *s;

	ck_assert_ptr_eq(d->notifier, n);
	ck_assert_ptr_nonnull(d->alert);
	ck_assert_str_eq(d->alert->id, d->alert_id);
	ck_assert_int_eq(d->retry_after, -1);
	ck_assert_uint_lt(nsent, MAXSENT);
	/* The row is marked sending (committed) before the send. */
	ck_assert_int_eq(sql_int("SELECT count(*) FROM deliveries WHERE "
	    "alert_id = '%s' AND notifier = '%s' AND recipient = '%s' AND "
	    "state = 'sending'", d->alert_id, d->notifier_name,
	    d->recipient), 1);
	s = &sent[nsent++];
	snprintf(s->alert_id, sizeof s->alert_id, "%s", d->alert_id);
	snprintf(s->notifier, sizeof s->notifier, "%s", d->notifier_name);
	snprintf(s->recipient, sizeof s->recipient, "%s", d->recipient);
	s->attempts = d->attempts;
	s->at_us = time_now_us();
	s->next_us = sql_int("SELECT next_us FROM deliveries WHERE "
	    "alert_id = '%s' AND notifier = '%s' AND recipient = '%s'",
	    d->alert_id, d->notifier_name, d->recipient);

	if (++fake_inflight > fake_max_inflight)
		fake_max_inflight = fake_inflight;
	if (hold) {
		held[nheld++] = d;
		return 0;
	}
	ck_assert_int_eq(event_base_once(base, -1, EV_TIMEOUT,
	    fake_complete_cb, d, &zero), 0);
	return 0;
}

static const struct notifier_ops fake_ops = {
	.type = "fake",
	.recipients = fake_recipients,
	.send = fake_send,
};

static void
release_held(void)
{
	struct timeval zero = { 0, 0 };

	for (size_t i = 0; i < nheld; i++)
		ck_assert_int_eq(event_base_once(base, -1, EV_TIMEOUT,
		    fake_complete_cb, held[i], &zero), 0);
	nheld = 0;
}

/* --- fixture --------------------------------------------------------- */

static void
change_cb(void *arg)
{
	ck_assert_ptr_eq(arg, &changes);
	changes++;
}

static void
setup(void)
{
	struct notifier_env env = { NULL, NULL, NULL };
	char *err = NULL;

	/* Fresh state for each test, with or without CK_FORK. */
	nscript = script_at = nsent = nheld = 0;
	fake_inflight = fake_max_inflight = 0;
	hold = changes = 0;
	memset(nconf, 0, sizeof nconf);
	memset(always_retry, 0, sizeof always_retry);
	memset(ncfg, 0, sizeof ncfg);

	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(dbpath, sizeof dbpath, "%s/%s", tmp, STORE_FILE);
	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_int_eq(store_open(tmp, 0, &st, &err), 0);
	ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	env.base = base;
	for (size_t i = 0; i < MAXNOTIFIERS; i++) {
		snprintf(names[i], sizeof names[i], "n%zu", i);
		nconf[i].rcpt[0] = "soc@example.org";
		nconf[i].nrcpt = 1;
		ncfg[i].name = names[i];
		ncfg[i].type = "fake";
		ncfg[i].ops = &fake_ops;
		ncfg[i].conf = &nconf[i];
		ncfg[i].retry.initial = 1;
		ncfg[i].retry.max = 3;
		ncfg[i].retry.expire_after = 3600;
		ck_assert_ptr_nonnull(nv[i] = notifier_new(&ncfg[i], &env,
		    &err));
	}
	ob = outbox_new(base, st);
	outbox_on_change(ob, change_cb, &changes);
}

static void
teardown(void)
{
	char cmd[400];

	outbox_free(ob);
	for (size_t i = 0; i < MAXNOTIFIERS; i++) {
		ck_assert_int_eq(nv[i]->refs, 1);	/* all given back */
		notifier_unref(nv[i]);
	}
	sqlite3_close(db);
	store_close(st);
	event_base_free(base);
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(tmp, "/tmp/check-outbox-XXXXXX");
}

/* Commit an alert and its deliveries through the named notifiers, as the
 * rule engine does; returns the rows added. */
static int
enqueue(const char *id, const char *n1, const char *n2)
{
	struct strlist actions = { NULL, 0 };
	struct alert *a = xcalloc(1, sizeof *a);
	int rows;

	a->id = xstrdup(id);
	a->kind = ALERT_EVENT;
	a->rule = xstrdup("bg-sign-in");
	a->tenant = xstrdup("contoso");
	a->created_us = time_now_us();
	a->count = 1;
	strlist_add(&actions, n1);
	if (n2 != NULL)
		strlist_add(&actions, n2);
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_alert_insert(st, a), 0);
	rows = outbox_enqueue(ob, a, &actions);
	ck_assert_int_ge(rows, 0);
	ck_assert_int_eq(store_commit(st), 0);
	outbox_kick(ob);
	strlist_clear(&actions);
	alert_free(a);
	return rows;
}

static void
set_notifiers(size_t from, size_t n)
{
	outbox_set_notifiers(ob, nv + from, n);
}

/* Run the loop for a fixed time. */
static void
run_for(int64_t us)
{
	struct timeval tv = { (time_t)(us / SEC), (suseconds_t)(us % SEC) };

	ck_assert_int_eq(event_base_loopexit(base, &tv), 0);
	ck_assert_int_ge(event_base_dispatch(base), 0);
}

static int (*until_cond)(void);
static int64_t until_deadline;

static void
until_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	(void)arg;
	if (until_cond() || time_mono_us() >= until_deadline)
		event_base_loopbreak(base);
}

/* Run the loop until cond holds, at most timeout; returns cond(). */
static int
run_until(int (*cond)(void), int64_t timeout)
{
	struct timeval tick = { 0, 10000 };
	struct event *ev;

	until_cond = cond;
	until_deadline = time_mono_us() + timeout;
	ev = event_new(base, -1, EV_PERSIST, until_cb, NULL);
	event_add(ev, &tick);
	event_base_dispatch(base);
	event_free(ev);
	return cond();
}

static long
count_state(const char *notifier, enum delivery_state s)
{
	long n = -1;

	ck_assert_int_eq(store_delivery_count(st, notifier, s, &n), 0);
	return n;
}

static int
none_open(void)
{
	return count_state(NULL, DELIVERY_PENDING) == 0 &&
	    count_state(NULL, DELIVERY_SENDING) == 0 &&
	    outbox_inflight(ob) == 0;
}

static int
settled(void)
{
	/* Nothing in flight and no row due now. */
	struct delivery_row *d;
	size_t n;

	if (outbox_inflight(ob) != 0 || nheld != 0)
		return 0;
	ck_assert_int_eq(store_deliveries_due(st, time_now_us(), 1, &d, &n),
	    0);
	delivery_rows_free(d, n);
	return n == 0;
}

static void
push(enum deliver_result r, int64_t retry_after, const char *why)
{
	script[nscript].result = r;
	script[nscript].retry_after = retry_after;
	script[nscript].why = why;
	nscript++;
}

#define ROW_INT(col, alert, notifier)					\
	sql_int("SELECT " col " FROM deliveries WHERE alert_id = '%s' "	\
	    "AND notifier = '%s'", alert, notifier)
#define ROW_STATE_IS(state, alert, notifier)				\
	sql_int("SELECT state = '" state "' FROM deliveries WHERE "	\
	    "alert_id = '%s' AND notifier = '%s'", alert, notifier)

/* --- tests ----------------------------------------------------------- */

START_TEST(ok_delivered)
{
	set_notifiers(0, 2);
	nconf[1].rcpt[1] = "oncall@example.org";
	nconf[1].nrcpt = 2;
	ck_assert_int_eq(enqueue("gw-1", "n0", "n1"), 3);
	ck_assert_int_eq(count_state(NULL, DELIVERY_PENDING), 3);
	ck_assert_int_eq(run_until(none_open, 5 * SEC), 1);
	ck_assert_uint_eq(nsent, 3);
	ck_assert_int_eq(count_state(NULL, DELIVERY_DELIVERED), 3);
	ck_assert_int_eq(ROW_INT("attempts", "gw-1", "n0"), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM delivery_attempts "
	    "WHERE result = 'ok'"), 3);
	ck_assert_int_ge(changes, 1);
	/* Nothing runs twice. */
	run_for(SEC / 5);
	ck_assert_uint_eq(nsent, 3);
}
END_TEST

START_TEST(unknown_action_skipped)
{
	set_notifiers(0, 1);
	ck_assert_int_eq(enqueue("gw-1", "n0", "nope"), 1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM deliveries"), 1);
}
END_TEST

START_TEST(retry_then_ok)
{
	int64_t d1, d2;

	set_notifiers(0, 1);
	push(DELIVER_RETRY, -1, "HTTP 503");
	push(DELIVER_RETRY, -1, "connection refused");
	ck_assert_int_eq(enqueue("gw-1", "n0", NULL), 1);
	ck_assert_int_eq(run_until(none_open, 10 * SEC), 1);
	ck_assert_uint_eq(nsent, 3);
	ck_assert_int_eq(ROW_STATE_IS("delivered", "gw-1", "n0"), 1);
	ck_assert_int_eq(ROW_INT("attempts", "gw-1", "n0"), 2);
	ck_assert_int_eq(sent[0].attempts, 0);
	ck_assert_int_eq(sent[1].attempts, 1);
	ck_assert_int_eq(sent[2].attempts, 2);

	/* Each retry was scheduled (next_us, relative to when the failure
	 * was recorded) within the full-jitter bounds: [1s, initial] then
	 * [1s, min(max, 2 * initial)]; and the send came on time. */
	d1 = sent[1].next_us - sql_int("SELECT at_us FROM delivery_attempts "
	    "WHERE attempt = 1");
	d2 = sent[2].next_us - sql_int("SELECT at_us FROM delivery_attempts "
	    "WHERE attempt = 2");
	ck_assert_int_ge(d1, 1 * SEC);
	ck_assert_int_le(d1, 1 * SEC);
	ck_assert_int_ge(d2, 1 * SEC);
	ck_assert_int_le(d2, 2 * SEC);
	ck_assert_int_ge(sent[1].at_us, sent[1].next_us);
	ck_assert_int_le(sent[1].at_us, sent[1].next_us + SLACK);
	ck_assert_int_ge(sent[2].at_us, sent[2].next_us);
	ck_assert_int_le(sent[2].at_us, sent[2].next_us + SLACK);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM delivery_attempts "
	    "WHERE result = 'retry'"), 2);
	ck_assert_int_ge(changes, 3);
}
END_TEST

START_TEST(drop_failed)
{
	set_notifiers(0, 1);
	push(DELIVER_DROP, -1, "HTTP 400: bad request");
	ck_assert_int_eq(enqueue("gw-1", "n0", NULL), 1);
	ck_assert_int_eq(run_until(none_open, 5 * SEC), 1);
	ck_assert_uint_eq(nsent, 1);
	ck_assert_int_eq(ROW_STATE_IS("failed", "gw-1", "n0"), 1);
	ck_assert_int_eq(sql_int("SELECT last_error = 'HTTP 400: bad "
	    "request' FROM deliveries"), 1);
	run_for(SEC / 5);
	ck_assert_uint_eq(nsent, 1);
}
END_TEST

static void
system_actions(const char *name)
{
	struct strlist sys = { NULL, 0 };

	strlist_add(&sys, name);
	outbox_set_system_actions(ob, &sys);
	strlist_clear(&sys);
}

#define SYSTEM_ROWS(cond)						\
	sql_int("SELECT count(*) FROM deliveries d JOIN alerts a ON "	\
	    "a.id = d.alert_id WHERE a.kind = 'system'" cond)

/* A delivery lost for good: the notifier's fallback gets the same alert
 * at once, and a Sev-1 system alert goes to the system actions. */
START_TEST(drop_escalates)
{
	ncfg[0].fallback = "n1";
	system_actions("n2");
	set_notifiers(0, 3);
	push(DELIVER_DROP, -1, "550 no such user");
	ck_assert_int_eq(enqueue("gw-1", "n0", NULL), 1);
	ck_assert_int_eq(run_until(none_open, 5 * SEC), 1);
	ck_assert_int_eq(ROW_STATE_IS("failed", "gw-1", "n0"), 1);
	ck_assert_int_eq(ROW_STATE_IS("delivered", "gw-1", "n1"), 1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alerts WHERE kind = "
	    "'system' AND severity = 1 AND subject LIKE '[Sev1] glasswatch: "
	    "delivery of alert gw-1 via n0 failed'"), 1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alerts WHERE kind = "
	    "'system' AND description LIKE '%%550 no such user%%' AND "
	    "description LIKE '%%through the fallback%%'"), 1);
	ck_assert_int_eq(SYSTEM_ROWS(""), 1);
	ck_assert_int_eq(SYSTEM_ROWS(" AND d.notifier = 'n2' AND d.state = "
	    "'delivered'"), 1);
	ck_assert_uint_eq(nsent, 3);
}
END_TEST

/* An expiry escalates the same way. */
START_TEST(expiry_escalates)
{
	ncfg[0].retry.initial = 60;
	ncfg[0].retry.max = 60;
	ncfg[0].retry.expire_after = 1;
	ncfg[0].fallback = "n1";
	system_actions("n2");
	set_notifiers(0, 3);
	always_retry[0] = 1;
	ck_assert_int_eq(enqueue("gw-1", "n0", NULL), 1);
	ck_assert_int_eq(run_until(none_open, 5 * SEC), 1);
	ck_assert_int_eq(ROW_STATE_IS("expired", "gw-1", "n0"), 1);
	ck_assert_int_eq(ROW_STATE_IS("delivered", "gw-1", "n1"), 1);
	ck_assert_int_eq(SYSTEM_ROWS(" AND a.subject LIKE '%%gw-1 via n0 "
	    "expired' AND d.state = 'delivered'"), 1);
}
END_TEST

/* A system alert's own failed delivery is logged, never re-alerted
 * (a dead notifier must not page about itself forever). */
START_TEST(system_alert_failure_not_realerted)
{
	struct strlist sys = { NULL, 0 };
	struct alert *a;

	system_actions("n0");
	set_notifiers(0, 1);
	push(DELIVER_DROP, -1, "HTTP 400");
	strlist_add(&sys, "n0");
	a = sysalert_new(1, SYSALERT_BLIND, "monitoring blind", "test", NULL,
	    NULL);
	ck_assert_int_eq(sysalert_raise(st, ob, &sys, a), 0);
	alert_free(a);
	strlist_clear(&sys);
	ck_assert_int_eq(run_until(none_open, 5 * SEC), 1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alerts"), 1);
	ck_assert_int_eq(SYSTEM_ROWS(" AND d.state = 'failed'"), 1);
	ck_assert_uint_eq(nsent, 1);
}
END_TEST

/* Still failing after fallback_after: the fallback gets the alert while
 * the notifier keeps retrying (it may come back). */
START_TEST(fallback_after_while_retrying)
{
	int64_t created;

	ncfg[0].retry.initial = 1;
	ncfg[0].retry.max = 1;
	ncfg[0].fallback = "n1";
	ncfg[0].fallback_after = 2;
	set_notifiers(0, 2);
	always_retry[0] = 1;
	ck_assert_int_eq(enqueue("gw-1", "n0", NULL), 1);
	created = ROW_INT("created_us", "gw-1", "n0");
	run_for(SEC);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM deliveries WHERE "
	    "notifier = 'n1'"), 0);
	ck_assert_int_eq(run_until(none_open, 6 * SEC), 0);
	ck_assert_int_eq(ROW_STATE_IS("delivered", "gw-1", "n1"), 1);
	ck_assert_int_ge(ROW_INT("created_us", "gw-1", "n1"),
	    created + 2 * SEC);
	ck_assert_int_eq(ROW_STATE_IS("pending", "gw-1", "n0") ||
	    ROW_STATE_IS("sending", "gw-1", "n0"), 1);
	/* Once: no second row, no system alert (nothing was lost). */
	ck_assert_int_eq(sql_int("SELECT count(*) FROM deliveries"), 2);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alerts"), 1);
}
END_TEST

/* rate_limit: two sends per window to a recipient. Five alerts: the
 * first alone, the other four as one batch that lists them (nothing
 * dropped), their rows settling with it. One more waits for the window. */
START_TEST(rate_limit_batches)
{
	char id[16];

	ncfg[0].rate_limit.count = 2;
	ncfg[0].rate_limit.per = 2;
	set_notifiers(0, 1);
	for (int i = 1; i <= 5; i++) {
		snprintf(id, sizeof id, "gw-%d", i);
		ck_assert_int_eq(enqueue(id, "n0", NULL), 1);
	}
	ck_assert_int_eq(run_until(none_open, 8 * SEC), 1);
	ck_assert_uint_eq(nsent, 2);
	ck_assert_str_eq(sent[0].alert_id, "gw-1");
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alerts WHERE kind = "
	    "'batch' AND id = '%s' AND count = 4 AND description LIKE "
	    "'%%gw-2%%gw-3%%gw-4%%gw-5%%'", sent[1].alert_id), 1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM deliveries WHERE "
	    "batch_id = '%s' AND state = 'delivered'", sent[1].alert_id), 4);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM deliveries WHERE "
	    "state = 'delivered'"), 6);

	/* The window is full: the next alert is held until it frees. */
	ck_assert_int_eq(enqueue("gw-6", "n0", NULL), 1);
	ck_assert_int_eq(run_until(none_open, 8 * SEC), 1);
	ck_assert_uint_eq(nsent, 3);
	ck_assert_str_eq(sent[2].alert_id, "gw-6");
	ck_assert_int_ge(sent[2].at_us, sent[0].at_us + 2 * SEC);

	/* An empty window again: one alone and a batch of two, which fails:
	 * what it carries fails with it. */
	run_for(2 * SEC + SEC / 2);
	push(DELIVER_OK, -1, NULL);
	push(DELIVER_DROP, -1, "HTTP 400");
	for (int i = 7; i <= 9; i++) {
		snprintf(id, sizeof id, "gw-%d", i);
		ck_assert_int_eq(enqueue(id, "n0", NULL), 1);
	}
	ck_assert_int_eq(run_until(none_open, 8 * SEC), 1);
	ck_assert_uint_eq(nsent, 5);
	ck_assert_str_eq(sent[3].alert_id, "gw-7");
	ck_assert_int_eq(sql_int("SELECT count(*) FROM deliveries WHERE "
	    "batch_id = '%s' AND state = 'failed' AND last_error = "
	    "'HTTP 400'", sent[4].alert_id), 2);
}
END_TEST

START_TEST(expiry)
{
	int64_t created;

	/* Retried up to the expiry (the last try lands on it), then
	 * expired instead of retried again. */
	ncfg[0].retry.max = 60;
	ncfg[0].retry.initial = 60;
	ncfg[0].retry.expire_after = 1;
	set_notifiers(0, 1);
	push(DELIVER_RETRY, -1, "HTTP 503");
	push(DELIVER_RETRY, -1, "HTTP 503");
	ck_assert_int_eq(enqueue("gw-1", "n0", NULL), 1);
	ck_assert_int_eq(run_until(none_open, 5 * SEC), 1);
	ck_assert_uint_eq(nsent, 2);
	created = ROW_INT("created_us", "gw-1", "n0");
	ck_assert_int_eq(sent[1].next_us, created + 1 * SEC);
	ck_assert_int_eq(ROW_STATE_IS("expired", "gw-1", "n0"), 1);
	ck_assert_int_eq(ROW_INT("attempts", "gw-1", "n0"), 2);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM delivery_attempts "
	    "WHERE result = 'expired'"), 1);
}
END_TEST

START_TEST(retry_after_honoured)
{
	int64_t at, created;

	/* Above retry.max (3s): honoured. */
	ncfg[1].retry.expire_after = 10;
	set_notifiers(0, 2);
	push(DELIVER_RETRY, 30, "HTTP 429");
	push(DELIVER_RETRY, 30, "HTTP 429");
	ck_assert_int_eq(enqueue("gw-1", "n0", NULL), 1);
	ck_assert_int_eq(run_until(settled, 5 * SEC), 1);
	ck_assert_uint_eq(nsent, 1);
	at = sql_int("SELECT at_us FROM delivery_attempts WHERE alert_id = "
	    "'gw-1'");
	ck_assert_int_eq(ROW_INT("next_us", "gw-1", "n0"), at + 30 * SEC);
	ck_assert_int_eq(ROW_STATE_IS("pending", "gw-1", "n0"), 1);
	ck_assert_int_eq(ROW_INT("attempts", "gw-1", "n0"), 1);

	/* But not past the expiry. */
	ck_assert_int_eq(enqueue("gw-2", "n1", NULL), 1);
	ck_assert_int_eq(run_until(settled, 5 * SEC), 1);
	ck_assert_uint_eq(nsent, 2);
	created = ROW_INT("created_us", "gw-2", "n1");
	ck_assert_int_eq(ROW_INT("next_us", "gw-2", "n1"), created + 10 * SEC);

	/* Neither is retried early. */
	run_for(SEC / 2);
	ck_assert_uint_eq(nsent, 2);
}
END_TEST

static int
n1_delivered(void)
{
	return count_state("n1", DELIVERY_DELIVERED) == 1;
}

START_TEST(missing_notifier_waits)
{
	/* Not running at all: no row (config validation prevents it). */
	set_notifiers(0, 0);
	ck_assert_int_eq(enqueue("gw-0", "n0", NULL), 0);
	/* Queued while both run; then n0 goes away (a reload). */
	set_notifiers(0, 2);
	ck_assert_int_eq(enqueue("gw-1", "n0", "n1"), 2);
	set_notifiers(1, 1);
	ck_assert_int_eq(run_until(n1_delivered, 5 * SEC), 1);
	run_for(SEC / 5);
	/* n1 is not held up by n0's row. */
	ck_assert_uint_eq(nsent, 1);
	ck_assert_str_eq(sent[0].notifier, "n1");
	ck_assert_int_eq(ROW_STATE_IS("delivered", "gw-1", "n1"), 1);
	ck_assert_int_eq(ROW_STATE_IS("pending", "gw-1", "n0"), 1);
	ck_assert_int_eq(ROW_INT("attempts", "gw-1", "n0"), 0);

	/* It comes back: sent at once. */
	set_notifiers(0, 2);
	ck_assert_int_eq(run_until(none_open, 5 * SEC), 1);
	ck_assert_uint_eq(nsent, 2);
	ck_assert_int_eq(ROW_STATE_IS("delivered", "gw-1", "n0"), 1);
}
END_TEST

START_TEST(orphan_expires)
{
	/* A row of a notifier gone for good expires 24h after it was
	 * queued (the default expire_after); a younger one waits. */
	set_notifiers(0, 2);
	ck_assert_int_eq(enqueue("gw-old", "n0", NULL), 1);
	ck_assert_int_eq(enqueue("gw-new", "n0", NULL), 1);
	/* Age the first row by hand; drop n0. */
	sqlite3_close(db);
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, "UPDATE deliveries SET created_us "
	    "= created_us - 25 * 3600 * 1000000 WHERE alert_id = 'gw-old'",
	    NULL, NULL, NULL), SQLITE_OK);
	set_notifiers(1, 1);
	run_for(SEC / 5);
	ck_assert_uint_eq(nsent, 0);
	ck_assert_int_eq(ROW_STATE_IS("expired", "gw-old", "n0"), 1);
	ck_assert_int_eq(ROW_STATE_IS("pending", "gw-new", "n0"), 1);
}
END_TEST

START_TEST(restart_resumes)
{
	struct outbox *ob2;

	/* Rows committed, then the daemon stops before sending; one row
	 * was mid-send when it died. */
	set_notifiers(0, 2);
	hold = 1;
	ck_assert_int_eq(enqueue("gw-1", "n0", "n1"), 2);
	ck_assert_int_eq(store_delivery_update(st, "gw-1", "n1",
	    "soc@example.org", DELIVERY_SENDING, 0, time_now_us(), NULL,
	    time_now_us()), 0);
	outbox_free(ob);
	ob = NULL;
	ck_assert_int_eq(count_state(NULL, DELIVERY_SENDING), 1);

	hold = 0;
	ob2 = outbox_new(base, st);
	ob = ob2;
	outbox_on_change(ob, change_cb, &changes);
	ck_assert_int_eq(count_state(NULL, DELIVERY_SENDING), 0);
	ck_assert_int_eq(count_state(NULL, DELIVERY_PENDING), 2);
	set_notifiers(0, 2);
	ck_assert_int_eq(run_until(none_open, 5 * SEC), 1);
	ck_assert_uint_eq(nsent, 2);
	ck_assert_int_eq(count_state(NULL, DELIVERY_DELIVERED), 2);
}
END_TEST

static int
four_in_flight(void)
{
	return fake_inflight == 4;
}

START_TEST(inflight_cap_per_notifier)
{
	static const char *r[10] = { "r0", "r1", "r2", "r3", "r4", "r5",
	    "r6", "r7", "r8", "r9" };

	memcpy(nconf[0].rcpt, r, sizeof r);
	nconf[0].nrcpt = 10;
	set_notifiers(0, 1);
	hold = 1;
	ck_assert_int_eq(enqueue("gw-1", "n0", NULL), 10);
	ck_assert_int_eq(run_until(four_in_flight, 5 * SEC), 1);
	run_for(SEC / 5);
	ck_assert_uint_eq(fake_inflight, 4);
	ck_assert_uint_eq(outbox_inflight(ob), 4);
	ck_assert_int_eq(count_state(NULL, DELIVERY_SENDING), 4);
	for (int i = 0; i < 50 && count_state(NULL, DELIVERY_DELIVERED) < 10;
	    i++) {
		release_held();
		run_for(SEC / 10);
	}
	ck_assert_uint_eq(nsent, 10);
	ck_assert_uint_eq(fake_max_inflight, 4);
	ck_assert_int_eq(count_state(NULL, DELIVERY_DELIVERED), 10);
}
END_TEST

static int
all_capped(void)
{
	return fake_inflight == 32;
}

START_TEST(inflight_cap_global)
{
	static const char *r[5] = { "r0", "r1", "r2", "r3", "r4" };
	char id[32];

	for (size_t i = 0; i < MAXNOTIFIERS; i++) {
		memcpy(nconf[i].rcpt, r, sizeof r);
		nconf[i].nrcpt = 5;
	}
	set_notifiers(0, MAXNOTIFIERS);
	hold = 1;
	for (size_t i = 0; i < MAXNOTIFIERS; i++) {
		snprintf(id, sizeof id, "gw-%zu", i);
		ck_assert_int_eq(enqueue(id, names[i], NULL), 5);
	}
	ck_assert_int_eq(run_until(all_capped, 5 * SEC), 1);
	run_for(SEC / 5);
	ck_assert_uint_eq(fake_inflight, 32);
	ck_assert_uint_eq(outbox_inflight(ob), 32);
	for (int i = 0; i < 50 && count_state(NULL, DELIVERY_DELIVERED) < 50;
	    i++) {
		release_held();
		run_for(SEC / 10);
	}
	ck_assert_int_eq(count_state(NULL, DELIVERY_DELIVERED), 50);
	ck_assert_uint_eq(fake_max_inflight, 32);
}
END_TEST

START_TEST(drain_stops_new_sends)
{
	static const char *r[6] = { "r0", "r1", "r2", "r3", "r4", "r5" };

	memcpy(nconf[0].rcpt, r, sizeof r);
	nconf[0].nrcpt = 6;
	set_notifiers(0, 1);
	hold = 1;
	ck_assert_int_eq(enqueue("gw-1", "n0", NULL), 6);
	ck_assert_int_eq(run_until(four_in_flight, 5 * SEC), 1);
	outbox_drain(ob);
	release_held();
	run_for(SEC / 5);
	ck_assert_uint_eq(outbox_inflight(ob), 0);
	ck_assert_uint_eq(nsent, 4);
	ck_assert_int_eq(count_state(NULL, DELIVERY_DELIVERED), 4);
	ck_assert_int_eq(count_state(NULL, DELIVERY_PENDING), 2);
	outbox_kick(ob);
	run_for(SEC / 5);
	ck_assert_uint_eq(nsent, 4);
}
END_TEST

START_TEST(free_with_sends_in_flight)
{
	set_notifiers(0, 1);
	hold = 1;
	ck_assert_int_eq(enqueue("gw-1", "n0", NULL), 1);
	ck_assert_int_eq(run_until(four_in_flight, SEC / 2), 0);
	ck_assert_uint_eq(nheld, 1);
	/* Shutdown with a send out: it finishes later, harmlessly, and the
	 * row stays sending for the restart to resend. */
	outbox_free(ob);
	ob = outbox_new(base, st);
	ck_assert_int_eq(count_state(NULL, DELIVERY_PENDING), 1);
	release_held();
	run_for(SEC / 5);
	ck_assert_int_eq(count_state(NULL, DELIVERY_PENDING), 1);
	ck_assert_int_eq(count_state(NULL, DELIVERY_DELIVERED), 0);
}
END_TEST

static Suite *
outbox_suite(void)
{
	Suite *s = suite_create("outbox");
	TCase *tc;

	tc = tcase_create("outcomes");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, ok_delivered);
	tcase_add_test(tc, unknown_action_skipped);
	tcase_add_test(tc, retry_then_ok);
	tcase_add_test(tc, drop_failed);
	tcase_add_test(tc, expiry);
	tcase_add_test(tc, retry_after_honoured);
	tcase_add_test(tc, drop_escalates);
	tcase_add_test(tc, expiry_escalates);
	tcase_add_test(tc, system_alert_failure_not_realerted);
	tcase_add_test(tc, fallback_after_while_retrying);
	tcase_add_test(tc, rate_limit_batches);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifecycle");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, missing_notifier_waits);
	tcase_add_test(tc, orphan_expires);
	tcase_add_test(tc, restart_resumes);
	tcase_add_test(tc, inflight_cap_per_notifier);
	tcase_add_test(tc, inflight_cap_global);
	tcase_add_test(tc, drain_stops_new_sends);
	tcase_add_test(tc, free_with_sends_in_flight);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(outbox_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
