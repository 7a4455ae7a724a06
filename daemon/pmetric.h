/*
 * pmetric.h: the counters and gauges plugins export (loopd_metric_*), in
 * the worker that holds them and in the supervisor that serves them.
 *
 * The values live in the worker's shared file (crash.h, CRASH_AREA_OFF):
 * PMETRIC_SLOTS 8-byte integers that the worker writes and the supervisor
 * reads when /metrics is scraped, without asking the worker.  What a slot
 * means travels once, when a plugin declares its metric: a MSG_METRIC
 * (task index, slot, kind, name, help), never dropped, which the
 * supervisor checks as it checks every message of a worker.  It keeps its
 * own copy of the declarations it accepted and reads only the values of
 * their slots: nothing else in the shared file is believed.  A worker that
 * lies about a value lies only about its own plugins.
 *
 * A task's metrics end with it: the worker frees their slots after the
 * task's stop hook, just before it reports the end, and the supervisor
 * forgets them when it hears that end (MSG_STATE done or failed) or when
 * the worker is gone.  A task that starts again declares them anew, from
 * 0 (a counter reset, which Prometheus expects).  A freed slot is reused
 * last: every slot never used comes first, then the oldest freed one.
 *
 * Threads: the declarations and the end of a task on the worker's loop
 * thread; loopd_metric_add() and loopd_metric_set() on any thread of the
 * worker (relaxed atomics); the table on the supervisor's main thread.
 */
#ifndef LOOPD_PMETRIC_H
#define LOOPD_PMETRIC_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define PMETRIC_SLOTS		4096	/* metrics at once, per loop */
#define PMETRIC_TASK_MAX	64	/* metrics at once, per task */
#define PMETRIC_NAME_MAX	64	/* bytes */
#define PMETRIC_HELP_MAX	256	/* bytes */

enum pmetric_kind {
	PMETRIC_COUNTER,
	PMETRIC_GAUGE,
};

/* [a-z_][a-z0-9_]*, 1 to PMETRIC_NAME_MAX bytes, not ending in "_total"
 * (loopd adds that to a counter's name). */
int		 pmetric_name_valid(const char *name, size_t len);
/* UTF-8 text of at most PMETRIC_HELP_MAX bytes, with no control
 * character. */
int		 pmetric_help_valid(const char *help, size_t len);


/* ---- the worker's side ----------------------------------------------------- */

struct pmetric_area;
struct loopd_task;

/*
 * The worker's area, in the shared file fd (fd < 0: private memory, for a
 * test of the API without a supervisor), or NULL (errno).  It is the
 * process's one area: a handle leads to its slot without any other
 * context (a plugin's thread has none); a newer area replaces it.  Free
 * with pmetric_area_free(), after every thread that may update a metric
 * has stopped.  Tasks find it in their host (task.h).
 */
struct pmetric_area *pmetric_area_new(int fd);
void		 pmetric_area_free(struct pmetric_area *a);

/* Task t has ended: its handles are stale from now on, and their slots
 * free for later metrics.  Loop thread.  Harmless when it has none. */
void		 pmetric_task_end(struct loopd_task *t);

/* ---- the supervisor's side ------------------------------------------------- */

/* One declaration.  The strings are borrowed: from the message while it
 * is being read, from the table once accepted. */
struct pmetric_decl {
	size_t			 task;
	size_t			 slot;
	enum pmetric_kind	 kind;
	const char		*name;
	const char		*help;
};

/*
 * After msg_open() returned MSG_METRIC: read a declaration of a loop of
 * ntasks task slots into *d, checking all that can be checked of it
 * alone: each value's type, the task index, slot and kind in range, the
 * name and help, nothing after them.  NULL, or what is wrong.
 */
const char	*pmetric_get_declaration(struct msg_in *in, size_t ntasks,
		    struct pmetric_decl *d);

struct pmetric_table;

/* The declarations of one worker, whose values it reads from the shared
 * file fd (mapped read-only), or NULL (errno).  Free with
 * pmetric_table_free(); NULL is fine. */
struct pmetric_table *pmetric_table_new(int fd);
void		 pmetric_table_free(struct pmetric_table *tab);

/*
 * Accept d (copied): NULL, or what is wrong with it beside the others: its
 * slot is another metric's, its task has a metric of that name already,
 * or PMETRIC_TASK_MAX of them.  Whether the task runs is the caller's to
 * check.
 */
const char	*pmetric_table_add(struct pmetric_table *tab,
		    const struct pmetric_decl *d);
/* Forget every metric of task slot `task`. */
void		 pmetric_table_drop_task(struct pmetric_table *tab,
		    size_t task);
/* How many metrics are accepted; the i-th (borrowed: valid until the next
 * add or drop), and its value now in *value. */
size_t		 pmetric_table_count(const struct pmetric_table *tab);
const struct pmetric_decl *pmetric_table_get(const struct pmetric_table *tab,
		    size_t i, int64_t *value);

#endif /* LOOPD_PMETRIC_H */
