/*
 * api.c: the public loopd_* functions a plugin calls.
 *
 * Thin: check the arguments and the task's state, then act.  Timers and
 * watches are one kind of object, a handle: one allocation that holds a
 * libevent event at its tail, linked into its task's list so that the
 * task's end can release whatever is left.  Firing a handle allocates
 * nothing and copies nothing.  A timer with a delay waits in the loop's
 * queue of its duration (timerq.h) and leaves its event alone; a timer of
 * no delay, or of a duration past the ones a loop queues, and a watch use
 * the event.
 *
 * Deferred calls (loopd_call_soon) are not handles: each task keeps a ring
 * of (callback, argument) pairs and one event that runs them.  The ring
 * grows by doubling and never shrinks, so that a call allocates nothing
 * once the ring has reached its working size.  The event is made active
 * (event_active(), no timer heap), and libevent is told to poll before it
 * runs another callback (event_base_loopcontinue()): the calls made while
 * the ring runs wait for the next turn of the loop, after it has polled,
 * and after every callback that was active before them, so a chain of
 * calls cannot starve I/O.
 *
 * A plugin never holds a pointer to a handle.  The loopd_timer * and
 * loopd_watch * it gets are ids: a slot of the process's handle table and
 * the slot's generation, which grows each time the slot is released.  Every
 * function that takes one looks it up first, so a released, doubly
 * cancelled or made-up id finds nothing and touches no memory.  The table
 * is the one process-wide object here: an id must lead to its handle
 * without any other context.  Slots are reused oldest first, so an id only
 * comes back to life after its slot has been reused 2^32 times (2^16 on a
 * 32-bit system).
 */
#include <limits.h>
#include <stddef.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "ipc.h"
#include "listen.h"
#include "log.h"
#include "monotime.h"
#include "msg.h"
#include "task.h"
#include "timerq.h"

enum handle_kind {
	HANDLE_TIMER,
	HANDLE_WATCH,
	HANDLE_SOON,
};

#define HANDLE_FIRING	0x01	/* its callback runs now */
#define HANDLE_DEAD	0x02	/* cancelled inside its callback */
#define HANDLE_CLOSE	0x04	/* the watch owns its fd */
#define HANDLE_PENDING	0x08	/* in the loop (a one-shot: until it fires) */
#define HANDLE_PERSIST	0x10	/* a timer that fires every period */
#define HANDLE_PERIODIC	0x20	/* a timer whose period starts after its
				   first delay (every) */
#define HANDLE_RETIRED	0x40	/* its id names nothing any more */
#define HANDLE_QUEUED	0x80	/* a timer in the loop's timerq, not ev */

/*
 * What starting, firing and releasing a timer touch comes first and fills
 * one cache line (on 64-bit systems); a timer in a queue (timerq.h) never
 * touches its event, which starts on the next line boundary after the
 * rest.
 */
struct handle {
	struct loopd_task	*task;
	union {
		loopd_timer_cb	 timer;
		loopd_watch_cb	 watch;
	} cb;
	void			*arg;
	struct timerq_entry	 tq;		/* HANDLE_QUEUED */
	struct timerq_group	*group;		/* HANDLE_QUEUED: its queue */
	uint16_t		 flags;
	uint8_t			 kind;		/* enum handle_kind */
	uint32_t		 gen;		/* its id's generation */
	/* Starting and releasing: the handle's task and table. */
	TAILQ_ENTRY(handle)	 link;		/* its task's, or table.spare */
	uint32_t		 slot;		/* its slot in the table */
	/* Watches, libevent timers, periodic timers and debug mode. */
	int			 fd;
	int			 events;	/* LOOPD_READ|LOOPD_WRITE */
	union {
		struct timerq_group *group;	/* queued */
		uint64_t	 ms;		/* on the heap */
	}			 every;		/* HANDLE_PERIODIC */
	void			*site;		/* its creator: debug mode */
	struct hblock		*block;		/* the block it is in */
};

/* A block of handles (below); the handles follow, on whole lines. */
struct hblock {
	unsigned		 n;		/* handles in it */
	unsigned		 nspare;	/* of those, released */
};
_Static_assert(sizeof(struct hblock) <= 64, "a block's header is a line");

#define CACHE_LINE	64
_Static_assert(sizeof(void *) != 8 ||
    offsetof(struct handle, link) == CACHE_LINE,
    "a timer's hot fields fill the handle's first cache line");
#define HANDLE_EV_OFF	((sizeof(struct handle) + CACHE_LINE - 1) & \
			    ~(size_t)(CACHE_LINE - 1))

static struct event *
handle_ev(struct handle *h)
{
	return (struct event *)(void *)((char *)h + HANDLE_EV_OFF);
}

/* ---- the handle table ---------------------------------------------------- */

/*
 * An id is (generation << ID_HALF) | (slot << 1) | 1.  The low bit keeps
 * every id odd, so no aligned pointer is ever taken for one.
 */
#define ID_HALF		(sizeof(uintptr_t) * CHAR_BIT / 2)
#define ID_GEN_MASK	(((uintptr_t)1 << ID_HALF) - 1)
#define ID_SLOTS_MAX	((size_t)1 << (ID_HALF - 1))
#define SLOT_NONE	SIZE_MAX

struct slot {
	struct handle	*h;		/* NULL when free */
	uintptr_t	 gen;
	size_t		 next;		/* the next free slot, or SLOT_NONE */
};

/*
 * Handles come from blocks of HANDLE_BLOCK, each handle on its own cache
 * lines, and a released handle is kept for reuse: a timer costs no
 * allocation once the loop has warmed up, and no malloc header sits
 * between two handles.  Past HANDLE_RESERVE spare handles, a block whose
 * handles are all spare goes back to the system.  A spare handle keeps
 * its slot: its generation was bumped when it was released, so its old
 * ids name nothing, and its next id takes the next generation of the same
 * slot.  Releasing and reusing it then write only the handle, never the
 * table, whose lines are cold in a busy loop.  A block given back frees
 * its handles' slots (oldest first) with their generations, so an id
 * only comes back after 2^32 reuses of its slot.  Under AddressSanitizer,
 * which must see each handle's use after free, a block is one handle and
 * none is kept.
 */
#if defined(__SANITIZE_ADDRESS__)
#define HANDLE_BLOCK	1
#define HANDLE_RESERVE	0
#else
#define HANDLE_BLOCK	31		/* with its header: 8,000 bytes */
#define HANDLE_RESERVE	1024
#endif

static struct {
	struct slot	*slots;
	size_t		 n;		/* slots ever used */
	size_t		 cap;
	size_t		 free_head;	/* released slots, oldest first */
	size_t		 free_tail;
	struct handle_list spare;	/* released, the last first */
	size_t		 nspare;
} table = { .free_head = SLOT_NONE, .free_tail = SLOT_NONE,
    .spare = TAILQ_HEAD_INITIALIZER(table.spare) };

static uintptr_t
id_make(size_t slot, uintptr_t gen)
{
	return (gen << ID_HALF) | ((uintptr_t)slot << 1) | 1;
}

/* Give h an id; -1 when the table cannot grow. */
static int
table_add(struct handle *h)
{
	struct slot *s;
	size_t i, cap;

	if (table.free_head != SLOT_NONE) {
		i = table.free_head;
		table.free_head = table.slots[i].next;
		if (table.free_head == SLOT_NONE)
			table.free_tail = SLOT_NONE;
	} else {
		if (table.n == table.cap) {
			cap = table.cap ? table.cap * 2 : 64;
			if (cap > ID_SLOTS_MAX)
				cap = ID_SLOTS_MAX;
			if (cap == table.cap || (s = realloc(table.slots,
			    cap * sizeof *s)) == NULL)
				return -1;
			table.slots = s;
			table.cap = cap;
		}
		i = table.n++;
		table.slots[i].gen = 1;
	}
	table.slots[i].h = h;
	table.slots[i].next = SLOT_NONE;
	h->slot = (uint32_t)i;
	h->gen = (uint32_t)table.slots[i].gen;
	return 0;
}

/* Retire h's id: from now on it names nothing.  Touches only h. */
static void
table_remove(struct handle *h)
{
	if (h->flags & HANDLE_RETIRED)
		return;
	h->gen = (uint32_t)((h->gen + 1) & ID_GEN_MASK);
	h->flags |= HANDLE_RETIRED;
}

/* h's id while it lives. */
static uintptr_t
handle_id(const struct handle *h)
{
	return id_make(h->slot, h->gen);
}

/* h's memory goes back to the system: its slot is free for another. */
static void
table_unbind(struct handle *h)
{
	size_t i = h->slot;

	table.slots[i].h = NULL;
	table.slots[i].gen = h->gen;
	table.slots[i].next = SLOT_NONE;
	if (table.free_tail == SLOT_NONE)
		table.free_head = i;
	else
		table.slots[table.free_tail].next = i;
	table.free_tail = i;
}

/*
 * The live handle of `kind` that id names, in *hp.  Returns 0, or
 * -LOOPD_ESTATE when the id was released, or -LOOPD_EINVAL when it was
 * never an id of that kind or belongs to another task than the one whose
 * code runs now.  Touches no memory the id does not lead to.
 */
static int
handle_lookup(uintptr_t id, enum handle_kind kind, struct handle **hp)
{
	struct handle *h;
	size_t i = (id & ID_GEN_MASK) >> 1;
	int running;

	*hp = NULL;
	if ((id & 1) == 0 || i >= table.n)
		return -LOOPD_EINVAL;
	/* A free slot, or its handle released (spare, or another id). */
	if ((h = table.slots[i].h) == NULL || (h->flags & HANDLE_RETIRED) ||
	    handle_id(h) != id)
		return -LOOPD_ESTATE;
	if (h->kind != kind)
		return -LOOPD_EINVAL;
	/* Code outside every task (raw libevent callbacks) may use it. */
	running = *h->task->host->running;
	if (running >= 0 && running != h->task->index)
		return -LOOPD_EINVAL;
	*hp = h;
	return 0;
}

/* ---- handles ------------------------------------------------------------- */

static int
task_usable(const struct loopd_task *t)
{
	return t != NULL && !t->ending && t->state < TASK_DONE;
}

/* A handle's size: its fields, its event, up to whole cache lines. */
static size_t
handle_size(void)
{
	return (HANDLE_EV_OFF + event_get_struct_event_size() +
	    CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1);
}

static struct handle *
block_handle(struct hblock *b, size_t i)
{
	return (struct handle *)(void *)((char *)b + CACHE_LINE +
	    i * handle_size());
}

/* A new block's handles, with their ids, onto the spares; -1 when
 * memory or the table ran out. */
static int
handle_grow(void)
{
	struct hblock *b;
	struct handle *h;
	size_t i;
	void *p;

	if (posix_memalign(&p, CACHE_LINE, CACHE_LINE +
	    HANDLE_BLOCK * handle_size()) != 0)
		return -1;
	b = p;
	b->n = b->nspare = 0;
	for (i = 0; i < HANDLE_BLOCK; i++) {
		h = block_handle(b, i);
		memset(h, 0, sizeof *h);
		if (table_add(h) < 0)
			break;
		h->block = b;
		b->n++;
		b->nspare++;
		table.nspare++;
		TAILQ_INSERT_TAIL(&table.spare, h, link);
	}
	if (b->n > 0)
		return 0;
	free(b);
	return -1;
}

/* b's handles, all spare, go back to the system. */
static void
block_release(struct hblock *b)
{
	struct handle *h;
	unsigned i;

	for (i = 0; i < b->n; i++) {
		h = block_handle(b, i);
		TAILQ_REMOVE(&table.spare, h, link);
		table_unbind(h);
	}
	table.nspare -= b->n;
	free(b);
}

/* A new handle of t, with an id; a spare one when there is one. */
static struct handle *
handle_new(struct loopd_task *t, enum handle_kind kind, void *arg)
{
	struct handle *h;

	if (TAILQ_EMPTY(&table.spare) && handle_grow() < 0)
		return NULL;
	h = TAILQ_FIRST(&table.spare);
	TAILQ_REMOVE(&table.spare, h, link);
	table.nspare--;
	h->block->nspare--;
	h->flags = 0;
	h->task = t;
	h->kind = (uint8_t)kind;
	h->arg = arg;
	TAILQ_INSERT_TAIL(&t->handles, h, link);
	return h;
}

/* Take h's event out of the loop, if it is in. */
static void
handle_disarm(struct handle *h)
{
	if (!(h->flags & HANDLE_PENDING))
		return;
	if (h->flags & HANDLE_QUEUED)
		timerq_del(h->group, &h->tq);
	else
		event_del(handle_ev(h));
	h->flags &= ~HANDLE_PENDING;
}

/* Make h's event: on h's loop, for fd and what, calling cb(h). */
static void
handle_assign(struct handle *h, int fd, short what, event_callback_fn cb)
{
	event_assign(handle_ev(h), h->task->host->base, fd, what, cb, h);
}

static void
handle_free(struct handle *h)
{
	handle_disarm(h);
	table_remove(h);
	TAILQ_REMOVE(&h->task->handles, h, link);
	if (h->flags & HANDLE_CLOSE)
		close(h->fd);
	TAILQ_INSERT_HEAD(&table.spare, h, link);
	table.nspare++;
	if (++h->block->nspare == h->block->n &&
	    table.nspare > HANDLE_RESERVE)
		block_release(h->block);
}

/* Release now, or after the callback that is running returns.  Either
 * way the id names nothing from here on. */
static void
handle_cancel(struct handle *h)
{
	if (h->flags & HANDLE_FIRING) {
		handle_disarm(h);
		table_remove(h);
		h->flags |= HANDLE_DEAD;
	} else
		handle_free(h);
}

struct soon_call {
	loopd_timer_cb		 cb;
	void			*arg;
};

void
api_disarm_handles(struct loopd_task *t)
{
	struct handle *h;

	if (t->soon_ev != NULL)
		event_del(t->soon_ev);
	TAILQ_FOREACH(h, &t->handles, link)
		handle_disarm(h);
}

size_t
api_open_sites(struct loopd_task *t, struct task_site *v, size_t max)
{
	static const char *const kinds[] = { "timer", "watch" };
	struct handle *h;
	size_t n = 0;

	TAILQ_FOREACH(h, &t->handles, link) {
		if (h->kind == HANDLE_SOON || (h->flags & HANDLE_DEAD))
			continue;
		if (n < max)
			v[n] = (struct task_site){ kinds[h->kind], h->site };
		n++;
	}
	return n;
}

void
api_release_handles(struct loopd_task *t)
{
	struct handle *h;

	while ((h = TAILQ_FIRST(&t->handles)) != NULL)
		handle_free(h);
	if (t->soon_ev != NULL)
		event_free(t->soon_ev);
	free(t->soon);
	t->soon_ev = NULL;
	t->soon = NULL;
	t->soon_head = t->soon_n = t->soon_cap = 0;
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

int
loopd_task_ready(loopd_task *t)
{
	return t != NULL ? task_ready(t) : -LOOPD_EINVAL;
}

char *
loopd_task_path(const loopd_task *t, const char *path)
{
	const char *file, *slash;
	char *s;

	if (t == NULL || path == NULL || *path == '\0')
		return NULL;
	/* As config.c resolves plugin_dir against the file. */
	file = t->conf->mark.file;
	if (path[0] == '/' || file == NULL ||
	    (slash = strrchr(file, '/')) == NULL)
		return strdup(path);
	if (asprintf(&s, "%.*s/%s", (int)(slash - file), file, path) < 0)
		return NULL;
	return s;
}

const char *
loopd_strerror(int code)
{
	static const char *const text[] = {
		[0] = "success",
		[LOOPD_EINVAL] = "invalid argument",
		[LOOPD_ENOMEM] = "out of memory",
		[LOOPD_ESTATE] = "the task or handle has ended or is ending",
		[LOOPD_ENOENT] = "no such key",
		[LOOPD_ETYPE] = "the value has another type",
		[LOOPD_ESYS] = "a system call failed",
#ifdef LOOPD_EFULL
		[LOOPD_EFULL] = "the executor's queue is full",
#endif
	};

	if (code < 0 && code != INT_MIN)
		code = -code;
	if (code < 0 || (size_t)code >= sizeof text / sizeof text[0] ||
	    text[code] == NULL)
		return "unknown error";
	return text[code];
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

/* ---- the log rate limit ------------------------------------------------- */

/* The n records t's limit dropped in a window, said in one record: at
 * warning, or at the log level when that is higher, so that the count is
 * never filtered away while the records it counts were not. */
static void
rate_report(struct loopd_task *t, uint64_t n)
{
	int level = log_level() > LOOPD_LOG_WARNING ? log_level() :
	    LOOPD_LOG_WARNING;
	json_t *r;

	if (n == 0)
		return;
	r = log_record(level, "%llu log record%s of task '%s' dropped: more "
	    "than %llu in %llu ms (log.rate)", (unsigned long long)n,
	    n == 1 ? "" : "s", t->conf->name,
	    (unsigned long long)t->rate.limit,
	    (unsigned long long)t->rate.window_ms);
	log_add(r, "loop", t->host->loop);
	log_add(r, "task", t->conf->name);
	log_add(r, "plugin", t->conf->plugin);
	log_add(r, "event", "log_rate_limited");
	log_add_int(r, "dropped", (long long)n);
	log_emit(r);
}

static void
rate_arm(struct loopd_task *t)
{
	uint64_t ms = lograte_due_in(&t->rate, monotime_ms());
	struct timeval tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	if (ms > 0 && t->rate_timer != NULL &&
	    !evtimer_pending(t->rate_timer, NULL))
		evtimer_add(t->rate_timer, &tv);
}

/* The end of a window with drops. */
static void
rate_fire(evutil_socket_t fd, short what, void *arg)
{
	struct loopd_task *t = arg;

	rate_report(t, lograte_end(&t->rate, monotime_ms(), 0));
	rate_arm(t);	/* the window it was armed for may have moved on */
}

int
api_rate_init(struct loopd_task *t)
{
	lograte_init(&t->rate, t->host->log_rate, t->host->log_rate_ms);
	if (t->rate.limit == 0)
		return 0;
	t->rate_timer = evtimer_new(t->host->base, rate_fire, t);
	return t->rate_timer != NULL ? 0 : -1;
}

void
api_rate_end(struct loopd_task *t)
{
	rate_report(t, lograte_end(&t->rate, monotime_ms(), 1));
	lograte_init(&t->rate, 0, 0);	/* what its stop hook logs passes */
	if (t->rate_timer != NULL)
		event_free(t->rate_timer);
	t->rate_timer = NULL;
}

/* ---- the log ---------------------------------------------------------------- */

void
loopd_log(loopd_task *t, int level, const char *fmt, ...)
{
	va_list ap;
	uint64_t report;
	json_t *r;

	if (t == NULL || fmt == NULL)
		return;
	if (level < LOOPD_LOG_DEBUG || level > LOOPD_LOG_ERROR)
		level = LOOPD_LOG_ERROR;
	if (level < log_level())
		return;		/* not counted against the rate either */
	if (!lograte_take(&t->rate, monotime_ms(), &report)) {
		rate_arm(t);
		return;
	}
	rate_report(t, report);
	va_start(ap, fmt);
	r = log_vrecord(level, fmt, ap);
	va_end(ap);
	log_add(r, "loop", t->host->loop);
	log_add(r, "task", t->conf->name);
	log_add(r, "plugin", t->conf->plugin);
	log_emit(r);
}

/* ---- timers and deferred calls ------------------------------------------ */

static struct timeval
ms_to_tv(uint64_t ms)
{
	struct timeval tv = {
		.tv_sec = (time_t)(ms / 1000),
		.tv_usec = (suseconds_t)(ms % 1000) * 1000,
	};
	return tv;
}

/* Run a timer's callback; release the timer unless it will fire again. */
static void
timer_run(struct handle *h)
{
	struct loopd_task *t = h->task;

	h->flags |= HANDLE_FIRING;
	task_enter(t, (task_fn)h->cb.timer);
	h->cb.timer(t, h->arg);
	task_leave(t);
	h->flags &= ~HANDLE_FIRING;
	/* Cancelled, or a one-shot that its callback did not start again
	 * (loopd_timer_set). */
	if ((h->flags & HANDLE_DEAD) ||
	    !(h->flags & (HANDLE_PENDING | HANDLE_PERSIST)))
		handle_free(h);
}

/* A queued timer falls due; it is out of its queue. */
static void
timer_queued_fire(struct timerq_entry *e)
{
	struct handle *h = (struct handle *)(void *)((char *)e -
	    offsetof(struct handle, tq));

	h->flags &= ~HANDLE_PENDING;
	if (h->task->ending)
		return;		/* the reaper releases it */
	if (h->flags & HANDLE_PERIODIC) {
		h->flags = (uint16_t)((h->flags & ~HANDLE_PERIODIC) |
		    HANDLE_PERSIST);
		h->group = h->every.group;
	}
	if (h->flags & HANDLE_PERSIST) {
		timerq_again(h->group, e);
		h->flags |= HANDLE_PENDING;
	}
	timer_run(h);
}

/* A timer on libevent's heap fires. */
static void
timer_fire(evutil_socket_t fd, short what, void *arg)
{
	struct handle *h = arg;
	struct timeval tv;

	(void)fd;
	(void)what;
	if (h->task->ending)
		return;		/* the reaper releases it */
	if (!(h->flags & HANDLE_PERSIST)) {
		h->flags &= ~HANDLE_PENDING;	/* libevent has deleted it */
		if (h->flags & HANDLE_PERIODIC) {
			/* After the first delay, the period: libevent keeps
			 * a persistent timer on schedule without drift. */
			h->flags = (uint16_t)((h->flags & ~HANDLE_PERIODIC) |
			    HANDLE_PERSIST);
			handle_assign(h, -1, EV_PERSIST, timer_fire);
			tv = ms_to_tv(h->every.ms);
			if (event_add(handle_ev(h), &tv) == 0)
				h->flags |= HANDLE_PENDING;
		}
	}
	timer_run(h);
}

/*
 * Arm h to fire after delay_ms, then every every_ms (0: once): in the
 * loop's queue of its duration, or on libevent's heap when the delay is 0
 * (the next turn of the loop) or past the TIMERQ_GROUPS_MAX durations a
 * loop queues.
 */
static int
timer_arm(struct handle *h, uint64_t delay_ms, uint64_t every_ms)
{
	struct task_host *host = h->task->host;
	int persist = every_ms > 0 && every_ms == delay_ms;
	struct timerq_group *g, *every = NULL;
	struct timeval tv;

	handle_disarm(h);
	h->flags &= ~(HANDLE_PERSIST | HANDLE_PERIODIC | HANDLE_QUEUED);
	if (persist)
		h->flags |= HANDLE_PERSIST;
	else if (every_ms > 0)
		h->flags |= HANDLE_PERIODIC;
	if (host->timers == NULL && delay_ms > 0)
		host->timers = timerq_new(host->base, host->loop_conf != NULL &&
		    host->loop_conf->precise_timer, timer_queued_fire);
	if (delay_ms > 0 && host->timers != NULL &&
	    (g = timerq_group(host->timers, delay_ms)) != NULL &&
	    (!(h->flags & HANDLE_PERIODIC) ||
	    (every = timerq_group(host->timers, every_ms)) != NULL)) {
		h->group = g;
		h->every.group = every;
		h->flags |= HANDLE_QUEUED | HANDLE_PENDING;
		timerq_add(g, &h->tq);
		return 0;
	}
	h->every.ms = every_ms;
	handle_assign(h, -1, persist ? EV_PERSIST : 0, timer_fire);
	tv = ms_to_tv(delay_ms);
	if (event_add(handle_ev(h), &tv) < 0)
		return -LOOPD_ESYS;
	h->flags |= HANDLE_PENDING;
	return 0;
}

loopd_timer *
loopd_timer_start(loopd_task *t, uint64_t delay_ms, uint64_t every_ms,
    loopd_timer_cb cb, void *arg)
{
	struct handle *h;

	if (!task_usable(t) || cb == NULL)
		return NULL;
	if ((h = handle_new(t, HANDLE_TIMER, arg)) == NULL)
		return NULL;
	h->cb.timer = cb;
	if (t->host->debug)
		h->site = __builtin_return_address(0);
	if (timer_arm(h, delay_ms, every_ms) < 0) {
		handle_free(h);
		return NULL;
	}
	return (loopd_timer *)handle_id(h);
}

int
loopd_timer_set(loopd_timer *timer, uint64_t delay_ms, uint64_t every_ms)
{
	struct handle *h;
	int rc;

	if ((rc = handle_lookup((uintptr_t)timer, HANDLE_TIMER, &h)) < 0)
		return rc;
	if (!task_usable(h->task))
		return -LOOPD_ESTATE;
	return timer_arm(h, delay_ms, every_ms);
}

void
loopd_timer_cancel(loopd_timer *timer)
{
	struct handle *h;

	if (handle_lookup((uintptr_t)timer, HANDLE_TIMER, &h) == 0)
		handle_cancel(h);
}

/* The calls in the ring when the turn began; later ones wait for the
 * next turn. */
static void
soon_run(evutil_socket_t fd, short what, void *arg)
{
	struct loopd_task *t = arg;
	struct soon_call c;
	size_t n = t->soon_n;

	while (n-- > 0 && !t->ending) {
		c = t->soon[t->soon_head];
		t->soon_head = (t->soon_head + 1) & (t->soon_cap - 1);
		t->soon_n--;
		task_enter(t, (task_fn)c.cb);
		c.cb(t, c.arg);
		task_leave(t);
	}
}

/* Twice the room, the calls kept in order; -1 when memory ran out. */
static int
soon_grow(struct loopd_task *t)
{
	size_t cap = t->soon_cap ? t->soon_cap * 2 : 16, i;
	struct soon_call *v;

	if (t->soon_ev == NULL && (t->soon_ev = event_new(t->host->base, -1,
	    0, soon_run, t)) == NULL)
		return -1;
	if ((v = reallocarray(NULL, cap, sizeof *v)) == NULL)
		return -1;
	for (i = 0; i < t->soon_n; i++)
		v[i] = t->soon[(t->soon_head + i) & (t->soon_cap - 1)];
	free(t->soon);
	t->soon = v;
	t->soon_cap = cap;
	t->soon_head = 0;
	return 0;
}

int
loopd_listen_fd(loopd_task *t, const char *name)
{
	int fd;

	if (t == NULL || name == NULL)
		return -LOOPD_EINVAL;
	if (!task_usable(t))
		return -LOOPD_ESTATE;
	if (t->host->listen_fd == NULL ||
	    (fd = t->host->listen_fd(t->host->ctx, t->index, name)) == -1)
		return -LOOPD_ENOENT;
	return fd < 0 ? -LOOPD_ESYS : fd;
}

int
loopd_call_soon(loopd_task *t, loopd_timer_cb cb, void *arg)
{
	if (cb == NULL)
		return -LOOPD_EINVAL;
	if (!task_usable(t))
		return -LOOPD_ESTATE;
	if (t->soon_n == t->soon_cap && soon_grow(t) < 0)
		return -LOOPD_ENOMEM;
	t->soon[(t->soon_head + t->soon_n++) & (t->soon_cap - 1)] =
	    (struct soon_call){ cb, arg };
	if (t->soon_n == 1 || !event_pending(t->soon_ev, EV_TIMEOUT, NULL)) {
		event_active(t->soon_ev, EV_TIMEOUT, 0);
		event_base_loopcontinue(t->host->base);
	}
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
	task_enter(t, (task_fn)h->cb.watch);
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

	handle_disarm(h);
	h->events = events;
	handle_assign(h, h->fd, what, watch_fire);
	if (events == 0)
		return 0;
	if (event_add(handle_ev(h), NULL) < 0)
		return -LOOPD_ESYS;
	h->flags |= HANDLE_PENDING;
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
	if (t->host->debug)
		h->site = __builtin_return_address(0);
	if (watch_arm(h, watched) < 0) {
		handle_free(h);
		return NULL;
	}
	/* Own the fd only once the watch exists: on failure it stays yours. */
	if (events & LOOPD_WATCH_CLOSE)
		h->flags |= HANDLE_CLOSE;
	return (loopd_watch *)handle_id(h);
}

int
loopd_watch_set(loopd_watch *watch, int events)
{
	struct handle *h;
	int rc;

	if ((events & ~(LOOPD_READ | LOOPD_WRITE)) != 0)
		return -LOOPD_EINVAL;
	if ((rc = handle_lookup((uintptr_t)watch, HANDLE_WATCH, &h)) < 0)
		return rc;
	if (!task_usable(h->task))
		return -LOOPD_ESTATE;
	if (events == h->events)
		return 0;
	return watch_arm(h, events);
}

void
loopd_watch_cancel(loopd_watch *watch)
{
	struct handle *h;

	if (handle_lookup((uintptr_t)watch, HANDLE_WATCH, &h) == 0)
		handle_cancel(h);
}

/* ---- listening sockets ------------------------------------------------------ */

int
loopd_listen_tcp(loopd_task *t, const char *address, int port, int backlog)
{
	struct msg_out m = { 0 };
	struct msg_in in;
	uint8_t buf[256];
	int64_t rc = 0;
	ssize_t n;
	int fd = -1;

	if (t == NULL || address == NULL || port < 0 || port > 65535)
		return -LOOPD_EINVAL;
	if (!task_usable(t))
		return -LOOPD_ESTATE;
	if (t->host->sockets < 0) {
		/* No supervisor to ask (a test of the task alone). */
		if ((fd = listeners_bind(address, port, backlog > 0 ?
		    backlog : 128)) < 0) {
			errno = -fd;
			return -LOOPD_ESYS;
		}
		return fd;
	}
	msg_begin(&m, MSG_LISTEN);
	msg_put_int(&m, t->index);
	msg_put_str(&m, address, 256);
	msg_put_int(&m, port);
	msg_put_int(&m, backlog > 0 && backlog <= 65535 ? backlog : 128);
	n = m.nomem ? -1 : ipc_packet_send(t->host->sockets, m.p, m.len, -1);
	msg_out_free(&m);
	if (n < 0)
		return -LOOPD_ESYS;
	/* The supervisor answers at once; a stuck one is not waited for. */
	if ((n = ipc_packet_recv(t->host->sockets, buf, sizeof buf, &fd,
	    5000)) <= 0)
		return -LOOPD_ESYS;
	if (msg_open(&in, buf, (size_t)n) != MSG_LISTENING ||
	    msg_get_range(&in, -4095, 0, &rc) < 0 || msg_done(&in) < 0 ||
	    (rc == 0) != (fd >= 0)) {
		if (fd >= 0)
			close(fd);
		errno = EPROTO;
		return -LOOPD_ESYS;
	}
	if (rc < 0) {
		errno = (int)-rc;
		return -LOOPD_ESYS;
	}
	return fd;
}
