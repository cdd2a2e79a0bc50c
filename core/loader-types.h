/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * core/loader-types.h - a module as the host holds it once loaded, and
 * the bounds on what a module may declare. Shared by the loader
 * (core/loader.c), which keeps the registry of these, and the import of
 * a module's descriptor (core/module-import.c), which fills them in;
 * everyone else reads them through core/loader.h.
 */
#ifndef CORE_LOADER_TYPES_H
#define CORE_LOADER_TYPES_H

#include <glib.h>

#include <modvmm/module.h>

#include "modinfo.h"
#include "vmstate.h"

/* Bounds on what a module may declare; larger is refused as implausible. */
#define LOADER_STRUCT_MAX 4096
#define LOADER_MAX_TYPES 256
#define LOADER_MAX_PROPERTIES 256
#define LOADER_MAX_INSTANCE_SIZE (16u << 20)

struct module;

/* A device type as this host knows it: imported copies of the module's. */
struct device_type {
	struct modvmm_device_type t;
	struct modvmm_property *props; /* t.n_properties entries */
	struct module *module;
	unsigned int instances;
	struct state_desc *vms; /* imported t.vmstate, or NULL */
};

struct module {
	struct modinfo *info;
	char *path; /* resolved */
	/* The file as checked and mapped; open while loaded, because the
	 * module is mapped by the name /proc/self/fd/N of this descriptor. */
	int fd;
	void *handle;
	struct modvmm_module desc;
	GPtrArray *types; /* struct device_type *, owned */
	int initialized;
};

#endif
