# SPDX-License-Identifier: LGPL-2.1-or-later
"""Start-up and memory: the built-in guest under modvmm and, from its PVH
build, under QEMU, on the same /dev/kvm.

Each run starts the VMM, times its first byte on stdout (the guest's first
serial byte, `modvmm guest: hello`), reads /proc/PID/smaps when the guest
prints its first counter line (guest RAM's resident pages are counted
apart, so what remains is the VMM's own memory), and times the guest's
end through the debug-exit port.
"""
import os
import select
import subprocess
import time

import lib

APPEND = "count=2 ticks=1 pages=1 pace=20"
INTRO = f"""
Wall time from `fork` to the guest's first serial byte and to the VMM's
exit, and the VMM's resident memory outside guest RAM while the guest
runs (from `/proc/PID/smaps`: total Rss less that of the guest RAM
mapping). The guest is the same code on both: modvmm's built-in guest,
and its PVH build (`guest/guest-pvh.elf`, a 32-bit entry that switches
to long mode) booted by QEMU with `-M microvm,pic=on,pit=on,rtc=off
-kernel`; command line `{APPEND}`. QEMU's time includes its firmware
(qboot), which is how `-kernel` boots on `microvm`.
"""


def once(cmd, mem_bytes, ok_status):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    first = rss = None
    buf = b""
    try:
        fd = p.stdout.fileno()
        deadline = time.monotonic() + 30
        while True:
            r, _, _ = select.select([fd], [], [], 1)
            if time.monotonic() > deadline:
                raise lib.Fail(f"{cmd[0]}: no end within 30 s: {buf[-300:]}")
            if not r:
                continue
            data = os.read(fd, 4096)
            if not data:
                break
            if first is None:
                first = (time.perf_counter() - t0) * 1e3
            buf += data
            if rss is None and b"count 1 " in buf:
                rss = lib.rss_outside(p.pid, mem_bytes)[0] / 1024
        status = p.wait(30)
        end = (time.perf_counter() - t0) * 1e3
    finally:
        lib.kill(p)
    if status != ok_status or b"modvmm guest: PASS" not in buf or rss is None:
        raise lib.Fail(f"{os.path.basename(cmd[0])}: guest failed (status "
                       f"{status}): {buf[-400:].decode(errors='replace')}")
    return first, end, rss


def run(ctx):
    sec = lib.Section("boot", "Start-up and memory against QEMU", INTRO)
    for mem in ("256M", "1G"):
        mb = lib.mib(mem) << 20
        ours = [once([ctx.modvmm, "run", "--module-dir", ctx.modules,
                      "--memory", mem, "--append", APPEND], mb, 0)
                for _ in range(ctx.reps)]
        # isa-debug-exit makes QEMU exit with (value << 1) | 1.
        peer = [once(lib.qemu_cmd(mem, serial="stdio", extra=[
            "-kernel", ctx.guest_pvh, "-append", APPEND]), mb, 1)
            for _ in range(ctx.reps)]
        for i, (what, unit) in enumerate((
                ("start to first guest output", "ms"),
                ("start to exit (guest ran 2 lines)", "ms"),
                ("RSS beyond guest RAM", "MiB"))):
            sec.add(f"{what}, {mem}", unit, lib.Stat(r[i] for r in ours),
                    lib.Stat(r[i] for r in peer), "QEMU",
                    headline=mem == "256M" and i != 1)
    return sec
