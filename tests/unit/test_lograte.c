/*
 * test_lograte.c: the per-task log rate limit, on a clock the test owns.
 */
#include <check.h>

#include "lograte.h"
#include "unit.h"

START_TEST(no_limit_passes_everything)
{
	struct lograte rl;
	uint64_t rep;
	int i;

	lograte_init(&rl, 0, 1000);
	for (i = 0; i < 10000; i++)
		ck_assert_int_eq(lograte_take(&rl, 5, &rep), 1);
	ck_assert_uint_eq(rep, 0);
	ck_assert_uint_eq(lograte_due_in(&rl, 5), 0);
	ck_assert_uint_eq(lograte_end(&rl, 5, 1), 0);
}
END_TEST

START_TEST(limit_per_window_and_count_of_the_rest)
{
	struct lograte rl;
	uint64_t rep;
	int i, passed = 0;

	lograte_init(&rl, 3, 100);
	for (i = 0; i < 10; i++)
		passed += lograte_take(&rl, 1000 + (uint64_t)i, &rep);
	ck_assert_int_eq(passed, 3);
	ck_assert_uint_eq(rl.dropped, 7);
	/* Nothing to say before the window (from 1000) ends at 1100. */
	ck_assert_uint_eq(lograte_due_in(&rl, 1009), 91);
	ck_assert_uint_eq(lograte_end(&rl, 1099, 0), 0);
	/* At its end, the count, once. */
	ck_assert_uint_eq(lograte_end(&rl, 1100, 0), 7);
	ck_assert_uint_eq(lograte_end(&rl, 1100, 0), 0);
	ck_assert_uint_eq(lograte_due_in(&rl, 1100), 0);
	/* The next record opens a new window: it passes, with no report. */
	ck_assert_int_eq(lograte_take(&rl, 1150, &rep), 1);
	ck_assert_uint_eq(rep, 0);
}
END_TEST

START_TEST(next_record_after_the_window_reports_first)
{
	struct lograte rl;
	uint64_t rep;
	int i;

	lograte_init(&rl, 2, 100);
	for (i = 0; i < 5; i++)
		lograte_take(&rl, 0, &rep);
	/* The timer has not fired yet: the record reports the 3. */
	ck_assert_int_eq(lograte_take(&rl, 250, &rep), 1);
	ck_assert_uint_eq(rep, 3);
	ck_assert_uint_eq(lograte_end(&rl, 400, 0), 0);
	/* A window that only passes records reports nothing. */
	ck_assert_int_eq(lograte_take(&rl, 251, &rep), 1);
	ck_assert_int_eq(lograte_take(&rl, 500, &rep), 1);
	ck_assert_uint_eq(rep, 0);
}
END_TEST

START_TEST(due_in_is_never_zero_while_a_count_waits)
{
	struct lograte rl;
	uint64_t rep;

	lograte_init(&rl, 1, 100);
	lograte_take(&rl, 0, &rep);
	lograte_take(&rl, 0, &rep);
	ck_assert_uint_eq(lograte_due_in(&rl, 0), 100);
	ck_assert_uint_eq(lograte_due_in(&rl, 99), 1);
	ck_assert_uint_eq(lograte_due_in(&rl, 500), 1);
}
END_TEST

START_TEST(forced_end_reports_an_open_window)
{
	struct lograte rl;
	uint64_t rep;
	int i;

	lograte_init(&rl, 1, 60000);
	for (i = 0; i < 4; i++)
		lograte_take(&rl, 10, &rep);
	ck_assert_uint_eq(lograte_end(&rl, 11, 0), 0);
	ck_assert_uint_eq(lograte_end(&rl, 11, 1), 3);
	ck_assert_uint_eq(lograte_end(&rl, 11, 1), 0);
}
END_TEST

/* Every record is either passed or in exactly one report. */
START_TEST(accounting_is_exact)
{
	struct lograte rl;
	uint64_t rep, now = 0, passed = 0, reported = 0, n;
	unsigned int seed = 7;
	int i;

	lograte_init(&rl, 10, 50);
	for (i = 0; i < 100000; i++) {
		now += (uint64_t)(rand_r(&seed) % 3);
		passed += (uint64_t)lograte_take(&rl, now, &rep);
		reported += rep;
		if (rand_r(&seed) % 7 == 0)
			reported += lograte_end(&rl, now, 0);
	}
	n = lograte_end(&rl, now, 1);
	ck_assert_uint_eq(passed + reported + n, 100000);
	ck_assert_uint_lt(passed, 100000);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("lograte");
	TCase *tc = tcase_create("window");

	tcase_add_test(tc, no_limit_passes_everything);
	tcase_add_test(tc, limit_per_window_and_count_of_the_rest);
	tcase_add_test(tc, next_record_after_the_window_reports_first);
	tcase_add_test(tc, due_in_is_never_zero_while_a_count_waits);
	tcase_add_test(tc, forced_end_reports_an_open_window);
	tcase_add_test(tc, accounting_is_exact);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
