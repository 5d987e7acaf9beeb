/* A sliding-window limiter (ratelimit.h). */
#include <stdlib.h>

#include "ratelimit.h"
#include "xmalloc.h"

void
rate_window_init(struct rate_window *w, size_t limit, int64_t span_us)
{
	w->limit = limit > 0 ? limit : 1;
	w->span_us = span_us;
	w->sent = xcalloc(w->limit, sizeof *w->sent);
	w->head = 0;
	w->n = 0;
	w->paused_until = 0;
}

void
rate_window_free(struct rate_window *w)
{
	free(w->sent);
	w->sent = NULL;
	w->n = 0;
}

int64_t
rate_window_wait(const struct rate_window *w, int64_t now)
{
	size_t inside = 0, first = 0;
	int64_t wait;

	/* Send times older than the span no longer count. */
	for (size_t i = 0; i < w->n; i++) {
		int64_t t = w->sent[(w->head + i) % w->limit];

		if (t > now - w->span_us) {
			if (inside++ == 0)
				first = i;
		}
	}
	/* Full: the oldest send inside the window must leave it. */
	wait = inside < w->limit ? 0 :
	    w->sent[(w->head + first) % w->limit] + w->span_us - now;
	if (w->paused_until - now > wait)
		wait = w->paused_until - now;
	return wait;
}

void
rate_window_pause(struct rate_window *w, int64_t until)
{
	if (until > w->paused_until)
		w->paused_until = until;
}

void
rate_window_add(struct rate_window *w, int64_t now)
{
	if (w->n == w->limit) {
		w->head = (w->head + 1) % w->limit;
		w->n--;
	}
	w->sent[(w->head + w->n) % w->limit] = now;
	w->n++;
}
