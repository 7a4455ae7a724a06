/*
 * monotime.h: CLOCK_MONOTONIC in nanoseconds and milliseconds, for
 * deadlines, timeouts and durations.  (A loop's timers read the clock
 * their libevent base reads: timerq.h.)
 */
#ifndef LOOPD_MONOTIME_H
#define LOOPD_MONOTIME_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
monotime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t
monotime_ms(void)
{
	return monotime_ns() / 1000000u;
}

#endif /* LOOPD_MONOTIME_H */
