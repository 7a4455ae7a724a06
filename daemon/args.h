/*
 * args.h: the loopd_args_* getters over a task's `config:` mapping.
 *
 * A struct loopd_args points at a conf_node tree (borrowed from the struct
 * conf, which outlives the task) and at a callback that hears about values
 * of the wrong type.  The worker sets the callback to fail the task; tests
 * set their own.  Getters never allocate.
 */
#ifndef LOOPD_ARGS_H
#define LOOPD_ARGS_H

#include "loopd/plugin.h"
#include "tree.h"

/* Called once per bad value with a message such as
 * "conf/loopd.yaml:12:15: config.port: expected an integer, got \"abc\"". */
typedef void	(*args_error_fn)(void *ctx, const char *msg);

struct loopd_args {
	const struct conf_node	*root;		/* borrowed; NULL: no config */
	args_error_fn		 on_error;	/* may be NULL */
	void			*ctx;
};

void	args_init(struct loopd_args *args, const struct conf_node *root,
	    args_error_fn on_error, void *ctx);

/* The node at `path` (see loopd_args_string()), or NULL.  Borrowed. */
const struct conf_node *args_lookup(const struct conf_node *root,
	    const char *path);

/*
 * s as the integer getter reads it (decimal or 0x hex, with a sign):
 * 0 and *out, -1 when s is not an integer, -2 when it is out of range.
 */
int	args_parse_int(const char *s, int64_t *out);

/* What was found at node, for a message: "\"abc\"" (shown in buf, of len
 * bytes), "a mapping", "a sequence".  Returns buf or a constant. */
const char *args_found(const struct conf_node *node, char *buf, size_t len);

#endif /* LOOPD_ARGS_H */
