/*
 * wstats.h: a loop's runtime statistics, which its worker shares with the
 * supervisor while it runs.
 *
 * They live in the worker's shared page (crash.h): a fixed struct of
 * 64-bit values that only the worker's loop thread writes, with relaxed
 * atomics: the loop lag at each heartbeat tick (worker.c), the executor's
 * counts at the same tick (executor_get_stats()), and the plugin callbacks
 * as task_enter() enters them.  The supervisor reads them when it is asked
 * for status or /metrics, without asking the worker.
 *
 * The supervisor believes none of it: wstats_read() turns whatever is
 * there into a snapshot that is consistent on its face (cumulative lag
 * buckets that never decrease, every value at most WSTATS_MAX), which is
 * never used as an index or a size.  A worker that writes nonsense lies
 * only about its own loop.
 */
#ifndef LOOPD_WSTATS_H
#define LOOPD_WSTATS_H

#include <stdint.h>

#include <stdatomic.h>

/* Lag buckets: <= 1, 5, 10, 50, 100, 500, 1000 ms, and the rest. */
#define WSTATS_LAG_BUCKETS	8
/* The largest value a snapshot holds: exact as a double, and a JSON
 * integer. */
#define WSTATS_MAX		((uint64_t)1 << 53)

struct executor_stats;

/* Shared memory: the worker writes, the supervisor reads. */
struct wstats {
	_Atomic uint64_t	 lag[WSTATS_LAG_BUCKETS];  /* ticks, each bucket */
	_Atomic uint64_t	 lag_sum_us;
	_Atomic uint64_t	 lag_max_us;
	_Atomic uint64_t	 callbacks;	/* plugin functions entered */
	_Atomic uint64_t	 slow_callbacks;	/* debug mode */
	_Atomic uint64_t	 exec_depth;	/* jobs queued */
	_Atomic uint64_t	 exec_active;	/* works running */
	_Atomic uint64_t	 exec_completed;
	_Atomic uint64_t	 exec_rejected;
	_Atomic uint64_t	 exec_timed_out;
};

/* The upper bound of lag bucket i in microseconds; UINT64_MAX for the
 * last. */
uint64_t	 wstats_lag_bound(unsigned i);

/* ---- the worker's side, loop thread; s may be NULL (no supervisor) ---- */

/* One heartbeat tick, late by us microseconds. */
void		 wstats_lag(struct wstats *s, uint64_t us);
/* The executor's counts now. */
void		 wstats_executor(struct wstats *s,
		    const struct executor_stats *es);
/* A plugin callback ran longer than slow_callback. */
void		 wstats_slow_callback(struct wstats *s);

/* A plugin function is entered: one writer, so a load and a store. */
static inline void
wstats_callback(struct wstats *s)
{
	if (s != NULL)
		atomic_store_explicit(&s->callbacks, atomic_load_explicit(
		    &s->callbacks, memory_order_relaxed) + 1,
		    memory_order_relaxed);
}

/* ---- the supervisor's side ---- */

struct wstats_snap {
	uint64_t	 lag_le[WSTATS_LAG_BUCKETS];	/* cumulative */
	uint64_t	 lag_count;	/* = lag_le[last] */
	uint64_t	 lag_sum_us;
	uint64_t	 lag_max_us;
	uint64_t	 callbacks;
	uint64_t	 slow_callbacks;
	uint64_t	 exec_depth;
	uint64_t	 exec_active;
	uint64_t	 exec_completed;
	uint64_t	 exec_rejected;
	uint64_t	 exec_timed_out;
};

/* What s claims now, made consistent (see above). */
void		 wstats_read(const struct wstats *s, struct wstats_snap *out);
/* The q-th quantile (0 < q <= 1) of the lag in microseconds: the upper
 * bound of its bucket, never above the maximum; 0 with no tick. */
uint64_t	 wstats_lag_quantile(const struct wstats_snap *s, double q);

#endif /* LOOPD_WSTATS_H */
