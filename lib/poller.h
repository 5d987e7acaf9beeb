/* Pollers: one per (tenant, source, signal) that an enabled rule needs
 * (DESIGN.md "Pollers and cursors"). Each owns a cursor in the store, runs
 * on a libevent timer at the shortest frequency of its rules, fetches a
 * token, queries, stores the page's records together with the advanced
 * cursor in one transaction, then asks the rules to evaluate. */
#ifndef GW_POLLER_H
#define GW_POLLER_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct event_base;
struct health;
struct http_engine;
struct pollers;
struct rules;
struct store;

struct pollers	*pollers_new(struct event_base *, struct http_engine *,
		    struct store *, struct rules *);
void		 pollers_free(struct pollers *);
/* Start, or replace after a reload: in-flight polls of the old set are
 * cancelled (their cursors never moved, so nothing is lost) and the new
 * set polls at once. */
void		 pollers_set_config(struct pollers *, const struct config *);
/* --once: poll every poller once, retrying a failing one for up to
 * retry_for seconds; done(ok, arg) runs when all have finished. */
void		 pollers_run_once(struct pollers *, int64_t retry_for,
		     void (*done)(int ok, void *), void *arg);
/* Stop polling (shutdown). */
void		 pollers_stop(struct pollers *);
size_t		 pollers_count(const struct pollers *);
/* For /healthz: the pollers whose last successful read is older than
 * twice their (effective) frequency, or that have not read yet, one line
 * each appended to why; returns how many. */
struct buf;
size_t		 pollers_stale(const struct pollers *, int64_t now_us,
		     struct buf *why);
/* cb after every poll cycle (every poller ran once since the last): ok
 * when every one read; summary names the failures. */
void		 pollers_on_cycle(struct pollers *,
		     void (*cb)(int ok, const char *summary, void *), void *);
/* Where poll outcomes are reported for blind-source alerts (health.h);
 * NULL: nowhere. */
void		 pollers_set_health(struct pollers *, struct health *);
/* For systemd's STATUS=: the newest successful poll (wall time, 0 when
 * none yet) and how many pollers are failing now. */
void		 pollers_status(const struct pollers *, int64_t *last_ok_us,
		     size_t *failing);

/* Log Analytics allows 200 requests per 30 s per identity; the daemon
 * stretches every frequency evenly when its rules ask for more. */
#define LA_REQUESTS_PER_30S	200
double		 pollers_la_requests_per_30s(const struct config *);

/* Graph allows 5 requests per 10 s per (app, tenant) and about 122 per
 * 10 s per app (API-FACTS 3); the daemon keeps within both, and
 * stretches a tenant's Graph frequencies evenly when its rules ask for
 * more. */
#define GRAPH_REQUESTS_PER_10S		5
#define GRAPH_APP_REQUESTS_PER_10S	122
struct tenant_config;
double		 pollers_graph_requests_per_10s(const struct config *,
		     const struct tenant_config *);

/* The Graph windows of the tenant (per app and tenant) and of its app,
 * for other Graph readers of the daemon (the posture checks) to count
 * against too. They live as long as the pollers. */
struct rate_window;
void		 pollers_graph_budgets(struct pollers *,
		     const struct tenant_config *, struct rate_window **tenant,
		     struct rate_window **app);

/* The poller key of the store: "tenant/source/signal". Caller frees. */
char		*poller_key(const char *tenant, const char *source,
		    const char *signal);

#endif
