/* Pollers: the request budget a configuration asks of Log Analytics. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "poller.h"

static char dir[] = "/tmp/check-poller-XXXXXX";

static struct config *
load(const char *text)
{
	struct config_errors errs = { NULL, 0 };
	struct config *c;
	char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/secret", dir);
	f = fopen(path, "w");
	fputs("s\n", f);
	fclose(f);
	chmod(path, 0600);
	snprintf(path, sizeof path, "%s/g.yaml", dir);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	c = config_load(path, &errs);
	ck_assert_msg(c != NULL, "%s", errs.n ? errs.v[0] : "");
	config_errors_clear(&errs);
	return c;
}

#define TENANT(name)	"  - name: " name "\n" TENANT_BODY
#define TENANT_BODY							\
	"    tenant_id: 00000000-0000-0000-0000-000000000000\n"		\
	"    credentials: { client_id: 11111111-1111-1111-1111-111111111111,"\
	" client_secret_file: \"${CREDENTIALS_DIRECTORY}/secret\" }\n"	\
	"    log_analytics: { workspace_id: "				\
	"22222222-2222-2222-2222-222222222222 }\n"			\
	"    break_glass: [{ object_id: "				\
	"33333333-3333-3333-3333-333333333333 }]\n"
#define NOTIFIER							\
	"notifiers:\n"							\
	"  - { name: mail, type: email, url: \"smtp://127.0.0.1:25\", "	\
	"tls: none, from: a@example.org, to: [b@example.org] }\n"

START_TEST(one_poller_per_tenant_and_signal_at_the_shortest_frequency)
{
	struct config *c = load("tenants:\n" TENANT("a") TENANT("b")
	    "rules:\n"
	    "  - { name: fast, threshold: { operator: gt, value: 0 }, "
	    "frequency: 1s, actions: [mail] }\n"
	    "  - { name: slow, threshold: { operator: gt, value: 0 }, "
	    "frequency: 1m, actions: [mail] }\n"
	    "  - { name: off, threshold: { operator: gt, value: 0 }, "
	    "frequency: 1s, enabled: false, actions: [mail] }\n"
	    "  - { name: only-a, tenants: [a], threshold: { operator: gt, "
	    "value: 0 }, period: 1h, frequency: 30s, actions: [mail] }\n"
	    NOTIFIER);

	/* (a, sign_in) and (b, sign_in), each every second: 60. */
	ck_assert(pollers_la_requests_per_30s(c) > 59.9 &&
	    pollers_la_requests_per_30s(c) < 60.1);
	config_free(c);
}
END_TEST

START_TEST(over_budget_is_visible)
{
	char text[8192] = "tenants:\n";
	struct config *c;

	for (int i = 0; i < 8; i++) {
		char name[8];

		snprintf(name, sizeof name, "t%d", i);
		strcat(text, "  - name: ");
		strcat(text, name);
		strcat(text, "\n" TENANT_BODY);
	}
	strcat(text, "rules:\n"
	    "  - { name: fast, threshold: { operator: gt, value: 0 }, "
	    "frequency: 1s, actions: [mail] }\n" NOTIFIER);
	c = load(text);
	/* 8 tenants every second: 240 > 200, the daemon will stretch. */
	ck_assert(pollers_la_requests_per_30s(c) > LA_REQUESTS_PER_30S);
	config_free(c);
}
END_TEST

/* Graph per tenant: one request per (tenant, signal) poller at its
 * rules' shortest frequency; Log Analytics rules do not count. */
START_TEST(graph_requests_per_tenant)
{
	struct config *c = load("tenants:\n"
	    TENANT("a") "    graph: {}\n"
	    TENANT("b") "    graph: { lookback: 1h }\n"
	    "rules:\n"
	    "  - { name: g1, source: graph, threshold: { operator: gt, "
	    "value: 0 }, frequency: 1s, actions: [mail] }\n"
	    "  - { name: g2, source: graph, signal: audit, tenants: [a], "
	    "threshold: { operator: gt, value: 0 }, frequency: 5s, "
	    "actions: [mail] }\n"
	    "  - { name: g3, source: graph, signal: audit, tenants: [a], "
	    "threshold: { operator: gt, value: 0 }, frequency: 2s, "
	    "actions: [mail] }\n"
	    "  - { name: la, threshold: { operator: gt, value: 0 }, "
	    "frequency: 1s, actions: [mail] }\n"
	    NOTIFIER);
	double a = pollers_graph_requests_per_10s(c, &c->tenants[0]);
	double b = pollers_graph_requests_per_10s(c, &c->tenants[1]);

	/* a: sign_in every 1 s (10) + audit every 2 s (5); b: 10. */
	ck_assert_msg(a > 14.9 && a < 15.1, "a: %f", a);
	ck_assert_msg(b > 9.9 && b < 10.1, "b: %f", b);
	ck_assert(a > GRAPH_REQUESTS_PER_10S);
	config_free(c);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("poller");
	TCase *tc = tcase_create("budget");
	SRunner *sr;
	int failed;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	tcase_add_test(tc, one_poller_per_tenant_and_signal_at_the_shortest_frequency);
	tcase_add_test(tc, over_budget_is_visible);
	tcase_add_test(tc, graph_requests_per_tenant);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	{
		char cmd[128];

		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			failed++;
	}
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
