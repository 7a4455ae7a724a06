/*
 * test_control.c: control_parse(), the control socket's reader of one
 * request line.
 *
 * Each case is a line and what must come of it: the request's fields, or
 * the exact answer a client gets.  Changing any one check of the reader
 * turns at least one case red.
 */
#include <check.h>
#include <string.h>

#include "control.h"
#include "unit.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

#define NOT_OBJECT	"malformed request: not a JSON object on one line"
#define NO_SHAPE	"malformed request: it needs \"v\" (an integer) and " \
			"\"cmd\" (a string)"
#define VERSION		"unsupported protocol version: this loopd speaks " \
			"version 1"

struct parse_case {
	const char	*line;
	const char	*why;		/* NULL: accepted */
	enum control_cmd cmd;
	const char	*name, *target;
	int		 wait;
};

static const struct parse_case parse_cases[] = {
	{ "{\"v\":1,\"cmd\":\"status\"}", NULL, CONTROL_CMD_STATUS,
	    "status", NULL, 0 },
	{ "{\"v\":1,\"cmd\":\"version\"}", NULL, CONTROL_CMD_VERSION,
	    "version", NULL, 0 },
	{ "{\"v\":1,\"cmd\":\"reload\"}", NULL, CONTROL_CMD_RELOAD,
	    "reload", NULL, 0 },
	{ "{\"v\":1,\"cmd\":\"reload\",\"wait\":true}", NULL,
	    CONTROL_CMD_RELOAD, "reload", NULL, 1 },
	{ "{\"v\":1,\"cmd\":\"reload\",\"wait\":false}", NULL,
	    CONTROL_CMD_RELOAD, "reload", NULL, 0 },
	{ "{\"v\":1,\"cmd\":\"stop\",\"target\":\"net\"}", NULL,
	    CONTROL_CMD_STOP, "stop", "net", 0 },
	{ "{\"v\":1,\"cmd\":\"start\",\"target\":\"net/echo\"}", NULL,
	    CONTROL_CMD_START, "start", "net/echo", 0 },
	{ " {\"cmd\":\"restart\",\"target\":\"a\",\"v\":1} ", NULL,
	    CONTROL_CMD_RESTART, "restart", "a", 0 },
	/* A target is the caller's business: stop without one parses. */
	{ "{\"v\":1,\"cmd\":\"stop\"}", NULL, CONTROL_CMD_STOP, "stop",
	    NULL, 0 },
	{ "{\"v\":1,\"cmd\":\"reboot\"}", NULL, CONTROL_CMD_UNKNOWN,
	    "reboot", NULL, 0 },
	{ "{\"v\":1,\"cmd\":\"Status\"}", NULL, CONTROL_CMD_UNKNOWN,
	    "Status", NULL, 0 },
	{ "{\"v\":1,\"cmd\":\"\"}", NULL, CONTROL_CMD_UNKNOWN, "", NULL, 0 },
	{ "{\"v\":1,\"cmd\":\"stat\"}", NULL, CONTROL_CMD_UNKNOWN, "stat",
	    NULL, 0 },
	{ "{\"v\":1,\"cmd\":\"statuses\"}", NULL, CONTROL_CMD_UNKNOWN,
	    "statuses", NULL, 0 },
	/* Other keys are ignored. */
	{ "{\"v\":1,\"cmd\":\"status\",\"x\":[1]}", NULL, CONTROL_CMD_STATUS,
	    "status", NULL, 0 },

	{ "", NOT_OBJECT, 0, NULL, NULL, 0 },
	{ "status", NOT_OBJECT, 0, NULL, NULL, 0 },
	{ "[1]", NOT_OBJECT, 0, NULL, NULL, 0 },
	{ "\"status\"", NOT_OBJECT, 0, NULL, NULL, 0 },
	{ "{\"v\":1,\"cmd\":\"status\"", NOT_OBJECT, 0, NULL, NULL, 0 },
	{ "{\"v\":1,\"cmd\":\"status\"} {}", NOT_OBJECT, 0, NULL, NULL, 0 },
	{ "{\"v\":1,\"v\":1,\"cmd\":\"status\"}", NOT_OBJECT, 0, NULL, NULL,
	    0 },
	{ "{\"cmd\":\"status\"}", NO_SHAPE, 0, NULL, NULL, 0 },
	{ "{\"v\":\"1\",\"cmd\":\"status\"}", NO_SHAPE, 0, NULL, NULL, 0 },
	{ "{\"v\":1.0,\"cmd\":\"status\"}", NO_SHAPE, 0, NULL, NULL, 0 },
	{ "{\"v\":1}", NO_SHAPE, 0, NULL, NULL, 0 },
	{ "{\"v\":1,\"cmd\":5}", NO_SHAPE, 0, NULL, NULL, 0 },
	{ "{\"v\":1,\"cmd\":\"reload\",\"wait\":1}", NO_SHAPE, 0, NULL,
	    NULL, 0 },
	{ "{\"v\":1,\"cmd\":\"reload\",\"wait\":\"yes\"}", NO_SHAPE, 0, NULL,
	    NULL, 0 },
	{ "{\"v\":1,\"cmd\":\"stop\",\"target\":7}", NO_SHAPE, 0, NULL, NULL,
	    0 },
	{ "{\"v\":1,\"cmd\":\"stop\",\"target\":[\"a\"]}", NO_SHAPE, 0, NULL,
	    NULL, 0 },
	{ "{\"v\":2,\"cmd\":\"status\"}", VERSION, 0, NULL, NULL, 0 },
	{ "{\"v\":0,\"cmd\":\"status\"}", VERSION, 0, NULL, NULL, 0 },
	{ "{\"v\":-1,\"cmd\":\"bogus\"}", VERSION, 0, NULL, NULL, 0 },
};

START_TEST(test_parse)
{
	const struct parse_case *pc = &parse_cases[_i];
	struct control_req r;
	const char *why = NULL;
	int rc;

	rc = control_parse(pc->line, strlen(pc->line), &r, &why);
	if (pc->why != NULL) {
		ck_assert_msg(rc == -1, "accepted: %s", pc->line);
		ck_assert_str_eq(why, pc->why);
		ck_assert_ptr_null(r.json);
		ck_assert_ptr_null(r.name);
		ck_assert_ptr_null(r.target);
		return;
	}
	ck_assert_msg(rc == 0, "refused: %s: %s", pc->line, why);
	ck_assert_int_eq(r.cmd, pc->cmd);
	ck_assert_str_eq(r.name, pc->name);
	if (pc->target == NULL)
		ck_assert_ptr_null(r.target);
	else
		ck_assert_str_eq(r.target, pc->target);
	ck_assert_int_eq(r.wait, pc->wait);
	control_req_free(&r);
	ck_assert_ptr_null(r.json);
}
END_TEST

/* Only len bytes are read: what follows (the newline, the next request)
 * is not part of the line. */
START_TEST(test_parse_len)
{
	static const char two[] = "{\"v\":1,\"cmd\":\"version\"}\n{\"v\":2}";
	struct control_req r;
	const char *why;

	ck_assert_int_eq(control_parse(two, strchr(two, '\n') - two, &r,
	    &why), 0);
	ck_assert_int_eq(r.cmd, CONTROL_CMD_VERSION);
	control_req_free(&r);
	ck_assert_int_eq(control_parse(two, sizeof two - 1, &r, &why), -1);
	ck_assert_str_eq(why, NOT_OBJECT);
}
END_TEST

static Suite *
control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_parse, 0, NELEM(parse_cases));
	tcase_add_test(tc, test_parse_len);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(control_suite());
}
