/*
 * loader.h: loading a plugin's shared object and checking its descriptor.
 *
 * Only workers load plugins; the supervisor never runs plugin code (it only
 * calls loader_check_trust() for --check-config).  Errors come back as a
 * machine-readable type and a sentence for the operator that names the file
 * and what to do; the caller logs them.
 */
#ifndef LOOPD_LOADER_H
#define LOOPD_LOADER_H

#include <stddef.h>

#include "loopd/plugin.h"

struct plugin {
	void				*dl;
	const struct loopd_plugin	*desc;	/* inside dl */
};

/*
 * Whether d has what ABI 1.minor added (the fields "since 1.minor" in
 * plugin.h).  A descriptor built for an older minor has reserved fields
 * there, which are never read.
 */
static inline int
loader_since(const struct loopd_plugin *d, uint32_t minor)
{
	return d != NULL && d->abi_minor >= minor;
}

struct plugin_error {
	const char	*type;		/* plugin_not_found, plugin_abi, ... */
	char		 msg[1024];
};

/*
 * Check that nobody but root and the user loopd runs as can change what
 * `path` loads, as sshd's StrictModes does: the directory that path names,
 * the file it resolves to (through symlinks) and every directory above that
 * file and above the named directory must be owned by root or by loopd's
 * effective uid, and not be writable by group or others.  A world-writable
 * directory with the sticky bit that root owns (/tmp) is allowed above
 * them, not as the named directory itself.  A path that does not exist is
 * not refused here (loader_open() reports it).  Returns 0, or -1 with
 * *err filled (type "plugin_untrusted").  Any thread; touches no state.
 */
int	loader_check_trust(const char *path, struct plugin_error *err);

/*
 * Check path's trust, dlopen it with every symbol bound, and check its
 * descriptor.  A plugin built for a newer ABI is reported as plugin_abi
 * even when it is not loadable for lack of newer loopd_* functions.
 * Returns 0 and fills *p, open until the process exits (a plugin that
 * is closed again goes through loader_cache_open()), or -1 and fills
 * *err.  Runs the plugin's constructors.  Worker main thread.
 */
int	loader_open(const char *path, struct plugin *p,
	    struct plugin_error *err);

/*
 * The plugins one worker has opened.  Each file is checked and opened once
 * however many tasks use it (for each of 40,000 tasks, a path walk and a
 * dlopen would dominate the start).  An entry is closed with its last
 * user.  Worker main thread.
 *
 * The cache also runs the per-process hooks (since 1.1): a plugin's
 * init_process when its entry is opened (a failure, type "init_process",
 * closes the entry again: the next open tries again), its exit_process
 * when the entry is closed, by its last user or by loader_cache_free().
 */
struct loader_cache;

struct loader_cache *loader_cache_new(void);
/* Close what is still open and free c (NULL is fine). */
void	loader_cache_free(struct loader_cache *c);
/* As loader_open(), through c; release with loader_cache_close(). */
int	loader_cache_open(struct loader_cache *c, const char *path,
	    struct plugin *p, struct plugin_error *err);
void	loader_cache_close(struct loader_cache *c, struct plugin *p);

#endif /* LOOPD_LOADER_H */
