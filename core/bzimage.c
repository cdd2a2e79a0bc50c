// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/bzimage.c - booting Linux by the x86 64-bit boot protocol
 * (Documentation/arch/x86/boot.rst): header checks, zero page, e820 map,
 * command line and initrd.
 *
 * The image is untrusted input: every offset is checked against the file
 * size before it is read, and every refusal says which field and value.
 */
#include <errno.h>
#include <string.h>

#include "boot.h"
#include "bzimage.h"
#include "base/error.h"
#include "kvm.h"

/* Offsets in the file and in struct boot_params (the zero page). */
#define BP_E820_ENTRIES 0x1e8
#define HDR_SETUP_SECTS 0x1f1
#define HDR_SYSSIZE 0x1f4
#define HDR_BOOT_FLAG 0x1fe
#define HDR_JUMP 0x200
#define HDR_HEADER 0x202
#define HDR_VERSION 0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS 0x211
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_HEAP_END_PTR 0x224
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_ADDR_MAX 0x22c
#define HDR_RELOCATABLE 0x234
#define HDR_XLOADFLAGS 0x236
#define HDR_CMDLINE_SIZE 0x238
#define HDR_INIT_SIZE 0x260
#define BP_E820_TABLE 0x2d0
#define E820_MAX 128

#define HDRS_MAGIC 0x53726448u /* "HdrS" */
#define LOADED_HIGH 0x01
#define CAN_USE_HEAP 0x80
#define XLF_KERNEL_64 0x01
#define E820_RAM 1
#define E820_RESERVED 2

static uint32_t rd(const uint8_t *p, size_t off, int n)
{
	uint32_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[off + (size_t)i];
	return v;
}

static void wr(uint8_t *p, size_t off, int n, uint64_t v)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[off + (size_t)i] = (uint8_t)v;
}

int bzimage_parse(const uint8_t *data, size_t size, struct bzimage *ret,
		  GError **error)
{
	uint32_t sects, syssize;

	memset(ret, 0, sizeof(*ret));
	if (size < HDR_INIT_SIZE + 4)
		return error_setf(error, ENOEXEC,
				  "not a bzImage: %zu bytes, too short for the "
				  "boot protocol header (0x%x)",
				  size, HDR_INIT_SIZE + 4);
	if (rd(data, HDR_BOOT_FLAG, 2) != 0xaa55)
		return error_setf(error, ENOEXEC,
				  "not a bzImage: boot flag at 0x%x is 0x%04x, "
				  "expected 0xaa55",
				  HDR_BOOT_FLAG, rd(data, HDR_BOOT_FLAG, 2));
	if (rd(data, HDR_HEADER, 4) != HDRS_MAGIC)
		return error_setf(
			error, ENOEXEC,
			"not a bzImage: no \"HdrS\" header signature at "
			"0x%x",
			HDR_HEADER);
	ret->version = (uint16_t)rd(data, HDR_VERSION, 2);
	if (ret->version < 0x020c)
		return error_setf(error, ENOTSUP,
				  "bzImage boot protocol %u.%02u is too old: "
				  "the 64-bit entry needs 2.12",
				  ret->version >> 8, ret->version & 0xff);
	if (!(rd(data, HDR_LOADFLAGS, 1) & LOADED_HIGH))
		return error_setf(error, ENOTSUP,
				  "zImage (loaded low) is not supported: "
				  "loadflags 0x%02x lacks LOADED_HIGH",
				  rd(data, HDR_LOADFLAGS, 1));
	if (!(rd(data, HDR_XLOADFLAGS, 2) & XLF_KERNEL_64))
		return error_setf(
			error, ENOTSUP,
			"kernel has no 64-bit entry point (xloadflags "
			"0x%04x lacks XLF_KERNEL_64)",
			rd(data, HDR_XLOADFLAGS, 2));
	ret->header_end = HDR_JUMP + 2 + rd(data, HDR_JUMP + 1, 1);
	if (ret->header_end > 0x1000)
		return error_setf(error, ENOEXEC,
				  "corrupt bzImage: setup header would end at "
				  "0x%x, beyond the zero page",
				  ret->header_end);
	if (ret->header_end > size)
		return error_setf(
			error, ENOEXEC,
			"truncated bzImage: setup header ends at 0x%x, "
			"the file has %zu bytes",
			ret->header_end, size);
	sects = rd(data, HDR_SETUP_SECTS, 1);
	if (!sects)
		sects = 4;
	syssize = rd(data, HDR_SYSSIZE, 4);
	ret->setup_size = (sects + 1) * 512;
	ret->kernel_size = (uint32_t)(size - MIN(size, ret->setup_size));
	if (ret->setup_size >= size ||
	    (uint64_t)syssize * 16 > (uint64_t)ret->kernel_size)
		return error_setf(
			error, ENOEXEC,
			"truncated bzImage: header announces %u setup "
			"and %" G_GUINT64_FORMAT
			" kernel bytes, the file has %zu",
			ret->setup_size, (guint64)syssize * 16, size);
	ret->init_size = rd(data, HDR_INIT_SIZE, 4);
	ret->cmdline_max = rd(data, HDR_CMDLINE_SIZE, 4);
	ret->initrd_max = rd(data, HDR_INITRD_ADDR_MAX, 4);
	ret->relocatable = rd(data, HDR_RELOCATABLE, 1);
	return 0;
}

/* RAM as core/kvm.c maps it, with the legacy holes marked. */
static int e820_write(uint8_t *zp, uint64_t ram_size)
{
	uint64_t low = MIN(ram_size, KVM_RAM_LOW_MAX);
	const struct {
		uint64_t addr, size;
		uint32_t type;
	} map[] = {
		{ 0, 0x9fc00, E820_RAM },
		{ 0x9fc00, 0x400, E820_RESERVED },
		{ 0xe0000, 0x20000, E820_RESERVED },
		{ BOOT_KERNEL, low - BOOT_KERNEL, E820_RAM },
		{ KVM_HOLE_END, ram_size - low, E820_RAM },
	};
	int n = 0;

	for (size_t i = 0; i < G_N_ELEMENTS(map); i++) {
		size_t off = BP_E820_TABLE + (size_t)n * 20;

		if (!map[i].size)
			continue;
		wr(zp, off, 8, map[i].addr);
		wr(zp, off + 8, 8, map[i].size);
		wr(zp, off + 16, 4, map[i].type);
		n++;
	}
	zp[BP_E820_ENTRIES] = (uint8_t)n;
	return n;
}

int bzimage_load(struct memory *mem, uint64_t ram_size, const uint8_t *kernel,
		 size_t kernel_size, const uint8_t *initrd, size_t initrd_size,
		 const char *cmdline, uint64_t *ret_entry, GError **error)
{
	uint64_t low = MIN(ram_size, KVM_RAM_LOW_MAX), initrd_addr = 0, top;
	size_t cmdlen = cmdline ? strlen(cmdline) : 0;
	uint8_t zp[4096] = { 0 };
	struct bzimage bz;
	int r;

	r = bzimage_parse(kernel, kernel_size, &bz, error);
	if (r < 0)
		return r;
	if (BOOT_KERNEL + MAX(bz.kernel_size, bz.init_size) > low)
		return error_setf(
			error, ENOMEM,
			"kernel needs %u MiB from 1 MiB up while it "
			"starts; guest RAM below 3 GiB is %" G_GUINT64_FORMAT
			" MiB",
			MAX(bz.kernel_size, bz.init_size) >> 20,
			(guint64)(low >> 20));
	if (cmdlen > bz.cmdline_max || cmdlen >= BOOT_CMDLINE_MAX)
		return error_setf(
			error, E2BIG,
			"kernel command line is %zu bytes; this kernel "
			"accepts at most %u",
			cmdlen, MIN(bz.cmdline_max, BOOT_CMDLINE_MAX - 1));
	if (initrd_size) {
		/* At the top of low RAM, page aligned, below the kernel's
		 * limit, and clear of the kernel while it decompresses. */
		top = MIN(low, (uint64_t)bz.initrd_max + 1);
		if (initrd_size > top)
			return error_setf(
				error, ENOMEM,
				"initrd of %zu MiB does not fit below "
				"%" G_GUINT64_FORMAT " MiB",
				initrd_size >> 20, (guint64)(top >> 20));
		initrd_addr = (top - initrd_size) & ~0xfffull;
		if (initrd_addr <
		    BOOT_KERNEL + MAX(bz.kernel_size, bz.init_size))
			return error_setf(error, ENOMEM,
					  "initrd of %zu MiB and kernel do not "
					  "both fit in %" G_GUINT64_FORMAT
					  " MiB of guest RAM",
					  initrd_size >> 20,
					  (guint64)(low >> 20));
		if (memory_write(mem, initrd_addr, initrd, initrd_size) < 0)
			return error_setf(error, EFAULT,
					  "writing initrd failed");
	}

	memcpy(zp + HDR_SETUP_SECTS, kernel + HDR_SETUP_SECTS,
	       bz.header_end - HDR_SETUP_SECTS);
	zp[HDR_TYPE_OF_LOADER] = 0xff;
	zp[HDR_LOADFLAGS] |= CAN_USE_HEAP;
	wr(zp, HDR_HEAP_END_PTR, 2, 0xfe00);
	wr(zp, HDR_CMD_LINE_PTR, 4, BOOT_CMDLINE);
	wr(zp, HDR_RAMDISK_IMAGE, 4, initrd_addr);
	wr(zp, HDR_RAMDISK_SIZE, 4, initrd_size);
	e820_write(zp, ram_size);

	if (memory_write(mem, BOOT_KERNEL, kernel + bz.setup_size,
			 bz.kernel_size) < 0 ||
	    memory_write(mem, BOOT_CMDLINE, cmdline ? cmdline : "",
			 cmdlen + 1) < 0 ||
	    memory_write(mem, BOOT_ZERO_PAGE, zp, sizeof(zp)) < 0)
		return error_setf(error, EFAULT,
				  "guest RAM too small for the "
				  "kernel");
	*ret_entry = BOOT_KERNEL + 0x200; /* startup_64 */
	return 0;
}
