/* The inputs of --replay (replay-input.c): which format a saved file is,
 * and the records the daemon's parsers make of it. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "record.h"
#include "replay-input.h"
#include "testdata.h"
#include "timeutil.h"

#define BG1	"33333333-3333-4333-8333-333333333333"
#define BG2	"44444444-4444-4444-8444-444444444444"
#define VICTIM	"34070915-82ff-492a-801f-e90484e79248"
#define NOW	INT64_C(1800000000000000)

static struct account		accounts[3];
static struct tenant_config	tenant;

static void
tenant_setup(void)
{
	memset(accounts, 0, sizeof accounts);
	testdata_tenant(&tenant, accounts, BG1, BG2);
	accounts[2].object_id = VICTIM;
	accounts[2].upn = "victim@buildseccxpninja.onmicrosoft.com";
	tenant.endpoints.graph = "https://graph.example";
	tenant.nbreak_glass = 3;
	log_init(LOG_CRIT, LOG_FORMAT_TEXT);
}

/* Opens the text (a fixture when it names one), expects fmt and rows, and
 * returns the tenant's records. */
static void
load(const char *text, size_t len, enum replay_format fmt, size_t rows,
    struct record_list *out)
{
	struct replay_input *in;
	char *err = NULL;

	ck_assert_msg(replay_input_open(text, len, &in, &err) == 0, "%s",
	    err);
	ck_assert_int_eq(replay_input_format(in), fmt);
	ck_assert_uint_eq(replay_input_rows(in), rows);
	record_list_init(out);
	ck_assert_msg(replay_input_records(in, &tenant, NOW, out, &err) == 0,
	    "%s", err);
	replay_input_free(in);
}

static void
load_file(const char *dir, const char *name, enum replay_format fmt,
    size_t rows, struct record_list *out)
{
	size_t len;
	char *data = testdata_slurp(dir, name, &len);

	load(data, len, fmt, rows, out);
	free(data);
}

static void
refused(const char *text, const char *why)
{
	struct replay_input *in = NULL;
	char *err = NULL;

	ck_assert_int_eq(replay_input_open(text, strlen(text), &in, &err), -1);
	ck_assert_ptr_null(in);
	ck_assert_msg(err != NULL && strstr(err, why) != NULL,
	    "'%s' lacks '%s'", err != NULL ? err : "(null)", why);
	free(err);
}

#define INTEGRATION_DATA	GW_SOURCE_ROOT "/tests/integration/data"

START_TEST(test_graph_page)
{
	struct record_list l;

	/* Its @odata.nextLink names another host: a saved page is read, the
	 * link is not followed nor refused. */
	load_file(INTEGRATION_DATA, "replay-graph.json", REPLAY_GRAPH, 4, &l);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_int_eq(l.v[0]->signal, SIGNAL_SIGN_IN);
	ck_assert_str_eq(l.v[0]->tenant, "contoso");
	ck_assert_str_eq(l.v[0]->id, "a1000000-0000-4000-8000-000000000001");
	ck_assert_str_eq(l.v[0]->location, "Redmond, Washington, US");
	ck_assert_int_eq(l.v[0]->event_us, testdata_us("2026-11-20T10:00:00Z"));
	ck_assert_str_eq(l.v[2]->user_id, BG2);
	ck_assert_int_eq(l.v[2]->result_code, 50126);
	record_list_clear(&l);
}
END_TEST

START_TEST(test_graph_signals_by_shape)
{
	static const char page[] = "{\"value\": ["
	    "{\"id\": \"s1\", \"createdDateTime\": \"2026-11-20T10:00:00Z\","
	    " \"userId\": \"" BG1 "\", \"isInteractive\": false,"
	    " \"status\": {\"errorCode\": 0}},"
	    "{\"id\": \"s2\", \"createdDateTime\": \"2026-11-20T10:00:01Z\","
	    " \"userId\": \"" BG2 "\", \"status\": {\"errorCode\": 0}},"
	    "{\"id\": \"d1\", \"activityDateTime\": \"2026-11-20T10:00:02Z\","
	    " \"activityDisplayName\": \"Reset user password\","
	    " \"initiatedBy\": {\"user\": {\"id\": \"" BG1 "\"}},"
	    " \"targetResources\": []}]}";
	struct record_list l;
	int seen[SIGNAL_COUNT] = { 0 };

	load(page, sizeof page - 1, REPLAY_GRAPH, 3, &l);
	ck_assert_uint_eq(l.n, 3);
	for (size_t i = 0; i < l.n; i++)
		seen[l.v[i]->signal]++;
	ck_assert_int_eq(seen[SIGNAL_SIGN_IN], 1);
	ck_assert_int_eq(seen[SIGNAL_NON_INTERACTIVE], 1);
	ck_assert_int_eq(seen[SIGNAL_AUDIT], 1);
	record_list_clear(&l);
}
END_TEST

/* Microsoft's example pages: read, and nobody of ours in them. */
START_TEST(test_graph_examples)
{
	struct record_list l;

	load_file(GW_TEST_DATA, "graph-directoryaudit-list-response-1.json",
	    REPLAY_GRAPH, 1, &l);
	ck_assert_uint_eq(l.n, 0);
	record_list_clear(&l);
	load_file(GW_TEST_DATA, "graph-signin-list-beta-response-1.json",
	    REPLAY_GRAPH, 1, &l);
	ck_assert_uint_eq(l.n, 0);
	record_list_clear(&l);
}
END_TEST

START_TEST(test_log_analytics_query)
{
	struct record_list l;

	/* A query of SigninLogs (Type column, no GwIngestionTime): one
	 * LocationDetails cell as JSON text, one as an object. */
	load_file(INTEGRATION_DATA, "replay-la.json", REPLAY_LOG_ANALYTICS, 3,
	    &l);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_int_eq(l.v[0]->result_code, 50074);
	ck_assert_int_eq(l.v[0]->success, 0);
	ck_assert_int_eq(l.v[1]->result_code, 0);
	ck_assert_int_eq(l.v[1]->event_us, testdata_us("2026-11-22T12:00:20.5Z"));
	ck_assert_int_eq(l.v[1]->ingest_us, 0);
	ck_assert_str_eq(l.v[0]->location, "Amsterdam, Noord-Holland, NL");
	ck_assert_str_eq(l.v[1]->location, "Amsterdam, Noord-Holland, NL");
	record_list_clear(&l);
}
END_TEST

/* The daemon's own union response: GwSignal says each row's table. */
START_TEST(test_log_analytics_union)
{
	static const char body[] = "{\"tables\": [{\"name\": \"PrimaryResult\","
	    "\"columns\": [{\"name\": \"GwSignal\", \"type\": \"string\"},"
	    "{\"name\": \"GwIngestionTime\", \"type\": \"datetime\"},"
	    "{\"name\": \"TimeGenerated\", \"type\": \"datetime\"},"
	    "{\"name\": \"Id\", \"type\": \"string\"},"
	    "{\"name\": \"UserId\", \"type\": \"string\"},"
	    "{\"name\": \"ResultType\", \"type\": \"string\"}],"
	    "\"rows\": ["
	    "[\"sign_in\", \"2026-11-22T12:01:00Z\", \"2026-11-22T12:00:00Z\","
	    " \"r1\", \"" BG1 "\", \"0\"],"
	    "[\"non_interactive_sign_in\", \"2026-11-22T12:01:00Z\","
	    " \"2026-11-22T12:00:01Z\", \"r2\", \"" BG2 "\", \"0\"],"
	    "[\"bogus\", null, null, \"r3\", \"" BG2 "\", \"0\"]]}]}";
	struct record_list l;

	load(body, sizeof body - 1, REPLAY_LOG_ANALYTICS, 3, &l);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_int_eq(l.v[0]->signal, SIGNAL_SIGN_IN);
	ck_assert_int_eq(l.v[0]->ingest_us, testdata_us("2026-11-22T12:01:00Z"));
	ck_assert_int_eq(l.v[1]->signal, SIGNAL_NON_INTERACTIVE);
	record_list_clear(&l);
}
END_TEST

/* Rows of a table the daemon does not read (by their Type) are left out,
 * as in Microsoft's example of a Usage query. */
START_TEST(test_log_analytics_other_table)
{
	static const char body[] = "{\"tables\": [{\"name\": \"PrimaryResult\","
	    "\"columns\": [{\"name\": \"TimeGenerated\", \"type\": "
	    "\"datetime\"}, {\"name\": \"Id\", \"type\": \"string\"},"
	    "{\"name\": \"UserId\", \"type\": \"string\"},"
	    "{\"name\": \"Type\", \"type\": \"string\"}],"
	    "\"rows\": [[\"2017-08-24T06:59:59Z\", \"u1\", \"" BG1 "\", "
	    "\"Usage\"], [\"2017-08-24T06:59:59Z\", \"u2\", \"" BG1 "\", "
	    "\"SigninLogs\"]]}]}";
	struct record_list l;

	load(body, sizeof body - 1, REPLAY_LOG_ANALYTICS, 2, &l);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_str_eq(l.v[0]->id, "u2");
	record_list_clear(&l);
}
END_TEST

START_TEST(test_csv_portal_signins)
{
	struct record_list l;

	load_file(INTEGRATION_DATA, "replay-portal-signins.csv",
	    REPLAY_CSV_PORTAL_SIGNINS, 3, &l);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_int_eq(l.v[0]->signal, SIGNAL_SIGN_IN);
	ck_assert_str_eq(l.v[0]->id, "d3000000-0000-4000-8000-000000000001");
	ck_assert_str_eq(l.v[0]->upn, "bg2@contoso.onmicrosoft.com");
	ck_assert_str_eq(l.v[0]->ip, "203.0.113.77");
	ck_assert_str_eq(l.v[0]->location, "Seattle, Washington, US");
	ck_assert_str_eq(l.v[0]->app, "Azure Portal");
	ck_assert_int_eq(l.v[0]->result_code, 50126);
	ck_assert_str_eq(l.v[0]->failure_reason, "Error validating "
	    "credentials due to invalid username or password.\n"
	    "The account is locked.");
	ck_assert_str_eq(l.v[0]->correlation_id,
	    "c3000000-0000-4000-8000-000000000001");
	ck_assert_int_eq(l.v[0]->event_us, testdata_us("2026-11-21T08:00:00Z"));
	/* The portal leaves a success's code empty: Status says success. */
	ck_assert_int_eq(l.v[1]->result_code, 0);
	ck_assert_int_eq(l.v[1]->success, 1);
	record_list_clear(&l);
}
END_TEST

/* Microsoft's exported AuditLogs rows carry no TimeGenerated: the record
 * is kept with the stand-in time, as in a poll. */
START_TEST(test_csv_sentinel_auditlogs)
{
	struct record_list l;

	load_file(GW_TEST_DATA, "sentinel-auditlogs-hunting.csv",
	    REPLAY_CSV_LOG_ANALYTICS, 5, &l);
	ck_assert_uint_ge(l.n, 1);
	ck_assert_int_eq(l.v[0]->signal, SIGNAL_AUDIT);
	ck_assert_str_eq(l.v[0]->activity, "Update application "
	    "\xe2\x80\x93 Certificates and secrets management");
	ck_assert_str_eq(l.v[0]->initiator_id, VICTIM);
	ck_assert_int_eq(l.v[0]->event_us, NOW);
	record_list_clear(&l);
}
END_TEST

START_TEST(test_refused)
{
	refused("", "empty");
	refused("  \r\n", "empty");
	refused("{\"value\": 3}", "value: not an array");
	refused("{\"value\": [{\"id\": \"x\"}]}", "value[0]: neither");
	refused("{\"tables\": [{\"name\": \"PrimaryResult\"}]}",
	    "no table with columns and rows");
	refused("{\"tables\": [{\"columns\": [{\"name\": \"A\", \"type\": "
	    "\"string\"}], \"rows\": [[\"x\"]]}]}", "neither of sign-ins");
	refused("{\"error\": {\"code\": \"BadArgumentError\"}}",
	    "service error");
	refused("{\"other\": 1}", "neither a Graph page");
	refused("{\"value\": [", "invalid JSON at line 1");
	refused("name,age\nx,1\n", "neither an Entra portal sign-in export");
	refused("UserId,Id\n\"x,1\n", "never closed");
}
END_TEST

static Suite *
replay_suite(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = tcase_create("input");

	tcase_add_checked_fixture(tc, tenant_setup, NULL);
	tcase_add_test(tc, test_graph_page);
	tcase_add_test(tc, test_graph_signals_by_shape);
	tcase_add_test(tc, test_graph_examples);
	tcase_add_test(tc, test_log_analytics_query);
	tcase_add_test(tc, test_log_analytics_union);
	tcase_add_test(tc, test_log_analytics_other_table);
	tcase_add_test(tc, test_csv_portal_signins);
	tcase_add_test(tc, test_csv_sentinel_auditlogs);
	tcase_add_test(tc, test_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(replay_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
