#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Installs what modvmm needs to build and test, from Debian's archive.
# Idempotent: does nothing when everything is installed already.
set -eu

# qemu-system-x86, linux-image-amd64, busybox-static and cpio: the KVM
# suite runs real guests, nested under QEMU where /dev/kvm is unusable;
# socat: the control suite runs the socat example of docs/control.md;
# acpica-tools: the ACPI unit test disassembles the DSDT with iasl;
# libseccomp-dev: every thread of a running guest has a system call filter.
# valgrind: the KVM suite runs once more with modvmm under memcheck.
# gnuplot-nox and fio: bench/run plots migration figures and measures the
# host's own I/O beside virtio-blk (its smoke mode runs with the tests).
# glib-networking: GIO's TLS (GnuTLS) for migration over TLS
# (--migration-tls); gnutls-bin: certtool, with which the control suite
# and bench/migration.py make their test certificates.
# g++: the header test compiles every SDK header as C++ too (tests/abi).
# scdoc: the man pages are written in it (docs/man); man-db: the unit
# suite renders each page with man -l and fails on any warning.
# systemd: systemd-analyze verifies modvmm@.service in the unit suite.
packages="meson ninja-build pkg-config gcc g++ clang libclang-rt-14-dev binutils
	libglib2.0-dev libjson-glib-dev libelf-dev libseccomp-dev check abigail-tools python3
	qemu-system-x86 linux-image-amd64 busybox-static cpio socat acpica-tools
	valgrind gnuplot-nox fio glib-networking gnutls-bin scdoc man-db systemd"

missing=
for p in $packages; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "setup: installing$missing"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
