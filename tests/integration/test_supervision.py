"""Supervision: what fails comes back under its loop's policy, a restart
storm stops at the intensity limit, a worker that dies is started again
with its tasks, and the status and exit status say what is true.

FaultTest is the fault-injection suite: one table row per fault (crashes,
abort, exit, hangs, a storm, a failure, resource limits), each run against
the real binary and the test plugins, with an echo on another loop that
must answer throughout."""

import os
import re
import signal
import time
import unittest

from loopd_harness import (EchoPinger, LoopdTestCase, echo_roundtrip, field,
                           loop, record_problems, record_time, task)

FAST = {"policy": "on-failure", "backoff": "50ms..200ms",
        "intensity": "3/10s"}


# The faulty loop's policy in the fault table: short, so that a fault and
# its recovery take about a second.
POLICY = {"policy": "on-failure", "backoff": "200ms..400ms",
          "intensity": "3/10s"}
BACKOFF_MS = (200, 400)
HANG_S = 1.0            # hang_timeout and start_timeout of the faulty loop
BEAT_S = HANG_S / 5     # the faulty loop's heartbeat, and how often the
                        # supervisor looks at it
# A hang is seen at most a beat and a look after hang_timeout; then the
# stack is taken and symbolized.  The rest is slack for a busy machine.
HANG_MARGIN_S = 0.6
# libevent's timers run on CLOCK_MONOTONIC_COARSE: one of its ticks early,
# by the precise clock of the records, is on time.  And 1 ms for rounding.
TIMER_SLACK_S = time.clock_getres(getattr(time, "CLOCK_MONOTONIC_COARSE",
                                          6)) + 0.001

# One row per fault.  plugin and config: the faulty task (a "marker" is
# added, so that it misbehaves once, except in a storm); event: the record
# that reports it, whose fields must equal `record` (paths with "__");
# frame: (plugin, function, first): the first frame of the backtrace in
# that plugin names function, and is the first frame of all when first is
# true (a fault in the plugin's own instruction, not in libc's abort);
# about: the plugin's last words before the fault ("about to X"), from
# which a hang is timed; worker_dies: the whole loop goes down and its
# other task is restarted with it, uncharged; cause: of the task_restart;
# storm: fails on every start, until the intensity says stop.
LATER = {"when": "later", "after": "300ms"}
FAULTS = {
    "segv_in_api_callback": dict(
        plugin="flaky", config=dict(LATER, do="crash"),
        event="task_error", worker_dies=True, cause="crash",
        record={"signal": "SIGSEGV", "signo": 11, "error__type": "crash",
                "lost_tasks": ["f", "tick"]},
        frame=("flaky", "flaky_crash", True), about="about to crash"),
    "segv_in_libevent_callback": dict(
        plugin="rawcrash", config={"after": "300ms"},
        event="task_error", worker_dies=True, cause="crash",
        record={"signal": "SIGSEGV", "signo": 11, "error__type": "crash",
                "lost_tasks": ["f", "tick"], "suspects": None},
        msg="in code of task 'f' (plugin rawcrash) that the event loop "
        "called",
        frame=("rawcrash", "rawcrash_in_libevent_callback", True)),
    "abort": dict(
        plugin="flaky", config=dict(LATER, do="abort"),
        event="task_error", worker_dies=True, cause="crash",
        record={"signal": "SIGABRT", "signo": 6, "error__type": "crash",
                "lost_tasks": ["f", "tick"]},
        frame=("flaky", "flaky_abort", False), about="about to abort"),
    "exit_3": dict(
        plugin="flaky", config=dict(LATER, do="exit"),
        event="task_error", worker_dies=True, cause="exit",
        record={"exit_status": 3, "error__type": "exit", "signal": None,
                "backtrace": None, "lost_tasks": ["f", "tick"]},
        about="about to exit"),
    "spin_in_callback": dict(
        plugin="flaky", config=dict(LATER, do="spin"),
        event="task_hang", worker_dies=True, cause="hang",
        record={"function": "flaky_spin", "action": "restart",
                "error__type": "hang"},
        frame=("flaky", "flaky_spin", True), about="about to spin"),
    # READY=1 waits for the first start of the loop's other task, which
    # the hang held up: STATUS= says "starting" until then, not
    # "restarting".
    "spin_in_start": dict(
        plugin="flaky", config={"do": "spin", "when": "start"},
        event="task_hang", worker_dies=True, cause="hang",
        record={"function": "flaky_spin", "action": "restart",
                "error__type": "hang"},
        frame=("flaky", "flaky_spin", True), about="about to spin",
        status_restarting=False),
    "fail_once": dict(
        plugin="flaky", config=dict(LATER, do="fail"),
        event="task_error", worker_dies=False, cause="failed: test_failure",
        record={"error__type": "test_failure",
                "error__message": "flaky failed on purpose",
                "limit": None, "signal": None, "lost_tasks": None},
        about="about to fail"),
    "storm": dict(
        plugin="flaky", config={"do": "fail", "when": "start"},
        event="task_error", worker_dies=False, cause="failed: test_failure",
        record={"error__type": "test_failure"}, storm=True,
        about="about to fail"),
    "memory": dict(
        plugin="flaky", config=dict(LATER, do="memory"),
        loop={"limits": {"memory": "256M"}}, no_sanitizer=True,
        event="task_error", worker_dies=True, cause="crash",
        record={"limit": "memory", "signal": "SIGABRT",
                "error__type": "crash", "lost_tasks": ["f", "tick"]},
        msg="(at its limits.memory)",
        frame=("flaky", "flaky_hog_memory", False)),
    # The task fails by itself, but its worker is out of fds: it is
    # killed, and started again with its tasks.
    "fds": dict(
        plugin="flaky", config=dict(LATER, do="fds"),
        loop={"limits": {"open_files": 64}},
        event="task_error", worker_dies=True, cause="failed: io",
        record={"limit": "open_files", "error__type": "io",
                "signal": None},
        message=re.compile(r"^open: Too many open files after \d+ files$"),
        about="about to fds"),
}


class FaultTest(LoopdTestCase):
    """The fault-injection table: for each fault, the record that reports
    it, the restart after the backoff (or the storm's end), a TCP echo on
    another loop that answers throughout, STATUS=, the exit status, and no
    process left behind.  One test per row (test_fault_NAME)."""

    def run_fault(self, name):
        f = FAULTS[name]
        if f.get("no_sanitizer") and os.environ.get("LOOPD_SANITIZE"):
            self.skipTest("ASan reserves terabytes of address space")
        notify = self.notify_socket()
        config = dict(f["config"])
        if not f.get("storm"):
            config["marker"] = os.path.join(self.tmp, "marker")
        asan = os.environ.get("ASAN_OPTIONS", "")
        d = self.start(
            [loop("net", task("echo", "echo", port=0)),
             loop("faulty", task("f", f["plugin"], **config),
                  task("tick", "ticker", interval="50ms"), restart=POLICY,
                  hang_timeout="%dms" % (HANG_S * 1000),
                  start_timeout="%dms" % (HANG_S * 1000),
                  **f.get("loop", {}))],
            extra_env={"NOTIFY_SOCKET": notify.path,
                       "ASAN_OPTIONS": (asan + ":" if asan else "") +
                       "handle_segv=0:handle_abort=0:"
                       "allocator_may_return_null=1"},
            allow_crash_report=True)
        pinger = EchoPinger(d.echo_port()).start()
        self.addCleanup(pinger.stop)
        first_pid = d.worker_pid("faulty")

        rec = d.wait_record(event=f["event"], loop="faulty", timeout=15)
        self.assertFaultRecord(f, rec)
        fault = rec     # the record nearest to the fault's start
        if "about" in f:
            fault = d.wait_record(task="f", msg=f["about"], timeout=0)
            self.assertLess(d.index_of(fault), d.index_of(rec))
        if f["event"] == "task_hang":
            self.assertHangTimely(rec, fault)
        if f.get("storm"):
            recovered = self.assertStormStops(d)
        else:
            recovered = self.assertServingAgain(d, f, rec, first_pid)
        self.assertEchoThroughout(pinger, f, fault, rec, recovered)
        status = notify.wait_for("READY", "1")
        if f.get("status_restarting", True):
            status = self.assertStatusRestarting(notify, f)
        notify.wait_for_match("STATUS", re.compile(
            r"^running 2 of 3 tasks; 0 restarting, 1 failed, 0 ended$"
            if f.get("storm") else
            r"^running 3 of 3 tasks; 0 restarting, 0 failed, 0 ended$"),
            after=notify.index_of(status) + 1)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)
        self.assertEqual(d.wait_record(event="exit",
                                       timeout=0)["exit_status"], 1)
        d.assert_no_process_left(timeout=1)

    def assertEchoThroughout(self, pinger, f, fault, rec, recovered):
        """The echo on the other loop answered from before the fault (one
        in a first start: from before the recovery) until after the
        recovery, also in between, and never failed."""
        after = pinger.wait_answered(record_time(recovered))
        successes, failures = pinger.stop()
        self.assertEqual(failures, [])
        self.assertTrue(after, "no echo after the recovery")
        self.assertGreaterEqual(successes, 10)
        self.assertLess(pinger.answered[0], record_time(
            recovered if f["config"].get("when") == "start" else fault))
        self.assertTrue(any(record_time(rec) <= t <= record_time(recovered)
                            for t in pinger.answered),
                        "no echo between the fault and the recovery")

    def assertFaultRecord(self, f, rec):
        if rec["event"] == "task_error":
            self.assertErrorRecord(rec, "faulty", "f", f["plugin"],
                                   field(rec, "error.type"))
        else:
            self.assertEqual(record_problems(rec), [], rec)
            self.assertEqual(rec["level"], "error", rec)
            self.assertEqual((rec["loop"], rec["task"], rec["plugin"]),
                             ("faulty", "f", f["plugin"]), rec)
            self.assertGreaterEqual(rec["duration_ms"], HANG_S * 1000)
        for path, want in f["record"].items():
            self.assertEqual(field(rec, path.replace("__", ".")), want,
                             "%s in %s" % (path, rec))
        if "msg" in f:
            self.assertIn(f["msg"], rec["msg"])
        if "message" in f:
            self.assertRegex(rec["error"]["message"], f["message"])
        if "frame" in f:
            self.assertFrame(rec, *f["frame"])

    def assertFrame(self, rec, plugin, function, first):
        bt = rec.get("backtrace")
        self.assertIsInstance(bt, list, rec)
        mine = [i for i, fr in enumerate(bt)
                if fr.get("file", "").endswith("/%s.so" % plugin)]
        self.assertTrue(mine, bt)
        # GCC may move a function's unlikely path to NAME.cold.
        self.assertRegex(bt[mine[0]].get("function", ""),
                         r"^%s(\.cold)?$" % re.escape(function), bt)
        if first:
            self.assertEqual(mine[0], 0, bt)

    def assertHangTimely(self, rec, about):
        """Reported within hang_timeout and a margin of the moment the
        plugin began to spin, and not before hang_timeout less one
        heartbeat."""
        took = record_time(rec) - record_time(about)
        self.assertGreaterEqual(took, HANG_S - BEAT_S - 0.01, rec)
        self.assertLess(took, HANG_S + HANG_MARGIN_S, rec)

    def assertServingAgain(self, d, f, rec, first_pid):
        """The task_restart after the fault, within the backoff's bounds,
        and the task serving again no earlier than the backoff; the other
        task of the loop comes back with a new worker, uncharged, or never
        went down.  The "serving" record."""
        after = d.index_of(rec)
        rs = d.wait_record(event="task_restart", task="f", after=after)
        self.assertEqual(rs["level"], "warning")
        self.assertEqual(rs["attempt"], 1)
        self.assertTrue(rs["charged"])
        self.assertEqual(rs["cause"], f["cause"])
        self.assertGreaterEqual(rs["delay_ms"], BACKOFF_MS[0])
        self.assertLessEqual(rs["delay_ms"], BACKOFF_MS[1])
        serving = d.wait_record(task="f", msg="serving", after=after)
        self.assertLess(d.index_of(rs), d.index_of(serving))
        waited = record_time(serving) - record_time(rs)
        self.assertGreaterEqual(waited, rs["delay_ms"] / 1000 -
                                TIMER_SLACK_S, (rs, serving))
        self.assertEqual(len(d.find(event="task_restart", task="f")), 1)
        if f["worker_dies"]:
            again = d.wait_record(loop="faulty", event="loop_start",
                                  after=after)
            self.assertNotEqual(again["pid"], first_pid)
            self.assertEqual(serving["pid"], again["pid"])
            free = d.wait_record(event="task_restart", task="tick",
                                 after=after, timeout=0)
            self.assertFalse(free["charged"])
            self.assertIn("not charged", free["msg"])
            d.wait_record(task="tick", msg=re.compile(r"^tick \d+$"),
                          after=d.index_of(again))
        else:
            self.assertEqual(serving["pid"], first_pid)
            self.assertEqual(d.find(event="task_restart", task="tick"), [])
            self.assertEqual(d.find(event="loop_start", loop="faulty",
                                    pid=lambda p: p != first_pid), [])
            d.wait_record(task="tick", msg=re.compile(r"^tick \d+$"),
                          after=d.index_of(serving))
        return serving

    def assertStatusRestarting(self, notify, f):
        """STATUS= said the task was restarting, and when."""
        running, restarting = (1, 2) if f["worker_dies"] else (2, 1)
        return notify.wait_for_match("STATUS", re.compile(
            r"^running %d of 3 tasks; %d restarting \(next in \d+s\), "
            r"0 failed, 0 ended$" % (running, restarting)))

    def assertStormStops(self, d):
        """Intensity 3: the fourth failure gives up; the task is failed
        and stays down.  The restart_exhausted record."""
        gave_up = d.wait_record(event="restart_exhausted", task="f")
        self.assertEqual(gave_up["state"], "failed")
        self.assertEqual(gave_up["level"], "error")
        self.assertEqual(gave_up["cause"], "failed: test_failure")
        self.assertEqual(len(gave_up["history_ms_ago"]), 3)
        self.assertEqual(gave_up["restarts"], 3)
        restarts = d.find(event="task_restart", task="f")
        self.assertEqual([r["attempt"] for r in restarts], [1, 2, 3])
        for a, b in zip(restarts, d.find(event="task_error", task="f")[1:]):
            # Each restart's start failed no earlier than its backoff.
            self.assertGreaterEqual(record_time(b) - record_time(a),
                                    a["delay_ms"] / 1000 - TIMER_SLACK_S)
            self.assertGreaterEqual(a["delay_ms"], BACKOFF_MS[0])
            self.assertLessEqual(a["delay_ms"], BACKOFF_MS[1])
        self.assertEqual(len(d.find(event="task_error", task="f")), 4)
        # Nothing comes back after it gave up: the next tick of its
        # neighbour comes, and still no new start of f.
        d.wait_record(task="tick", msg=re.compile(r"^tick \d+$"),
                      after=d.index_of(gave_up))
        self.assertEqual(len(d.find(event="task_error", task="f")), 4)
        self.assertEqual(len(d.find(event="task_restart", task="f")), 3)
        return gave_up


for _name in FAULTS:
    setattr(FaultTest, "test_fault_" + _name,
            lambda self, _n=_name: self.run_fault(_n))


class RestartTest(LoopdTestCase):

    def marker(self, name="marker"):
        return os.path.join(self.tmp, name)

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
    """hang_action: log reports a stuck loop and leaves it be; a loop that
    is only busy is not stuck.  (Hangs that restart: FaultTest.)"""

    def test_hang_action_log_only_reports(self):
        d = self.start([loop("stuck", task("spin", "flaky", **{"do": "spin"},
                                           when="later", after="10ms"),
                             restart=FAST, hang_action="log",
                             hang_timeout="1s"),
                        loop("net", task("echo", "echo", port=0))])
        port = d.echo_port()
        stuck = d.worker_pid("stuck")
        rec = d.wait_record(event="task_hang", timeout=15)
        self.assertEqual((rec["loop"], rec["task"]), ("stuck", "spin"))
        self.assertEqual(rec["function"], "flaky_spin")
        self.assertEqual(rec["action"], "log")
        self.assertNotIn("killing", rec["msg"])
        self.assertEqual(echo_roundtrip(port, b"meanwhile"), b"meanwhile")
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
