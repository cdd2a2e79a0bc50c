#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs the SDK from BUILD into a temporary root, builds the out-of-tree
# example against that alone (pkg-config), and loads it with modvmm.
#   out-of-tree.sh BUILD_DIR SOURCE_DIR [SANITIZERS]
set -eu
build=$1
src=$2
# A sanitizer build's static library needs its runtime in the module.
sanitize=
[ "${3:-none}" = none ] || sanitize="-fsanitize=$3"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "out-of-tree: FAIL: $*"
	exit 1
}

meson install -C "$build" --no-rebuild --quiet --destdir "$tmp/root"
pc=$(find "$tmp/root" -name modvmm-module.pc)
[ -n "$pc" ] || fail "meson install put no modvmm-module.pc under $tmp/root"

vpc=$(find "$tmp/root" -name modvmm-virtio.pc)
[ -n "$vpc" ] || fail "meson install put no modvmm-virtio.pc under $tmp/root"

# Only the installed SDK: no other pkg-config directory, no source tree.
export PKG_CONFIG_LIBDIR="$(dirname "$pc"):$(dirname "$vpc")"
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
unset PKG_CONFIG_PATH
echo "SDK: $(pkg-config --modversion modvmm-module), cflags: $(pkg-config --cflags modvmm-module)"

cp -r "$src/docs/examples/out-of-tree" "$tmp/example"
meson setup "$tmp/oot" "$tmp/example" >"$tmp/setup.log" 2>&1 ||
	{ cat "$tmp/setup.log"; fail "meson setup of the example"; }
meson compile -C "$tmp/oot" >"$tmp/compile.log" 2>&1 ||
	{ cat "$tmp/compile.log"; fail "building the example"; }
if grep -q "$src/abi" "$tmp/oot/compile_commands.json"; then
	fail "the example was compiled against the source tree's SDK"
fi
grep -q "$tmp/root" "$tmp/oot/compile_commands.json" ||
	fail "the example was not compiled against the installed SDK"

out=$("$build/modvmm" modules --module-dir "$tmp/oot" --device hello,start=7 2>&1) ||
	{ echo "$out"; fail "modvmm could not load the example"; }
echo "$out"
echo "$out" | grep -q "^host ABI .*, 1 module loaded (tainted: out-of-tree module)$" ||
	fail "the example was not reported as out-of-tree"
echo "$out" | grep -q "^  hello  *1.0.0 .*out-of-tree *devices: hello$" ||
	fail "the example module is not listed"
echo "$out" | grep -q "^device hello0: hello (module hello)$" ||
	fail "no hello device was created"

# A virtio device out of tree: the transport comes from the installed
# static library (pkg-config modvmm-virtio) and stays hidden inside it.
mkdir "$tmp/virtio"
sed 's/"virtio-rng"/"acme-rng"/g' "$src/modules/virtio-rng/virtio-rng.c" \
	>"$tmp/virtio/acme-rng.c"
${CC:-cc} -shared -fPIC -fvisibility=hidden -Wl,-z,defs $sanitize \
	-o "$tmp/virtio/acme-rng.so" \
	"$tmp/virtio/acme-rng.c" $(pkg-config --cflags --libs modvmm-virtio) ||
	fail "building a virtio module against the installed modvmm-virtio"
exported=$(nm -D --defined-only "$tmp/virtio/acme-rng.so" | awk '$2 == "T" { print $3 }')
[ "$exported" = modvmm_module_init ] ||
	fail "the virtio module exports more than its entry point: $exported"
out=$("$build/modvmm" modules --module-dir "$tmp/virtio" --device acme-rng 2>&1) ||
	{ echo "$out"; fail "modvmm could not load the virtio module"; }
echo "$out" | grep -q "^device acme-rng0: acme-rng (module acme-rng)$" ||
	{ echo "$out"; fail "no acme-rng device was created"; }
echo "out-of-tree: OK"
