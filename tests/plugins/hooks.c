/*
 * hooks: a test plugin with per-process hooks (ABI 1.1).
 *
 * init_process and exit_process each append one line to the file that
 * $LOOPD_TEST_HOOKS names: "init PID", "init_failed PID" or "exit PID".
 * While the file $LOOPD_TEST_HOOKS_FAIL names does not exist (when that
 * variable is set), init_process fails.  start logs "serving after N
 * init_process calls" (the calls in this process).
 *
 *   config:
 *     fail_once: /path   # when set and the file does not exist: create it
 *                        # and fail the start (so: fail once, then serve)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <loopd/plugin.h>

static unsigned	inits;

static void
note(const char *what)
{
	const char *path = getenv("LOOPD_TEST_HOOKS");
	char line[64];
	int fd, n;

	if (path == NULL || (fd = open(path, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0600)) < 0)
		return;
	n = snprintf(line, sizeof line, "%s %d\n", what, (int)getpid());
	if (write(fd, line, (size_t)n) != n)
		abort();
	close(fd);
}

static int
hooks_init_process(void)
{
	const char *fail = getenv("LOOPD_TEST_HOOKS_FAIL");

	if (fail != NULL && access(fail, F_OK) != 0) {
		note("init_failed");
		return 7;
	}
	inits++;
	note("init");
	return 0;
}

static void
hooks_exit_process(void)
{
	note("exit");
}

static int
hooks_start(loopd_task *t, const loopd_args *args, void **state)
{
	const char *once = loopd_args_string(args, "fail_once", NULL);
	int fd;

	if (once != NULL && access(once, F_OK) != 0) {
		if ((fd = open(once, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) >= 0)
			close(fd);
		loopd_task_fail(t, "test_failure", "failing once");
		return -1;
	}
	loopd_log(t, LOOPD_LOG_INFO, "serving after %u init_process calls",
	    inits);
	return 0;
}

LOOPD_PLUGIN(.name = "hooks", .version = "0.1", .start = hooks_start,
    .init_process = hooks_init_process,
    .exit_process = hooks_exit_process);
