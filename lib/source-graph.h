/* The Microsoft Graph source beyond its ops struct: the one-account
 * requests the poller falls back to when the service rejects a $filter
 * that joins the accounts with `or` (API-FACTS.md 3.1: UNVERIFIED). */
#ifndef GW_SOURCE_GRAPH_H
#define GW_SOURCE_GRAPH_H

#include <stddef.h>

#include "source.h"

/* graph: lookback when the tenant sets none, in seconds. */
#define GRAPH_LOOKBACK_DEFAULT	(2 * 3600)

/* How many single requests cover the signal: one per account for
 * sign-ins, two per account for audits (as target, as initiator). */
size_t	source_graph_single_count(const struct source_ctx *);
/* Request i (0 <= i < source_graph_single_count()), with no `or` in its
 * filter: for audits, 2k targets account k and 2k+1 has it as the
 * initiator. Returns 0, or -1 with *err. */
int	source_graph_build_single(const struct source_ctx *, size_t i,
	    struct source_req *, char **err);

/* An @odata.nextLink is followed only to the origin (scheme, host, port)
 * of the tenant's Graph endpoint, so the bearer token goes nowhere else
 * (the posture reads page with it too). 0 with *out, or -1 with *err. */
int	source_graph_next_link(const struct tenant_config *, const char *link,
	    char **out, char **err);

#endif
