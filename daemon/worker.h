/*
 * worker.h: the body of a worker process, one per configured loop.
 */
#ifndef LOOPD_WORKER_H
#define LOOPD_WORKER_H

/* Exit statuses a worker uses on its own, besides 0 and 1. */
#define WORKER_EXIT_BACKEND	3	/* the backend is not available */
#define WORKER_EXIT_CONFIG	4	/* its configuration did not arrive */
#define WORKER_EXIT_LIMITS	5	/* its limits could not be set */
#define WORKER_EXIT_USER	6	/* it could not become `user:` */
#define WORKER_EXIT_SANDBOX	7	/* its sandbox could not be applied */

/*
 * `loopd --worker`, exec'ed by the supervisor (see proc.h): read this
 * loop's configuration from the channel, run its tasks, report.  Returns
 * the process's exit status once every task has ended after a cancel, or
 * the supervisor went away.
 */
int	worker_main(void);

#endif /* LOOPD_WORKER_H */
