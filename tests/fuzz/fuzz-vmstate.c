// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: the device-state loader on hostile streams. The
 * section is loaded with the description whose name it carries, as a
 * restore picks a device's by its id: "ex-uart", declared here with
 * every field kind, or one that modvmm itself loads from every stream,
 * "kvm-cpu" and "kvm-vm" (core/kvm-state.c) and "virtio-mmio" (the
 * transport's, in every virtio module); any other name goes to ex-uart,
 * which refuses it. Invariants: a refused load leaves the state as it
 * was; an accepted one saves and loads back to the same state, and what
 * it saves then, saved again, is the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <modvmm/virtio.h>

#include "core/kvm-state.h"
#include "core/vmstate.h"

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

static const struct state_desc *virtio_vms(void)
{
	static struct state_desc *v;

	if (!v && vmstate_import("virtio", &modvmm_virtio_vmstate,
				 sizeof(struct modvmm_virtio), &v, NULL) < 0)
		abort();
	return v;
}

/* The description named in the section's header, if it is one of those. */
static const struct state_desc *named(const uint8_t *data, size_t size)
{
	static const struct {
		const char *name;
		const struct state_desc *(*vms)(void);
	} descs[] = {
		{ "kvm-cpu", kvm_state_cpu_vms },
		{ "kvm-vm", kvm_state_vm_vms },
		{ "virtio-mmio", virtio_vms },
	};

	if (size < 3 || data[0] != 'S' || (size_t)data[2] > size - 3)
		return NULL;
	for (size_t i = 0; i < G_N_ELEMENTS(descs); i++)
		if (strlen(descs[i].name) == data[2] &&
		    !memcmp(data + 3, descs[i].name, data[2]))
			return descs[i].vms();
	return NULL;
}

/* FUZZ_VERBOSE=1 says where an input stopped: seeds are made so. */
static void verbose(const GError *err)
{
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "fuzz-vmstate: %s\n", err->message);
}

/* Any description: the invariants that need no knowledge of its fields. */
static void load_any(const struct state_desc *v, const uint8_t *data,
		     size_t size)
{
	g_autofree uint8_t *s = g_malloc0(v->state_size);
	g_autofree uint8_t *before = g_malloc0(v->state_size);
	g_autofree uint8_t *again = g_malloc0(v->state_size);
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autoptr(GByteArray) out_again = g_byte_array_new();
	g_autoptr(GError) err = NULL;
	size_t used;

	if (vmstate_load(v, s, data, size, 0, "fuzz0", &used, &err) < 0) {
		if (!err || memcmp(s, before, v->state_size))
			abort();
		verbose(err);
		return;
	}
	if (used > size || vmstate_save(v, s, v->d.version, out, NULL) < 0 ||
	    vmstate_load(v, again, out->data, out->len, 0, "fuzz0", &used,
			 NULL) < 0 ||
	    used != out->len ||
	    vmstate_save(v, again, v->d.version, out_again, NULL) < 0 ||
	    out->len != out_again->len ||
	    memcmp(out->data, out_again->data, out->len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct state_desc *v;
	const struct state_desc *other = named(data, size);
	struct st s, before, again;
	GByteArray *out;
	GError *err = NULL;

	if (other) {
		load_any(other, data, size);
		return 0;
	}
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
		verbose(err);
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
