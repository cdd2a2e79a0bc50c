// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/host.c - the host services table handed to every module.
 *
 * Each service finds its VM through the device handle. They are called
 * from device code, so the device lock is already held; none of them takes
 * it again.
 */
#include <errno.h>
#include <stdarg.h>

#include "device.h"
#include "error.h"
#include "../compat/abi.h"

static void host_log(struct modvmm_device *dev, uint32_t level, const char *fmt,
		     ...) G_GNUC_PRINTF(3, 4);

static void host_log(struct modvmm_device *dev, uint32_t level, const char *fmt,
		     ...)
{
	struct vmm_sinks *s = &dev->vmm->sinks;
	g_autofree char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (s->log)
		s->log(s->opaque, dev->id, level, msg);
	else
		g_log("modvmm",
		      level <= MODVMM_LOG_ERROR	 ? G_LOG_LEVEL_WARNING
		      : level <= MODVMM_LOG_INFO ? G_LOG_LEVEL_INFO
						 : G_LOG_LEVEL_DEBUG,
		      "%s: %s", dev->id, msg);
}

static int32_t host_irq_set(struct modvmm_device *dev, uint32_t line,
			    uint32_t level)
{
	struct vmm *vmm = dev->vmm;

	if (line >= VMM_IRQ_LINES || level > 1)
		return -EINVAL;
	vmm->irq_level[line] = level;
	if (vmm->sinks.irq)
		vmm->sinks.irq(vmm->sinks.opaque, line, level);
	return 0;
}

static int32_t host_mem_read(struct modvmm_device *dev, uint64_t gpa, void *buf,
			     uint64_t len)
{
	return memory_read(dev->vmm->mem, gpa, buf, len);
}

static int32_t host_mem_write(struct modvmm_device *dev, uint64_t gpa,
			      const void *buf, uint64_t len)
{
	return memory_write(dev->vmm->mem, gpa, buf, len);
}

static int32_t host_region_add(struct modvmm_device *dev,
			       const struct modvmm_region *region, void *opaque)
{
	struct modvmm_region r;
	GError *err = NULL;
	struct bus *bus;
	int ret;

	if (!region || region->size < sizeof(uint32_t) ||
	    region->size > LOADER_STRUCT_MAX)
		return -EINVAL;
	if (abi_struct_import(&r, sizeof(r), region, region->size, NULL) < 0)
		return -EPROTO;
	if (r.space == MODVMM_SPACE_PIO)
		bus = dev->vmm->pio;
	else if (r.space == MODVMM_SPACE_MMIO)
		bus = dev->vmm->mmio;
	else
		return -EINVAL;
	ret = bus_add(bus, &r, opaque, dev, dev->id, &err);
	/* Kept for device_create(): the reason a realize failed. */
	if (ret < 0 && !dev->error)
		dev->error = err;
	else if (ret < 0)
		g_error_free(err);
	return ret;
}

static uint64_t host_clock_ns(struct modvmm_device *dev)
{
	return timers_clock_ns(dev->vmm->timers);
}

/*
 * The handle a module holds is our struct timer; its owning device is kept
 * so that the device's timers can be freed with it.
 */
struct modvmm_timer {
	struct timer *t;
	struct modvmm_device *dev;
};

static struct modvmm_timer *host_timer_new(struct modvmm_device *dev,
					   modvmm_timer_cb cb, void *opaque)
{
	struct modvmm_timer *mt = g_new0(struct modvmm_timer, 1);

	mt->dev = dev;
	mt->t = timer_new(dev->vmm->timers, cb, opaque);
	g_ptr_array_add(dev->timers, mt);
	return mt;
}

static void host_timer_mod(struct modvmm_timer *mt, uint64_t expire_ns)
{
	timer_mod(mt->t, expire_ns);
}

static void host_timer_del(struct modvmm_timer *mt)
{
	timer_del(mt->t);
}

static void host_timer_free(struct modvmm_timer *mt)
{
	if (!mt)
		return;
	g_ptr_array_remove_fast(mt->dev->timers, mt);
	timer_free(mt->t);
	g_free(mt);
}

void host_timer_free_all(struct modvmm_device *dev)
{
	while (dev->timers->len)
		host_timer_free(dev->timers->pdata[dev->timers->len - 1]);
}

static const char *host_device_id(struct modvmm_device *dev)
{
	return dev->id;
}

static void host_request(struct modvmm_device *dev, uint32_t what, uint32_t arg)
{
	struct vmm *vmm = dev->vmm;

	vmm->last_request = what;
	vmm->last_request_arg = arg;
	if (vmm->sinks.request)
		vmm->sinks.request(vmm->sinks.opaque, what, arg);
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
	.timer_new = host_timer_new,
	.timer_mod = host_timer_mod,
	.timer_del = host_timer_del,
	.timer_free = host_timer_free,
	.device_id = host_device_id,
	.request = host_request,
};

const struct modvmm_host *host_services(void)
{
	return &services;
}
