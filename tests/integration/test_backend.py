"""backend: a loop runs on the libevent method its configuration names."""

import re
import signal
import unittest

from loopd_harness import LoopdTestCase, echo_roundtrip, loop, task


class BackendTest(LoopdTestCase):

    def test_each_loop_on_its_backend(self):
        backends = ("poll", "select", "epoll")
        d = self.start([loop("on_" + b, task("echo_" + b, "echo", port=0),
                             backend=b) for b in backends])
        d.wait_ready()
        for b in backends:
            with self.subTest(backend=b):
                started = d.wait_record(loop="on_" + b,
                                        msg="loop started on " + b,
                                        timeout=0)
                self.assertEqual(started.get("backend"), b)
                port = d.echo_port("echo_" + b, timeout=0)
                msg = b"via " + b.encode()
                self.assertEqual(echo_roundtrip(port, msg), msg)
        pids = {d.worker_pid("on_" + b, timeout=0) for b in backends}
        self.assertEqual(len(pids), len(backends), "loops share a process")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_auto_backend(self):
        d = self.start([loop("auto", task("t", "ticker", interval="1s"))])
        started = d.wait_record(loop="auto",
                                msg=re.compile(r"^loop started on "))
        self.assertIn(started.get("backend"), ("epoll", "poll", "select"))
        self.assertEqual(started["msg"], "loop started on " +
                         started["backend"])
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)


if __name__ == "__main__":
    unittest.main()
