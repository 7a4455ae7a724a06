/*
 * api.c: the public loopd_* functions a plugin calls.
 *
 * Thin: check the arguments and the task's state, then act.  Timers,
 * watches and deferred calls are one kind of object, a handle: one
 * allocation that holds the libevent event at its tail, linked into its
 * task's list so that the task's end can release whatever is left.  Firing
 * a handle allocates nothing and copies nothing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "task.h"

enum handle_kind {
	HANDLE_TIMER,
	HANDLE_WATCH,
	HANDLE_SOON,
};

#define HANDLE_FIRING	0x01	/* its callback runs now */
#define HANDLE_DEAD	0x02	/* cancelled inside its callback */
#define HANDLE_CLOSE	0x04	/* the watch owns its fd */
#define HANDLE_ARMED	0x08	/* ev has been assigned */

struct handle {
	TAILQ_ENTRY(handle)	 link;
	struct loopd_task	*task;
	enum handle_kind	 kind;
	int			 flags;
	int			 events;	/* watch: LOOPD_READ|LOOPD_WRITE */
	int			 fd;
	struct timeval		 every;		/* periodic timer */
	union {
		loopd_timer_cb	 timer;
		loopd_watch_cb	 watch;
	} cb;
	void			*arg;
	struct event		*ev;		/* points at the tail */
};

/* The public handle types are handles. */
struct loopd_timer {
	struct handle	h;
};

struct loopd_watch {
	struct handle	h;
};

static int
task_usable(const struct loopd_task *t)
{
	return t != NULL && !t->ending && t->state < TASK_DONE;
}

static struct handle *
handle_new(struct loopd_task *t, enum handle_kind kind, void *arg)
{
	struct handle *h;

	/* struct loopd_timer/watch are exactly a handle, so one size fits. */
	h = calloc(1, sizeof *h + event_get_struct_event_size());
	if (h == NULL)
		return NULL;
	h->task = t;
	h->kind = kind;
	h->fd = -1;
	h->arg = arg;
	h->ev = (struct event *)(void *)(h + 1);
	TAILQ_INSERT_TAIL(&t->handles, h, link);
	return h;
}

static void
handle_free(struct handle *h)
{
	if (h->flags & HANDLE_ARMED)
		event_del(h->ev);
	TAILQ_REMOVE(&h->task->handles, h, link);
	if (h->flags & HANDLE_CLOSE)
		close(h->fd);
	free(h);
}

/* Release now, or after the callback that is running returns. */
static void
handle_cancel(struct handle *h)
{
	if (h->flags & HANDLE_FIRING) {
		event_del(h->ev);
		h->flags |= HANDLE_DEAD;
	} else
		handle_free(h);
}

void
api_disarm_handles(struct loopd_task *t)
{
	struct handle *h;

	TAILQ_FOREACH(h, &t->handles, link)
		if (h->flags & HANDLE_ARMED)
			event_del(h->ev);
}

void
api_release_handles(struct loopd_task *t)
{
	struct handle *h;

	while ((h = TAILQ_FIRST(&t->handles)) != NULL)
		handle_free(h);
}

/* ---- the task ---------------------------------------------------------- */

const char *
loopd_task_name(const loopd_task *t)
{
	return t ? t->conf->name : NULL;
}

const char *
loopd_task_loop(const loopd_task *t)
{
	return t ? t->host->loop : NULL;
}

struct event_base *
loopd_task_base(loopd_task *t)
{
	return t ? t->host->base : NULL;
}

bool
loopd_task_ending(const loopd_task *t)
{
	return t == NULL || t->ending || t->state >= TASK_DONE;
}

void
loopd_task_done(loopd_task *t)
{
	if (t != NULL)
		task_end(t, NULL, NULL);
}

void
loopd_task_fail(loopd_task *t, const char *type, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (t == NULL || t->ending)
		return;
	va_start(ap, fmt);
	if (fmt == NULL || vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	task_end(t, type && *type ? type : "error", msg ? msg : "(no message)");
	free(msg);
}

void
loopd_log(loopd_task *t, int level, const char *fmt, ...)
{
	va_list ap;
	json_t *r;

	if (t == NULL || fmt == NULL)
		return;
	if (level < LOOPD_LOG_DEBUG || level > LOOPD_LOG_ERROR)
		level = LOOPD_LOG_ERROR;
	va_start(ap, fmt);
	r = log_vrecord(level, fmt, ap);
	va_end(ap);
	log_add(r, "loop", t->host->loop);
	log_add(r, "task", t->conf->name);
	log_add(r, "plugin", t->conf->plugin);
	log_emit(r);
}

/* ---- timers and deferred calls ------------------------------------------ */

static void
timer_fire(evutil_socket_t fd, short what, void *arg)
{
	struct handle *h = arg;
	struct loopd_task *t = h->task;
	int first_of_periodic = h->kind == HANDLE_TIMER &&
	    h->every.tv_sec + h->every.tv_usec > 0 &&
	    !(event_get_events(h->ev) & EV_PERSIST);

	if (t->ending)
		return;		/* the reaper releases it */
	if (first_of_periodic) {
		/* After the first delay, the period: libevent keeps a
		 * persistent timer on schedule without drift. */
		event_assign(h->ev, t->host->base, -1, EV_PERSIST, timer_fire, h);
		event_add(h->ev, &h->every);
	}
	h->flags |= HANDLE_FIRING;
	task_enter(t);
	h->cb.timer(t, h->arg);
	task_leave(t);
	h->flags &= ~HANDLE_FIRING;
	if ((h->flags & HANDLE_DEAD) || !(event_get_events(h->ev) & EV_PERSIST))
		handle_free(h);
}

static struct timeval
ms_to_tv(uint64_t ms)
{
	struct timeval tv = {
		.tv_sec = (time_t)(ms / 1000),
		.tv_usec = (suseconds_t)(ms % 1000) * 1000,
	};
	return tv;
}

loopd_timer *
loopd_timer_start(loopd_task *t, uint64_t delay_ms, uint64_t every_ms,
    loopd_timer_cb cb, void *arg)
{
	struct handle *h;
	struct timeval delay = ms_to_tv(delay_ms);
	short flags = 0;

	if (!task_usable(t) || cb == NULL)
		return NULL;
	if ((h = handle_new(t, HANDLE_TIMER, arg)) == NULL)
		return NULL;
	h->cb.timer = cb;
	h->every = ms_to_tv(every_ms);
	if (every_ms > 0 && every_ms == delay_ms)
		flags = EV_PERSIST;
	event_assign(h->ev, t->host->base, -1, flags, timer_fire, h);
	h->flags |= HANDLE_ARMED;
	if (event_add(h->ev, &delay) < 0) {
		handle_free(h);
		return NULL;
	}
	return (loopd_timer *)h;
}

void
loopd_timer_cancel(loopd_timer *timer)
{
	if (timer != NULL)
		handle_cancel(&timer->h);
}

int
loopd_call_soon(loopd_task *t, loopd_timer_cb cb, void *arg)
{
	static const struct timeval now = { 0, 0 };
	struct handle *h;

	if (cb == NULL)
		return -LOOPD_EINVAL;
	if (!task_usable(t))
		return -LOOPD_ESTATE;
	if ((h = handle_new(t, HANDLE_SOON, arg)) == NULL)
		return -LOOPD_ENOMEM;
	h->cb.timer = cb;
	event_assign(h->ev, t->host->base, -1, 0, timer_fire, h);
	h->flags |= HANDLE_ARMED;
	event_add(h->ev, &now);
	return 0;
}

/* ---- file descriptors ---------------------------------------------------- */

static void
watch_fire(evutil_socket_t fd, short what, void *arg)
{
	struct handle *h = arg;
	struct loopd_task *t = h->task;
	int ready = (what & EV_READ ? LOOPD_READ : 0) |
	    (what & EV_WRITE ? LOOPD_WRITE : 0);

	if (t->ending)
		return;		/* the reaper releases it */
	h->flags |= HANDLE_FIRING;
	task_enter(t);
	h->cb.watch(t, fd, ready, h->arg);
	task_leave(t);
	h->flags &= ~HANDLE_FIRING;
	if (h->flags & HANDLE_DEAD)
		handle_free(h);
}

static int
watch_arm(struct handle *h, int events)
{
	short what = EV_PERSIST | (events & LOOPD_READ ? EV_READ : 0) |
	    (events & LOOPD_WRITE ? EV_WRITE : 0);

	if (h->flags & HANDLE_ARMED)
		event_del(h->ev);
	h->events = events;
	event_assign(h->ev, h->task->host->base, h->fd, what, watch_fire, h);
	h->flags |= HANDLE_ARMED;
	if (events != 0 && event_add(h->ev, NULL) < 0)
		return -LOOPD_ESYS;
	return 0;
}

loopd_watch *
loopd_watch_fd(loopd_task *t, int fd, int events, loopd_watch_cb cb,
    void *arg)
{
	struct handle *h;
	int watched = events & (LOOPD_READ | LOOPD_WRITE);

	if (!task_usable(t) || cb == NULL || fd < 0 ||
	    (events & ~(LOOPD_READ | LOOPD_WRITE | LOOPD_WATCH_CLOSE)) != 0)
		return NULL;
	if ((h = handle_new(t, HANDLE_WATCH, arg)) == NULL)
		return NULL;
	h->cb.watch = cb;
	h->fd = fd;
	if (watch_arm(h, watched) < 0) {
		handle_free(h);
		return NULL;
	}
	/* Own the fd only once the watch exists: on failure it stays yours. */
	if (events & LOOPD_WATCH_CLOSE)
		h->flags |= HANDLE_CLOSE;
	return (loopd_watch *)h;
}

int
loopd_watch_set(loopd_watch *watch, int events)
{
	struct handle *h;

	if (watch == NULL || (events & ~(LOOPD_READ | LOOPD_WRITE)) != 0)
		return -LOOPD_EINVAL;
	h = &watch->h;
	if ((h->flags & HANDLE_DEAD) || !task_usable(h->task))
		return -LOOPD_ESTATE;
	if (events == h->events)
		return 0;
	return watch_arm(h, events);
}

void
loopd_watch_cancel(loopd_watch *watch)
{
	if (watch != NULL)
		handle_cancel(&watch->h);
}
