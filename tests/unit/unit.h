/*
 * unit.h: what every Check suite's main() does.
 */
#ifndef LOOPD_TEST_UNIT_H
#define LOOPD_TEST_UNIT_H

#include <check.h>
#include <stdlib.h>

/* Run s (stolen), forking each test; the exit status for ctest. */
static inline int
unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* LOOPD_TEST_UNIT_H */
