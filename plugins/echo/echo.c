/*
 * echo: a TCP echo server, as a loopd plugin.
 *
 *   config:
 *     address: 127.0.0.1   # IPv4 address to listen on
 *     port: 7000           # 0 picks a free port (logged)
 *     backlog: 128
 *     listen_fd: echo      # socket activation: serve the socket systemd
 *                          # passed with this name, instead of binding
 *
 * Each connection is one fd watch.  Bytes are read into one buffer per
 * task and written straight back; only what the socket refuses is kept,
 * and reading pauses until it has gone out.  Cancelling closes the
 * listener and every connection.
 *
 * When accept() fails for lack of descriptors or memory, the connection
 * stays in the listen queue and the listener stays readable: retrying at
 * once would spin.  Accepting pauses instead, and resumes on a timer; the
 * first failure of such an episode is logged, and its end.
 *
 * A reload that changes only the backlog is applied in place (listen()
 * again on the same socket); a new address or port needs a new socket,
 * so the task asks for a restart.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <loopd/plugin.h>

#define ECHO_RETRY_MS	200	/* accept() again after running out */

struct conn {
	struct conn	*next;
	struct conn	**prevp;
	struct echo	*echo;
	loopd_watch	*watch;
	char		*pend;		/* unsent tail of a reply */
	size_t		 plen;
};

struct echo {
	loopd_watch	*listener;
	int		 lfd;		/* the listener's fd, owned by its watch */
	struct sockaddr_in bound;	/* as configured (port 0 stays 0) */
	int64_t		 backlog;
	loopd_timer	*retry;		/* set while accepting is paused */
	int		 starved;	/* accept() ran out; logged once */
	struct conn	*conns;
	size_t		 nconns;
	char		 buf[65536];
};

static void
conn_free(struct conn *c)
{
	if ((*c->prevp = c->next) != NULL)
		c->next->prevp = c->prevp;
	c->echo->nconns--;
	free(c->pend);
	free(c);
}

static void
conn_close(struct conn *c)
{
	loopd_watch_cancel(c->watch);	/* closes the fd */
	conn_free(c);
}

/* Send p[0..n); keep what the socket refuses and wait until it can take
 * more.  Returns -1 when the connection is broken. */
static int
conn_send(struct conn *c, int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break;
		} else
			return -1;
	}
	if (n == 0)
		return 0;
	if ((c->pend = malloc(n)) == NULL)
		return -1;
	memcpy(c->pend, p, n);
	c->plen = n;
	return loopd_watch_set(c->watch, LOOPD_WRITE) < 0 ? -1 : 0;
}

static void
conn_ready(loopd_task *t, int fd, int events, void *arg)
{
	struct conn *c = arg;
	char *p;
	ssize_t n;
	int rc;

	if (c->pend != NULL) {
		p = c->pend;
		c->pend = NULL;
		rc = conn_send(c, fd, p, c->plen);
		free(p);
		if (rc < 0)
			conn_close(c);
		else if (c->pend == NULL)
			loopd_watch_set(c->watch, LOOPD_READ);
		return;
	}
	n = read(fd, c->echo->buf, sizeof c->echo->buf);
	if (n > 0) {
		if (conn_send(c, fd, c->echo->buf, (size_t)n) < 0)
			conn_close(c);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR))
		conn_close(c);		/* end of file or error */
}

static void
echo_resume(loopd_task *t, void *arg)
{
	struct echo *e = arg;

	e->retry = NULL;	/* a one-shot timer releases itself */
	loopd_watch_set(e->listener, LOOPD_READ);
}

/* accept() failed with err for lack of resources: stop trying for a while. */
static void
echo_pause(loopd_task *t, struct echo *e, int err)
{
	if (!e->starved)
		loopd_log(t, LOOPD_LOG_WARNING, "accept: %s: pausing new "
		    "connections, retrying every %d ms", strerror(err),
		    ECHO_RETRY_MS);
	e->starved = 1;
	if (e->retry != NULL)
		return;
	if ((e->retry = loopd_timer_start(t, ECHO_RETRY_MS, 0, echo_resume,
	    e)) != NULL)
		loopd_watch_set(e->listener, 0);
}

static void
echo_accept(loopd_task *t, int lfd, int events, void *arg)
{
	struct echo *e = arg;
	struct conn *c;
	int fd, one = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >=
	    0) {
		if (e->starved) {
			loopd_log(t, LOOPD_LOG_INFO, "accepting new "
			    "connections again");
			e->starved = 0;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if ((c = calloc(1, sizeof *c)) == NULL) {
			close(fd);
			continue;
		}
		c->echo = e;
		c->watch = loopd_watch_fd(t, fd, LOOPD_READ | LOOPD_WATCH_CLOSE,
		    conn_ready, c);
		if (c->watch == NULL) {
			close(fd);
			free(c);
			continue;
		}
		if ((c->next = e->conns) != NULL)
			e->conns->prevp = &c->next;
		c->prevp = &e->conns;
		e->conns = c;
		e->nconns++;
	}
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
	    errno == ENOMEM)
		echo_pause(t, e, errno);
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
	    errno != ECONNABORTED)
		loopd_log(t, LOOPD_LOG_WARNING, "accept: %s", strerror(errno));
}

/* The socket systemd bound for us (socket activation), or -1. */
static int
echo_passed(loopd_task *t, const char *name)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	char addr[INET_ADDRSTRLEN] = "?";
	int fd;

	if ((fd = loopd_listen_fd(t, name)) < 0) {
		loopd_task_fail(t, "config", "listen_fd: no socket named '%s' "
		    "was passed to loopd (socket activation: "
		    "FileDescriptorName=%s in the .socket unit)", name, name);
		return -1;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		loopd_task_fail(t, "io", "listen_fd '%s': %s", name,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (sa.sin_family == AF_INET)
		inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof addr);
	loopd_log(t, LOOPD_LOG_INFO, "listening on %s:%u (socket '%s' passed "
	    "by systemd)", addr, ntohs(sa.sin_port), name);
	return fd;
}

/* The address, port and backlog args ask for, in *sa and *backlog;
 * -1 with why set when they are wrong. */
static int
echo_settings(const loopd_args *args, struct sockaddr_in *sa,
    int64_t *backlog, char *why, size_t len)
{
	const char *address = loopd_args_string(args, "address", "127.0.0.1");
	int64_t port = loopd_args_int(args, "port", 7000);

	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	*backlog = loopd_args_int(args, "backlog", 128);
	if (*backlog < 1 || *backlog > 65535)
		*backlog = 128;
	if (port < 0 || port > 65535) {
		snprintf(why, len, "port %lld is out of range (0 to 65535)",
		    (long long)port);
		return -1;
	}
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, address, &sa->sin_addr) != 1) {
		snprintf(why, len, "address '%s' is not an IPv4 address",
		    address);
		return -1;
	}
	return 0;
}

static int
echo_listen(loopd_task *t, const loopd_args *args, struct sockaddr_in *conf,
    int64_t *backlogp)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	const char *address = loopd_args_string(args, "address", "127.0.0.1");
	int64_t port = loopd_args_int(args, "port", 7000), backlog;
	const char *passed = loopd_args_string(args, "listen_fd", NULL);
	char why[160];
	int fd;

	if (echo_settings(args, &sa, &backlog, why, sizeof why) < 0) {
		if (!loopd_task_ending(t))
			loopd_task_fail(t, "config", "%s", why);
		return -1;
	}
	if (loopd_task_ending(t))
		return -1;	/* a bad value: the getter said which */
	*conf = sa;
	*backlogp = backlog;
	if (passed != NULL)
		return echo_passed(t, passed);
	/* loopd binds it and keeps it: a restarted echo (a new .so, a
	 * reload) gets the same socket, and no connection is refused. */
	if ((fd = loopd_listen_tcp(t, address, (int)port, (int)backlog)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		loopd_task_fail(t, "io", "cannot listen on %s:%lld: %s",
		    address, (long long)port, fd == -LOOPD_ESYS || fd >= 0 ?
		    strerror(errno) : loopd_strerror(fd));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	loopd_log(t, LOOPD_LOG_INFO, "listening on %s:%u", address,
	    ntohs(sa.sin_port));
	return fd;
}

static int
echo_start(loopd_task *t, const loopd_args *args, void **state)
{
	struct sockaddr_in conf;
	struct echo *e;
	int64_t backlog;
	int fd;

	if ((fd = echo_listen(t, args, &conf, &backlog)) < 0)
		return -1;
	if ((e = calloc(1, sizeof *e)) == NULL) {
		close(fd);
		loopd_task_fail(t, "resource", "out of memory");
		return -1;
	}
	*state = e;
	e->lfd = fd;
	e->bound = conf;
	e->backlog = backlog;
	e->listener = loopd_watch_fd(t, fd, LOOPD_READ | LOOPD_WATCH_CLOSE,
	    echo_accept, e);
	if (e->listener == NULL) {
		close(fd);
		loopd_task_fail(t, "resource", "cannot watch the listener");
		return -1;
	}
	return 0;
}

/* A new backlog in place; a new address or port asks for a restart. */
static int
echo_reconfigure(loopd_task *t, void *state, const loopd_args *args)
{
	struct echo *e = state;
	struct sockaddr_in sa;
	int64_t backlog;
	char why[160];

	if (echo_settings(args, &sa, &backlog, why, sizeof why) < 0 ||
	    sa.sin_addr.s_addr != e->bound.sin_addr.s_addr ||
	    sa.sin_port != e->bound.sin_port)
		return 1;
	if (backlog != e->backlog) {
		if (listen(e->lfd, (int)backlog) < 0)
			return 1;
		e->backlog = backlog;
		loopd_log(t, LOOPD_LOG_INFO, "backlog %lld",
		    (long long)backlog);
	}
	return 0;
}

static void
echo_cancel(loopd_task *t, void *state)
{
	struct echo *e = state;

	loopd_log(t, LOOPD_LOG_INFO, "closing the listener and %zu "
	    "connections", e->nconns);
	loopd_task_done(t);	/* releases every watch: all fds close */
}

static void
echo_stop(void *state)
{
	struct echo *e = state;

	if (e == NULL)
		return;
	while (e->conns != NULL)
		conn_free(e->conns);
	free(e);
}

LOOPD_PLUGIN(
	.name = "echo",
	.version = "1.0",
	.description = "TCP echo server",
	.start = echo_start,
	.cancel = echo_cancel,
	.stop = echo_stop,
	.reconfigure = echo_reconfigure,
);
