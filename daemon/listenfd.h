/*
 * listenfd.h: the listening sockets systemd passes (socket activation).
 *
 * A .socket unit starts loopd with fds 3.. open and LISTEN_PID,
 * LISTEN_FDS and LISTEN_FDNAMES set (sd_listen_fds(3)); they are read
 * here, as sd_listen_fds_with_names() would, without libsystemd.  The
 * variables are removed, so that workers do not see them, and the fds
 * made close-on-exec: a worker receives only the fd of its task, over its
 * channel (MSG_FD).
 *
 * Supervisor main thread only.
 */
#ifndef LOOPD_LISTENFD_H
#define LOOPD_LISTENFD_H

#include <stddef.h>

#define LISTENFD_FIRST	3	/* SD_LISTEN_FDS_START */

struct listenfds {
	size_t		 n;
	int		*fds;
	char		**names;	/* "unknown" when systemd gave none */
};

/*
 * Take what the environment passes to this process into lf (zeroed by the
 * caller): 0, with lf->n == 0 when nothing was passed (or passed to
 * another pid), or -1 when memory ran out.
 */
int	listenfd_take(struct listenfds *lf);

/* The fd named name, or -1. */
int	listenfd_find(const struct listenfds *lf, const char *name);

/* Close the fds and free lf's contents. */
void	listenfd_free(struct listenfds *lf);

#endif /* LOOPD_LISTENFD_H */
