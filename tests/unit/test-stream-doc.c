// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * docs/stream-format.md's worked examples, checked byte for byte against
 * what modvmm writes, and loaded back: a device's section, and a
 * snapshot record with its checksums.
 */
#include <unistd.h>

#include "check-tap.h"
#include "core/crc32c.h"
#include "core/snapshot.h"
#include "core/vmstate.h"

/* The example's description, exactly as the document states it. */
struct fifo {
	uint8_t count;
	uint8_t data[4];
};

struct uart {
	uint8_t lcr;
	uint16_t divisor;
	struct fifo rx;
	uint8_t dma_on;
	uint32_t dma_addr;
};

static const struct modvmm_vmstate_field fifo_fields[] = {
	MODVMM_VMS_FIELD(U8, struct fifo, count, 1),
	MODVMM_VMS_VARRAY_FIELD(U8, struct fifo, data, "count", 1),
};

static const struct modvmm_vmstate fifo_vms = {
	.size = sizeof(struct modvmm_vmstate),
	.version = 1,
	.min_version = 1,
	.name = "fifo",
	.fields = fifo_fields,
	.n_fields = G_N_ELEMENTS(fifo_fields),
};

static const struct modvmm_vmstate_field dma_fields[] = {
	MODVMM_VMS_FIELD(U32, struct uart, dma_addr, 1),
};

static const struct modvmm_vmstate dma_vms = {
	.size = sizeof(struct modvmm_vmstate),
	.version = 1,
	.min_version = 1,
	.name = "ex-uart/dma",
	.fields = dma_fields,
	.n_fields = 1,
};

static int32_t dma_needed(const void *state)
{
	return ((const struct uart *)state)->dma_on;
}

static const struct modvmm_vmstate_subsection uart_subs[] = {
	{ .size = sizeof(struct modvmm_vmstate_subsection),
	  .flags = MODVMM_VMS_OPTIONAL,
	  .vms = &dma_vms,
	  .needed = dma_needed },
};

static const struct modvmm_vmstate_field uart_fields[] = {
	MODVMM_VMS_FIELD(U8, struct uart, lcr, 1),
	MODVMM_VMS_FIELD(U16, struct uart, divisor, 2),
	MODVMM_VMS_STRUCT_FIELD(struct uart, rx, &fifo_vms, 1),
};

static const struct modvmm_vmstate uart_vms = {
	.size = sizeof(struct modvmm_vmstate),
	.version = 2,
	.min_version = 1,
	.min_save_version = 1,
	.name = "ex-uart",
	.fields = uart_fields,
	.n_fields = G_N_ELEMENTS(uart_fields),
	.subsections = uart_subs,
	.n_subsections = 1,
};

/* The hex block fenced as `fence` (hex-example, hex-record) in the
 * document. */
static GByteArray *doc_block(const char *fence)
{
	g_autofree char *path = g_build_filename(
		g_getenv("SOURCE_ROOT"), "docs", "stream-format.md", NULL);
	g_autofree char *text = NULL;
	g_autofree char *open = g_strconcat("```", fence, NULL);
	g_auto(GStrv) lines = NULL;
	GByteArray *bytes = g_byte_array_new();
	int in = 0;

	ck_assert_msg(g_file_get_contents(path, &text, NULL, NULL),
		      "cannot read %s", path);
	lines = g_strsplit(text, "\n", -1);
	for (char **l = lines; *l; l++) {
		if (!strcmp(*l, open)) {
			in = 1;
			continue;
		}
		if (in && !strcmp(*l, "```"))
			break;
		if (!in)
			continue;
		g_auto(GStrv) words = g_strsplit(*l, " ", -1);
		for (char **w = words; *w; w++) {
			guint8 b;

			if (!**w)
				continue;
			b = (guint8)g_ascii_strtoull(*w, NULL, 16);
			g_byte_array_append(bytes, &b, 1);
		}
	}
	ck_assert_msg(in, "no %s block in %s", fence, path);
	return bytes;
}

static GByteArray *doc_bytes(void)
{
	return doc_block("hex-example");
}

static struct state_desc *example(void)
{
	struct state_desc *v = NULL;

	ck_assert_int_eq(vmstate_import("example", &uart_vms,
					sizeof(struct uart), &v, NULL),
			 0);
	return v;
}

START_TEST(test_stream_doc_example_bytes)
{
	struct uart u = { .lcr = 3,
			  .divisor = 12,
			  .rx = { 2, { 'h', 'i' } },
			  .dma_on = 1,
			  .dma_addr = 0x1000 };
	g_autoptr(GByteArray) doc = doc_bytes();
	g_autoptr(GByteArray) out = g_byte_array_new();
	struct state_desc *v = example();

	ck_assert_int_eq(vmstate_save(v, &u, 2, out, NULL), 0);
	ck_assert_uint_eq(doc->len, 68);
	ck_assert_uint_eq(out->len, doc->len);
	ck_assert_mem_eq(out->data, doc->data, doc->len);
	vmstate_free(v);
}
END_TEST

START_TEST(test_stream_doc_example_loads)
{
	g_autoptr(GByteArray) doc = doc_bytes();
	struct uart u = { 0 };
	struct state_desc *v = example();
	size_t used = 0;

	ck_assert_int_eq(vmstate_load(v, &u, doc->data, doc->len, 0, "serial0",
				      &used, NULL),
			 0);
	ck_assert_uint_eq(used, 68);
	ck_assert_uint_eq(u.lcr, 3);
	ck_assert_uint_eq(u.divisor, 12);
	ck_assert_uint_eq(u.rx.count, 2);
	ck_assert_mem_eq(u.rx.data, "hi", 2);
	ck_assert_uint_eq(u.dma_addr, 0x1000);
	vmstate_free(v);
}
END_TEST

/* The document's claims about version 1. */
START_TEST(test_stream_doc_version_1)
{
	struct uart u = { .lcr = 3,
			  .divisor = 12,
			  .rx = { 2, { 'h', 'i' } },
			  .dma_on = 1,
			  .dma_addr = 0x1000 };
	g_autoptr(GByteArray) out = g_byte_array_new();
	static const struct modvmm_vmstate only2 = {
		.size = sizeof(struct modvmm_vmstate),
		.version = 2,
		.min_version = 2,
		.name = "ex-uart",
		.fields = uart_fields,
		.n_fields = G_N_ELEMENTS(uart_fields),
	};
	struct state_desc *v = example(), *v2 = NULL;
	GError *err = NULL;

	ck_assert_int_eq(vmstate_save(v, &u, 1, out, NULL), 0);
	ck_assert_uint_eq(out->len, 66);
	ck_assert_uint_eq(out->data[14], 47);
	ck_assert_int_eq(vmstate_import("example", &only2, sizeof(struct uart),
					&v2, NULL),
			 0);
	ck_assert_int_lt(vmstate_load(v2, &u, out->data, out->len, 0, "serial0",
				      NULL, &err),
			 0);
	ck_assert_error(err, "serial0: ex-uart version 1 is too old: this host "
			     "loads 2..2");
	g_error_free(err);
	vmstate_free(v);
	vmstate_free(v2);
}
END_TEST

/* The document's refusal of a reserved flag bit, on its example. */
START_TEST(test_stream_doc_reserved_flag)
{
	g_autoptr(GByteArray) doc = doc_bytes();
	struct uart u = { 0 }, before;
	struct state_desc *v = example();
	GError *err = NULL;

	memcpy(&before, &u, sizeof(u));
	ck_assert_uint_eq(doc->data[0x29], 0x01);
	doc->data[0x29] = 0x81;
	ck_assert_int_lt(vmstate_load(v, &u, doc->data, doc->len, 0, "serial0",
				      NULL, &err),
			 0);
	ck_assert_error(err, "serial0: ex-uart: section at offset 0x28 has "
			     "flags 0x81: bits other than 0x01 (optional) are "
			     "reserved");
	ck_assert_mem_eq(&u, &before, sizeof(u));
	g_error_free(err);
	vmstate_free(v);
}
END_TEST

/* The RAM_ZERO record of the "Checksums" section: 16 pages at 1 MiB. */
START_TEST(test_stream_doc_record_bytes)
{
	g_autoptr(GByteArray) doc = doc_block("hex-record");
	g_autoptr(GByteArray) buf = g_byte_array_new();
	uint64_t v[2] = { GUINT64_TO_LE(1u << 20), GUINT64_TO_LE(16) };
	struct snap_writer w = { .what = "pipe" };
	struct snap_record rec;
	uint8_t out[64];
	size_t off = 0;
	int fds[2];

	ck_assert_uint_eq(doc->len, 32);
	ck_assert_int_eq(pipe(fds), 0);
	w.fd = fds[1];
	ck_assert_int_eq(stream_write_record(&w, SNAP_RAM_ZERO, v, sizeof(v),
					       NULL, 0, NULL),
			 0);
	ck_assert_uint_eq(w.bytes, 32);
	ck_assert_int_eq(read(fds[0], out, sizeof(out)), 32);
	ck_assert_mem_eq(out, doc->data, 32);
	/* The values the table beside it states. */
	ck_assert_uint_eq(crc32c(0, doc->data + 16, 16), 0x942e6a0b);
	ck_assert_uint_eq(crc32c(0, doc->data, 12), 0x40bbdf43);
	ck_assert_int_eq(write(fds[1], doc->data, doc->len), 32);
	close(fds[1]);
	ck_assert_int_eq(
		stream_read_record(fds[0], NULL, "pipe", SNAPSHOT_FORMAT, &off, buf, &rec, NULL), 0);
	close(fds[0]);
	ck_assert_uint_eq(rec.type, SNAP_RAM_ZERO);
	ck_assert_uint_eq(rec.len, 16);
	ck_assert_uint_eq(le_get(rec.data, 0, 8), 0x100000);
	ck_assert_uint_eq(le_get(rec.data, 8, 8), 16);
	ck_assert_uint_eq(off, 32);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stream-doc");
	TCase *tc = tcase_create("stream-doc");

	tcase_add_test(tc, test_stream_doc_example_bytes);
	tcase_add_test(tc, test_stream_doc_example_loads);
	tcase_add_test(tc, test_stream_doc_version_1);
	tcase_add_test(tc, test_stream_doc_reserved_flag);
	tcase_add_test(tc, test_stream_doc_record_bytes);
	suite_add_tcase(s, tc);
	return check_run(s);
}
