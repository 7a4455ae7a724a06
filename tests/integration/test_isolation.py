"""A worker inherits nothing from the supervisor, and the supervisor
believes nothing a worker says without checking it.  The rogue test plugin
attacks from inside a worker, as any plugin could."""

import os
import re
import signal
import subprocess
import time
import unittest

from loopd_harness import LoopdTestCase, echo_roundtrip, loop, task


class IsolationTest(LoopdTestCase):

    def bystander(self, *rogue_tasks, grace=None):
        """loopd with an echo on a loop of its own, beside the rogue's."""
        d = self.start([loop("net", task("echo", "echo", port=0)),
                        loop("rogue", *rogue_tasks)], grace=grace)
        return d, d.echo_port()

    def assert_untouched(self, d, port):
        """The supervisor did not stop, and the other loop still works."""
        self.assertTrue(d.alive())
        self.assertEqual(d.find(event="shutdown"), [])
        self.assertEqual(echo_roundtrip(port, b"still here"), b"still here")

    def test_worker_holds_only_its_own_fds(self):
        d = self.start([loop("net", task("echo", "echo", port=0)),
                        loop("rogue", task("fds", "rogue", **{"do": "fds"}))])
        d.wait_record(task="fds", msg="fds listed")
        fds = {}
        for r in d.find(task="fds", msg=re.compile(r"^fd \d+ -> ")):
            n, target = re.match(r"^fd (\d+) -> (.*)$", r["msg"]).groups()
            fds[int(n)] = target
        self.assertEqual(sorted(fds)[:6], [0, 1, 2, 3, 4, 5], fds)
        self.assertRegex(fds[3], r"^socket:\[\d+\]$")
        self.assertRegex(fds[4], r"^/memfd:loopd-crash")
        self.assertRegex(fds[5], r"^socket:\[\d+\]$")
        others = {n: t for n, t in fds.items() if n > 5}
        # Beyond its channel, crash page and socket channel, only its own
        # event_base: the epoll set and the base's internal pipe (both
        # ends), and the eventfd other threads wake the loop with, none of
        # which the supervisor holds.  Nothing of the other loop's (its
        # channel, its crash page, the echo's listening socket) is there.
        kinds = sorted(re.sub(r"\[\d+\]$", "", t) for t in others.values())
        self.assertEqual(kinds, ["anon_inode:[eventfd]",
                                "anon_inode:[eventpoll]", "pipe:", "pipe:"],
                         fds)
        sup = set()
        for n in os.listdir("/proc/%d/fd" % d.pid):
            try:
                sup.add(os.readlink("/proc/%d/fd/%s" % (d.pid, n)))
            except OSError:
                pass
        shared = {t for t in others.values() if t in sup and
                  not t.startswith("anon_inode:")}
        self.assertEqual(shared, set(), "the worker shares these with the "
                         "supervisor: %s" % shared)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_worker_is_exec_ed_not_forked(self):
        d = self.start([loop("one", task("t", "ticker", interval="1h"))])
        pid = d.worker_pid("one")
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
        self.assertEqual(argv[1:3], [b"--worker", b"loop=one"])
        self.assertEqual(os.path.realpath(argv[0].decode()),
                         os.path.realpath(self.bin))
        self.assertEqual(os.getpgid(pid), pid, "not its own process group")
        with open("/proc/%d/environ" % pid, "rb") as f:
            self.assertNotIn(b"NOTIFY_SOCKET=", f.read())
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_scribbling_on_every_fd_changes_nothing_else(self):
        d, port = self.bystander(task("s", "rogue", **{"do": "scribble"}))
        d.wait_record(task="s", msg="scribbling")
        err = d.wait_record(event="task_error", loop="rogue")
        self.assertEqual(err["error"]["type"], "protocol", err)
        self.assertIn("s", err["lost_tasks"])
        self.assert_untouched(d, port)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)

    def forged(self, what):
        d, port = self.bystander(task("f", "rogue", **{"do": what}),
                                 task("t", "ticker", interval="1h"))
        err = d.wait_record(event="task_error", loop="rogue")
        self.assertEqual(err["error"]["type"], "protocol", err)
        self.assertRegex(err["msg"], r"^worker of loop 'rogue' sent a bad "
                         r"message \(.+\) and was killed")
        self.assertEqual(sorted(err["lost_tasks"]), ["f", "t"])
        self.assertEqual(err["pid"], d.worker_pid("rogue"))
        self.assertEqual(d.find(msg=re.compile("FORGED")), [])
        self.assert_untouched(d, port)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)
        return err

    def test_forged_supervisor_event_is_refused(self):
        err = self.forged("forge_event")
        self.assertIn("event only the supervisor may emit", err["msg"])

    def test_forged_pid_field_is_refused(self):
        err = self.forged("forge_field")
        self.assertIn("field the worker may not set", err["msg"])

    def test_forged_dropped_count_is_refused(self):
        """"dropped" is only for a log_rate_limited record."""
        err = self.forged("forge_dropped")
        self.assertIn("field the worker may not set", err["msg"])

    def test_record_without_valid_ts_is_refused(self):
        err = self.forged("forge_ts")
        self.assertIn("ts", err["msg"])

    def test_state_of_unknown_task_is_refused(self):
        err = self.forged("forge_task")
        self.assertIn("out of range", err["msg"])

    def test_closed_channel_without_exit_is_a_lost_worker(self):
        d, port = self.bystander(task("c", "rogue", **{"do": "close_channel"}),
                                 task("t", "ticker", interval="1h"))
        err = d.wait_record(event="task_error", loop="rogue")
        self.assertIn("closed its channel", err["msg"])
        self.assertEqual(sorted(err["lost_tasks"]), ["c", "t"])
        self.assert_untouched(d, port)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)

    def test_exit_during_shutdown_names_every_lost_task(self):
        d = self.start([loop("q", task("quit", "rogue",
                                       **{"do": "exit_in_cancel"}),
                             task("stub", "stubborn"))], grace="5s")
        d.wait_ready()
        d.signal(signal.SIGTERM)
        err = d.wait_record(event="task_error", loop="q")
        self.assertEqual(sorted(err["lost_tasks"]), ["quit", "stub"])
        self.assertEqual(err.get("exit_status"), 0)
        self.assertEqual(d.wait_exit(), 1)
        self.assertEqual(d.find(msg="loop stopped"), [])

    def test_what_plugins_fork_does_not_outlive_loopd(self):
        d = self.start([loop("f", task("fork", "rogue", **{"do": "fork"}))])
        rec = d.wait_record(task="fork",
                            msg=re.compile(r"^forked child \d+ and orphan"))
        child, orphan = map(int, re.findall(r"\d+", rec["msg"]))
        self.assertTrue(os.path.exists("/proc/%d" % child))
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        d.assert_no_process_left()

    def test_killed_supervisor_takes_the_plugins_children(self):
        d = self.start([loop("f", task("fork", "rogue", **{"do": "fork"}))])
        rec = d.wait_record(task="fork",
                            msg=re.compile(r"^forked child \d+ and orphan"))
        child, orphan = map(int, re.findall(r"\d+", rec["msg"]))
        worker = d.worker_pid("f")
        d.signal(signal.SIGKILL)
        self.addCleanup(self._kill, orphan)
        # The worker dies with the supervisor, and the child it forked
        # with the worker.  The orphan was the supervisor's to kill: with
        # the supervisor gone it is init's (under systemd, KillMode= ends
        # it with the rest of the unit's cgroup).
        for what, pid in (("worker", worker), ("child", child)):
            if self._alive_after(pid):
                with open("/proc/%d/status" % pid) as f:
                    status = f.read()
                self.fail("the %s %d survived the supervisor:\n%s"
                          % (what, pid, status))
        self._kill(orphan)

    @staticmethod
    def _kill(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _alive_after(self, pid, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    if f.read().split(")")[-1].split()[0] in ("Z", "X"):
                        return False
            except OSError:
                return False
            time.sleep(0.02)     # polling /proc until the deadline
        return True


class HostTest(LoopdTestCase):
    """The daemon under the conditions of a real host."""

    def test_closed_std_fds(self):
        notify = self.notify_socket()
        conf = self.write_config([loop("net", task("echo", "echo", port=0))])
        p = subprocess.Popen(
            [self.bin, "-c", conf], cwd=self.tmp,
            env=dict(os.environ, NOTIFY_SOCKET=notify.path),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
            preexec_fn=lambda: [os.close(fd) for fd in (0, 1, 2)])
        try:
            notify.wait_for("READY", "1")
            self.assertEqual(os.readlink("/proc/%d/fd/2" % p.pid),
                             "/dev/null")
            p.send_signal(signal.SIGTERM)
            notify.wait_for("STOPPING", "1")
            self.assertEqual(p.wait(10), 0)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def test_signal_storm_ends_cleanly(self):
        d = self.start([loop("net", task("t", "ticker", interval="1h"))])
        d.wait_ready()
        for _ in range(3000):
            try:
                os.kill(d.pid, signal.SIGTERM)
            except ProcessLookupError:
                break
        # Stopped by loopd (1: the repeated signal forced the task), not
        # killed by a signal that arrived after its handlers were gone.
        self.assertIn(d.wait_exit(), (0, 1))
        self.assertEqual(len(d.find(event="exit")), 1)


if __name__ == "__main__":
    unittest.main()
