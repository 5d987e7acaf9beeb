/* The Log Analytics source and its response parser (la-table.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "la-table.h"
#include "record.h"
#include "rules.h"
#include "source.h"
#include "strlist.h"
#include "testdata.h"
#include "timeutil.h"
#include "xmalloc.h"

#define BG1	"5f1c2a9e-8d3b-4c7a-9e21-0b6d4f3a7c10"
#define BG2	"a7e4b9c2-1d6f-4e8a-b3c5-92f0d1e6a8b4"
#define OTHER	"0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a"
#define WS	"63613592-b6f7-4c3d-a390-22ba13102111"

static struct account		accounts[3];
static struct tenant_config	tenant;

static void
tenant_setup(void)
{
	memset(accounts, 0, sizeof accounts);
	testdata_tenant(&tenant, accounts, BG1, BG2);
	testdata_tenant_la(&tenant, WS);
}

static int
la_parse_signal(enum signal signal, const char *body, size_t len,
    struct record_list *out, struct page_info *pi, char **err)
{
	struct source_ctx ctx;

	memset(&ctx, 0, sizeof ctx);
	ctx.tenant = &tenant;
	ctx.signal = signal;
	ctx.now_us = testdata_us("2026-11-22T04:00:00Z");
	ctx.cursor_us = testdata_us("2026-11-22T03:40:00Z");
	return source_loganalytics_ops.parse(&ctx, body, len, out, pi, err);
}

static int
la_parse(const char *body, size_t len, struct record_list *out,
    struct page_info *pi, char **err)
{
	return la_parse_signal(SIGNAL_SIGN_IN, body, len, out, pi, err);
}

static int
build_signal(enum signal signal, int64_t now, int64_t cursor,
    struct source_req *req, char **err)
{
	struct source_ctx ctx;

	memset(&ctx, 0, sizeof ctx);
	ctx.tenant = &tenant;
	ctx.signal = signal;
	ctx.now_us = now;
	ctx.cursor_us = cursor;
	return source_loganalytics_ops.build(&ctx, req, err);
}

static int
build(int64_t now, int64_t cursor, struct source_req *req, char **err)
{
	return build_signal(SIGNAL_SIGN_IN, now, cursor, req, err);
}

/* The query text of a built request for a signal. */
static char *
build_signal_kql(enum signal signal, int64_t now, int64_t cursor)
{
	struct source_req req;
	char *err = NULL, *kql;
	json_t *o;

	ck_assert_msg(build_signal(signal, now, cursor, &req, &err) == 0, "%s",
	    err);
	o = json_loads(req.body, 0, NULL);
	ck_assert_ptr_nonnull(o);
	kql = xstrdup(json_string_value(json_object_get(o, "query")));
	json_decref(o);
	source_req_clear(&req);
	return kql;
}

static char *
build_kql(int64_t now, int64_t cursor)
{
	return build_signal_kql(SIGNAL_SIGN_IN, now, cursor);
}

#define KQL_PROJECT							\
	"| extend GwIngestionTime = ingestion_time()\n"			\
	"| project GwIngestionTime, TimeGenerated, CreatedDateTime, Id, "\
	"UserId, UserPrincipalName, IPAddress, Location, LocationDetails, "\
	"AppDisplayName, ResultType, ResultDescription, CorrelationId, "\
	"Status, ClientAppUsed, UserAgent, ConditionalAccessStatus, "	\
	"AuthenticationRequirement\n"					\
	"| order by GwIngestionTime asc"

START_TEST(test_ops)
{
	ck_assert_ptr_eq(source_find(SOURCE_LOG_ANALYTICS),
	    &source_loganalytics_ops);
	ck_assert_ptr_eq(source_find(SOURCE_GRAPH), &source_graph_ops);
	ck_assert_str_eq(source_loganalytics_ops.name, "log_analytics");
	ck_assert_int_eq(source_loganalytics_ops.kind, SOURCE_LOG_ANALYTICS);
	ck_assert(source_loganalytics_ops.supports(SIGNAL_SIGN_IN));
	ck_assert(source_loganalytics_ops.supports(SIGNAL_NON_INTERACTIVE));
	ck_assert(source_loganalytics_ops.supports(SIGNAL_AUDIT));
	ck_assert(!source_loganalytics_ops.supports(SIGNAL_COUNT));
	ck_assert_str_eq(source_loganalytics_ops.scope(&tenant),
	    "https://api.loganalytics.io/.default");
}
END_TEST

START_TEST(test_build_exact)
{
	struct source_req req;
	char *err = NULL;

	ck_assert_int_eq(build(testdata_us("2026-11-22T04:00:00.123456Z"),
	    testdata_us("2026-11-22T03:50:00.5Z"), &req, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_str_eq(req.method, "POST");
	ck_assert_str_eq(req.url, "https://api.loganalytics.example/v1/"
	    "workspaces/" WS "/query");
	ck_assert_str_eq(req.content_type, "application/json");
	ck_assert_str_eq(req.body,
	    "{\"query\":\"SigninLogs\\n"
	    "| where TimeGenerated >= datetime(2026-11-20T04:00:00.123456Z)\\n"
	    "| where ingestion_time() > "
	    "datetime(2026-11-22T03:48:00.500000Z)\\n"
	    "| where UserId in~ (\\\"" BG1 "\\\", \\\"" BG2 "\\\")\\n"
	    "| extend GwIngestionTime = ingestion_time()\\n"
	    "| project GwIngestionTime, TimeGenerated, CreatedDateTime, Id, "
	    "UserId, UserPrincipalName, IPAddress, Location, LocationDetails, "
	    "AppDisplayName, ResultType, ResultDescription, CorrelationId, "
	    "Status, ClientAppUsed, UserAgent, ConditionalAccessStatus, "
	    "AuthenticationRequirement\\n"
	    "| order by GwIngestionTime asc\","
	    "\"timespan\":\"PT172920S\"}");
	source_req_clear(&req);
	ck_assert_ptr_null(req.body);
}
END_TEST

START_TEST(test_build_clamp)
{
	int64_t now = testdata_us("2026-11-22T04:00:00Z");
	const char *head = "SigninLogs\n"
	    "| where TimeGenerated >= datetime(2026-11-20T04:00:00.000000Z)\n"
	    "| where ingestion_time() > "
	    "datetime(2026-11-20T04:00:00.000000Z)\n";
	char *kql;

	/* A cursor older than the look-back. */
	kql = build_kql(now, testdata_us("2026-11-01T00:00:00Z"));
	ck_assert_msg(strncmp(kql, head, strlen(head)) == 0, "%s", kql);
	free(kql);

	/* No cursor yet: the first poll starts at now - lookback. */
	kql = build_kql(now, 0);
	ck_assert_msg(strncmp(kql, head, strlen(head)) == 0, "%s", kql);
	free(kql);

	/* Just inside: the cursor minus the overlap lands exactly on it. */
	kql = build_kql(now, testdata_us("2026-11-20T04:02:00Z"));
	ck_assert_msg(strncmp(kql, head, strlen(head)) == 0, "%s", kql);
	free(kql);

	/* An overlap longer than the look-back. */
	tenant.log_analytics.overlap = 3 * 86400;
	kql = build_kql(now, now);
	ck_assert_msg(strncmp(kql, head, strlen(head)) == 0, "%s", kql);
	free(kql);

	/* A cursor one second later moves the bound one second. */
	tenant.log_analytics.overlap = 120;
	kql = build_kql(now, testdata_us("2026-11-20T04:02:01Z"));
	ck_assert_ptr_nonnull(strstr(kql, "| where ingestion_time() > "
	    "datetime(2026-11-20T04:00:01.000000Z)\n"));
	free(kql);
}
END_TEST

START_TEST(test_build_accounts)
{
	int64_t now = testdata_us("2026-11-22T04:00:00Z");
	char *kql;

	/* One account. */
	tenant.nbreak_glass = 1;
	kql = build_kql(now, now);
	ck_assert_str_eq(kql, "SigninLogs\n"
	    "| where TimeGenerated >= datetime(2026-11-20T04:00:00.000000Z)\n"
	    "| where ingestion_time() > datetime(2026-11-22T03:58:00.000000Z)\n"
	    "| where UserId in~ (\"" BG1 "\")\n"
	    KQL_PROJECT);
	free(kql);

	/* Three, one written in upper case in the config. */
	accounts[2].object_id = "ABCDEF01-2345-6789-ABCD-EF0123456789";
	tenant.nbreak_glass = 3;
	kql = build_kql(now, now);
	ck_assert_ptr_nonnull(strstr(kql, "| where UserId in~ (\"" BG1 "\", \""
	    BG2 "\", \"abcdef01-2345-6789-abcd-ef0123456789\")\n"));
	free(kql);
}
END_TEST

START_TEST(test_build_rejects)
{
	static const char *bad[] = {
		"5f1c2a9e-8d3b-4c7a-9e21-0b6d4f3a7c1\") | take 1 //",
		"5f1c2a9e-8d3b-4c7a-9e21-0b6d4f3a7c1\"",
		"5f1c2a9e8d3b4c7a9e210b6d4f3a7c10",
		"",
		"5f1c2a9e-8d3b-4c7a-9e21-0b6d4f3a7c10 ",
	};
	int64_t now = testdata_us("2026-11-22T04:00:00Z");
	struct source_req req;
	struct source_ctx ctx;
	char *err;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		accounts[1].object_id = (char *)bad[i];
		err = NULL;
		ck_assert_int_eq(build(now, now, &req, &err), -1);
		ck_assert_ptr_nonnull(err);
		ck_assert_msg(strstr(err, "not a GUID") != NULL, "%s", err);
		ck_assert_ptr_null(req.body);
		ck_assert_ptr_null(req.url);
		free(err);
	}
	accounts[1].object_id = BG2;

	tenant.log_analytics.workspace_id = "../../other";
	ck_assert_int_eq(build(now, now, &req, &err), -1);
	ck_assert_msg(strstr(err, "workspace_id") != NULL, "%s", err);
	free(err);
	tenant.log_analytics.workspace_id = WS;

	tenant.nbreak_glass = 0;
	ck_assert_int_eq(build(now, now, &req, &err), -1);
	ck_assert_msg(strstr(err, "no break-glass") != NULL, "%s", err);
	free(err);
	tenant.nbreak_glass = 2;

	tenant.log_analytics.enabled = 0;
	ck_assert_int_eq(build(now, now, &req, &err), -1);
	free(err);
	tenant.log_analytics.enabled = 1;

	/* A signal this source does not know. */
	memset(&ctx, 0, sizeof ctx);
	ctx.tenant = &tenant;
	ctx.signal = SIGNAL_COUNT;
	ctx.now_us = now;
	ck_assert_int_eq(source_loganalytics_ops.build(&ctx, &req, &err), -1);
	ck_assert_msg(strstr(err, "not supported") != NULL, "%s", err);
	free(err);
}
END_TEST

/* Each signal reads its own table with the same ingestion-time window;
 * the non-interactive table has SigninLogs' column names. */
START_TEST(test_build_signals)
{
	int64_t now = testdata_us("2026-11-22T04:00:00Z");
	const char *window =
	    "| where TimeGenerated >= datetime(2026-11-20T04:00:00.000000Z)\n"
	    "| where ingestion_time() > datetime(2026-11-22T03:48:00.000000Z)\n";
	char *kql, *want;

	kql = build_signal_kql(SIGNAL_NON_INTERACTIVE, now,
	    testdata_us("2026-11-22T03:50:00Z"));
	want = xasprintf("AADNonInteractiveUserSignInLogs\n%s"
	    "| where UserId in~ (\"" BG1 "\", \"" BG2 "\")\n"
	    KQL_PROJECT, window);
	ck_assert_str_eq(kql, want);
	free(want);
	free(kql);

	/* Audit: the account as initiator or anywhere in TargetResources
	 * (the parser then keeps only real targets). */
	kql = build_signal_kql(SIGNAL_AUDIT, now, testdata_us("2026-11-22T03:50:00Z"));
	want = xasprintf("AuditLogs\n%s"
	    "| where tostring(InitiatedBy.user.id) in~ (\"" BG1 "\", \""
	    BG2 "\") or TargetResources has_any (\"" BG1 "\", \"" BG2
	    "\")\n"
	    "| extend GwIngestionTime = ingestion_time()\n"
	    "| project GwIngestionTime, TimeGenerated, ActivityDateTime, Id, "
	    "ActivityDisplayName, OperationName, Category, LoggedByService, "
	    "Result, ResultReason, CorrelationId, InitiatedBy, "
	    "TargetResources, AdditionalDetails\n"
	    "| order by GwIngestionTime asc", window);
	ck_assert_str_eq(kql, want);
	free(want);
	free(kql);
}
END_TEST

START_TEST(test_build_endpoint_slash)
{
	struct source_req req;
	char *err = NULL;

	tenant.endpoints.log_analytics = "http://127.0.0.1:8443/";
	ck_assert_int_eq(build(testdata_us("2026-11-22T04:00:00Z"), 0, &req, &err), 0);
	ck_assert_str_eq(req.url,
	    "http://127.0.0.1:8443/v1/workspaces/" WS "/query");
	source_req_clear(&req);
}
END_TEST

/* Microsoft's example: numbers and bools as strings, a null. */
START_TEST(test_spec_example)
{
	struct record_list out;
	struct page_info pi;
	struct la_table t;
	json_t *doc, *body;
	char *data, *text, *err = NULL;
	size_t len;
	int64_t v;

	data = testdata_slurp(GW_TEST_DATA, "oms-post-example.json", &len);
	doc = json_loadb(data, len, 0, NULL);
	ck_assert_ptr_nonnull(doc);
	body = json_object_get(json_object_get(json_object_get(
	    json_object_get(doc, "responses"), "200"), "body"), "tables");
	ck_assert_ptr_nonnull(body);
	text = json_dumps(json_object_get(json_object_get(json_object_get(
	    doc, "responses"), "200"), "body"), 0);

	ck_assert_msg(la_table_parse(text, strlen(text), &t, &err) == 0, "%s",
	    err);
	ck_assert_str_eq(t.name, "PrimaryResult");
	ck_assert_int_eq(t.ncolumns, 21);
	ck_assert_int_eq(t.nrows, 2);
	ck_assert_int_eq(t.partial, 0);
	ck_assert_str_eq(la_table_string(&t, 1,
	    la_table_column(&t, "Computer")), "Store010Web3");
	ck_assert_ptr_null(la_table_cell(&t, 0,
	    la_table_column(&t, "LinkedResourceUri")));
	ck_assert(json_is_integer(la_table_cell(&t, 0,
	    la_table_column(&t, "BatchesWithinSla"))));
	ck_assert_int_eq(json_integer_value(la_table_cell(&t, 0,
	    la_table_column(&t, "BatchesWithinSla"))), 1);
	ck_assert_double_eq_tol(json_real_value(la_table_cell(&t, 0,
	    la_table_column(&t, "AvgLatencyInSeconds"))), 1.286, 1e-9);
	ck_assert(json_is_true(la_table_cell(&t, 1,
	    la_table_column(&t, "IsBillable"))));
	ck_assert_int_eq(la_table_time(&t, 0,
	    la_table_column(&t, "TimeGenerated"), &v), 0);
	ck_assert_int_eq(v, testdata_us("2017-08-24T06:59:59Z"));
	ck_assert_int_eq(la_table_column(&t, "NoSuchColumn"), -1);
	la_table_free(&t);

	/* Not our query's shape: the source says which column is missing. */
	record_list_init(&out);
	ck_assert_int_eq(la_parse(text, strlen(text), &out, &pi, &err), -1);
	ck_assert_str_eq(err, "tables[0]: no GwIngestionTime column");
	ck_assert_int_eq(out.n, 0);
	free(err);

	free(text);
	json_decref(doc);
	free(data);
}
END_TEST

static void
parse_file(const char *name, struct record_list *out, struct page_info *pi)
{
	char *data, *err = NULL;
	size_t len;

	data = testdata_slurp(GW_TEST_DATA, name, &len);
	record_list_init(out);
	ck_assert_msg(la_parse(data, len, out, pi, &err) == 0, "%s: %s", name,
	    err);
	free(data);
}

#define ck_assert_str_null(a)	ck_assert_ptr_null(a)

static struct record *
find_id(const struct record_list *l, const char *id)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i]->id, id) == 0)
			return l->v[i];
	ck_abort_msg("no record %s", id);
	return NULL;
}

START_TEST(test_signin_page)
{
	struct record_list out;
	struct page_info pi;
	struct record *r;
	char text[32];

	parse_file("la-signin-nested.json", &out, &pi);
	ck_assert_int_eq(pi.rows, 7);
	ck_assert_int_eq(pi.partial, 0);
	ck_assert_ptr_null(pi.partial_why);
	ck_assert_ptr_null(pi.next_url);
	/* The other user's row is the newest: it counts, it is not kept. */
	ck_assert_int_eq(pi.max_ingest_us, testdata_us("2026-11-22T03:59:59.999999Z"));
	/* Two break-glass rows lack an Id or a time: kept, not dropped. */
	ck_assert_int_eq(out.n, 6);
	{
		int standins = 0;

		for (size_t i = 0; i < out.n; i++)
			standins += strncmp(out.v[i]->id, "gw-content-",
			    11) == 0;
		ck_assert_int_eq(standins, 1);
	}

	r = out.v[0];
	ck_assert_int_eq(r->signal, SIGNAL_SIGN_IN);
	ck_assert_str_eq(r->tenant, "contoso");
	ck_assert_str_eq(r->id, "7c3e1a52-0d4b-4f6e-9a18-3b5c7d9e1f20");
	ck_assert_int_eq(r->event_us, testdata_us("2026-11-22T03:48:15.555Z"));
	ck_assert_int_eq(r->ingest_us, testdata_us("2026-11-22T03:50:01.123456Z"));
	ck_assert_int_eq(r->received_us, 0);
	ck_assert_str_eq(r->user_id, BG1);	/* upper case on the wire */
	ck_assert_str_eq(r->upn, "bg1@contoso.onmicrosoft.com");
	ck_assert_str_eq(r->ip, "175.45.176.99");
	ck_assert_str_eq(r->location, "Azor, Tel Aviv, IL");
	ck_assert_str_eq(r->app, "Azure Portal");
	ck_assert_int_eq(r->result_code, 0);
	ck_assert_int_eq(r->success, 1);
	ck_assert_str_null(r->failure_reason);
	ck_assert_str_eq(r->correlation_id,
	    "d4c3b2a1-1a2b-3c4d-5e6f-7a8b9c0d1e2f");
	ck_assert_str_eq(record_result_text(r, text, sizeof text), "success");
	ck_assert_ptr_nonnull(strstr(r->raw, "{\"GwIngestionTime\":"
	    "\"2026-11-22T03:50:01.1234567Z\",\"TimeGenerated\":"));
	ck_assert_ptr_nonnull(strstr(r->raw, "\"LocationDetails\":{\"city\":"
	    "\"Azor\",\"state\":\"Tel Aviv\",\"countryOrRegion\":\"IL\","
	    "\"geoCoordinates\":{\"latitude\":32.02,\"longitude\":34.79}}"));
	ck_assert_ptr_nonnull(strstr(r->raw, "\"ResultDescription\":null,"));
	ck_assert_ptr_nonnull(strstr(r->raw, "\"Status\":{\"errorCode\":0}"));
	ck_assert_ptr_null(strchr(r->raw, '\n'));

	r = out.v[1];
	ck_assert_str_eq(r->id, "2b9d4e61-5c7a-4f83-b1e2-6a0c8d3f5e74");
	ck_assert_str_eq(r->user_id, BG2);
	ck_assert_str_eq(r->ip, "2001:db8::1");
	ck_assert_str_eq(r->location, "Seattle, US");	/* empty state */
	ck_assert_int_eq(r->result_code, 50126);
	ck_assert_int_eq(r->success, 0);
	ck_assert_str_eq(r->failure_reason, "Invalid username or password or "
	    "Invalid on-premise username or password.");
	ck_assert_str_eq(record_result_text(r, text, sizeof text),
	    "failure:50126");

	/* No CreatedDateTime: TimeGenerated; no ResultDescription: Status. */
	r = find_id(&out, "3c0e5f72-6d8b-4a94-8c2f-7b1d9e4a6f85");
	ck_assert_int_eq(r->event_us, testdata_us("2026-11-22T03:52:40.765432Z"));
	ck_assert_str_eq(r->location, "DE");
	ck_assert_int_eq(r->result_code, 50074);
	ck_assert_str_eq(r->failure_reason,
	    "Strong Authentication is required.");

	/* Nulls everywhere they may be. */
	r = find_id(&out, "5e2a7b94-8f0d-4cb6-ae4b-9d3f1a6c8b07");
	ck_assert_str_eq(r->user_id, BG1);
	ck_assert_str_null(r->upn);
	ck_assert_str_null(r->ip);
	ck_assert_str_null(r->location);
	ck_assert_str_null(r->app);
	ck_assert_str_null(r->correlation_id);
	ck_assert_str_null(r->failure_reason);
	ck_assert_int_eq(r->result_code, -1);
	ck_assert_int_eq(r->success, 0);
	ck_assert_ptr_nonnull(strstr(r->raw, "\"UserPrincipalName\":null"));
	ck_assert_ptr_nonnull(strstr(r->raw, "\"LocationDetails\":{}"));

	record_list_clear(&out);
	page_info_clear(&pi);
}
END_TEST

static int
streq_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

START_TEST(test_dynamic_text_equals_nested)
{
	struct record_list a, b;
	struct page_info pa, pb;
	struct record *x, *y;

	parse_file("la-signin-nested.json", &a, &pa);
	parse_file("la-signin-text.json", &b, &pb);
	ck_assert_int_eq(a.n, 6);
	ck_assert_int_eq(b.n, a.n);
	ck_assert_int_eq(pa.max_ingest_us, pb.max_ingest_us);
	ck_assert_int_eq(pa.rows, pb.rows);
	for (size_t i = 0; i < a.n; i++) {
		x = a.v[i];
		y = b.v[i];
		ck_assert(streq_null(x->id, y->id));
		ck_assert_int_eq(x->event_us, y->event_us);
		ck_assert_int_eq(x->ingest_us, y->ingest_us);
		ck_assert(streq_null(x->user_id, y->user_id));
		ck_assert(streq_null(x->upn, y->upn));
		ck_assert(streq_null(x->ip, y->ip));
		ck_assert(streq_null(x->location, y->location));
		ck_assert(streq_null(x->app, y->app));
		ck_assert_int_eq(x->result_code, y->result_code);
		ck_assert_int_eq(x->success, y->success);
		ck_assert(streq_null(x->failure_reason, y->failure_reason));
		ck_assert(streq_null(x->correlation_id, y->correlation_id));
		ck_assert_str_eq(x->raw, y->raw);
	}
	record_list_clear(&a);
	record_list_clear(&b);
}
END_TEST

START_TEST(test_partial_error)
{
	struct record_list out;
	struct page_info pi;

	parse_file("la-signin-partial.json", &out, &pi);
	ck_assert_int_eq(pi.partial, 1);
	ck_assert_str_eq(pi.partial_why, "PartialError: There were some "
	    "errors when processing your query. (Something went wrong "
	    "processing your query on the server.)");
	ck_assert_int_eq(pi.rows, 1);
	ck_assert_int_eq(out.n, 1);	/* stored; the cursor stays */
	ck_assert_int_eq(pi.max_ingest_us, testdata_us("2026-11-22T03:50:01.123456Z"));
	ck_assert_str_eq(out.v[0]->user_id, BG1);
	record_list_clear(&out);
	page_info_clear(&pi);
	ck_assert_ptr_null(pi.partial_why);
}
END_TEST

START_TEST(test_empty_body)
{
	static const char *bodies[] = { "", " \r\n\t" };
	struct record_list out;
	struct page_info pi;
	struct la_table t;
	char *err = NULL;

	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		record_list_init(&out);
		ck_assert_int_eq(la_parse(bodies[i], strlen(bodies[i]), &out,
		    &pi, &err), 0);
		ck_assert_ptr_null(err);
		ck_assert_int_eq(pi.partial, 1);
		ck_assert_str_eq(pi.partial_why, "empty response");
		ck_assert_int_eq(pi.rows, 0);
		ck_assert_int_eq(pi.max_ingest_us, 0);
		ck_assert_int_eq(out.n, 0);
		page_info_clear(&pi);
	}
	/* A NULL pointer with no length is an empty body too. */
	ck_assert_int_eq(la_table_parse(NULL, 0, &t, &err), 0);
	ck_assert_int_eq(t.partial, 1);
	ck_assert_int_eq(t.nrows, 0);
	la_table_free(&t);
}
END_TEST

START_TEST(test_errors)
{
	static const struct {
		const char	*body;
		const char	*err;
	} cases[] = {
		{ "{", "invalid JSON at line 1" },
		{ "nonsense", "invalid JSON" },
		{ "[]", "response: not a JSON object" },
		{ "{}", "no tables in the response" },
		{ "{'tables':{}}", "tables: not an array" },
		{ "{'tables':[]}", "tables: empty array" },
		{ "{'tables':[42]}", "tables[0]: not an object" },
		{ "{'error':{'code':'BadArgumentError','message':'The request "
		  "had some invalid properties'}}", "service error "
		  "BadArgumentError: The request had some invalid properties" },
		{ "{'error':{'code':'InsufficientAccessError','message':'no'},"
		  "'tables':[{'name':'PrimaryResult','columns':[],'rows':[]}]}",
		  "service error InsufficientAccessError: no" },
		{ "{'error':'PartialError','tables':[]}",
		  "error: not an object" },
		{ "{'error':{'code':'PartialError','message':'m'}}",
		  "no tables in the response after PartialError: m" },
		{ "{'tables':[{'name':'PrimaryResult','rows':[]}]}",
		  "tables[0]: no columns" },
		{ "{'tables':[{'name':'PrimaryResult','columns':[]}]}",
		  "tables[0]: no rows" },
		{ "{'tables':[{'name':7,'columns':[],'rows':[]}]}",
		  "tables[0].name: not a string" },
		{ "{'tables':[{'name':'PrimaryResult','columns':{},"
		  "'rows':[]}]}",
		  "tables[0].columns: not an array" },
		{ "{'tables':[{'name':'PrimaryResult','columns':"
		  "[{'type':'long'}],'rows':[]}]}",
		  "tables[0].columns[0].name: missing" },
		{ "{'tables':[{'name':'PrimaryResult','columns':[{'name':'a',"
		  "'type':1}],'rows':[]}]}",
		  "tables[0].columns[0].type: not a string" },
		{ "{'tables':[{'name':'PrimaryResult','columns':[{'name':'a',"
		  "'type':'string'},{'name':'a','type':'string'}],'rows':[]}]}",
		  "tables[0].columns[1]: duplicate column name \"a\"" },
		{ "{'tables':[{'name':'PrimaryResult','columns':[],"
		  "'rows':{}}]}",
		  "tables[0].rows: not an array" },
		{ "{'tables':[{'name':'PrimaryResult','columns':[{'name':'a',"
		  "'type':'string'}],'rows':[{'a':1}]}]}",
		  "tables[0].rows[0]: not an array" },
		{ "{'tables':[{'name':'PrimaryResult','columns':[{'name':'a',"
		  "'type':'string'},{'name':'b','type':'long'}],'rows':"
		  "[['x',1],['y']]}]}",
		  "tables[0].rows[1]: 1 cells for 2 columns" },
		/* Rows of a sign-in page without the columns it needs. */
		{ "{'tables':[{'name':'PrimaryResult','columns':[{'name':"
		  "'GwIngestionTime','type':'datetime'},{'name':'Id','type':"
		  "'string'}],'rows':[['2026-11-22T03:50:00Z','x']]}]}",
		  "tables[0]: no UserId column" },
	};
	struct record_list out;
	struct page_info pi;
	char *body, *err;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		body = testdata_jq(cases[i].body);
		err = NULL;
		record_list_init(&out);
		ck_assert_msg(la_parse(body, strlen(body), &out, &pi, &err) ==
		    -1, "case %zu parsed", i);
		ck_assert_ptr_nonnull(err);
		ck_assert_msg(strncmp(err, cases[i].err, strlen(cases[i].err))
		    == 0, "case %zu: \"%s\", wanted \"%s\"", i, err,
		    cases[i].err);
		ck_assert_int_eq(out.n, 0);
		ck_assert_int_eq(pi.partial, 0);
		ck_assert_ptr_null(pi.partial_why);
		free(err);
		free(body);
	}
}
END_TEST

/* A malformed cell is read as null (and logged): the page, and the good
 * rows on it, are still read. */
START_TEST(test_bad_cells_read_as_null)
{
	static const char *const bodies[] = {
		"{'tables':[{'name':'PrimaryResult','columns':[{'name':'a',"
		"'type':'long'},{'name':'b','type':'string'}],'rows':"
		"[['x','ok']]}]}",
		"{'tables':[{'name':'PrimaryResult','columns':[{'name':'a',"
		"'type':'int'},{'name':'b','type':'string'}],'rows':"
		"[['99999999999999999999','ok']]}]}",
		"{'tables':[{'name':'PrimaryResult','columns':[{'name':'a',"
		"'type':'real'},{'name':'b','type':'string'}],'rows':"
		"[['1.5x','ok']]}]}",
		"{'tables':[{'name':'PrimaryResult','columns':[{'name':'a',"
		"'type':'bool'},{'name':'b','type':'string'}],'rows':"
		"[['yes','ok']]}]}",
		"{'tables':[{'name':'PrimaryResult','columns':[{'name':'a',"
		"'type':'datetime'},{'name':'b','type':'string'}],'rows':"
		"[['yesterday','ok']]}]}",
		"{'tables':[{'name':'PrimaryResult','columns':[{'name':'a',"
		"'type':'datetime'},{'name':'b','type':'string'}],'rows':"
		"[[1732247355,'ok']]}]}",
		"{'tables':[{'name':'PrimaryResult','columns':[{'name':'a',"
		"'type':'string'},{'name':'b','type':'string'}],'rows':"
		"[[{'x':1},'ok']]}]}",
	};

	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		struct la_table t;
		char *body = testdata_jq(bodies[i]), *err = NULL;

		ck_assert_msg(la_table_parse(body, strlen(body), &t, &err) == 0,
		    "case %zu: %s", i, err ? err : "");
		ck_assert_uint_eq(t.nrows, 1);
		ck_assert_uint_eq(t.bad_cells, 1);
		ck_assert_ptr_null(la_table_cell(&t, 0, 0));	/* null */
		ck_assert_str_eq(la_table_string(&t, 0, 1), "ok");
		la_table_free(&t);
		free(body);
	}
}
END_TEST

START_TEST(test_wrong_row_length_message)
{
	struct la_table t;
	char *body, *err = NULL;

	body = testdata_jq("{'tables':[{'name':'PrimaryResult','columns':["
	    "{'name':'a','type':'string'},{'name':'b','type':'string'},"
	    "{'name':'c','type':'string'},{'name':'d','type':'string'},"
	    "{'name':'e','type':'string'},{'name':'f','type':'string'}],"
	    "'rows':[['1','2','3','4','5','6'],['1','2','3','4','5','6'],"
	    "['1','2','3','4','5','6'],['1','2','3','4','5']]}]}");
	ck_assert_int_eq(la_table_parse(body, strlen(body), &t, &err), -1);
	ck_assert_str_eq(err, "tables[0].rows[3]: 5 cells for 6 columns");
	la_table_free(&t);
	free(err);
	free(body);
}
END_TEST

START_TEST(test_truncated)
{
	struct record_list out;
	struct page_info pi;
	char *data, *err;
	size_t len;

	data = testdata_slurp(GW_TEST_DATA, "la-signin-nested.json", &len);
	for (size_t cut = 1; cut < len - 2; cut += 97) {
		err = NULL;
		record_list_init(&out);
		ck_assert_int_eq(la_parse(data, cut, &out, &pi, &err), -1);
		ck_assert_msg(strncmp(err, "invalid JSON", 12) == 0, "%s", err);
		ck_assert_int_eq(out.n, 0);
		free(err);
	}
	free(data);
}
END_TEST

/* Scalars as strings and as JSON give the same cells. */
START_TEST(test_scalars)
{
	struct la_table t;
	char *body, *err = NULL;
	int64_t v;

	body = testdata_jq("{'tables':[{'name':'PrimaryResult','columns':["
	    "{'name':'b','type':'bool'},{'name':'l','type':'long'},"
	    "{'name':'i','type':'int'},{'name':'r','type':'real'},"
	    "{'name':'t','type':'datetime'},{'name':'d','type':'dynamic'},"
	    "{'name':'s','type':'string'}],'rows':["
	    "['True','42','-7','1.5','2026-11-22T03:49:15.1234567Z',"
	    "'{\\'a\\':[1,null]}','50126'],"
	    "[true,42,-7,1.5,'2026-11-22T03:49:15.1234567Z',{'a':[1,null]},"
	    "50126],"
	    "['1','+42','-7','15e-1','2026-11-22T03:49:15.123456Z',"
	    "'{ \\'a\\' : [1, null] }','50126'],"
	    "['false','0','0','NaN','2026-11-22T03:49:15Z','not json {',"
	    "true],"
	    "['0',0.0,'0',2,'2026-11-22T03:49:15+01:00','','x'],"
	    "[null,null,null,null,null,null,null]]}]}");
	ck_assert_msg(la_table_parse(body, strlen(body), &t, &err) == 0, "%s",
	    err);
	ck_assert_int_eq(t.nrows, 6);
	for (int c = 0; c < 7; c++) {
		ck_assert_msg(json_equal(la_table_cell(&t, 0, c),
		    la_table_cell(&t, 1, c)), "column %d", c);
		ck_assert_msg(json_equal(la_table_cell(&t, 0, c),
		    la_table_cell(&t, 2, c)) || c == 4, "column %d", c);
		ck_assert_ptr_null(la_table_cell(&t, 5, c));
	}
	ck_assert(json_is_true(la_table_cell(&t, 0, 0)));
	ck_assert(json_is_false(la_table_cell(&t, 3, 0)));
	ck_assert(json_is_false(la_table_cell(&t, 4, 0)));
	ck_assert_int_eq(json_integer_value(la_table_cell(&t, 0, 1)), 42);
	ck_assert_int_eq(json_integer_value(la_table_cell(&t, 4, 1)), 0);
	ck_assert(json_is_integer(la_table_cell(&t, 4, 1)));
	ck_assert_int_eq(json_integer_value(la_table_cell(&t, 0, 2)), -7);
	ck_assert(json_is_real(la_table_cell(&t, 4, 3)));
	ck_assert_str_eq(la_table_string(&t, 3, 3), "NaN");
	/* Seven fractional digits: the seventh is cut, never rounded up. */
	ck_assert_int_eq(la_table_time(&t, 0, 4, &v), 0);
	ck_assert_int_eq(v, testdata_us("2026-11-22T03:49:15.123456Z"));
	ck_assert_int_eq(la_table_time(&t, 4, 4, &v), 0);
	ck_assert_int_eq(v, testdata_us("2026-11-22T02:49:15Z"));
	ck_assert_int_eq(la_table_time(&t, 5, 4, &v), -1);
	ck_assert_str_eq(la_table_string(&t, 3, 5), "not json {");
	ck_assert_str_eq(la_table_string(&t, 4, 5), "");
	ck_assert_str_eq(la_table_string(&t, 1, 6), "50126");
	ck_assert_str_eq(la_table_string(&t, 3, 6), "true");
	ck_assert_int_eq(la_table_column(&t, "d"), 5);
	la_table_free(&t);
	free(body);
}
END_TEST

START_TEST(test_duplicate_keys_and_nul)
{
	struct la_table t;
	char *body, *err = NULL;
	json_t *d;

	/* Duplicate keys: the last one wins, in the document and in JSON
	 * text; a NUL in a string never cuts it short. */
	body = testdata_jq("{'tables':[{'name':'Old','columns':[],'rows':[]}],"
	    "'tables':[{'name':'PrimaryResult','columns':["
	    "{'name':'d','type':'dynamic'},{'name':'e','type':'dynamic'},"
	    "{'name':'s','type':'string'}],'rows':["
	    "[{'city':'A','city':'B'},'{\\'city\\':\\'A\\',\\'city\\':"
	    "\\'C\\'}','a\\u0000b']]}]}");
	ck_assert_msg(la_table_parse(body, strlen(body), &t, &err) == 0, "%s",
	    err);
	ck_assert_str_eq(t.name, "PrimaryResult");
	d = la_table_cell(&t, 0, 0);
	ck_assert_str_eq(json_string_value(json_object_get(d, "city")), "B");
	d = la_table_cell(&t, 0, 1);
	ck_assert_str_eq(json_string_value(json_object_get(d, "city")), "C");
	ck_assert_str_eq(la_table_string(&t, 0, 2), "a\xef\xbf\xbd" "b");
	la_table_free(&t);
	free(body);
}
END_TEST

/* A small sign-in page; rows are written with ' for ". */
static int
mini(const char *rows, struct record_list *out, struct page_info *pi,
    char **err)
{
	char *text, *body;
	int rc;

	text = xasprintf("{'tables':[{'name':'PrimaryResult','columns':["
	    "{'name':'GwIngestionTime','type':'datetime'},"
	    "{'name':'CreatedDateTime','type':'datetime'},"
	    "{'name':'Id','type':'string'},"
	    "{'name':'UserId','type':'string'},"
	    "{'name':'Location','type':'string'},"
	    "{'name':'LocationDetails','type':'dynamic'},"
	    "{'name':'ResultType','type':'string'},"
	    "{'name':'ResultDescription','type':'string'},"
	    "{'name':'Status','type':'dynamic'}],'rows':[%s]}]}", rows);
	body = testdata_jq(text);
	record_list_init(out);
	*err = NULL;
	rc = la_parse(body, strlen(body), out, pi, err);
	free(body);
	free(text);
	return rc;
}

/* The one record of a one-row page. */
static struct record *
mini_one(const char *row)
{
	struct record_list out;
	struct page_info pi;
	struct record *r;
	char *err;

	ck_assert_msg(mini(row, &out, &pi, &err) == 0, "%s", err);
	ck_assert_int_eq(out.n, 1);
	r = out.v[0];
	out.n = 0;
	record_list_clear(&out);
	page_info_clear(&pi);
	return r;
}

static void
check_location(const char *details, const char *location, const char *want)
{
	struct record *r;
	char *row;

	row = xasprintf("['2026-11-22T03:50:00Z','2026-11-22T03:49:00Z','id1',"
	    "'" BG1 "',%s,%s,'0',null,null]", location, details);
	r = mini_one(row);
	if (want == NULL)
		ck_assert_msg(r->location == NULL, "%s", r->location);
	else
		ck_assert_str_eq(r->location, want);
	record_free(r);
	free(row);
}

START_TEST(test_location)
{
	check_location("{'city':'Azor','state':'Tel Aviv','countryOrRegion':"
	    "'IL'}", "'IL'", "Azor, Tel Aviv, IL");
	check_location("{'city':'Azor','countryOrRegion':'IL'}", "'IL'",
	    "Azor, IL");
	check_location("{'state':'Tel Aviv','countryOrRegion':'IL'}", "null",
	    "Tel Aviv, IL");
	check_location("{'countryOrRegion':'IL'}", "null", "IL");
	check_location("{'city':'Azor'}", "'IL'", "Azor");
	check_location("{'city':null,'state':'','countryOrRegion':7}", "'IL'",
	    "IL");
	check_location("{}", "'IL'", "IL");
	check_location("null", "'IL'", "IL");
	check_location("'[1,2]'", "'IL'", "IL");
	check_location("null", "''", NULL);
	check_location("null", "null", NULL);
	/* JSON text, as AADNonInteractiveUserSignInLogs sends it. */
	check_location("'{\\'city\\':\\'Azor\\',\\'countryOrRegion\\':"
	    "\\'IL\\'}'", "null", "Azor, IL");
}
END_TEST

static void
check_result(const char *rt, const char *desc, const char *status,
    long code, int success, const char *reason, const char *text)
{
	struct record *r;
	char *row, out[32];

	row = xasprintf("['2026-11-22T03:50:00Z','2026-11-22T03:49:00Z','id1',"
	    "'" BG1 "',null,null,%s,%s,%s]", rt, desc, status);
	r = mini_one(row);
	ck_assert_int_eq(r->result_code, code);
	ck_assert_int_eq(r->success, success);
	if (reason == NULL)
		ck_assert_msg(r->failure_reason == NULL, "%s",
		    r->failure_reason);
	else
		ck_assert_str_eq(r->failure_reason, reason);
	ck_assert_str_eq(record_result_text(r, out, sizeof out), text);
	record_free(r);
	free(row);
}

START_TEST(test_result)
{
	check_result("'0'", "null", "{'errorCode':0}", 0, 1, NULL, "success");
	check_result("0", "''", "null", 0, 1, NULL, "success");
	check_result("'50126'", "'Invalid username or password'",
	    "{'errorCode':50126,'failureReason':'other text'}", 50126, 0,
	    "Invalid username or password", "failure:50126");
	check_result("50074", "null", "'{\\'failureReason\\':\\'MFA\\'}'",
	    50074, 0, "MFA", "failure:50074");
	check_result("'abc'", "null", "null", -1, 0, NULL, "failure:-1");
	check_result("'-5'", "null", "null", -1, 0, NULL, "failure:-1");
	check_result("''", "null", "null", -1, 0, NULL, "failure:-1");
	check_result("'99999999999999999999'", "null", "null", -1, 0, NULL,
	    "failure:-1");
	check_result("null", "null", "null", -1, 0, NULL, "failure:-1");
}
END_TEST

START_TEST(test_rows_dropped_and_kept)
{
	struct record_list out;
	struct page_info pi;
	char *err;

	/* Only other accounts: nothing kept, everything counted. */
	ck_assert_int_eq(mini(
	    "['2026-11-22T03:50:00Z',null,'id1','" OTHER "',null,null,'0',"
	    "null,null],"
	    "['2026-11-22T03:59:00.7654321Z',null,'id2','" OTHER "',null,null,"
	    "'0',null,null],"
	    "['2026-11-22T03:51:00Z',null,'id3','',null,null,'0',null,null],"
	    "['2026-11-22T03:52:00Z',null,'id4',null,null,null,'0',null,null],"
	    "['2026-11-22T03:53:00Z',null,'id5','" BG1 "x',null,null,'0',null,"
	    "null]", &out, &pi, &err), 0);
	ck_assert_int_eq(out.n, 0);
	ck_assert_int_eq(pi.rows, 5);
	ck_assert_int_eq(pi.max_ingest_us, testdata_us("2026-11-22T03:59:00.765432Z"));
	record_list_clear(&out);
	page_info_clear(&pi);

	/* Break-glass rows without an Id or a time are kept, never dropped:
	 * a content-derived id, the ingestion time (or now) as event time. */
	ck_assert_int_eq(mini(
	    "['2026-11-22T03:55:00Z','2026-11-22T03:49:00Z',null,'" BG1 "',"
	    "null,null,'0',null,null],"
	    "['2026-11-22T03:54:00Z','2026-11-22T03:49:00Z','','" BG1 "',"
	    "null,null,'0',null,null],"
	    "['2026-11-22T03:53:00Z',null,'id3','" BG2 "',null,null,'0',null,"
	    "null],"
	    "[null,'2026-11-22T03:49:00Z','id4','" BG2 "',null,null,'0',null,"
	    "null]", &out, &pi, &err), 0);
	ck_assert_int_eq(out.n, 4);
	ck_assert(strncmp(out.v[0]->id, "gw-content-", 11) == 0);
	ck_assert(strncmp(out.v[1]->id, "gw-content-", 11) == 0);
	/* Different rows, different stand-in ids. */
	ck_assert_str_ne(out.v[0]->id, out.v[1]->id);
	ck_assert_str_eq(out.v[2]->id, "id3");
	ck_assert_int_eq(out.v[2]->event_us, testdata_us("2026-11-22T03:53:00Z"));
	ck_assert_str_eq(out.v[3]->id, "id4");
	ck_assert_int_eq(out.v[3]->ingest_us, 0);
	ck_assert_int_eq(pi.rows, 4);
	ck_assert_int_eq(pi.max_ingest_us, testdata_us("2026-11-22T03:55:00Z"));
	record_list_clear(&out);
	page_info_clear(&pi);

	/* The same id-less row again (an overlapping poll) gets the same
	 * stand-in id, so it is stored once. */
	{
		char *first;

		ck_assert_int_eq(mini("['2026-11-22T03:55:00Z',"
		    "'2026-11-22T03:49:00Z',null,'" BG1 "',null,null,'0',null,"
		    "null]", &out, &pi, &err), 0);
		first = strdup(out.v[0]->id);
		record_list_clear(&out);
		page_info_clear(&pi);
		ck_assert_int_eq(mini("['2026-11-22T03:55:00Z',"
		    "'2026-11-22T03:49:00Z',null,'" BG1 "',null,null,'0',null,"
		    "null]", &out, &pi, &err), 0);
		ck_assert_str_eq(out.v[0]->id, first);
		free(first);
		record_list_clear(&out);
		page_info_clear(&pi);
	}

	/* An empty table. */
	ck_assert_int_eq(mini("", &out, &pi, &err), 0);
	ck_assert_int_eq(out.n, 0);
	ck_assert_int_eq(pi.rows, 0);
	ck_assert_int_eq(pi.max_ingest_us, 0);
	ck_assert_int_eq(pi.partial, 0);
	page_info_clear(&pi);
}
END_TEST

START_TEST(test_parse_unsupported_signal)
{
	struct record_list out;
	struct page_info pi;
	struct source_ctx ctx;
	char *err = NULL;

	memset(&ctx, 0, sizeof ctx);
	ctx.tenant = &tenant;
	ctx.signal = SIGNAL_COUNT;
	record_list_init(&out);
	ck_assert_int_eq(source_loganalytics_ops.parse(&ctx, "{}", 2, &out,
	    &pi, &err), -1);
	ck_assert_msg(strstr(err, "not supported") != NULL, "%s", err);
	free(err);
}
END_TEST

static void
parse_file_signal(enum signal signal, const char *name,
    struct record_list *out, struct page_info *pi)
{
	char *data, *err = NULL;
	size_t len;

	data = testdata_slurp(GW_TEST_DATA, name, &len);
	record_list_init(out);
	ck_assert_msg(la_parse_signal(signal, data, len, out, pi, &err) == 0,
	    "%s: %s", name, err);
	free(data);
}

/* The body of a data file with the JSON text of the named columns turned
 * into nested JSON, typed dynamic: the other wire form of one page. */
static char *
nested_body(const char *name, const char *const *columns)
{
	json_t *doc, *table, *cols, *rows, *row, *col, *v, *n;
	char *data, *body;
	size_t len, i, j;

	data = testdata_slurp(GW_TEST_DATA, name, &len);
	doc = json_loadb(data, len, 0, NULL);
	ck_assert_ptr_nonnull(doc);
	free(data);
	table = json_array_get(json_object_get(doc, "tables"), 0);
	cols = json_object_get(table, "columns");
	rows = json_object_get(table, "rows");
	json_array_foreach(cols, i, col) {
		for (const char *const *c = columns; *c != NULL; c++) {
			if (strcmp(json_string_value(json_object_get(col,
			    "name")), *c) != 0)
				continue;
			json_object_set_new(col, "type", json_string("dynamic"));
			json_array_foreach(rows, j, row) {
				v = json_array_get(row, i);
				if (!json_is_string(v) || (n = json_loads(
				    json_string_value(v), JSON_DECODE_ANY,
				    NULL)) == NULL)
					continue;
				json_array_set_new(row, i, n);
			}
		}
	}
	body = json_dumps(doc, 0);
	json_decref(doc);
	return body;
}

static void
assert_same_records(const struct record_list *a, const struct record_list *b)
{
	ck_assert_int_eq(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct record *x = a->v[i], *y = b->v[i];

		ck_assert_int_eq(x->signal, y->signal);
		ck_assert(streq_null(x->id, y->id));
		ck_assert_int_eq(x->event_us, y->event_us);
		ck_assert_int_eq(x->ingest_us, y->ingest_us);
		ck_assert(streq_null(x->user_id, y->user_id));
		ck_assert(streq_null(x->upn, y->upn));
		ck_assert(streq_null(x->ip, y->ip));
		ck_assert(streq_null(x->location, y->location));
		ck_assert(streq_null(x->app, y->app));
		ck_assert_int_eq(x->result_code, y->result_code);
		ck_assert_int_eq(x->success, y->success);
		ck_assert(streq_null(x->failure_reason, y->failure_reason));
		ck_assert(streq_null(x->correlation_id, y->correlation_id));
		ck_assert(streq_null(x->activity, y->activity));
		ck_assert(streq_null(x->category, y->category));
		ck_assert(streq_null(x->service, y->service));
		ck_assert(streq_null(x->initiator, y->initiator));
		ck_assert(streq_null(x->initiator_id, y->initiator_id));
		ck_assert(streq_null(x->target, y->target));
		ck_assert(streq_null(x->target_ids, y->target_ids));
		ck_assert_str_eq(x->raw, y->raw);
	}
}

/*
 * AADNonInteractiveUserSignInLogs types LocationDetails and Status as
 * string: they arrive as JSON text (API-FACTS.md 2.7). They are read as
 * SigninLogs' dynamic columns are, and the records are the same as from
 * the nested form.
 */
START_TEST(test_noninteractive_page)
{
	static const char *const json_cols[] = {
		"LocationDetails", "Status", NULL
	};
	struct record_list out, nested;
	struct page_info pi, pn;
	struct record *r;
	char text[32], *body, *err = NULL;

	parse_file_signal(SIGNAL_NON_INTERACTIVE,
	    "la-noninteractive-text.json", &out, &pi);
	ck_assert_int_eq(pi.rows, 4);
	ck_assert_int_eq(pi.partial, 0);
	/* The other user's row is the newest: counted, not kept. */
	ck_assert_int_eq(pi.max_ingest_us, testdata_us("2026-11-22T03:59:59.999999Z"));
	ck_assert_int_eq(out.n, 3);

	r = out.v[0];
	ck_assert_int_eq(r->signal, SIGNAL_NON_INTERACTIVE);
	ck_assert_str_eq(r->tenant, "contoso");
	ck_assert_str_eq(r->id, "8d4f2b63-1e5c-4a7f-8b29-4c6d8e0f2a31");
	ck_assert_int_eq(r->event_us, testdata_us("2026-11-22T03:48:15.555Z"));
	ck_assert_int_eq(r->ingest_us, testdata_us("2026-11-22T03:50:01.123456Z"));
	ck_assert_str_eq(r->user_id, BG1);	/* upper case on the wire */
	ck_assert_str_eq(r->upn, "bg1@contoso.onmicrosoft.com");
	ck_assert_str_eq(r->ip, "175.45.176.99");
	ck_assert_str_eq(r->location, "Azor, Tel Aviv, IL");
	ck_assert_str_eq(r->app, "Microsoft Authentication Broker");
	ck_assert_int_eq(r->result_code, 0);
	ck_assert_int_eq(r->success, 1);
	ck_assert_str_null(r->failure_reason);
	ck_assert_str_eq(r->correlation_id,
	    "e5d4c3b2-2b3c-4d5e-6f70-8a9b0c1d2e3f");
	/* The raw row holds the parsed objects, not their text. */
	ck_assert_ptr_nonnull(strstr(r->raw, "\"LocationDetails\":{\"city\":"
	    "\"Azor\",\"state\":\"Tel Aviv\",\"countryOrRegion\":\"IL\","
	    "\"geoCoordinates\":{\"latitude\":32.02,\"longitude\":34.79}}"));
	ck_assert_ptr_nonnull(strstr(r->raw, "\"Status\":{\"errorCode\":0}"));

	/* The failure reason only in Status's JSON text; an empty state. */
	r = out.v[1];
	ck_assert_str_eq(r->user_id, BG2);
	ck_assert_str_eq(r->location, "Seattle, US");
	ck_assert_int_eq(r->result_code, 50126);
	ck_assert_int_eq(r->success, 0);
	ck_assert_str_eq(r->failure_reason, "Invalid username or password or "
	    "Invalid on-premise username or password.");
	ck_assert_str_eq(record_result_text(r, text, sizeof text),
	    "failure:50126");

	/* Text that is not JSON stays text: no location details, no
	 * reason from Status, the row still kept. */
	r = out.v[2];
	ck_assert_str_eq(r->id, "1b7c5e96-4b8f-4da2-be5c-7f90a1b3c5d6");
	ck_assert_str_eq(r->location, "DE");
	ck_assert_int_eq(r->result_code, 50074);
	ck_assert_str_null(r->failure_reason);
	ck_assert_ptr_nonnull(strstr(r->raw, "\"Status\":\"{not json\""));

	/* The same page with nested dynamic columns (SigninLogs' form). */
	body = nested_body("la-noninteractive-text.json", json_cols);
	record_list_init(&nested);
	ck_assert_msg(la_parse_signal(SIGNAL_NON_INTERACTIVE, body,
	    strlen(body), &nested, &pn, &err) == 0, "%s", err);
	ck_assert_int_eq(pn.max_ingest_us, pi.max_ingest_us);
	assert_same_records(&out, &nested);
	free(body);

	record_list_clear(&nested);
	page_info_clear(&pn);
	record_list_clear(&out);
	page_info_clear(&pi);
}
END_TEST

/*
 * AuditLogs rows shaped like the Sentinel Training Lab's
 * AuditLogs_Hunting.csv (API-FACTS.md 7.3): InitiatedBy, TargetResources
 * and AdditionalDetails as JSON text, modifiedProperties with JSON inside
 * strings, Id "Directory_<correlation>_<x>_<n>", and the activity
 * "Update application - Certificates and secrets management " with an en
 * dash where the hyphen is and a trailing space. The five rows of the
 * file, with time columns added (the export has none) and ids changed:
 *   row 0  a break-glass account (upper case) is the initiator
 *   row 1  a break-glass account is the second of two targets
 *   row 2  another user's event, as exported
 *   row 3  a break-glass id only inside a modified property's value
 *   row 4  Graph's shape (user null, app set), a break-glass target,
 *          a failed result
 */
#define HUNTING_ACTIVITY \
	"Update application \xe2\x80\x93 Certificates and secrets management"

START_TEST(test_audit_page)
{
	static const char *const json_cols[] = {
		"InitiatedBy", "TargetResources", "AdditionalDetails", NULL
	};
	struct record_list out, nested;
	struct page_info pi, pn;
	struct record *r;
	char *body, *err = NULL;

	parse_file_signal(SIGNAL_AUDIT, "la-audit-hunting.json", &out, &pi);
	ck_assert_int_eq(pi.rows, 5);
	ck_assert_int_eq(pi.partial, 0);
	ck_assert_int_eq(pi.max_ingest_us, testdata_us("2026-11-22T03:59:59.999999Z"));
	ck_assert_int_eq(out.n, 3);

	/* The initiator. */
	r = out.v[0];
	ck_assert_int_eq(r->signal, SIGNAL_AUDIT);
	ck_assert_str_eq(r->tenant, "contoso");
	ck_assert_str_eq(r->id,
	    "Directory_9cee9603-bca7-4e62-9634-f1bfdc39ca2f_1261B_35670955");
	/* ActivityDateTime, not TimeGenerated. */
	ck_assert_int_eq(r->event_us, testdata_us("2026-11-22T03:48:15.555Z"));
	ck_assert_int_eq(r->ingest_us, testdata_us("2026-11-22T03:50:01.123456Z"));
	ck_assert_str_eq(r->user_id, BG1);
	ck_assert_str_eq(r->upn, "bg1@contoso.onmicrosoft.com");
	ck_assert_str_eq(r->ip, "45.153.160.2");
	/* Trimmed; the raw row keeps what Entra sent. */
	ck_assert_str_eq(r->activity, HUNTING_ACTIVITY);
	ck_assert_ptr_nonnull(strstr(r->raw, "\"ActivityDisplayName\":\""
	    HUNTING_ACTIVITY " \""));
	ck_assert_str_eq(r->category, "ApplicationManagement");
	ck_assert_str_eq(r->service, "Core Directory");
	ck_assert_int_eq(r->success, 1);
	ck_assert_int_eq(r->result_code, 0);
	ck_assert_str_null(r->failure_reason);
	ck_assert_str_eq(r->correlation_id,
	    "9cee9603-bca7-4e62-9634-f1bfdc39ca2f");
	ck_assert_str_eq(r->initiator, "bg1@contoso.onmicrosoft.com");
	ck_assert_str_eq(r->initiator_id, BG1);
	ck_assert_str_eq(r->target, "purview-spn-user099");
	/* JSON-in-a-string values as they came, cut at 200 bytes; a quoted
	 * string unquoted. */
	ck_assert_str_eq(r->modified, "KeyDescription: [\"[KeyIdentifier="
	    "4245f2f5-4052-4c5b-afe8-1d7885d9bb39,KeyType=Password,KeyUsage="
	    "Verify,DisplayName=purview-api]\"] -> [\"[KeyIdentifier="
	    "4245f2f5-4052-4c5b-afe8-1d7885d9bb39,KeyType=Password,KeyUsage="
	    "Verify,DisplayName=purview-api]\",\"[KeyIdentifier=11ca002d-d846-"
	    "4692-8e1f-501db99f485a,KeyType=Password,KeyUsage=Verify,D...; "
	    "Included Updated Properties: (none) -> KeyDescription");
	ck_assert_str_eq(r->target_ids,
	    "020c2630-81fb-5678-9a9c-ce9984a45458");
	ck_assert_ptr_nonnull(strstr(r->raw, "\"InitiatedBy\":{\"user\":{"));
	ck_assert_ptr_nonnull(strstr(r->raw, "\"AdditionalDetails\":[{"
	    "\"value\":\"Mozilla/5.0 "));
	ck_assert_ptr_nonnull(strstr(r->raw, "\"modifiedProperties\":[{"
	    "\"displayName\":\"KeyDescription\",\"oldValue\":\"[\\\"[KeyId"));

	/* The second target: it is the target shown. */
	r = out.v[1];
	ck_assert_str_eq(r->id,
	    "Directory_05cb7360-e689-4ce0-ba41-90aea748f764_40B6F_20567843");
	ck_assert_str_eq(r->user_id, BG2);
	ck_assert_str_eq(r->upn, "bg2@contoso.onmicrosoft.com");
	ck_assert_str_eq(r->ip, "192.168.5.8");
	ck_assert_str_eq(r->initiator,
	    "VadimJ@buildseccxpninja.onmicrosoft.com");
	ck_assert_str_eq(r->initiator_id,
	    "04dc7a40-2617-4044-b6e7-fdd8771b88a2");
	ck_assert_str_eq(r->target, "bg2@contoso.onmicrosoft.com");
	ck_assert_str_eq(r->target_ids,
	    "a05db9f5-91e6-4bba-xxxx-cf38984e89fc " BG2);

	/* An application initiated it; the account is the target. */
	r = out.v[2];
	ck_assert_str_eq(r->id,
	    "Directory_61576753-576a-47ba-8c1c-69047fd50427_UETZH_76356316");
	ck_assert_int_eq(r->event_us, testdata_us("2026-11-22T03:52:10.1Z"));
	ck_assert_str_eq(r->user_id, BG1);
	ck_assert_str_null(r->ip);
	ck_assert_str_eq(r->initiator, "Microsoft Graph");
	ck_assert_str_eq(r->initiator_id,
	    "9d2b4c6e-0f1a-4b3c-8d5e-7f9a1b3c5d7e");
	ck_assert_str_eq(r->target, "bg1@contoso.onmicrosoft.com");
	ck_assert_str_eq(r->target_ids, BG1);
	ck_assert_int_eq(r->success, 0);
	ck_assert_int_eq(r->result_code, -1);
	ck_assert_str_eq(r->failure_reason,
	    "Microsoft.Online.Workflows.ObjectNotFoundException");

	/* Nested on the wire: the same records. */
	body = nested_body("la-audit-hunting.json", json_cols);
	record_list_init(&nested);
	ck_assert_msg(la_parse_signal(SIGNAL_AUDIT, body, strlen(body),
	    &nested, &pn, &err) == 0, "%s", err);
	assert_same_records(&out, &nested);
	free(body);

	record_list_clear(&nested);
	page_info_clear(&pn);
	record_list_clear(&out);
	page_info_clear(&pi);
}
END_TEST

/* The rule engine's matching over parsed audit records: activity,
 * category and service case-insensitive and trimmed, the en dash a
 * character like any other. */
/* Signals polled together: one union query, each leg from its own
 * cursor, JSON columns as text so the legs agree on types, rows tagged. */
START_TEST(test_union_build)
{
	struct source_ctx ctx;
	struct source_req req;
	char *err = NULL, *kql;
	json_t *o;

	memset(&ctx, 0, sizeof ctx);
	ctx.tenant = &tenant;
	ctx.signal = SIGNAL_AUDIT;
	ctx.now_us = testdata_us("2026-11-22T04:00:00Z");
	ctx.together = SIGNAL_BIT(SIGNAL_SIGN_IN) | SIGNAL_BIT(SIGNAL_AUDIT);
	ctx.cursors_us[SIGNAL_SIGN_IN] = testdata_us("2026-11-22T03:50:00Z");
	ctx.cursors_us[SIGNAL_AUDIT] = testdata_us("2026-11-22T03:30:00Z");
	ctx.cursor_us = ctx.cursors_us[SIGNAL_AUDIT];
	ck_assert_msg(source_loganalytics_ops.build(&ctx, &req, &err) == 0,
	    "%s", err);
	o = json_loads(req.body, 0, NULL);
	kql = xstrdup(json_string_value(json_object_get(o, "query")));
	json_decref(o);
	source_req_clear(&req);
	ck_assert_str_eq(kql,
	    "union\n"
	    "(SigninLogs\n"
	    "| where TimeGenerated >= datetime(2026-11-20T04:00:00.000000Z)\n"
	    "| where ingestion_time() > datetime(2026-11-22T03:48:00.000000Z)\n"
	    "| where UserId in~ (\"" BG1 "\", \"" BG2 "\")\n"
	    "| extend GwIngestionTime = ingestion_time()\n"
	    "| extend GwSignal = \"sign_in\", LocationDetails = "
	    "tostring(LocationDetails), Status = tostring(Status), "
	    "DeviceDetail = tostring(DeviceDetail)\n"
	    "| project GwSignal, GwIngestionTime, TimeGenerated, "
	    "CreatedDateTime, Id, UserId, UserPrincipalName, IPAddress, "
	    "Location, LocationDetails, AppDisplayName, ResultType, "
	    "ResultDescription, CorrelationId, Status, ClientAppUsed, "
	    "UserAgent, ConditionalAccessStatus, AuthenticationRequirement\n"
	    "),\n"
	    "(AuditLogs\n"
	    "| where TimeGenerated >= datetime(2026-11-20T04:00:00.000000Z)\n"
	    "| where ingestion_time() > datetime(2026-11-22T03:28:00.000000Z)\n"
	    "| where tostring(InitiatedBy.user.id) in~ (\"" BG1 "\", \""
	    BG2 "\") or TargetResources has_any (\"" BG1 "\", \"" BG2
	    "\")\n"
	    "| extend GwIngestionTime = ingestion_time()\n"
	    "| extend GwSignal = \"audit\", InitiatedBy = "
	    "tostring(InitiatedBy), TargetResources = tostring(TargetResources), "
	    "AdditionalDetails = tostring(AdditionalDetails)\n"
	    "| project GwSignal, GwIngestionTime, TimeGenerated, "
	    "ActivityDateTime, Id, ActivityDisplayName, OperationName, "
	    "Category, LoggedByService, Result, ResultReason, CorrelationId, "
	    "InitiatedBy, TargetResources, AdditionalDetails\n"
	    ")\n"
	    "| order by GwIngestionTime asc");
	free(kql);

	/* A signal outside the build's is refused. */
	ctx.together = SIGNAL_BIT(SIGNAL_COUNT);
	ck_assert_int_eq(source_loganalytics_ops.build(&ctx, &req, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "not supported"));
	free(err);
}
END_TEST

/* A union page: each row read by its own signal's rules, each signal's
 * last ingestion time apart, a row of a signal not asked for skipped. */
START_TEST(test_union_parse)
{
	static const char body[] =
	    "{\"tables\":[{\"name\":\"PrimaryResult\",\"columns\":["
	    "{\"name\":\"GwSignal\",\"type\":\"string\"},"
	    "{\"name\":\"GwIngestionTime\",\"type\":\"datetime\"},"
	    "{\"name\":\"TimeGenerated\",\"type\":\"datetime\"},"
	    "{\"name\":\"CreatedDateTime\",\"type\":\"datetime\"},"
	    "{\"name\":\"Id\",\"type\":\"string\"},"
	    "{\"name\":\"UserId\",\"type\":\"string\"},"
	    "{\"name\":\"UserPrincipalName\",\"type\":\"string\"},"
	    "{\"name\":\"ResultType\",\"type\":\"string\"},"
	    "{\"name\":\"Status\",\"type\":\"string\"},"
	    "{\"name\":\"ActivityDateTime\",\"type\":\"datetime\"},"
	    "{\"name\":\"ActivityDisplayName\",\"type\":\"string\"},"
	    "{\"name\":\"Result\",\"type\":\"string\"},"
	    "{\"name\":\"InitiatedBy\",\"type\":\"string\"},"
	    "{\"name\":\"TargetResources\",\"type\":\"string\"}],"
	    "\"rows\":["
	    "[\"sign_in\",\"2026-11-22T03:55:00Z\",\"2026-11-22T03:54:00Z\","
	    "\"2026-11-22T03:54:00Z\",\"s1\",\"" BG1 "\",\"bg1@x\",\"0\","
	    "\"{\\\"errorCode\\\":0}\",null,null,null,null,null],"
	    "[\"audit\",\"2026-11-22T03:52:00Z\",\"2026-11-22T03:51:00Z\","
	    "null,\"a1\",null,null,null,null,\"2026-11-22T03:51:00Z\","
	    "\"Update user\",\"success\",\"{}\",\"[{\\\"id\\\":\\\""
	    BG2 "\\\",\\\"userPrincipalName\\\":\\\"bg2@x\\\","
	    "\\\"modifiedProperties\\\":[]}]\"],"
	    "[\"non_interactive_sign_in\",\"2026-11-22T03:59:00Z\","
	    "\"2026-11-22T03:58:00Z\",\"2026-11-22T03:58:00Z\",\"n1\",\""
	    BG1 "\",\"bg1@x\",\"0\",null,null,null,null,null,null]"
	    "]}]}";
	struct source_ctx ctx;
	struct record_list out;
	struct page_info pi;
	char *err = NULL;

	memset(&ctx, 0, sizeof ctx);
	ctx.tenant = &tenant;
	ctx.signal = SIGNAL_SIGN_IN;
	ctx.now_us = testdata_us("2026-11-22T04:00:00Z");
	ctx.together = SIGNAL_BIT(SIGNAL_SIGN_IN) | SIGNAL_BIT(SIGNAL_AUDIT);
	record_list_init(&out);
	ck_assert_msg(source_loganalytics_ops.parse(&ctx, body,
	    sizeof body - 1, &out, &pi, &err) == 0, "%s", err);
	ck_assert_uint_eq(pi.rows, 3);
	ck_assert_uint_eq(out.n, 2);
	ck_assert_str_eq(out.v[0]->id, "s1");
	ck_assert_int_eq(out.v[0]->signal, SIGNAL_SIGN_IN);
	ck_assert_int_eq(out.v[0]->success, 1);
	ck_assert_str_eq(out.v[1]->id, "a1");
	ck_assert_int_eq(out.v[1]->signal, SIGNAL_AUDIT);
	ck_assert_str_eq(out.v[1]->user_id, BG2);
	ck_assert_str_eq(out.v[1]->activity, "Update user");
	/* The other leg's columns are not in the raw row. */
	ck_assert_ptr_null(strstr(out.v[1]->raw, "CreatedDateTime"));
	ck_assert_int_eq(pi.signal_max_ingest_us[SIGNAL_SIGN_IN],
	    testdata_us("2026-11-22T03:55:00Z"));
	ck_assert_int_eq(pi.signal_max_ingest_us[SIGNAL_AUDIT],
	    testdata_us("2026-11-22T03:52:00Z"));
	/* The skipped row moves no cursor. */
	ck_assert_int_eq(pi.signal_max_ingest_us[SIGNAL_NON_INTERACTIVE], 0);
	ck_assert_int_eq(pi.max_ingest_us, testdata_us("2026-11-22T03:55:00Z"));
	record_list_clear(&out);
	page_info_clear(&pi);
}
END_TEST

START_TEST(test_audit_rule_matching)
{
	struct rule_config rule;
	struct record_list out;
	struct page_info pi;

	parse_file_signal(SIGNAL_AUDIT, "la-audit-hunting.json", &out, &pi);
	ck_assert_int_eq(out.n, 3);
	memset(&rule, 0, sizeof rule);
	rule.signal = SIGNAL_AUDIT;
	ck_assert_int_eq(rule_matches(&rule, out.v[0]), 1);

	strlist_add(&rule.match.activities, "User registered security info");
	ck_assert_int_eq(rule_matches(&rule, out.v[0]), 0);
	/* A hyphen is not the en dash. */
	strlist_add(&rule.match.activities, "Update application - "
	    "Certificates and secrets management");
	ck_assert_int_eq(rule_matches(&rule, out.v[0]), 0);
	strlist_add(&rule.match.activities, "  UPDATE APPLICATION \xe2\x80\x93 "
	    "certificates and secrets management ");
	ck_assert_int_eq(rule_matches(&rule, out.v[0]), 1);
	strlist_add(&rule.match.categories, "applicationmanagement");
	strlist_add(&rule.match.services, " core directory");
	ck_assert_int_eq(rule_matches(&rule, out.v[0]), 1);
	ck_assert_int_eq(rule_matches(&rule, out.v[1]), 1);

	/* result: the failed one only. */
	rule.match.result = MATCH_FAILURE;
	ck_assert_int_eq(rule_matches(&rule, out.v[0]), 0);
	ck_assert_int_eq(rule_matches(&rule, out.v[2]), 1);
	rule.match.result = MATCH_ANY;

	strlist_clear(&rule.match.services);
	strlist_add(&rule.match.services, "Authentication Methods");
	ck_assert_int_eq(rule_matches(&rule, out.v[0]), 0);

	/* A sign-in rule never takes an audit record. */
	strlist_clear(&rule.match.activities);
	strlist_clear(&rule.match.categories);
	strlist_clear(&rule.match.services);
	rule.signal = SIGNAL_SIGN_IN;
	ck_assert_int_eq(rule_matches(&rule, out.v[0]), 0);

	record_list_clear(&out);
	page_info_clear(&pi);
}
END_TEST

static Suite *
loganalytics_suite(void)
{
	Suite *s = suite_create("loganalytics");
	TCase *tc;

	tc = tcase_create("build");
	tcase_add_checked_fixture(tc, tenant_setup, NULL);
	tcase_add_test(tc, test_ops);
	tcase_add_test(tc, test_build_exact);
	tcase_add_test(tc, test_build_clamp);
	tcase_add_test(tc, test_build_accounts);
	tcase_add_test(tc, test_build_rejects);
	tcase_add_test(tc, test_build_endpoint_slash);
	tcase_add_test(tc, test_build_signals);
	suite_add_tcase(s, tc);

	tc = tcase_create("table");
	tcase_add_checked_fixture(tc, tenant_setup, NULL);
	tcase_add_test(tc, test_spec_example);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_wrong_row_length_message);
	tcase_add_test(tc, test_bad_cells_read_as_null);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_scalars);
	tcase_add_test(tc, test_duplicate_keys_and_nul);
	tcase_add_test(tc, test_empty_body);
	suite_add_tcase(s, tc);

	tc = tcase_create("records");
	tcase_add_checked_fixture(tc, tenant_setup, NULL);
	tcase_add_test(tc, test_signin_page);
	tcase_add_test(tc, test_dynamic_text_equals_nested);
	tcase_add_test(tc, test_partial_error);
	tcase_add_test(tc, test_location);
	tcase_add_test(tc, test_result);
	tcase_add_test(tc, test_rows_dropped_and_kept);
	tcase_add_test(tc, test_parse_unsupported_signal);
	tcase_add_test(tc, test_noninteractive_page);
	tcase_add_test(tc, test_audit_page);
	tcase_add_test(tc, test_audit_rule_matching);
	tcase_add_test(tc, test_union_build);
	tcase_add_test(tc, test_union_parse);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(loganalytics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
