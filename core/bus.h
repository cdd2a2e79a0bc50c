/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_BUS_H
#define CORE_BUS_H

#include <glib.h>

#include <modvmm/device.h>

struct bus;

struct bus *bus_new(const char *name);
void bus_free(struct bus *bus);

/* The space's last address (UINT64_MAX until set): 0xffff for ports. */
void bus_set_last(struct bus *bus, uint64_t last);

/*
 * [base, base + length) is the machine's (`what` names it: "guest RAM",
 * "the in-kernel IOAPIC"): no device may claim any of it.
 */
void bus_reserve(struct bus *bus, uint64_t base, uint64_t length,
		 const char *what);

/*
 * Claims [base, base + length) for `owner` (a device handle, only compared;
 * owner_id names it to others). -ERANGE when it does not fit in the space;
 * -EBUSY when it overlaps a reserved range or an existing region; the
 * message names both ranges and the other owner.
 */
int bus_add(struct bus *bus, const struct modvmm_region *region, void *opaque,
	    const void *owner, const char *owner_id, GError **error);
void bus_remove_owner(struct bus *bus, const void *owner);

/*
 * Dispatch one access of 1, 2, 4 or 8 bytes. Returns 0 when a region claims
 * all of it, -ENOENT otherwise (a read then yields all-ones). The caller
 * serialises dispatch with every other call into device code.
 */
int bus_read(struct bus *bus, uint64_t addr, uint32_t width, uint64_t *ret);
int bus_write(struct bus *bus, uint64_t addr, uint32_t width, uint64_t value);

/* Calls fn for each region with an acpi_hid, in address order (the
 * region handed over carries base, length, name and the acpi_ members). */
void bus_foreach_announced(struct bus *bus,
			   void (*fn)(void *opaque,
				      const struct modvmm_region *r),
			   void *opaque);

/* True only the first time `addr` is reported: log unclaimed access once. */
int bus_unclaimed_first(struct bus *bus, uint64_t addr);

#endif
