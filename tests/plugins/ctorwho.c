/*
 * ctorwho: a test plugin whose constructor writes the ids it runs with,
 * "uid gid", to the file $LOOPD_TEST_CTORWHO (appending one line per
 * load), so that a test can see who ran it, be it a worker or a child
 * reading its descriptor.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <loopd/plugin.h>

__attribute__((constructor)) static void
ctorwho_init(void)
{
	const char *path = getenv("LOOPD_TEST_CTORWHO");
	char line[64];
	int fd, n;

	if (path == NULL || (fd = open(path, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0666)) < 0)
		return;
	n = snprintf(line, sizeof line, "%u %u\n", (unsigned)geteuid(),
	    (unsigned)getegid());
	if (write(fd, line, (size_t)n) < 0)
		(void)0;
	close(fd);
}

static int
ctorwho_start(loopd_task *t, const loopd_args *args, void **state)
{
	(void)t;
	(void)args;
	(void)state;
	return 0;
}

LOOPD_PLUGIN(.name = "ctorwho", .version = "0.1", .start = ctorwho_start);
