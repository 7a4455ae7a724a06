/*
 * timerq.h: a loop's timers, queued by duration.
 *
 * Most timers of a loop share a few durations (a keep-alive, a retry
 * delay, a tick).  Timers of one duration fall due in the order they were
 * started, so each duration is a queue in due order with one libevent
 * timer for its head: starting, cancelling and firing a timer are O(1)
 * and touch only its own entry and its neighbours', where libevent's heap
 * moves O(log n) other timers' events, most of them cold.
 *
 * An entry is embedded in its owner's memory; the queue never allocates
 * per timer.  Times are on the clock libevent's timers use on the same
 * base (CLOCK_MONOTONIC_COARSE, or CLOCK_MONOTONIC with precise_timer),
 * so that a queued timer is exactly as early or late as a libevent one.
 *
 * Loop thread only.
 */
#ifndef LOOPD_TIMERQ_H
#define LOOPD_TIMERQ_H

#include <stdint.h>

struct event_base;
struct timerq;
struct timerq_group;

struct timerq_link {
	struct timerq_link	*next, *prev;
};

/* Embedded in the owner; zeroed or timerq_entry_init()ed before use. */
struct timerq_entry {
	struct timerq_link	 link;	/* in a group's queue, or unlinked */
	uint64_t		 due;	/* ns on the queue's clock */
};

/* Called with each entry that falls due, unlinked; it may start, cancel
 * or requeue any timer, this one included. */
typedef void	(*timerq_fire_fn)(struct timerq_entry *e);

/* Timers on base; NULL when memory ran out.  precise: the base has
 * EVENT_BASE_FLAG_PRECISE_TIMER. */
struct timerq	*timerq_new(struct event_base *base, int precise,
		    timerq_fire_fn fire);
/* Every entry must have been cancelled (or have fired) first. */
void		 timerq_free(struct timerq *q);

/*
 * The group of timers of ms milliseconds, made on first use and kept
 * until timerq_free().  NULL when there are TIMERQ_GROUPS_MAX groups
 * already (or memory ran out): the caller times that one alone.
 */
#define TIMERQ_GROUPS_MAX	256
struct timerq_group *timerq_group(struct timerq *q, uint64_t ms);

void		 timerq_entry_init(struct timerq_entry *e);
/* Queue e (unlinked) to fall due g's duration from now. */
void		 timerq_add(struct timerq_group *g, struct timerq_entry *e);
/* Queue e (unlinked, just fired) again, g's duration after it fell due,
 * or from now if that has passed already: a period without drift. */
void		 timerq_again(struct timerq_group *g, struct timerq_entry *e);
/* Take e out of g, its queue; nothing if it is not in one. */
void		 timerq_del(struct timerq_group *g, struct timerq_entry *e);

#endif
