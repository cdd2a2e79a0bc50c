// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/boot.c - the state a guest finds in memory at its first instruction:
 * GDT, IDT, identity-mapped page tables, and a flat image at 1 MiB. Linux's
 * own boot protocol (zero page, command line, initrd) is core/bzimage.c's.
 */
#include <errno.h>
#include <string.h>

#include "boot.h"
#include "base/error.h"

#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_PS 0x80ull

static uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000u) << 32) |
	       ((uint64_t)(flags & 0xf0ffu) << 40) |
	       ((uint64_t)(limit & 0xf0000u) << 32) |
	       ((uint64_t)(base & 0x00ffffffu) << 16) |
	       (uint64_t)(limit & 0xffffu);
}

int boot_write_tables(struct memory *mem, GError **error)
{
	uint64_t gdt[5] = {
		[BOOT_CS / 8] = gdt_entry(0xa09b, 0, 0xfffff),	/* code, L */
		[BOOT_DS / 8] = gdt_entry(0xc093, 0, 0xfffff),	/* data */
		[BOOT_TSS / 8] = gdt_entry(0x808b, 0, 0xfffff), /* TSS */
	};
	uint64_t idt = 0, pml4 = BOOT_PDPT | PTE_P | PTE_RW;
	uint64_t pdpt[4], pd[512];

	if (memory_write(mem, BOOT_GDT, gdt, sizeof(gdt)) < 0 ||
	    memory_write(mem, BOOT_IDT, &idt, sizeof(idt)) < 0 ||
	    memory_write(mem, BOOT_PML4, &pml4, sizeof(pml4)) < 0)
		return error_setf(error, EFAULT,
				  "guest memory too small for boot tables");
	for (unsigned int i = 0; i < 4; i++) {
		pdpt[i] = (BOOT_PD + i * 4096) | PTE_P | PTE_RW;
		for (unsigned int j = 0; j < 512; j++)
			pd[j] = ((uint64_t)i << 30) | ((uint64_t)j << 21) |
				PTE_P | PTE_RW | PTE_PS;
		if (memory_write(mem, BOOT_PD + i * 4096, pd, sizeof(pd)) < 0)
			return error_setf(error, EFAULT,
					  "guest memory too small for page "
					  "tables");
	}
	if (memory_write(mem, BOOT_PDPT, pdpt, sizeof(pdpt)) < 0)
		return error_setf(error, EFAULT,
				  "guest memory too small for page tables");
	return 0;
}

int boot_load_flat(struct memory *mem, const void *image, size_t size,
		   GError **error)
{
	if (memory_write(mem, BOOT_KERNEL, image, size) < 0)
		return error_setf(
			error, EFBIG,
			"guest image of %zu bytes does not fit in guest "
			"memory at 0x%llx",
			size, BOOT_KERNEL);
	return 0;
}
