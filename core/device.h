/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_DEVICE_H
#define CORE_DEVICE_H

#include <glib.h>

#include "vmm.h"

/* A device instance. Modules only ever see a pointer to it. */
struct modvmm_device {
	struct vmm *vmm;
	struct device_type *type;
	char *id;
	void *state;	    /* type->t.instance_size bytes */
	GPtrArray *strings; /* string property values, owned */
	GPtrArray *timers;  /* struct modvmm_timer *, owned */
	GError *error;	    /* first host service failure during realize */
};

/*
 * Creates and realizes a device from "TYPE[,id=ID][,PROP=VALUE...]", the
 * form of --device. Properties not given take the type's defaults.
 */
int device_create(struct vmm *vmm, const char *spec, struct modvmm_device **ret,
		  GError **error);

/* Unrealizes, releases its regions and timers, and frees. NULL is fine. */
void device_destroy(struct modvmm_device *dev);

struct modvmm_device *device_find(struct vmm *vmm, const char *id);

/* Frees the timers a device still has (core/host.c owns them). */
void host_timer_free_all(struct modvmm_device *dev);

/* Resets every device, in creation order. */
void device_reset_all(struct vmm *vmm);

#endif
