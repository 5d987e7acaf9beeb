/* The posture checks over a snapshot of a well-configured tenant
 * (data/posture-snapshot.json, Graph's shapes), and that snapshot
 * broken one way at a time: each check passing and failing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "posture.h"
#include "timeutil.h"

#define BG1	"33333333-3333-4333-8333-333333333333"
#define BG1_UPN	"bg1@contoso.onmicrosoft.com"
#define BG2	"44444444-4444-4444-8444-444444444444"
#define BG2_UPN	"bg2@contoso.onmicrosoft.com"
#define GROUP	"e1e1e1e1-0000-4000-8000-000000000001"
#define GA	POSTURE_GLOBAL_ADMIN

static struct account accounts[2] = {
	{ (char *)BG1, (char *)BG1_UPN },
	{ (char *)BG2, (char *)BG2_UPN },
};
static struct tenant_config tenant;
static json_t *snap;
static struct posture_findings fs;
static int64_t now;

static void
setup(void)
{
	json_error_t e;

	memset(&tenant, 0, sizeof tenant);
	tenant.name = (char *)"contoso";
	tenant.break_glass = accounts;
	tenant.nbreak_glass = 2;
	snap = json_load_file(GW_TEST_DATA "/posture-snapshot.json", 0, &e);
	ck_assert_msg(snap != NULL, "fixture: %s", e.text);
	ck_assert_int_eq(time_parse_iso8601("2026-12-01T00:00:00Z", &now), 0);
	memset(&fs, 0, sizeof fs);
}

static void
teardown(void)
{
	posture_findings_clear(&fs);
	json_decref(snap);
}

static const struct posture_finding *
run_find(const char *check, const char *account)
{
	posture_findings_clear(&fs);
	posture_check(&tenant, snap, now, &fs);
	for (size_t i = 0; i < fs.n; i++)
		if (strcmp(fs.v[i].check, check) == 0 &&
		    strcmp(fs.v[i].account, account) == 0)
			return &fs.v[i];
	ck_abort_msg("no finding %s for %s", check, account);
	return NULL;
}

static void
expect(const char *check, const char *account, enum posture_result r,
    const char *evidence)
{
	const struct posture_finding *f = run_find(check, account);

	ck_assert_msg(f->result == r, "%s %s: %s, not %s: %s", check, account,
	    posture_result_name(f->result), posture_result_name(r),
	    f->evidence);
	if (evidence != NULL)
		ck_assert_msg(strstr(f->evidence, evidence) != NULL,
		    "%s %s: evidence \"%s\" lacks \"%s\"", check, account,
		    f->evidence, evidence);
}

static json_t *
account(const char *oid, const char *part)
{
	return json_object_get(json_object_get(json_object_get(snap,
	    "accounts"), oid), part);
}

static json_t *
policy_users(size_t i)
{
	return json_object_get(json_object_get(json_array_get(
	    json_object_get(snap, "policies"), i), "conditions"), "users");
}

static void
list_remove(json_t *list, const char *s)
{
	for (size_t i = 0; i < json_array_size(list); i++)
		if (strcmp(json_string_value(json_array_get(list, i)), s) ==
		    0)
			json_array_remove(list, i--);
}

START_TEST(well_configured_tenant_passes_everything)
{
	posture_check(&tenant, snap, now, &fs);
	/* two-accounts, then 10 per account */
	ck_assert_uint_eq(fs.n, 1 + 2 * 10);
	for (size_t i = 0; i < fs.n; i++)
		ck_assert_msg(fs.v[i].result == POSTURE_PASS, "%s %s: %s: %s",
		    fs.v[i].check, fs.v[i].account,
		    posture_result_name(fs.v[i].result), fs.v[i].evidence);
	ck_assert_int_eq(posture_any_failed(&fs), 0);
	expect("ca-excluded", BG1_UPN, POSTURE_PASS, "directly");
	expect("ca-excluded", BG2_UPN, POSTURE_PASS, "through group " GROUP);
	expect("phishing-resistant", BG1_UPN, POSTURE_PASS,
	    "FIDO2 key AAGUID 2fc0579f-8113-47ea-b116-bb5a8db9202a");
	expect("phishing-resistant", BG2_UPN, POSTURE_PASS,
	    "x509CertificateAuthenticationMethod");
	expect("cloud-only", BG2_UPN, POSTURE_PASS, "synced once");
}
END_TEST

START_TEST(one_account_is_not_enough)
{
	expect("two-accounts", "-", POSTURE_PASS, "2 break-glass");
	tenant.nbreak_glass = 1;
	expect("two-accounts", "-", POSTURE_FAIL, "1 break-glass account ");
	ck_assert_int_eq(posture_any_failed(&fs), 1);
}
END_TEST

START_TEST(synced_or_custom_domain_is_not_cloud_only)
{
	json_t *u = account(BG1, "user");

	json_object_set_new(u, "onPremisesSyncEnabled", json_true());
	expect("cloud-only", BG1_UPN, POSTURE_FAIL, "onPremisesSyncEnabled");
	json_object_set_new(u, "onPremisesSyncEnabled", json_null());
	json_object_set_new(u, "userPrincipalName",
	    json_string("bg1@contoso.com"));
	expect("cloud-only", BG1_UPN, POSTURE_FAIL, "bg1@contoso.com");
	json_object_set_new(u, "userPrincipalName",
	    json_string("bg1@evil.onmicrosoft.com.example"));
	expect("cloud-only", BG1_UPN, POSTURE_FAIL, "not on an");
}
END_TEST

START_TEST(disabled_account_fails)
{
	expect("enabled", BG1_UPN, POSTURE_PASS, NULL);
	json_object_set_new(account(BG1, "user"), "accountEnabled",
	    json_false());
	expect("enabled", BG1_UPN, POSTURE_FAIL, "false");
}
END_TEST

START_TEST(expiring_password_fails)
{
	json_object_set_new(account(BG2, "user"), "passwordPolicies",
	    json_string("DisableStrongPassword"));
	expect("password-expiry", BG2_UPN, POSTURE_FAIL,
	    "DisableStrongPassword lacks DisablePasswordExpiration");
	json_object_set_new(account(BG2, "user"), "passwordPolicies",
	    json_null());
	expect("password-expiry", BG2_UPN, POSTURE_FAIL, "(none)");
}
END_TEST

START_TEST(time_bound_or_eligible_global_admin_fails)
{
	json_t *s = json_array_get(account(BG1, "active"), 0);
	json_t *exp = json_object_get(json_object_get(s, "scheduleInfo"),
	    "expiration");
	json_t *elig;

	expect("global-admin", BG1_UPN, POSTURE_PASS, "no expiration");
	json_object_set_new(exp, "type", json_string("afterDateTime"));
	json_object_set_new(exp, "endDateTime",
	    json_string("2027-01-10T08:00:00Z"));
	expect("global-admin", BG1_UPN, POSTURE_FAIL,
	    "ends 2027-01-10T08:00:00Z");

	/* Only eligible: no active schedule, one eligibility. */
	elig = json_deep_copy(account(BG1, "active"));
	json_object_del(json_array_get(elig, 0), "assignmentType");
	json_object_set_new(json_object_get(json_object_get(snap, "accounts"),
	    BG1), "eligible", elig);
	json_array_clear(account(BG1, "active"));
	expect("global-admin", BG1_UPN, POSTURE_FAIL, "eligible only");
	ck_assert_int_eq(posture_permanent_ga(account(BG1, "active")), 0);
}
END_TEST

START_TEST(activation_of_eligibility_is_not_permanent)
{
	json_t *s = json_array_get(account(BG2, "active"), 0);

	json_object_set_new(s, "assignmentType", json_string("Activated"));
	expect("global-admin", BG2_UPN, POSTURE_FAIL, "PIM activation");
	ck_assert_int_eq(posture_permanent_ga(account(BG2, "active")), 0);
	ck_assert_int_eq(posture_permanent_ga(account(BG1, "active")), 1);
}
END_TEST

START_TEST(not_excluded_from_enabled_policy_fails)
{
	list_remove(json_object_get(policy_users(0), "excludeUsers"), BG1);
	expect("ca-excluded", BG1_UPN, POSTURE_FAIL,
	    "\"Require MFA for administrators\" (enabled)");
	/* The group of BG2 no longer holds it. */
	json_array_clear(json_object_get(json_object_get(snap, "groups"),
	    GROUP));
	expect("ca-excluded", BG2_UPN, POSTURE_FAIL, "(enabled)");
}
END_TEST

START_TEST(not_excluded_from_report_only_policy_fails)
{
	list_remove(json_object_get(policy_users(1), "excludeUsers"), BG2);
	expect("ca-excluded", BG2_UPN, POSTURE_FAIL,
	    "\"Block legacy authentication\" (report-only)");
	/* A disabled policy does not count. */
	expect("ca-excluded", BG1_UPN, POSTURE_PASS, "all 3 enabled");
}
END_TEST

START_TEST(excluded_through_role_passes)
{
	list_remove(json_object_get(policy_users(0), "excludeUsers"), BG1);
	json_array_append_new(json_object_get(policy_users(0), "excludeRoles"),
	    json_string(GA));
	expect("ca-excluded", BG1_UPN, POSTURE_PASS,
	    "through role " GA " (Global Administrator)");
}
END_TEST

START_TEST(unknown_group_members_is_an_error)
{
	json_object_del(json_object_get(snap, "groups"), GROUP);
	json_object_set_new(json_object_get(snap, "errors"), "groups/" GROUP,
	    json_string("HTTP 403 Authorization_RequestDenied"));
	expect("ca-excluded", BG2_UPN, POSTURE_ERROR,
	    "HTTP 403 Authorization_RequestDenied");
	/* BG1 is excluded directly: the group does not matter. */
	expect("ca-excluded", BG1_UPN, POSTURE_PASS, NULL);
	ck_assert_int_eq(posture_any_failed(&fs), 1);
}
END_TEST

START_TEST(managed_policy_gives_its_switch_on_date)
{
	list_remove(json_object_get(policy_users(2), "excludeUsers"), BG1);
	/* Created 2026-11-01T12:00Z: on 2027-01-30, 60 days on. */
	expect("ms-managed", BG1_UPN, POSTURE_WARN,
	    "switches itself on on 2027-01-30");
	expect("ms-managed", BG1_UPN, POSTURE_WARN, "in 60 days");
	expect("ms-managed", BG1_UPN, POSTURE_WARN,
	    "template c7503427-338e-4c5e-902d-abe252abfb43");
	expect("ca-excluded", BG1_UPN, POSTURE_FAIL, "Microsoft-managed");
	expect("ms-managed", BG2_UPN, POSTURE_PASS, NULL);
}
END_TEST

START_TEST(managed_policy_within_notice_fails)
{
	json_t *p = json_array_get(json_object_get(snap, "policies"), 2);

	list_remove(json_object_get(policy_users(2), "excludeUsers"), BG1);
	json_object_set_new(p, "createdDateTime",
	    json_string("2026-09-10T00:00:00Z"));
	expect("ms-managed", BG1_UPN, POSTURE_FAIL, "in 8 days");
	json_object_set_new(p, "createdDateTime",
	    json_string("2026-08-01T00:00:00Z"));
	expect("ms-managed", BG1_UPN, POSTURE_FAIL, "due already");
}
END_TEST

START_TEST(managed_policy_without_created_date)
{
	json_t *p = json_array_get(json_object_get(snap, "policies"), 2);

	list_remove(json_object_get(policy_users(2), "excludeUsers"), BG2);
	json_object_set_new(p, "createdDateTime", json_null());
	expect("ms-managed", BG2_UPN, POSTURE_WARN, "date unknown");
}
END_TEST

START_TEST(managed_policy_not_including_the_account_is_quiet)
{
	list_remove(json_object_get(policy_users(2), "excludeUsers"), BG1);
	json_array_clear(json_object_get(policy_users(2), "includeRoles"));
	json_array_append_new(json_object_get(policy_users(2),
	    "includeUsers"), json_string("55555555-5555-4555-8555-555555555555"));
	expect("ms-managed", BG1_UPN, POSTURE_PASS, NULL);
	/* Still not excluded: the strict check fails. */
	expect("ca-excluded", BG1_UPN, POSTURE_FAIL, "Microsoft-managed");
}
END_TEST

START_TEST(phone_method_fails)
{
	expect("no-phone", BG1_UPN, POSTURE_PASS, "2 methods");
	json_array_append_new(account(BG1, "methods"), json_pack(
	    "{s:s, s:s, s:s, s:s, s:s}", "@odata.type",
	    "#microsoft.graph.phoneAuthenticationMethod", "id",
	    "3179e48a-750b-4051-897c-87b9720928f7", "phoneNumber",
	    "+1 2065555555", "phoneType", "mobile", "smsSignInState", "ready"));
	expect("no-phone", BG1_UPN, POSTURE_FAIL, "mobile phone");
	ck_assert_ptr_null(strstr(run_find("no-phone", BG1_UPN)->evidence,
	    "2065555555"));
}
END_TEST

START_TEST(no_phishing_resistant_method_fails)
{
	json_array_remove(account(BG2, "methods"), 1);
	json_array_append_new(account(BG2, "methods"), json_pack("{s:s, s:s}",
	    "@odata.type",
	    "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
	    "id", "6e5a1c9a-2b0e-4d4a-9a36-2b1f8d0c7e12"));
	expect("phishing-resistant", BG2_UPN, POSTURE_FAIL,
	    "no FIDO2 key or certificate");
	expect("distinct-mechanism", BG2_UPN, POSTURE_FAIL, "no phishing");
}
END_TEST

START_TEST(shared_fido2_model_fails)
{
	json_t *key = json_array_get(account(BG1, "methods"), 1);

	expect("distinct-mechanism", BG1_UPN, POSTURE_PASS,
	    "1 of 1 phishing-resistant method not used by the 1 other");
	json_object_set_new(key, "aaGuid",
	    json_string("CB69481E-8FF7-4039-93EC-0A2729A154A8"));
	expect("distinct-mechanism", BG1_UPN, POSTURE_FAIL,
	    "also used by alice@contoso.onmicrosoft.com");
	/* A second key of another model: one of its own is left. */
	json_array_append_new(account(BG1, "methods"), json_pack(
	    "{s:s, s:s, s:s}", "@odata.type",
	    "#microsoft.graph.fido2AuthenticationMethod", "id", "k2",
	    "aaGuid", "ee882879-721c-4913-9775-3dfcce97072a"));
	expect("distinct-mechanism", BG1_UPN, POSTURE_PASS, "shared: FIDO2");
}
END_TEST

START_TEST(shared_certificate_type_fails)
{
	json_array_append_new(json_object_get(json_object_get(snap,
	    "admin_methods"), "55555555-5555-4555-8555-555555555555"),
	    json_pack("{s:s, s:s}", "@odata.type",
	    "#microsoft.graph.x509CertificateAuthenticationMethod", "id",
	    "c1"));
	expect("distinct-mechanism", BG2_UPN, POSTURE_FAIL,
	    "x509CertificateAuthenticationMethod also used by alice");
}
END_TEST

START_TEST(stale_or_missing_sign_in_is_overdue)
{
	json_t *sia = json_object_get(account(BG2, "user"), "signInActivity");

	expect("sign-in-90d", BG2_UPN, POSTURE_PASS, "59 days ago");
	json_object_set_new(sia, "lastSuccessfulSignInDateTime",
	    json_string("2026-08-01T00:00:00Z"));
	expect("sign-in-90d", BG2_UPN, POSTURE_FAIL,
	    "validation overdue: last successful sign-in "
	    "2026-08-01T00:00:00Z, 122 days ago");
	json_object_set_new(account(BG2, "user"), "signInActivity",
	    json_null());
	expect("sign-in-90d", BG2_UPN, POSTURE_FAIL, "no successful sign-in");
}
END_TEST

START_TEST(failed_reads_are_errors)
{
	json_t *errors = json_object_get(snap, "errors");

	json_object_del(json_object_get(json_object_get(snap, "accounts"),
	    BG1), "user");
	json_object_set_new(errors, BG1 "/user", json_string("HTTP 403 "
	    "Authorization_RequestDenied"));
	expect("cloud-only", BG1_UPN, POSTURE_ERROR, "HTTP 403");
	expect("sign-in-90d", BG1_UPN, POSTURE_ERROR, "HTTP 403");
	json_object_del(json_object_get(json_object_get(snap, "accounts"),
	    BG2), "methods");
	expect("no-phone", BG2_UPN, POSTURE_ERROR, "not read");
	json_object_del(snap, "policies");
	json_object_set_new(errors, "policies", json_string("HTTP 500"));
	expect("ca-excluded", BG2_UPN, POSTURE_ERROR, "HTTP 500");
	expect("ms-managed", BG2_UPN, POSTURE_ERROR, "HTTP 500");
	/* The rest still decided. */
	expect("enabled", BG2_UPN, POSTURE_PASS, NULL);
	ck_assert_int_eq(posture_any_failed(&fs), 1);
}
END_TEST

START_TEST(groups_needed_once_each)
{
	json_t *out = json_array();

	json_array_append_new(json_object_get(policy_users(1),
	    "excludeGroups"), json_string(GROUP));
	json_array_append_new(json_object_get(policy_users(1),
	    "excludeGroups"), json_string("not-a-guid/../x"));
	/* Disabled: not needed. */
	json_array_append_new(json_object_get(policy_users(3),
	    "excludeGroups"), json_string("a0a0a0a0-0000-4000-8000-000000000002"));
	posture_needed_groups(json_object_get(snap, "policies"), out);
	ck_assert_uint_eq(json_array_size(out), 1);
	ck_assert_str_eq(json_string_value(json_array_get(out, 0)), GROUP);
	json_decref(out);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("posture");
	TCase *tc = tcase_create("checks");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, well_configured_tenant_passes_everything);
	tcase_add_test(tc, one_account_is_not_enough);
	tcase_add_test(tc, synced_or_custom_domain_is_not_cloud_only);
	tcase_add_test(tc, disabled_account_fails);
	tcase_add_test(tc, expiring_password_fails);
	tcase_add_test(tc, time_bound_or_eligible_global_admin_fails);
	tcase_add_test(tc, activation_of_eligibility_is_not_permanent);
	tcase_add_test(tc, not_excluded_from_enabled_policy_fails);
	tcase_add_test(tc, not_excluded_from_report_only_policy_fails);
	tcase_add_test(tc, excluded_through_role_passes);
	tcase_add_test(tc, unknown_group_members_is_an_error);
	tcase_add_test(tc, managed_policy_gives_its_switch_on_date);
	tcase_add_test(tc, managed_policy_within_notice_fails);
	tcase_add_test(tc, managed_policy_without_created_date);
	tcase_add_test(tc, managed_policy_not_including_the_account_is_quiet);
	tcase_add_test(tc, phone_method_fails);
	tcase_add_test(tc, no_phishing_resistant_method_fails);
	tcase_add_test(tc, shared_fido2_model_fails);
	tcase_add_test(tc, shared_certificate_type_fails);
	tcase_add_test(tc, stale_or_missing_sign_in_is_overdue);
	tcase_add_test(tc, failed_reads_are_errors);
	tcase_add_test(tc, groups_needed_once_each);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
