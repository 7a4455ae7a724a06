/*
 * msg.c: typed values in message bodies, and the configuration messages.
 *
 * A value is a tag byte and its bytes: 'i' and eight bytes of a signed
 * integer (little-endian), 's' and a four-byte length, that many bytes
 * and a NUL.  The reader checks the tag, that the length fits in what is
 * left, that the string holds no NUL before its end and is followed by
 * one; the first problem stops every later read.
 */
#include <stdlib.h>
#include <string.h>

#include "loopd/plugin.h"
#include "arena.h"
#include "msg.h"

#define TAG_INT	'i'
#define TAG_STR	's'

/* Nodes deeper than this are refused; config.c refuses them sooner. */
#define NODE_DEPTH_MAX	128

static void
msg_grow(struct msg_out *m, size_t more)
{
	uint8_t *p;
	size_t cap;

	if (m->nomem || m->len + more <= m->cap)
		return;
	cap = m->cap ? m->cap : 256;
	while (cap < m->len + more)
		cap *= 2;
	if ((p = realloc(m->p, cap)) == NULL) {
		m->nomem = 1;
		return;
	}
	m->p = p;
	m->cap = cap;
}

static void
msg_put(struct msg_out *m, const void *v, size_t n)
{
	msg_grow(m, n);
	if (m->nomem)
		return;
	memcpy(m->p + m->len, v, n);
	m->len += n;
}

void
msg_begin(struct msg_out *m, enum msg_type type)
{
	uint8_t t = (uint8_t)type;

	m->len = 0;
	m->nomem = 0;
	msg_put(m, &t, 1);
}

void
msg_put_int(struct msg_out *m, int64_t v)
{
	uint8_t b[9];
	uint64_t u = (uint64_t)v;
	int i;

	b[0] = TAG_INT;
	for (i = 0; i < 8; i++)
		b[1 + i] = (uint8_t)(u >> (8 * i));
	msg_put(m, b, sizeof b);
}

void
msg_put_str(struct msg_out *m, const char *s, size_t max)
{
	uint8_t b[5];
	size_t n = s != NULL ? strlen(s) : 0;
	int i;

	if (max > 0 && n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;	/* do not cut a UTF-8 sequence */
	}
	b[0] = TAG_STR;
	for (i = 0; i < 4; i++)
		b[1 + i] = (uint8_t)(n >> (8 * i));
	msg_put(m, b, sizeof b);
	if (n > 0)
		msg_put(m, s, n);
	msg_put(m, "", 1);
}

void
msg_out_free(struct msg_out *m)
{
	free(m->p);
	memset(m, 0, sizeof *m);
}

int
msg_open(struct msg_in *in, const void *body, size_t len)
{
	in->p = body;
	in->end = in->p + len;
	in->bad = NULL;
	if (len < 1) {
		in->bad = "empty message";
		return -1;
	}
	return *in->p++;
}

static int
msg_fail(struct msg_in *in, const char *why)
{
	if (in->bad == NULL)
		in->bad = why;
	in->p = in->end;
	return -1;
}

int
msg_get_int(struct msg_in *in, int64_t *v)
{
	uint64_t u = 0;
	int i;

	if (in->bad != NULL)
		return -1;
	if (in->end - in->p < 9)
		return msg_fail(in, "message ends inside a value");
	if (in->p[0] != TAG_INT)
		return msg_fail(in, "expected an integer");
	for (i = 0; i < 8; i++)
		u |= (uint64_t)in->p[1 + i] << (8 * i);
	in->p += 9;
	*v = (int64_t)u;
	return 0;
}

int
msg_get_range(struct msg_in *in, int64_t lo, int64_t hi, int64_t *v)
{
	if (msg_get_int(in, v) < 0)
		return -1;
	if (*v < lo || *v > hi)
		return msg_fail(in, "integer out of range");
	return 0;
}

const char *
msg_get_str(struct msg_in *in, size_t *lenp)
{
	const char *s;
	uint32_t n = 0;
	int i;

	if (in->bad != NULL)
		return NULL;
	if (in->end - in->p < 5 || in->p[0] != TAG_STR) {
		msg_fail(in, "expected a string");
		return NULL;
	}
	for (i = 0; i < 4; i++)
		n |= (uint32_t)in->p[1 + i] << (8 * i);
	if ((size_t)(in->end - in->p) - 5 < (size_t)n + 1) {
		msg_fail(in, "string longer than its message");
		return NULL;
	}
	s = (const char *)in->p + 5;
	if (s[n] != '\0' || memchr(s, '\0', n) != NULL) {
		msg_fail(in, "string with a NUL byte");
		return NULL;
	}
	in->p += 5 + (size_t)n + 1;
	if (lenp != NULL)
		*lenp = n;
	return s;
}

int
msg_done(struct msg_in *in)
{
	if (in->bad == NULL && in->p != in->end)
		msg_fail(in, "bytes after the last value");
	return in->bad == NULL ? 0 : -1;
}

/* ---- configuration: supervisor side -------------------------------------- */

static void
put_mark(struct msg_out *m, struct conf_mark mark)
{
	msg_put_int(m, mark.line);
	msg_put_int(m, mark.col);
}

static void
put_node(struct msg_out *m, const struct conf_node *n)
{
	size_t i;

	msg_put_int(m, n->kind);
	put_mark(m, n->mark);
	if (n->kind == CONF_SCALAR) {
		msg_put_str(m, n->value, 0);
		msg_put_int(m, (n->quoted ? 1 : 0) | (n->is_null ? 2 : 0));
		return;
	}
	msg_put_int(m, (int64_t)n->n);
	for (i = 0; i < n->n; i++) {
		if (n->kind == CONF_MAP) {
			msg_put_str(m, n->keys[i], 0);
			put_mark(m, n->key_marks[i]);
		}
		put_node(m, n->items[i]);
	}
}

static void
put_restart(struct msg_out *m, const struct restart_conf *rc)
{
	msg_put_int(m, rc->policy);
	msg_put_int(m, (int64_t)rc->backoff_min_ms);
	msg_put_int(m, (int64_t)rc->backoff_max_ms);
	msg_put_int(m, (int64_t)rc->intensity);
	msg_put_int(m, (int64_t)rc->window_ms);
}

/* MSG_TASK: task slot i is t. */
static void
put_task(struct msg_out *m, size_t i, const struct task_conf *t)
{
	msg_begin(m, MSG_TASK);
	msg_put_int(m, (int64_t)i);
	msg_put_str(m, t->name, 0);
	msg_put_str(m, t->plugin, 0);
	msg_put_str(m, t->plugin_path, 0);
	msg_put_str(m, t->mark.file, 0);	/* of every mark in the task */
	put_mark(m, t->mark);
	put_restart(m, &t->restart);
	msg_put_int(m, t->config != NULL);
	if (t->config != NULL)
		put_node(m, t->config);
}

int
msg_send_task(size_t slot, const struct task_conf *t,
    int (*send)(void *ctx, const struct msg_out *m), void *ctx)
{
	struct msg_out m = { 0 };
	int rc;

	put_task(&m, slot, t);
	rc = m.nomem ? -1 : send(ctx, &m);
	msg_out_free(&m);
	return rc;
}

int
msg_send_loop(const struct conf *conf, const struct loop_conf *loop,
    const struct creds *creds, const struct task_conf *const *tasks,
    size_t ntasks,
    int (*send)(void *ctx, const struct msg_out *m), void *ctx)
{
	struct msg_out m = { 0 };
	size_t i;
	int rc = 0;

	msg_begin(&m, MSG_LOOP);
	msg_put_str(&m, MSG_PROTOCOL, 0);
	msg_put_str(&m, conf->path, 0);
	msg_put_str(&m, loop->mark.file, 0);	/* a fragment's, perhaps */
	msg_put_str(&m, conf->plugin_dir, 0);
	msg_put_int(&m, conf->log_level);
	msg_put_int(&m, conf->log_format);
	msg_put_int(&m, (int64_t)conf->log_rate);
	msg_put_int(&m, (int64_t)conf->log_rate_ms);
	msg_put_str(&m, loop->name, 0);
	msg_put_int(&m, loop->backend);
	msg_put_int(&m, loop->executor.workers);
	msg_put_int(&m, loop->executor.kind);
	msg_put_int(&m, loop->executor.queue);
	put_mark(&m, loop->executor.mark);
	put_mark(&m, loop->mark);
	put_restart(&m, &loop->restart);
	msg_put_int(&m, (int64_t)loop->start_timeout_ms);
	msg_put_int(&m, (int64_t)loop->hang_timeout_ms);
	msg_put_int(&m, loop->hang_action);
	msg_put_int(&m, (int64_t)loop->limits.memory);
	msg_put_int(&m, (int64_t)loop->limits.open_files);
	msg_put_int(&m, (int64_t)loop->limits.cpu_seconds);
	msg_put_int(&m, loop->sandbox.profile);
	msg_put_int(&m, loop->sandbox.no_new_privs);
	msg_put_int(&m, creds != NULL && creds->set ? (int64_t)creds->uid : -1);
	msg_put_int(&m, creds != NULL && creds->set ? (int64_t)creds->gid : -1);
	msg_put_int(&m, loop->debug);
	msg_put_int(&m, (int64_t)loop->slow_callback_ms);
	msg_put_int(&m, loop->precise_timer);
	msg_put_int(&m, loop->cpu);
	msg_put_int(&m, (int64_t)ntasks);
	rc = m.nomem ? -1 : send(ctx, &m);
	for (i = 0; rc == 0 && i < ntasks; i++) {
		if (tasks[i] == NULL)
			continue;	/* a slot no longer used */
		put_task(&m, i, tasks[i]);
		rc = m.nomem ? -1 : send(ctx, &m);
	}
	if (rc == 0) {
		msg_begin(&m, MSG_GO);
		rc = m.nomem ? -1 : send(ctx, &m);
	}
	msg_out_free(&m);
	return rc;
}

/* ---- configuration: worker side ------------------------------------------ */

/* Everything of the worker's conf goes into its arena. */
static void *
get_mem(struct msg_in *in, const struct conf *conf, size_t n)
{
	void *p;

	if (in->bad != NULL)
		return NULL;
	if ((p = arena_alloc(conf->arena, n)) == NULL)
		msg_fail(in, "out of memory");
	return p;
}

static char *
get_strdup(struct msg_in *in, const struct conf *conf)
{
	const char *s = msg_get_str(in, NULL);
	char *copy;

	if (s == NULL)
		return NULL;
	if ((copy = arena_strdup(conf->arena, s)) == NULL)
		msg_fail(in, "out of memory");
	return copy;
}

/*
 * A file name for marks: conf->path or `also` when it is the same, so
 * that 40,000 tasks of one file keep one copy; else a copy.
 */
static const char *
get_file(struct msg_in *in, const struct conf *conf, const char *also)
{
	const char *s = msg_get_str(in, NULL);
	char *copy;

	if (s == NULL)
		return NULL;
	if (conf->path != NULL && strcmp(s, conf->path) == 0)
		return conf->path;
	if (also != NULL && strcmp(s, also) == 0)
		return also;
	if ((copy = arena_strdup(conf->arena, s)) == NULL)
		msg_fail(in, "out of memory");
	return copy;
}

static void
get_mark(struct msg_in *in, const char *file, struct conf_mark *mark)
{
	int64_t line = 0, col = 0;

	msg_get_range(in, 0, INT32_MAX, &line);
	msg_get_range(in, 0, INT32_MAX, &col);
	mark->file = file;
	mark->line = (int)line;
	mark->col = (int)col;
}

static struct conf_node *
get_node(struct msg_in *in, const struct conf *conf, const char *file,
    int depth)
{
	struct conf_node *n;
	int64_t kind = 0, count = 0, flags = 0;
	size_t i;

	if (depth > NODE_DEPTH_MAX) {
		msg_fail(in, "configuration nested too deep");
		return NULL;
	}
	if (msg_get_range(in, CONF_SCALAR, CONF_SEQ, &kind) < 0)
		return NULL;
	if ((n = get_mem(in, conf, sizeof *n)) == NULL)
		return NULL;
	n->kind = (enum conf_kind)kind;
	get_mark(in, file, &n->mark);
	if (n->kind == CONF_SCALAR) {
		n->value = get_strdup(in, conf);
		msg_get_range(in, 0, 3, &flags);
		n->quoted = (flags & 1) != 0;
		n->is_null = (flags & 2) != 0;
		return n;
	}
	/* Each item takes at least 10 bytes: no count can outgrow the body. */
	if (msg_get_range(in, 0, (in->end - in->p) / 10, &count) < 0)
		return n;
	n->items = get_mem(in, conf, (size_t)count * sizeof *n->items);
	if (n->kind == CONF_MAP) {
		n->keys = get_mem(in, conf, (size_t)count * sizeof *n->keys);
		n->key_marks = get_mem(in, conf,
		    (size_t)count * sizeof *n->key_marks);
	}
	for (i = 0; i < (size_t)count && in->bad == NULL; i++) {
		if (n->kind == CONF_MAP) {
			n->keys[i] = get_strdup(in, conf);
			get_mark(in, file, &n->key_marks[i]);
		}
		n->items[i] = get_node(in, conf, file, depth + 1);
		n->n = i + 1;
	}
	return n;
}

/* A restart_conf with the bounds config.c checks. */
static void
get_restart(struct msg_in *in, struct restart_conf *rc)
{
	int64_t policy = 0, lo = 0, hi = 0, n = 0, window = 0;

	msg_get_range(in, CONF_RESTART_ALWAYS, CONF_RESTART_NEVER, &policy);
	msg_get_range(in, 1, CONF_MAX_DURATION_MS, &lo);
	msg_get_range(in, lo, CONF_MAX_DURATION_MS, &hi);
	msg_get_range(in, 1, CONF_MAX_INTENSITY, &n);
	msg_get_range(in, 1, CONF_MAX_DURATION_MS, &window);
	rc->policy = (enum conf_restart_policy)policy;
	rc->backoff_min_ms = (uint64_t)lo;
	rc->backoff_max_ms = (uint64_t)hi;
	rc->intensity = (uint64_t)n;
	rc->window_ms = (uint64_t)window;
}

/* A limit that is 0 (none) or lies in [lo, hi]. */
static uint64_t
get_limit(struct msg_in *in, int64_t lo, int64_t hi)
{
	int64_t v = 0;

	if (msg_get_range(in, 0, hi, &v) == 0 && v != 0 && v < lo)
		msg_fail(in, "integer out of range");
	return (uint64_t)v;
}

static struct conf *
msg_conf_new(void)
{
	struct arena *a;
	struct conf *conf;

	if ((a = arena_new()) == NULL)
		return NULL;
	if ((conf = arena_alloc(a, sizeof *conf)) == NULL) {
		arena_free(a);
		return NULL;
	}
	conf->arena = a;
	return conf;
}

static int
conf_add_loop(struct conf *conf, struct msg_in *in, struct creds *creds)
{
	struct loop_conf *loop;
	const char *proto, *file;
	int64_t level = 0, format = 0, backend = 0, ntasks = 0;
	int64_t start = 0, hang = 0, action = 0, rate = 0, rate_ms = 0;
	int64_t workers = 0, kind = 0, queue = 1;
	int64_t debug = 0, slow = 1, precise = 0, cpu = -1;
	int64_t profile = 0, nnp = 0, uid = -1, gid = -1;

	if (conf->nloops != 0)
		return msg_fail(in, "a second MSG_LOOP");
	proto = msg_get_str(in, NULL);
	if (proto != NULL && strcmp(proto, MSG_PROTOCOL) != 0)
		return msg_fail(in, "the supervisor speaks another protocol "
		    "version (was loopd upgraded while it ran? restart it)");
	if ((conf->loops = get_mem(in, conf, sizeof *conf->loops)) == NULL)
		return -1;
	conf->nloops = 1;
	loop = &conf->loops[0];
	conf->path = get_strdup(in, conf);
	file = get_file(in, conf, NULL);
	conf->plugin_dir = get_strdup(in, conf);
	msg_get_range(in, LOOPD_LOG_DEBUG, LOOPD_LOG_ERROR, &level);
	msg_get_range(in, CONF_LOG_JSON, CONF_LOG_TEXT, &format);
	msg_get_range(in, 0, CONF_MAX_LOG_RATE, &rate);
	msg_get_range(in, rate > 0 ? 1 : 0, (int64_t)CONF_MAX_DURATION_MS,
	    &rate_ms);
	loop->name = get_strdup(in, conf);
	msg_get_range(in, CONF_BACKEND_AUTO, CONF_BACKEND_SELECT, &backend);
	msg_get_range(in, 0, CONF_MAX_EXEC_WORKERS, &workers);
	msg_get_range(in, CONF_EXEC_IO, CONF_EXEC_CPU, &kind);
	msg_get_range(in, 1, CONF_MAX_EXEC_QUEUE, &queue);
	get_mark(in, file, &loop->executor.mark);
	get_mark(in, file, &loop->mark);
	get_restart(in, &loop->restart);
	msg_get_range(in, 1, CONF_MAX_TIMEOUT_MS, &start);
	msg_get_range(in, 1, CONF_MAX_TIMEOUT_MS, &hang);
	msg_get_range(in, CONF_HANG_RESTART, CONF_HANG_LOG, &action);
	loop->limits.memory = get_limit(in, CONF_MIN_MEMORY, INT64_MAX);
	loop->limits.open_files = get_limit(in, CONF_MIN_OPEN_FILES,
	    CONF_MAX_OPEN_FILES);
	loop->limits.cpu_seconds = get_limit(in, 1, CONF_MAX_CPU_SECONDS);
	msg_get_range(in, CONF_SANDBOX_NONE, CONF_SANDBOX_COMPUTE, &profile);
	msg_get_range(in, 0, 1, &nnp);
	/* (uid_t)-1 and (gid_t)-1 are not ids: -1 is "keep loopd's". */
	msg_get_range(in, -1, (int64_t)UINT32_MAX - 1, &uid);
	msg_get_range(in, -1, (int64_t)UINT32_MAX - 1, &gid);
	if ((uid < 0) != (gid < 0))
		msg_fail(in, "a uid without a gid");
	msg_get_range(in, 0, 1, &debug);
	msg_get_range(in, 1, CONF_MAX_TIMEOUT_MS, &slow);
	msg_get_range(in, 0, 1, &precise);
	msg_get_range(in, -1, CONF_MAX_CPU, &cpu);
	msg_get_range(in, 1, INT32_MAX, &ntasks);
	if (msg_done(in) < 0)
		return -1;
	conf->log_level = (int)level;
	conf->log_format = (enum conf_log_format)format;
	conf->log_rate = (uint64_t)rate;
	conf->log_rate_ms = (uint64_t)rate_ms;
	loop->backend = (enum conf_backend)backend;
	loop->start_timeout_ms = (uint64_t)start;
	loop->hang_timeout_ms = (uint64_t)hang;
	loop->hang_action = (enum conf_hang_action)action;
	loop->executor.workers = (unsigned)workers;
	loop->executor.kind = (enum conf_exec_kind)kind;
	loop->executor.queue = (unsigned)queue;
	loop->debug = (int)debug;
	loop->slow_callback_ms = (uint64_t)slow;
	loop->precise_timer = (int)precise;
	loop->cpu = (int)cpu;
	loop->sandbox.profile = (enum conf_sandbox_profile)profile;
	loop->sandbox.no_new_privs = (int)nnp;
	creds->set = uid >= 0;
	creds->uid = creds->set ? (uid_t)uid : 0;
	creds->gid = creds->set ? (gid_t)gid : 0;
	if ((loop->tasks = get_mem(in, conf, (size_t)ntasks *
	    sizeof *loop->tasks)) == NULL)
		return -1;
	loop->ntasks = (size_t)ntasks;
	return 0;
}

static int
conf_add_task(struct conf *conf, struct msg_in *in, size_t *filled)
{
	struct loop_conf *loop = &conf->loops[0];
	struct task_conf *t;
	const char *file;
	int64_t index = 0, has_config = 0;

	if (msg_get_range(in, (int64_t)*filled, (int64_t)loop->ntasks - 1,
	    &index) < 0)
		return msg_fail(in, "tasks out of order");
	t = &loop->tasks[index];
	*filled = (size_t)index + 1;
	t->name = get_strdup(in, conf);
	t->plugin = get_strdup(in, conf);
	t->plugin_path = get_strdup(in, conf);
	file = get_file(in, conf, loop->mark.file);
	get_mark(in, file, &t->mark);
	get_restart(in, &t->restart);
	msg_get_range(in, 0, 1, &has_config);
	if (in->bad == NULL && has_config)
		t->config = get_node(in, conf, file, 0);
	return msg_done(in);
}

int
msg_conf_add(struct msg_conf_reader *r, const void *body, size_t len,
    const char **why)
{
	struct msg_in in;
	int type, rc;

	type = msg_open(&in, body, len);
	if (r->conf == NULL)
		r->conf = msg_conf_new();
	if (r->conf == NULL)
		rc = msg_fail(&in, "out of memory");
	else if (type != MSG_LOOP && r->conf->nloops == 0)
		rc = msg_fail(&in, "configuration must start with MSG_LOOP");
	else if (type == MSG_LOOP)
		rc = conf_add_loop(r->conf, &in, &r->creds);
	else if (type == MSG_TASK && r->filled < r->conf->loops[0].ntasks)
		rc = conf_add_task(r->conf, &in, &r->filled);
	else if (type == MSG_GO)
		rc = msg_done(&in) < 0 ? -1 : 1;
	else
		rc = msg_fail(&in, "unexpected message in the configuration");
	if (rc < 0)
		*why = in.bad;
	return rc;
}

int
msg_conf_add_task(struct conf *conf, const void *body, size_t len,
    size_t *slot, const char **why)
{
	struct loop_conf *loop = &conf->loops[0];
	struct task_conf *tasks;
	struct msg_in in;
	size_t filled = loop->ntasks;
	int rc;

	if (msg_open(&in, body, len) != MSG_TASK) {
		*why = "not a MSG_TASK";
		return -1;
	}
	/* Slots only grow: the new one goes at the end, in a larger copy of
	 * the table (the old one stays in the arena, where running tasks
	 * still point). */
	if ((tasks = arena_alloc(conf->arena, (loop->ntasks + 1) *
	    sizeof *tasks)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	memcpy(tasks, loop->tasks, loop->ntasks * sizeof *tasks);
	loop->tasks = tasks;
	loop->ntasks++;
	if ((rc = conf_add_task(conf, &in, &filled)) < 0 ||
	    filled != loop->ntasks) {
		loop->ntasks--;
		*why = in.bad != NULL ? in.bad : "a task slot out of order";
		return -1;
	}
	*slot = loop->ntasks - 1;
	return 0;
}

/* ---- reconfiguration in place -------------------------------------------- */

int
msg_send_reconfigure(size_t index, const struct conf_node *config,
    int (*send)(void *ctx, const struct msg_out *m), void *ctx)
{
	struct msg_out m = { 0 };
	int rc;

	msg_begin(&m, MSG_RECONFIGURE);
	msg_put_int(&m, (int64_t)index);
	msg_put_int(&m, config != NULL);
	if (config != NULL)
		put_node(&m, config);
	rc = m.nomem ? -1 : send(ctx, &m);
	msg_out_free(&m);
	return rc;
}

int
msg_get_reconfigure(struct msg_in *in, const struct conf *conf,
    size_t *index, struct conf_node **config)
{
	int64_t i = 0, has_config = 0;
	struct conf_node *n = NULL;

	msg_get_range(in, 0, (int64_t)conf->loops[0].ntasks - 1, &i);
	msg_get_range(in, 0, 1, &has_config);
	/* The new tree is from the task's own file (a reload keeps a task in
	 * the file that named it). */
	if (in->bad == NULL && has_config)
		n = get_node(in, conf, conf->loops[0].tasks[i].mark.file, 0);
	if (msg_done(in) < 0)
		return -1;
	*index = (size_t)i;
	*config = n;
	return 0;
}

void
msg_put_reconfigured(struct msg_out *m, size_t index, int applied)
{
	msg_begin(m, MSG_RECONFIGURED);
	msg_put_int(m, (int64_t)index);
	msg_put_int(m, applied ? 0 : 1);
}
