/*
 * rogue: a test plugin that attacks loopd from inside its worker.
 *
 *   config:
 *     do: fds | scribble | forge_event | forge_task | forge_ts |
 *         forge_field | forge_dropped | close_channel | fork |
 *         exit_in_cancel
 *
 * fds           logs one record per open fd: "fd N -> TARGET"
 * scribble      writes garbage into every fd above 2
 * forge_*       writes a well-formed frame that says what a worker may not
 *               say, straight onto the channel (fd 3)
 * close_channel closes the channel and goes on running
 * fork          forks a child that sleeps, and a grandchild whose parent
 *               exits at once (so it is orphaned); logs both pids
 * exit_in_cancel calls exit(0) from its cancel hook
 *
 * The frame encoding is written out here by hand, as an attacker would:
 * this file includes nothing of loopd's but the public header.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <loopd/plugin.h>

#define CHANNEL	3
enum { MSG_STATE = 5, MSG_LOG = 6, MSG_LISTEN = 10 };

struct frame {
	uint8_t	b[4096];
	size_t	n;
};

static void
put_int(struct frame *f, int64_t v)
{
	int i;

	f->b[f->n++] = 'i';
	for (i = 0; i < 8; i++)
		f->b[f->n++] = (uint8_t)((uint64_t)v >> (8 * i));
}

static void
put_str(struct frame *f, const char *s)
{
	uint32_t n = (uint32_t)strlen(s);
	int i;

	f->b[f->n++] = 's';
	for (i = 0; i < 4; i++)
		f->b[f->n++] = (uint8_t)(n >> (8 * i));
	memcpy(f->b + f->n, s, n + 1);
	f->n += n + 1;
}

static void
send_frame(struct frame *f)
{
	uint8_t hdr[4] = { f->n >> 24, f->n >> 16, f->n >> 8, f->n };

	(void)!write(CHANNEL, hdr, 4);
	(void)!write(CHANNEL, f->b, f->n);
}

/* A MSG_LOG with one extra field key=value (NULL: none). */
static void
forge_log(const char *ts, const char *key, const char *value)
{
	struct frame f = { .n = 0 };

	f.b[f.n++] = MSG_LOG;
	put_int(&f, 3);			/* error */
	put_str(&f, ts);
	put_str(&f, "FORGED record");
	put_int(&f, -1);
	put_int(&f, key != NULL);
	if (key != NULL) {
		put_str(&f, key);
		put_int(&f, 1);
		put_str(&f, value);
	}
	send_frame(&f);
}

static void
forge_state(int64_t index)
{
	struct frame f = { .n = 0 };

	f.b[f.n++] = MSG_STATE;
	put_int(&f, index);
	put_int(&f, 4);			/* failed */
	put_str(&f, "");
	put_str(&f, "forged");
	put_str(&f, "FORGED failure");
	send_frame(&f);
}

/* A socket request on fd 5 for a task slot that does not exist. */
static void
forge_listen(void)
{
	struct frame f = { .n = 0 };

	f.b[f.n++] = MSG_LISTEN;
	put_int(&f, 4242);
	put_str(&f, "127.0.0.1");
	put_int(&f, 0);
	put_int(&f, 16);
	(void)!send(5, f.b, f.n, 0);
}

static void
list_fds(loopd_task *t)
{
	char path[300], target[256];
	struct dirent *de;
	ssize_t n;
	DIR *d;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
		if ((n = readlink(path, target, sizeof target - 1)) < 0)
			continue;
		target[n] = '\0';
		loopd_log(t, LOOPD_LOG_INFO, "fd %s -> %s", de->d_name, target);
	}
	closedir(d);
	loopd_log(t, LOOPD_LOG_INFO, "fds listed");
}

static void
scribble(loopd_task *t)
{
	static const char junk[] = "\x00\x00\x00\x10SIGTERM\n\xff\xfe garbage";
	int fd;

	loopd_log(t, LOOPD_LOG_INFO, "scribbling");
	for (fd = 3; fd < 1024; fd++)
		(void)!write(fd, junk, sizeof junk - 1);
}

static void
fork_tree(loopd_task *t)
{
	pid_t child, mid;
	int p[2];

	if ((child = fork()) == 0) {
		for (;;)
			pause();
	}
	if (pipe(p) < 0)
		return;
	if ((mid = fork()) == 0) {
		pid_t g = fork();

		if (g == 0) {
			for (;;)
				pause();
		}
		(void)!write(p[1], &g, sizeof g);
		_exit(0);
	}
	pid_t grandchild = 0;
	(void)!read(p[0], &grandchild, sizeof grandchild);
	close(p[0]);
	close(p[1]);
	loopd_log(t, LOOPD_LOG_INFO, "forked child %d and orphan %d",
	    (int)child, (int)grandchild);
}

static void
rogue_act(loopd_task *t, void *arg)
{
	const char *what = arg;

	if (strcmp(what, "fds") == 0)
		list_fds(t);
	else if (strcmp(what, "scribble") == 0)
		scribble(t);
	else if (strcmp(what, "forge_event") == 0)
		forge_log("2026-01-01T00:00:00.000000Z", "event", "ready");
	else if (strcmp(what, "forge_field") == 0)
		forge_log("2026-01-01T00:00:00.000000Z", "pid", "1");
	else if (strcmp(what, "forge_dropped") == 0)
		forge_log("2026-01-01T00:00:00.000000Z", "dropped", "1");
	else if (strcmp(what, "forge_ts") == 0)
		forge_log("yesterday", NULL, NULL);
	else if (strcmp(what, "forge_task") == 0)
		forge_state(99999);
	else if (strcmp(what, "forge_listen") == 0)
		forge_listen();
	else if (strcmp(what, "close_channel") == 0) {
		close(CHANNEL);
		loopd_log(t, LOOPD_LOG_INFO, "channel closed");
	} else if (strcmp(what, "fork") == 0)
		fork_tree(t);
}

static int
rogue_start(loopd_task *t, const loopd_args *args, void **state)
{
	const char *what = loopd_args_string(args, "do", "fds");

	*state = (void *)what;
	return loopd_call_soon(t, rogue_act, (void *)what) == 0 ? 0 : -1;
}

static void
rogue_cancel(loopd_task *t, void *state)
{
	if (strcmp(state, "exit_in_cancel") == 0)
		exit(0);
	loopd_task_done(t);
}

LOOPD_PLUGIN(.name = "rogue", .version = "0.1", .start = rogue_start,
    .cancel = rogue_cancel);
