/*
 * sandbox.h: a loop's `sandbox:`, applied in its worker before any plugin
 * is loaded: no_new_privs, and a seccomp filter (libseccomp) built from a
 * named profile.
 *
 * A profile is an allowlist of groups of system calls; a call outside it
 * is not made: the kernel sends the worker SIGSYS (SECCOMP_RET_TRAP), the
 * crash handler records the call's number on the crash page (crash.h) and
 * the worker dies of SIGSYS, which the supervisor reports with the call's
 * name (sandbox_syscall_name).  The profiles:
 *
 *   none            no filter (the default)
 *   network-server  base, memory, io, events, files, threads, socket-io,
 *                   network: what libevent, sockets, files and threads need
 *   compute         the same without network: no new sockets, no bind,
 *                   listen, connect or accept
 *
 * Neither allows starting programs or processes (fork, exec), ptrace,
 * mount, module loading, namespaces, changing ids, reboot, and the rest.
 * In a sanitizer build every profile also allows the calls the sanitizer
 * runtime makes (the "sanitizer" group: LeakSanitizer stops the threads
 * with ptrace from a clone()d helper).
 */
#ifndef LOOPD_SANDBOX_H
#define LOOPD_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct sandbox_group {
	const char		*name;
	const char		*what;		/* one line, for --verbose */
	const char *const	*calls;		/* NULL-terminated */
};

/* The groups profile p allows, in order (*n of them); static. */
const struct sandbox_group *const *sandbox_groups(
	    enum conf_sandbox_profile p, size_t *n);

/*
 * Worker: apply sb to the calling process (and every thread it has, or
 * starts later).  Returns 0, or -1 with errno and *what naming the step
 * that failed.
 */
int	sandbox_apply(const struct sandbox_conf *sb, const char **what);

/* The name of system call nr of audit architecture arch (as in SIGSYS's
 * si_arch), new (free()), or NULL when it is unknown. */
char	*sandbox_syscall_name(uint32_t arch, int nr);

#endif /* LOOPD_SANDBOX_H */
