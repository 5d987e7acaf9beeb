/* The Microsoft Graph source (source-graph.c): requests, pages, the next
 * link, and the record shape it shares with the Log Analytics source. */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "record.h"
#include "source-graph.h"
#include "source.h"
#include "testdata.h"
#include "timeutil.h"
#include "xmalloc.h"

#define BG1	"5f1c2a9e-8d3b-4c7a-9e21-0b6d4f3a7c10"
#define BG2	"a7e4b9c2-1d6f-4e8a-b3c5-92f0d1e6a8b4"
#define OTHER	"0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a"
/* The users of Microsoft's examples (graph-*.json). */
#define EX_V1	"26be570a-ae82-4189-b4e2-a37c6808512d"
#define EX_BETA	"26be570a-1111-5555-b4e2-a37c6808512d"
#define EX_INIT	"728309ae-1a37-4937-9afe-e35d964db09b"
#define EX_TGT	"1f0e98f5-3161-4c6b-9b50-d488572f2bb7"
#define EX_ZERO	"00000000-0000-0000-0000-000000000000"

#define NOW	"2026-11-22T04:00:00Z"

static struct account		accounts[4];
static struct tenant_config	tenant;

static void
tenant_setup(void)
{
	memset(accounts, 0, sizeof accounts);
	testdata_tenant(&tenant, accounts, BG1, BG2);
	testdata_tenant_la(&tenant, "63613592-b6f7-4c3d-a390-22ba13102111");
	tenant.endpoints.graph = "https://graph.microsoft.com";
	tenant.scopes.graph = "https://graph.microsoft.com/.default";
}

/* The tenant whose break-glass accounts are the users of the examples. */
static void
tenant_examples(void)
{
	accounts[0].object_id = EX_V1;
	accounts[0].upn = "testaccount1@contoso.com";
	accounts[1].object_id = EX_BETA;
	accounts[1].upn = "testaccount1-beta@contoso.com";
	accounts[2].object_id = EX_TGT;
	accounts[2].upn = "bob@contoso.com";
	tenant.nbreak_glass = 3;
}

static void
ctx_init(struct source_ctx *ctx, enum signal signal)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->tenant = &tenant;
	ctx->signal = signal;
	ctx->now_us = testdata_us(NOW);
}

static int
gparse(enum signal signal, const char *body, size_t len,
    struct record_list *out, struct page_info *pi, char **err)
{
	struct source_ctx ctx;

	ctx_init(&ctx, signal);
	*err = NULL;
	return source_graph_ops.parse(&ctx, body, len, out, pi, err);
}

/* Parses a page written with ' for ", expecting success. */
static void
gparse_ok(enum signal signal, const char *text, struct record_list *out,
    struct page_info *pi)
{
	char *body = testdata_jq(text), *err = NULL;

	record_list_init(out);
	ck_assert_msg(gparse(signal, body, strlen(body), out, pi, &err) == 0,
	    "%s", err);
	ck_assert_ptr_null(err);
	free(body);
}

/* Parses a page written with ' for ", expecting the error. */
static void
gparse_fails(enum signal signal, const char *text, const char *want)
{
	struct record_list out;
	struct page_info pi;
	char *body = testdata_jq(text), *err = NULL;

	record_list_init(&out);
	ck_assert_int_eq(gparse(signal, body, strlen(body), &out, &pi, &err),
	    -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" does not say "
	    "\"%s\"", err, want);
	ck_assert_uint_eq(out.n, 0);
	ck_assert_ptr_null(pi.next_url);
	free(err);
	free(body);
}

static char *
gbuild(enum signal signal, int64_t now)
{
	struct source_ctx ctx;
	struct source_req req;
	char *err = NULL, *url;

	ctx_init(&ctx, signal);
	ctx.now_us = now;
	ck_assert_msg(source_graph_ops.build(&ctx, &req, &err) == 0, "%s",
	    err);
	ck_assert_str_eq(req.method, "GET");
	ck_assert_ptr_null(req.body);
	url = xstrdup(req.url);
	source_req_clear(&req);
	return url;
}

static int
unhex(int c)
{
	return isdigit(c) ? c - '0' : tolower(c) - 'a' + 10;
}

/* The decoded value of a query parameter of url; NULL when absent. Every
 * byte outside RFC 3986's unreserved set must arrive encoded. */
static char *
query_param(const char *url, const char *name)
{
	const char *q = strchr(url, '?'), *p, *end;
	size_t nlen = strlen(name);
	struct { char *s; size_t n; } o;

	ck_assert_ptr_nonnull(q);
	for (p = q + 1; p != NULL && *p != '\0';
	    p = strchr(p, '&') != NULL ? strchr(p, '&') + 1 : NULL) {
		if (strncmp(p, name, nlen) != 0 || p[nlen] != '=')
			continue;
		p += nlen + 1;
		end = strchr(p, '&');
		if (end == NULL)
			end = p + strlen(p);
		o.s = xmalloc((size_t)(end - p) + 1);
		o.n = 0;
		for (; p < end; p++) {
			if (*p == '%') {
				ck_assert(isxdigit((unsigned char)p[1]) &&
				    isxdigit((unsigned char)p[2]));
				o.s[o.n++] = (char)(unhex(p[1]) * 16 +
				    unhex(p[2]));
				p += 2;
			} else {
				ck_assert_msg(isalnum((unsigned char)*p) ||
				    strchr("-._~", *p) != NULL,
				    "'%c' not encoded in %s", *p, url);
				o.s[o.n++] = *p;
			}
		}
		o.s[o.n] = '\0';
		return o.s;
	}
	return NULL;
}

/* The part of url before the query. */
static char *
url_path(const char *url)
{
	return xstrndup(url, strcspn(url, "?"));
}

static void
assert_build(enum signal signal, const char *path, const char *filter,
    const char *top)
{
	char *url = gbuild(signal, testdata_us(NOW)), *p, *f, *t;

	p = url_path(url);
	f = query_param(url, "$filter");
	t = query_param(url, "$top");
	ck_assert_str_eq(p, path);
	ck_assert_ptr_nonnull(f);
	ck_assert_str_eq(f, filter);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t, top);
	free(p);
	free(f);
	free(t);
	free(url);
}

START_TEST(test_ops)
{
	ck_assert_ptr_eq(source_find(SOURCE_GRAPH), &source_graph_ops);
	ck_assert_ptr_eq(source_find(SOURCE_LOG_ANALYTICS),
	    &source_loganalytics_ops);
	ck_assert_int_eq(source_graph_ops.kind, SOURCE_GRAPH);
	ck_assert_str_eq(source_graph_ops.name, "graph");
	ck_assert(source_graph_ops.supports(SIGNAL_SIGN_IN));
	ck_assert(source_graph_ops.supports(SIGNAL_NON_INTERACTIVE));
	ck_assert(source_graph_ops.supports(SIGNAL_AUDIT));
	tenant.scopes.graph = "https://graph.microsoft.us/.default";
	ck_assert_str_eq(source_graph_ops.scope(&tenant),
	    "https://graph.microsoft.us/.default");
}
END_TEST

/* The whole URL, byte for byte: spaces, quotes, parentheses and colons
 * percent-encoded; `$filter` and `$top` with their `$`. */
START_TEST(test_build_exact)
{
	char *url = gbuild(SIGNAL_SIGN_IN, testdata_us(NOW));

	ck_assert_str_eq(url, "https://graph.microsoft.com/v1.0/auditLogs/"
	    "signIns?$filter=%28userId%20eq%20%27" BG1 "%27%20or%20userId"
	    "%20eq%20%27" BG2 "%27%29%20and%20createdDateTime%20ge%20"
	    "2026-11-22T02%3A00%3A00Z&$top=1000");
	free(url);
}
END_TEST

START_TEST(test_build_signals)
{
	assert_build(SIGNAL_SIGN_IN,
	    "https://graph.microsoft.com/v1.0/auditLogs/signIns",
	    "(userId eq '" BG1 "' or userId eq '" BG2 "') and "
	    "createdDateTime ge 2026-11-22T02:00:00Z", "1000");
	assert_build(SIGNAL_NON_INTERACTIVE,
	    "https://graph.microsoft.com/beta/auditLogs/signIns",
	    "(userId eq '" BG1 "' or userId eq '" BG2 "') and "
	    "signInEventTypes/any(t: t eq 'nonInteractiveUser') and "
	    "createdDateTime ge 2026-11-22T02:00:00Z", "1000");
	assert_build(SIGNAL_AUDIT,
	    "https://graph.microsoft.com/v1.0/auditLogs/directoryAudits",
	    "(targetResources/any(t: t/id eq '" BG1 "') or "
	    "initiatedBy/user/id eq '" BG1 "' or "
	    "targetResources/any(t: t/id eq '" BG2 "') or "
	    "initiatedBy/user/id eq '" BG2 "') and "
	    "activityDateTime ge 2026-11-22T02:00:00Z", "999");

	/* One account: no parentheses needed for sign-ins. */
	tenant.nbreak_glass = 1;
	assert_build(SIGNAL_SIGN_IN,
	    "https://graph.microsoft.com/v1.0/auditLogs/signIns",
	    "userId eq '" BG1 "' and createdDateTime ge 2026-11-22T02:00:00Z",
	    "1000");
	assert_build(SIGNAL_AUDIT,
	    "https://graph.microsoft.com/v1.0/auditLogs/directoryAudits",
	    "(targetResources/any(t: t/id eq '" BG1 "') or "
	    "initiatedBy/user/id eq '" BG1 "') and "
	    "activityDateTime ge 2026-11-22T02:00:00Z", "999");
}
END_TEST

START_TEST(test_build_lookback)
{
	/* The default (0) is 2h; whole seconds, rounded down so the window
	 * never shrinks. */
	char *url = gbuild(SIGNAL_SIGN_IN, testdata_us("2026-11-22T04:00:00.999999Z"));
	char *f = query_param(url, "$filter");

	ck_assert_ptr_nonnull(strstr(f, "createdDateTime ge "
	    "2026-11-22T02:00:00Z"));
	free(f);
	free(url);

	tenant.graph_lookback = 30 * 60;
	url = gbuild(SIGNAL_AUDIT, testdata_us(NOW));
	f = query_param(url, "$filter");
	ck_assert_ptr_nonnull(strstr(f, "activityDateTime ge "
	    "2026-11-22T03:30:00Z"));
	free(f);
	free(url);

	tenant.graph_lookback = 3 * 86400;
	url = gbuild(SIGNAL_NON_INTERACTIVE, testdata_us(NOW));
	f = query_param(url, "$filter");
	ck_assert_ptr_nonnull(strstr(f, "createdDateTime ge "
	    "2026-11-19T04:00:00Z"));
	free(f);
	free(url);
}
END_TEST

/* Upper-case ids in the config are sent in lower case; the endpoint's
 * trailing slashes are dropped. */
START_TEST(test_build_case_and_slash)
{
	char *url, *f;

	accounts[0].object_id = "5F1C2A9E-8D3B-4C7A-9E21-0B6D4F3A7C10";
	tenant.endpoints.graph = "https://graph.example:8443//";
	url = gbuild(SIGNAL_SIGN_IN, testdata_us(NOW));
	ck_assert_int_eq(strncmp(url, "https://graph.example:8443/v1.0/"
	    "auditLogs/signIns?", 50), 0);
	f = query_param(url, "$filter");
	ck_assert_ptr_nonnull(strstr(f, "userId eq '" BG1 "'"));
	free(f);
	free(url);
}
END_TEST

static void
build_fails(enum signal signal, const char *want)
{
	struct source_ctx ctx;
	struct source_req req;
	char *err = NULL;

	ctx_init(&ctx, signal);
	ck_assert_int_eq(source_graph_ops.build(&ctx, &req, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" does not say "
	    "\"%s\"", err, want);
	ck_assert_ptr_null(req.url);
	free(err);
}

START_TEST(test_build_rejects)
{
	/* Nothing but a GUID reaches a filter. */
	accounts[1].object_id = BG1 "') or userId ne ('x";
	build_fails(SIGNAL_SIGN_IN, "tenant contoso: break-glass account 2: "
	    "object id is not a GUID");
	build_fails(SIGNAL_AUDIT, "break-glass account 2: object id is not a "
	    "GUID");
	accounts[1].object_id = "bg2@contoso.onmicrosoft.com";
	build_fails(SIGNAL_NON_INTERACTIVE, "object id is not a GUID");
	accounts[1].object_id = BG2;

	tenant.graph_lookback = -1;
	build_fails(SIGNAL_SIGN_IN, "tenant contoso: graph lookback out of "
	    "range");
	tenant.graph_lookback = INT64_MAX;
	build_fails(SIGNAL_SIGN_IN, "graph lookback out of range");
	tenant.graph_lookback = 0;

	tenant.nbreak_glass = 0;
	build_fails(SIGNAL_SIGN_IN, "tenant contoso has no break-glass "
	    "accounts");
	tenant.nbreak_glass = 2;
	tenant.endpoints.graph = NULL;
	build_fails(SIGNAL_SIGN_IN, "tenant contoso has no Graph endpoint");
}
END_TEST

static char *
single_filter(enum signal signal, size_t i)
{
	struct source_ctx ctx;
	struct source_req req;
	char *err = NULL, *f;

	ctx_init(&ctx, signal);
	ck_assert_msg(source_graph_build_single(&ctx, i, &req, &err) == 0,
	    "%s", err);
	f = query_param(req.url, "$filter");
	ck_assert_ptr_null(strstr(f, " or "));
	source_req_clear(&req);
	return f;
}

/* The fallback when the service refuses `or`: no `or` anywhere. */
START_TEST(test_build_single)
{
	struct source_ctx ctx;
	struct source_req req;
	char *err = NULL, *f;

	ctx_init(&ctx, SIGNAL_SIGN_IN);
	ck_assert_uint_eq(source_graph_single_count(&ctx), 2);
	ctx.signal = SIGNAL_NON_INTERACTIVE;
	ck_assert_uint_eq(source_graph_single_count(&ctx), 2);
	ctx.signal = SIGNAL_AUDIT;
	ck_assert_uint_eq(source_graph_single_count(&ctx), 4);

	f = single_filter(SIGNAL_SIGN_IN, 1);
	ck_assert_str_eq(f, "userId eq '" BG2 "' and createdDateTime ge "
	    "2026-11-22T02:00:00Z");
	free(f);
	f = single_filter(SIGNAL_NON_INTERACTIVE, 0);
	ck_assert_str_eq(f, "userId eq '" BG1 "' and signInEventTypes/any(t: "
	    "t eq 'nonInteractiveUser') and createdDateTime ge "
	    "2026-11-22T02:00:00Z");
	free(f);
	f = single_filter(SIGNAL_AUDIT, 0);
	ck_assert_str_eq(f, "targetResources/any(t: t/id eq '" BG1 "') and "
	    "activityDateTime ge 2026-11-22T02:00:00Z");
	free(f);
	f = single_filter(SIGNAL_AUDIT, 1);
	ck_assert_str_eq(f, "initiatedBy/user/id eq '" BG1 "' and "
	    "activityDateTime ge 2026-11-22T02:00:00Z");
	free(f);
	f = single_filter(SIGNAL_AUDIT, 3);
	ck_assert_str_eq(f, "initiatedBy/user/id eq '" BG2 "' and "
	    "activityDateTime ge 2026-11-22T02:00:00Z");
	free(f);

	ck_assert_int_eq(source_graph_build_single(&ctx, 4, &req, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_null(req.url);
	free(err);
}
END_TEST

/* Microsoft's v1.0 examples are not JSON as published (a trailing comma):
 * they are refused, not read by a loosened parser. */
START_TEST(test_example_v1_trailing_comma_rejected)
{
	static const char *const files[] = {
		"graph-signin-list-response-1.txt",
		"graph-signin-list-response-2.txt",
	};
	struct record_list out;
	struct page_info pi;
	char *body, *err;
	size_t len;

	tenant_examples();
	for (size_t i = 0; i < 2; i++) {
		body = testdata_slurp(GW_TEST_DATA, files[i], &len);
		record_list_init(&out);
		ck_assert_int_eq(gparse(SIGNAL_SIGN_IN, body, len, &out, &pi,
		    &err), -1);
		ck_assert_msg(strncmp(err, "invalid JSON at line 64 ", 24) == 0,
		    "%s", err);
		ck_assert_uint_eq(out.n, 0);
		free(err);
		free(body);
	}
}
END_TEST

START_TEST(test_example_v1_fixed)
{
	struct record_list out;
	struct page_info pi;
	struct record *r;
	char *body, *err = NULL;
	json_t *raw, *item, *page;
	size_t len;

	tenant_examples();
	body = testdata_slurp(GW_TEST_DATA, "graph-signin-list-response-1-fixed.json", &len);
	record_list_init(&out);
	ck_assert_msg(gparse(SIGNAL_SIGN_IN, body, len, &out, &pi, &err) == 0,
	    "%s", err);
	ck_assert_uint_eq(out.n, 1);
	ck_assert_uint_eq(pi.rows, 1);
	ck_assert_int_eq(pi.partial, 0);
	ck_assert_int_eq(pi.max_ingest_us, 0);
	ck_assert_str_eq(pi.next_url, "https://graph.microsoft.com/v1.0/"
	    "auditLogs/signIns?$top=1&$skiptoken="
	    "9177f2e3532fcd4c4d225f68f7b9bdf7_1");
	r = out.v[0];
	ck_assert_int_eq(r->signal, SIGNAL_SIGN_IN);
	ck_assert_str_eq(r->tenant, "contoso");
	ck_assert_str_eq(r->id, "66ea54eb-6301-4ee5-be62-ff5a759b0100");
	ck_assert_int_eq(r->event_us, testdata_us("2020-03-13T19:15:41.619583Z"));
	ck_assert_int_eq(r->ingest_us, 0);
	ck_assert_str_eq(r->user_id, EX_V1);
	ck_assert_str_eq(r->upn, "testaccount1@contoso.com");
	ck_assert_str_eq(r->ip, "131.107.159.37");
	ck_assert_str_eq(r->location, "Redmond, Washington, US");
	ck_assert_str_eq(r->app, "Graph explorer");
	ck_assert_int_eq(r->result_code, 0);
	ck_assert_int_eq(r->success, 1);
	ck_assert_ptr_null(r->failure_reason);
	ck_assert_str_eq(r->correlation_id,
	    "d79f5bee-5860-4832-928f-3133e22ae912");
	ck_assert_ptr_null(r->activity);
	ck_assert_ptr_null(r->target_ids);

	/* raw is the item, compact. */
	ck_assert_ptr_null(strchr(r->raw, '\n'));
	ck_assert_ptr_null(strstr(r->raw, ": "));
	raw = json_loads(r->raw, 0, NULL);
	page = json_loadb(body, len, 0, NULL);
	item = json_array_get(json_object_get(page, "value"), 0);
	ck_assert_ptr_nonnull(raw);
	json_object_del(raw, "location");
	json_object_del(item, "location");	/* coordinates: 15 digits */
	ck_assert(json_equal(raw, item));
	json_decref(raw);
	json_decref(page);

	page_info_clear(&pi);
	record_list_clear(&out);
	free(body);

	body = testdata_slurp(GW_TEST_DATA, "graph-signin-list-response-2-fixed.json", &len);
	ck_assert_msg(gparse(SIGNAL_SIGN_IN, body, len, &out, &pi, &err) == 0,
	    "%s", err);
	ck_assert_uint_eq(out.n, 1);
	ck_assert_str_eq(pi.next_url, "https://graph.microsoft.com/v1.0/"
	    "auditLogs/signins?$filter=startsWith(appDisplayName%2c%27Graph"
	    "%27)&$top=10&$skiptoken=70f66c0893886b49370ffdb44cd8d137b1a12b9"
	    "ba02f34a16f33c5e0f7c42fc7");
	page_info_clear(&pi);
	record_list_clear(&out);
	free(body);
}
END_TEST

/* Not one of the tenant's accounts: the page reads, no record. */
START_TEST(test_example_not_break_glass)
{
	struct record_list out;
	struct page_info pi;
	char *body, *err = NULL;
	size_t len;

	body = testdata_slurp(GW_TEST_DATA, "graph-signin-list-response-1-fixed.json", &len);
	record_list_init(&out);
	ck_assert_msg(gparse(SIGNAL_SIGN_IN, body, len, &out, &pi, &err) == 0,
	    "%s", err);
	ck_assert_uint_eq(out.n, 0);
	ck_assert_uint_eq(pi.rows, 1);
	page_info_clear(&pi);
	free(body);
}
END_TEST

/*
 * The beta examples repeat homeTenantId, isTenantRestricted and
 * uniqueTokenIdentifier. Decision: accepted, the last of each wins (as
 * jansson and la-table.c do); raw then holds one of each.
 */
START_TEST(test_example_beta_duplicate_keys)
{
	static const char *const files[] = {
		"graph-signin-list-beta-response-1.json",
		"graph-signin-list-beta-response-2.json",
	};
	struct record_list out;
	struct page_info pi;
	struct record *r;
	char *body, *err = NULL;
	json_error_t jerr;
	json_t *raw;
	size_t len;

	tenant_examples();
	/* The page names testaccount1@contoso.com; that UPN is the beta
	 * account's here, not the v1.0 one's. */
	accounts[0].upn = "v1-account@contoso.com";
	accounts[1].upn = "testaccount1@contoso.com";
	for (size_t i = 0; i < 2; i++) {
		body = testdata_slurp(GW_TEST_DATA, files[i], &len);
		/* The duplicates are really there. */
		ck_assert_ptr_null(json_loadb(body, len,
		    JSON_REJECT_DUPLICATES, &jerr));
		ck_assert_int_eq(json_error_code(&jerr),
		    json_error_duplicate_key);

		record_list_init(&out);
		ck_assert_msg(gparse(SIGNAL_NON_INTERACTIVE, body, len, &out,
		    &pi, &err) == 0, "%s: %s", files[i], err);
		ck_assert_uint_eq(out.n, 1);
		r = out.v[0];
		ck_assert_int_eq(r->signal, SIGNAL_NON_INTERACTIVE);
		ck_assert_str_eq(r->id, "1691d37b-8579-43a7-966a-0f35583c1300");
		ck_assert_int_eq(r->event_us, testdata_us("2021-06-30T16:34:32Z"));
		ck_assert_str_eq(r->user_id, EX_BETA);
		ck_assert_str_eq(r->upn, "testaccount1@contoso.com");
		ck_assert_str_eq(r->app, "Azure Portal");
		ck_assert_str_eq(r->ip, "131.107.159.37");
		ck_assert_str_eq(r->location, "Redmond, Washington, US");
		ck_assert_int_eq(r->result_code, 50126);
		ck_assert_int_eq(r->success, 0);
		ck_assert_str_eq(r->failure_reason, "Error validating "
		    "credentials due to invalid username or password.");
		raw = json_loads(r->raw, JSON_REJECT_DUPLICATES, NULL);
		ck_assert_ptr_nonnull(raw);
		ck_assert_str_eq(json_string_value(json_object_get(raw,
		    "homeTenantId")), "99081087-73c4-48d1-a112-f60ff75114f7");
		json_decref(raw);
		if (i == 0)
			ck_assert_ptr_null(pi.next_url);
		else
			ck_assert_str_eq(pi.next_url, "https://graph.microsoft"
			    ".com/beta/auditLogs/signins?$filter=startsWith("
			    "appDisplayName%2c%27Azure%27)&$top=10&$skiptoken="
			    "3cff228c89605cc89b0dc753668deef4153e8644caa6d83ed1"
			    "bb5f711b21cba4");
		page_info_clear(&pi);
		record_list_clear(&out);
		free(body);
	}
}
END_TEST

/* A duplicate of the key that decides membership must not hide a
 * break-glass record: the page is refused. When the last value is the
 * break-glass one, the record is read. */
START_TEST(test_duplicate_user_id)
{
	struct record_list out;
	struct page_info pi;

	gparse_fails(SIGNAL_SIGN_IN, "{'value':[{'id':'a','createdDateTime':"
	    "'2026-11-22T03:00:00Z','userId':'" BG1 "','userId':'" OTHER
	    "'}]}", "the page has duplicate object keys and names break-glass "
	    "account " BG1 " without a record of it");
	gparse_fails(SIGNAL_AUDIT, "{'value':[{'id':'a','activityDateTime':"
	    "'2026-11-22T03:00:00Z','initiatedBy':{'user':{'id':'" BG2 "',"
	    "'id':'" OTHER "'}},'targetResources':[]}]}",
	    "names break-glass account " BG2);

	gparse_ok(SIGNAL_SIGN_IN, "{'value':[{'id':'a','createdDateTime':"
	    "'2026-11-22T03:00:00Z','userId':'" OTHER "','userId':'" BG1
	    "'}]}", &out, &pi);
	ck_assert_uint_eq(out.n, 1);
	ck_assert_str_eq(out.v[0]->user_id, BG1);
	record_list_clear(&out);
}
END_TEST

START_TEST(test_example_audits)
{
	struct record_list out;
	struct page_info pi;
	struct record *r;
	char *body, *err = NULL;
	size_t len;

	/* Response 1: the account is the second target. */
	tenant_examples();
	body = testdata_slurp(GW_TEST_DATA, "graph-directoryaudit-list-response-1.json", &len);
	record_list_init(&out);
	ck_assert_msg(gparse(SIGNAL_AUDIT, body, len, &out, &pi, &err) == 0,
	    "%s", err);
	ck_assert_uint_eq(out.n, 1);
	ck_assert_ptr_null(pi.next_url);
	r = out.v[0];
	ck_assert_int_eq(r->signal, SIGNAL_AUDIT);
	ck_assert_str_eq(r->id, "id");
	ck_assert_int_eq(r->event_us, testdata_us("2018-01-09T21:20:02.721537Z"));
	ck_assert_int_eq(r->ingest_us, 0);
	ck_assert_str_eq(r->user_id, EX_TGT);
	ck_assert_str_eq(r->upn, "bob@contoso.com");
	ck_assert_str_eq(r->activity, "Add member to group");
	ck_assert_str_eq(r->category, "UserManagement");
	ck_assert_str_eq(r->service, "Core Directory");
	ck_assert_int_eq(r->success, 1);
	ck_assert_int_eq(r->result_code, 0);
	ck_assert_str_eq(r->failure_reason,
	    "Successfully added member to group");
	ck_assert_str_eq(r->correlation_id,
	    "da159bfb-54fa-4092-8a38-6e1fa7870e30");
	ck_assert_str_eq(r->initiator, "bob@wingtiptoysonline.com");
	ck_assert_str_eq(r->initiator_id, EX_INIT);
	ck_assert_str_eq(r->ip, "127.0.0.1");
	/* The break-glass target, not the first one. */
	ck_assert_str_eq(r->target, "bob@contoso.com");
	ck_assert_str_eq(r->target_ids, "ef7e527d-6c92-4234-8c6d-cf6fdfb57f95 "
	    EX_TGT);
	/* Every target's changes, a null old value named as such. */
	ck_assert_str_eq(r->modified,
	    "Action Client Name: (none) -> DirectorySync");
	record_list_clear(&out);

	/* The same page, the account now the initiator only. */
	accounts[2].object_id = EX_INIT;
	accounts[2].upn = "audry@wingtiptoysonline.com";
	ck_assert_msg(gparse(SIGNAL_AUDIT, body, len, &out, &pi, &err) == 0,
	    "%s", err);
	ck_assert_uint_eq(out.n, 1);
	ck_assert_str_eq(out.v[0]->user_id, EX_INIT);
	ck_assert_str_eq(out.v[0]->upn, "audry@wingtiptoysonline.com");
	record_list_clear(&out);

	/* Neither: no record. */
	tenant_setup();
	ck_assert_msg(gparse(SIGNAL_AUDIT, body, len, &out, &pi, &err) == 0,
	    "%s", err);
	ck_assert_uint_eq(out.n, 0);
	ck_assert_uint_eq(pi.rows, 1);
	free(body);

	/* Response 2: nulls everywhere, an all-zero id as both. */
	accounts[0].object_id = EX_ZERO;
	body = testdata_slurp(GW_TEST_DATA, "graph-directoryaudit-list-response-2.json", &len);
	ck_assert_msg(gparse(SIGNAL_AUDIT, body, len, &out, &pi, &err) == 0,
	    "%s", err);
	ck_assert_uint_eq(out.n, 1);
	r = out.v[0];
	ck_assert_str_eq(r->id, "SSGM_b662f17a-4e4d-4e1c-9248-cdec180024b2_"
	    "MCDC4_88453290");
	ck_assert_str_eq(r->activity, "GroupLifecyclePolicies_Get");
	ck_assert_str_eq(r->category, "GroupManagement");
	ck_assert_str_eq(r->service, "Self-service Group Management");
	ck_assert_ptr_null(r->initiator);
	ck_assert_str_eq(r->initiator_id, EX_ZERO);
	ck_assert_ptr_null(r->target);
	ck_assert_str_eq(r->target_ids, EX_ZERO);
	ck_assert_ptr_null(r->modified);	/* an empty list */
	ck_assert_str_eq(r->ip, "10.0.0.0");
	record_list_clear(&out);
	free(body);
}
END_TEST

/* The resource shapes from the reference pages are objects, not pages:
 * refused as such; as items of a page their placeholder values read as
 * absent or not of the tenant. */
START_TEST(test_example_representations)
{
	static const char *const files[] = {
		"graph-signin-json-representation.json",
		"graph-directoryaudit-json-representation.json",
	};
	struct record_list out;
	struct page_info pi;
	char *body, *page, *err = NULL;
	size_t len;

	for (size_t i = 0; i < 2; i++) {
		body = testdata_slurp(GW_TEST_DATA, files[i], &len);
		record_list_init(&out);
		ck_assert_int_eq(gparse(i == 0 ? SIGNAL_SIGN_IN : SIGNAL_AUDIT,
		    body, len, &out, &pi, &err), -1);
		ck_assert_str_eq(err, "value: missing");
		free(err);
		err = NULL;
		page = xasprintf("{\"value\":[%s]}", body);
		ck_assert_msg(gparse(i == 0 ? SIGNAL_SIGN_IN : SIGNAL_AUDIT,
		    page, strlen(page), &out, &pi, &err) == 0, "%s", err);
		ck_assert_uint_eq(out.n, 0);
		ck_assert_uint_eq(pi.rows, 1);
		free(page);
		free(body);
	}
}
END_TEST

static void
next_link_ok(char *endpoint, const char *link)
{
	struct record_list out;
	struct page_info pi;
	char *page;

	tenant.endpoints.graph = endpoint;
	page = xasprintf("{'value':[],'@odata.nextLink':'%s'}", link);
	gparse_ok(SIGNAL_SIGN_IN, page, &out, &pi);
	ck_assert_ptr_nonnull(pi.next_url);
	ck_assert_str_eq(pi.next_url, link);
	page_info_clear(&pi);
	free(page);
}

static void
next_link_refused(const char *link, const char *want)
{
	char *page;

	page = xasprintf("{'value':[{'id':'x','userId':'" BG1 "',"
	    "'createdDateTime':'2026-11-22T03:00:00Z'}],"
	    "'@odata.nextLink':'%s'}", link);
	gparse_fails(SIGNAL_SIGN_IN, page, want);
	free(page);
}

START_TEST(test_next_link)
{
	next_link_ok("https://graph.microsoft.com",
	    "https://graph.microsoft.com/v1.0/auditLogs/signIns?$skiptoken=x");
	next_link_ok("https://graph.microsoft.com/",
	    "https://GRAPH.microsoft.com:443/v1.0/x?$skiptoken=y");
	next_link_ok("https://graph.microsoft.com:443",
	    "https://graph.microsoft.com/beta/auditLogs/signins");
	next_link_ok("http://127.0.0.1:8080", "http://127.0.0.1:8080/v1.0/p");

	tenant.endpoints.graph = "https://graph.microsoft.com";
	next_link_refused("https://evil.example/v1.0/auditLogs/signIns",
	    "@odata.nextLink: https://evil.example:443 is not the configured "
	    "Graph endpoint https://graph.microsoft.com:443; not followed "
	    "(the bearer token goes only to Graph)");
	next_link_refused("http://graph.microsoft.com/v1.0/x",
	    "http://graph.microsoft.com:80 is not the configured Graph "
	    "endpoint");
	next_link_refused("https://graph.microsoft.com:8443/v1.0/x",
	    "https://graph.microsoft.com:8443 is not");
	next_link_refused("https://graph.microsoft.com.evil.example/v1.0/x",
	    "https://graph.microsoft.com.evil.example:443 is not");
	next_link_refused("https://graph.microsoft.com@evil.example/v1.0/x",
	    "@odata.nextLink: carries user credentials; not followed");
	next_link_refused("https://evil.example/?https://graph.microsoft.com/",
	    "https://evil.example:443 is not");
	next_link_refused("https://evil.example\\\\@graph.microsoft.com/",
	    "contains a space, control character or backslash");
	next_link_refused("/v1.0/auditLogs/signIns?$skiptoken=x",
	    "@odata.nextLink: not a URL; not followed");
	next_link_refused("", "@odata.nextLink: not a URL string");
	gparse_fails(SIGNAL_SIGN_IN, "{'value':[],'@odata.nextLink':42}",
	    "@odata.nextLink: not a URL string");
	/* The refusal names origins only, never the link's query. */
	next_link_refused("https://evil.example/p?secret=s3cr3t",
	    "evil.example:443 is not");
}
END_TEST

START_TEST(test_next_link_null)
{
	struct record_list out;
	struct page_info pi;

	gparse_ok(SIGNAL_SIGN_IN, "{'value':[],'@odata.nextLink':null}", &out,
	    &pi);
	ck_assert_ptr_null(pi.next_url);
	ck_assert_uint_eq(pi.rows, 0);
}
END_TEST

START_TEST(test_next_link_message_has_no_query)
{
	struct record_list out;
	struct page_info pi;
	char *body = testdata_jq("{'value':[],'@odata.nextLink':"
	    "'https://evil.example/p?secret=s3cr3t'}"), *err = NULL;

	record_list_init(&out);
	ck_assert_int_eq(gparse(SIGNAL_SIGN_IN, body, strlen(body), &out, &pi,
	    &err), -1);
	ck_assert_ptr_null(strstr(err, "s3cr3t"));
	ck_assert_ptr_null(strstr(err, "/p"));
	free(err);
	free(body);
}
END_TEST

START_TEST(test_errors)
{
	struct record_list out;
	struct page_info pi;
	char *err = NULL;

	record_list_init(&out);
	ck_assert_int_eq(gparse(SIGNAL_SIGN_IN, " \n", 2, &out, &pi, &err),
	    -1);
	ck_assert_str_eq(err, "empty response");
	free(err);

	gparse_fails(SIGNAL_SIGN_IN, "{'value':[", "invalid JSON at line 1 ");
	gparse_fails(SIGNAL_SIGN_IN, "[]", "response: not a JSON object");
	gparse_fails(SIGNAL_SIGN_IN, "{'@odata.context':'x'}",
	    "value: missing");
	gparse_fails(SIGNAL_SIGN_IN, "{'value':{}}", "value: not an array");
	gparse_fails(SIGNAL_SIGN_IN, "{'value':null}", "value: not an array");
	gparse_fails(SIGNAL_AUDIT, "{'value':[{},{},{},'x']}",
	    "value[3]: not an object");
	gparse_fails(SIGNAL_SIGN_IN, "{'value':[{'id':'a','userId':'" BG1
	    "','createdDateTime':'2026-11-22T03:00:00Z'},null]}",
	    "value[1]: not an object");
	gparse_fails(SIGNAL_SIGN_IN, "{'error':{'code':'Authorization_Request"
	    "Denied','message':'Insufficient privileges to complete the "
	    "operation.'}}", "service error Authorization_RequestDenied: "
	    "Insufficient privileges to complete the operation.");
}
END_TEST

/* Lenient cells: a malformed optional field reads as absent; a
 * break-glass item is never dropped, its missing keys get stand-ins. */
START_TEST(test_lenient_cells)
{
	struct record_list out;
	struct page_info pi;
	struct record *r;

	gparse_ok(SIGNAL_SIGN_IN, "{'value':["
	    /* 0: not an ISO time: kept at the poll time */
	    "{'id':'s0','userId':'" BG1 "','createdDateTime':'yesterday',"
	    "'status':{'errorCode':'50126','failureReason':7},"
	    "'location':{'city':12,'state':'Bavaria','countryOrRegion':'DE'},"
	    "'ipAddress':['1.2.3.4'],'appDisplayName':'Azure Portal'},"
	    /* 1: no id: a content id */
	    "{'userId':'" BG2 "','createdDateTime':'2026-11-22T03:10:00Z',"
	    "'status':{'errorCode':0},'location':'Berlin'},"
	    /* 2: not of the tenant */
	    "{'id':'s2','userId':'" OTHER "','createdDateTime':'x'},"
	    /* 3: no userId, but names an account's UPN: kept */
	    "{'id':'s3','userPrincipalName':'BG2@contoso.onmicrosoft.com',"
	    "'createdDateTime':'2026-11-22T03:20:00Z','status':null},"
	    /* 4: no userId, names nobody: skipped */
	    "{'id':'s4','userId':null,'createdDateTime':"
	    "'2026-11-22T03:30:00Z'},"
	    /* 5: mixed-case id */
	    "{'id':'s5','userId':'A7E4B9C2-1D6F-4E8A-B3C5-92F0D1E6A8B4',"
	    "'createdDateTime':'2026-11-22T03:40:00.1234567+01:00',"
	    "'status':{'errorCode':50074.5}}"
	    "]}", &out, &pi);
	ck_assert_uint_eq(pi.rows, 6);
	ck_assert_uint_eq(out.n, 4);

	r = out.v[0];
	ck_assert_str_eq(r->id, "s0");
	ck_assert_int_eq(r->event_us, testdata_us(NOW));
	ck_assert_int_eq(r->result_code, -1);
	ck_assert_int_eq(r->success, 0);
	ck_assert_ptr_null(r->failure_reason);
	ck_assert_str_eq(r->location, "Bavaria, DE");
	ck_assert_ptr_null(r->ip);
	ck_assert_str_eq(r->app, "Azure Portal");

	r = out.v[1];
	ck_assert_int_eq(strncmp(r->id, "gw-content-", 11), 0);
	ck_assert_uint_eq(strlen(r->id), 11 + 32);
	ck_assert_str_eq(r->user_id, BG2);
	ck_assert_int_eq(r->success, 1);
	ck_assert_ptr_null(r->location);

	r = out.v[2];
	ck_assert_str_eq(r->id, "s3");
	ck_assert_str_eq(r->user_id, BG2);
	ck_assert_str_eq(r->upn, "BG2@contoso.onmicrosoft.com");
	ck_assert_int_eq(r->result_code, -1);

	r = out.v[3];
	ck_assert_str_eq(r->id, "s5");
	ck_assert_str_eq(r->user_id, BG2);
	ck_assert_int_eq(r->event_us, testdata_us("2026-11-22T02:40:00.123456Z"));
	ck_assert_int_eq(r->result_code, -1);
	record_list_clear(&out);
}
END_TEST

/* The content id is stable: the same item on the next poll is the same
 * record. */
START_TEST(test_content_id_stable)
{
	struct record_list a, b;
	struct page_info pi;
	const char *page = "{'value':[{'userId':'" BG1 "',"
	    "'createdDateTime':'2026-11-22T03:10:00Z'}]}";

	gparse_ok(SIGNAL_SIGN_IN, page, &a, &pi);
	gparse_ok(SIGNAL_SIGN_IN, page, &b, &pi);
	ck_assert_uint_eq(a.n, 1);
	ck_assert_uint_eq(b.n, 1);
	ck_assert_str_eq(a.v[0]->id, b.v[0]->id);
	record_list_clear(&a);
	record_list_clear(&b);
}
END_TEST

START_TEST(test_nul_in_string)
{
	struct record_list out;
	struct page_info pi;
	const char *body = "{\"value\":[{\"id\":\"n\",\"userId\":\"" BG1 "\","
	    "\"createdDateTime\":\"2026-11-22T03:00:00Z\","
	    "\"appDisplayName\":\"Azure\\u0000Portal\"}]}";
	char *err = NULL;

	record_list_init(&out);
	ck_assert_msg(gparse(SIGNAL_SIGN_IN, body, strlen(body), &out, &pi,
	    &err) == 0, "%s", err);
	ck_assert_uint_eq(out.n, 1);
	ck_assert_str_eq(out.v[0]->app, "Azure\xef\xbf\xbdPortal");
	record_list_clear(&out);
}
END_TEST

/* Audits: the account as a target or as the initiator; an app as the
 * initiator; "Type" as Microsoft's example writes it. */
START_TEST(test_audit_matching)
{
	struct record_list out;
	struct page_info pi;
	struct record *r;

	gparse_ok(SIGNAL_AUDIT, "{'value':["
	    "{'id':'a0','activityDateTime':'2026-11-22T03:00:00Z',"
	    "'activityDisplayName':'User registered security info',"
	    "'category':'UserManagement','loggedByService':"
	    "'Authentication Methods','result':'success',"
	    "'initiatedBy':{'user':{'id':'" OTHER "','userPrincipalName':"
	    "'attacker@evil.example','ipAddress':'203.0.113.9'},'app':null},"
	    "'targetResources':[{'id':'" BG1 "','displayName':'BG One','Type':"
	    "'User','userPrincipalName':'bg1@contoso.onmicrosoft.com'}]},"
	    "{'id':'a1','activityDateTime':'2026-11-22T03:01:00Z',"
	    "'activityDisplayName':'Add member to role','result':'failure',"
	    "'resultReason':'denied','initiatedBy':{'user':{'id':"
	    "'A7E4B9C2-1D6F-4E8A-B3C5-92F0D1E6A8B4','userPrincipalName':"
	    "'bg2@contoso.onmicrosoft.com'}},'targetResources':["
	    "{'id':'" OTHER "','displayName':'Global Administrator',"
	    "'type':'Role'},{'id':'" OTHER "','userPrincipalName':"
	    "'x@contoso.example'}]},"
	    "{'id':'a2','activityDateTime':'2026-11-22T03:02:00Z',"
	    "'activityDisplayName':'Update user','initiatedBy':{'user':null,"
	    "'app':{'displayName':'Evil App','appId':'x','servicePrincipalId':"
	    "'D0D0D0D0-0000-4000-8000-000000000001'}},'targetResources':["
	    "{'id':'" BG2 "','displayName':'BG Two'}]},"
	    "{'id':'a3','activityDateTime':'2026-11-22T03:03:00Z',"
	    "'initiatedBy':{'user':{'id':'" OTHER "'}},'targetResources':["
	    "{'id':'" OTHER "'}]}"
	    "]}", &out, &pi);
	ck_assert_uint_eq(pi.rows, 4);
	ck_assert_uint_eq(out.n, 3);

	r = out.v[0];
	ck_assert_str_eq(r->id, "a0");
	ck_assert_str_eq(r->user_id, BG1);
	ck_assert_str_eq(r->upn, "bg1@contoso.onmicrosoft.com");
	ck_assert_str_eq(r->activity, "User registered security info");
	ck_assert_str_eq(r->service, "Authentication Methods");
	ck_assert_str_eq(r->initiator, "attacker@evil.example");
	ck_assert_str_eq(r->initiator_id, OTHER);
	ck_assert_str_eq(r->ip, "203.0.113.9");
	ck_assert_str_eq(r->target, "bg1@contoso.onmicrosoft.com");
	ck_assert_str_eq(r->target_ids, BG1);
	ck_assert_int_eq(r->success, 1);

	r = out.v[1];
	ck_assert_str_eq(r->user_id, BG2);
	ck_assert_str_eq(r->initiator, "bg2@contoso.onmicrosoft.com");
	ck_assert_str_eq(r->initiator_id, BG2);
	ck_assert_str_eq(r->target, "Global Administrator");
	ck_assert_str_eq(r->target_ids, OTHER " " OTHER);
	ck_assert_int_eq(r->success, 0);
	ck_assert_int_eq(r->result_code, -1);
	ck_assert_str_eq(r->failure_reason, "denied");

	r = out.v[2];
	ck_assert_str_eq(r->user_id, BG2);
	ck_assert_str_eq(r->initiator, "Evil App");
	ck_assert_str_eq(r->initiator_id,
	    "d0d0d0d0-0000-4000-8000-000000000001");
	ck_assert_ptr_null(r->ip);
	ck_assert_str_eq(r->target, "BG Two");
	ck_assert_int_eq(r->success, 0);
	record_list_clear(&out);
}
END_TEST

/* Malformed membership members: the item is kept when it names an
 * account, skipped (logged) when it names none. */
START_TEST(test_audit_malformed)
{
	struct record_list out;
	struct page_info pi;

	gparse_ok(SIGNAL_AUDIT, "{'value':["
	    "{'id':'m0','activityDateTime':'2026-11-22T03:00:00Z',"
	    "'initiatedBy':'system','targetResources':'" BG1 "'},"
	    "{'id':'m1','activityDateTime':'2026-11-22T03:00:00Z',"
	    "'initiatedBy':{'user':{'id':42}},'targetResources':[7]},"
	    "{'id':'m2','activityDateTime':'bad',"
	    "'initiatedBy':{'user':{'id':['" BG2 "']}},'targetResources':null},"
	    "{'id':'m3','activityDateTime':'2026-11-22T03:00:00Z',"
	    "'initiatedBy':{'user':'" BG1 "'},'targetResources':[]}"
	    "]}", &out, &pi);
	ck_assert_uint_eq(out.n, 3);
	ck_assert_str_eq(out.v[2]->id, "m3");
	ck_assert_str_eq(out.v[2]->user_id, BG1);
	ck_assert_ptr_null(out.v[2]->initiator_id);
	ck_assert_str_eq(out.v[0]->id, "m0");
	ck_assert_str_eq(out.v[0]->user_id, BG1);
	ck_assert_ptr_null(out.v[0]->target_ids);
	ck_assert_str_eq(out.v[1]->id, "m2");
	ck_assert_str_eq(out.v[1]->user_id, BG2);
	ck_assert_int_eq(out.v[1]->event_us, testdata_us(NOW));
	record_list_clear(&out);
}
END_TEST

/* The columns the Log Analytics source projects for sign-ins, and a row of
 * SigninLogs for the same sign-in as the Graph item. */
static const char la_columns[] =
    "[{'name':'GwIngestionTime','type':'datetime'},"
    "{'name':'TimeGenerated','type':'datetime'},"
    "{'name':'CreatedDateTime','type':'datetime'},"
    "{'name':'Id','type':'string'},"
    "{'name':'UserId','type':'string'},"
    "{'name':'UserPrincipalName','type':'string'},"
    "{'name':'IPAddress','type':'string'},"
    "{'name':'Location','type':'string'},"
    "{'name':'LocationDetails','type':'dynamic'},"
    "{'name':'AppDisplayName','type':'string'},"
    "{'name':'ResultType','type':'string'},"
    "{'name':'ResultDescription','type':'string'},"
    "{'name':'CorrelationId','type':'string'},"
    "{'name':'Status','type':'dynamic'}]";

static void
assert_same_strings(const char *what, const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		ck_assert_msg(a == NULL && b == NULL, "%s: \"%s\" vs \"%s\"",
		    what, a != NULL ? a : "(null)", b != NULL ? b : "(null)");
	else
		ck_assert_msg(strcmp(a, b) == 0, "%s: \"%s\" vs \"%s\"", what,
		    a, b);
}

static void
assert_same_record(const struct record *g, const struct record *l)
{
	ck_assert_int_eq(g->signal, l->signal);
	assert_same_strings("tenant", g->tenant, l->tenant);
	assert_same_strings("id", g->id, l->id);
	ck_assert_int_eq(g->event_us, l->event_us);
	assert_same_strings("user_id", g->user_id, l->user_id);
	assert_same_strings("upn", g->upn, l->upn);
	assert_same_strings("ip", g->ip, l->ip);
	assert_same_strings("location", g->location, l->location);
	assert_same_strings("app", g->app, l->app);
	ck_assert_int_eq(g->result_code, l->result_code);
	ck_assert_int_eq(g->success, l->success);
	assert_same_strings("failure_reason", g->failure_reason,
	    l->failure_reason);
	assert_same_strings("correlation_id", g->correlation_id,
	    l->correlation_id);
	assert_same_strings("activity", g->activity, l->activity);
	assert_same_strings("initiator", g->initiator, l->initiator);
	assert_same_strings("target", g->target, l->target);
	assert_same_strings("target_ids", g->target_ids, l->target_ids);
	assert_same_strings("modified", g->modified, l->modified);
	ck_assert_int_eq(g->ingest_us, 0);
}

START_TEST(test_same_as_log_analytics)
{
	struct record_list gout, lout;
	struct page_info pi;
	struct source_ctx ctx;
	char *la, *err = NULL;

	/* A failure (Graph's example values) and a success. The Graph id is
	 * upper case here; both sources give it in lower case. */
	gparse_ok(SIGNAL_SIGN_IN, "{'@odata.context':'https://graph.microsoft"
	    ".com/v1.0/$metadata#auditLogs/signIns','value':["
	    "{'id':'1691d37b-8579-43a7-966a-0f35583c1300',"
	    "'createdDateTime':'2026-11-22T03:48:15.5550000Z',"
	    "'userDisplayName':'BG One','userPrincipalName':"
	    "'bg1@contoso.onmicrosoft.com','userId':"
	    "'5F1C2A9E-8D3B-4C7A-9E21-0B6D4F3A7C10','appId':"
	    "'c44b4083-3bb0-49c1-b47d-974e53cbdf3c','appDisplayName':"
	    "'Azure Portal','ipAddress':'131.107.159.37','clientAppUsed':"
	    "'Browser','correlationId':'5d295068-919b-4017-85d8-44be2f5f5483',"
	    "'conditionalAccessStatus':'notApplied','isInteractive':true,"
	    "'status':{'errorCode':50126,'failureReason':'Error validating "
	    "credentials due to invalid username or password.',"
	    "'additionalDetails':'The user didn\\u0027t enter the right "
	    "credentials.'},'location':{'city':'Redmond','state':'Washington',"
	    "'countryOrRegion':'US','geoCoordinates':{'latitude':47.68,"
	    "'longitude':-122.12}}},"
	    "{'id':'2f7e5c1a-0b3d-4e6f-8a9b-1c2d3e4f5a6b',"
	    "'createdDateTime':'2026-11-22T03:49:00Z','userPrincipalName':"
	    "'bg2@contoso.onmicrosoft.com','userId':'" BG2 "',"
	    "'appDisplayName':'Microsoft Azure PowerShell','ipAddress':"
	    "'2001:db8::7','correlationId':"
	    "'9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d','status':{'errorCode':0,"
	    "'failureReason':null,'additionalDetails':null},'location':"
	    "{'city':'','state':null,'countryOrRegion':'DE'}}"
	    "]}", &gout, &pi);

	la = xasprintf("{'tables':[{'name':'PrimaryResult','columns':%s,"
	    "'rows':["
	    "['2026-11-22T03:52:00Z','2026-11-22T03:50:00Z',"
	    "'2026-11-22T03:48:15.5550000Z',"
	    "'1691d37b-8579-43a7-966a-0f35583c1300',"
	    "'5F1C2A9E-8D3B-4C7A-9E21-0B6D4F3A7C10',"
	    "'bg1@contoso.onmicrosoft.com','131.107.159.37','US',"
	    "{'city':'Redmond','state':'Washington','countryOrRegion':'US',"
	    "'geoCoordinates':{'latitude':47.68,'longitude':-122.12}},"
	    "'Azure Portal','50126','Error validating credentials due to "
	    "invalid username or password.',"
	    "'5d295068-919b-4017-85d8-44be2f5f5483',"
	    "{'errorCode':50126,'failureReason':'Error validating credentials "
	    "due to invalid username or password.'}],"
	    "['2026-11-22T03:53:00Z','2026-11-22T03:51:00Z',"
	    "'2026-11-22T03:49:00Z','2f7e5c1a-0b3d-4e6f-8a9b-1c2d3e4f5a6b',"
	    "'" BG2 "','bg2@contoso.onmicrosoft.com','2001:db8::7','DE',"
	    "'{\\'city\\':\\'\\',\\'state\\':null,\\'countryOrRegion\\':"
	    "\\'DE\\'}','Microsoft Azure PowerShell','0',null,"
	    "'9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',"
	    "{'errorCode':0,'failureReason':null}]"
	    "]}]}", la_columns);
	for (char *p = la; *p != '\0'; p++)
		if (*p == '\'' && (p == la || p[-1] != '\\'))
			*p = '"';
	/* \' (a quote inside the JSON text of a string cell) becomes \" */
	for (char *p = la; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	memset(&ctx, 0, sizeof ctx);
	ctx.tenant = &tenant;
	ctx.signal = SIGNAL_SIGN_IN;
	ctx.now_us = testdata_us(NOW);
	ctx.cursor_us = testdata_us("2026-11-22T03:40:00Z");
	record_list_init(&lout);
	ck_assert_msg(source_loganalytics_ops.parse(&ctx, la, strlen(la),
	    &lout, &pi, &err) == 0, "%s", err);
	page_info_clear(&pi);

	ck_assert_uint_eq(gout.n, 2);
	ck_assert_uint_eq(lout.n, 2);
	for (size_t i = 0; i < 2; i++)
		assert_same_record(gout.v[i], lout.v[i]);
	ck_assert_str_eq(gout.v[0]->user_id, BG1);
	ck_assert_str_eq(gout.v[0]->location, "Redmond, Washington, US");
	ck_assert_str_eq(gout.v[1]->location, "DE");
	ck_assert_int_eq(gout.v[0]->result_code, 50126);
	ck_assert_ptr_null(gout.v[1]->failure_reason);
	/* Only the ingestion time tells them apart. */
	ck_assert_int_eq(lout.v[0]->ingest_us, testdata_us("2026-11-22T03:52:00Z"));
	record_list_clear(&gout);
	record_list_clear(&lout);
	free(la);
}
END_TEST

/* Errors leave nothing behind in out, even when some items were read. */
START_TEST(test_error_adds_nothing)
{
	struct record_list out;
	struct page_info pi;
	char *body, *err = NULL;

	record_list_init(&out);
	body = testdata_jq("{'value':[{'id':'a','userId':'" BG1 "','createdDateTime':"
	    "'2026-11-22T03:00:00Z'},5]}");
	ck_assert_int_eq(gparse(SIGNAL_SIGN_IN, body, strlen(body), &out, &pi,
	    &err), -1);
	ck_assert_str_eq(err, "value[1]: not an object");
	ck_assert_uint_eq(out.n, 0);
	free(err);
	free(body);
}
END_TEST

static Suite *
graph_suite(void)
{
	Suite *s = suite_create("graph");
	TCase *tc;

	tc = tcase_create("build");
	tcase_add_checked_fixture(tc, tenant_setup, NULL);
	tcase_add_test(tc, test_ops);
	tcase_add_test(tc, test_build_exact);
	tcase_add_test(tc, test_build_signals);
	tcase_add_test(tc, test_build_lookback);
	tcase_add_test(tc, test_build_case_and_slash);
	tcase_add_test(tc, test_build_rejects);
	tcase_add_test(tc, test_build_single);
	suite_add_tcase(s, tc);

	tc = tcase_create("examples");
	tcase_add_checked_fixture(tc, tenant_setup, NULL);
	tcase_add_test(tc, test_example_v1_trailing_comma_rejected);
	tcase_add_test(tc, test_example_v1_fixed);
	tcase_add_test(tc, test_example_not_break_glass);
	tcase_add_test(tc, test_example_beta_duplicate_keys);
	tcase_add_test(tc, test_duplicate_user_id);
	tcase_add_test(tc, test_example_audits);
	tcase_add_test(tc, test_example_representations);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_checked_fixture(tc, tenant_setup, NULL);
	tcase_add_test(tc, test_next_link);
	tcase_add_test(tc, test_next_link_null);
	tcase_add_test(tc, test_next_link_message_has_no_query);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_lenient_cells);
	tcase_add_test(tc, test_content_id_stable);
	tcase_add_test(tc, test_nul_in_string);
	tcase_add_test(tc, test_audit_matching);
	tcase_add_test(tc, test_audit_malformed);
	tcase_add_test(tc, test_same_as_log_analytics);
	tcase_add_test(tc, test_error_adds_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(graph_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
