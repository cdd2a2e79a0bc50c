// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/bzimage.c against Debian's real kernel (linux-image-amd64) and
 * against broken copies of it: every refusal is a clean, precise error.
 */
#include <errno.h>

#include "check-tap.h"
#include "core/boot.h"
#include "core/bzimage.h"

#define RAM (256ull << 20)

static guint8 *kernel;
static gsize kernel_size;
static struct memory *mem;
static uint8_t *ram;

static void setup(void)
{
	g_autoptr(GDir) dir = g_dir_open("/boot", 0, NULL);
	g_autofree char *best = NULL;
	const char *name;

	while (dir && (name = g_dir_read_name(dir)))
		if (g_str_has_prefix(name, "vmlinuz-") &&
		    (!best || strcmp(name, best) > 0)) {
			g_free(best);
			best = g_strdup(name);
		}
	ck_assert_msg(best, "no /boot/vmlinuz-*: install linux-image-amd64 "
			    "(scripts/setup-deps.sh does)");
	{
		g_autofree char *path = g_build_filename("/boot", best, NULL);

		ck_assert(g_file_get_contents(path, (char **)&kernel,
					      &kernel_size, NULL));
	}
	ram = g_malloc0(RAM);
	mem = memory_new();
	ck_assert_int_eq(memory_add(mem, 0, RAM, ram), 0);
}

static void teardown(void)
{
	memory_free(mem);
	g_free(ram);
	g_free(kernel);
}

START_TEST(test_bzimage_debian_kernel_header)
{
	struct bzimage bz;

	ck_assert_int_eq(bzimage_parse(kernel, kernel_size, &bz, NULL), 0);
	ck_assert_uint_ge(bz.version, 0x020f);
	ck_assert_int_eq(bz.relocatable, 1);
	ck_assert_uint_ge(bz.cmdline_max, 2047);
	ck_assert_uint_eq(bz.setup_size % 512, 0);
	ck_assert_uint_eq(bz.setup_size + bz.kernel_size, kernel_size);
	ck_assert_uint_gt(bz.init_size, bz.kernel_size);
}
END_TEST

START_TEST(test_bzimage_zero_page_and_memory)
{
	static const char cmdline[] = "console=ttyS0 panic=-1";
	static const uint8_t initrd[8192] = { 0x1f, 0x8b };
	struct bzimage bz;
	uint64_t entry = 0, initrd_addr;
	const uint8_t *zp = ram + BOOT_ZERO_PAGE;

	ck_assert_int_eq(bzimage_parse(kernel, kernel_size, &bz, NULL), 0);
	ck_assert_int_eq(bzimage_load(mem, RAM, kernel, kernel_size, initrd,
				      sizeof(initrd), cmdline, &entry, NULL),
			 0);
	ck_assert_uint_eq(entry, BOOT_KERNEL + 0x200);
	ck_assert_mem_eq(ram + BOOT_KERNEL, kernel + bz.setup_size,
			 bz.kernel_size);
	ck_assert_str_eq((const char *)ram + BOOT_CMDLINE, cmdline);
	/* The setup header travels; the loader's fields are ours. */
	ck_assert_uint_eq(le_get(zp, 0x202, 4), 0x53726448);
	ck_assert_uint_eq(le_get(zp, 0x206, 2), bz.version);
	ck_assert_uint_eq(zp[0x210], 0xff);
	ck_assert_uint_eq(zp[0x211] & 0x81, 0x81);
	ck_assert_uint_eq(le_get(zp, 0x228, 4), BOOT_CMDLINE);
	initrd_addr = le_get(zp, 0x218, 4);
	ck_assert_uint_eq(le_get(zp, 0x21c, 4), sizeof(initrd));
	ck_assert_uint_eq(initrd_addr % 4096, 0);
	ck_assert_uint_le(initrd_addr + sizeof(initrd), RAM);
	ck_assert_uint_ge(initrd_addr, BOOT_KERNEL + bz.init_size);
	ck_assert_mem_eq(ram + initrd_addr, initrd, sizeof(initrd));
	/* e820: low RAM, two reserved holes, RAM from 1 MiB to the end. */
	ck_assert_uint_eq(zp[0x1e8], 4);
	ck_assert_uint_eq(le_get(zp, 0x2d0 + 0 * 20 + 8, 8), 0x9fc00);
	ck_assert_uint_eq(le_get(zp, 0x2d0 + 1 * 20 + 16, 4), 2);
	ck_assert_uint_eq(le_get(zp, 0x2d0 + 3 * 20, 8), 0x100000);
	ck_assert_uint_eq(le_get(zp, 0x2d0 + 3 * 20 + 8, 8), RAM - 0x100000);
	ck_assert_uint_eq(le_get(zp, 0x2d0 + 3 * 20 + 16, 4), 1);
}
END_TEST

/* Cut short at offsets on both sides of every structure the parser reads. */
START_TEST(test_bzimage_truncated_refused)
{
	struct bzimage bz;
	size_t cuts[] = { 0, 1, 0x1f0, 0x200, 0x263, 0x264, 0x1000, 0, 0, 0 };

	ck_assert_int_eq(bzimage_parse(kernel, kernel_size, &bz, NULL), 0);
	/* A signed kernel carries bytes past what the header announces;
	 * only cuts inside the announced kernel can be seen. */
	cuts[7] = bz.setup_size;
	cuts[8] = bz.setup_size + 4096;
	cuts[9] = bz.setup_size + le_get(kernel, 0x1f4, 4) * 16 - 1;
	for (size_t i = 0; i < G_N_ELEMENTS(cuts); i++) {
		GError *err = NULL;

		ck_assert_msg(bzimage_parse(kernel, cuts[i], &bz, &err) < 0,
			      "cut at %zu accepted", cuts[i]);
		ck_assert(
			g_str_has_prefix(err->message, "not a bzImage: ") ||
			g_str_has_prefix(err->message, "truncated bzImage: "));
		g_error_free(err);
	}
}
END_TEST

START_TEST(test_bzimage_truncated_message)
{
	struct bzimage bz;
	g_autofree char *expected = NULL;
	GError *err = NULL;
	size_t cut;

	ck_assert_int_eq(bzimage_parse(kernel, kernel_size, &bz, NULL), 0);
	cut = bz.setup_size + le_get(kernel, 0x1f4, 4) * 16 - 1;
	expected = g_strdup_printf("truncated bzImage: header announces %u "
				   "setup and %" G_GUINT64_FORMAT
				   " kernel bytes, the file has %zu",
				   bz.setup_size, le_get(kernel, 0x1f4, 4) * 16,
				   cut);
	ck_assert_int_lt(bzimage_parse(kernel, cut, &bz, &err), 0);
	ck_assert_error(err, expected);
	g_error_free(err);
}
END_TEST

static const struct {
	size_t off;
	uint8_t value;
	const char *error;
} corruptions[] = {
	{ 0x1fe, 0x00,
	  "not a bzImage: boot flag at 0x1fe is 0xaa00, expected "
	  "0xaa55" },
	{ 0x202, 'X', "not a bzImage: no \"HdrS\" header signature at 0x202" },
	{ 0x207, 0x01,
	  "bzImage boot protocol 1.15 is too old: the 64-bit "
	  "entry needs 2.12" },
	{ 0x211, 0x00,
	  "zImage (loaded low) is not supported: loadflags 0x00 "
	  "lacks LOADED_HIGH" },
	{ 0x236, 0x00, NULL }, /* xloadflags: message checked by prefix */
};

START_TEST(test_bzimage_corrupt_header_refused)
{
	g_autofree guint8 *copy = g_memdup2(kernel, kernel_size);
	struct bzimage bz;
	GError *err = NULL;

	/* Keep the other byte of the field, so only this one differs. */
	copy[corruptions[_i].off] = corruptions[_i].value;
	if (corruptions[_i].off == 0x207)
		copy[0x206] = 0x0f;
	ck_assert_int_lt(bzimage_parse(copy, kernel_size, &bz, &err), 0);
	if (corruptions[_i].error)
		ck_assert_error(err, corruptions[_i].error);
	else
		ck_assert(g_str_has_prefix(err->message,
					   "kernel has no 64-bit entry point"));
	g_error_free(err);
}
END_TEST

START_TEST(test_bzimage_cmdline_too_long_refused)
{
	g_autofree char *cmdline = g_strnfill(70000, 'x');
	uint64_t entry;
	GError *err = NULL;

	ck_assert_int_eq(bzimage_load(mem, RAM, kernel, kernel_size, NULL, 0,
				      cmdline, &entry, &err),
			 -E2BIG);
	ck_assert(g_str_has_prefix(err->message,
				   "kernel command line is 70000 bytes; this "
				   "kernel accepts at most "));
	g_error_free(err);
}
END_TEST

START_TEST(test_bzimage_ram_too_small_refused)
{
	uint64_t entry;
	GError *err = NULL;

	ck_assert_int_eq(bzimage_load(mem, 8u << 20, kernel, kernel_size, NULL,
				      0, "", &entry, &err),
			 -ENOMEM);
	ck_assert(g_str_has_prefix(err->message, "kernel needs "));
	g_error_free(err);
}
END_TEST

START_TEST(test_bzimage_initrd_too_big_refused)
{
	static uint8_t big[1];
	uint64_t entry;
	GError *err = NULL;

	/* The size alone decides; the bytes are never read. */
	ck_assert_int_eq(bzimage_load(mem, RAM, kernel, kernel_size, big,
				      (size_t)RAM + 4096, "", &entry, &err),
			 -ENOMEM);
	ck_assert_error(err, "initrd of 256 MiB does not fit below 256 MiB");
	g_clear_error(&err);
	/* Fits in RAM, but not beside the kernel. */
	ck_assert_int_eq(bzimage_load(mem, RAM, kernel, kernel_size, big,
				      (size_t)RAM - (8u << 20), "", &entry,
				      &err),
			 -ENOMEM);
	ck_assert_error(err, "initrd of 248 MiB and kernel do not both fit in "
			     "256 MiB of guest RAM");
	g_error_free(err);
}
END_TEST

START_TEST(test_bzimage_not_a_kernel)
{
	static const uint8_t junk[4096] = "#!/bin/sh\n";
	struct bzimage bz;
	GError *err = NULL;

	ck_assert_int_lt(bzimage_parse(junk, sizeof(junk), &bz, &err), 0);
	ck_assert_error(err, "not a bzImage: boot flag at 0x1fe is 0x0000, "
			     "expected 0xaa55");
	g_error_free(err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bzimage");
	TCase *tc = tcase_create("bzimage");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_bzimage_debian_kernel_header);
	tcase_add_test(tc, test_bzimage_zero_page_and_memory);
	tcase_add_test(tc, test_bzimage_truncated_refused);
	tcase_add_test(tc, test_bzimage_truncated_message);
	tcase_add_loop_test(tc, test_bzimage_corrupt_header_refused, 0,
			    G_N_ELEMENTS(corruptions));
	tcase_add_test(tc, test_bzimage_cmdline_too_long_refused);
	tcase_add_test(tc, test_bzimage_ram_too_small_refused);
	tcase_add_test(tc, test_bzimage_initrd_too_big_refused);
	tcase_add_test(tc, test_bzimage_not_a_kernel);
	suite_add_tcase(s, tc);
	return check_run(s);
}
