/*
 * creds.h: the user and group the workers run as (`user:`, `group:`).
 *
 * The supervisor resolves the names once per configuration it reads
 * (creds_resolve) and sends the numbers to each worker in MSG_LOOP; the
 * worker, after exec and before any plugin is loaded, drops its
 * supplementary groups, then its gid, then its uid (creds_drop).  Only a
 * supervisor running as root has anything to drop: otherwise `user:` is
 * not applied (see creds_resolve).
 */
#ifndef LOOPD_CREDS_H
#define LOOPD_CREDS_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

struct creds {
	int		 set;		/* 0: the workers keep loopd's ids */
	uid_t		 uid;
	gid_t		 gid;
};

/* What creds_resolve() found, beside the ids. */
enum creds_state {
	CREDS_NONE,			/* no `user:` */
	CREDS_DROP,			/* root, and `user:`: c is set */
	CREDS_NOT_ROOT,			/* `user:`, but loopd is not root */
};

/*
 * conf's `user:` and `group:` looked up (getpwnam, getgrnam) into *c.
 * Returns the state, or -1 with a message in err ("user: no user 'x' on
 * this system"), to be shown at conf->user_mark.  Supervisor only.
 */
int	creds_resolve(const struct conf *conf, struct creds *c, char *err,
	    size_t len);

/*
 * Worker: become c (when set): setgroups(0), setgid, setuid, then check
 * that no way back is left.  The parent-death signal, which the kernel
 * clears on a change of ids, is set again.  Returns 0, or -1 with errno
 * and *what naming the step that failed.
 */
int	creds_drop(const struct creds *c, const char **what);

#endif /* LOOPD_CREDS_H */
