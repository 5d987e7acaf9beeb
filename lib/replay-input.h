/* The files --replay reads, turned into the same normalised records the
 * daemon stores, by the daemon's own source parsers:
 *	a Graph page		{"value": [signIn or directoryAudit, ...]}
 *	a Log Analytics		{"tables": [{"columns": ..., "rows": ...}]}
 *	  query response	(the daemon's own union shape, or any query of
 *				SigninLogs, AADNonInteractiveUserSignInLogs
 *				or AuditLogs)
 *	a CSV export		of such rows with their Log Analytics column
 *				names, or the Entra portal's sign-in download
 *				("Date (UTC)", "Request ID", "User ID", ...)
 * Only rows of the tenant's break-glass accounts become records, as in a
 * poll. */
#ifndef GW_REPLAY_INPUT_H
#define GW_REPLAY_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct tenant_config;

enum replay_format {
	REPLAY_GRAPH,
	REPLAY_LOG_ANALYTICS,
	REPLAY_CSV_LOG_ANALYTICS,	/* CSV with Log Analytics columns */
	REPLAY_CSV_PORTAL_SIGNINS	/* the Entra portal's sign-in CSV */
};

struct replay_input;

/* Recognises the format. 0 with *out, or -1 with *err (caller frees)
 * saying why the data is none of them. */
int		 replay_input_open(const char *data, size_t len,
		    struct replay_input **out, char **err);
void		 replay_input_free(struct replay_input *);
enum replay_format replay_input_format(const struct replay_input *);
const char	*replay_format_name(enum replay_format);
/* Rows in the input, break-glass or not. */
size_t		 replay_input_rows(const struct replay_input *);
/* Appends the records of the tenant's break-glass accounts (now_us
 * stands in for a time a row lacks, as in a poll). 0, or -1 with *err. */
int		 replay_input_records(const struct replay_input *,
		    const struct tenant_config *, int64_t now_us,
		    struct record_list *out, char **err);

#endif
