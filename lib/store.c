/* The durable state (store.h): one SQLite file in the state directory.
 *
 * Everything glasswatch promises rests on this file: a record is stored
 * with the cursor that read it, an alert with the deliveries that carry it,
 * and a delivery's state with every attempt. So the connection runs with
 * synchronous=FULL: in WAL mode NORMAL may lose the last transactions on a
 * power cut (the WAL is not synced at each commit), which here would mean
 * a page that was never sent while the cursor that found it had moved on.
 * The cost is one fsync per commit, a few per poll; the loop can afford it.
 *
 * Statements are prepared once per store, on first use, and finalized by
 * store_close. Every failure is logged once, as "store: <purpose>: <sqlite
 * message>", and returned as -1. */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "alert.h"
#include "drill.h"
#include "log.h"
#include "record.h"
#include "store.h"
#include "strlist.h"
#include "timeutil.h"
#include "xmalloc.h"

/* The newest schema this binary knows (PRAGMA user_version). */
#define STORE_VERSION		4
/* PRAGMA application_id: "GWAT", so a foreign SQLite file is refused. */
#define STORE_APPLICATION_ID	0x47574154
#define STORE_BUSY_TIMEOUT_MS	5000

enum stmt_id {
	STMT_BEGIN,
	STMT_BEGIN_READ,
	STMT_COMMIT,
	STMT_ROLLBACK,
	STMT_SAVEPOINT,
	STMT_RELEASE,
	STMT_ROLLBACK_TO,
	STMT_CURSOR_GET,
	STMT_CURSOR_SET,
	STMT_POLL_RESULT,
	STMT_RECORD_INSERT,
	STMT_RECORD_GET,
	STMT_RULE_SINCE_INSERT,
	STMT_RULE_SINCE_GET,
	STMT_RULE_UNMARKED,
	STMT_RULE_MARK,
	STMT_RULE_MARKS_WINDOW,
	STMT_RULE_COUNT_RECEIVED,
	STMT_SUPPRESSION_GET,
	STMT_SUPPRESSION_SET,
	STMT_SUPPRESSION_DELETE,
	STMT_SUPPRESSIONS,
	STMT_RULE_SUPPRESSED,
	STMT_ABSENCE_GET,
	STMT_ABSENCE_SET,
	STMT_ALERT_INSERT,
	STMT_ALERT_LINK,
	STMT_ALERT_GET,
	STMT_ALERT_RECORDS,
	STMT_DELIVERY_INSERT,
	STMT_DELIVERIES_DUE,
	STMT_DELIVERIES_DUE_FOR,
	STMT_DELIVERY_NEXT_DUE,
	STMT_DELIVERY_NEXT_DUE_FOR,
	STMT_DELIVERY_UPDATE,
	STMT_DELIVERIES_RESET_SENDING,
	STMT_DELIVERY_COUNT,
	STMT_DELIVERY_NOTIFIERS,
	STMT_DELIVERIES_STALE,
	STMT_ATTEMPT_INSERT,
	STMT_SENT_SINCE,
	STMT_DELIVERIES_DUE_TO,
	STMT_DELIVERIES_HOLD,
	STMT_DELIVERY_SET_BATCH,
	STMT_BATCH_SETTLE,
	STMT_PRUNE_ALERTS,
	STMT_PRUNE_RECORDS,
	STMT_POSTURE_GET,
	STMT_POSTURE_SET,
	STMT_POSTURE_HISTORY,
	STMT_PRUNE_POSTURE,
	STMT_DRILL_INSERT,
	STMT_DRILL_AT,
	STMT_DRILL_VALIDATED,
	STMT_PRUNE_DRILLS,
	STMT_COUNT
};

/* The columns of a drill, in the order store_drill_row reads them. */
#define DRILL_COLUMNS							\
	"d.id, d.tenant, d.account_oid, d.account_upn, d.announced_by, "	\
	"d.uid, d.reason, d.announced_us, d.until_us"

/* The columns of a record, in the order record_from_row reads them. */
#define RECORD_COLUMNS							\
	"r.tenant, r.id, r.signal, r.event_us, r.ingest_us, r.received_us, " \
	"r.user_id, r.upn, r.ip, r.location, r.app, r.success, "	\
	"r.result_code, r.failure_reason, r.correlation_id, r.activity, " \
	"r.category, r.service, r.initiator, r.initiator_id, r.target, " \
	"r.target_ids, r.raw, r.modified"

#define DELIVERY_COLUMNS						\
	"alert_id, notifier, recipient, state, attempts, next_us, "	\
	"created_us, updated_us, last_error"

#define MARK_HEADS	"('counted', 'alerted', 'suppressed', 'digested')"

static const char *const stmt_sql[STMT_COUNT] = {
	[STMT_BEGIN] = "BEGIN IMMEDIATE",
	[STMT_BEGIN_READ] = "BEGIN",
	[STMT_COMMIT] = "COMMIT",
	[STMT_ROLLBACK] = "ROLLBACK",
	[STMT_SAVEPOINT] = "SAVEPOINT store_atomic",
	[STMT_RELEASE] = "RELEASE store_atomic",
	[STMT_ROLLBACK_TO] = "ROLLBACK TO store_atomic",

	[STMT_CURSOR_GET] =
	    "SELECT cursor_us FROM cursors WHERE poller = ?1",
	[STMT_CURSOR_SET] =
	    "INSERT OR REPLACE INTO cursors (poller, cursor_us, updated_us) "
	    "VALUES (?1, ?2, ?3)",
	[STMT_POLL_RESULT] =
	    "INSERT OR REPLACE INTO poll_status (poller, ok, at_us, error, "
	    "last_ok_us, failing_since_us) VALUES (?1, ?2, ?3, ?4, "
	    "CASE WHEN ?2 THEN ?3 ELSE (SELECT last_ok_us FROM poll_status "
	    "WHERE poller = ?1) END, "
	    "CASE WHEN ?2 THEN NULL ELSE coalesce((SELECT failing_since_us "
	    "FROM poll_status WHERE poller = ?1), ?3) END)",

	[STMT_RECORD_INSERT] =
	    "INSERT OR IGNORE INTO records (tenant, id, signal, event_us, "
	    "ingest_us, received_us, user_id, upn, ip, location, app, "
	    "success, result_code, failure_reason, correlation_id, activity, "
	    "category, service, initiator, initiator_id, target, target_ids, "
	    "raw, modified) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
	    "?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, "
	    "?24)",
	[STMT_RECORD_GET] =
	    "SELECT " RECORD_COLUMNS " FROM records r "
	    "WHERE r.tenant = ?1 AND r.id = ?2",

	[STMT_RULE_SINCE_INSERT] =
	    "INSERT OR IGNORE INTO rules (name, since_us, since_seq) "
	    "VALUES (?1, ?2, coalesce((SELECT seq FROM sqlite_sequence "
	    "WHERE name = 'records'), 0))",
	[STMT_RULE_SINCE_GET] =
	    "SELECT since_us FROM rules WHERE name = ?1",
	[STMT_RULE_UNMARKED] =
	    "SELECT " RECORD_COLUMNS " FROM records r "
	    "WHERE r.tenant = ?2 AND r.signal = ?3 "
	    "AND r.seq > coalesce((SELECT since_seq FROM rules "
	    "WHERE name = ?1), 0) "
	    "AND NOT EXISTS (SELECT 1 FROM rule_marks m WHERE m.rule = ?1 "
	    "AND m.tenant = r.tenant AND m.record_id = r.id) "
	    "ORDER BY r.event_us, r.id",
	[STMT_RULE_MARK] =
	    "INSERT OR REPLACE INTO rule_marks (rule, tenant, record_id, "
	    "account, state, incident_of, alert_id, event_us) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[STMT_RULE_MARKS_WINDOW] =
	    "SELECT m.record_id, m.account, m.state, m.incident_of, "
	    "m.alert_id, m.event_us, r.received_us, r.user_id, "
	    "r.correlation_id, r.result_code "
	    "FROM rule_marks m JOIN records r "
	    "ON r.tenant = m.tenant AND r.id = m.record_id "
	    "WHERE m.rule = ?1 AND m.tenant = ?2 AND m.account IS ?3 "
	    "AND m.event_us >= ?4 AND m.event_us <= ?5 "
	    "AND m.state <> 'nomatch' "
	    "ORDER BY m.event_us, m.record_id",
	[STMT_RULE_COUNT_RECEIVED] =
	    "SELECT count(*) FROM rule_marks m JOIN records r "
	    "ON r.tenant = m.tenant AND r.id = m.record_id "
	    "WHERE m.rule = ?1 AND m.tenant = ?2 AND m.account IS ?3 "
	    "AND m.state IN " MARK_HEADS " "
	    "AND r.received_us >= ?4 AND r.received_us <= ?5",

	[STMT_SUPPRESSION_GET] =
	    "SELECT until_us FROM suppressions "
	    "WHERE rule = ?1 AND tenant = ?2 AND account = ?3",
	[STMT_SUPPRESSION_SET] =
	    "INSERT OR REPLACE INTO suppressions (rule, tenant, account, "
	    "until_us) VALUES (?1, ?2, ?3, ?4)",
	[STMT_SUPPRESSION_DELETE] =
	    "DELETE FROM suppressions "
	    "WHERE rule = ?1 AND tenant = ?2 AND account = ?3",
	[STMT_SUPPRESSIONS] =
	    "SELECT rule, tenant, account, until_us FROM suppressions "
	    "ORDER BY until_us, rule, tenant, account",
	[STMT_RULE_SUPPRESSED] =
	    "SELECT " RECORD_COLUMNS " FROM rule_marks m JOIN records r "
	    "ON r.tenant = m.tenant AND r.id = m.record_id "
	    "WHERE m.rule = ?1 AND m.tenant = ?2 AND m.account IS ?3 "
	    "AND m.state = 'suppressed' "
	    "ORDER BY m.event_us, m.record_id",

	[STMT_ABSENCE_GET] =
	    "SELECT last_fired_us FROM absences "
	    "WHERE rule = ?1 AND tenant = ?2 AND account = ?3",
	[STMT_ABSENCE_SET] =
	    "INSERT OR REPLACE INTO absences (rule, tenant, account, "
	    "last_fired_us) VALUES (?1, ?2, ?3, ?4)",

	[STMT_ALERT_INSERT] =
	    "INSERT INTO alerts (id, kind, rule, description, severity, "
	    "tenant, tenant_id, account_oid, account_upn, created_us, count, "
	    "subject, drill) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
	    "?11, ?12, ?13)",
	[STMT_ALERT_LINK] =
	    "INSERT INTO alert_records (alert_id, position, tenant, "
	    "record_id) VALUES (?1, ?2, ?3, ?4)",
	[STMT_ALERT_GET] =
	    "SELECT id, kind, rule, description, severity, tenant, tenant_id, "
	    "account_oid, account_upn, created_us, count, subject, drill "
	    "FROM alerts WHERE id = ?1",
	[STMT_ALERT_RECORDS] =
	    "SELECT " RECORD_COLUMNS " FROM alert_records l JOIN records r "
	    "ON r.tenant = l.tenant AND r.id = l.record_id "
	    "WHERE l.alert_id = ?1 ORDER BY l.position",

	[STMT_DELIVERY_INSERT] =
	    "INSERT OR IGNORE INTO deliveries (alert_id, notifier, recipient, "
	    "state, attempts, next_us, created_us, updated_us) "
	    "VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?4, ?4)",
	[STMT_DELIVERIES_DUE] =
	    "SELECT " DELIVERY_COLUMNS " FROM deliveries "
	    "WHERE state = 'pending' AND batch_id IS NULL AND next_us <= ?1 "
	    "ORDER BY next_us, created_us, alert_id, notifier, recipient "
	    "LIMIT ?2",
	[STMT_DELIVERIES_DUE_FOR] =
	    "SELECT " DELIVERY_COLUMNS " FROM deliveries "
	    "WHERE notifier = ?3 AND state = 'pending' AND batch_id IS NULL "
	    "AND next_us <= ?1 "
	    "ORDER BY next_us, created_us, alert_id, recipient "
	    "LIMIT ?2",
	[STMT_DELIVERY_NEXT_DUE] =
	    "SELECT min(next_us) FROM deliveries WHERE state = 'pending' "
	    "AND batch_id IS NULL",
	[STMT_DELIVERY_NEXT_DUE_FOR] =
	    "SELECT min(next_us) FROM deliveries "
	    "WHERE notifier = ?1 AND state = 'pending' AND batch_id IS NULL",
	[STMT_DELIVERY_UPDATE] =
	    "UPDATE deliveries SET state = ?4, attempts = ?5, next_us = ?6, "
	    "last_error = ?7, updated_us = ?8 "
	    "WHERE alert_id = ?1 AND notifier = ?2 AND recipient = ?3",
	[STMT_DELIVERIES_RESET_SENDING] =
	    "UPDATE deliveries SET state = 'pending', updated_us = ?1 "
	    "WHERE state = 'sending'",
	[STMT_DELIVERY_COUNT] =
	    "SELECT count(*) FROM deliveries "
	    "WHERE state = ?1 AND (?2 IS NULL OR notifier = ?2)",
	[STMT_DELIVERY_NOTIFIERS] =
	    "SELECT DISTINCT notifier FROM deliveries "
	    "WHERE state IN ('pending', 'sending') ORDER BY notifier",
	[STMT_DELIVERIES_STALE] =
	    "SELECT " DELIVERY_COLUMNS " FROM deliveries "
	    "WHERE notifier = ?1 AND state = 'pending' AND batch_id IS NULL "
	    "AND created_us <= ?2 "
	    "ORDER BY created_us, alert_id, recipient LIMIT ?3",
	[STMT_SENT_SINCE] =
	    "SELECT count(*), min(at_us) FROM delivery_attempts "
	    "WHERE notifier = ?1 AND recipient = ?2 AND result = 'ok' "
	    "AND at_us > ?3",
	[STMT_DELIVERIES_DUE_TO] =
	    "SELECT " DELIVERY_COLUMNS " FROM deliveries "
	    "WHERE notifier = ?1 AND recipient = ?2 AND state = 'pending' "
	    "AND batch_id IS NULL AND next_us <= ?3 "
	    "ORDER BY created_us, alert_id LIMIT ?4",
	[STMT_DELIVERIES_HOLD] =
	    "UPDATE deliveries SET next_us = ?4, updated_us = ?3 "
	    "WHERE notifier = ?1 AND recipient = ?2 AND state = 'pending' "
	    "AND batch_id IS NULL AND next_us <= ?3",
	[STMT_DELIVERY_SET_BATCH] =
	    "UPDATE deliveries SET batch_id = ?4, updated_us = ?5 "
	    "WHERE alert_id = ?1 AND notifier = ?2 AND recipient = ?3 "
	    "AND state = 'pending' AND batch_id IS NULL",
	[STMT_BATCH_SETTLE] =
	    "UPDATE deliveries SET state = ?2, last_error = ?3, "
	    "updated_us = ?4 WHERE batch_id = ?1 AND state = 'pending'",
	[STMT_ATTEMPT_INSERT] =
	    "INSERT INTO delivery_attempts (alert_id, notifier, recipient, "
	    "attempt, at_us, result, error) VALUES (?1, ?2, ?3, "
	    "(SELECT coalesce(max(attempt), 0) + 1 FROM delivery_attempts "
	    "WHERE alert_id = ?1 AND notifier = ?2 AND recipient = ?3), "
	    "?4, ?5, ?6)",

	/* An alert goes (with its links, deliveries and attempts, by
	 * cascade) once it is old and nothing of it is still to be sent. */
	[STMT_PRUNE_ALERTS] =
	    "DELETE FROM alerts WHERE created_us < ?1 AND NOT EXISTS "
	    "(SELECT 1 FROM deliveries d WHERE d.alert_id = alerts.id "
	    "AND d.state IN ('pending', 'sending'))",
	/* A record goes (with its rule marks, by cascade) once it is old
	 * and no remaining alert carries it. */
	[STMT_POSTURE_GET] =
	    "SELECT result FROM posture_findings "
	    "WHERE tenant = ?1 AND check_id = ?2 AND account = ?3",
	[STMT_POSTURE_SET] =
	    "INSERT INTO posture_findings (tenant, check_id, account, result, "
	    "evidence, since_us, checked_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
	    "?6) ON CONFLICT (tenant, check_id, account) DO UPDATE SET "
	    "since_us = CASE WHEN result = excluded.result THEN since_us "
	    "ELSE excluded.since_us END, result = excluded.result, "
	    "evidence = excluded.evidence, checked_us = excluded.checked_us",
	[STMT_POSTURE_HISTORY] =
	    "INSERT INTO posture_history (tenant, check_id, account, at_us, "
	    "result, evidence) VALUES (?1, ?2, ?3, ?6, ?4, ?5)",
	[STMT_PRUNE_POSTURE] =
	    "DELETE FROM posture_history WHERE at_us < ?1",

	[STMT_DRILL_INSERT] =
	    "INSERT INTO drills (id, tenant, account_oid, account_upn, "
	    "announced_by, uid, reason, announced_us, until_us) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	/* The latest announced drill covering the event time. */
	[STMT_DRILL_AT] =
	    "SELECT " DRILL_COLUMNS " FROM drills d "
	    "WHERE tenant = ?1 AND account_oid = lower(?2) "
	    "AND announced_us <= ?3 AND until_us >= ?3 "
	    "ORDER BY announced_us DESC, id LIMIT 1",
	/* The latest successful sign-in inside a drill of the account. */
	[STMT_DRILL_VALIDATED] =
	    "SELECT " DRILL_COLUMNS ", r.event_us FROM drills d "
	    "JOIN records r ON r.tenant = d.tenant "
	    "AND lower(r.user_id) = d.account_oid "
	    "AND r.signal IN ('sign_in', 'non_interactive_sign_in') "
	    "AND r.success = 1 "
	    "AND r.event_us BETWEEN d.announced_us AND d.until_us "
	    "WHERE d.tenant = ?1 AND d.account_oid = lower(?2) "
	    "AND r.event_us >= ?3 "
	    "ORDER BY r.event_us DESC LIMIT 1",
	[STMT_PRUNE_DRILLS] =
	    "DELETE FROM drills WHERE until_us < ?1",
	[STMT_PRUNE_RECORDS] =
	    "DELETE FROM records WHERE received_us < ?1 AND NOT EXISTS "
	    "(SELECT 1 FROM alert_records l WHERE l.tenant = records.tenant "
	    "AND l.record_id = records.id) "
	    /* Suppressed records wait for their digest, however long. */
	    "AND NOT EXISTS (SELECT 1 FROM rule_marks m WHERE "
	    "m.tenant = records.tenant AND m.record_id = records.id "
	    "AND m.state = 'suppressed')",
};

struct store {
	sqlite3		*db;
	char		*path;
	int		 readonly;
	sqlite3_stmt	*stmts[STMT_COUNT];
	void		(*fault_cb)(const char *why, void *);
	void		*fault_arg;
};

static const char *const delivery_state_names[] = {
	[DELIVERY_PENDING] = "pending",
	[DELIVERY_SENDING] = "sending",
	[DELIVERY_DELIVERED] = "delivered",
	[DELIVERY_FAILED] = "failed",
	[DELIVERY_EXPIRED] = "expired",
};
#define NDELIVERY_STATES \
	(sizeof delivery_state_names / sizeof delivery_state_names[0])

static const char *const mark_state_names[] = {
	[MARK_NOMATCH] = "nomatch",
	[MARK_COUNTED] = "counted",
	[MARK_ALERTED] = "alerted",
	[MARK_DUPLICATE] = "duplicate",
	[MARK_SUPPRESSED] = "suppressed",
	[MARK_DIGESTED] = "digested",
};
#define NMARK_STATES (sizeof mark_state_names / sizeof mark_state_names[0])

/* --- the schema ------------------------------------------------------ */

/* Version 1. Times are int64 microseconds (UTC); enums are stored by name
 * so the file reads well in sqlite3(1) and survives enum reordering. */
static const char store_schema_v1[] =
	"CREATE TABLE cursors ("
	"  poller TEXT PRIMARY KEY,"
	"  cursor_us INTEGER NOT NULL,"
	"  updated_us INTEGER NOT NULL"
	");"
	"CREATE TABLE poll_status ("
	"  poller TEXT PRIMARY KEY,"
	"  ok INTEGER NOT NULL,"
	"  at_us INTEGER NOT NULL,"
	"  error TEXT,"
	"  last_ok_us INTEGER,"
	"  failing_since_us INTEGER"
	");"
	"CREATE TABLE records ("
	/* A sequence that never goes back or repeats, unlike the wall
	 * clock: rules start from it (see STMT_RULE_SINCE_INSERT). */
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  tenant TEXT NOT NULL,"
	"  id TEXT NOT NULL,"
	"  signal TEXT NOT NULL,"
	"  event_us INTEGER NOT NULL,"
	"  ingest_us INTEGER NOT NULL,"
	"  received_us INTEGER NOT NULL,"
	"  user_id TEXT,"
	"  upn TEXT,"
	"  ip TEXT,"
	"  location TEXT,"
	"  app TEXT,"
	"  success INTEGER NOT NULL,"
	"  result_code INTEGER NOT NULL,"
	"  failure_reason TEXT,"
	"  correlation_id TEXT,"
	"  activity TEXT,"
	"  category TEXT,"
	"  service TEXT,"
	"  initiator TEXT,"
	"  initiator_id TEXT,"
	"  target TEXT,"
	"  target_ids TEXT,"
	"  raw TEXT,"
	"  UNIQUE (tenant, id)"
	");"
	"CREATE INDEX records_received ON records"
	"  (tenant, signal, received_us);"
	"CREATE INDEX records_prune ON records (received_us);"
	"CREATE TABLE rules ("
	"  name TEXT PRIMARY KEY,"
	"  since_us INTEGER NOT NULL,"
	"  since_seq INTEGER NOT NULL"
	");"
	"CREATE TABLE rule_marks ("
	"  rule TEXT NOT NULL,"
	"  tenant TEXT NOT NULL,"
	"  record_id TEXT NOT NULL,"
	"  account TEXT,"
	"  state TEXT NOT NULL CHECK (state IN ('nomatch', 'counted',"
	"    'alerted', 'duplicate', 'suppressed', 'digested')),"
	"  incident_of TEXT,"
	"  alert_id TEXT,"
	"  event_us INTEGER NOT NULL,"
	"  PRIMARY KEY (rule, tenant, record_id),"
	"  FOREIGN KEY (tenant, record_id) REFERENCES records (tenant, id)"
	"    ON DELETE CASCADE"
	");"
	"CREATE INDEX rule_marks_window ON rule_marks"
	"  (rule, tenant, account, event_us, record_id);"
	"CREATE INDEX rule_marks_record ON rule_marks (tenant, record_id);"
	"CREATE TABLE suppressions ("
	"  rule TEXT NOT NULL,"
	"  tenant TEXT NOT NULL,"
	"  account TEXT NOT NULL,"
	"  until_us INTEGER NOT NULL,"
	"  PRIMARY KEY (rule, tenant, account)"
	");"
	"CREATE TABLE absences ("
	"  rule TEXT NOT NULL,"
	"  tenant TEXT NOT NULL,"
	"  account TEXT NOT NULL,"
	"  last_fired_us INTEGER NOT NULL,"
	"  PRIMARY KEY (rule, tenant, account)"
	");"
	"CREATE TABLE alerts ("
	"  id TEXT PRIMARY KEY,"
	"  kind TEXT NOT NULL,"
	"  rule TEXT,"
	"  description TEXT,"
	"  severity INTEGER NOT NULL,"
	"  tenant TEXT,"
	"  tenant_id TEXT,"
	"  account_oid TEXT,"
	"  account_upn TEXT,"
	"  created_us INTEGER NOT NULL,"
	"  count INTEGER NOT NULL,"
	"  subject TEXT"
	");"
	"CREATE INDEX alerts_created ON alerts (created_us);"
	"CREATE TABLE alert_records ("
	"  alert_id TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,"
	"  position INTEGER NOT NULL,"
	"  tenant TEXT NOT NULL,"
	"  record_id TEXT NOT NULL,"
	"  PRIMARY KEY (alert_id, position),"
	"  FOREIGN KEY (tenant, record_id) REFERENCES records (tenant, id)"
	");"
	"CREATE INDEX alert_records_record ON alert_records"
	"  (tenant, record_id);"
	/* The alert may be inserted after its deliveries within one
	 * transaction: the check waits for the commit. */
	"CREATE TABLE deliveries ("
	"  alert_id TEXT NOT NULL REFERENCES alerts (id) ON DELETE CASCADE"
	"    DEFERRABLE INITIALLY DEFERRED,"
	"  notifier TEXT NOT NULL,"
	"  recipient TEXT NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('pending', 'sending',"
	"    'delivered', 'failed', 'expired')),"
	"  attempts INTEGER NOT NULL,"
	"  next_us INTEGER NOT NULL,"
	"  created_us INTEGER NOT NULL,"
	"  updated_us INTEGER NOT NULL,"
	"  last_error TEXT,"
	"  PRIMARY KEY (alert_id, notifier, recipient)"
	");"
	"CREATE INDEX deliveries_due ON deliveries (state, next_us);"
	"CREATE INDEX deliveries_notifier ON deliveries"
	"  (notifier, state, next_us);"
	/* History: one row per finished send. */
	"CREATE TABLE delivery_attempts ("
	"  alert_id TEXT NOT NULL,"
	"  notifier TEXT NOT NULL,"
	"  recipient TEXT NOT NULL,"
	"  attempt INTEGER NOT NULL,"
	"  at_us INTEGER NOT NULL,"
	"  result TEXT NOT NULL,"
	"  error TEXT,"
	"  PRIMARY KEY (alert_id, notifier, recipient, attempt),"
	"  FOREIGN KEY (alert_id, notifier, recipient)"
	"    REFERENCES deliveries (alert_id, notifier, recipient)"
	"    ON DELETE CASCADE"
	");";

/* Version 2: audit records carry their modified properties; deliveries
 * held by a notifier's rate_limit wait on the batch that carries them. */
static const char store_schema_v2[] =
	"ALTER TABLE records ADD COLUMN modified TEXT;"
	"ALTER TABLE deliveries ADD COLUMN batch_id TEXT;"
	"CREATE INDEX deliveries_batch ON deliveries (batch_id) "
	"  WHERE batch_id IS NOT NULL;";

/* Version 3: the posture checks' findings (the latest per check and
 * account, with since when it holds) and every change of result. */
static const char store_schema_v3[] =
	"CREATE TABLE posture_findings ("
	"  tenant TEXT NOT NULL,"
	"  check_id TEXT NOT NULL,"
	"  account TEXT NOT NULL,"
	"  result TEXT NOT NULL,"
	"  evidence TEXT,"
	"  since_us INTEGER NOT NULL,"
	"  checked_us INTEGER NOT NULL,"
	"  PRIMARY KEY (tenant, check_id, account)"
	");"
	"CREATE TABLE posture_history ("
	"  tenant TEXT NOT NULL,"
	"  check_id TEXT NOT NULL,"
	"  account TEXT NOT NULL,"
	"  at_us INTEGER NOT NULL,"
	"  result TEXT NOT NULL,"
	"  evidence TEXT"
	");"
	"CREATE INDEX posture_history_at ON posture_history (at_us);";

/* Version 4: announced drills (glasswatchd --drill), and the drill note an
 * alert was marked with, so a retry after a restart renders the same. */
static const char store_schema_v4[] =
	"ALTER TABLE alerts ADD COLUMN drill TEXT;"
	"CREATE TABLE drills ("
	"  id TEXT PRIMARY KEY,"
	"  tenant TEXT NOT NULL,"
	"  account_oid TEXT NOT NULL,"
	"  account_upn TEXT,"
	"  announced_by TEXT NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  reason TEXT,"
	"  announced_us INTEGER NOT NULL,"
	"  until_us INTEGER NOT NULL"
	");"
	"CREATE INDEX drills_account ON drills (tenant, account_oid, until_us);";

/* store_migrations[v] brings a version v - 1 schema to version v. */
static const char *const store_migrations[STORE_VERSION + 1] = {
	[1] = store_schema_v1,
	[2] = store_schema_v2,
	[3] = store_schema_v3,
	[4] = store_schema_v4,
};

static int
store_migrate_to(struct store *s, int version, char **err)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, store_migrations[version], NULL, NULL,
	    &msg) != SQLITE_OK) {
		*err = xasprintf("bringing %s to schema version %d: %s",
		    s->path, version, msg != NULL ? msg :
		    sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* --- helpers --------------------------------------------------------- */

static void
store_error(struct store *s, const char *purpose)
{
	char why[512];

	switch (sqlite3_errcode(s->db)) {
	case SQLITE_FULL:
	case SQLITE_IOERR:
	case SQLITE_READONLY:
	case SQLITE_CANTOPEN:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		/* The file itself fails: nothing new can be kept. */
		snprintf(why, sizeof why, "%s: %s: %s", s->path, purpose,
		    sqlite3_errmsg(s->db));
		log_crit("store: %s", why);
		if (s->fault_cb != NULL)
			s->fault_cb(why, s->fault_arg);
		break;
	default:
		log_warnx("store: %s: %s", purpose, sqlite3_errmsg(s->db));
		break;
	}
}

void
store_on_fault(struct store *s, void (*cb)(const char *, void *), void *arg)
{
	s->fault_cb = cb;
	s->fault_arg = arg;
}

/* The cached statement, prepared on first use. */
static sqlite3_stmt *
store_stmt(struct store *s, enum stmt_id id, const char *purpose)
{
	sqlite3_stmt *st = s->stmts[id];

	if (st == NULL) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1,
		    SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
			store_error(s, purpose);
			sqlite3_finalize(st);
			return NULL;
		}
		s->stmts[id] = st;
	}
	return st;
}

/* Ready the statement for its next use (and drop its read lock). */
static void
store_reset(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Bind a string that may be NULL (NULL binds SQL NULL). */
static int
bind_str(sqlite3_stmt *st, int i, const char *v)
{
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static int
bind_i64(sqlite3_stmt *st, int i, int64_t v)
{
	return sqlite3_bind_int64(st, i, v);
}

static char *
col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *t;

	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return NULL;
	if ((t = sqlite3_column_text(st, i)) == NULL)
		fatalx("store: out of memory reading a column");
	return xstrdup((const char *)t);
}

static int64_t
col_i64(sqlite3_stmt *st, int i)
{
	return sqlite3_column_int64(st, i);
}

/* Run a statement that returns no row; resets it. */
static int
store_exec_stmt(struct store *s, sqlite3_stmt *st, const char *purpose)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	store_reset(st);
	return 0;
}

/* A statement without parameters, by id. */
static int
store_run(struct store *s, enum stmt_id id, const char *purpose)
{
	sqlite3_stmt *st;

	if ((st = store_stmt(s, id, purpose)) == NULL)
		return -1;
	return store_exec_stmt(s, st, purpose);
}

/* Several statements that must apply together: inside the caller's
 * transaction a savepoint, otherwise a transaction of their own. */
static int
store_atomic_begin(struct store *s, int *own)
{
	*own = sqlite3_get_autocommit(s->db);
	if (*own)
		return store_begin(s);
	return store_run(s, STMT_SAVEPOINT, "opening a savepoint");
}

static int
store_atomic_end(struct store *s, int own, int ok)
{
	if (own) {
		if (ok)
			return store_commit(s);
		store_rollback(s);
		return -1;
	}
	if (ok)
		return store_run(s, STMT_RELEASE, "releasing a savepoint");
	/* An I/O error may have rolled the whole transaction back. */
	if (!sqlite3_get_autocommit(s->db)) {
		store_run(s, STMT_ROLLBACK_TO, "rolling back to a savepoint");
		store_run(s, STMT_RELEASE, "releasing a savepoint");
	}
	return -1;
}

static int
mark_state_from_name(const char *name, enum mark_state *out)
{
	for (size_t i = 0; i < NMARK_STATES; i++) {
		if (strcmp(name, mark_state_names[i]) == 0) {
			*out = (enum mark_state)i;
			return 0;
		}
	}
	return -1;
}

static int
delivery_state_from_name(const char *name, enum delivery_state *out)
{
	for (size_t i = 0; i < NDELIVERY_STATES; i++) {
		if (strcmp(name, delivery_state_names[i]) == 0) {
			*out = (enum delivery_state)i;
			return 0;
		}
	}
	return -1;
}

const char *
delivery_state_name(enum delivery_state state)
{
	if ((size_t)state >= NDELIVERY_STATES)
		return "unknown";
	return delivery_state_names[state];
}

/* Suppression and absence rows are keyed by account; a NULL one (a rule
 * over no particular account) is stored as "". */
static const char *
account_key(const char *account)
{
	return account != NULL ? account : "";
}

/* --- opening --------------------------------------------------------- */

static int
store_pragma_int(struct store *s, const char *pragma, int *out, char **err)
{
	sqlite3_stmt *st;
	char *sql;
	int rc;

	sql = xasprintf("PRAGMA %s", pragma);
	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	free(sql);
	if (rc != SQLITE_OK) {
		*err = xasprintf("reading %s of %s: %s", pragma, s->path,
		    sqlite3_errmsg(s->db));
		return -1;
	}
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		*err = xasprintf("reading %s of %s: %s", pragma, s->path,
		    sqlite3_errmsg(s->db));
		sqlite3_finalize(st);
		return -1;
	}
	*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

static int
store_exec_sql(struct store *s, const char *sql, const char *purpose,
    char **err)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		*err = xasprintf("%s of %s: %s", purpose, s->path,
		    msg != NULL ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
store_set_wal(struct store *s, char **err)
{
	sqlite3_stmt *st;
	const unsigned char *mode;
	int ok;

	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		*err = xasprintf("setting WAL mode on %s: %s", s->path,
		    sqlite3_errmsg(s->db));
		sqlite3_finalize(st);
		return -1;
	}
	mode = sqlite3_column_text(st, 0);
	ok = mode != NULL && strcmp((const char *)mode, "wal") == 0;
	if (!ok)
		*err = xasprintf("%s cannot use WAL mode (journal mode %s)",
		    s->path, mode != NULL ? (const char *)mode : "unknown");
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

/* Bring the schema to STORE_VERSION, one migration per version, in one
 * transaction. */
static int
store_migrate(struct store *s, char **err)
{
	char sql[64];
	int version, v;

	if (store_exec_sql(s, "BEGIN IMMEDIATE", "locking", err) == -1)
		return -1;
	/* Read again under the lock: another process may have migrated. */
	if (store_pragma_int(s, "user_version", &version, err) == -1)
		goto fail;
	if (version > STORE_VERSION) {
		*err = xasprintf("%s has schema version %d, newer than this "
		    "glasswatchd knows (%d)", s->path, version, STORE_VERSION);
		goto fail;
	}
	if (version == 0)
		log_info("store: creating %s (schema version %d)", s->path,
		    STORE_VERSION);
	for (v = version + 1; v <= STORE_VERSION; v++) {
		if (version > 0)
			log_notice("store: migrating %s to schema version %d",
			    s->path, v);
		if (store_migrate_to(s, v, err) == -1)
			goto fail;
	}
	if (version < STORE_VERSION) {
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d",
		    STORE_VERSION);
		if (store_exec_sql(s, sql, "setting the schema version",
		    err) == -1)
			goto fail;
		snprintf(sql, sizeof sql, "PRAGMA application_id = %d",
		    STORE_APPLICATION_ID);
		if (store_exec_sql(s, sql, "setting the application id",
		    err) == -1)
			goto fail;
	}
	if (store_exec_sql(s, "COMMIT", "committing the schema", err) == -1)
		goto fail;
	return 0;

fail:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* The state directory: created 0700 if missing (not its parents). */
static int
store_make_dir(const char *dir, int readonly, char **err)
{
	struct stat sb;

	if (stat(dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode)) {
			*err = xasprintf("state directory %s is not a "
			    "directory", dir);
			return -1;
		}
		return 0;
	}
	if (errno != ENOENT || readonly) {
		*err = xasprintf("state directory %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (mkdir(dir, 0700) == -1) {
		*err = xasprintf("creating state directory %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	/* mkdir honours the umask; make it exactly 0700. */
	if (chmod(dir, 0700) == -1) {
		*err = xasprintf("chmod state directory %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Create the database file 0600 before SQLite opens it: SQLite would
 * create it 0644 less the umask, and its -wal and -shm files copy the
 * database file's mode. */
static int
store_make_file(const char *path, char **err)
{
	struct stat sb;
	int fd;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1) {
		*err = xasprintf("opening %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		*err = xasprintf("stat %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		*err = xasprintf("%s is not a regular file", path);
		close(fd);
		return -1;
	}
	if ((sb.st_mode & 077) != 0) {
		log_warnx("store: %s was readable by others (mode %03o); "
		    "setting 0600", path, (unsigned)(sb.st_mode & 0777));
		if (fchmod(fd, 0600) == -1) {
			*err = xasprintf("chmod %s: %s", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

int
store_open(const char *state_dir, int readonly, struct store **out,
    char **err)
{
	struct store *s;
	struct stat sb;
	int flags, version, appid;

	*out = NULL;
	*err = NULL;
	if (store_make_dir(state_dir, readonly, err) == -1)
		return -1;

	s = xcalloc(1, sizeof *s);
	s->readonly = readonly;
	s->path = xasprintf("%s/%s", state_dir, STORE_FILE);

	if (readonly) {
		if (stat(s->path, &sb) == -1) {
			*err = xasprintf("no state store at %s: %s", s->path,
			    strerror(errno));
			goto fail;
		}
		flags = SQLITE_OPEN_READONLY;
	} else {
		if (store_make_file(s->path, err) == -1)
			goto fail;
		flags = SQLITE_OPEN_READWRITE;
	}
#ifdef SQLITE_OPEN_NOFOLLOW
	flags |= SQLITE_OPEN_NOFOLLOW;
#endif
	if (sqlite3_open_v2(s->path, &s->db, flags, NULL) != SQLITE_OK) {
		*err = xasprintf("opening %s: %s", s->path,
		    s->db != NULL ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	/* The file is ours alone: no schema-defined SQL functions, no
	 * writes to the schema through SQL. */
#ifdef SQLITE_DBCONFIG_DEFENSIVE
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
#endif
#ifdef SQLITE_DBCONFIG_TRUSTED_SCHEMA
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
#endif
	if (store_exec_sql(s, "PRAGMA foreign_keys = ON",
	    "enabling foreign keys", err) == -1)
		goto fail;

	if (store_pragma_int(s, "application_id", &appid, err) == -1)
		goto fail;
	if (appid != 0 && appid != STORE_APPLICATION_ID) {
		*err = xasprintf("%s is not a glasswatch state store "
		    "(application id %d)", s->path, appid);
		goto fail;
	}
	if (store_pragma_int(s, "user_version", &version, err) == -1)
		goto fail;
	if (version > STORE_VERSION) {
		*err = xasprintf("%s has schema version %d, newer than this "
		    "glasswatchd knows (%d); refusing to use it", s->path,
		    version, STORE_VERSION);
		goto fail;
	}

	if (readonly) {
		if (version < STORE_VERSION) {
			*err = xasprintf("%s has schema version %d; start "
			    "glasswatchd to upgrade it to %d", s->path,
			    version, STORE_VERSION);
			goto fail;
		}
	} else {
		if (store_set_wal(s, err) == -1)
			goto fail;
		/* See the top of the file. */
		if (store_exec_sql(s, "PRAGMA synchronous = FULL",
		    "setting synchronous", err) == -1)
			goto fail;
		if (version < STORE_VERSION && store_migrate(s, err) == -1)
			goto fail;
	}

	*out = s;
	return 0;

fail:
	store_close(s);
	return -1;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < STMT_COUNT; i++)
		sqlite3_finalize(s->stmts[i]);
	if (s->db != NULL) {
		if (!sqlite3_get_autocommit(s->db)) {
			log_warnx("store: closing with a transaction open; "
			    "rolling it back");
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		}
		if (sqlite3_close(s->db) != SQLITE_OK)
			log_warnx("store: closing %s: %s", s->path,
			    sqlite3_errmsg(s->db));
	}
	free(s->path);
	free(s);
}

struct sqlite3 *
store_db(struct store *s)
{
	return s->db;
}

/* --- transactions ---------------------------------------------------- */

int
store_begin(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db)) {
		log_warnx("store: beginning a transaction: one is already "
		    "open");
		return -1;
	}
	/* IMMEDIATE takes the write lock now, waiting (busy_timeout) for
	 * it, rather than failing halfway when a read turns into a write. */
	return store_run(s, s->readonly ? STMT_BEGIN_READ : STMT_BEGIN,
	    "beginning a transaction");
}

int
store_commit(struct store *s)
{
	if (sqlite3_get_autocommit(s->db)) {
		log_warnx("store: committing: no transaction is open");
		return -1;
	}
	if (store_run(s, STMT_COMMIT, "committing") == -1) {
		/* Leave no half-open transaction behind: the caller
		 * treats a failed commit as a rollback. */
		store_rollback(s);
		return -1;
	}
	return 0;
}

void
store_rollback(struct store *s)
{
	if (sqlite3_get_autocommit(s->db))
		return;
	store_run(s, STMT_ROLLBACK, "rolling back");
}

/* Run a statement that yields one integer (count(*), min()): 1 with a
 * value, 0 when the row or value is absent. */
static int
store_step_i64(struct store *s, sqlite3_stmt *st, const char *purpose,
    int64_t *out)
{
	int rc, found = 0;

	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) != SQLITE_NULL) {
			*out = col_i64(st, 0);
			found = 1;
		}
	} else if (rc != SQLITE_DONE) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	store_reset(st);
	return found;
}

/* The zeroed slot n of a growing array of rows read from a statement. */
static void *
row_slot(void **v, size_t n, size_t *cap, size_t size)
{
	if (n == *cap) {
		*cap = *cap != 0 ? *cap * 2 : 16;
		*v = xreallocarray(*v, *cap, size);
	}
	memset((char *)*v + n * size, 0, size);
	return (char *)*v + n * size;
}

/* --- poller cursors -------------------------------------------------- */

int
store_cursor_get(struct store *s, const char *poller, int64_t *cursor)
{
	static const char purpose[] = "reading a cursor";
	sqlite3_stmt *st;

	if ((st = store_stmt(s, STMT_CURSOR_GET, purpose)) == NULL)
		return -1;
	if (bind_str(st, 1, poller) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	return store_step_i64(s, st, purpose, cursor);
}

int
store_cursor_set(struct store *s, const char *poller, int64_t cursor)
{
	static const char purpose[] = "saving a cursor";
	sqlite3_stmt *st;

	if ((st = store_stmt(s, STMT_CURSOR_SET, purpose)) == NULL)
		return -1;
	if (bind_str(st, 1, poller) != SQLITE_OK ||
	    bind_i64(st, 2, cursor) != SQLITE_OK ||
	    bind_i64(st, 3, time_now_us()) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	return store_exec_stmt(s, st, purpose);
}

int
store_poll_result(struct store *s, const char *poller, int ok, int64_t at_us,
    const char *error)
{
	static const char purpose[] = "saving a poll result";
	sqlite3_stmt *st;

	if ((st = store_stmt(s, STMT_POLL_RESULT, purpose)) == NULL)
		return -1;
	if (bind_str(st, 1, poller) != SQLITE_OK ||
	    sqlite3_bind_int(st, 2, ok ? 1 : 0) != SQLITE_OK ||
	    bind_i64(st, 3, at_us) != SQLITE_OK ||
	    bind_str(st, 4, ok ? NULL : error) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	return store_exec_stmt(s, st, purpose);
}

/* --- records --------------------------------------------------------- */

/* A record from RECORD_COLUMNS starting at column 0; NULL if its signal
 * is unknown to this binary. */
static struct record *
record_from_row(sqlite3_stmt *st)
{
	struct record *r;
	const unsigned char *sig;

	r = record_new();
	sig = sqlite3_column_text(st, 2);
	if (sig == NULL || signal_from_name((const char *)sig,
	    &r->signal) == -1) {
		log_warnx("store: record has an unknown signal \"%s\"",
		    sig != NULL ? (const char *)sig : "");
		record_free(r);
		return NULL;
	}
	r->tenant = col_str(st, 0);
	r->id = col_str(st, 1);
	r->event_us = col_i64(st, 3);
	r->ingest_us = col_i64(st, 4);
	r->received_us = col_i64(st, 5);
	r->user_id = col_str(st, 6);
	r->upn = col_str(st, 7);
	r->ip = col_str(st, 8);
	r->location = col_str(st, 9);
	r->app = col_str(st, 10);
	r->success = sqlite3_column_int(st, 11);
	r->result_code = (long)col_i64(st, 12);
	r->failure_reason = col_str(st, 13);
	r->correlation_id = col_str(st, 14);
	r->activity = col_str(st, 15);
	r->category = col_str(st, 16);
	r->service = col_str(st, 17);
	r->initiator = col_str(st, 18);
	r->initiator_id = col_str(st, 19);
	r->target = col_str(st, 20);
	r->target_ids = col_str(st, 21);
	r->raw = col_str(st, 22);
	r->modified = col_str(st, 23);
	return r;
}

/* Step through rows of records, appending them to out. */
static int
store_read_records(struct store *s, sqlite3_stmt *st, const char *purpose,
    struct record_list *out)
{
	struct record *r;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((r = record_from_row(st)) == NULL) {
			log_warnx("store: %s: unreadable record", purpose);
			store_reset(st);
			return -1;
		}
		record_list_add(out, r);
	}
	if (rc != SQLITE_DONE) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	store_reset(st);
	return 0;
}

int
store_record_insert(struct store *s, const struct record *r)
{
	static const char purpose[] = "inserting record";
	sqlite3_stmt *st;
	int rc;

	if (r->tenant == NULL || r->id == NULL) {
		log_warnx("store: %s: no tenant or id", purpose);
		return -1;
	}
	if ((st = store_stmt(s, STMT_RECORD_INSERT, purpose)) == NULL)
		return -1;
	rc = bind_str(st, 1, r->tenant);
	rc |= bind_str(st, 2, r->id);
	rc |= bind_str(st, 3, signal_name(r->signal));
	rc |= bind_i64(st, 4, r->event_us);
	rc |= bind_i64(st, 5, r->ingest_us);
	rc |= bind_i64(st, 6, r->received_us != 0 ? r->received_us :
	    time_now_us());
	rc |= bind_str(st, 7, r->user_id);
	rc |= bind_str(st, 8, r->upn);
	rc |= bind_str(st, 9, r->ip);
	rc |= bind_str(st, 10, r->location);
	rc |= bind_str(st, 11, r->app);
	rc |= sqlite3_bind_int(st, 12, r->success ? 1 : 0);
	rc |= bind_i64(st, 13, r->result_code);
	rc |= bind_str(st, 14, r->failure_reason);
	rc |= bind_str(st, 15, r->correlation_id);
	rc |= bind_str(st, 16, r->activity);
	rc |= bind_str(st, 17, r->category);
	rc |= bind_str(st, 18, r->service);
	rc |= bind_str(st, 19, r->initiator);
	rc |= bind_str(st, 20, r->initiator_id);
	rc |= bind_str(st, 21, r->target);
	rc |= bind_str(st, 22, r->target_ids);
	rc |= bind_str(st, 23, r->raw);
	rc |= bind_str(st, 24, r->modified);
	if (rc != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	if (store_exec_stmt(s, st, purpose) == -1)
		return -1;
	return sqlite3_changes(s->db) == 1 ? 1 : 0;
}

int
store_record_get(struct store *s, const char *tenant, const char *id,
    struct record **out)
{
	static const char purpose[] = "reading a record";
	struct record_list l;
	sqlite3_stmt *st;

	*out = NULL;
	if ((st = store_stmt(s, STMT_RECORD_GET, purpose)) == NULL)
		return -1;
	if (bind_str(st, 1, tenant) != SQLITE_OK ||
	    bind_str(st, 2, id) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	record_list_init(&l);
	if (store_read_records(s, st, purpose, &l) == -1) {
		record_list_clear(&l);
		return -1;
	}
	if (l.n == 0) {
		record_list_clear(&l);
		return 0;
	}
	*out = l.v[0];
	l.n = 0;
	record_list_clear(&l);
	return 1;
}

/* --- rule state ------------------------------------------------------ */

int
store_rule_since(struct store *s, const char *rule, int64_t now_us,
    int64_t *since_us)
{
	static const char purpose[] = "reading when a rule started";
	sqlite3_stmt *st;

	if (!s->readonly) {
		if ((st = store_stmt(s, STMT_RULE_SINCE_INSERT,
		    "recording a new rule")) == NULL)
			return -1;
		if (bind_str(st, 1, rule) != SQLITE_OK ||
		    bind_i64(st, 2, now_us) != SQLITE_OK) {
			store_error(s, "recording a new rule");
			store_reset(st);
			return -1;
		}
		if (store_exec_stmt(s, st, "recording a new rule") == -1)
			return -1;
	}
	if ((st = store_stmt(s, STMT_RULE_SINCE_GET, purpose)) == NULL)
		return -1;
	if (bind_str(st, 1, rule) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	switch (store_step_i64(s, st, purpose, since_us)) {
	case -1:
		return -1;
	case 0:
		/* A read-only store that has never seen the rule. */
		*since_us = now_us;
		break;
	}
	return 0;
}

int
store_rule_unmarked(struct store *s, const char *rule, const char *tenant,
    enum signal signal, struct record_list *out)
{
	static const char purpose[] = "reading records new to a rule";
	sqlite3_stmt *st;

	if ((st = store_stmt(s, STMT_RULE_UNMARKED, purpose)) == NULL)
		return -1;
	if (bind_str(st, 1, rule) != SQLITE_OK ||
	    bind_str(st, 2, tenant) != SQLITE_OK ||
	    bind_str(st, 3, signal_name(signal)) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	return store_read_records(s, st, purpose, out);
}

int
store_rule_mark(struct store *s, const char *rule, const char *tenant,
    const char *record_id, const char *account, enum mark_state state,
    const char *incident_of, const char *alert_id, int64_t event_us)
{
	static const char purpose[] = "marking a record for a rule";
	sqlite3_stmt *st;
	int rc;

	if ((size_t)state >= NMARK_STATES) {
		log_warnx("store: %s: bad state %d", purpose, (int)state);
		return -1;
	}
	if ((st = store_stmt(s, STMT_RULE_MARK, purpose)) == NULL)
		return -1;
	rc = bind_str(st, 1, rule);
	rc |= bind_str(st, 2, tenant);
	rc |= bind_str(st, 3, record_id);
	rc |= bind_str(st, 4, account);
	rc |= bind_str(st, 5, mark_state_names[state]);
	rc |= bind_str(st, 6, incident_of);
	rc |= bind_str(st, 7, alert_id);
	rc |= bind_i64(st, 8, event_us);
	if (rc != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	return store_exec_stmt(s, st, purpose);
}

void
rule_marks_free(struct rule_mark *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].record_id);
		free(v[i].account);
		free(v[i].incident_of);
		free(v[i].alert_id);
		free(v[i].user_id);
		free(v[i].correlation_id);
	}
	free(v);
}

int
store_rule_marks_window(struct store *s, const char *rule,
    const char *tenant, const char *account, int64_t from_us, int64_t to_us,
    struct rule_mark **out, size_t *n)
{
	static const char purpose[] = "reading a rule's marks in a window";
	struct rule_mark *v = NULL, *m;
	size_t nv = 0, cap = 0;
	sqlite3_stmt *st;
	const unsigned char *state;
	int rc;

	*out = NULL;
	*n = 0;
	if ((st = store_stmt(s, STMT_RULE_MARKS_WINDOW, purpose)) == NULL)
		return -1;
	rc = bind_str(st, 1, rule);
	rc |= bind_str(st, 2, tenant);
	rc |= bind_str(st, 3, account);
	rc |= bind_i64(st, 4, from_us);
	rc |= bind_i64(st, 5, to_us);
	if (rc != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		m = row_slot((void **)&v, nv, &cap, sizeof *v);
		state = sqlite3_column_text(st, 2);
		if (state == NULL || mark_state_from_name(
		    (const char *)state, &m->state) == -1) {
			log_warnx("store: %s: unknown mark state", purpose);
			store_reset(st);
			rule_marks_free(v, nv);
			return -1;
		}
		nv++;
		m->record_id = col_str(st, 0);
		m->account = col_str(st, 1);
		m->incident_of = col_str(st, 3);
		m->alert_id = col_str(st, 4);
		m->event_us = col_i64(st, 5);
		m->received_us = col_i64(st, 6);
		m->user_id = col_str(st, 7);
		m->correlation_id = col_str(st, 8);
		m->result_code = (long)col_i64(st, 9);
	}
	if (rc != SQLITE_DONE) {
		store_error(s, purpose);
		store_reset(st);
		rule_marks_free(v, nv);
		return -1;
	}
	store_reset(st);
	*out = v;
	*n = nv;
	return 0;
}


int
store_rule_count_received(struct store *s, const char *rule,
    const char *tenant, const char *account, int64_t from_us, int64_t to_us,
    long *count)
{
	static const char purpose[] = "counting a rule's received incidents";
	sqlite3_stmt *st;
	int64_t v = 0;
	int rc;

	if ((st = store_stmt(s, STMT_RULE_COUNT_RECEIVED, purpose)) == NULL)
		return -1;
	rc = bind_str(st, 1, rule);
	rc |= bind_str(st, 2, tenant);
	rc |= bind_str(st, 3, account);
	rc |= bind_i64(st, 4, from_us);
	rc |= bind_i64(st, 5, to_us);
	if (rc != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	if (store_step_i64(s, st, purpose, &v) == -1)
		return -1;
	*count = (long)v;
	return 0;
}

/* The (rule, tenant, account) key of suppressions and absences. */
static int
bind_key(sqlite3_stmt *st, const char *rule, const char *tenant,
    const char *account)
{
	int rc;

	rc = bind_str(st, 1, rule);
	rc |= bind_str(st, 2, tenant);
	rc |= bind_str(st, 3, account_key(account));
	return rc;
}

/* get for suppressions and absences: 1 found, 0 none. */
static int
store_key_get(struct store *s, enum stmt_id id, const char *purpose,
    const char *rule, const char *tenant, const char *account, int64_t *out)
{
	sqlite3_stmt *st;

	if ((st = store_stmt(s, id, purpose)) == NULL)
		return -1;
	if (bind_key(st, rule, tenant, account) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	return store_step_i64(s, st, purpose, out);
}

static int
store_key_set(struct store *s, enum stmt_id id, const char *purpose,
    const char *rule, const char *tenant, const char *account, int64_t v)
{
	sqlite3_stmt *st;

	if ((st = store_stmt(s, id, purpose)) == NULL)
		return -1;
	if (bind_key(st, rule, tenant, account) != SQLITE_OK ||
	    bind_i64(st, 4, v) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	return store_exec_stmt(s, st, purpose);
}

int
store_suppression_get(struct store *s, const char *rule, const char *tenant,
    const char *account, int64_t *until_us)
{
	return store_key_get(s, STMT_SUPPRESSION_GET,
	    "reading a suppression window", rule, tenant, account, until_us);
}

int
store_suppression_set(struct store *s, const char *rule, const char *tenant,
    const char *account, int64_t until_us)
{
	return store_key_set(s, STMT_SUPPRESSION_SET,
	    "saving a suppression window", rule, tenant, account, until_us);
}

int
store_suppression_delete(struct store *s, const char *rule,
    const char *tenant, const char *account)
{
	static const char purpose[] = "deleting a suppression window";
	sqlite3_stmt *st;

	if ((st = store_stmt(s, STMT_SUPPRESSION_DELETE, purpose)) == NULL)
		return -1;
	if (bind_key(st, rule, tenant, account) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	return store_exec_stmt(s, st, purpose);
}

void
suppressions_free(struct suppression *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].rule);
		free(v[i].tenant);
		free(v[i].account);
	}
	free(v);
}

int
store_suppressions(struct store *s, struct suppression **out, size_t *n)
{
	static const char purpose[] = "listing suppression windows";
	struct suppression *v = NULL;
	size_t nv = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*n = 0;
	if ((st = store_stmt(s, STMT_SUPPRESSIONS, purpose)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (nv == cap) {
			cap = cap != 0 ? cap * 2 : 8;
			v = xreallocarray(v, cap, sizeof *v);
		}
		v[nv].rule = col_str(st, 0);
		v[nv].tenant = col_str(st, 1);
		v[nv].account = col_str(st, 2);
		v[nv].until_us = col_i64(st, 3);
		nv++;
	}
	if (rc != SQLITE_DONE) {
		store_error(s, purpose);
		store_reset(st);
		suppressions_free(v, nv);
		return -1;
	}
	store_reset(st);
	*out = v;
	*n = nv;
	return 0;
}

int
store_rule_suppressed(struct store *s, const char *rule, const char *tenant,
    const char *account, struct record_list *out)
{
	static const char purpose[] = "reading suppressed records";
	sqlite3_stmt *st;
	int rc;

	if ((st = store_stmt(s, STMT_RULE_SUPPRESSED, purpose)) == NULL)
		return -1;
	rc = bind_str(st, 1, rule);
	rc |= bind_str(st, 2, tenant);
	rc |= bind_str(st, 3, account);
	if (rc != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	return store_read_records(s, st, purpose, out);
}

int
store_absence_get(struct store *s, const char *rule, const char *tenant,
    const char *account, int64_t *last_fired_us)
{
	return store_key_get(s, STMT_ABSENCE_GET, "reading an absence rule",
	    rule, tenant, account, last_fired_us);
}

int
store_absence_set(struct store *s, const char *rule, const char *tenant,
    const char *account, int64_t last_fired_us)
{
	return store_key_set(s, STMT_ABSENCE_SET, "saving an absence rule",
	    rule, tenant, account, last_fired_us);
}

/* --- alerts ---------------------------------------------------------- */

static int
store_alert_insert_rows(struct store *s, const struct alert *a)
{
	static const char purpose[] = "inserting alert";
	static const char link_purpose[] = "linking an alert to its records";
	sqlite3_stmt *st;
	int rc;

	if ((st = store_stmt(s, STMT_ALERT_INSERT, purpose)) == NULL)
		return -1;
	rc = bind_str(st, 1, a->id);
	rc |= bind_str(st, 2, alert_kind_name(a->kind));
	rc |= bind_str(st, 3, a->rule);
	rc |= bind_str(st, 4, a->description);
	rc |= sqlite3_bind_int(st, 5, a->severity);
	rc |= bind_str(st, 6, a->tenant);
	rc |= bind_str(st, 7, a->tenant_id);
	rc |= bind_str(st, 8, a->account_oid);
	rc |= bind_str(st, 9, a->account_upn);
	rc |= bind_i64(st, 10, a->created_us);
	rc |= bind_i64(st, 11, a->count);
	rc |= bind_str(st, 12, a->subject);
	rc |= bind_str(st, 13, a->drill);
	if (rc != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	if (store_exec_stmt(s, st, purpose) == -1)
		return -1;

	if ((st = store_stmt(s, STMT_ALERT_LINK, link_purpose)) == NULL)
		return -1;
	for (size_t i = 0; i < a->nrecords; i++) {
		const struct record *r = a->records[i];

		rc = bind_str(st, 1, a->id);
		rc |= bind_i64(st, 2, (int64_t)i);
		rc |= bind_str(st, 3, r->tenant);
		rc |= bind_str(st, 4, r->id);
		if (rc != SQLITE_OK) {
			store_error(s, link_purpose);
			store_reset(st);
			return -1;
		}
		if (store_exec_stmt(s, st, link_purpose) == -1)
			return -1;
	}
	return 0;
}

int
store_alert_insert(struct store *s, const struct alert *a)
{
	int own, ok;

	if (a->id == NULL) {
		log_warnx("store: inserting alert: no id");
		return -1;
	}
	if (store_atomic_begin(s, &own) == -1)
		return -1;
	ok = store_alert_insert_rows(s, a) == 0;
	return store_atomic_end(s, own, ok);
}

int
store_alert_load(struct store *s, const char *id, struct alert **out)
{
	static const char purpose[] = "loading alert";
	struct record_list l;
	struct alert *a;
	sqlite3_stmt *st;
	const unsigned char *kind;
	int rc;

	*out = NULL;
	if ((st = store_stmt(s, STMT_ALERT_GET, purpose)) == NULL)
		return -1;
	if (bind_str(st, 1, id) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		store_reset(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	a = xcalloc(1, sizeof *a);
	kind = sqlite3_column_text(st, 1);
	if (kind == NULL || alert_kind_from_name((const char *)kind,
	    &a->kind) == -1) {
		log_warnx("store: %s %s: unknown kind \"%s\"", purpose, id,
		    kind != NULL ? (const char *)kind : "");
		store_reset(st);
		free(a);
		return -1;
	}
	a->id = col_str(st, 0);
	a->rule = col_str(st, 2);
	a->description = col_str(st, 3);
	a->severity = sqlite3_column_int(st, 4);
	a->tenant = col_str(st, 5);
	a->tenant_id = col_str(st, 6);
	a->account_oid = col_str(st, 7);
	a->account_upn = col_str(st, 8);
	a->created_us = col_i64(st, 9);
	a->count = (long)col_i64(st, 10);
	a->subject = col_str(st, 11);
	a->drill = col_str(st, 12);
	store_reset(st);

	if ((st = store_stmt(s, STMT_ALERT_RECORDS, purpose)) == NULL)
		goto fail;
	if (bind_str(st, 1, id) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		goto fail;
	}
	record_list_init(&l);
	if (store_read_records(s, st, purpose, &l) == -1) {
		record_list_clear(&l);
		goto fail;
	}
	for (size_t i = 0; i < l.n; i++)
		alert_add_record(a, l.v[i]);
	l.n = 0;
	record_list_clear(&l);
	*out = a;
	return 1;

fail:
	alert_free(a);
	return -1;
}

/* --- the outbox ------------------------------------------------------ */

int
store_delivery_insert(struct store *s, const char *alert_id,
    const char *notifier, const char *recipient, int64_t now_us)
{
	static const char purpose[] = "inserting delivery";
	sqlite3_stmt *st;
	int rc;

	if ((st = store_stmt(s, STMT_DELIVERY_INSERT, purpose)) == NULL)
		return -1;
	rc = bind_str(st, 1, alert_id);
	rc |= bind_str(st, 2, notifier);
	rc |= bind_str(st, 3, recipient);
	rc |= bind_i64(st, 4, now_us);
	if (rc != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	if (store_exec_stmt(s, st, purpose) == -1)
		return -1;
	return sqlite3_changes(s->db) == 1 ? 1 : 0;
}

void
delivery_rows_free(struct delivery_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].alert_id);
		free(v[i].notifier);
		free(v[i].recipient);
		free(v[i].last_error);
	}
	free(v);
}

/* Step through rows of DELIVERY_COLUMNS. */
static int
store_read_deliveries(struct store *s, sqlite3_stmt *st, const char *purpose,
    struct delivery_row **out, size_t *n)
{
	struct delivery_row *v = NULL, *d;
	size_t nv = 0, cap = 0;
	const unsigned char *state;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		d = row_slot((void **)&v, nv, &cap, sizeof *v);
		state = sqlite3_column_text(st, 3);
		if (state == NULL || delivery_state_from_name(
		    (const char *)state, &d->state) == -1) {
			log_warnx("store: %s: unknown delivery state", purpose);
			store_reset(st);
			delivery_rows_free(v, nv);
			return -1;
		}
		nv++;
		d->alert_id = col_str(st, 0);
		d->notifier = col_str(st, 1);
		d->recipient = col_str(st, 2);
		d->attempts = sqlite3_column_int(st, 4);
		d->next_us = col_i64(st, 5);
		d->created_us = col_i64(st, 6);
		d->updated_us = col_i64(st, 7);
		d->last_error = col_str(st, 8);
	}
	if (rc != SQLITE_DONE) {
		store_error(s, purpose);
		store_reset(st);
		delivery_rows_free(v, nv);
		return -1;
	}
	store_reset(st);
	*out = v;
	*n = nv;
	return 0;
}

static int64_t
limit_i64(size_t limit)
{
	return limit > INT64_MAX ? INT64_MAX : (int64_t)limit;
}

int
store_deliveries_due(struct store *s, int64_t now_us, size_t limit,
    struct delivery_row **out, size_t *n)
{
	static const char purpose[] = "reading due deliveries";
	sqlite3_stmt *st;

	*out = NULL;
	*n = 0;
	if ((st = store_stmt(s, STMT_DELIVERIES_DUE, purpose)) == NULL)
		return -1;
	if (bind_i64(st, 1, now_us) != SQLITE_OK ||
	    bind_i64(st, 2, limit_i64(limit)) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	return store_read_deliveries(s, st, purpose, out, n);
}

int
store_deliveries_due_for(struct store *s, const char *notifier,
    int64_t now_us, size_t limit, struct delivery_row **out, size_t *n)
{
	static const char purpose[] = "reading a notifier's due deliveries";
	sqlite3_stmt *st;

	*out = NULL;
	*n = 0;
	if ((st = store_stmt(s, STMT_DELIVERIES_DUE_FOR, purpose)) == NULL)
		return -1;
	if (bind_i64(st, 1, now_us) != SQLITE_OK ||
	    bind_i64(st, 2, limit_i64(limit)) != SQLITE_OK ||
	    bind_str(st, 3, notifier) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	return store_read_deliveries(s, st, purpose, out, n);
}

int
store_delivery_next_due(struct store *s, int64_t *next_us)
{
	static const char purpose[] = "reading the next due delivery";
	sqlite3_stmt *st;

	if ((st = store_stmt(s, STMT_DELIVERY_NEXT_DUE, purpose)) == NULL)
		return -1;
	return store_step_i64(s, st, purpose, next_us);
}

int
store_delivery_next_due_for(struct store *s, const char *notifier,
    int64_t *next_us)
{
	static const char purpose[] = "reading a notifier's next delivery";
	sqlite3_stmt *st;

	if ((st = store_stmt(s, STMT_DELIVERY_NEXT_DUE_FOR, purpose)) == NULL)
		return -1;
	if (bind_str(st, 1, notifier) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	return store_step_i64(s, st, purpose, next_us);
}

int
store_delivery_update(struct store *s, const char *alert_id,
    const char *notifier, const char *recipient, enum delivery_state state,
    int attempts, int64_t next_us, const char *last_error, int64_t now_us)
{
	static const char purpose[] = "updating delivery";
	sqlite3_stmt *st;
	int rc;

	if ((size_t)state >= NDELIVERY_STATES) {
		log_warnx("store: %s: bad state %d", purpose, (int)state);
		return -1;
	}
	if ((st = store_stmt(s, STMT_DELIVERY_UPDATE, purpose)) == NULL)
		return -1;
	rc = bind_str(st, 1, alert_id);
	rc |= bind_str(st, 2, notifier);
	rc |= bind_str(st, 3, recipient);
	rc |= bind_str(st, 4, delivery_state_names[state]);
	rc |= sqlite3_bind_int(st, 5, attempts);
	rc |= bind_i64(st, 6, next_us);
	rc |= bind_str(st, 7, last_error);
	rc |= bind_i64(st, 8, now_us);
	if (rc != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	if (store_exec_stmt(s, st, purpose) == -1)
		return -1;
	if (sqlite3_changes(s->db) != 1) {
		log_warnx("store: %s: no delivery of alert %s via %s to %s",
		    purpose, alert_id, notifier, recipient);
		return -1;
	}
	return 0;
}

int
store_deliveries_reset_sending(struct store *s)
{
	static const char purpose[] = "resetting interrupted deliveries";
	sqlite3_stmt *st;
	int n;

	if ((st = store_stmt(s, STMT_DELIVERIES_RESET_SENDING,
	    purpose)) == NULL)
		return -1;
	if (bind_i64(st, 1, time_now_us()) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	if (store_exec_stmt(s, st, purpose) == -1)
		return -1;
	if ((n = sqlite3_changes(s->db)) > 0)
		log_notice("store: %d deliver%s interrupted by a stop will "
		    "be sent again", n, n == 1 ? "y" : "ies");
	return 0;
}

int
store_delivery_count(struct store *s, const char *notifier,
    enum delivery_state state, long *count)
{
	static const char purpose[] = "counting deliveries";
	sqlite3_stmt *st;
	int64_t v = 0;

	if ((size_t)state >= NDELIVERY_STATES) {
		log_warnx("store: %s: bad state %d", purpose, (int)state);
		return -1;
	}
	if ((st = store_stmt(s, STMT_DELIVERY_COUNT, purpose)) == NULL)
		return -1;
	if (bind_str(st, 1, delivery_state_names[state]) != SQLITE_OK ||
	    bind_str(st, 2, notifier) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	if (store_step_i64(s, st, purpose, &v) == -1)
		return -1;
	*count = (long)v;
	return 0;
}

int
store_delivery_notifiers(struct store *s, struct strlist *out)
{
	static const char purpose[] = "listing notifiers with deliveries";
	sqlite3_stmt *st;
	const unsigned char *name;
	int rc;

	if ((st = store_stmt(s, STMT_DELIVERY_NOTIFIERS, purpose)) == NULL)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((name = sqlite3_column_text(st, 0)) != NULL)
			strlist_add(out, (const char *)name);
	}
	if (rc != SQLITE_DONE) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	store_reset(st);
	return 0;
}

int
store_deliveries_stale(struct store *s, const char *notifier,
    int64_t created_before_us, size_t limit, struct delivery_row **out,
    size_t *n)
{
	static const char purpose[] = "reading old pending deliveries";
	sqlite3_stmt *st;

	*out = NULL;
	*n = 0;
	if ((st = store_stmt(s, STMT_DELIVERIES_STALE, purpose)) == NULL)
		return -1;
	if (bind_str(st, 1, notifier) != SQLITE_OK ||
	    bind_i64(st, 2, created_before_us) != SQLITE_OK ||
	    bind_i64(st, 3, limit_i64(limit)) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	return store_read_deliveries(s, st, purpose, out, n);
}

/* A statement by id with parameters 1.. bound from a format: 's' a
 * string (may be NULL), 'l' an int64_t. NULL (logged) on an error. */
static sqlite3_stmt *
store_prepare(struct store *s, enum stmt_id id, const char *purpose,
    const char *fmt, ...)
{
	sqlite3_stmt *st;
	va_list ap;
	int rc = SQLITE_OK;

	if ((st = store_stmt(s, id, purpose)) == NULL)
		return NULL;
	va_start(ap, fmt);
	for (int i = 1; *fmt != '\0' && rc == SQLITE_OK; fmt++, i++)
		rc = *fmt == 's' ? bind_str(st, i, va_arg(ap, const char *)) :
		    bind_i64(st, i, va_arg(ap, int64_t));
	va_end(ap);
	if (rc != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return NULL;
	}
	return st;
}

int
store_delivery_sent_since(struct store *s, const char *notifier,
    const char *recipient, int64_t since_us, long *count, int64_t *oldest_us)
{
	static const char purpose[] = "counting recent sends";
	sqlite3_stmt *st;
	int rc;

	*count = 0;
	*oldest_us = 0;
	if ((st = store_prepare(s, STMT_SENT_SINCE, purpose, "ssl", notifier,
	    recipient, since_us)) == NULL)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		*count = (long)col_i64(st, 0);
		*oldest_us = col_i64(st, 1);
	} else if (rc != SQLITE_DONE) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	store_reset(st);
	return 0;
}

int
store_deliveries_due_to(struct store *s, const char *notifier,
    const char *recipient, int64_t now_us, size_t limit,
    struct delivery_row **out, size_t *n)
{
	static const char purpose[] = "reading a recipient's due deliveries";
	sqlite3_stmt *st;

	*out = NULL;
	*n = 0;
	if ((st = store_prepare(s, STMT_DELIVERIES_DUE_TO, purpose, "ssll",
	    notifier, recipient, now_us, limit_i64(limit))) == NULL)
		return -1;
	return store_read_deliveries(s, st, purpose, out, n);
}

int
store_deliveries_hold(struct store *s, const char *notifier,
    const char *recipient, int64_t now_us, int64_t until_us)
{
	static const char purpose[] = "holding deliveries for a rate limit";
	sqlite3_stmt *st;

	if ((st = store_prepare(s, STMT_DELIVERIES_HOLD, purpose, "ssll",
	    notifier, recipient, now_us, until_us)) == NULL)
		return -1;
	return store_exec_stmt(s, st, purpose);
}

int
store_delivery_set_batch(struct store *s, const char *alert_id,
    const char *notifier, const char *recipient, const char *batch_id,
    int64_t now_us)
{
	static const char purpose[] = "putting a delivery in a batch";
	sqlite3_stmt *st;

	if ((st = store_prepare(s, STMT_DELIVERY_SET_BATCH, purpose, "ssssl",
	    alert_id, notifier, recipient, batch_id, now_us)) == NULL)
		return -1;
	if (store_exec_stmt(s, st, purpose) == -1)
		return -1;
	return sqlite3_changes(s->db) == 1 ? 0 : -1;
}

int
store_batch_settle(struct store *s, const char *batch_id,
    enum delivery_state state, const char *error, int64_t now_us)
{
	static const char purpose[] = "settling the deliveries of a batch";
	sqlite3_stmt *st;

	if ((size_t)state >= NDELIVERY_STATES) {
		log_warnx("store: %s: bad state %d", purpose, (int)state);
		return -1;
	}
	if ((st = store_prepare(s, STMT_BATCH_SETTLE, purpose, "sssl",
	    batch_id, delivery_state_names[state], error, now_us)) == NULL)
		return -1;
	return store_exec_stmt(s, st, purpose);
}

int
store_delivery_attempt(struct store *s, const char *alert_id,
    const char *notifier, const char *recipient, int64_t at_us,
    const char *result, const char *error)
{
	static const char purpose[] = "recording a delivery attempt";
	sqlite3_stmt *st;
	int rc;

	if ((st = store_stmt(s, STMT_ATTEMPT_INSERT, purpose)) == NULL)
		return -1;
	rc = bind_str(st, 1, alert_id);
	rc |= bind_str(st, 2, notifier);
	rc |= bind_str(st, 3, recipient);
	rc |= bind_i64(st, 4, at_us);
	rc |= bind_str(st, 5, result);
	rc |= bind_str(st, 6, error);
	if (rc != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	return store_exec_stmt(s, st, purpose);
}

/* --- history --------------------------------------------------------- */

/* A DELETE of rows older than before_us: how many went, or -1. */
static int
store_delete_before(struct store *s, enum stmt_id id, const char *purpose,
    int64_t before_us)
{
	sqlite3_stmt *st;

	if ((st = store_stmt(s, id, purpose)) == NULL)
		return -1;
	if (bind_i64(st, 1, before_us) != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	if (store_exec_stmt(s, st, purpose) == -1)
		return -1;
	return sqlite3_changes(s->db);
}

int
store_prune(struct store *s, int64_t before_us)
{
	int own, ok = 0, nalerts = 0, nrecords = 0;

	if (store_atomic_begin(s, &own) == -1)
		return -1;
	if ((nalerts = store_delete_before(s, STMT_PRUNE_ALERTS,
	    "pruning alerts", before_us)) == -1 ||
	    (nrecords = store_delete_before(s, STMT_PRUNE_RECORDS,
	    "pruning records", before_us)) == -1 ||
	    store_delete_before(s, STMT_PRUNE_POSTURE,
	    "pruning posture history", before_us) == -1 ||
	    store_delete_before(s, STMT_PRUNE_DRILLS,
	    "pruning drills", before_us) == -1)
		goto out;
	ok = 1;
out:
	if (store_atomic_end(s, own, ok) == -1)
		return -1;
	if (nalerts > 0 || nrecords > 0)
		log_info("store: pruned %d alert(s) and %d record(s) from "
		    "the history", nalerts, nrecords);
	return 0;
}

/* --- posture findings ------------------------------------------------ */

int
store_posture_update(struct store *s, const char *tenant, const char *check,
    const char *account, const char *result, const char *evidence,
    int64_t now_us, char **prev)
{
	static const char purpose[] = "saving a posture finding";
	sqlite3_stmt *st;
	int own, ok = 0, rc;

	*prev = NULL;
	if (store_atomic_begin(s, &own) == -1)
		return -1;
	if ((st = store_stmt(s, STMT_POSTURE_GET, purpose)) == NULL)
		goto out;
	rc = bind_str(st, 1, tenant);
	rc |= bind_str(st, 2, check);
	rc |= bind_str(st, 3, account);
	if (rc != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*prev = col_str(st, 0);
	else if (rc != SQLITE_DONE) {
		store_error(s, purpose);
		store_reset(st);
		goto out;
	}
	store_reset(st);
	for (int id = STMT_POSTURE_SET; id <= STMT_POSTURE_HISTORY; id++) {
		/* History only when the result changed. */
		if (id == STMT_POSTURE_HISTORY && *prev != NULL &&
		    strcmp(*prev, result) == 0)
			break;
		if ((st = store_stmt(s, (enum stmt_id)id, purpose)) == NULL)
			goto out;
		rc = bind_str(st, 1, tenant);
		rc |= bind_str(st, 2, check);
		rc |= bind_str(st, 3, account);
		rc |= bind_str(st, 4, result);
		rc |= bind_str(st, 5, evidence);
		rc |= bind_i64(st, 6, now_us);
		if (rc != SQLITE_OK) {
			store_error(s, purpose);
			store_reset(st);
			goto out;
		}
		if (store_exec_stmt(s, st, purpose) == -1)
			goto out;
	}
	ok = 1;
out:
	if (store_atomic_end(s, own, ok) == -1) {
		free(*prev);
		*prev = NULL;
		return -1;
	}
	return 0;
}

/* --- drills ---------------------------------------------------------- */

int
store_drill_insert(struct store *s, const struct drill *d)
{
	static const char purpose[] = "saving a drill";
	sqlite3_stmt *st;
	int rc;

	if ((st = store_stmt(s, STMT_DRILL_INSERT, purpose)) == NULL)
		return -1;
	rc = bind_str(st, 1, d->id);
	rc |= bind_str(st, 2, d->tenant);
	rc |= bind_str(st, 3, d->account_oid);
	rc |= bind_str(st, 4, d->account_upn);
	rc |= bind_str(st, 5, d->announced_by);
	rc |= bind_i64(st, 6, (int64_t)d->uid);
	rc |= bind_str(st, 7, d->reason);
	rc |= bind_i64(st, 8, d->announced_us);
	rc |= bind_i64(st, 9, d->until_us);
	if (rc != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	return store_exec_stmt(s, st, purpose);
}

static struct drill *
store_drill_row(sqlite3_stmt *st)
{
	struct drill *d = xcalloc(1, sizeof *d);

	d->id = col_str(st, 0);
	d->tenant = col_str(st, 1);
	d->account_oid = col_str(st, 2);
	d->account_upn = col_str(st, 3);
	d->announced_by = col_str(st, 4);
	d->uid = (long)col_i64(st, 5);
	d->reason = col_str(st, 6);
	d->announced_us = col_i64(st, 7);
	d->until_us = col_i64(st, 8);
	return d;
}

/* One row of a drill query: 1 found, 0 none, -1. */
static int
store_drill_query(struct store *s, enum stmt_id id, const char *purpose,
    const char *tenant, const char *oid, int64_t at_us, struct drill **out,
    int64_t *extra)
{
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	if ((st = store_stmt(s, id, purpose)) == NULL)
		return -1;
	rc = bind_str(st, 1, tenant);
	rc |= bind_str(st, 2, oid);
	rc |= bind_i64(st, 3, at_us);
	if (rc != SQLITE_OK) {
		store_error(s, purpose);
		store_reset(st);
		return -1;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = store_drill_row(st);
		if (extra != NULL)
			*extra = col_i64(st, 9);
	} else if (rc != SQLITE_DONE)
		store_error(s, purpose);
	store_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
store_drill_at(struct store *s, const char *tenant, const char *oid,
    int64_t event_us, struct drill **out)
{
	return store_drill_query(s, STMT_DRILL_AT, "finding a drill", tenant,
	    oid, event_us, out, NULL);
}

int
store_drill_validated(struct store *s, const char *tenant, const char *oid,
    int64_t since_us, struct drill **out, int64_t *sign_in_us)
{
	return store_drill_query(s, STMT_DRILL_VALIDATED,
	    "finding a drill sign-in", tenant, oid, since_us, out, sign_in_us);
}
