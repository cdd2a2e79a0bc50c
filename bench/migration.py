#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Live migration and snapshots, modvmm beside QEMU in the same run.

    bench/migration.py [BUILD_DIR] [RUNS]

Over a unix socket on this machine, for guests of 256 MiB and 1 GiB:
  - modvmm, the built-in guest idle (`forever pace=50`: 64 pages rewritten
    every ~50 ms) and rewriting memory (`forever pace=10 pages=8192`:
    32 MiB every ~10 ms at most, as fast as the guest runs);
  - QEMU 7.2 (`-M microvm` on the same /dev/kvm, its firmware idling, no
    kernel), `max-bandwidth` raised to 100 GB/s, `downtime-limit` 300 ms;
  - snapshot save and restore of the idle guest: modvmm's snapshot-save
    and --restore; QEMU's `migrate exec:cat > FILE` and `-incoming
    "exec:cat FILE"` (QEMU 7.2 has no file: URI);
  - the limits: memcpy of 1 GiB and a unix socket pair moving 1 GiB.
Medians and ranges of RUNS runs (default 5). Prints a Markdown table.
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp import Qmp  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
MODVMM = os.path.join(BUILD, "modvmm")
QEMU = shutil.which("qemu-system-x86_64")


def spawn(args, tmp, name):
    return subprocess.Popen(args, stdout=open(f"{tmp}/{name}.out", "w"),
                            stderr=subprocess.STDOUT)


def modvmm_run(mem, append):
    """One migration, its figures from the MIGRATION events."""
    with tempfile.TemporaryDirectory() as tmp:
        mods = f"{BUILD}/modules"
        d = spawn([MODVMM, "run", "-M", mods, "--incoming",
                   f"unix:{tmp}/mig", "--control", f"{tmp}/d"], tmp, "d")
        s = spawn([MODVMM, "run", "-M", mods, "--memory", mem, "--append",
                   append, "--device", "uart16550,console=none",
                   "--control", f"{tmp}/s"], tmp, "s")
        while not os.path.exists(f"{tmp}/mig"):
            time.sleep(0.01)
        time.sleep(1)  # the guest touches its memory first
        r = subprocess.run([MODVMM, "ctl", "--json", f"{tmp}/s", "migrate",
                            f"uri=unix:{tmp}/mig"], capture_output=True,
                           text=True, timeout=300)
        end = {}
        for line in r.stdout.splitlines():
            try:
                m = json.loads(line)
            except ValueError:
                continue
            if m.get("event") == "MIGRATION":
                end = m["data"]
        s.wait(60)
        Qmp(f"{tmp}/d").cmd("quit")
        d.wait(30)
        if end.get("status") != "completed":
            sys.exit(f"bench: modvmm migration did not complete: {end} "
                     f"{r.stderr}")
        return (end["total-time-ms"], end["downtime-ms"],
                end["transferred"] / (1 << 20) /
                max(end["total-time-ms"], 1) * 1000)


def qemu_args(mem, qmp):
    return [QEMU, "-accel", "kvm", "-cpu", "host,-arch-capabilities", "-M",
            "microvm,pic=on,pit=on", "-m", mem, "-nodefaults", "-display",
            "none", "-qmp", f"unix:{qmp},server=on,wait=off"]


def qemu_wait(q):
    while True:
        st = q.cmd("query-migrate")
        if st.get("status") in ("completed", "failed", "cancelled"):
            return st
        time.sleep(0.01)


def qemu_run(mem):
    with tempfile.TemporaryDirectory() as tmp:
        d = spawn(qemu_args(mem, f"{tmp}/d") + ["-incoming",
                                                 f"unix:{tmp}/mig"], tmp, "d")
        s = spawn(qemu_args(mem, f"{tmp}/s"), tmp, "s")
        qd, qs = Qmp(f"{tmp}/d"), Qmp(f"{tmp}/s")
        time.sleep(1)
        qs.cmd("migrate-set-parameters", **{"max-bandwidth": 100 << 30,
                                             "downtime-limit": 300})
        qs.cmd("migrate", uri=f"unix:{tmp}/mig")
        st = qemu_wait(qs)
        qs.cmd("quit")
        qd.cmd("quit")
        s.wait(30)
        d.wait(30)
        if st["status"] != "completed":
            sys.exit(f"bench: QEMU migration: {st}")
        ram = st["ram"]["transferred"] / (1 << 20)
        return (st["total-time"], st["downtime"],
                ram / max(st["total-time"], 1) * 1000)


def modvmm_snapshot(mem):
    with tempfile.TemporaryDirectory() as tmp:
        mods = f"{BUILD}/modules"
        s = spawn([MODVMM, "run", "-M", mods, "--memory", mem, "--append",
                   "forever pace=50", "--device", "uart16550,console=none",
                   "--control", f"{tmp}/s"], tmp, "s")
        q = Qmp(f"{tmp}/s")
        time.sleep(1)
        t0 = time.perf_counter()
        q.cmd("snapshot-save", file=f"{tmp}/snap")
        save = (time.perf_counter() - t0) * 1000
        q.cmd("quit")
        s.wait(30)
        t0 = time.perf_counter()
        r = spawn([MODVMM, "run", "-M", mods, "--restore", f"{tmp}/snap",
                   "--control", f"{tmp}/r", "--paused"], tmp, "r")
        q = Qmp(f"{tmp}/r")  # the socket opens once the guest is loaded
        restore = (time.perf_counter() - t0) * 1000
        q.cmd("quit")
        r.wait(30)
        return save, restore


def qemu_snapshot(mem):
    with tempfile.TemporaryDirectory() as tmp:
        s = spawn(qemu_args(mem, f"{tmp}/s"), tmp, "s")
        q = Qmp(f"{tmp}/s")
        time.sleep(1)
        q.cmd("migrate-set-parameters", **{"max-bandwidth": 100 << 30})
        t0 = time.perf_counter()
        q.cmd("migrate", uri=f"exec:cat > {tmp}/snap")
        qemu_wait(q)
        save = (time.perf_counter() - t0) * 1000
        q.cmd("quit")
        s.wait(30)
        t0 = time.perf_counter()
        r = spawn(qemu_args(mem, f"{tmp}/r") +
                  ["-incoming", f"exec:cat {tmp}/snap"], tmp, "r")
        q = Qmp(f"{tmp}/r")
        while q.cmd("query-status")["status"] == "inmigrate":
            time.sleep(0.005)
        restore = (time.perf_counter() - t0) * 1000
        q.cmd("quit")
        r.wait(30)
        return save, restore


def limits():
    src = bytearray(os.urandom(1 << 20)) * 1024
    t0 = time.perf_counter()
    dst = bytes(src)
    memcpy = (1 << 30) / (1 << 20) / (time.perf_counter() - t0)
    del dst
    a, b = socket.socketpair()
    view = memoryview(src)

    def drain():
        n = 0
        while n < len(src):
            n += len(b.recv(4 << 20))
    t = threading.Thread(target=drain)
    t.start()
    t0 = time.perf_counter()
    for i in range(0, len(src), 4 << 20):
        a.sendall(view[i:i + (4 << 20)])
    t.join()
    sock = (1 << 30) / (1 << 20) / (time.perf_counter() - t0)
    return memcpy, sock


def med(xs):
    return f"{statistics.median(xs):.0f} ({min(xs):.0f}–{max(xs):.0f})"


def main():
    rows = []
    for mem in ("256M", "1G"):
        for label, append in (("idle", "forever pace=50"),
                              ("rewriting 32 MiB", "forever pace=10 "
                               "pages=8192")):
            rs = [modvmm_run(mem, append) for _ in range(RUNS)]
            rows.append((f"modvmm {mem}, {label}", rs))
        if QEMU:
            rs = [qemu_run(mem) for _ in range(RUNS)]
            rows.append((f"QEMU {mem}, idle", rs))
    print(f"{RUNS} runs each, unix socket; medians (min–max)\n")
    print("| migration | total ms | downtime ms | MiB/s |")
    print("|---|---:|---:|---:|")
    for name, rs in rows:
        print(f"| {name} | {med([r[0] for r in rs])} | "
              f"{med([r[1] for r in rs])} | {med([r[2] for r in rs])} |")
    print("\n| snapshot (idle guest) | save ms | restore ms |")
    print("|---|---:|---:|")
    for mem in ("256M", "1G"):
        rs = [modvmm_snapshot(mem) for _ in range(RUNS)]
        print(f"| modvmm {mem} | {med([r[0] for r in rs])} | "
              f"{med([r[1] for r in rs])} |")
        if QEMU:
            rs = [qemu_snapshot(mem) for _ in range(RUNS)]
            print(f"| QEMU {mem} | {med([r[0] for r in rs])} | "
                  f"{med([r[1] for r in rs])} |")
    ls = [limits() for _ in range(3)]
    print(f"\nlimits: memcpy {med([x[0] for x in ls])} MiB/s, unix socket "
          f"pair {med([x[1] for x in ls])} MiB/s")


if __name__ == "__main__":
    main()
