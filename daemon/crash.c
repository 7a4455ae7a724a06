/*
 * crash.c: a backtrace from a dying worker.
 *
 * This is the one real signal handler in loopd.  It only calls
 * async-signal-safe code on preallocated memory: backtrace() (its library
 * is loaded in advance by crash_install) and backtrace_symbols_fd(), which
 * writes without allocating.  It then re-raises the signal with the default
 * action, so the worker dies of what killed it and the supervisor sees that.
 */
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "crash.h"
#include "log.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP	1	/* si_code of a seccomp SIGSYS (linux/signal.h) */
#endif

#define CRASH_FRAMES	64
#define CRASH_PAGE	4096		/* the shared page; text after it */
#define CRASH_READ_MAX	(64 * 1024)
#define CRASH_DUMP_OFF	(CRASH_PAGE + CRASH_READ_MAX)	/* stack dumps */

_Static_assert(CRASH_DUMP_OFF + CRASH_READ_MAX <= CRASH_AREA_OFF,
    "the shared area overlaps the stack dumps");

static const int crash_signals[] = {
	SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS,
};

/* The handler can only find these through static storage. */
static int			 crash_fd = -1;
static char			 crash_stack[64 * 1024];
static struct crash_page	*crash_shared;

/* Where the signal hit, from the context the kernel saved, or NULL. */
void *
crash_pc(const void *context)
{
	const ucontext_t *uc = context;

	if (uc == NULL)
		return NULL;
#if defined(__x86_64__)
	return (void *)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__i386__)
	return (void *)uc->uc_mcontext.gregs[REG_EIP];
#elif defined(__aarch64__)
	return (void *)uc->uc_mcontext.pc;
#else
	return NULL;
#endif
}

static void
crash_handler(int sig, siginfo_t *si, void *context)
{
	void *frames[CRASH_FRAMES], *pc = crash_pc(context);
	int i, n;

	/* The seccomp filter refused a call (sandbox.h): which one. */
	if (sig == SIGSYS && si != NULL && si->si_code == SYS_SECCOMP &&
	    crash_shared != NULL) {
		crash_shared->syscall_arch = si->si_arch;
		crash_shared->syscall_nr = si->si_syscall;
	}
	n = backtrace(frames, CRASH_FRAMES);
	/* The frames start where the signal hit, not in this handler and
	 * the signal trampoline: the first is then the faulting
	 * instruction and every other one a return address, which is what
	 * the supervisor's symbolizer takes them for. */
	for (i = 0; i < n && frames[i] != pc; i++)
		;
	if (i == n)
		i = 0;
	backtrace_symbols_fd(frames + i, n - i, crash_fd);
	/* SA_RESETHAND restored the default action. */
	raise(sig);
}

/*
 * The loop is stuck: write where, and go on (the supervisor decides what
 * happens next).  The dump has a place of its own in the file, after a
 * crash's, and ends with a NUL; the crash's offset is left as it was.
 */
static void
crash_dump_handler(int sig, siginfo_t *si, void *context)
{
	void *frames[CRASH_FRAMES], *pc = crash_pc(context);
	int i, n, saved = errno;
	off_t was;

	n = backtrace(frames, CRASH_FRAMES);
	for (i = 0; i < n && frames[i] != pc; i++)
		;
	if (i == n)
		i = 0;
	was = lseek(crash_fd, 0, SEEK_CUR);
	if (lseek(crash_fd, CRASH_DUMP_OFF, SEEK_SET) >= 0) {
		backtrace_symbols_fd(frames + i, n - i, crash_fd);
		(void)!write(crash_fd, "", 1);
		lseek(crash_fd, was, SEEK_SET);
	}
	crash_shared->dumps++;
	errno = saved;
}

static struct crash_page *
crash_map(int fd)
{
	void *p;

	p = mmap(NULL, CRASH_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

int
crash_open(struct crash_page **page)
{
	int fd, saved;

	if ((fd = memfd_create("loopd-crash", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) < 0)
		return -1;
	/* Sparse: only the pages written take memory. */
	if (ftruncate(fd, CRASH_AREA_OFF + CRASH_AREA_SIZE) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_SEAL) < 0 ||
	    (*page = crash_map(fd)) == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	(*page)->running = -1;
	(*page)->syscall_nr = -1;
	return fd;
}

void
crash_close(int fd, struct crash_page *page)
{
	if (page != NULL)
		munmap(page, CRASH_PAGE);
	if (fd >= 0)
		close(fd);
}

struct crash_page *
crash_install(int fd)
{
	struct crash_page *page;
	struct sigaction sa;
	stack_t ss = { .ss_sp = crash_stack, .ss_size = sizeof crash_stack };
	void *warm[1];
	size_t i;

	if ((page = crash_map(fd)) == NULL)
		return NULL;
	page->running = -1;
	page->syscall_nr = -1;
	/* The backtrace goes after the page. */
	if (lseek(fd, CRASH_PAGE, SEEK_SET) < 0)
		return NULL;
	crash_fd = fd;
	backtrace(warm, 1);	/* loads libgcc_s now, not in the handler */
	if (sigaltstack(&ss, NULL) < 0)
		return NULL;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = crash_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++)
		if (sigaction(crash_signals[i], &sa, NULL) < 0)
			return NULL;
	crash_shared = page;
	sa.sa_sigaction = crash_dump_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	if (sigaction(CRASH_DUMP_SIGNAL, &sa, NULL) < 0)
		return NULL;
	return page;
}

static json_t *
crash_read_at(int fd, off_t off)
{
	char *buf, *line, *save = NULL;
	json_t *frames;
	ssize_t n;

	if ((buf = malloc(CRASH_READ_MAX + 1)) == NULL)
		return NULL;
	n = pread(fd, buf, CRASH_READ_MAX, off);
	if (n <= 0 || buf[0] == '\0') {	/* nothing, or a hole */
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	frames = json_array();
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		json_array_append_new(frames, log_string(line));
	free(buf);
	return frames;
}

json_t *
crash_read(int fd)
{
	return crash_read_at(fd, CRASH_PAGE);
}

json_t *
crash_read_dump(int fd)
{
	return crash_read_at(fd, CRASH_DUMP_OFF);
}
