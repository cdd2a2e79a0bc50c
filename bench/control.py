#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Control socket round trips, modvmm beside QEMU's QMP in the same run.

    bench/control.py [BUILD_DIR] [OPS] [SAMPLES]

Both servers are driven by the same client code (this script), over a
unix socket, with a guest running: modvmm's built-in guest and QEMU 7.2
(`-M microvm`, its firmware idling, on the same /dev/kvm). Per operation,
the median and range of SAMPLES samples, each the mean over OPS
operations, and the ratio modvmm/QEMU. Operations:
  handshake      connect, read the greeting, qmp_capabilities, close
                 (with no other client: QEMU's QMP serves one at a time)
  query-status   one request and its reply
  stop+cont      pause the vCPUs and resume them (both wait for the
                 vCPUs to leave the guest)
  device add+del modvmm only (QEMU's microvm ISA bus takes no hot-plug):
                 a pvpanic device added and deleted while the guest runs
"""
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp import Qmp as Client  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
OPS = int(sys.argv[2]) if len(sys.argv) > 2 else 500
SAMPLES = int(sys.argv[3]) if len(sys.argv) > 3 else 7


def wait_socket(path, proc):
    deadline = time.time() + 20
    while not os.path.exists(path):
        if proc.poll() is not None or time.time() > deadline:
            sys.exit(f"bench: {proc.args[0]} did not open {path}")
        time.sleep(0.01)
    time.sleep(0.2)


def measure(fn):
    samples = []
    for _ in range(SAMPLES):
        t0 = time.perf_counter()
        for _ in range(OPS):
            fn()
        samples.append((time.perf_counter() - t0) / OPS * 1e6)
    return statistics.median(samples), min(samples), max(samples)


def run(path, with_devices):
    # QEMU's QMP serves one client at a time: handshakes first, alone.
    res = {"handshake": measure(lambda: Client(path).close())}
    c = Client(path)
    res.update({
        "query-status": measure(lambda: c.cmd("query-status")),
        "stop+cont": measure(lambda: (c.cmd("stop"), c.cmd("cont"))),
    })
    if with_devices:
        res["device add+del"] = measure(lambda: (
            c.cmd("device-add", driver="pvpanic", id="b0"),
            c.cmd("device-del", id="b0")))
    c.cmd("quit")
    c.close()
    return res


def main():
    if not os.path.exists("/dev/kvm"):
        sys.exit("bench: needs /dev/kvm")
    qemu = shutil.which("qemu-system-x86_64")
    with tempfile.TemporaryDirectory() as tmp:
        msock, qsock = f"{tmp}/modvmm.sock", f"{tmp}/qemu.sock"
        m = subprocess.Popen(
            [f"{BUILD}/modvmm", "run", "--module-dir", f"{BUILD}/modules",
             "--control", msock, "--append", "forever pace=50",
             "--device", "uart16550,console=none"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_socket(msock, m)
        mres = run(msock, True)
        m.wait(30)
        qres = {}
        if qemu:
            q = subprocess.Popen(
                [qemu, "-accel", "kvm", "-cpu", "host,-arch-capabilities",
                 "-M", "microvm,pic=on,pit=on", "-m", "256M", "-nodefaults",
                 "-display", "none", "-qmp",
                 f"unix:{qsock},server=on,wait=off"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_socket(qsock, q)
            qres = run(qsock, False)
            q.wait(30)
    ver = subprocess.run([qemu, "--version"], capture_output=True,
                         text=True).stdout.splitlines()[0] if qemu else "none"
    print(f"{OPS} operations per sample, {SAMPLES} samples; peer: {ver}\n")
    print("| operation | modvmm µs, median (min–max) | QEMU µs, median "
          "(min–max) | modvmm/QEMU |")
    print("|---|---:|---:|---:|")
    for op, (med, lo, hi) in mres.items():
        if op in qres:
            qm, ql, qh = qres[op]
            print(f"| {op} | {med:.1f} ({lo:.1f}–{hi:.1f}) | {qm:.1f} "
                  f"({ql:.1f}–{qh:.1f}) | {med / qm:.2f}x |")
        else:
            print(f"| {op} | {med:.1f} ({lo:.1f}–{hi:.1f}) | no peer | – |")


if __name__ == "__main__":
    main()
