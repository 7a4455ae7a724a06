/*
 * test_log.c: log records are one valid JSON object per line, whatever
 * bytes a plugin puts in them; a text line is one line; an output that
 * does not keep up costs records, never a blocked process, and every
 * record is either written whole or counted in a drop notice.
 */
#include <sys/socket.h>
#include <sys/wait.h>

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "unit.h"

/* A sink that keeps the last record it saw. */
static void
keep_sink(void *ctx, json_t *r)
{
	json_t **last = ctx;

	json_decref(*last);
	*last = json_incref(r);
}

START_TEST(record_has_required_fields)
{
	json_t *last = NULL;
	const char *ts;

	log_set_level(LOOPD_LOG_INFO);
	log_set_sink(keep_sink, &last);
	log_emit(log_record(LOOPD_LOG_WARNING, "hello %d", 42));
	ck_assert_ptr_nonnull(last);
	ck_assert_str_eq(json_string_value(json_object_get(last, "msg")),
	    "hello 42");
	ck_assert_str_eq(json_string_value(json_object_get(last, "level")),
	    "warning");
	ck_assert_int_eq(json_integer_value(json_object_get(last, "pid")),
	    getpid());
	ts = json_string_value(json_object_get(last, "ts"));
	/* 2026-11-25T10:28:56.123456Z */
	ck_assert_uint_eq(strlen(ts), 27);
	ck_assert_int_eq(ts[10], 'T');
	ck_assert_int_eq(ts[19], '.');
	ck_assert_int_eq(ts[26], 'Z');
	json_decref(last);
	log_set_sink(NULL, NULL);
}
END_TEST

START_TEST(below_level_is_dropped)
{
	log_set_level(LOOPD_LOG_WARNING);
	json_t *r;

	ck_assert_ptr_null(log_record(LOOPD_LOG_INFO, "quiet"));
	ck_assert_ptr_nonnull(r = log_record(LOOPD_LOG_ERROR, "loud"));
	json_decref(r);
	log_set_level(LOOPD_LOG_INFO);
}
END_TEST

START_TEST(invalid_utf8_is_replaced)
{
	json_t *s = log_string("a\xff" "b\xc3(c\xe2\x82\xac\xf0\x9f\x98\x80"
	    "\xed\xa0\x80");

	ck_assert_ptr_nonnull(s);
	ck_assert_str_eq(json_string_value(s), "a\xef\xbf\xbd" "b\xef\xbf\xbd"
	    "(c\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd\xef\xbf\xbd"
	    "\xef\xbf\xbd");
	json_decref(s);
}
END_TEST

/* Emit r (stolen) through the real stderr writer, pointed at a pipe, and
 * return what was written, which must be exactly one line. */
static void
emit_captured(json_t *r, char *buf, size_t len)
{
	int p[2];
	ssize_t n;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(log_set_fd(p[1]), 0);
	log_emit(r);
	log_set_fd(STDERR_FILENO);
	close(p[1]);
	n = read(p[0], buf, len - 1);
	close(p[0]);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_ptr_eq(strchr(buf, '\n'), buf + n - 1);
}

START_TEST(stderr_line_is_one_json_object)
{
	char buf[4096];
	json_t *r;
	json_error_t err;

	r = log_record(LOOPD_LOG_ERROR, "bad \"thing\"\nline two \xfe\t");
	log_add(r, "task", "t\x01\x80");
	log_add_error(r, "io", "it \"broke\"\n");
	emit_captured(r, buf, sizeof buf);
	r = json_loads(buf, 0, &err);
	ck_assert_msg(r != NULL, "not JSON: %s: %s", err.text, buf);
	ck_assert_str_eq(json_string_value(json_object_get(r, "msg")),
	    "bad \"thing\"\nline two \xef\xbf\xbd\t");
	ck_assert_str_eq(json_string_value(json_object_get(
	    json_object_get(r, "error"), "message")), "it \"broke\"\n");
	json_decref(r);
}
END_TEST

START_TEST(text_format_is_one_line)
{
	char buf[4096];
	json_t *r;

	log_set_format(LOG_FORMAT_TEXT);
	r = log_record(LOOPD_LOG_INFO, "started");
	log_add(r, "loop", "net");
	log_add(r, "task", "two words");
	emit_captured(r, buf, sizeof buf);
	log_set_format(LOG_FORMAT_JSON);
	ck_assert_ptr_nonnull(strstr(buf, " info started "));
	ck_assert_ptr_nonnull(strstr(buf, " loop=net"));
	ck_assert_ptr_nonnull(strstr(buf, " task=\"two words\""));
}
END_TEST

START_TEST(text_format_escapes_controls)
{
	char buf[4096];
	json_t *r;

	log_set_format(LOG_FORMAT_TEXT);
	r = log_record(LOOPD_LOG_INFO, "x\nlevel=error forged\t\\\r\x01\x7f");
	log_add(r, "task", "a\nb");
	log_add(r, "plugin", "c\\d");
	log_add(r, "loop", "e\rf");
	emit_captured(r, buf, sizeof buf);
	log_set_format(LOG_FORMAT_JSON);
	ck_assert_ptr_nonnull(strstr(buf,
	    " info x\\nlevel=error forged\\t\\\\\\r\\u0001\\u007f "));
	ck_assert_ptr_nonnull(strstr(buf, " task=\"a\\nb\""));
	ck_assert_ptr_nonnull(strstr(buf, " plugin=\"c\\\\d\""));
	ck_assert_ptr_nonnull(strstr(buf, " loop=\"e\\rf\""));
}
END_TEST

/*
 * The reading end of the writer's output: whole lines only, each a JSON
 * record; records "rec N" are tallied by N, drop notices summed.
 */
#define PER	4096		/* 4 MiB of 1 KiB lines: 4 times the queue */
#define NREC	(3 * PER)

struct reader {
	int		 fd;
	char		*buf;
	size_t		 len, cap;
	unsigned	 seen[NREC];
	size_t		 nseen;		/* "rec N" lines */
	size_t		 dropped;	/* sum of log_dropped's "dropped" */
	size_t		 notices;
	size_t		 other;		/* lines with another msg */
};

static void
reader_line(struct reader *rd, const char *line, size_t len)
{
	json_error_t err;
	json_t *r = json_loadb(line, len, 0, &err);
	const char *msg, *ev;
	unsigned n;

	ck_assert_msg(r != NULL, "not a whole JSON line: %s: %.*s", err.text,
	    (int)(len > 200 ? 200 : len), line);
	msg = json_string_value(json_object_get(r, "msg"));
	ev = json_string_value(json_object_get(r, "event"));
	if (ev != NULL && strcmp(ev, "log_dropped") == 0) {
		ck_assert_int_gt(json_integer_value(json_object_get(r,
		    "dropped")), 0);
		rd->dropped += (size_t)json_integer_value(json_object_get(r,
		    "dropped"));
		rd->notices++;
	} else if (msg != NULL && sscanf(msg, "rec %u", &n) == 1 &&
	    n < NREC) {
		rd->seen[n]++;
		ck_assert_msg(rd->seen[n] == 1, "rec %u written twice", n);
		rd->nseen++;
	} else
		rd->other++;
	json_decref(r);
}

/* Read whatever is there now; the number of bytes read. */
static size_t
reader_poll(struct reader *rd)
{
	size_t total = 0, i, start;
	ssize_t n;

	for (;;) {
		if (rd->cap - rd->len < 65536) {
			rd->cap = rd->cap * 2 + 65536;
			ck_assert_ptr_nonnull(rd->buf = realloc(rd->buf,
			    rd->cap));
		}
		n = read(rd->fd, rd->buf + rd->len, rd->cap - rd->len);
		if (n <= 0)
			break;
		start = 0;
		for (i = rd->len; i < rd->len + (size_t)n; i++) {
			if (rd->buf[i] != '\n')
				continue;
			reader_line(rd, rd->buf + start, i - start);
			start = i + 1;
		}
		rd->len += (size_t)n;
		memmove(rd->buf, rd->buf + start, rd->len - start);
		rd->len -= start;
		total += (size_t)n;
	}
	return total;
}

/* A socketpair or a pipe: [0] is read here (non-blocking), [1] written
 * by the log writer. */
static void
reader_open(struct reader *rd, int use_pipe, int *wfd)
{
	int p[2];

	memset(rd, 0, sizeof *rd);
	if (use_pipe)
		ck_assert_int_eq(pipe(p), 0);
	else
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
	ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	rd->fd = p[0];
	*wfd = p[1];
	ck_assert_int_eq(log_set_fd(p[1]), 0);
	/* The writer's own description of a pipe is non-blocking; the
	 * pipe's shared one is left as it was. */
	ck_assert_int_eq(fcntl(p[1], F_GETFL) & O_NONBLOCK, 0);
}

static void
reader_close(struct reader *rd, int wfd)
{
	log_set_fd(STDERR_FILENO);
	close(wfd);
	close(rd->fd);
	free(rd->buf);
}

/* Log "rec first" .. "rec first+n-1", with a field of pad bytes. */
static void
emit_padded(unsigned first, unsigned n, size_t pad)
{
	char *p = malloc(pad + 1);
	json_t *r;
	unsigned i;

	ck_assert_ptr_nonnull(p);
	memset(p, 'x', pad);
	p[pad] = '\0';
	for (i = first; i < first + n; i++) {
		r = log_record(LOOPD_LOG_INFO, "rec %u", i);
		log_add(r, "pad", p);
		log_emit(r);
	}
	free(p);
}

/* Log "rec first" .. "rec first+n-1", each a line of about 1 KiB. */
static void
emit_records(unsigned first, unsigned n)
{
	emit_padded(first, n, 1000);
}

/* Read until the writer, driven by base, has nothing left to write. */
static void
drain_with_base(struct reader *rd, struct event_base *base)
{
	for (;;) {
		reader_poll(rd);
		if (event_base_loop(base, EVLOOP_NONBLOCK) == 1 &&
		    reader_poll(rd) == 0)
			return;
	}
}

/* Fill the queue past its end and drain it, three times: every record is
 * written or counted, exactly, and each drop is reported once there is
 * room again, with no new record to carry it. */
static void
fill_and_drain(int use_pipe)
{
	struct event_base *base = event_base_new();
	struct reader rd;
	unsigned cycle, per = PER;
	int wfd;

	log_set_level(LOOPD_LOG_INFO);
	reader_open(&rd, use_pipe, &wfd);
	log_attach(base);
	for (cycle = 0; cycle < 3; cycle++) {
		size_t seen = rd.nseen, dropped = rd.dropped,
		    notices = rd.notices;

		emit_records(cycle * per, per);
		/* Drops elsewhere, told while the queue is full: in the same
		 * count. */
		log_count_dropped(7);
		/* Nothing is read yet: 1 MiB of lines were too many. */
		drain_with_base(&rd, base);
		ck_assert_uint_gt(rd.dropped, dropped + 7);
		ck_assert_uint_eq(rd.notices, notices + 1);
		ck_assert_uint_lt(rd.nseen - seen, per);
		ck_assert_uint_eq(rd.nseen + rd.dropped, (cycle + 1) * (per + 7));
	}
	ck_assert_uint_eq(rd.other, 0);
	ck_assert_int_eq(log_flush(1000), 0);
	reader_close(&rd, wfd);
	event_base_free(base);
}

START_TEST(full_socket_drops_are_counted_exactly)
{
	fill_and_drain(0);
}
END_TEST

START_TEST(full_pipe_drops_are_counted_exactly)
{
	fill_and_drain(1);
}
END_TEST

/* Without a base: log_flush() writes what is queued, then the notice of
 * the drops that no later record could carry. */
START_TEST(flush_writes_the_last_notice)
{
	struct reader rd;
	int wfd;

	log_set_level(LOOPD_LOG_ERROR);	/* the notice is written anyway */
	reader_open(&rd, 0, &wfd);
	log_count_dropped(5);		/* room: a notice at once */
	reader_poll(&rd);
	ck_assert_uint_eq(rd.notices, 1);
	ck_assert_uint_eq(rd.dropped, 5);

	log_set_level(LOOPD_LOG_INFO);
	emit_records(0, PER);		/* the last ones are dropped */
	/* Each pass writes what the socket takes; the deadline is now. */
	while (log_flush(0) != 0) {
		reader_poll(&rd);
		ck_assert_uint_eq(rd.notices, 1);
	}
	reader_poll(&rd);
	ck_assert_uint_eq(rd.notices, 2);
	ck_assert_uint_gt(rd.dropped, 5);
	ck_assert_uint_eq(rd.nseen + rd.dropped, PER + 5);
	reader_close(&rd, wfd);
}
END_TEST

/* Lines longer than a pipe's atomic write go out whole, after a write
 * that took only part of one. */
START_TEST(long_lines_stay_whole)
{
	struct reader rd;
	int wfd;

	log_set_level(LOOPD_LOG_INFO);
	reader_open(&rd, 1, &wfd);
	emit_padded(0, 16, 20000);	/* 320 KB: more than the pipe */
	while (log_flush(0) != 0)
		reader_poll(&rd);
	reader_poll(&rd);
	ck_assert_uint_eq(rd.nseen, 16);
	ck_assert_uint_eq(rd.dropped, 0);
	reader_close(&rd, wfd);
}
END_TEST

/* The pid of a record is read once per process: a child of fork() names
 * its own, after its parent logged. */
START_TEST(forked_child_record_has_its_pid)
{
	json_t *last = NULL;
	pid_t pid;
	int status;

	log_set_level(LOOPD_LOG_INFO);
	log_set_sink(keep_sink, &last);
	log_emit(log_record(LOOPD_LOG_INFO, "parent"));
	ck_assert_int_eq(json_integer_value(json_object_get(last, "pid")),
	    getpid());
	if ((pid = fork()) == 0) {
		log_emit(log_record(LOOPD_LOG_INFO, "child"));
		_exit(json_integer_value(json_object_get(last, "pid")) ==
		    getpid() ? 0 : 1);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "the child's record names another pid");
	json_decref(last);
	log_set_sink(NULL, NULL);
}
END_TEST

/* A forked child neither writes what its parent queued nor reports its
 * parent's drops. */
START_TEST(child_does_not_write_parent_queue)
{
	struct reader rd;
	pid_t pid;
	int wfd, status;

	log_set_level(LOOPD_LOG_INFO);
	reader_open(&rd, 0, &wfd);
	emit_records(0, PER);
	reader_poll(&rd);	/* room in the socket, not in the queue */
	if ((pid = fork()) == 0) {
		log_emit(log_record(LOOPD_LOG_INFO, "child"));
		log_flush(0);
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(status, 0);
	while (log_flush(0) != 0)
		reader_poll(&rd);
	reader_poll(&rd);
	ck_assert_uint_eq(rd.other, 1);		/* "child" */
	ck_assert_uint_eq(rd.notices, 1);
	ck_assert_uint_eq(rd.nseen + rd.dropped, PER);
	reader_close(&rd, wfd);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("records");

	tcase_add_test(tc, record_has_required_fields);
	tcase_add_test(tc, forked_child_record_has_its_pid);
	tcase_add_test(tc, below_level_is_dropped);
	tcase_add_test(tc, invalid_utf8_is_replaced);
	tcase_add_test(tc, stderr_line_is_one_json_object);
	tcase_add_test(tc, text_format_is_one_line);
	tcase_add_test(tc, text_format_escapes_controls);
	suite_add_tcase(s, tc);
	tc = tcase_create("output");
	tcase_add_test(tc, full_socket_drops_are_counted_exactly);
	tcase_add_test(tc, full_pipe_drops_are_counted_exactly);
	tcase_add_test(tc, flush_writes_the_last_notice);
	tcase_add_test(tc, long_lines_stay_whole);
	tcase_add_test(tc, child_does_not_write_parent_queue);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
