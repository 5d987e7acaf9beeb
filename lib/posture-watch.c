/*
 * Scheduled posture checks: findings into the store, drift and recovery
 * as system alerts.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "alert.h"
#include "auth.h"
#include "config.h"
#include "drill.h"
#include "log.h"
#include "poller.h"
#include "posture.h"
#include "posture-graph.h"
#include "posture-watch.h"
#include "store.h"
#include "sysalert.h"
#include "timeutil.h"
#include "xmalloc.h"

struct watch_tenant {
	struct posture_watch		*w;
	const struct tenant_config	*t;
	struct auth			*auth;
	struct posture_budget		 budget;
	struct posture_read		*read;
};

struct posture_watch {
	struct event_base	*base;
	struct http_engine	*http;
	struct store		*store;
	struct outbox		*outbox;
	struct pollers		*pollers;
	const struct config	*config;
	struct watch_tenant	*v;
	size_t			 n;
	struct event		*timer;
};

struct posture_watch *
posture_watch_new(struct event_base *base, struct http_engine *http,
    struct store *st, struct outbox *ob, struct pollers *pollers)
{
	struct posture_watch *w = xcalloc(1, sizeof *w);

	w->base = base;
	w->http = http;
	w->store = st;
	w->outbox = ob;
	w->pollers = pollers;
	return w;
}

static void
watch_clear(struct posture_watch *w)
{
	if (w->timer != NULL)
		event_free(w->timer);
	w->timer = NULL;
	for (size_t i = 0; i < w->n; i++) {
		posture_read_free(w->v[i].read);
		auth_free(w->v[i].auth);
		posture_budget_free(&w->v[i].budget);
	}
	free(w->v);
	w->v = NULL;
	w->n = 0;
}

void
posture_watch_free(struct posture_watch *w)
{
	if (w == NULL)
		return;
	watch_clear(w);
	free(w);
}

/* One finding against the one before: stored, and said when it turned. */
static void
watch_finding(struct posture_watch *w, const struct tenant_config *t,
    const struct posture_finding *f, int64_t now)
{
	const char *res = posture_result_name(f->result);
	char *prev = NULL, *title = NULL, *detail = NULL;
	int sev = -1, was_fail, was_warn;

	if (f->result == POSTURE_ERROR) {
		log_warnx("tenant %s: posture %s %s: cannot check: %s",
		    t->name, f->check, f->account, f->evidence);
		return;
	}
	if (store_posture_update(w->store, t->name, f->check, f->account,
	    res, f->evidence, now, &prev) == -1)
		return;
	was_fail = prev != NULL && strcmp(prev, "FAIL") == 0;
	was_warn = prev != NULL && strcmp(prev, "warn") == 0;
	if (f->result == POSTURE_FAIL && !was_fail) {
		if (strcmp(f->check, "ca-excluded") == 0) {
			sev = 0;
			title = xasprintf("posture: %s no longer excluded from "
			    "a Conditional Access policy", f->account);
		} else {
			sev = 1;
			title = xasprintf("posture: %s fails for %s",
			    f->check, f->account);
		}
		detail = xasprintf("The posture check %s of break-glass "
		    "account %s in tenant %s fails: %s. Until it is fixed the "
		    "account may not work when it is needed (README, "
		    "\"Posture\"); glasswatchd -c FILE --posture shows every "
		    "check.", f->check, f->account, t->name, f->evidence);
		log_crit("tenant %s: posture %s %s fails: %s", t->name,
		    f->check, f->account, f->evidence);
	} else if (f->result == POSTURE_WARN && !was_warn) {
		sev = 2;
		title = xasprintf("posture: %s warns for %s", f->check,
		    f->account);
		detail = xasprintf("Tenant %s, break-glass account %s: %s.",
		    t->name, f->account, f->evidence);
		log_warnx("tenant %s: posture %s %s: %s", t->name, f->check,
		    f->account, f->evidence);
	} else if ((was_fail || was_warn) && f->result == POSTURE_PASS) {
		sev = 3;
		title = xasprintf("posture: %s passes again for %s", f->check,
		    f->account);
		detail = xasprintf("The posture check %s of break-glass "
		    "account %s in tenant %s passes again: %s.", f->check,
		    f->account, t->name, f->evidence);
		log_notice("tenant %s: posture %s %s passes again", t->name,
		    f->check, f->account);
	}
	if (sev >= 0)
		(void)sysalert_say(w->store, w->outbox,
		    &w->config->system_actions, sev, sev == 3 ?
		    SYSALERT_POSTURE_RESTORED : sev == 2 ?
		    SYSALERT_POSTURE_WARNING : SYSALERT_POSTURE_DRIFT, title,
		    detail, t->name, t->tenant_id);
	free(title);
	free(detail);
	free(prev);
}

static void
watch_snapshot_cb(json_t *snap, void *arg)
{
	struct watch_tenant *wt = arg;
	struct posture_findings fs = { NULL, 0 };
	int64_t now = time_now_us();

	posture_read_free(wt->read);
	wt->read = NULL;
	/* On a store error the checks go on without the drills' evidence. */
	(void)drill_posture_evidence(wt->w->store, wt->t, snap,
	    now - POSTURE_SIGNIN_DAYS * 86400 * USEC_PER_SEC);
	posture_check(wt->t, snap, now, &fs);
	json_decref(snap);
	for (size_t i = 0; i < fs.n; i++)
		watch_finding(wt->w, wt->t, &fs.v[i], now);
	log_info("tenant %s: posture checked: %zu finding%s", wt->t->name,
	    fs.n, fs.n == 1 ? "" : "s");
	posture_findings_clear(&fs);
}

static void
watch_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct posture_watch *w = arg;
	const struct config *c = w->config;
	struct timeval tv = { (time_t)c->posture_every, 0 };

	(void)fd;
	(void)ev;
	for (size_t i = 0; i < w->n; i++) {
		struct watch_tenant *wt = &w->v[i];

		if (wt->read != NULL)
			continue;	/* the last run is still reading */
		wt->read = posture_read_start(w->http, wt->auth, wt->t,
		    &wt->budget, (long)(c->http_timeout * 1000),
		    (size_t)c->http_max_response, watch_snapshot_cb, wt);
	}
	evtimer_add(w->timer, &tv);
}

void
posture_watch_set_config(struct posture_watch *w, const struct config *c)
{
	watch_clear(w);
	w->config = c;
	if (c->posture_every <= 0)
		return;
	w->v = xcalloc(c->ntenants + 1, sizeof *w->v);
	for (size_t i = 0; i < c->ntenants; i++) {
		const struct tenant_config *t = &c->tenants[i];
		struct watch_tenant *wt = &w->v[w->n];
		struct rate_window *tw, *aw;

		if (t->endpoints.graph == NULL || t->scopes.graph == NULL) {
			log_warnx("tenant %s: no Graph endpoint: its posture "
			    "is not checked", t->name);
			continue;
		}
		wt->w = w;
		wt->t = t;
		wt->auth = auth_new(w->http, t, t->scopes.graph,
		    (long)(c->http_timeout * 1000));
		pollers_graph_budgets(w->pollers, t, &tw, &aw);
		posture_budget_init(&wt->budget, tw, aw);
		w->n++;
	}
	if ((w->timer = evtimer_new(w->base, watch_timer_cb, w)) == NULL)
		fatalx("cannot create the posture timer");
	event_active(w->timer, EV_TIMEOUT, 0);
}
