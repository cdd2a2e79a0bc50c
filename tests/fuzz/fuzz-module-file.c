// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: a whole module file as the loader reads it before
 * dlopen (ELF headers, section table, modinfo, dynamic symbols).
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/modinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct modinfo *mi = NULL;
	GError *err = NULL;
	int fd = memfd_create("fuzz.so", MFD_CLOEXEC);

	g_assert(fd >= 0);
	g_assert(write(fd, data, size) == (ssize_t)size);
	if (modinfo_read_fd(fd, "fuzz.so", &mi, &err) < 0)
		g_assert(err && !mi);
	modinfo_free(mi);
	g_clear_error(&err);
	close(fd);
	return 0;
}
