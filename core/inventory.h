/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_INVENTORY_H
#define CORE_INVENTORY_H

#include "compat/manifest.h"
#include "vm-devices.h"

/*
 * Manifests and inventories (compat/manifest.h) of what this process has
 * loaded: the bridge from live descriptions to the plain data that
 * compat/negotiate.c judges.
 */

/*
 * The state of a device as a manifest lists it: its description, and its
 * subsections at every depth with the description each sits in. With
 * `state`, a guest's: the versions it can save (or `saved`, when not 0:
 * the version its state was saved at, in a snapshot) and the subsections
 * a save would send now; without, an inventory's: what this host loads.
 */
void inventory_describe_state(struct manifest *m, struct manifest_device *d,
			      const struct state_desc *v, const void *state,
			      uint32_t saved);

/*
 * The manifest of the guest whose devices `devs` holds, on machine type
 * `t` (asked for by the alias when `alias` is set), with CPU `cpu`
 * (copied; NULL: none listed); `saved` when its
 * state is saved at the newest versions (a snapshot file's) rather than
 * at versions a destination agrees to. Asks each
 * device's subsections whether they are needed now, under the device lock.
 */
struct manifest *inventory_guest(struct vm_devices *devs,
				 const struct machine_type *t, int alias,
				 const struct cpu_model *cpu, int saved);

/* An inventory with r's machine types and no device types yet. */
struct manifest *inventory_new(const struct machine_registry *r);

/*
 * This host: the device types of every loaded module, r's machine types,
 * the CPU it offers (`cpu`, copied; NULL: none listed).
 */
struct manifest *inventory_host(struct loader *l,
				const struct machine_registry *r,
				const struct cpu_model *cpu);

#endif
