/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_INVENTORY_H
#define CORE_INVENTORY_H

#include "../compat/manifest.h"
#include "vmm.h"

/*
 * Manifests and inventories (compat/manifest.h) of what this process has
 * loaded: the bridge from live descriptions to the plain data that
 * compat/negotiate.c judges.
 */

/*
 * The manifest of the guest whose devices `vmm` holds, on machine type
 * `t` of `r` (asked for by the alias when `alias` is set). Asks each
 * device's subsections whether they are needed now, under the device lock.
 */
struct manifest *inventory_guest(struct vmm *vmm,
				 const struct machine_registry *r,
				 const struct machine_type *t, int alias);

/* This host: the device types of every loaded module, r's machine types. */
struct manifest *inventory_host(struct loader *l,
				const struct machine_registry *r);

#endif
