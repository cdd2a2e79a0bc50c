/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_SNAPSHOT_H
#define CORE_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "compat/manifest.h"
#include "stream.h"

struct machine;

/*
 * Snapshot files (docs/stream-format.md, "Snapshots"): the phases of a
 * migration written to a file. HELLO, MANIFEST and CONFIG come first, so
 * that a host checks the whole snapshot against its modules before it
 * opens KVM; then RAM, the vCPUs, the VM, each device, and END.
 *
 * Format 2 puts a CRC-32C of the payload and one of the header itself in
 * every record's header, so that a flipped bit anywhere is refused, and a
 * corrupt length is never used. Format 1 (8-byte headers, no checksums)
 * is still read, files and incoming migrations alike, so that what an
 * older modvmm wrote or sends still loads; a destination answers a
 * format 1 source in format 1.
 */

#define SNAPSHOT_MAGIC "MODVMMSS"

/* HELLO, MANIFEST, CONFIG; `check`: a dry run, the verdict only. */
int snapshot_write_head(struct snap_writer *w, struct machine *m, int check,
			GError **error);
/* The pages whose bits are set in `dirty` (NULL: all of RAM). */
int snapshot_write_ram(struct snap_writer *w, struct machine *m,
		       const uint64_t *dirty, GError **error);
/*
 * vCPUs, VM, devices, END; the machine must be paused. Each device at the
 * version the destination's verdict `v` agreed to (NULL, or a device not
 * in it: the newest).
 */
struct compat_verdict;
int snapshot_write_state(struct snap_writer *w, struct machine *m,
			 const struct compat_verdict *v, GError **error);



/*
 * Writes the snapshot of a paused machine to `path`: to a temporary file
 * beside it, synced, then renamed, so that `path` is either the whole
 * snapshot or untouched. A device without VMState is refused, named.
 * *ret_bytes is the file's size.
 */
int snapshot_save(struct machine *m, const char *path, uint64_t *ret_bytes,
		  GError **error);

/*
 * A snapshot file, opened and its head (HELLO, MANIFEST, CONFIG) read.
 * A file is read with pread(), never mapped: every byte a restored guest
 * gets was copied out of the file and then checked, so that the file
 * changing or being cut afterwards cannot reach the guest.
 */
struct stream_io;

struct snap_reader {
	char *path;
	const uint8_t *data; /* bytes being inspected (snapshot_inspect()) */
	size_t len;	     /* of those, or of the file when it was opened */
	size_t body;   /* offset of the first record after CONFIG */
	char *machine; /* what HELLO says */
	int alias;
	uint64_t memory;
	unsigned int cpus;
	int check; /* a migration check: the verdict, and nothing after it */
	int commit; /* HELLO's "commit": the end-phase protocol it speaks */
	struct manifest *manifest;
	GPtrArray *ids;	  /* char *: device ids, in creation order */
	GPtrArray *specs; /* char *: their --device specs */
	int fd;		  /* a migration stream, or -1 for a file */
	struct stream_io *io; /* the stream's layer (TLS), or NULL */
	int file_fd;	  /* a file opened by snapshot_open(), or -1 */
	size_t offset;	  /* bytes read from it so far */
	uint32_t format;  /* what its magic said */
	/* A stream: the phase a silence of the source is reported in. */
	const char *phase;
};

/*
 * Also walks every record of the file and checks its framing and
 * checksums, so that a corrupt or cut snapshot is refused before a
 * machine is made for it (snapshot_load() checks each record again, on
 * the bytes it loads).
 */
int snapshot_open(const char *path, struct snap_reader **ret, GError **error);
void snapshot_free(struct snap_reader *s);

/* "HELLO", "RAM", ... as docs/stream-format.md names them; "unknown". */
const char *snapshot_record_name(uint8_t type);

/*
 * For tools that show what a snapshot file or a captured migration
 * stream (what a source sent) holds: `data` is read as snapshot_open()
 * reads a file, its magic and head checked, but the records after the
 * head are left to snapshot_next_record(), so that a stream that ends
 * after its head (a refused migration) or at a corrupt record is shown
 * up to there. `data` must outlive the snapshot.
 */
int snapshot_inspect(const char *path, const uint8_t *data, size_t len,
		     struct snap_reader **ret, GError **error);

/*
 * The record at *offset of a snapshot_inspect() snapshot (s->body: the
 * first after the head), its framing checked as snapshot_open() checks
 * it; *offset moves past it. A
 * payload whose checksum does not match is returned all the same, with
 * the message in *ret_corrupt (format 1 has no checksums). Returns 1, or
 * 0 at the end of the data.
 */
int snapshot_next_record(struct snap_reader *s, size_t *offset,
			 struct snap_record *rec, GError **ret_corrupt,
			 GError **error);

/*
 * The same from a migration stream: reads the head from `fd`, through
 * `io` when not NULL (the snapshot then holds both, for the body, and for
 * the VERDICT and COMPLETE it sends back; the caller closes them).
 */
int snapshot_receive(int fd, struct stream_io *io, const char *what,
		     struct snap_reader **ret, GError **error);

/* Live migration: tells the source the verdict (a no-op for files). */
struct compat_verdict;
int snapshot_send_verdict(struct snap_reader *s, const struct compat_verdict *v,
			  GError **error);
int snapshot_send_complete(struct snap_reader *s, GError **error);
/*
 * The commit (docs/stream-format.md): after COMPLETE, the source's
 * COMMIT awaited (anything else, its silence for the stream's timeout
 * or the connection closing is an error: the guest must not run here);
 * once the guest runs, RUNNING told.
 */
int snapshot_await_commit(struct snap_reader *s, GError **error);
int snapshot_send_running(struct snap_reader *s, GError **error);

/*
 * Loads RAM, vCPU, VM and device state into a machine created from the
 * snapshot's head (restore_build()). Every record is checked against the
 * snapshot's bounds and the machine before use, and a file's records
 * against their checksums once copied out of it (RAM pages where they
 * land, in guest RAM). RAM and RAM_ZERO records must give every page of
 * guest RAM: a file each exactly once, a migration stream each at least
 * once (its rounds send a page again when the guest rewrote it).
 */
int snapshot_load(struct snap_reader *s, struct machine *m, GError **error);

#endif
