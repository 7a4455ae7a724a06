/*
 * test_inbox.c: what a worker's message may say.
 *
 * Messages are built with msg_put_*() as a worker builds them, then
 * changed one value at a time: each change must be refused with a reason,
 * and the unchanged message accepted with its values.
 */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "inbox.h"
#include "log.h"
#include "msg.h"
#include "task.h"
#include "unit.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define TS		"2026-11-25T10:38:50.652234Z"

/* A MSG_LOG, with one extra field key=value (a string; NULL: none). */
struct log_case {
	int64_t		 level;
	const char	*ts;
	int64_t		 task;
	int64_t		 nfields;
	const char	*key, *value;
	int		 ok;
};

static const struct log_case log_cases[] = {
	{ LOOPD_LOG_INFO, TS, -1, 0, NULL, NULL, 1 },
	{ LOOPD_LOG_INFO, TS, 1, 1, "peer", "10.0.0.1", 1 },
	{ LOOPD_LOG_INFO, TS, 0, 1, "event", "loop_start", 1 },
	{ LOOPD_LOG_WARNING, TS, 0, 1, "event", "slow_callback", 1 },
	{ LOOPD_LOG_WARNING, TS, -1, 1, "event", "loop_lag", 1 },
	{ LOOPD_LOG_WARNING, TS, 0, 1, "event", "resource_leak", 1 },
	{ LOOPD_LOG_INFO, TS, -1, 1, "event", "loop_stats", 1 },
	{ LOOPD_LOG_INFO, TS, 2, 0, NULL, NULL, 0 },		/* task */
	{ LOOPD_LOG_INFO, TS, -2, 0, NULL, NULL, 0 },
	{ LOOPD_LOG_ERROR + 1, TS, -1, 0, NULL, NULL, 0 },	/* level */
	{ LOOPD_LOG_INFO, "2026-11-25 10:38:50", -1, 0, NULL, NULL, 0 },
	{ LOOPD_LOG_INFO, "2026-11-25T10:38:50.65223xZ", -1, 0, NULL, NULL,
	    0 },
	{ LOOPD_LOG_INFO, "2026-11-25T10:38:50.652234", -1, 0, NULL, NULL, 0 },
	{ LOOPD_LOG_INFO, TS, -1, 1, "pid", "1", 0 },		/* stamped */
	{ LOOPD_LOG_INFO, TS, -1, 1, "task", "other", 0 },
	{ LOOPD_LOG_INFO, TS, -1, 1, "Peer", "x", 0 },		/* key shape */
	{ LOOPD_LOG_INFO, TS, -1, 1, "", "x", 0 },
	{ LOOPD_LOG_INFO, TS, -1, 1, "event", "task_error", 0 },
	{ LOOPD_LOG_INFO, TS, -1, 1, "dropped", "3", 0 },
	{ LOOPD_LOG_INFO, TS, -1, 2, "peer", "x", 0 },		/* too few */
	{ LOOPD_LOG_INFO, TS, -1, INBOX_FIELDS_MAX + 1, NULL, NULL, 0 },
};

START_TEST(test_log)
{
	const struct log_case *c = &log_cases[_i];
	struct msg_out m = { 0 };
	struct inbox_log h;
	struct msg_in in;
	const char *why;
	json_t *r;

	msg_begin(&m, MSG_LOG);
	msg_put_int(&m, c->level);
	msg_put_str(&m, c->ts, 0);
	msg_put_str(&m, "hello", 0);
	msg_put_int(&m, c->task);
	msg_put_int(&m, c->nfields);
	if (c->key != NULL) {
		msg_put_str(&m, c->key, 0);
		msg_put_int(&m, 1);
		msg_put_str(&m, c->value, 0);
	}
	ck_assert_int_eq(msg_open(&in, m.p, m.len), MSG_LOG);
	ck_assert_ptr_nonnull(r = json_object());
	why = inbox_log(&in, 2, &h);
	if (why == NULL)
		why = inbox_log_fields(&in, h.nfields, r);
	if (!c->ok) {
		ck_assert_msg(why != NULL, "case %d accepted", _i);
	} else {
		ck_assert_msg(why == NULL, "case %d: %s", _i, why);
		ck_assert_int_eq(h.level, c->level);
		ck_assert_int_eq(h.task, c->task);
		ck_assert_str_eq(h.msg, "hello");
		ck_assert_uint_eq(json_object_size(r), (size_t)c->nfields);
	}
	json_decref(r);
	msg_out_free(&m);
}
END_TEST

/* A record of a worker's log.rate may say how many it dropped. */
START_TEST(test_log_dropped)
{
	struct msg_out m = { 0 };
	struct inbox_log h;
	struct msg_in in;
	json_t *r = json_object();

	msg_begin(&m, MSG_LOG);
	msg_put_int(&m, LOOPD_LOG_WARNING);
	msg_put_str(&m, TS, 0);
	msg_put_str(&m, "dropped some", 0);
	msg_put_int(&m, 0);
	msg_put_int(&m, 2);
	msg_put_str(&m, "event", 0);
	msg_put_int(&m, 1);
	msg_put_str(&m, "log_rate_limited", 0);
	msg_put_str(&m, "dropped", 0);
	msg_put_int(&m, 0);
	msg_put_int(&m, 12);
	msg_open(&in, m.p, m.len);
	ck_assert_ptr_null(inbox_log(&in, 1, &h));
	ck_assert_ptr_null(inbox_log_fields(&in, h.nfields, r));
	ck_assert_int_eq(json_integer_value(json_object_get(r, "dropped")), 12);
	json_decref(r);
	msg_out_free(&m);
}
END_TEST

START_TEST(test_state)
{
	struct msg_out m = { 0 };
	struct inbox_state st;
	struct msg_in in;

	msg_begin(&m, MSG_STATE);
	msg_put_int(&m, 1);
	msg_put_int(&m, TASK_FAILED);
	msg_put_str(&m, "1.2", 0);
	msg_put_str(&m, "io", 0);
	msg_put_str(&m, "broken pipe", 0);
	msg_open(&in, m.p, m.len);
	ck_assert_ptr_null(inbox_state(&in, 2, &st));
	ck_assert_uint_eq(st.task, 1);
	ck_assert_int_eq(st.state, TASK_FAILED);
	ck_assert_str_eq(st.type, "io");
	ck_assert_ptr_null(st.callback);
	msg_open(&in, m.p, m.len);
	ck_assert_ptr_nonnull(inbox_state(&in, 1, &st));	/* task 1 of 1 */
	ck_assert_ptr_nonnull(inbox_state(&in, 0, &st));
	msg_put_int(&m, 0);
	msg_open(&in, m.p, m.len);
	ck_assert_ptr_nonnull(inbox_state(&in, 2, &st));	/* trailing */

	/* The plugin function it failed in, said last. */
	msg_begin(&m, MSG_STATE);
	msg_put_int(&m, 1);
	msg_put_int(&m, TASK_FAILED);
	msg_put_str(&m, "1.2", 0);
	msg_put_str(&m, "io", 0);
	msg_put_str(&m, "broken pipe", 0);
	msg_put_str(&m, "on_read", 0);
	msg_open(&in, m.p, m.len);
	ck_assert_ptr_null(inbox_state(&in, 2, &st));
	ck_assert_str_eq(st.callback, "on_read");
	msg_put_str(&m, "more", 0);
	msg_open(&in, m.p, m.len);
	ck_assert_ptr_nonnull(inbox_state(&in, 2, &st));	/* trailing */

	msg_begin(&m, MSG_STATE);
	msg_put_int(&m, 0);
	msg_put_int(&m, TASK_STARTING);		/* never reported */
	msg_put_str(&m, "", 0);
	msg_put_str(&m, "", 0);
	msg_put_str(&m, "", 0);
	msg_open(&in, m.p, m.len);
	ck_assert_ptr_nonnull(inbox_state(&in, 2, &st));
	msg_out_free(&m);
}
END_TEST

START_TEST(test_state_follows)
{
	ck_assert(inbox_state_follows(TASK_STARTING, TASK_RUNNING));
	ck_assert(inbox_state_follows(TASK_STARTING, TASK_FAILED));
	ck_assert(inbox_state_follows(TASK_RUNNING, TASK_CANCELLING));
	ck_assert(inbox_state_follows(TASK_CANCELLING, TASK_DONE));
	ck_assert(!inbox_state_follows(TASK_RUNNING, TASK_RUNNING));
	ck_assert(!inbox_state_follows(TASK_CANCELLING, TASK_RUNNING));
	ck_assert(!inbox_state_follows(TASK_DONE, TASK_FAILED));
	ck_assert(!inbox_state_follows(TASK_FAILED, TASK_FAILED));
}
END_TEST

START_TEST(test_small)
{
	struct msg_out m = { 0 };
	struct inbox_listen ls;
	struct msg_in in;
	size_t n, task;
	int applied;

	msg_begin(&m, MSG_DROPPED);
	msg_put_int(&m, 7);
	msg_open(&in, m.p, m.len);
	ck_assert_ptr_null(inbox_dropped(&in, &n));
	ck_assert_uint_eq(n, 7);
	msg_begin(&m, MSG_DROPPED);
	msg_put_int(&m, 0);
	msg_open(&in, m.p, m.len);
	ck_assert_ptr_nonnull(inbox_dropped(&in, &n));

	msg_put_reconfigured(&m, 1, 0);
	msg_open(&in, m.p, m.len);
	ck_assert_ptr_null(inbox_reconfigured(&in, 2, &task, &applied));
	ck_assert_uint_eq(task, 1);
	ck_assert_int_eq(applied, 0);
	msg_open(&in, m.p, m.len);
	ck_assert_ptr_nonnull(inbox_reconfigured(&in, 1, &task, &applied));

	msg_begin(&m, MSG_LISTEN);
	msg_put_int(&m, 0);
	msg_put_str(&m, "127.0.0.1", 0);
	msg_put_int(&m, 7000);
	msg_put_int(&m, 0);		/* backlog 0 */
	msg_open(&in, m.p, m.len);
	ck_assert_ptr_nonnull(inbox_listen(&in, 1, &ls));
	msg_begin(&m, MSG_LISTEN);
	msg_put_int(&m, 0);
	msg_put_str(&m, "127.0.0.1", 0);
	msg_put_int(&m, 7000);
	msg_put_int(&m, 128);
	msg_open(&in, m.p, m.len);
	ck_assert_ptr_null(inbox_listen(&in, 1, &ls));
	ck_assert_int_eq(ls.port, 7000);
	ck_assert_str_eq(ls.address, "127.0.0.1");
	msg_out_free(&m);
}
END_TEST

static Suite *
inbox_suite(void)
{
	Suite *s = suite_create("inbox");
	TCase *tc = tcase_create("inbox");

	tcase_add_loop_test(tc, test_log, 0, NELEM(log_cases));
	tcase_add_test(tc, test_log_dropped);
	tcase_add_test(tc, test_state);
	tcase_add_test(tc, test_state_follows);
	tcase_add_test(tc, test_small);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(inbox_suite());
}
