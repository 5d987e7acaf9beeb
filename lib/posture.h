/* Posture checks of the break-glass accounts (issue 7): pure functions
 * over what Graph said about a tenant (a "snapshot", see below) to
 * findings: check, account, pass/warn/fail/error, evidence. The reads
 * themselves are posture-graph.c's. */
#ifndef GW_POSTURE_H
#define GW_POSTURE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct tenant_config;

/* The role template id of Global Administrator (API-FACTS 5.4). */
#define POSTURE_GLOBAL_ADMIN	"62e90394-69f5-4237-9190-012177145e10"
/* A Microsoft-managed policy switches itself on this long after it was
 * created; glasswatch says so from this many days before. */
#define POSTURE_MANAGED_ON_DAYS		90
#define POSTURE_MANAGED_NOTICE_DAYS	14
/* A break-glass account must have signed in this recently. */
#define POSTURE_SIGNIN_DAYS		90

enum posture_result {
	POSTURE_PASS, POSTURE_WARN, POSTURE_FAIL, POSTURE_ERROR
};

struct posture_finding {
	char			*check;		/* e.g. "cloud-only" */
	char			*account;	/* UPN or object id; "-": tenant */
	enum posture_result	 result;
	char			*evidence;
};

struct posture_findings {
	struct posture_finding	*v;
	size_t			 n;
};

/*
 * The snapshot of one tenant, a JSON object (each Graph list is the
 * "value" items of every page):
 *   "policies": [conditionalAccessPolicy...]
 *   "admins":   [unifiedRoleAssignment of Global Administrator, with
 *               "principal" expanded]
 *   "admin_methods": {"<principal id>": [authenticationMethod...]}
 *   "groups":   {"<group id>": ["<member object id>", ...]}
 *   "accounts": {"<object id>": {"user": {...}, "methods": [...],
 *               "active": [roleAssignmentSchedule...],
 *               "eligible": [roleEligibilitySchedule...]}}
 *   "drill_sign_ins": {"<object id>": {"drill", "announced_by",
 *               "time"}}: optional, from the store (drill.h); a
 *               successful sign-in inside a drill counts as validation
 *   "errors":   {"<what>": "why"}: a read that failed; what is
 *               "policies", "admins", "admin_methods/<id>",
 *               "groups/<id>" or "<object id>/user|methods|active|
 *               eligible"
 * A missing part without an error counts as not read ("error").
 */
void	posture_check(const struct tenant_config *, const json_t *snapshot,
	    int64_t now_us, struct posture_findings *);
void	posture_findings_clear(struct posture_findings *);
const char *posture_result_name(enum posture_result);
/* 1 when a finding failed or could not be checked. */
int	posture_any_failed(const struct posture_findings *);

/* For the reader, which asks for eligibility only when needed: does the
 * list of active assignment schedules hold a permanent, direct,
 * tenant-wide Global Administrator assignment? */
int	posture_permanent_ga(const json_t *active);
/* The group ids the checks need the members of: those excluded from, or
 * (for Microsoft-managed report-only policies) included in, a policy
 * that is not disabled. Adds them to out (an array) once each. */
void	posture_needed_groups(const json_t *policies, json_t *out);

#endif
