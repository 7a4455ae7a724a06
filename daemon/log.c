/*
 * log.c: log records as JSON objects, and the sink that writes them.
 *
 * Records are built here and nowhere else, so that every one has the same
 * first fields (ts, level, msg) and every string in it is valid UTF-8: a
 * plugin's message with quotes, newlines or broken bytes still makes one
 * valid JSON line (or one text line, escaped).
 *
 * The stderr writer owns the output: its fd, a bounded queue of whole lines
 * and the count of records dropped and not yet reported.  It never blocks
 * on a pipe or socket: what the output does not take waits in the queue,
 * and what does not fit in the queue is counted, then reported by one
 * notice record as soon as the notice itself fits.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "log.h"

/* The default sink: one line on stderr (or the file) in the format set,
 * or one journal entry. */
static void		 log_write_stderr(void *, json_t *);

static int		 min_level = LOOPD_LOG_INFO;
static enum log_format	 format = LOG_FORMAT_JSON;
static log_sink_fn	 sink = log_write_stderr;
static void		*sink_ctx;

/* How lines reach the output fd. */
enum out_kind {
	OUT_BLOCKING,	/* regular file, /dev/null...: write() as it comes */
	OUT_SOCKET,	/* send(MSG_DONTWAIT) on the shared description */
	OUT_PRIVATE,	/* our own O_NONBLOCK description of a pipe or tty */
};

/* The stderr writer.  pid is the process it belongs to: a forked child
 * must neither write its parent's queue nor touch its parent's base. */
static struct {
	int			 target;	/* as given; -1: fd 2 on first use */
	int			 fd;		/* written: target or own_fd */
	int			 own_fd;	/* opened here, or -1 */
	int			 broken;	/* the output failed for good */
	enum out_kind		 kind;
	pid_t			 pid;
	struct evbuffer		*queue;		/* whole lines, at most
						 * LOG_QUEUE_MAX bytes */
	size_t			 dropped;	/* not yet in a notice */
	size_t			 reported;	/* dropped and said so */
	struct event_base	*base;		/* NULL: not attached */
	struct event		*ev;		/* EV_WRITE on fd */
	int			 arming;
	int			 prefix;	/* "<N>" first: fd is journald's
						 * stream (JOURNAL_STREAM) */
	char			*path;		/* log_open_file()'s, or NULL */
	int			 file_fd;	/* opened from path, or -1 */
	void			*journal;	/* libsystemd, while in use */
	int			 (*sendv)(const struct iovec *, int);
} out = { .target = -1, .fd = -1, .own_fd = -1, .file_fd = -1 };

/* This process's id, read once (and again in a child of fork()): every
 * record names it, and getpid() is a system call. */
static atomic_int	 cached_pid;
static pthread_once_t	 pid_once = PTHREAD_ONCE_INIT;

static void
pid_forked(void)
{
	atomic_store_explicit(&cached_pid, 0, memory_order_relaxed);
}

static void
pid_hook(void)
{
	pthread_atfork(NULL, NULL, pid_forked);
}

static pid_t
log_pid(void)
{
	int pid;

	pthread_once(&pid_once, pid_hook);
	if ((pid = atomic_load_explicit(&cached_pid,
	    memory_order_relaxed)) == 0) {
		pid = (int)getpid();
		atomic_store_explicit(&cached_pid, pid, memory_order_relaxed);
	}
	return (pid_t)pid;
}

#define LOG_LIBSYSTEMD	"libsystemd.so.0"

static void	out_write_cb(evutil_socket_t, short, void *);

static const char *const level_names[] = {
	"debug", "info", "warning", "error",
};

void
log_set_level(int level)
{
	min_level = level;
}

int
log_level(void)
{
	return min_level;
}

void
log_set_sink(log_sink_fn fn, void *ctx)
{
	sink = fn ? fn : log_write_stderr;
	sink_ctx = fn ? ctx : NULL;
}

void
log_set_format(enum log_format f)
{
	format = f;
}

const char *
log_level_name(int level)
{
	if (level < LOOPD_LOG_DEBUG || level > LOOPD_LOG_ERROR)
		return "error";
	return level_names[level];
}

/* Length of the valid UTF-8 sequence at s, or 0 when it is not one. */
static size_t
utf8_seq(const unsigned char *s)
{
	size_t n, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Valid UTF-8 of s[0..len): invalid bytes become U+FFFD.  New string. */
static json_t *
utf8_json(const char *s, size_t len)
{
	static const char repl[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)s;
	size_t i, n, o = 0;
	char *buf;
	json_t *j;

	for (i = 0; i < len; i += n)
		if ((n = utf8_seq(p + i)) == 0 || i + n > len)
			break;
	if (i >= len)
		return json_stringn_nocheck(s, len);

	/* At most 3 output bytes for each input byte. */
	if ((buf = malloc(len * 3 + 1)) == NULL)
		return json_string("(out of memory)");
	for (i = 0; i < len; i += n) {
		if ((n = utf8_seq(p + i)) == 0 || i + n > len) {
			memcpy(buf + o, repl, 3);
			o += 3;
			n = 1;
		} else {
			memcpy(buf + o, s + i, n);
			o += n;
		}
	}
	j = json_stringn_nocheck(buf, o);
	free(buf);
	return j;
}

char *
log_cut(const char *s)
{
	size_t len = strlen(s);
	char *cut;

	if (len <= LOG_CUT_MAX)
		return NULL;
	if (asprintf(&cut, "%.*s... [truncated: %zu bytes in all]",
	    LOG_STRING_MAX, s, len) < 0)
		return NULL;
	return cut;
}

json_t *
log_string(const char *s)
{
	char *cut;
	json_t *j;

	/* A record must fit in one line and one IPC frame: cut it, and say
	 * so in the string itself. */
	if (strlen(s) <= LOG_CUT_MAX)
		return utf8_json(s, strlen(s));
	if ((cut = log_cut(s)) == NULL)
		return json_string("(out of memory)");
	j = utf8_json(cut, strlen(cut));
	free(cut);
	return j;
}

static json_t *
timestamp(void)
{
	struct timespec ts;
	struct tm tm;
	char buf[40];
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof buf - n, ".%06ldZ", ts.tv_nsec / 1000);
	return json_string(buf);
}

/* A new record with ts, level, msg and pid, whatever the threshold. */
static json_t *
record_new(int level, const char *msg)
{
	json_t *r;

	if ((r = json_object()) == NULL)
		return NULL;
	json_object_set_new(r, "ts", timestamp());
	json_object_set_new(r, "level", json_string(log_level_name(level)));
	json_object_set_new(r, "msg", log_string(msg));
	json_object_set_new(r, "pid", json_integer(log_pid()));
	return r;
}

json_t *
log_vrecord(int level, const char *fmt, va_list ap)
{
	json_t *r;
	char *msg;

	if (level < min_level)
		return NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	r = record_new(level, msg ? msg : fmt);
	free(msg);
	return r;
}

json_t *
log_record(int level, const char *fmt, ...)
{
	va_list ap;
	json_t *r;

	va_start(ap, fmt);
	r = log_vrecord(level, fmt, ap);
	va_end(ap);
	return r;
}

void
log_add(json_t *r, const char *key, const char *value)
{
	if (r != NULL && value != NULL)
		json_object_set_new(r, key, log_string(value));
}

void
log_add_int(json_t *r, const char *key, long long value)
{
	if (r != NULL)
		json_object_set_new(r, key, json_integer(value));
}

void
log_add_error(json_t *r, const char *type, const char *message)
{
	json_t *e;

	if (r == NULL)
		return;
	e = json_object();
	json_object_set_new(e, "type", log_string(type ? type : "error"));
	json_object_set_new(e, "message", log_string(message ? message : ""));
	json_object_set_new(r, "error", e);
}

void
log_emit(json_t *r)
{
	if (r == NULL)
		return;
	sink(sink_ctx, r);
	json_decref(r);
}

/* 0, or -1 when the output failed before all of p[0..n) was written. */
static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;	/* nowhere left to say it */
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* s with backslash and control characters escaped, so that it cannot
 * break the line or pass for another field's syntax. */
static void
text_escape(FILE *f, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p == '\r')
			fputs("\\r", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
}

/* A value that can be written as it is after "key=". */
static int
text_plain(const char *s)
{
	const unsigned char *p;

	if (*s == '\0')
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '=' ||
		    *p == '\\')
			return 0;
	return 1;
}

/* "TS LEVEL msg key=value ...": msg escaped, values plain when they are
 * safe, otherwise as compact JSON (which escapes what needs it). */
static char *
format_text(json_t *r)
{
	const char *key;
	json_t *v;
	char *line = NULL, *val;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&line, &len)) == NULL)
		return NULL;
	fprintf(f, "%s %s ", json_string_value(json_object_get(r, "ts")),
	    json_string_value(json_object_get(r, "level")));
	text_escape(f, json_string_value(json_object_get(r, "msg")));
	json_object_foreach(r, key, v) {
		if (!strcmp(key, "ts") || !strcmp(key, "level") ||
		    !strcmp(key, "msg"))
			continue;
		if (json_is_string(v) && text_plain(json_string_value(v))) {
			fprintf(f, " %s=%s", key, json_string_value(v));
			continue;
		}
		val = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		fprintf(f, " %s=%s", key, val ? val : "?");
		free(val);
	}
	fclose(f);
	return line;
}

/* The syslog priority of a record's level (sd-daemon(3), syslog(3)). */
static int
priority(json_t *r)
{
	static const int prio[] = { 7, 6, 4, 3 };
	const char *level = json_string_value(json_object_get(r, "level"));
	int i;

	for (i = LOOPD_LOG_DEBUG; i < LOOPD_LOG_ERROR; i++)
		if (level != NULL && strcmp(level, level_names[i]) == 0)
			return prio[i];
	return prio[LOOPD_LOG_ERROR];
}

/* The record as one line ending in a newline, *len bytes (no NUL), after
 * its "<N>" priority when the output is journald's stream.  New. */
static char *
format_line(json_t *r, size_t *len)
{
	char *line, *nl;
	size_t n, pre = out.prefix ? 3 : 0;

	if (format == LOG_FORMAT_TEXT)
		line = format_text(r);
	else
		line = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line == NULL)
		return NULL;
	n = strlen(line);
	if ((nl = realloc(line, pre + n + 1)) == NULL) {
		free(line);
		return NULL;
	}
	if (pre > 0) {
		memmove(nl + pre, nl, n);
		nl[0] = '<';
		nl[1] = (char)('0' + priority(r));
		nl[2] = '>';
	}
	nl[pre + n] = '\n';
	*len = pre + n + 1;
	return nl;
}

/* ---- the output --------------------------------------------------------- */

/* Bytes waiting (none when the writer could not get its queue). */
static size_t
out_queued(void)
{
	return out.queue != NULL ? evbuffer_get_length(out.queue) : 0;
}

/* Forget the event without event_del(): after fork, the base's backend
 * (an epoll set) is still the parent's. */
static void
out_forget_event(void)
{
	if (out.ev != NULL && out.pid == log_pid())
		event_free(out.ev);
	out.ev = NULL;
}

static void
out_close(void)
{
	out_forget_event();
	if (out.own_fd >= 0)
		close(out.own_fd);
	out.own_fd = -1;
	out.fd = -1;
}

/* st is the stream systemd connected to journald for us: JOURNAL_STREAM
 * holds its device and inode (systemd.exec(5)). */
static int
journal_stream(const struct stat *st)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	int n = 0;

	if (env == NULL || sscanf(env, "%llu:%llu%n", &dev, &ino, &n) != 2 ||
	    env[n] != '\0')
		return 0;
	return (unsigned long long)st->st_dev == dev &&
	    (unsigned long long)st->st_ino == ino;
}

int
log_set_fd(int fd)
{
	struct stat st;
	char path[64];
	int rc = 0;

	out_close();
	if (out.pid != log_pid())
		out.dropped = 0;	/* the parent's to report */
	out.pid = log_pid();
	out.target = out.fd = fd;
	out.kind = OUT_BLOCKING;
	out.broken = 0;
	if (out.queue == NULL && (out.queue = evbuffer_new()) == NULL)
		return -1;
	evbuffer_drain(out.queue, out_queued());
	out.prefix = 0;
	if (fstat(fd, &st) < 0)
		return -1;
	out.prefix = journal_stream(&st);
	if (S_ISSOCK(st.st_mode)) {
		out.kind = OUT_SOCKET;
	} else if (S_ISFIFO(st.st_mode) || (S_ISCHR(st.st_mode) &&
	    isatty(fd))) {
		/* O_NONBLOCK on fd itself would change it for the shell and
		 * every other process that shares the description. */
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		out.own_fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC |
		    O_NOCTTY);
		if (out.own_fd >= 0) {
			out.fd = out.own_fd;
			out.kind = OUT_PRIVATE;
		} else
			rc = -1;
	}
	if (out.base != NULL && out.kind != OUT_BLOCKING)
		out.ev = event_new(out.base, out.fd, EV_WRITE, out_write_cb,
		    NULL);
	return rc;
}

/* The writer, set up for this process. */
static void
out_ready(void)
{
	if (out.target < 0 || out.pid != log_pid()) {
		if (out.pid != log_pid())
			out.base = NULL;	/* the parent's */
		log_set_fd(out.target < 0 ? STDERR_FILENO : out.target);
	}
}

/* Bytes written from iov, or -1 (errno EAGAIN when the output is full). */
static ssize_t
out_writev(struct iovec *iov, int n)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	ssize_t w;

	do {
		if (out.kind == OUT_SOCKET)
			w = sendmsg(out.fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		else
			w = writev(out.fd, iov, n);
	} while (w < 0 && errno == EINTR);
	return w;
}

/* The output failed for good: what is queued is lost; count its lines. */
static void
out_broken(void)
{
	struct evbuffer_ptr p;

	evbuffer_ptr_set(out.queue, &p, 0, EVBUFFER_PTR_SET);
	while ((p = evbuffer_search(out.queue, "\n", 1, &p)).pos >= 0) {
		out.dropped++;
		evbuffer_ptr_set(out.queue, &p, 1, EVBUFFER_PTR_ADD);
	}
	evbuffer_drain(out.queue, out_queued());
	out.broken = 1;
}

/* Write what is queued until the output is full. */
static void
out_drain(void)
{
	struct evbuffer_iovec v[16];
	ssize_t w;
	int n;

	while (out_queued() > 0) {
		n = evbuffer_peek(out.queue, -1, NULL, v, 16);
		if (n > 16)
			n = 16;
		/* evbuffer_iovec is struct iovec where there is one. */
		if ((w = out_writev((struct iovec *)v, n)) < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				out_broken();
			return;
		}
		evbuffer_drain(out.queue, (size_t)w);
	}
}

static void
out_arm(void)
{
	if (out.ev == NULL || out.arming ||
	    out_queued() == 0)
		return;
	/* A failing event_add() logs through libevent's callback, which
	 * comes back here. */
	out.arming = 1;
	if (event_add(out.ev, NULL) < 0)
		out_forget_event();
	out.arming = 0;
}

static int
out_room(size_t n)
{
	return out.kind == OUT_BLOCKING ||
	    out_queued() + n <= LOG_QUEUE_MAX;
}

/* Send or queue line[0..n), which fits: one write when the queue is empty,
 * and whatever that write did not take is queued, so the line goes out
 * whole.  Returns -1 when the line is lost (the caller counts it). */
static int
out_put(const char *line, size_t n)
{
	struct iovec iov = { .iov_base = (void *)line, .iov_len = n };
	ssize_t w = 0;

	if (out.kind == OUT_BLOCKING)
		return write_all(out.fd, line, n);
	if (out_queued() == 0) {
		if ((w = out_writev(&iov, 1)) < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				out.broken = 1;
				return -1;
			}
			w = 0;
		}
		if ((size_t)w == n)
			return 0;
		evbuffer_add(out.queue, line + w, n - (size_t)w);
	} else {
		evbuffer_add(out.queue, line, n);
		if (out.base == NULL)
			out_drain();
	}
	out_arm();
	return 0;
}

/* The notice of n dropped records.  New, or NULL. */
static json_t *
notice_record(size_t n)
{
	json_t *r;
	char *msg;

	if (asprintf(&msg, "%zu log record%s dropped: the log output did not "
	    "keep up", n, n == 1 ? "" : "s") < 0)
		return NULL;
	r = record_new(LOOPD_LOG_WARNING, msg);
	free(msg);
	log_add(r, "event", "log_dropped");
	log_add_int(r, "dropped", (long long)n);
	return r;
}

static int	journal_notice(void);

/* If records were dropped and the notice fits, with `then` more bytes
 * after it, queue it: only then is the count reset.  Returns 0 when
 * nothing is left to report. */
static int
out_notice(size_t then)
{
	size_t n = out.dropped, len;
	json_t *r;
	char *line;

	if (out.journal != NULL)
		return journal_notice();
	if (n == 0)
		return 0;
	if (out.broken || !out_room(then + LOG_NOTICE_MAX))
		return -1;	/* no room: do not build it to find out */
	r = notice_record(n);
	line = r != NULL ? format_line(r, &len) : NULL;
	json_decref(r);
	if (line == NULL)
		return -1;
	if (!out_room(len + then)) {
		free(line);
		return -1;
	}
	out.dropped -= n;
	out.reported += n;
	if (out_put(line, len) < 0) {
		out.dropped += n;
		out.reported -= n;
	}
	free(line);
	return out.dropped == 0 ? 0 : -1;
}

/* One line: after the notice of earlier drops, if any, or dropped too, so
 * that no record overtakes the notice of a gap before it (and a full queue
 * does not fill its last bytes with notices). */
static void
out_line(const char *line, size_t n)
{
	if (out_notice(n) < 0 || !out_room(n) || out_put(line, n) < 0)
		out.dropped++;
}

static void
out_write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	out_drain();
	out_notice(0);
	out_arm();
}

void
log_attach(struct event_base *base)
{
	out_ready();
	out_forget_event();
	out.base = base;
	if (out.kind != OUT_BLOCKING)
		out.ev = event_new(base, out.fd, EV_WRITE, out_write_cb, NULL);
	out_arm();
}

int
log_flush(int timeout_ms)
{
	struct pollfd pfd;
	struct timespec now, end;
	long left;

	if (out.journal != NULL)
		return journal_notice();
	out_ready();
	out_forget_event();
	out.base = NULL;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	for (;;) {
		out_drain();
		if (out_queued() == 0 && out_notice(0) == 0 &&
		    out_queued() == 0)
			return 0;
		if (out.broken)
			return -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (end.tv_sec - now.tv_sec) * 1000 +
		    (end.tv_nsec - now.tv_nsec) / 1000000;
		if (left <= 0)
			return -1;
		pfd = (struct pollfd){ .fd = out.fd, .events = POLLOUT };
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return -1;
	}
}

int
log_would_drop(size_t n)
{
	if (out.journal != NULL)
		return 0;
	out_ready();
	return out.kind != OUT_BLOCKING && (out.broken ||
	    !out_room(n + (out.dropped > 0 ? LOG_NOTICE_MAX : 0)));
}

size_t
log_dropped_total(void)
{
	return out.reported + out.dropped;
}

void
log_count_dropped(size_t n)
{
	out_ready();
	out.dropped += n;
	out_notice(0);
}

/* ---- journald ------------------------------------------------------------ */

/* "KEY=value" of a record's string field into iov; 0 when it has none. */
static int
journal_field(struct iovec *iov, const char *key, json_t *v)
{
	const char *s = json_string_value(v);
	char *f;

	if (s == NULL || asprintf(&f, "%s=%s", key, s) < 0)
		return 0;
	iov->iov_base = f;
	iov->iov_len = strlen(f);
	return 1;
}

/* One record as journal fields: MESSAGE, PRIORITY, the LOOPD_* of its
 * names and event, and LOOPD_JSON, the whole record.  0 when it went, -1
 * when it did not. */
static int
journal_send(json_t *r)
{
	static const char *const fields[][2] = {
		{ "MESSAGE", "msg" }, { "LOOPD_LOOP", "loop" },
		{ "LOOPD_TASK", "task" }, { "LOOPD_PLUGIN", "plugin" },
		{ "LOOPD_EVENT", "event" },
	};
	struct iovec iov[8];
	char prio[16], *whole, *f;
	size_t i;
	int n = 0, rc = -1;

	if ((whole = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER)) ==
	    NULL)
		return -1;
	for (i = 0; i < sizeof fields / sizeof fields[0]; i++)
		n += journal_field(&iov[n], fields[i][0],
		    json_object_get(r, fields[i][1]));
	if (asprintf(&f, "LOOPD_JSON=%s", whole) >= 0) {
		iov[n].iov_base = f;
		iov[n++].iov_len = strlen(f);
		snprintf(prio, sizeof prio, "PRIORITY=%d", priority(r));
		iov[n++] = (struct iovec){ prio, strlen(prio) };
		iov[n++] = (struct iovec){ "SYSLOG_IDENTIFIER=loopd", 23 };
		rc = out.sendv(iov, n);
		n -= 2;		/* not allocated */
	}
	free(whole);
	while (n-- > 0)
		free(iov[n].iov_base);
	return rc < 0 ? -1 : 0;
}

static int
journal_notice(void)
{
	json_t *r;
	size_t n = out.dropped;
	int rc;

	if (n == 0)
		return 0;
	if ((r = notice_record(n)) == NULL)
		return -1;
	if ((rc = journal_send(r)) == 0)
		out.dropped -= n;
	json_decref(r);
	return rc;
}

int
log_open_journald(void)
{
	void *dl;

	if (out.journal != NULL)
		return 0;
	if ((dl = dlopen(LOG_LIBSYSTEMD, RTLD_NOW | RTLD_LOCAL)) == NULL)
		return -1;
	*(void **)&out.sendv = dlsym(dl, "sd_journal_sendv");
	if (out.sendv == NULL) {
		dlclose(dl);
		return -1;
	}
	out.journal = dl;
	return 0;
}

const char *
log_journald_error(void)
{
	const char *e = dlerror();

	return e != NULL ? e : "unknown error";
}

/* ---- a file ---------------------------------------------------------------- */

static int
file_open(const char *path)
{
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
	    0640);
	if (fd < 0)
		return -1;
	(void)log_set_fd(fd);	/* writes to fd, blocking if it must */
	if (out.file_fd >= 0)
		close(out.file_fd);
	out.file_fd = fd;
	return 0;
}

int
log_open_file(const char *path)
{
	char *copy;

	if ((copy = strdup(path)) == NULL)
		return -1;
	if (file_open(path) < 0) {
		free(copy);
		return -1;
	}
	free(out.path);
	out.path = copy;
	return 0;
}

int
log_reopen(void)
{
	json_t *r;
	int err;

	if (out.path == NULL)
		return 0;
	if (file_open(out.path) == 0) {
		r = log_record(LOOPD_LOG_INFO, "log file reopened: %s",
		    out.path);
		log_add(r, "event", "log_reopen");
		log_emit(r);
		return 0;
	}
	err = errno;
	r = log_record(LOOPD_LOG_ERROR, "cannot reopen the log file %s: %s; "
	    "still writing to the one open", out.path, strerror(err));
	log_add(r, "event", "log_reopen");
	log_add_error(r, "log", strerror(err));
	log_emit(r);
	errno = err;
	return -1;
}

/* ---- the sink ---------------------------------------------------------------- */

static void
log_write_stderr(void *ctx, json_t *r)
{
	char *line;
	size_t n;

	(void)ctx;
	if (out.journal != NULL) {
		if (journal_notice() < 0 || journal_send(r) < 0)
			out.dropped++;
		return;
	}
	out_ready();
	if ((line = format_line(r, &n)) == NULL) {
		out.dropped++;
		return;
	}
	out_line(line, n);
	free(line);
}

void
log_plain(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	write_all(STDERR_FILENO, s, (size_t)n);
	write_all(STDERR_FILENO, "\n", 1);
	free(s);
}

static void
log_libevent(int severity, const char *msg)
{
	int level = severity == EVENT_LOG_DEBUG ? LOOPD_LOG_DEBUG :
	    severity == EVENT_LOG_MSG ? LOOPD_LOG_INFO :
	    severity == EVENT_LOG_WARN ? LOOPD_LOG_WARNING : LOOPD_LOG_ERROR;
	json_t *r = log_record(level, "libevent: %s", msg);

	log_add(r, "event", "libevent");
	log_emit(r);
}

void
log_capture_libevent(void)
{
	event_set_log_callback(log_libevent);
}
