/* The error body of a Log Analytics or Graph answer (service-error.c). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "service-error.h"

static void
check_summary(const char *body, const char *want)
{
	char out[64];

	memset(out, 'x', sizeof out);
	service_error_summary(body, strlen(body), out, sizeof out);
	ck_assert_str_eq(out, want);
}

START_TEST(summary)
{
	check_summary("{\"error\":{\"code\":\"BadRequest\",\"message\":"
	    "\"Invalid filter clause\"}}", ": BadRequest: Invalid filter clause");
	check_summary("{\"error\":{\"code\":\"Throttled\"}}", ": Throttled");
	/* No code: nothing, whatever else the body holds. */
	check_summary("{\"error\":{\"message\":\"m\"}}", "");
	check_summary("<html>502 Bad Gateway</html>", "");
	check_summary("", "");
	check_summary("{\"error\":\"invalid_client\"}", "");
	/* A long message is cut to the buffer, still terminated. */
	check_summary("{\"error\":{\"code\":\"C\",\"message\":\"0123456789"
	    "0123456789012345678901234567890123456789012345678901234567890"
	    "123456789\"}}", ": C: 0123456789012345678901234567890123456789"
	    "012345678901234567");
}
END_TEST

START_TEST(token_refused)
{
	static const char refused[] = "{\"error\":{\"message\":\"The provided "
	    "authentication is not valid for this resource\",\"code\":"
	    "\"InvalidAuthenticationToken\"}}";
	static const char other[] = "{\"error\":{\"code\":"
	    "\"InsufficientAccessError\"}}";

	ck_assert_int_eq(service_error_token_refused(refused,
	    sizeof refused - 1), 1);
	ck_assert_int_eq(service_error_token_refused(other, sizeof other - 1),
	    0);
	ck_assert_int_eq(service_error_token_refused("", 0), 0);
	/* Only the body's length counts: a cut body is not read past. */
	ck_assert_int_eq(service_error_token_refused(refused, 20), 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("service-error");
	TCase *tc = tcase_create("read");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, summary);
	tcase_add_test(tc, token_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
