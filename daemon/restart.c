/*
 * restart.c: backoff and intensity.
 */
#include <stdlib.h>
#include <string.h>

#include "restart.h"

const char *
restart_policy_name(enum conf_restart_policy p)
{
	switch (p) {
	case CONF_RESTART_ALWAYS:
		return "always";
	case CONF_RESTART_ON_FAILURE:
		return "on-failure";
	case CONF_RESTART_NEVER:
		return "never";
	}
	return "?";
}

/* min * 2^attempt, within [min, max]; then drawn from its upper half. */
static uint64_t
restart_backoff(const struct restart_conf *rc, uint32_t attempt,
    uint32_t jitter)
{
	uint64_t d = rc->backoff_min_ms, lo;

	while (attempt-- > 0 && d < rc->backoff_max_ms)
		d *= 2;
	if (d > rc->backoff_max_ms)
		d = rc->backoff_max_ms;
	lo = d / 2 > rc->backoff_min_ms ? d / 2 : rc->backoff_min_ms;
	if (d <= lo)
		return d;
	return lo + jitter % (d - lo + 1);
}

/*
 * A restart at now, unless `intensity` restarts already fall within the
 * window before it: then 1, and nothing is noted.  The ring holds the last
 * `intensity` times; once full, `next` is the oldest.
 */
static int
restart_exhausted(struct restart_state *rs, const struct restart_conf *rc,
    uint64_t now_ms)
{
	uint64_t *t;

	if (rc->intensity == 0)
		return 1;
	if (rs->ntimes == rc->intensity) {
		if (now_ms - rs->times[rs->next] < rc->window_ms)
			return 1;
		rs->times[rs->next] = now_ms;
		rs->next = (rs->next + 1) % rs->ntimes;
		return 0;
	}
	if ((t = realloc(rs->times, (rs->ntimes + 1) * sizeof *t)) == NULL)
		return 0;	/* no room for history: no verdict on it */
	rs->times = t;
	rs->times[rs->ntimes++] = now_ms;
	return 0;
}

enum restart_verdict
restart_decide(struct restart_state *rs, const struct restart_conf *rc,
    int failed, int charged, uint64_t now_ms, uint32_t jitter,
    uint64_t *delay_ms)
{
	if (rc->policy == CONF_RESTART_NEVER ||
	    (rc->policy == CONF_RESTART_ON_FAILURE && !failed))
		return RESTART_NO;
	if (!charged) {
		*delay_ms = rc->backoff_min_ms;
		return RESTART_YES;
	}
	/* Up for as long as the longest backoff: a fresh start. */
	if (rs->up_since_ms != 0 && now_ms - rs->up_since_ms >=
	    rc->backoff_max_ms)
		rs->attempt = 0;
	rs->up_since_ms = 0;
	if (restart_exhausted(rs, rc, now_ms))
		return RESTART_EXHAUSTED;
	*delay_ms = restart_backoff(rc, rs->attempt, jitter);
	rs->attempt++;
	rs->total++;
	return RESTART_YES;
}

void
restart_running(struct restart_state *rs, uint64_t now_ms)
{
	rs->up_since_ms = now_ms != 0 ? now_ms : 1;
}

json_t *
restart_history(const struct restart_state *rs, uint64_t now_ms)
{
	json_t *a = json_array();
	uint32_t i, k;

	for (i = 0; a != NULL && i < rs->ntimes; i++) {
		k = (rs->next + i) % rs->ntimes;
		json_array_append_new(a, json_integer((json_int_t)(now_ms -
		    rs->times[k])));
	}
	return a;
}

void
restart_clear(struct restart_state *rs)
{
	free(rs->times);
	memset(rs, 0, sizeof *rs);
}
