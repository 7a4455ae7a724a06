/*
 * settings: a test plugin that declares one setting of every type, a
 * required one among them, and prints to stdout while it is loaded (which
 * must not spoil the reading of its descriptor).  Its task logs the values
 * it read and runs until cancelled.
 */
#include <stdio.h>

#include <loopd/plugin.h>

__attribute__((constructor)) static void
settings_init(void)
{
	printf("hello from a chatty constructor\n");
	fflush(stdout);
}

static const struct loopd_setting settings_table[] = {
	LOOPD_REQUIRED(LOOPD_TYPE_STRING, "upstream", "where to send"),
	LOOPD_SETTING_INT("retries", -1, 10, "3", "tries; -1 forever"),
	LOOPD_SETTING_BOOL("verbose", "false", "log every try"),
	LOOPD_SETTING_DURATION("timeout", "2s", "per try"),
	LOOPD_SETTING_ENUM("mode", "fast|safe|off", "safe", "how to send"),
	LOOPD_SETTING_LIST("peers", "other hosts"),
	LOOPD_SETTING_MAP("labels", "free-form labels"),
	LOOPD_SETTINGS_END
};

static int
settings_start(loopd_task *t, const loopd_args *args, void **state)
{
	loopd_log(t, LOOPD_LOG_INFO, "upstream %s retries %lld",
	    loopd_args_string(args, "upstream", "?"),
	    (long long)loopd_args_int(args, "retries", 3));
	return loopd_task_ending(t) ? -1 : 0;
}

static void
settings_cancel(loopd_task *t, void *state)
{
	loopd_task_done(t);
}

LOOPD_PLUGIN(
	.name = "settings",
	.version = "2.5",
	.description = "declares a setting of every type",
	.start = settings_start,
	.cancel = settings_cancel,
	.settings = settings_table,
);
