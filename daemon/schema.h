/*
 * schema.h: each task's `config:` checked against the settings its plugin
 * declares (plugin.h, struct loopd_setting), before the task runs.
 *
 * The settings are read with inspect.h, in throwaway processes, once per
 * plugin file however many tasks use it; plugin files are checked for
 * trust (loader_check_trust()) before any is inspected.  Every problem is
 * reported with the file, line and column of the key or value, in the
 * words config.c uses.  Supervisor main thread, or --check-config.
 */
#ifndef LOOPD_SCHEMA_H
#define LOOPD_SCHEMA_H

#include "config.h"

/* For schema_check(): a plugin file that does not exist is an error (with
 * "did you mean" for those in its directory); without it, such a task is
 * not checked (it waits for its file). */
#define SCHEMA_MISSING	0x01

/*
 * What plugin files declared, kept from one check to the next while each
 * is the same file (inode, size, mtime, ctime), so that a reload inspects
 * only new or replaced files.  Only what succeeded is kept, and only for
 * files the last check used.  Free with schema_cache_free() (NULL is
 * fine).
 */
struct creds;
struct schema_cache;

struct schema_cache *schema_cache_new(void);
void	schema_cache_free(struct schema_cache *cache);

/*
 * Check every task of conf, through cache (may be NULL: every file is
 * inspected).  exe is loopd's own executable, for the
 * inspection children, which drop to creds when it is set (may be NULL;
 * see inspect_run()).  Returns 0 when nothing is wrong; else -1 with
 * errs (zeroed by the caller; free with conf_errors_free()) holding every
 * problem, their marks pointing into errs itself (errs->file,
 * errs->fragments), so that errs outlives conf; errs->n is 0 when memory
 * ran out.  errs is left empty when nothing is wrong.  Blocks for the inspections: at most INSPECT_DEADLINE_MS.
 */
int	schema_check(const struct conf *conf, const char *exe,
	    const struct creds *creds, int flags,
	    struct schema_cache *cache, struct conf_errors *errs);

/*
 * Check every task of conf against info, as if each task's plugin had
 * declared it: no file is looked at and no child run.  Returns and fills
 * errs as schema_check() does.  For tests and the fuzzer.
 */
struct inspect_info;

int	schema_check_info(const struct conf *conf,
	    const struct inspect_info *info, struct conf_errors *errs);

#endif /* LOOPD_SCHEMA_H */
