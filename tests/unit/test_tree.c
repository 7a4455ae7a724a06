/*
 * test_tree.c: YAML text into a conf_node tree, and the tree functions.
 *
 * What the loader refuses is tested through the whole parser in
 * test_config.c; here are tree_equal(), tree_map_get() and the loader on
 * its own.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "errlist.h"
#include "tree.h"
#include "unit.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* text as a tree; the test fails if the loader found a problem. */
static struct conf_node *
load(const char *text, const char *file)
{
	struct conf_node *node;
	struct errlist el;

	errlist_init(&el, file);
	node = tree_load(text, strlen(text), &el);
	ck_assert_msg(!errlist_failed(&el), "\"%s\": %zu problems", text,
	    el.n);
	ck_assert_ptr_nonnull(node);
	errlist_free(&el);
	return node;
}

static const struct {
	const char	*a, *b;
	int		 equal;
} pairs[] = {
	/* Same values, written differently or elsewhere: equal. */
	{ "a: 1\n", "a: 1\n", 1 },
	{ "a: 1\nb: [x, y]\n", "a: 1\nb:\n  - x\n  - y\n", 1 },
	{ "a: {b: {c: d}}\n", "a:\n  b:\n    c: d\n", 1 },
	{ "a: 'x'\n", "a: \"x\"\n", 1 },
	{ "a: ~\n", "a: null\n", 1 },
	{ "a:\n", "a: ~\n", 1 },
	{ "\n\n  [1, 2]\n", "[1, 2]\n", 1 },
	{ "{}\n", "{}\n", 1 },
	{ "[]\n", "[]\n", 1 },
	/* A value, a key, a kind or the shape differs: not equal. */
	{ "a: 1\n", "a: 2\n", 0 },
	{ "a: 1\n", "b: 1\n", 0 },
	{ "a: 1\n", "a: '1'\n", 0 },		/* quoted or not */
	{ "a: ''\n", "a: ~\n", 0 },		/* empty, or null */
	{ "a: [1]\n", "a: {1: ~}\n", 0 },	/* kind */
	{ "a: [1]\n", "a: 1\n", 0 },
	{ "a: [1, 2]\n", "a: [1, 2, 3]\n", 0 },	/* count */
	{ "a: [1, 2]\n", "a: [2, 1]\n", 0 },	/* order in a sequence */
	{ "a: 1\nb: 2\n", "b: 2\na: 1\n", 0 },	/* order of keys */
	{ "a: 1\n", "a: 1\nb: 2\n", 0 },
	{ "a: {b: {c: d}}\n", "a: {b: {c: e}}\n", 0 },	/* deep */
	{ "a: {b: [x, {c: d}]}\n", "a: {b: [x, {c: d, e: f}]}\n", 0 },
	{ "{}\n", "[]\n", 0 },
	{ "{}\n", "~\n", 0 },
};

START_TEST(test_equal)
{
	struct conf_node *a, *b;

	a = load(pairs[_i].a, "a.yaml");
	b = load(pairs[_i].b, "b.yaml");
	ck_assert_msg(tree_equal(a, b) == pairs[_i].equal,
	    "[%d] \"%s\" and \"%s\": expected %s", _i, pairs[_i].a,
	    pairs[_i].b, pairs[_i].equal ? "equal" : "different");
	ck_assert_int_eq(tree_equal(b, a), pairs[_i].equal);
	ck_assert_int_eq(tree_equal(a, a), 1);
	tree_free(a);
	tree_free(b);
}
END_TEST

START_TEST(test_equal_null)
{
	struct conf_node *a;

	a = load("a: 1\n", "a.yaml");
	ck_assert_int_eq(tree_equal(NULL, NULL), 1);
	ck_assert_int_eq(tree_equal(a, NULL), 0);
	ck_assert_int_eq(tree_equal(NULL, a), 0);
	tree_free(a);
	tree_free(NULL);
}
END_TEST

START_TEST(test_map_get)
{
	struct conf_node *top, *v;

	top = load("a: 1\nb: [x]\nc: {d: e}\n", "t.yaml");
	ck_assert_ptr_nonnull(v = tree_map_get(top, "a"));
	ck_assert_str_eq(v->value, "1");
	ck_assert_ptr_nonnull(v = tree_map_get(top, "b"));
	ck_assert_int_eq(v->kind, CONF_SEQ);
	ck_assert_ptr_null(tree_map_get(v, "0"));	/* not a mapping */
	ck_assert_ptr_nonnull(v = tree_map_get(top, "c"));
	ck_assert_ptr_nonnull(v = tree_map_get(v, "d"));
	ck_assert_str_eq(v->value, "e");
	ck_assert_ptr_null(tree_map_get(v, "d"));	/* a scalar */
	ck_assert_ptr_null(tree_map_get(top, "z"));
	ck_assert_ptr_null(tree_map_get(top, ""));
	ck_assert_ptr_null(tree_map_get(NULL, "a"));
	tree_free(top);
}
END_TEST

START_TEST(test_marks)
{
	struct conf_node *top;

	top = load("# c\nk:\n  - v\n", "m.yaml");
	ck_assert_int_eq(top->kind, CONF_MAP);
	ck_assert_str_eq(top->mark.file, "m.yaml");
	ck_assert_int_eq(top->key_marks[0].line, 2);
	ck_assert_int_eq(top->key_marks[0].col, 1);
	ck_assert_int_eq(top->items[0]->items[0]->mark.line, 3);
	ck_assert_int_eq(top->items[0]->items[0]->mark.col, 5);
	tree_free(top);
}
END_TEST

/* A problem the tree can hold leaves a tree; a syntax error none. */
START_TEST(test_load_problems)
{
	static const char dup[] = "a: 1\nb: 2\na: 3\n";
	static const char bad[] = "a: [1\n";
	struct conf_node *top;
	struct errlist el;

	errlist_init(&el, "p.yaml");
	top = tree_load(dup, strlen(dup), &el);
	ck_assert_ptr_nonnull(top);
	ck_assert_uint_eq(top->n, 2);		/* the repeat is left out */
	ck_assert_str_eq(tree_map_get(top, "a")->value, "1");
	ck_assert_uint_eq(el.n, 1);
	ck_assert_int_eq(errlist_failed(&el), 1);
	tree_free(top);
	errlist_free(&el);

	errlist_init(&el, "p.yaml");
	ck_assert_ptr_null(tree_load(bad, strlen(bad), &el));
	ck_assert_uint_eq(el.n, 1);
	errlist_free(&el);
}
END_TEST

static Suite *
tree_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("tree");
	tc = tcase_create("equal");
	tcase_add_loop_test(tc, test_equal, 0, NELEM(pairs));
	tcase_add_test(tc, test_equal_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("load");
	tcase_add_test(tc, test_map_get);
	tcase_add_test(tc, test_marks);
	tcase_add_test(tc, test_load_problems);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(tree_suite());
}
