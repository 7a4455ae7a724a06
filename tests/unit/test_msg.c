/*
 * test_msg.c: the configuration messages from the supervisor to a worker.
 *
 * A parsed configuration is sent loop by loop with msg_send_loop(), the
 * messages are collected and fed back to msg_conf_add(), and what comes
 * out must equal what went in, field by field.  Then values out of their
 * range are sent and must be refused where they are read.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loopd/plugin.h"
#include "config.h"
#include "msg.h"
#include "unit.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Every key, with two loops: one with every setting, one with none. */
static const char full_yaml[] =
    "plugin_dir: /opt/loopd/plugins\n"
    "log: {level: debug, format: text, rate: 50/2s}\n"
    "on_exhausted: exit\n"
    "loops:\n"
    "  - name: net\n"
    "    backend: poll\n"
    "    restart: {policy: always, backoff: 250ms..1m, intensity: 3/10s}\n"
    "    start_timeout: 20s\n"
    "    hang_timeout: 1500ms\n"
    "    hang_action: log\n"
    "    limits: {memory: 512M, open_files: 4096, cpu_seconds: 3600}\n"
    "    sandbox: {profile: compute, no_new_privs: false}\n"
    "    debug: true\n"
    "    slow_callback: 25ms\n"
    "    precise_timer: true\n"
    "    cpu: 1\n"
    "    tasks:\n"
    "      - name: echo\n"
    "        plugin: echo\n"
    "        restart: {policy: never, intensity: 7/2m}\n"
    "        config:\n"
    "          port: 7000\n"
    "          peers: [a, 'b', ~]\n"
    "      - name: tick\n"
    "        plugin: ticker\n"
    "  - name: plain\n"
    "    tasks: [{name: t, plugin: echo}]\n";

struct sent {
	void		*body[16];
	size_t		 len[16];
	size_t		 n;
};

static int
collect(void *ctx, const struct msg_out *m)
{
	struct sent *s = ctx;

	ck_assert_uint_lt(s->n, NELEM(s->body));
	ck_assert_ptr_nonnull(s->body[s->n] = malloc(m->len));
	memcpy(s->body[s->n], m->p, m->len);
	s->len[s->n++] = m->len;
	return 0;
}

static void
sent_free(struct sent *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->body[i]);
	memset(s, 0, sizeof *s);
}

static struct conf *
parse(const char *yaml)
{
	struct conf_errors errs;
	struct conf *conf;
	char buf[512];
	size_t i;

	memset(&errs, 0, sizeof errs);
	conf = config_parse_string(yaml, strlen(yaml), "test.yaml", NULL,
	    NULL, &errs);
	for (i = 0; i < errs.n; i++) {
		conf_error_format(&errs.v[i], buf, sizeof buf);
		fprintf(stderr, "%s\n", buf);
	}
	ck_assert_ptr_nonnull(conf);
	return conf;
}

/*
 * Send loop l of conf and read it back: the worker's conf, or NULL with
 * *why set when a message was refused.
 */
static struct conf *
round_trip_creds(const struct conf *conf, const struct loop_conf *l,
    const struct creds *creds, struct creds *got, const char **why)
{
	struct msg_conf_reader r = { 0 };
	const struct task_conf **tcs = calloc(l->ntasks + 1, sizeof *tcs);
	struct sent s = { 0 };
	size_t i;
	int rc = 0;

	*why = NULL;
	for (i = 0; i < l->ntasks; i++)
		tcs[i] = &l->tasks[i];
	ck_assert_int_eq(msg_send_loop(conf, l, creds, tcs, l->ntasks, collect, &s),
	    0);
	free(tcs);
	ck_assert_uint_eq(s.n, l->ntasks + 2);
	for (i = 0; i < s.n && rc == 0; i++)
		rc = msg_conf_add(&r, s.body[i], s.len[i], why);
	sent_free(&s);
	if (rc == 1) {
		ck_assert_uint_eq(i, l->ntasks + 2);	/* at MSG_GO only */
		if (got != NULL)
			*got = r.creds;
		return r.conf;
	}
	ck_assert_int_eq(rc, -1);
	ck_assert_ptr_nonnull(*why);
	config_free(r.conf);
	return NULL;
}

static struct conf *
round_trip(const struct conf *conf, const struct loop_conf *l,
    const char **why)
{
	return round_trip_creds(conf, l, NULL, NULL, why);
}

static void
same_mark(struct conf_mark a, struct conf_mark b)
{
	ck_assert_int_eq(a.line, b.line);
	ck_assert_int_eq(a.col, b.col);
	ck_assert_str_eq(a.file != NULL ? a.file : "",
	    b.file != NULL ? b.file : "");
}

static void
same_node(const struct conf_node *a, const struct conf_node *b)
{
	size_t i;

	if (a == NULL || b == NULL) {
		ck_assert_ptr_eq(a, b);
		return;
	}
	ck_assert_int_eq(a->kind, b->kind);
	same_mark(a->mark, b->mark);
	if (a->kind == CONF_SCALAR) {
		ck_assert_str_eq(a->value, b->value);
		ck_assert_int_eq(a->quoted, b->quoted);
		ck_assert_int_eq(a->is_null, b->is_null);
		return;
	}
	ck_assert_uint_eq(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		if (a->kind == CONF_MAP) {
			ck_assert_str_eq(a->keys[i], b->keys[i]);
			same_mark(a->key_marks[i], b->key_marks[i]);
		}
		same_node(a->items[i], b->items[i]);
	}
}

static void
same_restart(const struct restart_conf *a, const struct restart_conf *b)
{
	ck_assert_int_eq(a->policy, b->policy);
	ck_assert_uint_eq(a->backoff_min_ms, b->backoff_min_ms);
	ck_assert_uint_eq(a->backoff_max_ms, b->backoff_max_ms);
	ck_assert_uint_eq(a->intensity, b->intensity);
	ck_assert_uint_eq(a->window_ms, b->window_ms);
}

/* What a worker needs of loop a is all in b, the worker's conf. */
static void
same_loop(const struct conf *ca, const struct loop_conf *a,
    const struct conf *cb)
{
	const struct loop_conf *b;
	const struct task_conf *ta, *tb;
	size_t i;

	ck_assert_str_eq(ca->path, cb->path);
	ck_assert_str_eq(ca->plugin_dir, cb->plugin_dir);
	ck_assert_int_eq(ca->log_level, cb->log_level);
	ck_assert_int_eq(ca->log_format, cb->log_format);
	ck_assert_uint_eq(ca->log_rate, cb->log_rate);
	ck_assert_uint_eq(ca->log_rate_ms, cb->log_rate_ms);
	ck_assert_uint_eq(cb->nloops, 1);
	b = &cb->loops[0];
	ck_assert_str_eq(a->name, b->name);
	ck_assert_int_eq(a->backend, b->backend);
	same_mark(a->mark, b->mark);
	if (strcmp(b->mark.file, cb->path) == 0)	/* one copy */
		ck_assert_ptr_eq(b->mark.file, cb->path);
	same_restart(&a->restart, &b->restart);
	ck_assert_uint_eq(a->start_timeout_ms, b->start_timeout_ms);
	ck_assert_uint_eq(a->hang_timeout_ms, b->hang_timeout_ms);
	ck_assert_int_eq(a->hang_action, b->hang_action);
	ck_assert_uint_eq(a->limits.memory, b->limits.memory);
	ck_assert_uint_eq(a->limits.open_files, b->limits.open_files);
	ck_assert_uint_eq(a->limits.cpu_seconds, b->limits.cpu_seconds);
	ck_assert_int_eq(a->debug, b->debug);
	ck_assert_uint_eq(a->slow_callback_ms, b->slow_callback_ms);
	ck_assert_int_eq(a->precise_timer, b->precise_timer);
	ck_assert_int_eq(a->cpu, b->cpu);
	ck_assert_int_eq(a->sandbox.profile, b->sandbox.profile);
	ck_assert_int_eq(a->sandbox.no_new_privs, b->sandbox.no_new_privs);
	ck_assert_uint_eq(a->ntasks, b->ntasks);
	for (i = 0; i < a->ntasks; i++) {
		ta = &a->tasks[i];
		tb = &b->tasks[i];
		ck_assert_str_eq(ta->name, tb->name);
		ck_assert_str_eq(ta->plugin, tb->plugin);
		ck_assert_str_eq(ta->plugin_path, tb->plugin_path);
		same_mark(ta->mark, tb->mark);
		same_restart(&ta->restart, &tb->restart);
		same_node(ta->config, tb->config);
	}
}

START_TEST(test_round_trip)
{
	struct conf *conf, *got;
	const struct loop_conf *net;
	const char *why;
	size_t i;

	conf = parse(full_yaml);
	/* The values are not the defaults, so that a field left out or
	 * swapped with another shows. */
	net = &conf->loops[0];
	ck_assert_int_eq(net->restart.policy, CONF_RESTART_ALWAYS);
	ck_assert_uint_eq(net->limits.memory, 512ULL << 20);
	ck_assert_int_eq(net->hang_action, CONF_HANG_LOG);
	ck_assert_int_eq(net->debug, 1);
	ck_assert_uint_eq(net->slow_callback_ms, 25);
	ck_assert_int_eq(net->precise_timer, 1);
	ck_assert_int_eq(net->cpu, 1);
	ck_assert_int_eq(conf->loops[1].cpu, -1);
	ck_assert_uint_eq(conf->loops[1].slow_callback_ms,
	    CONF_DEFAULT_SLOW_CALLBACK_MS);
	ck_assert_int_eq(net->sandbox.profile, CONF_SANDBOX_COMPUTE);
	ck_assert_int_eq(net->sandbox.no_new_privs, 0);
	ck_assert_int_eq(conf->loops[1].sandbox.profile, CONF_SANDBOX_NONE);
	ck_assert_int_eq(net->tasks[0].restart.policy, CONF_RESTART_NEVER);
	ck_assert_uint_eq(net->tasks[0].restart.intensity, 7);
	ck_assert_uint_eq(net->tasks[0].restart.backoff_min_ms, 250);
	for (i = 0; i < conf->nloops; i++) {
		got = round_trip(conf, &conf->loops[i], &why);
		ck_assert_msg(got != NULL, "loop %zu refused: %s", i, why);
		same_loop(conf, &conf->loops[i], got);
		config_free(got);
	}
	config_free(conf);
}
END_TEST

/* The ids the worker drops to: none, or exactly these. */
START_TEST(test_creds)
{
	static const struct creds want[] = {
		{ 1, 65534, 65533 }, { 1, 0, 0 }, { 1, UINT32_MAX - 1, 1 },
	};
	struct creds got;
	struct conf *conf, *back;
	const char *why;
	size_t i;

	conf = parse(full_yaml);
	for (i = 0; i < NELEM(want); i++) {
		memset(&got, 0xff, sizeof got);
		back = round_trip_creds(conf, &conf->loops[0], &want[i], &got,
		    &why);
		ck_assert_msg(back != NULL, "refused: %s", why);
		ck_assert_int_eq(got.set, 1);
		ck_assert_uint_eq(got.uid, want[i].uid);
		ck_assert_uint_eq(got.gid, want[i].gid);
		config_free(back);
	}
	memset(&got, 0xff, sizeof got);
	back = round_trip_creds(conf, &conf->loops[0], NULL, &got, &why);
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(got.set, 0);
	config_free(back);
	config_free(conf);
}
END_TEST

/* A loop from a fragment: the worker's marks name the fragment. */
START_TEST(test_fragment_file)
{
	struct conf_errors errs;
	struct conf *conf, *got;
	const struct conf_node *port;
	const char *why;
	char dir[] = "/tmp/test_msg.XXXXXX", path[128], frag[128];
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/loopd.yaml", dir);
	snprintf(frag, sizeof frag, "%s/frag.yaml", dir);
	ck_assert_ptr_nonnull(f = fopen(frag, "w"));
	fputs("loops:\n  - name: f\n    tasks:\n      - name: t\n"
	    "        plugin: echo\n        config: {port: x}\n", f);
	fclose(f);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs("include: frag.yaml\n", f);
	fclose(f);
	memset(&errs, 0, sizeof errs);
	ck_assert_ptr_nonnull(conf = config_parse_file(path, NULL, NULL,
	    &errs));
	ck_assert_ptr_nonnull(got = round_trip(conf, &conf->loops[0], &why));
	same_loop(conf, &conf->loops[0], got);
	ck_assert_str_eq(got->path, path);
	ck_assert_str_eq(got->loops[0].mark.file, frag);
	ck_assert_str_eq(got->loops[0].tasks[0].mark.file, frag);
	port = tree_map_get(got->loops[0].tasks[0].config, "port");
	ck_assert_ptr_nonnull(port);
	ck_assert_str_eq(port->mark.file, frag);
	ck_assert_int_eq(port->mark.line, 6);
	config_free(got);
	config_free(conf);
	unlink(frag);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* Values out of their range: each is refused by the worker, not taken. */
static const char *const corruptions[] = {
	"policy", "backoff min 0", "backoff min > max", "intensity too high",
	"window 0", "start_timeout too long", "hang_timeout 0", "hang_action",
	"memory below 1M", "open_files too high", "open_files too low",
	"cpu_seconds too high", "task policy", "task backoff too long",
	"task intensity 0", "sandbox profile", "sandbox no_new_privs",
	"slow_callback 0", "cpu too high",
};

static void
corrupt(struct loop_conf *l, int which)
{
	switch (which) {
	case 0:
		l->restart.policy = (enum conf_restart_policy)3;
		break;
	case 1:
		l->restart.backoff_min_ms = 0;
		break;
	case 2:
		l->restart.backoff_max_ms = l->restart.backoff_min_ms - 1;
		break;
	case 3:
		l->restart.intensity = CONF_MAX_INTENSITY + 1;
		break;
	case 4:
		l->restart.window_ms = 0;
		break;
	case 5:
		l->start_timeout_ms = CONF_MAX_TIMEOUT_MS + 1;
		break;
	case 6:
		l->hang_timeout_ms = 0;
		break;
	case 7:
		l->hang_action = (enum conf_hang_action)2;
		break;
	case 8:
		l->limits.memory = CONF_MIN_MEMORY - 1;
		break;
	case 9:
		l->limits.open_files = CONF_MAX_OPEN_FILES + 1;
		break;
	case 10:
		l->limits.open_files = CONF_MIN_OPEN_FILES - 1;
		break;
	case 11:
		l->limits.cpu_seconds = (uint64_t)CONF_MAX_CPU_SECONDS + 1;
		break;
	case 12:
		l->tasks[1].restart.policy = (enum conf_restart_policy)7;
		break;
	case 13:
		l->tasks[1].restart.backoff_max_ms = CONF_MAX_DURATION_MS + 1;
		break;
	case 14:
		l->tasks[0].restart.intensity = 0;
		break;
	case 15:
		l->sandbox.profile = (enum conf_sandbox_profile)3;
		break;
	case 16:
		l->sandbox.no_new_privs = 2;
		break;
	case 17:
		l->slow_callback_ms = 0;
		break;
	case 18:
		l->cpu = CONF_MAX_CPU + 1;
		break;
	}
}

START_TEST(test_out_of_range)
{
	struct conf *conf, *got;
	const char *why;

	conf = parse(full_yaml);
	ck_assert_ptr_nonnull(got = round_trip(conf, &conf->loops[0], &why));
	config_free(got);
	corrupt(&conf->loops[0], _i);
	got = round_trip(conf, &conf->loops[0], &why);
	ck_assert_msg(got == NULL, "%s: taken", corruptions[_i]);
	ck_assert_str_eq(why, "integer out of range");
	config_free(conf);
}
END_TEST

static Suite *
msg_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("msg");
	tc = tcase_create("conf");
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_fragment_file);
	tcase_add_test(tc, test_creds);
	tcase_add_loop_test(tc, test_out_of_range, 0, NELEM(corruptions));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(msg_suite());
}
