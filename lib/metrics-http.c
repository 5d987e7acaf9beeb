/*
 * The metrics listener. evhttp runs on the daemon's loop: a scrape
 * renders from memory (and counts a few store rows), so it never blocks
 * the loop for long, and a slow client only holds its own connection.
 * Metrics name tenants, accounts' rules and notifiers, so the listener is
 * for loopback unless the configuration says allow_remote.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "buf.h"
#include "cfgparse.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "metrics-http.h"
#include "xmalloc.h"

#define METRICS_TIMEOUT_SEC	10	/* a client that stalls is dropped */
#define METRICS_MAX_HEADERS	8192
#define METRICS_MAX_BODY	1024	/* GET and HEAD carry none */

struct metrics_http {
	struct metrics_http_env	 env;
	char			*listen;	/* configured; NULL: off */
	struct evhttp		*http;		/* NULL: not bound */
	struct event		*retry;
	int			 failed;	/* said at error already */
};

/* --- configuration -------------------------------------------------- */

int
metrics_listen_parse(const char *text, char *host, size_t host_size,
    int *port, char *why, size_t why_size)
{
	const char *colon, *h = text;
	size_t hlen;
	char *end;
	long p;
	unsigned char addr[sizeof(struct in6_addr)];

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':') {
			snprintf(why, why_size, "'%s' is not [ipv6]:port",
			    text);
			return -1;
		}
		h = text + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		if ((colon = strrchr(text, ':')) == NULL ||
		    strchr(text, ':') != colon) {
			snprintf(why, why_size, "'%s' is not host:port (an "
			    "IPv6 address goes in brackets: [::1]:9465)",
			    text);
			return -1;
		}
		hlen = (size_t)(colon - text);
	}
	if (hlen == 0 || hlen >= host_size) {
		snprintf(why, why_size, "'%s': the address is missing or too "
		    "long", text);
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (inet_pton(text[0] == '[' ? AF_INET6 : AF_INET, host, addr) != 1) {
		snprintf(why, why_size, "'%s': '%s' is not a numeric %s "
		    "address", text, host, text[0] == '[' ? "IPv6" : "IPv4");
		return -1;
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
	    p < 1 || p > 65535) {
		snprintf(why, why_size, "'%s': the port must be a number from "
		    "1 to 65535", text);
		return -1;
	}
	*port = (int)p;
	return 0;
}

static void
metrics_check(struct cfg *cfg, yaml_node_t *map, void *obj)
{
	struct metrics_config *mc = obj;
	yaml_node_t *at = cfg_value(cfg, map, "listen");
	char host[INET6_ADDRSTRLEN + 1], why[256], url[320];
	int port;

	if (mc->listen == NULL)
		return;		/* missing: reported as required */
	snprintf(url, sizeof url, "http://%s/", mc->listen);
	if (metrics_listen_parse(mc->listen, host, sizeof host, &port, why,
	    sizeof why) == -1)
		cfg_error(cfg, at, "metrics: listen: %s", why);
	else if (!url_is_loopback(url) && !mc->allow_remote)
		cfg_error(cfg, at, "metrics: listen: %s is not a loopback "
		    "address; the metrics name tenants, rules and notifiers, "
		    "so listening beyond this host needs allow_remote: true",
		    mc->listen);
}

const struct opt_spec metrics_opts[] = {
	{ .key = "listen", .type = OPT_STRING, .flags = OPT_REQUIRED,
	  .offset = offsetof(struct metrics_config, listen) },
	{ .key = "allow_remote", .type = OPT_BOOL,
	  .offset = offsetof(struct metrics_config, allow_remote),
	  .def = "false" },
	{ .key = NULL, .check = metrics_check }
};

/* --- requests ------------------------------------------------------- */

static void
reply_text(struct evhttp_request *req, int code, const char *reason,
    const char *content_type, const char *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();

	if (out == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	evhttp_add_header(h, "Content-Type", content_type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason, out);
	evbuffer_free(out);
}

static void
serve_metrics(struct metrics_http *mh, struct evhttp_request *req)
{
	struct buf b;

	buf_init(&b);
	if (mh->env.collect != NULL)
		mh->env.collect(mh->env.metrics, mh->env.arg);
	metrics_render(mh->env.metrics, &b);
	reply_text(req, HTTP_OK, "OK", "text/plain; version=0.0.4; "
	    "charset=utf-8", buf_cstr(&b), b.len);
	buf_free(&b);
}

/* 200 "ok" only while every source was read within twice its
 * frequency; else 503 naming the stale ones. */
static void
serve_healthz(struct metrics_http *mh, struct evhttp_request *req)
{
	struct buf b;
	size_t stale;

	buf_init(&b);
	stale = mh->env.stale != NULL ? mh->env.stale(&b, mh->env.arg) : 0;
	if (stale == 0) {
		reply_text(req, HTTP_OK, "OK", "text/plain; charset=utf-8",
		    "ok\n", 3);
	} else {
		struct buf body;

		buf_init(&body);
		buf_printf(&body, "stale: %zu source%s not read within twice "
		    "its frequency\n%s", stale, stale == 1 ? "" : "s",
		    buf_cstr(&b));
		reply_text(req, HTTP_SERVUNAVAIL, "Service Unavailable",
		    "text/plain; charset=utf-8", buf_cstr(&body), body.len);
		buf_free(&body);
	}
	buf_free(&b);
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct metrics_http *mh = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	int known;

	if (path == NULL)
		path = "";
	known = strcmp(path, "/metrics") == 0 || strcmp(path, "/healthz") == 0;
	if (!known) {
		reply_text(req, HTTP_NOTFOUND, "Not Found",
		    "text/plain; charset=utf-8", "not found: try /metrics or "
		    "/healthz\n", strlen("not found: try /metrics or "
		    "/healthz\n"));
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		reply_text(req, 405, "Method Not Allowed",
		    "text/plain; charset=utf-8", "only GET and HEAD\n",
		    strlen("only GET and HEAD\n"));
		return;
	}
	if (strcmp(path, "/metrics") == 0)
		serve_metrics(mh, req);
	else
		serve_healthz(mh, req);
}

/* --- the socket ----------------------------------------------------- */

static void __attribute__((format(printf, 1, 2)))
metrics_log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_ERR, fmt, ap);
	va_end(ap);
}

static void
metrics_http_close(struct metrics_http *mh)
{
	if (mh->http != NULL) {
		evhttp_free(mh->http);
		mh->http = NULL;
	}
	evtimer_del(mh->retry);
}

static void
metrics_http_bind(struct metrics_http *mh)
{
	struct timeval tv = { METRICS_RETRY_SEC, 0 };
	char host[INET6_ADDRSTRLEN + 1], why[256];
	int port;

	if (metrics_listen_parse(mh->listen, host, sizeof host, &port, why,
	    sizeof why) == -1) {
		/* The configuration was checked: cannot happen. */
		metrics_log_error("metrics: listen: %s", why);
		return;
	}
	if ((mh->http = evhttp_new(mh->env.base)) == NULL)
		fatalx("evhttp_new failed");
	evhttp_set_timeout(mh->http, METRICS_TIMEOUT_SEC);
	evhttp_set_max_headers_size(mh->http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(mh->http, METRICS_MAX_BODY);
	/* Every method reaches request_cb, which answers 405 itself. */
	evhttp_set_allowed_methods(mh->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
	    EVHTTP_REQ_PATCH);
	evhttp_set_gencb(mh->http, request_cb, mh);
	errno = 0;
	if (evhttp_bind_socket_with_handle(mh->http, host,
	    (unsigned short)port) == NULL) {
		int e = errno;

		evhttp_free(mh->http);
		mh->http = NULL;
		if (!mh->failed)
			metrics_log_error("metrics: cannot listen on %s: %s; "
			    "monitoring goes on without /metrics and "
			    "/healthz, retrying every %ds", mh->listen,
			    e != 0 ? strerror(e) : "bind failed",
			    METRICS_RETRY_SEC);
		else
			log_debug("metrics: still cannot listen on %s",
			    mh->listen);
		mh->failed = 1;
		evtimer_add(mh->retry, &tv);
		return;
	}
	log_notice("metrics: listening on %s (/metrics, /healthz)",
	    mh->listen);
	mh->failed = 0;
}

static void
retry_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct metrics_http *mh = arg;

	(void)fd;
	(void)ev;
	if (mh->http == NULL && mh->listen != NULL)
		metrics_http_bind(mh);
}

struct metrics_http *
metrics_http_new(const struct metrics_http_env *env)
{
	struct metrics_http *mh = xcalloc(1, sizeof *mh);

	mh->env = *env;
	if ((mh->retry = evtimer_new(env->base, retry_cb, mh)) == NULL)
		fatalx("evtimer_new failed");
	return mh;
}

void
metrics_http_listen(struct metrics_http *mh, const char *listen)
{
	if (listen != NULL && mh->listen != NULL &&
	    strcmp(listen, mh->listen) == 0)
		return;		/* bound, or retrying: either way, go on */
	metrics_http_close(mh);
	if (mh->listen != NULL && listen == NULL)
		log_notice("metrics: no longer listening on %s", mh->listen);
	free(mh->listen);
	mh->listen = listen != NULL ? xstrdup(listen) : NULL;
	mh->failed = 0;
	if (mh->listen != NULL)
		metrics_http_bind(mh);
}

void
metrics_http_free(struct metrics_http *mh)
{
	if (mh == NULL)
		return;
	metrics_http_close(mh);
	event_free(mh->retry);
	free(mh->listen);
	free(mh);
}
