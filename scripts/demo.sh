#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The main job: set up, build, boot the built-in guest with the in-tree
# modules, then load a module into a running guest over its control
# socket and add and remove a device, and migrate a running guest between
# two hosts whose device modules differ in version. Where /dev/kvm is
# unusable, the guest runs in a nested VM (QEMU with software-emulated
# SVM, kvm_amd inside): see the README.
set -eu
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null

echo "== the in-tree modules, read and loaded"
build/modvmm modules --module-dir build/modules
echo
echo "== boot the built-in guest"
python3 tests/kvm/kvm-suite.py build --run \
	'$MODVMM run --module-dir $MODDIR --append "count=3"'
echo
echo "== load a module into the running guest and add its device"
# fx-slot (a test fixture) answers in the built-in guest's hot-plug slot.
python3 tests/kvm/kvm-suite.py build --with build/tests/fixtures/fx-slot.so --run '
d=$(mktemp -d) && mkdir $d/hotplug
$MODVMM run --module-dir $MODDIR --module-dir $d/hotplug --control $d/vm.sock \
	--append "forever pace=10 hotplug" --device uart16550,console=file:$d/console &
while [ ! -S $d/vm.sock ]; do sleep 0.1; done
cp "$(command -v fx-slot.so)" $d/hotplug/
set -x
$MODVMM ctl $d/vm.sock module-load file=fx-slot
$MODVMM ctl $d/vm.sock device-add driver=fx-slot id=slot0 value=9
{ set +x; } 2>/dev/null
sleep 1
grep "^hotplug" $d/console
set -x
$MODVMM ctl $d/vm.sock query-devices
$MODVMM ctl $d/vm.sock device-del id=slot0
{ set +x; } 2>/dev/null
sleep 1
grep "^hotplug" $d/console | tail -n 1
$MODVMM ctl $d/vm.sock quit
wait
rm -rf $d'
echo
echo "== migrate a running guest between two hosts with different module versions"
# Host A has release 1.0.0 of the fx-counter device module and of the
# cmos-rtc clock, host B releases 2.0.0 of both (each built from one
# source); each host is a module directory and a modvmm process. The
# guest writes and checks blocks on a virtio disk both hosts share.
python3 tests/kvm/kvm-suite.py build --with build/tests/fixtures/fx-counter-1.0.so \
	--with build/tests/fixtures/fx-counter-2.0.so \
	--with build/tests/fixtures/fx-rtc-1.0.so --run '
d=$(mktemp -d) && mkdir $d/a $d/b
cp $MODDIR/*.so $d/a/ && cp $MODDIR/*.so $d/b/ && rm $d/a/cmos-rtc.so
cp "$(command -v fx-counter-1.0.so)" "$(command -v fx-rtc-1.0.so)" $d/a/
cp "$(command -v fx-counter-2.0.so)" $d/b/
dd if=/dev/zero of=$d/disk.img bs=1M count=1 2>/dev/null
$MODVMM run --module-dir $d/b --incoming unix:$d/migrate.sock --control $d/b.sock \
	>$d/b.out 2>&1 &
$MODVMM run --module-dir $d/a --device fx-counter --device cmos-rtc \
	--device virtio-blk,file=$d/disk.img --device virtio-rng \
	--control $d/a.sock --append "forever pace=10" >$d/a.out 2>&1 &
while [ ! -S $d/a.sock ] || [ ! -S $d/migrate.sock ]; do sleep 0.1; done
sleep 1
set -x
$MODVMM ctl $d/a.sock migrate-check uri=unix:$d/migrate.sock
$MODVMM ctl $d/a.sock migrate uri=unix:$d/migrate.sock
{ set +x; } 2>/dev/null
sleep 1
echo "-- host A, last lines:"; tail -n 2 $d/a.out
echo "-- host B, first lines:"; grep -v "^modvmm: waiting" $d/b.out | head -n 3
set -x
$MODVMM ctl $d/b.sock query-devices
$MODVMM ctl $d/b.sock quit
{ set +x; } 2>/dev/null
wait
rm -rf $d'
