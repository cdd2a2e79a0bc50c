/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_SNAPSHOT_H
#define CORE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "../compat/manifest.h"

struct machine;

/*
 * Snapshot files (docs/stream-format.md, "Snapshots"): the phases of a
 * migration written to a file. HELLO, MANIFEST and CONFIG come first, so
 * that a host checks the whole snapshot against its modules before it
 * opens KVM; then RAM, the vCPUs, the VM, each device, and END.
 */

#define SNAPSHOT_MAGIC "MODVMMSS"
#define SNAPSHOT_FORMAT 1
#define SNAPSHOT_RECORD_MAX (64u << 20) /* bytes of one record's payload */
#define SNAPSHOT_HEAD_MAX (64u << 10)	/* HELLO and CONFIG */

enum snapshot_record {
	SNAP_HELLO = 1,
	SNAP_MANIFEST = 2,
	SNAP_CONFIG = 3,
	SNAP_RAM = 4,	   /* u64 offset, then whole pages */
	SNAP_RAM_ZERO = 5, /* u64 offset, u64 pages: all zero */
	SNAP_CPU = 6,	   /* u32 index, then a "kvm-cpu" section */
	SNAP_VM = 7,	   /* a "kvm-vm" section */
	SNAP_DEVICE = 8,   /* u8 id length, id, then the device's section */
	SNAP_END = 9,
};

/*
 * Writes the snapshot of a paused machine to `path`: to a temporary file
 * beside it, synced, then renamed, so that `path` is either the whole
 * snapshot or untouched. A device without VMState is refused, named.
 * *ret_bytes is the file's size.
 */
int snapshot_save(struct machine *m, const char *path, uint64_t *ret_bytes,
		  GError **error);

/* A snapshot file, opened and its head (HELLO, MANIFEST, CONFIG) read. */
struct snapshot {
	char *path;
	GMappedFile *map;
	const uint8_t *data;
	size_t len;
	size_t body;   /* offset of the first record after CONFIG */
	char *machine; /* what HELLO says */
	int alias;
	uint64_t memory;
	unsigned int cpus;
	struct manifest *manifest;
	GPtrArray *ids;	  /* char *: device ids, in creation order */
	GPtrArray *specs; /* char *: their --device specs */
};

int snapshot_open(const char *path, struct snapshot **ret, GError **error);
void snapshot_free(struct snapshot *s);

/*
 * Loads RAM, vCPU, VM and device state into a machine created from the
 * snapshot's head (machine_create() with cfg->restore). Every record is
 * checked against the snapshot's bounds and the machine before use.
 */
int snapshot_load(struct snapshot *s, struct machine *m, GError **error);

#endif
