#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The front ends (cli/) and the tools (tools/) are thin: of core/ they
include only the library's interface headers (docs/hacking.md, "The
library's interface"); everything else in core/ is internal to it.

    front-end-includes.py SOURCE_ROOT

TAP output; exits 1 on any other include of core/.
"""
import os
import re
import sys

# The library's interface for front ends and tools.
INTERFACE = {"core/modules.h", "core/vm.h", "core/inspect.h"}


def sources(root, folder):
    for dirpath, _, files in os.walk(os.path.join(root, folder)):
        for f in sorted(files):
            if f.endswith((".c", ".h")):
                yield os.path.join(dirpath, f)


def main():
    root = sys.argv[1]
    folders = ("cli", "tools")
    print(f"1..{len(folders)}")
    failed = 0
    for n, folder in enumerate(folders, 1):
        bad = [f"{os.path.relpath(path, root)} includes {inc}"
               for path in sources(root, folder)
               for inc in re.findall(r'^#include "(core/[^"]+)"',
                                     open(path).read(), re.M)
               if inc not in INTERFACE]
        print(f"{'not ok' if bad else 'ok'} {n} - {folder}/ includes of "
              f"core/ only its interface headers")
        for b in bad:
            print("#   " + b)
        failed |= bool(bad)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
