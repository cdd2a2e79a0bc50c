// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/vm-devices.c - one VM's device world: loader, buses, guest memory
 * map and timers, and dispatch of guest accesses into devices. Device
 * instances themselves are core/device.c's, which sits above this file.
 */
#include "vm-devices.h"

struct vm_devices *vm_devices_new(const struct modvmm_host *host)
{
	struct vm_devices *devs = g_new0(struct vm_devices, 1);

	g_mutex_init(&devs->lock);
	devs->loader = loader_new(host);
	devs->pio = bus_new("pio");
	bus_set_last(devs->pio, 0xffff);
	devs->mmio = bus_new("mmio");
	/* x86-64 physical addresses have at most 52 bits. */
	bus_set_last(devs->mmio, (UINT64_C(1) << 52) - 1);
	devs->mem = memory_new();
	devs->timers = timers_new(&devs->lock);
	devs->ioevents = ioevents_new(&devs->lock);
	devs->devices = g_ptr_array_new();
	return devs;
}

void vm_devices_free(struct vm_devices *devs)
{
	if (!devs)
		return;
	/* A device outliving its module would run unmapped code. */
	g_warn_if_fail(devs->devices->len == 0);
	g_ptr_array_unref(devs->devices);
	ioevents_free(devs->ioevents);
	timers_free(devs->timers);
	loader_free(devs->loader);
	memory_free(devs->mem);
	bus_free(devs->mmio);
	bus_free(devs->pio);
	g_mutex_clear(&devs->lock);
	g_free(devs);
}

static int dispatch_read(struct vm_devices *devs, struct bus *bus,
			 uint64_t addr, uint32_t width, uint64_t *ret)
{
	int r;

	g_mutex_lock(&devs->lock);
	r = bus_read(bus, addr, width, ret);
	g_mutex_unlock(&devs->lock);
	return r;
}

static int dispatch_write(struct vm_devices *devs, struct bus *bus,
			  uint64_t addr, uint32_t width, uint64_t value)
{
	uint32_t space =
		bus == devs->pio ? MODVMM_SPACE_PIO : MODVMM_SPACE_MMIO;
	int r = 0;

	g_mutex_lock(&devs->lock);
	/* A doorbell KVM did not take (no ioeventfd): serve it here. */
	if (!ioevents_write(devs->ioevents, space, addr, width, value))
		r = bus_write(bus, addr, width, value);
	g_mutex_unlock(&devs->lock);
	return r;
}

int vm_devices_pio_read(struct vm_devices *devs, uint64_t port, uint32_t width,
			uint64_t *ret)
{
	return dispatch_read(devs, devs->pio, port, width, ret);
}

int vm_devices_pio_write(struct vm_devices *devs, uint64_t port, uint32_t width,
			 uint64_t value)
{
	return dispatch_write(devs, devs->pio, port, width, value);
}

int vm_devices_mmio_read(struct vm_devices *devs, uint64_t addr, uint32_t width,
			 uint64_t *ret)
{
	return dispatch_read(devs, devs->mmio, addr, width, ret);
}

int vm_devices_mmio_write(struct vm_devices *devs, uint64_t addr,
			  uint32_t width, uint64_t value)
{
	return dispatch_write(devs, devs->mmio, addr, width, value);
}
