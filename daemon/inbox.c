/*
 * inbox.c: the checks every message from a worker goes through before the
 * supervisor believes any of it.
 *
 * A worker runs other people's code, so each value is read with its type
 * and range (msg.c) and then checked for what it may mean here: the keys
 * a record may carry, the events a worker may emit, the shape of a
 * timestamp.  The supervisor (supervisor.c) applies what passes.
 */
#include <ctype.h>
#include <string.h>

#include "inbox.h"
#include "log.h"
#include "task.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Events only the supervisor may emit; a worker may send only these. */
static const char *const worker_events[] = {
	"libevent", "loop_start", "log_rate_limited", "loop_stats",
	"loop_lag", "slow_callback", "resource_leak",
};
/* Fields a worker may not set: the supervisor stamps or owns them. */
static const char *const stamped_keys[] = {
	"ts", "level", "msg", "pid", "loop", "task", "plugin",
	"plugin_version", "error", "signal", "signo", "backtrace",
	"exit_status", "lost_tasks", "state", "limit", "function",
	"duration_ms", "action", "suspects", "history_ms_ago", "restarts",
	"attempt", "delay_ms", "cause", "charged", "not_running", "result",
	"syscall",
};

static int
word_in(const char *s, const char *const *words, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, words[i]) == 0)
			return 1;
	return 0;
}

/* "2026-11-25T10:38:50.652234Z" */
static int
ts_valid(const char *ts, size_t len)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	size_t i;

	if (len != sizeof shape - 1)
		return 0;
	for (i = 0; i < len; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)ts[i]) :
		    ts[i] != shape[i])
			return 0;
	return 1;
}

static int
key_valid(const char *key, size_t len)
{
	size_t i;

	if (len == 0 || len > 32 || !islower((unsigned char)key[0]))
		return 0;
	for (i = 0; i < len; i++)
		if (!islower((unsigned char)key[i]) &&
		    !isdigit((unsigned char)key[i]) && key[i] != '_')
			return 0;
	return !word_in(key, stamped_keys, NELEM(stamped_keys));
}

const char *
inbox_log(struct msg_in *in, size_t ntasks, struct inbox_log *log)
{
	int64_t level = 0;

	memset(log, 0, sizeof *log);
	msg_get_range(in, LOOPD_LOG_DEBUG, LOOPD_LOG_ERROR, &level);
	log->ts = msg_get_str(in, &log->tslen);
	log->msg = msg_get_str(in, NULL);
	msg_get_range(in, -1, (int64_t)ntasks - 1, &log->task);
	msg_get_range(in, 0, INBOX_FIELDS_MAX, &log->nfields);
	if (in->bad != NULL)
		return in->bad;
	log->level = (int)level;
	if (!ts_valid(log->ts, log->tslen))
		return "a record without a valid ts";
	return NULL;
}

/* One extra field of a MSG_LOG into r; NULL or what was wrong. */
static const char *
inbox_field(struct msg_in *in, json_t *r)
{
	const char *key, *s;
	size_t klen, slen;
	int64_t kind, v;

	if ((key = msg_get_str(in, &klen)) == NULL ||
	    msg_get_range(in, 0, 1, &kind) < 0)
		return in->bad;
	if (!key_valid(key, klen) || json_object_get(r, key) != NULL)
		return "a record with a field the worker may not set";
	if (kind == 0) {
		if (msg_get_int(in, &v) < 0)
			return in->bad;
		json_object_set_new(r, key, json_integer(v));
		return NULL;
	}
	if ((s = msg_get_str(in, &slen)) == NULL)
		return in->bad;
	if (strcmp(key, "event") == 0 && !word_in(s, worker_events,
	    NELEM(worker_events)))
		return "a record with an event only the supervisor may emit";
	json_object_set_new(r, key, log_string(s));
	return NULL;
}

/* "dropped" counts what a worker's log.rate dropped, and nothing else. */
static const char *
inbox_dropped_ok(json_t *r)
{
	const char *ev = json_string_value(json_object_get(r, "event"));

	return json_object_get(r, "dropped") == NULL || (ev != NULL &&
	    strcmp(ev, "log_rate_limited") == 0) ? NULL : "a record with a "
	    "field the worker may not set";
}

const char *
inbox_log_fields(struct msg_in *in, int64_t nfields, json_t *r)
{
	const char *why = NULL;
	int64_t i;

	for (i = 0; i < nfields && why == NULL; i++)
		why = inbox_field(in, r);
	if (why == NULL)
		why = inbox_dropped_ok(r);
	if (why == NULL && msg_done(in) < 0)
		why = in->bad;
	return why;
}

const char *
inbox_state(struct msg_in *in, size_t ntasks, struct inbox_state *st)
{
	int64_t i = 0, s = 0;

	memset(st, 0, sizeof *st);
	msg_get_range(in, 0, (int64_t)ntasks - 1, &i);
	msg_get_range(in, TASK_RUNNING, TASK_FAILED, &s);
	st->version = msg_get_str(in, NULL);
	st->type = msg_get_str(in, NULL);
	st->msg = msg_get_str(in, NULL);
	if (in->bad == NULL && in->p < in->end)
		st->callback = msg_get_str(in, NULL);
	if (msg_done(in) < 0)
		return in->bad;
	st->task = (size_t)i;
	st->state = (int)s;
	return NULL;
}

int
inbox_state_follows(int last, int next)
{
	return last < TASK_DONE && next > last;
}

const char *
inbox_dropped(struct msg_in *in, size_t *n)
{
	int64_t v;

	if (msg_get_range(in, 1, INT64_MAX, &v) < 0 || msg_done(in) < 0)
		return in->bad;
	*n = (size_t)v;
	return NULL;
}

const char *
inbox_reconfigured(struct msg_in *in, size_t ntasks, size_t *task,
    int *applied)
{
	int64_t i = 0, result = 0;

	msg_get_range(in, 0, (int64_t)ntasks - 1, &i);
	msg_get_range(in, 0, 1, &result);
	if (msg_done(in) < 0)
		return in->bad;
	*task = (size_t)i;
	*applied = result == 0;
	return NULL;
}

const char *
inbox_listen(struct msg_in *in, size_t ntasks, struct inbox_listen *ls)
{
	int64_t slot = 0, port = 0, backlog = 0;

	memset(ls, 0, sizeof *ls);
	msg_get_range(in, 0, (int64_t)ntasks - 1, &slot);
	ls->address = msg_get_str(in, NULL);
	msg_get_range(in, 0, 65535, &port);
	msg_get_range(in, 1, 65535, &backlog);
	if (msg_done(in) < 0)
		return in->bad;
	ls->task = (size_t)slot;
	ls->port = (int)port;
	ls->backlog = (int)backlog;
	return NULL;
}
