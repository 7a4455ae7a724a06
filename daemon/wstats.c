/*
 * wstats.c: a loop's runtime statistics in shared memory (wstats.h).
 */
#include <stddef.h>

#include "executor.h"
#include "wstats.h"

static const uint64_t wstats_bounds[WSTATS_LAG_BUCKETS] = {
	1000, 5000, 10000, 50000, 100000, 500000, 1000000, UINT64_MAX,
};

uint64_t
wstats_lag_bound(unsigned i)
{
	return i < WSTATS_LAG_BUCKETS ? wstats_bounds[i] : UINT64_MAX;
}

static void
wstats_put(_Atomic uint64_t *v, uint64_t x)
{
	atomic_store_explicit(v, x, memory_order_relaxed);
}

static uint64_t
wstats_get(const _Atomic uint64_t *v)
{
	return atomic_load_explicit((_Atomic uint64_t *)v,
	    memory_order_relaxed);
}

void
wstats_lag(struct wstats *s, uint64_t us)
{
	unsigned i;

	if (s == NULL)
		return;
	for (i = 0; us > wstats_bounds[i]; i++)
		;
	wstats_put(&s->lag[i], wstats_get(&s->lag[i]) + 1);
	wstats_put(&s->lag_sum_us, wstats_get(&s->lag_sum_us) + us);
	if (us > wstats_get(&s->lag_max_us))
		wstats_put(&s->lag_max_us, us);
}

void
wstats_executor(struct wstats *s, const struct executor_stats *es)
{
	if (s == NULL)
		return;
	wstats_put(&s->exec_depth, es->depth);
	wstats_put(&s->exec_active, es->active);
	wstats_put(&s->exec_completed, es->completed);
	wstats_put(&s->exec_rejected, es->rejected);
	wstats_put(&s->exec_timed_out, es->timed_out);
}

void
wstats_slow_callback(struct wstats *s)
{
	if (s != NULL)
		wstats_put(&s->slow_callbacks,
		    wstats_get(&s->slow_callbacks) + 1);
}

static uint64_t
wstats_clamp(uint64_t v)
{
	return v < WSTATS_MAX ? v : WSTATS_MAX;
}

void
wstats_read(const struct wstats *s, struct wstats_snap *out)
{
	uint64_t sum = 0;
	unsigned i;

	for (i = 0; i < WSTATS_LAG_BUCKETS; i++) {
		sum += wstats_clamp(wstats_get(&s->lag[i]));
		out->lag_le[i] = sum = wstats_clamp(sum);
	}
	out->lag_count = sum;
	out->lag_sum_us = wstats_clamp(wstats_get(&s->lag_sum_us));
	out->lag_max_us = wstats_clamp(wstats_get(&s->lag_max_us));
	out->callbacks = wstats_clamp(wstats_get(&s->callbacks));
	out->slow_callbacks = wstats_clamp(wstats_get(&s->slow_callbacks));
	out->exec_depth = wstats_clamp(wstats_get(&s->exec_depth));
	out->exec_active = wstats_clamp(wstats_get(&s->exec_active));
	out->exec_completed = wstats_clamp(wstats_get(&s->exec_completed));
	out->exec_rejected = wstats_clamp(wstats_get(&s->exec_rejected));
	out->exec_timed_out = wstats_clamp(wstats_get(&s->exec_timed_out));
}

uint64_t
wstats_lag_quantile(const struct wstats_snap *s, double q)
{
	uint64_t want;
	unsigned i;

	if (s->lag_count == 0)
		return 0;
	want = (uint64_t)(q * (double)s->lag_count + 0.999999);
	if (want == 0)
		want = 1;
	for (i = 0; i < WSTATS_LAG_BUCKETS - 1; i++)
		if (s->lag_le[i] >= want)
			break;
	return wstats_bounds[i] < s->lag_max_us ? wstats_bounds[i] :
	    s->lag_max_us;
}
