/*
 * inspect.h: a plugin's descriptor and settings table, read in a throwaway
 * process.
 *
 * The supervisor never loads plugin code: to learn what a plugin declares,
 * it runs `loopd --inspect-plugin PATH`, which loads the file (the same
 * trust and ABI checks as a worker), prints the descriptor as one JSON
 * object on stdout and exits.  The parent reads that under a deadline and a
 * size cap and believes nothing it has not checked: a child that crashes,
 * hangs, prints too much or prints garbage is an error about that plugin,
 * never a problem of the caller.  Supervisor main thread (or any
 * single-threaded caller); inspect_child_main() runs in the child alone.
 */
#ifndef LOOPD_INSPECT_H
#define LOOPD_INSPECT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* The option that makes loopd an inspection child. */
#define INSPECT_ARG		"--inspect-plugin"
/* With it, the ids the child drops to before it loads anything:
 * "UID:GID" (see inspect_run()). */
#define INSPECT_AS_ARG		"--inspect-as"
/* What a child may print, and how long all children of one call take. */
#define INSPECT_OUTPUT_MAX	(256 * 1024)
#define INSPECT_DEADLINE_MS	3000
/* Bounds on what a descriptor may declare (see plugin.h). */
#define INSPECT_MAX_SETTINGS	256
#define INSPECT_KEY_MAX		64
#define INSPECT_TEXT_MAX	1024

/* One row of a settings table.  Every pointer is owned by the row. */
struct inspect_setting {
	char		*key;
	int		 type;		/* LOOPD_TYPE_* */
	int		 required;
	int64_t		 min, max;	/* LOOPD_TYPE_INT */
	char		**values;	/* LOOPD_TYPE_ENUM: nvalues >= 1 */
	size_t		 nvalues;
	char		*def;		/* NULL: none declared */
	char		*description;	/* "" when none */
};

/* What a plugin's descriptor says.  Every pointer is owned by it. */
struct inspect_info {
	char			*name;
	char			*version;
	char			*description;
	unsigned		 abi_major, abi_minor;
	int			 has_settings;	/* 0: no table (1.0, or NULL) */
	struct inspect_setting	*settings;
	size_t			 nsettings;
};

/* The outcome for one file: info when ok, else an error about the file. */
struct creds;

struct inspect_result {
	int			 ok;
	struct inspect_info	 info;
	char			 type[32];	/* plugin_abi, inspect_crashed, ... */
	char			 msg[1024];	/* names the file */
};

/*
 * Inspect paths[0..n) at once, one child each, all within deadline_ms:
 * out[i] (n of them, zeroed by the caller; free each with
 * inspect_result_free()) says what paths[i] declares or why it could not
 * be read.  exe is loopd's own executable.  Blocks the caller until every
 * child has exited or been killed (a child's whole process group is
 * killed at the deadline) and reaped.  Touches no other child of the
 * caller.  With creds set (a root supervisor with `user:`), each child
 * drops to them after exec and before it loads the plugin, as a worker
 * does: a plugin's constructors never run with more than its workers
 * will have.  creds may be NULL.
 */
void	inspect_run(const char *exe, const struct creds *creds,
	    const char *const *paths, size_t n, uint64_t deadline_ms,
	    struct inspect_result *out);
void	inspect_result_free(struct inspect_result *r);

/* The row for key, borrowed from info, or NULL. */
const struct inspect_setting *inspect_find(const struct inspect_info *info,
	    const char *key);
/* "string", "int", ... for LOOPD_TYPE_*; "?" for anything else. */
const char *inspect_type_name(int type);
/* The keys of info's table, as a new array of borrowed strings (free()
 * the array alone), or NULL when it has none or memory ran out. */
const char **inspect_keys(const struct inspect_info *info);

/* info as a new JSON object (NULL when memory ran out). */
json_t	*inspect_info_json(const struct inspect_info *info);
/* info as text for an operator, the settings as a table. */
void	 inspect_print(FILE *f, const char *path,
	    const struct inspect_info *info);

/* The child: load path, print its descriptor, exit.  Never returns. */
void	 inspect_child_main(const char *path, const char *as)
	    __attribute__((noreturn));

#endif /* LOOPD_INSPECT_H */
