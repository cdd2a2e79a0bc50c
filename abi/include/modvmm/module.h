/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MODVMM_MODULE_H
#define MODVMM_MODULE_H

/*
 * The module descriptor and its metadata. This is the header a device
 * module includes.
 *
 * Loading order in the host: the .modvmm_modinfo section is read from the
 * file and checked before the file is mapped, so a module built for another
 * ABI never runs any code. Then the file is dlopen()ed, modvmm_module_init()
 * returns the descriptor, the descriptor is checked against the metadata,
 * init() runs, and the device types are registered.
 */

#include <modvmm/device.h>

_MODVMM_BEGIN_DECLARATIONS

struct modvmm_module {
	uint32_t magic; /* MODVMM_MODULE_MAGIC */
	uint16_t abi_major;
	uint16_t abi_minor;
	uint32_t size; /* sizeof(struct modvmm_module) */
	uint32_t n_device_types;
	const char *name;    /* must equal modinfo name= */
	const char *version; /* must equal modinfo version= */
	const struct modvmm_device_type *const *device_types;

	/* Optional. init returns 0 or a negative errno (load is refused). */
	int32_t (*init)(void);
	void (*exit)(void);
};

typedef const struct modvmm_module *(*modvmm_module_init_fn)(
	const struct modvmm_host *host);

/* Every module defines this and exports nothing else. */
MODVMM_EXPORT const struct modvmm_module *
modvmm_module_init(const struct modvmm_host *host);

#define MODVMM_MODULE_DESCRIPTOR_INIT                                          \
	.magic = MODVMM_MODULE_MAGIC, .abi_major = MODVMM_ABI_MAJOR,           \
	.abi_minor = MODVMM_ABI_MINOR, .size = sizeof(struct modvmm_module)

/*
 * Metadata: one NUL-terminated "key=value" string per entry, packed into
 * the .modvmm_modinfo section, readable without running the module.
 */
#define _MODVMM_CONCAT2(a, b) a##b
#define _MODVMM_CONCAT(a, b) _MODVMM_CONCAT2(a, b)
#define MODVMM_MODINFO(key, value)                                             \
	static const char _MODVMM_CONCAT(_modvmm_modinfo_, __COUNTER__)[]      \
		__attribute__((section(".modvmm_modinfo"), used,               \
			       aligned(1))) = key "=" value

#ifdef MODVMM_BUILD_INTREE
#define _MODVMM_MODINFO_INTREE MODVMM_MODINFO("intree", "Y")
#else
#define _MODVMM_MODINFO_INTREE                                                 \
	struct _modvmm_modinfo_out_of_tree /* nothing: out of tree */
#endif

/* name, version and the ABI this module was built for. */
#define MODVMM_MODULE_INFO(mname, mversion)                                    \
	MODVMM_MODINFO("name", mname);                                         \
	MODVMM_MODINFO("version", mversion);                                   \
	MODVMM_MODINFO("abi", MODVMM_ABI_STRING);                              \
	_MODVMM_MODINFO_INTREE

#define MODVMM_MODULE_LICENSE(s) MODVMM_MODINFO("license", s)
#define MODVMM_MODULE_AUTHOR(s) MODVMM_MODINFO("author", s)
#define MODVMM_MODULE_DESCRIPTION(s) MODVMM_MODINFO("description", s)
/* One per device type the module provides. */
#define MODVMM_MODULE_DEVICE(s) MODVMM_MODINFO("device", s)
/* One per state description: "NAME@VERSION" (since 1.1). */
#define MODVMM_MODULE_VMSTATE(name, version)                                   \
	MODVMM_MODINFO("vmstate", name "@" MODVMM_STRINGIFY(version))

/*
 * State saved by version `version` of this module is corrupt (a broken
 * release): hosts with this module refuse migrations from it, giving
 * `reason`. One per such version (since 1.1).
 */
#define MODVMM_MODULE_KNOWN_BAD(version, reason)                               \
	MODVMM_MODINFO("known_bad", version ": " reason)

#define MODVMM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

_MODVMM_END_DECLARATIONS

#endif
