/*
 * config.h: the configuration file, parsed into plain immutable structs.
 *
 * config_parse_*() read YAML into a tree (tree.h) and check it, and either
 * return a whole struct conf or collect every problem they find in a
 * struct conf_errors, each with file, line and column.  They touch
 * nothing outside what they return.  A struct conf is not changed after it
 * is returned; runtime objects point into it.
 */
#ifndef LOOPD_CONFIG_H
#define LOOPD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "tree.h"

enum conf_backend {
	CONF_BACKEND_AUTO,
	CONF_BACKEND_EPOLL,
	CONF_BACKEND_POLL,
	CONF_BACKEND_SELECT,
};

enum conf_log_format {
	CONF_LOG_JSON,
	CONF_LOG_TEXT,
};

/* Where the supervisor writes records. */
enum conf_log_target {
	CONF_LOG_STDERR,		/* the default */
	CONF_LOG_JOURNALD,		/* sd_journal_sendv(), with fields */
	CONF_LOG_FILE,			/* log.file, reopened on SIGUSR1 */
};

enum conf_restart_policy {
	CONF_RESTART_ALWAYS,		/* also after loopd_task_done */
	CONF_RESTART_ON_FAILURE,	/* the default */
	CONF_RESTART_NEVER,
};

/* `restart:`, of a loop or of a task. */
struct restart_conf {
	enum conf_restart_policy policy;
	uint64_t		 backoff_min_ms;	/* > 0 */
	uint64_t		 backoff_max_ms;	/* >= backoff_min_ms */
	uint64_t		 intensity;	/* at most this many restarts */
	uint64_t		 window_ms;	/* within this window, > 0 */
};

enum conf_hang_action {
	CONF_HANG_RESTART,		/* kill the worker; the default */
	CONF_HANG_LOG,			/* only report it */
};

/* A loop's `limits:`, for its worker; 0 is "not limited". */
struct limits_conf {
	uint64_t		 memory;	/* bytes, >= CONF_MIN_MEMORY */
	uint64_t		 open_files;	/* CONF_MIN..MAX_OPEN_FILES */
	uint64_t		 cpu_seconds;	/* >= 1 */
};

/* A loop's `sandbox.profile` (sandbox.h says what each allows). */
enum conf_sandbox_profile {
	CONF_SANDBOX_NONE,		/* no filter: the default */
	CONF_SANDBOX_NETWORK_SERVER,
	CONF_SANDBOX_COMPUTE,
};

/* A loop's `sandbox:` mapping, applied in its worker before any plugin
 * is loaded. */
struct sandbox_conf {
	enum conf_sandbox_profile profile;
	int			 no_new_privs;	/* default: 1 with a profile */
};

enum conf_exec_kind {
	CONF_EXEC_IO,
	CONF_EXEC_CPU,
};

/* A loop's `executor:` mapping. */
struct executor_conf {
	unsigned		 workers;	/* 0: auto */
	enum conf_exec_kind	 kind;
	unsigned		 queue;		/* jobs waiting, at most */
	struct conf_mark	 mark;		/* of `workers`, or the loop */
};

struct task_conf {
	char			*name;
	char			*plugin;	/* a name: [A-Za-z0-9_-]+ */
	char			*plugin_path;	/* plugin_dir/plugin.so */
	struct conf_node	*config;	/* the `config:` mapping, or NULL */
	struct conf_mark	 mark;		/* where the task's mapping starts */
	/* Resolved: each key the task sets over its loop's restart. */
	struct restart_conf	 restart;
};

struct loop_conf {
	char			*name;
	enum conf_backend	 backend;
	struct executor_conf	 executor;
	struct task_conf	*tasks;
	size_t			 ntasks;
	struct conf_mark	 mark;
	struct restart_conf	 restart;	/* defaults where unset */
	uint64_t		 start_timeout_ms;
	uint64_t		 hang_timeout_ms;
	enum conf_hang_action	 hang_action;
	struct limits_conf	 limits;
	int			 debug;		/* `debug: true` */
	uint64_t		 slow_callback_ms;
	struct conf_mark	 slow_mark;	/* of slow_callback, or the loop */
	int			 precise_timer;	/* EVENT_BASE_FLAG_PRECISE_TIMER */
	int			 cpu;		/* pinned to this CPU, or -1 */
	struct sandbox_conf	 sandbox;
};

enum conf_on_exhausted {
	CONF_EXHAUSTED_STAY,		/* failed stays down; the rest goes on */
	CONF_EXHAUSTED_EXIT,		/* loopd exits non-zero */
};

struct arena;

/* A struct conf and everything in it (names, paths, `config:` trees) live
 * in one arena (arena.h): free it only with config_free(), never a piece. */
struct conf {
	struct arena		*arena;
	char			*path;		/* the file as named */
	/* Fragments read through `include:`, in order, as glob(3) named
	 * them; marks of what came from one point at its name here. */
	char			**fragments;
	size_t			 nfragments;
	/* `include:` globs, relative ones joined to path's directory. */
	char			**includes;
	size_t			 nincludes;
	int			 config_watch;	/* reload when files change */
	char			*plugin_dir;	/* absolute or as given */
	int			 log_level;	/* LOOPD_LOG_* */
	enum conf_log_format	 log_format;
	enum conf_log_target	 log_target;
	char			*log_file;	/* target file: absolute or
						 * relative to the cwd */
	uint64_t		 log_rate;	/* per task and window; 0: none */
	uint64_t		 log_rate_ms;	/* the window, > 0 with a rate */
	uint64_t		 grace_ms;	/* shutdown.grace, default 10 s */
	enum conf_on_exhausted	 on_exhausted;	/* top-level on_exhausted */
	int			 plugin_watch;	/* default 1 */
	/* `control:` and `metrics:`, for the supervisor alone. */
	char			*control_socket;	/* path */
	int			 control_explicit;	/* the file named it */
	unsigned		 control_mode;		/* of the socket file */
	long			 control_gid;		/* group, or -1 */
	long			 control_ro_gid;	/* read_only_group, or -1 */
	char			*metrics_host;		/* NULL: no metrics */
	unsigned		 metrics_port;		/* 0: any free port */
	/* `user:` and `group:`, as written (NULL: not set); resolved by
	 * creds.h, not here.  user_mark is where `user:` (or `group:`) is. */
	char			*user;
	char			*group;
	struct conf_mark	 user_mark;
	struct loop_conf	*loops;
	size_t			 nloops;
};

struct conf_error {
	struct conf_mark	 mark;
	char			*msg;
};

/* Every problem found by one parse, in file order: the main file's,
 * then each fragment's. */
struct conf_errors {
	struct conf_error	*v;
	size_t			 n;
	char			*file;		/* the main file's marks */
	char			**fragments;	/* a fragment's marks */
	size_t			 nfragments;
};

/* Defaults for what the file does not say. */
#define CONF_DEFAULT_CONTROL_SOCKET	"/run/loopd/control.sock"
#define CONF_DEFAULT_CONTROL_MODE	0660
#define CONF_DEFAULT_GRACE_MS	10000
#define CONF_DEFAULT_BACKOFF_MIN_MS	100
#define CONF_DEFAULT_BACKOFF_MAX_MS	30000
#define CONF_DEFAULT_INTENSITY		5
#define CONF_DEFAULT_WINDOW_MS		60000
#define CONF_DEFAULT_START_TIMEOUT_MS	10000
#define CONF_DEFAULT_HANG_TIMEOUT_MS	5000
/* start_timeout and hang_timeout: more than 0, at most this. */
#define CONF_MAX_TIMEOUT_MS	(60 * 60 * 1000)
/* Restarts counted in one window are remembered: keep them few. */
#define CONF_MAX_INTENSITY	10000
#define CONF_MIN_MEMORY		(1024 * 1024)
#define CONF_MIN_OPEN_FILES	16
#define CONF_MAX_OPEN_FILES	1048576
#define CONF_MAX_CPU_SECONDS	INT32_MAX
#define CONF_MAX_GRACE_MS	(60 * 60 * 1000)
#define CONF_NAME_MAX		64
/* log.rate: at most this many records in a window. */
#define CONF_MAX_LOG_RATE	1000000
/* A larger file is refused rather than read. */
#define CONF_FILE_MAX		(16 * 1024 * 1024)
#define CONF_DEFAULT_EXEC_QUEUE	1024
#define CONF_MAX_EXEC_WORKERS	1024
#define CONF_MAX_EXEC_QUEUE	1000000
/* Debug mode: a callback running longer than this is reported. */
#define CONF_DEFAULT_SLOW_CALLBACK_MS	100
/* Below this, --check-config warns: a log record per turn of a busy loop. */
#define CONF_SLOW_CALLBACK_WARN_MS	10
#define CONF_MAX_CPU		1023	/* CPU_SETSIZE - 1 */
/* Longer durations are taken for mistakes. */
#define CONF_MAX_DURATION_MS	(7ULL * 24 * 60 * 60 * 1000)

/*
 * Parse the file at `path`, and the fragments its `include:` globs name
 * (a relative glob is taken relative to the directory that holds the
 * file; a fragment holds only `loops:`, new loops).  plugin_dir_override, when not NULL, replaces
 * the file's plugin_dir (the -P option).  A relative plugin_dir is taken
 * relative to the directory that holds the file.  default_plugin_dir is
 * used when neither says.  Returns a new struct conf (free with
 * config_free()), or NULL with errs filled (free with conf_errors_free()).
 * errs must be zeroed by the caller.  NULL with errs->n == 0 means that
 * memory ran out.  A file that cannot be read gives one error with line 0,
 * and so does one that is not a regular file (a FIFO, a device) or is
 * larger than CONF_FILE_MAX bytes.
 * default_plugin_dir may be NULL, which stands for ".".
 */
struct conf	*config_parse_file(const char *path,
		    const char *plugin_dir_override,
		    const char *default_plugin_dir, struct conf_errors *errs);

/* The same for text in memory; `name` stands for the file in marks and
 * for the directory of relative `include:` globs. */
struct conf	*config_parse_string(const char *text, size_t len,
		    const char *name, const char *plugin_dir_override,
		    const char *default_plugin_dir, struct conf_errors *errs);

void		 config_free(struct conf *conf);
void		 conf_errors_free(struct conf_errors *errs);

/*
 * Parse a duration: digits followed by a unit, ms, s, m or h ("250ms",
 * "10s").  Returns 0 and sets *ms, or -1 with a message in err (a static
 * string naming what is wrong).
 */
int		 config_parse_duration(const char *text, uint64_t *ms,
		    const char **err);

/*
 * The word of words[0..n) that s is most likely a typo of (at most two
 * edits, ignoring case), for "did you mean"; borrowed from words, or NULL.
 */
const char	*config_suggest(const char *s, const char *const words[],
		    size_t n);

const char	*config_backend_name(enum conf_backend backend);
const char	*config_exec_kind_name(enum conf_exec_kind kind);
const char	*config_sandbox_profile_name(enum conf_sandbox_profile p);

/*
 * Write "FILE:LINE:COL: msg", or "FILE: msg" when line is 0, into buf as
 * snprintf() does; returns what snprintf() returns.
 */
int		 conf_error_format(const struct conf_error *e, char *buf,
		    size_t len);

#endif /* LOOPD_CONFIG_H */
