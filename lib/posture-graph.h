/* The Graph reads behind the posture checks (API-FACTS 5): one tenant's
 * Conditional Access policies, Global Administrators and, per break-glass
 * account, its user object, authentication methods and role schedules;
 * then the members of the groups the policies name, the other admins'
 * methods and, where needed, eligibility. Gathered into the snapshot of
 * posture.h. Every request waits for the tenant's Graph budget (5 / 10 s,
 * and 10 / min for signInActivity) and the app's; 429 and 5xx are
 * retried a few times; a read that still fails is in "errors". */
#ifndef GW_POSTURE_GRAPH_H
#define GW_POSTURE_GRAPH_H

#include <jansson.h>

#include "ratelimit.h"

struct auth;
struct http_engine;
struct posture_read;
struct tenant_config;

/* Per tenant, kept by the caller across runs. In the daemon the tenant's
 * and the app's windows are the pollers' (poller.h), so both readers
 * together keep within Graph's budget. */
struct posture_budget {
	struct rate_window	*tenant;	/* every request */
	struct rate_window	*app;		/* the app's; may be NULL */
	struct rate_window	 signin;	/* $select=signInActivity */
	struct rate_window	 own;		/* tenant when none is shared */
};

/* tenant NULL: a window of the budget's own. */
void	posture_budget_init(struct posture_budget *, struct rate_window *tenant,
	    struct rate_window *app);
void	posture_budget_free(struct posture_budget *);

/* snapshot: owned by the callback. Runs from the loop on a later turn
 * than the start; the reader may be freed from it. */
typedef void (*posture_read_cb)(json_t *snapshot, void *arg);

/* auth: a token source for the tenant's Graph scope. timeout_ms and
 * max_response per request. */
struct posture_read *posture_read_start(struct http_engine *, struct auth *,
		    const struct tenant_config *, struct posture_budget *,
		    long timeout_ms, size_t max_response, posture_read_cb,
		    void *arg);
/* Cancels what is in flight; no callback. */
void		     posture_read_free(struct posture_read *);

#endif
