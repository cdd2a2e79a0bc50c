/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MODVMM_ABI_H
#define MODVMM_ABI_H

/*
 * modvmm module ABI: version, changelog and the rules every public struct
 * follows.
 *
 * Changelog, one line per minor bump. A module built for 1.N loads in a
 * host of 1.M for every M >= N; the major changes only when that promise
 * has to be broken.
 *
 *   1.0  module descriptor, device types, typed properties, PIO/MMIO
 *        regions, host services (log, irq, guest memory, clock, timers,
 *        VM requests), .modvmm_modinfo metadata
 *   1.1  device state descriptions (modvmm/vmstate.h), appended to
 *        struct modvmm_device_type as `vmstate`; vmstate= metadata;
 *        retired_in on a live field (MODVMM_VMS_REUSING_FIELD) and
 *        known_bad= metadata (MODVMM_MODULE_KNOWN_BAD), no struct change
 *   1.2  host services irq_pulse (edge interrupts, KVM irqfd) and
 *        notify_add (guest write notifications, KVM ioeventfd); struct
 *        modvmm_region gains acpi_hid, acpi_irq and acpi_flags (ranges
 *        announced to the guest's ACPI tables)
 *   1.3  struct modvmm_property gains flags, legacy_u64 and legacy_str:
 *        the value of a property added in a later release that gives
 *        the behaviour of the releases before it (MODVMM_PROP_*_ADDED)
 *   1.4  host service file_open: a device's backing file opened by the
 *        host, which refuses one another device or process writes
 *        (an advisory lock on the file) and names the holder
 *
 * Rules for every struct in this SDK:
 *  - its first member is uint32_t size, set by the side that fills it in
 *    to sizeof() as that side was built;
 *  - members are only ever appended; a reader that gets a shorter struct
 *    treats the missing tail as zero, a longer one is accepted only if the
 *    tail it does not know is all zero;
 *  - fixed-width integers only: no bool, enum, off_t, long or glib types;
 *  - host objects are opaque handles.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
#define _MODVMM_BEGIN_DECLARATIONS extern "C" {
#define _MODVMM_END_DECLARATIONS }
#else
#define _MODVMM_BEGIN_DECLARATIONS
#define _MODVMM_END_DECLARATIONS
#endif

#define MODVMM_ABI_MAJOR 1
#define MODVMM_ABI_MINOR 4

#define _MODVMM_STR(x) #x
#define MODVMM_STRINGIFY(x) _MODVMM_STR(x)
#define MODVMM_ABI_STRING                                                      \
	MODVMM_STRINGIFY(MODVMM_ABI_MAJOR)                                     \
	"." MODVMM_STRINGIFY(MODVMM_ABI_MINOR)

/* "MVM1" read as a little-endian word: a descriptor's first four bytes. */
#define MODVMM_MODULE_MAGIC UINT32_C(0x314d564d)

/* The one symbol a module exports. */
#define MODVMM_MODULE_ENTRY "modvmm_module_init"

#define MODVMM_EXPORT __attribute__((visibility("default")))

/* True when a struct filled in by the other side has member m. */
#define MODVMM_HAS_MEMBER(p, type, m)                                          \
	((p)->size >= offsetof(type, m) + sizeof(((type *)0)->m))

#endif
