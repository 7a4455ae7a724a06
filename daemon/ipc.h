/*
 * ipc.h: framed JSON messages between the supervisor and a worker.
 *
 * Each frame is a 4-byte big-endian length and that many bytes of one JSON
 * object.  Every frame read is checked (length, JSON, an object with a
 * string "type"); a bad one closes the channel with a reason, so a worker
 * that sends garbage fails alone.  Sending never blocks: what the socket
 * does not take at once is queued and written when it can be.
 *
 * One struct ipc belongs to one process and its event_base; main thread
 * only.
 */
#ifndef LOOPD_IPC_H
#define LOOPD_IPC_H

#include <stddef.h>

#include <jansson.h>

struct event_base;
struct ipc;

#define IPC_FRAME_MAX		(1024 * 1024)
/* Past this much queued output, droppable frames are dropped. */
#define IPC_QUEUE_MAX		(4 * 1024 * 1024)

/* msg is borrowed for the call. */
typedef void	(*ipc_frame_fn)(void *ctx, json_t *msg);
/* reason is NULL when the peer went away (end of file or reset), else it
 * says what was wrong.  The ipc may be freed inside. */
typedef void	(*ipc_close_fn)(void *ctx, const char *reason);

/* A new channel on fd (stolen: closed by ipc_free()), or NULL. */
struct ipc	*ipc_new(struct event_base *base, int fd, ipc_frame_fn on_frame,
		    ipc_close_fn on_close, void *ctx);
void		 ipc_free(struct ipc *ipc);

/*
 * Queue msg (borrowed).  A droppable frame (a log record) is dropped, and
 * counted, when the queue is over IPC_QUEUE_MAX.  Returns 0, or -1 when
 * the frame was dropped or could not be encoded.
 */
int		 ipc_send(struct ipc *ipc, json_t *msg, int droppable);

/* Frames dropped since the last call; resets the count. */
size_t		 ipc_take_dropped(struct ipc *ipc);

/* Read and dispatch whatever the peer already wrote, without waiting. */
void		 ipc_drain(struct ipc *ipc);

/* Write everything queued, waiting up to timeout_ms.  Returns 0 or -1. */
int		 ipc_flush(struct ipc *ipc, int timeout_ms);

/*
 * In a forked child: close the fd of an inherited channel without touching
 * its events (the parent's epoll set is shared) or freeing it.
 */
void		 ipc_close_fd_after_fork(struct ipc *ipc);

#endif /* LOOPD_IPC_H */
