#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""core/ has no include cycle: taking a file's .c and .h as one unit, no
unit includes one that includes it back, directly or through others; and
base/, compat/ and core/ include nothing of a layer above them
(docs/hacking.md).

    core-includes.py SOURCE_ROOT

Prints every cycle found and exits 1; TAP output.
"""
import os
import re
import sys


def units(folder):
    """{unit: set of units of the same folder it includes}"""
    graph = {}
    for f in sorted(os.listdir(folder)):
        if not f.endswith((".c", ".h")):
            continue
        unit = f[:-2]
        text = open(os.path.join(folder, f)).read()
        deps = graph.setdefault(unit, set())
        for inc in re.findall(r'^#include "([A-Za-z0-9_-]+)\.h"', text, re.M):
            if inc != unit and os.path.exists(os.path.join(folder, inc + ".h")):
                deps.add(inc)
    return graph


def cycles(graph):
    found, state, stack = [], {}, []

    def visit(u):
        state[u] = 1
        stack.append(u)
        for v in sorted(graph.get(u, ())):
            if state.get(v) == 1:
                found.append(stack[stack.index(v):] + [v])
            elif not state.get(v):
                visit(v)
        stack.pop()
        state[u] = 2

    for u in sorted(graph):
        if not state.get(u):
            visit(u)
    return found


def main():
    root = sys.argv[1]
    core = cycles(units(os.path.join(root, "core")))
    # Each layer includes only from itself and the layers below it.
    below = {"base": {"base"}, "compat": {"base", "compat"},
             "core": {"base", "compat", "core"}}
    upward = [f"{layer}/{f} includes {inc}"
              for layer, allowed in below.items()
              for f in sorted(os.listdir(os.path.join(root, layer)))
              if f.endswith((".c", ".h"))
              for inc in re.findall(r'^#include "(\w+)/[^"]+"',
                                    open(os.path.join(root, layer, f)).read(),
                                    re.M)
              if inc not in allowed]
    print("1..2")
    print(f"{'not ok' if core else 'ok'} 1 - core/ has no include cycle")
    for c in core:
        print("#   " + " -> ".join(c))
    print(f"{'not ok' if upward else 'ok'} 2 - base/, compat/ and core/ "
          f"include nothing of a layer above them")
    for u in upward:
        print("#   " + u)
    return 1 if core or upward else 0


if __name__ == "__main__":
    sys.exit(main())
