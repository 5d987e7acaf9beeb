/* Aligned plain-text tables (texttable.h). Cells come from the state store
 * and so from attackers (a UPN, an app name): control characters are
 * printed as spaces so that a cell cannot break the table or the
 * terminal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "texttable.h"
#include "xmalloc.h"

struct texttable {
	size_t	  ncols;
	char	**cells;	/* (nrows + 1) * ncols, the header first */
	size_t	  nrows;	/* without the header */
};

static char *
texttable_clean(const char *s)
{
	char	*c = xstrdup(s != NULL && *s != '\0' ? s : "-");

	for (char *p = c; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return c;
}

/* Characters, not bytes: continuation bytes do not count. */
static size_t
texttable_width(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static void
texttable_push(struct texttable *t, const char *const *cells)
{
	size_t	base = (t->nrows + 1) * t->ncols;

	t->cells = xreallocarray(t->cells, base + t->ncols,
	    sizeof *t->cells);
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[base + i] = texttable_clean(cells[i]);
}

struct texttable *
texttable_new(size_t ncols, const char *const *headers)
{
	struct texttable	*t = xcalloc(1, sizeof *t);

	t->ncols = ncols;
	t->cells = xreallocarray(NULL, ncols, sizeof *t->cells);
	for (size_t i = 0; i < ncols; i++)
		t->cells[i] = texttable_clean(headers[i]);
	return t;
}

void
texttable_add(struct texttable *t, const char *const *cells)
{
	texttable_push(t, cells);
	t->nrows++;
}

size_t
texttable_rows(const struct texttable *t)
{
	return t->nrows;
}

void
texttable_print(const struct texttable *t, FILE *f)
{
	size_t	*w = xcalloc(t->ncols, sizeof *w), n;

	for (size_t r = 0; r <= t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			n = texttable_width(t->cells[r * t->ncols + c]);
			if (n > w[c])
				w[c] = n;
		}
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			fputs(s, f);
			if (c + 1 == t->ncols)
				break;
			for (n = texttable_width(s); n < w[c] + 2; n++)
				fputc(' ', f);
		}
		fputc('\n', f);
	}
	free(w);
}

void
texttable_free(struct texttable *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < (t->nrows + 1) * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
