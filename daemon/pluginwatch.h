/*
 * pluginwatch.h: noticing plugin files that appear or are replaced.
 *
 * inotify on the plugin directories; a .so that is written and closed, or
 * renamed into place (the safe way to replace one), is reported once it has
 * been quiet for a moment, so a file being copied in is not loaded half
 * written.  Supervisor main thread only.
 */
#ifndef LOOPD_PLUGINWATCH_H
#define LOOPD_PLUGINWATCH_H

struct event_base;
struct pluginwatch;

/* path (borrowed for the call) is DIR/NAME.so as the directory was given. */
typedef void	(*pluginwatch_fn)(void *ctx, const char *path);

/* A new watcher, watching nothing yet, or NULL (errno). */
struct pluginwatch *pluginwatch_new(struct event_base *base,
		    pluginwatch_fn fn, void *ctx);
void		 pluginwatch_free(struct pluginwatch *pw);

/* Watch dir too (a second call for the same dir does nothing).  0 or -1
 * (errno). */
int		 pluginwatch_add(struct pluginwatch *pw, const char *dir);

#endif /* LOOPD_PLUGINWATCH_H */
