/*
 * The Log Analytics source (DESIGN.md "Semantics", API-FACTS.md 2): one KQL
 * query per poll selecting by ingestion time, the result table turned into
 * records of the tenant's break-glass accounts.
 *
 * Every signal is one entry of la_signals[]: its table, the filter on the
 * accounts, the columns it projects, the columns that carry JSON text and
 * the function that turns a row into a record. Entries marked enabled are
 * offered by supports(): all three signals in this build.
 *
 * Signals of one tenant polled together share one query: a union of one
 * leg per table, each leg with its own cursor, each row tagged GwSignal.
 * JSON columns go out as text (tostring) in every leg, so the legs agree
 * on their types and the union has one column of each name.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "audit-modified.h"
#include "buf.h"
#include "config.h"
#include "guid.h"
#include "la-table.h"
#include "log.h"
#include "record.h"
#include "source.h"
#include "timeutil.h"
#include "xmalloc.h"

/* The columns the normalisers read; looked up once per page. */
enum la_col {
	COL_INGEST,
	COL_TIME_GENERATED,
	COL_CREATED,
	COL_ID,
	COL_USER_ID,
	COL_UPN,
	COL_IP,
	COL_LOCATION,
	COL_LOCATION_DETAILS,
	COL_APP,
	COL_RESULT_TYPE,
	COL_RESULT_DESCRIPTION,
	COL_CORRELATION_ID,
	COL_STATUS,
	COL_ACTIVITY_TIME,
	COL_ACTIVITY,
	COL_CATEGORY,
	COL_SERVICE,
	COL_RESULT,
	COL_RESULT_REASON,
	COL_INITIATED_BY,
	COL_TARGET_RESOURCES,
	COL_COUNT
};

static const char *const la_col_names[COL_COUNT] = {
	"GwIngestionTime",
	"TimeGenerated",
	"CreatedDateTime",
	"Id",
	"UserId",
	"UserPrincipalName",
	"IPAddress",
	"Location",
	"LocationDetails",
	"AppDisplayName",
	"ResultType",
	"ResultDescription",
	"CorrelationId",
	"Status",
	"ActivityDateTime",
	"ActivityDisplayName",
	"Category",
	"LoggedByService",
	"Result",
	"ResultReason",
	"InitiatedBy",
	"TargetResources",
};

struct la_page {
	const struct source_ctx	*ctx;
	enum signal		 signal;	/* of the row being read */
	struct la_table		 t;
	int			 col[COL_COUNT];
};

struct la_signal {
	enum signal	  signal;
	int		  enabled;	/* offered by supports() */
	const char	 *table;
	/* Writes the "| where ..." line selecting the accounts; ids is the
	 * quoted, comma-separated list of their object ids. */
	void		(*filter)(struct buf *, const char *ids);
	const char	 *project;
	/* Columns that must be present for rows to be read. */
	const enum la_col *required;
	/* String columns holding JSON text, parsed as dynamic. */
	const char *const *json_columns;
	/* The record of a row, or NULL when the row is not of a break-glass
	 * account or cannot be used (then it says why). */
	struct record	*(*row)(const struct la_page *, size_t);
};

static void	 la_filter_user(struct buf *, const char *);
static void	 la_filter_audit(struct buf *, const char *);
static struct record *la_signin_row(const struct la_page *, size_t);
static struct record *la_audit_row(const struct la_page *, size_t);

#define LA_SIGNIN_PROJECT						\
	"GwIngestionTime, TimeGenerated, CreatedDateTime, Id, UserId, "	\
	"UserPrincipalName, IPAddress, Location, LocationDetails, "	\
	"AppDisplayName, ResultType, ResultDescription, CorrelationId, "\
	"Status, ClientAppUsed, UserAgent, ConditionalAccessStatus, "	\
	"AuthenticationRequirement"

#define LA_AUDIT_PROJECT						\
	"GwIngestionTime, TimeGenerated, ActivityDateTime, Id, "	\
	"ActivityDisplayName, OperationName, Category, LoggedByService, "\
	"Result, ResultReason, CorrelationId, InitiatedBy, "		\
	"TargetResources, AdditionalDetails"

static const enum la_col la_signin_required[] = {
	COL_INGEST, COL_ID, COL_USER_ID, COL_COUNT
};
static const enum la_col la_audit_required[] = {
	COL_INGEST, COL_ID, COL_INITIATED_BY, COL_TARGET_RESOURCES, COL_COUNT
};

/* SigninLogs types these dynamic; AADNonInteractiveUserSignInLogs types
 * them string and sends JSON text (API-FACTS.md 2.7). Parsing both keeps
 * the records of the two alike. */
static const char *const la_signin_json_columns[] = {
	"LocationDetails", "Status", "DeviceDetail", NULL
};
static const char *const la_audit_json_columns[] = {
	"InitiatedBy", "TargetResources", "AdditionalDetails", NULL
};

static const struct la_signal la_signals[] = {
	{ SIGNAL_SIGN_IN, 1, "SigninLogs", la_filter_user,
	  LA_SIGNIN_PROJECT, la_signin_required, la_signin_json_columns,
	  la_signin_row },
	{ SIGNAL_NON_INTERACTIVE, 1, "AADNonInteractiveUserSignInLogs",
	  la_filter_user, LA_SIGNIN_PROJECT, la_signin_required,
	  la_signin_json_columns, la_signin_row },
	{ SIGNAL_AUDIT, 1, "AuditLogs", la_filter_audit, LA_AUDIT_PROJECT,
	  la_audit_required, la_audit_json_columns, la_audit_row },
};

static const struct la_signal *
la_signal_find(enum signal signal)
{
	for (size_t i = 0; i < sizeof la_signals / sizeof la_signals[0]; i++)
		if (la_signals[i].signal == signal && la_signals[i].enabled)
			return &la_signals[i];
	return NULL;
}

static int
la_supports(enum signal signal)
{
	return la_signal_find(signal) != NULL;
}

static const char *
la_scope(const struct tenant_config *tenant)
{
	return tenant->scopes.log_analytics;
}

static void
la_filter_user(struct buf *b, const char *ids)
{
	buf_printf(b, "| where UserId in~ (%s)\n", ids);
}

static void
la_filter_audit(struct buf *b, const char *ids)
{
	buf_printf(b, "| where tostring(InitiatedBy.user.id) in~ (%s) or "
	    "TargetResources has_any (%s)\n", ids, ids);
}

/* The accounts as KQL string literals: "a", "b". Only GUIDs are let
 * through, lower-cased, so nothing from the config reaches the query
 * unchecked. */
static int
la_ids(const struct tenant_config *tenant, struct buf *ids, char **err)
{
	const char *oid;

	if (tenant->nbreak_glass == 0) {
		*err = xasprintf("tenant %s has no break-glass accounts",
		    tenant->name);
		return -1;
	}
	for (size_t i = 0; i < tenant->nbreak_glass; i++) {
		oid = tenant->break_glass[i].object_id;
		if (!guid_valid(oid)) {
			*err = xasprintf("tenant %s: break-glass account %zu: "
			    "object id is not a GUID", tenant->name, i + 1);
			return -1;
		}
		buf_printf(ids, "%s\"", i == 0 ? "" : ", ");
		for (const char *p = oid; *p != '\0'; p++)
			buf_putc(ids, (char)tolower((unsigned char)*p));
		buf_putc(ids, '"');
	}
	return 0;
}

/* One table's rows of the accounts ingested after cursor_us (minus the
 * overlap); tagged: the leg of a union. */
static void
la_kql_leg(struct buf *b, const struct la_signal *sig,
    const struct source_ctx *ctx, int64_t cursor_us, const char *ids,
    int tagged)
{
	const struct la_config *la = &ctx->tenant->log_analytics;
	char since[TIME_ISO_LEN], after[TIME_ISO_LEN];
	int64_t since_us, after_us;

	/* The cursor minus the overlap, never before the look-back: rows
	 * older than that are outside TimeGenerated's filter anyway. */
	since_us = ctx->now_us - la->lookback * USEC_PER_SEC;
	after_us = cursor_us - la->overlap * USEC_PER_SEC;
	if (cursor_us <= 0 || after_us < since_us)
		after_us = since_us;
	time_format_iso8601(since_us, since);
	time_format_iso8601(after_us, after);

	buf_printf(b, "%s\n", sig->table);
	buf_printf(b, "| where TimeGenerated >= datetime(%s)\n", since);
	buf_printf(b, "| where ingestion_time() > datetime(%s)\n", after);
	sig->filter(b, ids);
	buf_puts(b, "| extend GwIngestionTime = ingestion_time()\n");
	if (!tagged) {
		buf_printf(b, "| project %s\n", sig->project);
		return;
	}
	buf_printf(b, "| extend GwSignal = \"%s\"", signal_name(sig->signal));
	for (size_t i = 0; sig->json_columns[i] != NULL; i++)
		buf_printf(b, ", %s = tostring(%s)", sig->json_columns[i],
		    sig->json_columns[i]);
	buf_printf(b, "\n| project GwSignal, %s\n", sig->project);
}

static char *
la_kql(const struct source_ctx *ctx, unsigned signals, const char *ids)
{
	const struct la_signal *sig;
	struct buf b;
	int n = 0;

	buf_init(&b);
	if ((signals & (signals - 1)) == 0) {
		sig = la_signal_find(ctx->signal);
		la_kql_leg(&b, sig, ctx, ctx->cursor_us, ids, 0);
	} else {
		buf_puts(&b, "union\n");
		for (int s = 0; s < SIGNAL_COUNT; s++) {
			if ((signals & SIGNAL_BIT(s)) == 0)
				continue;
			buf_puts(&b, n++ == 0 ? "(" : ",\n(");
			la_kql_leg(&b, la_signal_find((enum signal)s), ctx,
			    ctx->cursors_us[s], ids, 1);
			buf_putc(&b, ')');
		}
		buf_putc(&b, '\n');
	}
	buf_puts(&b, "| order by GwIngestionTime asc");
	return buf_steal(&b);
}

/* The signals a poll reads (ctx->signal among them), each one this build
 * has; 0 with *err otherwise. */
static unsigned
la_signals_of(const struct source_ctx *ctx, char **err)
{
	unsigned signals;

	if ((unsigned)ctx->signal >= SIGNAL_COUNT ||
	    (ctx->together >> SIGNAL_COUNT) != 0) {
		*err = xstrdup("log_analytics: a signal not supported in this "
		    "build");
		return 0;
	}
	signals = ctx->together | SIGNAL_BIT(ctx->signal);
	for (int s = 0; s < SIGNAL_COUNT; s++) {
		if ((signals & SIGNAL_BIT(s)) != 0 &&
		    la_signal_find((enum signal)s) == NULL) {
			*err = xasprintf("log_analytics: signal %s not "
			    "supported in this build",
			    signal_name((enum signal)s));
			return 0;
		}
	}
	return signals;
}

static int
la_build(const struct source_ctx *ctx, struct source_req *req, char **err)
{
	const struct tenant_config *tenant = ctx->tenant;
	const struct la_config *la = &tenant->log_analytics;
	const char *endpoint = tenant->endpoints.log_analytics;
	struct buf ids;
	char *kql, *timespan, *body;
	unsigned signals;
	size_t elen;
	json_t *o;

	memset(req, 0, sizeof *req);
	*err = NULL;
	if ((signals = la_signals_of(ctx, err)) == 0)
		return -1;
	if (!la->enabled || la->workspace_id == NULL || endpoint == NULL) {
		*err = xasprintf("tenant %s has no log_analytics workspace",
		    tenant->name);
		return -1;
	}
	if (!guid_valid(la->workspace_id)) {
		*err = xasprintf("tenant %s: log_analytics workspace_id is "
		    "not a GUID", tenant->name);
		return -1;
	}
	if (la->lookback <= 0 || la->overlap < 0 ||
	    la->lookback > INT64_MAX / USEC_PER_SEC / 4 ||
	    la->overlap > INT64_MAX / USEC_PER_SEC / 4) {
		*err = xasprintf("tenant %s: log_analytics lookback or overlap "
		    "out of range", tenant->name);
		return -1;
	}

	buf_init(&ids);
	if (la_ids(tenant, &ids, err) != 0) {
		buf_free(&ids);
		return -1;
	}
	kql = la_kql(ctx, signals, buf_cstr(&ids));
	buf_free(&ids);

	timespan = xasprintf("PT%lldS",
	    (long long)(la->lookback + la->overlap));
	if ((o = json_pack("{s:s, s:s}", "query", kql, "timespan",
	    timespan)) == NULL)
		fatalx("%s: json_pack", __func__);
	if ((body = json_dumps(o, JSON_COMPACT)) == NULL)
		fatalx("%s: json_dumps", __func__);
	json_decref(o);
	free(timespan);
	free(kql);

	elen = strlen(endpoint);
	while (elen > 0 && endpoint[elen - 1] == '/')
		elen--;
	req->method = xstrdup("POST");
	req->url = xasprintf("%.*s/v1/workspaces/%s/query", (int)elen,
	    endpoint, la->workspace_id);
	req->body = xstrdup(body);
	req->content_type = xstrdup("application/json");
	free(body);
	return 0;
}

/* Helpers over the cells of a page. */

static const char *
la_str(const struct la_page *p, size_t row, enum la_col c)
{
	const char *s = la_table_string(&p->t, row, p->col[c]);

	return s != NULL && *s != '\0' ? s : NULL;
}

static char *
la_dup(const char *s)
{
	return s != NULL && *s != '\0' ? xstrdup(s) : NULL;
}

static char *
la_lower(const char *s)
{
	char *l;

	if (s == NULL)
		return NULL;
	l = xstrdup(s);
	for (char *q = l; *q != '\0'; q++)
		*q = (char)tolower((unsigned char)*q);
	return l;
}

/* A string member of an object cell, or NULL. */
static const char *
la_member(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL && *s != '\0' ? s : NULL;
}

static const struct account *
la_account(const struct tenant_config *tenant, const char *oid)
{
	if (oid == NULL)
		return NULL;
	for (size_t i = 0; i < tenant->nbreak_glass; i++)
		if (strcasecmp(tenant->break_glass[i].object_id, oid) == 0)
			return &tenant->break_glass[i];
	return NULL;
}

static char *la_raw(const struct la_page *, size_t);

/* A break-glass row is never dropped, even when the service leaves out
 * what we key on: it is kept with a stand-in, and the log says so. */
static void
la_degraded(const struct la_page *p, size_t row, const char *why)
{
	log_warnx("tenant %s: log_analytics %s: tables[%zu].rows[%zu] of a "
	    "break-glass account: %s; kept with a stand-in value",
	    p->ctx->tenant->name, signal_name(p->signal), p->t.index,
	    row, why);
}

/* A row without an Id gets one derived from its content, so the same row
 * returned again by an overlapping poll is still stored once. */
static char *
la_content_id(const struct la_page *p, size_t row)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char *raw = la_raw(p, row), hex[2 * 16 + 1];

	if (EVP_Digest(raw, strlen(raw), md, &mdlen, EVP_sha256(), NULL) != 1)
		fatalx("%s: EVP_Digest", __func__);
	free(raw);
	for (unsigned int i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return xasprintf("gw-content-%s", hex);
}

/* When it happened: the row's own time, else when it was ingested, else
 * now (the record still pages; its time is approximate). */
static int64_t
la_fallback_time(const struct la_page *p, size_t row)
{
	int64_t us;

	if (la_table_time(&p->t, row, p->col[COL_INGEST], &us) == 0)
		return us;
	return p->ctx->now_us;
}

/* "City, State, CC" from LocationDetails, leaving out missing parts; else
 * the Location column. */
static char *
la_location(const struct la_page *p, size_t row)
{
	static const char *const parts[] = { "city", "state",
		"countryOrRegion" };
	json_t *details = la_table_cell(&p->t, row,
	    p->col[COL_LOCATION_DETAILS]);
	const char *s;
	struct buf b;

	buf_init(&b);
	if (json_is_object(details)) {
		for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
			if ((s = la_member(details, parts[i])) == NULL)
				continue;
			if (b.len > 0)
				buf_puts(&b, ", ");
			buf_puts(&b, s);
		}
	}
	if (b.len == 0 && (s = la_str(p, row, COL_LOCATION)) != NULL)
		buf_puts(&b, s);
	if (b.len == 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* ResultType, a string in SigninLogs ("0", "50126"); -1 when it is not
 * a number. */
static long
la_result_code(const struct la_page *p, size_t row)
{
	json_t *v = la_table_cell(&p->t, row, p->col[COL_RESULT_TYPE]);
	const char *s, *q;
	char *end;
	long code;

	if (json_is_integer(v))
		return json_integer_value(v) >= 0 &&
		    json_integer_value(v) <= 0x7fffffff ?
		    (long)json_integer_value(v) : -1;
	if ((s = json_string_value(v)) == NULL)
		return -1;
	for (q = s; *q != '\0'; q++)
		if (!isdigit((unsigned char)*q))
			return -1;
	if (q == s || q - s > 9)
		return -1;
	errno = 0;
	code = strtol(s, &end, 10);
	return errno == 0 && *end == '\0' ? code : -1;
}

/* A record with its identity: the row's Id and event time (the column
 * `when`, else TimeGenerated), or stand-ins when the service left them out. */
static struct record *
la_record_new(const struct la_page *p, size_t row, enum la_col when)
{
	struct record *r = record_new();
	const char *id;

	if ((id = la_str(p, row, COL_ID)) == NULL) {
		la_degraded(p, row, "no Id");
		r->id = la_content_id(p, row);
	} else
		r->id = xstrdup(id);
	if (la_table_time(&p->t, row, p->col[when], &r->event_us) != 0 &&
	    la_table_time(&p->t, row, p->col[COL_TIME_GENERATED],
	    &r->event_us) != 0) {
		la_degraded(p, row, "no event time");
		r->event_us = la_fallback_time(p, row);
	}
	return r;
}

static struct record *
la_signin_row(const struct la_page *p, size_t row)
{
	const char *uid, *reason;
	struct record *r;
	json_t *status;

	uid = la_str(p, row, COL_USER_ID);
	if (la_account(p->ctx->tenant, uid) == NULL)
		return NULL;
	r = la_record_new(p, row, COL_CREATED);

	r->user_id = la_lower(uid);
	r->upn = la_dup(la_str(p, row, COL_UPN));
	r->ip = la_dup(la_str(p, row, COL_IP));
	r->location = la_location(p, row);
	r->app = la_dup(la_str(p, row, COL_APP));
	r->result_code = la_result_code(p, row);
	r->success = r->result_code == 0;
	reason = la_str(p, row, COL_RESULT_DESCRIPTION);
	if (reason == NULL) {
		status = la_table_cell(&p->t, row, p->col[COL_STATUS]);
		reason = la_member(status, "failureReason");
	}
	r->failure_reason = la_dup(reason);
	r->correlation_id = la_dup(la_str(p, row, COL_CORRELATION_ID));
	return r;
}

/* A copy of s without surrounding white space, or NULL when nothing is
 * left: real activity names carry a trailing space (API-FACTS.md 7.3). */
static char *
la_trimmed(const char *s)
{
	size_t len;

	if (s == NULL)
		return NULL;
	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	return len > 0 ? xstrndup(s, len) : NULL;
}

/* The UPN, else the display name, of a target or initiator object. */
static char *
la_name(json_t *o)
{
	const char *s;

	if ((s = la_member(o, "userPrincipalName")) == NULL)
		s = la_member(o, "displayName");
	return la_dup(s);
}

/* AuditLogs: the record is of a break-glass account when the account is a
 * target (TargetResources[].id) or the initiator (InitiatedBy.user.id);
 * when both are, the initiator's, as in the rule engine (rules.c). The KQL
 * filter is wider (has_any matches an id anywhere in TargetResources,
 * modified properties included): here only those two places count. */
static struct record *
la_audit_row(const struct la_page *p, size_t row)
{
	json_t *initiated, *user, *app, *targets, *tr, *bg_target = NULL;
	const struct account *acct, *target_acct = NULL, *a;
	const char *init_id, *id, *result;
	struct record *r;
	struct buf tids;
	size_t i;

	initiated = la_table_cell(&p->t, row, p->col[COL_INITIATED_BY]);
	/* Graph-shaped rows carry both members, the unused one null or
	 * with null members. */
	user = json_object_get(initiated, "user");
	if (!json_is_object(user) || (la_member(user, "id") == NULL &&
	    la_member(user, "userPrincipalName") == NULL))
		user = NULL;
	app = json_object_get(initiated, "app");
	if (!json_is_object(app))
		app = NULL;
	init_id = la_member(user, "id");
	targets = la_table_cell(&p->t, row, p->col[COL_TARGET_RESOURCES]);

	buf_init(&tids);
	json_array_foreach(targets, i, tr) {
		if ((id = la_member(tr, "id")) == NULL)
			continue;
		if (bg_target == NULL &&
		    (a = la_account(p->ctx->tenant, id)) != NULL) {
			target_acct = a;
			bg_target = tr;
		}
		if (tids.len > 0)
			buf_putc(&tids, ' ');
		for (; *id != '\0'; id++)
			buf_putc(&tids, (char)tolower((unsigned char)*id));
	}
	if ((acct = la_account(p->ctx->tenant, init_id)) == NULL)
		acct = target_acct;
	if (acct == NULL) {
		buf_free(&tids);
		return NULL;
	}
	r = la_record_new(p, row, COL_ACTIVITY_TIME);

	r->user_id = la_lower(acct->object_id);
	r->upn = la_dup(acct->upn);
	r->ip = la_dup(la_member(user, "ipAddress"));
	r->activity = la_trimmed(la_str(p, row, COL_ACTIVITY));
	r->category = la_trimmed(la_str(p, row, COL_CATEGORY));
	r->service = la_trimmed(la_str(p, row, COL_SERVICE));
	result = la_str(p, row, COL_RESULT);
	r->success = result != NULL && strcasecmp(result, "success") == 0;
	r->result_code = r->success ? 0 : -1;
	r->failure_reason = la_dup(la_str(p, row, COL_RESULT_REASON));
	r->correlation_id = la_dup(la_str(p, row, COL_CORRELATION_ID));
	if (user != NULL) {
		r->initiator = la_name(user);
		r->initiator_id = la_lower(init_id);
	} else if (app != NULL) {
		r->initiator = la_dup(la_member(app, "displayName"));
		r->initiator_id = la_lower(la_member(app,
		    "servicePrincipalId"));
	}
	/* The break-glass target when there is one, else the first. */
	r->target = la_name(bg_target != NULL ? bg_target :
	    json_array_get(targets, 0));
	r->target_ids = tids.len > 0 ? buf_steal(&tids) : NULL;
	r->modified = audit_modified_text(targets);
	buf_free(&tids);
	return r;
}

/* The row as {column: value}, cells as normalised (dynamic as JSON). */
static char *
la_raw(const struct la_page *p, size_t row)
{
	json_t *o, *v;
	char *s;

	if ((o = json_object()) == NULL)
		fatalx("%s: json_object", __func__);
	for (size_t i = 0; i < p->t.ncolumns; i++) {
		v = json_array_get(json_array_get(p->t.rows, row), i);
		/* A union row has every leg's columns, the others' null. */
		if (json_is_null(v) && (p->ctx->together &
		    (p->ctx->together - 1)) != 0)
			continue;
		if (json_object_set(o, p->t.columns[i].name, v) != 0)
			fatalx("%s: json_object_set", __func__);
	}
	/* 15 digits: 32.02 stays 32.02, not 32.020000000000003. */
	s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));
	if (s == NULL)
		fatalx("%s: json_dumps", __func__);
	json_decref(o);
	return s;
}

/* The signal of a union row, from its GwSignal cell; -1 (logged) when it
 * names none of the poll's. */
static int
la_row_signal(const struct la_page *p, size_t row, unsigned signals,
    int col)
{
	const char *name = la_table_string(&p->t, row, col);
	enum signal s;

	if (name == NULL || signal_from_name(name, &s) == -1 ||
	    (signals & SIGNAL_BIT(s)) == 0) {
		log_warnx("log_analytics: tenant %s: tables[%zu].rows[%zu]: "
		    "GwSignal '%s' is not a signal of this query; row skipped",
		    p->ctx->tenant->name, p->t.index, row,
		    name != NULL ? name : "(null)");
		return -1;
	}
	return (int)s;
}

static int
la_parse(const struct source_ctx *ctx, const char *body, size_t len,
    struct record_list *out, struct page_info *pi, char **err)
{
	const struct la_signal *sig;
	struct la_page p;
	struct record *r;
	int64_t ingest_us;
	unsigned signals;
	int tag_col = -1, s;
	size_t i;

	memset(pi, 0, sizeof *pi);
	*err = NULL;
	if ((signals = la_signals_of(ctx, err)) == 0)
		return -1;

	memset(&p, 0, sizeof p);
	p.ctx = ctx;
	p.signal = ctx->signal;
	if (la_table_parse(body, len, &p.t, err) != 0) {
		la_table_free(&p.t);
		return -1;
	}
	for (s = 0; s < SIGNAL_COUNT; s++) {
		if ((signals & SIGNAL_BIT(s)) == 0)
			continue;
		sig = la_signal_find((enum signal)s);
		for (i = 0; sig->json_columns[i] != NULL; i++)
			la_table_parse_json_column(&p.t,
			    la_table_column(&p.t, sig->json_columns[i]));
	}
	for (i = 0; i < COL_COUNT; i++)
		p.col[i] = la_table_column(&p.t, la_col_names[i]);
	if ((signals & (signals - 1)) != 0 && p.t.nrows > 0 &&
	    (tag_col = la_table_column(&p.t, "GwSignal")) == -1) {
		*err = xasprintf("tables[%zu]: no GwSignal column", p.t.index);
		la_table_free(&p.t);
		return -1;
	}
	for (s = 0; s < SIGNAL_COUNT && p.t.nrows > 0; s++) {
		if ((signals & SIGNAL_BIT(s)) == 0)
			continue;
		sig = la_signal_find((enum signal)s);
		for (i = 0; sig->required[i] != COL_COUNT; i++) {
			if (p.col[sig->required[i]] != -1)
				continue;
			*err = xasprintf("tables[%zu]: no %s column",
			    p.t.index, la_col_names[sig->required[i]]);
			la_table_free(&p.t);
			return -1;
		}
	}

	for (i = 0; i < p.t.nrows; i++) {
		if (tag_col != -1) {
			if ((s = la_row_signal(&p, i, signals, tag_col)) == -1)
				continue;
			p.signal = (enum signal)s;
		}
		ingest_us = 0;
		if (la_table_time(&p.t, i, p.col[COL_INGEST],
		    &ingest_us) == 0) {
			if (ingest_us > pi->max_ingest_us)
				pi->max_ingest_us = ingest_us;
			if (ingest_us > pi->signal_max_ingest_us[p.signal])
				pi->signal_max_ingest_us[p.signal] = ingest_us;
		}
		sig = la_signal_find(p.signal);
		if ((r = sig->row(&p, i)) == NULL)
			continue;
		r->signal = p.signal;
		r->tenant = xstrdup(ctx->tenant->name);
		r->ingest_us = ingest_us;
		r->raw = la_raw(&p, i);
		record_list_add(out, r);
	}
	pi->rows = p.t.nrows;
	pi->partial = p.t.partial;
	if (p.t.partial_why != NULL)
		pi->partial_why = xstrdup(p.t.partial_why);
	la_table_free(&p.t);
	return 0;
}

const char *
source_la_table(enum signal s)
{
	const struct la_signal *sig = la_signal_find(s);

	return sig != NULL ? sig->table : NULL;
}

const struct source_ops source_loganalytics_ops = {
	.kind = SOURCE_LOG_ANALYTICS,
	.name = "log_analytics",
	.supports = la_supports,
	.scope = la_scope,
	.build = la_build,
	.parse = la_parse,
};
