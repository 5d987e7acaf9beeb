/* Metrics: a registry of counters, gauges and histograms keyed by label
 * values, rendered in the Prometheus text exposition format 0.0.4
 * (metrics.c); and what glasswatchd counts, as one-line calls for the
 * modules where things happen (metrics-events.c), kept in one registry
 * for the life of the process so that reloads never reset them. */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct alert;
struct buf;
struct metrics;
struct metric_family;

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM
};

struct metrics	*metrics_new(void);
void		 metrics_free(struct metrics *);
/* A family: name, help text, label names (NULL-ended, may be NULL for
 * none) and for a histogram its upper bounds, ascending (+Inf is
 * implied). Asking again for a name returns the family made first. */
struct metric_family *metrics_family(struct metrics *, enum metric_type,
		    const char *name, const char *help,
		    const char *const *labels, const double *bounds,
		    size_t nbounds);
struct metric_family *metrics_find(struct metrics *, const char *name);
/* values: one per label name (NULL counts as ""). add: counters and
 * gauges; set: gauges; observe: histograms. */
void	metrics_add(struct metric_family *, const char *const *values,
	    double);
void	metrics_set(struct metric_family *, const char *const *values,
	    double);
void	metrics_observe(struct metric_family *, const char *const *values,
	    double);
/* The value of one series (counter or gauge; a histogram's count), 0
 * when it has none yet. */
double	metrics_value(struct metric_family *, const char *const *values);
/* Drop every series of a family (gauges refilled at each scrape). */
void	metrics_clear(struct metric_family *);
/* The whole registry in the text format, appended to out. */
void	metrics_render(struct metrics *, struct buf *out);
/* A label value or HELP text escaped for the text format. */
void	metrics_escape(struct buf *, const char *, int label_value);

/* --- what glasswatchd counts (metrics-events.c) --------------------- */

/* The process's registry, made with every glasswatch_ family on first
 * use; metrics_process_free at exit. */
struct metrics	*metrics_process(void);
void		 metrics_process_free(void);

/* A poll of a tenant's source ended, for each signal of the mask
 * (SIGNAL_BIT). */
void	metrics_poll(const char *tenant, const char *source,
	    unsigned signals, int ok, int64_t now_us);
/* n new records were stored for a (tenant, source, signal). */
void	metrics_records_seen(const char *tenant, const char *source,
	    const char *signal, size_t n);
/* An alert was committed (rule alerts) or queued (system alerts). */
void	metrics_alert(const struct alert *);
/* A delivery reached a final or retry state; delivered ones also feed
 * the detection latency (the alert's earliest record -> now). state is
 * an enum delivery_state. */
void	metrics_delivery(const char *notifier, int state,
	    const struct alert *, int64_t now_us);
/* A token request ended. */
void	metrics_token(const char *tenant, const char *scope, int ok);
/* At scrape time: glasswatch_deliveries_pending from the store, for
 * every configured notifier and any other the store still has rows for. */
struct config;
struct store;
void	metrics_collect_pending(struct metrics *, struct store *,
	    const struct config *);

#endif
