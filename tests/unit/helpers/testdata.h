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

struct account;
struct tenant_config;
/* Tenant "contoso" with two break-glass accounts, bg1@ and bg2@
 * contoso.onmicrosoft.com (object ids oid1, oid2), in accounts[0..1];
 * everything else zero. */
void	 testdata_tenant(struct tenant_config *, struct account *accounts,
	    const char *oid1, const char *oid2);
/* The tenant reads Log Analytics workspace ws (overlap 2m, look-back 2d)
 * at a test endpoint. */
void	 testdata_tenant_la(struct tenant_config *, const char *ws);

#endif
