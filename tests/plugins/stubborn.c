/*
 * stubborn: a test plugin whose cancel hook does nothing, so the task
 * outlives any grace period.
 */
#include <loopd/plugin.h>

static void
stubborn_tick(loopd_task *t, void *arg)
{
}

static int
stubborn_start(loopd_task *t, const loopd_args *args, void **state)
{
	return loopd_timer_start(t, 1000, 1000, stubborn_tick, NULL) ? 0 : -1;
}

static void
stubborn_cancel(loopd_task *t, void *state)
{
	loopd_log(t, LOOPD_LOG_INFO, "ignoring cancellation");
}

LOOPD_PLUGIN(.name = "stubborn", .version = "0.1", .start = stubborn_start,
    .cancel = stubborn_cancel);
