// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/acpi.c - the ACPI tables a guest reads to find its vCPUs, interrupt
 * controllers and devices (RSDP, XSDT, FADT, MADT, DSDT), and the small AML
 * encoder the DSDT needs.
 *
 * The machine is described as hardware-reduced ACPI, as Firecracker and
 * Cloud Hypervisor describe theirs: no PM timer, SCI, PM1 or GPE blocks for
 * the host to emulate, and no FACS. Devices appear only in the DSDT, one
 * Device per entry of the list the caller passes, so a guest sees exactly
 * the devices present; Linux finds virtio-mmio (LNRO0005) no other way.
 *
 * Invariants: the whole region is built in a host buffer and copied with
 * one memory_write(), which copies nothing unless all of it is guest RAM,
 * so the guest never finds a table without its checksum; bytes of the
 * region past the tables are zero, so no RSDP or DSDT of an earlier boot
 * survives a reboot.
 */
#include <errno.h>
#include <string.h>

#include <linux/kvm.h>

#include <modvmm/device.h>

#include "acpi.h"
#include "base/error.h"

/*
 * Offsets in the region. Fixed, so a dump of guest memory reads the same
 * whatever the configuration: the MADT slot holds the largest vCPU count
 * the MADT can describe, the DSDT takes all the rest.
 */
#define RSDP_OFF 0x0000u /* Linux looks for it on 16-byte boundaries */
#define XSDT_OFF 0x0040u
#define FADT_OFF 0x0080u
#define MADT_OFF 0x0200u
#define DSDT_OFF 0x1000u
#define DSDT_MAX (ACPI_TABLES_SIZE - DSDT_OFF)

/* xAPIC ids are 8 bits and 0xff is the broadcast id. */
#define ACPI_MAX_CPUS 255u

#define OEM_ID "MODVMM"
#define OEM_TABLE_ID "MODVMMVM"
#define CREATOR_ID "MVMM"
#define HYPERVISOR_ID "MODVMM  "

#define SDT_HEADER_LEN 36u
#define RSDP_LEN 36u
#define XSDT_LEN (SDT_HEADER_LEN + 2u * 8u)
#define FADT_LEN 276u /* ACPI 6.0 to 6.5 */
#define MADT_LEN(ncpus) (44u + (ncpus)*8u + 12u)

G_STATIC_ASSERT(XSDT_OFF >= RSDP_OFF + RSDP_LEN);
G_STATIC_ASSERT(FADT_OFF >= XSDT_OFF + XSDT_LEN);
G_STATIC_ASSERT(MADT_OFF >= FADT_OFF + FADT_LEN);
G_STATIC_ASSERT(DSDT_OFF >= MADT_OFF + MADT_LEN(ACPI_MAX_CPUS));

/*
 * ACPI 6.3: the newest revision iasl from Debian 12 (acpica-tools
 * 20200925) decodes, and older than what Linux 6.1's ACPICA knows. The
 * FADT's layout is the same from 6.0 to 6.5.
 */
#define FADT_REVISION 6
#define FADT_MINOR 3
#define MADT_REVISION 5
#define DSDT_REVISION 2 /* 64-bit AML integers */

/* FADT fields (ACPI 6.3, table 5-34). */
#define FADT_IAPC_BOOT_ARCH 109
#define FADT_FLAGS 112
#define FADT_MINOR_VERSION 131
#define FADT_X_DSDT 140
#define FADT_HYPERVISOR_ID 268

#define IAPC_8042 (1u << 1)
#define IAPC_VGA_NOT_PRESENT (1u << 2)
#define IAPC_MSI_NOT_SUPPORTED (1u << 3)
#define FADT_HW_REDUCED_ACPI (1u << 20)

#define MADT_LAPIC_ADDR 0xfee00000u
#define MADT_PCAT_COMPAT 1u
#define MADT_TYPE_LAPIC 0
#define MADT_TYPE_IOAPIC 1
#define IOAPIC_ADDR 0xfec00000u

/* AML opcodes and prefixes (ACPI 6.3, section 20.2). */
#define AML_ZERO 0x00
#define AML_ONE 0x01
#define AML_NAME 0x08
#define AML_BYTE 0x0a
#define AML_WORD 0x0b
#define AML_DWORD 0x0c
#define AML_STRING 0x0d
#define AML_QWORD 0x0e
#define AML_SCOPE 0x10
#define AML_BUFFER 0x11
#define AML_EXT 0x5b
#define AML_DEVICE 0x82 /* after AML_EXT */
#define AML_ROOT '\\'

/* Resource descriptor tags (ACPI 6.3, section 6.4). */
#define RES_IO 0x47	     /* small item 0x08, 7 bytes */
#define RES_END 0x79	     /* small item 0x0f, 1 byte */
#define RES_MEM32_FIXED 0x86 /* large items from here */
#define RES_EXT_IRQ 0x89
#define RES_QWORD 0x8a

/*
 * Device names are "D000" to "DFFF". No list that long fits: every Device
 * takes at least 46 bytes (DeviceOp 2, PkgLength 1, name 4, a 7-character
 * _HID 14, _UID 6, a _CRS of one IO descriptor 19), so a name is never
 * reused in tables that are written.
 */
#define DEVICE_NAMES 0x1000u
#define DEVICE_MIN_LEN 46u
#define DEVICE_NAMES_MIN_LEN (DEVICE_NAMES * DEVICE_MIN_LEN)
G_STATIC_ASSERT(DEVICE_NAMES_MIN_LEN > DSDT_MAX);

static void put_le(uint8_t *p, size_t off, int n, uint64_t v)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[off + (size_t)i] = (uint8_t)v;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static void sdt_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put_le(t, 4, 4, len);
	t[8] = rev;
	memcpy(t + 10, OEM_ID, 6);
	memcpy(t + 16, OEM_TABLE_ID, 8);
	put_le(t, 24, 4, 1); /* OEM revision */
	memcpy(t + 28, CREATOR_ID, 4);
	put_le(t, 32, 4, 1); /* creator revision */
}

/* Last, once every byte of the table is in place. */
static void sdt_checksum(uint8_t *t)
{
	uint32_t len = (uint32_t)(t[4] | t[5] << 8 | t[6] << 16 |
				  (uint32_t)t[7] << 24);

	t[9] = 0;
	t[9] = (uint8_t)-sum(t, len);
}

/*
 * An AML byte stream being built. Bytes past cap are counted, not stored,
 * so one pass builds what fits and measures what does not; once a write
 * has not fitted, len stays above cap and nothing more is stored.
 */
struct aml {
	uint8_t *buf;
	size_t cap;
	size_t len;
};

static void aml_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->len <= a->cap && n <= a->cap - a->len)
		memcpy(a->buf + a->len, p, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t v)
{
	aml_bytes(a, &v, 1);
}

static void aml_le(struct aml *a, uint64_t v, int n)
{
	uint8_t b[8];

	put_le(b, 0, n, v);
	aml_bytes(a, b, (size_t)n);
}

/*
 * PkgLength (20.2.4) of a package whose contents after it are len bytes.
 * The value counts its own bytes: one holds 6 bits, two, three and four
 * hold 12, 20 and 28. Anything longer than 4 bytes can say is far beyond
 * the region, refused before it is used.
 */
static void aml_pkglength(struct aml *a, size_t len)
{
	size_t total;
	int n = 2;

	if (len + 1 < 0x40) {
		aml_byte(a, (uint8_t)(len + 1));
		return;
	}
	while (n < 4 && len + (size_t)n >= (size_t)1 << (4 + 8 * (n - 1)))
		n++;
	total = len + (size_t)n;
	aml_byte(a, (uint8_t)((n - 1) << 6 | (total & 0x0f)));
	aml_le(a, total >> 4, n - 1);
}

/* The shortest encoding, as iasl writes it. */
static void aml_integer(struct aml *a, uint64_t v)
{
	if (v <= 1) {
		aml_byte(a, v ? AML_ONE : AML_ZERO);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		aml_le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD);
		aml_le(a, v, 2);
	} else if (v <= 0xffffffffu) {
		aml_byte(a, AML_DWORD);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD);
		aml_le(a, v, 8);
	}
}

static void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

static void aml_name(struct aml *a, const char *seg)
{
	aml_byte(a, AML_NAME);
	aml_bytes(a, seg, 4);
}

static void aml_buffer(struct aml *a, const uint8_t *p, size_t n)
{
	uint8_t sb[9];
	struct aml size = { sb, sizeof(sb), 0 };

	aml_integer(&size, n);
	aml_byte(a, AML_BUFFER);
	aml_pkglength(a, size.len + n);
	aml_bytes(a, sb, size.len);
	aml_bytes(a, p, n);
}

static int mmio_below_4g(const struct acpi_device *d)
{
	return d->base < (1ull << 32) && d->length <= (1ull << 32) - d->base;
}

/*
 * Name(_CRS, ResourceTemplate) of one device: its register window, then
 * its interrupt. The interrupt is edge-triggered and active-high, Linux's
 * default for ISA interrupts and what KVM's IOAPIC delivers for a line
 * that is pulsed.
 */
static void aml_crs(struct aml *a, const struct acpi_device *d)
{
	uint8_t rb[64]; /* at most 46 + 9 + 2 bytes */
	struct aml rt = { rb, sizeof(rb), 0 };

	if (d->space == MODVMM_SPACE_PIO) {
		aml_byte(&rt, RES_IO);
		aml_byte(&rt, 0x01);	 /* decodes 16 address bits */
		aml_le(&rt, d->base, 2); /* minimum = maximum: fixed */
		aml_le(&rt, d->base, 2);
		aml_byte(&rt, 1); /* alignment */
		aml_byte(&rt, (uint8_t)d->length);
	} else if (mmio_below_4g(d)) {
		aml_byte(&rt, RES_MEM32_FIXED);
		aml_le(&rt, 9, 2);
		aml_byte(&rt, 0x01); /* read-write */
		aml_le(&rt, d->base, 4);
		aml_le(&rt, d->length, 4);
	} else {
		aml_byte(&rt, RES_QWORD);
		aml_le(&rt, 43, 2);
		aml_byte(&rt, 0x00); /* memory range */
		aml_byte(&rt, 0x0d); /* consumer, minimum and maximum fixed */
		aml_byte(&rt, 0x01); /* read-write, not cacheable */
		aml_le(&rt, 0, 8);   /* granularity */
		aml_le(&rt, d->base, 8);
		aml_le(&rt, d->base + (d->length - 1), 8);
		aml_le(&rt, 0, 8); /* translation offset */
		aml_le(&rt, d->length, 8);
	}
	if (d->irq != ACPI_NO_IRQ) {
		aml_byte(&rt, RES_EXT_IRQ);
		aml_le(&rt, 6, 2);
		/* Consumer, edge, active-high, exclusive; one interrupt. */
		aml_byte(&rt, 0x03);
		aml_byte(&rt, 1);
		aml_le(&rt, d->irq, 4);
	}
	/* The end tag's checksum makes the template's bytes sum to 0. */
	aml_byte(&rt, RES_END);
	aml_byte(&rt, (uint8_t)-sum(rb, rt.len));

	aml_name(a, "_CRS");
	aml_buffer(a, rb, rt.len);
}

static void aml_device(struct aml *a, size_t index, const struct acpi_device *d)
{
	uint8_t db[256]; /* at most 4 + 15 + 14 + 66 bytes */
	struct aml dev = { db, sizeof(db), 0 };
	char seg[5];

	g_snprintf(seg, sizeof(seg), "D%03X",
		   (unsigned int)(index % DEVICE_NAMES));
	aml_bytes(&dev, seg, 4);
	/* A string for every ID: the guest gets the caller's ID byte for
	 * byte, and ACPICA turns an EISA id into the same string anyway. */
	aml_name(&dev, "_HID");
	aml_string(&dev, d->hid);
	aml_name(&dev, "_UID");
	aml_integer(&dev, index);
	aml_crs(&dev, d);

	aml_byte(a, AML_EXT);
	aml_byte(a, AML_DEVICE);
	aml_pkglength(a, dev.len);
	aml_bytes(a, db, dev.len);
}

/* An ACPI ID (LNRO0005: 4 letters or digits) or a PNP ID (PNP0B00: 3
 * letters), then 4 upper-case hex digits (ACPI 6.3, 6.1.5). */
int acpi_hid_valid(const char *hid)
{
	size_t len = strlen(hid), vendor;

	if (len != 7 && len != 8)
		return 0;
	vendor = len - 4;
	for (size_t i = 0; i < len; i++) {
		char c = hid[i];

		if (i < vendor && !(g_ascii_isupper(c) ||
				    (vendor == 4 && g_ascii_isdigit(c))))
			return 0;
		if (i >= vendor &&
		    !(g_ascii_isdigit(c) || (c >= 'A' && c <= 'F')))
			return 0;
	}
	return 1;
}

static int device_check(size_t i, const struct acpi_device *d, GError **error)
{
	unsigned long long base = d->base, len = d->length;

	if (!d->hid)
		return error_setf(error, EINVAL, "ACPI device %zu has no _HID",
				  i);
	if (!acpi_hid_valid(d->hid))
		return error_setf(error, EINVAL,
				  "ACPI device %zu: _HID \"%s\" is neither an "
				  "ACPI ID (like LNRO0005) nor a PNP ID (like "
				  "PNP0B00)",
				  i, d->hid);
	if (!len)
		return error_setf(error, EINVAL,
				  "ACPI device %zu (%s): empty register range "
				  "at 0x%llx",
				  i, d->hid, base);
	if (d->space == MODVMM_SPACE_PIO) {
		if (base > 0xffff || len > 0x10000 - base)
			return error_setf(error, EINVAL,
					  "ACPI device %zu (%s): I/O ports "
					  "0x%llx+0x%llx go past 0xffff",
					  i, d->hid, base, len);
		if (len > 0xff)
			return error_setf(error, EINVAL,
					  "ACPI device %zu (%s): %llu I/O "
					  "ports; an IO descriptor holds at "
					  "most 255",
					  i, d->hid, len);
	} else if (d->space == MODVMM_SPACE_MMIO) {
		if (len - 1 > UINT64_MAX - base)
			return error_setf(error, EINVAL,
					  "ACPI device %zu (%s): MMIO range "
					  "0x%llx+0x%llx goes past 2^64",
					  i, d->hid, base, len);
	} else {
		return error_setf(error, EINVAL,
				  "ACPI device %zu (%s): address space %u is "
				  "neither PIO (%u) nor MMIO (%u)",
				  i, d->hid, d->space, MODVMM_SPACE_PIO,
				  MODVMM_SPACE_MMIO);
	}
	if (d->irq != ACPI_NO_IRQ && d->irq >= KVM_IOAPIC_NUM_PINS)
		return error_setf(error, EINVAL,
				  "ACPI device %zu (%s): GSI %u is not a pin "
				  "of the IOAPIC (0-%u)",
				  i, d->hid, d->irq,
				  (unsigned int)KVM_IOAPIC_NUM_PINS - 1);
	return 0;
}

/*
 * DefinitionBlock with Scope(\_SB_) holding the devices. -E2BIG if the
 * region cannot hold it; the size is measured all the same, for the
 * message.
 */
static int dsdt_write(uint8_t *t, const struct acpi_device *devs, size_t n_devs,
		      GError **error)
{
	g_autofree uint8_t *body = g_malloc(DSDT_MAX);
	struct aml sb = { body, DSDT_MAX, 0 };
	struct aml dsdt = { t, DSDT_MAX, SDT_HEADER_LEN };

	for (size_t i = 0; i < n_devs; i++)
		aml_device(&sb, i, &devs[i]);
	aml_byte(&dsdt, AML_SCOPE);
	aml_pkglength(&dsdt, 5 + sb.len);
	aml_byte(&dsdt, AML_ROOT);
	aml_bytes(&dsdt, "_SB_", 4);
	/* If sb did not fit in its buffer, it cannot fit here either:
	 * aml_bytes() reads nothing past what sb stored. */
	aml_bytes(&dsdt, body, sb.len);
	if (dsdt.len > dsdt.cap)
		return error_setf(error, E2BIG,
				  "ACPI tables for %zu devices need %zu "
				  "bytes, more than the %u bytes at 0x%llx",
				  n_devs, DSDT_OFF + dsdt.len, ACPI_TABLES_SIZE,
				  ACPI_TABLES_BASE);
	sdt_header(t, "DSDT", (uint32_t)dsdt.len, DSDT_REVISION);
	sdt_checksum(t);
	return 0;
}

static void fadt_write(uint8_t *t)
{
	sdt_header(t, "FACP", FADT_LEN, FADT_REVISION);
	/* The i8042 is there (Linux resets through it with reboot=k) and
	 * so is the CMOS RTC; VGA and MSI are not. */
	put_le(t, FADT_IAPC_BOOT_ARCH, 2,
	    IAPC_8042 | IAPC_VGA_NOT_PRESENT | IAPC_MSI_NOT_SUPPORTED);
	/* Hardware-reduced: every PM block, SCI and FACS field stays 0. */
	put_le(t, FADT_FLAGS, 4, FADT_HW_REDUCED_ACPI);
	t[FADT_MINOR_VERSION] = FADT_MINOR;
	/* Only the 64-bit pointer: with X_DSDT set, DSDT is ignored. */
	put_le(t, FADT_X_DSDT, 8, ACPI_TABLES_BASE + DSDT_OFF);
	memcpy(t + FADT_HYPERVISOR_ID, HYPERVISOR_ID, 8);
	sdt_checksum(t);
}

/*
 * No interrupt source overrides: KVM's default routing sends ISA IRQ n to
 * IOAPIC pin n, which is what an ACPI OS assumes for IRQs 0-15 without
 * one, with the ISA default of edge and active-high.
 */
static void madt_write(uint8_t *t, unsigned int ncpus)
{
	size_t off = 44;

	sdt_header(t, "APIC", MADT_LEN(ncpus), MADT_REVISION);
	put_le(t, 36, 4, MADT_LAPIC_ADDR);
	/* The legacy PICs exist too: KVM's in-kernel irqchip has them. */
	put_le(t, 40, 4, MADT_PCAT_COMPAT);
	for (unsigned int i = 0; i < ncpus; i++, off += 8) {
		t[off] = MADT_TYPE_LAPIC;
		t[off + 1] = 8;
		t[off + 2] = (uint8_t)i; /* processor UID */
		t[off + 3] = (uint8_t)i; /* APIC id: KVM's is the vCPU index */
		put_le(t, off + 4, 4, 1);	 /* enabled */
	}
	t[off] = MADT_TYPE_IOAPIC;
	t[off + 1] = 12;
	t[off + 2] = 0; /* IOAPIC id: what KVM's IOAPIC reports after reset */
	put_le(t, off + 4, 4, IOAPIC_ADDR);
	put_le(t, off + 8, 4, 0); /* its pins are GSIs 0-23 */
	sdt_checksum(t);
}

static void xsdt_write(uint8_t *t)
{
	sdt_header(t, "XSDT", XSDT_LEN, 1);
	put_le(t, 36, 8, ACPI_TABLES_BASE + FADT_OFF);
	put_le(t, 44, 8, ACPI_TABLES_BASE + MADT_OFF);
	sdt_checksum(t);
}

/* Revision 2: Linux takes the XSDT, so there is no RSDT (address 0). */
static void rsdp_write(uint8_t *t)
{
	memcpy(t, "RSD PTR ", 8);
	memcpy(t + 9, OEM_ID, 6);
	t[15] = 2;
	put_le(t, 20, 4, RSDP_LEN);
	put_le(t, 24, 8, ACPI_TABLES_BASE + XSDT_OFF);
	t[8] = (uint8_t)-sum(t, 20);
	t[32] = (uint8_t)-sum(t, RSDP_LEN);
}

int acpi_write_tables(struct memory *mem, unsigned int ncpus,
		      const struct acpi_device *devs, size_t n_devs,
		      GError **error)
{
	g_autofree uint8_t *region = NULL;
	int r;

	if (!ncpus || ncpus > ACPI_MAX_CPUS)
		return error_setf(error, EINVAL,
				  "ACPI MADT describes 1 to %u vCPUs (xAPIC "
				  "ids 0-%u), not %u",
				  ACPI_MAX_CPUS, ACPI_MAX_CPUS - 1, ncpus);
	for (size_t i = 0; i < n_devs; i++) {
		r = device_check(i, &devs[i], error);
		if (r < 0)
			return r;
	}
	region = g_malloc0(ACPI_TABLES_SIZE);
	r = dsdt_write(region + DSDT_OFF, devs, n_devs, error);
	if (r < 0)
		return r;
	fadt_write(region + FADT_OFF);
	madt_write(region + MADT_OFF, ncpus);
	xsdt_write(region + XSDT_OFF);
	rsdp_write(region + RSDP_OFF);
	if (memory_write(mem, ACPI_TABLES_BASE, region, ACPI_TABLES_SIZE) < 0)
		return error_setf(error, EFAULT,
				  "guest RAM does not cover the ACPI tables at "
				  "0x%llx-0x%llx",
				  ACPI_TABLES_BASE,
				  ACPI_TABLES_BASE + ACPI_TABLES_SIZE - 1);
	return 0;
}
