/*
 * loopbench: the loopd side of the loop benchmark (run-loop.sh).
 *
 *   config:
 *     mode: soon | oneshot | periodic
 *     n: 1                # chains (soon) or timers
 *     period_us: 10000    # timers: every this long
 *     seconds: 3
 *     notify: PATH        # an AF_UNIX datagram socket: gets LOOP_DONE=1
 *
 * soon: n chains, each loopd_call_soon() of the next.  oneshot: n timers,
 * each callback starting a new one-shot timer (loopd_timer_start(p, 0)).
 * periodic: n loopd_timer_start(p, p).  At the end it logs the line
 * loop-raw prints ("impl=loopd-MODE ... cb_s=... cpu_ns=...") and ends.
 */
#include <sys/resource.h>
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
	const char	*notify, *mode;
	int64_t		 n, period_ms_x1000;
	uint64_t	 t0, count, deadline, period_ms;
	double		 c0;
	int		 stopping;
	loopd_timer	**timers;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void
bench_notify(const char *path)
{
	bench_notify_done(path, "LOOP_DONE=1");
}

static void
bench_end(struct bench *b)
{
	double el = (double)(now_ns() - b->t0) / 1e9;
	int64_t i;

	b->stopping = 1;
	loopd_log(b->task, LOOPD_LOG_INFO, "impl=loopd-%s n=%lld "
	    "period_ms=%g secs=%.2f callbacks=%llu cb_s=%.0f cpu_ns=%.1f",
	    b->mode, (long long)b->n, (double)b->period_ms, el,
	    (unsigned long long)b->count, b->count / el,
	    (cpu_s() - b->c0) * 1e9 / (double)(b->count ? b->count : 1));
	if (b->timers != NULL)
		for (i = 0; i < b->n; i++)
			loopd_timer_cancel(b->timers[i]);
	bench_notify(b->notify);
	loopd_task_done(b->task);
}

static inline int
bench_tick(struct bench *b)
{
	if (b->stopping)
		return 0;
	if ((++b->count & 1023) == 0 && now_ns() >= b->deadline) {
		bench_end(b);
		return 0;
	}
	return 1;
}

static void
soon_cb(loopd_task *t, void *arg)
{
	if (bench_tick(arg))
		loopd_call_soon(t, soon_cb, arg);
}

static void
oneshot_cb(loopd_task *t, void *arg)
{
	struct bench *b = arg;

	if (bench_tick(b))
		loopd_timer_start(t, b->period_ms, 0, oneshot_cb, b);
}

static void
periodic_cb(loopd_task *t, void *arg)
{
	bench_tick(arg);
}

static int
loopbench_start(loopd_task *t, const loopd_args *args, void **state)
{
	struct bench *b;
	int64_t i, secs;

	if ((b = calloc(1, sizeof *b)) == NULL)
		return -1;
	*state = b;
	b->task = t;
	b->mode = loopd_args_string(args, "mode", "soon");
	b->n = loopd_args_int(args, "n", 1);
	b->period_ms = (uint64_t)loopd_args_int(args, "period_ms", 10);
	b->notify = loopd_args_string(args, "notify", NULL);
	secs = loopd_args_duration_ms(args, "seconds", 3000);
	if (strcmp(b->mode, "periodic") == 0 &&
	    (b->timers = calloc((size_t)b->n, sizeof *b->timers)) == NULL)
		return -1;
	for (i = 0; i < b->n; i++) {
		if (strcmp(b->mode, "soon") == 0) {
			if (loopd_call_soon(t, soon_cb, b) != 0)
				return -1;
		} else if (strcmp(b->mode, "oneshot") == 0) {
			if (loopd_timer_start(t, b->period_ms * (uint64_t)i /
			    (uint64_t)b->n, 0, oneshot_cb, b) == NULL)
				return -1;
		} else if ((b->timers[i] = loopd_timer_start(t, b->period_ms,
		    b->period_ms, periodic_cb, b)) == NULL)
			return -1;
	}
	/* From here, as loop-raw measures: after the timers are made. */
	b->c0 = cpu_s();
	b->t0 = now_ns();
	b->deadline = b->t0 + (uint64_t)secs * 1000000u;
	return 0;
}

static void
loopbench_stop(void *state)
{
	struct bench *b = state;

	if (b != NULL)
		free(b->timers);
	free(b);
}

LOOPD_PLUGIN(.name = "loopbench", .version = "0.1",
    .start = loopbench_start, .stop = loopbench_stop);
