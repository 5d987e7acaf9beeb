/* A notifier's rate_limit (DESIGN.md notifier keys): at most count
 * messages per `per` to one recipient. Alerts beyond it are never
 * dropped: they wait for the window and then go as one batch alert with
 * its own id, listing the alerts it carries and holding their records.
 * The rows of those alerts wait on the batch and settle with it. */
#ifndef GW_BATCH_H
#define GW_BATCH_H

#include <stddef.h>
#include <stdint.h>

struct alert;
struct delivery_row;
struct store;

/* Inside the caller's transaction: the batch alert for rows (all due to
 * one notifier and recipient), its delivery row (due at now_us), and the
 * rows put on it. Returns the batch (caller frees), or NULL on a store
 * error. */
struct alert	*batch_build(struct store *, const char *notifier,
		    const char *recipient, const struct delivery_row *rows,
		    size_t n, int64_t now_us);

#endif
