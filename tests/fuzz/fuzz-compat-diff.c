// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libFuzzer target: the differential test of the compatibility rule
 * (tests/unit/compat-random.c) with every random choice taken from the
 * input, one byte at a time (zeros once it runs out): the history of a
 * device's state description, then two cases on it, each two releases, a
 * state and the policy.
 * Invariants:
 *   - accepted means the source's save at the agreed version loads on the
 *     destination and every field both know arrives unchanged;
 *   - refused means no version the source can save loads that way, or the
 *     refusal is by policy (known-bad module version, machine type) and
 *     lists it;
 *   - every generated description is accepted by vmstate_import() and
 *     both manifests read back from their JSON.
 * A finding prints both descriptions and the verdict, then aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../unit/compat-random.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cr_rng rng = { .data = data, .len = size };
	struct cr_result r[2];

	cr_run_cases(&rng, r, 2);
	for (int i = 0; i < 2; i++) {
		if (r[i].outcome >= CR_FALSE_ACCEPT) {
			fprintf(stderr, "fuzz-compat-diff: %s\n%s",
				r[i].category, r[i].report);
			abort();
		}
		cr_result_clear(&r[i]);
	}
	return 0;
}
