#!/usr/bin/python3
"""notify-run.py: run loopd under a NOTIFY_SOCKET of its own and time it.

    notify-run.py [options] -- LOOPD ARGS...

Binds an AF_UNIX datagram socket in a fresh temporary directory, starts the
command with NOTIFY_SOCKET pointing at it (in a session of its own, stdin
and stdout on /dev/null), and then:

  1. waits for READY=1 (ready_ms: from just before exec);
  2. with --pss, reads the PSS and the anonymous memory of the supervisor
     and of every worker from /proc/PID/smaps_rollup at that moment
     (worker figures are summed, and the largest is given too).  Worker pids come from the
     "loop started" records in the --stderr file (field pid);
  3. with --wait KEY, waits for a datagram carrying KEY=... on the same
     socket (a bench plugin sends it: give the socket a known path with
     --socket and put that path in the plugin's config);
  4. sends SIGTERM and waits for the exit (exit_ms: from the signal).

With --plain the command is anything else: it is timed from exec to its own
exit (total_ms), and nothing is waited for or sent on the way.

It prints one line of key=value pairs:

    ready_ms= [sup_pss_kb= sup_anon_kb= workers= worker_pss_kb=
    worker_pss_max_kb= worker_anon_kb= worker_anon_max_kb=] [wait_ms=]
    exit_ms= total_ms= status= cpu_s=

cpu_s is user + system time of loopd and the workers it reaped (wait4).
--stderr FILE sends loopd's stderr to FILE; --stderr '|CMD' to a pipe read
by CMD (run by sh, its stdout on /dev/null).  Every wait has a deadline
(--timeout); past it, the process group is killed and the exit status is 1.
Exit status 0 when loopd ran and exited (whatever its own exit status, which
is reported as status=).
"""
import argparse
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time


def die(msg):
    print("notify-run: " + msg, file=sys.stderr)
    sys.exit(1)


def mem_kb(pid):
    """(PSS, anonymous memory) of one process in kB, or (None, None) when
    it is gone.  PSS moves with the other processes that map the same
    libraries; anonymous memory (heap, stacks) is the process's own."""
    pss = anon = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Anonymous:"):
                    anon = int(line.split()[1])
    except OSError:
        return None, None
    return pss, anon


def worker_pids(path):
    """Pids of the "loop started" records in a JSON-lines log file."""
    pids = []
    pat = re.compile(r'"msg":"loop started[^"]*".*?"pid":(\d+)|'
                     r'"pid":(\d+).*?"msg":"loop started')
    with open(path, errors="replace") as f:
        for line in f:
            if "loop started" not in line:
                continue
            m = pat.search(line)
            if m:
                pids.append(int(m.group(1) or m.group(2)))
    return pids


class Notify:
    """The datagram socket loopd (and a bench plugin) write to."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)

    def wait(self, key, deadline, pid):
        """Monotonic time at which a datagram with KEY= arrived, or None
        when the deadline passed or process pid ended first."""
        pidfd = os.pidfd_open(pid)
        try:
            p = select.poll()
            p.register(self.sock, select.POLLIN)
            p.register(pidfd, select.POLLIN)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                ready = [fd for fd, _ in p.poll(left * 1e3)]
                if self.sock.fileno() in ready:
                    data = self.sock.recv(65536)
                    now = time.monotonic()
                    for line in data.decode("utf-8", "replace").splitlines():
                        if line.startswith(key + "="):
                            return now
                elif pidfd in ready:
                    return None
        finally:
            os.close(pidfd)


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        usage="%(prog)s [options] -- LOOPD ARGS...")
    ap.add_argument("--stderr", default="/dev/null",
                    help="FILE, or |CMD for a pipe (default /dev/null)")
    ap.add_argument("--pss", action="store_true",
                    help="read PSS of supervisor and workers at READY=1")
    ap.add_argument("--wait", metavar="KEY",
                    help="after READY=1, wait for a datagram with KEY=")
    ap.add_argument("--socket", metavar="PATH",
                    help="bind the socket at PATH (default: in a new "
                    "temporary directory)")
    ap.add_argument("--plain", action="store_true",
                    help="the command is not loopd: no NOTIFY_SOCKET, no "
                    "READY=1, no SIGTERM; time it from exec to exit")
    ap.add_argument("--timeout", type=float, default=60,
                    help="deadline of each wait, in seconds (60)")
    ap.add_argument("argv", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    argv = a.argv[1:] if a.argv[:1] == ["--"] else a.argv
    if not argv:
        ap.error("no command given")

    tmp = None
    if a.socket is None:
        tmp = tempfile.mkdtemp(prefix="loopd-notify.")
        a.socket = os.path.join(tmp, "notify")
    notify = Notify(a.socket)
    env = dict(os.environ, NOTIFY_SOCKET=notify.path)
    if a.plain:
        del env["NOTIFY_SOCKET"]
    reader = None
    if a.stderr.startswith("|"):
        reader = subprocess.Popen(a.stderr[1:], shell=True,
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL)
        err = reader.stdin
    else:
        err = open(a.stderr, "wb")
    out = {}
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err,
                                start_new_session=True)
    except OSError as e:
        die("cannot run %s: %s" % (argv[0], e))
    err.close()
    failed = None
    exited = False
    try:
        t_ready = t0 if a.plain else notify.wait("READY", t0 + a.timeout,
                                                 proc.pid)
        if a.plain:
            pass
        elif t_ready is None:
            failed = "no READY=1 within %g s, or %s exited first" % (
                a.timeout, argv[0])
        else:
            out["ready_ms"] = (t_ready - t0) * 1e3
            if a.pss:
                out.update(measure_pss(proc.pid, a.stderr))
            if a.wait:
                t = notify.wait(a.wait, t_ready + a.timeout, proc.pid)
                if t is None:
                    failed = "no %s= within %g s, or %s exited first" % (
                        a.wait, a.timeout, argv[0])
                else:
                    out["wait_ms"] = (t - t0) * 1e3
        t_term = time.monotonic()
        if failed is None:
            if not a.plain:
                proc.send_signal(signal.SIGTERM)
            status, usage, t_exit = wait_exit(proc.pid, t_term + a.timeout)
            if status is None:
                failed = "still running %g s after %s" % (
                    a.timeout, "exec" if a.plain else "SIGTERM")
            else:
                exited = True
                out["exit_ms"] = (t_exit - t_term) * 1e3
                out["total_ms"] = (t_exit - t0) * 1e3
                out["status"] = status
                out["cpu_s"] = usage.ru_utime + usage.ru_stime
    finally:
        if not exited:
            kill_group(proc)
        if reader is not None:
            reader.wait()
        notify.sock.close()
        os.unlink(notify.path)
        if tmp is not None:
            os.rmdir(tmp)
    if failed is not None:
        die(failed)
    print(" ".join("%s=%s" % (k, ("%.2f" % v) if isinstance(v, float)
                              else v) for k, v in out.items()))


def measure_pss(pid, stderr):
    pss, anon = mem_kb(pid)
    m = {"sup_pss_kb": pss, "sup_anon_kb": anon}
    pids = worker_pids(stderr) if os.path.isfile(stderr) else []
    if not pids:    # the log went elsewhere: the supervisor's children
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                pids = [int(p) for p in f.read().split()]
        except OSError:
            pids = []
    sizes = [s for s in map(mem_kb, pids) if s[0] is not None]
    m["workers"] = len(sizes)
    m["worker_pss_kb"] = sum(s[0] for s in sizes)
    m["worker_pss_max_kb"] = max((s[0] for s in sizes), default=0)
    m["worker_anon_kb"] = sum(s[1] for s in sizes)
    m["worker_anon_max_kb"] = max((s[1] for s in sizes), default=0)
    return m


def wait_exit(pid, deadline):
    """(exit status, rusage, time) of pid, or (None, None, None).  A pidfd
    becomes readable when the process ends: a wait with a deadline."""
    fd = os.pidfd_open(pid)
    try:
        p = select.poll()
        p.register(fd, select.POLLIN)
        left = deadline - time.monotonic()
        if not p.poll(max(0, left) * 1e3):
            return None, None, None
        now = time.monotonic()
    finally:
        os.close(fd)
    _, st, usage = os.wait4(pid, 0)
    return os.waitstatus_to_exitcode(st), usage, now


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.wait()


if __name__ == "__main__":
    main()
