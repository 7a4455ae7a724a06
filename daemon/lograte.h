/*
 * lograte.h: the per-task limit on log records (`log.rate: N/DURATION`).
 *
 * A fixed window: the first record after a window has passed opens the
 * next one, and at most `limit` records pass in a window; the rest are
 * counted as dropped.  A window in which records were dropped is reported
 * once, when it ends (the caller's timer, lograte_end()) or at the first
 * record after it (lograte_take()), whichever comes first: every dropped
 * record is in exactly one report.
 *
 * Plain data and arithmetic on a time the caller passes (milliseconds of
 * a monotonic clock): no clock, no event, no allocation.  Worker main
 * thread.
 */
#ifndef LOOPD_LOGRATE_H
#define LOOPD_LOGRATE_H

#include <stdint.h>

struct lograte {
	uint64_t	 limit;		/* records per window; 0: no limit */
	uint64_t	 window_ms;	/* > 0 when limit is */
	uint64_t	 start_ms;	/* the window's start */
	uint64_t	 passed;	/* records let through in it */
	uint64_t	 dropped;	/* dropped, not yet reported */
	int		 open;		/* a window was opened */
};

/* No limit when limit is 0. */
void		 lograte_init(struct lograte *rl, uint64_t limit,
		    uint64_t window_ms);

/*
 * One record at now_ms: returns 1 when it may be written, 0 when it is
 * dropped (and counted).  *report is set to the count of records dropped
 * in a window that has ended, to be reported before this record (0: none).
 */
int		 lograte_take(struct lograte *rl, uint64_t now_ms,
		    uint64_t *report);

/* When the window with drops ends (ms from now_ms), for a timer; 0 when
 * nothing is to report. */
uint64_t	 lograte_due_in(const struct lograte *rl, uint64_t now_ms);

/* The count to report once the window has ended at now_ms, or at the end
 * of the task (force), and reset it; 0 when there is none (yet). */
uint64_t	 lograte_end(struct lograte *rl, uint64_t now_ms, int force);

#endif /* LOOPD_LOGRATE_H */
