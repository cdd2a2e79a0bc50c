// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/memory.c - the guest physical memory map.
 *
 * Ranges never overlap. An access must lie in guest RAM entirely before any
 * byte moves, so a device handed a bad address by its guest cannot make the
 * host touch memory outside it.
 *
 * Device writes are not seen by KVM's dirty log (they do not go through
 * the guest's page tables), so this file keeps its own dirty bitmap of
 * the block that backs guest RAM; a migration ORs it into KVM's. Bits are
 * set and taken with atomics: devices write from vCPU and I/O threads
 * while a migration thread takes them.
 */
#include <errno.h>
#include <string.h>

#include "memory.h"

struct mem_range {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct memory {
	GArray *ranges;	     /* struct mem_range, sorted by gpa */
	uint8_t *dirty_base; /* block tracked by `dirty`, a bit per page */
	uint64_t dirty_size;
	uint64_t *dirty;
};

struct memory *memory_new(void)
{
	struct memory *mem = g_new0(struct memory, 1);

	mem->ranges = g_array_new(FALSE, FALSE, sizeof(struct mem_range));
	return mem;
}

void memory_free(struct memory *mem)
{
	if (!mem)
		return;
	g_array_unref(mem->ranges);
	g_free(mem->dirty);
	g_free(mem);
}

void memory_clear(struct memory *mem)
{
	g_array_set_size(mem->ranges, 0);
	g_clear_pointer(&mem->dirty, g_free);
	mem->dirty_base = NULL;
	mem->dirty_size = 0;
}

void memory_dirty_track(struct memory *mem, void *base, uint64_t size)
{
	g_free(mem->dirty);
	mem->dirty_base = base;
	mem->dirty_size = size;
	mem->dirty = g_new0(uint64_t, (size / MEMORY_PAGE + 63) / 64);
}

void memory_dirty_take(struct memory *mem, uint64_t *bitmap)
{
	uint64_t words = (mem->dirty_size / MEMORY_PAGE + 63) / 64;

	for (uint64_t i = 0; i < words; i++)
		bitmap[i] |= __atomic_exchange_n(&mem->dirty[i], 0,
						 __ATOMIC_ACQ_REL);
}

static void mark_dirty(struct memory *mem, const uint8_t *hva, uint64_t len)
{
	uint64_t first, last;

	if (!mem->dirty || hva < mem->dirty_base ||
	    (uint64_t)(hva - mem->dirty_base) >= mem->dirty_size)
		return;
	first = (uint64_t)(hva - mem->dirty_base) / MEMORY_PAGE;
	last = ((uint64_t)(hva - mem->dirty_base) + len - 1) / MEMORY_PAGE;
	for (uint64_t p = first; p <= last; p++)
		__atomic_fetch_or(&mem->dirty[p / 64], 1ull << (p % 64),
				  __ATOMIC_RELEASE);
}

int memory_add(struct memory *mem, uint64_t gpa, uint64_t size, void *hva)
{
	struct mem_range nr = { gpa, size, hva };
	guint i;

	if (!size || gpa + size < gpa)
		return -EINVAL;
	for (i = 0; i < mem->ranges->len; i++) {
		struct mem_range *r =
			&g_array_index(mem->ranges, struct mem_range, i);

		if (gpa < r->gpa + r->size && r->gpa < gpa + size)
			return -EBUSY;
		if (r->gpa > gpa)
			break;
	}
	g_array_insert_val(mem->ranges, i, nr);
	return 0;
}

static struct mem_range *range_at(struct memory *mem, uint64_t gpa)
{
	for (guint i = 0; i < mem->ranges->len; i++) {
		struct mem_range *r =
			&g_array_index(mem->ranges, struct mem_range, i);

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

void *memory_hva(struct memory *mem, uint64_t gpa, uint64_t len)
{
	struct mem_range *r = range_at(mem, gpa);

	if (!r || len > r->size - (gpa - r->gpa))
		return NULL;
	return r->hva + (gpa - r->gpa);
}

/* Adjacent ranges may serve one access between them. */
static int memory_rw(struct memory *mem, uint64_t gpa, uint8_t *buf,
		     uint64_t len, int write)
{
	uint64_t a = gpa, left = len;

	if (gpa + len < gpa)
		return -EFAULT;
	while (left) {
		struct mem_range *r = range_at(mem, a);
		uint64_t n;

		if (!r)
			return -EFAULT;
		n = MIN(left, r->size - (a - r->gpa));
		a += n;
		left -= n;
	}
	for (a = gpa, left = len; left;) {
		struct mem_range *r = range_at(mem, a);
		uint64_t n = MIN(left, r->size - (a - r->gpa));

		if (write) {
			memcpy(r->hva + (a - r->gpa), buf, n);
			mark_dirty(mem, r->hva + (a - r->gpa), n);
		} else
			memcpy(buf, r->hva + (a - r->gpa), n);
		buf += n;
		a += n;
		left -= n;
	}
	return 0;
}

int memory_read(struct memory *mem, uint64_t gpa, void *buf, uint64_t len)
{
	return memory_rw(mem, gpa, buf, len, 0);
}

int memory_write(struct memory *mem, uint64_t gpa, const void *buf,
		 uint64_t len)
{
	return memory_rw(mem, gpa, (uint8_t *)buf, len, 1);
}
