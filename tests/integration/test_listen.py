"""Listening sockets belong to loopd: a task that starts again gets the
same socket, so a client that connects in a tight loop through a plugin
upgrade and a reload is never refused."""

import os
import re
import shutil
import signal
import socket
import threading
import time
import unittest

from loopd_harness import LoopdTestCase, env, loop, task


class Hammer:
    """Connects, echoes a byte and closes, in a loop, until stopped;
    counts successes and refusals."""

    def __init__(self, port):
        self.port = port
        self.ok = 0
        self.refused = 0
        self.other = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", self.port),
                                              timeout=5) as s:
                    s.sendall(b"x")
                    if s.recv(1) == b"x":
                        self.ok += 1
            except ConnectionRefusedError:
                self.refused += 1
            except OSError as e:
                # A connection the old instance accepted and then closed
                # while it stopped is not a refusal.
                self.other.append(repr(e))

    def wait_ok(self, n, timeout=10):
        deadline = time.monotonic() + timeout
        want = self.ok + n
        while self.ok < want and time.monotonic() < deadline:
            time.sleep(0.01)    # polling a counter of another thread
        return self.ok >= want

    def stop(self):
        self._stop.set()
        self._thread.join(10)


class ListenTest(LoopdTestCase):

    def test_no_refused_connection_through_upgrade_and_reload(self):
        d = self.start([loop("net", task("echo", "echo", port=0,
                                         backlog=64))])
        port = d.echo_port()
        h = Hammer(port)
        self.addCleanup(h.stop)
        self.assertTrue(h.wait_ok(20))
        # A new echo.so, renamed into place: the task starts again.
        pdir = self.plugin_dir()
        tmp = os.path.join(pdir, ".echo.so.new")
        shutil.copyfile(os.path.join(env("LOOPD_PLUGINS"), "echo.so"), tmp)
        os.replace(tmp, os.path.join(pdir, "echo.so"))
        ch = d.wait_record(event="plugin_changed")
        again = d.wait_record(task="echo", event="task_state",
                              state="running", after=d.index_of(ch))
        self.assertEqual(d.echo_port(), port)
        self.assertTrue(h.wait_ok(20))
        # A reload that changes the task but not the address: a new
        # instance (a new restart policy is not taken in place).
        echo = task("echo", "echo", port=port, backlog=32)
        echo["restart"] = {"policy": "always"}
        self.write_config([loop("net", echo)])
        d.signal(signal.SIGHUP)
        rep = d.wait_record(event="reload", after=d.index_of(again))
        self.assertEqual(rep["restarted"], ["echo"])
        d.wait_record(task="echo", event="task_state", state="running",
                      after=d.index_of(rep))
        self.assertTrue(h.wait_ok(20))
        h.stop()
        self.assertEqual(h.refused, 0, "refused connections")
        self.assertGreater(h.ok, 60)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_removed_task_closes_its_socket(self):
        d = self.start([loop("net", task("echo", "echo", port=0),
                             task("tick", "ticker", interval="1h"))])
        port = d.echo_port()
        self.write_config([loop("net", task("tick", "ticker",
                                            interval="1h"))])
        d.signal(signal.SIGHUP)
        rep = d.wait_record(event="reload")
        self.assertEqual(rep["removed"], ["echo"])
        d.wait_record(task="echo", event="task_state", state="done",
                      after=d.index_of(rep))
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_bad_socket_request_is_a_protocol_error(self):
        d = self.start([loop("r", task("f", "rogue", **{"do": "forge_listen"}),
                             task("t", "ticker", interval="1h"))])
        err = d.wait_record(event="task_error", loop="r")
        self.assertEqual(err["error"]["type"], "protocol")
        self.assertIn("socket", err["msg"])
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)


if __name__ == "__main__":
    unittest.main()
