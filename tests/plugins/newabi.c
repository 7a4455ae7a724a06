/*
 * newabi: a test plugin built against a newer loopd than the one that
 * loads it: its descriptor claims the next minor ABI version, and it calls
 * a loopd_* function this loopd does not have.  loopd must say "plugin
 * ABI", not "undefined symbol".
 */
#include <loopd/plugin.h>

LOOPD_API int	loopd_future_call(void);

static int
newabi_start(loopd_task *t, const loopd_args *args, void **state)
{
	return loopd_future_call();
}

LOOPD_API const struct loopd_plugin loopd_plugin_descriptor = {
	.abi_major = LOOPD_PLUGIN_ABI_MAJOR,
	.abi_minor = LOOPD_PLUGIN_ABI_MINOR + 1,
	.size = sizeof(struct loopd_plugin),
	.name = "newabi",
	.start = newabi_start,
};
