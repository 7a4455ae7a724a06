/*
 * test_executor.c: the executor and loopd_post() on a real event_base and
 * real threads, without a worker: job order, rejection when the queue is
 * full, timeouts (queued and running), cancellation at the task's end,
 * the shutdown drain, and posts from many threads while the task ends.
 * Every done is counted; run under ASan, nothing is used after it is
 * freed.  No test depends on timing: blocked works wait on a gate.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "executor.h"
#include "post.h"
#include "task.h"
#include "unit.h"

/* ---- a gate a work waits on ------------------------------------------------ */

static pthread_mutex_t gmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gcv = PTHREAD_COND_INITIALIZER;
static int gate_open, started, returned;

static void
gate_wait(void)
{
	pthread_mutex_lock(&gmu);
	started++;
	pthread_cond_broadcast(&gcv);
	while (!gate_open)
		pthread_cond_wait(&gcv, &gmu);
	pthread_mutex_unlock(&gmu);
}

static void
gate_set(int open)
{
	pthread_mutex_lock(&gmu);
	gate_open = open;
	pthread_cond_broadcast(&gcv);
	pthread_mutex_unlock(&gmu);
}

static void
wait_started(int n)
{
	pthread_mutex_lock(&gmu);
	while (started < n)
		pthread_cond_wait(&gcv, &gmu);
	pthread_mutex_unlock(&gmu);
}

/* ---- a host for one task ------------------------------------------------ */

#define MAXJOBS	64

struct fixture {
	struct event_base	*base;
	volatile int		 running;
	struct executor_conf	 ec;
	struct task_host	 host;
	struct task_conf	 conf;
	struct loopd_task	*task;
	int			 ndone;
	int			 done_order[MAXJOBS];
	int			 done_status[MAXJOBS];
	int			 done_before_end[MAXJOBS];
	pthread_mutex_t		 wmu;
	int			 nwork;
	int			 work_order[MAXJOBS];
};

static struct fixture F;

struct jarg {
	int	 i;
	int	 block;
	int	 orphaned;	/* what loopd_job_orphaned() said */
};

static struct jarg args[MAXJOBS];

static void
on_state(void *ctx, struct loopd_task *t)
{
}

static void
fixture_init(unsigned workers, unsigned queue)
{
	memset(&F, 0, sizeof F);
	memset(args, 0, sizeof args);
	gate_open = started = returned = 0;
	pthread_mutex_init(&F.wmu, NULL);
	F.base = event_base_new();
	F.running = -1;
	F.ec = (struct executor_conf){ .workers = workers, .queue = queue };
	F.host = (struct task_host){ .base = F.base, .loop = "l",
	    .running = &F.running, .on_state = on_state, .ctx = &F };
	F.host.post = post_queue_new(F.base);
	F.host.exec = executor_new(&F.ec, F.host.post, "l");
	ck_assert_ptr_nonnull(F.host.post);
	ck_assert_ptr_nonnull(F.host.exec);
	F.conf = (struct task_conf){ .name = "t", .plugin = "p",
	    .plugin_path = "/nonexistent/p.so" };
	F.task = task_new(&F.host, &F.conf, 0);
	ck_assert_ptr_nonnull(F.task);
	F.task->state = TASK_RUNNING;
}

static void
fixture_free(void)
{
	gate_set(1);
	executor_join(F.host.exec);
	task_free(F.task);
	executor_free(F.host.exec);
	post_queue_free(F.host.post);
	event_base_free(F.base);
}

static void
work(void *arg)
{
	struct jarg *a = arg;

	pthread_mutex_lock(&F.wmu);
	F.work_order[F.nwork++] = a->i;
	pthread_mutex_unlock(&F.wmu);
	if (a->block)
		gate_wait();
	a->orphaned = loopd_job_orphaned() ? 1 : -1;
	pthread_mutex_lock(&gmu);
	returned++;
	pthread_cond_broadcast(&gcv);
	pthread_mutex_unlock(&gmu);
}

static void
done(loopd_task *t, void *arg, int status)
{
	struct jarg *a = arg;

	ck_assert_ptr_eq(t, F.task);
	ck_assert_int_lt(F.ndone, MAXJOBS);
	F.done_before_end[F.ndone] = t->state < TASK_DONE;
	F.done_order[F.ndone] = a->i;
	F.done_status[F.ndone++] = status;
}

static int
submit(int i, int block, uint64_t timeout_ms)
{
	args[i] = (struct jarg){ .i = i, .block = block };
	return loopd_run_in_executor(F.task, work, done, &args[i], timeout_ms);
}

static void
run_until_done(int n)
{
	while (F.ndone < n)
		event_base_loop(F.base, EVLOOP_ONCE);
}

static int
status_of(int i)
{
	int k;

	for (k = 0; k < F.ndone; k++)
		if (F.done_order[k] == i)
			return F.done_status[k];
	return -1;
}

/* ---- the tests -------------------------------------------------------------- */

START_TEST(jobs_start_and_finish_in_order)
{
	int i;

	fixture_init(1, 64);
	for (i = 0; i < 50; i++)
		ck_assert_int_eq(submit(i, 0, 0), 0);
	ck_assert_int_eq(F.ndone, 0);	/* never inside the call */
	run_until_done(50);
	for (i = 0; i < 50; i++) {
		ck_assert_int_eq(F.work_order[i], i);
		ck_assert_int_eq(F.done_order[i], i);
		ck_assert_int_eq(F.done_status[i], LOOPD_JOB_FINISHED);
		ck_assert_int_eq(args[i].orphaned, -1);
	}
	fixture_free();
}
END_TEST

START_TEST(full_queue_rejects_at_once_and_done_says_so)
{
	struct executor_stats st;

	fixture_init(1, 2);
	ck_assert_int_eq(submit(0, 1, 0), 0);
	wait_started(1);		/* job 0 runs; the queue is empty */
	ck_assert_int_eq(submit(1, 0, 0), 0);
	ck_assert_int_eq(submit(2, 0, 0), 0);
	ck_assert_int_eq(submit(3, 0, 0), -LOOPD_EFULL);
	ck_assert_int_eq(submit(4, 0, 0), -LOOPD_EFULL);
	ck_assert_int_eq(F.ndone, 0);
	executor_get_stats(F.host.exec, &st);
	ck_assert_uint_eq(st.depth, 2);
	ck_assert_uint_eq(st.active, 1);
	run_until_done(2);
	ck_assert_int_eq(status_of(3), LOOPD_JOB_REJECTED);
	ck_assert_int_eq(status_of(4), LOOPD_JOB_REJECTED);
	gate_set(1);
	run_until_done(5);
	ck_assert_int_eq(status_of(0), LOOPD_JOB_FINISHED);
	ck_assert_int_eq(status_of(1), LOOPD_JOB_FINISHED);
	ck_assert_int_eq(status_of(2), LOOPD_JOB_FINISHED);
	ck_assert_int_eq(F.nwork, 3);	/* rejected works never ran */
	executor_get_stats(F.host.exec, &st);
	ck_assert_uint_eq(st.submitted, 5);
	ck_assert_uint_eq(st.completed, 3);
	ck_assert_uint_eq(st.rejected, 2);
	ck_assert_uint_eq(st.depth, 0);
	ck_assert_uint_eq(st.threads, 1);
	fixture_free();
}
END_TEST

START_TEST(timeout_of_running_and_queued_jobs)
{
	struct executor_stats st;

	fixture_init(1, 8);
	ck_assert_int_eq(submit(0, 1, 1), 0);	/* runs, blocks, times out */
	wait_started(1);
	ck_assert_int_eq(submit(1, 0, 1), 0);	/* times out in the queue */
	run_until_done(2);
	ck_assert_int_eq(status_of(0), LOOPD_JOB_TIMEDOUT | LOOPD_JOB_RUNNING);
	ck_assert_int_eq(status_of(1), LOOPD_JOB_TIMEDOUT);
	/* The late result is discarded: no second done. */
	gate_set(1);
	pthread_mutex_lock(&gmu);
	while (returned < 1)
		pthread_cond_wait(&gcv, &gmu);
	pthread_mutex_unlock(&gmu);
	event_base_loop(F.base, EVLOOP_ONCE);
	ck_assert_int_eq(F.ndone, 2);
	ck_assert_int_eq(args[0].orphaned, 1);
	ck_assert_int_eq(F.nwork, 1);		/* job 1 never ran */
	executor_get_stats(F.host.exec, &st);
	ck_assert_uint_eq(st.timed_out, 2);
	ck_assert_uint_eq(st.completed, 0);
	fixture_free();
}
END_TEST

START_TEST(task_end_cancels_its_jobs_before_stop)
{
	fixture_init(1, 8);
	ck_assert_int_eq(submit(0, 1, 0), 0);
	wait_started(1);
	ck_assert_int_eq(submit(1, 0, 0), 0);
	loopd_task_done(F.task);
	ck_assert_int_eq(submit(2, 0, 0), -LOOPD_ESTATE);
	while (F.task->state < TASK_DONE)
		event_base_loop(F.base, EVLOOP_ONCE);
	ck_assert_int_eq(F.ndone, 2);
	ck_assert_int_eq(status_of(0), LOOPD_JOB_CANCELLED | LOOPD_JOB_RUNNING);
	ck_assert_int_eq(status_of(1), LOOPD_JOB_CANCELLED);
	ck_assert(F.done_before_end[0] && F.done_before_end[1]);
	gate_set(1);
	executor_join(F.host.exec);
	executor_run_completions(F.host.exec);
	ck_assert_int_eq(F.ndone, 2);
	ck_assert_int_eq(args[0].orphaned, 1);
	ck_assert_int_eq(F.nwork, 1);
	fixture_free();
}
END_TEST

static void *
open_gate_later(void *unused)
{
	wait_started(1);
	gate_set(1);
	return NULL;
}

START_TEST(stop_refuses_new_jobs_and_join_drains_running_ones)
{
	pthread_t th;

	fixture_init(2, 8);
	ck_assert_int_eq(submit(0, 1, 0), 0);
	wait_started(1);
	executor_stop(F.host.exec);
	ck_assert_int_eq(submit(1, 0, 0), -LOOPD_ESTATE);
	pthread_create(&th, NULL, open_gate_later, NULL);
	executor_join(F.host.exec);	/* returns once job 0's work has */
	ck_assert_int_eq(returned, 1);
	pthread_join(th, NULL);
	executor_run_completions(F.host.exec);
	ck_assert_int_eq(F.ndone, 1);
	ck_assert_int_eq(status_of(0), LOOPD_JOB_FINISHED);
	fixture_free();
}
END_TEST

/* ---- posts from many threads ------------------------------------------------ */

#define POSTERS	4

static atomic_int accepted, ran, posters_left;

static void
posted(loopd_task *t, void *arg)
{
	ck_assert(!t->ending);		/* never after the task's end */
	ck_assert_int_eq(*(int *)arg, 7);
	if (atomic_fetch_add(&ran, 1) + 1 == 2000)
		loopd_task_done(t);
}

static void *
poster(void *unused)
{
	static int seven = 7;
	int rc;

	while ((rc = loopd_post(F.task, posted, &seven)) == 0)
		atomic_fetch_add(&accepted, 1);
	ck_assert_int_eq(rc, -LOOPD_ESTATE);
	atomic_fetch_sub(&posters_left, 1);
	return NULL;
}

START_TEST(posts_from_many_threads_while_the_task_ends)
{
	pthread_t th[POSTERS];
	int i;

	fixture_init(1, 8);
	atomic_store(&accepted, 0);
	atomic_store(&ran, 0);
	atomic_store(&posters_left, POSTERS);
	for (i = 0; i < POSTERS; i++)
		pthread_create(&th[i], NULL, poster, NULL);
	while (atomic_load(&posters_left) > 0 || F.task->state < TASK_DONE)
		event_base_loop(F.base, EVLOOP_NONBLOCK);
	for (i = 0; i < POSTERS; i++)
		pthread_join(th[i], NULL);
	post_queue_run(F.host.post);
	ck_assert_int_ge(atomic_load(&ran), 2000);
	/* Every accepted call ran or was dropped, none twice. */
	ck_assert_uint_eq((uint64_t)atomic_load(&accepted),
	    (uint64_t)atomic_load(&ran) + post_queue_dropped(F.host.post));
	ck_assert_int_eq(loopd_post(F.task, posted, NULL), -LOOPD_ESTATE);
	ck_assert_int_eq(loopd_post(NULL, posted, NULL), -LOOPD_EINVAL);
	fixture_free();
}
END_TEST

START_TEST(auto_sizes_follow_the_cpu_count)
{
	struct executor_conf io = { .kind = CONF_EXEC_IO };
	struct executor_conf cpu = { .kind = CONF_EXEC_CPU };
	struct executor_conf fixed = { .workers = 3, .kind = CONF_EXEC_CPU };

	ck_assert_uint_eq(executor_size(&io, 2), 4);
	ck_assert_uint_eq(executor_size(&io, 64), 32);
	ck_assert_uint_eq(executor_size(&cpu, 2), 3);
	ck_assert_uint_eq(executor_size(&cpu, 64), 65);
	ck_assert_uint_eq(executor_size(&fixed, 64), 3);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("executor");
	TCase *ex = tcase_create("executor"), *post = tcase_create("post");

	tcase_add_test(ex, jobs_start_and_finish_in_order);
	tcase_add_test(ex, full_queue_rejects_at_once_and_done_says_so);
	tcase_add_test(ex, timeout_of_running_and_queued_jobs);
	tcase_add_test(ex, task_end_cancels_its_jobs_before_stop);
	tcase_add_test(ex, stop_refuses_new_jobs_and_join_drains_running_ones);
	tcase_add_test(ex, auto_sizes_follow_the_cpu_count);
	tcase_add_test(post, posts_from_many_threads_while_the_task_ends);
	suite_add_tcase(s, ex);
	suite_add_tcase(s, post);
	return unit_run(s);
}
