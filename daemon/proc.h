/*
 * proc.h: worker processes, the mechanics: start, channel, crash page,
 * kill, reap.  What to do about a worker (readiness, restarts, shutdown)
 * is the supervisor's business, not this module's.
 *
 * A worker is started with fork and exec of loopd itself (`loopd --worker`),
 * so it begins with a fresh address space and inherits nothing it was not
 * given: fds 0-2, its channel as fd PROC_FD_CHANNEL, its crash page as
 * fd PROC_FD_CRASH, and the socket that carries listening sockets to it as
 * fd PROC_FD_SOCKETS.  Everything else the supervisor opens is O_CLOEXEC,
 * and the child closes whatever is not before the exec.  It leads a
 * process group of its own and dies with the supervisor (PDEATHSIG).
 *
 * Supervisor main thread only.
 */
#ifndef LOOPD_PROC_H
#define LOOPD_PROC_H

#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "ipc.h"

#define PROC_FD_CHANNEL	3
#define PROC_FD_CRASH	4
#define PROC_FD_SOCKETS	5	/* listening sockets come this way */
/* The argument that makes loopd a worker. */
#define PROC_WORKER_ARG	"--worker"

struct crash_page;
struct pmetric_table;

struct proc {
	pid_t			 pid;		/* 0 when not running */
	struct ipc		*ipc;
	int			 crash_fd;
	struct crash_page	*page;
	struct pmetric_table	*metrics;	/* its plugins', declared */
	int			 sock_fd;	/* SOCK_SEQPACKET, to fd 5 */
};

/*
 * Start `exe --worker TITLE` (the title shows in ps), its channel on cb/ctx.
 * Returns 0, or -1 with errno set (nothing is left open).
 */
int	 proc_spawn(struct proc *p, struct event_base *base, const char *exe,
	    const char *title, const struct ipc_callbacks *cb, void *ctx);

/* The task index the worker said was running, or -1. */
int	 proc_running(const struct proc *p);

/* What the worker's crash handler wrote, as a new JSON array, or NULL. */
json_t	*proc_backtrace(const struct proc *p);

/* The system call the worker's sandbox refused, as its crash handler
 * wrote it: 0 with *nr and *arch (audit architecture), or -1. */
int	 proc_syscall(const struct proc *p, int *nr, uint32_t *arch);

/* The worker's last heartbeat (CLOCK_MONOTONIC ms), 0 before the first. */
uint64_t proc_beat(const struct proc *p);
/* The loop's runtime statistics, as the worker claims them (wstats.h):
 * 0, or -1 when no worker runs. */
struct wstats_snap;
int	 proc_stats(const struct proc *p, struct wstats_snap *out);
/* Ask the worker for a dump of the stack it is stuck in; how many it has
 * written so far (a new one has arrived when this grows). */
int	 proc_dump(const struct proc *p);
uint32_t proc_dumps(const struct proc *p);
/* The last dump, as a new JSON array of raw frames, or NULL. */
json_t	*proc_dump_read(const struct proc *p);

/* SIGKILL the worker and its process group (what its plugins forked). */
void	 proc_kill(const struct proc *p);

/* After the worker was reaped: kill what is left of its process group,
 * release its channel, crash page and metrics. */
void	 proc_release(struct proc *p);

/*
 * The supervisor adopts what its workers' children leave behind
 * (PR_SET_CHILD_SUBREAPER).  proc_kill_strays() kills every child of this
 * process whose pid is not in keep[0..nkeep), and returns how many it
 * signalled; they are reaped by the caller's SIGCHLD handling.
 */
int	 proc_adopt_orphans(void);
size_t	 proc_kill_strays(const pid_t *keep, size_t nkeep);

#endif /* LOOPD_PROC_H */
