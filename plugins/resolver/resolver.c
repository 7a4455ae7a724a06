/*
 * resolver: an HTTP endpoint that resolves names with getaddrinfo(), a
 * blocking call, on the loop's executor.  The README's example of
 * loopd_run_in_executor().
 *
 *   config:
 *     address: 127.0.0.1
 *     port: 8053          # 0 picks one and logs it
 *     timeout: 2s         # a lookup slower than this answers 504
 *
 *   GET /resolve?name=HOST  ->  200, one address per line
 *                               404 unknown name, 503 busy, 504 too slow
 *
 * On cancel it stops accepting, lets the lookups in flight answer, then
 * ends.  A lookup that timed out goes on in its pool thread and frees
 * itself (loopd_job_orphaned()).
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <loopd/plugin.h>

struct resolver {
	loopd_task		*task;
	struct evhttp		*http;
	struct evhttp_bound_socket *listener;
	uint64_t		 timeout_ms;
	int			 inflight;
	int			 cancelling;
};

struct lookup {
	struct resolver		*r;	/* the work never touches these two */
	struct evhttp_request	*req;
	char			 name[256];
	struct addrinfo		*res;	/* written by the work */
	int			 rc;
};

static void
lookup_free(struct lookup *lk)
{
	if (lk->res != NULL)
		freeaddrinfo(lk->res);
	free(lk);
}

/* On a pool thread: may block as long as it likes. */
static void
lookup_work(void *arg)
{
	struct lookup *lk = arg;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };

	lk->rc = getaddrinfo(lk->name, NULL, &hints, &lk->res);
	if (loopd_job_orphaned())
		lookup_free(lk);	/* timed out or cancelled: ours */
}

static void
reply(struct evhttp_request *req, int code, const char *why,
    struct evbuffer *body)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain");
	evhttp_send_reply(req, code, why, body);
}

static void
reply_addresses(struct lookup *lk)
{
	struct evbuffer *body = evbuffer_new();
	struct addrinfo *ai;
	char host[NI_MAXHOST];

	if (body == NULL) {
		reply(lk->req, 500, "Internal Server Error", NULL);
		return;
	}
	for (ai = lk->res; ai != NULL; ai = ai->ai_next)
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host,
		    NULL, 0, NI_NUMERICHOST) == 0)
			evbuffer_add_printf(body, "%s\n", host);
	reply(lk->req, 200, "OK", body);
	evbuffer_free(body);
}

static void
resolver_finish(struct resolver *r)
{
	if (r->http != NULL)
		evhttp_free(r->http);
	r->http = NULL;
	loopd_task_done(r->task);
}

/* On the loop thread, once per lookup. */
static void
lookup_done(loopd_task *t, void *arg, int status)
{
	struct lookup *lk = arg;
	struct resolver *r = lk->r;

	switch (status & LOOPD_JOB_STATUS) {
	case LOOPD_JOB_FINISHED:
		if (lk->rc != 0)
			reply(lk->req, 404, "Not Found", NULL);
		else
			reply_addresses(lk);
		break;
	case LOOPD_JOB_TIMEDOUT:
		reply(lk->req, 504, "Gateway Timeout", NULL);
		break;
	case LOOPD_JOB_REJECTED:
		reply(lk->req, 503, "Service Unavailable", NULL);
		break;
	case LOOPD_JOB_CANCELLED:
		break;	/* the task is ending: evhttp_free() closes it */
	}
	if (!(status & LOOPD_JOB_RUNNING))
		lookup_free(lk);	/* else the work frees it */
	if (--r->inflight == 0 && r->cancelling &&
	    (status & LOOPD_JOB_STATUS) != LOOPD_JOB_CANCELLED)
		resolver_finish(r);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct resolver *r = arg;
	struct evkeyvalq q;
	const char *path, *query, *name;
	struct lookup *lk;
	int rc;

	path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (path == NULL || strcmp(path, "/resolve") != 0 || query == NULL ||
	    evhttp_parse_query_str(query, &q) < 0) {
		reply(req, 400, "Bad Request", NULL);
		return;
	}
	name = evhttp_find_header(&q, "name");
	if (name == NULL || *name == '\0' || strlen(name) >= 256 ||
	    (lk = calloc(1, sizeof *lk)) == NULL) {
		evhttp_clear_headers(&q);
		reply(req, 400, "Bad Request", NULL);
		return;
	}
	strcpy(lk->name, name);
	evhttp_clear_headers(&q);
	lk->r = r;
	lk->req = req;
	rc = loopd_run_in_executor(r->task, lookup_work, lookup_done, lk,
	    r->timeout_ms);
	if (rc == 0 || rc == -LOOPD_EFULL) {
		r->inflight++;		/* lookup_done answers, even a 503 */
		return;
	}
	free(lk);
	reply(req, 503, "Service Unavailable", NULL);
}

static int
resolver_start(loopd_task *t, const loopd_args *args, void **state)
{
	struct resolver *r;
	const char *address = loopd_args_string(args, "address", "127.0.0.1");
	int64_t port = loopd_args_int(args, "port", 8053);
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;

	if (loopd_task_ending(t) || (r = calloc(1, sizeof *r)) == NULL)
		return -1;
	*state = r;
	r->task = t;
	r->timeout_ms = (uint64_t)loopd_args_duration_ms(args, "timeout", 2000);
	if ((r->http = evhttp_new(loopd_task_base(t))) == NULL ||
	    (r->listener = evhttp_bind_socket_with_handle(r->http, address,
	    (uint16_t)port)) == NULL) {
		loopd_task_fail(t, "io", "cannot listen on %s:%lld", address,
		    (long long)port);
		return -1;
	}
	evhttp_set_gencb(r->http, on_request, r);
	if (getsockname(evhttp_bound_socket_get_fd(r->listener),
	    (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	loopd_log(t, LOOPD_LOG_INFO, "listening on %s:%lld", address,
	    (long long)port);
	return 0;
}

static void
resolver_cancel(loopd_task *t, void *state)
{
	struct resolver *r = state;

	r->cancelling = 1;
	evhttp_del_accept_socket(r->http, r->listener);
	loopd_log(t, LOOPD_LOG_INFO, "draining %d lookups", r->inflight);
	if (r->inflight == 0)
		resolver_finish(r);
}

static void
resolver_stop(void *state)
{
	struct resolver *r = state;

	if (r != NULL && r->http != NULL)
		evhttp_free(r->http);
	free(r);
}

LOOPD_PLUGIN(.name = "resolver", .version = "1.0",
    .description = "resolves names over HTTP, on the executor",
    .start = resolver_start, .cancel = resolver_cancel,
    .stop = resolver_stop);
