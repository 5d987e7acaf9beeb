/* glasswatchd: options and modes (DESIGN.md "Command line contract"). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <sqlite3.h>
#include <yaml.h>

#include "config.h"
#include "daemon.h"
#include "duration.h"
#include "log.h"
#include "poller.h"

#define DEFAULT_CONFIG	"/etc/glasswatch/glasswatch.yaml"

enum { OPT_CHECK = 256, OPT_ONCE, OPT_VERSION, OPT_TEST_NOTIFY, OPT_STATUS,
	OPT_HISTORY, OPT_SINCE, OPT_REPLAY, OPT_TENANT, OPT_POSTURE, OPT_DRILL,
	OPT_WINDOW, OPT_REASON };

/* --history without --since: the last 7 days. */
#define HISTORY_SINCE_DEFAULT	(7 * 86400)

static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "test-notify", required_argument, NULL, OPT_TEST_NOTIFY },
	{ "status", no_argument, NULL, OPT_STATUS },
	{ "history", no_argument, NULL, OPT_HISTORY },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "replay", required_argument, NULL, OPT_REPLAY },
	{ "tenant", required_argument, NULL, OPT_TENANT },
	{ "posture", no_argument, NULL, OPT_POSTURE },
	{ "drill", required_argument, NULL, OPT_DRILL },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "reason", required_argument, NULL, OPT_REASON },
	{ "debug", no_argument, NULL, 'd' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: glasswatchd [-d] [-c FILE]            run the daemon\n"
	    "       glasswatchd [-c FILE] --check         validate the "
	    "configuration and secrets\n"
	    "       glasswatchd [-d] [-c FILE] --once     poll once, alert, "
	    "deliver, exit\n"
	    "       glasswatchd [-d] [-c FILE] --test-notify NAME\n"
	    "                                             send a test alert "
	    "through one notifier\n"
	    "       glasswatchd [-c FILE] --status        pollers, cursors and "
	    "deliveries from the\n"
	    "                                             state store (works "
	    "while the daemon runs)\n"
	    "       glasswatchd [-c FILE] --history [--since D]\n"
	    "                                             records seen, their "
	    "alerts and deliveries\n"
	    "                                             (D: a duration, "
	    "default 7d)\n"
	    "       glasswatchd [-c FILE] --replay FILE [--tenant NAME]\n"
	    "                                             run the rules over a "
	    "saved Graph page, Log\n"
	    "                                             Analytics response or "
	    "CSV export; print the\n"
	    "                                             alerts, send "
	    "nothing\n"
	    "       glasswatchd [-d] [-c FILE] --posture  check the break-glass "
	    "accounts' setup\n"
	    "       glasswatchd [-c FILE] --drill ACCOUNT --window D "
	    "[--reason TEXT]\n"
	    "                                             announce a test "
	    "sign-in to the running\n"
	    "                                             daemon (D: 1m to "
	    "24h)\n"
	    "       glasswatchd --version | --help\n"
	    "\n"
	    "  -c, --config FILE  configuration file (default %s)\n"
	    "  -d, --debug        log at debug level\n"
	    "      --since D      with --history: how far back (7d)\n"
	    "      --reason TEXT  with --drill: a note logged with it\n"
	    "      --tenant NAME  with --replay: the tenant the records belong "
	    "to (default:\n"
	    "                     every tenant, by its break-glass accounts)\n"
	    "\n"
	    "exit codes: 0 ok; 1 --check found errors; 2 --once left a "
	    "source or delivery failing,\n"
	    "            or --test-notify was not delivered, or a --posture "
	    "check failed,\n"
	    "            or no daemon took a --drill;\n"
	    "            64 bad usage; 65 --replay input not readable as "
	    "records;\n"
	    "            66 --replay file cannot be opened; 73 state_dir "
	    "unusable (--status,\n"
	    "            --history: no state store yet; --replay: no scratch "
	    "store);\n"
	    "            75 state_dir locked; 78 invalid configuration\n",
	    DEFAULT_CONFIG);
}

static void
version(void)
{
	curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);

	printf("glasswatchd %s\n", GLASSWATCH_VERSION);
	printf("libcurl %s (%s), libevent %s, jansson %s, libyaml %s, "
	    "SQLite %s\n", cv->version, cv->ssl_version ? cv->ssl_version :
	    "no TLS", event_get_version(), JANSSON_VERSION,
	    yaml_get_version_string(), sqlite3_libversion());
}

/* --check: the same loader the daemon uses; a summary on stdout. */
static int
check_config(const char *path)
{
	struct config *c;
	char d1[32], d2[32];
	double per30;

	if ((c = operator_config(path, 0)) == NULL)
		return EXIT_CHECK_FAILED;
	printf("%s: configuration OK\n", path);
	printf("state_dir: %s\n", c->state_dir);
	for (size_t i = 0; i < c->ntenants; i++) {
		const struct tenant_config *t = &c->tenants[i];

		printf("tenant %s (%s): %zu break-glass account%s%s\n",
		    t->name, t->tenant_id, t->nbreak_glass,
		    t->nbreak_glass == 1 ? "" : "s",
		    t->log_analytics.enabled ? ", Log Analytics" : "");
	}
	for (size_t i = 0; i < c->nrules; i++) {
		const struct rule_config *r = &c->rules[i];
		static const char *const ops[] = { ">", ">=", "<", "<=",
			"==" };

		duration_format(r->period, d1, sizeof d1);
		duration_format(r->frequency, d2, sizeof d2);
		printf("rule %s: %s %s, count %s %ld over %s every %s, Sev%ld"
		    "%s\n", r->name, source_kind_name(r->source),
		    signal_name(r->signal), ops[r->op], r->threshold, d1, d2,
		    r->severity, r->enabled ? "" : " (disabled)");
	}
	for (size_t i = 0; i < c->nnotifiers; i++)
		printf("notifier %s: %s\n", c->notifiers[i].name,
		    c->notifiers[i].type);
	per30 = pollers_la_requests_per_30s(c);
	printf("Log Analytics: %.0f request%s per 30 s of %d allowed%s\n",
	    per30, per30 == 1 ? "" : "s", LA_REQUESTS_PER_30S,
	    per30 > LA_REQUESTS_PER_30S ? ": frequencies will be stretched "
	    "evenly to fit" : "");
	for (size_t i = 0; i < c->ntenants; i++) {
		double per10 = pollers_graph_requests_per_10s(c,
		    &c->tenants[i]);

		if (per10 == 0)
			continue;
		printf("Graph: tenant %s: %.1f request%s per 10 s of %d "
		    "allowed%s\n", c->tenants[i].name, per10,
		    per10 == 1 ? "" : "s", GRAPH_REQUESTS_PER_10S,
		    per10 > GRAPH_REQUESTS_PER_10S ? ": frequencies will be "
		    "stretched evenly to fit" : "");
	}
	config_free(c);
	return EXIT_OK;
}

int
main(int argc, char *argv[])
{
	struct daemon_opts opts = { DEFAULT_CONFIG, 0, 0 };
	const char *notify = NULL, *replay = NULL, *tenant = NULL, *why;
	const char *drill = NULL, *window = NULL, *reason = NULL;
	int64_t since = HISTORY_SINCE_DEFAULT;
	int ch, check = 0, status = 0, history = 0, since_set = 0, posture = 0;

	while ((ch = getopt_long(argc, argv, "c:dh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			opts.config_path = optarg;
			break;
		case 'd':
			opts.debug = 1;
			break;
		case OPT_CHECK:
			check = 1;
			break;
		case OPT_ONCE:
			opts.once = 1;
			break;
		case OPT_TEST_NOTIFY:
			notify = optarg;
			break;
		case OPT_STATUS:
			status = 1;
			break;
		case OPT_HISTORY:
			history = 1;
			break;
		case OPT_SINCE:
			if (duration_parse(optarg, &since, &why) == -1 ||
			    since <= 0) {
				fprintf(stderr, "glasswatchd: --since %s: %s\n",
				    optarg, since <= 0 ? "must be at least 1s" :
				    why);
				return EXIT_USAGE;
			}
			since_set = 1;
			break;
		case OPT_REPLAY:
			replay = optarg;
			break;
		case OPT_TENANT:
			tenant = optarg;
			break;
		case OPT_POSTURE:
			posture = 1;
			break;
		case OPT_DRILL:
			drill = optarg;
			break;
		case OPT_WINDOW:
			window = optarg;
			break;
		case OPT_REASON:
			reason = optarg;
			break;
		case OPT_VERSION:
			version();
			return EXIT_OK;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (since_set && !history) {
		fprintf(stderr, "glasswatchd: --since goes with --history\n");
		return EXIT_USAGE;
	}
	if (tenant != NULL && replay == NULL) {
		fprintf(stderr, "glasswatchd: --tenant goes with --replay\n");
		return EXIT_USAGE;
	}
	if ((window != NULL || reason != NULL) && drill == NULL) {
		fprintf(stderr, "glasswatchd: --window and --reason go with "
		    "--drill\n");
		return EXIT_USAGE;
	}
	if (drill != NULL && window == NULL) {
		fprintf(stderr, "glasswatchd: --drill needs --window D\n");
		return EXIT_USAGE;
	}
	if (optind != argc || check + opts.once + (notify != NULL) + status +
	    history + (replay != NULL) + posture + (drill != NULL) > 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (status)
		return operator_status(opts.config_path, opts.debug);
	if (history)
		return operator_history(opts.config_path, since, opts.debug);
	if (replay != NULL)
		return operator_replay(opts.config_path, replay, tenant,
		    opts.debug);
	if (check)
		return check_config(opts.config_path);
	if (notify != NULL)
		return test_notify(opts.config_path, notify, opts.debug);
	if (posture)
		return posture_cli(opts.config_path, opts.debug);
	if (drill != NULL)
		return drill_cli(opts.config_path, drill, window, reason,
		    opts.debug);
	return daemon_run(&opts);
}
