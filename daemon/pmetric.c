/*
 * pmetric.c: plugins' counters and gauges (see pmetric.h).
 *
 * In the worker, a loopd_metric * is an id, as a timer's is (api.c): the
 * slot, the metric's kind and the slot's generation, which grows each time
 * the slot is freed.  The slots are a fixed array, never reallocated, so
 * any thread may look an id up: an update loads the slot's live id, and
 * when it is the handle's, adds to or stores the value, both relaxed
 * atomics on the shared 8 bytes.  Nothing on that path allocates, locks or
 * follows a pointer the plugin gave.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <jansson.h>

#include "loopd/plugin.h"
#include "crash.h"
#include "log.h"
#include "pmetric.h"
#include "task.h"

#define PMETRIC_AREA_BYTES	(PMETRIC_SLOTS * sizeof(int64_t))

_Static_assert(PMETRIC_AREA_BYTES <= CRASH_AREA_SIZE,
    "the metrics do not fit in the shared area");
_Static_assert(sizeof(_Atomic int64_t) == sizeof(int64_t),
    "a shared value is not 8 bytes");

/* An id is (generation << ID_HALF) | (slot << 2) | (kind << 1) | 1: odd,
 * so that no aligned pointer is ever taken for one. */
#define ID_HALF		(sizeof(uintptr_t) * CHAR_BIT / 2)
#define ID_LOW_MASK	(((uintptr_t)1 << ID_HALF) - 1)

_Static_assert(PMETRIC_SLOTS <= ((size_t)1 << (ID_HALF - 2)),
    "slot numbers do not fit in an id");

int
pmetric_name_valid(const char *name, size_t len)
{
	static const char total[] = "_total";
	size_t i;

	if (len == 0 || len > PMETRIC_NAME_MAX || isdigit((unsigned char)
	    name[0]))
		return 0;
	for (i = 0; i < len; i++)
		if (!(name[i] >= 'a' && name[i] <= 'z') &&
		    !(name[i] >= '0' && name[i] <= '9') && name[i] != '_')
			return 0;
	return len < sizeof total - 1 || memcmp(name + len -
	    (sizeof total - 1), total, sizeof total - 1) != 0;
}

int
pmetric_help_valid(const char *help, size_t len)
{
	json_t *utf8;
	size_t i;

	if (len > PMETRIC_HELP_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if ((unsigned char)help[i] < 0x20 || help[i] == 0x7f)
			return 0;
	if ((utf8 = json_stringn(help, len)) == NULL)
		return 0;	/* not UTF-8 (or no memory: refused too) */
	json_decref(utf8);
	return 1;
}

/* MSG_METRIC into m: task `task` declares slot as name, of kind. */
static void
pmetric_put_declaration(struct msg_out *m, int task, size_t slot,
    enum pmetric_kind kind, const char *name, const char *help)
{
	msg_begin(m, MSG_METRIC);
	msg_put_int(m, task);
	msg_put_int(m, (int64_t)slot);
	msg_put_int(m, kind);
	msg_put_str(m, name, 0);
	msg_put_str(m, help, 0);
}

/* ---- the worker's side ----------------------------------------------------- */

struct pmetric_slot {
	_Atomic uintptr_t	 id;	/* the live handle's, 0 when free */
	uintptr_t		 gen;
	uint32_t		 next;	/* the task's next, or the next free:
					 * slot + 1, 0 for none */
	char			*name;	/* while declared */
};

struct pmetric_area {
	_Atomic int64_t		*v;	/* the shared values */
	int			 mapped;
	size_t			 used;	/* slots ever used */
	uint32_t		 free_head, free_tail;	/* slot + 1 */
	struct pmetric_slot	 slots[PMETRIC_SLOTS];
};

/* The process's area: see pmetric_area_new(). */
static _Atomic(struct pmetric_area *) pmetric_live;

struct pmetric_area *
pmetric_area_new(int fd)
{
	struct pmetric_area *a;
	void *p;

	if ((a = calloc(1, sizeof *a)) == NULL)
		return NULL;
	if (fd < 0)
		p = calloc(1, PMETRIC_AREA_BYTES);
	else {
		p = mmap(NULL, PMETRIC_AREA_BYTES, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, CRASH_AREA_OFF);
		if (p == MAP_FAILED)
			p = NULL;
		a->mapped = 1;
	}
	if (p == NULL) {
		free(a);
		return NULL;
	}
	a->v = p;
	atomic_store(&pmetric_live, a);
	return a;
}

void
pmetric_area_free(struct pmetric_area *a)
{
	size_t i;

	if (a == NULL)
		return;
	if (atomic_load(&pmetric_live) == a)
		atomic_store(&pmetric_live, NULL);
	for (i = 0; i < a->used; i++)
		free(a->slots[i].name);
	if (a->mapped)
		munmap((void *)a->v, PMETRIC_AREA_BYTES);
	else
		free((void *)a->v);
	free(a);
}

/* A free slot, never used ones first, or -1. */
static long
area_take(struct pmetric_area *a)
{
	uint32_t i;

	if (a->used < PMETRIC_SLOTS) {
		a->slots[a->used].gen = 1;
		return (long)a->used++;
	}
	if (a->free_head == 0)
		return -1;
	i = a->free_head - 1;
	if ((a->free_head = a->slots[i].next) == 0)
		a->free_tail = 0;
	a->slots[i].next = 0;
	return (long)i;
}

static void
area_put(struct pmetric_area *a, uint32_t i)
{
	struct pmetric_slot *s = &a->slots[i];

	atomic_store_explicit(&s->id, 0, memory_order_release);
	s->gen = (s->gen + 1) & (~(uintptr_t)0 >> ID_HALF);
	free(s->name);
	s->name = NULL;
	s->next = 0;
	if (a->free_tail == 0)
		a->free_head = i + 1;
	else
		a->slots[a->free_tail - 1].next = i + 1;
	a->free_tail = i + 1;
}

void
pmetric_task_end(struct loopd_task *t)
{
	struct pmetric_area *a = t->host->metrics;
	uint32_t i, next;

	for (next = t->metrics; a != NULL && next != 0;) {
		i = next - 1;
		next = a->slots[i].next;
		area_put(a, i);
	}
	t->metrics = 0;
}

/* Why t may not declare name now, or NULL. */
static const char *
declare_refused(struct loopd_task *t, const char *name, const char *help)
{
	struct pmetric_area *a = t->host->metrics;
	size_t n = 0;
	uint32_t i;

	if (!pmetric_name_valid(name, strlen(name)))
		return "not a metric name: [a-z_][a-z0-9_]*, at most 64 "
		    "bytes, not ending in _total";
	if (!pmetric_help_valid(help, strlen(help)))
		return "its help is not one line of UTF-8 text of at most "
		    "256 bytes";
	if (a == NULL)
		return "this process has no place for metrics";
	for (i = t->metrics; i != 0; i = a->slots[i - 1].next, n++)
		if (strcmp(a->slots[i - 1].name, name) == 0)
			return "the task has a metric of that name already";
	if (n >= PMETRIC_TASK_MAX)
		return "the task has 64 metrics already";
	return NULL;
}

static loopd_metric *
declare(struct loopd_task *t, enum pmetric_kind kind, const char *name,
    const char *help)
{
	struct pmetric_area *a;
	struct msg_out m = { 0 };
	const char *why;
	uintptr_t id;
	long i;
	int rc;

	if (t == NULL || name == NULL || t->ending || t->state >= TASK_DONE)
		return NULL;
	if (help == NULL)
		help = "";
	a = t->host->metrics;
	if ((why = declare_refused(t, name, help)) == NULL &&
	    (i = area_take(a)) < 0)
		why = "the loop has 4096 metrics already";
	if (why != NULL) {
		loopd_log(t, LOOPD_LOG_WARNING, "metric '%.64s' not declared: "
		    "%s", name, why);
		return NULL;
	}
	if ((a->slots[i].name = strdup(name)) == NULL) {
		area_put(a, (uint32_t)i);
		return NULL;
	}
	atomic_store_explicit(&a->v[i], 0, memory_order_relaxed);
	/* The supervisor hears of it before the plugin can update it. */
	pmetric_put_declaration(&m, t->index, (size_t)i, kind, name, help);
	rc = m.nomem ? -1 : t->host->send != NULL ?
	    t->host->send(t->host->ctx, m.p, m.len) : 0;
	msg_out_free(&m);
	if (rc < 0) {
		area_put(a, (uint32_t)i);
		return NULL;
	}
	a->slots[i].next = t->metrics;
	t->metrics = (uint32_t)i + 1;
	id = (a->slots[i].gen << ID_HALF) | ((uintptr_t)i << 2) |
	    ((uintptr_t)kind << 1) | 1;
	atomic_store_explicit(&a->slots[i].id, id, memory_order_release);
	return (loopd_metric *)id;
}

loopd_metric *
loopd_metric_counter(loopd_task *t, const char *name, const char *help)
{
	return declare(t, PMETRIC_COUNTER, name, help);
}

loopd_metric *
loopd_metric_gauge(loopd_task *t, const char *name, const char *help)
{
	return declare(t, PMETRIC_GAUGE, name, help);
}

/* The value of the live metric m, and its kind; 0, or -LOOPD_E*. */
static int
lookup(loopd_metric *m, _Atomic int64_t **v, enum pmetric_kind *kind)
{
	struct pmetric_area *a = atomic_load_explicit(&pmetric_live,
	    memory_order_acquire);
	uintptr_t id = (uintptr_t)m;
	size_t i = (id & ID_LOW_MASK) >> 2;

	if (a == NULL || (id & 1) == 0 || i >= PMETRIC_SLOTS)
		return -LOOPD_EINVAL;
	if (atomic_load_explicit(&a->slots[i].id, memory_order_acquire) != id)
		return -LOOPD_ESTATE;
	*v = &a->v[i];
	*kind = (enum pmetric_kind)((id >> 1) & 1);
	return 0;
}

int
loopd_metric_add(loopd_metric *m, int64_t n)
{
	enum pmetric_kind kind;
	_Atomic int64_t *v;
	int rc;

	if ((rc = lookup(m, &v, &kind)) < 0)
		return rc;
	if (kind == PMETRIC_COUNTER && n < 0)
		return -LOOPD_EINVAL;
	atomic_fetch_add_explicit(v, n, memory_order_relaxed);
	return 0;
}

int
loopd_metric_set(loopd_metric *m, int64_t value)
{
	enum pmetric_kind kind;
	_Atomic int64_t *v;
	int rc;

	if ((rc = lookup(m, &v, &kind)) < 0)
		return rc;
	if (kind == PMETRIC_COUNTER)
		return -LOOPD_EINVAL;
	atomic_store_explicit(v, value, memory_order_relaxed);
	return 0;
}

/* ---- the supervisor's side ------------------------------------------------- */

struct pmetric_table {
	_Atomic int64_t		*v;	/* the worker's values, read-only */
	struct pmetric_decl	*d;	/* accepted; strings are ours */
	size_t			 n, cap;
	uint8_t			 used[PMETRIC_SLOTS];
};

const char *
pmetric_get_declaration(struct msg_in *in, size_t ntasks,
    struct pmetric_decl *d)
{
	int64_t task = 0, slot = 0, kind = 0;
	size_t nlen = 0, hlen = 0;

	msg_get_range(in, 0, (int64_t)ntasks - 1, &task);
	msg_get_range(in, 0, PMETRIC_SLOTS - 1, &slot);
	msg_get_range(in, PMETRIC_COUNTER, PMETRIC_GAUGE, &kind);
	d->name = msg_get_str(in, &nlen);
	d->help = msg_get_str(in, &hlen);
	if (msg_done(in) < 0)
		return in->bad;
	if (!pmetric_name_valid(d->name, nlen))
		return "a metric name that is not [a-z_][a-z0-9_]*";
	if (!pmetric_help_valid(d->help, hlen))
		return "a metric help that is too long or not text";
	d->task = (size_t)task;
	d->slot = (size_t)slot;
	d->kind = (enum pmetric_kind)kind;
	return NULL;
}

struct pmetric_table *
pmetric_table_new(int fd)
{
	struct pmetric_table *tab;
	void *p;

	if ((tab = calloc(1, sizeof *tab)) == NULL)
		return NULL;
	p = mmap(NULL, PMETRIC_AREA_BYTES, PROT_READ, MAP_SHARED, fd,
	    CRASH_AREA_OFF);
	if (p == MAP_FAILED) {
		free(tab);
		return NULL;
	}
	tab->v = p;
	return tab;
}

static void
decl_free(struct pmetric_decl *d)
{
	free((char *)d->name);
	free((char *)d->help);
}

void
pmetric_table_free(struct pmetric_table *tab)
{
	size_t i;

	if (tab == NULL)
		return;
	for (i = 0; i < tab->n; i++)
		decl_free(&tab->d[i]);
	free(tab->d);
	munmap((void *)tab->v, PMETRIC_AREA_BYTES);
	free(tab);
}

const char *
pmetric_table_add(struct pmetric_table *tab, const struct pmetric_decl *d)
{
	struct pmetric_decl *v, copy = *d;
	size_t i, n = 0;

	if (tab->used[d->slot])
		return "a metric in a slot that is another's";
	for (i = 0; i < tab->n; i++) {
		if (tab->d[i].task != d->task)
			continue;
		if (strcmp(tab->d[i].name, d->name) == 0)
			return "a metric its task has already";
		if (++n >= PMETRIC_TASK_MAX)
			return "more metrics than a task may have";
	}
	if (tab->n == tab->cap) {
		if ((v = reallocarray(tab->d, tab->cap ? tab->cap * 2 : 16,
		    sizeof *v)) == NULL)
			return NULL;	/* not the worker's fault: unserved */
		tab->d = v;
		tab->cap = tab->cap ? tab->cap * 2 : 16;
	}
	copy.name = strdup(d->name);
	copy.help = strdup(d->help);
	if (copy.name == NULL || copy.help == NULL) {
		decl_free(&copy);
		return NULL;
	}
	tab->d[tab->n++] = copy;
	tab->used[d->slot] = 1;
	return NULL;
}

void
pmetric_table_drop_task(struct pmetric_table *tab, size_t task)
{
	size_t i, j;

	if (tab == NULL)
		return;
	for (i = j = 0; i < tab->n; i++) {
		if (tab->d[i].task == task) {
			tab->used[tab->d[i].slot] = 0;
			decl_free(&tab->d[i]);
		} else
			tab->d[j++] = tab->d[i];
	}
	tab->n = j;
}

size_t
pmetric_table_count(const struct pmetric_table *tab)
{
	return tab != NULL ? tab->n : 0;
}

const struct pmetric_decl *
pmetric_table_get(const struct pmetric_table *tab, size_t i, int64_t *value)
{
	if (tab == NULL || i >= tab->n)
		return NULL;
	*value = atomic_load_explicit(&tab->v[tab->d[i].slot],
	    memory_order_relaxed);
	return &tab->d[i];
}
