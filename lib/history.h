/* --history: every break-glass record seen (received) since a time, what
 * each rule decided about it (alerted, duplicate of an incident that
 * paged, suppressed, digested, counted below the threshold), the alerts
 * raised and who was notified when. Read-only.
 *
 * --replay prints the same report of its scratch store with
 * HISTORY_REPLAY: alerts are numbered #1, #2, ... instead of by their
 * (random) ids, times of the run itself are left out, and deliveries are
 * who would be notified. */
#ifndef GW_HISTORY_H
#define GW_HISTORY_H

#include <stdint.h>
#include <stdio.h>

struct store;

#define HISTORY_REPLAY	0x1

/* 0, or -1 with *err (caller frees) when the store cannot be read. Sets
 * *nalerts (may be NULL) to the alerts listed. */
int	history_print(struct store *, int64_t since_us, int flags, FILE *,
	    size_t *nalerts, char **err);

#endif
