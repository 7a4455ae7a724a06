/*
 * lag.c: the loop-lag histogram (lag.h).
 *
 * Values below LAG_SUB have a bucket each; above, a value whose highest
 * bit is e falls in one of LAG_SUB buckets of width 2^(e-3) (LAG_SUB = 8).
 */
#include <stddef.h>

#include "lag.h"

static size_t
lag_bucket(uint64_t us)
{
	unsigned e;
	size_t i;

	if (us < LAG_SUB)
		return (size_t)us;
	e = 63u - (unsigned)__builtin_clzll(us);
	i = (size_t)(e - 2) * LAG_SUB + (size_t)((us >> (e - 3)) & (LAG_SUB - 1));
	return i < LAG_BUCKETS ? i : LAG_BUCKETS - 1;
}

/* The largest value bucket i holds. */
static uint64_t
lag_bucket_top(size_t i)
{
	unsigned e;

	if (i < LAG_SUB)
		return i;
	e = (unsigned)(i / LAG_SUB) + 2;
	return ((uint64_t)(LAG_SUB + i % LAG_SUB + 1) << (e - 3)) - 1;
}

void
lag_add(struct lag *l, uint64_t us)
{
	size_t i = lag_bucket(us);

	if (l->n[i] != UINT32_MAX)
		l->n[i]++;
	l->count++;
	if (us > l->max_us)
		l->max_us = us;
}

uint64_t
lag_quantile(const struct lag *l, double q)
{
	uint64_t want, seen = 0, top;
	size_t i;

	if (l->count == 0)
		return 0;
	want = (uint64_t)(q * (double)l->count + 0.999999);
	if (want == 0)
		want = 1;
	for (i = 0; i < LAG_BUCKETS; i++) {
		seen += l->n[i];
		if (seen >= want)
			break;
	}
	top = lag_bucket_top(i < LAG_BUCKETS ? i : LAG_BUCKETS - 1);
	return top < l->max_us ? top : l->max_us;
}
