/*
 * flood: logs COUNT records as fast as the loop lets it, then ends, as a
 * loopd plugin for the log benchmark (bench/run-log.sh).
 *
 *   config:
 *     count: 1000000      # records to log
 *     chunk: 1000         # records per loopd_call_soon() callback
 *     notify: PATH        # optional: an AF_UNIX datagram socket that gets
 *                         # "FLOOD_DONE=1" once the last record is logged
 *
 * Each record is the one in bench/flood.h, at level info.  Between chunks
 * the loop runs, so the worker's channel to the supervisor is written as
 * it drains.  After the last record the task ends with loopd_task_done();
 * a cancel ends it at once.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <loopd/plugin.h>

#include "notify.h"

#include "../flood.h"

struct flood {
	unsigned long	 next, count, chunk;
	const char	*notify;	/* borrowed from the task's args */
};

static void
flood_notify(const char *path)
{
	bench_notify_done(path, "FLOOD_DONE=1");
}

static void
flood_chunk(loopd_task *t, void *arg)
{
	struct flood *f = arg;
	unsigned long end = f->next + f->chunk;

	if (end > f->count)
		end = f->count;
	for (; f->next < end; f->next++)
		loopd_log(t, LOOPD_LOG_INFO, FLOOD_FMT, f->next + 1, f->count,
		    FLOOD_PAD_LEN, FLOOD_PAD);
	if (f->next < f->count && loopd_call_soon(t, flood_chunk, f) == 0)
		return;
	flood_notify(f->notify);
	loopd_task_done(t);
}

static int
flood_start(loopd_task *t, const loopd_args *args, void **state)
{
	struct flood *f;
	int64_t count = loopd_args_int(args, "count", 1000000);
	int64_t chunk = loopd_args_int(args, "chunk", 1000);

	if (loopd_task_ending(t))
		return -1;
	if (count < 0 || chunk < 1) {
		loopd_task_fail(t, "config", "count must be >= 0, chunk >= 1");
		return -1;
	}
	if ((f = calloc(1, sizeof *f)) == NULL)
		return -1;
	*state = f;
	f->count = (unsigned long)count;
	f->chunk = (unsigned long)chunk;
	f->notify = loopd_args_string(args, "notify", NULL);
	return loopd_call_soon(t, flood_chunk, f) == 0 ? 0 : -1;
}

static void
flood_cancel(loopd_task *t, void *state)
{
	loopd_task_done(t);
}

static void
flood_stop(void *state)
{
	free(state);
}

LOOPD_PLUGIN(
	.name = FLOOD_NAME,
	.version = "1.0",
	.description = "logs many records as fast as it can, then ends",
	.start = flood_start,
	.cancel = flood_cancel,
	.stop = flood_stop,
);
