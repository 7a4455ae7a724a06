/*
 * test_loader.c: loader_check_trust() refuses what others could have
 * written, and names the path and the fix.  Runs as root (it chowns).
 */
#include <check.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loader.h"
#include "unit.h"

struct tree {
	char	top[64];	/* mkdtemp: 0700 root, under sticky /tmp */
	char	dir[128];	/* top/plugins, 0755 */
	char	so[256];	/* top/plugins/p.so, 0755 */
};

static void
tree_make(struct tree *t)
{
	FILE *f;

	snprintf(t->top, sizeof t->top, "/tmp/loopd-trust-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(t->top));
	snprintf(t->dir, sizeof t->dir, "%s/plugins", t->top);
	snprintf(t->so, sizeof t->so, "%s/p.so", t->dir);
	ck_assert_int_eq(mkdir(t->dir, 0755), 0);
	ck_assert_int_eq(chmod(t->dir, 0755), 0);
	ck_assert_ptr_nonnull(f = fopen(t->so, "w"));
	fclose(f);
	ck_assert_int_eq(chmod(t->so, 0755), 0);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void
tree_free(struct tree *t)
{
	nftw(t->top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* *err after a refusal of so, naming path and the fix. */
static void
refused(const char *so, const char *path, const char *fix)
{
	struct plugin_error err = { 0 };
	char want[PATH_MAX + 32];

	ck_assert_int_eq(loader_check_trust(so, &err), -1);
	ck_assert_str_eq(err.type, "plugin_untrusted");
	snprintf(want, sizeof want, "%s %s", fix, path);
	ck_assert_msg(strstr(err.msg, want) != NULL, "'%s' not in: %s", want,
	    err.msg);
}

START_TEST(test_trusted)
{
	struct plugin_error err = { 0 };
	struct tree t;
	char missing[512];

	tree_make(&t);
	ck_assert_int_eq(loader_check_trust(t.so, &err), 0);
	/* Missing files are loader_open()'s to report. */
	snprintf(missing, sizeof missing, "%s/none.so", t.dir);
	ck_assert_int_eq(loader_check_trust(missing, &err), 0);
	tree_free(&t);
}
END_TEST

START_TEST(test_writable_dir)
{
	struct tree t;

	tree_make(&t);
	ck_assert_int_eq(chmod(t.dir, 0775), 0);
	refused(t.so, t.dir, "chmod go-w");
	/* Sticky is no excuse for the plugin directory itself. */
	ck_assert_int_eq(chmod(t.dir, 01777), 0);
	refused(t.so, t.dir, "chmod go-w");
	tree_free(&t);
}
END_TEST

START_TEST(test_writable_above)
{
	struct tree t;

	tree_make(&t);
	ck_assert_int_eq(chmod(t.top, 0777), 0);
	refused(t.so, t.top, "chmod go-w");
	/* A root-owned sticky directory above is fine, as /tmp is. */
	ck_assert_int_eq(chmod(t.top, 01777), 0);
	ck_assert_int_eq(loader_check_trust(t.so, &(struct plugin_error){ 0 }),
	    0);
	tree_free(&t);
}
END_TEST

START_TEST(test_file)
{
	struct tree t;

	tree_make(&t);
	ck_assert_int_eq(chmod(t.so, 0646), 0);
	refused(t.so, t.so, "chmod go-w");
	ck_assert_int_eq(chmod(t.so, 0755), 0);
	ck_assert_int_eq(chown(t.so, 65534, -1), 0);
	refused(t.so, t.so, "chown root");
	tree_free(&t);
}
END_TEST

START_TEST(test_symlink_target)
{
	struct tree t;
	char open_dir[256], target[512], link[512];
	FILE *f;

	tree_make(&t);
	snprintf(open_dir, sizeof open_dir, "%s/open", t.top);
	snprintf(target, sizeof target, "%s/q.so", open_dir);
	snprintf(link, sizeof link, "%s/q.so", t.dir);
	ck_assert_int_eq(mkdir(open_dir, 0755), 0);
	ck_assert_ptr_nonnull(f = fopen(target, "w"));
	fclose(f);
	ck_assert_int_eq(chmod(target, 0755), 0);
	ck_assert_int_eq(symlink(target, link), 0);
	ck_assert_int_eq(loader_check_trust(link, &(struct plugin_error){ 0 }),
	    0);
	/* The directory the file really is in counts, not only the link's. */
	ck_assert_int_eq(chmod(open_dir, 0777), 0);
	refused(link, open_dir, "chmod go-w");
	ck_assert_int_eq(chmod(open_dir, 0755), 0);
	ck_assert_int_eq(chmod(target, 0666), 0);
	refused(link, target, "chmod go-w");
	tree_free(&t);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("loader");
	TCase *tc = tcase_create("trust");

	tcase_add_test(tc, test_trusted);
	tcase_add_test(tc, test_writable_dir);
	tcase_add_test(tc, test_writable_above);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_symlink_target);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
