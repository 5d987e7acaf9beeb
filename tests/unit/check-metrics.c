/* The metric registry, its text exposition (format 0.0.4), the events the
 * daemon counts, and the `metrics:` configuration block. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "buf.h"
#include "cfgtest.h"
#include "metrics.h"
#include "metrics-http.h"
#include "record.h"
#include "source.h"
#include "store.h"
#include "sysalert.h"
#include "timeutil.h"
#include "xmalloc.h"

static char *
render(struct metrics *m)
{
	struct buf b;

	buf_init(&b);
	metrics_render(m, &b);
	return buf_steal(&b);
}

static void
expect_line(const char *text, const char *line)
{
	char *want = xasprintf("\n%s\n", line);
	char *hay = xasprintf("\n%s", text);

	ck_assert_msg(strstr(hay, want) != NULL, "no line '%s' in:\n%s", line,
	    text);
	free(want);
	free(hay);
}

START_TEST(counter_and_gauge)
{
	static const char *const labels[] = { "tenant", "source", NULL };
	struct metrics *m = metrics_new();
	struct metric_family *c, *g;
	const char *a[] = { "contoso", "log_analytics" };
	const char *b[] = { "fabrikam", "graph" };
	char *text;

	c = metrics_family(m, METRIC_COUNTER, "t_polls_total", "Polls.",
	    labels, NULL, 0);
	g = metrics_family(m, METRIC_GAUGE, "t_last_seconds", "Last.", NULL,
	    NULL, 0);
	ck_assert_ptr_eq(metrics_family(m, METRIC_COUNTER, "t_polls_total",
	    "again", labels, NULL, 0), c);
	metrics_add(c, a, 1);
	metrics_add(c, a, 2);
	metrics_add(c, b, 1);
	metrics_set(g, NULL, 1765055000.25);
	metrics_set(g, NULL, 1765055001.5);
	ck_assert(metrics_value(c, a) == 3);
	ck_assert(metrics_value(c, b) == 1);
	text = render(m);
	ck_assert_str_eq(text,
	    "# HELP t_polls_total Polls.\n"
	    "# TYPE t_polls_total counter\n"
	    "t_polls_total{tenant=\"contoso\",source=\"log_analytics\"} 3\n"
	    "t_polls_total{tenant=\"fabrikam\",source=\"graph\"} 1\n"
	    "# HELP t_last_seconds Last.\n"
	    "# TYPE t_last_seconds gauge\n"
	    "t_last_seconds 1765055001.5\n");
	free(text);
	metrics_clear(g);
	text = render(m);
	ck_assert_ptr_null(strstr(text, "t_last_seconds 1"));
	expect_line(text, "# TYPE t_last_seconds gauge");
	free(text);
	metrics_free(m);
}
END_TEST

/* Backslash, double quote and newline are escaped in label values; HELP
 * escapes backslash and newline only. */
START_TEST(escaping)
{
	static const char *const labels[] = { "rule", NULL };
	struct metrics *m = metrics_new();
	struct metric_family *c;
	const char *v[] = { "a\\b \"q\"\nnext" };
	char *text;

	c = metrics_family(m, METRIC_COUNTER, "t_total",
	    "Help with \\ and \"quotes\"\nand a second line.", labels, NULL,
	    0);
	metrics_add(c, v, 1);
	text = render(m);
	expect_line(text, "# HELP t_total Help with \\\\ and \"quotes\"\\nand "
	    "a second line.");
	expect_line(text, "t_total{rule=\"a\\\\b \\\"q\\\"\\nnext\"} 1");
	free(text);
	metrics_free(m);
}
END_TEST

/* Buckets are cumulative, le bounds include the equal value, +Inf holds
 * everything, _sum and _count follow. */
START_TEST(histogram_buckets)
{
	static const double bounds[] = { 1, 5, 60 };
	static const char *const labels[] = { "notifier", NULL };
	struct metrics *m = metrics_new();
	struct metric_family *h;
	const char *v[] = { "soc-mail" };
	char *text;

	h = metrics_family(m, METRIC_HISTOGRAM, "t_latency_seconds",
	    "Latency.", labels, bounds, 3);
	metrics_observe(h, v, 0.5);
	metrics_observe(h, v, 1);	/* le="1" */
	metrics_observe(h, v, 3);
	metrics_observe(h, v, 61);
	metrics_observe(h, v, 7200);
	ck_assert(metrics_value(h, v) == 5);
	text = render(m);
	ck_assert_str_eq(text,
	    "# HELP t_latency_seconds Latency.\n"
	    "# TYPE t_latency_seconds histogram\n"
	    "t_latency_seconds_bucket{notifier=\"soc-mail\",le=\"1\"} 2\n"
	    "t_latency_seconds_bucket{notifier=\"soc-mail\",le=\"5\"} 3\n"
	    "t_latency_seconds_bucket{notifier=\"soc-mail\",le=\"60\"} 3\n"
	    "t_latency_seconds_bucket{notifier=\"soc-mail\",le=\"+Inf\"} 5\n"
	    "t_latency_seconds_sum{notifier=\"soc-mail\"} 7265.5\n"
	    "t_latency_seconds_count{notifier=\"soc-mail\"} 5\n");
	free(text);
	metrics_free(m);
}
END_TEST

/* The process registry: every family listed before anything happened,
 * then the events the modules report. */
START_TEST(process_events)
{
	struct metrics *m = metrics_process();
	struct alert *a = alert_new(ALERT_EVENT), *sys;
	struct record *r = xcalloc(1, sizeof *r);
	int64_t now = 1765055000 * USEC_PER_SEC;
	char *text;

	text = render(m);
	expect_line(text, "# TYPE glasswatch_polls_total counter");
	expect_line(text, "# TYPE glasswatch_detection_latency_seconds "
	    "histogram");
	expect_line(text, "# TYPE glasswatch_deliveries_pending gauge");
	expect_line(text, "glasswatch_build_info{version=\"" GLASSWATCH_VERSION
	    "\"} 1");
	free(text);

	metrics_poll("contoso", "log_analytics", SIGNAL_BIT(SIGNAL_SIGN_IN) |
	    SIGNAL_BIT(SIGNAL_AUDIT), 1, now);
	metrics_poll("contoso", "log_analytics", SIGNAL_BIT(SIGNAL_SIGN_IN), 0,
	    now + USEC_PER_SEC);
	metrics_records_seen("contoso", "log_analytics", "sign_in", 2);
	a->rule = xstrdup("break-glass-sign-in");
	a->severity = 0;
	r->event_us = now - 90 * USEC_PER_SEC;
	alert_add_record(a, r);
	metrics_alert(a);
	metrics_delivery("soc-mail", DELIVERY_DELIVERED, a, now);
	metrics_delivery("soc-mail", DELIVERY_PENDING, a, now);
	metrics_delivery("soc-mail", DELIVERY_EXPIRED, NULL, now);
	sys = sysalert_new(1, SYSALERT_BLIND, "monitoring blind: "
	    "contoso/log_analytics/sign_in", NULL, "contoso", NULL);
	metrics_alert(sys);
	metrics_token("contoso", "https://api.loganalytics.io/.default", 1);
	metrics_token("contoso", "https://api.loganalytics.io/.default", 0);

	text = render(m);
	expect_line(text, "glasswatch_polls_total{tenant=\"contoso\","
	    "source=\"log_analytics\",signal=\"sign_in\"} 2");
	expect_line(text, "glasswatch_polls_total{tenant=\"contoso\","
	    "source=\"log_analytics\",signal=\"audit\"} 1");
	expect_line(text, "glasswatch_poll_failures_total{tenant=\"contoso\","
	    "source=\"log_analytics\",signal=\"sign_in\"} 1");
	expect_line(text, "glasswatch_last_successful_poll_timestamp_seconds{"
	    "tenant=\"contoso\",source=\"log_analytics\",signal=\"sign_in\"} "
	    "1765055000");
	expect_line(text, "glasswatch_records_seen_total{tenant=\"contoso\","
	    "source=\"log_analytics\",signal=\"sign_in\"} 2");
	expect_line(text, "glasswatch_alerts_total{rule=\"break-glass-sign-in\","
	    "kind=\"event\",severity=\"0\"} 1");
	expect_line(text, "glasswatch_system_alerts_total{kind=\"blind\","
	    "severity=\"1\"} 1");
	expect_line(text, "glasswatch_deliveries_total{notifier=\"soc-mail\","
	    "state=\"delivered\"} 1");
	expect_line(text, "glasswatch_deliveries_total{notifier=\"soc-mail\","
	    "state=\"expired\"} 1");
	expect_line(text, "glasswatch_delivery_retries_total{notifier="
	    "\"soc-mail\"} 1");
	expect_line(text, "glasswatch_detection_latency_seconds_bucket{"
	    "notifier=\"soc-mail\",le=\"60\"} 0");
	expect_line(text, "glasswatch_detection_latency_seconds_bucket{"
	    "notifier=\"soc-mail\",le=\"120\"} 1");
	expect_line(text, "glasswatch_detection_latency_seconds_sum{"
	    "notifier=\"soc-mail\"} 90");
	expect_line(text, "glasswatch_token_refreshes_total{tenant=\"contoso\","
	    "scope=\"https://api.loganalytics.io/.default\"} 2");
	expect_line(text, "glasswatch_token_refresh_failures_total{tenant="
	    "\"contoso\",scope=\"https://api.loganalytics.io/.default\"} 1");
	free(text);
	alert_free(a);
	alert_free(sys);
	metrics_process_free();
}
END_TEST

START_TEST(system_kinds)
{
	struct alert *a = sysalert_new(3, SYSALERT_RESTORED, "monitoring "
	    "restored: contoso/graph/audit", NULL, "contoso", NULL), *old;
	char *text;

	/* A stored alert read back has no topic: counted as "other". */
	old = alert_new(ALERT_SYSTEM);
	old->severity = 1;
	metrics_alert(a);
	metrics_alert(old);
	text = render(metrics_process());
	expect_line(text, "glasswatch_system_alerts_total{kind=\"restored\","
	    "severity=\"3\"} 1");
	expect_line(text, "glasswatch_system_alerts_total{kind=\"other\","
	    "severity=\"1\"} 1");
	free(text);
	alert_free(a);
	alert_free(old);
	metrics_process_free();
}
END_TEST

START_TEST(listen_parse)
{
	char host[64], why[256];
	int port;

	ck_assert_int_eq(metrics_listen_parse("127.0.0.1:9465", host,
	    sizeof host, &port, why, sizeof why), 0);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_int_eq(port, 9465);
	ck_assert_int_eq(metrics_listen_parse("[::1]:65535", host,
	    sizeof host, &port, why, sizeof why), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_int_eq(port, 65535);
	ck_assert_int_eq(metrics_listen_parse("::1:9465", host, sizeof host,
	    &port, why, sizeof why), -1);
	ck_assert_ptr_nonnull(strstr(why, "brackets"));
	ck_assert_int_eq(metrics_listen_parse("127.0.0.1:0", host,
	    sizeof host, &port, why, sizeof why), -1);
	ck_assert_int_eq(metrics_listen_parse("127.0.0.1:65536", host,
	    sizeof host, &port, why, sizeof why), -1);
	ck_assert_int_eq(metrics_listen_parse("127.0.0.1:+80", host,
	    sizeof host, &port, why, sizeof why), -1);
	ck_assert_int_eq(metrics_listen_parse("localhost:9465", host,
	    sizeof host, &port, why, sizeof why), -1);
	ck_assert_int_eq(metrics_listen_parse("[127.0.0.1]:9465", host,
	    sizeof host, &port, why, sizeof why), -1);
	ck_assert_int_eq(metrics_listen_parse(":9465", host, sizeof host,
	    &port, why, sizeof why), -1);
	ck_assert_int_eq(metrics_listen_parse("[::1]9465", host, sizeof host,
	    &port, why, sizeof why), -1);
}
END_TEST

#define RULE_AND_NOTIFIER	CFGTEST_RULE CFGTEST_NOTIFIER

START_TEST(config_off_when_absent)
{
	struct config *c = load_yaml(CFGTEST_TENANT RULE_AND_NOTIFIER);

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(c->metrics.listen);
	ck_assert_int_eq(c->metrics.allow_remote, 0);
	config_free(c);
}
END_TEST

START_TEST(config_loopback)
{
	struct config *c = load_yaml("metrics: { listen: \"[::1]:9465\" }\n"
	    CFGTEST_TENANT RULE_AND_NOTIFIER);

	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->metrics.listen, "[::1]:9465");
	config_free(c);
}
END_TEST

START_TEST(config_remote_needs_opt_in)
{
	struct config *c;

	ck_assert_ptr_null(load_yaml("metrics:\n"
	    "  listen: 0.0.0.0:9465\n" CFGTEST_TENANT RULE_AND_NOTIFIER));
	expect_error(2, 11, "metrics: listen: 0.0.0.0:9465 is not a loopback "
	    "address; the metrics name tenants, rules and notifiers, so "
	    "listening beyond this host needs allow_remote: true");
	c = load_yaml("metrics:\n  listen: 0.0.0.0:9465\n"
	    "  allow_remote: true\n" CFGTEST_TENANT RULE_AND_NOTIFIER);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(c->metrics.allow_remote, 1);
	config_free(c);
}
END_TEST

START_TEST(config_bad_listen)
{
	ck_assert_ptr_null(load_yaml("metrics:\n"
	    "  listen: 127.0.0.1:99999\n" CFGTEST_TENANT RULE_AND_NOTIFIER));
	expect_error(2, 11, "metrics: listen: '127.0.0.1:99999': the port "
	    "must be a number from 1 to 65535");
	ck_assert_ptr_null(load_yaml("metrics:\n"
	    "  allow_remote: true\n" CFGTEST_TENANT RULE_AND_NOTIFIER));
	expect_error(2, 3, "missing key 'listen'");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("render");
	TCase *tcc = tcase_create("config");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, counter_and_gauge);
	tcase_add_test(tc, escaping);
	tcase_add_test(tc, histogram_buckets);
	tcase_add_test(tc, process_events);
	tcase_add_test(tc, system_kinds);
	tcase_add_test(tc, listen_parse);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tcc, cfgtest_setup, cfgtest_teardown);
	tcase_add_test(tcc, config_off_when_absent);
	tcase_add_test(tcc, config_loopback);
	tcase_add_test(tcc, config_remote_needs_opt_in);
	tcase_add_test(tcc, config_bad_listen);
	suite_add_tcase(s, tcc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
