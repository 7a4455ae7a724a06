"""runtime: debug mode's slow-callback and leak records, loop lag, precise
timers and CPU pinning, on the real binary with the blocker plugin."""

import os
import re
import signal
import unittest

from loopd_harness import LoopdTestCase, loop, task


class RuntimeTest(LoopdTestCase):

    def stop(self, d):
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_slow_api_callback_named(self):
        d = self.start([loop("dbg", task("b", "blocker", mode="api",
                                         block="300ms"),
                             debug="true", slow_callback="50ms")])
        r = d.wait_record(event="slow_callback")
        self.assertEqual(r["callback"], "blocker_api_callback")
        self.assertEqual(r["task"], "b")
        self.assertEqual(r["plugin"], "blocker")
        self.assertEqual(r["via"], "api")
        self.assertGreaterEqual(r["elapsed_ms"], 300)
        self.stop(d)

    def test_slow_raw_libevent_callback_named(self):
        d = self.start([loop("dbg", task("b", "blocker", mode="raw",
                                         block="400ms"),
                             debug="true", slow_callback="50ms")])
        r = d.wait_record(event="slow_callback")
        self.assertEqual(r["callback"], "blocker_raw_callback")
        self.assertEqual(r["task"], "b")
        self.assertEqual(r["plugin"], "blocker")
        self.assertEqual(r["via"], "libevent")
        self.assertGreaterEqual(r["elapsed_ms"], 50)
        self.stop(d)

    def test_debug_from_environment(self):
        d = self.start([loop("dbg", task("b", "blocker", mode="raw",
                                         block="400ms"),
                             slow_callback="50ms")],
                       extra_env={"LOOPD_DEBUG": "1"})
        r = d.wait_record(event="slow_callback")
        self.assertEqual(r["callback"], "blocker_raw_callback")
        self.stop(d)

    def test_no_slow_record_without_debug(self):
        d = self.start([loop("plain", task("b", "blocker", mode="api",
                                           block="500ms"),
                             slow_callback="50ms", hang_timeout="1s")])
        d.wait_record(task="b", msg="api callback returned")
        self.stop(d)
        self.assertEqual(d.find(event="slow_callback"), [])
        stats = d.wait_record(event="loop_stats", timeout=0)
        # The blocked loop fired its tick late: the lag says so.
        self.assertGreaterEqual(stats["lag_max_us"], 200000)

    def test_leak_names_creation_sites(self):
        d = self.start([loop("dbg", task("b", "blocker", mode="leak"),
                             debug="true")])
        r = d.wait_record(event="resource_leak")
        self.assertEqual(r["task"], "b")
        self.assertEqual(r["open"], 2)
        self.assertRegex(r["sites"], r"timer blocker_leak_timer\+0x[0-9a-f]+")
        self.assertRegex(r["sites"], r"watch blocker_leak_watch\+0x[0-9a-f]+")
        self.assertIn("blocker.c:", r["sites"])
        self.stop(d)

    def test_loop_stats_and_start_record(self):
        d = self.start([loop("l", task("b", "blocker", mode="api",
                                       block="100ms"),
                             precise_timer="true", hang_timeout="200ms")])
        start = d.wait_record(event="loop_start")
        self.assertEqual(start["precise_timer"], 1)
        self.assertEqual(start["cpu"], -1)
        self.assertIsInstance(start["features"], str)
        if start["backend"] == "epoll":
            self.assertIn("O1", start["features"])
        d.wait_record(task="b", msg="api callback returned")
        self.stop(d)
        stats = d.wait_record(event="loop_stats", timeout=0)
        for k in ("lag_p50_us", "lag_p99_us", "lag_max_us", "ticks"):
            self.assertIsInstance(stats[k], int, k)
        self.assertGreaterEqual(stats["ticks"], 1)
        self.assertLessEqual(stats["lag_p50_us"], stats["lag_p99_us"])
        self.assertLessEqual(stats["lag_p99_us"], stats["lag_max_us"])

    def test_precise_timer_never_early(self):
        d = self.start([loop("p", task("b", "blocker", mode="precise",
                                       delay="7ms", count=60),
                             precise_timer="true")])
        r = d.wait_record(task="b", msg=re.compile(r"^precise: "))
        late = int(r["msg"].split("=")[1])
        # Armed from a post, a few microseconds after libevent read its
        # clock; a coarse clock (4 ms ticks) would make it milliseconds.
        self.assertGreaterEqual(late, -500, "a precise timer fired early")
        self.stop(d)

    def test_cpu_pinning(self):
        d = self.start([loop("pinned", task("b", "blocker", mode="api",
                                            block="1ms"), cpu=0)])
        pid = d.worker_pid("pinned")
        with open("/proc/%d/status" % pid) as f:
            status = f.read()
        m = re.search(r"^Cpus_allowed_list:\s*(\S+)$", status, re.M)
        self.assertEqual(m.group(1), "0")
        self.stop(d)

    def test_debug_and_pinning_under_a_sandbox(self):
        # The CPU is pinned before the filter (which has no
        # sched_setaffinity), and the watchdog thread and its sampling
        # signal work under it.
        d = self.start([loop("boxed", task("b", "blocker", mode="raw",
                                           block="400ms"),
                             debug="true", slow_callback="50ms", cpu=0,
                             sandbox={"profile": "network-server"})])
        r = d.wait_record(event="slow_callback")
        self.assertEqual(r["callback"], "blocker_raw_callback")
        pid = d.worker_pid("boxed")
        with open("/proc/%d/status" % pid) as f:
            status = f.read()
        self.assertRegex(status, r"(?m)^Seccomp:\s*2$")
        self.assertRegex(status, r"(?m)^Cpus_allowed_list:\s*0$")
        self.stop(d)

    def test_check_config_warns_about_a_tiny_slow_callback(self):
        path = self.write_config([
            loop("noisy", task("t", "ticker"), debug="true",
                 slow_callback="5ms"),
            loop("quiet", task("u", "ticker"), slow_callback="5ms"),
            loop("fine", task("v", "ticker"), debug="true",
                 slow_callback="10ms")])
        p = self.run_loopd(["--check-config", path])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stderr, r":\d+:\d+: warning: loop 'noisy': "
                         r"slow_callback 5ms with debug mode on: ")
        self.assertNotIn("'quiet'", p.stderr)
        self.assertNotIn("'fine'", p.stderr)


class TaskErrorContextTest(LoopdTestCase):
    """Every task_error record carries loop, task, plugin and version, the
    callback that was running, uptime, restarts, and the error."""

    def test_failure_in_a_callback_then_restarted(self):
        d = self.start([loop("fl", task("f", "failer", after="60ms",
                                        message="boom"),
                             restart={"policy": "always",
                                      "backoff": "10ms..10ms"})])
        first = d.wait_record(event="task_error")
        second = d.wait_record(event="task_error",
                               after=d.index_of(first) + 1)
        for r in (first, second):
            self.assertEqual(r["loop"], "fl")
            self.assertEqual(r["task"], "f")
            self.assertEqual(r["plugin"], "failer")
            self.assertIsInstance(r["plugin_version"], str)
            self.assertEqual(r["callback"], "failer_fire")
            self.assertGreaterEqual(r["uptime_ms"], 50)
            self.assertEqual(r["error"], {"type": "test_failure",
                                          "message": "boom"})
        self.assertEqual(first["restarts"], 0)
        self.assertEqual(second["restarts"], 1)
        d.signal(signal.SIGTERM)
        d.wait_exit()

    def test_failure_in_start(self):
        d = self.start([loop("fs", task("f", "failer", when="start",
                                        message="no"))])
        r = d.wait_record(event="task_error")
        self.assertEqual(r["callback"], "failer_start")
        self.assertEqual(r["uptime_ms"], 0)
        self.assertEqual(r["restarts"], 0)
        self.assertEqual(r["error"]["type"], "test_failure")
        d.signal(signal.SIGTERM)
        d.wait_exit()

    def test_start_returning_an_error(self):
        d = self.start([loop("fs", task("b", "blocker", mode="nonsense"))])
        r = d.wait_record(event="task_error")
        self.assertEqual(r["callback"], "blocker_start")
        self.assertEqual(r["error"]["type"], "start")
        d.signal(signal.SIGTERM)
        d.wait_exit()

    def test_crash_names_the_plugin_function(self):
        asan = os.environ.get("ASAN_OPTIONS", "")
        d = self.start([loop("cr", task("c", "crasher", after="50ms"))],
                       allow_crash_report=True, extra_env={
                           "ASAN_OPTIONS": (asan + ":" if asan else "")
                           + "handle_segv=0:handle_abort=0"})
        r = d.wait_record(event="task_error")
        self.assertEqual(r["task"], "c")
        self.assertEqual(r["plugin"], "crasher")
        self.assertEqual(r["callback"], "crasher_fire")
        self.assertIsInstance(r["plugin_version"], str)
        self.assertGreaterEqual(r["uptime_ms"], 40)
        self.assertEqual(r["restarts"], 0)
        self.assertEqual(r["error"]["type"], "crash")
        d.signal(signal.SIGTERM)
        d.wait_exit()


if __name__ == "__main__":
    unittest.main()
