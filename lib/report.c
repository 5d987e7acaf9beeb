/* Helpers of the read-only reports (report.h). */
#include <stdio.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "report.h"
#include "texttable.h"
#include "timeutil.h"
#include "xmalloc.h"

const char *
report_text(sqlite3_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st, col);
}

const char *
report_time(sqlite3_stmt *st, int col, char out[TIME_ISO_LEN])
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return "-";
	time_format_iso8601_sec(sqlite3_column_int64(st, col), out);
	return out;
}

const char *
report_int(sqlite3_stmt *st, int col, char *out, size_t len)
{
	snprintf(out, len, "%lld", (long long)sqlite3_column_int64(st, col));
	return out;
}

sqlite3_stmt *
report_prepare(sqlite3 *db, const char *sql, const char *what, int has_arg,
    sqlite3_int64 arg1, char **err)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		*err = xasprintf("reading %s: %s", what, sqlite3_errmsg(db));
		return NULL;
	}
	if (has_arg)
		sqlite3_bind_int64(st, 1, arg1);
	return st;
}

int
report_done(sqlite3 *db, sqlite3_stmt *st, int rc, const char *what,
    char **err)
{
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		*err = xasprintf("reading %s: %s", what, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

void
report_table(FILE *f, const char *title, int count, struct texttable *t,
    const char *empty_text)
{
	if (title != NULL && count)
		fprintf(f, "\n%s (%zu)\n", title, texttable_rows(t));
	else if (title != NULL)
		fprintf(f, "\n%s\n", title);
	if (texttable_rows(t) == 0)
		fprintf(f, "%s\n", empty_text);
	else
		texttable_print(t, f);
	texttable_free(t);
}

int
report_begin(sqlite3 *db, char **err)
{
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		*err = xasprintf("reading the state store: %s",
		    sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

void
report_end(sqlite3 *db)
{
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
}
