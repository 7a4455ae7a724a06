/*
 * worker.c: one loop's process.
 *
 * The worker builds its event_base on the configured backend, starts its
 * tasks, and reports to the supervisor over the IPC channel: task states
 * and log records.  It obeys "cancel" (run every task's cancel hook, then
 * exit once every task has ended).  It exits at once if the supervisor
 * goes away.  It loads plugin code; the supervisor never does.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <event2/event.h>

#include "crash.h"
#include "ipc.h"
#include "log.h"
#include "task.h"
#include "worker.h"

struct worker {
	const struct conf	*conf;
	const struct loop_conf	*loop;
	struct event_base	*base;
	struct ipc		*ipc;
	struct task_host	 host;
	struct loopd_task	**tasks;
	size_t			 ntasks;
	int			 cancelling;
};

static const char *const backends[] = { "epoll", "poll", "select" };

/* A base on exactly the configured backend, or NULL. */
static struct event_base *
worker_base(enum conf_backend backend)
{
	struct event_config *cfg;
	struct event_base *base;
	const char *want = config_backend_name(backend);
	size_t i;

	if ((cfg = event_config_new()) == NULL)
		return NULL;
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

static void
worker_forward(struct worker *w, json_t *record)
{
	json_t *msg = json_pack("{s:s, s:O}", "type", "log", "record", record);

	if (msg == NULL)
		return;
	ipc_send(w->ipc, msg, 1);
	json_decref(msg);
}

/* Records go to the supervisor; when the channel was too full to take
 * some, the first record that fits again is preceded by a count. */
static void
worker_log_sink(void *ctx, json_t *record)
{
	struct worker *w = ctx;
	size_t dropped = ipc_take_dropped(w->ipc);
	json_t *r;

	if (dropped > 0) {
		r = log_record(LOOPD_LOG_WARNING, "%zu log records dropped: the "
		    "supervisor could not keep up", dropped);
		log_add(r, "loop", w->loop->name);
		log_add_int(r, "dropped", (long long)dropped);
		if (r != NULL)
			worker_forward(w, r);
		json_decref(r);
	}
	worker_forward(w, record);
}

static size_t
worker_live_tasks(const struct worker *w)
{
	size_t i, n = 0;

	for (i = 0; i < w->ntasks; i++)
		if (task_is_live(w->tasks[i]))
			n++;
	return n;
}

static void
worker_task_state(void *ctx, struct loopd_task *t)
{
	struct worker *w = ctx;
	json_t *msg;

	msg = json_pack("{s:s, s:s, s:s}", "type", "state", "task",
	    t->conf->name, "state", task_state_name(t->state));
	if (msg == NULL)
		return;
	if (t->plugin.desc != NULL && t->plugin.desc->version != NULL)
		json_object_set_new(msg, "plugin_version",
		    log_string(t->plugin.desc->version));
	if (t->state == TASK_FAILED) {
		json_object_set_new(msg, "error", json_pack("{s:o, s:o}",
		    "type", log_string(t->err_type),
		    "message", log_string(t->err_msg)));
	}
	ipc_send(w->ipc, msg, 0);
	json_decref(msg);
	if (w->cancelling && worker_live_tasks(w) == 0)
		event_base_loopbreak(w->base);
}

static void
worker_cancel(struct worker *w)
{
	size_t i;

	if (w->cancelling)
		return;
	w->cancelling = 1;
	for (i = 0; i < w->ntasks; i++)
		task_cancel(w->tasks[i]);
	if (worker_live_tasks(w) == 0)
		event_base_loopbreak(w->base);
}

static void
worker_frame(void *ctx, json_t *msg)
{
	struct worker *w = ctx;
	const char *type = json_string_value(json_object_get(msg, "type"));

	if (strcmp(type, "cancel") == 0)
		worker_cancel(w);
}

static void
worker_closed(void *ctx, const char *reason)
{
	struct worker *w = ctx;

	/* The supervisor is gone, or spoke nonsense: nobody to report to. */
	event_base_loopbreak(w->base);
}

/*
 * Signals: the supervisor decides when a worker stops, so a Ctrl-C or a
 * SIGTERM sent to the whole process group is its to handle.  If the
 * supervisor dies, PR_SET_PDEATHSIG ends the worker.
 */
static void
worker_signals(void)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };
	sigset_t all;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

static int
worker_start(struct worker *w)
{
	size_t i;

	w->tasks = calloc(w->loop->ntasks, sizeof *w->tasks);
	if (w->tasks == NULL)
		return -1;
	for (i = 0; i < w->loop->ntasks; i++) {
		w->tasks[i] = task_new(&w->host, &w->loop->tasks[i], (int)i);
		if (w->tasks[i] == NULL)
			return -1;
		w->ntasks++;
	}
	for (i = 0; i < w->ntasks; i++)
		task_start(w->tasks[i]);
	return 0;
}

static void
worker_free(struct worker *w)
{
	size_t i;

	for (i = 0; i < w->ntasks; i++)
		task_free(w->tasks[i]);
	free(w->tasks);
	if (w->ipc != NULL) {
		ipc_flush(w->ipc, 1000);
		log_set_sink(NULL, NULL);
		ipc_free(w->ipc);
	}
	if (w->base != NULL)
		event_base_free(w->base);
}

int
worker_run(const struct conf *conf, const struct loop_conf *loop, int fd,
    volatile int *running, int crash_fd)
{
	struct worker w = { .conf = conf, .loop = loop };
	json_t *r;
	int rc = 0;

	worker_signals();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	unsetenv("NOTIFY_SOCKET");	/* the supervisor speaks for loopd */
	crash_install(crash_fd);
	*running = -1;
	if ((w.base = worker_base(loop->backend)) == NULL) {
		log_emit(log_record(LOOPD_LOG_ERROR, "loop '%s': backend %s is "
		    "not available on this system: choose another backend",
		    loop->name, config_backend_name(loop->backend)));
		close(fd);
		return WORKER_EXIT_BACKEND;
	}
	w.host = (struct task_host){ .base = w.base, .loop = loop->name,
	    .running = running, .on_state = worker_task_state, .ctx = &w };
	if ((w.ipc = ipc_new(w.base, fd, worker_frame, worker_closed, &w)) ==
	    NULL) {
		close(fd);
		worker_free(&w);
		return 1;
	}
	log_set_sink(worker_log_sink, &w);
	r = log_record(LOOPD_LOG_INFO, "loop started on %s",
	    event_base_get_method(w.base));
	log_add(r, "loop", loop->name);
	log_add(r, "backend", event_base_get_method(w.base));
	log_emit(r);

	if (worker_start(&w) < 0)
		rc = 1;
	else
		event_base_dispatch(w.base);
	worker_free(&w);
	return rc;
}
