/*
 * metrics.c: /metrics and /healthz over evhttp (see metrics.h).
 *
 * Both are rendered from what the supervisor says at that moment; nothing
 * is kept here between requests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include <jansson.h>

#include "log.h"
#include "metrics.h"
#include "supervisor.h"
#include "wstats.h"

struct metrics {
	struct supervisor	*sv;
	struct evhttp		*http;
};

static const char *const task_states[] = {
	"starting", "running", "cancelling", "restarting", "stopped", "ended",
	"failed",
};

/* A label value, escaped as the text format wants. */
static void
put_label(struct evbuffer *b, const char *name, const char *v)
{
	evbuffer_add_printf(b, "%s=\"", name);
	for (; v != NULL && *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(b, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
	evbuffer_add(b, "\"", 1);
}

static void
family(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

static const char *
str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* name{loop="..",task="..",plugin=".."} */
static void
task_sample(struct evbuffer *b, const char *name, const json_t *l,
    const json_t *t)
{
	evbuffer_add_printf(b, "%s{", name);
	put_label(b, "loop", str(l, "name"));
	evbuffer_add(b, ",", 1);
	put_label(b, "task", str(t, "name"));
	evbuffer_add(b, ",", 1);
	put_label(b, "plugin", str(t, "plugin"));
}

static void
loop_sample(struct evbuffer *b, const char *name, const json_t *l)
{
	evbuffer_add_printf(b, "%s{", name);
	put_label(b, "loop", str(l, "name"));
}

static void
errors_samples(struct evbuffer *b, const json_t *l, const json_t *t)
{
	const json_t *errs = json_object_get(t != NULL ? t : l, "errors");
	const char *type;
	json_t *n;

	json_object_foreach((json_t *)errs, type, n) {
		loop_sample(b, "loopd_errors_total", l);
		evbuffer_add(b, ",", 1);
		put_label(b, "task", t != NULL ? str(t, "name") : "");
		evbuffer_add(b, ",", 1);
		put_label(b, "type", type);
		evbuffer_add_printf(b, "} %lld\n",
		    (long long)json_integer_value(n));
	}
}

/* o's member at path, "key" or "a.b.key"; NULL when there is none. */
static const json_t *
member(const json_t *o, const char *path)
{
	const char *dot;
	char part[32];

	while ((dot = strchr(path, '.')) != NULL) {
		snprintf(part, sizeof part, "%.*s", (int)(dot - path), path);
		o = json_object_get(o, part);
		path = dot + 1;
	}
	return json_object_get(o, path);
}

/* A family of one sample per loop: the integer at path in the loop's
 * status, none where there is none (a worker that does not run has no
 * stats, rss_bytes or open_fds). */
static void
loop_int_samples(struct evbuffer *b, const json_t *loops, const char *name,
    const char *type, const char *help, const char *path)
{
	const json_t *l, *o;
	size_t i;

	family(b, name, type, help);
	json_array_foreach(loops, i, l) {
		if (!json_is_integer(o = member(l, path)))
			continue;
		loop_sample(b, name, l);
		evbuffer_add_printf(b, "} %lld\n",
		    (long long)json_integer_value(o));
	}
}

static void
render_stats(struct evbuffer *b, const json_t *loops)
{
	const json_t *l, *st, *le;
	uint64_t bound;
	unsigned k;
	size_t i;

	family(b, "loopd_loop_lag_seconds", "histogram", "How late the "
	    "loop's heartbeat tick fired: what its callbacks held it up.");
	json_array_foreach(loops, i, l) {
		if ((st = json_object_get(l, "stats")) == NULL ||
		    json_array_size(le = json_object_get(st, "lag_le")) !=
		    WSTATS_LAG_BUCKETS)
			continue;
		for (k = 0; k < WSTATS_LAG_BUCKETS; k++) {
			loop_sample(b, "loopd_loop_lag_seconds_bucket", l);
			bound = wstats_lag_bound(k);
			if (bound == UINT64_MAX)
				evbuffer_add_printf(b, ",le=\"+Inf\"");
			else
				evbuffer_add_printf(b, ",le=\"%g\"",
				    (double)bound / 1e6);
			evbuffer_add_printf(b, "} %lld\n", (long long)
			    json_integer_value(json_array_get(le, k)));
		}
		loop_sample(b, "loopd_loop_lag_seconds_sum", l);
		evbuffer_add_printf(b, "} %.6f\n", json_real_value(
		    json_object_get(st, "lag_sum_s")));
		loop_sample(b, "loopd_loop_lag_seconds_count", l);
		evbuffer_add_printf(b, "} %lld\n", (long long)
		    json_integer_value(json_object_get(st, "lag_count")));
	}
	loop_int_samples(b, loops, "loopd_loop_callbacks_total", "counter",
	    "Plugin callbacks the loop has run.", "stats.callbacks");
	loop_int_samples(b, loops, "loopd_loop_slow_callbacks_total",
	    "counter", "Plugin callbacks longer than slow_callback (debug "
	    "mode only).", "stats.slow_callbacks");
	loop_int_samples(b, loops, "loopd_executor_queue_depth", "gauge",
	    "Jobs queued in the loop's executor.",
	    "stats.executor.queue_depth");
	loop_int_samples(b, loops, "loopd_executor_active_jobs", "gauge",
	    "Jobs running in the loop's executor.",
	    "stats.executor.active_jobs");
	loop_int_samples(b, loops, "loopd_executor_jobs_completed_total",
	    "counter", "Executor jobs finished.", "stats.executor.completed");
	loop_int_samples(b, loops, "loopd_executor_jobs_rejected_total",
	    "counter", "Executor jobs rejected: the queue was full.",
	    "stats.executor.rejected");
	loop_int_samples(b, loops, "loopd_executor_jobs_timed_out_total",
	    "counter", "Executor jobs that timed out.",
	    "stats.executor.timed_out");
}

static void
render(struct evbuffer *b, const json_t *st)
{
	const json_t *loops = json_object_get(st, "loops"), *l, *t, *v;
	size_t i, j, k;

	family(b, "loopd_build_info", "gauge", "loopd's version.");
	evbuffer_add(b, "loopd_build_info{", 17);
	put_label(b, "version", str(st, "version"));
	evbuffer_add_printf(b, "} 1\n");

	family(b, "loopd_task_state", "gauge", "1 for the state each task is "
	    "in.");
	json_array_foreach(loops, i, l)
		json_array_foreach(json_object_get(l, "tasks"), j, t)
			for (k = 0; k < sizeof task_states /
			    sizeof task_states[0]; k++) {
				task_sample(b, "loopd_task_state", l, t);
				evbuffer_add(b, ",", 1);
				put_label(b, "state", task_states[k]);
				evbuffer_add_printf(b, "} %d\n", strcmp(str(t,
				    "state"), task_states[k]) == 0);
			}

	family(b, "loopd_task_restarts_total", "counter", "Restarts of each "
	    "task since loopd started.");
	json_array_foreach(loops, i, l)
		json_array_foreach(json_object_get(l, "tasks"), j, t) {
			task_sample(b, "loopd_task_restarts_total", l, t);
			evbuffer_add_printf(b, "} %lld\n", (long long)
			    json_integer_value(json_object_get(t,
			    "restarts")));
		}

	family(b, "loopd_task_uptime_seconds", "gauge", "How long each "
	    "running task has been running.");
	json_array_foreach(loops, i, l)
		json_array_foreach(json_object_get(l, "tasks"), j, t)
			if (json_is_real(v = json_object_get(t, "uptime_s"))) {
				task_sample(b, "loopd_task_uptime_seconds", l,
				    t);
				evbuffer_add_printf(b, "} %.3f\n",
				    json_real_value(v));
			}

	family(b, "loopd_errors_total", "counter", "Task errors, crashes and "
	    "hangs by type; task is empty when no task was to blame.");
	json_array_foreach(loops, i, l) {
		errors_samples(b, l, NULL);
		json_array_foreach(json_object_get(l, "tasks"), j, t)
			errors_samples(b, l, t);
	}

	family(b, "loopd_worker_up", "gauge", "1 when the loop's worker "
	    "process runs.");
	json_array_foreach(loops, i, l) {
		loop_sample(b, "loopd_worker_up", l);
		evbuffer_add_printf(b, "} %d\n",
		    json_is_integer(json_object_get(l, "pid")));
	}

	family(b, "loopd_worker_hung", "gauge", "1 while the loop has not "
	    "turned for longer than its hang_timeout.");
	json_array_foreach(loops, i, l) {
		loop_sample(b, "loopd_worker_hung", l);
		evbuffer_add_printf(b, "} %d\n",
		    json_is_true(json_object_get(l, "hung")));
	}

	loop_int_samples(b, loops, "loopd_worker_restarts_total", "counter",
	    "Restarts of the loop's worker process since loopd started.",
	    "restarts");
	loop_int_samples(b, loops, "loopd_worker_resident_memory_bytes",
	    "gauge", "Resident memory of the loop's worker process.",
	    "rss_bytes");
	loop_int_samples(b, loops, "loopd_worker_open_fds", "gauge",
	    "Open file descriptors of the loop's worker process.", "open_fds");

	render_stats(b, loops);

	family(b, "loopd_log_records_dropped_total", "counter", "Log records "
	    "dropped because the log output did not keep up.");
	evbuffer_add_printf(b, "loopd_log_records_dropped_total %lld\n",
	    (long long)json_integer_value(json_object_get(st,
	    "log_dropped")));
}

/* A # HELP text, escaped as the text format wants. */
static void
put_help(struct evbuffer *b, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(b, "# HELP %s ", name);
	if (help == NULL || *help == '\0')
		help = "A metric of a loopd plugin.";
	for (; *help != '\0'; help++) {
		if (*help == '\\')
			evbuffer_add(b, "\\\\", 2);
		else if (*help == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, help, 1);
	}
	evbuffer_add_printf(b, "\n# TYPE %s %s\n", name, type);
}

/*
 * The plugins' metrics (supervisor_plugin_metrics()), one family per
 * exported name: loopd_plugin_NAME_total for a counter, loopd_plugin_NAME
 * for a gauge (a name may not end in _total, so the two never meet).  The
 * first declaration's help is the family's.  A task slot replaced by a
 * reload could say the same loop and task for a moment: one sample each.
 */
static void
render_plugins(struct evbuffer *b, json_t *pm)
{
	json_t *fams = json_object(), *fam, *seen, *m;
	const char *kind, *key;
	char name[160], *who;
	size_t i, j;

	json_array_foreach(pm, i, m) {
		kind = str(m, "kind");
		snprintf(name, sizeof name, "loopd_plugin_%s%s", str(m, "name"),
		    strcmp(kind, "counter") == 0 ? "_total" : "");
		if ((fam = json_object_get(fams, name)) == NULL) {
			fam = json_pack("{s:s, s:s, s:[], s:{}}", "kind", kind,
			    "help", str(m, "help"), "samples", "seen");
			json_object_set_new(fams, name, fam);
		}
		if (fam == NULL || asprintf(&who, "%s\n%s", str(m, "loop"),
		    str(m, "task")) < 0)
			continue;
		seen = json_object_get(fam, "seen");
		if (json_object_get(seen, who) == NULL) {
			json_object_set_new(seen, who, json_true());
			json_array_append(json_object_get(fam, "samples"), m);
		}
		free(who);
	}
	json_object_foreach(fams, key, fam) {
		put_help(b, key, str(fam, "kind"), str(fam, "help"));
		json_array_foreach(json_object_get(fam, "samples"), j, m) {
			evbuffer_add_printf(b, "%s{", key);
			put_label(b, "loop", str(m, "loop"));
			evbuffer_add(b, ",", 1);
			put_label(b, "task", str(m, "task"));
			evbuffer_add(b, ",", 1);
			put_label(b, "plugin", str(m, "plugin"));
			evbuffer_add_printf(b, "} %lld\n", (long long)
			    json_integer_value(json_object_get(m, "value")));
		}
	}
	json_decref(fams);
}

static void
reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, struct evbuffer *body)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", type);
	evhttp_send_reply(req, code, reason, body);
}

static void
metrics_cb(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	struct evbuffer *b;
	json_t *st;

	if ((b = evbuffer_new()) == NULL ||
	    (st = supervisor_status(m->sv)) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		if (b != NULL)
			evbuffer_free(b);
		return;
	}
	render(b, st);
	json_decref(st);
	if ((st = supervisor_plugin_metrics(m->sv)) != NULL)
		render_plugins(b, st);
	json_decref(st);
	reply(req, HTTP_OK, "OK", "text/plain; version=0.0.4; charset=utf-8",
	    b);
	evbuffer_free(b);
}

static void
healthz_cb(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	json_t *problems = supervisor_health(m->sv), *o;
	struct evbuffer *b = evbuffer_new();
	int ok = json_array_size(problems) == 0;
	char *s;

	o = json_pack("{s:s, s:o}", "status", ok ? "ok" : "unhealthy",
	    "problems", problems != NULL ? problems : json_array());
	if (b == NULL || o == NULL ||
	    (s = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		if (b != NULL)
			evbuffer_free(b);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	json_decref(o);
	evbuffer_add_printf(b, "%s\n", s);
	free(s);
	reply(req, ok ? HTTP_OK : HTTP_SERVUNAVAIL, ok ? "OK" :
	    "Service Unavailable", "application/json", b);
	evbuffer_free(b);
}

static void
other_cb(struct evhttp_request *req, void *arg)
{
	evhttp_send_error(req, HTTP_NOTFOUND, "see /metrics and /healthz");
}

struct metrics *
metrics_open(struct event_base *base, const char *host, unsigned port,
    struct supervisor *sv)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct metrics *m;
	json_t *r;
	int e;

	if ((m = calloc(1, sizeof *m)) == NULL)
		return NULL;
	m->sv = sv;
	if ((m->http = evhttp_new(base)) == NULL)
		goto fail;
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(m->http, 16384);
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_timeout(m->http, 10);
	evhttp_set_cb(m->http, "/metrics", metrics_cb, m);
	evhttp_set_cb(m->http, "/healthz", healthz_cb, m);
	evhttp_set_gencb(m->http, other_cb, m);
	if ((bs = evhttp_bind_socket_with_handle(m->http, host,
	    (ev_uint16_t)port)) == NULL)
		goto fail;
	if (getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&ss, &len) == 0)
		port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	r = log_record(LOOPD_LOG_INFO, "metrics on http://%s:%u/metrics",
	    host, port);
	log_add(r, "event", "metrics_listen");
	log_add_int(r, "port", port);
	log_emit(r);
	return m;
fail:
	e = errno;
	r = log_record(LOOPD_LOG_ERROR, "metrics.listen %s:%u: cannot listen: "
	    "%s", host, port, strerror(e));
	log_add(r, "event", "metrics_listen");
	log_emit(r);
	metrics_free(m);
	errno = e;
	return NULL;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	if (m->http != NULL)
		evhttp_free(m->http);
	free(m);
}
