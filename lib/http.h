/* The HTTP engine: one libcurl multi handle driven by libevent (the
 * hiperfifo pattern). Every HTTP and SMTP exchange of the daemon runs here;
 * nothing blocks the loop. Completions are delivered from the loop, never
 * from inside a libcurl callback. */
#ifndef GW_HTTP_H
#define GW_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

struct event_base;
struct http_engine;
struct xfer;
struct http_call;

struct http_engine	*http_engine_new(struct event_base *);
/* Cancels what is still running (no callbacks), then frees. May be called
 * from a completion callback. Calls and xfers die with the engine. */
void			 http_engine_free(struct http_engine *);
size_t			 http_engine_active(const struct http_engine *);
struct event_base	*http_engine_base(const struct http_engine *);

/*
 * Trust: TLS is always verified. ca_file (may be NULL) adds a trust anchor
 * to the system's bundle rather than replacing it. Sets CURLOPT_CAINFO_BLOB
 * and the verify options on the easy handle. Returns 0, or -1 with *err.
 * With held, the handle reads the engine's cached bundle in place and
 * *held is a reference that must outlive the transfer (xfer_hold hands it
 * to one; http_tls_release drops it; NULL without ca_file); without, the
 * handle gets a copy.
 */
struct tls_blob;
int	http_tls_apply(struct http_engine *, CURL *, const char *ca_file,
	    struct tls_blob **held, char **err);
void	http_tls_release(struct tls_blob *);

/*
 * Generic transfer (SMTP, or HTTP set up by hand): the caller configures the
 * easy handle; the engine owns CURLOPT_PRIVATE. done runs once, from the
 * loop, after the handle left the multi handle; the caller then owns and
 * cleans up the easy handle. xfer_cancel removes it without calling done.
 */
typedef void (*xfer_done_cb)(CURL *, CURLcode, void *arg);
struct xfer	*xfer_start(struct http_engine *, CURL *, xfer_done_cb,
		    void *arg);
/* The transfer keeps the reference (http_tls_apply) until it ends. */
void		 xfer_hold(struct xfer *, struct tls_blob *);
void		 xfer_cancel(struct xfer *);	/* caller owns the easy */

/* HTTP requests with a buffered response. */
struct http_request {
	const char		 *method;	/* "GET", "POST" */
	const char		 *url;
	const char *const	 *headers;	/* "Name: value", NULL-ended */
	const char		 *body;		/* may be NULL */
	size_t			  body_len;
	const char		 *ca_file;	/* extra trust anchor or NULL */
	long			  timeout_ms;	/* whole transfer; <= 0: 30 s */
	size_t			  max_response;	/* body cap in bytes; 0: 64 MiB */
	/* The engine freed with the call in flight: 0 frees it silently;
	 * 1 runs the callback (status 0, CURLE_ABORTED_BY_CALLBACK) so the
	 * owner can release what it holds (a delivery at shutdown). */
	int			  call_on_abort;
	/* Never through a proxy (IMDS: a link-local address a proxy must
	 * not see). Otherwise libcurl honours the environment's
	 * https_proxy, http_proxy and no_proxy. */
	int			  no_proxy;
};

struct http_response {
	long		 status;	/* 0: no HTTP response */
	CURLcode	 curl_code;
	const char	*error;		/* why it failed, NULL on success
					   (a 4xx/5xx answer is a success
					   here: look at status) */
	int		 too_large;	/* body exceeded max_response */
	const char	*body;		/* NUL-terminated, never NULL */
	size_t		 body_len;
	const char	*content_type;	/* NULL when absent */
	int64_t		 retry_after;	/* seconds; -1 when absent */
};

typedef void (*http_done_cb)(const struct http_response *, void *arg);

/* The response is valid only during the callback. */
struct http_call *http_request(struct http_engine *,
		     const struct http_request *, http_done_cb, void *arg);
/* No callback; a no-op from the call's own callback. */
void		  http_call_cancel(struct http_call *);

/* "https://host:port" of a URL, for logs (never the path or query, which
 * may carry tokens). Caller frees. */
char	*url_origin(const char *url);
/* Does the URL's host name a loopback address (127/8, ::1, localhost)? */
int	 url_is_loopback(const char *url);
/* application/x-www-form-urlencoded escaping; caller frees. */
char	*url_escape(const char *);

#endif
