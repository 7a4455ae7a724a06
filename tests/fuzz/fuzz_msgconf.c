/*
 * fuzz_msgconf.c: the worker's reader of its configuration (msg.c).
 *
 * The input is a sequence of frames, each a two-byte little-endian
 * length and that many bytes of body.  They are fed to msg_conf_add() as
 * a worker does at start-up, until it says the configuration is complete
 * or refuses it; the frames after a complete one are what the supervisor
 * sends later: a MSG_TASK goes to msg_conf_add_task(), a MSG_RECONFIGURE
 * to msg_get_reconfigure().  What is accepted is walked whole.  A loop
 * may announce up to INT32_MAX task slots, which the worker takes as
 * said (the supervisor is trusted): its table is mapped and left
 * untouched, so one with more slots than SLOTS_MAX is read, but neither
 * walked nor grown, which would touch every page of it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "msg.h"
#include "tree.h"

#define SLOTS_MAX	65536

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Take the next frame from *p..end; 0 when there is none. */
static int
next_frame(const uint8_t **p, const uint8_t *end, const uint8_t **body,
    size_t *len)
{
	size_t n;

	if (end - *p < 2)
		return 0;
	n = (size_t)(*p)[0] | (size_t)(*p)[1] << 8;
	if ((size_t)(end - *p) - 2 < n)
		return 0;
	*body = *p + 2;
	*len = n;
	*p += 2 + n;
	return 1;
}

/* Read every string and node of the loop, as the worker will. */
static void
walk(const struct conf *conf)
{
	const struct loop_conf *l = &conf->loops[0];
	size_t i, n = 0;

	if (conf->path != NULL)
		n += strlen(conf->path);
	n += strlen(l->name);
	for (i = 0; i < l->ntasks; i++) {
		if (l->tasks[i].name == NULL)
			continue;	/* a slot not sent */
		n += strlen(l->tasks[i].name) + strlen(l->tasks[i].plugin) +
		    strlen(l->tasks[i].plugin_path);
		if (l->tasks[i].mark.file != NULL)
			n += strlen(l->tasks[i].mark.file);
		if (!tree_equal(l->tasks[i].config, l->tasks[i].config))
			abort();
	}
	if (n == SIZE_MAX)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg_conf_reader r = { 0 };
	const uint8_t *p = data, *end = data + size, *body;
	struct conf_node *config;
	const char *why;
	struct msg_in in;
	size_t len, slot, index;
	int rc = 0;

	while (rc == 0 && next_frame(&p, end, &body, &len))
		rc = msg_conf_add(&r, body, len, &why);
	if (rc == 1 && r.conf->loops[0].ntasks <= SLOTS_MAX) {
		walk(r.conf);
		while (next_frame(&p, end, &body, &len)) {
			if (msg_open(&in, body, len) == MSG_RECONFIGURE) {
				if (msg_get_reconfigure(&in, r.conf, &index,
				    &config) == 0 && (index >=
				    r.conf->loops[0].ntasks ||
				    !tree_equal(config, config)))
					abort();
			} else if (msg_conf_add_task(r.conf, body, len, &slot,
			    &why) == 0 && slot + 1 != r.conf->loops[0].ntasks)
				abort();
		}
		walk(r.conf);
	}
	config_free(r.conf);
	return 0;
}
