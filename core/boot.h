/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_BOOT_H
#define CORE_BOOT_H

#include <stdint.h>

#include <glib.h>

#include "memory.h"

/*
 * Guest physical layout of what the host writes before the first
 * instruction. Everything sits below 640 KiB, where neither Linux nor the
 * built-in guest puts anything of its own.
 */
#define BOOT_GDT 0x500ull
#define BOOT_IDT 0x540ull
#define BOOT_ZERO_PAGE 0x7000ull
#define BOOT_PML4 0x9000ull
#define BOOT_PDPT 0xa000ull
#define BOOT_PD 0xb000ull /* 4 pages: 4 GiB in 2 MiB pages */
#define BOOT_CMDLINE 0x20000ull
#define BOOT_CMDLINE_MAX 0x10000u
#define BOOT_STACK 0x8ff00ull
#define BOOT_KERNEL 0x100000ull /* 1 MiB: bzImage and built-in guest */

/* Selectors the x86 64-bit boot protocol asks for. */
#define BOOT_CS 0x10
#define BOOT_DS 0x18
#define BOOT_TSS 0x20

/* Writes the GDT, an empty IDT and identity page tables for 0..4 GiB. */
int boot_write_tables(struct memory *mem, GError **error);

/* Copies a flat image to BOOT_KERNEL; -EFBIG if it does not fit in RAM. */
int boot_load_flat(struct memory *mem, const void *image, size_t size,
		   GError **error);

#endif
