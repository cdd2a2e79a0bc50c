#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Start-up of the built-in guest: first serial byte, exit, peak RSS, at two
# guest RAM sizes (RSS beyond guest RAM shows as what does not grow).
#   bench/boot.sh [BUILD_DIR] [REPS]
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
reps=${2:-10}
# References in the same run: a bare start of the binary, and a start
# that loads the three in-tree modules without creating a VM.
python3 tests/kvm/kvm-suite.py "$build" --with "$build/bench/bench-boot" --run "
bench-boot $reps \$MODVMM version
echo
bench-boot $reps \$MODVMM modules --module-dir \$MODDIR
echo
for m in 256M 1G; do
	bench-boot $reps \$MODVMM run --module-dir \$MODDIR --memory \$m \
		--append 'count=1 ticks=1 pages=1'
	echo
done"
