/* Source health (DESIGN.md "System alerts"): a monitor that cannot read
 * must page rather than stay silent. A poller failing for longer than its
 * tenant's blind_after raises a Sev-1 "monitoring blind" system alert,
 * once; its first success after that raises a recovery message. An
 * expired client secret (AADSTS7000222) is Sev-1 at once. The state lives
 * for the process: after a restart a source still failing is reported
 * again once blind_after has passed. */
#ifndef GW_HEALTH_H
#define GW_HEALTH_H

#include <stdint.h>

struct config;
struct health;
struct http_engine;
struct outbox;
struct store;
struct tenant_config;

/* http: for reading the app's registration (its client secret's end);
 * NULL: no such reading. */
struct health	*health_new(struct store *, struct outbox *,
		     struct http_engine *);
void		 health_free(struct health *);
/* Whose system_actions the alerts go to (after start and each reload). */
void		 health_set_config(struct health *, const struct config *);
/* A poll by the poller `key` failed (why: for the alert); aadsts: the
 * token endpoint's error code, 0 when none. */
void		 health_failed(struct health *, const struct tenant_config *,
		     const char *key, const char *why, long aadsts,
		     int64_t now_us);
void		 health_ok(struct health *, const struct tenant_config *,
		     const char *key, int64_t now_us);
/* The tenant's log-pipeline check (silence.h): of the signals checked
 * (SIGNAL_BITs), those whose tables had a row within silent_after. A table
 * going silent raises a Sev-1 system alert, once; flowing again, a
 * message. */
void		 health_pipeline(struct health *, const struct tenant_config *,
		     unsigned checked, unsigned alive);
/* The state store's file fails (store_on_fault): a Sev-1 system alert,
 * through the outbox when it still can take it, else straight from
 * memory; at most once an hour. */
void		 health_storage_failed(struct health *, const char *why);
/* The tenants' certificates (certificate_file) and, where the app may
 * read its own registration (Application.Read.All), its client secret's
 * endDateTime: one ending within 30 days is a Sev-2 warning, one past its
 * end Sev 1; each said once per process and level. Call it hourly. */
void		 health_check_credentials(struct health *, int64_t now_us);

#endif
