/*
 * supervisor.h: the supervisor process.
 */
#ifndef LOOPD_SUPERVISOR_H
#define LOOPD_SUPERVISOR_H

#include <stddef.h>

#include <jansson.h>

#include "config.h"

struct supervisor;

/* How to read the configuration again on SIGHUP. */
struct supervisor_opts {
	const char	*path;			/* the file */
	const char	*plugin_dir;		/* -P, or NULL */
	const char	*default_plugin_dir;
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

/*
 * For the control socket (control.c) and the metrics endpoint (metrics.c);
 * supervisor main thread only.
 *
 * supervisor_status(): a new JSON object, what `loopctl status --json`
 * prints: version, pid, config, ready, stopping, log_dropped, and loops[],
 * each with name, pid (null when down), state (running, hung, restarting,
 * failed, stopped), uptime_s, restarts, hung (and hung_task), rss_bytes
 * and open_fds (read from /proc now), lag_p99_ms and executor_queue (null:
 * the workers do not report them), errors (type -> count, errors of no
 * task) and tasks[], each with name, plugin, state (starting, running,
 * cancelling, restarting, stopped, ended, failed), restarts, uptime_s and
 * errors.
 *
 * supervisor_health(): a new JSON array of what makes loopd unhealthy:
 * objects with loop, task (when one is named) and problem (hung, failed,
 * restarting); empty when every loop is responsive.
 *
 * supervisor_command(): verb stop, start or restart on target "LOOP" or
 * "LOOP/TASK".  0 or -1; either way msg says what was done or what is
 * wrong.  A stopped task stays down until started; restarting a loop that
 * is stuck kills its worker, which comes back under its restart policy.
 *
 * supervisor_reload(): a reload on the next turn of the loop, as SIGHUP;
 * its outcome goes to control_reloaded().  -1 while shutting down.
 */
json_t	*supervisor_status(struct supervisor *sv);
json_t	*supervisor_health(struct supervisor *sv);
int	 supervisor_command(struct supervisor *sv, const char *verb,
	    const char *target, char *msg, size_t len);
int	 supervisor_reload(struct supervisor *sv);

#endif /* LOOPD_SUPERVISOR_H */
