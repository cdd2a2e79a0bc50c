#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs every fuzz target for SECONDS each, from the committed seeds plus the
# module files of a normal build (in-tree modules and test fixtures). Fails
# on any crash, leak or sanitizer report and leaves the reproducer in
# ARTIFACTS (default: BUILD/fuzz-artifacts).
#   run-fuzzers.sh FUZZ_BUILD SECONDS [MODULE_BUILD] [ARTIFACTS]
# Environment:
#   FUZZ_TARGETS  the targets to run (default: all), e.g. "snapshot verdict"
#   FUZZ_CORPUS   a directory that keeps each target's corpus (CORPUS/TARGET)
#                 from one run to the next; default: a temporary one
#   FUZZ_ARGS     more libFuzzer flags, e.g. "-detect_leaks=0"
# docs/fuzzing.md says what each target reads; scripts/fuzz.sh runs long
# campaigns.
set -eu
fuzz_build=$1
seconds=$2
module_build=${3:-}
artifacts=${4:-$fuzz_build/fuzz-artifacts}
src=$(cd "$(dirname "$0")/../.." && pwd)
all="modinfo module-file bzimage vmstate manifest control snapshot verdict virtio compat-diff"
targets=${FUZZ_TARGETS:-$all}
# GSlice keeps freed GLib and json-glib objects in its own caches, where
# LeakSanitizer sees them as reachable: leaks would go unreported (GLib
# 2.76 and later always allocate with malloc).
export G_SLICE=always-malloc
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"

status=0
for target in $targets; do
	case " $all " in
	*" $target "*) ;;
	*) echo "fuzz-$target: FAIL: no such target (targets: $all)"; exit 1 ;;
	esac
	exe="$fuzz_build/tests/fuzz/fuzz-$target"
	[ -x "$exe" ] || { echo "fuzz-$target: FAIL: $exe not built"; exit 1; }
	corpus="$work/$target"
	[ -n "${FUZZ_CORPUS:-}" ] && corpus="$FUZZ_CORPUS/$target"
	mkdir -p "$corpus"
	if [ -d "$src/tests/fuzz/corpus/$target" ]; then
		cp "$src/tests/fuzz/corpus/$target"/* "$corpus/"
	fi
	# The committed seeds are synthetic; a real kernel's header and first
	# pages, where there is one, seed the bzImage target too. -max_len
	# keeps inputs that size, so runs stay fast.
	max_len=65536
	# Request lines: many short ones reach more than a few long ones.
	[ "$target" = control ] && max_len=4096
	if [ "$target" = bzimage ]; then
		for k in /boot/vmlinuz-*; do
			[ -f "$k" ] || continue
			head -c 65536 "$k" >"$corpus/$(basename "$k")"
			# The same, with syssize made to fit: reaches loading.
			python3 -c 'import sys
d = bytearray(open(sys.argv[1], "rb").read(65536))
setup = ((d[0x1f1] or 4) + 1) * 512
d[0x1f4:0x1f8] = ((len(d) - setup) // 16).to_bytes(4, "little")
open(sys.argv[2], "wb").write(d)' "$k" "$corpus/$(basename "$k").fits"
		done
	fi
	if [ "$target" = module-file ] && [ -n "$module_build" ]; then
		find "$module_build/modules" "$module_build/tests/fixtures" \
			-name '*.so' -exec cp {} "$corpus/" \;
	fi
	# The device-state loader takes streams from other hosts: twice as
	# long as the others.
	time=$seconds
	[ "$target" = vmstate ] && time=$((seconds * 2))
	# A target whose input is text gets its format's words.
	dict=
	if [ -f "$src/tests/fuzz/$target.dict" ]; then
		dict="-dict=$src/tests/fuzz/$target.dict"
	fi
	echo "fuzz-$target: $(ls "$corpus" | wc -l) inputs, ${time}s"
	# shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
	if "$exe" "$corpus" ${dict:+"$dict"} ${FUZZ_ARGS:-} \
		-max_total_time="$time" -print_final_stats=1 -max_len=$max_len \
		-artifact_prefix="$artifacts/$target-" >"$work/$target.log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$target.log")
		echo "fuzz-$target: OK, $execs executions, no findings," \
			"$(ls "$corpus" | wc -l) in the corpus"
	else
		tail -n 60 "$work/$target.log"
		echo "fuzz-$target: FAIL: reproducer in $artifacts"
		status=1
	fi
done
exit $status
