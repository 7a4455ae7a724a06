"""The plugin loader: plugins of a newer ABI, plugins that lack a symbol,
plugin files that others could have written, and crashes while loading.
Each refused plugin is one task_error record; the rest of loopd runs."""

import os
import shutil
import signal
import unittest

from loopd_harness import (FILE_LINE_COL_RE, LoopdTestCase, echo_roundtrip,
                           env, loop, task)

NOBODY = 65534


class AbiTest(LoopdTestCase):

    def test_newer_abi_with_newer_symbols(self):
        """A plugin built against a newer loopd calls loopd_* functions
        this one lacks: the operator reads plugin_abi, "upgrade loopd or
        rebuild", not "undefined symbol".  A plugin of this ABI that lacks
        a symbol is still refused when it is loaded."""
        pdir = self.plugin_dir()
        d = self.start([loop("l", task("echo", "echo", port=0),
                             task("new", "newabi"),
                             task("unbound", "unbound"))])
        port = d.echo_port()
        err = d.wait_record(event="task_error", task="new")
        self.assertErrorRecord(err, "l", "new", "newabi", "plugin_abi")
        msg = err["error"]["message"]
        self.assertIn(os.path.join(pdir, "newabi.so"), msg)
        self.assertIn("upgrade loopd", msg)
        self.assertIn("rebuild", msg)
        self.assertRegex(msg, r"\b1\.1\b")
        self.assertNotIn("undefined symbol", msg)
        err = d.wait_record(event="task_error", task="unbound")
        self.assertErrorRecord(err, "l", "unbound", "unbound",
                               "plugin_not_loadable")
        self.assertIn("loopd_future_call", err["error"]["message"])
        self.assertIn("1 of 3", d.wait_ready()["msg"])
        self.assertEqual(echo_roundtrip(port, b"alive"), b"alive")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)
        self.assertEqual(len(d.find(event="task_error")), 2)
        d.assert_no_process_left(timeout=0.5)


class CtorCrashTest(LoopdTestCase):

    def test_crash_in_constructor_names_the_task(self):
        """Loading is part of the task: a plugin whose constructor crashes
        inside dlopen() is that task's crash."""
        asan = os.environ.get("ASAN_OPTIONS", "")
        d = self.start([loop("net", task("echo", "echo", port=0)),
                        loop("doomed", task("ctorcrash", "ctorcrash"))],
                       extra_env={"ASAN_OPTIONS": (asan + ":" if asan else "")
                                  + "handle_segv=0"},
                       allow_crash_report=True)
        port = d.echo_port()
        err = d.wait_record(event="task_error", loop="doomed")
        self.assertErrorRecord(err, "doomed", "ctorcrash", "ctorcrash",
                               "crash")
        self.assertEqual(err.get("signal"), "SIGSEGV")
        self.assertIn("'ctorcrash'", err["msg"])
        self.assertNotIn("outside any", err["msg"])
        self.assertEqual(echo_roundtrip(port, b"alive"), b"alive")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)
        d.assert_no_process_left(timeout=0.5)


class TrustTest(LoopdTestCase):
    """Plugin files and directories that anyone but root (and the user
    loopd runs as) could write are refused, as sshd's StrictModes does."""

    def copy_plugin(self, src_name, dst_dir, dst_name, mode=0o755,
                    owner=None):
        src = os.path.join(env("LOOPD_PLUGINS"), src_name + ".so")
        dst = os.path.join(dst_dir, dst_name + ".so")
        shutil.copyfile(src, dst)
        os.chmod(dst, mode)
        if owner is not None:
            os.chown(dst, owner, -1)
        return dst

    def untrusted(self, d, loop_name, name, path, fix):
        err = d.wait_record(event="task_error", task=name)
        self.assertErrorRecord(err, loop_name, name, name, "plugin_untrusted")
        self.assertIn(path, err["error"]["message"])
        self.assertIn(fix + " " + path, err["error"]["message"])
        return err

    def test_untrusted_files_are_refused_others_run(self):
        pdir = self.plugin_dir()
        writable = self.copy_plugin("echo", pdir, "writable", 0o666)
        foreign = self.copy_plugin("echo", pdir, "foreign", 0o755, NOBODY)
        # A trusted link to a file in a directory anyone can write.
        opendir = os.path.join(self.tmp, "open")
        os.mkdir(opendir)
        os.chmod(opendir, 0o777)
        self.copy_plugin("echo", opendir, "target")
        os.symlink(os.path.join(opendir, "target.so"),
                   os.path.join(pdir, "linked.so"))
        d = self.start([loop("l", task("echo", "echo", port=0),
                             task("writable", "writable", port=0),
                             task("foreign", "foreign", port=0),
                             task("linked", "linked", port=0))])
        port = d.echo_port()
        self.untrusted(d, "l", "writable", writable, "chmod go-w")
        self.untrusted(d, "l", "foreign", foreign, "chown root")
        self.untrusted(d, "l", "linked", opendir, "chmod go-w")
        self.assertIn("1 of 4", d.wait_ready()["msg"])
        self.assertEqual(echo_roundtrip(port, b"alive"), b"alive")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)
        self.assertEqual(len(d.find(event="task_error")), 3)
        d.assert_no_process_left(timeout=0.5)

    def test_world_writable_plugin_dir(self):
        """Every plugin of a directory anyone can write is refused, naming
        the directory; loopd itself runs on."""
        pdir = self.plugin_dir()
        os.chmod(pdir, 0o777)
        d = self.start([loop("a", task("echo", "echo", port=0)),
                        loop("b", task("tick", "ticker", interval="50ms"))])
        for lp, name, plugin in (("a", "echo", "echo"),
                                 ("b", "tick", "ticker")):
            err = d.wait_record(event="task_error", task=name)
            self.assertErrorRecord(err, lp, name, plugin, "plugin_untrusted")
            self.assertIn("chmod go-w " + pdir, err["error"]["message"])
        self.assertIn("0 of 2", d.wait_ready()["msg"])
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)
        d.assert_no_process_left(timeout=0.5)

    def test_build_tree_plugin_dirs_are_trusted(self):
        """The directories plugins are built in (0755, root) pass."""
        path = self.write_file("loopd.yaml", "loops:\n  - name: l\n"
                               "    tasks:\n      - name: echo\n"
                               "        plugin: echo\n")
        for pdir in (env("LOOPD_PLUGINS"), env("LOOPD_TEST_PLUGINS")):
            with self.subTest(pdir=pdir):
                p = self.run_loopd(["--check-config", path, "-P", pdir])
                self.assertNotIn("untrusted", p.stderr)
                self.assertNotRegex(p.stderr, r"chmod|chown")

    def check_config_refuses(self, plugin_path, fix):
        path = self.write_config([loop("l", task("echo", "echo", port=0),
                                       task("bad", "bad"))])
        p = self.run_loopd(["--check-config", path])
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertNotIn("configuration is valid", p.stdout)
        probs = [m for m in map(FILE_LINE_COL_RE.match, p.stderr.splitlines())
                 if m and m.group("file") == path]
        self.assertEqual(len(probs), 1, p.stderr)
        # The mapping of the task "bad".
        with open(path) as f:
            lines = f.read().splitlines()
        line = lines.index("      - name: bad") + 1
        self.assertEqual((int(probs[0].group("line")),
                          int(probs[0].group("col"))), (line, 9), p.stderr)
        self.assertIn("'bad'", probs[0].group("msg"))
        self.assertIn(fix + " " + plugin_path, probs[0].group("msg"))
        self.assertIn("1 problem found", p.stderr)

    def test_check_config_refuses_writable_plugin(self):
        pdir = self.plugin_dir()
        bad = self.copy_plugin("echo", pdir, "bad", 0o666)
        self.check_config_refuses(bad, "chmod go-w")

    def test_check_config_refuses_foreign_plugin(self):
        pdir = self.plugin_dir()
        bad = self.copy_plugin("echo", pdir, "bad", 0o755, NOBODY)
        self.check_config_refuses(bad, "chown root")


if __name__ == "__main__":
    unittest.main()
