/* What the notifiers that speak HTTP (SMS providers, webhooks, heartbeats)
 * share: one POST per delivery on the daemon's HTTP engine, and one reading
 * of an HTTP answer as a delivery result. */
#ifndef GW_NOTIFY_HTTP_H
#define GW_NOTIFY_HTTP_H

#include "http.h"
#include "notifier.h"

/*
 * The common reading of an answer: 2xx delivered; no answer (connection,
 * DNS, TLS, timeout), 408, 425, 429 and 5xx retried, honouring
 * Retry-After; any other status dropped (the request itself is wrong: a
 * retry cannot help). Sets d->retry_after. *why says what happened, naming
 * the origin and status, never the URL's path or the body (caller frees).
 */
enum deliver_result	notify_http_classify(struct delivery *,
			    const struct http_response *, const char *origin,
			    char **why);

/* A provider's own reading (Twilio error codes, ACS per-recipient
 * results): called with every answer; returns the result and sets *why
 * (caller frees). May start from notify_http_classify. */
typedef enum deliver_result (*notify_http_judge)(struct delivery *,
			    const struct http_response *, const char *origin,
			    char **why);

/*
 * Sends req for d and ends in exactly one delivery_done(), from the loop.
 * The notifier's timeout (config http_timeout) applies when req sets none;
 * the answer is capped at 1 MiB. judge NULL: notify_http_classify. The
 * notifier holds a reference until the answer is read; a call cut off by
 * shutdown ends as DELIVER_RETRY. Returns 0.
 */
int	notify_http_send(struct notifier *, struct delivery *,
	    const struct http_request *, notify_http_judge);

#endif
