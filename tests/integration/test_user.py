"""`user:`: started as root, loopd runs its workers as that user, dropped
after exec and before any plugin is loaded; the supervisor stays root and
binds the tasks' sockets.  Without `user:`, one warning says that plugins
run as root."""

import grp
import os
import pwd
import shutil
import signal
import unittest
from unittest import mock

from loopd_harness import (LoopdTestCase, echo_roundtrip, env, loop, task,
                           to_yaml)


def ids(pid):
    """(uids, gids, groups) from /proc/PID/status: lists of ints."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            k, _, v = ln.partition(":")
            out[k] = [int(x) for x in v.split()] if k in (
                "Uid", "Gid", "Groups") else v.strip()
    return out["Uid"], out["Gid"], out["Groups"]


@unittest.skipUnless(os.geteuid() == 0, "needs root: loopd drops from root "
                     "to `user:`")
class UserTest(LoopdTestCase):

    def setUp(self):
        super().setUp()
        try:
            self.nobody = pwd.getpwnam("nobody")
        except KeyError:
            self.skipTest("no user 'nobody' on this system")
        # The workers read the plugins through tmp/plugins.
        os.chmod(self.tmp, 0o755)

    def plugin_dir(self):
        """Copies, not links: the workers, as nobody, must reach the files
        wherever the build dir is (a 0700 home, a mktemp -d)."""
        d = os.path.join(self.tmp, "plugins")
        if not os.path.isdir(d):
            os.mkdir(d)
            for src in (env("LOOPD_PLUGINS"), env("LOOPD_TEST_PLUGINS")):
                for name in sorted(os.listdir(src)):
                    if name.endswith(".so"):
                        shutil.copy(os.path.join(src, name), d)
        return d

    def config(self, loops, **top):
        conf = {"plugin_dir": self.plugin_dir()}
        conf.update(top)
        conf["loops"] = loops
        return self.write_file("loopd.yaml", to_yaml(conf))

    def test_workers_run_as_user(self):
        conf = self.config([loop("net", task("echo", "echo", port=0)),
                            loop("clock", task("t", "ticker",
                                               interval="1h"))],
                           user="nobody")
        d = self.start(config=conf)
        port = d.echo_port()
        said = d.wait_record(event="workers_user")
        self.assertEqual(said["level"], "info", said)
        self.assertIn("user nobody", said["msg"])
        for name in ("net", "clock"):
            uids, gids, groups = ids(d.worker_pid(name))
            self.assertEqual(uids, [self.nobody.pw_uid] * 4, name)
            self.assertEqual(gids, [self.nobody.pw_gid] * 4, name)
            self.assertEqual(groups, [], name)
        uids, _, _ = ids(d.pid)
        self.assertEqual(uids, [0] * 4, "the supervisor stays root")
        # The socket came from the supervisor: the echo answers.
        self.assertEqual(echo_roundtrip(port), b"ping\n")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        d.assert_no_process_left()

    def test_group_and_sandbox(self):
        group = None
        for g in ("nogroup", "daemon", "users"):
            try:
                group = grp.getgrnam(g)
                break
            except KeyError:
                continue
        if group is None:
            self.skipTest("no group nogroup, daemon or users")
        conf = self.config([loop("net", task("echo", "echo", port=0),
                                 sandbox={"profile": "network-server"})],
                           user="nobody", group=group.gr_name)
        d = self.start(config=conf)
        port = d.echo_port()
        uids, gids, groups = ids(d.worker_pid("net"))
        self.assertEqual(uids, [self.nobody.pw_uid] * 4)
        self.assertEqual(gids, [group.gr_gid] * 4)
        self.assertEqual(groups, [])
        self.assertEqual(echo_roundtrip(port), b"ping\n")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_root_without_user_warns_once(self):
        d = self.start([loop("a", task("t1", "ticker", interval="1h")),
                        loop("b", task("t2", "ticker", interval="1h"))])
        d.wait_ready()
        warn = d.find(event="workers_user")
        self.assertEqual(len(warn), 1, warn)
        self.assertEqual(warn[0]["level"], "warning")
        self.assertIn("plugins run as root", warn[0]["msg"])
        self.assertEqual(ids(d.worker_pid("a"))[0], [0] * 4)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        self.assertEqual(len(d.find(event="workers_user")), 1)

    def test_unknown_user_is_a_config_error(self):
        conf = self.config([loop("l", task("t", "ticker"))],
                           user="no-such-user-loopd")
        p = self.run_loopd(["--check-config", conf])
        self.assertEqual(p.returncode, 78, p.stderr)
        # Line 2, after plugin_dir: the value's place.
        self.assertIn("%s:2:7: user: no user 'no-such-user-loopd' on this "
                      "system" % conf, p.stderr)
        p = self.run_loopd(["-c", conf])
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertIn("no user 'no-such-user-loopd'", p.stderr)

    def test_reload_to_another_user_restarts_the_loops(self):
        loops = [loop("l", task("t", "ticker", interval="1h"))]
        d = self.start(config=self.config(loops))
        first = d.worker_pid("l")
        self.assertEqual(ids(first)[0], [0] * 4)
        n = len(d.records)
        self.config(loops, user="nobody")
        d.signal(signal.SIGHUP)
        rep = d.wait_record(event="reload", after=n)
        self.assertEqual(rep.get("loops_restarted"), ["l"], rep)
        again = d.wait_record(loop="l", event="loop_start",
                              after=d.index_of(rep))
        self.assertEqual(ids(again["pid"])[0], [self.nobody.pw_uid] * 4)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_plugin_code_never_runs_as_root(self):
        """Reading what a plugin declares (--check-config, a reload) runs
        its constructors: in a child that has dropped to `user:` first,
        as its workers do."""
        d = os.path.join(self.tmp, "who")
        os.mkdir(d)
        os.chmod(d, 0o777)
        who = os.path.join(d, "ids")
        mine = {"LOOPD_TEST_CTORWHO": who}
        nobody = "%d %d" % (self.nobody.pw_uid, self.nobody.pw_gid)

        def lines():
            with open(who) as f:
                return f.read().split()

        conf = self.config([loop("l", task("w", "ctorwho"))], user="nobody")
        with mock.patch.dict(os.environ, mine):
            p = self.run_loopd(["--check-config", conf])
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(who) as f:
            self.assertEqual(f.read(), nobody + "\n",
                             "--check-config ran the plugin as someone else")
        os.unlink(who)
        ticker = loop("t", task("t", "ticker", interval="1h"))
        d = self.start(config=self.config([ticker], user="nobody"),
                       extra_env=mine)
        d.wait_ready()
        n = len(d.records)
        self.config([ticker, loop("l", task("w", "ctorwho"))], user="nobody")
        d.signal(signal.SIGHUP)
        rep = d.wait_record(event="reload", after=n)
        self.assertEqual(rep.get("loops_added"), ["l"], rep)
        d.wait_record(task="w", event="task_state", state="running", after=n)
        with open(who) as f:
            seen = f.read().splitlines()
        # The reload's inspection, then the worker's load.
        self.assertEqual(seen, [nobody, nobody])
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)


if __name__ == "__main__":
    unittest.main()
