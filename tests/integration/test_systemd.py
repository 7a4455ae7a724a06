"""The systemd unit: it verifies, and its stop settings fit loopd's."""

import os
import re
import shutil
import subprocess
import unittest

from loopd_harness import LoopdTestCase, env

DEFAULT_GRACE_S = 10     # CONF_DEFAULT_GRACE_MS


def unit_settings(text):
    """{key: [values]} of the [Service] section."""
    section, out = None, {}
    for ln in text.splitlines():
        ln = ln.strip()
        if not ln or ln.startswith(("#", ";")):
            continue
        if ln.startswith("["):
            section = ln
            continue
        if section == "[Service]" and "=" in ln:
            k, v = ln.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def seconds(value):
    """A systemd time span such as 30s, 1min 30s, 90 (seconds)."""
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600,
             "ms": 0.001}
    total = 0.0
    for num, unit in re.findall(r"(\d+)\s*([a-z]*)", value):
        total += int(num) * units[unit]
    return total


class SystemdUnitTest(LoopdTestCase):

    def setUp(self):
        super().setUp()
        # The unit CMake wrote from systemd/loopd.service.in.
        self.unit_src = os.path.join(env("LOOPD_BUILD_DIR"), "systemd",
                                     "loopd.service")
        with open(self.unit_src) as f:
            self.unit_text = f.read()
        self.settings = unit_settings(self.unit_text)

    def test_stop_settings(self):
        s = self.settings
        self.assertEqual(s.get("Type"), ["notify"])
        self.assertEqual(s.get("KillMode"), ["mixed"])
        self.assertIn("TimeoutStopSec", s)
        self.assertGreater(seconds(s["TimeoutStopSec"][-1]), DEFAULT_GRACE_S,
                           "systemd would SIGKILL loopd before the default "
                           "grace period is over")
        self.assertEqual(s.get("KillSignal", ["SIGTERM"]), ["SIGTERM"])

    def test_systemd_analyze_verify(self):
        tool = shutil.which("systemd-analyze")
        if tool is None:
            self.skipTest("systemd-analyze is not installed")
        # The configured binary is not installed: verify against this one.
        installed = self.settings["ExecStart"][-1].split()[0]
        self.assertTrue(installed.endswith("/sbin/loopd"), installed)
        unit = os.path.join(self.tmp, "loopd.service")
        loopctl = os.path.join(os.path.dirname(installed), "loopctl")
        with open(unit, "w") as f:
            f.write(self.unit_text.replace(installed, self.bin).replace(
                loopctl, os.path.join(os.path.dirname(self.bin),
                                      "loopctl")))
        e = dict(os.environ)
        # Documentation=man:loopd(8): verify runs man(1); point it at the
        # pages the build made (docs/*.scd turned into roff), as an install
        # would.
        args = [tool, "verify"]
        if shutil.which("man"):
            os.makedirs(os.path.join(self.tmp, "man", "man8"))
            for name in ("loopd.8", "loopctl.8"):
                page = os.path.join(env("LOOPD_BUILD_DIR"), "docs", name)
                self.assertTrue(os.path.exists(page), page + " was not built")
                shutil.copy(page, os.path.join(self.tmp, "man", "man8"))
            e["MANPATH"] = os.path.join(self.tmp, "man")
        else:
            args.append("--man=no")
        p = subprocess.run(args + [unit], env=e, cwd=self.tmp,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, "systemd-analyze verify:\n%s%s"
                         % (p.stdout, p.stderr))
        self.assertNotIn("loopd.service:", p.stderr,
                         "systemd-analyze warns about the unit")

    def test_restart_settings_kept(self):
        s = self.settings
        self.assertEqual(s.get("Restart"), ["on-failure"])
        self.assertEqual(s.get("RestartPreventExitStatus"), ["78"],
                         "a configuration error must not restart-loop")

    def test_least_privilege(self):
        """No root, no capability, a read-only system; the one capability
        to add for low ports is documented in the unit."""
        s = self.settings
        self.assertEqual(s.get("DynamicUser"), ["yes"])
        self.assertEqual(s.get("CapabilityBoundingSet"), [""])
        self.assertNotIn("AmbientCapabilities", s)
        for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp",
                    "PrivateDevices", "ProtectKernelTunables",
                    "ProtectKernelModules", "ProtectKernelLogs",
                    "ProtectControlGroups", "RestrictNamespaces",
                    "MemoryDenyWriteExecute", "LockPersonality"):
            self.assertEqual(s.get(key), ["yes"], key)
        self.assertEqual(s.get("ProtectSystem"), ["strict"])
        self.assertEqual(s.get("RuntimeDirectory"), ["loopd"])
        self.assertEqual(s.get("SystemCallArchitectures"), ["native"])
        self.assertEqual(s.get("RestrictAddressFamilies"),
                         ["AF_UNIX AF_INET AF_INET6"])
        calls = s.get("SystemCallFilter", [""])[-1].split()
        self.assertIn("@system-service", calls)
        # A loop's sandbox installs its filter with seccomp(2), which
        # @system-service does not have.
        self.assertIn("seccomp", calls)
        self.assertIn("AmbientCapabilities=CAP_NET_BIND_SERVICE",
                      self.unit_text)

    def test_security_exposure(self):
        """systemd-analyze security rates the unit at most 2.0."""
        tool = shutil.which("systemd-analyze")
        if tool is None:
            self.skipTest("systemd-analyze is not installed")
        usage = subprocess.run([tool, "security", "--help"],
                               capture_output=True, text=True, timeout=60)
        if "--offline" not in usage.stdout:
            self.skipTest("systemd-analyze security has no --offline")
        unit = os.path.join(self.tmp, "loopd.service")
        with open(unit, "w") as f:
            f.write(self.unit_text)
        p = subprocess.run([tool, "security", "--offline=true",
                            "--no-pager", unit], cwd=self.tmp,
                           capture_output=True, text=True, timeout=60)
        m = re.search(r"Overall exposure level for loopd\.service: "
                      r"(\d+\.\d+)", p.stdout + p.stderr)
        self.assertIsNotNone(m, "no exposure level in:\n%s%s"
                             % (p.stdout, p.stderr))
        self.assertLessEqual(float(m.group(1)), 2.0, p.stdout)


if __name__ == "__main__":
    unittest.main()
