/* Test fixtures read whole (testdata.h). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include "config.h"
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

void
testdata_tenant(struct tenant_config *t, struct account *accounts,
    const char *oid1, const char *oid2)
{
	memset(&accounts[0], 0, 2 * sizeof accounts[0]);
	accounts[0].object_id = (char *)oid1;
	accounts[0].upn = "bg1@contoso.onmicrosoft.com";
	accounts[1].object_id = (char *)oid2;
	accounts[1].upn = "bg2@contoso.onmicrosoft.com";
	memset(t, 0, sizeof *t);
	t->name = "contoso";
	t->break_glass = accounts;
	t->nbreak_glass = 2;
}

void
testdata_tenant_la(struct tenant_config *t, const char *ws)
{
	t->endpoints.log_analytics = "https://api.loganalytics.example";
	t->scopes.log_analytics = "https://api.loganalytics.io/.default";
	t->log_analytics.enabled = 1;
	t->log_analytics.workspace_id = (char *)ws;
	t->log_analytics.overlap = 120;
	t->log_analytics.lookback = 2 * 86400;
}
