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
 *   MSG_LOOP    the log settings (level, format, rate) and the loop's
 *               own (backend, restart, timeouts, hang action, limits,
 *               sandbox), the uid and gid to run as (creds.h), its
 *               debug settings (debug, slow_callback_ms, precise_timer,
 *               cpu), and how many tasks follow
 *   MSG_TASK    one task: names, plugin path, the file it came from
 *               (the main file or a fragment), its resolved restart,
 *               its `config:` tree
 *   MSG_GO      the configuration is complete
 * and later:
 *   MSG_TASK    a new task slot (a reload added or changed a task)
 *   MSG_START   start task N (again: it ended, or the worker is new)
 *   MSG_STOP    cancel task N for good (a reload removed or changed it)
 *   MSG_CANCEL  cancel every task and exit once they have ended
 *   MSG_RECONFIGURE  task N's new `config:` tree: apply it in place
 *               (the plugin's reconfigure hook) if the task can
 *   MSG_FD      task N's socket-activation fd and its name, the fd
 *               passed with the frame (ipc_send_fd()); before MSG_START
 *
 * Worker to supervisor:
 *   MSG_STATE   a task's new state (and its error, when failed; then
 *               optionally the name of the plugin function it failed in)
 *   MSG_LOG     a log record: level, ts, msg, task index, extra fields
 *   MSG_DROPPED how many log records the worker dropped since it last said
 *   MSG_RECONFIGURED  the answer to each MSG_RECONFIGURE, in order: task N
 *               and 0 (applied: the running task and its later starts
 *               use the new tree) or 1 (not applied: the task runs on
 *               with its old tree, and needs a restart to take the new)
 *   MSG_METRIC  a plugin declared a metric: task N, its slot in the
 *               shared area, kind, name, help (pmetric.h)
 *
 * Buffers are per caller; nothing here is shared between threads.
 */
#ifndef LOOPD_MSG_H
#define LOOPD_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "creds.h"
#include "log.h"

/* Bumped when a message changes; a worker of another version refuses. */
#define MSG_PROTOCOL	"loopd-msg/5 " LOOPD_VERSION

/* Numbered for good: a test plugin speaks them to the supervisor raw. */
enum msg_type {
	MSG_LOOP = 1,
	MSG_TASK = 2,
	MSG_GO = 3,
	MSG_CANCEL = 4,
	MSG_STATE = 5,
	MSG_LOG = 6,
	MSG_DROPPED = 7,
	MSG_START = 8,
	MSG_STOP = 9,
	MSG_LISTEN = 10,	/* worker: a listening socket, please (fd 5) */
	MSG_LISTENING = 11,	/* supervisor: the result, and the socket */
	MSG_RECONFIGURE = 12,	/* supervisor: a task's new config */
	MSG_RECONFIGURED = 13,	/* worker: applied, or a restart is needed */
	MSG_FD = 14,		/* supervisor: a socket-activation fd */
	MSG_METRIC = 15,	/* worker: a plugin's metric, declared */
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

/*
 * MSG_LOOP, one MSG_TASK per slot that is used (tasks[i] NULL: slot i is
 * no longer), MSG_GO; send() is called with every finished message.
 * conf gives the log settings and file, loop the loop's own settings,
 * creds (borrowed; NULL: none) the ids the worker drops to.
 * Returns 0 or -1.
 */
int		 msg_send_loop(const struct conf *conf,
		    const struct loop_conf *loop, const struct creds *creds,
		    const struct task_conf *const *tasks, size_t ntasks,
		    int (*send)(void *ctx, const struct msg_out *m), void *ctx);
/* One MSG_TASK, at run time: a task for the new slot `slot`. */
int		 msg_send_task(size_t slot, const struct task_conf *t,
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
	struct creds	 creds;		/* from MSG_LOOP */
};

int		 msg_conf_add(struct msg_conf_reader *r, const void *body,
		    size_t len, const char **why);
/* A MSG_TASK after MSG_GO: the worker's loop gains slot *slot (always the
 * next one).  0, or -1 with *why. */
int		 msg_conf_add_task(struct conf *conf, const void *body,
		    size_t len, size_t *slot, const char **why);

/* ---- reconfiguration in place -------------------------------------------- */

/* MSG_RECONFIGURE of task `index` with `config` (NULL: no `config:`), to
 * send(); returns 0 or -1. */
int		 msg_send_reconfigure(size_t index,
		    const struct conf_node *config,
		    int (*send)(void *ctx, const struct msg_out *m), void *ctx);

/*
 * The worker's side of MSG_RECONFIGURE, after msg_open(): the task index
 * (below conf's loop's ntasks) in *index, and the new tree, allocated in
 * conf's arena (freed with conf), in *config (NULL: no `config:`).
 * Returns 0, or -1 with in->bad set.
 */
int		 msg_get_reconfigure(struct msg_in *in, const struct conf *conf,
		    size_t *index, struct conf_node **config);

/* MSG_RECONFIGURED into m: task `index`, applied or not. */
void		 msg_put_reconfigured(struct msg_out *m, size_t index,
		    int applied);

#endif /* LOOPD_MSG_H */
