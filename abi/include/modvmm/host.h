/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MODVMM_HOST_H
#define MODVMM_HOST_H

/*
 * Services the host hands to a module. The table is filled in by the host
 * and passed to modvmm_module_init(); a module keeps the pointer for its
 * lifetime. A module built for an older minor simply does not look at the
 * members appended since; one that wants a newer member checks for it with
 * MODVMM_HAS_MEMBER(host, struct modvmm_host, member).
 *
 * Threading: the host serialises every call into a module (realize, reset,
 * region handlers, timer callbacks, unrealize), so device code needs no
 * locks of its own. Host services may be called from any of those calls.
 */

#include <modvmm/abi.h>

_MODVMM_BEGIN_DECLARATIONS

struct modvmm_device; /* a device instance, owned by the host */
struct modvmm_timer;  /* a timer, owned by the host */
struct modvmm_region;

enum {
	MODVMM_LOG_ERROR = 3,
	MODVMM_LOG_WARNING = 4,
	MODVMM_LOG_INFO = 6,
	MODVMM_LOG_DEBUG = 7,
};

/* What a device may ask of the VM (request()). */
enum {
	MODVMM_REQUEST_RESET = 1,    /* reset the machine (i8042 0xfe) */
	MODVMM_REQUEST_SHUTDOWN = 2, /* power off; arg is unused */
	MODVMM_REQUEST_EXIT = 3,     /* stop the VM, arg is the exit status */
	MODVMM_REQUEST_PANIC = 4,    /* the guest reported a panic */
};

typedef void (*modvmm_timer_cb)(void *opaque);
typedef void (*modvmm_notify_cb)(void *opaque);

struct modvmm_host {
	uint32_t size;
	uint16_t abi_major;
	uint16_t abi_minor;

	/* printf-style; the host prefixes the device id. */
	void (*log)(struct modvmm_device *dev, uint32_t level, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

	/* Drive interrupt line `line` (a GSI) to level 0 or 1. */
	int32_t (*irq_set)(struct modvmm_device *dev, uint32_t line,
			   uint32_t level);

	/*
	 * Copy to or from guest physical memory. -EFAULT when any byte of the
	 * range is not guest RAM; nothing is copied then.
	 */
	int32_t (*mem_read)(struct modvmm_device *dev, uint64_t gpa, void *buf,
			    uint64_t len);
	int32_t (*mem_write)(struct modvmm_device *dev, uint64_t gpa,
			     const void *buf, uint64_t len);

	/*
	 * Claim a PIO or MMIO range; handlers get `opaque`. The host copies
	 * *region. Regions are released when the device is unrealized.
	 * -EBUSY when the range overlaps one already claimed.
	 */
	int32_t (*region_add)(struct modvmm_device *dev,
			      const struct modvmm_region *region, void *opaque);

	/*
	 * The device clock: guest time in nanoseconds, one for all devices
	 * of a VM. It runs only while the guest runs: it stands still until
	 * the guest first runs, while the VM is paused (a migration's last
	 * phase and the save of a snapshot included) and after the guest
	 * ended. It continues across a snapshot and a migration: post_load
	 * on the destination reads the value pre_save read on the source,
	 * and the clock goes on from there. (State saved by a host older
	 * than this rule carries no clock; it then starts again from 0.)
	 */
	uint64_t (*clock_ns)(struct modvmm_device *dev);

	/*
	 * Timers on that clock. A callback runs only while the clock runs:
	 * never while the VM is paused, and on a host that takes a guest
	 * (restore, incoming migration) not before the guest runs there, so
	 * never before post_load. The host does not save timers: a device
	 * keeps its deadline in its state and re-arms in post_load.
	 */
	struct modvmm_timer *(*timer_new)(struct modvmm_device *dev,
					  modvmm_timer_cb cb, void *opaque);
	/* Arm (or re-arm) to fire once at clock_ns() >= expire_ns. */
	void (*timer_mod)(struct modvmm_timer *timer, uint64_t expire_ns);
	void (*timer_del)(struct modvmm_timer *timer);
	/* Disarms and frees; NULL is accepted. */
	void (*timer_free)(struct modvmm_timer *timer);

	/* The instance id ("serial0"); valid while the device exists. */
	const char *(*device_id)(struct modvmm_device *dev);

	/* One of MODVMM_REQUEST_*; handled after the current call returns. */
	void (*request)(struct modvmm_device *dev, uint32_t what, uint32_t arg);

	/* Since 1.2. */

	/*
	 * Pulses interrupt line `line` (a GSI): an edge, as virtio-mmio
	 * needs. Through a KVM irqfd where KVM has them.
	 */
	int32_t (*irq_pulse)(struct modvmm_device *dev, uint32_t line);

	/*
	 * A guest write of `width` bytes holding `value` at `addr` of
	 * `space` (MODVMM_SPACE_*) calls cb(opaque) instead of the write
	 * handler of the region there: a doorbell, such as a virtio queue
	 * notification. Where KVM has ioeventfds the vCPU does not stop for
	 * it, and cb runs soon after on the host's I/O thread; either way it
	 * runs serialised like every other device call, and every pending
	 * one has run before the VM is paused (so before its state is
	 * saved). -EBUSY when that address and value are taken. Released
	 * with the device.
	 */
	int32_t (*notify_add)(struct modvmm_device *dev, uint32_t space,
			      uint64_t addr, uint32_t width, uint64_t value,
			      modvmm_notify_cb cb, void *opaque);

	/* Since 1.4. */

	/*
	 * Opens `path`, the file behind a device (a disk image): for
	 * reading and writing with MODVMM_FILE_WRITE in `flags`, for
	 * reading otherwise; close-on-exec. The host refuses a file that
	 * another device of this VM has open for writing, or that this one
	 * would write while another has it open; and it takes an advisory
	 * lock on the file (an open file description lock, as QEMU takes:
	 * one writer or any number of readers), so that another modvmm
	 * cannot use it for writing too. Returns the descriptor, which the
	 * device closes (the lock goes with it), or -errno: -EBUSY when the
	 * file is in use, the reason naming the holder.
	 */
	int32_t (*file_open)(struct modvmm_device *dev, const char *path,
			     uint32_t flags);
};

#define MODVMM_FILE_WRITE 0x1u /* file_open: for writing too */

_MODVMM_END_DECLARATIONS

#endif
