/*
 * The heartbeat notifier: a dead man's switch. After every poll cycle in
 * which every poller read, `url` is pinged; after a cycle with a failure,
 * `fail_url` (healthchecks.io's /fail), with the failures as the body. The
 * external service pages when the pings stop: glasswatchd dead, hung, or
 * its host gone. It carries no alerts (no send op): rules and
 * system_actions may not name it.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <yaml.h>

#include "cfgparse.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "notifier.h"
#include "xmalloc.h"

/* A lost ping is retried a few times (the service advises it); a newer
 * cycle's ping replaces an older one still retrying. */
#define HEARTBEAT_TRIES		3
#define HEARTBEAT_RETRY_SEC	2
#define HEARTBEAT_BODY_MAX	4096

struct heartbeat_conf {
	char	*url;
	char	*fail_url;
	char	*ca_file;
};

#define H(f)	offsetof(struct heartbeat_conf, f)
static const struct opt_spec heartbeat_opts[] = {
	{ .key = "url", .type = OPT_URL, .offset = H(url),
	  .flags = OPT_REQUIRED },
	{ .key = "fail_url", .type = OPT_URL, .offset = H(fail_url) },
	{ .key = "ca_file", .type = OPT_FILE, .offset = H(ca_file) },
	OPT_END
};
#undef H

struct heartbeat_priv {
	struct notifier		*n;
	struct http_call	*call;
	struct event		*retry;
	const char		*url;	/* of the ping in hand */
	char			*origin;
	char			*body;
	int			 tries;
};

static void	heartbeat_send(struct heartbeat_priv *);

static void
heartbeat_done(const struct http_response *r, void *arg)
{
	struct heartbeat_priv *p = arg;
	struct timeval tv = { HEARTBEAT_RETRY_SEC, 0 };

	p->call = NULL;
	if (r->status >= 200 && r->status < 300) {
		log_debug("%s: heartbeat to %s accepted", p->n->cfg->name,
		    p->origin);
		return;
	}
	if (++p->tries < HEARTBEAT_TRIES) {
		log_info("%s: heartbeat to %s: %s; trying again",
		    p->n->cfg->name, p->origin, r->error != NULL ? r->error :
		    "refused");
		evtimer_add(p->retry, &tv);
		return;
	}
	/* The external service pages when pings stop: that is the point. */
	log_warnx("%s: heartbeat to %s not accepted after %d tries (%s%ld)",
	    p->n->cfg->name, p->origin, HEARTBEAT_TRIES,
	    r->status != 0 ? "HTTP " : "", r->status);
}

static void
heartbeat_send(struct heartbeat_priv *p)
{
	const struct heartbeat_conf *c = p->n->cfg->conf;
	const char *headers[] = { "Content-Type: text/plain; charset=utf-8",
	    NULL };
	struct http_request req;

	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.url = p->url;
	req.headers = headers;
	req.body = p->body;
	req.body_len = strlen(p->body);
	req.ca_file = c->ca_file;
	req.timeout_ms = 10000;
	req.max_response = 64 * 1024;
	p->call = http_request(p->n->env.http, &req, heartbeat_done, p);
}

static void
heartbeat_retry_cb(evutil_socket_t fd, short events, void *arg)
{
	(void)fd;
	(void)events;
	heartbeat_send(arg);
}

static void
heartbeat_cycle(struct notifier *n, int ok, const char *summary)
{
	const struct heartbeat_conf *c = n->cfg->conf;
	struct heartbeat_priv *p = n->priv;

	if (!ok && c->fail_url == NULL)
		return;		/* silence is the failure signal */
	http_call_cancel(p->call);
	p->call = NULL;
	evtimer_del(p->retry);
	p->url = ok ? c->url : c->fail_url;
	free(p->origin);
	p->origin = url_origin(p->url);
	if (p->origin == NULL)
		p->origin = xstrdup("-");
	free(p->body);
	p->body = xasprintf("glasswatchd %s: %.*s\n", ok ? "ok" : "failing",
	    HEARTBEAT_BODY_MAX, summary != NULL ? summary : "-");
	p->tries = 0;
	heartbeat_send(p);
}

static int
heartbeat_init(struct notifier *n, char **cause)
{
	struct heartbeat_priv *p = n->priv;

	(void)cause;
	p->n = n;
	if ((p->retry = evtimer_new(n->env.base, heartbeat_retry_cb, p)) ==
	    NULL)
		fatalx("heartbeat: cannot create a timer");
	return 0;
}

static void
heartbeat_fini(struct notifier *n)
{
	struct heartbeat_priv *p = n->priv;

	http_call_cancel(p->call);
	if (p->retry != NULL)
		event_free(p->retry);
	free(p->origin);
	free(p->body);
}

const struct notifier_ops notify_heartbeat_ops = {
	.type = "heartbeat",
	.opts = heartbeat_opts,
	.conf_size = sizeof(struct heartbeat_conf),
	.priv_size = sizeof(struct heartbeat_priv),
	.init = heartbeat_init,
	.cycle = heartbeat_cycle,
	.fini = heartbeat_fini,
};
