"""Socket activation: a socket systemd bound before loopd started is
handed to the task whose config names it (listen_fd), and stays bound
across the task's and its worker's restarts."""

import os
import re
import shutil
import signal
import socket
import subprocess
import time
import unittest

from loopd_harness import (TIMEOUT, Daemon, LoopdTestCase, connect, env,
                           loop, recv_exact, task, to_yaml)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect_once_bound(port, timeout=TIMEOUT):
    """A connection, once systemd-socket-activate has bound the port."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return connect(port)
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)    # the activator is starting, with a deadline


class ActivationTest(LoopdTestCase):

    def setUp(self):
        super().setUp()
        self.activate = shutil.which("systemd-socket-activate")
        if self.activate is None:
            self.skipTest("systemd-socket-activate is not installed "
                          "(Debian package systemd)")

    def test_listen_fd_survives_restarts(self):
        sock = os.path.join(self.tmp, "ctl.sock")
        conf = {"plugin_dir": self.plugin_dir(), "control": {"socket": sock},
                "loops": [
                    loop("net", task("echo", "echo", listen_fd="web"),
                         restart={"policy": "on-failure",
                                  "backoff": "10ms..20ms"}),
                    loop("other", task("lost", "echo", listen_fd="nope"))]}
        config = self.write_file("loopd.yaml", to_yaml(conf))
        port = free_port()
        d = Daemon(self, [self.activate, "-l", "127.0.0.1:%d" % port,
                          "--fdname=web", self.bin, "-c", config], self.tmp,
                   extra_env={"SYSTEMD_LOG_LEVEL": "warning"})
        self.addCleanup(d.close)
        # The port is bound before loopd runs: this connection starts it
        # and is served once the task has the socket.
        with connect_once_bound(port) as s:
            s.sendall(b"first")
            self.assertEqual(recv_exact(s, 5), b"first")
        rec = d.wait_record(task="echo", msg="listening on 127.0.0.1:%d "
                            "(socket 'web' passed by systemd)" % port)
        self.assertEqual(rec["pid"], d.worker_pid("net"))
        # A name systemd did not pass: said by the supervisor, and the
        # task fails with a config error that says how to fix it.
        d.wait_record(event="listen_fd", task="lost",
                      msg=re.compile(r"no socket named 'nope' was passed "
                                     r"to loopd \(1 were"))
        err = d.wait_record(event="task_error", task="lost")
        self.assertEqual(err["error"]["type"], "config")
        self.assertIn("FileDescriptorName=nope", err["error"]["message"])
        # The worker dies: connections wait in the backlog meanwhile, and
        # the new worker gets the same socket.
        n = d.mark()
        os.kill(d.worker_pid("net"), signal.SIGKILL)
        with connect(port) as s:
            s.sendall(b"while down")
            self.assertEqual(recv_exact(s, 10), b"while down")
        d.wait_record(task="echo", after=n, msg=re.compile(
            r"^listening on 127\.0\.0\.1:%d \(socket 'web'" % port))
        # The operator restarts the task, in the same worker.
        n = d.mark()
        p = subprocess.run([os.path.join(os.path.dirname(env("LOOPD_BIN")),
                                         "loopctl"), "--socket", sock,
                            "restart", "net/echo"], capture_output=True,
                           text=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        d.wait_record(task="echo", event="task_state", state="running",
                      after=n)
        with connect(port) as s:
            s.sendall(b"again")
            self.assertEqual(recv_exact(s, 5), b"again")
        # The workers never saw the activation variables.
        with open("/proc/%d/environ" % d.worker_pid("other"), "rb") as f:
            self.assertNotIn(b"LISTEN_FDS=", f.read())


if __name__ == "__main__":
    unittest.main()
