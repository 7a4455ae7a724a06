"""The echo plugin out of file descriptors: accept() fails with EMFILE
while the connection stays queued, so the listener stays readable.  The echo
must pause accepting instead of spinning (and logging each failure), and
accept again once descriptors are free."""

import re
import resource
import signal
import unittest

from loopd_harness import (LoopdTestCase, connect, echo_roundtrip, loop,
                           task, where)

NOFILE = 48         # loopd's RLIMIT_NOFILE: a few dozen connections
PRESSURE_TICKS = 50  # ticks of 20ms with every descriptor taken


def low_nofile():
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


class AcceptStarvationTest(LoopdTestCase):

    def test_out_of_descriptors_pauses_then_resumes(self):
        d = self.start([loop("net", task("echo", "echo", port=0),
                             task("tick", "ticker", interval="20ms"))],
                       preexec_fn=low_nofile)
        port = d.echo_port()
        d.wait_ready()
        clients = []

        def close_clients():
            for c in clients:
                c.close()
            clients.clear()
        self.addCleanup(close_clients)
        starved = where(task="echo", level="warning",
                        msg=re.compile(r"^accept: "))
        # Connections queue in the kernel whether or not the echo accepts
        # them: open more than loopd has descriptors for.
        for _ in range(NOFILE + 8):
            clients.append(connect(port))
            if d.find(starved):
                break
        first = d.wait_for(starved, what="accept() failing")
        self.assertIn("Too many open files", first["msg"])
        # Keep the pressure on for PRESSURE_TICKS ticks of the same loop
        # (which also shows the loop is not stuck).
        tick = d.wait_record(after=d.mark(), task="tick",
                             msg=re.compile(r"^tick \d+$"))
        n = int(tick["msg"].split()[1]) + PRESSURE_TICKS
        d.wait_record(after=d.index_of(tick), task="tick", msg="tick %d" % n)
        warnings = d.find(task="echo", level="warning")
        self.assertLessEqual(len(warnings), 3, "accept() failures logged "
                             "%d times under pressure" % len(warnings))
        # Descriptors free again: the echo accepts and serves.
        close_clients()
        self.assertEqual(echo_roundtrip(port, b"again"), b"again")
        d.wait_record(task="echo", msg="accepting new connections again")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        d.assert_no_process_left(timeout=0.5)


if __name__ == "__main__":
    unittest.main()
