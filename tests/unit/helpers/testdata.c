/* Test fixtures read whole (testdata.h). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "testdata.h"
#include "timeutil.h"
#include "xmalloc.h"

char *
testdata_slurp(const char *dir, const char *name, size_t *len)
{
	char path[1024];
	FILE *f;
	char *data;
	long n;

	if (dir != NULL)
		snprintf(path, sizeof path, "%s/%s", dir, name);
	else
		snprintf(path, sizeof path, "%s", name);
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	data = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(fread(data, 1, (size_t)n, f), (size_t)n);
	data[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return data;
}

int64_t
testdata_us(const char *iso)
{
	int64_t v;

	ck_assert_msg(time_parse_iso8601(iso, &v) == 0, "bad time %s", iso);
	return v;
}

char *
testdata_jq(const char *s)
{
	char *c = xstrdup(s);

	for (char *p = c; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	return c;
}
