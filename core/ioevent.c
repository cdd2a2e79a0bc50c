// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/ioevent.c - doorbells: guest writes that only notify a device, and
 * the I/O thread that runs their callbacks when KVM signals them through
 * eventfds.
 *
 * Invariants: doorbells are added and removed only with call_lock held,
 * and callbacks run only with call_lock held, so a callback never runs
 * for a doorbell that is gone. The I/O thread polls without call_lock; it
 * reads an eventfd only after taking call_lock, and the eventfd of a
 * removed doorbell is closed by the thread itself once it no longer polls
 * it, so a descriptor number is never reused under its feet. Lock order:
 * call_lock, then io->lock.
 */
#include <errno.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/error.h"
#include "ioevent.h"
#include "sandbox.h"

struct doorbell {
	const void *owner;
	uint32_t space;
	uint64_t addr;
	uint32_t width;
	uint64_t value;
	modvmm_notify_cb cb;
	void *opaque;
	int fd; /* -1: not bound to an eventfd */
};

struct ioevents {
	GMutex lock; /* guards what follows */
	GMutex *call_lock;
	GPtrArray *bells; /* struct doorbell * */
	GArray *dead_fds; /* eventfds the thread closes */
	ioevent_bind_fn bind;
	void *bind_opaque;
	int wake_fd;
	GThread *thread;
	int stop;
	unsigned int changes; /* bumped when the set of eventfds changes */
};

struct ioevents *ioevents_new(GMutex *call_lock)
{
	struct ioevents *io = g_new0(struct ioevents, 1);

	g_mutex_init(&io->lock);
	io->call_lock = call_lock;
	io->bells = g_ptr_array_new_with_free_func(g_free);
	io->dead_fds = g_array_new(FALSE, FALSE, sizeof(int));
	io->wake_fd = -1;
	return io;
}

static void wake(struct ioevents *io)
{
	uint64_t one = 1;

	if (io->wake_fd >= 0 && write(io->wake_fd, &one, sizeof(one)) < 0)
		g_warn_if_reached();
}

static void close_dead(struct ioevents *io)
{
	for (guint i = 0; i < io->dead_fds->len; i++)
		close(g_array_index(io->dead_fds, int, i));
	g_array_set_size(io->dead_fds, 0);
}

void ioevents_free(struct ioevents *io)
{
	if (!io)
		return;
	g_mutex_lock(&io->lock);
	io->stop = 1;
	wake(io);
	g_mutex_unlock(&io->lock);
	if (io->thread)
		g_thread_join(io->thread);
	for (guint i = 0; i < io->bells->len; i++) {
		struct doorbell *b = io->bells->pdata[i];

		if (b->fd >= 0)
			close(b->fd);
	}
	close_dead(io);
	if (io->wake_fd >= 0)
		close(io->wake_fd);
	g_ptr_array_unref(io->bells);
	g_array_unref(io->dead_fds);
	g_mutex_clear(&io->lock);
	g_free(io);
}

void ioevents_set_binder(struct ioevents *io, ioevent_bind_fn bind,
			 void *opaque)
{
	io->bind = bind;
	io->bind_opaque = opaque;
}

static int doorbell_take(int fd)
{
	uint64_t n;

	return read(fd, &n, sizeof(n)) == sizeof(n) && n;
}

/* With call_lock held: runs the callback of each signalled doorbell whose
 * eventfd is in `ready` (all bound ones when ready is NULL). */
static void run_signalled(struct ioevents *io, GHashTable *ready)
{
	for (guint i = 0; i < io->bells->len; i++) {
		struct doorbell *b = io->bells->pdata[i];

		if (b->fd < 0 ||
		    (ready &&
		     !g_hash_table_contains(ready, GINT_TO_POINTER(b->fd))))
			continue;
		if (doorbell_take(b->fd))
			b->cb(b->opaque);
	}
}

static gpointer io_thread(gpointer data)
{
	struct ioevents *io = data;
	g_autoptr(GArray) pfds =
		g_array_new(FALSE, FALSE, sizeof(struct pollfd));
	g_autoptr(GHashTable) ready = g_hash_table_new(NULL, NULL);
	unsigned int seen = ~0u;

	sandbox_enter_or_die(SANDBOX_IO);
	for (;;) {
		struct pollfd wake_pfd = { .fd = io->wake_fd,
					   .events = POLLIN };

		g_mutex_lock(&io->lock);
		if (io->stop) {
			g_mutex_unlock(&io->lock);
			break;
		}
		/* The poll set is rebuilt only when doorbells came or went,
		 * not once per request. */
		if (seen != io->changes) {
			seen = io->changes;
			close_dead(io);
			g_array_set_size(pfds, 0);
			g_array_append_val(pfds, wake_pfd);
			for (guint i = 0; i < io->bells->len; i++) {
				struct doorbell *b = io->bells->pdata[i];
				struct pollfd p = { .fd = b->fd,
						    .events = POLLIN };

				if (b->fd >= 0)
					g_array_append_val(pfds, p);
			}
		}
		g_mutex_unlock(&io->lock);

		if (poll((struct pollfd *)pfds->data, pfds->len, -1) < 0)
			continue;
		if (g_array_index(pfds, struct pollfd, 0).revents)
			doorbell_take(io->wake_fd);
		g_hash_table_remove_all(ready);
		for (guint i = 1; i < pfds->len; i++) {
			struct pollfd *p =
				&g_array_index(pfds, struct pollfd, i);

			if (p->revents & POLLIN)
				g_hash_table_add(ready, GINT_TO_POINTER(p->fd));
		}
		if (!g_hash_table_size(ready))
			continue;
		/* A doorbell removed since the poll is no longer listed, and
		 * its descriptor is still open (only this thread closes it). */
		g_mutex_lock(io->call_lock);
		run_signalled(io, ready);
		g_mutex_unlock(io->call_lock);
	}
	return NULL;
}

/* Gives the doorbell an eventfd the hypervisor signals; on any failure it
 * simply stays a doorbell served by ioevents_write(). */
static void bind_doorbell(struct ioevents *io, struct doorbell *b)
{
	int fd;

	if (!io->bind)
		return;
	if (io->wake_fd < 0) {
		io->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (io->wake_fd < 0)
			return;
	}
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		return;
	if (io->bind(io->bind_opaque, fd, b->space, b->addr, b->width, b->value,
		     0) < 0) {
		close(fd);
		return;
	}
	b->fd = fd;
	if (!io->thread)
		io->thread = g_thread_new("modvmm-io", io_thread, io);
}

int ioevent_add(struct ioevents *io, const void *owner, uint32_t space,
		uint64_t addr, uint32_t width, uint64_t value,
		modvmm_notify_cb cb, void *opaque, GError **error)
{
	struct doorbell *b;

	if (!cb || (width != 1 && width != 2 && width != 4 && width != 8))
		return error_setf(error, EINVAL,
				  "doorbell at 0x%" G_GINT64_MODIFIER "x: %s",
				  addr,
				  cb ? "width must be 1, 2, 4 or 8 bytes"
				     : "no callback");
	for (guint i = 0; i < io->bells->len; i++) {
		struct doorbell *o = io->bells->pdata[i];

		if (o->space == space && o->addr == addr && o->value == value)
			return error_setf(error, EBUSY,
					  "doorbell at 0x%" G_GINT64_MODIFIER
					  "x value %" G_GUINT64_FORMAT
					  " is taken",
					  addr, (guint64)value);
	}
	b = g_new0(struct doorbell, 1);
	*b =
		(struct doorbell){ owner, space, addr,	 width,
				   value, cb,	 opaque, -1 };
	bind_doorbell(io, b);
	g_mutex_lock(&io->lock);
	g_ptr_array_add(io->bells, b);
	io->changes++;
	wake(io);
	g_mutex_unlock(&io->lock);
	return 0;
}

void ioevents_remove_owner(struct ioevents *io, const void *owner)
{
	g_mutex_lock(&io->lock);
	for (guint i = io->bells->len; i-- > 0;) {
		struct doorbell *b = io->bells->pdata[i];

		if (b->owner != owner)
			continue;
		if (b->fd >= 0) {
			io->bind(io->bind_opaque, b->fd, b->space, b->addr,
				 b->width, b->value, 1);
			g_array_append_val(io->dead_fds, b->fd);
		}
		g_ptr_array_remove_index(io->bells, i);
	}
	io->changes++;
	wake(io);
	g_mutex_unlock(&io->lock);
}

int ioevents_write(struct ioevents *io, uint32_t space, uint64_t addr,
		   uint32_t width, uint64_t value)
{
	for (guint i = 0; i < io->bells->len; i++) {
		struct doorbell *b = io->bells->pdata[i];

		if (b->space == space && b->addr == addr && b->width == width &&
		    b->value == value) {
			b->cb(b->opaque);
			return 1;
		}
	}
	return 0;
}

void ioevents_drain(struct ioevents *io)
{
	g_mutex_lock(io->call_lock);
	run_signalled(io, NULL);
	g_mutex_unlock(io->call_lock);
}
