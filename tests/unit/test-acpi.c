// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/acpi.c: the tables as a guest finds them in memory. Fixed tables are
 * read field by field; the DSDT is disassembled with ACPICA's iasl
 * (acpica-tools, installed by scripts/setup-deps.sh), so the AML is judged
 * by the same parser family Linux uses, not by the encoder's own idea of it.
 */
#include <errno.h>

#include <glib/gstdio.h>

#include <modvmm/device.h>

#include "check-tap.h"
#include "core/acpi.h"

#define RAM (1u << 20)

static struct memory *mem;
static uint8_t *ram;

static const struct acpi_device devices[] = {
	{ "LNRO0005", MODVMM_SPACE_MMIO, 0xd0000000, 0x200, 5 },
	{ "LNRO0005", MODVMM_SPACE_MMIO, 0xd0001000, 0x200, 6 },
	{ "PNP0B00", MODVMM_SPACE_PIO, 0x70, 2, 8 },
};

static void setup(void)
{
	ram = g_malloc0(RAM);
	mem = memory_new();
	ck_assert_int_eq(memory_add(mem, 0, RAM, ram), 0);
}

static void teardown(void)
{
	memory_free(mem);
	g_free(ram);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

/* The table at a guest address, checked to lie in RAM whole. */
static const uint8_t *table(uint64_t gpa, const char *sig)
{
	ck_assert_uint_ge(gpa, ACPI_TABLES_BASE);
	ck_assert_uint_le(gpa + 36, ACPI_TABLES_BASE + ACPI_TABLES_SIZE);
	ck_assert_msg(!memcmp(ram + gpa, sig, 4), "no %s at 0x%llx", sig,
		      (unsigned long long)gpa);
	ck_assert_uint_le(gpa + le_get(ram + gpa, 4, 4),
			  ACPI_TABLES_BASE + ACPI_TABLES_SIZE);
	return ram + gpa;
}

static uint64_t xsdt_gpa(void)
{
	return le_get(ram + ACPI_TABLES_BASE, 24, 8);
}

/* The table of this signature that the XSDT lists. */
static const uint8_t *xsdt_find(const char *sig)
{
	const uint8_t *xsdt = table(xsdt_gpa(), "XSDT");

	for (size_t off = 36; off < le_get(xsdt, 4, 4); off += 8) {
		uint64_t gpa = le_get(xsdt, off, 8);

		if (gpa < RAM && !memcmp(ram + gpa, sig, 4))
			return table(gpa, sig);
	}
	ck_abort_msg("the XSDT lists no %s", sig);
	return NULL;
}

static const uint8_t *dsdt(void)
{
	return table(le_get(xsdt_find("FACP"), 140, 8), "DSDT");
}

static void write_standard(void)
{
	ck_assert_int_eq(
		acpi_write_tables(mem, 2, devices, G_N_ELEMENTS(devices), NULL),
		0);
}

/*
 * iasl's disassembly with comments dropped and white space collapsed, so
 * assertions hold whatever the line breaks.
 */
static char *disassemble(const uint8_t *t)
{
	g_autofree char *dir = g_dir_make_tmp("test-acpi-XXXXXX", NULL);
	g_autofree char *iasl = g_find_program_in_path("iasl");
	g_autofree char *dat = NULL, *dsl = NULL, *text = NULL, *out = NULL;
	char *argv[] = { iasl, (char *)"-d", (char *)"dsdt.dat", NULL };
	GString *norm = g_string_new(NULL);
	GError *err = NULL;
	int status;

	ck_assert_msg(iasl, "iasl not found: install acpica-tools "
			    "(scripts/setup-deps.sh does)");
	ck_assert(dir);
	dat = g_build_filename(dir, "dsdt.dat", NULL);
	dsl = g_build_filename(dir, "dsdt.dsl", NULL);
	ck_assert(g_file_set_contents(dat, (const char *)t, le_get(t, 4, 4),
				      NULL));
	ck_assert(g_spawn_sync(dir, argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL,
			       NULL, NULL, &out, NULL, &status, &err));
	ck_assert_msg(g_spawn_check_wait_status(status, NULL),
		      "iasl -d failed: %s", out);
	ck_assert_msg(g_file_get_contents(dsl, &text, NULL, NULL),
		      "iasl wrote no dsdt.dsl: %s", out);
	g_unlink(dat);
	g_unlink(dsl);
	g_rmdir(dir);
	for (const char *s = text; *s;) {
		if (s[0] == '/' && s[1] == '/') {
			s += strcspn(s, "\n");
		} else if (s[0] == '/' && s[1] == '*') {
			const char *end = strstr(s + 2, "*/");

			s = end ? end + 2 : s + strlen(s);
		} else if (g_ascii_isspace(*s)) {
			if (norm->len && norm->str[norm->len - 1] != ' ')
				g_string_append_c(norm, ' ');
			s++;
		} else {
			g_string_append_c(norm, *s++);
		}
	}
	return g_string_free(norm, FALSE);
}

/* The text of Device (name) up to the next Device, or to the end. */
static char *device_text(const char *dsl, const char *name)
{
	g_autofree char *head = g_strdup_printf("Device (%s)", name);
	const char *start = strstr(dsl, head), *end;

	ck_assert_msg(start, "no %s in the DSDT: %s", head, dsl);
	end = strstr(start + strlen(head), "Device (");
	return g_strndup(start, end ? (size_t)(end - start) : strlen(start));
}

#define ck_assert_contains(text, needle)                                       \
	ck_assert_msg(strstr((text), (needle)), "no '%s' in: %s", (needle),    \
		      (text))

START_TEST(test_rsdp_signature_and_checksums)
{
	const uint8_t *rsdp = ram + ACPI_TABLES_BASE;

	write_standard();
	ck_assert_mem_eq(rsdp, "RSD PTR ", 8);
	ck_assert_mem_eq(rsdp + 9, "MODVMM", 6);
	ck_assert_uint_eq(rsdp[15], 2);
	ck_assert_uint_eq(le_get(rsdp, 20, 4), 36);
	ck_assert_uint_eq(sum(rsdp, 20), 0);
	ck_assert_uint_eq(sum(rsdp, 36), 0);
	ck_assert_uint_eq(le_get(rsdp, 16, 4), 0); /* no RSDT */
	ck_assert_uint_eq(xsdt_gpa() % 8, 0);
	table(xsdt_gpa(), "XSDT");
}
END_TEST

START_TEST(test_xsdt_lists_fadt_and_madt)
{
	const uint8_t *xsdt;

	write_standard();
	xsdt = table(xsdt_gpa(), "XSDT");
	ck_assert_uint_eq(le_get(xsdt, 4, 4), 36 + 2 * 8);
	ck_assert_mem_eq(ram + le_get(xsdt, 36, 8), "FACP", 4);
	ck_assert_mem_eq(ram + le_get(xsdt, 44, 8), "APIC", 4);
}
END_TEST

START_TEST(test_every_table_checksum_zero)
{
	const uint8_t *t[4];

	write_standard();
	t[0] = table(xsdt_gpa(), "XSDT");
	t[1] = xsdt_find("FACP");
	t[2] = xsdt_find("APIC");
	t[3] = dsdt();
	for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
		ck_assert_mem_eq(t[i] + 10, "MODVMM", 6);
		ck_assert_mem_eq(t[i] + 16, "MODVMMVM", 8);
		ck_assert_msg(sum(t[i], le_get(t[i], 4, 4)) == 0,
			      "%.4s: checksum 0x%02x, sum 0x%02x", t[i],
			      t[i][9], sum(t[i], le_get(t[i], 4, 4)));
	}
}
END_TEST

START_TEST(test_fadt_hw_reduced_with_x_dsdt)
{
	const uint8_t *fadt;

	write_standard();
	fadt = xsdt_find("FACP");
	ck_assert_uint_eq(le_get(fadt, 4, 4), 276);
	ck_assert_uint_eq(fadt[8], 6);			   /* revision */
	ck_assert_uint_eq(fadt[131], 3);		   /* minor: ACPI 6.3 */
	ck_assert_uint_eq(le_get(fadt, 112, 4), 1u << 20); /* HW_REDUCED_ACPI */
	/* 8042, no VGA, no MSI; the CMOS RTC is there (bit 5 clear). */
	ck_assert_uint_eq(le_get(fadt, 109, 2), 0x000e);
	ck_assert_uint_eq(le_get(fadt, 36, 4), 0); /* no FACS */
	ck_assert_uint_eq(le_get(fadt, 132, 8), 0);
	ck_assert_uint_eq(le_get(fadt, 40, 4), 0); /* only X_DSDT */
	ck_assert_mem_eq(ram + le_get(fadt, 140, 8), "DSDT", 4);
	ck_assert_uint_eq(sum(dsdt(), le_get(dsdt(), 4, 4)), 0);
	ck_assert_uint_eq(le_get(fadt, 46, 2), 0); /* no SCI */
	ck_assert_uint_eq(le_get(fadt, 76, 4), 0); /* no PM timer */
	ck_assert_mem_eq(fadt + 268, "MODVMM  ", 8);
}
END_TEST

/* Walks the MADT's entries: every one lies inside the table. */
static void madt_check(unsigned int ncpus)
{
	const uint8_t *madt = xsdt_find("APIC");
	size_t len = le_get(madt, 4, 4), off = 44;
	unsigned int lapics = 0, ioapics = 0;

	ck_assert_uint_eq(le_get(madt, 36, 4), 0xfee00000);
	ck_assert_uint_eq(le_get(madt, 40, 4), 1); /* PCAT_COMPAT */
	while (off < len) {
		const uint8_t *e = madt + off;

		ck_assert_uint_ge(e[1], 2);
		ck_assert_uint_le(off + e[1], len);
		if (e[0] == 0) {
			ck_assert_uint_eq(e[1], 8);
			ck_assert_uint_eq(e[2], lapics); /* processor UID */
			ck_assert_uint_eq(e[3], lapics); /* APIC id */
			ck_assert_uint_eq(le_get(e, 4, 4), 1);
			lapics++;
		} else if (e[0] == 1) {
			ck_assert_uint_eq(e[1], 12);
			ck_assert_uint_eq(le_get(e, 4, 4), 0xfec00000);
			ck_assert_uint_eq(le_get(e, 8, 4), 0);
			ioapics++;
		} else {
			ck_abort_msg("MADT entry of type %u at %zu", e[0], off);
		}
		off += e[1];
	}
	ck_assert_uint_eq(off, len);
	ck_assert_uint_eq(lapics, ncpus);
	ck_assert_uint_eq(ioapics, 1);
	ck_assert_uint_eq(sum(madt, len), 0);
}

START_TEST(test_madt_two_lapics_and_ioapic)
{
	write_standard();
	madt_check(2);
}
END_TEST

START_TEST(test_madt_255_vcpus)
{
	ck_assert_int_eq(acpi_write_tables(mem, 255, devices,
					   G_N_ELEMENTS(devices), NULL),
			 0);
	madt_check(255);
}
END_TEST

START_TEST(test_dsdt_virtio_mmio_resources)
{
	g_autofree char *dsl = NULL, *d0 = NULL, *d1 = NULL, *d2 = NULL;

	write_standard();
	dsl = disassemble(dsdt());
	ck_assert_contains(dsl, "DefinitionBlock (\"\", \"DSDT\", 2, "
				"\"MODVMM\", \"MODVMMVM\", 0x00000001)");
	ck_assert_msg(!strstr(dsl, "Incorrect"), "iasl: %s", dsl);
	ck_assert_contains(dsl, "Scope (\\_SB) { Device (D000)");
	d0 = device_text(dsl, "D000");
	ck_assert_contains(d0, "Name (_HID, \"LNRO0005\")");
	ck_assert_contains(d0, "Name (_UID, Zero)");
	ck_assert_contains(d0, "Memory32Fixed (ReadWrite, 0xD0000000, "
			       "0x00000200, )");
	ck_assert_contains(d0, "Interrupt (ResourceConsumer, Edge, ActiveHigh, "
			       "Exclusive, ,, ) { 0x00000005, }");
	d1 = device_text(dsl, "D001");
	ck_assert_contains(d1, "Name (_HID, \"LNRO0005\")");
	ck_assert_contains(d1, "Name (_UID, One)");
	ck_assert_contains(d1, "Memory32Fixed (ReadWrite, 0xD0001000, "
			       "0x00000200, )");
	ck_assert_contains(d1, "Interrupt (ResourceConsumer, Edge, ActiveHigh, "
			       "Exclusive, ,, ) { 0x00000006, }");
	d2 = device_text(dsl, "D002");
	ck_assert_contains(d2, "Name (_HID, \"PNP0B00\"");
	ck_assert_contains(d2, "Name (_UID, 0x02)");
	ck_assert_contains(d2, "IO (Decode16, 0x0070, 0x0070, 0x01, 0x02, )");
	ck_assert_contains(d2, "Interrupt (ResourceConsumer, Edge, ActiveHigh, "
			       "Exclusive, ,, ) { 0x00000008, }");
	ck_assert(!strstr(dsl, "Device (D003)"));
}
END_TEST

/* Above 4 GiB a Memory32Fixed cannot say it: a QWordMemory does. */
START_TEST(test_dsdt_mmio_above_4g_qword)
{
	static const struct acpi_device high[] = {
		{ "LNRO0005", MODVMM_SPACE_MMIO, 0x100000000ull, 0x1000,
		  ACPI_NO_IRQ },
		{ "LNRO0005", MODVMM_SPACE_MMIO, 0xfffff000, 0x2000, 23 },
	};
	g_autofree char *dsl = NULL, *d0 = NULL, *d1 = NULL;

	ck_assert_int_eq(
		acpi_write_tables(mem, 1, high, G_N_ELEMENTS(high), NULL), 0);
	dsl = disassemble(dsdt());
	d0 = device_text(dsl, "D000");
	ck_assert_contains(d0, "QWordMemory (ResourceConsumer, PosDecode, "
			       "MinFixed, MaxFixed, NonCacheable, ReadWrite, "
			       "0x0000000000000000, 0x0000000100000000, "
			       "0x0000000100000FFF, 0x0000000000000000, "
			       "0x0000000000001000,");
	ck_assert(!strstr(d0, "Interrupt"));
	/* Straddling 4 GiB is not below it. */
	d1 = device_text(dsl, "D001");
	ck_assert_contains(d1, "0x00000000FFFFF000, 0x0000000100000FFF, "
			       "0x0000000000000000, 0x0000000000002000,");
	ck_assert_contains(d1, "{ 0x00000017, }");
}
END_TEST

START_TEST(test_dsdt_no_devices_empty_sb)
{
	const uint8_t *t;
	g_autofree char *dsl = NULL;

	/* What an earlier boot left must not survive. */
	memset(ram + ACPI_TABLES_BASE, 0xa5, ACPI_TABLES_SIZE);
	ck_assert_int_eq(acpi_write_tables(mem, 1, NULL, 0, NULL), 0);
	t = dsdt();
	ck_assert_uint_eq(le_get(t, 4, 4), 36 + 7); /* ScopeOp, 1, \_SB_ */
	ck_assert_uint_eq(sum(t, le_get(t, 4, 4)), 0);
	for (const uint8_t *p = t + le_get(t, 4, 4);
	     p < ram + ACPI_TABLES_BASE + ACPI_TABLES_SIZE; p++)
		ck_assert_uint_eq(*p, 0);
	madt_check(1);
	dsl = disassemble(t);
	ck_assert_contains(dsl, "Scope (\\_SB) { }");
	ck_assert(!strstr(dsl, "Device ("));
}
END_TEST

static struct acpi_device *virtio_list(size_t n)
{
	struct acpi_device *l = g_new(struct acpi_device, n);

	for (size_t i = 0; i < n; i++)
		l[i] = (struct acpi_device){ "LNRO0005", MODVMM_SPACE_MMIO,
					     0xd0000000 + i * 0x200, 0x200, 5 };
	return l;
}

/*
 * A Device of this list takes 60 bytes with _UID Zero or One, 61 with a
 * byte _UID and 62 with a word one; Scope(\_SB_) adds 9 with a 3-byte
 * PkgLength. 2051 devices fill the DSDT's 126976 bytes but 27.
 */
START_TEST(test_dsdt_largest_list_fits)
{
	g_autofree struct acpi_device *l = virtio_list(2051);
	const uint8_t *t;

	ck_assert_int_eq(acpi_write_tables(mem, 2, l, 2051, NULL), 0);
	t = dsdt();
	ck_assert_uint_eq(le_get(t, 4, 4),
			  36 + 9 + 2 * 60 + 254 * 61 + 1795 * 62);
	ck_assert_uint_eq(le_get(t, 4, 4), 126976 - 27);
	ck_assert_uint_eq(sum(t, le_get(t, 4, 4)), 0);
}
END_TEST

START_TEST(test_too_many_devices_refused)
{
	static const struct {
		size_t n;
		const char *error;
	} rows[] = {
		{ 2052, "ACPI tables for 2052 devices need 131107 bytes, more "
			"than the 131072 bytes at 0xe0000" },
		{ 5000, "ACPI tables for 5000 devices need 313883 bytes, more "
			"than the 131072 bytes at 0xe0000" },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autofree struct acpi_device *l = virtio_list(rows[i].n);
		GError *err = NULL;

		/* Refused before anything is written. */
		memset(ram + ACPI_TABLES_BASE, 0xa5, ACPI_TABLES_SIZE);
		ck_assert_int_eq(acpi_write_tables(mem, 2, l, rows[i].n, &err),
				 -E2BIG);
		ck_assert_error(err, rows[i].error);
		g_error_free(err);
		for (size_t j = 0; j < ACPI_TABLES_SIZE; j++)
			ck_assert_uint_eq(ram[ACPI_TABLES_BASE + j], 0xa5);
	}
}
END_TEST

static const struct {
	unsigned int ncpus;
	struct acpi_device dev;
	const char *error;
} refusals[] = {
	{ 0,
	  { "LNRO0005", MODVMM_SPACE_MMIO, 0xd0000000, 0x200, 5 },
	  "ACPI MADT describes 1 to 255 vCPUs (xAPIC ids 0-254), not 0" },
	{ 256,
	  { "LNRO0005", MODVMM_SPACE_MMIO, 0xd0000000, 0x200, 5 },
	  "ACPI MADT describes 1 to 255 vCPUs (xAPIC ids 0-254), not 256" },
	{ 1,
	  { NULL, MODVMM_SPACE_MMIO, 0xd0000000, 0x200, 5 },
	  "ACPI device 1 has no _HID" },
	{ 1,
	  { "LNRO005", MODVMM_SPACE_MMIO, 0xd0000000, 0x200, 5 },
	  "ACPI device 1: _HID \"LNRO005\" is neither an ACPI ID (like "
	  "LNRO0005) nor a PNP ID (like PNP0B00)" },
	{ 1,
	  { "PNP0b00", MODVMM_SPACE_PIO, 0x70, 2, 8 },
	  "ACPI device 1: _HID \"PNP0b00\" is neither an ACPI ID (like "
	  "LNRO0005) nor a PNP ID (like PNP0B00)" },
	{ 1,
	  { "LNRO0005", MODVMM_SPACE_MMIO, 0xd0000000, 0, 5 },
	  "ACPI device 1 (LNRO0005): empty register range at 0xd0000000" },
	{ 1,
	  { "PNP0501", MODVMM_SPACE_PIO, 0xfff8, 0x10, 4 },
	  "ACPI device 1 (PNP0501): I/O ports 0xfff8+0x10 go past 0xffff" },
	{ 1,
	  { "PNP0501", MODVMM_SPACE_PIO, 0x1000, 0x100, 4 },
	  "ACPI device 1 (PNP0501): 256 I/O ports; an IO descriptor holds "
	  "at most 255" },
	{ 1,
	  { "LNRO0005", MODVMM_SPACE_MMIO, 0xfffffffffffff000ull, 0x2000, 5 },
	  "ACPI device 1 (LNRO0005): MMIO range 0xfffffffffffff000+0x2000 "
	  "goes past 2^64" },
	{ 1,
	  { "LNRO0005", 3, 0xd0000000, 0x200, 5 },
	  "ACPI device 1 (LNRO0005): address space 3 is neither PIO (1) nor "
	  "MMIO (2)" },
	{ 1,
	  { "LNRO0005", MODVMM_SPACE_MMIO, 0xd0000000, 0x200, 24 },
	  "ACPI device 1 (LNRO0005): GSI 24 is not a pin of the IOAPIC "
	  "(0-23)" },
};

/* Device 0 is good; the row's device comes second. */
START_TEST(test_bad_config_refused)
{
	struct acpi_device list[2] = { devices[0], refusals[_i].dev };
	GError *err = NULL;

	ck_assert_int_eq(
		acpi_write_tables(mem, refusals[_i].ncpus, list, 2, &err),
		-EINVAL);
	ck_assert_error(err, refusals[_i].error);
	g_error_free(err);
	ck_assert_uint_eq(ram[ACPI_TABLES_BASE], 0);
}
END_TEST

/* The edges that are still accepted: the last port, the 255-port IO. */
START_TEST(test_edge_ranges_accepted)
{
	static const struct acpi_device edges[] = {
		{ "PNP0501", MODVMM_SPACE_PIO, 0xfff0, 0x10, ACPI_NO_IRQ },
		{ "PNP0501", MODVMM_SPACE_PIO, 0x1000, 0xff, 0 },
		{ "ACPI0007", MODVMM_SPACE_MMIO, 0xffffffffffff0000ull, 0x10000,
		  ACPI_NO_IRQ },
	};
	g_autofree char *dsl = NULL;

	ck_assert_int_eq(
		acpi_write_tables(mem, 1, edges, G_N_ELEMENTS(edges), NULL), 0);
	dsl = disassemble(dsdt());
	ck_assert_contains(dsl, "IO (Decode16, 0xFFF0, 0xFFF0, 0x01, 0x10, )");
	ck_assert_contains(dsl, "IO (Decode16, 0x1000, 0x1000, 0x01, 0xFF, )");
	ck_assert_contains(dsl, "{ 0x00000000, }");
	ck_assert_contains(dsl, "0xFFFFFFFFFFFF0000, 0xFFFFFFFFFFFFFFFF,");
}
END_TEST

START_TEST(test_guest_ram_too_small_refused)
{
	g_autofree uint8_t *low = g_malloc0(ACPI_TABLES_BASE);
	struct memory *small = memory_new();
	GError *err = NULL;

	ck_assert_int_eq(memory_add(small, 0, ACPI_TABLES_BASE, low), 0);
	ck_assert_int_eq(acpi_write_tables(small, 1, devices,
					   G_N_ELEMENTS(devices), &err),
			 -EFAULT);
	ck_assert_error(err, "guest RAM does not cover the ACPI tables at "
			     "0xe0000-0xfffff");
	g_error_free(err);
	memory_free(small);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acpi");
	TCase *tc = tcase_create("acpi");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_rsdp_signature_and_checksums);
	tcase_add_test(tc, test_xsdt_lists_fadt_and_madt);
	tcase_add_test(tc, test_every_table_checksum_zero);
	tcase_add_test(tc, test_fadt_hw_reduced_with_x_dsdt);
	tcase_add_test(tc, test_madt_two_lapics_and_ioapic);
	tcase_add_test(tc, test_madt_255_vcpus);
	tcase_add_test(tc, test_dsdt_virtio_mmio_resources);
	tcase_add_test(tc, test_dsdt_mmio_above_4g_qword);
	tcase_add_test(tc, test_dsdt_no_devices_empty_sb);
	tcase_add_test(tc, test_dsdt_largest_list_fits);
	tcase_add_test(tc, test_too_many_devices_refused);
	tcase_add_loop_test(tc, test_bad_config_refused, 0,
			    G_N_ELEMENTS(refusals));
	tcase_add_test(tc, test_edge_ranges_accepted);
	tcase_add_test(tc, test_guest_ram_too_small_refused);
	suite_add_tcase(s, tc);
	return check_run(s);
}
