/*
 * The rule engine (DESIGN.md "Rule clock", "Entra duplicates", "Matching").
 *
 * Everything a rule decided lives in the store, keyed by the rule's name:
 * a mark per (rule, tenant, record), suppression windows, and when each
 * absence rule last fired. This file only holds timers, so a reload loses
 * nothing.
 *
 * gt/ge rules are event-triggered: each record new to the rule is marked
 * NOMATCH, DUPLICATE (same Entra incident as an earlier head), COUNTED (an
 * incident head that did not meet the threshold), ALERTED, or SUPPRESSED.
 * An alert is committed with its delivery rows and its marks in one
 * transaction; when that fails the records stay unmarked and are evaluated
 * again. lt/le/eq rules are absence rules, run on a timer every frequency
 * and counted by received time.
 */

#include <sys/types.h>
#include <sys/time.h>

#include <ctype.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alert.h"
#include "buf.h"
#include "config.h"
#include "drill.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "record.h"
#include "rules.h"
#include "store.h"
#include "strlist.h"
#include "template.h"
#include "timeutil.h"
#include "xmalloc.h"

/* After a store error, evaluate everything again this much later. */
#define RULES_RETRY_SEC		5

/* A timer of one absence rule. It names its rule, which is looked up in
 * the current configuration when it fires: a reload frees rule configs. */
struct rules_timer {
	struct rules	*rules;
	char		*rule;
	struct event	*ev;
};

struct rules {
	struct event_base	 *base;
	struct store		 *store;
	struct outbox		 *outbox;
	const struct config	 *config;

	struct rules_timer	**timers;	/* one per absence rule */
	size_t			  ntimers;
	struct rules_timer	**dead;		/* replaced during a callback */
	size_t			  ndead;

	struct event		 *ev_suppress;	/* soonest suppression end */
	struct event		 *ev_kick;	/* evaluate every tenant */
	int			  suppress_dirty;	/* windows changed */
	int			  suppress_failed;	/* a digest failed */
	int			  in_cb;	/* callbacks on the stack */
	int			  dying;	/* rules_free inside a callback */
};

/* A record an alert carries or a mark is written for. */
struct carry {
	const char	*id;
	int64_t		 event_us;
};

static void	rules_arm_suppress(struct rules *);
static void	rules_timers_free(struct rules_timer **, size_t);

/* ---------------------------------------------------------------------
 * Pure helpers
 */

static int
rules_is_event(const struct rule_config *rule)
{
	return rule->op == OP_GT || rule->op == OP_GE;
}

static int
rules_is_sign_in(enum signal s)
{
	return s == SIGNAL_SIGN_IN || s == SIGNAL_NON_INTERACTIVE;
}

/* Case-insensitive equality of a and b, each trimmed of surrounding
 * white space (Entra activity names carry a trailing space). */
static int
rules_trimmed_equal(const char *a, const char *b)
{
	size_t	la, lb;

	while (isspace((unsigned char)*a))
		a++;
	while (isspace((unsigned char)*b))
		b++;
	la = strlen(a);
	while (la > 0 && isspace((unsigned char)a[la - 1]))
		la--;
	lb = strlen(b);
	while (lb > 0 && isspace((unsigned char)b[lb - 1]))
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* An empty list selects everything; otherwise value must be in it. */
static int
rules_list_selects(const struct strlist *l, const char *value)
{
	if (l->n == 0)
		return 1;
	if (value == NULL)
		return 0;
	for (size_t i = 0; i < l->n; i++) {
		if (rules_trimmed_equal(l->v[i], value))
			return 1;
	}
	return 0;
}

int
rule_matches(const struct rule_config *rule, const struct record *rec)
{
	const struct match_config	*m = &rule->match;
	size_t				 i;

	if (rec->signal != rule->signal)
		return 0;
	switch (m->result) {
	case MATCH_ANY:
		break;
	case MATCH_SUCCESS:
		if (!rec->success)
			return 0;
		break;
	case MATCH_FAILURE:
		if (rec->success)
			return 0;
		break;
	}
	if (m->nerror_codes > 0) {
		for (i = 0; i < m->nerror_codes; i++) {
			if (m->error_codes[i] == rec->result_code)
				break;
		}
		if (i == m->nerror_codes)
			return 0;
	}
	if (!rules_list_selects(&m->activities, rec->activity))
		return 0;
	if (!rules_list_selects(&m->categories, rec->category))
		return 0;
	if (!rules_list_selects(&m->services, rec->service))
		return 0;
	if (!rules_list_selects(&m->apps, rec->app))
		return 0;
	return 1;
}

/*
 * Windows are closed: [s, s + period] holds both ends, so two incidents
 * exactly period apart share one. Only windows that contain the new
 * incident count (s in [t - period, t]). The best windows start at an
 * incident: a window's set is a subset of the one starting at its first
 * member, which still contains t. So for each start i with times[i] in
 * [t - period, t], advance j to the last time <= times[i] + period; the
 * window holds j - i + 1. i and j only move forward.
 *
 * times must be sorted (non-decreasing) and new_idx < n; otherwise, or for
 * a rule that is not gt/ge, -1.
 */
int
rule_window_fires(const struct rule_config *rule, const int64_t *times,
    size_t n, size_t new_idx, size_t *first, size_t *last)
{
	int64_t	period, t;
	size_t	i, j;
	long	count;
	int	fires = 0;

	if (!rules_is_event(rule) || n == 0 || new_idx >= n ||
	    rule->period < 0)
		return -1;
	for (i = 1; i < n; i++) {
		if (times[i] < times[i - 1])
			return -1;
	}
	period = rule->period * USEC_PER_SEC;
	t = times[new_idx];

	/* The first possible start: the earliest time >= t - period. */
	for (i = new_idx; i > 0 && times[i - 1] >= t - period; i--)
		;
	j = i;
	for (; i < n && times[i] <= t; i++) {
		if (j < i)
			j = i;
		while (j + 1 < n && times[j + 1] <= times[i] + period)
			j++;
		/* j >= new_idx: times[new_idx] = t <= times[i] + period. */
		count = (long)(j - i + 1);
		if (rule->op == OP_GT ? count > rule->threshold :
		    count >= rule->threshold) {
			if (!fires)
				*first = i;
			*last = j;
			fires = 1;
		}
	}
	return fires;
}

/* ---------------------------------------------------------------------
 * Lookups
 */

static const struct rule_config *
rules_find(const struct config *config, const char *name)
{
	if (config == NULL)
		return NULL;
	for (size_t i = 0; i < config->nrules; i++) {
		if (strcmp(config->rules[i].name, name) == 0)
			return &config->rules[i];
	}
	return NULL;
}

static const struct account *
rules_bg_account(const struct tenant_config *tc, const char *oid)
{
	for (size_t i = 0; i < tc->nbreak_glass; i++) {
		if (strcasecmp(tc->break_glass[i].object_id, oid) == 0)
			return &tc->break_glass[i];
	}
	return NULL;
}

/* The watched account a record is about: the user of a sign-in; the
 * initiator or any target of an audit record. */
static const struct account *
rules_record_account(const struct rule_config *rule,
    const struct tenant_config *tc, const struct record *rec)
{
	const struct account	*a = NULL;
	char			*ids, *p, *id;

	if (rec->signal != SIGNAL_AUDIT) {
		if (rec->user_id == NULL)
			return NULL;
		return rule_account(rule, tc, rec->user_id);
	}
	if (rec->initiator_id != NULL &&
	    (a = rule_account(rule, tc, rec->initiator_id)) != NULL)
		return a;
	if (rec->target_ids == NULL)
		return NULL;
	p = ids = xstrdup(rec->target_ids);
	while (a == NULL && (id = strsep(&p, " \t")) != NULL) {
		if (*id != '\0')
			a = rule_account(rule, tc, id);
	}
	free(ids);
	return a;
}

static int
rules_absence_holds(const struct rule_config *rule, long count)
{
	switch (rule->op) {
	case OP_LT:
		return count < rule->threshold;
	case OP_LE:
		return count <= rule->threshold;
	case OP_EQ:
		return count == rule->threshold;
	default:
		return 0;
	}
}

/* ---------------------------------------------------------------------
 * Committing alerts
 */

static struct alert *
rules_alert_new(enum alert_kind kind, const struct rule_config *rule,
    const struct tenant_config *tc, const char *oid)
{
	struct alert		*a = alert_new(kind);
	const struct account	*acct = rules_bg_account(tc, oid);

	a->rule = xstrdup(rule->name);
	if (rule->description != NULL)
		a->description = xstrdup(rule->description);
	a->severity = (int)rule->severity;
	a->tenant = xstrdup(tc->name);
	if (tc->tenant_id != NULL)
		a->tenant_id = xstrdup(tc->tenant_id);
	a->account_oid = xstrdup(acct != NULL ? acct->object_id : oid);
	if (acct != NULL && acct->upn != NULL)
		a->account_upn = xstrdup(acct->upn);
	return a;
}

static char *
rules_subject(const struct rule_config *rule, const struct alert *a)
{
	char	*s = NULL, *d;

	if (rule->subject_tpl != NULL)
		s = template_render(rule->subject_tpl, a);
	if (s == NULL) {
		s = xasprintf("[Sev%d] %s: %s", a->severity, a->rule,
		    a->account_upn != NULL ? a->account_upn :
		    a->account_oid != NULL ? a->account_oid : "-");
	}
	if (a->kind == ALERT_DIGEST) {
		d = xasprintf("Digest: %s", s);
		free(s);
		s = d;
	}
	return s;
}

static void
rules_log_alert(const struct alert *a, const struct carry *c, size_t n)
{
	struct buf	b;

	buf_init(&b);
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s%s", i > 0 ? "," : "", c[i].id);
	log_info("tenant %s rule %s: %s alert %s for %s, count %ld, "
	    "records %s", a->tenant, a->rule, alert_kind_name(a->kind), a->id,
	    a->account_upn != NULL ? a->account_upn : a->account_oid,
	    a->count, n > 0 ? buf_cstr(&b) : "-");
	buf_free(&b);
}

/*
 * Commits the alert (which this frees) in one transaction with its
 * deliveries, the marks of the records it carries (c: ALERTED or
 * DIGESTED), and the rule state that goes with its kind: a new suppression
 * window after an event alert, the end of the window for a digest, the
 * last firing of an absence rule. On error nothing is kept.
 */
static int
rules_commit(struct rules *r, const struct rule_config *rule,
    struct alert *a, const struct carry *c, size_t n, int64_t now)
{
	enum mark_state	 state;
	struct strlist	 actions = { NULL, 0 };
	size_t		 i;

	state = a->kind == ALERT_DIGEST ? MARK_DIGESTED : MARK_ALERTED;
	a->subject = rules_subject(rule, a);
	for (i = 0; i < rule->actions.n; i++)
		strlist_add(&actions, rule->actions.v[i]);
	/* An announced drill still pages the rule's actions, marked. */
	if (a->kind != ALERT_ABSENCE && drill_mark_alert(r->store, r->config,
	    a, &actions) == -1)
		goto fail;

	if (store_begin(r->store) == -1)
		goto fail;
	if (store_alert_insert(r->store, a) == -1)
		goto rollback;
	switch (outbox_enqueue(r->outbox, a, &actions)) {
	case -1:
		goto rollback;
	case 0:
		/* Never mark records alerted with nobody to tell: they stay
		 * unmarked and are tried again at the next evaluation. */
		log_crit("tenant %s rule %s: alert %s has no running notifier "
		    "to go to; not committed", a->tenant, rule->name, a->id);
		goto rollback;
	default:
		break;
	}
	for (i = 0; i < n; i++) {
		if (store_rule_mark(r->store, rule->name, a->tenant, c[i].id,
		    a->account_oid, state, NULL, a->id, c[i].event_us) == -1)
			goto rollback;
	}
	switch (a->kind) {
	case ALERT_EVENT:
		if (rule->suppress > 0) {
			if (store_suppression_set(r->store, rule->name,
			    a->tenant, a->account_oid,
			    now + rule->suppress * USEC_PER_SEC) == -1)
				goto rollback;
			r->suppress_dirty = 1;
		}
		break;
	case ALERT_DIGEST:
		if (store_suppression_delete(r->store, rule->name, a->tenant,
		    a->account_oid) == -1)
			goto rollback;
		r->suppress_dirty = 1;
		break;
	case ALERT_ABSENCE:
		if (store_absence_set(r->store, rule->name, a->tenant,
		    a->account_oid, now) == -1)
			goto rollback;
		break;
	default:
		break;
	}
	if (store_commit(r->store) == -1)
		goto rollback;

	rules_log_alert(a, c, n);
	metrics_alert(a);
	alert_free(a);
	strlist_clear(&actions);
	outbox_kick(r->outbox);
	return 0;

rollback:
	store_rollback(r->store);
fail:
	log_warnx("tenant %s rule %s: %s alert %s not committed; its records "
	    "stay unmarked and are evaluated again", a->tenant, a->rule,
	    alert_kind_name(a->kind), a->id);
	alert_free(a);
	strlist_clear(&actions);
	return -1;
}

/* Marks records in one transaction. */
static int
rules_mark_all(struct rules *r, const struct rule_config *rule,
    const char *tenant, const char *oid, const struct carry *c, size_t n,
    enum mark_state state)
{
	if (store_begin(r->store) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (store_rule_mark(r->store, rule->name, tenant, c[i].id, oid,
		    state, NULL, NULL, c[i].event_us) == -1) {
			store_rollback(r->store);
			return -1;
		}
	}
	if (store_commit(r->store) == -1) {
		store_rollback(r->store);
		return -1;
	}
	return 0;
}

/* Ends the suppression window of (rule, tenant, account): one digest with
 * every suppressed record, or just the deletion when there is none.
 * Returns 1 with a digest committed, 0 without, -1 on error. */
static int
rules_suppression_end(struct rules *r, const struct rule_config *rule,
    const struct tenant_config *tc, const char *oid, int64_t now)
{
	struct record_list	 l;
	struct alert		*a;
	struct carry		*c;
	size_t			 i, n;
	int			 rv;

	record_list_init(&l);
	if (store_rule_suppressed(r->store, rule->name, tc->name, oid,
	    &l) == -1) {
		record_list_clear(&l);
		return -1;
	}
	if (l.n == 0) {
		record_list_clear(&l);
		if (store_suppression_delete(r->store, rule->name, tc->name,
		    oid) == -1)
			return -1;
		r->suppress_dirty = 1;
		log_debug("tenant %s rule %s: suppression of %s ended with "
		    "nothing suppressed", tc->name, rule->name, oid);
		return 0;
	}

	a = rules_alert_new(ALERT_DIGEST, rule, tc, oid);
	n = l.n;
	for (i = 0; i < n; i++)
		alert_add_record(a, l.v[i]);
	free(l.v);			/* the records belong to the alert */
	a->count = (long)n;
	c = xcalloc(n, sizeof *c);
	for (i = 0; i < n; i++) {
		c[i].id = a->records[i]->id;
		c[i].event_us = a->records[i]->event_us;
	}
	/* The carry points into the alert, which the commit frees. */
	rv = rules_commit(r, rule, a, c, n, now);
	free(c);
	return rv == -1 ? -1 : 1;
}

/* ---------------------------------------------------------------------
 * Event rules
 */

static int
rules_mark(struct rules *r, const struct rule_config *rule,
    const char *tenant, const struct record *rec, const char *oid,
    enum mark_state state, const char *incident_of, const char *alert_id)
{
	return store_rule_mark(r->store, rule->name, tenant, rec->id, oid,
	    state, incident_of, alert_id, rec->event_us);
}

static int
rules_is_head(enum mark_state s)
{
	return s == MARK_COUNTED || s == MARK_ALERTED ||
	    s == MARK_SUPPRESSED || s == MARK_DIGESTED;
}

/* Is the record a further row of an incident whose head the rule already
 * has? Returns 1 and marks it a duplicate, 0 when it is not, -1. */
static int
rules_duplicate(struct rules *r, const struct rule_config *rule,
    const struct tenant_config *tc, const char *oid, const struct record *rec)
{
	struct rule_mark	*m = NULL, *head = NULL;
	size_t			 n = 0, i;
	int64_t			 window;
	int			 rv;

	if (!rules_is_sign_in(rec->signal) || rec->user_id == NULL ||
	    rec->correlation_id == NULL || *rec->correlation_id == '\0')
		return 0;
	window = r->config->incident_window * USEC_PER_SEC;
	if (store_rule_marks_window(r->store, rule->name, tc->name, oid,
	    rec->event_us - window, rec->event_us + window, &m, &n) == -1)
		return -1;
	for (i = 0; i < n && head == NULL; i++) {
		if (!rules_is_head(m[i].state))
			continue;
		if (m[i].user_id == NULL || m[i].correlation_id == NULL ||
		    strcasecmp(m[i].user_id, rec->user_id) != 0 ||
		    strcasecmp(m[i].correlation_id, rec->correlation_id) != 0 ||
		    m[i].result_code != rec->result_code)
			continue;
		head = &m[i];
	}
	if (head == NULL) {
		rule_marks_free(m, n);
		return 0;
	}
	rv = rules_mark(r, rule, tc->name, rec, oid, MARK_DUPLICATE,
	    head->record_id, head->alert_id);
	if (rv == 0) {
		log_debug("tenant %s rule %s: record %s is a duplicate of %s",
		    tc->name, rule->name, rec->id, head->record_id);
	}
	rule_marks_free(m, n);
	return rv == -1 ? -1 : 1;
}

static int
rules_mark_cmp(const void *a, const void *b)
{
	const struct rule_mark	*x = *(const struct rule_mark *const *)a;
	const struct rule_mark	*y = *(const struct rule_mark *const *)b;

	if (x->event_us != y->event_us)
		return x->event_us < y->event_us ? -1 : 1;
	return strcmp(x->record_id, y->record_id);
}

/*
 * A new incident head of a gt/ge rule: does a period-long window that
 * contains it meet the threshold? Then alert with the heads of those
 * windows that no alert carries yet (or, inside a suppression window, mark
 * them suppressed); else count it. Returns alerts committed or -1.
 */
static int
rules_fire(struct rules *r, const struct rule_config *rule,
    const struct tenant_config *tc, const struct account *acct,
    const struct record *rec, int64_t now)
{
	struct rule_mark	 *m = NULL, **heads = NULL;
	struct carry		 *c = NULL;
	struct alert		 *a;
	struct record		 *full;
	int64_t			 *times = NULL, period, t, until;
	size_t			  nm = 0, nh = 0, n, i, k, new_idx, first, last;
	size_t			  nc = 0;
	int			  fires, found, rv = -1, alerts = 0;
	const char		 *oid = acct->object_id;

	period = rule->period * USEC_PER_SEC;
	t = rec->event_us;
	if (store_rule_marks_window(r->store, rule->name, tc->name, oid,
	    t - period, t + period, &m, &nm) == -1)
		return -1;

	/* The heads in time order, and the new one in its place. */
	heads = xcalloc(nm + 1, sizeof *heads);
	for (i = 0; i < nm; i++) {
		if (rules_is_head(m[i].state) &&
		    strcmp(m[i].record_id, rec->id) != 0)
			heads[nh++] = &m[i];
	}
	qsort(heads, nh, sizeof *heads, rules_mark_cmp);
	n = nh + 1;
	times = xcalloc(n, sizeof *times);
	for (new_idx = 0; new_idx < nh; new_idx++) {
		if (heads[new_idx]->event_us > t ||
		    (heads[new_idx]->event_us == t &&
		    strcmp(heads[new_idx]->record_id, rec->id) > 0))
			break;
	}
	memmove(&heads[new_idx + 1], &heads[new_idx],
	    (nh - new_idx) * sizeof *heads);
	heads[new_idx] = NULL;		/* the new record */
	for (i = 0; i < n; i++)
		times[i] = heads[i] != NULL ? heads[i]->event_us : t;

	fires = rule_window_fires(rule, times, n, new_idx, &first, &last);
	if (fires == -1) {
		log_warnx("tenant %s rule %s: cannot evaluate record %s",
		    tc->name, rule->name, rec->id);
		goto out;
	}
	if (!fires) {
		rv = rules_mark(r, rule, tc->name, rec, oid, MARK_COUNTED,
		    NULL, NULL);
		goto out;
	}

	/* What the alert carries: the new record and the counted heads. */
	c = xcalloc(last - first + 1, sizeof *c);
	for (k = first; k <= last; k++) {
		if (heads[k] == NULL) {
			c[nc].id = rec->id;
			c[nc++].event_us = t;
		} else if (heads[k]->state == MARK_COUNTED) {
			c[nc].id = heads[k]->record_id;
			c[nc++].event_us = heads[k]->event_us;
		}
	}

	found = store_suppression_get(r->store, rule->name, tc->name, oid,
	    &until);
	if (found == -1)
		goto out;
	if (found && until > now) {
		if (rules_mark_all(r, rule, tc->name, oid, c, nc,
		    MARK_SUPPRESSED) == -1)
			goto out;
		log_info("tenant %s rule %s: record %s of %s suppressed "
		    "(%zu record%s) until the digest", tc->name, rule->name,
		    rec->id, acct->upn != NULL ? acct->upn : oid, nc,
		    nc == 1 ? "" : "s");
		rv = 0;
		goto out;
	}
	if (found) {
		/* The window is over but its digest is not out yet. */
		if ((found = rules_suppression_end(r, rule, tc, oid,
		    now)) == -1)
			goto out;
		alerts += found;
	}

	a = rules_alert_new(ALERT_EVENT, rule, tc, oid);
	for (i = 0; i < nc; i++) {
		if (c[i].id == rec->id) {
			alert_add_record(a, record_dup(rec));
			continue;
		}
		full = NULL;
		found = store_record_get(r->store, tc->name, c[i].id, &full);
		if (found == -1) {
			alert_free(a);
			goto out;
		}
		if (found == 0) {
			log_warnx("tenant %s rule %s: record %s is no longer "
			    "stored; the alert marks it but cannot show it",
			    tc->name, rule->name, c[i].id);
			continue;
		}
		alert_add_record(a, full);
	}
	a->count = (long)nc;
	if (rules_commit(r, rule, a, c, nc, now) == -1)
		goto out;
	alerts++;
	rv = 0;

out:
	free(c);
	free(times);
	free(heads);
	rule_marks_free(m, nm);
	return rv == -1 ? -1 : alerts;
}

/* One record new to the rule. Returns alerts committed or -1. */
static int
rules_eval_record(struct rules *r, const struct rule_config *rule,
    const struct tenant_config *tc, const struct record *rec, int64_t now)
{
	const struct account	*acct;
	int			 rv;

	acct = rules_record_account(rule, tc, rec);
	if (acct == NULL || !rule_matches(rule, rec)) {
		return rules_mark(r, rule, tc->name, rec,
		    acct != NULL ? acct->object_id : NULL, MARK_NOMATCH, NULL,
		    NULL);
	}
	if ((rv = rules_duplicate(r, rule, tc, acct->object_id, rec)) != 0)
		return rv == -1 ? -1 : 0;
	if (!rules_is_event(rule)) {
		return rules_mark(r, rule, tc->name, rec, acct->object_id,
		    MARK_COUNTED, NULL, NULL);
	}
	return rules_fire(r, rule, tc, acct, rec, now);
}

/* Every record of the tenant new to the rule, in event order. On an
 * error the rest wait for the next evaluation. */
static int
rules_eval_rule(struct rules *r, const struct rule_config *rule,
    const struct tenant_config *tc, int64_t now, int *nalerts)
{
	struct record_list	l;
	int64_t			since;
	int			n, rv = 0;

	if (store_rule_since(r->store, rule->name, now, &since) == -1)
		return -1;
	record_list_init(&l);
	if (store_rule_unmarked(r->store, rule->name, tc->name, rule->signal,
	    &l) == -1) {
		record_list_clear(&l);
		return -1;
	}
	for (size_t i = 0; i < l.n; i++) {
		if ((n = rules_eval_record(r, rule, tc, l.v[i], now)) == -1) {
			log_warnx("tenant %s rule %s: evaluation stopped at "
			    "record %s", tc->name, rule->name, l.v[i]->id);
			rv = -1;
			break;
		}
		*nalerts += n;
	}
	record_list_clear(&l);
	return rv;
}

/* ---------------------------------------------------------------------
 * Absence rules
 */

static int
rules_absence(struct rules *r, const struct rule_config *rule, int64_t now,
    int *nalerts)
{
	const struct tenant_config	*tc;
	const struct account		*acct;
	struct alert			*a;
	int64_t				 since, period, last;
	long				 count;
	size_t				 i, j;
	int				 found, rv = 0;

	period = rule->period * USEC_PER_SEC;
	for (i = 0; i < r->config->ntenants; i++) {
		tc = &r->config->tenants[i];
		if (!rule_has_tenant(rule, tc->name))
			continue;
		/* Count what has arrived, whether or not a poll said so. */
		if (rules_eval_rule(r, rule, tc, now, nalerts) == -1) {
			rv = -1;
			continue;
		}
		if (store_rule_since(r->store, rule->name, now, &since) == -1) {
			rv = -1;
			continue;
		}
		if (now - since < period)
			continue;	/* not watched a whole period yet */
		for (j = 0; j < tc->nbreak_glass; j++) {
			acct = &tc->break_glass[j];
			if (rule_account(rule, tc, acct->object_id) == NULL)
				continue;
			if (store_rule_count_received(r->store, rule->name,
			    tc->name, acct->object_id, now - period, now,
			    &count) == -1) {
				rv = -1;
				continue;
			}
			if (!rules_absence_holds(rule, count))
				continue;
			found = store_absence_get(r->store, rule->name,
			    tc->name, acct->object_id, &last);
			if (found == -1) {
				rv = -1;
				continue;
			}
			if (found && now - last < period)
				continue;
			a = rules_alert_new(ALERT_ABSENCE, rule, tc,
			    acct->object_id);
			a->count = count;
			if (rules_commit(r, rule, a, NULL, 0, now) == -1) {
				rv = -1;
				continue;
			}
			(*nalerts)++;
		}
	}
	return rv;
}

/* ---------------------------------------------------------------------
 * Suppression windows
 */

/* Ends every window due at now. Windows of a rule or tenant no longer in
 * the configuration wait (their records stay suppressed, not lost). */
static int
rules_suppressions_due(struct rules *r, int64_t now, int *nalerts)
{
	const struct rule_config	*rule;
	const struct tenant_config	*tc;
	struct suppression		*s = NULL;
	size_t				 n = 0, i;
	int				 rv = 0, got;

	if (store_suppressions(r->store, &s, &n) == -1) {
		r->suppress_failed = 1;
		return -1;
	}
	for (i = 0; i < n && s[i].until_us <= now; i++) {
		rule = rules_find(r->config, s[i].rule);
		tc = config_tenant(r->config, s[i].tenant);
		if (rule == NULL || tc == NULL) {
			log_debug("suppression of rule %s tenant %s account "
			    "%s: not configured, kept", s[i].rule, s[i].tenant,
			    s[i].account);
			continue;
		}
		if ((got = rules_suppression_end(r, rule, tc, s[i].account,
		    now)) == -1)
			rv = -1;
		else
			*nalerts += got;
	}
	suppressions_free(s, n);
	r->suppress_failed = rv == -1;
	return rv;
}

static void
rules_destroy(struct rules *r)
{
	rules_timers_free(r->timers, r->ntimers);
	rules_timers_free(r->dead, r->ndead);
	if (r->ev_suppress != NULL)
		event_free(r->ev_suppress);
	if (r->ev_kick != NULL)
		event_free(r->ev_kick);
	free(r);
}

/* Our callbacks run between rules_enter and rules_leave: what a reload or
 * rules_free let go of meanwhile is freed on the way out. */
static void
rules_enter(struct rules *r)
{
	r->in_cb++;
}

static void
rules_leave(struct rules *r)
{
	if (--r->in_cb > 0)
		return;
	rules_timers_free(r->dead, r->ndead);
	r->dead = NULL;
	r->ndead = 0;
	if (r->dying)
		rules_destroy(r);
}

static void
rules_retry(struct rules *r)
{
	struct timeval	tv = { RULES_RETRY_SEC, 0 };

	if (r->ev_kick != NULL && !evtimer_pending(r->ev_kick, NULL))
		evtimer_add(r->ev_kick, &tv);
}

static void
rules_suppress_cb(int fd, short events, void *arg)
{
	struct rules	*r = arg;
	int		 n = 0;

	(void)fd;
	(void)events;
	rules_enter(r);
	if (r->config != NULL && rules_suppressions_due(r, time_now_us(),
	    &n) == -1)
		rules_retry(r);
	r->suppress_dirty = 1;
	rules_arm_suppress(r);
	rules_leave(r);
}

/* Arms the timer for the soonest end of a window we can deliver. */
static void
rules_arm_suppress(struct rules *r)
{
	struct suppression	*s = NULL;
	struct timeval		 tv;
	size_t			 n = 0, i;
	int64_t			 delay;

	if (!r->suppress_dirty || r->ev_suppress == NULL || r->config == NULL)
		return;
	evtimer_del(r->ev_suppress);
	if (store_suppressions(r->store, &s, &n) == -1) {
		rules_retry(r);
		return;
	}
	r->suppress_dirty = 0;
	for (i = 0; i < n; i++) {
		if (rules_find(r->config, s[i].rule) == NULL ||
		    config_tenant(r->config, s[i].tenant) == NULL)
			continue;
		delay = s[i].until_us - time_now_us();
		if (delay < 0)
			delay = 0;
		/* A digest that could not be committed: not in a spin. */
		if (r->suppress_failed && delay < RULES_RETRY_SEC * USEC_PER_SEC)
			delay = RULES_RETRY_SEC * USEC_PER_SEC;
		tv.tv_sec = delay / USEC_PER_SEC;
		tv.tv_usec = delay % USEC_PER_SEC;
		evtimer_add(r->ev_suppress, &tv);
		break;
	}
	suppressions_free(s, n);
}

/* ---------------------------------------------------------------------
 * Timers and the public interface
 */

static void
rules_timer_cb(int fd, short events, void *arg)
{
	struct rules_timer		*t = arg;
	struct rules			*r = t->rules;
	const struct rule_config	*rule;
	int				 n = 0;

	(void)fd;
	(void)events;
	rules_enter(r);
	rule = rules_find(r->config, t->rule);
	if (rule != NULL && rule->enabled && !rules_is_event(rule)) {
		if (rules_absence(r, rule, time_now_us(), &n) == -1)
			log_warnx("rule %s: absence check failed; retried in "
			    "%lld s", rule->name, (long long)rule->frequency);
		rules_arm_suppress(r);
	}
	rules_leave(r);
}

static void
rules_kick_cb(int fd, short events, void *arg)
{
	struct rules	*r = arg;

	(void)fd;
	(void)events;
	rules_enter(r);
	for (size_t i = 0; r->config != NULL && i < r->config->ntenants; i++)
		rules_evaluate(r, r->config->tenants[i].name);
	rules_leave(r);
}

static void
rules_timers_free(struct rules_timer **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		event_free(v[i]->ev);
		free(v[i]->rule);
		free(v[i]);
	}
	free(v);
}

struct rules *
rules_new(struct event_base *base, struct store *store,
    struct outbox *outbox)
{
	struct rules	*r = xcalloc(1, sizeof *r);

	r->base = base;
	r->store = store;
	r->outbox = outbox;
	if (base != NULL) {
		r->ev_suppress = evtimer_new(base, rules_suppress_cb, r);
		r->ev_kick = evtimer_new(base, rules_kick_cb, r);
		if (r->ev_suppress == NULL || r->ev_kick == NULL)
			fatalx("%s: evtimer_new", __func__);
	}
	return r;
}

void
rules_free(struct rules *r)
{
	if (r == NULL)
		return;
	if (r->in_cb > 0) {
		/* Called from one of our callbacks: free on the way out. */
		r->dying = 1;
		if (r->ev_suppress != NULL)
			evtimer_del(r->ev_suppress);
		if (r->ev_kick != NULL)
			evtimer_del(r->ev_kick);
		for (size_t i = 0; i < r->ntimers; i++)
			evtimer_del(r->timers[i]->ev);
		r->config = NULL;
		return;
	}
	rules_destroy(r);
}

void
rules_set_config(struct rules *r, const struct config *config)
{
	const struct rule_config	*rule;
	struct rules_timer		*t;
	struct suppression		*s = NULL;
	struct timeval			 tv = { 0, 0 };
	int64_t				 now = time_now_us(), since;
	size_t				 i, n = 0;

	/* The old timers name rules of the old config: replace them. */
	if (r->in_cb > 0) {
		for (i = 0; i < r->ntimers; i++)
			evtimer_del(r->timers[i]->ev);
		r->dead = xreallocarray(r->dead, r->ndead + r->ntimers,
		    sizeof *r->dead);
		memcpy(r->dead + r->ndead, r->timers,
		    r->ntimers * sizeof *r->timers);
		r->ndead += r->ntimers;
		free(r->timers);
	} else
		rules_timers_free(r->timers, r->ntimers);
	r->timers = NULL;
	r->ntimers = 0;

	r->config = config;
	if (config == NULL)
		return;

	for (i = 0; i < config->nrules; i++) {
		rule = &config->rules[i];
		if (!rule->enabled)
			continue;
		/* A rule watches what is received from its first start. */
		if (store_rule_since(r->store, rule->name, now, &since) == -1)
			log_warnx("rule %s: cannot read its state", rule->name);
		if (rules_is_event(rule) || r->base == NULL)
			continue;
		t = xcalloc(1, sizeof *t);
		t->rules = r;
		t->rule = xstrdup(rule->name);
		t->ev = event_new(r->base, -1, EV_PERSIST, rules_timer_cb, t);
		if (t->ev == NULL)
			fatalx("%s: event_new", __func__);
		tv.tv_sec = rule->frequency > 0 ? rule->frequency : 1;
		tv.tv_usec = 0;
		evtimer_add(t->ev, &tv);
		r->timers = xreallocarray(r->timers, r->ntimers + 1,
		    sizeof *r->timers);
		r->timers[r->ntimers++] = t;
	}

	/* Windows whose rule or tenant a reload removed keep their records
	 * until it comes back; say so once. */
	if (store_suppressions(r->store, &s, &n) == 0) {
		for (i = 0; i < n; i++) {
			if (rules_find(config, s[i].rule) == NULL ||
			    config_tenant(config, s[i].tenant) == NULL)
				log_warnx("suppression of rule %s tenant %s "
				    "account %s: rule or tenant not "
				    "configured; its digest waits", s[i].rule,
				    s[i].tenant, s[i].account);
		}
		suppressions_free(s, n);
	}
	r->suppress_dirty = 1;
	rules_arm_suppress(r);

	/* Records stored before a restart or a reload may be unmarked:
	 * evaluate every tenant on the next loop turn. */
	if (r->ev_kick != NULL) {
		tv.tv_sec = 0;
		evtimer_add(r->ev_kick, &tv);
	}
}

int
rules_evaluate(struct rules *r, const char *tenant)
{
	const struct tenant_config	*tc;
	const struct rule_config	*rule;
	int64_t				 now = time_now_us();
	int				 nalerts = 0, rv = 0;

	if (r->config == NULL)
		return 0;
	if ((tc = config_tenant(r->config, tenant)) == NULL) {
		log_warnx("%s: tenant %s not configured", __func__, tenant);
		return -1;
	}
	/* Digests of windows that are over go out before new alerts. */
	if (rules_suppressions_due(r, now, &nalerts) == -1)
		rv = -1;
	for (size_t i = 0; i < r->config->nrules; i++) {
		rule = &r->config->rules[i];
		if (!rule->enabled || !rule_has_tenant(rule, tc->name))
			continue;
		if (rules_eval_rule(r, rule, tc, now, &nalerts) == -1)
			rv = -1;
	}
	rules_arm_suppress(r);
	if (rv == -1) {
		rules_retry(r);
		return -1;
	}
	return nalerts;
}

int
rules_tick(struct rules *r, int64_t now_us)
{
	const struct rule_config	*rule;
	int				 nalerts = 0, rv = 0;

	if (r->config == NULL)
		return 0;
	if (rules_suppressions_due(r, now_us, &nalerts) == -1)
		rv = -1;
	for (size_t i = 0; i < r->config->nrules; i++) {
		rule = &r->config->rules[i];
		if (!rule->enabled || rules_is_event(rule))
			continue;
		if (rules_absence(r, rule, now_us, &nalerts) == -1)
			rv = -1;
	}
	r->suppress_dirty = 1;
	rules_arm_suppress(r);
	if (rv == -1) {
		rules_retry(r);
		return -1;
	}
	return nalerts;
}
