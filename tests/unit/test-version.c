// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * --version and -V on every binary: the version, the module ABI this host
 * provides and the build date the machine types' lifecycle is computed
 * from, on one line, exit status 0.
 */
#include <modvmm/abi.h>

#include "check-tap.h"
#include "compat/machine-types.h"
#include "spawn.h"

static const struct {
	const char *env;  /* the variable meson sets to the binary */
	const char *name; /* what it calls itself */
	const char *arg;
} cases[] = {
	{ "MODVMM", "modvmm", "--version" },
	{ "MODVMM", "modvmm", "-V" },
	{ "MODVMM", "modvmm", "version" },
	{ "MODVMM_MODINFO", "modvmm-modinfo", "--version" },
	{ "MODVMM_MODINFO", "modvmm-modinfo", "-V" },
	{ "MODVMM_VMSTATE", "modvmm-vmstate", "--version" },
	{ "MODVMM_VMSTATE", "modvmm-vmstate", "-V" },
	{ "MODVMM_STREAM", "modvmm-stream", "--version" },
	{ "MODVMM_STREAM", "modvmm-stream", "-V" },
};

START_TEST(test_version)
{
	const char *args[] = { cases[_i].arg, NULL };
	char date[MACHINE_DATE_LEN];
	g_autofree char *expected = g_strdup_printf(
		"%s %s, module ABI %s, build date %s\n", cases[_i].name,
		MODVMM_VERSION, MODVMM_ABI_STRING,
		machine_date_text(machine_registry()->build_date, date));
	struct run r = run_env_argv(cases[_i].env, args);

	ck_assert_msg(r.status == 0, "%s %s: exit status %d", cases[_i].name,
		      cases[_i].arg, r.status);
	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(r.out, expected);
	run_clear(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("version");
	TCase *tc = tcase_create("version");

	tcase_add_loop_test(tc, test_version, 0, G_N_ELEMENTS(cases));
	suite_add_tcase(s, tc);
	return check_run(s);
}
