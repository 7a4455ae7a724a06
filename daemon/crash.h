/*
 * crash.h: the crash reporter.
 *
 * A worker installs it once; when plugin code kills the worker with
 * SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT, its signal handler writes a
 * backtrace to a file the supervisor shares, then dies of the same signal.
 * The supervisor reads that file when it reaps the worker.
 */
#ifndef LOOPD_CRASH_H
#define LOOPD_CRASH_H

#include <jansson.h>

/* Supervisor: a new file for one worker's backtrace, or -1 (errno). */
int	 crash_file(void);

/* Worker: install the handler, writing to fd (borrowed, kept open).
 * Returns 0 or -1. */
int	 crash_install(int fd);

/* Supervisor: what a dead worker wrote to fd, as a new JSON array of
 * frames, or NULL when it wrote nothing. */
json_t	*crash_read(int fd);

#endif /* LOOPD_CRASH_H */
