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
        self.assertEqual(d.wait_exit(), 0)

    def test_huge_log_record_leaves_a_trace(self):
        d = self.start([loop("l", task("big", "ticker", interval="50ms",
                                       message=HUGE),
                             task("small", "ticker", interval="50ms"))])
        d.wait_record(task="small", msg="tick 3")
        # Either the record itself (perhaps cut short) or a warning that
        # records were dropped.
        d.wait_for(lambda r: (r.get("task") == "big" and
                              r.get("msg", "").startswith("xxxx")) or
                   re.search(r"drop|truncat|too (long|large)",
                             r.get("msg", "")) is not None,
                   timeout=5, what="the big ticker's record, or a note that "
                   "it was dropped")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)


if __name__ == "__main__":
    unittest.main()
