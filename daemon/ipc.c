/*
 * ipc.c: length-prefixed JSON frames over a socketpair.
 *
 * Writes go straight to the socket when nothing is queued, so that a record
 * a worker sends just before it crashes is already in the kernel and reaches
 * the supervisor.  Reads go into an evbuffer and come out a frame at a time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "ipc.h"

struct ipc {
	int		 fd;
	struct event	*rd;
	struct event	*wr;
	struct evbuffer	*in;
	struct evbuffer	*out;
	ipc_frame_fn	 on_frame;
	ipc_close_fn	 on_close;
	void		*ctx;
	size_t		 dropped;
	int		 closed;
};

static void	ipc_read_cb(evutil_socket_t, short, void *);
static void	ipc_write_cb(evutil_socket_t, short, void *);

struct ipc *
ipc_new(struct event_base *base, int fd, ipc_frame_fn on_frame,
    ipc_close_fn on_close, void *ctx)
{
	struct ipc *ipc;

	if ((ipc = calloc(1, sizeof *ipc)) == NULL)
		return NULL;
	ipc->fd = fd;
	ipc->on_frame = on_frame;
	ipc->on_close = on_close;
	ipc->ctx = ctx;
	ipc->in = evbuffer_new();
	ipc->out = evbuffer_new();
	ipc->rd = event_new(base, fd, EV_READ | EV_PERSIST, ipc_read_cb, ipc);
	ipc->wr = event_new(base, fd, EV_WRITE, ipc_write_cb, ipc);
	if (ipc->in == NULL || ipc->out == NULL || ipc->rd == NULL ||
	    ipc->wr == NULL || evutil_make_socket_nonblocking(fd) < 0 ||
	    event_add(ipc->rd, NULL) < 0) {
		ipc->fd = -1;	/* the caller still owns fd on failure */
		ipc_free(ipc);
		return NULL;
	}
	return ipc;
}

void
ipc_free(struct ipc *ipc)
{
	if (ipc == NULL)
		return;
	if (ipc->rd)
		event_free(ipc->rd);
	if (ipc->wr)
		event_free(ipc->wr);
	if (ipc->in)
		evbuffer_free(ipc->in);
	if (ipc->out)
		evbuffer_free(ipc->out);
	if (ipc->fd >= 0)
		close(ipc->fd);
	free(ipc);
}

/* Stop reading and tell the owner, once. */
static void
ipc_close(struct ipc *ipc, const char *reason)
{
	if (ipc->closed)
		return;
	ipc->closed = 1;
	event_del(ipc->rd);
	event_del(ipc->wr);
	ipc->on_close(ipc->ctx, reason);
}

/* Dispatch the whole frames in ipc->in.  Returns -1 when the channel was
 * closed (and may have been freed by the owner). */
static int
ipc_dispatch(struct ipc *ipc)
{
	char reason[256];
	unsigned char hdr[4];
	uint32_t len;
	json_error_t jerr;
	json_t *msg;
	char *body;

	while (evbuffer_get_length(ipc->in) >= 4) {
		evbuffer_copyout(ipc->in, hdr, 4);
		len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
		    (uint32_t)hdr[2] << 8 | hdr[3];
		if (len == 0 || len > IPC_FRAME_MAX) {
			snprintf(reason, sizeof reason,
			    "bad frame: length %u (1 to %u allowed)", len,
			    (unsigned)IPC_FRAME_MAX);
			ipc_close(ipc, reason);
			return -1;
		}
		if (evbuffer_get_length(ipc->in) < 4 + (size_t)len)
			return 0;
		evbuffer_drain(ipc->in, 4);
		body = (char *)evbuffer_pullup(ipc->in, len);
		msg = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
		evbuffer_drain(ipc->in, len);
		if (msg == NULL || !json_is_object(msg) ||
		    !json_is_string(json_object_get(msg, "type"))) {
			snprintf(reason, sizeof reason,
			    "bad frame: %s", msg == NULL ? jerr.text :
			    "not an object with a \"type\"");
			json_decref(msg);
			ipc_close(ipc, reason);
			return -1;
		}
		ipc->on_frame(ipc->ctx, msg);
		json_decref(msg);
		if (ipc->closed)
			return -1;
	}
	return 0;
}

/* Read what is there; returns -1 when the channel closed. */
static int
ipc_read_some(struct ipc *ipc)
{
	int n;

	for (;;) {
		n = evbuffer_read(ipc->in, ipc->fd, 65536);
		if (n > 0) {
			if (ipc_dispatch(ipc) < 0)
				return -1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		/* The peer went away (a reset means it died with our bytes
		 * unread); anything else is worth a reason. */
		ipc_close(ipc, n == 0 || errno == ECONNRESET ? NULL :
		    strerror(errno));
		return -1;
	}
}

static void
ipc_read_cb(evutil_socket_t fd, short what, void *arg)
{
	ipc_read_some(arg);
}

void
ipc_drain(struct ipc *ipc)
{
	if (!ipc->closed)
		ipc_read_some(ipc);
}

static void
ipc_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipc *ipc = arg;

	if (evbuffer_write(ipc->out, ipc->fd) < 0 && errno != EAGAIN &&
	    errno != EINTR) {
		evbuffer_drain(ipc->out, evbuffer_get_length(ipc->out));
		return;		/* the read side sees the peer go */
	}
	if (evbuffer_get_length(ipc->out) > 0)
		event_add(ipc->wr, NULL);
}

int
ipc_send(struct ipc *ipc, json_t *msg, int droppable)
{
	unsigned char hdr[4];
	char *body;
	size_t len;

	if (droppable && evbuffer_get_length(ipc->out) > IPC_QUEUE_MAX) {
		ipc->dropped++;
		return -1;
	}
	if ((body = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	    NULL)
		return -1;
	len = strlen(body);
	if (len > IPC_FRAME_MAX) {
		free(body);
		ipc->dropped++;
		return -1;
	}
	hdr[0] = len >> 24, hdr[1] = len >> 16, hdr[2] = len >> 8, hdr[3] = len;
	evbuffer_add(ipc->out, hdr, 4);
	evbuffer_add(ipc->out, body, len);
	free(body);
	if (evbuffer_get_length(ipc->out) == len + 4)
		ipc_write_cb(ipc->fd, EV_WRITE, ipc);
	return 0;
}

size_t
ipc_take_dropped(struct ipc *ipc)
{
	size_t n = ipc->dropped;

	ipc->dropped = 0;
	return n;
}

int
ipc_flush(struct ipc *ipc, int timeout_ms)
{
	struct pollfd pfd = { .fd = ipc->fd, .events = POLLOUT };

	while (evbuffer_get_length(ipc->out) > 0) {
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
		if (evbuffer_write(ipc->out, ipc->fd) < 0 && errno != EAGAIN &&
		    errno != EINTR)
			return -1;
	}
	return 0;
}

void
ipc_close_fd_after_fork(struct ipc *ipc)
{
	close(ipc->fd);
}
