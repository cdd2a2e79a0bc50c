// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * compat/abi-rules.c - the module ABI version and struct-size rules.
 *
 * Pure functions over plain data: no I/O, no allocation, so the loader and
 * the unit tests share exactly one statement of the rules.
 */
#include <errno.h>
#include <string.h>

#include "compat/abi-rules.h"

int abi_version_check(uint32_t host_major, uint32_t host_minor,
		      uint32_t mod_major, uint32_t mod_minor)
{
	if (mod_major != host_major)
		return -EPROTONOSUPPORT;
	if (mod_minor > host_minor)
		return -ENOTSUP;
	return 0;
}

int abi_struct_import(void *dst, size_t dst_size, const void *src,
		      size_t src_size, size_t *ret_offset)
{
	const uint8_t *s = src;

	if (src_size > dst_size) {
		for (size_t i = dst_size; i < src_size; i++) {
			if (s[i]) {
				if (ret_offset)
					*ret_offset = i;
				return -EPROTO;
			}
		}
	}
	memset(dst, 0, dst_size);
	memcpy(dst, src, src_size < dst_size ? src_size : dst_size);
	return 0;
}

static int parse_u16(const char *s, const char **ret_end, uint32_t *ret)
{
	uint32_t v = 0;
	const char *p = s;

	/* Digits only: no sign, no spaces, no leading zeros but "0". */
	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (uint32_t)(*p - '0');
		if (v > UINT16_MAX)
			return -EINVAL;
	}
	*ret_end = p;
	*ret = v;
	return 0;
}

int abi_version_parse(const char *s, uint32_t *ret_major, uint32_t *ret_minor)
{
	uint32_t major, minor;
	const char *p;

	if (!s || parse_u16(s, &p, &major) < 0 || *p != '.' ||
	    parse_u16(p + 1, &p, &minor) < 0 || *p)
		return -EINVAL;
	*ret_major = major;
	*ret_minor = minor;
	return 0;
}
