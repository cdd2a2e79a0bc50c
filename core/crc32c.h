/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_CRC32C_H
#define CORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82f63b78, as in iSCSI and
 * ext4): the checksum of snapshot and migration records. crc32c(0, p, n)
 * is the CRC of n bytes; passing a previous result as `crc` continues it,
 * so crc32c(crc32c(0, a, na), b, nb) is the CRC of a then b. The CRC of
 * "123456789" is 0xe3069283.
 *
 * crc32c() uses the CPU's crc32 instruction (SSE4.2) when it has one and
 * crc32c_sw() otherwise; both give the same result. crc32c_sw() is also
 * exported so that tests and the benchmark can compare the two.
 */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* Whether crc32c() uses the crc32 instruction on this CPU. */
int crc32c_hw(void);

#endif
