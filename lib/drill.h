/*
 * Drills (glasswatchd --drill): an operator announces a planned test
 * sign-in of a break-glass account. Sign-ins of the account inside the
 * window still alert through the rule's actions (an attacker inside an
 * announced window must still page someone), marked DRILL with who
 * announced it, plus drills.actions; a successful one counts as the
 * posture check's 90-day validation. Drills live in the state store.
 */
#ifndef GW_DRILL_H
#define GW_DRILL_H

#include <stdint.h>

#include <jansson.h>

struct account;
struct alert;
struct config;
struct store;
struct strlist;
struct tenant_config;

#define DRILL_WINDOW_MIN	60		/* 1m */
#define DRILL_WINDOW_MAX	86400		/* 24h */
#define DRILL_REASON_MAX	200

struct drill {
	char	*id;		/* "drill-" + GUID */
	char	*tenant;
	char	*account_oid;	/* lower case */
	char	*account_upn;
	char	*announced_by;	/* user name of the peer's uid */
	long	 uid;
	char	*reason;	/* free text from the client, or NULL */
	int64_t	 announced_us;
	int64_t	 until_us;
};

void	drill_free(struct drill *);

/* The configured break-glass account that name (object id or UPN, any
 * case) names, in any tenant: 1 found, 0 none, -1 ambiguous (two
 * tenants have it). */
int	drill_account_find(const struct config *, const char *name,
	    const struct tenant_config **, const struct account **);
/* 0 when seconds is an allowed window, else -1 with *why. */
int	drill_window_check(int64_t seconds, const char **why);

/* The request line's object: {"drill": {"account": S, "window": seconds,
 * "reason": S (optional)}}. */
json_t	*drill_request_new(const char *account, int64_t window,
	    const char *reason);
/* 0 with the fields (borrowed from req), or -1 with *why (static). */
int	drill_request_parse(const json_t *req, const char **account,
	    int64_t *window, const char **reason, const char **why);

/* The daemon's answer to one request from the peer uid/user: the drill
 * stored and {"ok": true, "id", "tenant", "account", "announced_by",
 * "until"}, or {"ok": false, "error": S, "usage": bool} (usage: the
 * request itself is wrong, not the daemon). */
json_t	*drill_answer(struct store *, const struct config *,
	    const json_t *req, long uid, const char *user, int64_t now_us);

/* "DRILL announced by USER at TIME, window until TIME". Caller frees. */
char	*drill_note(const struct drill *);

/* A rule's alert: when a drill of its account covers a sign-in record it
 * carries, mark it (alert_mark_drill) and add drills.actions to actions
 * (skipping names already there). 1 marked, 0 not, -1 store error. */
int	drill_mark_alert(struct store *, const struct config *,
	    struct alert *, struct strlist *actions);

/* Adds to a posture snapshot "drill_sign_ins": {"<object id>": {"drill",
 * "announced_by", "time"}}: each account's latest successful sign-in
 * inside a drill since since_us (posture.c counts it as validation).
 * 0, or -1 on a store error (nothing added then). */
int	drill_posture_evidence(struct store *, const struct tenant_config *,
	    json_t *snap, int64_t since_us);

#endif
