/*
 * inspect.c: run `loopd --inspect-plugin PATH` children, read and check
 * what they print; and the child's side, which loads the plugin and prints.
 *
 * The child prints one JSON object: {"error": {"type", "message"}} when the
 * file could not be loaded, else the descriptor (see inspect_info_json()).
 * The parent parses it as it would parse anything from outside: a field
 * missing, of the wrong type or too long makes the whole answer garbage.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "creds.h"
#include "inspect.h"
#include "loader.h"
#include "loopd/plugin.h"
#include "monotime.h"

static const char *const type_names[] = {
	[LOOPD_TYPE_STRING] = "string",
	[LOOPD_TYPE_INT] = "int",
	[LOOPD_TYPE_BOOL] = "bool",
	[LOOPD_TYPE_DURATION] = "duration",
	[LOOPD_TYPE_ENUM] = "enum",
	[LOOPD_TYPE_LIST] = "list",
	[LOOPD_TYPE_MAP] = "map",
};
#define NTYPES	(sizeof type_names / sizeof type_names[0])

const char *
inspect_type_name(int type)
{
	if (type <= 0 || (size_t)type >= NTYPES)
		return "?";
	return type_names[type];
}

static int
type_from_name(const char *s)
{
	size_t i;

	for (i = 1; i < NTYPES; i++)
		if (strcmp(s, type_names[i]) == 0)
			return (int)i;
	return 0;
}

const struct inspect_setting *
inspect_find(const struct inspect_info *info, const char *key)
{
	size_t i;

	for (i = 0; i < info->nsettings; i++)
		if (strcmp(info->settings[i].key, key) == 0)
			return &info->settings[i];
	return NULL;
}

const char **
inspect_keys(const struct inspect_info *info)
{
	const char **keys;
	size_t i;

	if (info->nsettings == 0 ||
	    (keys = calloc(info->nsettings, sizeof *keys)) == NULL)
		return NULL;
	for (i = 0; i < info->nsettings; i++)
		keys[i] = info->settings[i].key;
	return keys;
}

static void
info_free(struct inspect_info *info)
{
	struct inspect_setting *s;
	size_t i, j;

	for (i = 0; i < info->nsettings; i++) {
		s = &info->settings[i];
		free(s->key);
		for (j = 0; j < s->nvalues; j++)
			free(s->values[j]);
		free(s->values);
		free(s->def);
		free(s->description);
	}
	free(info->settings);
	free(info->name);
	free(info->version);
	free(info->description);
	memset(info, 0, sizeof *info);
}

void
inspect_result_free(struct inspect_result *r)
{
	info_free(&r->info);
	memset(r, 0, sizeof *r);
}

/* ---- JSON, both ways -------------------------------------------------------- */

static json_t *
setting_json(const struct inspect_setting *s)
{
	json_t *o = json_object(), *v;
	size_t i;

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "key", json_string(s->key));
	json_object_set_new(o, "type", json_string(inspect_type_name(s->type)));
	json_object_set_new(o, "required", json_boolean(s->required));
	if (s->type == LOOPD_TYPE_INT) {
		json_object_set_new(o, "min", json_integer(s->min));
		json_object_set_new(o, "max", json_integer(s->max));
	}
	if (s->type == LOOPD_TYPE_ENUM) {
		v = json_array();
		for (i = 0; i < s->nvalues; i++)
			json_array_append_new(v, json_string(s->values[i]));
		json_object_set_new(o, "values", v);
	}
	json_object_set_new(o, "default", s->def != NULL ?
	    json_string(s->def) : json_null());
	json_object_set_new(o, "description", json_string(s->description));
	return o;
}

json_t *
inspect_info_json(const struct inspect_info *info)
{
	json_t *o = json_object(), *list;
	size_t i;

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "name", json_string(info->name));
	json_object_set_new(o, "version", json_string(info->version));
	json_object_set_new(o, "description", json_string(info->description));
	json_object_set_new(o, "abi", json_pack("[II]",
	    (json_int_t)info->abi_major, (json_int_t)info->abi_minor));
	if (!info->has_settings) {
		json_object_set_new(o, "settings", json_null());
		return o;
	}
	list = json_array();
	for (i = 0; i < info->nsettings; i++)
		json_array_append_new(list, setting_json(&info->settings[i]));
	json_object_set_new(o, "settings", list);
	return o;
}

/* A string field of at most max bytes, copied; NULL when it is not one. */
static char *
get_str(const json_t *o, const char *key, size_t max)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return strdup(json_string_value(v));
}

static int
key_ok(const char *k)
{
	size_t n = strlen(k);

	return n > 0 && n <= INSPECT_KEY_MAX &&
	    strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_-") == n;
}

/* One row from o; 0, or -1 with why. */
static int
setting_parse(const json_t *o, struct inspect_setting *s, const char **why)
{
	const json_t *v, *item;
	char *type = NULL;
	size_t i;

	*why = "a setting that is not {key, type, required, default, "
	    "description}";
	if (!json_is_object(o) ||
	    (s->key = get_str(o, "key", INSPECT_KEY_MAX)) == NULL ||
	    (type = get_str(o, "type", 16)) == NULL ||
	    (s->description = get_str(o, "description",
	    INSPECT_TEXT_MAX)) == NULL ||
	    !json_is_boolean(v = json_object_get(o, "required"))) {
		free(type);
		return -1;
	}
	s->required = json_is_true(v);
	s->type = type_from_name(type);
	free(type);
	if (!key_ok(s->key))
		return *why = "a setting whose key is not [A-Za-z0-9_-], 1 to "
		    "64 bytes", -1;
	if (s->type == 0)
		return *why = "a setting of an unknown type", -1;
	v = json_object_get(o, "default");
	if (!json_is_null(v) &&
	    (s->def = get_str(o, "default", INSPECT_TEXT_MAX)) == NULL)
		return -1;
	if (s->type == LOOPD_TYPE_INT) {
		if (!json_is_integer(json_object_get(o, "min")) ||
		    !json_is_integer(json_object_get(o, "max")))
			return -1;
		s->min = json_integer_value(json_object_get(o, "min"));
		s->max = json_integer_value(json_object_get(o, "max"));
		if (s->min > s->max)
			return *why = "an int setting whose min is more than its "
			    "max", -1;
	}
	if (s->type != LOOPD_TYPE_ENUM)
		return 0;
	v = json_object_get(o, "values");
	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > INSPECT_MAX_SETTINGS)
		return *why = "an enum setting without values", -1;
	if ((s->values = calloc(json_array_size(v), sizeof *s->values)) ==
	    NULL)
		return *why = "out of memory", -1;
	json_array_foreach(v, i, item) {
		if (!json_is_string(item) ||
		    json_string_length(item) > INSPECT_KEY_MAX ||
		    json_string_length(item) == 0 ||
		    (s->values[i] = strdup(json_string_value(item))) == NULL)
			return *why = "an enum setting with a value that is not "
			    "a short string", -1;
		s->nvalues++;
	}
	return 0;
}

/* info from text; 0, or -1 with why. */
static int
info_parse(const json_t *o, struct inspect_info *info, const char **why)
{
	const json_t *abi, *list, *item;
	size_t i, j;

	*why = "not a descriptor: {name, version, description, abi, settings}";
	abi = json_object_get(o, "abi");
	if ((info->name = get_str(o, "name", INSPECT_TEXT_MAX)) == NULL ||
	    (info->version = get_str(o, "version", INSPECT_TEXT_MAX)) ==
	    NULL || (info->description = get_str(o, "description",
	    INSPECT_TEXT_MAX)) == NULL || !json_is_array(abi) ||
	    json_array_size(abi) != 2 ||
	    !json_is_integer(json_array_get(abi, 0)) ||
	    !json_is_integer(json_array_get(abi, 1)) ||
	    json_integer_value(json_array_get(abi, 0)) < 0 ||
	    json_integer_value(json_array_get(abi, 0)) > 1000 ||
	    json_integer_value(json_array_get(abi, 1)) < 0 ||
	    json_integer_value(json_array_get(abi, 1)) > 1000)
		return -1;
	info->abi_major = (unsigned)json_integer_value(json_array_get(abi, 0));
	info->abi_minor = (unsigned)json_integer_value(json_array_get(abi, 1));
	list = json_object_get(o, "settings");
	if (json_is_null(list))
		return 0;
	if (!json_is_array(list))
		return -1;
	if (json_array_size(list) > INSPECT_MAX_SETTINGS)
		return *why = "more than 256 settings", -1;
	info->has_settings = 1;
	if (json_array_size(list) == 0)
		return 0;
	if ((info->settings = calloc(json_array_size(list),
	    sizeof *info->settings)) == NULL)
		return *why = "out of memory", -1;
	json_array_foreach(list, i, item) {
		info->nsettings++;
		if (setting_parse(item, &info->settings[i], why) < 0)
			return -1;
		for (j = 0; j < i; j++)
			if (strcmp(info->settings[j].key,
			    info->settings[i].key) == 0)
				return *why = "a key declared twice", -1;
	}
	return 0;
}

/* ---- the parent -------------------------------------------------------------- */

struct child {
	const char	*path;
	pid_t		 pid;
	int		 fd;		/* -1 once at EOF */
	char		*buf;
	size_t		 len;
	int		 status;
	int		 reaped;
	int		 toolong;
};

static void
set_error(struct inspect_result *r, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_error(struct inspect_result *r, const char *type, const char *fmt, ...)
{
	va_list ap;

	info_free(&r->info);
	r->ok = 0;
	snprintf(r->type, sizeof r->type, "%s", type);
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof r->msg, fmt, ap);
	va_end(ap);
}

/* The child's side of the fork: stdout is the pipe, nothing else open. */
static void
child_exec(const char *exe, const struct creds *creds, const char *path,
    int out, pid_t parent)
{

	char as[48];
	char *argv[] = { (char *)exe, (char *)INSPECT_ARG, (char *)path,
	    (char *)INSPECT_AS_ARG, as, NULL };
	sigset_t none;
	int sig, null;

	setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	if (creds != NULL && creds->set)
		snprintf(as, sizeof as, "%u:%u", (unsigned)creds->uid,
		    (unsigned)creds->gid);
	else
		argv[3] = NULL;
	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0 ||
	    dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(null, 2) < 0)
		_exit(127);
	close_range(3, ~0U, 0);
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(exe, argv);
	_exit(127);
}

static int
child_start(struct child *c, const char *exe, const struct creds *creds)
{
	sigset_t all, old;
	pid_t parent = getpid();
	int p[2], saved;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	c->pid = fork();
	if (c->pid == 0)
		child_exec(exe, creds, c->path, p[1], parent);
	saved = errno;
	if (c->pid > 0)
		setpgid(c->pid, c->pid);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(p[1]);
	if (c->pid < 0) {
		close(p[0]);
		errno = saved;
		return -1;
	}
	c->fd = p[0];
	return 0;
}

/* Read what is there; EOF or too much closes the pipe. */
static void
child_read(struct child *c)
{
	char *grown;
	ssize_t n;

	if (c->buf == NULL && (c->buf = malloc(4096)) == NULL) {
		c->toolong = 1;
		goto eof;
	}
	n = read(c->fd, c->buf + c->len, 4096);
	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0)
		goto eof;
	c->len += (size_t)n;
	if (c->len > INSPECT_OUTPUT_MAX) {
		c->toolong = 1;
		kill(-c->pid, SIGKILL);
		goto eof;
	}
	if ((grown = realloc(c->buf, c->len + 4096)) == NULL) {
		c->toolong = 1;
		goto eof;
	}
	c->buf = grown;
	return;
eof:
	close(c->fd);
	c->fd = -1;
}

static void
child_reap(struct child *c, int block)
{
	pid_t r;

	if (c->reaped || c->pid <= 0)
		return;
	do
		r = waitpid(c->pid, &c->status, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == c->pid || r < 0)
		c->reaped = 1;
}

/* Wait for every child until each has closed its pipe and exited, or the
 * deadline; what is left is killed. */
static void
children_wait(struct child *cs, size_t n, uint64_t deadline)
{
	struct pollfd *pfd;
	size_t i, np, *who;
	uint64_t now;
	int busy, timeout, answered;

	pfd = calloc(n, sizeof *pfd);
	who = calloc(n, sizeof *who);
	for (;;) {
		for (i = 0, np = 0, busy = 0, answered = 0; i < n; i++) {
			/* A child that has exited wrote all it will: what a
			 * process it left behind holds open is not waited
			 * for. */
			if (cs[i].fd >= 0 && (child_reap(&cs[i], 0),
			    cs[i].reaped)) {
				fcntl(cs[i].fd, F_SETFL, O_NONBLOCK);
				while (cs[i].fd >= 0)
					child_read(&cs[i]);
			}
			if (cs[i].fd < 0) {
				child_reap(&cs[i], 0);
				busy |= !cs[i].reaped;
				continue;
			}
			busy = 1;
			answered |= cs[i].len > 0;
			if (pfd != NULL && who != NULL) {
				pfd[np].fd = cs[i].fd;
				pfd[np].events = POLLIN;
				who[np++] = i;
			}
		}
		now = monotime_ms();
		if (!busy || now >= deadline || pfd == NULL || who == NULL)
			break;
		timeout = (int)(deadline - now);
		/* A child that closed its pipe, or has answered (and may have
		 * left a process holding it), is waited for in short steps. */
		if ((np < n || answered) && timeout > 2)
			timeout = 2;
		if (poll(pfd, np, timeout) < 0 && errno != EINTR)
			break;
		for (i = 0; i < np; i++)
			if (pfd[i].revents != 0)
				child_read(&cs[who[i]]);
	}
	for (i = 0; i < n; i++) {
		if (cs[i].pid > 0 && !cs[i].reaped) {
			kill(-cs[i].pid, SIGKILL);
			kill(cs[i].pid, SIGKILL);
			child_reap(&cs[i], 1);
			cs[i].status = -1;	/* timed out */
		}
		/* What the plugin's constructors forked goes too. */
		if (cs[i].pid > 0)
			kill(-cs[i].pid, SIGKILL);
		if (cs[i].fd >= 0) {
			close(cs[i].fd);
			cs[i].fd = -1;
		}
	}
	free(pfd);
	free(who);
}

/* What one finished child means. */
static void
child_judge(const struct child *c, uint64_t deadline_ms,
    struct inspect_result *r)
{
	json_error_t jerr;
	const json_t *e;
	const char *why;
	json_t *o;

	if (c->status == -1) {
		set_error(r, "inspect_timeout", "%s: reading its descriptor "
		    "took more than %llu ms (its constructors hang?); the "
		    "inspection was killed", c->path,
		    (unsigned long long)deadline_ms);
		return;
	}
	if (WIFSIGNALED(c->status)) {
		set_error(r, "inspect_crashed", "%s: loading it to read its "
		    "descriptor crashed (signal %d, %s): a worker would crash "
		    "the same way", c->path, WTERMSIG(c->status),
		    strsignal(WTERMSIG(c->status)));
		return;
	}
	if (c->toolong) {
		set_error(r, "inspect_garbage", "%s: loading it printed more "
		    "than %d bytes", c->path, INSPECT_OUTPUT_MAX);
		return;
	}
	if (!WIFEXITED(c->status) || WEXITSTATUS(c->status) != 0) {
		set_error(r, "inspect_crashed", "%s: loading it to read its "
		    "descriptor failed (exit status %d, no descriptor): a "
		    "worker would fail the same way", c->path,
		    WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1);
		return;
	}
	o = json_loadb(c->buf != NULL ? c->buf : "", c->len,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(o)) {
		json_decref(o);
		set_error(r, "inspect_garbage", "%s: loading it printed "
		    "something that is not a descriptor (its constructors "
		    "write to stdout?)", c->path);
		return;
	}
	if ((e = json_object_get(o, "error")) != NULL) {
		if (json_is_object(e) &&
		    json_is_string(json_object_get(e, "type")) &&
		    json_is_string(json_object_get(e, "message")))
			set_error(r, json_string_value(json_object_get(e,
			    "type")), "%s", json_string_value(
			    json_object_get(e, "message")));
		else
			set_error(r, "inspect_garbage", "%s: loading it "
			    "printed a malformed error", c->path);
		json_decref(o);
		return;
	}
	if (info_parse(o, &r->info, &why) < 0)
		set_error(r, "inspect_garbage", "%s: its descriptor has %s",
		    c->path, why);
	else
		r->ok = 1;
	json_decref(o);
}

void
inspect_run(const char *exe, const struct creds *creds,
    const char *const *paths, size_t n, uint64_t deadline_ms,
    struct inspect_result *out)
{
	struct child *cs;
	uint64_t deadline = monotime_ms() + deadline_ms;
	size_t i;

	if (n == 0)
		return;
	if ((cs = calloc(n, sizeof *cs)) == NULL) {
		for (i = 0; i < n; i++)
			set_error(&out[i], "inspect_failed", "%s: cannot be "
			    "inspected: out of memory", paths[i]);
		return;
	}
	for (i = 0; i < n; i++) {
		cs[i].path = paths[i];
		cs[i].fd = -1;
		if (child_start(&cs[i], exe, creds) < 0)
			set_error(&out[i], "inspect_failed", "%s: cannot be "
			    "inspected: %s", paths[i], strerror(errno));
	}
	children_wait(cs, n, deadline);
	for (i = 0; i < n; i++) {
		if (cs[i].pid > 0)
			child_judge(&cs[i], deadline_ms, &out[i]);
		free(cs[i].buf);
	}
	free(cs);
}

/* ---- text ------------------------------------------------------------------- */

void
inspect_print(FILE *f, const char *path, const struct inspect_info *info)
{
	const struct inspect_setting *s;
	char type[160];
	size_t i, j, kw = 3, tw = 4, dw = 7, len;

	fprintf(f, "file:        %s\nname:        %s\nversion:     %s\n"
	    "ABI:         %u.%u\ndescription: %s\n", path, info->name,
	    info->version, info->abi_major, info->abi_minor,
	    info->description);
	if (!info->has_settings) {
		fputs("settings:    none declared (loopd cannot check this "
		    "plugin's config: before it runs)\n", f);
		return;
	}
	fprintf(f, "settings:    %zu\n", info->nsettings);
	if (info->nsettings == 0)
		return;
	for (i = 0; i < info->nsettings; i++) {
		s = &info->settings[i];
		if (strlen(s->key) > kw)
			kw = strlen(s->key);
		if (s->def != NULL && strlen(s->def) > dw)
			dw = strlen(s->def);
	}
	tw = 20;
	fprintf(f, "  %-*s  %-*s  %-8s  %-*s  %s\n", (int)kw, "KEY", (int)tw,
	    "TYPE", "REQUIRED", (int)dw, "DEFAULT", "DESCRIPTION");
	for (i = 0; i < info->nsettings; i++) {
		s = &info->settings[i];
		if (s->type == LOOPD_TYPE_INT)
			snprintf(type, sizeof type, "int %lld..%lld",
			    (long long)s->min, (long long)s->max);
		else if (s->type == LOOPD_TYPE_ENUM) {
			len = (size_t)snprintf(type, sizeof type, "enum ");
			for (j = 0; j < s->nvalues && len < sizeof type; j++)
				len += (size_t)snprintf(type + len, sizeof type -
				    len, "%s%s", j > 0 ? "|" : "", s->values[j]);
		} else
			snprintf(type, sizeof type, "%s",
			    inspect_type_name(s->type));
		fprintf(f, "  %-*s  %-*s  %-8s  %-*s  %s\n", (int)kw, s->key,
		    (int)tw, type, s->required ? "yes" : "no", (int)dw,
		    s->def != NULL ? s->def : "-", s->description);
	}
}

/* ---- the child ---------------------------------------------------------------- */

static char *
dup_or_empty(const char *s)
{
	return strdup(s != NULL ? s : "");
}

/* "a|b|c" into s->values. */
static int
split_values(const char *text, struct inspect_setting *s)
{
	const char *p, *bar;
	size_t n = 1;

	if (text == NULL || *text == '\0')
		return -1;
	for (p = text; *p != '\0'; p++)
		n += *p == '|';
	if ((s->values = calloc(n, sizeof *s->values)) == NULL)
		return -1;
	for (p = text; ; p = bar + 1) {
		bar = strchr(p, '|');
		if ((s->values[s->nvalues++] = strndup(p, bar != NULL ?
		    (size_t)(bar - p) : strlen(p))) == NULL)
			return -1;
		if (bar == NULL)
			return 0;
	}
}

/* The descriptor's table into info; a table without an end within
 * INSPECT_MAX_SETTINGS rows is refused rather than read further. */
static int
info_from_table(const struct loopd_setting *t, struct inspect_info *info,
    const char **why)
{
	struct inspect_setting *s;
	size_t n;

	for (n = 0; n < INSPECT_MAX_SETTINGS && t[n].key != NULL; n++)
		;
	if (n == INSPECT_MAX_SETTINGS && t[n].key != NULL)
		return *why = "a settings table without LOOPD_SETTINGS_END "
		    "within 256 rows", -1;
	info->has_settings = 1;
	if (n == 0)
		return 0;
	if ((info->settings = calloc(n, sizeof *info->settings)) == NULL)
		return *why = "out of memory", -1;
	for (info->nsettings = 0; info->nsettings < n; info->nsettings++) {
		s = &info->settings[info->nsettings];
		s->type = (int)t[info->nsettings].type;
		s->required = (t[info->nsettings].flags &
		    LOOPD_SETTING_REQUIRED) != 0;
		s->min = t[info->nsettings].min;
		s->max = t[info->nsettings].max;
		if ((s->key = strdup(t[info->nsettings].key)) == NULL ||
		    (s->description = dup_or_empty(
		    t[info->nsettings].description)) == NULL ||
		    (t[info->nsettings].def != NULL && (s->def =
		    strdup(t[info->nsettings].def)) == NULL))
			return *why = "out of memory", -1;
		if (s->type == LOOPD_TYPE_ENUM &&
		    split_values(t[info->nsettings].values, s) < 0)
			return *why = "an enum setting without values "
			    "(\"a|b|c\")", -1;
	}
	return 0;
}

static void	child_say(json_t *) __attribute__((noreturn));
static void	child_error(const char *, const char *)
		    __attribute__((noreturn));

/* The answer's fd: stdout as it was before the plugin was loaded. */
static int child_out = 1;

static void
child_say(json_t *o)
{
	char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	size_t len, off;
	ssize_t n;

	if (text == NULL)
		_exit(1);
	for (len = strlen(text), off = 0; off < len; off += (size_t)n)
		if ((n = write(child_out, text + off, len - off)) <= 0 &&
		    errno != EINTR)
			_exit(1);
		else if (n < 0)
			n = 0;
	/* Not exit(): the plugin's destructors are none of our business. */
	_exit(0);
}

static void
child_error(const char *type, const char *msg)
{
	child_say(json_pack("{s{ssss}}", "error", "type", type, "message",
	    msg));
}

void
inspect_child_main(const char *path, const char *as)
{
	struct creds c = { 0 };
	unsigned uid, gid;
	const char *step;
	char end;
	struct plugin_error err;
	struct inspect_info info = { 0 };
	struct plugin p;
	const struct loopd_plugin *d;
	const char *why;
	char msg[1200];
	json_t *o;
	int null;

	/* What the plugin's constructors print goes nowhere, not into the
	 * answer. */
	fflush(stdout);
	if ((child_out = fcntl(1, F_DUPFD_CLOEXEC, 3)) < 0 ||
	    (null = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0 ||
	    dup2(null, 1) < 0)
		_exit(1);
	close(null);
	if (as != NULL) {
		if (sscanf(as, "%u:%u%c", &uid, &gid, &end) != 2)
			child_error("inspect_failed", INSPECT_AS_ARG " takes "
			    "UID:GID");
		c.set = 1;
		c.uid = (uid_t)uid;
		c.gid = (gid_t)gid;
		if (creds_drop(&c, &step) < 0 ||
		    prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			child_error("inspect_failed", "cannot drop to the "
			    "workers' user");
	}
	if (loader_open(path, &p, &err) < 0)
		child_error(err.type, err.msg);
	d = p.desc;
	info.abi_major = d->abi_major;
	info.abi_minor = d->abi_minor;
	if ((info.name = dup_or_empty(d->name)) == NULL ||
	    (info.version = dup_or_empty(d->version)) == NULL ||
	    (info.description = dup_or_empty(d->description)) == NULL)
		child_error("inspect_failed", "out of memory");
	/* A string of the table that is not UTF-8 leaves its field out,
	 * which the parent refuses. */
	if (loader_since(d, 1) && d->settings != NULL &&
	    info_from_table(d->settings, &info, &why) < 0) {
		snprintf(msg, sizeof msg, "%s: its descriptor has %s", path,
		    why);
		child_error("plugin_invalid", msg);
	}
	if ((o = inspect_info_json(&info)) == NULL ||
	    json_object_size(o) != 5) {
		snprintf(msg, sizeof msg, "%s: its descriptor's strings are "
		    "not UTF-8 text", path);
		child_error("plugin_invalid", msg);
	}
	child_say(o);
}
