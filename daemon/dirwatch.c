/*
 * dirwatch.c: one inotify descriptor, read on a loop (dirwatch.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <event2/event.h>

#include "dirwatch.h"

struct dirwatch {
	int		 fd;
	struct event	*ev;		/* fd is readable */
	dirwatch_fn	 fn;
	void		*ctx;
};

static void
dirwatch_read(evutil_socket_t fd, short what, void *arg)
{
	struct dirwatch *dw = arg;
	const struct inotify_event *ie;
	char buf[16 * (sizeof(struct inotify_event) + NAME_MAX + 1)]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	size_t off;

	(void)what;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		for (off = 0; off + sizeof *ie <= (size_t)n;
		    off += sizeof *ie + ie->len) {
			ie = (const struct inotify_event *)(void *)(buf + off);
			dw->fn(dw->ctx, ie->wd, ie->mask,
			    ie->len > 0 ? ie->name : "");
		}
}

struct dirwatch *
dirwatch_new(struct event_base *base, dirwatch_fn fn, void *ctx)
{
	struct dirwatch *dw;
	int saved;

	if ((dw = calloc(1, sizeof *dw)) == NULL)
		return NULL;
	dw->fn = fn;
	dw->ctx = ctx;
	if ((dw->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1 ||
	    (dw->ev = event_new(base, dw->fd, EV_READ | EV_PERSIST,
	    dirwatch_read, dw)) == NULL || event_add(dw->ev, NULL) == -1) {
		saved = errno;
		dirwatch_free(dw);
		errno = saved;
		return NULL;
	}
	return dw;
}

void
dirwatch_free(struct dirwatch *dw)
{
	if (dw == NULL)
		return;
	if (dw->ev != NULL)
		event_free(dw->ev);
	if (dw->fd >= 0)
		close(dw->fd);
	free(dw);
}

int
dirwatch_add(struct dirwatch *dw, const char *path, uint32_t mask)
{
	return inotify_add_watch(dw->fd, path, mask);
}

void
dirwatch_rm(struct dirwatch *dw, int wd)
{
	inotify_rm_watch(dw->fd, wd);
}
