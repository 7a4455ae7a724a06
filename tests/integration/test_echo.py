"""The echo plugin over real TCP: small and large messages, two clients."""

import os
import threading
import unittest

from loopd_harness import (LoopdTestCase, connect, echo_roundtrip, loop,
                           pushy_exchange, recv_exact, task)


class EchoTest(LoopdTestCase):

    def start_echo(self, backend=None):
        d = self.start([loop("net", task("echo", "echo", port=0),
                             backend=backend)])
        d.wait_record(event="task_state", task="echo", state="running")
        return d, d.echo_port()

    def test_round_trip_small_messages(self):
        d, port = self.start_echo()
        with connect(port) as s:
            for msg in (b"x", b"hello\n", b"\x00\xff binary \r\n",
                        b"a" * 1000):
                s.sendall(msg)
                self.assertEqual(recv_exact(s, len(msg)), msg)

    def test_large_message_100k(self):
        """100 KB in one go, to a client that reads nothing until it has
        sent it all (or the echo stops taking bytes), through a small
        receive buffer: every byte must come back, in order."""
        d, port = self.start_echo()
        big = os.urandom(100 * 1024)
        with connect(port, rcvbuf=4096) as s:
            got, _ = pushy_exchange(s, big)
        self.assertEqual(len(got), len(big))
        self.assertTrue(got == big, "the 100 KB reply differs from what "
                        "was sent")

    def test_backpressure_8m(self):
        """On loopback the kernel takes 100 KB at once, so the partial-write
        path is only certain with more than the server's largest send
        buffer (4 MB): 8 MB sent before reading makes the echo's write()
        come up short many times, keep the rest, pause reading and
        resume."""
        d, port = self.start_echo()
        big = os.urandom(8 * 1024 * 1024)
        with connect(port, rcvbuf=4096) as s:
            got, stalled = pushy_exchange(s, big, timeout=30)
        self.assertEqual(len(got), len(big))
        self.assertTrue(got == big, "the 8 MB reply differs from what was "
                        "sent (first difference at byte %d)" % next(
                            (i for i, (x, y) in enumerate(zip(got, big))
                             if x != y), -1))
        self.assertEqual(echo_roundtrip(port, b"after"), b"after")

    def test_two_concurrent_connections(self):
        """Two clients at once: interleaved messages go back to the client
        that sent them, and b is served while a moves 4 MB."""
        d, port = self.start_echo()
        big = os.urandom(4 * 1024 * 1024)
        result = {}
        with connect(port, rcvbuf=4096) as a, connect(port) as b:
            a.sendall(b"from a 1\n")
            b.sendall(b"from b 1\n")
            self.assertEqual(recv_exact(b, 9), b"from b 1\n")
            self.assertEqual(recv_exact(a, 9), b"from a 1\n")

            def move_big():
                result["a"] = pushy_exchange(a, big, timeout=30)[0]
            mover = threading.Thread(target=move_big)
            mover.start()
            for i in range(50):
                msg = b"b%02d" % i
                b.sendall(msg)
                self.assertEqual(recv_exact(b, len(msg)), msg)
            mover.join(30)
            self.assertFalse(mover.is_alive(), "the 4 MB exchange hung")
            self.assertTrue(result.get("a") == big,
                            "connection a got bytes that are not its own")
            a.sendall(b"end a")
            b.sendall(b"end b")
            self.assertEqual(recv_exact(a, 5), b"end a")
            self.assertEqual(recv_exact(b, 5), b"end b")

    def test_two_echo_tasks_on_one_loop(self):
        """One plugin, two tasks on one loop: each has its own listener."""
        d = self.start([loop("net", task("e1", "echo", port=0),
                             task("e2", "echo", port=0))])
        d.wait_ready()
        p1, p2 = d.echo_port("e1"), d.echo_port("e2")
        self.assertNotEqual(p1, p2)
        self.assertEqual(echo_roundtrip(p1, b"one"), b"one")
        self.assertEqual(echo_roundtrip(p2, b"two"), b"two")

    def test_client_close_is_handled(self):
        """A client that goes away does not disturb the next one."""
        d, port = self.start_echo()
        for _ in range(5):
            s = connect(port)
            s.sendall(b"bye")
            s.close()
        self.assertEqual(echo_roundtrip(port, b"still here"), b"still here")
        self.assertTrue(d.alive())


if __name__ == "__main__":
    unittest.main()
