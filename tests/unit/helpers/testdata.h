/* Test fixtures: files read whole, times and JSON written inline. */
#ifndef GW_TESTDATA_H
#define GW_TESTDATA_H

#include <stddef.h>
#include <stdint.h>

/* The file's bytes, NUL-terminated (caller frees); the test fails when
 * the file cannot be read. dir may be NULL (path is then the whole
 * path). */
char	*testdata_slurp(const char *dir, const char *name, size_t *len);
/* An ISO 8601 time in microseconds; the test fails when it does not
 * parse. */
int64_t	 testdata_us(const char *iso);
/* JSON written with ' for " so that it stays readable in a test; caller
 * frees. */
char	*testdata_jq(const char *);

#endif
