/*
 * executor.c: a loop's pool of threads for blocking work (executor.h),
 * and loopd_run_in_executor() / loopd_job_orphaned().
 *
 * A job's state lives under ex->mu, and moves
 *   QUEUED -> RUNNING -> [CLAIMED ->] RETURNED      (the pool)
 *   QUEUED -> gone                                  (timeout, task end)
 *   RUNNING -> ORPHANED                             (timeout, task end)
 * `delivered` (loop thread) says done has been called.  The loop thread
 * frees a job when nothing else refers to it: at once for a queued job it
 * takes back, else when the job comes off the completion list.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "executor.h"
#include "log.h"
#include "post.h"
#include "task.h"

enum job_state {
	JOB_QUEUED,
	JOB_RUNNING,
	JOB_CLAIMED,	/* the work said it wants its done */
	JOB_RETURNED,	/* the work returned; on the completion list */
	JOB_ORPHANED,	/* done was called while the work ran */
	JOB_REJECTED,	/* never queued; on the completion list */
};

struct job {
	TAILQ_ENTRY(job)	 qlink;		/* queue or completions, mu */
	TAILQ_ENTRY(job)	 tlink;		/* its task's jobs, loop */
	struct executor		*ex;
	struct loopd_task	*task;
	loopd_work_cb		 work;
	loopd_done_cb		 done;
	void			*arg;
	enum job_state		 state;		/* mu */
	int			 delivered;	/* loop */
	int			 timed;		/* timer armed, loop */
	struct event		*timer;		/* points at the tail */
	void			*site;		/* its creator, debug mode */
};

TAILQ_HEAD(job_queue, job);

struct executor {
	const struct executor_conf *conf;
	const char		*loop;
	unsigned		 size;
	pthread_mutex_t		 mu;
	pthread_cond_t		 work_cv;	/* jobs queued, or quit */
	pthread_cond_t		 claim_cv;	/* a claimed work returned */
	struct job_queue	 queue;		/* mu */
	struct job_queue	 finished;	/* mu */
	uint64_t		 depth, active;	/* mu */
	unsigned		 idle;		/* mu */
	int			 quit;		/* mu */
	pthread_t		*threads;
	unsigned		 nthreads;
	int			 stopping;
	struct post_queue	*post;		/* wakes the loop */
	struct job		*spare;		/* freed jobs kept, loop */
	unsigned		 nspare;
	struct executor_stats	 st;		/* counts of the loop thread */
};

/* The job whose work this pool thread runs now. */
static _Thread_local struct job *job_current;

/* ---- sizes ---------------------------------------------------------------- */

long
executor_ncpu(void)
{
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof set, &set) == 0 &&
	    (n = CPU_COUNT(&set)) > 0)
		return n;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? n : 1;
}

unsigned
executor_cap(enum conf_exec_kind kind, long ncpu)
{
	if (kind == CONF_EXEC_CPU)
		return (unsigned)ncpu + 1;
	return 2 * ncpu > EXECUTOR_IO_MAX ? EXECUTOR_IO_MAX :
	    (unsigned)(2 * ncpu);
}

unsigned
executor_size(const struct executor_conf *conf, long ncpu)
{
	return conf->workers != 0 ? conf->workers :
	    executor_cap(conf->kind, ncpu);
}

/* ---- the pool --------------------------------------------------------------- */

/* Hand j to the loop thread; under mu.  Returns 1 when the loop must be
 * woken (post_queue_kick(), best done after unlocking). */
static int
job_finish_locked(struct executor *ex, struct job *j)
{
	int kick = TAILQ_EMPTY(&ex->finished);

	TAILQ_INSERT_TAIL(&ex->finished, j, qlink);
	return kick;
}

static void *
executor_thread(void *arg)
{
	struct executor *ex = arg;
	struct job *j;
	int kick = 0;

	pthread_mutex_lock(&ex->mu);
	for (;;) {
		if (kick && (TAILQ_EMPTY(&ex->queue) || ex->quit)) {
			pthread_mutex_unlock(&ex->mu);
			post_queue_kick(ex->post);
			pthread_mutex_lock(&ex->mu);
			kick = 0;
		}
		while (TAILQ_EMPTY(&ex->queue) && !ex->quit) {
			ex->idle++;
			pthread_cond_wait(&ex->work_cv, &ex->mu);
			ex->idle--;
		}
		if (ex->quit)
			break;
		j = TAILQ_FIRST(&ex->queue);
		TAILQ_REMOVE(&ex->queue, j, qlink);
		ex->depth--;
		ex->active++;
		j->state = JOB_RUNNING;
		pthread_mutex_unlock(&ex->mu);
		/* The wake-up for the last job, outside the lock. */
		if (kick)
			post_queue_kick(ex->post);
		kick = 0;

		job_current = j;
		j->work(j->arg);
		job_current = NULL;

		pthread_mutex_lock(&ex->mu);
		ex->active--;
		if (j->state == JOB_CLAIMED)
			pthread_cond_broadcast(&ex->claim_cv);
		if (j->state != JOB_ORPHANED)
			j->state = JOB_RETURNED;
		kick |= job_finish_locked(ex, j);
	}
	pthread_mutex_unlock(&ex->mu);
	return NULL;
}

/* One more thread, with every signal blocked; under mu.  -1 on failure. */
static int
executor_spawn(struct executor *ex)
{
	sigset_t all, old;
	int rc;

	if (ex->threads == NULL &&
	    (ex->threads = calloc(ex->size, sizeof *ex->threads)) == NULL)
		return -1;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&ex->threads[ex->nthreads], NULL, executor_thread,
	    ex);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return -1;
	ex->nthreads++;
	ex->st.threads++;
	return 0;
}

bool
loopd_job_orphaned(void)
{
	struct job *j = job_current;
	bool orphaned;

	if (j == NULL)
		return false;
	pthread_mutex_lock(&j->ex->mu);
	orphaned = j->state == JOB_ORPHANED;
	if (!orphaned)
		j->state = JOB_CLAIMED;
	pthread_mutex_unlock(&j->ex->mu);
	return orphaned;
}

/* ---- the loop thread ---------------------------------------------------------- */

#define EXECUTOR_SPARE_MAX	256

/* A job for reuse, so that a steady stream of jobs allocates nothing. */
static struct job *
job_alloc(struct executor *ex)
{
	struct job *j = ex->spare;

	if (j == NULL)
		return malloc(sizeof *j + event_get_struct_event_size());
	ex->spare = (struct job *)j->arg;
	ex->nspare--;
	return j;
}

static void
job_release(struct executor *ex, struct job *j)
{
	if (ex->nspare >= EXECUTOR_SPARE_MAX) {
		free(j);
		return;
	}
	j->task = NULL;
	j->arg = ex->spare;	/* the spare list's link */
	ex->spare = j;
	ex->nspare++;
}

/* Call j's done with status; j leaves its task. */
static void
job_deliver(struct job *j, int status)
{
	struct executor *ex = j->ex;
	struct loopd_task *t = j->task;

	if (j->timed)
		event_del(j->timer);
	j->timed = 0;
	j->delivered = 1;
	TAILQ_REMOVE(&t->jobs, j, tlink);
	switch (status & LOOPD_JOB_STATUS) {
	case LOOPD_JOB_FINISHED:
		ex->st.completed++;
		break;
	case LOOPD_JOB_TIMEDOUT:
		ex->st.timed_out++;
		break;
	case LOOPD_JOB_CANCELLED:
		ex->st.cancelled++;
		break;
	default:
		ex->st.rejected++;
		break;
	}
	task_enter(t, (task_fn)j->done);
	j->done(t, j->arg, status);
	task_leave(t);
}

/*
 * Take j back for `status` (timed out, cancelled): a queued job is
 * delivered and freed, a running one delivered and orphaned, one whose
 * work has returned delivered and left for the completion list.
 */
static void
job_take_back(struct job *j, int status)
{
	struct executor *ex = j->ex;
	enum job_state s;

	pthread_mutex_lock(&ex->mu);
	while (j->state == JOB_CLAIMED && status == LOOPD_JOB_CANCELLED)
		pthread_cond_wait(&ex->claim_cv, &ex->mu);
	s = j->state;
	if (s == JOB_QUEUED) {
		TAILQ_REMOVE(&ex->queue, j, qlink);
		ex->depth--;
	} else if (s == JOB_RUNNING)
		j->state = JOB_ORPHANED;
	pthread_mutex_unlock(&ex->mu);
	switch (s) {
	case JOB_QUEUED:
		job_deliver(j, status);
		job_release(ex, j);
		break;
	case JOB_RUNNING:
		job_deliver(j, status | LOOPD_JOB_RUNNING);
		break;
	case JOB_CLAIMED:	/* a timeout: the result is claimed */
		break;
	case JOB_RETURNED:
		/* Its completion is on the way; the task ends first. */
		if (status == LOOPD_JOB_CANCELLED)
			job_deliver(j, status);
		break;
	case JOB_REJECTED:
		job_deliver(j, LOOPD_JOB_REJECTED);
		break;
	case JOB_ORPHANED:
		break;
	}
}

static void
job_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;

	j->timed = 0;
	if (!j->delivered)
		job_take_back(j, LOOPD_JOB_TIMEDOUT);
}

void
executor_run_completions(struct executor *ex)
{
	struct job_queue done;
	struct job *j;

	TAILQ_INIT(&done);
	pthread_mutex_lock(&ex->mu);
	TAILQ_CONCAT(&done, &ex->finished, qlink);
	pthread_mutex_unlock(&ex->mu);
	while ((j = TAILQ_FIRST(&done)) != NULL) {
		TAILQ_REMOVE(&done, j, qlink);
		/* ORPHANED: done was called; the late result is dropped. */
		if (!j->delivered)
			job_deliver(j, j->state == JOB_REJECTED ?
			    LOOPD_JOB_REJECTED : LOOPD_JOB_FINISHED);
		job_release(ex, j);
	}
}

static void
executor_wake(void *arg)
{
	executor_run_completions(arg);
}

struct executor *
executor_new(const struct executor_conf *conf, struct post_queue *post,
    const char *loop)
{
	struct executor *ex;

	if (post == NULL || (ex = calloc(1, sizeof *ex)) == NULL)
		return NULL;
	ex->conf = conf;
	ex->loop = loop;
	ex->size = executor_size(conf, executor_ncpu());
	pthread_mutex_init(&ex->mu, NULL);
	pthread_cond_init(&ex->work_cv, NULL);
	pthread_cond_init(&ex->claim_cv, NULL);
	TAILQ_INIT(&ex->queue);
	TAILQ_INIT(&ex->finished);
	ex->post = post;
	post_queue_hook(post, executor_wake, ex);
	return ex;
}

void
executor_stop(struct executor *ex)
{
	if (ex != NULL)
		ex->stopping = 1;
}

void
executor_task_end(struct executor *ex, struct loopd_task *t)
{
	struct job *j;

	if (ex == NULL)
		return;
	while ((j = TAILQ_FIRST(&t->jobs)) != NULL)
		job_take_back(j, LOOPD_JOB_CANCELLED);
}

void
executor_get_stats(struct executor *ex, struct executor_stats *s)
{
	*s = ex->st;
	s->workers = ex->size;
	pthread_mutex_lock(&ex->mu);
	s->depth = ex->depth;
	s->active = ex->active;
	pthread_mutex_unlock(&ex->mu);
}

static void
executor_log_stats(struct executor *ex)
{
	struct executor_stats s;
	json_t *r;

	executor_get_stats(ex, &s);
	if (s.submitted == 0)
		return;
	r = log_record(LOOPD_LOG_INFO, "executor of loop '%s': %llu jobs, "
	    "%llu completed, %llu rejected, %llu timed out, %llu cancelled",
	    ex->loop, (unsigned long long)s.submitted,
	    (unsigned long long)s.completed, (unsigned long long)s.rejected,
	    (unsigned long long)s.timed_out, (unsigned long long)s.cancelled);
	/* No "event": the supervisor lets workers name only its own few. */
	log_add(r, "loop", ex->loop);
	log_add_int(r, "executor_workers", s.workers);
	log_add_int(r, "executor_threads", s.threads);
	log_add_int(r, "jobs_submitted", (int64_t)s.submitted);
	log_add_int(r, "jobs_completed", (int64_t)s.completed);
	log_add_int(r, "jobs_rejected", (int64_t)s.rejected);
	log_add_int(r, "jobs_timed_out", (int64_t)s.timed_out);
	log_add_int(r, "jobs_cancelled", (int64_t)s.cancelled);
	log_emit(r);
}

void
executor_join(struct executor *ex)
{
	unsigned i;

	if (ex == NULL)
		return;
	pthread_mutex_lock(&ex->mu);
	ex->quit = 1;
	pthread_cond_broadcast(&ex->work_cv);
	pthread_mutex_unlock(&ex->mu);
	for (i = 0; i < ex->nthreads; i++)
		pthread_join(ex->threads[i], NULL);
	ex->nthreads = 0;
	ex->stopping = 1;
}

void
executor_free(struct executor *ex)
{
	struct job *j;

	if (ex == NULL)
		return;
	executor_join(ex);
	/* Every task has ended: what is left was delivered already. */
	while ((j = TAILQ_FIRST(&ex->finished)) != NULL) {
		TAILQ_REMOVE(&ex->finished, j, qlink);
		free(j);
	}
	while ((j = TAILQ_FIRST(&ex->queue)) != NULL) {
		TAILQ_REMOVE(&ex->queue, j, qlink);
		free(j);
	}
	while ((j = ex->spare) != NULL) {
		ex->spare = j->arg;
		free(j);
	}
	executor_log_stats(ex);
	post_queue_hook(ex->post, NULL, NULL);
	pthread_cond_destroy(&ex->claim_cv);
	pthread_cond_destroy(&ex->work_cv);
	pthread_mutex_destroy(&ex->mu);
	free(ex->threads);
	free(ex);
}

/* ---- the API ------------------------------------------------------------------ */

int
loopd_run_in_executor(loopd_task *t, loopd_work_cb work, loopd_done_cb done,
    void *arg, uint64_t timeout_ms)
{
	struct executor *ex;
	struct job *j;
	struct timeval tv;
	int rc = 0, kick = 0;

	if (t == NULL || work == NULL || done == NULL)
		return -LOOPD_EINVAL;
	ex = t->host->exec;
	if (ex == NULL || ex->stopping || t->ending || !task_is_live(t))
		return -LOOPD_ESTATE;
	if ((j = job_alloc(ex)) == NULL)
		return -LOOPD_ENOMEM;
	*j = (struct job){ .ex = ex, .task = t, .work = work, .done = done,
	    .arg = arg, .timer = (struct event *)(void *)(j + 1),
	    .site = t->host->debug ? __builtin_return_address(0) : NULL };
	pthread_mutex_lock(&ex->mu);
	if (ex->depth >= ex->conf->queue) {
		j->state = JOB_REJECTED;
		kick = job_finish_locked(ex, j);
		rc = -LOOPD_EFULL;
	} else if (ex->idle == 0 && ex->nthreads < ex->size &&
	    executor_spawn(ex) < 0 && ex->nthreads == 0) {
		pthread_mutex_unlock(&ex->mu);
		job_release(ex, j);
		return -LOOPD_ESYS;
	} else {
		j->state = JOB_QUEUED;
		TAILQ_INSERT_TAIL(&ex->queue, j, qlink);
		ex->depth++;
		if (ex->idle > 0)
			pthread_cond_signal(&ex->work_cv);
	}
	pthread_mutex_unlock(&ex->mu);
	if (kick)
		post_queue_kick(ex->post);	/* its done, on the next turn */
	ex->st.submitted++;
	TAILQ_INSERT_TAIL(&t->jobs, j, tlink);
	if (rc == 0 && timeout_ms > 0) {
		tv.tv_sec = (time_t)(timeout_ms / 1000);
		tv.tv_usec = (suseconds_t)(timeout_ms % 1000) * 1000;
		evtimer_assign(j->timer, t->host->base, job_timeout, j);
		if (evtimer_add(j->timer, &tv) == 0)
			j->timed = 1;
	}
	return rc;
}

size_t
executor_open_sites(struct executor *ex, struct loopd_task *t,
    struct task_site *v, size_t max)
{
	struct job *j;
	size_t n = 0;

	if (ex == NULL)
		return 0;
	TAILQ_FOREACH(j, &t->jobs, tlink) {
		if (j->delivered)
			continue;
		if (n < max)
			v[n] = (struct task_site){ "job", j->site };
		n++;
	}
	return n;
}
