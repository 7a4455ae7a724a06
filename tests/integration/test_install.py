"""The install step, as the README gives it.

One fresh copy of the source tree is configured first with the default
prefix (as `tools/run` leaves it), then the README's install commands run
verbatim in it, with DESTDIR set.  Every test looks at that one staged
install: what lands where, what the installed binary and unit say, and
what a second install does to an edited configuration.
"""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from loopd_harness import env

# Configure, build and install a whole tree: minutes on a busy machine.
BUILD_TIMEOUT = 900
PREFIX = "/usr"
CONFIG = "/etc/loopd/loopd.yaml"


def readme_install_commands(readme):
    """The command lines of the sh block after "To install" in README.md."""
    m = re.search(r"^To install\b.*?^```sh\n(.*?)^```", readme,
                  re.S | re.M)
    if m is None:
        raise AssertionError("README.md has no ```sh block after "
                             "\"To install\"")
    return [ln.strip() for ln in m.group(1).splitlines()
            if ln.strip() and not ln.lstrip().startswith("#")]


def tests_plugin_names(source):
    """Every plugin built from tests/: the files and the CMake calls."""
    names = set()
    pdir = os.path.join(source, "tests", "plugins")
    for name in os.listdir(pdir):
        if name.endswith(".c"):
            names.add(name[:-2])
    with open(os.path.join(source, "tests", "CMakeLists.txt")) as f:
        names.update(re.findall(r"loopd_test_plugin\(\s*([A-Za-z0-9_-]+)",
                                f.read()))
    return names


def ignore_builds(directory, names):
    """copytree's ignore: VCS files, caches, and every CMake build dir."""
    out = set()
    for name in names:
        path = os.path.join(directory, name)
        if name in (".git", "__pycache__", ".tools") or (
                os.path.isdir(path) and
                os.path.exists(os.path.join(path, "CMakeCache.txt"))):
            out.add(name)
    return out


def multiarch_libdir():
    """lib/<multiarch> where the compiler has a multiarch tuple, else None."""
    cc = shutil.which("cc")
    if cc is None:
        return None
    p = subprocess.run([cc, "-print-multiarch"], capture_output=True,
                       text=True, timeout=60)
    tuple_ = p.stdout.strip() if p.returncode == 0 else ""
    return "lib/" + tuple_ if tuple_ else None


def cache_value(build, name):
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        for ln in f:
            if ln.startswith(name + ":"):
                return ln.split("=", 1)[1].strip()
    raise AssertionError("%s is not in the CMake cache" % name)


class InstallTest(unittest.TestCase):

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if os.environ.get("LOOPD_SANITIZE"):
            # The install builds a plain tree of its own whatever this
            # build's variant is: once, in the plain variant, is enough.
            raise unittest.SkipTest("runs in the plain (unsanitized) build")
        source = env("LOOPD_SOURCE_DIR")
        cls.tmp = tempfile.mkdtemp(prefix="loopd-install-")
        try:
            cls._install(source)
        except BaseException:
            shutil.rmtree(cls.tmp, True)
            raise

    @classmethod
    def _install(cls, source):
        with open(os.path.join(source, "README.md")) as f:
            cls.commands = readme_install_commands(f.read())
        cls.src = os.path.join(cls.tmp, "src")
        cls.root = os.path.join(cls.tmp, "root")
        shutil.copytree(source, cls.src, symlinks=True, ignore=ignore_builds)
        cls.env = dict(os.environ, DESTDIR=cls.root,
                       CMAKE_BUILD_PARALLEL_LEVEL="2")
        cls.env.pop("MAKEFLAGS", None)
        cls.test_plugins = tests_plugin_names(source)
        cls.source = source
        # As tools/run leaves it: the build dir configured for the
        # default prefix, before the README's commands re-configure it.
        cls.call(["cmake", "-S", ".", "-B", "build",
                 "-DCMAKE_BUILD_TYPE=RelWithDebInfo"])
        cls.default_prefix = cache_value(os.path.join(cls.src, "build"),
                                         "CMAKE_INSTALL_PREFIX")
        unit = os.path.join(cls.src, "build", "systemd", "loopd.service")
        cls.default_unit = None
        if os.path.exists(unit):
            with open(unit) as f:
                cls.default_unit = f.read()
        for cmd in cls.commands:
            cls.call(["sh", "-ec", cmd])
        cls.build = os.path.join(cls.src, "build")
        libdir = multiarch_libdir() or cache_value(cls.build,
                                                   "CMAKE_INSTALL_LIBDIR")
        cls.libdir = PREFIX + "/" + libdir
        cls.plugindir = cls.libdir + "/loopd/plugins"
        cls.first_config = None
        if os.path.exists(cls.path(CONFIG)):
            with open(cls.path(CONFIG)) as f:
                cls.first_config = f.read()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    @classmethod
    def call(cls, argv):
        p = subprocess.run(argv, cwd=cls.src, env=cls.env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=BUILD_TIMEOUT)
        if p.returncode != 0:
            raise AssertionError("%s: exit status %d\n%s"
                                 % (" ".join(argv), p.returncode, p.stdout))
        return p.stdout

    @classmethod
    def path(cls, installed):
        """Where an installed absolute path is below DESTDIR."""
        return os.path.join(cls.root, installed.lstrip("/"))

    def installed_files(self):
        out = []
        for d, _, files in os.walk(self.root):
            for name in files:
                out.append("/" + os.path.relpath(os.path.join(d, name),
                                                 self.root))
        return sorted(out)

    def test_readme_commands(self):
        self.assertNotEqual(self.default_prefix, PREFIX,
                            "the first configure must use another prefix")
        joined = "\n".join(self.commands)
        self.assertIn("-DCMAKE_INSTALL_PREFIX=" + PREFIX, joined)
        self.assertIn("cmake --install build", joined)

    def test_files(self):
        files = self.installed_files()
        for want in (PREFIX + "/sbin/loopd", CONFIG,
                     self.plugindir + "/echo.so",
                     self.plugindir + "/ticker.so",
                     PREFIX + "/include/loopd/plugin.h",
                     self.libdir + "/pkgconfig/loopd-plugin.pc",
                     PREFIX + "/lib/systemd/system/loopd.service",
                     PREFIX + "/share/man/man8/loopd.8.gz",
                     PREFIX + "/share/man/man5/loopd.yaml.5.gz",
                     PREFIX + "/sbin/loopctl",
                     PREFIX + "/share/man/man8/loopctl.8.gz"):
            self.assertIn(want, files)
        with open(os.path.join(self.source, "conf", "loopd.yaml")) as f:
            self.assertEqual(self.first_config, f.read())
        self.assertFalse([f for f in files if f.startswith("/usr/etc/")],
                         "configuration below the prefix, not in /etc")
        for f in files:
            self.assertTrue(f.startswith((PREFIX + "/", "/etc/")), f)
            if f.endswith(".so"):
                self.assertEqual(os.path.dirname(f), self.plugindir, f)
        self.assertTrue(self.test_plugins >= {"failer", "crasher"},
                        self.test_plugins)
        for f in files:
            stem = os.path.basename(f).split(".")[0]
            self.assertNotIn(stem, self.test_plugins,
                             "test plugin installed: " + f)

    def test_help_names_installed_paths(self):
        p = subprocess.run([self.path(PREFIX + "/sbin/loopd"), "--help"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("(default %s)" % CONFIG, p.stdout)
        self.assertIn("(default %s)" % self.plugindir, p.stdout)

    def test_installed_config_checks(self):
        p = subprocess.run([self.path(PREFIX + "/sbin/loopd"),
                            "--plugin-dir", self.path(self.plugindir),
                            "--check-config", self.path(CONFIG)],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("does not exist", p.stderr)

    def test_unit_follows_prefix(self):
        # The unit the build generates names the configured paths: here
        # those of the first, default-prefix configure.
        self.assertIsNotNone(self.default_unit,
                             "the build does not generate loopd.service")
        pre = re.escape(self.default_prefix)
        self.assertRegex(self.default_unit, r"(?m)^ExecStart=%s/sbin/loopd "
                         r"--config %s/etc/loopd/loopd.yaml$" % (pre, pre))

    def test_pkg_config(self):
        with open(self.path(self.libdir + "/pkgconfig/loopd-plugin.pc")) as f:
            pc = f.read()
        self.assertRegex(pc, r"(?m)^Requires:.*\blibevent\b")
        self.assertRegex(pc, r"(?m)^plugindir=%s$" % re.escape(self.plugindir))
        self.assertRegex(pc, r"(?m)^includedir=%s/include$" % PREFIX)
        pkgconf = shutil.which("pkg-config")
        if pkgconf is None:
            return
        e = dict(os.environ,
                 PKG_CONFIG_PATH=self.path(self.libdir + "/pkgconfig"))
        p = subprocess.run([pkgconf, "--print-requires", "loopd-plugin"],
                           env=e, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^libevent\b")

    def test_unit(self):
        with open(self.path(PREFIX + "/lib/systemd/system/"
                            "loopd.service")) as f:
            unit = f.read()
        self.assertRegex(unit, r"(?m)^ExecStart=%s/sbin/loopd --config %s$"
                         % (PREFIX, re.escape(CONFIG)))
        self.assertRegex(unit, r"(?m)^ExecStartPre=%s/sbin/loopd "
                         r"--check-config %s$" % (PREFIX, re.escape(CONFIG)))
        # @VAR@ placeholders; @system-service is a systemd syscall set.
        self.assertNotRegex(unit, r"@[A-Za-z_]+@",
                            "a placeholder was left in the unit")
        self.assertRegex(unit, r"(?m)^ExecReload=%s/sbin/loopctl --config "
                         r"%s reload --wait$" % (PREFIX, CONFIG))
        tool = shutil.which("systemd-analyze")
        if tool is None:
            self.skipTest("systemd-analyze is not installed")
        # Verify the installed unit against the staged tree: the staged
        # binary for ExecStart, the staged man page for Documentation=.
        staged = os.path.join(self.tmp, "verify", "loopd.service")
        os.makedirs(os.path.dirname(staged), exist_ok=True)
        with open(staged, "w") as f:
            f.write(unit.replace(PREFIX + "/sbin/",
                                 self.path(PREFIX + "/sbin/")))
        e = dict(os.environ, MANPATH=self.path(PREFIX + "/share/man"))
        args = [tool, "verify"]
        if not shutil.which("man"):
            args.append("--man=no")
        p = subprocess.run(args + [staged], env=e, cwd=self.tmp,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, "systemd-analyze verify:\n%s%s"
                         % (p.stdout, p.stderr))
        self.assertNotIn("loopd.service:", p.stderr,
                         "systemd-analyze warns about the unit")

    def test_reinstall_keeps_edited_config(self):
        self.assertIsNotNone(self.first_config, CONFIG + " not installed")
        config = self.path(CONFIG)
        edited = self.first_config + "# edited by the administrator\n"
        with open(config, "w") as f:
            f.write(edited)
        install = [c for c in self.commands if c.startswith("cmake --install")]
        self.assertEqual(len(install), 1, self.commands)
        out = self.call(["sh", "-ec", install[0]])
        with open(config) as f:
            self.assertEqual(f.read(), edited)
        self.assertRegex(out, r"Keeping: .*%s" % re.escape(CONFIG))
        # The rest is installed as before.
        self.assertIn(self.path(PREFIX + "/sbin/loopd"), out)


if __name__ == "__main__":
    unittest.main()
