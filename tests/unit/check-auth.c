/* check-auth: client-credentials tokens against helpers/httpd.py's
 * Entra-like token endpoint on 127.0.0.1 over TLS. */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>
#include <jansson.h>

#include "auth.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "xmalloc.h"

#include "helpers/testserver.h"

/* As helpers/httpd.py expects them. */
#define SECRET		"S3cr3t+/=&% value"
#define SECRET_ESC	"S3cr3t%2B%2F%3D%26%25%20value"
#define CLIENT_ID	"11111111-1111-1111-1111-111111111111"
#define SCOPE		"https://api.loganalytics.io/.default"

static struct test_server	server;
static struct test_server	plain;	/* http://, for the IMDS routes */

struct fixture {
	struct event_base	*base;
	struct http_engine	*http;
	struct tenant_config	 tenant;
	char			 login[128];
	char			 secret_file[256];
	int			 saved_stderr;
	char			 log[256];
};

struct got {
	int	 done;
	char	*token;
	long	 status;
	char	*error;
	long	 aadsts;
	char	*description;
	int	 permanent;
	int64_t	 retry_after;
};

static void
write_file(const char *path, const char *text)
{
	int	fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* behaviour: the tenant id, which tells httpd.py how to answer. */
static void
fixture_init(struct fixture *f, const char *behaviour, const char *secret)
{
	memset(f, 0, sizeof *f);
	f->base = event_base_new();
	f->http = http_engine_new(f->base);
	/* A trailing slash in the login endpoint must not matter. */
	snprintf(f->login, sizeof f->login, "https://127.0.0.1:%d/",
	    server.port);
	snprintf(f->secret_file, sizeof f->secret_file, "%s/secret-%d",
	    ts_dir, (int)getpid());
	if (secret != NULL)
		write_file(f->secret_file, secret);
	f->tenant.name = "contoso";
	f->tenant.tenant_id = (char *)behaviour;
	f->tenant.endpoints.login = f->login;
	f->tenant.ca_file = ts_path("certs/ca.pem");
	f->tenant.credentials.client_id = CLIENT_ID;
	f->tenant.credentials.client_secret_file = f->secret_file;
	f->saved_stderr = -1;
}

static void
fixture_free(struct fixture *f)
{
	unlink(f->secret_file);
	http_engine_free(f->http);
	event_base_free(f->base);
}

/* Log lines go to a file the test reads back. */
static void
capture_begin(struct fixture *f)
{
	int	fd;

	snprintf(f->log, sizeof f->log, "%s/log-%d", ts_dir, (int)getpid());
	fd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	f->saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
	log_init(LOG_DEBUG, LOG_FORMAT_TEXT);
}

static char *
capture_end(struct fixture *f)
{
	char	*s;

	fflush(stderr);
	dup2(f->saved_stderr, 2);
	close(f->saved_stderr);
	f->saved_stderr = -1;
	log_init(LOG_WARNING, LOG_FORMAT_TEXT);
	s = ts_slurp(f->log);
	unlink(f->log);
	return s;
}

static void
got_cb(const char *token, const struct auth_error *err, void *arg)
{
	struct got	*g = arg;

	g->done++;
	free(g->token);
	free(g->error);
	free(g->description);
	g->token = g->error = g->description = NULL;
	if (token != NULL) {
		ck_assert_ptr_null(err);
		g->token = xstrdup(token);
		return;
	}
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(err->error);
	ck_assert_ptr_nonnull(err->description);
	g->status = err->http_status;
	g->error = xstrdup(err->error);
	g->aadsts = err->aadsts;
	g->description = xstrdup(err->description);
	g->permanent = err->permanent;
	g->retry_after = err->retry_after;
}

static void
got_clear(struct got *g)
{
	free(g->token);
	free(g->error);
	free(g->description);
	memset(g, 0, sizeof *g);
}

struct stats {
	json_t	*o;
	int	 done;
};

static void
stats_cb(const struct http_response *r, void *arg)
{
	struct stats	*st = arg;

	st->o = json_loadb(r->body, r->body_len, 0, NULL);
	st->done++;
}

/* A counter of the token server: "tokens" or "requests". */
static long
server_stat(struct fixture *f, const char *key)
{
	struct http_request	 req;
	struct stats		 st;
	long			 n;

	memset(&st, 0, sizeof st);
	memset(&req, 0, sizeof req);
	req.url = ts_url(&server, 1, "/stats");
	req.ca_file = ts_path("certs/ca.pem");
	req.timeout_ms = 5000;
	req.max_response = 4096;
	http_request(f->http, &req, stats_cb, &st);
	ts_run(f->base, &st.done, 1, 10000);
	ck_assert_ptr_nonnull(st.o);
	n = (long)json_integer_value(json_object_get(st.o, key));
	json_decref(st.o);
	return n;
}

/* One auth_get, run to its answer. */
static void
get_one(struct fixture *f, struct auth *a, struct got *g)
{
	int	before = g->done;

	auth_get(a, got_cb, g);
	/* Never answered from inside auth_get, even from the cache. */
	ck_assert_int_eq(g->done, before);
	ts_run(f->base, &g->done, before + 1, 10000);
	ck_assert_int_eq(g->done, before + 1);
}

START_TEST(test_token_cached)
{
	struct fixture	 f;
	struct auth	*a;
	struct got	 g1, g2;
	long		 t0;
	char		*log;

	fixture_init(&f, "contoso", SECRET "\n");
	memset(&g1, 0, sizeof g1);
	memset(&g2, 0, sizeof g2);
	t0 = server_stat(&f, "tokens");
	a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	capture_begin(&f);
	get_one(&f, a, &g1);
	log = capture_end(&f);
	ck_assert_ptr_nonnull(g1.token);
	ck_assert_ptr_nonnull(strstr(g1.token, "-contoso."));
	ck_assert_uint_eq(auth_refresh_count(a), 1);
	ck_assert_ptr_null(strstr(log, g1.token));
	ck_assert_ptr_null(strstr(log, ".tok"));

	get_one(&f, a, &g2);
	ck_assert_str_eq(g2.token, g1.token);
	ck_assert_uint_eq(auth_refresh_count(a), 1);
	ck_assert_int_eq(server_stat(&f, "tokens"), t0 + 1);
	free(log);
	got_clear(&g1);
	got_clear(&g2);
	auth_free(a);
	fixture_free(&f);
}
END_TEST

START_TEST(test_invalidate)
{
	struct fixture	 f;
	struct auth	*a;
	struct got	 g;
	char		*t1;

	fixture_init(&f, "contoso", SECRET "\n");
	memset(&g, 0, sizeof g);
	a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	get_one(&f, a, &g);
	t1 = xstrdup(g.token);
	/* Another token (an old one, say) does not drop the cached one. */
	auth_invalidate(a, "eyJ0eXAi.someone-else");
	get_one(&f, a, &g);
	ck_assert_str_eq(g.token, t1);
	ck_assert_uint_eq(auth_refresh_count(a), 1);
	/* The service refused t1: the next caller gets a new token. */
	auth_invalidate(a, t1);
	get_one(&f, a, &g);
	ck_assert_str_ne(g.token, t1);
	ck_assert_uint_eq(auth_refresh_count(a), 2);
	free(t1);
	got_clear(&g);
	auth_free(a);
	fixture_free(&f);
}
END_TEST

START_TEST(test_expires_in_string)
{
	struct fixture	 f;
	struct auth	*a;
	struct got	 g;
	char		*t1;

	fixture_init(&f, "strexp", SECRET "\r\n");
	memset(&g, 0, sizeof g);
	a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	get_one(&f, a, &g);
	ck_assert_ptr_nonnull(g.token);
	t1 = xstrdup(g.token);
	get_one(&f, a, &g);
	ck_assert_str_eq(g.token, t1);
	ck_assert_uint_eq(auth_refresh_count(a), 1);
	free(t1);
	got_clear(&g);
	auth_free(a);
	fixture_free(&f);
}
END_TEST

START_TEST(test_short_lived_not_cached)
{
	struct fixture	 f;
	struct auth	*a;
	struct got	 g;
	char		*t1;

	/* expires_in 30 is inside the 60 s renewal margin. */
	fixture_init(&f, "short", SECRET);
	memset(&g, 0, sizeof g);
	a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	get_one(&f, a, &g);
	ck_assert_ptr_nonnull(g.token);
	t1 = xstrdup(g.token);
	get_one(&f, a, &g);
	ck_assert_ptr_nonnull(g.token);
	ck_assert_str_ne(g.token, t1);
	ck_assert_uint_eq(auth_refresh_count(a), 2);
	free(t1);
	got_clear(&g);
	auth_free(a);
	fixture_free(&f);
}
END_TEST

START_TEST(test_concurrent_waiters_share)
{
	struct fixture	 f;
	struct auth	*a;
	struct got	 g[3];
	long		 t0;
	int		 done = 0, never = 0, i, ms = 0;

	fixture_init(&f, "slow", SECRET "\n");
	memset(g, 0, sizeof g);
	t0 = server_stat(&f, "tokens");
	a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	auth_get(a, got_cb, &g[0]);
	auth_get(a, got_cb, &g[1]);
	ts_run(f.base, &never, 1, 100);	/* the request is in flight */
	auth_get(a, got_cb, &g[2]);
	while (done < 3 && ms < 10000) {
		ms += ts_run(f.base, &never, 1, 20);
		done = g[0].done + g[1].done + g[2].done;
	}
	ck_assert_int_eq(done, 3);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(g[i].done, 1);
		ck_assert_ptr_nonnull(g[i].token);
		ck_assert_str_eq(g[i].token, g[0].token);
	}
	ck_assert_uint_eq(auth_refresh_count(a), 1);
	ck_assert_int_eq(server_stat(&f, "tokens"), t0 + 1);
	for (i = 0; i < 3; i++)
		got_clear(&g[i]);
	auth_free(a);
	fixture_free(&f);
}
END_TEST

START_TEST(test_bad_secret)
{
	struct fixture	 f;
	struct auth	*a;
	struct got	 g;
	char		*log;

	fixture_init(&f, "contoso", "wrong-Secret-Value-42\n");
	memset(&g, 0, sizeof g);
	a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	capture_begin(&f);
	get_one(&f, a, &g);
	log = capture_end(&f);
	ck_assert_ptr_null(g.token);
	ck_assert_int_eq(g.status, 401);
	ck_assert_str_eq(g.error, "invalid_client");
	ck_assert_int_eq(g.aadsts, 7000215);
	ck_assert_msg(strncmp(g.description, "AADSTS7000215: Invalid client "
	    "secret provided.", 44) == 0, "%s", g.description);
	ck_assert_ptr_null(strstr(g.description, "Trace ID"));
	ck_assert_int_eq(g.permanent, 1);
	ck_assert_int_eq(g.retry_after, -1);
	ck_assert_uint_eq(auth_refresh_count(a), 0);

	ck_assert_msg(strstr(log, "tenant contoso: token request failed: "
	    "HTTP 401 invalid_client AADSTS7000215: Invalid client secret "
	    "provided.") != NULL, "%s", log);
	ck_assert_ptr_null(strstr(log, "Trace ID"));
	ck_assert_ptr_null(strstr(log, "wrong-Secret-Value-42"));
	ck_assert_ptr_null(strstr(log, "client_secret="));
	/* One line per failure. */
	ck_assert_ptr_eq(strchr(log, '\n'), strrchr(log, '\n'));
	free(log);
	got_clear(&g);
	auth_free(a);
	fixture_free(&f);
}
END_TEST

START_TEST(test_secret_never_logged)
{
	struct fixture	 f;
	struct auth	*a, *b;
	struct got	 g;
	char		*log, *t1, *t2;

	fixture_init(&f, "contoso", SECRET "\n");
	memset(&g, 0, sizeof g);
	capture_begin(&f);
	a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	get_one(&f, a, &g);
	t1 = xstrdup(g.token);
	auth_invalidate(a, t1);
	get_one(&f, a, &g);
	t2 = xstrdup(g.token);
	f.tenant.tenant_id = "throttled";
	b = auth_new(f.http, &f.tenant, SCOPE, 5000);
	get_one(&f, b, &g);
	ck_assert_ptr_null(g.token);
	log = capture_end(&f);

	ck_assert_ptr_nonnull(strstr(log, "token request failed"));
	ck_assert_ptr_null(strstr(log, SECRET));
	ck_assert_ptr_null(strstr(log, SECRET_ESC));
	ck_assert_ptr_null(strstr(log, "S3cr3t"));
	ck_assert_ptr_null(strstr(log, t1));
	ck_assert_ptr_null(strstr(log, t2));
	ck_assert_ptr_null(strstr(log, "SIGNATURE"));
	ck_assert_ptr_null(strstr(log, "Bearer "));
	free(log);
	free(t1);
	free(t2);
	got_clear(&g);
	auth_free(a);
	auth_free(b);
	fixture_free(&f);
}
END_TEST

START_TEST(test_secret_from_env)
{
	struct fixture	 f;
	struct auth	*a;
	struct got	 g;

	fixture_init(&f, "contoso", NULL);
	f.tenant.credentials.client_secret_file = NULL;
	f.tenant.credentials.client_secret_env = "GW_CHECK_AUTH_SECRET";
	memset(&g, 0, sizeof g);
	a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	unsetenv("GW_CHECK_AUTH_SECRET");
	get_one(&f, a, &g);
	ck_assert_ptr_null(g.token);
	ck_assert_int_eq(g.permanent, 1);
	ck_assert_ptr_nonnull(strstr(g.description, "GW_CHECK_AUTH_SECRET"));

	/* Read at each request: setting it later is picked up. */
	setenv("GW_CHECK_AUTH_SECRET", SECRET, 1);
	get_one(&f, a, &g);
	ck_assert_ptr_nonnull(g.token);
	unsetenv("GW_CHECK_AUTH_SECRET");
	got_clear(&g);
	auth_free(a);
	fixture_free(&f);
}
END_TEST

START_TEST(test_secret_file_missing)
{
	struct fixture	 f;
	struct auth	*a;
	struct got	 g;
	long		 r0;

	fixture_init(&f, "contoso", NULL);
	memset(&g, 0, sizeof g);
	r0 = server_stat(&f, "requests");
	a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	get_one(&f, a, &g);
	ck_assert_ptr_null(g.token);
	ck_assert_int_eq(g.status, 0);
	ck_assert_int_eq(g.permanent, 1);
	ck_assert_ptr_nonnull(strstr(g.description, f.secret_file));
	/* Only the stats request itself reached the server. */
	ck_assert_int_eq(server_stat(&f, "requests"), r0 + 1);

	/* Rotated in: the next request reads it. */
	write_file(f.secret_file, SECRET "\n");
	get_one(&f, a, &g);
	ck_assert_ptr_nonnull(g.token);
	got_clear(&g);
	auth_free(a);
	fixture_free(&f);
}
END_TEST

START_TEST(test_throttled)
{
	struct fixture	 f;
	struct auth	*a;
	struct got	 g;

	fixture_init(&f, "throttled", SECRET);
	memset(&g, 0, sizeof g);
	a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	get_one(&f, a, &g);
	ck_assert_ptr_null(g.token);
	ck_assert_int_eq(g.status, 429);
	ck_assert_str_eq(g.error, "temporarily_unavailable");
	ck_assert_int_eq(g.aadsts, 90055);
	ck_assert_int_eq(g.permanent, 0);
	ck_assert_int_eq(g.retry_after, 9);
	got_clear(&g);
	auth_free(a);
	fixture_free(&f);
}
END_TEST

START_TEST(test_unknown_app)
{
	struct fixture	 f;
	struct auth	*a;
	struct got	 g;

	fixture_init(&f, "noapp", SECRET);
	memset(&g, 0, sizeof g);
	a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	get_one(&f, a, &g);
	ck_assert_int_eq(g.status, 400);
	ck_assert_str_eq(g.error, "unauthorized_client");
	ck_assert_int_eq(g.aadsts, 700016);
	ck_assert_int_eq(g.permanent, 1);
	got_clear(&g);
	auth_free(a);
	fixture_free(&f);
}
END_TEST

START_TEST(test_bad_gateway)
{
	struct fixture	 f;
	struct auth	*a;
	struct got	 g;

	fixture_init(&f, "broken", SECRET);
	memset(&g, 0, sizeof g);
	a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	get_one(&f, a, &g);
	ck_assert_int_eq(g.status, 502);
	ck_assert_str_eq(g.error, "");
	ck_assert_ptr_nonnull(strstr(g.description, "no OAuth error"));
	ck_assert_int_eq(g.permanent, 0);
	got_clear(&g);
	auth_free(a);
	fixture_free(&f);
}
END_TEST

START_TEST(test_malformed_success)
{
	static const char *const cases[][2] = {
		{ "notjson", "not a JSON object" },
		{ "badtype", "token_type" },
	};
	struct fixture	 f;
	struct auth	*a;
	struct got	 g;
	size_t		 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fixture_init(&f, cases[i][0], SECRET);
		memset(&g, 0, sizeof g);
		a = auth_new(f.http, &f.tenant, SCOPE, 5000);
		get_one(&f, a, &g);
		ck_assert_ptr_null(g.token);
		ck_assert_int_eq(g.status, 200);
		ck_assert_msg(strstr(g.description, cases[i][1]) != NULL,
		    "%s", g.description);
		ck_assert_int_eq(g.permanent, 0);
		ck_assert_uint_eq(auth_refresh_count(a), 0);
		got_clear(&g);
		auth_free(a);
		fixture_free(&f);
	}
}
END_TEST

START_TEST(test_network_error)
{
	struct fixture	 f;
	struct auth	*a;
	struct got	 g;

	fixture_init(&f, "contoso", SECRET);
	snprintf(f.login, sizeof f.login, "https://127.0.0.1:%d",
	    ts_dead_port());
	memset(&g, 0, sizeof g);
	a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	get_one(&f, a, &g);
	ck_assert_ptr_null(g.token);
	ck_assert_int_eq(g.status, 0);
	ck_assert_int_eq(g.permanent, 0);
	ck_assert_str_ne(g.description, "");
	got_clear(&g);
	auth_free(a);
	fixture_free(&f);
}
END_TEST

START_TEST(test_cancel_waiter)
{
	struct fixture		 f;
	struct auth		*a;
	struct auth_wait	*w;
	struct got		 g1, g2;

	fixture_init(&f, "contoso", SECRET);
	memset(&g1, 0, sizeof g1);
	memset(&g2, 0, sizeof g2);
	a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	w = auth_get(a, got_cb, &g1);
	auth_get(a, got_cb, &g2);
	auth_cancel(w);
	ts_run(f.base, &g2.done, 1, 10000);
	ck_assert_int_eq(g1.done, 0);
	ck_assert_int_eq(g2.done, 1);
	ck_assert_ptr_nonnull(g2.token);
	/* Cancelled while its cached answer is on the way. */
	w = auth_get(a, got_cb, &g1);
	auth_cancel(w);
	get_one(&f, a, &g2);
	ck_assert_int_eq(g1.done, 0);
	got_clear(&g2);
	auth_free(a);
	fixture_free(&f);
}
END_TEST

START_TEST(test_free_in_flight)
{
	struct fixture	 f;
	struct auth	*a;
	struct got	 g;
	int		 never = 0;

	fixture_init(&f, "slow", SECRET);
	memset(&g, 0, sizeof g);
	a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	auth_get(a, got_cb, &g);
	auth_get(a, got_cb, &g);
	ts_run(f.base, &never, 1, 100);
	auth_free(a);		/* waiters cancelled silently */
	ts_run(f.base, &never, 1, 500);
	ck_assert_int_eq(g.done, 0);
	ck_assert_uint_eq(http_engine_active(f.http), 0);
	fixture_free(&f);
}
END_TEST

struct freer {
	struct auth	*a;
	int		 calls;
};

static void
freer_cb(const char *token, const struct auth_error *err, void *arg)
{
	struct freer	*fr = arg;

	(void)token;
	(void)err;
	fr->calls++;
	auth_free(fr->a);	/* from inside a callback */
}

START_TEST(test_free_from_callback)
{
	struct fixture	 f;
	struct freer	 fr;
	int		 never = 0;

	fixture_init(&f, "contoso", SECRET);
	memset(&fr, 0, sizeof fr);
	fr.a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	auth_get(fr.a, freer_cb, &fr);
	auth_get(fr.a, freer_cb, &fr);
	ts_run(f.base, &fr.calls, 1, 10000);
	ts_run(f.base, &never, 1, 200);
	ck_assert_int_eq(fr.calls, 1);
	fixture_free(&f);
}
END_TEST

struct again {
	struct auth	*a;
	struct got	 g;
	int		 rounds;
};

static void
again_cb(const char *token, const struct auth_error *err, void *arg)
{
	struct again	*ag = arg;

	got_cb(token, err, &ag->g);
	/* Asking again from the callback is answered on a later turn. */
	if (++ag->rounds < 3) {
		auth_get(ag->a, again_cb, ag);
		ck_assert_int_eq(ag->g.done, ag->rounds);
	}
}

START_TEST(test_get_from_callback)
{
	struct fixture	 f;
	struct again	 ag;

	fixture_init(&f, "contoso", SECRET);
	memset(&ag, 0, sizeof ag);
	ag.a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	auth_get(ag.a, again_cb, &ag);
	ts_run(f.base, &ag.g.done, 3, 10000);
	ck_assert_int_eq(ag.g.done, 3);
	ck_assert_uint_eq(auth_refresh_count(ag.a), 1);
	got_clear(&ag.g);
	auth_free(ag.a);
	fixture_free(&f);
}
END_TEST

/* helpers/httpd.py's record of the last "token" or "imds" request. */
static json_t *
server_last(struct fixture *f, const char *which)
{
	struct http_request	 req;
	struct stats		 st;
	json_t			*v;

	memset(&st, 0, sizeof st);
	memset(&req, 0, sizeof req);
	/* IMDS requests went to the plain server. */
	req.url = strcmp(which, "imds") == 0 ? ts_url(&plain, 0, "/last") :
	    ts_url(&server, 1, "/last");
	req.ca_file = ts_path("certs/ca.pem");
	req.timeout_ms = 5000;
	req.max_response = 65536;
	http_request(f->http, &req, stats_cb, &st);
	ts_run(f->base, &st.done, 1, 10000);
	ck_assert_ptr_nonnull(st.o);
	v = json_incref(json_object_get(st.o, which));
	json_decref(st.o);
	ck_assert_msg(json_is_object(v), "no %s request was seen", which);
	return v;
}

static const char *
jstr(json_t *o, const char *path1, const char *path2)
{
	json_t	*v = json_object_get(o, path1);

	if (path2 != NULL)
		v = json_object_get(v, path2);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void
use_certificate(struct fixture *f, int alg)
{
	f->tenant.credentials.client_secret_file = NULL;
	f->tenant.credentials.certificate_file = ts_path("certs/client.pem");
	f->tenant.credentials.private_key_file = ts_path("certs/client.key");
	f->tenant.credentials.assertion_alg = alg;
}

START_TEST(test_certificate_assertion)
{
	static const int algs[] = { ASSERTION_PS256, ASSERTION_RS256 };
	struct fixture	 f;
	struct auth	*a;
	struct got	 g;
	json_t		*last;
	char		 aud[256], *log;
	size_t		 i;

	for (i = 0; i < 2; i++) {
		fixture_init(&f, "contoso", NULL);
		use_certificate(&f, algs[i]);
		memset(&g, 0, sizeof g);
		a = auth_new(f.http, &f.tenant, SCOPE, 5000);
		capture_begin(&f);
		get_one(&f, a, &g);
		log = capture_end(&f);
		ck_assert_msg(g.token != NULL, "%s", g.description);
		last = server_last(&f, "token");
		ck_assert_str_eq(jstr(last, "content_type", NULL),
		    "application/x-www-form-urlencoded");
		ck_assert_str_eq(jstr(last, "form", "client_id"), CLIENT_ID);
		ck_assert_str_eq(jstr(last, "form", "client_assertion_type"),
		    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
		ck_assert_ptr_nonnull(jstr(last, "form", "client_assertion"));
		ck_assert_ptr_null(jstr(last, "form", "client_secret"));
		ck_assert_str_eq(jstr(last, "form", "scope"), SCOPE);
		ck_assert_str_eq(jstr(last, "form", "grant_type"),
		    "client_credentials");
		if (algs[i] == ASSERTION_PS256) {
			ck_assert_str_eq(jstr(last, "assertion_header", "alg"),
			    "PS256");
			ck_assert_ptr_nonnull(jstr(last, "assertion_header",
			    "x5t#S256"));
		} else {
			ck_assert_str_eq(jstr(last, "assertion_header", "alg"),
			    "RS256");
			ck_assert_ptr_nonnull(jstr(last, "assertion_header",
			    "x5t"));
		}
		/* aud is the token endpoint itself, without the login's
		 * trailing slash. */
		snprintf(aud, sizeof aud,
		    "https://127.0.0.1:%d/contoso/oauth2/v2.0/token",
		    server.port);
		ck_assert_str_eq(jstr(last, "assertion_claims", "aud"), aud);
		ck_assert_str_eq(jstr(last, "assertion_claims", "iss"),
		    CLIENT_ID);
		ck_assert_str_eq(jstr(last, "assertion_claims", "sub"),
		    CLIENT_ID);
		/* Neither the assertion nor the key reaches the log. */
		ck_assert_ptr_null(strstr(log, jstr(last, "form",
		    "client_assertion")));
		ck_assert_ptr_null(strstr(log, "eyJhbGci"));
		ck_assert_ptr_null(strstr(log, "PRIVATE KEY"));
		json_decref(last);
		free(log);
		got_clear(&g);
		auth_free(a);
		fixture_free(&f);
	}
}
END_TEST

START_TEST(test_certificate_key_unreadable)
{
	struct fixture	 f;
	struct auth	*a;
	struct got	 g;
	long		 r0;

	fixture_init(&f, "contoso", NULL);
	use_certificate(&f, ASSERTION_PS256);
	f.tenant.credentials.private_key_file = ts_path("certs/nokey.key");
	memset(&g, 0, sizeof g);
	r0 = server_stat(&f, "requests");
	a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	get_one(&f, a, &g);
	ck_assert_ptr_null(g.token);
	ck_assert_int_eq(g.status, 0);
	ck_assert_int_eq(g.permanent, 1);
	ck_assert_ptr_nonnull(strstr(g.description, "nokey.key"));
	ck_assert_int_eq(server_stat(&f, "requests"), r0 + 1);

	/* A key of another certificate: refused before any request. */
	f.tenant.credentials.private_key_file =
	    ts_path("certs/other-client.key");
	get_one(&f, a, &g);
	ck_assert_ptr_null(g.token);
	ck_assert_int_eq(g.permanent, 1);
	ck_assert_ptr_nonnull(strstr(g.description, "does not belong"));
	ck_assert_int_eq(server_stat(&f, "requests"), r0 + 2);
	got_clear(&g);
	auth_free(a);
	fixture_free(&f);
}
END_TEST

static void
use_imds(struct fixture *f, char *buf, size_t size, const char *prefix)
{
	snprintf(buf, size, "http://127.0.0.1:%d%s", plain.port, prefix);
	f->tenant.endpoints.imds = buf;
	f->tenant.credentials.managed_identity = 1;
	f->tenant.credentials.client_secret_file = NULL;
	f->tenant.credentials.client_id = NULL;
}

START_TEST(test_managed_identity)
{
	struct fixture	 f;
	struct auth	*a;
	struct got	 g;
	json_t		*last;
	char		 imds[128], *t1;

	fixture_init(&f, "contoso", NULL);
	use_imds(&f, imds, sizeof imds, "/");
	memset(&g, 0, sizeof g);
	a = auth_new(f.http, &f.tenant, SCOPE, 5000);
	get_one(&f, a, &g);
	ck_assert_msg(g.token != NULL, "%s", g.description);
	ck_assert_ptr_nonnull(strstr(g.token, ".mi"));
	last = server_last(&f, "imds");
	ck_assert_str_eq(jstr(last, "method", NULL), "GET");
	ck_assert_str_eq(jstr(last, "metadata", NULL), "true");
	ck_assert_str_eq(jstr(last, "path", NULL),
	    "/metadata/identity/oauth2/token");
	ck_assert_str_eq(jstr(last, "query", NULL), "api-version=2018-02-01"
	    "&resource=https%3A%2F%2Fapi.loganalytics.io");
	ck_assert_str_eq(jstr(last, "params", "resource"),
	    "https://api.loganalytics.io");
	ck_assert_ptr_null(jstr(last, "params", "client_id"));
	json_decref(last);
	/* expires_in "3599" (a string) is cached like a number. */
	t1 = xstrdup(g.token);
	get_one(&f, a, &g);
	ck_assert_str_eq(g.token, t1);
	ck_assert_uint_eq(auth_refresh_count(a), 1);
	free(t1);
	auth_free(a);

	/* A user-assigned identity is chosen by client_id. */
	f.tenant.credentials.client_id = CLIENT_ID;
	a = auth_new(f.http, &f.tenant, "https://graph.microsoft.com/.default",
	    5000);
	get_one(&f, a, &g);
	ck_assert_ptr_nonnull(g.token);
	last = server_last(&f, "imds");
	ck_assert_str_eq(jstr(last, "params", "resource"),
	    "https://graph.microsoft.com");
	ck_assert_str_eq(jstr(last, "params", "client_id"), CLIENT_ID);
	json_decref(last);
	got_clear(&g);
	auth_free(a);
	fixture_free(&f);
}
END_TEST

START_TEST(test_managed_identity_errors)
{
	static const struct {
		const char	*prefix;
		long		 status;
		int		 permanent;
	} cases[] = {
		{ "/404", 404, 0 },	/* IMDS updating */
		{ "/410", 410, 0 },
		{ "/429", 429, 0 },	/* throttled */
		{ "/500", 500, 0 },
		{ "/503", 503, 0 },
		{ "/400", 400, 1 },
		{ "/403", 403, 1 },
	};
	struct fixture	 f;
	struct auth	*a;
	struct got	 g;
	char		 imds[128];
	size_t		 i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fixture_init(&f, "contoso", NULL);
		use_imds(&f, imds, sizeof imds, cases[i].prefix);
		memset(&g, 0, sizeof g);
		a = auth_new(f.http, &f.tenant, SCOPE, 5000);
		get_one(&f, a, &g);
		ck_assert_ptr_null(g.token);
		ck_assert_int_eq(g.status, cases[i].status);
		ck_assert_msg(g.permanent == cases[i].permanent, "%ld: %d",
		    cases[i].status, g.permanent);
		ck_assert_ptr_nonnull(strstr(g.description, "scripted"));
		got_clear(&g);
		auth_free(a);
		fixture_free(&f);
	}
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite	*s = suite_create("auth");
	TCase	*tc;

	tc = tcase_create("tokens");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_token_cached);
	tcase_add_test(tc, test_invalidate);
	tcase_add_test(tc, test_expires_in_string);
	tcase_add_test(tc, test_short_lived_not_cached);
	tcase_add_test(tc, test_concurrent_waiters_share);
	tcase_add_test(tc, test_cancel_waiter);
	tcase_add_test(tc, test_free_in_flight);
	tcase_add_test(tc, test_free_from_callback);
	tcase_add_test(tc, test_get_from_callback);
	suite_add_tcase(s, tc);

	tc = tcase_create("secrets");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_secret_never_logged);
	tcase_add_test(tc, test_secret_from_env);
	tcase_add_test(tc, test_secret_file_missing);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_bad_secret);
	tcase_add_test(tc, test_throttled);
	tcase_add_test(tc, test_unknown_app);
	tcase_add_test(tc, test_bad_gateway);
	tcase_add_test(tc, test_malformed_success);
	tcase_add_test(tc, test_network_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("credentials");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_certificate_assertion);
	tcase_add_test(tc, test_certificate_key_unreadable);
	tcase_add_test(tc, test_managed_identity);
	tcase_add_test(tc, test_managed_identity_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	ts_require_tools();
	unsetenv("http_proxy");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("ALL_PROXY");
	unsetenv("all_proxy");
	log_init(LOG_WARNING, LOG_FORMAT_TEXT);
	ts_scratch("check-auth");
	ts_make_certs();
	ts_start(&server, "token", "server.pem", "server.key");
	ts_start(&plain, "imds", NULL, NULL);

	sr = srunner_create(auth_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);

	ts_stop(&server);
	ts_stop(&plain);
	ts_scratch_remove();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
