"""Records too large for one IPC frame (1 MiB) must not vanish.

A worker reports task states and log records to the supervisor in frames of
at most IPC_FRAME_MAX bytes.  What a plugin writes is not bounded: an error
message or a log line can be longer.  Whatever loopd does with it (truncate,
refuse, count and report), the task's failure must still be known, READY=1
must still come, and a dropped record must leave a trace.
"""

import re
import signal
import unittest

from loopd_harness import LoopdTestCase, loop, task

HUGE = "x" * (1100 * 1024)      # more than one 1 MiB frame


class OversizedRecordTest(LoopdTestCase):

    def test_failure_with_huge_message_is_reported(self):
        notify = self.notify_socket()
        d = self.start([loop("l", task("fail", "failer", when="start",
                                       message=HUGE),
                             task("tick", "ticker", interval="50ms"))],
                       extra_env={"NOTIFY_SOCKET": notify.path})
        d.wait_record(task="tick", msg="tick 2")
        err = d.wait_record(event="task_error", task="fail", timeout=5)
        self.assertEqual(err["error"]["type"], "test_failure")
        self.assertTrue(err["error"]["message"].startswith("xxxx"))
        rec = d.wait_record(event="ready", timeout=5)
        self.assertIn("1 of 2 tasks", rec["msg"])
        notify.wait_for("READY", "1", timeout=5)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)

    def test_failure_whose_escaped_message_passes_a_frame(self):
        """300,000 control bytes escape to 1.8 MB of JSON: the failure is
        still reported (cut, and saying so), and READY=1 still comes."""
        notify = self.notify_socket()
        d = self.start([loop("l", task("bigfail", "failer", when="start",
                                       control=300000),
                             task("tick", "ticker", interval="50ms"))],
                       extra_env={"NOTIFY_SOCKET": notify.path})
        err = d.wait_record(event="task_error", task="bigfail", timeout=5)
        self.assertEqual(err["error"]["type"], "test_failure")
        message = err["error"]["message"]
        self.assertTrue(message.startswith("\x01" * 100), message[:20])
        self.assertIn("[truncated: 300000 bytes in all]", message)
        notify.wait_for("READY", "1", timeout=5)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)

    def test_huge_log_record_is_cut_not_lost(self):
        d = self.start([loop("l", task("big", "ticker", interval="50ms",
                                       message=HUGE),
                             task("small", "ticker", interval="50ms"))])
        d.wait_record(task="small", msg="tick 3")
        rec = d.wait_record(task="big", msg=re.compile(r"^xxxx"), timeout=5)
        self.assertRegex(rec["msg"], r"\.\.\. \[truncated: %d bytes in "
                         r"all\]$" % (len(HUGE) + len(" 1")))
        self.assertLess(len(rec["msg"]), 70 * 1024)
        self.assertEqual(d.find(event="log_dropped"), [])
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)


if __name__ == "__main__":
    unittest.main()
