/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef COMPAT_ABI_RULES_H
#define COMPAT_ABI_RULES_H

#include <stddef.h>
#include <stdint.h>

/*
 * The version rule: major equal, module minor <= host minor.
 * Returns 0, -EPROTONOSUPPORT for another major, -ENOTSUP for a newer minor.
 */
int abi_version_check(uint32_t host_major, uint32_t host_minor,
		      uint32_t mod_major, uint32_t mod_minor);

/*
 * The append-only rule for a size-prefixed struct: copy src (src_size bytes)
 * into dst (dst_size bytes, what this host knows). A shorter src leaves the
 * rest of dst zero. A longer src is accepted only if its tail beyond
 * dst_size is zero; otherwise returns -EPROTO and the offset of the first
 * non-zero byte in *ret_offset.
 */
int abi_struct_import(void *dst, size_t dst_size, const void *src,
		      size_t src_size, size_t *ret_offset);

/* Parses "MAJOR.MINOR"; -EINVAL on anything else. */
int abi_version_parse(const char *s, uint32_t *ret_major, uint32_t *ret_minor);

#endif
