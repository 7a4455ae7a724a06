#!/usr/bin/env python3
"""crash-latency.py: time from a plugin's crash to its task_error record.

    bench/crash-latency.py [-n ROUNDS] LOOPD_BIN TEST_PLUGIN_DIR

Runs loopd ROUNDS times (default 30) with one loop holding the crasher
test plugin (tests/plugins/crasher.c, built with the tests), which logs
"about to segv" and then faults.  The time is the task_error record's ts
minus that warning's ts: the crash handler, the worker's death, the
supervisor's SIGCHLD and reaping, and the backtrace's symbolization.
Prints the median, 90th percentile and maximum in milliseconds.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime


def ts(record):
    return datetime.strptime(record["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")


def one(loopd, plugins, tmp):
    conf = os.path.join(tmp, "crash.yaml")
    with open(conf, "w") as f:
        f.write("plugin_dir: %s\nloops:\n  - name: doomed\n    tasks:\n"
                "      - name: crash\n        plugin: crasher\n"
                "        config: {after: 10ms}\n" % plugins)
    p = subprocess.Popen([loopd, "-c", conf], stderr=subprocess.PIPE,
                         text=True)
    warn = err = None
    try:
        for line in p.stderr:
            r = json.loads(line)
            if r.get("msg") == "about to segv":
                warn = r
            if r.get("event") == "task_error":
                err = r
                break
    finally:
        p.terminate()
        p.communicate(timeout=10)
    if warn is None or err is None:
        sys.exit("crash-latency: no crash record from %s" % loopd)
    return (ts(err) - ts(warn)).total_seconds() * 1000, \
        isinstance((err.get("backtrace") or [""])[0], dict)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("loopd")
    ap.add_argument("plugins")
    a = ap.parse_args()
    ms = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.n):
            t, symbolized = one(a.loopd, os.path.abspath(a.plugins), tmp)
            ms.append(t)
    ms.sort()
    print("%s: %d crashes, frames %s: median %.2f ms, p90 %.2f ms, "
          "max %.2f ms" % (a.loopd, a.n, "symbolized" if symbolized else
                           "raw", statistics.median(ms),
                           ms[int(0.9 * (len(ms) - 1))], ms[-1]))


if __name__ == "__main__":
    main()
