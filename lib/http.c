/*
 * The HTTP engine: one libcurl multi handle driven by libevent, the
 * hiperfifo way. libcurl tells us which sockets to watch (socket callback)
 * and when to wake it up (timer callback); libevent tells libcurl when a
 * socket is ready or the timer fired (curl_multi_socket_action). Finished
 * transfers are collected from the loop, removed from the multi handle and
 * only then handed to their owners, so an owner may start, cancel or free
 * anything from its callback.
 */
#include <sys/queue.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "http-internal.h"
#include "http.h"
#include "log.h"
#include "xmalloc.h"

#define HTTP_DEFAULT_TIMEOUT_MS		30000L
#define HTTP_CONNECT_TIMEOUT_MS		10000L
#define HTTP_DEFAULT_MAX_RESPONSE	(64 * 1024 * 1024)
#define HTTP_RETRY_AFTER_MAX		(7 * 86400)
/* Parallel connections to one host: more transfers wait in libcurl's queue
 * for one of these to be free and then reuse it. Without a cap, 1,000
 * tenants polled at once open a connection (and a TLS handshake, with the
 * trust bundle parsed into its own store) per request. The idle ones are
 * kept for the next polls (libcurl's default cache, 4 per transfer in
 * progress, closed most of them after each burst). */
#define HTTP_MAX_HOST_CONNECTIONS	16L

enum xfer_state {
	XFER_RUNNING,	/* on the multi handle */
	XFER_DONE,	/* finished, waiting for its callback */
	XFER_CALLING,	/* its callback is running */
};

struct xfer {
	struct http_engine	*engine;
	CURL			*easy;
	enum xfer_state		 state;
	CURLcode		 result;
	long			 status;	/* response code, read at finish */
	xfer_done_cb		 cb;
	void			*arg;
	/* Frees the owner when the engine goes away under it (http_call);
	 * NULL for generic transfers, whose caller owns the easy. */
	void			(*drop)(void *);
	struct tls_blob		*ca;		/* read by libcurl in place */
	TAILQ_ENTRY(xfer)	 entry;
};
TAILQ_HEAD(xfer_list, xfer);

/* What we watch for one socket libcurl gave us. */
struct sock {
	struct http_engine	*engine;
	curl_socket_t		 fd;
	struct event		*ev;
	LIST_ENTRY(sock)	 entry;
};

struct http_engine {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;		/* libcurl's one timeout */
	struct event		*later;		/* dispatches early failures */
	struct xfer_list	 running;
	struct xfer_list	 done;
	LIST_HEAD(, sock)	 socks;
	size_t			 nactive;
	struct tls_cache	*tls;
	int			 dispatching;
	int			 dying;		/* freed while dispatching */
	int			 closing;	/* inside curl_multi_cleanup */
};

struct http_call {
	struct http_engine	*engine;
	struct xfer		*xfer;
	CURL			*easy;
	struct curl_slist	*headers;
	char			*body;		/* our copy, wiped at free */
	size_t			 body_len;
	char			*resp;		/* wiped: may hold a token */
	size_t			 resp_len;
	size_t			 resp_cap;
	size_t			 max_response;
	int			 too_large;
	char			*content_type;
	int64_t			 retry_after;
	char			*error;		/* failed before it started */
	char			 errbuf[CURL_ERROR_SIZE];
	int			 calling;	/* its callback is running */
	http_done_cb		 cb;
	void			*arg;
};

static void	http_engine_dispatch(struct http_engine *);

struct tls_cache *
http_engine_tls(struct http_engine *e)
{
	return e->tls;
}

struct event_base *
http_engine_base(const struct http_engine *e)
{
	return e->base;
}

size_t
http_engine_active(const struct http_engine *e)
{
	return e->nactive;
}

static void
sock_free(struct sock *s)
{
	if (s->ev != NULL)
		event_free(s->ev);
	LIST_REMOVE(s, entry);
	free(s);
}

/* Move whatever libcurl finished to the done list: result, private pointer
 * and response code are read first, then the handle leaves the multi. */
static void
http_engine_collect(struct http_engine *e)
{
	CURLMsg		*msg;
	CURL		*easy;
	CURLcode	 result;
	struct xfer	*x;
	char		*priv;
	int		 left;

	while ((msg = curl_multi_info_read(e->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		easy = msg->easy_handle;
		result = msg->data.result;
		priv = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		if ((x = (struct xfer *)priv) == NULL) {
			/* Not ours: cannot happen, but never leave it stuck. */
			curl_multi_remove_handle(e->multi, easy);
			continue;
		}
		x->result = result;
		x->status = 0;
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &x->status);
		curl_multi_remove_handle(e->multi, easy);
		TAILQ_REMOVE(&e->running, x, entry);
		x->state = XFER_DONE;
		TAILQ_INSERT_TAIL(&e->done, x, entry);
	}
}

static void
http_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_engine	*e = arg;
	int			 action = 0, running;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	curl_multi_socket_action(e->multi, fd, action, &running);
	http_engine_collect(e);
	http_engine_dispatch(e);	/* may free e */
}

static void
http_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_engine	*e = arg;
	int			 running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_engine_collect(e);
	http_engine_dispatch(e);	/* may free e */
}

static void
http_later_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	http_engine_dispatch(arg);
}

/* libcurl callback: must not call back into libcurl, except assign. */
static int
http_socket_cb(CURL *easy, curl_socket_t fd, int what, void *arg,
    void *sockp)
{
	struct http_engine	*e = arg;
	struct sock		*s = sockp;
	short			 kind = EV_PERSIST;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		/* libcurl may remove sockets it never asked us to watch. */
		if (s != NULL)
			sock_free(s);
		return 0;
	}
	if (e->closing)
		return 0;
	if (s == NULL) {
		s = xcalloc(1, sizeof *s);
		s->engine = e;
		s->fd = fd;
		LIST_INSERT_HEAD(&e->socks, s, entry);
		curl_multi_assign(e->multi, fd, s);
	}
	if (s->ev != NULL)
		event_free(s->ev);
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	/* The engine, not the socket, is the argument: the socket context
	 * may be gone by the time socket_action returns. */
	s->ev = event_new(e->base, fd, kind, http_event_cb, e);
	if (s->ev == NULL)
		fatalx("%s: event_new failed", __func__);
	event_add(s->ev, NULL);
	return 0;
}

/* libcurl callback: -1 deletes the timer, anything else (0 too) arms it. */
static int
http_multi_timer_cb(CURLM *multi, long timeout_ms, void *arg)
{
	struct http_engine	*e = arg;
	struct timeval		 tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(e->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(e->timer, &tv);
	return 0;
}

struct http_engine *
http_engine_new(struct event_base *base)
{
	struct http_engine	*e;

	/* Reference counted by libcurl: one per engine is fine. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	e = xcalloc(1, sizeof *e);
	e->base = base;
	TAILQ_INIT(&e->running);
	TAILQ_INIT(&e->done);
	LIST_INIT(&e->socks);
	if ((e->multi = curl_multi_init()) == NULL)
		fatalx("curl_multi_init failed");
	e->timer = evtimer_new(base, http_timer_cb, e);
	e->later = event_new(base, -1, 0, http_later_cb, e);
	if (e->timer == NULL || e->later == NULL)
		fatalx("%s: event_new failed", __func__);
	e->tls = tls_cache_new();
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, http_socket_cb);
	curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, e);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION,
	    http_multi_timer_cb);
	curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, e);
	curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    HTTP_MAX_HOST_CONNECTIONS);
	curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS,
	    4 * HTTP_MAX_HOST_CONNECTIONS);
	return e;
}

static void
xfer_free(struct xfer *x)
{
	http_tls_release(x->ca);
	free(x);
}

static void
xfer_abandon(struct xfer *x)
{
	if (x->drop != NULL)
		x->drop(x->arg);
	else {
		x->state = XFER_CALLING;
		x->cb(x->easy, CURLE_ABORTED_BY_CALLBACK, x->arg);
	}
	xfer_free(x);
}

static void
http_engine_destroy(struct http_engine *e)
{
	struct xfer	*x;
	struct sock	*s;

	e->closing = 1;
	/* HTTP calls are freed silently unless they asked otherwise; a
	 * generic transfer's owner gets its callback with
	 * CURLE_ABORTED_BY_CALLBACK so it can release what it holds (an
	 * SMTP send still in flight at shutdown). */
	while ((x = TAILQ_FIRST(&e->running)) != NULL) {
		TAILQ_REMOVE(&e->running, x, entry);
		curl_multi_remove_handle(e->multi, x->easy);
		xfer_abandon(x);
	}
	while ((x = TAILQ_FIRST(&e->done)) != NULL) {
		TAILQ_REMOVE(&e->done, x, entry);
		xfer_abandon(x);
	}
	/* This closes cached connections and may call the socket callback
	 * once more for each; contexts it does not remove go below. */
	curl_multi_cleanup(e->multi);
	while ((s = LIST_FIRST(&e->socks)) != NULL)
		sock_free(s);
	event_free(e->timer);
	event_free(e->later);
	tls_cache_free(e->tls);
	free(e);
	curl_global_cleanup();
}

void
http_engine_free(struct http_engine *e)
{
	if (e == NULL)
		return;
	if (e->dispatching) {
		/* Called from a completion callback: finish it first. */
		e->dying = 1;
		return;
	}
	http_engine_destroy(e);
}

/* Hand finished transfers to their owners; runs from the loop only. */
static void
http_engine_dispatch(struct http_engine *e)
{
	struct xfer	*x;

	e->dispatching++;
	while (!e->dying && (x = TAILQ_FIRST(&e->done)) != NULL) {
		TAILQ_REMOVE(&e->done, x, entry);
		e->nactive--;
		x->state = XFER_CALLING;
		x->cb(x->easy, x->result, x->arg);
		xfer_free(x);
	}
	e->dispatching--;
	if (e->dying && e->dispatching == 0)
		http_engine_destroy(e);
}

static struct xfer *
xfer_new(struct http_engine *e, CURL *easy, xfer_done_cb cb, void *arg)
{
	struct xfer	*x;

	x = xcalloc(1, sizeof *x);
	x->engine = e;
	x->easy = easy;
	x->cb = cb;
	x->arg = arg;
	e->nactive++;
	return x;
}

/* Report a transfer that never reached libcurl, from the loop. */
static void
xfer_fail(struct xfer *x, CURLcode code)
{
	struct http_engine	*e = x->engine;

	x->result = code;
	x->status = 0;
	x->state = XFER_DONE;
	TAILQ_INSERT_TAIL(&e->done, x, entry);
	event_active(e->later, 0, 0);
}

static struct xfer *
xfer_add(struct http_engine *e, CURL *easy, xfer_done_cb cb, void *arg,
    void (*drop)(void *))
{
	struct xfer	*x;
	CURLMcode	 mc;

	x = xfer_new(e, easy, cb, arg);
	x->drop = drop;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)x);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	x->state = XFER_RUNNING;
	TAILQ_INSERT_TAIL(&e->running, x, entry);
	/* libcurl starts it from the timer callback it is about to set. */
	if ((mc = curl_multi_add_handle(e->multi, easy)) != CURLM_OK) {
		log_warnx("curl_multi_add_handle: %s", curl_multi_strerror(mc));
		TAILQ_REMOVE(&e->running, x, entry);
		xfer_fail(x, CURLE_FAILED_INIT);
	}
	return x;
}

struct xfer *
xfer_start(struct http_engine *e, CURL *easy, xfer_done_cb cb, void *arg)
{
	return xfer_add(e, easy, cb, arg, NULL);
}

void
xfer_cancel(struct xfer *x)
{
	struct http_engine	*e;

	if (x == NULL)
		return;
	e = x->engine;
	switch (x->state) {
	case XFER_CALLING:
		return;		/* freed when its callback returns */
	case XFER_RUNNING:
		TAILQ_REMOVE(&e->running, x, entry);
		curl_multi_remove_handle(e->multi, x->easy);
		break;
	case XFER_DONE:
		TAILQ_REMOVE(&e->done, x, entry);
		break;
	}
	e->nactive--;
	xfer_free(x);
}

void
xfer_hold(struct xfer *x, struct tls_blob *ca)
{
	if (x == NULL) {
		http_tls_release(ca);
		return;
	}
	http_tls_release(x->ca);
	x->ca = ca;
}

/*
 * HTTP requests.
 */

static void
http_call_free(struct http_call *c)
{
	struct curl_slist	*h;

	if (c->easy != NULL)
		curl_easy_cleanup(c->easy);
	/* Headers may carry "Authorization: Bearer ...". */
	for (h = c->headers; h != NULL; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(c->headers);
	freezero(c->body, c->body_len);
	freezero(c->resp, c->resp_cap);
	free(c->content_type);
	free(c->error);
	free(c);
}

static void
http_call_drop_cb(void *arg)
{
	http_call_free(arg);
}

static size_t
http_write_cb(char *ptr, size_t size, size_t n, void *arg)
{
	struct http_call	*c = arg;
	size_t			 len = size * n, cap;
	char			*p;

	if (len > c->max_response - c->resp_len) {
		c->too_large = 1;
		return 0;	/* not len: libcurl aborts the transfer */
	}
	if (c->resp_len + len + 1 > c->resp_cap) {
		cap = c->resp_cap == 0 ? 4096 : c->resp_cap;
		while (cap < c->resp_len + len + 1)
			cap *= 2;
		/* Grow by hand: realloc would leave unwiped copies behind. */
		p = xmalloc(cap);
		if (c->resp_len > 0)
			memcpy(p, c->resp, c->resp_len);
		freezero(c->resp, c->resp_cap);
		c->resp = p;
		c->resp_cap = cap;
	}
	memcpy(c->resp + c->resp_len, ptr, len);
	c->resp_len += len;
	c->resp[c->resp_len] = '\0';
	return len;
}

int64_t
http_parse_retry_after(const char *v)
{
	const char	*p;
	int64_t		 n = 0;
	time_t		 t, now;

	if (*v == '\0')
		return -1;
	for (p = v; *p != '\0' && isdigit((unsigned char)*p); p++) {
		if (n < HTTP_RETRY_AFTER_MAX)
			n = n * 10 + (*p - '0');
	}
	if (*p == '\0')
		return n > HTTP_RETRY_AFTER_MAX ? HTTP_RETRY_AFTER_MAX : n;
	if ((t = curl_getdate(v, NULL)) == -1)
		return -1;
	now = time(NULL);
	if (t <= now)
		return 0;
	if (t - now > HTTP_RETRY_AFTER_MAX)
		return HTTP_RETRY_AFTER_MAX;
	return (int64_t)(t - now);
}

/* Is the header line "name: value"? Sets the trimmed value. */
static int
http_header_match(const char *line, size_t len, const char *name,
    char *value, size_t valuesize)
{
	size_t	 nlen = strlen(name), vlen;
	const char *v, *end;

	if (len <= nlen || line[nlen] != ':' ||
	    strncasecmp(line, name, nlen) != 0)
		return 0;
	v = line + nlen + 1;
	end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	vlen = (size_t)(end - v);
	if (vlen >= valuesize)
		vlen = valuesize - 1;
	memcpy(value, v, vlen);
	value[vlen] = '\0';
	return 1;
}

static size_t
http_header_cb(char *ptr, size_t size, size_t n, void *arg)
{
	struct http_call	*c = arg;
	size_t			 len = size * n;
	char			 value[256];

	if (len >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
		/* A new response (after a 100 or a 1xx): only the last counts. */
		c->retry_after = -1;
		free(c->content_type);
		c->content_type = NULL;
	} else if (http_header_match(ptr, len, "Retry-After", value,
	    sizeof value))
		c->retry_after = http_parse_retry_after(value);
	else if (http_header_match(ptr, len, "Content-Type", value,
	    sizeof value)) {
		free(c->content_type);
		c->content_type = xstrdup(value);
	}
	return len;
}

static void
http_call_done_cb(CURL *easy, CURLcode result, void *arg)
{
	struct http_call	*c = arg;
	struct http_response	 r;
	char			*msg = NULL;

	(void)easy;
	memset(&r, 0, sizeof r);
	r.status = c->xfer->status;
	r.curl_code = result;
	r.too_large = c->too_large || result == CURLE_FILESIZE_EXCEEDED;
	r.body = c->resp != NULL ? c->resp : "";
	r.body_len = c->resp_len;
	r.content_type = c->content_type;
	r.retry_after = c->retry_after;
	if (r.too_large) {
		msg = xasprintf("response larger than %zu bytes",
		    c->max_response);
		r.error = msg;
	} else if (c->error != NULL)
		r.error = c->error;
	else if (result != CURLE_OK)
		r.error = c->errbuf[0] != '\0' ? c->errbuf :
		    curl_easy_strerror(result);
	if (r.error != NULL && r.status == 0)
		r.retry_after = -1;
	c->xfer = NULL;
	c->calling = 1;
	c->cb(&r, c->arg);
	free(msg);
	http_call_free(c);
}

static void
http_set_method(struct http_call *c, const struct http_request *req)
{
	const char	*m = req->method != NULL ? req->method : "GET";
	CURL		*easy = c->easy;

	if (strcmp(m, "GET") == 0 && c->body == NULL) {
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
		return;
	}
	if (strcmp(m, "HEAD") == 0) {
		curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
		return;
	}
	if (strcmp(m, "POST") != 0)
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, m);
	if (c->body != NULL || strcmp(m, "POST") == 0) {
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)c->body_len);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS,
		    c->body != NULL ? c->body : "");
	}
}

struct http_call *
http_request(struct http_engine *e, const struct http_request *req,
    http_done_cb cb, void *arg)
{
	struct http_call	*c;
	const char *const	*h;
	struct tls_blob		*ca;
	CURL			*easy;
	long			 timeout, connect;
	char			*err = NULL;

	c = xcalloc(1, sizeof *c);
	c->engine = e;
	c->cb = cb;
	c->arg = arg;
	c->retry_after = -1;
	c->max_response = req->max_response > 0 ? req->max_response :
	    HTTP_DEFAULT_MAX_RESPONSE;
	if (req->body != NULL) {
		c->body_len = req->body_len;
		c->body = xmalloc(c->body_len + 1);
		memcpy(c->body, req->body, c->body_len);
		c->body[c->body_len] = '\0';
	}
	if ((easy = c->easy = curl_easy_init()) == NULL)
		fatalx("curl_easy_init failed");

	timeout = req->timeout_ms > 0 ? req->timeout_ms :
	    HTTP_DEFAULT_TIMEOUT_MS;
	connect = timeout < HTTP_CONNECT_TIMEOUT_MS ? timeout :
	    HTTP_CONNECT_TIMEOUT_MS;
	curl_easy_setopt(easy, CURLOPT_URL, req->url);
	/* Never follow a redirect: it could carry the bearer token to
	 * another host. */
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTPS | CURLPROTO_HTTP));
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, connect);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, 60L);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, 30L);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(easy, CURLOPT_USERAGENT,
	    "glasswatch/" GLASSWATCH_VERSION);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, http_write_cb);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, http_header_cb);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, c);
	/* Refuse early when Content-Length already says too much; the
	 * write callback catches chunked and decompressed bodies. */
	curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)c->max_response);

	for (h = req->headers; h != NULL && *h != NULL; h++)
		c->headers = curl_slist_append(c->headers, *h);
	/* No "Expect: 100-continue" round trip before a body. */
	c->headers = curl_slist_append(c->headers, "Expect:");
	if (c->headers == NULL)
		fatalx("curl_slist_append failed");
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, c->headers);
	http_set_method(c, req);
	if (req->no_proxy)
		curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");

	if (http_tls_apply(e, easy, req->ca_file, &ca, &err) == -1) {
		c->error = err;
		c->xfer = xfer_new(e, easy, http_call_done_cb, c);
		c->xfer->drop = req->call_on_abort ? NULL : http_call_drop_cb;
		curl_easy_setopt(easy, CURLOPT_PRIVATE, (void *)c->xfer);
		xfer_fail(c->xfer, CURLE_SSL_CACERT_BADFILE);
		return c;
	}
	c->xfer = xfer_add(e, easy, http_call_done_cb, c,
	    req->call_on_abort ? NULL : http_call_drop_cb);
	xfer_hold(c->xfer, ca);
	return c;
}

void
http_call_cancel(struct http_call *c)
{
	if (c == NULL || c->calling)
		return;		/* freed when its callback returns */
	if (c->xfer != NULL)
		xfer_cancel(c->xfer);
	http_call_free(c);
}

/*
 * URLs.
 */

static CURLU *
url_parse(const char *url)
{
	CURLU	*u;

	if (url == NULL || (u = curl_url()) == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) !=
	    CURLUE_OK) {
		curl_url_cleanup(u);
		return NULL;
	}
	return u;
}

char *
url_origin(const char *url)
{
	CURLU	*u;
	char	*scheme = NULL, *host = NULL, *port = NULL, *out, *p;

	if ((u = url_parse(url)) == NULL)
		return xstrdup("(invalid URL)");
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		out = xstrdup("(invalid URL)");
		goto done;
	}
	/* Host names compare without case; logs should agree. */
	for (p = host; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (curl_url_get(u, CURLUPART_PORT, &port,
	    CURLU_NO_DEFAULT_PORT) == CURLUE_OK && port != NULL)
		out = xasprintf("%s://%s:%s", scheme, host, port);
	else
		out = xasprintf("%s://%s", scheme, host);
done:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return out;
}

int
url_is_loopback(const char *url)
{
	CURLU		*u;
	char		*host = NULL, *h;
	size_t		 len;
	struct in_addr	 a4;
	struct in6_addr	 a6;
	int		 yes = 0;

	if ((u = url_parse(url)) == NULL)
		return 0;
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		h = host;
		len = strlen(h);
		if (len > 2 && h[0] == '[' && h[len - 1] == ']') {
			h[len - 1] = '\0';
			h++;
			yes = inet_pton(AF_INET6, h, &a6) == 1 &&
			    IN6_IS_ADDR_LOOPBACK(&a6);
		} else if (inet_pton(AF_INET, h, &a4) == 1)
			yes = (ntohl(a4.s_addr) >> 24) == 127;
		else
			yes = strcasecmp(h, "localhost") == 0;
	}
	curl_free(host);
	curl_url_cleanup(u);
	return yes;
}

/* RFC 3986 unreserved characters, whatever the locale says. */
static int
url_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

char *
url_escape(const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	size_t			 len = 0;
	char			*out, *q;

	/* Count first: one allocation, since the input may be a secret. */
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		len += url_unreserved(*p) ? 1 : 3;
	out = q = xmalloc(len + 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (url_unreserved(*p))
			*q++ = (char)*p;
		else {
			*q++ = '%';
			*q++ = hex[*p >> 4];
			*q++ = hex[*p & 0xf];
		}
	}
	*q = '\0';
	return out;
}
