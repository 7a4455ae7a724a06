/*
 * symbolize.h: a dead worker's backtrace, made readable, and the task whose
 * code it was in.
 *
 * The worker's crash handler writes backtrace_symbols_fd() lines, which
 * name a file and an offset in it but no hidden or static function.  The
 * supervisor, after it reaped the worker, reads each file the frames name
 * from disk with elfutils (libdwfl) and finds the function and, when the
 * file has debug information, the source line.  Nothing else is opened:
 * no separate debug file, no build-id directory, no debuginfod.
 *
 * The worker wrote the lines, so they are claims: a file named there may
 * be missing, replaced, huge, a FIFO, or not ELF at all.  Such a frame
 * keeps its raw line and lacks what could not be found; the work is
 * bounded by SYMBOLIZE_FILE_MAX bytes per file, SYMBOLIZE_FILES_MAX files
 * and SYMBOLIZE_FRAMES_MAX frames.
 *
 * Supervisor main thread only.
 */
#ifndef LOOPD_SYMBOLIZE_H
#define LOOPD_SYMBOLIZE_H

#include <stddef.h>

#include <jansson.h>

#include "config.h"

/* A larger file is not read. */
#define SYMBOLIZE_FILE_MAX	(256 * 1024 * 1024)
/* Frames in more files than this keep only what their line says. */
#define SYMBOLIZE_FILES_MAX	16
/* Frames after this many are left out of the result. */
#define SYMBOLIZE_FRAMES_MAX	64

/*
 * raw (borrowed) is an array of backtrace_symbols_fd() lines, innermost
 * frame first, the first one being where the signal hit (crash.c writes
 * them so).  Returns a new array (json_decref()) of one object per frame:
 *
 *   raw       the line as the worker wrote it (always there)
 *   file      the file the line names
 *   offset    "0x..", the address in the file (its ELF virtual address)
 *   function  the symbol that holds it
 *   symbol_offset "0x..", the address's offset in that symbol
 *   source    "FILE:LINE" from the file's debug information
 *
 * each field but raw only when it is known.  NULL when raw is NULL or not
 * an array, or memory ran out.
 */
json_t	*symbolize_frames(const json_t *raw);

/*
 * The same for addresses of this process: addrs[i] is taken for a return
 * address (its call is described) when i >= first_return, else for an
 * exact one (a function pointer, the instruction a signal hit).  Any
 * thread, not in a signal handler: it allocates and reads files.
 */
json_t	*symbolize_addrs(void *const *addrs, size_t n, size_t first_return);

/* Who is to blame for a crash outside any task's code. */
struct symbolize_blame {
	const char		*plugin;	/* its name, or NULL */
	const struct task_conf	*task;		/* the one task, or NULL */
	json_t			*suspects;	/* names, when several */
};

/*
 * The innermost frame of frames (as symbolize_frames() returns them,
 * borrowed) whose file is the plugin of a task of loop (borrowed), files
 * compared by their resolved paths: that plugin, and its tasks on the loop.
 * b->plugin and b->task point into loop; b->suspects is a new array of task
 * names when more than one task uses the plugin (json_decref(), or steal
 * it into a record), else NULL.  Returns 0, or -1 when no frame is in a
 * plugin of the loop (b is then all NULL).
 */
int	 symbolize_blame(const json_t *frames, const struct loop_conf *loop,
	    struct symbolize_blame *b);

#endif /* LOOPD_SYMBOLIZE_H */
