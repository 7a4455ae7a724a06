"""Plugin ABI 1.1 through the real daemon: tasks that say when they are
ready (READY=1 and the ready record wait for them; one that never says so
fails at start_timeout and comes back under its policy, waiting again),
init_process and exit_process once per worker process, a failing
init_process failing each task of its plugin, loopd_task_path() against
the configuration file's directory, and a plugin built for ABI 1.0."""

import os
import re
import signal
import unittest

from loopd_harness import LoopdTestCase, loop, task

FAST = {"policy": "on-failure", "backoff": "50ms..100ms",
        "intensity": "50/10s"}


class ReadyTest(LoopdTestCase):

    def test_ready_waits_for_loopd_task_ready(self):
        notify = self.notify_socket()
        d = self.start([loop("slow", task("r", "ready", after="300ms")),
                        loop("clock", task("tick", "ticker",
                                           interval="1h"))],
                       extra_env={"NOTIFY_SOCKET": notify.path})
        notify.wait_for("READY", "1")
        waiting = d.wait_record(task="r", msg="waiting")
        now = d.wait_record(task="r", msg="ready now")
        running = d.wait_record(task="r", event="task_state",
                                state="running")
        ready = d.wait_record(event="ready")
        self.assertEqual(ready["level"], "info", ready)
        self.assertRegex(ready["msg"], r"\b2 of 2 tasks running\b")
        # start returned long before: running, then ready, only after
        # the task said so.
        self.assertLess(d.index_of(waiting), d.index_of(now))
        self.assertLess(d.index_of(now), d.index_of(running))
        self.assertLess(d.index_of(running), d.index_of(ready))
        self.assertEqual(len(d.find(task="r", event="task_state",
                                    state="running")), 1)
        d.wait_record(task="r", msg="again: -3")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_never_ready_fails_at_start_timeout_and_restarts(self):
        marker = os.path.join(self.tmp, "marker")
        d = self.start([loop("slow", task("r", "ready", never=True,
                                          marker=marker, after="50ms"),
                             restart=FAST, start_timeout="300ms")])
        err = d.wait_record(event="task_error", task="r")
        self.assertErrorRecord(err, "slow", "r", "ready", "start_timeout")
        self.assertIn("300 ms", err["error"]["message"])
        self.assertIn("loopd_task_ready", err["error"]["message"])
        # No running record before it: it never served.
        self.assertEqual(d.find(task="r", event="task_state",
                                state="running"), [])
        ready = d.wait_record(event="ready")
        self.assertEqual(ready["level"], "warning", ready)
        self.assertIn("r (restarting)", ready["not_running"])
        rs = d.wait_record(event="task_restart", task="r")
        self.assertEqual(rs["cause"], "failed: start_timeout")
        # Started again, it is starting until it says it is ready.
        after = d.index_of(rs)
        waiting = d.wait_record(task="r", msg="waiting", after=after)
        now = d.wait_record(task="r", msg="ready now", after=after)
        running = d.wait_record(task="r", event="task_state",
                                state="running", after=after)
        self.assertLess(d.index_of(waiting), d.index_of(now))
        self.assertLess(d.index_of(now), d.index_of(running))
        self.assertEqual(len(d.find(event="task_error", task="r")), 1)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)

    def test_stop_while_starting(self):
        """A task that has not said it is ready holds READY=1 back; a
        shutdown then cancels it cleanly."""
        notify = self.notify_socket()
        d = self.start([loop("slow", task("r", "ready", never=True),
                             start_timeout="1h"),
                        loop("clock", task("tick", "ticker",
                                           interval="1h"))],
                       extra_env={"NOTIFY_SOCKET": notify.path})
        d.wait_record(task="r", msg="waiting")
        d.wait_record(task="tick", event="task_state", state="running")
        d.signal(signal.SIGTERM)
        d.wait_record(task="r", msg="cancelled; ready again: -3")
        self.assertEqual(d.wait_exit(), 0)
        self.assertEqual(notify.index("READY", "1"), -1, notify.messages)
        self.assertEqual(d.find(event="ready"), [])


class ProcessHooksTest(LoopdTestCase):

    def hooks_lines(self, path):
        with open(path) as f:
            return [ln.split() for ln in f.read().splitlines()]

    def test_once_per_process(self):
        hooks = os.path.join(self.tmp, "hooks.log")
        d = self.start([loop("a", task("a1", "hooks"), task("a2", "hooks"),
                             task("a3", "hooks")),
                        loop("b", task("b1", "hooks"))],
                       extra_env={"LOOPD_TEST_HOOKS": hooks})
        d.wait_ready()
        for name in ("a1", "a2", "a3", "b1"):
            d.wait_record(task=name,
                          msg="serving after 1 init_process calls")
        pa, pb = d.worker_pid("a"), d.worker_pid("b")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        lines = self.hooks_lines(hooks)
        self.assertEqual(sorted(lines), sorted([
            ["init", str(pa)], ["init", str(pb)],
            ["exit", str(pa)], ["exit", str(pb)]]), lines)
        # Each process: init first, exit last.
        for pid in (pa, pb):
            mine = [ln[0] for ln in lines if ln[1] == str(pid)]
            self.assertEqual(mine, ["init", "exit"])

    def test_a_restart_keeps_the_plugin_initialised(self):
        hooks = os.path.join(self.tmp, "hooks.log")
        d = self.start([loop("a", task("a1", "hooks", fail_once=os.path.join(
            self.tmp, "failed")), restart=FAST)],
            extra_env={"LOOPD_TEST_HOOKS": hooks})
        d.wait_record(event="task_error", task="a1")
        rs = d.wait_record(event="task_restart", task="a1")
        d.wait_record(task="a1", msg="serving after 1 init_process calls",
                      after=d.index_of(rs))
        pid = d.worker_pid("a")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)
        self.assertEqual(self.hooks_lines(hooks),
                         [["init", str(pid)], ["exit", str(pid)]])

    def test_failing_init_process_fails_each_task_then_retries(self):
        hooks = os.path.join(self.tmp, "hooks.log")
        ok = os.path.join(self.tmp, "init-may-succeed")
        d = self.start([loop("a", task("a1", "hooks"), task("a2", "hooks"),
                             task("a3", "hooks"), task("tick", "ticker",
                                                       interval="1h"),
                             restart={"policy": "on-failure",
                                      "backoff": "200ms..200ms",
                                      "intensity": "50/10s"})],
                       extra_env={"LOOPD_TEST_HOOKS": hooks,
                                  "LOOPD_TEST_HOOKS_FAIL": ok})
        errs = [d.wait_record(event="task_error", task=name)
                for name in ("a1", "a2", "a3")]
        for name, err in zip(("a1", "a2", "a3"), errs):
            self.assertErrorRecord(err, "a", name, "hooks", "init_process")
            self.assertIn("init_process returned 7",
                          err["error"]["message"])
        d.wait_record(task="tick", event="task_state", state="running")
        open(ok, "w").close()
        mark = d.mark()
        for name in ("a1", "a2", "a3"):
            d.wait_record(task=name, event="task_state", state="running",
                          after=mark)
        d.wait_record(msg="serving after 1 init_process calls",
                      after=mark)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)
        lines = self.hooks_lines(hooks)
        self.assertEqual([ln[0] for ln in lines].count("init"), 1, lines)
        self.assertEqual([ln[0] for ln in lines].count("exit"), 1, lines)
        # One task_error for each failed init_process, each of its type.
        errs = [r for r in d.find(event="task_error")
                if r.get("task") in ("a1", "a2", "a3")]
        self.assertEqual([ln[0] for ln in lines].count("init_failed"),
                         len(errs), lines)
        self.assertGreaterEqual(len(errs), 3)
        self.assertEqual({r["error"]["type"] for r in errs},
                         {"init_process"})
        self.assertEqual(lines[-1][0], "exit", lines)


class PathAndOldAbiTest(LoopdTestCase):

    def test_task_path_against_the_config_directory(self):
        sub = os.path.join(self.tmp, "etc")
        os.mkdir(sub)
        conf = self.write_config([loop("l", task(
            "r", "ready", in_start=True, path="data/x.db"),
            task("abs", "ready", in_start=True, path="/var/lib/y"))],
            name="etc/loopd.yaml")
        d = self.start(config=conf)
        rec = d.wait_record(task="r", msg=re.compile(r"^path "))
        self.assertEqual(rec["msg"], "path " + os.path.join(sub,
                                                            "data/x.db"))
        rec = d.wait_record(task="abs", msg=re.compile(r"^path "))
        self.assertEqual(rec["msg"], "path /var/lib/y")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_plugin_of_abi_1_0_still_loads(self):
        d = self.start([loop("l", task("old", "oldabi"))])
        d.wait_record(task="old", msg="old plugin serving")
        d.wait_record(task="old", event="task_state", state="running")
        d.wait_ready()
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        self.assertEqual(d.find(event="task_error"), [])


if __name__ == "__main__":
    unittest.main()
