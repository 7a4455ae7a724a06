/*
 * supervisor.h: the supervisor process.
 */
#ifndef LOOPD_SUPERVISOR_H
#define LOOPD_SUPERVISOR_H

#include "config.h"

/*
 * Run every loop of conf (borrowed) in its worker until SIGINT or SIGTERM
 * and the shutdown that follows.  Returns the process's exit status: 0
 * when every task ended within the grace period, 1 otherwise.  Worker
 * processes never return from here.
 */
int	supervisor_run(const struct conf *conf);

#endif /* LOOPD_SUPERVISOR_H */
