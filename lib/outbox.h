/* The delivery core: alerts committed to the SQLite outbox are sent through
 * their notifiers, each (alert, notifier, recipient) on its own, retried
 * with exponential backoff and full jitter (honouring Retry-After) until
 * delivered, failed permanently or expired. A restart resumes what is
 * pending. */
#ifndef GW_OUTBOX_H
#define GW_OUTBOX_H

#include <stddef.h>

#include "notifier.h"

struct alert;
struct event_base;
struct outbox;
struct store;

struct outbox	*outbox_new(struct event_base *, struct store *);
void		 outbox_free(struct outbox *);
/* The running notifiers (after start and each reload). The outbox takes a
 * reference on each and drops those of the previous set. Deliveries for a
 * name not in the set stay pending. */
void		 outbox_set_notifiers(struct outbox *, struct notifier **,
		     size_t);
/* Where system alerts go (the config's system_actions); copied. */
void		 outbox_set_system_actions(struct outbox *,
		     const struct strlist *);
/* Inside the caller's open transaction: one PENDING delivery row per
 * (notifier in actions, recipient). Unknown names are skipped with a
 * warning (config validation prevents them). Returns rows added or -1. */
int		 outbox_enqueue(struct outbox *, const struct alert *,
		     const struct strlist *actions);
/* Best effort when the store cannot take even a system alert (a full
 * disk): the alert goes once to each recipient of each system action,
 * straight from memory, not retried; outcomes are logged. Takes it. */
void		 outbox_send_direct(struct outbox *, struct alert *);
/* After a commit: send what is due now (on the next loop turn). */
void		 outbox_kick(struct outbox *);
/* Sends in flight. */
size_t		 outbox_inflight(const struct outbox *);
/* Stop starting new sends (shutdown); in-flight ones finish. */
void		 outbox_drain(struct outbox *);
/* Called (from the loop) whenever a delivery finished or the outbox became
 * idle: the daemon uses it for --once and shutdown. */
void		 outbox_on_change(struct outbox *, void (*)(void *), void *);

#endif
