/*
 * supervisor.h: the supervisor process.
 */
#ifndef LOOPD_SUPERVISOR_H
#define LOOPD_SUPERVISOR_H

#include "config.h"

/* How to read the configuration again on SIGHUP. */
struct schema_cache;

struct supervisor_opts {
	const char	*path;			/* the file */
	const char	*plugin_dir;		/* -P, or NULL */
	const char	*default_plugin_dir;
	/* What plugins declared, for a reload's check (schema.h); borrowed,
	 * may be NULL. */
	struct schema_cache *schema;
};

/*
 * Run every loop of conf (stolen: freed by the supervisor, perhaps after
 * a reload replaced it) in a worker process of its own, each started as
 * `exe --worker`, until SIGINT or SIGTERM and the shutdown that follows.
 * SIGHUP reads opts->path again and applies the difference.  Returns the
 * process's exit status: 0 when every task ended cleanly, 1 when one
 * failed, died or was forced since start, 3 when restarts ran out under
 * on_exhausted: exit (see loopd(8)).
 */
int	supervisor_run(struct conf *conf, const struct supervisor_opts *opts,
	    const char *exe);

#endif /* LOOPD_SUPERVISOR_H */
