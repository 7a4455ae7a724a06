/*
 * test_lag.c: the loop-lag histogram's quantiles lie within one bucket
 * (12.5%) of the truth, never above the maximum, and an empty one says 0.
 */
#include <check.h>
#include <stdlib.h>

#include "lag.h"
#include "unit.h"

START_TEST(test_empty)
{
	struct lag *l = calloc(1, sizeof *l);

	ck_assert_uint_eq(lag_quantile(l, 0.5), 0);
	ck_assert_uint_eq(lag_quantile(l, 0.99), 0);
	free(l);
}
END_TEST

START_TEST(test_quantiles)
{
	struct lag *l = calloc(1, sizeof *l);
	uint64_t p50, p99, i;

	/* 1..1000 us, then one outlier of a second. */
	for (i = 1; i <= 1000; i++)
		lag_add(l, i);
	lag_add(l, 1000000);
	p50 = lag_quantile(l, 0.5);
	p99 = lag_quantile(l, 0.99);
	ck_assert_uint_ge(p50, 500);
	ck_assert_uint_le(p50, 500 + 500 / 8);
	ck_assert_uint_ge(p99, 990);
	ck_assert_uint_le(p99, 990 + 990 / 8);
	ck_assert_uint_eq(l->max_us, 1000000);
	ck_assert_uint_eq(lag_quantile(l, 1.0), 1000000);
	ck_assert_uint_eq(l->count, 1001);
	free(l);
}
END_TEST

START_TEST(test_small_and_huge)
{
	struct lag *l = calloc(1, sizeof *l);

	lag_add(l, 0);
	lag_add(l, 3);
	ck_assert_uint_eq(lag_quantile(l, 0.5), 0);
	ck_assert_uint_eq(lag_quantile(l, 1.0), 3);
	lag_add(l, UINT64_MAX);		/* the last bucket, not past it */
	ck_assert_uint_eq(l->max_us, UINT64_MAX);
	ck_assert_uint_eq(lag_quantile(l, 0.5), 3);
	free(l);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("lag");
	TCase *tc = tcase_create("histogram");

	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_quantiles);
	tcase_add_test(tc, test_small_and_huge);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
