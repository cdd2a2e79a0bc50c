#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The KVM suite: modvmm running real guests. TAP output.

    kvm-suite.py BUILD_DIR [--direct | --nested] [--cases NAME,... | --linux]
                 [--valgrind VALGRIND]
    kvm-suite.py BUILD_DIR [--direct | --nested] [--with FILE...] --run 'CMD'

--valgrind runs every modvmm process under memcheck, without system call
filters (--seccomp=off: see suite_script); a case then also fails when any
of its processes' reports counts an error (a definite leak is one), and
the failing reports are printed.

--run runs one command the same way ($MODVMM and $MODDIR set) and passes
its output and exit status through; scripts/demo.sh uses it.

Where /dev/kvm works, the cases run directly. Where it does not, and for
Linux (a stock kernel does not run on a paravirtualised KVM such as
kvm_pvm), they run inside an L1 VM:
QEMU with software emulation of an AMD CPU with SVM (-accel tcg -cpu max),
Debian's kernel, and Debian's kvm_amd loaded in it, so /dev/kvm there is
hardware-style KVM. One L1 boot runs every case; the TAP lines come back
on its serial console.
"""
import glob
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1])
MODE = "--nested" if "--nested" in sys.argv else (
    "--direct" if "--direct" in sys.argv else "auto")
LINUX_CASES = ("linux_boots_to_shell", "linux_uses_virtio_disk_rtc_and_rng",
               "linux_snapshot_restore_counts_on",
               "linux_migrates_there_and_back_with_disk_writes",
               "linux_migrates_to_older_cmos_rtc",
               "linux_pause_30s_busy_2_vcpus")
ONLY = None
RUN = sys.argv[sys.argv.index("--run") + 1] if "--run" in sys.argv else None
# Extra programs for --run, put in /bin beside modvmm in the nested VM.
WITH = [sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "--with"]
if "--cases" in sys.argv:
    ONLY = set(sys.argv[sys.argv.index("--cases") + 1].split(","))
VALGRIND = (sys.argv[sys.argv.index("--valgrind") + 1]
            if "--valgrind" in sys.argv else None)
# The exit status memcheck gives a process it found errors in; no case
# expects it from modvmm itself.
VALGRIND_STATUS = 99
# Memcheck runs modvmm's own code (device models, the vCPU loop) tens of
# times slower, but the guest, which takes most of a case's time, still runs
# under KVM: a case's watchdog and its own waits get this factor under it.
VALGRIND_SLOWDOWN = 4

# loglevel=5, not quiet: the kernel's warnings (a clocksource marked
# unstable, WARNING) reach the console, where the cases look for them;
# its informational boot lines do not.
L2_APPEND = ("console=ttyS0 earlyprintk=serial,ttyS0,115200 reboot=k "
             "panic=-1 pci=off i8042.noaux i8042.nokbd nokaslr loglevel=5")

# name, shell snippet (run by busybox sh; $MODVMM, $MODDIR, $OUT set,
# $WORK, the run's own temporary directory, where a case writes its files,
# $SLOWDOWN, the factor its own waits take, $FIXDIR, where the fixture
# modules are, $STREAM, modvmm-stream, and $CTL, modvmm for `ctl`, never
# under valgrind), timeout in seconds. A case passes when its snippet exits 0.
CASES = [
    ("builtin_guest_passes_self_checks", r'''
$MODVMM run --module-dir $MODDIR >$OUT 2>&1; st=$?
grep -q "modvmm guest: PASS" $OUT && grep -q "^count 3 ticks" $OUT &&
grep -q "guest exited with status 0 (exit status 0)" $OUT && [ $st = 0 ]
''', 90),
    ("timer_interrupts_delivered", r'''
$MODVMM run --module-dir $MODDIR --append "ticks=20 count=1" >$OUT 2>&1; st=$?
ticks=$(sed -n 's/^count 1 ticks \([0-9]*\) .*/\1/p' $OUT)
[ -n "$ticks" ] && [ "$ticks" -ge 20 ] && [ $st = 0 ]
''', 90),
    ("two_vcpus_boot", r'''
$MODVMM run --module-dir $MODDIR --cpus 2 >$OUT 2>&1 &&
grep -q "modvmm guest: PASS" $OUT
''', 90),
    ("missing_device_reads_all_ones_and_fails_check", r'''
$MODVMM run -v --module-dir $MODDIR --no-defaults --device uart16550 \
	--device debug-exit >$OUT 2>&1; st=$?
[ $st = 2 ] && grep -q "FAIL check 2: i8042 status" $OUT &&
grep -q "guest exited with status 2 (exit status 2)" $OUT &&
[ "$(grep -c "vcpu0: unclaimed port read at 0x64 (1 bytes); logged once" $OUT)" = 1 ]
''', 90),
    ("i8042_reset_ends_run", r'''
$MODVMM run --module-dir $MODDIR --append reset >$OUT 2>&1; st=$?
[ $st = 0 ] && grep -q "modvmm guest: PASS" $OUT &&
grep -q "modvmm: guest reset (exit status 0)" $OUT
''', 90),
    # A triple fault is not an orderly reset: it has its own status.
    ("triple_fault_has_its_own_status", r'''
$MODVMM run --module-dir $MODDIR --append triple >$OUT 2>&1; st=$?
[ $st = 123 ] && grep -q "modvmm guest: triple fault" $OUT &&
grep -q "modvmm: guest reset by a triple fault (exit status 123)" $OUT
''', 90),
    ("sigint_stops_guest_cleanly", r'''
# Emptied first: the background job truncates $OUT only once it runs, and
# an earlier case's "count 2" must not send SIGINT before modvmm is there.
: >$OUT
$MODVMM run --module-dir $MODDIR --append forever >$OUT 2>&1 &
pid=$!
i=0; while ! grep -q "^count 2 " $OUT && [ $i -lt $((600 * SLOWDOWN)) ]; do
	sleep 0.1; i=$((i+1))
done
kill -INT $pid; wait $pid; st=$?
[ $st = 130 ] && grep -q "stopped by SIGINT (exit status 130)" $OUT
''', 90),
    ("serial_console_to_file", r'''
$MODVMM run --module-dir $MODDIR --device uart16550,console=file:$WORK/con \
	>$OUT 2>&1 && grep -q "modvmm guest: PASS" $WORK/con &&
! grep -q "modvmm guest: PASS" $OUT
''', 90),
    ("guest_drives_virtio_blk_rng_and_rtc", r'''
dd if=/dev/zero of=$WORK/disk bs=1M count=1 2>/dev/null
$MODVMM run --module-dir $MODDIR --device virtio-blk,file=$WORK/disk \
	--device virtio-rng --device cmos-rtc --append "count=8" >$OUT 2>&1; st=$?
rm -f $WORK/disk
[ $st = 0 ] && grep -q "modvmm guest: PASS" $OUT &&
grep -q "^virtio-blk: 64 blocks of 4 KiB" $OUT &&
grep -q "^virtio-blk: 8 writes, 16 reads verified" $OUT &&
grep -q "^virtio-rng: [0-9a-f]\{32\}" $OUT &&
grep -q "^cmos-rtc: 20[0-9][0-9]-[01][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9] UTC" $OUT &&
grep -q "^cmos-rtc: periodic interrupts counted" $OUT
''', 90),
    # Guest time (docs/user-guide.md, "Guest time"): kept while the guest
    # is stopped, the same in every snapshot taken then and in the one
    # --snapshot-on-exit writes at the end; the TSC, kvmclock and the
    # device clock then move on together, by the time the guest ran (on
    # a KVM that cannot set a guest's TSC, which modvmm says, by the time
    # it stood still too).
    ("guest_time_stops_with_the_guest", r'''
P=$((5 * SLOWDOWN))
$MODVMM run --module-dir $MODDIR --cpus 2 --append "forever pace=10" \
	--control $WORK/t.sock --snapshot-on-exit $WORK/e >$OUT 2>&1 &
pid=$!
i=0; while [ ! -S $WORK/t.sock ] && [ $i -lt $((300 * SLOWDOWN)) ]; do
	sleep 0.1; i=$((i+1))
done
c() { $CTL ctl $WORK/t.sock "$@" >/dev/null; }
t() {
	$STREAM --module-dir $MODDIR $WORK/$1 | awk '/^  tsc /{ if (!t) t = $2 }
		/^  kvmclock_ns /{ k = $2 } /^  device_clock_ns /{ d = $2 }
		END { print t, k, d }'
}
sleep 1
c stop; c snapshot-save file=$WORK/a; sleep 1; c snapshot-save file=$WORK/a2
c cont; sleep 1; c stop; c snapshot-save file=$WORK/b
sleep $P; c cont; sleep 1; c stop; c snapshot-save file=$WORK/c; c quit
wait $pid || exit 1
echo "kept while stopped: $(t a) / $(t a2); at the end: $(t c) / $(t e)" >>$OUT
[ "$(t a)" = "$(t a2)" ] && [ "$(t c)" = "$(t e)" ] || exit 1
fixed=0; grep -q "does not set it" $OUT && fixed=1
# The clocks are read and set a few ioctls apart: microseconds, or a few
# milliseconds under valgrind.
echo "$(t a) $(t b) $(t c) $fixed $P $SLOWDOWN" | awk '{
	r = ($4 - $1) / ($5 - $2)
	dk = ($8 - $5) / 1e6; dt = ($7 - $4) / r / 1e6; dd = ($9 - $6) / 1e6
	print "over a stop of " $11 " s: kvmclock " dk " ms, TSC " dt \
		" ms, device clock " dd " ms"
	d1 = dt - dk; d2 = dd - dk
	if (d1 < 0) d1 = -d1
	if (d2 < 0) d2 = -d2
	exit !(d1 < 2 * $12 && d2 < 10 * $12 &&
	       ($10 ? dk >= $11 * 1000 : dk < $11 * 1000))
}' >>$OUT
''', 180),
    # A stock kernel on kvm_pvm hangs before its first line: `run --kernel`
    # says so there, once, before the guest starts (the control socket is
    # served only after that), and never on a full KVM or for the built-in
    # guest. Any bzImage does: it need not get far.
    ("kernel_on_kvm_pvm_is_diagnosed", r'''
K=$(ls /boot/vmlinuz-* /l2/vmlinuz 2>/dev/null | tail -n 1)
pvm=0; [ -d /sys/module/kvm_pvm ] && pvm=1
[ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ] && pvm=0
$MODVMM run --module-dir $MODDIR >$OUT 2>&1 || exit 1
! grep -q "kvm_pvm" $OUT || { echo "# a warning for the built-in guest"; exit 1; }
[ -n "$K" ] || { echo "# no /boot/vmlinuz-*: --kernel not tried" >>$OUT; exit 0; }
$MODVMM run --module-dir $MODDIR --kernel $K --append "console=ttyS0" \
	--control $WORK/k.sock >$WORK/k.out 2>&1 &
pid=$!
i=0; while [ ! -S $WORK/k.sock ] && [ $i -lt $((300 * SLOWDOWN)) ]; do
	sleep 0.1; i=$((i+1))
done
[ -S $WORK/k.sock ]; up=$?
kill -TERM $pid; wait $pid
cat $WORK/k.out >>$OUT
echo "# $K, kvm_pvm here: $pvm" >>$OUT
[ $up = 0 ] || exit 1
n=$(grep -c "^modvmm: warning: this host's KVM is kvm_pvm, .*stock Linux kernel does not run.*full KVM.*nested under QEMU" $WORK/k.out)
[ $pvm = 1 ] && [ "$n" = 1 ] && exit 0
[ $pvm = 0 ] && ! grep -q "kvm_pvm" $WORK/k.out
''', 90),
    ("linux_boots_to_shell", r'''
$MODVMM run --module-dir $MODDIR --memory 256M --kernel /l2/vmlinuz \
	--initrd /l2/initrd.gz --append "$L2_APPEND" >$OUT 2>&1; st=$?
grep -q "L2-SHELL-OK" $OUT && grep -q "modvmm: guest reset" $OUT && [ $st = 0 ]
''', 300),
    # The devices reach Linux only through the ACPI tables modvmm writes:
    # virtio-mmio as LNRO0005 (Debian's kernel has no command-line
    # discovery), the RTC as PNP0B00. A file system made on /dev/vda is
    # written, unmounted, mounted again and read back.
    ("linux_uses_virtio_disk_rtc_and_rng", r'''
dd if=/dev/zero of=$WORK/vda.img bs=1M count=32 2>/dev/null
$MODVMM run --module-dir $MODDIR --memory 256M --kernel /l2/vmlinuz \
	--initrd /l2/initrd.gz --device virtio-blk,file=$WORK/vda.img \
	--device virtio-rng --device cmos-rtc --append "$L2_APPEND" >$OUT 2>&1; st=$?
grep -q "L2-VDA-OK 65536" $OUT && grep -q "L2-FS-OK" $OUT &&
grep -q "L2-RTC-OK rtc_cmos" $OUT && grep -q "L2-RNG-OK virtio_rng" $OUT &&
grep -q "modvmm: guest reset" $OUT && [ $st = 0 ]
''', 300),
    # The cases below move a running Linux guest (L2_LIB has their
    # helpers); the guest's console is $OUT, which every host the guest
    # goes to appends to. Each case fails on a gap in the guest's counter
    # and on any kernel complaint on its console (L2_COMPLAINTS).
    ("linux_snapshot_restore_counts_on", r'''
. $WORK/l2lib.sh
l2start $WORK/a.log $L2ARGS --device cmos-rtc --control $WORK/a.sock \
	--append "$L2_APPEND l2case=ticks"; a=$LASTPID
wait_for "L2-TICK 6 " 300 $a || fail "the guest did not count to 6"
ctl $WORK/a.sock stop && ctl $WORK/a.sock snapshot-save file=$WORK/guest.snap &&
	ctl $WORK/a.sock quit || fail "stop, snapshot-save, quit"
reap $a 120 || fail "the guest did not end after quit"
n=$(last L2-TICK)
l2start $WORK/b.log --module-dir $MODDIR --restore $WORK/guest.snap \
	--control $WORK/b.sock; b=$LASTPID
wait_for "L2-TICK $((n + 12)) " 180 $b || fail "the restored guest did not count on from $n"
ctl $WORK/b.sock quit && reap $b 120 || fail "the restored guest did not end after quit"
say "counted to $n, saved, restored, counted on to $(last L2-TICK)"
[ "$(grep -ac L2-SHELL-OK $OUT)" = 1 ] || fail "the guest booted again"
ticks_ok
''', 420),
    # The guest writes numbered records to its disk with O_DIRECT and
    # reads them all back every 10, while it moves to a second modvmm
    # and back; at the end every record the guest was told was written
    # is in the image.
    ("linux_migrates_there_and_back_with_disk_writes", r'''
. $WORK/l2lib.sh
dd if=/dev/zero of=$WORK/vda.img bs=1M count=8 2>/dev/null
l2start $WORK/b.log --module-dir $MODDIR --incoming unix:$WORK/there.sock \
	--control $WORK/b.sock; b=$LASTPID
l2start $WORK/a.log $L2ARGS --device virtio-blk,file=$WORK/vda.img \
	--control $WORK/a.sock --append "$L2_APPEND l2case=disk"; a=$LASTPID
wait_for "L2-VERIFIED 20 " 300 $a || fail "the guest did not write and check 20 records"
wait_sock $WORK/there.sock $b || fail "the destination does not listen"
ctl $WORK/a.sock migrate uri=unix:$WORK/there.sock || fail "the migration there failed"
reap $a 120 || fail "the source did not end after the migration"
n=$(last L2-WROTE)
l2start $WORK/c.log --module-dir $MODDIR --incoming unix:$WORK/back.sock \
	--control $WORK/c.sock; c=$LASTPID
wait_for "L2-VERIFIED $(( (n / 10 + 2) * 10 )) " 240 $b ||
	fail "the guest did not go on writing and checking after record $n there"
wait_sock $WORK/back.sock $c || fail "the destination back does not listen"
ctl $WORK/b.sock migrate uri=unix:$WORK/back.sock || fail "the migration back failed"
reap $b 120 || fail "the first destination did not end after the migration back"
m=$(last L2-WROTE)
wait_for "L2-VERIFIED $(( (m / 10 + 2) * 10 )) " 240 $c ||
	fail "the guest did not go on writing and checking after record $m back"
ctl $WORK/c.sock quit && reap $c 120 || fail "the guest did not end after quit"
w=$(last L2-WROTE)
say "records 1-$n written before the migration there, to $m before the one back, to $w in all"
r=0
dd if=$WORK/vda.img bs=512 skip=1 count=$w 2>/dev/null |
	awk -v n=$w "$L2_RECORDS_OK" >$WORK/image-check ||
	{ say "the image lacks a record the guest was told was written: $(cat $WORK/image-check)"; r=1; }
guest_ok L2-WROTE && exit $r
''', 540),
    # The destination has cmos-rtc 1.1 (the fixture built from the
    # in-tree source), the source the in-tree 2.0: the verdict takes the
    # guest, saved at the older state version, and its RTC keeps time.
    ("linux_migrates_to_older_cmos_rtc", r'''
. $WORK/l2lib.sh
mkdir $WORK/rtc-1.1 && cp $MODDIR/*.so $WORK/rtc-1.1/ &&
	rm $WORK/rtc-1.1/cmos-rtc.so && cp $FIXDIR/fx-rtc-1.1.so $WORK/rtc-1.1/ ||
	fail "no host with cmos-rtc 1.1"
l2start $WORK/b.log --module-dir $WORK/rtc-1.1 --incoming unix:$WORK/mig.sock \
	--control $WORK/b.sock; b=$LASTPID
l2start $WORK/a.log $L2ARGS --device cmos-rtc --control $WORK/a.sock \
	--append "$L2_APPEND l2case=ticks"; a=$LASTPID
wait_for "L2-TICK 6 " 300 $a || fail "the guest did not count to 6"
wait_sock $WORK/mig.sock $b || fail "the destination does not listen"
ctl $WORK/a.sock migrate uri=unix:$WORK/mig.sock || fail "the migration failed"
reap $a 120 || fail "the source did not end after the migration"
n=$(last L2-TICK)
ctl $WORK/b.sock query-devices | grep -q "cmos-rtc 1.1.0 *cmos-rtc@1 " ||
	fail "the guest's RTC there is not cmos-rtc 1.1.0 at state version 1"
wait_for "L2-TICK $((n + 12)) " 180 $b || fail "the guest did not count on from $n there"
ctl $WORK/b.sock quit && reap $b 120 || fail "the guest did not end after quit"
say "counted to $n on cmos-rtc 2.0.0, on to $(last L2-TICK) on 1.1.0"
ticks_ok
''', 420),
    # A CPU hog on each of two vCPUs, the guest paused for 30 s (longer
    # than the kernel's soft lockup and RCU stall thresholds) and resumed:
    # it counts on, and its RTC and its own clock still agree.
    ("linux_pause_30s_busy_2_vcpus", r'''
. $WORK/l2lib.sh
l2start $WORK/a.log $L2ARGS --cpus 2 --device cmos-rtc --control $WORK/a.sock \
	--append "$L2_APPEND l2case=hogs"; a=$LASTPID
wait_for "L2-TICK 6 " 400 $a || fail "the guest did not count to 6"
grep -aq "L2-CPUS 2" $OUT || fail "the guest does not have 2 vCPUs"
ctl $WORK/a.sock stop || fail "stop"
n=$(last L2-TICK)
sleep 30
[ "$(last L2-TICK)" = $n ] || fail "the guest counted from $n to $(last L2-TICK) while paused"
ctl $WORK/a.sock cont || fail "cont"
wait_for "L2-TICK $((n + 20)) " 240 $a || fail "the guest did not count on from $n after the pause"
ctl $WORK/a.sock quit && reap $a 120 || fail "the guest did not end after quit"
say "counted to $n, paused for 30 s, counted on to $(last L2-TICK)"
ticks_ok
''', 540),
]


# What the Linux cases fail on, wherever it appears on the guest's console.
L2_COMPLAINTS = "soft lockup|rcu.*stall|clocksource.*unstable|BUG|WARNING"
# Less one WARNING every boot prints in the nested set-up, and only there:
# the emulated SVM does not intercept XSETBV, so L1's KVM answers CPUID
# 0xD with the size of an XCR0 the guest never had ("XSAVE consistency
# problem: size 2696 != kernel_size 576") and the guest uses FXSAVE.
# A guest on real hardware does not print it.
L2_NESTED_BOOT_WARNING = ("WARNING: CPU: 0 PID: 0 at "
                          "arch/x86/kernel/fpu/xstate.c:[0-9]* "
                          "fpu__init_system_xstate")

# The helpers of the cases that move a running Linux guest, written to
# $WORK/l2lib.sh and sourced by them. Every wait is on a marker of the
# guest (with its own bound, and no further once the process it waits on
# has ended); processes a case started are killed when it ends.
L2_LIB = r"""
PIDS= LOGS=
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done' EXIT
L2ARGS="--module-dir $MODDIR --memory 256M --kernel /l2/vmlinuz
	--initrd /l2/initrd.gz --device uart16550,console=file:$OUT"
say() { echo "# $*"; }
# l2start LOG ARGS...: a modvmm run in the background; its pid in $LASTPID.
l2start() {
	log=$1; shift
	$MODVMM run "$@" >$log 2>&1 &
	LASTPID=$!; PIDS="$PIDS $LASTPID"; LOGS="$LOGS $log"
}
alive() { [ -e /proc/$1/stat ] && [ "$(cut -d' ' -f3 /proc/$1/stat)" != Z ]; }
# wait_for REGEX SECONDS PID: until the guest's console has REGEX.
wait_for() {
	i=0
	while ! grep -aq -- "$1" $OUT 2>/dev/null; do
		if grep -aq 'L2-[A-Z]*-FAILED' $OUT 2>/dev/null; then
			say "the guest says: $(grep -a 'L2-[A-Z]*-FAILED' $OUT | head -n 1)"
			return 1
		fi
		alive $3 || { say "modvmm (pid $3) ended before '$1'"; return 1; }
		if [ $i -ge $(( $2 * 10 * SLOWDOWN )) ]; then
			say "no '$1' within $2 s"; return 1
		fi
		sleep 0.1; i=$((i+1))
	done
}
# wait_sock PATH PID: until a destination listens.
wait_sock() {
	i=0
	while [ ! -S $1 ]; do
		alive $2 && [ $i -lt $((600 * SLOWDOWN)) ] || return 1
		sleep 0.1; i=$((i+1))
	done
}
# reap PID SECONDS: its exit status, once it ended.
reap() {
	i=0
	while alive $1; do
		if [ $i -ge $(( $2 * 10 * SLOWDOWN )) ]; then
			say "modvmm (pid $1) still runs after $2 s"; return 1
		fi
		sleep 0.1; i=$((i+1))
	done
	wait $1 || { st=$?; say "modvmm (pid $1) exited with status $st"; return $st; }
}
# ctl SOCKET COMMAND ARGS...: modvmm ctl, its reply shown.
ctl() {
	reply=$($MODVMM ctl --timeout 600 "$@" 2>&1); st=$?
	[ -z "$reply" ] || echo "$reply" | sed "s/^/# ctl $2: /"
	return $st
}
# last WORD: the last number after WORD on the guest's console; whole
# numbers only (a space after them), as the guest may have stopped in the
# middle of a line.
last() { grep -ao "$1 [0-9]* " $OUT | tail -n 1 | cut -d' ' -f2; }
# guest_ok WORD: WORD's numbers run 1, 2, 3... without a gap or a repeat,
# and the console has no kernel complaint (each one printed).
guest_ok() {
	ok=0
	grep -ao "$1 [0-9]* " $OUT | awk -v w="$1" '
		$2 != NR { printf "# %s %s where %d was due\n", w, $2, NR; bad = 1; exit }
		END { if (!bad && NR == 0) { printf "# no %s at all\n", w; bad = 1 }
		      exit bad }' || ok=1
	complaints || ok=1
	return $ok
}
complaints() {
	grep -aE "$L2_COMPLAINTS" $OUT | grep -av "$L2_NESTED_BOOT_WARNING" |
		tr -d '\r' >$WORK/complaints
	[ -s $WORK/complaints ] || return 0
	say "the guest's console complains ($(wc -l <$WORK/complaints) lines):"
	head -n 30 $WORK/complaints | sed 's/^/#   /'
	return 1
}
# rtc_agrees: on every L2-TICK line, the RTC's time and the guest's own
# clock (read one after the other) are at most 2 s apart.
# ticks_ok: guest_ok for the counter, and rtc_agrees; each says what is
# wrong.
ticks_ok() {
	r=0
	rtc_agrees || r=1
	guest_ok L2-TICK && return $r
}
rtc_agrees() {
	grep -a "L2-TICK [0-9]* rtc" $OUT | tr -d '\r' | awk '
		{ sub(/.*L2-TICK /, ""); d = $3 - $5 }
		$3 == "" || $5 == "" || d > 2 || d < -2 {
			if (bad++ < 5)
				printf "#   tick %s: RTC %s, guest clock %s (%+d s)\n", $1, $3, $5, d }
		END { if (bad) printf "#   ... %d ticks in all\n", bad; exit bad > 0 }' >$WORK/rtc
	[ ! -s $WORK/rtc ] && return 0
	say "the guest's RTC and its own clock disagree:"; cat $WORK/rtc
	return 1
}
# fail MESSAGE: says why, with each process's last lines and the console's
# complaints, and ends the case.
fail() {
	say "$*"
	for log in $LOGS; do
		say "$log:"; tail -n 6 $log | tr -d '\r' | sed 's/^/#   /'
	done
	complaints
	exit 1
}
"""


def kvm_usable():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


def valgrind_command(valgrind):
    """The memcheck command line that runs modvmm; each process writes its
    report to $VGDIR/PID.log."""
    return " ".join([
        valgrind, "--tool=memcheck", f"--error-exitcode={VALGRIND_STATUS}",
        "--leak-check=full", "--show-leak-kinds=definite",
        "--errors-for-leak-kinds=definite", "--track-origins=yes",
        "--num-callers=30", "--log-file=$VGDIR/%p.log"])


# Under valgrind, a case also fails when a report of one of its processes
# is missing (memcheck never ran, or the watchdog killed it) or does not
# end with no errors; those reports are printed whole.
VALGRIND_CHECK = r"""
vgbad=
for f in $VGDIR/*.log; do
	grep -q "ERROR SUMMARY: 0 errors" "$f" 2>/dev/null || vgbad="$vgbad $f"
done
[ -z "$vgbad" ] || r='not ok'
"""
VALGRIND_REPORT = r"""
for f in $vgbad; do
	if [ -f "$f" ]; then
		echo "# valgrind's report ($f):"; sed 's/^/#   /' "$f"
	else
		echo "# no valgrind report: modvmm never ran under it"
	fi
done
"""


def suite_script(cases, moddir, modvmm, stream, valgrind=None, fixdir=None):
    """The suite as one shell script. Each case runs as a script of its
    own in a session of its own (setsid), so that its watchdog kills the
    case's process group, never a process the case did not start; every
    file is written under $WORK, a directory made for this run."""
    lines = [
        "WORK=$(mktemp -d) || exit 1",
        "trap 'rm -rf \"$WORK\"' EXIT",
        f"MODVMM={modvmm}", f"MODDIR={moddir}", f"STREAM={stream}",
        f"CTL={modvmm}",
        f"SLOWDOWN={VALGRIND_SLOWDOWN if valgrind else 1}",
        f"L2_APPEND='{L2_APPEND}'",
        f"L2_COMPLAINTS='{L2_COMPLAINTS}'",
        f"L2_NESTED_BOOT_WARNING='{L2_NESTED_BOOT_WARNING}'",
        f"L2_RECORDS_OK='{RECORDS_OK}'",
        f"FIXDIR={fixdir or moddir}",
        "export WORK MODVMM MODDIR STREAM CTL SLOWDOWN L2_APPEND L2_COMPLAINTS "
        "L2_NESTED_BOOT_WARNING L2_RECORDS_OK FIXDIR",
        "cat >$WORK/l2lib.sh <<'MODVMM_L2LIB_EOF'", L2_LIB.strip(),
        "MODVMM_L2LIB_EOF",
        f"echo 1..{len(cases)}",
    ]
    if valgrind:
        # GLib's slice allocator keeps freed blocks in its own caches,
        # which memcheck cannot tell from leaks.
        lines += ["G_SLICE=always-malloc", "export G_SLICE",
                  "echo '# every modvmm process runs under valgrind'"]
        # Without system call filters: memcheck makes calls of its own
        # from every thread (rt_sigtimedwait, to poll for signals), which
        # the filters refuse, and it does not know seccomp(2) (valgrind
        # 3.19), so --seccomp=log cannot even install them. exec keeps
        # the pid, which a case may signal.
        lines += [
            "cat >$WORK/vg-modvmm <<'EOF'",
            "cmd=$1; shift",
            f"exec {valgrind} {modvmm} \"$cmd\" --seccomp=off \"$@\"",
            "EOF",
            "MODVMM=\"sh $WORK/vg-modvmm\"",
        ]
    for n, (name, body, timeout) in enumerate(cases, 1):
        case = f"$WORK/case.{n}.sh"
        lines += [
            f"cat >{case} <<'MODVMM_CASE_EOF'", body.strip(),
            "MODVMM_CASE_EOF",
            f"OUT=$WORK/out.{n}", "export OUT",
        ]
        if valgrind:
            timeout *= VALGRIND_SLOWDOWN
            lines += [
                f"VGDIR=$WORK/vg.{n}", "export VGDIR",
                "rm -rf $VGDIR", "mkdir -p $VGDIR",
            ]
        # setsid does not fork here (a background job leads no group),
        # so $cpid is the case's process group. Killing the watchdog
        # leaves its sleep behind: with the output pipe of the suite, it
        # would keep meson waiting out the timeout.
        lines += [
            f"start=$(date +%s)",
            f"setsid sh {case} & cpid=$!",
            f"( sleep {timeout}; kill -9 -$cpid 2>/dev/null ) "
            f">/dev/null 2>&1 & wpid=$!",
            f"if wait $cpid; then r=ok; else r='not ok'; fi",
            "kill $wpid 2>/dev/null",
        ]
        if valgrind:
            lines.append(VALGRIND_CHECK.strip())
        lines += [
            f"echo \"$r {n} - {name} ($(( $(date +%s) - start )) s)\"",
            f"if [ \"$r\" != ok ]; then tail -n 25 $OUT | sed 's/^/#   /'; fi",
        ]
        if valgrind:
            lines.append(VALGRIND_REPORT.strip())
    return "\n".join(lines) + "\n"


def run_direct(cases):
    moddir = os.path.join(BUILD, "modules")
    vg = valgrind_command(VALGRIND) if VALGRIND else None
    script = suite_script(cases, moddir, os.path.join(BUILD, "modvmm"),
                          os.path.join(BUILD, "tools", "modvmm-stream"), vg,
                          os.path.join(BUILD, "tests", "fixtures"))
    with tempfile.TemporaryDirectory() as tmp:
        if any(c[0] in LINUX_CASES for c in cases):
            os.makedirs(f"{tmp}/l2")
            script = script.replace("/l2/", f"{tmp}/l2/")
            build_l2(f"{tmp}/l2")
        r = subprocess.run(["sh", "-c", script], cwd=tmp)
    return r.returncode


def copy_with_libs(binary, root):
    """Copies binary into root/bin with the shared libraries it needs."""
    shutil.copy(binary, f"{root}/bin/")
    out = subprocess.run(["ldd", binary], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        path = parts[2] if "=>" in parts and len(parts) > 2 else parts[0]
        if path.startswith("/"):
            dst = root + path
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy(path, dst)


def copy_valgrind(root):
    """Copies valgrind's launcher to root/bin, and memcheck with what it
    preloads to root/vglib (VALGRIND_LIB in L1)."""
    # Debian's valgrind is a shell script that runs valgrind.bin.
    shutil.copy(VALGRIND, f"{root}/bin/")
    if os.path.exists(VALGRIND + ".bin"):
        copy_with_libs(VALGRIND + ".bin", root)
    lib = os.environ.get("VALGRIND_LIB") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.realpath(VALGRIND))),
        "libexec", "valgrind")
    os.makedirs(f"{root}/vglib")
    for f in ("memcheck-amd64-linux", "vgpreload_core-amd64-linux.so",
              "vgpreload_memcheck-amd64-linux.so", "default.supp"):
        shutil.copy(os.path.join(lib, f), f"{root}/vglib/")
    # Memcheck must find strlen in the dynamic linker, which Debian strips:
    # the detached symbols of modvmm's libraries (libc6-dbg) come along.
    out = subprocess.run(["ldd", os.path.join(BUILD, "modvmm")],
                         capture_output=True, text=True, check=True).stdout
    for path in (w for w in out.split() if w.startswith("/")):
        notes = subprocess.run(["readelf", "-n", path], capture_output=True,
                               text=True).stdout.split()
        if "ID:" not in notes:
            continue
        bid = notes[notes.index("ID:") + 1]
        dbg = f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug"
        if os.path.exists(dbg):
            os.makedirs(os.path.dirname(root + dbg), exist_ok=True)
            shutil.copy(dbg, root + dbg)


def cpio(root, out):
    files = subprocess.run(["find", "."], cwd=root, capture_output=True,
                           check=True).stdout
    data = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root,
                          input=files, capture_output=True, check=True).stdout
    with gzip.open(out, "wb", compresslevel=1) as f:
        f.write(data)


def kernel():
    ks = sorted(glob.glob("/boot/vmlinuz-*"))
    if not ks:
        sys.exit("kvm-suite: no /boot/vmlinuz-*: install linux-image-amd64")
    return ks[-1]


# Debian's kernel modules the L2 guest loads, in dependency order: virtio
# over MMIO, the disk, the entropy source, and ext4 for the file system.
L2_MODULES = [
    "drivers/virtio/virtio_ring.ko", "drivers/virtio/virtio.ko",
    "drivers/virtio/virtio_mmio.ko", "drivers/block/virtio_blk.ko",
    "drivers/char/hw_random/virtio-rng.ko", "lib/crc16.ko",
    "crypto/crc32c_generic.ko", "fs/mbcache.ko", "fs/jbd2/jbd2.ko",
    "fs/ext4/ext4.ko",
]

# What L2 does when it has a disk: a file system written, unmounted,
# mounted again and read back; then what drives the RTC and entropy.
L2_DEVICES = r"""
i=0; while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
if [ -b /dev/vda ]; then
	echo L2-VDA-OK $(cat /sys/block/vda/size)
	mkdir -p /mnt
	mke2fs -q /dev/vda && mount -t ext4 /dev/vda /mnt &&
	dd if=/dev/urandom of=/mnt/data bs=64k count=64 2>/dev/null &&
	sum1=$(md5sum < /mnt/data) && sync && umount /mnt &&
	mount -t ext4 /dev/vda /mnt && sum2=$(md5sum < /mnt/data) &&
	[ "$sum1" = "$sum2" ] && umount /mnt && echo L2-FS-OK $sum2
	echo L2-RTC-OK $(cat /sys/class/rtc/rtc0/name) $(cat /sys/class/rtc/rtc0/date)
	echo L2-RNG-OK $(cat /sys/class/misc/hw_random/rng_current)
fi
"""


# What L2 does instead, for the cases that move a running guest: chosen by
# `l2case=NAME` on its command line (the kernel hands unknown key=value
# parameters to /init as its environment), so one initramfs serves every
# case. Each runs until the host ends the guest, and prints one numbered
# line per step for the host to wait on and to check for gaps.
L2_PROGRAMS = {
    # A counter, with the RTC's time and the guest's own clock beside it.
    "ticks": r"""
i=0
while :; do
	i=$((i+1))
	echo "L2-TICK $i rtc $(cat /sys/class/rtc/rtc0/since_epoch) date $(date +%s)"
	sleep 0.5
done
""",
    # A busy guest: a CPU hog pinned to each vCPU, and the counter.
    "hogs": r"""
echo L2-CPUS $(nproc)
for mask in 1 2; do taskset $mask sh -c 'while :; do :; done' & done
exec sh /l2case/ticks
""",
    # Record N goes to sector N of /dev/vda with O_DIRECT, and
    # L2-WROTE N is printed only once the write has completed; every 10
    # records, all of them are read back past the page cache and checked.
    "disk": r"""
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
i=0
while :; do
	i=$((i+1))
	printf 'L2REC %-505s\n' $i >/l2case/rec
	if ! dd if=/l2case/rec of=/dev/vda bs=512 seek=$i count=1 oflag=direct \
		conv=notrunc 2>/l2case/err; then
		echo "L2-WRITE-FAILED $i $(cat /l2case/err)"
		while :; do sleep 60; done
	fi
	echo "L2-WROTE $i done"
	[ $((i % 10)) = 0 ] || continue
	if dd if=/dev/vda bs=512 skip=1 count=$i iflag=direct 2>/dev/null |
		awk -v n=$i "$L2_RECORDS_OK" >/l2case/bad; then
		echo "L2-VERIFIED $i records"
	else
		echo "L2-VERIFY-FAILED $i $(cat /l2case/bad)"
		while :; do sleep 60; done
	fi
done
""",
}

# An awk program that checks records 1..n read back in a row (one of 512
# bytes per line): a lost write reads as zeros, which run into the next
# line. Used by the guest and, on the image, by the host.
RECORDS_OK = ('$1 != "L2REC" || $2 != NR { print "record " NR ": " '
              'substr($0, 1, 16); bad = 1; exit } '
              'END { if (!bad && NR != n) { print NR " records of " n; '
              'bad = 1 } exit bad }')


def build_l2(dst):
    """Debian's kernel and a busybox initramfs that reports and reboots,
    or runs the program its command line's l2case= names."""
    kver = os.path.basename(kernel())[len("vmlinuz-"):]
    with tempfile.TemporaryDirectory() as root:
        for d in ("bin", "proc", "sys", "dev", "mod", "tmp", "l2case"):
            os.makedirs(f"{root}/{d}")
        for name, prog in L2_PROGRAMS.items():
            with open(f"{root}/l2case/{name}", "w") as f:
                f.write(prog.lstrip())
        shutil.copy("/bin/busybox", f"{root}/bin/")
        for m in L2_MODULES:
            shutil.copy(f"/lib/modules/{kver}/kernel/{m}", f"{root}/mod/")
        loads = " ".join(os.path.basename(m) for m in L2_MODULES)
        with open(f"{root}/init", "w") as f:
            f.write("#!/bin/busybox sh\n/bin/busybox --install -s /bin\n"
                    "mount -t proc proc /proc; mount -t sysfs sys /sys\n"
                    "mount -t devtmpfs dev /dev\n"
                    f"for m in {loads}; do insmod /mod/$m 2>/dev/null; done\n"
                    "echo L2-SHELL-OK $(uname -r) $(cat /proc/cmdline | wc -c)\n"
                    f"L2_RECORDS_OK='{RECORDS_OK}'; export L2_RECORDS_OK\n"
                    "[ -n \"$l2case\" ] && exec sh /l2case/$l2case\n"
                    + L2_DEVICES + "reboot -f\n")
        os.chmod(f"{root}/init", 0o755)
        cpio(root, f"{dst}/initrd.gz")
    shutil.copy(kernel(), f"{dst}/vmlinuz")


def l1_boot(body, need_l2, timeout):
    """Boots L1 with kvm_amd, runs `body` (shell) there, and returns the
    console lines it printed, or None with the console tail printed."""
    kver = os.path.basename(kernel())[len("vmlinuz-"):]
    kmods = [f"/lib/modules/{kver}/kernel/{m}" for m in (
        "virt/lib/irqbypass.ko", "drivers/crypto/ccp/ccp.ko",
        "arch/x86/kvm/kvm.ko", "arch/x86/kvm/kvm-amd.ko")]
    with tempfile.TemporaryDirectory() as tmp:
        root = f"{tmp}/root"
        for d in ("bin", "proc", "sys", "dev", "tmp", "mod", "l2", "modules"):
            os.makedirs(f"{root}/{d}")
        shutil.copy("/bin/busybox", f"{root}/bin/")
        copy_with_libs(os.path.join(BUILD, "modvmm"), root)
        copy_with_libs(os.path.join(BUILD, "tools", "modvmm-stream"), root)
        for extra in WITH:
            copy_with_libs(extra, root)
        if VALGRIND:
            copy_valgrind(root)
        for so in glob.glob(os.path.join(BUILD, "modules", "*.so")):
            shutil.copy(so, f"{root}/modules/")
        for k in kmods:
            shutil.copy(k, f"{root}/mod/")
        if not need_l2:
            # A bzImage for kernel_on_kvm_pvm_is_diagnosed, which only
            # starts it.
            shutil.copy(kernel(), f"{root}/l2/vmlinuz")
        else:
            build_l2(f"{root}/l2")
            # A host with another cmos-rtc release for the guest to move
            # to (tests/fixtures/meson.build).
            os.makedirs(f"{root}/fixtures")
            shutil.copy(os.path.join(BUILD, "tests", "fixtures",
                                     "fx-rtc-1.1.so"), f"{root}/fixtures/")
        with open(f"{root}/init", "w") as f:
            f.write("#!/bin/busybox sh\n/bin/busybox --install -s /bin\n"
                    "mount -t proc proc /proc; mount -t sysfs sys /sys\n"
                    "mount -t devtmpfs dev /dev; mount -t tmpfs tmp /tmp\n"
                    "for m in irqbypass ccp kvm kvm-amd; do "
                    "insmod /mod/$m.ko || echo \"# insmod $m failed\"; done\n"
                    "[ -c /dev/kvm ] || echo '# L1: no /dev/kvm'\n"
                    + ("VALGRIND_LIB=/vglib; export VALGRIND_LIB\n"
                       if VALGRIND else "") +
                    "echo KVM-SUITE-BEGIN\n" + body +
                    "echo KVM-SUITE-END\npoweroff -f\n")
        os.chmod(f"{root}/init", 0o755)
        cpio(root, f"{tmp}/l1.gz")
        cmd = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-m", "2G",
               "-smp", "1", "-nographic", "-no-reboot", "-nodefaults",
               "-serial", "stdio", "-kernel", kernel(), "-initrd",
               f"{tmp}/l1.gz", "-append",
               "console=ttyS0 panic=-1 nokaslr quiet loglevel=1"]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True,
                               errors="replace", timeout=timeout + 60)
            out = p.stdout
        except subprocess.TimeoutExpired as e:
            out = (e.stdout or b"").decode(errors="replace") + \
                "\n# L1 timed out\n"
    # Firmware escape codes may share the marker's line.
    lines = ["KVM-SUITE-BEGIN" if l.endswith("KVM-SUITE-BEGIN") else l
             for l in out.replace("\r", "").splitlines()]
    if "KVM-SUITE-BEGIN" not in lines:
        print("# the L1 VM never reached the suite; its console said:")
        for line in lines[-30:]:
            print(f"#   {line}")
        return None
    body_lines = lines[lines.index("KVM-SUITE-BEGIN") + 1:]
    if "KVM-SUITE-END" not in body_lines:
        body_lines.append("# the L1 VM stopped before the suite ended; "
                          "its console's last lines:")
        body_lines += [f"#   {line}" for line in lines[-30:]]
    return body_lines


def run_nested(cases):
    t0 = time.time()
    vg = valgrind_command("/bin/valgrind") if VALGRIND else None
    script = suite_script(cases, "/modules", "/bin/modvmm",
                          "/bin/modvmm-stream", vg, "/fixtures")
    need_l2 = any(c[0] in LINUX_CASES for c in cases)
    timeout = sum(c[2] for c in cases)
    if VALGRIND:
        timeout *= VALGRIND_SLOWDOWN
    lines = l1_boot(script, need_l2, timeout)
    # The L1 VM itself (QEMU's software emulation) froze: not even the
    # watchdog inside it, which fails a case that hangs, got to run. Said
    # loudly, with its console, and tried once more; a case that fails
    # is never retried.
    if lines is not None and "KVM-SUITE-END" not in lines and \
            not any(l.startswith("not ok") for l in lines):
        print("# L1 VM FROZE: its output follows; running the suite again")
        for line in lines:
            print(line if line.startswith("#") else f"#   {line}")
        lines = l1_boot(script, need_l2, timeout)
    if lines is None:
        print(f"1..{len(cases)}")
        return 1
    failed = "KVM-SUITE-END" not in lines
    for line in lines:
        if line == "KVM-SUITE-END":
            break
        if line.startswith(("ok ", "not ok ", "#", "1..")):
            print(line)
            failed |= line.startswith("not ok")
    print(f"# nested run took {time.time() - t0:.1f} s")
    return 1 if failed else 0


def run_command(cmd, direct):
    if direct:
        env = dict(os.environ, MODVMM=os.path.join(BUILD, "modvmm"),
                   MODDIR=os.path.join(BUILD, "modules"),
                   PATH=os.pathsep.join([os.path.dirname(os.path.abspath(w))
                                         for w in WITH] + [os.environ["PATH"]]))
        return subprocess.run(["sh", "-c", cmd], env=env).returncode
    # A quoted here-document keeps the command exactly as given.
    body = ("MODVMM=/bin/modvmm MODDIR=/modules\nexport MODVMM MODDIR\n"
            "W=$(mktemp -d)\n"
            "cat >$W/cmd.sh <<'MODVMM_CMD_EOF'\n" + cmd +
            "\nMODVMM_CMD_EOF\n"
            "sh $W/cmd.sh >$W/run.out 2>&1; st=$?\n"
            "tr -d '\\r' <$W/run.out\necho KVM-RUN-STATUS $st\n")
    lines = l1_boot(body, False, 300)
    status = 1
    for line in lines or []:
        if line == "KVM-SUITE-END":
            break
        if line.startswith("KVM-RUN-STATUS "):
            status = int(line.split()[1])
        else:
            print(line)
    return status


def main():
    # --linux: only the Linux guest (its own meson suite); by default,
    # everything else.
    if "--linux" in sys.argv:
        cases = [c for c in CASES if c[0] in LINUX_CASES]
    elif ONLY is not None:
        cases = [c for c in CASES if c[0] in ONLY]
    else:
        cases = [c for c in CASES if c[0] not in LINUX_CASES]
    # A stock Linux kernel does not run on these hosts' kvm_pvm: Linux
    # always goes nested unless --direct is given.
    direct = MODE == "--direct" or (MODE == "auto" and kvm_usable() and
                                    "--linux" not in sys.argv)
    where = ("directly on /dev/kvm" if direct else
             "nested: QEMU TCG with SVM, kvm_amd in L1 (no usable /dev/kvm here)")
    if RUN:
        print(f"# running {where}", flush=True)
        sys.exit(run_command(RUN, direct))
    print(f"# KVM suite: {where}", flush=True)
    sys.exit(run_direct(cases) if direct else run_nested(cases))


if __name__ == "__main__":
    main()
