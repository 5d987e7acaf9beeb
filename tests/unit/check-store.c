/*
 * The state store over a real SQLite file in a temporary directory: the
 * schema and its version, what survives a reopen, transactions, the rule
 * state queries, alerts, the outbox rows and pruning. Some checks read the
 * file with sqlite3 directly, as the integration tests do.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert.h"
#include "drill.h"
#include "record.h"
#include "store.h"
#include "strlist.h"
#include "timeutil.h"
#include "xmalloc.h"

#define SEC	USEC_PER_SEC
#define T0	(INT64_C(1700000000) * SEC)

static char	 tmp[] = "/tmp/check-store-XXXXXX";
static char	 dir[300];		/* the state dir, inside tmp */
static char	 dbpath[400];
static struct store *st;

static void
setup(void)
{
	char *err = NULL;

	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(dir, sizeof dir, "%s/state", tmp);
	snprintf(dbpath, sizeof dbpath, "%s/%s", dir, STORE_FILE);
	ck_assert_int_eq(store_open(dir, 0, &st, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_ptr_nonnull(st);
}

static void
teardown(void)
{
	char cmd[400];

	store_close(st);
	st = NULL;
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
	ck_assert_int_eq(system(cmd), 0);
	strcpy(tmp, "/tmp/check-store-XXXXXX");
}

/* One integer from the file, read behind the store's back. */
static int64_t
sql_int(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	int64_t v;

	ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

/* One text value from the file (caller frees; NULL for SQL NULL). */
static char *
sql_text(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	const unsigned char *t;
	char *v;

	ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	t = sqlite3_column_text(s, 0);
	v = t != NULL ? xstrdup((const char *)t) : NULL;
	sqlite3_finalize(s);
	sqlite3_close(db);
	return v;
}

static void
sql_exec(const char *sql)
{
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static struct record *
mkrec(const char *id, enum signal sig, const char *user, int64_t event_us,
    int64_t received_us)
{
	struct record *r = record_new();

	r->signal = sig;
	r->tenant = xstrdup("contoso");
	r->id = xstrdup(id);
	r->event_us = event_us;
	r->ingest_us = event_us + 5 * SEC;
	r->received_us = received_us;
	r->user_id = user != NULL ? xstrdup(user) : NULL;
	r->upn = xstrdup("bg1@contoso.example");
	r->ip = xstrdup("203.0.113.7");
	r->location = xstrdup("Berlin, Berlin, DE");
	r->app = xstrdup("Azure Portal");
	r->success = 0;
	r->result_code = 50126;
	r->failure_reason = xstrdup("Invalid username or password");
	r->correlation_id = xstrdup("corr-1");
	r->raw = xstrdup("{\"Id\":\"x\"}");
	return r;
}

static void
put(const char *id, enum signal sig, const char *user, int64_t event_us,
    int64_t received_us)
{
	struct record *r = mkrec(id, sig, user, event_us, received_us);

	ck_assert_int_eq(store_record_insert(st, r), 1);
	record_free(r);
}

static struct alert *
mkalert(const char *id, int64_t created_us)
{
	struct alert *a = xcalloc(1, sizeof *a);

	a->id = xstrdup(id);
	a->kind = ALERT_EVENT;
	a->rule = xstrdup("bg-sign-in");
	a->description = xstrdup("A break-glass account signed in");
	a->severity = 0;
	a->tenant = xstrdup("contoso");
	a->tenant_id = xstrdup("00000000-0000-0000-0000-000000000000");
	a->account_oid = xstrdup("oid-1");
	a->account_upn = xstrdup("bg1@contoso.example");
	a->created_us = created_us;
	a->count = 1;
	a->subject = xstrdup("[Sev0] bg-sign-in");
	return a;
}

static int
reopen(int readonly, char **err)
{
	store_close(st);
	st = NULL;
	*err = NULL;
	return store_open(dir, readonly, &st, err);
}

/* --- opening --------------------------------------------------------- */

START_TEST(schema_created)
{
	struct stat sb;
	char *mode, path[450];

	ck_assert_int_eq(stat(dir, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0700);
	ck_assert_int_eq(stat(dbpath, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	/* The WAL and shared-memory files take the database's mode. */
	ck_assert_int_eq(store_cursor_set(st, "p", 1), 0);
	snprintf(path, sizeof path, "%s-wal", dbpath);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	snprintf(path, sizeof path, "%s-shm", dbpath);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
	ck_assert_int_eq(sql_int("PRAGMA user_version"), 4);
	ck_assert_int_eq(sql_int("PRAGMA application_id"), 0x47574154);
	mode = sql_text("PRAGMA journal_mode");
	ck_assert_str_eq(mode, "wal");
	free(mode);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM sqlite_master WHERE "
	    "type = 'table' AND name IN ('cursors', 'poll_status', 'records', "
	    "'rules', 'rule_marks', 'suppressions', 'absences', 'alerts', "
	    "'alert_records', 'deliveries', 'delivery_attempts')"), 11);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM sqlite_master WHERE "
	    "type = 'index' AND name = 'deliveries_due'"), 1);
}
END_TEST

START_TEST(missing_parent_refused)
{
	struct store *s2 = NULL;
	char path[400], *err = NULL;

	snprintf(path, sizeof path, "%s/no/such", tmp);
	ck_assert_int_eq(store_open(path, 0, &s2, &err), -1);
	ck_assert_ptr_null(s2);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "no/such"));
	free(err);
}
END_TEST

START_TEST(reopen_keeps_data)
{
	struct record *r;
	int64_t c;
	char *err;

	put("r1", SIGNAL_SIGN_IN, "oid-1", T0, T0 + SEC);
	ck_assert_int_eq(store_cursor_set(st, "contoso/log_analytics/sign_in",
	    T0 + 7), 0);
	ck_assert_int_eq(reopen(0, &err), 0);
	ck_assert_int_eq(store_cursor_get(st, "contoso/log_analytics/sign_in",
	    &c), 1);
	ck_assert_int_eq(c, T0 + 7);
	ck_assert_int_eq(store_record_get(st, "contoso", "r1", &r), 1);
	ck_assert_str_eq(r->id, "r1");
	record_free(r);
	ck_assert_int_eq(sql_int("PRAGMA user_version"), 4);
}
END_TEST

/* What schema version 4 added, for making older files. */
#define V4_UNDO	"DROP TABLE drills; ALTER TABLE alerts DROP COLUMN drill; "

/* A version 1 file (before audit records kept their modified
 * properties and deliveries could wait on a batch) is brought to version
 * 2 with its records kept. */
START_TEST(migrate_from_v1)
{
	struct record *r;
	char *err = NULL;

	put("r1", SIGNAL_AUDIT, "oid-1", T0, T0 + SEC);
	store_close(st);
	st = NULL;
	sql_exec(V4_UNDO "DROP TABLE posture_findings; "
	    "DROP TABLE posture_history; "
	    "ALTER TABLE records DROP COLUMN modified; "
	    "DROP INDEX deliveries_batch; "
	    "ALTER TABLE deliveries DROP COLUMN batch_id; "
	    "PRAGMA user_version = 1");
	ck_assert_int_eq(sql_int("SELECT count(*) FROM pragma_table_info("
	    "'records') WHERE name = 'modified'"), 0);

	ck_assert_msg(reopen(0, &err) == 0, "%s", err);
	ck_assert_int_eq(sql_int("PRAGMA user_version"), 4);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM pragma_table_info("
	    "'deliveries') WHERE name = 'batch_id'"), 1);
	ck_assert_int_eq(store_record_get(st, "contoso", "r1", &r), 1);
	ck_assert_ptr_null(r->modified);
	record_free(r);

	/* The new column is written and read back. */
	r = mkrec("r2", SIGNAL_AUDIT, "oid-1", T0, T0 + SEC);
	r->modified = strdup("Role.DisplayName: (none) -> Global Administrator");
	ck_assert_int_eq(store_record_insert(st, r), 1);
	record_free(r);
	ck_assert_int_eq(store_record_get(st, "contoso", "r2", &r), 1);
	ck_assert_str_eq(r->modified,
	    "Role.DisplayName: (none) -> Global Administrator");
	record_free(r);
}
END_TEST

/* A version 2 file gains the posture tables, its data kept. */
START_TEST(migrate_from_v2)
{
	char *err = NULL, *prev = NULL;

	put("r1", SIGNAL_SIGN_IN, "oid-1", T0, T0 + SEC);
	store_close(st);
	st = NULL;
	sql_exec(V4_UNDO "DROP TABLE posture_findings; "
	    "DROP TABLE posture_history; PRAGMA user_version = 2");
	ck_assert_msg(reopen(0, &err) == 0, "%s", err);
	ck_assert_int_eq(sql_int("PRAGMA user_version"), 4);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM records"), 1);
	ck_assert_int_eq(store_posture_update(st, "contoso", "enabled", "bg1",
	    "pass", "ok", T0, &prev), 0);
	ck_assert_ptr_null(prev);
}
END_TEST

/* A version 3 file gains the drills and the alerts' drill note; its
 * alerts are kept, without a note. */
START_TEST(migrate_from_v3)
{
	struct alert *a, *b;
	struct drill d = { "drill-1", "contoso", "oid-1", "bg1@contoso.example",
	    "alice", 1000, NULL, T0, T0 + 600 * SEC }, *got;
	char *err = NULL;

	put("r1", SIGNAL_SIGN_IN, "oid-1", T0, T0 + SEC);
	a = mkalert("gw-1", T0 + 5 * SEC);
	ck_assert_int_eq(store_alert_insert(st, a), 0);
	alert_free(a);
	store_close(st);
	st = NULL;
	sql_exec(V4_UNDO "PRAGMA user_version = 3");
	ck_assert_int_eq(sql_int("SELECT count(*) FROM pragma_table_info("
	    "'alerts') WHERE name = 'drill'"), 0);
	ck_assert_msg(reopen(0, &err) == 0, "%s", err);
	ck_assert_int_eq(sql_int("PRAGMA user_version"), 4);
	ck_assert_int_eq(store_alert_load(st, "gw-1", &b), 1);
	ck_assert_ptr_null(b->drill);
	alert_free(b);
	ck_assert_int_eq(store_drill_insert(st, &d), 0);
	ck_assert_int_eq(store_drill_at(st, "contoso", "OID-1", T0 + SEC,
	    &got), 1);
	ck_assert_str_eq(got->id, "drill-1");
	drill_free(got);
}
END_TEST

/* Drills: which one covers an event time, the sign-in that validates
 * the account, the note kept with an alert, and pruning. */
START_TEST(drills)
{
	struct drill d1 = { "drill-1", "contoso", "oid-1", "bg1@contoso.example",
	    "alice", 1000, "quarterly test", T0, T0 + 600 * SEC };
	struct drill d2 = { "drill-2", "contoso", "oid-1", "bg1@contoso.example",
	    "bob", 1001, NULL, T0 + 300 * SEC, T0 + 900 * SEC };
	struct drill *got;
	struct record *r;
	struct alert *a, *b;
	int64_t at;

	ck_assert_int_eq(store_drill_insert(st, &d1), 0);
	ck_assert_int_eq(store_drill_insert(st, &d2), 0);
	ck_assert_int_eq(store_drill_at(st, "contoso", "oid-1", T0 - 1, &got),
	    0);
	ck_assert_ptr_null(got);
	ck_assert_int_eq(store_drill_at(st, "contoso", "oid-2", T0 + SEC,
	    &got), 0);
	ck_assert_int_eq(store_drill_at(st, "fabrikam", "oid-1", T0 + SEC,
	    &got), 0);
	ck_assert_int_eq(store_drill_at(st, "contoso", "oid-1", T0, &got), 1);
	ck_assert_str_eq(got->id, "drill-1");
	ck_assert_str_eq(got->announced_by, "alice");
	ck_assert_str_eq(got->reason, "quarterly test");
	ck_assert_int_eq(got->uid, 1000);
	ck_assert_int_eq(got->until_us, T0 + 600 * SEC);
	drill_free(got);
	/* Overlapping windows: the later announcement. */
	ck_assert_int_eq(store_drill_at(st, "contoso", "oid-1",
	    T0 + 400 * SEC, &got), 1);
	ck_assert_str_eq(got->id, "drill-2");
	ck_assert_ptr_null(got->reason);
	drill_free(got);
	ck_assert_int_eq(store_drill_at(st, "contoso", "oid-1",
	    T0 + 900 * SEC, &got), 1);
	drill_free(got);
	ck_assert_int_eq(store_drill_at(st, "contoso", "oid-1",
	    T0 + 901 * SEC, &got), 0);

	/* Validation: successful sign-ins inside a window only. */
	ck_assert_int_eq(store_drill_validated(st, "contoso", "oid-1", 0, &got,
	    &at), 0);
	put("failed", SIGNAL_SIGN_IN, "oid-1", T0 + 10 * SEC, T0);
	r = mkrec("outside", SIGNAL_SIGN_IN, "oid-1", T0 + 1000 * SEC, T0);
	r->success = 1;
	ck_assert_int_eq(store_record_insert(st, r), 1);
	record_free(r);
	r = mkrec("audit", SIGNAL_AUDIT, "oid-1", T0 + 20 * SEC, T0);
	r->success = 1;
	ck_assert_int_eq(store_record_insert(st, r), 1);
	record_free(r);
	ck_assert_int_eq(store_drill_validated(st, "contoso", "oid-1", 0, &got,
	    &at), 0);
	r = mkrec("ok", SIGNAL_NON_INTERACTIVE, "OID-1", T0 + 30 * SEC, T0);
	r->success = 1;
	ck_assert_int_eq(store_record_insert(st, r), 1);
	record_free(r);
	ck_assert_int_eq(store_drill_validated(st, "contoso", "oid-1", 0, &got,
	    &at), 1);
	ck_assert_str_eq(got->id, "drill-1");
	ck_assert_int_eq(at, T0 + 30 * SEC);
	drill_free(got);
	ck_assert_int_eq(store_drill_validated(st, "contoso", "oid-1",
	    T0 + 31 * SEC, &got, &at), 0);

	/* The note goes with the alert. */
	a = mkalert("gw-d", T0 + 40 * SEC);
	a->drill = xstrdup("DRILL announced by alice at x, window until y");
	ck_assert_int_eq(store_alert_insert(st, a), 0);
	alert_free(a);
	ck_assert_int_eq(store_alert_load(st, "gw-d", &b), 1);
	ck_assert_str_eq(b->drill, "DRILL announced by alice at x, window "
	    "until y");
	alert_free(b);

	/* Pruned once the window ended before the cut. */
	ck_assert_int_eq(store_prune(st, T0 + 700 * SEC), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM drills"), 1);
	ck_assert_int_eq(store_prune(st, T0 + 901 * SEC), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM drills"), 0);
}
END_TEST

/* The latest result per check and account, since when it holds, and a
 * history row only when it changes. */
START_TEST(posture_findings_and_history)
{
	char *prev = NULL;

	ck_assert_int_eq(store_posture_update(st, "contoso", "ca-excluded",
	    "bg1", "pass", "excluded", T0, &prev), 0);
	ck_assert_ptr_null(prev);
	ck_assert_int_eq(store_posture_update(st, "contoso", "ca-excluded",
	    "bg1", "pass", "excluded", T0 + SEC, &prev), 0);
	ck_assert_str_eq(prev, "pass");
	free(prev);
	ck_assert_int_eq(store_posture_update(st, "contoso", "ca-excluded",
	    "bg1", "FAIL", "not excluded from X", T0 + 2 * SEC, &prev), 0);
	ck_assert_str_eq(prev, "pass");
	free(prev);
	/* Another tenant's same check is its own. */
	ck_assert_int_eq(store_posture_update(st, "fabrikam", "ca-excluded",
	    "bg1", "pass", "excluded", T0 + 2 * SEC, &prev), 0);
	ck_assert_ptr_null(prev);
	ck_assert_int_eq(sql_int("SELECT since_us FROM posture_findings "
	    "WHERE tenant = 'contoso'"), T0 + 2 * SEC);
	ck_assert_int_eq(sql_int("SELECT checked_us FROM posture_findings "
	    "WHERE tenant = 'contoso'"), T0 + 2 * SEC);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM posture_history"), 3);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM posture_history WHERE "
	    "tenant = 'contoso' AND result = 'FAIL' AND evidence = "
	    "'not excluded from X'"), 1);
	/* Pruned with the rest of the history; the latest stays. */
	ck_assert_int_eq(store_prune(st, T0 + SEC), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM posture_history"), 2);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM posture_findings"), 2);
}
END_TEST

START_TEST(readonly)
{
	struct store *s2 = NULL;
	int64_t c;
	char path[400], *err = NULL;

	/* A missing database (or state dir) is an error, not a new file. */
	snprintf(path, sizeof path, "%s/empty", tmp);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(store_open(path, 1, &s2, &err), -1);
	ck_assert_ptr_null(s2);
	ck_assert_ptr_nonnull(err);
	free(err);
	err = NULL;
	snprintf(path, sizeof path, "%s/empty/%s", tmp, STORE_FILE);
	ck_assert_int_ne(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/nodir", tmp);
	ck_assert_int_eq(store_open(path, 1, &s2, &err), -1);
	ck_assert_int_ne(access(path, F_OK), 0);
	free(err);

	/* An existing one reads, alongside a writer, and refuses writes. */
	ck_assert_int_eq(store_cursor_set(st, "p", 42), 0);
	ck_assert_int_eq(store_open(dir, 1, &s2, &err), 0);
	ck_assert_int_eq(store_cursor_get(s2, "p", &c), 1);
	ck_assert_int_eq(c, 42);
	ck_assert_int_eq(store_cursor_set(s2, "p", 43), -1);
	store_close(s2);

	/* And after the writer closed (WAL checkpointed away). */
	ck_assert_int_eq(reopen(1, &err), 0);
	ck_assert_int_eq(store_cursor_get(st, "p", &c), 1);
	ck_assert_int_eq(c, 42);
	ck_assert_int_eq(store_begin(st), 0);
	store_rollback(st);
}
END_TEST

START_TEST(future_version_refused)
{
	char *err;

	store_close(st);
	st = NULL;
	sql_exec("PRAGMA user_version = 99");
	ck_assert_int_eq(store_open(dir, 0, &st, &err), -1);
	ck_assert_ptr_null(st);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "newer"));
	free(err);
	ck_assert_int_eq(store_open(dir, 1, &st, &err), -1);
	ck_assert_ptr_nonnull(err);
	free(err);
	/* Nothing was changed. */
	ck_assert_int_eq(sql_int("PRAGMA user_version"), 99);
}
END_TEST

START_TEST(foreign_file_refused)
{
	char *err;

	store_close(st);
	st = NULL;
	sql_exec("PRAGMA application_id = 1234");
	ck_assert_int_eq(store_open(dir, 0, &st, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a glasswatch"));
	free(err);
}
END_TEST

START_TEST(loose_mode_tightened)
{
	struct stat sb;
	char *err;

	store_close(st);
	st = NULL;
	ck_assert_int_eq(chmod(dbpath, 0644), 0);
	ck_assert_int_eq(store_open(dir, 0, &st, &err), 0);
	ck_assert_int_eq(stat(dbpath, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0600);
}
END_TEST

/* --- cursors and records --------------------------------------------- */

START_TEST(cursor_get_set)
{
	int64_t c = -1;

	ck_assert_int_eq(store_cursor_get(st, "a/graph/audit", &c), 0);
	ck_assert_int_eq(c, -1);
	ck_assert_int_eq(store_cursor_set(st, "a/graph/audit", 5), 0);
	ck_assert_int_eq(store_cursor_set(st, "a/graph/audit", 9), 0);
	ck_assert_int_eq(store_cursor_get(st, "a/graph/audit", &c), 1);
	ck_assert_int_eq(c, 9);
	ck_assert_int_eq(store_cursor_get(st, "b/graph/audit", &c), 0);
}
END_TEST

START_TEST(poll_result)
{
	char *e;

	ck_assert_int_eq(store_poll_result(st, "p", 1, T0, NULL), 0);
	ck_assert_int_eq(store_poll_result(st, "p", 0, T0 + SEC, "HTTP 503"),
	    0);
	ck_assert_int_eq(store_poll_result(st, "p", 0, T0 + 2 * SEC,
	    "HTTP 500"), 0);
	ck_assert_int_eq(sql_int("SELECT ok FROM poll_status"), 0);
	ck_assert_int_eq(sql_int("SELECT last_ok_us FROM poll_status"), T0);
	ck_assert_int_eq(sql_int("SELECT failing_since_us FROM poll_status"),
	    T0 + SEC);
	e = sql_text("SELECT error FROM poll_status");
	ck_assert_str_eq(e, "HTTP 500");
	free(e);
	ck_assert_int_eq(store_poll_result(st, "p", 1, T0 + 3 * SEC, NULL),
	    0);
	ck_assert_int_eq(sql_int("SELECT last_ok_us FROM poll_status"),
	    T0 + 3 * SEC);
	ck_assert_int_eq(sql_int("SELECT failing_since_us IS NULL FROM "
	    "poll_status"), 1);
}
END_TEST

START_TEST(record_once)
{
	struct record *r = mkrec("r1", SIGNAL_AUDIT, "oid-1", T0, T0 + SEC);
	struct record *g;

	r->activity = xstrdup("Update user");
	r->category = xstrdup("UserManagement");
	r->service = xstrdup("Core Directory");
	r->initiator = xstrdup("admin@contoso.example");
	r->initiator_id = xstrdup("oid-9");
	r->target = xstrdup("bg1@contoso.example");
	r->target_ids = xstrdup("oid-1 oid-2");
	r->success = 1;
	r->result_code = 0;
	ck_assert_int_eq(store_record_insert(st, r), 1);
	ck_assert_int_eq(store_record_insert(st, r), 0);
	/* The same id in another tenant is another record. */
	free(r->tenant);
	r->tenant = xstrdup("fabrikam");
	ck_assert_int_eq(store_record_insert(st, r), 1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM records WHERE "
	    "tenant = 'contoso' AND id = 'r1'"), 1);

	ck_assert_int_eq(store_record_get(st, "contoso", "r1", &g), 1);
	ck_assert_int_eq(g->signal, SIGNAL_AUDIT);
	ck_assert_str_eq(g->tenant, "contoso");
	ck_assert_int_eq(g->event_us, T0);
	ck_assert_int_eq(g->ingest_us, T0 + 5 * SEC);
	ck_assert_int_eq(g->received_us, T0 + SEC);
	ck_assert_str_eq(g->user_id, "oid-1");
	ck_assert_str_eq(g->upn, r->upn);
	ck_assert_str_eq(g->ip, r->ip);
	ck_assert_str_eq(g->location, r->location);
	ck_assert_str_eq(g->app, r->app);
	ck_assert_int_eq(g->success, 1);
	ck_assert_int_eq(g->result_code, 0);
	ck_assert_str_eq(g->failure_reason, r->failure_reason);
	ck_assert_str_eq(g->correlation_id, "corr-1");
	ck_assert_str_eq(g->activity, "Update user");
	ck_assert_str_eq(g->category, "UserManagement");
	ck_assert_str_eq(g->service, "Core Directory");
	ck_assert_str_eq(g->initiator, r->initiator);
	ck_assert_str_eq(g->initiator_id, "oid-9");
	ck_assert_str_eq(g->target, r->target);
	ck_assert_str_eq(g->target_ids, "oid-1 oid-2");
	ck_assert_str_eq(g->raw, r->raw);
	record_free(g);
	ck_assert_int_eq(store_record_get(st, "contoso", "nope", &g), 0);
	ck_assert_ptr_null(g);
	record_free(r);

	/* NULL fields stay NULL. */
	r = record_new();
	r->tenant = xstrdup("contoso");
	r->id = xstrdup("bare");
	ck_assert_int_eq(store_record_insert(st, r), 1);
	record_free(r);
	ck_assert_int_eq(store_record_get(st, "contoso", "bare", &g), 1);
	ck_assert_ptr_null(g->upn);
	ck_assert_ptr_null(g->raw);
	ck_assert_int_ne(g->received_us, 0);	/* stamped when stored */
	record_free(g);
}
END_TEST

START_TEST(page_transaction)
{
	int64_t c;

	/* A page and its cursor, rolled back: nothing remains. */
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_begin(st), -1);	/* no nesting */
	put("a", SIGNAL_SIGN_IN, "oid-1", T0, T0);
	put("b", SIGNAL_SIGN_IN, "oid-1", T0, T0);
	ck_assert_int_eq(store_cursor_set(st, "p", T0), 0);
	store_rollback(st);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM records"), 0);
	ck_assert_int_eq(store_cursor_get(st, "p", &c), 0);
	ck_assert_int_eq(store_commit(st), -1);	/* nothing open */

	/* Committed: both. */
	ck_assert_int_eq(store_begin(st), 0);
	put("a", SIGNAL_SIGN_IN, "oid-1", T0, T0);
	ck_assert_int_eq(store_cursor_set(st, "p", T0), 0);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM records"), 1);
	ck_assert_int_eq(store_cursor_get(st, "p", &c), 1);
	store_rollback(st);	/* harmless without a transaction */
}
END_TEST

/* --- rule state ------------------------------------------------------ */

START_TEST(rule_since_and_unmarked)
{
	struct record_list l;
	int64_t since;

	put("old", SIGNAL_SIGN_IN, "oid-1", T0, T0);	/* before the rule */
	ck_assert_int_eq(store_rule_since(st, "r", T0 + 10 * SEC, &since), 0);
	ck_assert_int_eq(since, T0 + 10 * SEC);
	ck_assert_int_eq(store_rule_since(st, "r", T0 + 99 * SEC, &since), 0);
	ck_assert_int_eq(since, T0 + 10 * SEC);

	put("c", SIGNAL_SIGN_IN, "oid-1", T0 + 30 * SEC, T0 + 11 * SEC);
	put("b", SIGNAL_SIGN_IN, "oid-1", T0 + 20 * SEC, T0 + 12 * SEC);
	/* The wall clock stepped back: still after the rule started. */
	put("a", SIGNAL_SIGN_IN, "oid-1", T0 + 20 * SEC, T0 + 1 * SEC);
	put("audit", SIGNAL_AUDIT, "oid-1", T0 + 20 * SEC, T0 + 13 * SEC);
	ck_assert_int_eq(store_rule_mark(st, "r", "contoso", "c", "oid-1",
	    MARK_NOMATCH, NULL, NULL, T0 + 30 * SEC), 0);

	record_list_init(&l);
	ck_assert_int_eq(store_rule_unmarked(st, "r", "contoso",
	    SIGNAL_SIGN_IN, &l), 0);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_str_eq(l.v[0]->id, "a");	/* event time, then id */
	ck_assert_str_eq(l.v[1]->id, "b");
	record_list_clear(&l);
	/* A rule registered now sees only what is stored after it. */
	ck_assert_int_eq(store_rule_since(st, "r2", T0 + 14 * SEC, &since), 0);
	ck_assert_int_eq(store_rule_unmarked(st, "r2", "contoso",
	    SIGNAL_SIGN_IN, &l), 0);
	ck_assert_uint_eq(l.n, 0);
	put("d", SIGNAL_SIGN_IN, "oid-1", T0 + 40 * SEC, T0 + 2 * SEC);
	ck_assert_int_eq(store_rule_unmarked(st, "r2", "contoso",
	    SIGNAL_SIGN_IN, &l), 0);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_str_eq(l.v[0]->id, "d");
	record_list_clear(&l);
}
END_TEST

START_TEST(rule_marks_window)
{
	struct rule_mark *m;
	size_t n;
	long count;

	put("r1", SIGNAL_SIGN_IN, "oid-1", T0 + 10 * SEC, T0 + 100 * SEC);
	put("r2", SIGNAL_SIGN_IN, "oid-1", T0 + 5 * SEC, T0 + 200 * SEC);
	put("r0", SIGNAL_SIGN_IN, "oid-1", T0 + 10 * SEC, T0 + 300 * SEC);
	put("r3", SIGNAL_SIGN_IN, "oid-1", T0 + 60 * SEC, T0 + 400 * SEC);
	put("r4", SIGNAL_SIGN_IN, "oid-1", T0 + 7 * SEC, T0 + 500 * SEC);
	put("r5", SIGNAL_SIGN_IN, "oid-2", T0 + 8 * SEC, T0 + 600 * SEC);
	ck_assert_int_eq(store_rule_mark(st, "rule", "contoso", "r1", "oid-1",
	    MARK_COUNTED, NULL, NULL, T0 + 10 * SEC), 0);
	ck_assert_int_eq(store_rule_mark(st, "rule", "contoso", "r2", "oid-1",
	    MARK_ALERTED, NULL, "gw-1", T0 + 5 * SEC), 0);
	ck_assert_int_eq(store_rule_mark(st, "rule", "contoso", "r0", "oid-1",
	    MARK_DUPLICATE, "r1", NULL, T0 + 10 * SEC), 0);
	ck_assert_int_eq(store_rule_mark(st, "rule", "contoso", "r3", "oid-1",
	    MARK_COUNTED, NULL, NULL, T0 + 60 * SEC), 0);	/* outside */
	ck_assert_int_eq(store_rule_mark(st, "rule", "contoso", "r4", "oid-1",
	    MARK_NOMATCH, NULL, NULL, T0 + 7 * SEC), 0);	/* excluded */
	ck_assert_int_eq(store_rule_mark(st, "rule", "contoso", "r5", "oid-2",
	    MARK_COUNTED, NULL, NULL, T0 + 8 * SEC), 0);	/* other acct */
	ck_assert_int_eq(store_rule_mark(st, "other", "contoso", "r4",
	    "oid-1", MARK_COUNTED, NULL, NULL, T0 + 7 * SEC), 0);

	ck_assert_int_eq(store_rule_marks_window(st, "rule", "contoso",
	    "oid-1", T0, T0 + 59 * SEC, &m, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(m[0].record_id, "r2");
	ck_assert_int_eq(m[0].state, MARK_ALERTED);
	ck_assert_str_eq(m[0].alert_id, "gw-1");
	ck_assert_int_eq(m[0].event_us, T0 + 5 * SEC);
	ck_assert_int_eq(m[0].received_us, T0 + 200 * SEC);
	ck_assert_str_eq(m[0].user_id, "oid-1");
	ck_assert_str_eq(m[0].correlation_id, "corr-1");
	ck_assert_int_eq(m[0].result_code, 50126);
	ck_assert_str_eq(m[1].record_id, "r0");	/* same time: by id */
	ck_assert_int_eq(m[1].state, MARK_DUPLICATE);
	ck_assert_str_eq(m[1].incident_of, "r1");
	ck_assert_str_eq(m[2].record_id, "r1");
	ck_assert_ptr_null(m[2].alert_id);
	rule_marks_free(m, n);

	/* Bounds are inclusive. */
	ck_assert_int_eq(store_rule_marks_window(st, "rule", "contoso",
	    "oid-1", T0 + 10 * SEC, T0 + 60 * SEC, &m, &n), 0);
	ck_assert_uint_eq(n, 3);
	rule_marks_free(m, n);

	/* Upsert: the mark changes, not the count of marks. */
	ck_assert_int_eq(store_rule_mark(st, "rule", "contoso", "r1", "oid-1",
	    MARK_ALERTED, NULL, "gw-2", T0 + 10 * SEC), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM rule_marks WHERE "
	    "rule = 'rule'"), 6);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM rule_marks WHERE "
	    "record_id = 'r1' AND state = 'alerted'"), 1);

	/* Heads received in a range (not duplicates, not nomatch). */
	ck_assert_int_eq(store_rule_count_received(st, "rule", "contoso",
	    "oid-1", T0 + 100 * SEC, T0 + 400 * SEC, &count), 0);
	ck_assert_int_eq(count, 3);	/* r1, r2, r3; r0 is a duplicate */
	ck_assert_int_eq(store_rule_count_received(st, "rule", "contoso",
	    "oid-1", T0 + 150 * SEC, T0 + 399 * SEC, &count), 0);
	ck_assert_int_eq(count, 1);
	ck_assert_int_eq(store_rule_count_received(st, "rule", "contoso",
	    "oid-3", T0, T0 + 1000 * SEC, &count), 0);
	ck_assert_int_eq(count, 0);

	/* Nothing in the window. */
	ck_assert_int_eq(store_rule_marks_window(st, "rule", "contoso",
	    "oid-1", T0 + 1000 * SEC, T0 + 2000 * SEC, &m, &n), 0);
	ck_assert_uint_eq(n, 0);
	rule_marks_free(m, n);

	/* A mark needs its record. */
	ck_assert_int_eq(store_rule_mark(st, "rule", "contoso", "ghost",
	    "oid-1", MARK_COUNTED, NULL, NULL, T0), -1);
}
END_TEST

START_TEST(suppressions)
{
	struct suppression *s;
	struct record_list l;
	int64_t until;
	size_t n;

	ck_assert_int_eq(store_suppression_get(st, "r", "contoso", "oid-1",
	    &until), 0);
	ck_assert_int_eq(store_suppression_set(st, "r", "contoso", "oid-1",
	    T0 + 900 * SEC), 0);
	ck_assert_int_eq(store_suppression_set(st, "r", "contoso", "oid-2",
	    T0 + 300 * SEC), 0);
	ck_assert_int_eq(store_suppression_set(st, "r", "contoso", "oid-1",
	    T0 + 600 * SEC), 0);
	ck_assert_int_eq(store_suppression_get(st, "r", "contoso", "oid-1",
	    &until), 1);
	ck_assert_int_eq(until, T0 + 600 * SEC);

	ck_assert_int_eq(store_suppressions(st, &s, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(s[0].account, "oid-2");	/* soonest end first */
	ck_assert_int_eq(s[0].until_us, T0 + 300 * SEC);
	ck_assert_str_eq(s[1].rule, "r");
	ck_assert_str_eq(s[1].tenant, "contoso");
	ck_assert_str_eq(s[1].account, "oid-1");
	suppressions_free(s, n);

	ck_assert_int_eq(store_suppression_delete(st, "r", "contoso",
	    "oid-2"), 0);
	ck_assert_int_eq(store_suppression_get(st, "r", "contoso", "oid-2",
	    &until), 0);

	/* The records waiting for the digest, by event time. */
	put("s2", SIGNAL_SIGN_IN, "oid-1", T0 + 20 * SEC, T0);
	put("s1", SIGNAL_SIGN_IN, "oid-1", T0 + 10 * SEC, T0);
	put("x", SIGNAL_SIGN_IN, "oid-1", T0 + 15 * SEC, T0);
	ck_assert_int_eq(store_rule_mark(st, "r", "contoso", "s2", "oid-1",
	    MARK_SUPPRESSED, NULL, NULL, T0 + 20 * SEC), 0);
	ck_assert_int_eq(store_rule_mark(st, "r", "contoso", "s1", "oid-1",
	    MARK_SUPPRESSED, NULL, NULL, T0 + 10 * SEC), 0);
	ck_assert_int_eq(store_rule_mark(st, "r", "contoso", "x", "oid-1",
	    MARK_ALERTED, NULL, "gw-1", T0 + 15 * SEC), 0);
	record_list_init(&l);
	ck_assert_int_eq(store_rule_suppressed(st, "r", "contoso", "oid-1",
	    &l), 0);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_str_eq(l.v[0]->id, "s1");
	ck_assert_str_eq(l.v[1]->id, "s2");
	record_list_clear(&l);
}
END_TEST

START_TEST(absences)
{
	int64_t last;

	ck_assert_int_eq(store_absence_get(st, "hb", "contoso", "oid-1",
	    &last), 0);
	ck_assert_int_eq(store_absence_set(st, "hb", "contoso", "oid-1", T0),
	    0);
	ck_assert_int_eq(store_absence_set(st, "hb", "contoso", "oid-1",
	    T0 + SEC), 0);
	ck_assert_int_eq(store_absence_get(st, "hb", "contoso", "oid-1",
	    &last), 1);
	ck_assert_int_eq(last, T0 + SEC);
	ck_assert_int_eq(store_absence_get(st, "hb", "contoso", "oid-2",
	    &last), 0);
}
END_TEST

/* --- alerts ---------------------------------------------------------- */

START_TEST(alert_round_trip)
{
	struct alert *a, *b;

	put("r1", SIGNAL_SIGN_IN, "oid-1", T0 + 2 * SEC, T0);
	put("r2", SIGNAL_SIGN_IN, "oid-1", T0 + 1 * SEC, T0);
	a = mkalert("gw-1", T0 + 5 * SEC);
	/* Carried in this order, whatever their times. */
	alert_add_record(a, mkrec("r1", SIGNAL_SIGN_IN, "oid-1", T0 + 2 * SEC,
	    T0));
	alert_add_record(a, mkrec("r2", SIGNAL_SIGN_IN, "oid-1", T0 + 1 * SEC,
	    T0));
	a->count = 2;
	ck_assert_int_eq(store_alert_insert(st, a), 0);

	ck_assert_int_eq(store_alert_load(st, "gw-1", &b), 1);
	ck_assert_str_eq(b->id, a->id);
	ck_assert_int_eq(b->kind, ALERT_EVENT);
	ck_assert_str_eq(b->rule, a->rule);
	ck_assert_str_eq(b->description, a->description);
	ck_assert_int_eq(b->severity, 0);
	ck_assert_str_eq(b->tenant, "contoso");
	ck_assert_str_eq(b->tenant_id, a->tenant_id);
	ck_assert_str_eq(b->account_oid, "oid-1");
	ck_assert_str_eq(b->account_upn, a->account_upn);
	ck_assert_int_eq(b->created_us, T0 + 5 * SEC);
	ck_assert_int_eq(b->count, 2);
	ck_assert_str_eq(b->subject, a->subject);
	ck_assert_uint_eq(b->nrecords, 2);
	ck_assert_str_eq(b->records[0]->id, "r1");
	ck_assert_str_eq(b->records[1]->id, "r2");
	ck_assert_str_eq(b->records[1]->ip, "203.0.113.7");
	alert_free(b);
	alert_free(a);

	ck_assert_int_eq(store_alert_load(st, "gw-none", &b), 0);
	ck_assert_ptr_null(b);

	/* A system alert carries no record and no rule. */
	a = xcalloc(1, sizeof *a);
	a->id = xstrdup("gw-sys");
	a->kind = ALERT_SYSTEM;
	a->severity = 1;
	a->created_us = T0;
	ck_assert_int_eq(store_alert_insert(st, a), 0);
	alert_free(a);
	ck_assert_int_eq(store_alert_load(st, "gw-sys", &b), 1);
	ck_assert_int_eq(b->kind, ALERT_SYSTEM);
	ck_assert_ptr_null(b->rule);
	ck_assert_uint_eq(b->nrecords, 0);
	alert_free(b);
}
END_TEST

START_TEST(alert_insert_atomic)
{
	struct alert *a;

	/* A record that is not stored: neither the alert nor any link. */
	put("r1", SIGNAL_SIGN_IN, "oid-1", T0, T0);
	a = mkalert("gw-1", T0);
	alert_add_record(a, mkrec("r1", SIGNAL_SIGN_IN, "oid-1", T0, T0));
	alert_add_record(a, mkrec("ghost", SIGNAL_SIGN_IN, "oid-1", T0, T0));
	ck_assert_int_eq(store_alert_insert(st, a), -1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alerts"), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alert_records"), 0);

	/* Inside a caller's transaction, the failure leaves the rest of
	 * the transaction alone. */
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_cursor_set(st, "p", 1), 0);
	ck_assert_int_eq(store_alert_insert(st, a), -1);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM cursors"), 1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM alerts"), 0);
	alert_free(a);

	/* The same id twice is an error. */
	a = mkalert("gw-2", T0);
	ck_assert_int_eq(store_alert_insert(st, a), 0);
	ck_assert_int_eq(store_alert_insert(st, a), -1);
	alert_free(a);
}
END_TEST

/* --- deliveries ------------------------------------------------------ */

static void
put_alert(const char *id, int64_t created_us)
{
	struct alert *a = mkalert(id, created_us);

	ck_assert_int_eq(store_alert_insert(st, a), 0);
	alert_free(a);
}

START_TEST(deliveries)
{
	struct delivery_row *d;
	struct strlist names = { NULL, 0 };
	int64_t next;
	size_t n;
	long count;

	put_alert("gw-1", T0);
	put_alert("gw-2", T0);
	ck_assert_int_eq(store_delivery_next_due(st, &next), 0);
	ck_assert_int_eq(store_delivery_insert(st, "gw-1", "mail", "a@x",
	    T0 + 3), 1);
	ck_assert_int_eq(store_delivery_insert(st, "gw-1", "mail", "a@x",
	    T0 + 3), 0);
	ck_assert_int_eq(store_delivery_insert(st, "gw-1", "sms", "+1",
	    T0 + 1), 1);
	ck_assert_int_eq(store_delivery_insert(st, "gw-2", "mail", "a@x",
	    T0 + 2), 1);
	ck_assert_int_eq(store_delivery_insert(st, "gw-2", "mail", "b@x",
	    T0 + 9), 1);

	/* Due: pending with next_us <= now, soonest first, limited. */
	ck_assert_int_eq(store_deliveries_due(st, T0 + 3, 10, &d, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(d[0].notifier, "sms");
	ck_assert_str_eq(d[1].alert_id, "gw-2");
	ck_assert_str_eq(d[2].alert_id, "gw-1");
	ck_assert_str_eq(d[2].recipient, "a@x");
	ck_assert_int_eq(d[2].state, DELIVERY_PENDING);
	ck_assert_int_eq(d[2].attempts, 0);
	ck_assert_int_eq(d[2].next_us, T0 + 3);
	ck_assert_int_eq(d[2].created_us, T0 + 3);
	ck_assert_int_eq(d[2].updated_us, T0 + 3);
	ck_assert_ptr_null(d[2].last_error);
	delivery_rows_free(d, n);
	ck_assert_int_eq(store_deliveries_due(st, T0 + 100, 2, &d, &n), 0);
	ck_assert_uint_eq(n, 2);
	delivery_rows_free(d, n);
	ck_assert_int_eq(store_deliveries_due(st, T0, 10, &d, &n), 0);
	ck_assert_uint_eq(n, 0);
	delivery_rows_free(d, n);
	ck_assert_int_eq(store_deliveries_due_for(st, "mail", T0 + 100, 10,
	    &d, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(d[0].alert_id, "gw-2");
	delivery_rows_free(d, n);

	ck_assert_int_eq(store_delivery_next_due(st, &next), 1);
	ck_assert_int_eq(next, T0 + 1);
	ck_assert_int_eq(store_delivery_next_due_for(st, "mail", &next), 1);
	ck_assert_int_eq(next, T0 + 2);
	ck_assert_int_eq(store_delivery_next_due_for(st, "hook", &next), 0);

	/* Update: sending rows are not due; the state text is exact. */
	ck_assert_int_eq(store_delivery_update(st, "gw-1", "sms", "+1",
	    DELIVERY_SENDING, 0, T0 + 1, NULL, T0 + 4), 0);
	ck_assert_int_eq(store_delivery_update(st, "gw-2", "mail", "a@x",
	    DELIVERY_PENDING, 2, T0 + 50, "HTTP 503", T0 + 5), 0);
	ck_assert_int_eq(store_delivery_update(st, "gw-9", "mail", "a@x",
	    DELIVERY_PENDING, 2, T0 + 50, "HTTP 503", T0 + 5), -1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM deliveries WHERE "
	    "state = 'sending'"), 1);
	ck_assert_int_eq(store_deliveries_due(st, T0 + 10, 10, &d, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(d[0].alert_id, "gw-1");
	ck_assert_str_eq(d[1].recipient, "b@x");
	delivery_rows_free(d, n);
	ck_assert_int_eq(store_deliveries_due(st, T0 + 50, 10, &d, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(d[2].alert_id, "gw-2");
	ck_assert_int_eq(d[2].attempts, 2);
	ck_assert_str_eq(d[2].last_error, "HTTP 503");
	ck_assert_int_eq(d[2].updated_us, T0 + 5);
	delivery_rows_free(d, n);

	ck_assert_int_eq(store_delivery_count(st, NULL, DELIVERY_PENDING,
	    &count), 0);
	ck_assert_int_eq(count, 3);
	ck_assert_int_eq(store_delivery_count(st, "sms", DELIVERY_SENDING,
	    &count), 0);
	ck_assert_int_eq(count, 1);
	ck_assert_int_eq(store_delivery_count(st, "mail", DELIVERY_SENDING,
	    &count), 0);
	ck_assert_int_eq(count, 0);

	ck_assert_int_eq(store_delivery_notifiers(st, &names), 0);
	ck_assert_uint_eq(names.n, 2);
	ck_assert_str_eq(names.v[0], "mail");
	ck_assert_str_eq(names.v[1], "sms");
	strlist_clear(&names);

	/* A restart: sending becomes pending again. */
	ck_assert_int_eq(store_deliveries_reset_sending(st), 0);
	ck_assert_int_eq(store_delivery_count(st, NULL, DELIVERY_SENDING,
	    &count), 0);
	ck_assert_int_eq(count, 0);
	ck_assert_int_eq(store_delivery_count(st, NULL, DELIVERY_PENDING,
	    &count), 0);
	ck_assert_int_eq(count, 4);

	/* Stale rows of one notifier, oldest first. */
	ck_assert_int_eq(store_deliveries_stale(st, "mail", T0 + 3, 10, &d,
	    &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(d[0].alert_id, "gw-2");
	ck_assert_str_eq(d[1].alert_id, "gw-1");
	delivery_rows_free(d, n);

	/* Attempts number themselves. */
	ck_assert_int_eq(store_delivery_attempt(st, "gw-1", "sms", "+1", T0,
	    "retry", "HTTP 503"), 0);
	ck_assert_int_eq(store_delivery_attempt(st, "gw-1", "sms", "+1",
	    T0 + 1, "ok", NULL), 0);
	ck_assert_int_eq(sql_int("SELECT max(attempt) FROM delivery_attempts"),
	    2);

	/* The names delivery_state_name gives are the column's values. */
	ck_assert_str_eq(delivery_state_name(DELIVERY_PENDING), "pending");
	ck_assert_str_eq(delivery_state_name(DELIVERY_SENDING), "sending");
	ck_assert_str_eq(delivery_state_name(DELIVERY_DELIVERED),
	    "delivered");
	ck_assert_str_eq(delivery_state_name(DELIVERY_FAILED), "failed");
	ck_assert_str_eq(delivery_state_name(DELIVERY_EXPIRED), "expired");
	for (int s = DELIVERY_PENDING; s <= DELIVERY_EXPIRED; s++)
		ck_assert_int_eq(store_delivery_update(st, "gw-2", "mail",
		    "b@x", (enum delivery_state)s, 0, T0, NULL, T0), 0);
}
END_TEST

START_TEST(delivery_needs_alert_at_commit)
{
	/* Within a transaction the alert may come after its rows. */
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_delivery_insert(st, "gw-1", "mail", "a@x", T0),
	    1);
	put_alert("gw-1", T0);
	ck_assert_int_eq(store_commit(st), 0);

	/* But it must be there by the commit. */
	ck_assert_int_eq(store_begin(st), 0);
	ck_assert_int_eq(store_delivery_insert(st, "gw-x", "mail", "a@x", T0),
	    1);
	ck_assert_int_eq(store_commit(st), -1);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM deliveries"), 1);
	/* The store is usable afterwards. */
	ck_assert_int_eq(store_begin(st), 0);
	store_rollback(st);
}
END_TEST

/* --- pruning --------------------------------------------------------- */

static void
put_alert_with(const char *id, int64_t created_us, const char *rec)
{
	struct alert *a = mkalert(id, created_us);

	alert_add_record(a, mkrec(rec, SIGNAL_SIGN_IN, "oid-1", created_us,
	    created_us));
	ck_assert_int_eq(store_alert_insert(st, a), 0);
	alert_free(a);
}

START_TEST(prune_keeps_pending)
{
	const int64_t cut = T0 + 1000 * SEC;
	struct alert *a;
	struct record *r;

	/* Old, delivered: goes with its record and history. */
	put("r-done", SIGNAL_SIGN_IN, "oid-1", T0, T0);
	put_alert_with("gw-done", T0, "r-done");
	ck_assert_int_eq(store_delivery_insert(st, "gw-done", "mail", "a@x",
	    T0), 1);
	ck_assert_int_eq(store_delivery_update(st, "gw-done", "mail", "a@x",
	    DELIVERY_DELIVERED, 0, T0, NULL, T0 + SEC), 0);
	ck_assert_int_eq(store_delivery_attempt(st, "gw-done", "mail", "a@x",
	    T0 + SEC, "ok", NULL), 0);
	ck_assert_int_eq(store_rule_mark(st, "rule", "contoso", "r-done",
	    "oid-1", MARK_ALERTED, NULL, "gw-done", T0), 0);

	/* Old, still pending on one recipient: stays whole. */
	put("r-wait", SIGNAL_SIGN_IN, "oid-1", T0, T0);
	put_alert_with("gw-wait", T0, "r-wait");
	ck_assert_int_eq(store_delivery_insert(st, "gw-wait", "mail", "a@x",
	    T0), 1);
	ck_assert_int_eq(store_delivery_insert(st, "gw-wait", "sms", "+1",
	    T0), 1);
	ck_assert_int_eq(store_delivery_update(st, "gw-wait", "sms", "+1",
	    DELIVERY_FAILED, 0, T0, "HTTP 400", T0 + SEC), 0);

	/* Old, sending (a crash): stays. */
	put("r-send", SIGNAL_SIGN_IN, "oid-1", T0, T0);
	put_alert_with("gw-send", T0, "r-send");
	ck_assert_int_eq(store_delivery_insert(st, "gw-send", "mail", "a@x",
	    T0), 1);
	ck_assert_int_eq(store_delivery_update(st, "gw-send", "mail", "a@x",
	    DELIVERY_SENDING, 0, T0, NULL, T0), 0);

	/* Recent: stays. Old and never alerted: goes. */
	put("r-new", SIGNAL_SIGN_IN, "oid-1", cut, cut);
	put_alert_with("gw-new", cut, "r-new");
	ck_assert_int_eq(store_delivery_insert(st, "gw-new", "mail", "a@x",
	    cut), 1);
	ck_assert_int_eq(store_delivery_update(st, "gw-new", "mail", "a@x",
	    DELIVERY_DELIVERED, 0, cut, NULL, cut), 0);
	put("r-lone", SIGNAL_SIGN_IN, "oid-1", T0, T0);
	/* Old but suppressed, waiting for its digest: stays. */
	put("r-supp", SIGNAL_SIGN_IN, "oid-1", T0, T0);
	ck_assert_int_eq(store_rule_mark(st, "rule", "contoso", "r-supp",
	    "oid-1", MARK_SUPPRESSED, NULL, NULL, T0), 0);

	ck_assert_int_eq(store_prune(st, cut), 0);
	ck_assert_int_eq(store_record_get(st, "contoso", "r-supp", &r), 1);
	record_free(r);
	ck_assert_int_eq(store_rule_mark(st, "rule", "contoso", "r-supp",
	    "oid-1", MARK_NOMATCH, NULL, NULL, T0), 0);
	ck_assert_int_eq(store_prune(st, cut), 0);

	ck_assert_int_eq(store_alert_load(st, "gw-done", &a), 0);
	ck_assert_int_eq(store_record_get(st, "contoso", "r-done", &r), 0);
	ck_assert_int_eq(store_record_get(st, "contoso", "r-lone", &r), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM delivery_attempts"), 0);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM rule_marks"), 0);

	ck_assert_int_eq(store_alert_load(st, "gw-wait", &a), 1);
	ck_assert_uint_eq(a->nrecords, 1);
	alert_free(a);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM deliveries WHERE "
	    "alert_id = 'gw-wait'"), 2);
	ck_assert_int_eq(store_alert_load(st, "gw-send", &a), 1);
	ck_assert_uint_eq(a->nrecords, 1);
	alert_free(a);
	ck_assert_int_eq(store_alert_load(st, "gw-new", &a), 1);
	alert_free(a);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM records"), 3);
	ck_assert_int_eq(sql_int("SELECT count(*) FROM deliveries"), 4);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, schema_created);
	tcase_add_test(tc, missing_parent_refused);
	tcase_add_test(tc, reopen_keeps_data);
	tcase_add_test(tc, migrate_from_v1);
	tcase_add_test(tc, migrate_from_v2);
	tcase_add_test(tc, migrate_from_v3);
	tcase_add_test(tc, posture_findings_and_history);
	tcase_add_test(tc, readonly);
	tcase_add_test(tc, future_version_refused);
	tcase_add_test(tc, foreign_file_refused);
	tcase_add_test(tc, loose_mode_tightened);
	suite_add_tcase(s, tc);

	tc = tcase_create("records");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cursor_get_set);
	tcase_add_test(tc, poll_result);
	tcase_add_test(tc, record_once);
	tcase_add_test(tc, page_transaction);
	suite_add_tcase(s, tc);

	tc = tcase_create("rules");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, rule_since_and_unmarked);
	tcase_add_test(tc, rule_marks_window);
	tcase_add_test(tc, suppressions);
	tcase_add_test(tc, absences);
	suite_add_tcase(s, tc);

	tc = tcase_create("outbox");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, alert_round_trip);
	tcase_add_test(tc, alert_insert_atomic);
	tcase_add_test(tc, deliveries);
	tcase_add_test(tc, delivery_needs_alert_at_commit);
	tcase_add_test(tc, prune_keeps_pending);
	tcase_add_test(tc, drills);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
