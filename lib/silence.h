/* The log-pipeline check (DESIGN.md "System alerts"): for a tenant with
 * Log Analytics, one small unfiltered query asks which of its tables
 * received any row at all within silent_after. A table with none is
 * "silent": the sign of a removed diagnostic export, after which no
 * break-glass record could arrive either. */
#ifndef GW_SILENCE_H
#define GW_SILENCE_H

#include <stddef.h>
#include <stdint.h>

struct source_req;
struct tenant_config;

/* How often the check runs for a given silent_after (seconds): a quarter
 * of it, between 1 s and 15 min. */
int64_t	silence_every(int64_t silent_after);

/* The request: for each signal in `signals` (SIGNAL_BITs), whether its
 * table has a row ingested after now - silent_after. 0, or -1 with *err. */
int	silence_build(const struct tenant_config *, unsigned signals,
	    int64_t now_us, struct source_req *, char **err);

/* The signals whose tables had a row (SIGNAL_BITs) in *alive. 0, or -1
 * with *err naming what is wrong. */
int	silence_parse(const char *body, size_t len, unsigned *alive,
	    char **err);

#endif
