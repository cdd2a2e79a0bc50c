/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_DEVICE_H
#define CORE_DEVICE_H

#include <stdarg.h>
#include <sys/types.h>

#include <glib.h>

#include "vm-devices.h"

/* A device instance. Modules only ever see a pointer to it. */
struct modvmm_device {
	struct vm_devices *devs;
	struct device_type *type;
	char *id;
	void *state;	    /* type->t.instance_size bytes */
	GPtrArray *strings; /* string property values, owned */
	GPtrArray *timers;  /* struct modvmm_timer *, owned */
	/* During realize: the first host service failure, or the first
	 * error the module logs (error_logged), held as the reason. */
	GError *error;
	int realizing;
	int error_logged;
	/* Per property of its type: who set it (enum device_prop_origin). */
	uint8_t *prop_origin;
	GArray *files; /* struct device_file: what it opened (file_open) */
};

/* A file a device opened through the host (device_file_open()). */
struct device_file {
	char *path;
	dev_t st_dev;
	ino_t st_ino;
	int write;
	int fd;	    /* a duplicate: the open file description locked */
	int locked; /* its lock is held */
};

enum device_prop_origin {
	DEVICE_PROP_DEFAULT = 0, /* nobody: the type's default, or a value
				    carried over from a migration's source */
	DEVICE_PROP_MACHINE = 1, /* a compat property of the machine type */
	DEVICE_PROP_USER = 2,	 /* --device, device-add */
};

/*
 * Creates and realizes a device from "TYPE[,id=ID][,PROP=VALUE...]", the
 * form of --device. Properties not given take the type's defaults.
 */
int device_create(struct vm_devices *devs, const char *spec,
		  struct modvmm_device **ret, GError **error);

/*
 * The same, with `machine_props` ("PROP=VALUE,...", or NULL) set first, as
 * the machine type's compat properties: the device remembers which values
 * the machine type set and which the spec did.
 */
int device_create_machine(struct vm_devices *devs, const char *spec,
			  const char *machine_props, struct modvmm_device **ret,
			  GError **error);

/* Unrealizes, releases its regions and timers, and frees. NULL is fine. */
void device_destroy(struct modvmm_device *dev);

struct modvmm_device *device_find(struct vm_devices *devs, const char *id);

/* A property's current value as --device would take it ("on", "1016"). */
char *device_prop_text(const struct modvmm_device *dev,
		       const struct modvmm_property *p);
/* A property type's name, as the module guide names it ("u16", "bool"). */
const char *device_prop_type_name(uint32_t type);

/* A value of property p's type in that form. */
char *device_prop_value_text(const struct modvmm_property *p, uint64_t v,
			     const char *str);
/* Its legacy value (MODVMM_PROP_LEGACY) in that form, or NULL. */
char *device_prop_legacy_text(const struct modvmm_property *p);

/*
 * A device's timer: the handle a module holds. The device owns it, so its
 * timers go when it does.
 */
struct modvmm_timer {
	struct timer *t;
	struct modvmm_device *dev;
};

/*
 * The host service file_open (abi/include/modvmm/host.h): opens `path`
 * for `dev`, refusing a file another device of the VM writes (or that
 * this one would write while another has it), and takes an open file
 * description lock on it against other processes, unless the VM was
 * told not to (devs->no_file_locks). The descriptor, or -errno with the
 * reason in *error.
 */
int device_file_open(struct modvmm_device *dev, const char *path,
		     uint32_t flags, GError **error);

/*
 * The locks of every device's files, handed over in a migration: the
 * source lets them go when it commits, the destination takes them before
 * the guest runs there, and a source resumed after an unknown end takes
 * them back (refused while the destination holds them).
 */
int devices_lock_files(struct vm_devices *devs, GError **error);
void devices_unlock_files(struct vm_devices *devs);

struct modvmm_timer *device_timer_new(struct modvmm_device *dev,
				      modvmm_timer_cb cb, void *opaque);
void device_timer_free(struct modvmm_timer *mt);

/* Logs through the VM's log sink, prefixed by the device id. */
void device_logv(struct modvmm_device *dev, uint32_t level, const char *fmt,
		 va_list ap) G_GNUC_PRINTF(3, 0);
void device_log(struct modvmm_device *dev, uint32_t level, const char *fmt, ...)
	G_GNUC_PRINTF(3, 4);

/* Destroys every device, newest first. */
void device_destroy_all(struct vm_devices *devs);

/* Resets every device, in creation order. */
void device_reset_all(struct vm_devices *devs);

#endif
