/*
 * fuzz_seeds.c: writes the generated seeds of the binary corpora, once.
 *
 *	fuzz_seeds SRCDIR
 *
 * reads SRCDIR/conf/loopd.yaml and writes valid messages, as the
 * supervisor and a worker build them, into SRCDIR/tests/fuzz/frame,
 * ipc and msgconf (files gen-*).  The files are committed; run it again
 * only when a message changes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "msg.h"
#include "task.h"

static const char *src;

static void
save(const char *target, const char *name, const void *p, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/tests/fuzz/%s/gen-%s", src, target,
	    name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, len, f) != len ||
	    fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* A frame seed: the task count and last state byte, then the body. */
static void
save_frame(const char *name, int ntasks, int last, struct msg_out *m)
{
	uint8_t *b = malloc(m->len + 1);

	b[0] = (uint8_t)(ntasks | last << 3);
	memcpy(b + 1, m->p, m->len);
	save("frame", name, b, m->len + 1);
	free(b);
}

/* An ipc seed: frames with their 4-byte big-endian lengths. */
static void
put_ipc(uint8_t *b, size_t *off, const struct msg_out *m)
{
	b[(*off)++] = (uint8_t)(m->len >> 24);
	b[(*off)++] = (uint8_t)(m->len >> 16);
	b[(*off)++] = (uint8_t)(m->len >> 8);
	b[(*off)++] = (uint8_t)m->len;
	memcpy(b + *off, m->p, m->len);
	*off += m->len;
}

static void
frames(void)
{
	struct msg_out m = { 0 }, m2 = { 0 };
	uint8_t b[4096];
	size_t off = 0;

	msg_begin(&m, MSG_LOG);
	msg_put_int(&m, LOOPD_LOG_INFO);
	msg_put_str(&m, "2026-11-25T10:38:50.652234Z", 0);
	msg_put_str(&m, "listening on 127.0.0.1:7000", 0);
	msg_put_int(&m, 0);
	msg_put_int(&m, 2);
	msg_put_str(&m, "port", 0);
	msg_put_int(&m, 0);
	msg_put_int(&m, 7000);
	msg_put_str(&m, "event", 0);
	msg_put_int(&m, 1);
	msg_put_str(&m, "loop_start", 0);
	save_frame("log", 2, 0, &m);
	put_ipc(b, &off, &m);

	msg_begin(&m2, MSG_LOG);
	msg_put_int(&m2, LOOPD_LOG_WARNING);
	msg_put_str(&m2, "2026-11-25T10:38:51.000001Z", 0);
	msg_put_str(&m2, "dropped 12 records", 0);
	msg_put_int(&m2, -1);
	msg_put_int(&m2, 2);
	msg_put_str(&m2, "event", 0);
	msg_put_int(&m2, 1);
	msg_put_str(&m2, "log_rate_limited", 0);
	msg_put_str(&m2, "dropped", 0);
	msg_put_int(&m2, 0);
	msg_put_int(&m2, 12);
	save_frame("log-rate", 1, 0, &m2);
	put_ipc(b, &off, &m2);
	save("ipc", "two-logs", b, off);

	msg_begin(&m, MSG_STATE);
	msg_put_int(&m, 1);
	msg_put_int(&m, TASK_RUNNING);
	msg_put_str(&m, "1.0", 0);
	msg_put_str(&m, "", 0);
	msg_put_str(&m, "", 0);
	save_frame("state-running", 2, TASK_STARTING, &m);
	off = 0;
	put_ipc(b, &off, &m);
	b[off++] = 0;		/* and a header cut short */
	b[off++] = 0;
	save("ipc", "state-cut", b, off);

	msg_begin(&m, MSG_STATE);
	msg_put_int(&m, 0);
	msg_put_int(&m, TASK_FAILED);
	msg_put_str(&m, "2.1", 0);
	msg_put_str(&m, "io", 0);
	msg_put_str(&m, "connection refused", 0);
	save_frame("state-failed", 1, TASK_RUNNING, &m);

	msg_begin(&m, MSG_DROPPED);
	msg_put_int(&m, 3);
	save_frame("dropped", 1, 0, &m);

	msg_put_reconfigured(&m, 1, 1);
	save_frame("reconfigured", 2, 0, &m);

	msg_begin(&m, MSG_LISTEN);
	msg_put_int(&m, 0);
	msg_put_str(&m, "127.0.0.1", 0);
	msg_put_int(&m, 7000);
	msg_put_int(&m, 128);
	save_frame("listen", 1, 0, &m);

	/* Cut at the edges: a last string without its NUL, a length past
	 * the end, an integer cut short. */
	msg_begin(&m, MSG_LOG);
	msg_put_int(&m, LOOPD_LOG_INFO);
	msg_put_str(&m, "2026-11-25T10:38:50.652234Z", 0);
	m.len--;
	save_frame("edge-no-nul", 1, 0, &m);
	m.p[11] = 0x7f;		/* type, int, tag: the length */
	save_frame("edge-past-end", 1, 0, &m);
	msg_begin(&m, MSG_DROPPED);
	msg_put_int(&m, 3);
	m.len -= 2;
	save_frame("edge-int-cut", 1, 0, &m);

	/* A length over the limit. */
	memcpy(b, "\0\x10\0\0", 4);
	save("ipc", "too-long", b, 4);
	msg_out_free(&m);
	msg_out_free(&m2);
}

/* The configuration messages of one loop, with 2-byte lengths. */
struct conf_seed {
	uint8_t		 b[65536];
	size_t		 off;
};

static int
collect(void *ctx, const struct msg_out *m)
{
	struct conf_seed *s = ctx;

	if (m->len > 0xffff || s->off + 2 + m->len > sizeof s->b)
		return -1;
	s->b[s->off++] = (uint8_t)m->len;
	s->b[s->off++] = (uint8_t)(m->len >> 8);
	memcpy(s->b + s->off, m->p, m->len);
	s->off += m->len;
	return 0;
}

static void
confs(void)
{
	static struct conf_seed s;
	const struct task_conf *tasks[8];
	struct conf_errors errs = { 0 };
	struct loop_conf *l;
	struct conf *conf;
	char path[4096], name[64];
	size_t i, j;

	snprintf(path, sizeof path, "%s/conf/loopd.yaml", src);
	if ((conf = config_parse_file(path, "/usr/lib/loopd/plugins", NULL,
	    &errs)) == NULL) {
		fprintf(stderr, "%s does not parse\n", path);
		exit(1);
	}
	for (i = 0; i < conf->nloops; i++) {
		l = &conf->loops[i];
		for (j = 0; j < l->ntasks && j < 8; j++)
			tasks[j] = &l->tasks[j];
		s.off = 0;
		if (msg_send_loop(conf, l, NULL, tasks, j, collect, &s) < 0)
			exit(1);
		snprintf(name, sizeof name, "%s", l->name);
		save("msgconf", name, s.b, s.off);
		/* Then a new slot, and a new config for task 0. */
		if (msg_send_task(j, &l->tasks[0], collect, &s) < 0 ||
		    msg_send_reconfigure(0, l->tasks[0].config, collect,
		    &s) < 0)
			exit(1);
		snprintf(name, sizeof name, "%s-later", l->name);
		save("msgconf", name, s.b, s.off);
		/* The MSG_LOOP alone, its last byte cut, and its length. */
		if (i == 0) {
			s.b[0] = (uint8_t)(s.b[0] - 1);
			save("msgconf", "edge-loop-cut", s.b,
			    2 + (size_t)s.b[0] + ((size_t)s.b[1] << 8));
		}
	}
	config_free(conf);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_seeds SRCDIR\n");
		return 2;
	}
	src = argv[1];
	frames();
	confs();
	return 0;
}
