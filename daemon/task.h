/*
 * task.h: one task in a worker: its lifecycle and the handles it owns.
 *
 * starting -> running -> cancelling -> done | failed.  A task ends when the
 * plugin calls loopd_task_done() or loopd_task_fail(), when start fails, or
 * when its plugin cannot be loaded.  A task of a LOOPD_PLUGIN_NOTIFY_READY
 * plugin stays starting after start until loopd_task_ready(), for at most
 * the loop's start_timeout (then it fails, "start_timeout"); it may be
 * cancelled while starting.  From that moment (t->ending) none of
 * its callbacks runs: its events are disarmed at once.  The end is carried
 * out by a deferred event (the reaper), never inside a plugin callback:
 * every handle is released, then the stop hook runs, then the host hears
 * the new state.  While cancelling, callbacks still run.
 *
 * Worker main thread only.  A task's memory stays allocated until its
 * worker exits: loopd_post() from other threads relies on it (post.h).
 */
#ifndef LOOPD_TASK_H
#define LOOPD_TASK_H

#include <sys/queue.h>

#include "args.h"
#include "config.h"
#include "loader.h"
#include "lograte.h"
#include "monotime.h"
#include "wstats.h"

/* Any plugin function, as task_enter() records it. */
typedef void (*task_fn)(void);

enum task_state {
	TASK_STARTING,
	TASK_RUNNING,
	TASK_CANCELLING,
	TASK_DONE,
	TASK_FAILED,
};

struct loopd_task;

/* What every task of one worker shares. */
struct task_host {
	struct event_base	*base;
	const char		*loop;		/* the loop's name */
	/* Index of the task whose code runs now, or -1; read by the
	 * supervisor when the worker dies.  Shared memory. */
	volatile int		*running;
	struct loader_cache	*plugins;	/* the worker's open plugins */
	int			 sockets;	/* asks for listening sockets */
	uint64_t		 start_timeout_ms;	/* 0: none */
	/* Told of every state change; the task may be freed inside. */
	void			(*on_state)(void *ctx, struct loopd_task *t);
	void			*ctx;
	struct post_queue	*post;		/* loopd_post(), or NULL */
	struct executor		*exec;		/* the loop's pool, or NULL */
	/* The plugin function entered last (task_enter), kept after it
	 * returned: a task_error names it. */
	task_fn			 cb;
	/* Debug mode (debug.h): each entry is timed, each handle and job
	 * records its creation site. */
	int			 debug;
	uint64_t		 slow_ns;	/* slow_callback */
	uint64_t		 enter_ns;	/* when the running one began */
	uint64_t		 slow_reports;	/* slow_callback records so far */
	const struct loop_conf	*loop_conf;	/* borrowed, for blame */
	/* log.rate: at most log_rate records of a task's plugin in each
	 * log_rate_ms; 0: no limit. */
	uint64_t		 log_rate;
	uint64_t		 log_rate_ms;
	/* loopd_listen_fd(): a new fd, -1 when there is none by that
	 * name for task `index`, -2 with errno. */
	int			(*listen_fd)(void *ctx, int index,
				    const char *name);
	/* loopd_metric_*(): the worker's area, or NULL (pmetric.h). */
	struct pmetric_area	*metrics;
	/* The loop's statistics in the shared page (wstats.h), or NULL. */
	struct wstats		*stats;
	/* A finished message to the supervisor, never dropped: 0 or -1.
	 * NULL when there is no supervisor (a test of the task alone). */
	int			(*send)(void *ctx, const void *msg,
				    size_t len);
	/* The reaper: one deferred event for every task of the host, made
	 * by the first task_new and freed with the last task (task.c). */
	struct event		*reaper;
	STAILQ_HEAD(, loopd_task) reap;	/* ended, not yet reaped */
	size_t			 ntasks;	/* not yet freed */
	/* The loop's timers by duration (timerq.h), made by the first
	 * timer and freed with the last task. */
	struct timerq		*timers;
};

struct handle;
TAILQ_HEAD(handle_list, handle);
struct soon_call;
struct job;
TAILQ_HEAD(job_list, job);

struct loopd_task {
	struct task_host	*host;		/* borrowed */
	const struct task_conf	*conf;		/* borrowed */
	int			 index;		/* in its loop */
	enum task_state		 state;
	unsigned char		 ending;	/* done or fail was called */
	unsigned char		 in_start;	/* its start hook runs now */
	unsigned char		 ready;		/* loopd_task_ready() was called */
	unsigned char		 reaping;	/* on host->reap */
	struct event		*ready_timer;	/* start_timeout, while waiting */
	struct plugin		 plugin;
	void			*pstate;	/* the plugin's *state */
	struct loopd_args	 args;
	struct handle_list	 handles;
	STAILQ_ENTRY(loopd_task) reap_next;	/* on host->reap */
	char			*err_type;	/* set when failed */
	char			*err_msg;
	task_fn			 err_cb;	/* running when it failed, or NULL */
	int			 post_open;	/* under the post queue's mutex */
	struct job_list		 jobs;		/* executor jobs without done */
	/* loopd_call_soon(): a ring of calls run by one event (api.c). */
	struct soon_call	*soon;
	size_t			 soon_head, soon_n, soon_cap;
	struct event		*soon_ev;
	struct lograte		 rate;		/* its loopd_log() records */
	struct event		*rate_timer;	/* reports a window's drops */
	uint32_t		 metrics;	/* its first metric's slot + 1,
						 * or 0 (pmetric.c) */
};

/* A new task in TASK_STARTING, or NULL.  Free with task_free(). */
struct loopd_task *task_new(struct task_host *host,
	    const struct task_conf *conf, int index);
/* Load the plugin and call start.  The outcome reaches host->on_state. */
void		 task_start(struct loopd_task *t);
/* Ask a running (or starting, when start has returned) task to finish
 * (its cancel hook). */
void		 task_cancel(struct loopd_task *t);
/* loopd_task_ready(): running now, if it was waiting for it. */
int		 task_ready(struct loopd_task *t);
/*
 * Offer the task a new `config:` tree (borrowed: it must outlive the
 * task).  Returns 0 when the plugin applied it (the task's args read it
 * from now on), -1 when it needs a restart: no reconfigure hook, the hook
 * refused, or the task is not running.
 */
int		 task_reconfigure(struct loopd_task *t,
		    const struct conf_node *config);
/* End the task now, as failed when type is not NULL. */
void		 task_end(struct loopd_task *t, const char *type,
		    const char *msg);
/* Release a task that has ended (or never started). */
void		 task_free(struct loopd_task *t);

int		 task_is_live(const struct loopd_task *t);
const char	*task_state_name(enum task_state s);

/* Debug mode: the end of a timed entry. */
void		 task_timed_leave(struct loopd_task *t);

/*
 * Mark the task's code as running (or not) for crash reports; cb is the
 * plugin function about to be called.  In debug mode the call is timed:
 * one that runs longer than slow_callback is reported (debug.h).
 */
static inline void
task_enter(struct loopd_task *t, task_fn cb)
{
	*t->host->running = t->index;
	t->host->cb = cb;
	wstats_callback(t->host->stats);
	if (__builtin_expect(t->host->debug, 0))
		t->host->enter_ns = monotime_ns();
}

static inline void
task_leave(struct loopd_task *t)
{
	*t->host->running = -1;
	if (__builtin_expect(t->host->debug, 0))
		task_timed_leave(t);
}

/* Where a handle or job was made: debug mode only (NULL otherwise). */
struct task_site {
	const char	*kind;		/* "timer", "watch", "job" */
	void		*site;		/* the caller's return address */
};
#define TASK_SITES_MAX	32		/* listed in one leak record */

/* Stop every handle's event, keeping the handles; used by task_end.  api.c */
void		 api_disarm_handles(struct loopd_task *t);
/* Release every handle; used by the reaper.  api.c */
void		 api_release_handles(struct loopd_task *t);
/* The creation sites of t's open timers and watches, at most max of them
 * in v; returns how many are open.  api.c */
size_t		 api_open_sites(struct loopd_task *t, struct task_site *v,
		    size_t max);
/* The task's log rate limit, from its host: set up by task_new (0 or -1),
 * and ended by the reaper and task_free, which report what it dropped
 * and not yet said, and free its timer.  api.c */
int		 api_rate_init(struct loopd_task *t);
void		 api_rate_end(struct loopd_task *t);

#endif /* LOOPD_TASK_H */
