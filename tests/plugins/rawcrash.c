/*
 * rawcrash: a test plugin whose code faults in a callback that libevent
 * calls directly (event_base_once on loopd_task_base()), not through
 * loopd's API, so that no task's code is marked as running when its
 * worker dies.
 *
 *   config:
 *     after: 50ms        # fault after this long, or
 *     fifo: PATH         # when PATH (a FIFO) becomes readable
 *     marker: PATH       # when set: fault only while this file does not
 *                        # exist, and create it; else log "serving"
 */
#include <fcntl.h>
#include <stdint.h>
#include <stddef.h>
#include <unistd.h>

#include <event2/event.h>

#include <loopd/plugin.h>

/* Static, in a plugin built with hidden visibility: only the symbol
 * table, not the dynamic one, names it. */
static void
rawcrash_in_libevent_callback(evutil_socket_t fd, short what, void *arg)
{
	volatile int *volatile nowhere = (volatile int *)(uintptr_t)64;

	*nowhere = 0;		/* a fault in this frame, not a raise() */
}

static int
rawcrash_start(loopd_task *t, const loopd_args *args, void **state)
{
	const char *fifo = loopd_args_string(args, "fifo", NULL);
	const char *marker = loopd_args_string(args, "marker", NULL);
	int64_t ms = loopd_args_duration_ms(args, "after", 50);
	struct timeval tv = { .tv_sec = ms / 1000,
	    .tv_usec = (ms % 1000) * 1000 };
	int fd;

	if (marker != NULL) {
		if (access(marker, F_OK) == 0) {
			loopd_log(t, LOOPD_LOG_INFO, "serving");
			return 0;
		}
		if ((fd = open(marker, O_CREAT | O_WRONLY | O_CLOEXEC,
		    0600)) >= 0)
			close(fd);
	}
	if (fifo == NULL)
		return event_base_once(loopd_task_base(t), -1, EV_TIMEOUT,
		    rawcrash_in_libevent_callback, NULL, &tv);
	/* Left open: the worker dies of it. */
	if ((fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
		return -1;
	return event_base_once(loopd_task_base(t), fd, EV_READ,
	    rawcrash_in_libevent_callback, NULL, NULL);
}

LOOPD_PLUGIN(.name = "rawcrash", .version = "0.1", .start = rawcrash_start);
