/*
 * notify.h: what loopd tells its service manager (sd_notify).  Without
 * NOTIFY_SOCKET these do nothing.  Supervisor only.
 */
#ifndef LOOPD_NOTIFY_H
#define LOOPD_NOTIFY_H

#include <stdint.h>

void	notify_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	notify_stopping(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* RELOADING=1 with MONOTONIC_USEC=, as systemd's Type=notify-reload asks. */
void	notify_reloading(void);

/* The watchdog interval systemd asks for (WATCHDOG_USEC, when
 * WATCHDOG_PID is absent or this process), in microseconds, or 0. */
uint64_t notify_watchdog_usec(void);
void	notify_watchdog(void);

#endif /* LOOPD_NOTIFY_H */
