// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Snapshot and migration records (core/snapshot.c) and their CRC-32C
 * (core/crc32c.c): the checksum against published values and against
 * itself on both code paths, and a record read back from a stream after
 * every single-bit flip and every cut, each refused with its message.
 * A whole snapshot of a running guest gets the same treatment in the
 * control suite (snapshot_corruption_refused).
 */
#include <errno.h>
#include <unistd.h>

#include "check-tap.h"
#include "core/crc32c.h"
#include "core/snapshot.h"

#define HDR 16u
#define WHAT "unix:/run/mig.sock"
#define AT 100u /* where the record is said to start in the stream */

/* Bit by bit, as the polynomial is defined: the reference. */
static uint32_t crc_bitwise(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

START_TEST(test_crc32c_known_values)
{
	uint8_t b[32];

	/* The check value of the CRC catalogues, and RFC 3720's B.4. */
	ck_assert_uint_eq(crc32c(0, "123456789", 9), 0xe3069283);
	ck_assert_uint_eq(crc32c_sw(0, "123456789", 9), 0xe3069283);
	ck_assert_uint_eq(crc32c(0, NULL, 0), 0);
	memset(b, 0, sizeof(b));
	ck_assert_uint_eq(crc32c(0, b, 32), 0x8a9136aa);
	memset(b, 0xff, sizeof(b));
	ck_assert_uint_eq(crc32c(0, b, 32), 0x62a8ab43);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	ck_assert_uint_eq(crc32c(0, b, 32), 0x46dd794e);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	ck_assert_uint_eq(crc32c(0, b, 32), 0x113fdb5c);
}
END_TEST

/*
 * Every length class of the fast path (three lanes of 8 KiB, of 256
 * bytes, 8-byte words, single bytes), at every alignment, continued from
 * a split point: the same as the tables and as the reference.
 */
START_TEST(test_crc32c_instruction_matches_tables)
{
	const size_t size = 100000;
	g_autofree uint8_t *b = g_malloc(size);
	GRand *rand = g_rand_new_with_seed(7);

	for (size_t i = 0; i < size; i++)
		b[i] = (uint8_t)g_rand_int(rand);
	for (int it = 0; it < 2000; it++) {
		size_t off = (size_t)g_rand_int_range(rand, 0, 16);
		size_t len = it < 1000 ? (size_t)it * 97 % 80000
				       : (size_t)g_rand_int_range(
						 rand, 0, (gint32)(size - off));
		size_t cut =
			len ? (size_t)g_rand_int_range(rand, 0, (gint32)len)
			    : 0;
		uint32_t seed = g_rand_int(rand);
		uint32_t fast = crc32c(seed, b + off, len);

		ck_assert_uint_eq(fast, crc32c_sw(seed, b + off, len));
		ck_assert_uint_eq(fast, crc32c(crc32c(seed, b + off, cut),
					       b + off + cut, len - cut));
		if (it % 50 == 0)
			ck_assert_uint_eq(fast,
					  crc_bitwise(seed, b + off, len));
	}
	g_rand_free(rand);
}
END_TEST

/* The bytes stream_write_record() sends for one record. */
static GByteArray *record_bytes(uint8_t type, const void *p, size_t n)
{
	GByteArray *out = g_byte_array_new();
	struct snap_writer w = { .what = WHAT };
	uint8_t buf[4096];
	int fds[2];
	ssize_t got;

	ck_assert_int_eq(pipe(fds), 0);
	w.fd = fds[1];
	ck_assert_int_eq(stream_write_record(&w, type, p, n, NULL, 0, NULL),
			 0);
	ck_assert_uint_eq(w.bytes, HDR + n);
	close(fds[1]);
	while ((got = read(fds[0], buf, sizeof(buf))) > 0)
		g_byte_array_append(out, buf, (guint)got);
	close(fds[0]);
	return out;
}

/* The first `len` bytes of `b` as a stream that then ends, read back. */
static int read_back(const uint8_t *b, size_t len, struct snap_record *rec,
		     GByteArray *buf, GError **error)
{
	size_t off = AT;
	int fds[2], r;

	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(write(fds[1], b, len), (ssize_t)len);
	close(fds[1]);
	r = stream_read_record(fds[0], NULL, WHAT, SNAPSHOT_FORMAT, &off, buf, rec, error);
	close(fds[0]);
	ck_assert_uint_eq(off, r < 0 ? AT : AT + len);
	return r;
}

static const char payload[] = "{\"accepted\": true, \"verdict\": \"fine\"}";
#define PLEN (sizeof(payload) - 1)

START_TEST(test_record_written_and_read_back)
{
	g_autoptr(GByteArray) b = record_bytes(SNAP_VERDICT, payload, PLEN);
	g_autoptr(GByteArray) buf = g_byte_array_new();
	struct snap_record rec;

	ck_assert_uint_eq(b->len, HDR + PLEN);
	ck_assert_uint_eq(b->data[0], SNAP_VERDICT);
	ck_assert(!b->data[1] && !b->data[2] && !b->data[3]);
	ck_assert_uint_eq(le_get(b->data, 4, 4), PLEN);
	ck_assert_uint_eq(le_get(b->data, 8, 4), crc32c(0, payload, PLEN));
	ck_assert_uint_eq(le_get(b->data, 12, 4), crc32c(0, b->data, 12));
	ck_assert_int_eq(read_back(b->data, b->len, &rec, buf, NULL), 0);
	ck_assert_uint_eq(rec.type, SNAP_VERDICT);
	ck_assert_uint_eq(rec.at, AT);
	ck_assert_uint_eq(rec.data_at, AT + HDR);
	ck_assert_uint_eq(rec.len, PLEN);
	ck_assert_mem_eq(rec.data, payload, PLEN);
}
END_TEST

/* The record names of docs/stream-format.md. */
static const char *name_of(uint8_t type)
{
	static const char *const names[] = {
		"unknown",  "HELLO",	"MANIFEST", "CONFIG", "RAM",
		"RAM_ZERO", "CPU",	"VM",	    "DEVICE", "END",
		"VERDICT",  "COMPLETE", "PAD",	    "COMMIT", "RUNNING",
	};

	return type < G_N_ELEMENTS(names) ? names[type] : "unknown";
}

/* Each of the record's bits flipped in turn: never read as a record. */
START_TEST(test_record_every_bit_flip_refused)
{
	g_autoptr(GByteArray) b = record_bytes(SNAP_VERDICT, payload, PLEN);
	g_autoptr(GByteArray) buf = g_byte_array_new();
	struct snap_record rec;

	for (size_t bit = 0; bit < b->len * 8; bit++) {
		g_autofree uint8_t *m = g_malloc(b->len);
		g_autofree char *want = NULL;
		g_autoptr(GError) err = NULL;
		size_t at = bit / 8;

		memcpy(m, b->data, b->len);
		m[at] ^= (uint8_t)(1u << (bit % 8));
		if (at < HDR)
			want = g_strdup_printf(
				WHAT ": offset %u: record header (as read: "
				     "%s, %u bytes) has checksum 0x%08x, but "
				     "carries 0x%08x (corrupt or altered)",
				AT, name_of(m[0]), (unsigned)le_get(m, 4, 4),
				crc32c(0, m, 12), (unsigned)le_get(m, 12, 4));
		else
			want = g_strdup_printf(
				WHAT ": offset %u: VERDICT record of %zu bytes "
				     "has checksum 0x%08x, but its header "
				     "carries 0x%08x (corrupt or altered)",
				AT, PLEN, crc32c(0, m + HDR, PLEN),
				(unsigned)le_get(m, 8, 4));
		ck_assert_int_eq(read_back(m, b->len, &rec, buf, &err),
				 -EBADMSG);
		ck_assert_error(err, want);
	}
}
END_TEST

/* The stream ending anywhere inside the record. */
START_TEST(test_record_cut_anywhere_refused)
{
	g_autoptr(GByteArray) b = record_bytes(SNAP_VERDICT, payload, PLEN);
	g_autoptr(GByteArray) buf = g_byte_array_new();
	struct snap_record rec;

	for (size_t cut = 0; cut < b->len; cut++) {
		g_autoptr(GError) err = NULL;

		ck_assert_int_eq(read_back(b->data, cut, &rec, buf, &err),
				 -EPIPE);
		if (cut < HDR)
			ck_assert_error(err, WHAT ": offset 100: the stream "
						  "ended before a record "
						  "header");
		else
			ck_assert_error(err, WHAT ": offset 100: the stream "
						  "ended inside a VERDICT "
						  "record of 37 bytes");
	}
}
END_TEST

/* A header whose checksums are right but whose fields are not. */
START_TEST(test_record_bad_fields_refused)
{
	static const struct {
		uint8_t type, zero;
		uint32_t len;
		int errnum;
		const char *msg;
	} rows[] = {
		{ 0, 0, 0, EINVAL,
		  WHAT ": offset 100: not a record header (type 0)" },
		{ SNAP_PAD, 0, 0, EINVAL,
		  WHAT ": offset 100: not a record header (type 12)" },
		{ 15, 0, 0, EINVAL,
		  WHAT ": offset 100: not a record header (type 15)" },
		{ SNAP_END, 1, 0, EINVAL,
		  WHAT ": offset 100: not a record header (type 9)" },
		{ SNAP_RAM, 0, (64u << 20) + 1, EFBIG,
		  WHAT ": offset 100: RAM record of 67108865 bytes, more "
		       "than 67108864" },
	};
	g_autoptr(GByteArray) buf = g_byte_array_new();
	struct snap_record rec;

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autoptr(GError) err = NULL;
		uint8_t h[HDR] = { rows[i].type, 0, rows[i].zero };
		uint32_t v = GUINT32_TO_LE(rows[i].len);

		memcpy(h + 4, &v, 4);
		v = GUINT32_TO_LE(crc32c(0, h, 12));
		memcpy(h + 12, &v, 4);
		ck_assert_int_eq(read_back(h, HDR, &rec, buf, &err),
				 -rows[i].errnum);
		ck_assert_error(err, rows[i].msg);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("snapshot-records");
	TCase *tc = tcase_create("snapshot-records");

	tcase_add_test(tc, test_crc32c_known_values);
	tcase_add_test(tc, test_crc32c_instruction_matches_tables);
	tcase_add_test(tc, test_record_written_and_read_back);
	tcase_add_test(tc, test_record_every_bit_flip_refused);
	tcase_add_test(tc, test_record_cut_anywhere_refused);
	tcase_add_test(tc, test_record_bad_fields_refused);
	suite_add_tcase(s, tc);
	return check_run(s);
}
