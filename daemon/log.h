/*
 * log.h: the only way loopd writes log records.
 *
 * A record is a jansson object that starts with ts (RFC 3339 UTC with
 * microseconds), level and msg; callers add loop, task, plugin, pid, event
 * and error as they apply.  log_emit() hands it to the process's sink: in
 * the supervisor a writer of JSON or text lines on stderr, in a worker the
 * IPC channel to the supervisor (which then writes it).  The sink and the
 * minimum level are the module's process-wide state; they are set once at
 * start-up, and again in a worker after fork.
 *
 * The stderr writer never blocks the loop on a reader that does not read
 * (a stalled journal, a pager): lines wait in a bounded queue (LOG_QUEUE_MAX
 * bytes), written when the output takes them, driven by an EV_WRITE event on
 * the base given to log_attach().  A line either goes out whole or, when it
 * does not fit in the queue, is dropped and counted; once there is room
 * again, one record with event "log_dropped" and field "dropped" says how
 * many.  A regular file is written at once, with blocking writes, at its
 * append position; a write that fails counts its record as dropped.  A
 * forked child does not write what its parent queued.
 *
 * Under systemd, when the output is the stream JOURNAL_STREAM names (its
 * device:inode), each line starts with the "<N>" syslog priority of its
 * level (sd-daemon(3): 3 error, 4 warning, 6 info, 7 debug), which journald
 * takes off and keeps as the entry's PRIORITY: the message stays pure JSON.
 *
 * Instead of stderr, the writer can append to a file (log_open_file(),
 * reopened by log_reopen() after a rotation), or send each record to
 * journald with fields (log_open_journald()).
 *
 * Who calls what: everything here is for the main thread of a process.
 * log_record(), log_add*(), log_emit() and log_string() may be called by any
 * module in the supervisor or in a worker.  log_set_*(), log_attach(),
 * log_flush() and log_count_dropped() are for the process that owns the
 * stderr writer: the supervisor (and the unit tests).
 */
#ifndef LOOPD_LOG_H
#define LOOPD_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include <jansson.h>

struct event_base;

#include "loopd/plugin.h"

/* A sink takes a record (borrowed) and writes or forwards it. */
typedef void	(*log_sink_fn)(void *ctx, json_t *record);

enum log_format {
	LOG_FORMAT_JSON,
	LOG_FORMAT_TEXT,
};

/* Start-up: records below `level` are dropped before they are built into
 * lines.  Until log_set_sink() is called, records go to stderr as JSON. */
void		 log_set_level(int level);
int		 log_level(void);
void		 log_set_sink(log_sink_fn sink, void *ctx);
/* Text lines: "TS LEVEL msg key=value ...", with control characters and
 * backslashes in msg and values escaped, so that a record is one line. */
void		 log_set_format(enum log_format format);


/*
 * Append lines to the file at path (opened O_APPEND|O_CLOEXEC, created
 * 0640) instead of stderr, with blocking writes (see log_set_fd()).
 * path is copied.  Returns 0, or -1 with errno set (stderr stays).
 */
int		 log_open_file(const char *path);
/*
 * Open the file's path again (after logrotate renamed it: SIGUSR1): the
 * lines after this go to the new file; all before it were written to the
 * old one.  One record says it, in the new file, or why not, in the old
 * one, which is kept.  Nothing to do (0) without log_open_file().  Returns
 * 0 or -1.
 */
int		 log_reopen(void);
/*
 * Send records to the journal with sd_journal_sendv(), from libsystemd
 * opened here (and kept open: the process must be the supervisor, never a
 * worker, which must not map it): MESSAGE, PRIORITY, SYSLOG_IDENTIFIER,
 * LOOPD_LOOP, LOOPD_TASK, LOOPD_PLUGIN, LOOPD_EVENT (each when the record
 * has it) and LOOPD_JSON, the whole record.  A record the journal refuses
 * is dropped and counted; the log_dropped notice goes the same way.  The
 * send waits when the journal's socket is full.  Returns 0, or -1 with the
 * reason in log_journald_error().
 */
int		 log_open_journald(void);
const char	*log_journald_error(void);

/* The most bytes of lines waiting for the output; more are dropped. */
#define LOG_QUEUE_MAX	(1024 * 1024)
/* A drop notice's line is shorter than this. */
#define LOG_NOTICE_MAX	256

/*
 * Point the stderr writer at fd (borrowed: it must stay open until the next
 * log_set_fd()), for the supervisor's start-up and for tests.  Until it is
 * called, the writer uses fd 2 from the first record on.  A socket is
 * written with send(MSG_DONTWAIT); a pipe, FIFO or terminal through a
 * private non-blocking description opened from /proc/self/fd (fd's own
 * flags, shared with other processes, are left alone); anything else, such
 * as a regular file, with blocking writes.  Lines still queued for the
 * previous fd are discarded; the count of dropped records is kept.
 * Returns 0, or -1 with errno set when fd cannot be used (the writer then
 * writes to it with blocking writes).
 */
int		 log_set_fd(int fd);

/*
 * Write queued lines when the output is ready, from an event on base
 * (borrowed: until log_flush()).  Before it, and after log_flush(), each
 * record tries the output at once, and what does not go out waits for the
 * next record.
 */
void		 log_attach(struct event_base *base);

/*
 * At exit: write what is queued, then the last drop notice if records were
 * dropped, waiting at most timeout_ms for the output; then detach from the
 * base.  Returns 0 when everything was written, -1 when the deadline passed
 * first.
 */
int		 log_flush(int timeout_ms);

/* Count n records dropped elsewhere (a worker's channel): the next drop
 * notice includes them. */
/*
 * True when a line of about n bytes would be dropped if it were written
 * now: the supervisor counts such a record without building it.
 * Supervisor main thread.
 */
int		 log_would_drop(size_t n);
void		 log_count_dropped(size_t n);
/* Records dropped since start, said or not yet (for the metrics). */
size_t		 log_dropped_total(void);

/*
 * A new record with ts, level, msg and pid, or NULL when level is below the
 * threshold (the log_add_* helpers and log_emit() accept NULL, so callers
 * need not check).  Any bytes are fine in msg: invalid UTF-8 is replaced.
 */
json_t		*log_record(int level, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
json_t		*log_vrecord(int level, const char *fmt, va_list ap)
		    __attribute__((format(printf, 2, 0)));

/* Add a string field (skipped when value is NULL); any bytes are fine. */
void		 log_add(json_t *record, const char *key, const char *value);
void		 log_add_int(json_t *record, const char *key, long long value);
/* Add error: {type, message}. */
void		 log_add_error(json_t *record, const char *type,
		    const char *message);

/* Hand the record (stolen) to the sink. */
void		 log_emit(json_t *record);

/* Longer strings are cut, with a note of their full length. */
#define LOG_STRING_MAX	(64 * 1024)
/* A string up to this long is kept whole: one that was cut already, with
 * its note, is not cut again when it crosses to the supervisor. */
#define LOG_CUT_MAX	(LOG_STRING_MAX + 64)

/* A JSON string from any bytes: invalid UTF-8 becomes U+FFFD, and more than
 * LOG_CUT_MAX bytes are cut to LOG_STRING_MAX and a note.  New. */
json_t		*log_string(const char *s);
/* s cut as log_string() cuts it, new (free()), or NULL when s is short
 * enough to be kept whole (or memory ran out). */
char		*log_cut(const char *s);

/* Write one line "FILE:LINE:COL: msg" style text to stderr, unformatted:
 * for --check-config and errors before the log is set up. */
void		 log_plain(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

const char	*log_level_name(int level);

/* Route libevent's own messages through this module. */
void		 log_capture_libevent(void);

#endif /* LOOPD_LOG_H */
