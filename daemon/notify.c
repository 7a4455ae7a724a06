/*
 * notify.c: READY=1, STOPPING=1 and STATUS= for systemd's Type=notify.
 *
 * libsystemd is opened when the supervisor has something to say under a
 * NOTIFY_SOCKET, not linked: a worker (the same executable) then maps
 * neither it nor the compression and crypto libraries it pulls in, a third
 * of an idle worker's memory.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "monotime.h"
#include "notify.h"

#define NOTIFY_LIBSYSTEMD	"libsystemd.so.0"

typedef int	(*sd_notify_fn)(int, const char *);

/*
 * Say msg with libsystemd's sd_notify(), which is opened for it and closed
 * again: the supervisor speaks a few times in its life, and an idle loopd
 * need not keep a library, and what it pulls in, mapped for that.
 */
static void
notify_say(const char *msg)
{
	sd_notify_fn fn = NULL;
	void *dl;

	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	if ((dl = dlopen(NOTIFY_LIBSYSTEMD, RTLD_NOW | RTLD_LOCAL)) != NULL)
		*(void **)&fn = dlsym(dl, "sd_notify");
	if (fn == NULL) {
		fprintf(stderr, "loopd: NOTIFY_SOCKET is set, but %s cannot "
		    "be used: %s\n", NOTIFY_LIBSYSTEMD, dlerror());
		return;
	}
	/* Keep NOTIFY_SOCKET: the supervisor sends more than once. */
	fn(0, msg);
	dlclose(dl);
}

static void
notify_send(const char *state, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
notify_send(const char *state, const char *fmt, va_list ap)
{
	char status[256], msg[300];

	vsnprintf(status, sizeof status, fmt, ap);
	snprintf(msg, sizeof msg, "%s%sSTATUS=%s", state ? state : "",
	    state ? "\n" : "", status);
	notify_say(msg);
}

void
notify_ready(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify_send("READY=1", fmt, ap);
	va_end(ap);
}

void
notify_stopping(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify_send("STOPPING=1", fmt, ap);
	va_end(ap);
}

void
notify_status(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify_send(NULL, fmt, ap);
	va_end(ap);
}

uint64_t
notify_watchdog_usec(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	char *end;
	unsigned long long v;

	if (usec == NULL || (pid != NULL && strtol(pid, NULL, 10) !=
	    (long)getpid()))
		return 0;
	v = strtoull(usec, &end, 10);
	return *end == '\0' ? (uint64_t)v : 0;
}

void
notify_watchdog(void)
{
	notify_say("WATCHDOG=1");
}

void
notify_reloading(void)
{
	char msg[96];

	snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%llu\n"
	    "STATUS=reloading", (unsigned long long)(monotime_ns() / 1000));
	notify_say(msg);
}
