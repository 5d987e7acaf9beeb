/* --status: what the state store says now, read-only (DESIGN.md "Command
 * line contract"): per poller its last successful poll, last attempt and
 * error, cursor and since when it fails; per notifier its deliveries by
 * state and the oldest pending one, including notifiers no longer
 * configured; then every pending delivery and those that failed or
 * expired in the last 7 days. */
#ifndef GW_STATUS_H
#define GW_STATUS_H

#include <stdint.h>
#include <stdio.h>

struct config;
struct store;

/* Failed and expired deliveries are listed for this long. */
#define STATUS_FAILED_WINDOW	(7 * 86400)

/* 0, or -1 with *err (caller frees) when the store cannot be read. */
int	status_print(struct store *, const struct config *, int64_t now_us,
	    FILE *, char **err);

#endif
