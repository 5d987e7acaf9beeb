/* System alerts (DESIGN.md "System alerts"): glasswatchd about itself: a
 * delivery that failed for good or expired, and later a blind monitor, a
 * silent log pipeline, an expiring secret, posture drift. Each is stored
 * and queued to the system_actions notifiers in one transaction, like a
 * break-glass alert, so it is as durable. */
#ifndef GW_SYSALERT_H
#define GW_SYSALERT_H

struct alert;
struct outbox;
struct store;
struct strlist;

/* What a system alert is about: the metrics' `kind` label. */
#define SYSALERT_BLIND			"blind"
#define SYSALERT_RESTORED		"restored"
#define SYSALERT_PIPELINE_SILENT	"pipeline_silent"
#define SYSALERT_PIPELINE_RESTORED	"pipeline_restored"
#define SYSALERT_CREDENTIAL_EXPIRY	"credential_expiry"
#define SYSALERT_STORAGE		"storage"
#define SYSALERT_DELIVERY_LOST		"delivery_lost"
#define SYSALERT_POSTURE_DRIFT		"posture_drift"
#define SYSALERT_POSTURE_WARNING	"posture_warning"
#define SYSALERT_POSTURE_RESTORED	"posture_restored"

/* A system alert about topic (a SYSALERT_* string): rule "glasswatch",
 * subject "[SevN] glasswatch: title", description detail; tenant (name
 * and id) may be NULL. Caller frees. */
struct alert	*sysalert_new(int severity, const char *topic,
		    const char *title, const char *detail, const char *tenant,
		    const char *tenant_id);
/* Inside the caller's transaction: the alert and one delivery per
 * (system action, recipient). Returns the deliveries queued (0: no
 * system action is running; logged), or -1 on a store error. */
int		 sysalert_queue(struct store *, struct outbox *,
		    const struct strlist *actions, const struct alert *);
/* The same in a transaction of its own, then sent. 0 or -1 (logged). */
int		 sysalert_raise(struct store *, struct outbox *,
		    const struct strlist *actions, struct alert *);
/* sysalert_new and sysalert_raise in one: what a watcher (health,
 * posture) says about a tenant. */
int		 sysalert_say(struct store *, struct outbox *,
		    const struct strlist *actions, int severity,
		    const char *topic, const char *title, const char *detail,
		    const char *tenant, const char *tenant_id);

#endif
