#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Proves the ABI gate can fail: each case edits a copy of the SDK headers,
builds the ABI probe against it, and runs the gate. TAP output.

    test-abi-gate.py SOURCE_ROOT CC
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

src, cc = sys.argv[1], sys.argv[2]
gate = os.path.join(src, "tests", "abi", "abi-gate.py")
probe_c = os.path.join(src, "abi", "abi-probe.c")
n = 0
failed = 0
# Cases are relative to the version the headers claim now.
_abi = open(os.path.join(src, "abi", "include", "modvmm", "abi.h")).read()
MAJOR = int(re.search(r"#define MODVMM_ABI_MAJOR (\d+)", _abi).group(1))
MINOR = int(re.search(r"#define MODVMM_ABI_MINOR (\d+)", _abi).group(1))
CUR = f"{MAJOR}.{MINOR}"
NEXT = f"{MAJOR}.{MINOR + 1}"


def edit(root, header, old, new):
    path = os.path.join(root, "include", "modvmm", header)
    text = open(path).read()
    assert old in text, f"{header}: '{old}' not found"
    open(path, "w").write(text.replace(old, new, 1))


def bump(root):
    edit(root, "abi.h", f"#define MODVMM_ABI_MINOR {MINOR}",
         f"#define MODVMM_ABI_MINOR {MINOR + 1}")


def changelog(root):
    edit(root, "abi.h", f" *   {CUR}  ", f" *   {NEXT}  test: appended member\n *   {CUR}  ")


def append(root):
    edit(root, "module.h", "\tvoid (*exit)(void);\n};",
         "\tvoid (*exit)(void);\n\tuint64_t appended;\n};")


def reorder(root):
    edit(root, "device.h", "\tuint32_t instance_size;\n\tconst char *name;\n",
         "\tconst char *name;\n\tuint32_t instance_size;\n")


def resize(root):
    edit(root, "device.h", "\tuint32_t offset; /* where", "\tuint64_t offset; /* where")


def new_baseline(root):
    subprocess.run(["abidw", "--no-corpus-path", "--out-file",
                    os.path.join(root, "baseline", f"modvmm-abi-{NEXT}.xml"),
                    os.path.join(root, "probe.so")], check=True)


# name, edits before build, edits after build, expected status, texts that
# must all be in the output (the gate's verdict and abidiff's reason)
cases = [
    ("unchanged headers pass", [], [], 0, f"OK: ABI {CUR} matches"),
    ("reordered struct member fails", [reorder], [], 1,
     (f"the ABI differs from modvmm-abi-{CUR}.xml", "'uint32_t instance_size'",
      "offset changed")),
    ("resized struct member fails", [resize], [], 1,
     (f"the ABI differs from modvmm-abi-{CUR}.xml", "'uint32_t offset'",
      "uint64_t")),
    ("appended member without a bump fails", [append], [], 1,
     (f"but still claims {CUR}", "'uint64_t appended'")),
    ("bump without a changelog line fails", [append, bump], [new_baseline], 1,
     f"ABI {NEXT} has no changelog line"),
    ("bump without a baseline fails", [append, bump, changelog], [], 1,
     f"ABI {NEXT} has no baseline"),
    ("append with bump, changelog and baseline passes",
     [append, bump, changelog], [new_baseline], 0,
     (f"{NEXT} only appends to {CUR}", f"{NEXT} only appends to {MAJOR}.0")),
    ("reorder with bump, changelog and baseline fails",
     [reorder, bump, changelog], [new_baseline], 1,
     ("struct modvmm_device_type: member instance_size",
      "members may only be appended")),
]

print(f"1..{len(cases)}")
for name, before, after, status, text in cases:
    n += 1
    with tempfile.TemporaryDirectory() as root:
        shutil.copytree(os.path.join(src, "abi", "include"),
                        os.path.join(root, "include"))
        shutil.copytree(os.path.join(src, "abi", "baseline"),
                        os.path.join(root, "baseline"))
        for f in before:
            f(root)
        probe = os.path.join(root, "probe.so")
        subprocess.run([cc, "-g", "-O0", "-shared", "-fPIC",
                        "-Wl,-soname,libmodvmm-abi-probe.so", "-I",
                        os.path.join(root, "include"), "-o", probe, probe_c],
                       check=True)
        for f in after:
            f(root)
        r = subprocess.run([sys.executable, gate, probe,
                            os.path.join(root, "include"),
                            os.path.join(root, "baseline")],
                           capture_output=True, text=True)
        out = r.stdout + r.stderr
        texts = (text,) if isinstance(text, str) else text
        ok = r.returncode == status and all(t in out for t in texts)
        if not ok:
            failed += 1
            for line in out.splitlines()[-15:]:
                print(f"# {line}")
            print(f"# expected status {status} and {texts}, got {r.returncode}")
        print(f"{'ok' if ok else 'not ok'} {n} - {name}")
sys.exit(1 if failed else 0)
