/* The rule engine: evaluates enabled rules over stored records (DESIGN.md
 * "Rule clock"): gt/ge rules when records arrive, in event time over
 * period; lt/le/eq absence rules every frequency over what was received;
 * the Entra incident rule; suppression with a digest. An alert commits with
 * its delivery rows in the same transaction that marks its records. */
#ifndef GW_RULES_H
#define GW_RULES_H

#include <stdint.h>

struct config;
struct event_base;
struct outbox;
struct rules;
struct store;

struct rules	*rules_new(struct event_base *, struct store *,
		    struct outbox *);
void		 rules_free(struct rules *);
/* Start or reload: rules keep their state by name in the store. */
void		 rules_set_config(struct rules *, const struct config *);
/* New records of (tenant, signal) were stored: evaluate the event rules
 * over everything not yet marked. Returns alerts committed, or -1. */
int		 rules_evaluate(struct rules *, const char *tenant);
/* Evaluate absence rules and end due suppressions now (also runs on its
 * own timers). Returns alerts committed, or -1. */
int		 rules_tick(struct rules *, int64_t now_us);

/* Pure helpers, exposed for the unit tests. */
struct rule_config;
struct record;
int	rule_matches(const struct rule_config *, const struct record *);
/* Given sorted event times of the incidents of one (rule, account) and the
 * index of a new one, does a period-long window containing it meet the
 * threshold? On yes, [*first, *last] is the span of incidents in the
 * windows that do.
 * Windows are closed, [s, s + period] with s in [t - period, t], so two
 * incidents exactly period apart share one. Returns 1 (fires), 0, or -1
 * when times are not sorted non-decreasing, new_idx >= n, or the rule is
 * not gt/ge. */
int	rule_window_fires(const struct rule_config *, const int64_t *times,
	    size_t n, size_t new_idx, size_t *first, size_t *last);

#endif
