/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef TESTS_CHECK_TAP_H
#define TESTS_CHECK_TAP_H

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include <modvmm/abi.h>

/* Runs a suite with one TAP line per test on stdout, for meson's parser. */
static inline int check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_set_tap(sr, "-");
	srunner_run_all(sr, CK_SILENT);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* A path in the fixture build directory (FIXTURE_DIR, set by meson). */
static inline char *fixture_path(const char *file)
{
	const char *dir = g_getenv("FIXTURE_DIR");

	ck_assert_msg(dir, "FIXTURE_DIR is not set: run through meson test");
	return g_build_filename(dir, file, NULL);
}

/* The n-byte little-endian integer at p + off (guest tables, headers). */
static inline uint64_t le_get(const uint8_t *p, size_t off, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[off + (size_t)i];
	return v;
}

#define ck_assert_error(err, expected)                                         \
	do {                                                                   \
		ck_assert_msg((err) != NULL, "no error set");                  \
		ck_assert_str_eq((err)->message, (expected));                  \
	} while (0)

#endif
