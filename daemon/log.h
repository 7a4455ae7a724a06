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
 * Everything here is for the process's main thread.
 */
#ifndef LOOPD_LOG_H
#define LOOPD_LOG_H

#include <stdarg.h>
#include <stddef.h>

#include <jansson.h>

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
void		 log_set_format(enum log_format format);

/* The default sink: one line on stderr in the format set above. */
void		 log_write_stderr(void *ctx, json_t *record);

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

/* A JSON string from any bytes: invalid UTF-8 becomes U+FFFD, and more than
 * LOG_STRING_MAX bytes are cut.  New. */
json_t		*log_string(const char *s);

/* Write one line "FILE:LINE:COL: msg" style text to stderr, unformatted:
 * for --check-config and errors before the log is set up. */
void		 log_plain(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2)));

const char	*log_level_name(int level);

/* Route libevent's own messages through this module. */
void		 log_capture_libevent(void);

#endif /* LOOPD_LOG_H */
