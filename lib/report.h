/* What the read-only reports (status.c, history.c) share: reading cells
 * of the state store's rows and printing a titled table. */
#ifndef GW_REPORT_H
#define GW_REPORT_H

#include <stdio.h>

#include <sqlite3.h>

#include "texttable.h"
#include "timeutil.h"

/* A text cell, or NULL. */
const char	*report_text(sqlite3_stmt *, int col);
/* A time cell (microseconds) as ISO 8601 UTC, or "-" when NULL. */
const char	*report_time(sqlite3_stmt *, int col, char out[TIME_ISO_LEN]);
/* An integer cell as text in out (at least 24 bytes). */
const char	*report_int(sqlite3_stmt *, int col, char *out, size_t len);
/* The statement, with ?1 bound to arg1 when has_arg; NULL with *err. */
sqlite3_stmt	*report_prepare(sqlite3 *, const char *sql, const char *what,
		    int has_arg, sqlite3_int64 arg1, char **err);
/* Finalizes; -1 with *err when the steps ended in an error, not DONE. */
int		 report_done(sqlite3 *, sqlite3_stmt *, int rc,
		    const char *what, char **err);
/* "\nTITLE (N)" (count set) or "\nTITLE" (title may be NULL: none),
 * then the table or a line of empty_text; frees the table. */
void		 report_table(FILE *, const char *title, int count,
		    struct texttable *, const char *empty_text);
/* The reports read one snapshot (BEGIN ... COMMIT) while the daemon
 * writes. */
int		 report_begin(sqlite3 *, char **err);
void		 report_end(sqlite3 *);

#endif
