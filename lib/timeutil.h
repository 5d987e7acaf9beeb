/* Times are int64 microseconds since the Unix epoch, UTC. */
#ifndef GW_TIMEUTIL_H
#define GW_TIMEUTIL_H

#include <stdint.h>

#define TIME_ISO_LEN	96
#define USEC_PER_SEC	INT64_C(1000000)

int64_t	time_now_us(void);	/* wall clock */
int64_t	time_mono_us(void);	/* monotonic: for timeouts and backoff */
/* Accepts 2026-11-22T03:49:15Z, fractions of up to 9 digits, and a Z or
 * +hh:mm / -hh:mm offset. Returns 0, or -1 when the text is not one. */
int	time_parse_iso8601(const char *, int64_t *us);
/* Writes 2026-11-22T03:49:15.123456Z. */
void	time_format_iso8601(int64_t us, char out[TIME_ISO_LEN]);
/* Writes 2026-11-22T03:49:15Z (whole seconds, for mail and messages). */
void	time_format_iso8601_sec(int64_t us, char out[TIME_ISO_LEN]);
/* RFC 5322 / RFC 9110 date, UTC, with the zone as given ("+0000" for
 * mail, "GMT" for HTTP): "Sun, 22 Nov 2026 03:49:15 GMT". */
void	time_format_rfc1123(int64_t us, const char *zone, char *out,
	    size_t outlen);

#endif
