/* exec-raw: the raw peer of the executor benchmark (run-exec.sh): round
 * trips through a pthread pool on a plain libevent loop, jobs/second.
 *
 *   exec-raw eventfd|active THREADS INFLIGHT SECONDS [WORK_NS]
 *
 * THREADS pthreads take jobs from a mutex/condvar queue, spin WORK_NS
 * (default 1000, "1 us of work") and hand each job back to the loop thread:
 *   eventfd  push it on a completion list and write an eventfd when the list
 *            was empty: one wake-up per batch; libevent has no locks.
 *   active   event_active() on the job's own event from the worker thread
 *            (evthread_use_pthreads; libevent wakes its loop by itself).
 * The loop keeps INFLIGHT jobs outstanding: each completion submits a new one.
 */
#include "common.h"
#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct job {
	struct job *next;
	struct event *ev;       /* active mode only */
};

static struct {
	pthread_mutex_t mu;     /* submission queue */
	pthread_cond_t cv;
	struct job *head, *tail;
	int quit;
	pthread_mutex_t dmu;    /* completion list (eventfd mode) */
	struct job *done;
	int efd;
} q = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
	.dmu = PTHREAD_MUTEX_INITIALIZER, .efd = -1 };

static struct event_base *base;
static uint64_t work_ns, completed;
static int use_active, stopping;

static void submit(struct job *j)
{
	j->next = NULL;
	pthread_mutex_lock(&q.mu);
	if (q.tail)
		q.tail->next = j;
	else
		q.head = j;
	q.tail = j;
	pthread_cond_signal(&q.cv);
	pthread_mutex_unlock(&q.mu);
}

static void *worker(void *unused)
{
	(void)unused;
	for (;;) {
		pthread_mutex_lock(&q.mu);
		while (!q.head && !q.quit)
			pthread_cond_wait(&q.cv, &q.mu);
		if (q.quit) {
			pthread_mutex_unlock(&q.mu);
			return NULL;
		}
		struct job *j = q.head;
		if (!(q.head = j->next))
			q.tail = NULL;
		pthread_mutex_unlock(&q.mu);

		for (uint64_t end = now_ns() + work_ns; now_ns() < end;)
			;
		if (use_active) {
			event_active(j->ev, EV_READ, 0);
			continue;
		}
		pthread_mutex_lock(&q.dmu);
		int was_empty = !q.done;
		j->next = q.done;
		q.done = j;
		pthread_mutex_unlock(&q.dmu);
		if (was_empty && write(q.efd, &(uint64_t){1}, 8) != 8)
			die("exec-raw: eventfd write: %s", strerror(errno));
	}
}

static void job_done(struct job *j)
{
	if (stopping)
		return;
	completed++;
	submit(j);
}

static void on_eventfd(evutil_socket_t fd, short what, void *arg)
{
	uint64_t v;
	(void)what, (void)arg;
	/* Reset the eventfd before taking the list, so no wake-up is lost. */
	if (read(fd, &v, sizeof v) != sizeof v)
		return;
	pthread_mutex_lock(&q.dmu);
	struct job *j = q.done;
	q.done = NULL;
	pthread_mutex_unlock(&q.dmu);
	while (j) {
		struct job *next = j->next;
		job_done(j);
		j = next;
	}
}

static void on_active(evutil_socket_t fd, short what, void *job)
{
	(void)fd, (void)what;
	job_done(job);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	stopping = 1;
	event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
	if (argc != 5 && argc != 6)
		die("usage: exec-raw eventfd|active THREADS INFLIGHT SECONDS [WORK_NS]");
	use_active = !strcmp(argv[1], "active");
	if (!use_active && strcmp(argv[1], "eventfd"))
		die("exec-raw: mode must be eventfd or active, not '%s'", argv[1]);
	int nthreads = arg_num(argv[2], "THREADS", 1, 1024);
	int inflight = arg_num(argv[3], "INFLIGHT", 1, 1000000);
	double secs = arg_num(argv[4], "SECONDS", 0.1, 3600);
	work_ns = argc == 6 ? arg_num(argv[5], "WORK_NS", 0, 1e9) : 1000;

	if (use_active && evthread_use_pthreads() < 0)
		die("exec-raw: evthread_use_pthreads failed");
	if (!(base = event_base_new()))
		die("exec-raw: cannot create an event base");
	struct event *efd_ev = NULL;
	if (!use_active) {
		if ((q.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
			die("exec-raw: eventfd: %s", strerror(errno));
		efd_ev = event_new(base, q.efd, EV_READ | EV_PERSIST, on_eventfd, NULL);
		event_add(efd_ev, NULL);
	}
	struct timeval tv = { (time_t)secs, (suseconds_t)((secs - (time_t)secs) * 1e6) };
	struct event *timer = evtimer_new(base, on_deadline, NULL);
	evtimer_add(timer, &tv);

	pthread_t *th = calloc(nthreads, sizeof *th);
	struct job *jobs = calloc(inflight, sizeof *jobs);
	if (!th || !jobs)
		die("exec-raw: out of memory");
	for (int i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, worker, NULL))
			die("exec-raw: cannot start worker thread %d", i + 1);
	uint64_t start = now_ns();
	for (int i = 0; i < inflight; i++) {
		if (use_active)
			jobs[i].ev = event_new(base, -1, 0, on_active, &jobs[i]);
		submit(&jobs[i]);
	}
	event_base_dispatch(base);
	double el = (now_ns() - start) / 1e9;

	pthread_mutex_lock(&q.mu);
	q.quit = 1;
	pthread_cond_broadcast(&q.cv);
	pthread_mutex_unlock(&q.mu);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	printf("impl=libevent-%s threads=%d inflight=%d work_ns=%llu secs=%.2f jobs=%llu "
	       "jobs_s=%.0f\n", argv[1], nthreads, inflight, (unsigned long long)work_ns, el,
	       (unsigned long long)completed, completed / el);
	return 0;
}
