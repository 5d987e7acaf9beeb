/*
 * glasswatchd --test-notify NAME (DESIGN.md "Command line contract"): a
 * clearly marked test alert through one notifier, to each of its
 * recipients, with each provider's answer printed. It touches no outbox
 * and takes no lock, so it works beside a running daemon.
 */
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>

#include "alert.h"
#include "config.h"
#include "daemon.h"
#include "guid.h"
#include "http.h"
#include "log.h"
#include "notifier.h"
#include "record.h"
#include "strlist.h"
#include "timeutil.h"
#include "xmalloc.h"

/* Beyond the HTTP timeout, for a notifier that never answers at all. */
#define TEST_NOTIFY_GRACE_SEC	30

struct test_send {
	struct delivery		 d;
	struct test_run		*run;
	int			 done;
	enum deliver_result	 result;
	char			*why;
};

struct test_run {
	struct event_base	*base;
	size_t			 pending;
	int			 cut;	/* timed out: late outcomes ignored */
};

static void
test_finish(struct delivery *d, enum deliver_result result, const char *why)
{
	struct test_send *s = d->core;

	if (s->done || s->run->cut)
		return;
	s->done = 1;
	s->result = result;
	s->why = xstrdup(why != NULL ? why : "-");
	if (--s->run->pending == 0)
		event_base_loopbreak(s->run->base);
}

/* The sample: the first tenant's first break-glass account "signing in"
 * from a documentation address, so the message looks like a real page. */
static struct alert *
test_alert(const struct config *c, const char *notifier)
{
	const struct tenant_config *t = c->ntenants > 0 ? &c->tenants[0] :
	    NULL;
	const struct account *acct = t != NULL && t->nbreak_glass > 0 ?
	    &t->break_glass[0] : NULL;
	struct alert *a = alert_new(ALERT_TEST);
	struct record *r = record_new();
	char guid[GUID_LEN];

	a->rule = xstrdup("test-notify");
	a->description = xasprintf("A test of notifier %s, sent on request "
	    "(glasswatchd --test-notify). No break-glass account was used.",
	    notifier);
	a->severity = 4;
	a->subject = xasprintf("[TEST] glasswatch test alert through %s",
	    notifier);
	if (t != NULL) {
		a->tenant = xstrdup(t->name);
		a->tenant_id = xstrdup(t->tenant_id);
		r->tenant = xstrdup(t->name);
	}
	if (acct != NULL) {
		a->account_oid = xstrdup(acct->object_id);
		a->account_upn = acct->upn != NULL ? xstrdup(acct->upn) : NULL;
		r->user_id = xstrdup(acct->object_id);
		r->upn = acct->upn != NULL ? xstrdup(acct->upn) : NULL;
	}
	guid_random(guid);
	r->id = xasprintf("gw-test-%s", guid);
	guid_random(guid);
	r->correlation_id = xstrdup(guid);
	r->signal = SIGNAL_SIGN_IN;
	r->event_us = r->received_us = a->created_us;
	r->ip = xstrdup("192.0.2.1");
	r->location = xstrdup("Test, Sample, ZZ");
	r->app = xstrdup("glasswatchd --test-notify");
	r->success = 1;
	a->count = 1;
	alert_add_record(a, r);
	return a;
}

static void
test_timeout_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	event_base_loopbreak(arg);
}

/* Send to every recipient at once and wait for the answers. */
static int
test_send_all(struct notifier *n, struct test_run *run, struct alert *a,
    struct test_send *sends, const struct strlist *rcpt, int64_t wait_sec)
{
	struct timeval tv = { (time_t)wait_sec, 0 };
	struct event *timeout;

	for (size_t i = 0; i < rcpt->n; i++) {
		struct test_send *s = &sends[i];

		s->run = run;
		s->d.alert_id = a->id;
		s->d.notifier_name = n->cfg->name;
		s->d.recipient = rcpt->v[i];
		s->d.alert = a;
		s->d.notifier = n;
		s->d.retry_after = -1;
		s->d.finish = test_finish;
		s->d.core = s;
		run->pending++;
		n->ops->send(n, &s->d);
	}
	if (run->pending == 0)
		return 0;
	if ((timeout = evtimer_new(run->base, test_timeout_cb,
	    run->base)) == NULL)
		return -1;
	evtimer_add(timeout, &tv);
	event_base_dispatch(run->base);
	event_free(timeout);
	return 0;
}

/* One line per recipient; 1 when every one accepted the alert. */
static int
test_report(const char *name, const struct test_send *sends,
    const struct strlist *rcpt)
{
	int all = 1;

	for (size_t i = 0; i < rcpt->n; i++) {
		const struct test_send *s = &sends[i];

		if (!s->done) {
			printf("%s -> %s: FAILED: no answer in time\n", name,
			    rcpt->v[i]);
			all = 0;
		} else if (s->result == DELIVER_OK)
			printf("%s -> %s: delivered: %s\n", name, rcpt->v[i],
			    s->why);
		else {
			printf("%s -> %s: FAILED (%s): %s\n", name, rcpt->v[i],
			    s->result == DELIVER_RETRY ? "temporary: the "
			    "daemon would retry" : "permanent: the daemon "
			    "would not retry", s->why);
			all = 0;
		}
	}
	return all;
}

int
test_notify(const char *config_path, const char *name, int debug)
{
	const struct notifier_config *nc;
	struct notifier_env env;
	struct test_run run = { NULL, 0, 0 };
	struct test_send *sends;
	struct strlist rcpt = { NULL, 0 };
	struct http_engine *http;
	struct notifier *n;
	struct config *c;
	struct alert *a;
	char *cause = NULL;
	int ok;

	log_init(debug ? LOG_DEBUG : LOG_WARNING, LOG_FORMAT_TEXT);
	if ((c = config_load_report(config_path)) == NULL)
		return EXIT_CONFIG;
	if ((nc = config_notifier(c, name)) == NULL) {
		fprintf(stderr, "glasswatchd: %s: no notifier is named '%s'\n",
		    config_path, name);
		config_free(c);
		return EXIT_USAGE;
	}
	if (nc->ops->send == NULL) {
		fprintf(stderr, "glasswatchd: %s is a %s notifier: it carries "
		    "no alerts (it is pinged after every poll cycle)\n", name,
		    nc->type);
		config_free(c);
		return EXIT_USAGE;
	}
	if ((run.base = event_base_new()) == NULL ||
	    (http = http_engine_new(run.base)) == NULL)
		fatalx("cannot set up the event loop");
	env.base = run.base;
	env.http = http;
	env.config = c;
	if ((n = notifier_new(nc, &env, &cause)) == NULL) {
		printf("%s: FAILED: %s\n", name, cause);
		free(cause);
		http_engine_free(http);
		event_base_free(run.base);
		config_free(c);
		return EXIT_INCOMPLETE;
	}
	if (n->ops->recipients != NULL)
		n->ops->recipients(nc->conf, &rcpt);
	else
		strlist_add(&rcpt, "-");
	a = test_alert(c, name);
	sends = xcalloc(rcpt.n + 1, sizeof *sends);
	printf("sending test alert %s through %s (%zu recipient%s)\n", a->id,
	    name, rcpt.n, rcpt.n == 1 ? "" : "s");
	fflush(stdout);
	if (test_send_all(n, &run, a, sends, &rcpt,
	    c->http_timeout + TEST_NOTIFY_GRACE_SEC) == -1)
		fatalx("cannot arm the timeout");
	/* Sends still running are cut off: "no answer in time". */
	run.cut = 1;
	http_engine_free(http);
	ok = test_report(name, sends, &rcpt) && rcpt.n > 0;
	if (rcpt.n == 0)
		printf("%s: FAILED: the notifier has no recipients\n", name);

	for (size_t i = 0; i < rcpt.n; i++)
		free(sends[i].why);
	free(sends);
	alert_free(a);
	strlist_clear(&rcpt);
	notifier_unref(n);
	event_base_free(run.base);
	config_free(c);
	return ok ? EXIT_OK : EXIT_INCOMPLETE;
}
