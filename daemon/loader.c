/*
 * loader.c: dlopen a plugin and decide whether to trust its descriptor.
 *
 * The order of the checks matters for the message the operator gets: first
 * whether the file is there, then whether it loads, then whether it is a
 * loopd plugin at all, then whether it speaks this ABI.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "loader.h"

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

static int
check_descriptor(const char *path, const struct loopd_plugin *d,
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
	if (d->start == NULL)
		return fail(err, "plugin_invalid", "%s has no start hook: "
		    "set .start in LOOPD_PLUGIN()", path);
	return 0;
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
	if ((p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return fail(err, "plugin_not_loadable", "%s cannot be loaded: "
		    "%s", path, dlerror());
	p->desc = dlsym(p->dl, LOOPD_PLUGIN_SYMBOL);
	if (p->desc == NULL) {
		loader_close(p);
		return fail(err, "plugin_no_descriptor", "%s is not a loopd "
		    "plugin: it has no %s symbol (define one with "
		    "LOOPD_PLUGIN() from <loopd/plugin.h>)", path,
		    LOOPD_PLUGIN_SYMBOL);
	}
	if (check_descriptor(path, p->desc, err) < 0) {
		loader_close(p);
		return -1;
	}
	return 0;
}

void
loader_close(struct plugin *p)
{
	if (p->dl != NULL)
		dlclose(p->dl);
	p->dl = NULL;
	p->desc = NULL;
}
