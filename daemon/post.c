/*
 * post.c: the worker's cross-thread call queue (see post.h), and
 * loopd_post().  Its eventfd is the one way other threads wake the loop.
 *
 * Posters append to `in` under the mutex and write the eventfd only when
 * `in` was empty, so a burst costs one wake-up.  The loop thread swaps
 * `in` with `out` under the mutex and runs `out` without it, so a
 * callback may post again.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>

#include "post.h"
#include "task.h"

struct post_call {
	struct loopd_task	*task;
	loopd_timer_cb		 cb;
	void			*arg;
};

struct post_vec {
	struct post_call	*v;
	size_t			 n, cap;
};

struct post_queue {
	pthread_mutex_t		 mu;
	struct post_vec		 in;		/* under mu */
	struct post_vec		 out;		/* loop thread */
	int			 efd;
	struct event		*ev;
	uint64_t		 dropped;	/* loop thread */
	void			(*hook)(void *);
	void			*hook_ctx;
};

static void
post_wake(evutil_socket_t fd, short what, void *arg)
{
	struct post_queue *q;
	uint64_t v;

	/* Read before taking the calls, so that no wake-up is lost. */
	if (read(fd, &v, sizeof v) < 0 && errno != EAGAIN)
		return;
	post_queue_run(arg);
	q = arg;
	if (q->hook != NULL)
		q->hook(q->hook_ctx);
}

void
post_queue_hook(struct post_queue *q, void (*hook)(void *), void *ctx)
{
	q->hook = hook;
	q->hook_ctx = ctx;
}

void
post_queue_kick(struct post_queue *q)
{
	uint64_t one = 1;

	/* Only a bad fd makes this fail; a full counter still wakes. */
	(void)!write(q->efd, &one, sizeof one);
}

struct post_queue *
post_queue_new(struct event_base *base)
{
	struct post_queue *q;

	if ((q = calloc(1, sizeof *q)) == NULL)
		return NULL;
	pthread_mutex_init(&q->mu, NULL);
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0 || (q->ev = event_new(base, q->efd,
	    EV_READ | EV_PERSIST, post_wake, q)) == NULL ||
	    event_add(q->ev, NULL) < 0) {
		post_queue_free(q);
		return NULL;
	}
	return q;
}

void
post_queue_free(struct post_queue *q)
{
	if (q == NULL)
		return;
	if (q->ev != NULL)
		event_free(q->ev);
	if (q->efd >= 0)
		close(q->efd);
	pthread_mutex_destroy(&q->mu);
	free(q->in.v);
	free(q->out.v);
	free(q);
}

/* Append under q->mu; -1 when memory ran out. */
static int
post_push(struct post_queue *q, const struct post_call *c)
{
	struct post_vec *in = &q->in;
	struct post_call *v;
	size_t cap;
	uint64_t one = 1;
	int wake;

	if (in->n == in->cap) {
		cap = in->cap ? in->cap * 2 : 64;
		if ((v = realloc(in->v, cap * sizeof *v)) == NULL)
			return -1;
		in->v = v;
		in->cap = cap;
	}
	wake = in->n == 0;
	in->v[in->n++] = *c;
	/* Under the mutex: the loop cannot free the queue before this. */
	if (wake && write(q->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		return -1;
	return 0;
}

void
post_task_open(struct loopd_task *t)
{
	struct post_queue *q = t->host->post;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	t->post_open = 1;
	pthread_mutex_unlock(&q->mu);
}

void
post_task_close(struct loopd_task *t)
{
	struct post_queue *q = t->host->post;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->mu);
	t->post_open = 0;
	pthread_mutex_unlock(&q->mu);
}

void
post_queue_run(struct post_queue *q)
{
	struct post_vec tmp;
	struct post_call *c;
	size_t i;

	pthread_mutex_lock(&q->mu);
	tmp = q->out;
	q->out = q->in;
	q->in = tmp;
	q->in.n = 0;
	pthread_mutex_unlock(&q->mu);
	for (i = 0; i < q->out.n; i++) {
		c = &q->out.v[i];
		/* Ended since it was posted: its callbacks are over. */
		if (c->task->ending || !task_is_live(c->task)) {
			q->dropped++;
			continue;
		}
		task_enter(c->task, (task_fn)c->cb);
		c->cb(c->task, c->arg);
		task_leave(c->task);
	}
	q->out.n = 0;
}

uint64_t
post_queue_dropped(const struct post_queue *q)
{
	return q->dropped;
}

int
loopd_post(loopd_task *t, loopd_timer_cb cb, void *arg)
{
	struct post_call c = { .task = t, .cb = cb, .arg = arg };
	struct post_queue *q;
	int rc;

	if (t == NULL || cb == NULL)
		return -LOOPD_EINVAL;
	if ((q = t->host->post) == NULL)
		return -LOOPD_ESTATE;
	pthread_mutex_lock(&q->mu);
	if (!t->post_open)
		rc = -LOOPD_ESTATE;
	else
		rc = post_push(q, &c) < 0 ? -LOOPD_ENOMEM : 0;
	pthread_mutex_unlock(&q->mu);
	return rc;
}
