// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The differential test of the compatibility rule: random release
 * histories and states (compat-random.c), the verdict against the real
 * save and load. Zero false accepts, zero false refusals.
 *
 * Each seed makes one history and PER_SEED cases on it; a failure prints
 * its seed and case. To run that seed's cases again:
 *   COMPAT_RANDOM_SEED=N build/tests/unit/test-compat-random
 * COMPAT_RANDOM_CASES sets how many cases run from there (default
 * PER_SEED, and 100000 from seed 1 without COMPAT_RANDOM_SEED);
 * COMPAT_RANDOM_VERBOSE=1 prints every failing case, not only the
 * smallest of each kind.
 */
#include <stdio.h>

#include "check-tap.h"
#include "compat-random.h"

#define DEFAULT_CASES 100000
#define PER_SEED 8 /* cases on the history of one seed */

/* The smallest failing case of one kind, and how many there were. */
struct kind {
	unsigned int count;
	guint32 seed;
	int index; /* the case of that seed */
	size_t size;
	char *report;
};

static void kind_free(struct kind *k)
{
	g_free(k->report);
	g_free(k);
}

static guint32 env_number(const char *name, guint32 dflt)
{
	const char *v = g_getenv(name);

	return v && *v ? (guint32)g_ascii_strtoull(v, NULL, 10) : dflt;
}

START_TEST(test_compat_random_verdict_matches_load)
{
	g_autoptr(GHashTable) kinds = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free, (GDestroyNotify)kind_free);
	const char *one = g_getenv("COMPAT_RANDOM_SEED");
	guint32 first = one && *one ? env_number("COMPAT_RANDOM_SEED", 1) : 1;
	guint32 cases = env_number("COMPAT_RANDOM_CASES",
				   one && *one ? PER_SEED : DEFAULT_CASES);
	unsigned int counts[CR_BROKEN + 1] = { 0 }, failed;
	g_autoptr(GString) summary = g_string_new(NULL);
	gint64 start = g_get_monotonic_time();
	int verbose = env_number("COMPAT_RANDOM_VERBOSE", 0) != 0;
	GHashTableIter it;
	gpointer key, val;

	for (guint32 seed = first; seed < first + cases / PER_SEED; seed++) {
		GRand *rand = g_rand_new_with_seed(seed);
		struct cr_rng rng = { .rand = rand };
		struct cr_result r[PER_SEED];

		cr_run_cases(&rng, r, PER_SEED);
		g_rand_free(rand);
		for (int i = 0; i < PER_SEED; i++) {
			struct kind *k;

			counts[r[i].outcome]++;
			if (r[i].category && verbose)
				fprintf(stderr, "\n== seed %u case %d: %s\n%s",
					seed, i, r[i].category, r[i].report);
			if (!r[i].category) {
				cr_result_clear(&r[i]);
				continue;
			}
			k = g_hash_table_lookup(kinds, r[i].category);
			if (!k) {
				k = g_new0(struct kind, 1);
				g_hash_table_insert(kinds, r[i].category, k);
				r[i].category = NULL;
			}
			if (!k->count++ || r[i].size < k->size) {
				g_free(k->report);
				k->report = g_steal_pointer(&r[i].report);
				k->seed = seed;
				k->index = i;
				k->size = r[i].size;
			}
			cr_result_clear(&r[i]);
		}
	}

	for (int o = 0; o <= CR_BROKEN; o++)
		g_string_append_printf(summary, "%s%s %u", o ? ", " : "",
				       cr_outcome_name(o), counts[o]);
	fprintf(stderr, "compat-random: %u cases from seed %u in %.1f s: %s\n",
		cases, first, (g_get_monotonic_time() - start) / 1e6,
		summary->str);
	g_hash_table_iter_init(&it, kinds);
	while (g_hash_table_iter_next(&it, &key, &val)) {
		const struct kind *k = val;

		fprintf(stderr,
			"\n== %s\n   %u cases; the smallest, seed %u case %d "
			"(COMPAT_RANDOM_SEED=%u):\n%s",
			(const char *)key, k->count, k->seed, k->index, k->seed,
			k->report);
	}
	failed = counts[CR_FALSE_ACCEPT] + counts[CR_FALSE_REFUSAL] +
		 counts[CR_BROKEN];
	ck_assert_msg(!failed,
		      "%u of %u cases wrong (%s); each kind's smallest case "
		      "is on stderr",
		      failed, cases, summary->str);
	/* The generator must reach both sides of the rule. */
	if (cases >= 1000)
		ck_assert_msg(counts[CR_ACCEPTED] > cases / 10 &&
				      counts[CR_REFUSED] > cases / 10 &&
				      counts[CR_POLICY] > 0,
			      "the generator is lopsided: %s", summary->str);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("compat-random");
	TCase *tc = tcase_create("differential");

	/* 10^5 cases take tens of seconds in a sanitizer build. */
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_compat_random_verdict_matches_load);
	suite_add_tcase(s, tc);
	return check_run(s);
}
