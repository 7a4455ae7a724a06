/*
 * notify.h: how a bench plugin tells its bench that it is done: one
 * datagram, msg (such as "LOOP_DONE=1"), to the AF_UNIX socket at path
 * (the task's `notify:`).  Nothing is said when path is NULL or too long.
 */
#ifndef BENCH_PLUGIN_NOTIFY_H
#define BENCH_PLUGIN_NOTIFY_H

#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static inline void
bench_notify_done(const char *path, const char *msg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (path == NULL || strlen(path) >= sizeof sa.sun_path)
		return;
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	(void)sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa,
	    sizeof sa);
	close(fd);
}

#endif /* BENCH_PLUGIN_NOTIFY_H */
