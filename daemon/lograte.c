/*
 * lograte.c: a fixed-window count of a task's log records; see lograte.h.
 */
#include <string.h>

#include "lograte.h"

void
lograte_init(struct lograte *rl, uint64_t limit, uint64_t window_ms)
{
	memset(rl, 0, sizeof *rl);
	rl->limit = window_ms > 0 ? limit : 0;
	rl->window_ms = window_ms;
}

static int
window_over(const struct lograte *rl, uint64_t now_ms)
{
	return now_ms - rl->start_ms >= rl->window_ms;
}

uint64_t
lograte_end(struct lograte *rl, uint64_t now_ms, int force)
{
	uint64_t n = rl->dropped;

	if (n == 0 || (!force && !window_over(rl, now_ms)))
		return 0;
	rl->dropped = 0;
	return n;
}

uint64_t
lograte_due_in(const struct lograte *rl, uint64_t now_ms)
{
	if (rl->dropped == 0)
		return 0;
	if (window_over(rl, now_ms))
		return 1;	/* at once; never 0, which is "nothing" */
	return rl->window_ms - (now_ms - rl->start_ms);
}

int
lograte_take(struct lograte *rl, uint64_t now_ms, uint64_t *report)
{
	*report = 0;
	if (rl->limit == 0)
		return 1;
	if (!rl->open || window_over(rl, now_ms)) {
		*report = lograte_end(rl, now_ms, 1);
		rl->open = 1;
		rl->start_ms = now_ms;
		rl->passed = 0;
	}
	if (rl->passed < rl->limit) {
		rl->passed++;
		return 1;
	}
	rl->dropped++;
	return 0;
}
