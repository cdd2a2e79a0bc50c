#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every test: set up, then the whole suite in a normal build and in an
# ASan+UBSan build, then the fuzz targets for FUZZ_SECONDS (default 60)
# each, then the benchmarks' smoke mode. Ends with one line "tests: N
# passed, N failed".
set -u
cd "$(dirname "$0")/.."
scripts/setup-deps.sh || exit 1

status=0
step() {
	echo "== $*"
	"$@" || status=1
}

# Quiet when it works, the whole output when it does not.
configure() {
	dir=$1
	shift
	log=$(mktemp)
	if { [ -f "$dir/build.ninja" ] || meson setup "$dir" "$@"; } >"$log" 2>&1 &&
		meson compile -C "$dir" >"$log" 2>&1; then
		rm -f "$log"
		return 0
	fi
	cat "$log"
	rm -f "$log"
	return 1
}

step configure build
step meson test -C build --print-errorlogs
step configure build-asan -Dbuildtype=debug -Db_sanitize=address,undefined \
	-Dc_args=-fno-sanitize-recover=all
step meson test -C build-asan --print-errorlogs
CC=clang step configure build-fuzz -Dfuzz=true -Dtests=false \
	-Db_sanitize=address,undefined -Db_lundef=false \
	-Dc_args=-fno-sanitize-recover=all
step tests/fuzz/run-fuzzers.sh build-fuzz "${FUZZ_SECONDS:-60}" build
# Not tests, but they must not rot: every benchmark with tiny work.
step bench/run --smoke

# CI's rule: the KVM suites must have run (they never skip: see tests/kvm).
for b in build build-asan; do
	for t in kvm linux; do
		grep -q "\"name\": \"modvmm:$t / $t\"" "$b/meson-logs/testlog.json" 2>/dev/null ||
			{ echo "== $b: the $t suite did not run"; status=1; }
	done
done
# So must memcheck's run of the KVM suite, in the build without sanitizers.
grep -q '"name": "modvmm:kvm-valgrind / kvm-valgrind"' build/meson-logs/testlog.json 2>/dev/null ||
	{ echo "== build: the kvm-valgrind suite did not run"; status=1; }

# The control suite and the module guide run wherever /dev/kvm exists.
if [ -e /dev/kvm ]; then
	for b in build build-asan; do
		for t in control:control sdk:module-guide guest-pvh:guest-pvh; do
			grep -q "\"name\": \"modvmm:${t%%:*} / ${t#*:}\"" \
				"$b/meson-logs/testlog.json" 2>/dev/null &&
				! grep -q '1..0 # SKIP' "$b/meson-logs/testlog.txt" ||
				{ echo "== $b: /dev/kvm exists but ${t#*:} did not run"; status=1; }
		done
	done
fi

python3 scripts/test-summary.py build build-asan || status=1
exit $status
