/*
 * control.c: the control socket (see control.h).
 *
 * The listener accepts on the supervisor's loop; each client is a
 * bufferevent.  A request is read only when the previous response has
 * been written, a line longer than CONTROL_LINE_MAX is refused, and a
 * client that sends something wrong is answered and then closed once the
 * answer is out.  What is asked goes to the supervisor (supervisor.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "control.h"
#include "log.h"
#include "supervisor.h"

enum control_access {
	CONTROL_NONE,
	CONTROL_READ,		/* status, version */
	CONTROL_ALL,
};

struct control_client {
	struct control		*c;
	struct bufferevent	*bev;
	enum control_access	 access;
	int			 waiting;	/* for a reload's outcome */
	int			 closing;	/* once the answer is out */
	struct control_client	*next;
};

struct control {
	struct supervisor	*sv;
	struct evconnlistener	*listener;
	char			*path;
	dev_t			 dev;		/* of the file we bound */
	ino_t			 ino;
	long			 gid, ro_gid;
	struct control_client	*clients;
	size_t			 nclients;
};

static void	control_read_cb(struct bufferevent *, void *);

static void
control_client_free(struct control_client *cl)
{
	struct control_client **pp;

	for (pp = &cl->c->clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	cl->c->nclients--;
	bufferevent_free(cl->bev);
	free(cl);
}

/* One response line; reading waits until it is written. */
static void
control_send(struct control_client *cl, json_t *resp)
{
	char *s;

	if (resp == NULL)
		resp = json_pack("{s:i, s:b, s:s}", "v", CONTROL_VERSION, "ok",
		    0, "error", "out of memory");
	s = resp != NULL ? json_dumps(resp, JSON_COMPACT |
	    JSON_REAL_PRECISION(6)) : NULL;
	json_decref(resp);
	if (s == NULL) {
		cl->closing = 1;
		return;
	}
	evbuffer_add(bufferevent_get_output(cl->bev), s, strlen(s));
	evbuffer_add(bufferevent_get_output(cl->bev), "\n", 1);
	free(s);
	bufferevent_disable(cl->bev, EV_READ);
}

static void
control_error(struct control_client *cl, const char *why, int close)
{
	control_send(cl, json_pack("{s:i, s:b, s:s}", "v", CONTROL_VERSION,
	    "ok", 0, "error", why));
	if (close)
		cl->closing = 1;
}

static json_t *
control_ok(void)
{
	return json_pack("{s:i, s:b}", "v", CONTROL_VERSION, "ok", 1);
}

static const char *const control_cmds[] = {
	[CONTROL_CMD_STATUS] = "status",
	[CONTROL_CMD_VERSION] = "version",
	[CONTROL_CMD_RELOAD] = "reload",
	[CONTROL_CMD_STOP] = "stop",
	[CONTROL_CMD_START] = "start",
	[CONTROL_CMD_RESTART] = "restart",
};

int
control_parse(const char *line, size_t len, struct control_req *out,
    const char **why)
{
	const char *cmd, *target = NULL;
	json_t *req, *v;
	json_error_t jerr;
	size_t i;
	int wait = 0;

	memset(out, 0, sizeof *out);
	if ((req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL || !json_is_object(req)) {
		json_decref(req);
		*why = "malformed request: not a JSON object on one line";
		return -1;
	}
	v = json_object_get(req, "v");
	cmd = json_string_value(json_object_get(req, "cmd"));
	if (!json_is_integer(v) || cmd == NULL ||
	    json_unpack(req, "{s?b, s?s}", "wait", &wait, "target",
	    &target) < 0) {
		json_decref(req);
		*why = "malformed request: it needs \"v\" (an integer) and "
		    "\"cmd\" (a string)";
		return -1;
	}
	if (json_integer_value(v) != CONTROL_VERSION) {
		json_decref(req);
		*why = "unsupported protocol version: this loopd speaks "
		    "version 1";
		return -1;
	}
	out->cmd = CONTROL_CMD_UNKNOWN;
	for (i = 0; i < sizeof control_cmds / sizeof control_cmds[0]; i++)
		if (strcmp(cmd, control_cmds[i]) == 0)
			out->cmd = (enum control_cmd)i;
	out->name = cmd;
	out->target = target;
	out->wait = wait;
	out->json = req;
	return 0;
}

void
control_req_free(struct control_req *r)
{
	json_decref(r->json);
	memset(r, 0, sizeof *r);
}

/* One request line: answered now, or (reload with wait) later. */
static void
control_request(struct control_client *cl, const char *line, size_t len)
{
	struct control *c = cl->c;
	struct control_req r;
	const char *why;
	json_t *resp;
	char msg[256];

	if (control_parse(line, len, &r, &why) < 0) {
		control_error(cl, why, 1);
		return;
	}
	if (cl->access == CONTROL_NONE || (cl->access == CONTROL_READ &&
	    r.cmd != CONTROL_CMD_STATUS && r.cmd != CONTROL_CMD_VERSION)) {
		control_error(cl, cl->access == CONTROL_NONE ? "permission "
		    "denied: only root and the control group may use this "
		    "socket" : "permission denied: read-only access (status "
		    "and version)", cl->access == CONTROL_NONE);
		control_req_free(&r);
		return;
	}
	switch (r.cmd) {
	case CONTROL_CMD_STATUS:
		if ((resp = control_ok()) != NULL)
			json_object_set_new(resp, "status",
			    supervisor_status(c->sv));
		control_send(cl, resp);
		break;
	case CONTROL_CMD_VERSION:
		if ((resp = control_ok()) != NULL)
			json_object_set_new(resp, "version",
			    json_string(LOOPD_VERSION));
		control_send(cl, resp);
		break;
	case CONTROL_CMD_RELOAD:
		if (supervisor_reload(c->sv) < 0)
			control_error(cl, "loopd is shutting down", 0);
		else if (r.wait) {
			cl->waiting = 1;
			bufferevent_disable(cl->bev, EV_READ);
		} else
			control_send(cl, control_ok());
		break;
	case CONTROL_CMD_STOP:
	case CONTROL_CMD_START:
	case CONTROL_CMD_RESTART:
		if (r.target == NULL)
			control_error(cl, "malformed request: this command "
			    "needs \"target\": \"LOOP\" or \"LOOP/TASK\"", 1);
		else if (supervisor_command(c->sv, r.name, r.target, msg,
		    sizeof msg) < 0)
			control_error(cl, msg, 0);
		else if ((resp = control_ok()) != NULL) {
			json_object_set_new(resp, "msg", json_string(msg));
			control_send(cl, resp);
		} else
			control_send(cl, NULL);
		break;
	case CONTROL_CMD_UNKNOWN:
		control_error(cl, "unknown command: the commands are status, "
		    "version, reload, stop, start and restart", 0);
		break;
	}
	control_req_free(&r);
}

/* Whole lines while there is no answer in flight. */
static void
control_read_cb(struct bufferevent *bev, void *arg)
{
	struct control_client *cl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_ptr eol;
	size_t len;
	char *line;

	while (!cl->closing && !cl->waiting &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		eol = evbuffer_search(in, "\n", 1, NULL);
		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > CONTROL_LINE_MAX)
				control_error(cl, "request too long: the limit "
				    "is 65536 bytes", 1);
			break;
		}
		len = (size_t)eol.pos;
		if (len > CONTROL_LINE_MAX) {
			control_error(cl, "request too long: the limit is "
			    "65536 bytes", 1);
			break;
		}
		if ((line = malloc(len + 1)) == NULL) {
			cl->closing = 1;
			break;
		}
		evbuffer_remove(in, line, len + 1);
		control_request(cl, line, len);
		free(line);
	}
	if (cl->closing && evbuffer_get_length(bufferevent_get_output(bev)) ==
	    0)
		control_client_free(cl);
}

/* The answer is out: close, or read the next request. */
static void
control_write_cb(struct bufferevent *bev, void *arg)
{
	struct control_client *cl = arg;

	if (cl->closing) {
		control_client_free(cl);
		return;
	}
	if (!cl->waiting) {
		bufferevent_enable(bev, EV_READ);
		control_read_cb(bev, cl);
	}
}

static void
control_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct control_client *cl = arg;

	/* A client that shut down its side still gets its answer. */
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		cl->closing = 1;
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		control_client_free(cl);
}

static int
control_in_group(gid_t want, gid_t gid, const gid_t *groups, int n)
{
	int i;

	if (gid == want)
		return 1;
	for (i = 0; i < n; i++)
		if (groups[i] == want)
			return 1;
	return 0;
}

/* What the peer may do, from its credentials and groups. */
static enum control_access
control_access_of(const struct control *c, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	gid_t groups[256];
	socklen_t glen = sizeof groups;
	int n = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return CONTROL_NONE;
	if (cred.uid == 0 || cred.uid == geteuid())
		return CONTROL_ALL;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &glen) == 0)
		n = (int)(glen / sizeof groups[0]);
	if (c->gid >= 0 && control_in_group((gid_t)c->gid, cred.gid, groups,
	    n))
		return CONTROL_ALL;
	if (c->ro_gid >= 0 && control_in_group((gid_t)c->ro_gid, cred.gid,
	    groups, n))
		return CONTROL_READ;
	return CONTROL_NONE;
}

static void
control_accept_cb(struct evconnlistener *lis, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	static const char busy[] = "{\"v\":1,\"ok\":false,\"error\":\"too many "
	    "control clients\"}\n";
	struct control *c = arg;
	struct control_client *cl;

	if (c->nclients >= CONTROL_CLIENTS_MAX) {
		(void)send(fd, busy, sizeof busy - 1, MSG_DONTWAIT |
		    MSG_NOSIGNAL);
		close(fd);
		return;
	}
	if ((cl = calloc(1, sizeof *cl)) == NULL ||
	    (cl->bev = bufferevent_socket_new(evconnlistener_get_base(lis), fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(cl);
		close(fd);
		return;
	}
	cl->c = c;
	cl->access = control_access_of(c, fd);
	cl->next = c->clients;
	c->clients = cl;
	c->nclients++;
	bufferevent_setcb(cl->bev, control_read_cb, control_write_cb,
	    control_event_cb, cl);
	bufferevent_enable(cl->bev, EV_READ);
}

void
control_reloaded(struct control *c, const json_t *outcome)
{
	struct control_client *cl;
	json_t *resp;

	if (c == NULL)
		return;
	for (cl = c->clients; cl != NULL; cl = cl->next) {
		if (!cl->waiting)
			continue;
		cl->waiting = 0;
		resp = json_pack("{s:i, s:O, s:O}", "v", CONTROL_VERSION, "ok",
		    json_object_get(outcome, "ok"), "reload", outcome);
		control_send(cl, resp);
	}
}

/* Is something listening on path?  Then it is not ours to take. */
static int
control_in_use(const struct sockaddr_un *sun)
{
	int fd, rc;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	rc = connect(fd, (const struct sockaddr *)sun, sizeof *sun);
	close(fd);
	return rc == 0;
}

/* The socket file: bound with no access for others, then given its mode
 * and group.  The listening fd, or -1 with *why. */
static int
control_bind(struct control *c, unsigned mode, int dflt, const char **why)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat st;
	char dir[sizeof sun.sun_path], *slash;
	mode_t old;
	int fd, rc;

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", c->path);
	if (lstat(c->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*why = "the path exists and is not a socket";
			errno = EEXIST;
			return -1;
		}
		if (control_in_use(&sun)) {
			*why = "another process listens on it";
			errno = EADDRINUSE;
			return -1;
		}
		unlink(c->path);	/* stale: a loopd that died */
	}
	if (dflt) {
		/* /run/loopd, when systemd did not make it
		 * (RuntimeDirectory=). */
		snprintf(dir, sizeof dir, "%s", c->path);
		if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
			*slash = '\0';
			(void)mkdir(dir, 0755);
		}
	}
	*why = "socket";
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0)
		return -1;
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	*why = "bind";
	if (rc < 0)
		goto fail;
	*why = "chmod or chown of the socket file";
	if (chmod(c->path, (mode_t)mode) < 0 || (c->gid >= 0 &&
	    chown(c->path, (uid_t)-1, (gid_t)c->gid) < 0) ||
	    stat(c->path, &st) < 0)
		goto unlink;
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	*why = "listen";
	if (listen(fd, 16) < 0)
		goto unlink;
	return fd;
unlink:
	rc = errno;
	unlink(c->path);
	errno = rc;
fail:
	rc = errno;
	close(fd);
	errno = rc;
	return -1;
}

int
control_open(struct control **cp, struct event_base *base,
    const struct conf *conf, struct supervisor *sv)
{
	const char *path = conf->control_socket != NULL ?
	    conf->control_socket : CONF_DEFAULT_CONTROL_SOCKET;
	struct control *c;
	const char *why = "memory";
	json_t *r;
	int fd = -1, e;

	*cp = NULL;
	if ((c = calloc(1, sizeof *c)) == NULL ||
	    (c->path = strdup(path)) == NULL)
		goto fail;
	c->sv = sv;
	c->gid = conf->control_gid;
	c->ro_gid = conf->control_ro_gid;
	if ((fd = control_bind(c, conf->control_mode,
	    !conf->control_explicit, &why)) < 0)
		goto fail;
	why = "listener";
	if ((c->listener = evconnlistener_new(base, control_accept_cb, c,
	    LEV_OPT_CLOSE_ON_FREE, -1, fd)) == NULL) {
		close(fd);
		unlink(c->path);
		goto fail;
	}
	*cp = c;
	return 0;
fail:
	e = errno;
	r = log_record(conf->control_explicit ? LOOPD_LOG_ERROR :
	    LOOPD_LOG_INFO, "control socket %s: %s: %s%s", path, why,
	    strerror(e), conf->control_explicit ? "" : "; running without "
	    "one (set control.socket)");
	log_add(r, "event", "control_socket");
	log_emit(r);
	if (c != NULL)
		free(c->path);
	free(c);
	errno = e;
	return conf->control_explicit ? -1 : 0;
}

void
control_free(struct control *c)
{
	struct stat st;

	if (c == NULL)
		return;
	while (c->clients != NULL)
		control_client_free(c->clients);
	evconnlistener_free(c->listener);
	/* Only the file we made: a later loopd may have taken the path. */
	if (stat(c->path, &st) == 0 && st.st_dev == c->dev &&
	    st.st_ino == c->ino)
		unlink(c->path);
	free(c->path);
	free(c);
}
