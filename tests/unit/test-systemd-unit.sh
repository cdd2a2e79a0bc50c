#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# modvmm@.service as systemd reads it: `systemd-analyze verify` says
# nothing about it (a warning fails too: systemd ignores the line), and it
# starts the guest of /etc/modvmm/%i.conf with its socket in /run/modvmm.
# The user guide shows the unit's directives and the example file as
# they are. TAP.    test-systemd-unit.sh UNIT MODVMM SOURCE_ROOT
set -u
unit=$1
modvmm=$2
src=$3

echo 1..4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The guide, "Running guests as services": every directive (ExecStart
# with the /usr/bin of a distribution's package) and every line of the
# example file, each a line of the guide.
guide=$src/docs/user-guide.md
missing=$(
	grep -v '^#' "$src/systemd/modvmm@.service.in" | grep -v '^$' |
		sed 's|@BINDIR@|/usr/bin|'
	cat "$src/systemd/example.conf"
)
fail=
while IFS= read -r line; do
	grep -qxF -- "$line" "$guide" || {
		echo "# docs/user-guide.md lacks: $line"
		fail=1
	}
done <<LINES
$missing
LINES
if [ -z "$fail" ]; then
	echo "ok 1 - the user guide shows the unit and the example file"
else
	echo "not ok 1 - the user guide shows the unit and the example file"
fi

# verify wants ExecStart's binary to exist: this build's, not the
# installed one. Its man page (Documentation=) is not installed either.
if ! command -v systemd-analyze >/dev/null 2>&1; then
	echo "ok 2 - systemd-analyze verify modvmm@.service # SKIP" \
		"systemd-analyze is not installed (the systemd package;" \
		"scripts/setup-deps.sh installs it)"
	echo "########## modvmm@.service NOT VERIFIED: no systemd-analyze" \
		"##########" >&2
else
	sed "s|^ExecStart=[^ ]*/modvmm |ExecStart=$modvmm |" "$unit" \
		>"$tmp/modvmm@.service"
	if out=$(systemd-analyze verify --man=no "$tmp/modvmm@.service" \
		2>&1) && [ -z "$out" ]; then
		echo "ok 2 - systemd-analyze verify modvmm@.service"
	else
		echo "not ok 2 - systemd-analyze verify modvmm@.service"
		printf '%s\n' "$out" | sed 's/^/# /'
	fi
fi

have() {
	grep -qxF "$1" "$unit" || {
		echo "# $unit has no line: $1"
		return 1
	}
}
lacks() {
	! grep -q "$1" "$unit" || {
		echo "# $unit has: $(grep "$1" "$unit")"
		return 1
	}
}

if grep -qx "ExecStart=/[^ ]*/modvmm run --config /etc/modvmm/%i.conf --control /run/modvmm/%i.sock" "$unit" &&
	have "RuntimeDirectory=modvmm" && have "RuntimeDirectoryPreserve=yes" &&
	have "Type=simple" && lacks "@[A-Z]*@"; then
	echo "ok 3 - the guest of /etc/modvmm/%i.conf, its socket /run/modvmm/%i.sock"
else
	echo "not ok 3 - the guest of /etc/modvmm/%i.conf, its socket /run/modvmm/%i.sock"
fi

# The sandbox lets KVM through: /dev/kvm in the device cgroup, and no
# private /dev (where /dev/kvm is not).
if have "DeviceAllow=/dev/kvm rw" && have "DevicePolicy=closed" &&
	have "ProtectSystem=strict" && have "NoNewPrivileges=yes" &&
	lacks "^PrivateDevices=yes"; then
	echo "ok 4 - sandboxed, with /dev/kvm"
else
	echo "not ok 4 - sandboxed, with /dev/kvm"
fi
