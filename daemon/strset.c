/*
 * strset.c: an open-addressing hash set of borrowed strings.
 *
 * Linear probing in a table at most half full, FNV-1a hashes kept beside
 * the strings so that a probe rarely compares text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strset.h"

struct strset_slot {
	const char		*key;		/* NULL: empty */
	uint64_t		 hash;
	struct conf_mark	 mark;
};

static uint64_t
strset_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The slot that holds key, or the empty one where it would go. */
static struct strset_slot *
strset_slot(struct strset_slot *v, size_t cap, const char *key,
    uint64_t hash)
{
	size_t i;

	for (i = (size_t)hash & (cap - 1);; i = (i + 1) & (cap - 1))
		if (v[i].key == NULL || (v[i].hash == hash &&
		    strcmp(v[i].key, key) == 0))
			return &v[i];
}

static int
strset_resize(struct strset *set, size_t ncap)
{
	struct strset_slot *v, *s;
	size_t i;

	if ((v = calloc(ncap, sizeof *v)) == NULL)
		return -1;
	for (i = 0; i < set->cap; i++) {
		if (set->v[i].key == NULL)
			continue;
		s = strset_slot(v, ncap, set->v[i].key, set->v[i].hash);
		*s = set->v[i];
	}
	free(set->v);
	set->v = v;
	set->cap = ncap;
	return 0;
}

int
strset_add(struct strset *set, const char *key, struct conf_mark mark,
    struct conf_mark *first)
{
	struct strset_slot *s;
	uint64_t hash;

	if (set->n + 1 > set->cap / 2) {
		if (set->cap > SIZE_MAX / 2 / sizeof *s ||
		    strset_resize(set, set->cap != 0 ? set->cap * 2 : 16) == -1)
			return -1;
	}
	hash = strset_hash(key);
	s = strset_slot(set->v, set->cap, key, hash);
	if (s->key != NULL) {
		if (first != NULL)
			*first = s->mark;
		return 0;
	}
	s->key = key;
	s->hash = hash;
	s->mark = mark;
	set->n++;
	return 1;
}

void
strset_free(struct strset *set)
{
	free(set->v);
	memset(set, 0, sizeof *set);
}
