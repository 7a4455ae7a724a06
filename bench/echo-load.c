/*
 * echo-load: the closed-loop TCP echo load generator of bench/run-echo.sh
 * (pipelining depth 1).
 *
 *   echo-load HOST PORT CONNS SIZE SECONDS
 *
 * Opens CONNS connections.  On each one it writes a SIZE-byte message, waits
 * until the same SIZE bytes have come back, checks them, and writes the next.
 * It stops by itself after SECONDS (at most 3600; an alarm kills it 30 s
 * later whatever happens) and prints one line:
 *
 *   conns= size= secs= requests= rps= mb_s= p50_us= p99_us= cli_cpu= errors=
 *
 * mb_s is echoed payload per second (10^6 bytes, one direction); latency is
 * the round trip of one message, in a 0.1 us histogram capped at 100 ms;
 * cli_cpu is this load generator's own CPU use (1.00 = one core busy): near
 * 1.00, the client rather than the server may be the bottleneck.
 * Exit status 1 when any connection failed or returned wrong bytes.
 */
#include "common.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#define BUCKET_NS 100
#define NBUCKETS  1000000

struct conn {
	int fd, wants_out;
	size_t sent, got;   /* bytes of the current message written / read back */
	uint64_t t0;        /* when the current message was started */
	char *out, *in;
};

static size_t size;
static uint32_t *hist;
static uint64_t requests, errors;
static int epfd, live;

static void
conn_fail(struct conn *c)
{
	errors++;
	live--;
	epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

static void
watch_out(struct conn *c, int on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c };
	if (c->wants_out != on && epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->wants_out = on;
}

static void
pump_out(struct conn *c)
{
	while (c->sent < size) {
		ssize_t n = write(c->fd, c->out + c->sent, size - c->sent);
		if (n > 0)
			c->sent += n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && errno == EAGAIN)
			break;
		else {
			conn_fail(c);
			return;
		}
	}
	watch_out(c, c->sent < size);
}

static void
start_msg(struct conn *c, uint64_t now)
{
	c->sent = c->got = 0;
	c->t0 = now;
	c->out[0]++;                /* new content each time: stale bytes show */
	pump_out(c);
}

static void
pump_in(struct conn *c)
{
	while (c->got < size) {
		ssize_t n = read(c->fd, c->in + c->got, size - c->got);
		if (n > 0)
			c->got += n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && errno == EAGAIN)
			return;
		else {
			conn_fail(c);   /* EOF or error */
			return;
		}
	}
	uint64_t now = now_ns();
	if (memcmp(c->in, c->out, size) != 0) {
		errors++;
	} else {
		uint64_t b = (now - c->t0) / BUCKET_NS;
		hist[b < NBUCKETS ? b : NBUCKETS - 1]++;
		requests++;
	}
	start_msg(c, now);
}

/* Nearest-rank percentile, in microseconds (bucket middle). */
static double
percentile(double p)
{
	uint64_t rank = (uint64_t)(p * requests + 0.999999), seen = 0;
	for (size_t b = 0; b < NBUCKETS && requests; b++)
		if ((seen += hist[b]) >= (rank ? rank : 1))
			return (b + 0.5) * BUCKET_NS / 1000.0;
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 6)
		die("usage: echo-load HOST PORT CONNS SIZE SECONDS");
	int port = arg_num(argv[2], "PORT", 1, 65535);
	int nconn = arg_num(argv[3], "CONNS", 1, 10000);
	size = arg_num(argv[4], "SIZE", 1, 1 << 24);
	double secs = arg_num(argv[5], "SECONDS", 0.1, 3600);

	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		die("bad HOST '%s': want an IPv4 address such as 127.0.0.1", argv[1]);
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)secs + 30);
	hist = calloc(NBUCKETS, sizeof *hist);
	struct conn *conns = calloc(nconn, sizeof *conns);
	if ((epfd = epoll_create1(0)) < 0 || !hist || !conns)
		die("echo-load: out of resources: %s", strerror(errno));

	for (int i = 0; i < nconn; i++) {
		struct conn *c = &conns[i];
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
			die("echo-load: connect %s:%d (connection %d): %s", argv[1], port, i + 1,
			    strerror(errno));
		set_nodelay(c->fd);
		fcntl(c->fd, F_SETFL, O_NONBLOCK);
		c->out = malloc(size);
		c->in = malloc(size);
		if (!c->out || !c->in)
			die("echo-load: out of memory");
		for (size_t j = 0; j < size; j++)
			c->out[j] = (char)('a' + (i + j) % 26);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
		epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
		live++;
	}

	uint64_t start = now_ns(), end = start + (uint64_t)(secs * 1e9), now;
	for (int i = 0; i < nconn; i++)
		start_msg(&conns[i], start);
	struct epoll_event evs[256];
	while (live > 0 && (now = now_ns()) < end) {
		int n = epoll_wait(epfd, evs, 256, (int)((end - now + 999999) / 1000000));
		if (n < 0 && errno != EINTR)
			die("echo-load: epoll_wait: %s", strerror(errno));
		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			if (c->fd >= 0 && (evs[k].events & EPOLLOUT))
				pump_out(c);
			if (c->fd >= 0 && (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				pump_in(c);
		}
	}
	double el = (now_ns() - start) / 1e9;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		     (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	printf("conns=%d size=%zu secs=%.2f requests=%llu rps=%.0f mb_s=%.2f p50_us=%.1f "
	       "p99_us=%.1f cli_cpu=%.2f errors=%llu\n", nconn, size, el,
	       (unsigned long long)requests, requests / el, requests * (double)size / el / 1e6,
	       percentile(0.50), percentile(0.99), cpu / el, (unsigned long long)errors);
	return errors ? 1 : 0;
}
