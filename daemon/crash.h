/*
 * crash.h: the crash reporter, and the page a worker shares with the
 * supervisor.
 *
 * The supervisor makes one memory file per worker and passes it to the
 * worker at exec.  Its first page holds what the supervisor may need to
 * know after the worker died: the index of the task whose code was
 * running.  When plugin code kills the worker with SIGSEGV, SIGBUS,
 * SIGILL, SIGFPE, SIGABRT or SIGSYS (a system call its sandbox refused:
 * the call's number goes on the page), the worker's signal handler writes a
 * backtrace after that page, from the instruction the signal hit (the
 * handler's own frames left out), then dies of the same signal; the
 * supervisor reads it when it reaps the worker and symbolizes it
 * (symbolize.h).  The worker can write anything
 * there, so the supervisor treats both as claims, not facts.
 *
 * The file has its full size from the start, and is sealed against
 * shrinking: a worker that truncated it would otherwise make the
 * supervisor's next read of its mappings a SIGBUS.  From CRASH_AREA_OFF
 * on, CRASH_AREA_SIZE bytes hold other values the worker shares: its
 * plugins' metrics (pmetric.h).  The page itself also holds the loop's
 * runtime statistics (wstats.h).
 */
#ifndef LOOPD_CRASH_H
#define LOOPD_CRASH_H

#include <signal.h>
#include <stdint.h>

#include <jansson.h>

#include "wstats.h"

struct crash_page {
	volatile int32_t	running;	/* task index, or -1 */
	volatile uint32_t	dumps;		/* stack dumps written */
	volatile uint64_t	beat_ms;	/* the loop's last heartbeat */
	/* SIGSYS from the sandbox (sandbox.h): the call refused, or -1,
	 * and its audit architecture (si_arch). */
	volatile int32_t	syscall_nr;
	volatile uint32_t	syscall_arch;
	/* The loop's runtime statistics, written while it runs. */
	struct wstats		stats;
};

#define CRASH_AREA_OFF	(1024 * 1024)	/* far after any backtrace */
#define CRASH_AREA_SIZE	(64 * 1024)

/* The supervisor sends this to a worker whose loop seems stuck: the
 * worker writes the stuck thread's stack and carries on. */
#define CRASH_DUMP_SIGNAL	(SIGRTMIN + 1)

/* The instruction a signal hit, from a SA_SIGINFO handler's context
 * argument; NULL where the architecture is not known. */
void	*crash_pc(const void *context);

/* Supervisor: a new memory file (O_CLOEXEC) and its page mapped into
 * *page, or -1 (errno).  Release with crash_close(). */
int	 crash_open(struct crash_page **page);
void	 crash_close(int fd, struct crash_page *page);

/* Worker: map the page of fd (kept open) and install the handler.
 * Returns the page, or NULL (errno). */
struct crash_page *crash_install(int fd);

/* Supervisor: what a dead worker wrote to fd, as a new JSON array of
 * frames, or NULL when it wrote nothing. */
json_t	*crash_read(int fd);
/* Supervisor: the last stack dump (CRASH_DUMP_SIGNAL), the same way. */
json_t	*crash_read_dump(int fd);

#endif /* LOOPD_CRASH_H */
