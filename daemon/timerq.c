/*
 * timerq.c: a loop's timers, queued by duration (timerq.h).
 *
 * A group is a circular list of entries in due order and one libevent
 * timer set for its head.  Entries are appended at the tail: a timer
 * started now is due after every timer of its duration started before.
 * The list is searched back from the tail only when a periodic timer that
 * fell late comes back, which is O(1) in practice.
 *
 * A cancelled head leaves the group's timer set for it: the timer fires
 * early, finds nothing due and is set again for the new head.  That costs
 * one wake-up at most, and saves setting a libevent timer on every
 * cancel.  The last entry out of a group takes its timer out of the loop.
 *
 * An entry queued while its group runs is due later than now (a duration
 * of 0 counts as one nanosecond), so a timer that starts itself again
 * from its callback waits for the next turn of the loop, and I/O gets in
 * between.
 */
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "timerq.h"

struct timerq_group {
	struct timerq		*q;
	uint64_t		 ms;
	uint64_t		 ns;		/* at least 1 */
	struct timerq_link	 head;
	int			 armed;		/* ev is set, for armed_due */
	uint64_t		 armed_due;
	struct event		*ev;
};

struct timerq {
	struct event_base	*base;
	clockid_t		 clock;
	timerq_fire_fn		 fire;
	/* Groups by ms: open addressing, never more than half full. */
	struct timerq_group	**slots;
	size_t			 n, cap;
	/* While a group runs: the time it ran at, as libevent's cached time
	 * during its callbacks. */
	int			 running;
	uint64_t		 now;
};

static uint64_t
clock_now(struct timerq *q)
{
	struct timespec ts;

	if (q->running)
		return q->now;
	clock_gettime(q->clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timerq_entry *
entry_of(struct timerq_link *l)
{
	return (struct timerq_entry *)(void *)l;	/* link comes first */
}

static void
link_after(struct timerq_link *p, struct timerq_link *l)
{
	l->prev = p;
	l->next = p->next;
	p->next->prev = l;
	p->next = l;
}

static void
arm(struct timerq_group *g, uint64_t due, uint64_t now)
{
	uint64_t rel = due > now ? due - now : 0;
	struct timeval tv = {
		.tv_sec = (time_t)(rel / 1000000000u),
		.tv_usec = (suseconds_t)(rel % 1000000000u / 1000u),
	};

	/* Round up: libevent's timers have microseconds, and a timer must
	 * not wake up before its head is due. */
	if (rel % 1000u != 0 && ++tv.tv_usec == 1000000) {
		tv.tv_sec++;
		tv.tv_usec = 0;
	}
	if (event_add(g->ev, &tv) == 0) {
		g->armed = 1;
		g->armed_due = due;
	}
}

/* e (unlinked, due set) into g in due order; g's timer follows a new
 * head. */
static void
insert(struct timerq_group *g, struct timerq_entry *e, uint64_t now)
{
	struct timerq_link *p = g->head.prev;

	while (p != &g->head && entry_of(p)->due > e->due)
		p = p->prev;
	link_after(p, &e->link);
	if (p == &g->head && (!g->armed || g->armed_due > e->due))
		arm(g, e->due, now);
}

static void
group_run(evutil_socket_t fd, short what, void *arg)
{
	struct timerq_group *g = arg;
	struct timerq *q = g->q;
	struct timerq_link *l;
	uint64_t now = clock_now(q);

	(void)fd;
	(void)what;
	g->armed = 0;
	q->running = 1;
	q->now = now;
	while ((l = g->head.next) != &g->head && entry_of(l)->due <= now) {
		timerq_del(g, entry_of(l));
		q->fire(entry_of(l));
	}
	q->running = 0;
	l = g->head.next;
	if (l != &g->head && (!g->armed || g->armed_due > entry_of(l)->due))
		arm(g, entry_of(l)->due, now);
}

struct timerq *
timerq_new(struct event_base *base, int precise, timerq_fire_fn fire)
{
	struct timerq *q;

	if ((q = calloc(1, sizeof *q)) == NULL)
		return NULL;
	q->base = base;
	q->clock = precise ? CLOCK_MONOTONIC : CLOCK_MONOTONIC_COARSE;
	q->fire = fire;
	return q;
}

void
timerq_free(struct timerq *q)
{
	size_t i;

	if (q == NULL)
		return;
	for (i = 0; i < q->cap; i++)
		if (q->slots[i] != NULL) {
			event_free(q->slots[i]->ev);
			free(q->slots[i]);
		}
	free(q->slots);
	free(q);
}

static size_t
slot_of(uint64_t ms, size_t cap)
{
	return (size_t)((ms * 0x9e3779b97f4a7c15u) >> 32) & (cap - 1);
}

/* Double the table; -1 when memory ran out. */
static int
grow(struct timerq *q)
{
	struct timerq_group **v;
	size_t i, j, cap = q->cap ? q->cap * 2 : 16;

	if ((v = calloc(cap, sizeof *v)) == NULL)
		return -1;
	for (i = 0; i < q->cap; i++) {
		if (q->slots[i] == NULL)
			continue;
		for (j = slot_of(q->slots[i]->ms, cap); v[j] != NULL;
		    j = (j + 1) & (cap - 1))
			;
		v[j] = q->slots[i];
	}
	free(q->slots);
	q->slots = v;
	q->cap = cap;
	return 0;
}

struct timerq_group *
timerq_group(struct timerq *q, uint64_t ms)
{
	struct timerq_group *g;
	size_t i;

	if (q->cap > 0)
		for (i = slot_of(ms, q->cap); q->slots[i] != NULL;
		    i = (i + 1) & (q->cap - 1))
			if (q->slots[i]->ms == ms)
				return q->slots[i];
	if (q->n == TIMERQ_GROUPS_MAX || ms > UINT64_MAX / 1000000u)
		return NULL;
	if ((q->n + 1) * 2 > q->cap && grow(q) < 0)
		return NULL;
	if ((g = calloc(1, sizeof *g)) == NULL)
		return NULL;
	if ((g->ev = event_new(q->base, -1, 0, group_run, g)) == NULL) {
		free(g);
		return NULL;
	}
	g->q = q;
	g->ms = ms;
	g->ns = ms > 0 ? ms * 1000000u : 1;
	g->head.next = g->head.prev = &g->head;
	for (i = slot_of(ms, q->cap); q->slots[i] != NULL;
	    i = (i + 1) & (q->cap - 1))
		;
	q->slots[i] = g;
	q->n++;
	return g;
}

void
timerq_entry_init(struct timerq_entry *e)
{
	e->link.next = e->link.prev = NULL;
}

void
timerq_add(struct timerq_group *g, struct timerq_entry *e)
{
	uint64_t now = clock_now(g->q);

	e->due = now + g->ns;
	insert(g, e, now);
}

void
timerq_again(struct timerq_group *g, struct timerq_entry *e)
{
	uint64_t now = clock_now(g->q);

	e->due += g->ns;
	if (e->due <= now)
		e->due = now + g->ns;	/* fell behind: from now */
	insert(g, e, now);
}

void
timerq_del(struct timerq_group *g, struct timerq_entry *e)
{
	struct timerq_link *l = &e->link;

	if (l->next == NULL)
		return;
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->next = l->prev = NULL;
	if (g->armed && g->head.next == &g->head) {
		event_del(g->ev);	/* nothing left to wake up for */
		g->armed = 0;
	}
}
