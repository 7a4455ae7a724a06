/*
 * ticker: logs a line at a fixed interval, as a loopd plugin.
 *
 *   config:
 *     interval: 1s        # a duration: ms, s, m or h
 *     message: tick       # logged with a running count
 *
 * The smallest complete plugin: a periodic timer, a log call, and a cancel
 * hook that ends the task.
 */
#include <stdlib.h>

#include <loopd/plugin.h>

struct ticker {
	const char	*message;	/* borrowed from the task's args */
	unsigned long	 count;
};

static void
ticker_tick(loopd_task *t, void *arg)
{
	struct ticker *k = arg;

	loopd_log(t, LOOPD_LOG_INFO, "%s %lu", k->message, ++k->count);
}

static int
ticker_start(loopd_task *t, const loopd_args *args, void **state)
{
	struct ticker *k;
	int64_t every = loopd_args_duration_ms(args, "interval", 1000);

	if (loopd_task_ending(t))
		return -1;	/* a bad value: the getter said which */
	if (every <= 0) {
		loopd_task_fail(t, "config", "interval must be at least 1ms");
		return -1;
	}
	if ((k = calloc(1, sizeof *k)) == NULL)
		return -1;
	*state = k;
	k->message = loopd_args_string(args, "message", "tick");
	if (loopd_timer_start(t, (uint64_t)every, (uint64_t)every, ticker_tick,
	    k) == NULL)
		return -1;
	return 0;
}

static void
ticker_cancel(loopd_task *t, void *state)
{
	struct ticker *k = state;

	loopd_log(t, LOOPD_LOG_INFO, "stopping after %lu ticks", k->count);
	loopd_task_done(t);	/* the timer is released with the task */
}

static void
ticker_stop(void *state)
{
	free(state);
}

LOOPD_PLUGIN(
	.name = "ticker",
	.version = "1.0",
	.description = "logs a line at a fixed interval",
	.start = ticker_start,
	.cancel = ticker_cancel,
	.stop = ticker_stop,
);
