// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The bounded JSON reader (base/json-read.c): each getter refuses what is
 * missing, of the wrong type, out of range, too long, holding a control
 * character or not UTF-8, with a message naming the member by its path;
 * the text is refused before parsing when too deep or not JSON.
 */
#include <errno.h>

#include "base/error.h"
#include "base/json-read.h"
#include "check-tap.h"

enum getter {
	GET_U32,
	GET_INT, /* -5..5 */
	GET_U64, /* at most 1000 */
	GET_BOOL,
	GET_FLAG,
	GET_STRING,  /* 1..4 bytes */
	GET_VALUE,   /* 0..4 bytes */
	GET_ARRAY,   /* at most 2 entries */
	GET_STRINGS, /* at most 2 strings of at most 3 bytes */
	GET_OBJECT,
	GET_ELEMENT, /* the member "k" is an array; its element 1 */
};

static const struct row {
	enum getter get;
	const char *doc;
	const char *msg; /* NULL: accepted */
} rows[] = {
	{ GET_U32, "{\"k\":7}", NULL },
	{ GET_U32, "{}", "t: a[1].k: missing" },
	{ GET_U32, "{\"k\":\"7\"}", "t: a[1].k: expected an integer" },
	{ GET_U32, "{\"k\":1.5}", "t: a[1].k: expected an integer" },
	{ GET_U32, "{\"k\":-1}", "t: a[1].k: -1 is out of range" },
	{ GET_U32, "{\"k\":4294967296}",
	  "t: a[1].k: 4294967296 is out of range" },
	{ GET_INT, "{\"k\":-5}", NULL },
	{ GET_INT, "{\"k\":6}", "t: a[1].k: 6 is out of range" },
	{ GET_INT, "{\"k\":null}", "t: a[1].k: expected an integer" },
	{ GET_U64, "{\"k\":1000}", NULL },
	{ GET_U64, "{\"k\":1001}", "t: a[1].k: 1001 is out of range" },
	{ GET_U64, "{\"k\":true}", "t: a[1].k: expected an integer" },
	{ GET_BOOL, "{\"k\":false}", NULL },
	{ GET_BOOL, "{}", "t: a[1].k: missing" },
	{ GET_BOOL, "{\"k\":1}", "t: a[1].k: expected true or false" },
	{ GET_FLAG, "{}", NULL },
	{ GET_FLAG, "{\"k\":\"yes\"}", "t: a[1].k: expected true or false" },
	{ GET_STRING, "{\"k\":\"abcd\"}", NULL },
	{ GET_STRING, "{}", "t: a[1].k: missing" },
	{ GET_STRING, "{\"k\":[]}", "t: a[1].k: expected a string" },
	{ GET_STRING, "{\"k\":\"\"}", "t: a[1].k: empty" },
	{ GET_STRING, "{\"k\":\"abcde\"}", "t: a[1].k: longer than 4 bytes" },
	{ GET_STRING, "{\"k\":\"a\\tb\"}",
	  "t: a[1].k: control character at byte 1" },
	{ GET_STRING, "{\"k\":\"a\\u007f\"}",
	  "t: a[1].k: control character at byte 1" },
	/* json-glib keeps a lone surrogate as bytes that are not UTF-8. */
	{ GET_STRING, "{\"k\":\"a\\ud800b\"}",
	  "t: a[1].k: not UTF-8 at byte 1" },
	{ GET_VALUE, "{\"k\":\"\"}", NULL },
	{ GET_VALUE, "{\"k\":\"abcde\"}", "t: a[1].k: longer than 4 bytes" },
	{ GET_ARRAY, "{}", NULL },
	{ GET_ARRAY, "{\"k\":null}", NULL },
	{ GET_ARRAY, "{\"k\":[1,2]}", NULL },
	{ GET_ARRAY, "{\"k\":{}}", "t: a[1].k: expected an array" },
	{ GET_ARRAY, "{\"k\":[1,2,3]}", "t: a[1].k: 3 entries, at most 2" },
	{ GET_STRINGS, "{\"k\":[\"abc\",\"\"]}", NULL },
	{ GET_STRINGS, "{\"k\":[\"abc\",\"abcd\"]}",
	  "t: a[1].k[1]: expected a UTF-8 string of at most 3 bytes" },
	{ GET_STRINGS, "{\"k\":[1]}",
	  "t: a[1].k[0]: expected a UTF-8 string of at most 3 bytes" },
	{ GET_STRINGS, "{\"k\":[\"\\udc00x\"]}",
	  "t: a[1].k[0]: expected a UTF-8 string of at most 3 bytes" },
	{ GET_STRINGS, "{\"k\":[\"a\",\"b\",\"c\"]}",
	  "t: a[1].k: 3 entries, at most 2" },
	{ GET_OBJECT, "{\"k\":null}", NULL },
	{ GET_OBJECT, "{\"k\":{}}", NULL },
	{ GET_OBJECT, "{\"k\":[]}", "t: a[1].k: expected an object or null" },
	{ GET_ELEMENT, "{\"k\":[{},{}]}", NULL },
	{ GET_ELEMENT, "{\"k\":[{},7]}", "t: a[1].k[1]: expected an object" },
};

/* Runs the row's getter on member "k" of the document's root. */
static int get(const struct row *row, struct json_read *rd, JsonObject *o)
{
	const char *s;
	GPtrArray *strings = NULL;
	JsonObject *obj;
	JsonArray *a;
	uint64_t u64;
	uint32_t u32;
	int64_t i64;
	int b, r = -ENOSYS;

	switch (row->get) {
	case GET_U32:
		return json_read_u32(rd, o, "a[1]", "k", &u32);
	case GET_INT:
		return json_read_int(rd, o, "a[1]", "k", -5, 5, &i64);
	case GET_U64:
		return json_read_u64(rd, o, "a[1]", "k", 1000, &u64);
	case GET_BOOL:
		return json_read_bool(rd, o, "a[1]", "k", &b);
	case GET_FLAG:
		return json_read_flag(rd, o, "a[1]", "k", &b);
	case GET_STRING:
		return json_read_string(rd, o, "a[1]", "k", 4, 0, &s);
	case GET_VALUE:
		return json_read_string(rd, o, "a[1]", "k", 4,
					JSON_READ_EMPTY_OK, &s);
	case GET_ARRAY:
		return json_read_array(rd, o, "a[1]", "k", 2, &a);
	case GET_STRINGS:
		r = json_read_strings(rd, o, "a[1]", "k", 2, 3, &strings);
		ck_assert(r < 0 ? !strings : !!strings);
		if (strings)
			g_ptr_array_unref(strings);
		return r;
	case GET_OBJECT:
		return json_read_object(rd, o, "a[1]", "k", &obj);
	case GET_ELEMENT: {
		g_autofree char *p = json_read_index("a[1]", "k", 1);

		r = json_read_array(rd, o, "a[1]", "k", 2, &a);
		return r < 0 ? r : json_read_element(rd, a, 1, p, &obj);
	}
	}
	return r;
}

START_TEST(test_json_read_getters)
{
	const struct row *row = &rows[_i];
	g_autoptr(JsonParser) p = json_parser_new_immutable();
	g_autoptr(GError) err = NULL;
	struct json_read rd = { .what = "t", .error = &err };
	JsonObject *o;
	int r;

	ck_assert_int_eq(
		json_read_parse(p, row->doc, strlen(row->doc), 4, NULL), 0);
	o = json_read_root_object(p);
	ck_assert_ptr_nonnull(o);
	r = get(row, &rd, o);
	if (!row->msg) {
		ck_assert_msg(r == 0, "%s: %s", row->doc,
			      err ? err->message : "?");
		return;
	}
	ck_assert_int_eq(r, -EINVAL);
	ck_assert_error(err, row->msg);
	ck_assert_int_eq(err->code, EINVAL);
}
END_TEST

/* A string is copied into the chunk when there is one. */
START_TEST(test_json_read_strings_kept)
{
	g_autoptr(JsonParser) p = json_parser_new_immutable();
	GStringChunk *chunk = g_string_chunk_new(64);
	struct json_read rd = { .what = "t", .strings = chunk };
	const char *s = NULL;

	ck_assert_int_eq(json_read_parse(p, "{\"k\":\"ab\"}", 10, 4, NULL), 0);
	ck_assert_int_eq(json_read_string(&rd, json_read_root_object(p), "",
					  "k", 4, 0, &s),
			 0);
	g_clear_object(&p);
	ck_assert_str_eq(s, "ab");
	g_string_chunk_free(chunk);
}
END_TEST

/* The text: refused before it is parsed, and the message says why. */
static const struct text_row {
	const char *doc;
	int r;
	const char *msg;
} text_rows[] = {
	{ "[[[[1]]]]", 0, NULL },
	{ "[[[[[1]]]]]", -EINVAL, "nested deeper than 4 levels" },
	{ "{\"k\":\"a\\u0000\"}", -EINVAL,
	  "a string holds \\u0000 at offset 7" },
	{ "{'k':1}", -EBADMSG, "unexpected byte 0x27 at offset 1" },
	{ "{\"k\":1} {}", -EBADMSG, "unexpected byte 0x7b at offset 8" },
	{ "{\"k\":}", -EBADMSG, NULL /* json-glib's own words */ },
};

START_TEST(test_json_read_text)
{
	const struct text_row *row = &text_rows[_i];
	g_autoptr(JsonParser) p = json_parser_new_immutable();
	g_autoptr(GError) err = NULL;

	ck_assert_int_eq(
		json_read_parse(p, row->doc, strlen(row->doc), 4, &err),
		row->r);
	if (row->msg)
		ck_assert_error(err, row->msg);
	else if (row->r)
		ck_assert_ptr_nonnull(err);
}
END_TEST

/* No text at all (an empty record): parsed, with no root to read. */
START_TEST(test_json_read_empty)
{
	g_autoptr(JsonParser) p = json_parser_new_immutable();

	ck_assert_int_eq(json_read_parse(p, NULL, 0, 4, NULL), 0);
	ck_assert_ptr_null(json_read_root_object(p));
}
END_TEST

START_TEST(test_json_read_paths)
{
	g_autofree char *top = json_read_index("", "devices", 2);
	g_autofree char *in = json_read_index("devices[2]", "layouts", 0);
	g_autoptr(GError) err = NULL;
	struct json_read rd = { .what = "manifest", .error = &err };

	ck_assert_str_eq(top, "devices[2]");
	ck_assert_str_eq(in, "devices[2].layouts[0]");
	ck_assert_int_eq(json_read_fail(&rd, "devices[2].vms", "version",
					"expected an integer"),
			 -EINVAL);
	ck_assert_error(
		err, "manifest: devices[2].vms.version: expected an integer");
	g_clear_error(&err);
	json_read_fail(&rd, "", "abi", "missing");
	ck_assert_error(err, "manifest: abi: missing");
}
END_TEST

START_TEST(test_json_read_utf8)
{
	g_autoptr(JsonParser) p = json_parser_new_immutable();
	const char *bad = "{\"a\":[{\"\\ud800x\":1}]}";

	ck_assert_int_eq(json_read_parse(p, "{\"a\":[\"b\"]}", 11, 4, NULL), 0);
	ck_assert(json_read_all_utf8(json_parser_get_root(p)));
	ck_assert_int_eq(json_read_parse(p, bad, strlen(bad), 4, NULL), 0);
	ck_assert(!json_read_all_utf8(json_parser_get_root(p)));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("json-read");
	TCase *tc = tcase_create("json-read");

	tcase_add_loop_test(tc, test_json_read_getters, 0, G_N_ELEMENTS(rows));
	tcase_add_test(tc, test_json_read_strings_kept);
	tcase_add_loop_test(tc, test_json_read_text, 0,
			    G_N_ELEMENTS(text_rows));
	tcase_add_test(tc, test_json_read_empty);
	tcase_add_test(tc, test_json_read_paths);
	tcase_add_test(tc, test_json_read_utf8);
	suite_add_tcase(s, tc);
	return check_run(s);
}
