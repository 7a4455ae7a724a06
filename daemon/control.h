/*
 * control.h: the control socket, what loopctl talks to.
 *
 * A Unix stream socket owned by the supervisor (control.socket, mode and
 * group applied to the file).  The protocol is JSON lines, one request and
 * one response each, versioned:
 *
 *   {"v":1,"cmd":"status"}                  -> {"v":1,"ok":true,"status":{..}}
 *   {"v":1,"cmd":"version"}                 -> {"v":1,"ok":true,"version":".."}
 *   {"v":1,"cmd":"reload","wait":true}      -> {"v":1,"ok":true|false,
 *                                               "reload":{..}} once applied
 *   {"v":1,"cmd":"stop","target":"LOOP[/TASK]"}  (and start, restart)
 *
 * Errors are {"v":1,"ok":false,"error":"..."}.  The peer's credentials
 * (SO_PEERCRED) decide: root, loopd's own user and members of
 * control.group may do everything; members of control.read_only_group only
 * status and version; others are answered "permission denied".  A request
 * that is not JSON, not an object of this shape, or longer than
 * CONTROL_LINE_MAX is answered with an error and the connection closed.
 * Clients are at most CONTROL_CLIENTS_MAX; each has one response in flight
 * (its next request is read once that is written), so nothing a client
 * does blocks the supervisor or grows its memory without bound.
 *
 * Supervisor main thread only, but for control_parse() and
 * control_req_free().
 */
#ifndef LOOPD_CONTROL_H
#define LOOPD_CONTROL_H

#include <jansson.h>

#include <event2/event.h>

#include "config.h"

#define CONTROL_VERSION		1
#define CONTROL_LINE_MAX	(64 * 1024)
#define CONTROL_CLIENTS_MAX	64

struct control;
struct supervisor;

/* The commands; CONTROL_CMD_UNKNOWN for any other name. */
enum control_cmd {
	CONTROL_CMD_STATUS,
	CONTROL_CMD_VERSION,
	CONTROL_CMD_RELOAD,
	CONTROL_CMD_STOP,
	CONTROL_CMD_START,
	CONTROL_CMD_RESTART,
	CONTROL_CMD_UNKNOWN,
};

/* One request, as control_parse() read it.  name and target are
 * borrowed from json, which the request owns: free with
 * control_req_free(). */
struct control_req {
	enum control_cmd	 cmd;
	const char		*name;		/* "cmd" as sent */
	const char		*target;	/* NULL: none */
	int			 wait;		/* "wait": true */
	json_t			*json;
};

/*
 * Read one request line, line[0..len) (without its newline; need not be
 * NUL-terminated): a JSON object with "v" (an integer, CONTROL_VERSION),
 * "cmd" (a string) and optionally "wait" (a boolean) and "target" (a
 * string).  0 with *out filled; else -1 with *why (static text, the
 * client's answer) and *out zeroed.  Whether the peer may ask it, and
 * whether its command needs a target, is for the caller.  Touches nothing
 * but out: any thread.
 */
int	 control_parse(const char *line, size_t len, struct control_req *out,
	    const char **why);
/* Free what r holds and zero it (a zeroed r is fine). */
void	 control_req_free(struct control_req *r);

/*
 * Listen on conf->control_socket for sv.  A stale socket file is replaced;
 * one another process listens on is left alone.  0 with *cp set, or with
 * *cp NULL when the default socket cannot be had (said in an info record:
 * loopd runs without it); -1 when a socket the file names cannot be (said
 * in an error record).  conf is not kept.
 */
int	 control_open(struct control **cp, struct event_base *base,
	    const struct conf *conf, struct supervisor *sv);

/* A reload's outcome (borrowed) to every client waiting for one.  c may
 * be NULL. */
void	 control_reloaded(struct control *c, const json_t *outcome);

/* Close every client and the socket, and remove its file.  NULL is fine. */
void	 control_free(struct control *c);

#endif /* LOOPD_CONTROL_H */
