/*
 * supervisor.c: the supervisor's loop.
 *
 * It forks one worker per loop, follows every task's state from the
 * workers' reports, writes every log record, notices at once when a worker
 * dies (SIGCHLD) and says which task was running, and carries out shutdown:
 * cancel, wait within the grace period, then kill what is left and name it.
 * Signals arrive as loop events; no work is done in a signal handler.  It
 * never loads plugin code.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "crash.h"
#include "ipc.h"
#include "log.h"
#include "notify.h"
#include "supervisor.h"
#include "task.h"
#include "worker.h"

struct proc {
	struct supervisor	*sv;
	const struct loop_conf	*loop;
	pid_t			 pid;		/* 0 once reaped */
	struct ipc		*ipc;
	volatile int		*running;	/* shared with the worker */
	int			 crash_fd;	/* its backtrace, if it crashes */
	enum task_state		*states;	/* one per task, as reported */
	int			 killed;	/* we sent SIGKILL */
};

struct supervisor {
	const struct conf	*conf;
	struct event_base	*base;
	struct proc		*procs;
	size_t			 nprocs;
	struct event		*sig[4];
	struct event		*grace;
	int			 stopping;
	int			 forced;
	int			 ready;
};

static const int handled_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGCHLD };

static json_t *
proc_record(struct proc *p, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A record tagged with the loop and the worker's pid. */
static json_t *
proc_record(struct proc *p, int level, const char *fmt, ...)
{
	va_list ap;
	json_t *r;

	va_start(ap, fmt);
	r = log_vrecord(level, fmt, ap);
	va_end(ap);
	log_add(r, "loop", p->loop->name);
	if (r != NULL && p->pid > 0)
		json_object_set_new(r, "pid", json_integer(p->pid));
	return r;
}

static size_t
supervisor_count(const struct supervisor *sv, int live_only)
{
	size_t i, j, n = 0;

	for (i = 0; i < sv->nprocs; i++)
		for (j = 0; j < sv->procs[i].loop->ntasks; j++)
			if (!live_only || sv->procs[i].states[j] < TASK_DONE)
				n++;
	return n;
}

/* READY=1 once no task is still starting. */
static void
supervisor_check_ready(struct supervisor *sv)
{
	size_t i, j, running = 0;
	json_t *r;

	if (sv->ready || sv->stopping)
		return;
	for (i = 0; i < sv->nprocs; i++)
		for (j = 0; j < sv->procs[i].loop->ntasks; j++) {
			if (sv->procs[i].states[j] == TASK_STARTING)
				return;
			if (sv->procs[i].states[j] < TASK_DONE)
				running++;
		}
	sv->ready = 1;
	notify_ready("running %zu of %zu tasks on %zu loops", running,
	    supervisor_count(sv, 0), sv->nprocs);
	r = log_record(LOOPD_LOG_INFO, "ready: %zu of %zu tasks running on "
	    "%zu loops", running, supervisor_count(sv, 0), sv->nprocs);
	log_add(r, "event", "ready");
	log_emit(r);
}

static int
proc_task_index(struct proc *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->loop->ntasks; i++)
		if (strcmp(p->loop->tasks[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int
parse_state(const char *s)
{
	int i;

	for (i = TASK_STARTING; i <= TASK_FAILED; i++)
		if (strcmp(s, task_state_name(i)) == 0)
			return i;
	return -1;
}

/* A worker reports a task's new state; log it once, here. */
static void
proc_task_state(struct proc *p, json_t *msg)
{
	const struct task_conf *tc;
	const char *name, *state, *ver;
	json_t *r, *err;
	int i, s;

	name = json_string_value(json_object_get(msg, "task"));
	state = json_string_value(json_object_get(msg, "state"));
	if (name == NULL || state == NULL || (i = proc_task_index(p, name)) < 0 ||
	    (s = parse_state(state)) < 0) {
		r = proc_record(p, LOOPD_LOG_WARNING, "worker sent a state "
		    "report for an unknown task or state; ignored");
		log_emit(r);
		return;
	}
	tc = &p->loop->tasks[i];
	p->states[i] = s;
	ver = json_string_value(json_object_get(msg, "plugin_version"));
	err = json_object_get(msg, "error");
	if (s == TASK_FAILED) {
		const char *type = json_string_value(json_object_get(err, "type"));
		const char *m = json_string_value(json_object_get(err, "message"));

		r = proc_record(p, LOOPD_LOG_ERROR, "task '%s' failed: %s",
		    tc->name, m ? m : "(no message)");
		log_add(r, "task", tc->name);
		log_add(r, "plugin", tc->plugin);
		log_add(r, "plugin_version", ver);
		log_add(r, "event", "task_error");
		log_add_error(r, type, m);
	} else {
		r = proc_record(p, s == TASK_DONE || s == TASK_RUNNING ?
		    LOOPD_LOG_INFO : LOOPD_LOG_DEBUG, "task '%s' %s", tc->name,
		    state);
		log_add(r, "task", tc->name);
		log_add(r, "plugin", tc->plugin);
		log_add(r, "plugin_version", ver);
		log_add(r, "event", "task_state");
		log_add(r, "state", state);
	}
	log_emit(r);
	supervisor_check_ready(p->sv);
}

static void
proc_frame(void *ctx, json_t *msg)
{
	struct proc *p = ctx;
	const char *type = json_string_value(json_object_get(msg, "type"));
	json_t *rec;

	if (strcmp(type, "state") == 0) {
		proc_task_state(p, msg);
	} else if (strcmp(type, "log") == 0 &&
	    json_is_object(rec = json_object_get(msg, "record"))) {
		/* Built by the worker's log module; written as it is. */
		log_emit(json_incref(rec));
	} else {
		log_emit(proc_record(p, LOOPD_LOG_WARNING, "worker sent a "
		    "message of unknown type '%s'; ignored", type));
	}
}

static void
proc_closed(void *ctx, const char *reason)
{
	struct proc *p = ctx;

	if (reason == NULL || p->pid <= 0)
		return;		/* end of file: SIGCHLD tells the rest */
	log_emit(proc_record(p, LOOPD_LOG_ERROR, "worker's channel failed "
	    "(%s); killing the worker", reason));
	kill(p->pid, SIGKILL);
	p->killed = 1;
}

/* Fork the worker for p->loop.  Returns 0, or -1 with errno set. */
static int
proc_spawn(struct proc *p)
{
	struct supervisor *sv = p->sv;
	sigset_t all, old;
	int sp[2], saved;
	size_t i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	p->running = mmap(NULL, sizeof *p->running, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->running == MAP_FAILED) {
		saved = errno;
		close(sp[0]);
		close(sp[1]);
		p->running = NULL;
		errno = saved;
		return -1;
	}
	*p->running = -1;
	if ((p->crash_fd = crash_file()) < 0) {
		saved = errno;
		close(sp[0]);
		close(sp[1]);
		errno = saved;
		return -1;
	}
	/* No signal may run the supervisor's handlers in the child. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	p->pid = fork();
	if (p->pid == 0) {
		close(sp[0]);
		for (i = 0; i < sv->nprocs; i++)
			if (sv->procs[i].ipc != NULL)
				ipc_close_fd_after_fork(sv->procs[i].ipc);
		/*
		 * The supervisor's base shares its epoll set with this
		 * process: touching it would disarm the parent.  Leave it.
		 */
		exit(worker_run(sv->conf, p->loop, sp[1], p->running,
		    p->crash_fd));
	}
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(sp[1]);
	if (p->pid < 0) {
		close(sp[0]);
		errno = saved;
		return -1;
	}
	if ((p->ipc = ipc_new(sv->base, sp[0], proc_frame, proc_closed, p)) ==
	    NULL) {
		close(sp[0]);
		kill(p->pid, SIGKILL);
		p->killed = 1;
	}
	return 0;
}

static const char *
signal_name(int sig)
{
	static char buf[16];
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev == NULL)
		return "?";
	snprintf(buf, sizeof buf, "SIG%s", abbrev);
	return buf;
}

/* The worker ended when it was not asked to: say why, and what was lost. */
static void
proc_report_death(struct proc *p, int status, int running)
{
	const struct task_conf *tc = running >= 0 &&
	    (size_t)running < p->loop->ntasks ? &p->loop->tasks[running] : NULL;
	char what[128], msg[512];
	json_t *r, *lost, *bt;
	size_t i;

	if (WIFSIGNALED(status))
		snprintf(what, sizeof what, "was killed by %s",
		    signal_name(WTERMSIG(status)));
	else
		snprintf(what, sizeof what, "exited with status %d",
		    WEXITSTATUS(status));
	if (tc != NULL)
		snprintf(msg, sizeof msg, "worker of loop '%s' %s while task "
		    "'%s' (plugin %s) was running", p->loop->name, what,
		    tc->name, tc->plugin);
	else
		snprintf(msg, sizeof msg, "worker of loop '%s' %s outside any "
		    "task's code", p->loop->name, what);
	r = proc_record(p, LOOPD_LOG_ERROR, "%s", msg);
	log_add(r, "event", "task_error");
	if (tc != NULL) {
		log_add(r, "task", tc->name);
		log_add(r, "plugin", tc->plugin);
	}
	if (WIFSIGNALED(status)) {
		log_add(r, "signal", signal_name(WTERMSIG(status)));
		log_add_int(r, "signo", WTERMSIG(status));
		if (r != NULL && (bt = crash_read(p->crash_fd)) != NULL)
			json_object_set_new(r, "backtrace", bt);
	} else
		log_add_int(r, "exit_status", WEXITSTATUS(status));
	log_add_error(r, WIFSIGNALED(status) ? "crash" : "exit", msg);
	lost = json_array();
	for (i = 0; i < p->loop->ntasks; i++)
		if (p->states[i] < TASK_DONE)
			json_array_append_new(lost,
			    json_string(p->loop->tasks[i].name));
	if (r != NULL)
		json_object_set_new(r, "lost_tasks", lost);
	else
		json_decref(lost);
	log_emit(r);
}

static void
proc_reaped(struct proc *p, int status)
{
	int running = *p->running;
	size_t i;

	/* What the worker said before it went comes first. */
	if (p->ipc != NULL)
		ipc_drain(p->ipc);
	if (p->sv->stopping && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_emit(proc_record(p, LOOPD_LOG_INFO, "loop stopped"));
	else if (p->killed)
		log_emit(proc_record(p, LOOPD_LOG_WARNING, "worker of loop '%s' "
		    "killed", p->loop->name));
	else
		proc_report_death(p, status, running);
	for (i = 0; i < p->loop->ntasks; i++)
		if (p->states[i] < TASK_DONE)
			p->states[i] = TASK_FAILED;
	ipc_free(p->ipc);
	p->ipc = NULL;
	munmap((void *)p->running, sizeof *p->running);
	p->running = NULL;
	close(p->crash_fd);
	p->crash_fd = -1;
	p->pid = 0;
}

static size_t
supervisor_alive(const struct supervisor *sv)
{
	size_t i, n = 0;

	for (i = 0; i < sv->nprocs; i++)
		if (sv->procs[i].pid > 0)
			n++;
	return n;
}

static void
supervisor_reap(struct supervisor *sv)
{
	pid_t pid;
	int status;
	size_t i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < sv->nprocs; i++)
			if (sv->procs[i].pid == pid)
				proc_reaped(&sv->procs[i], status);
	}
	if (!sv->stopping) {
		supervisor_check_ready(sv);
		return;
	}
	if (supervisor_alive(sv) == 0)
		event_base_loopbreak(sv->base);
	else
		notify_status("stopping: waiting for %zu tasks",
		    supervisor_count(sv, 1));
}

/* Grace is over, or the operator asked twice: kill and name what is left. */
static void
supervisor_force(struct supervisor *sv)
{
	struct proc *p;
	json_t *r;
	size_t i, j, live;

	for (i = 0; i < sv->nprocs; i++) {
		p = &sv->procs[i];
		if (p->pid <= 0)
			continue;
		for (j = 0, live = 0; j < p->loop->ntasks; j++) {
			if (p->states[j] >= TASK_DONE)
				continue;
			live++;
			r = proc_record(p, LOOPD_LOG_WARNING, "task '%s' did "
			    "not finish within the grace period; killing it",
			    p->loop->tasks[j].name);
			log_add(r, "task", p->loop->tasks[j].name);
			log_add(r, "plugin", p->loop->tasks[j].plugin);
			log_add(r, "event", "task_forced");
			log_emit(r);
		}
		/* A worker whose tasks have all ended is on its way out; it
		 * is killed too, in case a stop hook hangs, but that forces
		 * no task. */
		kill(p->pid, SIGKILL);
		p->killed = 1;
		if (live > 0)
			sv->forced = 1;
	}
}

static void
supervisor_grace_cb(evutil_socket_t fd, short what, void *arg)
{
	supervisor_force(arg);
}

static void
supervisor_stop(struct supervisor *sv, int sig)
{
	json_t *cancel, *r;
	struct timeval tv;
	size_t i;

	if (sv->stopping) {
		r = log_record(LOOPD_LOG_WARNING, "%s again: stopping now",
		    signal_name(sig));
		log_add(r, "event", "shutdown");
		log_emit(r);
		supervisor_force(sv);
		return;
	}
	sv->stopping = 1;
	notify_stopping("stopping: cancelling %zu tasks",
	    supervisor_count(sv, 1));
	r = log_record(LOOPD_LOG_INFO, "%s: cancelling every task, grace "
	    "%llu ms", signal_name(sig), (unsigned long long)sv->conf->grace_ms);
	log_add(r, "event", "shutdown");
	log_emit(r);
	cancel = json_pack("{s:s}", "type", "cancel");
	for (i = 0; i < sv->nprocs; i++)
		if (sv->procs[i].ipc != NULL)
			ipc_send(sv->procs[i].ipc, cancel, 0);
	json_decref(cancel);
	if (supervisor_alive(sv) == 0) {
		event_base_loopbreak(sv->base);
		return;
	}
	tv.tv_sec = (time_t)(sv->conf->grace_ms / 1000);
	tv.tv_usec = (suseconds_t)(sv->conf->grace_ms % 1000) * 1000;
	evtimer_add(sv->grace, &tv);
}

static void
supervisor_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct supervisor *sv = arg;
	json_t *r;

	switch (sig) {
	case SIGCHLD:
		supervisor_reap(sv);
		break;
	case SIGHUP:
		r = log_record(LOOPD_LOG_WARNING, "SIGHUP: live reload is not "
		    "available in this version; restart loopd to apply "
		    "configuration changes");
		log_add(r, "event", "reload");
		log_emit(r);
		break;
	default:
		supervisor_stop(sv, sig);
		break;
	}
}

static int
supervisor_init(struct supervisor *sv, const struct conf *conf)
{
	size_t i;

	memset(sv, 0, sizeof *sv);
	sv->conf = conf;
	if ((sv->base = event_base_new()) == NULL)
		return -1;
	for (i = 0; i < 4; i++) {
		sv->sig[i] = evsignal_new(sv->base, handled_signals[i],
		    supervisor_signal_cb, sv);
		if (sv->sig[i] == NULL || evsignal_add(sv->sig[i], NULL) < 0)
			return -1;
	}
	if ((sv->grace = evtimer_new(sv->base, supervisor_grace_cb, sv)) ==
	    NULL)
		return -1;
	sv->procs = calloc(conf->nloops, sizeof *sv->procs);
	if (sv->procs == NULL)
		return -1;
	sv->nprocs = conf->nloops;
	for (i = 0; i < sv->nprocs; i++) {
		sv->procs[i].sv = sv;
		sv->procs[i].loop = &conf->loops[i];
		sv->procs[i].crash_fd = -1;
		sv->procs[i].states = calloc(conf->loops[i].ntasks,
		    sizeof *sv->procs[i].states);
		if (sv->procs[i].states == NULL)
			return -1;
	}
	log_attach(sv->base);
	return 0;
}

static void
supervisor_free(struct supervisor *sv)
{
	size_t i;

	for (i = 0; i < sv->nprocs; i++) {
		if (sv->procs[i].ipc != NULL)
			ipc_free(sv->procs[i].ipc);
		if (sv->procs[i].running != NULL)
			munmap((void *)sv->procs[i].running,
			    sizeof *sv->procs[i].running);
		if (sv->procs[i].crash_fd >= 0)
			close(sv->procs[i].crash_fd);
		free(sv->procs[i].states);
	}
	free(sv->procs);
	for (i = 0; i < 4; i++)
		if (sv->sig[i] != NULL)
			event_free(sv->sig[i]);
	if (sv->grace != NULL)
		event_free(sv->grace);
	if (sv->base != NULL)
		event_base_free(sv->base);
}

int
supervisor_run(const struct conf *conf)
{
	struct supervisor sv;
	json_t *r;
	size_t i;
	int status;

	if (supervisor_init(&sv, conf) < 0) {
		log_emit(log_record(LOOPD_LOG_ERROR, "cannot set up the "
		    "supervisor: %s", strerror(errno)));
		supervisor_free(&sv);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	r = log_record(LOOPD_LOG_INFO, "loopd %s starting: %zu loops, %zu "
	    "tasks, config %s", LOOPD_VERSION, conf->nloops,
	    supervisor_count(&sv, 0), conf->path);
	log_add(r, "event", "start");
	log_emit(r);
	notify_status("starting %zu loops", conf->nloops);
	for (i = 0; i < sv.nprocs; i++) {
		if (proc_spawn(&sv.procs[i]) == 0)
			continue;
		log_emit(proc_record(&sv.procs[i], LOOPD_LOG_ERROR, "cannot "
		    "start the worker: %s", strerror(errno)));
		for (size_t j = 0; j < sv.procs[i].loop->ntasks; j++)
			sv.procs[i].states[j] = TASK_FAILED;
	}
	supervisor_check_ready(&sv);
	event_base_dispatch(sv.base);

	status = sv.forced ? 1 : 0;
	r = log_record(LOOPD_LOG_INFO, "loopd stopped%s", sv.forced ?
	    " after killing tasks that outlived the grace period" : "");
	log_add(r, "event", "exit");
	log_add_int(r, "exit_status", status);
	log_emit(r);
	log_flush(1000);
	supervisor_free(&sv);
	return status;
}
