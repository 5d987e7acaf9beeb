/* The metrics listener: evhttp on the daemon's loop serving /metrics
 * (Prometheus text format) and /healthz; and its configuration block,
 * `metrics: { listen, allow_remote }`. */
#ifndef GW_METRICS_HTTP_H
#define GW_METRICS_HTTP_H

#include <stddef.h>

#include "cfgparse.h"

struct buf;
struct event_base;
struct metrics;
struct metrics_http;

/* The `metrics:` keys (into a struct metrics_config, config.h). */
extern const struct opt_spec metrics_opts[];

/* "127.0.0.1:9465" or "[::1]:9465": numeric host, port 1-65535. Returns
 * 0 with the host (no brackets, host_size bytes) and port, or -1 with
 * why. */
int	metrics_listen_parse(const char *text, char *host, size_t host_size,
	    int *port, char *why, size_t why_size);

struct metrics_http_env {
	struct event_base	*base;
	struct metrics		*metrics;
	/* Before each /metrics: refresh what is read at scrape time. */
	void			(*collect)(struct metrics *, void *arg);
	/* /healthz: how many sources are stale, one line each in why. */
	size_t			(*stale)(struct buf *why, void *arg);
	void			*arg;
};

struct metrics_http	*metrics_http_new(const struct metrics_http_env *);
void			 metrics_http_free(struct metrics_http *);
/* Listen on a configured address, NULL: not at all. The same address
 * keeps the socket; another one closes it and binds anew. A bind that
 * fails is logged at error and retried every METRICS_RETRY_SEC, while
 * the daemon goes on monitoring. */
#define METRICS_RETRY_SEC	30
void			 metrics_http_listen(struct metrics_http *,
			     const char *listen);

#endif
