/* Reading test fixtures whole. */
#ifndef GW_TESTDATA_H
#define GW_TESTDATA_H

#include <stddef.h>

/* The file's bytes, NUL-terminated (caller frees); the test fails when
 * the file cannot be read. dir may be NULL (path is then the whole
 * path). */
char	*testdata_slurp(const char *dir, const char *name, size_t *len);

#endif
