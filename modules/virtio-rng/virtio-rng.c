// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * virtio-rng - an entropy source for the guest (getrandom()), on the
 * virtio-mmio transport (libmodvmm-virtio).
 *
 * Each request's writable buffers are filled, up to CHUNK bytes a
 * request: the spec lets the device answer with fewer bytes than offered,
 * and a guest asking for gigabytes gets no more host work than that.
 */
#include <errno.h>
#include <sys/random.h>

#include <modvmm/module.h>
#include <modvmm/virtio.h>

MODVMM_MODULE_INFO("virtio-rng", "1.0.0");
MODVMM_MODULE_LICENSE("LGPL-2.1-or-later");
MODVMM_MODULE_AUTHOR("modvmm developers");
MODVMM_MODULE_DESCRIPTION("virtio entropy device (getrandom)");
MODVMM_MODULE_DEVICE("virtio-rng");
MODVMM_MODULE_VMSTATE("virtio-rng", 1);

#define VIRTIO_ID_ENTROPY 4
#define CHUNK 4096u

static const struct modvmm_host *host;

struct virtio_rng {
	struct modvmm_virtio vio;

	/* Properties. */
	uint64_t base;
	uint32_t irq;

	struct modvmm_virtio_chain chain;
};

static void rng_queue_notify(struct modvmm_virtio *v, uint32_t queue)
{
	struct virtio_rng *s = (struct virtio_rng *)v;
	uint8_t buf[CHUNK];

	while (modvmm_virtio_pop(v, queue, &s->chain) == 1) {
		uint32_t n = s->chain.in_len < CHUNK ? s->chain.in_len : CHUNK;
		ssize_t got = getrandom(buf, n, 0);

		if (got < 0)
			got = 0;
		if (modvmm_virtio_chain_write(v, &s->chain, 0, buf,
					      (uint64_t)got) < 0 ||
		    modvmm_virtio_push(v, queue, s->chain.head, (uint32_t)got) <
			    0)
			break;
	}
	modvmm_virtio_notify(v, queue);
}

static const struct modvmm_virtio_ops rng_ops = {
	.size = sizeof(struct modvmm_virtio_ops),
	.queue_notify = rng_queue_notify,
};

static int32_t rng_realize(struct modvmm_device *dev, void *state)
{
	struct virtio_rng *s = state;

	s->vio.host = host;
	s->vio.dev = dev;
	s->vio.ops = &rng_ops;
	s->vio.base = s->base;
	s->vio.irq = s->irq;
	s->vio.device_id = VIRTIO_ID_ENTROPY;
	s->vio.n_queues = 1;
	s->vio.queue_size_max = 64;
	return modvmm_virtio_realize(&s->vio);
}

static void rng_reset(struct modvmm_device *dev, void *state)
{
	struct virtio_rng *s = state;

	(void)dev;
	modvmm_virtio_reset(&s->vio);
}

static const struct modvmm_property rng_properties[] = {
	MODVMM_PROP_U64_DEFINE("base", struct virtio_rng, base, 0xd0001000,
			       "MMIO address of the virtio-mmio registers"),
	MODVMM_PROP_U32_DEFINE("irq", struct virtio_rng, irq, 6,
			       "interrupt line (GSI)"),
};

/* Descriptor tables are aligned by hand: one member per line. */
/* clang-format off */

static const struct modvmm_vmstate_field rng_fields[] = {
	MODVMM_VMS_STRUCT_FIELD(struct virtio_rng, vio, &modvmm_virtio_vmstate, 1),
};

static const struct modvmm_vmstate rng_vmstate = {
	.size          = sizeof(struct modvmm_vmstate), /* ABI struct size */
	.version       = 1,                             /* saved now */
	.min_version   = 1,                             /* oldest loaded */
	.name          = "virtio-rng",                  /* = modinfo vmstate= */
	.fields        = rng_fields,                    /* the transport */
	.n_fields      = MODVMM_ARRAY_SIZE(rng_fields),
};

static const struct modvmm_device_type rng_type = {
	.size          = sizeof(struct modvmm_device_type), /* ABI struct size */
	.instance_size = sizeof(struct virtio_rng),         /* host allocates */
	.name          = "virtio-rng",                      /* --device name */
	.description   = "virtio entropy device (virtio-mmio)",
	.properties    = rng_properties,                    /* --device k=v */
	.n_properties  = MODVMM_ARRAY_SIZE(rng_properties),
	.realize       = rng_realize,                       /* claim registers */
	.unrealize     = NULL,                              /* host releases */
	.reset         = rng_reset,                         /* transport reset */
	.vmstate       = &rng_vmstate,                      /* the transport */
};

static const struct modvmm_device_type *const rng_types[] = {
	&rng_type,
};

static const struct modvmm_module rng_module = {
	MODVMM_MODULE_DESCRIPTOR_INIT,            /* magic, ABI, size */
	.name           = "virtio-rng",           /* = modinfo name */
	.version        = "1.0.0",                /* = modinfo version */
	.device_types   = rng_types,              /* = modinfo device= */
	.n_device_types = MODVMM_ARRAY_SIZE(rng_types),
	.init           = NULL,                   /* no module-wide state */
	.exit           = NULL,
};

/* clang-format on */

const struct modvmm_module *modvmm_module_init(const struct modvmm_host *h)
{
	host = h;
	return &rng_module;
}
