// SPDX-License-Identifier: MIT
/*
 * hello - the smallest out-of-tree modvmm device: one I/O port that counts
 * the reads made of it, starting from a property.
 */
#include <modvmm/module.h>

MODVMM_MODULE_INFO("hello", "1.0.0");
MODVMM_MODULE_LICENSE("MIT");
MODVMM_MODULE_AUTHOR("Example Author <author@example.org>");
MODVMM_MODULE_DESCRIPTION("a port that counts its reads");
MODVMM_MODULE_DEVICE("hello");

static const struct modvmm_host *host;

struct hello {
	uint16_t port;
	uint32_t start;
	uint32_t reads;
};

static uint64_t hello_read(void *opaque, uint64_t offset, uint32_t width)
{
	struct hello *s = opaque;

	(void)offset;
	(void)width;
	return s->start + s->reads++;
}

static int32_t hello_realize(struct modvmm_device *dev, void *state)
{
	struct hello *s = state;
	const struct modvmm_region region = {
		.size = sizeof(region),
		.space = MODVMM_SPACE_PIO,
		.base = s->port,
		.length = 1,
		.name = "hello",
		.read = hello_read,
	};

	host->log(dev, MODVMM_LOG_INFO, "counting reads of port 0x%x", s->port);
	return host->region_add(dev, &region, s);
}

static void hello_reset(struct modvmm_device *dev, void *state)
{
	struct hello *s = state;

	(void)dev;
	s->reads = 0;
}

static const struct modvmm_property hello_properties[] = {
	MODVMM_PROP_U16_DEFINE("port", struct hello, port, 0x510,
			       "I/O port of the counter"),
	MODVMM_PROP_U32_DEFINE("start", struct hello, start, 0,
			       "value of the first read"),
};

/* Descriptor tables are aligned by hand: one member per line. */
/* clang-format off */
static const struct modvmm_device_type hello_type = {
	.size          = sizeof(struct modvmm_device_type),
	.instance_size = sizeof(struct hello),
	.name          = "hello",
	.description   = "a port that counts its reads",
	.properties    = hello_properties,
	.n_properties  = MODVMM_ARRAY_SIZE(hello_properties),
	.realize       = hello_realize,
	.reset         = hello_reset,
};

static const struct modvmm_device_type *const hello_types[] = {
	&hello_type,
};

static const struct modvmm_module hello_module = {
	MODVMM_MODULE_DESCRIPTOR_INIT,
	.name           = "hello",
	.version        = "1.0.0",
	.device_types   = hello_types,
	.n_device_types = MODVMM_ARRAY_SIZE(hello_types),
};

/* clang-format on */

const struct modvmm_module *modvmm_module_init(const struct modvmm_host *h)
{
	host = h;
	return &hello_module;
}
