/*
 * symbolize.c: function names and source lines for a dead worker's frames,
 * read from the files on disk with libdwfl; and the plugin, and so the
 * tasks, whose code the innermost of them was in.
 *
 * Each file is read whole into memory (it is at most SYMBOLIZE_FILE_MAX
 * bytes, and a regular file: a FIFO or a device named by a frame is not
 * opened for reading) and reported to a Dwfl of its own, offline, so that
 * nothing is mapped and no other file is looked for.  A frame's address in
 * its file comes from its line: "FILE(+OFF)[ADDR]" gives the offset from
 * the load bias, which is the ELF virtual address; "FILE(SYM+OFF)[ADDR]"
 * a symbol to look up by name; "FILE[ADDR]" a file loaded at its own
 * addresses.  Every frame but the first is a return address, so the
 * function and line are those of the byte before it: the call.
 *
 * libdw is opened with dlopen() on the first file to read, not linked: it
 * and the libraries it needs (libelf, zlib, liblzma, libbz2) would cost
 * every supervisor and worker about 200 kB that only a crash uses.  When
 * it cannot be opened, each frame keeps only what its line says.
 */
#include <errno.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <elfutils/libdwfl.h>

#include "log.h"
#include "symbolize.h"

/* One file the frames name, read once. */
struct sym_file {
	char		*path;
	char		*data;		/* the file's bytes, for dwfl */
	Dwfl		*dwfl;
	Dwfl_Module	*mod;		/* NULL: nothing to be learnt */
	Dwarf_Addr	 bias;		/* dwfl address = vaddr + bias */
};

struct sym_files {
	struct sym_file	 v[SYMBOLIZE_FILES_MAX];
	size_t		 n;
};

/* A backtrace_symbols_fd() line, taken apart. */
struct sym_line {
	char		*file;		/* new, or NULL */
	char		*sym;		/* new, or NULL: no symbol named */
	int		 relative;	/* (+OFF) or (SYM+OFF) was there */
	int		 negative;	/* (SYM-OFF) */
	uint64_t	 off;
	uint64_t	 addr;		/* [ADDR] */
};

/* No file is looked for beyond the one the frame names. */
static int
sym_no_elf(Dwfl_Module *mod, void **userdata, const char *modname,
    Dwarf_Addr base, char **file_name, Elf **elfp)
{
	return -1;
}

static int
sym_no_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
    Dwarf_Addr base, const char *file_name, const char *debuglink_file,
    GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	return -1;
}

/* libdw's functions, once sym_dw_open() found them. */
static struct {
	int		  tried;
	int		  ok;
	__typeof__(dwfl_begin)			*begin;
	__typeof__(dwfl_end)			*end;
	__typeof__(dwfl_report_begin)		*report_begin;
	__typeof__(dwfl_report_end)		*report_end;
	__typeof__(dwfl_report_offline_memory)	*report_offline_memory;
	__typeof__(dwfl_module_getelf)		*module_getelf;
	__typeof__(dwfl_module_getsymtab)	*module_getsymtab;
	__typeof__(dwfl_module_getsym_info)	*module_getsym_info;
	__typeof__(dwfl_module_addrinfo)	*module_addrinfo;
	__typeof__(dwfl_module_getsrc)		*module_getsrc;
	__typeof__(dwfl_lineinfo)		*lineinfo;
} dw;

static Dwfl_Callbacks sym_callbacks = {
	.find_elf = sym_no_elf,
	.find_debuginfo = sym_no_debuginfo,
};

/* Open libdw on first use (once per process, kept open): 0, or -1 when it
 * or one of its functions is missing. */
static int
sym_dw_open(void)
{
	void *h;

	if (dw.tried)
		return dw.ok ? 0 : -1;
	dw.tried = 1;
	if ((h = dlopen("libdw.so.1", RTLD_NOW | RTLD_LOCAL)) == NULL)
		return -1;
#define SYM_DW(field, name) \
	if ((*(void **)&dw.field = dlsym(h, #name)) == NULL) \
		return -1;
	SYM_DW(begin, dwfl_begin)
	SYM_DW(end, dwfl_end)
	SYM_DW(report_begin, dwfl_report_begin)
	SYM_DW(report_end, dwfl_report_end)
	SYM_DW(report_offline_memory, dwfl_report_offline_memory)
	SYM_DW(module_getelf, dwfl_module_getelf)
	SYM_DW(module_getsymtab, dwfl_module_getsymtab)
	SYM_DW(module_getsym_info, dwfl_module_getsym_info)
	SYM_DW(module_addrinfo, dwfl_module_addrinfo)
	SYM_DW(module_getsrc, dwfl_module_getsrc)
	SYM_DW(lineinfo, dwfl_lineinfo)
#undef SYM_DW
	if ((*(void **)&sym_callbacks.section_address = dlsym(h,
	    "dwfl_offline_section_address")) == NULL)
		return -1;
	dw.ok = 1;
	return 0;
}

static int
sym_hex(const char *s, const char *end, uint64_t *v)
{
	char *e;

	if (s >= end || strncmp(s, "0x", 2) != 0)
		return -1;
	errno = 0;
	*v = strtoull(s, &e, 16);
	return errno != 0 || e != end ? -1 : 0;
}

static char *
sym_dup(const char *s, const char *end)
{
	return s < end ? strndup(s, (size_t)(end - s)) : NULL;
}

/* Returns 0, or -1 when the line is not what backtrace_symbols_fd()
 * writes (the frame then keeps only its raw line). */
static int
sym_parse(const char *line, struct sym_line *sl)
{
	const char *end = line + strlen(line), *lb, *lp, *sign;

	memset(sl, 0, sizeof *sl);
	if (end == line || end[-1] != ']' || (lb = strrchr(line, '[')) == NULL ||
	    sym_hex(lb + 1, end - 1, &sl->addr) < 0)
		return -1;
	if (lb > line && lb[-1] == ')') {
		for (lp = lb - 1; lp > line && *lp != '('; lp--)
			;
		if (*lp != '(')
			return -1;
		for (sign = lb - 1; sign > lp && *sign != '+' && *sign != '-';
		    sign--)
			;
		if (sign == lp || sym_hex(sign + 1, lb - 1, &sl->off) < 0)
			return -1;
		sl->relative = 1;
		sl->negative = *sign == '-';
		sl->sym = sym_dup(lp + 1, sign);
		lb = lp;
	}
	sl->file = sym_dup(line, lb);
	return 0;
}

/* The whole of a regular file of at most SYMBOLIZE_FILE_MAX bytes that
 * starts as an ELF file does, new (free()), or NULL. */
static char *
sym_read(const char *path, size_t *len)
{
	struct stat st;
	char *data = NULL;
	size_t got = 0;
	ssize_t n;
	int fd;

	/* O_NONBLOCK: a FIFO put where a plugin was must not block us. */
	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 64 ||
	    st.st_size > SYMBOLIZE_FILE_MAX ||
	    (data = malloc((size_t)st.st_size)) == NULL)
		goto fail;
	while (got < (size_t)st.st_size) {
		n = read(fd, data + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		got += (size_t)n;
	}
	if (memcmp(data, "\177ELF", 4) != 0)
		goto fail;
	close(fd);
	*len = got;
	return data;
fail:
	free(data);
	close(fd);
	return NULL;
}

static void
sym_open(struct sym_file *f)
{
	size_t len;

	if (sym_dw_open() < 0 ||
	    (f->data = sym_read(f->path, &len)) == NULL ||
	    (f->dwfl = dw.begin(&sym_callbacks)) == NULL)
		return;
	dw.report_begin(f->dwfl);
	f->mod = dw.report_offline_memory(f->dwfl, f->path, f->path,
	    f->data, len);
	if (dw.report_end(f->dwfl, NULL, NULL) != 0 || f->mod == NULL ||
	    dw.module_getelf(f->mod, &f->bias) == NULL)
		f->mod = NULL;
}

/* The file of that path, opened on first use; NULL when there are too
 * many files already. */
static struct sym_file *
sym_file(struct sym_files *files, const char *path)
{
	struct sym_file *f;
	size_t i;

	for (i = 0; i < files->n; i++)
		if (strcmp(files->v[i].path, path) == 0)
			return &files->v[i];
	if (files->n == SYMBOLIZE_FILES_MAX)
		return NULL;
	f = &files->v[files->n];
	memset(f, 0, sizeof *f);
	if ((f->path = strdup(path)) == NULL)
		return NULL;
	files->n++;
	sym_open(f);
	return f;
}

static void
sym_files_free(struct sym_files *files)
{
	size_t i;

	for (i = 0; i < files->n; i++) {
		if (files->v[i].dwfl != NULL)
			dw.end(files->v[i].dwfl);
		free(files->v[i].data);
		free(files->v[i].path);
	}
}

/* The dwfl address of a defined symbol of that name, or -1. */
static int
sym_lookup(Dwfl_Module *mod, const char *name, GElf_Addr *addr)
{
	GElf_Sym sym;
	GElf_Word shndx;
	const char *s;
	int i, n;

	n = dw.module_getsymtab(mod);
	for (i = 1; i < n; i++) {
		s = dw.module_getsym_info(mod, i, &sym, addr, &shndx, NULL,
		    NULL);
		if (s != NULL && sym.st_shndx != SHN_UNDEF &&
		    strcmp(s, name) == 0)
			return 0;
	}
	return -1;
}

static void
sym_add_hex(json_t *o, const char *key, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof buf, "0x%" PRIx64, v);
	json_object_set_new(o, key, json_string(buf));
}

/* What the file says about the address of the frame sl. */
static void
sym_describe(json_t *o, struct sym_file *f, const struct sym_line *sl,
    int is_return)
{
	GElf_Addr addr, base;
	GElf_Off off;
	GElf_Sym sym;
	Dwfl_Line *line;
	const char *name, *src;
	char buf[PATH_MAX + 32];
	int lineno;

	if (!sl->relative)
		addr = sl->addr + f->bias;
	else if (sl->sym == NULL)
		addr = sl->off + f->bias;
	else if (sym_lookup(f->mod, sl->sym, &base) == 0)
		addr = sl->negative ? base - sl->off : base + sl->off;
	else
		return;
	sym_add_hex(o, "offset", addr - f->bias);
	/* A return address may be just past the end of the caller. */
	if (is_return && addr > 0)
		addr--;
	name = dw.module_addrinfo(f->mod, addr, &off, &sym, NULL, NULL,
	    NULL);
	if (name != NULL && *name != '\0') {
		json_object_set_new(o, "function", log_string(name));
		sym_add_hex(o, "symbol_offset", off + (is_return ? 1 : 0));
	}
	if ((line = dw.module_getsrc(f->mod, addr)) == NULL ||
	    (src = dw.lineinfo(line, NULL, &lineno, NULL, NULL, NULL)) ==
	    NULL)
		return;
	snprintf(buf, sizeof buf, "%s:%d", src, lineno);
	json_object_set_new(o, "source", log_string(buf));
}

static json_t *
sym_frame(struct sym_files *files, const char *raw, int is_return)
{
	struct sym_line sl;
	struct sym_file *f;
	json_t *o;

	if ((o = json_object()) == NULL)
		return NULL;
	json_object_set_new(o, "raw", log_string(raw));
	if (sym_parse(raw, &sl) < 0)
		return o;
	if (sl.file != NULL) {
		json_object_set_new(o, "file", log_string(sl.file));
		if ((f = sym_file(files, sl.file)) != NULL && f->mod != NULL)
			sym_describe(o, f, &sl, is_return);
	}
	free(sl.file);
	free(sl.sym);
	return o;
}

json_t *
symbolize_frames(const json_t *raw)
{
	struct sym_files files;
	const char *line;
	json_t *out, *o;
	size_t i;

	if (!json_is_array(raw) || (out = json_array()) == NULL)
		return NULL;
	files.n = 0;
	for (i = 0; i < json_array_size(raw) && i < SYMBOLIZE_FRAMES_MAX;
	    i++) {
		if ((line = json_string_value(json_array_get(raw, i))) == NULL)
			continue;
		if ((o = sym_frame(&files, line, i > 0)) == NULL ||
		    json_array_append_new(out, o) < 0) {
			json_decref(out);
			out = NULL;
			break;
		}
	}
	sym_files_free(&files);
	return out;
}

json_t *
symbolize_addrs(void *const *addrs, size_t n, size_t first_return)
{
	struct sym_files files;
	char line[PATH_MAX + 64];
	json_t *out, *o;
	Dl_info di;
	size_t i;

	if (n > SYMBOLIZE_FRAMES_MAX)
		n = SYMBOLIZE_FRAMES_MAX;
	if (n == 0 || (out = json_array()) == NULL)
		return NULL;
	files.n = 0;
	for (i = 0; i < n; i++) {
		/* As backtrace_symbols_fd() writes a frame. */
		if (dladdr(addrs[i], &di) != 0 && di.dli_fname != NULL)
			snprintf(line, sizeof line, "%s(+0x%jx)[%p]",
			    di.dli_fname, (uintmax_t)((uintptr_t)addrs[i] -
			    (uintptr_t)di.dli_fbase), addrs[i]);
		else
			snprintf(line, sizeof line, "[%p]", addrs[i]);
		if ((o = sym_frame(&files, line, i >= first_return)) ==
		    NULL || json_array_append_new(out, o) < 0) {
			json_decref(out);
			out = NULL;
			break;
		}
	}
	sym_files_free(&files);
	return out;
}

/* ---- blame ------------------------------------------------------------- */

/* The index of the first task of loop whose plugin is file, or -1. */
static ssize_t
sym_plugin_task(const struct loop_conf *loop, const char *file)
{
	char fbuf[PATH_MAX], pbuf[PATH_MAX];
	const char *resolved = realpath(file, fbuf);
	size_t i;

	for (i = 0; i < loop->ntasks; i++) {
		if (strcmp(file, loop->tasks[i].plugin_path) == 0 ||
		    (resolved != NULL &&
		    realpath(loop->tasks[i].plugin_path, pbuf) != NULL &&
		    strcmp(resolved, pbuf) == 0))
			return (ssize_t)i;
	}
	return -1;
}

int
symbolize_blame(const json_t *frames, const struct loop_conf *loop,
    struct symbolize_blame *b)
{
	const char *file, *path;
	size_t i, n = 0;
	ssize_t t = -1;

	memset(b, 0, sizeof *b);
	for (i = 0; i < json_array_size(frames) && t < 0; i++) {
		file = json_string_value(json_object_get(json_array_get(frames,
		    i), "file"));
		if (file != NULL)
			t = sym_plugin_task(loop, file);
	}
	if (t < 0)
		return -1;
	path = loop->tasks[t].plugin_path;
	b->plugin = loop->tasks[t].plugin;
	for (i = 0; i < loop->ntasks; i++)
		if (strcmp(loop->tasks[i].plugin_path, path) == 0)
			n++;
	if (n == 1) {
		b->task = &loop->tasks[t];
		return 0;
	}
	if ((b->suspects = json_array()) == NULL)
		return 0;
	for (i = 0; i < loop->ntasks; i++)
		if (strcmp(loop->tasks[i].plugin_path, path) == 0)
			json_array_append_new(b->suspects,
			    log_string(loop->tasks[i].name));
	return 0;
}
