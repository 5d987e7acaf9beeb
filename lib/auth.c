/*
 * OAuth2 client credentials against the Microsoft identity platform
 * (API-FACTS 1.1-1.4), or a managed identity's token from the instance
 * metadata service (API-FACTS 1.6): one token cache per (tenant, scope),
 * one token request in flight however many callers wait. Every answer
 * reaches its caller from the loop, never from inside auth_get.
 *
 * The credential is read at each request: a client secret (file or
 * environment), or a client assertion signed with the private key
 * (jwt.c). It lives only as long as it takes to build the request body;
 * the body, the assertion, the token and anything holding them are wiped
 * before they are freed, and none of them is ever logged.
 */
#include <sys/queue.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "auth.h"
#include "auth-answer.h"
#include "config.h"
#include "http.h"
#include "jwt.h"
#include "log.h"
#include "metrics.h"
#include "secretfile.h"
#include "timeutil.h"
#include "xmalloc.h"

#define AUTH_MAX_RESPONSE	(1024 * 1024)
#define AUTH_MAX_SECRET		16384
#define AUTH_MIN_MARGIN		60	/* seconds before expiry we renew */
#define AUTH_IMDS_PATH		"/metadata/identity/oauth2/token"
#define AUTH_IMDS_VERSION	"2018-02-01"
/* urn:ietf:params:oauth:client-assertion-type:jwt-bearer, form-encoded */
#define AUTH_ASSERTION_TYPE_ESC	\
	"urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"

enum auth_kind { AUTH_SECRET, AUTH_CERTIFICATE, AUTH_MANAGED_IDENTITY };

enum wait_state {
	WAIT_QUEUED,		/* on waiters */
	WAIT_DELIVERING,	/* on delivering, its turn is coming */
	WAIT_CALLING,		/* its callback is running */
};

struct auth_wait {
	struct auth		*auth;
	enum wait_state		 state;
	auth_cb			 cb;
	void			*arg;
	TAILQ_ENTRY(auth_wait)	 entry;
};
TAILQ_HEAD(auth_waits, auth_wait);

struct auth {
	struct http_engine		*engine;
	const struct tenant_config	*tenant;
	char				*scope;
	char				*url;		/* token endpoint,
							   or IMDS + query */
	enum auth_kind			 kind;
	long				 timeout_ms;
	char				*token;
	int64_t				 renew_at;	/* monotonic us */
	struct http_call		*call;
	struct event			*kick;
	struct auth_waits		 waiters;
	struct auth_waits		 delivering;
	uint64_t			 refreshes;
	int				 depth;		/* delivering now */
	int				 dying;
};

/* Room for what we copy out of an error response. */
static void	auth_destroy(struct auth *);
static void	auth_kick_cb(evutil_socket_t, short, void *);

/* IMDS wants the v1 resource, not the v2 scope: the scope without its
 * "/.default". */
static char *
auth_resource(const char *scope)
{
	static const char	suffix[] = "/.default";
	size_t			len = strlen(scope);

	if (len >= sizeof suffix - 1 &&
	    strcmp(scope + len - (sizeof suffix - 1), suffix) == 0)
		len -= sizeof suffix - 1;
	return xstrndup(scope, len);
}

/* GET {imds}/metadata/identity/oauth2/token?api-version&resource
 * [&client_id] (API-FACTS 1.6). */
static char *
auth_imds_url(const struct tenant_config *tenant, const char *scope)
{
	const char	*imds = tenant->endpoints.imds != NULL ?
			    tenant->endpoints.imds : "http://169.254.169.254";
	const char	*cid = tenant->credentials.client_id;
	char		*res, *eres, *ecid = NULL, *url;
	size_t		 len = strlen(imds);

	while (len > 0 && imds[len - 1] == '/')
		len--;
	res = auth_resource(scope);
	eres = url_escape(res);
	if (cid != NULL)
		ecid = url_escape(cid);
	url = xasprintf("%.*s" AUTH_IMDS_PATH "?api-version=" AUTH_IMDS_VERSION
	    "&resource=%s%s%s", (int)len, imds, eres, ecid != NULL ?
	    "&client_id=" : "", ecid != NULL ? ecid : "");
	free(res);
	free(eres);
	free(ecid);
	return url;
}

struct auth *
auth_new(struct http_engine *engine, const struct tenant_config *tenant,
    const char *scope, long timeout_ms)
{
	struct auth	*a;
	const char	*login, *tenant_id;
	size_t		 len;
	char		*tid;

	a = xcalloc(1, sizeof *a);
	a->engine = engine;
	a->tenant = tenant;
	a->scope = xstrdup(scope);
	a->timeout_ms = timeout_ms;
	TAILQ_INIT(&a->waiters);
	TAILQ_INIT(&a->delivering);
	/* config.c fills both; a missing one fails at the request. */
	login = tenant->endpoints.login != NULL ? tenant->endpoints.login : "";
	tenant_id = tenant->tenant_id != NULL ? tenant->tenant_id : "";
	len = strlen(login);
	while (len > 0 && login[len - 1] == '/')
		len--;
	tid = url_escape(tenant_id);
	a->url = xasprintf("%.*s/%s/oauth2/v2.0/token", (int)len, login, tid);
	free(tid);
	if (tenant->credentials.managed_identity) {
		a->kind = AUTH_MANAGED_IDENTITY;
		free(a->url);
		a->url = auth_imds_url(tenant, scope);
	} else if (tenant->credentials.certificate_file != NULL)
		a->kind = AUTH_CERTIFICATE;
	else
		a->kind = AUTH_SECRET;
	if ((a->kick = evtimer_new(http_engine_base(engine), auth_kick_cb,
	    a)) == NULL)
		fatalx("%s: evtimer_new failed", __func__);
	return a;
}

static int
auth_token_valid(const struct auth *a)
{
	return a->token != NULL && time_mono_us() < a->renew_at;
}

/* Answers everyone waiting now; those who ask meanwhile wait for the next
 * turn. Returns 1 when a callback freed the auth. */
static int
auth_deliver(struct auth *a, const char *token, const struct auth_error *err)
{
	struct auth_wait	*w;
	char			*copy;

	/* A callback may invalidate the cached token under us. */
	copy = token != NULL ? xstrdup(token) : NULL;
	TAILQ_CONCAT(&a->delivering, &a->waiters, entry);
	TAILQ_FOREACH(w, &a->delivering, entry)
		w->state = WAIT_DELIVERING;
	a->depth++;
	while (!a->dying && (w = TAILQ_FIRST(&a->delivering)) != NULL) {
		TAILQ_REMOVE(&a->delivering, w, entry);
		w->state = WAIT_CALLING;
		w->cb(copy, copy != NULL ? NULL : err, w->arg);
		free(w);
	}
	a->depth--;
	freezero_str(copy);
	if (a->dying && a->depth == 0) {
		auth_destroy(a);
		return 1;
	}
	return 0;
}

/* Retrying will not help: the configuration or the app registration is
 * wrong. Throttling and outages are never permanent. */
static int
auth_permanent(long status, const char *error, long aadsts)
{
	static const char *const classes[] = {
		"invalid_client", "unauthorized_client", "invalid_scope",
		"invalid_request", "unsupported_grant_type", "invalid_resource",
	};
	static const long codes[] = {
		7000215, 7000222, 700016, 90002, 70011, 7000112, 700022,
		7000218, 500011, 90038,
	};
	size_t	i;

	if (status == 0 || status == 408 || status == 429 || status >= 500)
		return 0;
	if (strcmp(error, "temporarily_unavailable") == 0 ||
	    aadsts == 50196 || aadsts == 90055)
		return 0;
	for (i = 0; i < sizeof classes / sizeof classes[0]; i++)
		if (strcmp(error, classes[i]) == 0)
			return 1;
	for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (aadsts == codes[i])
			return 1;
	return status >= 400 && status < 500;
}

static void
auth_log_error(const struct auth *a, const struct auth_error *err)
{
	const char	*what = a->kind == AUTH_MANAGED_IDENTITY ?
			    "managed identity " : "";
	char		*origin, code[32] = "", retry[48] = "";

	if (err->aadsts != 0 &&
	    strncmp(err->description, "AADSTS", 6) != 0)
		snprintf(code, sizeof code, " AADSTS%ld", err->aadsts);
	if (err->retry_after >= 0)
		snprintf(retry, sizeof retry, " (retry after %llds)",
		    (long long)err->retry_after);
	if (err->http_status == 0) {
		origin = url_origin(a->url);
		log_warnx("tenant %s: %stoken request failed: %s: %s%s",
		    a->tenant->name, what, origin, err->description, retry);
		free(origin);
		return;
	}
	log_warnx("tenant %s: %stoken request failed: HTTP %ld%s%s%s%s%s%s",
	    a->tenant->name, what, err->http_status,
	    *err->error != '\0' ? " " : "",
	    err->error, code, *err->description != '\0' ? " " : "",
	    err->description, retry);
}

/* Copies at most the first line of s: error_description continues with
 * trace and correlation ids we do not need in one log line. */
static void
auth_first_line(char *dst, size_t size, const char *s)
{
	size_t	n;

	n = strcspn(s, "\r\n");
	if (n >= size)
		n = size - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* IMDS: 404 and 410 (updating), 429 (throttled) and 5xx are worth a
 * retry; any other 4xx is not (API-FACTS 1.6). */
static int
auth_imds_permanent(long status)
{
	if (status < 400 || status >= 500)
		return 0;
	return status != 404 && status != 408 && status != 410 &&
	    status != 429;
}

void
auth_answer_error(int managed_identity, const struct http_response *r,
    struct auth_error *err, struct auth_errbuf *eb)
{
	json_t		*o, *v;
	json_error_t	 jerr;

	memset(err, 0, sizeof *err);
	eb->error[0] = eb->description[0] = '\0';
	err->error = eb->error;
	err->description = eb->description;
	err->http_status = r->status;
	err->retry_after = r->retry_after;
	if (r->error != NULL) {
		snprintf(eb->description, sizeof eb->description, "%s",
		    r->error);
		err->permanent = 0;
		return;
	}
	o = json_loadb(r->body, r->body_len, 0, &jerr);
	if (json_is_object(o)) {
		if (json_is_string(v = json_object_get(o, "error")))
			auth_first_line(eb->error, sizeof eb->error,
			    json_string_value(v));
		if (json_is_string(v = json_object_get(o,
		    "error_description")))
			auth_first_line(eb->description,
			    sizeof eb->description, json_string_value(v));
		v = json_array_get(json_object_get(o, "error_codes"), 0);
		if (json_is_integer(v))
			err->aadsts = (long)json_integer_value(v);
	}
	json_decref(o);
	if (eb->error[0] == '\0' && eb->description[0] == '\0')
		snprintf(eb->description, sizeof eb->description,
		    "(no OAuth error in the %s response)",
		    r->content_type != NULL ? r->content_type : "untyped");
	if (managed_identity)
		err->permanent = auth_imds_permanent(r->status);
	else
		err->permanent = auth_permanent(r->status, eb->error,
		    err->aadsts);
}

#define AUTH_EXPIRES_MAX	86400

/* expires_in: a number, or a numeric string in v1-style answers. */
static int
auth_expires_in(json_t *v, int64_t *out)
{
	const char	*s, *p;
	int64_t		 n = 0;

	if (json_is_integer(v))
		n = json_integer_value(v);
	else if (json_is_real(v)) {
		double d = json_real_value(v);

		/* Converting an out-of-range double is undefined. */
		if (!(d > 0 && d < (double)AUTH_EXPIRES_MAX))
			return -1;
		n = (int64_t)d;
	}
	else if (json_is_string(v)) {
		s = json_string_value(v);
		if (*s == '\0' || strlen(s) > 10)
			return -1;
		for (p = s; *p != '\0'; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			n = n * 10 + (*p - '0');
		}
	} else
		return -1;
	if (n <= 0)
		return -1;
	/* Tokens live about an hour; a day caps a nonsense value. */
	*out = n > AUTH_EXPIRES_MAX ? AUTH_EXPIRES_MAX : n;
	return 0;
}

/* A token goes into an HTTP header: printable ASCII without spaces. */
static int
auth_token_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return 0;
	return 1;
}

int
auth_answer_token(const struct http_response *r, char **token,
    int64_t *expires_in, char *why, size_t whysize)
{
	json_t		*o, *tok, *type;
	json_error_t	 jerr;
	int		 rc = -1;

	o = json_loadb(r->body, r->body_len, 0, &jerr);
	if (!json_is_object(o)) {
		snprintf(why, whysize, "token response is not a JSON object "
		    "(%s)", r->content_type != NULL ? r->content_type :
		    "untyped");
		json_decref(o);
		return -1;
	}
	tok = json_object_get(o, "access_token");
	type = json_object_get(o, "token_type");
	if (!json_is_string(tok) || !auth_token_ok(json_string_value(tok)))
		snprintf(why, whysize, "malformed token response: no usable "
		    "access_token");
	else if (!json_is_string(type) ||
	    strcasecmp(json_string_value(type), "bearer") != 0)
		snprintf(why, whysize, "malformed token response: token_type "
		    "is not Bearer");
	else if (auth_expires_in(json_object_get(o, "expires_in"),
	    expires_in) == -1)
		snprintf(why, whysize, "malformed token response: no usable "
		    "expires_in");
	else {
		*token = xstrdup(json_string_value(tok));
		rc = 0;
	}
	/* jansson frees without wiping. */
	if (json_is_string(tok))
		explicit_bzero((char *)json_string_value(tok),
		    json_string_length(tok));
	json_decref(o);
	return rc;
}

/* Caches the token of a 200 answer. Returns 0, or -1 with why. */
static int
auth_parse_token(struct auth *a, const struct http_response *r, char *why,
    size_t whysize)
{
	int64_t		 expires_in, margin;
	char		*token;

	if (auth_answer_token(r, &token, &expires_in, why, whysize) == -1)
		return -1;
	freezero_str(a->token);
	a->token = token;
	margin = expires_in / 10;
	if (margin < AUTH_MIN_MARGIN)
		margin = AUTH_MIN_MARGIN;
	/* A token too short-lived to cache still serves this turn. */
	a->renew_at = time_mono_us() + (expires_in - margin) * USEC_PER_SEC;
	a->refreshes++;
	log_debug("tenant %s: new token for %s, expires in %llds",
	    a->tenant->name, a->scope, (long long)expires_in);
	return 0;
}

static void
auth_done_cb(const struct http_response *r, void *arg)
{
	struct auth		*a = arg;
	struct auth_error	 err;
	struct auth_errbuf	 eb;
	char			 why[256];

	a->call = NULL;
	if (r->error == NULL && r->status == 200) {
		if (auth_parse_token(a, r, why, sizeof why) == 0) {
			metrics_token(a->tenant->name, a->scope, 1);
			auth_deliver(a, a->token, NULL);
			return;
		}
		memset(&err, 0, sizeof err);
		err.http_status = r->status;
		err.error = "";
		err.description = why;
		err.retry_after = r->retry_after;
	} else
		auth_answer_error(a->kind == AUTH_MANAGED_IDENTITY, r, &err,
		    &eb);
	auth_log_error(a, &err);
	metrics_token(a->tenant->name, a->scope, 0);
	auth_deliver(a, NULL, &err);
}

/* Reads the secret, file first. Returns it (caller wipes), or NULL with
 * why. */
static char *
auth_secret(const struct auth *a, char *why, size_t whysize)
{
	const struct credentials	*cr = &a->tenant->credentials;
	const char			*v;
	char				*secret, *err = NULL;

	if (cr->client_secret_file != NULL) {
		secret = secret_file_read(cr->client_secret_file,
		    "client_secret_file", AUTH_MAX_SECRET, &err);
		if (secret == NULL) {
			snprintf(why, whysize, "%s", err);
			free(err);
		}
		return secret;
	}
	if (cr->client_secret_env != NULL) {
		v = getenv(cr->client_secret_env);
		if (v == NULL || *v == '\0') {
			snprintf(why, whysize, "environment variable %s is "
			    "%s", cr->client_secret_env, v == NULL ? "not set" :
			    "empty");
			return NULL;
		}
		return xstrdup(v);
	}
	snprintf(why, whysize, "no client_secret_file or client_secret_env");
	return NULL;
}

/* The credential's part of the form: "client_secret=..." or the client
 * assertion pair. Returns it (caller wipes), or NULL with why. */
static char *
auth_credential(const struct auth *a, char *why, size_t whysize)
{
	const struct credentials	*cr = &a->tenant->credentials;
	char				*secret, *esc, *jwt, *out;

	if (a->kind == AUTH_CERTIFICATE) {
		jwt = jwt_client_assertion(cr->certificate_file,
		    cr->private_key_file, (enum jwt_alg)cr->assertion_alg,
		    a->url, cr->client_id != NULL ? cr->client_id : "",
		    time_now_us() / USEC_PER_SEC, why, whysize);
		if (jwt == NULL)
			return NULL;
		/* base64url and dots: nothing to escape. */
		out = xasprintf("client_assertion_type=%s&client_assertion=%s",
		    AUTH_ASSERTION_TYPE_ESC, jwt);
		freezero_str(jwt);
		return out;
	}
	if ((secret = auth_secret(a, why, whysize)) == NULL)
		return NULL;
	esc = url_escape(secret);
	freezero_str(secret);
	out = xasprintf("client_secret=%s", esc);
	freezero_str(esc);
	return out;
}

/* The form body; built in one allocation so no unwiped copy is left. */
static char *
auth_form(const struct auth *a, const char *cred, size_t *lenp)
{
	char	*id, *scope, *body;
	size_t	 len;

	id = url_escape(a->tenant->credentials.client_id != NULL ?
	    a->tenant->credentials.client_id : "");
	scope = url_escape(a->scope);
	len = strlen("client_id=&&scope=&grant_type=client_credentials") +
	    strlen(id) + strlen(cred) + strlen(scope);
	body = xmalloc(len + 1);
	snprintf(body, len + 1, "client_id=%s&%s&scope=%s"
	    "&grant_type=client_credentials", id, cred, scope);
	free(id);
	free(scope);
	*lenp = len;
	return body;
}

static void
auth_fetch(struct auth *a)
{
	static const char *const form_headers[] = {
		"Content-Type: application/x-www-form-urlencoded",
		"Accept: application/json",
		NULL
	};
	static const char *const imds_headers[] = {
		"Metadata: true",
		"Accept: application/json",
		NULL
	};
	struct http_request	 req;
	struct auth_error	 err;
	char			 why[512], *cred = NULL, *body = NULL;
	size_t			 len = 0;

	memset(&req, 0, sizeof req);
	if (a->kind == AUTH_MANAGED_IDENTITY) {
		req.method = "GET";
		req.headers = imds_headers;
		req.no_proxy = 1;	/* the token must not pass a proxy */
	} else {
		if ((cred = auth_credential(a, why, sizeof why)) == NULL) {
			memset(&err, 0, sizeof err);
			err.error = "";
			err.description = why;
			err.permanent = 1;	/* an operator has to act */
			err.retry_after = -1;
			log_warnx("tenant %s: token request failed: %s",
			    a->tenant->name, why);
			metrics_token(a->tenant->name, a->scope, 0);
			auth_deliver(a, NULL, &err);
			return;
		}
		body = auth_form(a, cred, &len);
		freezero_str(cred);
		req.method = "POST";
		req.headers = form_headers;
		req.body = body;
		req.body_len = len;
	}
	req.url = a->url;
	req.ca_file = a->tenant->ca_file;
	req.timeout_ms = a->timeout_ms;
	req.max_response = AUTH_MAX_RESPONSE;
	/* http_request keeps its own copy, wiped after the transfer. */
	a->call = http_request(a->engine, &req, auth_done_cb, a);
	if (body != NULL)
		freezero(body, len);
}

static void
auth_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct auth	*a = arg;

	(void)fd;
	(void)what;
	if (a->call != NULL || TAILQ_EMPTY(&a->waiters))
		return;		/* the request in flight answers everyone */
	if (auth_token_valid(a))
		auth_deliver(a, a->token, NULL);
	else
		auth_fetch(a);
}

struct auth_wait *
auth_get(struct auth *a, auth_cb cb, void *arg)
{
	struct auth_wait	*w;
	struct timeval		 now = { 0, 0 };

	w = xcalloc(1, sizeof *w);
	w->auth = a;
	w->cb = cb;
	w->arg = arg;
	w->state = WAIT_QUEUED;
	TAILQ_INSERT_TAIL(&a->waiters, w, entry);
	/* Never answer from here: the caller may not be ready for it. */
	evtimer_add(a->kick, &now);
	return w;
}

void
auth_cancel(struct auth_wait *w)
{
	struct auth	*a;

	if (w == NULL)
		return;
	a = w->auth;
	switch (w->state) {
	case WAIT_CALLING:
		return;		/* freed when its callback returns */
	case WAIT_QUEUED:
		TAILQ_REMOVE(&a->waiters, w, entry);
		break;
	case WAIT_DELIVERING:
		TAILQ_REMOVE(&a->delivering, w, entry);
		break;
	}
	free(w);
}

void
auth_invalidate(struct auth *a, const char *token)
{
	if (a->token == NULL || token == NULL || strcmp(a->token, token) != 0)
		return;
	freezero_str(a->token);
	a->token = NULL;
	a->renew_at = 0;
}

uint64_t
auth_refresh_count(const struct auth *a)
{
	return a->refreshes;
}

static void
auth_destroy(struct auth *a)
{
	struct auth_wait	*w;

	http_call_cancel(a->call);
	while ((w = TAILQ_FIRST(&a->waiters)) != NULL) {
		TAILQ_REMOVE(&a->waiters, w, entry);
		free(w);
	}
	while ((w = TAILQ_FIRST(&a->delivering)) != NULL) {
		TAILQ_REMOVE(&a->delivering, w, entry);
		free(w);
	}
	event_free(a->kick);
	freezero_str(a->token);
	free(a->scope);
	free(a->url);
	free(a);
}

void
auth_free(struct auth *a)
{
	if (a == NULL)
		return;
	if (a->depth > 0) {
		/* Called from one of our callbacks: finish delivering. */
		a->dying = 1;
		return;
	}
	auth_destroy(a);
}
