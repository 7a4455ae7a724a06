/*
 * log-flood: the single-process peer of the flood plugin.
 *
 *   log-flood COUNT
 *
 * Builds COUNT records with loopd's own log module (daemon/log.c), the same
 * records the flood plugin logs in a worker (bench/flood.h: message, level
 * info, loop, task and plugin "flood"), and writes each to stderr with the
 * module's default sink, as the supervisor does.  What it measures is what
 * writing these records costs with no worker, no channel and no second
 * process: the figure the supervisor-and-worker path is compared with.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "flood.h"
#include "log.h"

int
main(int argc, char **argv)
{
	unsigned long i, count;
	char *end;
	json_t *r;

	if (argc != 2) {
		fprintf(stderr, "usage: log-flood COUNT\n");
		return 2;
	}
	errno = 0;
	count = strtoul(argv[1], &end, 10);
	if (errno != 0 || end == argv[1] || *end != '\0') {
		fprintf(stderr, "log-flood: bad COUNT '%s'\n", argv[1]);
		return 2;
	}
	for (i = 0; i < count; i++) {
		r = log_record(LOOPD_LOG_INFO, FLOOD_FMT, i + 1, count,
		    FLOOD_PAD_LEN, FLOOD_PAD);
		log_add(r, "loop", FLOOD_NAME);
		log_add(r, "task", FLOOD_NAME);
		log_add(r, "plugin", FLOOD_NAME);
		log_emit(r);
	}
	return 0;
}
