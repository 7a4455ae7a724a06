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
 * dlopen path and check its descriptor.  Returns 0 and fills *p (release
 * with loader_close()), or -1 and fills *err.
 */
int	loader_open(const char *path, struct plugin *p,
	    struct plugin_error *err);
void	loader_close(struct plugin *p);

#endif /* LOOPD_LOADER_H */
