/* The result table of a Log Analytics query response (API-FACTS.md 2.2,
 * 2.3): private to source-loganalytics.c, and a fuzzing target.
 *
 * la_table_parse() reads the body once with jansson, picks the table named
 * PrimaryResult (else the first), checks every row against the columns and
 * normalises every cell in place, so that both wire forms the service is
 * known to use give the same value:
 *	null		null, in any column
 *	string, guid,	a JSON string (a number or bool arriving in such a
 *	timespan	column becomes its text)
 *	datetime	a string that time_parse_iso8601() accepts
 *	bool		true/false, or "true"/"false" (any case), "1"/"0"
 *	long, int	a JSON integer, or a string holding one
 *	real, decimal	a JSON number, or a string holding one ("NaN" and the
 *			like stay strings: JSON has no value for them)
 *	dynamic		nested JSON, or JSON text which is parsed; text that is
 *			not JSON stays a string
 *	other types	kept as they arrive (scalars only)
 */
#ifndef GW_LA_TABLE_H
#define GW_LA_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum la_type {
	LA_STRING,
	LA_GUID,
	LA_TIMESPAN,
	LA_DATETIME,
	LA_BOOL,
	LA_INT,
	LA_LONG,
	LA_REAL,
	LA_DECIMAL,
	LA_DYNAMIC,
	LA_OTHER
};

struct la_column {
	const char	*name;		/* points into the parsed document */
	enum la_type	 type;
};

struct la_table {
	json_t			*root;		/* owns every value below */
	size_t			 index;		/* position in tables[] */
	const char		*name;
	struct la_column	*columns;
	size_t			 ncolumns;
	json_t			*rows;		/* array of normalised rows */
	size_t			 nrows;
	json_t			*colindex;	/* name -> index */
	int			 partial;	/* PartialError or empty body */
	char			*partial_why;
	size_t			 bad_cells;	/* malformed cells read as null */
};

/* 0 with the table filled in (an empty body gives no rows and partial set),
 * or -1 with *err (allocated) naming what is wrong and where. The table
 * must be freed with la_table_free() after either. */
int		 la_table_parse(const char *body, size_t len, struct la_table *,
		    char **err);
void		 la_table_free(struct la_table *);

/* Index of the column, or -1 when the table has none of that name. */
int		 la_table_column(const struct la_table *, const char *name);
/* Treats a string column as dynamic (a column that holds JSON text, as
 * LocationDetails does in AADNonInteractiveUserSignInLogs). */
void		 la_table_parse_json_column(struct la_table *, int col);

/* The normalised cell (borrowed), or NULL when it is null or col is -1. */
json_t		*la_table_cell(const struct la_table *, size_t row, int col);
/* A string cell's text, or NULL (null, not a string, no such column). */
const char	*la_table_string(const struct la_table *, size_t row, int col);
/* A datetime cell as microseconds: 0, or -1 when null or not a time. */
int		 la_table_time(const struct la_table *, size_t row, int col,
		    int64_t *us);

const char	*la_type_name(enum la_type);

#endif
