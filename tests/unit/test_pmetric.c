/*
 * test_pmetric.c: plugins' metrics, both sides over one real shared file
 * (crash_open()): what the API accepts and refuses, what the supervisor's
 * table accepts and refuses of a declaration, values crossing the shared
 * memory, handles going stale with their task, and updates from several
 * threads at once.
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "crash.h"
#include "pmetric.h"
#include "task.h"
#include "unit.h"

/* ---- a worker with one or two tasks, and the supervisor's table ---------- */

struct fixture {
	struct event_base	*base;
	volatile int		 running;
	struct task_host	 host;
	struct task_conf	 conf;
	struct loopd_task	*task, *other;
	int			 fd;
	struct crash_page	*page;
	struct pmetric_table	*tab;
	struct msg_out		 sent[8];	/* the declarations, as sent */
	int			 nsent;
};

static void
on_state(void *ctx, struct loopd_task *t)
{
}

/* What the worker sends, kept to be read as the supervisor would. */
static int
capture(void *ctx, const void *msg, size_t len)
{
	struct fixture *f = ctx;
	struct msg_out *m;

	if (f->nsent == 8)
		return 0;
	m = &f->sent[f->nsent++];
	m->p = malloc(len);
	memcpy(m->p, msg, len);
	m->len = m->cap = len;
	return 0;
}

static void
fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof *f);
	f->base = event_base_new();
	f->running = -1;
	f->fd = crash_open(&f->page);
	ck_assert_int_ge(f->fd, 0);
	f->host = (struct task_host){ .base = f->base, .loop = "l",
	    .running = &f->running, .plugins = loader_cache_new(),
	    .sockets = -1, .on_state = on_state, .ctx = f,
	    .metrics = pmetric_area_new(f->fd), .send = capture };
	ck_assert_ptr_nonnull(f->host.metrics);
	f->conf = (struct task_conf){ .name = "t", .plugin = "p",
	    .plugin_path = "/nonexistent/p.so" };
	f->task = task_new(&f->host, &f->conf, 0);
	f->other = task_new(&f->host, &f->conf, 1);
	f->task->state = f->other->state = TASK_RUNNING;
	f->tab = pmetric_table_new(f->fd);
	ck_assert_ptr_nonnull(f->tab);
}

static void
fixture_free(struct fixture *f)
{
	int i;

	task_free(f->task);
	task_free(f->other);
	pmetric_area_free(f->host.metrics);
	pmetric_table_free(f->tab);
	crash_close(f->fd, f->page);
	loader_cache_free(f->host.plugins);
	event_base_free(f->base);
	for (i = 0; i < f->nsent; i++)
		msg_out_free(&f->sent[i]);
}

/* The supervisor's side of message m: NULL when accepted. */
static const char *
accept_msg(struct fixture *f, const struct msg_out *m, size_t ntasks)
{
	struct pmetric_decl d;
	struct msg_in in;
	const char *why;

	if (msg_open(&in, m->p, m->len) != MSG_METRIC)
		return "not a MSG_METRIC";
	if ((why = pmetric_get_declaration(&in, ntasks, &d)) != NULL)
		return why;
	return pmetric_table_add(f->tab, &d);
}

/* A forged declaration, as a rogue worker would write it. */
static const char *
forge(struct fixture *f, int64_t task, int64_t slot, int64_t kind,
    const char *name, const char *help, int extra)
{
	struct msg_out m = { 0 };
	const char *why;

	msg_begin(&m, MSG_METRIC);
	msg_put_int(&m, task);
	msg_put_int(&m, slot);
	msg_put_int(&m, kind);
	msg_put_str(&m, name, 0);
	msg_put_str(&m, help, 0);
	if (extra)
		msg_put_int(&m, 0);
	why = accept_msg(f, &m, 2);
	msg_out_free(&m);
	return why;
}

/* The value the supervisor reads for task's metric `name`, or -1. */
static int64_t
read_value(struct fixture *f, size_t task, const char *name)
{
	const struct pmetric_decl *d;
	int64_t v;
	size_t i;

	for (i = 0; (d = pmetric_table_get(f->tab, i, &v)) != NULL; i++)
		if (d->task == task && strcmp(d->name, name) == 0)
			return v;
	return -1;
}

/* ---- names ------------------------------------------------------------- */

START_TEST(names_follow_prometheus_and_leave_total_to_loopd)
{
	static const struct {
		const char	*name;
		int		 ok;
	} cases[] = {
		{ "connections", 1 }, { "_x", 1 }, { "a1_b2", 1 },
		{ "total", 1 }, { "x_totals", 1 },
		{ "", 0 }, { "1x", 0 }, { "Bad", 0 }, { "a-b", 0 },
		{ "a.b", 0 }, { "a b", 0 }, { "x_total", 0 }, { "_total", 0 },
		{ "\xc3\xa9t\xc3\xa9", 0 }, { "a:b", 0 },
	};
	char longest[PMETRIC_NAME_MAX + 2];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		ck_assert_msg(pmetric_name_valid(cases[i].name,
		    strlen(cases[i].name)) == cases[i].ok, "%s", cases[i].name);
	memset(longest, 'a', sizeof longest);
	ck_assert(pmetric_name_valid(longest, PMETRIC_NAME_MAX));
	ck_assert(!pmetric_name_valid(longest, PMETRIC_NAME_MAX + 1));
	ck_assert(pmetric_help_valid("Bytes echoed, \xc3\xa9t\xc3\xa9.", 20));
	ck_assert(pmetric_help_valid("", 0));
	ck_assert(!pmetric_help_valid("two\nlines", 9));
	ck_assert(!pmetric_help_valid("\xff\xfe", 2));
}
END_TEST

/* ---- declarations, from the API to the table ------------------------------ */

START_TEST(declared_metric_reaches_the_table_and_its_value_the_scrape)
{
	struct fixture f;
	loopd_metric *c, *g;
	const struct pmetric_decl *d;
	int64_t v;

	fixture_init(&f);
	c = loopd_metric_counter(f.task, "conns", "Connections.");
	g = loopd_metric_gauge(f.other, "open", NULL);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(f.nsent, 2);
	ck_assert_ptr_null(accept_msg(&f, &f.sent[0], 2));
	ck_assert_ptr_null(accept_msg(&f, &f.sent[1], 2));
	ck_assert_uint_eq(pmetric_table_count(f.tab), 2);
	d = pmetric_table_get(f.tab, 0, &v);
	ck_assert_uint_eq(d->task, 0);
	ck_assert_int_eq(d->kind, PMETRIC_COUNTER);
	ck_assert_str_eq(d->name, "conns");
	ck_assert_str_eq(d->help, "Connections.");
	d = pmetric_table_get(f.tab, 1, &v);
	ck_assert_uint_eq(d->task, 1);
	ck_assert_int_eq(d->kind, PMETRIC_GAUGE);
	ck_assert_str_eq(d->help, "");
	ck_assert_int_eq(read_value(&f, 0, "conns"), 0);
	ck_assert_int_eq(loopd_metric_add(c, 5), 0);
	ck_assert_int_eq(loopd_metric_add(c, 0), 0);
	ck_assert_int_eq(loopd_metric_add(g, 7), 0);
	ck_assert_int_eq(loopd_metric_add(g, -3), 0);
	ck_assert_int_eq(read_value(&f, 0, "conns"), 5);
	ck_assert_int_eq(read_value(&f, 1, "open"), 4);
	ck_assert_int_eq(loopd_metric_set(g, -12), 0);
	ck_assert_int_eq(read_value(&f, 1, "open"), -12);
	/* A counter only grows. */
	ck_assert_int_eq(loopd_metric_add(c, -1), -LOOPD_EINVAL);
	ck_assert_int_eq(loopd_metric_set(c, 0), -LOOPD_EINVAL);
	ck_assert_int_eq(read_value(&f, 0, "conns"), 5);
	fixture_free(&f);
}
END_TEST

START_TEST(api_refuses_bad_declarations_without_sending_them)
{
	struct fixture f;
	char name[16];
	int i;

	fixture_init(&f);
	ck_assert_ptr_null(loopd_metric_counter(NULL, "x", NULL));
	ck_assert_ptr_null(loopd_metric_counter(f.task, NULL, NULL));
	ck_assert_ptr_null(loopd_metric_counter(f.task, "Bad", NULL));
	ck_assert_ptr_null(loopd_metric_counter(f.task, "x_total", NULL));
	ck_assert_ptr_null(loopd_metric_gauge(f.task, "x", "a\nb"));
	ck_assert_ptr_nonnull(loopd_metric_counter(f.task, "x", NULL));
	/* Once per task, whatever the kind; another task may. */
	ck_assert_ptr_null(loopd_metric_gauge(f.task, "x", NULL));
	ck_assert_ptr_nonnull(loopd_metric_gauge(f.other, "x", NULL));
	ck_assert_int_eq(f.nsent, 2);
	for (i = 1; i < PMETRIC_TASK_MAX; i++) {
		snprintf(name, sizeof name, "m%d", i);
		ck_assert_ptr_nonnull(loopd_metric_gauge(f.task, name, NULL));
	}
	ck_assert_ptr_null(loopd_metric_gauge(f.task, "one_more", NULL));
	/* An ending task declares nothing. */
	f.other->ending = 1;
	ck_assert_ptr_null(loopd_metric_gauge(f.other, "late", NULL));
	f.other->ending = 0;
	fixture_free(&f);
}
END_TEST

START_TEST(table_refuses_forged_declarations)
{
	struct fixture f;

	fixture_init(&f);
	ck_assert_ptr_null(forge(&f, 0, 0, PMETRIC_COUNTER, "a", "", 0));
	/* Each check, one at a time. */
	ck_assert_str_eq(forge(&f, 2, 1, 0, "b", "", 0),
	    "integer out of range");
	ck_assert_str_eq(forge(&f, -1, 1, 0, "b", "", 0),
	    "integer out of range");
	ck_assert_str_eq(forge(&f, 0, PMETRIC_SLOTS, 0, "b", "", 0),
	    "integer out of range");
	ck_assert_str_eq(forge(&f, 0, -1, 0, "b", "", 0),
	    "integer out of range");
	ck_assert_str_eq(forge(&f, 0, 1, 2, "b", "", 0),
	    "integer out of range");
	ck_assert_str_eq(forge(&f, 0, 1, 0, "Bad-Name", "", 0),
	    "a metric name that is not [a-z_][a-z0-9_]*");
	ck_assert_str_eq(forge(&f, 0, 1, 0, "b_total", "", 0),
	    "a metric name that is not [a-z_][a-z0-9_]*");
	ck_assert_str_eq(forge(&f, 0, 1, 0, "b", "x\ny", 0),
	    "a metric help that is too long or not text");
	ck_assert_str_eq(forge(&f, 0, 1, 0, "b", "", 1),
	    "bytes after the last value");
	ck_assert_str_eq(forge(&f, 1, 0, 0, "b", "", 0),
	    "a metric in a slot that is another's");
	ck_assert_str_eq(forge(&f, 0, 1, 1, "a", "", 0),
	    "a metric its task has already");
	ck_assert_uint_eq(pmetric_table_count(f.tab), 1);
	/* Another task may have the name; a dropped task's slot is free. */
	ck_assert_ptr_null(forge(&f, 1, 1, 0, "a", "", 0));
	pmetric_table_drop_task(f.tab, 0);
	ck_assert_uint_eq(pmetric_table_count(f.tab), 1);
	ck_assert_ptr_null(forge(&f, 1, 0, 0, "b", "", 0));
	fixture_free(&f);
}
END_TEST

START_TEST(table_bounds_the_metrics_of_a_task)
{
	struct fixture f;
	char name[16];
	int i;

	fixture_init(&f);
	for (i = 0; i < PMETRIC_TASK_MAX; i++) {
		snprintf(name, sizeof name, "m%d", i);
		ck_assert_ptr_null(forge(&f, 0, i, 0, name, "", 0));
	}
	ck_assert_str_eq(forge(&f, 0, i, 0, "more", "", 0),
	    "more metrics than a task may have");
	ck_assert_ptr_null(forge(&f, 1, i, 0, "more", "", 0));
	fixture_free(&f);
}
END_TEST

/* ---- the end of a task ---------------------------------------------------- */

START_TEST(handles_go_stale_with_their_task)
{
	struct fixture f;
	loopd_metric *c, *g, *again;

	fixture_init(&f);
	c = loopd_metric_counter(f.task, "x", NULL);
	g = loopd_metric_gauge(f.other, "y", NULL);
	ck_assert_int_eq(loopd_metric_add(c, 3), 0);
	/* The end goes through the reaper, as loopd_task_done() does. */
	loopd_task_done(f.task);
	event_base_loop(f.base, EVLOOP_NONBLOCK);
	ck_assert_int_eq(f.task->state, TASK_DONE);
	ck_assert_int_eq(loopd_metric_add(c, 1), -LOOPD_ESTATE);
	ck_assert_int_eq(loopd_metric_add(g, 1), 0);
	/* The freed slot is the last to be used again: the next metric
	 * gets a new one, and the old handle stays stale. */
	again = loopd_metric_counter(f.other, "x", NULL);
	ck_assert_ptr_nonnull(again);
	ck_assert_ptr_ne(again, c);
	ck_assert_int_eq(loopd_metric_add(c, 1), -LOOPD_ESTATE);
	ck_assert_int_eq(loopd_metric_add(again, 1), 0);
	fixture_free(&f);
}
END_TEST

START_TEST(garbage_handles_are_refused)
{
	struct fixture f;
	loopd_metric *c;
	int junk;

	fixture_init(&f);
	c = loopd_metric_counter(f.task, "x", NULL);
	ck_assert_int_eq(loopd_metric_add(NULL, 1), -LOOPD_EINVAL);
	ck_assert_int_eq(loopd_metric_add((loopd_metric *)(void *)&junk, 1),
	    -LOOPD_EINVAL);
	ck_assert_int_eq(loopd_metric_set((loopd_metric *)UINTPTR_MAX, 1),
	    -LOOPD_EINVAL);
	ck_assert_int_lt(loopd_metric_add((loopd_metric *)((uintptr_t)c +
	    ((uintptr_t)1 << (sizeof(uintptr_t) * 4))), 1), 0);
	/* A counter's id that claims to be a gauge's. */
	ck_assert_int_lt(loopd_metric_set((loopd_metric *)((uintptr_t)c | 2),
	    1), 0);
	ck_assert_int_eq(loopd_metric_add(c, 1), 0);
	fixture_free(&f);
}
END_TEST

/* ---- threads --------------------------------------------------------------- */

#define ADDERS	4
#define ADDS	100000

static void *
adder(void *arg)
{
	int i;

	for (i = 0; i < ADDS; i++)
		loopd_metric_add(arg, 1);
	return NULL;
}

START_TEST(adds_from_many_threads_all_count)
{
	struct fixture f;
	pthread_t th[ADDERS];
	loopd_metric *c;
	int i;

	fixture_init(&f);
	c = loopd_metric_counter(f.task, "x", NULL);
	ck_assert_ptr_null(accept_msg(&f, &f.sent[0], 2));
	for (i = 0; i < ADDERS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, adder, c), 0);
	for (i = 0; i < ADDERS; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(read_value(&f, 0, "x"), ADDERS * ADDS);
	fixture_free(&f);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("pmetric");
	TCase *api = tcase_create("api"), *table = tcase_create("table");

	tcase_add_test(api, names_follow_prometheus_and_leave_total_to_loopd);
	tcase_add_test(api,
	    declared_metric_reaches_the_table_and_its_value_the_scrape);
	tcase_add_test(api, api_refuses_bad_declarations_without_sending_them);
	tcase_add_test(api, handles_go_stale_with_their_task);
	tcase_add_test(api, garbage_handles_are_refused);
	tcase_add_test(api, adds_from_many_threads_all_count);
	tcase_add_test(table, table_refuses_forged_declarations);
	tcase_add_test(table, table_bounds_the_metrics_of_a_task);
	suite_add_tcase(s, api);
	suite_add_tcase(s, table);
	return unit_run(s);
}
