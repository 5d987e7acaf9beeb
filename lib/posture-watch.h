/* The posture checks on the daemon's schedule (`posture: { every: D }`):
 * each tenant's findings are kept in the state store with their history;
 * a check that starts failing raises a system alert (Sev 1; Sev 0 when a
 * break-glass account is no longer excluded from a Conditional Access
 * policy), a new warning (a Microsoft-managed policy that will switch
 * itself on) a Sev-2 one, and a failing check that passes again a
 * recovery message. A check Graph would not answer changes nothing. */
#ifndef GW_POSTURE_WATCH_H
#define GW_POSTURE_WATCH_H

struct config;
struct event_base;
struct http_engine;
struct outbox;
struct pollers;
struct posture_watch;
struct store;

/* pollers: whose Graph budgets the reads count against. */
struct posture_watch	*posture_watch_new(struct event_base *,
			    struct http_engine *, struct store *,
			    struct outbox *, struct pollers *);
/* Start, or restart after a reload: runs at once, then every
 * posture.every (nothing when the file has no posture:). */
void			 posture_watch_set_config(struct posture_watch *,
			    const struct config *);
void			 posture_watch_free(struct posture_watch *);

#endif
