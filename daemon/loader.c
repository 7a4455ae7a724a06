/*
 * loader.c: decide whether to trust a plugin file, dlopen it and decide
 * whether to trust its descriptor.
 *
 * The order of the checks matters for the message the operator gets: first
 * whether the file is there, then whether anyone but root could have put it
 * there, then whether it loads, then whether it is a loopd plugin at all,
 * then whether it speaks this ABI.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"

static void	loader_close(struct plugin *);

/* 1.1 took reserved fields: a 1.0 descriptor has the same size. */
_Static_assert(sizeof(struct loopd_plugin) == 4 * sizeof(uint32_t) +
    14 * sizeof(void *), "the descriptor must keep the size of ABI 1.0");

static int
fail(struct plugin_error *err, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct plugin_error *err, const char *type, const char *fmt, ...)
{
	va_list ap;

	err->type = type;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- trust ---------------------------------------------------------------- */

/*
 * One file or directory of what `plugin` loads.  above: it is an ancestor,
 * where a root-owned sticky directory (/tmp) is fine: others may add
 * entries there but not rename or replace root's.
 */
static int
trust_one(const char *plugin, const char *path, int above,
    struct plugin_error *err)
{
	struct stat st;
	const char *what;
	uid_t me = geteuid();

	if (stat(path, &st) < 0)
		return 0;	/* gone: loader_open() says so */
	what = S_ISDIR(st.st_mode) ? "directory" : "file";
	if (st.st_uid != 0 && st.st_uid != me)
		return fail(err, "plugin_untrusted", "refusing %s: %s %s is "
		    "owned by uid %u, neither root nor the user loopd runs as "
		    "(uid %u), so that user could make loopd run any code: "
		    "chown root %s", plugin, what, path, (unsigned)st.st_uid,
		    (unsigned)me, path);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) == 0)
		return 0;
	if (above && S_ISDIR(st.st_mode) && (st.st_mode & S_ISVTX) &&
	    st.st_uid == 0)
		return 0;
	return fail(err, "plugin_untrusted", "refusing %s: %s %s is writable "
	    "by group or others (mode %04o), so any local user could make "
	    "loopd run their code: chmod go-w %s", plugin, what, path,
	    (unsigned)(st.st_mode & 07777), path);
}

/* dir itself, strictly, then every directory above it up to "/". */
static int
trust_dir_and_above(const char *plugin, const char *dir,
    struct plugin_error *err)
{
	char *real, *slash;
	int rc;

	if (trust_one(plugin, dir, 0, err) < 0)
		return -1;
	if ((real = realpath(dir, NULL)) == NULL)
		return 0;
	for (rc = 0; rc == 0 && strcmp(real, "/") != 0; ) {
		if ((slash = strrchr(real, '/')) == NULL)
			break;
		slash[slash == real] = '\0';	/* "/a" becomes "/" */
		rc = trust_one(plugin, real, 1, err);
	}
	free(real);
	return rc;
}

int
loader_check_trust(const char *path, struct plugin_error *err)
{
	char dir[PATH_MAX], *real, *slash;
	int rc;

	/* The directory the configuration names, whatever the file is. */
	if ((slash = strrchr(path, '/')) == NULL)
		snprintf(dir, sizeof dir, ".");
	else
		snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 :
		    (int)(slash - path), path);
	if (trust_dir_and_above(path, dir, err) < 0)
		return -1;
	/* The file itself, through symlinks, and where it really is. */
	if ((real = realpath(path, NULL)) == NULL)
		return 0;
	if ((rc = trust_one(path, real, 0, err)) == 0) {
		slash = strrchr(real, '/');
		if (slash == real)
			slash++;
		*slash = '\0';
		rc = trust_dir_and_above(path, real, err);
	}
	free(real);
	return rc;
}

/* ---- loading -------------------------------------------------------------- */

/* Whether the descriptor is of this ABI: loopd may read it and call it. */
static int
check_abi(const char *path, const struct loopd_plugin *d,
    struct plugin_error *err)
{
	if (d->abi_major != LOOPD_PLUGIN_ABI_MAJOR)
		return fail(err, "plugin_abi", "%s was built for plugin ABI "
		    "%u.%u, but this loopd speaks ABI %d.%d: rebuild the "
		    "plugin against loopd-plugin %d.x", path, d->abi_major,
		    d->abi_minor, LOOPD_PLUGIN_ABI_MAJOR,
		    LOOPD_PLUGIN_ABI_MINOR, LOOPD_PLUGIN_ABI_MAJOR);
	if (d->abi_minor > LOOPD_PLUGIN_ABI_MINOR)
		return fail(err, "plugin_abi", "%s needs plugin ABI %u.%u, "
		    "newer than this loopd's %d.%d: upgrade loopd or rebuild "
		    "the plugin against this version", path, d->abi_major,
		    d->abi_minor, LOOPD_PLUGIN_ABI_MAJOR,
		    LOOPD_PLUGIN_ABI_MINOR);
	if (d->size < sizeof(struct loopd_plugin))
		return fail(err, "plugin_abi", "%s has a descriptor of %u "
		    "bytes where ABI %u.%u has %zu: it was not made with "
		    "LOOPD_PLUGIN()", path, d->size, d->abi_major,
		    d->abi_minor, sizeof(struct loopd_plugin));
	return 0;
}

/*
 * dlopen with every symbol bound (RTLD_NOW), so that a missing one is
 * reported now rather than as a crash on its first call.  When that fails,
 * the plugin may be one built for a newer ABI, which calls loopd_*
 * functions this loopd lacks: load it again lazily (its functions are then
 * bound on first call, and none is called) only to read its descriptor, so
 * that the operator reads "upgrade loopd or rebuild" instead of "undefined
 * symbol".  The lazy load cannot come first: glibc does not bind a lazily
 * loaded object's functions when it is opened again with RTLD_NOW, and a
 * dlclose() and second dlopen() would run the plugin's constructors twice.
 */
static int
open_bound(const char *path, struct plugin *p, struct plugin_error *err)
{
	const struct loopd_plugin *d;
	char why[512];
	void *lazy;

	if ((p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) != NULL)
		return 0;
	snprintf(why, sizeof why, "%s", dlerror());
	if ((lazy = dlopen(path, RTLD_LAZY | RTLD_LOCAL)) != NULL) {
		d = dlsym(lazy, LOOPD_PLUGIN_SYMBOL);
		if (d != NULL && check_abi(path, d, err) < 0) {
			dlclose(lazy);
			return -1;
		}
		dlclose(lazy);
	}
	return fail(err, "plugin_not_loadable", "%s cannot be loaded: %s",
	    path, why);
}

int
loader_open(const char *path, struct plugin *p, struct plugin_error *err)
{
	struct stat st;

	memset(p, 0, sizeof *p);
	if (stat(path, &st) < 0)
		return fail(err, "plugin_not_found", "%s: %s: install the "
		    "plugin there, or fix plugin_dir or the task's plugin",
		    path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, "plugin_not_loadable", "%s is not a regular "
		    "file", path);
	if (loader_check_trust(path, err) < 0)
		return -1;
	if (open_bound(path, p, err) < 0)
		return -1;
	p->desc = dlsym(p->dl, LOOPD_PLUGIN_SYMBOL);
	if (p->desc == NULL) {
		loader_close(p);
		return fail(err, "plugin_no_descriptor", "%s is not a loopd "
		    "plugin: it has no %s symbol (define one with "
		    "LOOPD_PLUGIN() from <loopd/plugin.h>)", path,
		    LOOPD_PLUGIN_SYMBOL);
	}
	if (check_abi(path, p->desc, err) < 0)
		goto bad;
	if (p->desc->start == NULL) {
		fail(err, "plugin_invalid", "%s has no start hook: set .start "
		    "in LOOPD_PLUGIN()", path);
		goto bad;
	}
	return 0;
bad:
	loader_close(p);
	return -1;
}

/* dlclose p, if open; p may be all zero.  Runs its destructors. */
static void
loader_close(struct plugin *p)
{
	if (p->dl != NULL)
		dlclose(p->dl);
	p->dl = NULL;
	p->desc = NULL;
}

struct loader_entry {
	struct loader_entry	*next;
	char			*path;
	dev_t			 dev;		/* the file it was, */
	ino_t			 ino;		/* for a file replaced since */
	struct plugin		 plugin;
	size_t			 users;
};

struct loader_cache {
	struct loader_entry	*entries;
};

struct loader_cache *
loader_cache_new(void)
{
	return calloc(1, sizeof(struct loader_cache));
}

/* The plugin's exit_process, then dlclose. */
static void
entry_free(struct loader_entry *e)
{
	const struct loopd_plugin *d = e->plugin.desc;

	if (loader_since(d, 1) && d->exit_process != NULL)
		d->exit_process();
	loader_close(&e->plugin);
	free(e->path);
	free(e);
}

void
loader_cache_free(struct loader_cache *c)
{
	struct loader_entry *e;

	if (c == NULL)
		return;
	while ((e = c->entries) != NULL) {
		c->entries = e->next;
		entry_free(e);
	}
	free(c);
}

/* A new entry: loaded, and its init_process run. */
static int	loader_open_new(struct loader_cache *, const char *,
		    struct plugin *, struct plugin_error *);

static struct loader_entry *
entry_open(struct loader_cache *c, const char *path, struct plugin_error *err)
{
	struct loader_entry *e;
	const struct loopd_plugin *d;
	int rc;

	if ((e = calloc(1, sizeof *e)) == NULL ||
	    (e->path = strdup(path)) == NULL) {
		free(e);
		fail(err, "plugin_not_loadable", "%s cannot be loaded: out of "
		    "memory", path);
		return NULL;
	}
	if (loader_open_new(c, path, &e->plugin, err) < 0) {
		free(e->path);
		free(e);
		return NULL;
	}
	d = e->plugin.desc;
	if (loader_since(d, 1) && d->init_process != NULL &&
	    (rc = d->init_process()) != 0) {
		fail(err, "init_process", "plugin %s: init_process returned "
		    "%d", path, rc);
		loader_close(&e->plugin);
		free(e->path);
		free(e);
		return NULL;
	}
	return e;
}

/*
 * dlopen() knows a loaded object by the name it was opened with: while an
 * older copy of path (a file replaced since) is still loaded, path itself
 * would give that copy back.  The same path with "./" before the file's
 * name, once for each copy still loaded, names the same file but not the
 * same string, and the new file is loaded.
 */
static int
loader_open_new(struct loader_cache *c, const char *path, struct plugin *p,
    struct plugin_error *err)
{
	const struct loader_entry *e;
	const char *base = strrchr(path, '/');
	size_t older = 0, i, at;
	char *alias;
	int rc;

	for (e = c->entries; e != NULL; e = e->next)
		if (strcmp(e->path, path) == 0)
			older++;
	if (older == 0 || base == NULL)
		return loader_open(path, p, err);
	at = (size_t)(base - path) + 1;
	if ((alias = malloc(strlen(path) + 2 * older + 1)) == NULL)
		return fail(err, "plugin_not_loadable", "%s cannot be loaded: "
		    "out of memory", path);
	memcpy(alias, path, at);
	for (i = 0; i < older; i++)
		memcpy(alias + at + 2 * i, "./", 2);
	strcpy(alias + at + 2 * older, base + 1);
	rc = loader_open(alias, p, err);
	free(alias);
	return rc;
}

int
loader_cache_open(struct loader_cache *c, const char *path, struct plugin *p,
    struct plugin_error *err)
{
	struct loader_entry *e;
	struct stat st;

	/* The same path is the same plugin only while it is the same file:
	 * a .so replaced on disk (by rename) is loaded anew. */
	if (stat(path, &st) < 0)
		memset(&st, 0, sizeof st);
	for (e = c->entries; e != NULL; e = e->next)
		if (strcmp(e->path, path) == 0 && e->dev == st.st_dev &&
		    e->ino == st.st_ino)
			break;
	if (e == NULL) {
		/* A failure is not kept: the file may be fixed meanwhile. */
		if ((e = entry_open(c, path, err)) == NULL)
			return -1;
		e->dev = st.st_dev;
		e->ino = st.st_ino;
		e->next = c->entries;
		c->entries = e;
	}
	e->users++;
	*p = e->plugin;
	return 0;
}

void
loader_cache_close(struct loader_cache *c, struct plugin *p)
{
	struct loader_entry *e, **prev;

	if (p->dl == NULL)
		return;
	for (prev = &c->entries; (e = *prev) != NULL; prev = &e->next) {
		if (e->plugin.dl != p->dl)
			continue;
		if (--e->users == 0) {
			*prev = e->next;
			entry_free(e);
		}
		break;
	}
	memset(p, 0, sizeof *p);
}
