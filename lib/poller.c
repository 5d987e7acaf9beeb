/*
 * Pollers. One poll: token -> request -> response -> parse -> store the
 * records and the advanced cursor in one transaction -> evaluate rules.
 * A poll ends in exactly one poll_finish(); a failed poll never moves the
 * cursor, so the next poll asks again for everything not yet stored.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <event2/event.h>
#include <jansson.h>

#include "auth.h"
#include "buf.h"
#include "config.h"
#include "health.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "poller.h"
#include "ratelimit.h"
#include "service-error.h"
#include "silence.h"
#include "record.h"
#include "rules.h"
#include "source-graph.h"
#include "source.h"
#include "store.h"
#include "strlist.h"
#include "timeutil.h"
#include "xmalloc.h"

/* Log Analytics allows 5 concurrent queries and 200 requests per 30 s
 * per identity (API-FACTS 2.5); the daemon keeps itself inside both. */
#define LA_MAX_CONCURRENT	5
#define BACKOFF_FIRST_US	(1 * USEC_PER_SEC)
#define BACKOFF_MAX_US		(300 * USEC_PER_SEC)
#define RETRY_AFTER_MAX_US	(300 * USEC_PER_SEC)
/* A poll follows next-page links up to this many pages; the rest is read
 * by the next poll (the cursor only moves past what was stored). */
#define MAX_PAGES		200
/* The Graph windows are a little longer than Graph's 10 s, so that
 * network jitter never lets the service count one request too many. */
#define GRAPH_WINDOW_US		(10500 * (USEC_PER_SEC / 1000))

struct pollers;

/* A Graph budget window: per (app, tenant) or per app. Kept across
 * reloads, so that a reload never resets what was spent. */
struct budget {
	char			*key;
	struct rate_window	 w;
};

struct poller {
	struct pollers			*set;
	char				*key;
	const struct tenant_config	*tenant;
	const struct source_ops		*src;
	enum signal			 signal;	/* the first */
	/* Log Analytics reads every signal of the tenant in one query:
	 * their SIGNAL_BITs; each keeps its own cursor and poll status
	 * under its own key ("tenant/source/signal"). Graph: one. */
	unsigned			 signals;
	char				*keys[SIGNAL_COUNT];
	int64_t				 frequency_us;
	struct auth			*auth;
	struct event			*timer;
	struct auth_wait		*wait;
	struct http_call		*call;
	char				*token;
	int				 refreshed;	/* after a 401 */
	/* The pages of the poll under way: stored together at its end. */
	struct record_list		 acc;
	struct page_info		 acc_info;
	char				*next_url;
	int				 pages;
	int				 failures;	/* in a row */
	int				 cycled;	/* ran in this cycle */
	/* Log Analytics: the log-pipeline check (silence.h), run after a
	 * successful poll when due. */
	struct auth_wait		*probe_wait;
	struct http_call		*probe_call;
	int64_t				 probe_next_us;	/* monotonic */
	long				 aadsts;	/* of the failure at hand */
	int64_t				 last_ok_us;	/* wall time; 0: never */
	int				 running;
	int				 counts_la;
	/* Graph: the budget windows consulted before every request, the
	 * timer a request waits on when they are full, and the fallback
	 * to one request per account once `or` was refused. */
	struct rate_window		*tenant_budget;
	struct rate_window		*app_budget;
	struct event			*budget_timer;
	int				 single;
	size_t				 single_i;
	/* --once */
	int				 once_done;
};

struct tenant_auth {
	const struct tenant_config	*tenant;
	const char			*scope;
	struct auth			*auth;
};

struct pollers {
	struct event_base	*base;
	struct http_engine	*http;
	struct store		*store;
	struct rules		*rules;
	const struct config	*config;
	struct poller		**v;
	size_t			  n;
	struct tenant_auth	 *auths;
	size_t			  nauths;
	struct budget		**budgets;
	size_t			  nbudgets;
	int			  stopped;
	int			  la_inflight;
	/* Graph pollers whose tenant refused `or` in a filter: kept across
	 * reloads so the fallback is not learnt again from a 400. */
	struct strlist		  single_keys;
	struct health		 *health;	/* blind and restored sources */
	/* Last successful reads by poller key, carried over a reload so
	 * that /healthz does not start again from "not read yet". */
	struct strlist		  read_keys;
	int64_t			 *read_us;
	/* A cycle: every poller ran once (heartbeats). */
	void			(*cycle_cb)(int, const char *, void *);
	void			 *cycle_arg;
	struct buf		  cycle_failures;	/* "key: why; ..." */
	/* --once */
	int			  once;
	int64_t			  once_deadline_us;
	void			(*once_cb)(int, void *);
	void			 *once_arg;
	int			  once_ok;
	struct event		 *once_ev;
};

static void	poll_start_cb(evutil_socket_t, short, void *);
static void	poll_send(struct poller *);
static void	poll_complete(struct poller *, const int64_t *);
static int	poll_budget_wait(struct poller *);

char *
poller_key(const char *tenant, const char *source, const char *signal)
{
	return xasprintf("%s/%s/%s", tenant, source, signal);
}

static uint64_t
random_u64(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof v, 0) != sizeof v)
		v = (uint64_t)time_mono_us();
	return v;
}

/* Exponential backoff with full jitter, never longer than the poller's own
 * frequency: a failing source is asked again at least as often as a
 * healthy one. */
static int64_t
poll_backoff_us(const struct poller *p, int64_t retry_after_s)
{
	int64_t cap = BACKOFF_FIRST_US;
	int64_t delay;

	for (int i = 1; i < p->failures && cap < BACKOFF_MAX_US; i++)
		cap *= 2;
	if (cap > p->frequency_us)
		cap = p->frequency_us;
	if (cap > BACKOFF_MAX_US)
		cap = BACKOFF_MAX_US;
	delay = cap / 2 + (int64_t)(random_u64() % (uint64_t)(cap / 2 + 1));
	if (retry_after_s > 0 && retry_after_s * USEC_PER_SEC > delay) {
		/* Honour the server, but never sleep blind for long: a
		 * monitor that stops asking misses everything meanwhile. */
		int64_t most = p->frequency_us > RETRY_AFTER_MAX_US ?
		    p->frequency_us : RETRY_AFTER_MAX_US;

		delay = retry_after_s > most / USEC_PER_SEC ? most :
		    retry_after_s * USEC_PER_SEC;
		if (retry_after_s * USEC_PER_SEC > most)
			log_warnx("poller %s: the service asked to wait %llds; "
			    "asking again in %llds", p->key,
			    (long long)retry_after_s,
			    (long long)(most / USEC_PER_SEC));
	}
	return delay;
}

static void
poller_schedule(struct poller *p, int64_t delay_us)
{
	struct timeval tv;

	if (delay_us < 0)
		delay_us = 0;
	tv.tv_sec = delay_us / USEC_PER_SEC;
	tv.tv_usec = delay_us % USEC_PER_SEC;
	evtimer_add(p->timer, &tv);
}

static void
once_check_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct pollers *set = arg;

	(void)fd;
	(void)ev;
	if (set->once_cb != NULL) {
		void (*cb)(int, void *) = set->once_cb;

		set->once_cb = NULL;
		cb(set->once_ok, set->once_arg);
	}
}

static void
once_maybe_done(struct pollers *set)
{
	for (size_t i = 0; i < set->n; i++)
		if (!set->v[i]->once_done)
			return;
	/* From the loop, not from inside this poll's completion. */
	event_active(set->once_ev, EV_TIMEOUT, 0);
}

static void
poll_pages_clear(struct poller *p)
{
	record_list_clear(&p->acc);
	page_info_clear(&p->acc_info);
	memset(&p->acc_info, 0, sizeof p->acc_info);
	free(p->next_url);
	p->next_url = NULL;
	p->pages = 0;
}

/* Add a parsed page to the poll's pages: the records move over. */
static void
poll_pages_add(struct poller *p, struct record_list *recs,
    struct page_info *info)
{
	struct page_info *a = &p->acc_info;

	for (size_t i = 0; i < recs->n; i++)
		record_list_add(&p->acc, recs->v[i]);
	free(recs->v);
	record_list_init(recs);
	p->pages++;
	a->rows += info->rows;
	if (info->max_ingest_us > a->max_ingest_us)
		a->max_ingest_us = info->max_ingest_us;
	for (int s = 0; s < SIGNAL_COUNT; s++)
		if (info->signal_max_ingest_us[s] > a->signal_max_ingest_us[s])
			a->signal_max_ingest_us[s] =
			    info->signal_max_ingest_us[s];
	if (info->partial && !a->partial) {
		a->partial = 1;
		a->partial_why = info->partial_why;
		info->partial_why = NULL;
	}
	free(p->next_url);
	p->next_url = info->next_url;
	info->next_url = NULL;
}

/* The log-pipeline check's answer: which tables had any row. */
static void
probe_response_cb(const struct http_response *r, void *arg)
{
	struct poller *p = arg;
	unsigned alive;
	char *err = NULL;

	p->probe_call = NULL;
	if (r->error != NULL || r->status != 200) {
		log_info("poller %s: log-pipeline check failed (%s%ld); tried "
		    "again later", p->key, r->error != NULL ? r->error :
		    "HTTP ", r->error != NULL ? 0L : r->status);
		return;
	}
	if (silence_parse(r->body, r->body_len, &alive, &err) == -1) {
		log_info("poller %s: log-pipeline check: %s", p->key, err);
		free(err);
		return;
	}
	health_pipeline(p->set->health, p->tenant, p->signals, alive);
}

static void
probe_token_cb(const char *token, const struct auth_error *e, void *arg)
{
	struct poller *p = arg;
	struct source_req req;
	struct http_request hr;
	char *auth_hdr, *err = NULL;
	const char *headers[3];

	(void)e;
	p->probe_wait = NULL;
	if (token == NULL)
		return;		/* the poll itself reports token trouble */
	if (silence_build(p->tenant, p->signals, time_now_us(), &req,
	    &err) == -1) {
		log_warnx("poller %s: log-pipeline check: %s", p->key, err);
		free(err);
		return;
	}
	auth_hdr = xasprintf("Authorization: Bearer %s", token);
	headers[0] = auth_hdr;
	headers[1] = "Content-Type: application/json";
	headers[2] = NULL;
	memset(&hr, 0, sizeof hr);
	hr.method = req.method;
	hr.url = req.url;
	hr.headers = headers;
	hr.body = req.body;
	hr.body_len = strlen(req.body);
	hr.ca_file = p->tenant->ca_file;
	hr.timeout_ms = (long)(p->set->config->http_timeout * 1000);
	hr.max_response = 1024 * 1024;
	p->probe_call = http_request(p->set->http, &hr, probe_response_cb, p);
	freezero_str(auth_hdr);
	source_req_clear(&req);
}

/* After a successful poll: the log-pipeline check, when due. */
static void
poll_probe_maybe(struct poller *p)
{
	int64_t now = time_mono_us();

	if (p->src->kind != SOURCE_LOG_ANALYTICS || p->set->health == NULL ||
	    p->probe_wait != NULL || p->probe_call != NULL ||
	    now < p->probe_next_us)
		return;
	p->probe_next_us = now +
	    silence_every(p->tenant->silent_after) * USEC_PER_SEC;
	p->probe_wait = auth_get(p->auth, probe_token_cb, p);
}

/* The poller finished a poll: when every poller has since the last
 * cycle, that is a cycle, ok when none failed. */
static void
pollers_cycle(struct pollers *set, struct poller *p)
{
	p->cycled = 1;
	for (size_t i = 0; i < set->n; i++)
		if (!set->v[i]->cycled)
			return;
	for (size_t i = 0; i < set->n; i++)
		set->v[i]->cycled = 0;
	if (set->cycle_cb != NULL)
		set->cycle_cb(set->cycle_failures.len == 0,
		    set->cycle_failures.len == 0 ? "every source read" :
		    buf_cstr(&set->cycle_failures), set->cycle_arg);
	buf_reset(&set->cycle_failures);
}

static void
poll_finish(struct poller *p, int ok, int64_t retry_after_s)
{
	struct pollers *set = p->set;
	int64_t delay;

	p->running = 0;
	p->refreshed = 0;
	freezero_str(p->token);
	p->token = NULL;
	poll_pages_clear(p);
	if (ok) {
		p->failures = 0;
		p->last_ok_us = time_now_us();
		health_ok(set->health, p->tenant, p->key, p->last_ok_us);
	} else
		p->failures++;
	metrics_poll(p->tenant->name, p->src->name, p->signals, ok,
	    time_now_us());
	delay = ok ? p->frequency_us : poll_backoff_us(p, retry_after_s);

	if (set->once) {
		if (ok || time_now_us() + delay > set->once_deadline_us) {
			if (!ok)
				set->once_ok = 0;
			p->once_done = 1;
			once_maybe_done(set);
			return;
		}
	}
	if (!set->stopped) {
		poller_schedule(p, delay);
		pollers_cycle(set, p);
		if (ok)
			poll_probe_maybe(p);
	}
}

/* The poll's outcome under each signal's key (outside a transaction:
 * its own). */
static int
poll_record_status(struct poller *p, int ok, const char *why)
{
	int64_t now = time_now_us();
	int rc = 0;

	for (int s = 0; s < SIGNAL_COUNT; s++)
		if (p->keys[s] != NULL && store_poll_result(p->set->store,
		    p->keys[s], ok, now, why) == -1)
			rc = -1;
	return rc;
}

/* Graph throttles per app and tenant: a 429 to one poller holds every
 * Graph request of the tenant, not only the next one of this poller, for
 * Retry-After (a window when it is absent; five minutes at most). */
static void
poll_graph_throttled(struct poller *p, int64_t retry_after_s)
{
	int64_t pause = retry_after_s > 0 ? retry_after_s * USEC_PER_SEC :
	    GRAPH_WINDOW_US;

	if (pause > RETRY_AFTER_MAX_US)
		pause = RETRY_AFTER_MAX_US;
	rate_window_pause(p->tenant_budget, time_mono_us() + pause);
	log_notice("poller %s: Graph throttled tenant %s; its Graph requests "
	    "wait %llds", p->key, p->tenant->name,
	    (long long)(pause / USEC_PER_SEC));
}

static void __attribute__((format(printf, 3, 4)))
poll_fail(struct poller *p, int64_t retry_after_s, const char *fmt, ...)
{
	char why[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	log_warnx("poller %s: %s", p->key, why);
	if (p->set->cycle_failures.len < 2048)
		buf_printf(&p->set->cycle_failures, "%s%s: %s",
		    p->set->cycle_failures.len > 0 ? "; " : "", p->key, why);
	if (poll_record_status(p, 0, why) == -1)
		log_warnx("poller %s: could not record the failure", p->key);
	health_failed(p->set->health, p->tenant, p->key, why, p->aadsts,
	    time_now_us());
	p->aadsts = 0;
	poll_finish(p, 0, retry_after_s);
}

static void
token_cb(const char *token, const struct auth_error *err, void *arg)
{
	struct poller *p = arg;

	p->wait = NULL;
	if (token == NULL) {
		/* auth.c has logged the details (AADSTS code and text). */
		p->aadsts = err != NULL ? err->aadsts : 0;
		poll_fail(p, err != NULL ? err->retry_after : -1,
		    "no access token for %s%s", p->tenant->name,
		    err != NULL && err->permanent ?
		    " (the credentials were refused)" : "");
		return;
	}
	p->token = xstrdup(token);
	poll_send(p);
}

static void
poll_get_token(struct poller *p)
{
	p->wait = auth_get(p->auth, token_cb, p);
}

static int64_t
poll_cursor(struct poller *p, enum signal s, int64_t now)
{
	int64_t cursor, floor = now -
	    p->tenant->log_analytics.lookback * USEC_PER_SEC;
	int rc = store_cursor_get(p->set->store, p->keys[s], &cursor);

	/* First start: look back over the whole look-back window (the
	 * README says so: what is found there alerts). */
	if (rc != 1 || cursor < floor)
		cursor = floor;
	return cursor;
}

/* What the source needs to build a request or read a page: the signals
 * read together and each one's cursor. */
static void
poll_ctx(struct poller *p, struct source_ctx *ctx)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->tenant = p->tenant;
	ctx->signal = p->signal;
	ctx->now_us = time_now_us();
	for (int s = 0; s < SIGNAL_COUNT; s++)
		if (p->keys[s] != NULL)
			ctx->cursors_us[s] = poll_cursor(p, (enum signal)s,
			    ctx->now_us);
	ctx->cursor_us = ctx->cursors_us[p->signal];
	if ((p->signals & (p->signals - 1)) != 0)
		ctx->together = p->signals;
}

/* Store what the pages held; advance each signal's cursor (to the last
 * ingestion time of its own rows) only for a complete read. */
static int
poll_store(struct poller *p, struct record_list *recs,
    const struct page_info *info, const int64_t *cursors, size_t *nnew)
{
	struct store *st = p->set->store;
	int64_t now = time_now_us();
	size_t fresh[SIGNAL_COUNT] = { 0 };

	*nnew = 0;
	if (store_begin(st) == -1)
		return -1;
	for (size_t i = 0; i < recs->n; i++) {
		int rc;

		recs->v[i]->received_us = now;
		if ((rc = store_record_insert(st, recs->v[i])) == -1)
			goto fail;
		*nnew += (size_t)rc;
		fresh[recs->v[i]->signal] += (size_t)rc;
	}
	for (int s = 0; s < SIGNAL_COUNT; s++) {
		if (p->keys[s] == NULL)
			continue;
		if (!info->partial && info->signal_max_ingest_us[s] >
		    cursors[s] && store_cursor_set(st, p->keys[s],
		    info->signal_max_ingest_us[s]) == -1)
			goto fail;
		if (store_poll_result(st, p->keys[s], !info->partial, now,
		    info->partial ? info->partial_why : NULL) == -1)
			goto fail;
	}
	if (store_commit(st) == -1)
		goto fail;
	for (int s = 0; s < SIGNAL_COUNT; s++)
		if (fresh[s] > 0)
			metrics_records_seen(p->tenant->name, p->src->name,
			    signal_name((enum signal)s), fresh[s]);
	return 0;
fail:
	store_rollback(st);
	return -1;
}

static size_t
poll_single_count(const struct poller *p)
{
	struct source_ctx ctx;

	memset(&ctx, 0, sizeof ctx);
	ctx.tenant = p->tenant;
	ctx.signal = p->signal;
	return source_graph_single_count(&ctx);
}

static void
response_cb(const struct http_response *r, void *arg)
{
	struct poller *p = arg;
	struct source_ctx ctx;
	struct record_list recs;
	struct page_info info;
	char *err = NULL, summary[512];

	p->call = NULL;
	if (p->counts_la) {
		p->set->la_inflight--;
		p->counts_la = 0;
	}
	if (r->too_large) {
		poll_fail(p, -1, "response rejected: %s", r->error);
		return;
	}
	if (r->error != NULL) {
		/* Also a transfer cut short after a 200 header: never parse
		 * half a body. */
		if (r->status != 0)
			poll_fail(p, -1, "transfer failed after HTTP %ld: %s",
			    r->status, r->error);
		else
			poll_fail(p, -1, "request failed: %s", r->error);
		return;
	}
	if ((r->status == 401 || (r->status == 403 &&
	    service_error_token_refused(r->body, r->body_len))) && !p->refreshed) {
		/* The token may have been revoked or expired early: one
		 * fresh token, one retry. */
		log_info("poller %s: HTTP %ld, fetching a new token and "
		    "retrying once", p->key, r->status);
		p->refreshed = 1;
		auth_invalidate(p->auth, p->token);
		freezero_str(p->token);
		p->token = NULL;
		poll_get_token(p);
		return;
	}
	if (r->status == 204) {
		/* The workspace has no data at all: a successful read that
		 * found nothing; the cursor stays where it is. */
		log_info("poller %s: HTTP 204 No Content (empty workspace); "
		    "cursor kept", p->key);
		if (poll_record_status(p, 1, NULL) == -1)
			log_warnx("poller %s: could not record the poll",
			    p->key);
		poll_finish(p, 1, -1);
		return;
	}
	if (r->status == 400 && p->src->kind == SOURCE_GRAPH && !p->single &&
	    p->next_url == NULL && poll_single_count(p) > 1) {
		/* API-FACTS 3.1: whether Graph takes several accounts joined
		 * with `or` is unverified; this tenant does not. */
		service_error_summary(r->body, r->body_len, summary, sizeof summary);
		log_warnx("poller %s: Graph refused the filter that joins the "
		    "accounts with 'or' (HTTP 400%s); from now on one request "
		    "per account", p->key, summary);
		p->single = 1;
		p->single_i = 0;
		if (!strlist_contains(&p->set->single_keys, p->key))
			strlist_add(&p->set->single_keys, p->key);
		poll_pages_clear(p);
		poll_send(p);
		return;
	}
	if (r->status != 200) {
		if (r->status == 429 && p->tenant_budget != NULL)
			poll_graph_throttled(p, r->retry_after);
		service_error_summary(r->body, r->body_len, summary, sizeof summary);
		poll_fail(p, r->retry_after, "HTTP %ld%s", r->status, summary);
		return;
	}

	poll_ctx(p, &ctx);
	memset(&info, 0, sizeof info);
	record_list_init(&recs);
	if (p->src->parse(&ctx, r->body, r->body_len, &recs, &info,
	    &err) == -1) {
		poll_fail(p, -1, "bad response from %s: %s", p->src->name,
		    err != NULL ? err : "unparsable");
		free(err);
		record_list_clear(&recs);
		page_info_clear(&info);
		return;
	}
	poll_pages_add(p, &recs, &info);
	page_info_clear(&info);
	if (p->next_url != NULL) {
		if (p->pages < MAX_PAGES) {
			poll_send(p);
			return;
		}
		log_warnx("poller %s: stopped after %d pages; the rest is "
		    "read by the next poll", p->key, p->pages);
		p->acc_info.partial = 1;
	} else if (p->single && p->single_i + 1 < poll_single_count(p)) {
		/* The next account's request of this poll. */
		p->single_i++;
		poll_send(p);
		return;
	}
	poll_complete(p, ctx.cursors_us);
}

/* Every page is in: store the records (and the cursor) in one
 * transaction, then evaluate the rules. */
static void
poll_complete(struct poller *p, const int64_t *cursors)
{
	struct page_info *info = &p->acc_info;
	struct record_list *recs = &p->acc;
	char stamp[TIME_ISO_LEN];
	size_t nnew;

	if (poll_store(p, recs, info, cursors, &nnew) == -1) {
		poll_fail(p, -1, "could not store %zu records; they will be "
		    "fetched again", recs->n);
		return;
	}
	time_format_iso8601(info->max_ingest_us > cursors[p->signal] ?
	    info->max_ingest_us : cursors[p->signal], stamp);
	log_debug("poller %s: %d page%s, %zu rows, %zu break-glass records, "
	    "%zu new, cursor %s", p->key, p->pages, p->pages == 1 ? "" : "s",
	    info->rows, recs->n, nnew, stamp);
	for (size_t i = 0; i < recs->n && nnew > 0; i++)
		log_info("tenant %s: record %s of %s (%s) seen by %s",
		    p->tenant->name, recs->v[i]->id,
		    recs->v[i]->upn ? recs->v[i]->upn : "-",
		    recs->v[i]->user_id ? recs->v[i]->user_id : "-", p->key);

	/* Evaluate even when nothing is new: a crash after the store and
	 * before the rules leaves records that are still unmarked. */
	if (rules_evaluate(p->set->rules, p->tenant->name) == -1)
		log_warnx("poller %s: rule evaluation failed; it is retried "
		    "after the next poll", p->key);

	if (info->partial) {
		poll_fail(p, -1, "incomplete result (%s): records kept, "
		    "cursor not moved", info->partial_why ? info->partial_why :
		    "partial");
		return;
	}
	poll_finish(p, 1, -1);
}

static void
budget_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct poller *p = arg;

	(void)fd;
	(void)ev;
	if (!p->set->stopped && p->running)
		poll_send(p);
}

/* Graph: 1 when the request must wait for the budget (a timer is set to
 * send it then), 0 when it may go now (and is counted). */
static int
poll_budget_wait(struct poller *p)
{
	int64_t now, wait, w2;

	if (p->tenant_budget == NULL)
		return 0;
	now = time_mono_us();
	wait = rate_window_wait(p->tenant_budget, now);
	w2 = p->app_budget != NULL ? rate_window_wait(p->app_budget, now) : 0;
	if (w2 > wait)
		wait = w2;
	if (wait > 0) {
		log_debug("poller %s: Graph budget full, the request waits "
		    "%lld ms", p->key, (long long)(wait / 1000));
		/* A millisecond more: the window has surely moved then. */
		wait += 1000;
		{
			struct timeval tv = { (time_t)(wait / USEC_PER_SEC),
			    (suseconds_t)(wait % USEC_PER_SEC) };

			evtimer_add(p->budget_timer, &tv);
		}
		return 1;
	}
	rate_window_add(p->tenant_budget, now);
	if (p->app_budget != NULL)
		rate_window_add(p->app_budget, now);
	return 0;
}

static void
poll_send(struct poller *p)
{
	struct pollers *set = p->set;
	const struct config *c = set->config;
	struct source_ctx ctx;
	struct source_req req;
	struct http_request hr;
	char *auth_hdr, *ctype_hdr, *prefer_hdr = NULL, *err = NULL;
	const char *headers[5];
	size_t nh = 0;
	long timeout_ms = (long)(c->http_timeout * 1000);

	if (poll_budget_wait(p))
		return;
	poll_ctx(p, &ctx);
	memset(&req, 0, sizeof req);
	if (p->next_url != NULL) {
		/* The next page of this poll: its link was checked by the
		 * source (same host as the configured endpoint). */
		req.method = xstrdup("GET");
		req.url = xstrdup(p->next_url);
	} else if (p->single) {
		if (source_graph_build_single(&ctx, p->single_i, &req,
		    &err) == -1) {
			poll_fail(p, -1, "cannot build the query: %s",
			    err ? err : "?");
			free(err);
			return;
		}
	} else if (p->src->build(&ctx, &req, &err) == -1) {
		poll_fail(p, -1, "cannot build the query: %s", err ? err : "?");
		free(err);
		return;
	}

	auth_hdr = xasprintf("Authorization: Bearer %s", p->token);
	ctype_hdr = xasprintf("Content-Type: %s",
	    req.content_type ? req.content_type : "application/json");
	headers[nh++] = auth_hdr;
	if (req.body != NULL)
		headers[nh++] = ctype_hdr;
	if (p->src->kind == SOURCE_LOG_ANALYTICS) {
		/* Ask the service to give up before we do (max 600 s). */
		long wait = (long)c->http_timeout - 2;

		prefer_hdr = xasprintf("Prefer: wait=%ld",
		    wait < 1 ? 1 : wait > 600 ? 600 : wait);
		headers[nh++] = prefer_hdr;
	}
	headers[nh] = NULL;

	memset(&hr, 0, sizeof hr);
	hr.method = req.method;
	hr.url = req.url;
	hr.headers = headers;
	hr.body = req.body;
	hr.body_len = req.body ? strlen(req.body) : 0;
	hr.ca_file = p->tenant->ca_file;
	hr.timeout_ms = timeout_ms;
	hr.max_response = (size_t)c->http_max_response;
	if (p->src->kind == SOURCE_LOG_ANALYTICS) {
		set->la_inflight++;
		p->counts_la = 1;
	}
	p->call = http_request(set->http, &hr, response_cb, p);
	freezero_str(auth_hdr);
	free(ctype_hdr);
	free(prefer_hdr);
	source_req_clear(&req);
}

static void
poll_start_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct poller *p = arg;

	(void)fd;
	(void)ev;
	if (p->set->stopped || p->running)
		return;
	if (p->src->kind == SOURCE_LOG_ANALYTICS &&
	    p->set->la_inflight >= LA_MAX_CONCURRENT) {
		poller_schedule(p, USEC_PER_SEC);
		return;
	}
	p->running = 1;
	p->refreshed = 0;
	p->single_i = 0;
	poll_pages_clear(p);
	poll_get_token(p);
}

static struct auth *
pollers_auth(struct pollers *set, const struct tenant_config *t,
    const char *scope)
{
	for (size_t i = 0; i < set->nauths; i++)
		if (set->auths[i].tenant == t &&
		    strcmp(set->auths[i].scope, scope) == 0)
			return set->auths[i].auth;
	set->auths = xreallocarray(set->auths, set->nauths + 1,
	    sizeof *set->auths);
	set->auths[set->nauths].tenant = t;
	set->auths[set->nauths].scope = scope;
	set->auths[set->nauths].auth = auth_new(set->http, t, scope,
	    (long)(set->config->http_timeout * 1000));
	return set->auths[set->nauths++].auth;
}

/* The budget window named key, made on first use. */
static struct rate_window *
pollers_budget(struct pollers *set, const char *key, size_t limit)
{
	struct budget *b;

	for (size_t i = 0; i < set->nbudgets; i++)
		if (strcmp(set->budgets[i]->key, key) == 0)
			return &set->budgets[i]->w;
	b = xcalloc(1, sizeof *b);
	b->key = xstrdup(key);
	rate_window_init(&b->w, limit, GRAPH_WINDOW_US);
	set->budgets = xreallocarray(set->budgets, set->nbudgets + 1,
	    sizeof *set->budgets);
	set->budgets[set->nbudgets++] = b;
	return &b->w;
}

/* The app a tenant's tokens are issued to: what Graph's per-app budget
 * counts against. */
static const char *
tenant_app(const struct tenant_config *t)
{
	return t->credentials.client_id != NULL ? t->credentials.client_id :
	    "managed-identity";
}

void
pollers_graph_budgets(struct pollers *set, const struct tenant_config *t,
    struct rate_window **tenant, struct rate_window **app)
{
	char *k = xasprintf("%s/%s", tenant_app(t), t->tenant_id);

	*tenant = pollers_budget(set, k, GRAPH_REQUESTS_PER_10S);
	*app = pollers_budget(set, tenant_app(t), GRAPH_APP_REQUESTS_PER_10S);
	free(k);
}

static struct poller *
pollers_find(struct pollers *set, const struct tenant_config *t,
    enum source_kind kind, enum signal sig)
{
	/* Log Analytics: one poller per tenant reads every signal. */
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i]->tenant == t && set->v[i]->src->kind == kind &&
		    (kind == SOURCE_LOG_ANALYTICS || set->v[i]->signal == sig))
			return set->v[i];
	return NULL;
}

/* The name in logs: the key of its signal, or of its signals joined
 * ("contoso/log_analytics/sign_in+audit"). */
static void
poller_name(struct poller *p)
{
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s/%s/", p->tenant->name, p->src->name);
	for (int s = 0, n = 0; s < SIGNAL_COUNT; s++)
		if (p->keys[s] != NULL)
			buf_printf(&b, "%s%s", n++ > 0 ? "+" : "",
			    signal_name((enum signal)s));
	free(p->key);
	p->key = buf_steal(&b);
}

static void
poller_free(struct poller *p)
{
	if (p->wait != NULL)
		auth_cancel(p->wait);
	if (p->call != NULL)
		http_call_cancel(p->call);
	if (p->probe_wait != NULL)
		auth_cancel(p->probe_wait);
	if (p->probe_call != NULL)
		http_call_cancel(p->probe_call);
	if (p->counts_la)
		p->set->la_inflight--;
	event_free(p->timer);
	if (p->budget_timer != NULL)
		event_free(p->budget_timer);
	freezero_str(p->token);
	poll_pages_clear(p);
	free(p->key);
	for (int s = 0; s < SIGNAL_COUNT; s++)
		free(p->keys[s]);
	free(p);
}

static void
pollers_clear(struct pollers *set)
{
	for (size_t i = 0; i < set->n; i++)
		poller_free(set->v[i]);
	free(set->v);
	set->v = NULL;
	set->n = 0;
	for (size_t i = 0; i < set->nauths; i++)
		auth_free(set->auths[i].auth);
	free(set->auths);
	set->auths = NULL;
	set->nauths = 0;
}

struct pollers *
pollers_new(struct event_base *base, struct http_engine *http,
    struct store *store, struct rules *rules)
{
	struct pollers *set = xcalloc(1, sizeof *set);

	set->base = base;
	set->http = http;
	set->store = store;
	set->rules = rules;
	set->once_ev = event_new(base, -1, 0, once_check_cb, set);
	return set;
}

void
pollers_free(struct pollers *set)
{
	if (set == NULL)
		return;
	pollers_clear(set);
	strlist_clear(&set->single_keys);
	buf_free(&set->cycle_failures);
	event_free(set->once_ev);
	for (size_t i = 0; i < set->nbudgets; i++) {
		rate_window_free(&set->budgets[i]->w);
		free(set->budgets[i]->key);
		free(set->budgets[i]);
	}
	free(set->budgets);
	free(set);
}

/* The Log Analytics requests per 30 s that a configuration's enabled
 * rules ask for: one poller per (tenant, signal), at its rules' shortest
 * frequency. */
double
pollers_la_requests_per_30s(const struct config *c)
{
	double per30 = 0;

	/* One query per tenant (every signal in it) at the shortest
	 * frequency of its rules. */
	for (size_t t = 0; t < c->ntenants; t++) {
		int64_t freq = 0;

		for (size_t r = 0; r < c->nrules; r++) {
			const struct rule_config *rule = &c->rules[r];

			if (!rule->enabled ||
			    rule->source != SOURCE_LOG_ANALYTICS ||
			    !rule_has_tenant(rule, c->tenants[t].name))
				continue;
			if (freq == 0 || rule->frequency < freq)
				freq = rule->frequency;
		}
		if (freq > 0)
			per30 += 30.0 / (double)freq;
	}
	return per30;
}

/* The Graph requests per 10 s that the enabled rules ask of one tenant:
 * one poller per signal, at its rules' shortest frequency, one request
 * per poll (more with several pages or one request per account). */
double
pollers_graph_requests_per_10s(const struct config *c,
    const struct tenant_config *t)
{
	double per10 = 0;

	for (int sig = 0; sig < SIGNAL_COUNT; sig++) {
		int64_t freq = 0;

		for (size_t r = 0; r < c->nrules; r++) {
			const struct rule_config *rule = &c->rules[r];

			if (!rule->enabled || rule->source != SOURCE_GRAPH ||
			    (int)rule->signal != sig ||
			    !rule_has_tenant(rule, t->name))
				continue;
			if (freq == 0 || rule->frequency < freq)
				freq = rule->frequency;
		}
		if (freq > 0)
			per10 += 10.0 / (double)freq;
	}
	return per10;
}

/* Graph: per tenant, stretch its pollers evenly to fit 5 requests per
 * 10 s; then per app, stretch every tenant of the app to fit 122. The
 * limiters hold the line whatever happens (pages, fallback); this keeps
 * the polls evenly spread instead of queueing behind them. */
static void
pollers_fit_graph_budget(struct pollers *set)
{
	const struct config *c = set->config;
	double *rate = xcalloc(c->ntenants + 1, sizeof *rate);

	for (size_t t = 0; t < c->ntenants; t++) {
		const struct tenant_config *tc = &c->tenants[t];
		double per10 = pollers_graph_requests_per_10s(c, tc), factor;

		rate[t] = per10;
		if (per10 <= GRAPH_REQUESTS_PER_10S)
			continue;
		factor = per10 / GRAPH_REQUESTS_PER_10S;
		rate[t] = GRAPH_REQUESTS_PER_10S;
		log_warnx("tenant %s: the rules' frequencies need %.1f Graph "
		    "requests per 10 s, more than the %d allowed: polling "
		    "Graph %.2f times less often", tc->name, per10,
		    GRAPH_REQUESTS_PER_10S, factor);
		for (size_t i = 0; i < set->n; i++)
			if (set->v[i]->src->kind == SOURCE_GRAPH &&
			    set->v[i]->tenant == tc)
				set->v[i]->frequency_us = (int64_t)
				    ((double)set->v[i]->frequency_us * factor +
				    1);
	}
	for (size_t t = 0; t < c->ntenants; t++) {
		const char *app = tenant_app(&c->tenants[t]);
		double per10 = 0, factor;
		int first = 1;

		for (size_t u = 0; u < c->ntenants; u++) {
			if (strcasecmp(tenant_app(&c->tenants[u]), app) != 0)
				continue;
			if (u < t)
				first = 0;
			per10 += rate[u];
		}
		if (!first || per10 <= GRAPH_APP_REQUESTS_PER_10S)
			continue;
		factor = per10 / GRAPH_APP_REQUESTS_PER_10S;
		log_warnx("app %s: the rules' frequencies need %.1f Graph "
		    "requests per 10 s across its tenants, more than the %d "
		    "allowed: polling Graph %.2f times less often", app, per10,
		    GRAPH_APP_REQUESTS_PER_10S, factor);
		for (size_t i = 0; i < set->n; i++)
			if (set->v[i]->src->kind == SOURCE_GRAPH &&
			    strcasecmp(tenant_app(set->v[i]->tenant), app) == 0)
				set->v[i]->frequency_us = (int64_t)
				    ((double)set->v[i]->frequency_us * factor +
				    1);
	}
	free(rate);
}

/* Keep the whole daemon inside Log Analytics' request budget: when the
 * frequencies ask for more, stretch them all by the same factor. */
static void
pollers_fit_budget(struct pollers *set)
{
	double per30 = pollers_la_requests_per_30s(set->config), factor;

	if (per30 <= LA_REQUESTS_PER_30S)
		return;
	factor = per30 / LA_REQUESTS_PER_30S;
	log_warnx("the rules' frequencies need %.0f Log Analytics requests "
	    "per 30 s, more than the %d allowed: polling %.2f times less "
	    "often", per30, LA_REQUESTS_PER_30S, factor);
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i]->src->kind == SOURCE_LOG_ANALYTICS)
			set->v[i]->frequency_us = (int64_t)
			    ((double)set->v[i]->frequency_us * factor + 1);
}

static void
pollers_reads_save(struct pollers *set)
{
	strlist_clear(&set->read_keys);
	free(set->read_us);
	set->read_us = xcalloc(set->n + 1, sizeof *set->read_us);
	for (size_t i = 0; i < set->n; i++) {
		set->read_us[set->read_keys.n] = set->v[i]->last_ok_us;
		strlist_add(&set->read_keys, set->v[i]->key);
	}
}

static void
pollers_reads_restore(struct pollers *set)
{
	for (size_t i = 0; i < set->n; i++)
		for (size_t j = 0; j < set->read_keys.n; j++)
			if (strcmp(set->v[i]->key, set->read_keys.v[j]) == 0)
				set->v[i]->last_ok_us = set->read_us[j];
	strlist_clear(&set->read_keys);
	free(set->read_us);
	set->read_us = NULL;
}

void
pollers_set_config(struct pollers *set, const struct config *c)
{
	pollers_reads_save(set);
	pollers_clear(set);
	set->config = c;
	set->stopped = 0;
	buf_reset(&set->cycle_failures);
	for (size_t r = 0; r < c->nrules; r++) {
		const struct rule_config *rule = &c->rules[r];
		const struct source_ops *src;

		if (!rule->enabled)
			continue;
		if ((src = source_find(rule->source)) == NULL ||
		    !src->supports(rule->signal)) {
			log_warnx("rule %s: source %s cannot read %s in this "
			    "build", rule->name, source_kind_name(rule->source),
			    signal_name(rule->signal));
			continue;
		}
		for (size_t t = 0; t < c->ntenants; t++) {
			const struct tenant_config *tc = &c->tenants[t];
			struct poller *p;

			if (!rule_has_tenant(rule, tc->name))
				continue;
			p = pollers_find(set, tc, rule->source, rule->signal);
			if (p != NULL) {
				if (rule->frequency * USEC_PER_SEC <
				    p->frequency_us)
					p->frequency_us = rule->frequency *
					    USEC_PER_SEC;
				if (p->keys[rule->signal] == NULL) {
					p->signals |= SIGNAL_BIT(rule->signal);
					p->keys[rule->signal] = poller_key(
					    tc->name, src->name,
					    signal_name(rule->signal));
					poller_name(p);
				}
				continue;
			}
			p = xcalloc(1, sizeof *p);
			p->set = set;
			p->tenant = tc;
			p->src = src;
			p->signal = rule->signal;
			p->signals = SIGNAL_BIT(rule->signal);
			p->frequency_us = rule->frequency * USEC_PER_SEC;
			p->keys[rule->signal] = poller_key(tc->name, src->name,
			    signal_name(rule->signal));
			poller_name(p);
			p->auth = pollers_auth(set, tc, src->scope(tc));
			p->timer = evtimer_new(set->base, poll_start_cb, p);
			if (src->kind == SOURCE_GRAPH) {
				char *k = xasprintf("%s/%s", tenant_app(tc),
				    tc->tenant_id);

				p->tenant_budget = pollers_budget(set, k,
				    GRAPH_REQUESTS_PER_10S);
				p->app_budget = pollers_budget(set,
				    tenant_app(tc), GRAPH_APP_REQUESTS_PER_10S);
				p->budget_timer = evtimer_new(set->base,
				    budget_timer_cb, p);
				p->single = strlist_contains(&set->single_keys,
				    p->key);
				free(k);
			}
			set->v = xreallocarray(set->v, set->n + 1,
			    sizeof *set->v);
			set->v[set->n++] = p;
		}
	}
	pollers_fit_budget(set);
	pollers_fit_graph_budget(set);
	pollers_reads_restore(set);
	for (size_t i = 0; i < set->n; i++) {
		log_info("poller %s: every %.1fs", set->v[i]->key,
		    (double)set->v[i]->frequency_us / (double)USEC_PER_SEC);
		if (!set->once)
			poller_schedule(set->v[i], 0);
	}
}

void
pollers_run_once(struct pollers *set, int64_t retry_for,
    void (*done)(int, void *), void *arg)
{
	set->once = 1;
	set->once_ok = 1;
	set->once_cb = done;
	set->once_arg = arg;
	set->once_deadline_us = time_now_us() + retry_for * USEC_PER_SEC;
	for (size_t i = 0; i < set->n; i++) {
		set->v[i]->once_done = 0;
		poller_schedule(set->v[i], 0);
	}
	once_maybe_done(set);
}

void
pollers_stop(struct pollers *set)
{
	set->stopped = 1;
	for (size_t i = 0; i < set->n; i++) {
		struct poller *p = set->v[i];

		evtimer_del(p->timer);
		if (p->budget_timer != NULL)
			evtimer_del(p->budget_timer);
		if (p->wait != NULL) {
			auth_cancel(p->wait);
			p->wait = NULL;
		}
		if (p->call != NULL) {
			http_call_cancel(p->call);
			p->call = NULL;
			if (p->counts_la) {
				set->la_inflight--;
				p->counts_la = 0;
			}
		}
		p->running = 0;
	}
}

void
pollers_on_cycle(struct pollers *set, void (*cb)(int, const char *, void *),
    void *arg)
{
	set->cycle_cb = cb;
	set->cycle_arg = arg;
}

void
pollers_set_health(struct pollers *set, struct health *h)
{
	set->health = h;
}

void
pollers_status(const struct pollers *set, int64_t *last_ok_us,
    size_t *failing)
{
	*last_ok_us = 0;
	*failing = 0;
	for (size_t i = 0; i < set->n; i++) {
		if (set->v[i]->last_ok_us > *last_ok_us)
			*last_ok_us = set->v[i]->last_ok_us;
		if (set->v[i]->failures > 0)
			(*failing)++;
	}
}

size_t
pollers_count(const struct pollers *set)
{
	return set->n;
}

size_t
pollers_stale(const struct pollers *set, int64_t now_us, struct buf *why)
{
	size_t n = 0;

	for (size_t i = 0; i < set->n; i++) {
		const struct poller *p = set->v[i];
		char age[32];

		if (p->last_ok_us != 0 &&
		    now_us - p->last_ok_us <= 2 * p->frequency_us)
			continue;
		if (p->last_ok_us == 0)
			snprintf(age, sizeof age, "not read yet");
		else
			snprintf(age, sizeof age, "last read %llds ago",
			    (long long)((now_us - p->last_ok_us) /
			    USEC_PER_SEC));
		buf_printf(why, "%s: %s (every %llds)\n", p->key, age,
		    (long long)(p->frequency_us / USEC_PER_SEC));
		n++;
	}
	return n;
}
