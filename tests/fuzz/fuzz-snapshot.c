// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: a snapshot file, and the same bytes as an incoming
 * migration stream. Each reader takes the head (magic, format, HELLO,
 * MANIFEST, CONFIG), which a host reads and judges before it opens KVM;
 * an accepted head's body then goes to snapshot_load() against a machine
 * without KVM (fuzz-machine.h): RAM and zero-page records, PAD, the
 * state of its devices fx0 and virtio0, and the VM state as far as the
 * ioctl that would set it. Invariants:
 *   - a refused head sets a message and no snapshot;
 *   - an accepted one has as many device specs as manifest devices, each
 *     starting with its device's type, and its body offset inside the
 *     file;
 *   - what the file reader accepts (the head, and the framing of every
 *     record after it), the stream reader accepts too, as the same head;
 *   - a body is refused with a message (this machine has no VM state to
 *     set), whatever it holds, without touching memory outside the
 *     guest's.
 */
#define _GNU_SOURCE /* memfd_create */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/crc32c.h"
#include "core/snapshot.h"
#include "fuzz-machine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_head(const struct snap_reader *s, size_t size)
{
	if (s->specs->len != s->manifest->devices->len ||
	    s->ids->len != s->specs->len || s->body > size ||
	    s->memory % 4096 || !s->cpus)
		abort();
	for (guint i = 0; i < s->specs->len; i++) {
		const struct manifest_device *d =
			s->manifest->devices->pdata[i];

		if (!g_str_has_prefix(s->specs->pdata[i], d->type) ||
		    strcmp(s->ids->pdata[i], d->id))
			abort();
	}
}

static void same_head(const struct snap_reader *a, const struct snap_reader *b)
{
	if (strcmp(a->machine, b->machine) || a->alias != b->alias ||
	    a->memory != b->memory || a->cpus != b->cpus ||
	    a->check != b->check || a->body != b->body ||
	    a->specs->len != b->specs->len)
		abort();
	for (guint i = 0; i < a->specs->len; i++)
		if (strcmp(a->specs->pdata[i], b->specs->pdata[i]) ||
		    strcmp(a->ids->pdata[i], b->ids->pdata[i]))
			abort();
}

/* FUZZ_VERBOSE=1 says where an input stopped: seeds are made so. */
static void verbose(const char *what, const GError *err)
{
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz-snapshot: %s: %s\n", what,
			err ? err->message : "accepted");
}

static void load_body(struct snap_reader *s)
{
	struct machine *m = fuzz_machine();
	g_autoptr(GError) err = NULL;

	/* Guest RAM as a fresh machine has it: zeros. */
	fuzz_machine_reset(m);
	if (snapshot_load(s, m, &err) == 0 || !err || !*err->message)
		abort();
	verbose("body", err);
}

/*
 * Format 2 records carry CRC-32Cs (of the payload, and of the header),
 * which a mutated input would almost never match: the readers would stop
 * at the first checksum and the parsers behind it would go unfuzzed. So
 * every checksum of a format 2 input is recomputed over its mutated
 * bytes, as far as its records' lengths lay them out (a payload the input
 * cuts short gets the CRC of what is there). The checksum refusals
 * themselves are tested bit by bit in tests/unit/test-snapshot-records.c
 * and the control suite.
 */
static void fix_checksums(uint8_t *d, size_t size)
{
	size_t off = 12;
	uint32_t v;

	if (size < 12 || memcmp(d, SNAPSHOT_MAGIC, 8) ||
	    d[8] != SNAPSHOT_FORMAT || d[9] || d[10] || d[11])
		return;
	while (size - off >= 16) {
		uint8_t *h = d + off;
		size_t left = size - off - 16, len;

		memcpy(&v, h + 4, 4);
		len = GUINT32_FROM_LE(v);
		v = GUINT32_TO_LE(crc32c(0, h + 16, MIN(len, left)));
		memcpy(h + 8, &v, 4);
		v = GUINT32_TO_LE(crc32c(0, h, 12));
		memcpy(h + 12, &v, 4);
		if (len > left)
			break;
		off += 16 + len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t size)
{
	g_autofree uint8_t *data = g_malloc(size ? size : 1);
	static int fd = -1;
	g_autofree char *path = NULL;
	g_autoptr(GError) err = NULL, stream_err = NULL;
	struct snap_reader *s = NULL, *st = NULL;
	int r, rs;

	if (size)
		memcpy(data, in, size);
	fix_checksums(data, size);
	if (fd < 0 && (fd = memfd_create("fuzz-snapshot", MFD_CLOEXEC)) < 0)
		abort();
	if (ftruncate(fd, 0) < 0 ||
	    pwrite(fd, data, size, 0) != (ssize_t)size ||
	    lseek(fd, 0, SEEK_SET) != 0)
		abort();
	fuzz_machine();
	path = g_strdup_printf("/proc/self/fd/%d", fd);
	r = snapshot_open(path, &s, &err);
	if (r < 0 ? !err || !*err->message || s : !s)
		abort();
	rs = snapshot_receive(fd, NULL, "fuzz-stream", &st, &stream_err);
	if (rs < 0 ? !stream_err || !*stream_err->message || st : !st)
		abort();
	verbose("file", err);
	verbose("stream", stream_err);
	if (s) {
		check_head(s, size);
		load_body(s);
	}
	if (st) {
		check_head(st, size);
		load_body(st);
	}
	/* The file is checked whole when it is opened, the stream only as
	 * far as its head: the stream may accept what the file refuses. */
	if (s && !st)
		abort();
	if (s && st)
		same_head(s, st);
	snapshot_free(st);
	snapshot_free(s);
	return 0;
}
