/*
 * ready: a test plugin that says when it is ready (ABI 1.1,
 * LOOPD_PLUGIN_NOTIFY_READY).
 *
 *   config:
 *     after: 50ms      # call loopd_task_ready() this long after start
 *     in_start: false  # call it from start instead
 *     never: false     # never call it
 *     marker: /path    # with never: only while this file does not exist,
 *                      # creating it (so: never on the first start only)
 *     path: data/x     # when set, log loopd_task_path() of it
 *
 * It logs "waiting" from start, "ready now" right before it calls
 * loopd_task_ready(), then "again: N" with what a second call returned.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <loopd/plugin.h>

static void
ready_now(loopd_task *t, void *arg)
{
	int rc;

	loopd_log(t, LOOPD_LOG_INFO, "ready now");
	if ((rc = loopd_task_ready(t)) != 0)
		loopd_task_fail(t, "test_failure", "loopd_task_ready: %s",
		    loopd_strerror(rc));
	else
		loopd_log(t, LOOPD_LOG_INFO, "again: %d", loopd_task_ready(t));
}

/* A marker file that did not exist and now does. */
static int
first_time(const char *marker)
{
	int fd;

	if (marker == NULL)
		return 1;
	if (access(marker, F_OK) == 0)
		return 0;
	if ((fd = open(marker, O_CREAT | O_WRONLY | O_CLOEXEC, 0600)) >= 0)
		close(fd);
	return 1;
}

static int
ready_start(loopd_task *t, const loopd_args *args, void **state)
{
	const char *path = loopd_args_string(args, "path", NULL);
	char *full;

	if (path != NULL) {
		full = loopd_task_path(t, path);
		loopd_log(t, LOOPD_LOG_INFO, "path %s", full ? full : "(null)");
		free(full);
	}
	loopd_log(t, LOOPD_LOG_INFO, "waiting");
	if (loopd_args_bool(args, "never", false) &&
	    first_time(loopd_args_string(args, "marker", NULL)))
		return 0;
	if (loopd_args_bool(args, "in_start", false)) {
		ready_now(t, NULL);
		return 0;
	}
	return loopd_timer_start(t, (uint64_t)loopd_args_duration_ms(args,
	    "after", 50), 0, ready_now, NULL) != NULL ? 0 : -1;
}

static void
ready_cancel(loopd_task *t, void *state)
{
	loopd_log(t, LOOPD_LOG_INFO, "cancelled; ready again: %d",
	    loopd_task_ready(t));
	loopd_task_done(t);
}

LOOPD_PLUGIN(.name = "ready", .version = "0.1",
    .flags = LOOPD_PLUGIN_NOTIFY_READY, .start = ready_start,
    .cancel = ready_cancel);
