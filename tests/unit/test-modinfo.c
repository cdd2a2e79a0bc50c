// SPDX-License-Identifier: LGPL-2.1-or-later
/* core/modinfo.c: the metadata parser, as hostile input. */
#include <errno.h>

#include "check-tap.h"
#include "../../core/modinfo.h"

#define OK "name=m\0version=1.0\0abi=1.0\0"

static const struct {
	const char *name;
	const char *data;
	size_t len;
	const char *error; /* NULL: accepted */
} cases[] = {
#define ROW(n, d, e)                                                           \
	{                                                                      \
		n, d, sizeof(d) - 1, e                                         \
	}
	ROW("minimal", OK, NULL),
	ROW("padding between entries", "\0\0name=m\0\0version=1\0\0abi=1.0\0\0",
	    NULL),
	ROW("unknown key kept", OK "future_key=x\0", NULL),
	ROW("empty", "", "x.so: .modvmm_modinfo has no name= entry"),
	ROW("no name", "version=1\0abi=1.0\0",
	    "x.so: .modvmm_modinfo has no name= entry"),
	ROW("no version", "name=m\0abi=1.0\0",
	    "x.so: .modvmm_modinfo has no version= entry"),
	ROW("no abi", "name=m\0version=1\0",
	    "x.so: .modvmm_modinfo has no abi= entry"),
	ROW("not terminated", "name=m\0version=1",
	    "x.so: corrupt .modvmm_modinfo: entry at offset 7 is not "
	    "NUL-terminated"),
	ROW("no equals", "name=m\0garbage\0",
	    "x.so: .modvmm_modinfo entry at offset 7 is not key=value: "
	    "\"garbage\""),
	ROW("empty key", "=v\0",
	    "x.so: .modvmm_modinfo entry at offset 0 is "
	    "not key=value: \"=v\""),
	ROW("upper-case key", "Name=m\0",
	    "x.so: .modvmm_modinfo entry at offset 0 is not key=value: "
	    "\"Name=m\""),
	ROW("control character", "name=m\0description=a\tb\0",
	    "x.so: .modvmm_modinfo entry at offset 7 is not key=value: "
	    "\"description=a\tb\""),
	ROW("second name", "name=m\0name=n\0",
	    "x.so: .modvmm_modinfo has a second name= entry at offset 7"),
	ROW("bad module name", "name=Bad\0version=1\0abi=1.0\0",
	    "x.so: name=Bad is not a valid module name (1-63 of a-z 0-9 - _)"),
	ROW("bad abi", "name=m\0version=1\0abi=1\0",
	    "x.so: abi=1 is not MAJOR.MINOR"),
	ROW("bad intree", OK "intree=N\0",
	    "x.so: intree=N: the only value is Y"),
	ROW("device twice", OK "device=d\0device=d\0",
	    "x.so: device=d is listed twice"),
	ROW("bad device name", OK "device=a b\0",
	    "x.so: device=a b is not a valid device type name (1-63 of a-z 0-9 "
	    "- _)"),
	ROW("known bad version", OK "known_bad=0.9: counters saved twice\0",
	    NULL),
	ROW("known bad without a reason", OK "known_bad=0.9\0",
	    "x.so: known_bad=0.9 is not \"VERSION: reason\""),
	ROW("known bad without a version", OK "known_bad=: reason\0",
	    "x.so: known_bad=: reason is not \"VERSION: reason\""),
	ROW("known bad with an empty reason", OK "known_bad=0.9: \0",
	    "x.so: known_bad=0.9:  is not \"VERSION: reason\""),
	ROW("known bad version with a space", OK "known_bad=0 9: r\0",
	    "x.so: known_bad=0 9: r is not \"VERSION: reason\""),
#undef ROW
};

START_TEST(test_modinfo_parse_table)
{
	struct modinfo *mi = NULL;
	GError *err = NULL;
	int r = modinfo_parse("dir/x.so", cases[_i].data, cases[_i].len, &mi,
			      &err);

	if (!cases[_i].error) {
		ck_assert_msg(r == 0, "%s: %s", cases[_i].name,
			      err ? err->message : "?");
		ck_assert_str_eq(mi->name, "m");
		ck_assert_str_eq(mi->file, "x.so");
		modinfo_free(mi);
		return;
	}
	ck_assert_msg(r < 0, "%s: accepted", cases[_i].name);
	ck_assert_ptr_null(mi);
	ck_assert_error(err, cases[_i].error);
	g_error_free(err);
}
END_TEST

START_TEST(test_modinfo_fields_and_devices)
{
	static const char data[] =
		"name=uart\0version=2.1\0abi=1.3\0license=MIT\0"
		"device=a\0device=b\0intree=Y\0";
	struct modinfo *mi = NULL;

	ck_assert_int_eq(
		modinfo_parse("uart.so", data, sizeof(data) - 1, &mi, NULL), 0);
	ck_assert_str_eq(mi->version, "2.1");
	ck_assert_uint_eq(mi->abi_major, 1);
	ck_assert_uint_eq(mi->abi_minor, 3);
	ck_assert_str_eq(mi->license, "MIT");
	ck_assert_uint_eq(mi->devices->len, 2);
	ck_assert_str_eq(mi->devices->pdata[1], "b");
	ck_assert_int_eq(mi->intree, 1);
	ck_assert_uint_eq(mi->keys->len, 7);
	ck_assert_uint_eq(mi->known_bad->len, 0);
	modinfo_free(mi);
}
END_TEST

START_TEST(test_modinfo_oversized_refused)
{
	gsize len = MODINFO_MAX_SIZE + 1;
	g_autofree char *big = g_malloc0(len);
	GError *err = NULL;
	struct modinfo *mi = NULL;

	ck_assert_int_eq(modinfo_parse("x.so", big, len, &mi, &err), -EFBIG);
	ck_assert_error(err, "x.so: .modvmm_modinfo is 65537 bytes, more than "
			     "the limit of 65536");
	g_error_free(err);
}
END_TEST

/* What goes into a migration manifest stays within what hosts read. */
START_TEST(test_modinfo_manifest_bounds)
{
	static const struct {
		const char *entry; /* %s: MODINFO_MAX_VALUE + 1 bytes */
		int repeat;
		const char *error;
	} rows[] = {
		{ "version=%s", 1,
		  "x.so: version=vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv... is "
		  "longer than 256 bytes" },
		{ "known_bad=1.0: %s", 1,
		  "x.so: known_bad=1.0: vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv...: "
		  "version and reason may have 256 bytes each" },
		{ "known_bad=%s: reason", 1,
		  "x.so: known_bad=vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv...: "
		  "version and reason may have 256 bytes each" },
		{ "known_bad=1.0: reason", MODINFO_MAX_KNOWN_BAD + 1,
		  "x.so: more than 64 known_bad= entries" },
	};
	g_autofree char *longer = g_strnfill(MODINFO_MAX_VALUE + 1, 'v');

	for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
		g_autoptr(GString) data = g_string_new(NULL);
		g_auto(GStrv) parts = g_strsplit(rows[i].entry, "%s", 2);
		g_autofree char *entry = g_strjoinv(longer, parts);
		struct modinfo *mi = NULL;
		GError *err = NULL;

		g_string_append_len(data, "name=m\0abi=1.0\0", 15);
		if (strncmp(entry, "version=", 8))
			g_string_append_len(data, "version=1\0", 10);
		for (int k = 0; k < rows[i].repeat; k++)
			g_string_append_len(data, entry, strlen(entry) + 1);
		ck_assert_int_eq(modinfo_parse("x.so", data->str, data->len,
					       &mi, &err),
				 -EINVAL);
		ck_assert_error(err, rows[i].error);
		g_error_free(err);
	}
}
END_TEST

/* Every prefix of a valid section: a clean answer, never a crash. */
START_TEST(test_modinfo_every_truncation_clean)
{
	static const char data[] = "name=m\0version=1.0\0abi=1.0\0device=d\0";
	/* The shortest prefix holding the three required entries. */
	const size_t required = sizeof("name=m\0version=1.0\0abi=1.0");

	for (size_t n = 0; n <= sizeof(data) - 1; n++) {
		g_autofree char *copy = g_memdup2(data, n);
		struct modinfo *mi = NULL;
		GError *err = NULL;
		int r = modinfo_parse("x.so", copy, n, &mi, &err);

		ck_assert_msg((r == 0) == (mi != NULL) &&
				      (r < 0) == (err != NULL),
			      "prefix %zu: inconsistent result", n);
		/* Accepted only where every entry is whole and the three
		 * required ones are present. */
		ck_assert_msg((r == 0) ==
				      (n == required || n == sizeof(data) - 1),
			      "prefix %zu: r=%d", n, r);
		modinfo_free(mi);
		g_clear_error(&err);
	}
}
END_TEST

START_TEST(test_modinfo_read_real_module)
{
	g_autofree char *dir = g_strdup(g_getenv("MODULE_DIR"));
	g_autofree char *path = g_build_filename(dir, "debug-exit.so", NULL);
	struct modinfo *mi = NULL;

	ck_assert_int_eq(modinfo_read(path, &mi, NULL), 0);
	ck_assert_str_eq(mi->name, "debug-exit");
	ck_assert_str_eq(mi->abi, MODVMM_ABI_STRING);
	ck_assert_int_eq(mi->has_entry, 1);
	ck_assert_int_eq(mi->intree, 1);
	ck_assert_uint_eq(mi->devices->len, 1);
	modinfo_free(mi);
}
END_TEST

START_TEST(test_modinfo_read_no_entry_detected)
{
	g_autofree char *path = fixture_path("fx-no-entry.so");
	struct modinfo *mi = NULL;

	ck_assert_int_eq(modinfo_read(path, &mi, NULL), 0);
	ck_assert_int_eq(mi->has_entry, 0);
	modinfo_free(mi);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("modinfo");
	TCase *tc = tcase_create("modinfo");

	tcase_add_loop_test(tc, test_modinfo_parse_table, 0,
			    G_N_ELEMENTS(cases));
	tcase_add_test(tc, test_modinfo_fields_and_devices);
	tcase_add_test(tc, test_modinfo_oversized_refused);
	tcase_add_test(tc, test_modinfo_manifest_bounds);
	tcase_add_test(tc, test_modinfo_every_truncation_clean);
	tcase_add_test(tc, test_modinfo_read_real_module);
	tcase_add_test(tc, test_modinfo_read_no_entry_detected);
	suite_add_tcase(s, tc);
	return check_run(s);
}
