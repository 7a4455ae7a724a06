/*
 * flaky: a test plugin that misbehaves until told it may stop.
 *
 *   config:
 *     do: fail | crash | abort | exit | done | spin | busy | memory | fds
 *                      # what goes wrong (fail); crash: a store to
 *                      # address 64 in flaky_crash; abort: abort() from
 *                      # flaky_abort; exit: exit(3); memory: allocate
 *                      # until malloc fails, then abort; fds: open until
 *                      # EMFILE, then fail; busy: back-to-back 5 ms
 *                      # callbacks for 3 s, which is busy but not stuck
 *     when: start | later                     # in start, or from a timer
 *     after: 20ms                             # with when: later
 *     marker: /path    # when set: misbehave only while this file does not
 *                      # exist, and create it when misbehaving: so "once"
 *
 * A healthy start logs "serving" and ticks "alive N" every 50 ms.  The
 * marker lives in the file system because a restart may be in a new
 * worker process, and the plugin's own memory does not survive that.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <loopd/plugin.h>

struct flaky {
	const char	*what;
	unsigned long	 ticks;
};

/* Each fault in a frame of its own, where a backtrace can name it. */
__attribute__((noinline)) static void
flaky_crash(void)
{
	volatile int *volatile nowhere = (volatile int *)(uintptr_t)64;

	*nowhere = 0;		/* a fault in this frame, not a raise() */
}

__attribute__((noinline)) static void
flaky_abort(void)
{
	abort();
}

/* Spins where a stack dump can name it. */
__attribute__((noinline)) static void
flaky_spin(void)
{
	for (;;)
		__asm__ volatile("" ::: "memory");
}

static int
before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec &&
	    a->tv_nsec < b->tv_nsec);
}

/* 5 ms of work, then the next turn of the loop, until the time is up. */
static void
flaky_busy(loopd_task *t, void *arg)
{
	static struct timespec until;
	struct timespec now, end;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (until.tv_sec == 0) {
		until = now;
		until.tv_sec += 3;
	}
	if (!before(&now, &until)) {
		loopd_log(t, LOOPD_LOG_INFO, "busy done");
		return;
	}
	end = now;
	end.tv_nsec += 5000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	do
		clock_gettime(CLOCK_MONOTONIC, &now);
	while (before(&now, &end));
	loopd_call_soon(t, flaky_busy, arg);
}

/* Allocate and touch until the address space runs out, then give up. */
__attribute__((noinline)) static void
flaky_hog_memory(void)
{
	char *p;

	while ((p = malloc(1 << 20)) != NULL)
		memset(p, 1, 1 << 20);
	abort();
}

/* Leak fds until there are no more. */
__attribute__((noinline)) static void
flaky_hog_fds(loopd_task *t)
{
	int n = 0;

	while (open("/dev/null", O_RDONLY | O_CLOEXEC) >= 0)
		n++;
	loopd_task_fail(t, "io", "open: %s after %d files", strerror(errno),
	    n);
}

__attribute__((noinline)) static void
misbehave(loopd_task *t, const char *what)
{
	loopd_log(t, LOOPD_LOG_WARNING, "about to %s", what);
	if (strcmp(what, "crash") == 0)
		flaky_crash();
	else if (strcmp(what, "abort") == 0)
		flaky_abort();
	else if (strcmp(what, "exit") == 0)
		exit(3);
	else if (strcmp(what, "done") == 0)
		loopd_task_done(t);
	else if (strcmp(what, "spin") == 0)
		flaky_spin();
	else if (strcmp(what, "busy") == 0)
		flaky_busy(t, NULL);
	else if (strcmp(what, "memory") == 0)
		flaky_hog_memory();
	else if (strcmp(what, "fds") == 0)
		flaky_hog_fds(t);
	else
		loopd_task_fail(t, "test_failure", "flaky failed on purpose");
}

static void
flaky_later(loopd_task *t, void *arg)
{
	misbehave(t, arg);
}

static void
flaky_tick(loopd_task *t, void *arg)
{
	struct flaky *f = arg;

	loopd_log(t, LOOPD_LOG_DEBUG, "alive %lu", ++f->ticks);
}

static int
flaky_start(loopd_task *t, const loopd_args *args, void **state)
{
	const char *what = loopd_args_string(args, "do", "fail");
	const char *when = loopd_args_string(args, "when", "start");
	const char *marker = loopd_args_string(args, "marker", NULL);
	struct flaky *f;
	int fd;

	if (marker == NULL || access(marker, F_OK) != 0) {
		if (marker != NULL && (fd = open(marker, O_CREAT | O_WRONLY |
		    O_CLOEXEC, 0600)) >= 0)
			close(fd);
		if (strcmp(when, "start") == 0) {
			misbehave(t, what);
			return strcmp(what, "done") == 0 ||
			    strcmp(what, "busy") == 0 ? 0 : -1;
		}
		return loopd_timer_start(t, (uint64_t)loopd_args_duration_ms(
		    args, "after", 20), 0, flaky_later, (void *)what) ? 0 : -1;
	}
	if ((f = calloc(1, sizeof *f)) == NULL)
		return -1;
	*state = f;
	loopd_log(t, LOOPD_LOG_INFO, "serving");
	return loopd_timer_start(t, 50, 50, flaky_tick, f) ? 0 : -1;
}

static void
flaky_stop(void *state)
{
	free(state);
}

LOOPD_PLUGIN(.name = "flaky", .version = "0.1", .start = flaky_start,
    .stop = flaky_stop);
