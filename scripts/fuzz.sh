#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# A fuzzing campaign in one command: sets up the clang build of the fuzz
# targets if there is none, then runs each target for SECONDS (default
# 600; the device-state loader twice as long), JOBS at a time (default 1),
# on a corpus kept in FUZZ_BUILD/corpus, so that every campaign starts
# where the last one ended. Findings go to FUZZ_BUILD/fuzz-artifacts.
#   scripts/fuzz.sh [-j JOBS] [SECONDS] [TARGET...]
# Environment: FUZZ_BUILD (default build-fuzz), MODULE_BUILD (a normal
# build whose module files seed fuzz-module-file; default build, if it
# exists), FUZZ_CORPUS (default FUZZ_BUILD/corpus). See docs/fuzzing.md.
set -eu
cd "$(dirname "$0")/.."

jobs=1
if [ "${1:-}" = -j ]; then
	jobs=$2
	shift 2
fi
seconds=${1:-600}
[ $# -gt 0 ] && shift
targets=${*:-modinfo module-file bzimage vmstate manifest control snapshot verdict virtio compat-diff}
build=${FUZZ_BUILD:-build-fuzz}
modules=${MODULE_BUILD-build}
[ -d "$modules/modules" ] || modules=
corpus=${FUZZ_CORPUS:-$build/corpus}

if ! command -v clang >/dev/null || ! command -v meson >/dev/null; then
	scripts/setup-deps.sh
fi
if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzz=true -Dtests=false \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args=-fno-sanitize-recover=all
fi
meson compile -C "$build"

mkdir -p "$corpus" "$build/fuzz-logs"
echo "fuzz: $seconds s per target, $jobs at a time; corpus in $corpus"
# One run-fuzzers.sh per target, its output in FUZZ_BUILD/fuzz-logs.
export FUZZ_CORPUS="$corpus"
status=0
# shellcheck disable=SC2016,SC2086 # the inner script's own variables; a list
printf '%s\n' $targets | xargs -P "$jobs" -n 1 sh -c '
	log="$1/fuzz-logs/$4.log"
	FUZZ_TARGETS=$4 tests/fuzz/run-fuzzers.sh "$1" "$2" "$3" >"$log" 2>&1
	r=$?
	tail -n 1 "$log"
	exit $r' sh "$build" "$seconds" "$modules" || status=1
[ $status -eq 0 ] || echo "fuzz: findings; see $build/fuzz-logs and $build/fuzz-artifacts"
exit $status
