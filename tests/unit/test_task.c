/*
 * test_task.c: what plugin ABI 1.1 adds to a task's life, on a real
 * event_base with real plugins, without a worker: tasks that say when they
 * are ready (and fail at start_timeout when they do not), init_process and
 * exit_process once per process, reconfiguration in place, and a plugin
 * built for ABI 1.0 that still runs.  Every wait runs the loop until what
 * it waits for happens, with a 5 s deadline that fails the test.
 */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "log.h"
#include "task.h"
#include "unit.h"

#define MAX_TASKS	4

struct fixture {
	struct event_base	*base;
	volatile int		 running;
	struct task_host	 host;
	struct conf		*conf;
	struct loopd_task	*tasks[MAX_TASKS];
	int			 states[MAX_TASKS][8];
	int			 nstates[MAX_TASKS];
	/* The loop breaks when task `want_task` reaches `want_state`, or
	 * a record with msg `want_msg` is logged. */
	int			 want_task;
	int			 want_state;
	const char		*want_msg;
	char			 msgs[32][128];
	int			 nmsgs;
	int			 late;
};

static void
on_state(void *ctx, struct loopd_task *t)
{
	struct fixture *f = ctx;
	int i = t->index;

	if (f->nstates[i] < 8)
		f->states[i][f->nstates[i]++] = t->state;
	if (i == f->want_task && (int)t->state == f->want_state)
		event_base_loopbreak(f->base);
}

static void
sink(void *ctx, json_t *r)
{
	struct fixture *f = ctx;
	const char *msg = json_string_value(json_object_get(r, "msg"));

	if (msg == NULL)
		return;
	if (f->nmsgs < 32)
		snprintf(f->msgs[f->nmsgs++], sizeof f->msgs[0], "%s", msg);
	if (f->want_msg != NULL && strcmp(msg, f->want_msg) == 0)
		event_base_loopbreak(f->base);
}

static int
logged(struct fixture *f, const char *msg)
{
	int i, n = 0;

	for (i = 0; i < f->nmsgs; i++)
		n += strcmp(f->msgs[i], msg) == 0;
	return n;
}

static const char *
plugin_dir(const char *var)
{
	const char *d = getenv(var);

	ck_assert_msg(d != NULL, "%s is not set (run through ctest)", var);
	return d;
}

/* A loop of the tasks in `tasks` (YAML, indented by 6), their plugins
 * looked up in the directory $dirvar names. */
static struct conf *
parse(const char *dirvar, const char *tasks)
{
	struct conf_errors errs = { 0 };
	struct conf *conf;
	char *text;
	int n;

	n = asprintf(&text, "plugin_dir: %s\nloops:\n  - name: l\n"
	    "    tasks:\n%s", plugin_dir(dirvar), tasks);
	ck_assert_int_gt(n, 0);
	conf = config_parse_string(text, (size_t)n, "/etc/loopd/test.yaml",
	    NULL, NULL, &errs);
	ck_assert_msg(conf != NULL, "config: %s", errs.n ? errs.v[0].msg :
	    "out of memory");
	free(text);
	return conf;
}

static void
fixture_init(struct fixture *f, const char *dirvar, const char *tasks)
{
	memset(f, 0, sizeof *f);
	f->base = event_base_new();
	f->running = -1;
	f->want_task = -1;
	f->conf = parse(dirvar, tasks);
	f->host = (struct task_host){ .base = f->base, .loop = "l",
	    .running = &f->running, .plugins = loader_cache_new(),
	    .sockets = -1,
	    .on_state = on_state, .ctx = f, .start_timeout_ms = 3600 * 1000 };
	log_set_sink(sink, f);
}

static struct loopd_task *
start(struct fixture *f, int i)
{
	ck_assert_int_lt(i, MAX_TASKS);
	task_free(f->tasks[i]);
	f->nstates[i] = 0;
	f->tasks[i] = task_new(&f->host, &f->conf->loops[0].tasks[i], i);
	ck_assert_ptr_nonnull(f->tasks[i]);
	task_start(f->tasks[i]);
	return f->tasks[i];
}

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fixture *f = arg;

	f->late = 1;
	event_base_loopbreak(f->base);
}

/* Run the loop until a want_* is met; fails after 5 s. */
static void
run_until(struct fixture *f)
{
	struct timeval five = { 5, 0 };
	struct event *ev = evtimer_new(f->base, guard_cb, f);

	ck_assert_ptr_nonnull(ev);
	evtimer_add(ev, &five);
	event_base_dispatch(f->base);
	event_free(ev);
	ck_assert_msg(!f->late, "what the test waited for did not happen");
}

static void
run_until_state(struct fixture *f, int i, enum task_state s)
{
	f->want_task = i;
	f->want_state = (int)s;
	f->want_msg = NULL;
	if ((int)f->tasks[i]->state != f->want_state)
		run_until(f);
	ck_assert_int_eq(f->tasks[i]->state, s);
}

static void
run_until_msg(struct fixture *f, const char *msg)
{
	f->want_task = -1;
	f->want_msg = msg;
	if (!logged(f, msg))
		run_until(f);
}

static void
fixture_free(struct fixture *f)
{
	int i;

	for (i = 0; i < MAX_TASKS; i++)
		task_free(f->tasks[i]);
	loader_cache_free(f->host.plugins);
	log_set_sink(NULL, NULL);
	config_free(f->conf);
	event_base_free(f->base);
}

/* ---- readiness ------------------------------------------------------------ */

START_TEST(starting_until_loopd_task_ready)
{
	struct fixture f;
	struct loopd_task *t;

	fixture_init(&f, "LOOPD_TEST_PLUGINS",
	    "      - { name: r, plugin: ready, config: { after: 1ms } }\n");
	t = start(&f, 0);
	/* start has returned 0, and the task is not running yet. */
	ck_assert_int_eq(t->state, TASK_STARTING);
	ck_assert_int_eq(f.nstates[0], 0);
	ck_assert_ptr_nonnull(t->ready_timer);
	run_until_state(&f, 0, TASK_RUNNING);
	ck_assert_int_eq(f.nstates[0], 1);
	ck_assert_int_eq(logged(&f, "ready now"), 1);
	ck_assert_ptr_null(t->ready_timer);
	/* A second call is refused, harmlessly. */
	ck_assert_int_eq(logged(&f, "again: -3"), 1);
	ck_assert_int_eq(loopd_task_ready(t), -LOOPD_ESTATE);
	ck_assert_int_eq(t->state, TASK_RUNNING);
	fixture_free(&f);
}
END_TEST

START_TEST(ready_inside_start_runs_at_once)
{
	struct fixture f;
	struct loopd_task *t;

	fixture_init(&f, "LOOPD_TEST_PLUGINS",
	    "      - { name: r, plugin: ready, config: { in_start: true } }\n");
	t = start(&f, 0);
	ck_assert_int_eq(t->state, TASK_RUNNING);
	ck_assert_int_eq(f.nstates[0], 1);
	ck_assert_ptr_null(t->ready_timer);
	fixture_free(&f);
}
END_TEST

START_TEST(never_ready_fails_at_start_timeout)
{
	struct fixture f;
	struct loopd_task *t;

	fixture_init(&f, "LOOPD_TEST_PLUGINS",
	    "      - { name: r, plugin: ready, config: { never: true } }\n");
	f.host.start_timeout_ms = 20;
	t = start(&f, 0);
	ck_assert_int_eq(t->state, TASK_STARTING);
	run_until_state(&f, 0, TASK_FAILED);
	ck_assert_int_eq(f.nstates[0], 1);	/* straight from starting */
	ck_assert_str_eq(t->err_type, "start_timeout");
	ck_assert_ptr_nonnull(strstr(t->err_msg, "20 ms"));
	ck_assert_int_eq(loopd_task_ready(t), -LOOPD_ESTATE);
	/* Started again, it waits for loopd_task_ready() again. */
	t = start(&f, 0);
	ck_assert_int_eq(t->state, TASK_STARTING);
	run_until_state(&f, 0, TASK_FAILED);
	fixture_free(&f);
}
END_TEST

START_TEST(cancel_while_starting)
{
	struct fixture f;
	struct loopd_task *t;

	fixture_init(&f, "LOOPD_TEST_PLUGINS",
	    "      - { name: r, plugin: ready, config: { never: true } }\n");
	f.host.start_timeout_ms = 20;
	t = start(&f, 0);
	task_cancel(t);
	ck_assert_int_eq(t->state, TASK_CANCELLING);
	ck_assert_ptr_null(t->ready_timer);	/* no start_timeout now */
	run_until_state(&f, 0, TASK_DONE);
	ck_assert_int_eq(logged(&f, "cancelled; ready again: -3"), 1);
	ck_assert_int_eq(f.nstates[0], 2);
	fixture_free(&f);
}
END_TEST

START_TEST(plugin_of_abi_1_0_runs)
{
	struct fixture f;
	struct loopd_task *t;

	/* Its reserved fields would say NOTIFY_READY and a failing
	 * init_process, were they read. */
	fixture_init(&f, "LOOPD_TEST_PLUGINS",
	    "      - { name: o, plugin: oldabi }\n");
	t = start(&f, 0);
	ck_assert_int_eq(t->plugin.desc->abi_minor, 0);
	ck_assert_int_eq(t->state, TASK_RUNNING);
	ck_assert_int_eq(logged(&f, "old plugin serving"), 1);
	ck_assert_int_eq(loopd_task_ready(t), -LOOPD_EINVAL);
	ck_assert_int_eq(task_reconfigure(t, NULL), -1);
	fixture_free(&f);
}
END_TEST

/* ---- init_process and exit_process ---------------------------------------- */

static char hooks_file[64];

/* What hooks.so wrote to $LOOPD_TEST_HOOKS: how many lines start with
 * `what` and a space. */
static int
hooks_count(const char *what)
{
	char line[128];
	size_t len = strlen(what);
	FILE *fp;
	int n = 0;

	if ((fp = fopen(hooks_file, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, fp) != NULL)
		n += strncmp(line, what, len) == 0 && line[len] == ' ';
	fclose(fp);
	return n;
}

static void
hooks_env(const char *fail)
{
	int fd;

	snprintf(hooks_file, sizeof hooks_file, "/tmp/loopd-hooks-XXXXXX");
	ck_assert_int_ge(fd = mkstemp(hooks_file), 0);
	close(fd);
	setenv("LOOPD_TEST_HOOKS", hooks_file, 1);
	if (fail != NULL)
		setenv("LOOPD_TEST_HOOKS_FAIL", fail, 1);
	else
		unsetenv("LOOPD_TEST_HOOKS_FAIL");
}

#define THREE_HOOKS \
	"      - { name: a, plugin: hooks }\n" \
	"      - { name: b, plugin: hooks }\n" \
	"      - { name: c, plugin: hooks }\n"

START_TEST(init_process_once_for_three_tasks)
{
	struct fixture f;
	int i;

	hooks_env(NULL);
	fixture_init(&f, "LOOPD_TEST_PLUGINS", THREE_HOOKS);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(start(&f, i)->state, TASK_RUNNING);
	ck_assert_int_eq(logged(&f, "serving after 1 init_process calls"), 3);
	ck_assert_int_eq(hooks_count("init"), 1);
	/* A task that ends and starts again keeps the plugin loaded, as the
	 * worker does it: the new task first, then the old one freed. */
	loopd_task_done(f.tasks[1]);
	run_until_state(&f, 1, TASK_DONE);
	{
		struct loopd_task *old = f.tasks[1];

		f.tasks[1] = task_new(&f.host, &f.conf->loops[0].tasks[1], 1);
		task_start(f.tasks[1]);
		task_free(old);
	}
	ck_assert_int_eq(logged(&f, "serving after 1 init_process calls"), 4);
	ck_assert_int_eq(hooks_count("exit"), 0);
	for (i = 0; i < 3; i++) {
		loopd_task_done(f.tasks[i]);
		run_until_state(&f, i, TASK_DONE);
	}
	/* After the last stop, when the last task is gone. */
	ck_assert_int_eq(hooks_count("exit"), 0);
	for (i = 0; i < 3; i++) {
		task_free(f.tasks[i]);
		f.tasks[i] = NULL;
	}
	ck_assert_int_eq(hooks_count("init"), 1);
	ck_assert_int_eq(hooks_count("exit"), 1);
	fixture_free(&f);
	ck_assert_int_eq(hooks_count("exit"), 1);
	unlink(hooks_file);
}
END_TEST

START_TEST(exit_process_when_the_cache_is_freed)
{
	struct fixture f;

	hooks_env(NULL);
	fixture_init(&f, "LOOPD_TEST_PLUGINS", THREE_HOOKS);
	start(&f, 0);
	ck_assert_int_eq(hooks_count("init"), 1);
	/* As a worker that exits with a plugin still in its cache. */
	loader_cache_free(f.host.plugins);
	ck_assert_int_eq(hooks_count("exit"), 1);
	memset(&f.tasks[0]->plugin, 0, sizeof f.tasks[0]->plugin);
	f.host.plugins = loader_cache_new();
	fixture_free(&f);
	ck_assert_int_eq(hooks_count("exit"), 1);
	unlink(hooks_file);
}
END_TEST

START_TEST(failing_init_process_fails_each_task)
{
	struct fixture f;
	char ok[80];
	int i, fd;

	snprintf(ok, sizeof ok, "/tmp/loopd-hooks-ok-%d", (int)getpid());
	unlink(ok);
	hooks_env(ok);
	fixture_init(&f, "LOOPD_TEST_PLUGINS", THREE_HOOKS);
	for (i = 0; i < 3; i++) {
		start(&f, i);
		run_until_state(&f, i, TASK_FAILED);
		ck_assert_int_eq(f.nstates[i], 1);
		ck_assert_str_eq(f.tasks[i]->err_type, "init_process");
		ck_assert_ptr_nonnull(strstr(f.tasks[i]->err_msg,
		    "init_process returned 7"));
	}
	ck_assert_int_eq(hooks_count("init_failed"), 3);
	ck_assert_int_eq(logged(&f, "serving after 0 init_process calls"), 0);
	/* The next start tries again. */
	ck_assert_int_ge(fd = open(ok, O_CREAT | O_WRONLY, 0600), 0);
	close(fd);
	ck_assert_int_eq(start(&f, 0)->state, TASK_RUNNING);
	ck_assert_int_eq(hooks_count("init"), 1);
	fixture_free(&f);
	/* exit_process only for the init_process that succeeded. */
	ck_assert_int_eq(hooks_count("exit"), 1);
	unlink(ok);
	unlink(hooks_file);
}
END_TEST

/* ---- reconfiguration in place --------------------------------------------- */

/* The `config:` of task i of a second configuration, which must outlive
 * the task (as the worker's arena does). */
static struct conf	*next_confs[4];
static int		 nnext;

static const struct conf_node *
new_config(const char *dirvar, const char *tasks)
{
	ck_assert_int_lt(nnext, 4);
	next_confs[nnext] = parse(dirvar, tasks);
	return next_confs[nnext++]->loops[0].tasks[0].config;
}

static void
new_configs_free(void)
{
	while (nnext > 0)
		config_free(next_confs[--nnext]);
}

/* ---- the reaper ----------------------------------------------------------- */

/* Ended tasks are reaped in the order they ended, by one event of the
 * host; a task freed before its turn is not reaped (nor touched) after. */
START_TEST(task_freed_before_its_reap_is_skipped)
{
	struct fixture f;
	int n0;

	fixture_init(&f, "LOOPD_PLUGINS",
	    "      - { name: a, plugin: ticker, config: { interval: 1h } }\n"
	    "      - { name: b, plugin: ticker, config: { interval: 1h } }\n"
	    "      - { name: c, plugin: ticker, config: { interval: 1h } }\n");
	start(&f, 0);
	start(&f, 1);
	start(&f, 2);
	task_end(f.tasks[0], NULL, NULL);
	task_end(f.tasks[1], NULL, NULL);
	task_end(f.tasks[2], NULL, NULL);
	n0 = f.nstates[0];
	task_free(f.tasks[0]);
	f.tasks[0] = NULL;
	run_until_state(&f, 2, TASK_DONE);
	ck_assert_int_eq(f.tasks[1]->state, TASK_DONE);
	ck_assert_int_eq(f.nstates[0], n0);
	fixture_free(&f);
}
END_TEST

START_TEST(ticker_reconfigured_in_place)
{
	struct fixture f;
	struct loopd_task *t;

	fixture_init(&f, "LOOPD_PLUGINS", "      - { name: t, plugin: ticker, "
	    "config: { interval: 1h, message: old } }\n");
	t = start(&f, 0);
	ck_assert_int_eq(t->state, TASK_RUNNING);
	ck_assert_int_eq(task_reconfigure(t, new_config("LOOPD_PLUGINS",
	    "      - { name: t, plugin: ticker, "
	    "config: { interval: 1ms, message: new } }\n")), 0);
	/* The args start got read the new mapping now. */
	ck_assert_str_eq(loopd_args_string(&t->args, "message", NULL), "new");
	/* The timer was re-armed from an hour to a millisecond. */
	run_until_msg(&f, "new 1");
	ck_assert_int_eq(logged(&f, "interval 1 ms, message 'new'"), 1);
	ck_assert_int_eq(t->state, TASK_RUNNING);
	ck_assert_int_eq(f.nstates[0], 1);	/* no new state: no restart */
	fixture_free(&f);
	new_configs_free();
}
END_TEST

START_TEST(echo_reconfigured_or_restart_needed)
{
	struct fixture f;
	struct loopd_task *t;

	fixture_init(&f, "LOOPD_PLUGINS", "      - { name: e, plugin: echo, "
	    "config: { port: 0, backlog: 8 } }\n");
	t = start(&f, 0);
	ck_assert_int_eq(t->state, TASK_RUNNING);
	ck_assert_int_eq(task_reconfigure(t, new_config("LOOPD_PLUGINS",
	    "      - { name: e, plugin: echo, "
	    "config: { port: 0, backlog: 16 } }\n")), 0);
	ck_assert_int_eq(logged(&f, "backlog 16"), 1);
	ck_assert_int_eq(loopd_args_int(&t->args, "backlog", 0), 16);
	/* A new address or port: refused, and the args stay as they were. */
	ck_assert_int_eq(task_reconfigure(t, new_config("LOOPD_PLUGINS",
	    "      - { name: e, plugin: echo, "
	    "config: { port: 1, backlog: 16 } }\n")), -1);
	ck_assert_int_eq(task_reconfigure(t, new_config("LOOPD_PLUGINS",
	    "      - { name: e, plugin: echo, "
	    "config: { address: 127.0.0.2, port: 0, backlog: 16 } }\n")), -1);
	ck_assert_int_eq(loopd_args_int(&t->args, "port", -1), 0);
	ck_assert(!loopd_args_has(&t->args, "address"));
	ck_assert_int_eq(t->state, TASK_RUNNING);
	fixture_free(&f);
	new_configs_free();
}
END_TEST

START_TEST(reconfigure_refused_without_hook_or_when_not_running)
{
	struct fixture f;
	struct loopd_task *t;

	hooks_env(NULL);
	fixture_init(&f, "LOOPD_TEST_PLUGINS",
	    "      - { name: a, plugin: hooks }\n"
	    "      - { name: r, plugin: ready, config: { never: true } }\n");
	t = start(&f, 0);
	ck_assert_int_eq(task_reconfigure(t, NULL), -1);	/* no hook */
	t = start(&f, 1);
	ck_assert_int_eq(t->state, TASK_STARTING);
	ck_assert_int_eq(task_reconfigure(t, NULL), -1);	/* starting */
	fixture_free(&f);
	unlink(hooks_file);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("task");
	TCase *reap;
	TCase *ready = tcase_create("ready"), *hooks = tcase_create("hooks"),
	    *reconf = tcase_create("reconfigure");

	tcase_add_test(ready, starting_until_loopd_task_ready);
	tcase_add_test(ready, ready_inside_start_runs_at_once);
	tcase_add_test(ready, never_ready_fails_at_start_timeout);
	tcase_add_test(ready, cancel_while_starting);
	tcase_add_test(ready, plugin_of_abi_1_0_runs);
	tcase_add_test(hooks, init_process_once_for_three_tasks);
	tcase_add_test(hooks, exit_process_when_the_cache_is_freed);
	tcase_add_test(hooks, failing_init_process_fails_each_task);
	tcase_add_test(reconf, ticker_reconfigured_in_place);
	tcase_add_test(reconf, echo_reconfigured_or_restart_needed);
	tcase_add_test(reconf, reconfigure_refused_without_hook_or_when_not_running);
	suite_add_tcase(s, ready);
	suite_add_tcase(s, hooks);
	suite_add_tcase(s, reconf);
	reap = tcase_create("reaper");
	tcase_add_test(reap, task_freed_before_its_reap_is_skipped);
	suite_add_tcase(s, reap);
	return unit_run(s);
}
