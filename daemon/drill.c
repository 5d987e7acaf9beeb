/*
 * glasswatchd --drill ACCOUNT --window D (DESIGN.md "Command line
 * contract"): announces a drill to the running daemon over its control
 * socket (control.h, drill.h). The account and window are checked here
 * first, so a typo never needs a daemon; the daemon checks them again
 * against its own configuration. Exit 0 accepted, 2 no daemon answered
 * (or it could not store the drill), 64 bad usage or unknown account,
 * 78 invalid config.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "control.h"
#include "daemon.h"
#include "drill.h"
#include "duration.h"
#include "log.h"

#define DRILL_CALL_MS	5000	/* a daemon that does not answer */

int
drill_cli(const char *config_path, const char *account, const char *window,
    const char *reason, int debug)
{
	const struct tenant_config *t;
	const struct account *a;
	const char *why;
	struct config *c;
	json_t *req, *reply;
	char *err;
	int64_t secs;
	int rc;

	log_init(debug ? LOG_DEBUG : LOG_WARNING, LOG_FORMAT_TEXT);
	if (duration_parse(window, &secs, &why) == -1 ||
	    drill_window_check(secs, &why) == -1) {
		fprintf(stderr, "glasswatchd: --window %s: %s\n", window, why);
		return EXIT_USAGE;
	}
	if (reason != NULL && strlen(reason) > DRILL_REASON_MAX) {
		fprintf(stderr, "glasswatchd: --reason: at most %d bytes\n",
		    DRILL_REASON_MAX);
		return EXIT_USAGE;
	}
	if ((c = config_load_report(config_path)) == NULL)
		return EXIT_CONFIG;
	switch (drill_account_find(c, account, &t, &a)) {
	case 0:
		fprintf(stderr, "glasswatchd: --drill %s: not a break-glass "
		    "account of any tenant in %s\n", account, config_path);
		config_free(c);
		return EXIT_USAGE;
	case -1:
		fprintf(stderr, "glasswatchd: --drill %s: ambiguous, more than "
		    "one tenant has it: give the object id\n", account);
		config_free(c);
		return EXIT_USAGE;
	default:
		break;
	}
	req = drill_request_new(account, secs, reason);
	rc = control_call(c->runtime_dir, req, DRILL_CALL_MS, &reply, &err);
	json_decref(req);
	config_free(c);
	if (rc == -1) {
		fprintf(stderr, "glasswatchd: --drill: no daemon answered: %s\n",
		    err);
		free(err);
		return EXIT_INCOMPLETE;
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *e = json_string_value(json_object_get(reply,
		    "error"));

		fprintf(stderr, "glasswatchd: --drill: the daemon refused: %s\n",
		    e != NULL ? e : "no reason given");
		rc = json_is_true(json_object_get(reply, "usage")) ?
		    EXIT_USAGE : EXIT_INCOMPLETE;
		json_decref(reply);
		return rc;
	}
	printf("drill %s accepted: %s (tenant %s), announced by %s, window "
	    "until %s\n", json_string_value(json_object_get(reply, "id")),
	    json_string_value(json_object_get(reply, "account")),
	    json_string_value(json_object_get(reply, "tenant")),
	    json_string_value(json_object_get(reply, "announced_by")),
	    json_string_value(json_object_get(reply, "until")));
	json_decref(reply);
	return EXIT_OK;
}
