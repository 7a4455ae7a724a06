/*
 * args.c: the loopd_args_* getters, which read a task's `config:` tree.
 *
 * A value of the wrong type is reported through the struct loopd_args'
 * callback, with the file, line and column of the value, and the getter
 * returns the caller's default.  Integers and booleans must be written
 * plain: a quoted "123" is a string, and saying so is kinder than guessing.
 * A null value counts as absent.  Nothing here allocates.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "args.h"
#include "config.h"
#include "errlist.h"

void
args_init(struct loopd_args *args, const struct conf_node *root,
    args_error_fn on_error, void *ctx)
{
	args->root = root;
	args->on_error = on_error;
	args->ctx = ctx;
}

/* The item a path segment `seg` (not NUL-terminated) names, or NULL. */
static const struct conf_node *
args_child(const struct conf_node *node, const char *seg, size_t len)
{
	size_t i, idx = 0;

	if (node->kind == CONF_MAP) {
		for (i = 0; i < node->n; i++)
			if (strlen(node->keys[i]) == len &&
			    memcmp(node->keys[i], seg, len) == 0)
				return node->items[i];
		return NULL;
	}
	if (node->kind != CONF_SEQ)
		return NULL;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)seg[i]) ||
		    idx > (SIZE_MAX - 9) / 10)
			return NULL;
		idx = idx * 10 + (size_t)(seg[i] - '0');
	}
	return idx < node->n ? node->items[idx] : NULL;
}

const struct conf_node *
args_lookup(const struct conf_node *root, const char *path)
{
	const struct conf_node *node = root;
	const char *seg, *dot;
	size_t len;

	if (root == NULL || path == NULL || *path == '\0')
		return root;
	for (seg = path; node != NULL; seg = dot + 1) {
		dot = strchr(seg, '.');
		len = dot != NULL ? (size_t)(dot - seg) : strlen(seg);
		if (len == 0)
			return NULL;
		node = args_child(node, seg, len);
		if (dot == NULL)
			return node;
	}
	return NULL;
}

/* The node at path, or NULL when it is absent or null. */
static const struct conf_node *
args_value(const struct loopd_args *args, const char *path)
{
	const struct conf_node *node;

	if (args == NULL)
		return NULL;
	node = args_lookup(args->root, path);
	if (node != NULL && node->kind == CONF_SCALAR && node->is_null)
		return NULL;
	return node;
}

const char *
args_found(const struct conf_node *node, char *buf, size_t len)
{
	char shown[ERRLIST_SHOWN_BUF];

	if (node->kind == CONF_MAP)
		return "a mapping";
	if (node->kind == CONF_SEQ)
		return "a sequence";
	snprintf(buf, len, "\"%s\"", errlist_shown(node->value, shown));
	return buf;
}

/* Tell the callback that the value at path is not what was expected. */
static void
args_bad(const struct loopd_args *args, const char *path,
    const struct conf_node *node, const char *expected, const char *why)
{
	char msg[512], got[ERRLIST_SHOWN_BUF + 2];
	int root;

	if (args->on_error == NULL)
		return;
	root = path == NULL || *path == '\0';
	snprintf(msg, sizeof msg, "%s:%d:%d: config%s%s: expected %s, "
	    "got %s%s", node->mark.file != NULL ? node->mark.file : "?",
	    node->mark.line, node->mark.col, root ? "" : ".", root ? "" : path,
	    expected, args_found(node, got, sizeof got), why);
	args->on_error(args->ctx, msg);
}

/* The text of a plain scalar, or NULL after reporting it as not `what`. */
static const char *
args_plain(const struct loopd_args *args, const char *path,
    const struct conf_node *node, const char *what)
{
	if (node->kind != CONF_SCALAR)
		args_bad(args, path, node, what, "");
	else if (node->quoted)
		args_bad(args, path, node, what,
		    " (a quoted string; write it without quotes)");
	else
		return node->value;
	return NULL;
}

static int
args_digit(int c, int base)
{
	if (isdigit(c))
		return c - '0';
	if (base == 16 && isxdigit(c))
		return tolower(c) - 'a' + 10;
	return -1;
}

int
args_parse_int(const char *s, int64_t *out)
{
	uint64_t v = 0;
	int neg = 0, base = 10, range = 0, d;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if ((d = args_digit((unsigned char)*s, base)) == -1)
			return -1;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			range = 1;
		else
			v = v * (uint64_t)base + (uint64_t)d;
	}
	if (range || v > (uint64_t)INT64_MAX + neg)
		return -2;
	if (neg)
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	else
		*out = (int64_t)v;
	return 0;
}

bool
loopd_args_has(const loopd_args *args, const char *path)
{
	return args_value(args, path) != NULL;
}

const char *
loopd_args_string(const loopd_args *args, const char *path, const char *def)
{
	const struct conf_node *node;

	if ((node = args_value(args, path)) == NULL)
		return def;
	if (node->kind == CONF_SCALAR)
		return node->value;
	args_bad(args, path, node, "a string", "");
	return def;
}

int64_t
loopd_args_int(const loopd_args *args, const char *path, int64_t def)
{
	const struct conf_node *node;
	const char *s;
	int64_t v;
	int rc;

	if ((node = args_value(args, path)) == NULL ||
	    (s = args_plain(args, path, node, "an integer")) == NULL)
		return def;
	if ((rc = args_parse_int(s, &v)) == 0)
		return v;
	args_bad(args, path, node, "an integer", rc == -2 ?
	    " (out of range for a 64-bit integer)" : "");
	return def;
}

bool
loopd_args_bool(const loopd_args *args, const char *path, bool def)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	const struct conf_node *node;
	const char *s;
	size_t i;

	if ((node = args_value(args, path)) == NULL ||
	    (s = args_plain(args, path, node, "true or false")) == NULL)
		return def;
	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return true;
		if (strcasecmp(s, no[i]) == 0)
			return false;
	}
	args_bad(args, path, node, "true or false", "");
	return def;
}

int64_t
loopd_args_duration_ms(const loopd_args *args, const char *path, int64_t def)
{
	const struct conf_node *node;
	const char *err;
	uint64_t ms;
	char why[128];

	if ((node = args_value(args, path)) == NULL)
		return def;
	if (node->kind != CONF_SCALAR) {
		args_bad(args, path, node, "a duration such as 250ms or 10s",
		    "");
		return def;
	}
	if (config_parse_duration(node->value, &ms, &err) == 0)
		return (int64_t)ms;
	snprintf(why, sizeof why, " (%s)", err);
	args_bad(args, path, node, "a duration such as 250ms or 10s", why);
	return def;
}

size_t
loopd_args_count(const loopd_args *args, const char *path)
{
	const struct conf_node *node;

	if ((node = args_value(args, path)) == NULL ||
	    node->kind == CONF_SCALAR)
		return 0;
	return node->n;
}

const char *
loopd_args_key(const loopd_args *args, const char *path, size_t i)
{
	const struct conf_node *node;

	if ((node = args_value(args, path)) == NULL ||
	    node->kind != CONF_MAP || i >= node->n)
		return NULL;
	return node->keys[i];
}
