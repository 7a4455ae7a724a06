/*
 * dirwatch.h: one inotify descriptor, read on a loop.
 *
 * The one place loopd reads inotify: the configuration's directories
 * (watch.h) and the plugin directories (pluginwatch.h) each own a
 * dirwatch and decide what an event means.  The descriptor is
 * non-blocking and close-on-exec: workers never hold it.  One thread: the
 * loop of the event_base given.
 */
#ifndef LOOPD_DIRWATCH_H
#define LOOPD_DIRWATCH_H

#include <stdint.h>

struct event_base;
struct dirwatch;

/* One event: the watch descriptor it came on (-1 for IN_Q_OVERFLOW),
 * its mask, and the name in the directory ("" when it has none). */
typedef void	(*dirwatch_fn)(void *ctx, int wd, uint32_t mask,
		    const char *name);

/* A new dirwatch on base, watching nothing yet, or NULL with errno
 * set. */
struct dirwatch	*dirwatch_new(struct event_base *base, dirwatch_fn fn,
		    void *ctx);
void		 dirwatch_free(struct dirwatch *dw);

/* inotify_add_watch(2) on dw's descriptor: the wd, or -1 with errno. */
int		 dirwatch_add(struct dirwatch *dw, const char *path,
		    uint32_t mask);
void		 dirwatch_rm(struct dirwatch *dw, int wd);

#endif /* LOOPD_DIRWATCH_H */
