/* The inputs of --replay (replay-input.h). Each format becomes one or
 * more pages in the shape the daemon's parsers read, so a saved file gives
 * exactly the records a poll would have:
 *	Graph: a {"value": [...]} page per signal (sign-ins, non-interactive
 *	sign-ins, directory audits), without @odata.nextLink (a saved page
 *	links to a host this configuration may not poll).
 *	Log Analytics: the result table with the daemon's two helper columns
 *	added when missing: GwSignal (from the Type column, else from the
 *	columns present) and GwIngestionTime (null: a saved row's ingestion
 *	time is not known).
 *	CSV: a Log Analytics table of string cells (empty cells null), its
 *	time columns typed datetime; the portal's column names mapped to
 *	the Log Analytics ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "config.h"
#include "csv.h"
#include "replay-input.h"
#include "source.h"
#include "xmalloc.h"

struct replay_page {
	const struct source_ops	*ops;
	enum signal		 signal;
	unsigned		 together;
	char			*body;
};

struct replay_input {
	enum replay_format	 format;
	size_t			 rows;
	struct replay_page	*pages;
	size_t			 npages;
};

/* The Entra portal's sign-in download, by column title; the other columns
 * keep their titles and only show in the record's raw row. */
static const struct {
	const char	*portal;
	const char	*la;
} replay_portal_columns[] = {
	{ "Date (UTC)", "CreatedDateTime" },
	{ "Request ID", "Id" },
	{ "User ID", "UserId" },
	{ "Username", "UserPrincipalName" },
	{ "IP address", "IPAddress" },
	{ "Location", "Location" },
	{ "Application", "AppDisplayName" },
	{ "Sign-in error code", "ResultType" },
	{ "Failure reason", "ResultDescription" },
	{ "Correlation ID", "CorrelationId" },
	{ "Status", "PortalStatus" },
};

static const char *const replay_time_columns[] = {
	"TimeGenerated", "CreatedDateTime", "ActivityDateTime",
	"GwIngestionTime", NULL
};

static void
replay_page_add(struct replay_input *in, const struct source_ops *ops,
    enum signal signal, unsigned together, json_t *doc)
{
	struct replay_page *p;

	in->pages = xreallocarray(in->pages, in->npages + 1,
	    sizeof *in->pages);
	p = &in->pages[in->npages++];
	p->ops = ops;
	p->signal = signal;
	p->together = together;
	if ((p->body = json_dumps(doc, JSON_COMPACT)) == NULL)
		abort();
}

/* --- Graph ----------------------------------------------------------- */

/* A directoryAudit has activityDateTime; a signIn createdDateTime, and a
 * beta non-interactive one isInteractive false. -1: neither. */
static int
replay_graph_signal(json_t *item, int audit_page)
{
	json_t *v;

	if (!json_is_object(item))
		return -1;
	if (audit_page || json_object_get(item, "activityDateTime") != NULL)
		return SIGNAL_AUDIT;
	if (json_object_get(item, "createdDateTime") == NULL)
		return -1;
	v = json_object_get(item, "isInteractive");
	return json_is_false(v) ? SIGNAL_NON_INTERACTIVE : SIGNAL_SIGN_IN;
}

static int
replay_graph(struct replay_input *in, json_t *root, char **err)
{
	json_t *value = json_object_get(root, "value"), *ctxv, *item;
	json_t *pages[SIGNAL_COUNT] = { NULL };
	const char *context;
	int audit_page = 0, s;
	size_t i;

	if (!json_is_array(value)) {
		*err = xstrdup("value: not an array: not a Graph page");
		return -1;
	}
	ctxv = json_object_get(root, "@odata.context");
	context = json_string_value(ctxv);
	if (context != NULL && strstr(context, "directoryAudits") != NULL)
		audit_page = 1;
	json_array_foreach(value, i, item) {
		if ((s = replay_graph_signal(item, audit_page)) == -1) {
			*err = xasprintf("value[%zu]: neither a signIn nor a "
			    "directoryAudit object", i);
			goto fail;
		}
		if (pages[s] == NULL)
			pages[s] = json_array();
		json_array_append(pages[s], item);
	}
	in->format = REPLAY_GRAPH;
	in->rows = json_array_size(value);
	for (s = 0; s < SIGNAL_COUNT; s++) {
		json_t *page;

		if (pages[s] == NULL)
			continue;
		page = json_pack("{s:o}", "value", pages[s]);
		pages[s] = NULL;
		replay_page_add(in, &source_graph_ops, (enum signal)s, 0, page);
		json_decref(page);
	}
	return 0;
fail:
	for (s = 0; s < SIGNAL_COUNT; s++)
		json_decref(pages[s]);
	return -1;
}

/* --- Log Analytics --------------------------------------------------- */

static int
replay_la_column(json_t *columns, const char *name)
{
	json_t *c;
	size_t i;

	json_array_foreach(columns, i, c) {
		const char *n = json_string_value(json_object_get(c, "name"));

		if (n != NULL && strcmp(n, name) == 0)
			return (int)i;
	}
	return -1;
}

/* The table la_table_parse() reads: PrimaryResult, else the first. */
static json_t *
replay_la_table(json_t *tables)
{
	json_t *t;
	size_t i;

	json_array_foreach(tables, i, t) {
		const char *n = json_string_value(json_object_get(t, "name"));

		if (n != NULL && strcmp(n, "PrimaryResult") == 0)
			return t;
	}
	return json_array_get(tables, 0);
}

/* The signal of rows without a Type cell: the columns say. */
static int
replay_la_shape(json_t *columns)
{
	if (replay_la_column(columns, "InitiatedBy") != -1 ||
	    replay_la_column(columns, "ActivityDisplayName") != -1)
		return SIGNAL_AUDIT;
	if (replay_la_column(columns, "UserId") != -1)
		return SIGNAL_SIGN_IN;
	return -1;
}

static int
replay_la_type(const char *type)
{
	for (int s = 0; s < SIGNAL_COUNT; s++) {
		const char *table = source_la_table((enum signal)s);

		if (table != NULL && type != NULL && strcmp(table, type) == 0)
			return s;
	}
	return -1;
}

/* Adds GwSignal and GwIngestionTime where missing; rows of tables the
 * daemon does not read (by Type or GwSignal) are left out. */
static int
replay_la(struct replay_input *in, json_t *root, enum replay_format fmt,
    char **err)
{
	json_t *table, *columns, *rows, *row, *kept;
	int sig_col, type_col, shape, s;
	unsigned bits = 0;
	enum signal first = SIGNAL_COUNT;
	size_t i;

	table = replay_la_table(json_object_get(root, "tables"));
	columns = json_object_get(table, "columns");
	rows = json_object_get(table, "rows");
	if (!json_is_array(columns) || !json_is_array(rows)) {
		*err = xstrdup("tables: no table with columns and rows: not a "
		    "Log Analytics query response");
		return -1;
	}
	json_array_foreach(rows, i, row) {
		if (!json_is_array(row) || json_array_size(row) !=
		    json_array_size(columns)) {
			*err = xasprintf("tables[].rows[%zu]: not an array of "
			    "%zu cells", i, json_array_size(columns));
			return -1;
		}
	}
	if (replay_la_column(columns, "GwIngestionTime") == -1) {
		json_array_append_new(columns, json_pack("{s:s,s:s}", "name",
		    "GwIngestionTime", "type", "datetime"));
		json_array_foreach(rows, i, row)
			json_array_append_new(row, json_null());
	}
	sig_col = replay_la_column(columns, "GwSignal");
	type_col = replay_la_column(columns, "Type");
	shape = replay_la_shape(columns);
	kept = json_array();
	json_array_foreach(rows, i, row) {
		enum signal sv;
		const char *name;

		if (sig_col != -1) {
			name = json_string_value(json_array_get(row,
			    (size_t)sig_col));
			s = name != NULL && signal_from_name(name, &sv) == 0 ?
			    (int)sv : -1;
		} else if (type_col != -1)
			s = replay_la_type(json_string_value(
			    json_array_get(row, (size_t)type_col)));
		else
			s = shape;
		if (s == -1)
			continue;
		if (sig_col == -1)
			json_array_append_new(row,
			    json_string(signal_name((enum signal)s)));
		json_array_append(kept, row);
		bits |= SIGNAL_BIT(s);
		if ((enum signal)s < first)
			first = (enum signal)s;
	}
	if (sig_col == -1)
		json_array_append_new(columns, json_pack("{s:s,s:s}", "name",
		    "GwSignal", "type", "string"));
	in->format = fmt;
	in->rows = json_array_size(rows);
	json_object_set_new(table, "rows", kept);
	if (bits == 0) {
		if (in->rows > 0 && shape == -1 && type_col == -1) {
			*err = xstrdup("the columns are neither of sign-ins "
			    "(UserId) nor of audit rows (InitiatedBy); no Type "
			    "column says which table they are from");
			return -1;
		}
		return 0;
	}
	/* One page for every signal, as the daemon's union query reads. */
	replay_page_add(in, &source_loganalytics_ops, first,
	    (bits & (bits - 1)) != 0 ? bits : 0, root);
	return 0;
}

/* --- CSV --------------------------------------------------------------- */

static int
replay_csv_is_time(const char *name)
{
	for (size_t i = 0; replay_time_columns[i] != NULL; i++)
		if (strcmp(replay_time_columns[i], name) == 0)
			return 1;
	return 0;
}

static const char *
replay_csv_name(const struct csv *c, size_t col, int portal)
{
	const char *h = csv_header(c, col);

	if (portal) {
		for (size_t i = 0; i < sizeof replay_portal_columns /
		    sizeof replay_portal_columns[0]; i++)
			if (csv_column(c, replay_portal_columns[i].portal) ==
			    (int)col)
				return replay_portal_columns[i].la;
	}
	return h;
}

static int
replay_csv(struct replay_input *in, const char *data, size_t len,
    char **err)
{
	struct csv c;
	json_t *columns, *rows, *row, *root;
	int portal, la, status_col, code_col, rc;
	char *cerr = NULL;

	if (csv_parse(data, len, &c, &cerr) == -1) {
		*err = xasprintf("not JSON, and not CSV: %s", cerr);
		free(cerr);
		csv_free(&c);
		return -1;
	}
	portal = csv_column(&c, "Date (UTC)") != -1 &&
	    (csv_column(&c, "Request ID") != -1 ||
	    csv_column(&c, "User ID") != -1);
	la = csv_column(&c, "UserId") != -1 ||
	    csv_column(&c, "InitiatedBy") != -1;
	if (!portal && !la) {
		*err = xstrdup("a CSV file, but neither an Entra portal sign-in "
		    "export (Date (UTC), Request ID, User ID columns) nor Log "
		    "Analytics rows (UserId or InitiatedBy columns)");
		csv_free(&c);
		return -1;
	}
	columns = json_array();
	for (size_t j = 0; j < c.ncols; j++) {
		const char *name = replay_csv_name(&c, j, portal);

		json_array_append_new(columns, json_pack("{s:s,s:s}", "name",
		    name, "type", replay_csv_is_time(name) ? "datetime" :
		    "string"));
	}
	status_col = portal ? csv_column(&c, "Status") : -1;
	code_col = portal ? csv_column(&c, "Sign-in error code") : -1;
	rows = json_array();
	for (size_t i = 0; i < c.nrows; i++) {
		row = json_array();
		for (size_t j = 0; j < c.ncols; j++) {
			const char *v = csv_cell(&c, i, j);

			/* The portal leaves the code of a success empty. */
			if ((int)j == code_col && *v == '\0' &&
			    status_col != -1 && strcasecmp(csv_cell(&c, i,
			    (size_t)status_col), "Success") == 0)
				v = "0";
			json_array_append_new(row, *v == '\0' ? json_null() :
			    json_string(v));
		}
		json_array_append_new(rows, row);
	}
	root = json_pack("{s:[{s:s,s:o,s:o}]}", "tables", "name",
	    "PrimaryResult", "columns", columns, "rows", rows);
	if (portal) {
		/* Every row of the portal's download is a sign-in. */
		json_array_append_new(columns, json_pack("{s:s,s:s}", "name",
		    "GwSignal", "type", "string"));
		for (size_t i = 0; i < c.nrows; i++)
			json_array_append_new(json_array_get(rows, i),
			    json_string(signal_name(SIGNAL_SIGN_IN)));
	}
	rc = replay_la(in, root, portal ? REPLAY_CSV_PORTAL_SIGNINS :
	    REPLAY_CSV_LOG_ANALYTICS, err);
	json_decref(root);
	csv_free(&c);
	return rc;
}

/* --- the interface ------------------------------------------------------ */

int
replay_input_open(const char *data, size_t len, struct replay_input **out,
    char **err)
{
	struct replay_input *in = xcalloc(1, sizeof *in);
	json_error_t jerr;
	json_t *root;
	size_t i = 0;
	int rc = -1;

	*out = NULL;
	*err = NULL;
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && (data[i] == ' ' || data[i] == '\t' ||
	    data[i] == '\r' || data[i] == '\n'))
		i++;
	if (i == len) {
		*err = xstrdup("the file is empty");
		goto done;
	}
	if (data[i] != '{') {
		rc = replay_csv(in, data, len, err);
		goto done;
	}
	if ((root = json_loadb(data + i, len - i, 0, &jerr)) == NULL) {
		*err = xasprintf("invalid JSON at line %d column %d: %s",
		    jerr.line, jerr.column, jerr.text);
		goto done;
	}
	if (json_object_get(root, "value") != NULL)
		rc = replay_graph(in, root, err);
	else if (json_object_get(root, "tables") != NULL)
		rc = replay_la(in, root, REPLAY_LOG_ANALYTICS, err);
	else if (json_object_get(root, "error") != NULL)
		*err = xstrdup("the saved response is a service error, not "
		    "records");
	else
		*err = xstrdup("JSON, but neither a Graph page (value) nor a "
		    "Log Analytics query response (tables)");
	json_decref(root);
done:
	if (rc == -1) {
		replay_input_free(in);
		return -1;
	}
	*out = in;
	return 0;
}

void
replay_input_free(struct replay_input *in)
{
	if (in == NULL)
		return;
	for (size_t i = 0; i < in->npages; i++)
		free(in->pages[i].body);
	free(in->pages);
	free(in);
}

enum replay_format
replay_input_format(const struct replay_input *in)
{
	return in->format;
}

const char *
replay_format_name(enum replay_format f)
{
	switch (f) {
	case REPLAY_GRAPH:
		return "Graph page";
	case REPLAY_LOG_ANALYTICS:
		return "Log Analytics query response";
	case REPLAY_CSV_LOG_ANALYTICS:
		return "CSV export of Log Analytics rows";
	case REPLAY_CSV_PORTAL_SIGNINS:
		return "CSV export of Entra portal sign-ins";
	}
	return "unknown";
}

size_t
replay_input_rows(const struct replay_input *in)
{
	return in->rows;
}

int
replay_input_records(const struct replay_input *in,
    const struct tenant_config *tenant, int64_t now_us,
    struct record_list *out, char **err)
{
	for (size_t i = 0; i < in->npages; i++) {
		const struct replay_page *p = &in->pages[i];
		struct source_ctx ctx;
		struct page_info pi;
		char *perr = NULL;
		int rc;

		memset(&ctx, 0, sizeof ctx);
		ctx.tenant = tenant;
		ctx.signal = p->signal;
		ctx.together = p->together;
		ctx.now_us = now_us;
		rc = p->ops->parse(&ctx, p->body, strlen(p->body), out, &pi,
		    &perr);
		page_info_clear(&pi);
		if (rc == -1) {
			*err = xasprintf("%s: %s", replay_format_name(
			    in->format), perr != NULL ? perr : "unreadable");
			free(perr);
			return -1;
		}
	}
	return 0;
}
