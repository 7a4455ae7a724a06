/*
 * log.c: log records as JSON objects, and the sink that writes them.
 *
 * Records are built here and nowhere else, so that every one has the same
 * first fields (ts, level, msg) and every string in it is valid UTF-8: a
 * plugin's message with quotes, newlines or broken bytes still makes one
 * valid JSON line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"

static int		 min_level = LOOPD_LOG_INFO;
static enum log_format	 format = LOG_FORMAT_JSON;
static log_sink_fn	 sink = log_write_stderr;
static void		*sink_ctx;

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

json_t *
log_string(const char *s)
{
	size_t len = strlen(s);
	char *cut;
	json_t *j;

	if (len <= LOG_STRING_MAX)
		return utf8_json(s, len);
	/* A record must fit in one line and one IPC frame: cut it, and say
	 * so in the string itself. */
	if (asprintf(&cut, "%.*s... [truncated: %zu bytes in all]",
	    LOG_STRING_MAX, s, len) < 0)
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

json_t *
log_vrecord(int level, const char *fmt, va_list ap)
{
	json_t *r;
	char *msg;

	if (level < min_level)
		return NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if ((r = json_object()) == NULL) {
		free(msg);
		return NULL;
	}
	json_object_set_new(r, "ts", timestamp());
	json_object_set_new(r, "level", json_string(log_level_name(level)));
	json_object_set_new(r, "msg", log_string(msg ? msg : fmt));
	json_object_set_new(r, "pid", json_integer(getpid()));
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

static void
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;		/* nowhere left to say it */
		p += w;
		n -= (size_t)w;
	}
}

/* "TS LEVEL msg key=value ...": the fields after msg as compact JSON. */
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
	fprintf(f, "%s %s %s", json_string_value(json_object_get(r, "ts")),
	    json_string_value(json_object_get(r, "level")),
	    json_string_value(json_object_get(r, "msg")));
	json_object_foreach(r, key, v) {
		if (!strcmp(key, "ts") || !strcmp(key, "level") ||
		    !strcmp(key, "msg"))
			continue;
		if (json_is_string(v) && strpbrk(json_string_value(v),
		    " \t\n\"=") == NULL) {
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

void
log_write_stderr(void *ctx, json_t *r)
{
	char *line;

	(void)ctx;
	if (format == LOG_FORMAT_TEXT)
		line = format_text(r);
	else
		line = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line == NULL)
		return;
	/* One write per record, so lines from concurrent writers stay whole. */
	size_t n = strlen(line);
	line[n] = '\n';
	write_all(STDERR_FILENO, line, n + 1);
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
