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
#include <limits.h>
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

#include "inbox.h"
#include "listen.h"
#include "control.h"
#include "listenfd.h"
#include "log.h"
#include "metrics.h"
#include "monotime.h"
#include "msg.h"
#include "notify.h"
#include "pluginwatch.h"
#include "pmetric.h"
#include "proc.h"
#include "restart.h"
#include "sandbox.h"
#include "schema.h"
#include "supervisor.h"
#include "symbolize.h"
#include "task.h"
#include "watch.h"
#include "worker.h"
#include "wstats.h"

/* Where a task stands, beside the state its worker reported. */
enum sv_phase {
	SV_PENDING,		/* to start once its worker is up */
	SV_LIVE,		/* in its worker: `state` says how */
	SV_WAITING,		/* in its backoff before a restart */
	SV_FAILED,		/* down for good: failed and not restarted */
	SV_ENDED,		/* ended cleanly and not restarted */
	SV_GONE,		/* removed by a reload: its slot is not reused */
	SV_NOPLUGIN,		/* waiting for its plugin file to appear */
	SV_NPHASES,
};

/*
 * A configuration and how many tasks and loops still point into it: after
 * a reload, a task being stopped keeps the file it came from alive.
 */
struct sv_conf {
	struct conf		*conf;
	size_t			 refs;
};

/* The supervisor's view of one task. */
struct sv_task {
	struct sv_loop		*l;		/* its loop */
	size_t			 slot;		/* its index there */
	const struct task_conf	*tc;		/* its settings, in owner */
	struct sv_conf		*owner;
	int			 successor;	/* slot to start once this ends */
	unsigned char		 removing;	/* a reload stops it for good */
	unsigned char		 bounce;	/* its plugin changed: again */
	const struct task_conf	*pending;	/* offered in place, unanswered */
	uint64_t		 started;	/* listeners_now() at its start */
	struct sv_conf		*pending_owner;
	unsigned char		 state;		/* enum task_state, as reported */
	unsigned char		 phase;		/* enum sv_phase */
	unsigned char		 first;		/* its first start is not over */
	unsigned char		 held;		/* SV_HELD_*: the operator's */
	struct restart_state	*rs;		/* from its first restart on */
	struct event		*timer;		/* while waiting */
	uint64_t		 up_ms;		/* running since, or 0 */
	json_t			*errors;	/* its errors: type -> count */
	const char		*version;	/* its plugin's, as said, in
						 * sv->versions; NULL: none */
};

/* A plugin version some task said, kept once for all the tasks that say
 * it: a handful for any number of tasks. */
struct sv_version {
	struct sv_version	*next;
	char			 s[];
};

/* The supervisor's view of one loop and its worker. */
struct sv_loop {
	struct supervisor	*sv;
	const struct loop_conf	*loop;
	struct sv_conf		*owner;		/* of loop */
	struct proc		 proc;
	struct sv_task		**tasks;	/* slots, in the worker's order */
	size_t			 ntasks, cap;
	size_t			 nlive;		/* live tasks not done or failed */
	int			 removing;	/* a reload shuts it down */
	const struct loop_conf	*next;		/* a reload restarts it so */
	struct sv_conf		*next_owner;
	int			 killed;	/* we sent SIGKILL at the grace */
	char			*broken;	/* why we killed it, if we did */
	struct event		*eof;		/* channel closed, not reaped */
	struct event		*sockev;	/* its asks for sockets */
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
	uint64_t		 spawned_ms;	/* the worker's start */
	json_t			*errors;	/* no task's: type -> count */
};

/* A worker that closed its channel has this long to be reaped. */
#define SV_EOF_GRACE_MS	1000

struct supervisor {
	struct conf		*conf;		/* the current one */
	struct sv_conf		*current;
	const struct supervisor_opts *opts;
	const char		*exe;
	struct event_base	*base;
	struct sv_loop		**loops;
	size_t			 nloops, loopcap;
	struct event		*sig[8];
	struct event		*reload;	/* SIGHUPs, coalesced */
	struct watch		*watch;		/* config_watch: true */
	struct event		*grace;
	size_t			 ntasks;
	size_t			 nphase[SV_NPHASES];	/* tasks in each phase */
	size_t			 nstarting;	/* live tasks still starting */
	size_t			 nfirst;	/* first starts not yet over */
	size_t			 nworkers;	/* workers not yet reaped */
	struct event		*status;	/* STATUS= is due */
	struct event		*watchdog;	/* WATCHDOG=1, when asked */
	struct pluginwatch	*pw;		/* plugin files, when watched */
	struct listeners	*listeners;	/* bound for tasks */
	/* The last plugin file looked for, so that starting 40,000 tasks of
	 * one plugin looks once, not 40,000 times. */
	const char		*seen_path;
	int			 seen_exists;
	uint64_t		 seen_ms;
	struct creds		 creds;		/* `user:`, for new workers */
	int			 stopping;
	int			 forced;	/* tasks outlived the grace */
	int			 lost;		/* tasks died with a worker */
	int			 unclean;	/* a task failed or died */
	int			 exhausted;	/* on_exhausted: exit fired */
	int			 ready;
	struct control		*control;	/* or NULL */
	struct metrics		*metrics;	/* or NULL */
	struct listenfds	 lfds;		/* socket activation's */
	struct sv_version	*versions;	/* the tasks' plugin versions */
};

/* Exit statuses; see loopd(8). */
#define SV_EXIT_UNCLEAN		1	/* a task failed, died or was forced */
#define SV_EXIT_EXHAUSTED	3	/* restarts ran out, on_exhausted: exit */

static const int handled_signals[] = {
	SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGUSR1,
};

static json_t *
sv_record(struct sv_loop *l, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void	sv_task_ended(struct sv_loop *, size_t, int, int, const char *,
		    const char *);
static void	sv_stop(struct supervisor *, int);
static void	sv_worker_died(struct sv_loop *, int, const char *);
static void	sv_reload_cb(evutil_socket_t, short, void *);
static void	sv_start_successor(struct sv_loop *, struct sv_task *);
static void	sv_loop_renew(struct sv_loop *);
static void	sv_reconfigure_done(struct sv_loop *, size_t, int);
static const char *sv_limit_hit(struct sv_loop *, int, int);
static void	sv_count_error(struct sv_loop *, int, const char *);
static void	sv_held_ended(struct sv_loop *, size_t, int);
static void	sv_send_listen_fd(struct sv_loop *, size_t);
struct sv_diff;
static void	sv_control_reloaded(struct supervisor *, struct sv_diff *,
		    const struct conf_errors *);
static int	sv_resolve_creds(struct supervisor *, const struct conf *,
		    struct creds *, const uint64_t *);

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

/* Free *evp if it is set, and forget it. */
static void
event_clear(struct event **evp)
{
	if (*evp != NULL)
		event_free(*evp);
	*evp = NULL;
}

/* ---- tasks, readiness and status ------------------------------------------ */

static const char *const phase_words[] = {
	"restarting", "running", "restarting", "failed", "ended", "removed",
	"waiting_for_plugin",
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
	struct sv_task *t = l->tasks[i];

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
	if (p == SV_GONE && t->phase != SV_GONE)
		sv->ntasks--;
	if (t->first && p != SV_PENDING && !(p == SV_LIVE &&
	    s == TASK_STARTING)) {
		t->first = 0;
		sv->nfirst--;
	}
	if (p == SV_LIVE && s == TASK_RUNNING)
		t->up_ms = monotime_ms();
	t->phase = (unsigned char)p;
	t->state = (unsigned char)s;
	sv_status_due(sv);
}

/* ---- configurations, loops and slots --------------------------------------- */

static struct sv_conf *
sv_conf_new(struct conf *conf)
{
	struct sv_conf *c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	c->conf = conf;
	c->refs = 1;		/* the supervisor's, while it is current */
	return c;
}

static struct sv_conf *
sv_conf_ref(struct sv_conf *c)
{
	c->refs++;
	return c;
}

static void
sv_conf_unref(struct sv_conf *c)
{
	if (c == NULL || --c->refs > 0)
		return;
	config_free(c->conf);
	free(c);
}

static void	sv_eof_cb(evutil_socket_t, short, void *);
static void	sv_respawn_cb(evutil_socket_t, short, void *);
static void	sv_watch_cb(evutil_socket_t, short, void *);
static void	sv_dump_cb(evutil_socket_t, short, void *);

/* A new loop, with no task yet, appended to sv->loops; or NULL. */
static struct sv_loop *
sv_loop_add(struct supervisor *sv, const struct loop_conf *lc,
    struct sv_conf *owner)
{
	struct sv_loop *l, **v;
	size_t cap;

	if (sv->nloops == sv->loopcap) {
		cap = sv->loopcap ? sv->loopcap * 2 : 4;
		if ((v = reallocarray(sv->loops, cap, sizeof *v)) == NULL)
			return NULL;
		sv->loops = v;
		sv->loopcap = cap;
	}
	if ((l = calloc(1, sizeof *l)) == NULL)
		return NULL;
	l->sv = sv;
	l->loop = lc;
	l->owner = sv_conf_ref(owner);
	l->proc.crash_fd = -1;
	l->eof = evtimer_new(sv->base, sv_eof_cb, l);
	l->respawn = evtimer_new(sv->base, sv_respawn_cb, l);
	l->watch = event_new(sv->base, -1, EV_PERSIST, sv_watch_cb, l);
	l->dump = evtimer_new(sv->base, sv_dump_cb, l);
	sv->loops[sv->nloops++] = l;
	if (l->eof == NULL || l->respawn == NULL || l->watch == NULL ||
	    l->dump == NULL)
		return NULL;	/* freed with sv */
	return l;
}

static void
sv_slot_free(struct sv_task *t)
{
	if (t == NULL)
		return;
	event_clear(&t->timer);
	if (t->rs != NULL)
		restart_clear(t->rs);
	free(t->rs);
	json_decref(t->errors);
	sv_conf_unref(t->owner);
	sv_conf_unref(t->pending_owner);
	free(t);
}

static void
sv_loop_free(struct sv_loop *l)
{
	size_t i;

	event_clear(&l->sockev);
	proc_release(&l->proc);
	for (i = 0; i < l->ntasks; i++)
		sv_slot_free(l->tasks[i]);
	free(l->tasks);
	free(l->broken);
	json_decref(l->errors);
	restart_clear(&l->rs);
	event_clear(&l->eof);
	event_clear(&l->respawn);
	event_clear(&l->watch);
	event_clear(&l->dump);
	sv_conf_unref(l->owner);
	sv_conf_unref(l->next_owner);
	free(l);
}

/* A new slot for tc (in owner) at the end of l, pending: its index, or
 * -1.  Before READY=1, its first start counts towards it. */
static int
sv_slot_add(struct sv_loop *l, const struct task_conf *tc,
    struct sv_conf *owner)
{
	struct supervisor *sv = l->sv;
	struct sv_task *t, **v;
	size_t cap;

	if (l->ntasks == l->cap) {
		cap = l->cap ? l->cap * 2 : 4;
		if ((v = reallocarray(l->tasks, cap, sizeof *v)) == NULL)
			return -1;
		l->tasks = v;
		l->cap = cap;
	}
	if ((t = calloc(1, sizeof *t)) == NULL)
		return -1;
	t->l = l;
	t->slot = l->ntasks;
	t->tc = tc;
	t->owner = sv_conf_ref(owner);
	t->successor = -1;
	t->phase = SV_PENDING;
	t->first = !sv->ready;
	l->tasks[l->ntasks++] = t;
	sv->nphase[SV_PENDING]++;
	sv->ntasks++;
	sv->nfirst += t->first;
	return (int)t->slot;
}

/* The slot of l holding tc, or -1. */
static int
sv_slot_of(const struct sv_loop *l, const struct task_conf *tc)
{
	size_t i;

	for (i = 0; i < l->ntasks; i++)
		if (l->tasks[i]->tc == tc)
			return (int)i;
	return -1;
}

/*
 * The kept copy of version v (its first 63 bytes, as a task's record says
 * it), or NULL when v is empty or memory ran out: the version goes
 * unsaid then.
 */
static const char *
sv_version(struct supervisor *sv, const char *v)
{
	struct sv_version *k;
	size_t n = strnlen(v, 63);

	if (n == 0)
		return NULL;
	for (k = sv->versions; k != NULL; k = k->next)
		if (strncmp(k->s, v, n) == 0 && k->s[n] == '\0')
			return k->s;
	if ((k = malloc(sizeof *k + n + 1)) == NULL)
		return NULL;
	memcpy(k->s, v, n);
	k->s[n] = '\0';
	k->next = sv->versions;
	sv->versions = k;
	return k->s;
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
		for (j = 0; j < sv->loops[i]->ntasks; j++) {
			if (sv->loops[i]->tasks[j]->timer == NULL ||
			    !evtimer_pending(sv->loops[i]->tasks[j]->timer, &tv))
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
		for (j = 0; j < sv->loops[i]->ntasks; j++) {
			t = sv->loops[i]->tasks[j];
			if (sv_task_running(t))
				continue;
			if ((*n)++ >= 20)
				continue;
			snprintf(buf, sizeof buf, "%s (%s)",
			    sv->loops[i]->tasks[j]->tc->name,
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

/* A MSG_LOG that will not be written: check the rest of it all the same,
 * and count it as dropped when it would have been. */
static const char *
sv_log_skip(struct msg_in *in, int64_t nfields, int count)
{
	json_t *scratch = json_object();
	const char *why;

	why = inbox_log_fields(in, nfields, scratch);
	json_decref(scratch);
	if (why == NULL && count)
		log_count_dropped(1);
	return why;
}

/* MSG_LOG: check it, stamp pid and loop, write it.  NULL or the fault. */
static const char *
sv_log(struct sv_loop *l, struct msg_in *in)
{
	struct inbox_log h;
	const char *why;
	json_t *r;

	if ((why = inbox_log(in, l->ntasks, &h)) != NULL)
		return why;
	/* Below the level, or bound to be dropped: the rest is only checked
	 * (the worker filters levels too; a full log output must not cost the
	 * work of building what it cannot take). */
	if (h.level < log_level() || log_would_drop(strlen(h.msg) + 128))
		return sv_log_skip(in, h.nfields, h.level >= log_level());
	if ((r = json_object()) == NULL)
		return NULL;
	json_object_set_new(r, "ts", json_stringn(h.ts, h.tslen));
	json_object_set_new(r, "level", json_string(log_level_name(h.level)));
	json_object_set_new(r, "msg", log_string(h.msg));
	json_object_set_new(r, "pid", json_integer(l->proc.pid));
	log_add(r, "loop", l->loop->name);
	if (h.task >= 0)
		sv_add_task(r, l->tasks[h.task]->tc);
	if ((why = inbox_log_fields(in, h.nfields, r)) != NULL)
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
	struct sv_task *t = l->tasks[i];

	if (t->version != NULL)
		log_add(r, "plugin_version", t->version);
	log_add_int(r, "uptime_ms", t->up_ms ? (long long)(monotime_ms() -
	    t->up_ms) : 0);
	log_add_int(r, "restarts", t->rs != NULL ? (long long)t->rs->total : 0);
}

/* MSG_STATE: a task's new state; logged once, here. */
static const char *
sv_state(struct sv_loop *l, struct msg_in *in)
{
	const struct task_conf *tc;
	struct inbox_state st;
	const char *why, *ver, *type, *m, *cb, *limit = NULL;
	size_t i;
	int s;
	json_t *r;

	if ((why = inbox_state(in, l->ntasks, &st)) != NULL)
		return why;
	i = st.task;
	s = st.state;
	ver = st.version;
	type = st.type;
	m = st.msg;
	cb = st.callback;
	if (l->tasks[i]->phase != SV_LIVE ||
	    !inbox_state_follows(l->tasks[i]->state, s))
		return "a task state that does not follow the last one";
	tc = l->tasks[i]->tc;
	sv_task_set(l, (size_t)i, SV_LIVE, (enum task_state)s);
	if (s == TASK_RUNNING && l->tasks[i]->rs != NULL)
		restart_running(l->tasks[i]->rs, monotime_ms());
	if (s == TASK_RUNNING)
		listeners_settle(l->sv->listeners, l->loop->name,
		    l->tasks[i]->tc->name, l->tasks[i]->started);
	l->tasks[i]->version = sv_version(l->sv, ver);
	if (s == TASK_FAILED) {
		r = sv_record(l, LOOPD_LOG_ERROR, "task '%s' failed: %s",
		    tc->name, *m ? m : "(no message)");
		sv_add_task(r, tc);
		log_add(r, "plugin_version", *ver ? ver : NULL);
		log_add(r, "event", "task_error");
		log_add(r, "limit", (limit = sv_limit_hit(l, 0, 1)));
		log_add_error(r, *type ? type : "error", m);
		sv_add_context(r, l, (size_t)i);
		log_add(r, "callback", cb);
		sv_count_error(l, (int)i, *type ? type : "error");
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
		pmetric_table_drop_task(l->proc.metrics, (size_t)i);
	if (s == TASK_FAILED || s == TASK_DONE)
		sv_task_ended(l, (size_t)i, s == TASK_FAILED, 1, s == TASK_DONE ?
		    "ended" : "failed", s == TASK_DONE ? NULL : *type ? type :
		    "error");
	/* A worker out of fds is no use to any task, the failed one's
	 * restart included: what its plugins leaked goes with it, and it
	 * comes back under its loop's policy. */
	if (limit != NULL && !l->sv->stopping && !l->killed) {
		log_emit(sv_record(l, LOOPD_LOG_WARNING, "worker of loop '%s' "
		    "is at its limits.%s: killing it, to start it again",
		    l->loop->name, limit));
		l->killed = 1;
		proc_kill(&l->proc);
	}
	sv_check_ready(l->sv);
	return NULL;
}

/* MSG_DROPPED: records the worker could not send, said with the
 * supervisor's own drops. */
static const char *
sv_dropped(struct sv_loop *l, struct msg_in *in)
{
	const char *why;
	size_t n;

	if ((why = inbox_dropped(in, &n)) != NULL)
		return why;
	log_count_dropped(n);
	return NULL;
}

/* MSG_RECONFIGURED: whether task i took its new `config:` in place. */
static const char *
sv_reconfigured(struct sv_loop *l, struct msg_in *in)
{
	const struct task_conf *tc;
	const char *why;
	size_t i;
	int applied;
	json_t *r;

	if ((why = inbox_reconfigured(in, l->ntasks, &i, &applied)) != NULL)
		return why;
	if (l->tasks[i]->pending == NULL)
		return "an answer to a reconfiguration nobody offered";
	tc = l->tasks[i]->tc;
	r = sv_record(l, applied ? LOOPD_LOG_INFO : LOOPD_LOG_WARNING,
	    applied ? "task '%s' reconfigured in place" : "task '%s' "
	    "cannot be reconfigured in place: it needs a restart", tc->name);
	sv_add_task(r, tc);
	log_add(r, "event", "task_reconfigured");
	log_add(r, "result", applied ? "applied" : "restart_needed");
	log_emit(r);
	sv_reconfigure_done(l, i, applied);
	return NULL;
}

/* MSG_METRIC: a metric a running task's plugin declared (pmetric.h). */
static const char *
sv_metric(struct sv_loop *l, struct msg_in *in)
{
	struct pmetric_decl d;
	const char *why;

	if ((why = pmetric_get_declaration(in, l->ntasks, &d)) != NULL)
		return why;
	if (l->tasks[d.task]->phase != SV_LIVE ||
	    l->tasks[d.task]->state >= TASK_DONE)
		return "a metric of a task that does not run";
	return pmetric_table_add(l->proc.metrics, &d);
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
	case MSG_RECONFIGURED:
		why = sv_reconfigured(l, &in);
		break;
	case MSG_METRIC:
		why = sv_metric(l, &in);
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
static void	sv_sockets_cb(evutil_socket_t, short, void *);

static int
sv_spawn(struct sv_loop *l)
{
	struct supervisor *sv = l->sv;
	const struct task_conf **tcs;
	char title[96];
	size_t i;
	int rc;

	snprintf(title, sizeof title, "loop=%s", l->loop->name);
	if ((tcs = calloc(l->ntasks + 1, sizeof *tcs)) == NULL)
		return -1;
	for (i = 0; i < l->ntasks; i++)
		if (l->tasks[i]->phase != SV_GONE)
			tcs[i] = l->tasks[i]->tc;
	if (proc_spawn(&l->proc, sv->base, sv->exe, title, &sv_ipc, l) < 0) {
		free(tcs);
		return -1;
	}
	sv->nworkers++;
	l->spawned_ms = monotime_ms();
	l->hang_beat = 0;
	l->hung = 0;
	l->vm_peak = 0;
	sv_watch_start(l);
	rc = msg_send_loop(sv->conf, l->loop, &sv->creds, tcs, l->ntasks,
	    sv_send,
	    l->proc.ipc);
	for (i = 0; rc == 0 && i < l->ntasks; i++)
		if (tcs[i] != NULL)
			sv_send_listen_fd(l, i);
	free(tcs);
	if ((l->sockev = event_new(sv->base, l->proc.sock_fd, EV_READ |
	    EV_PERSIST, sv_sockets_cb, l)) == NULL ||
	    event_add(l->sockev, NULL) < 0)
		rc = -1;
	if (rc < 0)
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

	for (i = 0; i < l->ntasks; i++)
		if (l->tasks[i]->phase == SV_LIVE && l->tasks[i]->state <
		    TASK_DONE)
			json_array_append_new(lost,
			    json_string(l->tasks[i]->tc->name));
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
	else if (WEXITSTATUS(status) == WORKER_EXIT_USER)
		snprintf(what, len, "could not become user %s (see the line "
		    "it wrote on stderr)", l->sv->conf->user != NULL ?
		    l->sv->conf->user : "?");
	else if (WEXITSTATUS(status) == WORKER_EXIT_SANDBOX)
		snprintf(what, len, "could not apply its sandbox (see the "
		    "line it wrote on stderr)");
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

/* The system call the worker's sandbox refused, when that killed it:
 * its name, new, or NULL. */
static char *
sv_refused_call(const struct sv_loop *l, int status)
{
	uint32_t arch;
	char *name;
	int nr;

	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS ||
	    proc_syscall(&l->proc, &nr, &arch) < 0)
		return NULL;
	if ((name = sandbox_syscall_name(arch, nr)) == NULL &&
	    asprintf(&name, "number %d", nr) < 0)
		return NULL;
	return name;
}

/* Report how l's worker died; the task it is blamed on, or -1. */
static int
sv_report_death(struct sv_loop *l, int status)
{
	int running = proc_running(&l->proc);
	const struct task_conf *tc = running >= 0 &&
	    (size_t)running < l->ntasks && l->broken == NULL ?
	    l->tasks[running]->tc : NULL;
	char what[256], msg[512], sig[24];
	struct symbolize_blame blame = { 0 };
	const char *limit;
	char *sysname = NULL;
	json_t *r, *bt = NULL;
	size_t at;

	sv_death_words(l, status, what, sizeof what);
	if (l->broken == NULL && (sysname = sv_refused_call(l, status)) !=
	    NULL)
		snprintf(what, sizeof what, "was killed by SIGSYS: its sandbox "
		    "(profile %s) refused system call %s",
		    config_sandbox_profile_name(l->loop->sandbox.profile),
		    sysname);
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
		if (sv_slot_of(l, tc) >= 0)
			sv_add_context(r, l, (size_t)sv_slot_of(l, tc));
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
		log_add(r, "syscall", sysname);
		if (r != NULL && bt != NULL)
			json_object_set(r, "backtrace", bt);
		log_add_error(r, sysname != NULL ? "sandbox" : "crash", msg);
	} else {
		log_add_int(r, "exit_status", WEXITSTATUS(status));
		log_add_error(r, "exit", msg);
	}
	if (r != NULL)
		json_object_set_new(r, "lost_tasks", sv_lost_tasks(l));
	sv_count_error(l, tc != NULL ? sv_slot_of(l, tc) : -1, l->broken !=
	    NULL ? "protocol" : WIFSIGNALED(status) ? "crash" : "exit");
	json_decref(bt);
	json_decref(blame.suspects);
	free(sysname);
	log_emit(r);
	return tc != NULL ? sv_slot_of(l, tc) : -1;
}

static void
sv_reaped(struct sv_loop *l, int status)
{
	struct supervisor *sv = l->sv;
	int running = l->hung ? l->hang_task : l->broken == NULL ?
	    proc_running(&l->proc) : -1;
	const char *cause = l->broken != NULL ? "protocol" : l->hung ? "hang" :
	    l->killed ? "killed" : WIFSIGNALED(status) ? "crash" : "exit";
	int blamed;

	/* What the worker said before it went comes first. */
	if (l->proc.ipc != NULL)
		ipc_drain(l->proc.ipc);
	if (running < 0 || (size_t)running >= l->ntasks)
		running = -1;
	if ((l->removing || l->next != NULL) && l->nlive == 0 &&
	    l->broken == NULL && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0)
		log_emit(sv_record(l, LOOPD_LOG_INFO, "loop stopped for the "
		    "reload"));
	else if (l->killed && l->broken == NULL)
		log_emit(sv_record(l, LOOPD_LOG_WARNING, "worker of loop '%s' "
		    "killed", l->loop->name));
	else if (l->hung)
		;	/* the task_hang record said it all */
	else if (sv->stopping && l->nlive == 0 && l->broken == NULL &&
	    WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_emit(sv_record(l, LOOPD_LOG_INFO, "loop stopped"));
	else {
		blamed = sv_report_death(l, status);
		if (running < 0)
			running = blamed;	/* its code, called by libevent */
		if (sv->stopping && l->nlive > 0)
			sv->lost = 1;
	}
	evtimer_del(l->eof);
	event_del(l->watch);
	evtimer_del(l->dump);
	event_clear(&l->sockev);
	proc_release(&l->proc);	/* and whatever its plugins forked */
	free(l->broken);
	l->broken = NULL;
	l->killed = 0;
	l->hung = 0;
	sv->nworkers--;
	if (l->nlive > 0)
		sv_worker_died(l, running, cause);
	if (l->next != NULL && !sv->stopping)
		sv_loop_renew(l);
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
		if (sv->loops[i]->proc.pid > 0)
			k[n++] = sv->loops[i]->proc.pid;
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
			if (sv->loops[i]->proc.pid == pid) {
				/* Its peak, as the kernel kept it. */
				if ((uint64_t)ru.ru_maxrss * 1024 >
				    sv->loops[i]->vm_peak)
					sv->loops[i]->vm_peak =
					    (uint64_t)ru.ru_maxrss * 1024;
				sv_reaped(sv->loops[i], status);
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

/* ---- listening sockets ---------------------------------------------------------- */

/*
 * A worker asks for a listening socket (loopd_listen_tcp) on fd 5.  Like
 * everything a worker says, the ask is checked: a task of this loop that
 * is running, an address, a port; the supervisor binds with its own
 * rights and keeps a copy (listen.h).
 */
static const char *
sv_listen_ask(struct sv_loop *l, const uint8_t *buf, size_t len,
    struct msg_out *reply, int *fd)
{
	struct inbox_listen ask;
	struct msg_in in;
	const char *why;
	int rc;

	*fd = -1;
	if (msg_open(&in, buf, len) != MSG_LISTEN)
		return "a socket message of another type";
	if ((why = inbox_listen(&in, l->ntasks, &ask)) != NULL)
		return why;
	if (l->tasks[ask.task]->phase != SV_LIVE)
		return "a socket for a task that is not running";
	rc = listeners_get(l->sv->listeners, l->loop->name,
	    l->tasks[ask.task]->tc->name, ask.address, ask.port, ask.backlog);
	msg_begin(reply, MSG_LISTENING);
	msg_put_int(reply, rc < 0 ? rc : 0);
	*fd = rc;
	return NULL;
}

static void
sv_sockets_cb(evutil_socket_t sock, short what, void *arg)
{
	struct sv_loop *l = arg;
	struct msg_out reply = { 0 };
	uint8_t buf[512];
	const char *why;
	char msg[160];
	ssize_t n;
	int fd, passed;

	n = ipc_packet_recv(sock, buf, sizeof buf, &passed, -1);
	if (passed >= 0)
		close(passed);		/* a worker hands no fd up */
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		event_del(l->sockev);	/* gone: SIGCHLD tells the rest */
		return;
	}
	if ((why = sv_listen_ask(l, buf, (size_t)n, &reply, &fd)) == NULL &&
	    !reply.nomem)
		ipc_packet_send(sock, reply.p, reply.len, fd >= 0 ? fd : -1);
	msg_out_free(&reply);
	if (why == NULL)
		return;
	snprintf(msg, sizeof msg, "sent a bad socket request (%s)", why);
	sv_break(l, msg);
}

/* A listening socket stays while its task's name is in its loop. */
static int
sv_listener_kept(void *ctx, const char *loop, const char *task)
{
	struct supervisor *sv = ctx;
	const struct loop_conf *lc;
	size_t i, j;

	for (i = 0; i < sv->conf->nloops; i++) {
		lc = &sv->conf->loops[i];
		if (strcmp(lc->name, loop) != 0)
			continue;
		for (j = 0; j < lc->ntasks; j++)
			if (strcmp(lc->tasks[j].name, task) == 0)
				return 1;
		return 0;
	}
	return 0;
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
	    l->tasks[l->hang_task]->tc : NULL;
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
		l->hang_task = sv_slot_of(l, tc);
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
	sv_count_error(l, l->hang_task, "hang");
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
	uint64_t beat = proc_beat(&l->proc), now = monotime_ms(), limit;
	int running = proc_running(&l->proc);

	if (l->proc.pid <= 0 || beat == 0 || l->broken != NULL || l->hung ||
	    l->sv->stopping)
		return;
	sv_sample_size(l);
	if (running < 0 || (size_t)running >= l->ntasks)
		running = -1;
	limit = running >= 0 && l->tasks[running]->phase == SV_LIVE &&
	    l->tasks[running]->state == TASK_STARTING ?
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
/* Whether path exists, looked for at most once a second (and again as
 * soon as the plugin watch says it changed). */
static int
sv_plugin_exists(struct supervisor *sv, const char *path)
{
	uint64_t now = monotime_ms();

	if (sv->seen_path == NULL || strcmp(sv->seen_path, path) != 0 ||
	    now - sv->seen_ms >= 1000) {
		sv->seen_path = path;
		sv->seen_exists = access(path, F_OK) == 0 || errno != ENOENT;
		sv->seen_ms = now;
	}
	return sv->seen_exists;
}

static void
sv_start_task(struct sv_loop *l, size_t i)
{
	const struct task_conf *tc = l->tasks[i]->tc;
	struct msg_out m = { 0 };
	json_t *r;

	/* A plugin that is not there yet is waited for, not failed: it
	 * starts when the file appears (or at the next reload). */
	if (!sv_plugin_exists(l->sv, tc->plugin_path)) {
		if (l->tasks[i]->phase == SV_NOPLUGIN)
			return;
		sv_task_set(l, i, SV_NOPLUGIN, TASK_STARTING);
		r = sv_record(l, LOOPD_LOG_WARNING, "task '%s' waits for its "
		    "plugin: %s does not exist yet", tc->name,
		    tc->plugin_path);
		sv_add_task(r, tc);
		log_add(r, "event", "task_state");
		log_add(r, "state", "waiting_for_plugin");
		log_emit(r);
		return;
	}
	msg_begin(&m, MSG_START);
	msg_put_int(&m, (int64_t)i);
	if (!m.nomem && ipc_send(l->proc.ipc, m.p, m.len, 0) == 0) {
		l->tasks[i]->started = listeners_now(l->sv->listeners);
		sv_task_set(l, i, SV_LIVE, TASK_STARTING);
	}
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
		for (i = 0; i < l->ntasks; i++)
			if (l->tasks[i]->phase == SV_PENDING)
				sv_task_ended(l, i, 1, 1, "worker", "spawn");
		return;
	}
	for (i = 0; i < l->ntasks; i++)
		if (l->tasks[i]->phase == SV_PENDING)
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
	size_t i = t->slot;

	event_clear(&t->timer);
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
		    restart_history(rs, monotime_ms()));
	}
}

/* Restarts of task i ran out: it stays down, and loopd may go. */
static void
sv_exhausted(struct sv_loop *l, size_t i, const char *cause)
{
	const struct task_conf *tc = l->tasks[i]->tc;
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
	sv_add_history(r, l->tasks[i]->rs);
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
	struct sv_task *t = l->tasks[i];
	const struct task_conf *tc = l->tasks[i]->tc;
	struct timeval tv;
	uint64_t delay = 0;
	char cause[128];
	json_t *r;

	if (failed)
		sv->unclean = 1;
	snprintf(cause, sizeof cause, "%s%s%s", why, type ? ": " : "",
	    type ? type : "");
	if (t->bounce && !sv->stopping && !t->removing && !l->removing &&
	    l->next == NULL) {
		/* Its plugin file was replaced: it starts again at once, on
		 * the new code, and is not charged for it. */
		t->bounce = 0;
		sv_task_set(l, i, SV_PENDING, TASK_STARTING);
		if (l->proc.pid > 0 && l->broken == NULL)
			sv_start_task(l, i);
		return;
	}
	if (t->removing || l->removing || l->next != NULL) {
		/* A reload stopped it: its slot retires, and what replaces
		 * it may start. */
		sv_task_set(l, i, SV_GONE, failed ? TASK_FAILED : TASK_DONE);
		sv_start_successor(l, t);
		return;
	}
	if (sv->stopping || l->gave_up) {
		sv_task_set(l, i, failed ? SV_FAILED : SV_ENDED,
		    failed ? TASK_FAILED : TASK_DONE);
		return;
	}
	if (t->held) {
		sv_held_ended(l, i, failed);	/* the operator's stop */
		return;
	}
	if (t->rs == NULL && (t->rs = calloc(1, sizeof *t->rs)) == NULL) {
		sv_task_set(l, i, SV_FAILED, TASK_FAILED);
		return;
	}
	switch (restart_decide(t->rs, &tc->restart, failed, charged,
	    monotime_ms(), (uint32_t)random(), &delay)) {
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
	/* From now, not from when this turn of the loop began (reaping and
	 * symbolizing take a while): no earlier than the record says. */
	event_base_update_cache_time(sv->base);
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
	for (i = 0; i < l->ntasks; i++)
		if (l->tasks[i]->phase == SV_LIVE && l->tasks[i]->state <
		    TASK_DONE)
			sv_task_ended(l, i, 1, (int)i == running, why, NULL);
	if (sv->stopping || sv->nphase[SV_PENDING] + sv->nphase[SV_WAITING] ==
	    0)
		return;
	switch (restart_decide(&l->rs, &l->loop->restart, 1, 1, monotime_ms(),
	    (uint32_t)random(), &delay)) {
	case RESTART_YES:
		event_base_update_cache_time(sv->base);
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
	for (i = 0; i < l->ntasks; i++)
		if (l->tasks[i]->phase == SV_PENDING ||
		    l->tasks[i]->phase == SV_WAITING) {
			event_clear(&l->tasks[i]->timer);
			sv_task_set(l, i, SV_FAILED, TASK_FAILED);
		}
	if (sv->conf->on_exhausted == CONF_EXHAUSTED_EXIT) {
		sv->exhausted = 1;
		sv_stop(sv, 0);
	}
}

/* ---- plugin files ------------------------------------------------------------ */

/*
 * A .so appeared or was replaced (pluginwatch.c): the tasks waiting for it
 * start; the tasks running its old code are cancelled gracefully and start
 * again at once on the new one.  Tasks of other plugins are not touched.
 */
static void
sv_plugin_changed(void *ctx, const char *path)
{
	struct supervisor *sv = ctx;
	struct msg_out m = { 0 };
	struct sv_loop *l;
	struct sv_task *t;
	size_t i, j, bounced = 0;
	json_t *r;

	if (sv->stopping)
		return;
	sv->seen_path = NULL;
	for (i = 0; i < sv->nloops; i++) {
		l = sv->loops[i];
		for (j = 0; j < l->ntasks; j++) {
			t = l->tasks[j];
			if (strcmp(t->tc->plugin_path, path) != 0 ||
			    t->removing || l->removing)
				continue;
			if (t->phase == SV_NOPLUGIN) {
				sv_task_set(l, j, SV_PENDING, TASK_STARTING);
				if (l->proc.pid > 0 && l->broken == NULL)
					sv_start_task(l, j);
				else
					sv_launch(l);
			} else if (t->phase == SV_LIVE && t->state ==
			    TASK_RUNNING && l->proc.ipc != NULL) {
				t->bounce = 1;
				msg_begin(&m, MSG_STOP);
				msg_put_int(&m, (int64_t)j);
				if (!m.nomem)
					ipc_send(l->proc.ipc, m.p, m.len, 0);
				bounced++;
			}
		}
	}
	msg_out_free(&m);
	if (bounced == 0)
		return;
	r = log_record(LOOPD_LOG_INFO, "plugin file %s changed: restarting "
	    "the %zu task%s that run it", path, bounced, bounced == 1 ? "" :
	    "s");
	log_add(r, "event", "plugin_changed");
	log_add(r, "file", path);
	log_emit(r);
}

/* Watch the directory of every plugin file the configuration names (once
 * for a run of tasks in the same directory: each watch is a path lookup). */
static void
sv_watch_plugins(struct supervisor *sv)
{
	char dir[PATH_MAX], prev[PATH_MAX] = "", *slash;
	size_t i, j;

	if (!sv->conf->plugin_watch)
		return;
	if (sv->pw == NULL && (sv->pw = pluginwatch_new(sv->base,
	    sv_plugin_changed, sv)) == NULL) {
		log_emit(log_record(LOOPD_LOG_WARNING, "plugin files are not "
		    "watched: %s; a reload rescans them", strerror(errno)));
		return;
	}
	for (i = 0; i < sv->conf->nloops; i++)
		for (j = 0; j < sv->conf->loops[i].ntasks; j++) {
			snprintf(dir, sizeof dir, "%s",
			    sv->conf->loops[i].tasks[j].plugin_path);
			if ((slash = strrchr(dir, '/')) != NULL)
				*slash = '\0';
			else
				snprintf(dir, sizeof dir, ".");
			if (strcmp(dir, prev) == 0)
				continue;
			pluginwatch_add(sv->pw, dir);
			snprintf(prev, sizeof prev, "%s", dir);
		}
}

/* ---- config_watch --------------------------------------------------------------- */

/* Changes within this long of each other make one reload. */
#define SV_WATCH_DEBOUNCE_MS	200

/* Read the file again on the next turn: a burst of requests (SIGHUPs, a
 * change seen by the watch) is one reload. */
static void
sv_request_reload(struct supervisor *sv)
{
	struct timeval now = { 0, 0 };

	if (!evtimer_pending(sv->reload, NULL))
		evtimer_add(sv->reload, &now);
}

static void
sv_watch_fired(void *arg)
{
	sv_request_reload(arg);
}

/* The watch follows the configuration in force: started, moved to its
 * files and directories now, or stopped. */
static void
sv_watch_follow(struct supervisor *sv)
{
	const char *failed;
	json_t *r;

	if (!sv->conf->config_watch) {
		watch_free(sv->watch);
		sv->watch = NULL;
		return;
	}
	if (sv->watch == NULL && (sv->watch = watch_new(sv->base,
	    SV_WATCH_DEBOUNCE_MS, sv_watch_fired, sv)) == NULL)
		failed = "its files (inotify)";
	else if (watch_set(sv->watch, sv->conf, &failed) == 0)
		return;
	r = log_record(LOOPD_LOG_WARNING, "config_watch: cannot watch %s: %s; "
	    "a change there needs a reload (SIGHUP)", failed, strerror(errno));
	log_add(r, "event", "config_watch_failed");
	log_emit(r);
}

/* ---- reload ------------------------------------------------------------------- */

/*
 * SIGHUP (systemctl reload) reads the file again.  A file with problems
 * changes nothing: one reload_failed record lists them.  A valid one is
 * applied as a difference, task by task: a task whose plugin, plugin file,
 * restart policy and `config:` are the same is not touched (its slot now
 * points into the new file); a removed one is cancelled gracefully and its
 * slot retired; a new one gets a new slot and starts; a changed one is
 * cancelled, and its successor starts in a new slot once it has ended (so
 * that what it held, a port, is free).  A loop whose own settings changed
 * is restarted whole, gracefully; a removed loop is shut down; a new loop
 * is started.  Top-level settings apply at once.  SIGHUPs that come while
 * one is being read coalesce into one more.
 */

struct sv_diff {
	json_t		*added, *removed, *changed, *reconfigured,
			*loops_added, *loops_removed, *loops_restarted;
	size_t		 unchanged;
};

static int
restart_equal(const struct restart_conf *a, const struct restart_conf *b)
{
	return a->policy == b->policy && a->backoff_min_ms ==
	    b->backoff_min_ms && a->backoff_max_ms == b->backoff_max_ms &&
	    a->intensity == b->intensity && a->window_ms == b->window_ms;
}

/* The loop's own settings, the ones its worker is started with. */
static int
loop_settings_equal(const struct loop_conf *a, const struct loop_conf *b)
{
	return a->backend == b->backend && restart_equal(&a->restart,
	    &b->restart) && a->start_timeout_ms == b->start_timeout_ms &&
	    a->hang_timeout_ms == b->hang_timeout_ms &&
	    a->hang_action == b->hang_action &&
	    memcmp(&a->limits, &b->limits, sizeof a->limits) == 0 &&
	    a->sandbox.profile == b->sandbox.profile &&
	    a->sandbox.no_new_privs == b->sandbox.no_new_privs &&
	    a->executor.workers == b->executor.workers &&
	    a->executor.kind == b->executor.kind &&
	    a->executor.queue == b->executor.queue;
}

static int
task_equal(const struct task_conf *a, const struct task_conf *b)
{
	return strcmp(a->plugin, b->plugin) == 0 &&
	    strcmp(a->plugin_path, b->plugin_path) == 0 &&
	    restart_equal(&a->restart, &b->restart) &&
	    tree_equal(a->config, b->config);
}

static const struct loop_conf *
find_loop(const struct conf *conf, const char *name)
{
	size_t i;

	for (i = 0; i < conf->nloops; i++)
		if (strcmp(conf->loops[i].name, name) == 0)
			return &conf->loops[i];
	return NULL;
}

/* The live slot of l named name (not gone, not being removed), or -1. */
static int
sv_slot_named(const struct sv_loop *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->ntasks; i++)
		if (l->tasks[i]->phase != SV_GONE && !l->tasks[i]->removing &&
		    strcmp(l->tasks[i]->tc->name, name) == 0)
			return (int)i;
	return -1;
}

/* Stop slot i of l for good: cancelled if it runs, retired if not. */
static void
sv_slot_remove(struct sv_loop *l, size_t i)
{
	struct sv_task *t = l->tasks[i];
	struct msg_out m = { 0 };

	t->removing = 1;
	event_clear(&t->timer);
	if (t->phase != SV_LIVE || t->state >= TASK_DONE ||
	    l->proc.ipc == NULL) {
		sv_task_set(l, i, SV_GONE, TASK_DONE);
		return;
	}
	msg_begin(&m, MSG_STOP);
	msg_put_int(&m, (int64_t)i);
	if (!m.nomem)
		ipc_send(l->proc.ipc, m.p, m.len, 0);
	msg_out_free(&m);
}

/* A new slot for tc, told to the worker if it runs; started now unless
 * it waits for a predecessor.  Its index, or -1. */
static int
sv_slot_new(struct sv_loop *l, const struct task_conf *tc, int start)
{
	int slot = sv_slot_add(l, tc, l->sv->current);

	if (slot < 0)
		return -1;
	if (l->proc.ipc != NULL && !l->broken &&
	    msg_send_task((size_t)slot, tc, sv_send, l->proc.ipc) < 0)
		sv_break(l, "could not be sent a new task");
	else if (l->proc.ipc != NULL && !l->broken)
		sv_send_listen_fd(l, (size_t)slot);
	if (start && l->proc.pid > 0 && l->broken == NULL)
		sv_start_task(l, (size_t)slot);
	else if (start)
		sv_launch(l);
	return slot;
}

/* Slot i of l ended for good: its successor, if any, starts now. */
static void
sv_start_successor(struct sv_loop *l, struct sv_task *t)
{
	int next = t->successor;

	t->successor = -1;
	if (next < 0 || (size_t)next >= l->ntasks ||
	    l->tasks[next]->phase != SV_PENDING)
		return;
	if (l->proc.pid > 0 && l->broken == NULL)
		sv_start_task(l, (size_t)next);
	else
		sv_launch(l);
}

/*
 * Only task i's `config:` changed, and it runs: offer the new one in place
 * (a plugin with a reconfigure hook keeps its state and connections).
 * 1 when offered; the answer (sv_reconfigure_done) keeps it, or falls
 * back to a restart.
 */
static int
sv_offer_config(struct sv_loop *l, size_t i, const struct task_conf *tc)
{
	struct sv_task *t = l->tasks[i];

	if (strcmp(t->tc->plugin, tc->plugin) != 0 ||
	    strcmp(t->tc->plugin_path, tc->plugin_path) != 0 ||
	    !restart_equal(&t->tc->restart, &tc->restart) ||
	    t->phase != SV_LIVE || t->state != TASK_RUNNING ||
	    t->pending != NULL || l->proc.ipc == NULL || l->broken != NULL ||
	    msg_send_reconfigure(i, tc->config, sv_send, l->proc.ipc) < 0)
		return 0;
	t->pending = tc;
	t->pending_owner = sv_conf_ref(l->sv->current);
	return 1;
}

static void
sv_reconfigure_done(struct sv_loop *l, size_t i, int applied)
{
	struct sv_task *t = l->tasks[i];
	const struct task_conf *tc = t->pending;
	struct sv_conf *owner = t->pending_owner;
	int succ;

	t->pending = NULL;
	t->pending_owner = NULL;
	if (applied) {
		t->tc = tc;
		sv_conf_unref(t->owner);
		t->owner = owner;
		return;
	}
	/* Refused: as any changed task, stopped and started anew. */
	if ((succ = sv_slot_add(l, tc, owner)) >= 0 && l->proc.ipc != NULL &&
	    msg_send_task((size_t)succ, tc, sv_send, l->proc.ipc) < 0)
		sv_break(l, "could not be sent a new task");
	sv_conf_unref(owner);
	sv_slot_remove(l, i);
	l->tasks[i]->successor = succ;
	if (succ >= 0 && l->tasks[i]->phase == SV_GONE)
		sv_start_successor(l, l->tasks[i]);
}

/* The tasks of a loop whose settings did not change. */
static void
sv_reload_tasks(struct sv_loop *l, const struct loop_conf *nl,
    struct sv_diff *d)
{
	struct supervisor *sv = l->sv;
	const struct task_conf *tc;
	struct sv_task *t;
	size_t i, n = l->ntasks;
	int slot, succ;

	for (i = 0; i < n; i++) {
		t = l->tasks[i];
		if (t->phase == SV_GONE || t->removing)
			continue;
		for (tc = NULL, slot = 0; (size_t)slot < nl->ntasks; slot++)
			if (strcmp(nl->tasks[slot].name, t->tc->name) == 0) {
				tc = &nl->tasks[slot];
				break;
			}
		if (tc == NULL) {
			json_array_append_new(d->removed,
			    json_string(t->tc->name));
			sv_slot_remove(l, i);
		} else if (task_equal(t->tc, tc)) {
			/* Untouched: it points into the new file now. */
			t->tc = tc;
			sv_conf_unref(t->owner);
			t->owner = sv_conf_ref(sv->current);
			d->unchanged++;
		} else if (sv_offer_config(l, i, tc)) {
			json_array_append_new(d->reconfigured,
			    json_string(tc->name));
		} else {
			json_array_append_new(d->changed,
			    json_string(tc->name));
			succ = sv_slot_new(l, tc, 0);
			sv_slot_remove(l, i);
			if (succ >= 0 && l->tasks[i]->phase == SV_GONE) {
				/* Nothing to wait for. */
				t->successor = succ;
				sv_start_successor(l, l->tasks[i]);
			} else
				l->tasks[i]->successor = succ;
		}
	}
	l->loop = nl;
	sv_conf_unref(l->owner);
	l->owner = sv_conf_ref(sv->current);
	for (i = 0; i < nl->ntasks; i++)
		if (sv_slot_named(l, nl->tasks[i].name) < 0) {
			json_array_append_new(d->added,
			    json_string(nl->tasks[i].name));
			sv_slot_new(l, &nl->tasks[i], 1);
		}
}

/* Every task of l goes; the loop's worker is told to stop. */
static void
sv_loop_stop(struct sv_loop *l)
{
	struct msg_out m = { 0 };
	size_t i;

	for (i = 0; i < l->ntasks; i++) {
		l->tasks[i]->removing = 1;
		event_clear(&l->tasks[i]->timer);
		if (l->tasks[i]->phase != SV_LIVE)
			sv_task_set(l, i, SV_GONE, TASK_DONE);
	}
	evtimer_del(l->respawn);
	if (l->proc.ipc == NULL)
		return;
	msg_begin(&m, MSG_CANCEL);
	if (!m.nomem)
		ipc_send(l->proc.ipc, m.p, m.len, 0);
	msg_out_free(&m);
}

/* l's worker has gone after a reload stopped it: start it anew with the
 * loop's new settings and every task of its new configuration. */
static void
sv_loop_renew(struct sv_loop *l)
{
	const struct loop_conf *nl = l->next;
	size_t i;

	l->next = NULL;
	l->loop = nl;
	sv_conf_unref(l->owner);
	l->owner = l->next_owner;
	l->next_owner = NULL;
	restart_clear(&l->rs);
	l->gave_up = 0;
	for (i = 0; i < nl->ntasks; i++)
		sv_slot_add(l, &nl->tasks[i], l->owner);
	sv_launch(l);
}

static void
sv_reload_failed(struct conf_errors *errs, uint64_t t0)
{
	json_t *r, *list = json_array();
	char line[1024];
	size_t i;

	for (i = 0; i < errs->n; i++) {
		conf_error_format(&errs->v[i], line, sizeof line);
		json_array_append_new(list, log_string(line));
	}
	r = log_record(LOOPD_LOG_ERROR, "reload failed: %zu problem%s in %s; "
	    "still running the configuration it had", errs->n, errs->n == 1 ?
	    "" : "s", errs->file != NULL ? errs->file : "the file");
	log_add(r, "event", "reload_failed");
	log_add_int(r, "duration_ms", (long long)(monotime_ms() - t0));
	if (r != NULL)
		json_object_set_new(r, "errors", list);
	else
		json_decref(list);
	log_emit(r);
}

/* What a reload did, as the fields of its record (and of the answer to a
 * control client that waits for it).  New. */
static json_t *
sv_diff_json(const struct sv_diff *d)
{
	return json_pack("{s:O, s:O, s:O, s:O, s:I, s:O, s:O, s:O}",
	    "added", d->added, "removed", d->removed, "restarted", d->changed,
	    "reconfigured", d->reconfigured, "unchanged",
	    (json_int_t)d->unchanged, "loops_added", d->loops_added,
	    "loops_removed", d->loops_removed, "loops_restarted",
	    d->loops_restarted);
}

static void
sv_reload_report(struct supervisor *sv, struct sv_diff *d, uint64_t t0)
{
	json_t *r, *fields;

	r = log_record(LOOPD_LOG_INFO, "reloaded %s: %zu added, %zu removed, "
	    "%zu restarted, %zu reconfigured, %zu left alone", sv->conf->path,
	    json_array_size(d->added), json_array_size(d->removed),
	    json_array_size(d->changed), json_array_size(d->reconfigured),
	    d->unchanged);
	log_add(r, "event", "reload");
	if (r != NULL && (fields = sv_diff_json(d)) != NULL) {
		json_object_update(r, fields);
		json_decref(fields);
	}
	log_add_int(r, "duration_ms", (long long)(monotime_ms() - t0));
	log_emit(r);
}

static void
sv_reload(struct supervisor *sv)
{
	struct conf_errors errs = { 0 };
	struct sv_diff d = { 0 };
	const struct loop_conf *nl;
	struct sv_conf *old = sv->current;
	struct sv_loop *l;
	struct conf *conf;
	struct creds creds;
	uint64_t t0 = monotime_ms();
	size_t i, j, n;
	int recreds;

	notify_reloading();
	sv->seen_path = NULL;	/* it may point into the old file */
	conf = config_parse_file(sv->opts->path, sv->opts->plugin_dir,
	    sv->opts->default_plugin_dir, &errs);
	if (conf != NULL && sv_resolve_creds(sv, conf, &creds, &t0) < 0) {
		config_free(conf);
		notify_ready("reload failed; running as before");
		return;
	}
	/* Each task's config: against its plugin's settings (schema.h),
	 * read by children with no more rights than the workers. */
	if (conf != NULL && schema_check(conf, sv->exe, &creds, 0,
	    sv->opts->schema, &errs) < 0) {
		config_free(conf);
		conf = NULL;
	}
	if (conf == NULL) {
		sv_reload_failed(&errs, t0);
		sv_control_reloaded(sv, NULL, &errs);
		conf_errors_free(&errs);
		notify_ready("reload failed; running as before");
		return;
	}
	if ((sv->current = sv_conf_new(conf)) == NULL) {
		sv->current = old;
		config_free(conf);
		return;
	}
	sv->conf = conf;
	/* Other ids: every worker is started again, as the new user. */
	recreds = memcmp(&creds, &sv->creds, sizeof creds) != 0;
	sv->creds = creds;
	d.added = json_array();
	d.removed = json_array();
	d.changed = json_array();
	d.reconfigured = json_array();
	d.loops_added = json_array();
	d.loops_removed = json_array();
	d.loops_restarted = json_array();
	for (i = 0, n = sv->nloops; i < n; i++) {
		l = sv->loops[i];
		if (l->removing)
			continue;
		if ((nl = find_loop(conf, l->loop->name)) == NULL) {
			json_array_append_new(d.loops_removed,
			    json_string(l->loop->name));
			for (j = 0; j < l->ntasks; j++)
				if (l->tasks[j]->phase != SV_GONE &&
				    !l->tasks[j]->removing)
					json_array_append_new(d.removed,
					    json_string(l->tasks[j]->tc->name));
			l->removing = 1;
			sv_loop_stop(l);
		} else if (!loop_settings_equal(l->loop, nl) ||
		    l->next != NULL || recreds) {
			json_array_append_new(d.loops_restarted,
			    json_string(nl->name));
			sv_conf_unref(l->next_owner);
			l->next = nl;
			l->next_owner = sv_conf_ref(sv->current);
			sv_loop_stop(l);
			if (l->proc.pid <= 0)
				sv_loop_renew(l);
		} else
			sv_reload_tasks(l, nl, &d);
	}
	for (i = 0; i < conf->nloops; i++) {
		for (j = 0; j < n; j++)
			if (!sv->loops[j]->removing && strcmp(
			    sv->loops[j]->loop->name, conf->loops[i].name) == 0)
				break;
		if (j < n)
			continue;
		json_array_append_new(d.loops_added,
		    json_string(conf->loops[i].name));
		if ((l = sv_loop_add(sv, &conf->loops[i], sv->current)) == NULL)
			continue;
		for (j = 0; j < conf->loops[i].ntasks; j++) {
			json_array_append_new(d.added,
			    json_string(conf->loops[i].tasks[j].name));
			sv_slot_add(l, &conf->loops[i].tasks[j], sv->current);
		}
		sv_launch(l);
	}
	/* What waited for a plugin file looks again; the watch follows. */
	for (i = 0; i < sv->nloops; i++)
		for (j = 0; j < sv->loops[i]->ntasks; j++)
			if (sv->loops[i]->tasks[j]->phase == SV_NOPLUGIN)
				sv_start_task(sv->loops[i], j);
	sv_watch_plugins(sv);
	listeners_prune(sv->listeners, sv_listener_kept, sv);
	sv_reload_report(sv, &d, t0);
	sv_control_reloaded(sv, &d, NULL);
	/* The report is written at the level the operator had asked for. */
	log_set_level(conf->log_level);
	log_set_format(conf->log_format == CONF_LOG_TEXT ? LOG_FORMAT_TEXT :
	    LOG_FORMAT_JSON);
	json_decref(d.added);
	json_decref(d.removed);
	json_decref(d.changed);
	json_decref(d.reconfigured);
	json_decref(d.loops_added);
	json_decref(d.loops_removed);
	json_decref(d.loops_restarted);
	sv_conf_unref(old);
	notify_ready("reloaded");
	sv_status_due(sv);
	sv_watch_follow(sv);
}

static void
sv_reload_cb(evutil_socket_t fd, short what, void *arg)
{
	struct supervisor *sv = arg;

	if (!sv->stopping)
		sv_reload(sv);
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
		l = sv->loops[i];
		if (l->proc.pid <= 0)
			continue;
		for (j = 0; j < l->ntasks; j++) {
			if (l->tasks[j]->phase != SV_LIVE ||
			    l->tasks[j]->state >= TASK_DONE)
				continue;
			r = sv_record(l, LOOPD_LOG_WARNING, "task '%s' did "
			    "not finish within the grace period; killing it",
			    l->tasks[j]->tc->name);
			sv_add_task(r, l->tasks[j]->tc);
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
		evtimer_del(sv->loops[i]->respawn);
		for (j = 0; j < sv->loops[i]->ntasks; j++) {
			struct sv_task *t = sv->loops[i]->tasks[j];

			event_clear(&t->timer);
			if (t->phase == SV_WAITING || t->phase == SV_PENDING)
				sv_task_set(sv->loops[i], j, SV_ENDED,
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
		if (sv->loops[i]->proc.ipc != NULL && !m.nomem)
			ipc_send(sv->loops[i]->proc.ipc, m.p, m.len, 0);
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

	switch (sig) {
	case SIGCHLD:
		sv_reap(sv);
		break;
	case SIGHUP:
		sv_request_reload(sv);
		break;
	case SIGUSR1:
		log_reopen();	/* logs its own failure */
		break;
	default:
		sv_stop(sv, sig);
		break;
	}
}

/* ---- queries and commands for the control socket and the metrics endpoint */

/*
 * What control.c and metrics.c ask: a status snapshot (with what /proc says
 * of each worker at that moment), the health verdict, and the operator's
 * stop, start and restart of a task or a loop.  A task the operator stopped
 * is held down (t->held): its end is not restarted, until a start.
 */
enum {
	SV_HELD_NO,
	SV_HELD_STOP,		/* stays ended */
	SV_HELD_RESTART,	/* starts again once it has ended */
};

/* Distinct error types counted per task; more are counted as "other". */
#define SV_ERROR_TYPES_MAX	16

/* An error of task slot (or of no task: -1) of l, by type. */
static void
sv_count_error(struct sv_loop *l, int slot, const char *type)
{
	json_t **o = slot >= 0 && (size_t)slot < l->ntasks ?
	    &l->tasks[slot]->errors : &l->errors;
	json_t *n;

	if (*o == NULL && (*o = json_object()) == NULL)
		return;
	if ((n = json_object_get(*o, type)) == NULL &&
	    json_object_size(*o) >= SV_ERROR_TYPES_MAX - 1)
		n = json_object_get(*o, type = "other");
	json_object_set_new(*o, type, json_integer(n != NULL ?
	    json_integer_value(n) + 1 : 1));
}

/* The word status and metrics use for a task's state. */
static const char *
sv_task_word(const struct sv_task *t)
{
	switch (t->phase) {
	case SV_LIVE:
		return t->state == TASK_DONE ? "ended" : task_state_name(
		    (enum task_state)t->state);
	case SV_PENDING:
	case SV_WAITING:
		return t->held == SV_HELD_STOP ? "stopped" : "restarting";
	case SV_FAILED:
		return "failed";
	case SV_ENDED:
		return t->held == SV_HELD_STOP ? "stopped" : "ended";
	default:
		return "gone";
	}
}

/* Is l's loop stuck now: its beats older than its timeout? */
static int
sv_loop_stuck(struct sv_loop *l, int *running)
{
	uint64_t beat, now = monotime_ms(), limit;

	*running = -1;
	if (l->proc.pid <= 0 || l->broken != NULL)
		return 0;
	*running = proc_running(&l->proc);
	if (*running < 0 || (size_t)*running >= l->ntasks)
		*running = -1;
	if (l->hung)
		return 1;
	if ((beat = proc_beat(&l->proc)) == 0 || now < beat)
		return 0;
	limit = *running >= 0 && l->tasks[*running]->phase == SV_LIVE &&
	    l->tasks[*running]->state == TASK_STARTING ?
	    l->loop->start_timeout_ms : l->loop->hang_timeout_ms;
	return now - beat > limit;
}

/* The worker's resident size in bytes, or -1. */
static long long
sv_rss(const struct sv_loop *l)
{
	unsigned long long size, rss;
	char path[64];
	FILE *f;
	int n;

	snprintf(path, sizeof path, "/proc/%d/statm", (int)l->proc.pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	n = fscanf(f, "%llu %llu", &size, &rss);
	fclose(f);
	return n == 2 ? (long long)(rss * (uint64_t)sysconf(_SC_PAGESIZE)) :
	    -1;
}

static json_t *
sv_status_task(const struct sv_task *t, uint64_t now)
{
	const char *word = sv_task_word(t);

	return json_pack("{s:s, s:s, s:s, s:i, s:o, s:O?}",
	    "name", t->tc->name, "plugin", t->tc->plugin, "state", word,
	    "restarts", (json_int_t)(t->rs != NULL ? t->rs->total : 0),
	    "uptime_s", strcmp(word, "running") == 0 ? json_real(
	    (double)(now - t->up_ms) / 1000.0) : json_null(),
	    "errors", t->errors);
}

/* The worker's runtime statistics (wstats.h), claims clamped: a new
 * object, or NULL when no worker runs. */
static json_t *
sv_status_stats(const struct sv_loop *l, struct wstats_snap *ws)
{
	json_t *le;
	unsigned i;

	if (proc_stats(&l->proc, ws) < 0 || (le = json_array()) == NULL)
		return NULL;
	for (i = 0; i < WSTATS_LAG_BUCKETS; i++)
		json_array_append_new(le, json_integer((json_int_t)
		    ws->lag_le[i]));
	return json_pack("{s:o, s:I, s:f, s:f, s:I, s:I, s:{s:I, s:I, s:I, "
	    "s:I, s:I}}", "lag_le", le, "lag_count", (json_int_t)ws->lag_count,
	    "lag_sum_s", (double)ws->lag_sum_us / 1e6,
	    "lag_max_s", (double)ws->lag_max_us / 1e6,
	    "callbacks", (json_int_t)ws->callbacks,
	    "slow_callbacks", (json_int_t)ws->slow_callbacks, "executor",
	    "queue_depth", (json_int_t)ws->exec_depth,
	    "active_jobs", (json_int_t)ws->exec_active,
	    "completed", (json_int_t)ws->exec_completed,
	    "rejected", (json_int_t)ws->exec_rejected,
	    "timed_out", (json_int_t)ws->exec_timed_out);
}

static json_t *
sv_status_loop(struct sv_loop *l, uint64_t now)
{
	struct wstats_snap ws;
	json_t *stats = sv_status_stats(l, &ws);
	json_t *o, *tasks = json_array();
	int running, stuck = sv_loop_stuck(l, &running);
	long fds = l->proc.pid > 0 ? sv_count_fds(l) : -1;
	long long rss = l->proc.pid > 0 ? sv_rss(l) : -1;
	size_t i;

	for (i = 0; i < l->ntasks; i++)
		if (l->tasks[i]->phase != SV_GONE)
			json_array_append_new(tasks, sv_status_task(
			    l->tasks[i], now));
	/* Lag and the executor's queue as the worker claims them; null
	 * when no worker runs. */
	o = json_pack("{s:s, s:o, s:s, s:o, s:i, s:b, s:o, s:o, s:o, s:o, "
	    "s:o, s:O?, s:o}", "name", l->loop->name,
	    "pid", l->proc.pid > 0 ? json_integer(l->proc.pid) : json_null(),
	    "state", l->proc.pid > 0 ? (stuck ? "hung" : "running") :
	    l->gave_up ? "failed" : evtimer_pending(l->respawn, NULL) ?
	    "restarting" : "stopped",
	    "uptime_s", l->proc.pid > 0 ? json_real((double)(now -
	    l->spawned_ms) / 1000.0) : json_null(),
	    "restarts", (json_int_t)l->rs.total, "hung", stuck,
	    "rss_bytes", rss >= 0 ? json_integer(rss) : json_null(),
	    "open_fds", fds >= 0 ? json_integer(fds) : json_null(),
	    "lag_p99_ms", stats != NULL ? json_real((double)
	    wstats_lag_quantile(&ws, 0.99) / 1000.0) : json_null(),
	    "executor_queue", stats != NULL ? json_integer((json_int_t)
	    ws.exec_depth) : json_null(),
	    "stats", stats != NULL ? stats : json_null(),
	    "errors", l->errors, "tasks", tasks);
	if (o != NULL && stuck && running >= 0)
		json_object_set_new(o, "hung_task",
		    json_string(l->tasks[running]->tc->name));
	return o;
}

json_t *
supervisor_status(struct supervisor *sv)
{
	json_t *loops = json_array();
	uint64_t now = monotime_ms();
	size_t i;

	for (i = 0; i < sv->nloops; i++)
		if (!sv->loops[i]->removing)
			json_array_append_new(loops, sv_status_loop(
			    sv->loops[i], now));
	return json_pack("{s:s, s:i, s:s, s:b, s:b, s:I, s:o}",
	    "version", LOOPD_VERSION, "pid", (int)getpid(),
	    "config", sv->conf->path, "ready", sv->ready,
	    "stopping", sv->stopping,
	    "log_dropped", (json_int_t)log_dropped_total(), "loops", loops);
}

json_t *
supervisor_plugin_metrics(struct supervisor *sv)
{
	const struct pmetric_decl *d;
	const struct task_conf *tc;
	json_t *a = json_array();
	struct sv_loop *l;
	int64_t v;
	size_t i, j;

	for (i = 0; i < sv->nloops; i++) {
		l = sv->loops[i];
		if (l->removing || l->proc.pid <= 0)
			continue;
		for (j = 0; (d = pmetric_table_get(l->proc.metrics, j, &v)) !=
		    NULL; j++) {
			tc = l->tasks[d->task]->tc;
			json_array_append_new(a, json_pack("{s:s, s:s, s:s, "
			    "s:s, s:s, s:s, s:I}", "loop", l->loop->name,
			    "task", tc->name, "plugin", tc->plugin,
			    "name", d->name, "kind", d->kind ==
			    PMETRIC_COUNTER ? "counter" : "gauge",
			    "help", d->help, "value", (json_int_t)v));
		}
	}
	return a;
}

static void
sv_problem(json_t *a, const struct sv_loop *l, const struct sv_task *t,
    const char *what)
{
	json_array_append_new(a, json_pack("{s:s, s:s?, s:s}", "loop",
	    l->loop->name, "task", t != NULL ? t->tc->name : NULL, "problem",
	    what));
}

json_t *
supervisor_health(struct supervisor *sv)
{
	json_t *a = json_array();
	struct sv_loop *l;
	struct sv_task *t;
	size_t i, j;
	int running;

	for (i = 0; i < sv->nloops; i++) {
		l = sv->loops[i];
		if (l->removing)
			continue;
		if (sv_loop_stuck(l, &running))
			sv_problem(a, l, running >= 0 ? l->tasks[running] :
			    NULL, "hung");
		else if (l->proc.pid <= 0 && evtimer_pending(l->respawn,
		    NULL))
			sv_problem(a, l, NULL, "restarting");
		for (j = 0; j < l->ntasks; j++) {
			t = l->tasks[j];
			if (t->held == SV_HELD_STOP)
				continue;
			if (t->phase == SV_FAILED || (t->phase == SV_LIVE &&
			    t->state == TASK_FAILED))
				sv_problem(a, l, t, "failed");
			else if (t->phase == SV_WAITING ||
			    (t->phase == SV_PENDING && sv->ready))
				sv_problem(a, l, t, "restarting");
		}
	}
	return a;
}

/* The operator's stop or restart has ended task i. */
static void
sv_held_ended(struct sv_loop *l, size_t i, int failed)
{
	struct sv_task *t = l->tasks[i];

	if (t->held == SV_HELD_STOP) {
		/* Stopped by the operator: its clients are refused, not left
		 * waiting in a backlog nobody reads. */
		listeners_settle(l->sv->listeners, l->loop->name, t->tc->name,
		    UINT64_MAX);
		sv_task_set(l, i, SV_ENDED, failed ? TASK_FAILED : TASK_DONE);
		return;
	}
	t->held = SV_HELD_NO;
	if (l->proc.pid > 0 && l->broken == NULL)
		sv_start_task(l, i);
	else
		sv_task_set(l, i, SV_PENDING, TASK_STARTING);
}

/* Task i, ended or waiting, starts now (or with its worker). */
static void
sv_op_start(struct sv_loop *l, size_t i)
{
	struct sv_task *t = l->tasks[i];

	t->held = SV_HELD_NO;
	if (t->phase == SV_LIVE)
		return;		/* running, or on its way */
	event_clear(&t->timer);
	if (l->proc.pid > 0 && l->broken == NULL) {
		sv_start_task(l, i);
		return;
	}
	sv_task_set(l, i, SV_PENDING, TASK_STARTING);
	l->gave_up = 0;
	if (!evtimer_pending(l->respawn, NULL))
		sv_launch(l);
}

/* Task i is cancelled and held down; with restart, it starts again once
 * it has ended. */
static void
sv_op_stop(struct sv_loop *l, size_t i, int restart)
{
	struct sv_task *t = l->tasks[i];
	struct msg_out m = { 0 };

	if (t->phase != SV_LIVE || t->state >= TASK_DONE) {
		if (restart)
			sv_op_start(l, i);
		else if (t->phase != SV_FAILED && t->phase != SV_ENDED) {
			event_clear(&t->timer);
			t->held = SV_HELD_STOP;
			sv_task_set(l, i, SV_ENDED, TASK_DONE);
		} else
			t->held = SV_HELD_STOP;
		return;
	}
	t->held = restart ? SV_HELD_RESTART : SV_HELD_STOP;
	if (l->proc.ipc == NULL)
		return;		/* its worker's death ends it */
	msg_begin(&m, MSG_STOP);
	msg_put_int(&m, (int64_t)i);
	if (!m.nomem)
		ipc_send(l->proc.ipc, m.p, m.len, 0);
	msg_out_free(&m);
}

static struct sv_loop *
sv_loop_named(struct supervisor *sv, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sv->nloops; i++)
		if (!sv->loops[i]->removing &&
		    strlen(sv->loops[i]->loop->name) == len &&
		    strncmp(sv->loops[i]->loop->name, name, len) == 0)
			return sv->loops[i];
	return NULL;
}

int
supervisor_command(struct supervisor *sv, const char *verb,
    const char *target, char *msg, size_t len)
{
	const char *slash = strchr(target, '/');
	struct sv_loop *l;
	size_t i, n = 0;
	int running, slot = -1, op;
	json_t *r;

	op = strcmp(verb, "stop") == 0 ? 0 : strcmp(verb, "start") == 0 ? 1 :
	    strcmp(verb, "restart") == 0 ? 2 : -1;
	if (op < 0) {
		snprintf(msg, len, "unknown command '%s'", verb);
		return -1;
	}
	if (sv->stopping) {
		snprintf(msg, len, "loopd is shutting down");
		return -1;
	}
	if ((l = sv_loop_named(sv, target, slash != NULL ?
	    (size_t)(slash - target) : strlen(target))) == NULL) {
		snprintf(msg, len, "no loop named '%.*s'", slash != NULL ?
		    (int)(slash - target) : (int)strlen(target), target);
		return -1;
	}
	if (slash != NULL && (slot = sv_slot_named(l, slash + 1)) < 0) {
		snprintf(msg, len, "loop '%s' has no task named '%s'",
		    l->loop->name, slash + 1);
		return -1;
	}
	/* A stuck loop cannot cancel anything: its worker goes, and comes
	 * back under the restart policy, as with hang_action: restart. */
	if (op == 2 && slot < 0 && sv_loop_stuck(l, &running) && !l->hung) {
		log_emit(sv_record(l, LOOPD_LOG_WARNING, "loop '%s' is stuck: "
		    "killing its worker to restart it, as asked",
		    l->loop->name));
		l->hang_task = running;
		l->hung = 1;
		proc_kill(&l->proc);
		snprintf(msg, len, "loop '%s' was stuck: its worker was killed "
		    "and restarts", l->loop->name);
		return 0;
	}
	for (i = 0; i < l->ntasks; i++) {
		if ((slot >= 0 && i != (size_t)slot) ||
		    l->tasks[i]->phase == SV_GONE || l->tasks[i]->removing)
			continue;
		if (op == 1)
			sv_op_start(l, i);
		else
			sv_op_stop(l, i, op == 2);
		n++;
	}
	snprintf(msg, len, "%s: %s %zu task%s", target, op == 0 ?
	    "stopping" : op == 1 ? "starting" : "restarting", n, n == 1 ? "" :
	    "s");
	r = log_record(LOOPD_LOG_INFO, "control: %s %s", verb, target);
	log_add(r, "event", "control");
	log_add(r, "loop", l->loop->name);
	log_emit(r);
	return 0;
}

int
supervisor_reload(struct supervisor *sv)
{
	struct timeval now = { 0, 0 };

	if (sv->stopping)
		return -1;
	if (!evtimer_pending(sv->reload, NULL))
		evtimer_add(sv->reload, &now);
	return 0;
}

/*
 * Socket activation: the listening socket a task's `config:` names
 * (`listen_fd: NAME`) goes to its worker with a MSG_FD, after the task's
 * configuration and before its start, each time a worker is started.
 */
static void
sv_send_listen_fd(struct sv_loop *l, size_t i)
{
	const struct task_conf *tc = l->tasks[i]->tc;
	const struct conf_node *n = tree_map_get(tc->config, "listen_fd");
	struct msg_out m = { 0 };
	json_t *r;
	int fd;

	if (n == NULL || n->kind != CONF_SCALAR || n->value == NULL)
		return;
	if ((fd = listenfd_find(&l->sv->lfds, n->value)) < 0) {
		r = sv_record(l, LOOPD_LOG_WARNING, "task '%s': no socket named "
		    "'%s' was passed to loopd (%zu were; socket activation "
		    "names them with FileDescriptorName=)", tc->name, n->value,
		    l->sv->lfds.n);
		sv_add_task(r, tc);
		log_add(r, "event", "listen_fd");
		log_emit(r);
		return;
	}
	msg_begin(&m, MSG_FD);
	msg_put_int(&m, (int64_t)i);
	msg_put_str(&m, n->value, 0);
	if (m.nomem || ipc_send_fd(l->proc.ipc, m.p, m.len, fd) < 0)
		log_emit(sv_record(l, LOOPD_LOG_WARNING, "task '%s': cannot "
		    "pass it socket '%s'", tc->name, n->value));
	msg_out_free(&m);
}

/* A reload's outcome, for whoever waits for it on the control socket. */
static void
sv_control_reloaded(struct supervisor *sv, struct sv_diff *d,
    const struct conf_errors *errs)
{
	json_t *o, *list;
	char line[1024];
	size_t i;

	if (sv->control == NULL)
		return;
	if (d == NULL) {
		list = json_array();
		for (i = 0; i < errs->n; i++) {
			conf_error_format(&errs->v[i], line, sizeof line);
			json_array_append_new(list, log_string(line));
		}
		o = json_pack("{s:b, s:s?, s:o}", "ok", 0, "file", errs->file,
		    "errors", list);
	} else if ((o = sv_diff_json(d)) != NULL) {
		json_object_set_new(o, "ok", json_true());
		json_object_set_new(o, "file", json_string(sv->conf->path));
	}
	control_reloaded(sv->control, o);
	json_decref(o);
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

/*
 * conf's `user:` looked up into *c: its state (creds.h), or -1 once
 * logged: as a reload_failed record when t0 is given (a reload), else as
 * an error (start-up; main() checked it already, so this is a race with
 * a change of /etc/passwd).
 */
static int
sv_resolve_creds(struct supervisor *sv, const struct conf *conf,
    struct creds *c, const uint64_t *t0)
{
	struct conf_error e = { conf->user_mark, NULL };
	struct conf_errors errs = { &e, 1, conf->path, NULL, 0 };
	char msg[256], line[512];
	int state;

	if ((state = creds_resolve(conf, c, msg, sizeof msg)) >= 0)
		return state;
	e.msg = msg;
	if (t0 != NULL) {
		sv_reload_failed(&errs, *t0);
		sv_control_reloaded(sv, NULL, &errs);
		return -1;
	}
	conf_error_format(&e, line, sizeof line);
	log_emit(log_record(LOOPD_LOG_ERROR, "%s", line));
	return -1;
}

/* Whom the workers run as, said once at start. */
static void
sv_say_creds(const struct supervisor *sv)
{
	const struct conf *conf = sv->conf;
	json_t *r;

	if (sv->creds.set)
		r = log_record(LOOPD_LOG_INFO, "workers run as user %s (uid "
		    "%u, gid %u)", conf->user, (unsigned)sv->creds.uid,
		    (unsigned)sv->creds.gid);
	else if (conf->user != NULL)
		r = log_record(LOOPD_LOG_WARNING, "user: %s is not applied: "
		    "loopd does not run as root (uid %u), so the workers run "
		    "as its own user", conf->user, (unsigned)geteuid());
	else if (geteuid() == 0)
		r = log_record(LOOPD_LOG_WARNING, "loopd runs as root and the "
		    "configuration has no `user:`: plugins run as root; set "
		    "`user:` to run the workers as an unprivileged user");
	else
		return;
	log_add(r, "event", "workers_user");
	log_emit(r);
}

static int
sv_init(struct supervisor *sv, struct conf *conf,
    const struct supervisor_opts *opts, const char *exe)
{
	size_t i, j;
	struct sv_loop *l;

	memset(sv, 0, sizeof *sv);
	sv->opts = opts;
	sv->exe = exe;
	if (listenfd_take(&sv->lfds) < 0)
		return -1;
	if ((sv->base = event_base_new()) == NULL)
		return -1;
	if ((sv->current = sv_conf_new(conf)) == NULL) {
		config_free(conf);
		return -1;
	}
	sv->conf = conf;
	if (sv_resolve_creds(sv, conf, &sv->creds, NULL) < 0)
		return -1;
	for (i = 0; i < sizeof handled_signals / sizeof handled_signals[0];
	    i++) {
		sv->sig[i] = evsignal_new(sv->base, handled_signals[i],
		    sv_signal_cb, sv);
		if (sv->sig[i] == NULL || evsignal_add(sv->sig[i], NULL) < 0)
			return -1;
	}
	if ((sv->grace = evtimer_new(sv->base, sv_grace_cb, sv)) == NULL ||
	    (sv->status = evtimer_new(sv->base, sv_status_cb, sv)) == NULL ||
	    (sv->reload = evtimer_new(sv->base, sv_reload_cb, sv)) == NULL)
		return -1;
	for (i = 0; i < conf->nloops; i++) {
		if ((l = sv_loop_add(sv, &conf->loops[i], sv->current)) == NULL)
			return -1;
		for (j = 0; j < conf->loops[i].ntasks; j++)
			if (sv_slot_add(l, &conf->loops[i].tasks[j],
			    sv->current) < 0)
				return -1;
	}
	if (sv_watchdog_start(sv) < 0 ||
	    (sv->listeners = listeners_new()) == NULL)
		return -1;
	sv_watch_plugins(sv);
	log_attach(sv->base);
	sv_watch_follow(sv);
	if (control_open(&sv->control, sv->base, conf, sv) < 0 ||
	    (conf->metrics_host != NULL && (sv->metrics = metrics_open(
	    sv->base, conf->metrics_host, conf->metrics_port, sv)) == NULL))
		return -1;
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
	struct sv_version *k;
	size_t i;

	sv_block_signals();
	control_free(sv->control);
	metrics_free(sv->metrics);
	listenfd_free(&sv->lfds);
	for (i = 0; i < sv->nloops; i++)
		sv_loop_free(sv->loops[i]);
	free(sv->loops);
	while ((k = sv->versions) != NULL) {
		sv->versions = k->next;
		free(k);
	}
	for (i = 0; i < sizeof sv->sig / sizeof sv->sig[0]; i++)
		event_clear(&sv->sig[i]);
	event_clear(&sv->grace);
	event_clear(&sv->status);
	event_clear(&sv->reload);
	watch_free(sv->watch);
	event_clear(&sv->watchdog);
	pluginwatch_free(sv->pw);
	listeners_free(sv->listeners);
	if (sv->current != NULL)
		sv_conf_unref(sv->current);
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
supervisor_run(struct conf *conf, const struct supervisor_opts *opts,
    const char *exe)
{
	struct supervisor sv;
	json_t *r;
	size_t i;
	int status;

	if (sv_init(&sv, conf, opts, exe) < 0) {
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
	sv_say_creds(&sv);
	notify_status("starting %zu loops", conf->nloops);
	srandom((unsigned)getpid() ^ (unsigned)monotime_ms());
	for (i = 0; i < sv.nloops; i++)
		sv_launch(sv.loops[i]);
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
