"""Crash reports that name the function and the task: the supervisor
symbolizes a dead worker's backtrace from the files on disk, and names the
task whose plugin the crash was in, also when libevent called the plugin's
code directly."""

import os
import re
import signal
import unittest

from loopd_harness import LoopdTestCase, env, loop, task


def source_line(name, text):
    """The line number of text in tests/plugins/NAME."""
    path = os.path.join(env("LOOPD_SOURCE_DIR"), "tests", "plugins", name)
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if text in line:
                return n
    raise AssertionError("%r is not in %s" % (text, path))


class SymbolizeTest(LoopdTestCase):

    def run_crash(self, loops, fifo=None, before_crash=None):
        """Start loopd, let the one crash happen, stop; the task_error."""
        asan = os.environ.get("ASAN_OPTIONS", "")
        d = self.start(loops, allow_crash_report=True, extra_env={
            "ASAN_OPTIONS": (asan + ":" if asan else "")
            + "handle_segv=0:handle_abort=0"})
        if fifo is not None:
            d.wait_ready()
            if before_crash is not None:
                before_crash()
            with open(fifo, "wb") as f:
                f.write(b"x")
        err = d.wait_record(event="task_error")
        self.assertEqual(err.get("signal"), "SIGSEGV", err)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)
        self.assertEqual(len(d.find(event="task_error")), 1)
        d.assert_no_process_left(timeout=0.5)
        return err

    def frames(self, err):
        bt = err.get("backtrace")
        self.assertIsInstance(bt, list, err)
        self.assertGreater(len(bt), 3, bt)
        for f in bt:
            self.assertIsInstance(f, dict, bt)
            self.assertIsInstance(f.get("raw"), str, f)
        # The main program is named by its path, with its functions.
        main = [f for f in bt
                if f.get("file") == os.path.realpath(env("LOOPD_BIN"))
                or f.get("file") == env("LOOPD_BIN")]
        self.assertTrue(main, bt)
        self.assertTrue(any(f.get("function") for f in main), main)
        return bt

    def assertFault(self, frame, plugin, function, source, text):
        """The first frame is where the signal hit: the plugin's function
        and source line, from its symbol table and debug information."""
        self.assertTrue(frame.get("file", "").endswith("/%s.so" % plugin),
                        frame)
        self.assertEqual(frame.get("function"), function, frame)
        self.assertRegex(frame.get("offset", ""), r"^0x[0-9a-f]+$")
        self.assertIn("(+%s)" % frame["offset"], frame["raw"])
        line = source_line(source, text)
        self.assertTrue(frame.get("source", "").endswith(
            "/tests/plugins/%s:%d" % (source, line)), frame)

    def test_api_callback(self):
        """(a) A fault in a timer callback: crasher_fire, crasher.c:LINE."""
        err = self.run_crash([loop("doomed", task("crash", "crasher",
                                                  after="20ms"))])
        self.assertErrorRecord(err, "doomed", "crash", "crasher", "crash")
        bt = self.frames(err)
        self.assertFault(bt[0], "crasher", "crasher_fire", "crasher.c",
                         "*nowhere = 0;")
        # The caller's frame is loopd's timer dispatch, a return address.
        self.assertTrue(any(f.get("function") == "timer_run" for f in bt),
                        bt)

    def test_libevent_callback_one_task(self):
        """(b) A fault in a callback libevent called directly names the
        only task of the loop that uses the plugin."""
        err = self.run_crash([loop("raw",
                                   task("tick", "ticker", interval="1s"),
                                   task("boom", "rawcrash", after="20ms"))])
        self.assertErrorRecord(err, "raw", "boom", "rawcrash", "crash")
        self.assertNotIn("suspects", err)
        self.assertNotIn("outside any task", err["msg"])
        self.assertIn("'boom'", err["msg"])
        self.assertEqual(sorted(err["lost_tasks"]), ["boom", "tick"])
        bt = self.frames(err)
        self.assertFault(bt[0], "rawcrash", "rawcrash_in_libevent_callback",
                         "rawcrash.c", "*nowhere = 0;")

    def test_libevent_callback_shared_plugin(self):
        """(c) Two tasks of the plugin on the loop: both are suspects."""
        err = self.run_crash([loop("raw",
                                   task("first", "rawcrash", after="20ms"),
                                   task("tick", "ticker", interval="1s"),
                                   task("second", "rawcrash",
                                        after="10s"))])
        self.assertEqual(err.get("loop"), "raw", err)
        self.assertEqual(err.get("plugin"), "rawcrash", err)
        self.assertNotIn("task", err)
        self.assertEqual(err.get("suspects"), ["first", "second"], err)
        self.assertIn("suspects", err["msg"])
        self.assertIn("'first', 'second'", err["msg"])
        self.assertEqual(err["error"]["type"], "crash")
        bt = self.frames(err)
        self.assertEqual(bt[0].get("function"),
                         "rawcrash_in_libevent_callback", bt[0])

    def replaced_plugin(self, make):
        """(d) The plugin's file replaced, after it was loaded, by what
        make(path) puts there: the record still comes, still names the
        task, and the frame keeps its raw line."""
        pdir = self.plugin_dir()
        fifo = os.path.join(self.tmp, "trigger")
        os.mkfifo(fifo)
        path = os.path.join(pdir, "rawcrash.so")

        def replace():
            os.unlink(path)
            make(path)
        err = self.run_crash([loop("raw", task("boom", "rawcrash",
                                               fifo=fifo))],
                             fifo=fifo, before_crash=replace)
        self.assertErrorRecord(err, "raw", "boom", "rawcrash", "crash")
        bt = err["backtrace"]
        self.assertTrue(bt[0]["file"].endswith("/rawcrash.so"), bt[0])
        self.assertIn("rawcrash.so(+0x", bt[0]["raw"])
        self.assertNotIn("function", bt[0])
        self.assertNotIn("source", bt[0])
        # The other files are still read.
        self.assertTrue(any(f.get("function") == "event_base_loop"
                            for f in bt), bt)

    def test_plugin_file_garbage(self):
        def garbage(path):
            with open(path, "wb") as f:
                f.write(b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 64)
        self.replaced_plugin(garbage)

    def test_plugin_file_truncated(self):
        real = os.path.join(env("LOOPD_TEST_PLUGINS"), "rawcrash.so")

        def truncated(path):
            with open(real, "rb") as f:
                data = f.read()
            with open(path, "wb") as f:
                f.write(data[:len(data) // 3])
        self.replaced_plugin(truncated)

    def test_plugin_file_fifo(self):
        """A FIFO where the file was must not block the supervisor."""
        self.replaced_plugin(os.mkfifo)


if __name__ == "__main__":
    unittest.main()
