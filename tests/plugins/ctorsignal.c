/*
 * ctorsignal: a test plugin whose constructor raises SIGUSR1 while it is
 * being loaded, standing in for one that crashes there.  The test that
 * loads it catches the signal and checks which task was marked as running.
 */
#include <signal.h>

#include <loopd/plugin.h>

__attribute__((constructor)) static void
ctorsignal_init(void)
{
	raise(SIGUSR1);
}

static int
ctorsignal_start(loopd_task *t, const loopd_args *args, void **state)
{
	return 0;
}

LOOPD_PLUGIN(.name = "ctorsignal", .version = "0.1",
    .start = ctorsignal_start);
