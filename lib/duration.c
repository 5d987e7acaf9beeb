#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

#define DURATION_MAX_SECONDS	(INT64_C(3650) * 86400)	/* ten years */

static int
leading_number(const char *s, uint64_t *n, const char **rest)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*n = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -1;
	*rest = end;
	return 0;
}

int
duration_parse(const char *s, int64_t *seconds, const char **why)
{
	uint64_t n, mult;
	const char *unit;

	if (leading_number(s, &n, &unit) == -1) {
		*why = "a duration is a whole number followed by s, m, h or d";
		return -1;
	}
	if (strcmp(unit, "s") == 0)
		mult = 1;
	else if (strcmp(unit, "m") == 0)
		mult = 60;
	else if (strcmp(unit, "h") == 0)
		mult = 3600;
	else if (strcmp(unit, "d") == 0)
		mult = 86400;
	else {
		*why = *unit == '\0' ?
		    "a duration needs a unit: s, m, h or d" :
		    "a duration's unit is one of s, m, h or d";
		return -1;
	}
	if (n > (uint64_t)DURATION_MAX_SECONDS / mult) {
		*why = "a duration may be at most 3650d";
		return -1;
	}
	*seconds = (int64_t)(n * mult);
	return 0;
}

void
duration_format(int64_t s, char *out, unsigned int outlen)
{
	if (s != 0 && s % 86400 == 0)
		snprintf(out, outlen, "%" PRId64 "d", s / 86400);
	else if (s != 0 && s % 3600 == 0)
		snprintf(out, outlen, "%" PRId64 "h", s / 3600);
	else if (s != 0 && s % 60 == 0)
		snprintf(out, outlen, "%" PRId64 "m", s / 60);
	else
		snprintf(out, outlen, "%" PRId64 "s", s);
}

int
size_parse(const char *s, uint64_t *bytes, const char **why)
{
	uint64_t n, mult;
	const char *unit;

	if (leading_number(s, &n, &unit) == -1) {
		*why = "a size is a whole number with an optional KiB, MiB or "
		       "GiB unit";
		return -1;
	}
	if (*unit == '\0')
		mult = 1;
	else if (strcmp(unit, "KiB") == 0)
		mult = 1024;
	else if (strcmp(unit, "MiB") == 0)
		mult = 1024 * 1024;
	else if (strcmp(unit, "GiB") == 0)
		mult = 1024 * 1024 * 1024;
	else {
		*why = "a size's unit is one of KiB, MiB or GiB";
		return -1;
	}
	if (n > UINT64_MAX / mult) {
		*why = "the size is too large";
		return -1;
	}
	*bytes = n * mult;
	return 0;
}
