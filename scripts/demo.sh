#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The main job: set up, build, and run modvmm with the in-tree modules.
set -eu
cd "$(dirname "$0")/.."
scripts/setup-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
meson compile -C build >/dev/null

echo "== metadata of a module, read without loading it"
build/tools/modvmm-modinfo build/modules/debug-exit.so
echo
echo "== load every in-tree module and create a device"
build/modvmm modules --module-dir build/modules --device debug-exit,id=exit0
