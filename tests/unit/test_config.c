/*
 * test_config.c: the configuration parser.
 *
 * Mostly table tests: YAML text in, errors out, each with the exact line
 * and column and a piece of its message.  Then valid files, checked field
 * by field, and the duration syntax with its boundaries.
 */
#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopd/plugin.h"
#include "config.h"
#include "unit.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* A valid `loops:` section, five lines long. */
#define LOOPS								\
	"loops:\n"							\
	"  - name: net\n"						\
	"    tasks:\n"							\
	"      - name: echo\n"						\
	"        plugin: echo\n"

/* A loop header and a task, to be followed by more task keys. */
#define TASK_HEAD							\
	"loops:\n"							\
	"  - name: net\n"						\
	"    tasks:\n"							\
	"      - name: echo\n"

/* A loop's first two lines, and its tasks: loop keys go between. */
#define SUP_HEAD							\
	"loops:\n"							\
	"  - name: net\n"
#define SUP_TASKS							\
	"    tasks: [{name: echo, plugin: echo}]\n"
/* A loop with `restart:` on line 3 and the given lines in it. */
#define RESTART(lines)	SUP_HEAD "    restart:\n" lines SUP_TASKS
#define LIMITS(lines)	SUP_HEAD "    limits:\n" lines SUP_TASKS

/* A name one character too long. */
#define A65	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
		"aaaaa"

struct bad {
	const char	*what;
	const char	*yaml;
	size_t		 nerr;		/* errors in all */
	size_t		 which;		/* the one checked */
	int		 line, col;
	const char	*msg;		/* a part of its message */
};

static const struct bad bad[] = {
	/* Malformed YAML. */
	{ "mapping value in a scalar", "a: b: c\n", 1, 0, 1, 5,
	    "YAML syntax error: mapping values are not allowed" },
	{ "bad indentation", "loops:\n  - name: x\n   bad\n", 1, 0, 3, 4,
	    "did not find expected '-' indicator" },
	{ "unclosed flow sequence", "loops: [a, b\n", 1, 0, 2, 1,
	    "did not find expected ',' or ']' (while parsing a flow "
	    "sequence started at line 1, column 8)" },
	{ "unterminated quote", "log:\n  level: \"debug\n", 1, 0, 3, 1,
	    "found unexpected end of stream" },
	{ "tab indentation", "loops:\n\t- name: x\n", 1, 0, 2, 1,
	    "found character that cannot start any token" },
	{ "invalid UTF-8", "loops:\n  - name: \xffx\n", 1, 0, 2, 11,
	    "invalid leading UTF-8 octet" },
	{ "control character", "loops:\n  - name: \x01x\n", 1, 0, 2, 11,
	    "control characters are not allowed" },
	{ "two documents", LOOPS "---\nloops: []\n", 1, 0, 6, 1,
	    "a second YAML document starts here" },
	{ "alias", "base: &b\n  - x\nloops: *b\n", 2, 1, 3, 8,
	    "aliases such as '*b' are not supported" },
	{ "key is a sequence", "[a]: 1\n" LOOPS, 1, 0, 1, 1,
	    "a key must be a scalar, found a sequence" },
	{ "NUL in a value", "log: {level: \"de\\0bug\"}\n" LOOPS, 2, 0,
	    1, 14, "cannot hold a NUL character" },
	{ "too deep", "loops: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	    "[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
	    "]]]]]]]]]]]]]]]]]]]]]]]]\n", 1, 0, 1, 71,
	    "nests deeper than 64 levels" },

	/* The whole file. */
	{ "empty file", "", 1, 0, 1, 1,
	    "the file is empty: it needs at least a `loops:` sequence" },
	{ "only comments", "# nothing yet\n\n", 1, 0, 1, 1,
	    "the file is empty" },
	{ "empty document", "---\n", 1, 0, 2, 1, "the document is empty" },
	{ "top level a sequence", "- loops\n", 1, 0, 1, 1,
	    "the top level must be a mapping with at least a `loops:` key, "
	    "found a sequence" },
	{ "top level a scalar", "hello\n", 1, 0, 1, 1,
	    "the top level must be a mapping with at least a `loops:` key, "
	    "found a scalar" },
	{ "no loops", "log: {level: info}\n", 1, 0, 1, 1,
	    "the file has no `loops:` sequence" },

	/* Unknown keys. */
	{ "unknown top key, close", "logg: {}\n" LOOPS, 1, 0, 1, 1,
	    "unknown key 'logg' at the top level; did you mean 'log'?" },
	{ "unknown top key, far", LOOPS "colour: red\n", 1, 0, 6, 1,
	    "unknown key 'colour' at the top level; the keys are: plugin_dir, "
	    "plugin_watch, log, shutdown, on_exhausted, loops, include, "
	    "config_watch, control, metrics" },
	{ "unknown top key, case", LOOPS "Plugin_Dir: x\n", 1, 0, 6, 1,
	    "did you mean 'plugin_dir'?" },
	{ "unknown loop key", "loops:\n  - name: net\n    backnd: poll\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 3, 5,
	    "unknown key 'backnd' in loop 'net'; did you mean 'backend'?" },
	{ "unknown loop key tasksx", "loops:\n  - name: net\n"
	    "    tasks: [{name: echo, plugin: echo}]\n    tasksx: []\n",
	    1, 0, 4, 5,
	    "unknown key 'tasksx' in loop 'net'; did you mean 'tasks'?" },
	{ "unknown task key", TASK_HEAD "        plugin: echo\n"
	    "        plugn: x\n", 1, 0, 6, 9,
	    "unknown key 'plugn' in task 'echo'; did you mean 'plugin'?" },
	{ "unknown task key, far", TASK_HEAD "        plugin: echo\n"
	    "        colour: red\n", 1, 0, 6, 9,
	    "unknown key 'colour' in task 'echo'; the keys are: name, plugin, "
	    "restart, config" },
	{ "unknown log key", "log:\n  levle: debug\n" LOOPS, 1, 0, 2, 3,
	    "unknown key 'levle' in log; did you mean 'level'?" },
	{ "unknown shutdown key", "shutdown:\n  gracee: 5s\n" LOOPS, 1, 0,
	    2, 3, "unknown key 'gracee' in shutdown; did you mean 'grace'?" },
	{ "unknown control key", "control:\n  sockt: /x\n" LOOPS, 1, 0, 2, 3,
	    "unknown key 'sockt' in control; did you mean 'socket'?" },
	{ "control mode not octal", "control: {mode: 999}\n" LOOPS, 1, 0, 1,
	    17, "control.mode: '999' is not an octal file mode such as 0660" },
	{ "control mode too large", "control: {mode: 01777}\n" LOOPS, 1, 0,
	    1, 17, "control.mode: '01777' is not an octal file mode" },
	{ "control group unknown", "control:\n  group: no-such-group-x\n"
	    LOOPS, 1, 0, 2, 10, "control.group: there is no group "
	    "'no-such-group-x' on this system" },
	{ "control socket too long", "control:\n  socket: /"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "\n" LOOPS, 1, 0, 2, 11, "is not a usable socket path" },
	{ "metrics without port", "metrics:\n  listen: 9477\n" LOOPS, 1, 0,
	    2, 11, "metrics.listen: '9477' is not an address and port such "
	    "as 127.0.0.1:9477" },
	{ "metrics port too large", "metrics: {listen: 'a:65536'}\n" LOOPS,
	    1, 0, 1, 19, "metrics.listen: 'a:65536' is not an address" },
	{ "unknown key, unnamed loop", "loops:\n  - name: a/b\n    x: 1\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 2, 1, 3, 5,
	    "unknown key 'x' in loop #1;" },

	/* Wrong types. */
	{ "loops a scalar", "loops: 5\n", 1, 0, 1, 8,
	    "loops: expected a sequence of loops, found a scalar" },
	{ "loops a mapping", "loops:\n  net: {}\n", 1, 0, 2, 3,
	    "loops: expected a sequence of loops, found a mapping" },
	{ "loops empty value", "loops:\n", 1, 0, 1, 7,
	    "loops: expected a sequence of loops, found an empty value" },
	{ "log a scalar", "log: debug\n" LOOPS, 1, 0, 1, 6,
	    "log: expected a mapping, found a scalar" },
	{ "shutdown a sequence", "shutdown: [10s]\n" LOOPS, 1, 0, 1, 11,
	    "shutdown: expected a mapping, found a sequence" },
	{ "grace a mapping", "shutdown:\n  grace: {s: 1}\n" LOOPS, 1, 0,
	    2, 10, "shutdown.grace: expected a duration such as 10s, found "
	    "a mapping" },
	{ "level a sequence", "log:\n  level: [debug]\n" LOOPS, 1, 0, 2, 10,
	    "log.level: expected one of debug, info, warning, error, found "
	    "a sequence" },
	{ "plugin_dir a sequence", "plugin_dir: [a]\n" LOOPS, 1, 0, 1, 13,
	    "plugin_dir: expected a directory, found a sequence" },
	{ "loop a scalar", "loops:\n  - net\n", 1, 0, 2, 5,
	    "loop #1: expected a mapping with name and tasks, found a scalar" },
	{ "tasks a mapping", "loops:\n  - name: net\n    tasks:\n"
	    "      echo: {plugin: echo}\n", 1, 0, 4, 7,
	    "loop 'net': tasks: expected a sequence of tasks, found a "
	    "mapping" },
	{ "task a scalar", "loops:\n  - name: net\n    tasks:\n"
	    "      - echo\n", 1, 0, 4, 9,
	    "task #1 of loop 'net': expected a mapping with name and plugin, "
	    "found a scalar" },
	{ "name a mapping", "loops:\n  - name: {a: 1}\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 2, 11,
	    "loop #1: name: expected a name, found a mapping" },
	{ "name empty value", "loops:\n  - name:\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 2, 10,
	    "loop #1: name: expected a name, found an empty value" },
	{ "config a sequence", TASK_HEAD "        plugin: echo\n"
	    "        config: [1, 2]\n", 1, 0, 6, 17,
	    "task 'echo': config: expected a mapping, found a sequence" },
	{ "config a scalar", TASK_HEAD "        plugin: echo\n"
	    "        config: port=7\n", 1, 0, 6, 17,
	    "task 'echo': config: expected a mapping, found a scalar" },

	/* Loops and tasks. */
	{ "empty loops", "loops: []\n", 1, 0, 1, 8,
	    "loops: the sequence is empty; at least one loop is needed" },
	{ "loop without name", "loops:\n  - backend: poll\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 2, 5,
	    "loop #1 has no name: add `name:`" },
	{ "loop without tasks", "loops:\n  - name: net\n    backend: poll\n",
	    1, 0, 2, 5, "loop 'net' has no tasks: add a `tasks:` sequence" },
	{ "empty tasks", "loops:\n  - name: net\n    tasks: []\n", 1, 0, 3, 12,
	    "loop 'net': tasks: the sequence is empty; a loop needs at least "
	    "one task" },
	{ "task without plugin", TASK_HEAD "        config: {}\n", 1, 0, 4, 9,
	    "task 'echo' has no plugin: add `plugin:`" },
	{ "task without name", "loops:\n  - name: net\n    tasks:\n"
	    "      - plugin: echo\n", 1, 0, 4, 9,
	    "task #1 of loop 'net' has no name: add `name:`" },
	{ "plugin with a path", TASK_HEAD "        plugin: ../x\n", 1, 0, 5, 17,
	    "task 'echo': plugin: '../x' is not a valid plugin name: use only "
	    "letters, digits and '_', '-'" },
	{ "plugin with a dot", TASK_HEAD "        plugin: echo.so\n", 1, 0,
	    5, 17, "'echo.so' is not a valid plugin name" },
	{ "loop name with a space", "loops:\n  - name: my loop\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 2, 11,
	    "loop #1: name: 'my loop' is not a valid loop name: use only "
	    "letters, digits and '_', '.', '-'" },
	{ "task name with a slash", "loops:\n  - name: net\n    tasks:\n"
	    "      - {name: a/b, plugin: echo}\n", 1, 0, 4, 16,
	    "task #1 of loop 'net': name: 'a/b' is not a valid task name" },
	{ "name too long", "loops:\n  - name: " A65 "\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 2, 11,
	    "is too long: a loop name has at most 64 characters" },
	{ "name empty", "loops:\n  - name: ''\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 2, 11,
	    "loop #1: name: a loop name cannot be empty" },
	{ "duplicate loop name", LOOPS "  - name: net\n"
	    "    tasks: [{name: other, plugin: echo}]\n", 1, 0, 6, 11,
	    "loop name 'net' is already used at test.yaml:2:11; loop names "
	    "must be unique" },
	{ "duplicate task name, same loop", LOOPS "      - name: echo\n"
	    "        plugin: ticker\n", 1, 0, 6, 15,
	    "task name 'echo' is already used at test.yaml:4:15; task names "
	    "must be unique across loops" },
	{ "duplicate task name, across loops", LOOPS "  - name: other\n"
	    "    tasks:\n      - {name: echo, plugin: echo}\n", 1, 0, 8, 16,
	    "task name 'echo' is already used at test.yaml:4:15; task names "
	    "must be unique across loops" },
	{ "duplicate key", "log:\n  level: debug\n  level: info\n" LOOPS,
	    1, 0, 3, 3,
	    "duplicate key 'level'; it is first at test.yaml:2:3" },
	{ "duplicate key in config", TASK_HEAD "        plugin: echo\n"
	    "        config: {port: 1, port: 2}\n", 1, 0, 6, 27,
	    "duplicate key 'port'; it is first at test.yaml:6:18" },
	{ "unknown backend", "loops:\n  - name: net\n    backend: kqueue\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 3, 14,
	    "loop 'net': backend: unknown value 'kqueue'; expected one of "
	    "auto, epoll, poll, select" },
	{ "backend typo", "loops:\n  - name: net\n    backend: epol\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 3, 14,
	    "unknown value 'epol'; did you mean 'epoll'?" },
	{ "executor kind", "loops:\n  - name: net\n    executor: {kind: gpu}\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 3, 22,
	    "loop 'net': executor.kind: unknown value 'gpu'; did you mean "
	    "'cpu'?" },
	{ "executor workers word", "loops:\n  - name: net\n"
	    "    executor: {workers: many}\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 3, 25,
	    "loop 'net': executor.workers: 'many' is not a whole number" },
	{ "executor workers quoted", "loops:\n  - name: net\n"
	    "    executor: {workers: '4'}\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 3, 25,
	    "loop 'net': executor.workers: '4' is not a whole number" },
	{ "executor workers too many", "loops:\n  - name: net\n"
	    "    executor: {workers: 1025}\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 3, 25,
	    "loop 'net': executor.workers: 1025 is out of range: it must be "
	    "between 1 and 1024" },
	{ "executor queue zero", "loops:\n  - name: net\n"
	    "    executor: {queue: 0}\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 3, 23,
	    "loop 'net': executor.queue: 0 is out of range: it must be "
	    "between 1 and 1000000" },
	{ "executor huge queue", "loops:\n  - name: net\n"
	    "    executor: {queue: 99999999999999999999999}\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 3, 23,
	    "executor.queue: 99999999999999999999999 is out of range" },
	{ "executor key typo", "loops:\n  - name: net\n"
	    "    executor: {wokers: 2}\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 3, 16,
	    "unknown key 'wokers' in the executor of loop 'net'; did you "
	    "mean 'workers'?" },
	{ "executor not a mapping", "loops:\n  - name: net\n"
	    "    executor: 4\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 3, 15,
	    "loop 'net': executor: expected a mapping, found a scalar" },
	{ "debug not a bool", "loops:\n  - name: net\n    debug: yes\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 3, 12,
	    "loop 'net': debug: unknown value 'yes'; expected one of false, "
	    "true" },
	{ "slow_callback zero", "loops:\n  - name: net\n"
	    "    slow_callback: 0ms\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 3, 20,
	    "loop 'net': slow_callback: '0ms' must be more than 0" },
	{ "precise_timer typo", "loops:\n  - name: net\n"
	    "    precise_timer: ture\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 3, 20,
	    "loop 'net': precise_timer: unknown value 'ture'; did you mean "
	    "'true'?" },
	{ "cpu too high", "loops:\n  - name: net\n    cpu: 1024\n"
	    "    tasks: [{name: echo, plugin: echo}]\n", 1, 0, 3, 10,
	    "loop 'net': cpu: 1024 is out of range: it must be between 0 "
	    "and 1023" },
	{ "debug in a task", TASK_HEAD "        plugin: echo\n"
	    "        debug: true\n", 1, 0, 6, 9,
	    "'debug' in task 'echo'; it is a loop's setting" },

	/* Durations. */
	{ "bare number", "shutdown:\n  grace: 10\n" LOOPS, 1, 0, 2, 10,
	    "shutdown.grace: '10' is not a valid duration: missing unit: "
	    "write 10s or 10000ms" },
	{ "negative", "shutdown:\n  grace: -5s\n" LOOPS, 1, 0, 2, 10,
	    "'-5s' is not a valid duration: a duration cannot be negative" },
	{ "absurd", "shutdown:\n  grace: 200h\n" LOOPS, 1, 0, 2, 10,
	    "'200h' is not a valid duration: more than 7 days" },
	{ "overflow", "shutdown:\n  grace: 99999999999999999999999ms\n"
	    LOOPS, 1, 0, 2, 10, "the number is too large" },
	{ "grace too long", "shutdown:\n  grace: 2h\n" LOOPS, 1, 0, 2, 10,
	    "shutdown.grace: '2h' is too long: the limit is 1h" },
	{ "grace one ms too long", "shutdown:\n  grace: 3600001ms\n" LOOPS,
	    1, 0, 2, 10, "the limit is 1h" },
	{ "bad unit", "shutdown:\n  grace: 10sec\n" LOOPS, 1, 0, 2, 10,
	    "unknown unit: use ms, s, m or h" },
	{ "fraction", "shutdown:\n  grace: 1.5s\n" LOOPS, 1, 0, 2, 10,
	    "write a whole number" },
	{ "no digits", "shutdown:\n  grace: soon\n" LOOPS, 1, 0, 2, 10,
	    "'soon' is not a valid duration: write a whole number and a unit" },

	/* Logging. */
	{ "bad log level", "log:\n  level: verbose\n" LOOPS, 1, 0, 2, 10,
	    "log.level: unknown value 'verbose'; expected one of debug, info, "
	    "warning, error" },
	{ "log level typo", "log:\n  level: debg\n" LOOPS, 1, 0, 2, 10,
	    "log.level: unknown value 'debg'; did you mean 'debug'?" },
	{ "bad log format", "log:\n  format: xml\n" LOOPS, 1, 0, 2, 11,
	    "log.format: unknown value 'xml'; expected one of json, text" },
	{ "bad log target", "log:\n  target: syslog\n" LOOPS, 1, 0, 2, 11,
	    "log.target: unknown value 'syslog'; expected one of stderr, "
	    "journald, file" },
	{ "log target typo", "log:\n  target: jounrald\n" LOOPS, 1, 0, 2, 11,
	    "log.target: unknown value 'jounrald'; did you mean 'journald'?" },
	{ "log target file without a path", "log:\n  target: file\n" LOOPS,
	    1, 0, 2, 11, "log.target: file needs `log.file:` the path of the "
	    "file to write" },
	{ "log file without target", "log:\n  file: loopd.log\n" LOOPS, 1, 0,
	    2, 9, "log.file: it is only used with `target: file`; add "
	    "`target: file` to `log:`" },
	{ "log file with target stderr", "log:\n  target: stderr\n"
	    "  file: loopd.log\n" LOOPS, 1, 0, 3, 9, "log.file: it is only "
	    "used with `target: file`, and log.target is stderr" },
	{ "log file with target journald", "log:\n  file: loopd.log\n"
	    "  target: journald\n" LOOPS, 1, 0, 2, 9, "log.target is journald" },
	{ "log file empty", "log:\n  target: file\n  file: ''\n" LOOPS, 1, 0,
	    3, 9, "log.file: the path is empty" },
	{ "log file a mapping", "log:\n  target: file\n  file: {a: 1}\n"
	    LOOPS, 1, 0, 3, 9, "log.file: expected a path, found a mapping" },
	{ "log rate not a rate", "log:\n  rate: 100\n" LOOPS, 1, 0, 2, 9,
	    "log.rate: '100' is not a rate: write N/DURATION, as in 100/1s" },
	{ "log rate zero", "log:\n  rate: 0/s\n" LOOPS, 1, 0, 2, 9,
	    "log.rate: '0/s': the count of records must be a whole number "
	    "from 1 to 1000000" },
	{ "log rate too many", "log:\n  rate: 1000001/s\n" LOOPS, 1, 0, 2, 9,
	    "from 1 to 1000000" },
	{ "log rate negative", "log:\n  rate: -5/s\n" LOOPS, 1, 0, 2, 9,
	    "the count of records must be" },
	{ "log rate zero window", "log:\n  rate: 5/0s\n" LOOPS, 1, 0, 2, 9,
	    "log.rate: the window '0s' must be more than 0" },
	{ "log rate bad window", "log:\n  rate: 5/fast\n" LOOPS, 1, 0, 2, 9,
	    "log.rate: the window 'fast' is not a valid duration" },
	{ "log rate no window", "log:\n  rate: 5/\n" LOOPS, 1, 0, 2, 9,
	    "log.rate: the window '' is not a valid duration" },

	/* on_exhausted. */
	{ "on_exhausted unknown", "on_exhausted: restart\n" LOOPS, 1, 0, 1, 15,
	    "on_exhausted: unknown value 'restart'; expected one of stay, "
	    "exit" },
	{ "on_exhausted typo", "on_exhausted: exti\n" LOOPS, 1, 0, 1, 15,
	    "on_exhausted: unknown value 'exti'; did you mean 'exit'?" },
	{ "on_exhausted a mapping", "on_exhausted: {a: 1}\n" LOOPS, 1, 0,
	    1, 15, "on_exhausted: expected one of stay, exit, found a "
	    "mapping" },

	/* restart: policy. */
	{ "restart a scalar", SUP_HEAD "    restart: always\n" SUP_TASKS,
	    1, 0, 3, 14, "loop 'net': restart: expected a mapping, found a "
	    "scalar" },
	{ "unknown restart key", RESTART("      polcy: never\n"), 1, 0, 4, 7,
	    "unknown key 'polcy' in restart of loop 'net'; did you mean "
	    "'policy'?" },
	{ "unknown policy", RESTART("      policy: sometimes\n"), 1, 0, 4, 15,
	    "loop 'net': restart.policy: unknown value 'sometimes'; expected "
	    "one of always, on-failure, never" },
	{ "policy typo", RESTART("      policy: on_failure\n"), 1, 0, 4, 15,
	    "restart.policy: unknown value 'on_failure'; did you mean "
	    "'on-failure'?" },

	/* restart: backoff. */
	{ "backoff not a range", RESTART("      backoff: 30s\n"), 1, 0, 4, 16,
	    "loop 'net': restart.backoff: '30s' is not a range: write "
	    "MIN..MAX, as in 100ms..30s" },
	{ "backoff a sequence", RESTART("      backoff: [1s, 2s]\n"), 1, 0,
	    4, 16, "restart.backoff: expected a range such as 100ms..30s, "
	    "found a sequence" },
	{ "backoff min zero", RESTART("      backoff: 0ms..1s\n"), 1, 0, 4, 16,
	    "restart.backoff: the minimum '0ms' must be more than 0" },
	{ "backoff min above max", RESTART("      backoff: 1m..30s\n"), 1, 0,
	    4, 16, "restart.backoff: the minimum 1m is more than the maximum "
	    "30s" },
	{ "backoff bad min", RESTART("      backoff: 1.5s..3s\n"), 1, 0, 4, 16,
	    "restart.backoff: the minimum '1.5s' is not a valid duration: "
	    "write a whole number" },
	{ "backoff bad max", RESTART("      backoff: 1s..3\n"), 1, 0, 4, 16,
	    "restart.backoff: the maximum '3' is not a valid duration: "
	    "missing unit" },
	{ "backoff empty max", RESTART("      backoff: 1s..\n"), 1, 0, 4, 16,
	    "the maximum '' is not a valid duration" },
	{ "backoff absurd max", RESTART("      backoff: 1s..200h\n"), 1, 0,
	    4, 16, "the maximum '200h' is not a valid duration: more than "
	    "7 days" },

	/* restart: intensity. */
	{ "intensity not a rate", RESTART("      intensity: 5\n"), 1, 0, 4, 18,
	    "loop 'net': restart.intensity: '5' is not a rate: write "
	    "N/DURATION, as in 5/60s" },
	{ "intensity zero", RESTART("      intensity: 0/60s\n"), 1, 0, 4, 18,
	    "restart.intensity: '0/60s': the count of restarts must be at "
	    "least 1 (for no restart, use policy: never)" },
	{ "intensity negative", RESTART("      intensity: -1/60s\n"), 1, 0,
	    4, 18, "the count of restarts must be a whole number from 1 to "
	    "10000" },
	{ "intensity too many", RESTART("      intensity: 10001/1h\n"), 1, 0,
	    4, 18, "'10001/1h': the count of restarts must be a whole number "
	    "from 1 to 10000" },
	{ "intensity fraction", RESTART("      intensity: 1.5/1h\n"), 1, 0,
	    4, 18, "the count of restarts must be a whole number" },
	{ "intensity window zero", RESTART("      intensity: 5/0s\n"), 1, 0,
	    4, 18, "restart.intensity: the window '0s' must be more than 0" },
	{ "intensity window bad", RESTART("      intensity: 5/60\n"), 1, 0,
	    4, 18, "restart.intensity: the window '60' is not a valid "
	    "duration: missing unit" },

	/* Timeouts and hang_action. */
	{ "start_timeout zero", SUP_HEAD "    start_timeout: 0s\n" SUP_TASKS,
	    1, 0, 3, 20, "loop 'net': start_timeout: '0s' must be more than "
	    "0" },
	{ "start_timeout too long", SUP_HEAD "    start_timeout: 61m\n"
	    SUP_TASKS, 1, 0, 3, 20, "loop 'net': start_timeout: '61m' is too "
	    "long: the limit is 1h" },
	{ "start_timeout bare number", SUP_HEAD "    start_timeout: 10\n"
	    SUP_TASKS, 1, 0, 3, 20, "start_timeout: '10' is not a valid "
	    "duration: missing unit" },
	{ "hang_timeout zero", SUP_HEAD "    hang_timeout: 0ms\n" SUP_TASKS,
	    1, 0, 3, 19, "loop 'net': hang_timeout: '0ms' must be more than "
	    "0" },
	{ "hang_timeout one ms too long", SUP_HEAD
	    "    hang_timeout: 3600001ms\n" SUP_TASKS, 1, 0, 3, 19,
	    "hang_timeout: '3600001ms' is too long: the limit is 1h" },
	{ "hang_timeout a mapping", SUP_HEAD "    hang_timeout: {s: 1}\n"
	    SUP_TASKS, 1, 0, 3, 19, "loop 'net': hang_timeout: expected a "
	    "duration such as 10s, found a mapping" },
	{ "hang_action unknown", SUP_HEAD "    hang_action: kill\n" SUP_TASKS,
	    1, 0, 3, 18, "loop 'net': hang_action: unknown value 'kill'; "
	    "expected one of restart, log" },
	{ "hang_action typo", SUP_HEAD "    hang_action: restrat\n" SUP_TASKS,
	    1, 0, 3, 18, "hang_action: unknown value 'restrat'; did you mean "
	    "'restart'?" },

	/* limits. */
	{ "limits a sequence", SUP_HEAD "    limits: [1]\n" SUP_TASKS, 1, 0,
	    3, 13, "loop 'net': limits: expected a mapping, found a "
	    "sequence" },
	{ "unknown limits key", LIMITS("      memroy: 1G\n"), 1, 0, 4, 7,
	    "unknown key 'memroy' in limits of loop 'net'; did you mean "
	    "'memory'?" },
	{ "unknown limits key, far", LIMITS("      nproc: 5\n"), 1, 0, 4, 7,
	    "unknown key 'nproc' in limits of loop 'net'; the keys are: "
	    "memory, open_files, cpu_seconds" },
	{ "memory too small", LIMITS("      memory: 1023K\n"), 1, 0, 4, 15,
	    "loop 'net': limits.memory: '1023K' is too small: a worker needs "
	    "at least 1M" },
	{ "memory in bytes too small", LIMITS("      memory: 1048575\n"), 1,
	    0, 4, 15, "'1048575' is too small" },
	{ "memory MB", LIMITS("      memory: 512MB\n"), 1, 0, 4, 15,
	    "limits.memory: unknown unit in '512MB'; did you mean '512M'?" },
	{ "memory lower case", LIMITS("      memory: 512m\n"), 1, 0, 4, 15,
	    "did you mean '512M'?" },
	{ "memory GiB", LIMITS("      memory: 2GiB\n"), 1, 0, 4, 15,
	    "did you mean '2G'?" },
	{ "memory unknown unit", LIMITS("      memory: 1T\n"), 1, 0, 4, 15,
	    "limits.memory: '1T' is not a valid size: write a whole number "
	    "of bytes, or with K, M or G (powers of 1024), as in 512M" },
	{ "memory fraction", LIMITS("      memory: 1.5G\n"), 1, 0, 4, 15,
	    "'1.5G' is not a valid size" },
	{ "memory negative", LIMITS("      memory: -1G\n"), 1, 0, 4, 15,
	    "'-1G' is not a valid size: it cannot be negative" },
	{ "memory words", LIMITS("      memory: lots\n"), 1, 0, 4, 15,
	    "'lots' is not a valid size: it is not a whole number" },
	{ "memory too large", LIMITS("      memory: 8589934592G\n"), 1, 0,
	    4, 15, "limits.memory: '8589934592G' is too large" },
	{ "memory overflow", LIMITS("      memory: 99999999999999999999\n"),
	    1, 0, 4, 15, "the number is too large" },
	{ "open_files too few", LIMITS("      open_files: 15\n"), 1, 0, 4, 19,
	    "loop 'net': limits.open_files: '15' is out of range: from 16 to "
	    "1048576" },
	{ "open_files too many", LIMITS("      open_files: 1048577\n"), 1, 0,
	    4, 19, "'1048577' is out of range: from 16 to 1048576" },
	{ "open_files with a unit", LIMITS("      open_files: 4k\n"), 1, 0,
	    4, 19, "limits.open_files: '4k' is not valid: it is not a whole "
	    "number" },
	{ "cpu_seconds zero", LIMITS("      cpu_seconds: 0\n"), 1, 0, 4, 20,
	    "loop 'net': limits.cpu_seconds: '0' is out of range: from 1 to "
	    "2147483647" },
	{ "cpu_seconds a duration", LIMITS("      cpu_seconds: 10s\n"), 1, 0,
	    4, 20, "'10s' is not valid: it is not a whole number" },
	{ "cpu_seconds empty value", LIMITS("      cpu_seconds:\n"), 1, 0,
	    4, 19, "limits.cpu_seconds: expected a whole number, found an "
	    "empty value" },
	{ "cpu_seconds overflow", LIMITS("      cpu_seconds: "
	    "18446744073709551616\n"), 1, 0, 4, 20, "the number is too large" },

	/* sandbox, user, group. */
	{ "sandbox a scalar", SUP_HEAD "    sandbox: strict\n" SUP_TASKS, 1, 0,
	    3, 14, "loop 'net': sandbox: expected a mapping, found a scalar" },
	{ "sandbox profile typo", SUP_HEAD "    sandbox: {profile: "
	    "network-sever}\n" SUP_TASKS, 1, 0, 3, 24, "loop 'net': "
	    "sandbox.profile: unknown value 'network-sever'; did you mean "
	    "'network-server'?" },
	{ "sandbox profile unknown", SUP_HEAD "    sandbox: {profile: "
	    "strict}\n" SUP_TASKS, 1, 0, 3, 24, "sandbox.profile: unknown "
	    "value 'strict'; expected one of none, network-server, compute" },
	{ "sandbox unknown key", SUP_HEAD "    sandbox: {profil: compute}\n"
	    SUP_TASKS, 1, 0, 3, 15, "unknown key 'profil' in the sandbox of "
	    "loop 'net'; did you mean 'profile'?" },
	{ "no_new_privs not a boolean", SUP_HEAD "    sandbox: "
	    "{no_new_privs: 1}\n" SUP_TASKS, 1, 0, 3, 29, "sandbox."
	    "no_new_privs: unknown value '1'; expected one of false, true" },
	{ "sandbox on a task", TASK_HEAD "        plugin: echo\n"
	    "        sandbox: {profile: compute}\n", 1, 0, 6, 9, "unknown key "
	    "'sandbox' in task 'echo'; it is a loop's setting" },
	{ "profile on a loop", SUP_HEAD "    profile: compute\n" SUP_TASKS, 1,
	    0, 3, 5, "unknown key 'profile' in loop 'net'; it goes inside "
	    "`sandbox:`" },
	{ "sandbox at the top", "sandbox: {profile: compute}\n" LOOPS, 1, 0,
	    1, 1, "unknown key 'sandbox' at the top level; it is set per "
	    "loop" },
	{ "user on a loop", SUP_HEAD "    user: nobody\n" SUP_TASKS, 1, 0, 3,
	    5, "unknown key 'user' in loop 'net'; it is set at the top "
	    "level" },
	{ "group without user", "group: nogroup\n" LOOPS, 1, 0, 1, 8,
	    "group: set `user:` too" },
	{ "user not a name", "user: 'a b'\n" LOOPS, 1, 0, 1, 7,
	    "user: 'a b' is not a valid user name" },
	{ "user empty", "user: ''\n" LOOPS, 1, 0, 1, 7,
	    "user: a user name cannot be empty" },
	{ "user a mapping", "user: {name: x}\n" LOOPS, 1, 0, 1, 7,
	    "user: expected a name, found a mapping" },

	/* Keys at the wrong level. */
	{ "backoff on a loop", SUP_HEAD "    backoff: 1s..2s\n" SUP_TASKS, 1, 0,
	    3, 5, "unknown key 'backoff' in loop 'net'; it goes inside "
	    "`restart:`" },
	{ "memory on a loop", SUP_HEAD "    memory: 1G\n" SUP_TASKS, 1, 0, 3, 5,
	    "unknown key 'memory' in loop 'net'; it goes inside `limits:`" },
	{ "on_exhausted on a loop", SUP_HEAD "    on_exhausted: exit\n"
	    SUP_TASKS, 1, 0, 3, 5, "unknown key 'on_exhausted' in loop "
	    "'net'; it is set at the top level" },
	{ "hang_timeout on a task", TASK_HEAD "        plugin: echo\n"
	    "        hang_timeout: 1s\n", 1, 0, 6, 9, "unknown key "
	    "'hang_timeout' in task 'echo'; it is a loop's setting, not a "
	    "task's" },
	{ "limits on a task", TASK_HEAD "        plugin: echo\n"
	    "        limits: {memory: 1G}\n", 1, 0, 6, 9, "unknown key "
	    "'limits' in task 'echo'; it is a loop's setting" },
	{ "policy on a task", TASK_HEAD "        plugin: echo\n"
	    "        policy: never\n", 1, 0, 6, 9, "unknown key 'policy' in "
	    "task 'echo'; it goes inside `restart:`" },
	{ "restart at the top", "restart: {policy: never}\n" LOOPS, 1, 0, 1, 1,
	    "unknown key 'restart' at the top level; it is set per loop or "
	    "per task" },

	/* A task's restart. */
	{ "task restart a scalar", TASK_HEAD "        plugin: echo\n"
	    "        restart: never\n", 1, 0, 6, 18, "task 'echo': restart: "
	    "expected a mapping, found a scalar" },
	{ "task restart unknown key", TASK_HEAD "        plugin: echo\n"
	    "        restart:\n          hang: 1s\n", 1, 0, 7, 11,
	    "unknown key 'hang' in restart of task 'echo'; the keys are: "
	    "policy, backoff, intensity" },
	{ "task backoff min above max", TASK_HEAD "        plugin: echo\n"
	    "        restart:\n          backoff: 2s..1s\n", 1, 0, 7, 20,
	    "task 'echo': restart.backoff: the minimum 2s is more than the "
	    "maximum 1s" },
	{ "task policy typo", TASK_HEAD "        plugin: echo\n"
	    "        restart: {policy: nevr}\n", 1, 0, 6, 27,
	    "task 'echo': restart.policy: unknown value 'nevr'; did you mean "
	    "'never'?" },
	{ "task intensity zero", TASK_HEAD "        plugin: echo\n"
	    "        restart: {intensity: 0/1s}\n", 1, 0, 6, 30,
	    "task 'echo': restart.intensity: '0/1s': the count of restarts "
	    "must be at least 1" },

	/* plugin_dir. */
	{ "empty plugin_dir", "plugin_dir: ''\n" LOOPS, 1, 0, 1, 13,
	    "plugin_dir: the directory name is empty" },
	{ "plugin_dir empty value", "plugin_dir:\n" LOOPS, 1, 0, 1, 12,
	    "plugin_dir: expected a directory, found an empty value" },
};

static struct conf *
parse(const char *yaml, struct conf_errors *errs)
{
	memset(errs, 0, sizeof *errs);
	return config_parse_string(yaml, strlen(yaml), "test.yaml", NULL,
	    "/usr/lib/loopd/plugins", errs);
}

static void
dump_errors(const char *what, const struct conf_errors *errs)
{
	char buf[1024];
	size_t i;

	for (i = 0; i < errs->n; i++) {
		conf_error_format(&errs->v[i], buf, sizeof buf);
		fprintf(stderr, "%s: [%zu] %s\n", what, i, buf);
	}
}

START_TEST(test_bad)
{
	const struct bad *b = &bad[_i];
	const struct conf_error *e;
	struct conf_errors errs;
	struct conf *conf;

	conf = parse(b->yaml, &errs);
	if (errs.n != b->nerr || errs.n <= b->which)
		dump_errors(b->what, &errs);
	ck_assert_msg(conf == NULL, "%s: parsed", b->what);
	ck_assert_msg(errs.n == b->nerr, "%s: %zu errors, expected %zu",
	    b->what, errs.n, b->nerr);
	e = &errs.v[b->which];
	ck_assert_msg(e->mark.line == b->line && e->mark.col == b->col,
	    "%s: at %d:%d, expected %d:%d (%s)", b->what, e->mark.line,
	    e->mark.col, b->line, b->col, e->msg);
	ck_assert_msg(strstr(e->msg, b->msg) != NULL,
	    "%s: message \"%s\" lacks \"%s\"", b->what, e->msg, b->msg);
	ck_assert_ptr_eq(e->mark.file, errs.file);
	ck_assert_str_eq(errs.file, "test.yaml");
	ck_assert_msg(strncmp(e->msg, "test.yaml", 9) != 0,
	    "%s: the message repeats the file name", b->what);
	conf_errors_free(&errs);
}
END_TEST

/* Every problem of a file with many, in file order. */
START_TEST(test_many_errors)
{
	static const char yaml[] =
	    "plugin_dir: plugins\n"			/* 1 */
	    "log:\n"					/* 2 */
	    "  level: loud\n"				/* 3 */
	    "  formt: text\n"				/* 4 */
	    "loops:\n"					/* 5 */
	    "  - name: net\n"				/* 6 */
	    "    backnd: epoll\n"			/* 7 */
	    "    tasks:\n"				/* 8 */
	    "      - name: echo\n"			/* 9 */
	    "        plugin: ../echo\n"		/* 10 */
	    "  - name: net\n"				/* 11 */
	    "    tasks:\n"				/* 12 */
	    "      - name: echo\n"			/* 13 */
	    "        plugin: echo\n"			/* 14 */
	    "        config: 7\n"			/* 15 */
	    "shutdown: {grace: 10}\n";			/* 16 */
	static const struct {
		int		 line, col;
		const char	*msg;
	} want[] = {
		{ 3, 10, "log.level: unknown value 'loud'" },
		{ 4, 3, "unknown key 'formt' in log; did you mean 'format'?" },
		{ 7, 5, "unknown key 'backnd' in loop 'net'; did you mean "
		    "'backend'?" },
		{ 10, 17, "task 'echo': plugin: '../echo' is not a valid" },
		{ 11, 11, "loop name 'net' is already used at test.yaml:6:11" },
		{ 13, 15, "task name 'echo' is already used at "
		    "test.yaml:9:15" },
		{ 15, 17, "config: expected a mapping, found a scalar" },
		{ 16, 19, "shutdown.grace: '10' is not a valid duration: "
		    "missing unit" },
	};
	struct conf_errors errs;
	size_t i;

	ck_assert_ptr_null(parse(yaml, &errs));
	if (errs.n != NELEM(want))
		dump_errors("many", &errs);
	ck_assert_uint_eq(errs.n, NELEM(want));
	for (i = 0; i < NELEM(want); i++) {
		ck_assert_msg(errs.v[i].mark.line == want[i].line &&
		    errs.v[i].mark.col == want[i].col, "[%zu] at %d:%d, "
		    "expected %d:%d", i, errs.v[i].mark.line,
		    errs.v[i].mark.col, want[i].line, want[i].col);
		ck_assert_msg(strstr(errs.v[i].msg, want[i].msg) != NULL,
		    "[%zu] \"%s\" lacks \"%s\"", i, errs.v[i].msg,
		    want[i].msg);
	}
	conf_errors_free(&errs);
}
END_TEST

/* log.target, log.file (relative to the file's directory) and log.rate. */
START_TEST(test_log_keys)
{
	static const char file[] = "log:\n  target: file\n  file: loopd.log\n"
	    "  rate: 100/s\n" LOOPS;
	static const char abs[] = "log:\n  target: file\n  file: /var/l.log\n"
	    "  rate: 20/250ms\n" LOOPS;
	static const char journal[] = "log:\n  target: journald\n" LOOPS;
	struct conf_errors errs = { 0 };
	struct conf *conf;

	conf = config_parse_string(file, strlen(file), "/etc/loopd/loopd.yaml",
	    NULL, NULL, &errs);
	dump_errors("log file", &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_int_eq(conf->log_target, CONF_LOG_FILE);
	ck_assert_str_eq(conf->log_file, "/etc/loopd/loopd.log");
	ck_assert_uint_eq(conf->log_rate, 100);
	ck_assert_uint_eq(conf->log_rate_ms, 1000);
	config_free(conf);

	conf = parse(abs, &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_str_eq(conf->log_file, "/var/l.log");
	ck_assert_uint_eq(conf->log_rate, 20);
	ck_assert_uint_eq(conf->log_rate_ms, 250);
	config_free(conf);

	conf = parse(journal, &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_int_eq(conf->log_target, CONF_LOG_JOURNALD);
	ck_assert_ptr_null(conf->log_file);
	ck_assert_uint_eq(conf->log_rate, 0);
	config_free(conf);

	conf = parse(LOOPS, &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_int_eq(conf->log_target, CONF_LOG_STDERR);
	ck_assert_ptr_null(conf->log_file);
	ck_assert_uint_eq(conf->log_rate, 0);
	config_free(conf);
}
END_TEST

START_TEST(test_full)
{
	static const char yaml[] =
	    "# every key\n"				/* 1 */
	    "plugin_dir: /opt/loopd/plugins/\n"		/* 2 */
	    "log:\n"					/* 3 */
	    "  level: warning\n"			/* 4 */
	    "  format: text\n"				/* 5 */
	    "  target: stderr\n"			/* 6 */
	    "shutdown:\n"				/* 7 */
	    "  grace: 2500ms\n"				/* 8 */
	    "loops:\n"					/* 9 */
	    "  - name: net.main\n"			/* 10 */
	    "    backend: epoll\n"			/* 11 */
	    "    tasks:\n"				/* 12 */
	    "      - name: echo-1\n"			/* 13 */
	    "        plugin: echo\n"			/* 14 */
	    "        config:\n"				/* 15 */
	    "          port: 7007\n"			/* 16 */
	    "          peers: [a, 'b']\n"		/* 17 */
	    "      - name: tick_2\n"			/* 18 */
	    "        plugin: ticker\n"			/* 19 */
	    "  - name: slow\n"				/* 20 */
	    "    backend: select\n"			/* 21 */
	    "    tasks: [{name: t3, plugin: my_plugin-2}]\n";	/* 22 */
	const struct conf_node *cfg;
	struct conf_errors errs;
	struct conf *conf;

	conf = parse(yaml, &errs);
	dump_errors("full", &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_uint_eq(errs.n, 0);
	ck_assert_ptr_null(errs.file);
	ck_assert_str_eq(conf->path, "test.yaml");
	ck_assert_str_eq(conf->plugin_dir, "/opt/loopd/plugins/");
	ck_assert_int_eq(conf->log_level, LOOPD_LOG_WARNING);
	ck_assert_int_eq(conf->log_format, CONF_LOG_TEXT);
	ck_assert_uint_eq(conf->grace_ms, 2500);
	ck_assert_uint_eq(conf->nloops, 2);

	ck_assert_str_eq(conf->loops[0].name, "net.main");
	ck_assert_int_eq(conf->loops[0].backend, CONF_BACKEND_EPOLL);
	ck_assert_int_eq(conf->loops[0].mark.line, 10);
	ck_assert_int_eq(conf->loops[0].mark.col, 5);
	ck_assert_ptr_eq(conf->loops[0].mark.file, conf->path);
	ck_assert_uint_eq(conf->loops[0].ntasks, 2);
	ck_assert_str_eq(conf->loops[0].tasks[0].name, "echo-1");
	ck_assert_str_eq(conf->loops[0].tasks[0].plugin, "echo");
	ck_assert_str_eq(conf->loops[0].tasks[0].plugin_path,
	    "/opt/loopd/plugins/echo.so");
	ck_assert_int_eq(conf->loops[0].tasks[0].mark.line, 13);
	ck_assert_int_eq(conf->loops[0].tasks[0].mark.col, 9);

	cfg = conf->loops[0].tasks[0].config;
	ck_assert_ptr_nonnull(cfg);
	ck_assert_int_eq(cfg->kind, CONF_MAP);
	ck_assert_uint_eq(cfg->n, 2);
	ck_assert_str_eq(cfg->keys[0], "port");
	ck_assert_int_eq(cfg->key_marks[0].line, 16);
	ck_assert_int_eq(cfg->key_marks[0].col, 11);
	ck_assert_str_eq(cfg->items[0]->value, "7007");
	ck_assert_int_eq(cfg->items[0]->quoted, 0);
	ck_assert_int_eq(cfg->items[0]->mark.col, 17);
	ck_assert_ptr_eq(cfg->items[0]->mark.file, conf->path);
	ck_assert_str_eq(cfg->keys[1], "peers");
	ck_assert_int_eq(cfg->items[1]->kind, CONF_SEQ);
	ck_assert_uint_eq(cfg->items[1]->n, 2);
	ck_assert_str_eq(cfg->items[1]->items[1]->value, "b");
	ck_assert_int_eq(cfg->items[1]->items[1]->quoted, 1);

	ck_assert_str_eq(conf->loops[0].tasks[1].name, "tick_2");
	ck_assert_str_eq(conf->loops[0].tasks[1].plugin_path,
	    "/opt/loopd/plugins/ticker.so");
	ck_assert_ptr_null(conf->loops[0].tasks[1].config);

	ck_assert_str_eq(conf->loops[1].name, "slow");
	ck_assert_int_eq(conf->loops[1].backend, CONF_BACKEND_SELECT);
	ck_assert_uint_eq(conf->loops[1].ntasks, 1);
	ck_assert_str_eq(conf->loops[1].tasks[0].plugin, "my_plugin-2");
	ck_assert_int_eq(conf->loops[1].tasks[0].mark.line, 22);
	ck_assert_int_eq(conf->loops[1].tasks[0].mark.col, 13);
	config_free(conf);
}
END_TEST

static void
expect_default_restart(const struct restart_conf *rc)
{
	ck_assert_int_eq(rc->policy, CONF_RESTART_ON_FAILURE);
	ck_assert_uint_eq(rc->backoff_min_ms, CONF_DEFAULT_BACKOFF_MIN_MS);
	ck_assert_uint_eq(rc->backoff_max_ms, CONF_DEFAULT_BACKOFF_MAX_MS);
	ck_assert_uint_eq(rc->intensity, CONF_DEFAULT_INTENSITY);
	ck_assert_uint_eq(rc->window_ms, CONF_DEFAULT_WINDOW_MS);
}

/* What the README promises when restart, timeouts and limits are unset. */
static void
expect_supervision_defaults(const struct conf *conf)
{
	const struct loop_conf *l = &conf->loops[0];

	ck_assert_int_eq(conf->on_exhausted, CONF_EXHAUSTED_STAY);
	expect_default_restart(&l->restart);
	expect_default_restart(&l->tasks[0].restart);
	ck_assert_uint_eq(CONF_DEFAULT_BACKOFF_MIN_MS, 100);
	ck_assert_uint_eq(CONF_DEFAULT_BACKOFF_MAX_MS, 30000);
	ck_assert_uint_eq(CONF_DEFAULT_INTENSITY, 5);
	ck_assert_uint_eq(CONF_DEFAULT_WINDOW_MS, 60000);
	ck_assert_uint_eq(l->start_timeout_ms, 10000);
	ck_assert_uint_eq(l->hang_timeout_ms, 5000);
	ck_assert_int_eq(l->hang_action, CONF_HANG_RESTART);
	ck_assert_uint_eq(l->limits.memory, 0);
	ck_assert_uint_eq(l->limits.open_files, 0);
	ck_assert_uint_eq(l->limits.cpu_seconds, 0);
}

START_TEST(test_defaults)
{
	static const char yaml[] =
	    "log:\n"
	    "shutdown: {}\n"
	    LOOPS
	    "        config:\n";
	struct conf_errors errs;
	struct conf *conf;

	conf = parse(yaml, &errs);
	dump_errors("defaults", &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_str_eq(conf->plugin_dir, "/usr/lib/loopd/plugins");
	ck_assert_int_eq(conf->log_level, LOOPD_LOG_INFO);
	ck_assert_int_eq(conf->log_format, CONF_LOG_JSON);
	ck_assert_uint_eq(conf->grace_ms, CONF_DEFAULT_GRACE_MS);
	ck_assert_int_eq(conf->loops[0].backend, CONF_BACKEND_AUTO);
	ck_assert_uint_eq(conf->loops[0].executor.workers, 0);	/* auto */
	ck_assert_int_eq(conf->loops[0].executor.kind, CONF_EXEC_IO);
	ck_assert_uint_eq(conf->loops[0].executor.queue, 1024);
	ck_assert_ptr_null(conf->loops[0].tasks[0].config);
	ck_assert_str_eq(conf->loops[0].tasks[0].plugin_path,
	    "/usr/lib/loopd/plugins/echo.so");
	expect_supervision_defaults(conf);
	config_free(conf);

	/* Empty `restart:` and `limits:` say nothing either. */
	conf = parse("loops:\n  - name: net\n    restart:\n    limits: {}\n"
	    "    tasks:\n      - {name: echo, plugin: echo, restart: {}}\n",
	    &errs);
	dump_errors("empty restart", &errs);
	ck_assert_ptr_nonnull(conf);
	expect_supervision_defaults(conf);
	config_free(conf);

	/* No default at all: the current directory. */
	memset(&errs, 0, sizeof errs);
	conf = config_parse_string(LOOPS, strlen(LOOPS), NULL, NULL, NULL,
	    &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_str_eq(conf->path, "<string>");
	ck_assert_str_eq(conf->plugin_dir, ".");
	ck_assert_str_eq(conf->loops[0].tasks[0].plugin_path, "./echo.so");
	config_free(conf);
}
END_TEST

/* Loop and task names are separate; 64 characters is the limit. */
START_TEST(test_names)
{
	static const char yaml[] =
	    "loops:\n"
	    "  - name: net\n"
	    "    tasks:\n"
	    "      - {name: net, plugin: echo}\n"
	    "  - name: " A65 "\n"
	    "    tasks:\n"
	    "      - {name: A.b-c_9, plugin: _-x}\n";
	struct conf_errors errs;
	struct conf *conf;
	char text[256], *cut;

	snprintf(text, sizeof text, "%s", yaml);
	cut = strstr(text, "a\n");		/* 65 a's become 64 */
	ck_assert_ptr_nonnull(cut);
	memmove(cut, cut + 1, strlen(cut + 1) + 1);
	conf = parse(text, &errs);
	dump_errors("names", &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_str_eq(conf->loops[0].tasks[0].name, "net");
	ck_assert_uint_eq(strlen(conf->loops[1].name), CONF_NAME_MAX);
	ck_assert_str_eq(conf->loops[1].tasks[0].name, "A.b-c_9");
	ck_assert_str_eq(conf->loops[1].tasks[0].plugin, "_-x");
	config_free(conf);
}
END_TEST

/* Every supervision key, at the top, on a loop and on its tasks. */
START_TEST(test_supervision)
{
	static const char yaml[] =
	    "on_exhausted: exit\n"
	    "loops:\n"
	    "  - name: net\n"
	    "    restart:\n"
	    "      policy: always\n"
	    "      backoff: 250ms..1m\n"
	    "      intensity: 3/10s\n"
	    "    start_timeout: 20s\n"
	    "    hang_timeout: 1500ms\n"
	    "    hang_action: log\n"
	    "    limits:\n"
	    "      memory: 512M\n"
	    "      open_files: 4096\n"
	    "      cpu_seconds: 3600\n"
	    "    tasks:\n"
	    "      - name: echo\n"
	    "        plugin: echo\n"
	    "        restart: {policy: never, backoff: 1s..2s, "
	    "intensity: 7/2m}\n"
	    "  - name: other\n"
	    "    restart: {policy: never}\n"
	    "    hang_action: restart\n"
	    "    tasks: [{name: t, plugin: echo}]\n";
	const struct loop_conf *l;
	const struct restart_conf *rc;
	struct conf_errors errs;
	struct conf *conf;

	conf = parse(yaml, &errs);
	dump_errors("supervision", &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_int_eq(conf->on_exhausted, CONF_EXHAUSTED_EXIT);
	l = &conf->loops[0];
	ck_assert_int_eq(l->restart.policy, CONF_RESTART_ALWAYS);
	ck_assert_uint_eq(l->restart.backoff_min_ms, 250);
	ck_assert_uint_eq(l->restart.backoff_max_ms, 60000);
	ck_assert_uint_eq(l->restart.intensity, 3);
	ck_assert_uint_eq(l->restart.window_ms, 10000);
	ck_assert_uint_eq(l->start_timeout_ms, 20000);
	ck_assert_uint_eq(l->hang_timeout_ms, 1500);
	ck_assert_int_eq(l->hang_action, CONF_HANG_LOG);
	ck_assert_uint_eq(l->limits.memory, 512ULL * 1024 * 1024);
	ck_assert_uint_eq(l->limits.open_files, 4096);
	ck_assert_uint_eq(l->limits.cpu_seconds, 3600);
	rc = &l->tasks[0].restart;
	ck_assert_int_eq(rc->policy, CONF_RESTART_NEVER);
	ck_assert_uint_eq(rc->backoff_min_ms, 1000);
	ck_assert_uint_eq(rc->backoff_max_ms, 2000);
	ck_assert_uint_eq(rc->intensity, 7);
	ck_assert_uint_eq(rc->window_ms, 120000);

	/* A loop that sets one key has the defaults for the others. */
	l = &conf->loops[1];
	ck_assert_int_eq(l->restart.policy, CONF_RESTART_NEVER);
	ck_assert_uint_eq(l->restart.backoff_min_ms, 100);
	ck_assert_uint_eq(l->restart.backoff_max_ms, 30000);
	ck_assert_uint_eq(l->restart.intensity, 5);
	ck_assert_uint_eq(l->restart.window_ms, 60000);
	ck_assert_int_eq(l->hang_action, CONF_HANG_RESTART);
	ck_assert_uint_eq(l->start_timeout_ms, 10000);
	ck_assert_uint_eq(l->limits.memory, 0);
	ck_assert_int_eq(l->tasks[0].restart.policy, CONF_RESTART_NEVER);
	ck_assert_uint_eq(l->tasks[0].restart.intensity, 5);
	config_free(conf);
}
END_TEST

/*
 * A task's restart, key by key: each key it sets replaces its loop's,
 * each it does not set is its loop's.  The loop's are not the defaults,
 * so that a key taken from the defaults instead shows.
 */
static const struct {
	const char		*restart;	/* the task's, or NULL */
	struct restart_conf	 want;
} overrides[] = {
	{ NULL, { CONF_RESTART_ALWAYS, 1000, 2000, 2, 5000 } },
	{ "{}", { CONF_RESTART_ALWAYS, 1000, 2000, 2, 5000 } },
	{ "{policy: never}", { CONF_RESTART_NEVER, 1000, 2000, 2, 5000 } },
	{ "{policy: on-failure}",
	    { CONF_RESTART_ON_FAILURE, 1000, 2000, 2, 5000 } },
	{ "{backoff: 5ms..10ms}", { CONF_RESTART_ALWAYS, 5, 10, 2, 5000 } },
	{ "{intensity: 9/1h}",
	    { CONF_RESTART_ALWAYS, 1000, 2000, 9, 3600000 } },
	{ "{intensity: 1/1ms, policy: never}",
	    { CONF_RESTART_NEVER, 1000, 2000, 1, 1 } },
	{ "{backoff: 3s..3s, intensity: 4/4s, policy: always}",
	    { CONF_RESTART_ALWAYS, 3000, 3000, 4, 4000 } },
};

START_TEST(test_task_override)
{
	const struct restart_conf *got, *want = &overrides[_i].want;
	struct conf_errors errs;
	struct conf *conf;
	char yaml[512];

	snprintf(yaml, sizeof yaml, "loops:\n"
	    "  - name: net\n"
	    "    restart: {policy: always, backoff: 1s..2s, intensity: 2/5s}\n"
	    "    tasks:\n"
	    "      - name: first\n"
	    "        plugin: echo\n"
	    "        restart: {policy: never, backoff: 7s..8s, "
	    "intensity: 7/7s}\n"
	    "      - name: echo\n"
	    "        plugin: echo\n"
	    "%s%s%s",
	    overrides[_i].restart != NULL ? "        restart: " : "",
	    overrides[_i].restart != NULL ? overrides[_i].restart : "",
	    overrides[_i].restart != NULL ? "\n" : "");
	conf = parse(yaml, &errs);
	dump_errors(yaml, &errs);
	ck_assert_ptr_nonnull(conf);
	/* The task before it does not change what this one inherits. */
	got = &conf->loops[0].tasks[1].restart;
	ck_assert_int_eq(got->policy, want->policy);
	ck_assert_uint_eq(got->backoff_min_ms, want->backoff_min_ms);
	ck_assert_uint_eq(got->backoff_max_ms, want->backoff_max_ms);
	ck_assert_uint_eq(got->intensity, want->intensity);
	ck_assert_uint_eq(got->window_ms, want->window_ms);
	config_free(conf);
}
END_TEST

/* A task with no restart of its own, in a loop with none: defaults. */
START_TEST(test_task_override_defaults)
{
	static const char yaml[] = "loops:\n"
	    "  - name: net\n"
	    "    tasks:\n"
	    "      - {name: a, plugin: echo, restart: {policy: always}}\n"
	    "      - {name: b, plugin: echo}\n";
	const struct restart_conf *a;
	struct conf_errors errs;
	struct conf *conf;

	conf = parse(yaml, &errs);
	ck_assert_ptr_nonnull(conf);
	a = &conf->loops[0].tasks[0].restart;
	ck_assert_int_eq(a->policy, CONF_RESTART_ALWAYS);
	ck_assert_uint_eq(a->backoff_min_ms, CONF_DEFAULT_BACKOFF_MIN_MS);
	ck_assert_uint_eq(a->backoff_max_ms, CONF_DEFAULT_BACKOFF_MAX_MS);
	ck_assert_uint_eq(a->intensity, CONF_DEFAULT_INTENSITY);
	ck_assert_uint_eq(a->window_ms, CONF_DEFAULT_WINDOW_MS);
	expect_default_restart(&conf->loops[0].tasks[1].restart);
	expect_default_restart(&conf->loops[0].restart);
	config_free(conf);
}
END_TEST

/* Values at and near their bounds that are accepted. */
enum field {
	F_MEMORY, F_FILES, F_CPU, F_START, F_HANG, F_BMIN, F_BMAX, F_COUNT,
	F_WINDOW,
};

static const struct {
	const char	*lines;		/* loop keys, at 4 spaces */
	enum field	 field;
	uint64_t	 want;
} good_values[] = {
	{ "    limits: {memory: 1M}\n", F_MEMORY, 1048576 },
	{ "    limits: {memory: 1048576}\n", F_MEMORY, 1048576 },
	{ "    limits: {memory: 1024K}\n", F_MEMORY, 1048576 },
	{ "    limits: {memory: 512M}\n", F_MEMORY, 536870912 },
	{ "    limits: {memory: 2G}\n", F_MEMORY, 2147483648ULL },
	{ "    limits: {memory: '64M'}\n", F_MEMORY, 67108864 },
	{ "    limits: {memory: 8589934591G}\n", F_MEMORY,
	    8589934591ULL << 30 },
	{ "    limits: {open_files: 16}\n", F_FILES, 16 },
	{ "    limits: {open_files: 1048576}\n", F_FILES, 1048576 },
	{ "    limits: {open_files: 04096}\n", F_FILES, 4096 },
	{ "    limits: {cpu_seconds: 1}\n", F_CPU, 1 },
	{ "    limits: {cpu_seconds: 2147483647}\n", F_CPU, 2147483647 },
	{ "    start_timeout: 1ms\n", F_START, 1 },
	{ "    start_timeout: 1h\n", F_START, 3600000 },
	{ "    start_timeout: 3600000ms\n", F_START, 3600000 },
	{ "    hang_timeout: 1ms\n", F_HANG, 1 },
	{ "    hang_timeout: 60m\n", F_HANG, 3600000 },
	{ "    restart: {backoff: 1ms..1ms}\n", F_BMIN, 1 },
	{ "    restart: {backoff: 1ms..1ms}\n", F_BMAX, 1 },
	{ "    restart: {backoff: 10s..168h}\n", F_BMAX, 604800000 },
	{ "    restart: {backoff: '10s..1m'}\n", F_BMIN, 10000 },
	{ "    restart: {intensity: 1/1ms}\n", F_COUNT, 1 },
	{ "    restart: {intensity: 1/1ms}\n", F_WINDOW, 1 },
	{ "    restart: {intensity: 10000/168h}\n", F_COUNT, 10000 },
	{ "    restart: {intensity: 10000/168h}\n", F_WINDOW, 604800000 },
};

/* sandbox: the profile, and no_new_privs on by default with one. */
static const struct {
	const char			*lines;
	enum conf_sandbox_profile	 profile;
	int				 nnp;
} sandboxes[] = {
	{ "", CONF_SANDBOX_NONE, 0 },
	{ "    sandbox: {}\n", CONF_SANDBOX_NONE, 0 },
	{ "    sandbox: {profile: none}\n", CONF_SANDBOX_NONE, 0 },
	{ "    sandbox: {no_new_privs: true}\n", CONF_SANDBOX_NONE, 1 },
	{ "    sandbox: {profile: network-server}\n",
	    CONF_SANDBOX_NETWORK_SERVER, 1 },
	{ "    sandbox: {profile: compute}\n", CONF_SANDBOX_COMPUTE, 1 },
	{ "    sandbox: {profile: compute, no_new_privs: false}\n",
	    CONF_SANDBOX_COMPUTE, 0 },
	{ "    sandbox:\n      no_new_privs: false\n      profile: "
	    "network-server\n", CONF_SANDBOX_NETWORK_SERVER, 0 },
};

START_TEST(test_sandbox)
{
	struct conf_errors errs;
	struct conf *conf;
	char yaml[256];

	snprintf(yaml, sizeof yaml, SUP_HEAD "%s" SUP_TASKS,
	    sandboxes[_i].lines);
	conf = parse(yaml, &errs);
	dump_errors(sandboxes[_i].lines, &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_int_eq(conf->loops[0].sandbox.profile, sandboxes[_i].profile);
	ck_assert_int_eq(conf->loops[0].sandbox.no_new_privs,
	    sandboxes[_i].nnp);
	ck_assert_ptr_null(conf->user);
	config_free(conf);
}
END_TEST

START_TEST(test_user)
{
	struct conf_errors errs;
	struct conf *conf;

	conf = parse("user: nobody\ngroup: nogroup\n" LOOPS, &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_str_eq(conf->user, "nobody");
	ck_assert_str_eq(conf->group, "nogroup");
	ck_assert_int_eq(conf->user_mark.line, 1);
	ck_assert_int_eq(conf->user_mark.col, 7);
	ck_assert_str_eq(conf->user_mark.file, conf->path);
	config_free(conf);
	conf = parse("user: daemon\n" LOOPS, &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_str_eq(conf->user, "daemon");
	ck_assert_ptr_null(conf->group);
	config_free(conf);
}
END_TEST

START_TEST(test_good_values)
{
	const struct loop_conf *l;
	struct conf_errors errs;
	struct conf *conf;
	uint64_t got = 0;
	char yaml[256];

	snprintf(yaml, sizeof yaml, SUP_HEAD "%s" SUP_TASKS,
	    good_values[_i].lines);
	conf = parse(yaml, &errs);
	dump_errors(good_values[_i].lines, &errs);
	ck_assert_ptr_nonnull(conf);
	l = &conf->loops[0];
	switch (good_values[_i].field) {
	case F_MEMORY:
		got = l->limits.memory;
		break;
	case F_FILES:
		got = l->limits.open_files;
		break;
	case F_CPU:
		got = l->limits.cpu_seconds;
		break;
	case F_START:
		got = l->start_timeout_ms;
		break;
	case F_HANG:
		got = l->hang_timeout_ms;
		break;
	case F_BMIN:
		got = l->restart.backoff_min_ms;
		break;
	case F_BMAX:
		got = l->restart.backoff_max_ms;
		break;
	case F_COUNT:
		got = l->restart.intensity;
		break;
	case F_WINDOW:
		got = l->restart.window_ms;
		break;
	}
	ck_assert_uint_eq(got, good_values[_i].want);
	config_free(conf);
}
END_TEST

static const struct {
	const char	*name;		/* the file */
	const char	*dir;		/* plugin_dir in it, or NULL */
	const char	*override;
	const char	*want;
} dirs[] = {
	{ "conf/loopd.yaml", "plugins", NULL, "conf/plugins" },
	{ "/etc/loopd/loopd.yaml", "../lib", NULL, "/etc/loopd/../lib" },
	{ "/loopd.yaml", "p", NULL, "/p" },
	{ "loopd.yaml", "plugins", NULL, "plugins" },
	{ "conf/loopd.yaml", "/abs/plugins", NULL, "/abs/plugins" },
	{ "conf/loopd.yaml", "plugins", "cli/plugins", "cli/plugins" },
	{ "conf/loopd.yaml", NULL, "/cli", "/cli" },
	{ "conf/loopd.yaml", NULL, NULL, "/default" },
};

START_TEST(test_plugin_dir)
{
	struct conf_errors errs;
	struct conf *conf;
	char yaml[256];

	snprintf(yaml, sizeof yaml, "%s%s%s" LOOPS,
	    dirs[_i].dir != NULL ? "plugin_dir: " : "",
	    dirs[_i].dir != NULL ? dirs[_i].dir : "",
	    dirs[_i].dir != NULL ? "\n" : "");
	memset(&errs, 0, sizeof errs);
	conf = config_parse_string(yaml, strlen(yaml), dirs[_i].name,
	    dirs[_i].override, "/default", &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_str_eq(conf->plugin_dir, dirs[_i].want);
	ck_assert_str_eq(conf->path, dirs[_i].name);
	config_free(conf);
}
END_TEST

static const struct {
	const char	*text;
	uint64_t	 ms;
} good_durations[] = {
	{ "0ms", 0 }, { "0s", 0 }, { "1ms", 1 }, { "250ms", 250 },
	{ "10s", 10000 }, { "5m", 300000 }, { "1h", 3600000 },
	{ "007s", 7000 }, { "168h", 604800000 }, { "10080m", 604800000 },
	{ "604800s", 604800000 }, { "604800000ms", 604800000 },
};

START_TEST(test_duration_good)
{
	const char *err = NULL;
	uint64_t ms = 1234567;

	ck_assert_int_eq(config_parse_duration(good_durations[_i].text, &ms,
	    &err), 0);
	ck_assert_uint_eq(ms, good_durations[_i].ms);
}
END_TEST

static const struct {
	const char	*text;
	const char	*err;
} bad_durations[] = {
	{ "", "write a whole number and a unit" },
	{ "10", "missing unit" },
	{ "-1s", "cannot be negative" },
	{ "+1s", "write a whole number and a unit" },
	{ "s", "write a whole number and a unit" },
	{ "1.5s", "write a whole number" },
	{ "10 s", "unknown unit" },
	{ "10S", "unknown unit" },
	{ "10d", "unknown unit" },
	{ "10sx", "unknown unit" },
	{ "169h", "more than 7 days" },
	{ "10081m", "more than 7 days" },
	{ "604800001ms", "more than 7 days" },
	{ "18446744073709551615ms", "more than 7 days" },
	{ "18446744073709551616ms", "too large" },
	{ "99999999999999999999999h", "too large" },
};

START_TEST(test_duration_bad)
{
	const char *err = NULL;
	uint64_t ms = 42;

	ck_assert_int_eq(config_parse_duration(bad_durations[_i].text, &ms,
	    &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, bad_durations[_i].err) != NULL,
	    "\"%s\": \"%s\" lacks \"%s\"", bad_durations[_i].text, err,
	    bad_durations[_i].err);
	ck_assert_uint_eq(ms, 42);
}
END_TEST

/* control: and metrics:, and their defaults. */
START_TEST(test_control_metrics)
{
	struct conf_errors errs;
	struct conf *conf;

	conf = parse(LOOPS, &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_str_eq(conf->control_socket, CONF_DEFAULT_CONTROL_SOCKET);
	ck_assert_int_eq(conf->control_explicit, 0);
	ck_assert_uint_eq(conf->control_mode, 0660);
	ck_assert_int_eq(conf->control_gid, -1);
	ck_assert_int_eq(conf->control_ro_gid, -1);
	ck_assert_ptr_null(conf->metrics_host);
	config_free(conf);

	conf = parse("control: {socket: /tmp/x.sock, mode: '0600', group: 0, "
	    "read_only_group: root}\nmetrics: {listen: '[::1]:9477'}\n"
	    LOOPS, &errs);
	dump_errors("control", &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_str_eq(conf->control_socket, "/tmp/x.sock");
	ck_assert_int_eq(conf->control_explicit, 1);
	ck_assert_uint_eq(conf->control_mode, 0600);
	ck_assert_int_eq(conf->control_gid, 0);
	ck_assert_int_eq(conf->control_ro_gid, 0);
	ck_assert_str_eq(conf->metrics_host, "::1");
	ck_assert_uint_eq(conf->metrics_port, 9477);
	config_free(conf);
}
END_TEST

START_TEST(test_grace_bounds)
{
	static const struct {
		const char	*grace;
		uint64_t	 ms;
	} ok[] = {
		{ "0ms", 0 }, { "1h", 3600000 }, { "60m", 3600000 },
		{ "3600000ms", 3600000 }, { "'90s'", 90000 },
	};
	struct conf_errors errs;
	struct conf *conf;
	char yaml[256];
	size_t i;

	for (i = 0; i < NELEM(ok); i++) {
		snprintf(yaml, sizeof yaml, "shutdown: {grace: %s}\n" LOOPS,
		    ok[i].grace);
		conf = parse(yaml, &errs);
		ck_assert_msg(conf != NULL, "%s refused", ok[i].grace);
		ck_assert_uint_eq(conf->grace_ms, ok[i].ms);
		config_free(conf);
	}
}
END_TEST

START_TEST(test_scalars)
{
	static const char yaml[] = TASK_HEAD "        plugin: echo\n"
	    "        config:\n"
	    "          a: ~\n"
	    "          b: null\n"
	    "          c:\n"
	    "          d: ''\n"
	    "          e: \"x\"\n"
	    "          f: |\n"
	    "            text\n";
	const struct conf_node *cfg;
	struct conf_errors errs;
	struct conf *conf;

	conf = parse(yaml, &errs);
	dump_errors("scalars", &errs);
	ck_assert_ptr_nonnull(conf);
	cfg = conf->loops[0].tasks[0].config;
	ck_assert_uint_eq(cfg->n, 6);
	ck_assert_int_eq(cfg->items[0]->is_null, 1);
	ck_assert_str_eq(cfg->items[0]->value, "");
	ck_assert_int_eq(cfg->items[1]->is_null, 1);
	ck_assert_str_eq(cfg->items[1]->value, "");
	ck_assert_int_eq(cfg->items[2]->is_null, 1);
	ck_assert_int_eq(cfg->items[3]->is_null, 0);
	ck_assert_int_eq(cfg->items[3]->quoted, 1);
	ck_assert_int_eq(cfg->items[4]->quoted, 1);
	ck_assert_str_eq(cfg->items[4]->value, "x");
	ck_assert_int_eq(cfg->items[5]->quoted, 1);
	ck_assert_str_eq(cfg->items[5]->value, "text\n");
	ck_assert_int_eq(cfg->items[2]->mark.line, 9);
	ck_assert_int_eq(cfg->items[2]->mark.col, 13);
	config_free(conf);
}
END_TEST

START_TEST(test_file)
{
	struct conf_errors errs;
	struct conf *conf;
	char dir[] = "/tmp/test_config.XXXXXX", path[128];
	char buf[256], want[256];
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/loopd.yaml", dir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("plugin_dir: plugins\n" LOOPS, f);
	fclose(f);

	memset(&errs, 0, sizeof errs);
	conf = config_parse_file(path, NULL, "/default", &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_str_eq(conf->path, path);
	snprintf(want, sizeof want, "%s/plugins", dir);
	ck_assert_str_eq(conf->plugin_dir, want);
	snprintf(want, sizeof want, "%s/plugins/echo.so", dir);
	ck_assert_str_eq(conf->loops[0].tasks[0].plugin_path, want);
	config_free(conf);

	/* Errors name the file as given. */
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("loops: 1\n", f);
	fclose(f);
	conf = config_parse_file(path, NULL, "/default", &errs);
	ck_assert_ptr_null(conf);
	ck_assert_uint_eq(errs.n, 1);
	conf_error_format(&errs.v[0], buf, sizeof buf);
	snprintf(want, sizeof want, "%s:1:8: loops: expected a sequence of "
	    "loops, found a scalar", path);
	ck_assert_str_eq(buf, want);
	conf_errors_free(&errs);

	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(test_file_missing)
{
	struct conf_errors errs;
	char buf[256];

	memset(&errs, 0, sizeof errs);
	ck_assert_ptr_null(config_parse_file("/nonexistent/loopd.yaml", NULL,
	    NULL, &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.file, "/nonexistent/loopd.yaml");
	ck_assert_ptr_eq(errs.v[0].mark.file, errs.file);
	ck_assert_int_eq(errs.v[0].mark.line, 0);
	ck_assert_int_eq(errs.v[0].mark.col, 0);
	ck_assert_str_eq(errs.v[0].msg,
	    "cannot read: No such file or directory");
	conf_error_format(&errs.v[0], buf, sizeof buf);
	ck_assert_str_eq(buf, "/nonexistent/loopd.yaml: cannot read: "
	    "No such file or directory");
	conf_errors_free(&errs);

	/* A directory opens but cannot be read. */
	ck_assert_ptr_null(config_parse_file("/", NULL, NULL, &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.v[0].msg, "cannot read: Is a directory");
	conf_errors_free(&errs);
}
END_TEST

/* Only a regular file is read: a FIFO would block, a device not end. */
START_TEST(test_file_not_regular)
{
	struct conf_errors errs;
	char dir[] = "/tmp/test_config.XXXXXX", path[128], buf[256];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/fifo.yaml", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	memset(&errs, 0, sizeof errs);
	ck_assert_ptr_null(config_parse_file(path, NULL, NULL, &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(errs.v[0].mark.line, 0);
	conf_error_format(&errs.v[0], buf, sizeof buf);
	ck_assert_msg(strncmp(buf, path, strlen(path)) == 0 &&
	    strstr(buf, ": cannot read: not a regular file but a FIFO; the "
	    "configuration must be a regular file") != NULL, "%s", buf);
	conf_errors_free(&errs);
	unlink(path);
	rmdir(dir);

	ck_assert_ptr_null(config_parse_file("/dev/null", NULL, NULL, &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.v[0].msg, "cannot read: not a regular file but "
	    "a character device; the configuration must be a regular file");
	conf_errors_free(&errs);
}
END_TEST

/* A file of CONF_FILE_MAX bytes is read; one byte more is refused. */
START_TEST(test_file_too_large)
{
	struct conf_errors errs;
	char dir[] = "/tmp/test_config.XXXXXX", path[128];
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/big.yaml", dir);
	ck_assert_int_ne(fd = open(path, O_WRONLY | O_CREAT, 0600), -1);
	ck_assert_int_eq(ftruncate(fd, CONF_FILE_MAX + 1), 0);
	memset(&errs, 0, sizeof errs);
	ck_assert_ptr_null(config_parse_file(path, NULL, NULL, &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(errs.v[0].mark.line, 0);
	ck_assert_str_eq(errs.v[0].msg, "cannot read: the file is 16777217 "
	    "bytes, more than 16 MiB, the limit for a configuration");
	conf_errors_free(&errs);

	/* At the limit it is read, and its NUL bytes are what is wrong. */
	ck_assert_int_eq(ftruncate(fd, CONF_FILE_MAX), 0);
	ck_assert_ptr_null(config_parse_file(path, NULL, NULL, &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(errs.v[0].mark.line, 1);
	ck_assert_ptr_null(strstr(errs.v[0].msg, "MiB"));
	conf_errors_free(&errs);
	close(fd);
	unlink(path);
	rmdir(dir);
}
END_TEST

START_TEST(test_executor_values)
{
	const char *yaml =
	    "loops:\n"
	    "  - name: a\n"
	    "    executor: {workers: 8, kind: cpu, queue: 5}\n"
	    "    tasks: [{name: t, plugin: echo}]\n"
	    "  - name: b\n"
	    "    executor: {workers: auto}\n"
	    "    tasks: [{name: u, plugin: echo}]\n";
	struct conf_errors errs;
	struct conf *conf;

	conf = parse(yaml, &errs);
	dump_errors("executor", &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_uint_eq(conf->loops[0].executor.workers, 8);
	ck_assert_int_eq(conf->loops[0].executor.kind, CONF_EXEC_CPU);
	ck_assert_uint_eq(conf->loops[0].executor.queue, 5);
	ck_assert_int_eq(conf->loops[0].executor.mark.line, 3);
	ck_assert_int_eq(conf->loops[0].executor.mark.col, 25);
	ck_assert_uint_eq(conf->loops[1].executor.workers, 0);
	ck_assert_int_eq(conf->loops[1].executor.kind, CONF_EXEC_IO);
	ck_assert_uint_eq(conf->loops[1].executor.queue, 1024);
	ck_assert_str_eq(config_exec_kind_name(CONF_EXEC_CPU), "cpu");
	config_free(conf);
}
END_TEST

START_TEST(test_backend_name)
{
	ck_assert_str_eq(config_backend_name(CONF_BACKEND_AUTO), "auto");
	ck_assert_str_eq(config_backend_name(CONF_BACKEND_EPOLL), "epoll");
	ck_assert_str_eq(config_backend_name(CONF_BACKEND_POLL), "poll");
	ck_assert_str_eq(config_backend_name(CONF_BACKEND_SELECT), "select");
}
END_TEST

/* The one error of errs: at line:col, its message holding msg. */
static void
expect_one(const struct conf_errors *errs, size_t i, int line, int col,
    const char *msg)
{
	ck_assert_uint_gt(errs->n, i);
	ck_assert_msg(errs->v[i].mark.line == line &&
	    errs->v[i].mark.col == col, "[%zu] at %d:%d, expected %d:%d (%s)",
	    i, errs->v[i].mark.line, errs->v[i].mark.col, line, col,
	    errs->v[i].msg);
	ck_assert_msg(strstr(errs->v[i].msg, msg) != NULL,
	    "[%zu] \"%s\" lacks \"%s\"", i, errs->v[i].msg, msg);
}

/*
 * A config: mapping of n keys k0..k(n-1), one a line from line 7, with a
 * repeat of k<dup> after key <at>, and a repeat of the last key at the
 * end.  Small maps are scanned and larger ones hashed: both must find each
 * repeat and name the place of the first.
 */
static const struct {
	size_t	 n, dup, at;
} repeats[] = {
	{ 3, 0, 1 }, { 7, 0, 6 }, { 8, 0, 7 }, { 8, 7, 7 }, { 9, 0, 8 },
	{ 9, 3, 3 }, { 10, 8, 9 }, { 200, 0, 150 }, { 200, 7, 7 },
	{ 200, 8, 8 }, { 200, 100, 199 }, { 5000, 4321, 4999 },
};

START_TEST(test_repeated_keys)
{
	struct conf_errors errs;
	char *text, want[128];
	size_t i, size, n = repeats[_i].n, dup = repeats[_i].dup;
	FILE *f;
	int line = 7, dupline = 0, lastline = 0;

	ck_assert_ptr_nonnull(f = open_memstream(&text, &size));
	fputs(TASK_HEAD "        plugin: echo\n        config:\n", f);
	for (i = 0; i < n; i++) {
		fprintf(f, "          k%zu: %zu\n", i, i);
		lastline = line++;
		if (i == repeats[_i].at) {
			fprintf(f, "          k%zu: again\n", dup);
			dupline = line++;
		}
	}
	fprintf(f, "          k%zu: again\n", n - 1);
	fclose(f);

	ck_assert_ptr_null(parse(text, &errs));
	if (errs.n != 2)
		dump_errors("repeats", &errs);
	ck_assert_uint_eq(errs.n, 2);
	snprintf(want, sizeof want, "duplicate key 'k%zu'; it is first at "
	    "test.yaml:%zu:11", dup, 7 + dup);
	expect_one(&errs, 0, dupline, 11, want);
	snprintf(want, sizeof want, "duplicate key 'k%zu'; it is first at "
	    "test.yaml:%d:11", n - 1, lastline);
	expect_one(&errs, 1, line, 11, want);
	conf_errors_free(&errs);
	free(text);
}
END_TEST

/* Among many loops and tasks, a name used twice is named with both
 * places, whichever loop each is in. */
START_TEST(test_repeated_names)
{
	struct conf_errors errs;
	char *text;
	size_t i, j, size;
	FILE *f;

	ck_assert_ptr_nonnull(f = open_memstream(&text, &size));
	fputs("loops:\n", f);				/* line 1 */
	for (i = 0; i < 50; i++) {			/* 22 lines a loop */
		fprintf(f, "  - name: l%zu\n    tasks:\n", i);
		for (j = 0; j < 20; j++)
			fprintf(f, "      - {name: t%zu_%zu, plugin: echo}\n",
			    i, j);
	}
	fputs("  - name: l7\n"				/* line 1102 */
	    "    tasks:\n"
	    "      - {name: t3_5, plugin: echo}\n"	/* line 1104 */
	    "      - {name: new, plugin: echo}\n"
	    "      - {name: t49_19, plugin: echo}\n", f);	/* line 1106 */
	fclose(f);

	ck_assert_ptr_null(parse(text, &errs));
	if (errs.n != 3)
		dump_errors("names", &errs);
	ck_assert_uint_eq(errs.n, 3);
	/* l7 at line 2 + 7 * 22, t3_5 at 2 + 3 * 22 + 2 + 5. */
	expect_one(&errs, 0, 1102, 11, "loop name 'l7' is already used at "
	    "test.yaml:156:11; loop names must be unique");
	expect_one(&errs, 1, 1104, 16, "task name 't3_5' is already used at "
	    "test.yaml:75:16; task names must be unique across loops");
	expect_one(&errs, 2, 1106, 16, "task name 't49_19' is already used "
	    "at test.yaml:1101:16; task names must be unique across loops");
	conf_errors_free(&errs);
	free(text);
}
END_TEST

/* Inputs that once were easy to get wrong must not crash or leak. */
START_TEST(test_odd_inputs)
{
	static const char *const odd[] = {
		"loops: [{name: a, tasks: [{name: b, plugin: c, config: "
		    "{x: *y}}]}]\n",
		"&a loops: x\n",
		"loops: !!map {}\n",
		"? |\n  multi\n: 1\n",
		"{}: 1\n",
		"loops:\n  - &l {name: a, tasks: [{name: b, plugin: c}]}\n"
		    "  - *l\n",
		"...\n",
		"--- 5\n",
		"\xef\xbb\xbfloops: 5\n",
		"loops:\n  - name: a\n    tasks:\n      - name: b\n"
		    "        plugin: c\n        config: {a: 1, a: 2, a: 3}\n",
	};
	struct conf_errors errs;
	struct conf *conf;
	size_t i;

	for (i = 0; i < NELEM(odd); i++) {
		conf = parse(odd[i], &errs);
		ck_assert_msg(conf == NULL, "odd[%zu] parsed", i);
		ck_assert_msg(errs.n > 0, "odd[%zu]: no error", i);
		conf_errors_free(&errs);
	}
}
END_TEST

/* ---- include: fragments --------------------------------------------------- */

/* A scratch directory for files; rm -r'd by frag_dir_free(). */
struct frag_dir {
	char		 path[64];
};

static void
frag_dir_new(struct frag_dir *d)
{
	char sub[96];

	snprintf(d->path, sizeof d->path, "/tmp/test_config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d->path));
	snprintf(sub, sizeof sub, "%s/conf.d", d->path);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
}

/* dir/name holds text; the full path into buf (128 bytes). */
static const char *
frag_write(const struct frag_dir *d, const char *name, const char *text,
    char *buf)
{
	FILE *f;

	snprintf(buf, 128, "%s/%s", d->path, name);
	ck_assert_ptr_nonnull(f = fopen(buf, "w"));
	fputs(text, f);
	fclose(f);
	return buf;
}

static void
frag_dir_free(const struct frag_dir *d)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->path);
	ck_assert_int_eq(system(cmd), 0);
}

/* dir/main.yaml parsed: the conf, or NULL with errs. */
static struct conf *
frag_parse(const struct frag_dir *d, const char *main_text,
    struct conf_errors *errs)
{
	char path[128];

	frag_write(d, "main.yaml", main_text, path);
	memset(errs, 0, sizeof *errs);
	return config_parse_file(path, NULL, "/plugins", errs);
}

/* Loops come from the main file, then each fragment in sorted order;
 * every mark names the file it is in. */
START_TEST(test_include)
{
	struct frag_dir d;
	struct conf_errors errs;
	struct conf *conf;
	const struct conf_node *port;
	char a[128], b[128], main_path[128], want[160];

	frag_dir_new(&d);
	frag_write(&d, "conf.d/20-b.yaml", "loops:\n"
	    "  - name: lb\n    tasks:\n      - name: tb\n        plugin: echo\n",
	    b);
	frag_write(&d, "conf.d/10-a.yaml", "# a package's loop\n"
	    "loops:\n  - name: la\n    backend: poll\n    tasks:\n"
	    "      - name: ta\n        plugin: echo\n"
	    "        config: {port: 7000}\n", a);
	frag_write(&d, "conf.d/readme.txt", "not yaml: [", want);
	conf = frag_parse(&d, "include: conf.d/*.yaml\n" LOOPS, &errs);
	if (conf == NULL)
		dump_errors("include", &errs);
	ck_assert_ptr_nonnull(conf);
	snprintf(main_path, sizeof main_path, "%s/main.yaml", d.path);
	ck_assert_str_eq(conf->path, main_path);
	ck_assert_uint_eq(conf->nloops, 3);
	ck_assert_str_eq(conf->loops[0].name, "net");
	ck_assert_str_eq(conf->loops[1].name, "la");
	ck_assert_str_eq(conf->loops[2].name, "lb");
	ck_assert_int_eq(conf->loops[1].backend, CONF_BACKEND_POLL);
	ck_assert_uint_eq(conf->nfragments, 2);
	ck_assert_str_eq(conf->fragments[0], a);
	ck_assert_str_eq(conf->fragments[1], b);
	ck_assert_uint_eq(conf->nincludes, 1);
	snprintf(want, sizeof want, "%s/conf.d/*.yaml", d.path);
	ck_assert_str_eq(conf->includes[0], want);
	ck_assert_int_eq(conf->config_watch, 0);
	ck_assert_ptr_eq(conf->loops[0].mark.file, conf->path);
	ck_assert_ptr_eq(conf->loops[0].tasks[0].mark.file, conf->path);
	ck_assert_ptr_eq(conf->loops[1].mark.file, conf->fragments[0]);
	ck_assert_ptr_eq(conf->loops[1].executor.mark.file,
	    conf->fragments[0]);
	ck_assert_ptr_eq(conf->loops[1].tasks[0].mark.file,
	    conf->fragments[0]);
	ck_assert_int_eq(conf->loops[1].tasks[0].mark.line, 6);
	port = tree_map_get(conf->loops[1].tasks[0].config, "port");
	ck_assert_ptr_nonnull(port);
	ck_assert_ptr_eq(port->mark.file, conf->fragments[0]);
	ck_assert_ptr_eq(conf->loops[2].tasks[0].mark.file,
	    conf->fragments[1]);
	snprintf(want, sizeof want, "%s/plugins/echo.so", "");
	ck_assert_str_eq(conf->loops[2].tasks[0].plugin_path,
	    "/plugins/echo.so");
	config_free(conf);

	/* A list of globs, one absolute, in the order given; a glob that
	 * matches nothing is fine; a file matched twice is read once; the
	 * main file itself is never a fragment; a main file with no
	 * `loops:` of its own; config_watch. */
	snprintf(want, sizeof want, "config_watch: true\ninclude:\n"
	    "  - conf.d/2*.yaml\n  - %s/conf.d/*.yaml\n  - none/*.yaml\n"
	    "  - '*.yaml'\n", d.path);
	conf = frag_parse(&d, want, &errs);
	if (conf == NULL)
		dump_errors("include list", &errs);
	ck_assert_ptr_nonnull(conf);
	ck_assert_int_eq(conf->config_watch, 1);
	ck_assert_uint_eq(conf->nincludes, 4);
	ck_assert_uint_eq(conf->nloops, 2);
	ck_assert_str_eq(conf->loops[0].name, "lb");
	ck_assert_str_eq(conf->loops[1].name, "la");
	ck_assert_uint_eq(conf->nfragments, 2);
	config_free(conf);
	frag_dir_free(&d);
}
END_TEST

/* Each problem names its own file; the main file's come first; a name
 * used twice names both places. */
START_TEST(test_include_errors)
{
	struct frag_dir d;
	struct conf_errors errs;
	char a[128], b[128], main_path[128], buf[512], want[512];
	size_t i;

	frag_dir_new(&d);
	frag_write(&d, "conf.d/a.yaml", "loops:\n"
	    "  - name: net\n    tasks:\n      - name: ta\n        plugin: echo\n"
	    "        restart: {policy: sometimes}\n", a);
	frag_write(&d, "conf.d/b.yaml", "log: {level: debug}\n"
	    "include: more/*.yaml\nloops:\n"
	    "  - name: lb\n    tasks:\n      - name: ta\n        plugin: echo\n",
	    b);
	snprintf(main_path, sizeof main_path, "%s/main.yaml", d.path);
	ck_assert_ptr_null(frag_parse(&d, "include: conf.d/*.yaml\n"
	    "config_watch: sure\n" LOOPS, &errs));
	if (errs.n != 6)
		dump_errors("include_errors", &errs);
	ck_assert_uint_eq(errs.n, 6);
	i = 0;
	conf_error_format(&errs.v[i++], buf, sizeof buf);
	snprintf(want, sizeof want, "%s:2:15: config_watch: unknown value "
	    "'sure'", main_path);
	ck_assert_msg(strncmp(buf, want, strlen(want)) == 0, "%s", buf);
	conf_error_format(&errs.v[i++], buf, sizeof buf);
	snprintf(want, sizeof want, "%s:2:11: loop name 'net' is already "
	    "used at %s:4:11; loop names must be unique (a fragment adds new "
	    "loops, not tasks to a loop of another file)", a, main_path);
	ck_assert_str_eq(buf, want);
	conf_error_format(&errs.v[i++], buf, sizeof buf);
	snprintf(want, sizeof want, "%s:6:27: ", a);
	ck_assert_msg(strncmp(buf, want, strlen(want)) == 0 &&
	    strstr(buf, "sometimes") != NULL, "%s", buf);
	conf_error_format(&errs.v[i++], buf, sizeof buf);
	snprintf(want, sizeof want, "%s:1:1: unknown key 'log' in a "
	    "fragment; a fragment holds only `loops:`", b);
	ck_assert_msg(strncmp(buf, want, strlen(want)) == 0, "%s", buf);
	conf_error_format(&errs.v[i++], buf, sizeof buf);
	snprintf(want, sizeof want, "%s:2:1: unknown key 'include' in a "
	    "fragment; a fragment cannot include others", b);
	ck_assert_msg(strncmp(buf, want, strlen(want)) == 0, "%s", buf);
	conf_error_format(&errs.v[i++], buf, sizeof buf);
	snprintf(want, sizeof want, "%s:6:15: task name 'ta' is already "
	    "used at %s:4:15; task names must be unique across loops", b, a);
	ck_assert_str_eq(buf, want);
	conf_errors_free(&errs);

	/* A fragment that cannot be read, one that is not YAML. */
	unlink(a);
	frag_write(&d, "conf.d/b.yaml", "loops: [\n", b);
	ck_assert_int_eq(mkdir(a, 0700), 0);	/* a.yaml, a directory */
	ck_assert_ptr_null(frag_parse(&d, "include: conf.d/*.yaml\n" LOOPS,
	    &errs));
	ck_assert_uint_eq(errs.n, 2);
	conf_error_format(&errs.v[0], buf, sizeof buf);
	snprintf(want, sizeof want, "%s: cannot read: Is a directory", a);
	ck_assert_str_eq(buf, want);
	ck_assert_str_eq(errs.v[1].mark.file, b);
	ck_assert_int_eq(errs.v[1].mark.line, 2);
	conf_errors_free(&errs);

	/* No loop anywhere; include of the wrong kind. */
	ck_assert_ptr_null(frag_parse(&d, "include: none/*.yaml\n", &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_int_eq(errs.v[0].mark.line, 1);
	ck_assert_msg(strstr(errs.v[0].msg, "no loop is configured") != NULL,
	    "%s", errs.v[0].msg);
	conf_errors_free(&errs);
	ck_assert_ptr_null(frag_parse(&d, "include: {a: b}\n" LOOPS, &errs));
	ck_assert_uint_eq(errs.n, 1);
	ck_assert_str_eq(errs.v[0].msg, "include: expected a glob such as "
	    "conf.d/*.yaml, found a mapping");
	conf_errors_free(&errs);
	frag_dir_free(&d);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("config");
	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_bad, 0, NELEM(bad));
	tcase_add_test(tc, test_many_errors);
	tcase_add_test(tc, test_odd_inputs);
	tcase_add_loop_test(tc, test_repeated_keys, 0, NELEM(repeats));
	tcase_add_test(tc, test_repeated_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("valid");
	tcase_add_test(tc, test_full);
	tcase_add_test(tc, test_log_keys);
	tcase_add_test(tc, test_defaults);
	tcase_add_loop_test(tc, test_plugin_dir, 0, NELEM(dirs));
	tcase_add_test(tc, test_scalars);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_backend_name);
	tcase_add_test(tc, test_executor_values);
	suite_add_tcase(s, tc);

	tc = tcase_create("supervision");
	tcase_add_test(tc, test_supervision);
	tcase_add_loop_test(tc, test_task_override, 0, NELEM(overrides));
	tcase_add_test(tc, test_task_override_defaults);
	tcase_add_loop_test(tc, test_good_values, 0, NELEM(good_values));
	tcase_add_loop_test(tc, test_sandbox, 0, NELEM(sandboxes));
	tcase_add_test(tc, test_user);
	suite_add_tcase(s, tc);

	tc = tcase_create("durations");
	tcase_add_loop_test(tc, test_duration_good, 0, NELEM(good_durations));
	tcase_add_loop_test(tc, test_duration_bad, 0, NELEM(bad_durations));
	tcase_add_test(tc, test_grace_bounds);
	tcase_add_test(tc, test_control_metrics);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_file_missing);
	tcase_add_test(tc, test_file_not_regular);
	tcase_add_test(tc, test_file_too_large);
	tcase_add_test(tc, test_include);
	tcase_add_test(tc, test_include_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(config_suite());
}
