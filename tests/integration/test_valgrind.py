"""The daemon's own code leaks nothing and touches no bad memory.

loopd runs under valgrind (memcheck, following the forked workers) through
a start, an echo, a task that fails, a plugin refused for its ABI, and a
SIGTERM shutdown.  Every process's report must say 0 errors, leaks of the
definite and indirect kinds counted as errors.  Skipped in sanitizer builds,
which valgrind cannot run.
"""

import glob
import os
import re
import shutil
import signal
import unittest

from loopd_harness import Daemon, LoopdTestCase, echo_roundtrip, loop, task

SLOW = 60.0     # valgrind is 20-50 times slower than the real thing


@unittest.skipIf(os.environ.get("LOOPD_SANITIZE"),
                 "a sanitizer build cannot run under valgrind")
@unittest.skipUnless(shutil.which("valgrind"), "valgrind is not installed")
class ValgrindTest(LoopdTestCase):

    def test_no_leak_no_error(self):
        config = self.write_config([
            loop("net", task("echo", "echo", port=0),
                 task("fail", "failer", after="20ms"),
                 task("abi", "badabi")),
            loop("clock", task("tick", "ticker", interval="20ms"),
                 backend="poll"),
        ], grace="5s")
        logs = os.path.join(self.tmp, "vg.%p.log")
        argv = ["valgrind", "--trace-children=yes", "--leak-check=full",
                "--show-leak-kinds=definite,indirect",
                "--errors-for-leak-kinds=definite,indirect",
                "--log-file=" + logs, self.bin, "-c", config]
        d = Daemon(self, argv, self.tmp)
        self.addCleanup(d.close)
        d.wait_ready(timeout=SLOW)
        port = d.echo_port(timeout=SLOW)
        self.assertEqual(echo_roundtrip(port, b"under valgrind\n",
                                        timeout=SLOW), b"under valgrind\n")
        d.wait_record(event="task_error", task="fail", timeout=SLOW)
        d.wait_record(task="tick", msg="tick 2", timeout=SLOW)
        d.signal(signal.SIGTERM)
        # failer failed: not a clean run
        self.assertEqual(d.wait_exit(timeout=SLOW), 1)

        reports = sorted(glob.glob(os.path.join(self.tmp, "vg.*.log")))
        self.assertGreaterEqual(len(reports), 3,
                                "want the supervisor and two workers")
        for path in reports:
            with open(path) as f:
                text = f.read()
            m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
            self.assertIsNotNone(m, "no summary in %s:\n%s" % (path, text))
            self.assertEqual(m.group(1), "0", "%s:\n%s" % (path, text))


if __name__ == "__main__":
    unittest.main()
