/* --replay FILE: the configured rules over saved records (replay-input.h),
 * through the real rule engine (rules.c) on a scratch state store in a
 * temporary directory, never the configured state_dir. Notifiers are
 * stand-ins that only name their recipients: nothing is sent. The
 * decisions are the daemon's had it received these records now, all at
 * once: thresholds and periods in event time, Entra incidents, and
 * suppression (a match within suppress: of an alert waits for the digest).
 * Absence rules (lt/le/eq) are not replayed: they watch what arrives over
 * time. */
#ifndef GW_REPLAY_H
#define GW_REPLAY_H

#include <stdio.h>

struct config;
struct replay_input;

/* tenant: the configured tenant the records belong to, or NULL for every
 * tenant (each takes the rows of its own break-glass accounts). Prints the
 * report on f. 0, or -1 with *err (caller frees). */
int	replay_run(const struct config *, const char *tenant,
	    const struct replay_input *, const char *label, FILE *f,
	    char **err);

#endif
