/*
 * errlist.c: the problems found while reading one configuration file.
 *
 * Problems are kept in the order they are found, with a sequence number so
 * that sorting by place keeps that order for two problems at one place.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errlist.h"

struct errlist_item {
	struct conf_error	 e;
	size_t			 seq;		/* ties keep report order */
	size_t			 rank;		/* of its file, when sorting */
};

/* v, grown if needed to hold n + 1 elements, or NULL (v is left alone). */
static void *
errlist_grow(void *v, size_t *cap, size_t n, size_t size)
{
	size_t ncap;

	if (n < *cap)
		return v;
	ncap = *cap != 0 ? *cap * 2 : 8;
	if ((v = reallocarray(v, ncap, size)) != NULL)
		*cap = ncap;
	return v;
}

/* Where file comes in the report: files set later come later. */
static size_t
errlist_file_rank(const struct errlist *el, const char *file)
{
	size_t i;

	for (i = 0; i < el->nfiles; i++)
		if (el->files[i] == file)
			return i;
	return 0;
}

/* <0, 0, >0 as a is before, at, after b. */
static int
errlist_mark_cmp(const struct errlist *el, struct conf_mark a,
    struct conf_mark b)
{
	size_t fa, fb;

	if (a.file != b.file && el->nfiles > 1 &&
	    (fa = errlist_file_rank(el, a.file)) !=
	    (fb = errlist_file_rank(el, b.file)))
		return fa < fb ? -1 : 1;
	if (a.line != b.line)
		return a.line < b.line ? -1 : 1;
	if (a.col != b.col)
		return a.col < b.col ? -1 : 1;
	return 0;
}

/* Where m is among the quiet marks, or where it would go. */
static size_t
errlist_quiet_find(const struct errlist *el, struct conf_mark m)
{
	size_t lo = 0, hi = el->nquiet, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (errlist_mark_cmp(el, el->quiet[mid], m) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int
errlist_is_quiet(const struct errlist *el, struct conf_mark m)
{
	size_t i;

	i = errlist_quiet_find(el, m);
	return i < el->nquiet && errlist_mark_cmp(el, el->quiet[i], m) == 0;
}

void
errlist_init(struct errlist *el, const char *file)
{
	memset(el, 0, sizeof *el);
	el->file = el->main = file;
}

void
errlist_set_file(struct errlist *el, const char *file)
{
	const char **v;

	el->file = file;
	if (el->nfiles == 0 && el->main != NULL && el->main != file) {
		/* The first file ranks first. */
		if ((v = errlist_grow(el->files, &el->filescap, 0,
		    sizeof *v)) == NULL) {
			el->nomem = 1;
			return;
		}
		el->files = v;
		v[el->nfiles++] = el->main;
	}
	if ((v = errlist_grow(el->files, &el->filescap, el->nfiles,
	    sizeof *v)) == NULL) {
		el->nomem = 1;
		return;
	}
	el->files = v;
	v[el->nfiles++] = file;
}

void
errlist_vadd(struct errlist *el, struct conf_mark m, const char *fmt,
    va_list ap)
{
	struct errlist_item *v;
	char *msg;

	if (errlist_is_quiet(el, m))
		return;
	if (vasprintf(&msg, fmt, ap) == -1) {
		el->nomem = 1;
		return;
	}
	if ((v = errlist_grow(el->v, &el->cap, el->n, sizeof *v)) == NULL) {
		free(msg);
		el->nomem = 1;
		return;
	}
	el->v = v;
	v[el->n].e.mark = m;
	v[el->n].e.msg = msg;
	v[el->n].seq = el->n;
	el->n++;
}

void
errlist_add(struct errlist *el, struct conf_mark m, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errlist_vadd(el, m, fmt, ap);
	va_end(ap);
}

void
errlist_quiet(struct errlist *el, struct conf_mark m)
{
	struct conf_mark *v;
	size_t i;

	i = errlist_quiet_find(el, m);
	if (i < el->nquiet && errlist_mark_cmp(el, el->quiet[i], m) == 0)
		return;
	v = errlist_grow(el->quiet, &el->quietcap, el->nquiet, sizeof *v);
	if (v == NULL) {
		el->nomem = 1;
		return;
	}
	el->quiet = v;
	/* Marks come in file order, so this moves nothing but in tests. */
	memmove(&v[i + 1], &v[i], (el->nquiet - i) * sizeof *v);
	v[i] = m;
	el->nquiet++;
}

int
errlist_failed(const struct errlist *el)
{
	return el->n > 0 || el->nomem;
}

static int
errlist_item_cmp(const void *a, const void *b)
{
	const struct errlist_item *x = a, *y = b;

	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	if (x->e.mark.line != y->e.mark.line)
		return x->e.mark.line < y->e.mark.line ? -1 : 1;
	if (x->e.mark.col != y->e.mark.col)
		return x->e.mark.col < y->e.mark.col ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void
errlist_move(struct errlist *el, struct conf_errors *errs, char *file)
{
	struct conf_mark none = { file, 0, 0 };
	size_t i;

	if (el->nomem)
		errlist_add(el, none, "out of memory");
	errs->file = file;
	if (el->n == 0)
		return;
	for (i = 0; i < el->n; i++)
		el->v[i].rank = errlist_file_rank(el, el->v[i].e.mark.file);
	qsort(el->v, el->n, sizeof *el->v, errlist_item_cmp);
	errs->v = calloc(el->n, sizeof *errs->v);
	for (i = 0; i < el->n; i++) {
		if (el->v[i].e.mark.file == el->main)
			el->v[i].e.mark.file = file;
		if (errs->v != NULL)
			errs->v[i] = el->v[i].e;
		else
			free(el->v[i].e.msg);
	}
	errs->n = errs->v != NULL ? el->n : 0;
	el->n = 0;
}

void
errlist_free(struct errlist *el)
{
	size_t i;

	for (i = 0; i < el->n; i++)
		free(el->v[i].e.msg);
	free(el->v);
	free(el->quiet);
	free(el->files);
	memset(el, 0, sizeof *el);
}

const char *
errlist_shown(const char *s, char *buf)
{
	size_t i, n;

	n = strlen(s);
	if (n > ERRLIST_SHOWN_MAX) {
		n = ERRLIST_SHOWN_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;	/* do not cut a UTF-8 sequence */
	}
	for (i = 0; i < n; i++)
		buf[i] = iscntrl((unsigned char)s[i]) ? '?' : s[i];
	strcpy(buf + n, s[n] != '\0' ? "..." : "");
	return buf;
}
