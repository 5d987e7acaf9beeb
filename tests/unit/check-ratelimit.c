/* The sliding-window limiter the Graph budget is made of. */
#include <check.h>
#include <stdlib.h>

#include "ratelimit.h"
#include "timeutil.h"

#define S(x)	((int64_t)(x) * USEC_PER_SEC)

/* Five in any ten seconds: the sixth waits until the first leaves. */
START_TEST(five_per_ten_seconds)
{
	struct rate_window w;

	rate_window_init(&w, 5, S(10));
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(rate_window_wait(&w, S(100) + S(i)), 0);
		rate_window_add(&w, S(100) + S(i));
	}
	ck_assert_int_eq(rate_window_wait(&w, S(104)), S(6));
	ck_assert_int_eq(rate_window_wait(&w, S(109) + 1), S(1) - 1);
	/* At exactly span after the first send it has left. */
	ck_assert_int_eq(rate_window_wait(&w, S(110)), 0);
	rate_window_add(&w, S(110));
	/* Now the second send (101) is the oldest inside. */
	ck_assert_int_eq(rate_window_wait(&w, S(110)), S(1));
	rate_window_free(&w);
}
END_TEST

/* A burst after a quiet spell is allowed again, in full. */
START_TEST(quiet_spell_refills)
{
	struct rate_window w;

	rate_window_init(&w, 3, S(10));
	for (int i = 0; i < 3; i++)
		rate_window_add(&w, S(1));
	ck_assert_int_eq(rate_window_wait(&w, S(5)), S(6));
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(rate_window_wait(&w, S(60)), 0);
		rate_window_add(&w, S(60));
	}
	ck_assert_int_eq(rate_window_wait(&w, S(60)), S(10));
	rate_window_free(&w);
}
END_TEST

/* Whatever the pattern, no window of span ever holds more than limit
 * sends when every send first asks. */
START_TEST(never_more_than_limit_in_any_window)
{
	struct rate_window w;
	int64_t sent[400], now = 0;
	size_t n = 0;

	srandom(7);
	rate_window_init(&w, 5, S(10));
	while (n < sizeof sent / sizeof sent[0]) {
		int64_t wait = rate_window_wait(&w, now);

		ck_assert_int_ge(wait, 0);
		if (wait > 0) {
			now += wait;
			continue;
		}
		rate_window_add(&w, now);
		sent[n++] = now;
		now += random() % S(3);
	}
	for (size_t i = 5; i < n; i++)
		ck_assert_int_ge(sent[i] - sent[i - 5], S(10));
	rate_window_free(&w);
}
END_TEST

/* One request per window, and a limit of 0 read as 1. */
/* A 429's pause holds even an empty window, is never shortened by an
 * earlier one, and ends on time. */
START_TEST(pause_holds_until_its_end)
{
	struct rate_window w;

	rate_window_init(&w, 5, S(10));
	ck_assert_int_eq(rate_window_wait(&w, S(100)), 0);
	rate_window_pause(&w, S(130));
	ck_assert_int_eq(rate_window_wait(&w, S(100)), S(30));
	rate_window_pause(&w, S(110));
	ck_assert_int_eq(rate_window_wait(&w, S(120)), S(10));
	ck_assert_int_eq(rate_window_wait(&w, S(130)), 0);
	/* A full window that empties after the pause ends still waits. */
	for (int i = 0; i < 5; i++)
		rate_window_add(&w, S(131));
	rate_window_pause(&w, S(135));
	ck_assert_int_eq(rate_window_wait(&w, S(132)), S(9));
	rate_window_free(&w);
}
END_TEST

START_TEST(limit_one)
{
	struct rate_window w;

	rate_window_init(&w, 0, S(2));
	ck_assert_uint_eq(w.limit, 1);
	ck_assert_int_eq(rate_window_wait(&w, 0), 0);
	rate_window_add(&w, 0);
	ck_assert_int_eq(rate_window_wait(&w, S(1)), S(1));
	ck_assert_int_eq(rate_window_wait(&w, S(2)), 0);
	rate_window_free(&w);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("window");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, five_per_ten_seconds);
	tcase_add_test(tc, quiet_spell_refills);
	tcase_add_test(tc, never_more_than_limit_in_any_window);
	tcase_add_test(tc, limit_one);
	tcase_add_test(tc, pause_holds_until_its_end);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
