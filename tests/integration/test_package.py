"""The Debian packages: `cpack -G DEB` in a copy of the source tree.

A fresh copy is configured for /usr (with the tests, so that a test plugin
that lost its NO_INSTALL would show), built (-j2) and packed once; every
test looks at the two .deb files: their file lists (`dpkg-deb -c`), the
conffiles and maintainer scripts (`dpkg-deb -I`, `-e`), the files
themselves (`dpkg-deb -x`), lintian's verdict, and what the maintainer
scripts do, run against stand-ins for deb-systemd-helper and systemctl.
"""

import glob
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from loopd_harness import env
from test_install import (cache_value, ignore_builds, multiarch_libdir,
                          tests_plugin_names)

BUILD_TIMEOUT = 900
CONFIG = "/etc/loopd/loopd.yaml"
# Programs of the loopd package besides loopd itself, each expected (with
# its man page in section 8) when the source tree builds it.
EXTRA_PROGRAMS = ("loopctl",)
# Lintian warnings the README explains; any other warning or error fails.
LINTIAN_ALLOWED = ()


def deb_list(deb):
    """dpkg-deb -c: the absolute paths, directories ending with /."""
    out = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    paths = []
    for ln in out.splitlines():
        name = ln.split(None, 5)[5].split(" -> ")[0]
        paths.append(name[1:] if name.startswith("./") else name)
    return paths


def builds_program(source, name):
    """True when some CMakeLists.txt of the tree adds executable NAME."""
    pat = re.compile(r"add_executable\(\s*%s\b" % re.escape(name))
    for path in glob.glob(os.path.join(source, "**", "CMakeLists.txt"),
                          recursive=True):
        with open(path) as f:
            if pat.search(f.read()):
                return True
    return False


class PackageTest(unittest.TestCase):

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if os.environ.get("LOOPD_SANITIZE"):
            raise unittest.SkipTest("runs in the plain (unsanitized) build")
        for tool in ("cpack", "dpkg-deb"):
            if shutil.which(tool) is None:
                raise unittest.SkipTest(tool + " is not installed")
        cls.source = env("LOOPD_SOURCE_DIR")
        cls.tmp = tempfile.mkdtemp(prefix="loopd-package-")
        try:
            cls._build()
        except BaseException:
            shutil.rmtree(cls.tmp, True)
            raise

    @classmethod
    def _build(cls):
        src = os.path.join(cls.tmp, "src")
        shutil.copytree(cls.source, src, symlinks=True, ignore=ignore_builds)
        build = os.path.join(cls.tmp, "build")
        e = dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL="2")
        e.pop("MAKEFLAGS", None)
        e.pop("DESTDIR", None)
        for argv in (["cmake", "-S", src, "-B", build,
                      "-DCMAKE_INSTALL_PREFIX=/usr",
                      "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                      "-DBUILD_TESTING=ON"],
                     ["cmake", "--build", build, "-j2"],
                     ["cpack", "-G", "DEB"]):
            p = subprocess.run(argv, cwd=build if argv[0] == "cpack" else src,
                               env=e, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               timeout=BUILD_TIMEOUT)
            if p.returncode != 0:
                raise AssertionError("%s: exit status %d\n%s" % (
                    " ".join(argv), p.returncode, p.stdout))
        cls.debs = {}
        for name in ("loopd", "loopd-dev"):
            found = glob.glob(os.path.join(build, name + "_*.deb"))
            if len(found) != 1:
                raise AssertionError("%s: %r" % (name, found))
            cls.debs[name] = found[0]
        cls.files = {n: deb_list(d) for n, d in cls.debs.items()}
        libdir = multiarch_libdir() or cache_value(build,
                                                   "CMAKE_INSTALL_LIBDIR")
        cls.libdir = "/usr/" + libdir
        cls.plugindir = cls.libdir + "/loopd/plugins"
        cls.root = os.path.join(cls.tmp, "root")
        for deb in cls.debs.values():
            subprocess.run(["dpkg-deb", "-x", deb, cls.root], check=True,
                           timeout=60)
        cls.programs = [p for p in EXTRA_PROGRAMS
                        if builds_program(cls.source, p)]

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, True)

    def path(self, installed):
        return os.path.join(self.root, installed.lstrip("/"))

    def control(self, name):
        d = os.path.join(self.tmp, "control-" + name)
        if not os.path.isdir(d):
            subprocess.run(["dpkg-deb", "-e", self.debs[name], d],
                           check=True, timeout=60)
        return d

    def test_loopd_files(self):
        files = set(self.files["loopd"])
        want = {"/usr/sbin/loopd", CONFIG, "/etc/loopd/conf.d/",
                self.plugindir + "/echo.so", self.plugindir + "/ticker.so",
                "/usr/lib/systemd/system/loopd.service",
                "/usr/share/man/man8/loopd.8.gz",
                "/usr/share/man/man5/loopd.yaml.5.gz",
                "/usr/share/doc/loopd/copyright",
                "/usr/share/doc/loopd/changelog.gz"}
        for prog in self.programs:
            want.add("/usr/share/man/man8/%s.8.gz" % prog)
            self.assertTrue([f for f in files
                             if re.fullmatch(r"/usr/s?bin/%s" % prog, f)],
                            prog + " is built but not packaged")
        self.assertLessEqual(want, files)
        for f in files:
            self.assertTrue(f.startswith(("/usr/", "/etc/")), f)
            self.assertFalse(f.startswith(("/usr/include/",
                                           "/usr/share/man/man3/")), f)
            self.assertNotIn("pkgconfig", f)
        plugins = sorted(f for f in files if f.endswith(".so"))
        self.assertEqual(plugins, [self.plugindir + "/echo.so",
                                   self.plugindir + "/ticker.so"])
        # conf.d is shipped empty.
        self.assertEqual(sorted(f for f in files if f.startswith("/etc/")),
                         ["/etc/", "/etc/loopd/", "/etc/loopd/conf.d/",
                          CONFIG])

    def test_dev_files(self):
        files = set(self.files["loopd-dev"])
        doc = "/usr/share/doc/loopd-dev/"
        self.assertLessEqual({
            "/usr/include/loopd/plugin.h",
            self.libdir + "/pkgconfig/loopd-plugin.pc",
            "/usr/share/man/man3/loopd-plugin.3.gz",
            doc + "plugin-guide.md", doc + "examples/ticker.c",
            doc + "examples/echo.c", doc + "copyright",
            doc + "changelog.gz"}, files)
        for f in files:
            self.assertFalse(f.endswith(".so") or "/sbin/" in f
                             or f.startswith("/etc/"), f)
        with open(self.path(doc + "plugin-guide.md")) as f:
            guide = f.read()
        self.assertTrue(guide.startswith("# Writing a loopd plugin\n"))
        self.assertIn("LOOPD_PLUGIN(", guide)
        self.assertNotIn("\n## Tests and benchmarks", guide)

    def test_no_test_plugin(self):
        test_plugins = tests_plugin_names(self.source)
        self.assertTrue(test_plugins >= {"failer", "crasher"}, test_plugins)
        for name, files in self.files.items():
            for f in files:
                if f.endswith(".so"):
                    stem = os.path.basename(f)[:-3]
                    self.assertNotIn(stem, test_plugins | {"resolver"},
                                     "%s ships %s" % (name, f))

    def test_conffile(self):
        info = subprocess.run(["dpkg-deb", "-I", self.debs["loopd"]],
                              capture_output=True, text=True, check=True,
                              timeout=60).stdout
        self.assertRegex(info, r"(?m)^\s+\d+ bytes,\s+\d+ lines\s+conffiles")
        with open(os.path.join(self.control("loopd"), "conffiles")) as f:
            self.assertEqual(f.read().split(), [CONFIG])
        with open(os.path.join(self.source, "conf", "loopd.yaml")) as f:
            example = f.read()
        with open(self.path(CONFIG)) as f:
            self.assertEqual(f.read(), example)
        self.assertFalse(os.path.exists(os.path.join(
            self.control("loopd-dev"), "conffiles")))

    def test_packaged_config_checks(self):
        p = subprocess.run([self.path("/usr/sbin/loopd"), "--plugin-dir",
                            self.path(self.plugindir), "--check-config",
                            self.path(CONFIG)],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("does not exist", p.stderr)

    def test_control(self):
        def field(name, key):
            return subprocess.run(["dpkg-deb", "-f", self.debs[name], key],
                                  capture_output=True, text=True, check=True,
                                  timeout=60).stdout.strip()
        self.assertRegex(field("loopd", "Depends"), r"\blibevent-2\.1")
        # Opened with dlopen() for backtraces: not found by shlibdeps.
        self.assertRegex(field("loopd", "Recommends"), r"\blibdw1\b")
        self.assertRegex(field("loopd-dev", "Depends"),
                         r"\bloopd \(= [0-9.]+\)")
        self.assertEqual(field("loopd", "Section"), "admin")
        self.assertEqual(field("loopd-dev", "Section"), "devel")
        d = self.control("loopd")
        for script in ("postinst", "prerm", "postrm"):
            mode = os.stat(os.path.join(d, script)).st_mode
            self.assertEqual(mode & 0o777, 0o755, script)

    def test_man_pages_render(self):
        man = shutil.which("man")
        if man is None:
            self.skipTest("man is not installed")
        pages = [f for files in self.files.values() for f in files
                 if f.startswith("/usr/share/man/") and f.endswith(".gz")]
        self.assertGreaterEqual(len(pages), 3, pages)
        e = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        for page in pages:
            p = subprocess.run([man, "-l", self.path(page)], env=e,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, page + ": " + p.stderr)
            self.assertIn("NAME", p.stdout, page)
            self.assertNotIn("warning", p.stderr, page)
        # `man loopd.yaml` finds the page where the package puts it.
        e["MANPATH"] = self.path("/usr/share/man")
        p = subprocess.run([man, "-w", "loopd.yaml"], env=e,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(),
                         self.path("/usr/share/man/man5/loopd.yaml.5.gz"))

    def test_lintian(self):
        lintian = shutil.which("lintian")
        if lintian is None:
            self.skipTest("lintian is not installed (tools/deps installs it)")
        p = subprocess.run([lintian, "--no-tag-display-limit"] +
                           sorted(self.debs.values()),
                           capture_output=True, text=True, timeout=600)
        tags = [ln for ln in p.stdout.splitlines()
                if re.match(r"^[EW]: ", ln)]
        bad = [t for t in tags
               if not any(" %s " % a in t + " " for a in LINTIAN_ALLOWED)]
        self.assertEqual(bad, [], p.stdout + p.stderr)

    # ---- the maintainer scripts, against stand-ins ----------------------

    def run_script(self, script, args, systemd, setup=""):
        """Run a maintainer script in a mount namespace of its own, with
        /run (and /var/lib, /var/log, /var/cache) on fresh tmpfs, so that
        /run/systemd/system exists only when `systemd` says so and nothing
        of the machine's is touched; deb-systemd-helper, deb-systemd-invoke
        and systemctl are stand-ins that log their arguments."""
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            self.skipTest("needs root and unshare(1) for a mount namespace")
        fake = os.path.join(self.tmp, "fake-" + script)
        shutil.rmtree(fake, True)
        os.makedirs(fake)
        calls = os.path.join(fake, "calls")
        for tool in ("deb-systemd-helper", "deb-systemd-invoke",
                     "systemctl"):
            with open(os.path.join(fake, tool), "w") as f:
                f.write('#!/bin/sh\necho "%s $*" >> %s\n' % (tool, calls))
            os.chmod(os.path.join(fake, tool), 0o755)
        sh = "\n".join([
            "set -e",
            "for d in /run /var/lib /var/log /var/cache; do",
            "  mount -t tmpfs tmpfs $d",
            "done",
            "mkdir -p /run/systemd/system" if systemd else ":",
            setup,
            'PATH="%s:$PATH" sh -e "$0" "$@"' % fake,
            "for d in /var/lib/loopd /var/lib/private/loopd /var/log/loopd;"
            " do [ -e $d ] && echo \"left: $d\"; done; true"])
        p = subprocess.run(["unshare", "--mount", "--propagation", "private",
                            "sh", "-c", sh,
                            os.path.join(self.control("loopd"), script)]
                           + args, capture_output=True, text=True,
                           timeout=60)
        if p.returncode != 0 and "unshare failed" in p.stderr:
            self.skipTest("no mount namespace here: " + p.stderr)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        out = []
        if os.path.exists(calls):
            with open(calls) as f:
                out = f.read().splitlines()
        return out, p.stdout

    def test_postinst_enables_and_starts(self):
        calls, _ = self.run_script("postinst", ["configure"], systemd=True)
        self.assertIn("deb-systemd-helper enable loopd.service", calls)
        self.assertIn("systemctl --system daemon-reload", calls)
        self.assertEqual(calls[-1], "deb-systemd-invoke start loopd.service")
        # An upgrade restarts it.
        calls, _ = self.run_script("postinst", ["configure", "0.0.9"],
                                   systemd=True)
        self.assertEqual(calls[-1],
                         "deb-systemd-invoke restart loopd.service")

    def test_postinst_without_systemd(self):
        calls, _ = self.run_script("postinst", ["configure"], systemd=False)
        self.assertIn("deb-systemd-helper enable loopd.service", calls)
        self.assertFalse([c for c in calls if "invoke" in c or
                          c.startswith("systemctl")], calls)

    def test_prerm_stops(self):
        calls, _ = self.run_script("prerm", ["remove"], systemd=True)
        self.assertEqual(calls, ["deb-systemd-invoke stop loopd.service"])
        calls, _ = self.run_script("prerm", ["upgrade", "0.2.0"],
                                   systemd=True)
        self.assertEqual(calls, [])

    def test_postrm_purge_removes_state(self):
        setup = ("mkdir -p /var/lib/loopd /var/lib/private/loopd "
                 "/var/log/loopd && touch /var/lib/loopd/state")
        calls, out = self.run_script("postrm", ["purge"], systemd=True,
                                     setup=setup)
        self.assertIn("deb-systemd-helper purge loopd.service", calls)
        self.assertNotIn("left:", out)
        # A plain remove keeps the state.
        calls, out = self.run_script("postrm", ["remove"], systemd=True,
                                     setup=setup)
        self.assertIn("deb-systemd-helper mask loopd.service", calls)
        self.assertIn("left: /var/lib/loopd", out)


if __name__ == "__main__":
    unittest.main()
