/*
 * supervisor.h: the supervisor process.
 */
#ifndef LOOPD_SUPERVISOR_H
#define LOOPD_SUPERVISOR_H

#include "config.h"

/*
 * Run every loop of conf (borrowed) in a worker process of its own, each
 * started as `exe --worker`, until SIGINT or SIGTERM and the shutdown that
 * follows.  Returns the process's exit status: 0 when every task ended
 * within the grace period, 1 when tasks had to be killed or were lost with
 * their worker during shutdown, or loopd could not run.
 */
int	supervisor_run(const struct conf *conf, const char *exe);

#endif /* LOOPD_SUPERVISOR_H */
