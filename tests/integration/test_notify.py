"""sd_notify: a test-owned NOTIFY_SOCKET sees READY=1 then STOPPING=1."""

import signal
import unittest

from loopd_harness import LoopdTestCase, echo_roundtrip, loop, task


class NotifyTest(LoopdTestCase):

    def test_ready_then_stopping(self):
        notify = self.notify_socket()
        d = self.start([loop("net", task("echo", "echo", port=0)),
                        loop("clock", task("tick", "ticker",
                                           interval="1s"))],
                       extra_env={"NOTIFY_SOCKET": notify.path})
        ready = notify.wait_for("READY", "1")
        # READY means every task runs: the echo answers now, and its
        # "listening" and "running" records were written before READY was
        # sent (the reader thread may still be catching up, hence a wait).
        port = d.echo_port(timeout=5)
        self.assertEqual(echo_roundtrip(port, b"ready?"), b"ready?")
        running = d.wait_record(event="task_state", task="echo",
                                state="running", timeout=5)
        rec = d.wait_record(event="ready", timeout=5)
        self.assertLess(d.index_of(running), d.index_of(rec))
        self.assertIn("STATUS", ready, "READY=1 without STATUS=")
        self.assertRegex(ready["STATUS"], r"\b2 of 2 tasks\b")
        self.assertEqual(notify.index("STOPPING", "1"), -1,
                         "STOPPING=1 before any signal")

        d.signal(signal.SIGTERM)
        stopping = notify.wait_for("STOPPING", "1")
        self.assertIn("STATUS", stopping)
        self.assertEqual(d.wait_exit(), 0)
        self.assertLess(notify.index("READY", "1"),
                        notify.index("STOPPING", "1"))
        self.assertEqual(sum(1 for m in notify.messages
                             if m.get("READY") == "1"), 1, notify.messages)
        self.assertEqual(sum(1 for m in notify.messages
                             if m.get("STOPPING") == "1"), 1, notify.messages)
        d.assert_no_process_left(timeout=0.5)

    def test_ready_counts_failed_tasks(self):
        """READY=1 still comes when a task fails at start; STATUS says how
        many tasks run."""
        notify = self.notify_socket()
        d = self.start([loop("l", task("tick", "ticker", interval="1s"),
                             task("fail", "failer", when="start"))],
                       extra_env={"NOTIFY_SOCKET": notify.path})
        ready = notify.wait_for("READY", "1")
        self.assertRegex(ready.get("STATUS", ""), r"\b1 of 2 tasks\b")
        d.wait_record(event="task_error", task="fail", timeout=5)
        d.signal(signal.SIGTERM)
        notify.wait_for("STOPPING", "1")
        self.assertEqual(d.wait_exit(), 1)

    def test_sigterm_before_ready(self):
        """A stop before every task has started: STOPPING=1 and a clean
        exit, never a READY=1 after STOPPING=1."""
        notify = self.notify_socket()
        d = self.start([loop("l", task("tick", "ticker", interval="1s"))],
                       extra_env={"NOTIFY_SOCKET": notify.path})
        d.wait_record(event="start")
        d.signal(signal.SIGTERM)
        notify.wait_for("STOPPING", "1")
        self.assertEqual(d.wait_exit(), 0)
        r, s = notify.index("READY", "1"), notify.index("STOPPING", "1")
        self.assertTrue(r == -1 or r < s, notify.messages)


if __name__ == "__main__":
    unittest.main()
