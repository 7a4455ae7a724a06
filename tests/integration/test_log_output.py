"""Where records go and how many: the "<N>" priority on journald's stream,
log.target: file with SIGUSR1 to reopen it, log.target: journald with its
fields, and log.rate per task, every dropped record counted."""

import datetime
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import unittest
import uuid

from loopd_harness import (TIMEOUT, Daemon, LoopdTestCase, NotifySocket,
                           poll_until,
                           loop, processes_in_group, task, to_yaml)

PRIORITY = {"debug": 7, "info": 6, "warning": 4, "error": 3}
PREFIXED_RE = re.compile(r"^<(\d)>(\{.*\})$")
FLOOD_RE = re.compile(r"^flood (\d+)$")


class PipeReader(threading.Thread):
    """Reads fd to its end; join it, then take .data."""

    def __init__(self, fd):
        super().__init__(daemon=True)
        self.fd = fd
        self.data = b""

    def run(self):
        chunks = []
        while True:
            b = os.read(self.fd, 65536)
            if not b:
                break
            chunks.append(b)
        self.data = b"".join(chunks)


def file_records(path):
    """The JSON records of the complete lines of a file (none if absent)."""
    try:
        with open(path, "rb") as f:
            data = f.read().decode("utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(ln) for ln in data.split("\n")[:-1]]


def flood_numbers(records, name="flood"):
    out = []
    for r in records:
        m = FLOOD_RE.match(r.get("msg", "")) if r.get("task") == name \
            else None
        if m:
            out.append(int(m.group(1)))
    return out


def maps_of(pid):
    with open("/proc/%d/maps" % pid) as f:
        return f.read()


def ts_seconds(ts):
    """An RFC 3339 UTC ts with microseconds as seconds since the epoch."""
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def parse_journal_datagram(data):
    """The fields of one datagram of journald's native protocol."""
    fields, i = {}, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            i = nl + 1
        else:       # KEY\n, a little-endian 64-bit size, the value, \n
            k = line
            (size,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            v = data[nl + 9:nl + 9 + size]
            i = nl + 9 + size + 1
        fields[k.decode()] = v.decode("utf-8", "replace")
    return fields


class LogOutputTest(LoopdTestCase):

    def sock(self, name):
        s = NotifySocket(self, os.path.join(self.tmp, name))
        self.addCleanup(s.close)
        return s

    # -- the "<N>" prefix under systemd

    def run_on_pipe(self, journal_stream):
        """loopd with stderr on a pipe of the test's, JOURNAL_STREAM set as
        given (a function of the pipe's stat, or None); a task fails (an
        error), one logs at info, and the level is debug.  Returns
        loopd's stderr lines."""
        r, w = os.pipe()
        reader = PipeReader(r)
        reader.start()
        self.addCleanup(os.close, r)
        st = os.fstat(w)
        env = {}
        if journal_stream is not None:
            env["JOURNAL_STREAM"] = journal_stream(st)
        self.runs = getattr(self, "runs", 0) + 1
        notify = self.sock("notify%d.sock" % self.runs)
        flood = self.sock("flood%d.sock" % self.runs)
        env["NOTIFY_SOCKET"] = notify.path
        d = self.start([loop("l", task("flood", "flooder", count=3,
                                       notify=flood.path),
                             task("fail", "failer", when="start"))],
                       log_level="debug", stderr=w, extra_env=env)
        os.close(w)
        notify.wait_for("READY", "1")
        flood.wait_for("FLOOD", "done")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)     # a task failed
        reader.join(TIMEOUT)
        self.assertFalse(reader.is_alive(), "stderr not closed")
        text = reader.data.decode("utf-8")
        self.assertTrue(text.endswith("\n"), text[-200:])
        return text.split("\n")[:-1]

    def test_journal_stream_lines_carry_their_priority(self):
        """JOURNAL_STREAM names stderr: every line is <N>{json}, N the
        syslog priority of its level, and the JSON has no prefix."""
        lines = self.run_on_pipe(lambda st: "%d:%d" % (st.st_dev,
                                                       st.st_ino))
        seen = set()
        for ln in lines:
            m = PREFIXED_RE.match(ln)
            self.assertIsNotNone(m, "line without <N>: %r" % ln)
            rec = json.loads(m.group(2))
            self.assertEqual(int(m.group(1)), PRIORITY[rec["level"]], ln)
            seen.add(rec["level"])
        self.assertEqual(seen, set(PRIORITY), "not every level was seen")
        errors = [ln for ln in lines if ln.startswith("<3>")]
        self.assertTrue(any('"event":"task_error"' in ln for ln in errors),
                        errors)

    def test_no_prefix_without_journal_stream(self):
        """Without JOURNAL_STREAM, or when it names another file (stderr
        was redirected under systemd), lines are plain JSON."""
        for stream in (None, lambda st: "%d:%d" % (st.st_dev,
                                                   st.st_ino + 1)):
            for ln in self.run_on_pipe(stream):
                self.assertTrue(ln.startswith("{"), ln)
                json.loads(ln)

    # -- log.target: file

    def test_file_target_reopens_on_sigusr1(self):
        """Records go to log.file (relative to the configuration's
        directory); after logrotate's rename and SIGUSR1, the following
        records go to a new file, and the old one is complete: every
        numbered record is in exactly one file, in order."""
        etc = os.path.join(self.tmp, "etc")
        os.mkdir(etc)
        flood = self.sock("flood.sock")
        conf = os.path.join(etc, "loopd.yaml")
        with open(conf, "w") as f:
            f.write(to_yaml({
                "plugin_dir": self.plugin_dir(),
                "log": {"target": "file", "file": "loopd.log"},
                "loops": [loop("l", task("flood", "flooder", count=50,
                                         notify=flood.path, then="5ms"))],
            }))
        log = os.path.join(etc, "loopd.log")
        old = log + ".1"
        d = self.start(config=conf)     # its cwd is self.tmp, not etc
        flood.wait_for("FLOOD", "done")
        poll_until("record 60 in the log file",
                   lambda: max(flood_numbers(file_records(log)) or [0]) >= 60)
        os.rename(log, old)
        # To every process, as `systemctl kill -s USR1` does: the workers
        # (each the leader of a process group of its own) ignore it.
        for pid, _, _ in processes_in_group(d.pgid):
            os.kill(pid, signal.SIGUSR1)
        poll_until("records in the new log file", lambda: any(
            n > 0 for n in flood_numbers(file_records(log))))
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

        before, after = file_records(old), file_records(log)
        for path in (old, log):
            with open(path, "rb") as f:
                self.assertTrue(f.read().endswith(b"\n"), path)
        self.assertTrue(any(r.get("event") == "start" for r in before))
        reopen = [r for r in after if r.get("event") == "log_reopen"]
        self.assertEqual(len(reopen), 1, after[:5])
        self.assertIs(after[0], reopen[0], "not first in the new file")
        self.assertEqual(reopen[0]["level"], "info")
        self.assertTrue(any(r.get("event") == "exit" for r in after))
        self.assertEqual([r for r in before + after
                          if r.get("event") == "task_error"], [])
        a, b = flood_numbers(before), flood_numbers(after)
        self.assertEqual(a + b, list(range(1, len(a) + len(b) + 1)),
                         "records lost, repeated or out of order across "
                         "the rotation")
        self.assertEqual(d.find(lambda r: True), [],
                         "records on stderr with target: file")

    # -- log.target: journald

    def journald_config(self, name, notify):
        return self.write_file("loopd.yaml", to_yaml({
            "plugin_dir": self.plugin_dir(),
            "log": {"target": "journald"},
            "loops": [loop("jl", task(name, "flooder", count=3,
                                      notify=notify,
                                      message="x\ny \"q\""))],
        }))

    def check_journal_entries(self, name, entries):
        """The 3 flooder records of task name, with every field."""
        mine = [e for e in entries if e.get("LOOPD_TASK") == name and
                e.get("LOOPD_EVENT") is None]
        self.assertEqual(len(mine), 3, entries)
        for i, e in enumerate(mine, 1):
            self.assertEqual(e["MESSAGE"], "x\ny \"q\" %d" % i)
            self.assertEqual(e["PRIORITY"], "6")
            self.assertEqual(e["LOOPD_LOOP"], "jl")
            self.assertEqual(e["LOOPD_PLUGIN"], "flooder")
            self.assertEqual(e["SYSLOG_IDENTIFIER"], "loopd")
            rec = json.loads(e["LOOPD_JSON"])
            self.assertEqual(rec["msg"], e["MESSAGE"])
            self.assertEqual(rec["task"], name)
            self.assertEqual(rec["level"], "info")
        states = [e for e in entries if e.get("LOOPD_TASK") == name and
                  e.get("LOOPD_EVENT") == "task_state"]
        self.assertTrue(states, "no task_state entry with LOOPD_EVENT")

    def test_journald_target_fields_in_a_private_journal_socket(self):
        """The fields loopd sends, read from the journal's socket: a test
        socket mounted over /run/systemd/journal in a mount namespace of
        loopd's own, so that no journald is needed."""
        unshare = shutil.which("unshare")
        if unshare is None:
            self.skipTest("unshare(1) is not installed")
        probe = subprocess.run(
            [unshare, "-m", "--propagation", "private", "true"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if probe.returncode != 0:
            probe = subprocess.run([unshare, "-rm", "true"],
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
            if probe.returncode != 0:
                self.skipTest("cannot make a mount namespace here (%s): "
                              "the journald fields are checked only "
                              "against a real journal" %
                              probe.stderr.decode().strip())
            prefix = [unshare, "-rm"]
        else:
            prefix = [unshare, "-m", "--propagation", "private"]
        jdir = os.path.join(self.tmp, "journal")
        os.mkdir(jdir)
        js = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(js.close)
        js.bind(os.path.join(jdir, "socket"))
        js.settimeout(TIMEOUT)
        flood = self.sock("flood.sock")
        conf = self.journald_config("jtask", flood.path)
        script = ('mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal'
                  ' && mount --bind "$1" /run/systemd/journal && shift &&'
                  ' exec "$@"')
        d = Daemon(self, prefix + ["sh", "-c", script, "sh", jdir, self.bin,
                                   "-c", conf], self.tmp)
        self.addCleanup(d.close)
        flood.wait_for("FLOOD", "done")
        entries = []
        while not any(e.get("LOOPD_EVENT") == "loop_start" for e in entries):
            entries.append(parse_journal_datagram(js.recv(1 << 20)))
        worker = json.loads([e for e in entries if e.get("LOOPD_EVENT") ==
                             "loop_start"][0]["LOOPD_JSON"])["pid"]
        # libsystemd is the supervisor's alone, and stays open.
        self.assertIn("libsystemd", maps_of(d.pid))
        self.assertNotIn("libsystemd", maps_of(worker))
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        js.setblocking(False)
        while True:
            try:
                entries.append(parse_journal_datagram(js.recv(1 << 20)))
            except BlockingIOError:
                break
        self.check_journal_entries("jtask", entries)
        self.assertTrue(any(e.get("LOOPD_EVENT") == "exit" for e in entries))
        self.assertEqual(d.find(lambda r: True), [],
                         "records on stderr with target: journald")

    def test_journald_target_found_by_field_with_journalctl(self):
        """Against the machine's journal: journalctl LOOPD_TASK=<unique>
        finds the records."""
        journalctl = shutil.which("journalctl")
        if journalctl is None:
            self.skipTest("no journal here: journalctl is not installed "
                          "(CI without systemd-journald skips this test)")
        header = subprocess.run([journalctl, "--header"],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        text = header.stdout.decode("utf-8", "replace").strip()
        if (header.returncode != 0 or not text or "No journal files" in text
                or not os.path.exists("/run/systemd/journal/socket")):
            self.skipTest("no journal here: systemd-journald is not running "
                          "(journalctl --header: %s); CI without a journal "
                          "skips this test" % (text.splitlines() or
                                               ["no output"])[0])
        name = "jt-" + uuid.uuid4().hex[:12]
        flood = self.sock("flood.sock")
        d = self.start(config=self.journald_config(name, flood.path))
        flood.wait_for("FLOOD", "done")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

        def found():
            p = subprocess.run([journalctl, "--no-pager", "-o", "json",
                                "LOOPD_TASK=" + name],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
            entries = [json.loads(ln) for ln in
                       p.stdout.decode().splitlines() if ln]
            return entries if len([e for e in entries if
                                   "LOOPD_EVENT" not in e]) >= 3 else None
        self.check_journal_entries(name, poll_until(
            "the records in the journal", found))

    # -- log.rate

    def test_rate_limit_per_task_counts_every_dropped_record(self):
        """log.rate: 50/200ms.  A flood of 3000 records: at most 50 of them
        in each window, every other one counted in a log_rate_limited
        record; a quiet task of the same loop under the limit loses
        nothing."""
        n, limit, window = 3000, 50, 0.2
        flood = self.sock("flood.sock")
        quiet = self.sock("quiet.sock")
        conf = self.write_file("loopd.yaml", to_yaml({
            "plugin_dir": self.plugin_dir(),
            "log": {"rate": "%d/%dms" % (limit, window * 1000)},
            "loops": [loop("l", task("flood", "flooder", count=n, chunk=50,
                                     notify=flood.path),
                           task("quiet", "flooder", count=limit - 10,
                                notify=quiet.path))],
        }))
        d = self.start(config=conf)
        flood.wait_for("FLOOD", "done")
        quiet.wait_for("FLOOD", "done")

        def accounted():
            lines = len(flood_numbers(d.find(lambda r: True)))
            dropped = sum(r["dropped"] for r in d.find(
                event="log_rate_limited", task="flood"))
            return lines + dropped == n
        # The report of the last window comes when it ends.
        d.wait_for(lambda r: accounted(), what="every record of the flood "
                   "written or counted")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

        records = d.find(lambda r: True)
        nums = flood_numbers(records)
        reports = d.find(event="log_rate_limited")
        self.assertTrue(reports, "nothing was dropped")
        for r in reports:
            self.assertEqual(r["task"], "flood", r)
            self.assertEqual(r["loop"], "l", r)
            self.assertEqual(r["plugin"], "flooder", r)
            self.assertEqual(r["level"], "warning", r)
            self.assertGreater(r["dropped"], 0, r)
        dropped = sum(r["dropped"] for r in reports)
        self.assertEqual(len(nums) + dropped, n,
                         "%d written + %d dropped != %d logged"
                         % (len(nums), dropped, n))
        self.assertEqual(nums, sorted(set(nums)))
        self.assertEqual(flood_numbers(records, "quiet"),
                         list(range(1, limit - 9)))
        self.assertEqual(d.find(event="log_dropped"), [])
        # At most `limit` in each window: whatever the windows' starts,
        # never more than twice that within any span of one window.
        ts = [ts_seconds(r["ts"]) for r in records
              if r.get("task") == "flood" and "event" not in r]
        for i, t0 in enumerate(ts):
            inside = sum(1 for t in ts[i:] if t < t0 + window)
            self.assertLessEqual(inside, 2 * limit,
                                 "%d records within %gs" % (inside, window))
        span = ts[-1] - ts[0]
        self.assertLessEqual(len(ts), limit * (int(span / window) + 2))

    def test_rate_limit_windows_that_end_inside_a_callback(self):
        """log.rate: 1/1ms, and 300000 records logged in one callback,
        which lasts several windows: no timer can fire inside it, so each
        window's count is reported by the first record after it."""
        n = 300000
        flood = self.sock("flood.sock")
        conf = self.write_file("loopd.yaml", to_yaml({
            "plugin_dir": self.plugin_dir(),
            "log": {"rate": "1/1ms"},
            "loops": [loop("l", task("flood", "flooder", count=n, chunk=n,
                                     notify=flood.path))],
        }))
        d = self.start(config=conf)
        flood.wait_for("FLOOD", "done", timeout=3 * TIMEOUT)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        nums = flood_numbers(d.find(lambda r: True))
        reports = d.find(event="log_rate_limited", task="flood")
        self.assertGreaterEqual(len(nums), 2, "one window only: %d lines"
                                % len(nums))
        self.assertEqual(len(nums) + sum(r["dropped"] for r in reports), n)

    def test_rate_limit_count_said_when_the_task_ends(self):
        """A window of an hour: the task ends inside it, and its end says
        how many of its records were dropped, before its state."""
        flood = self.sock("flood.sock")
        conf = self.write_file("loopd.yaml", to_yaml({
            "plugin_dir": self.plugin_dir(),
            "log": {"rate": "10/1h"},
            "loops": [loop("l", task("flood", "flooder", count=100,
                                     notify=flood.path))],
        }))
        d = self.start(config=conf)
        flood.wait_for("FLOOD", "done")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        self.assertEqual(flood_numbers(d.find(lambda r: True)),
                         list(range(1, 11)))
        report = d.wait_record(event="log_rate_limited", task="flood")
        self.assertEqual(report["dropped"], 90)
        done = d.wait_record(event="task_state", task="flood", state="done")
        self.assertLess(d.index_of(report), d.index_of(done))


if __name__ == "__main__":
    unittest.main()
