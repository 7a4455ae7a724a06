/*
 * ctorcrash: a test plugin whose constructor crashes, inside dlopen(), before
 * loopd has seen its descriptor.  Loading is part of the task: the crash
 * must be reported as the task's.
 */
#include <signal.h>

#include <loopd/plugin.h>

__attribute__((constructor)) static void
ctorcrash_init(void)
{
	raise(SIGSEGV);
}

static int
ctorcrash_start(loopd_task *t, const loopd_args *args, void **state)
{
	return 0;
}

LOOPD_PLUGIN(.name = "ctorcrash", .version = "0.1", .start = ctorcrash_start);
