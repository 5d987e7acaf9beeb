/*
 * The log-pipeline check: one union of "take 1" legs, one per table.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "la-table.h"
#include "log.h"
#include "record.h"
#include "silence.h"
#include "source.h"
#include "timeutil.h"
#include "xmalloc.h"

#define SILENCE_MIN_EVERY	1
#define SILENCE_MAX_EVERY	(15 * 60)

int64_t
silence_every(int64_t silent_after)
{
	int64_t every = silent_after / 4;

	if (every < SILENCE_MIN_EVERY)
		every = SILENCE_MIN_EVERY;
	if (every > SILENCE_MAX_EVERY)
		every = SILENCE_MAX_EVERY;
	return every;
}

int
silence_build(const struct tenant_config *t, unsigned signals,
    int64_t now_us, struct source_req *req, char **err)
{
	const char *endpoint = t->endpoints.log_analytics, *table;
	char since[TIME_ISO_LEN], *timespan, *body;
	struct buf q;
	size_t elen;
	json_t *o;
	int n = 0;

	memset(req, 0, sizeof *req);
	if (!t->log_analytics.enabled || endpoint == NULL ||
	    t->log_analytics.workspace_id == NULL) {
		*err = xasprintf("tenant %s has no log_analytics workspace",
		    t->name);
		return -1;
	}
	time_format_iso8601(now_us - t->silent_after * USEC_PER_SEC, since);
	buf_init(&q);
	buf_puts(&q, "union\n");
	for (int s = 0; s < SIGNAL_COUNT; s++) {
		if ((signals & SIGNAL_BIT(s)) == 0 ||
		    (table = source_la_table((enum signal)s)) == NULL)
			continue;
		/* No user filter: any row at all says the export works. */
		buf_printf(&q, "%s(%s | where ingestion_time() > datetime(%s) "
		    "| take 1 | extend GwSignal = \"%s\" | project GwSignal)",
		    n++ > 0 ? ",\n" : "", table, since,
		    signal_name((enum signal)s));
	}
	if (n == 0) {
		buf_free(&q);
		*err = xstrdup("no Log Analytics table to check");
		return -1;
	}
	timespan = xasprintf("PT%lldS", (long long)t->silent_after + 300);
	if ((o = json_pack("{s:s, s:s}", "query", buf_cstr(&q), "timespan",
	    timespan)) == NULL || (body = json_dumps(o, JSON_COMPACT)) == NULL)
		fatalx("%s: json", __func__);
	json_decref(o);
	free(timespan);
	buf_free(&q);

	elen = strlen(endpoint);
	while (elen > 0 && endpoint[elen - 1] == '/')
		elen--;
	req->method = xstrdup("POST");
	req->url = xasprintf("%.*s/v1/workspaces/%s/query", (int)elen,
	    endpoint, t->log_analytics.workspace_id);
	req->body = body;
	req->content_type = xstrdup("application/json");
	return 0;
}

int
silence_parse(const char *body, size_t len, unsigned *alive, char **err)
{
	struct la_table t;
	enum signal s;
	const char *name;
	int col;

	*alive = 0;
	memset(&t, 0, sizeof t);
	if (la_table_parse(body, len, &t, err) != 0) {
		la_table_free(&t);
		return -1;
	}
	if (t.partial) {
		*err = xstrdup("incomplete result (PartialError)");
		la_table_free(&t);
		return -1;
	}
	col = la_table_column(&t, "GwSignal");
	for (size_t i = 0; i < t.nrows && col != -1; i++)
		if ((name = la_table_string(&t, i, col)) != NULL &&
		    signal_from_name(name, &s) == 0)
			*alive |= SIGNAL_BIT(s);
	la_table_free(&t);
	return 0;
}
