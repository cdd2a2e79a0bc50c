// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: a kernel file as modvmm run --kernel reads it, header
 * checks and loading into a small guest RAM (zero page, e820, command
 * line). The guest RAM is host memory here: any write outside it is what
 * ASan is for.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/bzimage.h"

#define RAM (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *ram;
	static struct memory *mem;
	struct bzimage bz;
	GError *err = NULL;
	uint64_t entry;

	if (!mem) {
		ram = calloc(1, RAM);
		mem = memory_new();
		g_assert(ram && memory_add(mem, 0, RAM, ram) == 0);
	}
	if (bzimage_parse(data, size, &bz, &err) < 0) {
		g_assert(err);
		g_clear_error(&err);
		return 0;
	}
	if (bzimage_load(mem, RAM, data, size, data, size / 8,
			 "console=ttyS0", &entry, &err) < 0)
		g_assert(err);
	else
		g_assert(entry == 0x100200);
	g_clear_error(&err);
	return 0;
}
