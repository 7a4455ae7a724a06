"""`loopd plugin inspect`: a plugin's descriptor and settings, read in a
throwaway process, as text or JSON."""

import json
import os
import subprocess
import unittest

from loopd_harness import LoopdTestCase, env


class PluginInspectTest(LoopdTestCase):

    def inspect(self, *args):
        return self.run_loopd(["plugin", "inspect"] + list(args))

    def so(self, name):
        return os.path.join(self.plugin_dir(), name + ".so")

    def test_echo_text(self):
        p = self.inspect(self.so("echo"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        self.assertIn("name:        echo\n", p.stdout)
        self.assertIn("ABI:         1.1\n", p.stdout)
        self.assertIn("description: TCP echo server\n", p.stdout)
        self.assertRegex(p.stdout, r"\n  port +int 0\.\.65535 +no +7000 +"
                                   r"TCP port; 0 picks one\n")
        self.assertRegex(p.stdout, r"\n  address +string +no +127\.0\.0\.1 ")
        self.assertRegex(p.stdout, r"\n  backlog +int 1\.\.65535 ")

    def test_ticker_by_name_as_json(self):
        p = self.inspect("--json", "-P", self.plugin_dir(), "ticker")
        self.assertEqual(p.returncode, 0, p.stderr)
        d = json.loads(p.stdout)
        self.assertEqual(d["name"], "ticker")
        self.assertEqual(d["abi"], [1, 1])
        self.assertEqual(d["file"], self.so("ticker"))
        self.assertEqual(d["settings"], [
            {"key": "interval", "type": "duration", "required": False,
             "default": "1s", "description": "time between two lines"},
            {"key": "message", "type": "string", "required": False,
             "default": "tick",
             "description": "the line, followed by a count"}])

    def test_echo_json(self):
        p = self.inspect(self.so("echo"), "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        d = json.loads(p.stdout)
        port = [s for s in d["settings"] if s["key"] == "port"][0]
        self.assertEqual((port["type"], port["min"], port["max"],
                          port["default"]), ("int", 0, 65535, "7000"))
        self.assertEqual([s["key"] for s in d["settings"]],
                         ["address", "port", "backlog"])

    def test_every_type_and_a_chatty_constructor(self):
        p = self.inspect("--json", self.so("settings"))
        self.assertEqual(p.returncode, 0, p.stderr)
        d = json.loads(p.stdout)
        self.assertEqual(d["version"], "2.5")
        by = {s["key"]: s for s in d["settings"]}
        self.assertEqual([s["type"] for s in d["settings"]],
                         ["string", "int", "bool", "duration", "enum",
                          "list", "map"])
        self.assertTrue(by["upstream"]["required"])
        self.assertIsNone(by["upstream"]["default"])
        self.assertEqual((by["retries"]["min"], by["retries"]["max"]),
                         (-1, 10))
        self.assertEqual(by["mode"]["values"], ["fast", "safe", "off"])
        t = self.inspect(self.so("settings"))
        self.assertRegex(t.stdout, r"\n  upstream +string +yes +- ")
        self.assertRegex(t.stdout, r"\n  mode +enum fast\|safe\|off +no ")

    def test_plugin_without_settings(self):
        """A 1.0 plugin, and a 1.1 plugin that declares no table."""
        for name, abi in (("oldabi", [1, 0]), ("failer", [1, 1])):
            with self.subTest(plugin=name):
                p = self.inspect("--json", self.so(name))
                self.assertEqual(p.returncode, 0, p.stderr)
                d = json.loads(p.stdout)
                self.assertEqual(d["abi"], abi)
                self.assertIsNone(d["settings"])
                t = self.inspect(self.so(name))
                self.assertEqual(t.returncode, 0, t.stderr)
                self.assertIn("settings:    none declared", t.stdout)

    def test_crash_is_reported(self):
        """A constructor that crashes takes the child down, not loopd."""
        p = self.inspect(self.so("ctorcrash"))
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertIn(self.so("ctorcrash"), p.stderr)
        self.assertIn("inspect_crashed", p.stderr)

    def test_constructor_that_leaves_a_process(self):
        """The descriptor is read once the child has exited, though a
        process it left holds the pipe; that process is killed."""
        p = self.inspect("--json", self.so("ctorfork"))
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["name"], "ctorfork")
        out = subprocess.run(["pgrep", "-f", "inspect-plugin " +
                              self.so("ctorfork")], capture_output=True)
        self.assertEqual(out.stdout, b"")

    def test_not_a_plugin(self):
        for name, word in (("badabi", "plugin_abi"),
                           ("nodesc", "plugin_no_descriptor")):
            with self.subTest(plugin=name):
                p = self.inspect(self.so(name))
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(word, p.stderr)
        p = self.inspect("-P", self.plugin_dir(), "nosuchplugin")
        self.assertEqual(p.returncode, 1)
        self.assertIn("nosuchplugin.so", p.stderr)

    def test_usage(self):
        self.assertEqual(self.run_loopd(["plugin"]).returncode, 2)
        self.assertEqual(self.run_loopd(["plugin", "inspect"]).returncode, 2)
        p = self.run_loopd(["--help"])
        self.assertIn("plugin inspect", p.stdout)


if __name__ == "__main__":
    unittest.main()
