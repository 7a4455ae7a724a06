/*
 * test_timerq.c: timers queued by duration fire in due order, once, and
 * a group's libevent timer is in the loop only while the group has
 * timers; a period does not drift; a cancelled timer never fires, even
 * when it was due in the same turn.
 */
#include <check.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "timerq.h"
#include "unit.h"

#define N	5

struct rec {
	struct timerq_entry	 e;	/* first: the callback casts back */
	int			 id;
	struct timerq_group	*g;
	struct timerq_entry	*victim;	/* cancelled by this one */
	struct timerq_group	*victim_g;
	int			 again;		/* times to queue itself again */
};

static int order[64], norder;

static void
fire(struct timerq_entry *e)
{
	struct rec *r = (struct rec *)(void *)e;

	order[norder++] = r->id;
	if (r->victim != NULL)
		timerq_del(r->victim_g, r->victim);
	if (r->again > 0) {
		r->again--;
		timerq_again(r->g, e);
	}
}

static struct event_base *b;
static struct timerq *q;

/* Each test: a precise base (the queue's clock is then CLOCK_MONOTONIC)
 * and its timers. */
static void
setup(void)
{
	struct event_config *cfg = event_config_new();

	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	b = event_base_new_with_config(cfg);
	event_config_free(cfg);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_nonnull(q = timerq_new(b, 1, fire));
	norder = 0;
}

static void
teardown(void)
{
	timerq_free(q);
	event_base_free(b);
}

/* Run the loop until want callbacks have run (or it has nothing left). */
static void
run_until(int want)
{
	while (norder < want &&
	    event_base_get_num_events(b, EVENT_BASE_COUNT_ADDED) > 0)
		event_base_loop(b, EVLOOP_ONCE);
}

static void
rec_add(struct rec *r, uint64_t ms, int id)
{
	r->id = id;
	ck_assert_ptr_nonnull(r->g = timerq_group(q, ms));
	timerq_entry_init(&r->e);
	timerq_add(r->g, &r->e);
}

START_TEST(same_duration_fires_in_start_order)
{
	struct rec r[N] = { 0 };
	int i;

	for (i = 0; i < N; i++)
		rec_add(&r[i], 2, i);
	run_until(N);
	ck_assert_int_eq(norder, N);
	for (i = 0; i < N; i++)
		ck_assert_int_eq(order[i], i);
	/* Empty: its timer is out of the loop. */
	ck_assert_int_eq(event_base_get_num_events(b, EVENT_BASE_COUNT_ADDED),
	    0);
}
END_TEST

START_TEST(durations_fire_by_due_time)
{
	struct rec slow = { 0 }, fast = { 0 };

	rec_add(&slow, 30, 1);
	rec_add(&fast, 1, 2);
	run_until(2);
	ck_assert_int_eq(norder, 2);
	ck_assert_int_eq(order[0], 2);
	ck_assert_int_eq(order[1], 1);
	ck_assert_ptr_eq(timerq_group(q, 30), slow.g);	/* kept */
}
END_TEST

/* A group runs what is due, not what it holds: one started 100 ms after
 * the head waits for its own time. */
START_TEST(a_group_runs_only_what_is_due)
{
	struct rec a = { 0 }, mid = { 0 }, c = { 0 };

	rec_add(&a, 150, 1);
	rec_add(&mid, 100, 2);
	run_until(1);
	ck_assert_int_eq(order[0], 2);
	rec_add(&c, 150, 3);		/* due 100 ms after a at least */
	run_until(2);
	ck_assert_int_eq(norder, 2);
	ck_assert_int_eq(order[1], 1);
	run_until(3);
	ck_assert_int_eq(order[2], 3);
}
END_TEST

START_TEST(cancelled_timers_never_fire)
{
	struct rec r[3] = { 0 }, lone = { 0 };

	rec_add(&r[0], 2, 0);
	rec_add(&r[1], 2, 1);
	rec_add(&r[2], 2, 2);
	/* The head goes: its timer fires for nothing, then for the next. */
	timerq_del(r[0].g, &r[0].e);
	timerq_del(r[0].g, &r[0].e);		/* twice: harmless */
	/* r[1] cancels r[2], due in the same turn. */
	r[1].victim = &r[2].e;
	r[1].victim_g = r[2].g;
	run_until(3);
	ck_assert_int_eq(norder, 1);
	ck_assert_int_eq(order[0], 1);
	/* The last one out takes the group's timer out of the loop. */
	rec_add(&lone, 50, 9);
	ck_assert_int_eq(event_base_get_num_events(b, EVENT_BASE_COUNT_ADDED),
	    1);
	timerq_del(lone.g, &lone.e);
	ck_assert_int_eq(event_base_get_num_events(b, EVENT_BASE_COUNT_ADDED),
	    0);
}
END_TEST

START_TEST(a_period_does_not_drift)
{
	struct rec r = { 0 };
	uint64_t first;

	/* Each time one period after the last due time, however late it
	 * ran, as long as that is still ahead. */
	rec_add(&r, 5000, 7);
	first = r.e.due;
	timerq_del(r.g, &r.e);
	timerq_again(r.g, &r.e);
	ck_assert_uint_eq(r.e.due, first + 5000000000u);
	timerq_del(r.g, &r.e);
	timerq_again(r.g, &r.e);
	ck_assert_uint_eq(r.e.due, first + 10000000000u);
	timerq_del(r.g, &r.e);
}
END_TEST

START_TEST(a_timer_queued_again_by_its_callback_fires_again)
{
	struct rec r = { 0 };

	rec_add(&r, 1, 3);
	r.again = 2;
	run_until(3);
	ck_assert_int_eq(norder, 3);
	ck_assert_int_eq(event_base_get_num_events(b, EVENT_BASE_COUNT_ADDED),
	    0);
}
END_TEST

START_TEST(a_period_that_fell_behind_restarts_from_now)
{
	struct rec r = { 0 };
	struct timespec ts;
	uint64_t now;

	rec_add(&r, 5, 1);
	timerq_del(r.g, &r.e);
	r.e.due = 1;		/* as if it had been due long ago */
	timerq_again(r.g, &r.e);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	ck_assert_uint_le(r.e.due, now + 5000000u);
	ck_assert_uint_gt(r.e.due, now + 5000000u - 1000000000u);
	timerq_del(r.g, &r.e);
}
END_TEST

START_TEST(groups_are_bounded)
{
	struct timerq_group *first;
	uint64_t ms;

	ck_assert_ptr_nonnull(first = timerq_group(q, 1));
	for (ms = 2; ms <= TIMERQ_GROUPS_MAX; ms++)
		ck_assert_ptr_nonnull(timerq_group(q, ms * 7));
	ck_assert_ptr_null(timerq_group(q, 1000000));
	/* The ones it has are still found, after every growth. */
	ck_assert_ptr_eq(timerq_group(q, 1), first);
	ck_assert_ptr_nonnull(timerq_group(q, TIMERQ_GROUPS_MAX * 7));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("timerq");
	TCase *tc = tcase_create("timerq");

	tcase_add_checked_fixture(tc, setup, teardown);

	tcase_add_test(tc, same_duration_fires_in_start_order);
	tcase_add_test(tc, durations_fire_by_due_time);
	tcase_add_test(tc, a_group_runs_only_what_is_due);
	tcase_add_test(tc, cancelled_timers_never_fire);
	tcase_add_test(tc, a_period_does_not_drift);
	tcase_add_test(tc, a_timer_queued_again_by_its_callback_fires_again);
	tcase_add_test(tc, a_period_that_fell_behind_restarts_from_now);
	tcase_add_test(tc, groups_are_bounded);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
