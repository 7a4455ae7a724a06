/*
 * unbound: a test plugin of this ABI that calls a function loopd does not
 * export.  loopd must refuse it when it loads it (plugin_not_loadable), not
 * crash when start calls the function.
 */
#include <loopd/plugin.h>

LOOPD_API int	loopd_future_call(void);

static int
unbound_start(loopd_task *t, const loopd_args *args, void **state)
{
	return loopd_future_call();
}

LOOPD_PLUGIN(.name = "unbound", .version = "0.1", .start = unbound_start);
