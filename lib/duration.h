/* Durations ("90s", "5m", "2h", "1d") and sizes ("64MiB"). */
#ifndef GW_DURATION_H
#define GW_DURATION_H

#include <stdint.h>

/* Seconds. Returns 0, or -1 (and *why) when the text is not a duration. */
int	duration_parse(const char *, int64_t *seconds, const char **why);
/* The shortest exact form: 120 -> "2m", 90 -> "90s". */
void	duration_format(int64_t seconds, char *out, unsigned int outlen);
/* Bytes: a whole number with an optional KiB, MiB or GiB suffix. */
int	size_parse(const char *, uint64_t *bytes, const char **why);

#endif
