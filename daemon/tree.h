/*
 * tree.h: YAML text read into a tree of conf_node, every problem located.
 *
 * tree_load() keeps a value as written and refuses what the tree cannot
 * hold: aliases, keys that are not scalars, duplicate keys, a second
 * document, nesting deeper than TREE_MAX_DEPTH.  Each problem goes to a
 * struct errlist with its file, line and column; loading goes on past
 * every problem it can.  Nothing else in loopd includes <yaml.h>.  Trees
 * are plain data: any thread may read one that no one changes.
 */
#ifndef LOOPD_TREE_H
#define LOOPD_TREE_H

#include <stddef.h>

struct errlist;

/* Deeper nesting is refused, which bounds every recursion over a tree. */
#define TREE_MAX_DEPTH	64

/* A place in a file; line and col count from 1.  file is borrowed from the
 * struct conf (or struct conf_errors) it came with. */
struct conf_mark {
	const char	*file;
	int		 line;
	int		 col;
};

enum conf_kind {
	CONF_SCALAR,
	CONF_MAP,
	CONF_SEQ,
};

/*
 * A YAML value, kept as written: the task's `config:` mapping is handed to
 * the plugin in this form.  Scalars keep their text (`value`) and whether
 * they were quoted; a plain `~`, `null` or empty scalar has value "" and
 * is_null set.  A map has n keys/items in file order, no key twice; a seq
 * has n items and keys == NULL.  Every pointer is owned by the node.
 */
struct conf_node {
	enum conf_kind		 kind;
	struct conf_mark	 mark;
	char			*value;		/* CONF_SCALAR */
	int			 quoted;	/* CONF_SCALAR: '...', "...",
						 * | or > */
	int			 is_null;	/* CONF_SCALAR */
	size_t			 n;		/* CONF_MAP, CONF_SEQ */
	char			**keys;		/* CONF_MAP */
	struct conf_mark	*key_marks;	/* CONF_MAP */
	struct conf_node	**items;	/* CONF_MAP, CONF_SEQ */
};

/*
 * The one YAML document in text[0..len) as a new tree (free with
 * tree_free()), or NULL when it cannot be read at all (a syntax error, an
 * empty file, memory).  Problems are added to errs, and errs->file is the
 * file of every mark (borrowed: it must outlive the tree).  A tree comes
 * back even with problems: what was refused is left out (a duplicate key,
 * a key that is not a scalar) or replaced by a null scalar (an alias, whose
 * mark errs then keeps quiet).  errlist_failed(errs) tells them apart.
 */
struct conf_node *tree_load(const char *text, size_t len,
		    struct errlist *errs);

/* Free node and everything under it; NULL is allowed. */
void		 tree_free(struct conf_node *node);

/* map's value for key: borrowed from map; NULL when map is not a mapping,
 * or has no such key. */
struct conf_node *tree_map_get(const struct conf_node *map,
		    const char *key);

/*
 * 1 when a and b hold the same values in the same shape, else 0.  Kinds,
 * scalar text, quoted, is_null, keys and their order (a plugin can see
 * the order) all count; marks do not.  NULL equals only NULL.
 */
int		 tree_equal(const struct conf_node *a,
		    const struct conf_node *b);

#endif /* LOOPD_TREE_H */
