// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: the head of a snapshot file (magic, format, HELLO,
 * MANIFEST, CONFIG), which a host reads and judges before it opens KVM.
 * Invariants: a refused file sets a message and no snapshot; an accepted
 * one has as many device specs as manifest devices, each spec starting
 * with its device's type, and its body offset inside the file.
 */
#define _GNU_SOURCE /* memfd_create */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../core/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	g_autofree char *path = NULL;
	g_autoptr(GError) err = NULL;
	struct snapshot *s = NULL;

	if (fd < 0 && (fd = memfd_create("fuzz-snapshot", 0)) < 0)
		abort();
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	path = g_strdup_printf("/proc/self/fd/%d", fd);
	if (snapshot_open(path, &s, &err) < 0) {
		if (!err || !*err->message || s)
			abort();
		return 0;
	}
	if (s->specs->len != s->manifest->devices->len || s->body > size ||
	    s->memory % 4096 || !s->cpus)
		abort();
	for (guint i = 0; i < s->specs->len; i++) {
		const struct manifest_device *d =
			s->manifest->devices->pdata[i];

		if (!g_str_has_prefix(s->specs->pdata[i], d->type))
			abort();
	}
	snapshot_free(s);
	return 0;
}
