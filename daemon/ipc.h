/*
 * ipc.h: frames over a socketpair between the supervisor and a worker.
 *
 * A frame is a 4-byte big-endian length and that many bytes of body (a
 * message: see msg.h).  The reader checks the length against the
 * channel's limit; a frame over it closes the channel with a reason, so a
 * worker that sends garbage fails alone.  Reading is bounded per turn of
 * the loop, so one chatty peer cannot starve the others.  Sending never
 * blocks: what the socket does not take at once is queued and written
 * when it can be.
 *
 * One struct ipc belongs to one process and its event_base; main thread
 * only.
 */
#ifndef LOOPD_IPC_H
#define LOOPD_IPC_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct ipc;

/* The largest frame a worker may send. */
#define IPC_FRAME_MAX		(1024 * 1024)
/* Past this much queued output, droppable frames are dropped. */
#define IPC_QUEUE_MAX		(4 * 1024 * 1024)
/* At most this much is read from one channel per turn of the loop. */
#define IPC_READ_CHUNK		(64 * 1024)
/* Fds queued to be passed, or received and not taken, at most. */
#define IPC_FDS_MAX		16

struct ipc_callbacks {
	/* A whole frame; body is borrowed for the call.  The ipc may be
	 * closed (not freed) inside. */
	void	(*frame)(void *ctx, const void *body, size_t len);
	/* reason is NULL when the peer went away (end of file or reset),
	 * else it says what was wrong.  The ipc may be freed inside. */
	void	(*closed)(void *ctx, const char *reason);
	/* Optional: everything queued has been written. */
	void	(*empty)(void *ctx);
};

/* A new channel on fd (stolen: closed by ipc_free()) that accepts frames
 * of up to frame_max bytes, or NULL.  cb is copied. */
struct ipc	*ipc_new(struct event_base *base, int fd, size_t frame_max,
		    const struct ipc_callbacks *cb, void *ctx);
void		 ipc_free(struct ipc *ipc);

/*
 * Queue a frame of body[0..len) (copied).  A droppable frame (a log
 * record) is dropped, and counted, when the queue is over IPC_QUEUE_MAX.
 * Returns 0, or -1 when the frame was dropped.
 */
int		 ipc_send(struct ipc *ipc, const void *body, size_t len,
		    int droppable);

/*
 * Queue a frame, as ipc_send() (not droppable), with fd passed alongside
 * (SCM_RIGHTS, with the frame's first byte).  fd is duplicated: the caller
 * keeps its own.  At most IPC_FDS_MAX wait to be written.  0 or -1.
 */
int		 ipc_send_fd(struct ipc *ipc, const void *body, size_t len,
		    int fd);
/* This side takes fds passed with frames (without it, they are closed
 * as they arrive).  They are received close-on-exec, in order, by the
 * time their frame is dispatched (perhaps with frames before it): the
 * handler of a frame that comes with an fd takes it, and only it. */
void		 ipc_accept_fds(struct ipc *ipc);
/* The oldest fd received and not yet taken (now the caller's), or -1. */
int		 ipc_take_fd(struct ipc *ipc);

/* Frames dropped since the last call; resets the count. */
size_t		 ipc_take_dropped(struct ipc *ipc);
/* Bytes queued and not yet written. */
size_t		 ipc_queued(const struct ipc *ipc);

/* Read and dispatch everything the peer already wrote, without waiting
 * and without the per-turn bound (for a peer that has just died). */
void		 ipc_drain(struct ipc *ipc);

/* Stop reading and writing, and tell no one: the owner is done with it. */
void		 ipc_close(struct ipc *ipc);

/* Write everything queued, waiting up to timeout_ms.  Returns 0 or -1. */
int		 ipc_flush(struct ipc *ipc, int timeout_ms);

/*
 * Read one frame from a blocking fd, before any loop exists (a worker
 * reads its configuration so).  *buf (grown with realloc, the caller's to
 * free) receives the body.  Returns its length, 0 at end of file, or -1
 * (errno set; EPROTO for a frame over frame_max).
 */
ssize_t		 ipc_read_frame(int fd, uint8_t **buf, size_t *cap,
		    size_t frame_max);

/*
 * One message and an fd over a SOCK_SEQPACKET socket (the channel that
 * carries listening sockets to a worker).  ipc_packet_send: fd -1 sends
 * none;
 * returns 0 or -1 (errno).  ipc_packet_recv: waits up to timeout_ms (-1: for
 * ever), returns the message's length, 0 at end of file, or -1 (errno);
 * *fd is the fd that came with it (O_CLOEXEC; the caller's), or -1.
 */
int		 ipc_packet_send(int sock, const void *buf, size_t len, int fd);
ssize_t		 ipc_packet_recv(int sock, void *buf, size_t cap, int *fd,
		    int timeout_ms);

#endif /* LOOPD_IPC_H */
