"""Live reload: SIGHUP applies an edited file task by task; a broken file
changes nothing; a burst of SIGHUPs costs nothing."""

import os
import re
import signal
import time
import unittest

from loopd_harness import (LoopdTestCase, connect, echo_roundtrip, loop,
                           recv_exact, task)


class ReloadTest(LoopdTestCase):

    def rewrite(self, d, loops, **kw):
        """Write the config again and SIGHUP; the reload record."""
        self.write_config(loops, **kw)
        n = d.mark()
        d.signal(signal.SIGHUP)
        return d.wait_for(lambda r: r.get("event") in ("reload",
                                                       "reload_failed"),
                          after=n, what="a reload record")

    def test_add_remove_change_keep_connection(self):
        notify = self.notify_socket()
        base = [loop("net", task("echo", "echo", port=0),
                     task("tick", "ticker", interval="20ms",
                          message="old"),
                     task("gone", "ticker", interval="1h")),
                loop("other", task("t2", "ticker", interval="1h"))]
        d = self.start(base, extra_env={"NOTIFY_SOCKET": notify.path})
        port = d.echo_port()
        d.wait_ready()
        held = connect(port)
        self.addCleanup(held.close)
        held.sendall(b"before ")
        self.assertEqual(recv_exact(held, 7), b"before ")
        echo_pid = d.worker_pid("net")
        rep = self.rewrite(d, [
            loop("net", task("echo", "echo", port=0),
                 task("tick", "ticker", interval="20ms", message="new"),
                 task("fresh", "ticker", interval="20ms", message="hi")),
            loop("other", task("t2", "ticker", interval="1h"))])
        self.assertEqual(rep["event"], "reload", rep)
        self.assertEqual(rep["added"], ["fresh"])
        self.assertEqual(rep["removed"], ["gone"])
        self.assertEqual(rep["restarted"], ["tick"])
        self.assertEqual(rep["unchanged"], 2)
        self.assertIsInstance(rep["duration_ms"], int)
        after = d.index_of(rep)
        d.wait_record(task="fresh", msg=re.compile(r"^hi \d+$"), after=after)
        d.wait_record(task="tick", msg=re.compile(r"^new \d+$"), after=after)
        d.wait_record(task="gone", event="task_state", state="done",
                      after=after)
        # The untouched echo kept its connection, in the same worker.
        held.sendall(b"after")
        self.assertEqual(recv_exact(held, 5), b"after")
        self.assertEqual(d.worker_pid("net"), echo_pid)
        self.assertEqual(d.find(event="task_state", task="echo",
                                state="done"), [])
        notify.wait_for("RELOADING", "1")
        m = [x for x in notify.messages if "RELOADING" in x][0]
        self.assertRegex(m.get("MONOTONIC_USEC", ""), r"^\d+$")
        self.assertGreater(notify.count("READY", "1"), 1)
        # Nothing of the old ticker after its successor started.
        n = d.mark()
        d.wait_record(task="tick", msg=re.compile(r"^new \d+$"), after=n)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_broken_file_changes_nothing(self):
        d = self.start([loop("l", task("tick", "ticker", interval="20ms"))])
        d.wait_ready()
        path = os.path.join(self.tmp, "loopd.yaml")
        with open(path) as f:
            good = f.read()
        with open(path, "w") as f:
            f.write(good.replace("interval", "intervall") +
                    "  - name: [oops\n")
        n = d.mark()
        d.signal(signal.SIGHUP)
        rep = d.wait_record(event="reload_failed", after=n)
        self.assertEqual(rep["level"], "error")
        self.assertTrue(all(re.match(r"^.+:\d+:\d+: ", e)
                            for e in rep["errors"]), rep["errors"])
        d.wait_record(task="tick", msg=re.compile(r"^tick \d+$"),
                      after=d.index_of(rep))
        self.assertEqual(d.find(event="task_state", state="done"), [])
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_loop_added_removed_and_restarted(self):
        d = self.start([loop("a", task("ta", "ticker", interval="1h")),
                        loop("b", task("tb", "ticker", interval="1h"))])
        d.wait_ready()
        a_pid = d.worker_pid("a")
        rep = self.rewrite(d, [
            loop("a", task("ta", "ticker", interval="1h"), backend="poll"),
            loop("c", task("tc", "ticker", interval="20ms"))])
        self.assertEqual(rep["loops_added"], ["c"])
        self.assertEqual(rep["loops_removed"], ["b"])
        self.assertEqual(rep["loops_restarted"], ["a"])
        after = d.index_of(rep)
        d.wait_record(task="tc", msg=re.compile(r"^tick \d+$"), after=after)
        again = d.wait_record(loop="a", event="loop_start", after=after)
        self.assertEqual(again["backend"], "poll")
        self.assertNotEqual(again["pid"], a_pid)
        d.wait_record(loop="b", msg="loop stopped for the reload",
                      after=after)
        d.wait_record(task="ta", event="task_state", state="running",
                      after=d.index_of(again))
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        d.assert_no_process_left()

    def test_top_level_settings_apply_at_once(self):
        d = self.start([loop("l", task("tick", "ticker", interval="20ms"))])
        d.wait_ready()
        rep = self.rewrite(d, [loop("l", task("tick", "ticker",
                                              interval="20ms"),
                                    task("fail", "failer", after="200ms"))],
                           log_level="warning")
        self.assertEqual(rep["unchanged"], 1)
        n = d.index_of(rep)
        # info records are no longer written; the failure (an error) is.
        d.wait_record(event="task_error", task="fail", after=n)
        self.assertEqual([r for r in d.records[n:]
                          if r.get("task") == "tick"], [])
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)

    def test_sighup_storm_costs_nothing(self):
        d = self.start([loop("l", task("echo", "echo", port=0),
                             task("tick", "ticker", interval="1h"))])
        d.wait_ready()

        def fds_and_rss():
            fds = len(os.listdir("/proc/%d/fd" % d.pid))
            with open("/proc/%d/status" % d.pid) as f:
                rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
            return fds, rss

        # One reload first, so that what a reload allocates once is there.
        d.signal(signal.SIGHUP)
        d.wait_record(event="reload")
        fds0, rss0 = fds_and_rss()
        for _ in range(50):
            d.signal(signal.SIGHUP)
            time.sleep(0.02)    # a storm within a second, not a wait
        n = len(d.find(event="reload"))
        d.signal(signal.SIGHUP)
        d.wait_for(lambda r: r.get("event") == "reload" and
                   len(d.find(event="reload")) > n, what="a last reload")
        fds1, rss1 = fds_and_rss()
        self.assertEqual(fds1, fds0)
        # AddressSanitizer keeps freed memory in quarantine: RSS grows
        # there whatever the code does.
        if not os.environ.get("LOOPD_SANITIZE"):
            self.assertLess(rss1 - rss0, 512, "RSS grew %d kB"
                            % (rss1 - rss0))
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)


if __name__ == "__main__":
    unittest.main()
