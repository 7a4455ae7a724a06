/*
 * main.c: the command line, and the order things start in.  Wiring only.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "creds.h"
#include "executor.h"
#include "inspect.h"
#include "loader.h"
#include "log.h"
#include "proc.h"
#include "sandbox.h"
#include "schema.h"
#include "supervisor.h"
#include "worker.h"

#define EXIT_USAGE	2
#define EXIT_CONFIG	78	/* EX_CONFIG */

static const char usage_text[] =
"Usage: loopd [OPTION]...\n"
"       loopd plugin inspect [--json] [-P DIR] FILE.so|NAME\n"
"Run the event loops and tasks that a YAML file describes, each loop in a\n"
"worker process of its own, each task an instance of a plugin (.so).\n"
"loopd stays in the foreground and logs JSON lines on stderr.\n"
"\n"
"Options:\n"
"  -c, --config FILE        read FILE (default " LOOPD_CONFIG_FILE ")\n"
"  -t, --check-config [FILE]\n"
"                           check FILE (or the -c file, or the default) and\n"
"                           exit: 0 when it is valid, 78 with one\n"
"                           FILE:LINE:COLUMN: message per problem when not;\n"
"                           each task's config: is checked against the\n"
"                           settings its plugin declares\n"
"  -v, --verbose            with --check-config: also list each loop's\n"
"                           sandbox profile and the system call groups it\n"
"                           allows\n"
"  -P, --plugin-dir DIR     load plugins from DIR, whatever the file says\n"
"                           (default " LOOPD_PLUGIN_DIR ")\n"
"  -f, --foreground         accepted for compatibility; loopd never forks\n"
"                           into the background\n"
"  -h, --help               show this help and exit\n"
"  -V, --version            show the version and plugin ABI and exit\n"
"\n"
"Commands:\n"
"  plugin inspect [--json] [-P DIR] FILE.so|NAME\n"
"                           print a plugin's name, version, ABI, description\n"
"                           and settings (NAME is looked up in DIR, default\n"
"                           " LOOPD_PLUGIN_DIR "), as text or JSON\n"
"\n"
"Signals:\n"
"  SIGTERM, SIGINT  cancel every task, wait up to shutdown.grace, then kill\n"
"                   what is left; a second one kills at once\n"
"  SIGHUP           reload the configuration, task by task\n"
"  SIGUSR1          reopen log.file (log.target: file), after a rotation\n"
"\n"
"Exit status:\n"
"  0   every task ended within the grace period\n"
"  1   tasks had to be killed, or failed, died or hung while loopd ran,\n"
"      or loopd could not run\n"
"  2   bad command line\n"
"  3   restarts ran out and on_exhausted: exit stopped loopd\n"
"  78  the configuration is invalid\n"
"\n"
"Configuration reference, plugin API and log format: see loopd(8) and the\n"
"README.\n";

struct options {
	const char	*config;
	const char	*plugin_dir;
	int		 check;
	int		 verbose;
	int		 worker;
	const char	*inspect;	/* INSPECT_ARG's file */
	const char	*inspect_as;	/* INSPECT_AS_ARG's ids, or NULL */
};

static void	usage_error(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2), noreturn));

static void
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("loopd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'loopd --help' for more information.\n", stderr);
	exit(EXIT_USAGE);
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config",		required_argument, NULL, 'c' },
		{ "check-config",	no_argument,	   NULL, 't' },
		{ "plugin-dir",		required_argument, NULL, 'P' },
		{ "verbose",		no_argument,	   NULL, 'v' },
		{ "foreground",		no_argument,	   NULL, 'f' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ "version",		no_argument,	   NULL, 'V' },
		{ &PROC_WORKER_ARG[2],	no_argument,	   NULL, 'W' },
		{ &INSPECT_ARG[2],	required_argument, NULL, 'I' },
		{ &INSPECT_AS_ARG[2],	required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "c:tP:fhvV", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 't':
			o->check = 1;
			break;
		case 'W':
			o->worker = 1;
			break;
		case 'I':
			o->inspect = optarg;
			break;
		case 'A':
			o->inspect_as = optarg;
			break;
		case 'P':
			o->plugin_dir = optarg;
			break;
		case 'f':
			break;
		case 'v':
			o->verbose = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		case 'V':
			printf("loopd %s (plugin ABI %d.%d)\n", LOOPD_VERSION,
			    LOOPD_PLUGIN_ABI_MAJOR, LOOPD_PLUGIN_ABI_MINOR);
			exit(0);
		default:
			fputs("Try 'loopd --help' for more information.\n",
			    stderr);
			exit(EXIT_USAGE);
		}
	}
	/* A worker's title, for ps: loop=NAME. */
	if (o->worker && optind < argc)
		optind++;
	/* -t FILE, as nginx -t and earlier loopd take it. */
	if (o->check && optind < argc) {
		if (o->config != NULL)
			usage_error("-t %s and -c name two files: give one",
			    argv[optind]);
		o->config = argv[optind++];
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
	if (o->verbose && !o->check && !o->worker)
		usage_error("--verbose goes with --check-config");
	if (o->config == NULL)
		o->config = LOOPD_CONFIG_FILE;
}

/*
 * Whatever of fds 0-2 is closed is opened on /dev/null before anything
 * else opens a file, or the first socket or pipe would become "stderr".
 */
static void
std_fds_open(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 &&
		    open("/dev/null", O_RDWR) != fd)
			exit(1);	/* nowhere to say why */
}

/* Where this executable is, for starting workers.  (Should an upgrade put
 * another binary there, its workers refuse a supervisor of another
 * protocol version: see MSG_PROTOCOL.) */
static int
self_path(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);

	if (n <= 0 || (size_t)n >= len - 1)
		return -1;
	buf[n] = '\0';
	return 0;
}

static void
print_problems(const struct conf_errors *errs, const char *path)
{
	char line[1024];
	size_t i;

	for (i = 0; i < errs->n; i++) {
		conf_error_format(&errs->v[i], line, sizeof line);
		log_plain("%s", line);
	}
	if (errs->n == 0)
		log_plain("%s: out of memory", path);
	else
		log_plain("%s: %zu problem%s found", path, errs->n,
		    errs->n == 1 ? "" : "s");
}

/*
 * Every plugin file must be there and trusted, and every task's config:
 * must fit the settings its plugin declares (read in a child process:
 * schema.h).  Returns 0, or -1 after printing the problems.
 */
static int
check_plugins(const struct conf *conf)
{
	struct conf_errors errs = { 0 };
	struct creds c;
	char exe[PATH_MAX], msg[256];

	if (self_path(exe, sizeof exe) < 0) {
		log_plain("loopd: cannot find its own executable in "
		    "/proc/self/exe, to inspect plugins: is /proc mounted?");
		return -1;
	}
	/* The plugins' constructors run as the workers would: as `user:`,
	 * when root (check_user() has resolved it once already). */
	if (creds_resolve(conf, &c, msg, sizeof msg) < 0)
		memset(&c, 0, sizeof c);
	if (schema_check(conf, exe, &c, SCHEMA_MISSING, NULL, &errs) == 0)
		return 0;
	print_problems(&errs, conf->path);
	conf_errors_free(&errs);
	return -1;
}

/*
 * A pool larger than its kind needs is worth a warning, not a refusal:
 * past CPUs + 1, cpu-bound threads only take turns; past 2 x CPUs (32 at
 * most), io threads mostly add memory and contention.
 */
static void
warn_executors(const struct conf *conf)
{
	const struct executor_conf *ec;
	long ncpu = executor_ncpu();
	unsigned cap;
	size_t i;

	for (i = 0; i < conf->nloops; i++) {
		ec = &conf->loops[i].executor;
		cap = executor_cap(ec->kind, ncpu);
		if (ec->workers <= cap)
			continue;
		log_plain("%s:%d:%d: warning: loop '%s': executor.workers %u is "
		    "over-provisioned for kind %s on %ld CPU%s (at most %u): %s",
		    ec->mark.file, ec->mark.line, ec->mark.col,
		    conf->loops[i].name, ec->workers,
		    config_exec_kind_name(ec->kind), ncpu, ncpu == 1 ? "" : "s",
		    cap, ec->kind == CONF_EXEC_CPU ? "cpu-bound threads beyond "
		    "CPUs + 1 only take turns on the same CPUs" : "io threads "
		    "beyond 2 x CPUs (32 at most) mostly add memory and lock "
		    "contention; raise the queue instead, or use workers: auto");
	}
}

/*
 * Debug mode with a very low slow_callback logs a record for nearly every
 * busy turn of the loop: allowed, but said.  LOOPD_DEBUG=1 counts.
 */
static void
warn_slow_callback(const struct conf *conf)
{
	const struct loop_conf *lc;
	const char *env = getenv("LOOPD_DEBUG");
	size_t i;

	for (i = 0; i < conf->nloops; i++) {
		lc = &conf->loops[i];
		if (!(lc->debug || (env != NULL && strcmp(env, "1") == 0)) ||
		    lc->slow_callback_ms >= CONF_SLOW_CALLBACK_WARN_MS)
			continue;
		log_plain("%s:%d:%d: warning: loop '%s': slow_callback %llums "
		    "with debug mode on: below %dms nearly every busy turn of "
		    "the loop is logged as slow, which floods the log",
		    lc->slow_mark.file, lc->slow_mark.line, lc->slow_mark.col,
		    lc->name, (unsigned long long)lc->slow_callback_ms,
		    CONF_SLOW_CALLBACK_WARN_MS);
	}
}

/* `user:` names a user (and `group:` a group) of this system; 78 if not. */
static void
check_user(const struct conf *conf)
{
	struct conf_error e = { conf->user_mark, NULL };
	struct creds c;
	char msg[256], line[512];

	if (creds_resolve(conf, &c, msg, sizeof msg) >= 0)
		return;
	e.msg = msg;
	conf_error_format(&e, line, sizeof line);
	log_plain("%s", line);
	log_plain("%s: 1 problem found", conf->path);
	exit(EXIT_CONFIG);
}

/* --verbose: each loop's sandbox, and what its profile allows. */
static void
list_sandboxes(const struct conf *conf)
{
	const struct sandbox_group *const *g;
	const struct sandbox_conf *sb;
	const char *const *call;
	size_t i, j, n;

	if (conf->user != NULL)
		printf("workers run as user %s%s%s\n", conf->user,
		    conf->group != NULL ? ", group " : "",
		    conf->group != NULL ? conf->group : "");
	for (i = 0; i < conf->nloops; i++) {
		sb = &conf->loops[i].sandbox;
		g = sandbox_groups(sb->profile, &n);
		printf("loop '%s': sandbox profile %s, no_new_privs %s%s\n",
		    conf->loops[i].name,
		    config_sandbox_profile_name(sb->profile),
		    sb->no_new_privs ? "true" : "false",
		    n > 0 ? "; allowed groups:" : " (no system call filter)");
		for (j = 0; j < n; j++) {
			printf("  %s: %s\n   ", g[j]->name, g[j]->what);
			for (call = g[j]->calls; *call != NULL; call++)
				printf(" %s", *call);
			putchar('\n');
		}
	}
}

static struct conf *
load_config(const struct options *o)
{
	struct conf_errors errs = { 0 };
	struct conf *conf;

	conf = config_parse_file(o->config, o->plugin_dir, LOOPD_PLUGIN_DIR,
	    &errs);
	if (conf != NULL)
		return conf;
	print_problems(&errs, o->config);
	conf_errors_free(&errs);
	return NULL;
}

/* log.target: file or journald, for the supervisor alone. */
static int
open_log_target(const struct conf *conf)
{
	if (conf->log_target == CONF_LOG_FILE &&
	    log_open_file(conf->log_file) < 0) {
		log_plain("loopd: cannot open the log file %s: %s",
		    conf->log_file, strerror(errno));
		return -1;
	}
	if (conf->log_target == CONF_LOG_JOURNALD &&
	    log_open_journald() < 0) {
		log_plain("loopd: log.target is journald, but "
		    "sd_journal_sendv() cannot be used: %s",
		    log_journald_error());
		return -1;
	}
	return 0;
}

/*
 * `loopd plugin inspect [--json] [-P DIR] FILE.so|NAME`: the descriptor,
 * read as --check-config reads it, in a child process.  A NAME (no slash,
 * no .so) is DIR/NAME.so.
 */
static int
plugin_command(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json",		no_argument,	   NULL, 'j' },
		{ "plugin-dir",		required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	struct inspect_result r = { 0 };
	const char *dir = LOOPD_PLUGIN_DIR, *arg;
	char exe[PATH_MAX], path[PATH_MAX];
	const char *paths[1];
	size_t len;
	json_t *o;
	int ch, json = 0;

	if (argc < 2 || strcmp(argv[1], "inspect") != 0)
		usage_error("plugin: expected 'inspect'");
	optind = 2;
	while ((ch = getopt_long(argc, argv, "jP:", longopts, NULL)) != -1) {
		if (ch == 'j')
			json = 1;
		else if (ch == 'P')
			dir = optarg;
		else
			usage_error("plugin inspect: bad option");
	}
	if (optind != argc - 1)
		usage_error("plugin inspect: give one FILE.so or NAME");
	arg = argv[optind];
	len = strlen(arg);
	if (strchr(arg, '/') != NULL || (len > 3 &&
	    strcmp(arg + len - 3, ".so") == 0))
		snprintf(path, sizeof path, "%s", arg);
	else
		snprintf(path, sizeof path, "%s/%s.so", dir, arg);
	if (self_path(exe, sizeof exe) < 0) {
		log_plain("loopd: cannot find its own executable in "
		    "/proc/self/exe: is /proc mounted?");
		return 1;
	}
	paths[0] = path;
	if (access(path, F_OK) < 0) {
		log_plain("loopd: %s: %s", path, strerror(errno));
		return 1;
	}
	inspect_run(exe, NULL, paths, 1, INSPECT_DEADLINE_MS, &r);
	if (!r.ok) {
		log_plain("loopd: %s (%s)", r.msg, r.type);
		inspect_result_free(&r);
		return 1;
	}
	if (json) {
		o = inspect_info_json(&r.info);
		json_object_set_new(o, "file", json_string(path));
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(o);
	} else
		inspect_print(stdout, path, &r.info);
	inspect_result_free(&r);
	return 0;
}

int
main(int argc, char **argv)
{
	struct options o = { 0 };
	struct supervisor_opts sopts;
	struct conf *conf;
	char exe[PATH_MAX];
	int rc;

	std_fds_open();
	if (argc > 1 && strcmp(argv[1], "plugin") == 0)
		return plugin_command(argc - 1, argv + 1);
	parse_options(argc, argv, &o);
	if (o.inspect != NULL)
		inspect_child_main(o.inspect, o.inspect_as);
	if (o.worker) {
		log_capture_libevent();
		return worker_main();
	}
	if ((conf = load_config(&o)) == NULL)
		return EXIT_CONFIG;
	check_user(conf);
	if (o.check) {
		if (check_plugins(conf) < 0) {
			config_free(conf);
			return EXIT_CONFIG;
		}
		warn_executors(conf);
		warn_slow_callback(conf);
		if (o.verbose)
			list_sandboxes(conf);
		printf("%s: configuration is valid\n", conf->path);
		config_free(conf);
		return 0;
	}
	/* The parse's scratch (the file's text, libyaml's buffers) goes back
	 * to the system: the supervisor idles with what it keeps. */
	malloc_trim(0);
	log_capture_libevent();
	log_set_level(conf->log_level);
	log_set_format(conf->log_format == CONF_LOG_TEXT ? LOG_FORMAT_TEXT :
	    LOG_FORMAT_JSON);
	if (open_log_target(conf) < 0) {
		config_free(conf);
		return 1;
	}
	if (self_path(exe, sizeof exe) < 0) {
		log_plain("loopd: cannot find its own executable in "
		    "/proc/self/exe: is /proc mounted?");
		config_free(conf);
		return 1;
	}
	sopts.path = o.config;
	sopts.plugin_dir = o.plugin_dir;
	sopts.default_plugin_dir = LOOPD_PLUGIN_DIR;
	sopts.schema = schema_cache_new();	/* NULL: no cache, still checked */
	rc = supervisor_run(conf, &sopts, exe);
	schema_cache_free(sopts.schema);
	return rc;
}
