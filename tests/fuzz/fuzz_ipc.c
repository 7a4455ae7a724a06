/*
 * fuzz_ipc.c: the frame readers of ipc.c on any bytes.
 *
 * The input is what a peer wrote on a channel.  It is read twice: with
 * ipc_read_frame() from a pipe (how a worker reads its configuration),
 * and with an ipc on one end of a socketpair, drained after the other end
 * wrote it and closed (how the supervisor reads a worker).  A small
 * frame limit puts the length check in reach.  Every frame handed out
 * must be whole and within the limit, and the bytes of the frames must
 * be those of the input.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "ipc.h"

#define FRAME_MAX	512
#define INPUT_MAX	32768	/* below what a pipe or socket holds */

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct event_base *base;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if ((base = event_base_new()) == NULL)
		abort();
	return 0;
}

struct seen {
	const uint8_t	*data;
	size_t		 off;		/* where the next frame's header is */
	int		 closed;
	struct ipc	*ipc;
};

static void
expect(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "%s\n", what);
		abort();
	}
}

static void
on_frame(void *ctx, const void *body, size_t len)
{
	struct seen *s = ctx;

	expect(len >= 1 && len <= FRAME_MAX, "a frame out of bounds");
	expect(memcmp(body, s->data + s->off + 4, len) == 0,
	    "a frame that is not what was written");
	s->off += 4 + len;
}

static void
on_closed(void *ctx, const char *reason)
{
	struct seen *s = ctx;

	s->closed = 1;
}

static const struct ipc_callbacks callbacks = {
	.frame = on_frame,
	.closed = on_closed,
};

static void
read_pipe(const uint8_t *data, size_t size)
{
	uint8_t *buf = NULL;
	size_t cap = 0, off = 0;
	ssize_t n;
	int p[2];

	if (pipe(p) < 0)
		abort();
	expect(write(p[1], data, size) == (ssize_t)size, "a short write");
	close(p[1]);
	while ((n = ipc_read_frame(p[0], &buf, &cap, FRAME_MAX)) > 0) {
		expect(n <= FRAME_MAX && (size_t)n <= cap, "a frame too long");
		expect(memcmp(buf, data + off + 4, (size_t)n) == 0,
		    "a frame that is not what was written");
		off += 4 + (size_t)n;
	}
	expect(n < 0 || off == size, "end of file inside a frame");
	free(buf);
	close(p[0]);
}

static void
read_socket(const uint8_t *data, size_t size)
{
	struct seen s = { data, 0, 0, NULL };
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	expect(write(sv[1], data, size) == (ssize_t)size, "a short write");
	close(sv[1]);
	if ((s.ipc = ipc_new(base, sv[0], FRAME_MAX, &callbacks, &s)) == NULL)
		abort();
	ipc_drain(s.ipc);
	expect(s.closed, "the channel did not close at its end");
	expect(s.off <= size, "frames past the end");
	ipc_free(s.ipc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > INPUT_MAX)
		return -1;
	read_pipe(data, size);
	read_socket(data, size);
	return 0;
}
