/*
 * main.c: the command line, and the order things start in.  Wiring only.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "loader.h"
#include "log.h"
#include "supervisor.h"

#define EXIT_USAGE	2
#define EXIT_CONFIG	78	/* EX_CONFIG */

static const char usage_text[] =
"Usage: loopd [OPTION]...\n"
"Run the event loops and tasks that a YAML file describes, each loop in a\n"
"worker process of its own, each task an instance of a plugin (.so).\n"
"loopd stays in the foreground and logs JSON lines on stderr.\n"
"\n"
"Options:\n"
"  -c, --config FILE        read FILE (default " LOOPD_CONFIG_FILE ")\n"
"  -t, --check-config FILE  check FILE and exit: 0 when it is valid, 78 with\n"
"                           one FILE:LINE:COLUMN: message per problem when not\n"
"  -P, --plugin-dir DIR     load plugins from DIR, whatever the file says\n"
"                           (default " LOOPD_PLUGIN_DIR ")\n"
"  -f, --foreground         accepted for compatibility; loopd never forks\n"
"                           into the background\n"
"  -h, --help               show this help and exit\n"
"  -V, --version            show the version and plugin ABI and exit\n"
"\n"
"Signals:\n"
"  SIGTERM, SIGINT  cancel every task, wait up to shutdown.grace, then kill\n"
"                   what is left; a second one kills at once\n"
"  SIGHUP           logged; live reload is not available in this version\n"
"\n"
"Exit status:\n"
"  0   every task ended within the grace period\n"
"  1   tasks had to be killed, or loopd could not run\n"
"  2   bad command line\n"
"  78  the configuration is invalid\n"
"\n"
"Configuration reference, plugin API and log format: see loopd(8) and the\n"
"README.\n";

struct options {
	const char	*config;
	const char	*plugin_dir;
	int		 check;
};

static void
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config",		required_argument, NULL, 'c' },
		{ "check-config",	required_argument, NULL, 't' },
		{ "plugin-dir",		required_argument, NULL, 'P' },
		{ "foreground",		no_argument,	   NULL, 'f' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ "version",		no_argument,	   NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	o->config = LOOPD_CONFIG_FILE;
	while ((ch = getopt_long(argc, argv, "c:t:P:fhV", longopts, NULL)) !=
	    -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 't':
			o->config = optarg;
			o->check = 1;
			break;
		case 'P':
			o->plugin_dir = optarg;
			break;
		case 'f':
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
	if (optind < argc) {
		fprintf(stderr, "loopd: unexpected argument '%s'\n"
		    "Try 'loopd --help' for more information.\n", argv[optind]);
		exit(EXIT_USAGE);
	}
}

/*
 * Plugin files that are not there yet: worth a warning, not a refusal.
 * Plugin files that others could have written (loader_check_trust()): an
 * error each, and the configuration is refused (exit 78), as running it
 * would refuse those tasks.
 */
static void
warn_missing_plugins(const struct conf *conf)
{
	struct plugin_error perr;
	struct stat st;
	size_t i, j, bad = 0;

	for (i = 0; i < conf->nloops; i++)
		for (j = 0; j < conf->loops[i].ntasks; j++) {
			const struct task_conf *t = &conf->loops[i].tasks[j];

			if (stat(t->plugin_path, &st) < 0)
				log_plain("%s:%d:%d: warning: task '%s': plugin "
				    "file %s does not exist", t->mark.file,
				    t->mark.line, t->mark.col, t->name,
				    t->plugin_path);
			else if (loader_check_trust(t->plugin_path, &perr) < 0) {
				log_plain("%s:%d:%d: task '%s': %s",
				    t->mark.file, t->mark.line, t->mark.col,
				    t->name, perr.msg);
				bad++;
			}
		}
	if (bad == 0)
		return;
	log_plain("%s: %zu problem%s found", conf->path, bad,
	    bad == 1 ? "" : "s");
	exit(EXIT_CONFIG);
}

static struct conf *
load_config(const struct options *o)
{
	struct conf_errors errs = { 0 };
	struct conf *conf;
	char line[1024];
	size_t i;

	conf = config_parse_file(o->config, o->plugin_dir, LOOPD_PLUGIN_DIR,
	    &errs);
	if (conf != NULL)
		return conf;
	for (i = 0; i < errs.n; i++) {
		conf_error_format(&errs.v[i], line, sizeof line);
		log_plain("%s", line);
	}
	log_plain("%s: %zu problem%s found", o->config,
	    errs.n, errs.n == 1 ? "" : "s");
	conf_errors_free(&errs);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct options o = { 0 };
	struct conf *conf;
	int status;

	parse_options(argc, argv, &o);
	if ((conf = load_config(&o)) == NULL)
		return EXIT_CONFIG;
	if (o.check) {
		warn_missing_plugins(conf);
		printf("%s: configuration is valid\n", conf->path);
		config_free(conf);
		return 0;
	}
	log_capture_libevent();
	log_set_level(conf->log_level);
	log_set_format(conf->log_format == CONF_LOG_TEXT ? LOG_FORMAT_TEXT :
	    LOG_FORMAT_JSON);
	status = supervisor_run(conf);
	config_free(conf);
	return status;
}
