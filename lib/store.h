/* The durable state: one SQLite file, <state_dir>/glasswatch.db, in WAL
 * mode with a busy timeout and the schema version in PRAGMA user_version.
 * Used synchronously from the loop in small transactions. Every function
 * returns -1 on a database error (logged with the statement's purpose). */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "record.h"

struct store;
struct strlist;

#define STORE_FILE	"glasswatch.db"

/* Creates or migrates the schema. readonly: for --status/--history while
 * the daemon runs (no schema change, no write). On error *err (caller
 * frees) says why. */
int	store_open(const char *state_dir, int readonly, struct store **,
	    char **err);
void	store_close(struct store *);
/* The connection, for the read-only reports of the operator commands
 * (status.c, history.c); the schema is theirs to read, not to write. */
struct sqlite3	*store_db(struct store *);

/* Transactions do not nest: begin fails while one is open. */
int	store_begin(struct store *);
int	store_commit(struct store *);
void	store_rollback(struct store *);

/* --- poller cursors ------------------------------------------------- */
/* Poller keys look like "contoso/log_analytics/sign_in".
 * Returns 1 found, 0 none, -1 error. */
int	store_cursor_get(struct store *, const char *poller, int64_t *cursor);
int	store_cursor_set(struct store *, const char *poller, int64_t cursor);
/* The outcome of a poll (for --status): ok, when, and the error text. */
int	store_poll_result(struct store *, const char *poller, int ok,
	    int64_t at_us, const char *error);

/* --- records --------------------------------------------------------- */
/* Stored once per (tenant, id). Returns 1 inserted, 0 already there. */
int	store_record_insert(struct store *, const struct record *);
/* 1 found (*out allocated), 0 none. */
int	store_record_get(struct store *, const char *tenant, const char *id,
	    struct record **out);

/* --- rule state ------------------------------------------------------ */
/* Registers the rule (by name) when new: since_us becomes now_us, and the
 * rule evaluates only records stored after this moment. That moment is
 * kept as a position in the records' insertion sequence, not as a time, so
 * a wall clock stepped back can never hide a record from the rule.
 * since_us (wall clock) is what absence rules use to wait for a whole
 * period. */
int	store_rule_since(struct store *, const char *rule, int64_t now_us,
	    int64_t *since_us);
/* Records of the tenant and signal stored after the rule was registered
 * that it has not marked yet, ordered by event time then id. */
int	store_rule_unmarked(struct store *, const char *rule,
	    const char *tenant, enum signal, struct record_list *out);

/* What a rule decided about a record. */
enum mark_state {
	MARK_NOMATCH,		/* not selected by the rule */
	MARK_COUNTED,		/* an incident, not carried by an alert yet */
	MARK_ALERTED,		/* carried by alert_id */
	MARK_DUPLICATE,		/* same incident as incident_of */
	MARK_SUPPRESSED,	/* waiting for the digest */
	MARK_DIGESTED		/* carried by the digest alert_id */
};

struct rule_mark {
	char		*record_id;
	char		*account;	/* object id */
	enum mark_state	 state;
	char		*incident_of;	/* MARK_DUPLICATE: the head's id */
	char		*alert_id;
	int64_t		 event_us;
	int64_t		 received_us;
	/* from the record, for the incident rule */
	char		*user_id;
	char		*correlation_id;
	long		 result_code;
};

/* Upsert the rule's mark of a record. account, incident_of and alert_id
 * may be NULL. */
int	store_rule_mark(struct store *, const char *rule, const char *tenant,
	    const char *record_id, const char *account, enum mark_state,
	    const char *incident_of, const char *alert_id, int64_t event_us);
/* Marks of (rule, tenant, account) with event time in [from_us, to_us],
 * any state but MARK_NOMATCH, ordered by event time then record id. */
int	store_rule_marks_window(struct store *, const char *rule,
	    const char *tenant, const char *account, int64_t from_us,
	    int64_t to_us, struct rule_mark **out, size_t *n);
void	rule_marks_free(struct rule_mark *, size_t);
/* Incident heads (COUNTED, ALERTED, SUPPRESSED, DIGESTED) of (rule,
 * tenant, account) whose record was received in [from_us, to_us]. */
int	store_rule_count_received(struct store *, const char *rule,
	    const char *tenant, const char *account, int64_t from_us,
	    int64_t to_us, long *count);

/* Suppression windows per (rule, tenant, account). get: 1 found, 0 none. */
int	store_suppression_get(struct store *, const char *rule,
	    const char *tenant, const char *account, int64_t *until_us);
int	store_suppression_set(struct store *, const char *rule,
	    const char *tenant, const char *account, int64_t until_us);
int	store_suppression_delete(struct store *, const char *rule,
	    const char *tenant, const char *account);
struct suppression {
	char	*rule;
	char	*tenant;
	char	*account;
	int64_t	 until_us;
};
/* Every window, soonest end first. */
int	store_suppressions(struct store *, struct suppression **out,
	    size_t *n);
void	suppressions_free(struct suppression *, size_t);
/* Records marked MARK_SUPPRESSED for (rule, tenant, account), by event
 * time. */
int	store_rule_suppressed(struct store *, const char *rule,
	    const char *tenant, const char *account, struct record_list *out);

/* Absence rules: when each (rule, tenant, account) last fired. get: 1
 * found, 0 none. */
int	store_absence_get(struct store *, const char *rule, const char *tenant,
	    const char *account, int64_t *last_fired_us);
int	store_absence_set(struct store *, const char *rule, const char *tenant,
	    const char *account, int64_t last_fired_us);

/* cb (why) whenever the file itself fails: disk full, an I/O error, a
 * read-only or unopenable file, corruption; not for a busy lock or a
 * constraint. */
void	store_on_fault(struct store *, void (*cb)(const char *why, void *),
	    void *arg);

/* --- alerts and the outbox ------------------------------------------ */
/* The alert and links to its records (which must be stored). */
int	store_alert_insert(struct store *, const struct alert *);
/* 1 found (*out with its records), 0 none. */
int	store_alert_load(struct store *, const char *id, struct alert **out);

enum delivery_state {
	DELIVERY_PENDING, DELIVERY_SENDING, DELIVERY_DELIVERED,
	DELIVERY_FAILED, DELIVERY_EXPIRED
};
const char	*delivery_state_name(enum delivery_state);

struct delivery_row {
	char			*alert_id;
	char			*notifier;
	char			*recipient;
	enum delivery_state	 state;
	int			 attempts;
	int64_t			 next_us;
	int64_t			 created_us;
	int64_t			 updated_us;
	char			*last_error;
};

/* Returns 1 added, 0 when the row was already there. */
int	store_delivery_insert(struct store *, const char *alert_id,
	    const char *notifier, const char *recipient, int64_t now_us);
/* Pending rows with next_us <= now_us, soonest first, at most limit. */
int	store_deliveries_due(struct store *, int64_t now_us, size_t limit,
	    struct delivery_row **out, size_t *n);
/* Earliest next_us of a pending row: 1 found, 0 none. */
int	store_delivery_next_due(struct store *, int64_t *next_us);
int	store_delivery_update(struct store *, const char *alert_id,
	    const char *notifier, const char *recipient, enum delivery_state,
	    int attempts, int64_t next_us, const char *last_error,
	    int64_t now_us);
/* At start: rows left SENDING by a crash become PENDING (at-least-once). */
int	store_deliveries_reset_sending(struct store *);
/* Rows in a state, for one notifier or all (NULL). */
int	store_delivery_count(struct store *, const char *notifier,
	    enum delivery_state, long *count);
void	delivery_rows_free(struct delivery_row *, size_t);
/* store_deliveries_due and store_delivery_next_due for one notifier (the
 * outbox runs each notifier on its own, so rows waiting for a notifier
 * that is not running, or is full, hold up no other). */
int	store_deliveries_due_for(struct store *, const char *notifier,
	    int64_t now_us, size_t limit, struct delivery_row **out,
	    size_t *n);
int	store_delivery_next_due_for(struct store *, const char *notifier,
	    int64_t *next_us);
/* Rate limits (rate_limit:). Sends accepted through the notifier by the
 * recipient after since_us, and when the oldest of them was (0: none). */
int	store_delivery_sent_since(struct store *, const char *notifier,
	    const char *recipient, int64_t since_us, long *count,
	    int64_t *oldest_us);
/* Due pending rows to one recipient of a notifier, oldest first. */
int	store_deliveries_due_to(struct store *, const char *notifier,
	    const char *recipient, int64_t now_us, size_t limit,
	    struct delivery_row **out, size_t *n);
/* Due pending rows to the recipient wait until until_us. */
int	store_deliveries_hold(struct store *, const char *notifier,
	    const char *recipient, int64_t now_us, int64_t until_us);
/* A pending row now waits on the batch alert that carries it: it is no
 * longer due of its own and settles with the batch's delivery. */
int	store_delivery_set_batch(struct store *, const char *alert_id,
	    const char *notifier, const char *recipient,
	    const char *batch_id, int64_t now_us);
/* The rows waiting on a batch take its final state. */
int	store_batch_settle(struct store *, const char *batch_id,
	    enum delivery_state, const char *error, int64_t now_us);
/* Pending rows of a notifier created at or before created_before_us,
 * oldest first (expiring rows of a notifier that is gone). */
int	store_deliveries_stale(struct store *, const char *notifier,
	    int64_t created_before_us, size_t limit,
	    struct delivery_row **out, size_t *n);
/* Names of the notifiers with pending or sending rows, appended to out. */
int	store_delivery_notifiers(struct store *, struct strlist *out);
/* History: one row per finished send, numbered from 1 per delivery;
 * result is "ok", "retry", "drop" or "expired". The delivery row must
 * exist. */
int	store_delivery_attempt(struct store *, const char *alert_id,
	    const char *notifier, const char *recipient, int64_t at_us,
	    const char *result, const char *error);

/* --- history --------------------------------------------------------- */
/* Deletes records, marks, alerts, finished deliveries and posture
 * history older than before_us; never a pending delivery or what it
 * needs. */
int	store_prune(struct store *, int64_t before_us);

/* Posture findings (posture.h): the latest result per (tenant, check,
 * account), and a history row whenever it changes. *prev: the result
 * before, NULL when first seen (caller frees). 0, or -1 (logged). */
int	store_posture_update(struct store *, const char *tenant,
	    const char *check, const char *account, const char *result,
	    const char *evidence, int64_t now_us, char **prev);

/* Drills (drill.h): announced test sign-ins, kept until history prunes
 * them after their window. */
struct drill;
int	store_drill_insert(struct store *, const struct drill *);
/* The latest drill of (tenant, account object id) whose window holds
 * event_us: 1 found (*out, drill_free), 0 none, -1. */
int	store_drill_at(struct store *, const char *tenant, const char *oid,
	    int64_t event_us, struct drill **out);
/* The latest stored successful sign-in of the account at or after
 * since_us that falls inside one of its drills: 1 (*out, *sign_in_us),
 * 0 none, -1. */
int	store_drill_validated(struct store *, const char *tenant,
	    const char *oid, int64_t since_us, struct drill **out,
	    int64_t *sign_in_us);

#endif
