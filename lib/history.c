/* --history and the report of --replay (history.h): records, then the
 * alerts, then their deliveries, in one read transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "history.h"
#include "store.h"
#include "report.h"
#include "texttable.h"
#include "timeutil.h"
#include "xmalloc.h"

struct history_ctx {
	sqlite3		*db;
	int		 flags;
	int64_t		 since_us;
	char		**err;
	char		**alert_ids;	/* listed alerts, in order */
	size_t		  nalerts;
	char		  label[32];
};

/* How an alert is named in the report: its id, or under HISTORY_REPLAY
 * its number. */
static const char *
history_alert_label(struct history_ctx *c, const char *id)
{
	if (id == NULL)
		return "-";
	if ((c->flags & HISTORY_REPLAY) == 0)
		return id;
	for (size_t i = 0; i < c->nalerts; i++) {
		if (strcmp(c->alert_ids[i], id) == 0) {
			snprintf(c->label, sizeof c->label, "#%zu", i + 1);
			return c->label;
		}
	}
	return id;
}

/* The alerts in order, so that records can name them by label. */
static int
history_alert_ids(struct history_ctx *c)
{
	static const char sql[] = "SELECT id FROM alerts "
	    "WHERE created_us >= ?1 ORDER BY created_us, rowid";
	sqlite3_stmt *st;
	int rc;

	if ((st = report_prepare(c->db, sql, "alerts", 1, c->since_us, c->err)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		c->alert_ids = xreallocarray(c->alert_ids, c->nalerts + 1,
		    sizeof *c->alert_ids);
		c->alert_ids[c->nalerts++] = xstrdup(report_text(st, 0));
	}
	return report_done(c->db, st, rc, "alerts", c->err);
}

/* What a rule's mark of a record means to a reader. */
static const char *
history_decision(const char *state, const char *head, char *out, size_t len)
{
	if (strcmp(state, "alerted") == 0)
		return "alerted";
	if (strcmp(state, "duplicate") == 0) {
		snprintf(out, len, "duplicate of %s", head != NULL ? head :
		    "-");
		return out;
	}
	if (strcmp(state, "suppressed") == 0)
		return "suppressed: waits for the digest";
	if (strcmp(state, "digested") == 0)
		return "suppressed: in the digest";
	if (strcmp(state, "counted") == 0)
		return "counted, below the threshold";
	return state;
}

/* One row per (record, rule that selected it); a record no rule selected
 * has one row saying so. */
static int
history_records(struct history_ctx *c, FILE *f, size_t *nrecords)
{
	static const char *const hdr[] = { "EVENT TIME", "TENANT", "SIGNAL",
		"ACCOUNT", "IP", "WHAT", "RECORD", "RULE", "DECISION",
		"ALERT" };
	static const char sql[] =
	    "SELECT r.event_us, r.tenant, r.signal, coalesce(r.upn, "
	    "  r.user_id, r.target, r.initiator), r.ip, "
	    "  CASE WHEN r.signal = 'audit' THEN r.activity "
	    "    WHEN r.success THEN 'success' "
	    "    ELSE 'failure:' || r.result_code END, r.id, m.rule, m.state, "
	    "  m.incident_of, coalesce(m.alert_id, h.alert_id), "
	    "  (SELECT count(*) FROM rule_marks x WHERE x.tenant = r.tenant "
	    "    AND x.record_id = r.id) "
	    "FROM records r "
	    "LEFT JOIN rule_marks m ON m.tenant = r.tenant AND "
	    "  m.record_id = r.id AND m.state != 'nomatch' "
	    "LEFT JOIN rule_marks h ON m.state = 'duplicate' AND "
	    "  h.rule = m.rule AND h.tenant = m.tenant AND "
	    "  h.record_id = m.incident_of "
	    "WHERE r.received_us >= ?1 "
	    "ORDER BY r.event_us, r.tenant, r.id, m.rule";
	struct texttable *t;
	sqlite3_stmt *st;
	char tbuf[TIME_ISO_LEN], dbuf[128], *last = NULL;
	int rc;

	if ((st = report_prepare(c->db, sql, "records", 1, c->since_us, c->err)) == NULL)
		return -1;
	t = texttable_new(10, hdr);
	*nrecords = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *row[10], *state = report_text(st, 8);
		char *key = xasprintf("%s/%s", report_text(st, 1),
		    report_text(st, 6));

		if (last == NULL || strcmp(last, key) != 0)
			(*nrecords)++;
		free(last);
		last = key;
		row[0] = report_time(st, 0, tbuf);
		for (int k = 1; k <= 6; k++)
			row[k] = report_text(st, k);
		row[7] = report_text(st, 7);
		if (state == NULL)
			row[8] = sqlite3_column_int(st, 11) > 0 ?
			    "no rule selected it" : "not evaluated yet";
		else
			row[8] = history_decision(state, report_text(st, 9),
			    dbuf, sizeof dbuf);
		row[9] = history_alert_label(c, report_text(st, 10));
		texttable_add(t, row);
	}
	free(last);
	if (report_done(c->db, st, rc, "records", c->err) == -1) {
		texttable_free(t);
		return -1;
	}
	fprintf(f, "\nRecords (%zu)\n", *nrecords);
	report_table(f, NULL, 0, t, "none");
	return 0;
}

static int
history_alerts(struct history_ctx *c, FILE *f)
{
	static const char *const hdr[] = { "ALERT", "CREATED", "KIND", "RULE",
		"SEV", "TENANT", "ACCOUNT", "RECORDS", "SUBJECT" };
	static const char sql[] =
	    "SELECT id, created_us, kind, rule, severity, tenant, "
	    "  coalesce(account_upn, account_oid), count, subject "
	    "FROM alerts WHERE created_us >= ?1 ORDER BY created_us, rowid";
	int replay = (c->flags & HISTORY_REPLAY) != 0;
	struct texttable *t;
	sqlite3_stmt *st;
	char tbuf[TIME_ISO_LEN], sev[24], count[24];
	const char *const *h = hdr;
	int rc;

	if ((st = report_prepare(c->db, sql, "alerts", 1, c->since_us, c->err)) == NULL)
		return -1;
	/* A replay's alerts were made just now: no CREATED column. */
	if (replay) {
		static const char *const rhdr[] = { "ALERT", "KIND", "RULE",
			"SEV", "TENANT", "ACCOUNT", "RECORDS", "SUBJECT" };
		h = rhdr;
	}
	t = texttable_new(replay ? 8 : 9, h);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *row[9];
		size_t k = 0;

		row[k++] = history_alert_label(c, report_text(st, 0));
		if (!replay)
			row[k++] = report_time(st, 1, tbuf);
		row[k++] = report_text(st, 2);
		row[k++] = report_text(st, 3);
		row[k++] = report_int(st, 4, sev, sizeof sev);
		row[k++] = report_text(st, 5);
		row[k++] = report_text(st, 6);
		row[k++] = report_int(st, 7, count, sizeof count);
		row[k++] = report_text(st, 8);
		texttable_add(t, row);
	}
	if (report_done(c->db, st, rc, "alerts", c->err) == -1) {
		texttable_free(t);
		return -1;
	}
	report_table(f, replay ? "Alerts that would be raised" : "Alerts", 1,
	    t, "none");
	return 0;
}

/* Each delivery with the sends made (delivery_attempts) and when it
 * settled: delivered at the successful attempt, pending with its next try, failed or expired when it ended. */
static int
history_deliveries(struct history_ctx *c, FILE *f)
{
	static const char *const hdr[] = { "ALERT", "NOTIFIER", "RECIPIENT",
		"STATE", "ATTEMPTS", "WHEN", "LAST ERROR" };
	static const char *const rhdr[] = { "ALERT", "NOTIFIER",
		"RECIPIENT" };
	static const char sql[] =
	    "SELECT d.alert_id, d.notifier, d.recipient, d.state, "
	    "  (SELECT count(*) FROM delivery_attempts x WHERE "
	    "    x.alert_id = d.alert_id AND x.notifier = d.notifier AND "
	    "    x.recipient = d.recipient), "
	    "  CASE d.state WHEN 'delivered' THEN coalesce((SELECT "
	    "    max(x.at_us) FROM delivery_attempts x WHERE "
	    "    x.alert_id = d.alert_id AND x.notifier = d.notifier AND "
	    "    x.recipient = d.recipient AND x.result = 'ok'), d.updated_us)"
	    "  WHEN 'pending' THEN d.next_us ELSE d.updated_us END, "
	    "  d.last_error "
	    "FROM deliveries d JOIN alerts a ON a.id = d.alert_id "
	    "WHERE a.created_us >= ?1 "
	    "ORDER BY a.created_us, a.rowid, d.notifier, d.recipient";
	int replay = (c->flags & HISTORY_REPLAY) != 0;
	struct texttable *t;
	sqlite3_stmt *st;
	char tbuf[TIME_ISO_LEN], n[24], when[TIME_ISO_LEN + 16];
	int rc;

	if ((st = report_prepare(c->db, sql, "deliveries", 1, c->since_us, c->err)) == NULL)
		return -1;
	t = replay ? texttable_new(3, rhdr) : texttable_new(7, hdr);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *row[7], *state = report_text(st, 3);

		row[0] = history_alert_label(c, report_text(st, 0));
		row[1] = report_text(st, 1);
		row[2] = report_text(st, 2);
		row[3] = state;
		row[4] = report_int(st, 4, n, sizeof n);
		snprintf(when, sizeof when, "%s%s", strcmp(state, "pending")
		    == 0 ? "next try " : "", report_time(st, 5, tbuf));
		row[5] = when;
		row[6] = report_text(st, 6);
		texttable_add(t, row);
	}
	if (report_done(c->db, st, rc, "deliveries", c->err) == -1) {
		texttable_free(t);
		return -1;
	}
	report_table(f, replay ? "Would notify (nothing is sent)" :
	    "Deliveries", 1, t, "none");
	return 0;
}

int
history_print(struct store *s, int64_t since_us, int flags, FILE *f,
    size_t *nalerts, char **err)
{
	struct history_ctx c;
	size_t nrecords = 0;
	int rc = -1;

	memset(&c, 0, sizeof c);
	c.db = store_db(s);
	c.flags = flags;
	c.since_us = since_us;
	c.err = err;
	*err = NULL;
	if (report_begin(c.db, err) == -1)
		return -1;
	if (history_alert_ids(&c) == 0 &&
	    history_records(&c, f, &nrecords) == 0 &&
	    history_alerts(&c, f) == 0 && history_deliveries(&c, f) == 0)
		rc = 0;
	report_end(c.db);
	if (nalerts != NULL)
		*nalerts = c.nalerts;
	for (size_t i = 0; i < c.nalerts; i++)
		free(c.alert_ids[i]);
	free(c.alert_ids);
	return rc;
}
