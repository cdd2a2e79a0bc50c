// SPDX-License-Identifier: LGPL-2.1-or-later
/* The front ends as a user runs them: output, messages and exit status. */
#include <sys/socket.h>
#include <sys/un.h>
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
	{ { "--device", "nope,id=x" },
	  "modvmm: unknown device type 'nope' (known: cmos-rtc, debug-exit, "
	  "i8042, pvpanic, uart16550, virtio-blk, virtio-rng)\n" },
	{ { "--device", "uart1655" },
	  "modvmm: unknown device type 'uart1655': did you mean uart16550? "
	  "(known: cmos-rtc, debug-exit, i8042, pvpanic, uart16550, "
	  "virtio-blk, virtio-rng)\n" },
	{ { "--kernel", "/nonexistent/bzImage" },
	  "modvmm: --kernel /nonexistent/bzImage: No such file or "
	  "directory\n" },
	{ { "--kernel", "/" }, "modvmm: --kernel /: Is a directory\n" },
	/* Sizes in T and with decimals are taken: KVM is what is missing. */
	{ { "--memory", "1.5G", "--kvm-device", "/nonexistent/kvm" },
	  "modvmm: /nonexistent/kvm: No such file or directory (is the kvm "
	  "module loaded and is this host allowed to virtualise?)\n" },
	{ { "--memory", "2T", "--kvm-device", "/nonexistent/kvm" },
	  "modvmm: /nonexistent/kvm: No such file or directory (is the kvm "
	  "module loaded and is this host allowed to virtualise?)\n" },
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
	g_autofree char *expected = g_strdup_printf(
		"modvmm: machine microvm needs device type uart16550, but "
		"module directory %s holds no module (no .so file): give "
		"--module-dir the directory of the device modules, or use "
		"--no-defaults\n",
		dir);

	ck_assert_int_eq(r.status, 125);
	ck_assert_str_eq(r.err, expected);
	rmdir(dir);
	run_clear(&r);
}
END_TEST

/* A directory with no module at all: said of --device too. */
START_TEST(test_cli_empty_module_dir_device)
{
	g_autofree char *dir = g_dir_make_tmp("modvmm-empty-XXXXXX", NULL);
	g_autofree char *expected = g_strdup_printf(
		"modvmm: unknown device type 'uart16550': module directory %s "
		"holds no module (no .so file): give --module-dir the "
		"directory of the device modules\n",
		dir);
	struct run r = run("MODVMM", "modules", "--module-dir", dir, "--device",
			   "uart16550", NULL);

	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err, expected);
	rmdir(dir);
	run_clear(&r);
}
END_TEST

/* A module directory that is not there: said without GLib's words. */
START_TEST(test_cli_missing_module_dir)
{
	struct run r = run("MODVMM", "modules", "--module-dir",
			   "/nonexistent/modules", NULL);

	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.err,
			 "modvmm: module directory /nonexistent/modules: "
			 "No such file or directory\n");
	run_clear(&r);
}
END_TEST

/* The directory of `modvmm run --help`'s "default DIR)". */
static char *default_module_dir(void)
{
	struct run r = run("MODVMM", "run", "--help", NULL);
	const char *p = strstr(r.out, "(repeatable; default ");
	char *dir = NULL;

	if (p) {
		p += strlen("(repeatable; default ");
		dir = g_strndup(p, strcspn(p, ")"));
	}
	run_clear(&r);
	return dir;
}

/* Without --module-dir, a default directory that is missing says so. */
START_TEST(test_cli_default_module_dir_missing)
{
	g_autofree char *dir = default_module_dir();
	g_autofree char *expected = NULL;
	struct run r = run("MODVMM", "run", NULL);

	ck_assert_ptr_nonnull(dir);
	expected = g_strdup_printf(
		"modvmm: the default module directory %s does not exist: give "
		"--module-dir DIR, the directory of the device modules\n",
		dir);
	if (g_file_test(dir, G_FILE_TEST_IS_DIR))
		ck_assert_ptr_null(strstr(r.err, "does not exist"));
	else
		ck_assert_str_eq(r.err, expected);
	if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
		ck_assert_int_eq(r.status, 125);
	run_clear(&r);
}
END_TEST

/* A socket nobody listens on: bound, then its owner gone. */
static void make_stale_socket(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	g_strlcpy(a.sun_path, path, sizeof(a.sun_path));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
}

/* modvmm ctl where nothing listens: what to do, no GLib wording. */
START_TEST(test_cli_ctl_nothing_listens)
{
	g_autofree char *dir = g_dir_make_tmp("modvmm-ctl-XXXXXX", NULL);
	g_autofree char *stale = g_build_filename(dir, "stale.sock", NULL);
	g_autofree char *missing = g_build_filename(dir, "none.sock", NULL);
	g_autofree char *plain = g_build_filename(dir, "plain", NULL);
	g_autofree char *lng = g_strnfill(120, 'a');
	const char *paths[] = { stale, missing };
	struct run r;

	make_stale_socket(stale);
	for (size_t i = 0; i < G_N_ELEMENTS(paths); i++) {
		g_autofree char *expected = g_strdup_printf(
			"modvmm: ctl: no modvmm listens on %s (is it running "
			"with --control %s?)\n",
			paths[i], paths[i]);

		r = run("MODVMM", "ctl", paths[i], "query-status", NULL);
		ck_assert_int_eq(r.status, 1);
		ck_assert_str_eq(r.err, expected);
		run_clear(&r);
	}
	ck_assert(g_file_set_contents(plain, "", 0, NULL));
	r = run("MODVMM", "ctl", plain, "query-status", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert(g_str_has_suffix(r.err, "plain is not a socket (give the "
					  "--control PATH of a running "
					  "modvmm)\n"));
	run_clear(&r);
	/* A path no socket can have is a usage error. */
	r = run("MODVMM", "ctl", lng, "query-status", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert(g_str_has_suffix(r.err, ": a socket path has at most 107 "
					  "bytes, this one 120\n"));
	run_clear(&r);
	r = run("MODVMM", "ctl", "", "query-status", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err, "modvmm: ctl: the socket path is empty (give "
				"the --control PATH of a running modvmm)\n");
	run_clear(&r);
	unlink(stale);
	unlink(plain);
	rmdir(dir);
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
	  "modvmm: --memory 12Q: expected a size such as 512M, 1.5G or 2T (a "
	  "number, then K, M, G or T; M when none)\n" },
	{ { "--memory", "1.5.5G" },
	  "modvmm: --memory 1.5.5G: expected a size such as 512M, 1.5G or 2T "
	  "(a number, then K, M, G or T; M when none)\n" },
	{ { "--cpus", "0" }, "modvmm: --cpus 0: at least 1\n" },
	/* What no host of this build takes is a usage error, not 125. */
	{ { "--machine", "pc" },
	  "modvmm: unknown machine type 'pc' (known: microvm, microvm-1.0)\n" },
	{ { "--cpus", "100000" }, "modvmm: --cpus 100000: 1 to 64\n" },
	{ { "--memory", "0" },
	  "modvmm: --memory 0: at least 2M, in whole 4K pages\n" },
	{ { "--memory", "1" },
	  "modvmm: --memory 1: at least 2M, in whole 4K pages\n" },
	{ { "--control", "" },
	  "modvmm: --control: the socket path is empty\n" },
	{ { "--incoming", "bogus" },
	  "modvmm: --incoming bogus: expected unix:PATH, tcp:HOST:PORT, fd:N "
	  "or defer\n" },
	{ { "--bogus" }, "modvmm: Unknown option --bogus\n" },
	/* -M is the machine type, as in QEMU; a directory is none. */
	{ { "-M", "build/modules" },
	  "modvmm: unknown machine type 'build/modules' (known: microvm, "
	  "microvm-1.0)\n" },
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

START_TEST(test_cli_machines_json)
{
	g_autoptr(JsonParser) p = json_parser_new();
	struct run r = run("MODVMM", "machines", "--json", NULL);
	JsonObject *o, *t;

	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.err, "");
	ck_assert(json_parser_load_from_data(p, r.out, -1, NULL));
	o = json_node_get_object(json_parser_get_root(p));
	ck_assert_str_eq(json_object_get_string_member(o, "alias"), "microvm");
	ck_assert_str_eq(json_object_get_string_member(o, "alias_of"),
			 "microvm-1.0");
	ck_assert_str_eq(json_object_get_string_member(o, "build_date"),
			 "2026-11-22");
	ck_assert_uint_eq(json_array_get_length(
				  json_object_get_array_member(o, "machines")),
			  1);
	t = json_array_get_object_element(
		json_object_get_array_member(o, "machines"), 0);
	ck_assert_str_eq(json_object_get_string_member(t, "name"),
			 "microvm-1.0");
	ck_assert_str_eq(json_object_get_string_member(t, "released"),
			 "2026-11-22");
	ck_assert_str_eq(json_object_get_string_member(t, "status"),
			 "supported");
	ck_assert_str_eq(json_object_get_string_member(t, "deprecated"),
			 "2029-11-22");
	ck_assert_str_eq(json_object_get_string_member(t, "removed"),
			 "2032-11-22");
	ck_assert_int_eq(json_object_get_int_member(t, "compat_props"), 0);
	run_clear(&r);
}
END_TEST

START_TEST(test_cli_machines_help)
{
	struct run r = run("MODVMM", "machines", "--help", NULL);

	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "  -j, --json "));
	ck_assert_ptr_null(strstr(r.out, "machine type     released"));
	run_clear(&r);
}
END_TEST

/* Commands that take nothing refuse what they are given: usage, 2. */
static const struct {
	const char *args[3];
	const char *stderr_text;
} no_argument_errors[] = {
	{ { "machines", "--bogus" }, "modvmm: Unknown option --bogus\n" },
	{ { "machines", "extra" },
	  "modvmm: machines: unexpected argument 'extra'\n" },
	{ { "version", "--bogus" }, "modvmm: Unknown option --bogus\n" },
	{ { "version", "extra" },
	  "modvmm: version: unexpected argument 'extra'\n" },
	{ { "--version", "extra" },
	  "modvmm: version: unexpected argument 'extra'\n" },
	/* --module-dir has no short form any more. */
	{ { "modules", "-M" }, "modvmm: Unknown option -M\n" },
};

START_TEST(test_cli_no_argument_errors)
{
	const char *const *a = no_argument_errors[_i].args;
	struct run r = run("MODVMM", a[0], a[1], NULL);

	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.out, "");
	ck_assert_str_eq(r.err, no_argument_errors[_i].stderr_text);
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
	tcase_add_test(tc, test_cli_machines_json);
	tcase_add_test(tc, test_cli_machines_help);
	tcase_add_loop_test(tc, test_cli_no_argument_errors, 0,
			    G_N_ELEMENTS(no_argument_errors));
	tcase_add_test(tc, test_cli_vmstate_dump);
	tcase_add_loop_test(tc, test_cli_run_refusals, 0,
			    G_N_ELEMENTS(run_refusals));
	tcase_add_test(tc, test_cli_run_missing_default_device_module);
	tcase_add_test(tc, test_cli_empty_module_dir_device);
	tcase_add_test(tc, test_cli_missing_module_dir);
	tcase_add_test(tc, test_cli_default_module_dir_missing);
	tcase_add_test(tc, test_cli_ctl_nothing_listens);
	tcase_add_test(tc, test_cli_run_not_a_kernel_before_kvm);
	tcase_add_loop_test(tc, test_cli_run_usage_errors, 0,
			    G_N_ELEMENTS(run_usage_errors));
	suite_add_tcase(s, tc);
	return check_run(s);
}
