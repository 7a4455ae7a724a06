/*
 * listen.c: the supervisor's table of listening sockets, by loop, task,
 * address and port.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen.h"

struct listener {
	struct listener	*next;
	char		*loop, *task, *address;
	int		 port;		/* as asked: 0 picks one */
	int		 bound;		/* the port it got */
	uint64_t	 stamp;		/* when it was last asked for */
	int		 fd;
};

struct listeners {
	struct listener	*head;
	uint64_t	 clock;		/* counts asks and starts */
};

struct listeners *
listeners_new(void)
{
	return calloc(1, sizeof(struct listeners));
}

static void
listener_free(struct listener *s)
{
	if (s->fd >= 0)
		close(s->fd);
	free(s->loop);
	free(s->task);
	free(s->address);
	free(s);
}

void
listeners_free(struct listeners *ls)
{
	struct listener *s;

	if (ls == NULL)
		return;
	while ((s = ls->head) != NULL) {
		ls->head = s->next;
		listener_free(s);
	}
	free(ls);
}

int
listeners_bind(const char *address, int port, int backlog)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&ss;
	socklen_t len;
	int fd, one = 1, saved;

	if (inet_pton(AF_INET, address, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		len = sizeof *sin;
	} else if (inet_pton(AF_INET6, address, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		len = sizeof *sin6;
	} else
		return -EINVAL;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    listen(fd, backlog) < 0) {
		saved = errno;
		close(fd);
		return -saved;
	}
	return fd;
}

static int
listener_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)(void *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)(void *)&ss)->sin6_port);
}

int
listeners_get(struct listeners *ls, const char *loop, const char *task,
    const char *address, int port, int backlog)
{
	struct listener *s;
	int fd;

	for (s = ls->head; s != NULL; s = s->next)
		if ((s->port == port || s->bound == port) &&
		    strcmp(s->address, address) == 0 &&
		    strcmp(s->task, task) == 0 && strcmp(s->loop, loop) == 0) {
			/* The backlog may have changed with the config. */
			listen(s->fd, backlog);
			s->stamp = ++ls->clock;
			return s->fd;
		}
	if ((fd = listeners_bind(address, port, backlog)) < 0)
		return fd;
	if ((s = calloc(1, sizeof *s)) == NULL ||
	    (s->loop = strdup(loop)) == NULL ||
	    (s->task = strdup(task)) == NULL ||
	    (s->address = strdup(address)) == NULL) {
		if (s != NULL) {
			s->fd = -1;
			listener_free(s);
		}
		close(fd);
		return -ENOMEM;
	}
	s->port = port;
	s->bound = listener_port(fd);
	s->stamp = ++ls->clock;
	s->fd = fd;
	s->next = ls->head;
	ls->head = s;
	return fd;
}

void
listeners_prune(struct listeners *ls,
    int (*keep)(void *ctx, const char *loop, const char *task), void *ctx)
{
	struct listener *s, **pp = &ls->head;

	while ((s = *pp) != NULL) {
		if (keep(ctx, s->loop, s->task)) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		listener_free(s);
	}
}

uint64_t
listeners_now(struct listeners *ls)
{
	return ++ls->clock;
}

void
listeners_settle(struct listeners *ls, const char *loop, const char *task,
    uint64_t since)
{
	struct listener *s, **pp = &ls->head;

	while ((s = *pp) != NULL) {
		if (s->stamp > since || strcmp(s->task, task) != 0 ||
		    strcmp(s->loop, loop) != 0) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		listener_free(s);
	}
}
