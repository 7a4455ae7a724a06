/*
 * notify.c: READY=1, STOPPING=1 and STATUS= for systemd's Type=notify.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <systemd/sd-daemon.h>

#include "notify.h"

static void
notify_send(const char *state, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
notify_send(const char *state, const char *fmt, va_list ap)
{
	char status[256];

	vsnprintf(status, sizeof status, fmt, ap);
	/* Keep NOTIFY_SOCKET: the supervisor sends more than once. */
	sd_notifyf(0, "%s%sSTATUS=%s", state ? state : "", state ? "\n" : "",
	    status);
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
