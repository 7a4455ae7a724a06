#!/usr/bin/env python3
"""restart-latency.py: time from a crash to the task serving again.

    bench/restart-latency.py [-n RUNS] [-b BACKOFF_MS] [-r RAW] LOOPD PLUGIN_DIR

Runs loopd RUNS times (default 30), each with a new marker file, so that
the `flaky` test plugin (tests/plugins/flaky.c, in PLUGIN_DIR) crashes
once in a timer callback (do: crash, when: later) and serves after its
restart.  The loop's restart policy is on-failure with a backoff of
BACKOFF_MS..BACKOFF_MS (10), so the delay is known.  From the records'
ts, each run gives:

  detect_ms   the plugin's "about to crash" to the task_error record: the
              crash handler, the worker's death, SIGCHLD, reaping and the
              backtrace's symbolization
  restart_ms  the task_error record to the "serving" record, minus the
              delay_ms of the task_restart record: the restart's own cost
              (a new worker: fork, exec, configuration, plugin load, start)
  respawn_ms  of which: the task_error record to the new worker's
              loop_start record, minus delay_ms
  total_ms    "about to crash" to "serving", minus delay_ms

RAW (when given) gets one tab-separated line per run.  Prints the median,
90th percentile and maximum of each, in milliseconds.  Exit status 1 when
a run does not reach "serving" within 10 s.
"""
import argparse
import json
import os
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

CONFIG = """plugin_dir: %(plugins)s
log: {level: info}
loops:
  - name: crashy
    backend: epoll
    restart: {policy: on-failure, backoff: %(b)dms..%(b)dms, intensity: 5/60s}
    tasks:
      - name: f
        plugin: flaky
        config: {do: crash, when: later, after: 20ms, marker: %(marker)s}
"""


def ts(record):
    return datetime.strptime(record["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


def one(loopd, plugins, tmp, n, backoff):
    """(detect_ms, restart_ms, respawn_ms, total_ms, delay_ms) of one
    crash."""
    conf = os.path.join(tmp, "restart.yaml")
    with open(conf, "w") as f:
        f.write(CONFIG % {"plugins": plugins, "b": backoff,
                          "marker": os.path.join(tmp, "marker-%d" % n)})
    p = subprocess.Popen([loopd, "-c", conf], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         start_new_session=True)
    about = err = rs = again = serving = None
    deadline = time.monotonic() + 10
    buf = b""
    try:
        while serving is None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([p.stderr], [], [], left)[0]:
                break
            chunk = os.read(p.stderr.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                r = json.loads(line)
                if r.get("msg") == "about to crash":
                    about = r
                elif r.get("event") == "task_error":
                    err = r
                elif r.get("event") == "task_restart":
                    rs = r
                elif r.get("event") == "loop_start" and err is not None:
                    again = r
                elif r.get("msg") == "serving" and err is not None:
                    serving = r
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
    missing = [name for name, r in (("about to crash", about),
                                    ("task_error", err),
                                    ("task_restart", rs),
                                    ("loop_start", again),
                                    ("serving", serving)) if r is None]
    if missing:
        sys.exit("restart-latency: run %d: no %s record from %s"
                 % (n, missing[0], loopd))
    delay = rs["delay_ms"]
    return ((ts(err) - ts(about)) * 1000,
            (ts(serving) - ts(err)) * 1000 - delay,
            (ts(again) - ts(err)) * 1000 - delay,
            (ts(serving) - ts(about)) * 1000 - delay, delay)


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("-b", type=int, default=10, help="backoff, ms")
    ap.add_argument("-r", help="file for the raw lines")
    ap.add_argument("loopd")
    ap.add_argument("plugins")
    a = ap.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="loopd-restart.") as tmp:
        for n in range(a.n):
            runs.append(one(a.loopd, os.path.abspath(a.plugins), tmp, n,
                            a.b))
    if a.r:
        with open(a.r, "a") as f:
            for n, r in enumerate(runs):
                f.write("restart\trun=%d\tdetect_ms=%.3f\trestart_ms=%.3f\t"
                        "respawn_ms=%.3f\ttotal_ms=%.3f\tdelay_ms=%d\n"
                        % ((n,) + r))
    print("# %d crashes of flaky (do: crash, when: later), backoff "
          "%dms..%dms; delay_ms of every restart: %s" % (
              a.n, a.b, a.b, ",".join(sorted({str(r[4]) for r in runs}))))
    print("%-12s %10s %10s %10s %10s" % ("ms", "median", "p90", "min",
                                         "max"))
    for i, name in enumerate(("detect_ms", "restart_ms", "respawn_ms",
                              "total_ms")):
        xs = [r[i] for r in runs]
        print("%-12s %10.2f %10.2f %10.2f %10.2f" % (
            name, statistics.median(xs), pct(xs, 0.9), min(xs), max(xs)))


if __name__ == "__main__":
    main()
