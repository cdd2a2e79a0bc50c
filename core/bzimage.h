/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_BZIMAGE_H
#define CORE_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "memory.h"

/* What the x86 boot protocol header of a bzImage says. */
struct bzimage {
	uint16_t version;     /* boot protocol, e.g. 0x020f */
	uint32_t setup_size;  /* bytes before the protected-mode kernel */
	uint32_t kernel_size; /* protected-mode kernel bytes in the file */
	uint32_t init_size;   /* memory the kernel needs from its load
				   address while it decompresses */
	uint32_t cmdline_max; /* longest command line it accepts */
	uint32_t initrd_max;  /* highest address an initrd may end at */
	uint32_t header_end;  /* end of the setup header in the file */
	int relocatable;
};

/* Checks a bzImage header: every refusal names the offset and values. */
int bzimage_parse(const uint8_t *data, size_t size, struct bzimage *ret,
		  GError **error);

/*
 * Loads kernel (at 1 MiB), initrd (at the top of low RAM, below the
 * kernel's limit) and command line, and writes the zero page with an e820
 * map for `ram_size` bytes of RAM as core/kvm.c lays it out. Returns the
 * 64-bit entry point in *ret_entry.
 */
int bzimage_load(struct memory *mem, uint64_t ram_size, const uint8_t *kernel,
		 size_t kernel_size, const uint8_t *initrd, size_t initrd_size,
		 const char *cmdline, uint64_t *ret_entry, GError **error);

#endif
