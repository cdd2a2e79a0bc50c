#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The built-in guest as a PVH ELF (guest/guest-pvh.elf) under QEMU, and
the same guest under modvmm: both pass, and count the same. TAP output.

    guest-pvh.py BUILD_DIR

The counter lines' sums depend only on the command line, so equal sums
mean QEMU ran the guest modvmm runs. Needs /dev/kvm (skips loudly without
it) and QEMU (fails without it: scripts/setup-deps.sh installs it).
"""
import os
import re
import shutil
import subprocess
import sys
import time

BUILD = os.path.abspath(sys.argv[1])
ELF = os.path.join(BUILD, "guest", "guest-pvh.elf")
APPEND = "count=2 pages=16 fill=8"
# QEMU 7.2's microvm with the devices guest.c checks: i8042 (port 0x64),
# the PIC and PIT for its ticks, debug-exit (0x501) to end the run. No
# RTC: the guest then skips its RTC checks, as under modvmm without one.
QEMU = ["qemu-system-x86_64", "-accel", "kvm",
        "-cpu", "host,-arch-capabilities",
        "-M", "microvm,pic=on,pit=on,rtc=off", "-m", "256M", "-nodefaults",
        "-display", "none", "-serial", "stdio",
        "-device", "isa-debug-exit,iobase=0x501,iosize=1",
        "-device", "i8042", "-kernel", ELF, "-append", APPEND]
MODVMM = [os.path.join(BUILD, "modvmm"), "run", "--module-dir",
          os.path.join(BUILD, "modules"), "--append", APPEND]
EXPECT = ["modvmm guest: hello", "fill 8 MiB", "count 2",
          "modvmm guest: PASS"]
COUNT = re.compile(r"^count (\d+) ticks \d+ sum ([0-9a-f]{16})$", re.M)


def run(cmd):
    """Exit status and console (carriage returns dropped) of cmd."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True,
                           errors="replace", timeout=20)
        return p.returncode, (p.stdout + p.stderr).replace("\r", "")
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace")
        return None, out.replace("\r", "")


def check_console(out, status, want_status):
    """What is wrong with a run, or None."""
    if status is None:
        return "timed out after 20 s"
    for line in EXPECT:
        if not re.search(rf"^{re.escape(line)}\b", out, re.M):
            return f"no line {line!r} on the console"
    if status != want_status:
        return f"exit status {status}, expected {want_status}"
    return None


def kvm_usable():
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
    except OSError as e:
        return str(e)
    return None


def main():
    why = kvm_usable()
    if why:
        print(f"1..0 # SKIP /dev/kvm not usable ({why}): the PVH guest "
              "was NOT booted")
        print("#" * 70 + "\n# GUEST-PVH TEST SKIPPED: NO USABLE /dev/kvm\n" +
              "#" * 70, file=sys.stderr)
        return 0
    print("1..3", flush=True)
    failed = 0

    def report(n, name, err, out, t0):
        nonlocal failed
        print(f"{'not ok' if err else 'ok'} {n} - {name} "
              f"({time.time() - t0:.1f} s)")
        if err:
            failed += 1
            print(f"#   {err}")
            for line in out.splitlines()[-15:]:
                print(f"#   | {line}")
        sys.stdout.flush()

    t0 = time.time()
    if not shutil.which(QEMU[0]):
        err, qout = f"{QEMU[0]} not found (scripts/setup-deps.sh)", ""
    elif not os.path.exists(ELF):
        err, qout = f"{ELF} not built", ""
    else:
        # debug-exit: QEMU exits with (value << 1) | 1, so 1 for PASS.
        status, qout = run(QEMU)
        err = check_console(qout, status, 1)
    report(1, "qemu_boots_pvh_guest_to_pass", err, qout, t0)

    t0 = time.time()
    status, mout = run(MODVMM)
    report(2, "modvmm_runs_same_command_line_to_pass",
           check_console(mout, status, 0), mout, t0)

    t0 = time.time()
    qsums, msums = COUNT.findall(qout), COUNT.findall(mout)
    err = None
    if not qsums or qsums != msums:
        err = f"counter sums differ: qemu {qsums}, modvmm {msums}"
    report(3, "counter_sums_equal_under_qemu_and_modvmm", err, "", t0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
