// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libmodvmm-virtio: the virtio-mmio transport (virtio 1.x, modern
 * registers, split virtqueues), linked into device modules.
 *
 * Guest memory is reached only through the host's checked copies
 * (mem_read/mem_write), never through pointers, so nothing the guest puts
 * in a ring can make the module touch host memory. Every index read from
 * guest memory is bounded by the queue size before it is used, and a
 * chain is followed for at most that many descriptors; anything out of
 * bounds puts the device into its error state (NEEDS_RESET).
 *
 * Ordering: the guest runs on other CPUs while the device reads its
 * rings. x86 keeps loads in order and stores in order, and every guest
 * memory access is an out-of-line call the compiler cannot move; the one
 * fence needed is between publishing the used index and reading whether
 * the driver wants an interrupt.
 */
#include <errno.h>
#include <string.h>

#include <modvmm/module.h>
#include <modvmm/virtio.h>

#define REG_MAGIC 0x000
#define REG_VERSION 0x004
#define REG_DEVICE_ID 0x008
#define REG_VENDOR_ID 0x00c
#define REG_DEVICE_FEATURES 0x010
#define REG_DEVICE_FEATURES_SEL 0x014
#define REG_DRIVER_FEATURES 0x020
#define REG_DRIVER_FEATURES_SEL 0x024
#define REG_QUEUE_SEL 0x030
#define REG_QUEUE_NUM_MAX 0x034
#define REG_QUEUE_NUM 0x038
#define REG_QUEUE_READY 0x044
#define REG_QUEUE_NOTIFY 0x050
#define REG_INTERRUPT_STATUS 0x060
#define REG_INTERRUPT_ACK 0x064
#define REG_STATUS 0x070
#define REG_QUEUE_DESC_LOW 0x080
#define REG_QUEUE_DESC_HIGH 0x084
#define REG_QUEUE_AVAIL_LOW 0x090
#define REG_QUEUE_AVAIL_HIGH 0x094
#define REG_QUEUE_USED_LOW 0x0a0
#define REG_QUEUE_USED_HIGH 0x0a4
#define REG_CONFIG_GENERATION 0x0fc
#define REG_CONFIG 0x100

#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */
#define VIRTIO_MMIO_VERSION 2u	      /* modern */
#define VIRTIO_VENDOR_ID 0x4d564d4du  /* "MMVM" */

#define ISR_QUEUE 0x1u
#define ISR_CONFIG 0x2u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 0x1u

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static struct modvmm_virtio_queue *selected(struct modvmm_virtio *v)
{
	return v->queue_sel < v->n_queues ? &v->queues[v->queue_sel] : NULL;
}

void modvmm_virtio_fail(struct modvmm_virtio *v, const char *why)
{
	if (v->status & MODVMM_VIRTIO_S_NEEDS_RESET)
		return;
	v->host->log(v->dev, MODVMM_LOG_WARNING,
		     "%s; the device needs a reset by its driver", why);
	v->status |= MODVMM_VIRTIO_S_NEEDS_RESET;
	if (v->status & MODVMM_VIRTIO_S_DRIVER_OK) {
		v->isr |= ISR_CONFIG;
		v->host->irq_pulse(v->dev, v->irq);
	}
}

void modvmm_virtio_reset(struct modvmm_virtio *v)
{
	v->status = 0;
	v->isr = 0;
	v->device_features_sel = 0;
	v->driver_features_sel = 0;
	v->queue_sel = 0;
	v->driver_features = 0;
	v->notified = 0;
	memset(v->queues, 0, sizeof(v->queues));
	if (v->ops->reset)
		v->ops->reset(v);
}

static uint64_t offered(const struct modvmm_virtio *v)
{
	return v->device_features | MODVMM_VIRTIO_F_VERSION_1;
}

static uint64_t virtio_read(void *opaque, uint64_t offset, uint32_t width)
{
	struct modvmm_virtio *v = opaque;
	struct modvmm_virtio_queue *q = selected(v);

	if (offset >= REG_CONFIG)
		return v->ops->config_read
			       ? v->ops->config_read(v, offset - REG_CONFIG,
						     width)
			       : 0;
	/* Registers are 32 bits wide and read as such only. */
	if (width != 4)
		return 0;
	switch (offset) {
	case REG_MAGIC:
		return VIRTIO_MMIO_MAGIC;
	case REG_VERSION:
		return VIRTIO_MMIO_VERSION;
	case REG_DEVICE_ID:
		return v->device_id;
	case REG_VENDOR_ID:
		return VIRTIO_VENDOR_ID;
	case REG_DEVICE_FEATURES:
		return v->device_features_sel > 1
			       ? 0
			       : (uint32_t)(offered(v) >>
					    (32 * v->device_features_sel));
	case REG_QUEUE_NUM_MAX:
		return q ? v->queue_size_max : 0;
	case REG_QUEUE_READY:
		return q ? q->ready : 0;
	case REG_INTERRUPT_STATUS:
		return v->isr;
	case REG_STATUS:
		return v->status;
	case REG_CONFIG_GENERATION:
		return v->config_generation;
	}
	return 0;
}

static void set_half(uint64_t *reg, int high, uint64_t value)
{
	uint64_t mask = UINT64_C(0xffffffff) << (high ? 32 : 0);

	*reg = (*reg & ~mask) | ((value & 0xffffffffu) << (high ? 32 : 0));
}

static void queue_ready(struct modvmm_virtio *v, struct modvmm_virtio_queue *q,
			uint64_t value)
{
	if (!value) {
		q->ready = 0;
		return;
	}
	/* A size the device did not offer would let indices run past the
	 * rings the driver allocated. */
	if (!q->num || q->num > v->queue_size_max || (q->num & (q->num - 1))) {
		modvmm_virtio_fail(v, "queue size is not a power of two up to "
				      "the maximum offered");
		return;
	}
	q->ready = 1;
}

static void status_write(struct modvmm_virtio *v, uint64_t value)
{
	uint32_t s = (uint32_t)value & 0xffu;

	if (!s) {
		modvmm_virtio_reset(v);
		return;
	}
	/* FEATURES_OK sticks only for a subset of what was offered that
	 * includes VERSION_1; the driver reads it back to learn that. */
	if ((s & MODVMM_VIRTIO_S_FEATURES_OK) &&
	    !(v->status & MODVMM_VIRTIO_S_FEATURES_OK) &&
	    ((v->driver_features & ~offered(v)) ||
	     !(v->driver_features & MODVMM_VIRTIO_F_VERSION_1)))
		s &= ~MODVMM_VIRTIO_S_FEATURES_OK;
	v->status = s | (v->status & MODVMM_VIRTIO_S_NEEDS_RESET);
}

static void virtio_write(void *opaque, uint64_t offset, uint64_t value,
			 uint32_t width)
{
	struct modvmm_virtio *v = opaque;
	struct modvmm_virtio_queue *q = selected(v);

	if (offset >= REG_CONFIG) {
		if (v->ops->config_write)
			v->ops->config_write(v, offset - REG_CONFIG, value,
					     width);
		return;
	}
	if (width != 4)
		return;
	switch (offset) {
	case REG_DEVICE_FEATURES_SEL:
		v->device_features_sel = (uint32_t)value;
		return;
	case REG_DRIVER_FEATURES:
		if (v->driver_features_sel <= 1 &&
		    !(v->status & MODVMM_VIRTIO_S_FEATURES_OK))
			set_half(&v->driver_features, v->driver_features_sel,
				 value);
		return;
	case REG_DRIVER_FEATURES_SEL:
		v->driver_features_sel = (uint32_t)value;
		return;
	case REG_QUEUE_SEL:
		v->queue_sel = (uint32_t)value;
		return;
	case REG_QUEUE_NOTIFY:
		/* Only when the doorbell did not take it: the host has no
		 * ioeventfd, or the value names no queue. */
		if (value < v->n_queues && v->ops->queue_notify)
			v->ops->queue_notify(v, (uint32_t)value);
		return;
	case REG_INTERRUPT_ACK:
		v->isr &= ~(uint32_t)value;
		return;
	case REG_STATUS:
		status_write(v, value);
		return;
	}
	/* Queue set-up: only for a queue that exists and is not in use. */
	if (q && offset == REG_QUEUE_READY) {
		queue_ready(v, q, value);
		return;
	}
	if (!q || q->ready)
		return;
	switch (offset) {
	case REG_QUEUE_NUM:
		q->num = (uint32_t)value;
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
		set_half(&q->desc, offset == REG_QUEUE_DESC_HIGH, value);
		break;
	case REG_QUEUE_AVAIL_LOW:
	case REG_QUEUE_AVAIL_HIGH:
		set_half(&q->avail, offset == REG_QUEUE_AVAIL_HIGH, value);
		break;
	case REG_QUEUE_USED_LOW:
	case REG_QUEUE_USED_HIGH:
		set_half(&q->used, offset == REG_QUEUE_USED_HIGH, value);
		break;
	}
}

/* A queue's doorbell; a doorbell for a queue not ready is ignored by
 * modvmm_virtio_pop(). */
static void doorbell(void *opaque)
{
	struct modvmm_virtio_doorbell *d = opaque;

	if (d->v->ops->queue_notify)
		d->v->ops->queue_notify(d->v, d->queue);
}

int32_t modvmm_virtio_realize(struct modvmm_virtio *v)
{
	const struct modvmm_region region = {
		.size = sizeof(region),
		.space = MODVMM_SPACE_MMIO,
		.base = v->base,
		.length = MODVMM_VIRTIO_MMIO_SIZE,
		.name = "virtio-mmio",
		.read = virtio_read,
		.write = virtio_write,
		.acpi_hid = MODVMM_VIRTIO_ACPI_HID,
		.acpi_irq = v->irq,
		.acpi_flags = MODVMM_ACPI_IRQ,
	};
	int32_t r;

	if (!MODVMM_HAS_MEMBER(v->host, struct modvmm_host, notify_add))
		return -ENOTSUP;
	if (!v->n_queues || v->n_queues > MODVMM_VIRTIO_QUEUES_MAX ||
	    !v->queue_size_max ||
	    v->queue_size_max > MODVMM_VIRTIO_QUEUE_SIZE_MAX ||
	    (v->queue_size_max & (v->queue_size_max - 1)))
		return -EINVAL;
	r = v->host->region_add(v->dev, &region, v);
	for (uint32_t i = 0; !r && i < v->n_queues; i++) {
		v->doorbells[i].v = v;
		v->doorbells[i].queue = i;
		r = v->host->notify_add(v->dev, MODVMM_SPACE_MMIO,
					v->base + REG_QUEUE_NOTIFY, 4, i,
					doorbell, &v->doorbells[i]);
	}
	return r;
}

static int32_t guest_read(struct modvmm_virtio *v, uint64_t gpa, void *buf,
			  uint64_t len, const char *what)
{
	if (v->host->mem_read(v->dev, gpa, buf, len) == 0)
		return 0;
	modvmm_virtio_fail(v, what);
	return -EFAULT;
}

static int32_t guest_write(struct modvmm_virtio *v, uint64_t gpa,
			   const void *buf, uint64_t len, const char *what)
{
	if (v->host->mem_write(v->dev, gpa, buf, len) == 0)
		return 0;
	modvmm_virtio_fail(v, what);
	return -EFAULT;
}

static int32_t chain_fail(struct modvmm_virtio *v, const char *why)
{
	modvmm_virtio_fail(v, why);
	return -EINVAL;
}

int32_t modvmm_virtio_pop(struct modvmm_virtio *v, uint32_t queue,
			  struct modvmm_virtio_chain *ret)
{
	struct modvmm_virtio_queue *q;
	uint64_t in = 0, out = 0;
	uint16_t idx, head, i;
	struct virtq_desc d;

	if (queue >= v->n_queues || !v->queues[queue].ready ||
	    !(v->status & MODVMM_VIRTIO_S_DRIVER_OK) ||
	    (v->status & MODVMM_VIRTIO_S_NEEDS_RESET))
		return 0;
	q = &v->queues[queue];
	if (guest_read(v, q->avail + 2, &idx, 2,
		       "available ring outside guest RAM") < 0)
		return -EFAULT;
	if (idx == q->last_avail)
		return 0;
	if ((uint16_t)(idx - q->last_avail) > q->num)
		return chain_fail(v, "available index ran more than a queue "
				     "ahead");
	if (guest_read(v, q->avail + 4 + 2ull * (q->last_avail % q->num), &head,
		       2, "available ring outside guest RAM") < 0)
		return -EFAULT;
	if (head >= q->num)
		return chain_fail(v, "chain head outside the descriptor table");
	memset(ret, 0, offsetof(struct modvmm_virtio_chain, buf));
	ret->head = head;
	for (i = head;; i = d.next) {
		if (ret->n >= q->num)
			return chain_fail(v, "descriptor chain longer than the "
					     "queue (a loop)");
		if (guest_read(v, q->desc + 16ull * i, &d, sizeof(d),
			       "descriptor table outside guest RAM") < 0)
			return -EFAULT;
		if (d.flags & MODVMM_VIRTQ_DESC_F_INDIRECT)
			return chain_fail(v, "indirect descriptor, a feature "
					     "not offered");
		if (d.flags & MODVMM_VIRTQ_DESC_F_WRITE) {
			in += d.len;
		} else {
			if (in)
				return chain_fail(v, "device-readable buffer "
						     "after a writable one");
			out += d.len;
		}
		ret->buf[ret->n++] = (struct modvmm_virtio_buf){
			d.addr, d.len, !!(d.flags & MODVMM_VIRTQ_DESC_F_WRITE)
		};
		if (!(d.flags & MODVMM_VIRTQ_DESC_F_NEXT))
			break;
		if (d.next >= q->num)
			return chain_fail(v, "descriptor chain leaves the "
					     "descriptor table");
	}
	if (in > UINT32_MAX || out > UINT32_MAX)
		return chain_fail(v, "descriptor chain longer than 4 GiB");
	ret->in_len = (uint32_t)in;
	ret->out_len = (uint32_t)out;
	q->last_avail++;
	return 1;
}

int32_t modvmm_virtio_push(struct modvmm_virtio *v, uint32_t queue,
			   uint16_t head, uint32_t len)
{
	struct modvmm_virtio_queue *q = &v->queues[queue];
	uint32_t elem[2] = { head, len };
	uint16_t idx;

	if (queue >= v->n_queues || !q->ready)
		return -EINVAL;
	if (guest_write(v, q->used + 4 + 8ull * (q->used_idx % q->num), elem,
			sizeof(elem), "used ring outside guest RAM") < 0)
		return -EFAULT;
	idx = ++q->used_idx;
	if (guest_write(v, q->used + 2, &idx, 2,
			"used ring outside guest RAM") < 0)
		return -EFAULT;
	v->notified++;
	return 0;
}

void modvmm_virtio_notify(struct modvmm_virtio *v, uint32_t queue)
{
	uint16_t flags;

	if (!v->notified || queue >= v->n_queues)
		return;
	v->notified = 0;
	/* The used index must be visible before the driver's flags are
	 * read, or an interrupt it asked for between the two is lost. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (guest_read(v, v->queues[queue].avail, &flags, 2,
		       "available ring outside guest RAM") < 0 ||
	    (flags & VIRTQ_AVAIL_F_NO_INTERRUPT))
		return;
	v->isr |= ISR_QUEUE;
	v->host->irq_pulse(v->dev, v->irq);
}

static int32_t chain_copy(struct modvmm_virtio *v,
			  const struct modvmm_virtio_chain *c, uint32_t write,
			  uint64_t offset, void *buf, uint64_t len)
{
	uint8_t *p = buf;

	for (uint32_t i = 0; i < c->n && len; i++) {
		const struct modvmm_virtio_buf *b = &c->buf[i];
		uint64_t n;

		if (b->write != write)
			continue;
		if (offset >= b->len) {
			offset -= b->len;
			continue;
		}
		n = b->len - offset < len ? b->len - offset : len;
		if (write ? guest_write(v, b->addr + offset, p, n,
					"buffer outside guest RAM")
			  : guest_read(v, b->addr + offset, p, n,
				       "buffer outside guest RAM"))
			return -EFAULT;
		p += n;
		len -= n;
		offset = 0;
	}
	return len ? -ENOSPC : 0;
}

int32_t modvmm_virtio_chain_read(struct modvmm_virtio *v,
				 const struct modvmm_virtio_chain *c,
				 uint64_t offset, void *buf, uint64_t len)
{
	return chain_copy(v, c, 0, offset, buf, len);
}

int32_t modvmm_virtio_chain_write(struct modvmm_virtio *v,
				  const struct modvmm_virtio_chain *c,
				  uint64_t offset, const void *buf,
				  uint64_t len)
{
	return chain_copy(v, c, 1, offset, (void *)buf, len);
}

/* A queue the driver made ready has a size the device could offer. */
static int32_t queues_valid(const void *state, uint32_t version,
			    const char **ret_message)
{
	const struct modvmm_virtio *v = state;

	(void)version;
	for (uint32_t i = 0; i < MODVMM_VIRTIO_QUEUES_MAX; i++) {
		const struct modvmm_virtio_queue *q = &v->queues[i];

		if (q->ready &&
		    (!q->num || q->num > MODVMM_VIRTIO_QUEUE_SIZE_MAX ||
		     (q->num & (q->num - 1)))) {
			*ret_message = "a ready queue's size is not a power "
				       "of two up to 256";
			return -EINVAL;
		}
	}
	return 0;
}

/* Descriptor tables are aligned by hand: one member per line. */
/* clang-format off */

static const struct modvmm_vmstate_field queue_fields[] = {
	MODVMM_VMS_FIELD(U32, struct modvmm_virtio_queue, num, 1),
	MODVMM_VMS_FIELD(U32, struct modvmm_virtio_queue, ready, 1),
	MODVMM_VMS_FIELD(U64, struct modvmm_virtio_queue, desc, 1),
	MODVMM_VMS_FIELD(U64, struct modvmm_virtio_queue, avail, 1),
	MODVMM_VMS_FIELD(U64, struct modvmm_virtio_queue, used, 1),
	MODVMM_VMS_FIELD(U16, struct modvmm_virtio_queue, last_avail, 1),
	MODVMM_VMS_FIELD(U16, struct modvmm_virtio_queue, used_idx, 1),
};

static const struct modvmm_vmstate queue_vmstate = {
	.size        = sizeof(struct modvmm_vmstate), /* ABI struct size */
	.version     = 1,                             /* saved now */
	.min_version = 1,                             /* oldest loaded */
	.name        = "virtio-queue",
	.fields      = queue_fields,
	.n_fields    = MODVMM_ARRAY_SIZE(queue_fields),
};

static const struct modvmm_vmstate_field virtio_fields[] = {
	MODVMM_VMS_FIELD(U32, struct modvmm_virtio, status, 1),
	MODVMM_VMS_FIELD(U32, struct modvmm_virtio, isr, 1),
	MODVMM_VMS_FIELD(U32, struct modvmm_virtio, device_features_sel, 1),
	MODVMM_VMS_FIELD(U32, struct modvmm_virtio, driver_features_sel, 1),
	MODVMM_VMS_FIELD(U32, struct modvmm_virtio, queue_sel, 1),
	MODVMM_VMS_FIELD(U32, struct modvmm_virtio, config_generation, 1),
	MODVMM_VMS_FIELD(U64, struct modvmm_virtio, driver_features, 1),
	_MODVMM_VMS(MODVMM_VMS_ARRAY, "queues", struct modvmm_virtio, queues,
		    .since     = 1,
		    .elem_kind = MODVMM_VMS_STRUCT,
		    .count     = MODVMM_VIRTIO_QUEUES_MAX,
		    .stride    = sizeof(struct modvmm_virtio_queue),
		    .vms       = &queue_vmstate),
	MODVMM_VMS_VALIDATE_FIELD("queue sizes", queues_valid, 1),
};

const struct modvmm_vmstate modvmm_virtio_vmstate = {
	.size        = sizeof(struct modvmm_vmstate), /* ABI struct size */
	.version     = 1,                             /* saved now */
	.min_version = 1,                             /* oldest loaded */
	.name        = "virtio-mmio",
	.fields      = virtio_fields,
	.n_fields    = MODVMM_ARRAY_SIZE(virtio_fields),
};

/* clang-format on */
