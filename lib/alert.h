/* An alert: what a rule (or the daemon itself) raised, with the records it
 * carries. Its id is stable and receivers de-duplicate on it. */
#ifndef GW_ALERT_H
#define GW_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

enum alert_kind {
	ALERT_EVENT,		/* records met a gt/ge rule */
	ALERT_DIGEST,		/* records suppressed during suppress: */
	ALERT_ABSENCE,		/* lt/le/eq rule held */
	ALERT_SYSTEM,		/* the daemon about itself */
	ALERT_TEST,		/* --test-notify */
	ALERT_BATCH		/* alerts a notifier's rate_limit held */
};

struct alert {
	char		 *id;		/* "gw-" + GUID */
	enum alert_kind	  kind;
	char		 *rule;
	char		 *description;
	int		  severity;	/* 0..4 */
	char		 *tenant;	/* tenant name */
	char		 *tenant_id;
	char		 *account_oid;
	char		 *account_upn;
	int64_t		  created_us;
	long		  count;	/* records counted (absence: found;
					   batch: alerts carried) */
	char		 *subject;	/* rendered when the alert was made */
	struct record	**records;	/* owned */
	size_t		  nrecords;
	/* System alerts, when raised: what they are about (a SYSALERT_*
	 * string, static); NULL otherwise and for stored alerts. */
	const char	 *topic;
	/* An announced drill covers the alert's records: "DRILL announced
	 * by USER at TIME, window until TIME" (stored with the alert, so a
	 * retry after a restart says the same); NULL otherwise. */
	char		 *drill;
};

struct alert	*alert_new(enum alert_kind);	/* fresh id, created now */
void		 alert_add_record(struct alert *, struct record *); /* owns */
void		 alert_free(struct alert *);
/* Marks the (rendered) alert as a drill: note becomes a->drill, which
 * every headline (text, HTML, SMS, webhooks) starts with, and the subject
 * gets the prefix "[DRILL] ". */
void		 alert_mark_drill(struct alert *, const char *note);
const char	*alert_kind_name(enum alert_kind);
int		 alert_kind_from_name(const char *, enum alert_kind *);
/* "Critical", "Error", "Warning", "Informational", "Verbose" for 0..4. */
const char	*alert_severity_name(int severity);
/* One line saying what happened ("Break-glass account X signed in"), the
 * first line of the text body; control characters become spaces. Caller
 * frees. */
char		*alert_headline(const struct alert *);
/* What a log line about the alert names (issue: every line about an
 * event names tenant, rule and record id): "tenant T rule R record ID"
 * ("+N more" with several records; "system alert" without a rule).
 * Caller frees. */
char		*alert_log_context(const struct alert *);
/* The plain-text body (LF line ends): the headline, the rule, severity,
 * tenant, alert id, then each record (time, UPN, object ID, IP, location,
 * app, result, correlation ID, record ID). Values stay on their line and
 * are otherwise not escaped. Caller frees. */
char		*alert_text_body(const struct alert *);
/* The same content as an HTML document (UTF-8): a banner coloured by
 * severity, the headline, tables of the alert's and each record's
 * fields; every value escaped. Caller frees. */
char		*alert_html_body(const struct alert *);

#endif
