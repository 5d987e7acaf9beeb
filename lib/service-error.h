/* The error body of a Log Analytics or Graph answer that is not a 200
 * ({"error": {"code", "message"}}), read for the poller's log line and
 * its one token refresh. */
#ifndef GW_SERVICE_ERROR_H
#define GW_SERVICE_ERROR_H

#include <stddef.h>

/* ": CODE: MESSAGE" (or "" when the body names no code) into out, the
 * service's own words and never the request. */
void	service_error_summary(const char *body, size_t len, char *out,
	    size_t outlen);
/* Does the body say the token was refused (InvalidAuthenticationToken,
 * which Log Analytics sends with 403 as well as 401, API-FACTS 2.3)? */
int	service_error_token_refused(const char *body, size_t len);

#endif
