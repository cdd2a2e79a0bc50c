/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_MEMORY_H
#define CORE_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

/* Guest physical memory: which host mapping backs which guest range. */
struct memory;

struct memory *memory_new(void);
void memory_free(struct memory *mem);

/* Forgets every range (their mappings are about to go away). */
void memory_clear(struct memory *mem);

/* -EBUSY if [gpa, gpa + size) overlaps a range already added. */
int memory_add(struct memory *mem, uint64_t gpa, uint64_t size, void *hva);

/* Host address of [gpa, gpa + len) if one range holds all of it. */
void *memory_hva(struct memory *mem, uint64_t gpa, uint64_t len);

#define MEMORY_PAGE 4096u

/*
 * Writes through memory_write() to [base, base + size) (the host block
 * that backs guest RAM) are recorded, a bit per page from base.
 * memory_dirty_take() ORs the pages written since the last take into
 * `bitmap` (u64 words, bit p for page p of the block).
 */
void memory_dirty_track(struct memory *mem, void *base, uint64_t size);
void memory_dirty_take(struct memory *mem, uint64_t *bitmap);

/* -EFAULT, with nothing copied, unless every byte is guest RAM. */
int memory_read(struct memory *mem, uint64_t gpa, void *buf, uint64_t len);
int memory_write(struct memory *mem, uint64_t gpa, const void *buf,
		 uint64_t len);

#endif
