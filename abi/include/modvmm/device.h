/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MODVMM_DEVICE_H
#define MODVMM_DEVICE_H

/*
 * Device types: what a module provides. The host allocates each instance's
 * state (instance_size bytes, zeroed), writes property values into it at
 * the declared offsets, then calls realize().
 */

#include <modvmm/host.h>
#include <modvmm/vmstate.h>

_MODVMM_BEGIN_DECLARATIONS

enum {
	MODVMM_SPACE_PIO = 1,
	MODVMM_SPACE_MMIO = 2,
};

/* Accesses are 1, 2, 4 or 8 bytes wide; offset is from the region base. */
typedef uint64_t (*modvmm_read_fn)(void *opaque, uint64_t offset,
				   uint32_t width);
typedef void (*modvmm_write_fn)(void *opaque, uint64_t offset, uint64_t value,
				uint32_t width);

struct modvmm_region {
	uint32_t size;
	uint32_t space; /* MODVMM_SPACE_* */
	uint64_t base;
	uint64_t length;
	const char *name;
	modvmm_read_fn read;   /* NULL: reads return all-ones */
	modvmm_write_fn write; /* NULL: writes are ignored */

	/*
	 * Since 1.2. A range with an acpi_hid is announced to a Linux guest
	 * as a device in the ACPI tables the host writes (DSDT): its
	 * hardware id ("LNRO0005" for virtio-mmio, "PNP0B00" for an RTC),
	 * the range, and the interrupt acpi_irq (a GSI, edge-triggered,
	 * active-high) when acpi_flags has MODVMM_ACPI_IRQ. NULL: the guest
	 * finds the range some other way.
	 */
	const char *acpi_hid;
	uint32_t acpi_irq;
	uint32_t acpi_flags; /* MODVMM_ACPI_* */
};

#define MODVMM_ACPI_IRQ 0x1u /* acpi_irq is valid */

enum {
	MODVMM_PROP_U8 = 1,
	MODVMM_PROP_U16 = 2,
	MODVMM_PROP_U32 = 3,
	MODVMM_PROP_U64 = 4,
	MODVMM_PROP_BOOL = 5, /* stored as uint8_t, 0 or 1 */
	MODVMM_PROP_STR = 6,  /* stored as const char *, owned by the host */
};

struct modvmm_property {
	uint32_t size;
	uint32_t type;	 /* MODVMM_PROP_* */
	uint32_t offset; /* where the value goes in the instance state */
	uint32_t reserved;
	const char *name;
	const char *description;
	uint64_t default_u64; /* integer and bool types */
	const char *default_str;

	/*
	 * Since 1.3. A property added in a later release of its device type
	 * sets MODVMM_PROP_LEGACY and gives, in legacy_u64 or legacy_str as
	 * for the default, the value that behaves as the releases before it
	 * did. A host whose release of the type lacks the property takes a
	 * migrating guest whose value is that one (and only then); a host
	 * that has it gives it that value for a guest whose source lacked
	 * it. Older machine types set it through their compat properties.
	 */
	uint32_t flags; /* MODVMM_PROP_LEGACY */
	uint32_t reserved2;
	uint64_t legacy_u64;
	const char *legacy_str;
};

#define MODVMM_PROP_LEGACY 0x1u /* legacy_u64 or legacy_str is valid */

struct modvmm_device_type {
	uint32_t size;
	uint32_t instance_size;
	const char *name;
	const char *description;

	const struct modvmm_property *properties; /* n_properties entries */
	uint32_t n_properties;
	uint32_t reserved;

	/* 0 or a negative errno; on failure nothing else is called. */
	int32_t (*realize)(struct modvmm_device *dev, void *state);
	void (*unrealize)(struct modvmm_device *dev, void *state);
	void (*reset)(struct modvmm_device *dev, void *state);

	/* Since 1.1. NULL: the device has no state description, and a
	 * machine with it cannot migrate (the reason is given up front). */
	const struct modvmm_vmstate *vmstate;
};

#define _MODVMM_PROP(ptype, pname, stype, member, def_u, def_s, desc)          \
	{                                                                      \
		.size = sizeof(struct modvmm_property), .type = (ptype),       \
		.offset = offsetof(stype, member), .name = (pname),            \
		.description = (desc), .default_u64 = (def_u),                 \
		.default_str = (def_s),                                        \
	}
/*
 * A property added in a later release: `legacy` is the value that
 * behaves as the releases before it did (a string for _STR_ADDED).
 */
#define _MODVMM_PROP_ADDED(ptype, pname, stype, member, def_u, def_s, leg_u,   \
			   leg_s, desc)                                        \
	{                                                                      \
		.size = sizeof(struct modvmm_property), .type = (ptype),       \
		.offset = offsetof(stype, member), .name = (pname),            \
		.description = (desc), .default_u64 = (def_u),                 \
		.default_str = (def_s), .flags = MODVMM_PROP_LEGACY,           \
		.legacy_u64 = (leg_u), .legacy_str = (leg_s),                  \
	}
#define MODVMM_PROP_U8_ADDED(n, s, m, d, legacy, desc)                         \
	_MODVMM_PROP_ADDED(MODVMM_PROP_U8, n, s, m, d, NULL, legacy, NULL, desc)
#define MODVMM_PROP_U16_ADDED(n, s, m, d, legacy, desc)                        \
	_MODVMM_PROP_ADDED(MODVMM_PROP_U16, n, s, m, d, NULL, legacy, NULL,    \
			   desc)
#define MODVMM_PROP_U32_ADDED(n, s, m, d, legacy, desc)                        \
	_MODVMM_PROP_ADDED(MODVMM_PROP_U32, n, s, m, d, NULL, legacy, NULL,    \
			   desc)
#define MODVMM_PROP_U64_ADDED(n, s, m, d, legacy, desc)                        \
	_MODVMM_PROP_ADDED(MODVMM_PROP_U64, n, s, m, d, NULL, legacy, NULL,    \
			   desc)
#define MODVMM_PROP_BOOL_ADDED(n, s, m, d, legacy, desc)                       \
	_MODVMM_PROP_ADDED(MODVMM_PROP_BOOL, n, s, m, d, NULL, legacy, NULL,   \
			   desc)
#define MODVMM_PROP_STR_ADDED(n, s, m, d, legacy, desc)                        \
	_MODVMM_PROP_ADDED(MODVMM_PROP_STR, n, s, m, 0, d, 0, legacy, desc)

#define MODVMM_PROP_U8_DEFINE(n, s, m, d, desc)                                \
	_MODVMM_PROP(MODVMM_PROP_U8, n, s, m, d, NULL, desc)
#define MODVMM_PROP_U16_DEFINE(n, s, m, d, desc)                               \
	_MODVMM_PROP(MODVMM_PROP_U16, n, s, m, d, NULL, desc)
#define MODVMM_PROP_U32_DEFINE(n, s, m, d, desc)                               \
	_MODVMM_PROP(MODVMM_PROP_U32, n, s, m, d, NULL, desc)
#define MODVMM_PROP_U64_DEFINE(n, s, m, d, desc)                               \
	_MODVMM_PROP(MODVMM_PROP_U64, n, s, m, d, NULL, desc)
#define MODVMM_PROP_BOOL_DEFINE(n, s, m, d, desc)                              \
	_MODVMM_PROP(MODVMM_PROP_BOOL, n, s, m, d, NULL, desc)
#define MODVMM_PROP_STR_DEFINE(n, s, m, d, desc)                               \
	_MODVMM_PROP(MODVMM_PROP_STR, n, s, m, 0, d, desc)

_MODVMM_END_DECLARATIONS

#endif
