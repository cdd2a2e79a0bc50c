#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Follows docs/module-guide.md literally: writes every `File X:` block,
applies every `Patch X:` block with patch(1), and runs every ```sh block,
in the order the guide has them, in one shell in an empty folder, against
an SDK installed from BUILD into a temporary root. Then checks that what
the guide says happens did happen. TAP output.

    module-guide.py BUILD_DIR SOURCE_DIR
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile

BUILD = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])


def guide_script(text):
    """The guide as one shell script, and the number of steps in it."""
    steps = []
    for m in re.finditer(r"^(?:(File|Patch) `([^`]+)`:\n\n)?```(\w*)\n(.*?)^```$",
                         text, re.M | re.S):
        kind, path, lang, body = m.groups()
        if kind == "File":
            steps.append(f"cat >{shlex.quote(path)} <<'GUIDE_EOF'\n{body}"
                         "GUIDE_EOF")
        elif kind == "Patch":
            steps.append(f"patch --no-backup-if-mismatch {shlex.quote(path)} "
                         f"<<'GUIDE_EOF'\n{body}GUIDE_EOF")
        elif lang == "sh":
            steps.append(body)
        # Other blocks (json, console) are examples, not steps.
    return "set -eu\n" + "\n".join(f"echo '## step {i}'\n{s}"
                                   for i, s in enumerate(steps, 1)), len(steps)


sdk_ok = False


def host_abi():
    """MAJOR.MINOR of the SDK in this tree: what the module was built for."""
    with open(os.path.join(SRC, "abi", "include", "modvmm", "abi.h")) as f:
        return ".".join(re.findall(r"#define MODVMM_ABI_M(?:AJ|IN)OR (\d+)",
                                   f.read()))


def main():
    global sdk_ok
    with open(os.path.join(SRC, "docs", "module-guide.md")) as f:
        script, n = guide_script(f.read())
    checks = [
        ("every step of the guide ran", lambda out, st: st == 0),
        ("the module was built against the installed SDK and loads "
         "out-of-tree",
         lambda out, st: sdk_ok and re.search(
             r"^  acme-counter +1\.0\.0 +ABI " + re.escape(host_abi()) +
             r" +out-of-tree +devices: "
             r"acme-counter$", out, re.M)),
        ("the running guest saw the hot-added device",
         lambda out, st: "hotplug: slot 0x520 id 65 value 0" in out),
        ("query-devices listed it with its state description",
         lambda out, st: re.search(r"^acme0 +acme-counter +acme-counter "
                                   r"1\.0\.0 +acme-counter@1 +port=1312$",
                                   out, re.M)),
        ("1.1.0 with the subsection is refused by 1.0.0, naming it",
         lambda out, st: "acme-counter0 (acme-counter): refused: subsection "
         "acme-counter/resets would be sent and is unknown here (not "
         "optional)" in out and "refused, exit status 1" in out),
        ("1.1.0 with resets=off, and 1.0.0 to 1.1.0, are accepted",
         lambda out, st: out.count("acme-counter0 (acme-counter): accepted "
                                   "at version 1") == 2),
        ("the guest migrated from 1.0.0 to a 1.1.0 host, which gave the "
         "new property its legacy value",
         lambda out, st: re.search(r"^migrated to unix:migrate\.sock: ", out,
                                   re.M) and re.search(
             r"^acme-counter0 +acme-counter +acme-counter 1\.1\.0 +"
             r"acme-counter@1 +port=1312,resets=off$", out, re.M)),
        ("and back to a 1.0.0 host, without the property 1.0.0 lacks",
         lambda out, st: re.search(r"^migrated to unix:back\.sock: ", out,
                                   re.M) and re.search(
             r"^acme-counter0 +acme-counter +acme-counter 1\.0\.0 +"
             r"acme-counter@1 +port=1312$", out, re.M)),
    ]
    if not os.path.exists("/dev/kvm"):
        print(f"1..0 # SKIP no /dev/kvm: the module guide runs a guest "
              f"({len(checks)} checks NOT RUN)")
        print("#" * 60 + "\n# MODULE GUIDE SKIPPED: NO /dev/kvm\n" +
              "#" * 60, file=sys.stderr)
        return 0
    print(f"1..{len(checks)}")
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild",
                        "--quiet", "--destdir", root], check=True)
        pc = subprocess.run(["find", root, "-name", "modvmm-module.pc"],
                            capture_output=True, text=True).stdout.split()
        env = dict(os.environ,
                   PKG_CONFIG_LIBDIR=os.path.dirname(pc[0]),
                   PKG_CONFIG_SYSROOT_DIR=root,
                   MODVMM_MODULES=os.path.join(BUILD, "modules"),
                   PATH=os.pathsep.join([BUILD, os.path.join(BUILD, "tools"),
                                         os.environ["PATH"]]))
        env.pop("PKG_CONFIG_PATH", None)
        work = os.path.join(tmp, "work")
        os.makedirs(work)
        try:
            r = subprocess.run(["bash", "-c", script], cwd=work, env=env,
                               capture_output=True, text=True, timeout=300)
            out, st = r.stdout + r.stderr, r.returncode
        except subprocess.TimeoutExpired as e:
            out, st = str(e.stdout or "") + "\n# timed out", -1
        cc = os.path.join(work, "acme-counter", "build",
                          "compile_commands.json")
        with open(cc) if os.path.exists(cc) else open(os.devnull) as f:
            commands = f.read()
        sdk_ok = root in commands and os.path.join(SRC, "abi") not in commands
        log = os.path.join(work, "acme-counter", "guest.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                out += "".join(l for l in f if l.startswith("hotplug"))
    failed = 0
    for i, (name, ok) in enumerate(checks, 1):
        good = bool(ok(out, st))
        failed += not good
        print(f"{'ok' if good else 'not ok'} {i} - {name}")
    if failed:
        print(f"# the guide's {n} steps printed:")
        for line in out.splitlines()[-60:]:
            print(f"#   {line}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
