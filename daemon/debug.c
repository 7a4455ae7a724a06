/*
 * debug.c: slow callbacks and leaked handles, in debug mode (debug.h).
 *
 * The watchdog.  The loop thread stores the time of each tick in
 * w->tick_ns.  The watchdog thread wakes every quarter of slow_callback;
 * when the tick is overdue by more than slow_callback, one iteration of
 * the loop has run that long, and the watchdog asks for a sample of the
 * loop thread's stack: it moves w->state from IDLE to ASKED, then sends
 * DEBUG_SAMPLE_SIGNAL to the loop thread.  The handler, on the loop
 * thread, moves ASKED to SAMPLED after backtrace() filled the buffer; the
 * next tick, on the same thread, reads the buffer and goes back to IDLE.
 * A tick that finds ASKED (the signal is still on its way: the stall is
 * over) takes it back, so a late signal samples nothing.  Buffer and
 * state belong to the loop thread but for that one transition.
 *
 * The callback is the first frame outside libevent inward of the
 * outermost libevent frame (event_base_loop): what libevent called.
 */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "crash.h"
#include "debug.h"
#include "executor.h"
#include "log.h"
#include "monotime.h"
#include "symbolize.h"

#define DEBUG_FRAMES	64

enum { WATCH_IDLE, WATCH_ASKED, WATCH_SAMPLED };

struct debug_watch {
	struct task_host	*host;
	pthread_t		 loop_thread;
	pthread_t		 thread;
	uint64_t		 period_ns, slow_ns;
	_Atomic uint64_t	 tick_ns;	/* the loop's last tick */
	_Atomic int		 state;
	_Atomic int		 quit;
	uint64_t		 asked_tick;	/* watchdog: stall sampled */
	/* Loop thread (the handler runs there too). */
	void			*frames[DEBUG_FRAMES];
	int			 nframes;
	void			*pc;
	int			 running;	/* *host->running then */
	uint64_t		 seen_reports;	/* host->slow_reports */
};

/* The handler finds its watch here: signals carry no context. */
static struct debug_watch *debug_the_watch;

/* ---- names ------------------------------------------------------------ */

/* The function and source of one address, into a record. */
static void
debug_add_name(json_t *r, void *addr, int is_return, const char *key,
    const char *srckey)
{
	json_t *f, *fr;
	const char *fn, *src;
	char buf[64];

	f = symbolize_addrs(&addr, 1, is_return ? 0 : 1);
	fr = json_array_get(f, 0);
	if ((fn = json_string_value(json_object_get(fr, "function"))) == NULL) {
		snprintf(buf, sizeof buf, "%p", addr);
		fn = buf;
	}
	log_add(r, key, fn);
	if ((src = json_string_value(json_object_get(fr, "source"))) != NULL)
		log_add(r, srckey, src);
	json_decref(f);
}

static json_t *
debug_slow_record(struct task_host *host, uint64_t ns, const char *via,
    const char *task)
{
	json_t *r;

	r = log_record(LOOPD_LOG_WARNING, "slow callback in loop '%s': it ran "
	    "for %llu ms (slow_callback is %llu ms)", host->loop,
	    (unsigned long long)(ns / 1000000),
	    (unsigned long long)(host->slow_ns / 1000000));
	log_add(r, "event", "slow_callback");
	if (task != NULL)
		log_add(r, "task", task);
	log_add(r, "via", via);
	log_add_int(r, "elapsed_ms", (long long)(ns / 1000000));
	log_add_int(r, "slow_callback_ms", (long long)(host->slow_ns / 1000000));
	host->slow_reports++;
	return r;
}

void
debug_slow_api(struct loopd_task *t, uint64_t ns)
{
	json_t *r;

	r = debug_slow_record(t->host, ns, "api", t->conf->name);
	debug_add_name(r, (void *)t->host->cb, 0, "callback",
	    "callback_source");
	log_emit(r);
}

/* ---- leaks --------------------------------------------------------------- */

void
debug_report_leaks(struct loopd_task *t)
{
	struct task_site v[TASK_SITES_MAX];
	void *addrs[TASK_SITES_MAX];
	size_t i, n, total;
	json_t *frames, *fr, *r;
	const char *fn, *off, *src;
	char *list = NULL, *more;
	size_t len = 0;
	FILE *f;

	total = api_open_sites(t, v, TASK_SITES_MAX);
	n = total < TASK_SITES_MAX ? total : TASK_SITES_MAX;
	total += executor_open_sites(t->host->exec, t, v + n,
	    TASK_SITES_MAX - n);
	n = total < TASK_SITES_MAX ? total : TASK_SITES_MAX;
	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		addrs[i] = v[i].site;
	frames = symbolize_addrs(addrs, n, 0);
	if ((f = open_memstream(&list, &len)) == NULL) {
		json_decref(frames);
		return;
	}
	for (i = 0; i < n; i++) {
		fr = json_array_get(frames, i);
		fn = json_string_value(json_object_get(fr, "function"));
		off = json_string_value(json_object_get(fr, "symbol_offset"));
		src = json_string_value(json_object_get(fr, "source"));
		fprintf(f, "%s%s ", i ? "; " : "", v[i].kind);
		if (fn != NULL)
			fprintf(f, "%s+%s", fn, off ? off : "?");
		else
			fprintf(f, "%p", addrs[i]);
		if (src != NULL)
			fprintf(f, " (%s)", src);
	}
	fclose(f);
	more = NULL;
	if (total > n && asprintf(&more, " and %zu more", total - n) < 0)
		more = NULL;
	r = log_record(LOOPD_LOG_WARNING, "task '%s' ended with %zu handle%s "
	    "open: %s%s", t->conf->name, total, total == 1 ? "" : "s",
	    list ? list : "", more ? more : "");
	log_add(r, "event", "resource_leak");
	log_add(r, "task", t->conf->name);
	log_add_int(r, "open", (long long)total);
	log_add(r, "sites", list);
	log_emit(r);
	free(more);
	free(list);
	json_decref(frames);
}

/* ---- the watchdog ---------------------------------------------------------- */

static void
debug_sample(int sig, siginfo_t *si, void *context)
{
	struct debug_watch *w = debug_the_watch;
	int asked = WATCH_ASKED, saved = errno;

	if (w == NULL || !pthread_equal(pthread_self(), w->loop_thread) ||
	    atomic_load(&w->state) != WATCH_ASKED)
		return;
	w->nframes = backtrace(w->frames, DEBUG_FRAMES);
	w->pc = crash_pc(context);
	w->running = *w->host->running;
	atomic_compare_exchange_strong(&w->state, &asked, WATCH_SAMPLED);
	errno = saved;
}

static void *
debug_watch_main(void *arg)
{
	struct debug_watch *w = arg;
	uint64_t step = w->slow_ns / 4, now, tick;
	struct timespec ts;
	int idle;

	if (step < 1000000)
		step = 1000000;
	ts.tv_sec = (time_t)(step / 1000000000u);
	ts.tv_nsec = (long)(step % 1000000000u);
	while (!atomic_load(&w->quit)) {
		nanosleep(&ts, NULL);
		now = monotime_ns();
		tick = atomic_load(&w->tick_ns);
		if (tick == w->asked_tick ||
		    now < tick + w->period_ns + w->slow_ns)
			continue;
		idle = WATCH_IDLE;
		if (atomic_compare_exchange_strong(&w->state, &idle,
		    WATCH_ASKED)) {
			w->asked_tick = tick;
			pthread_kill(w->loop_thread, DEBUG_SAMPLE_SIGNAL);
		}
	}
	return NULL;
}

static int
debug_in_libevent(void *addr)
{
	Dl_info di;
	const char *base;

	if (dladdr(addr, &di) == 0 || di.dli_fname == NULL)
		return 0;
	base = strrchr(di.dli_fname, '/');
	base = base ? base + 1 : di.dli_fname;
	return strncmp(base, "libevent", 8) == 0;
}

/* addr is in loopd's own executable. */
static int
debug_in_loopd(void *addr)
{
	Dl_info di, self;

	return dladdr(addr, &di) != 0 && dladdr((void *)debug_in_loopd,
	    &self) != 0 && di.dli_fbase == self.dli_fbase;
}

/* Frame i (first is where the signal hit; later ones are return
 * addresses, whose call is the byte before) is libevent's code. */
static int
debug_frame_in_libevent(const struct debug_watch *w, int first, int i)
{
	return debug_in_libevent(i > first ? (char *)w->frames[i] - 1 :
	    w->frames[i]);
}

/* The sampled stall, said: which function libevent had called. */
static void
debug_watch_report(struct debug_watch *w, uint64_t late_ns)
{
	struct symbolize_blame b;
	json_t *frames, *fr, *r;
	const char *fn, *src;
	int first = 0, i, out = -1, cb = -1;
	char buf[64];

	/* From where the signal hit, as crash.c writes a stack. */
	for (i = 0; i < w->nframes && w->frames[i] != w->pc; i++)
		;
	first = i < w->nframes ? i : 0;
	for (i = w->nframes - 1; i >= first && out < 0; i--)
		if (debug_frame_in_libevent(w, first, i))
			out = i;
	if (out < 0)
		return;
	for (i = out; i > first && debug_frame_in_libevent(w, first, i - 1);
	    i--)
		;
	if (i == first)
		return;		/* in libevent itself, no callback */
	i--;			/* what libevent called */
	cb = i - first;
	frames = symbolize_addrs(w->frames + first,
	    (size_t)(w->nframes - first), 1);
	fr = json_array_get(frames, (size_t)cb);
	if (symbolize_blame(frames, w->host->loop_conf, &b) < 0)
		memset(&b, 0, sizeof b);
	/* Neither a plugin's code nor loopd's: libevent waiting (a loop
	 * that was only descheduled), or a library's; nothing to name. */
	if (b.plugin == NULL && !debug_in_loopd(w->frames[first + cb])) {
		json_decref(frames);
		return;
	}
	r = debug_slow_record(w->host, late_ns, "libevent",
	    b.task ? b.task->name : NULL);
	if ((fn = json_string_value(json_object_get(fr, "function"))) ==
	    NULL) {
		snprintf(buf, sizeof buf, "%p", w->frames[first + cb]);
		fn = buf;
	}
	log_add(r, "callback", fn);
	if ((src = json_string_value(json_object_get(fr, "source"))) != NULL)
		log_add(r, "callback_source", src);
	if (b.plugin != NULL && b.task == NULL)
		log_add(r, "callback_plugin", b.plugin);
	log_emit(r);
	json_decref(b.suspects);
	json_decref(frames);
}

struct debug_watch *
debug_watch_new(struct task_host *host, uint64_t period_ns)
{
	struct debug_watch *w;
	struct sigaction sa = { .sa_sigaction = debug_sample,
	    .sa_flags = SA_SIGINFO | SA_RESTART };
	void *warm[2];
	int err = 0;

	if (debug_the_watch != NULL) {
		errno = EBUSY;
		return NULL;
	}
	if ((w = calloc(1, sizeof *w)) == NULL)
		return NULL;
	w->host = host;
	w->loop_thread = pthread_self();
	w->period_ns = period_ns;
	w->slow_ns = host->slow_ns;
	atomic_init(&w->tick_ns, monotime_ns());
	atomic_init(&w->state, WATCH_IDLE);
	atomic_init(&w->quit, 0);
	backtrace(warm, 2);	/* loads the unwinder outside the handler */
	sigemptyset(&sa.sa_mask);
	debug_the_watch = w;
	if (sigaction(DEBUG_SAMPLE_SIGNAL, &sa, NULL) < 0 ||
	    (err = pthread_create(&w->thread, NULL, debug_watch_main, w)) !=
	    0) {
		if (err != 0)
			errno = err;
		debug_the_watch = NULL;
		free(w);
		return NULL;
	}
	return w;
}

void
debug_watch_tick(struct debug_watch *w, uint64_t late_ns)
{
	int asked = WATCH_ASKED;

	atomic_store(&w->tick_ns, monotime_ns());
	if (atomic_load(&w->state) == WATCH_SAMPLED) {
		/* An API callback's own timing said it (task_leave). */
		if (w->running < 0)
			debug_watch_report(w, late_ns);
		atomic_store(&w->state, WATCH_IDLE);
	} else
		atomic_compare_exchange_strong(&w->state, &asked, WATCH_IDLE);
	if (late_ns > w->slow_ns && w->host->slow_reports == w->seen_reports) {
		json_t *r = log_record(LOOPD_LOG_WARNING, "loop '%s' lagged "
		    "%llu ms behind its tick", w->host->loop,
		    (unsigned long long)(late_ns / 1000000));

		log_add(r, "event", "loop_lag");
		log_add_int(r, "lag_ms", (long long)(late_ns / 1000000));
		log_add_int(r, "slow_callback_ms",
		    (long long)(w->slow_ns / 1000000));
		log_emit(r);
	}
	w->seen_reports = w->host->slow_reports;
}

void
debug_watch_free(struct debug_watch *w)
{
	struct sigaction sa = { .sa_handler = SIG_IGN };

	if (w == NULL)
		return;
	atomic_store(&w->quit, 1);
	pthread_join(w->thread, NULL);
	sigemptyset(&sa.sa_mask);
	sigaction(DEBUG_SAMPLE_SIGNAL, &sa, NULL);
	debug_the_watch = NULL;
	free(w);
}
