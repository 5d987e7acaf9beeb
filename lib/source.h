/* A source turns a poll window into requests and response pages into
 * normalised records (STYLE.md: plugins classify, the core decides). The
 * poller owns timers, tokens, retries, cursors and storage. */
#ifndef GW_SOURCE_H
#define GW_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "record.h"

#define SIGNAL_BIT(s)	(1u << (unsigned)(s))

struct source_ctx {
	const struct tenant_config	*tenant;
	enum signal			 signal;
	int64_t				 cursor_us;	/* ingestion cursor */
	int64_t				 now_us;
	/* Log Analytics reads several signals of a tenant in one query (a
	 * KQL union): their SIGNAL_BITs, and each one's cursor. 0 reads
	 * signal alone, from cursor_us. */
	unsigned			 together;
	int64_t				 cursors_us[SIGNAL_COUNT];
};

struct source_req {
	char	*method;	/* "POST" */
	char	*url;
	char	*body;		/* NULL for GET */
	char	*content_type;	/* of the body */
};

struct page_info {
	int	 partial;	/* results possibly incomplete: keep cursor */
	char	*partial_why;	/* the service's message, for the log */
	char	*next_url;	/* another page to fetch, or NULL */
	int64_t	 max_ingest_us;	/* largest ingestion time on the page; 0 */
	/* The same per signal (a union query advances each cursor on its
	 * own rows). */
	int64_t	 signal_max_ingest_us[SIGNAL_COUNT];
	size_t	 rows;		/* rows on the page, break-glass or not */
};

struct source_ops {
	enum source_kind	 kind;
	const char		*name;		/* "log_analytics" */
	/* Which signals this source can read. */
	int	(*supports)(enum signal);
	/* The token scope for the tenant. */
	const char *(*scope)(const struct tenant_config *);
	/* The first request of a poll. Returns 0 or -1 with *err. */
	int	(*build)(const struct source_ctx *, struct source_req *,
		    char **err);
	/* Parses a 200 body into records (only of the tenant's break-glass
	 * accounts; the tenant and signal fields set). 0, or -1 with *err
	 * naming what is wrong; on -1 nothing is added to out. */
	int	(*parse)(const struct source_ctx *, const char *body,
		    size_t len, struct record_list *out, struct page_info *,
		    char **err);
};

extern const struct source_ops source_loganalytics_ops;
extern const struct source_ops source_graph_ops;

const struct source_ops	*source_find(enum source_kind);
/* The Log Analytics table a signal is read from; NULL if none. */
const char		*source_la_table(enum signal);
void			 source_req_clear(struct source_req *);
void			 page_info_clear(struct page_info *);

#endif
