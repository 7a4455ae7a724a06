/*
 * errlist.h: the problems found while reading one configuration file.
 *
 * The tree loader (tree.c) and the checks (config.c) add to one struct
 * errlist; errlist_move() then hands every problem over, sorted into file
 * order, as a struct conf_errors.  A mark can be made quiet: a problem
 * added later at that place is dropped, because one already explains it
 * (an alias, replaced by a null that the checks would otherwise report
 * again).  Nothing here is shared between two lists; one thread.
 */
#ifndef LOOPD_ERRLIST_H
#define LOOPD_ERRLIST_H

#include <stdarg.h>
#include <stddef.h>

#include "loopd/plugin.h"
#include "config.h"

/* User text quoted in messages is cut to this many bytes. */
#define ERRLIST_SHOWN_MAX	40
#define ERRLIST_SHOWN_BUF	(ERRLIST_SHOWN_MAX + 4)

struct errlist_item;

struct errlist {
	const char		*file;		/* borrowed; in every new mark */
	const char		*main;		/* the file errlist_init named */
	const char		**files;	/* every file, in report order */
	size_t			 nfiles, filescap;
	struct errlist_item	*v;
	size_t			 n, cap;
	struct conf_mark	*quiet;		/* in file order */
	size_t			 nquiet, quietcap;
	int			 nomem;		/* memory ran out */
};

/* An empty list for problems in file (borrowed: it must outlive el). */
void		 errlist_init(struct errlist *el, const char *file);
/*
 * From now on, marks are in file (borrowed: it must outlive el and the
 * problems it holds, for their marks keep it), reported after those of
 * the files set before it.  For an included fragment.
 */
void		 errlist_set_file(struct errlist *el, const char *file);
/* Add a problem at m, unless m is quiet.  Sets el->nomem on failure. */
void		 errlist_add(struct errlist *el, struct conf_mark m,
		    const char *fmt, ...) LOOPD_PRINTF(3, 4);
void		 errlist_vadd(struct errlist *el, struct conf_mark m,
		    const char *fmt, va_list ap) LOOPD_PRINTF(3, 0);
/* Drop every problem added at m from now on. */
void		 errlist_quiet(struct errlist *el, struct conf_mark m);
/* Whether anything went wrong: a problem, or memory. */
int		 errlist_failed(const struct errlist *el);
/*
 * Hand the problems, in file order, over to errs (zeroed by the caller),
 * with file (stolen: errs->file, freed by conf_errors_free()) as the file
 * of every mark made in the file errlist_init() named; a mark in a file
 * set with errlist_set_file() keeps its own.  "out of memory" is added when el->nomem is set.  el is
 * left empty.
 */
void		 errlist_move(struct errlist *el, struct conf_errors *errs,
		    char *file);
void		 errlist_free(struct errlist *el);

/*
 * s made fit for a one-line message in buf (ERRLIST_SHOWN_BUF bytes): cut
 * to ERRLIST_SHOWN_MAX bytes on a UTF-8 boundary, "..." after a cut,
 * control characters replaced by '?'.  Returns buf.
 */
const char	*errlist_shown(const char *s, char *buf);

#endif /* LOOPD_ERRLIST_H */
