/* Durations, sizes, ISO 8601 times and GUIDs. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "guid.h"
#include "timeutil.h"

START_TEST(durations)
{
	int64_t s;
	const char *why;
	char out[32];

	ck_assert_int_eq(duration_parse("90s", &s, &why), 0);
	ck_assert_int_eq(s, 90);
	ck_assert_int_eq(duration_parse("5m", &s, &why), 0);
	ck_assert_int_eq(s, 300);
	ck_assert_int_eq(duration_parse("2h", &s, &why), 0);
	ck_assert_int_eq(s, 7200);
	ck_assert_int_eq(duration_parse("365d", &s, &why), 0);
	ck_assert_int_eq(s, 365 * 86400);
	ck_assert_int_eq(duration_parse("0s", &s, &why), 0);
	ck_assert_int_eq(s, 0);
	ck_assert_int_eq(duration_parse("5", &s, &why), -1);
	ck_assert_str_eq(why, "a duration needs a unit: s, m, h or d");
	ck_assert_int_eq(duration_parse("5x", &s, &why), -1);
	ck_assert_int_eq(duration_parse("-5m", &s, &why), -1);
	ck_assert_int_eq(duration_parse("5 m", &s, &why), -1);
	ck_assert_int_eq(duration_parse("m", &s, &why), -1);
	ck_assert_int_eq(duration_parse("", &s, &why), -1);
	ck_assert_int_eq(duration_parse("1.5h", &s, &why), -1);
	ck_assert_int_eq(duration_parse("99999999999999999999d", &s, &why),
	    -1);
	ck_assert_int_eq(duration_parse("3651d", &s, &why), -1);
	duration_format(120, out, sizeof out);
	ck_assert_str_eq(out, "2m");
	duration_format(90, out, sizeof out);
	ck_assert_str_eq(out, "90s");
	duration_format(172800, out, sizeof out);
	ck_assert_str_eq(out, "2d");
	duration_format(0, out, sizeof out);
	ck_assert_str_eq(out, "0s");
}
END_TEST

START_TEST(sizes)
{
	uint64_t b;
	const char *why;

	ck_assert_int_eq(size_parse("64MiB", &b, &why), 0);
	ck_assert_uint_eq(b, 64u * 1024 * 1024);
	ck_assert_int_eq(size_parse("1KiB", &b, &why), 0);
	ck_assert_uint_eq(b, 1024);
	ck_assert_int_eq(size_parse("512", &b, &why), 0);
	ck_assert_uint_eq(b, 512);
	ck_assert_int_eq(size_parse("2GiB", &b, &why), 0);
	ck_assert_uint_eq(b, 2ull << 30);
	ck_assert_int_eq(size_parse("64MB", &b, &why), -1);
	ck_assert_int_eq(size_parse("MiB", &b, &why), -1);
}
END_TEST

START_TEST(iso8601)
{
	int64_t us;
	char out[TIME_ISO_LEN];

	ck_assert_int_eq(time_parse_iso8601("1970-01-01T00:00:00Z", &us), 0);
	ck_assert_int_eq(us, 0);
	ck_assert_int_eq(time_parse_iso8601("2017-08-24T06:59:59Z", &us), 0);
	ck_assert_int_eq(us, INT64_C(1503557999) * USEC_PER_SEC);
	/* Log Analytics sends 7 fractional digits: kept to microseconds. */
	ck_assert_int_eq(time_parse_iso8601("2024-05-01T10:00:00.1234567Z",
	    &us), 0);
	ck_assert_int_eq(us % USEC_PER_SEC, 123456);
	ck_assert_int_eq(time_parse_iso8601("2024-05-01T12:00:00+02:00", &us),
	    0);
	time_format_iso8601(us, out);
	ck_assert_str_eq(out, "2024-05-01T10:00:00.000000Z");
	time_format_iso8601_sec(us + 999999, out);
	ck_assert_str_eq(out, "2024-05-01T10:00:00Z");
	ck_assert_int_eq(time_parse_iso8601("2024-02-29T00:00:00Z", &us), 0);
	ck_assert_int_eq(time_parse_iso8601("2024-02-30T00:00:00Z", &us), -1);
	ck_assert_int_eq(time_parse_iso8601("2024-13-01T00:00:00Z", &us), -1);
	ck_assert_int_eq(time_parse_iso8601("2024-05-01T10:00:00", &us), -1);
	ck_assert_int_eq(time_parse_iso8601("2024-05-01", &us), -1);
	ck_assert_int_eq(time_parse_iso8601("2024-05-01T10:00:00.Z", &us), -1);
	ck_assert_int_eq(time_parse_iso8601("2024-05-01T10:00:00Zjunk", &us),
	    -1);
	ck_assert_int_eq(time_parse_iso8601("4/28/2021, 2:08:45.221 PM", &us),
	    -1);
	ck_assert_int_eq(time_parse_iso8601(NULL, &us), -1);
	/* Round trip. */
	ck_assert_int_eq(time_parse_iso8601("2026-11-22T03:49:15.000123Z",
	    &us), 0);
	time_format_iso8601(us, out);
	ck_assert_str_eq(out, "2026-11-22T03:49:15.000123Z");
}
END_TEST

START_TEST(guids)
{
	char g[GUID_LEN];

	ck_assert(guid_valid("33333333-3333-3333-3333-333333333333"));
	ck_assert(guid_valid("ABCDEF01-abcd-4abc-8abc-0123456789ab"));
	ck_assert(!guid_valid("33333333-3333-3333-3333-33333333333"));
	ck_assert(!guid_valid("33333333333333333333333333333333"));
	ck_assert(!guid_valid("3333333g-3333-3333-3333-333333333333"));
	ck_assert(!guid_valid("x\") or 1==1"));
	ck_assert(!guid_valid(NULL));
	guid_random(g);
	ck_assert(guid_valid(g));
	ck_assert_int_eq(g[14], '4');
	ck_assert(guid_equal("ABCDEF01-abcd-4abc-8abc-0123456789ab",
	    "abcdef01-ABCD-4ABC-8ABC-0123456789AB"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("duration");
	TCase *tc = tcase_create("parse");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, durations);
	tcase_add_test(tc, sizes);
	tcase_add_test(tc, iso8601);
	tcase_add_test(tc, guids);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
