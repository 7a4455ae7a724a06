/*
 * fuzz_config.c: the configuration parser (config.c, tree.c) on any text.
 *
 * The input is the main file, then optionally fragments, each after a
 * line "#%fragment" (a YAML comment, so a seed stays a valid file).  The
 * fragments are written to a directory of this process's own as f0.yaml,
 * f1.yaml, ... and the main text is parsed as if it lay beside them, so
 * `include: f*.yaml` reads them.  An `include:` glob that could leave that
 * directory (absolute, or with "..") is not run: the fuzzer must not read
 * the machine's files.  A configuration that parses must also travel to a
 * worker: each loop is sent with msg_send_loop() and read back with
 * msg_conf_add(), which must accept it.  Every task's `config:` is then
 * checked against a fixed settings table (schema_check_info(), schema.c)
 * with a setting of every type, as if each task's plugin declared it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "errlist.h"
#include "inspect.h"
#include "msg.h"
#include "schema.h"
#include "tree.h"

#define SEPARATOR	"\n#%fragment\n"
#define FRAGMENTS_MAX	4

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	dir[64];
static char	main_name[96];

static void
remove_dir(void)
{
	char path[128];
	int i;

	for (i = 0; i < FRAGMENTS_MAX; i++) {
		snprintf(path, sizeof path, "%s/f%d.yaml", dir, i);
		unlink(path);
	}
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof dir, "%s/loopd-fuzz-XXXXXX", tmp != NULL &&
	    strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("fuzz_config: mkdtemp");
		abort();
	}
	snprintf(main_name, sizeof main_name, "%s/loopd.yaml", dir);
	atexit(remove_dir);
	return 0;
}

/* What the schema check holds every task to: each type, a bounded int,
 * an enum, required settings. */
static char *modes[] = { "fast", "slow", "auto" };
static char *one_value[] = { "only" };

static struct inspect_setting settings[] = {
	{ "host", LOOPD_TYPE_STRING, 1, 0, 0, NULL, 0, NULL, "" },
	{ "port", LOOPD_TYPE_INT, 0, 1, 65535, NULL, 0, "7000", "" },
	{ "offset", LOOPD_TYPE_INT, 0, INT64_MIN, INT64_MAX, NULL, 0, NULL,
	    "" },
	{ "verbose", LOOPD_TYPE_BOOL, 0, 0, 0, NULL, 0, "false", "" },
	{ "interval", LOOPD_TYPE_DURATION, 1, 0, 0, NULL, 0, NULL, "" },
	{ "mode", LOOPD_TYPE_ENUM, 0, 0, 0, modes, 3, "auto", "" },
	{ "single", LOOPD_TYPE_ENUM, 0, 0, 0, one_value, 1, NULL, "" },
	{ "peers", LOOPD_TYPE_LIST, 0, 0, 0, NULL, 0, NULL, "" },
	{ "labels", LOOPD_TYPE_MAP, 0, 0, 0, NULL, 0, NULL, "" },
};

static const struct inspect_info schema = {
	"fuzz", "1.0", "", 1, 1, 1, settings,
	sizeof settings / sizeof settings[0],
};

/* 1 when a glob stays in dir. */
static int
glob_confined(const struct conf_node *n)
{
	if (n->kind != CONF_SCALAR)
		return 1;	/* refused by the parser, never globbed */
	return n->value[0] != '/' && strstr(n->value, "..") == NULL;
}

/* 1 when every `include:` glob of text stays in dir. */
static int
includes_confined(const char *text, size_t len)
{
	struct conf_node *top, *inc;
	struct errlist el;
	size_t i;
	int ok = 1;

	errlist_init(&el, main_name);
	top = tree_load(text, len, &el);
	if (top != NULL && !tree_equal(top, top))
		abort();
	if ((inc = tree_map_get(top, "include")) != NULL) {
		if (inc->kind == CONF_SEQ) {
			for (i = 0; i < inc->n; i++)
				ok = ok && glob_confined(inc->items[i]);
		} else
			ok = glob_confined(inc);
	}
	tree_free(top);
	errlist_free(&el);
	return ok;
}

/* Write the fragments in text[0..len) and unlink the files of others. */
static void
write_fragments(const char *text, size_t len)
{
	const char *p = text, *end, *next;
	char path[128];
	FILE *f;
	int i;

	end = text != NULL ? text + len : NULL;
	for (i = 0; i < FRAGMENTS_MAX; i++) {
		snprintf(path, sizeof path, "%s/f%d.yaml", dir, i);
		if (p == NULL) {
			unlink(path);
			continue;
		}
		next = memmem(p, (size_t)(end - p), SEPARATOR,
		    sizeof SEPARATOR - 1);
		if ((f = fopen(path, "w")) == NULL)
			abort();
		fwrite(p, 1, (size_t)((next != NULL ? next : end) - p), f);
		fclose(f);
		p = next != NULL ? next + sizeof SEPARATOR - 1 : NULL;
	}
}

struct frames {
	struct msg_conf_reader	 r;
	int			 rc;
};

/* A message msg_send_loop() sends, straight into the worker's reader. */
static int
receive(void *ctx, const struct msg_out *m)
{
	struct frames *fr = ctx;
	const char *why = NULL;

	if (fr->rc != 0) {
		fprintf(stderr, "a message after MSG_GO, or after a refusal\n");
		abort();
	}
	if ((fr->rc = msg_conf_add(&fr->r, m->p, m->len, &why)) < 0) {
		fprintf(stderr, "the worker refused its configuration: %s\n",
		    why);
		abort();
	}
	return 0;
}

/* Every loop of conf, sent and read back. */
static void
round_trip(const struct conf *conf)
{
	const struct task_conf **tasks;
	const struct loop_conf *l;
	struct frames fr;
	size_t i, j;

	for (i = 0; i < conf->nloops; i++) {
		l = &conf->loops[i];
		if ((tasks = calloc(l->ntasks + 1, sizeof *tasks)) == NULL)
			return;
		for (j = 0; j < l->ntasks; j++)
			tasks[j] = &l->tasks[j];
		memset(&fr, 0, sizeof fr);
		if (msg_send_loop(conf, l, NULL, tasks, l->ntasks, receive,
		    &fr) == 0 && fr.rc != 1) {
			fprintf(stderr, "the configuration did not end\n");
			abort();
		}
		if (fr.rc == 1 && (strcmp(fr.r.conf->loops[0].name,
		    l->name) != 0 || fr.r.conf->loops[0].ntasks != l->ntasks))
			abort();
		for (j = 0; fr.rc == 1 && j < l->ntasks; j++)
			if (!tree_equal(l->tasks[j].config,
			    fr.r.conf->loops[0].tasks[j].config))
				abort();
		config_free(fr.r.conf);
		free(tasks);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf_errors errs;
	const char *text = (const char *)data, *sep, *why;
	struct conf *conf;
	size_t len, i;
	uint64_t ms;
	char buf[256], *s;
	int rc;

	sep = memmem(text, size, SEPARATOR, sizeof SEPARATOR - 1);
	len = sep != NULL ? (size_t)(sep - text) : size;
	if (!includes_confined(text, len))
		return -1;
	write_fragments(sep != NULL ? sep + sizeof SEPARATOR - 1 : NULL,
	    sep != NULL ? size - len - (sizeof SEPARATOR - 1) : 0);

	memset(&errs, 0, sizeof errs);
	conf = config_parse_string(text, len, main_name, NULL, NULL, &errs);
	if (conf != NULL)
		round_trip(conf);
	for (i = 0; i < errs.n; i++)
		conf_error_format(&errs.v[i], buf, sizeof buf);
	conf_errors_free(&errs);
	if (conf != NULL) {
		memset(&errs, 0, sizeof errs);
		rc = schema_check_info(conf, &schema, &errs);
		if (rc == 0 && errs.n != 0)
			abort();
		for (i = 0; i < errs.n; i++)
			conf_error_format(&errs.v[i], buf, sizeof buf);
		conf_errors_free(&errs);
	}
	config_free(conf);

	/* Durations, on the whole input. */
	if ((s = strndup(text, size)) != NULL) {
		config_parse_duration(s, &ms, &why);
		free(s);
	}
	return 0;
}
