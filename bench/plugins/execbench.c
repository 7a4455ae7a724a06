/*
 * execbench: the loopd side of the executor benchmark (run-exec.sh).
 *
 *   config:
 *     inflight: 64        # jobs kept outstanding: each done submits one
 *     seconds: 3          # how long to measure
 *     work_ns: 1000       # each work spins this long ("1 us of work")
 *     notify: PATH        # an AF_UNIX datagram socket: gets EXEC_DONE=1
 *
 * The pool is the loop's executor (its `workers:`).  At the end it logs
 * "impl=loopd threads=... inflight=... work_ns=... secs=... jobs=...
 * jobs_s=...", the line exec-raw and exec_asyncio.py print, and ends.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <loopd/plugin.h>

#include "notify.h"

struct bench {
	loopd_task	*task;
	const char	*notify;
	int64_t		 inflight, work_ns, threads;
	uint64_t	 t0, completed, deadline;
	int		 stopping;
	int64_t		 outstanding;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
bench_notify(const char *path)
{
	bench_notify_done(path, "EXEC_DONE=1");
}

static void
spin(void *arg)
{
	const struct bench *b = arg;
	uint64_t end = now_ns() + (uint64_t)b->work_ns;

	while (now_ns() < end)
		;
}

static void	done(loopd_task *, void *, int);

static int
submit(struct bench *b)
{
	int rc = loopd_run_in_executor(b->task, spin, done, b, 0);

	if (rc == 0)
		b->outstanding++;
	return rc;
}

static void
done(loopd_task *t, void *arg, int status)
{
	struct bench *b = arg;
	double el;

	b->outstanding--;
	if (status != LOOPD_JOB_FINISHED || b->stopping)
		goto out;
	b->completed++;
	if ((b->completed & 1023) != 0 || now_ns() < b->deadline) {
		submit(b);
		return;
	}
	b->stopping = 1;
	el = (double)(now_ns() - b->t0) / 1e9;
	loopd_log(t, LOOPD_LOG_INFO, "impl=loopd threads=%lld inflight=%lld "
	    "work_ns=%lld secs=%.2f jobs=%llu jobs_s=%.0f",
	    (long long)b->threads, (long long)b->inflight,
	    (long long)b->work_ns, el, (unsigned long long)b->completed,
	    b->completed / el);
out:
	if (b->stopping && b->outstanding == 0) {
		bench_notify(b->notify);
		loopd_task_done(t);
	}
}

static int
execbench_start(loopd_task *t, const loopd_args *args, void **state)
{
	struct bench *b;
	int64_t i, secs;

	if ((b = calloc(1, sizeof *b)) == NULL)
		return -1;
	*state = b;
	b->task = t;
	b->inflight = loopd_args_int(args, "inflight", 64);
	b->work_ns = loopd_args_int(args, "work_ns", 1000);
	b->threads = loopd_args_int(args, "threads", 0);	/* for the line */
	b->notify = loopd_args_string(args, "notify", NULL);
	secs = loopd_args_duration_ms(args, "seconds", 3000);
	b->t0 = now_ns();
	b->deadline = b->t0 + (uint64_t)secs * 1000000u;
	for (i = 0; i < b->inflight; i++)
		if (submit(b) != 0) {
			loopd_task_fail(t, "executor", "job %lld refused",
			    (long long)i);
			return -1;
		}
	return 0;
}

static void
execbench_stop(void *state)
{
	free(state);
}

LOOPD_PLUGIN(.name = "execbench", .version = "1.0",
    .start = execbench_start, .stop = execbench_stop);
