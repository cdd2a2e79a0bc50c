# SPDX-License-Identifier: LGPL-2.1-or-later
"""The benchmarks written in C (bench/bench-*.c): runs one, reads its rows
(`row KEY LABEL UNIT MEDIAN MIN MAX SAMPLES`, tab-separated) and pairs each
figure with its reference."""
import os
import subprocess

import lib


def rows(ctx, prog, *args):
    path = os.path.join(ctx.build, "bench", prog)
    r = subprocess.run([path, *args], capture_output=True, text=True,
                       timeout=600)
    if r.returncode:
        raise lib.Fail(f"{prog} failed (status {r.returncode}): "
                       f"{r.stderr.strip() or r.stdout[-400:]}")
    out = {}
    for line in r.stdout.splitlines():
        f = line.split("\t")
        if f[0] == "row" and len(f) == 8:
            out[f[1]] = (f[2], f[3], lib.Stat.of(
                float(f[4]), float(f[5]), float(f[6]), int(f[7])))
    if not out:
        raise lib.Fail(f"{prog} reported nothing: {r.stdout[-400:]}")
    return out


def pair(sec, got, key, ref, ref_name, lower=True, what=None,
         headline=False):
    label, unit, s = got[key]
    sec.add(what or label, unit, s, got[ref][2] if ref else None, ref_name,
            lower=lower, headline=headline)


def load(ctx):
    n = "2000"
    got = rows(ctx, "bench-load", os.path.join(ctx.build, "bench",
                                               "bench-empty.so"),
               os.path.join(ctx.modules, "debug-exit.so"), n)
    sec = lib.Section("load", "Module load against a bare dlopen", f"""
modvmm's whole load path for one module (trust checks on the file and its
directory, metadata read with libelf and checked, `dlopen(RTLD_NOW |
RTLD_LOCAL)` through the checked descriptor, entry point, descriptor and
device-type checks, `init`, registration), then unload, against a bare
`dlopen`+`dlclose` of an empty `.so`: the floor any module loader pays.
Each sample is the mean of {n} cycles. Reading the metadata alone is shown
against the same floor.
""")
    pair(sec, got, "load.modvmm", "load.dlopen", "dlopen+dlclose, empty .so",
         headline=True)
    pair(sec, got, "load.modinfo", "load.dlopen", "dlopen+dlclose, empty .so")
    return sec


def vmstate(ctx):
    got = rows(ctx, "bench-vmstate")
    sec = lib.Section("vmstate", "Device state save and load against memcpy",
                      """
A 5 MiB device state (a 4 MiB buffer and a 256 Ki-element `u32` array)
saved into a stream and loaded back, against `memcpy` of the same bytes out
and back in, the floor for any save+load; and a small device with a
uart16550-like description (12 fields, a 16-byte FIFO), per device, over
1000 devices.
""")
    pair(sec, got, "vmstate.saveload", "vmstate.memcpy",
         "memcpy out and back", headline=True)
    pair(sec, got, "vmstate.small", None, "")
    return sec


def verdict(ctx):
    got = rows(ctx, "bench-verdict")
    sec = lib.Section("verdict", "Compatibility verdict: 10, 100, 1000 "
                      "devices", """
What a destination spends deciding whether it can take a guest, before
any guest state moves. Every device has its own type with a 3-version
description in 3 layouts, two subsections (one unknown to the destination,
so dropped), two compat property values and a known-bad entry; the guest
runs an older machine type whose compat properties name 100 types, so
every rule runs, and every device is accepted at version 3 (checked before
timing). *negotiate* is the decision alone, both documents in memory;
*whole path* parses the manifest's JSON text, negotiates and writes the
verdict as JSON, against json-glib parsing the same text and nothing else
(the floor for any JSON-based check). QEMU has no up-front check to
compare: its incompatibilities surface while device state is loaded.
""")
    for n in (10, 100, 1000):
        size = got[f"verdict.{n}.bytes"][2].median
        pair(sec, got, f"verdict.{n}.negotiate", None, "",
             what=f"{n} devices: negotiate")
        pair(sec, got, f"verdict.{n}.whole", f"verdict.{n}.jsonglib",
             "json-glib parse only",
             what=f"{n} devices: whole path ({size / 1024:.0f} KiB "
             "manifest)", headline=n == 1000)
    return sec


def crc32c(ctx):
    got = rows(ctx, "bench-crc32c")
    sec = lib.Section("crc32c", "Record checksums (CRC-32C) against memcpy",
                      """
Every snapshot and migration record carries a CRC-32C, so all of guest RAM
goes through it on every migration, save and restore. `crc32c()` as this
host runs it (SSE4.2's `crc32` in three lanes where present) and the table
fallback, against `memcpy` of the same bytes: on a page, a 4 MiB record,
and 256 MiB (beyond the caches).
""")
    for size in ("4096", "4194304", "268435456"):
        for impl in ("hw", "sw"):
            pair(sec, got, f"crc32c.{size}.{impl}", f"crc32c.{size}.memcpy",
                 "memcpy", lower=False,
                 headline=size == "268435456" and impl == "hw")
    return sec


def sandbox(ctx):
    got = rows(ctx, "bench-sandbox")
    sec = lib.Section("sandbox", "System call filters", """
Each thread kind's seccomp filter installed in a new thread, and a KVM
ioctl (`KVM_CHECK_EXTENSION` on `/dev/kvm`, the cheapest call that passes
the same rules as `KVM_RUN`) timed under it, against a thread with no
filter.
""")
    for kind in ("main", "migration", "vcpu", "io"):
        pair(sec, got, f"sandbox.{kind}.ioctl", "sandbox.none.ioctl",
             "no filter", headline=kind == "vcpu")
    for kind in ("main", "migration", "vcpu", "io"):
        pair(sec, got, f"sandbox.{kind}.install", None, "")
    return sec
