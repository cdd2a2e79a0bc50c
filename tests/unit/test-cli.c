// SPDX-License-Identifier: LGPL-2.1-or-later
/* The front ends as a user runs them: output, messages and exit status. */
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "check-tap.h"
#include "spawn.h"

/* run(ENV, ARG..., NULL): the program $ENV with the arguments. */
#define run(env, ...) run_env_argv(env, (const char *const[]){ __VA_ARGS__ })

START_TEST(test_cli_modinfo_text)
{
	g_autofree char *path =
		g_build_filename(g_getenv("MODULE_DIR"), "debug-exit.so", NULL);
	struct run r = run("MODVMM_MODINFO", path, NULL);

	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.err, "");
	ck_assert_ptr_nonnull(strstr(r.out, "\nname:        debug-exit\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "\ndevice:      debug-exit\n"));
	ck_assert_ptr_nonnull(strstr(r.out,
				     "abi:         " MODVMM_ABI_STRING
				     " (this host provides " MODVMM_ABI_STRING
				     ": loadable)\n"));
	run_clear(&r);
}
END_TEST

START_TEST(test_cli_modinfo_json)
{
	g_autofree char *path = fixture_path("fx-abi-major.so");
	g_autoptr(JsonParser) p = json_parser_new();
	struct run r = run("MODVMM_MODINFO", "--json", path, NULL);
	JsonObject *o;

	ck_assert_int_eq(r.status, 0);
	ck_assert(json_parser_load_from_data(p, r.out, -1, NULL));
	o = json_node_get_object(json_parser_get_root(p));
	ck_assert_str_eq(json_object_get_string_member(o, "name"),
			 "fx-abi-major");
	ck_assert_str_eq(json_object_get_string_member(o, "abi"), "2.0");
	ck_assert_str_eq(json_object_get_string_member(o, "abi_verdict"),
			 "different major version, not loadable");
	ck_assert(!json_object_get_boolean_member(o, "intree"));
	run_clear(&r);
}
END_TEST

static const struct {
	const char *file;
	const char *stderr_text;
} modinfo_errors[] = {
	{ "fx-not-elf.so", "modvmm-modinfo: fx-not-elf.so: not an ELF file\n" },
	{ "fx-no-modinfo.so", "modvmm-modinfo: fx-no-modinfo.so: not a modvmm "
			      "module: no .modvmm_modinfo section\n" },
	{ "fx-modinfo-nonul.so",
	  "modvmm-modinfo: fx-modinfo-nonul.so: corrupt .modvmm_modinfo: entry "
	  "at offset 0 is not NUL-terminated\n" },
};

START_TEST(test_cli_modinfo_bad_file_one_line_error)
{
	g_autofree char *path = fixture_path(modinfo_errors[_i].file);
	struct run r = run("MODVMM_MODINFO", path, NULL);

	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, modinfo_errors[_i].stderr_text);
	run_clear(&r);
}
END_TEST

START_TEST(test_cli_modinfo_truncated_one_line_error)
{
	g_autofree char *path = fixture_path("fx-truncated.so");
	struct run r = run("MODVMM_MODINFO", path, NULL);

	ck_assert_int_eq(r.status, 1);
	ck_assert(g_str_has_prefix(
		r.err, "modvmm-modinfo: fx-truncated.so: corrupt ELF file: "));
	ck_assert_ptr_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1);
	run_clear(&r);
}
END_TEST

START_TEST(test_cli_modinfo_usage)
{
	struct run r = run("MODVMM_MODINFO", NULL);

	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err,
			 "modvmm-modinfo: expected one MODULE.so (--help "
			 "for usage)\n");
	run_clear(&r);
}
END_TEST

START_TEST(test_cli_modules_lists_intree_and_device)
{
	struct run r =
		run("MODVMM", "modules", "--module-dir", g_getenv("MODULE_DIR"),
		    "--device", "debug-exit,id=exit0", NULL);

	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.err, "");
	ck_assert(g_str_has_prefix(r.out, "host ABI " MODVMM_ABI_STRING
					  ", 7 modules loaded\n"));
	ck_assert_ptr_nonnull(strstr(
		r.out, "  debug-exit       1.0.0      ABI " MODVMM_ABI_STRING
		       "   in-tree     "
		       "devices: debug-exit\n"));
	ck_assert_ptr_nonnull(
		strstr(r.out, "  uart16550        1.0.0      ABI "));
	ck_assert_ptr_nonnull(
		strstr(r.out, "  i8042            1.0.0      ABI "));
	ck_assert_ptr_nonnull(strstr(
		r.out, "device exit0: debug-exit (module debug-exit)\n"));
	run_clear(&r);
}
END_TEST

START_TEST(test_cli_modules_bad_device_fails)
{
	struct run r =
		run("MODVMM", "modules", "--module-dir", g_getenv("MODULE_DIR"),
		    "--device", "debug-exit,iobase=0x10000", NULL);

	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err, "modvmm: debug-exit0: property iobase: "
				"'0x10000' is not a u16 (0..65535)\n");
	run_clear(&r);
}
END_TEST

START_TEST(test_cli_modules_json)
{
	g_autoptr(JsonParser) p = json_parser_new();
	struct run r = run("MODVMM", "modules", "--json", "--module-dir",
			   g_getenv("MODULE_DIR"), NULL);
	JsonObject *o, *m;

	ck_assert_int_eq(r.status, 0);
	ck_assert(json_parser_load_from_data(p, r.out, -1, NULL));
	o = json_node_get_object(json_parser_get_root(p));
	ck_assert_str_eq(json_object_get_string_member(o, "abi"),
			 MODVMM_ABI_STRING);
	ck_assert(!json_object_get_boolean_member(o, "tainted"));
	m = json_array_get_object_element(
		json_object_get_array_member(o, "modules"), 0);
	ck_assert_str_eq(json_object_get_string_member(m, "name"), "cmos-rtc");
	run_clear(&r);
}
END_TEST

/* modvmm run refusals that need no KVM: status 125, one line each. */
static const struct {
	const char *args[6];
	const char *stderr_text;
} run_refusals[] = {
	{ { "--kvm-device", "/nonexistent/kvm" },
	  "modvmm: /nonexistent/kvm: No such file or directory (is the kvm "
	  "module loaded and is this host allowed to virtualise?)\n" },
	{ { "--kvm-device", "/dev/null" },
	  "modvmm: /dev/null: not a KVM device (KVM_GET_API_VERSION: "
	  "Inappropriate ioctl for device)\n" },
	{ { "--machine", "pc" },
	  "modvmm: unknown machine type 'pc' (known: microvm, microvm-1.0)\n" },
	{ { "--device", "nope,id=x" },
	  "modvmm: unknown device type 'nope' (no loaded module provides "
	  "it)\n" },
	{ { "--kernel", "/nonexistent/bzImage" },
	  "modvmm: kernel Failed to open file “/nonexistent/bzImage”: No such "
	  "file or directory\n" },
};

START_TEST(test_cli_run_refusals)
{
	const char *const *a = run_refusals[_i].args;
	struct run r =
		run("MODVMM", "run", "--module-dir", g_getenv("MODULE_DIR"),
		    a[0], a[1], a[2], a[3], NULL);

	ck_assert_int_eq(r.status, 125);
	ck_assert_str_eq(r.err, run_refusals[_i].stderr_text);
	run_clear(&r);
}
END_TEST

START_TEST(test_cli_run_missing_default_device_module)
{
	g_autofree char *dir = g_dir_make_tmp("modvmm-empty-XXXXXX", NULL);
	struct run r = run("MODVMM", "run", "--module-dir", dir, NULL);

	ck_assert_int_eq(r.status, 125);
	ck_assert_str_eq(r.err,
			 "modvmm: machine microvm needs device type "
			 "uart16550: no module in the module directories "
			 "provides it (or use --no-defaults)\n");
	rmdir(dir);
	run_clear(&r);
}
END_TEST

/* The kernel is checked before KVM is opened, so this says what is wrong. */
START_TEST(test_cli_run_not_a_kernel_before_kvm)
{
	g_autofree char *path = fixture_path("not-a-kernel");
	g_autofree char *expected = g_strdup_printf(
		"modvmm: %s: not a bzImage: boot flag at 0x1fe is 0x0000, "
		"expected 0xaa55\n",
		path);
	struct run r =
		run("MODVMM", "run", "--module-dir", g_getenv("MODULE_DIR"),
		    "--kernel", path, "--kvm-device", "/nonexistent", NULL);

	ck_assert_int_eq(r.status, 125);
	ck_assert_str_eq(r.err, expected);
	run_clear(&r);
}
END_TEST

static const struct {
	const char *args[3];
	const char *stderr_text;
} run_usage_errors[] = {
	{ { "--initrd", "x" }, "modvmm: --initrd needs --kernel\n" },
	{ { "--memory", "12Q" },
	  "modvmm: memory size '12Q': expected a number with K, M or G (M when "
	  "none)\n" },
	{ { "--cpus", "0" }, "modvmm: --cpus 0: at least 1\n" },
};

START_TEST(test_cli_run_usage_errors)
{
	const char *const *a = run_usage_errors[_i].args;
	struct run r = run("MODVMM", "run", a[0], a[1], NULL);

	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err, run_usage_errors[_i].stderr_text);
	run_clear(&r);
}
END_TEST

/* The shape of QEMU's -dump-vmstate, plus keys of our own. */
START_TEST(test_cli_vmstate_dump)
{
	g_autoptr(JsonParser) p = json_parser_new();
	struct run r = run("MODVMM_VMSTATE", "dump", "--module-dir",
			   g_getenv("MODULE_DIR"), NULL);
	JsonObject *o, *uart, *desc, *fifo = NULL;
	JsonArray *fields;

	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.err, "");
	ck_assert(json_parser_load_from_data(p, r.out, -1, NULL));
	o = json_node_get_object(json_parser_get_root(p));
	ck_assert_str_eq(
		json_object_get_string_member(
			json_object_get_object_member(o, "vmschkmachine"),
			"Name"),
		"microvm");
	uart = json_object_get_object_member(o, "uart16550");
	ck_assert_str_eq(json_object_get_string_member(uart, "Name"),
			 "uart16550");
	ck_assert_int_eq(json_object_get_int_member(uart, "version_id"), 1);
	ck_assert_int_eq(json_object_get_int_member(uart, "minimum_version_id"),
			 1);
	desc = json_object_get_object_member(uart, "Description");
	ck_assert_str_eq(json_object_get_string_member(desc, "name"),
			 "uart16550");
	ck_assert_uint_eq(json_array_get_length(json_object_get_array_member(
				  desc, "Subsections")),
			  0);
	fields = json_object_get_array_member(desc, "Fields");
	for (guint i = 0; i < json_array_get_length(fields); i++) {
		JsonObject *f = json_array_get_object_element(fields, i);

		if (!strcmp(json_object_get_string_member(f, "field"), "fifo"))
			fifo = f;
	}
	ck_assert_ptr_nonnull(fifo);
	ck_assert_int_eq(json_object_get_int_member(fifo, "size"), 1);
	ck_assert_int_eq(json_object_get_int_member(fifo, "count"), 16);
	ck_assert_int_eq(json_object_get_int_member(fifo, "version_id"), 1);
	ck_assert(!json_object_get_boolean_member(fifo, "field_exists"));
	ck_assert_str_eq(json_object_get_string_member(fifo, "kind"), "array");
	ck_assert(json_object_get_boolean_member(
		json_object_get_object_member(uart, "modvmm"), "migratable"));
	run_clear(&r);
}
END_TEST

START_TEST(test_cli_machines)
{
	struct run r = run("MODVMM", "machines", NULL);

	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "machine type     released   status      deprecated  "
			 "removed     compat props\n"
			 "microvm-1.0      2026-11-22 supported   2029-11-22  "
			 "2032-11-22  0\n"
			 "microvm          alias of microvm-1.0 (no migration "
			 "guarantee across releases)\n");
	run_clear(&r);
}
END_TEST

START_TEST(test_cli_unknown_command)
{
	struct run r = run("MODVMM", "frobnicate", NULL);

	ck_assert_int_eq(r.status, 2);
	ck_assert(g_str_has_prefix(r.err, "modvmm: unknown command "
					  "'frobnicate'\n"));
	run_clear(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("cli");

	tcase_add_test(tc, test_cli_modinfo_text);
	tcase_add_test(tc, test_cli_modinfo_json);
	tcase_add_loop_test(tc, test_cli_modinfo_bad_file_one_line_error, 0,
			    G_N_ELEMENTS(modinfo_errors));
	tcase_add_test(tc, test_cli_modinfo_truncated_one_line_error);
	tcase_add_test(tc, test_cli_modinfo_usage);
	tcase_add_test(tc, test_cli_modules_lists_intree_and_device);
	tcase_add_test(tc, test_cli_modules_bad_device_fails);
	tcase_add_test(tc, test_cli_modules_json);
	tcase_add_test(tc, test_cli_unknown_command);
	tcase_add_test(tc, test_cli_machines);
	tcase_add_test(tc, test_cli_vmstate_dump);
	tcase_add_loop_test(tc, test_cli_run_refusals, 0,
			    G_N_ELEMENTS(run_refusals));
	tcase_add_test(tc, test_cli_run_missing_default_device_module);
	tcase_add_test(tc, test_cli_run_not_a_kernel_before_kvm);
	tcase_add_loop_test(tc, test_cli_run_usage_errors, 0,
			    G_N_ELEMENTS(run_usage_errors));
	suite_add_tcase(s, tc);
	return check_run(s);
}
