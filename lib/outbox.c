/* The delivery core (outbox.h, notifier.h). Notifiers render, send and
 * classify; this file decides what happens next and writes it down.
 *
 * A delivery row moves pending -> sending -> delivered | failed | expired,
 * or back to pending with a later next_us. Every move is committed before
 * anything depends on it: a row is marked sending before the notifier
 * sees it, and a restart turns rows left sending back into pending, so a
 * crash mid-send means a second send, never none (at-least-once).
 *
 * One libevent timer wakes at the earliest next_us of a notifier that has
 * room. Each notifier is run on its own (its due rows, at most
 * OUTBOX_PER_NOTIFIER in flight), so rows waiting for a notifier that is
 * not running, or is slow, never hold up the others. Finished sends are
 * freed on the next loop turn: delivery_done is called from inside the
 * notifier, which must be able to return into its own code. */
#include <sys/queue.h>
#include <sys/random.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "alert.h"
#include "batch.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "notifier.h"
#include "outbox.h"
#include "store.h"
#include "strlist.h"
#include "sysalert.h"
#include "timeutil.h"
#include "xmalloc.h"

#define OUTBOX_PER_NOTIFIER	4	/* sends in flight per notifier */
#define OUTBOX_MAX_INFLIGHT	32	/* and in all */
#define OUTBOX_MIN_DELAY	USEC_PER_SEC	/* never retry sooner */
/* Rows of a notifier that is no longer configured expire this long after
 * they were queued (its own retry.expire_after went with it; this is the
 * documented default). */
#define OUTBOX_ORPHAN_EXPIRE	(INT64_C(24) * 3600 * USEC_PER_SEC)
#define OUTBOX_ORPHAN_BATCH	64
#define OUTBOX_SWEEP_EVERY	(60 * USEC_PER_SEC)
#define OUTBOX_ERROR_PAUSE	(5 * USEC_PER_SEC)	/* after store errors */
/* Sleep at most this long, so a wall-clock step (next_us is wall time)
 * delays a retry by a minute at worst. */
#define OUTBOX_MAX_SLEEP	(60 * USEC_PER_SEC)

/* An alert loaded for its sends, shared while any is in flight. */
struct outbox_alert {
	char				*id;
	struct alert			*alert;
	int				 refs;
	struct outbox			*ob;	/* NULL once detached */
	LIST_ENTRY(outbox_alert)	 entry;
};
LIST_HEAD(outbox_alerts, outbox_alert);

/* One send in flight: the struct delivery handed to the notifier, and
 * what the core needs to decide the outcome. */
struct outbox_send {
	struct delivery			 d;	/* d.core points here */
	struct outbox			*ob;	/* NULL after outbox_free */
	struct event_base		*base;
	struct outbox_alert		*alert;
	struct retry_config		 retry;
	int64_t				 created_us;
	int64_t				 next_us;
	int				 done;
	/* An outcome the store could not take yet (kept and retried). */
	enum deliver_result		 result;
	char				*why;
	TAILQ_ENTRY(outbox_send)	 entry;
};
TAILQ_HEAD(outbox_sends, outbox_send);

struct outbox {
	struct event_base	*base;
	struct store		*store;
	struct event		*timer;		/* the next run */
	struct event		*reap;		/* frees finished sends */

	struct notifier		**notifiers;	/* the running set */
	size_t			  nnotifiers;
	int			  have_notifiers; /* set once at least */

	struct outbox_sends	  inflight;
	size_t			  ninflight;
	struct outbox_sends	  finished;	/* to free on the next turn */
	struct outbox_sends	  unrecorded;	/* outcome not stored yet */
	struct event		 *rerecord;	/* retries storing them */
	struct outbox_alerts	  alerts;

	struct strlist		  system_actions;
	struct strlist		  missing;	/* logged as not running */
	int			  have_orphans;
	int64_t			  next_sweep;
	int64_t			  pause_until;	/* after a store error */
	int			  draining;

	void			(*change_cb)(void *);
	void			 *change_arg;
};

static void	outbox_run(struct outbox *);
static void	outbox_schedule(struct outbox *, int64_t);

/* --- randomness and backoff ------------------------------------------ */

/* Seconds (from the config or a server) to microseconds, without
 * overflow: anything beyond a century is a century. */
static int64_t
outbox_sec(int64_t sec)
{
	const int64_t century = INT64_C(100) * 366 * 86400;

	if (sec < 0)
		return 0;
	return (sec > century ? century : sec) * USEC_PER_SEC;
}

static uint64_t
outbox_random(void)
{
	static uint64_t fallback;
	uint64_t v, z;
	ssize_t n;

	do {
		n = getrandom(&v, sizeof v, 0);
	} while (n == -1 && errno == EINTR);
	if (n == (ssize_t)sizeof v)
		return v;
	/* No getrandom (old kernel): the jitter only spreads retries, it
	 * protects no secret; splitmix64 over the clock will do. */
	fallback += UINT64_C(0x9e3779b97f4a7c15) + (uint64_t)time_mono_us();
	z = fallback;
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* Exponential backoff with full jitter: uniform in [0, min(max, initial *
 * 2^attempts)] microseconds, but at least OUTBOX_MIN_DELAY. attempts is
 * the number of earlier failures that were retried. */
static int64_t
outbox_backoff(const struct retry_config *rc, int attempts)
{
	int64_t cap, max, delay;

	cap = outbox_sec(rc->initial);
	max = outbox_sec(rc->max);
	for (int i = 0; i < attempts && cap < max; i++) {
		if (cap > INT64_MAX / 2) {
			cap = max;
			break;
		}
		cap *= 2;
	}
	if (cap > max)
		cap = max;
	delay = cap > 0 ? (int64_t)(outbox_random() % ((uint64_t)cap + 1)) :
	    0;
	return delay < OUTBOX_MIN_DELAY ? OUTBOX_MIN_DELAY : delay;
}

/* --- the running notifiers ------------------------------------------- */

/* The running notifier of that name that carries alerts (a heartbeat
 * does not: rows for one are as good as orphans). */
static struct notifier *
outbox_find(struct outbox *ob, const char *name)
{
	for (size_t i = 0; i < ob->nnotifiers; i++)
		if (strcmp(ob->notifiers[i]->cfg->name, name) == 0 &&
		    ob->notifiers[i]->ops->send != NULL)
			return ob->notifiers[i];
	return NULL;
}

/* Sends in flight through notifiers of that name (a reload may leave an
 * old one finishing beside the new one), to one recipient or (NULL) all. */
static size_t
outbox_busy_to(struct outbox *ob, const char *name, const char *recipient)
{
	struct outbox_send *s;
	size_t n = 0;

	TAILQ_FOREACH(s, &ob->inflight, entry)
		if (strcmp(s->d.notifier_name, name) == 0 &&
		    (recipient == NULL || strcmp(s->d.recipient,
		    recipient) == 0))
			n++;
	return n;
}

static size_t
outbox_busy(struct outbox *ob, const char *name)
{
	return outbox_busy_to(ob, name, NULL);
}

/* How many more sends the notifier may start now. */
static size_t
outbox_room(struct outbox *ob, const char *name)
{
	size_t busy, room;

	if (ob->ninflight >= OUTBOX_MAX_INFLIGHT)
		return 0;
	busy = outbox_busy(ob, name);
	if (busy >= OUTBOX_PER_NOTIFIER)
		return 0;
	room = OUTBOX_PER_NOTIFIER - busy;
	if (room > OUTBOX_MAX_INFLIGHT - ob->ninflight)
		room = OUTBOX_MAX_INFLIGHT - ob->ninflight;
	return room;
}

/* --- alerts in flight ------------------------------------------------ */

/* The alert, loaded once for all its sends in flight. Returns NULL with
 * *found 0 when it is not stored, -1 on a store error. */
static struct outbox_alert *
outbox_alert_get(struct outbox *ob, const char *id, int *found)
{
	struct outbox_alert *e;
	struct alert *a;
	int rc;

	LIST_FOREACH(e, &ob->alerts, entry) {
		if (strcmp(e->id, id) == 0) {
			e->refs++;
			*found = 1;
			return e;
		}
	}
	if ((rc = store_alert_load(ob->store, id, &a)) != 1) {
		*found = rc;
		return NULL;
	}
	e = xcalloc(1, sizeof *e);
	e->id = xstrdup(id);
	e->alert = a;
	e->refs = 1;
	e->ob = ob;
	LIST_INSERT_HEAD(&ob->alerts, e, entry);
	*found = 1;
	return e;
}

static void
outbox_alert_release(struct outbox_alert *e)
{
	if (e == NULL || --e->refs > 0)
		return;
	if (e->ob != NULL)
		LIST_REMOVE(e, entry);
	alert_free(e->alert);
	free(e->id);
	free(e);
}

/* --- sends ----------------------------------------------------------- */

static void
outbox_send_free(struct outbox_send *s)
{
	free(s->why);
	notifier_unref(s->d.notifier);
	outbox_alert_release(s->alert);
	free(s->d.alert_id);
	free(s->d.notifier_name);
	free(s->d.recipient);
	free(s);
}

static void
outbox_send_free_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	outbox_send_free(arg);
}

static int	outbox_enqueue_to(struct outbox *, const char *alert_id,
		    const char *notifier);

/* The fallback of notifier n gets the alert, once: its rows are keyed
 * (alert, notifier, recipient), so asking again adds nothing. Inside the
 * caller's transaction; -1 on a store error. */
static int
outbox_fall_back(struct outbox *ob, const struct notifier_config *nc,
    const char *alert_id, const char *why)
{
	int added;

	if (nc == NULL || nc->fallback == NULL)
		return 0;
	if ((added = outbox_enqueue_to(ob, alert_id, nc->fallback)) > 0)
		log_warnx("alert %s: %s is failing (%s); sent through its "
		    "fallback %s too", alert_id, nc->name, why != NULL ? why :
		    "-", nc->fallback);
	return added == -1 ? -1 : 0;
}

/*
 * A delivery that will never be made: it failed for good or expired (its
 * row is stored so in the caller's transaction, which this joins).
 * DESIGN.md "Delivery": the notifier's fallback starts at once, and a
 * Sev-1 system alert says what was lost, unless the alert was a system
 * alert itself: that is only logged, never re-alerted. nc is NULL when
 * the notifier is no longer configured. -1 on a store error.
 */
static int
outbox_escalate(struct outbox *ob, const struct notifier_config *nc,
    const char *alert_id, enum alert_kind kind, const char *notifier,
    const char *recipient, enum delivery_state state, int attempts,
    const char *why)
{
	struct alert *sa;
	char *title, *detail, *ctx;
	int rc;

	/* Rare, so the alert is read again only to name its records. */
	if (store_alert_load(ob->store, alert_id, &sa) == 1) {
		ctx = alert_log_context(sa);
		alert_free(sa);
	} else
		ctx = xstrdup("alert not readable");
	if (state == DELIVERY_EXPIRED)
		log_crit("%s: delivery of alert %s via %s to %s expired after "
		    "%d retr%s: %s", ctx, alert_id, notifier, recipient,
		    attempts, attempts == 1 ? "y" : "ies", why != NULL ? why :
		    "-");
	else
		log_crit("%s: delivery of alert %s via %s to %s failed "
		    "permanently: %s", ctx, alert_id, notifier, recipient,
		    why != NULL ? why : "-");
	free(ctx);
	if (outbox_fall_back(ob, nc, alert_id, why) == -1)
		return -1;
	if (kind == ALERT_SYSTEM)
		return 0;

	title = xasprintf("delivery of alert %s via %s %s", alert_id,
	    notifier, state == DELIVERY_EXPIRED ? "expired" : "failed");
	detail = xasprintf("The alert %s could not be delivered through "
	    "notifier %s to %s and will not be retried (%s after %d "
	    "attempt%s): %s. %s Check the notifier and read the alert in "
	    "glasswatchd --history.", alert_id, notifier, recipient,
	    state == DELIVERY_EXPIRED ? "expired" : "refused", attempts,
	    attempts == 1 ? "" : "s", why != NULL ? why : "-",
	    nc != NULL && nc->fallback != NULL ?
	    "It was sent through the fallback notifier." :
	    "The notifier has no fallback.");
	sa = sysalert_new(1, SYSALERT_DELIVERY_LOST, title, detail, NULL,
	    NULL);
	rc = sysalert_queue(ob->store, ob, &ob->system_actions, sa);
	alert_free(sa);
	free(title);
	free(detail);
	return rc == -1 ? -1 : 0;
}

/* The kind of a stored alert (system alerts are never re-alerted);
 * ALERT_EVENT when it cannot be read. */
static enum alert_kind
outbox_alert_kind(struct outbox *ob, const char *alert_id)
{
	struct alert *a;
	enum alert_kind kind = ALERT_EVENT;

	if (store_alert_load(ob->store, alert_id, &a) == 1) {
		kind = a->kind;
		alert_free(a);
	}
	return kind;
}

/* A batch's final state is that of the rows it carries. */
static int
outbox_settle_batch(struct outbox *ob, const char *alert_id,
    enum alert_kind kind, enum delivery_state state, const char *why,
    int64_t now)
{
	if (kind != ALERT_BATCH || state == DELIVERY_PENDING ||
	    state == DELIVERY_SENDING)
		return 0;
	return store_batch_settle(ob->store, alert_id, state,
	    state == DELIVERY_DELIVERED ? NULL : why, now);
}

/* What an outcome sets off beside its row, in the same transaction: a
 * delivery lost for good escalates; one still failing after the
 * notifier's fallback_after brings in the fallback. */
static int
outbox_record_escalate(struct outbox *ob, struct outbox_send *s,
    enum delivery_state state, int attempts, const char *why, int64_t now)
{
	const struct notifier_config *nc = s->d.notifier->cfg;

	if (outbox_settle_batch(ob, s->d.alert_id, s->alert->alert->kind,
	    state, why, now) == -1)
		return -1;
	switch (state) {
	case DELIVERY_FAILED:
	case DELIVERY_EXPIRED:
		return outbox_escalate(ob, nc, s->d.alert_id,
		    s->alert->alert->kind, s->d.notifier_name, s->d.recipient,
		    state, attempts, why);
	case DELIVERY_PENDING:
		if (now - s->created_us >= outbox_sec(nc->fallback_after))
			return outbox_fall_back(ob, nc, s->d.alert_id, why);
		return 0;
	default:
		return 0;
	}
}

/* Write the outcome of a send: its row and its line of history, in one
 * transaction. -1 when the store refused it: the caller keeps the outcome
 * and tries again. */
static int
outbox_record(struct outbox *ob, struct outbox_send *s,
    enum deliver_result result, const char *why)
{
	struct delivery *d = &s->d;
	enum delivery_state state;
	const char *what, *error = why;
	char *ctx;
	int64_t now, deadline, delay = 0, next = s->next_us;
	int attempts = d->attempts, own;

	now = time_now_us();
	deadline = s->created_us + outbox_sec(s->retry.expire_after);
	switch (result) {
	case DELIVER_OK:
		state = DELIVERY_DELIVERED;
		what = "ok";
		error = NULL;
		break;
	case DELIVER_DROP:
		state = DELIVERY_FAILED;
		what = "drop";
		break;
	default:
		if (result != DELIVER_RETRY)
			log_warnx("delivery of alert %s via %s: unknown "
			    "result %d, retrying", d->alert_id,
			    d->notifier_name, (int)result);
		attempts++;
		if (now >= deadline) {
			state = DELIVERY_EXPIRED;
			what = "expired";
			break;
		}
		state = DELIVERY_PENDING;
		what = "retry";
		if (d->retry_after >= 0) {
			/* The server asked: honour it even above retry.max,
			 * but not past the expiry. */
			delay = outbox_sec(d->retry_after);
			if (delay < OUTBOX_MIN_DELAY)
				delay = OUTBOX_MIN_DELAY;
		} else
			delay = outbox_backoff(&s->retry, d->attempts);
		next = delay > deadline - now ? deadline : now + delay;
		break;
	}

	own = store_begin(ob->store) == 0;
	if (store_delivery_update(ob->store, d->alert_id, d->notifier_name,
	    d->recipient, state, attempts, next, error, now) == -1 ||
	    store_delivery_attempt(ob->store, d->alert_id, d->notifier_name,
	    d->recipient, now, what, why) == -1 ||
	    outbox_record_escalate(ob, s, state, attempts, why, now) == -1 ||
	    (own && store_commit(ob->store) == -1)) {
		if (own)
			store_rollback(ob->store);
		log_crit("delivery of alert %s via %s to %s: its outcome (%s) "
		    "could not be stored; trying again in %llds",
		    d->alert_id, d->notifier_name, d->recipient, what,
		    (long long)(OUTBOX_ERROR_PAUSE / USEC_PER_SEC));
		return -1;
	}

	metrics_delivery(d->notifier_name, state, s->alert->alert, now);
	ctx = alert_log_context(s->alert->alert);
	switch (state) {
	case DELIVERY_DELIVERED:
		log_info("%s: alert %s delivered via %s to %s", ctx,
		    d->alert_id, d->notifier_name, d->recipient);
		break;
	case DELIVERY_PENDING:
		log_warnx("%s: delivery of alert %s via %s to %s failed "
		    "(retry %d), next try in %llds%s: %s", ctx, d->alert_id,
		    d->notifier_name, d->recipient, attempts,
		    (long long)((next - now + USEC_PER_SEC / 2) /
		    USEC_PER_SEC), d->retry_after >= 0 ? " as the server "
		    "asked" : "", why != NULL ? why : "-");
		break;
	default:
		break;		/* said by outbox_escalate */
	}
	free(ctx);
	return 0;
}

/* The outcome of a send (delivery_done, from the notifier). */
static void
outbox_delivery_done(struct delivery *d, enum deliver_result result,
    const char *why)
{
	struct outbox_send *s = d->core;
	struct outbox *ob;
	struct timeval zero = { 0, 0 };

	if (s == NULL || s->done) {
		log_warnx("delivery of alert %s via %s: finished twice; "
		    "ignored", d->alert_id, d->notifier_name);
		return;
	}
	s->done = 1;
	if ((ob = s->ob) == NULL) {
		/* The outbox is gone (shutdown): the row stays sending and
		 * is sent again after the restart. */
		log_info("delivery of alert %s via %s to %s finished after "
		    "shutdown; not recorded", d->alert_id, d->notifier_name,
		    d->recipient);
		if (event_base_once(s->base, -1, EV_TIMEOUT,
		    outbox_send_free_cb, s, &zero) == -1)
			log_warnx("delivery of alert %s: cannot schedule its "
			    "cleanup", d->alert_id);
		return;
	}

	TAILQ_REMOVE(&ob->inflight, s, entry);
	ob->ninflight--;
	if (outbox_record(ob, s, result, why) == -1) {
		/* Never lose an outcome: keep it, and the row stays sending
		 * (never sent twice meanwhile) until the store takes it. */
		struct timeval tv = { OUTBOX_ERROR_PAUSE / USEC_PER_SEC, 0 };

		s->result = result;
		s->why = why != NULL ? xstrdup(why) : NULL;
		TAILQ_INSERT_TAIL(&ob->unrecorded, s, entry);
		evtimer_add(ob->rerecord, &tv);
		return;
	}
	TAILQ_INSERT_TAIL(&ob->finished, s, entry);
	event_active(ob->reap, EV_TIMEOUT, 0);
}

static void
outbox_rerecord_cb(evutil_socket_t fd, short events, void *arg)
{
	struct outbox *ob = arg;
	struct outbox_send *s, *next;
	struct timeval tv = { OUTBOX_ERROR_PAUSE / USEC_PER_SEC, 0 };

	(void)fd;
	(void)events;
	for (s = TAILQ_FIRST(&ob->unrecorded); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (outbox_record(ob, s, s->result, s->why) == -1)
			break;		/* the store is still refusing */
		TAILQ_REMOVE(&ob->unrecorded, s, entry);
		TAILQ_INSERT_TAIL(&ob->finished, s, entry);
	}
	if (!TAILQ_EMPTY(&ob->unrecorded))
		evtimer_add(ob->rerecord, &tv);
	if (!TAILQ_EMPTY(&ob->finished))
		event_active(ob->reap, EV_TIMEOUT, 0);
}

static void
outbox_reap_cb(evutil_socket_t fd, short events, void *arg)
{
	struct outbox *ob = arg;
	struct outbox_send *s;

	(void)fd;
	(void)events;
	while ((s = TAILQ_FIRST(&ob->finished)) != NULL) {
		TAILQ_REMOVE(&ob->finished, s, entry);
		outbox_send_free(s);
	}
	/* A slot is free, and a retry may be due earlier than the timer. */
	outbox_kick(ob);
	if (ob->change_cb != NULL)
		ob->change_cb(ob->change_arg);
}

/* A row that will never be sent, not from a send's outcome: stored as
 * failed or expired and escalated in one transaction. */
static int
outbox_give_up(struct outbox *ob, const struct notifier_config *nc,
    const struct delivery_row *row, enum delivery_state state,
    enum alert_kind kind, const char *why, int64_t now)
{
	if (store_begin(ob->store) == -1)
		return -1;
	if (store_delivery_update(ob->store, row->alert_id, row->notifier,
	    row->recipient, state, row->attempts, row->next_us, why,
	    now) == -1 ||
	    outbox_settle_batch(ob, row->alert_id, kind, state, why,
	    now) == -1 ||
	    outbox_escalate(ob, nc, row->alert_id, kind, row->notifier,
	    row->recipient, state, row->attempts, why) == -1) {
		store_rollback(ob->store);
		return -1;
	}
	if (store_commit(ob->store) == -1)
		return -1;
	metrics_delivery(row->notifier, state, NULL, now);
	return 0;
}

/* Start one send. Returns -1 on a store error (the row stays pending). */
static int
outbox_start(struct outbox *ob, struct notifier *n,
    const struct delivery_row *row, int64_t now)
{
	struct outbox_alert *e;
	struct outbox_send *s;
	int found;

	if ((e = outbox_alert_get(ob, row->alert_id, &found)) == NULL) {
		if (found == -1)
			return -1;
		/* Cannot happen (a foreign key holds the alert), but a
		 * row that can never be sent must not wait forever. */
		return outbox_give_up(ob, NULL, row, DELIVERY_FAILED,
		    ALERT_EVENT, "alert not found in the store", now);
	}
	if (store_delivery_update(ob->store, row->alert_id, row->notifier,
	    row->recipient, DELIVERY_SENDING, row->attempts, row->next_us,
	    row->last_error, now) == -1) {
		outbox_alert_release(e);
		return -1;
	}

	s = xcalloc(1, sizeof *s);
	s->ob = ob;
	s->base = ob->base;
	s->alert = e;
	s->retry = n->cfg->retry;
	s->created_us = row->created_us;
	s->next_us = row->next_us;
	s->d.alert_id = xstrdup(row->alert_id);
	s->d.notifier_name = xstrdup(row->notifier);
	s->d.recipient = xstrdup(row->recipient);
	s->d.attempts = row->attempts;
	s->d.alert = e->alert;
	s->d.notifier = n;
	s->d.retry_after = -1;
	s->d.finish = outbox_delivery_done;
	s->d.core = s;
	notifier_ref(n);
	TAILQ_INSERT_TAIL(&ob->inflight, s, entry);
	ob->ninflight++;

	log_debug("sending alert %s via %s to %s (retry %d)", row->alert_id,
	    row->notifier, row->recipient, row->attempts);
	/* -1 means delivery_done has run already: nothing more to do. */
	n->ops->send(n, &s->d);
	return 0;
}

/* Rows waiting for a notifier that is not running: say so once per name,
 * and expire those past OUTBOX_ORPHAN_EXPIRE. */
static void
outbox_sweep(struct outbox *ob, int64_t now)
{
	struct strlist names = { NULL, 0 };
	struct delivery_row *rows;
	size_t nrows;
	long pending;

	ob->next_sweep = now + OUTBOX_SWEEP_EVERY;
	ob->have_orphans = 0;
	if (!ob->have_notifiers)
		return;
	if (store_delivery_notifiers(ob->store, &names) == -1) {
		strlist_clear(&names);
		ob->have_orphans = 1;	/* look again at the next sweep */
		return;
	}
	for (size_t i = 0; i < names.n; i++) {
		const char *name = names.v[i];

		if (outbox_find(ob, name) != NULL)
			continue;
		ob->have_orphans = 1;
		if (!strlist_contains(&ob->missing, name)) {
			strlist_add(&ob->missing, name);
			if (store_delivery_count(ob->store, name,
			    DELIVERY_PENDING, &pending) == 0 && pending > 0)
				log_warnx("notifier %s is not running: %ld "
				    "pending deliver%s wait%s for it (expiring "
				    "24h after queueing)", name, pending,
				    pending == 1 ? "y" : "ies",
				    pending == 1 ? "s" : "");
		}
		if (store_deliveries_stale(ob->store, name,
		    now - OUTBOX_ORPHAN_EXPIRE, OUTBOX_ORPHAN_BATCH, &rows,
		    &nrows) == -1)
			continue;
		for (size_t j = 0; j < nrows; j++)
			if (outbox_give_up(ob, NULL, &rows[j],
			    DELIVERY_EXPIRED, outbox_alert_kind(ob,
			    rows[j].alert_id), "the notifier is no longer "
			    "configured", now) == -1)
				break;
		delivery_rows_free(rows, nrows);
	}
	strlist_clear(&names);
}

/* Arm the timer for the earliest row that could start. */
static void
outbox_schedule(struct outbox *ob, int64_t now)
{
	struct timeval tv;
	int64_t best = INT64_MAX, next, delay;
	const char *name;
	int rc;

	if (ob->draining) {
		evtimer_del(ob->timer);
		return;
	}
	for (size_t i = 0; i < ob->nnotifiers; i++) {
		if (ob->notifiers[i]->ops->send == NULL)
			continue;
		name = ob->notifiers[i]->cfg->name;
		/* A full notifier is looked at again when a send ends. */
		if (outbox_room(ob, name) == 0)
			continue;
		rc = store_delivery_next_due_for(ob->store, name, &next);
		if (rc == -1) {
			next = now + OUTBOX_ERROR_PAUSE;
			rc = 1;
		}
		if (rc == 1 && next < best)
			best = next;
	}
	if (ob->have_orphans && ob->next_sweep < best)
		best = ob->next_sweep;
	if (best == INT64_MAX) {
		evtimer_del(ob->timer);
		return;
	}
	if (best < ob->pause_until)
		best = ob->pause_until;
	delay = best - now;
	if (delay < 0)
		delay = 0;
	if (delay > OUTBOX_MAX_SLEEP)
		delay = OUTBOX_MAX_SLEEP;
	tv.tv_sec = (time_t)(delay / USEC_PER_SEC);
	tv.tv_usec = (suseconds_t)(delay % USEC_PER_SEC);
	evtimer_add(ob->timer, &tv);
}

/* Sends to the recipient that the notifier's rate limit allows now (0 or
 * more), or -1 on a store error; *free_at: when a send leaves the window
 * (when none may go now). */
static long
outbox_rate_room(struct outbox *ob, struct notifier *n, const char *rcpt,
    int64_t now, int64_t *free_at)
{
	const struct rate_limit_config *rl = &n->cfg->rate_limit;
	int64_t per = outbox_sec(rl->per), oldest;
	long sent;

	if (store_delivery_sent_since(ob->store, n->cfg->name, rcpt,
	    now - per, &sent, &oldest) == -1)
		return -1;
	sent += (long)outbox_busy_to(ob, n->cfg->name, rcpt);
	*free_at = oldest != 0 ? oldest + per : now + per;
	return sent >= rl->count ? 0 : rl->count - sent;
}

/* Rows due to one recipient of a rate-limited notifier: sent one by one
 * while the window has room for all of them; else all but the last free
 * place one by one and the rest folded into one batch in that place; held
 * until the window frees when it is full. -1 on a store error. */
static int
outbox_run_recipient(struct outbox *ob, struct notifier *n,
    const char *rcpt, size_t room, int64_t now)
{
	struct delivery_row *rows, brow;
	struct alert *b;
	size_t nrows, single, i;
	int64_t free_at;
	long allowed;
	int rc = 0;

	if ((allowed = outbox_rate_room(ob, n, rcpt, now, &free_at)) == -1)
		return -1;
	if (allowed == 0) {
		log_info("notifier %s: rate limit reached for %s; alerts wait "
		    "%llds and then go as one batch", n->cfg->name, rcpt,
		    (long long)((free_at - now) / USEC_PER_SEC));
		return store_deliveries_hold(ob->store, n->cfg->name, rcpt,
		    now, free_at);
	}
	if (store_deliveries_due_to(ob->store, n->cfg->name, rcpt, now,
	    SIZE_MAX, &rows, &nrows) == -1)
		return -1;
	single = nrows <= (size_t)allowed ? nrows : (size_t)allowed - 1;
	for (i = 0; i < single && i < room && rc == 0; i++)
		rc = outbox_start(ob, n, &rows[i], now);
	if (rc == -1 || i < single || single == nrows) {
		delivery_rows_free(rows, nrows);
		return rc;
	}
	if (store_begin(ob->store) == -1) {
		delivery_rows_free(rows, nrows);
		return -1;
	}
	if ((b = batch_build(ob->store, n->cfg->name, rcpt, rows + single,
	    nrows - single, now)) == NULL || store_commit(ob->store) == -1) {
		if (b == NULL)
			store_rollback(ob->store);
		alert_free(b);
		delivery_rows_free(rows, nrows);
		return -1;
	}
	memset(&brow, 0, sizeof brow);
	brow.alert_id = b->id;
	brow.notifier = n->cfg->name;
	brow.recipient = xstrdup(rcpt);
	brow.state = DELIVERY_PENDING;
	brow.next_us = now;
	brow.created_us = now;
	rc = outbox_start(ob, n, &brow, now);
	free(brow.recipient);
	alert_free(b);
	delivery_rows_free(rows, nrows);
	return rc;
}

/* A rate-limited notifier's due rows, recipient by recipient. */
static int
outbox_run_limited(struct outbox *ob, struct notifier *n, size_t room,
    int64_t now)
{
	struct strlist seen = { NULL, 0 };
	struct delivery_row *rows;
	size_t nrows, left;
	int rc = 0;

	if (store_deliveries_due_for(ob->store, n->cfg->name, now, room,
	    &rows, &nrows) == -1)
		return -1;
	for (size_t i = 0; i < nrows && rc == 0 && !ob->draining; i++) {
		if (strlist_contains(&seen, rows[i].recipient))
			continue;
		strlist_add(&seen, rows[i].recipient);
		if ((left = outbox_room(ob, n->cfg->name)) == 0)
			break;
		rc = outbox_run_recipient(ob, n, rows[i].recipient, left, now);
	}
	strlist_clear(&seen);
	delivery_rows_free(rows, nrows);
	return rc;
}

/* Start what is due, notifier by notifier, as room allows. */
static void
outbox_run(struct outbox *ob)
{
	struct delivery_row *rows;
	struct notifier *n;
	size_t nrows, room;
	int64_t now;
	int failed = 0;

	if (ob->draining)
		return;
	now = time_now_us();
	if (now < ob->pause_until) {
		outbox_schedule(ob, now);
		return;
	}
	for (size_t i = 0; i < ob->nnotifiers && !failed; i++) {
		n = ob->notifiers[i];
		if (n->ops->send == NULL)
			continue;
		if ((room = outbox_room(ob, n->cfg->name)) == 0)
			continue;
		if (n->cfg->rate_limit.count > 0) {
			if (outbox_run_limited(ob, n, room, now) == -1)
				failed = 1;
			continue;
		}
		if (store_deliveries_due_for(ob->store, n->cfg->name, now,
		    room, &rows, &nrows) == -1) {
			failed = 1;
			break;
		}
		for (size_t j = 0; j < nrows && !ob->draining; j++) {
			if (outbox_start(ob, n, &rows[j], now) == -1) {
				failed = 1;
				break;
			}
		}
		delivery_rows_free(rows, nrows);
	}
	if (failed) {
		log_warnx("outbox: store error; trying again in %llds",
		    (long long)(OUTBOX_ERROR_PAUSE / USEC_PER_SEC));
		ob->pause_until = now + OUTBOX_ERROR_PAUSE;
	}
	if (now >= ob->next_sweep)
		outbox_sweep(ob, now);
	outbox_schedule(ob, time_now_us());
}

static void
outbox_timer_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	outbox_run(arg);
}

/* --- the interface --------------------------------------------------- */

struct outbox *
outbox_new(struct event_base *base, struct store *store)
{
	struct outbox *ob;

	ob = xcalloc(1, sizeof *ob);
	ob->base = base;
	ob->store = store;
	TAILQ_INIT(&ob->inflight);
	TAILQ_INIT(&ob->finished);
	TAILQ_INIT(&ob->unrecorded);
	LIST_INIT(&ob->alerts);
	if ((ob->timer = evtimer_new(base, outbox_timer_cb, ob)) == NULL ||
	    (ob->reap = event_new(base, -1, 0, outbox_reap_cb, ob)) == NULL ||
	    (ob->rerecord = evtimer_new(base, outbox_rerecord_cb, ob)) == NULL)
		fatalx("outbox: cannot create events");
	/* Rows a crash left sending were maybe sent, maybe not: send them
	 * again (at-least-once; receivers de-duplicate on the alert id). */
	if (store_deliveries_reset_sending(store) == -1)
		log_crit("outbox: deliveries a crash left sending could not be "
		    "reset to pending; they are retried at the next start");
	return ob;
}

void
outbox_free(struct outbox *ob)
{
	struct outbox_send *s;
	struct outbox_alert *e;

	if (ob == NULL)
		return;
	event_free(ob->timer);
	event_free(ob->reap);
	event_free(ob->rerecord);
	while ((s = TAILQ_FIRST(&ob->finished)) != NULL) {
		TAILQ_REMOVE(&ob->finished, s, entry);
		outbox_send_free(s);
	}
	/* Outcomes the store never took: their rows stay sending and are
	 * sent again after the restart (at-least-once). */
	while ((s = TAILQ_FIRST(&ob->unrecorded)) != NULL) {
		TAILQ_REMOVE(&ob->unrecorded, s, entry);
		outbox_send_free(s);
	}
	if (ob->ninflight > 0)
		log_warnx("outbox: %zu deliver%s still in flight at shutdown; "
		    "sent again after the restart", ob->ninflight,
		    ob->ninflight == 1 ? "y" : "ies");
	/* Sends still in flight outlive the outbox: their delivery_done
	 * only frees them. */
	while ((s = TAILQ_FIRST(&ob->inflight)) != NULL) {
		TAILQ_REMOVE(&ob->inflight, s, entry);
		s->ob = NULL;
	}
	while ((e = LIST_FIRST(&ob->alerts)) != NULL) {
		LIST_REMOVE(e, entry);
		e->ob = NULL;
	}
	for (size_t i = 0; i < ob->nnotifiers; i++)
		notifier_unref(ob->notifiers[i]);
	free(ob->notifiers);
	strlist_clear(&ob->missing);
	strlist_clear(&ob->system_actions);
	free(ob);
}

void
outbox_set_notifiers(struct outbox *ob, struct notifier **v, size_t n)
{
	struct strlist missing = { NULL, 0 };
	struct notifier **old = ob->notifiers;
	size_t nold = ob->nnotifiers;

	/* Take the new references before dropping the old: a notifier in
	 * both sets must not reach zero in between. */
	ob->notifiers = n > 0 ? xreallocarray(NULL, n, sizeof *v) : NULL;
	for (size_t i = 0; i < n; i++) {
		notifier_ref(v[i]);
		ob->notifiers[i] = v[i];
	}
	ob->nnotifiers = n;
	for (size_t i = 0; i < nold; i++)
		notifier_unref(old[i]);
	free(old);

	/* A name that is back gets logged again if it goes again. */
	for (size_t i = 0; i < ob->missing.n; i++)
		if (outbox_find(ob, ob->missing.v[i]) == NULL)
			strlist_add(&missing, ob->missing.v[i]);
	strlist_clear(&ob->missing);
	ob->missing = missing;

	ob->have_notifiers = 1;
	ob->next_sweep = 0;
	outbox_kick(ob);
}

/* One delivery row per recipient of the notifier; rows already there are
 * kept as they are. Returns rows added or -1. */
static int
outbox_enqueue_to(struct outbox *ob, const char *alert_id,
    const char *notifier)
{
	struct strlist rcpt = { NULL, 0 };
	struct notifier *n;
	int64_t now = time_now_us();
	int added = 0, rc;

	if ((n = outbox_find(ob, notifier)) == NULL) {
		log_warnx("alert %s: notifier %s is not running; no delivery "
		    "through it", alert_id, notifier);
		return 0;
	}
	if (n->ops->recipients != NULL)
		n->ops->recipients(n->cfg->conf, &rcpt);
	else
		strlist_add(&rcpt, "-");	/* one destination */
	if (rcpt.n == 0)
		log_warnx("alert %s: notifier %s has no recipients", alert_id,
		    notifier);
	for (size_t j = 0; j < rcpt.n; j++) {
		rc = store_delivery_insert(ob->store, alert_id, notifier,
		    rcpt.v[j], now);
		if (rc == -1) {
			added = -1;
			break;
		}
		added += rc;
	}
	strlist_clear(&rcpt);
	return added;
}

int
outbox_enqueue(struct outbox *ob, const struct alert *a,
    const struct strlist *actions)
{
	int added = 0, rc;

	for (size_t i = 0; i < actions->n; i++) {
		if ((rc = outbox_enqueue_to(ob, a->id, actions->v[i])) == -1)
			return -1;
		added += rc;
	}
	return added;
}

/* --- straight from memory, when the store fails -------------------------- */

struct direct_batch {
	struct alert	*alert;
	size_t		 pending;
};

struct direct_send {
	struct delivery		 d;
	struct direct_batch	*batch;
};

static void
direct_free_cb(evutil_socket_t fd, short events, void *arg)
{
	struct direct_send *s = arg;

	(void)fd;
	(void)events;
	notifier_unref(s->d.notifier);
	free(s->d.recipient);
	if (--s->batch->pending == 0) {
		alert_free(s->batch->alert);
		free(s->batch);
	}
	free(s);
}

static void
direct_finish(struct delivery *d, enum deliver_result result, const char *why)
{
	struct direct_send *s = d->core;
	struct timeval zero = { 0, 0 };

	if (result == DELIVER_OK)
		log_notice("system alert %s sent (not stored) via %s to %s",
		    d->alert_id, d->notifier_name, d->recipient);
	else
		log_crit("system alert %s (not stored) via %s to %s failed: "
		    "%s", d->alert_id, d->notifier_name, d->recipient,
		    why != NULL ? why : "-");
	/* The notifier may still be on the stack: free on the next turn. */
	if (event_base_once(d->notifier->env.base, -1, EV_TIMEOUT,
	    direct_free_cb, s, &zero) == -1)
		log_warnx("system alert %s: cannot schedule its cleanup",
		    d->alert_id);
}

void
outbox_send_direct(struct outbox *ob, struct alert *a)
{
	struct direct_batch *b = xcalloc(1, sizeof *b);
	struct strlist rcpt;
	struct notifier *n;

	b->alert = a;
	b->pending = 1;		/* held until every send has started */
	metrics_alert(a);
	for (size_t i = 0; i < ob->system_actions.n; i++) {
		if ((n = outbox_find(ob, ob->system_actions.v[i])) == NULL)
			continue;
		rcpt.v = NULL;
		rcpt.n = 0;
		if (n->ops->recipients != NULL)
			n->ops->recipients(n->cfg->conf, &rcpt);
		else
			strlist_add(&rcpt, "-");
		for (size_t j = 0; j < rcpt.n; j++) {
			struct direct_send *s = xcalloc(1, sizeof *s);

			s->batch = b;
			s->d.alert_id = a->id;
			s->d.notifier_name = n->cfg->name;
			s->d.recipient = xstrdup(rcpt.v[j]);
			s->d.alert = a;
			s->d.notifier = n;
			s->d.retry_after = -1;
			s->d.finish = direct_finish;
			s->d.core = s;
			notifier_ref(n);
			b->pending++;
			n->ops->send(n, &s->d);
		}
		strlist_clear(&rcpt);
	}
	if (--b->pending == 0) {
		alert_free(b->alert);
		free(b);
	}
}

void
outbox_set_system_actions(struct outbox *ob, const struct strlist *actions)
{
	strlist_clear(&ob->system_actions);
	for (size_t i = 0; i < actions->n; i++)
		strlist_add(&ob->system_actions, actions->v[i]);
}

void
outbox_kick(struct outbox *ob)
{
	struct timeval tv = { 0, 0 };

	if (!ob->draining)
		evtimer_add(ob->timer, &tv);
}

size_t
outbox_inflight(const struct outbox *ob)
{
	return ob->ninflight;
}

void
outbox_drain(struct outbox *ob)
{
	ob->draining = 1;
	evtimer_del(ob->timer);
}

void
outbox_on_change(struct outbox *ob, void (*cb)(void *), void *arg)
{
	ob->change_cb = cb;
	ob->change_arg = arg;
}
