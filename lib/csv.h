/* An RFC 4180 CSV reader for exported log rows: a header line then
 * records; fields separated by commas; a field may be quoted ("..."), and
 * then holds commas, line breaks and doubled quotes (""). Lines end in
 * CRLF or LF; a UTF-8 byte order mark before the header is skipped; blank
 * lines are skipped. Every record must have as many fields as the
 * header. */
#ifndef GW_CSV_H
#define GW_CSV_H

#include <stddef.h>

struct csv {
	size_t	  ncols;
	size_t	  nrows;	/* records, without the header */
	char	**cells;	/* (nrows + 1) * ncols, the header first */
	size_t	 *lines;	/* the line each record starts on (1-based) */
};

/* 0 with *csv filled in, or -1 with *err (caller frees) naming the line
 * and what is wrong; csv_free() after either. */
int		 csv_parse(const char *data, size_t len, struct csv *,
		    char **err);
void		 csv_free(struct csv *);
/* Header name of column col. */
const char	*csv_header(const struct csv *, size_t col);
/* The cell of record row (0-based) in column col. */
const char	*csv_cell(const struct csv *, size_t row, size_t col);
/* The column whose header is name (surrounding blanks ignored, case
 * insensitive), or -1. */
int		 csv_column(const struct csv *, const char *name);

#endif
