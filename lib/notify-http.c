/*
 * One HTTP exchange per delivery, read the same way by every notifier that
 * speaks HTTP.
 */
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "http.h"
#include "log.h"
#include "notifier.h"
#include "notify-http.h"
#include "xmalloc.h"

/* A provider's answer is small; a large one is not worth reading. */
#define NOTIFY_HTTP_MAX_RESPONSE	(1024 * 1024)

struct notify_http_call {
	struct notifier		*n;
	struct delivery		*d;
	notify_http_judge	 judge;
	char			*origin;
};

static int
notify_http_status_transient(long status)
{
	return status == 408 || status == 425 || status == 429 ||
	    status >= 500;
}

enum deliver_result
notify_http_classify(struct delivery *d, const struct http_response *r,
    const char *origin, char **why)
{
	d->retry_after = -1;
	if (r->status == 0) {
		*why = xasprintf("%s: %s", origin, r->error != NULL ?
		    r->error : "no answer");
		return DELIVER_RETRY;
	}
	if (r->status >= 200 && r->status < 300) {
		*why = xasprintf("%s: accepted (HTTP %ld)", origin, r->status);
		return DELIVER_OK;
	}
	if (notify_http_status_transient(r->status)) {
		d->retry_after = r->retry_after;
		*why = xasprintf("%s: HTTP %ld, will retry", origin,
		    r->status);
		return DELIVER_RETRY;
	}
	*why = xasprintf("%s: HTTP %ld, refused", origin, r->status);
	return DELIVER_DROP;
}

static void
notify_http_done(const struct http_response *r, void *arg)
{
	struct notify_http_call *c = arg;
	enum deliver_result res;
	char *why = NULL;

	res = c->judge(c->d, r, c->origin, &why);
	delivery_done(c->d, res, why != NULL ? why : c->origin);
	free(why);
	notifier_unref(c->n);
	free(c->origin);
	free(c);
}

int
notify_http_send(struct notifier *n, struct delivery *d,
    const struct http_request *req, notify_http_judge judge)
{
	struct notify_http_call *c;
	struct http_request r = *req;

	if (r.timeout_ms <= 0 && n->env.config != NULL &&
	    n->env.config->http_timeout > 0)
		r.timeout_ms = (long)(n->env.config->http_timeout * 1000);
	if (r.max_response == 0)
		r.max_response = NOTIFY_HTTP_MAX_RESPONSE;
	r.call_on_abort = 1;	/* the delivery must hear how it ended */

	c = xcalloc(1, sizeof *c);
	c->n = n;
	c->d = d;
	c->judge = judge != NULL ? judge : notify_http_classify;
	c->origin = url_origin(r.url);
	if (c->origin == NULL)
		c->origin = xstrdup("-");
	log_debug("%s: sending alert %s to %s", n->cfg->name,
	    d->alert != NULL ? d->alert->id : "-", c->origin);

	notifier_ref(n);
	(void)http_request(n->env.http, &r, notify_http_done, c);
	return 0;
}
