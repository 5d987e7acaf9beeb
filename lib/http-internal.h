/* Private to http.c and tls.c: the engine keeps the trust-anchor cache that
 * tls.c builds, so a ca_file is read once and not once per request. */
#ifndef GW_HTTP_INTERNAL_H
#define GW_HTTP_INTERNAL_H

struct http_engine;
struct tls_cache;

struct tls_cache	*tls_cache_new(void);
void			 tls_cache_free(struct tls_cache *);
struct tls_cache	*http_engine_tls(struct http_engine *);

#endif
