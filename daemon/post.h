/*
 * post.h: calls handed to a worker's loop thread from any thread.
 *
 * One post queue per worker: a mutex-guarded vector of calls and an
 * eventfd the loop watches.  Plugin threads reach it through
 * loopd_post(); the executor's pool threads hand their completions back
 * through it, so that no thread but the loop's ever touches the
 * event_base or a task.
 *
 * A task accepts posts from task_new() until it ends (task_end() calls
 * post_task_close()).  A call queued for a task that has ended since is
 * dropped when it is taken off the queue, without touching its arg.
 * The queue never reads a task's memory from another thread except
 * t->host, set before the task is published; it relies on a task's
 * memory staying allocated until its worker frees the queue (worker.c
 * frees tasks only at exit).
 */
#ifndef LOOPD_POST_H
#define LOOPD_POST_H

#include <stddef.h>
#include <stdint.h>

#include <loopd/plugin.h>

struct event_base;
struct post_queue;

/* A new queue watched on base, or NULL.  Loop thread.  Free with
 * post_queue_free(), after every thread that posts has stopped. */
struct post_queue *post_queue_new(struct event_base *base);
/* Drops what is still queued, running nothing. */
void		 post_queue_free(struct post_queue *q);

/*
 * The executor's way in without allocating: post_queue_kick() (any
 * thread) wakes the loop, which then calls hook(ctx) after the queued
 * calls.  One hook per queue; set it on the loop thread.
 */
void		 post_queue_hook(struct post_queue *q, void (*hook)(void *),
		    void *ctx);
void		 post_queue_kick(struct post_queue *q);

/* Open or close t for loopd_post(); loop thread.  Closing is final. */
void		 post_task_open(struct loopd_task *t);
void		 post_task_close(struct loopd_task *t);

/* Run what is queued now, as the eventfd would; loop thread (tests). */
void		 post_queue_run(struct post_queue *q);

/* Calls dropped because their task had ended when they were taken. */
uint64_t	 post_queue_dropped(const struct post_queue *q);

#endif /* LOOPD_POST_H */
