"""/metrics in the Prometheus text format and /healthz: values that move
with traffic and restarts, and a health verdict that sees a hung loop."""

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import time
import unittest

from loopd_harness import (TIMEOUT, LoopdTestCase, connect, echo_roundtrip,
                           env, loop, poll_until, recv_exact, task, to_yaml)

NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse_metrics(test, text):
    """{name: {"type", "help", "samples": {frozenset(labels): value}}},
    checking the text format as it goes: HELP and TYPE before the samples
    of a family, each family once, every sample in a declared family."""
    families, current = {}, None
    test.assertTrue(text.endswith("\n"))
    for ln in text.splitlines():
        if ln.startswith("# HELP "):
            name = ln.split(" ", 3)[2]
            test.assertRegex(name, NAME_RE)
            test.assertNotIn(name, families, "family %s twice" % name)
            test.assertTrue(name.startswith("loopd_"), name)
            families[name] = {"help": ln.split(" ", 3)[3], "samples": {}}
            current = name
        elif ln.startswith("# TYPE "):
            _, _, name, kind = ln.split(" ")
            test.assertEqual(name, current, ln)
            test.assertIn(kind, ("counter", "gauge", "histogram"))
            if kind == "counter":
                test.assertTrue(name.endswith("_total"), name)
            families[name]["type"] = kind
        else:
            m = SAMPLE_RE.match(ln)
            test.assertIsNotNone(m, "not a sample line: %r" % ln)
            name, labels, value = m.groups()
            got = {}
            if (families.get(current, {}).get("type") == "histogram" and
                    name != current):
                suffix = name[len(current):]
                test.assertIn(suffix, ("_bucket", "_sum", "_count"), ln)
                test.assertTrue(name.startswith(current), ln)
                got["__sample__"] = suffix
                name = current
            test.assertEqual(name, current, "sample outside its family")
            rest = labels or ""
            while rest:
                lm = LABEL_RE.match(rest)
                test.assertIsNotNone(lm, "bad labels in %r" % ln)
                got[lm.group(1)] = lm.group(2)
                rest = rest[lm.end():]
            key = frozenset(got.items())
            test.assertNotIn(key, families[name]["samples"], ln)
            families[name]["samples"][key] = float(value)
    return families


def value(families, name, **labels):
    """The sample of name whose labels include these, or None."""
    for key, v in families[name]["samples"].items():
        if set(labels.items()) <= set(key):
            return v
    return None


def total(families, name, **labels):
    """The sum of the samples of name whose labels include these."""
    return sum(v for key, v in families[name]["samples"].items()
               if set(labels.items()) <= set(key))


class MetricsTest(LoopdTestCase):

    def start_metrics(self, loops, **top):
        conf = {"plugin_dir": self.plugin_dir(),
                "control": {"socket": os.path.join(self.tmp, "ctl.sock")},
                "metrics": {"listen": "127.0.0.1:0"}}
        conf.update(top)
        conf["loops"] = loops
        d = self.start(config=self.write_file("loopd.yaml", to_yaml(conf)),
                       allow_crash_report=True)
        self.port = d.wait_record(event="metrics_listen")["port"]
        return d

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port,
                                       timeout=TIMEOUT)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.getheader("Content-Type"), r.read().decode()
        finally:
            c.close()

    def scrape(self):
        status, ctype, text = self.get("/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(ctype, "text/plain; version=0.0.4; charset=utf-8")
        return parse_metrics(self, text), text

    def wait_health(self, want, timeout=TIMEOUT):
        last = []

        def check():
            status, ctype, body = self.get("/healthz")
            self.assertEqual(ctype, "application/json")
            last[:] = [status, body]
            return status == want and json.loads(body)
        return poll_until("/healthz to answer %d" % want, check, timeout,
                          state=lambda: "%d %s" % tuple(last))

    def test_metrics_move_with_traffic_and_restarts(self):
        d = self.start_metrics([
            loop("net", task("echo", "echo", port=0),
                 restart={"policy": "on-failure", "backoff": "10ms..20ms"}),
            loop("other", task("t", "ticker", interval="1h"))])
        d.wait_ready()
        port = d.echo_port()
        fams, text = self.scrape()
        self.assertEqual(fams["loopd_build_info"]["samples"],
                         {frozenset({("version", "0.1.0")}): 1.0})
        self.assertEqual(value(fams, "loopd_task_state", loop="net",
                               task="echo", plugin="echo",
                               state="running"), 1)
        self.assertEqual(value(fams, "loopd_task_state", task="echo",
                               state="failed"), 0)
        self.assertEqual(value(fams, "loopd_task_restarts_total",
                               task="echo"), 0)
        self.assertEqual(value(fams, "loopd_worker_up", loop="net"), 1)
        self.assertEqual(value(fams, "loopd_worker_restarts_total",
                               loop="net"), 0)
        self.assertGreater(value(fams, "loopd_worker_resident_memory_bytes",
                                 loop="net"), 1 << 20)
        self.assertEqual(fams["loopd_errors_total"]["samples"], {})
        self.assertEqual(value(fams, "loopd_log_records_dropped_total"), 0)
        fds = value(fams, "loopd_worker_open_fds", loop="net")
        other_fds = value(fams, "loopd_worker_open_fds", loop="other")
        # Echo traffic: held connections are the worker's open fds, and
        # no other worker's.
        held = [connect(port) for _ in range(5)]
        for s in held:
            self.addCleanup(s.close)
            s.sendall(b"x")
            self.assertEqual(s.recv(1), b"x")
        fams, _ = self.scrape()
        self.assertEqual(value(fams, "loopd_worker_open_fds", loop="net"),
                         fds + 5)
        self.assertEqual(value(fams, "loopd_worker_open_fds", loop="other"),
                         other_fds)
        # A crash: the worker is killed, comes back, and is counted.
        pid = d.worker_pid("net")
        n = d.mark()
        os.kill(pid, signal.SIGKILL)
        d.wait_record(task="echo", event="task_state", state="running",
                      after=n)
        fams, text = self.scrape()
        self.assertEqual(value(fams, "loopd_worker_restarts_total",
                               loop="net"), 1)
        # Charged to echo only if its code was running at the kill.
        self.assertIn(value(fams, "loopd_task_restarts_total",
                            task="echo"), (0, 1))
        self.assertEqual(total(fams, "loopd_errors_total", loop="net",
                               type="crash"), 1)
        self.assertEqual(value(fams, "loopd_worker_restarts_total",
                               loop="other"), 0)

    def test_promtool_accepts_output(self):
        promtool = shutil.which("promtool")
        if promtool is None:
            self.skipTest("promtool is not installed (Debian package "
                          "prometheus); the other tests check the format "
                          "with their own parser")
        d = self.start_metrics([
            loop("net", task("echo", "echo", port=0)),
            loop("f", task("bad", "flaky", do="fail"))])
        d.wait_record(task="bad", event="task_error")
        _, text = self.scrape()
        p = subprocess.run([promtool, "check", "metrics"], input=text,
                           capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_task_error_counted_by_type(self):
        d = self.start_metrics([
            loop("f", task("bad", "flaky", do="fail")),
            loop("c", task("boom", "flaky", do="crash",
                           marker=os.path.join(self.tmp, "crashed")),
                 restart={"policy": "on-failure", "backoff": "10ms..20ms"})])
        d.wait_record(task="bad", event="task_error")
        d.wait_record(task="boom", msg="serving")
        fams, _ = self.scrape()
        self.assertEqual(value(fams, "loopd_errors_total", loop="c",
                               task="boom", type="crash"), 1)
        self.assertEqual(value(fams, "loopd_task_restarts_total",
                               task="boom"), 1)
        self.assertEqual(value(fams, "loopd_worker_restarts_total",
                               loop="c"), 1)
        self.assertEqual(value(fams, "loopd_errors_total", loop="f",
                               task="bad", type="test_failure"), 1)
        self.assertEqual(value(fams, "loopd_task_state", task="bad",
                               state="failed"), 1)
        h = self.wait_health(503)
        self.assertEqual(h, {"status": "unhealthy", "problems": [
            {"loop": "f", "task": "bad", "problem": "failed"}]})
        # A task the operator stopped is not a problem.
        p = subprocess.run([os.path.join(os.path.dirname(env("LOOPD_BIN")),
                                         "loopctl"), "--socket",
                            os.path.join(self.tmp, "ctl.sock"), "stop",
                            "f/bad"], capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.wait_health(200), {"status": "ok",
                                                 "problems": []})

    def test_healthz_hang(self):
        marker = os.path.join(self.tmp, "spun")
        d = self.start_metrics([
            loop("calm", task("t", "ticker", interval="1h")),
            loop("stuck", task("spin", "flaky", do="spin", when="later",
                               after="50ms", marker=marker),
                 hang_timeout="1s", hang_action="log",
                 restart={"policy": "on-failure", "backoff": "10ms..20ms"})])
        d.wait_ready()
        self.assertEqual(self.wait_health(200)["status"], "ok")
        rec = d.wait_record(task="spin", msg="about to spin")
        h = self.wait_health(503, timeout=3)
        # Within hang_timeout of the stall, give or take a heartbeat and
        # the polling.
        started = time.mktime(time.strptime(rec["ts"][:19],
                                            "%Y-%m-%dT%H:%M:%S")) \
            - time.timezone + float("0." + rec["ts"][20:26])
        self.assertLess(time.time() - started, 2.0)
        self.assertEqual(h, {"status": "unhealthy", "problems": [
            {"loop": "stuck", "task": "spin", "problem": "hung"}]})
        fams, _ = self.scrape()
        self.assertEqual(value(fams, "loopd_worker_hung", loop="stuck"), 1)
        self.assertEqual(value(fams, "loopd_worker_hung", loop="calm"), 0)
        d.wait_record(event="task_hang", task="spin")
        # hang_action: log leaves it stuck; the operator restarts it.
        n = d.mark()
        p = subprocess.run([os.path.join(os.path.dirname(env("LOOPD_BIN")),
                                         "loopctl"), "--socket",
                            os.path.join(self.tmp, "ctl.sock"), "restart",
                            "stuck"], capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("was stuck", p.stdout)
        d.wait_record(task="spin", msg="serving", after=n)
        self.assertEqual(self.wait_health(200), {"status": "ok",
                                                 "problems": []})
        fams, _ = self.scrape()
        self.assertEqual(value(fams, "loopd_errors_total", loop="stuck",
                               task="spin", type="hang"), 1)
        self.assertEqual(value(fams, "loopd_worker_hung", loop="stuck"), 0)

    def wait_metric(self, want, name, timeout=TIMEOUT, **labels):
        """Scrape until name{labels} is want (None: absent); the families."""
        def got(fams):
            return value(fams, name, **labels) if name in fams else None
        return self.wait_scrape(lambda fams: got(fams) == want,
                                "%s%s to be %r" % (name, labels, want),
                                timeout)

    def wait_scrape(self, pred, what, timeout=TIMEOUT):
        """Scrape until pred(families) holds; the families."""
        last = [None]

        def check():
            fams, last[0] = self.scrape()
            return pred(fams) and fams
        return poll_until(what, check, timeout, state=lambda: "\n" + last[0])

    def test_loop_stats_families(self):
        d = self.start_metrics([loop("idle", task("t", "ticker",
                                                  interval="1h"))])
        d.wait_ready()
        fams = self.wait_scrape(
            lambda f: (value(f, "loopd_loop_lag_seconds", loop="idle",
                             __sample__="_count") or 0) >= 1,
            "a lag tick")
        for name, kind in (("loopd_loop_lag_seconds", "histogram"),
                           ("loopd_loop_callbacks_total", "counter"),
                           ("loopd_loop_slow_callbacks_total", "counter"),
                           ("loopd_executor_queue_depth", "gauge"),
                           ("loopd_executor_active_jobs", "gauge"),
                           ("loopd_executor_jobs_completed_total", "counter"),
                           ("loopd_executor_jobs_rejected_total", "counter"),
                           ("loopd_executor_jobs_timed_out_total",
                            "counter")):
            self.assertEqual(fams[name]["type"], kind, name)
            self.assertIsNotNone(value(fams, name, loop="idle"), name)
        les = sorted((dict(k)["le"], v) for k, v in
                     fams["loopd_loop_lag_seconds"]["samples"].items()
                     if dict(k).get("__sample__") == "_bucket")
        self.assertEqual(sorted(le for le, _ in les),
                         sorted(["0.001", "0.005", "0.01", "0.05", "0.1",
                                 "0.5", "1", "+Inf"]))
        count = value(fams, "loopd_loop_lag_seconds", loop="idle",
                      __sample__="_count")
        self.assertEqual(value(fams, "loopd_loop_lag_seconds", loop="idle",
                               le="+Inf"), count)
        # The ticker's start is a callback.
        self.assertGreaterEqual(value(fams, "loopd_loop_callbacks_total",
                                      loop="idle"), 1)
        self.assertEqual(value(fams, "loopd_executor_queue_depth",
                               loop="idle"), 0)

    def test_blocked_loop_shows_lag(self):
        d = self.start_metrics([loop("b", task("b", "blocker", mode="api",
                                               block="300ms"))])
        d.wait_record(task="b", msg="api callback returned")

        def late(f):
            over = (value(f, "loopd_loop_lag_seconds", loop="b",
                          __sample__="_count") or 0) - \
                (value(f, "loopd_loop_lag_seconds", loop="b",
                       le="0.1") or 0)
            return over >= 1
        fams = self.wait_scrape(late, "a tick later than 100ms")
        self.assertGreaterEqual(value(fams, "loopd_loop_lag_seconds",
                                      loop="b", __sample__="_sum"), 0.1)

    def test_executor_counts_jobs(self):
        d = self.start_metrics([loop("x", task("j", "jobs", jobs=5,
                                               work="1ms", end="cancel"))])
        d.wait_record(task="j", msg=re.compile(r"^dones: 5 of 5"))
        fams = self.wait_metric(5, "loopd_executor_jobs_completed_total",
                                loop="x")
        self.assertEqual(value(fams, "loopd_executor_jobs_rejected_total",
                               loop="x"), 0)
        self.assertEqual(value(fams, "loopd_executor_jobs_timed_out_total",
                               loop="x"), 0)
        self.assertEqual(value(fams, "loopd_executor_active_jobs",
                               loop="x"), 0)

    def test_plugin_metrics_move_with_echo_traffic_and_restarts(self):
        d = self.start_metrics([
            loop("net", task("echo", "echo", port=0),
                 restart={"policy": "on-failure", "backoff": "10ms..20ms"})])
        d.wait_ready()
        port = d.echo_port()
        labels = {"loop": "net", "task": "echo", "plugin": "echo"}
        fams, _ = self.scrape()
        self.assertEqual(fams["loopd_plugin_connections_total"]["type"],
                         "counter")
        self.assertEqual(fams["loopd_plugin_connections_total"]["help"],
                         "Connections accepted.")
        self.assertEqual(fams["loopd_plugin_open_connections"]["type"],
                         "gauge")
        self.assertEqual(fams["loopd_plugin_connections_total"]["samples"],
                         {frozenset(labels.items()): 0})
        self.assertEqual(value(fams, "loopd_plugin_echoed_bytes_total",
                               **labels), 0)
        held = [connect(port) for _ in range(3)]
        for s in held:
            self.addCleanup(s.close)
            s.sendall(b"hello")
            self.assertEqual(recv_exact(s, 5), b"hello")
        fams, _ = self.scrape()
        self.assertEqual(value(fams, "loopd_plugin_connections_total",
                               **labels), 3)
        self.assertEqual(value(fams, "loopd_plugin_open_connections",
                               **labels), 3)
        self.assertEqual(value(fams, "loopd_plugin_echoed_bytes_total",
                               **labels), 15)
        # A connection the client closes leaves the gauge, not the counter.
        held.pop().close()
        fams = self.wait_metric(2, "loopd_plugin_open_connections", **labels)
        self.assertEqual(value(fams, "loopd_plugin_connections_total",
                               **labels), 3)
        # A restarted task declares its metrics anew, from 0.
        n = d.mark()
        os.kill(d.worker_pid("net"), signal.SIGKILL)
        d.wait_record(task="echo", event="task_state", state="running",
                      after=n)
        fams, _ = self.scrape()
        self.assertEqual(value(fams, "loopd_worker_restarts_total",
                               loop="net"), 1)
        self.assertEqual(value(fams, "loopd_plugin_connections_total",
                               **labels), 0)
        self.assertEqual(value(fams, "loopd_plugin_open_connections",
                               **labels), 0)
        self.assertEqual(echo_roundtrip(port, b"again"), b"again")
        fams = self.wait_metric(0, "loopd_plugin_open_connections", **labels)
        self.assertEqual(value(fams, "loopd_plugin_connections_total",
                               **labels), 1)
        self.assertEqual(value(fams, "loopd_plugin_echoed_bytes_total",
                               **labels), 5)
        # A task that has ended has no metrics.
        n = d.mark()
        p = subprocess.run([os.path.join(os.path.dirname(env("LOOPD_BIN")),
                                         "loopctl"), "--socket",
                            os.path.join(self.tmp, "ctl.sock"), "stop",
                            "net/echo"], capture_output=True, text=True,
                           timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, p.stderr)
        d.wait_record(task="echo", event="task_state", state="done",
                      after=n)
        fams, _ = self.scrape()
        self.assertNotIn("loopd_plugin_connections_total", fams)
        self.assertNotIn("loopd_plugin_open_connections", fams)

    def forged_metric(self, what):
        d = self.start_metrics([
            loop("net", task("echo", "echo", port=0)),
            loop("rogue", task("f", "rogue", **{"do": what}),
                 restart={"policy": "never"})])
        err = d.wait_record(event="task_error", loop="rogue")
        self.assertEqual(err["error"]["type"], "protocol", err)
        self.assertRegex(err["msg"], r"^worker of loop 'rogue' sent a bad "
                         r"message \(.+\) and was killed")
        # Its metrics were declared before it said it runs.
        d.wait_record(task="echo", event="task_state", state="running")
        fams, _ = self.scrape()
        self.assertEqual(
            set(k for f in fams if f.startswith("loopd_plugin_")
                for k in fams[f]["samples"]),
            {frozenset({("loop", "net"), ("task", "echo"),
                        ("plugin", "echo")})})
        self.assertEqual(echo_roundtrip(d.echo_port(), b"still"), b"still")
        return err

    def test_forged_metric_name_is_refused(self):
        err = self.forged_metric("forge_metric_name")
        self.assertIn("metric name", err["msg"])

    def test_forged_metric_slot_beyond_the_area_is_refused(self):
        err = self.forged_metric("forge_metric_slot")
        self.assertIn("out of range", err["msg"])

    def test_forged_metric_in_a_slot_in_use_is_refused(self):
        err = self.forged_metric("forge_metric_twice")
        self.assertIn("slot that is another's", err["msg"])

    def test_worker_cannot_shrink_the_shared_file(self):
        """A worker that truncated the file the supervisor maps would make
        the next read of it a SIGBUS, in the worker or the supervisor."""
        d = self.start_metrics([
            loop("rogue", task("s", "rogue", **{"do": "shrink"}),
                 task("e", "echo", port=0))])
        d.wait_record(task="e", event="task_state", state="running")
        rec = d.wait_record(task="s", msg=re.compile("^shrink: "))
        self.assertRegex(rec["msg"], "^shrink: refused: ")
        self.assertEqual(self.wait_health(200)["status"], "ok")
        fams, _ = self.scrape()
        self.assertEqual(value(fams, "loopd_worker_up", loop="rogue"), 1)
        self.assertEqual(value(fams, "loopd_plugin_connections_total",
                               task="e"), 0)
        self.assertTrue(d.alive())

    def test_other_paths(self):
        self.start_metrics([loop("l", task("t", "ticker", interval="1h"))])
        status, _, _ = self.get("/nothing")
        self.assertEqual(status, 404)


if __name__ == "__main__":
    unittest.main()
