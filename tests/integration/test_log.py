"""The log output: a reader that stalls costs records, counted exactly, and
never blocks the supervisor; a text line is one line whatever msg holds."""

import fcntl
import os
import re
import signal
import termios
import time
import unittest

from loopd_harness import (TIMEOUT, LoopdTestCase, NotifySocket, loop, task,
                           to_yaml, wait_group_empty)

F_GETPIPE_SZ = 1032     # <linux/fcntl.h>
FLOOD_RE = re.compile(r"^flood-* (\d+)$")
TEXT_LINE_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z (debug|info|warning|error) ")


def flood_number(record):
    m = FLOOD_RE.match(record.get("msg", "")) \
        if record.get("task") == "flood" else None
    return int(m.group(1)) if m else None


class LogTest(LoopdTestCase):

    def flood_socket(self):
        """Where the flooder says FLOOD=done."""
        s = NotifySocket(self, os.path.join(self.tmp, "flood.sock"))
        self.addCleanup(s.close)
        return s

    def wait_pipe_full(self, fd, timeout=TIMEOUT):
        """Once the pipe holds all it can (within a page)."""
        size = fcntl.fcntl(fd, F_GETPIPE_SZ)
        deadline = time.monotonic() + timeout
        while True:
            buf = bytearray(4)
            fcntl.ioctl(fd, termios.FIONREAD, buf)
            queued = int.from_bytes(buf, "little")
            if queued >= size - 4096:
                return
            if time.monotonic() >= deadline:
                self.fail("the pipe holds %d of %d bytes after %gs"
                          % (queued, size, timeout))
            # Polling a kernel counter: nothing signals "pipe full".
            time.sleep(0.01)

    def flood_paused(self, n, pad):
        """Run a flooder of n records ("flood" + pad "-" + number) with
        stderr unread until the flood is over, then read it, stop loopd and
        check that every record the flooder logged is either on stderr or
        in the "dropped" count of a log_dropped record, once and only once.
        Returns the number of records dropped."""
        flood = self.flood_socket()
        d = self.start([loop("l", task("flood", "flooder", count=n,
                                       chunk=200, notify=flood.path,
                                       message="flood" + "-" * pad,
                                       then="20ms"))],
                       stderr_paused=True)
        # While stderr is not read, the flood fills the pipe and the queue.
        flood.wait_for("FLOOD", "done", timeout=3 * TIMEOUT)
        d.resume_stderr()
        # A record logged after the flood, seen: every record of the flood
        # before it was written or counted, and the queue has room again,
        # so nothing logged from now on is dropped.
        d.wait_for(lambda r: (flood_number(r) or 0) > n, timeout=3 * TIMEOUT,
                   what="a record logged after the flood")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

        numbers = [x for x in map(flood_number, d.find(lambda r: True))
                   if x is not None]
        logged = max(numbers)   # the last ones are never dropped
        notices = d.find(event="log_dropped")
        dropped = sum(r["dropped"] for r in notices)
        for r in notices:
            self.assertEqual(r.get("level"), "warning", r)
            self.assertIsInstance(r.get("dropped"), int, r)
            self.assertGreater(r["dropped"], 0, r)
        self.assertEqual(len(numbers), len(set(numbers)),
                         "a record was written twice")
        self.assertEqual(len(numbers) + dropped, logged,
                         "%d written + %d dropped (%d notices) != %d logged"
                         % (len(numbers), dropped, len(notices), logged))
        return dropped

    def test_flood_drops_are_counted_exactly(self):
        """The supervisor's queue overflows, the worker's channel does not:
        6000 frames of about 660 bytes fit in its 4 MiB queue (IPC_QUEUE_MAX)
        even if the supervisor read none, while the 3.7 MB of lines are
        more than the 1 MiB queue and the pipe hold."""
        dropped = self.flood_paused(6000, pad=480)
        self.assertGreater(dropped, 0, "a stalled reader dropped nothing")

    def test_flood_through_full_worker_channel_counted_exactly(self):
        """Both queues overflow: 100000 records as fast as they come.  The
        worker's channel drops records too, and says how many in a message
        that is never dropped; the supervisor adds them to its own."""
        dropped = self.flood_paused(100000, pad=0)
        self.assertGreater(dropped, 0, "a stalled reader dropped nothing")

    def test_stalled_stderr_does_not_block_shutdown(self):
        """stderr on a pipe nobody reads: SIGTERM still stops loopd within
        the grace period (plus the bounded flush at exit)."""
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        notify = self.notify_socket()
        flood = self.flood_socket()
        grace = 2.0
        d = self.start([loop("l", task("flood", "flooder", count=20000,
                                       notify=flood.path))],
                       grace="2s", stderr=w,
                       extra_env={"NOTIFY_SOCKET": notify.path})
        os.close(w)
        notify.wait_for("READY", "1")
        flood.wait_for("FLOOD", "done", timeout=3 * TIMEOUT)
        self.wait_pipe_full(r)

        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        notify.wait_for("STOPPING", "1", timeout=grace + 3)
        self.assertEqual(d.wait_exit(timeout=grace + 1 + 3), 0)
        self.assertLess(time.monotonic() - t0, grace + 1 + 3)
        self.assertEqual(wait_group_empty(d.pgid, 5.0), [])

    def test_text_line_cannot_be_forged(self):
        """format: text escapes a newline in msg: one record, one line."""
        flood = self.flood_socket()
        conf = self.write_file("loopd.yaml", to_yaml({
            "plugin_dir": self.plugin_dir(),
            "log": {"format": "text"},
            "loops": [loop("l", task("forge", "flooder", count=1,
                                     message="x\nlevel=error forged\t\\",
                                     notify=flood.path))],
        }))
        path = os.path.join(self.tmp, "stderr.log")
        with open(path, "wb") as f:
            d = self.start(config=conf, stderr=f)
        flood.wait_for("FLOOD", "done")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8").split("\n")
        self.assertEqual(lines[-1], "", "the last line is not whole")
        lines = lines[:-1]
        for ln in lines:
            self.assertRegex(ln, TEXT_LINE_RE)
        forged = [ln for ln in lines if "forged" in ln]
        self.assertEqual(len(forged), 1, "\n".join(lines))
        self.assertIn(" info x\\nlevel=error forged\\t\\\\ 1 ", forged[0])


if __name__ == "__main__":
    unittest.main()
