# SPDX-License-Identifier: LGPL-2.1-or-later
"""virtio-blk throughput, beside the host reading and writing the same file.

The built-in guest (`blkbench=N`) sends N requests to virtio-blk one at a
time (queue depth 1) and prints a line before the first and after the
last. Two figures per run:
  - guest MB/s: N requests' bytes over the time between the two lines,
    read as they arrive: end to end, guest included;
  - device µs/request: the CPU time of modvmm's I/O thread (where KVM's
    ioeventfd hands the requests over and the device carries them out)
    between the two lines, from /proc/PID/task/TID/schedstat, per
    request: the host's cost, whatever the guest's speed.
The reference is fio on the same file from the host, same block size and
pattern, psync at depth 1, over the whole file: its mean time a request,
and the bytes a request over that time.
"""
import json
import os
import shutil
import subprocess
import tempfile
import time

import lib

# name, KiB a request, random, write, requests a run (full, smoke)
PATTERNS = [
    ("4 KiB random read", 4, True, False, (10000, 200)),
    ("4 KiB random write", 4, True, True, (10000, 200)),
    ("1 MiB sequential read", 1024, False, False, (1024, 16)),
    ("1 MiB sequential write", 1024, False, True, (1024, 16)),
]

INTRO = """
The built-in guest sends requests to virtio-blk one at a time (queue depth
1) over a {mib} MiB raw file on tmpfs and prints a line before the first
and after the last; fio reads and writes the same file from the host with
the same block size and pattern (`psync`, depth 1). Two figures per
pattern: what the guest saw end to end (bytes over the time between its
two lines: guest code runs slowly on these paravirtualised hosts, so this
is mostly the guest's own speed), and the device's cost: the CPU time of
modvmm's I/O thread per request (`/proc/PID/task/TID/schedstat`), beside
fio's mean time per request (the host's `pread`/`pwrite`). QEMU is not the peer here: its microvm machine
would need a different guest driver and ACPI discovery for the same disk.
"""


def io_thread_ns(pid):
    """CPU time of the process's I/O thread so far, in ns."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() != "modvmm-io":
                continue
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            return int(f.read().split()[0])
    raise lib.Fail("no modvmm-io thread (no ioeventfd?)")


def guest_run(ctx, disk, kib, rnd, wr, n):
    """MB/s the guest saw and the device's CPU µs per request."""
    append = f"count=1 blkbench={n} blkkib={kib}"
    append += " blkrand" * rnd + " blkwrite" * wr
    p = subprocess.Popen(
        [ctx.modvmm, "run", "--module-dir", ctx.modules, "--memory", "256M",
         "--device", f"virtio-blk,file={disk}", "--append", append],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    start = end = None
    try:
        for line in p.stdout:
            if line.startswith("blkbench: start"):
                start = time.monotonic()
                cpu0 = io_thread_ns(p.pid)
            elif line.startswith("blkbench: done"):
                end = time.monotonic()
                cpu1 = io_thread_ns(p.pid)
        status = p.wait(60)
    finally:
        lib.kill(p)
    if status != 0 or start is None or end is None:
        raise lib.Fail(f"the guest run failed ({append}), status {status}")
    return n * kib * 1024 / (end - start) / 1e6, (cpu1 - cpu0) / n / 1e3


def fio_run(disk, mib, kib, rnd, wr):
    """fio over the whole file: MB/s and µs a request, from its mean
    latency a request (its bandwidth figure counts whole milliseconds)."""
    rw = ("rand" if rnd else "") + ("write" if wr else "read")
    r = subprocess.run(
        ["fio", "--name=ref", f"--filename={disk}", f"--rw={rw}",
         f"--bs={kib}k", "--ioengine=psync", "--iodepth=1",
         f"--size={mib}m", "--randrepeat=1", "--output-format=json"],
        capture_output=True, text=True)
    if r.returncode:
        raise lib.Fail(f"fio: {r.stderr.strip()}")
    job = json.loads(r.stdout)["jobs"][0]["write" if wr else "read"]
    us = job["lat_ns"]["mean"] / 1e3
    return kib * 1024 / us, us


def run(ctx):
    if not shutil.which("fio"):
        raise lib.Fail("needs fio (scripts/setup-deps.sh installs it)")
    mib = 32 if ctx.smoke else 256
    sec = lib.Section("virtio-blk", "virtio-blk against the host's own I/O",
                      INTRO.format(mib=mib))
    with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
        disk = f"{tmp}/disk.img"
        with open(disk, "wb") as f:
            for _ in range(mib):
                f.write(os.urandom(1 << 20))
        for name, kib, rnd, wr, ns in PATTERNS:
            n = ns[1] if ctx.smoke else ns[0]
            g = [guest_run(ctx, disk, kib, rnd, wr, n)
                 for _ in range(ctx.reps)]
            h = [fio_run(disk, mib, kib, rnd, wr)
                 for _ in range(ctx.reps)]
            sec.add(f"{name}: throughput (guest end to end)", "MB/s",
                    lib.Stat(x[0] for x in g), lib.Stat(x[0] for x in h),
                    "fio on the host", lower=False)
            sec.add(f"{name}: host CPU per request", "µs",
                    lib.Stat(x[1] for x in g), lib.Stat(x[1] for x in h),
                    "fio, time per request", headline=not wr)
    return sec
