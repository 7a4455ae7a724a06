/*
 * test_args.c: the loopd_args_* getters over a task's `config:` tree.
 *
 * Each test parses a real file with config_parse_string(), so the nodes
 * and their marks are what a plugin would see.  The body given to load()
 * goes below `config:` on line 7, indented by 6: body line L, column C is
 * file line L + 6, column C + 6.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "config.h"
#include "unit.h"

#define HEAD_LINES	6
#define INDENT		"      "

/* What the error callback heard. */
struct heard {
	int	 n;
	char	 last[512];
};

static struct conf	*conf;
static struct heard	 heard;
static struct loopd_args args;

static void
on_error(void *ctx, const char *msg)
{
	struct heard *h = ctx;

	h->n++;
	snprintf(h->last, sizeof h->last, "%s", msg);
}

/* Parse body as a task's config and point `args` at it. */
static void
load(const char *body)
{
	struct conf_errors errs;
	char text[4096];
	const char *line, *nl;
	size_t used;

	used = (size_t)snprintf(text, sizeof text, "loops:\n- name: l\n"
	    "  tasks:\n  - name: t\n    plugin: p\n    config:\n");
	for (line = body; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		ck_assert_ptr_nonnull(nl);
		used += (size_t)snprintf(text + used, sizeof text - used,
		    INDENT "%.*s\n", (int)(nl - line), line);
		ck_assert_uint_lt(used, sizeof text);
	}
	memset(&errs, 0, sizeof errs);
	conf = config_parse_string(text, used, "test.yaml", NULL, NULL,
	    &errs);
	if (errs.n > 0)
		fprintf(stderr, "%d:%d: %s\n", errs.v[0].mark.line,
		    errs.v[0].mark.col, errs.v[0].msg);
	ck_assert_ptr_nonnull(conf);
	memset(&heard, 0, sizeof heard);
	args_init(&args, conf->loops[0].tasks[0].config, on_error, &heard);
}

static void
teardown(void)
{
	config_free(conf);
	conf = NULL;
}

/* The one error heard since the last check: where and what. */
static void
expect_error(int line, int col, const char *rest)
{
	char want[512];

	snprintf(want, sizeof want, "test.yaml:%d:%d: %s", line + HEAD_LINES,
	    col + 6, rest);
	ck_assert_int_eq(heard.n, 1);
	ck_assert_str_eq(heard.last, want);
	heard.n = 0;
}

static const char body[] =
    "name: hello\n"			/* 1 */
    "quoted: \"123\"\n"			/* 2 */
    "port: 7007\n"			/* 3 */
    "empty:\n"				/* 4 */
    "tilde: ~\n"			/* 5 */
    "listen:\n"				/* 6 */
    "  host: ::1\n"			/* 7 */
    "  port: 80\n"			/* 8 */
    "peers:\n"				/* 9 */
    "  - host: a\n"			/* 10 */
    "    port: 1\n"			/* 11 */
    "  - host: b\n"			/* 12 */
    "    port: 2\n"			/* 13 */
    "  - plain\n"			/* 14 */
    "numbers: {2: two, x.y: dotted}\n"	/* 15 */
    "nothing: ''\n";			/* 16 */

START_TEST(test_string)
{
	load(body);
	ck_assert_str_eq(loopd_args_string(&args, "name", "d"), "hello");
	ck_assert_str_eq(loopd_args_string(&args, "quoted", "d"), "123");
	ck_assert_str_eq(loopd_args_string(&args, "port", "d"), "7007");
	ck_assert_str_eq(loopd_args_string(&args, "listen.host", "d"), "::1");
	ck_assert_str_eq(loopd_args_string(&args, "peers.1.host", "d"), "b");
	ck_assert_str_eq(loopd_args_string(&args, "peers.2", "d"), "plain");
	ck_assert_str_eq(loopd_args_string(&args, "numbers.2", "d"), "two");
	ck_assert_str_eq(loopd_args_string(&args, "nothing", "d"), "");
	ck_assert_int_eq(heard.n, 0);
}
END_TEST

START_TEST(test_absent)
{
	load(body);
	ck_assert_str_eq(loopd_args_string(&args, "missing", "d"), "d");
	ck_assert_ptr_null(loopd_args_string(&args, "missing", NULL));
	ck_assert_str_eq(loopd_args_string(&args, "empty", "d"), "d");
	ck_assert_str_eq(loopd_args_string(&args, "tilde", "d"), "d");
	ck_assert_str_eq(loopd_args_string(&args, "listen.missing", "d"), "d");
	ck_assert_str_eq(loopd_args_string(&args, "peers.3", "d"), "d");
	ck_assert_str_eq(loopd_args_string(&args, "peers.3.host", "d"), "d");
	ck_assert_int_eq(loopd_args_int(&args, "missing", -5), -5);
	ck_assert_int_eq(loopd_args_int(&args, "empty", -5), -5);
	ck_assert_int_eq(loopd_args_int(&args, "tilde", -5), -5);
	ck_assert(loopd_args_bool(&args, "missing", true));
	ck_assert(!loopd_args_bool(&args, "empty", false));
	ck_assert_int_eq(loopd_args_duration_ms(&args, "tilde", 99), 99);
	ck_assert_int_eq(loopd_args_duration_ms(&args, "missing", 99), 99);
	ck_assert_int_eq(heard.n, 0);
}
END_TEST

START_TEST(test_paths)
{
	static const char *const none[] = {
		"name.x", "name.0", "peers.x", "peers.-1", "peers.+1",
		"peers.1x", "peers.99999999999999999999999999", "peers..1",
		"peers.", ".peers", "..", "listen.host.x", "numbers.x",
		"numbers.x.y",
	};
	const struct conf_node *root;
	size_t i;

	load(body);
	root = args.root;
	ck_assert_ptr_eq(args_lookup(root, NULL), root);
	ck_assert_ptr_eq(args_lookup(root, ""), root);
	ck_assert_ptr_null(args_lookup(NULL, "name"));
	ck_assert_ptr_null(args_lookup(NULL, NULL));
	ck_assert_ptr_eq(args_lookup(root, "peers.0"),
	    args_lookup(root, "peers")->items[0]);
	ck_assert_ptr_eq(args_lookup(root, "peers.00"),
	    args_lookup(root, "peers.0"));
	ck_assert_str_eq(args_lookup(root, "peers.1.port")->value, "2");
	for (i = 0; i < sizeof none / sizeof none[0]; i++)
		ck_assert_msg(args_lookup(root, none[i]) == NULL,
		    "\"%s\" found", none[i]);
}
END_TEST

START_TEST(test_int)
{
	static const char b[] =
	    "zero: 0\n"
	    "dec: 7007\n"
	    "neg: -42\n"
	    "plus: +5\n"
	    "hex: 0x1F\n"
	    "HEX: 0XfF\n"
	    "neghex: -0x10\n"
	    "max: 9223372036854775807\n"
	    "min: -9223372036854775808\n"
	    "hexmax: 0x7fffffffffffffff\n"
	    "hexmin: -0x8000000000000000\n"
	    "lead: 010\n";

	load(b);
	ck_assert_int_eq(loopd_args_int(&args, "zero", 1), 0);
	ck_assert_int_eq(loopd_args_int(&args, "dec", 1), 7007);
	ck_assert_int_eq(loopd_args_int(&args, "neg", 1), -42);
	ck_assert_int_eq(loopd_args_int(&args, "plus", 1), 5);
	ck_assert_int_eq(loopd_args_int(&args, "hex", 1), 31);
	ck_assert_int_eq(loopd_args_int(&args, "HEX", 1), 255);
	ck_assert_int_eq(loopd_args_int(&args, "neghex", 1), -16);
	ck_assert_int_eq(loopd_args_int(&args, "max", 1), INT64_MAX);
	ck_assert_int_eq(loopd_args_int(&args, "min", 1), INT64_MIN);
	ck_assert_int_eq(loopd_args_int(&args, "hexmax", 1), INT64_MAX);
	ck_assert_int_eq(loopd_args_int(&args, "hexmin", 1), INT64_MIN);
	ck_assert_int_eq(loopd_args_int(&args, "lead", 1), 10);
	ck_assert_int_eq(heard.n, 0);
}
END_TEST

START_TEST(test_int_bad)
{
	static const char b[] =
	    "port: abc\n"				/* 1 */
	    "quoted: \"123\"\n"				/* 2 */
	    "over: 9223372036854775808\n"		/* 3 */
	    "under: -9223372036854775809\n"		/* 4 */
	    "hexover: 0x10000000000000000\n"		/* 5 */
	    "float: 1.5\n"				/* 6 */
	    "list: [1]\n"				/* 7 */
	    "sign: +\n"					/* 8 */
	    "hexnone: 0x\n"				/* 9 */
	    "map:\n"					/* 10 */
	    "  a: 1\n"					/* 11 */
	    "spaced: 1 2\n";				/* 12 */

	load(b);
	ck_assert_int_eq(loopd_args_int(&args, "port", 9), 9);
	expect_error(1, 7, "config.port: expected an integer, got \"abc\"");
	ck_assert_int_eq(loopd_args_int(&args, "quoted", 9), 9);
	expect_error(2, 9, "config.quoted: expected an integer, got \"123\" "
	    "(a quoted string; write it without quotes)");
	ck_assert_int_eq(loopd_args_int(&args, "over", 9), 9);
	expect_error(3, 7, "config.over: expected an integer, got "
	    "\"9223372036854775808\" (out of range for a 64-bit integer)");
	ck_assert_int_eq(loopd_args_int(&args, "under", 9), 9);
	expect_error(4, 8, "config.under: expected an integer, got "
	    "\"-9223372036854775809\" (out of range for a 64-bit integer)");
	ck_assert_int_eq(loopd_args_int(&args, "hexover", 9), 9);
	expect_error(5, 10, "config.hexover: expected an integer, got "
	    "\"0x10000000000000000\" (out of range for a 64-bit integer)");
	ck_assert_int_eq(loopd_args_int(&args, "float", 9), 9);
	expect_error(6, 8, "config.float: expected an integer, got \"1.5\"");
	ck_assert_int_eq(loopd_args_int(&args, "list", 9), 9);
	expect_error(7, 7, "config.list: expected an integer, got a sequence");
	ck_assert_int_eq(loopd_args_int(&args, "sign", 9), 9);
	expect_error(8, 7, "config.sign: expected an integer, got \"+\"");
	ck_assert_int_eq(loopd_args_int(&args, "hexnone", 9), 9);
	expect_error(9, 10, "config.hexnone: expected an integer, got \"0x\"");
	ck_assert_int_eq(loopd_args_int(&args, "map", 9), 9);
	expect_error(11, 3, "config.map: expected an integer, got a mapping");
	ck_assert_int_eq(loopd_args_int(&args, "map.a", 9), 1);
	ck_assert_int_eq(loopd_args_int(&args, "spaced", 9), 9);
	expect_error(12, 9, "config.spaced: expected an integer, got \"1 2\"");
	ck_assert_int_eq(heard.n, 0);
}
END_TEST

START_TEST(test_bool)
{
	static const char *const yes[] = {
		"true", "TRUE", "True", "yes", "Yes", "on", "ON",
	};
	static const char *const no[] = {
		"false", "FALSE", "no", "No", "off", "Off",
	};
	char b[1024];
	size_t i, used = 0;

	for (i = 0; i < sizeof yes / sizeof yes[0]; i++)
		used += (size_t)snprintf(b + used, sizeof b - used,
		    "y%zu: %s\n", i, yes[i]);
	for (i = 0; i < sizeof no / sizeof no[0]; i++)
		used += (size_t)snprintf(b + used, sizeof b - used,
		    "n%zu: %s\n", i, no[i]);
	load(b);
	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		snprintf(b, sizeof b, "y%zu", i);
		ck_assert_msg(loopd_args_bool(&args, b, false), "%s", yes[i]);
	}
	for (i = 0; i < sizeof no / sizeof no[0]; i++) {
		snprintf(b, sizeof b, "n%zu", i);
		ck_assert_msg(!loopd_args_bool(&args, b, true), "%s", no[i]);
	}
	ck_assert_int_eq(heard.n, 0);
}
END_TEST

START_TEST(test_bool_bad)
{
	static const char b[] =
	    "one: 1\n"			/* 1 */
	    "quoted: 'true'\n"		/* 2 */
	    "maybe: maybe\n"		/* 3 */
	    "list: [true]\n";		/* 4 */

	load(b);
	ck_assert(loopd_args_bool(&args, "one", true));
	expect_error(1, 6, "config.one: expected true or false, got \"1\"");
	ck_assert(!loopd_args_bool(&args, "quoted", false));
	expect_error(2, 9, "config.quoted: expected true or false, got "
	    "\"true\" (a quoted string; write it without quotes)");
	ck_assert(loopd_args_bool(&args, "maybe", true));
	expect_error(3, 8, "config.maybe: expected true or false, got "
	    "\"maybe\"");
	ck_assert(!loopd_args_bool(&args, "list", false));
	expect_error(4, 7, "config.list: expected true or false, got a "
	    "sequence");
}
END_TEST

START_TEST(test_duration)
{
	static const char b[] =
	    "a: 250ms\n"			/* 1 */
	    "b: 10s\n"				/* 2 */
	    "c: 5m\n"				/* 3 */
	    "d: 1h\n"				/* 4 */
	    "e: '30s'\n"			/* 5 */
	    "f: 0ms\n"				/* 6 */
	    "g: 168h\n"				/* 7 */
	    "bare: 10\n"			/* 8 */
	    "neg: -1s\n"			/* 9 */
	    "huge: 169h\n"			/* 10 */
	    "map: {s: 1}\n";			/* 11 */

	load(b);
	ck_assert_int_eq(loopd_args_duration_ms(&args, "a", -1), 250);
	ck_assert_int_eq(loopd_args_duration_ms(&args, "b", -1), 10000);
	ck_assert_int_eq(loopd_args_duration_ms(&args, "c", -1), 300000);
	ck_assert_int_eq(loopd_args_duration_ms(&args, "d", -1), 3600000);
	ck_assert_int_eq(loopd_args_duration_ms(&args, "e", -1), 30000);
	ck_assert_int_eq(loopd_args_duration_ms(&args, "f", -1), 0);
	ck_assert_int_eq(loopd_args_duration_ms(&args, "g", -1), 604800000);
	ck_assert_int_eq(heard.n, 0);
	ck_assert_int_eq(loopd_args_duration_ms(&args, "bare", -1), -1);
	expect_error(8, 7, "config.bare: expected a duration such as 250ms "
	    "or 10s, got \"10\" (missing unit: write 10s or 10000ms)");
	ck_assert_int_eq(loopd_args_duration_ms(&args, "neg", -1), -1);
	expect_error(9, 6, "config.neg: expected a duration such as 250ms "
	    "or 10s, got \"-1s\" (a duration cannot be negative)");
	ck_assert_int_eq(loopd_args_duration_ms(&args, "huge", -1), -1);
	ck_assert_int_eq(heard.n, 1);
	ck_assert_ptr_nonnull(strstr(heard.last, "more than 7 days"));
	heard.n = 0;
	ck_assert_int_eq(loopd_args_duration_ms(&args, "map", -1), -1);
	expect_error(11, 6, "config.map: expected a duration such as 250ms "
	    "or 10s, got a mapping");
}
END_TEST

START_TEST(test_string_bad)
{
	load(body);
	ck_assert_str_eq(loopd_args_string(&args, "listen", "d"), "d");
	expect_error(7, 3, "config.listen: expected a string, got a mapping");
	ck_assert_str_eq(loopd_args_string(&args, "peers", "d"), "d");
	expect_error(10, 3, "config.peers: expected a string, got a "
	    "sequence");
	ck_assert_str_eq(loopd_args_string(&args, "peers.0", "d"), "d");
	expect_error(10, 5, "config.peers.0: expected a string, got a "
	    "mapping");
	ck_assert_str_eq(loopd_args_string(&args, NULL, "d"), "d");
	expect_error(1, 1, "config: expected a string, got a mapping");
}
END_TEST

START_TEST(test_has_count_key)
{
	load(body);
	ck_assert(loopd_args_has(&args, "name"));
	ck_assert(loopd_args_has(&args, "nothing"));
	ck_assert(loopd_args_has(&args, "listen"));
	ck_assert(loopd_args_has(&args, "peers.2"));
	ck_assert(loopd_args_has(&args, NULL));
	ck_assert(loopd_args_has(&args, ""));
	ck_assert(!loopd_args_has(&args, "empty"));
	ck_assert(!loopd_args_has(&args, "tilde"));
	ck_assert(!loopd_args_has(&args, "missing"));
	ck_assert(!loopd_args_has(&args, "peers.3"));

	ck_assert_uint_eq(loopd_args_count(&args, NULL), 9);
	ck_assert_uint_eq(loopd_args_count(&args, ""), 9);
	ck_assert_uint_eq(loopd_args_count(&args, "listen"), 2);
	ck_assert_uint_eq(loopd_args_count(&args, "peers"), 3);
	ck_assert_uint_eq(loopd_args_count(&args, "peers.0"), 2);
	ck_assert_uint_eq(loopd_args_count(&args, "name"), 0);
	ck_assert_uint_eq(loopd_args_count(&args, "empty"), 0);
	ck_assert_uint_eq(loopd_args_count(&args, "missing"), 0);

	ck_assert_str_eq(loopd_args_key(&args, NULL, 0), "name");
	ck_assert_str_eq(loopd_args_key(&args, "", 8), "nothing");
	ck_assert_ptr_null(loopd_args_key(&args, NULL, 9));
	ck_assert_str_eq(loopd_args_key(&args, "listen", 1), "port");
	ck_assert_str_eq(loopd_args_key(&args, "peers.1", 0), "host");
	ck_assert_str_eq(loopd_args_key(&args, "numbers", 1), "x.y");
	ck_assert_ptr_null(loopd_args_key(&args, "peers", 0));
	ck_assert_ptr_null(loopd_args_key(&args, "name", 0));
	ck_assert_ptr_null(loopd_args_key(&args, "missing", 0));
	ck_assert_int_eq(heard.n, 0);
}
END_TEST

/* No config at all, or no args: everything is absent, nothing is heard. */
START_TEST(test_no_config)
{
	struct loopd_args none;

	args_init(&none, NULL, on_error, &heard);
	memset(&heard, 0, sizeof heard);
	ck_assert(!loopd_args_has(&none, NULL));
	ck_assert(!loopd_args_has(&none, "x"));
	ck_assert_str_eq(loopd_args_string(&none, "x", "d"), "d");
	ck_assert_str_eq(loopd_args_string(&none, NULL, "d"), "d");
	ck_assert_int_eq(loopd_args_int(&none, "x", 3), 3);
	ck_assert(loopd_args_bool(&none, "x", true));
	ck_assert_int_eq(loopd_args_duration_ms(&none, "x", 4), 4);
	ck_assert_uint_eq(loopd_args_count(&none, NULL), 0);
	ck_assert_ptr_null(loopd_args_key(&none, NULL, 0));
	ck_assert(!loopd_args_has(NULL, "x"));
	ck_assert_int_eq(loopd_args_int(NULL, "x", 5), 5);
	ck_assert_uint_eq(loopd_args_count(NULL, NULL), 0);
	ck_assert_ptr_null(loopd_args_key(NULL, NULL, 0));
	ck_assert_int_eq(heard.n, 0);
}
END_TEST

/* An empty `config:` gives a NULL root, which reads as an empty mapping. */
START_TEST(test_empty_config)
{
	load("\n");
	ck_assert_ptr_null(args.root);
	ck_assert_uint_eq(loopd_args_count(&args, NULL), 0);
	ck_assert_str_eq(loopd_args_string(&args, "x", "d"), "d");
}
END_TEST

START_TEST(test_no_callback)
{
	load(body);
	args.on_error = NULL;
	ck_assert_int_eq(loopd_args_int(&args, "name", 8), 8);
	ck_assert_str_eq(loopd_args_string(&args, "listen", "d"), "d");
	ck_assert_int_eq(heard.n, 0);
}
END_TEST

/* Long or odd values are cut and cleaned in messages. */
START_TEST(test_message_shape)
{
	static const char b[] =
	    "long: aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeeeee\n"
	    "ctl: \"a\\tb\"\n";

	load(b);
	ck_assert_int_eq(loopd_args_int(&args, "long", 0), 0);
	expect_error(1, 7, "config.long: expected an integer, got "
	    "\"aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd...\"");
	ck_assert(loopd_args_bool(&args, "ctl", true));
	expect_error(2, 6, "config.ctl: expected true or false, got "
	    "\"a?b\" (a quoted string; write it without quotes)");
}
END_TEST

static Suite *
args_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("args");
	tc = tcase_create("getters");
	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_string);
	tcase_add_test(tc, test_absent);
	tcase_add_test(tc, test_paths);
	tcase_add_test(tc, test_int);
	tcase_add_test(tc, test_int_bad);
	tcase_add_test(tc, test_bool);
	tcase_add_test(tc, test_bool_bad);
	tcase_add_test(tc, test_duration);
	tcase_add_test(tc, test_string_bad);
	tcase_add_test(tc, test_has_count_key);
	tcase_add_test(tc, test_no_config);
	tcase_add_test(tc, test_empty_config);
	tcase_add_test(tc, test_no_callback);
	tcase_add_test(tc, test_message_shape);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(args_suite());
}
