/*
 * test_api.c: the plugin API on a real event_base, without a worker: task
 * states, handle ownership, handles that stay safe whatever the plugin
 * passes back (run these under ASan), no callback after the task's end, and
 * the promise that firing an fd watch, or updating a metric, costs no
 * allocation.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "pmetric.h"
#include "task.h"
#include "timerq.h"
#include "unit.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* ---- allocation counting (plain builds: ASan owns malloc otherwise) ---- */

#ifndef UNDER_ASAN
extern void	*__libc_malloc(size_t);
extern void	*__libc_calloc(size_t, size_t);
extern void	*__libc_realloc(void *, size_t);
extern void	 __libc_free(void *);
extern void	*__libc_memalign(size_t, size_t);

static unsigned long allocs, frees;

void *
malloc(size_t n)
{
	allocs++;
	return __libc_malloc(n);
}

void *
calloc(size_t n, size_t m)
{
	allocs++;
	return __libc_calloc(n, m);
}

void *
realloc(void *p, size_t n)
{
	allocs++;
	return __libc_realloc(p, n);
}

int
posix_memalign(void **pp, size_t align, size_t n)
{
	allocs++;
	return (*pp = __libc_memalign(align, n)) != NULL ? 0 : ENOMEM;
}

void
free(void *p)
{
	if (p != NULL)
		frees++;
	__libc_free(p);
}
#endif

/* ---- a host for one task ------------------------------------------------ */

struct fixture {
	struct event_base	*base;
	volatile int		 running;
	struct task_host	 host;
	struct task_conf	 conf;
	struct loopd_task	*task;
	int			 states[8];
	int			 nstates;
};

static void
on_state(void *ctx, struct loopd_task *t)
{
	struct fixture *f = ctx;

	if (f->nstates < 8)
		f->states[f->nstates++] = t->state;
}

static void
fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof *f);
	f->base = event_base_new();
	f->running = -1;
	f->host = (struct task_host){ .base = f->base, .loop = "l",
	    .running = &f->running, .plugins = loader_cache_new(),
	    .sockets = -1,
	    .on_state = on_state, .ctx = f };
	f->conf = (struct task_conf){ .name = "t", .plugin = "p",
	    .plugin_path = "/nonexistent/p.so" };
	f->task = task_new(&f->host, &f->conf, 0);
	ck_assert_ptr_nonnull(f->task);
	f->task->state = TASK_RUNNING;	/* as if start had returned 0 */
}

static void
fixture_free(struct fixture *f)
{
	task_free(f->task);
	loader_cache_free(f->host.plugins);
	event_base_free(f->base);
}

static void
run_until_idle(struct fixture *f)
{
	event_base_loop(f->base, EVLOOP_NONBLOCK);
	event_base_loop(f->base, EVLOOP_NONBLOCK);
}

static void
count_cb(loopd_task *t, void *arg)
{
	(*(int *)arg)++;
}

/* ---- watches ------------------------------------------------------------ */

struct reader {
	int	calls;
	int	bad;		/* calls with other events or bytes */
	int	running_seen;
	char	buf[64];
	loopd_watch *self;	/* when set, re-arm it as a plugin would */
};

/* A socketpair whose sp[0] is watched for reading (and owned by the
 * watch); the test writes to sp[1]. */
static loopd_watch *
watch_pair(struct fixture *f, int sp[2], loopd_watch_cb cb, void *arg)
{
	loopd_watch *w;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sp), 0);
	w = loopd_watch_fd(f->task, sp[0], LOOPD_READ | LOOPD_WATCH_CLOSE,
	    cb, arg);
	ck_assert_ptr_nonnull(w);
	return w;
}

/* No ck_assert here: Check's assertions allocate in forked mode. */
static void
read_cb(loopd_task *t, int fd, int events, void *arg)
{
	struct reader *r = arg;

	r->calls++;
	r->running_seen = *t->host->running;
	if (events != LOOPD_READ || read(fd, r->buf, sizeof r->buf) != 1)
		r->bad++;
	if (r->self != NULL &&
	    (loopd_watch_set(r->self, LOOPD_READ | LOOPD_WRITE) != 0 ||
	    loopd_watch_set(r->self, LOOPD_READ) != 0))
		r->bad++;
}

#ifndef UNDER_ASAN
/* Handles come from blocks and are kept for reuse, up to a reserve: past
 * it, a block whose handles are all released goes back to the system,
 * and their ids stay dead. */
START_TEST(spare_handles_past_the_reserve_go_back)
{
	struct fixture f;
	enum { N = 4096 };
	loopd_timer **v;
	unsigned long before;
	int i;

	fixture_init(&f);
	ck_assert_ptr_nonnull(v = calloc(N, sizeof *v));
	for (i = 0; i < N; i++)
		ck_assert_ptr_nonnull(v[i] = loopd_timer_start(f.task, 60000,
		    0, count_cb, NULL));
	before = frees;
	for (i = 0; i < N; i++)
		loopd_timer_cancel(v[i]);
	/* 31 handles a block, 1,024 kept. */
	ck_assert_uint_ge(frees - before, (N - 1024) / 31 - 1);
	ck_assert_uint_le(frees - before, N / 31);
	for (i = 0; i < N; i++)
		ck_assert_int_eq(loopd_timer_set(v[i], 1, 0), -LOOPD_ESTATE);
	/* What is kept serves new timers without allocating. */
	before = allocs;
	for (i = 0; i < 1000; i++)
		loopd_timer_cancel(loopd_timer_start(f.task, 60000, 0,
		    count_cb, NULL));
	ck_assert_uint_eq(allocs - before, 0);
	free(v);
	fixture_free(&f);
}
END_TEST

START_TEST(watch_fires_without_allocating)
{
	struct fixture f;
	struct reader r = { 0 };
	unsigned long before, after;
	int sp[2], i;

	fixture_init(&f);
	/* The counter sees the API's own allocations. */
	before = allocs;
	r.self = watch_pair(&f, sp, read_cb, &r);
	ck_assert_uint_gt(allocs, before);
	/* Warm up once, then count firings that look their handle up and
	 * re-arm it, as a plugin switching between reading and writing. */
	ck_assert_int_eq(write(sp[1], "x", 1), 1);
	event_base_loop(f.base, EVLOOP_ONCE);
	before = allocs;
	for (i = 0; i < 1000; i++) {
		if (write(sp[1], "x", 1) != 1)
			break;
		event_base_loop(f.base, EVLOOP_ONCE);
	}
	after = allocs;
	ck_assert_int_eq(r.calls, 1001);
	ck_assert_int_eq(r.bad, 0);
	ck_assert_uint_eq(after - before, 0);
	close(sp[1]);
	fixture_free(&f);
}
END_TEST
#endif

#ifndef UNDER_ASAN
/* Declaring allocates (once); adding to a counter and setting a gauge,
 * the path plugins take per event, does not. */
START_TEST(metric_updates_do_not_allocate)
{
	struct fixture f;
	loopd_metric *c, *g;
	unsigned long before, after;
	int i, bad = 0;

	fixture_init(&f);
	before = allocs;
	f.host.metrics = pmetric_area_new(-1);
	ck_assert_ptr_nonnull(f.host.metrics);
	c = loopd_metric_counter(f.task, "bytes", "Bytes.");
	g = loopd_metric_gauge(f.task, "open", NULL);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(g);
	ck_assert_uint_gt(allocs, before);
	before = allocs;
	for (i = 0; i < 1000; i++) {
		bad += loopd_metric_add(c, i) != 0;
		bad += loopd_metric_add(g, -1) != 0;
		bad += loopd_metric_set(g, i) != 0;
	}
	after = allocs;
	ck_assert_int_eq(bad, 0);
	ck_assert_uint_eq(after - before, 0);
	pmetric_task_end(f.task);
	fixture_free(&f);
	pmetric_area_free(f.host.metrics);
}
END_TEST
#endif

START_TEST(watch_marks_running_task)
{
	struct fixture f;
	struct reader r = { .running_seen = 99 };
	int sp[2];

	fixture_init(&f);
	f.task->index = 4;
	watch_pair(&f, sp, read_cb, &r);
	ck_assert_int_eq(write(sp[1], "x", 1), 1);
	event_base_loop(f.base, EVLOOP_ONCE);
	ck_assert_int_eq(r.running_seen, 4);	/* inside the callback */
	ck_assert_int_eq(f.running, -1);	/* and not after it */
	close(sp[1]);
	fixture_free(&f);
}
END_TEST

static void
cancel_self_cb(loopd_task *t, int fd, int events, void *arg)
{
	loopd_watch **w = arg;

	loopd_watch_cancel(*w);
	*w = NULL;
}

START_TEST(watch_cancel_inside_callback_closes_fd)
{
	struct fixture f;
	loopd_watch *w;
	int sp[2];

	fixture_init(&f);
	w = watch_pair(&f, sp, cancel_self_cb, &w);
	ck_assert_int_eq(write(sp[1], "x", 1), 1);
	event_base_loop(f.base, EVLOOP_ONCE);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(fcntl(sp[0], F_GETFD), -1);	/* closed */
	close(sp[1]);
	fixture_free(&f);
}
END_TEST

START_TEST(watch_cancel_twice_is_harmless)
{
	struct fixture f;
	struct reader r = { 0 };
	loopd_watch *w;
	int sp[2];

	fixture_init(&f);
	w = watch_pair(&f, sp, read_cb, &r);
	loopd_watch_cancel(w);
	ck_assert_int_eq(fcntl(sp[0], F_GETFD), -1);	/* closed */
	/* The fd number is reused by the next open; the watch must not
	 * close it again. */
	ck_assert_int_eq(dup2(sp[1], sp[0]), sp[0]);
	loopd_watch_cancel(w);
	ck_assert_int_ne(fcntl(sp[0], F_GETFD), -1);
	ck_assert(TAILQ_EMPTY(&f.task->handles));
	close(sp[0]);
	close(sp[1]);
	fixture_free(&f);
}
END_TEST

START_TEST(watch_set_after_cancel_is_refused)
{
	struct fixture f;
	struct reader r = { 0 };
	loopd_watch *w;
	int sp[2];

	fixture_init(&f);
	w = watch_pair(&f, sp, read_cb, &r);
	ck_assert_int_eq(loopd_watch_set(w, LOOPD_READ | LOOPD_WRITE), 0);
	loopd_watch_cancel(w);
	ck_assert_int_eq(loopd_watch_set(w, LOOPD_READ), -LOOPD_ESTATE);
	ck_assert_int_eq(loopd_watch_set(w, 0), -LOOPD_ESTATE);
	close(sp[1]);
	fixture_free(&f);
}
END_TEST

static void
cancel_twice_inside_cb(loopd_task *t, int fd, int events, void *arg)
{
	loopd_watch **w = arg;

	loopd_watch_cancel(*w);
	loopd_watch_cancel(*w);
	if (loopd_watch_set(*w, LOOPD_READ) == -LOOPD_ESTATE)
		*w = NULL;
}

START_TEST(watch_cancelled_inside_callback_is_stale_at_once)
{
	struct fixture f;
	loopd_watch *w;
	int sp[2];

	fixture_init(&f);
	w = watch_pair(&f, sp, cancel_twice_inside_cb, &w);
	ck_assert_int_eq(write(sp[1], "x", 1), 1);
	event_base_loop(f.base, EVLOOP_ONCE);
	ck_assert_ptr_null(w);
	ck_assert_int_eq(fcntl(sp[0], F_GETFD), -1);
	ck_assert(TAILQ_EMPTY(&f.task->handles));
	close(sp[1]);
	fixture_free(&f);
}
END_TEST

START_TEST(garbage_handles_are_ignored)
{
	struct fixture f;
	struct reader r = { 0 };
	loopd_watch *w;
	loopd_timer *tm;
	long junk[8] = { 0 };
	loopd_watch *bad[] = {
		(loopd_watch *)(void *)junk,		/* a real pointer */
		(loopd_watch *)(uintptr_t)1,
		(loopd_watch *)(uintptr_t)0xdeadbeef,
		(loopd_watch *)UINTPTR_MAX,
		NULL,	/* below: a live slot with another generation */
	};
	int sp[2], n = 0;
	size_t i;

	fixture_init(&f);
	w = watch_pair(&f, sp, read_cb, &r);
	tm = loopd_timer_start(f.task, 0, 0, count_cb, &n);
	ck_assert_ptr_nonnull(tm);
	bad[4] = (loopd_watch *)((uintptr_t)w +
	    ((uintptr_t)7 << (sizeof(uintptr_t) * 4)));
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		loopd_watch_cancel(bad[i]);
		loopd_timer_cancel((loopd_timer *)bad[i]);
		ck_assert_int_lt(loopd_watch_set(bad[i], LOOPD_READ), 0);
	}
	/* A handle of the other kind is not one either. */
	loopd_watch_cancel((loopd_watch *)tm);
	loopd_timer_cancel((loopd_timer *)w);
	ck_assert_int_eq(loopd_watch_set((loopd_watch *)tm, LOOPD_READ),
	    -LOOPD_EINVAL);
	ck_assert_int_eq(loopd_watch_set((loopd_watch *)(void *)junk,
	    LOOPD_READ), -LOOPD_EINVAL);
	/* The real ones still work. */
	ck_assert_int_eq(write(sp[1], "x", 1), 1);
	run_until_idle(&f);
	ck_assert_int_eq(r.calls, 1);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(junk[0], 0);
	close(sp[1]);
	fixture_free(&f);
}
END_TEST

START_TEST(watch_rejects_bad_arguments)
{
	struct fixture f;
	struct reader r;

	fixture_init(&f);
	ck_assert_ptr_null(loopd_watch_fd(f.task, -1, LOOPD_READ, read_cb, &r));
	ck_assert_ptr_null(loopd_watch_fd(f.task, 0, 0x4000, read_cb, &r));
	ck_assert_ptr_null(loopd_watch_fd(f.task, 0, LOOPD_READ, NULL, &r));
	ck_assert_ptr_null(loopd_watch_fd(NULL, 0, LOOPD_READ, read_cb, &r));
	ck_assert_int_eq(loopd_watch_set(NULL, LOOPD_READ), -LOOPD_EINVAL);
	fixture_free(&f);
}
END_TEST

/* ---- timers and deferred calls -------------------------------------------- */

START_TEST(one_shot_timer_fires_once)
{
	struct fixture f;
	int n = 0;

	fixture_init(&f);
	ck_assert_ptr_nonnull(loopd_timer_start(f.task, 0, 0, count_cb, &n));
	run_until_idle(&f);
	run_until_idle(&f);
	ck_assert_int_eq(n, 1);
	ck_assert(TAILQ_EMPTY(&f.task->handles));	/* released itself */
	fixture_free(&f);
}
END_TEST

START_TEST(one_shot_timer_cancel_after_it_fired)
{
	struct fixture f;
	loopd_timer *tm, *other;
	int n = 0, m = 0;

	fixture_init(&f);
	tm = loopd_timer_start(f.task, 0, 0, count_cb, &n);
	ck_assert_ptr_nonnull(tm);
	event_base_dispatch(f.base);
	ck_assert_int_eq(n, 1);
	/* Its slot may serve a new timer; the old handle is not that one. */
	other = loopd_timer_start(f.task, 0, 0, count_cb, &m);
	ck_assert_ptr_nonnull(other);
	loopd_timer_cancel(tm);
	loopd_timer_cancel(tm);
	event_base_dispatch(f.base);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(m, 1);
	fixture_free(&f);
}
END_TEST

START_TEST(timer_cancel_twice_is_harmless)
{
	struct fixture f;
	loopd_timer *tm;
	int n = 0;

	fixture_init(&f);
	tm = loopd_timer_start(f.task, 0, 1, count_cb, &n);
	ck_assert_ptr_nonnull(tm);
	loopd_timer_cancel(tm);
	loopd_timer_cancel(tm);
	loopd_timer_cancel(NULL);
	event_base_dispatch(f.base);	/* returns: nothing is pending */
	ck_assert_int_eq(n, 0);
	ck_assert(TAILQ_EMPTY(&f.task->handles));
	fixture_free(&f);
}
END_TEST

struct periodic {
	loopd_timer	*timer;
	int		 n;
};

static void
periodic_cb(loopd_task *t, void *arg)
{
	struct periodic *p = arg;

	if (++p->n == 3)
		loopd_timer_cancel(p->timer);
}

START_TEST(periodic_timer_cancels_itself)
{
	struct fixture f;
	struct periodic p = { 0 };

	fixture_init(&f);
	p.timer = loopd_timer_start(f.task, 0, 1, periodic_cb, &p);
	ck_assert_ptr_nonnull(p.timer);
	event_base_dispatch(f.base);	/* returns once nothing is pending */
	ck_assert_int_eq(p.n, 3);
	ck_assert(TAILQ_EMPTY(&f.task->handles));
	fixture_free(&f);
}
END_TEST

/* A loop queues its first TIMERQ_GROUPS_MAX durations (timerq.h); the
 * timers of any other duration go on libevent's heap and fire all the
 * same, in due order. */
START_TEST(timers_of_every_duration_fire)
{
	struct fixture f;
	int n[TIMERQ_GROUPS_MAX + 8] = { 0 }, i, total = 0;
	int count = TIMERQ_GROUPS_MAX + 8;

	fixture_init(&f);
	for (i = 0; i < count; i++)
		ck_assert_ptr_nonnull(loopd_timer_start(f.task,
		    (uint64_t)(count - i), 0, count_cb, &n[i]));
	ck_assert_ptr_nonnull(f.host.timers);
	event_base_dispatch(f.base);	/* returns once nothing is pending */
	for (i = 0; i < count; i++) {
		ck_assert_int_eq(n[i], 1);
		total += n[i];
	}
	ck_assert_int_eq(total, count);
	ck_assert(TAILQ_EMPTY(&f.task->handles));
	fixture_free(&f);
}
END_TEST

/*
 * Many timers of mixed delays (0 on the heap, the others queued) and
 * periods, callbacks that cancel other timers, due or not: a one-shot
 * fires once unless it was cancelled first, never after; a periodic one
 * fires until it cancels itself; nothing is left at the end.
 */
#define MIX_ONCE	240
#define MIX_EVERY	16

struct mix {
	loopd_timer	*once[MIX_ONCE];
	int		 fired[MIX_ONCE], cancelled[MIX_ONCE];
	loopd_timer	*every[MIX_EVERY];
	int		 ticks[MIX_EVERY];
	unsigned	 seed;
	int		 bad;
};

static struct mix *mix_of;

static unsigned
mix_rand(struct mix *m)
{
	m->seed = m->seed * 1103515245u + 12345u;
	return (m->seed >> 16) & 0x7fff;
}

static void
mix_once_cb(loopd_task *t, void *arg)
{
	struct mix *m = mix_of;
	int i = (int)(intptr_t)arg, j;

	if (m->cancelled[i] || m->fired[i]++ > 0)
		m->bad++;
	/* Now and then, cancel one that has not fired: it must not. */
	if (mix_rand(m) % 3 == 0) {
		j = (int)(mix_rand(m) % MIX_ONCE);
		if (!m->fired[j] && !m->cancelled[j]) {
			m->cancelled[j] = 1;
			loopd_timer_cancel(m->once[j]);
		}
	}
}

static void
mix_every_cb(loopd_task *t, void *arg)
{
	struct mix *m = mix_of;
	int i = (int)(intptr_t)arg;

	if (++m->ticks[i] == 5)
		loopd_timer_cancel(m->every[i]);
	else if (m->ticks[i] > 5)
		m->bad++;
}

START_TEST(timers_of_mixed_delays_keep_their_promises)
{
	static const uint64_t delays[] = { 0, 1, 2, 3, 5, 8, 13 };
	struct fixture f;
	struct mix *m;
	int i;

	ck_assert_ptr_nonnull(m = calloc(1, sizeof *m));
	mix_of = m;
	m->seed = 1;
	fixture_init(&f);
	for (i = 0; i < MIX_ONCE; i++)
		ck_assert_ptr_nonnull(m->once[i] = loopd_timer_start(f.task,
		    delays[mix_rand(m) % 7], 0, mix_once_cb, (void *)(intptr_t)i));
	for (i = 0; i < MIX_EVERY; i++)
		ck_assert_ptr_nonnull(m->every[i] = loopd_timer_start(f.task,
		    delays[1 + mix_rand(m) % 6], 1 + mix_rand(m) % 3,
		    mix_every_cb, (void *)(intptr_t)i));
	for (i = 0; i < MIX_ONCE; i += 7) {	/* some before they run */
		m->cancelled[i] = 1;
		loopd_timer_cancel(m->once[i]);
	}
	event_base_dispatch(f.base);	/* returns once nothing is pending */
	ck_assert_int_eq(m->bad, 0);
	for (i = 0; i < MIX_ONCE; i++)
		ck_assert_int_eq(m->fired[i], !m->cancelled[i]);
	for (i = 0; i < MIX_EVERY; i++)
		ck_assert_int_eq(m->ticks[i], 5);
	ck_assert(TAILQ_EMPTY(&f.task->handles));
	fixture_free(&f);
	free(m);
}
END_TEST

START_TEST(call_soon_runs_once)
{
	struct fixture f;
	int n = 0;

	fixture_init(&f);
	ck_assert_int_eq(loopd_call_soon(f.task, count_cb, &n), 0);
	event_base_dispatch(f.base);	/* until nothing is pending */
	ck_assert_int_eq(n, 1);
	ck_assert(TAILQ_EMPTY(&f.task->handles));
	ck_assert_int_eq(loopd_call_soon(f.task, NULL, &n), -LOOPD_EINVAL);
	fixture_free(&f);
}
END_TEST

#ifndef UNDER_ASAN
/* A chain: each call schedules the next, until n reaches its end. */
struct chain {
	int	n, end, bad;
};

static void
chain_cb(loopd_task *t, void *arg)
{
	struct chain *c = arg;

	if (++c->n < c->end && loopd_call_soon(t, chain_cb, c) != 0)
		c->bad++;
}

START_TEST(call_soon_without_allocating)
{
	struct fixture f;
	struct chain c[64] = { 0 };
	unsigned long before, after;
	int i;

	fixture_init(&f);
	/* Warm up: the ring reaches its working size. */
	for (i = 0; i < 64; i++) {
		c[i].end = 2;
		ck_assert_int_eq(loopd_call_soon(f.task, chain_cb, &c[i]), 0);
	}
	event_base_dispatch(f.base);
	before = allocs;
	for (i = 0; i < 64; i++) {
		c[i] = (struct chain){ .end = 1000 };
		if (loopd_call_soon(f.task, chain_cb, &c[i]) != 0)
			break;
	}
	event_base_dispatch(f.base);
	after = allocs;
	for (i = 0; i < 64; i++) {
		ck_assert_int_eq(c[i].n, 1000);
		ck_assert_int_eq(c[i].bad, 0);
	}
	ck_assert_uint_eq(after - before, 0);
	fixture_free(&f);
}
END_TEST
#endif

/* Calls run in the order they were made, across the ring's growth, and
 * a call made by a call waits for the next turn. */
struct order {
	int	seen[100];
	int	n;
	int	turns;
};

static void
order_cb(loopd_task *t, void *arg)
{
	struct order *o = (struct order *)((char *)arg - ((uintptr_t)arg % 128));
	int v = (int)((uintptr_t)arg % 128);

	if (o->n < 100)
		o->seen[o->n++] = v;
}

static void
later_cb(loopd_task *t, void *arg)
{
	int *flag = arg;

	*flag = 1;
}

static void
first_cb(loopd_task *t, void *arg)
{
	int *flag = arg;

	loopd_call_soon(t, later_cb, flag);
	*flag = 2;
}

START_TEST(call_soon_keeps_order_and_defers_nested_calls)
{
	struct fixture f;
	struct order *o = aligned_alloc(128, 128 * sizeof *o);
	int i, flag = 0;

	fixture_init(&f);
	memset(o, 0, sizeof *o);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(loopd_call_soon(f.task, order_cb,
		    (char *)o + i), 0);
	event_base_loop(f.base, EVLOOP_ONCE);
	ck_assert_int_eq(o->n, 100);
	for (i = 0; i < 100; i++)
		ck_assert_int_eq(o->seen[i], i);
	ck_assert_int_eq(loopd_call_soon(f.task, first_cb, &flag), 0);
	event_base_loop(f.base, EVLOOP_ONCE);
	/* later_cb ran after first_cb returned; that it waited for a poll,
	 * call_soon_chain_lets_io_in shows. */
	ck_assert_int_eq(flag, 1);
	free(o);
	fixture_free(&f);
}
END_TEST

/* A chain that makes a socket readable at its 5th link and runs until
 * the watch has seen it (or 1000 links). */
struct busy {
	struct reader	 r;
	int		 sp[2];
	int		 n;
};

static void
busy_cb(loopd_task *t, void *arg)
{
	struct busy *b = arg;

	if (++b->n == 5 && write(b->sp[1], "x", 1) != 1)
		b->r.bad++;
	if (b->r.calls == 0 && b->n < 1000)
		loopd_call_soon(t, busy_cb, b);
}

START_TEST(call_soon_chain_lets_io_in)
{
	struct fixture f;
	struct busy b = { 0 };

	fixture_init(&f);
	watch_pair(&f, b.sp, read_cb, &b.r);
	ck_assert_int_eq(loopd_call_soon(f.task, busy_cb, &b), 0);
	while (b.r.calls == 0 && b.n < 1000)
		event_base_loop(f.base, EVLOOP_ONCE);
	/* The loop polls between two links: the watch runs within two
	 * links of the one that made its socket readable. */
	ck_assert_int_eq(b.r.calls, 1);
	ck_assert_int_eq(b.r.bad, 0);
	ck_assert_int_le(b.n, 7);
	close(b.sp[1]);
	fixture_free(&f);
}
END_TEST

START_TEST(call_soon_dropped_when_task_ended_first)
{
	struct fixture f;
	int n = 0;

	fixture_init(&f);
	ck_assert_int_eq(loopd_call_soon(f.task, count_cb, &n), 0);
	loopd_task_done(f.task);
	event_base_dispatch(f.base);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(f.states[f.nstates - 1], TASK_DONE);
	fixture_free(&f);
}
END_TEST

/* ---- the task's end ------------------------------------------------------- */

START_TEST(done_releases_handles_and_reports)
{
	struct fixture f;
	struct reader r = { 0 };
	int sp[2], n = 0;

	fixture_init(&f);
	watch_pair(&f, sp, read_cb, &r);
	ck_assert_ptr_nonnull(loopd_timer_start(f.task, 60000, 60000,
	    count_cb, &n));
	loopd_task_done(f.task);
	/* Ending: no new handles. */
	ck_assert_ptr_null(loopd_timer_start(f.task, 0, 0, count_cb, &n));
	ck_assert_int_eq(loopd_call_soon(f.task, count_cb, &n), -LOOPD_ESTATE);
	run_until_idle(&f);
	ck_assert_int_eq(f.nstates, 1);
	ck_assert_int_eq(f.states[0], TASK_DONE);
	ck_assert(TAILQ_EMPTY(&f.task->handles));
	ck_assert_int_eq(fcntl(sp[0], F_GETFD), -1);	/* the watch closed it */
	ck_assert_int_eq(n, 0);
	close(sp[1]);
	fixture_free(&f);
}
END_TEST

/* Whichever of several callbacks runs first ends the task. */
struct ender {
	int	calls;
};

static void
ender_watch_cb(loopd_task *t, int fd, int events, void *arg)
{
	struct ender *e = arg;

	e->calls++;
	loopd_task_done(t);
}

static void
ender_timer_cb(loopd_task *t, void *arg)
{
	struct ender *e = arg;

	e->calls++;
	loopd_task_done(t);
}

START_TEST(done_stops_a_watch_ready_in_the_same_turn)
{
	struct fixture f;
	struct ender e = { 0 };
	int a[2], b[2];

	fixture_init(&f);
	watch_pair(&f, a, ender_watch_cb, &e);
	watch_pair(&f, b, ender_watch_cb, &e);
	ck_assert_int_eq(write(a[1], "x", 1), 1);
	ck_assert_int_eq(write(b[1], "x", 1), 1);
	event_base_dispatch(f.base);	/* both ready in one turn */
	ck_assert_int_eq(e.calls, 1);
	ck_assert_int_eq(f.states[f.nstates - 1], TASK_DONE);
	ck_assert(TAILQ_EMPTY(&f.task->handles));
	close(a[1]);
	close(b[1]);
	fixture_free(&f);
}
END_TEST

START_TEST(done_stops_timers_due_in_the_same_turn)
{
	struct fixture f;
	struct ender e = { 0 };
	int sp[2];

	fixture_init(&f);
	ck_assert_ptr_nonnull(loopd_timer_start(f.task, 0, 0, ender_timer_cb,
	    &e));
	ck_assert_ptr_nonnull(loopd_timer_start(f.task, 0, 5, ender_timer_cb,
	    &e));
	ck_assert_int_eq(loopd_call_soon(f.task, ender_timer_cb, &e), 0);
	watch_pair(&f, sp, ender_watch_cb, &e);
	ck_assert_int_eq(write(sp[1], "x", 1), 1);
	event_base_dispatch(f.base);
	ck_assert_int_eq(e.calls, 1);
	ck_assert_int_eq(f.states[f.nstates - 1], TASK_DONE);
	close(sp[1]);
	fixture_free(&f);
}
END_TEST

START_TEST(done_disarms_every_event)
{
	struct fixture f;
	struct reader r = { 0 };
	int sp[2], n = 0;

	fixture_init(&f);
	watch_pair(&f, sp, read_cb, &r);
	ck_assert_ptr_nonnull(loopd_timer_start(f.task, 60000, 60000,
	    count_cb, &n));
	ck_assert_int_eq(loopd_call_soon(f.task, count_cb, &n), 0);
	ck_assert_int_eq(event_base_get_num_events(f.base,
	    EVENT_BASE_COUNT_ADDED), 3);
	loopd_task_done(f.task);
	/* Only the reaper is left, the handles wait for it. */
	ck_assert_int_eq(event_base_get_num_events(f.base,
	    EVENT_BASE_COUNT_ADDED), 1);
	ck_assert(!TAILQ_EMPTY(&f.task->handles));
	close(sp[1]);
	fixture_free(&f);
}
END_TEST

/* Even an event still armed does not reach an ending task's callback. */
START_TEST(fire_checks_that_the_task_is_ending)
{
	struct fixture f;
	struct reader r = { 0 };
	int sp[2], n = 0;

	fixture_init(&f);
	watch_pair(&f, sp, read_cb, &r);
	ck_assert_ptr_nonnull(loopd_timer_start(f.task, 0, 0, count_cb, &n));
	ck_assert_int_eq(loopd_call_soon(f.task, count_cb, &n), 0);
	ck_assert_int_eq(write(sp[1], "x", 1), 1);
	f.task->ending = 1;		/* as task_end, without disarming */
	event_base_loop(f.base, EVLOOP_ONCE);
	ck_assert_int_eq(r.calls, 0);
	ck_assert_int_eq(n, 0);
	close(sp[1]);
	fixture_free(&f);
}
END_TEST

START_TEST(callbacks_run_while_cancelling)
{
	struct fixture f;
	struct reader r = { 0 };
	int sp[2], n = 0;

	fixture_init(&f);
	watch_pair(&f, sp, read_cb, &r);
	ck_assert_ptr_nonnull(loopd_timer_start(f.task, 0, 0, count_cb, &n));
	f.task->state = TASK_CANCELLING;	/* cancel hook called */
	ck_assert(!loopd_task_ending(f.task));
	ck_assert_int_eq(write(sp[1], "x", 1), 1);
	run_until_idle(&f);
	ck_assert_int_eq(r.calls, 1);
	ck_assert_int_eq(n, 1);
	close(sp[1]);
	fixture_free(&f);
}
END_TEST

START_TEST(handles_of_an_ended_task_are_stale)
{
	struct fixture f;
	struct reader r = { 0 };
	loopd_watch *w;
	loopd_timer *tm;
	int sp[2], n = 0;

	fixture_init(&f);
	w = watch_pair(&f, sp, read_cb, &r);
	tm = loopd_timer_start(f.task, 60000, 60000, count_cb, &n);
	ck_assert_ptr_nonnull(tm);
	loopd_task_done(f.task);
	/* Ending, not yet reaped: nothing may be re-armed. */
	ck_assert_int_eq(loopd_watch_set(w, LOOPD_WRITE), -LOOPD_ESTATE);
	run_until_idle(&f);
	ck_assert_int_eq(f.states[f.nstates - 1], TASK_DONE);
	ck_assert_int_eq(loopd_watch_set(w, LOOPD_READ), -LOOPD_ESTATE);
	loopd_watch_cancel(w);
	loopd_timer_cancel(tm);
	fixture_free(&f);
	/* The task and its base are gone now. */
	loopd_watch_cancel(w);
	loopd_timer_cancel(tm);
	ck_assert_int_eq(loopd_watch_set(w, LOOPD_READ), -LOOPD_ESTATE);
	close(sp[1]);
}
END_TEST

struct meddler {
	loopd_watch	*victim;	/* another task's watch */
	int		 set_rc;
	int		 calls;
};

static void
meddler_cb(loopd_task *t, void *arg)
{
	struct meddler *m = arg;

	m->calls++;
	loopd_watch_cancel(m->victim);
	m->set_rc = loopd_watch_set(m->victim, 0);
}

START_TEST(handle_of_another_task_is_refused)
{
	struct fixture f;
	struct loopd_task *other;
	struct reader r = { 0 };
	struct meddler m = { 0 };
	int sp[2];

	fixture_init(&f);
	other = task_new(&f.host, &f.conf, 1);
	ck_assert_ptr_nonnull(other);
	other->state = TASK_RUNNING;
	m.victim = watch_pair(&f, sp, read_cb, &r);
	ck_assert_ptr_nonnull(loopd_timer_start(other, 0, 0, meddler_cb, &m));
	run_until_idle(&f);
	ck_assert_int_eq(m.calls, 1);
	ck_assert_int_eq(m.set_rc, -LOOPD_EINVAL);
	/* The watch still works for its own task. */
	ck_assert_int_eq(write(sp[1], "x", 1), 1);
	run_until_idle(&f);
	ck_assert_int_eq(r.calls, 1);
	close(sp[1]);
	task_free(other);
	fixture_free(&f);
}
END_TEST

/* The signal stands in for a crash inside the plugin's constructor: what
 * the crash reporter would read is what the handler records. */
static volatile int	*ctor_running;
static volatile int	 ctor_seen = 99;

static void
ctor_signal(int sig)
{
	ctor_seen = *ctor_running;
}

START_TEST(plugin_constructor_runs_as_the_task)
{
	struct fixture f;
	struct sigaction sa = { .sa_handler = ctor_signal };
	char *path = getenv("LOOPD_CTORSIGNAL");

	ck_assert_msg(path != NULL, "LOOPD_CTORSIGNAL is not set");
	fixture_init(&f);
	f.conf.plugin_path = path;
	f.task->index = 3;
	f.task->state = TASK_STARTING;
	ctor_running = &f.running;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
	task_start(f.task);
	ck_assert_int_eq(ctor_seen, 3);
	ck_assert_int_eq(f.running, -1);
	ck_assert_int_eq(f.task->state, TASK_RUNNING);
	fixture_free(&f);
}
END_TEST

START_TEST(fail_keeps_first_error)
{
	struct fixture f;

	fixture_init(&f);
	loopd_task_fail(f.task, "io", "broken \"pipe\" %d", 32);
	loopd_task_fail(f.task, "other", "ignored");
	loopd_task_done(f.task);
	run_until_idle(&f);
	ck_assert_int_eq(f.nstates, 1);
	ck_assert_int_eq(f.states[0], TASK_FAILED);
	ck_assert_str_eq(f.task->err_type, "io");
	ck_assert_str_eq(f.task->err_msg, "broken \"pipe\" 32");
	fixture_free(&f);
}
END_TEST

START_TEST(fail_with_empty_type_says_error)
{
	struct fixture f;

	fixture_init(&f);
	loopd_task_fail(f.task, "", "x");
	run_until_idle(&f);
	ck_assert_str_eq(f.task->err_type, "error");
	fixture_free(&f);
}
END_TEST

START_TEST(missing_plugin_fails_start)
{
	struct fixture f;

	fixture_init(&f);
	f.task->state = TASK_STARTING;
	task_start(f.task);
	run_until_idle(&f);
	ck_assert_int_eq(f.states[f.nstates - 1], TASK_FAILED);
	ck_assert_str_eq(f.task->err_type, "plugin_not_found");
	ck_assert_ptr_nonnull(strstr(f.task->err_msg, "/nonexistent/p.so"));
	fixture_free(&f);
}
END_TEST

START_TEST(names_and_base)
{
	struct fixture f;

	fixture_init(&f);
	ck_assert_str_eq(loopd_task_name(f.task), "t");
	ck_assert_str_eq(loopd_task_loop(f.task), "l");
	ck_assert_ptr_eq(loopd_task_base(f.task), f.base);
	ck_assert_ptr_null(loopd_task_name(NULL));
	ck_assert_ptr_null(loopd_task_base(NULL));
	fixture_free(&f);
}
END_TEST


/* ---- since 1.1: re-armable timers, error strings, paths ----------------- */

/* The base's own deadline: ends the loop if what a test waits for never
 * comes, instead of waiting an hour. */
struct guard {
	struct event_base	*base;
	int			 late;
};

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct guard *g = arg;

	g->late = 1;
	event_base_loopbreak(g->base);
}

struct rearm {
	struct fixture	*f;
	loopd_timer	*timer;
	int		 n;
	int		 set_rc;
	int		 again;		/* re-arm a one-shot this many times */
};

static void
rearm_cb(loopd_task *t, void *arg)
{
	struct rearm *r = arg;

	r->n++;
	if (r->again > 0) {
		r->again--;
		r->set_rc = loopd_timer_set(r->timer, 0, 0);
	} else
		event_base_loopbreak(r->f->base);
}

/* Runs f's base until a callback breaks the loop; 1 when 5 s passed
 * first. */
static int
run_with_guard(struct fixture *f)
{
	struct timeval five = { 5, 0 };
	struct guard g = { f->base, 0 };
	struct event *ev;

	ev = evtimer_new(f->base, guard_cb, &g);
	ck_assert_ptr_nonnull(ev);
	evtimer_add(ev, &five);
	event_base_dispatch(f->base);
	event_free(ev);
	return g.late;
}

START_TEST(timer_set_rearms_an_hour_to_now)
{
	struct fixture f;
	struct rearm r = { .f = &f };

	fixture_init(&f);
	r.timer = loopd_timer_start(f.task, 3600 * 1000, 0, rearm_cb, &r);
	ck_assert_ptr_nonnull(r.timer);
	ck_assert_int_eq(loopd_timer_set(r.timer, 1, 0), 0);
	ck_assert_int_eq(run_with_guard(&f), 0);
	ck_assert_int_eq(r.n, 1);
	/* A one-shot that fired is released: set refuses it. */
	ck_assert(TAILQ_EMPTY(&f.task->handles));
	ck_assert_int_eq(loopd_timer_set(r.timer, 1, 0), -LOOPD_ESTATE);
	fixture_free(&f);
}
END_TEST

START_TEST(timer_set_inside_a_one_shot_keeps_it)
{
	struct fixture f;
	struct rearm r = { .f = &f, .again = 2 };

	fixture_init(&f);
	r.timer = loopd_timer_start(f.task, 0, 0, rearm_cb, &r);
	ck_assert_ptr_nonnull(r.timer);
	ck_assert_int_eq(run_with_guard(&f), 0);
	ck_assert_int_eq(r.n, 3);
	ck_assert_int_eq(r.set_rc, 0);
	ck_assert(TAILQ_EMPTY(&f.task->handles));
	fixture_free(&f);
}
END_TEST

START_TEST(timer_set_turns_periodic_into_one_shot)
{
	struct fixture f;
	struct rearm r = { .f = &f };

	fixture_init(&f);
	r.timer = loopd_timer_start(f.task, 3600 * 1000, 3600 * 1000,
	    rearm_cb, &r);
	ck_assert_ptr_nonnull(r.timer);
	ck_assert_int_eq(loopd_timer_set(r.timer, 0, 0), 0);
	ck_assert_int_eq(run_with_guard(&f), 0);
	ck_assert_int_eq(r.n, 1);
	ck_assert(TAILQ_EMPTY(&f.task->handles));
	fixture_free(&f);
}
END_TEST

START_TEST(timer_set_refuses_what_is_not_a_live_timer)
{
	struct fixture f;
	struct reader rd = { 0 };
	loopd_timer *tm;
	loopd_watch *w;
	int sp[2], n = 0;

	fixture_init(&f);
	w = watch_pair(&f, sp, read_cb, &rd);
	ck_assert_int_eq(loopd_timer_set(NULL, 1, 1), -LOOPD_EINVAL);
	ck_assert_int_eq(loopd_timer_set((loopd_timer *)w, 1, 1),
	    -LOOPD_EINVAL);
	tm = loopd_timer_start(f.task, 60000, 60000, count_cb, &n);
	ck_assert_ptr_nonnull(tm);
	loopd_timer_cancel(tm);
	ck_assert_int_eq(loopd_timer_set(tm, 1, 1), -LOOPD_ESTATE);
	tm = loopd_timer_start(f.task, 60000, 60000, count_cb, &n);
	loopd_task_done(f.task);
	ck_assert_int_eq(loopd_timer_set(tm, 0, 0), -LOOPD_ESTATE);
	run_until_idle(&f);
	ck_assert_int_eq(n, 0);
	close(sp[1]);
	fixture_free(&f);
}
END_TEST

START_TEST(strerror_has_every_code)
{
	int codes[] = { LOOPD_EINVAL, LOOPD_ENOMEM, LOOPD_ESTATE, LOOPD_ENOENT,
	    LOOPD_ETYPE, LOOPD_ESYS,
#ifdef LOOPD_EFULL
	    LOOPD_EFULL,
#endif
	};
	const char *seen[16] = { 0 };
	size_t i, j;

	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		seen[i] = loopd_strerror(-codes[i]);
		ck_assert_ptr_nonnull(seen[i]);
		ck_assert_str_ne(seen[i], "unknown error");
		ck_assert_str_eq(loopd_strerror(codes[i]), seen[i]);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(seen[i], seen[j]);
	}
	ck_assert_str_eq(loopd_strerror(-LOOPD_EINVAL), "invalid argument");
	ck_assert_str_eq(loopd_strerror(0), "success");
	ck_assert_str_eq(loopd_strerror(1000), "unknown error");
	ck_assert_str_eq(loopd_strerror(-1000), "unknown error");
	ck_assert_str_eq(loopd_strerror(INT_MIN), "unknown error");
	ck_assert_str_eq(loopd_strerror(INT_MAX), "unknown error");
}
END_TEST

START_TEST(task_path_is_relative_to_the_config_file)
{
	struct fixture f;
	char *p;

	fixture_init(&f);
	f.conf.mark.file = "/etc/loopd/loopd.yaml";
	p = loopd_task_path(f.task, "data/cache.db");
	ck_assert_str_eq(p, "/etc/loopd/data/cache.db");
	free(p);
	p = loopd_task_path(f.task, "/var/lib/x");
	ck_assert_str_eq(p, "/var/lib/x");
	free(p);
	f.conf.mark.file = "conf/loopd.yaml";
	p = loopd_task_path(f.task, "x");
	ck_assert_str_eq(p, "conf/x");
	free(p);
	f.conf.mark.file = "loopd.yaml";	/* named without a directory */
	p = loopd_task_path(f.task, "x");
	ck_assert_str_eq(p, "x");
	free(p);
	f.conf.mark.file = "/loopd.yaml";
	p = loopd_task_path(f.task, "x");
	ck_assert_str_eq(p, "/x");
	free(p);
	ck_assert_ptr_null(loopd_task_path(f.task, ""));
	ck_assert_ptr_null(loopd_task_path(f.task, NULL));
	ck_assert_ptr_null(loopd_task_path(NULL, "x"));
	fixture_free(&f);
}
END_TEST

START_TEST(task_ready_without_the_flag_is_refused)
{
	struct fixture f;

	fixture_init(&f);
	ck_assert_int_eq(loopd_task_ready(NULL), -LOOPD_EINVAL);
	ck_assert_int_eq(loopd_task_ready(f.task), -LOOPD_EINVAL);
	ck_assert_int_eq(f.task->state, TASK_RUNNING);
	ck_assert_int_eq(f.nstates, 0);
	fixture_free(&f);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("api");
	TCase *watch = tcase_create("watch"), *timer = tcase_create("timer"),
	    *task = tcase_create("task");

#ifndef UNDER_ASAN
	tcase_add_test(watch, watch_fires_without_allocating);
	tcase_add_test(watch, metric_updates_do_not_allocate);
#endif
	tcase_add_test(watch, watch_marks_running_task);
	tcase_add_test(watch, watch_cancel_inside_callback_closes_fd);
	tcase_add_test(watch, watch_cancel_twice_is_harmless);
	tcase_add_test(watch, watch_set_after_cancel_is_refused);
	tcase_add_test(watch, watch_cancelled_inside_callback_is_stale_at_once);
	tcase_add_test(watch, garbage_handles_are_ignored);
	tcase_add_test(watch, watch_rejects_bad_arguments);
	tcase_add_test(timer, one_shot_timer_fires_once);
	tcase_add_test(timer, one_shot_timer_cancel_after_it_fired);
	tcase_add_test(timer, timer_cancel_twice_is_harmless);
	tcase_add_test(timer, periodic_timer_cancels_itself);
	tcase_add_test(timer, timers_of_every_duration_fire);
	tcase_add_test(timer, timers_of_mixed_delays_keep_their_promises);
#ifndef UNDER_ASAN
	tcase_add_test(timer, spare_handles_past_the_reserve_go_back);
#endif
	tcase_add_test(timer, call_soon_runs_once);
	tcase_add_test(timer, call_soon_dropped_when_task_ended_first);
	tcase_add_test(timer, call_soon_keeps_order_and_defers_nested_calls);
	tcase_add_test(timer, call_soon_chain_lets_io_in);
#ifndef UNDER_ASAN
	tcase_add_test(timer, call_soon_without_allocating);
#endif
	tcase_add_test(timer, timer_set_rearms_an_hour_to_now);
	tcase_add_test(timer, timer_set_inside_a_one_shot_keeps_it);
	tcase_add_test(timer, timer_set_turns_periodic_into_one_shot);
	tcase_add_test(timer, timer_set_refuses_what_is_not_a_live_timer);
	tcase_add_test(task, strerror_has_every_code);
	tcase_add_test(task, task_path_is_relative_to_the_config_file);
	tcase_add_test(task, task_ready_without_the_flag_is_refused);
	tcase_add_test(task, done_releases_handles_and_reports);
	tcase_add_test(task, done_stops_a_watch_ready_in_the_same_turn);
	tcase_add_test(task, done_stops_timers_due_in_the_same_turn);
	tcase_add_test(task, done_disarms_every_event);
	tcase_add_test(task, fire_checks_that_the_task_is_ending);
	tcase_add_test(task, callbacks_run_while_cancelling);
	tcase_add_test(task, handles_of_an_ended_task_are_stale);
	tcase_add_test(task, handle_of_another_task_is_refused);
	tcase_add_test(task, plugin_constructor_runs_as_the_task);
	tcase_add_test(task, fail_keeps_first_error);
	tcase_add_test(task, fail_with_empty_type_says_error);
	tcase_add_test(task, missing_plugin_fails_start);
	tcase_add_test(task, names_and_base);
	suite_add_tcase(s, watch);
	suite_add_tcase(s, timer);
	suite_add_tcase(s, task);
	return unit_run(s);
}
