/*
 * glasswatchd --posture (DESIGN.md "Command line contract"): the posture
 * checks of every tenant once, on an event loop of its own, as a table on
 * stdout. It takes no lock, writes neither the state store nor the outbox
 * (it only reads drill sign-ins from the store, when there is one), so it
 * runs beside the daemon. Exit 0 when every check passed
 * (warnings included), 2 when one failed or could not be checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "auth.h"
#include "config.h"
#include "daemon.h"
#include "drill.h"
#include "http.h"
#include "log.h"
#include "poller.h"
#include "posture.h"
#include "posture-graph.h"
#include "ratelimit.h"
#include "store.h"
#include "timeutil.h"
#include "xmalloc.h"

/* Beyond the reads' own timeouts and retries: a Graph that never
 * answers ends the run with every unread check an error. */
#define POSTURE_RUN_SEC		600

struct posture_tenant {
	struct posture_cli		*cli;
	const struct tenant_config	*t;
	struct auth			*auth;
	struct posture_budget		 budget;
	struct posture_read		*read;
	json_t				*snap;
	char				*why;		/* no read at all */
};

struct posture_cli {
	struct event_base	*base;
	struct posture_tenant	*v;
	size_t			 n;
	size_t			 pending;
	struct rate_window	*apps;		/* per tenant's app */
	const char		**app_ids;
	size_t			 napps;
};

static void
posture_snapshot_cb(json_t *snap, void *arg)
{
	struct posture_tenant *pt = arg;

	pt->snap = snap;
	posture_read_free(pt->read);
	pt->read = NULL;
	if (--pt->cli->pending == 0)
		event_base_loopbreak(pt->cli->base);
}

static void
posture_timeout_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	event_base_loopbreak(arg);
}

/* Graph's per-app budget, one window per app id across the tenants. */
static struct rate_window *
posture_app_window(struct posture_cli *cli, const struct tenant_config *t)
{
	const char *app = t->credentials.client_id != NULL ?
	    t->credentials.client_id : "managed-identity";

	for (size_t i = 0; i < cli->napps; i++)
		if (strcmp(cli->app_ids[i], app) == 0)
			return &cli->apps[i];
	cli->app_ids[cli->napps] = app;
	rate_window_init(&cli->apps[cli->napps], GRAPH_APP_REQUESTS_PER_10S,
	    10 * USEC_PER_SEC);
	return &cli->apps[cli->napps++];
}

/* The table: one header, then a row per finding. */
static int
posture_print(const struct posture_cli *cli, const struct config *c,
    int64_t now)
{
	struct store *st = NULL;
	char *err = NULL;
	int failed = 0;

	/* Drill sign-ins count as validation (drill.h); without a store
	 * the checks simply go without them. */
	if (store_open(c->state_dir, 1, &st, &err) == -1) {
		log_debug("posture: no drill evidence: %s", err != NULL ? err :
		    "no state store");
		free(err);
		st = NULL;
	}

	for (size_t i = 0; i < cli->n; i++) {
		const struct posture_tenant *pt = &cli->v[i];
		struct posture_findings fs = { NULL, 0 };
		json_t *empty = NULL;
		int width = 7;

		if (pt->snap == NULL) {
			empty = json_pack("{s:{}}", "errors");
			if (pt->why == NULL)
				json_object_set_new(json_object_get(empty,
				    "errors"), "policies", json_string("no "
				    "answer in time"));
		}
		if (st != NULL && pt->snap != NULL)
			(void)drill_posture_evidence(st, pt->t, pt->snap,
			    now - POSTURE_SIGNIN_DAYS * 86400 * USEC_PER_SEC);
		posture_check(pt->t, pt->snap != NULL ? pt->snap : empty, now,
		    &fs);
		json_decref(empty);
		for (size_t k = 0; k < fs.n; k++)
			if ((int)strlen(fs.v[k].account) > width)
				width = (int)strlen(fs.v[k].account);
		printf("%stenant %s (%s)\n", i > 0 ? "\n" : "", pt->t->name,
		    pt->t->tenant_id);
		if (pt->why != NULL)
			printf("  %s\n", pt->why);
		printf("%-18s  %-*s  %-6s  %s\n", "CHECK", width, "ACCOUNT",
		    "RESULT", "EVIDENCE");
		for (size_t k = 0; k < fs.n; k++) {
			const struct posture_finding *f = &fs.v[k];

			printf("%-18s  %-*s  %-6s  %s\n", f->check, width,
			    f->account, posture_result_name(f->result),
			    pt->why != NULL && f->result == POSTURE_ERROR ?
			    pt->why : f->evidence);
		}
		failed |= posture_any_failed(&fs);
		posture_findings_clear(&fs);
	}
	store_close(st);
	return failed;
}

int
posture_cli(const char *config_path, int debug)
{
	struct posture_cli cli;
	struct http_engine *http;
	struct event *timeout;
	struct timeval tv = { POSTURE_RUN_SEC, 0 };
	struct config *c;
	int failed;

	log_init(debug ? LOG_DEBUG : LOG_WARNING, LOG_FORMAT_TEXT);
	if ((c = config_load_report(config_path)) == NULL)
		return EXIT_CONFIG;
	memset(&cli, 0, sizeof cli);
	if ((cli.base = event_base_new()) == NULL ||
	    (http = http_engine_new(cli.base)) == NULL ||
	    (timeout = evtimer_new(cli.base, posture_timeout_cb,
	    cli.base)) == NULL)
		fatalx("cannot set up the event loop");
	cli.n = c->ntenants;
	cli.v = xcalloc(cli.n + 1, sizeof *cli.v);
	cli.apps = xcalloc(cli.n + 1, sizeof *cli.apps);
	cli.app_ids = xcalloc(cli.n + 1, sizeof *cli.app_ids);
	for (size_t i = 0; i < cli.n; i++) {
		struct posture_tenant *pt = &cli.v[i];
		const struct tenant_config *t = &c->tenants[i];

		pt->cli = &cli;
		pt->t = t;
		posture_budget_init(&pt->budget, NULL,
		    posture_app_window(&cli, t));
		if (t->endpoints.graph == NULL || t->scopes.graph == NULL) {
			pt->why = xstrdup("the tenant has no Graph endpoint "
			    "(endpoints: graph): nothing can be checked");
			continue;
		}
		pt->auth = auth_new(http, t, t->scopes.graph,
		    (long)(c->http_timeout * 1000));
		cli.pending++;
		pt->read = posture_read_start(http, pt->auth, t, &pt->budget,
		    (long)(c->http_timeout * 1000),
		    (size_t)c->http_max_response, posture_snapshot_cb, pt);
	}
	if (cli.pending > 0) {
		evtimer_add(timeout, &tv);
		event_base_dispatch(cli.base);
	}
	if (cli.pending > 0)
		fprintf(stderr, "glasswatchd: posture: Graph did not answer "
		    "within %d s; the checks not read are errors\n",
		    POSTURE_RUN_SEC);
	failed = posture_print(&cli, c, time_now_us());

	/* Readers, then their token sources, then the engine under both. */
	for (size_t i = 0; i < cli.n; i++) {
		posture_read_free(cli.v[i].read);
		auth_free(cli.v[i].auth);
		json_decref(cli.v[i].snap);
		posture_budget_free(&cli.v[i].budget);
		free(cli.v[i].why);
	}
	http_engine_free(http);
	for (size_t i = 0; i < cli.napps; i++)
		rate_window_free(&cli.apps[i]);
	free(cli.apps);
	free(cli.app_ids);
	free(cli.v);
	event_free(timeout);
	event_base_free(cli.base);
	config_free(c);
	return failed ? EXIT_INCOMPLETE : EXIT_OK;
}
