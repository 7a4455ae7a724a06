"""Task failures, worker crashes and plugins that cannot be loaded: each is
one task_error record, and the rest of loopd keeps running."""

import os
import re
import signal
import unittest

from loopd_harness import LoopdTestCase, echo_roundtrip, loop, task

FAILER_MSG = "failed on purpose: \"quoted\"\nsecond line \ufffd end"


class TaskFailureTest(LoopdTestCase):

    def failer_beside_others(self, when):
        d = self.start([loop("work",
                             task("tick", "ticker", interval="20ms"),
                             task("fail", "failer", when=when, after="10ms"),
                             task("echo", "echo", port=0))])
        port = d.echo_port()
        err = d.wait_record(event="task_error")
        worker = d.worker_pid("work")
        self.assertErrorRecord(err, "work", "fail", "failer", "test_failure")
        # The plugin's message survives quotes, a newline and a byte that is
        # not UTF-8 (replaced by U+FFFD) inside one valid JSON line.
        self.assertEqual(err["error"]["message"], FAILER_MSG)
        self.assertIn(FAILER_MSG, err["msg"])
        self.assertEqual(err["pid"], worker, "pid is not the worker's")
        # The others on the same loop go on.
        n = d.mark()
        d.wait_record(after=n, task="tick", msg=re.compile(r"^tick \d+$"))
        d.wait_record(after=d.mark(), task="tick",
                      msg=re.compile(r"^tick \d+$"))
        self.assertEqual(echo_roundtrip(port, b"still there"), b"still there")
        self.assertEqual(len(d.find(event="task_error")), 1,
                         d.find(event="task_error"))
        ran = d.find(event="task_state", task="fail", state="running")
        ready = d.wait_ready()
        if when == "start":
            self.assertEqual(ran, [], "a task that failed in start ran")
            self.assertIn("2 of 3 tasks", ready["msg"])
        else:
            self.assertEqual(len(ran), 1)
            self.assertLess(d.index_of(ran[0]), d.index_of(err))
            self.assertIn("3 of 3 tasks", ready["msg"])
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)
        self.assertEqual(len(d.find(event="task_error")), 1,
                         "a failed task was reported again at shutdown")
        d.assert_no_process_left(timeout=0.5)

    def test_failure_later(self):
        self.failer_beside_others("later")

    def test_failure_at_start(self):
        self.failer_beside_others("start")


class CrashTest(LoopdTestCase):
    """A worker that dies takes its loop with it, and only its loop."""

    def crash(self, how):
        # ASan would catch the SIGSEGV itself and exit(1) instead of dying
        # by the signal, which is what a plain build does and what this
        # test is about.
        asan = os.environ.get("ASAN_OPTIONS", "")
        d = self.start([loop("net", task("echo", "echo", port=0)),
                        loop("doomed",
                             task("tick", "ticker", interval="20ms"),
                             task("crash", "crasher", how=how,
                                  after="100ms"))],
                       extra_env={"ASAN_OPTIONS": (asan + ":" if asan else "")
                                  + "handle_segv=0:handle_abort=0"},
                       allow_crash_report=True)
        port = d.echo_port()
        doomed = d.worker_pid("doomed")
        d.wait_ready()
        self.assertEqual(echo_roundtrip(port, b"before"), b"before")
        err = d.wait_record(event="task_error")
        self.assertErrorRecord(err, "doomed", "crash", "crasher",
                               "crash" if how != "exit" else "exit")
        self.assertEqual(err["pid"], doomed)
        self.assertEqual(sorted(err.get("lost_tasks", [])), ["crash", "tick"])
        self.assertIn("crash", err["msg"])
        # What the task said just before it went is not lost.
        warn = d.wait_record(task="crash", msg="about to %s" % how, timeout=0)
        self.assertLess(d.index_of(warn), d.index_of(err))
        # The other loop is untouched.
        for i in range(3):
            msg = b"after crash %d" % i
            self.assertEqual(echo_roundtrip(port, msg), msg)
        self.assertEqual(len(d.find(event="task_error")), 1)
        n = d.mark()
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)
        d.wait_record(after=n, task="echo", event="task_state", state="done",
                      timeout=0)
        d.assert_no_process_left(timeout=0.5)
        return err

    def assertBacktrace(self, err):
        """The crash reporter ran: the dying worker's stack reached the
        record, through the plugin's code and loopd's own."""
        bt = err.get("backtrace")
        self.assertIsInstance(bt, list, err)
        self.assertGreater(len(bt), 3, bt)
        for frame in bt:
            self.assertIsInstance(frame.get("raw"), str, frame)
        self.assertTrue(any("crasher.so" in f["raw"] for f in bt), bt)
        self.assertTrue(any(re.search(r"/loopd\(", f["raw"]) for f in bt),
                        bt)

    def test_segv(self):
        err = self.crash("segv")
        self.assertEqual(err.get("signal"), "SIGSEGV")
        self.assertEqual(err.get("signo"), 11)
        self.assertNotIn("exit_status", err)
        self.assertBacktrace(err)

    def test_abort(self):
        err = self.crash("abort")
        self.assertEqual(err.get("signal"), "SIGABRT")
        self.assertEqual(err.get("signo"), 6)
        self.assertBacktrace(err)

    def test_exit_7(self):
        err = self.crash("exit")
        self.assertEqual(err.get("exit_status"), 7)
        self.assertNotIn("signal", err)


class PluginLoadTest(LoopdTestCase):
    """Plugins that cannot be used are refused one by one, with a message
    that names the file; the echo on the same loop runs."""

    def test_bad_plugins_are_refused(self):
        pdir = self.plugin_dir()
        with open(os.path.join(pdir, "notelf.so"), "w") as f:
            f.write("this is not an ELF file\n")
        cases = {
            "abi": ("badabi", "plugin_abi"),
            "garbage": ("notelf", "plugin_not_loadable"),
            "nodesc": ("nodesc", "plugin_no_descriptor"),
        }
        d = self.start([loop("mixed", task("echo", "echo", port=0),
                             task("missing", "nosuchplugin"),
                             *[task(name, plugin) for name, (plugin, _)
                               in cases.items()]),
                        loop("clock", task("tick", "ticker",
                                           interval="50ms"))])
        port = d.echo_port()
        ready = d.wait_ready()
        self.assertIn("2 of 6", ready["msg"])
        for name, (plugin, etype) in cases.items():
            with self.subTest(task=name):
                err = d.wait_record(event="task_error", task=name, timeout=0)
                self.assertErrorRecord(err, "mixed", name, plugin, etype)
                path = os.path.join(pdir, plugin + ".so")
                self.assertIn(path, err["error"]["message"])
        abi = d.wait_record(event="task_error", task="abi", timeout=0)
        self.assertRegex(abi["error"]["message"], r"\b2\.0\b")
        self.assertRegex(abi["error"]["message"], r"\b1\.1\b")
        self.assertEqual(len(d.find(event="task_error")), len(cases))
        # A plugin file that does not exist is waited for, not failed.
        waits = d.find(task="missing", state="waiting_for_plugin")
        self.assertEqual(len(waits), 1)
        self.assertIn(os.path.join(pdir, "nosuchplugin.so"), waits[0]["msg"])
        self.assertEqual(echo_roundtrip(port, b"alive"), b"alive")
        d.wait_record(task="tick", msg="tick 1")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)
        d.assert_no_process_left(timeout=0.5)


if __name__ == "__main__":
    unittest.main()
