/*
 * failer: a test plugin that fails on purpose.
 *
 *   config:
 *     when: start | later     # fail inside start, or from a timer (default)
 *     after: 10ms             # with when: later
 *     control: N              # with when: start, fail with N bytes of
 *                             # \x01 instead (each escapes to 6 in JSON)
 *     message: "..."          # the error message (default has quotes,
 *                             # a newline and a byte that is not UTF-8)
 */
#include <stdlib.h>
#include <string.h>

#include <loopd/plugin.h>

static const char default_message[] =
    "failed on purpose: \"quoted\"\nsecond line \xff end";

static void
failer_fire(loopd_task *t, void *arg)
{
	loopd_task_fail(t, "test_failure", "%s", (const char *)arg);
}

static int
failer_start(loopd_task *t, const loopd_args *args, void **state)
{
	const char *msg = loopd_args_string(args, "message", default_message);
	const char *when = loopd_args_string(args, "when", "later");

	int64_t control = loopd_args_int(args, "control", 0);
	char *big;

	if (strcmp(when, "start") == 0 && control > 0 &&
	    (big = malloc((size_t)control + 1)) != NULL) {
		memset(big, '\x01', (size_t)control);
		big[control] = '\0';
		loopd_task_fail(t, "test_failure", "%s", big);
		free(big);
		return -1;
	}
	if (strcmp(when, "start") == 0) {
		loopd_task_fail(t, "test_failure", "%s", msg);
		return -1;
	}
	if (loopd_timer_start(t, (uint64_t)loopd_args_duration_ms(args,
	    "after", 10), 0, failer_fire, (void *)msg) == NULL)
		return -1;
	return 0;
}

LOOPD_PLUGIN(.name = "failer", .version = "0.1", .start = failer_start);
