"""A loop's sandbox: a seccomp filter from a named profile, applied in the
worker before any plugin is loaded.  A plugin that makes a call its
profile does not allow kills its worker; the task_error names the task and
the call; the loop is restarted under its policy; other loops go on."""

import re
import signal
import unittest

from loopd_harness import LoopdTestCase, echo_roundtrip, loop, task


def proc_status(pid):
    """{field: value} of /proc/PID/status."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for ln in f:
            k, _, v = ln.partition(":")
            out[k] = v.strip()
    return out


def sandbox(profile, **more):
    sb = {"profile": profile}
    sb.update(more)
    return sb


class SandboxTest(LoopdTestCase):

    def test_forbidden_call_is_named_and_the_loop_restarts(self):
        d = self.start([
            loop("bad", task("f", "forbidden", call="mount", after="20ms"),
                 restart={"policy": "on-failure", "backoff": "20ms..20ms",
                          "intensity": "1/1m"},
                 sandbox=sandbox("network-server")),
            loop("net", task("echo", "echo", port=0),
                 sandbox=sandbox("network-server"))],
            allow_crash_report=True)
        port = d.echo_port()
        err = d.wait_record(event="task_error", task="f")
        self.assertErrorRecord(err, "bad", "f", "forbidden", "sandbox")
        self.assertEqual(err.get("signal"), "SIGSYS", err)
        self.assertEqual(err.get("syscall"), "mount", err)
        self.assertIn("refused system call mount", err["msg"])
        self.assertIn("profile network-server", err["msg"])
        self.assertIn("task 'f'", err["msg"])
        # The call was not made: the plugin never says what it returned.
        self.assertEqual(d.find(task="f", msg=re.compile("returned")), [])
        # Restarted under its policy, and refused again the same way.
        d.wait_record(event="task_restart", task="f")
        again = d.wait_record(event="task_error", task="f",
                              after=d.index_of(err) + 1)
        self.assertEqual(again.get("syscall"), "mount", again)
        # The other loop answers throughout.
        self.assertEqual(echo_roundtrip(port), b"ping\n")
        d.wait_record(event="restart_exhausted", task="f")
        self.assertEqual(echo_roundtrip(port, b"still\n"), b"still\n")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)
        d.assert_no_process_left()

    def test_echo_runs_under_network_server(self):
        d = self.start([loop("net", task("echo", "echo", port=0),
                             sandbox=sandbox("network-server"))])
        port = d.echo_port()
        st = proc_status(d.worker_pid("net"))
        self.assertEqual(st.get("Seccomp"), "2", st)     # a filter
        self.assertEqual(st.get("NoNewPrivs"), "1", st)
        for n in range(3):
            data = b"line %d\n" % n
            self.assertEqual(echo_roundtrip(port, data), data)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)
        self.assertEqual(d.find(event="task_error"), [])
        d.assert_no_process_left()

    def test_compute_refuses_a_new_socket(self):
        """compute is network-server without network: the same call is
        made in one and refused in the other."""
        d = self.start([
            loop("srv", task("s", "forbidden", call="inet", after="1ms"),
                 sandbox=sandbox("network-server")),
            loop("cpu", task("c", "forbidden", call="inet", after="1ms"),
                 sandbox=sandbox("compute"))],
            allow_crash_report=True)
        d.wait_record(task="s", msg=re.compile(r"^inet returned \d+ "
                                               r"\(no error\)$"))
        err = d.wait_record(event="task_error", task="c")
        self.assertEqual(err.get("syscall"), "socket", err)
        self.assertIn("profile compute", err["msg"])
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 1)

    def test_default_is_no_filter(self):
        """Without `sandbox:` nothing is filtered: the call is made (and
        fails on its own)."""
        d = self.start([loop("l", task("f", "forbidden", call="personality",
                                       after="1ms"))])
        d.wait_record(task="f", msg=re.compile(r"^personality returned "))
        st = proc_status(d.worker_pid("l"))
        self.assertEqual(st.get("Seccomp"), "0", st)
        self.assertEqual(st.get("NoNewPrivs"), "0", st)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_no_new_privs_alone(self):
        d = self.start([loop("l", task("t", "ticker", interval="1h"),
                             sandbox=sandbox("none", no_new_privs=True))])
        st = proc_status(d.worker_pid("l"))
        self.assertEqual(st.get("Seccomp"), "0", st)
        self.assertEqual(st.get("NoNewPrivs"), "1", st)
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait_exit(), 0)

    def test_check_config_verbose_lists_the_groups(self):
        conf = self.write_config([
            loop("srv", task("e", "echo"), sandbox=sandbox("network-server")),
            loop("cpu", task("t", "ticker"), sandbox=sandbox("compute")),
            loop("open", task("u", "ticker"))])
        p = self.run_loopd(["--check-config", "--verbose", conf])
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout
        self.assertIn("loop 'srv': sandbox profile network-server, "
                      "no_new_privs true; allowed groups:", out)
        self.assertIn("loop 'cpu': sandbox profile compute", out)
        self.assertIn("loop 'open': sandbox profile none, no_new_privs "
                      "false (no system call filter)", out)
        srv = out.split("loop 'cpu'")[0]
        cpu = out.split("loop 'cpu'")[1].split("loop 'open'")[0]
        for group in ("base", "memory", "io", "events", "files", "threads",
                      "socket-io", "network"):
            self.assertRegex(srv, r"\n  %s: " % re.escape(group))
        self.assertRegex(srv, r"\n    .* accept4 ")
        self.assertNotRegex(cpu, r"\n  network: ")
        self.assertNotIn(" mount", out)
        quiet = self.run_loopd(["--check-config", conf])
        self.assertNotIn("allowed groups", quiet.stdout)

    def test_bad_profile_is_a_config_error(self):
        conf = self.write_config([loop("l", task("t", "ticker"),
                                       sandbox=sandbox("network"))])
        p = self.run_loopd(["--check-config", conf])
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertRegex(p.stderr, r":\d+:\d+: loop 'l': sandbox.profile: "
                         r"unknown value 'network'")


if __name__ == "__main__":
    unittest.main()
