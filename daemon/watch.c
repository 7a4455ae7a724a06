/*
 * watch.c: the configuration's directories watched with inotify.
 *
 * Each watched directory has the names that matter in it: exact names
 * (the main file, a fragment) and glob(3) patterns (an include glob's
 * last part).  An event for any other name is ignored, so that an
 * editor's swap file or a log written beside the configuration does not
 * cause reloads.  watch_set() adds the new directories before it removes
 * the old ones, so that a change made while a reload runs is not lost.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include <event2/event.h>

#include "dirwatch.h"
#include "watch.h"

/* What a change looks like: written and closed, renamed in or out (an
 * editor's save, a symlink swap), created (a symlink, a new fragment),
 * deleted; or the directory itself gone. */
#define WATCH_MASK	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | \
			 IN_CREATE | IN_DELETE | IN_DELETE_SELF | \
			 IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)

/* The symlink that Kubernetes swaps to update a mounted ConfigMap. */
#define WATCH_CONFIGMAP	"..data"

/* A name, or a pattern, that matters in a directory. */
struct watch_name {
	char			*text;
	int			 glob;		/* text is an fnmatch pattern */
};

struct watch_dir {
	char			*path;
	int			 wd;		/* -1: not watched */
	struct watch_name	*names;
	size_t			 nnames;
};

struct watch {
	struct dirwatch		*dw;
	struct event		*timer;		/* the debounce */
	struct timeval		 delay;
	void			(*fire)(void *);
	void			*arg;
	struct watch_dir	*dirs;
	size_t			 ndirs;
	char			*failed;	/* for watch_set()'s caller */
};

static void
watch_dirs_free(struct watch_dir *dirs, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < dirs[i].nnames; j++)
			free(dirs[i].names[j].text);
		free(dirs[i].names);
		free(dirs[i].path);
	}
	free(dirs);
}

/* Whether a name in directory entry d matters. */
static int
watch_dir_wants(const struct watch_dir *d, const char *name)
{
	size_t i;

	if (strcmp(name, WATCH_CONFIGMAP) == 0)
		return 1;
	for (i = 0; i < d->nnames; i++)
		if (d->names[i].glob ? fnmatch(d->names[i].text, name,
		    FNM_PERIOD) == 0 : strcmp(d->names[i].text, name) == 0)
			return 1;
	return 0;
}

/* Whether an event for name in the directory of wd matters. */
static int
watch_wants(const struct watch *w, int wd, const char *name)
{
	size_t i;

	for (i = 0; i < w->ndirs; i++)
		if (w->dirs[i].wd == wd && watch_dir_wants(&w->dirs[i], name))
			return 1;
	return 0;
}

static void
watch_event(void *ctx, int wd, uint32_t mask, const char *name)
{
	struct watch *w = ctx;

	/* Lost events or a directory gone: something, maybe ours.  Each
	 * change pushes the deadline back: one fire for a burst. */
	if ((mask & (IN_Q_OVERFLOW | IN_DELETE_SELF | IN_MOVE_SELF)) ||
	    (*name != '\0' && !(mask & IN_IGNORED) &&
	    watch_wants(w, wd, name)))
		evtimer_add(w->timer, &w->delay);
}

static void
watch_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;

	w->fire(w->arg);
}

struct watch *
watch_new(struct event_base *base, unsigned debounce_ms,
    void (*fire)(void *), void *arg)
{
	struct watch *w;
	int saved;

	if ((w = calloc(1, sizeof *w)) == NULL)
		return NULL;
	w->fire = fire;
	w->arg = arg;
	w->delay.tv_sec = (time_t)(debounce_ms / 1000);
	w->delay.tv_usec = (suseconds_t)(debounce_ms % 1000) * 1000;
	if ((w->dw = dirwatch_new(base, watch_event, w)) == NULL ||
	    (w->timer = evtimer_new(base, watch_timer_cb, w)) == NULL) {
		saved = errno;
		watch_free(w);
		errno = saved;
		return NULL;
	}
	return w;
}

/* The entry for directory path in *dirs, added if new; NULL: memory. */
static struct watch_dir *
watch_dir_get(struct watch_dir **dirs, size_t *n, const char *path,
    size_t len)
{
	struct watch_dir *v;
	size_t i;

	for (i = 0; i < *n; i++)
		if (strlen((*dirs)[i].path) == len &&
		    strncmp((*dirs)[i].path, path, len) == 0)
			return &(*dirs)[i];
	if ((v = reallocarray(*dirs, *n + 1, sizeof *v)) == NULL)
		return NULL;
	*dirs = v;
	memset(&v[*n], 0, sizeof v[*n]);
	v[*n].wd = -1;
	if ((v[*n].path = strndup(path, len)) == NULL)
		return NULL;
	return &v[(*n)++];
}

/* path's directory, with its last part as a name (or pattern) there.
 * 0, or -1 when memory ran out. */
static int
watch_add_path(struct watch_dir **dirs, size_t *n, const char *path,
    int glob)
{
	struct watch_name *v;
	struct watch_dir *d;
	const char *slash, *dir = ".", *base = path;
	size_t len = 1;

	if ((slash = strrchr(path, '/')) != NULL) {
		dir = path;
		len = slash == path ? 1 : (size_t)(slash - path);
		base = slash + 1;
	}
	/* A glob whose directory is a pattern too: the fragments it
	 * matched are watched where they are. */
	if (glob && strcspn(dir, "*?[") < len)
		return 0;
	if ((d = watch_dir_get(dirs, n, dir, len)) == NULL)
		return -1;
	if ((v = reallocarray(d->names, d->nnames + 1, sizeof *v)) == NULL)
		return -1;
	d->names = v;
	v[d->nnames].glob = glob;
	if ((v[d->nnames].text = strdup(base)) == NULL)
		return -1;
	d->nnames++;
	return 0;
}

/* The directories conf names, not yet watched; NULL: memory. */
static struct watch_dir *
watch_dirs_of(const struct conf *conf, size_t *n)
{
	struct watch_dir *dirs = NULL;
	size_t i;
	int rc;

	*n = 0;
	rc = watch_add_path(&dirs, n, conf->path, 0);
	for (i = 0; rc == 0 && i < conf->nfragments; i++)
		rc = watch_add_path(&dirs, n, conf->fragments[i], 0);
	for (i = 0; rc == 0 && i < conf->nincludes; i++)
		rc = watch_add_path(&dirs, n, conf->includes[i], 1);
	if (rc == 0 && *n > 0)
		return dirs;
	watch_dirs_free(dirs, *n);
	errno = ENOMEM;
	return NULL;
}

int
watch_set(struct watch *w, const struct conf *conf, const char **failed)
{
	struct watch_dir *dirs;
	size_t i, j, n;
	int rc = 0, saved = 0;

	*failed = NULL;
	free(w->failed);
	w->failed = NULL;
	if ((dirs = watch_dirs_of(conf, &n)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		dirs[i].wd = dirwatch_add(w->dw, dirs[i].path, WATCH_MASK);
		if (dirs[i].wd != -1 || errno == ENOENT || rc == -1)
			continue;
		saved = errno;
		rc = -1;
		w->failed = strdup(dirs[i].path);
		*failed = w->failed != NULL ? w->failed : "a directory";
	}
	/* One directory named two ways has one wd: keep it if still used. */
	for (i = 0; i < w->ndirs; i++) {
		for (j = 0; j < n; j++)
			if (dirs[j].wd == w->dirs[i].wd)
				break;
		if (j == n && w->dirs[i].wd != -1)
			dirwatch_rm(w->dw, w->dirs[i].wd);
		w->dirs[i].wd = -1;
	}
	watch_dirs_free(w->dirs, w->ndirs);
	w->dirs = dirs;
	w->ndirs = n;
	errno = saved;
	return rc;
}

void
watch_free(struct watch *w)
{
	if (w == NULL)
		return;
	dirwatch_free(w->dw);
	if (w->timer != NULL)
		event_free(w->timer);
	watch_dirs_free(w->dirs, w->ndirs);
	free(w->failed);
	free(w);
}
