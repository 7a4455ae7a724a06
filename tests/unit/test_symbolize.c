/*
 * test_symbolize.c: backtrace lines into frames with function names, on
 * real files and on files made to break an ELF reader; and the blame of a
 * crash on a plugin's tasks.
 *
 * LOOPD_CRASHER names the built crasher.so (a small ELF file with debug
 * information), for the malformed copies.
 */
#include <check.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolize.h"
#include "unit.h"

/* A hidden function of this program, for the symbolizer to find. */
__attribute__((noinline)) static int
symbolize_test_target(int x)
{
	return x * 3 + 1;
}

static char tmpdir[] = "/tmp/loopd-symbolize-XXXXXX";

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		return;
}

/* One frame of one line, symbolized; the test fails if it is not there
 * with its raw line.  New. */
static json_t *
one_frame(const char *line)
{
	json_t *raw, *out, *f;

	raw = json_pack("[s]", line);
	out = symbolize_frames(raw);
	json_decref(raw);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(json_array_size(out), 1);
	f = json_incref(json_array_get(out, 0));
	json_decref(out);
	ck_assert_str_eq(json_string_value(json_object_get(f, "raw")), line);
	return f;
}

static const char *
field(const json_t *f, const char *key)
{
	return json_string_value(json_object_get(f, key));
}

START_TEST(test_own_function)
{
	Dl_info info;
	char line[4096], self[1024];
	uintptr_t off;
	ssize_t n;
	json_t *f;

	ck_assert_int_eq(symbolize_test_target(1), 4);
	ck_assert_int_ne(dladdr((void *)symbolize_test_target, &info), 0);
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	ck_assert_int_gt(n, 0);
	self[n] = '\0';
	off = (uintptr_t)symbolize_test_target - (uintptr_t)info.dli_fbase;
	/* As the first frame: the address itself. */
	snprintf(line, sizeof line, "%s(+0x%jx)[0x%jx]", self, (uintmax_t)off,
	    (uintmax_t)(uintptr_t)symbolize_test_target);
	f = one_frame(line);
	ck_assert_str_eq(field(f, "file"), self);
	ck_assert_str_eq(field(f, "function"), "symbolize_test_target");
	/* The tests are built with -g (RelWithDebInfo, Debug). */
	ck_assert_msg(field(f, "source") != NULL, "no source line: built "
	    "without debug information?");
	ck_assert_ptr_nonnull(strstr(field(f, "source"), "test_symbolize.c:"));
	json_decref(f);
}
END_TEST

/* Whether this process maps libdw now. */
static int
maps_libdw(void)
{
	char line[4096];
	FILE *f;
	int found = 0;

	ck_assert_ptr_nonnull(f = fopen("/proc/self/maps", "r"));
	while (!found && fgets(line, sizeof line, f) != NULL)
		found = strstr(line, "/libdw") != NULL;
	fclose(f);
	return found;
}

/* libdw is not linked: it is mapped by the first symbolization only.  (Each
 * test runs in a process of its own, unless CK_FORK=no.) */
START_TEST(test_libdw_on_demand)
{
	Dl_info info;
	char line[4096];
	const char *fork_mode = getenv("CK_FORK");
	json_t *f;

	if (fork_mode == NULL || strcmp(fork_mode, "no") != 0)
		ck_assert_msg(!maps_libdw(), "libdw mapped before any use");
	ck_assert_int_ne(dladdr((void *)symbolize_test_target, &info), 0);
	snprintf(line, sizeof line, "%s(+0x%jx)[0x1]", info.dli_fname,
	    (uintmax_t)((uintptr_t)symbolize_test_target -
	    (uintptr_t)info.dli_fbase));
	f = one_frame(line);
	ck_assert_str_eq(field(f, "function"), "symbolize_test_target");
	json_decref(f);
	ck_assert(maps_libdw());
}
END_TEST

/* Lines that are not what backtrace_symbols_fd() writes keep only raw. */
static const char *const odd_lines[] = {
	"", "[", "]", "[]", "[0x]", "()[0x10]", "x(+)[0x10]", "x(+0x)[0x10]",
	"x(+zz)[0x10]", "x(sym)[0x10]", "x(+0x10[0x10]", "x+0x10)[0x10]",
	"x(+0x10)[0x10", "(((((+0x1)[0x1]", "x(+0xffffffffffffffffff)[0x1]",
	"/nonexistent/file.so(+0x10)[0x10]", "/dev/null(+0x10)[0x10]",
	"/dev/zero(+0x10)[0x10]", "/proc/self/mem(+0x10)[0x10]",
	"/(+0x10)[0x10]", "[0x7f0000001000]",
};

START_TEST(test_odd_line)
{
	json_t *f = one_frame(odd_lines[_i]);

	ck_assert_ptr_null(json_object_get(f, "function"));
	ck_assert_ptr_null(json_object_get(f, "source"));
	json_decref(f);
}
END_TEST

static unsigned char *
read_crasher(size_t *len)
{
	const char *path = getenv("LOOPD_CRASHER");
	unsigned char *data;
	FILE *fp;

	ck_assert_msg(path != NULL, "LOOPD_CRASHER is not set");
	ck_assert_ptr_nonnull(fp = fopen(path, "rb"));
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	*len = (size_t)ftell(fp);
	rewind(fp);
	ck_assert_ptr_nonnull(data = malloc(*len));
	ck_assert_uint_eq(fread(data, 1, *len, fp), *len);
	fclose(fp);
	return data;
}

static void
symbolize_bytes(const unsigned char *data, size_t len)
{
	char path[256], line[512];
	FILE *fp;
	json_t *f;

	snprintf(path, sizeof path, "%s/bad.so", tmpdir);
	ck_assert_ptr_nonnull(fp = fopen(path, "wb"));
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	fclose(fp);
	snprintf(line, sizeof line, "%s(+0x1130)[0x7f0000001130]", path);
	f = one_frame(line);
	json_decref(f);
	snprintf(line, sizeof line, "%s(crasher_fire+0x10)[0x7f0000001130]",
	    path);
	f = one_frame(line);
	json_decref(f);
}

/* The real file, cut short at many lengths: never a crash. */
START_TEST(test_truncated_elf)
{
	unsigned char *data;
	size_t len, cut;

	data = read_crasher(&len);
	for (cut = 0; cut < len; cut += cut < 256 ? 7 : 211)
		symbolize_bytes(data, cut);
	free(data);
}
END_TEST

/* The real file with bytes overwritten, in its headers and elsewhere. */
START_TEST(test_corrupt_elf)
{
	unsigned char *data, *copy;
	size_t len, i, j, at;
	unsigned seed = 7;

	data = read_crasher(&len);
	ck_assert_ptr_nonnull(copy = malloc(len));
	for (i = 0; i < 300; i++) {
		memcpy(copy, data, len);
		for (j = 0; j < 8; j++) {
			seed = seed * 1103515245 + 12345;
			/* Half of them in the first 4 KiB: the ELF header
			 * and the program headers. */
			at = (seed >> 8) % (i % 2 == 0 ? 4096 : len);
			seed = seed * 1103515245 + 12345;
			copy[at % len] = (unsigned char)(seed >> 16);
		}
		symbolize_bytes(copy, len);
	}
	free(copy);
	free(data);
}
END_TEST

START_TEST(test_not_array)
{
	json_t *s = json_string("x");

	ck_assert_ptr_null(symbolize_frames(NULL));
	ck_assert_ptr_null(symbolize_frames(s));
	json_decref(s);
}
END_TEST

/* ---- blame -------------------------------------------------------------- */

static struct task_conf tasks[] = {
	{ .name = "a", .plugin = "alpha", .plugin_path = "/p/alpha.so" },
	{ .name = "b", .plugin = "beta", .plugin_path = "/p/beta.so" },
	{ .name = "c", .plugin = "alpha", .plugin_path = "/p/alpha.so" },
};
static const struct loop_conf loop = { .name = "l", .tasks = tasks,
    .ntasks = 3 };

static json_t *
frames_of(const char *a, const char *b, const char *c)
{
	return json_pack("[{s:s},{s:s},{s:s},{}]", "file", a, "file", b,
	    "file", c);
}

START_TEST(test_blame_one)
{
	struct symbolize_blame b;
	json_t *fr = frames_of("/lib/libc.so.6", "/p/beta.so", "/p/alpha.so");

	ck_assert_int_eq(symbolize_blame(fr, &loop, &b), 0);
	ck_assert_ptr_eq(b.task, &tasks[1]);
	ck_assert_str_eq(b.plugin, "beta");
	ck_assert_ptr_null(b.suspects);
	json_decref(fr);
}
END_TEST

START_TEST(test_blame_shared)
{
	struct symbolize_blame b;
	json_t *fr = frames_of("/p/alpha.so", "/p/beta.so", "/usr/sbin/loopd");
	json_t *want = json_pack("[s,s]", "a", "c");

	ck_assert_int_eq(symbolize_blame(fr, &loop, &b), 0);
	ck_assert_ptr_null(b.task);
	ck_assert_str_eq(b.plugin, "alpha");
	ck_assert_int_eq(json_equal(b.suspects, want), 1);
	json_decref(want);
	json_decref(b.suspects);
	json_decref(fr);
}
END_TEST

START_TEST(test_blame_none)
{
	struct symbolize_blame b;
	json_t *fr = frames_of("/lib/libc.so.6", "/p/gamma.so", "/usr/sbin/loopd");

	ck_assert_int_eq(symbolize_blame(fr, &loop, &b), -1);
	ck_assert_ptr_null(b.task);
	ck_assert_ptr_null(b.plugin);
	ck_assert_ptr_null(b.suspects);
	json_decref(fr);
}
END_TEST

/* The same file by another name: a symlink to it. */
START_TEST(test_blame_resolved)
{
	struct task_conf t = { .name = "x", .plugin = "xplug" };
	struct loop_conf l = { .name = "l", .tasks = &t, .ntasks = 1 };
	struct symbolize_blame b;
	char real[256], link[256];
	FILE *fp;
	json_t *fr;

	snprintf(real, sizeof real, "%s/xplug.so", tmpdir);
	snprintf(link, sizeof link, "%s/other.so", tmpdir);
	ck_assert_ptr_nonnull(fp = fopen(real, "w"));
	fclose(fp);
	ck_assert_int_eq(symlink(real, link), 0);
	t.plugin_path = real;
	fr = json_pack("[{s:s}]", "file", link);
	ck_assert_int_eq(symbolize_blame(fr, &l, &b), 0);
	ck_assert_ptr_eq(b.task, &t);
	json_decref(fr);
}
END_TEST

static Suite *
symbolize_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("symbolize");
	tc = tcase_create("frames");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_own_function);
	tcase_add_test(tc, test_libdw_on_demand);
	tcase_add_loop_test(tc, test_odd_line, 0,
	    sizeof odd_lines / sizeof odd_lines[0]);
	tcase_add_test(tc, test_truncated_elf);
	tcase_add_test(tc, test_corrupt_elf);
	tcase_add_test(tc, test_not_array);
	suite_add_tcase(s, tc);

	tc = tcase_create("blame");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_blame_one);
	tcase_add_test(tc, test_blame_shared);
	tcase_add_test(tc, test_blame_none);
	tcase_add_test(tc, test_blame_resolved);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(symbolize_suite());
}
