/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_VM_DEVICES_H
#define CORE_VM_DEVICES_H

#include <glib.h>

#include <modvmm/module.h>

#include "bus.h"
#include "ioevent.h"
#include "loader.h"
#include "memory.h"
#include "timer.h"

#define VMM_IRQ_LINES 24 /* IOAPIC pins */

/*
 * What the rest of the host hears from devices. Whoever runs the VM sets
 * these; when unset, the VM only records what it was told.
 */
struct vm_devices_sinks {
	void (*irq)(void *opaque, uint32_t line, uint32_t level);
	void (*irq_pulse)(void *opaque, uint32_t line);
	void (*request)(void *opaque, uint32_t what, uint32_t arg);
	void (*log)(void *opaque, const char *id, uint32_t level,
		    const char *msg);
	void *opaque;
};

/* One virtual machine's devices and the host resources they use. */
struct vm_devices {
	/* Held across every call into module code (device "big lock"). */
	GMutex lock;
	struct loader *loader;
	struct bus *pio;
	struct bus *mmio;
	struct memory *mem;
	struct timers *timers;
	struct ioevents *ioevents;
	GPtrArray *devices; /* struct modvmm_device *, creation order */
	struct vm_devices_sinks sinks;
	uint32_t irq_level[VMM_IRQ_LINES];
	uint64_t irq_pulses[VMM_IRQ_LINES]; /* edges sent, per line */
	uint32_t last_request;		    /* MODVMM_REQUEST_*, 0 for none */
	uint32_t last_request_arg;
	/* Devices' files are opened without a lock against other
	 * processes: a guest arriving by migration, whose source holds
	 * them until it hands the guest over. */
	int no_file_locks;
};

/* `host` is the services table handed to every module this VM loads. */
struct vm_devices *vm_devices_new(const struct modvmm_host *host);
/* Unloads every module; the devices must be gone (device_destroy_all()). */
void vm_devices_free(struct vm_devices *devs);

/* Dispatch a guest access to a device, under the device lock. */
int vm_devices_pio_read(struct vm_devices *devs, uint64_t port, uint32_t width,
			uint64_t *ret);
int vm_devices_pio_write(struct vm_devices *devs, uint64_t port, uint32_t width,
			 uint64_t value);
int vm_devices_mmio_read(struct vm_devices *devs, uint64_t addr, uint32_t width,
			 uint64_t *ret);
int vm_devices_mmio_write(struct vm_devices *devs, uint64_t addr,
			  uint32_t width, uint64_t value);

#endif
