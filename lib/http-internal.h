/* Private to http.c and tls.c: the engine keeps the trust-anchor cache that
 * tls.c builds, so a ca_file is read once and not once per request. Also
 * the header reading of http.c, for its fuzz harness. */
#ifndef GW_HTTP_INTERNAL_H
#define GW_HTTP_INTERNAL_H

#include <stdint.h>

struct http_engine;
struct tls_cache;

struct tls_cache	*tls_cache_new(void);
void			 tls_cache_free(struct tls_cache *);
struct tls_cache	*http_engine_tls(struct http_engine *);

/* Retry-After: delta-seconds or an HTTP-date (RFC 9110 10.2.3), as
 * seconds from now (0 for a date past, capped); -1 when unreadable. */
int64_t			 http_parse_retry_after(const char *);

#endif
