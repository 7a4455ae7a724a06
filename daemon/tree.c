/*
 * tree.c: YAML text read into a tree of conf_node, through libyaml.
 *
 * libyaml's events are read one by one into nodes.  What the tree cannot
 * hold is reported and left out, so that one pass finds every such
 * problem; a syntax error ends the pass, as libyaml cannot go on.  A
 * mapping's keys are checked for repeats in constant time on average: a
 * small mapping by a scan, a larger one through a hash set built as it is
 * read.  Nothing is kept between calls.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "errlist.h"
#include "strset.h"
#include "tree.h"

/* Mappings with more keys than this find repeats through a hash set. */
#define SMALL_MAP	8

/* One tree_load() call. */
struct load {
	struct errlist	*errs;
	const char	*text;
	size_t		 len;
};

static int	build(struct load *, yaml_parser_t *, yaml_event_t *, int,
		    struct conf_node **);
static void	lerr(struct load *, struct conf_mark, const char *, ...)
		    LOOPD_PRINTF(3, 4);

static void
lerr(struct load *l, struct conf_mark m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errlist_vadd(l->errs, m, fmt, ap);
	va_end(ap);
}

static int
clamp_int(size_t v)
{
	return v >= INT_MAX ? INT_MAX : (int)v;
}

static struct conf_mark
mark_of(const struct load *l, yaml_mark_t m)
{
	struct conf_mark cm;

	cm.file = l->errs->file;
	cm.line = clamp_int(m.line + 1);
	cm.col = clamp_int(m.column + 1);
	return cm;
}

/* The mark of a byte offset, for libyaml's reader errors which have none. */
static struct conf_mark
offset_mark(const struct load *l, size_t off)
{
	struct conf_mark cm;
	size_t i, line = 1, col = 1;

	for (i = 0; i < off && i < l->len; i++) {
		if (l->text[i] == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)l->text[i] & 0xc0) != 0x80)
			col++;
	}
	cm.file = l->errs->file;
	cm.line = clamp_int(line);
	cm.col = clamp_int(col);
	return cm;
}

static void
syntax_error(struct load *l, const yaml_parser_t *yp)
{
	const char *problem;

	problem = yp->problem != NULL ? yp->problem : "unknown problem";
	if (yp->error == YAML_MEMORY_ERROR)
		l->errs->nomem = 1;
	else if (yp->error == YAML_READER_ERROR && yp->problem_value != -1)
		lerr(l, offset_mark(l, yp->problem_offset),
		    "invalid text: %s (byte 0x%02x)", problem,
		    (unsigned)yp->problem_value & 0xffu);
	else if (yp->error == YAML_READER_ERROR)
		lerr(l, offset_mark(l, yp->problem_offset),
		    "invalid text: %s", problem);
	else if (yp->context != NULL)
		lerr(l, mark_of(l, yp->problem_mark),
		    "YAML syntax error: %s (%s started at line %zu, "
		    "column %zu)", problem, yp->context,
		    yp->context_mark.line + 1, yp->context_mark.column + 1);
	else
		lerr(l, mark_of(l, yp->problem_mark), "YAML syntax error: %s",
		    problem);
}

/* ---- nodes -------------------------------------------------------------- */

static struct conf_node *
node_new(struct load *l, enum conf_kind kind, yaml_mark_t m)
{
	struct conf_node *node;

	if ((node = calloc(1, sizeof *node)) == NULL) {
		l->errs->nomem = 1;
		return NULL;
	}
	node->kind = kind;
	node->mark = mark_of(l, m);
	return node;
}

/* Room for one more item (and key) in node, whose arrays hold *cap. */
static int
node_reserve(struct load *l, struct conf_node *node, size_t *cap)
{
	struct conf_node **items;
	struct conf_mark *marks;
	char **keys;
	size_t ncap;

	if (node->n < *cap)
		return 0;
	/* From 1: most mappings are small, and 40,000 task configs that each
	 * keep room for 8 keys cost a kilobyte a task. */
	ncap = *cap != 0 ? *cap * 2 : 1;
	if ((items = reallocarray(node->items, ncap, sizeof *items)) == NULL)
		goto nomem;
	node->items = items;
	if (node->kind == CONF_MAP) {
		if ((keys = reallocarray(node->keys, ncap,
		    sizeof *keys)) == NULL)
			goto nomem;
		node->keys = keys;
		if ((marks = reallocarray(node->key_marks, ncap,
		    sizeof *marks)) == NULL)
			goto nomem;
		node->key_marks = marks;
	}
	*cap = ncap;
	return 0;
nomem:
	l->errs->nomem = 1;
	return -1;
}

/* ---- building the tree -------------------------------------------------- */

static int
next_event(struct load *l, yaml_parser_t *yp, yaml_event_t *ev)
{
	if (yaml_parser_parse(yp, ev))
		return 0;
	syntax_error(l, yp);
	return -1;
}

static int
is_null_text(const char *s)
{
	return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static int
build_scalar(struct load *l, const yaml_event_t *ev, struct conf_node **out)
{
	struct conf_node *node;
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;

	if ((*out = node = node_new(l, CONF_SCALAR, ev->start_mark)) == NULL)
		return -1;
	if (memchr(v, '\0', len) != NULL) {
		lerr(l, node->mark, "a value cannot hold a NUL character");
		len = strlen(v);
	}
	node->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	node->is_null = !node->quoted && is_null_text(v);
	if (node->is_null)
		len = 0;
	if ((node->value = strndup(v, len)) == NULL) {
		l->errs->nomem = 1;
		return -1;
	}
	return 0;
}

/* Refused, with a null placeholder so the tree keeps its shape. */
static int
build_alias(struct load *l, const yaml_event_t *ev, struct conf_node **out)
{
	struct conf_node *node;
	char b[ERRLIST_SHOWN_BUF];

	if ((*out = node = node_new(l, CONF_SCALAR, ev->start_mark)) == NULL)
		return -1;
	node->is_null = 1;
	if ((node->value = strdup("")) == NULL) {
		l->errs->nomem = 1;
		return -1;
	}
	lerr(l, node->mark, "aliases such as '*%s' are not supported; "
	    "write the value out in full",
	    errlist_shown((const char *)ev->data.alias.anchor, b));
	/* What the checks would find at the placeholder repeats this. */
	errlist_quiet(l->errs, node->mark);
	return 0;
}

static int
build_seq(struct load *l, yaml_parser_t *yp, int depth,
    struct conf_node *seq)
{
	struct conf_node *item;
	yaml_event_t ev;
	size_t cap = 0;

	for (;;) {
		if (next_event(l, yp, &ev) == -1)
			return -1;
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (build(l, yp, &ev, depth + 1, &item) == -1)
			return -1;
		if (node_reserve(l, seq, &cap) == -1) {
			tree_free(item);
			return -1;
		}
		seq->items[seq->n++] = item;
	}
}

/* The key of a mapping entry, or NULL with *fatal clear when refused. */
static char *
build_key(struct load *l, yaml_parser_t *yp, yaml_event_t *ev, int depth,
    int *fatal)
{
	struct conf_node *junk;
	char *key;

	*fatal = 0;
	if (ev->type == YAML_SCALAR_EVENT) {
		key = strndup((const char *)ev->data.scalar.value,
		    ev->data.scalar.length);
		yaml_event_delete(ev);
		if (key == NULL)
			*fatal = l->errs->nomem = 1;
		return key;
	}
	if (ev->type != YAML_ALIAS_EVENT)
		lerr(l, mark_of(l, ev->start_mark), "a key must be a scalar, "
		    "found a %s", ev->type == YAML_MAPPING_START_EVENT ?
		    "mapping" : "sequence");
	if (build(l, yp, ev, depth + 1, &junk) == -1)
		*fatal = 1;
	tree_free(junk);
	return NULL;
}

/*
 * Whether key, about to become map's key number map->n, is new: 1, or 0
 * with *first set to where the same key is, or -1 when memory ran out.
 * seen holds the keys once the map is no longer small.
 */
static int
key_is_new(struct load *l, const struct conf_node *map, struct strset *seen,
    const char *key, struct conf_mark km, struct conf_mark *first)
{
	size_t i;
	int rc;

	if (map->n < SMALL_MAP) {
		for (i = 0; i < map->n; i++)
			if (strcmp(map->keys[i], key) == 0) {
				*first = map->key_marks[i];
				return 0;
			}
		return 1;
	}
	for (i = seen->n; i < map->n; i++)	/* the map grows out of small */
		if (strset_add(seen, map->keys[i], map->key_marks[i],
		    NULL) == -1)
			goto nomem;
	if ((rc = strset_add(seen, key, km, first)) != -1)
		return rc;
nomem:
	l->errs->nomem = 1;
	return -1;
}

/* One key and its value; kev is the key's first event. */
static int
build_entry(struct load *l, yaml_parser_t *yp, yaml_event_t *kev,
    int depth, struct conf_node *map, size_t *cap, struct strset *seen)
{
	struct conf_node *val;
	struct conf_mark km, first;
	yaml_event_t vev;
	char *key, b[ERRLIST_SHOWN_BUF];
	int fatal, rc = 1;

	km = mark_of(l, kev->start_mark);
	key = build_key(l, yp, kev, depth, &fatal);
	if (fatal || next_event(l, yp, &vev) == -1 ||
	    build(l, yp, &vev, depth + 1, &val) == -1) {
		free(key);
		return -1;
	}
	if (key != NULL &&
	    (rc = key_is_new(l, map, seen, key, km, &first)) == 0)
		lerr(l, km, "duplicate key '%s'; it is first at %s:%d:%d",
		    errlist_shown(key, b), l->errs->file, first.line,
		    first.col);
	if (key == NULL || rc != 1 || node_reserve(l, map, cap) == -1) {
		tree_free(val);
		free(key);
		return l->errs->nomem ? -1 : 0;
	}
	map->keys[map->n] = key;
	map->key_marks[map->n] = km;
	map->items[map->n++] = val;
	return 0;
}

static int
build_map(struct load *l, yaml_parser_t *yp, int depth,
    struct conf_node *map)
{
	struct strset seen = { 0 };
	yaml_event_t ev;
	size_t cap = 0;
	int rc;

	for (;;) {
		if ((rc = next_event(l, yp, &ev)) == -1)
			break;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if ((rc = build_entry(l, yp, &ev, depth, map, &cap,
		    &seen)) == -1)
			break;
	}
	strset_free(&seen);
	return rc;
}

static int
build_collection(struct load *l, yaml_parser_t *yp, const yaml_event_t *ev,
    int depth, struct conf_node **out)
{
	enum conf_kind kind;

	if (depth >= TREE_MAX_DEPTH) {
		lerr(l, mark_of(l, ev->start_mark), "the file nests deeper "
		    "than %d levels", TREE_MAX_DEPTH);
		return -1;
	}
	kind = ev->type == YAML_MAPPING_START_EVENT ? CONF_MAP : CONF_SEQ;
	if ((*out = node_new(l, kind, ev->start_mark)) == NULL)
		return -1;
	if (kind == CONF_MAP)
		return build_map(l, yp, depth, *out);
	return build_seq(l, yp, depth, *out);
}

/*
 * The node that starts with event ev, which this deletes.  Returns 0 with
 * *out set, or -1 when parsing cannot go on (the reason is reported).
 */
static int
build(struct load *l, yaml_parser_t *yp, yaml_event_t *ev, int depth,
    struct conf_node **out)
{
	int rc = -1;

	*out = NULL;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		rc = build_scalar(l, ev, out);
		break;
	case YAML_ALIAS_EVENT:
		rc = build_alias(l, ev, out);
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		rc = build_collection(l, yp, ev, depth, out);
		break;
	default:
		lerr(l, mark_of(l, ev->start_mark), "unexpected YAML event");
		break;
	}
	yaml_event_delete(ev);
	if (rc == -1) {
		tree_free(*out);
		*out = NULL;
	}
	return rc;
}

/* Skip one event, which is expected to be of the given type. */
static int
skip_event(struct load *l, yaml_parser_t *yp, yaml_event_type_t type)
{
	yaml_event_t ev;
	int rc;

	if (next_event(l, yp, &ev) == -1)
		return -1;
	rc = ev.type == type ? 0 : -1;
	if (rc == -1)
		lerr(l, mark_of(l, ev.start_mark), "unexpected YAML event");
	yaml_event_delete(&ev);
	return rc;
}

static int
load_document(struct load *l, yaml_parser_t *yp, struct conf_node **top)
{
	struct conf_mark start = { l->errs->file, 1, 1 };
	yaml_event_t ev;

	if (skip_event(l, yp, YAML_STREAM_START_EVENT) == -1 ||
	    next_event(l, yp, &ev) == -1)
		return -1;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		lerr(l, start, "the file is empty: it needs at least a "
		    "`loops:` sequence");
		return -1;
	}
	yaml_event_delete(&ev);
	if (next_event(l, yp, &ev) == -1 ||
	    build(l, yp, &ev, 0, top) == -1 ||
	    skip_event(l, yp, YAML_DOCUMENT_END_EVENT) == -1 ||
	    next_event(l, yp, &ev) == -1)
		return -1;
	if (ev.type == YAML_DOCUMENT_START_EVENT)
		lerr(l, mark_of(l, ev.start_mark), "a second YAML document "
		    "starts here; the file must hold only one");
	yaml_event_delete(&ev);
	return 0;
}

/* ---- the interface ------------------------------------------------------ */

struct conf_node *
tree_load(const char *text, size_t len, struct errlist *errs)
{
	struct conf_node *top = NULL;
	struct load l;
	yaml_parser_t yp;

	l.errs = errs;
	l.text = text != NULL ? text : "";
	l.len = text != NULL ? len : 0;
	if (!yaml_parser_initialize(&yp)) {
		errs->nomem = 1;
		return NULL;
	}
	yaml_parser_set_input_string(&yp, (const unsigned char *)l.text,
	    l.len);
	if (load_document(&l, &yp, &top) == -1) {
		tree_free(top);
		top = NULL;
	}
	yaml_parser_delete(&yp);
	return top;
}

void
tree_free(struct conf_node *node)
{
	size_t i;

	if (node == NULL)
		return;
	for (i = 0; i < node->n; i++) {
		tree_free(node->items[i]);
		if (node->keys != NULL)
			free(node->keys[i]);
	}
	free(node->items);
	free(node->keys);
	free(node->key_marks);
	free(node->value);
	free(node);
}

struct conf_node *
tree_map_get(const struct conf_node *map, const char *key)
{
	size_t i;

	if (map == NULL || map->kind != CONF_MAP)
		return NULL;
	for (i = 0; i < map->n; i++)
		if (strcmp(map->keys[i], key) == 0)
			return map->items[i];
	return NULL;
}

int
tree_equal(const struct conf_node *a, const struct conf_node *b)
{
	size_t i;

	if (a == NULL || b == NULL)
		return a == b;
	if (a->kind != b->kind || a->n != b->n)
		return 0;
	if (a->kind == CONF_SCALAR)
		return a->quoted == b->quoted && a->is_null == b->is_null &&
		    strcmp(a->value, b->value) == 0;
	for (i = 0; i < a->n; i++) {
		if (a->kind == CONF_MAP && strcmp(a->keys[i], b->keys[i]) != 0)
			return 0;
		if (!tree_equal(a->items[i], b->items[i]))
			return 0;
	}
	return 1;
}
