/*
 * config.c: the YAML configuration file, parsed into a struct conf.
 *
 * Two passes.  The first, tree_load() in tree.c, reads the text into a
 * conf_node tree and refuses what the tree cannot hold.  The second, here,
 * walks the tree and fills a struct conf, checking every key and value.
 * Both collect every problem rather than stop at the first, in one struct
 * errlist, so that one `loopd --check-config` lists them all in file
 * order.  Nothing is kept between calls.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loopd/plugin.h"
#include "arena.h"
#include "config.h"
#include "errlist.h"
#include "strset.h"
#include "tree.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Known keys and values are short; longer words are never "close". */
#define WORD_MAX	32

struct parse {
	const char		*file;		/* the file being read */
	const char		*main;		/* the file named to the parse */
	struct errlist		 errs;
	struct strset		 loops, tasks;	/* names taken, and where */
	char			**frags;	/* fragments read, new strings */
	size_t			 nfrags, fragcap;
};

/* How messages name a loop or task: "loop 'net'", "in loop 'net'", and
 * "loop 'net': " before a key. */
struct scope {
	char			 name[128];
	char			 in[136];
	char			 pfx[136];
};

static const char *const top_keys[] = {
	"plugin_dir", "plugin_watch", "log", "shutdown", "on_exhausted",
	"loops", "include", "config_watch", "control", "metrics", "user",
	"group",
};
static const char *const fragment_keys[] = { "loops" };
static const char *const log_keys[] = {
	"level", "format", "target", "file", "rate",
};
static const char *const shutdown_keys[] = { "grace" };
static const char *const control_keys[] = {
	"socket", "mode", "group", "read_only_group",
};
static const char *const metrics_keys[] = { "listen" };
static const char *const loop_keys[] = {
	"name", "backend", "restart", "start_timeout", "hang_timeout",
	"hang_action", "limits", "executor", "tasks", "sandbox",
	"debug", "slow_callback", "precise_timer", "cpu",
};
static const char *const task_keys[] = {
	"name", "plugin", "restart", "config",
};
static const char *const restart_keys[] = { "policy", "backoff", "intensity" };
static const char *const limits_keys[] = {
	"memory", "open_files", "cpu_seconds",
};
static const char *const sandbox_keys[] = { "profile", "no_new_privs" };
/* In enum conf_sandbox_profile order. */
static const char *const profile_names[] = {
	"none", "network-server", "compute",
};

/* Where a known key put at the wrong level belongs. */
struct misplaced {
	const char		*key;
	const char		*hint;
};

#define IN_RESTART	"it goes inside `restart:`"
#define IN_LIMITS	"it goes inside `limits:`"
#define PER_LOOP	"it is a loop's setting, not a task's"

static const struct misplaced top_misplaced[] = {
	{ "restart", "it is set per loop or per task" },
	{ "start_timeout", "it is set per loop" },
	{ "hang_timeout", "it is set per loop" },
	{ "hang_action", "it is set per loop" },
	{ "limits", "it is set per loop" },
	{ "sandbox", "it is set per loop" },
	{ NULL, NULL },
};
#define IN_MAIN	"a fragment holds only `loops:`; top-level settings " \
	"are set in the main file"
static const struct misplaced fragment_misplaced[] = {
	{ "plugin_dir", IN_MAIN }, { "log", IN_MAIN }, { "shutdown", IN_MAIN },
	{ "on_exhausted", IN_MAIN }, { "config_watch", IN_MAIN },
	{ "user", IN_MAIN }, { "group", IN_MAIN },
	{ "include", "a fragment cannot include others: list every glob in "
	    "the main file's `include:`" },
	{ NULL, NULL },
};
static const struct misplaced loop_misplaced[] = {
	{ "policy", IN_RESTART }, { "backoff", IN_RESTART },
	{ "intensity", IN_RESTART }, { "memory", IN_LIMITS },
	{ "open_files", IN_LIMITS }, { "cpu_seconds", IN_LIMITS },
	{ "on_exhausted", "it is set at the top level" },
	{ "profile", "it goes inside `sandbox:`" },
	{ "no_new_privs", "it goes inside `sandbox:`" },
	{ "user", "it is set at the top level, for every worker" },
	{ NULL, NULL },
};
static const struct misplaced task_misplaced[] = {
	{ "policy", IN_RESTART }, { "backoff", IN_RESTART },
	{ "intensity", IN_RESTART }, { "start_timeout", PER_LOOP },
	{ "hang_timeout", PER_LOOP }, { "hang_action", PER_LOOP },
	{ "limits", PER_LOOP }, { "backend", PER_LOOP },
	{ "sandbox", PER_LOOP },
	{ "debug", PER_LOOP }, { "slow_callback", PER_LOOP },
	{ "precise_timer", PER_LOOP }, { "cpu", PER_LOOP },
	{ "on_exhausted", "it is set at the top level" },
	{ NULL, NULL },
};
static const char *const executor_keys[] = { "workers", "kind", "queue" };
/* In enum conf_exec_kind order. */
static const char *const exec_kind_names[] = { "io", "cpu" };

/* In enum conf_backend order. */
static const char *const backend_names[] = {
	"auto", "epoll", "poll", "select",
};
static const char *const level_names[] = {
	"debug", "info", "warning", "error",
};
static const int level_values[] = {
	LOOPD_LOG_DEBUG, LOOPD_LOG_INFO, LOOPD_LOG_WARNING, LOOPD_LOG_ERROR,
};
static const char *const format_names[] = { "json", "text" };
/* In enum conf_log_target order. */
static const char *const target_names[] = { "stderr", "journald", "file" };
/* In enum conf_restart_policy, conf_hang_action, conf_on_exhausted order. */
static const char *const policy_names[] = { "always", "on-failure", "never" };
static const char *const hang_action_names[] = { "restart", "log" };
static const char *const exhausted_names[] = { "stay", "exit" };
static const char *const bool_names[] = { "false", "true" };

static void	perr(struct parse *, struct conf_mark, const char *, ...)
		    LOOPD_PRINTF(3, 4);
static char	*read_file(struct errlist *, size_t *);

/* ---- small helpers ------------------------------------------------------ */

static int
fold(char c)
{
	return tolower((unsigned char)c);
}

/* Optimal string alignment distance, ignoring case; big when too long. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la, lb, i, j, d, rows[3][WORD_MAX + 1];
	size_t *pp, *p, *c;

	la = strlen(a);
	lb = strlen(b);
	if (la > WORD_MAX || lb > WORD_MAX)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		rows[0][j] = j;
	for (i = 1; i <= la; i++) {
		pp = rows[(i + 1) % 3];
		p = rows[(i + 2) % 3];
		c = rows[i % 3];
		c[0] = i;
		for (j = 1; j <= lb; j++) {
			d = fold(a[i - 1]) != fold(b[j - 1]);
			c[j] = p[j - 1] + d;
			if (p[j] + 1 < c[j])
				c[j] = p[j] + 1;
			if (c[j - 1] + 1 < c[j])
				c[j] = c[j - 1] + 1;
			if (i > 1 && j > 1 &&
			    fold(a[i - 1]) == fold(b[j - 2]) &&
			    fold(a[i - 2]) == fold(b[j - 1]) &&
			    pp[j - 2] + 1 < c[j])
				c[j] = pp[j - 2] + 1;
		}
	}
	return rows[la % 3][lb];
}

/* The word of `words` that `s` is most likely a typo of, or NULL. */
static const char *
suggest(const char *s, const char *const words[], size_t n)
{
	const char *best = NULL;
	size_t i, d, bestd = 3;

	for (i = 0; i < n; i++) {
		d = edit_distance(s, words[i]);
		if (d < bestd && d < strlen(s)) {
			best = words[i];
			bestd = d;
		}
	}
	return best;
}

/* "a, b, c" into buf. */
static const char *
word_list(const char *const words[], size_t n, char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && used < len; i++)
		used += snprintf(buf + used, len - used, "%s%s",
		    i > 0 ? ", " : "", words[i]);
	return buf;
}

static int
word_index(const char *s, const char *const words[], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, words[i]) == 0)
			return (int)i;
	return -1;
}

/* "1h", "90s", "250ms": the shortest exact form. */
static const char *
duration_text(uint64_t ms, char *buf, size_t len)
{
	if (ms != 0 && ms % 3600000 == 0)
		snprintf(buf, len, "%lluh", (unsigned long long)(ms / 3600000));
	else if (ms != 0 && ms % 60000 == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(ms / 60000));
	else if (ms != 0 && ms % 1000 == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	return buf;
}

static void
perr(struct parse *p, struct conf_mark m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errlist_vadd(&p->errs, m, fmt, ap);
	va_end(ap);
}

/* ---- checking the tree -------------------------------------------------- */

static void	scope_set(struct scope *, const char *, ...) LOOPD_PRINTF(2, 3);

static void
scope_set(struct scope *sc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sc->name, sizeof sc->name, fmt, ap);
	va_end(ap);
	snprintf(sc->in, sizeof sc->in, "in %s", sc->name);
	snprintf(sc->pfx, sizeof sc->pfx, "%s: ", sc->name);
}

static const char *
found(const struct conf_node *node)
{
	if (node->kind == CONF_MAP)
		return "a mapping";
	if (node->kind == CONF_SEQ)
		return "a sequence";
	return node->is_null ? "an empty value" : "a scalar";
}

static int
want_kind(struct parse *p, const struct conf_node *node, enum conf_kind kind,
    const char *pfx, const char *key, const char *what)
{
	if (node->kind == kind && !(kind == CONF_SCALAR && node->is_null))
		return 0;
	perr(p, node->mark, "%s%s: expected %s, found %s", pfx, key, what,
	    found(node));
	return -1;
}

/* The text of a scalar that is not null, or NULL once reported. */
static const char *
want_scalar(struct parse *p, const struct conf_node *node, const char *pfx,
    const char *key, const char *what)
{
	if (want_kind(p, node, CONF_SCALAR, pfx, key, what) == -1)
		return NULL;
	return node->value;
}

/* A mapping, or an empty value standing for an empty one. */
static int
want_map(struct parse *p, const struct conf_node *node, const char *pfx,
    const char *key)
{
	if (node->kind == CONF_SCALAR && node->is_null)
		return -1;
	return want_kind(p, node, CONF_MAP, pfx, key, "a mapping");
}

static const char *
misplaced_hint(const struct misplaced *mp, const char *key)
{
	for (; mp != NULL && mp->key != NULL; mp++)
		if (strcmp(mp->key, key) == 0)
			return mp->hint;
	return NULL;
}

/* Every key of map not in known, reported; mp (or NULL) says where the
 * keys of other levels belong. */
static void
check_keys(struct parse *p, const struct conf_node *map,
    const char *const known[], size_t n, const char *in,
    const struct misplaced *mp)
{
	const char *best, *hint;
	size_t i;
	char b[ERRLIST_SHOWN_BUF], list[160];

	for (i = 0; i < map->n; i++) {
		if (word_index(map->keys[i], known, n) != -1)
			continue;
		if ((hint = misplaced_hint(mp, map->keys[i])) != NULL)
			perr(p, map->key_marks[i], "unknown key '%s' %s; %s",
			    map->keys[i], in, hint);
		else if ((best = suggest(map->keys[i], known, n)) != NULL)
			perr(p, map->key_marks[i], "unknown key '%s' %s; did "
			    "you mean '%s'?", errlist_shown(map->keys[i], b),
			    in, best);
		else
			perr(p, map->key_marks[i], "unknown key '%s' %s; the "
			    "keys are: %s", errlist_shown(map->keys[i], b), in,
			    word_list(known, n, list, sizeof list));
	}
}

/* The index of the node's value among names, or -1 once reported. */
static int
choose(struct parse *p, const struct conf_node *node, const char *pfx,
    const char *key, const char *const names[], size_t n)
{
	const char *s, *best;
	char b[ERRLIST_SHOWN_BUF], list[128], what[160];
	int i;

	word_list(names, n, list, sizeof list);
	snprintf(what, sizeof what, "one of %s", list);
	if ((s = want_scalar(p, node, pfx, key, what)) == NULL)
		return -1;
	if ((i = word_index(s, names, n)) != -1)
		return i;
	if ((best = suggest(s, names, n)) != NULL)
		perr(p, node->mark, "%s%s: unknown value '%s'; did you mean "
		    "'%s'?", pfx, key, errlist_shown(s, b), best);
	else
		perr(p, node->mark, "%s%s: unknown value '%s'; expected one "
		    "of %s", pfx, key, errlist_shown(s, b), list);
	return -1;
}

static int
name_chars_ok(const char *s, const char *extra)
{
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
			return 0;
	return 1;
}

/* A copy of a loop, task or plugin name, or NULL once reported. */
static char *
take_name(struct parse *p, const struct conf_node *node, const char *pfx,
    const char *key, const char *what, const char *extra)
{
	const char *s;
	char *copy, b[ERRLIST_SHOWN_BUF];

	if ((s = want_scalar(p, node, pfx, key, "a name")) == NULL)
		return NULL;
	if (*s == '\0') {
		perr(p, node->mark, "%s%s: a %s name cannot be empty", pfx,
		    key, what);
		return NULL;
	}
	if (strlen(s) > CONF_NAME_MAX) {
		perr(p, node->mark, "%s%s: '%s' is too long: a %s name has at "
		    "most %d characters", pfx, key, errlist_shown(s, b), what,
		    CONF_NAME_MAX);
		return NULL;
	}
	if (!name_chars_ok(s, extra)) {
		perr(p, node->mark, "%s%s: '%s' is not a valid %s name: use "
		    "only letters, digits and %s", pfx, key,
		    errlist_shown(s, b), what, strchr(extra, '.') != NULL ?
		    "'_', '.', '-'" : "'_', '-'");
		return NULL;
	}
	if ((copy = strdup(s)) == NULL)
		p->errs.nomem = 1;
	return copy;
}

/* Remember name (borrowed); 0 when it is new, -1 once reported. */
static int
claim_name(struct parse *p, struct strset *taken, const char *name,
    struct conf_mark m, const char *what, const char *across)
{
	struct conf_mark first;
	int rc;

	if ((rc = strset_add(taken, name, m, &first)) == 1)
		return 0;
	if (rc == -1)
		p->errs.nomem = 1;
	else
		perr(p, m, "%s name '%s' is already used at %s:%d:%d; %s "
		    "names must be unique%s", what, name, first.file, first.line,
		    first.col, what, across);
	return -1;
}

static char	*relative_to(const char *, const char *);
static int	 duration_in(struct parse *, const struct conf_node *,
		    const char *, const char *, const char *, const char *,
		    uint64_t, uint64_t, uint64_t *);
static int	 parse_count(const char *, uint64_t, uint64_t *,
		    const char **, const char **);

/* `log.rate: N/DURATION`. */
static void
log_rate(struct parse *p, const struct conf_node *node, struct conf *conf)
{
	const char *s, *end, *err, *win;
	uint64_t n, ms;
	char b[ERRLIST_SHOWN_BUF], one[8];

	if ((s = want_scalar(p, node, "log.", "rate",
	    "a rate such as 100/s")) == NULL)
		return;
	if (strchr(s, '/') == NULL) {
		perr(p, node->mark, "log.rate: '%s' is not a rate: write "
		    "N/DURATION, as in 100/1s (at most 100 records of a task "
		    "within 1s)", errlist_shown(s, b));
		return;
	}
	if (parse_count(s, CONF_MAX_LOG_RATE, &n, &end, &err) == -1 ||
	    *end != '/' || n == 0) {
		perr(p, node->mark, "log.rate: '%s': the count of records must "
		    "be a whole number from 1 to %d", errlist_shown(s, b),
		    CONF_MAX_LOG_RATE);
		return;
	}
	/* "100/s": a unit alone stands for one of it. */
	win = end + 1;
	if (strcmp(win, "ms") == 0 || strcmp(win, "s") == 0 ||
	    strcmp(win, "m") == 0 || strcmp(win, "h") == 0) {
		snprintf(one, sizeof one, "1%s", win);
		win = one;
	}
	if (duration_in(p, node, "log.", "rate", "the window ", win, 1,
	    CONF_MAX_DURATION_MS, &ms) == -1)
		return;
	conf->log_rate = n;
	conf->log_rate_ms = ms;
}

/* `log.target` and `log.file`: each needs the other. */
static void
log_target(struct parse *p, const struct conf_node *log, struct conf *conf)
{
	const struct conf_node *target, *file;
	const char *s = NULL;
	int i = -1;

	if ((target = tree_map_get(log, "target")) != NULL &&
	    (i = choose(p, target, "log.", "target", target_names,
	    NELEM(target_names))) != -1)
		conf->log_target = (enum conf_log_target)i;
	if ((file = tree_map_get(log, "file")) != NULL &&
	    (s = want_scalar(p, file, "log.", "file", "a path")) != NULL &&
	    *s == '\0') {
		perr(p, file->mark, "log.file: the path is empty");
		s = NULL;
	}
	if (file != NULL && target != NULL && i != -1 &&
	    i != CONF_LOG_FILE) {
		perr(p, file->mark, "log.file: it is only used with "
		    "`target: file`, and log.target is %s", target_names[i]);
		return;
	}
	if (file != NULL && target == NULL) {
		perr(p, file->mark, "log.file: it is only used with "
		    "`target: file`; add `target: file` to `log:`");
		return;
	}
	if (i == CONF_LOG_FILE && file == NULL)
		perr(p, target->mark, "log.target: file needs `log.file:` "
		    "the path of the file to write");
	if (i == CONF_LOG_FILE && s != NULL &&
	    (conf->log_file = relative_to(p->file, s)) == NULL)
		p->errs.nomem = 1;
}

static void
check_log(struct parse *p, const struct conf_node *log, struct conf *conf)
{
	const struct conf_node *node;
	int i;

	if (want_map(p, log, "", "log") == -1)
		return;
	check_keys(p, log, log_keys, NELEM(log_keys), "in log", NULL);
	if ((node = tree_map_get(log, "level")) != NULL &&
	    (i = choose(p, node, "log.", "level", level_names,
	    NELEM(level_names))) != -1)
		conf->log_level = level_values[i];
	if ((node = tree_map_get(log, "format")) != NULL &&
	    (i = choose(p, node, "log.", "format", format_names,
	    NELEM(format_names))) != -1)
		conf->log_format = i == 0 ? CONF_LOG_JSON : CONF_LOG_TEXT;
	log_target(p, log, conf);
	if ((node = tree_map_get(log, "rate")) != NULL)
		log_rate(p, node, conf);
}

static void
check_shutdown(struct parse *p, const struct conf_node *sd,
    struct conf *conf)
{
	const struct conf_node *node;
	const char *s, *err;
	uint64_t ms;
	char b[ERRLIST_SHOWN_BUF], lim[32];

	if (want_map(p, sd, "", "shutdown") == -1)
		return;
	check_keys(p, sd, shutdown_keys, NELEM(shutdown_keys),
	    "in shutdown", NULL);
	if ((node = tree_map_get(sd, "grace")) == NULL ||
	    (s = want_scalar(p, node, "shutdown.", "grace",
	    "a duration such as 10s")) == NULL)
		return;
	if (config_parse_duration(s, &ms, &err) == -1)
		perr(p, node->mark, "shutdown.grace: '%s' is not a valid "
		    "duration: %s", errlist_shown(s, b), err);
	else if (ms > CONF_MAX_GRACE_MS)
		perr(p, node->mark, "shutdown.grace: '%s' is too long: the "
		    "limit is %s", errlist_shown(s, b),
		    duration_text(CONF_MAX_GRACE_MS, lim, sizeof lim));
	else
		conf->grace_ms = ms;
}

/* ---- control and metrics ------------------------------------------------ */

/* A group's id from its name (or number), or -1 once reported. */
static long
take_group(struct parse *p, const struct conf_node *node, const char *key)
{
	char b[ERRLIST_SHOWN_BUF], *end, buf[4096];
	struct group gr, *g = NULL;
	const char *s;
	unsigned long v;

	if ((s = want_scalar(p, node, "control.", key, "a group name")) ==
	    NULL)
		return -1;
	if (*s >= '0' && *s <= '9') {
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno == 0 && *end == '\0' && v < 0x7fffffff)
			return (long)v;
	}
	if (getgrnam_r(s, &gr, buf, sizeof buf, &g) == 0 && g != NULL)
		return (long)g->gr_gid;
	perr(p, node->mark, "control.%s: there is no group '%s' on this "
	    "system", key, errlist_shown(s, b));
	return -1;
}

static void
check_control(struct parse *p, const struct conf_node *c, struct conf *conf)
{
	const struct conf_node *node;
	char b[ERRLIST_SHOWN_BUF], *end;
	unsigned long mode;
	const char *s;

	if (want_map(p, c, "", "control") == -1)
		return;
	check_keys(p, c, control_keys, NELEM(control_keys), "in control",
	    NULL);
	if ((node = tree_map_get(c, "socket")) != NULL &&
	    (s = want_scalar(p, node, "control.", "socket", "a path")) !=
	    NULL) {
		if (*s == '\0' || strlen(s) >= 108)
			perr(p, node->mark, "control.socket: '%s' is not a "
			    "usable socket path: it must have 1 to 107 "
			    "characters", errlist_shown(s, b));
		else if ((conf->control_socket = strdup(s)) == NULL)
			p->errs.nomem = 1;
		else
			conf->control_explicit = 1;
	}
	if ((node = tree_map_get(c, "mode")) != NULL &&
	    (s = want_scalar(p, node, "control.", "mode", "an octal mode "
	    "such as 0660")) != NULL) {
		errno = 0;
		mode = strtoul(s, &end, 8);
		if (*s == '\0' || *end != '\0' || errno != 0 || mode > 0777)
			perr(p, node->mark, "control.mode: '%s' is not an "
			    "octal file mode such as 0660", errlist_shown(s, b));
		else
			conf->control_mode = (unsigned)mode;
	}
	if ((node = tree_map_get(c, "group")) != NULL)
		conf->control_gid = take_group(p, node, "group");
	if ((node = tree_map_get(c, "read_only_group")) != NULL)
		conf->control_ro_gid = take_group(p, node, "read_only_group");
}

/* `listen: HOST:PORT`, HOST an address ([v6] in brackets). */
static void
check_metrics(struct parse *p, const struct conf_node *m, struct conf *conf)
{
	const struct conf_node *node;
	char b[ERRLIST_SHOWN_BUF], *end;
	const char *s, *colon, *host;
	unsigned long port;
	size_t hlen;

	if (want_map(p, m, "", "metrics") == -1)
		return;
	check_keys(p, m, metrics_keys, NELEM(metrics_keys), "in metrics",
	    NULL);
	if ((node = tree_map_get(m, "listen")) == NULL ||
	    (s = want_scalar(p, node, "metrics.", "listen",
	    "an address such as 127.0.0.1:9477")) == NULL)
		return;
	colon = strrchr(s, ':');
	host = s;
	hlen = colon != NULL ? (size_t)(colon - s) : 0;
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	}
	errno = 0;
	port = colon != NULL ? strtoul(colon + 1, &end, 10) : 0;
	if (colon == NULL || hlen == 0 || colon[1] == '\0' || *end != '\0' ||
	    errno != 0 || port > 65535) {
		perr(p, node->mark, "metrics.listen: '%s' is not an address "
		    "and port such as 127.0.0.1:9477", errlist_shown(s, b));
		return;
	}
	if ((conf->metrics_host = strndup(host, hlen)) == NULL)
		p->errs.nomem = 1;
	conf->metrics_port = (unsigned)port;
}

/* ---- restart, timeouts, limits ------------------------------------------ */

/*
 * The duration s (a piece of node's value, named `part`, or all of it
 * when part is NULL) into *ms when it lies in [min, max]; -1 once
 * reported at node.  min is 0 or 1.
 */
static int
duration_in(struct parse *p, const struct conf_node *node, const char *pfx,
    const char *key, const char *part, const char *s, uint64_t min,
    uint64_t max, uint64_t *ms)
{
	const char *err;
	uint64_t v;
	char b[ERRLIST_SHOWN_BUF], lim[32];

	if (part == NULL)
		part = "";
	if (config_parse_duration(s, &v, &err) == -1) {
		perr(p, node->mark, "%s%s: %s'%s' is not a valid duration: %s",
		    pfx, key, part, errlist_shown(s, b), err);
		return -1;
	}
	if (v < min) {
		perr(p, node->mark, "%s%s: %s'%s' must be more than 0", pfx,
		    key, part, errlist_shown(s, b));
		return -1;
	}
	if (v > max) {
		perr(p, node->mark, "%s%s: %s'%s' is too long: the limit is %s",
		    pfx, key, part, errlist_shown(s, b),
		    duration_text(max, lim, sizeof lim));
		return -1;
	}
	*ms = v;
	return 0;
}

static int
take_duration(struct parse *p, const struct conf_node *node, const char *pfx,
    const char *key, uint64_t max, uint64_t *ms)
{
	const char *s;

	if ((s = want_scalar(p, node, pfx, key, "a duration such as 10s")) ==
	    NULL)
		return -1;
	return duration_in(p, node, pfx, key, NULL, s, 1, max, ms);
}

/*
 * Leading digits of s into *v; *end after them.  -1 with *err when there
 * are none or they make more than max.
 */
static int
parse_count(const char *s, uint64_t max, uint64_t *v, const char **end,
    const char **err)
{
	uint64_t n = 0;

	if (*s == '-') {
		*err = "it cannot be negative";
		return -1;
	}
	if (!isdigit((unsigned char)*s)) {
		*err = "it is not a whole number";
		return -1;
	}
	for (; isdigit((unsigned char)*s); s++) {
		if (n > (max - (uint64_t)(*s - '0')) / 10) {
			*err = "the number is too large";
			return -1;
		}
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	*end = s;
	return 0;
}

/* A whole number in [min, max] into *v, or -1 once reported. */
static int
take_count(struct parse *p, const struct conf_node *node, const char *pfx,
    const char *key, uint64_t min, uint64_t max, uint64_t *v)
{
	const char *s, *end, *err;
	uint64_t n;
	char b[ERRLIST_SHOWN_BUF];

	if ((s = want_scalar(p, node, pfx, key, "a whole number")) == NULL)
		return -1;
	err = NULL;
	if (parse_count(s, UINT64_MAX, &n, &end, &err) == 0 && *end != '\0')
		err = "it is not a whole number";
	if (err != NULL) {
		perr(p, node->mark, "%s%s: '%s' is not valid: %s", pfx, key,
		    errlist_shown(s, b), err);
		return -1;
	}
	if (n < min || n > max) {
		perr(p, node->mark, "%s%s: '%s' is out of range: from %llu to "
		    "%llu", pfx, key, errlist_shown(s, b),
		    (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*v = n;
	return 0;
}

/* `backoff: MIN..MAX`. */
static void
restart_backoff(struct parse *p, const struct conf_node *node,
    const char *pfx, struct restart_conf *rc)
{
	const char *s, *dots;
	uint64_t lo, hi;
	char *min, b[ERRLIST_SHOWN_BUF], tlo[32], thi[32];
	int bad;

	if ((s = want_scalar(p, node, pfx, "backoff",
	    "a range such as 100ms..30s")) == NULL)
		return;
	if ((dots = strstr(s, "..")) == NULL) {
		perr(p, node->mark, "%sbackoff: '%s' is not a range: write "
		    "MIN..MAX, as in 100ms..30s", pfx, errlist_shown(s, b));
		return;
	}
	if ((min = strndup(s, (size_t)(dots - s))) == NULL) {
		p->errs.nomem = 1;
		return;
	}
	bad = duration_in(p, node, pfx, "backoff", "the minimum ", min, 1,
	    CONF_MAX_DURATION_MS, &lo);
	free(min);
	if (bad == -1 || duration_in(p, node, pfx, "backoff", "the maximum ",
	    dots + 2, 1, CONF_MAX_DURATION_MS, &hi) == -1)
		return;
	if (lo > hi) {
		perr(p, node->mark, "%sbackoff: the minimum %s is more than "
		    "the maximum %s", pfx, duration_text(lo, tlo, sizeof tlo),
		    duration_text(hi, thi, sizeof thi));
		return;
	}
	rc->backoff_min_ms = lo;
	rc->backoff_max_ms = hi;
}

/* `intensity: N/DURATION`. */
static void
restart_intensity(struct parse *p, const struct conf_node *node,
    const char *pfx, struct restart_conf *rc)
{
	const char *s, *end, *err;
	uint64_t n, ms;
	char b[ERRLIST_SHOWN_BUF];

	if ((s = want_scalar(p, node, pfx, "intensity",
	    "a rate such as 5/60s")) == NULL)
		return;
	if (strchr(s, '/') == NULL) {
		perr(p, node->mark, "%sintensity: '%s' is not a rate: write "
		    "N/DURATION, as in 5/60s (at most 5 restarts within 60s)",
		    pfx, errlist_shown(s, b));
		return;
	}
	if (parse_count(s, CONF_MAX_INTENSITY, &n, &end, &err) == -1 ||
	    *end != '/') {
		perr(p, node->mark, "%sintensity: '%s': the count of restarts "
		    "must be a whole number from 1 to %d", pfx,
		    errlist_shown(s, b), CONF_MAX_INTENSITY);
		return;
	}
	if (n == 0) {
		perr(p, node->mark, "%sintensity: '%s': the count of restarts "
		    "must be at least 1 (for no restart, use policy: never)",
		    pfx, errlist_shown(s, b));
		return;
	}
	if (duration_in(p, node, pfx, "intensity", "the window ", end + 1, 1,
	    CONF_MAX_DURATION_MS, &ms) == -1)
		return;
	rc->intensity = n;
	rc->window_ms = ms;
}

/* `restart:` over *rc, which holds what it does not say. */
static void
check_restart(struct parse *p, const struct conf_node *node,
    const struct scope *sc, struct restart_conf *rc)
{
	const struct conf_node *v;
	char pfx[160], in[160];
	int i;

	if (want_map(p, node, sc->pfx, "restart") == -1)
		return;
	snprintf(pfx, sizeof pfx, "%srestart.", sc->pfx);
	snprintf(in, sizeof in, "in restart of %s", sc->name);
	check_keys(p, node, restart_keys, NELEM(restart_keys), in, NULL);
	if ((v = tree_map_get(node, "policy")) != NULL &&
	    (i = choose(p, v, pfx, "policy", policy_names,
	    NELEM(policy_names))) != -1)
		rc->policy = (enum conf_restart_policy)i;
	if ((v = tree_map_get(node, "backoff")) != NULL)
		restart_backoff(p, v, pfx, rc);
	if ((v = tree_map_get(node, "intensity")) != NULL)
		restart_intensity(p, v, pfx, rc);
}

/* `memory: 512M`: bytes, or K, M, G for powers of 1024. */
static void
limit_memory(struct parse *p, const struct conf_node *node, const char *pfx,
    struct limits_conf *lim)
{
	static const char *const near[] = {
		"k", "kb", "kib", "m", "mb", "mib", "g", "gb", "gib",
	};
	const char *s, *end, *err, *unit = "KMG";
	uint64_t n, shift = 0;
	char b[ERRLIST_SHOWN_BUF];
	int i;

	if ((s = want_scalar(p, node, pfx, "memory", "a size such as 512M")) ==
	    NULL)
		return;
	if (parse_count(s, INT64_MAX, &n, &end, &err) == -1) {
		perr(p, node->mark, "%smemory: '%s' is not a valid size: %s; "
		    "write a whole number and K, M or G, as in 512M", pfx,
		    errlist_shown(s, b), err);
		return;
	}
	if (*end != '\0' && end[1] == '\0' && strchr(unit, *end) != NULL)
		shift = 10 * (uint64_t)(strchr(unit, *end) - unit + 1);
	else if (*end != '\0') {
		for (i = 0; i < (int)NELEM(near); i++)
			if (strcasecmp(end, near[i]) == 0)
				break;
		if (i < (int)NELEM(near))
			perr(p, node->mark, "%smemory: unknown unit in '%s'; "
			    "did you mean '%.*s%c'?", pfx, errlist_shown(s, b),
			    (int)(end - s), s, toupper((unsigned char)*end));
		else
			perr(p, node->mark, "%smemory: '%s' is not a valid "
			    "size: write a whole number of bytes, or with K, "
			    "M or G (powers of 1024), as in 512M", pfx,
			    errlist_shown(s, b));
		return;
	}
	if (n > ((uint64_t)INT64_MAX >> shift)) {
		perr(p, node->mark, "%smemory: '%s' is too large", pfx,
		    errlist_shown(s, b));
		return;
	}
	if ((n << shift) < CONF_MIN_MEMORY) {
		perr(p, node->mark, "%smemory: '%s' is too small: a worker "
		    "needs at least 1M", pfx, errlist_shown(s, b));
		return;
	}
	lim->memory = n << shift;
}

static void
check_limits(struct parse *p, const struct conf_node *node,
    const struct scope *sc, struct limits_conf *lim)
{
	const struct conf_node *v;
	char pfx[160], in[160];

	if (want_map(p, node, sc->pfx, "limits") == -1)
		return;
	snprintf(pfx, sizeof pfx, "%slimits.", sc->pfx);
	snprintf(in, sizeof in, "in limits of %s", sc->name);
	check_keys(p, node, limits_keys, NELEM(limits_keys), in, NULL);
	if ((v = tree_map_get(node, "memory")) != NULL)
		limit_memory(p, v, pfx, lim);
	if ((v = tree_map_get(node, "open_files")) != NULL)
		take_count(p, v, pfx, "open_files", CONF_MIN_OPEN_FILES,
		    CONF_MAX_OPEN_FILES, &lim->open_files);
	if ((v = tree_map_get(node, "cpu_seconds")) != NULL)
		take_count(p, v, pfx, "cpu_seconds", 1, CONF_MAX_CPU_SECONDS,
		    &lim->cpu_seconds);
}

/* `sandbox: { profile: P, no_new_privs: B }`. */
static void
check_sandbox(struct parse *p, const struct conf_node *node,
    const struct scope *sc, struct sandbox_conf *sb)
{
	const struct conf_node *v;
	char pfx[160], in[160];
	int i;

	if (want_map(p, node, sc->pfx, "sandbox") == -1)
		return;
	snprintf(pfx, sizeof pfx, "%ssandbox.", sc->pfx);
	snprintf(in, sizeof in, "in the sandbox of %s", sc->name);
	check_keys(p, node, sandbox_keys, NELEM(sandbox_keys), in, NULL);
	if ((v = tree_map_get(node, "profile")) != NULL &&
	    (i = choose(p, v, pfx, "profile", profile_names,
	    NELEM(profile_names))) != -1)
		sb->profile = (enum conf_sandbox_profile)i;
	/* A filter is installed with no_new_privs unless the worker has
	 * CAP_SYS_ADMIN: on by default with a profile. */
	sb->no_new_privs = sb->profile != CONF_SANDBOX_NONE;
	if ((v = tree_map_get(node, "no_new_privs")) != NULL &&
	    (i = choose(p, v, pfx, "no_new_privs", bool_names,
	    NELEM(bool_names))) != -1)
		sb->no_new_privs = i;
}

/* A loop's restart, timeouts, hang action and limits. */
static void
check_supervision(struct parse *p, const struct conf_node *node,
    const struct scope *sc, struct loop_conf *lc)
{
	const struct conf_node *v;
	int i;

	if ((v = tree_map_get(node, "restart")) != NULL)
		check_restart(p, v, sc, &lc->restart);
	if ((v = tree_map_get(node, "start_timeout")) != NULL)
		take_duration(p, v, sc->pfx, "start_timeout",
		    CONF_MAX_TIMEOUT_MS, &lc->start_timeout_ms);
	if ((v = tree_map_get(node, "hang_timeout")) != NULL)
		take_duration(p, v, sc->pfx, "hang_timeout",
		    CONF_MAX_TIMEOUT_MS, &lc->hang_timeout_ms);
	if ((v = tree_map_get(node, "hang_action")) != NULL &&
	    (i = choose(p, v, sc->pfx, "hang_action", hang_action_names,
	    NELEM(hang_action_names))) != -1)
		lc->hang_action = (enum conf_hang_action)i;
	if ((v = tree_map_get(node, "limits")) != NULL)
		check_limits(p, v, sc, &lc->limits);
	if ((v = tree_map_get(node, "sandbox")) != NULL)
		check_sandbox(p, v, sc, &lc->sandbox);
}

static void
loop_defaults(struct loop_conf *lc)
{
	lc->restart.policy = CONF_RESTART_ON_FAILURE;
	lc->restart.backoff_min_ms = CONF_DEFAULT_BACKOFF_MIN_MS;
	lc->restart.backoff_max_ms = CONF_DEFAULT_BACKOFF_MAX_MS;
	lc->restart.intensity = CONF_DEFAULT_INTENSITY;
	lc->restart.window_ms = CONF_DEFAULT_WINDOW_MS;
	lc->start_timeout_ms = CONF_DEFAULT_START_TIMEOUT_MS;
	lc->hang_timeout_ms = CONF_DEFAULT_HANG_TIMEOUT_MS;
	lc->hang_action = CONF_HANG_RESTART;
	memset(&lc->limits, 0, sizeof lc->limits);
	lc->slow_callback_ms = CONF_DEFAULT_SLOW_CALLBACK_MS;
	lc->cpu = -1;
	memset(&lc->sandbox, 0, sizeof lc->sandbox);
}

/* file's directory joined to a relative dir; dir itself otherwise. */
static char *
relative_to(const char *file, const char *dir)
{
	const char *slash;
	char *s;

	slash = strrchr(file, '/');
	if (dir[0] == '/' || slash == NULL)
		return strdup(dir);
	if (asprintf(&s, "%.*s/%s", (int)(slash - file), file, dir) == -1)
		return NULL;
	return s;
}

static void
check_plugin_dir(struct parse *p, const struct conf_node *top,
    const char *override, const char *def, struct conf *conf)
{
	const struct conf_node *node;
	const char *given = NULL;

	if ((node = tree_map_get(top, "plugin_dir")) != NULL &&
	    (given = want_scalar(p, node, "", "plugin_dir",
	    "a directory")) != NULL && *given == '\0') {
		perr(p, node->mark, "plugin_dir: the directory name is empty");
		given = NULL;
	}
	if (override != NULL)
		conf->plugin_dir = strdup(override);
	else if (given != NULL)
		conf->plugin_dir = relative_to(p->main, given);
	else
		conf->plugin_dir = strdup(def != NULL ? def : ".");
	if (conf->plugin_dir == NULL)
		p->errs.nomem = 1;
}

static void
task_plugin(struct parse *p, const struct conf_node *node,
    const struct scope *sc, const struct conf *conf, struct task_conf *tc)
{
	const char *dir = conf->plugin_dir;
	size_t len;

	if ((tc->plugin = take_name(p, node, sc->pfx, "plugin", "plugin",
	    "_-")) == NULL || dir == NULL)
		return;
	len = strlen(dir);
	if (asprintf(&tc->plugin_path, "%s%s%s.so", dir,
	    len > 0 && dir[len - 1] == '/' ? "" : "/", tc->plugin) == -1) {
		tc->plugin_path = NULL;
		p->errs.nomem = 1;
	}
}

/* item, taken out of map: the caller now owns it. */
static struct conf_node *
steal_item(struct conf_node *map, struct conf_node *item)
{
	size_t i;

	for (i = 0; i < map->n; i++)
		if (map->items[i] == item)
			map->items[i] = NULL;
	return item;
}

static void
check_task(struct parse *p, struct conf_node *node, size_t i,
    const struct scope *lsc, const struct conf *conf,
    const struct loop_conf *lc, struct task_conf *tc)
{
	struct conf_node *v;
	struct scope sc;

	tc->mark = node->mark;
	tc->restart = lc->restart;
	scope_set(&sc, "task #%zu of %s", i + 1, lsc->name);
	if (want_kind(p, node, CONF_MAP, "", sc.name,
	    "a mapping with name and plugin") == -1)
		return;
	if ((v = tree_map_get(node, "name")) == NULL)
		perr(p, node->mark, "%s has no name: add `name:`", sc.name);
	else if ((tc->name = take_name(p, v, sc.pfx, "name", "task",
	    "_.-")) != NULL &&
	    claim_name(p, &p->tasks, tc->name, v->mark, "task",
	    " across loops") == 0)
		scope_set(&sc, "task '%s'", tc->name);
	check_keys(p, node, task_keys, NELEM(task_keys), sc.in,
	    task_misplaced);
	if ((v = tree_map_get(node, "plugin")) == NULL)
		perr(p, node->mark, "%s has no plugin: add `plugin:`", sc.name);
	else
		task_plugin(p, v, &sc, conf, tc);
	if ((v = tree_map_get(node, "restart")) != NULL)
		check_restart(p, v, &sc, &tc->restart);
	if ((v = tree_map_get(node, "config")) != NULL &&
	    want_map(p, v, sc.pfx, "config") == 0)
		tc->config = steal_item(node, v);
}

static void
check_tasks(struct parse *p, struct conf_node *node, const struct scope *sc,
    const struct conf *conf, struct loop_conf *lc)
{
	size_t i;

	if (want_kind(p, node, CONF_SEQ, sc->pfx, "tasks",
	    "a sequence of tasks") == -1)
		return;
	if (node->n == 0) {
		perr(p, node->mark, "%stasks: the sequence is empty; a loop "
		    "needs at least one task", sc->pfx);
		return;
	}
	if ((lc->tasks = calloc(node->n, sizeof *lc->tasks)) == NULL) {
		p->errs.nomem = 1;
		return;
	}
	lc->ntasks = node->n;
	for (i = 0; i < node->n; i++)
		check_task(p, node->items[i], i, sc, conf, lc,
		    &lc->tasks[i]);
}

/* A whole number in [lo, hi] from node; -1 once reported. */
static long long
want_count(struct parse *p, const struct conf_node *node, const char *pfx,
    const char *key, long long lo, long long hi)
{
	const char *s, *c;
	char b[ERRLIST_SHOWN_BUF];
	long long n = 0;

	if ((s = want_scalar(p, node, pfx, key, "a whole number")) == NULL)
		return -1;
	for (c = s; *c >= '0' && *c <= '9'; c++)
		if (n <= hi)
			n = n * 10 + (*c - '0');
	if (c == s || *c != '\0' || node->quoted) {
		perr(p, node->mark, "%s%s: '%s' is not a whole number", pfx,
		    key, errlist_shown(s, b));
		return -1;
	}
	if (n < lo || n > hi) {
		perr(p, node->mark, "%s%s: %s is out of range: it must be "
		    "between %lld and %lld", pfx, key, errlist_shown(s, b),
		    lo, hi);
		return -1;
	}
	return n;
}

static void
check_executor(struct parse *p, const struct conf_node *node,
    const struct scope *lsc, struct executor_conf *ec)
{
	const struct conf_node *v;
	const char *s;
	char pfx[sizeof lsc->pfx + 16], in[sizeof lsc->in + 16];
	long long n;
	int k;

	snprintf(pfx, sizeof pfx, "%sexecutor.", lsc->pfx);
	snprintf(in, sizeof in, "in the executor of %s", lsc->name);
	ec->mark = node->mark;
	if (want_map(p, node, lsc->pfx, "executor") == -1)
		return;
	check_keys(p, node, executor_keys, NELEM(executor_keys), in, NULL);
	if ((v = tree_map_get(node, "workers")) != NULL) {
		ec->mark = v->mark;
		if (v->kind == CONF_SCALAR && !v->is_null && !v->quoted &&
		    (s = v->value) != NULL && strcmp(s, "auto") == 0)
			ec->workers = 0;
		else if ((n = want_count(p, v, pfx, "workers", 1,
		    CONF_MAX_EXEC_WORKERS)) != -1)
			ec->workers = (unsigned)n;
	}
	if ((v = tree_map_get(node, "kind")) != NULL &&
	    (k = choose(p, v, pfx, "kind", exec_kind_names,
	    NELEM(exec_kind_names))) != -1)
		ec->kind = (enum conf_exec_kind)k;
	if ((v = tree_map_get(node, "queue")) != NULL &&
	    (n = want_count(p, v, pfx, "queue", 1, CONF_MAX_EXEC_QUEUE)) != -1)
		ec->queue = (unsigned)n;
}

/* A loop's debug mode, slow_callback, precise_timer and cpu. */
static void
check_runtime(struct parse *p, const struct conf_node *node,
    const struct scope *sc, struct loop_conf *lc)
{
	const struct conf_node *v;
	long long n;
	int b;

	lc->slow_mark = node->mark;
	if ((v = tree_map_get(node, "debug")) != NULL && (b = choose(p, v,
	    sc->pfx, "debug", bool_names, NELEM(bool_names))) != -1)
		lc->debug = b;
	if ((v = tree_map_get(node, "slow_callback")) != NULL) {
		lc->slow_mark = v->mark;
		take_duration(p, v, sc->pfx, "slow_callback",
		    CONF_MAX_TIMEOUT_MS, &lc->slow_callback_ms);
	}
	if ((v = tree_map_get(node, "precise_timer")) != NULL &&
	    (b = choose(p, v, sc->pfx, "precise_timer", bool_names,
	    NELEM(bool_names))) != -1)
		lc->precise_timer = b;
	if ((v = tree_map_get(node, "cpu")) != NULL &&
	    (n = want_count(p, v, sc->pfx, "cpu", 0, CONF_MAX_CPU)) != -1)
		lc->cpu = (int)n;
}

static void
check_loop(struct parse *p, struct conf_node *node, size_t i,
    const struct conf *conf, struct loop_conf *lc)
{
	struct conf_node *v;
	struct scope sc;
	int b;

	lc->mark = node->mark;
	loop_defaults(lc);
	lc->executor = (struct executor_conf){ .queue = CONF_DEFAULT_EXEC_QUEUE,
	    .mark = node->mark };
	scope_set(&sc, "loop #%zu", i + 1);
	if (want_kind(p, node, CONF_MAP, "", sc.name,
	    "a mapping with name and tasks") == -1)
		return;
	if ((v = tree_map_get(node, "name")) == NULL)
		perr(p, node->mark, "%s has no name: add `name:`", sc.name);
	else if ((lc->name = take_name(p, v, sc.pfx, "name", "loop",
	    "_.-")) != NULL &&
	    claim_name(p, &p->loops, lc->name, v->mark, "loop",
	    p->file != p->main ? " (a fragment adds new loops, not tasks "
	    "to a loop of another file)" : "") == 0)
		scope_set(&sc, "loop '%s'", lc->name);
	check_keys(p, node, loop_keys, NELEM(loop_keys), sc.in,
	    loop_misplaced);
	if ((v = tree_map_get(node, "backend")) != NULL &&
	    (b = choose(p, v, sc.pfx, "backend", backend_names,
	    NELEM(backend_names))) != -1)
		lc->backend = (enum conf_backend)b;
	check_supervision(p, node, &sc, lc);
	check_runtime(p, node, &sc, lc);
	if ((v = tree_map_get(node, "executor")) != NULL)
		check_executor(p, v, &sc, &lc->executor);
	if ((v = tree_map_get(node, "tasks")) == NULL)
		perr(p, node->mark, "%s has no tasks: add a `tasks:` sequence",
		    sc.name);
	else
		check_tasks(p, v, &sc, conf, lc);
}

/* The loops of node added to conf's; a fragment may have none. */
static void
check_loops(struct parse *p, struct conf_node *node, struct conf *conf,
    int fragment)
{
	struct loop_conf *loops;
	size_t i, n0 = conf->nloops;

	if (want_kind(p, node, CONF_SEQ, "", "loops",
	    "a sequence of loops") == -1)
		return;
	if (node->n == 0 && !fragment)
		perr(p, node->mark, "loops: the sequence is empty; at least "
		    "one loop is needed");
	if (node->n == 0)
		return;
	if ((loops = reallocarray(conf->loops, n0 + node->n,
	    sizeof *loops)) == NULL) {
		p->errs.nomem = 1;
		return;
	}
	memset(&loops[n0], 0, node->n * sizeof *loops);
	conf->loops = loops;
	conf->nloops = n0 + node->n;
	for (i = 0; i < node->n; i++)
		check_loop(p, node->items[i], i, conf, &conf->loops[n0 + i]);
}

/* A fragment's tree: only `loops:`, new loops. */
static void
check_fragment(struct parse *p, struct conf_node *top, struct conf *conf)
{
	struct conf_node *node;

	if (top->kind == CONF_SCALAR && top->is_null) {
		perr(p, top->mark, "the fragment is empty: it needs a "
		    "`loops:` sequence");
		return;
	}
	if (top->kind != CONF_MAP) {
		perr(p, top->mark, "a fragment must be a mapping with a "
		    "`loops:` key, found %s", found(top));
		return;
	}
	check_keys(p, top, fragment_keys, NELEM(fragment_keys),
	    "in a fragment", fragment_misplaced);
	if ((node = tree_map_get(top, "loops")) == NULL)
		perr(p, top->mark, "the fragment has no `loops:` sequence");
	else
		check_loops(p, node, conf, 1);
}

/* Whether path was read already, as the main file or a fragment. */
static int
already_read(const struct parse *p, const char *path)
{
	struct stat a, b;
	size_t i;

	for (i = 0; i < p->nfrags; i++)
		if (strcmp(p->frags[i], path) == 0)
			return 1;
	return strcmp(p->main, path) == 0 || (stat(p->main, &a) == 0 &&
	    stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino);
}

/* The fragment at path read and checked into conf; its name is kept
 * in p->frags, where the marks of what it adds point. */
static void
include_fragment(struct parse *p, const char *path, struct conf *conf)
{
	struct conf_node *top;
	char *file, *text, **v;
	size_t len;

	if ((v = reallocarray(p->frags, p->nfrags + 1, sizeof *v)) == NULL ||
	    (file = strdup(path)) == NULL) {
		if (v != NULL)
			p->frags = v;
		p->errs.nomem = 1;
		return;
	}
	p->frags = v;
	p->frags[p->nfrags++] = file;
	p->file = file;
	errlist_set_file(&p->errs, file);
	if ((text = read_file(&p->errs, &len)) != NULL &&
	    (top = tree_load(text, len, &p->errs)) != NULL) {
		check_fragment(p, top, conf);
		tree_free(top);
	}
	free(text);
	p->file = p->errs.file = p->main;
}

/* Every file glob matches, in sorted order; none is fine. */
static void
include_glob(struct parse *p, const struct conf_node *node, const char *g,
    struct conf *conf)
{
	glob_t gl;
	size_t i;
	int rc;

	memset(&gl, 0, sizeof gl);
	if ((rc = glob(g, 0, NULL, &gl)) == GLOB_NOSPACE)
		p->errs.nomem = 1;
	else if (rc != 0 && rc != GLOB_NOMATCH)
		perr(p, node->mark, "include: cannot read the directories of "
		    "'%s'", g);
	for (i = 0; rc == 0 && i < gl.gl_pathc; i++)
		if (!already_read(p, gl.gl_pathv[i]))
			include_fragment(p, gl.gl_pathv[i], conf);
	globfree(&gl);
}

/* `include:`, a glob or a sequence of globs. */
static void
check_include(struct parse *p, struct conf_node *node, struct conf *conf)
{
	struct conf_node **items = &node;
	const char *s;
	size_t i, n = 1;
	char *g;

	if (node->kind == CONF_SEQ) {
		items = node->items;
		n = node->n;
	}
	if ((conf->includes = calloc(n + 1, sizeof *conf->includes)) == NULL) {
		p->errs.nomem = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		if ((s = want_scalar(p, items[i], "", "include",
		    "a glob such as conf.d/*.yaml")) == NULL)
			continue;
		if (*s == '\0') {
			perr(p, items[i]->mark, "include: the glob is empty");
			continue;
		}
		if ((g = relative_to(p->main, s)) == NULL) {
			p->errs.nomem = 1;
			return;
		}
		conf->includes[conf->nincludes++] = g;
		include_glob(p, items[i], g, conf);
	}
}

/* `user:` and `group:`: names, looked up when loopd starts (creds.h). */
static void
check_user(struct parse *p, const struct conf_node *top, struct conf *conf)
{
	const struct conf_node *u, *g;

	u = tree_map_get(top, "user");
	g = tree_map_get(top, "group");
	if (u != NULL) {
		conf->user_mark = u->mark;
		conf->user = take_name(p, u, "", "user", "user", "_.-");
	}
	if (g == NULL)
		return;
	if (u == NULL) {
		perr(p, g->mark, "group: set `user:` too: the workers run as "
		    "user:group, or as user and the user's own group");
		return;
	}
	conf->group = take_name(p, g, "", "group", "group", "_.-");
}

static void
check_top(struct parse *p, struct conf_node *top, const char *override,
    const char *def, struct conf *conf)
{
	struct conf_node *node, *inc;
	int i;

	check_keys(p, top, top_keys, NELEM(top_keys), "at the top level",
	    top_misplaced);
	check_plugin_dir(p, top, override, def, conf);
	if ((node = tree_map_get(top, "log")) != NULL)
		check_log(p, node, conf);
	if ((node = tree_map_get(top, "shutdown")) != NULL)
		check_shutdown(p, node, conf);
	if ((node = tree_map_get(top, "control")) != NULL)
		check_control(p, node, conf);
	if ((node = tree_map_get(top, "metrics")) != NULL)
		check_metrics(p, node, conf);
	if ((node = tree_map_get(top, "on_exhausted")) != NULL &&
	    (i = choose(p, node, "", "on_exhausted", exhausted_names,
	    NELEM(exhausted_names))) != -1)
		conf->on_exhausted = (enum conf_on_exhausted)i;
	if ((node = tree_map_get(top, "plugin_watch")) != NULL &&
	    (i = choose(p, node, "", "plugin_watch", bool_names,
	    NELEM(bool_names))) != -1)
		conf->plugin_watch = i;
	if ((node = tree_map_get(top, "config_watch")) != NULL &&
	    (i = choose(p, node, "", "config_watch", bool_names,
	    NELEM(bool_names))) != -1)
		conf->config_watch = i;
	check_user(p, top, conf);
	if ((node = tree_map_get(top, "loops")) != NULL)
		check_loops(p, node, conf, 0);
	if ((inc = tree_map_get(top, "include")) != NULL)
		check_include(p, inc, conf);
	if (node == NULL && inc == NULL)
		perr(p, top->mark, "the file has no `loops:` sequence; at "
		    "least one loop is needed");
	else if (node == NULL && conf->nloops == 0 && !errlist_failed(&p->errs))
		perr(p, top->mark, "no loop is configured: the file has no "
		    "`loops:` and its `include:` adds none; at least one loop "
		    "is needed");
}

/* A struct conf from the tree; NULL or partial when errors were found. */
static struct conf *
check(struct parse *p, struct conf_node *top, const char *override,
    const char *def)
{
	struct conf *conf;

	if (top->kind == CONF_SCALAR && top->is_null) {
		perr(p, top->mark, "the document is empty: it needs at least "
		    "a `loops:` sequence");
		return NULL;
	}
	if (top->kind != CONF_MAP) {
		perr(p, top->mark, "the top level must be a mapping with at "
		    "least a `loops:` key, found %s", found(top));
		return NULL;
	}
	if ((conf = calloc(1, sizeof *conf)) == NULL) {
		p->errs.nomem = 1;
		return NULL;
	}
	conf->log_level = LOOPD_LOG_INFO;
	conf->log_format = CONF_LOG_JSON;
	conf->grace_ms = CONF_DEFAULT_GRACE_MS;
	conf->on_exhausted = CONF_EXHAUSTED_STAY;
	conf->plugin_watch = 1;
	conf->control_mode = CONF_DEFAULT_CONTROL_MODE;
	conf->control_gid = -1;
	conf->control_ro_gid = -1;
	check_top(p, top, override, def, conf);
	return conf;
}

/* ---- compaction ---------------------------------------------------------- */

static struct conf_node *
node_clone(struct arena *a, const struct conf_node *n, const char *file)
{
	struct conf_node *c;
	size_t i;

	if (n == NULL || (c = arena_alloc(a, sizeof *c)) == NULL)
		return NULL;
	*c = *n;
	c->mark.file = file;
	if (n->value != NULL && (c->value = arena_strdup(a, n->value)) == NULL)
		return NULL;
	if (n->n == 0)
		return c;
	if ((c->items = arena_alloc(a, n->n * sizeof *c->items)) == NULL)
		return NULL;
	if (n->kind == CONF_MAP &&
	    ((c->keys = arena_alloc(a, n->n * sizeof *c->keys)) == NULL ||
	    (c->key_marks = arena_alloc(a, n->n * sizeof *c->key_marks)) ==
	    NULL))
		return NULL;
	for (i = 0; i < n->n; i++) {
		if ((c->items[i] = node_clone(a, n->items[i], file)) == NULL)
			return NULL;
		if (n->kind != CONF_MAP)
			continue;
		if ((c->keys[i] = arena_strdup(a, n->keys[i])) == NULL)
			return NULL;
		c->key_marks[i] = n->key_marks[i];
		c->key_marks[i].file = file;
	}
	return c;
}

static int
task_clone(struct arena *a, struct task_conf *c, const struct task_conf *t,
    const char *file)
{
	*c = *t;
	c->mark.file = file;
	c->config = NULL;
	return (c->name = arena_strdup(a, t->name)) == NULL ||
	    (c->plugin = arena_strdup(a, t->plugin)) == NULL ||
	    (c->plugin_path = arena_strdup(a, t->plugin_path)) == NULL ||
	    (t->config != NULL &&
	    (c->config = node_clone(a, t->config, file)) == NULL) ? -1 : 0;
}

/* The copy in c of old's file name f: the main file's or a fragment's. */
static const char *
compact_file(const struct conf *c, const struct conf *old, const char *f)
{
	size_t i;

	for (i = 0; i < old->nfragments; i++)
		if (f == old->fragments[i])
			return c->fragments[i];
	return c->path;
}

/* n strings of v copied into a; NULL when memory ran out. */
static char **
compact_strings(struct arena *a, char *const *v, size_t n)
{
	char **c;
	size_t i;

	if ((c = arena_alloc(a, (n + 1) * sizeof *c)) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if ((c[i] = arena_strdup(a, v[i])) == NULL)
			return NULL;
	return c;
}

/*
 * conf moved into an arena: the parse leaves its scratch freed between
 * the pieces it keeps, so a large configuration would hold twice its size.
 * Returns the new conf (the old one is freed), or conf itself when memory
 * ran out.
 */
static struct conf *
config_compact(struct conf *conf)
{
	struct arena *a;
	struct conf *c;
	struct loop_conf *lc;
	const struct loop_conf *l;
	size_t i, j;

	if ((a = arena_new()) == NULL || (c = arena_alloc(a, sizeof *c)) ==
	    NULL)
		goto fail;
	*c = *conf;
	c->arena = a;
	if ((c->path = arena_strdup(a, conf->path)) == NULL ||
	    (c->fragments = compact_strings(a, conf->fragments,
	    conf->nfragments)) == NULL ||
	    (c->includes = compact_strings(a, conf->includes,
	    conf->nincludes)) == NULL ||
	    (c->plugin_dir = arena_strdup(a, conf->plugin_dir)) == NULL ||
	    (conf->log_file != NULL &&
	    (c->log_file = arena_strdup(a, conf->log_file)) == NULL) ||
	    (c->control_socket = arena_strdup(a, conf->control_socket !=
	    NULL ? conf->control_socket : CONF_DEFAULT_CONTROL_SOCKET)) ==
	    NULL || (conf->metrics_host != NULL && (c->metrics_host =
	    arena_strdup(a, conf->metrics_host)) == NULL) ||
	    (conf->user != NULL &&
	    (c->user = arena_strdup(a, conf->user)) == NULL) ||
	    (conf->group != NULL &&
	    (c->group = arena_strdup(a, conf->group)) == NULL) ||
	    (c->loops = arena_alloc(a, conf->nloops * sizeof *c->loops)) ==
	    NULL)
		goto fail;
	c->user_mark.file = compact_file(c, conf, conf->user_mark.file);
	for (i = 0; i < conf->nloops; i++) {
		l = &conf->loops[i];
		lc = &c->loops[i];
		*lc = *l;
		lc->mark.file = compact_file(c, conf, l->mark.file);
		lc->executor.mark.file = compact_file(c, conf,
		    l->executor.mark.file);
		lc->slow_mark.file = compact_file(c, conf, l->slow_mark.file);
		if ((lc->name = arena_strdup(a, l->name)) == NULL ||
		    (lc->tasks = arena_alloc(a, l->ntasks *
		    sizeof *lc->tasks)) == NULL)
			goto fail;
		for (j = 0; j < l->ntasks; j++)
			if (task_clone(a, &lc->tasks[j], &l->tasks[j],
			    compact_file(c, conf, l->tasks[j].mark.file)) < 0)
				goto fail;
	}
	config_free(conf);
	return c;
fail:
	arena_free(a);
	return conf;
}

/* ---- the interface ------------------------------------------------------ */

struct conf *
config_parse_string(const char *text, size_t len, const char *name,
    const char *plugin_dir_override, const char *default_plugin_dir,
    struct conf_errors *errs)
{
	struct conf_node *top;
	struct conf *conf = NULL;
	struct parse p;
	char *file;

	if ((file = strdup(name != NULL ? name : "<string>")) == NULL)
		return NULL;
	memset(&p, 0, sizeof p);
	p.file = p.main = file;
	errlist_init(&p.errs, file);
	if ((top = tree_load(text, len, &p.errs)) != NULL)
		conf = check(&p, top, plugin_dir_override, default_plugin_dir);
	tree_free(top);
	if (conf != NULL && !errlist_failed(&p.errs)) {
		conf->path = file;
		conf->fragments = p.frags;
		conf->nfragments = p.nfrags;
		conf = config_compact(conf);
	} else {
		config_free(conf);
		conf = NULL;
		errlist_move(&p.errs, errs, file);
		errs->fragments = p.frags;
		errs->nfragments = p.nfrags;
	}
	errlist_free(&p.errs);
	strset_free(&p.loops);
	strset_free(&p.tasks);
	return conf;
}

/* What a file that is not a regular one is, for a message. */
static const char *
file_type(mode_t mode)
{
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	return "of an unknown type";
}

/* fd's content, up to CONF_FILE_MAX bytes, or NULL with the reason in el. */
static char *
read_fd(int fd, size_t hint, size_t *lenp, struct errlist *el)
{
	struct conf_mark none = { el->file, 0, 0 };
	char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0;
	ssize_t r;

	for (;;) {
		if (len == cap && cap > CONF_FILE_MAX)
			break;
		if (len == cap) {
			cap = cap == 0 ? hint + 4096 : cap * 2;
			if (cap > CONF_FILE_MAX + 1)
				cap = CONF_FILE_MAX + 1;
			if ((nbuf = realloc(buf, cap)) == NULL) {
				el->nomem = 1;
				free(buf);
				return NULL;
			}
			buf = nbuf;
		}
		if ((r = read(fd, buf + len, cap - len)) == 0)
			break;
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			errlist_add(el, none, "cannot read: %s", strerror(errno));
			free(buf);
			return NULL;
		}
		len += (size_t)r;
	}
	if (len > CONF_FILE_MAX) {
		errlist_add(el, none, "cannot read: the file is larger than "
		    "%d MiB, the limit for a configuration", CONF_FILE_MAX >> 20);
		free(buf);
		return NULL;
	}
	*lenp = len;
	return buf;
}

/*
 * The whole file at el->file in a new buffer, or NULL with the reason in
 * el.  Only a regular file is read: a FIFO would block until someone
 * writes to it, and a device may never end.
 */
static char *
read_file(struct errlist *el, size_t *lenp)
{
	struct conf_mark none = { el->file, 0, 0 };
	struct stat st;
	char *buf = NULL;
	int fd;

	/* O_NONBLOCK: opening a FIFO would wait for a writer. */
	if ((fd = open(el->file, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1 ||
	    fstat(fd, &st) == -1)
		errlist_add(el, none, "cannot read: %s", strerror(errno));
	else if (S_ISDIR(st.st_mode))
		errlist_add(el, none, "cannot read: %s", strerror(EISDIR));
	else if (!S_ISREG(st.st_mode))
		errlist_add(el, none, "cannot read: not a regular file but %s; "
		    "the configuration must be a regular file",
		    file_type(st.st_mode));
	else if (st.st_size > CONF_FILE_MAX)
		errlist_add(el, none, "cannot read: the file is %jd bytes, "
		    "more than %d MiB, the limit for a configuration",
		    (intmax_t)st.st_size, CONF_FILE_MAX >> 20);
	else
		buf = read_fd(fd, (size_t)st.st_size, lenp, el);
	if (fd != -1)
		close(fd);
	return buf;
}

struct conf *
config_parse_file(const char *path, const char *plugin_dir_override,
    const char *default_plugin_dir, struct conf_errors *errs)
{
	struct errlist el;
	struct conf *conf = NULL;
	char *text, *file;
	size_t len;

	errlist_init(&el, path);
	if ((text = read_file(&el, &len)) != NULL)
		conf = config_parse_string(text, len, path,
		    plugin_dir_override, default_plugin_dir, errs);
	else if ((file = strdup(path)) != NULL)
		errlist_move(&el, errs, file);
	free(text);
	errlist_free(&el);
	return conf;
}

void
config_free(struct conf *conf)
{
	struct task_conf *t;
	size_t i, j;

	if (conf == NULL)
		return;
	if (conf->arena != NULL) {
		arena_free(conf->arena);
		return;
	}
	for (i = 0; i < conf->nloops; i++) {
		for (j = 0; j < conf->loops[i].ntasks; j++) {
			t = &conf->loops[i].tasks[j];
			free(t->name);
			free(t->plugin);
			free(t->plugin_path);
			tree_free(t->config);
		}
		free(conf->loops[i].tasks);
		free(conf->loops[i].name);
	}
	free(conf->loops);
	free(conf->plugin_dir);
	free(conf->log_file);
	free(conf->control_socket);
	free(conf->metrics_host);
	free(conf->user);
	free(conf->group);
	free(conf->path);
	for (i = 0; i < conf->nfragments; i++)
		free(conf->fragments[i]);
	free(conf->fragments);
	for (i = 0; i < conf->nincludes; i++)
		free(conf->includes[i]);
	free(conf->includes);
	free(conf);
}

void
conf_errors_free(struct conf_errors *errs)
{
	size_t i;

	if (errs == NULL)
		return;
	for (i = 0; i < errs->n; i++)
		free(errs->v[i].msg);
	free(errs->v);
	free(errs->file);
	for (i = 0; i < errs->nfragments; i++)
		free(errs->fragments[i]);
	free(errs->fragments);
	memset(errs, 0, sizeof *errs);
}

int
conf_error_format(const struct conf_error *e, char *buf, size_t len)
{
	const char *file;

	file = e->mark.file != NULL ? e->mark.file : "<string>";
	if (e->mark.line == 0)
		return snprintf(buf, len, "%s: %s", file, e->msg);
	return snprintf(buf, len, "%s:%d:%d: %s", file, e->mark.line,
	    e->mark.col, e->msg);
}

static int
duration_unit(const char *s, uint64_t *mult)
{
	static const struct {
		const char	*name;
		uint64_t	 ms;
	} units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	size_t i;

	for (i = 0; i < NELEM(units); i++) {
		if (strcmp(s, units[i].name) == 0) {
			*mult = units[i].ms;
			return 0;
		}
	}
	return -1;
}

int
config_parse_duration(const char *text, uint64_t *ms, const char **err)
{
	const char *s = text;
	uint64_t n = 0, mult;

	if (*s == '-') {
		*err = "a duration cannot be negative";
		return -1;
	}
	if (!isdigit((unsigned char)*s)) {
		*err = "write a whole number and a unit (ms, s, m or h), "
		    "as in 10s or 250ms";
		return -1;
	}
	for (; isdigit((unsigned char)*s); s++) {
		if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) {
			*err = "the number is too large";
			return -1;
		}
		n = n * 10 + (uint64_t)(*s - '0');
	}
	if (*s == '\0') {
		*err = "missing unit: write 10s or 10000ms";
		return -1;
	}
	if (*s == '.' || *s == ',') {
		*err = "write a whole number, as in 1500ms rather than 1.5s";
		return -1;
	}
	if (duration_unit(s, &mult) == -1) {
		*err = "unknown unit: use ms, s, m or h";
		return -1;
	}
	if (n > CONF_MAX_DURATION_MS / mult) {
		*err = "more than 7 days, which is too long to be meant";
		return -1;
	}
	*ms = n * mult;
	return 0;
}

const char *
config_exec_kind_name(enum conf_exec_kind kind)
{
	if ((size_t)kind >= NELEM(exec_kind_names))
		return "?";
	return exec_kind_names[kind];
}

const char *
config_sandbox_profile_name(enum conf_sandbox_profile p)
{
	return (size_t)p < NELEM(profile_names) ? profile_names[p] : "?";
}

const char *
config_backend_name(enum conf_backend backend)
{
	if ((size_t)backend >= NELEM(backend_names))
		return "unknown";
	return backend_names[backend];
}

const char *
config_suggest(const char *s, const char *const words[], size_t n)
{
	return suggest(s, words, n);
}
