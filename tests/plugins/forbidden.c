/*
 * forbidden: a test plugin that makes a system call no sandbox profile
 * allows, from a timer callback.
 *
 *   config:
 *     call: mount | personality | packet | inet   # default mount
 *     after: 50ms
 *
 * mount is made with arguments that fail harmlessly (a source and a
 * target that do not exist), personality only asks, and packet opens an
 * AF_PACKET socket and closes it: without a sandbox each returns, and the
 * plugin says what it got.  inet opens (and closes) a TCP socket, which
 * profile network-server allows and compute does not.
 */
#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <unistd.h>

#include <loopd/plugin.h>

static void
forbidden_fire(loopd_task *t, void *arg)
{
	const char *call = arg;
	long rc;

	loopd_log(t, LOOPD_LOG_WARNING, "about to call %s", call);
	if (strcmp(call, "personality") == 0)
		rc = personality(0xffffffff);
	else if (strcmp(call, "packet") == 0 || strcmp(call, "inet") == 0) {
		rc = strcmp(call, "inet") == 0 ? socket(AF_INET, SOCK_STREAM,
		    0) : socket(AF_PACKET, SOCK_RAW, 0);
		if (rc >= 0)
			close((int)rc);
	} else
		rc = mount("/nonexistent-loopd-source",
		    "/nonexistent-loopd-target", "none", MS_RDONLY, NULL);
	loopd_log(t, LOOPD_LOG_WARNING, "%s returned %ld (%s)", call, rc,
	    rc < 0 ? strerror(errno) : "no error");
}

static int
forbidden_start(loopd_task *t, const loopd_args *args, void **state)
{
	const char *call = loopd_args_string(args, "call", "mount");

	if (loopd_timer_start(t, (uint64_t)loopd_args_duration_ms(args,
	    "after", 50), 0, forbidden_fire, (void *)call) == NULL)
		return -1;
	return 0;
}

LOOPD_PLUGIN(.name = "forbidden", .version = "0.1",
    .start = forbidden_start);
