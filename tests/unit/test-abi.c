// SPDX-License-Identifier: LGPL-2.1-or-later
/* compat/abi-rules.c: the version rule and the append-only struct rule. */
#include <errno.h>

#include "check-tap.h"
#include "compat/abi-rules.h"

static const struct {
	uint32_t host_major, host_minor, mod_major, mod_minor;
	int expected;
} version_cases[] = {
	{ 1, 0, 1, 0, 0 },
	{ 1, 4, 1, 0, 0 }, /* older module, newer host: loads */
	{ 1, 4, 1, 4, 0 },
	{ 1, 2, 1, 4, -ENOTSUP }, /* module needs what this host lacks */
	{ 1, 0, 2, 0, -EPROTONOSUPPORT },
	{ 2, 0, 1, 0, -EPROTONOSUPPORT },
	{ 1, 9, 0, 9, -EPROTONOSUPPORT },
};

START_TEST(test_abi_version_rule_table)
{
	for (size_t i = 0; i < G_N_ELEMENTS(version_cases); i++) {
		int r = abi_version_check(version_cases[i].host_major,
					  version_cases[i].host_minor,
					  version_cases[i].mod_major,
					  version_cases[i].mod_minor);

		ck_assert_msg(r == version_cases[i].expected,
			      "case %zu: got %d, expected %d", i, r,
			      version_cases[i].expected);
	}
}
END_TEST

START_TEST(test_abi_struct_shorter_zero_filled)
{
	uint8_t src[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t dst[16];

	memset(dst, 0xaa, sizeof(dst));
	ck_assert_int_eq(abi_struct_import(dst, sizeof(dst), src, 8, NULL), 0);
	ck_assert_mem_eq(dst, src, 8);
	for (size_t i = 8; i < sizeof(dst); i++)
		ck_assert_uint_eq(dst[i], 0);
}
END_TEST

START_TEST(test_abi_struct_longer_zero_tail_accepted)
{
	uint8_t src[24] = { 9, 8, 7 };
	uint8_t dst[16];

	ck_assert_int_eq(abi_struct_import(dst, sizeof(dst), src, 24, NULL), 0);
	ck_assert_mem_eq(dst, src, 16);
}
END_TEST

START_TEST(test_abi_struct_longer_nonzero_tail_refused)
{
	uint8_t src[24] = { 0 };
	uint8_t dst[16];
	size_t off = 0;

	src[21] = 1;
	ck_assert_int_eq(abi_struct_import(dst, sizeof(dst), src, 24, &off),
			 -EPROTO);
	ck_assert_uint_eq(off, 21);
}
END_TEST

static const struct {
	const char *s;
	int ok;
	uint32_t major, minor;
} parse_cases[] = {
	{ "1.0", 1, 1, 0 },   { "1.12", 1, 1, 12 },   { "10.3", 1, 10, 3 },
	{ "1", 0, 0, 0 },     { "1.", 0, 0, 0 },      { ".1", 0, 0, 0 },
	{ "1.0.0", 0, 0, 0 }, { "01.0", 0, 0, 0 },    { "-1.0", 0, 0, 0 },
	{ "1.0 ", 0, 0, 0 },  { "99999.0", 0, 0, 0 }, { "", 0, 0, 0 },
	{ "a.b", 0, 0, 0 },
};

START_TEST(test_abi_version_parse_table)
{
	for (size_t i = 0; i < G_N_ELEMENTS(parse_cases); i++) {
		uint32_t major = 77, minor = 77;
		int r = abi_version_parse(parse_cases[i].s, &major, &minor);

		if (parse_cases[i].ok) {
			ck_assert_msg(r == 0, "'%s' refused", parse_cases[i].s);
			ck_assert_uint_eq(major, parse_cases[i].major);
			ck_assert_uint_eq(minor, parse_cases[i].minor);
		} else {
			ck_assert_msg(r == -EINVAL, "'%s' accepted",
				      parse_cases[i].s);
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("abi");
	TCase *tc = tcase_create("rules");

	tcase_add_test(tc, test_abi_version_rule_table);
	tcase_add_test(tc, test_abi_struct_shorter_zero_filled);
	tcase_add_test(tc, test_abi_struct_longer_zero_tail_accepted);
	tcase_add_test(tc, test_abi_struct_longer_nonzero_tail_refused);
	tcase_add_test(tc, test_abi_version_parse_table);
	suite_add_tcase(s, tc);
	return check_run(s);
}
