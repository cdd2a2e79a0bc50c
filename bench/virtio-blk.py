#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""virtio-blk throughput, beside the host reading and writing the same file.

    bench/virtio-blk.py [BUILD_DIR] [RUNS]

The built-in guest (`blkbench=N`) sends N requests to virtio-blk one at a
time (queue depth 1) and prints a line before the first and after the
last. Two figures per run:
  - guest MB/s: N requests' bytes over the time between the two lines,
    read as they arrive: end to end, guest included;
  - device µs/request: the CPU time of modvmm's I/O thread (where KVM's
    ioeventfd hands the requests over and the device carries them out)
    between the two lines, from /proc/PID/task/TID/schedstat, per
    request: the host's cost, whatever the guest's speed.
Patterns: 4 KiB random reads and writes, 1 MiB sequential reads and
writes, over a 256 MiB raw file on tmpfs (/dev/shm). The reference is fio
on the same file from the host, same block size and pattern, psync at
depth 1 (Debian's fio package): its MB/s, and its µs per request (the
inverse of its IOPS). Medians and ranges of RUNS runs (default 5).
Prints a Markdown table.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
MODVMM = os.path.join(BUILD, "modvmm")
FILE_MIB = 256

# name, KiB a request, random, write, requests a run
PATTERNS = [
    ("4 KiB random read", 4, True, False, 20000),
    ("4 KiB random write", 4, True, True, 20000),
    ("1 MiB sequential read", 1024, False, False, 1024),
    ("1 MiB sequential write", 1024, False, True, 1024),
]


def io_thread_ns(pid):
    """CPU time of the process's I/O thread so far, in ns."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() != "modvmm-io":
                continue
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            return int(f.read().split()[0])
    sys.exit("virtio-blk.py: no modvmm-io thread (no ioeventfd?)")


def guest_run(disk, kib, rnd, wr, n):
    """MB/s the guest saw and the device's CPU µs per request."""
    append = f"count=1 blkbench={n} blkkib={kib}"
    append += " blkrand" * rnd + " blkwrite" * wr
    p = subprocess.Popen(
        [MODVMM, "run", "-M", f"{BUILD}/modules", "--memory", "256M",
         "--device", f"virtio-blk,file={disk}", "--append", append],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    start = end = None
    for line in p.stdout:
        if line.startswith("blkbench: start"):
            start = time.monotonic()
            cpu0 = io_thread_ns(p.pid)
        elif line.startswith("blkbench: done"):
            end = time.monotonic()
            cpu1 = io_thread_ns(p.pid)
    if p.wait() != 0 or start is None or end is None:
        sys.exit(f"virtio-blk.py: the guest run failed ({append})")
    return n * kib * 1024 / (end - start) / 1e6, (cpu1 - cpu0) / n / 1e3


def fio_run(disk, kib, rnd, wr, n):
    rw = ("rand" if rnd else "") + ("write" if wr else "read")
    out = subprocess.run(
        ["fio", "--name=ref", f"--filename={disk}", f"--rw={rw}",
         f"--bs={kib}k", "--ioengine=psync", "--iodepth=1",
         f"--size={FILE_MIB}m", f"--io_size={n * kib}k",
         "--randrepeat=1", "--output-format=json"],
        capture_output=True, text=True, check=True).stdout
    job = json.loads(out)["jobs"][0]["write" if wr else "read"]
    return job["bw_bytes"] / 1e6, 1e6 / job["iops"]


def fmt(xs):
    return f"{statistics.median(xs):.1f} ({min(xs):.1f}–{max(xs):.1f})"


def main():
    if not shutil.which("fio"):
        sys.exit("virtio-blk.py: needs fio (apt-get install fio)")
    with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
        disk = f"{tmp}/disk.img"
        with open(disk, "wb") as f:
            for _ in range(FILE_MIB):
                f.write(os.urandom(1 << 20))
        print("| pattern | guest MB/s | device µs/req | fio MB/s "
              "| fio µs/req | device/fio |")
        print("|---|---|---|---|---|---|")
        for name, kib, rnd, wr, n in PATTERNS:
            g = [guest_run(disk, kib, rnd, wr, n) for _ in range(RUNS)]
            h = [fio_run(disk, kib, rnd, wr, n) for _ in range(RUNS)]
            dev = [x[1] for x in g]
            ref = [x[1] for x in h]
            ratio = statistics.median(dev) / statistics.median(ref)
            print(f"| {name} | {fmt([x[0] for x in g])} | {fmt(dev)} "
                  f"| {fmt([x[0] for x in h])} | {fmt(ref)} "
                  f"| {ratio:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
