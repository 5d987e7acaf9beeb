/* Drills: the request, the daemon's answer, the mark on alerts and the
 * posture evidence (drill.h). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "alert.h"
#include "config.h"
#include "drill.h"
#include "guid.h"
#include "log.h"
#include "record.h"
#include "store.h"
#include "strlist.h"
#include "timeutil.h"
#include "xmalloc.h"

void
drill_free(struct drill *d)
{
	if (d == NULL)
		return;
	free(d->id);
	free(d->tenant);
	free(d->account_oid);
	free(d->account_upn);
	free(d->announced_by);
	free(d->reason);
	free(d);
}

int
drill_account_find(const struct config *c, const char *name,
    const struct tenant_config **tp, const struct account **ap)
{
	int found = 0;

	*tp = NULL;
	*ap = NULL;
	for (size_t i = 0; i < c->ntenants; i++) {
		const struct tenant_config *t = &c->tenants[i];

		for (size_t k = 0; k < t->nbreak_glass; k++) {
			const struct account *a = &t->break_glass[k];

			if ((a->object_id == NULL ||
			    strcasecmp(a->object_id, name) != 0) &&
			    (a->upn == NULL || strcasecmp(a->upn, name) != 0))
				continue;
			if (found++ == 0) {
				*tp = t;
				*ap = a;
			}
			break;
		}
	}
	return found > 1 ? -1 : found;
}

int
drill_window_check(int64_t seconds, const char **why)
{
	if (seconds < DRILL_WINDOW_MIN) {
		*why = "a drill window is at least 1m";
		return -1;
	}
	if (seconds > DRILL_WINDOW_MAX) {
		*why = "a drill window is at most 24h";
		return -1;
	}
	return 0;
}

json_t *
drill_request_new(const char *account, int64_t window, const char *reason)
{
	json_t *d = json_pack("{s:s, s:I}", "account", account, "window",
	    (json_int_t)window);

	if (reason != NULL)
		json_object_set_new(d, "reason", json_string(reason));
	return json_pack("{s:o}", "drill", d);
}

int
drill_request_parse(const json_t *req, const char **account,
    int64_t *window, const char **reason, const char **why)
{
	const json_t *d = json_object_get(req, "drill");
	const json_t *acct, *win, *rsn;

	*account = *reason = NULL;
	*window = 0;
	if (!json_is_object(d)) {
		*why = "the request is not a drill announcement";
		return -1;
	}
	acct = json_object_get(d, "account");
	win = json_object_get(d, "window");
	rsn = json_object_get(d, "reason");
	if (!json_is_string(acct) || json_string_length(acct) == 0) {
		*why = "drill: account must be a non-empty string";
		return -1;
	}
	if (!json_is_integer(win)) {
		*why = "drill: window must be a number of seconds";
		return -1;
	}
	if (rsn != NULL && (!json_is_string(rsn) ||
	    json_string_length(rsn) > DRILL_REASON_MAX)) {
		*why = "drill: reason must be a string of at most 200 bytes";
		return -1;
	}
	/* It is logged: one line, nothing a terminal would act on. */
	for (size_t i = 0; rsn != NULL && i < json_string_length(rsn); i++) {
		unsigned char ch = (unsigned char)json_string_value(rsn)[i];

		if (ch < 0x20 || ch == 0x7f) {
			*why = "drill: reason must not hold control characters";
			return -1;
		}
	}
	*window = (int64_t)json_integer_value(win);
	if (drill_window_check(*window, why) == -1)
		return -1;
	*account = json_string_value(acct);
	*reason = rsn != NULL ? json_string_value(rsn) : NULL;
	return 0;
}

static json_t *
drill_refuse(const char *why, int usage)
{
	return json_pack("{s:b, s:s, s:b}", "ok", 0, "error", why, "usage",
	    usage);
}

json_t *
drill_answer(struct store *s, const struct config *c, const json_t *req,
    long uid, const char *user, int64_t now_us)
{
	const struct tenant_config *t;
	const struct account *a;
	const char *name, *reason, *why;
	char guid[GUID_LEN], until[TIME_ISO_LEN], *msg;
	struct drill d;
	int64_t window;
	json_t *reply;

	if (drill_request_parse(req, &name, &window, &reason, &why) == -1)
		return drill_refuse(why, 1);
	switch (drill_account_find(c, name, &t, &a)) {
	case 0:
		msg = xasprintf("'%s' is not a configured break-glass account",
		    name);
		reply = drill_refuse(msg, 1);
		free(msg);
		return reply;
	case -1:
		msg = xasprintf("'%s' names break-glass accounts of more than "
		    "one tenant: give the object id", name);
		reply = drill_refuse(msg, 1);
		free(msg);
		return reply;
	default:
		break;
	}
	guid_random(guid);
	memset(&d, 0, sizeof d);
	d.id = xasprintf("drill-%s", guid);
	d.tenant = t->name;
	d.account_oid = a->object_id;
	d.account_upn = a->upn;
	d.announced_by = (char *)user;
	d.uid = uid;
	d.reason = (char *)reason;
	d.announced_us = now_us;
	d.until_us = now_us + window * USEC_PER_SEC;
	if (store_drill_insert(s, &d) == -1) {
		free(d.id);
		return drill_refuse("the state store could not save the drill",
		    0);
	}
	time_format_iso8601_sec(d.until_us, until);
	log_notice("tenant %s: drill %s of %s announced by %s (uid %ld) "
	    "until %s%s%s", t->name, d.id, a->upn != NULL ? a->upn :
	    a->object_id, user, uid, until, reason != NULL ? ": " : "",
	    reason != NULL ? reason : "");
	reply = json_pack("{s:b, s:s, s:s, s:s, s:s, s:s}", "ok", 1, "id",
	    d.id, "tenant", t->name, "account", a->upn != NULL ? a->upn :
	    a->object_id, "announced_by", user, "until", until);
	free(d.id);
	return reply;
}

char *
drill_note(const struct drill *d)
{
	char at[TIME_ISO_LEN], until[TIME_ISO_LEN];

	time_format_iso8601_sec(d->announced_us, at);
	time_format_iso8601_sec(d->until_us, until);
	return xasprintf("DRILL announced by %s at %s, window until %s",
	    d->announced_by, at, until);
}

static int
drill_is_sign_in(const struct record *r)
{
	return r->signal == SIGNAL_SIGN_IN ||
	    r->signal == SIGNAL_NON_INTERACTIVE;
}

int
drill_mark_alert(struct store *s, const struct config *c, struct alert *a,
    struct strlist *actions)
{
	struct drill *d = NULL;
	char *note;
	int found = 0;

	if (a->tenant == NULL || a->account_oid == NULL)
		return 0;
	for (size_t i = 0; i < a->nrecords && !found; i++) {
		if (!drill_is_sign_in(a->records[i]))
			continue;
		if ((found = store_drill_at(s, a->tenant, a->account_oid,
		    a->records[i]->event_us, &d)) == -1)
			return -1;
	}
	if (!found)
		return 0;
	note = drill_note(d);
	alert_mark_drill(a, note);
	log_notice("tenant %s rule %s: alert %s is a drill: %s", a->tenant,
	    a->rule != NULL ? a->rule : "-", a->id, note);
	free(note);
	drill_free(d);
	for (size_t i = 0; i < c->drill_actions.n; i++)
		if (!strlist_contains(actions, c->drill_actions.v[i]))
			strlist_add(actions, c->drill_actions.v[i]);
	return 1;
}

int
drill_posture_evidence(struct store *s, const struct tenant_config *t,
    json_t *snap, int64_t since_us)
{
	json_t *out = json_object();
	char when[TIME_ISO_LEN];

	for (size_t i = 0; i < t->nbreak_glass; i++) {
		const struct account *a = &t->break_glass[i];
		struct drill *d;
		int64_t at;
		int rc;

		rc = store_drill_validated(s, t->name, a->object_id, since_us,
		    &d, &at);
		if (rc == -1) {
			json_decref(out);
			return -1;
		}
		if (rc == 0)
			continue;
		time_format_iso8601_sec(at, when);
		json_object_set_new(out, a->object_id, json_pack(
		    "{s:s, s:s, s:s}", "drill", d->id, "announced_by",
		    d->announced_by, "time", when));
		drill_free(d);
	}
	json_object_set_new(snap, "drill_sign_ins", out);
	return 0;
}
