#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""ABI gate: the SDK's ABI must match the baseline of the version it claims.

    abi-gate.py PROBE.so INCLUDE_DIR BASELINE_DIR

PROBE.so is abi/abi-probe.c built with debug info against INCLUDE_DIR.

1. The version is read from INCLUDE_DIR/modvmm/abi.h; the changelog at the
   top of that header needs a line for it.
2. BASELINE_DIR/modvmm-abi-MAJOR.MINOR.xml must exist and abidiff against
   it must report no change at all (exit status 0).
3. Against every older baseline of the same major, each struct may only
   have grown at its end: every old member keeps its name, offset and type.

Exit status 0 when the gate passes, 1 with the reason otherwise.
"""
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET


def fail(msg):
    print(f"abi-gate: FAIL: {msg}")
    sys.exit(1)


def header_version(include_dir):
    path = os.path.join(include_dir, "modvmm", "abi.h")
    text = open(path).read()
    major = re.search(r"#define MODVMM_ABI_MAJOR (\d+)", text)
    minor = re.search(r"#define MODVMM_ABI_MINOR (\d+)", text)
    if not major or not minor:
        fail(f"{path}: no MODVMM_ABI_MAJOR/MINOR")
    version = f"{major.group(1)}.{minor.group(1)}"
    if not re.search(rf"^ \*\s+{re.escape(version)}\s+\S", text, re.M):
        fail(f"{path}: ABI {version} has no changelog line in the header comment")
    return int(major.group(1)), int(minor.group(1))


def structs(xml_path):
    """{struct name: [(member, offset in bits, canonical type)]}"""
    root = ET.parse(xml_path).getroot()
    by_id = {e.get("id"): e for e in root.iter() if e.get("id")}

    def canon(tid, depth=0):
        e = by_id.get(tid)
        if e is None or depth > 20:
            return tid or "?"
        tag = e.tag
        if tag in ("type-decl", "typedef-decl"):
            return e.get("name")
        if tag == "class-decl":
            return "struct " + (e.get("name") or "?")
        if tag == "pointer-type-def":
            return canon(e.get("type-id"), depth + 1) + "*"
        if tag == "qualified-type-def":
            return ("const " if e.get("const") == "yes" else "") + canon(
                e.get("type-id"), depth + 1)
        if tag == "array-type-def":
            return canon(e.get("element-type-id"), depth + 1) + \
                f"[{e.get('size-in-bits')}b]"
        if tag == "function-type":
            params = [canon(p.get("type-id"), depth + 1)
                      for p in e.findall("parameter")]
            ret = e.find("return")
            return "fn(" + ",".join(params) + ")->" + (
                canon(ret.get("type-id"), depth + 1) if ret is not None else "?")
        return tag
    out = {}
    for c in root.iter("class-decl"):
        if c.get("is-declaration-only") == "yes":
            continue
        members = []
        for dm in c.findall("data-member"):
            var = dm.find("var-decl")
            members.append((var.get("name"), int(dm.get("layout-offset-in-bits")),
                            canon(var.get("type-id"))))
        out[c.get("name")] = members
    return out


def abidw(probe, out):
    subprocess.run(["abidw", "--no-corpus-path", "--out-file", out, probe],
                   check=True)


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        sys.exit(2)
    probe, include_dir, baseline_dir = sys.argv[1:]
    major, minor = header_version(include_dir)
    version = f"{major}.{minor}"
    baseline = os.path.join(baseline_dir, f"modvmm-abi-{version}.xml")
    if not os.path.exists(baseline):
        fail(f"ABI {version} has no baseline {baseline}: write it with "
             f"'abidw --no-corpus-path --out-file {baseline} {probe}' "
             f"in the change that bumps the version")

    r = subprocess.run(["abidiff", baseline, probe], capture_output=True,
                       text=True)
    if r.returncode != 0:
        print(r.stdout, end="")
        print(r.stderr, end="", file=sys.stderr)
        fail(f"the ABI differs from {os.path.basename(baseline)} "
             f"(abidiff status {r.returncode}) but still claims {version}: "
             f"append members only, bump MODVMM_ABI_MINOR, add a changelog "
             f"line and a new baseline")

    with tempfile.TemporaryDirectory() as tmp:
        current_xml = os.path.join(tmp, "current.xml")
        abidw(probe, current_xml)
        current = structs(current_xml)
        for name in sorted(os.listdir(baseline_dir)):
            m = re.fullmatch(r"modvmm-abi-(\d+)\.(\d+)\.xml", name)
            if not m or int(m.group(1)) != major or int(m.group(2)) >= minor:
                continue
            for sname, old in structs(os.path.join(baseline_dir, name)).items():
                new = current.get(sname)
                if new is None:
                    fail(f"struct {sname} of ABI {m.group(1)}.{m.group(2)} "
                         f"is gone in {version}")
                for i, member in enumerate(old):
                    if i >= len(new) or new[i] != member:
                        got = new[i] if i < len(new) else "nothing"
                        fail(f"struct {sname}: member {member[0]} "
                             f"(offset {member[1]} bits, {member[2]}) of ABI "
                             f"{m.group(1)}.{m.group(2)} is {got} in {version}: "
                             f"members may only be appended")
            print(f"abi-gate: {version} only appends to "
                  f"{m.group(1)}.{m.group(2)}")
    print(f"abi-gate: OK: ABI {version} matches {os.path.basename(baseline)}")


if __name__ == "__main__":
    main()
