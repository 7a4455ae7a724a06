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
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "msg.h"
#include "notify.h"
#include "proc.h"
#include "restart.h"
#include "supervisor.h"
#include "symbolize.h"
#include "task.h"
#include "worker.h"

/* Where a task stands, beside the state its worker reported. */
enum sv_phase {
	SV_PENDING,		/* to start once its worker is up */
	SV_LIVE,		/* in its worker: `state` says how */
	SV_WAITING,		/* in its backoff before a restart */
	SV_FAILED,		/* down for good: failed and not restarted */
	SV_ENDED,		/* ended cleanly and not restarted */
	SV_NPHASES,
};

/* The supervisor's view of one task. */
struct sv_task {
	struct sv_loop		*l;		/* its loop */
	unsigned char		 state;		/* enum task_state, as reported */
	unsigned char		 phase;		/* enum sv_phase */
	unsigned char		 first;		/* its first start is not over */
	struct restart_state	*rs;		/* from its first restart on */
	struct event		*timer;		/* while waiting */
	uint64_t		 up_ms;		/* when it said running, or 0 */
	char			 version[64];	/* its plugin's, as said */
};

/* The supervisor's view of one loop and its worker. */
struct sv_loop {
	struct supervisor	*sv;
	const struct loop_conf	*loop;
	struct proc		 proc;
	struct sv_task		*tasks;
	size_t			 nlive;		/* live tasks not done or failed */
	int			 killed;	/* we sent SIGKILL at the grace */
	char			*broken;	/* why we killed it, if we did */
	struct event		*eof;		/* channel closed, not reaped */
	struct restart_state	 rs;		/* the worker's restarts */
	struct event		*respawn;	/* the worker's backoff */
	int			 gave_up;	/* the loop stays down */
	struct event		*watch;		/* looks for a stuck loop */
	struct event		*dump;		/* waits for its stack */
	uint64_t		 hang_beat;	/* the stall being handled */
	uint64_t		 hang_ms;	/* how long, when seen */
	uint32_t		 dumps_before;
	int			 dump_tries;
	int			 hang_task;	/* the stuck task, or -1 */
	int			 hung;		/* killed for a hang */
	uint64_t		 vm_peak;	/* the worker's size, bytes */
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
	size_t			 nphase[SV_NPHASES];	/* tasks in each phase */
	size_t			 nstarting;	/* live tasks still starting */
	size_t			 nfirst;	/* first starts not yet over */
	size_t			 nworkers;	/* workers not yet reaped */
	struct event		*status;	/* STATUS= is due */
	struct event		*watchdog;	/* WATCHDOG=1, when asked */
	int			 stopping;
	int			 forced;	/* tasks outlived the grace */
	int			 lost;		/* tasks died with a worker */
	int			 unclean;	/* a task failed or died */
	int			 exhausted;	/* on_exhausted: exit fired */
	int			 ready;
};

/* Exit statuses; see loopd(8). */
#define SV_EXIT_UNCLEAN		1	/* a task failed, died or was forced */
#define SV_EXIT_EXHAUSTED	3	/* restarts ran out, on_exhausted: exit */

static const int handled_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGCHLD };

/* Events only the supervisor may emit; a worker may send only these. */
static const char *const worker_events[] = { "libevent", "loop_start",
	"loop_stats", "loop_lag", "slow_callback", "resource_leak" };
/* Fields a worker may not set: the supervisor stamps or owns them. */
static const char *const stamped_keys[] = {
	"ts", "level", "msg", "pid", "loop", "task", "plugin",
	"plugin_version", "error", "signal", "signo", "backtrace",
	"exit_status", "lost_tasks", "state", "dropped", "limit", "function",
	"duration_ms", "action", "suspects", "history_ms_ago", "restarts",
	"attempt", "delay_ms", "cause", "charged", "not_running",
};
#define SV_EXTRA_MAX	32	/* extra fields in one record */

static json_t *
sv_record(struct sv_loop *l, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void	sv_task_ended(struct sv_loop *, size_t, int, int, const char *,
		    const char *);
static void	sv_stop(struct supervisor *, int);
static void	sv_worker_died(struct sv_loop *, int, const char *);
static const char *sv_limit_hit(struct sv_loop *, int, int);

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

/* ---- tasks, readiness and status ------------------------------------------ */

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *const phase_words[] = {
	"restarting", "running", "restarting", "failed", "ended",
};

/* STATUS= says what is true now; it is sent at most every 100 ms. */
static void
sv_status_due(struct supervisor *sv)
{
	struct timeval tv = { 0, 100 * 1000 };

	if (sv->ready && !sv->stopping && !evtimer_pending(sv->status, NULL))
		evtimer_add(sv->status, &tv);
}

/* Task i of l is now in phase p and state s; keep the counts. */
static void
sv_task_set(struct sv_loop *l, size_t i, enum sv_phase p, enum task_state s)
{
	struct supervisor *sv = l->sv;
	struct sv_task *t = &l->tasks[i];

	if (t->phase == SV_LIVE && t->state == TASK_STARTING)
		sv->nstarting--;
	if (p == SV_LIVE && s == TASK_STARTING) {
		sv->nstarting++;
		t->up_ms = 0;	/* its uptime counts from its running */
	}
	if (t->phase == SV_LIVE && t->state < TASK_DONE)
		l->nlive--;
	if (p == SV_LIVE && s < TASK_DONE)
		l->nlive++;
	sv->nphase[t->phase]--;
	sv->nphase[p]++;
	if (t->first && p != SV_PENDING && !(p == SV_LIVE &&
	    s == TASK_STARTING)) {
		t->first = 0;
		sv->nfirst--;
	}
	t->phase = (unsigned char)p;
	t->state = (unsigned char)s;
	sv_status_due(sv);
}

/* Is task t of loop l running now? */
static int
sv_task_running(const struct sv_task *t)
{
	return t->phase == SV_LIVE && t->state == TASK_RUNNING;
}

/* Seconds to the next restart, or -1 when none is waiting. */
static long
sv_next_restart(struct supervisor *sv)
{
	struct timeval tv, now;
	long best = -1, left;
	size_t i, j;

	evutil_gettimeofday(&now, NULL);
	for (i = 0; i < sv->nloops; i++)
		for (j = 0; j < sv->loops[i].loop->ntasks; j++) {
			if (sv->loops[i].tasks[j].timer == NULL ||
			    !evtimer_pending(sv->loops[i].tasks[j].timer, &tv))
				continue;
			left = (long)(tv.tv_sec - now.tv_sec) +
			    (tv.tv_usec > now.tv_usec ? 1 : 0);
			if (best < 0 || left < best)
				best = left < 0 ? 0 : left;
		}
	return best;
}

static void
sv_status_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor *sv = arg;
	size_t running = sv->nphase[SV_LIVE] - sv->nstarting;
	size_t restarting = sv->nphase[SV_WAITING] + sv->nphase[SV_PENDING];
	long next = sv_next_restart(sv);
	char when[48] = "";

	if (next >= 0)
		snprintf(when, sizeof when, " (next in %lds)", next);
	notify_status("running %zu of %zu tasks; %zu restarting%s, %zu "
	    "failed, %zu ended", running, sv->ntasks, restarting, when,
	    sv->nphase[SV_FAILED], sv->nphase[SV_ENDED]);
}

/* The tasks not running, as a new JSON array of at most 20 "name (why)". */
static json_t *
sv_not_running(struct supervisor *sv, size_t *n)
{
	json_t *a = json_array();
	const struct sv_task *t;
	char buf[160];
	size_t i, j;

	*n = 0;
	for (i = 0; i < sv->nloops; i++)
		for (j = 0; j < sv->loops[i].loop->ntasks; j++) {
			t = &sv->loops[i].tasks[j];
			if (sv_task_running(t))
				continue;
			if ((*n)++ >= 20)
				continue;
			snprintf(buf, sizeof buf, "%s (%s)",
			    sv->loops[i].loop->tasks[j].name,
			    t->phase == SV_LIVE ? task_state_name(
			    (enum task_state)t->state) : phase_words[t->phase]);
			json_array_append_new(a, json_string(buf));
		}
	return a;
}

/* READY=1 once every task's first start is over; a warning when any task
 * is not running then, naming them. */
static void
sv_check_ready(struct supervisor *sv)
{
	size_t running = sv->nphase[SV_LIVE] - sv->nstarting, down;
	json_t *r, *names;

	if (sv->ready || sv->stopping || sv->nfirst > 0)
		return;
	sv->ready = 1;
	malloc_trim(0);		/* start-up's buffers, the workers' configs */
	notify_ready("running %zu of %zu tasks on %zu loops", running,
	    sv->ntasks, sv->nloops);
	names = sv_not_running(sv, &down);
	r = log_record(down > 0 ? LOOPD_LOG_WARNING : LOOPD_LOG_INFO, "ready: "
	    "%zu of %zu tasks running on %zu loops%s", running, sv->ntasks,
	    sv->nloops, down > 0 ? "; not running: see not_running" : "");
	log_add(r, "event", "ready");
	if (r != NULL && down > 0) {
		json_object_set_new(r, "not_running", names);
		log_add_int(r, "not_running_count", (long long)down);
	} else
		json_decref(names);
	log_emit(r);
	sv_status_due(sv);
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

/* What a task_error says of task i besides the error: its plugin's
 * version, how long it ran, how often it was restarted. */
static void
sv_add_context(json_t *r, struct sv_loop *l, size_t i)
{
	struct sv_task *t = &l->tasks[i];

	if (t->version[0] != '\0')
		log_add(r, "plugin_version", t->version);
	log_add_int(r, "uptime_ms", t->up_ms ? (long long)(now_ms() -
	    t->up_ms) : 0);
	log_add_int(r, "restarts", t->rs != NULL ? (long long)t->rs->total : 0);
}

/* MSG_STATE: a task's new state; logged once, here. */
static const char *
sv_state(struct sv_loop *l, struct msg_in *in)
{
	const struct task_conf *tc;
	const char *ver, *type, *m, *cb = NULL;
	int64_t i, s;
	json_t *r;

	msg_get_range(in, 0, (int64_t)l->loop->ntasks - 1, &i);
	msg_get_range(in, TASK_RUNNING, TASK_FAILED, &s);
	ver = msg_get_str(in, NULL);
	type = msg_get_str(in, NULL);
	m = msg_get_str(in, NULL);
	if (in->bad == NULL && in->p < in->end)
		cb = msg_get_str(in, NULL);
	if (msg_done(in) < 0)
		return in->bad;
	if (l->tasks[i].phase != SV_LIVE || l->tasks[i].state >= TASK_DONE ||
	    s <= l->tasks[i].state)
		return "a task state that does not follow the last one";
	tc = &l->loop->tasks[i];
	sv_task_set(l, (size_t)i, SV_LIVE, (enum task_state)s);
	if (s == TASK_RUNNING && l->tasks[i].rs != NULL)
		restart_running(l->tasks[i].rs, now_ms());
	if (s == TASK_RUNNING)
		l->tasks[i].up_ms = now_ms();
	snprintf(l->tasks[i].version, sizeof l->tasks[i].version, "%s", ver);
	if (s == TASK_FAILED) {
		r = sv_record(l, LOOPD_LOG_ERROR, "task '%s' failed: %s",
		    tc->name, *m ? m : "(no message)");
		sv_add_task(r, tc);
		log_add(r, "plugin_version", *ver ? ver : NULL);
		log_add(r, "event", "task_error");
		log_add(r, "limit", sv_limit_hit(l, 0, 1));
		log_add_error(r, *type ? type : "error", m);
		sv_add_context(r, l, (size_t)i);
		log_add(r, "callback", cb);
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
	if (s == TASK_FAILED || s == TASK_DONE)
		sv_task_ended(l, (size_t)i, s == TASK_FAILED, 1, s == TASK_DONE ?
		    "ended" : "failed", s == TASK_DONE ? NULL : *type ? type :
		    "error");
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

static int	sv_watch_start(struct sv_loop *);

static int
sv_spawn(struct sv_loop *l)
{
	struct supervisor *sv = l->sv;
	char title[96];

	snprintf(title, sizeof title, "loop=%s", l->loop->name);
	if (proc_spawn(&l->proc, sv->base, sv->exe, title, &sv_ipc, l) < 0)
		return -1;
	sv->nworkers++;
	l->hang_beat = 0;
	l->hung = 0;
	l->vm_peak = 0;
	sv_watch_start(l);
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
		if (l->tasks[i].phase == SV_LIVE && l->tasks[i].state <
		    TASK_DONE)
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
	else if (WEXITSTATUS(status) == WORKER_EXIT_LIMITS)
		snprintf(what, len, "could not set its limits (see the line "
		    "it wrote on stderr)");
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

/* The innermost function of bt in tc's plugin, or NULL. */
static const char *
sv_plugin_frame(const json_t *bt, const struct task_conf *tc)
{
	const char *file, *fn;
	size_t i;

	for (i = 0; i < json_array_size(bt); i++) {
		file = json_string_value(json_object_get(json_array_get(bt, i),
		    "file"));
		fn = json_string_value(json_object_get(json_array_get(bt, i),
		    "function"));
		if (file != NULL && fn != NULL &&
		    strcmp(file, tc->plugin_path) == 0)
			return fn;
	}
	return NULL;
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
	const char *limit;
	json_t *r, *bt = NULL;
	size_t at;

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
	if ((limit = sv_limit_hit(l, status, 0)) != NULL) {
		at = strlen(msg);
		snprintf(msg + at, sizeof msg - at, " (at its limits.%s)", limit);
	}
	r = sv_record(l, LOOPD_LOG_ERROR, "%s", msg);
	log_add(r, "event", "task_error");
	log_add(r, "limit", limit);
	if (tc != NULL) {
		sv_add_task(r, tc);
		sv_add_context(r, l, (size_t)(tc - l->loop->tasks));
		log_add(r, "callback", sv_plugin_frame(bt, tc));
	}
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
	int running = l->hung ? l->hang_task : l->broken == NULL ?
	    proc_running(&l->proc) : -1;
	const char *cause = l->broken != NULL ? "protocol" : l->hung ? "hang" :
	    l->killed ? "killed" : WIFSIGNALED(status) ? "crash" : "exit";

	/* What the worker said before it went comes first. */
	if (l->proc.ipc != NULL)
		ipc_drain(l->proc.ipc);
	if (running < 0 || (size_t)running >= l->loop->ntasks)
		running = -1;
	if (l->killed && l->broken == NULL)
		log_emit(sv_record(l, LOOPD_LOG_WARNING, "worker of loop '%s' "
		    "killed", l->loop->name));
	else if (l->hung)
		;	/* the task_hang record said it all */
	else if (sv->stopping && l->nlive == 0 && l->broken == NULL &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_emit(sv_record(l, LOOPD_LOG_INFO, "loop stopped"));
	else {
		sv_report_death(l, status);
		if (sv->stopping && l->nlive > 0)
			sv->lost = 1;
	}
	evtimer_del(l->eof);
	event_del(l->watch);
	evtimer_del(l->dump);
	proc_release(&l->proc);	/* and whatever its plugins forked */
	free(l->broken);
	l->broken = NULL;
	l->killed = 0;
	l->hung = 0;
	sv->nworkers--;
	if (l->nlive > 0)
		sv_worker_died(l, running, cause);
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
	struct rusage ru;
	pid_t pid;
	size_t i;
	int status, workers = 0;

	while ((pid = wait4(-1, &status, WNOHANG, &ru)) > 0) {
		for (i = 0; i < sv->nloops; i++)
			if (sv->loops[i].proc.pid == pid) {
				/* Its peak, as the kernel kept it. */
				if ((uint64_t)ru.ru_maxrss * 1024 >
				    sv->loops[i].vm_peak)
					sv->loops[i].vm_peak =
					    (uint64_t)ru.ru_maxrss * 1024;
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
		notify_status("stopping: waiting for %zu tasks",
		    sv->nphase[SV_LIVE]);
}

/* ---- hangs ---------------------------------------------------------------------- */

/*
 * The worker's loop beats (worker.c); when the beats stop for longer than
 * the loop's hang_timeout (start_timeout while a start runs), the loop is
 * stuck now: the supervisor asks the worker for the stuck thread's stack,
 * names the task and the function in one record, and, under hang_action:
 * restart, kills the worker, which comes back under the restart policy.
 */
#define SV_DUMP_WAIT_MS		20
#define SV_DUMP_TRIES		50

static void
sv_report_hang(struct sv_loop *l)
{
	const struct task_conf *tc = l->hang_task >= 0 ?
	    &l->loop->tasks[l->hang_task] : NULL;
	struct symbolize_blame blame = { 0 };
	const char *fn = NULL, *action;
	json_t *raw, *bt = NULL, *r;
	char msg[512];

	if ((raw = proc_dump_read(&l->proc)) != NULL) {
		bt = symbolize_frames(raw);
		json_decref(raw);
	}
	if (bt != NULL && tc == NULL && symbolize_blame(bt, l->loop,
	    &blame) == 0 && blame.task != NULL) {
		tc = blame.task;
		l->hang_task = (int)(tc - l->loop->tasks);
	}
	fn = json_string_value(json_object_get(json_array_get(bt, 0),
	    "function"));
	action = l->loop->hang_action == CONF_HANG_LOG ? "log" : "restart";
	snprintf(msg, sizeof msg, "loop '%s' is stuck%s%s%s in %s for %llu "
	    "ms%s", l->loop->name, tc != NULL ? " in task '" : "",
	    tc != NULL ? tc->name : "", tc != NULL ? "'" : "",
	    fn != NULL ? fn : "code with no symbol",
	    (unsigned long long)l->hang_ms, l->loop->hang_action ==
	    CONF_HANG_LOG ? "" : ": killing its worker");
	r = sv_record(l, LOOPD_LOG_ERROR, "%s", msg);
	log_add(r, "event", "task_hang");
	if (tc != NULL)
		sv_add_task(r, tc);
	else if (blame.plugin != NULL) {
		log_add(r, "plugin", blame.plugin);
		if (r != NULL && blame.suspects != NULL)
			json_object_set(r, "suspects", blame.suspects);
	}
	log_add(r, "function", fn);
	log_add_int(r, "duration_ms", (long long)l->hang_ms);
	log_add(r, "action", action);
	if (r != NULL && bt != NULL)
		json_object_set(r, "backtrace", bt);
	log_add_error(r, "hang", msg);
	log_emit(r);
	json_decref(bt);
	json_decref(blame.suspects);
}

/* The worker's address space, as the kernel says, for the memory limit. */
static void
sv_sample_size(struct sv_loop *l)
{
	unsigned long long pages = 0;
	char path[64];
	FILE *f;

	if (l->loop->limits.memory == 0)
		return;
	snprintf(path, sizeof path, "/proc/%d/statm", (int)l->proc.pid);
	if ((f = fopen(path, "re")) == NULL)
		return;
	if (fscanf(f, "%llu", &pages) == 1 &&
	    pages * (uint64_t)sysconf(_SC_PAGESIZE) > l->vm_peak)
		l->vm_peak = pages * (uint64_t)sysconf(_SC_PAGESIZE);
	fclose(f);
}

/* Open fds of the worker, as the kernel says, or -1. */
static long
sv_count_fds(const struct sv_loop *l)
{
	struct dirent *de;
	char path[64];
	long n = 0;
	DIR *d;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)l->proc.pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Which of the loop's limits the worker ran into, if one: death by
 * SIGXCPU, an address space near the memory limit, or its fds at the
 * open_files limit (while it lives).  NULL when none. */
static const char *
sv_limit_hit(struct sv_loop *l, int status, int alive)
{
	const struct limits_conf *lim = &l->loop->limits;
	long fds;

	if (!alive && WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU)
		return "cpu_seconds";
	/* The peak resident size, or the sampled address space: a worker
	 * that touched most of what it may map has met the limit. */
	if (!alive && lim->memory != 0 && l->vm_peak >= lim->memory / 10 * 8)
		return "memory";
	if (alive && lim->open_files != 0 && (fds = sv_count_fds(l)) >= 0 &&
	    (uint64_t)fds + 2 >= lim->open_files)
		return "open_files";
	return NULL;
}

/* The stack has arrived, or waiting for it is over. */
static void
sv_dump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sv_loop *l = arg;
	struct timeval tv = { 0, SV_DUMP_WAIT_MS * 1000 };

	if (l->proc.pid <= 0)
		return;
	if (proc_dumps(&l->proc) == l->dumps_before &&
	    ++l->dump_tries < SV_DUMP_TRIES) {
		evtimer_add(l->dump, &tv);
		return;
	}
	sv_report_hang(l);
	l->sv->unclean = 1;
	if (l->loop->hang_action == CONF_HANG_LOG)
		return;
	l->hung = 1;
	proc_kill(&l->proc);
}

static void
sv_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sv_loop *l = arg;
	struct timeval tv = { 0, SV_DUMP_WAIT_MS * 1000 };
	uint64_t beat = proc_beat(&l->proc), now = now_ms(), limit;
	int running = proc_running(&l->proc);

	if (l->proc.pid <= 0 || beat == 0 || l->broken != NULL || l->hung ||
	    l->sv->stopping)
		return;
	sv_sample_size(l);
	if (running < 0 || (size_t)running >= l->loop->ntasks)
		running = -1;
	limit = running >= 0 && l->tasks[running].phase == SV_LIVE &&
	    l->tasks[running].state == TASK_STARTING ?
	    l->loop->start_timeout_ms : l->loop->hang_timeout_ms;
	if (now < beat || now - beat <= limit || l->hang_beat == beat)
		return;		/* beating, or this stall is in hand */
	l->hang_beat = beat;
	l->hang_ms = now - beat;
	l->hang_task = running;
	l->dumps_before = proc_dumps(&l->proc);
	l->dump_tries = 0;
	proc_dump(&l->proc);
	evtimer_add(l->dump, &tv);
}

/* Look for a stuck loop five times within its shortest timeout. */
static int
sv_watch_start(struct sv_loop *l)
{
	uint64_t ms = l->loop->hang_timeout_ms;
	struct timeval tv;

	if (l->loop->start_timeout_ms < ms)
		ms = l->loop->start_timeout_ms;
	ms /= 5;
	ms = ms < 20 ? 20 : ms > 1000 ? 1000 : ms;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return event_add(l->watch, &tv);
}

/* ---- restarts ----------------------------------------------------------------- */

/* The start of task i goes to its worker now. */
static void
sv_start_task(struct sv_loop *l, size_t i)
{
	struct msg_out m = { 0 };

	msg_begin(&m, MSG_START);
	msg_put_int(&m, (int64_t)i);
	if (!m.nomem && ipc_send(l->proc.ipc, m.p, m.len, 0) == 0)
		sv_task_set(l, i, SV_LIVE, TASK_STARTING);
	msg_out_free(&m);
}

static void	sv_respawn_cb(evutil_socket_t, short, void *);

/* Start (or start again) l's worker with every pending task. */
static void
sv_launch(struct sv_loop *l)
{
	size_t i;

	if (l->proc.pid > 0 || l->sv->stopping || l->gave_up ||
	    l->sv->nphase[SV_PENDING] == 0)
		return;
	if (sv_spawn(l) < 0) {
		log_emit(sv_record(l, LOOPD_LOG_ERROR, "cannot start the "
		    "worker: %s", strerror(errno)));
		for (i = 0; i < l->loop->ntasks; i++)
			if (l->tasks[i].phase == SV_PENDING)
				sv_task_ended(l, i, 1, 1, "worker", "spawn");
		return;
	}
	for (i = 0; i < l->loop->ntasks; i++)
		if (l->tasks[i].phase == SV_PENDING)
			sv_start_task(l, i);
}

static void
sv_respawn_cb(evutil_socket_t fd, short what, void *arg)
{
	sv_launch(arg);
}

/* A waiting task's backoff is over. */
static void
sv_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sv_task *t = arg;
	struct sv_loop *l = t->l;
	size_t i = (size_t)(t - l->tasks);

	event_free(t->timer);
	t->timer = NULL;
	if (l->proc.pid > 0 && l->broken == NULL) {
		sv_start_task(l, i);
		return;
	}
	sv_task_set(l, i, SV_PENDING, TASK_STARTING);
	if (!evtimer_pending(l->respawn, NULL))
		sv_launch(l);
}

static struct timeval
ms_tv(uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };

	return tv;
}

/* Restart history, for a record. */
static void
sv_add_history(json_t *r, const struct restart_state *rs)
{
	if (r != NULL && rs != NULL) {
		log_add_int(r, "restarts", rs->total);
		json_object_set_new(r, "history_ms_ago",
		    restart_history(rs, now_ms()));
	}
}

/* Restarts of task i ran out: it stays down, and loopd may go. */
static void
sv_exhausted(struct sv_loop *l, size_t i, const char *cause)
{
	const struct task_conf *tc = &l->loop->tasks[i];
	const struct restart_conf *rc = &tc->restart;
	json_t *r;

	sv_task_set(l, i, SV_FAILED, TASK_FAILED);
	r = sv_record(l, LOOPD_LOG_ERROR, "task '%s' failed %u times within "
	    "%llu ms (%s): it stays down", tc->name,
	    (unsigned)rc->intensity + 1,
	    (unsigned long long)rc->window_ms, cause);
	sv_add_task(r, tc);
	log_add(r, "event", "restart_exhausted");
	log_add(r, "state", "failed");
	log_add(r, "cause", cause);
	sv_add_history(r, l->tasks[i].rs);
	log_emit(r);
	if (l->sv->conf->on_exhausted == CONF_EXHAUSTED_EXIT) {
		l->sv->exhausted = 1;
		sv_stop(l->sv, 0);
	}
}

/*
 * Task i of l ended: failed or not, charged to it or not (it died with
 * its worker in another task's code).  The policy decides: down for good,
 * or back after a backoff.
 */
static void
sv_task_ended(struct sv_loop *l, size_t i, int failed, int charged,
    const char *why, const char *type)
{
	struct supervisor *sv = l->sv;
	struct sv_task *t = &l->tasks[i];
	const struct task_conf *tc = &l->loop->tasks[i];
	struct timeval tv;
	uint64_t delay = 0;
	char cause[128];
	json_t *r;

	if (failed)
		sv->unclean = 1;
	snprintf(cause, sizeof cause, "%s%s%s", why, type ? ": " : "",
	    type ? type : "");
	if (sv->stopping || l->gave_up) {
		sv_task_set(l, i, failed ? SV_FAILED : SV_ENDED,
		    failed ? TASK_FAILED : TASK_DONE);
		return;
	}
	if (t->rs == NULL && (t->rs = calloc(1, sizeof *t->rs)) == NULL) {
		sv_task_set(l, i, SV_FAILED, TASK_FAILED);
		return;
	}
	switch (restart_decide(t->rs, &tc->restart, failed, charged,
	    now_ms(), (uint32_t)random(), &delay)) {
	case RESTART_NO:
		sv_task_set(l, i, failed ? SV_FAILED : SV_ENDED,
		    failed ? TASK_FAILED : TASK_DONE);
		return;
	case RESTART_EXHAUSTED:
		sv_exhausted(l, i, cause);
		return;
	case RESTART_YES:
		break;
	}
	r = sv_record(l, LOOPD_LOG_WARNING, "task '%s' restarts in %llu ms "
	    "(%s)%s", tc->name, (unsigned long long)delay, cause, charged ?
	    "" : "; not charged: it died with its worker in another task's "
	    "code");
	sv_add_task(r, tc);
	log_add(r, "event", "task_restart");
	log_add_int(r, "attempt", t->rs->total);
	log_add_int(r, "delay_ms", (long long)delay);
	log_add(r, "cause", cause);
	if (r != NULL)
		json_object_set_new(r, "charged", json_boolean(charged));
	log_emit(r);
	if (!charged && l->proc.pid <= 0) {
		/* It starts with its worker. */
		sv_task_set(l, i, SV_PENDING, TASK_STARTING);
		return;
	}
	if ((t->timer = evtimer_new(sv->base, sv_wait_cb, t)) == NULL) {
		sv_task_set(l, i, SV_FAILED, TASK_FAILED);
		return;
	}
	tv = ms_tv(delay);
	evtimer_add(t->timer, &tv);
	sv_task_set(l, i, SV_WAITING, TASK_STARTING);
}

/* l's worker died while tasks lived in it: they go back under the policy,
 * and the worker comes back after its own backoff. */
static void
sv_worker_died(struct sv_loop *l, int running, const char *why)
{
	struct supervisor *sv = l->sv;
	struct timeval tv;
	uint64_t delay = 0;
	size_t i;
	json_t *r;

	sv->unclean = 1;
	for (i = 0; i < l->loop->ntasks; i++)
		if (l->tasks[i].phase == SV_LIVE && l->tasks[i].state <
		    TASK_DONE)
			sv_task_ended(l, i, 1, (int)i == running, why, NULL);
	if (sv->stopping || sv->nphase[SV_PENDING] + sv->nphase[SV_WAITING] ==
	    0)
		return;
	switch (restart_decide(&l->rs, &l->loop->restart, 1, 1, now_ms(),
	    (uint32_t)random(), &delay)) {
	case RESTART_YES:
		tv = ms_tv(delay);
		evtimer_add(l->respawn, &tv);
		return;
	case RESTART_NO:
	case RESTART_EXHAUSTED:
		break;
	}
	l->gave_up = 1;
	r = sv_record(l, LOOPD_LOG_ERROR, "the worker of loop '%s' died %u "
	    "times within %llu ms: the loop stays down", l->loop->name,
	    (unsigned)l->loop->restart.intensity + 1,
	    (unsigned long long)l->loop->restart.window_ms);
	log_add(r, "event", "restart_exhausted");
	log_add(r, "state", "failed");
	sv_add_history(r, &l->rs);
	log_emit(r);
	for (i = 0; i < l->loop->ntasks; i++)
		if (l->tasks[i].phase == SV_PENDING ||
		    l->tasks[i].phase == SV_WAITING) {
			if (l->tasks[i].timer != NULL) {
				event_free(l->tasks[i].timer);
				l->tasks[i].timer = NULL;
			}
			sv_task_set(l, i, SV_FAILED, TASK_FAILED);
		}
	if (sv->conf->on_exhausted == CONF_EXHAUSTED_EXIT) {
		sv->exhausted = 1;
		sv_stop(sv, 0);
	}
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
			if (l->tasks[j].phase != SV_LIVE ||
			    l->tasks[j].state >= TASK_DONE)
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
	char name[48];
	json_t *r;
	size_t i, j;

	if (sig == 0)
		snprintf(name, sizeof name, "restarts ran out");
	else
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
	evtimer_del(sv->status);
	/* Nothing waits to start again. */
	for (i = 0; i < sv->nloops; i++) {
		evtimer_del(sv->loops[i].respawn);
		for (j = 0; j < sv->loops[i].loop->ntasks; j++) {
			struct sv_task *t = &sv->loops[i].tasks[j];

			if (t->timer != NULL) {
				event_free(t->timer);
				t->timer = NULL;
			}
			if (t->phase == SV_WAITING || t->phase == SV_PENDING)
				sv_task_set(&sv->loops[i], j, SV_ENDED,
				    TASK_DONE);
		}
	}
	notify_stopping("stopping: cancelling %zu tasks",
	    sv->nphase[SV_LIVE]);
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

/* systemd's watchdog: a timer of the supervisor's own loop, so WATCHDOG=1
 * goes out only while that loop turns. */
static void
sv_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	notify_watchdog();
}

static int
sv_watchdog_start(struct supervisor *sv)
{
	uint64_t usec = notify_watchdog_usec() / 2;
	struct timeval tv = { (time_t)(usec / 1000000),
	    (suseconds_t)(usec % 1000000) };

	if (usec == 0)
		return 0;
	sv->watchdog = event_new(sv->base, -1, EV_PERSIST, sv_watchdog_cb, sv);
	if (sv->watchdog == NULL || event_add(sv->watchdog, &tv) < 0)
		return -1;
	notify_watchdog();
	return 0;
}

static int
sv_init(struct supervisor *sv, const struct conf *conf, const char *exe)
{
	size_t i, j;

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
		sv->ntasks += conf->loops[i].ntasks;
		sv->loops[i].tasks = calloc(conf->loops[i].ntasks,
		    sizeof *sv->loops[i].tasks);
		sv->loops[i].eof = evtimer_new(sv->base, sv_eof_cb,
		    &sv->loops[i]);
		sv->loops[i].respawn = evtimer_new(sv->base, sv_respawn_cb,
		    &sv->loops[i]);
		sv->loops[i].watch = event_new(sv->base, -1, EV_PERSIST,
		    sv_watch_cb, &sv->loops[i]);
		sv->loops[i].dump = evtimer_new(sv->base, sv_dump_cb,
		    &sv->loops[i]);
		if (sv->loops[i].tasks == NULL || sv->loops[i].eof == NULL ||
		    sv->loops[i].respawn == NULL || sv->loops[i].watch ==
		    NULL || sv->loops[i].dump == NULL)
			return -1;
		for (j = 0; j < conf->loops[i].ntasks; j++) {
			sv->loops[i].tasks[j].l = &sv->loops[i];
			sv->loops[i].tasks[j].phase = SV_PENDING;
			sv->loops[i].tasks[j].first = 1;
		}
	}
	sv->nphase[SV_PENDING] = sv->nfirst = sv->ntasks;
	if ((sv->status = evtimer_new(sv->base, sv_status_cb, sv)) == NULL ||
	    sv_watchdog_start(sv) < 0)
		return -1;
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
	size_t i, j;

	sv_block_signals();
	for (i = 0; i < sv->nloops; i++) {
		struct sv_loop *l = &sv->loops[i];

		proc_release(&l->proc);
		for (j = 0; l->tasks != NULL && j < l->loop->ntasks; j++) {
			if (l->tasks[j].timer != NULL)
				event_free(l->tasks[j].timer);
			if (l->tasks[j].rs != NULL)
				restart_clear(l->tasks[j].rs);
			free(l->tasks[j].rs);
		}
		free(l->tasks);
		free(l->broken);
		restart_clear(&l->rs);
		if (l->eof != NULL)
			event_free(l->eof);
		if (l->respawn != NULL)
			event_free(l->respawn);
		if (l->watch != NULL)
			event_free(l->watch);
		if (l->dump != NULL)
			event_free(l->dump);
	}
	if (sv->status != NULL)
		event_free(sv->status);
	if (sv->watchdog != NULL)
		event_free(sv->watchdog);
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
	size_t i;
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
	srandom((unsigned)getpid() ^ (unsigned)now_ms());
	for (i = 0; i < sv.nloops; i++)
		sv_launch(&sv.loops[i]);
	sv_check_ready(&sv);
	if (!sv.stopping || sv.nworkers > 0)
		event_base_dispatch(sv.base);

	status = sv.exhausted ? SV_EXIT_EXHAUSTED : sv.forced || sv.lost ||
	    sv.unclean ? SV_EXIT_UNCLEAN : 0;
	r = log_record(status == 0 ? LOOPD_LOG_INFO : LOOPD_LOG_WARNING,
	    "loopd stopped%s", sv.exhausted ? " because restarts ran out "
	    "(on_exhausted: exit)" : sv.forced ? " after killing tasks that "
	    "outlived the grace period" : sv.lost ? " after losing tasks whose "
	    "worker died" : sv.unclean ? "; tasks failed or died since it "
	    "started" : "");
	log_add(r, "event", "exit");
	log_add_int(r, "exit_status", status);
	log_emit(r);
	log_flush(1000);
	sv_free(&sv);
	sv_reap_strays();
	return status;
}
