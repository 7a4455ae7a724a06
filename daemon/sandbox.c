/*
 * sandbox.c: the seccomp profiles and their application (sandbox.h).
 *
 * A group is a list of system call names, resolved on the architecture
 * loopd runs on (a name this architecture does not have, such as open on
 * aarch64, is skipped).  Three calls get rules on their arguments:
 * socket() only for AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK (the
 * resolver's), clone() only for threads (CLONE_THREAD), and clone3(),
 * whose flags a filter cannot read, fails with ENOSYS so that the C
 * library falls back to clone().
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <seccomp.h>

#include "sandbox.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static const char *const base_calls[] = {
	"exit", "exit_group", "getpid", "gettid", "getppid", "getuid",
	"geteuid", "getgid", "getegid", "getgroups", "getresuid",
	"getresgid", "getpgrp", "getpgid", "getsid", "uname", "getrandom",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
	"rt_sigtimedwait", "rt_sigsuspend", "sigaltstack", "tgkill", "tkill",
	"restart_syscall", "sched_yield", "sched_getaffinity",
	"sched_getparam", "sched_getscheduler", "sched_get_priority_max",
	"sched_get_priority_min", "getrlimit", "prlimit64", "getrusage",
	"times", "sysinfo", "prctl", "arch_prctl", "set_tid_address",
	"set_robust_list", "get_robust_list", "rseq", "futex", "futex_waitv",
	"getcpu", "clock_gettime", "clock_getres", "clock_nanosleep",
	"nanosleep", "gettimeofday", "time", "umask", "capget",
	"getpriority", NULL,
};
static const char *const memory_calls[] = {
	"brk", "mmap", "munmap", "mprotect", "mremap", "madvise", "mincore",
	"mlock", "mlock2", "munlock", "membarrier", "msync", NULL,
};
static const char *const io_calls[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv",
	"pwritev", "preadv2", "pwritev2", "lseek", "close", "close_range",
	"dup", "dup2", "dup3", "fcntl", "ioctl", "pipe", "pipe2", "eventfd",
	"eventfd2", "sendfile", "splice", "tee", NULL,
};
static const char *const events_calls[] = {
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait",
	"epoll_pwait", "epoll_pwait2", "poll", "ppoll", "select", "pselect6",
	"timerfd_create", "timerfd_settime", "timerfd_gettime", "signalfd",
	"signalfd4", "inotify_init", "inotify_init1", "inotify_add_watch",
	"inotify_rm_watch", NULL,
};
static const char *const files_calls[] = {
	"open", "openat", "openat2", "creat", "stat", "fstat", "lstat",
	"newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat",
	"faccessat2", "readlink", "readlinkat", "getdents", "getdents64",
	"getcwd", "chdir", "fchdir", "fsync", "fdatasync", "syncfs",
	"ftruncate", "truncate", "fallocate", "fadvise64", "flock", "mkdir",
	"mkdirat", "unlink", "unlinkat", "rename", "renameat", "renameat2",
	"rmdir", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod",
	"fchmodat", "utimensat", NULL,
};
static const char *const threads_calls[] = { "clone", "clone3", NULL };
static const char *const sockio_calls[] = {
	"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
	"shutdown", "getsockname", "getpeername", "getsockopt", "setsockopt",
	NULL,
};
static const char *const network_calls[] = {
	"socket", "socketpair", "bind", "listen", "accept", "accept4",
	"connect", NULL,
};
#ifdef LOOPD_SANITIZE_BUILD
static const char *const sanitizer_calls[] = {
	"clone", "ptrace", "wait4", "waitid", "kill", "process_vm_readv",
	"personality", NULL,
};
#endif

static const struct sandbox_group g_base = { "base",
	"ids, signals, time, futexes, limits (read), prctl", base_calls };
static const struct sandbox_group g_memory = { "memory",
	"mmap, mprotect, brk and the like", memory_calls };
static const struct sandbox_group g_io = { "io",
	"read, write, close, dup, fcntl, ioctl, pipes, eventfd", io_calls };
static const struct sandbox_group g_events = { "events",
	"epoll, poll, select, timerfd, signalfd, inotify", events_calls };
static const struct sandbox_group g_files = { "files",
	"open, stat, directories, create, rename, unlink, chmod (no chown)",
	files_calls };
static const struct sandbox_group g_threads = { "threads",
	"clone for threads only (CLONE_THREAD); clone3 fails with ENOSYS",
	threads_calls };
static const struct sandbox_group g_sockio = { "socket-io",
	"send, receive, socket options on sockets the worker has",
	sockio_calls };
static const struct sandbox_group g_network = { "network",
	"socket (AF_UNIX, AF_INET, AF_INET6, AF_NETLINK), bind, listen, "
	"accept, connect", network_calls };
#ifdef LOOPD_SANITIZE_BUILD
static const struct sandbox_group g_sanitizer = { "sanitizer",
	"this is a sanitizer build: what its runtime needs", sanitizer_calls };
#define SANITIZER_GROUP	&g_sanitizer,
#else
#define SANITIZER_GROUP
#endif

static const struct sandbox_group *const network_server[] = {
	&g_base, &g_memory, &g_io, &g_events, &g_files, &g_threads,
	&g_sockio, &g_network, SANITIZER_GROUP
};
static const struct sandbox_group *const compute[] = {
	&g_base, &g_memory, &g_io, &g_events, &g_files, &g_threads,
	&g_sockio, SANITIZER_GROUP
};

const struct sandbox_group *const *
sandbox_groups(enum conf_sandbox_profile p, size_t *n)
{
	switch (p) {
	case CONF_SANDBOX_NETWORK_SERVER:
		*n = NELEM(network_server);
		return network_server;
	case CONF_SANDBOX_COMPUTE:
		*n = NELEM(compute);
		return compute;
	default:
		*n = 0;
		return NULL;
	}
}

/* One call of a group, with its argument rules. */
static int
sandbox_add(scmp_filter_ctx ctx, const char *name, int sanitizer)
{
	static const int domains[] = { AF_UNIX, AF_INET, AF_INET6, AF_NETLINK };
	int nr = seccomp_syscall_resolve_name(name), rc = 0;
	size_t i;

	if (nr == __NR_SCMP_ERROR || nr < 0)
		return 0;		/* not on this architecture */
	if (strcmp(name, "socket") == 0) {
		for (i = 0; i < NELEM(domains) && rc == 0; i++)
			rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
			    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)domains[i], 0));
		return rc;
	}
	if (strcmp(name, "clone") == 0 && !sanitizer)
		return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1,
		    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	if (strcmp(name, "clone3") == 0)
		return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
	return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

static int
sandbox_filter(enum conf_sandbox_profile p, int nnp)
{
	const struct sandbox_group *const *g;
	const char *const *call;
	scmp_filter_ctx ctx;
	size_t i, n;
	int rc = 0;

	g = sandbox_groups(p, &n);
	if ((ctx = seccomp_init(SCMP_ACT_TRAP)) == NULL)
		return -ENOMEM;
	/* no_new_privs is the configuration's to set, not libseccomp's;
	 * without it, loading needs CAP_SYS_ADMIN.  Every thread. */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, nnp)) == 0)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	for (i = 0; i < n && rc == 0; i++)
		for (call = g[i]->calls; *call != NULL && rc == 0; call++)
			rc = sandbox_add(ctx, *call,
			    strcmp(g[i]->name, "sanitizer") == 0);
	if (rc == 0)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	return rc;
}

int
sandbox_apply(const struct sandbox_conf *sb, const char **what)
{
	int rc;

	*what = "no_new_privs";
	if (sb->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	if (sb->profile == CONF_SANDBOX_NONE)
		return 0;
	*what = "the seccomp filter";
	if ((rc = sandbox_filter(sb->profile, sb->no_new_privs)) < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

char *
sandbox_syscall_name(uint32_t arch, int nr)
{
	return seccomp_syscall_resolve_num_arch(arch, nr);
}
