/*
 * creds.c: looking up `user:` and `group:`, and dropping to them in a
 * worker (creds.h).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "creds.h"

int
creds_resolve(const struct conf *conf, struct creds *c, char *err,
    size_t len)
{
	struct passwd *pw;
	struct group *gr;

	memset(c, 0, sizeof *c);
	if (conf->user == NULL)
		return CREDS_NONE;
	errno = 0;
	if ((pw = getpwnam(conf->user)) == NULL) {
		snprintf(err, len, "user: no user '%s' on this system%s%s",
		    conf->user, errno != 0 ? ": " : "",
		    errno != 0 ? strerror(errno) : "");
		return -1;
	}
	c->uid = pw->pw_uid;
	c->gid = pw->pw_gid;
	if (conf->group != NULL) {
		errno = 0;
		if ((gr = getgrnam(conf->group)) == NULL) {
			snprintf(err, len, "group: no group '%s' on this "
			    "system%s%s", conf->group, errno != 0 ? ": " : "",
			    errno != 0 ? strerror(errno) : "");
			return -1;
		}
		c->gid = gr->gr_gid;
	}
	if (geteuid() != 0)
		return CREDS_NOT_ROOT;
	c->set = 1;
	return CREDS_DROP;
}

int
creds_drop(const struct creds *c, const char **what)
{
	pid_t parent = getppid();

	if (!c->set)
		return 0;
	*what = "setgroups";
	if (setgroups(0, NULL) < 0)
		return -1;
	*what = "setgid";
	if (setresgid(c->gid, c->gid, c->gid) < 0)
		return -1;
	*what = "setuid";
	if (setresuid(c->uid, c->uid, c->uid) < 0)
		return -1;
	/* No way back: were root kept somewhere, setuid(0) would work. */
	*what = "the check that root cannot be regained";
	if (c->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		errno = EPERM;
		return -1;
	}
	*what = "PR_SET_PDEATHSIG";
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return -1;
	if (getppid() != parent) {	/* the supervisor died meanwhile */
		errno = ESRCH;
		return -1;
	}
	return 0;
}
