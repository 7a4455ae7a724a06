"""The plugin directory is watched: a .so dropped in brings up the tasks
that waited for it, and a .so replaced by rename restarts only the tasks
that run it, on the new code."""

import os
import re
import shutil
import signal
import unittest

from loopd_harness import LoopdTestCase, env, loop, task


class PluginWatchTest(LoopdTestCase):

    def drop(self, src_name, dst_name):
        """Put tests/plugins/SRC.so in the plugin dir as DST.so, the safe
        way: a copy beside it, then an atomic rename."""
        pdir = self.plugin_dir()
        src = os.path.join(env("LOOPD_TEST_PLUGINS"), src_name + ".so")
        tmp = os.path.join(pdir, "." + dst_name + ".so.new")
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, os.path.join(pdir, dst_name + ".so"))

    def test_dropped_in_plugin_starts_the_waiting_task(self):
        d = self.start([loop("l", task("late", "ver"),
                             task("tick", "ticker", interval="1h"))])
        wait = d.wait_record(task="late", state="waiting_for_plugin")
        self.assertEqual(wait["level"], "warning")
        ready = d.wait_ready()
        self.assertIn("late (waiting_for_plugin)", ready["not_running"])
        self.assertEqual(d.find(event="task_error"), [])
        self.drop("ver1", "ver")
        d.wait_record(task="late", msg="version 1", after=d.index_of(wait))
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_replaced_plugin_restarts_only_its_tasks(self):
        self.drop("ver1", "ver")
        d = self.start([loop("l", task("v", "ver"), task("w", "ver"),
                             task("tick", "ticker", interval="20ms"))])
        d.wait_record(task="v", msg="version 1")
        d.wait_record(task="w", msg="version 1")
        d.wait_ready()
        n = d.mark()
        self.drop("ver2", "ver")
        ch = d.wait_record(event="plugin_changed", after=n)
        self.assertTrue(ch["file"].endswith("/ver.so"), ch)
        for name in ("v", "w"):
            run = d.wait_record(task=name, event="task_state",
                                state="running", after=d.index_of(ch))
            self.assertEqual(run["plugin_version"], "2")
            d.wait_record(task=name, msg="version 2", after=d.index_of(run))
        # The ticker, of another plugin, was not touched.
        self.assertEqual([r for r in d.records[n:]
                          if r.get("task") == "tick" and
                          r.get("event") == "task_state"], [])
        d.wait_record(task="tick", msg=re.compile(r"^tick \d+$"),
                      after=d.index_of(ch))
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_plugin_watch_false_leaves_it_to_a_reload(self):
        self.drop("ver1", "ver")
        conf = self.write_config([loop("l", task("v", "ver"))])
        with open(conf, "a") as f:
            f.write("plugin_watch: false\n")
        d = self.start(config=conf)
        d.wait_record(task="v", msg="version 1")
        self.drop("ver2", "ver")
        # A reload is the sign that time has passed; nothing restarted.
        d.signal(signal.SIGHUP)
        rep = d.wait_record(event="reload")
        self.assertEqual(rep["unchanged"], 1)
        self.assertEqual(d.find(event="plugin_changed"), [])
        d.wait_record(task="v", msg="version 1", after=d.index_of(rep))
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)


if __name__ == "__main__":
    unittest.main()
