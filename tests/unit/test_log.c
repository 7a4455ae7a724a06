/*
 * test_log.c: log records are one valid JSON object per line, whatever
 * bytes a plugin puts in them.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Emit r (stolen) through the real stderr sink and return what was
 * written, which must be exactly one line. */
static void
emit_captured(json_t *r, char *buf, size_t len)
{
	int p[2], saved;
	ssize_t n;

	ck_assert_int_eq(pipe(p), 0);
	saved = dup(STDERR_FILENO);
	dup2(p[1], STDERR_FILENO);
	log_emit(r);
	dup2(saved, STDERR_FILENO);
	close(saved);
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

int
main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("records");

	tcase_add_test(tc, record_has_required_fields);
	tcase_add_test(tc, below_level_is_dropped);
	tcase_add_test(tc, invalid_utf8_is_replaced);
	tcase_add_test(tc, stderr_line_is_one_json_object);
	tcase_add_test(tc, text_format_is_one_line);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
