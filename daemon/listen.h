/*
 * listen.h: listening sockets the supervisor binds for tasks.
 *
 * A task asks for its listening socket through the plugin API
 * (loopd_listen_tcp): the supervisor binds it, keeps a copy, and passes it
 * to the worker.  When the task starts again (a restart, a replaced .so, a
 * reload that changed its config but not its address), the same socket is
 * handed to the new instance: connections wait in its backlog instead of
 * being refused.  A socket is closed when no task of that name is left in
 * its loop.  Binding in the supervisor also lets ports below 1024 work
 * without privileges in the workers.  Supervisor main thread only.
 */
#ifndef LOOPD_LISTEN_H
#define LOOPD_LISTEN_H

#include <stdint.h>

struct listeners;

struct listeners *listeners_new(void);
void		 listeners_free(struct listeners *ls);

/*
 * The socket for task `task` of loop `loop` on address:port, bound and
 * listening with backlog (the same one when the task asked before).
 * Returns an fd borrowed from ls (send a copy), or -errno.
 */
int		 listeners_get(struct listeners *ls, const char *loop,
		    const char *task, const char *address, int port,
		    int backlog);

/* A new socket bound to address:port and listening, or -errno; for a
 * worker with no supervisor to ask (tests). */
int		 listeners_bind(const char *address, int port, int backlog);

/*
 * A task instance starts: listeners_now() is its start.  Once it runs,
 * listeners_settle() closes the sockets of that task it did not ask for
 * since (an older instance's, on a port its config no longer names).
 */
uint64_t	 listeners_now(struct listeners *ls);
void		 listeners_settle(struct listeners *ls, const char *loop,
		    const char *task, uint64_t since);

/* Close the sockets of tasks that keep(ctx, loop, task) says are gone. */
void		 listeners_prune(struct listeners *ls,
		    int (*keep)(void *ctx, const char *loop, const char *task),
		    void *ctx);

#endif /* LOOPD_LISTEN_H */
