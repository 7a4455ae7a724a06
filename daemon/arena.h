/*
 * arena.h: memory given out in pieces and freed all at once.
 *
 * A configuration is built once and freed whole; holding it in an arena
 * packs 40,000 small task configurations without a malloc header each and
 * without the holes that the parse's scratch leaves between them.  Blocks
 * are mapped apart from the malloc heap.  Not thread-safe.
 */
#ifndef LOOPD_ARENA_H
#define LOOPD_ARENA_H

#include <stddef.h>

struct arena;

/* A new, empty arena, or NULL. */
struct arena	*arena_new(void);
/* Everything allocated from a is freed with it.  NULL is fine. */
void		 arena_free(struct arena *a);

/* n zeroed bytes aligned for any type, valid until arena_free(), or NULL. */
void		*arena_alloc(struct arena *a, size_t n);
/* A copy of s (NULL gives NULL), or NULL when memory ran out. */
char		*arena_strdup(struct arena *a, const char *s);

#endif /* LOOPD_ARENA_H */
