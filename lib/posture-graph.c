/*
 * Reading a tenant's posture from Graph v1.0, within its budgets.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "auth.h"
#include "buf.h"
#include "config.h"
#include "guid.h"
#include "http.h"
#include "log.h"
#include "posture.h"
#include "posture-graph.h"
#include "source-graph.h"
#include "timeutil.h"
#include "xmalloc.h"

#define BUDGET_SPAN_US		(10 * USEC_PER_SEC)
#define BUDGET_PER_SPAN		5
#define SIGNIN_SPAN_US		(60 * USEC_PER_SEC)
#define SIGNIN_PER_SPAN		10
#define MAX_TRIES		4
#define RETRY_MAX_US		(30 * USEC_PER_SEC)

enum preq_kind { PREQ_LIST, PREQ_OBJECT, PREQ_IDS };

struct preq {
	struct posture_read	*r;
	enum preq_kind		 kind;
	char			*url;		/* the page to fetch */
	json_t			*parent;	/* borrowed: where it goes */
	char			*key;
	char			*errkey;	/* in "errors" */
	int			 signin;	/* signInActivity's budget */
	json_t			*acc;		/* the items so far */
	int			 tries;
	int64_t			 not_before;	/* monotonic; retry delay */
	struct http_call	*call;
	int			 done;
};

struct posture_read {
	struct http_engine		*http;
	struct auth			*auth;
	const struct tenant_config	*t;
	struct posture_budget		*budget;
	long				 timeout_ms;
	size_t				 max_response;
	posture_read_cb			 cb;
	void				*arg;
	json_t				*snap;
	struct preq			**q;
	size_t				  nq;
	int				 stage;
	char				*token;
	struct auth_wait		*wait;
	char				*token_error;
	struct event			*timer;		/* budget and retries */
	struct event			*finish;	/* zero delay */
	int				 finished;
};

static void read_pump(struct posture_read *);

void
posture_budget_init(struct posture_budget *b, struct rate_window *tenant,
    struct rate_window *app)
{
	rate_window_init(&b->own, BUDGET_PER_SPAN, BUDGET_SPAN_US);
	rate_window_init(&b->signin, SIGNIN_PER_SPAN, SIGNIN_SPAN_US);
	b->tenant = tenant != NULL ? tenant : &b->own;
	b->app = app;
}

void
posture_budget_free(struct posture_budget *b)
{
	rate_window_free(&b->own);
	rate_window_free(&b->signin);
}

/* The Graph endpoint without its trailing slashes. */
static char *
graph_url(const struct tenant_config *t, const char *fmt, const char *id)
{
	const char *g = t->endpoints.graph;
	size_t len = strlen(g);
	char *path, *url;

	while (len > 0 && g[len - 1] == '/')
		len--;
	path = xasprintf(fmt, id);
	url = xasprintf("%.*s%s", (int)len, g, path);
	free(path);
	return url;
}

static void
read_add(struct posture_read *r, enum preq_kind kind, char *url,
    json_t *parent, const char *key, const char *errkey, int signin)
{
	struct preq *q = xcalloc(1, sizeof *q);

	q->r = r;
	q->kind = kind;
	q->url = url;
	q->parent = parent;
	q->key = xstrdup(key);
	q->errkey = xstrdup(errkey);
	q->signin = signin;
	q->acc = json_array();
	r->q = xreallocarray(r->q, r->nq + 1, sizeof *r->q);
	r->q[r->nq++] = q;
}

static void
preq_free(struct preq *q)
{
	http_call_cancel(q->call);
	free(q->url);
	free(q->key);
	free(q->errkey);
	json_decref(q->acc);
	free(q);
}

static void
preq_fail(struct preq *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
preq_fail(struct preq *q, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_info("tenant %s: posture: %s: %s", q->r->t->name, q->errkey, msg);
	json_object_set_new(json_object_get(q->r->snap, "errors"), q->errkey,
	    json_string(msg));
	q->done = 1;
}

/* Why Graph refused, from its error body: "HTTP 403
 * Authorization_RequestDenied: Insufficient privileges ...". */
static void
preq_fail_status(struct preq *q, const struct http_response *resp)
{
	json_t *root = json_loadb(resp->body, resp->body_len, 0, NULL);
	json_t *e = json_object_get(root, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	preq_fail(q, "HTTP %ld%s%.80s%s%.200s%s", resp->status,
	    code != NULL ? " " : "", code != NULL ? code : "",
	    msg != NULL ? ": " : "", msg != NULL ? msg : "",
	    resp->status == 403 ? " (is the permission granted?)" : "");
	json_decref(root);
}

static void
preq_done(struct preq *q)
{
	json_t *out;

	q->done = 1;
	if (q->kind == PREQ_OBJECT) {
		out = json_incref(json_array_get(q->acc, 0));
	} else if (q->kind == PREQ_IDS) {
		size_t i;
		json_t *m;

		out = json_array();
		json_array_foreach(q->acc, i, m)
			if (json_is_string(json_object_get(m, "id")))
				json_array_append(out, json_object_get(m,
				    "id"));
	} else
		out = json_incref(q->acc);
	json_object_set_new(q->parent, q->key, out);
}

static int
retryable(long status)
{
	return status == 0 || status == 429 || status == 500 ||
	    status == 502 || status == 503 || status == 504;
}

static void
preq_response_cb(const struct http_response *resp, void *arg)
{
	struct preq *q = arg;
	struct posture_read *r = q->r;
	json_t *root, *value, *next;
	char *link = NULL, *err = NULL;

	q->call = NULL;
	q->tries++;
	if (resp->status == 401 && q->tries < MAX_TRIES &&
	    r->token != NULL) {
		/* A token the service no longer takes: a new one. */
		auth_invalidate(r->auth, r->token);
		freezero_str(r->token);
		r->token = NULL;
	} else if (retryable(resp->status) && q->tries < MAX_TRIES) {
		int64_t delay = resp->retry_after > 0 ?
		    resp->retry_after * USEC_PER_SEC :
		    q->tries * 2 * USEC_PER_SEC;

		if (delay > RETRY_MAX_US)
			delay = RETRY_MAX_US;
		q->not_before = time_mono_us() + delay;
		if (resp->status == 429)
			rate_window_pause(r->budget->tenant, q->not_before);
	} else if (resp->status == 0)
		preq_fail(q, "%s", resp->error != NULL ? resp->error :
		    "no answer");
	else if (resp->too_large)
		preq_fail(q, "the answer is larger than http: max_response");
	else if (resp->status != 200)
		preq_fail_status(q, resp);
	else if ((root = json_loadb(resp->body, resp->body_len, 0,
	    NULL)) == NULL || !json_is_object(root))
		preq_fail(q, "the answer is not a JSON object");
	else {
		if (q->kind == PREQ_OBJECT)
			json_array_append(q->acc, root);
		else if (!json_is_array(value = json_object_get(root,
		    "value")))
			preq_fail(q, "the answer has no \"value\" list");
		else
			json_array_extend(q->acc, value);
		next = json_object_get(root, "@odata.nextLink");
		if (q->done)
			;
		else if (q->kind == PREQ_OBJECT || next == NULL)
			preq_done(q);
		else if (!json_is_string(next))
			preq_fail(q, "@odata.nextLink is not a URL string");
		else if (source_graph_next_link(r->t, json_string_value(next),
		    &link, &err) == -1) {
			preq_fail(q, "%s", err);
			free(err);
		} else {
			free(q->url);
			q->url = link;
			q->tries = 0;
		}
		json_decref(root);
	}
	read_pump(r);
}

static void
read_token_cb(const char *token, const struct auth_error *err, void *arg)
{
	struct posture_read *r = arg;

	r->wait = NULL;
	if (token == NULL) {
		free(r->token_error);
		r->token_error = xasprintf("no token for Graph: %s%s%s",
		    err->error, *err->error != '\0' ? ": " : "",
		    err->description);
	} else
		r->token = xstrdup(token);
	read_pump(r);
}

static void
preq_send(struct preq *q)
{
	struct posture_read *r = q->r;
	struct http_request req;
	const char *headers[3];
	char *auth;

	auth = xasprintf("Authorization: Bearer %s", r->token);
	headers[0] = auth;
	headers[1] = "Accept: application/json";
	headers[2] = NULL;
	memset(&req, 0, sizeof req);
	req.method = "GET";
	req.url = q->url;
	req.headers = headers;
	req.ca_file = r->t->ca_file;
	req.timeout_ms = r->timeout_ms;
	req.max_response = r->max_response;
	q->call = http_request(r->http, &req, preq_response_cb, q);
	freezero_str(auth);
}

/* 0 when the request may go now (and is counted), else the wait. */
static int64_t
preq_budget(struct preq *q, int64_t now)
{
	struct posture_read *r = q->r;
	struct rate_window *app = r->budget->app;
	int64_t wait = rate_window_wait(r->budget->tenant, now), w;

	if (app != NULL && (w = rate_window_wait(app, now)) > wait)
		wait = w;
	if (q->signin && (w = rate_window_wait(&r->budget->signin, now)) >
	    wait)
		wait = w;
	if (q->not_before > now && q->not_before - now > wait)
		wait = q->not_before - now;
	if (wait > 0)
		return wait;
	rate_window_add(r->budget->tenant, now);
	if (app != NULL)
		rate_window_add(app, now);
	if (q->signin)
		rate_window_add(&r->budget->signin, now);
	return 0;
}

/* The second round, from what the first one read. */
static void
read_stage2(struct posture_read *r)
{
	const json_t *accounts = json_object_get(r->snap, "accounts");
	const json_t *admins = json_object_get(r->snap, "admins"), *a;
	json_t *groups = json_array(), *seen = json_object(), *g;
	size_t i;

	for (i = 0; i < r->t->nbreak_glass; i++) {
		const char *oid = r->t->break_glass[i].object_id;
		json_t *parts = json_object_get(accounts, oid);
		const json_t *active = json_object_get(parts, "active");
		char ek[128];

		if (active == NULL || posture_permanent_ga(active))
			continue;
		snprintf(ek, sizeof ek, "%s/eligible", oid);
		read_add(r, PREQ_LIST, graph_url(r->t, "/v1.0/roleManagement/"
		    "directory/roleEligibilitySchedules?$filter=principalId%%20"
		    "eq%%20'%s'", oid), parts, "eligible", ek, 0);
	}
	posture_needed_groups(json_object_get(r->snap, "policies"), groups);
	json_array_foreach(groups, i, g) {
		const char *gid = json_string_value(g);
		char ek[128];

		snprintf(ek, sizeof ek, "groups/%s", gid);
		read_add(r, PREQ_IDS, graph_url(r->t, "/v1.0/groups/%s/"
		    "transitiveMembers?$select=id", gid),
		    json_object_get(r->snap, "groups"), gid, ek, 0);
	}
	json_decref(groups);
	json_array_foreach(admins, i, a) {
		const char *pid = json_string_value(json_object_get(a,
		    "principalId"));
		const char *pt = json_string_value(json_object_get(
		    json_object_get(a, "principal"), "@odata.type"));
		int bg = 0;
		char ek[128];

		/* Users only (a group or app holding the role has no
		 * methods), each once even when assigned twice. */
		if (pid == NULL || !guid_valid(pid) ||
		    (pt != NULL && strcmp(pt, "#microsoft.graph.user") != 0) ||
		    json_object_get(seen, pid) != NULL)
			continue;
		json_object_set_new(seen, pid, json_true());
		for (size_t k = 0; k < r->t->nbreak_glass; k++)
			if (guid_equal(r->t->break_glass[k].object_id, pid))
				bg = 1;
		if (bg)
			continue;
		snprintf(ek, sizeof ek, "admin_methods/%s", pid);
		read_add(r, PREQ_LIST, graph_url(r->t, "/v1.0/users/%s/"
		    "authentication/methods", pid),
		    json_object_get(r->snap, "admin_methods"), pid, ek, 0);
	}
	json_decref(seen);
}

static void
read_finish_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct posture_read *r = arg;
	json_t *snap = r->snap;

	(void)fd;
	(void)ev;
	r->snap = NULL;
	r->cb(snap, r->arg);	/* may free r */
}

static void
read_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	read_pump(arg);
}

static void
read_pump(struct posture_read *r)
{
	int64_t now = time_mono_us(), soonest = 0, wait;
	size_t open = 0;

	if (r->finished)
		return;
	for (size_t i = 0; i < r->nq; i++) {
		struct preq *q = r->q[i];

		if (q->done)
			continue;
		open++;
		if (q->call != NULL)
			continue;
		if (r->token_error != NULL) {
			preq_fail(q, "%s", r->token_error);
			open--;
			continue;
		}
		if (r->token == NULL) {
			if (r->wait == NULL)
				r->wait = auth_get(r->auth, read_token_cb, r);
			continue;
		}
		if ((wait = preq_budget(q, now)) > 0) {
			if (soonest == 0 || wait < soonest)
				soonest = wait;
			continue;
		}
		preq_send(q);
	}
	if (open == 0 && r->stage == 1) {
		r->stage = 2;
		read_stage2(r);
		read_pump(r);
		return;
	}
	if (open == 0) {
		r->finished = 1;
		event_active(r->finish, 0, 0);
		return;
	}
	if (soonest > 0 && !evtimer_pending(r->timer, NULL)) {
		/* A millisecond more: the window has surely moved then. */
		struct timeval tv;

		soonest += 1000;
		tv.tv_sec = (time_t)(soonest / USEC_PER_SEC);
		tv.tv_usec = (suseconds_t)(soonest % USEC_PER_SEC);
		evtimer_add(r->timer, &tv);
	}
}

struct posture_read *
posture_read_start(struct http_engine *http, struct auth *auth,
    const struct tenant_config *t, struct posture_budget *budget,
    long timeout_ms, size_t max_response, posture_read_cb cb, void *arg)
{
	struct posture_read *r = xcalloc(1, sizeof *r);
	struct event_base *base = http_engine_base(http);
	json_t *accounts;

	r->http = http;
	r->auth = auth;
	r->t = t;
	r->budget = budget;
	r->timeout_ms = timeout_ms;
	r->max_response = max_response;
	r->cb = cb;
	r->arg = arg;
	r->stage = 1;
	if ((r->timer = evtimer_new(base, read_timer_cb, r)) == NULL ||
	    (r->finish = event_new(base, -1, 0, read_finish_cb, r)) == NULL)
		fatalx("cannot create the posture timers");
	r->snap = json_pack("{s:o, s:o, s:o, s:o}", "accounts", json_object(),
	    "groups", json_object(), "admin_methods", json_object(),
	    "errors", json_object());
	accounts = json_object_get(r->snap, "accounts");
	read_add(r, PREQ_LIST, graph_url(t, "%s",
	    "/v1.0/identity/conditionalAccess/policies"), r->snap, "policies",
	    "policies", 0);
	read_add(r, PREQ_LIST, graph_url(t, "/v1.0/roleManagement/directory/"
	    "roleAssignments?$filter=roleDefinitionId%%20eq%%20'%s'"
	    "&$expand=principal", POSTURE_GLOBAL_ADMIN), r->snap, "admins",
	    "admins", 0);
	for (size_t i = 0; i < t->nbreak_glass; i++) {
		const char *oid = t->break_glass[i].object_id;
		json_t *parts = json_object();
		char ek[128];

		json_object_set_new(accounts, oid, parts);
		snprintf(ek, sizeof ek, "%s/user", oid);
		/* signInActivity only by object id (API-FACTS 5.3). */
		read_add(r, PREQ_OBJECT, graph_url(t, "/v1.0/users/%s?$select="
		    "id,userPrincipalName,accountEnabled,onPremisesSyncEnabled,"
		    "passwordPolicies,signInActivity", oid), parts, "user", ek,
		    1);
		snprintf(ek, sizeof ek, "%s/methods", oid);
		read_add(r, PREQ_LIST, graph_url(t, "/v1.0/users/%s/"
		    "authentication/methods", oid), parts, "methods", ek, 0);
		snprintf(ek, sizeof ek, "%s/active", oid);
		read_add(r, PREQ_LIST, graph_url(t, "/v1.0/roleManagement/"
		    "directory/roleAssignmentSchedules?$filter=principalId%%20"
		    "eq%%20'%s'", oid), parts, "active", ek, 0);
	}
	read_pump(r);
	return r;
}

void
posture_read_free(struct posture_read *r)
{
	if (r == NULL)
		return;
	if (r->wait != NULL)
		auth_cancel(r->wait);
	for (size_t i = 0; i < r->nq; i++)
		preq_free(r->q[i]);
	free(r->q);
	event_free(r->timer);
	event_free(r->finish);
	freezero_str(r->token);
	free(r->token_error);
	json_decref(r->snap);
	free(r);
}
