/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef TESTS_COMPAT_RANDOM_H
#define TESTS_COMPAT_RANDOM_H

/*
 * The differential test of the compatibility rule (ARCHITECTURE.md, "One
 * owner of the rule"): random release histories of one device's state
 * description, as a module declares it with the SDK structs, imported as
 * the loader imports them; two releases of one history, a source and a
 * destination; the verdict of compat_negotiate() on the source's guest
 * manifest and the destination's inventory, both through JSON; then the
 * real save on the source and load on the destination. Shared by the unit
 * test (random choices from a seeded GRand) and the fuzz target (random
 * choices from the fuzz input).
 */

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

/* Where random choices come from: a GRand, or bytes (then zeros). */
struct cr_rng {
	GRand *rand;
	const uint8_t *data;
	size_t len, pos;
};

enum cr_outcome {
	CR_ACCEPTED,	  /* accepted, and the load round-trips */
	CR_REFUSED,	  /* refused, and no version the source saves loads */
	CR_POLICY,	  /* refused by policy: known-bad, machine type */
	CR_FALSE_ACCEPT,  /* accepted, but the load fails or corrupts */
	CR_FALSE_REFUSAL, /* refused, but a version loads and round-trips */
	CR_BROKEN,	  /* anything else: import, JSON, policy not listed */
};

struct cr_result {
	enum cr_outcome outcome;
	char *category; /* failures: what went wrong, numbers masked */
	char *report;	/* failures: descriptions, verdict, what happened */
	size_t size;	/* failures: length of the two descriptions */
};

/*
 * One history, then n cases on it (ret[0..n)), each a pair of its
 * releases, a state, the verdict and the real load.
 */
void cr_run_cases(struct cr_rng *rng, struct cr_result *ret, unsigned int n);
void cr_result_clear(struct cr_result *r);

const char *cr_outcome_name(enum cr_outcome o);

#endif
