/*
 * loader.h: loading a plugin's shared object and checking its descriptor.
 *
 * Only workers call this; the supervisor never loads plugin code.  Errors
 * come back as a machine-readable type and a sentence for the operator that
 * names the file and what to do; the caller logs them.
 */
#ifndef LOOPD_LOADER_H
#define LOOPD_LOADER_H

#include <stddef.h>

#include "loopd/plugin.h"

struct plugin {
	void				*dl;
	const struct loopd_plugin	*desc;	/* inside dl */
};

struct plugin_error {
	const char	*type;		/* plugin_not_found, plugin_abi, ... */
	char		 msg[512];
};

/*
 * dlopen path with every symbol bound, and check its descriptor.  A plugin
 * built for a newer ABI is reported as plugin_abi even when it is not
 * loadable for lack of newer loopd_* functions.
 * Returns 0 and fills *p (release with loader_close()), or -1 and fills
 * *err.  Runs the plugin's constructors.  Worker main thread.
 */
int	loader_open(const char *path, struct plugin *p,
	    struct plugin_error *err);
/* dlclose p, if open; p may be all zero.  Runs its destructors. */
void	loader_close(struct plugin *p);

#endif /* LOOPD_LOADER_H */
