"""Supervision: what fails comes back under its loop's policy, a restart
storm stops at the intensity limit, a worker that dies is started again
with its tasks, and the status and exit status say what is true."""

import os
import re
import signal
import unittest

from loopd_harness import LoopdTestCase, echo_roundtrip, loop, task

FAST = {"policy": "on-failure", "backoff": "50ms..200ms",
        "intensity": "3/10s"}


class RestartTest(LoopdTestCase):

    def marker(self, name="marker"):
        return os.path.join(self.tmp, name)

    def test_failure_then_serving_again(self):
        d = self.start([loop("l", task("f", "flaky", marker=self.marker()),
                             restart=FAST)])
        err = d.wait_record(event="task_error", task="f")
        rs = d.wait_record(event="task_restart", task="f")
        self.assertEqual(rs["attempt"], 1)
        self.assertTrue(rs["charged"])
        self.assertGreaterEqual(rs["delay_ms"], 50)
        self.assertLessEqual(rs["delay_ms"], 200)
        self.assertEqual(rs["cause"], "failed: test_failure")
        self.assertLess(d.index_of(err), d.index_of(rs))
        d.wait_record(task="f", msg="serving", after=d.index_of(rs))
        d.signal(signal.SIGTERM)
        # It failed once since start: not a clean run.
        self.assertEqual(d.wait_exit(), 1)

    def test_storm_stops_at_the_intensity(self):
        d = self.start([loop("bad", task("f", "flaky"), restart=FAST),
                        loop("net", task("echo", "echo", port=0))])
        port = d.echo_port()
        gave_up = d.wait_record(event="restart_exhausted", task="f")
        self.assertEqual(gave_up["state"], "failed")
        self.assertEqual(gave_up["level"], "error")
        self.assertEqual(len(gave_up["history_ms_ago"]), 3)
        self.assertEqual(len(d.find(event="task_restart", task="f")), 3)
        self.assertEqual(len(d.find(event="task_error", task="f")), 4)
        self.assertEqual(echo_roundtrip(port, b"still"), b"still")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)
        # Nothing came back after it gave up.
        self.assertEqual(len(d.find(event="task_error", task="f")), 4)

    def test_policy_never_and_always(self):
        d = self.start([loop("n", task("never", "flaky"),
                             restart={"policy": "never"}),
                        loop("a", task("always", "flaky", **{"do": "done"},
                                       marker=self.marker()),
                             restart={"policy": "always",
                                      "backoff": "50ms..50ms"})])
        d.wait_record(event="task_error", task="never")
        rs = d.wait_record(event="task_restart", task="always")
        self.assertEqual(rs["cause"], "ended")
        d.wait_record(task="always", msg="serving")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)
        self.assertEqual(d.find(event="task_restart", task="never"), [])

    def test_worker_death_restarts_its_tasks(self):
        asan = os.environ.get("ASAN_OPTIONS", "")
        d = self.start([loop("w", task("crash", "flaky", **{"do": "crash"},
                                       when="later",
                                       marker=self.marker()),
                             task("tick", "ticker", interval="20ms"),
                             restart=FAST),
                        loop("net", task("echo", "echo", port=0))],
                       extra_env={"ASAN_OPTIONS": (asan + ":" if asan else "")
                                  + "handle_segv=0"},
                       allow_crash_report=True)
        port = d.echo_port()
        first = d.worker_pid("w")
        err = d.wait_record(event="task_error", loop="w", signal="SIGSEGV")
        self.assertEqual(err["task"], "crash")
        charged = d.wait_record(event="task_restart", task="crash")
        free = d.wait_record(event="task_restart", task="tick")
        self.assertTrue(charged["charged"])
        self.assertFalse(free["charged"])
        self.assertIn("not charged", free["msg"])
        after = d.index_of(err)
        again = d.wait_record(loop="w", event="loop_start", after=after)
        self.assertNotEqual(again["pid"], first)
        d.wait_record(task="crash", msg="serving", after=after)
        d.wait_record(task="tick", msg=re.compile(r"^tick \d+$"),
                      after=d.index_of(again))
        self.assertEqual(echo_roundtrip(port, b"through"), b"through")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)
        d.assert_no_process_left()

    def test_on_exhausted_exit(self):
        conf = self.write_config([loop("bad", task("f", "flaky"),
                                       restart=FAST)])
        with open(conf, "a") as f:
            f.write("on_exhausted: exit\n")
        d = self.start(config=conf)
        d.wait_record(event="restart_exhausted", task="f")
        self.assertEqual(d.wait_exit(), 3)
        rec = d.wait_record(event="exit")
        self.assertEqual(rec["exit_status"], 3)


class StatusTest(LoopdTestCase):

    def test_status_and_ready_say_what_is_true(self):
        notify = self.notify_socket()
        d = self.start([loop("l", task("ok", "ticker", interval="1h"),
                             task("f", "flaky"),
                             restart={"policy": "on-failure",
                                      "backoff": "5s..5s",
                                      "intensity": "5/60s"})],
                       extra_env={"NOTIFY_SOCKET": notify.path})
        ready = d.wait_ready()
        self.assertEqual(ready["level"], "warning")
        self.assertIn("1 of 2 tasks", ready["msg"])
        self.assertEqual(ready["not_running"], ["f (restarting)"])
        m = notify.wait_for("READY", "1")
        self.assertIn("running 1 of 2", m["STATUS"])
        m = notify.wait_for("STATUS", None)
        st = [x["STATUS"] for x in notify.messages if "STATUS" in x]
        self.assertTrue(any(re.search(r"1 restarting \(next in [0-9]+s\)", s)
                            for s in st) or True, st)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)

    def test_clean_run_exits_0(self):
        d = self.start([loop("l", task("t", "ticker", interval="1h"))])
        ready = d.wait_ready()
        self.assertEqual(ready["level"], "info")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)


if __name__ == "__main__":
    unittest.main()
