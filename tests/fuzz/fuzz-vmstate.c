// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: the device-state loader on hostile streams. Every
 * field kind is declared. Invariants: a refused load leaves the state as
 * it was; an accepted one saves and loads back to the same state.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../core/vmstate.h"

struct fifo {
	uint8_t count;
	uint8_t data[4];
};

struct st {
	uint8_t lcr;
	uint16_t divisor;
	struct fifo rx;
	struct fifo rings[2];
	uint8_t dma_on;
	uint32_t dma_addr;
	int64_t i64;
	uint8_t flag;
	uint8_t buf[3];
	uint16_t arr[2];
	uint8_t old[2];
};

static const struct modvmm_vmstate_field fifo_fields[] = {
	MODVMM_VMS_FIELD(U8, struct fifo, count, 1),
	MODVMM_VMS_VARRAY_FIELD(U8, struct fifo, data, "count", 1),
};

static const struct modvmm_vmstate fifo_vms = {
	.size = sizeof(struct modvmm_vmstate),
	.version = 1,
	.min_version = 1,
	.name = "fifo",
	.fields = fifo_fields,
	.n_fields = 2,
};

static const struct modvmm_vmstate_field dma_fields[] = {
	MODVMM_VMS_FIELD(U32, struct st, dma_addr, 1),
};

static const struct modvmm_vmstate dma_vms = {
	.size = sizeof(struct modvmm_vmstate),
	.version = 1,
	.min_version = 1,
	.name = "ex-uart/dma",
	.fields = dma_fields,
	.n_fields = 1,
};

static int32_t dma_needed(const void *state)
{
	return ((const struct st *)state)->dma_on;
}

static int32_t lcr_ok(const void *state, uint32_t version, const char **msg)
{
	(void)version;
	*msg = "lcr 0xff is reserved";
	return ((const struct st *)state)->lcr == 0xff ? -22 : 0;
}

static const struct modvmm_vmstate_subsection subs[] = {
	{ .size = sizeof(struct modvmm_vmstate_subsection),
	  .flags = MODVMM_VMS_OPTIONAL,
	  .vms = &dma_vms,
	  .needed = dma_needed },
};

static const struct modvmm_vmstate_field fields[] = {
	MODVMM_VMS_FIELD(U8, struct st, lcr, 1),
	MODVMM_VMS_FIELD(U16, struct st, divisor, 2),
	MODVMM_VMS_STRUCT_FIELD(struct st, rx, &fifo_vms, 1),
	_MODVMM_VMS(MODVMM_VMS_ARRAY, "rings", struct st, rings, .since = 2,
		    .elem_kind = MODVMM_VMS_STRUCT, .count = 2,
		    .stride = sizeof(struct fifo), .vms = &fifo_vms),
	MODVMM_VMS_FIELD(I64, struct st, i64, 2),
	MODVMM_VMS_FIELD(BOOL, struct st, flag, 2),
	MODVMM_VMS_BUFFER_FIELD(struct st, buf, 2),
	MODVMM_VMS_ARRAY_FIELD(U16, struct st, arr, 2),
	MODVMM_VMS_UNUSED_FIELD(struct st, old, "microvm-1.0", 2),
	MODVMM_VMS_VALIDATE_FIELD("lcr_ok", lcr_ok, 1),
};

/* The same name as docs/stream-format.md's example, so that it seeds. */
static const struct modvmm_vmstate desc = {
	.size = sizeof(struct modvmm_vmstate),
	.version = 2,
	.min_version = 1,
	.min_save_version = 1,
	.name = "ex-uart",
	.fields = fields,
	.n_fields = sizeof(fields) / sizeof(fields[0]),
	.subsections = subs,
	.n_subsections = 1,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vms *v;
	struct st s, before, again;
	GByteArray *out;
	GError *err = NULL;

	if (!v)
		g_assert(vmstate_import("fuzz", &desc, sizeof(struct st), &v,
					NULL) == 0);
	memset(&s, 0x5a, sizeof(s));
	s.rx.count = s.rings[0].count = s.rings[1].count = 1;
	s.lcr = 1;
	before = s;
	if (vmstate_load(v, &s, data, size, 0, "fuzz0", NULL, &err) < 0) {
		g_assert(err);
		g_assert(!memcmp(&s, &before, sizeof(s)));
		g_error_free(err);
		return 0;
	}
	out = g_byte_array_new();
	g_assert(vmstate_save(v, &s, 2, out, NULL) == 0);
	memset(&again, 0x5a, sizeof(again));
	again.rx.count = again.rings[0].count = again.rings[1].count = 1;
	again.lcr = 1;
	g_assert(vmstate_load(v, &again, out->data, out->len, 0, "fuzz0", NULL,
			      NULL) == 0);
	g_assert(again.lcr == s.lcr && again.divisor == s.divisor &&
		 again.rx.count == s.rx.count && again.i64 == s.i64 &&
		 !memcmp(again.rx.data, s.rx.data, s.rx.count));
	g_byte_array_unref(out);
	return 0;
}
