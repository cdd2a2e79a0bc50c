#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The front ends (cli/) and the tools (tools/) are thin: of core/ they
include only the library's interface headers, and those include no other
header of core/, so nothing internal reaches a front end even indirectly
(docs/hacking.md, "Which way dependencies run").

    front-end-includes.py SOURCE_ROOT

TAP output; exits 1 on any other include of core/.
"""
import os
import re
import sys

# The library's interface for front ends and tools; machine-config.h is
# part of it through vm.h.
INTERFACE = {"core/modules.h", "core/vm.h", "core/inspect.h",
             "core/machine-config.h"}


def sources(root, folder):
    for dirpath, _, files in os.walk(os.path.join(root, folder)):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                yield os.path.join(dirpath, f)


def main():
    root = sys.argv[1]
    results = []
    for folder in ("cli", "tools"):
        bad = [f"{os.path.relpath(path, root)} includes {inc}"
               for path in sources(root, folder)
               for inc in re.findall(r'^#include "(core/[^"]+)"',
                                     open(path).read(), re.M)
               if inc not in INTERFACE]
        results.append((f"{folder}/ includes of core/ only its interface "
                        f"headers", bad))
    leaks = [f"{h} includes core/{inc}"
             for h in sorted(INTERFACE)
             for inc in re.findall(r'^#include "([^"/]+\.h)"',
                                   open(os.path.join(root, h)).read(), re.M)
             if f"core/{inc}" not in INTERFACE]
    results.append(("the interface headers include only each other", leaks))
    print(f"1..{len(results)}")
    for n, (what, bad) in enumerate(results, 1):
        print(f"{'not ok' if bad else 'ok'} {n} - {what}")
        for b in bad:
            print("#   " + b)
    return 1 if any(bad for _, bad in results) else 0


if __name__ == "__main__":
    sys.exit(main())
