/*
 * crasher: a test plugin that takes its worker down.
 *
 *   config:
 *     how: segv | abort | exit   # default segv
 *     after: 50ms
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <loopd/plugin.h>

static void
crasher_fire(loopd_task *t, void *arg)
{
	const char *how = arg;
	volatile int *volatile nowhere = (volatile int *)(uintptr_t)64;

	loopd_log(t, LOOPD_LOG_WARNING, "about to %s", how);
	if (strcmp(how, "abort") == 0)
		abort();
	if (strcmp(how, "exit") == 0)
		exit(7);
	*nowhere = 0;		/* a fault in this frame, not a raise() */
}

static int
crasher_start(loopd_task *t, const loopd_args *args, void **state)
{
	const char *how = loopd_args_string(args, "how", "segv");

	if (loopd_timer_start(t, (uint64_t)loopd_args_duration_ms(args,
	    "after", 50), 0, crasher_fire, (void *)how) == NULL)
		return -1;
	return 0;
}

LOOPD_PLUGIN(.name = "crasher", .version = "0.1", .start = crasher_start);
