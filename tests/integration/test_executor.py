"""The loop executor through a real worker: a flood that the bounded queue
partly rejects, a job that times out, a task that ends while its jobs run.
The jobs plugin counts every done; the executor logs its own counts."""

import re
import signal
import unittest

from loopd_harness import LoopdTestCase, loop, task

DONES = re.compile(r"^dones: (\d+) of (\d+), finished (\d+), timed out "
                   r"(\d+), cancelled (\d+), rejected (\d+), running (\d+)$")
STATS = re.compile(r"^executor of loop ")


def exec_loop(name, executor, *tasks):
    lp = loop(name, *tasks)
    lp["executor"] = executor
    return lp


class ExecutorTest(LoopdTestCase):

    def dones(self, d, name):
        rec = d.wait_record(task=name, msg=DONES)
        return [int(x) for x in DONES.match(rec["msg"]).groups()]

    def stop(self, d):
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_flood_is_partly_rejected_and_every_job_gets_a_done(self):
        d = self.start([exec_loop("pool", {"workers": 2, "queue": 8},
                                  task("flood", "jobs", jobs=200,
                                       work="2ms"))])
        d.wait_ready()
        n, total, fin, tmo, can, rej, run = self.dones(d, "flood")
        self.assertEqual((n, total), (200, 200))
        self.assertGreater(rej, 0, "a queue of 8 took 200 jobs at once")
        self.assertGreaterEqual(fin, 8)
        self.assertEqual(fin + rej, 200)
        self.assertEqual((tmo, can, run), (0, 0, 0))
        start = d.wait_record(task="flood",
                              msg=re.compile(r"^submitted 200: "))
        self.assertIn("%d rejected at once" % rej, start["msg"])
        self.stop(d)
        st = d.wait_record(msg=STATS, loop="pool", timeout=0)
        self.assertEqual((st["jobs_submitted"], st["jobs_completed"],
                          st["jobs_rejected"], st["executor_workers"]), (200, fin, rej, 2))

    def test_job_times_out_and_its_late_result_is_discarded(self):
        d = self.start([exec_loop("slow", {"workers": 1},
                                  task("late", "jobs", jobs=3, work="300ms",
                                       timeout="50ms"))])
        d.wait_ready()
        n, total, fin, tmo, can, rej, run = self.dones(d, "late")
        # One runs and times out running; two time out in the queue.
        self.assertEqual((n, fin, tmo, can, rej, run), (3, 0, 3, 0, 0, 1))
        self.stop(d)		# waits for the running work to return
        st = d.wait_record(msg=STATS, loop="slow", timeout=0)
        self.assertEqual((st["jobs_timed_out"], st["jobs_completed"]), (3, 0))

    def test_task_ending_while_jobs_run_cancels_them_before_stop(self):
        d = self.start([exec_loop("busy", {"workers": 2, "kind": "cpu"},
                                  task("busy", "jobs", jobs=6, work="400ms",
                                       end="cancel"))], grace="10s")
        d.wait_ready()
        d.wait_record(task="busy", msg=re.compile(r"^submitted 6: 6 "))
        d.signal(signal.SIGTERM)
        n, total, fin, tmo, can, rej, run = self.dones(d, "busy")
        self.assertEqual(n, 6)
        self.assertEqual(fin + can, 6)
        self.assertLessEqual(run, 2)
        self.assertEqual(d.wait_exit(), 0)
        d.wait_record(task="busy", event="task_state", state="done",
                      timeout=0)
        st = d.wait_record(msg=STATS, loop="busy", timeout=0)
        self.assertEqual(st["jobs_cancelled"], can)

    def test_check_config_warns_about_an_oversized_pool(self):
        path = self.write_config([exec_loop(
            "big", {"workers": 1000, "kind": "cpu"}, task("t", "ticker"))])
        p = self.run_loopd(["--check-config", path])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stderr, r":\d+:\d+: warning: loop 'big': "
                         r"executor.workers 1000 is over-provisioned for "
                         r"kind cpu on \d+ CPUs? \(at most \d+\): ")


if __name__ == "__main__":
    unittest.main()
