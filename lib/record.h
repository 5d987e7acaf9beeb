/* A normalised record: one Entra sign-in or audit event, whichever API
 * returned it. Strings are owned by the record; NULL means absent. */
#ifndef GW_RECORD_H
#define GW_RECORD_H

#include <stddef.h>
#include <stdint.h>

enum signal {
	SIGNAL_SIGN_IN,			/* SigninLogs, Graph signIns */
	SIGNAL_NON_INTERACTIVE,		/* AADNonInteractiveUserSignInLogs */
	SIGNAL_AUDIT,			/* AuditLogs, Graph directoryAudits */
	SIGNAL_COUNT
};

struct record {
	enum signal	 signal;
	char		*tenant;	/* tenant name from the config */
	char		*id;		/* Entra record id (unique per tenant) */
	int64_t		 event_us;	/* when it happened (CreatedDateTime) */
	int64_t		 ingest_us;	/* ingestion_time(); 0 if none */
	int64_t		 received_us;	/* when glasswatch stored it */
	char		*user_id;	/* account object id, lower case */
	char		*upn;
	char		*ip;
	char		*location;	/* "City, State, CC" */
	char		*app;
	int		 success;	/* 1 success, 0 failure */
	long		 result_code;	/* sign-in error code; 0 = success */
	char		*failure_reason;
	char		*correlation_id;
	/* audit records */
	char		*activity;
	char		*category;
	char		*service;
	char		*initiator;	/* UPN or app name */
	char		*initiator_id;
	char		*target;	/* UPN or name: the break-glass target,
					   else the first */
	char		*target_ids;	/* space-separated lower-case ids */
	char		*modified;	/* "Name: old -> new; ..." or NULL */
	char		*raw;		/* the source row as a JSON object */
};

struct record_list {
	struct record	**v;
	size_t		  n;
	size_t		  cap;
};

const char	*signal_name(enum signal);
int		 signal_from_name(const char *, enum signal *);

struct record	*record_new(void);
struct record	*record_dup(const struct record *);
void		 record_free(struct record *);
/* "success" or "failure:50126". Writes into out (at least 32 bytes). */
const char	*record_result_text(const struct record *, char *out,
		    size_t outlen);

void	record_list_init(struct record_list *);
void	record_list_add(struct record_list *, struct record *); /* owns it */
void	record_list_clear(struct record_list *);	/* frees records */

#endif
