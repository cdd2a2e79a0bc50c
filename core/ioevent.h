/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_IOEVENT_H
#define CORE_IOEVENT_H

#include <stdint.h>

#include <glib.h>

#include <modvmm/host.h>

/*
 * Doorbells: guest writes that only notify a device (host->notify_add).
 * Where a binder is set (KVM's ioeventfd), each doorbell gets an eventfd
 * that KVM signals without stopping the vCPU, and an I/O thread runs the
 * callbacks; without one, or for a write that still reaches the host,
 * ioevents_write() runs them on the spot. Callbacks always run with
 * call_lock held, like every call into device code.
 */
struct ioevents;

/*
 * Asks the hypervisor to signal `fd` on the write (deassign 0), or to stop
 * (deassign 1). 0, or a negative errno: the doorbell then works through
 * ioevents_write() alone.
 */
typedef int (*ioevent_bind_fn)(void *opaque, int fd, uint32_t space,
			       uint64_t addr, uint32_t width, uint64_t value,
			       int deassign);

struct ioevents *ioevents_new(GMutex *call_lock);
void ioevents_free(struct ioevents *io);

/* Set before any doorbell is added (KVM opens before devices exist). */
void ioevents_set_binder(struct ioevents *io, ioevent_bind_fn bind,
			 void *opaque);

/* Under call_lock. -EBUSY when the same address and value are taken. */
int ioevent_add(struct ioevents *io, const void *owner, uint32_t space,
		uint64_t addr, uint32_t width, uint64_t value,
		modvmm_notify_cb cb, void *opaque, GError **error);

/* Under call_lock: the owner's doorbells go, and no callback of theirs
 * runs after this returns. */
void ioevents_remove_owner(struct ioevents *io, const void *owner);

/* Under call_lock: 1 when a doorbell took the write (its cb ran). */
int ioevents_write(struct ioevents *io, uint32_t space, uint64_t addr,
		   uint32_t width, uint64_t value);

/* Runs the callback of every doorbell signalled but not yet handled.
 * Takes call_lock. */
void ioevents_drain(struct ioevents *io);

#endif
