/*
 * test_worker.c: a real worker process (`loopd --worker`, started with
 * proc_spawn() as the supervisor starts one) driven by this test as its
 * supervisor, over the real messages: MSG_RECONFIGURE applied in place or
 * refused, each answered by one MSG_RECONFIGURED, with no restart.  Every
 * wait runs the loop until the awaited message arrives, with a 10 s
 * deadline that fails the test.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "ipc.h"
#include "listen.h"
#include "msg.h"
#include "proc.h"
#include "task.h"
#include "unit.h"

#define NTASKS	2

struct sup {
	struct event_base	*base;
	struct proc		 proc;
	int			 state[NTASKS];		/* last reported */
	int			 nstates[NTASKS];
	int			 answers[8][2];		/* task, result */
	int			 nanswers;
	char			 msgs[256][96];
	int			 nmsgs;
	int			 closed;
	int			 late;
	int			 (*until)(struct sup *s, const void *arg);
	const void		*arg;
	struct listeners	*ls;		/* as the supervisor binds */
};

static void
sup_frame(void *ctx, const void *body, size_t len)
{
	struct sup *s = ctx;
	struct msg_in in;
	int64_t i, v;
	const char *msg;

	switch (msg_open(&in, body, len)) {
	case MSG_STATE:
		ck_assert_int_eq(msg_get_range(&in, 0, NTASKS - 1, &i), 0);
		ck_assert_int_eq(msg_get_int(&in, &v), 0);
		s->state[i] = (int)v;
		s->nstates[i]++;
		break;
	case MSG_LOG:
		msg_get_int(&in, &v);
		msg_get_str(&in, NULL);
		if ((msg = msg_get_str(&in, NULL)) != NULL && s->nmsgs < 256)
			snprintf(s->msgs[s->nmsgs++], sizeof s->msgs[0], "%s",
			    msg);
		break;
	case MSG_RECONFIGURED:
		ck_assert_int_eq(msg_get_range(&in, 0, NTASKS - 1, &i), 0);
		ck_assert_int_eq(msg_get_range(&in, 0, 1, &v), 0);
		ck_assert_int_eq(msg_done(&in), 0);
		ck_assert_int_lt(s->nanswers, 8);
		s->answers[s->nanswers][0] = (int)i;
		s->answers[s->nanswers++][1] = (int)v;
		break;
	}
	if (s->until != NULL && s->until(s, s->arg))
		event_base_loopbreak(s->base);
}

static void
sup_closed(void *ctx, const char *reason)
{
	struct sup *s = ctx;

	s->closed = 1;
	event_base_loopbreak(s->base);
}

static const struct ipc_callbacks sup_ipc = {
	.frame = sup_frame,
	.closed = sup_closed,
};

static void
guard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sup *s = arg;

	s->late = 1;
	event_base_loopbreak(s->base);
}

/* Run until until(s, arg) holds (or the channel closes); fails after 10 s. */
static void
run_until(struct sup *s, int (*until)(struct sup *, const void *),
    const void *arg)
{
	struct timeval ten = { 10, 0 };
	struct event *ev;

	if (until(s, arg))
		return;
	s->until = until;
	s->arg = arg;
	ev = evtimer_new(s->base, guard_cb, s);
	ck_assert_ptr_nonnull(ev);
	evtimer_add(ev, &ten);
	event_base_dispatch(s->base);
	event_free(ev);
	s->until = NULL;
	ck_assert_msg(!s->late, "the worker did not send what was awaited");
	ck_assert_msg(until(s, arg), "the worker closed its channel first");
}

static int
all_running(struct sup *s, const void *arg)
{
	return s->state[0] == TASK_RUNNING && s->state[1] == TASK_RUNNING;
}

static int
answers(struct sup *s, const void *arg)
{
	return s->nanswers >= *(const int *)arg;
}

static int
logged(struct sup *s, const void *arg)
{
	int i;

	for (i = 0; i < s->nmsgs; i++)
		if (strcmp(s->msgs[i], arg) == 0)
			return 1;
	return 0;
}

static int
closed(struct sup *s, const void *arg)
{
	return s->closed;
}

static struct conf *
parse(const char *tasks)
{
	struct conf_errors errs = { 0 };
	const char *dir = getenv("LOOPD_PLUGINS");
	struct conf *conf;
	char *text;
	int n;

	ck_assert_msg(dir != NULL, "LOOPD_PLUGINS is not set (run through "
	    "ctest)");
	n = asprintf(&text, "plugin_dir: %s\nloops:\n  - name: w\n"
	    "    tasks:\n%s", dir, tasks);
	ck_assert_int_gt(n, 0);
	conf = config_parse_string(text, (size_t)n, "/etc/loopd/test.yaml",
	    NULL, NULL, &errs);
	ck_assert_msg(conf != NULL, "config: %s", errs.n ? errs.v[0].msg :
	    "out of memory");
	free(text);
	return conf;
}

static int
sup_send(void *ctx, const struct msg_out *m)
{
	return ipc_send(ctx, m->p, m->len, 0);
}

static void
send_int(struct sup *s, enum msg_type type, int64_t v, int with)
{
	struct msg_out m = { 0 };

	msg_begin(&m, type);
	if (with)
		msg_put_int(&m, v);
	ck_assert_int_eq(sup_send(s->proc.ipc, &m), 0);
	msg_out_free(&m);
}

/* Offer task i the `config:` of the first task of `tasks`. */
static void
reconfigure(struct sup *s, size_t i, const char *tasks)
{
	struct conf *c = parse(tasks);

	ck_assert_int_eq(msg_send_reconfigure(i,
	    c->loops[0].tasks[0].config, sup_send, s->proc.ipc), 0);
	config_free(c);		/* sent: the worker has its own copy */
}

/* What the supervisor does with a worker's ask for a listening socket. */
static void
sup_sockets_cb(evutil_socket_t sock, short what, void *arg)
{
	struct sup *s = arg;
	struct msg_out m = { 0 };
	struct msg_in in;
	uint8_t buf[512];
	const char *address;
	int64_t slot = 0, port = 0, backlog = 0;
	ssize_t n;
	int fd, passed;

	if ((n = ipc_packet_recv(sock, buf, sizeof buf, &passed, -1)) <= 0)
		return;
	ck_assert_int_eq(msg_open(&in, buf, (size_t)n), MSG_LISTEN);
	msg_get_int(&in, &slot);
	address = msg_get_str(&in, NULL);
	msg_get_int(&in, &port);
	msg_get_int(&in, &backlog);
	ck_assert_int_eq(msg_done(&in), 0);
	fd = listeners_get(s->ls, "w", "echo", address, (int)port,
	    (int)backlog);
	msg_begin(&m, MSG_LISTENING);
	msg_put_int(&m, fd < 0 ? fd : 0);
	ipc_packet_send(sock, m.p, m.len, fd < 0 ? -1 : fd);
	msg_out_free(&m);
}

START_TEST(reconfigure_in_a_worker)
{
	const char *bin = getenv("LOOPD_BIN");
	struct sup s = { 0 };
	const struct task_conf *tcs[2];
	struct event *sockev;
	struct conf *conf;
	int n, status;

	ck_assert_msg(bin != NULL, "LOOPD_BIN is not set (run through ctest)");
	signal(SIGPIPE, SIG_IGN);
	s.base = event_base_new();
	conf = parse(
	    "      - { name: tick, plugin: ticker, "
	    "config: { interval: 1h, message: old } }\n"
	    "      - { name: echo, plugin: echo, "
	    "config: { port: 0, backlog: 8 } }\n");
	ck_assert_int_eq(proc_spawn(&s.proc, s.base, bin, "loop=w", &sup_ipc,
	    &s), 0);
	s.ls = listeners_new();
	sockev = event_new(s.base, s.proc.sock_fd, EV_READ | EV_PERSIST,
	    sup_sockets_cb, &s);
	event_add(sockev, NULL);
	tcs[0] = &conf->loops[0].tasks[0];
	tcs[1] = &conf->loops[0].tasks[1];
	ck_assert_int_eq(msg_send_loop(conf, &conf->loops[0], NULL, tcs, 2,
	    sup_send, s.proc.ipc), 0);
	send_int(&s, MSG_START, 0, 1);
	send_int(&s, MSG_START, 1, 1);
	run_until(&s, all_running, NULL);

	/* The ticker: from an hour to a millisecond, with a new message. */
	reconfigure(&s, 0, "      - { name: tick, plugin: ticker, "
	    "config: { interval: 1ms, message: new } }\n");
	n = 1;
	run_until(&s, answers, &n);
	ck_assert_int_eq(s.answers[0][0], 0);
	ck_assert_int_eq(s.answers[0][1], 0);	/* applied */
	run_until(&s, logged, "new 1");

	/* The echo: a new backlog in place, a new port refused. */
	reconfigure(&s, 1, "      - { name: echo, plugin: echo, "
	    "config: { port: 0, backlog: 16 } }\n");
	reconfigure(&s, 1, "      - { name: echo, plugin: echo, "
	    "config: { port: 1, backlog: 16 } }\n");
	n = 3;
	run_until(&s, answers, &n);
	ck_assert_int_eq(s.answers[1][0], 1);
	ck_assert_int_eq(s.answers[1][1], 0);	/* applied */
	ck_assert(logged(&s, "backlog 16"));
	ck_assert_int_eq(s.answers[2][0], 1);
	ck_assert_int_eq(s.answers[2][1], 1);	/* restart needed */

	/* Nothing was restarted: one state each, running. */
	ck_assert_int_eq(s.nstates[0], 1);
	ck_assert_int_eq(s.nstates[1], 1);
	ck_assert_int_eq(s.state[0], TASK_RUNNING);
	ck_assert_int_eq(s.state[1], TASK_RUNNING);

	send_int(&s, MSG_CANCEL, 0, 0);
	run_until(&s, closed, NULL);
	ck_assert_int_eq(waitpid(s.proc.pid, &status, 0), s.proc.pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	s.proc.pid = 0;
	event_free(sockev);
	proc_release(&s.proc);
	config_free(conf);
	listeners_free(s.ls);
	event_base_free(s.base);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("worker");
	TCase *tc = tcase_create("reconfigure");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, reconfigure_in_a_worker);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
