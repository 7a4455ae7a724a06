#!/usr/bin/env python3
"""reload-latency.py: what a reload of 1,000 tasks, one of them changed,
costs: the time from SIGHUP to the reload record, and the longest gap in
echo answers on an untouched task meanwhile.

    bench/reload-latency.py [-n ROUNDS] [-t TASKS] [-l LOOPS] LOOPD_BIN PLUGIN_DIR

loopd runs TASKS tasks (default 1000) spread over LOOPS loops (default 4):
one echo task (port 0) and ticker tasks (interval 1h), the echo in loop 0
with the ticker that changes.  A client thread does 1-byte echo round
trips on one connection without pause.  Each round rewrites the file with
that ticker's message changed (so the reload checks the whole file against
both plugins' settings, inspecting each plugin once, and reconfigures one
task in place), sends SIGHUP and waits for the reload record.  Measured
per round: SIGHUP sent to the record read from loopd's stderr (a pipe),
the record's own duration_ms, and the longest interval between two echo
answers from 50 ms before the SIGHUP to 50 ms after the record.  The same
longest gap over a quiet 0.5 s before the first round is the baseline.
Prints one line per round and the medians and maxima.
"""
import argparse
import json
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def conf_text(plugins, tasks, loops, message):
    out = ["plugin_dir: %s" % plugins, "log: {level: info}", "loops:"]
    per = [[] for _ in range(loops)]
    per[0].append("      - {name: echo, plugin: echo, config: {port: 0}}")
    per[0].append("      - {name: changed, plugin: ticker, config: "
                  "{interval: 1h, message: %s}}" % message)
    for i in range(tasks - 2):
        per[i % loops].append("      - {name: t%d, plugin: ticker, config: "
                              "{interval: 1h}}" % i)
    for n, ts in enumerate(per):
        out += ["  - name: l%d" % n, "    tasks:"] + ts
    return "\n".join(out) + "\n"


class Loopd:
    def __init__(self, loopd, conf):
        self.p = subprocess.Popen([loopd, "-c", conf],
                                  stderr=subprocess.PIPE, text=True)
        self.q = queue.Queue()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        for line in self.p.stderr:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            self.q.put((time.monotonic(), r))

    def wait(self, pred, timeout=30.0):
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                sys.exit("reload-latency: no such record within %.0f s"
                         % timeout)
            t, r = self.q.get(timeout=left)
            if pred(r):
                return t, r


class Client:
    """Echo round trips without pause; the time of every answer."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.times = []
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            self.s.sendall(b"x")
            if self.s.recv(1) != b"x":
                return
            self.times.append(time.monotonic())

    def gap(self, t0, t1):
        ts = [t for t in self.times if t0 <= t <= t1]
        return max((b - a for a, b in zip(ts, ts[1:])), default=None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("-t", type=int, default=1000)
    ap.add_argument("-l", type=int, default=4)
    ap.add_argument("loopd")
    ap.add_argument("plugins")
    a = ap.parse_args()
    a.plugins = os.path.abspath(a.plugins)
    with tempfile.TemporaryDirectory() as tmp:
        conf = os.path.join(tmp, "reload.yaml")
        with open(conf, "w") as f:
            f.write(conf_text(a.plugins, a.t, a.l, "m0"))
        d = Loopd(a.loopd, conf)
        try:
            _, r = d.wait(lambda r: r.get("task") == "echo" and
                          r.get("msg", "").startswith("listening on "))
            port = int(r["msg"].rsplit(":", 1)[1])
            d.wait(lambda r: r.get("event") == "ready")
            c = Client(port)
            time.sleep(0.5)
            base = c.gap(time.monotonic() - 0.5, time.monotonic())
            rows = []
            for i in range(1, a.n + 1):
                with open(conf + ".new", "w") as f:
                    f.write(conf_text(a.plugins, a.t, a.l, "m%d" % i))
                os.rename(conf + ".new", conf)
                time.sleep(0.1)     # answers before the SIGHUP
                t0 = time.monotonic()
                d.p.send_signal(signal.SIGHUP)
                t1, r = d.wait(lambda r: r.get("event") in
                               ("reload", "reload_failed"))
                if r["event"] != "reload" or r["reconfigured"] != \
                        ["changed"]:
                    sys.exit("reload-latency: unexpected %s" % r)
                time.sleep(0.1)     # answers after the record
                rows.append(((t1 - t0) * 1000, r["duration_ms"],
                             c.gap(t0 - 0.05, t1 + 0.05) * 1000))
                print("round %2d: SIGHUP to record %6.2f ms, duration_ms "
                      "%3d, longest echo gap %6.2f ms" % ((i,) + rows[-1]))
            c.stop = True
            print("baseline longest echo gap over 0.5 s: %.2f ms, %d "
                  "answers" % (base * 1000, len(c.times)))
            for k, name in ((0, "SIGHUP to record (ms)"),
                            (1, "duration_ms"),
                            (2, "longest echo gap (ms)")):
                v = [row[k] for row in rows]
                print("%-22s median %7.2f  max %7.2f" %
                      (name, statistics.median(v), max(v)))
        finally:
            d.p.send_signal(signal.SIGTERM)
            d.p.wait(timeout=30)


if __name__ == "__main__":
    main()
