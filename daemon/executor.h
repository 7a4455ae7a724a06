/*
 * executor.h: a loop's bounded pool of threads for blocking work.
 *
 * loopd_run_in_executor() queues a job; a pool thread runs its work; the
 * job's done callback runs on the loop thread with the job's status.  The
 * queue is bounded (conf->queue): a job that does not fit is rejected at
 * once.  Threads are started on demand up to the pool's size and block
 * every signal.  The pool never touches the event_base or a task: a
 * finished job goes on a completion list under the executor's mutex and
 * the post queue's eventfd wakes the loop (post_queue_kick()), which
 * delivers it.
 *
 * Every job gets exactly one done, before its task's stop hook runs:
 * finished, timed out, cancelled (its task ended) or rejected.  A job
 * whose done was called while its work still runs is orphaned: the work's
 * late return is discarded, the job is freed on the loop thread.
 *
 * Shutdown: executor_stop() refuses new jobs (the worker is cancelling);
 * each task's end cancels its jobs (executor_task_end()); executor_join()
 * waits for running works (within the grace period: the supervisor kills
 * the worker after it) before the tasks are freed, so that a work's
 * loopd_post() never meets a freed task; executor_free() comes last.
 *
 * Loop thread only, but for what pool threads do inside.
 */
#ifndef LOOPD_EXECUTOR_H
#define LOOPD_EXECUTOR_H

#include <stdint.h>

#include "config.h"
#include "task.h"

struct executor;
struct post_queue;
struct loopd_task;

/* The counts of one loop's executor. */
struct executor_stats {
	unsigned	 workers;	/* the pool's size */
	unsigned	 threads;	/* threads started so far */
	uint64_t	 depth;		/* jobs queued now */
	uint64_t	 active;	/* works running now */
	uint64_t	 submitted;	/* accepted or rejected */
	uint64_t	 completed;	/* finished */
	uint64_t	 rejected;
	uint64_t	 timed_out;
	uint64_t	 cancelled;
};

/*
 * A new executor that wakes its loop through post (it takes the queue's
 * hook), for the loop named `loop`; post, conf and loop are borrowed for
 * the executor's life.  NULL when memory ran out.  No thread is started
 * until the first job.
 */
struct executor	*executor_new(const struct executor_conf *conf,
		    struct post_queue *post, const char *loop);
/* Refuse new jobs from now on (-LOOPD_ESTATE). */
void		 executor_stop(struct executor *ex);
/*
 * t is ending: every job of t still without a done gets it now, as
 * cancelled (a queued job never runs).  Waits for a work that has claimed
 * its result (loopd_job_orphaned() returned false) to return.
 */
void		 executor_task_end(struct executor *ex, struct loopd_task *t);
/* Join the pool: running works finish, queued jobs stay queued. */
void		 executor_join(struct executor *ex);
/* Join, log the counts when the executor was used, free.  Every task
 * must have ended (executor_task_end()). */
void		 executor_free(struct executor *ex);
/* Deliver what the pool has finished, as the eventfd would (tests). */
void		 executor_run_completions(struct executor *ex);
/* The creation sites of t's jobs without a done, at most max of them in
 * v; returns how many there are (task.h). */
size_t		 executor_open_sites(struct executor *ex, struct loopd_task *t,
		    struct task_site *v, size_t max);
void		 executor_get_stats(struct executor *ex,
		    struct executor_stats *s);

/* The pool size conf asks for on a machine of ncpu CPUs; "auto" is
 * cpu: ncpu + 1, io: 2 * ncpu capped at EXECUTOR_IO_MAX. */
unsigned	 executor_size(const struct executor_conf *conf, long ncpu);
/* The size past which a pool of that kind is over-provisioned. */
unsigned	 executor_cap(enum conf_exec_kind kind, long ncpu);
/* The number of CPUs this process may use, at least 1. */
long		 executor_ncpu(void);

#define EXECUTOR_IO_MAX	32

#endif /* LOOPD_EXECUTOR_H */
