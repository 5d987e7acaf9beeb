/*
 * The Microsoft Graph source (DESIGN.md "Semantics", API-FACTS.md 3): the
 * audit-log lists of Graph, polled as `createdDateTime ge now - lookback`
 * (`activityDateTime` for directory audits) and de-duplicated by the store
 * on (tenant, id). Graph has no ingestion time: ingest_us is 0.
 *
 *   sign_in                  GET /v1.0/auditLogs/signIns
 *   non_interactive_sign_in  GET /beta/auditLogs/signIns, filtered on
 *                            signInEventTypes (v1.0: interactive only)
 *   audit                    GET /v1.0/auditLogs/directoryAudits, the
 *                            account as a target or the initiator
 *
 * A page is {"@odata.context", "value": [...], "@odata.nextLink"?}. The
 * structure is strict (the body, value[] and its objects, the next link);
 * the cells are lenient: an optional field of the wrong type reads as
 * absent and is logged. A record of a break-glass account is never
 * dropped: when what it is keyed on is missing or malformed it is kept
 * with a stand-in, and the log says so.
 *
 * The next link is followed only when its scheme, host and port are those
 * of the configured Graph endpoint: the poller sends the bearer token to
 * whatever URL this returns.
 *
 * Duplicate object keys are accepted and the last one wins, as in
 * la-table.c: Microsoft's own beta examples repeat homeTenantId,
 * isTenantRestricted and uniqueTokenIdentifier, and refusing such pages
 * would blind the monitor. Unlike a Log Analytics row, though, what makes
 * a Graph item a break-glass record is an object key (userId,
 * initiatedBy.user.id, targetResources[].id), so a duplicate could hide
 * one. A page that has duplicate keys and names a break-glass account
 * (object id or UPN) in its text without yielding a record of that
 * account is therefore refused, loudly, instead of being read as harmless.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "audit-modified.h"
#include "buf.h"
#include "config.h"
#include "guid.h"
#include "log.h"
#include "record.h"
#include "source-graph.h"
#include "source.h"
#include "timeutil.h"
#include "xmalloc.h"

#define GRAPH_JSON_FLAGS	JSON_ALLOW_NUL
#define GRAPH_MESSAGE_MAX	300	/* of the service's error texts */
/* signIns: default and maximum page size 1,000 (API-FACTS.md 3.1). The
 * maximum for directoryAudits is not documented; 999 stays within every
 * value reported for the reporting APIs. */
#define GRAPH_TOP_SIGNINS	1000
#define GRAPH_TOP_AUDITS	999

/* What a request selects: every account, or one (as target, initiator or
 * both for audits). */
enum graph_who {
	WHO_ALL,
	WHO_ONE,		/* sign-ins: the account */
	WHO_ONE_TARGET,		/* audits: the account as a target */
	WHO_ONE_INITIATOR	/* audits: the account as the initiator */
};

/* One page being read. */
struct graph_page {
	const struct source_ctx	*ctx;
	size_t			 index;	/* in value[] */
	json_t			*item;
};

static int
graph_supports(enum signal signal)
{
	return (unsigned)signal < SIGNAL_COUNT;
}

static const char *
graph_scope(const struct tenant_config *tenant)
{
	return tenant->scopes.graph;
}

static int
graph_fail(char **err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
graph_fail(char **err, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	*err = xstrdup(msg);
	return -1;
}

/* The endpoint without trailing slashes: its length. */
static int
graph_endpoint_len(const char *endpoint)
{
	size_t len = strlen(endpoint);

	while (len > 0 && endpoint[len - 1] == '/')
		len--;
	return (int)len;
}

/* Percent-encodes a query value: everything but RFC 3986's unreserved
 * characters (ASCII, whatever the locale). */
static void
graph_encode(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			buf_putc(b, (char)c);
		else {
			buf_putc(b, '%');
			buf_putc(b, hex[c >> 4]);
			buf_putc(b, hex[c & 0xf]);
		}
	}
}

/* The object id of account i as a lower-case GUID, or -1 with *err: only
 * validated GUIDs reach a filter. */
static int
graph_oid(const struct tenant_config *tenant, size_t i, char out[GUID_LEN],
    char **err)
{
	const char *oid = tenant->break_glass[i].object_id;

	if (!guid_valid(oid))
		return graph_fail(err, "tenant %s: break-glass account %zu: "
		    "object id is not a GUID", tenant->name, i + 1);
	for (size_t j = 0; j < GUID_LEN; j++)
		out[j] = (char)tolower((unsigned char)oid[j]);
	return 0;
}

/* The account clause of the filter (unencoded), in parentheses when it
 * joins several clauses with `or`. */
static int
graph_accounts(const struct source_ctx *ctx, enum graph_who who, size_t one,
    struct buf *f, char **err)
{
	const struct tenant_config *tenant = ctx->tenant;
	char oid[GUID_LEN];
	size_t i, from = 0, to = tenant->nbreak_glass, n = 0;
	struct buf c;

	if (who != WHO_ALL) {
		from = one;
		to = one + 1;
	}
	buf_init(&c);
	for (i = from; i < to; i++) {
		if (graph_oid(tenant, i, oid, err) != 0) {
			buf_free(&c);
			return -1;
		}
		if (ctx->signal != SIGNAL_AUDIT) {
			buf_printf(&c, "%suserId eq '%s'", n++ ? " or " : "",
			    oid);
			continue;
		}
		if (who != WHO_ONE_INITIATOR)
			buf_printf(&c, "%stargetResources/any(t: t/id eq "
			    "'%s')", n++ ? " or " : "", oid);
		if (who != WHO_ONE_TARGET)
			buf_printf(&c, "%sinitiatedBy/user/id eq '%s'",
			    n++ ? " or " : "", oid);
	}
	buf_printf(f, n > 1 ? "(%s)" : "%s", buf_cstr(&c));
	buf_free(&c);
	return 0;
}

static int
graph_build_who(const struct source_ctx *ctx, enum graph_who who, size_t one,
    struct source_req *req, char **err)
{
	const struct tenant_config *tenant = ctx->tenant;
	const char *endpoint = tenant->endpoints.graph, *path, *when;
	char since[TIME_ISO_LEN];
	int64_t lookback;
	struct buf f, url;
	int top;

	memset(req, 0, sizeof *req);
	*err = NULL;
	if ((unsigned)ctx->signal >= SIGNAL_COUNT)
		return graph_fail(err, "graph: unknown signal");
	if (endpoint == NULL || *endpoint == '\0')
		return graph_fail(err, "tenant %s has no Graph endpoint",
		    tenant->name);
	if (tenant->nbreak_glass == 0)
		return graph_fail(err, "tenant %s has no break-glass accounts",
		    tenant->name);
	if (who != WHO_ALL && one >= tenant->nbreak_glass)
		return graph_fail(err, "tenant %s: no break-glass account %zu",
		    tenant->name, one + 1);
	lookback = tenant->graph_lookback;
	if (lookback == 0)
		lookback = GRAPH_LOOKBACK_DEFAULT;
	if (lookback < 0 || lookback > INT64_MAX / USEC_PER_SEC / 4)
		return graph_fail(err, "tenant %s: graph lookback out of "
		    "range", tenant->name);
	time_format_iso8601_sec(ctx->now_us - lookback * USEC_PER_SEC, since);

	switch (ctx->signal) {
	case SIGNAL_SIGN_IN:
		path = "/v1.0/auditLogs/signIns";
		when = "createdDateTime";
		top = GRAPH_TOP_SIGNINS;
		break;
	case SIGNAL_NON_INTERACTIVE:
		path = "/beta/auditLogs/signIns";
		when = "createdDateTime";
		top = GRAPH_TOP_SIGNINS;
		break;
	default:
		path = "/v1.0/auditLogs/directoryAudits";
		when = "activityDateTime";
		top = GRAPH_TOP_AUDITS;
		break;
	}

	buf_init(&f);
	if (graph_accounts(ctx, who, one, &f, err) != 0) {
		buf_free(&f);
		return -1;
	}
	if (ctx->signal == SIGNAL_NON_INTERACTIVE)
		buf_puts(&f, " and signInEventTypes/any(t: t eq "
		    "'nonInteractiveUser')");
	buf_printf(&f, " and %s ge %s", when, since);

	buf_init(&url);
	buf_printf(&url, "%.*s%s?$filter=", graph_endpoint_len(endpoint),
	    endpoint, path);
	graph_encode(&url, buf_cstr(&f));
	buf_printf(&url, "&$top=%d", top);
	buf_free(&f);

	req->method = xstrdup("GET");
	req->url = buf_steal(&url);
	return 0;
}

static int
graph_build(const struct source_ctx *ctx, struct source_req *req, char **err)
{
	return graph_build_who(ctx, WHO_ALL, 0, req, err);
}

size_t
source_graph_single_count(const struct source_ctx *ctx)
{
	size_t n = ctx->tenant->nbreak_glass;

	return ctx->signal == SIGNAL_AUDIT ? 2 * n : n;
}

int
source_graph_build_single(const struct source_ctx *ctx, size_t i,
    struct source_req *req, char **err)
{
	if (i >= source_graph_single_count(ctx)) {
		memset(req, 0, sizeof *req);
		return graph_fail(err, "graph: single request %zu of %zu", i,
		    source_graph_single_count(ctx));
	}
	if (ctx->signal != SIGNAL_AUDIT)
		return graph_build_who(ctx, WHO_ONE, i, req, err);
	return graph_build_who(ctx, i % 2 == 0 ? WHO_ONE_TARGET :
	    WHO_ONE_INITIATOR, i / 2, req, err);
}

/* The scheme, host and port of a URL as libcurl reads it (the port
 * defaulted from the scheme); whether it carries user credentials. 0, or
 * -1 when it is not a URL. */
static int
graph_origin(const char *url, char *part[3], int *userinfo)
{
	static const CURLUPart parts[3] = { CURLUPART_SCHEME,
		CURLUPART_HOST, CURLUPART_PORT };
	char *user = NULL, *pass = NULL;
	int rc = 0;
	CURLU *u;

	part[0] = part[1] = part[2] = NULL;
	*userinfo = 0;
	if (url == NULL || (u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		rc = -1;
	for (int j = 0; j < 3 && rc == 0; j++)
		if (curl_url_get(u, parts[j], &part[j], CURLU_DEFAULT_PORT) !=
		    CURLUE_OK)
			rc = -1;
	if (rc == 0 &&
	    (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK))
		*userinfo = 1;
	curl_free(user);
	curl_free(pass);
	curl_url_cleanup(u);
	return rc;
}

/*
 * The next link: only to the origin (scheme, host, port) of the Graph
 * endpoint, as libcurl, which will fetch it, reads both URLs. 0 with *out
 * set, or -1 with *err (which names origins, never the whole link).
 */
int
source_graph_next_link(const struct tenant_config *tenant, const char *link,
    char **out, char **err)
{
	char *ep[3] = { NULL, NULL, NULL }, *nl[3] = { NULL, NULL, NULL };
	int rc = -1, ep_user, nl_user;

	for (const char *p = link; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == '\\' || *p == 0x7f)
			return graph_fail(err, "@odata.nextLink: contains a "
			    "space, control character or backslash; not "
			    "followed");
	if (graph_origin(tenant->endpoints.graph, ep, &ep_user) != 0)
		graph_fail(err, "tenant %s: the Graph endpoint is not a URL",
		    tenant->name);
	else if (graph_origin(link, nl, &nl_user) != 0)
		graph_fail(err, "@odata.nextLink: not a URL; not followed");
	else if (nl_user)
		graph_fail(err, "@odata.nextLink: carries user credentials; "
		    "not followed");
	else if (strcasecmp(ep[0], nl[0]) != 0 ||
	    strcasecmp(ep[1], nl[1]) != 0 || strcmp(ep[2], nl[2]) != 0)
		graph_fail(err, "@odata.nextLink: %.16s://%.200s:%.8s is not "
		    "the configured Graph endpoint %.16s://%.200s:%.8s; not "
		    "followed (the bearer token goes only to Graph)",
		    nl[0], nl[1], nl[2], ep[0], ep[1], ep[2]);
	else {
		*out = xstrdup(link);
		rc = 0;
	}
	for (int j = 0; j < 3; j++) {
		curl_free(ep[j]);
		curl_free(nl[j]);
	}
	return rc;
}

/* Items. */

static void
graph_log(const struct graph_page *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One log line about the current item, with its position. */
static void
graph_log(const struct graph_page *p, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_warnx("tenant %s: graph %s: value[%zu]%s", p->ctx->tenant->name,
	    signal_name(p->ctx->signal), p->index, msg);
}

/* A member by name; an exact match first, then any case (Microsoft's
 * own examples write "Type" for "type"). */
static json_t *
graph_get(json_t *o, const char *key)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o))
		return NULL;
	if ((v = json_object_get(o, key)) != NULL)
		return v;
	json_object_foreach(o, k, v)
		if (strcasecmp(k, key) == 0)
			return v;
	return NULL;
}

/* A copy of a string with every NUL replaced by U+FFFD, so no C string is
 * cut short; NULL for the empty string. */
static char *
graph_text(json_t *v)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	struct buf b;

	if (s == NULL || len == 0)
		return NULL;
	if (memchr(s, '\0', len) == NULL)
		return xstrdup(s);
	buf_init(&b);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0')
			buf_puts(&b, "\xef\xbf\xbd");
		else
			buf_putc(&b, s[i]);
	}
	return buf_steal(&b);
}

/* An optional string member of o (at path, for the log): absent when it
 * is missing, null or of another type (logged). Borrowed. */
static json_t *
graph_opt(const struct graph_page *p, json_t *o, const char *path,
    const char *key)
{
	json_t *v = graph_get(o, key);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		graph_log(p, "%s.%s: not a string; read as absent", path,
		    key);
		return NULL;
	}
	return v;
}

static char *
graph_str(const struct graph_page *p, json_t *o, const char *path,
    const char *key)
{
	return graph_text(graph_opt(p, o, path, key));
}

/* An optional object member (null and absent read as NULL; another type
 * is logged). */
static json_t *
graph_obj(const struct graph_page *p, json_t *o, const char *path,
    const char *key)
{
	json_t *v = graph_get(o, key);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_object(v)) {
		graph_log(p, "%s.%s: not an object; read as absent", path,
		    key);
		return NULL;
	}
	return v;
}

static char *
graph_lower(char *s)
{
	for (char *q = s; q != NULL && *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	return s;
}

static const struct account *
graph_account(const struct tenant_config *tenant, const char *oid)
{
	if (oid == NULL)
		return NULL;
	for (size_t i = 0; i < tenant->nbreak_glass; i++)
		if (strcasecmp(tenant->break_glass[i].object_id, oid) == 0)
			return &tenant->break_glass[i];
	return NULL;
}

/* Case-insensitive search for needle in len bytes of hay. */
static int
graph_mentions(const char *hay, size_t len, const char *needle)
{
	size_t n = needle != NULL ? strlen(needle) : 0;

	if (n == 0 || n > len)
		return 0;
	for (size_t i = 0; i + n <= len; i++)
		if (strncasecmp(hay + i, needle, n) == 0)
			return 1;
	return 0;
}

/* The first break-glass account whose object id or UPN the text names. */
static const struct account *
graph_account_in(const struct tenant_config *tenant, const char *text,
    size_t len)
{
	for (size_t i = 0; i < tenant->nbreak_glass; i++)
		if (graph_mentions(text, len, tenant->break_glass[i].object_id)
		    || graph_mentions(text, len, tenant->break_glass[i].upn))
			return &tenant->break_glass[i];
	return NULL;
}

/* The item as compact JSON. 15 digits: 32.02 stays 32.02. */
static char *
graph_raw(json_t *item)
{
	char *s = json_dumps(item, JSON_COMPACT | JSON_REAL_PRECISION(15));

	if (s == NULL)
		fatalx("%s: json_dumps", __func__);
	return s;
}

/* An item without an id gets one derived from its content, so that the
 * same item returned by the next poll is still stored once. */
static char *
graph_content_id(const char *raw)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char hex[2 * 16 + 1];

	if (EVP_Digest(raw, strlen(raw), md, &mdlen, EVP_sha256(), NULL) != 1)
		fatalx("%s: EVP_Digest", __func__);
	for (unsigned int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return xasprintf("gw-content-%s", hex);
}

/* A record with its identity: id and event time (the member `when`), or
 * stand-ins (a content id; now) when they are missing or malformed. */
static struct record *
graph_record_new(struct graph_page *p, const char *when, const char *raw)
{
	struct record *r = record_new();
	json_t *v;

	if ((r->id = graph_text(graph_get(p->item, "id"))) == NULL) {
		graph_log(p, ".id: %s; kept with a content id",
		    graph_get(p->item, "id") == NULL ? "missing" :
		    "not a non-empty string");
		r->id = graph_content_id(raw);
	}
	v = graph_get(p->item, when);
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v) ||
	    time_parse_iso8601(json_string_value(v), &r->event_us) != 0) {
		graph_log(p, ".%s: %s; kept with the poll time", when,
		    v == NULL ? "missing" : "not an ISO 8601 time");
		r->event_us = p->ctx->now_us;
	}
	return r;
}

/* "City, State, CC" from location, leaving out missing parts. */
static char *
graph_location(const struct graph_page *p)
{
	static const char *const parts[] = { "city", "state",
		"countryOrRegion" };
	json_t *loc = graph_obj(p, p->item, "", "location"), *v;
	struct buf b;

	buf_init(&b);
	for (size_t i = 0; loc != NULL && i < sizeof parts / sizeof parts[0];
	    i++) {
		if ((v = graph_opt(p, loc, ".location", parts[i])) == NULL ||
		    json_string_length(v) == 0)
			continue;
		if (b.len > 0)
			buf_puts(&b, ", ");
		buf_puts(&b, json_string_value(v));
	}
	if (b.len == 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* The account of a sign-in, from userId; when that is missing or not a
 * string, from a mention of an account in the item (kept, logged). */
static const struct account *
graph_signin_account(struct graph_page *p, const char *raw, char **uid)
{
	json_t *v = graph_get(p->item, "userId");
	const struct account *acct;

	*uid = NULL;
	if (json_is_string(v) && json_string_length(v) > 0) {
		*uid = graph_lower(graph_text(v));
		return graph_account(p->ctx->tenant, *uid);
	}
	acct = graph_account_in(p->ctx->tenant, raw, strlen(raw));
	graph_log(p, ".userId: %s; %s", v == NULL ? "missing" :
	    "not a non-empty string", acct != NULL ? "the item names a "
	    "break-glass account: kept as that account's" : "skipped");
	if (acct != NULL)
		*uid = graph_lower(xstrdup(acct->object_id));
	return acct;
}

static struct record *
graph_signin_item(struct graph_page *p, const char *raw)
{
	json_t *status, *code;
	struct record *r;
	char *uid;

	if (graph_signin_account(p, raw, &uid) == NULL) {
		free(uid);
		return NULL;
	}
	r = graph_record_new(p, "createdDateTime", raw);
	r->user_id = uid;
	r->upn = graph_str(p, p->item, "", "userPrincipalName");
	r->ip = graph_str(p, p->item, "", "ipAddress");
	r->location = graph_location(p);
	r->app = graph_str(p, p->item, "", "appDisplayName");
	r->correlation_id = graph_str(p, p->item, "", "correlationId");

	r->result_code = -1;
	status = graph_obj(p, p->item, "", "status");
	code = graph_get(status, "errorCode");
	if (json_is_integer(code) && json_integer_value(code) >= 0 &&
	    json_integer_value(code) <= 0x7fffffff)
		r->result_code = (long)json_integer_value(code);
	else
		graph_log(p, ".status.errorCode: %s; read as a failure",
		    code == NULL || json_is_null(code) ? "missing" :
		    "not an error code");
	r->success = r->result_code == 0;
	r->failure_reason = graph_str(p, status, ".status", "failureReason");
	return r;
}

/* Directory audits: the record is of a break-glass account when the
 * account is a target or the initiator. */
static struct record *
graph_audit_item(struct graph_page *p, const char *raw)
{
	json_t *initiated, *user, *app, *targets, *t0, *tr, *v;
	json_t *bg_target = NULL;
	const struct account *acct = NULL, *target_acct = NULL;
	struct record *r;
	struct buf tids;
	char *init_id = NULL, *id, path[64];
	int malformed = 0;
	size_t i, bg_index = 0;

	if ((initiated = graph_get(p->item, "initiatedBy")) != NULL &&
	    !json_is_null(initiated) && !json_is_object(initiated)) {
		graph_log(p, ".initiatedBy: not an object; read as absent");
		malformed = 1;
	}
	user = graph_obj(p, initiated, ".initiatedBy", "user");
	app = graph_obj(p, initiated, ".initiatedBy", "app");
	if (user == NULL && (v = graph_get(initiated, "user")) != NULL &&
	    !json_is_null(v))
		malformed = 1;
	if ((v = graph_get(user, "id")) != NULL && !json_is_null(v) &&
	    !json_is_string(v)) {
		graph_log(p, ".initiatedBy.user.id: not a string; read as "
		    "absent");
		malformed = 1;
	}
	init_id = graph_lower(graph_text(graph_get(user, "id")));

	targets = graph_get(p->item, "targetResources");
	if (targets != NULL && !json_is_null(targets) &&
	    !json_is_array(targets)) {
		graph_log(p, ".targetResources: not an array; read as "
		    "absent");
		malformed = 1;
		targets = NULL;
	}
	buf_init(&tids);
	json_array_foreach(targets, i, tr) {
		snprintf(path, sizeof path, ".targetResources[%zu]", i);
		if (!json_is_object(tr)) {
			graph_log(p, "%s: not an object; read as absent",
			    path);
			malformed = 1;
			continue;
		}
		v = graph_get(tr, "id");
		if (v != NULL && !json_is_null(v) && !json_is_string(v)) {
			graph_log(p, "%s.id: not a string; read as absent",
			    path);
			malformed = 1;
		}
		if ((id = graph_lower(graph_text(v))) == NULL)
			continue;
		if (bg_target == NULL &&
		    (target_acct = graph_account(p->ctx->tenant, id)) !=
		    NULL) {
			bg_target = tr;
			bg_index = i;
		}
		if (tids.len > 0)
			buf_putc(&tids, ' ');
		buf_puts(&tids, id);
		free(id);
	}
	/* Initiator first, as from Log Analytics and in rules.c. */
	if ((acct = graph_account(p->ctx->tenant, init_id)) == NULL)
		acct = target_acct;
	if (acct == NULL && malformed &&
	    (acct = graph_account_in(p->ctx->tenant, raw,
	    strlen(raw))) != NULL) {
		graph_log(p, ": the item names a break-glass account beside "
		    "malformed members; kept as that account's");
	}
	if (acct == NULL) {
		if (malformed)
			graph_log(p, ": names no break-glass account; skipped");
		free(init_id);
		buf_free(&tids);
		return NULL;
	}
	r = graph_record_new(p, "activityDateTime", raw);

	r->user_id = graph_lower(xstrdup(acct->object_id));
	r->upn = acct->upn != NULL ? xstrdup(acct->upn) : NULL;
	r->ip = graph_str(p, user, ".initiatedBy.user", "ipAddress");
	r->activity = graph_str(p, p->item, "", "activityDisplayName");
	r->category = graph_str(p, p->item, "", "category");
	r->service = graph_str(p, p->item, "", "loggedByService");
	v = graph_opt(p, p->item, "", "result");
	r->success = v != NULL &&
	    strcasecmp(json_string_value(v), "success") == 0;
	r->result_code = r->success ? 0 : -1;
	r->failure_reason = graph_str(p, p->item, "", "resultReason");
	r->correlation_id = graph_str(p, p->item, "", "correlationId");
	if (user != NULL) {
		r->initiator = graph_str(p, user, ".initiatedBy.user",
		    "userPrincipalName");
		r->initiator_id = init_id;
		init_id = NULL;
	} else if (app != NULL) {
		r->initiator = graph_str(p, app, ".initiatedBy.app",
		    "displayName");
		r->initiator_id = graph_lower(graph_str(p, app,
		    ".initiatedBy.app", "servicePrincipalId"));
	}
	free(init_id);
	/* The break-glass target when there is one, else the first: the
	 * same as from Log Analytics. */
	t0 = bg_target != NULL ? bg_target : json_array_get(targets, 0);
	snprintf(path, sizeof path, ".targetResources[%zu]", bg_index);
	if (json_is_object(t0) &&
	    (r->target = graph_str(p, t0, path, "userPrincipalName")) == NULL)
		r->target = graph_str(p, t0, path, "displayName");
	r->target_ids = tids.len > 0 ? buf_steal(&tids) : NULL;
	r->modified = audit_modified_text(targets);
	buf_free(&tids);
	return r;
}

/* Does the body have a duplicate object key anywhere? */
static int
graph_has_duplicates(const char *body, size_t len)
{
	json_error_t jerr;
	json_t *v;

	if ((v = json_loadb(body, len, GRAPH_JSON_FLAGS |
	    JSON_REJECT_DUPLICATES, &jerr)) != NULL) {
		json_decref(v);
		return 0;
	}
	return json_error_code(&jerr) == json_error_duplicate_key;
}

static int
graph_service_error(json_t *error, char **err)
{
	json_t *code = graph_get(error, "code"), *msg = graph_get(error,
	    "message");

	return graph_fail(err, "service error %.100s: %.*s",
	    json_is_string(code) ? json_string_value(code) : "(no code)",
	    GRAPH_MESSAGE_MAX, json_is_string(msg) ? json_string_value(msg) :
	    "(no message)");
}

static int
graph_parse(const struct source_ctx *ctx, const char *body, size_t len,
    struct record_list *out, struct page_info *pi, char **err)
{
	struct record_list got;
	struct graph_page p;
	json_error_t jerr;
	json_t *root, *value, *next, *error;
	const struct account *named;
	struct record *r;
	char *raw, *next_url = NULL;
	size_t i, j;
	int rc = -1;

	memset(pi, 0, sizeof *pi);
	*err = NULL;
	if ((unsigned)ctx->signal >= SIGNAL_COUNT)
		return graph_fail(err, "graph: unknown signal");
	for (i = 0; i < len; i++)
		if (!isspace((unsigned char)body[i]))
			break;
	if (i == len)
		return graph_fail(err, "empty response");
	if ((root = json_loadb(body, len, GRAPH_JSON_FLAGS, &jerr)) == NULL)
		return graph_fail(err, "invalid JSON at line %d column %d: %s",
		    jerr.line, jerr.column, jerr.text);
	record_list_init(&got);
	if (!json_is_object(root)) {
		graph_fail(err, "response: not a JSON object");
		goto done;
	}
	if ((error = json_object_get(root, "error")) != NULL &&
	    !json_is_null(error)) {
		graph_service_error(error, err);
		goto done;
	}
	if ((value = json_object_get(root, "value")) == NULL) {
		graph_fail(err, "value: missing");
		goto done;
	}
	if (!json_is_array(value)) {
		graph_fail(err, "value: not an array");
		goto done;
	}
	next = json_object_get(root, "@odata.nextLink");
	if (next != NULL && !json_is_null(next)) {
		if (!json_is_string(next) ||
		    strlen(json_string_value(next)) != json_string_length(next)
		    || json_string_length(next) == 0) {
			graph_fail(err, "@odata.nextLink: not a URL string");
			goto done;
		}
		if (source_graph_next_link(ctx->tenant, json_string_value(next),
		    &next_url, err) != 0)
			goto done;
	}

	memset(&p, 0, sizeof p);
	p.ctx = ctx;
	json_array_foreach(value, i, p.item) {
		p.index = i;
		if (!json_is_object(p.item)) {
			graph_fail(err, "value[%zu]: not an object", i);
			goto done;
		}
		raw = graph_raw(p.item);
		if (ctx->signal == SIGNAL_AUDIT)
			r = graph_audit_item(&p, raw);
		else
			r = graph_signin_item(&p, raw);
		if (r == NULL) {
			free(raw);
			continue;
		}
		r->signal = ctx->signal;
		r->tenant = xstrdup(ctx->tenant->name);
		r->ingest_us = 0;
		r->raw = raw;
		record_list_add(&got, r);
	}

	/* The header comment says why. */
	if (graph_has_duplicates(body, len)) {
		for (j = 0; j < ctx->tenant->nbreak_glass; j++) {
			named = &ctx->tenant->break_glass[j];
			if (!graph_mentions(body, len, named->object_id) &&
			    !graph_mentions(body, len, named->upn))
				continue;
			for (i = 0; i < got.n; i++)
				if (guid_equal(got.v[i]->user_id,
				    named->object_id))
					break;
			if (i == got.n) {
				graph_fail(err, "the page has duplicate "
				    "object keys and names break-glass account "
				    "%s without a record of it: refused rather "
				    "than read as harmless", named->object_id);
				goto done;
			}
		}
		log_warnx("tenant %s: graph %s: the page has duplicate object "
		    "keys; the last of each was read", ctx->tenant->name,
		    signal_name(ctx->signal));
	}

	for (i = 0; i < got.n; i++) {
		record_list_add(out, got.v[i]);
		got.v[i] = NULL;
	}
	got.n = 0;
	pi->rows = json_array_size(value);
	pi->next_url = next_url;
	next_url = NULL;
	rc = 0;
done:
	if (rc != 0 && *err == NULL)
		*err = xstrdup("graph: cannot read the page");
	free(next_url);
	record_list_clear(&got);
	json_decref(root);
	return rc;
}

const struct source_ops source_graph_ops = {
	.kind = SOURCE_GRAPH,
	.name = "graph",
	.supports = graph_supports,
	.scope = graph_scope,
	.build = graph_build,
	.parse = graph_parse,
};
