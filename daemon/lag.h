/*
 * lag.h: how late a loop's periodic tick fires, as a histogram.
 *
 * Every worker ticks (its heartbeat, worker.c) and adds each tick's
 * lateness here: a loop whose callbacks hold it up fires the tick late.
 * Buckets are log-linear, 8 per power of two microseconds, so a quantile
 * is within 12.5% of the truth; the maximum is exact.  Adding is a few
 * instructions and allocates nothing.  Not thread-safe: one owner.
 */
#ifndef LOOPD_LAG_H
#define LOOPD_LAG_H

#include <stdint.h>

#define LAG_SUB		8		/* buckets per power of two */
#define LAG_BUCKETS	(LAG_SUB * 40)	/* up to 2^41 us: 25 days */

struct lag {
	uint32_t	 n[LAG_BUCKETS];
	uint64_t	 count;
	uint64_t	 max_us;
};

/* One tick, late by us microseconds (0: on time). */
void		 lag_add(struct lag *l, uint64_t us);
/* The q-th quantile (0 < q <= 1) in microseconds: the upper bound of its
 * bucket, never above the maximum; 0 when nothing was added. */
uint64_t	 lag_quantile(const struct lag *l, double q);

#endif /* LOOPD_LAG_H */
