#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The main job: set up, build, and boot the built-in guest with the
# in-tree modules. Where /dev/kvm is unusable, the guest runs in a nested
# VM (QEMU with software-emulated SVM, kvm_amd inside): see the README.
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
