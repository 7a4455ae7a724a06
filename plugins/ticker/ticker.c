/*
 * ticker: logs a line at a fixed interval, as a loopd plugin.
 *
 *   config:
 *     interval: 1s        # a duration: ms, s, m or h
 *     message: tick       # logged with a running count
 *
 * The smallest complete plugin: a periodic timer, a log call, and a cancel
 * hook that ends the task.  A reload that changes its settings is applied
 * in place: the timer is re-armed and the count goes on.
 */
#include <stdlib.h>

#include <loopd/plugin.h>

struct ticker {
	const char	*message;	/* borrowed from the task's args */
	unsigned long	 count;
	loopd_timer	*timer;
	int64_t		 every;		/* ms */
};

static void
ticker_tick(loopd_task *t, void *arg)
{
	struct ticker *k = arg;

	loopd_log(t, LOOPD_LOG_INFO, "%s %lu", k->message, ++k->count);
}

/* The interval in args, or -1 after failing the task. */
static int64_t
ticker_interval(loopd_task *t, const loopd_args *args)
{
	int64_t every = loopd_args_duration_ms(args, "interval", 1000);

	if (loopd_task_ending(t))
		return -1;	/* a bad value: the getter said which */
	if (every <= 0) {
		loopd_task_fail(t, "config", "interval must be at least 1ms");
		return -1;
	}
	return every;
}

static int
ticker_start(loopd_task *t, const loopd_args *args, void **state)
{
	struct ticker *k;
	int64_t every;

	if ((every = ticker_interval(t, args)) < 0)
		return -1;
	if ((k = calloc(1, sizeof *k)) == NULL)
		return -1;
	*state = k;
	k->message = loopd_args_string(args, "message", "tick");
	k->every = every;
	k->timer = loopd_timer_start(t, (uint64_t)every, (uint64_t)every,
	    ticker_tick, k);
	return k->timer != NULL ? 0 : -1;
}

/* A new interval restarts the period from now; a new message is used
 * from the next tick on. */
static int
ticker_reconfigure(loopd_task *t, void *state, const loopd_args *args)
{
	struct ticker *k = state;
	int64_t every = loopd_args_duration_ms(args, "interval", 1000);

	if (every <= 0)
		return -1;	/* the restart says why */
	if (every != k->every && loopd_timer_set(k->timer, (uint64_t)every,
	    (uint64_t)every) < 0)
		return -1;
	k->every = every;
	k->message = loopd_args_string(args, "message", "tick");
	loopd_log(t, LOOPD_LOG_INFO, "interval %lld ms, message '%s'",
	    (long long)every, k->message);
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
	.reconfigure = ticker_reconfigure,
);
