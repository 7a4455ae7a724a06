"""Live reload: SIGHUP applies an edited file task by task; a broken file
changes nothing; a burst of SIGHUPs costs nothing."""

import os
import re
import signal
import time
import unittest

from loopd_harness import (LoopdTestCase, connect, echo_roundtrip, loop,
                           recv_exact, task, to_yaml)


class ReloadTest(LoopdTestCase):

    def rewrite(self, d, loops, **kw):
        """Write the config again and SIGHUP; the reload record."""
        self.write_config(loops, **kw)
        n = d.mark()
        d.signal(signal.SIGHUP)
        return d.wait_for(lambda r: r.get("event") in ("reload",
                                                       "reload_failed"),
                          after=n, what="a reload record")

    def test_add_remove_change_keep_connection(self):
        notify = self.notify_socket()
        base = [loop("net", task("echo", "echo", port=0),
                     task("tick", "ticker", interval="20ms",
                          message="old"),
                     task("swap", "ticker", interval="1h"),
                     task("gone", "ticker", interval="1h")),
                loop("other", task("t2", "ticker", interval="1h"))]
        d = self.start(base, extra_env={"NOTIFY_SOCKET": notify.path})
        port = d.echo_port()
        d.wait_ready()
        held = connect(port)
        self.addCleanup(held.close)
        held.sendall(b"before ")
        self.assertEqual(recv_exact(held, 7), b"before ")
        echo_pid = d.worker_pid("net")
        rep = self.rewrite(d, [
            loop("net", task("echo", "echo", port=0),
                 task("tick", "ticker", interval="20ms", message="new"),
                 task("swap", "ver1"),
                 task("fresh", "ticker", interval="20ms", message="hi")),
            loop("other", task("t2", "ticker", interval="1h"))])
        self.assertEqual(rep["event"], "reload", rep)
        self.assertEqual(rep["added"], ["fresh"])
        self.assertEqual(rep["removed"], ["gone"])
        # The ticker takes its new message in place (its reconfigure
        # hook); a new plugin needs a new instance.
        self.assertEqual(rep["reconfigured"], ["tick"])
        self.assertEqual(rep["restarted"], ["swap"])
        self.assertEqual(rep["unchanged"], 2)
        self.assertIsInstance(rep["duration_ms"], int)
        after = d.index_of(rep)
        d.wait_record(task="fresh", msg=re.compile(r"^hi \d+$"), after=after)
        d.wait_record(task="tick", msg=re.compile(r"^new \d+$"), after=after)
        d.wait_record(task="gone", event="task_state", state="done",
                      after=after)
        d.wait_record(task="swap", msg="version 1", after=after)
        d.wait_record(task="tick", event="task_reconfigured",
                      result="applied", after=after)
        # In place: no end, and no new running record, for the ticker.
        self.assertEqual([r for r in d.records[after:]
                          if r.get("task") == "tick" and
                          r.get("event") == "task_state"], [])
        # The untouched echo kept its connection, in the same worker.
        held.sendall(b"after")
        self.assertEqual(recv_exact(held, 5), b"after")
        self.assertEqual(d.worker_pid("net"), echo_pid)
        self.assertEqual(d.find(event="task_state", task="echo",
                                state="done"), [])
        notify.wait_for("RELOADING", "1")
        m = [x for x in notify.messages if "RELOADING" in x][0]
        self.assertRegex(m.get("MONOTONIC_USEC", ""), r"^\d+$")
        self.assertGreater(notify.count("READY", "1"), 1)
        # Nothing of the old ticker after its successor started.
        n = d.mark()
        d.wait_record(task="tick", msg=re.compile(r"^new \d+$"), after=n)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_reconfigure_refused_falls_back_to_a_restart(self):
        """echo takes a new backlog in place, not a new port: then it is
        started anew, on the new port, and the old port is closed."""
        d = self.start([loop("net", task("echo", "echo", port=0))])
        old = d.echo_port()
        d.wait_ready()      # offered in place only to a running task
        rep = self.rewrite(d, [loop("net", task("echo", "echo", port=0,
                                                address="127.0.0.2"))])
        self.assertEqual(rep["reconfigured"], ["echo"])
        no = d.wait_record(task="echo", event="task_reconfigured",
                           after=d.index_of(rep))
        self.assertEqual(no["result"], "restart_needed")
        run = d.wait_record(task="echo", event="task_state",
                            state="running", after=d.index_of(no))
        new = d.wait_record(task="echo", after=d.index_of(no),
                            msg=re.compile(r"^listening on 127\.0\.0\.2:"))
        self.assertLess(d.index_of(new), d.index_of(run))
        with self.assertRaises(ConnectionRefusedError):
            connect(old)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_broken_file_changes_nothing(self):
        d = self.start([loop("l", task("tick", "ticker", interval="20ms"))])
        d.wait_ready()
        path = os.path.join(self.tmp, "loopd.yaml")
        with open(path) as f:
            good = f.read()
        with open(path, "w") as f:
            f.write(good.replace("interval", "intervall") +
                    "  - name: [oops\n")
        n = d.mark()
        d.signal(signal.SIGHUP)
        rep = d.wait_record(event="reload_failed", after=n)
        self.assertEqual(rep["level"], "error")
        self.assertTrue(all(re.match(r"^.+:\d+:\d+: ", e)
                            for e in rep["errors"]), rep["errors"])
        d.wait_record(task="tick", msg=re.compile(r"^tick \d+$"),
                      after=d.index_of(rep))
        self.assertEqual(d.find(event="task_state", state="done"), [])
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_loop_added_removed_and_restarted(self):
        d = self.start([loop("a", task("ta", "ticker", interval="1h")),
                        loop("b", task("tb", "ticker", interval="1h"))])
        d.wait_ready()
        a_pid = d.worker_pid("a")
        rep = self.rewrite(d, [
            loop("a", task("ta", "ticker", interval="1h"), backend="poll"),
            loop("c", task("tc", "ticker", interval="20ms"))])
        self.assertEqual(rep["loops_added"], ["c"])
        self.assertEqual(rep["loops_removed"], ["b"])
        self.assertEqual(rep["loops_restarted"], ["a"])
        after = d.index_of(rep)
        d.wait_record(task="tc", msg=re.compile(r"^tick \d+$"), after=after)
        again = d.wait_record(loop="a", event="loop_start", after=after)
        self.assertEqual(again["backend"], "poll")
        self.assertNotEqual(again["pid"], a_pid)
        d.wait_record(loop="b", msg="loop stopped for the reload",
                      after=after)
        d.wait_record(task="ta", event="task_state", state="running",
                      after=d.index_of(again))
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        d.assert_no_process_left()

    def test_top_level_settings_apply_at_once(self):
        d = self.start([loop("l", task("tick", "ticker", interval="20ms"))])
        d.wait_ready()
        rep = self.rewrite(d, [loop("l", task("tick", "ticker",
                                              interval="20ms"),
                                    task("fail", "failer", after="200ms"))],
                           log_level="warning")
        self.assertEqual(rep["unchanged"], 1)
        n = d.index_of(rep)
        # info records are no longer written; the failure (an error) is.
        d.wait_record(event="task_error", task="fail", after=n)
        self.assertEqual([r for r in d.records[n:]
                          if r.get("task") == "tick"], [])
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)

    def test_sighup_storm_costs_nothing(self):
        d = self.start([loop("l", task("echo", "echo", port=0),
                             task("tick", "ticker", interval="1h"))])
        d.wait_ready()

        def fds_and_rss():
            fds = len(os.listdir("/proc/%d/fd" % d.pid))
            with open("/proc/%d/status" % d.pid) as f:
                rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
            return fds, rss

        # One reload first, so that what a reload allocates once is there.
        d.signal(signal.SIGHUP)
        d.wait_record(event="reload")
        fds0, rss0 = fds_and_rss()
        for _ in range(50):
            d.signal(signal.SIGHUP)
            time.sleep(0.02)    # a storm within a second, not a wait
        n = len(d.find(event="reload"))
        d.signal(signal.SIGHUP)
        d.wait_for(lambda r: r.get("event") == "reload" and
                   len(d.find(event="reload")) > n, what="a last reload")
        fds1, rss1 = fds_and_rss()
        self.assertEqual(fds1, fds0)
        # Under a sanitizer, freed memory sits in quarantine and new
        # mappings get shadow pages: RSS grows without a leak, and
        # LeakSanitizer checks for leaks at exit instead.
        if not os.environ.get("LOOPD_SANITIZE"):
            self.assertLess(rss1 - rss0, 512,
                            "RSS grew %d kB" % (rss1 - rss0))
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)


def inotify_fds(pid):
    """How many inotify instances process pid holds."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == \
                    "anon_inode:inotify":
                n += 1
        except FileNotFoundError:
            pass
    return n


class FragmentReloadTest(LoopdTestCase):

    def test_reload_adds_fragment(self):
        """A fragment dropped in is picked up by a reload; one taken away
        is removed by the next."""
        os.mkdir(os.path.join(self.tmp, "conf.d"))
        main = self.write_file("loopd.yaml", to_yaml({
            "plugin_dir": self.plugin_dir(), "include": ["conf.d/*.yaml"],
            "loops": [loop("l", task("tick", "ticker", interval="1h"))]}))
        d = self.start(config=main)
        d.wait_ready()
        frag = self.write_file("conf.d/pkg.yaml", to_yaml({
            "loops": [loop("pkg", task("fresh", "ticker", interval="20ms",
                                       message="frag"))]}))
        n = d.mark()
        d.signal(signal.SIGHUP)
        rep = d.wait_record(event="reload", after=n)
        self.assertEqual(rep["loops_added"], ["pkg"])
        self.assertEqual(rep["added"], ["fresh"])
        self.assertEqual(rep["unchanged"], 1)
        d.wait_record(task="fresh", msg=re.compile(r"^frag \d+$"),
                      after=d.index_of(rep))
        os.unlink(frag)
        n = d.mark()
        d.signal(signal.SIGHUP)
        rep = d.wait_record(event="reload", after=n)
        self.assertEqual(rep["loops_removed"], ["pkg"])
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)


class ConfigWatchTest(LoopdTestCase):
    """config_watch: true reloads when the file changes, however it is
    changed, once for a burst of changes."""

    def conf_text(self, *extra, watch=True):
        tasks = [task("tick", "ticker", interval="1h")]
        tasks += [task(name, "ticker", interval="20ms", message=name)
                  for name in extra]
        # The plugin files' watch is off: the inotify fds counted below
        # are the configuration's.
        return to_yaml({"plugin_dir": self.plugin_dir(),
                        "config_watch": watch, "plugin_watch": False,
                        "loops": [loop("l", *tasks)]})

    def start_watching(self, path=None, watch=True):
        if path is None:
            path = self.write_file("loopd.yaml", self.conf_text(watch=watch))
        d = self.start(config=path)
        d.wait_ready()
        self.assertEqual(inotify_fds(d.pid), 1 if watch else 0)
        return d

    def wait_reload(self, d, after, added):
        rep = d.wait_for(lambda r: r.get("event") in ("reload",
                                                      "reload_failed"),
                         after=after, what="a reload record")
        self.assertEqual(rep["event"], "reload", rep)
        self.assertEqual(rep["added"], added, rep)
        d.wait_record(task=added[-1], msg=re.compile(r"^%s \d+$" % added[-1]),
                      after=d.index_of(rep))
        return rep

    def stop(self, d):
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_edit_in_place(self):
        d = self.start_watching()
        n = d.mark()
        with open(os.path.join(self.tmp, "loopd.yaml"), "w") as f:
            f.write(self.conf_text("edited"))
        self.wait_reload(d, n, ["edited"])
        self.stop(d)

    def test_save_by_rename(self):
        d = self.start_watching()
        n = d.mark()
        tmp = self.write_file(".loopd.yaml.swp", self.conf_text("renamed"))
        os.replace(tmp, os.path.join(self.tmp, "loopd.yaml"))
        self.wait_reload(d, n, ["renamed"])
        self.stop(d)

    def test_configmap_symlink_swap(self):
        """Kubernetes' layout: the file is a symlink through `..data`,
        which is swapped atomically to a new timestamped directory."""
        cm = os.path.join(self.tmp, "cm")
        os.mkdir(cm)
        old = os.path.join(cm, "..2026_01_01_00_00_00.1")
        os.mkdir(old)
        with open(os.path.join(old, "loopd.yaml"), "w") as f:
            f.write(self.conf_text())
        os.symlink(os.path.basename(old), os.path.join(cm, "..data"))
        path = os.path.join(cm, "loopd.yaml")
        os.symlink("..data/loopd.yaml", path)
        d = self.start_watching(path)
        n = d.mark()
        new = os.path.join(cm, "..2026_01_01_00_05_00.2")
        os.mkdir(new)
        with open(os.path.join(new, "loopd.yaml"), "w") as f:
            f.write(self.conf_text("mapped"))
        os.symlink(os.path.basename(new), os.path.join(cm, "..data_tmp"))
        os.replace(os.path.join(cm, "..data_tmp"), os.path.join(cm, "..data"))
        os.unlink(os.path.join(old, "loopd.yaml"))
        os.rmdir(old)
        self.wait_reload(d, n, ["mapped"])
        self.stop(d)

    def test_burst_is_one_reload(self):
        d = self.start_watching()
        path = os.path.join(self.tmp, "loopd.yaml")
        n = d.mark()
        for i in range(5):
            with open(path, "w") as f:
                f.write(self.conf_text("e%d" % i))
        self.wait_reload(d, n, ["e4"])
        # A last edit, once that reload is done: its own reload comes
        # after the debounce, by which time a second reload of the burst
        # would have been written too.
        m = d.mark()
        with open(path, "w") as f:
            f.write(self.conf_text("e4", "last"))
        self.wait_reload(d, m, ["last"])
        self.assertEqual(len(d.find(event="reload")), 2,
                         d.find(event="reload"))
        self.stop(d)

    def test_fragments_are_watched(self):
        """A fragment added to an include glob's directory, and one that
        a reload brought in, are watched."""
        os.mkdir(os.path.join(self.tmp, "conf.d"))
        main = self.write_file("loopd.yaml", to_yaml({
            "plugin_dir": self.plugin_dir(), "config_watch": True,
            "plugin_watch": False, "include": "conf.d/*.yaml",
            "loops": [loop("l", task("tick", "ticker", interval="1h"))]}))
        d = self.start_watching(main)
        n = d.mark()
        frag = os.path.join(self.tmp, "conf.d", "pkg.yaml")
        tmp = os.path.join(self.tmp, "conf.d", ".pkg.yaml.tmp")
        with open(tmp, "w") as f:
            f.write(to_yaml({"loops": [loop("pkg", task(
                "pkgt", "ticker", interval="20ms", message="pkgt"))]}))
        os.replace(tmp, frag)
        self.wait_reload(d, n, ["pkgt"])
        n = d.mark()
        with open(frag, "w") as f:
            f.write(to_yaml({"loops": [loop("pkg", task(
                "pkgt", "ticker", interval="20ms", message="pkgt"),
                task("more", "ticker", interval="20ms", message="more"))]}))
        self.wait_reload(d, n, ["more"])
        self.stop(d)

    def test_watch_off_does_not_reload(self):
        """config_watch false: no inotify at all, and an edit waits for a
        SIGHUP."""
        path = self.write_file("loopd.yaml",
                               self.conf_text("clock", watch=False))
        d = self.start_watching(path, watch=False)
        first = d.wait_record(task="clock", msg=re.compile(r"^clock \d+$"))
        with open(path, "w") as f:
            f.write(self.conf_text("clock", "t2", watch=False))
        # 25 ticks of 20 ms after the edit: well past the debounce.
        k = int(first["msg"].split()[1])
        d.wait_record(task="clock", msg="clock %d" % (k + 25))
        self.assertEqual(d.find(event="reload"), [])
        n = d.mark()
        d.signal(signal.SIGHUP)
        self.wait_reload(d, n, ["t2"])
        self.stop(d)

    def test_reload_turns_watch_on_and_off(self):
        d = self.start_watching(watch=False)
        path = os.path.join(self.tmp, "loopd.yaml")
        with open(path, "w") as f:
            f.write(self.conf_text("on"))
        n = d.mark()
        d.signal(signal.SIGHUP)
        self.wait_reload(d, n, ["on"])
        self.assertEqual(inotify_fds(d.pid), 1)
        n = d.mark()
        with open(path, "w") as f:
            f.write(self.conf_text("on", "off", watch=False))
        self.wait_reload(d, n, ["off"])
        self.assertEqual(inotify_fds(d.pid), 0)
        self.stop(d)


if __name__ == "__main__":
    unittest.main()
