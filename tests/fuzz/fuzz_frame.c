/*
 * fuzz_frame.c: the supervisor's checks of what a worker sends (inbox.c
 * over msg.c), as supervisor.c calls them on each frame.
 *
 * The input's first byte gives the loop's task count (its low three
 * bits) and the last state the supervisor saw of the task (the next
 * three); the rest is the frame body, a message from the worker's
 * channel (MSG_LOG, MSG_STATE, MSG_DROPPED, MSG_RECONFIGURED) or its
 * socket channel (MSG_LISTEN).  Whatever is accepted must lie in range.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "inbox.h"
#include "log.h"
#include "msg.h"
#include "task.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "accepted: %s\n", what);
		abort();
	}
}

static void
frame_log(struct msg_in *in, size_t ntasks)
{
	struct inbox_log h;
	json_t *r;

	if (inbox_log(in, ntasks, &h) != NULL)
		return;
	check(h.task >= -1 && h.task < (int64_t)ntasks, "a task index");
	check(h.level >= LOOPD_LOG_DEBUG && h.level <= LOOPD_LOG_ERROR,
	    "a level");
	check(h.nfields >= 0 && h.nfields <= INBOX_FIELDS_MAX, "a count");
	r = json_object();
	json_object_set_new(r, "ts", json_stringn(h.ts, h.tslen));
	json_object_set_new(r, "msg", log_string(h.msg));
	if (inbox_log_fields(in, h.nfields, r) == NULL)
		check(json_object_size(r) == (size_t)h.nfields + 2,
		    "fields lost or doubled");
	json_decref(r);
}

static void
frame_state(struct msg_in *in, size_t ntasks, int last)
{
	struct inbox_state st;

	if (inbox_state(in, ntasks, &st) != NULL)
		return;
	check(st.task < ntasks, "a task index");
	check(st.state > TASK_STARTING && st.state <= TASK_FAILED, "a state");
	check(st.version != NULL && st.type != NULL && st.msg != NULL,
	    "a missing string");
	if (inbox_state_follows(last, st.state))
		check(last < TASK_DONE && st.state > last, "a state order");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct inbox_listen ls;
	struct msg_in in;
	size_t ntasks, n, task;
	int last, applied;

	if (size < 1)
		return -1;
	ntasks = data[0] & 7;
	last = (data[0] >> 3) & 7;
	switch (msg_open(&in, data + 1, size - 1)) {
	case MSG_LOG:
		frame_log(&in, ntasks);
		break;
	case MSG_STATE:
		frame_state(&in, ntasks, last);
		break;
	case MSG_DROPPED:
		if (inbox_dropped(&in, &n) == NULL)
			check(n >= 1, "no drop");
		break;
	case MSG_RECONFIGURED:
		if (inbox_reconfigured(&in, ntasks, &task, &applied) == NULL)
			check(task < ntasks, "a task index");
		break;
	case MSG_LISTEN:
		if (inbox_listen(&in, ntasks, &ls) == NULL)
			check(ls.task < ntasks && ls.address != NULL &&
			    ls.port >= 0 && ls.port <= 65535 &&
			    ls.backlog >= 1 && ls.backlog <= 65535,
			    "a socket request");
		break;
	default:
		break;
	}
	return 0;
}
