"""Bad values in a task's `config:` mapping, and a port already taken:
the task fails with a message that says where, its neighbours run."""

import re
import signal
import socket
import unittest

from loopd_harness import LoopdTestCase, echo_roundtrip, loop, task


class PluginConfigErrorTest(LoopdTestCase):
    """Bad values in a task's config: fail that task, say where."""

    def test_wrong_type_names_file_line_col(self):
        d = self.start([loop("l", task("typo", "echo", port="abc"),
                             task("neg", "ticker", interval="-5s"),
                             task("ok", "ticker", interval="20ms"))])
        cfg = d.argv[2]
        with open(cfg) as f:
            lines = f.read().splitlines()
        for name, key, etype in (("typo", "port", "config"),
                                 ("neg", "interval", "config")):
            with self.subTest(task=name):
                err = d.wait_record(event="task_error", task=name)
                self.assertErrorRecord(err, "l", name, err["plugin"], etype)
                m = re.match(re.escape(cfg) + r":(\d+):(\d+): ",
                             err["error"]["message"])
                self.assertIsNotNone(m, err["error"]["message"])
                line, col = int(m.group(1)), int(m.group(2))
                self.assertRegex(lines[line - 1], r"^\s*%s: " % key)
                self.assertEqual(lines[line - 1].index(":") + 3, col)
        d.wait_record(task="ok", msg="tick 2")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)

    def test_failed_config_does_not_listen(self):
        """echo's port getter fails the task, and returns the default 7000:
        the echo must not go on to bind 7000 and log that it listens."""
        d = self.start([loop("l", task("typo", "echo", port="abc"))])
        d.wait_record(event="task_error", task="typo")
        d.wait_ready()
        self.assertEqual(d.find(task="typo", msg=re.compile("^listening")),
                         [], "a failed task says it is listening")

    def test_port_in_use(self):
        """A port someone else holds: the echo fails with type io and
        says which address."""
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        d = self.start([loop("l", task("e", "echo", port=port),
                             task("ok", "echo", port=0))])
        err = d.wait_record(event="task_error", task="e")
        self.assertErrorRecord(err, "l", "e", "echo", "io")
        self.assertIn("127.0.0.1:%d" % port, err["error"]["message"])
        self.assertEqual(echo_roundtrip(d.echo_port("ok"), b"x"), b"x")


if __name__ == "__main__":
    unittest.main()
