/*
 * restart.h: when a task or a loop that ended is started again.
 *
 * Pure policy, no processes and no clock of its own: the supervisor asks,
 * with the time, and acts on the answer.  The backoff is exponential
 * between the configured bounds with jitter, and starts again from the
 * lower bound once what it restarts has stayed up as long as the upper
 * bound.  The intensity counts restarts as Erlang/OTP supervisors do: one
 * more than `intensity` within `window` and it gives up.
 *
 * Supervisor main thread only.
 */
#ifndef LOOPD_RESTART_H
#define LOOPD_RESTART_H

#include <stdint.h>

#include <jansson.h>

#include "config.h"

/* The history of one task or loop; all zero to begin with. */
struct restart_state {
	uint32_t	 attempt;	/* restarts since it last stayed up */
	uint32_t	 total;		/* restarts since loopd started */
	uint64_t	 up_since_ms;	/* when it last started running */
	uint64_t	*times;		/* the last `intensity` restart times */
	uint32_t	 ntimes, next;	/* how many are kept, the oldest */
};

enum restart_verdict {
	RESTART_NO,		/* the policy keeps it down */
	RESTART_YES,		/* after *delay_ms */
	RESTART_EXHAUSTED,	/* too many restarts within the window */
};

/*
 * An end at now_ms: failed (anything but a clean loopd_task_done()) or
 * not.  Charged ends count towards the backoff and the intensity; an end
 * that was not the task's doing (its worker died in another task's code)
 * is restarted after the lower bound, and not charged.  `jitter` is a
 * random number; the delay is drawn from [d/2, d] of the exponential d,
 * within the bounds.
 */
enum restart_verdict restart_decide(struct restart_state *rs,
		    const struct restart_conf *rc, int failed, int charged,
		    uint64_t now_ms, uint32_t jitter, uint64_t *delay_ms);

/* It is running again since now_ms. */
void		 restart_running(struct restart_state *rs, uint64_t now_ms);

/* The restart times kept, oldest first, as a new JSON array of how many
 * milliseconds before now_ms each was. */
json_t		*restart_history(const struct restart_state *rs,
		    uint64_t now_ms);

/* Free what rs holds (not rs). */
void		 restart_clear(struct restart_state *rs);

const char	*restart_policy_name(enum conf_restart_policy p);

#endif /* LOOPD_RESTART_H */
