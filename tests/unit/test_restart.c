/*
 * test_restart.c: the restart policy, backoff and intensity, on a clock
 * the test owns.
 */
#include <check.h>

#include "restart.h"
#include "unit.h"

static struct restart_conf
rc_of(enum conf_restart_policy p)
{
	struct restart_conf rc = {
		.policy = p, .backoff_min_ms = 100, .backoff_max_ms = 30000,
		.intensity = 5, .window_ms = 60000,
	};
	return rc;
}

START_TEST(policy_decides)
{
	struct restart_state rs = { 0 };
	struct restart_conf never = rc_of(CONF_RESTART_NEVER);
	struct restart_conf onf = rc_of(CONF_RESTART_ON_FAILURE);
	struct restart_conf always = rc_of(CONF_RESTART_ALWAYS);
	uint64_t d;

	ck_assert_int_eq(restart_decide(&rs, &never, 1, 1, 1000, 0, &d),
	    RESTART_NO);
	ck_assert_int_eq(restart_decide(&rs, &onf, 0, 1, 1000, 0, &d),
	    RESTART_NO);
	ck_assert_int_eq(restart_decide(&rs, &onf, 1, 1, 1000, 0, &d),
	    RESTART_YES);
	ck_assert_int_eq(restart_decide(&rs, &always, 0, 1, 2000, 0, &d),
	    RESTART_YES);
	restart_clear(&rs);
}
END_TEST

START_TEST(backoff_grows_within_bounds_and_jitters)
{
	struct restart_state rs = { 0 };
	struct restart_conf rc = rc_of(CONF_RESTART_ALWAYS);
	uint64_t d, prev_hi = 100, t = 0;
	int i;

	rc.intensity = 100;
	for (i = 0; i < 12; i++) {
		t += 1000;
		ck_assert_int_eq(restart_decide(&rs, &rc, 1, 1, t, 0xffffffffu,
		    &d), RESTART_YES);
		ck_assert_uint_ge(d, 100);
		ck_assert_uint_le(d, 30000);
		ck_assert_uint_ge(d, prev_hi / 2);
		prev_hi = d;
	}
	ck_assert_uint_ge(d, 15000);	/* capped: [max/2, max] */
	/* The same attempt with other jitter lands in [d/2, d]. */
	rs.attempt = 3;			/* 100 * 2^3 = 800 */
	ck_assert_int_eq(restart_decide(&rs, &rc, 1, 1, t + 1, 0, &d),
	    RESTART_YES);
	ck_assert_uint_eq(d, 400);
	restart_clear(&rs);
}
END_TEST

START_TEST(backoff_resets_after_staying_up)
{
	struct restart_state rs = { 0 };
	struct restart_conf rc = rc_of(CONF_RESTART_ALWAYS);
	uint64_t d;

	rc.intensity = 100;
	restart_decide(&rs, &rc, 1, 1, 1000, 0, &d);
	restart_decide(&rs, &rc, 1, 1, 2000, 0, &d);
	restart_decide(&rs, &rc, 1, 1, 3000, 0, &d);
	ck_assert_uint_eq(rs.attempt, 3);
	restart_running(&rs, 4000);
	/* up 29 s: not yet a fresh start */
	restart_decide(&rs, &rc, 1, 1, 33000, 0, &d);
	ck_assert_uint_eq(rs.attempt, 4);
	restart_running(&rs, 34000);
	restart_decide(&rs, &rc, 1, 1, 64000, 0, &d);	/* up 30 s */
	ck_assert_uint_eq(d, 100);
	ck_assert_uint_eq(rs.attempt, 1);
	restart_clear(&rs);
}
END_TEST

START_TEST(intensity_gives_up_on_the_sixth_in_the_window)
{
	struct restart_state rs = { 0 };
	struct restart_conf rc = rc_of(CONF_RESTART_ON_FAILURE);
	uint64_t d;
	json_t *h;
	int i;

	for (i = 0; i < 5; i++)
		ck_assert_int_eq(restart_decide(&rs, &rc, 1, 1,
		    1000 + (uint64_t)i * 1000, 0, &d), RESTART_YES);
	ck_assert_int_eq(restart_decide(&rs, &rc, 1, 1, 6000, 0, &d),
	    RESTART_EXHAUSTED);
	h = restart_history(&rs, 6000);
	ck_assert_int_eq(json_array_size(h), 5);
	ck_assert_int_eq(json_integer_value(json_array_get(h, 0)), 5000);
	ck_assert_int_eq(json_integer_value(json_array_get(h, 4)), 1000);
	json_decref(h);
	restart_clear(&rs);
}
END_TEST

START_TEST(intensity_forgets_what_left_the_window)
{
	struct restart_state rs = { 0 };
	struct restart_conf rc = rc_of(CONF_RESTART_ON_FAILURE);
	uint64_t d, t = 0;
	int i;

	/* One restart every 13 s: never 5 within 60 s before a 6th. */
	for (i = 0; i < 50; i++) {
		t += 13000;
		ck_assert_int_eq(restart_decide(&rs, &rc, 1, 1, t, 0, &d),
		    RESTART_YES);
	}
	restart_clear(&rs);
}
END_TEST

START_TEST(uncharged_restarts_cost_nothing)
{
	struct restart_state rs = { 0 };
	struct restart_conf rc = rc_of(CONF_RESTART_ON_FAILURE);
	uint64_t d;
	int i;

	for (i = 0; i < 100; i++)
		ck_assert_int_eq(restart_decide(&rs, &rc, 1, 0, 1000 +
		    (uint64_t)i, 0, &d), RESTART_YES);
	ck_assert_uint_eq(d, 100);
	ck_assert_uint_eq(rs.total, 0);
	ck_assert_uint_eq(rs.attempt, 0);
	restart_clear(&rs);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("restart");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, policy_decides);
	tcase_add_test(tc, backoff_grows_within_bounds_and_jitters);
	tcase_add_test(tc, backoff_resets_after_staying_up);
	tcase_add_test(tc, intensity_gives_up_on_the_sixth_in_the_window);
	tcase_add_test(tc, intensity_forgets_what_left_the_window);
	tcase_add_test(tc, uncharged_restarts_cost_nothing);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
