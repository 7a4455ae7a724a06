/*
 * fuzz_control.c: the control socket's reader of requests
 * (control_parse(), control.c) on any bytes.
 *
 * The input is what a client wrote: it is cut into lines as the socket's
 * reader cuts it, a line longer than CONTROL_LINE_MAX is refused there
 * (and ends the input, as it ends the connection), and each line goes to
 * control_parse(), the last one too without its newline (as if that came
 * later).  A refusal must say why, in one of the answers the
 * protocol documents, with nothing left in the request; an accepted
 * request must name its command as "cmd" did, and free cleanly.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const names[] = {
	[CONTROL_CMD_STATUS] = "status",
	[CONTROL_CMD_VERSION] = "version",
	[CONTROL_CMD_RELOAD] = "reload",
	[CONTROL_CMD_STOP] = "stop",
	[CONTROL_CMD_START] = "start",
	[CONTROL_CMD_RESTART] = "restart",
};

static void
one(const char *line, size_t len)
{
	struct control_req r;
	const char *why = NULL, *t;
	json_t *v;

	if (control_parse(line, len, &r, &why) < 0) {
		if (why == NULL || (strncmp(why, "malformed request: ", 19) !=
		    0 && strncmp(why, "unsupported protocol version: ", 30) !=
		    0) || r.json != NULL || r.name != NULL || r.target != NULL)
			abort();
		return;
	}
	if (!json_is_object(r.json) || r.name == NULL ||
	    (r.wait != 0 && r.wait != 1))
		abort();
	v = json_object_get(r.json, "v");
	if (!json_is_integer(v) || json_integer_value(v) != CONTROL_VERSION)
		abort();
	if (strcmp(r.name, json_string_value(json_object_get(r.json,
	    "cmd"))) != 0)
		abort();
	if (r.cmd == CONTROL_CMD_UNKNOWN) {
		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
			if (strcmp(r.name, names[i]) == 0)
				abort();
	} else if ((unsigned)r.cmd >= sizeof names / sizeof names[0] ||
	    strcmp(r.name, names[r.cmd]) != 0)
		abort();
	t = json_string_value(json_object_get(r.json, "target"));
	if (r.target != t && (r.target == NULL || t == NULL ||
	    strcmp(r.target, t) != 0))
		abort();
	control_req_free(&r);
	if (r.json != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *nl;
	size_t len;
	char *line;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		len = (size_t)((nl != NULL ? nl : end) - p);
		if (len > CONTROL_LINE_MAX)
			break;
		/* A copy of exactly len bytes, so that reading past the
		 * line is caught. */
		if ((line = malloc(len > 0 ? len : 1)) == NULL)
			abort();
		memcpy(line, p, len);
		one(line, len);
		free(line);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return 0;
}
