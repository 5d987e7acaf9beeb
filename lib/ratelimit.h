/* A sliding-window request limiter: at most `limit` requests in any
 * window of `span_us`. The poller consults one per (app, tenant) and one
 * per app before every Graph request (DESIGN.md "Budgets"); a request
 * that does not fit waits on a timer instead of being sent. Pure: the
 * caller passes the (monotonic) time. */
#ifndef GW_RATELIMIT_H
#define GW_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

struct rate_window {
	size_t	 limit;
	int64_t	 span_us;
	int64_t	*sent;		/* ring of the last `limit` send times */
	size_t	 head;		/* index of the oldest */
	size_t	 n;
	int64_t	 paused_until;	/* the service said "slow down" */
};

void	rate_window_init(struct rate_window *, size_t limit, int64_t span_us);
void	rate_window_free(struct rate_window *);
/* 0 when a request may be sent at `now`, else how long to wait (us). */
int64_t	rate_window_wait(const struct rate_window *, int64_t now);
/* A request was sent at `now` (times never go backwards). */
void	rate_window_add(struct rate_window *, int64_t now);
/* No request before `until` (a 429's Retry-After for the whole budget);
 * an earlier pause never shortens a later one. */
void	rate_window_pause(struct rate_window *, int64_t until);

#endif
