"""--check-config, and what loopd does with a configuration it refuses."""

import os
import re
import signal
import unittest

from loopd_harness import (FILE_LINE_COL_RE, LoopdTestCase, env, loop,
                           task, to_yaml)

# Three problems, on lines 2, 5 and 9 (the task mapping starts at column 9).
THREE_PROBLEMS = """\
shutdown:
  grace: 10
loops:
  - name: net
    backend: pol
    tasks:
      - name: echo
        plugin: echo
      - name: other
        config: {}
"""

# Every restart, timeout, hang and limits key, at each level it is allowed.
SUPERVISION = """\
plugin_dir: {plugin_dir}
on_exhausted: exit
loops:
  - name: net
    restart:
      policy: always
      backoff: 250ms..1m
      intensity: 3/10s
    start_timeout: 20s
    hang_timeout: 1500ms
    hang_action: log
{limits}\
    tasks:
      - name: echo
        plugin: echo
        config: {{port: 0}}
        restart: {{policy: never, intensity: 7/2m}}
      - name: tick
        plugin: ticker
        config: {{interval: 20ms}}
        restart:
          backoff: 1s..2s
  - name: other
    restart: {{policy: on-failure}}
    hang_action: restart
    tasks: [{{name: t2, plugin: ticker, config: {{interval: 1s}}}}]
"""

LIMITS = """\
    limits:
      memory: 512M
      open_files: 4096
      cpu_seconds: 3600
"""

# One bad value of each new key; (line, col, part of the message) each.
BAD_SUPERVISION = """\
on_exhausted: halt
loops:
  - name: net
    restart:
      policy: on_failure
      backoff: 30s..1s
      intensity: 0/60s
    start_timeout: 2h
    hang_timeout: 5
    hang_action: kill
    limits:
      memory: 512MB
      open_files: 8
      cpu_seconds: 0
    backoff: 1s..2s
    tasks:
      - name: echo
        plugin: echo
        restart: {policy: nevr, backoff: 1s, intensity: 5/0s}
        limits: {memory: 1G}
"""
BAD_SUPERVISION_PROBLEMS = [
    (1, 15, "on_exhausted: unknown value 'halt'; expected one of stay, "
            "exit"),
    (5, 15, "restart.policy: unknown value 'on_failure'; did you mean "
            "'on-failure'?"),
    (6, 16, "restart.backoff: the minimum 30s is more than the maximum 1s"),
    (7, 18, "restart.intensity: '0/60s': the count of restarts must be at "
            "least 1"),
    (8, 20, "start_timeout: '2h' is too long: the limit is 1h"),
    (9, 19, "hang_timeout: '5' is not a valid duration: missing unit"),
    (10, 18, "hang_action: unknown value 'kill'; expected one of restart, "
             "log"),
    (12, 15, "limits.memory: unknown unit in '512MB'; did you mean '512M'?"),
    (13, 19, "limits.open_files: '8' is out of range: from 16 to 1048576"),
    (14, 20, "limits.cpu_seconds: '0' is out of range"),
    (15, 5, "unknown key 'backoff' in loop 'net'; it goes inside "
            "`restart:`"),
    (19, 27, "task 'echo': restart.policy: unknown value 'nevr'; did you "
             "mean 'never'?"),
    (19, 42, "task 'echo': restart.backoff: '1s' is not a range"),
    (19, 57, "task 'echo': restart.intensity: the window '0s' must be more "
             "than 0"),
    (20, 9, "unknown key 'limits' in task 'echo'; it is a loop's setting"),
]


class CheckConfigTest(LoopdTestCase):

    def problems(self, stderr, path):
        """(line, col, msg) of each FILE:LINE:COL line naming path."""
        out = []
        for ln in stderr.splitlines():
            m = FILE_LINE_COL_RE.match(ln)
            if m and m.group("file") == path:
                out.append((int(m.group("line")), int(m.group("col")),
                            m.group("msg")))
        return out

    def test_valid(self):
        path = self.write_config([loop("net", task("echo", "echo", port=0)),
                                  loop("clock", task("t", "ticker",
                                                     interval="1s"),
                                       backend="poll")], grace="3s")
        p = self.run_loopd(["--check-config", path])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "%s: configuration is valid\n" % path)
        self.assertEqual(p.stderr, "")

    def test_supervision_keys_valid(self):
        path = self.write_file("sup.yaml", SUPERVISION.format(
            plugin_dir=self.plugin_dir(), limits=LIMITS))
        p = self.run_loopd(["--check-config", path])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "%s: configuration is valid\n" % path)
        self.assertEqual(p.stderr, "")

    def test_supervision_keys_every_problem(self):
        path = self.write_file("badsup.yaml", BAD_SUPERVISION)
        p = self.run_loopd(["--check-config", path])
        self.assertEqual(p.returncode, 78, p.stderr)
        probs = self.problems(p.stderr, path)
        self.assertEqual([(ln, col) for ln, col, _ in probs],
                         [(ln, col) for ln, col, _ in
                          BAD_SUPERVISION_PROBLEMS], p.stderr)
        for (ln, col, msg), (_, _, want) in zip(probs,
                                                BAD_SUPERVISION_PROBLEMS):
            with self.subTest(line=ln, col=col):
                self.assertIn(want, msg)
        self.assertIn("%d problems" % len(BAD_SUPERVISION_PROBLEMS),
                      p.stderr)

    def test_supervision_keys_reach_the_worker(self):
        """A worker takes a loop with every restart, timeout and hang
        setting (the limits are left out: a memory limit would stop a
        sanitized build) and runs its tasks."""
        path = self.write_file("run.yaml", SUPERVISION.format(
            plugin_dir=self.plugin_dir(), limits=""))
        d = self.start(config=path)
        self.assertGreater(d.echo_port("echo"), 0)
        d.wait_record(task="tick", msg="tick 2")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_three_problems_all_reported(self):
        path = self.write_file("bad.yaml", THREE_PROBLEMS)
        for opt in ("--check-config", "-t"):
            with self.subTest(opt=opt):
                p = self.run_loopd([opt, path])
                self.assertEqual(p.returncode, 78, p.stderr)
                self.assertEqual(p.stdout, "")
                probs = self.problems(p.stderr, path)
                self.assertEqual([(ln, col) for ln, col, _ in probs],
                                 [(2, 10), (5, 14), (9, 9)], p.stderr)
                self.assertIn("grace", probs[0][2])
                self.assertIn("pol", probs[1][2])
                self.assertIn("plugin", probs[2][2])
                self.assertIn("3 problems", p.stderr)

    def test_malformed_yaml(self):
        path = self.write_file("mal.yaml",
                               "loops:\n  - name: [unclosed\n    tasks: x\n")
        p = self.run_loopd(["--check-config", path])
        self.assertEqual(p.returncode, 78, p.stderr)
        probs = self.problems(p.stderr, path)
        self.assertGreaterEqual(len(probs), 1, p.stderr)
        self.assertIn("YAML", probs[0][2])
        self.assertIn(probs[0][0], (2, 3))

    def test_unreadable_file(self):
        path = os.path.join(self.tmp, "nonexistent.yaml")
        p = self.run_loopd(["--check-config", path])
        self.assertEqual(p.returncode, 78)
        self.assertIn(path, p.stderr)

    def test_missing_plugin_is_a_warning(self):
        """The .so may be installed later: valid, with a warning."""
        path = self.write_config([loop("l", task("t", "notinstalled"))])
        p = self.run_loopd(["--check-config", path])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("configuration is valid", p.stdout)
        self.assertRegex(p.stderr, re.escape(path) +
                         r":\d+:\d+: warning: .*notinstalled\.so")

    def test_run_refuses_bad_config(self):
        """Without --check-config a bad file still gives exit 78 and every
        problem, and no worker is ever started (no JSON record at all)."""
        path = self.write_file("bad.yaml", THREE_PROBLEMS)
        p = self.run_loopd(["-c", path, "-P", self.plugin_dir()])
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertEqual(len(self.problems(p.stderr, path)), 3, p.stderr)
        for ln in p.stderr.splitlines():
            self.assertFalse(ln.startswith("{"), "a log record from a loopd "
                             "that should not have started: " + ln)

    def test_bundled_config_is_valid(self):
        src = env("LOOPD_SOURCE_DIR")
        path = os.path.join(src, "conf", "loopd.yaml")
        p = self.run_loopd(["--check-config", path, "-P",
                            env("LOOPD_PLUGINS")])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("configuration is valid", p.stdout)
        # With the built plugins every plugin file is there: no warning.
        self.assertEqual(p.stderr, "")

    def test_relative_plugin_dir_is_next_to_the_file(self):
        """plugin_dir: plugins means the directory beside the file, not
        beside loopd's working directory."""
        self.plugin_dir()
        path = self.write_file("rel.yaml", to_yaml({
            "plugin_dir": "plugins",
            "loops": [loop("l", task("echo", "echo", port=0))]}))
        p = self.run_loopd(["--check-config", path], cwd="/")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "", "the plugin was looked for elsewhere")

    def test_plugin_dir_option_overrides_file(self):
        """-P wins over plugin_dir: a file pointing nowhere still runs."""
        path = self.write_file("p.yaml", to_yaml({
            "plugin_dir": "/nonexistent",
            "loops": [loop("l", task("echo", "echo", port=0))]}))
        p = self.run_loopd(["--check-config", path, "-P", self.plugin_dir()])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")


    def test_fifo_is_refused(self):
        """A FIFO is not read (which would wait for a writer forever)."""
        path = os.path.join(self.tmp, "fifo.yaml")
        os.mkfifo(path)
        p = self.run_loopd(["--check-config", path], timeout=5.0)
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertIn("%s: cannot read: not a regular file but a FIFO" % path,
                      p.stderr)

    def test_too_large_file_is_refused(self):
        path = os.path.join(self.tmp, "big.yaml")
        with open(path, "w") as f:
            f.truncate(16 * 1024 * 1024 + 1)
        p = self.run_loopd(["--check-config", path], timeout=5.0)
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertIn("%s: cannot read: the file is 16777217 bytes, more "
                      "than 16 MiB" % path, p.stderr)

    # Checking a large file takes linear time: a mapping of 100,000 keys,
    # or 100,000 tasks, is checked in well under a second.  The deadline
    # leaves room for slow (sanitized) builds; a check that compares each
    # key or name with all the earlier ones takes 15 s and more.
    LARGE_DEADLINE = 5.0

    def test_large_config_mapping(self):
        lines = ["loops:", "  - name: net", "    tasks:",
                 "      - name: echo", "        plugin: echo",
                 "        config:"]
        lines += ["          key%d: %d" % (i, i) for i in range(100000)]
        path = self.write_file("keys.yaml", "\n".join(lines) + "\n")
        p = self.run_loopd(["--check-config", path, "-P",
                            self.plugin_dir()], timeout=self.LARGE_DEADLINE)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertEqual(p.stderr, "")

    def test_many_tasks(self):
        lines = ["loops:"]
        for i in range(5000):
            lines += ["  - name: loop%d" % i, "    tasks:"]
            lines += ["      - {name: t%d_%d, plugin: echo}" % (i, j)
                      for j in range(20)]
        path = self.write_file("tasks.yaml", "\n".join(lines) + "\n")
        p = self.run_loopd(["--check-config", path, "-P",
                            self.plugin_dir()], timeout=self.LARGE_DEADLINE)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertEqual(p.stderr, "")


    def test_include_fragments(self):
        """include: adds loops from fragments; their problems, and a name
        used twice, are reported with the fragment's file:line:col."""
        os.mkdir(os.path.join(self.tmp, "conf.d"))
        main = self.write_file("main.yaml", to_yaml({
            "plugin_dir": self.plugin_dir(),
            "include": "conf.d/*.yaml",
            "loops": [loop("net", task("echo", "echo", port=0))]}))
        good = self.write_file("conf.d/10-pkg.yaml", to_yaml({
            "loops": [loop("pkg", task("t", "ticker", interval="1s"))]}))
        p = self.run_loopd(["--check-config", main])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        # No fragment at all is fine too.
        os.unlink(good)
        self.assertEqual(self.run_loopd(["--check-config", main]).returncode,
                         0)
        bad = self.write_file("conf.d/20-bad.yaml", to_yaml({
            "loops": [loop("net", task("echo", "ticker", interval="1s")),
                      {"name": "x", "backend": "pol",
                       "tasks": [task("y", "ticker")]}]}))
        p = self.run_loopd(["--check-config", main])
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertEqual(self.problems(p.stderr, main), [], p.stderr)
        probs = self.problems(p.stderr, bad)
        self.assertEqual(len(probs), 3, p.stderr)
        self.assertIn("loop name 'net' is already used at %s:4:11" % main,
                      probs[0][2])
        self.assertIn("task name 'echo' is already used at %s:" % main,
                      probs[1][2])
        self.assertIn("pol", probs[2][2])
        self.assertIn("3 problems", p.stderr)

    def test_fragment_task_error_names_fragment(self):
        """A getter's error in the worker names the fragment's file."""
        os.mkdir(os.path.join(self.tmp, "conf.d"))
        main = self.write_file("main.yaml", to_yaml({
            "plugin_dir": self.plugin_dir(),
            "include": [os.path.join(self.tmp, "conf.d", "*.yaml")],
            "loops": [loop("l", task("ok", "ticker", interval="20ms"))]}))
        frag = self.write_file("conf.d/pkg.yaml", to_yaml({
            "loops": [loop("pkg", task("typo", "echo", port="abc"))]}))
        d = self.start(config=main)
        err = d.wait_record(event="task_error", task="typo")
        with open(frag) as f:
            lines = f.read().splitlines()
        m = re.match(re.escape(frag) + r":(\d+):(\d+): ",
                     err["error"]["message"])
        self.assertIsNotNone(m, err["error"]["message"])
        self.assertRegex(lines[int(m.group(1)) - 1], r"^\s*port: abc$")
        d.wait_record(task="ok", msg="tick 2")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)


if __name__ == "__main__":
    unittest.main()
