/* Aligned plain-text tables for the operator commands: a header row, then
 * rows, columns padded to the widest cell (counted in UTF-8 characters),
 * two spaces apart. A NULL cell prints as "-". */
#ifndef GW_TEXTTABLE_H
#define GW_TEXTTABLE_H

#include <stddef.h>
#include <stdio.h>

struct texttable;

/* headers: ncols column titles. */
struct texttable	*texttable_new(size_t ncols,
			    const char *const *headers);
/* One row of ncols cells, copied. */
void			 texttable_add(struct texttable *,
			    const char *const *cells);
size_t			 texttable_rows(const struct texttable *);
void			 texttable_print(const struct texttable *, FILE *);
void			 texttable_free(struct texttable *);

#endif
