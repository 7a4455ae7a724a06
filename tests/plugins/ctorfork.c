/*
 * ctorfork: a test plugin whose constructor leaves a process behind that
 * holds every fd it inherited.  Reading its descriptor must end when the
 * reader has exited, not when that process does, and must not leave it.
 */
#include <unistd.h>

#include <loopd/plugin.h>

__attribute__((constructor)) static void
ctorfork_init(void)
{
	if (fork() == 0) {
		sleep(60);
		_exit(0);
	}
}

static int
ctorfork_start(loopd_task *t, const loopd_args *args, void **state)
{
	return 0;
}

LOOPD_PLUGIN(.name = "ctorfork", .version = "0.1", .start = ctorfork_start);
