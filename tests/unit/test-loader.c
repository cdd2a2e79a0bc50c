// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/loader.c (with the trust rules of core/module-trust.c and the
 * import of core/module-import.c) against the fixture modules: every
 * refusal with the exact message a user reads, and the cases that must
 * load.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-tap.h"
#include "core/device.h"
#include "core/host.h"
#include "base/error.h"
#include "core/vm-devices.h"

static struct vm_devices *devs;

static void setup(void)
{
	devs = vm_devices_new(host_services());
}

static void teardown(void)
{
	device_destroy_all(devs);
	vm_devices_free(devs);
}

/* Loads a fixture; returns the error (or NULL) for the caller to check. */
static GError *load(const char *file, struct module **ret)
{
	g_autofree char *path = fixture_path(file);
	GError *err = NULL;
	int r = loader_load(devs->loader, path, ret, &err);

	ck_assert_msg((r < 0) == (err != NULL), "%s: r=%d but error %s", file,
		      r, err ? "set" : "not set");
	return err;
}

/*
 * Loads a fixture that must be refused and checks the exact message;
 * `message` is a format whose %s is this host's ABI version.
 */
static void check_refusal(const char *file, const char *message)
{
	g_autofree char *expected = NULL;
	GError *err;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	expected = g_strdup_printf(message, MODVMM_ABI_STRING);
#pragma GCC diagnostic pop
	err = load(file, NULL);
	ck_assert_error(err, expected);
	ck_assert_uint_eq(loader_modules(devs->loader)->len, 0);
	g_error_free(err);
}

/* One named test per refusal: the name says the case. */
#define REFUSAL_TEST(name, file, message)                                      \
	START_TEST(test_loader_##name)                                         \
	{                                                                      \
		check_refusal(file, message);                                  \
	}                                                                      \
	END_TEST

REFUSAL_TEST(not_elf_refused, "fx-not-elf.so", "fx-not-elf.so: not an ELF file")
REFUSAL_TEST(
	no_modinfo_refused, "fx-no-modinfo.so",
	"fx-no-modinfo.so: not a modvmm module: no .modvmm_modinfo section")
REFUSAL_TEST(modinfo_without_nul_refused, "fx-modinfo-nonul.so",
	     "fx-modinfo-nonul.so: corrupt .modvmm_modinfo: entry at offset 0 "
	     "is not NUL-terminated")
REFUSAL_TEST(modinfo_without_name_refused, "fx-modinfo-noname.so",
	     "fx-modinfo-noname.so: .modvmm_modinfo has no name= entry")
REFUSAL_TEST(wrong_magic_refused, "fx-bad-magic.so",
	     "fx-bad-magic.so: module descriptor has magic 0xdeadbeef, "
	     "expected 0x314d564d")
REFUSAL_TEST(abi_major_2_refused, "fx-abi-major.so",
	     "fx-abi-major.so: built for ABI 2.0, this host provides ABI %s "
	     "(a different major version)")
REFUSAL_TEST(missing_entry_refused, "fx-no-entry.so",
	     "fx-no-entry.so: does not export modvmm_module_init()")
REFUSAL_TEST(metadata_name_mismatch_refused, "fx-name-mismatch.so",
	     "fx-name-mismatch.so: metadata says name=fx-name-mismatch, "
	     "descriptor says name=fx-other")
REFUSAL_TEST(metadata_device_mismatch_refused, "fx-device-mismatch.so",
	     "fx-device-mismatch.so: descriptor has device type fx-undeclared, "
	     "metadata has no device=fx-undeclared")
REFUSAL_TEST(init_failure_refused, "fx-init-fail.so",
	     "fx-init-fail.so: module init failed: No such device")
/*
 * Its constructor calls abort() (test_loader_abort_ctor_really_aborts
 * proves it): reaching the assertion proves that nothing of it ran.
 */
REFUSAL_TEST(bad_metadata_runs_no_code, "fx-abort-ctor.so",
	     "fx-abort-ctor.so: built for ABI 2.0, this host provides ABI %s "
	     "(a different major version)")

/* The fixture claims this host's minor + 1. */
START_TEST(test_loader_abi_minor_newer_refused)
{
	g_autofree char *expected = g_strdup_printf(
		"fx-abi-minor.so: built for ABI %d.%d, this host provides ABI "
		"%s",
		MODVMM_ABI_MAJOR, MODVMM_ABI_MINOR + 1, MODVMM_ABI_STRING);
	GError *err = load("fx-abi-minor.so", NULL);

	ck_assert_error(err, expected);
	g_error_free(err);
}
END_TEST

START_TEST(test_loader_truncated_elf_refused)
{
	GError *err = load("fx-truncated.so", NULL);

	ck_assert_ptr_nonnull(err);
	ck_assert_msg(g_str_has_prefix(err->message,
				       "fx-truncated.so: corrupt ELF file: "),
		      "got: %s", err->message);
	g_error_free(err);
}
END_TEST

START_TEST(test_loader_descriptor_longer_nonzero_tail_refused)
{
	g_autofree char *expected = g_strdup_printf(
		"fx-desc-long-nonzero.so: module descriptor is %zu bytes with "
		"a "
		"non-zero byte at offset %zu; this host knows %zu bytes (ABI "
		"%s)",
		sizeof(struct modvmm_module) + 8, sizeof(struct modvmm_module),
		sizeof(struct modvmm_module), MODVMM_ABI_STRING);
	GError *err = load("fx-desc-long-nonzero.so", NULL);

	ck_assert_error(err, expected);
	g_error_free(err);
}
END_TEST

START_TEST(test_loader_descriptor_longer_zero_tail_accepted)
{
	struct module *m = NULL;

	ck_assert_ptr_null(load("fx-desc-long-zero.so", &m));
	ck_assert_str_eq(m->desc.name, "fx-desc-long-zero");
}
END_TEST

START_TEST(test_loader_descriptor_shorter_zero_filled)
{
	struct module *m = NULL;

	ck_assert_ptr_null(load("fx-desc-short.so", &m));
	/* init was beyond the declared size: zero-filled, so never called. */
	ck_assert_ptr_null(m->desc.init);
	ck_assert_ptr_null(m->desc.exit);
	ck_assert_ptr_nonnull(
		loader_find_type(devs->loader, "fx-desc-short-dev"));
}
END_TEST

/* Built against the frozen 1.0 headers: its device type is shorter. */
START_TEST(test_loader_oldest_sdk_module_loads)
{
	struct module *m = NULL;
	struct device_type *dt;

	ck_assert_ptr_null(load("fx-sdk10.so", &m));
	ck_assert_str_eq(m->info->abi, "1.0");
	dt = loader_find_type(devs->loader, "fx-sdk10-dev");
	ck_assert_ptr_nonnull(dt);
	ck_assert_uint_lt(dt->t.size, sizeof(struct modvmm_device_type));
	ck_assert_ptr_null(dt->t.vmstate);
	ck_assert_int_eq(
		device_create(devs, "fx-sdk10-dev,id=old0", NULL, NULL), 0);
}
END_TEST

START_TEST(test_loader_ok_registers_types)
{
	struct module *m = NULL;
	struct device_type *dt;

	ck_assert_ptr_null(load("fx-ok.so", &m));
	ck_assert_str_eq(m->info->name, "fx-ok");
	ck_assert_int_eq(m->info->intree, 1);
	ck_assert_int_eq(loader_tainted(devs->loader), 0);
	dt = loader_find_type(devs->loader, "fx-ok-dev");
	ck_assert_ptr_nonnull(dt);
	ck_assert_ptr_eq(dt->module, m);
	ck_assert_uint_eq(dt->t.n_properties, 10);
}
END_TEST

START_TEST(test_loader_out_of_tree_taints)
{
	ck_assert_ptr_null(load("fx-ok.so", NULL));
	ck_assert_int_eq(loader_tainted(devs->loader), 0);
	ck_assert_ptr_null(load("fx-ok2.so", NULL));
	ck_assert_int_eq(loader_tainted(devs->loader), 1);
}
END_TEST

START_TEST(test_loader_duplicate_module_refused)
{
	g_autofree char *path = fixture_path("fx-ok.so");
	g_autofree char *real = realpath(path, NULL);
	g_autofree char *expected = g_strdup_printf(
		"fx-ok.so: module fx-ok is already loaded from %s", real);
	GError *err;

	ck_assert_ptr_null(load("fx-ok.so", NULL));
	err = load("fx-ok.so", NULL);
	ck_assert_error(err, expected);
	g_error_free(err);
}
END_TEST

START_TEST(test_loader_duplicate_device_type_refused)
{
	g_autofree char *path = fixture_path("fx-dup-a.so");
	g_autofree char *real = realpath(path, NULL);
	g_autofree char *expected = g_strdup_printf(
		"fx-dup-b.so: device type fx-dup-dev is already provided by "
		"module fx-dup-a (%s)",
		real);
	GError *err;

	ck_assert_ptr_null(load("fx-dup-a.so", NULL));
	err = load("fx-dup-b.so", NULL);
	ck_assert_error(err, expected);
	ck_assert_uint_eq(loader_modules(devs->loader)->len, 1);
	g_error_free(err);
}
END_TEST

/* The fixture that aborts in its constructor really does, once loaded. */
START_TEST(test_loader_abort_ctor_really_aborts)
{
	g_autofree char *path = fixture_path("fx-abort-ctor-good.so");

	loader_load(devs->loader, path, NULL, NULL);
}
END_TEST

/* Copies fx-ok.so into a fresh private directory; returns its path. */
static char *copy_to_tmp(char **ret_dir)
{
	g_autofree char *src = fixture_path("fx-ok.so");
	g_autofree char *data = NULL;
	char *dir = g_dir_make_tmp("modvmm-test-XXXXXX", NULL);
	char *dst;
	gsize len;

	ck_assert_ptr_nonnull(dir);
	ck_assert(g_file_get_contents(src, &data, &len, NULL));
	dst = g_build_filename(dir, "fx-ok.so", NULL);
	ck_assert(g_file_set_contents(dst, data, (gssize)len, NULL));
	ck_assert_int_eq(chmod(dst, 0644), 0);
	*ret_dir = dir;
	return dst;
}

static void remove_tmp(char *dir, char *file)
{
	unlink(file);
	rmdir(dir);
	g_free(file);
	g_free(dir);
}

START_TEST(test_loader_group_writable_file_refused)
{
	char *dir, *file = copy_to_tmp(&dir);
	g_autofree char *expected = g_strdup_printf(
		"fx-ok.so: refusing module: file %s is "
		"group-writable, mode 0664 (rule: group-writable)",
		file);
	GError *err = NULL;

	ck_assert_int_eq(chmod(file, 0664), 0);
	ck_assert_int_lt(loader_load(devs->loader, file, NULL, &err), 0);
	ck_assert_error(err, expected);
	g_error_free(err);
	remove_tmp(dir, file);
}
END_TEST

START_TEST(test_loader_world_writable_dir_refused)
{
	char *dir, *file = copy_to_tmp(&dir);
	g_autofree char *expected = g_strdup_printf(
		"fx-ok.so: refusing module: directory %s is world-writable, "
		"mode 0777 (rule: world-writable)",
		dir);
	GError *err = NULL;

	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_lt(loader_load(devs->loader, file, NULL, &err), 0);
	ck_assert_error(err, expected);
	g_error_free(err);
	/* The same file in a private directory loads. */
	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_int_eq(loader_load(devs->loader, file, NULL, NULL), 0);
	remove_tmp(dir, file);
}
END_TEST

START_TEST(test_loader_group_writable_dir_refused)
{
	char *dir, *file = copy_to_tmp(&dir);
	g_autofree char *expected = g_strdup_printf(
		"fx-ok.so: refusing module: directory %s is group-writable, "
		"mode 0770 (rule: group-writable)",
		dir);
	GError *err = NULL;

	ck_assert_int_eq(chmod(dir, 0770), 0);
	ck_assert_int_eq(loader_load(devs->loader, file, NULL, &err), -EPERM);
	ck_assert_error(err, expected);
	g_error_free(err);
	ck_assert_int_eq(chmod(dir, 0700), 0);
	remove_tmp(dir, file);
}
END_TEST

/* Only root can give a file away; as anyone else the case cannot be made. */
START_TEST(test_loader_foreign_owner_refused)
{
	char *dir, *file = copy_to_tmp(&dir);
	g_autofree char *expected = g_strdup_printf(
		"fx-ok.so: refusing module: file %s is owned by uid 65534, "
		"expected root or uid %u (rule: owner)",
		file, geteuid());
	GError *err = NULL;

	ck_assert_int_eq(chown(file, 65534, (gid_t)-1), 0);
	ck_assert_int_eq(loader_load(devs->loader, file, NULL, &err), -EPERM);
	ck_assert_error(err, expected);
	g_error_free(err);
	remove_tmp(dir, file);
}
END_TEST

/*
 * A link in a trusted directory to a module in an untrusted one: the
 * rules apply to the file that would be mapped, and its directory.
 */
START_TEST(test_loader_symlink_into_untrusted_dir_refused)
{
	char *dir, *file = copy_to_tmp(&dir);
	g_autofree char *trusted = g_dir_make_tmp("modvmm-test-XXXXXX", NULL);
	g_autofree char *link = g_build_filename(trusted, "link.so", NULL);
	g_autofree char *expected = g_strdup_printf(
		"link.so: refusing module: directory %s is world-writable, "
		"mode 0777 (rule: world-writable)",
		dir);
	struct module *m = NULL;
	GError *err = NULL;

	ck_assert_int_eq(symlink(file, link), 0);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(loader_load(devs->loader, link, NULL, &err), -EPERM);
	ck_assert_error(err, expected);
	g_clear_error(&err);
	/* Trusted again, the link loads the file it points to. */
	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_int_eq(loader_load(devs->loader, link, &m, NULL), 0);
	ck_assert_str_eq(m->path, file);
	unlink(link);
	rmdir(trusted);
	remove_tmp(dir, file);
}
END_TEST

/*
 * A loader with module directories: a link in one of them to a module
 * outside them is refused, naming the file it resolves to, whether named
 * by its path or listed at start-up; the file itself, in a module
 * directory, loads.
 */
START_TEST(test_loader_symlink_out_of_module_dirs_refused)
{
	g_autoptr(GPtrArray) errors =
		g_ptr_array_new_with_free_func((GDestroyNotify)g_error_free);
	char *dir, *file = copy_to_tmp(&dir);
	g_autofree char *moddir = g_dir_make_tmp("modvmm-test-XXXXXX", NULL);
	g_autofree char *link = g_build_filename(moddir, "link.so", NULL);
	g_autofree char *expected = g_strdup_printf(
		"link.so: refusing module: %s is not in a module directory "
		"(%s) (rule: module directory)",
		file, moddir);
	GError *err = NULL;

	ck_assert_int_eq(symlink(file, link), 0);
	loader_add_dir(devs->loader, moddir);
	ck_assert_int_eq(loader_load(devs->loader, link, NULL, &err), -EPERM);
	ck_assert_error(err, expected);
	g_clear_error(&err);
	ck_assert_int_eq(loader_load_all(devs->loader, errors), 0);
	ck_assert_uint_eq(errors->len, 1);
	ck_assert_str_eq(((GError *)errors->pdata[0])->message, expected);
	ck_assert_uint_eq(loader_modules(devs->loader)->len, 0);
	/* Its own directory made a module directory, the file loads. */
	loader_add_dir(devs->loader, dir);
	ck_assert_int_eq(loader_load(devs->loader, file, NULL, NULL), 0);
	unlink(link);
	rmdir(moddir);
	remove_tmp(dir, file);
}
END_TEST

/* A FIFO in a module's place is refused at once, not waited on. */
START_TEST(test_loader_fifo_refused_without_blocking)
{
	g_autofree char *dir = g_dir_make_tmp("modvmm-test-XXXXXX", NULL);
	g_autofree char *fifo = g_build_filename(dir, "fifo.so", NULL);
	GError *err = NULL;

	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(loader_load(devs->loader, fifo, NULL, &err), -EINVAL);
	ck_assert_error(err, "fifo.so: not a regular file");
	g_error_free(err);
	unlink(fifo);
	rmdir(dir);
}
END_TEST

/* What the loaded module is mapped from is the descriptor it was checked
 * through, which stays open and names the file. */
START_TEST(test_loader_maps_the_checked_descriptor)
{
	g_autofree char *path = fixture_path("fx-ok.so");
	g_autofree char *real = realpath(path, NULL);
	g_autofree char *proc = NULL, *target = NULL;
	struct module *m = NULL;

	ck_assert_ptr_null(load("fx-ok.so", &m));
	proc = g_strdup_printf("/proc/self/fd/%d", m->fd);
	target = g_file_read_link(proc, NULL);
	ck_assert_str_eq(target, real);
	ck_assert_int_eq(fcntl(m->fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
}
END_TEST

/*
 * glibc answers a dlopen() by a name some loaded object already goes by
 * with that object. Here fx-ok is mapped (by the test) under the names of
 * the next free descriptor numbers, as an object an unload could not
 * unmap would be: fx-ok2 must still get its own code, not fx-ok's.
 */
START_TEST(test_loader_stale_descriptor_names_stepped_over)
{
	g_autofree char *path = fixture_path("fx-ok.so");
	void *held[4];
	int fds[4];
	struct module *m = NULL;

	for (int i = 0; i < 4; i++) {
		char name[32];

		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		ck_assert_int_ge(fds[i], 0);
		snprintf(name, sizeof(name), "/proc/self/fd/%d", fds[i]);
		held[i] = dlopen(name, RTLD_NOW | RTLD_LOCAL);
		ck_assert_msg(held[i], "%s", dlerror());
	}
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	ck_assert_ptr_null(load("fx-ok2.so", &m));
	ck_assert_str_eq(m->desc.name, "fx-ok2");
	ck_assert_int_gt(m->fd, fds[3]);
	ck_assert_ptr_nonnull(loader_find_type(devs->loader, "fx-ok2-dev"));
	for (int i = 0; i < 4; i++)
		dlclose(held[i]);
}
END_TEST

/* Allowlists ------------------------------------------------------------ */

/* The sha256 of a fixture, as sha256sum prints it. */
static char *fixture_sha256(const char *file)
{
	g_autofree char *path = fixture_path(file);
	g_autofree char *data = NULL;
	gsize len;

	ck_assert(g_file_get_contents(path, &data, &len, NULL));
	return g_compute_checksum_for_data(G_CHECKSUM_SHA256,
					   (const guchar *)data, len);
}

/* Writes `text` to "allow" in a fresh private directory; mode 0644. */
static char *allowlist_new(const char *text, char **ret_dir)
{
	char *dir = g_dir_make_tmp("modvmm-test-XXXXXX", NULL);
	char *file;

	ck_assert_ptr_nonnull(dir);
	file = g_build_filename(dir, "allow", NULL);
	ck_assert(g_file_set_contents(file, text, -1, NULL));
	ck_assert_int_eq(chmod(file, 0644), 0);
	*ret_dir = dir;
	return file;
}

/*
 * Comments, blank lines, upper-case digits, sha256sum's binary mode ('*')
 * and its escaped-name form ('\') are all sha256sum output.
 */
START_TEST(test_loader_allowlist_listed_loads)
{
	g_autofree char *ok = fixture_sha256("fx-ok.so");
	g_autofree char *ok2 = fixture_sha256("fx-ok2.so");
	g_autofree char *ok2_upper = g_ascii_strup(ok2, -1);
	g_autofree char *dup_a = fixture_sha256("fx-dup-a.so");
	g_autofree char *text = g_strdup_printf(
		"# in-tree fixtures\n\n%s  fx-ok.so\n   \n%s *fx-ok2.so\n"
		"\\%s  fx\\\\dup-a.so\n",
		ok, ok2_upper, dup_a);
	char *dir, *allow = allowlist_new(text, &dir);
	GError *err = NULL;

	ck_assert_int_eq(loader_set_allowlist(devs->loader, allow, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_ptr_null(load("fx-ok.so", NULL));
	ck_assert_ptr_null(load("fx-ok2.so", NULL));
	ck_assert_ptr_null(load("fx-dup-a.so", NULL));
	ck_assert_uint_eq(loader_modules(devs->loader)->len, 3);
	remove_tmp(dir, allow);
}
END_TEST

START_TEST(test_loader_allowlist_unlisted_refused)
{
	g_autofree char *ok = fixture_sha256("fx-ok.so");
	g_autofree char *ok2 = fixture_sha256("fx-ok2.so");
	g_autofree char *text = g_strdup_printf("%s  fx-ok.so\n", ok);
	char *dir, *allow = allowlist_new(text, &dir);
	g_autofree char *expected = g_strdup_printf(
		"fx-ok2.so: refusing module: sha256 %s is not in allowlist %s "
		"(rule: --module-allowlist)",
		ok2, allow);
	g_autofree char *path = fixture_path("fx-ok2.so");
	GError *err = NULL;

	ck_assert_int_eq(loader_set_allowlist(devs->loader, allow, NULL), 0);
	ck_assert_int_eq(loader_load(devs->loader, path, NULL, &err), -EPERM);
	ck_assert_error(err, expected);
	g_error_free(err);
	ck_assert_uint_eq(loader_modules(devs->loader)->len, 0);
	ck_assert_ptr_null(load("fx-ok.so", NULL));
	/* The list is read at every load: a line added admits the module. */
	g_free(text);
	text = g_strdup_printf("%s  fx-ok.so\n%s  fx-ok2.so\n", ok, ok2);
	ck_assert(g_file_set_contents(allow, text, -1, NULL));
	ck_assert_int_eq(chmod(allow, 0644), 0);
	ck_assert_ptr_null(load("fx-ok2.so", NULL));
	remove_tmp(dir, allow);
}
END_TEST

/*
 * Each malformed line is refused with file:line and what is wrong; the
 * line before it is well-formed and a comment, to count lines by.
 */
static const struct {
	const char *line;
	const char *why;
} malformed_lines[] = {
	{ "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde"
	  "  short.so",
	  "the digest has 63 hex digits, a sha256 has 64" },
	{ "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0"
	  "  long.so",
	  "the digest has 65 hex digits, a sha256 has 64" },
	{ "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	  " one-space.so",
	  "expected two spaces and a file name after the digest, as "
	  "sha256sum writes" },
	{ "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	  "  ",
	  "expected two spaces and a file name after the digest, as "
	  "sha256sum writes" },
	{ "SHA256 (tagged.so) = 0123456789abcdef",
	  "'S' at column 1 is not a hex digit of a sha256" },
	{ "0123g", "'g' at column 5 is not a hex digit of a sha256" },
	{ "d41d8cd98f00b204e9800998ecf8427e  md5sum.so",
	  "the digest has 32 hex digits, a sha256 has 64" },
};

START_TEST(test_loader_allowlist_malformed_line_refused)
{
	g_autofree char *ok = fixture_sha256("fx-ok.so");
	g_autofree char *text =
		g_strdup_printf("# modules\n%s  fx-ok.so\n\n%s\n", ok,
				malformed_lines[_i].line);
	char *dir, *allow = allowlist_new(text, &dir);
	g_autofree char *expected =
		g_strdup_printf("%s:4: %s", allow, malformed_lines[_i].why);
	GError *err = NULL;

	ck_assert_int_eq(loader_set_allowlist(devs->loader, allow, &err),
			 -EINVAL);
	ck_assert_error(err, expected);
	g_error_free(err);
	/* No allowlist took effect: any module passing the rest loads. */
	ck_assert_ptr_null(load("fx-ok2.so", NULL));
	remove_tmp(dir, allow);
}
END_TEST

/* The allowlist is held to the rules of a module file. */
START_TEST(test_loader_allowlist_untrusted_file_refused)
{
	g_autofree char *ok = fixture_sha256("fx-ok.so");
	g_autofree char *text = g_strdup_printf("%s  fx-ok.so\n", ok);
	char *dir, *allow = allowlist_new(text, &dir);
	g_autofree char *file_msg = g_strdup_printf(
		"allow: refusing allowlist: file %s is group-writable, mode "
		"0664 (rule: group-writable)",
		allow);
	g_autofree char *dir_msg = g_strdup_printf(
		"allow: refusing allowlist: directory %s is world-writable, "
		"mode 0777 (rule: world-writable)",
		dir);
	GError *err = NULL;

	ck_assert_int_eq(chmod(allow, 0664), 0);
	ck_assert_int_eq(loader_set_allowlist(devs->loader, allow, &err),
			 -EPERM);
	ck_assert_error(err, file_msg);
	g_clear_error(&err);
	ck_assert_int_eq(chmod(allow, 0644), 0);
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(loader_set_allowlist(devs->loader, allow, &err),
			 -EPERM);
	ck_assert_error(err, dir_msg);
	g_clear_error(&err);
	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_int_eq(loader_set_allowlist(devs->loader, allow, NULL), 0);
	/* Read again at every load, it is checked again at every load. */
	ck_assert_int_eq(chmod(allow, 0646), 0);
	g_free(file_msg);
	file_msg = g_strdup_printf(
		"allow: refusing allowlist: file %s is world-writable, mode "
		"0646 (rule: world-writable)",
		allow);
	err = load("fx-ok.so", NULL);
	ck_assert_error(err, file_msg);
	g_error_free(err);
	ck_assert_uint_eq(loader_modules(devs->loader)->len, 0);
	remove_tmp(dir, allow);
}
END_TEST

START_TEST(test_loader_allowlist_missing_file)
{
	GError *err = NULL;

	ck_assert_int_eq(
		loader_set_allowlist(devs->loader, "/nonexistent/allow", &err),
		-ENOENT);
	ck_assert_error(err, "/nonexistent/allow: No such file or directory");
	g_error_free(err);
}
END_TEST

START_TEST(test_loader_missing_file)
{
	GError *err = NULL;

	ck_assert_int_eq(
		loader_load(devs->loader, "/nonexistent/x.so", NULL, &err),
		-ENOENT);
	ck_assert_error(err, "/nonexistent/x.so: No such file or directory");
	g_error_free(err);
}
END_TEST

START_TEST(test_loader_unload_refused_with_instances)
{
	struct modvmm_device *dev = NULL;
	struct module *m = NULL;
	GError *err = NULL;

	ck_assert_ptr_null(load("fx-ok.so", &m));
	ck_assert_int_eq(device_create(devs, "fx-ok-dev,id=d0", &dev, NULL), 0);
	ck_assert_int_eq(loader_unload(devs->loader, m, &err), -EBUSY);
	ck_assert_error(err, "cannot unload module fx-ok: 1 instance of device "
			     "type fx-ok-dev exists");
	g_clear_error(&err);
	device_destroy(dev);
	ck_assert_int_eq(loader_unload(devs->loader, m, &err), 0);
	ck_assert_ptr_null(loader_find_type(devs->loader, "fx-ok-dev"));
	ck_assert_ptr_null(loader_find_module(devs->loader, "fx-ok"));
	/* And it loads again after unloading. */
	ck_assert_ptr_null(load("fx-ok.so", NULL));
}
END_TEST

START_TEST(test_loader_load_all_reports_each_and_loads_rest)
{
	g_autoptr(GPtrArray) errors =
		g_ptr_array_new_with_free_func((GDestroyNotify)g_error_free);
	char *dir, *file = copy_to_tmp(&dir);
	g_autofree char *bad = g_build_filename(dir, "bad.so", NULL);

	ck_assert(g_file_set_contents(bad, "junk", -1, NULL));
	ck_assert_int_eq(chmod(bad, 0644), 0);
	loader_add_dir(devs->loader, dir);
	ck_assert_int_eq(loader_load_all(devs->loader, errors), 1);
	ck_assert_uint_eq(errors->len, 1);
	ck_assert_str_eq(((GError *)errors->pdata[0])->message,
			 "bad.so: not an ELF file");
	ck_assert_ptr_nonnull(loader_find_module(devs->loader, "fx-ok"));
	unlink(bad);
	remove_tmp(dir, file);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("loader");
	TCase *tc = tcase_create("loader");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_loader_not_elf_refused);
	tcase_add_test(tc, test_loader_no_modinfo_refused);
	tcase_add_test(tc, test_loader_modinfo_without_nul_refused);
	tcase_add_test(tc, test_loader_modinfo_without_name_refused);
	tcase_add_test(tc, test_loader_wrong_magic_refused);
	tcase_add_test(tc, test_loader_abi_major_2_refused);
	tcase_add_test(tc, test_loader_abi_minor_newer_refused);
	tcase_add_test(tc, test_loader_missing_entry_refused);
	tcase_add_test(tc, test_loader_metadata_name_mismatch_refused);
	tcase_add_test(tc, test_loader_metadata_device_mismatch_refused);
	tcase_add_test(tc, test_loader_init_failure_refused);
	tcase_add_test(tc, test_loader_bad_metadata_runs_no_code);
	tcase_add_test(tc, test_loader_truncated_elf_refused);
	tcase_add_test(tc, test_loader_descriptor_longer_nonzero_tail_refused);
	tcase_add_test(tc, test_loader_descriptor_longer_zero_tail_accepted);
	tcase_add_test(tc, test_loader_descriptor_shorter_zero_filled);
	tcase_add_test(tc, test_loader_oldest_sdk_module_loads);
	tcase_add_test(tc, test_loader_ok_registers_types);
	tcase_add_test(tc, test_loader_out_of_tree_taints);
	tcase_add_test(tc, test_loader_duplicate_module_refused);
	tcase_add_test(tc, test_loader_duplicate_device_type_refused);
	tcase_add_test_raise_signal(tc, test_loader_abort_ctor_really_aborts,
				    SIGABRT);
	tcase_add_test(tc, test_loader_group_writable_file_refused);
	tcase_add_test(tc, test_loader_world_writable_dir_refused);
	tcase_add_test(tc, test_loader_group_writable_dir_refused);
	if (geteuid() == 0)
		tcase_add_test(tc, test_loader_foreign_owner_refused);
	else
		fprintf(stderr, "# test_loader_foreign_owner_refused needs "
				"root (to chown a file): not run\n");
	tcase_add_test(tc, test_loader_symlink_into_untrusted_dir_refused);
	tcase_add_test(tc, test_loader_symlink_out_of_module_dirs_refused);
	tcase_add_test(tc, test_loader_fifo_refused_without_blocking);
	tcase_add_test(tc, test_loader_maps_the_checked_descriptor);
	tcase_add_test(tc, test_loader_stale_descriptor_names_stepped_over);
	tcase_add_test(tc, test_loader_allowlist_listed_loads);
	tcase_add_test(tc, test_loader_allowlist_unlisted_refused);
	tcase_add_loop_test(tc, test_loader_allowlist_malformed_line_refused, 0,
			    G_N_ELEMENTS(malformed_lines));
	tcase_add_test(tc, test_loader_allowlist_untrusted_file_refused);
	tcase_add_test(tc, test_loader_allowlist_missing_file);
	tcase_add_test(tc, test_loader_missing_file);
	tcase_add_test(tc, test_loader_unload_refused_with_instances);
	tcase_add_test(tc, test_loader_load_all_reports_each_and_loads_rest);
	suite_add_tcase(s, tc);
	return check_run(s);
}
