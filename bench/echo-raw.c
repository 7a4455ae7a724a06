/*
 * echo-raw: the raw libevent echo server that bench/run-echo.sh measures
 * loopd's echo plugin against.  A TCP echo server on 127.0.0.1:PORT with
 * libevent's core only: event_new/event_add with EV_READ|EV_PERSIST on
 * each socket and plain read()/write(), the cheapest way to echo on a
 * libevent loop.  SIGTERM or SIGINT stops it.
 *
 *   echo-raw PORT
 *
 * A reply the socket does not take at once is kept, reading stops, and an
 * EV_WRITE event finishes it (back-pressure for peers that do not read).
 */
#include "common.h"
#include <event2/event.h>
#include <signal.h>
#include <unistd.h>

struct conn {
	int fd;
	struct event *rd, *wr;
	char *pend;             /* unsent tail of a reply, or NULL */
	size_t plen;
};

static char buf[65536];

static void
conn_free(struct conn *c)
{
	event_free(c->rd);
	event_free(c->wr);
	close(c->fd);
	free(c->pend);
	free(c);
}

/* Write p[0..n); keep what the socket refuses and wait for EV_WRITE. */
static int
send_or_keep(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(c->fd, p, n);
		if (w > 0) {
			p += w;
			n -= w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && errno == EAGAIN) {
			break;
		} else {
			return -1;
		}
	}
	if (n > 0) {
		if (!(c->pend = malloc(n)))
			return -1;
		memcpy(c->pend, p, n);
		c->plen = n;
		event_del(c->rd);
		event_add(c->wr, NULL);
	}
	return 0;
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	ssize_t n = read(fd, buf, sizeof buf);
	(void)what;
	if (n > 0) {
		if (send_or_keep(c, buf, n) < 0)
			conn_free(c);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		conn_free(c);   /* EOF or error */
	}
}

static void
on_write(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char *p = c->pend;
	(void)fd, (void)what;
	c->pend = NULL;
	int r = send_or_keep(c, p, c->plen);
	free(p);
	if (r < 0)
		conn_free(c);
	else if (!c->pend)
		event_add(c->rd, NULL);
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct event_base *base = arg;
	int fd;
	(void)what;
	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct conn *c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			continue;
		}
		set_nodelay(fd);
		c->fd = fd;
		c->rd = event_new(base, fd, EV_READ | EV_PERSIST, on_read, c);
		c->wr = event_new(base, fd, EV_WRITE, on_write, c);
		event_add(c->rd, NULL);
	}
}

static void
on_signal(evutil_socket_t sig, short what, void *base)
{
	(void)sig, (void)what;
	event_base_loopbreak(base);
}

int
main(int argc, char **argv)
{
	if (argc != 2)
		die("usage: echo-raw PORT");
	int port = arg_num(argv[1], "PORT", 1, 65535);
	signal(SIGPIPE, SIG_IGN);
	struct event_base *base = event_base_new();
	if (!base)
		die("echo-raw: cannot create an event base");
	struct event *lev = event_new(base, listen_loopback(port), EV_READ | EV_PERSIST,
				      on_accept, base);
	struct event *term = evsignal_new(base, SIGTERM, on_signal, base);
	struct event *intr = evsignal_new(base, SIGINT, on_signal, base);
	event_add(lev, NULL);
	event_add(term, NULL);
	event_add(intr, NULL);
	fprintf(stderr, "echo-raw: listening on 127.0.0.1:%d (%s backend)\n", port,
		event_base_get_method(base));
	event_base_dispatch(base);
	close(event_get_fd(lev));
	event_free(lev);
	event_free(term);
	event_free(intr);
	event_base_free(base);
	return 0;
}
