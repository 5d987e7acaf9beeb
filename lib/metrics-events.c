/*
 * What glasswatchd counts: the glasswatch_ families (README "Metrics"),
 * made together so that a scrape lists every one from the start, and the
 * one-line calls the poller, auth, rules and outbox make. The registry
 * lives for the process: a reload swaps the configuration, never these.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alert.h"
#include "config.h"
#include "metrics.h"
#include "record.h"
#include "source.h"
#include "store.h"
#include "strlist.h"
#include "timeutil.h"

/* Detection latency: a sign-in is known seconds to minutes after it
 * happened (Log Analytics ingestion), an hour is far too late. */
static const double latency_bounds[] = {
	1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600
};

static const char *const l_poller[] = { "tenant", "source", "signal", NULL };
static const char *const l_notifier[] = { "notifier", NULL };

static struct metrics *process_metrics;

static struct metric_family *f_polls, *f_poll_failures, *f_last_ok;
static struct metric_family *f_records, *f_alerts, *f_sysalerts;
static struct metric_family *f_deliveries, *f_retries, *f_latency;
static struct metric_family *f_tokens, *f_token_failures;

static const char *const l_version[] = { "version", NULL };
static const char *const l_alert[] = { "rule", "kind", "severity", NULL };
static const char *const l_sys[] = { "kind", "severity", NULL };
static const char *const l_delivery[] = { "notifier", "state", NULL };
static const char *const l_token[] = { "tenant", "scope", NULL };

/* Every family, in the order a scrape lists them (README "Metrics"). */
static const struct {
	struct metric_family	**f;
	enum metric_type	  type;
	const char		 *name;
	const char		 *help;
	const char *const	 *labels;
} families[] = {
	{ NULL, METRIC_GAUGE, "glasswatch_build_info",
	  "The running glasswatchd version (always 1).", l_version },
	{ NULL, METRIC_GAUGE, "glasswatch_start_time_seconds",
	  "When glasswatchd started, in seconds since the Unix epoch.", NULL },
	{ &f_polls, METRIC_COUNTER, "glasswatch_polls_total",
	  "Polls of a source for a signal that ended, read or not.",
	  l_poller },
	{ &f_poll_failures, METRIC_COUNTER, "glasswatch_poll_failures_total",
	  "Polls that could not read the source (token, HTTP, parse or store "
	  "failure, or an incomplete result).", l_poller },
	{ &f_last_ok, METRIC_GAUGE,
	  "glasswatch_last_successful_poll_timestamp_seconds",
	  "When the last poll that read the source ended, in seconds since "
	  "the Unix epoch.", l_poller },
	{ &f_records, METRIC_COUNTER, "glasswatch_records_seen_total",
	  "Records stored for the first time (rows already stored are not "
	  "counted again).", l_poller },
	{ &f_alerts, METRIC_COUNTER, "glasswatch_alerts_total",
	  "Rule alerts committed to the outbox, by rule, kind (event, digest, "
	  "absence) and severity (0-4).", l_alert },
	{ &f_sysalerts, METRIC_COUNTER, "glasswatch_system_alerts_total",
	  "System alerts (glasswatchd about itself) queued, by kind and "
	  "severity.", l_sys },
	{ &f_deliveries, METRIC_COUNTER, "glasswatch_deliveries_total",
	  "Deliveries that ended: delivered, failed (refused for good) or "
	  "expired.", l_delivery },
	{ &f_retries, METRIC_COUNTER, "glasswatch_delivery_retries_total",
	  "Delivery attempts that failed and will be retried.", l_notifier },
	{ NULL, METRIC_GAUGE, "glasswatch_deliveries_pending",
	  "Deliveries waiting in the outbox (pending or being sent), read "
	  "from the store at scrape time.", l_notifier },
	{ &f_tokens, METRIC_COUNTER, "glasswatch_token_refreshes_total",
	  "Access token requests (a new or renewed token), successful or "
	  "not.", l_token },
	{ &f_token_failures, METRIC_COUNTER,
	  "glasswatch_token_refresh_failures_total",
	  "Access token requests that failed.", l_token },
	{ &f_latency, METRIC_HISTOGRAM, "glasswatch_detection_latency_seconds",
	  "From the event time of an alert's earliest record to its delivery "
	  "being accepted by the notifier.", l_notifier },
};

static void
metrics_process_make(struct metrics *m)
{
	const char *version[] = { GLASSWATCH_VERSION };

	/* The bounds are read by the histogram only. */
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
		struct metric_family *f = metrics_family(m, families[i].type,
		    families[i].name, families[i].help, families[i].labels,
		    latency_bounds,
		    sizeof latency_bounds / sizeof latency_bounds[0]);

		if (families[i].f != NULL)
			*families[i].f = f;
	}
	metrics_set(metrics_find(m, "glasswatch_build_info"), version, 1);
	metrics_set(metrics_find(m, "glasswatch_start_time_seconds"), NULL,
	    (double)time_now_us() / USEC_PER_SEC);
}

struct metrics *
metrics_process(void)
{
	if (process_metrics == NULL) {
		process_metrics = metrics_new();
		metrics_process_make(process_metrics);
	}
	return process_metrics;
}

void
metrics_process_free(void)
{
	metrics_free(process_metrics);
	process_metrics = NULL;
}

void
metrics_poll(const char *tenant, const char *source, unsigned signals,
    int ok, int64_t now_us)
{
	(void)metrics_process();
	for (int s = 0; s < SIGNAL_COUNT; s++) {
		const char *v[] = { tenant, source,
		    signal_name((enum signal)s) };

		if (!(signals & SIGNAL_BIT(s)))
			continue;
		metrics_add(f_polls, v, 1);
		if (ok)
			metrics_set(f_last_ok, v, (double)now_us /
			    USEC_PER_SEC);
		else
			metrics_add(f_poll_failures, v, 1);
	}
}

void
metrics_records_seen(const char *tenant, const char *source,
    const char *signal, size_t n)
{
	const char *v[] = { tenant, source, signal };

	(void)metrics_process();
	metrics_add(f_records, v, (double)n);
}

void
metrics_alert(const struct alert *a)
{
	char sev[16];

	(void)metrics_process();
	snprintf(sev, sizeof sev, "%d", a->severity);
	if (a->kind == ALERT_SYSTEM) {
		const char *v[] = { a->topic != NULL ? a->topic : "other", sev };

		metrics_add(f_sysalerts, v, 1);
	} else {
		const char *v[] = { a->rule, alert_kind_name(a->kind), sev };

		metrics_add(f_alerts, v, 1);
	}
}

void
metrics_delivery(const char *notifier, int state, const struct alert *a,
    int64_t now_us)
{
	const char *v[] = { notifier, NULL };
	int64_t first = 0;

	(void)metrics_process();
	switch (state) {
	case DELIVERY_PENDING:
		metrics_add(f_retries, v, 1);
		return;
	case DELIVERY_DELIVERED:
	case DELIVERY_FAILED:
	case DELIVERY_EXPIRED:
		v[1] = delivery_state_name((enum delivery_state)state);
		metrics_add(f_deliveries, v, 1);
		break;
	default:
		return;
	}
	if (state != DELIVERY_DELIVERED || a == NULL)
		return;
	for (size_t i = 0; i < a->nrecords; i++)
		if (a->records[i]->event_us > 0 &&
		    (first == 0 || a->records[i]->event_us < first))
			first = a->records[i]->event_us;
	if (first > 0)
		metrics_observe(f_latency, v, first < now_us ?
		    (double)(now_us - first) / USEC_PER_SEC : 0);
}

void
metrics_token(const char *tenant, const char *scope, int ok)
{
	const char *v[] = { tenant, scope };

	(void)metrics_process();
	metrics_add(f_tokens, v, 1);
	if (!ok)
		metrics_add(f_token_failures, v, 1);
}

static double
pending_of(struct store *st, const char *notifier)
{
	long pending = 0, sending = 0;

	if (store_delivery_count(st, notifier, DELIVERY_PENDING,
	    &pending) == -1 || store_delivery_count(st, notifier,
	    DELIVERY_SENDING, &sending) == -1)
		return (double)NAN;
	return (double)(pending + sending);
}

void
metrics_collect_pending(struct metrics *m, struct store *st,
    const struct config *c)
{
	struct metric_family *f = metrics_find(m,
	    "glasswatch_deliveries_pending");
	struct strlist names = { NULL, 0 }, seen = { NULL, 0 };

	if (f == NULL)
		return;
	metrics_clear(f);
	for (size_t i = 0; i < c->nnotifiers; i++)
		strlist_add(&names, c->notifiers[i].name);
	(void)store_delivery_notifiers(st, &names);
	for (size_t i = 0; i < names.n; i++) {
		const char *v[] = { names.v[i] };

		if (strlist_contains(&seen, names.v[i]))
			continue;
		strlist_add(&seen, names.v[i]);
		metrics_set(f, v, pending_of(st, names.v[i]));
	}
	strlist_clear(&names);
	strlist_clear(&seen);
}
