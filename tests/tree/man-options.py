#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Each man page lists the options its binary's --help lists, and no
other, so the two cannot drift apart.

    man-options.py SOURCE_ROOT MODVMM MODVMM_MODINFO MODVMM_VMSTATE MODVMM_STREAM

The commands come from the binaries: each --help's "Commands:" list and
its usage lines ("Usage: modvmm compat manifest ...") name the commands
whose --help is run in turn. A page marks where a command's options are
listed with a comment line "; help: modvmm compat check --help"; until the
next such line, each definition (a line "*-s*, *--source*=_M_" or
"*--machine*=_TYPE_" followed by an indented description) is one of that
command's options. For every command:

- the page has its "; help:" line;
- every option the page defines there is in the command's --help, with
  the same short form;
- every long option its --help names is defined there or under one of
  its own commands (modvmm compat --help names --source: compat check
  defines it).

And every --option a page names anywhere is one some --help names.
--help itself is left out: every command has it. TAP output; exits 1 on
any difference.
"""
import os
import re
import subprocess
import sys

LONG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")
HELP_PAIR = re.compile(r"^\s+-(\w), --([a-z][a-z0-9-]*)", re.M)
PAGE_DEF = re.compile(r"^\*(?:-(\w)\*, \*)?--([a-z][a-z0-9-]*)\*")
ANNOTATION = re.compile(r"^; help: (.*) --help$")


def help_text(binary, words):
    cmd = [binary] + words + ["--help"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit status {p.returncode}: "
                           f"{p.stderr.strip()}")
    return p.stdout


def subcommands(prog, words, text):
    """The commands a --help names below `words`."""
    found = []
    block = re.search(r"^Commands:\n((?:  \S.*\n)+)", text, re.M)
    if block:
        found += re.findall(r"^  ([a-z][a-z-]*)\s", block.group(1), re.M)
    lead = re.escape(" ".join([prog] + words))
    found += re.findall(rf"^(?:Usage:)?\s*{lead} ([a-z][a-z-]*)\b", text,
                        re.M)
    return list(dict.fromkeys(found))


def commands(binary):
    """{"modvmm compat check": (long options, {long: short})} of a binary,
    its own --help first."""
    prog = os.path.basename(binary)
    out, pending = {}, [[]]
    while pending:
        words = pending.pop(0)
        text = help_text(binary, words)
        opts = set(LONG.findall(text)) - {"help"}
        pairs = {long: short for short, long in HELP_PAIR.findall(text)}
        out[" ".join([prog] + words)] = (opts, pairs)
        if len(words) < 2:
            pending += [words + [c] for c in subcommands(prog, words, text)]
    return out


def page_scopes(path):
    """{"modvmm compat check": {long: short or ""}} as the page defines
    them, and the page's text without its comments and examples."""
    scopes, current, text, literal = {}, None, [], False
    lines = open(path).read().split("\n")
    for i, line in enumerate(lines):
        # Literal blocks are examples: pkg-config --cflags is no option of
        # ours.
        if line.startswith("```"):
            literal = not literal
        if literal:
            continue
        m = ANNOTATION.match(line)
        if m:
            current = m.group(1)
            scopes.setdefault(current, {})
            continue
        if line.startswith(";"):
            continue
        text.append(line)
        m = PAGE_DEF.match(line)
        described = i + 1 < len(lines) and lines[i + 1].startswith("\t")
        if m and described and current is not None:
            scopes[current][m.group(2)] = m.group(1) or ""
    return scopes, "\n".join(text)


def check_page(page, cmds, known):
    scopes, text = page_scopes(page)
    name = os.path.basename(page)
    bad = []
    for cmd, (opts, pairs) in cmds.items():
        if cmd not in scopes:
            bad.append(f"{name}: no '; help: {cmd} --help' section")
            continue
        for long, short in scopes[cmd].items():
            if long == "help":
                continue
            if long not in opts:
                bad.append(f"{name}: {cmd}: --{long} is not in its --help")
            elif long in pairs and pairs[long] != short:
                bad.append(f"{name}: {cmd}: --{long}: short form "
                           f"'-{short}' here, '-{pairs[long]}' in --help")
        below = set()
        for other, defs in scopes.items():
            if (other + " ").startswith(cmd + " "):
                below |= set(defs)
        for long in sorted(opts - below):
            bad.append(f"{name}: {cmd} --help lists --{long}, the page "
                       "does not")
    for cmd in scopes:
        if cmd not in cmds:
            bad.append(f"{name}: '; help: {cmd} --help' names no command "
                       "that exists")
    for long in sorted(set(LONG.findall(text)) - known - {"help"}):
        bad.append(f"{name}: names --{long}, which no --help lists")
    return bad


def main():
    root, binaries = sys.argv[1], sys.argv[2:]
    mandir = os.path.join(root, "docs", "man")
    every = {os.path.basename(b): commands(b) for b in binaries}
    known = {long for cmds in every.values()
             for opts, _ in cmds.values() for long in opts}
    results = []
    for prog, cmds in every.items():
        page = os.path.join(mandir, prog + ".1.scd")
        results.append((f"{prog}.1 lists the options of {len(cmds)} "
                        "--help outputs", check_page(page, cmds, known)))
    # The vendors' page lists no command: it may only name real options.
    page = os.path.join(mandir, "modvmm-module.7.scd")
    results.append(("modvmm-module.7 names only existing options",
                    check_page(page, {}, known)))
    print(f"1..{len(results)}")
    failed = 0
    for n, (what, bad) in enumerate(results, 1):
        print(f"{'not ok' if bad else 'ok'} {n} - {what}")
        for b in bad:
            print(f"# {b}")
        failed += bool(bad)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
