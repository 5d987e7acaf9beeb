/* The RFC 4180 CSV reader (csv.h). One pass over the bytes with a small
 * state machine; fields are copied out as they end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "csv.h"
#include "xmalloc.h"

struct csv_reader {
	struct csv	*csv;
	char		**fields;	/* the record being read */
	size_t		  nfields;
	size_t		  line;		/* current line (1-based) */
	size_t		  start_line;	/* where the record began */
	int		  have_header;
};

static void
csv_field_end(struct csv_reader *rd, struct buf *b)
{
	rd->fields = xreallocarray(rd->fields, rd->nfields + 1,
	    sizeof *rd->fields);
	rd->fields[rd->nfields++] = xstrdup(buf_cstr(b));
	buf_reset(b);
}

static void
csv_fields_free(struct csv_reader *rd)
{
	for (size_t i = 0; i < rd->nfields; i++)
		free(rd->fields[i]);
	rd->nfields = 0;
}

/* A record is complete: the header fixes the width, every record after it
 * must match. A line holding nothing is skipped. */
static int
csv_record_end(struct csv_reader *rd, char **err)
{
	struct csv	*c = rd->csv;
	size_t		 base;

	if (rd->nfields == 1 && rd->fields[0][0] == '\0') {
		csv_fields_free(rd);
		return 0;
	}
	if (!rd->have_header) {
		c->ncols = rd->nfields;
		c->cells = xreallocarray(NULL, c->ncols, sizeof *c->cells);
		memcpy(c->cells, rd->fields, c->ncols * sizeof *c->cells);
		rd->nfields = 0;
		rd->have_header = 1;
		return 0;
	}
	if (rd->nfields != c->ncols) {
		*err = xasprintf("line %zu: %zu field%s, the header has %zu",
		    rd->start_line, rd->nfields, rd->nfields == 1 ? "" : "s",
		    c->ncols);
		csv_fields_free(rd);
		return -1;
	}
	base = (c->nrows + 1) * c->ncols;
	c->cells = xreallocarray(c->cells, base + c->ncols, sizeof *c->cells);
	memcpy(c->cells + base, rd->fields, c->ncols * sizeof *c->cells);
	c->lines = xreallocarray(c->lines, c->nrows + 1, sizeof *c->lines);
	c->lines[c->nrows++] = rd->start_line;
	rd->nfields = 0;
	return 0;
}

int
csv_parse(const char *data, size_t len, struct csv *c, char **err)
{
	struct csv_reader	 rd;
	struct buf		 b;
	size_t			 i = 0, quote_line = 0;
	int			 quoted = 0, after_quote = 0, rc = -1;

	memset(c, 0, sizeof *c);
	memset(&rd, 0, sizeof rd);
	*err = NULL;
	rd.csv = c;
	rd.line = rd.start_line = 1;
	buf_init(&b);
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	for (; i < len; i++) {
		char ch = data[i];

		if (ch == '\0') {
			*err = xasprintf("line %zu: a NUL byte: not a text "
			    "file", rd.line);
			goto done;
		}
		if (quoted) {
			if (ch == '"') {
				if (i + 1 < len && data[i + 1] == '"') {
					buf_putc(&b, '"');
					i++;
				} else {
					quoted = 0;
					after_quote = 1;
				}
				continue;
			}
			if (ch == '\n')
				rd.line++;
			buf_putc(&b, ch);
			continue;
		}
		if (ch == ',') {
			csv_field_end(&rd, &b);
			after_quote = 0;
			continue;
		}
		if (ch == '\n' || (ch == '\r' && i + 1 < len &&
		    data[i + 1] == '\n')) {
			if (ch == '\r')
				i++;
			csv_field_end(&rd, &b);
			after_quote = 0;
			if (csv_record_end(&rd, err) == -1)
				goto done;
			rd.start_line = ++rd.line;
			continue;
		}
		if (after_quote) {
			*err = xasprintf("line %zu: text after the closing "
			    "quote of a field", rd.line);
			goto done;
		}
		if (ch == '"') {
			if (b.len > 0) {
				*err = xasprintf("line %zu: a quote inside an "
				    "unquoted field (RFC 4180 wants the "
				    "field quoted and the quote doubled)",
				    rd.line);
				goto done;
			}
			quoted = 1;
			quote_line = rd.line;
			continue;
		}
		buf_putc(&b, ch);
	}
	if (quoted) {
		*err = xasprintf("line %zu: a quoted field is never closed",
		    quote_line);
		goto done;
	}
	/* The last record may lack its line end. */
	if (b.len > 0 || rd.nfields > 0 || after_quote) {
		csv_field_end(&rd, &b);
		if (csv_record_end(&rd, err) == -1)
			goto done;
	}
	if (!rd.have_header) {
		*err = xstrdup("empty file: no header line");
		goto done;
	}
	rc = 0;
done:
	csv_fields_free(&rd);
	free(rd.fields);
	buf_free(&b);
	return rc;
}

void
csv_free(struct csv *c)
{
	size_t	n = c->cells != NULL ? (c->nrows + 1) * c->ncols : 0;

	for (size_t i = 0; i < n; i++)
		free(c->cells[i]);
	free(c->cells);
	free(c->lines);
	memset(c, 0, sizeof *c);
}

const char *
csv_header(const struct csv *c, size_t col)
{
	return c->cells[col];
}

const char *
csv_cell(const struct csv *c, size_t row, size_t col)
{
	return c->cells[(row + 1) * c->ncols + col];
}

int
csv_column(const struct csv *c, const char *name)
{
	size_t	nlen = strlen(name);

	for (size_t i = 0; i < c->ncols; i++) {
		const char *h = c->cells[i];
		size_t hlen;

		while (*h == ' ' || *h == '\t')
			h++;
		hlen = strlen(h);
		while (hlen > 0 && (h[hlen - 1] == ' ' || h[hlen - 1] == '\t'))
			hlen--;
		if (hlen == nlen && strncasecmp(h, name, nlen) == 0)
			return (int)i;
	}
	return -1;
}
