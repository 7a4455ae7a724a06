/*
 * worker.h: the body of a worker process, one per configured loop.
 */
#ifndef LOOPD_WORKER_H
#define LOOPD_WORKER_H

#include "config.h"

/* Exit statuses a worker uses on its own, besides 0 and 1. */
#define WORKER_EXIT_BACKEND	3	/* the backend is not available */

/*
 * Run loop `loop` of `conf` (both borrowed) in this freshly forked process,
 * talking to the supervisor over fd (stolen).  `running` is shared memory
 * where the worker keeps the index of the task whose code runs, or -1;
 * crash_fd (borrowed) is where the crash reporter writes a backtrace.
 * Returns the process's exit status once every task has ended after a
 * cancel, or the supervisor went away.
 */
int	worker_run(const struct conf *conf, const struct loop_conf *loop,
	    int fd, volatile int *running, int crash_fd);

#endif /* LOOPD_WORKER_H */
