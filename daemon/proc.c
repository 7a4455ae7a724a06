/*
 * proc.c: start a worker with fork+exec, and the rest of its mechanics.
 *
 * Between fork and exec the child runs with every signal blocked (the
 * parent's libevent handlers must not run there), moves its two fds into
 * place, closes every other one, restores default signal dispositions and
 * execs.  Nothing in it allocates.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crash.h"
#include "pmetric.h"
#include "proc.h"
#include "wstats.h"

/* The child's side, after fork: never returns. */
static void
proc_child(int chan, int crash, int socks, const char *exe,
    char *const argv[], pid_t parent)
{
	sigset_t none;
	int sig;

	setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	/* Out of the way of 3 to 5 first, then into place; dup2 leaves the
	 * new fds without O_CLOEXEC. */
	if ((chan = fcntl(chan, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (crash = fcntl(crash, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    (socks = fcntl(socks, F_DUPFD_CLOEXEC, 10)) < 0 ||
	    dup2(chan, PROC_FD_CHANNEL) < 0 || dup2(crash, PROC_FD_CRASH) < 0 ||
	    dup2(socks, PROC_FD_SOCKETS) < 0)
		_exit(127);
	close_range(PROC_FD_SOCKETS + 1, ~0U, 0);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(exe, argv);
	_exit(127);
}

int
proc_spawn(struct proc *p, struct event_base *base, const char *exe,
    const char *title, const struct ipc_callbacks *cb, void *ctx)
{
	/* argv[0] stays the file's path: backtraces name the program by it. */
	char *argv[] = { (char *)exe, (char *)PROC_WORKER_ARG, (char *)title,
	    NULL };
	sigset_t all, old;
	pid_t parent = getpid();
	int sp[2], sk[2] = { -1, -1 }, saved;

	memset(p, 0, sizeof *p);
	p->crash_fd = -1;
	p->sock_fd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk) < 0)
		goto fail;
	if ((p->crash_fd = crash_open(&p->page)) < 0 ||
	    (p->metrics = pmetric_table_new(p->crash_fd)) == NULL)
		goto fail;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	p->pid = fork();
	if (p->pid == 0)
		proc_child(sp[1], p->crash_fd, sk[1], exe, argv, parent);
	saved = errno;
	if (p->pid > 0)
		setpgid(p->pid, p->pid);	/* as the child does: no race */
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(sp[1]);
	sp[1] = -1;
	close(sk[1]);
	sk[1] = -1;
	if (p->pid < 0) {
		errno = saved;
		goto fail;
	}
	if ((p->ipc = ipc_new(base, sp[0], IPC_FRAME_MAX, cb, ctx)) == NULL) {
		saved = errno;
		proc_kill(p);
		errno = saved;
		goto fail;	/* reaped by the caller's SIGCHLD handling */
	}
	p->sock_fd = sk[0];
	return 0;
fail:
	saved = errno;
	close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	if (sk[0] >= 0)
		close(sk[0]);
	if (sk[1] >= 0)
		close(sk[1]);
	pmetric_table_free(p->metrics);
	crash_close(p->crash_fd, p->page);
	memset(p, 0, sizeof *p);
	p->crash_fd = -1;
	p->sock_fd = -1;
	errno = saved;
	return -1;
}

int
proc_running(const struct proc *p)
{
	return p->page != NULL ? p->page->running : -1;
}

json_t *
proc_backtrace(const struct proc *p)
{
	return p->crash_fd >= 0 ? crash_read(p->crash_fd) : NULL;
}

int
proc_syscall(const struct proc *p, int *nr, uint32_t *arch)
{
	if (p->page == NULL || p->page->syscall_nr < 0)
		return -1;
	*nr = p->page->syscall_nr;
	*arch = p->page->syscall_arch;
	return 0;
}

uint64_t
proc_beat(const struct proc *p)
{
	return p->page != NULL ? p->page->beat_ms : 0;
}

int
proc_stats(const struct proc *p, struct wstats_snap *out)
{
	if (p->pid <= 0 || p->page == NULL)
		return -1;
	wstats_read(&p->page->stats, out);
	return 0;
}

int
proc_dump(const struct proc *p)
{
	return p->pid > 0 ? kill(p->pid, CRASH_DUMP_SIGNAL) : -1;
}

uint32_t
proc_dumps(const struct proc *p)
{
	return p->page != NULL ? p->page->dumps : 0;
}

json_t *
proc_dump_read(const struct proc *p)
{
	return p->crash_fd >= 0 ? crash_read_dump(p->crash_fd) : NULL;
}

void
proc_kill(const struct proc *p)
{
	if (p->pid > 0 && kill(-p->pid, SIGKILL) < 0 && errno == ESRCH)
		kill(p->pid, SIGKILL);
}

void
proc_release(struct proc *p)
{
	/* Its process group outlives it while a member lives, so this
	 * reaches only what the worker's plugins left behind. */
	if (p->pid > 0)
		kill(-p->pid, SIGKILL);
	ipc_free(p->ipc);
	pmetric_table_free(p->metrics);
	crash_close(p->crash_fd, p->page);
	if (p->sock_fd >= 0)
		close(p->sock_fd);
	memset(p, 0, sizeof *p);
	p->crash_fd = -1;
	p->sock_fd = -1;
}

int
proc_adopt_orphans(void)
{
	return prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/* The parent pid in /proc/PID/stat, or -1. */
static pid_t
proc_parent_of(const char *pid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%s/stat", pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything but ')'
	 * ends it for good at the last one. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	return (pid_t)strtol(p + 3, NULL, 10);
}

size_t
proc_kill_strays(const pid_t *keep, size_t nkeep)
{
	pid_t self = getpid(), pid;
	struct dirent *de;
	size_t i, n = 0;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9' ||
		    proc_parent_of(de->d_name) != self)
			continue;
		pid = (pid_t)strtol(de->d_name, NULL, 10);
		for (i = 0; i < nkeep && keep[i] != pid; i++)
			;
		if (i < nkeep)
			continue;
		kill(pid, SIGKILL);
		n++;
	}
	closedir(d);
	return n;
}
