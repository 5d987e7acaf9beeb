/*
 * The posture checks: Microsoft's guidance for emergency access accounts,
 * one finding per (check, account), decided from a snapshot of Graph.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "config.h"
#include "guid.h"
#include "posture.h"
#include "timeutil.h"
#include "xmalloc.h"

#define DAY_US		(86400 * USEC_PER_SEC)
#define TYPE_PREFIX	"#microsoft.graph."
#define MANAGED_PREFIX	"Microsoft-managed:"

/* What the checks of one account look at. */
struct acct_view {
	const struct tenant_config	*t;
	const struct account		*a;
	const char			*label;
	const json_t			*snap;
	const json_t			*errors;
	const json_t			*parts;	/* accounts.<oid> */
	int64_t				 now;
	struct posture_findings		*out;
};

const char *
posture_result_name(enum posture_result r)
{
	static const char *const names[] = { "pass", "warn", "FAIL",
		"error" };

	return names[r];
}

static void
finding_add(struct posture_findings *out, const char *check,
    const char *account, enum posture_result r, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void
finding_add(struct posture_findings *out, const char *check,
    const char *account, enum posture_result r, const char *fmt, ...)
{
	struct posture_finding *f;
	va_list ap;
	char *ev;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	ev = xmalloc((size_t)(len < 0 ? 0 : len) + 1);
	va_start(ap, fmt);
	(void)vsnprintf(ev, (size_t)(len < 0 ? 0 : len) + 1, fmt, ap);
	va_end(ap);
	out->v = xreallocarray(out->v, out->n + 1, sizeof *out->v);
	f = &out->v[out->n++];
	f->check = xstrdup(check);
	f->account = xstrdup(account);
	f->result = r;
	f->evidence = ev;
}

void
posture_findings_clear(struct posture_findings *fs)
{
	for (size_t i = 0; i < fs->n; i++) {
		free(fs->v[i].check);
		free(fs->v[i].account);
		free(fs->v[i].evidence);
	}
	free(fs->v);
	fs->v = NULL;
	fs->n = 0;
}

int
posture_any_failed(const struct posture_findings *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		if (fs->v[i].result == POSTURE_FAIL ||
		    fs->v[i].result == POSTURE_ERROR)
			return 1;
	return 0;
}

/* Helpers over JSON. */

static const char *
jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* Does the array of strings hold s (GUIDs and keywords: no case)? */
static int
jlist_has(const json_t *list, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
		if (json_is_string(v) && strcasecmp(json_string_value(v), s) ==
		    0)
			return 1;
	return 0;
}

/* The method type without "#microsoft.graph." (tolerating the old
 * "odata.type" key of some samples), "" when none. */
static const char *
method_type(const json_t *m)
{
	const char *t = jstr(m, "@odata.type");

	if (t == NULL)
		t = jstr(m, "odata.type");
	if (t == NULL)
		return "";
	if (strncmp(t, TYPE_PREFIX, strlen(TYPE_PREFIX)) == 0)
		t += strlen(TYPE_PREFIX);
	return t;
}

static int
method_phishing_resistant(const json_t *m)
{
	const char *t = method_type(m);

	return strcmp(t, "fido2AuthenticationMethod") == 0 ||
	    strcmp(t, "x509CertificateAuthenticationMethod") == 0;
}

/* The part of the account's snapshot, or NULL with *why (the read's
 * error, or "not read"). */
static const json_t *
acct_part(const struct acct_view *v, const char *part, const char **why)
{
	const json_t *p = json_object_get(v->parts, part);
	char key[128];

	snprintf(key, sizeof key, "%s/%s", v->a->object_id, part);
	if ((*why = jstr(v->errors, key)) != NULL)
		return NULL;
	if (p == NULL) {
		*why = "not read";
		return NULL;
	}
	return p;
}

static int
posture_is_error(const struct acct_view *v, const char *check,
    const json_t *part, const char *what, const char *why)
{
	if (part != NULL)
		return 0;
	finding_add(v->out, check, v->label, POSTURE_ERROR,
	    "cannot read the %s: %s", what, why);
	return 1;
}

/* Checks on the user object. */

static void
check_user(const struct acct_view *v)
{
	const char *why, *upn, *pp, *at;
	const json_t *u = acct_part(v, "user", &why), *sync, *en;
	int synced;

	if (posture_is_error(v, "cloud-only", u, "user", why)) {
		finding_add(v->out, "enabled", v->label, POSTURE_ERROR,
		    "cannot read the user: %s", why);
		finding_add(v->out, "password-expiry", v->label,
		    POSTURE_ERROR, "cannot read the user: %s", why);
		finding_add(v->out, "sign-in-90d", v->label, POSTURE_ERROR,
		    "cannot read the user: %s", why);
		return;
	}
	sync = json_object_get(u, "onPremisesSyncEnabled");
	synced = json_is_true(sync);
	upn = jstr(u, "userPrincipalName");
	at = upn != NULL ? strrchr(upn, '@') : NULL;
	if (synced)
		finding_add(v->out, "cloud-only", v->label, POSTURE_FAIL,
		    "onPremisesSyncEnabled is true: the account is synced "
		    "from on-premises AD, whose outage or compromise reaches "
		    "it");
	else if (at == NULL || strlen(at) < strlen(".onmicrosoft.com") ||
	    strcasecmp(at + strlen(at) - strlen(".onmicrosoft.com"),
	    ".onmicrosoft.com") != 0)
		finding_add(v->out, "cloud-only", v->label, POSTURE_FAIL,
		    "UPN %s is not on an *.onmicrosoft.com domain: it depends "
		    "on a custom domain (and its federation)",
		    upn != NULL ? upn : "(none)");
	else
		finding_add(v->out, "cloud-only", v->label, POSTURE_PASS,
		    "onPremisesSyncEnabled %s; UPN %s",
		    json_is_false(sync) ? "false (synced once)" : "null",
		    upn);

	en = json_object_get(u, "accountEnabled");
	if (json_is_true(en))
		finding_add(v->out, "enabled", v->label, POSTURE_PASS,
		    "accountEnabled true");
	else
		finding_add(v->out, "enabled", v->label, POSTURE_FAIL,
		    "accountEnabled is %s: the account cannot sign in",
		    json_is_false(en) ? "false" : "not set");

	pp = jstr(u, "passwordPolicies");
	{
		int found = 0;
		char *copy = xstrdup(pp != NULL ? pp : ""), *save = NULL;

		for (char *tok = strtok_r(copy, ", ", &save); tok != NULL;
		    tok = strtok_r(NULL, ", ", &save))
			if (strcasecmp(tok, "DisablePasswordExpiration") == 0)
				found = 1;
		free(copy);
		if (found)
			finding_add(v->out, "password-expiry", v->label,
			    POSTURE_PASS, "passwordPolicies %s", pp);
		else
			finding_add(v->out, "password-expiry", v->label,
			    POSTURE_FAIL, "passwordPolicies %s lacks "
			    "DisablePasswordExpiration: the password expires "
			    "and the account is unusable when it is needed",
			    pp != NULL && *pp != '\0' ? pp : "(none)");
	}

	{
		const json_t *sia = json_object_get(u, "signInActivity");
		const char *last = jstr(sia, "lastSuccessfulSignInDateTime");
		/* A sign-in inside an announced drill (drill.h), which
		 * signInActivity may not show yet. */
		const json_t *dr = json_object_get(json_object_get(v->snap,
		    "drill_sign_ins"), v->a->object_id);
		const char *dt = jstr(dr, "time");
		int64_t when, dwhen;
		int fresh;

		fresh = last != NULL && time_parse_iso8601(last, &when) == 0 &&
		    v->now - when <= POSTURE_SIGNIN_DAYS * DAY_US;
		if (!fresh && dt != NULL && time_parse_iso8601(dt, &dwhen) == 0 &&
		    v->now - dwhen <= POSTURE_SIGNIN_DAYS * DAY_US)
			finding_add(v->out, "sign-in-90d", v->label,
			    POSTURE_PASS, "validated by drill %s announced by "
			    "%s: successful sign-in %s (%lld days ago)",
			    jstr(dr, "drill") != NULL ? jstr(dr, "drill") : "-",
			    jstr(dr, "announced_by") != NULL ?
			    jstr(dr, "announced_by") : "-", dt,
			    (long long)((v->now - dwhen) / DAY_US));
		else if (last == NULL || time_parse_iso8601(last, &when) == -1)
			finding_add(v->out, "sign-in-90d", v->label,
			    POSTURE_FAIL, "validation overdue: no successful "
			    "sign-in recorded (signInActivity)");
		else if (v->now - when > POSTURE_SIGNIN_DAYS * DAY_US)
			finding_add(v->out, "sign-in-90d", v->label,
			    POSTURE_FAIL, "validation overdue: last "
			    "successful sign-in %s, %lld days ago (more than "
			    "%d)", last, (long long)((v->now - when) / DAY_US),
			    POSTURE_SIGNIN_DAYS);
		else
			finding_add(v->out, "sign-in-90d", v->label,
			    POSTURE_PASS, "last successful sign-in %s (%lld "
			    "days ago)", last,
			    (long long)((v->now - when) / DAY_US));
	}
}

/* Role assignments. */

static int
schedule_is_ga(const json_t *s)
{
	const char *role = jstr(s, "roleDefinitionId");
	const char *scope = jstr(s, "directoryScopeId");

	return role != NULL && guid_equal(role, POSTURE_GLOBAL_ADMIN) &&
	    scope != NULL && strcmp(scope, "/") == 0;
}

static const char *
schedule_expiry(const json_t *s)
{
	const char *t = jstr(json_object_get(json_object_get(s,
	    "scheduleInfo"), "expiration"), "type");

	return t != NULL ? t : "notSpecified";
}

static const char *
schedule_end(const json_t *s)
{
	const char *e = jstr(json_object_get(json_object_get(s,
	    "scheduleInfo"), "expiration"), "endDateTime");

	return e != NULL ? e : "-";
}

int
posture_permanent_ga(const json_t *active)
{
	size_t i;
	json_t *s;

	json_array_foreach(active, i, s) {
		const char *at = jstr(s, "assignmentType");
		const char *mt = jstr(s, "memberType");

		if (schedule_is_ga(s) && at != NULL &&
		    strcmp(at, "Assigned") == 0 && mt != NULL &&
		    strcmp(mt, "Direct") == 0 &&
		    strcmp(schedule_expiry(s), "noExpiration") == 0)
			return 1;
	}
	return 0;
}

static void
check_global_admin(const struct acct_view *v)
{
	const char *why;
	const json_t *active = acct_part(v, "active", &why), *elig, *s;
	struct buf b;
	size_t i;

	if (posture_is_error(v, "global-admin", active,
	    "role assignment schedules", why))
		return;
	if (posture_permanent_ga(active)) {
		finding_add(v->out, "global-admin", v->label, POSTURE_PASS,
		    "active Global Administrator, direct, tenant-wide, no "
		    "expiration");
		return;
	}
	buf_init(&b);
	json_array_foreach(active, i, s) {
		const char *at = jstr(s, "assignmentType"),
		    *mt = jstr(s, "memberType");

		if (!schedule_is_ga(s))
			continue;
		buf_printf(&b, "%sactive %s assignment (%s) %s%s%s",
		    b.len > 0 ? "; " : "", at != NULL ? at : "-",
		    mt != NULL ? mt : "-",
		    strcmp(schedule_expiry(s), "noExpiration") == 0 ?
		    "without end" : "ends ", strcmp(schedule_expiry(s),
		    "noExpiration") == 0 ? "" : schedule_end(s),
		    at != NULL && strcmp(at, "Activated") == 0 ?
		    " (a PIM activation)" : "");
	}
	elig = acct_part(v, "eligible", &why);
	if (elig != NULL) {
		json_array_foreach(elig, i, s)
			if (schedule_is_ga(s))
				buf_printf(&b, "%seligible only (PIM)",
				    b.len > 0 ? "; " : "");
	}
	finding_add(v->out, "global-admin", v->label, POSTURE_FAIL,
	    "not a permanent active Global Administrator: %s",
	    b.len > 0 ? buf_cstr(&b) : "no Global Administrator assignment");
	buf_free(&b);
}

/* Conditional Access. */

static const char *
policy_name(const json_t *p)
{
	const char *n = jstr(p, "displayName");

	return n != NULL ? n : jstr(p, "id") != NULL ? jstr(p, "id") : "-";
}

static int
policy_managed(const json_t *p)
{
	const char *n = jstr(p, "displayName");

	return n != NULL && strncmp(n, MANAGED_PREFIX,
	    strlen(MANAGED_PREFIX)) == 0;
}

/* Is the account in one of the groups? 1 yes (*via set), 0 no, -1 a
 * group's members are unknown (*why set). */
static int
in_groups(const struct acct_view *v, const json_t *groups,
    const char **via, const char **why)
{
	const json_t *members = json_object_get(v->snap, "groups");
	int unknown = 0;
	char key[128];
	size_t i;
	json_t *g;

	json_array_foreach(groups, i, g) {
		const char *gid = json_string_value(g);
		const json_t *m;

		if (gid == NULL)
			continue;
		if ((m = json_object_get(members, gid)) != NULL) {
			if (jlist_has(m, v->a->object_id)) {
				*via = gid;
				return 1;
			}
			continue;
		}
		snprintf(key, sizeof key, "groups/%s", gid);
		*why = jstr(v->errors, key);
		if (*why == NULL)
			*why = "group members not read";
		unknown = 1;
	}
	return unknown ? -1 : 0;
}

/* The role template ids the account holds actively. */
static int
has_role(const struct acct_view *v, const json_t *roles, const char **via,
    const char **why)
{
	const json_t *active, *s;
	const char *err;
	size_t i;

	if (json_array_size(roles) == 0)
		return 0;
	if ((active = acct_part(v, "active", &err)) == NULL) {
		*why = err;
		return -1;
	}
	json_array_foreach(active, i, s) {
		const char *r = jstr(s, "roleDefinitionId");

		if (r != NULL && jlist_has(roles, r)) {
			*via = r;
			return 1;
		}
	}
	return 0;
}

/* How the policy's user conditions treat the account: 1 it is excluded
 * (evidence in *how), 0 not, -1 unknown (*why). */
static int
policy_excludes(const struct acct_view *v, const json_t *users,
    struct buf *how, const char **why)
{
	const char *via = NULL;
	int g, r;

	if (jlist_has(json_object_get(users, "excludeUsers"),
	    v->a->object_id)) {
		buf_puts(how, "directly");
		return 1;
	}
	g = in_groups(v, json_object_get(users, "excludeGroups"), &via, why);
	if (g == 1) {
		buf_printf(how, "through group %s", via);
		return 1;
	}
	r = has_role(v, json_object_get(users, "excludeRoles"), &via, why);
	if (r == 1) {
		buf_printf(how, "through role %s%s", via,
		    guid_equal(via, POSTURE_GLOBAL_ADMIN) ?
		    " (Global Administrator)" : "");
		return 1;
	}
	return g == -1 || r == -1 ? -1 : 0;
}

/* Would the policy apply to the account if it were on? 1, 0, -1. */
static int
policy_includes(const struct acct_view *v, const json_t *users,
    const char **why)
{
	const json_t *inc = json_object_get(users, "includeUsers");
	const char *via;
	int g, r;

	if (jlist_has(inc, "All") || jlist_has(inc, v->a->object_id))
		return 1;
	g = in_groups(v, json_object_get(users, "includeGroups"), &via, why);
	r = has_role(v, json_object_get(users, "includeRoles"), &via, why);
	if (g == 1 || r == 1)
		return 1;
	return g == -1 || r == -1 ? -1 : 0;
}

static void
check_managed(const struct acct_view *v, const json_t *p, int included,
    const char *why)
{
	const char *created = jstr(p, "createdDateTime"), *tpl;
	char on[TIME_ISO_LEN], when[64];
	int64_t c, at, days;

	tpl = jstr(p, "templateId");
	if (included == -1) {
		finding_add(v->out, "ms-managed", v->label, POSTURE_ERROR,
		    "Microsoft-managed report-only policy \"%s\" (template "
		    "%s): cannot tell whether it includes the account: %s",
		    policy_name(p), tpl != NULL ? tpl : "-", why);
		return;
	}
	if (created == NULL || time_parse_iso8601(created, &c) == -1) {
		finding_add(v->out, "ms-managed", v->label, POSTURE_WARN,
		    "Microsoft-managed report-only policy \"%s\" (template "
		    "%s) includes the account and switches itself on at "
		    "least %d days after creation: date unknown "
		    "(createdDateTime is null); exclude the account or turn "
		    "the policy off", policy_name(p), tpl != NULL ? tpl : "-",
		    POSTURE_MANAGED_ON_DAYS);
		return;
	}
	at = c + POSTURE_MANAGED_ON_DAYS * DAY_US;
	time_format_iso8601_sec(at, on);
	on[10] = '\0';		/* the day is what matters */
	days = (at - v->now) / DAY_US;
	if (at <= v->now)
		snprintf(when, sizeof when, "due already: any day now");
	else
		snprintf(when, sizeof when, "in %lld day%s", (long long)days,
		    days == 1 ? "" : "s");
	/* Within the notice period it needs doing now: a failure. */
	finding_add(v->out, "ms-managed", v->label,
	    at - v->now <= POSTURE_MANAGED_NOTICE_DAYS * DAY_US ?
	    POSTURE_FAIL : POSTURE_WARN,
	    "Microsoft-managed report-only policy \"%s\" (template %s) "
	    "includes the account and switches itself on on %s (created %s "
	    "+ %d days; %s): exclude the account or turn the policy off",
	    policy_name(p), tpl != NULL ? tpl : "-", on, created,
	    POSTURE_MANAGED_ON_DAYS, when);
}

static void
check_conditional_access(const struct acct_view *v)
{
	const json_t *pols = json_object_get(v->snap, "policies"), *p;
	const char *why = jstr(v->errors, "policies");
	struct buf ok, bad, unknown, how;
	size_t i, nchecked = 0, nmanaged = 0;

	if (why != NULL || pols == NULL) {
		why = why != NULL ? why : "not read";
		finding_add(v->out, "ca-excluded", v->label, POSTURE_ERROR,
		    "cannot read the Conditional Access policies: %s", why);
		finding_add(v->out, "ms-managed", v->label, POSTURE_ERROR,
		    "cannot read the Conditional Access policies: %s", why);
		return;
	}
	buf_init(&ok);
	buf_init(&bad);
	buf_init(&unknown);
	buf_init(&how);
	json_array_foreach(pols, i, p) {
		const char *state = jstr(p, "state");
		const json_t *users = json_object_get(json_object_get(p,
		    "conditions"), "users");
		int report, ex, inc;

		if (state == NULL || strcmp(state, "disabled") == 0)
			continue;
		report = strcmp(state, "enabledForReportingButNotEnforced") ==
		    0;
		nchecked++;
		buf_reset(&how);
		why = NULL;
		ex = policy_excludes(v, users, &how, &why);
		if (ex == 1)
			buf_printf(&ok, "%s\"%s\" %s", ok.len > 0 ? ", " : "",
			    policy_name(p), buf_cstr(&how));
		else if (ex == 0)
			buf_printf(&bad, "%s\"%s\" (%s)", bad.len > 0 ? ", " :
			    "", policy_name(p), report ? "report-only" :
			    "enabled");
		else
			buf_printf(&unknown, "%s\"%s\": %s", unknown.len > 0 ?
			    ", " : "", policy_name(p), why);
		if (report && policy_managed(p) && ex != 1) {
			why = NULL;
			inc = ex == -1 ? -1 : policy_includes(v, users, &why);
			if (inc != 0) {
				nmanaged++;
				check_managed(v, p, inc, why != NULL ? why :
				    "group members or roles unknown");
			}
		}
	}
	if (bad.len > 0)
		finding_add(v->out, "ca-excluded", v->label, POSTURE_FAIL,
		    "not excluded from %s%s%s", buf_cstr(&bad),
		    unknown.len > 0 ? "; unknown: " : "",
		    buf_cstr(&unknown));
	else if (unknown.len > 0)
		finding_add(v->out, "ca-excluded", v->label, POSTURE_ERROR,
		    "cannot tell for %s", buf_cstr(&unknown));
	else
		finding_add(v->out, "ca-excluded", v->label, POSTURE_PASS,
		    "excluded from all %zu enabled or report-only "
		    "polic%s%s%s", nchecked, nchecked == 1 ? "y" : "ies",
		    ok.len > 0 ? ": " : "", buf_cstr(&ok));
	if (nmanaged == 0)
		finding_add(v->out, "ms-managed", v->label, POSTURE_PASS,
		    "no Microsoft-managed report-only policy would include "
		    "the account");
	buf_free(&ok);
	buf_free(&bad);
	buf_free(&unknown);
	buf_free(&how);
}

/* Authentication methods. */

/* "fido2 AAGUID x (model)" or the type: how a mechanism is compared. */
static char *
method_mechanism(const json_t *m)
{
	const char *t = method_type(m);

	if (strcmp(t, "fido2AuthenticationMethod") == 0) {
		const char *g = jstr(m, "aaGuid"), *model = jstr(m, "model");

		return xasprintf("FIDO2 key AAGUID %s%s%s%s",
		    g != NULL ? g : "-", model != NULL ? " (" : "",
		    model != NULL ? model : "", model != NULL ? ")" : "");
	}
	return xstrdup(t);
}

static int
same_mechanism(const json_t *a, const json_t *b)
{
	const char *ta = method_type(a), *tb = method_type(b);
	const char *ga, *gb;

	if (strcmp(ta, tb) != 0)
		return 0;
	if (strcmp(ta, "fido2AuthenticationMethod") != 0)
		return 1;
	ga = jstr(a, "aaGuid");
	gb = jstr(b, "aaGuid");
	return ga != NULL && gb != NULL && strcasecmp(ga, gb) == 0;
}

/* Is the principal one of the tenant's break-glass accounts? */
static int
is_break_glass(const struct tenant_config *t, const char *oid)
{
	for (size_t i = 0; i < t->nbreak_glass; i++)
		if (guid_equal(t->break_glass[i].object_id, oid))
			return 1;
	return 0;
}

/* The strong mechanisms against the other Global Administrators'. */
static void
check_distinct(const struct acct_view *v, const json_t *methods)
{
	const json_t *admins = json_object_get(v->snap, "admins"), *adm, *m;
	const json_t *am = json_object_get(v->snap, "admin_methods");
	const char *why = jstr(v->errors, "admins");
	struct buf shared, errs;
	size_t i, j, k, nstrong = 0, nshared = 0, nothers = 0, nskipped = 0;
	json_t *om;

	if (why != NULL || admins == NULL) {
		finding_add(v->out, "distinct-mechanism", v->label,
		    POSTURE_ERROR, "cannot read the Global Administrators: "
		    "%s", why != NULL ? why : "not read");
		return;
	}
	buf_init(&shared);
	buf_init(&errs);
	json_array_foreach(methods, i, m) {
		int this_shared = 0;
		char *mech;

		if (!method_phishing_resistant(m))
			continue;
		nstrong++;
		mech = method_mechanism(m);
		json_array_foreach(admins, j, adm) {
			const char *pid = jstr(adm, "principalId");
			const json_t *pr = json_object_get(adm, "principal");
			const char *pt = jstr(pr, "@odata.type");
			const char *upn = jstr(pr, "userPrincipalName");
			const json_t *oms;

			if (pid == NULL || is_break_glass(v->t, pid) ||
			    (pt != NULL && strcmp(pt, TYPE_PREFIX "user") !=
			    0))
				continue;
			if ((oms = json_object_get(am, pid)) == NULL)
				continue;
			json_array_foreach(oms, k, om)
				if (same_mechanism(m, om)) {
					buf_printf(&shared, "%s%s also used by "
					    "%s", shared.len > 0 ? "; " : "",
					    mech, upn != NULL ? upn : pid);
					this_shared = 1;
					break;
				}
		}
		nshared += this_shared;
		free(mech);
	}
	json_array_foreach(admins, j, adm) {
		const char *pid = jstr(adm, "principalId");
		const char *pt = jstr(json_object_get(adm, "principal"),
		    "@odata.type");
		char key[128];

		if (pid == NULL || is_break_glass(v->t, pid))
			continue;
		if (pt != NULL && strcmp(pt, TYPE_PREFIX "user") != 0) {
			nskipped++;
			continue;
		}
		nothers++;
		snprintf(key, sizeof key, "admin_methods/%s", pid);
		if (json_object_get(am, pid) == NULL)
			buf_printf(&errs, "%s%s: %s", errs.len > 0 ? "; " : "",
			    pid, jstr(v->errors, key) != NULL ?
			    jstr(v->errors, key) : "not read");
	}
	if (nstrong == 0)
		finding_add(v->out, "distinct-mechanism", v->label,
		    POSTURE_FAIL, "no phishing-resistant method to compare");
	else if (nshared == nstrong)
		finding_add(v->out, "distinct-mechanism", v->label,
		    POSTURE_FAIL, "every phishing-resistant method is shared "
		    "with another Global Administrator (one outage or recall "
		    "locks both out): %s", buf_cstr(&shared));
	else if (errs.len > 0)
		finding_add(v->out, "distinct-mechanism", v->label,
		    POSTURE_ERROR, "cannot read the methods of other Global "
		    "Administrators: %s", buf_cstr(&errs));
	else
		finding_add(v->out, "distinct-mechanism", v->label,
		    POSTURE_PASS, "%zu of %zu phishing-resistant method%s not "
		    "used by the %zu other Global Administrator%s%s%s%s",
		    nstrong - nshared, nstrong, nstrong == 1 ? "" : "s",
		    nothers, nothers == 1 ? "" : "s",
		    nskipped > 0 ? " (group or app assignments not "
		    "compared)" : "", shared.len > 0 ? "; shared: " : "",
		    buf_cstr(&shared));
	buf_free(&shared);
	buf_free(&errs);
}

static void
check_methods(const struct acct_view *v)
{
	const char *why;
	const json_t *methods = acct_part(v, "methods", &why), *m;
	struct buf phones, strong;
	size_t i;

	if (posture_is_error(v, "no-phone", methods,
	    "authentication methods", why)) {
		finding_add(v->out, "phishing-resistant", v->label,
		    POSTURE_ERROR, "cannot read the authentication methods: "
		    "%s", why);
		finding_add(v->out, "distinct-mechanism", v->label,
		    POSTURE_ERROR, "cannot read the authentication methods: "
		    "%s", why);
		return;
	}
	buf_init(&phones);
	buf_init(&strong);
	json_array_foreach(methods, i, m) {
		const char *t = method_type(m);

		if (strcmp(t, "phoneAuthenticationMethod") == 0) {
			const char *pt = jstr(m, "phoneType");

			/* The type only: the number is personal data. */
			buf_printf(&phones, "%s%s phone", phones.len > 0 ?
			    ", " : "", pt != NULL ? pt : "unknown");
		} else if (method_phishing_resistant(m)) {
			char *mech = method_mechanism(m);

			buf_printf(&strong, "%s%s", strong.len > 0 ? ", " : "",
			    mech);
			free(mech);
		}
	}
	if (phones.len > 0)
		finding_add(v->out, "no-phone", v->label, POSTURE_FAIL,
		    "phone (SMS/voice) method registered: %s; phone methods "
		    "are phishable and tie the account to a person's phone",
		    buf_cstr(&phones));
	else
		finding_add(v->out, "no-phone", v->label, POSTURE_PASS,
		    "no phone method among %zu method%s",
		    json_array_size(methods),
		    json_array_size(methods) == 1 ? "" : "s");
	if (strong.len > 0)
		finding_add(v->out, "phishing-resistant", v->label,
		    POSTURE_PASS, "%s", buf_cstr(&strong));
	else
		finding_add(v->out, "phishing-resistant", v->label,
		    POSTURE_FAIL, "no FIDO2 key or certificate-based "
		    "method among %zu method%s", json_array_size(methods),
		    json_array_size(methods) == 1 ? "" : "s");
	check_distinct(v, methods);
	buf_free(&phones);
	buf_free(&strong);
}

void
posture_check(const struct tenant_config *t, const json_t *snap,
    int64_t now_us, struct posture_findings *out)
{
	const json_t *errors = json_object_get(snap, "errors");
	const json_t *accounts = json_object_get(snap, "accounts");

	if (t->nbreak_glass >= 2)
		finding_add(out, "two-accounts", "-", POSTURE_PASS,
		    "%zu break-glass accounts configured", t->nbreak_glass);
	else
		finding_add(out, "two-accounts", "-", POSTURE_FAIL,
		    "%zu break-glass account%s configured: Microsoft advises "
		    "at least two, so one lost or locked account still "
		    "leaves a way in", t->nbreak_glass,
		    t->nbreak_glass == 1 ? "" : "s");
	for (size_t i = 0; i < t->nbreak_glass; i++) {
		const struct account *a = &t->break_glass[i];
		struct acct_view v = {
			.t = t, .a = a, .snap = snap, .errors = errors,
			.parts = json_object_get(accounts, a->object_id),
			.now = now_us, .out = out,
			.label = a->upn != NULL ? a->upn : a->object_id,
		};

		check_user(&v);
		check_global_admin(&v);
		check_conditional_access(&v);
		check_methods(&v);
	}
}

static void
add_groups(const json_t *list, json_t *out)
{
	size_t i, j;
	json_t *g, *have;

	json_array_foreach(list, i, g) {
		int dup = 0;

		if (!json_is_string(g) || !guid_valid(json_string_value(g)))
			continue;
		json_array_foreach(out, j, have)
			if (guid_equal(json_string_value(have),
			    json_string_value(g)))
				dup = 1;
		if (!dup)
			json_array_append(out, g);
	}
}

void
posture_needed_groups(const json_t *policies, json_t *out)
{
	size_t i;
	json_t *p;

	json_array_foreach(policies, i, p) {
		const char *state = jstr(p, "state");
		const json_t *users = json_object_get(json_object_get(p,
		    "conditions"), "users");

		if (state == NULL || strcmp(state, "disabled") == 0)
			continue;
		add_groups(json_object_get(users, "excludeGroups"), out);
		if (policy_managed(p) &&
		    strcmp(state, "enabledForReportingButNotEnforced") == 0)
			add_groups(json_object_get(users, "includeGroups"),
			    out);
	}
}
