/*
 * test_ipc.c: frames cross a socketpair whole, and a bad frame closes the
 * channel with a reason instead of being acted on.
 */
#include <check.h>
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
	char			 reason[256];
	json_t			*last;
};

static void
on_frame(void *ctx, json_t *msg)
{
	struct seen *s = ctx;

	s->frames++;
	json_decref(s->last);
	s->last = json_incref(msg);
}

static void
on_close(void *ctx, const char *reason)
{
	struct seen *s = ctx;

	s->closed++;
	snprintf(s->reason, sizeof s->reason, "%s", reason ? reason : "eof");
	event_base_loopbreak(s->base);
}

static struct ipc *
setup(struct seen *s, int sp[2])
{
	struct ipc *ipc;

	memset(s, 0, sizeof *s);
	s->base = event_base_new();
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	ipc = ipc_new(s->base, sp[0], on_frame, on_close, s);
	ck_assert_ptr_nonnull(ipc);
	return ipc;
}

static void
teardown(struct seen *s, struct ipc *ipc)
{
	ipc_free(ipc);
	json_decref(s->last);
	event_base_free(s->base);
}

START_TEST(frames_round_trip)
{
	struct seen a, b;
	int sp[2], i;
	struct ipc *ia = setup(&a, sp), *ib;
	json_t *m;

	b = a;
	b.frames = 0;
	ib = ipc_new(a.base, sp[1], on_frame, on_close, &b);
	for (i = 0; i < 100; i++) {
		m = json_pack("{s:s, s:i, s:s}", "type", "state", "n", i,
		    "text", "quote \" newline \n");
		ck_assert_int_eq(ipc_send(ib, m, 0), 0);
		json_decref(m);
	}
	ipc_free(ib);		/* the peer goes: a clean end of file */
	event_base_dispatch(a.base);
	ck_assert_int_eq(a.frames, 100);
	ck_assert_int_eq(json_integer_value(json_object_get(a.last, "n")), 99);
	ck_assert_int_eq(a.closed, 1);
	ck_assert_str_eq(a.reason, "eof");
	json_decref(b.last);
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

START_TEST(empty_frame_closes)
{
	bad_frame_case("\0\0\0\0", 4, "length");
}
END_TEST

START_TEST(invalid_json_closes)
{
	bad_frame_case("\0\0\0\x05{oops", 9, "bad frame");
}
END_TEST

START_TEST(frame_without_type_closes)
{
	bad_frame_case("\0\0\0\x08{\"a\":1 }", 12, "type");
}
END_TEST

START_TEST(drain_reads_without_loop)
{
	struct seen s;
	int sp[2];
	struct ipc *ipc = setup(&s, sp);
	const char frame[] = "\0\0\0\x0e{\"type\":\"log\"}";

	ck_assert_int_eq(write(sp[1], frame, sizeof frame - 1),
	    (ssize_t)(sizeof frame - 1));
	ipc_drain(ipc);
	ck_assert_int_eq(s.frames, 1);
	close(sp[1]);
	teardown(&s, ipc);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ipc");
	TCase *tc = tcase_create("frames");

	tcase_add_test(tc, frames_round_trip);
	tcase_add_test(tc, oversized_frame_closes);
	tcase_add_test(tc, empty_frame_closes);
	tcase_add_test(tc, invalid_json_closes);
	tcase_add_test(tc, frame_without_type_closes);
	tcase_add_test(tc, drain_reads_without_loop);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
