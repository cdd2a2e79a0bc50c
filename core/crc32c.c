// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/crc32c.c - CRC-32C of snapshot and migration records.
 *
 * A migration moves all of guest RAM through this function, so speed
 * matters. On x86-64 with SSE4.2 the crc32 instruction does 8 bytes at a
 * time; one chain of them is bound by the instruction's latency (3
 * cycles) rather than its throughput (1 a cycle), so long buffers are
 * cut into three lanes whose CRCs run side by side and are then joined:
 * the CRC register after A then B is shift(reg after A, |B|) xor (reg
 * of B started from 0), where shift() multiplies by x^(8 |B|) modulo the
 * polynomial. For the two fixed lane lengths used, that multiplication is
 * a lookup in four tables of 256 entries, built once.
 *
 * Without SSE4.2 (or on another architecture), "slicing by 8": eight
 * tables, one 64-bit word a step.
 *
 * All register arithmetic here is on the bit-reflected form: bit 31 holds
 * the coefficient of x^0, and multiplying by x is a right shift.
 */
#include <string.h>

#include <glib.h>

#include "crc32c.h"

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#define POLY 0x82f63b78u /* x^32 + ... reflected, without the x^32 term */
#define LANE_LONG 8192u	 /* bytes per lane: three lanes = 24 KiB */
#define LANE_SHORT 256u	 /* for buffers of 768 bytes to 24 KiB */

static uint32_t sw_table[8][256];
static uint32_t shift_long[4][256];
static uint32_t shift_short[4][256];
static int use_hw;

/* a * b modulo the polynomial. */
static uint32_t gf2_mul(uint32_t a, uint32_t b)
{
	uint32_t p = 0;

	for (int i = 0; i < 32; i++) {
		if (a & (0x80000000u >> i))
			p ^= b;
		b = b & 1 ? (b >> 1) ^ POLY : b >> 1;
	}
	return p;
}

/* x^(8 * bytes) modulo the polynomial: what `bytes` zeros do to a CRC. */
static uint32_t x_pow_bytes(uint64_t bytes)
{
	uint32_t r = 0x80000000u, base = 0x40000000u; /* 1 and x */

	for (uint64_t e = bytes * 8; e; e >>= 1) {
		if (e & 1)
			r = gf2_mul(r, base);
		base = gf2_mul(base, base);
	}
	return r;
}

static void shift_init(uint32_t t[4][256], uint64_t bytes)
{
	uint32_t m = x_pow_bytes(bytes);

	for (unsigned int k = 0; k < 4; k++)
		for (uint32_t b = 0; b < 256; b++)
			t[k][b] = gf2_mul(m, b << (8 * k));
}

static inline uint32_t shift(const uint32_t t[4][256], uint32_t r)
{
	return t[0][r & 0xff] ^ t[1][(r >> 8) & 0xff] ^ t[2][(r >> 16) & 0xff] ^
	       t[3][r >> 24];
}

static void init(void)
{
	static gsize done;

	if (!g_once_init_enter(&done))
		return;
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		sw_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int k = 1; k < 8; k++)
			sw_table[k][i] = (sw_table[k - 1][i] >> 8) ^
					 sw_table[0][sw_table[k - 1][i] & 0xff];
	shift_init(shift_long, LANE_LONG);
	shift_init(shift_short, LANE_SHORT);
#if defined(__x86_64__)
	use_hw = __builtin_cpu_supports("sse4.2") != 0;
#endif
	g_once_init_leave(&done, 1);
}

static uint32_t sw_run(uint32_t r, const uint8_t *p, size_t len)
{
	while (len && ((uintptr_t)p & 7)) {
		r = (r >> 8) ^ sw_table[0][(r ^ *p++) & 0xff];
		len--;
	}
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
		w = GUINT64_FROM_LE(w) ^ r;
		r = sw_table[7][w & 0xff] ^ sw_table[6][(w >> 8) & 0xff] ^
		    sw_table[5][(w >> 16) & 0xff] ^
		    sw_table[4][(w >> 24) & 0xff] ^
		    sw_table[3][(w >> 32) & 0xff] ^
		    sw_table[2][(w >> 40) & 0xff] ^
		    sw_table[1][(w >> 48) & 0xff] ^ sw_table[0][w >> 56];
	}
	while (len--)
		r = (r >> 8) ^ sw_table[0][(r ^ *p++) & 0xff];
	return r;
}

#if defined(__x86_64__)
static inline uint64_t load64(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return w;
}

__attribute__((target("sse4.2"))) static uint32_t
hw_run(uint32_t r, const uint8_t *p, size_t len)
{
	uint64_t r64;

	while (len && ((uintptr_t)p & 7)) {
		r = _mm_crc32_u8(r, *p++);
		len--;
	}
	r64 = r;
	for (; len >= 8; p += 8, len -= 8)
		r64 = _mm_crc32_u64(r64, load64(p));
	r = (uint32_t)r64;
	while (len--)
		r = _mm_crc32_u8(r, *p++);
	return r;
}

/* Blocks of three lanes of `lane` bytes each, while they fit. */
__attribute__((target("sse4.2"))) static uint32_t
hw_lanes(uint32_t r, const uint8_t **pp, size_t *plen, size_t lane,
	 const uint32_t t[4][256])
{
	const uint8_t *p = *pp;
	size_t len = *plen;

	for (; len >= 3 * lane; p += 3 * lane, len -= 3 * lane) {
		uint64_t a = r, b = 0, c = 0;

		for (size_t i = 0; i < lane; i += 8) {
			a = _mm_crc32_u64(a, load64(p + i));
			b = _mm_crc32_u64(b, load64(p + lane + i));
			c = _mm_crc32_u64(c, load64(p + 2 * lane + i));
		}
		r = shift(t, shift(t, (uint32_t)a) ^ (uint32_t)b) ^ (uint32_t)c;
	}
	*pp = p;
	*plen = len;
	return r;
}
#endif

uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
	init();
	return ~sw_run(~crc, buf, len);
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t r = ~crc;

	init();
#if defined(__x86_64__)
	if (use_hw) {
		r = hw_lanes(r, &p, &len, LANE_LONG, shift_long);
		r = hw_lanes(r, &p, &len, LANE_SHORT, shift_short);
		return ~hw_run(r, p, len);
	}
#endif
	return ~sw_run(r, p, len);
}

int crc32c_hw(void)
{
	init();
	return use_hw;
}
