/* --status (status.h): three tables from the state store, in one read
 * transaction so that they agree with each other while the daemon writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "config.h"
#include "notifier.h"
#include "status.h"
#include "store.h"
#include "strlist.h"
#include "report.h"
#include "texttable.h"
#include "timeutil.h"
#include "xmalloc.h"

struct status_ctx {
	sqlite3		*db;
	char		**err;
};

static int
status_pollers(struct status_ctx *c, FILE *f)
{
	static const char *const hdr[] = { "POLLER", "LAST OK",
		"LAST ATTEMPT", "RESULT", "CURSOR", "FAILING SINCE", "ERROR" };
	static const char sql[] =
	    "SELECT k.poller, p.last_ok_us, p.at_us, p.ok, c.cursor_us, "
	    "  p.failing_since_us, p.error "
	    "FROM (SELECT poller FROM cursors UNION "
	    "      SELECT poller FROM poll_status) k "
	    "LEFT JOIN poll_status p ON p.poller = k.poller "
	    "LEFT JOIN cursors c ON c.poller = k.poller ORDER BY k.poller";
	struct texttable *t;
	sqlite3_stmt *st;
	char t1[TIME_ISO_LEN], t2[TIME_ISO_LEN], t3[TIME_ISO_LEN],
	    t4[TIME_ISO_LEN];
	int rc;

	if ((st = report_prepare(c->db, sql, "poll status", 0, 0, c->err)) == NULL)
		return -1;
	t = texttable_new(7, hdr);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *row[7];

		row[0] = report_text(st, 0);
		row[1] = report_time(st, 1, t1);
		row[2] = report_time(st, 2, t2);
		row[3] = sqlite3_column_type(st, 3) == SQLITE_NULL ? "-" :
		    sqlite3_column_int(st, 3) ? "ok" : "failed";
		row[4] = report_time(st, 4, t3);
		row[5] = report_time(st, 5, t4);
		row[6] = report_text(st, 6);
		texttable_add(t, row);
	}
	if (report_done(c->db, st, rc, "poll status", c->err) == -1) {
		texttable_free(t);
		return -1;
	}
	report_table(f, "Pollers", 0, t, "none has polled yet");
	return 0;
}

/* Notifiers of the configuration first (in its order), then any other
 * name that deliveries still wait for. */
static int
status_notifiers(struct status_ctx *c, const struct config *cfg, FILE *f)
{
	static const char *const hdr[] = { "NOTIFIER", "TYPE", "PENDING",
		"SENDING", "DELIVERED", "FAILED", "EXPIRED", "OLDEST PENDING",
		"NOTE" };
	static const char sql[] =
	    "SELECT notifier, sum(state = 'pending'), sum(state = 'sending'),"
	    "  sum(state = 'delivered'), sum(state = 'failed'), "
	    "  sum(state = 'expired'), "
	    "  min(CASE WHEN state IN ('pending', 'sending') THEN created_us "
	    "  END) FROM deliveries GROUP BY notifier ORDER BY notifier";
	struct strlist seen = { NULL, 0 };
	struct texttable *t;
	sqlite3_stmt *st;
	char n[5][24], tbuf[TIME_ISO_LEN];
	int rc;

	if ((st = report_prepare(c->db, sql, "deliveries", 0, 0, c->err)) == NULL)
		return -1;
	t = texttable_new(9, hdr);
	for (size_t i = 0; i < cfg->nnotifiers; i++) {
		const struct notifier_config *nc = &cfg->notifiers[i];
		const char *row[9] = { nc->name, nc->type, "0", "0", "0", "0",
			"0", "-", NULL };

		sqlite3_reset(st);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			if (strcmp(report_text(st, 0), nc->name) != 0)
				continue;
			for (int k = 0; k < 5; k++)
				row[k + 2] = report_int(st, k + 1, n[k],
				    sizeof n[k]);
			row[7] = report_time(st, 6, tbuf);
			break;
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			break;
		if (nc->ops != NULL && nc->ops->send == NULL)
			row[8] = "carries no alerts";
		texttable_add(t, row);
		strlist_add(&seen, nc->name);
	}
	sqlite3_reset(st);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *row[9];

		if (strlist_contains(&seen, report_text(st, 0)))
			continue;
		row[0] = report_text(st, 0);
		row[1] = "-";
		for (int k = 0; k < 5; k++)
			row[k + 2] = report_int(st, k + 1, n[k], sizeof n[k]);
		row[7] = report_time(st, 6, tbuf);
		row[8] = "not in the configuration: pending deliveries wait "
		    "until they expire";
		texttable_add(t, row);
	}
	strlist_clear(&seen);
	if (report_done(c->db, st, rc, "deliveries", c->err) == -1) {
		texttable_free(t);
		return -1;
	}
	report_table(f, "Notifiers", 0, t, "none");
	return 0;
}

static int
status_open_deliveries(struct status_ctx *c, int64_t now_us, FILE *f)
{
	static const char *const hdr[] = { "ALERT", "NOTIFIER", "RECIPIENT",
		"STATE", "ATTEMPTS", "CREATED", "NEXT TRY", "LAST ERROR" };
	static const char sql[] =
	    "SELECT alert_id, notifier, recipient, state, attempts, "
	    "  created_us, CASE WHEN state = 'pending' THEN next_us END, "
	    "  last_error FROM deliveries "
	    "WHERE state IN ('pending', 'sending') OR "
	    "  (state IN ('failed', 'expired') AND updated_us >= ?1) "
	    "ORDER BY created_us, alert_id, notifier, recipient";
	struct texttable *t;
	sqlite3_stmt *st;
	char n[24], t1[TIME_ISO_LEN], t2[TIME_ISO_LEN];
	int rc;

	if ((st = report_prepare(c->db, sql, "open deliveries", 1, now_us -
	    STATUS_FAILED_WINDOW * USEC_PER_SEC, c->err)) == NULL)
		return -1;
	t = texttable_new(8, hdr);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *row[8];

		for (int k = 0; k < 4; k++)
			row[k] = report_text(st, k);
		row[4] = report_int(st, 4, n, sizeof n);
		row[5] = report_time(st, 5, t1);
		row[6] = report_time(st, 6, t2);
		row[7] = report_text(st, 7);
		texttable_add(t, row);
	}
	if (report_done(c->db, st, rc, "open deliveries", c->err) == -1) {
		texttable_free(t);
		return -1;
	}
	report_table(f, "Pending deliveries, and failed or expired in the "
	    "last 7 days", 0, t, "none");
	return 0;
}

int
status_print(struct store *s, const struct config *cfg, int64_t now_us,
    FILE *f, char **err)
{
	struct status_ctx c = { store_db(s), err };
	char now[TIME_ISO_LEN];
	int rc = -1;

	*err = NULL;
	/* One snapshot: the daemon may commit between the queries. */
	if (report_begin(c.db, err) == -1)
		return -1;
	time_format_iso8601_sec(now_us, now);
	fprintf(f, "glasswatch status at %s (state store %s/%s)\n", now,
	    cfg->state_dir, STORE_FILE);
	if (status_pollers(&c, f) == 0 && status_notifiers(&c, cfg, f) == 0 &&
	    status_open_deliveries(&c, now_us, f) == 0)
		rc = 0;
	report_end(c.db);
	return rc;
}
