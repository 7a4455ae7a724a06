/*
 * msg.h: the messages between the supervisor and a worker.
 *
 * Every message is one frame (see ipc.h) whose body starts with a type
 * byte and goes on with typed values: each value is written with a tag
 * for its type, and the reader checks each tag, each length and the end
 * of the message, so a malformed message is caught where it is read and
 * nothing is parsed as text.  The supervisor trusts nothing a worker
 * sends: msg_read_* only decode; the supervisor checks what the values
 * mean (task indexes, states, events) itself.
 *
 * Supervisor to worker, in this order at start-up:
 *   MSG_LOOP    the loop's own settings (backend, restart, timeouts,
 *               hang action, limits) and how many tasks follow
 *   MSG_TASK    one task: names, plugin path, its resolved restart,
 *               its `config:` tree
 *   MSG_GO      the configuration is complete
 * and later:
 *   MSG_START   start task N (again: it ended, or the worker is new)
 *   MSG_CANCEL  cancel every task and exit once they have ended
 *
 * Worker to supervisor:
 *   MSG_STATE   a task's new state (and its error, when failed; then
 *               optionally the name of the plugin function it failed in)
 *   MSG_LOG     a log record: level, ts, msg, task index, extra fields
 *   MSG_DROPPED how many log records the worker dropped since it last said
 *
 * Buffers are per caller; nothing here is shared between threads.
 */
#ifndef LOOPD_MSG_H
#define LOOPD_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "log.h"

/* Bumped when a message changes; a worker of another version refuses. */
#define MSG_PROTOCOL	"loopd-msg/2 " LOOPD_VERSION

enum msg_type {
	MSG_LOOP = 1,
	MSG_TASK,
	MSG_GO,
	MSG_CANCEL,
	MSG_STATE,
	MSG_LOG,
	MSG_DROPPED,
	MSG_START,
};

/* Strings a worker sends are cut to this many bytes, so that a state
 * message, whatever its error says, always fits in a frame.  A string
 * log.c cut (with its note of how long it was) is not cut again. */
#define MSG_STRING_MAX	LOG_CUT_MAX

/* A message being written: a growable buffer, reusable after msg_reset. */
struct msg_out {
	uint8_t		*p;
	size_t		 len, cap;
	int		 nomem;
};

/* A message being read: borrowed bytes and a cursor. */
struct msg_in {
	const uint8_t	*p, *end;
	const char	*bad;	/* what was wrong, once something was */
};

void		 msg_begin(struct msg_out *m, enum msg_type type);
void		 msg_put_int(struct msg_out *m, int64_t v);
/* s may hold any bytes but NUL; it is cut to max bytes (0: no cut). */
void		 msg_put_str(struct msg_out *m, const char *s, size_t max);
void		 msg_out_free(struct msg_out *m);

/* Start reading body[0..len): returns the type byte, or -1. */
int		 msg_open(struct msg_in *in, const void *body, size_t len);
/* 0 and *v, or -1 with in->bad set (and every later read fails too). */
int		 msg_get_int(struct msg_in *in, int64_t *v);
/* An int that must lie in [lo, hi]. */
int		 msg_get_range(struct msg_in *in, int64_t lo, int64_t hi,
		    int64_t *v);
/* A NUL-terminated string inside the body (borrowed), or NULL. */
const char	*msg_get_str(struct msg_in *in, size_t *len);
/* 0 when every byte was read and nothing was wrong, else -1. */
int		 msg_done(struct msg_in *in);

/* ---- the configuration a worker receives -------------------------------- */

/* MSG_LOOP, one MSG_TASK per task, MSG_GO, appended to one buffer each;
 * send() is called with every finished message.  Returns 0 or -1. */
int		 msg_send_loop(const struct conf *conf,
		    const struct loop_conf *loop,
		    int (*send)(void *ctx, const struct msg_out *m), void *ctx);

/*
 * The worker's side: a struct conf holding one loop, built message by
 * message in r (zeroed by the caller).  Returns 1 when MSG_GO completed it,
 * 0 when more is expected, -1 with *why (static text) set when a message is
 * wrong.  r->conf is new, complete or not: free it with config_free().
 */
struct msg_conf_reader {
	struct conf	*conf;
	size_t		 filled;	/* tasks received */
};

int		 msg_conf_add(struct msg_conf_reader *r, const void *body,
		    size_t len, const char **why);

#endif /* LOOPD_MSG_H */
