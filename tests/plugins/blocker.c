/*
 * blocker: a test plugin for debug mode, loop lag and precise timers.
 *
 *   config:
 *     mode: api        # a timer's callback blocks for `block`
 *           raw        # an event_base_once callback blocks for `block`
 *           leak       # leaves a timer and a watch open, then ends
 *           precise    # times `count` one-shot timers of `delay`, each
 *                      # armed at a moment a thread picks (a loopd_post),
 *                      # out of step with the kernel's clock tick; ends
 *     block: 300ms
 *     delay: 7ms
 *     count: 50
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <loopd/plugin.h>

struct blocker {
	int64_t		 block_ms, delay_ms, count, fired;
	int64_t		 min_late_us;
	uint64_t	 due_us;
	int		 fds[2];
	int		 armed;		/* a precise timer is pending */
	pthread_t	 thread;
	int		 has_thread;
	atomic_int	 quit;
	loopd_task	*task;
};

static uint64_t
blocker_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
blocker_sleep(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
	    .tv_nsec = (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0)
		;
}

static void
blocker_api_callback(loopd_task *t, void *arg)
{
	struct blocker *b = arg;

	blocker_sleep(b->block_ms);
	loopd_log(t, LOOPD_LOG_INFO, "api callback returned");
}

static void
blocker_raw_callback(evutil_socket_t fd, short what, void *arg)
{
	struct blocker *b = arg;

	blocker_sleep(b->block_ms);
}

static void
blocker_nothing(loopd_task *t, void *arg)
{
}

static void
blocker_watch_cb(loopd_task *t, int fd, int ready, void *arg)
{
}

/* The creation sites the leak record must name. */
/* The creation sites the leak record must name: not tail calls, so that
 * the return address is in these functions. */
static __attribute__((noinline)) int
blocker_leak_timer(loopd_task *t)
{
	loopd_timer *volatile tm;

	tm = loopd_timer_start(t, 3600000, 0, blocker_nothing, NULL);
	return tm != NULL ? 0 : -1;
}

static __attribute__((noinline)) int
blocker_leak_watch(loopd_task *t, int fd)
{
	loopd_watch *volatile w;

	w = loopd_watch_fd(t, fd, LOOPD_READ, blocker_watch_cb, NULL);
	return w != NULL ? 0 : -1;
}

static void
blocker_end(loopd_task *t, void *arg)
{
	loopd_task_done(t);
}

static void
blocker_precise(loopd_task *t, void *arg)
{
	struct blocker *b = arg;
	int64_t late = (int64_t)(blocker_now_us() - b->due_us);

	b->armed = 0;
	if (b->fired++ == 0 || late < b->min_late_us)
		b->min_late_us = late;
	if (b->fired == b->count) {
		loopd_log(t, LOOPD_LOG_INFO, "precise: min_late_us=%lld",
		    (long long)b->min_late_us);
		loopd_task_done(t);
	}
}

/* On the loop thread, woken by the thread at a moment of its own. */
static void
blocker_arm(loopd_task *t, void *arg)
{
	struct blocker *b = arg;

	if (b->armed || b->fired >= b->count)
		return;
	b->armed = 1;
	b->due_us = blocker_now_us() + (uint64_t)b->delay_ms * 1000;
	loopd_timer_start(t, (uint64_t)b->delay_ms, 0, blocker_precise, b);
}

static void *
blocker_poster(void *arg)
{
	struct blocker *b = arg;
	struct timespec ts;
	unsigned i;

	for (i = 0; !atomic_load(&b->quit); i++) {
		ts.tv_sec = 0;
		ts.tv_nsec = 700000 + (long)(i * 389711u % 3300000u);
		nanosleep(&ts, NULL);
		if (loopd_post(b->task, blocker_arm, b) < 0)
			break;
	}
	return NULL;
}

static int
blocker_start(loopd_task *t, const loopd_args *args, void **state)
{
	const char *mode = loopd_args_string(args, "mode", "api");
	struct blocker *b;
	struct timeval tv = { 0, 10000 };

	if ((b = calloc(1, sizeof *b)) == NULL)
		return -1;
	*state = b;
	b->fds[0] = b->fds[1] = -1;
	b->block_ms = loopd_args_duration_ms(args, "block", 300);
	b->delay_ms = loopd_args_duration_ms(args, "delay", 7);
	b->count = loopd_args_int(args, "count", 50);
	switch (mode[0]) {
	case 'a':
		return loopd_timer_start(t, 10, 0, blocker_api_callback, b) ?
		    0 : -1;
	case 'r':
		return event_base_once(loopd_task_base(t), -1, EV_TIMEOUT,
		    blocker_raw_callback, b, &tv);
	case 'l':
		if (pipe(b->fds) < 0 || blocker_leak_timer(t) < 0 ||
		    blocker_leak_watch(t, b->fds[0]) < 0)
			return -1;
		return loopd_timer_start(t, 20, 0, blocker_end, b) ? 0 : -1;
	case 'p':
		b->task = t;
		if (pthread_create(&b->thread, NULL, blocker_poster, b) != 0)
			return -1;
		b->has_thread = 1;
		return 0;
	}
	return -1;
}

static void
blocker_cancel(loopd_task *t, void *state)
{
	loopd_task_done(t);
}

static void
blocker_stop(void *state)
{
	struct blocker *b = state;

	if (b == NULL)
		return;
	if (b->has_thread) {
		atomic_store(&b->quit, 1);
		pthread_join(b->thread, NULL);
	}
	if (b->fds[0] >= 0) {
		close(b->fds[0]);
		close(b->fds[1]);
	}
	free(b);
}

LOOPD_PLUGIN(.name = "blocker", .version = "0.1", .start = blocker_start,
    .cancel = blocker_cancel, .stop = blocker_stop);
