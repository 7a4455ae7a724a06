/*
 * schema.c: check tasks' `config:` mappings against their plugins'
 * declared settings.
 *
 * First each distinct plugin file is looked at once: is it there, may it
 * be trusted, and (in a child) what does it declare.  Then every task is
 * checked against what its file declared.  A plugin that declares no
 * table is not checked: its getters report bad values at run time.  The
 * value rules are the getters' (args.c), so that a file this check passes
 * is read by the getters without a complaint.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "args.h"
#include "errlist.h"
#include "inspect.h"
#include "loader.h"
#include "schema.h"

enum plug_state {
	PLUG_MISSING,
	PLUG_UNTRUSTED,
	PLUG_INSPECTED,
};

/* One distinct plugin file. */
struct plug {
	const char		*path;		/* borrowed from the conf */
	enum plug_state		 state;
	struct stat		 st;
	struct plugin_error	 err;		/* PLUG_UNTRUSTED */
	struct inspect_result	*res;		/* inspected now, or NULL */
	const struct inspect_info *info;	/* read: res's or cached */
};

/* What a file declared, while it is that file: same inode, size, mtime
 * and ctime (a .so replaced by rename, or rewritten, is read again). */
struct cache_entry {
	char			*path;
	struct stat		 st;
	struct inspect_info	 info;
	int			 used;		/* by the last check */
};

struct schema_cache {
	struct cache_entry	**v;
	size_t			 n;
};

/* Where problems go: errs, its marks' files copied into it. */
struct sink {
	const struct conf	*conf;
	struct conf_errors	*errs;
	size_t			 cap;
	int			 nomem;
};

static const char *
sink_file(struct sink *k, const char *file)
{
	struct conf_errors *e = k->errs;
	size_t i;

	if (file == NULL || strcmp(file, k->conf->path) == 0)
		return e->file;
	for (i = 0; i < e->nfragments; i++)
		if (strcmp(file, e->fragments[i]) == 0)
			return e->fragments[i];
	return e->file;
}

static void
sink_add(struct sink *k, struct conf_mark m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
sink_add(struct sink *k, struct conf_mark m, const char *fmt, ...)
{
	struct conf_errors *e = k->errs;
	struct conf_error *grown;
	va_list ap;
	char *msg;
	int rc;

	if (e->n == k->cap) {
		k->cap = k->cap == 0 ? 16 : k->cap * 2;
		if ((grown = realloc(e->v, k->cap * sizeof *grown)) == NULL) {
			k->nomem = 1;
			k->cap = e->n;
			return;
		}
		e->v = grown;
	}
	va_start(ap, fmt);
	rc = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (rc < 0) {
		k->nomem = 1;
		return;
	}
	m.file = sink_file(k, m.file);
	e->v[e->n].mark = m;
	e->v[e->n++].msg = msg;
}

/* errs->file and errs->fragments: copies of conf's names. */
static int
sink_init(struct sink *k, const struct conf *conf, struct conf_errors *errs)
{
	size_t i;

	memset(k, 0, sizeof *k);
	k->conf = conf;
	k->errs = errs;
	if ((errs->file = strdup(conf->path)) == NULL)
		return -1;
	if (conf->nfragments == 0)
		return 0;
	if ((errs->fragments = calloc(conf->nfragments,
	    sizeof *errs->fragments)) == NULL)
		return -1;
	for (i = 0; i < conf->nfragments; i++) {
		if ((errs->fragments[i] = strdup(conf->fragments[i])) == NULL)
			return -1;
		errs->nfragments++;
	}
	return 0;
}

/* ---- values --------------------------------------------------------------- */

static void
bad(struct sink *k, const struct task_conf *t, const char *key,
    const struct conf_node *v, const char *expected, const char *why)
{
	char got[ERRLIST_SHOWN_BUF + 2];

	sink_add(k, v->mark, "task '%s': config.%s: expected %s, got %s%s",
	    t->name, key, expected, args_found(v, got, sizeof got), why);
}

/* The text of a plain scalar, or NULL after reporting it. */
static const char *
plain(struct sink *k, const struct task_conf *t, const char *key,
    const struct conf_node *v, const char *expected)
{
	if (v->kind != CONF_SCALAR)
		bad(k, t, key, v, expected, "");
	else if (v->quoted)
		bad(k, t, key, v, expected, " (a quoted string; write it "
		    "without quotes)");
	else
		return v->value;
	return NULL;
}

static void
check_int(struct sink *k, const struct task_conf *t,
    const struct inspect_setting *s, const struct conf_node *v)
{
	const char *text;
	int64_t n;
	int rc;

	if ((text = plain(k, t, s->key, v, "an integer")) == NULL)
		return;
	if ((rc = args_parse_int(text, &n)) < 0)
		bad(k, t, s->key, v, "an integer", rc == -2 ?
		    " (out of range for a 64-bit integer)" : "");
	else if (n < s->min || n > s->max)
		sink_add(k, v->mark, "task '%s': config.%s: %lld is out of "
		    "range: from %lld to %lld", t->name, s->key, (long long)n,
		    (long long)s->min, (long long)s->max);
}

static void
check_bool(struct sink *k, const struct task_conf *t,
    const struct inspect_setting *s, const struct conf_node *v)
{
	static const char *const words[] = { "true", "yes", "on", "false",
	    "no", "off" };
	const char *text;
	size_t i;

	if ((text = plain(k, t, s->key, v, "true or false")) == NULL)
		return;
	for (i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcasecmp(text, words[i]) == 0)
			return;
	bad(k, t, s->key, v, "true or false", "");
}

static void
check_duration(struct sink *k, const struct task_conf *t,
    const struct inspect_setting *s, const struct conf_node *v)
{
	const char *err;
	uint64_t ms;
	char why[128];

	if (v->kind != CONF_SCALAR) {
		bad(k, t, s->key, v, "a duration such as 250ms or 10s", "");
		return;
	}
	if (config_parse_duration(v->value, &ms, &err) == 0)
		return;
	snprintf(why, sizeof why, " (%s)", err);
	bad(k, t, s->key, v, "a duration such as 250ms or 10s", why);
}

/* "a, b, c" of words[0..n) into buf. */
static const char *
join(const char *const *words, size_t n, char *buf, size_t len)
{
	size_t i, used = 0;

	buf[0] = '\0';
	for (i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
		    i > 0 ? ", " : "", words[i]);
	return buf;
}

static void
check_enum(struct sink *k, const struct task_conf *t,
    const struct inspect_setting *s, const struct conf_node *v)
{
	char shown[ERRLIST_SHOWN_BUF], list[512];
	const char *best;
	size_t i;

	if (v->kind != CONF_SCALAR) {
		bad(k, t, s->key, v, "one of the values", "");
		return;
	}
	for (i = 0; i < s->nvalues; i++)
		if (strcmp(v->value, s->values[i]) == 0)
			return;
	best = config_suggest(v->value, (const char *const *)s->values,
	    s->nvalues);
	if (best != NULL)
		sink_add(k, v->mark, "task '%s': config.%s: unknown value "
		    "'%s'; did you mean '%s'?", t->name, s->key,
		    errlist_shown(v->value, shown), best);
	else
		sink_add(k, v->mark, "task '%s': config.%s: unknown value "
		    "'%s'; expected one of %s", t->name, s->key,
		    errlist_shown(v->value, shown), join((const char *const *)
		    s->values, s->nvalues, list, sizeof list));
}

static void
check_value(struct sink *k, const struct task_conf *t,
    const struct inspect_setting *s, const struct conf_node *v)
{
	if (v->kind == CONF_SCALAR && v->is_null)
		return;		/* absent, as the getters take it */
	switch (s->type) {
	case LOOPD_TYPE_STRING:
		if (v->kind != CONF_SCALAR)
			bad(k, t, s->key, v, "a string", "");
		break;
	case LOOPD_TYPE_INT:
		check_int(k, t, s, v);
		break;
	case LOOPD_TYPE_BOOL:
		check_bool(k, t, s, v);
		break;
	case LOOPD_TYPE_DURATION:
		check_duration(k, t, s, v);
		break;
	case LOOPD_TYPE_ENUM:
		check_enum(k, t, s, v);
		break;
	case LOOPD_TYPE_LIST:
		if (v->kind != CONF_SEQ)
			bad(k, t, s->key, v, "a list", "");
		break;
	case LOOPD_TYPE_MAP:
		if (v->kind != CONF_MAP)
			bad(k, t, s->key, v, "a mapping", "");
		break;
	}
}

static void
check_unknown(struct sink *k, const struct task_conf *t,
    const struct inspect_info *info, const char *key, struct conf_mark m)
{
	char shown[ERRLIST_SHOWN_BUF], list[512];
	const char **keys = inspect_keys(info);
	const char *best = NULL;

	if (keys != NULL)
		best = config_suggest(key, keys, info->nsettings);
	if (best != NULL)
		sink_add(k, m, "task '%s': config: unknown key '%s' for plugin "
		    "'%s'; did you mean '%s'?", t->name,
		    errlist_shown(key, shown), t->plugin, best);
	else if (keys != NULL)
		sink_add(k, m, "task '%s': config: unknown key '%s' for plugin "
		    "'%s'; it takes %s", t->name, errlist_shown(key, shown),
		    t->plugin, join(keys, info->nsettings, list, sizeof list));
	else
		sink_add(k, m, "task '%s': config: unknown key '%s': plugin "
		    "'%s' takes no settings", t->name,
		    errlist_shown(key, shown), t->plugin);
	free(keys);
}

static void
check_task(struct sink *k, const struct task_conf *t,
    const struct inspect_info *info)
{
	const struct conf_node *c = t->config, *v;
	const struct inspect_setting *s;
	size_t i;

	for (i = 0; i < info->nsettings; i++) {
		s = &info->settings[i];
		if (!s->required)
			continue;
		v = tree_map_get(c, s->key);
		if (v == NULL || (v->kind == CONF_SCALAR && v->is_null))
			sink_add(k, c != NULL ? c->mark : t->mark, "task '%s': "
			    "config: plugin '%s' needs '%s' (%s), which is "
			    "not set", t->name, t->plugin, s->key,
			    inspect_type_name(s->type));
	}
	if (c == NULL || c->kind != CONF_MAP)
		return;
	for (i = 0; i < c->n; i++) {
		if ((s = inspect_find(info, c->keys[i])) == NULL)
			check_unknown(k, t, info, c->keys[i], c->key_marks[i]);
		else
			check_value(k, t, s, c->items[i]);
	}
}

/* ---- plugin files ------------------------------------------------------------- */

/* The plugin names (NAME of NAME.so) in dir, for "did you mean". */
struct names {
	char	**v;
	size_t	 n;
	int	 done;
};

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
names_read(struct names *nm, const char *path)
{
	char *dir, *slash, **grown;
	struct dirent *de;
	size_t len;
	DIR *d;

	nm->done = 1;
	if ((dir = strdup(path)) == NULL)
		return;
	if ((slash = strrchr(dir, '/')) != NULL)
		slash[slash == dir] = '\0';
	if ((d = opendir(slash != NULL ? dir : ".")) == NULL) {
		free(dir);
		return;
	}
	while ((de = readdir(d)) != NULL && nm->n < 1000) {
		len = strlen(de->d_name);
		if (len <= 3 || strcmp(de->d_name + len - 3, ".so") != 0)
			continue;
		if ((grown = realloc(nm->v, (nm->n + 1) * sizeof *grown)) ==
		    NULL)
			break;
		nm->v = grown;
		if ((nm->v[nm->n] = strndup(de->d_name, len - 3)) == NULL)
			break;
		nm->n++;
	}
	closedir(d);
	free(dir);
	if (nm->n > 1)
		qsort(nm->v, nm->n, sizeof *nm->v, by_name);
}

static void
names_free(struct names *nm)
{
	size_t i;

	for (i = 0; i < nm->n; i++)
		free(nm->v[i]);
	free(nm->v);
}

static void
report_missing(struct sink *k, const struct task_conf *t, struct names *nm)
{
	char list[512];
	const char *best;

	/* The names come from the first missing file's directory: every
	 * task's plugin is in plugin_dir. */
	if (!nm->done)
		names_read(nm, t->plugin_path);
	best = config_suggest(t->plugin, (const char *const *)nm->v, nm->n);
	if (best != NULL)
		sink_add(k, t->mark, "task '%s': plugin '%s' not found: %s does "
		    "not exist; did you mean '%s'?", t->name, t->plugin,
		    t->plugin_path, best);
	else if (nm->n > 0)
		sink_add(k, t->mark, "task '%s': plugin '%s' not found: %s does "
		    "not exist; its directory has %s", t->name, t->plugin,
		    t->plugin_path, join((const char *const *)nm->v, nm->n,
		    list, sizeof list));
	else
		sink_add(k, t->mark, "task '%s': plugin '%s' not found: %s does "
		    "not exist, and its directory holds no plugin", t->name,
		    t->plugin, t->plugin_path);
}

static int
same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	    a->st_size == b->st_size &&
	    a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	    a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	    a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	    a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

struct schema_cache *
schema_cache_new(void)
{
	return calloc(1, sizeof(struct schema_cache));
}

static void
entry_free(struct cache_entry *e)
{
	struct inspect_result r = { 0 };

	r.info = e->info;
	inspect_result_free(&r);
	free(e->path);
	free(e);
}

void
schema_cache_free(struct schema_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		entry_free(c->v[i]);
	free(c->v);
	free(c);
}

static struct cache_entry *
cache_get(struct schema_cache *c, const char *path, const struct stat *st)
{
	size_t i;

	for (i = 0; c != NULL && i < c->n; i++)
		if (strcmp(c->v[i]->path, path) == 0 &&
		    same_file(&c->v[i]->st, st))
			return c->v[i];
	return NULL;
}

/* r's info moves into c for path, in place of what path had. */
static const struct inspect_info *
cache_put(struct schema_cache *c, const char *path, const struct stat *st,
    struct inspect_result *r)
{
	struct cache_entry *e, **grown;
	size_t i;

	if (c == NULL || (e = calloc(1, sizeof *e)) == NULL)
		return &r->info;
	if ((e->path = strdup(path)) == NULL ||
	    (grown = realloc(c->v, (c->n + 1) * sizeof *grown)) == NULL) {
		free(e->path);
		free(e);
		return &r->info;
	}
	c->v = grown;
	for (i = 0; i < c->n; i++)
		if (strcmp(c->v[i]->path, path) == 0) {
			entry_free(c->v[i]);
			c->v[i] = c->v[--c->n];
			break;
		}
	e->st = *st;
	e->info = r->info;
	e->used = 1;
	memset(&r->info, 0, sizeof r->info);
	c->v[c->n++] = e;
	return &e->info;
}

/* Only what the last check used is kept. */
static void
cache_prune(struct schema_cache *c)
{
	size_t i;

	for (i = 0; c != NULL && i < c->n; ) {
		if (!c->v[i]->used) {
			entry_free(c->v[i]);
			c->v[i] = c->v[--c->n];
			continue;
		}
		c->v[i++]->used = 0;
	}
}

/* One distinct file: there, trusted, known to the cache. */
static void
plug_look(struct plug *p, struct schema_cache *cache)
{
	struct cache_entry *e;

	if (stat(p->path, &p->st) < 0)
		p->state = PLUG_MISSING;
	else if (loader_check_trust(p->path, &p->err) < 0)
		p->state = PLUG_UNTRUSTED;
	else {
		p->state = PLUG_INSPECTED;
		if ((e = cache_get(cache, p->path, &p->st)) != NULL) {
			e->used = 1;
			p->info = &e->info;
		}
	}
}

/* The distinct plugin files of conf, looked at: there, trusted, and
 * inspected (those the cache does not know, side by side). */
static int
plugs_find(const struct conf *conf, const char *exe, const struct creds *creds,
    struct schema_cache *cache, struct plug **out, size_t *np)
{
	struct plug *ps = NULL, *grown;
	struct inspect_result *res = NULL;
	const char **paths = NULL;
	size_t i, j, n = 0, ni = 0, last = 0;

	for (i = 0; i < conf->nloops; i++)
		for (j = 0; j < conf->loops[i].ntasks; j++) {
			const char *p = conf->loops[i].tasks[j].plugin_path;

			if (n > 0 && strcmp(ps[last].path, p) == 0)
				continue;
			for (last = 0; last < n; last++)
				if (strcmp(ps[last].path, p) == 0)
					break;
			if (last < n)
				continue;
			if ((grown = realloc(ps, (n + 1) * sizeof *ps)) ==
			    NULL)
				goto fail;
			ps = grown;
			memset(&ps[n], 0, sizeof ps[n]);
			ps[n].path = p;
			plug_look(&ps[n], cache);
			if (ps[n].state == PLUG_INSPECTED &&
			    ps[n].info == NULL)
				ni++;
			last = n++;
		}
	*out = ps;
	*np = n;
	if (ni == 0)
		return 0;
	if ((res = calloc(ni, sizeof *res)) == NULL ||
	    (paths = calloc(ni, sizeof *paths)) == NULL)
		goto fail;
	for (i = 0, j = 0; i < n; i++)
		if (ps[i].state == PLUG_INSPECTED && ps[i].info == NULL) {
			ps[i].res = &res[j];
			paths[j++] = ps[i].path;
		}
	inspect_run(exe, creds, paths, ni, INSPECT_DEADLINE_MS, res);
	free(paths);
	for (i = 0; i < n; i++)
		if (ps[i].res != NULL && ps[i].res->ok)
			ps[i].info = cache_put(cache, ps[i].path, &ps[i].st,
			    ps[i].res);
	return 0;
fail:
	free(res);
	free(ps);
	*out = NULL;
	*np = 0;
	return -1;
}

static void
plugs_free(struct plug *ps, size_t n)
{
	struct inspect_result *res = NULL;
	size_t i;

	for (i = 0; i < n; i++)
		if (ps[i].res != NULL) {
			if (res == NULL)
				res = ps[i].res;	/* the first is the array */
			inspect_result_free(ps[i].res);
		}
	free(res);
	free(ps);
}

static const struct plug *
plug_of(const struct plug *ps, size_t n, const char *path, size_t *last)
{
	size_t i;

	if (*last < n && strcmp(ps[*last].path, path) == 0)
		return &ps[*last];
	for (i = 0; i < n; i++)
		if (strcmp(ps[i].path, path) == 0)
			return &ps[*last = i];
	return NULL;
}

int
schema_check_info(const struct conf *conf, const struct inspect_info *info,
    struct conf_errors *errs)
{
	struct sink k;
	size_t i, j;

	if (sink_init(&k, conf, errs) < 0) {
		conf_errors_free(errs);
		return -1;
	}
	for (i = 0; i < conf->nloops && info->has_settings; i++)
		for (j = 0; j < conf->loops[i].ntasks; j++)
			check_task(&k, &conf->loops[i].tasks[j], info);
	if (k.nomem || errs->n == 0) {
		conf_errors_free(errs);
		return k.nomem ? -1 : 0;
	}
	return -1;
}

int
schema_check(const struct conf *conf, const char *exe,
    const struct creds *creds, int flags,
    struct schema_cache *cache, struct conf_errors *errs)
{
	const struct task_conf *t;
	const struct plug *p;
	struct names nm = { 0 };
	struct plug *ps = NULL;
	struct sink k;
	size_t i, j, n = 0, last = 0;

	if (sink_init(&k, conf, errs) < 0 ||
	    plugs_find(conf, exe, creds, cache, &ps, &n) < 0) {
		conf_errors_free(errs);
		return -1;
	}
	for (i = 0; i < conf->nloops; i++)
		for (j = 0; j < conf->loops[i].ntasks; j++) {
			t = &conf->loops[i].tasks[j];
			if ((p = plug_of(ps, n, t->plugin_path, &last)) ==
			    NULL)
				continue;
			if (p->state == PLUG_MISSING) {
				if (flags & SCHEMA_MISSING)
					report_missing(&k, t, &nm);
			} else if (p->state == PLUG_UNTRUSTED)
				sink_add(&k, t->mark, "task '%s': %s", t->name,
				    p->err.msg);
			else if (p->info == NULL)
				sink_add(&k, t->mark, "task '%s': plugin '%s': "
				    "%s", t->name, t->plugin, p->res->msg);
			else if (p->info->has_settings)
				check_task(&k, t, p->info);
		}
	names_free(&nm);
	plugs_free(ps, n);
	cache_prune(cache);
	if (k.nomem || errs->n == 0) {
		conf_errors_free(errs);
		return k.nomem ? -1 : 0;
	}
	return -1;
}
