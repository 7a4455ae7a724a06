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
#include "post.h"
#include "task.h"

static const char *const state_names[] = {
	"starting", "running", "cancelling", "done", "failed",
};

static void	task_reap(evutil_socket_t, short, void *);

const char *
task_state_name(enum task_state s)
{
	return state_names[s];
}

uint64_t
task_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
task_timed_leave(struct loopd_task *t)
{
	uint64_t ns = task_now_ns() - t->host->enter_ns;

	if (ns > t->host->slow_ns)
		debug_slow_api(t, ns);
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
	if ((t->reaper = event_new(host->base, -1, 0, task_reap, t)) == NULL) {
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
	rc = t->plugin.desc->start(t, &t->args, &t->pstate);
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
		task_set_state(t, TASK_RUNNING);
}

void
task_cancel(struct loopd_task *t)
{
	const struct loopd_plugin *d = t->plugin.desc;

	if (t->state != TASK_RUNNING || t->ending)
		return;
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
	api_disarm_handles(t);	/* none of its callbacks runs from now on */
	if (type != NULL) {
		/* Inside its own code: the function it was in. */
		if (*t->host->running == t->index)
			t->err_cb = t->host->cb;
		t->err_type = strdup(type);
		t->err_msg = strdup(msg ? msg : "");
	}
	event_active(t->reaper, EV_TIMEOUT, 1);
}

/* The end of a task, outside any plugin callback. */
static void
task_reap(evutil_socket_t fd, short what, void *arg)
{
	struct loopd_task *t = arg;
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
	t->pstate = NULL;
	task_set_state(t, t->err_type ? TASK_FAILED : TASK_DONE);
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
	}
	loader_cache_close(t->host->plugins, &t->plugin);
	event_free(t->reaper);
	free(t->err_type);
	free(t->err_msg);
	free(t);
}
