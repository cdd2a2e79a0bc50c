// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pvpanic - the port through which a guest says it panicked (QEMU's ISA
 * pvpanic device: port 0x505, Linux's pvpanic driver).
 *
 * Reads return the events the device supports; a write of bit 0
 * (PANICKED) ends the run as a guest panic, which the host reports
 * (exit status 124, the GUEST_PANICKED event); bit 1 (CRASH_LOADED, a
 * crash kernel took over) is logged and the guest goes on.
 */
#include <modvmm/module.h>

MODVMM_MODULE_INFO("pvpanic", "1.0.0");
MODVMM_MODULE_LICENSE("LGPL-2.1-or-later");
MODVMM_MODULE_AUTHOR("modvmm developers");
MODVMM_MODULE_DESCRIPTION("port through which a guest reports a panic");
MODVMM_MODULE_DEVICE("pvpanic");
MODVMM_MODULE_VMSTATE("pvpanic", 1);

#define PVPANIC_PANICKED (1u << 0)
#define PVPANIC_CRASH_LOADED (1u << 1)

static const struct modvmm_host *host;

struct pvpanic {
	uint16_t iobase;
};

static uint64_t pvpanic_read(void *opaque, uint64_t offset, uint32_t width)
{
	(void)opaque;
	(void)offset;
	(void)width;
	return PVPANIC_PANICKED | PVPANIC_CRASH_LOADED;
}

static void pvpanic_write(void *opaque, uint64_t offset, uint64_t value,
			  uint32_t width)
{
	struct modvmm_device *dev = opaque;

	(void)offset;
	(void)width;
	if (value & PVPANIC_PANICKED)
		host->request(dev, MODVMM_REQUEST_PANIC, (uint32_t)value);
	else if (value & PVPANIC_CRASH_LOADED)
		host->log(dev, MODVMM_LOG_WARNING,
			  "guest panicked; its crash kernel took over");
}

static int32_t pvpanic_realize(struct modvmm_device *dev, void *state)
{
	struct pvpanic *s = state;
	const struct modvmm_region region = {
		.size = sizeof(region),
		.space = MODVMM_SPACE_PIO,
		.base = s->iobase,
		.length = 1,
		.name = "pvpanic",
		.read = pvpanic_read,
		.write = pvpanic_write,
	};

	return host->region_add(dev, &region, dev);
}

static const struct modvmm_property pvpanic_properties[] = {
	MODVMM_PROP_U16_DEFINE("iobase", struct pvpanic, iobase, 0x505,
			       "I/O port of the device"),
};

/* Descriptor tables are aligned by hand: one member per line. */
/* clang-format off */

/* Nothing changes at run time: an empty description lets it migrate. */
static const struct modvmm_vmstate pvpanic_vmstate = {
	.size          = sizeof(struct modvmm_vmstate), /* ABI struct size */
	.version       = 1,                             /* saved now */
	.min_version   = 1,                             /* oldest loaded */
	.name          = "pvpanic",                     /* = modinfo vmstate= */
	.fields        = NULL,                          /* nothing to save */
	.n_fields      = 0,
};

static const struct modvmm_device_type pvpanic_type = {
	.size          = sizeof(struct modvmm_device_type), /* ABI struct size */
	.instance_size = sizeof(struct pvpanic),            /* host allocates */
	.name          = "pvpanic",                         /* --device name */
	.description   = "guest panic notification port",
	.properties    = pvpanic_properties,                /* --device k=v */
	.n_properties  = MODVMM_ARRAY_SIZE(pvpanic_properties),
	.realize       = pvpanic_realize,                   /* claim the port */
	.unrealize     = NULL,                              /* host releases it */
	.reset         = NULL,                              /* no state to reset */
	.vmstate       = &pvpanic_vmstate,                  /* nothing, declared */
};

static const struct modvmm_device_type *const pvpanic_types[] = {
	&pvpanic_type,
};

static const struct modvmm_module pvpanic_module = {
	MODVMM_MODULE_DESCRIPTOR_INIT,            /* magic, ABI, size */
	.name           = "pvpanic",              /* = modinfo name */
	.version        = "1.0.0",                /* = modinfo version */
	.device_types   = pvpanic_types,          /* = modinfo device= */
	.n_device_types = MODVMM_ARRAY_SIZE(pvpanic_types),
	.init           = NULL,                   /* no module-wide state */
	.exit           = NULL,
};

/* clang-format on */

const struct modvmm_module *modvmm_module_init(const struct modvmm_host *h)
{
	host = h;
	return &pvpanic_module;
}
