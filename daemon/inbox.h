/*
 * inbox.h: what a worker's message may say, checked apart from the
 * supervisor's state.
 *
 * Each inbox_*() reads one message, after msg_open(), and checks every
 * value against what a worker may send: a task index below its loop's
 * count, a level, state or port in its range, a `ts` of the one shape,
 * extra fields whose keys the supervisor does not own, no event but those
 * a worker may emit, and nothing after the last value.  They return NULL,
 * or a static text that says what was wrong.  What the values mean for
 * the tasks (whether one is running, whether a reconfiguration was
 * offered) is the supervisor's to check.  Strings are borrowed from the
 * message body.  No I/O and no state: any thread may call them.
 */
#ifndef LOOPD_INBOX_H
#define LOOPD_INBOX_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "msg.h"

/* Extra fields in one record, at most. */
#define INBOX_FIELDS_MAX	32

/* The fixed part of a MSG_LOG; nfields extra fields follow it. */
struct inbox_log {
	int		 level;		/* LOOPD_LOG_* */
	const char	*ts;		/* not NUL-terminated: tslen bytes */
	size_t		 tslen;
	const char	*msg;
	int64_t		 task;		/* below ntasks, or -1: the loop's */
	int64_t		 nfields;
};

const char	*inbox_log(struct msg_in *in, size_t ntasks,
		    struct inbox_log *log);

/*
 * The nfields extra fields of a MSG_LOG, after inbox_log(), each added to
 * r (borrowed; a key r holds already is refused), and the message's end.
 * On failure r may hold some of them.
 */
const char	*inbox_log_fields(struct msg_in *in, int64_t nfields,
		    json_t *r);

/* MSG_STATE: a task's new state, with the plugin's version and, when it
 * failed, the error's type and message ("" when not said) and, optionally,
 * the plugin function it failed in. */
struct inbox_state {
	size_t		 task;		/* below ntasks */
	int		 state;		/* enum task_state, past STARTING */
	const char	*version;
	const char	*type;
	const char	*msg;
	const char	*callback;	/* or NULL: not said */
};

const char	*inbox_state(struct msg_in *in, size_t ntasks,
		    struct inbox_state *st);

/* 1 when a task whose last state was `last` may now report `next`:
 * states only go forward, and none follows DONE or FAILED. */
int		 inbox_state_follows(int last, int next);

/* MSG_DROPPED: how many records the worker dropped, at least 1. */
const char	*inbox_dropped(struct msg_in *in, size_t *n);

/* MSG_RECONFIGURED: task *task took its new config (*applied 1) or
 * needs a restart (*applied 0). */
const char	*inbox_reconfigured(struct msg_in *in, size_t ntasks,
		    size_t *task, int *applied);

/* MSG_LISTEN: task `task` asks for a listening socket. */
struct inbox_listen {
	size_t		 task;		/* below ntasks */
	const char	*address;
	int		 port;		/* 0 to 65535 */
	int		 backlog;	/* 1 to 65535 */
};

const char	*inbox_listen(struct msg_in *in, size_t ntasks,
		    struct inbox_listen *ls);

#endif /* LOOPD_INBOX_H */
