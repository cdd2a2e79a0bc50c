// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/host.c - the host services table handed to every module.
 *
 * Each service finds its VM through the device handle and forwards to the
 * file that owns the resource (device.c, bus.c, memory.c, timer.c). They
 * are called from device code, so the device lock is already held; none of
 * them takes it again.
 */
#include <errno.h>
#include <stdarg.h>

#include "device.h"
#include "base/error.h"
#include "host.h"
#include "compat/abi-rules.h"

static void host_log(struct modvmm_device *dev, uint32_t level, const char *fmt,
		     ...) G_GNUC_PRINTF(3, 4);

static void host_log(struct modvmm_device *dev, uint32_t level, const char *fmt,
		     ...)
{
	va_list ap;

	va_start(ap, fmt);
	device_logv(dev, level, fmt, ap);
	va_end(ap);
}

/* Kept for device_create(): the reason a realize failed. */
static void keep_error(struct modvmm_device *dev, int r, GError *err)
{
	if (r < 0 && !dev->error)
		dev->error = err;
	else if (r < 0)
		g_error_free(err);
}

static int32_t host_irq_set(struct modvmm_device *dev, uint32_t line,
			    uint32_t level)
{
	struct vm_devices *devs = dev->devs;

	if (line >= VMM_IRQ_LINES || level > 1)
		return -EINVAL;
	devs->irq_level[line] = level;
	if (devs->sinks.irq)
		devs->sinks.irq(devs->sinks.opaque, line, level);
	return 0;
}

static int32_t host_irq_pulse(struct modvmm_device *dev, uint32_t line)
{
	struct vm_devices *devs = dev->devs;

	if (line >= VMM_IRQ_LINES)
		return -EINVAL;
	devs->irq_pulses[line]++;
	if (devs->sinks.irq_pulse)
		devs->sinks.irq_pulse(devs->sinks.opaque, line);
	return 0;
}

static int32_t host_notify_add(struct modvmm_device *dev, uint32_t space,
			       uint64_t addr, uint32_t width, uint64_t value,
			       modvmm_notify_cb cb, void *opaque)
{
	GError *err = NULL;
	int r;

	if (space != MODVMM_SPACE_PIO && space != MODVMM_SPACE_MMIO)
		r = error_setf(&err, EINVAL,
			       "doorbell: address space %u is neither PIO "
			       "(%d) nor MMIO (%d)",
			       space, MODVMM_SPACE_PIO, MODVMM_SPACE_MMIO);
	else
		r = ioevent_add(dev->devs->ioevents, dev, space, addr, width,
				value, cb, opaque, &err);
	keep_error(dev, r, err);
	return r;
}

static int32_t host_mem_read(struct modvmm_device *dev, uint64_t gpa, void *buf,
			     uint64_t len)
{
	return memory_read(dev->devs->mem, gpa, buf, len);
}

static int32_t host_mem_write(struct modvmm_device *dev, uint64_t gpa,
			      const void *buf, uint64_t len)
{
	return memory_write(dev->devs->mem, gpa, buf, len);
}

static int32_t host_region_add(struct modvmm_device *dev,
			       const struct modvmm_region *region, void *opaque)
{
	struct modvmm_region r;
	GError *err = NULL;
	struct bus *bus;
	int ret;

	if (!region || region->size < sizeof(uint32_t) ||
	    region->size > LOADER_STRUCT_MAX ||
	    abi_struct_import(&r, sizeof(r), region, region->size, NULL) < 0) {
		ret = error_setf(
			&err, EPROTO,
			"struct modvmm_region of size %u is not one this "
			"host reads (ABI %s, %zu bytes)",
			region ? region->size : 0, MODVMM_ABI_STRING,
			sizeof(r));
		goto out;
	}
	if (r.space == MODVMM_SPACE_PIO) {
		bus = dev->devs->pio;
	} else if (r.space == MODVMM_SPACE_MMIO) {
		bus = dev->devs->mmio;
	} else {
		ret = error_setf(
			&err, EINVAL,
			"region %s: address space %u is neither PIO (%d) "
			"nor MMIO (%d)",
			r.name ? r.name : "(unnamed)", r.space,
			MODVMM_SPACE_PIO, MODVMM_SPACE_MMIO);
		goto out;
	}
	/* The interrupt announced with a range is the device's line: one
	 * the irqchip lacks would never reach the guest. */
	if ((r.acpi_flags & MODVMM_ACPI_IRQ) && r.acpi_irq >= VMM_IRQ_LINES) {
		ret = error_setf(&err, EINVAL,
				 "region %s: IRQ %u is not a line of the "
				 "interrupt controller (IOAPIC pins 0-%u)",
				 r.name ? r.name : "(unnamed)", r.acpi_irq,
				 VMM_IRQ_LINES - 1);
		goto out;
	}
	ret = bus_add(bus, &r, opaque, dev, dev->id, &err);
out:
	keep_error(dev, ret, err);
	return ret;
}

static int32_t host_file_open(struct modvmm_device *dev, const char *path,
			      uint32_t flags)
{
	GError *err = NULL;
	int ret;

	if (!path)
		ret = error_setf(&err, EINVAL, "file_open: no path");
	else
		ret = device_file_open(dev, path, flags, &err);
	if (ret < 0)
		keep_error(dev, ret, err);
	return ret;
}

static uint64_t host_clock_ns(struct modvmm_device *dev)
{
	return timers_clock_ns(dev->devs->timers);
}

static void host_timer_mod(struct modvmm_timer *mt, uint64_t expire_ns)
{
	timer_mod(mt->t, expire_ns);
}

static void host_timer_del(struct modvmm_timer *mt)
{
	timer_del(mt->t);
}

static const char *host_device_id(struct modvmm_device *dev)
{
	return dev->id;
}

static void host_request(struct modvmm_device *dev, uint32_t what, uint32_t arg)
{
	struct vm_devices *devs = dev->devs;

	devs->last_request = what;
	devs->last_request_arg = arg;
	if (devs->sinks.request)
		devs->sinks.request(devs->sinks.opaque, what, arg);
}

static const struct modvmm_host services = {
	.size = sizeof(struct modvmm_host),
	.abi_major = MODVMM_ABI_MAJOR,
	.abi_minor = MODVMM_ABI_MINOR,
	.log = host_log,
	.irq_set = host_irq_set,
	.mem_read = host_mem_read,
	.mem_write = host_mem_write,
	.region_add = host_region_add,
	.clock_ns = host_clock_ns,
	.timer_new = device_timer_new,
	.timer_mod = host_timer_mod,
	.timer_del = host_timer_del,
	.timer_free = device_timer_free,
	.device_id = host_device_id,
	.request = host_request,
	.irq_pulse = host_irq_pulse,
	.notify_add = host_notify_add,
	.file_open = host_file_open,
};

const struct modvmm_host *host_services(void)
{
	return &services;
}
