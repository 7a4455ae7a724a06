/*
 * nodesc: a shared object that loads but is not a loopd plugin.
 */
#include <loopd/plugin.h>

LOOPD_API int nodesc_answer(void);

int
nodesc_answer(void)
{
	return 42;
}
