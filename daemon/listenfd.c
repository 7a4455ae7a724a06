/*
 * listenfd.c: socket activation's fds, from the environment (listenfd.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listenfd.h"

/* A decimal number of the whole string s, or -1. */
static long
number(const char *s)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : v;
}

int
listenfd_take(struct listenfds *lf)
{
	long pid = number(getenv("LISTEN_PID"));
	long n = number(getenv("LISTEN_FDS"));
	const char *names = getenv("LISTEN_FDNAMES");
	char *copy = NULL, *p, *colon;
	size_t i;

	if (pid != (long)getpid() || n <= 0 || n > 1024) {
		n = 0;
		goto done;
	}
	if ((lf->fds = calloc((size_t)n, sizeof *lf->fds)) == NULL ||
	    (lf->names = calloc((size_t)n, sizeof *lf->names)) == NULL ||
	    (names != NULL && (copy = strdup(names)) == NULL))
		goto nomem;
	p = copy;
	for (i = 0; i < (size_t)n; i++) {
		lf->fds[i] = LISTENFD_FIRST + (int)i;
		fcntl(lf->fds[i], F_SETFD, FD_CLOEXEC);
		if (p != NULL && (colon = strchr(p, ':')) != NULL)
			*colon = '\0';
		else
			colon = NULL;
		if ((lf->names[i] = strdup(p != NULL && *p != '\0' ? p :
		    "unknown")) == NULL)
			goto nomem;
		p = colon != NULL ? colon + 1 : NULL;
		lf->n++;
	}
	free(copy);
done:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return 0;
nomem:
	free(copy);
	listenfd_free(lf);
	return -1;
}

int
listenfd_find(const struct listenfds *lf, const char *name)
{
	size_t i;

	for (i = 0; i < lf->n; i++)
		if (strcmp(lf->names[i], name) == 0)
			return lf->fds[i];
	return -1;
}

void
listenfd_free(struct listenfds *lf)
{
	size_t i;

	for (i = 0; i < lf->n; i++) {
		close(lf->fds[i]);
		free(lf->names[i]);
	}
	free(lf->fds);
	free(lf->names);
	memset(lf, 0, sizeof *lf);
}
