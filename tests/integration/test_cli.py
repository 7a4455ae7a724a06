"""The command line: --help, --version, bad options."""

import os
import re
import unittest

from loopd_harness import LoopdTestCase, env


class CliTest(LoopdTestCase):

    def test_help(self):
        for opt in ("--help", "-h"):
            with self.subTest(opt=opt):
                p = self.run_loopd([opt])
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn("--check-config", p.stdout)
                self.assertIn("--config", p.stdout)
                self.assertRegex(p.stdout, r"^Usage: loopd ")
                self.assertEqual(p.stderr, "")

    def test_version(self):
        for opt in ("--version", "-V"):
            with self.subTest(opt=opt):
                p = self.run_loopd([opt])
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertRegex(
                    p.stdout, r"^loopd \d+\.\d+\.\d+ \(plugin ABI 1\.1\)\n$")
                self.assertEqual(p.stderr, "")

    def test_unknown_option(self):
        p = self.run_loopd(["--no-such-option"])
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stdout, "")
        self.assertIn("--help", p.stderr)

    def test_missing_option_argument(self):
        p = self.run_loopd(["--config"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("--help", p.stderr)

    def test_check_config_without_file_checks_the_default(self):
        """As nginx -t: no file means the default configuration file."""
        p = self.run_loopd(["--check-config"])
        default = re.search(r"read FILE \(default (\S+)\)",
                            self.run_loopd(["--help"]).stdout).group(1)
        self.assertIn(p.returncode, (0, 78), p.stderr)
        self.assertIn(default, p.stdout + p.stderr)

    def test_check_config_and_config_name_one_file(self):
        good = self.write_config([{"name": "l", "tasks": [
            {"name": "t", "plugin": "ticker"}]}])
        p = self.run_loopd(["-t", "other.yaml", "-c", good])
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("other.yaml", p.stderr)
        p = self.run_loopd(["-t", "-c", good])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(good, p.stdout)

    def test_unexpected_argument(self):
        p = self.run_loopd(["-c", "x.yaml", "extra"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("extra", p.stderr)

    def test_version_matches_project(self):
        """--version says the version CMake built it as."""
        cml = os.path.join(env("LOOPD_SOURCE_DIR"), "CMakeLists.txt")
        with open(cml) as f:
            m = re.search(r"project\(loopd\s+VERSION\s+([\d.]+)", f.read())
        self.assertIsNotNone(m, "no project(loopd VERSION ...) in " + cml)
        p = self.run_loopd(["--version"])
        self.assertIn("loopd %s " % m.group(1), p.stdout)


if __name__ == "__main__":
    unittest.main()
