/*
 * test_ipc.c: frames cross a socketpair whole; a bad frame closes the
 * channel with a reason instead of being acted on; reading is bounded per
 * turn; a full channel queues what must arrive and drops, and counts, what
 * may be dropped.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "ipc.h"
#include "unit.h"

struct seen {
	struct event_base	*base;
	int			 frames;
	int			 closed;
	int			 empty;
	char			 reason[256];
	char			 last[64];
};

static void
on_frame(void *ctx, const void *body, size_t len)
{
	struct seen *s = ctx;

	s->frames++;
	snprintf(s->last, sizeof s->last, "%.*s", (int)len,
	    (const char *)body);
}

static void
on_close(void *ctx, const char *reason)
{
	struct seen *s = ctx;

	s->closed++;
	snprintf(s->reason, sizeof s->reason, "%s", reason ? reason : "eof");
	event_base_loopbreak(s->base);
}

static void
on_empty(void *ctx)
{
	struct seen *s = ctx;

	s->empty++;
}

static const struct ipc_callbacks cbs = {
	.frame = on_frame, .closed = on_close, .empty = on_empty,
};

static struct ipc *
setup(struct seen *s, int sp[2])
{
	struct ipc *ipc;

	memset(s, 0, sizeof *s);
	s->base = event_base_new();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	ipc = ipc_new(s->base, sp[0], IPC_FRAME_MAX, &cbs, s);
	ck_assert_ptr_nonnull(ipc);
	return ipc;
}

static void
teardown(struct seen *s, struct ipc *ipc)
{
	ipc_free(ipc);
	event_base_free(s->base);
}

START_TEST(frames_round_trip)
{
	struct seen a, b;
	int sp[2], i;
	struct ipc *ia = setup(&a, sp), *ib;
	char body[32];

	b = a;
	ib = ipc_new(a.base, sp[1], IPC_FRAME_MAX, &cbs, &b);
	for (i = 0; i < 100; i++) {
		snprintf(body, sizeof body, "frame %d", i);
		ck_assert_int_eq(ipc_send(ib, body, strlen(body), 0), 0);
	}
	ipc_free(ib);		/* the peer goes: a clean end of file */
	event_base_dispatch(a.base);
	ck_assert_int_eq(a.frames, 100);
	ck_assert_str_eq(a.last, "frame 99");
	ck_assert_int_eq(a.closed, 1);
	ck_assert_str_eq(a.reason, "eof");
	teardown(&a, ia);
}
END_TEST

/* The fd each frame arrived with (ipc_take_fd() in the frame callback). */
struct fdseen {
	struct ipc		*ipc;
	struct event_base	*base;
	int			 frames;
	int			 fds[8];
	char			 bodies[8][16];
};

static void
on_fd_frame(void *ctx, const void *body, size_t len)
{
	struct fdseen *s = ctx;

	if (s->frames < 8) {
		/* Only the frame sent with an fd takes one. */
		s->fds[s->frames] = len == 4 && memcmp(body, "with", 4) == 0 ?
		    ipc_take_fd(s->ipc) : -1;
		snprintf(s->bodies[s->frames], sizeof s->bodies[0], "%.*s",
		    (int)len, (const char *)body);
	}
	s->frames++;
}

static void
on_fd_close(void *ctx, const char *reason)
{
	event_base_loopbreak(((struct fdseen *)ctx)->base);
}

/* An fd passed with a frame has arrived when that frame is dispatched;
 * frames queued before and after keep their order. */
START_TEST(fd_goes_with_its_frame)
{
	static const struct ipc_callbacks fcbs = {
		.frame = on_fd_frame, .closed = on_fd_close,
	};
	struct fdseen s = { 0 };
	struct ipc *tx;
	char buf[8];
	int sp[2], p[2];

	s.base = event_base_new();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	ck_assert_int_eq(pipe(p), 0);
	tx = ipc_new(s.base, sp[0], IPC_FRAME_MAX, &cbs, NULL);
	s.ipc = ipc_new(s.base, sp[1], IPC_FRAME_MAX, &fcbs, &s);
	ck_assert_ptr_nonnull(tx);
	ck_assert_ptr_nonnull(s.ipc);
	ipc_accept_fds(s.ipc);
	ck_assert_int_eq(ipc_send(tx, "before", 6, 0), 0);
	ck_assert_int_eq(ipc_send_fd(tx, "with", 4, p[0]), 0);
	ck_assert_int_eq(ipc_send(tx, "after", 5, 0), 0);
	close(p[0]);		/* the sender kept a copy until it was sent */
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ipc_free(tx);
	event_base_dispatch(s.base);
	ck_assert_int_eq(s.frames, 3);
	ck_assert_str_eq(s.bodies[0], "before");
	ck_assert_str_eq(s.bodies[1], "with");
	ck_assert_str_eq(s.bodies[2], "after");
	ck_assert_int_eq(s.fds[0], -1);
	ck_assert_int_ge(s.fds[1], 0);
	ck_assert_int_eq(s.fds[2], -1);
	ck_assert_int_eq(ipc_take_fd(s.ipc), -1);	/* just the one */
	ck_assert_int_eq(fcntl(s.fds[1], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(read(s.fds[1], buf, sizeof buf), 1);
	ck_assert_int_eq(buf[0], 'x');
	close(s.fds[1]);
	close(p[1]);
	ipc_free(s.ipc);
	event_base_free(s.base);
}
END_TEST

/* A side that does not accept fds closes them: nothing leaks. */
START_TEST(fd_refused_is_closed)
{
	struct seen a;
	struct ipc *ia, *tx;
	int sp[2], p[2];
	char c;

	ia = setup(&a, sp);
	ck_assert_int_eq(pipe(p), 0);
	tx = ipc_new(a.base, sp[1], IPC_FRAME_MAX, &cbs, NULL);
	ck_assert_int_eq(ipc_send_fd(tx, "with", 4, p[1]), 0);
	close(p[1]);
	ipc_free(tx);
	event_base_dispatch(a.base);
	ck_assert_int_eq(a.frames, 1);
	ck_assert_int_eq(ipc_take_fd(ia), -1);
	/* Every write end is closed: the read end sees the end of file. */
	ck_assert_int_eq(read(p[0], &c, 1), 0);
	close(p[0]);
	teardown(&a, ia);
}
END_TEST

static void
bad_frame_case(const void *bytes, size_t len, const char *want)
{
	struct seen s;
	int sp[2];
	struct ipc *ipc = setup(&s, sp);

	ck_assert_int_eq(write(sp[1], bytes, len), (ssize_t)len);
	event_base_dispatch(s.base);
	ck_assert_int_eq(s.frames, 0);
	ck_assert_int_eq(s.closed, 1);
	ck_assert_msg(strstr(s.reason, want) != NULL, "reason '%s' lacks '%s'",
	    s.reason, want);
	close(sp[1]);
	teardown(&s, ipc);
}

START_TEST(oversized_frame_closes)
{
	bad_frame_case("\x7f\xff\xff\xff{}", 6, "length");
}
END_TEST

START_TEST(just_over_limit_closes)
{
	/* IPC_FRAME_MAX + 1, big-endian */
	bad_frame_case("\x00\x10\x00\x01xx", 6, "length");
}
END_TEST

START_TEST(empty_frame_closes)
{
	bad_frame_case("\0\0\0\0", 4, "length");
}
END_TEST

START_TEST(drain_reads_without_loop)
{
	struct seen s;
	int sp[2];
	struct ipc *ipc = setup(&s, sp);
	const char frame[] = "\0\0\0\x03log";

	ck_assert_int_eq(write(sp[1], frame, sizeof frame - 1),
	    (ssize_t)(sizeof frame - 1));
	ipc_drain(ipc);
	ck_assert_int_eq(s.frames, 1);
	ck_assert_str_eq(s.last, "log");
	close(sp[1]);
	teardown(&s, ipc);
}
END_TEST

#define FLOOD_BODY	4096

/* Fill fd with frames until the kernel takes no more. */
static int
flood(int fd)
{
	static char frame[4 + FLOOD_BODY] = { 0, 0, FLOOD_BODY >> 8, 0 };
	int n = 0, size = 1024 * 1024;

	memset(frame + 4, 'x', FLOOD_BODY);
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (write(fd, frame, sizeof frame) == (ssize_t)sizeof frame)
		n++;
	return n;
}

START_TEST(reads_are_bounded_per_turn)
{
	struct seen chatty, quiet;
	int a[2], b[2], sent;
	struct ipc *ia = setup(&chatty, a), *ib;

	quiet = chatty;
	memset(&quiet, 0, sizeof quiet);
	quiet.base = chatty.base;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	ib = ipc_new(chatty.base, b[0], IPC_FRAME_MAX, &cbs, &quiet);
	sent = flood(a[1]);
	ck_assert_int_gt(sent * FLOOD_BODY, IPC_READ_CHUNK * 2);
	ck_assert_int_eq(write(b[1], "\0\0\0\x05quiet", 9), 9);
	event_base_loop(chatty.base, EVLOOP_ONCE);
	/* One turn: the quiet peer is heard, the chatty one only in part. */
	ck_assert_int_eq(quiet.frames, 1);
	ck_assert_int_gt(chatty.frames, 0);
	ck_assert_int_lt(chatty.frames, sent);
	while (chatty.frames < sent)
		event_base_loop(chatty.base, EVLOOP_ONCE);
	ck_assert_int_eq(chatty.frames, sent);
	close(a[1]);
	close(b[1]);
	ipc_free(ib);
	teardown(&chatty, ia);
}
END_TEST

START_TEST(full_channel_queues_or_drops)
{
	struct seen w, r;
	int sp[2], i, sent = 0, dropped = 0, must = 0;
	struct ipc *writer = setup(&w, sp), *reader;
	char body[1000];

	memset(body, 'y', sizeof body);
	/* Nobody reads: the socket fills, then the queue, then droppable
	 * frames are dropped while the others still queue. */
	for (i = 0; i < 8000; i++) {
		if (ipc_send(writer, body, sizeof body, 1) == 0)
			sent++;
		else
			dropped++;
		if (i % 100 == 0) {
			ck_assert_int_eq(ipc_send(writer, "must", 4, 0), 0);
			must++;
		}
	}
	ck_assert_int_gt(dropped, 0);
	ck_assert_int_gt(ipc_queued(writer), IPC_QUEUE_MAX);
	ck_assert_int_eq(ipc_take_dropped(writer), (size_t)dropped);
	ck_assert_int_eq(ipc_take_dropped(writer), 0);
	ck_assert_int_eq(w.empty, 0);
	memset(&r, 0, sizeof r);
	r.base = w.base;
	reader = ipc_new(w.base, sp[1], IPC_FRAME_MAX, &cbs, &r);
	while (r.frames < sent + must)
		event_base_loop(w.base, EVLOOP_ONCE);
	ck_assert_int_eq(r.frames, sent + must);
	ck_assert_int_eq(ipc_queued(writer), 0);
	ck_assert_int_eq(w.empty, 1);	/* told once the queue emptied */
	ipc_free(reader);
	teardown(&w, writer);
}
END_TEST

START_TEST(blocking_read_frame)
{
	int sp[2];
	uint8_t *buf = NULL;
	size_t cap = 0;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	ck_assert_int_eq(write(sp[1], "\0\0\0\x02hi\0\0\0\x09", 10), 10);
	ck_assert_int_eq(ipc_read_frame(sp[0], &buf, &cap, 8), 2);
	ck_assert_int_eq(memcmp(buf, "hi", 2), 0);
	/* 9 bytes is over the limit of 8 */
	ck_assert_int_eq(ipc_read_frame(sp[0], &buf, &cap, 8), -1);
	ck_assert_int_eq(errno, EPROTO);
	close(sp[1]);
	ck_assert_int_eq(ipc_read_frame(sp[0], &buf, &cap, 8), 0);
	close(sp[0]);
	free(buf);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ipc");
	TCase *tc = tcase_create("frames");

	tcase_add_test(tc, frames_round_trip);
	tcase_add_test(tc, oversized_frame_closes);
	tcase_add_test(tc, just_over_limit_closes);
	tcase_add_test(tc, empty_frame_closes);
	tcase_add_test(tc, drain_reads_without_loop);
	tcase_add_test(tc, reads_are_bounded_per_turn);
	tcase_add_test(tc, full_channel_queues_or_drops);
	tcase_add_test(tc, blocking_read_frame);
	tcase_add_test(tc, fd_goes_with_its_frame);
	tcase_add_test(tc, fd_refused_is_closed);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
