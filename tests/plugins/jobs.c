/*
 * jobs: a test plugin that feeds its loop's executor and counts every done.
 *
 *   config:
 *     jobs: 10            # jobs submitted by start, all at once
 *     work: 10ms          # how long each work blocks (a sleep)
 *     timeout: 0          # each job's timeout (0: none)
 *     end: all            # all: end the task once every done came;
 *                         # cancel: end at once when cancelled, jobs or not
 *
 * start logs "submitted N: A accepted, R rejected at once"; the last done
 * logs "dones: N of N, finished F, timed out T, cancelled C, rejected R,
 * running W" (W: dones that left their work running).  A work that runs
 * posts one call back to the loop (loopd_post); its count is logged too.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include <loopd/plugin.h>

struct jobs {
	int64_t		 n, work_ms, timeout_ms;
	int		 end_on_cancel;
	int64_t		 accepted, rejected, ndone;
	int64_t		 by[4], running, posted;
};

struct job {
	struct jobs	*j;		/* not touched by the work */
	loopd_task	*task;
	int64_t		 work_ms;
};

static void
job_posted(loopd_task *t, void *arg)
{
	((struct jobs *)arg)->posted++;
}

static void
job_work(void *arg)
{
	struct job *jb = arg;
	struct timespec ts = { .tv_sec = jb->work_ms / 1000,
	    .tv_nsec = (jb->work_ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
	if (loopd_job_orphaned()) {
		free(jb);	/* nobody waits for it: ours to free */
		return;
	}
	(void)loopd_post(jb->task, job_posted, jb->j);
}

static void
job_done(loopd_task *t, void *arg, int status)
{
	struct job *jb = arg;
	struct jobs *j = jb->j;

	j->by[status & LOOPD_JOB_STATUS]++;
	if (status & LOOPD_JOB_RUNNING)
		j->running++;	/* the work frees jb */
	else
		free(jb);
	if (++j->ndone < j->accepted + j->rejected)
		return;
	loopd_log(t, LOOPD_LOG_INFO, "dones: %lld of %lld, finished %lld, "
	    "timed out %lld, cancelled %lld, rejected %lld, running %lld",
	    (long long)j->ndone, (long long)j->n,
	    (long long)j->by[LOOPD_JOB_FINISHED],
	    (long long)j->by[LOOPD_JOB_TIMEDOUT],
	    (long long)j->by[LOOPD_JOB_CANCELLED],
	    (long long)j->by[LOOPD_JOB_REJECTED], (long long)j->running);
	if (!j->end_on_cancel)
		loopd_task_done(t);
}

static int
jobs_start(loopd_task *t, const loopd_args *args, void **state)
{
	struct jobs *j;
	struct job *jb;
	int64_t i;
	int rc;

	if ((j = calloc(1, sizeof *j)) == NULL)
		return -1;
	*state = j;
	j->n = loopd_args_int(args, "jobs", 10);
	j->work_ms = loopd_args_duration_ms(args, "work", 10);
	j->timeout_ms = loopd_args_duration_ms(args, "timeout", 0);
	j->end_on_cancel = loopd_args_string(args, "end", "all")[0] == 'c';
	for (i = 0; i < j->n; i++) {
		if ((jb = malloc(sizeof *jb)) == NULL)
			return -1;
		*jb = (struct job){ .j = j, .task = t, .work_ms = j->work_ms };
		rc = loopd_run_in_executor(t, job_work, job_done, jb,
		    (uint64_t)j->timeout_ms);
		if (rc == 0)
			j->accepted++;
		else if (rc == -LOOPD_EFULL)
			j->rejected++;	/* done still comes, with REJECTED */
		else {
			free(jb);
			loopd_task_fail(t, "executor", "job %lld: error %d",
			    (long long)i, rc);
			return -1;
		}
	}
	loopd_log(t, LOOPD_LOG_INFO, "submitted %lld: %lld accepted, %lld "
	    "rejected at once", (long long)j->n, (long long)j->accepted,
	    (long long)j->rejected);
	return 0;
}

static void
jobs_cancel(loopd_task *t, void *state)
{
	struct jobs *j = state;

	loopd_log(t, LOOPD_LOG_INFO, "cancelled with %lld dones of %lld, "
	    "%lld posted", (long long)j->ndone,
	    (long long)(j->accepted + j->rejected), (long long)j->posted);
	loopd_task_done(t);
}

static void
jobs_stop(void *state)
{
	free(state);
}

LOOPD_PLUGIN(.name = "jobs", .version = "1.0", .start = jobs_start,
    .cancel = jobs_cancel, .stop = jobs_stop);
