/*
 * The backfill benchmark: a Log Analytics answer of a first start (the
 * whole lookback) read, stored and evaluated by the daemon's own code:
 * the source's parser, the SQLite store and the rule engine, against a
 * fresh state directory. No network and no loop: alerts stay pending in
 * the outbox, which is what a first poll leaves before delivering.
 *
 *   gw-bench-backfill --request CONFIG      the first poll's request body
 *   gw-bench-backfill CONFIG RESPONSE       parse, store, evaluate; timings
 *                                           as one JSON object on stdout
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "notifier.h"
#include "outbox.h"
#include "record.h"
#include "rules.h"
#include "source.h"
#include "store.h"
#include "timeutil.h"
#include "xmalloc.h"

/* Process CPU time in seconds (user + system). */
static double
bench_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
bench_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
bench_slurp(const char *path, size_t *len)
{
	FILE *f;
	struct buf b;
	char chunk[65536];
	size_t n;

	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		exit(1);
	}
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	*len = b.len;
	return buf_steal(&b);
}

static struct config *
bench_config(const char *path)
{
	struct config_errors errs = { 0 };
	struct config *c;

	if ((c = config_load(path, &errs)) == NULL) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.v[i]);
		exit(1);
	}
	return c;
}

static void
bench_ctx(const struct config *c, struct source_ctx *ctx)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->tenant = &c->tenants[0];
	ctx->signal = SIGNAL_SIGN_IN;
	ctx->now_us = time_now_us();
	ctx->cursor_us = ctx->now_us -
	    c->tenants[0].log_analytics.lookback * USEC_PER_SEC;
}

static int
bench_request(const char *cfgpath)
{
	struct config *c = bench_config(cfgpath);
	struct source_ctx ctx;
	struct source_req req = { 0 };
	char *err = NULL;

	bench_ctx(c, &ctx);
	if (source_loganalytics_ops.build(&ctx, &req, &err) == -1) {
		fprintf(stderr, "build: %s\n", err);
		return 1;
	}
	printf("%s\n", req.body);
	source_req_clear(&req);
	config_free(c);
	return 0;
}

static int
bench_backfill(const char *cfgpath, const char *resppath)
{
	struct config *c = bench_config(cfgpath);
	struct notifier **nv;
	struct notifier_env env = { 0 };
	struct event_base *base;
	struct store *st;
	struct outbox *ob;
	struct rules *rules;
	struct source_ctx ctx;
	struct record_list recs;
	struct page_info info;
	struct rusage ru;
	char *body, *err = NULL;
	size_t len, nnew = 0;
	double c0, w0, c1, w1, c2, w2, c3, w3;
	int alerts;

	mkdir(c->state_dir, 0700);
	if (store_open(c->state_dir, 0, &st, &err) == -1) {
		fprintf(stderr, "store: %s\n", err);
		return 1;
	}
	base = event_base_new();
	ob = outbox_new(base, st);
	env.base = base;
	env.config = c;
	nv = xcalloc(c->nnotifiers, sizeof *nv);
	for (size_t i = 0; i < c->nnotifiers; i++)
		if ((nv[i] = notifier_new(&c->notifiers[i], &env, &err)) ==
		    NULL) {
			fprintf(stderr, "notifier: %s\n", err);
			return 1;
		}
	outbox_set_notifiers(ob, nv, c->nnotifiers);
	rules = rules_new(base, st, ob);
	rules_set_config(rules, c);
	body = bench_slurp(resppath, &len);
	bench_ctx(c, &ctx);
	record_list_init(&recs);
	memset(&info, 0, sizeof info);

	c0 = bench_cpu();
	w0 = bench_wall();
	if (source_loganalytics_ops.parse(&ctx, body, len, &recs, &info,
	    &err) == -1) {
		fprintf(stderr, "parse: %s\n", err);
		return 1;
	}
	c1 = bench_cpu();
	w1 = bench_wall();
	/* As the poller stores a page: one transaction. */
	if (store_begin(st) == -1)
		return 1;
	for (size_t i = 0; i < recs.n; i++) {
		int rc;

		recs.v[i]->received_us = time_now_us();
		if ((rc = store_record_insert(st, recs.v[i])) == -1)
			return 1;
		nnew += (size_t)rc;
	}
	if (store_commit(st) == -1)
		return 1;
	c2 = bench_cpu();
	w2 = bench_wall();
	if ((alerts = rules_evaluate(rules, ctx.tenant->name)) == -1) {
		fprintf(stderr, "rules_evaluate failed\n");
		return 1;
	}
	c3 = bench_cpu();
	w3 = bench_wall();
	getrusage(RUSAGE_SELF, &ru);
	printf("{\"bytes\": %zu, \"rows\": %zu, \"records\": %zu, "
	    "\"stored\": %zu, \"alerts\": %d, "
	    "\"parse_cpu\": %.4f, \"store_cpu\": %.4f, \"eval_cpu\": %.4f, "
	    "\"cpu\": %.4f, \"wall\": %.4f, \"maxrss_kib\": %ld}\n",
	    len, info.rows, recs.n, nnew, alerts, c1 - c0, c2 - c1, c3 - c2,
	    c3 - c0, w3 - w0, ru.ru_maxrss);
	(void)w1;
	(void)w2;

	record_list_clear(&recs);
	page_info_clear(&info);
	free(body);
	rules_free(rules);
	outbox_free(ob);
	for (size_t i = 0; i < c->nnotifiers; i++)
		notifier_unref(nv[i]);
	free(nv);
	store_close(st);
	event_base_free(base);
	config_free(c);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--request") == 0)
		return bench_request(argv[2]);
	if (argc == 3)
		return bench_backfill(argv[1], argv[2]);
	fprintf(stderr, "usage: gw-bench-backfill --request CONFIG\n"
	    "       gw-bench-backfill CONFIG RESPONSE\n");
	return 64;
}
