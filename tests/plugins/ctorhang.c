/*
 * ctorhang: a test plugin whose constructor never returns, inside dlopen().
 * Reading its descriptor must give up at a deadline, not wait with it.
 */
#include <unistd.h>

#include <loopd/plugin.h>

__attribute__((constructor)) static void
ctorhang_init(void)
{
	for (;;)
		pause();
}

static int
ctorhang_start(loopd_task *t, const loopd_args *args, void **state)
{
	return 0;
}

LOOPD_PLUGIN(.name = "ctorhang", .version = "0.1", .start = ctorhang_start);
