// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench-vmstate: what saving and loading device state costs.
 *   - a large state (a 4 MiB buffer and a 256 Ki-element u32 array) saved
 *     and loaded, against memcpy of the same bytes twice (one copy out,
 *     one copy in: the floor for any save+load);
 *   - 1000 small devices (a uart16550-like description) saved and loaded,
 *     per device.
 * Median and range of 7 samples.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "../core/vmstate.h"

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

static double median(double *v, double *lo, double *hi)
{
	struct bench_sample s = bench_summarise(v, REPS);

	*lo = s.min;
	*hi = s.max;
	return s.median;
}

int main(void)
{
	struct big *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	struct small *sa = calloc(SMALL_DEVICES, sizeof(*sa));
	struct small *sb = calloc(SMALL_DEVICES, sizeof(*sb));
	uint8_t *bounce = malloc(sizeof(*a));
	double t_mem[REPS], t_vms[REPS], t_small[REPS], lo, hi, m_mem, m_vms;
	struct vms *vb, *vs;
	size_t bytes = sizeof(*a);

	if (vmstate_import("bench", &big_vms, sizeof(*a), &vb, NULL) ||
	    vmstate_import("bench", &small_vms, sizeof(*sa), &vs, NULL))
		return 1;
	for (size_t i = 0; i < BIG_BUF; i++)
		a->buf[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < BIG_ARR; i++)
		a->arr[i] = (uint32_t)i * 2654435761u;
	for (int r = 0; r < REPS; r++) {
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
	for (int r = 0; r < REPS; r++) {
		GByteArray *out = g_byte_array_sized_new(64 * SMALL_DEVICES);
		double t0 = bench_now_us();
		size_t pos = 0;

		for (int d = 0; d < SMALL_DEVICES; d++)
			if (vmstate_save(vs, &sa[d], 1, out, NULL))
				return 1;
		for (int d = 0; d < SMALL_DEVICES; d++) {
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

	m_mem = median(t_mem, &lo, &hi);
	printf("| %-44s | %10s | %-21s | %6s |\n", "what", "median",
	       "min-max", "ratio");
	printf("|----------------------------------------------|------------|-----------------------|--------|\n");
	printf("| %-44s | %7.0f us | %8.0f-%-8.0f us | %5.2fx |\n",
	       "memcpy out and back, 5 MiB", m_mem, lo, hi, 1.0);
	m_vms = median(t_vms, &lo, &hi);
	printf("| %-44s | %7.0f us | %8.0f-%-8.0f us | %5.2fx |\n",
	       "vmstate save+load, 5 MiB (buffer + u32 array)", m_vms, lo, hi,
	       m_vms / m_mem);
	printf("| %-44s | %7.0f MB/s |                       |        |\n",
	       "  vmstate throughput", bytes / m_vms);
	m_vms = median(t_small, &lo, &hi);
	printf("| %-44s | %7.2f us | %8.2f-%-8.2f us |        |\n",
	       "vmstate save+load per device, 1000 devices",
	       m_vms / SMALL_DEVICES, lo / SMALL_DEVICES, hi / SMALL_DEVICES);
	vmstate_free(vb);
	vmstate_free(vs);
	return 0;
}
