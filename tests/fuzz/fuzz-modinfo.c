// SPDX-License-Identifier: LGPL-2.1-or-later
/* libFuzzer target: the .modvmm_modinfo section parser. */
#include <stddef.h>
#include <stdint.h>

#include "core/modinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct modinfo *mi = NULL;
	GError *err = NULL;

	if (modinfo_parse("fuzz.so", (const char *)data, size, &mi, &err) < 0)
		g_assert(err && !mi);
	else
		g_assert(mi && !err && mi->name && mi->version && mi->abi);
	modinfo_free(mi);
	g_clear_error(&err);
	return 0;
}
