"""The manual pages say what the code does, and build.

loopd.yaml(5) documents every key of the parser's own tables in
daemon/config.c (every `static const char *const NAME_keys[]`), and no
key that is not in one; loopd-plugin(3) documents every LOOPD_API
function and every LOOPD_E* code of include/loopd/plugin.h, and no
function that is not there.  The pages the build made from them render
with man(1) without a warning.
"""

import os
import re
import shutil
import subprocess
import unittest

from loopd_harness import env

# Where the keys of a table sit in loopd.yaml(5): a key K of table
# NAME_keys is documented as PARENT.K, PARENT being this (the last part of
# the path), or NAME itself for a table not listed ("restart" for
# restart_keys: loops[].restart.policy).  "" is the top level.
TABLE_PARENT = {"top": "", "fragment": "", "loop": "loops[]",
                "task": "tasks[]"}


def source(*parts):
    with open(os.path.join(env("LOOPD_SOURCE_DIR"), *parts)) as f:
        return f.read()


def config_tables(text):
    """{table name: [keys]} for every NAME_keys table of config.c."""
    tables = {}
    for m in re.finditer(r"static\s+const\s+char\s*\*\s*const\s+"
                         r"(\w+)_keys\[\]\s*=\s*\{(.*?)\};", text, re.S):
        tables[m.group(1)] = re.findall(r'"([^"]+)"', m.group(2))
    return tables


def section(page, title):
    """The text of the scdoc section `# TITLE`, up to the next one."""
    m = re.search(r"^# %s\n(.*?)(?=^# |\Z)" % re.escape(title), page,
                  re.S | re.M)
    if m is None:
        raise AssertionError("no section # %s" % title)
    return m.group(1)


def documented_keys(page):
    """The key paths of loopd.yaml(5): the *PATH* terms of # KEYS."""
    return re.findall(r"^\*([a-z_.\[\]]+)\* = ", section(page, "KEYS"),
                      re.M)


def split_path(path):
    parent, _, key = path.rpartition(".")
    return parent.rpartition(".")[2], key


def api_functions(header):
    return set(re.findall(r"LOOPD_API\s[^;{]*?\b(loopd_\w+)\s*\(", header))


class ManPagesTest(unittest.TestCase):

    maxDiff = None

    def test_tables_parsed(self):
        tables = config_tables(source("daemon", "config.c"))
        for name in ("top", "log", "loop", "task", "restart", "limits",
                     "executor"):
            self.assertIn(name, tables)
        self.assertIn("plugin_dir", tables["top"])
        self.assertIn("cpu_seconds", tables["limits"])

    def test_every_config_key_documented(self):
        tables = config_tables(source("daemon", "config.c"))
        keys = set(split_path(p)
                   for p in documented_keys(source("docs",
                                                   "loopd.yaml.5.scd")))
        missing = []
        for name, table in sorted(tables.items()):
            parent = TABLE_PARENT.get(name, name)
            for key in table:
                if (parent, key) not in keys:
                    missing.append("%s_keys: %s" % (name, key))
        self.assertEqual(missing, [], "keys the parser takes that "
                         "docs/loopd.yaml.5.scd does not document")

    def test_every_documented_key_exists(self):
        tables = config_tables(source("daemon", "config.c"))
        by_parent = {}
        for name, table in tables.items():
            by_parent.setdefault(TABLE_PARENT.get(name, name),
                                 set()).update(table)
        paths = documented_keys(source("docs", "loopd.yaml.5.scd"))
        self.assertGreater(len(paths), 30)
        unknown = [p for p in paths
                   if split_path(p)[1] not in
                   by_parent.get(split_path(p)[0], ())]
        self.assertEqual(unknown, [], "keys docs/loopd.yaml.5.scd documents "
                         "that no table of daemon/config.c has")
        self.assertEqual(len(paths), len(set(paths)), "a key twice")

    def test_every_api_function_documented(self):
        header = api_functions(source("include", "loopd", "plugin.h"))
        self.assertIn("loopd_task_done", header)
        page = source("docs", "loopd-plugin.3.scd")
        funcs = section(page, "FUNCTIONS")
        documented = set(re.findall(r"\*(loopd_\w+)\*\(", funcs))
        self.assertEqual(sorted(header - documented), [],
                         "LOOPD_API functions loopd-plugin(3) does not "
                         "document")
        self.assertEqual(sorted(documented - header), [],
                         "functions loopd-plugin(3) documents that "
                         "plugin.h does not declare")
        errors = section(page, "ERRORS")
        codes = re.findall(r"#define\s+(LOOPD_E[A-Z]+)\s",
                           source("include", "loopd", "plugin.h"))
        self.assertTrue(codes)
        self.assertEqual([c for c in codes if "*%s*" % c not in errors], [])
        for part in ("THREADS", "OWNERSHIP", "THE DESCRIPTOR"):
            section(page, part)

    def test_every_source_converts(self):
        # Also the pages of programs this tree does not build yet.
        scdoc = shutil.which("scdoc")
        if scdoc is None:
            self.skipTest("scdoc is not installed (tools/deps installs it)")
        docs = os.path.join(env("LOOPD_SOURCE_DIR"), "docs")
        names = sorted(n for n in os.listdir(docs) if n.endswith(".scd"))
        self.assertIn("loopd.yaml.5.scd", names)
        for name in names:
            with open(os.path.join(docs, name)) as f:
                p = subprocess.run([scdoc], stdin=f, capture_output=True,
                                   text=True, timeout=60)
            self.assertEqual(p.returncode, 0, name + ": " + p.stderr)

    def test_every_page_written_in_scdoc(self):
        # No hand-written roff: every page the build makes has its source
        # docs/NAME.SECTION.scd.
        build = os.path.join(env("LOOPD_BUILD_DIR"), "docs")
        with open(os.path.join(build, "pages.txt")) as f:
            pages = f.read().strip().split(";")
        docs = os.path.join(env("LOOPD_SOURCE_DIR"), "docs")
        self.assertEqual([p for p in pages
                          if not os.path.exists(os.path.join(docs,
                                                             p + ".scd"))],
                         [], "pages with no scdoc source in docs/")
        self.assertEqual([p for p in pages
                          if os.path.exists(os.path.join(docs, p))], [],
                         "roff pages left in docs/")

    def test_pages_built_and_render(self):
        build = os.path.join(env("LOOPD_BUILD_DIR"), "docs")
        with open(os.path.join(build, "pages.txt")) as f:
            pages = f.read().strip().split(";")
        for page in ("loopd.8", "loopd.yaml.5", "loopd-plugin.3"):
            self.assertIn(page, pages)
        man = shutil.which("man")
        e = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
        for page in pages:
            gz = os.path.join(build, page + ".gz")
            self.assertTrue(os.path.exists(gz), gz + " was not built")
            if man is None:
                continue
            p = subprocess.run([man, "-l", gz], env=e, capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(p.returncode, 0, page + ": " + p.stderr)
            self.assertEqual(p.stderr, "", page)
            name = page.rsplit(".", 1)[0]
            self.assertRegex(p.stdout, r"(?m)^NAME\n\s+%s " %
                             re.escape(name))


if __name__ == "__main__":
    unittest.main()
