/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MODVMM_VIRTIO_H
#define MODVMM_VIRTIO_H

/*
 * The virtio-mmio transport (virtio 1.x, modern register layout, split
 * virtqueues) for device modules: libmodvmm-virtio, a static library
 * linked into each module (pkg-config modvmm-virtio).
 *
 * It is not host ABI. It runs inside the module, on the host services of
 * ABI 1.2 (regions, guest memory, irq_pulse, notify_add), so the host
 * knows nothing of virtio and a fix here reaches a device when its module
 * is rebuilt. What it does put on the wire is its state: struct
 * modvmm_virtio's saved members, described by modvmm_virtio_vmstate
 * ("virtio-mmio"), which a device nests in its own description. Changing
 * that layout is a wire change for every device that nests it, versioned
 * like any other.
 *
 * Malformed guest input (a descriptor chain that loops, leaves the queue,
 * is longer than the queue, or points outside guest RAM; ring addresses
 * outside guest RAM) never makes the module touch host memory: guest
 * memory is reached only through the host's checked copies. It puts the
 * device into its error state: status DEVICE_NEEDS_RESET and a
 * configuration-change interrupt, as the virtio spec asks; the driver
 * resets the device to go on.
 */

#include <modvmm/device.h>

_MODVMM_BEGIN_DECLARATIONS

#define MODVMM_VIRTIO_MMIO_SIZE 0x200u /* registers and config space */
#define MODVMM_VIRTIO_ACPI_HID "LNRO0005"
#define MODVMM_VIRTIO_QUEUES_MAX 8u
#define MODVMM_VIRTIO_QUEUE_SIZE_MAX 256u

/* Feature bits of the transport. */
#define MODVMM_VIRTIO_F_VERSION_1 (UINT64_C(1) << 32)

/* Device status bits. */
#define MODVMM_VIRTIO_S_ACKNOWLEDGE 0x01u
#define MODVMM_VIRTIO_S_DRIVER 0x02u
#define MODVMM_VIRTIO_S_DRIVER_OK 0x04u
#define MODVMM_VIRTIO_S_FEATURES_OK 0x08u
#define MODVMM_VIRTIO_S_NEEDS_RESET 0x40u
#define MODVMM_VIRTIO_S_FAILED 0x80u

/* Descriptor flags. */
#define MODVMM_VIRTQ_DESC_F_NEXT 0x1u
#define MODVMM_VIRTQ_DESC_F_WRITE 0x2u
#define MODVMM_VIRTQ_DESC_F_INDIRECT 0x4u

struct modvmm_virtio;

/* What a device adds to the transport. Members may be NULL. */
struct modvmm_virtio_ops {
	uint32_t size;
	uint32_t reserved;
	/* The guest rang queue `queue`: take its requests with
	 * modvmm_virtio_pop(). */
	void (*queue_notify)(struct modvmm_virtio *v, uint32_t queue);
	/* Device configuration space, offset from its start (0x100). */
	uint64_t (*config_read)(struct modvmm_virtio *v, uint64_t offset,
				uint32_t width);
	void (*config_write)(struct modvmm_virtio *v, uint64_t offset,
			     uint64_t value, uint32_t width);
	/* The driver reset the device (status written 0). */
	void (*reset)(struct modvmm_virtio *v);
};

struct modvmm_virtio_queue {
	uint32_t num;	/* size the driver chose */
	uint32_t ready; /* 0 or 1 */
	uint64_t desc;	/* guest physical addresses of the three rings */
	uint64_t avail;
	uint64_t used;
	uint16_t last_avail; /* next available entry the device takes */
	uint16_t used_idx;   /* next used entry it fills */
	uint32_t reserved;
};

struct modvmm_virtio_doorbell {
	struct modvmm_virtio *v;
	uint32_t queue;
	uint32_t reserved;
};

/*
 * A device's transport, inside the device's instance state. The members
 * down to `queues` are its state (modvmm_virtio_vmstate); the rest is set
 * by modvmm_virtio_realize() from the device's configuration.
 */
struct modvmm_virtio {
	uint32_t status;
	uint32_t isr; /* bit 0: used buffers, bit 1: configuration change */
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t config_generation;
	uint64_t driver_features;
	struct modvmm_virtio_queue queues[MODVMM_VIRTIO_QUEUES_MAX];

	const struct modvmm_host *host;
	struct modvmm_device *dev;
	const struct modvmm_virtio_ops *ops;
	uint64_t base;
	uint64_t device_features; /* without VERSION_1, which is added */
	uint32_t irq;
	uint32_t device_id; /* virtio device type: 2 block, 4 entropy */
	uint32_t n_queues;
	uint32_t queue_size_max;
	uint32_t notified; /* used entries added since the last interrupt */
	uint32_t reserved;
	struct modvmm_virtio_doorbell doorbells[MODVMM_VIRTIO_QUEUES_MAX];
};

/* One buffer of a descriptor chain: device-readable or -writable. */
struct modvmm_virtio_buf {
	uint64_t addr;
	uint32_t len;
	uint32_t write; /* 1: the device writes it */
};

/* A request: the chain starting at descriptor `head`. */
struct modvmm_virtio_chain {
	uint16_t head;
	uint16_t n;	  /* buffers in buf */
	uint32_t in_len;  /* bytes the device may write, all buffers */
	uint32_t out_len; /* bytes the device reads */
	uint32_t reserved;
	struct modvmm_virtio_buf buf[MODVMM_VIRTIO_QUEUE_SIZE_MAX];
};

/*
 * Claims the register window at base (MODVMM_VIRTIO_MMIO_SIZE bytes),
 * announced to ACPI as LNRO0005 with interrupt `irq`, and one doorbell per
 * queue. Set dev, host, ops, base, irq, device_id, device_features,
 * n_queues and queue_size_max (a power of two, at most
 * MODVMM_VIRTIO_QUEUE_SIZE_MAX) first. 0 or a negative errno.
 */
int32_t modvmm_virtio_realize(struct modvmm_virtio *v);

/* Back to the state after power-on (the transport's part). */
void modvmm_virtio_reset(struct modvmm_virtio *v);

/*
 * Takes the next available request of `queue` into *ret: 1 when there
 * was one, 0 when the queue is empty, not ready or the device is in its
 * error state, and a negative errno when the guest's rings are malformed
 * (the device is then in its error state).
 */
int32_t modvmm_virtio_pop(struct modvmm_virtio *v, uint32_t queue,
			  struct modvmm_virtio_chain *ret);

/* Hands request `head` back with `len` bytes written into its buffers. */
int32_t modvmm_virtio_push(struct modvmm_virtio *v, uint32_t queue,
			   uint16_t head, uint32_t len);

/* Interrupts the driver if requests were pushed since the last call and
 * it did not ask to be left alone (VIRTQ_AVAIL_F_NO_INTERRUPT). */
void modvmm_virtio_notify(struct modvmm_virtio *v, uint32_t queue);

/*
 * Copies between a chain's buffers and a flat buffer, starting `offset`
 * bytes into the chain's device-readable (read) or device-writable
 * (write) buffers. 0, or -EFAULT (error state) when guest memory refuses.
 */
int32_t modvmm_virtio_chain_read(struct modvmm_virtio *v,
				 const struct modvmm_virtio_chain *c,
				 uint64_t offset, void *buf, uint64_t len);
int32_t modvmm_virtio_chain_write(struct modvmm_virtio *v,
				  const struct modvmm_virtio_chain *c,
				  uint64_t offset, const void *buf,
				  uint64_t len);

/* Puts the device into its error state, logging `why`. */
void modvmm_virtio_fail(struct modvmm_virtio *v, const char *why);

/* The transport's state, for a MODVMM_VMS_STRUCT_FIELD of the device. */
extern const struct modvmm_vmstate modvmm_virtio_vmstate;

_MODVMM_END_DECLARATIONS

#endif
