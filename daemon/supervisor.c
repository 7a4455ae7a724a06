/*
 * supervisor.c: the supervisor's loop, and its policy.
 *
 * It starts one worker per loop (proc.c), follows every task's state from
 * the workers' reports, checks and stamps every record they send before it
 * writes it, notices at once when a worker dies (SIGCHLD) and says which
 * task was running, and carries out shutdown: cancel, wait within the
 * grace period, then kill what is left and name it.  Signals arrive as
 * loop events; no work is done in a signal handler.  It never loads plugin
 * code, and it believes nothing a worker says without checking it: a
 * worker that breaks the protocol is killed and its tasks reported lost.
 */
#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "msg.h"
#include "notify.h"
#include "proc.h"
#include "supervisor.h"
#include "symbolize.h"
#include "task.h"
#include "worker.h"

/* The supervisor's view of one loop and its worker. */
struct sv_loop {
	struct supervisor	*sv;
	const struct loop_conf	*loop;
	struct proc		 proc;
	unsigned char		*states;	/* enum task_state, per task */
	size_t			 nlive;		/* tasks not done or failed */
	int			 killed;	/* we sent SIGKILL at the grace */
	char			*broken;	/* why we killed it, if we did */
	struct event		*eof;		/* channel closed, not reaped */
};

/* A worker that closed its channel has this long to be reaped. */
#define SV_EOF_GRACE_MS	1000

struct supervisor {
	const struct conf	*conf;
	const char		*exe;
	struct event_base	*base;
	struct sv_loop		*loops;
	size_t			 nloops;
	struct event		*sig[4];
	struct event		*grace;
	size_t			 ntasks;
	size_t			 nstarting;	/* tasks not yet past starting */
	size_t			 nlive;		/* tasks not done or failed */
	size_t			 nworkers;	/* workers not yet reaped */
	int			 stopping;
	int			 forced;	/* tasks outlived the grace */
	int			 lost;		/* tasks died with a worker */
	int			 ready;
};

static const int handled_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGCHLD };

/* Events only the supervisor may emit; a worker may send only these. */
static const char *const worker_events[] = { "libevent", "loop_start" };
/* Fields a worker may not set: the supervisor stamps or owns them. */
static const char *const stamped_keys[] = {
	"ts", "level", "msg", "pid", "loop", "task", "plugin",
	"plugin_version", "error", "signal", "signo", "backtrace",
	"exit_status", "lost_tasks", "state", "dropped",
};
#define SV_EXTRA_MAX	32	/* extra fields in one record */

static json_t *
sv_record(struct sv_loop *l, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A record tagged with the loop and the worker's pid. */
static json_t *
sv_record(struct sv_loop *l, int level, const char *fmt, ...)
{
	va_list ap;
	json_t *r;

	va_start(ap, fmt);
	r = log_vrecord(level, fmt, ap);
	va_end(ap);
	log_add(r, "loop", l->loop->name);
	if (r != NULL && l->proc.pid > 0)
		json_object_set_new(r, "pid", json_integer(l->proc.pid));
	return r;
}

static void
sv_add_task(json_t *r, const struct task_conf *tc)
{
	log_add(r, "task", tc->name);
	log_add(r, "plugin", tc->plugin);
}

static int
word_in(const char *s, const char *const *words, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, words[i]) == 0)
			return 1;
	return 0;
}

/* ---- readiness ---------------------------------------------------------- */

/* READY=1 once no task is still starting. */
static void
sv_check_ready(struct supervisor *sv)
{
	size_t running = sv->nlive;
	json_t *r;

	if (sv->ready || sv->stopping || sv->nstarting > 0)
		return;
	sv->ready = 1;
	malloc_trim(0);		/* start-up's buffers, the workers' configs */
	notify_ready("running %zu of %zu tasks on %zu loops", running,
	    sv->ntasks, sv->nloops);
	r = log_record(LOOPD_LOG_INFO, "ready: %zu of %zu tasks running on "
	    "%zu loops", running, sv->ntasks, sv->nloops);
	log_add(r, "event", "ready");
	log_emit(r);
}

/* Task i of l is now in state s; keep the counts. */
static void
sv_set_state(struct sv_loop *l, size_t i, enum task_state s)
{
	struct supervisor *sv = l->sv;
	enum task_state old = l->states[i];

	if (old == TASK_STARTING && s != TASK_STARTING)
		sv->nstarting--;
	if (old < TASK_DONE && s >= TASK_DONE) {
		sv->nlive--;
		l->nlive--;
	}
	l->states[i] = (unsigned char)s;
}

/* ---- what a worker says --------------------------------------------------- */

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
	return !word_in(key, stamped_keys,
	    sizeof stamped_keys / sizeof stamped_keys[0]);
}

/* One extra field of a MSG_LOG into r; NULL or what was wrong. */
static const char *
sv_log_extra(struct msg_in *in, json_t *r)
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
	    sizeof worker_events / sizeof worker_events[0]))
		return "a record with an event only the supervisor may emit";
	json_object_set_new(r, key, log_string(s));
	return NULL;
}

/* A MSG_LOG that will not be written: check the rest of it all the same,
 * and count it as dropped when it would have been. */
static const char *
sv_log_skip(struct sv_loop *l, struct msg_in *in, int64_t nextra, int count)
{
	json_t *scratch = json_object();
	const char *why = NULL;
	int64_t i;

	for (i = 0; i < nextra && why == NULL; i++)
		why = sv_log_extra(in, scratch);
	json_decref(scratch);
	if (why == NULL && msg_done(in) < 0)
		why = in->bad;
	if (why == NULL && count)
		log_count_dropped(1);
	return why;
}

/* MSG_LOG: check it, stamp pid and loop, write it.  NULL or the fault. */
static const char *
sv_log(struct sv_loop *l, struct msg_in *in)
{
	const char *ts, *msg, *why = NULL;
	int64_t level, task, nextra, i;
	size_t tslen;
	json_t *r;

	msg_get_range(in, LOOPD_LOG_DEBUG, LOOPD_LOG_ERROR, &level);
	ts = msg_get_str(in, &tslen);
	msg = msg_get_str(in, NULL);
	msg_get_range(in, -1, (int64_t)l->loop->ntasks - 1, &task);
	msg_get_range(in, 0, SV_EXTRA_MAX, &nextra);
	if (in->bad != NULL)
		return in->bad;
	if (!ts_valid(ts, tslen))
		return "a record without a valid ts";
	/* Below the level, or bound to be dropped: the rest is only checked
	 * (the worker filters levels too; a full log output must not cost the
	 * work of building what it cannot take). */
	if (level < log_level() || log_would_drop(strlen(msg) + 128))
		return sv_log_skip(l, in, nextra, level >= log_level());
	if ((r = json_object()) == NULL)
		return NULL;
	json_object_set_new(r, "ts", json_stringn(ts, tslen));
	json_object_set_new(r, "level", json_string(log_level_name(
	    (int)level)));
	json_object_set_new(r, "msg", log_string(msg));
	json_object_set_new(r, "pid", json_integer(l->proc.pid));
	log_add(r, "loop", l->loop->name);
	if (task >= 0)
		sv_add_task(r, &l->loop->tasks[task]);
	for (i = 0; i < nextra && why == NULL; i++)
		why = sv_log_extra(in, r);
	if (why == NULL && msg_done(in) < 0)
		why = in->bad;
	if (why != NULL)
		json_decref(r);
	else
		log_emit(r);
	return why;
}

/* MSG_STATE: a task's new state; logged once, here. */
static const char *
sv_state(struct sv_loop *l, struct msg_in *in)
{
	const struct task_conf *tc;
	const char *ver, *type, *m;
	int64_t i, s;
	json_t *r;

	msg_get_range(in, 0, (int64_t)l->loop->ntasks - 1, &i);
	msg_get_range(in, TASK_RUNNING, TASK_FAILED, &s);
	ver = msg_get_str(in, NULL);
	type = msg_get_str(in, NULL);
	m = msg_get_str(in, NULL);
	if (msg_done(in) < 0)
		return in->bad;
	if (l->states[i] >= TASK_DONE || s <= l->states[i])
		return "a task state that does not follow the last one";
	tc = &l->loop->tasks[i];
	sv_set_state(l, (size_t)i, (enum task_state)s);
	if (s == TASK_FAILED) {
		r = sv_record(l, LOOPD_LOG_ERROR, "task '%s' failed: %s",
		    tc->name, *m ? m : "(no message)");
		sv_add_task(r, tc);
		log_add(r, "plugin_version", *ver ? ver : NULL);
		log_add(r, "event", "task_error");
		log_add_error(r, *type ? type : "error", m);
	} else {
		r = sv_record(l, s == TASK_DONE || s == TASK_RUNNING ?
		    LOOPD_LOG_INFO : LOOPD_LOG_DEBUG, "task '%s' %s", tc->name,
		    task_state_name((enum task_state)s));
		sv_add_task(r, tc);
		log_add(r, "plugin_version", *ver ? ver : NULL);
		log_add(r, "event", "task_state");
		log_add(r, "state", task_state_name((enum task_state)s));
	}
	log_emit(r);
	sv_check_ready(l->sv);
	return NULL;
}

/* MSG_DROPPED: records the worker could not send, said with the
 * supervisor's own drops. */
static const char *
sv_dropped(struct sv_loop *l, struct msg_in *in)
{
	int64_t n;

	if (msg_get_range(in, 1, INT64_MAX, &n) < 0 || msg_done(in) < 0)
		return in->bad;
	log_count_dropped((size_t)n);
	return NULL;
}

/* The worker broke the protocol or its channel: kill it, say why later. */
static void
sv_break(struct sv_loop *l, const char *why)
{
	if (l->broken == NULL)
		l->broken = strdup(why);
	if (l->proc.ipc != NULL)
		ipc_close(l->proc.ipc);
	proc_kill(&l->proc);
}

static void
sv_frame(void *ctx, const void *body, size_t len)
{
	struct sv_loop *l = ctx;
	struct msg_in in;
	const char *why;
	char buf[160];

	switch (msg_open(&in, body, len)) {
	case MSG_LOG:
		why = sv_log(l, &in);
		break;
	case MSG_STATE:
		why = sv_state(l, &in);
		break;
	case MSG_DROPPED:
		why = sv_dropped(l, &in);
		break;
	default:
		why = "a message of a type a worker may not send";
		break;
	}
	if (why == NULL)
		return;
	snprintf(buf, sizeof buf, "sent a bad message (%s)", why);
	sv_break(l, buf);
}

static void
sv_eof_cb(evutil_socket_t fd, short what, void *arg)
{
	sv_break(arg, "closed its channel to the supervisor but did not "
	    "exit");
}

static void
sv_closed(void *ctx, const char *reason)
{
	struct sv_loop *l = ctx;
	struct timeval tv = { 0, SV_EOF_GRACE_MS * 1000 };
	char buf[160];

	/* A worker that exits closes its channel first, and SIGCHLD comes
	 * right after.  One that lives on without it can no longer be
	 * heard: it is killed if it is still there a moment later. */
	if (reason == NULL) {
		evtimer_add(l->eof, &tv);
		return;
	}
	snprintf(buf, sizeof buf, "broke its channel (%s)", reason);
	sv_break(l, buf);
}

static const struct ipc_callbacks sv_ipc = {
	.frame = sv_frame,
	.closed = sv_closed,
};

/* ---- workers ---------------------------------------------------------------- */

static int
sv_send(void *ctx, const struct msg_out *m)
{
	return ipc_send(ctx, m->p, m->len, 0);
}

static int
sv_spawn(struct sv_loop *l)
{
	struct supervisor *sv = l->sv;
	char title[96];

	snprintf(title, sizeof title, "loop=%s", l->loop->name);
	if (proc_spawn(&l->proc, sv->base, sv->exe, title, &sv_ipc, l) < 0)
		return -1;
	sv->nworkers++;
	if (msg_send_loop(sv->conf, l->loop, sv_send, l->proc.ipc) < 0)
		sv_break(l, "could not be sent its configuration");
	return 0;
}

static const char *
signal_name(int sig, char *buf, size_t len)
{
	const char *abbrev = sigabbrev_np(sig);

	snprintf(buf, len, "SIG%s", abbrev != NULL ? abbrev : "?");
	return buf;
}

static json_t *
sv_lost_tasks(const struct sv_loop *l)
{
	json_t *lost = json_array();
	size_t i;

	for (i = 0; i < l->loop->ntasks; i++)
		if (l->states[i] < TASK_DONE)
			json_array_append_new(lost,
			    json_string(l->loop->tasks[i].name));
	return lost;
}

/* How the worker ended, in words, for a record's msg. */
static void
sv_death_words(const struct sv_loop *l, int status, char *what, size_t len)
{
	char sig[24];

	if (l->broken != NULL)
		snprintf(what, len, "%s and was killed", l->broken);
	else if (WIFSIGNALED(status))
		snprintf(what, len, "was killed by %s",
		    signal_name(WTERMSIG(status), sig, sizeof sig));
	else if (WEXITSTATUS(status) == WORKER_EXIT_BACKEND)
		snprintf(what, len, "could not start: backend %s is not "
		    "available on this system; choose another backend",
		    config_backend_name(l->loop->backend));
	else if (WEXITSTATUS(status) == 127)
		snprintf(what, len, "could not be started (exec of %s "
		    "failed)", l->sv->exe);
	else
		snprintf(what, len, "exited with status %d",
		    WEXITSTATUS(status));
}

/* The worker ended when it was not asked to, or before its tasks had:
 * say why, and what was lost. */
/* ---- crash reports: symbolized frames, blame (symbolize.h) ---------------- */

/*
 * The dead worker's backtrace with function names and source lines, new,
 * or NULL.  When *tcp is NULL (no task's code was running), the plugin of
 * the innermost frame in a plugin of the loop fills blame, and names *tcp
 * when only one task of the loop uses it.
 */
static json_t *
sv_symbolized_backtrace(struct sv_loop *l, struct symbolize_blame *blame,
    const struct task_conf **tcp)
{
	json_t *raw, *bt;

	if ((raw = proc_backtrace(&l->proc)) == NULL)
		return NULL;
	bt = symbolize_frames(raw);
	json_decref(raw);
	if (bt != NULL && *tcp == NULL &&
	    symbolize_blame(bt, l->loop, blame) == 0 && blame->task != NULL)
		*tcp = blame->task;
	return bt;
}

static void
sv_blame_words(struct sv_loop *l, const char *what,
    const struct symbolize_blame *b, char *buf, size_t len)
{
	char names[256] = "";
	size_t i, at = 0;
	int n;

	if (b->task != NULL) {
		snprintf(buf, len, "worker of loop '%s' %s in code of task "
		    "'%s' (plugin %s) that the event loop called",
		    l->loop->name, what, b->task->name, b->plugin);
		return;
	}
	for (i = 0; i < json_array_size(b->suspects) && at < sizeof names;
	    i++) {
		n = snprintf(names + at, sizeof names - at, "%s'%s'",
		    i > 0 ? ", " : "",
		    json_string_value(json_array_get(b->suspects, i)));
		if (n < 0)
			break;
		at += (size_t)n;
	}
	snprintf(buf, len, "worker of loop '%s' %s in code of plugin %s that "
	    "the event loop called; tasks %s use that plugin: any of them may "
	    "be the one (suspects)", l->loop->name, what, b->plugin, names);
}

static void
sv_report_death(struct sv_loop *l, int status)
{
	int running = proc_running(&l->proc);
	const struct task_conf *tc = running >= 0 &&
	    (size_t)running < l->loop->ntasks && l->broken == NULL ?
	    &l->loop->tasks[running] : NULL;
	char what[256], msg[512], sig[24];
	struct symbolize_blame blame = { 0 };
	json_t *r, *bt = NULL;

	sv_death_words(l, status, what, sizeof what);
	/* Symbolized frames; and, outside any task's code, the plugin they
	 * are in names the task (symbolize.h). */
	if (l->broken == NULL && WIFSIGNALED(status))
		bt = sv_symbolized_backtrace(l, &blame, &tc);
	if (blame.plugin != NULL)
		sv_blame_words(l, what, &blame, msg, sizeof msg);
	else if (tc != NULL)
		snprintf(msg, sizeof msg, "worker of loop '%s' %s while task "
		    "'%s' (plugin %s) was running", l->loop->name, what,
		    tc->name, tc->plugin);
	else
		snprintf(msg, sizeof msg, "worker of loop '%s' %s%s",
		    l->loop->name, what, l->broken != NULL ? "" :
		    " outside any task's code");
	r = sv_record(l, LOOPD_LOG_ERROR, "%s", msg);
	log_add(r, "event", "task_error");
	if (tc != NULL)
		sv_add_task(r, tc);
	if (blame.suspects != NULL) {
		log_add(r, "plugin", blame.plugin);
		if (r != NULL)
			json_object_set(r, "suspects", blame.suspects);
	}
	if (l->broken != NULL) {
		log_add_error(r, "protocol", msg);
	} else if (WIFSIGNALED(status)) {
		log_add(r, "signal", signal_name(WTERMSIG(status), sig,
		    sizeof sig));
		log_add_int(r, "signo", WTERMSIG(status));
		if (r != NULL && bt != NULL)
			json_object_set(r, "backtrace", bt);
		log_add_error(r, "crash", msg);
	} else {
		log_add_int(r, "exit_status", WEXITSTATUS(status));
		log_add_error(r, "exit", msg);
	}
	if (r != NULL)
		json_object_set_new(r, "lost_tasks", sv_lost_tasks(l));
	json_decref(bt);
	json_decref(blame.suspects);
	log_emit(r);
}

static void
sv_reaped(struct sv_loop *l, int status)
{
	struct supervisor *sv = l->sv;
	size_t i;

	/* What the worker said before it went comes first. */
	if (l->proc.ipc != NULL)
		ipc_drain(l->proc.ipc);
	if (l->killed && l->broken == NULL)
		log_emit(sv_record(l, LOOPD_LOG_WARNING, "worker of loop '%s' "
		    "killed", l->loop->name));
	else if (sv->stopping && l->nlive == 0 && l->broken == NULL &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_emit(sv_record(l, LOOPD_LOG_INFO, "loop stopped"));
	else {
		sv_report_death(l, status);
		if (sv->stopping && l->nlive > 0)
			sv->lost = 1;
	}
	for (i = 0; i < l->loop->ntasks; i++)
		if (l->states[i] < TASK_DONE)
			sv_set_state(l, i, TASK_FAILED);
	evtimer_del(l->eof);
	proc_release(&l->proc);	/* and whatever its plugins forked */
	free(l->broken);
	l->broken = NULL;
	sv->nworkers--;
}

/* Children of ours that are not workers were orphaned by a plugin. */
static void
sv_kill_strays(struct supervisor *sv)
{
	pid_t keep[64] = { 0 }, *k = keep;
	size_t i, n = 0;

	if (sv->nloops > sizeof keep / sizeof keep[0] &&
	    (k = calloc(sv->nloops, sizeof *k)) == NULL)
		return;
	for (i = 0; i < sv->nloops; i++)
		if (sv->loops[i].proc.pid > 0)
			k[n++] = sv->loops[i].proc.pid;
	proc_kill_strays(k, n);
	if (k != keep)
		free(k);
}

static void
sv_reap(struct supervisor *sv)
{
	pid_t pid;
	size_t i;
	int status, workers = 0;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < sv->nloops; i++)
			if (sv->loops[i].proc.pid == pid) {
				sv_reaped(&sv->loops[i], status);
				workers++;
			}
	}
	if (workers > 0)
		sv_kill_strays(sv);
	if (!sv->stopping) {
		sv_check_ready(sv);
		return;
	}
	if (sv->nworkers == 0)
		event_base_loopbreak(sv->base);
	else
		notify_status("stopping: waiting for %zu tasks", sv->nlive);
}

/* ---- shutdown ------------------------------------------------------------------ */

/* Grace is over, or the operator asked twice: kill and name what is left. */
static void
sv_force(struct supervisor *sv)
{
	struct sv_loop *l;
	json_t *r;
	size_t i, j;

	for (i = 0; i < sv->nloops; i++) {
		l = &sv->loops[i];
		if (l->proc.pid <= 0)
			continue;
		for (j = 0; j < l->loop->ntasks; j++) {
			if (l->states[j] >= TASK_DONE)
				continue;
			r = sv_record(l, LOOPD_LOG_WARNING, "task '%s' did "
			    "not finish within the grace period; killing it",
			    l->loop->tasks[j].name);
			sv_add_task(r, &l->loop->tasks[j]);
			log_add(r, "event", "task_forced");
			log_emit(r);
		}
		/* A worker whose tasks have all ended is on its way out; it
		 * is killed too, in case a stop hook hangs, but that forces
		 * no task. */
		if (l->nlive > 0)
			sv->forced = 1;
		proc_kill(&l->proc);
		l->killed = 1;
	}
}

static void
sv_grace_cb(evutil_socket_t fd, short what, void *arg)
{
	sv_force(arg);
}

static void
sv_stop(struct supervisor *sv, int sig)
{
	struct msg_out m = { 0 };
	struct timeval tv;
	char name[24];
	json_t *r;
	size_t i;

	signal_name(sig, name, sizeof name);
	if (sv->stopping) {
		r = log_record(LOOPD_LOG_WARNING, "%s again: stopping now",
		    name);
		log_add(r, "event", "shutdown");
		log_emit(r);
		sv_force(sv);
		return;
	}
	sv->stopping = 1;
	notify_stopping("stopping: cancelling %zu tasks", sv->nlive);
	r = log_record(LOOPD_LOG_INFO, "%s: cancelling every task, grace "
	    "%llu ms", name, (unsigned long long)sv->conf->grace_ms);
	log_add(r, "event", "shutdown");
	log_emit(r);
	msg_begin(&m, MSG_CANCEL);
	for (i = 0; i < sv->nloops; i++)
		if (sv->loops[i].proc.ipc != NULL && !m.nomem)
			ipc_send(sv->loops[i].proc.ipc, m.p, m.len, 0);
	msg_out_free(&m);
	if (sv->nworkers == 0) {
		event_base_loopbreak(sv->base);
		return;
	}
	tv.tv_sec = (time_t)(sv->conf->grace_ms / 1000);
	tv.tv_usec = (suseconds_t)(sv->conf->grace_ms % 1000) * 1000;
	evtimer_add(sv->grace, &tv);
}

static void
sv_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct supervisor *sv = arg;
	json_t *r;

	switch (sig) {
	case SIGCHLD:
		sv_reap(sv);
		break;
	case SIGHUP:
		r = log_record(LOOPD_LOG_WARNING, "SIGHUP: live reload is not "
		    "available in this version; restart loopd to apply "
		    "configuration changes");
		log_add(r, "event", "reload");
		log_emit(r);
		break;
	default:
		sv_stop(sv, sig);
		break;
	}
}

/* ---- the process ------------------------------------------------------------- */

static int
sv_init(struct supervisor *sv, const struct conf *conf, const char *exe)
{
	size_t i;

	memset(sv, 0, sizeof *sv);
	sv->conf = conf;
	sv->exe = exe;
	if ((sv->base = event_base_new()) == NULL)
		return -1;
	for (i = 0; i < 4; i++) {
		sv->sig[i] = evsignal_new(sv->base, handled_signals[i],
		    sv_signal_cb, sv);
		if (sv->sig[i] == NULL || evsignal_add(sv->sig[i], NULL) < 0)
			return -1;
	}
	if ((sv->grace = evtimer_new(sv->base, sv_grace_cb, sv)) == NULL)
		return -1;
	if ((sv->loops = calloc(conf->nloops, sizeof *sv->loops)) == NULL)
		return -1;
	sv->nloops = conf->nloops;
	for (i = 0; i < sv->nloops; i++) {
		sv->loops[i].sv = sv;
		sv->loops[i].loop = &conf->loops[i];
		sv->loops[i].proc.crash_fd = -1;
		sv->loops[i].nlive = conf->loops[i].ntasks;
		sv->ntasks += conf->loops[i].ntasks;
		sv->loops[i].states = calloc(conf->loops[i].ntasks, 1);
		sv->loops[i].eof = evtimer_new(sv->base, sv_eof_cb,
		    &sv->loops[i]);
		if (sv->loops[i].states == NULL || sv->loops[i].eof == NULL)
			return -1;
	}
	sv->nstarting = sv->nlive = sv->ntasks;
	log_attach(sv->base);
	return 0;
}

/*
 * Signals stay handled to the end: once their events are gone, a late
 * SIGTERM of a storm must not kill the process with status 143.
 */
static void
sv_block_signals(void)
{
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < sizeof handled_signals / sizeof handled_signals[0];
	    i++)
		sigaddset(&set, handled_signals[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

static void
sv_free(struct supervisor *sv)
{
	size_t i;

	sv_block_signals();
	for (i = 0; i < sv->nloops; i++) {
		proc_release(&sv->loops[i].proc);
		free(sv->loops[i].states);
		free(sv->loops[i].broken);
		if (sv->loops[i].eof != NULL)
			event_free(sv->loops[i].eof);
	}
	free(sv->loops);
	for (i = 0; i < 4; i++)
		if (sv->sig[i] != NULL)
			event_free(sv->sig[i]);
	if (sv->grace != NULL)
		event_free(sv->grace);
	if (sv->base != NULL)
		event_base_free(sv->base);
}

/* What plugins left behind is killed and reaped before loopd exits. */
static void
sv_reap_strays(void)
{
	struct timespec tick = { 0, 1000000 };
	int i;

	if (proc_kill_strays(NULL, 0) == 0)
		return;
	/* Killed with SIGKILL: each goes within a few ms; a bounded reap. */
	for (i = 0; i < 1000; i++) {
		if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
			return;
		nanosleep(&tick, NULL);
	}
}

int
supervisor_run(const struct conf *conf, const char *exe)
{
	struct supervisor sv;
	json_t *r;
	size_t i, j;
	int status;

	if (sv_init(&sv, conf, exe) < 0) {
		log_emit(log_record(LOOPD_LOG_ERROR, "cannot set up the "
		    "supervisor: %s", strerror(errno)));
		sv_free(&sv);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (proc_adopt_orphans() < 0)
		log_emit(log_record(LOOPD_LOG_WARNING, "cannot adopt what "
		    "plugins fork (PR_SET_CHILD_SUBREAPER): %s",
		    strerror(errno)));
	r = log_record(LOOPD_LOG_INFO, "loopd %s starting: %zu loops, %zu "
	    "tasks, config %s", LOOPD_VERSION, conf->nloops, sv.ntasks,
	    conf->path);
	log_add(r, "event", "start");
	log_emit(r);
	notify_status("starting %zu loops", conf->nloops);
	for (i = 0; i < sv.nloops; i++) {
		if (sv_spawn(&sv.loops[i]) == 0)
			continue;
		log_emit(sv_record(&sv.loops[i], LOOPD_LOG_ERROR, "cannot "
		    "start the worker: %s", strerror(errno)));
		for (j = 0; j < sv.loops[i].loop->ntasks; j++)
			sv_set_state(&sv.loops[i], j, TASK_FAILED);
	}
	sv_check_ready(&sv);
	if (sv.nworkers > 0)
		event_base_dispatch(sv.base);

	status = sv.forced || sv.lost ? 1 : 0;
	r = log_record(LOOPD_LOG_INFO, "loopd stopped%s", sv.forced ?
	    " after killing tasks that outlived the grace period" : sv.lost ?
	    " after losing tasks whose worker died" : "");
	log_add(r, "event", "exit");
	log_add_int(r, "exit_status", status);
	log_emit(r);
	log_flush(1000);
	sv_free(&sv);
	sv_reap_strays();
	return status;
}
