/*
 * ipc.c: length-prefixed frames over a socketpair.
 *
 * Writes go straight to the socket when nothing is queued, so that a record
 * a worker sends just before it crashes is already in the kernel and reaches
 * the supervisor.  Reads go into an evbuffer, at most IPC_READ_CHUNK bytes a
 * turn, and come out a frame at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "ipc.h"

struct ipc {
	int			 fd;
	size_t			 frame_max;
	struct event		*rd;
	struct event		*wr;
	struct evbuffer		*in;
	struct evbuffer		*out;
	struct ipc_callbacks	 cb;
	void			*ctx;
	size_t			 dropped;
	int			 closed;
	/* Fds to pass (SCM_RIGHTS) with the byte at stream offset `at`,
	 * the first byte of their frame. */
	struct {
		int		 fd;
		uint64_t	 at;
	}			 fdq[IPC_FDS_MAX];
	size_t			 nfdq;
	uint64_t		 written;	/* bytes, since the start */
	int			 accept_fds;
	int			 rfds[IPC_FDS_MAX];	/* received, not taken */
	size_t			 nrfds;
};

static void	ipc_read_cb(evutil_socket_t, short, void *);
static void	ipc_write_cb(evutil_socket_t, short, void *);

struct ipc *
ipc_new(struct event_base *base, int fd, size_t frame_max,
    const struct ipc_callbacks *cb, void *ctx)
{
	struct ipc *ipc;

	if ((ipc = calloc(1, sizeof *ipc)) == NULL)
		return NULL;
	ipc->fd = fd;
	ipc->frame_max = frame_max;
	ipc->cb = *cb;
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
	size_t i;

	if (ipc == NULL)
		return;
	for (i = 0; i < ipc->nfdq; i++)
		close(ipc->fdq[i].fd);
	for (i = 0; i < ipc->nrfds; i++)
		close(ipc->rfds[i]);
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

void
ipc_close(struct ipc *ipc)
{
	ipc->closed = 1;
	event_del(ipc->rd);
	event_del(ipc->wr);
}

/* Stop, and tell the owner why, once. */
static void
ipc_fail(struct ipc *ipc, const char *reason)
{
	if (ipc->closed)
		return;
	ipc_close(ipc);
	ipc->cb.closed(ipc->ctx, reason);
}

static uint32_t
frame_length(const unsigned char *h)
{
	return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
	    (uint32_t)h[2] << 8 | h[3];
}

/* Dispatch the whole frames in ipc->in.  Returns -1 when the channel was
 * closed (and may have been freed by the owner). */
static int
ipc_dispatch(struct ipc *ipc)
{
	char reason[128];
	unsigned char hdr[4];
	uint32_t len;

	while (evbuffer_get_length(ipc->in) >= 4) {
		evbuffer_copyout(ipc->in, hdr, 4);
		len = frame_length(hdr);
		if (len == 0 || len > ipc->frame_max) {
			snprintf(reason, sizeof reason,
			    "bad frame: length %u (1 to %zu allowed)", len,
			    ipc->frame_max);
			ipc_fail(ipc, reason);
			return -1;
		}
		if (evbuffer_get_length(ipc->in) < 4 + (size_t)len)
			return 0;
		evbuffer_drain(ipc->in, 4);
		ipc->cb.frame(ipc->ctx, evbuffer_pullup(ipc->in, len), len);
		if (ipc->closed)
			return -1;
		evbuffer_drain(ipc->in, len);
	}
	return 0;
}

/* Read into ipc->in, keeping the fds passed with the bytes: as
 * evbuffer_read() does. */
static int
ipc_recv(struct ipc *ipc)
{
	char ctl[CMSG_SPACE(sizeof(int) * IPC_FDS_MAX)];
	struct msghdr mh = { 0 };
	struct evbuffer_iovec v;
	struct cmsghdr *c;
	struct iovec iov;
	size_t i, nfd;
	ssize_t r;
	int fd;

	if (evbuffer_reserve_space(ipc->in, IPC_READ_CHUNK, &v, 1) < 1) {
		errno = ENOMEM;
		return -1;
	}
	iov.iov_base = v.iov_base;
	iov.iov_len = v.iov_len < IPC_READ_CHUNK ? v.iov_len : IPC_READ_CHUNK;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl;
	mh.msg_controllen = sizeof ctl;
	if ((r = recvmsg(ipc->fd, &mh, MSG_CMSG_CLOEXEC)) <= 0)
		return (int)r;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
			if (ipc->nrfds < IPC_FDS_MAX)
				ipc->rfds[ipc->nrfds++] = fd;
			else
				close(fd);
		}
	}
	v.iov_len = (size_t)r;
	evbuffer_commit_space(ipc->in, &v, 1);
	return (int)r;
}

/* Read at most `limit` bytes (0: all there is); -1 once closed. */
static int
ipc_read_some(struct ipc *ipc, size_t limit)
{
	size_t got = 0;
	int n;

	for (;;) {
		n = ipc->accept_fds ? ipc_recv(ipc) :
		    evbuffer_read(ipc->in, ipc->fd, IPC_READ_CHUNK);
		if (n > 0) {
			got += (size_t)n;
			if (ipc_dispatch(ipc) < 0)
				return -1;
			if (limit > 0 && got >= limit)
				return 0;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		/* The peer went away (a reset means it died with our bytes
		 * unread); anything else is worth a reason. */
		ipc_fail(ipc, n == 0 || errno == ECONNRESET ? NULL :
		    strerror(errno));
		return -1;
	}
}

static void
ipc_read_cb(evutil_socket_t fd, short what, void *arg)
{
	ipc_read_some(arg, IPC_READ_CHUNK);
}

void
ipc_drain(struct ipc *ipc)
{
	if (!ipc->closed)
		ipc_read_some(ipc, 0);
}

/* The first bytes queued, with the first queued fd; as write(). */
static ssize_t
ipc_write_fd(struct ipc *ipc)
{
	char ctl[CMSG_SPACE(sizeof(int))] = { 0 };
	size_t n = evbuffer_get_length(ipc->out);
	struct msghdr mh = { 0 };
	struct cmsghdr *c;
	struct iovec iov;
	ssize_t r;

	iov.iov_len = n < 4096 ? n : 4096;
	if ((iov.iov_base = evbuffer_pullup(ipc->out, (ssize_t)iov.iov_len)) ==
	    NULL)
		return -1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl;
	mh.msg_controllen = sizeof ctl;
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &ipc->fdq[0].fd, sizeof(int));
	if ((r = sendmsg(ipc->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT)) > 0) {
		close(ipc->fdq[0].fd);
		memmove(&ipc->fdq[0], &ipc->fdq[1], --ipc->nfdq *
		    sizeof ipc->fdq[0]);
		evbuffer_drain(ipc->out, (size_t)r);
	}
	return r;
}

/* Write what the socket takes; 1 when something is left queued.  An fd
 * goes with the first byte of its frame, so bytes are written up to
 * there, then that byte with the fd. */
static int
ipc_write_some(struct ipc *ipc)
{
	ssize_t n;

	while (evbuffer_get_length(ipc->out) > 0) {
		if (ipc->nfdq > 0 && ipc->written == ipc->fdq[0].at)
			n = ipc_write_fd(ipc);
		else
			n = evbuffer_write_atmost(ipc->out, ipc->fd,
			    ipc->nfdq > 0 ? (ssize_t)(ipc->fdq[0].at -
			    ipc->written) : -1);
		if (n > 0) {
			ipc->written += (uint64_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		/* The read side sees the peer go. */
		evbuffer_drain(ipc->out, evbuffer_get_length(ipc->out));
		return 0;
	}
	if (evbuffer_get_length(ipc->out) == 0)
		return 0;
	event_add(ipc->wr, NULL);
	return 1;
}

static void
ipc_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ipc *ipc = arg;

	if (!ipc->closed && ipc_write_some(ipc) == 0 && ipc->cb.empty != NULL)
		ipc->cb.empty(ipc->ctx);
}

int
ipc_send(struct ipc *ipc, const void *body, size_t len, int droppable)
{
	unsigned char hdr[4];

	if (ipc->closed)
		return -1;
	if (droppable && evbuffer_get_length(ipc->out) > IPC_QUEUE_MAX) {
		ipc->dropped++;
		return -1;
	}
	hdr[0] = len >> 24, hdr[1] = len >> 16, hdr[2] = len >> 8, hdr[3] = len;
	if (evbuffer_expand(ipc->out, len + 4) < 0 ||
	    evbuffer_add(ipc->out, hdr, 4) < 0 ||
	    evbuffer_add(ipc->out, body, len) < 0) {
		ipc->dropped += droppable;
		return -1;
	}
	if (evbuffer_get_length(ipc->out) == len + 4)
		ipc_write_some(ipc);
	return 0;
}

int
ipc_send_fd(struct ipc *ipc, const void *body, size_t len, int fd)
{
	uint64_t at = ipc->written + evbuffer_get_length(ipc->out);
	int copy;

	if (ipc->closed || ipc->nfdq == IPC_FDS_MAX)
		return -1;
	if ((copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return -1;
	ipc->fdq[ipc->nfdq].fd = copy;
	ipc->fdq[ipc->nfdq].at = at;
	ipc->nfdq++;
	if (ipc_send(ipc, body, len, 0) < 0) {
		close(copy);
		ipc->nfdq--;
		return -1;
	}
	return 0;
}

void
ipc_accept_fds(struct ipc *ipc)
{
	ipc->accept_fds = 1;
}

int
ipc_take_fd(struct ipc *ipc)
{
	int fd;

	if (ipc->nrfds == 0)
		return -1;
	fd = ipc->rfds[0];
	memmove(&ipc->rfds[0], &ipc->rfds[1], --ipc->nrfds *
	    sizeof ipc->rfds[0]);
	return fd;
}

size_t
ipc_take_dropped(struct ipc *ipc)
{
	size_t n = ipc->dropped;

	ipc->dropped = 0;
	return n;
}

size_t
ipc_queued(const struct ipc *ipc)
{
	return evbuffer_get_length(ipc->out);
}

int
ipc_flush(struct ipc *ipc, int timeout_ms)
{
	struct pollfd pfd = { .fd = ipc->fd, .events = POLLOUT };
	int n;

	while (evbuffer_get_length(ipc->out) > 0) {
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
		if (ipc->nfdq > 0) {
			ipc_write_some(ipc);	/* fds go with their bytes */
			continue;
		}
		if ((n = evbuffer_write(ipc->out, ipc->fd)) < 0 &&
		    errno != EAGAIN && errno != EINTR)
			return -1;
		if (n > 0)
			ipc->written += (uint64_t)n;
	}
	return 0;
}

/* Exactly n bytes from a blocking fd: n, 0 at a clean end, or -1. */
static ssize_t
read_full(int fd, void *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, (char *)p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			if (got == 0)
				return 0;
			errno = EPIPE;
			return -1;
		}
		got += (size_t)r;
	}
	return (ssize_t)got;
}

ssize_t
ipc_read_frame(int fd, uint8_t **buf, size_t *cap, size_t frame_max)
{
	unsigned char hdr[4];
	uint32_t len;
	uint8_t *p;
	ssize_t r;

	if ((r = read_full(fd, hdr, 4)) <= 0)
		return r;
	len = frame_length(hdr);
	if (len == 0 || len > frame_max) {
		errno = EPROTO;
		return -1;
	}
	if (*cap < len) {
		if ((p = realloc(*buf, len)) == NULL)
			return -1;
		*buf = p;
		*cap = len;
	}
	if ((r = read_full(fd, *buf, len)) == 0)
		errno = EPIPE;
	return r <= 0 ? -1 : (ssize_t)len;
}

int
ipc_packet_send(int sock, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (fd >= 0) {
		memset(&cm, 0, sizeof cm);
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof cm.buf;
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) ==
	    (ssize_t)len ? 0 : -1;
}

ssize_t
ipc_packet_recv(int sock, void *buf, size_t cap, int *fd, int timeout_ms)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = cm.buf, .msg_controllen = sizeof cm.buf };
	struct pollfd pfd = { .fd = sock, .events = POLLIN };
	struct cmsghdr *c;
	ssize_t n;

	*fd = -1;
	if (timeout_ms >= 0 && poll(&pfd, 1, timeout_ms) <= 0) {
		errno = errno == 0 ? ETIMEDOUT : errno;
		if (pfd.revents == 0)
			errno = ETIMEDOUT;
		return -1;
	}
	if ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT)) < 0)
		return -1;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type ==
		    SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof *fd);
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		errno = EMSGSIZE;
		return -1;
	}
	return n;
}
