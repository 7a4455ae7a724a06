"""The plugin loader: plugins of a newer ABI and plugins that lack a
symbol.
Each refused plugin is one task_error record; the rest of loopd runs."""

import os
import signal
import unittest

from loopd_harness import LoopdTestCase, echo_roundtrip, loop, task


class AbiTest(LoopdTestCase):

    def test_newer_abi_with_newer_symbols(self):
        """A plugin built against a newer loopd calls loopd_* functions
        this one lacks: the operator reads plugin_abi, "upgrade loopd or
        rebuild", not "undefined symbol".  A plugin of this ABI that lacks
        a symbol is still refused when it is loaded."""
        pdir = self.plugin_dir()
        d = self.start([loop("l", task("echo", "echo", port=0),
                             task("new", "newabi"),
                             task("unbound", "unbound"))])
        port = d.echo_port()
        err = d.wait_record(event="task_error", task="new")
        self.assertErrorRecord(err, "l", "new", "newabi", "plugin_abi")
        msg = err["error"]["message"]
        self.assertIn(os.path.join(pdir, "newabi.so"), msg)
        self.assertIn("upgrade loopd", msg)
        self.assertIn("rebuild", msg)
        self.assertRegex(msg, r"\b1\.1\b")
        self.assertNotIn("undefined symbol", msg)
        err = d.wait_record(event="task_error", task="unbound")
        self.assertErrorRecord(err, "l", "unbound", "unbound",
                               "plugin_not_loadable")
        self.assertIn("loopd_future_call", err["error"]["message"])
        self.assertIn("1 of 3", d.wait_ready()["msg"])
        self.assertEqual(echo_roundtrip(port, b"alive"), b"alive")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        self.assertEqual(len(d.find(event="task_error")), 2)
        d.assert_no_process_left(timeout=0.5)


if __name__ == "__main__":
    unittest.main()
