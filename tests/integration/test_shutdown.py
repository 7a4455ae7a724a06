"""SIGTERM/SIGINT: cancel hooks, the grace period, forced kills."""

import re
import signal
import time
import unittest
from datetime import datetime

from loopd_harness import LoopdTestCase, connect, loop, recv_exact, task


def ts_seconds(record):
    return datetime.strptime(record["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


class ShutdownTest(LoopdTestCase):

    GRACE_S = 5.0

    def graceful(self, sig, to_group=False):
        """echo and ticker on two loops; sig after both run; every cancel
        hook runs, every task ends, loopd exits 0 within the grace.  With
        to_group, the workers get sig too: they must leave it to the
        supervisor."""
        d = self.start([loop("net", task("echo", "echo", port=0)),
                        loop("clock", task("tick", "ticker",
                                           interval="20ms"))],
                       grace="%ds" % self.GRACE_S)
        d.wait_ready()
        port = d.echo_port()
        net_pid, clock_pid = d.worker_pid("net"), d.worker_pid("clock")
        self.assertNotEqual(net_pid, clock_pid, "two loops, one process")
        client = connect(port)
        self.addCleanup(client.close)
        client.sendall(b"hi")
        self.assertEqual(recv_exact(client, 2), b"hi")
        d.wait_record(task="tick", msg="tick 2")

        t0 = time.monotonic()
        if to_group:
            d.signal_group(sig)
        else:
            d.signal(sig)
        rc = d.wait_exit(self.GRACE_S + 5)
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 0, "exit status after %s" % sig.name)
        self.assertLess(elapsed, self.GRACE_S,
                        "loopd took the whole grace period although every "
                        "task ends at once")

        shut = d.wait_record(event="shutdown", timeout=0)
        self.assertEqual(shut["level"], "info")
        self.assertIn(sig.name, shut["msg"])
        after = d.index_of(shut)
        echo_bye = d.wait_record(
            after=after, timeout=0, task="echo", loop="net", pid=net_pid,
            msg="closing the listener and 1 connections")
        tick_bye = d.wait_record(
            after=after, timeout=0, task="tick", loop="clock", pid=clock_pid,
            msg=re.compile(r"^stopping after [1-9]\d* ticks$"))
        for name, bye in (("echo", echo_bye), ("tick", tick_bye)):
            done = d.wait_record(after=d.index_of(bye), timeout=0,
                                 event="task_state", task=name, state="done")
            self.assertEqual(done["level"], "info")
        self.assertEqual(d.find(event="task_error"), [])
        self.assertEqual(d.find(event="task_forced"), [])
        ex = d.wait_record(event="exit", timeout=0)
        self.assertEqual(ex["exit_status"], 0)
        self.assertIs(d.records[-1], ex, "the exit record is not the last")
        client.settimeout(5)
        self.assertEqual(client.recv(10), b"", "the connection is still "
                         "open after shutdown")
        self.assertEqual(d.find(msg=re.compile(r"^worker")), [],
                         "a worker did not stop on its own")
        self.assertEqual(d.stdout, [], "loopd wrote on stdout")
        d.assert_no_process_left(timeout=0.5)

    def test_sigterm_runs_every_cancel_hook(self):
        self.graceful(signal.SIGTERM)

    def test_sigint_runs_every_cancel_hook(self):
        self.graceful(signal.SIGINT)

    def test_sigterm_to_process_group(self):
        """kill -TERM -- -PGID, or timeout(1): same clean stop."""
        self.graceful(signal.SIGTERM, to_group=True)

    def test_sigint_to_process_group(self):
        """Ctrl-C in a terminal signals the whole foreground group."""
        self.graceful(signal.SIGINT, to_group=True)

    def test_stubborn_task_is_forced_after_grace(self):
        """A task that ignores cancel is killed when the grace (300 ms) is
        over, named in a task_forced record; loopd exits 1.  The ticker on
        another loop still ends cleanly."""
        grace = 0.3
        d = self.start([loop("mule", task("stub", "stubborn")),
                        loop("clock", task("tick", "ticker",
                                           interval="50ms"))],
                       grace="300ms")
        d.wait_ready()
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        rc = d.wait_exit(10)
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 1)
        self.assertGreaterEqual(elapsed, grace, "loopd exited before the "
                                "grace period was over")
        shut = d.wait_record(event="shutdown", timeout=0)
        d.wait_record(task="stub", msg="ignoring cancellation", timeout=0)
        forced = d.find(event="task_forced")
        self.assertEqual([(r.get("task"), r.get("plugin"), r.get("loop"))
                          for r in forced], [("stub", "stubborn", "mule")],
                         forced)
        self.assertEqual(forced[0]["level"], "warning")
        self.assertIn("stub", forced[0]["msg"])
        # loopd's own clock agrees.  libevent counts the grace from the
        # time it cached when the loop woke for the signal, a little before
        # the shutdown record's ts (~3 ms seen): hence the slack.
        self.assertGreaterEqual(ts_seconds(forced[0]) - ts_seconds(shut),
                                grace - 0.05)
        d.wait_record(event="task_state", task="tick", state="done",
                      timeout=0)
        ex = d.wait_record(event="exit", timeout=0)
        self.assertEqual(ex["exit_status"], 1)
        d.assert_no_process_left(timeout=0.5)

    def test_second_sigterm_stops_at_once(self):
        """With a 30 s grace and a task that ignores cancel, a second
        SIGTERM kills what is left right away."""
        d = self.start([loop("mule", task("stub", "stubborn")),
                        loop("clock", task("tick", "ticker",
                                           interval="50ms"))],
                       grace="30s")
        d.wait_ready()
        d.signal(signal.SIGTERM)
        first = d.wait_record(event="shutdown")
        d.wait_record(task="stub", msg="ignoring cancellation")
        d.wait_record(event="task_state", task="tick", state="done")
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        rc = d.wait_exit(10)
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 1)
        self.assertLess(elapsed, 5, "the second SIGTERM did not stop loopd "
                        "at once")
        again = d.wait_record(event="shutdown", after=d.index_of(first) + 1,
                              timeout=0)
        self.assertIn("again", again["msg"])
        forced = d.find(event="task_forced")
        self.assertEqual([r.get("task") for r in forced], ["stub"], forced)
        self.assertEqual(d.wait_record(event="exit", timeout=0)
                         ["exit_status"], 1)
        d.assert_no_process_left(timeout=0.5)

    def test_sighup_is_not_a_stop_signal(self):
        """SIGHUP reloads (test_reload.py): with the file unchanged, the
        tasks keep running, untouched."""
        d = self.start([loop("clock", task("tick", "ticker",
                                           interval="20ms"))])
        d.wait_ready()
        d.signal(signal.SIGHUP)
        hup = d.wait_record(event="reload")
        self.assertEqual(hup["unchanged"], 1)
        d.wait_record(task="tick", msg=re.compile(r"^tick \d+$"),
                      after=d.index_of(hup))
        self.assertTrue(d.alive())
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)


if __name__ == "__main__":
    unittest.main()
