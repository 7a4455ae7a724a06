/*
 * task.c: a task's lifecycle, from loading its plugin to its stop hook.
 *
 * Every call into plugin code (its constructors at load, start, cancel,
 * stop and the callbacks in api.c) is bracketed by task_enter()/
 * task_leave(), so that a crash names the task that was running.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "debug.h"
#include "executor.h"
#include "log.h"
#include "monotime.h"
#include "pmetric.h"
#include "post.h"
#include "task.h"
#include "timerq.h"

static const char *const state_names[] = {
	"starting", "running", "cancelling", "done", "failed",
};

static void	task_reap(evutil_socket_t, short, void *);
static void	task_start_timeout(evutil_socket_t, short, void *);

/* One task of host fewer: the last one takes the reaper with it. */
static void
task_host_release(struct task_host *host)
{
	if (--host->ntasks > 0)
		return;
	event_free(host->reaper);
	host->reaper = NULL;
	timerq_free(host->timers);
	host->timers = NULL;
}

const char *
task_state_name(enum task_state s)
{
	return state_names[s];
}

void
task_timed_leave(struct loopd_task *t)
{
	uint64_t ns = monotime_ns() - t->host->enter_ns;

	if (ns > t->host->slow_ns) {
		wstats_slow_callback(t->host->stats);
		debug_slow_api(t, ns);
	}
}

int
task_is_live(const struct loopd_task *t)
{
	return t->state < TASK_DONE;
}

static void
task_args_error(void *ctx, const char *msg)
{
	loopd_task_fail(ctx, "config", "%s", msg);
}

struct loopd_task *
task_new(struct task_host *host, const struct task_conf *conf, int index)
{
	struct loopd_task *t;

	if ((t = calloc(1, sizeof *t)) == NULL)
		return NULL;
	t->host = host;
	t->conf = conf;
	t->index = index;
	t->state = TASK_STARTING;
	TAILQ_INIT(&t->handles);
	TAILQ_INIT(&t->jobs);
	args_init(&t->args, conf->config, task_args_error, t);
	if (host->reaper == NULL) {
		if ((host->reaper = event_new(host->base, -1, 0, task_reap,
		    host)) == NULL) {
			free(t);
			return NULL;
		}
		STAILQ_INIT(&host->reap);
	}
	host->ntasks++;
	if (api_rate_init(t) < 0) {
		task_host_release(host);
		free(t);
		return NULL;
	}
	post_task_open(t);
	return t;
}

static void
task_set_state(struct loopd_task *t, enum task_state s)
{
	t->state = s;
	t->host->on_state(t->host->ctx, t);
}

static int
task_notifies_ready(const struct loopd_task *t)
{
	const struct loopd_plugin *d = t->plugin.desc;

	return loader_since(d, 1) && (d->flags & LOOPD_PLUGIN_NOTIFY_READY);
}

/* Start returned 0: running, or starting until loopd_task_ready(). */
static void
task_started(struct loopd_task *t)
{
	struct timeval tv;

	if (!task_notifies_ready(t) || t->ready) {
		task_set_state(t, TASK_RUNNING);
		return;
	}
	if (t->host->start_timeout_ms == 0)
		return;
	tv.tv_sec = (time_t)(t->host->start_timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(t->host->start_timeout_ms % 1000) * 1000;
	if ((t->ready_timer = evtimer_new(t->host->base, task_start_timeout,
	    t)) == NULL || evtimer_add(t->ready_timer, &tv) < 0)
		task_end(t, "start_timeout", "cannot arm the start timeout");
}

/* The task did not say it was ready within start_timeout. */
static void
task_start_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct loopd_task *t = arg;
	char msg[160];

	snprintf(msg, sizeof msg, "not ready within start_timeout (%llu ms): "
	    "the plugin did not call loopd_task_ready()",
	    (unsigned long long)t->host->start_timeout_ms);
	task_end(t, "start_timeout", msg);
}

static void
task_ready_timer_stop(struct loopd_task *t)
{
	if (t->ready_timer != NULL) {
		event_free(t->ready_timer);
		t->ready_timer = NULL;
	}
}

int
task_ready(struct loopd_task *t)
{
	if (!task_notifies_ready(t))
		return -LOOPD_EINVAL;
	if (t->ready || t->ending || t->state != TASK_STARTING)
		return -LOOPD_ESTATE;
	t->ready = 1;
	if (t->in_start)
		return 0;	/* running once start returns 0 */
	task_ready_timer_stop(t);
	task_set_state(t, TASK_RUNNING);
	return 0;
}

void
task_start(struct loopd_task *t)
{
	struct plugin_error perr;
	int rc;

	/* A plugin's constructors run in the load. */
	task_enter(t, (task_fn)loader_cache_open);
	if (loader_cache_open(t->host->plugins, t->conf->plugin_path,
	    &t->plugin, &perr) < 0) {
		task_leave(t);
		task_end(t, perr.type, perr.msg);
		return;
	}
	t->host->cb = (task_fn)t->plugin.desc->start;
	t->in_start = 1;
	rc = t->plugin.desc->start(t, &t->args, &t->pstate);
	t->in_start = 0;
	task_leave(t);
	if (rc != 0 && !t->ending) {
		char msg[64];

		snprintf(msg, sizeof msg, "start returned %d", rc);
		task_end(t, "start", msg);
		t->err_cb = (task_fn)t->plugin.desc->start;
	} else if (rc != 0 && t->err_type == NULL) {
		/* Done during start, yet start failed: failed wins. */
		t->err_type = strdup("start");
		t->err_msg = strdup("start failed after loopd_task_done()");
	}
	if (!t->ending)
		task_started(t);
}

void
task_cancel(struct loopd_task *t)
{
	const struct loopd_plugin *d = t->plugin.desc;

	/* Starting: between start and loopd_task_ready(). */
	if ((t->state != TASK_RUNNING && t->state != TASK_STARTING) ||
	    t->in_start || t->ending || d == NULL)
		return;
	task_ready_timer_stop(t);
	task_set_state(t, TASK_CANCELLING);
	if (d->cancel == NULL) {
		loopd_task_done(t);
		return;
	}
	task_enter(t, (task_fn)d->cancel);
	d->cancel(t, t->pstate);
	task_leave(t);
}

void
task_end(struct loopd_task *t, const char *type, const char *msg)
{
	if (t->ending)
		return;
	t->ending = 1;
	post_task_close(t);
	task_ready_timer_stop(t);
	api_disarm_handles(t);	/* none of its callbacks runs from now on */
	if (type != NULL) {
		/* Inside its own code: the function it was in. */
		if (*t->host->running == t->index)
			t->err_cb = t->host->cb;
		t->err_type = strdup(type);
		t->err_msg = strdup(msg ? msg : "");
	}
	t->reaping = 1;
	STAILQ_INSERT_TAIL(&t->host->reap, t, reap_next);
	event_active(t->host->reaper, EV_TIMEOUT, 1);
}

int
task_reconfigure(struct loopd_task *t, const struct conf_node *config)
{
	const struct loopd_plugin *d = t->plugin.desc;
	struct loopd_args args;
	int rc;

	if (t->state != TASK_RUNNING || t->ending || !loader_since(d, 1) ||
	    d->reconfigure == NULL)
		return -1;
	args_init(&args, config, task_args_error, t);
	task_enter(t, (task_fn)d->reconfigure);
	rc = d->reconfigure(t, t->pstate, &args);
	task_leave(t);
	if (rc != 0 || t->ending)
		return -1;
	/* The args start got read the new mapping from now on. */
	t->args = args;
	return 0;
}

/* The end of a task, outside any plugin callback. */
static void
task_reap_one(struct loopd_task *t)
{
	const struct loopd_plugin *d = t->plugin.desc;

	if (t->host->debug)
		debug_report_leaks(t);
	api_release_handles(t);
	executor_task_end(t->host->exec, t);	/* each job's done, then stop */
	if (d != NULL && d->stop != NULL) {
		task_enter(t, (task_fn)d->stop);
		d->stop(t->pstate);
		task_leave(t);
	}
	api_rate_end(t);	/* its drops are said before its end */
	/* Gone before the end is said: the supervisor forgets them then. */
	pmetric_task_end(t);
	t->pstate = NULL;
	task_set_state(t, t->err_type ? TASK_FAILED : TASK_DONE);
}

/*
 * The host's reaper: each ended task in turn, in the order they ended.
 * One at a time off the list, since a state change may free the task (and
 * the last one the reaper) or end others, which join the list.
 */
static void
task_reap(evutil_socket_t fd, short what, void *arg)
{
	struct task_host *host = arg;
	struct loopd_task *t;

	while ((t = STAILQ_FIRST(&host->reap)) != NULL) {
		STAILQ_REMOVE_HEAD(&host->reap, reap_next);
		t->reaping = 0;
		task_reap_one(t);
	}
}

void
task_free(struct loopd_task *t)
{
	if (t == NULL)
		return;
	if (t->state != TASK_DONE && t->state != TASK_FAILED) {
		/* Never reaped: nothing of the task may outlive it. */
		post_task_close(t);
		api_release_handles(t);
		executor_task_end(t->host->exec, t);
		if (t->plugin.desc != NULL && t->plugin.desc->stop != NULL) {
			task_enter(t, (task_fn)t->plugin.desc->stop);
			t->plugin.desc->stop(t->pstate);
			task_leave(t);
		}
		pmetric_task_end(t);
	}
	api_rate_end(t);
	task_ready_timer_stop(t);
	/* exit_process and destructors may run in the unload. */
	task_enter(t, (task_fn)loader_cache_close);
	loader_cache_close(t->host->plugins, &t->plugin);
	task_leave(t);
	if (t->reaping)
		STAILQ_REMOVE(&t->host->reap, t, loopd_task, reap_next);
	task_host_release(t->host);
	free(t->err_type);
	free(t->err_msg);
	free(t);
}
