"""loopd_harness: drive the real loopd binary from unittest.

Each test gets a fresh temp directory with its own YAML file, a plugin
directory of symlinks, and, when it asks, its own NOTIFY_SOCKET.  loopd runs
in a session of its own, so that everything it forks can be found (and
killed) by process group.  Its stderr is read by a thread: every line must be
one JSON object with ts, level, msg and pid, or the test fails.  Waiting is
always for something (a record, a datagram, an exit) and always has a
deadline; nothing here sleeps to wait for readiness.

Paths come from the environment that ctest sets: LOOPD_BIN, LOOPD_PLUGINS,
LOOPD_TEST_PLUGINS, LOOPD_SOURCE_DIR, LOOPD_BUILD_DIR.
"""

import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

# Waits are generous: the machine may be busy with a parallel ctest run or
# a sanitizer build.  They end as soon as what they wait for happens.
TIMEOUT = float(os.environ.get("LOOPD_TEST_TIMEOUT", "10"))

TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")
LEVELS = ("debug", "info", "warning", "error")
FILE_LINE_COL_RE = re.compile(
    r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): (?P<msg>.+)$")

# A sanitizer's report of a fatal signal (the crash tests kill a worker on
# purpose): from its first line to "==ABORTING".
_CRASH_REPORT_START = re.compile(
    r"Sanitizer:DEADLYSIGNAL|ERROR: AddressSanitizer: "
    r"(SEGV|ABRT|BUS|FPE|ILL|stack-overflow)")
_CRASH_REPORT_END = re.compile(r"^==\d+==ABORTING")


def env(name):
    """A path ctest passes in; a missing one is an error, not a skip."""
    value = os.environ.get(name)
    if not value:
        raise RuntimeError("%s is not set: run the integration tests "
                           "through ctest (ctest -L integration)" % name)
    return value


def loopd_bin():
    return env("LOOPD_BIN")


# ---- YAML ------------------------------------------------------------------

_PLAIN_RE = re.compile(r"^[A-Za-z0-9_/][A-Za-z0-9_./-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null",
               "~"}


def _scalar(v):
    if v is None:
        return "~"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    if _PLAIN_RE.match(s) and s.lower() not in _YAML_WORDS:
        return s
    return json.dumps(s)   # a JSON string is a YAML double-quoted scalar


def to_yaml(value, indent=0):
    """Block-style YAML for dicts, lists and scalars (plain when safe)."""
    pad = " " * indent
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                out.append("%s%s:\n%s" % (pad, k, to_yaml(v, indent + 2)))
            elif isinstance(v, dict):
                out.append("%s%s: {}\n" % (pad, k))
            elif isinstance(v, list):
                out.append("%s%s: []\n" % (pad, k))
            else:
                out.append("%s%s: %s\n" % (pad, k, _scalar(v)))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                text = to_yaml(item, indent + 2)
                out.append(pad + "- " + text[indent + 2:])
            else:
                out.append("%s- %s\n" % (pad, _scalar(item)))
    else:
        out.append("%s%s\n" % (pad, _scalar(value)))
    return "".join(out)


def task(name, plugin, **config):
    t = {"name": name, "plugin": plugin}
    if config:
        t["config"] = config
    return t


def loop(name, *tasks, backend=None, restart=None, **settings):
    """A loop's mapping.  Its restart policy is `never` unless restart=
    says otherwise, so that a test sees each failure once; tests of
    supervision pass their own.  Other settings (hang_timeout=, limits=,
    ...) are passed through."""
    lp = {"name": name}
    if backend is not None:
        lp["backend"] = backend
    lp["restart"] = restart if restart is not None else {"policy": "never"}
    lp.update(settings)
    lp["tasks"] = list(tasks)
    return lp


# ---- records ---------------------------------------------------------------

def field(record, path):
    """record["a"]["b"] for path "a.b", or None."""
    v = record
    for key in path.split("."):
        if not isinstance(v, dict) or key not in v:
            return None
        v = v[key]
    return v


def where(**want):
    """A predicate on records.  Keys: field paths, "__" standing for "."
    (error__type); values: a value to equal, a compiled regex to search, or
    a callable."""
    items = [(k.replace("__", "."), v) for k, v in want.items()]

    def pred(record):
        for path, expect in items:
            v = field(record, path)
            if isinstance(expect, re.Pattern):
                if not isinstance(v, str) or not expect.search(v):
                    return False
            elif callable(expect):
                if not expect(v):
                    return False
            elif v != expect:
                return False
        return True
    pred.description = ", ".join("%s=%r" % (k, v.pattern if isinstance(
        v, re.Pattern) else v) for k, v in items)
    return pred


def _describe(pred):
    return getattr(pred, "description", getattr(pred, "__name__", "?"))


def record_problems(record):
    """What is wrong with a record's common fields (empty list: nothing)."""
    bad = []
    if not isinstance(record, dict):
        return ["not a JSON object"]
    if not isinstance(record.get("ts"), str) or not TS_RE.match(record["ts"]):
        bad.append("ts %r is not RFC 3339 UTC with microseconds"
                   % (record.get("ts"),))
    if record.get("level") not in LEVELS:
        bad.append("level %r is not one of %s" % (record.get("level"),
                                                  "|".join(LEVELS)))
    if not isinstance(record.get("msg"), str):
        bad.append("msg is missing or not a string")
    if not isinstance(record.get("pid"), int) or isinstance(
            record.get("pid"), bool) or record.get("pid") <= 0:
        bad.append("pid %r is not a positive integer" % (record.get("pid"),))
    return bad


def record_time(record):
    """A record's ts, as seconds since the epoch."""
    return datetime.datetime.strptime(
        record["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


_LSAN_NO_REGISTERS = re.compile(
    r"^==\d+==Unable to get registers from thread \d+\.$")


def sanitizer_lines(lines):
    return [ln for ln in lines if "Sanitizer" in ln or "runtime error:" in ln]


def strip_crash_reports(lines):
    """lines without the sanitizer reports of fatal signals."""
    kept, inside = [], False
    for ln in lines:
        if not inside and _CRASH_REPORT_START.search(ln):
            inside = True
        if inside:
            if _CRASH_REPORT_END.search(ln):
                inside = False
            continue
        kept.append(ln)
    return kept


# ---- processes -------------------------------------------------------------

def _proc_stat(pid):
    """(comm, state, pgrp, session) of a process, or None once it is gone."""
    try:
        with open("/proc/%s/stat" % pid, "rb") as f:
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    comm = data[data.index("(") + 1:data.rindex(")")]
    rest = data[data.rindex(")") + 2:].split()
    return comm, rest[0], int(rest[2]), int(rest[3])


def processes_in_group(pgid):
    """Live (not zombie) processes whose process group or session is pgid."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = _proc_stat(name)
        if st is None or st[1] in ("Z", "X"):
            continue
        if st[2] == pgid or st[3] == pgid:
            found.append((int(name), st[0], st[1]))
    return found


def poll_until(what, check, timeout=TIMEOUT, state=None):
    """check()'s first true value, polled until the deadline: for what
    signals nothing when it changes (a file, a journal, an HTTP endpoint,
    a status answer).  On timeout, the failure names `what` and, when
    given, state(): what was seen last."""
    deadline = time.monotonic() + timeout
    while True:
        v = check()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %gs waiting for %s%s" % (
                timeout, what, "" if state is None else ": %s" % state()))
        time.sleep(0.02)


def wait_group_empty(pgid, timeout=5.0):
    """[] once no process of the group/session is left, or what is left
    at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        left = processes_in_group(pgid)
        if not left or time.monotonic() >= deadline:
            return left
        # Polling /proc until the deadline: no event says a process of
        # another parent has gone.  Not a readiness wait.
        time.sleep(0.02)


class Daemon:
    """One running loopd.  Made by LoopdTestCase.start()."""

    def __init__(self, test, argv, cwd, extra_env=None,
                 allow_crash_report=False, preexec_fn=None, stderr=None,
                 stderr_paused=False):
        self.test = test
        self.argv = argv
        self.allow_crash_report = allow_crash_report
        self.records = []           # every JSON record, in order
        self.stream = []            # ("json", record) / ("text", line)
        self.bad = []               # problems with stderr lines
        self.text_lines = []        # stderr lines that are not JSON
        self.stdout = []
        self.returncode = None
        self._cond = threading.Condition()
        self._eof = stderr is not None     # not ours to read
        # Cleared: the stderr reader reads nothing, so loopd's output stalls
        # as behind a journal or a pager that does not read.
        self._stderr_go = threading.Event()
        if not stderr_paused:
            self._stderr_go.set()
        e = dict(os.environ)
        e.pop("NOTIFY_SOCKET", None)
        e.update(extra_env or {})
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=e, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE if stderr is None else stderr,
            start_new_session=True, preexec_fn=preexec_fn)
        self.pid = self.proc.pid
        self.pgid = self.proc.pid
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
        ]
        if stderr is None:
            self._threads.append(
                threading.Thread(target=self._read_stderr, daemon=True))
        for t in self._threads:
            t.start()

    # -- readers

    def _read_stderr(self):
        while True:
            self._stderr_go.wait()
            raw = self.proc.stderr.readline()
            if not raw:
                break
            self._take_line(raw)
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _take_line(self, raw):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("utf-8", "replace")
            with self._cond:
                self.bad.append("stderr line is not UTF-8: %r" % raw)
        line = line.rstrip("\n")
        try:
            rec = json.loads(line)
        except ValueError:
            rec = None
        with self._cond:
            if rec is None or not isinstance(rec, dict):
                self.text_lines.append(line)
                self.stream.append(("text", line))
            else:
                for p in record_problems(rec):
                    self.bad.append("%s in %s" % (p, line))
                self.records.append(rec)
                self.stream.append(("json", rec))
            self._cond.notify_all()

    def pause_stderr(self):
        """Stop reading stderr (after the line being read, if any)."""
        self._stderr_go.clear()

    def resume_stderr(self):
        self._stderr_go.set()

    def _read_stdout(self):
        for raw in iter(self.proc.stdout.readline, b""):
            self.stdout.append(raw.decode("utf-8", "replace"))

    # -- waiting

    def mark(self):
        """The number of records seen so far: pass it as `after`."""
        with self._cond:
            return len(self.records)

    def _dump(self, n=40):
        with self._cond:
            tail = self.stream[-n:]
        lines = ("  " + (json.dumps(x) if k == "json" else "TEXT " + x)
                 for k, x in tail)
        return "\n".join(ln if len(ln) <= 400 else ln[:400] + "...(%d chars)"
                         % len(ln) for ln in lines)

    def wait_for(self, pred, timeout=TIMEOUT, after=0, what=None):
        """The first record (from index `after`) that pred accepts.  Fails
        at the deadline, or as soon as stderr is closed without one."""
        deadline = time.monotonic() + timeout
        i = after
        with self._cond:
            while True:
                while i < len(self.records):
                    if pred(self.records[i]):
                        return self.records[i]
                    i += 1
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    break
                self._cond.wait(left)
        self.test.fail("%s waiting for a record with %s; last lines:\n%s" % (
            "stderr closed" if self._eof else "timed out after %gs" % timeout,
            what or _describe(pred), self._dump()))

    def wait_record(self, timeout=TIMEOUT, after=0, **want):
        return self.wait_for(where(**want), timeout=timeout, after=after)

    def find(self, pred=None, **want):
        """Every record seen so far that matches."""
        pred = pred or where(**want)
        with self._cond:
            return [r for r in self.records if pred(r)]

    def index_of(self, record):
        with self._cond:
            for i, r in enumerate(self.records):
                if r is record:
                    return i
        raise ValueError("record not seen")

    def echo_port(self, task="echo", timeout=TIMEOUT):
        rec = self.wait_record(
            timeout=timeout, task=task,
            msg=re.compile(r"^listening on 127\.0\.0\.1:\d+$"))
        return int(rec["msg"].rsplit(":", 1)[1])

    def worker_pid(self, loop_name, timeout=TIMEOUT):
        rec = self.wait_record(timeout=timeout, loop=loop_name,
                               msg=re.compile(r"^loop started on "))
        return rec["pid"]

    def wait_ready(self, timeout=TIMEOUT):
        return self.wait_record(timeout=timeout, event="ready")

    # -- signals and exit

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        """sig to loopd alone, as systemd's KillMode=mixed does."""
        self.proc.send_signal(sig)

    def signal_group(self, sig):
        """sig to loopd and every worker, as kill -- -PGID, timeout(1) or
        a terminal's Ctrl-C do."""
        os.killpg(self.pgid, sig)

    def wait_exit(self, timeout=TIMEOUT):
        """loopd's exit status; fails if it is still running at the
        deadline.  Also waits for stderr to be read to its end."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.test.fail("loopd still running %gs later; last lines:\n%s"
                           % (timeout, self._dump()))
        self._join_readers(timeout)
        return self.returncode

    def _join_readers(self, timeout):
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def assert_no_process_left(self, timeout=5.0):
        left = wait_group_empty(self.pgid, timeout)
        if left:
            self._kill_group()
            self.test.fail("processes left in loopd's session %d: %s"
                           % (self.pgid, left))

    def _kill_group(self):
        """SIGKILL to loopd's session: its process group, and the groups
        of its workers, which lead groups of their own."""
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid, _, _ in processes_in_group(self.pgid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stderr_problems(self):
        """What is wrong with stderr: lines that are not JSON (sanitizer
        reports of deliberate crashes excepted, when allowed), records
        without the common fields."""
        with self._cond:
            text = list(self.text_lines)
            bad = list(self.bad)
        if self.allow_crash_report:
            text = strip_crash_reports(text)
        # LeakSanitizer's notice that a thread was exiting while it stopped
        # the process for its leak check: not a finding (a leak it causes
        # to be missed or invented would be reported on lines of its own).
        text = [ln for ln in text if not _LSAN_NO_REGISTERS.match(ln)]
        if text:
            san = sanitizer_lines(text)
            bad.append("%d stderr line(s) are not JSON%s:\n%s" % (
                len(text), " (SANITIZER REPORT)" if san else "",
                "\n".join("  " + ln for ln in text[:60])))
        return bad

    def close(self):
        """Teardown: kill what is left, check that nothing survives, and
        that stderr was clean."""
        if self.alive():
            self._kill_group()
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        left = wait_group_empty(self.pgid, 5.0)
        if left:
            self._kill_group()
        self._stderr_go.set()
        self._join_readers(5.0)
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()
        problems = self.stderr_problems()
        if left:
            problems.insert(0, "processes left in loopd's session %d: %s"
                            % (self.pgid, left))
        if problems:
            raise AssertionError("\n".join(problems))


class NotifySocket:
    """A test-owned NOTIFY_SOCKET: an AF_UNIX datagram socket, read by a
    thread.  Each message is a dict of its KEY=VALUE lines."""

    def __init__(self, test, path):
        self.test = test
        self.path = path
        self.messages = []
        self._cond = threading.Condition()
        self._closed = False
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._closed:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            fields = {}
            for ln in data.decode("utf-8", "replace").split("\n"):
                if "=" in ln:
                    k, v = ln.split("=", 1)
                    fields[k] = v
            with self._cond:
                self.messages.append(fields)
                self._cond.notify_all()

    def wait_for(self, key, value=None, timeout=TIMEOUT):
        """The first message with key (=value when given)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self.messages:
                    if key in m and (value is None or m[key] == value):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            got = list(self.messages)
        self.test.fail("timed out after %gs waiting for %s%s on NOTIFY_SOCKET;"
                       " got %r" % (timeout, key, "" if value is None else
                                    "=" + value, got))

    def wait_for_match(self, key, regex, timeout=TIMEOUT, after=0):
        """The first message (from index `after`) whose key matches
        regex."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self.messages[after:]:
                    if key in m and regex.search(m[key]):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            got = list(self.messages)
        self.test.fail("timed out after %gs waiting for %s~%s; got %r"
                       % (timeout, key, regex.pattern, got))

    def count(self, key, value):
        with self._cond:
            return sum(1 for m in self.messages if m.get(key) == value)

    def wait_for_count(self, key, value, n, timeout=TIMEOUT, fail=True):
        """True once n messages have key=value; at the deadline, fails (or
        returns False when fail is False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while sum(1 for m in self.messages if m.get(key) == value) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    if fail:
                        self.test.fail("timed out waiting for %d %s=%s"
                                       % (n, key, value))
                    return False
                self._cond.wait(left)
        return True

    def index(self, key, value):
        with self._cond:
            for i, m in enumerate(self.messages):
                if m.get(key) == value:
                    return i
        return -1

    def index_of(self, message):
        with self._cond:
            for i, m in enumerate(self.messages):
                if m is message:
                    return i
        raise ValueError("message not seen")

    def close(self):
        self._closed = True
        self._thread.join(2)
        self.sock.close()


# ---- TCP -------------------------------------------------------------------

def connect(port, timeout=TIMEOUT, rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        raise
    return s


def recv_exact(sock, n, timeout=TIMEOUT):
    """n bytes, or fewer if the peer closes; fails at the deadline."""
    deadline = time.monotonic() + timeout
    chunks, got = [], 0
    while got < n:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            b = sock.recv(min(65536, n - got))
        except socket.timeout:
            raise AssertionError("received %d of %d bytes before the "
                                 "deadline" % (got, n))
        if not b:
            break
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def pushy_exchange(sock, data, timeout=TIMEOUT):
    """Send all of data and read back as many bytes, in one thread with
    selectors.  The client reads nothing until it has sent everything or
    the server stops taking bytes: so whatever the server echoes piles up
    in the kernel until the server's write() comes up short.  Returns
    (reply, stalled): stalled is true when the client's own send blocked,
    which the echo only causes by pausing its reads while a reply is
    pending."""
    import selectors
    deadline = time.monotonic() + timeout
    sock.setblocking(False)
    view, sent, stalled = memoryview(data), 0, False
    got = bytearray()
    try:
        while sent < len(data):     # phase 1: send only
            try:
                sent += sock.send(view[sent:sent + 262144])
            except BlockingIOError:
                stalled = True
                break
        sel = selectors.DefaultSelector()
        sel.register(sock, selectors.EVENT_READ |
                     (selectors.EVENT_WRITE if sent < len(data) else 0))
        while len(got) < len(data):     # phase 2: both ways
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("echoed %d of %d bytes (sent %d) "
                                     "before the deadline"
                                     % (len(got), len(data), sent))
            for key, ev in sel.select(left):
                if ev & selectors.EVENT_WRITE:
                    try:
                        sent += sock.send(view[sent:sent + 262144])
                    except BlockingIOError:
                        pass
                    if sent == len(data):
                        sel.modify(sock, selectors.EVENT_READ)
                if ev & selectors.EVENT_READ:
                    try:
                        b = sock.recv(262144)
                    except BlockingIOError:
                        continue
                    if not b:
                        raise AssertionError("connection closed after %d "
                                             "of %d bytes" % (len(got),
                                                              len(data)))
                    got += b
        sel.close()
    finally:
        sock.setblocking(True)
    return bytes(got), stalled


def echo_roundtrip(port, data=b"ping\n", timeout=TIMEOUT):
    with connect(port, timeout) as s:
        s.sendall(data)
        return recv_exact(s, len(data), timeout)


class EchoPinger:
    """A client of an echo port that keeps asking while a test breaks
    something else: a thread does one round trip every `interval` seconds
    on one connection, and counts those that came back right within
    `deadline` and those that did not (an error, a timeout, wrong bytes:
    a new connection is made for the next one).  Start it before the
    fault, stop it after the recovery, then look at the counts.  The
    pause between round trips is the pace of the pings, not a wait for
    readiness."""

    def __init__(self, port, interval=0.02, deadline=2.0):
        self.port = port
        self.interval = interval
        self.deadline = deadline
        self.successes = 0
        self.answered = []          # time.time() of each success
        self.failures = []          # what went wrong, one string each
        self.slowest = 0.0          # the longest round trip, seconds
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        sock, n = None, 0
        while not self._stop.is_set():
            n += 1
            data = b"ping %d\n" % n
            t0 = time.monotonic()
            try:
                if sock is None:
                    sock = connect(self.port, self.deadline)
                sock.sendall(data)
                got = recv_exact(sock, len(data), self.deadline)
                if got != data:
                    raise AssertionError("echoed %r for %r" % (got, data))
                with self._cond:
                    self.successes += 1
                    self.answered.append(time.time())
                    self._cond.notify_all()
            except (OSError, AssertionError) as e:
                self.failures.append("round trip %d: %s" % (n, e))
                if sock is not None:
                    sock.close()
                sock = None
            self.slowest = max(self.slowest, time.monotonic() - t0)
            self._stop.wait(self.interval)
        if sock is not None:
            sock.close()

    def wait_answered(self, since, timeout=TIMEOUT):
        """True once a round trip has succeeded after time.time() `since`;
        False at the deadline."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self.answered or self.answered[-1] <= since:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self):
        """Stop, and return (successes, failures)."""
        self._stop.set()
        self._thread.join(self.deadline + 1)
        return self.successes, list(self.failures)


# ---- the test case ---------------------------------------------------------

class LoopdTestCase(unittest.TestCase):
    """setUp makes self.tmp; start() runs loopd in it."""

    maxDiff = None

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="loopd-it-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.bin = loopd_bin()

    def plugin_dir(self):
        """tmp/plugins: a symlink to every .so of both plugin dirs."""
        d = os.path.join(self.tmp, "plugins")
        if not os.path.isdir(d):
            os.mkdir(d)
            for src in (env("LOOPD_PLUGINS"), env("LOOPD_TEST_PLUGINS")):
                for name in sorted(os.listdir(src)):
                    if name.endswith(".so"):
                        os.symlink(os.path.join(src, name),
                                   os.path.join(d, name))
        return d

    def write_file(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def write_config(self, loops, grace=None, name="loopd.yaml",
                     log_level=None):
        conf = {"plugin_dir": self.plugin_dir()}
        if log_level is not None:
            conf["log"] = {"level": log_level}
        if grace is not None:
            conf["shutdown"] = {"grace": grace}
        conf["loops"] = loops
        return self.write_file(name, to_yaml(conf))

    def start(self, loops=None, grace=None, config=None, args=(),
              extra_env=None, allow_crash_report=False, log_level=None,
              preexec_fn=None, stderr=None, stderr_paused=False):
        """Run loopd -c CONFIG; teardown kills it if it is still running
        and checks its stderr and that no process is left.  preexec_fn runs
        in the child before loopd (to lower a resource limit, say).
        stderr: a file or fd for loopd's stderr, which the test then reads
        itself (if at all); stderr_paused: read it, but only after
        resume_stderr()."""
        if config is None:
            config = self.write_config(loops, grace=grace,
                                       log_level=log_level)
        d = Daemon(self, [self.bin, "-c", config] + list(args), self.tmp,
                   extra_env=extra_env, allow_crash_report=allow_crash_report,
                   preexec_fn=preexec_fn, stderr=stderr,
                   stderr_paused=stderr_paused)
        self.addCleanup(d.close)
        return d

    def notify_socket(self):
        n = NotifySocket(self, os.path.join(self.tmp, "notify.sock"))
        self.addCleanup(n.close)
        return n

    def run_loopd(self, args, timeout=TIMEOUT, cwd=None):
        """Run loopd to its end (CLI modes): a CompletedProcess with text
        stdout/stderr.  Also checks that it left no process behind."""
        p = subprocess.Popen([self.bin] + list(args), cwd=cwd or self.tmp,
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            self.fail("loopd %s did not exit within %gs" % (args, timeout))
        left = wait_group_empty(p.pid, 5.0)
        if left:
            os.killpg(p.pid, signal.SIGKILL)
            self.fail("loopd %s left processes behind: %s" % (args, left))
        text_err = err.decode("utf-8", "replace")
        san = sanitizer_lines(text_err.splitlines())
        self.assertEqual(san, [], "sanitizer report:\n" + text_err)
        return subprocess.CompletedProcess(
            p.args, p.returncode, out.decode("utf-8", "replace"), text_err)

    # -- assertions shared by the test files

    def assertErrorRecord(self, rec, loop, task, plugin, error_type):
        """A task_error record with every field a consumer relies on."""
        self.assertEqual(record_problems(rec), [], rec)
        self.assertEqual(rec.get("level"), "error", rec)
        self.assertEqual(rec.get("event"), "task_error", rec)
        self.assertEqual(rec.get("loop"), loop, rec)
        self.assertEqual(rec.get("task"), task, rec)
        self.assertEqual(rec.get("plugin"), plugin, rec)
        self.assertIsInstance(rec.get("error"), dict, rec)
        self.assertEqual(rec["error"].get("type"), error_type, rec)
        self.assertIsInstance(rec["error"].get("message"), str, rec)
        self.assertNotEqual(rec["error"]["message"], "", rec)
        self.assertNotEqual(rec.get("msg"), "", rec)
