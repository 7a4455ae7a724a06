/*
 * badabi: a test plugin built for a plugin ABI this loopd does not speak.
 */
#include <loopd/plugin.h>

static int
badabi_start(loopd_task *t, const loopd_args *args, void **state)
{
	return 0;
}

LOOPD_API const struct loopd_plugin loopd_plugin_descriptor = {
	.abi_major = LOOPD_PLUGIN_ABI_MAJOR + 1,
	.abi_minor = 0,
	.size = sizeof(struct loopd_plugin),
	.name = "badabi",
	.start = badabi_start,
};
