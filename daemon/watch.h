/*
 * watch.h: the configuration's files watched, for `config_watch: true`.
 *
 * inotify watches the directory that holds the main file, the directory
 * of each fragment and of each `include:` glob: a change there to a name
 * that matters (the file itself, a name a glob matches, or `..data`, the
 * symlink Kubernetes swaps to update a mounted ConfigMap) arms a timer,
 * and once no such change has come for the debounce delay the callback
 * runs, once for the whole burst.  Watching directories rather than files
 * sees an editor's save-by-rename and a symlink swap, which replace the
 * file a watch on it would follow.  The inotify descriptor is
 * close-on-exec: workers never hold it.  One thread: the loop of the
 * event_base given.
 */
#ifndef LOOPD_WATCH_H
#define LOOPD_WATCH_H

#include "config.h"

struct event_base;
struct watch;

/*
 * A new watch on base, watching nothing yet (free with watch_free()), or
 * NULL with errno set.  fire(arg) runs on base's loop debounce_ms after
 * the last change seen.
 */
struct watch	*watch_new(struct event_base *base, unsigned debounce_ms,
		    void (*fire)(void *arg), void *arg);

/*
 * Watch what conf (borrowed: only read here) names: its file, its
 * fragments and its include globs, instead of what was watched before.
 * A directory that does not exist is left out quietly (a glob's
 * directory may come later; a reload then watches it).  Returns 0, or -1
 * with errno set and *failed (borrowed: valid until the next call) the
 * first directory that could not be watched; the others are watched.
 */
int		 watch_set(struct watch *w, const struct conf *conf,
		    const char **failed);

/* Stop watching and free w; NULL is fine.  A pending fire is dropped. */
void		 watch_free(struct watch *w);

#endif /* LOOPD_WATCH_H */
