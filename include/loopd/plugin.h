/*
 * loopd/plugin.h: the one header a loopd plugin includes.
 *
 * A plugin is a shared object that defines one descriptor with
 * LOOPD_PLUGIN(...).  loopd loads it in the worker process of every loop that
 * runs one of its tasks, checks the descriptor's ABI version, and calls
 * start() once per task.  The task then lives on that loop: it arms timers,
 * watches file descriptors, logs, and ends by calling loopd_task_done() (a
 * normal end, or the end of a cancellation) or loopd_task_fail() (an error it
 * could not handle).
 *
 * Threads: every function here is for the loop thread, the one that calls
 * the plugin's hooks and callbacks, unless its comment says otherwise.
 * Since 1.1, loopd_post(), loopd_metric_add() and loopd_metric_set() may
 * be called from any thread, and loopd_job_orphaned() from inside an
 * executor work; nothing else may.
 *
 * Ownership: every handle a task opens (timer, watch, pending call,
 * metric) belongs to the task and is released when the task ends, whether
 * the plugin released it or not.  Strings passed in are copied or used
 * only during the call; strings returned are borrowed, valid as the
 * comment says.
 *
 * Handles: a loopd_timer *, loopd_watch * or loopd_metric * is an id, not
 * a pointer to memory: never dereference it.  Every function that takes
 * one checks it first.  A handle that has been released (cancelled, a
 * one-shot timer whose callback has returned, any handle of a task that
 * has ended), or that was never one (garbage, a timer passed as a watch),
 * or that belongs to another task than the one whose hook or callback is
 * running (but for a metric, which any thread may update), is refused:
 * the void functions do nothing, the others return -LOOPD_ESTATE
 * (released) or -LOOPD_EINVAL (not a handle, or not yours).  Cancelling
 * twice is harmless.
 *
 * Ending: once loopd_task_done() or loopd_task_fail() has been called, none
 * of the task's callbacks runs any more, even one whose event was already
 * ready in the same turn of the loop (but for the done callbacks of its
 * executor jobs, called once with LOOPD_JOB_CANCELLED before its stop hook).  While the task is only cancelling
 * (its cancel hook has been called), its callbacks run as before.
 *
 * Errors: functions that can fail return a negative LOOPD_E* code or NULL.
 * Misuse (a NULL task, a stale or foreign handle) never aborts the daemon.
 *
 * ABI: LOOPD_PLUGIN_ABI_MAJOR changes when an existing thing changes; a
 * plugin built for another major is refused.  LOOPD_PLUGIN_ABI_MINOR grows
 * when things are added; a plugin built for a newer minor than the running
 * loopd is refused too.  Each addition says "since 1.N"; a plugin built
 * for an older minor loads unchanged and never uses what came later (the
 * descriptor keeps its size: new fields take reserved ones, which loopd
 * does not read in a plugin built for an older minor).
 */
#ifndef LOOPD_PLUGIN_H
#define LOOPD_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOOPD_PLUGIN_ABI_MAJOR	1
#define LOOPD_PLUGIN_ABI_MINOR	1

#if defined(__GNUC__)
#define LOOPD_API	__attribute__((visibility("default")))
#define LOOPD_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define LOOPD_API
#define LOOPD_PRINTF(f, a)
#endif

/* Opaque handles. */
typedef struct loopd_task	loopd_task;	/* one running task */
typedef struct loopd_args	loopd_args;	/* the task's `config:` mapping */
typedef struct loopd_timer	loopd_timer;
typedef struct loopd_watch	loopd_watch;
typedef struct loopd_metric	loopd_metric;	/* since 1.1 */

struct event_base;

/* Error codes, returned negated. */
#define LOOPD_EINVAL	1	/* a bad argument: NULL, out of range */
#define LOOPD_ENOMEM	2	/* out of memory */
#define LOOPD_ESTATE	3	/* the task has ended or is ending */
#define LOOPD_ENOENT	4	/* no such key */
#define LOOPD_ETYPE	5	/* the value has another type */
#define LOOPD_ESYS	6	/* a system call failed; errno says why */
#define LOOPD_EFULL	7	/* since 1.1: the executor's queue is full */

/*
 * Since 1.1.  A sentence for a LOOPD_E* code, negated or not ("invalid
 * argument" for LOOPD_EINVAL and -LOOPD_EINVAL), "success" for 0, and
 * "unknown error" for any other value.  Static: never free it.  Any
 * thread.
 */
LOOPD_API const char	*loopd_strerror(int code);

/* Log levels for loopd_log(). */
#define LOOPD_LOG_DEBUG		0
#define LOOPD_LOG_INFO		1
#define LOOPD_LOG_WARNING	2
#define LOOPD_LOG_ERROR		3

/* Descriptor flags, for .flags (since 1.1). */
#define LOOPD_PLUGIN_NOTIFY_READY	0x01	/* see loopd_task_ready() */

/*
 * Since 1.1.  The settings a plugin's tasks take under `config:`, declared
 * in its descriptor (.settings), so that `loopd --check-config` and a
 * reload can check each task's mapping before it runs: unknown keys (with
 * "did you mean"), values of the wrong type or out of range, and missing
 * required keys are reported with file, line and column.  loopd reads the
 * table in a throwaway process (`loopd plugin inspect` prints it), never
 * in the supervisor.  A plugin without one (.settings NULL, or a 1.0
 * plugin) is not checked; the getters work the same either way, and a
 * default written here is for the operator to read: the getter's `def`
 * is still the one that counts.
 *
 * Types, and what a value must be (as the matching getter reads it):
 *   LOOPD_TYPE_STRING    any scalar
 *   LOOPD_TYPE_INT       an unquoted integer from min to max
 *   LOOPD_TYPE_BOOL      true/false, yes/no, on/off, unquoted
 *   LOOPD_TYPE_DURATION  "250ms", "10s", "5m", "1h"
 *   LOOPD_TYPE_ENUM      one of `values`, written "a|b|c"
 *   LOOPD_TYPE_LIST      a sequence (its items are the plugin's business)
 *   LOOPD_TYPE_MAP       a mapping (its keys are the plugin's business)
 * A null value counts as absent.  The table ends with LOOPD_SETTINGS_END.
 * Strings are static: key is [A-Za-z0-9_-], at most 64 bytes; a table
 * holds at most 256 settings.
 */
#define LOOPD_TYPE_STRING	1
#define LOOPD_TYPE_INT		2
#define LOOPD_TYPE_BOOL		3
#define LOOPD_TYPE_DURATION	4
#define LOOPD_TYPE_ENUM		5
#define LOOPD_TYPE_LIST		6
#define LOOPD_TYPE_MAP		7

#define LOOPD_SETTING_REQUIRED	0x01	/* for .flags: the key must be set */

struct loopd_setting {
	const char	*key;		/* NULL ends the table */
	uint32_t	 type;		/* LOOPD_TYPE_* */
	uint32_t	 flags;		/* LOOPD_SETTING_REQUIRED, or 0 */
	int64_t		 min, max;	/* LOOPD_TYPE_INT: the range */
	const char	*values;	/* LOOPD_TYPE_ENUM: "a|b|c" */
	const char	*def;		/* the default, as text, or NULL */
	const char	*description;	/* one line */
	void		*reserved[2];	/* zero; for later minor versions */
};

/*
 * static const struct loopd_setting echo_settings[] = {
 *	LOOPD_SETTING_STRING("address", "127.0.0.1", "IPv4 address"),
 *	LOOPD_SETTING_INT("port", 0, 65535, "7000", "TCP port; 0 picks one"),
 *	LOOPD_REQUIRED(LOOPD_TYPE_STRING, "upstream", "where to forward"),
 *	LOOPD_SETTINGS_END
 * };
 * LOOPD_PLUGIN(.name = "echo", ..., .settings = echo_settings);
 */
#define LOOPD_SETTING_STRING(k, d, desc)				\
	{ .key = (k), .type = LOOPD_TYPE_STRING, .def = (d),		\
	  .description = (desc) }
#define LOOPD_SETTING_INT(k, lo, hi, d, desc)				\
	{ .key = (k), .type = LOOPD_TYPE_INT, .min = (lo), .max = (hi),	\
	  .def = (d), .description = (desc) }
#define LOOPD_SETTING_BOOL(k, d, desc)					\
	{ .key = (k), .type = LOOPD_TYPE_BOOL, .def = (d),		\
	  .description = (desc) }
#define LOOPD_SETTING_DURATION(k, d, desc)				\
	{ .key = (k), .type = LOOPD_TYPE_DURATION, .def = (d),		\
	  .description = (desc) }
#define LOOPD_SETTING_ENUM(k, vals, d, desc)				\
	{ .key = (k), .type = LOOPD_TYPE_ENUM, .values = (vals),	\
	  .def = (d), .description = (desc) }
#define LOOPD_SETTING_LIST(k, desc)					\
	{ .key = (k), .type = LOOPD_TYPE_LIST, .description = (desc) }
#define LOOPD_SETTING_MAP(k, desc)					\
	{ .key = (k), .type = LOOPD_TYPE_MAP, .description = (desc) }
/* A key that must be set, of a type without a range or values. */
#define LOOPD_REQUIRED(t, k, desc)					\
	{ .key = (k), .type = (t), .flags = LOOPD_SETTING_REQUIRED,	\
	  .description = (desc) }
/* A required integer from lo to hi. */
#define LOOPD_REQUIRED_INT(k, lo, hi, desc)				\
	{ .key = (k), .type = LOOPD_TYPE_INT, .min = (lo), .max = (hi),	\
	  .flags = LOOPD_SETTING_REQUIRED, .description = (desc) }
#define LOOPD_SETTINGS_END	{ .key = 0 }

/*
 * The descriptor.  Define it with LOOPD_PLUGIN(); do not fill abi_* or size
 * by hand.
 *
 * start: called once per task, on the loop thread, before any of the task's
 *   callbacks.  `args` is borrowed for the whole life of the task.  Store
 *   what the task needs in *state.  Return 0 when the task runs; return a
 *   negative value when it cannot, after loopd_task_fail() if you want to
 *   say why (otherwise loopd records "start returned N").  Returning 0 after
 *   loopd_task_done() ends the task at once.
 * cancel: asks the task to finish: close what it serves, then call
 *   loopd_task_done() (now or later, from a callback).  Called at most once.
 *   A task that has not ended when the grace period runs out is killed with
 *   its worker process.  NULL means "end at once".
 * stop: called once when the task has ended, however it ended, after every
 *   handle it opened through this API has been released.  Free the state
 *   here; it is NULL if start failed before setting it.  Must not call any
 *   loopd_* function.  May be NULL.
 *
 * Since 1.1:
 * flags: LOOPD_PLUGIN_NOTIFY_READY, or 0.
 * init_process: called once in each worker process that loads the plugin,
 *   before the first start of a task of it, for process-wide setup (a
 *   library's global init, a shared cache).  Return 0; anything else fails
 *   the task being started with error type "init_process", and every task
 *   of the plugin started later tries it again until it succeeds.  The
 *   same process keeps the plugin loaded while any task of it exists (a
 *   task that restarts keeps it), so a worker calls it once unless every
 *   task of the plugin is gone and one comes back.  Must not call any
 *   loopd_* function but loopd_strerror().  May be NULL.
 * exit_process: called once after the last stop of a task of the plugin
 *   in that process (when the worker exits, or its last such task is
 *   gone), if init_process succeeded or is NULL.  Same rules.  May be NULL.
 * reconfigure: when a reload changes only this task's `config:`, loopd
 *   calls it with the new mapping instead of cancelling and starting the
 *   task again.  Return 0 when the task now works by `args` (it keeps its
 *   handles, connections and state); anything else means "restart me"
 *   and loopd falls back to a restart.  `args` is borrowed for the rest of
 *   the task's life, as start's; the task's old args stay valid during
 *   the call, and once it has returned 0, the args start received read
 *   the new mapping (strings got from the old one stay valid until stop).
 *   A value of the wrong type fails the task, as in start.  Called only
 *   while the task is running (not starting, not cancelling).  NULL means
 *   "always restart".
 * settings: the table of the settings its tasks take (see struct
 *   loopd_setting above), or NULL: not checked before start.
 */
struct loopd_plugin {
	uint32_t	abi_major;
	uint32_t	abi_minor;
	uint32_t	size;		/* sizeof(struct loopd_plugin) */
	uint32_t	flags;		/* since 1.1; reserved0 in 1.0 */
	const char	*name;
	const char	*version;
	const char	*description;
	int		(*start)(loopd_task *task, const loopd_args *args,
			    void **state);
	void		(*cancel)(loopd_task *task, void *state);
	void		(*stop)(void *state);
	int		(*init_process)(void);		/* since 1.1 */
	void		(*exit_process)(void);		/* since 1.1 */
	int		(*reconfigure)(loopd_task *task, void *state,
			    const loopd_args *args);	/* since 1.1 */
	const struct loopd_setting *settings;		/* since 1.1 */
	void		*reserved[4];	/* zero; for later minor versions */
};

/* The name of the symbol loopd looks up in every plugin. */
#define LOOPD_PLUGIN_SYMBOL	"loopd_plugin_descriptor"

/*
 * LOOPD_PLUGIN(.name = "echo", .version = "1.0", .start = echo_start,
 *     .cancel = echo_cancel, .stop = echo_stop);
 */
#define LOOPD_PLUGIN(...)						\
	LOOPD_API const struct loopd_plugin loopd_plugin_descriptor = {	\
		.abi_major = LOOPD_PLUGIN_ABI_MAJOR,			\
		.abi_minor = LOOPD_PLUGIN_ABI_MINOR,			\
		.size = sizeof(struct loopd_plugin),			\
		__VA_ARGS__						\
	}

/* ---- the task ---------------------------------------------------------- */

/* The task's name and its loop's name, as in the configuration.  Borrowed:
 * valid until the task's stop hook returns. */
LOOPD_API const char	*loopd_task_name(const loopd_task *task);
LOOPD_API const char	*loopd_task_loop(const loopd_task *task);

/*
 * The loop's event_base, for libevent objects the API does not wrap
 * (bufferevents, evhttp, evdns).  Borrowed.  What you create on it is yours:
 * free it in cancel or stop, because loopd cannot release it for you.
 */
LOOPD_API struct event_base *loopd_task_base(loopd_task *task);

/*
 * End the task normally (or finish a cancellation).  None of its callbacks
 * runs after this one returns; its handles are released and its stop hook
 * runs after the current callback returns.
 * Calling it again, or after loopd_task_fail(), does nothing.
 */
LOOPD_API void	loopd_task_done(loopd_task *task);

/*
 * End the task with an error it could not handle.  loopd logs one record
 * with event "task_error" and error {type, message}.  error_type is a short
 * machine-readable word ("io", "protocol", "config", ...).  The strings are
 * copied.  Then as loopd_task_done().
 */
LOOPD_API void	loopd_task_fail(loopd_task *task, const char *error_type,
		    const char *fmt, ...) LOOPD_PRINTF(3, 4);

/*
 * True once the task is ending: loopd_task_done() or loopd_task_fail() was
 * called, or a loopd_args_* getter found a bad value and failed the task.
 * A start hook that reads its configuration first can check this and
 * return -1 before it opens anything.
 */
LOOPD_API bool	loopd_task_ending(const loopd_task *task);

/*
 * Since 1.1.  Say that the task serves now.  A task of a plugin whose
 * descriptor sets LOOPD_PLUGIN_NOTIFY_READY stays "starting" after its
 * start hook has returned 0, until it calls this (from start itself or
 * from any later callback): loopd's READY=1, its "ready" record and
 * STATUS= wait for it.  A task that has not called it within its loop's
 * start_timeout fails with error type "start_timeout" and is handled
 * under its restart policy; a task started again must call it again.
 * Returns 0, or -LOOPD_EINVAL (NULL, or the plugin does not set the
 * flag: its tasks are running as soon as start returns), or
 * -LOOPD_ESTATE (already called, or the task is ending or cancelling).
 * Harmless in every case.
 */
LOOPD_API int	loopd_task_ready(loopd_task *task);

/*
 * Since 1.1.  `path`, a file name from the task's configuration, resolved
 * as loopd resolves plugin_dir: an absolute path as it is, a relative one
 * against the directory of the configuration file that holds the task
 * (unchanged when that file was named without a directory).  Returns a
 * new string: free it with free().  NULL when task or path is NULL, path
 * is empty, or memory ran out.
 */
LOOPD_API char	*loopd_task_path(const loopd_task *task, const char *path);

/* Log one record at `level`, tagged with the task, its loop and plugin. */
LOOPD_API void	loopd_log(loopd_task *task, int level, const char *fmt, ...)
		    LOOPD_PRINTF(3, 4);

/* ---- configuration ------------------------------------------------------ */

/*
 * Read the task's `config:` mapping.  `path` names a value below it: keys
 * joined by dots, with a number selecting an item of a sequence, as in
 * "listen.port" or "peers.2.host".  NULL or "" is the mapping itself.
 *
 * The plain getters return `def` when the key is absent.  When it is present
 * with a value of the wrong type, they log an error that names the file,
 * line and column, fail the task with error type "config", and return `def`.
 * Strings are borrowed: valid until the task's stop hook returns.
 */
LOOPD_API bool		loopd_args_has(const loopd_args *args, const char *path);
LOOPD_API const char	*loopd_args_string(const loopd_args *args,
			    const char *path, const char *def);
LOOPD_API int64_t	loopd_args_int(const loopd_args *args, const char *path,
			    int64_t def);
LOOPD_API bool		loopd_args_bool(const loopd_args *args, const char *path,
			    bool def);
/* A duration such as "250ms", "10s", "5m" or "1h", in milliseconds. */
LOOPD_API int64_t	loopd_args_duration_ms(const loopd_args *args,
			    const char *path, int64_t def);
/*
 * Iteration.  loopd_args_count() is the number of items of the sequence or
 * mapping at `path` (0 when absent or a scalar).  loopd_args_key() is the
 * key of a mapping's i-th entry, in file order, or NULL.
 */
LOOPD_API size_t	loopd_args_count(const loopd_args *args, const char *path);
LOOPD_API const char	*loopd_args_key(const loopd_args *args, const char *path,
			    size_t i);

/* ---- timers --------------------------------------------------------------- */

typedef void	(*loopd_timer_cb)(loopd_task *task, void *arg);

/*
 * Call cb(task, arg) once after delay_ms, then, if every_ms is not 0, every
 * every_ms.  Returns a new handle owned by the task, or NULL (out of memory,
 * or the task is ending).
 * A one-shot timer (every_ms == 0) releases itself after its callback
 * returns: cancelling it after that does nothing.  A periodic one lives
 * until loopd_timer_cancel() or the task's end, each call one period
 * after the last was due (no drift).  Timers with the same non-zero
 * delay fire in the order they were started.  For the first 256 distinct
 * delays a loop uses, starting, cancelling and firing a timer are O(1),
 * and no timer allocates once the loop has warmed up: a timer per
 * connection or per request is fine.
 */
LOOPD_API loopd_timer	*loopd_timer_start(loopd_task *task, uint64_t delay_ms,
			    uint64_t every_ms, loopd_timer_cb cb, void *arg);
/* Stop the timer and release the handle; safe inside its own callback,
 * and a no-op on a handle already released. */
LOOPD_API void		loopd_timer_cancel(loopd_timer *timer);
/*
 * Since 1.1.  Re-arm a live timer: the next call after delay_ms, then
 * every every_ms (0: once), as loopd_timer_start() would, dropping
 * whatever was due (a reconnect backoff, a deadline pushed back, a new
 * interval).  Safe inside its own callback: a one-shot timer re-armed
 * there stays alive (it releases itself after its next call instead).
 * Allocates nothing.  Returns 0, or -LOOPD_ESTATE when the handle was
 * released (cancelled, a one-shot whose callback has returned) or its
 * task is ending, or -LOOPD_EINVAL (not a timer of this task).
 */
LOOPD_API int		loopd_timer_set(loopd_timer *timer, uint64_t delay_ms,
			    uint64_t every_ms);

/* ---- file descriptors ------------------------------------------------------ */

#define LOOPD_READ	0x02
#define LOOPD_WRITE	0x04
#define LOOPD_WATCH_CLOSE 0x100	/* flag: the watch owns fd and closes it */

typedef void	(*loopd_watch_cb)(loopd_task *task, int fd, int events,
		    void *arg);

/*
 * Call cb(task, fd, ready, arg) each time fd is ready for the events in
 * `events` (LOOPD_READ and/or LOOPD_WRITE; level-triggered).  fd must be
 * non-blocking.  With LOOPD_WATCH_CLOSE the watch owns fd and closes it when
 * it is released; otherwise fd stays the caller's.  Returns a new handle
 * owned by the task, or NULL.  The callback path does not allocate.
 */
LOOPD_API loopd_watch	*loopd_watch_fd(loopd_task *task, int fd, int events,
			    loopd_watch_cb cb, void *arg);
/* Change the events watched (0 pauses the watch).  Returns 0, or
 * -LOOPD_ESTATE when the watch is released or its task is ending, or
 * -LOOPD_EINVAL, or -LOOPD_ESYS. */
LOOPD_API int		loopd_watch_set(loopd_watch *watch, int events);
/* Stop watching and release the handle; safe inside its own callback,
 * and a no-op on a handle already released. */
LOOPD_API void		loopd_watch_cancel(loopd_watch *watch);

/* ---- deferred calls -------------------------------------------------------- */

/*
 * Call cb(task, arg) on the next turn of the loop, after the events that are
 * ready now.  Returns 0, or -LOOPD_ENOMEM / -LOOPD_ESTATE.  A call still
 * pending when the task ends is dropped.
 */
LOOPD_API int	loopd_call_soon(loopd_task *task, loopd_timer_cb cb, void *arg);

/* ---- listening sockets (since 1.1) ----------------------------------------- */

/*
 * A TCP socket listening on address:port (IPv4 or IPv6 text; port 0 picks
 * one: read it with getsockname) with the given backlog (<= 0: 128),
 * non-blocking and close-on-exec.  loopd binds it, in the supervisor, and
 * keeps it while the task exists in the configuration: when the task
 * starts again (after a failure, a replaced .so, a reload that changed its
 * config but not this address), the same socket comes back, and clients
 * that connect meanwhile wait in its backlog instead of being refused.  A
 * port below 1024 needs no privilege in the worker.
 *
 * Returns a new fd, the task's to close (or to watch with
 * LOOPD_WATCH_CLOSE), or -LOOPD_EINVAL, -LOOPD_ESTATE, or -LOOPD_ESYS with
 * errno saying why (EADDRINUSE, EACCES, ...).  Blocks the loop for the
 * round trip to the supervisor: call it in start, not per request.
 */
LOOPD_API int	loopd_listen_tcp(loopd_task *task, const char *address,
		    int port, int backlog);

/* ---- socket activation (since 1.1) ------------------------------------------ */

/*
 * Since 1.1.  When systemd started loopd from a .socket unit, the listening
 * socket that unit names `name` (FileDescriptorName=), handed to this task
 * because its `config:` says `listen_fd: NAME`.  Returns a new fd, the
 * caller's to close (each call gives another copy of the same socket, which
 * stays bound across the task's restarts), or -LOOPD_ENOENT when this task
 * was given none by that name, -LOOPD_EINVAL, -LOOPD_ESTATE, -LOOPD_ESYS.
 */
LOOPD_API int	loopd_listen_fd(loopd_task *task, const char *name);

/* ---- other threads (since 1.1) --------------------------------------------- */

/*
 * Since 1.1.  Call cb(task, arg) on the task's loop thread, soon.  Any
 * thread may call this, at any time while the task's worker runs (loopd
 * keeps a task's memory until then).  Returns 0 when the call is queued,
 * or -LOOPD_ESTATE when the task has ended or is ending (nothing is
 * queued: arg is still yours), -LOOPD_EINVAL, -LOOPD_ENOMEM.
 * A queued call runs unless the task ends first: then it is dropped, arg
 * untouched, as a pending loopd_call_soon() would be.  Calls from one
 * thread run in the order they were posted.  A task accepts posts from
 * before its start hook runs until it calls loopd_task_done() or
 * loopd_task_fail(); so a thread that posts only after the stop hook
 * has returned is always refused, never run.
 */
LOOPD_API int	loopd_post(loopd_task *task, loopd_timer_cb cb, void *arg);

/*
 * Since 1.1.  Blocking work on the loop's executor, a bounded pool of
 * threads (the loop's `executor:` settings).
 *
 * work(arg) runs on a pool thread; it may block, must not call loopd_*
 * functions but loopd_post() and loopd_job_orphaned().  Then
 * done(task, arg, status) runs on the loop thread, exactly once for every
 * call that returned 0 or -LOOPD_EFULL, never inside this call, and
 * always before the task's stop hook:
 *   LOOPD_JOB_FINISHED   work returned
 *   LOOPD_JOB_TIMEDOUT   timeout_ms (0: none) passed before work returned
 *   LOOPD_JOB_CANCELLED  the task ended first; done is the one callback
 *                        that still runs after loopd_task_done(), so
 *                        that arg can be freed
 *   LOOPD_JOB_REJECTED   the queue was full (the call returned
 *                        -LOOPD_EFULL): work never runs
 * ORed with LOOPD_JOB_RUNNING when work is still running on arg (timed
 * out or cancelled while running): arg is then the work's, not yours;
 * the work learns it from loopd_job_orphaned() and frees arg itself.
 * Without that flag work has returned or never runs: arg is yours again.
 *
 * Returns 0 (queued), -LOOPD_EFULL (rejected: back off; done still
 * comes), or, with no done to come, -LOOPD_ESTATE (the task is ending,
 * or the worker is shutting down), -LOOPD_EINVAL, -LOOPD_ENOMEM,
 * -LOOPD_ESYS (no thread could be started).
 * Jobs start in the order they were queued.
 */
#define LOOPD_JOB_FINISHED	0
#define LOOPD_JOB_TIMEDOUT	1
#define LOOPD_JOB_CANCELLED	2
#define LOOPD_JOB_REJECTED	3
#define LOOPD_JOB_STATUS	0xff	/* status & LOOPD_JOB_STATUS */
#define LOOPD_JOB_RUNNING	0x100	/* flag: work still runs on arg */

typedef void	(*loopd_work_cb)(void *arg);
typedef void	(*loopd_done_cb)(loopd_task *task, void *arg, int status);

LOOPD_API int	loopd_run_in_executor(loopd_task *task, loopd_work_cb work,
		    loopd_done_cb done, void *arg, uint64_t timeout_ms);

/*
 * Since 1.1.  From inside a work, as its last step: true when the job's
 * done has already been called (LOOPD_JOB_RUNNING was set): nobody waits
 * for this result, arg is the work's to free.  False otherwise, and then
 * done will get LOOPD_JOB_FINISHED or LOOPD_JOB_CANCELLED after the work
 * returns, whatever the timeout: do not touch arg after this call.
 * False outside a work.
 */
LOOPD_API bool	loopd_job_orphaned(void);

/* ---- metrics (since 1.1) ---------------------------------------------------- */

/*
 * Since 1.1.  A counter or a gauge of the task, served on loopd's
 * /metrics (the `metrics:` setting) as loopd_plugin_NAME_total (a
 * counter) or loopd_plugin_NAME (a gauge), labelled with the task's loop,
 * task and plugin: loopd_plugin_connections_total{loop="net",
 * task="echo",plugin="echo"} 42.  Values are 64-bit integers: count
 * bytes, not kilobytes, and time in whole units.
 *
 * Declare each metric once, in start or later, on the loop thread.
 * `name` is [a-z_][a-z0-9_]*, at most 64 bytes, not ending in "_total";
 * `help` is one line of text for the # HELP line (at most 256 bytes, or
 * NULL).  Both are copied.  Returns a new handle owned by the task, its
 * value 0, or NULL: the task is ending, the name or help is not valid,
 * the task has a metric of that name or 64 metrics already, or its loop
 * has 4096 (said in a warning record, but for a NULL or ending task).
 * Updates on a NULL handle do nothing, so a plugin may go on without
 * checking.
 *
 * Declaring costs a message to the supervisor; updating costs nothing
 * but an atomic add or store to memory the supervisor reads at scrape
 * time: no allocation, no lock, no system call.
 *
 * The metrics end with the task: once its stop hook has returned, they
 * are gone from /metrics and their handles are stale.  A task started
 * again declares them again, from 0, which Prometheus sees as a counter
 * reset.
 */
LOOPD_API loopd_metric	*loopd_metric_counter(loopd_task *task,
			    const char *name, const char *help);
LOOPD_API loopd_metric	*loopd_metric_gauge(loopd_task *task,
			    const char *name, const char *help);

/*
 * Since 1.1.  Add n to a metric (n >= 0 for a counter; a gauge takes any
 * n), or set a gauge to value.  Any thread of the worker may call them,
 * with relaxed atomics (a scrape sees each update whole, in no promised
 * order with other memory), until the task's stop hook has returned; a
 * thread that may outlive the task must stop updating its metrics by
 * then.  Returns 0, or -LOOPD_EINVAL (NULL, not a metric handle, a
 * negative n for a counter, loopd_metric_set() on a counter), or
 * -LOOPD_ESTATE (the task has ended).
 */
LOOPD_API int		 loopd_metric_add(loopd_metric *metric, int64_t n);
LOOPD_API int		 loopd_metric_set(loopd_metric *metric, int64_t value);

#ifdef __cplusplus
}
#endif

#endif /* LOOPD_PLUGIN_H */
