#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The tests, benchmarks and scripts leave other people's processes and
files alone: none kills processes by name (pkill, killall: they would end
an operator's guests or another test run), and none writes a fixed name
in the shared temporary folder (two runs would overwrite each other's
files). Each kills what it started, by pid or process group, and writes
in a directory of its own (mktemp -d, tempfile.TemporaryDirectory).

    test-scripts-own-processes.py SOURCE_ROOT

TAP output; each offending line is printed with its file and number.
"""
import os
import re
import sys

FOLDERS = ("tests", "bench", "scripts")
SUFFIXES = (".py", ".sh", ".c", ".h", ".build", "run")
KILL_BY_NAME = re.compile(r"\b(pkill|killall)\b")
# A fixed name under /tmp: "/tmp/" followed by a name that is not a
# mktemp/mkdtemp template (ending in XXXXXX). /tmp inside the nested test
# VM (a tmpfs of its own) is allowed where the line says "in L1".
FIXED_TMP = re.compile(r"/tmp/(?![A-Za-z0-9._-]*XXXXXX)[A-Za-z0-9$._{}-]+")


def offending(root):
    me = os.path.abspath(__file__)
    for folder in FOLDERS:
        for top, dirs, files in os.walk(os.path.join(root, folder)):
            dirs.sort()
            for f in sorted(files):
                path = os.path.join(top, f)
                if not f.endswith(SUFFIXES) or os.path.abspath(path) == me:
                    continue
                try:
                    text = open(path, encoding="utf-8").read()
                except UnicodeDecodeError:
                    continue
                for n, line in enumerate(text.splitlines(), 1):
                    rel = os.path.relpath(path, root)
                    if KILL_BY_NAME.search(line):
                        yield f"{rel}:{n}: kills by name: {line.strip()}"
                    if FIXED_TMP.search(line) and "in L1" not in line:
                        yield f"{rel}:{n}: fixed name in /tmp: {line.strip()}"


def main():
    bad = list(offending(sys.argv[1]))
    print("1..1")
    for b in bad:
        print(f"# {b}")
    print(("ok" if not bad else "not ok") +
          " 1 - tests, bench and scripts kill only their own processes "
          "and write only in their own temporary directories")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
