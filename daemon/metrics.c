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

	family(b, "loopd_worker_restarts_total", "counter", "Restarts of the "
	    "loop's worker process since loopd started.");
	json_array_foreach(loops, i, l) {
		loop_sample(b, "loopd_worker_restarts_total", l);
		evbuffer_add_printf(b, "} %lld\n", (long long)
		    json_integer_value(json_object_get(l, "restarts")));
	}

	family(b, "loopd_worker_resident_memory_bytes", "gauge", "Resident "
	    "memory of the loop's worker process.");
	json_array_foreach(loops, i, l)
		if (json_is_integer(v = json_object_get(l, "rss_bytes"))) {
			loop_sample(b, "loopd_worker_resident_memory_bytes",
			    l);
			evbuffer_add_printf(b, "} %lld\n",
			    (long long)json_integer_value(v));
		}

	family(b, "loopd_worker_open_fds", "gauge", "Open file descriptors "
	    "of the loop's worker process.");
	json_array_foreach(loops, i, l)
		if (json_is_integer(v = json_object_get(l, "open_fds"))) {
			loop_sample(b, "loopd_worker_open_fds", l);
			evbuffer_add_printf(b, "} %lld\n",
			    (long long)json_integer_value(v));
		}

	family(b, "loopd_log_records_dropped_total", "counter", "Log records "
	    "dropped because the log output did not keep up.");
	evbuffer_add_printf(b, "loopd_log_records_dropped_total %lld\n",
	    (long long)json_integer_value(json_object_get(st,
	    "log_dropped")));
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
