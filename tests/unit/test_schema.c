/*
 * test_schema.c: schema_check_info(), a task's `config:` against a
 * settings table, without plugin files or children.
 *
 * Each case is one task's `config:` and the one error it must give (or
 * none), against a table with a setting of every type.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "inspect.h"
#include "loopd/plugin.h"
#include "schema.h"
#include "unit.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static char *modes[] = { "fast", "slow" };

static struct inspect_setting settings[] = {
	{ "host", LOOPD_TYPE_STRING, 1, 0, 0, NULL, 0, NULL, "" },
	{ "port", LOOPD_TYPE_INT, 0, 1, 65535, NULL, 0, NULL, "" },
	{ "verbose", LOOPD_TYPE_BOOL, 0, 0, 0, NULL, 0, NULL, "" },
	{ "interval", LOOPD_TYPE_DURATION, 0, 0, 0, NULL, 0, NULL, "" },
	{ "mode", LOOPD_TYPE_ENUM, 0, 0, 0, modes, 2, NULL, "" },
	{ "peers", LOOPD_TYPE_LIST, 0, 0, 0, NULL, 0, NULL, "" },
	{ "labels", LOOPD_TYPE_MAP, 0, 0, 0, NULL, 0, NULL, "" },
};

static const struct inspect_info info = {
	"p", "1.0", "", 1, 1, 1, settings, NELEM(settings),
};

struct schema_case {
	const char	*config;	/* the task's config: mapping */
	const char	*error;		/* a part of the one error; NULL: none */
};

static const struct schema_case cases[] = {
	{ "{host: h, port: 80, verbose: on, interval: 2s, mode: slow, "
	    "peers: [a], labels: {a: b}}", NULL },
	{ "{host: h, port: ~}", NULL },
	{ "{port: 80}", "needs 'host' (string), which is not set" },
	{ "{host: ~}", "needs 'host' (string), which is not set" },
	{ "{host: [h]}", "config.host: expected a string" },
	{ "{host: h, port: 0}", "config.port: 0 is out of range: from 1 to "
	    "65535" },
	{ "{host: h, port: 65536}", "65536 is out of range" },
	{ "{host: h, port: x}", "config.port: expected an integer" },
	{ "{host: h, port: '80'}", "(a quoted string; write it without "
	    "quotes)" },
	{ "{host: h, verbose: maybe}", "config.verbose: expected true or "
	    "false" },
	{ "{host: h, interval: soon}", "config.interval: expected a duration" },
	{ "{host: h, mode: fsat}", "unknown value 'fsat'; did you mean "
	    "'fast'?" },
	{ "{host: h, mode: [fast]}", "config.mode: expected one of the values" },
	{ "{host: h, peers: a}", "config.peers: expected a list" },
	{ "{host: h, labels: [a]}", "config.labels: expected a mapping" },
	{ "{host: h, prot: 1}", "unknown key 'prot' for plugin 'p'; did you "
	    "mean 'port'?" },
};

START_TEST(test_check)
{
	const struct schema_case *sc = &cases[_i];
	struct conf_errors perrs, errs;
	struct conf *conf;
	char yaml[512];
	int rc;

	snprintf(yaml, sizeof yaml, "loops:\n  - name: l\n    tasks:\n"
	    "      - {name: t, plugin: p, config: %s}\n", sc->config);
	memset(&perrs, 0, sizeof perrs);
	conf = config_parse_string(yaml, strlen(yaml), "test.yaml", NULL,
	    NULL, &perrs);
	ck_assert_msg(conf != NULL, "does not parse: %s", yaml);
	conf_errors_free(&perrs);
	memset(&errs, 0, sizeof errs);
	rc = schema_check_info(conf, &info, &errs);
	if (sc->error == NULL) {
		ck_assert_msg(rc == 0, "%s: %s", sc->config, errs.n > 0 ?
		    errs.v[0].msg : "");
		ck_assert_uint_eq(errs.n, 0);
	} else {
		ck_assert_int_eq(rc, -1);
		ck_assert_uint_eq(errs.n, 1);
		ck_assert_msg(strstr(errs.v[0].msg, sc->error) != NULL,
		    "%s: got %s", sc->config, errs.v[0].msg);
		ck_assert_int_gt(errs.v[0].mark.line, 0);
	}
	conf_errors_free(&errs);
	config_free(conf);
}
END_TEST

static Suite *
schema_suite(void)
{
	Suite *s = suite_create("schema");
	TCase *tc = tcase_create("check");

	tcase_add_loop_test(tc, test_check, 0, NELEM(cases));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(schema_suite());
}
