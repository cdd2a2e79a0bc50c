// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * debug-exit - a one-port device through which a guest ends the VM.
 *
 * A byte written to the port stops the VM; the byte becomes the exit
 * status of modvmm. The built-in test guest reports pass (0) or the number
 * of its failed check this way. Reads return all-ones.
 *
 * This module is the smallest complete example of the module ABI: state,
 * properties, a PIO region, the descriptor and its metadata.
 */
#include <errno.h>

#include <modvmm/module.h>

MODVMM_MODULE_INFO("debug-exit", "1.0.0");
MODVMM_MODULE_LICENSE("LGPL-2.1-or-later");
MODVMM_MODULE_AUTHOR("modvmm developers");
MODVMM_MODULE_DESCRIPTION(
	"port through which a guest ends the VM with a status");
MODVMM_MODULE_DEVICE("debug-exit");
MODVMM_MODULE_VMSTATE("debug-exit", 1);

static const struct modvmm_host *host;

struct debug_exit {
	uint16_t iobase;
};

static void debug_exit_write(void *opaque, uint64_t offset, uint64_t value,
			     uint32_t width)
{
	struct modvmm_device *dev = opaque;

	(void)offset;
	(void)width;
	host->request(dev, MODVMM_REQUEST_EXIT, (uint32_t)(value & 0xff));
}

static int32_t debug_exit_realize(struct modvmm_device *dev, void *state)
{
	struct debug_exit *s = state;
	const struct modvmm_region region = {
		.size = sizeof(region),
		.space = MODVMM_SPACE_PIO,
		.base = s->iobase,
		.length = 1,
		.name = "debug-exit",
		.write = debug_exit_write,
	};

	return host->region_add(dev, &region, dev);
}

static const struct modvmm_property debug_exit_properties[] = {
	MODVMM_PROP_U16_DEFINE("iobase", struct debug_exit, iobase, 0x501,
			       "I/O port the guest writes its exit status to"),
};

/* Descriptor tables are aligned by hand: one member per line. */
/* clang-format off */

/* No state changes at run time (iobase is a property): an empty
 * description says so, and lets a machine with this device migrate. */
static const struct modvmm_vmstate debug_exit_vmstate = {
	.size          = sizeof(struct modvmm_vmstate), /* ABI struct size */
	.version       = 1,                             /* saved now */
	.min_version   = 1,                             /* oldest loaded */
	.name          = "debug-exit",                  /* = modinfo vmstate= */
	.fields        = NULL,                          /* nothing to save */
	.n_fields      = 0,
};

static const struct modvmm_device_type debug_exit_type = {
	.size          = sizeof(struct modvmm_device_type), /* ABI struct size */
	.instance_size = sizeof(struct debug_exit),         /* host allocates */
	.name          = "debug-exit",                      /* --device name */
	.description   = "guest-controlled exit status port",
	.properties    = debug_exit_properties,             /* --device k=v */
	.n_properties  = MODVMM_ARRAY_SIZE(debug_exit_properties),
	.realize       = debug_exit_realize,                /* claim the port */
	.unrealize     = NULL,                              /* host releases it */
	.reset         = NULL,                              /* no state to reset */
	.vmstate       = &debug_exit_vmstate,               /* nothing, declared */
};

static const struct modvmm_device_type *const debug_exit_types[] = {
	&debug_exit_type,
};

static const struct modvmm_module debug_exit_module = {
	MODVMM_MODULE_DESCRIPTOR_INIT,            /* magic, ABI, size */
	.name           = "debug-exit",           /* = modinfo name */
	.version        = "1.0.0",                /* = modinfo version */
	.device_types   = debug_exit_types,       /* = modinfo device= */
	.n_device_types = MODVMM_ARRAY_SIZE(debug_exit_types),
	.init           = NULL,                   /* no module-wide state */
	.exit           = NULL,
};

/* clang-format on */

const struct modvmm_module *modvmm_module_init(const struct modvmm_host *h)
{
	host = h;
	return &debug_exit_module;
}
