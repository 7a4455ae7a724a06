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


class HangTest(LoopdTestCase):
    """A loop stuck in plugin code is reported while it is stuck, with the
    function that spins, and the other loops go on."""

    def hang(self, when, action="restart"):
        timeout = "start_timeout" if when == "start" else "hang_timeout"
        d = self.start([loop("stuck", task("spin", "flaky", **{"do": "spin"},
                                           when=when, after="10ms",
                                           marker=os.path.join(self.tmp,
                                                               "m")),
                             restart=FAST, hang_action=action,
                             **{timeout: "1s"}),
                        loop("net", task("echo", "echo", port=0))])
        port = d.echo_port()
        stuck = d.worker_pid("stuck")
        rec = d.wait_record(event="task_hang", timeout=15)
        self.assertEqual(rec["task"], "spin")
        self.assertEqual(rec["loop"], "stuck")
        self.assertEqual(rec["function"], "flaky_spin")
        self.assertEqual(rec["error"]["type"], "hang")
        self.assertGreaterEqual(rec["duration_ms"], 1000)
        self.assertLess(rec["duration_ms"], 3000)
        self.assertEqual(rec["action"], action)
        self.assertEqual(rec["backtrace"][0]["function"], "flaky_spin")
        self.assertEqual(echo_roundtrip(port, b"meanwhile"), b"meanwhile")
        return d, stuck, rec

    def test_hang_in_a_callback_restarts_the_loop(self):
        d, stuck, rec = self.hang("later")
        again = d.wait_record(loop="stuck", event="loop_start",
                              after=d.index_of(rec))
        self.assertNotEqual(again["pid"], stuck)
        rs = d.wait_record(event="task_restart", task="spin")
        self.assertEqual(rs["cause"], "hang")
        d.wait_record(task="spin", msg="serving", after=d.index_of(rec))
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)

    def test_hang_in_start(self):
        d, stuck, rec = self.hang("start")
        d.wait_record(task="spin", msg="serving", after=d.index_of(rec))
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)

    def test_hang_action_log_only_reports(self):
        d, stuck, rec = self.hang("later", action="log")
        self.assertTrue(os.path.exists("/proc/%d" % stuck))
        self.assertEqual(len(d.find(event="task_hang")), 1)
        self.assertEqual(d.find(event="task_restart"), [])
        d._kill_group()

    def test_busy_is_not_stuck(self):
        d = self.start([loop("busy", task("b", "flaky", **{"do": "busy"}),
                             hang_timeout="1s")])
        d.wait_record(task="b", msg="busy done", timeout=15)
        self.assertEqual(d.find(event="task_hang"), [])
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)


class LimitsTest(LoopdTestCase):
    """A worker that hits one of its loop's limits is reported with the
    limit's name; the others go on."""

    def limited(self, what, limits, **kw):
        asan = os.environ.get("ASAN_OPTIONS", "")
        return self.start([loop("hog", task("h", "flaky", **{"do": what}),
                                limits=limits, **kw),
                           loop("net", task("echo", "echo", port=0))],
                          extra_env={"ASAN_OPTIONS": (asan + ":" if asan
                                                      else "") +
                                     "handle_abort=0:allocator_may_return_"
                                     "null=1"},
                          allow_crash_report=True)

    def test_memory(self):
        if os.environ.get("LOOPD_SANITIZE"):
            self.skipTest("ASan reserves terabytes of address space")
        d = self.limited("memory", {"memory": "256M"})
        err = d.wait_record(event="task_error", loop="hog", timeout=30)
        self.assertEqual(err["limit"], "memory", err)
        self.assertIn("limits.memory", err["msg"])
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)

    def test_open_files(self):
        d = self.limited("fds", {"open_files": 64})
        err = d.wait_record(event="task_error", task="h")
        self.assertEqual(err["limit"], "open_files", err)
        self.assertIn("Too many open files", err["error"]["message"])
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)

    def test_cpu_seconds(self):
        d = self.limited("spin", {"cpu_seconds": 1}, hang_timeout="30s",
                         start_timeout="30s")
        err = d.wait_record(event="task_error", loop="hog", timeout=15)
        self.assertEqual(err["limit"], "cpu_seconds", err)
        self.assertEqual(err["signal"], "SIGXCPU")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)


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
        m = notify.wait_for_match(
            "STATUS", re.compile(r"running 1 of 2 tasks; 1 restarting "
                                 r"\(next in [0-9]+s\), 0 failed"))
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)

    def test_watchdog(self):
        notify = self.notify_socket()
        d = self.start([loop("l", task("t", "ticker", interval="1h"))],
                       extra_env={"NOTIFY_SOCKET": notify.path,
                                  "WATCHDOG_USEC": "200000"})
        d.wait_ready()
        notify.wait_for("WATCHDOG", "1")
        n = notify.count("WATCHDOG", "1")
        notify.wait_for_count("WATCHDOG", "1", n + 3, timeout=5)
        # Stopped, the supervisor's loop does not turn: no WATCHDOG=1.
        os.kill(d.pid, signal.SIGSTOP)
        try:
            quiet = notify.count("WATCHDOG", "1")
            self.assertFalse(notify.wait_for_count("WATCHDOG", "1",
                                                   quiet + 2, timeout=0.5,
                                                   fail=False))
        finally:
            os.kill(d.pid, signal.SIGCONT)
        notify.wait_for_count("WATCHDOG", "1", quiet + 2, timeout=5)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_clean_run_exits_0(self):
        d = self.start([loop("l", task("t", "ticker", interval="1h"))])
        ready = d.wait_ready()
        self.assertEqual(ready["level"], "info")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)


if __name__ == "__main__":
    unittest.main()
