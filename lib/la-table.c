/*
 * Log Analytics query responses: one parse, one pass over the rows, every
 * cell normalised in place (la-table.h lists the rules).
 *
 * Duplicate object keys are accepted and the last one wins (jansson's
 * default; JSON_REJECT_DUPLICATES is deliberately not used). Microsoft
 * services do emit duplicate keys (the Graph beta sign-in examples repeat
 * homeTenantId and others), and rejecting a page for one would fail every
 * later poll on the same rows: the monitor would go blind over a cosmetic
 * fault. What decides whether a row is a break-glass row is a positional
 * cell of a row array, not an object key, so a duplicate key can change
 * only the content of a dynamic cell (LocationDetails, Status), never
 * whether the row is seen. Duplicate column names, which would make it
 * ambiguous which cell is UserId, are rejected.
 *
 * "\u0000" is accepted (JSON_ALLOW_NUL) for the same reason: attackers
 * choose some strings that end up in these rows (the user agent). A NUL in
 * a string cell is replaced by U+FFFD so that no C string is cut short.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "buf.h"
#include "la-table.h"
#include "log.h"
#include "timeutil.h"
#include "xmalloc.h"

#define LA_JSON_FLAGS		JSON_ALLOW_NUL
#define LA_MESSAGE_MAX		300	/* of the service's error texts */

static const struct {
	const char	*name;
	enum la_type	 type;
} la_types[] = {
	{ "string", LA_STRING },
	{ "guid", LA_GUID },
	{ "timespan", LA_TIMESPAN },
	{ "datetime", LA_DATETIME },
	{ "bool", LA_BOOL },
	{ "boolean", LA_BOOL },
	{ "int", LA_INT },
	{ "long", LA_LONG },
	{ "real", LA_REAL },
	{ "decimal", LA_DECIMAL },
	{ "dynamic", LA_DYNAMIC },
};

static int
la_fail(char **err, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	*err = xstrdup(msg);
	return -1;
}

static json_t *
la_check(json_t *v)
{
	if (v == NULL)
		fatalx("out of memory building JSON");
	return v;
}

const char *
la_type_name(enum la_type type)
{
	for (size_t i = 0; i < sizeof la_types / sizeof la_types[0]; i++)
		if (la_types[i].type == type)
			return la_types[i].name;
	return "other";
}

static enum la_type
la_type_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof la_types / sizeof la_types[0]; i++)
		if (strcasecmp(name, la_types[i].name) == 0)
			return la_types[i].type;
	return LA_OTHER;
}

/* A copy of a string value with every NUL replaced by U+FFFD, or NULL
 * when it has none. */
static json_t *
la_string_unnul(json_t *v)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	struct buf b;
	json_t *n;

	if (memchr(s, '\0', len) == NULL)
		return NULL;
	buf_init(&b);
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\0')
			buf_puts(&b, "\xef\xbf\xbd");
		else
			buf_putc(&b, s[i]);
	}
	n = la_check(json_stringn(b.data, b.len));
	buf_free(&b);
	return n;
}

static int
la_parse_integer(const char *s, json_int_t *out)
{
	const char *p = s;
	char *end;
	long long v;

	if (*p == '-' || *p == '+')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0' || errno == ERANGE)
		return -1;
	*out = (json_int_t)v;
	return 0;
}

/* 0 with a finite number, 1 for the texts Kusto uses for the values JSON
 * cannot hold, -1 for anything else. */
static int
la_parse_real(const char *s, double *out)
{
	const char *p = s;
	char *end;
	double v;

	if (strcasecmp(s, "NaN") == 0 || strcasecmp(s, "Infinity") == 0 ||
	    strcasecmp(s, "-Infinity") == 0 || strcasecmp(s, "+Infinity") == 0)
		return 1;
	if (*p == '-' || *p == '+')
		p++;
	if (!isdigit((unsigned char)*p) && *p != '.')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || end == s)
		return -1;
	if (!isfinite(v))
		return 1;
	*out = v;
	return 0;
}

/* Parses JSON text (any value); NULL when it is not JSON. */
static json_t *
la_parse_text(json_t *v)
{
	return json_loadb(json_string_value(v), json_string_length(v),
	    LA_JSON_FLAGS | JSON_DECODE_ANY, NULL);
}

/*
 * Normalises cell i of row. Returns 0, or -1 with *why saying what is
 * wrong with it.
 */
static int
la_cell_normalise(json_t *row, size_t i, enum la_type type, const char **why)
{
	json_t *v = json_array_get(row, i), *n = NULL;
	json_int_t iv;
	double dv;
	int64_t us;
	char text[64];

	if (json_is_null(v))
		return 0;

	switch (type) {
	case LA_STRING:
	case LA_GUID:
	case LA_TIMESPAN:
		if (json_is_string(v))
			n = la_string_unnul(v);
		else if (json_is_integer(v)) {
			snprintf(text, sizeof text, "%" JSON_INTEGER_FORMAT,
			    json_integer_value(v));
			n = la_check(json_string(text));
		} else if (json_is_real(v)) {
			snprintf(text, sizeof text, "%.17g",
			    json_real_value(v));
			n = la_check(json_string(text));
		} else if (json_is_boolean(v))
			n = la_check(json_string(json_is_true(v) ? "true" :
			    "false"));
		else {
			*why = "not a string";
			return -1;
		}
		break;
	case LA_DATETIME:
		if (!json_is_string(v) ||
		    time_parse_iso8601(json_string_value(v), &us) != 0 ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			*why = "not an ISO 8601 time";
			return -1;
		}
		break;
	case LA_BOOL:
		if (json_is_boolean(v))
			break;
		if (json_is_integer(v) && (json_integer_value(v) == 0 ||
		    json_integer_value(v) == 1))
			n = json_boolean(json_integer_value(v) == 1);
		else if (json_is_string(v)) {
			const char *s = json_string_value(v);

			if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
				n = json_true();
			else if (strcasecmp(s, "false") == 0 ||
			    strcmp(s, "0") == 0)
				n = json_false();
		}
		if (n == NULL) {
			*why = "not a bool";
			return -1;
		}
		break;
	case LA_INT:
	case LA_LONG:
		if (json_is_integer(v))
			break;
		if (json_is_real(v)) {
			dv = json_real_value(v);
			if (dv == floor(dv) && dv >= -9.2e18 && dv <= 9.2e18)
				n = la_check(json_integer((json_int_t)dv));
		} else if (json_is_string(v) &&
		    strlen(json_string_value(v)) == json_string_length(v) &&
		    la_parse_integer(json_string_value(v), &iv) == 0)
			n = la_check(json_integer(iv));
		if (n == NULL) {
			*why = "not an integer";
			return -1;
		}
		break;
	case LA_REAL:
	case LA_DECIMAL:
		if (json_is_real(v))
			break;
		if (json_is_integer(v))
			n = la_check(json_real((double)json_integer_value(v)));
		else if (json_is_string(v) &&
		    strlen(json_string_value(v)) == json_string_length(v)) {
			switch (la_parse_real(json_string_value(v), &dv)) {
			case 0:
				n = la_check(json_real(dv));
				break;
			case 1:
				return 0;	/* "NaN": stays a string */
			}
		}
		if (n == NULL) {
			*why = "not a number";
			return -1;
		}
		break;
	case LA_DYNAMIC:
		if (json_is_string(v)) {
			if ((n = la_parse_text(v)) == NULL)
				n = la_string_unnul(v);
		}
		break;
	case LA_OTHER:
		break;
	}
	if (n != NULL && json_array_set_new(row, i, n) != 0)
		fatalx("%s: cannot replace a cell", __func__);
	return 0;
}

static int
la_table_read(struct la_table *t, json_t *tab, size_t ti, char **err)
{
	json_t *name, *columns, *rows, *col, *cname, *ctype, *row;
	size_t i, j;
	const char *why;

	t->index = ti;
	if ((name = json_object_get(tab, "name")) != NULL &&
	    !json_is_string(name))
		return la_fail(err, "tables[%zu].name: not a string", ti);
	t->name = name != NULL ? json_string_value(name) : "";

	columns = json_object_get(tab, "columns");
	if (columns == NULL)
		return la_fail(err, "tables[%zu]: no columns", ti);
	if (!json_is_array(columns))
		return la_fail(err, "tables[%zu].columns: not an array", ti);
	t->ncolumns = json_array_size(columns);
	t->columns = xcalloc(t->ncolumns, sizeof *t->columns);
	t->colindex = la_check(json_object());
	json_array_foreach(columns, i, col) {
		if (!json_is_object(col))
			return la_fail(err, "tables[%zu].columns[%zu]: not an "
			    "object", ti, i);
		cname = json_object_get(col, "name");
		ctype = json_object_get(col, "type");
		if (!json_is_string(cname))
			return la_fail(err, "tables[%zu].columns[%zu].name: "
			    "%s", ti, i, cname == NULL ? "missing" :
			    "not a string");
		if (!json_is_string(ctype))
			return la_fail(err, "tables[%zu].columns[%zu].type: "
			    "%s", ti, i, ctype == NULL ? "missing" :
			    "not a string");
		t->columns[i].name = json_string_value(cname);
		t->columns[i].type =
		    la_type_from_name(json_string_value(ctype));
		if (json_object_get(t->colindex, t->columns[i].name) != NULL)
			return la_fail(err, "tables[%zu].columns[%zu]: "
			    "duplicate column name \"%.100s\"", ti, i,
			    t->columns[i].name);
		if (json_object_set_new(t->colindex, t->columns[i].name,
		    la_check(json_integer((json_int_t)i))) != 0)
			return la_fail(err, "tables[%zu].columns[%zu]: bad "
			    "column name", ti, i);
	}

	rows = json_object_get(tab, "rows");
	if (rows == NULL)
		return la_fail(err, "tables[%zu]: no rows", ti);
	if (!json_is_array(rows))
		return la_fail(err, "tables[%zu].rows: not an array", ti);
	json_array_foreach(rows, i, row) {
		if (!json_is_array(row))
			return la_fail(err, "tables[%zu].rows[%zu]: not an "
			    "array", ti, i);
		if (json_array_size(row) != t->ncolumns)
			return la_fail(err, "tables[%zu].rows[%zu]: %zu cells "
			    "for %zu columns", ti, i, json_array_size(row),
			    t->ncolumns);
		for (j = 0; j < t->ncolumns; j++) {
			if (la_cell_normalise(row, j, t->columns[j].type,
			    &why) == 0)
				continue;
			/* One odd cell must not blind the monitor: the
			 * cursor would never pass the page and the good rows
			 * on it would never be stored. The cell reads as
			 * absent; the structure above is still strict. */
			log_warnx("log_analytics: tables[%zu].rows[%zu][%zu] "
			    "(%.100s, %s): %s; read as null", ti, i, j,
			    t->columns[j].name,
			    la_type_name(t->columns[j].type), why);
			if (json_array_set_new(row, j, json_null()) != 0)
				return la_fail(err, "tables[%zu].rows[%zu]"
				    "[%zu]: cannot replace the cell", ti, i, j);
			t->bad_cells++;
		}
	}
	t->rows = rows;
	t->nrows = json_array_size(rows);
	return 0;
}

/* The text of a member, cut to a readable length, or def. */
static const char *
la_member_text(json_t *o, const char *key, const char *def)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : def;
}

static int
la_error_read(struct la_table *t, json_t *error, char **err)
{
	const char *code, *message, *detail = NULL;
	json_t *details, *d0;

	if (!json_is_object(error))
		return la_fail(err, "error: not an object");
	code = la_member_text(error, "code", "(no code)");
	message = la_member_text(error, "message", "(no message)");
	if (strcmp(code, "PartialError") != 0)
		return la_fail(err, "service error %.100s: %.*s", code,
		    LA_MESSAGE_MAX, message);

	details = json_object_get(error, "details");
	if (json_is_array(details) && (d0 = json_array_get(details, 0)) != NULL)
		detail = la_member_text(d0, "message", NULL);
	t->partial = 1;
	if (detail != NULL)
		t->partial_why = xasprintf("PartialError: %.*s (%.*s)",
		    LA_MESSAGE_MAX, message, LA_MESSAGE_MAX, detail);
	else
		t->partial_why = xasprintf("PartialError: %.*s",
		    LA_MESSAGE_MAX, message);
	return 0;
}

int
la_table_parse(const char *body, size_t len, struct la_table *t, char **err)
{
	json_t *error, *tables, *tab, *name;
	json_error_t jerr;
	size_t i, pick;

	memset(t, 0, sizeof *t);
	*err = NULL;

	/* The documented "200 with an empty body": nothing to read, and
	 * nothing that may move the cursor. */
	for (i = 0; i < len; i++)
		if (!isspace((unsigned char)body[i]))
			break;
	if (i == len) {
		t->partial = 1;
		t->partial_why = xstrdup("empty response");
		return 0;
	}

	if ((t->root = json_loadb(body, len, LA_JSON_FLAGS, &jerr)) == NULL)
		return la_fail(err, "invalid JSON at line %d column %d: %s",
		    jerr.line, jerr.column, jerr.text);
	if (!json_is_object(t->root))
		return la_fail(err, "response: not a JSON object");

	error = json_object_get(t->root, "error");
	if (error != NULL && !json_is_null(error) &&
	    la_error_read(t, error, err) != 0)
		return -1;

	if ((tables = json_object_get(t->root, "tables")) == NULL)
		return la_fail(err, "no tables in the response%s%s",
		    t->partial ? " after " : "",
		    t->partial ? t->partial_why : "");
	if (!json_is_array(tables))
		return la_fail(err, "tables: not an array");
	if (json_array_size(tables) == 0)
		return la_fail(err, "tables: empty array");
	pick = 0;
	for (i = json_array_size(tables); i-- > 0;) {
		tab = json_array_get(tables, i);
		if (!json_is_object(tab))
			return la_fail(err, "tables[%zu]: not an object", i);
		name = json_object_get(tab, "name");
		if (json_is_string(name) &&
		    strcmp(json_string_value(name), "PrimaryResult") == 0)
			pick = i;
	}
	return la_table_read(t, json_array_get(tables, pick), pick, err);
}

void
la_table_free(struct la_table *t)
{
	json_decref(t->colindex);
	json_decref(t->root);
	free(t->columns);
	free(t->partial_why);
	memset(t, 0, sizeof *t);
}

int
la_table_column(const struct la_table *t, const char *name)
{
	json_t *v;

	if (t->colindex == NULL ||
	    (v = json_object_get(t->colindex, name)) == NULL)
		return -1;
	return (int)json_integer_value(v);
}

void
la_table_parse_json_column(struct la_table *t, int col)
{
	json_t *row, *v, *n;
	size_t i;

	if (col < 0 || (size_t)col >= t->ncolumns)
		return;
	json_array_foreach(t->rows, i, row) {
		v = json_array_get(row, col);
		if (json_is_string(v) && (n = la_parse_text(v)) != NULL &&
		    json_array_set_new(row, col, n) != 0)
			fatalx("%s: cannot replace a cell", __func__);
	}
	t->columns[col].type = LA_DYNAMIC;
}

json_t *
la_table_cell(const struct la_table *t, size_t row, int col)
{
	json_t *v;

	if (col < 0 || (size_t)col >= t->ncolumns || row >= t->nrows)
		return NULL;
	v = json_array_get(json_array_get(t->rows, row), col);
	return json_is_null(v) ? NULL : v;
}

const char *
la_table_string(const struct la_table *t, size_t row, int col)
{
	return json_string_value(la_table_cell(t, row, col));
}

int
la_table_time(const struct la_table *t, size_t row, int col, int64_t *us)
{
	const char *s = la_table_string(t, row, col);

	if (s == NULL || time_parse_iso8601(s, us) != 0)
		return -1;
	return 0;
}
