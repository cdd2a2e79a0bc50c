/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_ACPI_H
#define CORE_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "memory.h"

#define ACPI_TABLES_BASE 0xe0000ull /* RSDP here: Linux scans 0xe0000-0xfffff */
#define ACPI_TABLES_SIZE 0x20000u
#define ACPI_NO_IRQ UINT32_MAX

struct acpi_device {
	const char *hid; /* "LNRO0005", "PNP0B00", ... */
	uint32_t
		space; /* MODVMM_SPACE_PIO or MODVMM_SPACE_MMIO (<modvmm/device.h>) */
	uint64_t base;
	uint64_t length;
	uint32_t irq; /* GSI, or ACPI_NO_IRQ */
};

/* An ACPI id (LNRO0005) or a PNP id (PNP0B00), as a _HID must be. */
int acpi_hid_valid(const char *hid);

/*
 * Writes RSDP, XSDT, FADT, MADT (one local APIC per vCPU, the IOAPIC at
 * 0xfec00000 with GSI base 0, KVM's in-kernel irqchip), and a DSDT
 * describing `devs` under \_SB, into guest memory at ACPI_TABLES_BASE.
 * -E2BIG (with the reason in *error) if they do not fit; -EINVAL for a
 * vCPU count or device the tables cannot describe; -EFAULT if guest RAM does
 * not cover ACPI_TABLES_BASE..+ACPI_TABLES_SIZE.
 */
int acpi_write_tables(struct memory *mem, unsigned int ncpus,
		      const struct acpi_device *devs, size_t n_devs,
		      GError **error);

#endif
