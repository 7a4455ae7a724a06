/*
 * arena.c: a bump allocator over mapped blocks.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "arena.h"

#define ARENA_BLOCK	(256 * 1024)
#define ARENA_ALIGN	(sizeof(void *) > 8 ? sizeof(void *) : 8)

struct block {
	struct block	*next;
	size_t		 size;
};

struct arena {
	struct block	*blocks;
	char		*next;		/* free space in the newest block */
	size_t		 left;
};

static struct block *
block_map(size_t size)
{
	struct block *b;

	b = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return NULL;
	b->size = size;
	return b;
}

struct arena *
arena_new(void)
{
	struct block *b;
	struct arena *a;

	if ((b = block_map(ARENA_BLOCK)) == NULL)
		return NULL;
	/* The arena lives in its own first block. */
	a = (struct arena *)(b + 1);
	a->blocks = b;
	a->next = (char *)(a + 1);
	a->left = ARENA_BLOCK - sizeof *b - sizeof *a;
	return a;
}

void
arena_free(struct arena *a)
{
	struct block *b, *next;

	if (a == NULL)
		return;
	for (b = a->blocks; b != NULL; b = next) {
		next = b->next;
		munmap(b, b->size);
	}
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct block *b;
	size_t pad = (ARENA_ALIGN - (uintptr_t)a->next % ARENA_ALIGN) %
	    ARENA_ALIGN, size;
	void *p;

	if (n > SIZE_MAX / 2)
		return NULL;
	if (pad + n > a->left) {
		size = n + sizeof *b + ARENA_ALIGN > ARENA_BLOCK ?
		    n + sizeof *b + ARENA_ALIGN : ARENA_BLOCK;
		if ((b = block_map(size)) == NULL)
			return NULL;
		/* The first block holds the arena: keep it first. */
		b->next = a->blocks->next;
		a->blocks->next = b;
		a->next = (char *)(b + 1);
		a->left = size - sizeof *b;
		pad = (ARENA_ALIGN - (uintptr_t)a->next % ARENA_ALIGN) %
		    ARENA_ALIGN;
	}
	p = a->next + pad;
	a->next += pad + n;
	a->left -= pad + n;
	return p;		/* fresh mapped memory is zero */
}

char *
arena_strdup(struct arena *a, const char *s)
{
	size_t n;
	char *p;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	if ((p = arena_alloc(a, n)) != NULL)
		memcpy(p, s, n);
	return p;
}
