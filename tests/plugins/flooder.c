/*
 * flooder: a test plugin that logs as fast as it can.
 *
 *   config:
 *     count: 1000         # records in the flood: "MESSAGE 1" .. "MESSAGE N"
 *     chunk: 100          # records per turn of the loop
 *     message: flood      # the text before each record's number
 *     notify: /path       # an AF_UNIX datagram socket: gets "FLOOD=done"
 *                         # once the last record of the flood was logged
 *     then: 0             # then one more numbered record every this long
 *                         # (a duration; 0: none) until cancelled
 *
 * Records are numbered in the order they are logged, the slow ones after
 * the flood included, so that a test can tell how many were logged from
 * the last number it sees.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <loopd/plugin.h>

struct flooder {
	const char	*message;	/* borrowed from the task's args */
	const char	*notify;	/* borrowed, or NULL */
	int64_t		 count;
	int64_t		 chunk;
	int64_t		 then_ms;
	int64_t		 n;		/* records logged */
};

static void
flooder_notify(const char *path)
{
	static const char msg[] = "FLOOD=done\n";
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (path == NULL || strlen(path) >= sizeof sun.sun_path)
		return;
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	(void)sendto(fd, msg, sizeof msg - 1, 0, (struct sockaddr *)&sun,
	    sizeof sun);
	close(fd);
}

static void
flooder_slow(loopd_task *t, void *arg)
{
	struct flooder *f = arg;

	loopd_log(t, LOOPD_LOG_INFO, "%s %lld", f->message,
	    (long long)++f->n);
}

static void
flooder_chunk(loopd_task *t, void *arg)
{
	struct flooder *f = arg;
	int64_t i;

	for (i = 0; i < f->chunk && f->n < f->count; i++)
		loopd_log(t, LOOPD_LOG_INFO, "%s %lld", f->message,
		    (long long)++f->n);
	if (f->n < f->count) {
		if (loopd_call_soon(t, flooder_chunk, f) < 0)
			loopd_task_fail(t, "test", "loopd_call_soon failed");
		return;
	}
	flooder_notify(f->notify);
	if (f->then_ms > 0 && loopd_timer_start(t, (uint64_t)f->then_ms,
	    (uint64_t)f->then_ms, flooder_slow, f) == NULL)
		loopd_task_fail(t, "test", "loopd_timer_start failed");
}

static int
flooder_start(loopd_task *t, const loopd_args *args, void **state)
{
	struct flooder *f;

	if ((f = calloc(1, sizeof *f)) == NULL)
		return -1;
	*state = f;
	f->count = loopd_args_int(args, "count", 1000);
	f->chunk = loopd_args_int(args, "chunk", 100);
	f->message = loopd_args_string(args, "message", "flood");
	f->notify = loopd_args_string(args, "notify", NULL);
	f->then_ms = loopd_args_duration_ms(args, "then", 0);
	if (loopd_task_ending(t))
		return -1;
	if (f->chunk <= 0) {
		loopd_task_fail(t, "config", "chunk must be at least 1");
		return -1;
	}
	return loopd_call_soon(t, flooder_chunk, f) < 0 ? -1 : 0;
}

static void
flooder_cancel(loopd_task *t, void *state)
{
	loopd_task_done(t);
}

static void
flooder_stop(void *state)
{
	free(state);
}

LOOPD_PLUGIN(.name = "flooder", .version = "0.1", .start = flooder_start,
    .cancel = flooder_cancel, .stop = flooder_stop);
