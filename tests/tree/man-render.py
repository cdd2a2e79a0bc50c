#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Each built man page renders with man(1) without a warning from groff.

    man-render.py PAGE...

TAP output; exits 1 when a page does not render or warns.
"""
import os
import subprocess
import sys


def main():
    pages = sys.argv[1:]
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    print(f"1..{len(pages)}")
    failed = 0
    for n, page in enumerate(pages, 1):
        p = subprocess.run(["man", "--warnings", "-l", page],
                           capture_output=True, text=True, env=env,
                           timeout=60)
        bad = p.returncode != 0 or p.stderr.strip() or not p.stdout.strip()
        print(f"{'not ok' if bad else 'ok'} {n} - man -l "
              f"{os.path.basename(page)}")
        if bad:
            print(f"# exit status {p.returncode}")
            for line in p.stderr.splitlines():
                print(f"# {line}")
        failed += bool(bad)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
