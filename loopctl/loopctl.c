/*
 * loopctl: ask a running loopd over its control socket (control.h).
 *
 * It finds the socket in the configuration file (control.socket), or is
 * given it with --socket; sends one request, prints the answer for a
 * person (or as JSON with --json) and exits 0 when loopd did what was
 * asked.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "control.h"
#include "errlist.h"
#include "tree.h"

/* Exit statuses; see loopctl(8). */
#define LOOPCTL_EXIT_FAILED	1	/* loopd refused, or the reload failed */
#define LOOPCTL_EXIT_USAGE	2
#define LOOPCTL_EXIT_UNREACHABLE 3	/* no loopd answered */

#define LOOPCTL_TIMEOUT_MS	60000
#define LOOPCTL_REPLY_MAX	(256 * 1024 * 1024)

static const char usage_text[] =
"Usage: loopctl [OPTION]... COMMAND [ARGUMENT]\n"
"Ask a running loopd over its control socket.\n"
"\n"
"Commands:\n"
"  status [--json]           loops and tasks: state, worker pid, uptime,\n"
"                            restarts, loop lag p99, executor queue\n"
"  reload [--wait]           read the configuration file again; with\n"
"                            --wait, print what changed, and exit 1 if\n"
"                            the file has problems (each one listed)\n"
"  stop LOOP[/TASK]          cancel a task, or every task of a loop; it\n"
"                            stays down until started\n"
"  start LOOP[/TASK]         start what was stopped or has ended\n"
"  restart LOOP[/TASK]       stop, then start; a stuck loop's worker is\n"
"                            killed and restarted\n"
"  version                   loopd's version\n"
"\n"
"Options:\n"
"  -s, --socket PATH         the control socket (default: control.socket\n"
"                            of the configuration file, else\n"
"                            " CONF_DEFAULT_CONTROL_SOCKET ")\n"
"  -c, --config FILE         the configuration file to find it in\n"
"                            (default: " LOOPD_CONFIG_FILE ")\n"
"  -j, --json                print loopd's answer as JSON\n"
"  -w, --wait                with reload: wait for its outcome\n"
"  -h, --help                show this help and exit\n"
"\n"
"Exit status: 0 done, 1 loopd refused or the reload failed, 2 usage\n"
"error, 3 loopd could not be reached.\n";

static int
usage(const char *why)
{
	fprintf(stderr, "loopctl: %s\nTry 'loopctl --help' for more "
	    "information.\n", why);
	return LOOPCTL_EXIT_USAGE;
}

/* control.socket of the file at path, new, or NULL. */
static char *
socket_from_config(const char *path)
{
	const struct conf_node *c, *s;
	struct conf_node *top;
	struct errlist el;
	char *text = NULL, *found = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	text = malloc(CONF_FILE_MAX + 1);
	if (text != NULL)
		len = fread(text, 1, CONF_FILE_MAX, f);
	fclose(f);
	if (text == NULL)
		return NULL;
	errlist_init(&el, path);
	top = tree_load(text, len, &el);
	if ((c = tree_map_get(top, "control")) != NULL &&
	    (s = tree_map_get(c, "socket")) != NULL &&
	    s->kind == CONF_SCALAR && s->value != NULL)
		found = strdup(s->value);
	tree_free(top);
	errlist_free(&el);
	free(text);
	return found;
}

static int
dial(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send req, read one line back: the answer, new, or NULL (said). */
static json_t *
ask(const char *path, json_t *req)
{
	struct pollfd pfd;
	json_error_t jerr;
	json_t *resp;
	char *line, *buf = NULL, *nl = NULL, *nb;
	size_t len = 0, cap = 0, at = 0;
	ssize_t n;
	int fd;

	if ((fd = dial(path)) < 0) {
		fprintf(stderr, "loopctl: cannot reach loopd at %s: %s\n",
		    path, strerror(errno));
		return NULL;
	}
	if ((line = json_dumps(req, JSON_COMPACT)) == NULL)
		goto fail;
	len = strlen(line);
	line[len] = '\n';	/* json_dumps left room for the NUL */
	while (at <= len) {
		if ((n = send(fd, line + at, len + 1 - at, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "loopctl: sending to %s: %s\n", path,
			    strerror(errno));
			free(line);
			goto fail;
		}
		at += (size_t)n;
	}
	free(line);
	len = 0;
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (nl == NULL) {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > LOOPCTL_REPLY_MAX ||
			    (nb = realloc(buf, cap)) == NULL) {
				fprintf(stderr, "loopctl: the answer is too "
				    "large\n");
				goto fail;
			}
			buf = nb;
		}
		if (poll(&pfd, 1, LOOPCTL_TIMEOUT_MS) == 0) {
			fprintf(stderr, "loopctl: no answer from loopd within "
			    "%d s\n", LOOPCTL_TIMEOUT_MS / 1000);
			goto fail;
		}
		if ((n = read(fd, buf + len, cap - len - 1)) < 0 &&
		    errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "loopctl: loopd closed the connection "
			    "without an answer%s%s\n", n < 0 ? ": " : "",
			    n < 0 ? strerror(errno) : "");
			goto fail;
		}
		buf[len + (size_t)n] = '\0';
		nl = strchr(buf + len, '\n');
		len += (size_t)n;
	}
	close(fd);
	resp = json_loadb(buf, (size_t)(nl - buf), 0, &jerr);
	free(buf);
	if (resp == NULL || !json_is_object(resp)) {
		fprintf(stderr, "loopctl: loopd's answer is not JSON: %s\n",
		    jerr.text);
		json_decref(resp);
	}
	return resp;
fail:
	free(buf);
	close(fd);
	return NULL;
}

static const char *
str(const json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : dflt;
}

/* A number, or "-" when loopd sent none. */
static const char *
num(const json_t *v, char *buf, size_t len, const char *unit)
{
	if (json_is_integer(v))
		snprintf(buf, len, "%lld%s", (long long)json_integer_value(v),
		    unit);
	else if (json_is_real(v))
		snprintf(buf, len, "%.1f%s", json_real_value(v), unit);
	else
		snprintf(buf, len, "-");
	return buf;
}

static void
print_status(const json_t *st)
{
	const json_t *l, *t;
	char pid[24], up[32], rs[24], lag[32], q[24];
	size_t i, j;

	printf("loopd %s (pid %lld), %s\n", str(st, "version", "?"),
	    (long long)json_integer_value(json_object_get(st, "pid")),
	    str(st, "config", "?"));
	printf("%-20s %-20s %-11s %8s %10s %8s %8s %6s\n", "LOOP", "TASK",
	    "STATE", "PID", "UPTIME", "RESTARTS", "LAG_P99", "QUEUE");
	json_array_foreach(json_object_get(st, "loops"), i, l) {
		printf("%-20s %-20s %-11s %8s %10s %8s %8s %6s\n",
		    str(l, "name", "?"), "-", str(l, "state", "?"),
		    num(json_object_get(l, "pid"), pid, sizeof pid, ""),
		    num(json_object_get(l, "uptime_s"), up, sizeof up, "s"),
		    num(json_object_get(l, "restarts"), rs, sizeof rs, ""),
		    num(json_object_get(l, "lag_p99_ms"), lag, sizeof lag,
		    "ms"), num(json_object_get(l, "executor_queue"), q,
		    sizeof q, ""));
		json_array_foreach(json_object_get(l, "tasks"), j, t)
			printf("%-20s %-20s %-11s %8s %10s %8s %8s %6s\n",
			    str(l, "name", "?"), str(t, "name", "?"),
			    str(t, "state", "?"), pid,
			    num(json_object_get(t, "uptime_s"), up, sizeof up,
			    "s"), num(json_object_get(t, "restarts"), rs,
			    sizeof rs, ""), "-", "-");
	}
}

static void
print_names(const char *what, const json_t *a)
{
	const json_t *v;
	size_t i;

	printf("%s:", what);
	if (json_array_size(a) == 0)
		printf(" none");
	json_array_foreach(a, i, v)
		printf("%s %s", i > 0 ? "," : "", json_string_value(v));
	printf("\n");
}

/* The outcome of reload --wait; 0 when it was applied. */
static int
print_reload(const json_t *r)
{
	const json_t *errs = json_object_get(r, "errors"), *e;
	size_t i;

	if (!json_is_true(json_object_get(r, "ok"))) {
		fprintf(stderr, "loopctl: reload failed: %zu problem%s in %s; "
		    "loopd runs the configuration it had\n",
		    json_array_size(errs), json_array_size(errs) == 1 ? "" :
		    "s", str(r, "file", "the file"));
		json_array_foreach(errs, i, e)
			fprintf(stderr, "%s\n", json_string_value(e));
		return LOOPCTL_EXIT_FAILED;
	}
	printf("reloaded %s\n", str(r, "file", "the configuration"));
	print_names("added", json_object_get(r, "added"));
	print_names("removed", json_object_get(r, "removed"));
	print_names("restarted", json_object_get(r, "restarted"));
	print_names("reconfigured", json_object_get(r, "reconfigured"));
	printf("left alone: %lld\n", (long long)json_integer_value(
	    json_object_get(r, "unchanged")));
	print_names("loops added", json_object_get(r, "loops_added"));
	print_names("loops removed", json_object_get(r, "loops_removed"));
	print_names("loops restarted", json_object_get(r, "loops_restarted"));
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket",	required_argument, NULL, 's' },
		{ "config",	required_argument, NULL, 'c' },
		{ "json",	no_argument,	   NULL, 'j' },
		{ "wait",	no_argument,	   NULL, 'w' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL, *config = LOOPD_CONFIG_FILE, *cmd, *target;
	char *found = NULL;
	json_t *req, *resp, *part;
	int c, json = 0, wait = 0, rc;

	while ((c = getopt_long(argc, argv, "+s:c:jwh", opts, NULL)) != -1)
		switch (c) {
		case 's': sock = optarg; break;
		case 'c': config = optarg; break;
		case 'j': json = 1; break;
		case 'w': wait = 1; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: return usage("unknown option");
		}
	if (optind >= argc)
		return usage("a command is needed");
	cmd = argv[optind++];
	/* Options may follow the command too: `status --json`. */
	while ((c = getopt_long(argc, argv, "s:c:jwh", opts, NULL)) != -1)
		switch (c) {
		case 's': sock = optarg; break;
		case 'c': config = optarg; break;
		case 'j': json = 1; break;
		case 'w': wait = 1; break;
		case 'h': fputs(usage_text, stdout); return 0;
		default: return usage("unknown option");
		}
	target = optind < argc ? argv[optind++] : NULL;
	if (optind < argc)
		return usage("too many arguments");
	if (strcmp(cmd, "stop") == 0 || strcmp(cmd, "start") == 0 ||
	    strcmp(cmd, "restart") == 0) {
		if (target == NULL)
			return usage("this command needs LOOP or LOOP/TASK");
		req = json_pack("{s:i, s:s, s:s}", "v", CONTROL_VERSION,
		    "cmd", cmd, "target", target);
	} else if (strcmp(cmd, "status") == 0 || strcmp(cmd, "version") == 0 ||
	    strcmp(cmd, "reload") == 0) {
		if (target != NULL)
			return usage("this command takes no argument");
		req = json_pack("{s:i, s:s, s:b}", "v", CONTROL_VERSION, "cmd",
		    cmd, "wait", wait);
	} else
		return usage("unknown command; the commands are status, "
		    "reload, stop, start, restart and version");
	if (sock == NULL && (found = socket_from_config(config)) != NULL)
		sock = found;
	if (sock == NULL)
		sock = CONF_DEFAULT_CONTROL_SOCKET;
	resp = req != NULL ? ask(sock, req) : NULL;
	json_decref(req);
	free(found);
	if (resp == NULL)
		return LOOPCTL_EXIT_UNREACHABLE;
	rc = json_is_true(json_object_get(resp, "ok")) ? 0 :
	    LOOPCTL_EXIT_FAILED;
	if (json) {
		/* What was asked for, or the whole answer (an error). */
		if ((part = json_object_get(resp, strcmp(cmd, "status") == 0 ?
		    "status" : strcmp(cmd, "reload") == 0 && wait ? "reload" :
		    "")) == NULL)
			part = resp;
		json_dumpf(part, stdout, JSON_INDENT(2) |
		    JSON_REAL_PRECISION(6));
		putchar('\n');
		if (json_object_get(resp, "error") != NULL)
			fprintf(stderr, "loopctl: %s\n", str(resp, "error",
			    "?"));
		if (strcmp(cmd, "reload") == 0 && wait &&
		    !json_is_true(json_object_get(part, "ok")))
			rc = LOOPCTL_EXIT_FAILED;
	} else if (json_object_get(resp, "error") != NULL)
		fprintf(stderr, "loopctl: %s\n", str(resp, "error", "?"));
	else if (strcmp(cmd, "status") == 0)
		print_status(json_object_get(resp, "status"));
	else if (strcmp(cmd, "version") == 0)
		printf("loopd %s\n", str(resp, "version", "?"));
	else if (strcmp(cmd, "reload") == 0 && wait)
		rc = print_reload(json_object_get(resp, "reload"));
	else if (strcmp(cmd, "reload") == 0)
		printf("reload requested\n");
	else
		printf("%s\n", str(resp, "msg", "done"));
	json_decref(resp);
	return rc;
}
