/* OAuth2 client-credentials tokens, one cache per (tenant, scope). A token
 * is reused until shortly before expires_in; concurrent callers share one
 * token request. The secret is read from its file or environment variable
 * at each token request (so a rotated secret is picked up), wiped after
 * use, and never logged. */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <stdint.h>

struct http_engine;
struct tenant_config;
struct auth;
struct auth_wait;

struct auth_error {
	long		 http_status;	/* 0: no response */
	const char	*error;		/* OAuth class, e.g. invalid_client;
					   "" when none (never NULL) */
	long		 aadsts;	/* first error_codes entry, 0 if none */
	const char	*description;	/* error_description, first line, or
					   why it failed (never NULL) */
	int		 permanent;	/* retrying will not help */
	int64_t		 retry_after;	/* seconds, -1 when absent */
};

/* token is NULL on failure, then err says why. Both valid only during the
 * callback. */
typedef void (*auth_cb)(const char *token, const struct auth_error *err,
    void *arg);

/* The tenant must outlive the auth object. scope: e.g.
 * "https://api.loganalytics.io/.default". */
struct auth	 *auth_new(struct http_engine *, const struct tenant_config *,
		     const char *scope, long timeout_ms);
void		  auth_free(struct auth *);	/* cancels waiters silently */
/* Calls cb from the loop (a cached token is delivered on the next loop
 * turn, never re-entrantly). */
struct auth_wait *auth_get(struct auth *, auth_cb, void *arg);
void		  auth_cancel(struct auth_wait *);
/* The service refused this token (401): forget it if it is the cached
 * one, so the next auth_get fetches a new token. */
void		  auth_invalidate(struct auth *, const char *token);
uint64_t	  auth_refresh_count(const struct auth *);

#endif
