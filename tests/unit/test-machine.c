// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Machine types: lookup, lifecycle against the build date, compat
 * property inheritance, and compat properties reaching device defaults.
 */
#include <errno.h>
#include <unistd.h>

#include "check-tap.h"
#include "fixture.h"
#include "compat/machine-types.h"
#include "core/device.h"
#include "core/host.h"
#include "core/machine.h"

static const struct compat_prop p11[] = { { "fx-ok-dev", "u8", "11" } };
static const struct compat_prop p101[] = { { "fx-ok-dev", "u16", "101" } };
static const struct compat_prop p10[] = { { "fx-ok-dev", "u8", "10" },
					  { "other", "x", "1" } };

/* Newest first; 1.0.1 is the bugfix type between 1.0 and 1.1. */
static const struct machine_type types[] = {
	{ "microvm-1.2", 20240601, NULL, 0 },
	{ "microvm-1.1", 20220101, p11, 1 },
	{ "microvm-1.0.1", 20210601, p101, 1 },
	{ "microvm-1.0", 20200101, p10, 2 },
};

static struct machine_registry reg = {
	.types = types,
	.n_types = G_N_ELEMENTS(types),
	.alias = "microvm",
	.build_date = 20250101,
};

START_TEST(test_machine_lookup)
{
	ck_assert_ptr_eq(machine_lookup(&reg, "microvm"), &types[0]);
	ck_assert_ptr_eq(machine_lookup(&reg, "microvm-1.0.1"), &types[2]);
	ck_assert_ptr_null(machine_lookup(&reg, "microvm-0.9"));
	ck_assert_ptr_null(machine_lookup(&reg, "microvm-1"));
}
END_TEST

static const struct {
	uint32_t build;
	uint32_t released;
	enum machine_status status;
} lifecycle[] = {
	{ 20250101, 20240601, MACHINE_SUPPORTED },
	{ 20270531, 20240601, MACHINE_SUPPORTED },
	{ 20270601, 20240601, MACHINE_DEPRECATED }, /* 3 years to the day */
	{ 20300531, 20240601, MACHINE_DEPRECATED },
	{ 20300601, 20240601, MACHINE_REMOVED }, /* 6 years to the day */
	{ 20270228, 20240229, MACHINE_SUPPORTED },
	{ 20270301, 20240229, MACHINE_DEPRECATED },
};

START_TEST(test_machine_lifecycle_table)
{
	struct machine_registry r = reg;
	struct machine_type t = { "t", lifecycle[_i].released, NULL, 0 };

	r.build_date = lifecycle[_i].build;
	ck_assert_int_eq(machine_status(&r, &t, NULL, NULL),
			 lifecycle[_i].status);
}
END_TEST

START_TEST(test_machine_replacement_skips_removed)
{
	struct machine_type t[] = { { "new", 20210101, NULL, 0 },
				    { "old", 20100101, NULL, 0 } };
	struct machine_registry r = { t, 2, "m", 20260201 };

	/* Both released long ago: "new" deprecated, "old" removed. */
	ck_assert_ptr_eq(machine_replacement(&r), &t[0]);
	r.build_date = 20400101;
	ck_assert_ptr_null(machine_replacement(&r));
}
END_TEST

static void collect(void *opaque, const struct compat_prop *p)
{
	g_string_append_printf(opaque, "%s.%s=%s;", p->device, p->property,
			       p->value);
}

START_TEST(test_machine_older_types_inherit_newer_entries)
{
	static const struct {
		const char *type;
		const char *props;
	} rows[] = {
		{ "microvm-1.2", "" },
		{ "microvm-1.1", "fx-ok-dev.u8=11;" },
		{ "microvm-1.0.1", "fx-ok-dev.u8=11;fx-ok-dev.u16=101;" },
		{ "microvm-1.0", "fx-ok-dev.u8=11;fx-ok-dev.u16=101;"
				 "fx-ok-dev.u8=10;other.x=1;" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autoptr(GString) s = g_string_new(NULL);

		machine_compat_props(&reg, machine_lookup(&reg, rows[i].type),
				     collect, s);
		ck_assert_str_eq(s->str, rows[i].props);
	}
}
END_TEST

START_TEST(test_machine_resolve_messages)
{
	struct machine_registry r = reg;
	const struct machine_type *t = NULL;
	char *warning = NULL;
	GError *err = NULL;

	ck_assert_int_eq(machine_resolve(&r, "microvm-9", &t, &warning, &err),
			 -ENOENT);
	ck_assert_error(err,
			"unknown machine type 'microvm-9' (known: microvm, "
			"microvm-1.2, microvm-1.1, microvm-1.0.1, "
			"microvm-1.0)");
	g_clear_error(&err);

	/* In 2027: 1.0 (2020) is removed, 1.0.1 (2021-06) deprecated. */
	r.build_date = 20270101;
	ck_assert_int_eq(machine_resolve(&r, "microvm-1.0", &t, &warning, &err),
			 -ENOENT);
	ck_assert_error(err, "machine type microvm-1.0 was removed on "
			     "2026-01-01; use microvm-1.2");
	g_clear_error(&err);
	ck_assert_int_eq(
		machine_resolve(&r, "microvm-1.0.1", &t, &warning, NULL), 0);
	ck_assert_str_eq(warning, "machine type microvm-1.0.1 is deprecated "
				  "since 2024-06-01 and will be removed on "
				  "2027-06-01; use microvm-1.2");
	g_free(warning);
	ck_assert_int_eq(machine_resolve(&r, NULL, &t, &warning, NULL), 0);
	ck_assert_ptr_eq(t, &types[0]);
	ck_assert_ptr_null(warning);

	/* The newest type deprecated: nothing newer to suggest. */
	r.build_date = 20280101;
	ck_assert_int_eq(machine_resolve(&r, "microvm-1.2", &t, &warning, NULL),
			 0);
	ck_assert_str_eq(warning, "machine type microvm-1.2 is deprecated "
				  "since 2027-06-01 and will be removed on "
				  "2030-06-01");
	g_free(warning);
	/* Every type removed: no replacement to name. */
	r.build_date = 20310101;
	ck_assert_int_eq(machine_resolve(&r, "microvm-1.2", &t, &warning, &err),
			 -ENOENT);
	ck_assert_error(err, "machine type microvm-1.2 was removed on "
			     "2030-06-01");
	g_clear_error(&err);
}
END_TEST

/* Compat values become defaults; an explicit property still wins. */
START_TEST(test_machine_compat_props_reach_device)
{
	g_autofree char *path = fixture_path("fx-ok.so");
	struct vm_devices *devs = vm_devices_new(host_services());
	const struct machine_type *t10 = machine_lookup(&reg, "microvm-1.0");
	g_autofree char *spec1 = machine_device_spec(&reg, t10, "fx-ok-dev");
	g_autofree char *spec2 = machine_device_spec(
		&reg, t10, "fx-ok-dev,id=d1,port=0x10,u8=5");
	struct modvmm_device *d0 = NULL, *d1 = NULL;
	struct fixture_state *s;

	ck_assert_str_eq(spec1, "fx-ok-dev,u8=11,u16=101,u8=10");
	ck_assert_int_eq(loader_load(devs->loader, path, NULL, NULL), 0);
	ck_assert_int_eq(device_create(devs, spec1, &d0, NULL), 0);
	s = d0->state;
	ck_assert_uint_eq(s->p_u8, 10);
	ck_assert_uint_eq(s->p_u16, 101);
	ck_assert_uint_eq(s->p_u32, 32); /* untouched default */
	ck_assert_int_eq(device_create(devs, spec2, &d1, NULL), 0);
	ck_assert_uint_eq(((struct fixture_state *)d1->state)->p_u8, 5);
	device_destroy_all(devs);
	vm_devices_free(devs);
}
END_TEST

START_TEST(test_machine_this_build)
{
	const struct machine_registry *r = machine_registry();

	ck_assert_ptr_nonnull(machine_lookup(r, "microvm"));
	ck_assert_int_eq(
		machine_status(r, machine_lookup(r, "microvm"), NULL, NULL),
		MACHINE_SUPPORTED);
	/* Newest first. */
	for (size_t i = 1; i < r->n_types; i++)
		ck_assert_uint_ge(r->types[i - 1].released,
				  r->types[i].released);
}
END_TEST

/* --memory: units up to T, decimals, and nonsense refused saying why. */
static const struct {
	const char *text;
	uint64_t bytes; /* 0: refused with `error` */
	const char *error;
} sizes[] = {
	{ "256", 256ull << 20, NULL },
	{ "256M", 256ull << 20, NULL },
	{ "512k", 512ull << 10, NULL },
	{ "1.5G", 3ull << 29, NULL },
	{ "2T", 2ull << 40, NULL },
	{ "0.25t", 1ull << 38, NULL },
	{ "1.000001M", 0, "--memory 1.000001M: not a whole number of bytes" },
	{ "17179869184T", 0, "--memory 17179869184T: too large" },
	{ "12Q", 0,
	  "--memory 12Q: expected a size such as 512M, 1.5G or 2T "
	  "(a number, then K, M, G or T; M when none)" },
	{ "1.5.5G", 0,
	  "--memory 1.5.5G: expected a size such as 512M, 1.5G "
	  "or 2T (a number, then K, M, G or T; M when none)" },
	{ ".5G", 0,
	  "--memory .5G: expected a size such as 512M, 1.5G or 2T "
	  "(a number, then K, M, G or T; M when none)" },
	{ "1GB", 0,
	  "--memory 1GB: expected a size such as 512M, 1.5G or 2T "
	  "(a number, then K, M, G or T; M when none)" },
	{ "-1G", 0,
	  "--memory -1G: expected a size such as 512M, 1.5G or 2T "
	  "(a number, then K, M, G or T; M when none)" },
};

START_TEST(test_machine_parse_size_table)
{
	GError *err = NULL;
	uint64_t v = 0;
	int r = machine_parse_size(sizes[_i].text, &v, &err);

	if (sizes[_i].bytes) {
		ck_assert_int_eq(r, 0);
		ck_assert_uint_eq(v, sizes[_i].bytes);
	} else {
		ck_assert_int_lt(r, 0);
		ck_assert_error(err, sizes[_i].error);
		g_clear_error(&err);
	}
}
END_TEST

/* More guest RAM than MemTotal: one line of warning, not a refusal. */
START_TEST(test_machine_ram_warning_against_memtotal)
{
	g_autofree char *dir = g_dir_make_tmp("modvmm-meminfo-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "meminfo", NULL);
	g_autofree char *w = NULL;
	g_autofree char *expected = g_strdup_printf(
		"guest RAM of 1 TiB is more than this host's 2 GiB "
		"(MemTotal in %s): the guest may be killed when it uses it; "
		"give a smaller --memory",
		path);

	ck_assert(g_file_set_contents(path,
				      "MemTotal:        2097152 kB\n"
				      "MemFree:          123456 kB\n",
				      -1, NULL));
	w = machine_ram_warning(1ull << 40, path);
	ck_assert_str_eq(w, expected);
	ck_assert_ptr_null(strchr(w, '\n'));
	ck_assert_ptr_null(machine_ram_warning(2ull << 30, path));
	/* Sizes not whole in their unit keep one decimal. */
	ck_assert(
		g_file_set_contents(path, "MemTotal: 24683772 kB\n", -1, NULL));
	g_clear_pointer(&w, g_free);
	w = machine_ram_warning(3ull << 39, path);
	ck_assert(g_str_has_prefix(w, "guest RAM of 1.5 TiB is more than "
				      "this host's 23.5 GiB (MemTotal in "));
	ck_assert_ptr_null(machine_ram_warning(256ull << 20, path));
	/* No meminfo to compare with: nothing to say. */
	ck_assert_ptr_null(machine_ram_warning(1ull << 40, "/nonexistent"));
	unlink(path);
	rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("machine");
	TCase *tc = tcase_create("machine");

	tcase_add_test(tc, test_machine_lookup);
	tcase_add_loop_test(tc, test_machine_lifecycle_table, 0,
			    G_N_ELEMENTS(lifecycle));
	tcase_add_test(tc, test_machine_replacement_skips_removed);
	tcase_add_test(tc, test_machine_older_types_inherit_newer_entries);
	tcase_add_test(tc, test_machine_resolve_messages);
	tcase_add_test(tc, test_machine_compat_props_reach_device);
	tcase_add_test(tc, test_machine_this_build);
	tcase_add_loop_test(tc, test_machine_parse_size_table, 0,
			    G_N_ELEMENTS(sizes));
	tcase_add_test(tc, test_machine_ram_warning_against_memtotal);
	suite_add_tcase(s, tc);
	return check_run(s);
}
