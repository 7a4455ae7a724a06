/*
 * pluginwatch.c: inotify on plugin directories, debounced per file.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include <event2/event.h>

#include "dirwatch.h"
#include "pluginwatch.h"

/* A file is reported this long after its last event. */
#define PLUGINWATCH_QUIET_MS	100

struct pw_dir {
	int		 wd;
	char		*path;
};

struct pw_file {
	struct pw_file		*next;
	struct pluginwatch	*pw;
	struct event		*quiet;
	char			*path;
};

struct pluginwatch {
	struct dirwatch	*dw;
	struct event_base *base;
	struct pw_dir	*dirs;
	size_t		 ndirs;
	struct pw_file	*files;		/* waiting to be quiet */
	pluginwatch_fn	 fn;
	void		*ctx;
};

static void
pw_file_free(struct pluginwatch *pw, struct pw_file *f)
{
	struct pw_file **pp;

	for (pp = &pw->files; *pp != NULL; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	event_free(f->quiet);
	free(f->path);
	free(f);
}

static void
pw_quiet_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pw_file *f = arg;
	struct pluginwatch *pw = f->pw;
	char path[PATH_MAX];

	snprintf(path, sizeof path, "%s", f->path);
	pw_file_free(pw, f);
	pw->fn(pw->ctx, path);
}

/* path changed: report it once it has been quiet for a moment. */
static void
pw_touch(struct pluginwatch *pw, const char *dir, const char *name)
{
	struct timeval tv = { 0, PLUGINWATCH_QUIET_MS * 1000 };
	struct pw_file *f;
	char path[PATH_MAX];
	size_t len = strlen(dir);

	snprintf(path, sizeof path, "%s%s%s", dir, len > 0 &&
	    dir[len - 1] == '/' ? "" : "/", name);
	for (f = pw->files; f != NULL; f = f->next)
		if (strcmp(f->path, path) == 0)
			break;
	if (f == NULL) {
		if ((f = calloc(1, sizeof *f)) == NULL ||
		    (f->path = strdup(path)) == NULL ||
		    (f->quiet = evtimer_new(pw->base, pw_quiet_cb, f)) ==
		    NULL) {
			if (f != NULL)
				free(f->path);
			free(f);
			return;
		}
		f->pw = pw;
		f->next = pw->files;
		pw->files = f;
	}
	evtimer_add(f->quiet, &tv);
}

static void
pw_event(void *ctx, int wd, uint32_t mask, const char *name)
{
	struct pluginwatch *pw = ctx;
	size_t i, len = strlen(name);

	(void)mask;
	if (len < 4 || strcmp(name + len - 3, ".so") != 0)
		return;
	for (i = 0; i < pw->ndirs; i++)
		if (pw->dirs[i].wd == wd)
			pw_touch(pw, pw->dirs[i].path, name);
}

struct pluginwatch *
pluginwatch_new(struct event_base *base, pluginwatch_fn fn, void *ctx)
{
	struct pluginwatch *pw;

	if ((pw = calloc(1, sizeof *pw)) == NULL)
		return NULL;
	pw->base = base;
	pw->fn = fn;
	pw->ctx = ctx;
	if ((pw->dw = dirwatch_new(base, pw_event, pw)) == NULL) {
		pluginwatch_free(pw);
		return NULL;
	}
	return pw;
}

void
pluginwatch_free(struct pluginwatch *pw)
{
	size_t i;

	if (pw == NULL)
		return;
	while (pw->files != NULL)
		pw_file_free(pw, pw->files);
	for (i = 0; i < pw->ndirs; i++)
		free(pw->dirs[i].path);
	free(pw->dirs);
	dirwatch_free(pw->dw);
	free(pw);
}

int
pluginwatch_add(struct pluginwatch *pw, const char *dir)
{
	struct pw_dir *v;
	size_t i;
	int wd;

	wd = dirwatch_add(pw->dw, dir, IN_CLOSE_WRITE | IN_MOVED_TO |
	    IN_ONLYDIR);
	if (wd < 0)
		return -1;
	for (i = 0; i < pw->ndirs; i++)
		if (pw->dirs[i].wd == wd)
			return 0;
	if ((v = reallocarray(pw->dirs, pw->ndirs + 1, sizeof *v)) == NULL)
		return -1;
	pw->dirs = v;
	if ((v[pw->ndirs].path = strdup(dir)) == NULL)
		return -1;
	v[pw->ndirs++].wd = wd;
	return 0;
}
