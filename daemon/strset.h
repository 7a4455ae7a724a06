/*
 * strset.h: a set of strings, each with the place where it was first seen,
 * for finding a repeat in constant time on average: duplicate keys in a
 * mapping, loop and task names used twice.
 *
 * The strings are borrowed: each must stay in place, unchanged, as long as
 * the set.  A zeroed struct strset is an empty set.  One thread.
 */
#ifndef LOOPD_STRSET_H
#define LOOPD_STRSET_H

#include <stddef.h>

#include "tree.h"

struct strset_slot;

struct strset {
	struct strset_slot	*v;
	size_t			 cap;		/* 0 or a power of two */
	size_t			 n;
};

/*
 * Add key, seen at mark, unless key is there.  Returns 1 when it was added,
 * 0 when it was there already (*first, when not NULL, is set to the mark it
 * came with), or -1 when memory ran out (the set is unchanged).
 */
int	strset_add(struct strset *set, const char *key, struct conf_mark mark,
	    struct conf_mark *first);
void	strset_free(struct strset *set);

#endif /* LOOPD_STRSET_H */
