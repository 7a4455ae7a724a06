/*
 * loop-raw: the raw libevent side of the loop benchmark (run-loop.sh),
 * adapted from the shared bench kit's loop-bench.  One line of key=value.
 *
 *   loop-raw soon CHAINS SECONDS
 *       CHAINS chains of zero-delay callbacks, each scheduling the next of
 *       its chain with event_active() on its own event; the base polls once
 *       per generation (max_dispatch_callbacks = CHAINS), as asyncio does.
 *   loop-raw oneshot|periodic TIMERS PERIOD_MS SECONDS
 *       TIMERS timers every PERIOD_MS, first firings spread over a period:
 *       oneshot re-adds each timer from its callback, periodic is one
 *       EV_PERSIST event per timer.  oneshot-common and periodic-common:
 *       the same with the period as a common timeout
 *       (event_base_init_common_timeout()), as loopd queues its timers.
 *
 * Prints cb_s (callbacks per second) and cpu_ns (CPU time of the process,
 * user + system, per callback).
 */
#include <sys/resource.h>

#include "common.h"
#include <event2/event.h>

static struct event_base *base;
static uint64_t count, deadline;
static int stopping;
static struct timeval period;
static const struct timeval *every = &period;

static inline void
tick(void)
{
	if ((++count & 1023) == 0 && now_ns() >= deadline) {
		stopping = 1;
		event_base_loopbreak(base);
	}
}

static void
cb_soon(evutil_socket_t fd, short what, void *self)
{
	tick();
	if (!stopping)
		event_active(self, EV_TIMEOUT, 0);
}

static void
cb_oneshot(evutil_socket_t fd, short what, void *self)
{
	tick();
	if (!stopping)
		evtimer_add((struct event *)self, every);
}

static void
cb_periodic(evutil_socket_t fd, short what, void *self)
{
	tick();
}

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int
main(int argc, char **argv)
{
	struct event_config *cfg;
	const char *mode;
	int timers, common;
	long n, i;
	double secs, period_ms = 0, c0, el;
	uint64_t start;

	if (argc < 4)
		die("usage: loop-raw soon CHAINS SECONDS | "
		    "loop-raw oneshot|periodic TIMERS PERIOD_MS SECONDS");
	mode = argv[1];
	timers = strcmp(mode, "soon") != 0;
	common = strstr(mode, "-common") != NULL;
	if (argc != (timers ? 5 : 4) || (timers &&
	    strncmp(mode, "oneshot", 7) && strncmp(mode, "periodic", 8)))
		die("loop-raw: bad arguments");
	n = (long)arg_num(argv[2], "N", 1, 10000000);
	secs = arg_num(argv[argc - 1], "SECONDS", 0.1, 3600);
	cfg = event_config_new();
	if (!timers)
		event_config_set_max_dispatch_interval(cfg, NULL, (int)n, 0);
	if ((base = event_base_new_with_config(cfg)) == NULL)
		die("loop-raw: cannot create an event base");
	event_config_free(cfg);
	if (timers) {
		period_ms = arg_num(argv[3], "PERIOD_MS", 0.001, 3600000);
		uint64_t p_us = (uint64_t)(period_ms * 1000);
		period.tv_sec = p_us / 1000000;
		period.tv_usec = p_us % 1000000;
		if (common && (every = event_base_init_common_timeout(base,
		    &period)) == NULL)
			die("loop-raw: no common timeout");
		for (i = 0; i < n; i++) {
			uint64_t first = p_us * i / n;
			struct timeval t0 = { first / 1000000, first % 1000000 };
			int periodic = !strncmp(mode, "periodic", 8);
			struct event *ev = event_new(base, -1,
			    periodic ? EV_PERSIST : 0,
			    periodic ? cb_periodic : cb_oneshot,
			    event_self_cbarg());

			/* The periodic timers start after their offset. */
			if (periodic) {
				evtimer_add(ev, every);
				(void)t0;
			} else
				evtimer_add(ev, &t0);
		}
	} else
		for (i = 0; i < n; i++) {
			struct event *ev = event_new(base, -1, 0, cb_soon,
			    event_self_cbarg());
			event_active(ev, EV_TIMEOUT, 0);
		}
	c0 = cpu_s();
	start = now_ns();
	deadline = start + (uint64_t)(secs * 1e9);
	event_base_dispatch(base);
	el = (now_ns() - start) / 1e9;
	printf("impl=raw-%s n=%ld period_ms=%g secs=%.2f callbacks=%llu "
	    "cb_s=%.0f cpu_ns=%.1f\n", mode, n, period_ms, el,
	    (unsigned long long)count, count / el,
	    (cpu_s() - c0) * 1e9 / (double)(count ? count : 1));
	return 0;
}
