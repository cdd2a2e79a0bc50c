// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * bench-crc32c: what the record checksums of snapshots and migration
 * cost, in MB/s (10^6 bytes a second) of CRC-32C:
 *   - crc32c() as the host runs it (the crc32 instruction in three lanes
 *     when the CPU has SSE4.2) and crc32c_sw() (the tables), on one page,
 *     on one RAM record of 4 MiB (the size the writer uses; it fits in a
 *     cache) and on 256 MiB (it does not: the rate of memory);
 *   - memcpy of the same bytes, the copy a live migration round makes of
 *     each run of pages before checksumming it.
 * Each sample repeats the work up to at least 256 MiB; median and range
 * of 7 samples (BENCH_REPS). BENCH_SMOKE does a hundredth of that work on
 * at most SMOKE_LEN bytes: the keys still name the real sizes, the labels
 * the bytes actually run over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "core/crc32c.h"

#define REPS 7
#define MIN_BYTES (256ull << 20)
#define MAX_LEN (256u << 20)
#define SMOKE_LEN (1u << 20)

static volatile uint32_t sink;

enum kind { HW, SW, COPY };

static double rate(enum kind k, uint8_t *src, uint8_t *dst, size_t len,
		   size_t min_bytes)
{
	size_t loops = (min_bytes + len - 1) / len;
	double t0 = bench_now_us(), dt;
	uint32_t c = 0;

	for (size_t i = 0; i < loops; i++) {
		switch (k) {
		case HW:
			c ^= crc32c(0, src, len);
			break;
		case SW:
			c ^= crc32c_sw(0, src, len);
			break;
		case COPY:
			memcpy(dst, src, len);
			c ^= dst[i % len];
			break;
		}
	}
	dt = bench_now_us() - t0;
	sink = c;
	return (double)loops * (double)len / dt; /* bytes/us = MB/s */
}

int main(void)
{
	static const size_t sizes[] = { 4096, 4u << 20, MAX_LEN };
	static const char *const names[] = {
		[HW] = "crc32c()",
		[SW] = "crc32c_sw() (tables)",
		[COPY] = "memcpy",
	};
	static const char *const keys[] = {
		[HW] = "hw",
		[SW] = "sw",
		[COPY] = "memcpy",
	};
	int reps = bench_reps(REPS), smoke = bench_smoke();
	size_t min_bytes = bench_scale(MIN_BYTES);
	size_t max_len = smoke ? SMOKE_LEN : MAX_LEN;
	uint8_t *src = malloc(max_len), *dst = malloc(max_len);
	double *v = bench_samples_new(reps);

	if (!src || !dst)
		return 1;
	/* Data that is not all one value; both buffers touched once. */
	for (size_t i = 0; i < max_len; i++)
		src[i] = (uint8_t)(i * 2654435761u >> 13);
	memset(dst, 1, max_len);
	bench_info("crc32c.impl", "crc32c() uses %s",
		   crc32c_hw() ? "the crc32 instruction (SSE4.2), three lanes"
			       : "tables (no SSE4.2)");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t len = sizes[s] < max_len ? sizes[s] : max_len;

		for (int k = HW; k <= COPY; k++) {
			char key[64], label[64];

			for (int i = 0; i < reps; i++)
				v[i] = rate((enum kind)k, src, dst, len,
					    min_bytes);
			snprintf(key, sizeof(key), "crc32c.%zu.%s", sizes[s],
				 keys[k]);
			snprintf(label, sizeof(label), "%s, %zu bytes",
				 names[k], len);
			bench_row(key, label, "MB/s", bench_summarise(v, reps),
				  reps);
		}
	}
	free(v);
	free(src);
	free(dst);
	return 0;
}
