"""The control socket and loopctl: status, reload --wait, stop, start and
restart, peer credentials, and what a bad client cannot do."""

import json
import os
import pwd
import grp
import re
import socket
import subprocess
import unittest

from loopd_harness import (TIMEOUT, LoopdTestCase, env, echo_roundtrip,
                           loop, poll_until, task, to_yaml)


def loopctl_bin():
    return os.path.join(os.path.dirname(env("LOOPD_BIN")), "loopctl")


def control_config(test, loops, name="loopd.yaml", control=None, **top):
    """A configuration with a control socket in the test's directory."""
    sock = os.path.join(test.tmp, "control.sock")
    conf = {"plugin_dir": test.plugin_dir(),
            "control": dict({"socket": sock}, **(control or {}))}
    conf.update(top)
    conf["loops"] = loops
    return test.write_file(name, to_yaml(conf)), sock


def ask(path, line, timeout=TIMEOUT):
    """Send raw bytes, read one answer line (parsed); then whether the
    connection is closed: after the answer, either EOF comes or a second
    request (version) on it is answered."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(line)
        f = s.makefile("rb")
        head = f.readline()
        try:
            s.sendall(b'{"v":1,"cmd":"version"}\n')
            second = f.readline()
        except (BrokenPipeError, ConnectionResetError):
            second = b""
        return json.loads(head), second == b""


BASE = [loop("net", task("echo", "echo", port=0),
             task("tick", "ticker", interval="1h")),
        loop("other", task("t2", "ticker", interval="1h"))]


class ControlTest(LoopdTestCase):

    def loopctl(self, *args, sock=None, config=None):
        argv = [loopctl_bin()]
        if sock is not None:
            argv += ["--socket", sock]
        if config is not None:
            argv += ["--config", config]
        p = subprocess.run(argv + list(args), capture_output=True,
                           text=True, timeout=TIMEOUT)
        return p

    def start_with_control(self, loops=BASE, **kw):
        config, sock = control_config(self, loops, **kw)
        d = self.start(config=config)
        d.wait_ready()
        return d, config, sock

    def status(self, sock):
        p = self.loopctl("status", "--json", sock=sock)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def test_status_json_schema(self):
        d, config, sock = self.start_with_control()
        st = self.status(sock)
        self.assertEqual(st["version"], "0.1.0")
        self.assertEqual(st["pid"], d.proc.pid)
        self.assertEqual(st["config"], config)
        self.assertIs(st["ready"], True)
        self.assertIsInstance(st["log_dropped"], int)
        self.assertEqual([lp["name"] for lp in st["loops"]],
                         ["net", "other"])
        for lp in st["loops"]:
            self.assertEqual(set(lp), {
                "name", "pid", "state", "uptime_s", "restarts", "hung",
                "rss_bytes", "open_fds", "lag_p99_ms", "executor_queue",
                "stats", "errors", "tasks"}, lp)
            self.assertEqual(lp["pid"], d.worker_pid(lp["name"]))
            self.assertEqual(lp["state"], "running")
            self.assertIsInstance(lp["uptime_s"], (int, float))
            self.assertEqual(lp["restarts"], 0)
            self.assertIs(lp["hung"], False)
            self.assertGreater(lp["rss_bytes"], 0)
            self.assertGreater(lp["open_fds"], 2)
            self.assertGreaterEqual(lp["lag_p99_ms"], 0)
            self.assertEqual(lp["executor_queue"], 0)
            self.assertEqual(set(lp["stats"]), {
                "lag_le", "lag_count", "lag_sum_s", "lag_max_s",
                "callbacks", "slow_callbacks", "executor"})
            self.assertEqual(len(lp["stats"]["lag_le"]), 8)
            self.assertEqual(set(lp["stats"]["executor"]), {
                "queue_depth", "active_jobs", "completed", "rejected",
                "timed_out"})
            for t in lp["tasks"]:
                self.assertEqual(set(t), {"name", "plugin", "state",
                                          "restarts", "uptime_s",
                                          "errors"}, t)
                self.assertEqual(t["state"], "running", t)
                self.assertEqual(t["restarts"], 0)
                self.assertGreaterEqual(t["uptime_s"], 0)
        self.assertEqual([(t["name"], t["plugin"])
                          for t in st["loops"][0]["tasks"]],
                         [("echo", "echo"), ("tick", "ticker")])
        # The table, found through the configuration file.
        p = self.loopctl("status", config=config)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^LOOP +TASK +STATE +PID +UPTIME "
                         r"+RESTARTS +LAG_P99 +QUEUE$")
        self.assertRegex(p.stdout, r"(?m)^net +echo +running +%d +[0-9.]+s"
                         r" +0 +- +-$" % d.worker_pid("net"))
        self.assertRegex(p.stdout, r"(?m)^net +- +running +%d +[0-9.]+s"
                         r" +0 +[0-9.]+ms +0$" % d.worker_pid("net"))
        p = self.loopctl("version", config=config)
        self.assertEqual((p.returncode, p.stdout), (0, "loopd 0.1.0\n"))

    def wait_status(self, sock, pred, what):
        last = [None]

        def check():
            last[0] = self.status(sock)
            return pred(last[0]) and last[0]
        return poll_until(what, check, state=lambda: last[0])

    def test_status_lag_and_queue(self):
        slow = loop("slow", task("j", "jobs", jobs=5, work="10s",
                                 end="cancel"))
        slow["executor"] = {"workers": 1}
        d, config, sock = self.start_with_control([
            loop("b", task("b", "blocker", mode="api", block="300ms")),
            slow])
        d.wait_record(task="b", msg="api callback returned")
        st = self.wait_status(
            sock, lambda s: (s["loops"][0]["lag_p99_ms"] >= 100 and
                             s["loops"][1]["executor_queue"] == 4),
            "lag p99 over 100ms and 4 jobs queued")
        self.assertEqual(st["loops"][1]["stats"]["executor"]["active_jobs"],
                         1)
        p = self.loopctl("status", config=config)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^slow +- +running +%d +[0-9.]+s"
                         r" +0 +[0-9.]+ms +4$" % d.worker_pid("slow"))

    def test_reload_wait_good_and_broken(self):
        d, config, sock = self.start_with_control()
        control_config(self, [
            loop("net", task("echo", "echo", port=0),
                 task("tick", "ticker", interval="2h"),
                 task("fresh", "ticker", interval="1h"))])
        p = self.loopctl("reload", "--wait", sock=sock)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("added: fresh\n", p.stdout)
        self.assertIn("removed: t2\n", p.stdout)
        # The ticker takes its new settings in place.
        self.assertIn("reconfigured: tick\n", p.stdout)
        self.assertIn("left alone: 1\n", p.stdout)
        self.assertIn("loops removed: other\n", p.stdout)
        d.wait_record(task="fresh", event="task_state", state="running")
        # A broken file: every problem, with file:line:col; exit 1.
        self.write_file("loopd.yaml", "plugin_dir: %s\ncontrol:\n  socket: "
                        "%s\nloops:\n  - name: net\n    bogus: 1\n    "
                        "tasks:\n      - name: x\n        plugin: echo\n"
                        "        restart: { policy: sometimes }\n"
                        % (self.plugin_dir(), sock))
        p = self.loopctl("reload", "--wait", sock=sock)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertRegex(p.stderr, r"reload failed: 2 problems in ")
        lines = [ln for ln in p.stderr.splitlines()
                 if ln.startswith(config + ":")]
        self.assertEqual(len(lines), 2, p.stderr)
        self.assertRegex(lines[0], r"^%s:6:5: .*'bogus'" % re.escape(config))
        self.assertRegex(lines[1], r"^%s:10:\d+: .*sometimes" %
                         re.escape(config))
        # --json says the same to a script.
        p = self.loopctl("reload", "--wait", "--json", sock=sock)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(len(json.loads(p.stdout)["errors"]), 2)
        # Nothing changed.
        st = self.status(sock)
        self.assertEqual([t["name"] for t in st["loops"][0]["tasks"]],
                         ["echo", "tick", "fresh"])
        self.assertTrue(d.alive())

    def test_stop_start_restart(self):
        d, config, sock = self.start_with_control()
        port = d.echo_port()
        p = self.loopctl("stop", "net/echo", sock=sock)
        self.assertEqual(p.returncode, 0, p.stderr)
        n = d.index_of(d.wait_record(task="echo", event="task_state",
                                     state="done"))
        st = self.status(sock)
        self.assertEqual(st["loops"][0]["tasks"][0]["state"], "stopped")
        self.assertEqual(st["loops"][0]["tasks"][1]["state"], "running")
        with self.assertRaises(OSError):
            echo_roundtrip(port)
        # Held down: a start brings it back, in the same worker.
        pid = d.worker_pid("net")
        p = self.loopctl("start", "net/echo", sock=sock)
        self.assertEqual(p.returncode, 0, p.stderr)
        rec = d.wait_record(task="echo", event="task_state",
                            state="running", after=n + 1)
        self.assertEqual(rec["pid"], pid)
        self.assertEqual(d.find(event="task_restart", task="echo"), [])
        rec = d.wait_record(task="echo", msg=re.compile(r"^listening on "),
                            after=n + 1)
        self.assertEqual(echo_roundtrip(int(rec["msg"].rsplit(":", 1)[1])),
                         b"ping\n")
        # A whole loop.
        n = d.mark()
        p = self.loopctl("restart", "net", sock=sock)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("restarting 2 tasks", p.stdout)
        for name in ("echo", "tick"):
            d.wait_record(task=name, event="task_state", state="done",
                          after=n)
            d.wait_record(task=name, event="task_state", state="running",
                          after=n)
        # Unknown names are refused, with what is wrong.
        p = self.loopctl("stop", "net/nope", sock=sock)
        self.assertEqual(p.returncode, 1)
        self.assertIn("loop 'net' has no task named 'nope'", p.stderr)
        p = self.loopctl("start", "nope", sock=sock)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no loop named 'nope'", p.stderr)
        p = self.loopctl("stop", sock=sock)
        self.assertEqual(p.returncode, 2)

    def run_as(self, uid, gid, sock, line):
        """The answer to line from a client running as uid:gid."""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                os.setgroups([])
                os.setgid(gid)
                os.setuid(uid)
                got = ask(sock, line)
                os.write(w, json.dumps(got).encode())
            except BaseException as e:
                os.write(w, json.dumps(["error", repr(e)]).encode())
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r, "rb") as f:
            out = f.read()
        os.waitpid(pid, 0)
        return json.loads(out)

    def test_permissions(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to run a client as another user")
        nobody = pwd.getpwnam("nobody")
        nogroup = grp.getgrgid(nobody.pw_gid).gr_name
        os.chmod(self.tmp, 0o755)
        d, config, sock = self.start_with_control(
            control={"mode": "0666", "read_only_group": nogroup})
        self.assertEqual(os.stat(sock).st_mode & 0o777, 0o666)
        # Read-only: status and version, but no stop.
        (resp, closed) = self.run_as(nobody.pw_uid, nobody.pw_gid, sock,
                                     b'{"v":1,"cmd":"status"}\n')
        self.assertIs(resp["ok"], True, resp)
        (resp, closed) = self.run_as(nobody.pw_uid, nobody.pw_gid, sock,
                                     b'{"v":1,"cmd":"stop","target":"net"}'
                                     b'\n')
        self.assertEqual(resp, {"v": 1, "ok": False, "error":
                                "permission denied: read-only access "
                                "(status and version)"})
        # Another group: nothing at all.
        (resp, closed) = self.run_as(nobody.pw_uid, 0xfffe - 1, sock,
                                     b'{"v":1,"cmd":"status"}\n')
        self.assertIs(resp["ok"], False, resp)
        self.assertRegex(resp["error"], r"^permission denied")
        self.assertTrue(closed)
        st = self.status(sock)
        self.assertEqual(st["loops"][0]["tasks"][0]["state"], "running")

    def test_mode_and_group(self):
        d, config, sock = self.start_with_control(
            control={"mode": "0640", "group": "0"})
        st = os.stat(sock)
        self.assertEqual(st.st_mode & 0o777, 0o640)
        self.assertEqual(st.st_gid, 0)
        d.signal(15)
        d.wait_exit()
        self.assertFalse(os.path.exists(sock), "socket file left behind")

    def test_garbage(self):
        d, config, sock = self.start_with_control()
        other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(other.close)
        other.connect(sock)
        for line in (b"garbage\n", b"[1,2]\n", b'{"v":1}\n',
                     b'{"v":"1","cmd":"status"}\n', b"\xff\xfe\n"):
            resp, closed = ask(sock, line)
            self.assertIs(resp["ok"], False, line)
            self.assertRegex(resp["error"], r"^malformed request", line)
            self.assertTrue(closed, line)
        resp, closed = ask(sock, b'{"v":2,"cmd":"status"}\n')
        self.assertRegex(resp["error"], r"^unsupported protocol version")
        self.assertTrue(closed)
        # An unknown command is an error, but the connection stays.
        resp, closed = ask(sock, b'{"v":1,"cmd":"fly"}\n')
        self.assertRegex(resp["error"], r"^unknown command")
        self.assertFalse(closed)
        # Oversized, with or without a newline.
        for tail in (b"", b"\n"):
            resp, closed = ask(sock, b"x" * (70 * 1024) + tail)
            self.assertRegex(resp["error"], r"^request too long")
            self.assertTrue(closed)
        # The client that waited all along is served; loopd is fine.
        other.sendall(b'{"v":1,"cmd":"version"}\n')
        other.settimeout(TIMEOUT)
        self.assertEqual(json.loads(other.makefile().readline()),
                         {"v": 1, "ok": True, "version": "0.1.0"})
        self.assertEqual(self.status(sock)["loops"][0]["state"], "running")
        self.assertTrue(d.alive())


if __name__ == "__main__":
    unittest.main()
