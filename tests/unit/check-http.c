/* check-http: the HTTP engine against real local servers (helpers/httpd.py
 * on 127.0.0.1, plain and TLS with a throwaway PKI). */
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "buf.h"
#include "http.h"
#include "log.h"
#include "xmalloc.h"

#include "helpers/testserver.h"

static struct test_server	plain, tls, rogue;

struct result {
	int	 done;
	long	 status;
	CURLcode code;
	char	*error;
	int	 too_large;
	char	*body;
	size_t	 body_len;
	char	*ctype;
	int64_t	 retry_after;
};

static void
result_clear(struct result *r)
{
	free(r->error);
	free(r->body);
	free(r->ctype);
	memset(r, 0, sizeof *r);
}

static void
result_cb(const struct http_response *resp, void *arg)
{
	struct result	*r = arg;

	r->status = resp->status;
	r->code = resp->curl_code;
	r->error = resp->error != NULL ? xstrdup(resp->error) : NULL;
	r->too_large = resp->too_large;
	ck_assert_ptr_nonnull(resp->body);
	ck_assert_int_eq(resp->body[resp->body_len], '\0');
	r->body = xmalloc(resp->body_len + 1);
	memcpy(r->body, resp->body, resp->body_len + 1);
	r->body_len = resp->body_len;
	r->ctype = resp->content_type != NULL ?
	    xstrdup(resp->content_type) : NULL;
	r->retry_after = resp->retry_after;
	r->done++;
}

static struct http_call *
start(struct http_engine *e, const char *method, const char *url,
    const char *ca_file, long timeout_ms, size_t max, struct result *r)
{
	struct http_request	req;

	memset(&req, 0, sizeof req);
	req.method = method;
	req.url = url;
	req.ca_file = ca_file;
	req.timeout_ms = timeout_ms;
	req.max_response = max;
	return http_request(e, &req, result_cb, r);
}

/* One request on a fresh engine, run to its end. */
static void
fetch(const char *url, const char *ca_file, long timeout_ms, size_t max,
    struct result *r)
{
	struct event_base	*base = event_base_new();
	struct http_engine	*e = http_engine_new(base);

	memset(r, 0, sizeof *r);
	start(e, "GET", url, ca_file, timeout_ms, max, r);
	ck_assert_int_eq(r->done, 0);	/* never from inside the call */
	ts_run(base, &r->done, 1, 15000);
	ck_assert_int_eq(r->done, 1);
	ck_assert_uint_eq(http_engine_active(e), 0);
	http_engine_free(e);
	event_base_free(base);
}

/* A server's connection counter, read through the engine e. */
static long
server_connections(struct event_base *base, struct http_engine *e,
    const struct test_server *s, int tls)
{
	struct result	 r;
	json_t		*o;
	long		 n;

	memset(&r, 0, sizeof r);
	start(e, "GET", ts_url(s, tls, "/stats"),
	    tls ? ts_path("certs/ca.pem") : NULL, 5000, 4096, &r);
	ts_run(base, &r.done, 1, 10000);
	ck_assert_int_eq(r.status, 200);
	o = json_loads(r.body, 0, NULL);
	ck_assert_ptr_nonnull(o);
	n = (long)json_integer_value(json_object_get(o, "connections"));
	json_decref(o);
	result_clear(&r);
	return n;
}

START_TEST(test_get)
{
	struct result	r;

	fetch(ts_url(&plain, 0, "/hello"), NULL, 5000, 1024, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.code, CURLE_OK);
	ck_assert_ptr_null(r.error);
	ck_assert_int_eq(r.too_large, 0);
	ck_assert_str_eq(r.body, "hello");
	ck_assert_uint_eq(r.body_len, 5);
	ck_assert_str_eq(r.ctype, "text/plain");
	ck_assert_int_eq(r.retry_after, -1);
	result_clear(&r);
}
END_TEST

START_TEST(test_post_body_copied)
{
	struct event_base	*base = event_base_new();
	struct http_engine	*e = http_engine_new(base);
	struct http_request	 req;
	struct result		 r, r2;
	char			 body[] = "a\0b=c&d";

	memset(&r, 0, sizeof r);
	memset(&r2, 0, sizeof r2);
	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.url = ts_url(&plain, 0, "/echo");
	req.body = body;
	req.body_len = sizeof body - 1;
	req.timeout_ms = 5000;
	req.max_response = 1024;
	http_request(e, &req, result_cb, &r);
	/* The engine copied the body: the caller's buffer is free again. */
	memset(body, 'Z', sizeof body - 1);
	req.method = "PUT";
	req.body = "put-body";
	req.body_len = 8;
	http_request(e, &req, result_cb, &r2);
	ts_run(base, &r.done, 1, 10000);
	ts_run(base, &r2.done, 1, 10000);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body_len, 7);
	ck_assert_mem_eq(r.body, "a\0b=c&d", 7);
	ck_assert_int_eq(r2.status, 200);
	ck_assert_str_eq(r2.body, "put-body");
	result_clear(&r);
	result_clear(&r2);
	http_engine_free(e);
	event_base_free(base);
}
END_TEST

START_TEST(test_too_large_content_length)
{
	struct result	r;

	fetch(ts_url(&plain, 0, "/bytes/1000"), NULL, 5000, 100, &r);
	ck_assert_int_eq(r.too_large, 1);
	ck_assert_ptr_nonnull(r.error);
	ck_assert_str_eq(r.error, "response larger than 100 bytes");
	ck_assert_uint_le(r.body_len, 100);
	result_clear(&r);
}
END_TEST

START_TEST(test_too_large_chunked)
{
	struct result	r;

	/* No length up front: the write callback has to stop it. */
	fetch(ts_url(&plain, 0, "/chunked/50000"), NULL, 5000, 4000, &r);
	ck_assert_int_eq(r.too_large, 1);
	ck_assert_str_eq(r.error, "response larger than 4000 bytes");
	ck_assert_uint_le(r.body_len, 4000);
	result_clear(&r);
}
END_TEST

START_TEST(test_at_cap)
{
	struct result	r;

	fetch(ts_url(&plain, 0, "/bytes/100"), NULL, 5000, 100, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.too_large, 0);
	ck_assert_ptr_null(r.error);
	ck_assert_uint_eq(r.body_len, 100);
	result_clear(&r);
	fetch(ts_url(&plain, 0, "/chunked/3000"), NULL, 5000, 3000, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(r.too_large, 0);
	ck_assert_uint_eq(r.body_len, 3000);
	result_clear(&r);
}
END_TEST

START_TEST(test_timeout)
{
	struct event_base	*base = event_base_new();
	struct http_engine	*e = http_engine_new(base);
	struct result		 r;
	long			 ms;

	memset(&r, 0, sizeof r);
	start(e, "GET", ts_url(&plain, 0, "/slow/3000"), NULL, 300, 1024, &r);
	ms = ts_run(base, &r.done, 1, 10000);
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(r.code, CURLE_OPERATION_TIMEDOUT);
	ck_assert_ptr_nonnull(r.error);
	ck_assert_int_lt(ms, 2500);
	result_clear(&r);
	http_engine_free(e);
	event_base_free(base);
}
END_TEST

START_TEST(test_connect_refused)
{
	struct result	r;
	char		url[64];

	snprintf(url, sizeof url, "http://127.0.0.1:%d/", ts_dead_port());
	fetch(url, NULL, 5000, 1024, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(r.code, CURLE_COULDNT_CONNECT);
	ck_assert_ptr_nonnull(r.error);
	result_clear(&r);
}
END_TEST

START_TEST(test_retry_after_seconds)
{
	struct result	r;

	fetch(ts_url(&plain, 0, "/retry-after/7"), NULL, 5000, 1024, &r);
	ck_assert_int_eq(r.status, 429);
	ck_assert_ptr_null(r.error);
	ck_assert_int_eq(r.retry_after, 7);
	result_clear(&r);
	fetch(ts_url(&plain, 0, "/retry-after/soon"), NULL, 5000, 1024, &r);
	ck_assert_int_eq(r.status, 429);
	ck_assert_int_eq(r.retry_after, -1);
	result_clear(&r);
}
END_TEST

START_TEST(test_retry_after_date)
{
	struct result	r;

	fetch(ts_url(&plain, 0, "/retry-date/120"), NULL, 5000, 1024, &r);
	ck_assert_int_eq(r.status, 503);
	ck_assert_int_ge(r.retry_after, 110);
	ck_assert_int_le(r.retry_after, 121);
	result_clear(&r);
}
END_TEST

START_TEST(test_no_redirect)
{
	struct result	r;

	fetch(ts_url(&plain, 0, "/redirect"), NULL, 5000, 1024, &r);
	ck_assert_int_eq(r.status, 302);
	ck_assert_ptr_null(r.error);
	ck_assert_str_ne(r.body, "hello");
	result_clear(&r);
}
END_TEST

START_TEST(test_connection_reuse)
{
	struct event_base	*base = event_base_new();
	struct http_engine	*e = http_engine_new(base);
	struct result		 r;
	long			 c1, c2, c3;

	c1 = server_connections(base, e, &plain, 0);
	c2 = server_connections(base, e, &plain, 0);
	memset(&r, 0, sizeof r);
	start(e, "GET", ts_url(&plain, 0, "/hello"), NULL, 5000, 1024, &r);
	ts_run(base, &r.done, 1, 10000);
	ck_assert_int_eq(r.status, 200);
	result_clear(&r);
	c3 = server_connections(base, e, &plain, 0);
	/* Four sequential requests, one connection. */
	ck_assert_int_eq(c2, c1);
	ck_assert_int_eq(c3, c1);
	http_engine_free(e);
	event_base_free(base);
}
END_TEST

START_TEST(test_tls_reuse)
{
	struct event_base	*base = event_base_new();
	struct http_engine	*e = http_engine_new(base);
	struct result		 r;
	long			 c1, c2;
	int			 i;

	c1 = server_connections(base, e, &tls, 1);
	for (i = 0; i < 3; i++) {
		memset(&r, 0, sizeof r);
		start(e, "GET", ts_url(&tls, 1, "/hello"),
		    ts_path("certs/ca.pem"), 5000, 1024, &r);
		ts_run(base, &r.done, 1, 10000);
		ck_assert_int_eq(r.status, 200);
		result_clear(&r);
	}
	c2 = server_connections(base, e, &tls, 1);
	ck_assert_int_eq(c2, c1);
	http_engine_free(e);
	event_base_free(base);
}
END_TEST

START_TEST(test_parallel)
{
	struct event_base	*base = event_base_new();
	struct http_engine	*e = http_engine_new(base);
	struct result		 r[20];
	int			 i, done = 0, never = 0;
	long			 ms = 0;

	memset(r, 0, sizeof r);
	for (i = 0; i < 20; i++)
		start(e, "GET", ts_url(&plain, 0, "/slow/300"), NULL, 10000,
		    1024, &r[i]);
	ck_assert_uint_eq(http_engine_active(e), 20);
	while (done < 20 && ms < 15000) {
		ms += ts_run(base, &never, 1, 20);
		for (done = 0, i = 0; i < 20; i++)
			done += r[i].done;
	}
	ck_assert_int_eq(done, 20);
	/* 20 x 300 ms one after another would take 6 s. */
	ck_assert_int_lt(ms, 4000);
	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(r[i].status, 200);
		result_clear(&r[i]);
	}
	ck_assert_uint_eq(http_engine_active(e), 0);
	http_engine_free(e);
	event_base_free(base);
}
END_TEST

START_TEST(test_tls_untrusted)
{
	struct result	r;

	fetch(ts_url(&tls, 1, "/hello"), NULL, 5000, 1024, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(r.code, CURLE_PEER_FAILED_VERIFICATION);
	ck_assert_ptr_nonnull(r.error);
	result_clear(&r);
}
END_TEST

START_TEST(test_tls_ca_file)
{
	struct result	r;

	fetch(ts_url(&tls, 1, "/hello"), ts_path("certs/ca.pem"), 5000, 1024,
	    &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_null(r.error);
	ck_assert_str_eq(r.body, "hello");
	result_clear(&r);
}
END_TEST

START_TEST(test_tls_rogue)
{
	struct result	r;

	fetch(ts_url(&rogue, 1, "/hello"), ts_path("certs/ca.pem"), 5000,
	    1024, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(r.code, CURLE_PEER_FAILED_VERIFICATION);
	result_clear(&r);
	fetch(ts_url(&rogue, 1, "/hello"), NULL, 5000, 1024, &r);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(r.code, CURLE_PEER_FAILED_VERIFICATION);
	result_clear(&r);
}
END_TEST

static void
copy_file(const char *from, const char *to)
{
	char	*s = ts_slurp(from), tmp[300];
	FILE	*f;

	snprintf(tmp, sizeof tmp, "%s.tmp", to);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fputs(s, f);
	fclose(f);
	ck_assert_int_eq(rename(tmp, to), 0);
	free(s);
}

START_TEST(test_tls_ca_file_reloaded)
{
	struct event_base	*base = event_base_new();
	struct http_engine	*e = http_engine_new(base);
	struct result		 r;
	char			 anchor[300];

	snprintf(anchor, sizeof anchor, "%s/anchor-%d.pem", ts_dir,
	    (int)getpid());
	copy_file(ts_path("certs/ca.pem"), anchor);
	memset(&r, 0, sizeof r);
	start(e, "GET", ts_url(&tls, 1, "/hello"), anchor, 5000, 1024, &r);
	ts_run(base, &r.done, 1, 10000);
	ck_assert_int_eq(r.status, 200);
	result_clear(&r);

	/* The operator swaps the anchor: the engine sees the new file. */
	copy_file(ts_path("certs/rogue-ca.pem"), anchor);
	start(e, "GET", ts_url(&rogue, 1, "/hello"), anchor, 5000, 1024, &r);
	ts_run(base, &r.done, 1, 10000);
	ck_assert_int_eq(r.status, 200);
	result_clear(&r);
	start(e, "GET", ts_url(&tls, 1, "/slow/1"), anchor, 5000, 1024, &r);
	ts_run(base, &r.done, 1, 10000);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_eq(r.code, CURLE_PEER_FAILED_VERIFICATION);
	result_clear(&r);
	unlink(anchor);
	http_engine_free(e);
	event_base_free(base);
}
END_TEST

/* A request already started keeps the bundle it was given when the anchor
 * is rebuilt under it (libcurl reads the blob in place, not a copy). */
START_TEST(test_tls_ca_file_rebuilt_in_flight)
{
	struct event_base	*base = event_base_new();
	struct http_engine	*e = http_engine_new(base);
	struct result		 old, new;
	char			 anchor[300];

	snprintf(anchor, sizeof anchor, "%s/inflight-%d.pem", ts_dir,
	    (int)getpid());
	copy_file(ts_path("certs/ca.pem"), anchor);
	memset(&old, 0, sizeof old);
	memset(&new, 0, sizeof new);
	start(e, "GET", ts_url(&tls, 1, "/hello"), anchor, 5000, 1024, &old);
	copy_file(ts_path("certs/rogue-ca.pem"), anchor);
	start(e, "GET", ts_url(&rogue, 1, "/hello"), anchor, 5000, 1024, &new);
	ts_run(base, &old.done, 1, 10000);
	ts_run(base, &new.done, 1, 10000);
	ck_assert_int_eq(old.status, 200);
	ck_assert_int_eq(new.status, 200);
	result_clear(&old);
	result_clear(&new);
	unlink(anchor);
	http_engine_free(e);
	event_base_free(base);
}
END_TEST

START_TEST(test_tls_bad_ca_file)
{
	struct event_base	*base = event_base_new();
	struct http_engine	*e = http_engine_new(base);
	struct result		 r;
	char			*err = NULL, junk[300];
	CURL			*easy = curl_easy_init();
	FILE			*f;

	ck_assert_int_eq(http_tls_apply(e, easy, "/nonexistent/ca.pem",
	    NULL, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "/nonexistent/ca.pem"));
	free(err);

	snprintf(junk, sizeof junk, "%s/junk-%d.pem", ts_dir, (int)getpid());
	f = fopen(junk, "w");
	fputs("this is not a certificate\n", f);
	fclose(f);
	ck_assert_int_eq(http_tls_apply(e, easy, junk, NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "no PEM certificate"));
	free(err);
	/* A private key alone holds no certificate either. */
	ck_assert_int_eq(http_tls_apply(e, easy, ts_path("certs/ca.key"),
	    NULL, &err), -1);
	free(err);
	ck_assert_int_eq(http_tls_apply(e, easy, ts_path("certs/ca.pem"),
	    NULL, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(http_tls_apply(e, easy, NULL, NULL, &err), 0);
	curl_easy_cleanup(easy);

	/* Through http_request: an error, from the loop. */
	memset(&r, 0, sizeof r);
	start(e, "GET", ts_url(&tls, 1, "/hello"), junk, 5000, 1024, &r);
	ck_assert_int_eq(r.done, 0);
	ck_assert_uint_eq(http_engine_active(e), 1);
	ts_run(base, &r.done, 1, 5000);
	ck_assert_int_eq(r.done, 1);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.error, "no PEM certificate"));
	result_clear(&r);
	unlink(junk);
	http_engine_free(e);
	event_base_free(base);
}
END_TEST

START_TEST(test_cancel)
{
	struct event_base	*base = event_base_new();
	struct http_engine	*e = http_engine_new(base);
	struct http_call	*c1, *c2;
	struct result		 r1, r2, r3;
	int			 never = 0;

	memset(&r1, 0, sizeof r1);
	memset(&r2, 0, sizeof r2);
	memset(&r3, 0, sizeof r3);
	c1 = start(e, "GET", ts_url(&plain, 0, "/slow/500"), NULL, 5000,
	    1024, &r1);
	http_call_cancel(c1);	/* before it ever ran */
	c2 = start(e, "GET", ts_url(&plain, 0, "/slow/500"), NULL, 5000,
	    1024, &r2);
	start(e, "GET", ts_url(&plain, 0, "/slow/600"), NULL, 5000, 1024,
	    &r3);
	ts_run(base, &never, 1, 200);
	http_call_cancel(c2);	/* in flight */
	ts_run(base, &r3.done, 1, 5000);
	ts_run(base, &never, 1, 300);
	ck_assert_int_eq(r1.done, 0);
	ck_assert_int_eq(r2.done, 0);
	ck_assert_int_eq(r3.done, 1);
	ck_assert_int_eq(r3.status, 200);
	result_clear(&r3);
	ck_assert_uint_eq(http_engine_active(e), 0);
	http_engine_free(e);
	event_base_free(base);
}
END_TEST

static void
aborted_cb(CURL *easy, CURLcode rc, void *arg)
{
	(void)easy;
	*(CURLcode *)arg = rc;
}

START_TEST(test_free_in_flight)
{
	struct event_base	*base = event_base_new();
	struct http_engine	*e = http_engine_new(base);
	struct result		 r[3];
	int			 never = 0;
	CURL			*easy;
	CURLcode		 xfer_rc = CURLE_OK;

	memset(r, 0, sizeof r);
	start(e, "GET", ts_url(&plain, 0, "/slow/1000"), NULL, 5000, 1024,
	    &r[0]);
	start(e, "GET", ts_url(&tls, 1, "/slow/1000"),
	    ts_path("certs/ca.pem"), 5000, 1024, &r[1]);
	easy = curl_easy_init();
	curl_easy_setopt(easy, CURLOPT_URL, ts_url(&plain, 0, "/slow/1000"));
	xfer_start(e, easy, aborted_cb, &xfer_rc);
	ts_run(base, &never, 1, 200);
	/* And one that failed but was not reported yet. */
	start(e, "GET", ts_url(&tls, 1, "/hello"), "/nonexistent", 5000,
	    1024, &r[2]);
	ck_assert_uint_eq(http_engine_active(e), 4);
	/* HTTP calls get no callback; a generic transfer's owner is told,
	 * so it can release what it holds. Leaks show under ASan. */
	http_engine_free(e);
	ck_assert_int_eq(xfer_rc, CURLE_ABORTED_BY_CALLBACK);
	ts_run(base, &never, 1, 100);
	ck_assert_int_eq(r[0].done + r[1].done + r[2].done, 0);
	curl_easy_cleanup(easy);	/* a generic transfer's easy is ours */
	event_base_free(base);
}
END_TEST

struct chain {
	struct http_engine	*e;
	int			 left;
	int			 done;
	struct result		 r;
};

static void
chain_cb(const struct http_response *resp, void *arg)
{
	struct chain		*ch = arg;
	struct http_request	 req;

	ck_assert_int_eq(resp->status, 200);
	ch->done++;
	if (--ch->left == 0)
		return;
	/* Starting the next request from a completion is fine. */
	memset(&req, 0, sizeof req);
	req.method = "GET";
	req.url = ts_url(&plain, 0, "/hello");
	req.timeout_ms = 5000;
	req.max_response = 1024;
	http_request(ch->e, &req, chain_cb, ch);
}

START_TEST(test_chain_from_callback)
{
	struct event_base	*base = event_base_new();
	struct chain		 ch;
	struct http_request	 req;

	memset(&ch, 0, sizeof ch);
	ch.e = http_engine_new(base);
	ch.left = 4;
	memset(&req, 0, sizeof req);
	req.url = ts_url(&plain, 0, "/hello");
	req.timeout_ms = 5000;
	req.max_response = 1024;
	http_request(ch.e, &req, chain_cb, &ch);
	ts_run(base, &ch.done, 4, 10000);
	ck_assert_int_eq(ch.done, 4);
	http_engine_free(ch.e);
	event_base_free(base);
}
END_TEST

struct killer {
	struct http_engine	*e;
	int			 calls;
};

static void
killer_cb(const struct http_response *resp, void *arg)
{
	struct killer	*k = arg;

	(void)resp;
	k->calls++;
	/* Freeing the engine from a completion must not crash; the other
	 * transfers end without a callback. */
	http_engine_free(k->e);
}

START_TEST(test_free_from_callback)
{
	struct event_base	*base = event_base_new();
	struct killer		 k;
	struct http_request	 req;
	int			 never = 0;

	memset(&k, 0, sizeof k);
	k.e = http_engine_new(base);
	memset(&req, 0, sizeof req);
	req.url = ts_url(&plain, 0, "/hello");
	req.timeout_ms = 5000;
	req.max_response = 1024;
	http_request(k.e, &req, killer_cb, &k);
	req.url = ts_url(&plain, 0, "/slow/800");
	http_request(k.e, &req, killer_cb, &k);
	ts_run(base, &k.calls, 1, 5000);
	ck_assert_int_eq(k.calls, 1);
	ts_run(base, &never, 1, 1200);
	ck_assert_int_eq(k.calls, 1);
	event_base_free(base);
}
END_TEST

struct generic {
	struct buf	body;
	int		done;
	CURLcode	code;
	long		status;
};

static size_t
generic_write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct generic	*g = arg;

	buf_append(&g->body, p, size * n);
	return size * n;
}

static void
generic_done_cb(CURL *easy, CURLcode code, void *arg)
{
	struct generic	*g = arg;

	g->code = code;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &g->status);
	g->done++;
	curl_easy_cleanup(easy);	/* ours again once done runs */
}

START_TEST(test_xfer_generic)
{
	struct event_base	*base = event_base_new();
	struct http_engine	*e = http_engine_new(base);
	struct generic		 g;
	CURL			*easy, *easy2;
	struct xfer		*x;
	int			 never = 0;

	memset(&g, 0, sizeof g);
	buf_init(&g.body);
	easy = curl_easy_init();
	curl_easy_setopt(easy, CURLOPT_URL, ts_url(&plain, 0, "/hello"));
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, generic_write_cb);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &g);
	xfer_start(e, easy, generic_done_cb, &g);
	ts_run(base, &g.done, 1, 5000);
	ck_assert_int_eq(g.done, 1);
	ck_assert_int_eq(g.code, CURLE_OK);
	ck_assert_int_eq(g.status, 200);
	ck_assert_str_eq(buf_cstr(&g.body), "hello");

	/* Cancelled: no callback, the easy stays the caller's. */
	easy2 = curl_easy_init();
	curl_easy_setopt(easy2, CURLOPT_URL, ts_url(&plain, 0, "/slow/300"));
	curl_easy_setopt(easy2, CURLOPT_WRITEFUNCTION, generic_write_cb);
	curl_easy_setopt(easy2, CURLOPT_WRITEDATA, &g);
	x = xfer_start(e, easy2, generic_done_cb, &g);
	ts_run(base, &never, 1, 50);
	xfer_cancel(x);
	ts_run(base, &never, 1, 500);
	ck_assert_int_eq(g.done, 1);
	curl_easy_cleanup(easy2);
	buf_free(&g.body);
	http_engine_free(e);
	event_base_free(base);
}
END_TEST

START_TEST(test_url_origin)
{
	static const char *const cases[][2] = {
		{ "https://user:pw@Host.example:8443/p/a?token=x#frag",
		    "https://host.example:8443" },
		{ "https://graph.microsoft.com/v1.0/auditLogs/signIns?"
		    "$filter=userId%20eq%20'x'", "https://graph.microsoft.com" },
		{ "https://graph.microsoft.com:443/x", "https://graph.microsoft.com" },
		{ "http://127.0.0.1:8080/secret-path", "http://127.0.0.1:8080" },
		{ "http://[::1]:9/x", "http://[::1]:9" },
		{ "smtps://mail.example:465", "smtps://mail.example" },
		{ "smtp://mail.example:587", "smtp://mail.example:587" },
	};
	char	*o;
	size_t	 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		o = url_origin(cases[i][0]);
		ck_assert_str_eq(o, cases[i][1]);
		free(o);
	}
	o = url_origin("not a url at all with token=abc");
	ck_assert_ptr_null(strstr(o, "token"));
	free(o);
	o = url_origin(NULL);
	ck_assert_ptr_nonnull(o);
	free(o);
}
END_TEST

START_TEST(test_url_is_loopback)
{
	static const char *const yes[] = {
		"http://127.0.0.1:8080/", "http://127.255.1.2/x",
		"https://localhost:443/", "http://LocalHost/",
		"http://[::1]:9/", "http://user:pw@127.0.0.1/",
	};
	static const char *const no[] = {
		"http://128.0.0.1/", "http://localhost.evil.example/",
		"http://127.0.0.1.evil.example/", "http://[::2]/",
		"http://169.254.169.254/metadata", "https://example.com/",
		"http://evil.example/?u=http://127.0.0.1/", "not a url", "",
		"http://10.0.0.1/",
	};
	size_t	i;

	for (i = 0; i < sizeof yes / sizeof yes[0]; i++)
		ck_assert_msg(url_is_loopback(yes[i]), "%s", yes[i]);
	for (i = 0; i < sizeof no / sizeof no[0]; i++)
		ck_assert_msg(!url_is_loopback(no[i]), "%s", no[i]);
	ck_assert(!url_is_loopback(NULL));
}
END_TEST

START_TEST(test_url_escape)
{
	char	*s;

	s = url_escape("a b&c=d/\xc3\xa9~._-+%");
	ck_assert_str_eq(s, "a%20b%26c%3Dd%2F%C3%A9~._-%2B%25");
	free(s);
	s = url_escape("");
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

static Suite *
http_suite(void)
{
	Suite	*s = suite_create("http");
	TCase	*tc;

	tc = tcase_create("engine");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_get);
	tcase_add_test(tc, test_post_body_copied);
	tcase_add_test(tc, test_too_large_content_length);
	tcase_add_test(tc, test_too_large_chunked);
	tcase_add_test(tc, test_at_cap);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_connect_refused);
	tcase_add_test(tc, test_retry_after_seconds);
	tcase_add_test(tc, test_retry_after_date);
	tcase_add_test(tc, test_no_redirect);
	tcase_add_test(tc, test_connection_reuse);
	tcase_add_test(tc, test_tls_reuse);
	tcase_add_test(tc, test_parallel);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_free_in_flight);
	tcase_add_test(tc, test_chain_from_callback);
	tcase_add_test(tc, test_free_from_callback);
	tcase_add_test(tc, test_xfer_generic);
	suite_add_tcase(s, tc);

	tc = tcase_create("tls");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_tls_untrusted);
	tcase_add_test(tc, test_tls_ca_file);
	tcase_add_test(tc, test_tls_rogue);
	tcase_add_test(tc, test_tls_ca_file_reloaded);
	tcase_add_test(tc, test_tls_ca_file_rebuilt_in_flight);
	tcase_add_test(tc, test_tls_bad_ca_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("url");
	tcase_add_test(tc, test_url_origin);
	tcase_add_test(tc, test_url_is_loopback);
	tcase_add_test(tc, test_url_escape);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	ts_require_tools();
	/* Proxies from the environment must not catch loopback traffic. */
	unsetenv("http_proxy");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	unsetenv("all_proxy");
	log_init(LOG_WARNING, LOG_FORMAT_TEXT);
	ts_scratch("check-http");
	ts_make_certs();
	ts_start(&plain, "plain", NULL, NULL);
	ts_start(&tls, "tls", "server.pem", "server.key");
	ts_start(&rogue, "rogue", "rogue-server.pem", "rogue-server.key");

	sr = srunner_create(http_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);

	ts_stop(&plain);
	ts_stop(&tls);
	ts_stop(&rogue);
	ts_scratch_remove();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
