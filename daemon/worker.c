/*
 * worker.c: one loop's process.
 *
 * The worker is exec'ed by the supervisor with its channel and crash page
 * in place (proc.h).  It reads its loop's configuration from the channel,
 * builds its event_base on the configured backend, starts its tasks, and
 * reports to the supervisor: task states and log records.  It obeys
 * "cancel" (run every task's cancel hook, then exit once every task has
 * ended).  It exits at once if the supervisor goes away.  It loads plugin
 * code; the supervisor never does.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#include "crash.h"
#include "debug.h"
#include "creds.h"
#include "executor.h"
#include "ipc.h"
#include "lag.h"
#include "log.h"
#include "monotime.h"
#include "msg.h"
#include "pmetric.h"
#include "post.h"
#include "proc.h"
#include "symbolize.h"
#include "sandbox.h"
#include "task.h"
#include "worker.h"
#include "wstats.h"

/* The supervisor is trusted: its configuration frames may be large. */
#define WORKER_FRAME_MAX	(256 * 1024 * 1024)

struct worker {
	struct conf		*conf;		/* this loop's, from the channel */
	const struct loop_conf	*loop;
	struct event_base	*base;
	struct ipc		*ipc;
	struct task_host	 host;
	struct loopd_task	**tasks;
	size_t			 ntasks;
	size_t			 nlive;		/* tasks not done or failed */
	size_t			 nstarts;	/* task starts so far */
	struct loopd_task	**retired;	/* ended, restarted since */
	size_t			 nretired, retiredcap;
	uint32_t		*names;		/* task name -> index + 1 */
	size_t			 nameslots;	/* a power of two */
	struct msg_out		 out;		/* reused for every message */
	struct crash_page	*page;		/* shared with the supervisor */
	struct event		*beat;		/* the loop's heartbeat */
	uint64_t		 beat_ns;	/* its period */
	uint64_t		 beat_due_ns;	/* when it should fire next */
	struct lag		 lag;		/* how late it fired */
	struct debug_watch	*watch;		/* debug mode */
	int			 cancelling;
	struct worker_lfd {			/* socket activation's fds */
		size_t		 slot;
		char		*name;
		int		 fd;
	}			*lfds;
	size_t			 nlfds;
};

static const char *const backends[] = { "epoll", "poll", "select" };

/* A base on exactly the configured backend, or NULL. */
static struct event_base *
worker_base(enum conf_backend backend, int precise)
{
	struct event_config *cfg;
	struct event_base *base;
	const char *want = config_backend_name(backend);
	size_t i;

	if ((cfg = event_config_new()) == NULL)
		return NULL;
	/* The configuration decides, not EVENT_NOEPOLL or
	 * EVENT_PRECISE_TIMER in the environment: the loop's timer queue
	 * (timerq.h) must read the clock its base reads. */
	event_config_set_flag(cfg, EVENT_BASE_FLAG_IGNORE_ENV);
	if (precise)
		event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	if (backend != CONF_BACKEND_AUTO)
		for (i = 0; i < sizeof backends / sizeof backends[0]; i++)
			if (strcmp(backends[i], want) != 0)
				event_config_avoid_method(cfg, backends[i]);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (base != NULL && backend != CONF_BACKEND_AUTO &&
	    strcmp(event_base_get_method(base), want) != 0) {
		event_base_free(base);
		return NULL;
	}
	return base;
}

/* ---- task names, for log records that name their task ------------------- */

static uint32_t
name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int
worker_index_names(struct worker *w)
{
	size_t i, slot, mask;

	free(w->names);
	for (w->nameslots = 16; w->nameslots < w->ntasks * 2;)
		w->nameslots *= 2;
	if ((w->names = calloc(w->nameslots, sizeof *w->names)) == NULL)
		return -1;
	mask = w->nameslots - 1;
	/* The newest slot of a name first: a reload that changes a task
	 * starts it anew in a new slot, while the old one may still log. */
	for (i = w->ntasks; i-- > 0;) {
		if (w->loop->tasks[i].name == NULL)
			continue;	/* a slot no longer used */
		slot = name_hash(w->loop->tasks[i].name) & mask;
		while (w->names[slot] != 0)
			slot = (slot + 1) & mask;
		w->names[slot] = (uint32_t)i + 1;
	}
	return 0;
}

static int64_t
worker_task_index(const struct worker *w, const char *name)
{
	size_t slot, mask = w->nameslots - 1;
	uint32_t v;

	if (w->names == NULL)
		return -1;
	for (slot = name_hash(name) & mask; (v = w->names[slot]) != 0;
	    slot = (slot + 1) & mask)
		if (strcmp(w->loop->tasks[v - 1].name, name) == 0)
			return v - 1;
	return -1;
}

/* ---- reports to the supervisor ------------------------------------------- */

static int
level_of(const char *name)
{
	int i;

	for (i = LOOPD_LOG_DEBUG; i < LOOPD_LOG_ERROR; i++)
		if (strcmp(name, log_level_name(i)) == 0)
			return i;
	return LOOPD_LOG_ERROR;
}

/* The worker's drops, said once the channel has room again. */
static void
worker_report_drops(struct worker *w)
{
	size_t n = ipc_take_dropped(w->ipc);

	if (n == 0)
		return;
	msg_begin(&w->out, MSG_DROPPED);
	msg_put_int(&w->out, (int64_t)n);
	/* Not droppable: a lost count would make the accounting wrong. */
	if (!w->out.nomem)
		ipc_send(w->ipc, w->out.p, w->out.len, 0);
}

/* Fields the supervisor stamps itself, or that travel apart. */
static int
worker_key_stamped(const char *key)
{
	static const char *const keys[] = {
		"ts", "level", "msg", "pid", "loop", "task", "plugin",
	};
	size_t i;

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strcmp(key, keys[i]) == 0)
			return 1;
	return 0;
}

/*
 * A record becomes MSG_LOG: level, ts, msg, the task's index, then the
 * other fields.  pid, loop and plugin are left out: the supervisor knows
 * them better.
 */
static void
worker_log_sink(void *ctx, json_t *r)
{
	struct worker *w = ctx;
	const char *key, *task;
	size_t nextra = 0;
	json_t *v;
	char *text;

	if (ipc_queued(w->ipc) <= IPC_QUEUE_MAX)
		worker_report_drops(w);
	task = json_string_value(json_object_get(r, "task"));
	msg_begin(&w->out, MSG_LOG);
	msg_put_int(&w->out, level_of(json_string_value(
	    json_object_get(r, "level"))));
	msg_put_str(&w->out, json_string_value(json_object_get(r, "ts")), 0);
	msg_put_str(&w->out, json_string_value(json_object_get(r, "msg")),
	    MSG_STRING_MAX);
	msg_put_int(&w->out, task != NULL ? worker_task_index(w, task) : -1);
	json_object_foreach(r, key, v)
		if (!worker_key_stamped(key))
			nextra++;
	msg_put_int(&w->out, (int64_t)nextra);
	json_object_foreach(r, key, v) {
		if (worker_key_stamped(key))
			continue;
		msg_put_str(&w->out, key, MSG_STRING_MAX);
		if (json_is_integer(v)) {
			msg_put_int(&w->out, 0);
			msg_put_int(&w->out, json_integer_value(v));
		} else if (json_is_string(v)) {
			msg_put_int(&w->out, 1);
			msg_put_str(&w->out, json_string_value(v),
			    MSG_STRING_MAX);
		} else {
			text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			msg_put_int(&w->out, 1);
			msg_put_str(&w->out, text ? text : "?", MSG_STRING_MAX);
			free(text);
		}
	}
	/* When the channel is full this is dropped and counted by the ipc,
	 * and the count is said once there is room. */
	if (!w->out.nomem)
		ipc_send(w->ipc, w->out.p, w->out.len, 1);
}

/* A message of the API's (a metric's declaration), never dropped. */
static int
worker_send(void *ctx, const void *msg, size_t len)
{
	struct worker *w = ctx;

	return ipc_send(w->ipc, msg, len, 0);
}

static void
worker_channel_empty(void *ctx)
{
	worker_report_drops(ctx);
}

/* The name of the plugin function fn (its address when it has none): the
 * optional last field of MSG_STATE. */
static void
worker_put_function(struct msg_out *m, task_fn fn)
{
	void *addr = (void *)fn;
	json_t *f = symbolize_addrs(&addr, 1, 1);
	const char *name = json_string_value(json_object_get(
	    json_array_get(f, 0), "function"));
	char buf[32];

	if (name == NULL) {
		snprintf(buf, sizeof buf, "%p", addr);
		name = buf;
	}
	msg_put_str(m, name, MSG_STRING_MAX);
	json_decref(f);
}

static void
worker_task_state(void *ctx, struct loopd_task *t)
{
	struct worker *w = ctx;
	const struct loopd_plugin *d = t->plugin.desc;
	char *cut = t->err_msg != NULL ? log_cut(t->err_msg) :
	    NULL;

	msg_begin(&w->out, MSG_STATE);
	msg_put_int(&w->out, t->index);
	msg_put_int(&w->out, t->state);
	msg_put_str(&w->out, d != NULL ? d->version : NULL, MSG_STRING_MAX);
	msg_put_str(&w->out, t->err_type, MSG_STRING_MAX);
	msg_put_str(&w->out, cut != NULL ? cut : t->err_msg, MSG_STRING_MAX);
	free(cut);
	if (t->err_cb != NULL && t->state == TASK_FAILED)
		worker_put_function(&w->out, t->err_cb);
	/* Never dropped: the supervisor must hear how every task ended. */
	ipc_send(w->ipc, w->out.p, w->out.len, 0);
	if (!task_is_live(t) && w->nlive > 0)
		w->nlive--;
	if (w->cancelling && w->nlive == 0)
		event_base_loopbreak(w->base);
}

static void
worker_cancel(struct worker *w)
{
	size_t i;

	if (w->cancelling)
		return;
	w->cancelling = 1;
	executor_stop(w->host.exec);	/* no new jobs; running ones finish */
	for (i = 0; i < w->ntasks; i++)
		if (w->tasks[i] != NULL)
			task_cancel(w->tasks[i]);
	if (w->nlive == 0)
		event_base_loopbreak(w->base);
}

static int
worker_retire(struct worker *w, struct loopd_task *t)
{
	struct loopd_task **v;

	if (w->nretired == w->retiredcap) {
		v = reallocarray(w->retired, w->retiredcap ? w->retiredcap * 2 :
		    8, sizeof *v);
		if (v == NULL)
			return -1;
		w->retired = v;
		w->retiredcap = w->retiredcap ? w->retiredcap * 2 : 8;
	}
	w->retired[w->nretired++] = t;
	return 0;
}

/* MSG_TASK after the start: a reload added a task, in a new slot. */
static void
worker_add_task(struct worker *w, const void *body, size_t len)
{
	struct loopd_task **v;
	const char *why = NULL;
	size_t slot;

	if ((v = reallocarray(w->tasks, w->ntasks + 1, sizeof *v)) == NULL)
		return;
	w->tasks = v;
	if (msg_conf_add_task(w->conf, body, len, &slot, &why) < 0) {
		log_plain("loopd worker: loop '%s': a new task could not be "
		    "read: %s", w->loop->name, why);
		return;
	}
	w->tasks[slot] = NULL;
	w->ntasks = slot + 1;
	worker_index_names(w);
}

/* MSG_START: task i starts, or starts again once it has ended. */
static void
worker_start_task(struct worker *w, size_t i)
{
	struct loopd_task *old = w->tasks[i];

	if (w->cancelling || (old != NULL && task_is_live(old)) ||
	    w->loop->tasks[i].name == NULL)
		return;
	/* An ended task is kept, not freed, until the worker exits: a
	 * plugin thread may still loopd_post() to it (post.h), and its
	 * plugin stays loaded (and initialised) across the restart. */
	if (old != NULL && worker_retire(w, old) < 0)
		return;
	if ((w->tasks[i] = task_new(&w->host, &w->loop->tasks[i], (int)i)) ==
	    NULL)
		return;		/* the supervisor sees no state: a hang */
	w->nlive++;
	task_start(w->tasks[i]);
	/* Once every task has started, what the starts no longer need goes
	 * back to the system. */
	if (++w->nstarts == w->ntasks)
		malloc_trim(0);
}

/*
 * MSG_RECONFIGURE: offer task i its new tree, and answer.  Applied, the
 * tree is task i's from now on, for its later starts too.  The tree lives
 * in the worker's configuration arena until the worker exits, so that
 * strings the plugin got from any of its trees stay valid.
 */
static void
worker_reconfigure(struct worker *w, size_t i, struct conf_node *config)
{
	struct loopd_task *t = w->tasks[i];
	int applied = 0;

	if (!w->cancelling && t != NULL && task_is_live(t))
		applied = task_reconfigure(t, config) == 0;
	if (applied)
		w->conf->loops[0].tasks[i].config = config;
	msg_put_reconfigured(&w->out, i, applied);
	if (!w->out.nomem)
		ipc_send(w->ipc, w->out.p, w->out.len, 0);
}

/* MSG_FD: task i's listening socket, passed with the frame. */
static void
worker_listen_fd(struct worker *w, struct msg_in *in)
{
	struct worker_lfd *v;
	const char *name;
	int64_t i;
	size_t k;
	int fd = ipc_take_fd(w->ipc);

	if (msg_get_range(in, 0, (int64_t)w->ntasks - 1, &i) < 0 ||
	    (name = msg_get_str(in, NULL)) == NULL || msg_done(in) < 0 ||
	    fd < 0) {
		if (fd >= 0)
			close(fd);
		return;
	}
	for (k = 0; k < w->nlfds; k++)
		if (w->lfds[k].slot == (size_t)i &&
		    strcmp(w->lfds[k].name, name) == 0) {
			close(w->lfds[k].fd);	/* a newer one replaces it */
			w->lfds[k].fd = fd;
			return;
		}
	if ((v = reallocarray(w->lfds, w->nlfds + 1, sizeof *v)) == NULL) {
		close(fd);
		return;
	}
	w->lfds = v;
	if ((v[w->nlfds].name = strdup(name)) == NULL) {
		close(fd);
		return;
	}
	v[w->nlfds].slot = (size_t)i;
	v[w->nlfds].fd = fd;
	w->nlfds++;
}

/* loopd_listen_fd(): a copy of task index's fd called name. */
static int
worker_task_listen_fd(void *ctx, int index, const char *name)
{
	struct worker *w = ctx;
	size_t k;
	int fd;

	for (k = 0; k < w->nlfds; k++)
		if (w->lfds[k].slot == (size_t)index &&
		    strcmp(w->lfds[k].name, name) == 0) {
			fd = fcntl(w->lfds[k].fd, F_DUPFD_CLOEXEC, 0);
			return fd < 0 ? -2 : fd;
		}
	return -1;
}

static void
worker_frame(void *ctx, const void *body, size_t len)
{
	struct worker *w = ctx;
	struct conf_node *config;
	struct msg_in in;
	size_t ti;
	int64_t i;

	switch (msg_open(&in, body, len)) {
	case MSG_CANCEL:
		if (msg_done(&in) == 0)
			worker_cancel(w);
		break;
	case MSG_TASK:
		worker_add_task(w, body, len);
		break;
	case MSG_STOP:
		if (msg_get_range(&in, 0, (int64_t)w->ntasks - 1, &i) == 0 &&
		    msg_done(&in) == 0 && w->tasks[i] != NULL)
			task_cancel(w->tasks[i]);
		break;
	case MSG_START:
		if (msg_get_range(&in, 0, (int64_t)w->ntasks - 1, &i) == 0 &&
		    msg_done(&in) == 0)
			worker_start_task(w, (size_t)i);
		break;
	case MSG_RECONFIGURE:
		if (msg_get_reconfigure(&in, w->conf, &ti, &config) == 0)
			worker_reconfigure(w, ti, config);
		break;
	case MSG_FD:
		worker_listen_fd(w, &in);
		break;
	}
}

static void
worker_closed(void *ctx, const char *reason)
{
	struct worker *w = ctx;

	/* The supervisor is gone, or spoke nonsense: nobody to report to. */
	event_base_loopbreak(w->base);
}

/* ---- the heartbeat ---------------------------------------------------------- */

/*
 * A timer on the loop writes the time to the shared page: when a callback
 * (the API's, or one libevent calls directly) or a hook does not return,
 * the beats stop, and the supervisor sees it while it lasts.  A loop that
 * is only busy still beats: libevent runs due timers on every turn.
 */
/*
 * The same tick measures the loop's lag: how late it fired, into a
 * histogram (lag.h) said in the "loop_stats" record at the end.  The next
 * due time follows libevent's rule for a persistent timer: the last due
 * time plus the period, or now plus the period when that is past.  In
 * debug mode the tick is at least 4 times per slow_callback, and feeds the
 * watchdog (debug.h).
 */
static void
worker_beat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct executor_stats es;
	uint64_t now = monotime_ns(), late = 0;

	w->page->beat_ms = now / 1000000;
	if (w->beat_due_ns != 0) {
		late = now > w->beat_due_ns ? now - w->beat_due_ns : 0;
		lag_add(&w->lag, late / 1000);
		wstats_lag(&w->page->stats, late / 1000);
		w->beat_due_ns += w->beat_ns;
		if (w->beat_due_ns < now)
			w->beat_due_ns = now + w->beat_ns;
	} else
		w->beat_due_ns = now + w->beat_ns;
	if (w->host.exec != NULL) {
		executor_get_stats(w->host.exec, &es);
		wstats_executor(&w->page->stats, &es);
	}
	if (w->watch != NULL)
		debug_watch_tick(w->watch, late);
}

static int
worker_beat_start(struct worker *w)
{
	uint64_t ns, ms = w->loop->hang_timeout_ms;
	struct timeval tv;

	if (w->loop->start_timeout_ms != 0 && w->loop->start_timeout_ms < ms)
		ms = w->loop->start_timeout_ms;
	ms /= 5;
	ms = ms < 20 ? 20 : ms > 1000 ? 1000 : ms;
	ns = ms * 1000000;
	if (w->host.debug && w->host.slow_ns / 4 < ns)
		ns = w->host.slow_ns / 4 < 1000000 ? 1000000 :
		    w->host.slow_ns / 4;
	w->beat_ns = ns;
	tv.tv_sec = (time_t)(ns / 1000000000u);
	tv.tv_usec = (suseconds_t)(ns % 1000000000u) / 1000;
	w->beat = event_new(w->base, -1, EV_PERSIST, worker_beat_cb, w);
	if (w->beat == NULL || event_add(w->beat, &tv) < 0)
		return -1;
	worker_beat_cb(-1, 0, w);
	if (w->host.debug &&
	    (w->watch = debug_watch_new(&w->host, ns)) == NULL)
		log_emit(log_record(LOOPD_LOG_WARNING, "loop '%s': debug mode "
		    "cannot watch for slow libevent callbacks: %s",
		    w->loop->name, strerror(errno)));
	return 0;
}

/* The lag histogram, once, as the worker stops. */
static void
worker_report_stats(struct worker *w)
{
	json_t *r;

	r = log_record(LOOPD_LOG_INFO, "loop '%s': lag p50 %llu us, p99 %llu "
	    "us, max %llu us over %llu ticks", w->loop->name,
	    (unsigned long long)lag_quantile(&w->lag, 0.5),
	    (unsigned long long)lag_quantile(&w->lag, 0.99),
	    (unsigned long long)w->lag.max_us,
	    (unsigned long long)w->lag.count);
	log_add(r, "event", "loop_stats");
	log_add_int(r, "lag_p50_us", (long long)lag_quantile(&w->lag, 0.5));
	log_add_int(r, "lag_p99_us", (long long)lag_quantile(&w->lag, 0.99));
	log_add_int(r, "lag_max_us", (long long)w->lag.max_us);
	log_add_int(r, "ticks", (long long)w->lag.count);
	log_add_int(r, "tick_us", (long long)(w->beat_ns / 1000));
	log_emit(r);
}

/* ---- the process ---------------------------------------------------------- */

static pid_t	worker_pid;
static pid_t	worker_forking;		/* who calls fork(), in its child */

static void
worker_forking_note(void)
{
	worker_forking = getpid();
}

/* A plugin's child dies with its worker, so that nothing it forked
 * outlives loopd; grandchildren are the supervisor's to reap.  Whether
 * the worker forked is known from the parent's side (the child may run
 * only after the worker has died and it has been given to init): such a
 * child asks for the signal, then ends itself if it came too late. */
static void
worker_forked(void)
{
	if (worker_forking != worker_pid)
		return;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != worker_pid)
		_exit(127);
}

/*
 * Signals: the supervisor decides when a worker stops, so a Ctrl-C or a
 * SIGTERM sent to the whole process group is its to handle.  If the
 * supervisor dies, PR_SET_PDEATHSIG (set before the exec) ends the worker.
 */
static void
worker_signals(void)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);	/* the supervisor's: reopen its log */
	worker_pid = getpid();
	pthread_atfork(worker_forking_note, NULL, worker_forked);
}

/*
 * The loop's limits, before any plugin is loaded.  The hard CPU limit is a
 * second above the soft one: SIGXCPU first, which the supervisor names,
 * then SIGKILL if a plugin ignores it.  NULL, or what could not be set.
 */
static const char *
worker_limits(const struct limits_conf *lim)
{
	struct rlimit rl;

	if (lim->memory != 0) {
		rl.rlim_cur = rl.rlim_max = lim->memory;
		if (setrlimit(RLIMIT_AS, &rl) < 0)
			return "memory";
	}
	if (lim->open_files != 0) {
		rl.rlim_cur = rl.rlim_max = lim->open_files;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			return "open_files";
	}
	if (lim->cpu_seconds != 0) {
		rl.rlim_cur = lim->cpu_seconds;
		rl.rlim_max = lim->cpu_seconds + 1;
		if (setrlimit(RLIMIT_CPU, &rl) < 0)
			return "cpu_seconds";
	}
	return NULL;
}

/* Pin the worker, every thread it will start included, to one CPU. */
static const char *
worker_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) < 0)
		return strerror(errno);
	return NULL;
}

/* Debug mode: the loop's `debug: true`, or LOOPD_DEBUG=1 for every loop. */
static int
worker_debug(const struct loop_conf *loop)
{
	const char *env = getenv("LOOPD_DEBUG");

	return loop->debug || (env != NULL && strcmp(env, "1") == 0);
}

/* event_base_get_features() as words: "ET|O1|FDS|EARLY_CLOSE". */
static const char *
worker_features(struct event_base *base, char *buf, size_t len)
{
	static const struct { int bit; const char *name; } f[] = {
		{ EV_FEATURE_ET, "ET" }, { EV_FEATURE_O1, "O1" },
		{ EV_FEATURE_FDS, "FDS" },
		{ EV_FEATURE_EARLY_CLOSE, "EARLY_CLOSE" },
	};
	int have = event_base_get_features(base);
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof f / sizeof f[0]; i++)
		if (have & f[i].bit)
			n += (size_t)snprintf(buf + n, len - n, "%s%s",
			    n ? "|" : "", f[i].name);
	return buf;
}

/* The configuration, frame by frame, before there is a loop. */
static struct conf *
worker_read_config(struct creds *creds)
{
	struct msg_conf_reader r = { 0 };
	uint8_t *buf = NULL;
	size_t cap = 0;
	const char *why = NULL;
	ssize_t n;
	int rc = 0;

	while (rc == 0) {
		n = ipc_read_frame(PROC_FD_CHANNEL, &buf, &cap,
		    WORKER_FRAME_MAX);
		if (n <= 0) {
			why = n == 0 ? "the channel closed" : strerror(errno);
			rc = -1;
			break;
		}
		rc = msg_conf_add(&r, buf, (size_t)n, &why);
	}
	free(buf);
	if (rc < 0) {
		log_plain("loopd worker: no configuration from the "
		    "supervisor: %s", why);
		config_free(r.conf);
		return NULL;
	}
	*creds = r.creds;
	return r.conf;
}

/* The task table; tasks start when the supervisor says (MSG_START). */
static int
worker_tasks(struct worker *w)
{
	w->tasks = calloc(w->loop->ntasks, sizeof *w->tasks);
	if (w->tasks == NULL)
		return -1;
	w->ntasks = w->loop->ntasks;
	return worker_index_names(w);
}

static void
worker_free(struct worker *w)
{
	size_t i;

	debug_watch_free(w->watch);
	executor_join(w->host.exec);	/* running works finish first */
	for (i = 0; i < w->ntasks; i++)
		task_free(w->tasks[i]);
	for (i = 0; i < w->nretired; i++)
		task_free(w->retired[i]);
	free(w->tasks);
	free(w->retired);
	free(w->names);
	for (i = 0; i < w->nlfds; i++) {
		close(w->lfds[i].fd);
		free(w->lfds[i].name);
	}
	free(w->lfds);
	loader_cache_free(w->host.plugins);
	executor_free(w->host.exec);	/* logs its counts */
	pmetric_area_free(w->host.metrics);	/* no thread is left */
	post_queue_free(w->host.post);
	if (w->ipc != NULL) {
		if (w->beat != NULL)
			worker_report_stats(w);
		worker_report_drops(w);
		/* Until every state is out: a slow supervisor decides, with
		 * its grace timer, not a timeout here. */
		ipc_flush(w->ipc, -1);
		log_set_sink(NULL, NULL);
		ipc_free(w->ipc);
	}
	msg_out_free(&w->out);
	if (w->beat != NULL)
		event_free(w->beat);
	if (w->base != NULL)
		event_base_free(w->base);
	config_free(w->conf);
}

static const struct ipc_callbacks worker_ipc = {
	.frame = worker_frame,
	.closed = worker_closed,
	.empty = worker_channel_empty,
};

int
worker_main(void)
{
	struct worker w = { 0 };
	struct crash_page *page;
	struct creds creds;
	const char *why;
	char feat[64];
	json_t *r;
	int rc = 0;

	worker_signals();
	/* The supervisor speaks to systemd for loopd. */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDNAMES");
	if ((page = crash_install(PROC_FD_CRASH)) == NULL) {
		log_plain("loopd worker: no crash page on fd %d: %s (a worker "
		    "is started by loopd, not by hand)", PROC_FD_CRASH,
		    strerror(errno));
		return WORKER_EXIT_CONFIG;
	}
	if ((w.conf = worker_read_config(&creds)) == NULL)
		return WORKER_EXIT_CONFIG;
	w.loop = &w.conf->loops[0];
	w.page = page;
	if ((why = worker_limits(&w.loop->limits)) != NULL) {
		log_plain("loopd worker: loop '%s': cannot set limits.%s: %s",
		    w.loop->name, why, strerror(errno));
		config_free(w.conf);
		return WORKER_EXIT_LIMITS;
	}
	/* Before the sandbox, which may not allow sched_setaffinity. */
	if (w.loop->cpu >= 0 && (why = worker_pin(w.loop->cpu)) != NULL) {
		log_plain("loopd worker: loop '%s': cannot pin to cpu %d: %s",
		    w.loop->name, w.loop->cpu, why);
		config_free(w.conf);
		return WORKER_EXIT_LIMITS;
	}
	/* After the limits (root may raise a hard one), before any plugin. */
	if (creds_drop(&creds, &why) < 0) {
		log_plain("loopd worker: loop '%s': cannot run as uid %u gid "
		    "%u: %s failed: %s", w.loop->name, (unsigned)creds.uid,
		    (unsigned)creds.gid, why, strerror(errno));
		config_free(w.conf);
		return WORKER_EXIT_USER;
	}
	if (sandbox_apply(&w.loop->sandbox, &why) < 0) {
		log_plain("loopd worker: loop '%s': cannot apply sandbox "
		    "profile %s: %s failed: %s%s", w.loop->name,
		    config_sandbox_profile_name(w.loop->sandbox.profile), why,
		    strerror(errno), errno == EACCES ? " (without "
		    "no_new_privs, a filter needs CAP_SYS_ADMIN)" : "");
		config_free(w.conf);
		return WORKER_EXIT_SANDBOX;
	}
	malloc_trim(0);		/* the frames' scratch */
	log_set_level(w.conf->log_level);
	if ((w.base = worker_base(w.loop->backend,
	    w.loop->precise_timer)) == NULL) {
		/* Not a task's fault: said on stderr, seen by the supervisor
		 * as this exit status. */
		config_free(w.conf);
		return WORKER_EXIT_BACKEND;
	}
	w.host = (struct task_host){ .base = w.base, .loop = w.loop->name,
	    .running = &page->running, .plugins = loader_cache_new(),
	    .sockets = PROC_FD_SOCKETS,
	    .on_state = worker_task_state, .ctx = &w,
	    .log_rate = w.conf->log_rate, .log_rate_ms = w.conf->log_rate_ms,
	    .start_timeout_ms = w.loop->start_timeout_ms,
	    .listen_fd = worker_task_listen_fd, .send = worker_send,
	    .debug = worker_debug(w.loop), .slow_ns = w.loop->slow_callback_ms *
	    1000000, .loop_conf = w.loop };
	/* Without it, plugins' metrics are refused, and nothing else. */
	w.host.metrics = pmetric_area_new(PROC_FD_CRASH);
	w.host.stats = &w.page->stats;
	w.host.post = post_queue_new(w.base);
	w.host.exec = executor_new(&w.loop->executor, w.host.post,
	    w.loop->name);
	if (w.host.plugins == NULL) {
		worker_free(&w);
		return 1;
	}
	w.ipc = ipc_new(w.base, PROC_FD_CHANNEL, WORKER_FRAME_MAX, &worker_ipc,
	    &w);
	if (w.ipc == NULL || w.host.post == NULL || w.host.exec == NULL) {
		worker_free(&w);
		return 1;
	}
	ipc_accept_fds(w.ipc);	/* the supervisor's MSG_FD */
	log_set_sink(worker_log_sink, &w);
	r = log_record(LOOPD_LOG_INFO, "loop started on %s",
	    event_base_get_method(w.base));
	log_add(r, "backend", event_base_get_method(w.base));
	log_add(r, "event", "loop_start");
	log_add(r, "features", worker_features(w.base, feat, sizeof feat));
	log_add_int(r, "precise_timer", w.loop->precise_timer);
	log_add_int(r, "cpu", w.loop->cpu);
	log_add_int(r, "debug", w.host.debug);
	if (w.host.debug)
		log_add_int(r, "slow_callback_ms",
		    (long long)w.loop->slow_callback_ms);
	log_emit(r);

	if (worker_tasks(&w) < 0 || worker_beat_start(&w) < 0)
		rc = 1;
	else
		event_base_dispatch(w.base);
	worker_free(&w);
	return rc;
}
