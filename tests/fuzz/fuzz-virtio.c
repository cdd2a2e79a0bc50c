// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * fuzz-virtio: the virtio-mmio transport (libmodvmm-virtio, built into the
 * target) against hostile guests. The input is the guest: a script of
 * register writes and doorbells, then the contents of its RAM (rings,
 * descriptors, buffers). A device behind the transport takes every chain
 * and copies all of its buffers in and out, as virtio-blk does. ASan
 * catches any access outside the RAM buffer; the checks below catch a
 * used index that ran away or an error state that did not stick.
 *
 * Script: records of 5 bytes, [op, value (u32 LE)], up to the first 0xff
 * op; op < 0x40 writes value to register op * 4, op 0x40 rings queue
 * value's doorbell, op 0x41 writes a config byte.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <modvmm/virtio.h>

#define RAM 65536u

static uint8_t ram[RAM];
static struct modvmm_region region;
static void *region_opaque;
static modvmm_notify_cb bell[MODVMM_VIRTIO_QUEUES_MAX];
static void *bell_opaque[MODVMM_VIRTIO_QUEUES_MAX];
static unsigned int n_bells;

static void f_log(struct modvmm_device *dev, uint32_t level, const char *fmt,
		  ...)
{
	(void)dev;
	(void)level;
	(void)fmt;
}

static int32_t f_irq_pulse(struct modvmm_device *dev, uint32_t line)
{
	(void)dev;
	(void)line;
	return 0;
}

static int32_t f_mem_read(struct modvmm_device *dev, uint64_t gpa, void *buf,
			  uint64_t len)
{
	(void)dev;
	if (gpa > RAM || len > RAM - gpa)
		return -14;
	memcpy(buf, ram + gpa, len);
	return 0;
}

static int32_t f_mem_write(struct modvmm_device *dev, uint64_t gpa,
			   const void *buf, uint64_t len)
{
	(void)dev;
	if (gpa > RAM || len > RAM - gpa)
		return -14;
	memcpy(ram + gpa, buf, len);
	return 0;
}

static int32_t f_region_add(struct modvmm_device *dev,
			    const struct modvmm_region *r, void *opaque)
{
	(void)dev;
	region = *r;
	region_opaque = opaque;
	return 0;
}

static int32_t f_notify_add(struct modvmm_device *dev, uint32_t space,
			    uint64_t addr, uint32_t width, uint64_t value,
			    modvmm_notify_cb cb, void *opaque)
{
	(void)dev;
	(void)space;
	(void)addr;
	(void)width;
	if (value != n_bells || n_bells >= MODVMM_VIRTIO_QUEUES_MAX)
		abort();
	bell[n_bells] = cb;
	bell_opaque[n_bells++] = opaque;
	return 0;
}

static const struct modvmm_host host = {
	.size = sizeof(struct modvmm_host),
	.log = f_log,
	.mem_read = f_mem_read,
	.mem_write = f_mem_write,
	.region_add = f_region_add,
	.irq_pulse = f_irq_pulse,
	.notify_add = f_notify_add,
};

static uint8_t scratch[RAM];

/* Every chain, every byte of it, both ways. */
static void notify(struct modvmm_virtio *v, uint32_t queue)
{
	static struct modvmm_virtio_chain c;
	uint16_t before = v->queues[queue].used_idx;
	uint32_t taken = 0;

	while (modvmm_virtio_pop(v, queue, &c) == 1) {
		uint32_t out = c.out_len < RAM ? c.out_len : RAM;
		uint32_t in = c.in_len < RAM ? c.in_len : RAM;

		if (c.n == 0 || c.n > v->queues[queue].num)
			abort();
		if (modvmm_virtio_chain_read(v, &c, 0, scratch, out) < 0 ||
		    modvmm_virtio_chain_write(v, &c, 0, scratch, in) < 0 ||
		    modvmm_virtio_push(v, queue, c.head, in) < 0)
			break;
		taken++;
	}
	/* At most one used entry per request taken, none in error. */
	if ((uint16_t)(v->queues[queue].used_idx - before) != taken)
		abort();
	modvmm_virtio_notify(v, queue);
}

static uint64_t config_read(struct modvmm_virtio *v, uint64_t off,
			    uint32_t width)
{
	(void)v;
	(void)width;
	return off;
}

static const struct modvmm_virtio_ops ops = {
	.size = sizeof(struct modvmm_virtio_ops),
	.queue_notify = notify,
	.config_read = config_read,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct modvmm_virtio v;
	size_t i = 0;

	memset(&v, 0, sizeof(v));
	n_bells = 0;
	v.host = &host;
	v.ops = &ops;
	v.base = 0x1000;
	v.irq = 5;
	v.device_id = 2;
	v.n_queues = 2;
	v.queue_size_max = 16;
	if (modvmm_virtio_realize(&v) != 0)
		abort();
	while (i + 5 <= size && data[i] != 0xff)
		i += 5;
	memset(ram, 0, sizeof(ram));
	if (i + 1 < size)
		memcpy(ram, data + i + 1,
		       size - i - 1 < RAM ? size - i - 1 : RAM);
	for (size_t r = 0; r + 5 <= i; r += 5) {
		uint32_t value;
		uint8_t op = data[r];

		memcpy(&value, data + r + 1, 4);
		if (op < 0x40)
			region.write(region_opaque, op * 4u, value, 4);
		else if (op == 0x40 && value < n_bells)
			bell[value](bell_opaque[value]);
		else if (op == 0x41)
			region.write(region_opaque, 0x100 + (value & 0xff),
				     value >> 8, 1);
		else
			region.read(region_opaque, (op & 0x3f) * 4u, 4);
		/* The error state sticks until the driver resets. */
		if ((v.status & MODVMM_VIRTIO_S_NEEDS_RESET) &&
		    modvmm_virtio_pop(&v, 0,
				      &(struct modvmm_virtio_chain){ 0 }) != 0)
			abort();
	}
	return 0;
}
