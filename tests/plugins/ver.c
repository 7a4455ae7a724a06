/*
 * ver: a test plugin built twice, as version 1 and 2 (VER_VERSION), to
 * replace one by the other on disk.  Logs "version V" every 20 ms.
 */
#include <loopd/plugin.h>

#ifndef VER_VERSION
#define VER_VERSION "1"
#endif

static void
ver_tick(loopd_task *t, void *arg)
{
	loopd_log(t, LOOPD_LOG_INFO, "version %s", VER_VERSION);
}

static int
ver_start(loopd_task *t, const loopd_args *args, void **state)
{
	return loopd_timer_start(t, 20, 20, ver_tick, NULL) ? 0 : -1;
}

LOOPD_PLUGIN(.name = "ver", .version = VER_VERSION, .start = ver_start);
