// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/vmm.c - one VM's device world: loader, buses, guest memory map and
 * timers, and dispatch of guest accesses into devices. Device instances
 * themselves are core/device.c's, which sits above this file.
 */
#include "vmm.h"

struct vmm *vmm_new(const struct modvmm_host *host)
{
	struct vmm *vmm = g_new0(struct vmm, 1);

	g_mutex_init(&vmm->lock);
	vmm->loader = loader_new(host);
	vmm->pio = bus_new("pio");
	bus_set_last(vmm->pio, 0xffff);
	vmm->mmio = bus_new("mmio");
	/* x86-64 physical addresses have at most 52 bits. */
	bus_set_last(vmm->mmio, (UINT64_C(1) << 52) - 1);
	vmm->mem = memory_new();
	vmm->timers = timers_new(&vmm->lock);
	vmm->ioevents = ioevents_new(&vmm->lock);
	vmm->devices = g_ptr_array_new();
	return vmm;
}

void vmm_free(struct vmm *vmm)
{
	if (!vmm)
		return;
	/* A device outliving its module would run unmapped code. */
	g_warn_if_fail(vmm->devices->len == 0);
	g_ptr_array_unref(vmm->devices);
	ioevents_free(vmm->ioevents);
	timers_free(vmm->timers);
	loader_free(vmm->loader);
	memory_free(vmm->mem);
	bus_free(vmm->mmio);
	bus_free(vmm->pio);
	g_mutex_clear(&vmm->lock);
	g_free(vmm);
}

static int dispatch_read(struct vmm *vmm, struct bus *bus, uint64_t addr,
			 uint32_t width, uint64_t *ret)
{
	int r;

	g_mutex_lock(&vmm->lock);
	r = bus_read(bus, addr, width, ret);
	g_mutex_unlock(&vmm->lock);
	return r;
}

static int dispatch_write(struct vmm *vmm, struct bus *bus, uint64_t addr,
			  uint32_t width, uint64_t value)
{
	uint32_t space = bus == vmm->pio ? MODVMM_SPACE_PIO : MODVMM_SPACE_MMIO;
	int r = 0;

	g_mutex_lock(&vmm->lock);
	/* A doorbell KVM did not take (no ioeventfd): serve it here. */
	if (!ioevents_write(vmm->ioevents, space, addr, width, value))
		r = bus_write(bus, addr, width, value);
	g_mutex_unlock(&vmm->lock);
	return r;
}

int vmm_pio_read(struct vmm *vmm, uint64_t port, uint32_t width, uint64_t *ret)
{
	return dispatch_read(vmm, vmm->pio, port, width, ret);
}

int vmm_pio_write(struct vmm *vmm, uint64_t port, uint32_t width,
		  uint64_t value)
{
	return dispatch_write(vmm, vmm->pio, port, width, value);
}

int vmm_mmio_read(struct vmm *vmm, uint64_t addr, uint32_t width, uint64_t *ret)
{
	return dispatch_read(vmm, vmm->mmio, addr, width, ret);
}

int vmm_mmio_write(struct vmm *vmm, uint64_t addr, uint32_t width,
		   uint64_t value)
{
	return dispatch_write(vmm, vmm->mmio, addr, width, value);
}
