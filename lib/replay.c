/* --replay (replay.h). */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "history.h"
#include "log.h"
#include "notifier.h"
#include "outbox.h"
#include "replay-input.h"
#include "replay.h"
#include "rules.h"
#include "store.h"
#include "timeutil.h"
#include "xmalloc.h"

struct replay_env {
	char			 dir[64];
	struct event_base	*base;
	struct store		*store;
	struct outbox		*outbox;
	struct rules		*rules;
	struct notifier_config	*ncfgs;		/* the stand-ins' configs */
	struct notifier_ops	*ops;		/* and their ops */
	struct notifier		**notifiers;
	size_t			  n;
};

/* Never reached: the loop is never run, so the outbox starts no send.
 * Should it be, the delivery stays pending in the scratch store. */
static int
replay_send(struct notifier *n, struct delivery *d)
{
	(void)n;
	delivery_done(d, DELIVER_RETRY, "replay: nothing is sent");
	return -1;
}

/* A stand-in for each notifier that carries alerts: the real type's
 * recipients (so the report says who would be told), no init, no send. */
static int
replay_notifiers(struct replay_env *e, const struct config *cfg, char **err)
{
	struct notifier_env env = { e->base, NULL, cfg };

	e->ncfgs = xcalloc(cfg->nnotifiers + 1, sizeof *e->ncfgs);
	e->ops = xcalloc(cfg->nnotifiers + 1, sizeof *e->ops);
	e->notifiers = xcalloc(cfg->nnotifiers + 1, sizeof *e->notifiers);
	for (size_t i = 0; i < cfg->nnotifiers; i++) {
		const struct notifier_config *nc = &cfg->notifiers[i];
		const struct notifier_ops *real = nc->ops != NULL ? nc->ops :
		    notifier_find(nc->type);
		char *cause = NULL;

		if (real == NULL || real->send == NULL)
			continue;
		e->ops[e->n].type = real->type;
		e->ops[e->n].recipients = real->recipients;
		e->ops[e->n].send = replay_send;
		e->ncfgs[e->n] = *nc;
		e->ncfgs[e->n].ops = &e->ops[e->n];
		e->notifiers[e->n] = notifier_new(&e->ncfgs[e->n], &env,
		    &cause);
		if (e->notifiers[e->n] == NULL) {
			*err = xasprintf("notifier %s: %s", nc->name, cause);
			free(cause);
			return -1;
		}
		e->n++;
	}
	outbox_set_notifiers(e->outbox, e->notifiers, e->n);
	return 0;
}

static void
replay_env_free(struct replay_env *e)
{
	static const char *const files[] = { STORE_FILE, STORE_FILE "-wal",
		STORE_FILE "-shm", STORE_FILE "-journal" };
	char path[128];

	rules_free(e->rules);
	if (e->outbox != NULL)
		outbox_free(e->outbox);
	for (size_t i = 0; i < e->n; i++)
		notifier_unref(e->notifiers[i]);
	free(e->notifiers);
	free(e->ncfgs);
	free(e->ops);
	store_close(e->store);
	if (e->base != NULL)
		event_base_free(e->base);
	if (e->dir[0] != '\0') {
		for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
			snprintf(path, sizeof path, "%s/%s", e->dir, files[i]);
			unlink(path);
		}
		rmdir(e->dir);
	}
}

static int
replay_env_init(struct replay_env *e, const struct config *cfg, char **err)
{
	const char *tmp = getenv("TMPDIR");
	char *serr = NULL;

	memset(e, 0, sizeof *e);
	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(e->dir, sizeof e->dir, "%s/glasswatch-replay.XXXXXX", tmp);
	if (mkdtemp(e->dir) == NULL) {
		*err = xasprintf("a scratch directory in %s: %s", tmp,
		    strerror(errno));
		e->dir[0] = '\0';
		return -1;
	}
	if (store_open(e->dir, 0, &e->store, &serr) == -1) {
		*err = xasprintf("the scratch state store: %s", serr);
		free(serr);
		return -1;
	}
	if ((e->base = event_base_new()) == NULL)
		fatalx("%s: event_base_new", __func__);
	e->outbox = outbox_new(e->base, e->store);
	if (replay_notifiers(e, cfg, err) == -1)
		return -1;
	/* No event base: no timers of absence rules or digests. */
	e->rules = rules_new(NULL, e->store, e->outbox);
	rules_set_config(e->rules, cfg);
	return 0;
}

/* The records of one tenant into the scratch store, then its rules. */
static int
replay_tenant(struct replay_env *e, const struct tenant_config *tc,
    const struct replay_input *in, int64_t now, size_t *nrecords,
    char **err)
{
	struct record_list recs;
	int rc = -1;

	record_list_init(&recs);
	if (replay_input_records(in, tc, now, &recs, err) == -1)
		goto done;
	if (store_begin(e->store) == -1)
		goto store_fail;
	for (size_t i = 0; i < recs.n; i++) {
		recs.v[i]->received_us = now;
		switch (store_record_insert(e->store, recs.v[i])) {
		case -1:
			store_rollback(e->store);
			goto store_fail;
		case 1:
			(*nrecords)++;
			break;
		default:
			break;	/* the same record twice in the file */
		}
	}
	if (store_commit(e->store) == -1)
		goto store_fail;
	if (recs.n > 0 && rules_evaluate(e->rules, tc->name) == -1)
		goto store_fail;
	rc = 0;
	goto done;
store_fail:
	*err = xstrdup("the scratch state store failed (see the log)");
done:
	record_list_clear(&recs);
	return rc;
}

int
replay_run(const struct config *cfg, const char *tenant,
    const struct replay_input *in, const char *label, FILE *f, char **err)
{
	struct replay_env e;
	size_t nrecords = 0, nalerts = 0, nabsence = 0;
	int64_t now = time_now_us();
	int rc = -1;

	*err = NULL;
	if (replay_env_init(&e, cfg, err) == -1)
		goto done;
	for (size_t i = 0; i < cfg->ntenants; i++) {
		const struct tenant_config *tc = &cfg->tenants[i];

		if (tenant != NULL && strcmp(tc->name, tenant) != 0)
			continue;
		if (replay_tenant(&e, tc, in, now, &nrecords, err) == -1)
			goto done;
	}
	for (size_t i = 0; i < cfg->nrules; i++) {
		const struct rule_config *r = &cfg->rules[i];

		if (r->enabled && r->op != OP_GT && r->op != OP_GE)
			nabsence++;
	}
	fprintf(f, "replay of %s (%s): %zu row%s, %zu record%s of "
	    "break-glass accounts%s%s\n", label, replay_format_name(
	    replay_input_format(in)), replay_input_rows(in),
	    replay_input_rows(in) == 1 ? "" : "s", nrecords,
	    nrecords == 1 ? "" : "s", tenant != NULL ? " of tenant " : "",
	    tenant != NULL ? tenant : "");
	if (nabsence > 0)
		fprintf(f, "%zu absence rule%s (lt, le, eq) not replayed: they "
		    "watch what arrives over time\n", nabsence,
		    nabsence == 1 ? "" : "s");
	if (history_print(e.store, 0, HISTORY_REPLAY, f, &nalerts,
	    err) == -1)
		goto done;
	fprintf(f, "\n%zu alert%s would be raised; nothing was sent\n",
	    nalerts, nalerts == 1 ? "" : "s");
	rc = 0;
done:
	replay_env_free(&e);
	return rc;
}
