/*
 * debug.h: a loop's debug mode (`debug: true`, or LOOPD_DEBUG=1).
 *
 * Slow callbacks.  A plugin function the API calls (a timer's, a watch's,
 * a done, a post, a hook) is timed by task_enter()/task_leave(); one that
 * runs longer than the loop's slow_callback is reported by
 * debug_slow_api().  A callback libevent calls directly (a bufferevent's,
 * evhttp's, event_base_once's on loopd_task_base()) is not seen by the
 * API: a watchdog thread notices that the loop has not come back to its
 * tick (the heartbeat, worker.c) for longer than slow_callback, samples
 * the loop thread's stack with a signal, and the next tick, back on the
 * loop thread, names the function libevent had called from that stack.
 *
 * Leaks.  Every timer, watch and job records its creation site in debug
 * mode; debug_report_leaks() lists those a task left open when it ended.
 *
 * Records: "slow_callback", "loop_lag" and "resource_leak" events (the
 * README documents their fields).  Loop thread only, but for the
 * watchdog's own thread, which touches only the struct debug_watch.
 */
#ifndef LOOPD_DEBUG_H
#define LOOPD_DEBUG_H

#include <signal.h>
#include <stdint.h>

#include "task.h"

/* The loop thread is sampled with this signal (crash.h has +1). */
#define DEBUG_SAMPLE_SIGNAL	(SIGRTMIN + 2)

/* The plugin function entered last ran ns: say so.  task.c */
void		 debug_slow_api(struct loopd_task *t, uint64_t ns);
/* t has ended: one record of its open timers, watches and jobs, if any. */
void		 debug_report_leaks(struct loopd_task *t);

struct debug_watch;

/*
 * A watchdog for the calling thread, which runs host's loop and ticks
 * every period_ns (debug_watch_tick()).  NULL, with errno, when the thread
 * or the signal handler cannot be had.  One per process.
 */
struct debug_watch *debug_watch_new(struct task_host *host,
		    uint64_t period_ns);
/* The loop's tick, late_ns after it was due: a sampled stall becomes a
 * "slow_callback" record; lateness above slow_callback not already
 * reported becomes a "loop_lag" record. */
void		 debug_watch_tick(struct debug_watch *w, uint64_t late_ns);
/* Stop and join the thread; w may be NULL. */
void		 debug_watch_free(struct debug_watch *w);

#endif /* LOOPD_DEBUG_H */
