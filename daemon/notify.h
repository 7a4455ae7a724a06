/*
 * notify.h: what loopd tells its service manager (sd_notify).  Without
 * NOTIFY_SOCKET these do nothing.  Supervisor only.
 */
#ifndef LOOPD_NOTIFY_H
#define LOOPD_NOTIFY_H

void	notify_ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	notify_stopping(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	notify_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* LOOPD_NOTIFY_H */
