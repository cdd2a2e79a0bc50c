// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench-vmstate: what saving and loading device state costs.
 *   - a large state (a 4 MiB buffer and a 256 Ki-element u32 array) saved
 *     and loaded, against memcpy of the same bytes twice (one copy out,
 *     one copy in: the floor for any save+load);
 *   - 1000 small devices (a uart16550-like description) saved and loaded,
 *     per device.
 * Median and range of 7 samples (BENCH_REPS). BENCH_SMOKE takes 10 small
 * devices; the large state is what its description says, whatever the mode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "core/vmstate.h"

#define REPS 7
#define BIG_BUF (4u << 20)
#define BIG_ARR (256u << 10)
#define SMALL_DEVICES 1000

struct big {
	uint32_t count;
	uint8_t buf[BIG_BUF];
	uint32_t arr[BIG_ARR];
};

struct small {
	uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
	uint16_t divisor;
	uint8_t fifo[16];
	uint8_t head, count, thr;
};

static const struct modvmm_vmstate_field big_fields[] = {
	MODVMM_VMS_FIELD(U32, struct big, count, 1),
	MODVMM_VMS_BUFFER_FIELD(struct big, buf, 1),
	MODVMM_VMS_ARRAY_FIELD(U32, struct big, arr, 1),
};

static const struct modvmm_vmstate big_vms = {
	.size = sizeof(struct modvmm_vmstate),
	.version = 1,
	.min_version = 1,
	.name = "big",
	.fields = big_fields,
	.n_fields = 3,
};

static const struct modvmm_vmstate_field small_fields[] = {
	MODVMM_VMS_FIELD(U8, struct small, ier, 1),
	MODVMM_VMS_FIELD(U8, struct small, lcr, 1),
	MODVMM_VMS_FIELD(U8, struct small, mcr, 1),
	MODVMM_VMS_FIELD(U8, struct small, lsr, 1),
	MODVMM_VMS_FIELD(U8, struct small, msr, 1),
	MODVMM_VMS_FIELD(U8, struct small, scr, 1),
	MODVMM_VMS_FIELD(U8, struct small, fcr, 1),
	MODVMM_VMS_FIELD(U16, struct small, divisor, 1),
	MODVMM_VMS_ARRAY_FIELD(U8, struct small, fifo, 1),
	MODVMM_VMS_FIELD(U8, struct small, head, 1),
	MODVMM_VMS_FIELD(U8, struct small, count, 1),
	MODVMM_VMS_FIELD(U8, struct small, thr, 1),
};

static const struct modvmm_vmstate small_vms = {
	.size = sizeof(struct modvmm_vmstate),
	.version = 1,
	.min_version = 1,
	.name = "small",
	.fields = small_fields,
	.n_fields = sizeof(small_fields) / sizeof(small_fields[0]),
};

/* One large state saved and loaded, against memcpy out and back. */
static int bench_big(const struct state_desc *vb, int reps, double *t_mem,
		     double *t_vms)
{
	struct big *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	uint8_t *bounce = malloc(sizeof(*a));
	size_t bytes = sizeof(*a);

	for (size_t i = 0; i < BIG_BUF; i++)
		a->buf[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < BIG_ARR; i++)
		a->arr[i] = (uint32_t)i * 2654435761u;
	for (int r = 0; r < reps; r++) {
		GByteArray *out = g_byte_array_sized_new((guint)bytes + 64);
		double t0 = bench_now_us();

		memcpy(bounce, a, bytes);
		memcpy(b, bounce, bytes);
		t_mem[r] = bench_now_us() - t0;

		t0 = bench_now_us();
		if (vmstate_save(vb, a, 1, out, NULL) ||
		    vmstate_load(vb, b, out->data, out->len, 0, "bench", NULL,
				 NULL))
			return 1;
		t_vms[r] = bench_now_us() - t0;
		if (memcmp(a, b, sizeof(*a)))
			return 1;
		g_byte_array_unref(out);
	}
	return 0;
}

/* n_small small devices saved one after another, then loaded. */
static int bench_small(const struct state_desc *vs, int reps, int n_small,
		       double *t_small)
{
	struct small *sa = calloc(n_small, sizeof(*sa));
	struct small *sb = calloc(n_small, sizeof(*sb));

	for (int r = 0; r < reps; r++) {
		GByteArray *out = g_byte_array_sized_new(64 * n_small);
		double t0 = bench_now_us();
		size_t pos = 0;

		for (int d = 0; d < n_small; d++)
			if (vmstate_save(vs, &sa[d], 1, out, NULL))
				return 1;
		for (int d = 0; d < n_small; d++) {
			size_t used;

			if (vmstate_load(vs, &sb[d], out->data + pos,
					 out->len - pos, pos, "bench", &used,
					 NULL))
				return 1;
			pos += used;
		}
		t_small[r] = bench_now_us() - t0;
		g_byte_array_unref(out);
	}
	return 0;
}

int main(void)
{
	int reps = bench_reps(REPS), n_small = (int)bench_scale(SMALL_DEVICES);
	double *t_mem = bench_samples_new(reps);
	double *t_vms = bench_samples_new(reps);
	double *t_small = bench_samples_new(reps);
	struct bench_sample s_mem, s_vms, s_small;
	struct state_desc *vb, *vs;
	size_t bytes = sizeof(struct big);
	char label[64];

	if (vmstate_import("bench", &big_vms, sizeof(struct big), &vb, NULL) ||
	    vmstate_import("bench", &small_vms, sizeof(struct small), &vs,
			   NULL))
		return 1;
	if (bench_big(vb, reps, t_mem, t_vms) ||
	    bench_small(vs, reps, n_small, t_small))
		return 1;

	s_mem = bench_summarise(t_mem, reps);
	s_vms = bench_summarise(t_vms, reps);
	s_small = bench_summarise(t_small, reps);
	bench_row("vmstate.memcpy", "memcpy out and back, 5 MiB", "us", s_mem,
		  reps);
	bench_row("vmstate.saveload",
		  "vmstate save+load, 5 MiB (buffer + u32 array)", "us", s_vms,
		  reps);
	/* Bytes per us are MB/s; the slowest sample gives the lowest rate. */
	bench_row("vmstate.throughput", "vmstate save+load throughput, 5 MiB",
		  "MB/s",
		  (struct bench_sample){ bytes / s_vms.median,
					 bytes / s_vms.max, bytes / s_vms.min },
		  reps);
	snprintf(label, sizeof(label),
		 "vmstate save+load per device, %d devices", n_small);
	bench_row("vmstate.small", label, "us",
		  (struct bench_sample){ s_small.median / n_small,
					 s_small.min / n_small,
					 s_small.max / n_small },
		  reps);
	vmstate_free(vb);
	vmstate_free(vs);
	return 0;
}
