"""A plugin built out of tree, as its author would: cc and pkg-config."""

import os
import re
import shutil
import signal
import subprocess
import unittest

from loopd_harness import LoopdTestCase, env, loop, task, to_yaml


class OutOfTreePluginTest(LoopdTestCase):

    def test_ticker_built_with_pkg_config(self):
        cc = shutil.which("cc")
        pkgconf = shutil.which("pkg-config")
        if cc is None or pkgconf is None:
            self.skipTest("no cc or no pkg-config")
        e = dict(os.environ, PKG_CONFIG_PATH=env("LOOPD_BUILD_DIR"))
        cflags = subprocess.run([pkgconf, "--cflags", "loopd-plugin"], env=e,
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(cflags.returncode, 0, cflags.stderr)
        src_include = os.path.join(env("LOOPD_SOURCE_DIR"), "include")
        self.assertIn("-I" + src_include, cflags.stdout.split(),
                      "pkg-config did not pick loopd-plugin-uninstalled.pc")
        pdir = os.path.join(self.tmp, "oot")
        os.mkdir(pdir)
        so = os.path.join(pdir, "myticker.so")
        src = os.path.join(env("LOOPD_SOURCE_DIR"), "plugins", "ticker",
                           "ticker.c")
        build = subprocess.run([cc, "-shared", "-fPIC"] +
                               cflags.stdout.split() + ["-o", so, src],
                               capture_output=True, text=True, timeout=120)
        self.assertEqual(build.returncode, 0, build.stderr)
        cfg = self.write_file("oot.yaml", to_yaml({
            "plugin_dir": pdir,
            "loops": [loop("l", task("mine", "myticker", interval="20ms",
                                     message="oot"))]}))
        d = self.start(config=cfg)
        d.wait_record(task="mine", plugin="myticker", event="task_state",
                      state="running")
        d.wait_record(task="mine", msg="oot 1")
        d.wait_record(task="mine", msg="oot 2")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        d.wait_record(task="mine", msg=re.compile(r"^stopping after \d+ "
                                                  r"ticks$"), timeout=0)


if __name__ == "__main__":
    unittest.main()
