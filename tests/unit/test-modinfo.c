// SPDX-License-Identifier: LGPL-2.1-or-later
/* core/modinfo.c: the metadata parser, as hostile input. */
#include <errno.h>
#include <sys/stat.h>

#include <json-glib/json-glib.h>

#include "check-tap.h"
#include "spawn.h"
#include "core/modinfo.h"

/* run(ENV, ARG..., NULL): the program $ENV with the arguments. */
#define run(env, ...) run_env_argv(env, (const char *const[]){ __VA_ARGS__ })

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

/* modvmm-modinfo: a module's device types, from its loaded descriptor -- */

/* The metadata lines of fx-counter 2.0.0, which --metadata-only prints. */
static char *counter_metadata(const char *path)
{
	return g_strdup_printf(
		"file:        %s\n"
		"name:        fx-counter\n"
		"version:     2.0.0\n"
		"abi:         " MODVMM_ABI_STRING
		" (this host provides " MODVMM_ABI_STRING ": loadable)\n"
		"license:     LGPL-2.1-or-later\n"
		"description: a counter with a history of releases\n"
		"device:      fx-counter\n"
		"vmstate:     fx-counter@2\n"
		"tree:        out-of-tree (taints the host)\n",
		path);
}

START_TEST(test_modinfo_tool_types_after_metadata)
{
	g_autofree char *path = fixture_path("fx-counter-2.0.so");
	g_autofree char *meta = counter_metadata(path);
	g_autofree char *want = g_strconcat(
		meta,
		"type:        fx-counter: a counter with a history of "
		"releases\n"
		"  property:    extra (bool), default on: send the extra "
		"state\n"
		"  state:       fx-counter version 2, loads 1..2, saves 1..2\n"
		"  subsection:  fx-counter/extra version 1, loads 1..1, in "
		"fx-counter, not optional\n",
		NULL);
	struct run r = run("MODVMM_MODINFO", path, NULL);

	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(r.out, want);
	ck_assert_int_eq(r.status, 0);
	run_clear(&r);

	r = run("MODVMM_MODINFO", "--metadata-only", path, NULL);
	ck_assert_str_eq(r.err, "");
	ck_assert_str_eq(r.out, meta);
	ck_assert_int_eq(r.status, 0);
	run_clear(&r);
}
END_TEST

/* Lines of other modules: a legacy value, an optional subsection, one of
 * a nested struct's description, a device without state. */
static const struct {
	const char *dir; /* environment variable */
	const char *file;
	const char *line;
} type_lines[] = {
	{ "MODULE_DIR", "cmos-rtc.so",
	  "\n  property:    lost-ticks (bool), default on, legacy off: "
	  "re-raise "
	  "missed periodic interrupts (sends cmos-rtc/lost-ticks)\n" },
	{ "MODULE_DIR", "cmos-rtc.so",
	  "\n  property:    base (string), default \"utc\": start time: utc or "
	  "YYYY-MM-DDTHH:MM:SS (UTC)\n" },
	{ "MODULE_DIR", "cmos-rtc.so",
	  "\n  state:       cmos-rtc version 2, loads 1..2, saves 1..2\n" },
	{ "FIXTURE_DIR", "fx-nested-sub.so",
	  "\n  property:    limit (u32), default 8, legacy 0: " },
	{ "FIXTURE_DIR", "fx-nested-sub.so",
	  "\n  subsection:  fx-nested-inner/extra version 1, loads 1..1, in "
	  "fx-nested-inner, not optional\n" },
	{ "FIXTURE_DIR", "fx-counter-1.1-optional.so",
	  "\n  subsection:  fx-counter/extra version 1, loads 1..1, in "
	  "fx-counter, optional\n" },
	{ "FIXTURE_DIR", "fx-counter-3.0.so",
	  "\n  state:       fx-counter version 3, loads 3..3, saves 3..3\n" },
	{ "FIXTURE_DIR", "fx-counter-nostate.so",
	  "\n  state:       none (a guest with this device cannot migrate)\n" },
};

START_TEST(test_modinfo_tool_type_lines)
{
	g_autofree char *path = g_build_filename(g_getenv(type_lines[_i].dir),
						 type_lines[_i].file, NULL);
	struct run r = run("MODVMM_MODINFO", path, NULL);

	ck_assert_str_eq(r.err, "");
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, type_lines[_i].line), "%s: %s",
		      type_lines[_i].file, r.out);
	run_clear(&r);
}
END_TEST

START_TEST(test_modinfo_tool_types_json)
{
	g_autofree char *path = fixture_path("fx-counter-2.0.so");
	g_autofree char *rtc =
		g_build_filename(g_getenv("MODULE_DIR"), "cmos-rtc.so", NULL);
	g_autoptr(JsonParser) p = json_parser_new();
	struct run r = run("MODVMM_MODINFO", "--json", path, NULL);
	JsonObject *o, *type, *prop, *state, *sub;
	JsonArray *types, *props, *subs;

	ck_assert_str_eq(r.err, "");
	ck_assert_int_eq(r.status, 0);
	ck_assert(json_parser_load_from_data(p, r.out, -1, NULL));
	o = json_node_get_object(json_parser_get_root(p));
	ck_assert_str_eq(json_object_get_string_member(o, "name"),
			 "fx-counter");
	types = json_object_get_array_member(o, "types");
	ck_assert_uint_eq(json_array_get_length(types), 1);
	type = json_array_get_object_element(types, 0);
	ck_assert_str_eq(json_object_get_string_member(type, "name"),
			 "fx-counter");
	props = json_object_get_array_member(type, "properties");
	ck_assert_uint_eq(json_array_get_length(props), 1);
	prop = json_array_get_object_element(props, 0);
	ck_assert_str_eq(json_object_get_string_member(prop, "name"), "extra");
	ck_assert_str_eq(json_object_get_string_member(prop, "type"), "bool");
	ck_assert_str_eq(json_object_get_string_member(prop, "default"), "on");
	ck_assert(json_object_get_null_member(prop, "legacy"));
	ck_assert_str_eq(json_object_get_string_member(prop, "description"),
			 "send the extra state");
	state = json_object_get_object_member(type, "state");
	ck_assert_str_eq(json_object_get_string_member(state, "name"),
			 "fx-counter");
	ck_assert_int_eq(json_object_get_int_member(state, "version"), 2);
	ck_assert_int_eq(json_object_get_int_member(state, "min_version"), 1);
	ck_assert_int_eq(json_object_get_int_member(state, "min_save_version"),
			 1);
	subs = json_object_get_array_member(state, "subsections");
	ck_assert_uint_eq(json_array_get_length(subs), 1);
	sub = json_array_get_object_element(subs, 0);
	ck_assert_str_eq(json_object_get_string_member(sub, "name"),
			 "fx-counter/extra");
	ck_assert_str_eq(json_object_get_string_member(sub, "parent"),
			 "fx-counter");
	ck_assert_int_eq(json_object_get_int_member(sub, "version"), 1);
	ck_assert_int_eq(json_object_get_int_member(sub, "min_version"), 1);
	ck_assert(!json_object_get_boolean_member(sub, "optional"));
	run_clear(&r);

	/* A legacy value, in the form --device takes. */
	r = run("MODVMM_MODINFO", "--json", rtc, NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert(json_parser_load_from_data(p, r.out, -1, NULL));
	o = json_node_get_object(json_parser_get_root(p));
	type = json_array_get_object_element(
		json_object_get_array_member(o, "types"), 0);
	props = json_object_get_array_member(type, "properties");
	prop = json_array_get_object_element(props, 3);
	ck_assert_str_eq(json_object_get_string_member(prop, "name"),
			 "lost-ticks");
	ck_assert_str_eq(json_object_get_string_member(prop, "legacy"), "off");
	run_clear(&r);
}
END_TEST

/*
 * A module the loader refuses is shown by its metadata alone, as with
 * --metadata-only, with the loader's reason; none of its code runs
 * (fx-abort-ctor's constructor would abort the tool).
 */
START_TEST(test_modinfo_tool_refused_module_metadata_only)
{
	g_autofree char *dir = scratch_new("modvmm-modinfo-XXXXXX");
	g_autofree char *src = fixture_path("fx-counter-2.0.so");
	g_autofree char *ww = g_build_filename(dir, "fx-counter-2.0.so", NULL);
	g_autofree char *allow = g_build_filename(dir, "allow", NULL);
	g_autofree char *major = fixture_path("fx-abort-ctor.so");
	g_autofree char *data = NULL, *meta = NULL, *want = NULL;
	g_autoptr(JsonParser) p = json_parser_new();
	struct run r, m;
	gsize len;

	/* World-writable: the trust rule. */
	ck_assert(g_file_get_contents(src, &data, &len, NULL));
	ck_assert(g_file_set_contents(ww, data, (gssize)len, NULL));
	ck_assert_int_eq(chmod(ww, 0666), 0);
	meta = counter_metadata(ww);
	want = g_strdup_printf("modvmm-modinfo: metadata only, not loaded: "
			       "fx-counter-2.0.so: refusing module: file %s "
			       "is world-writable, mode 0666 (rule: "
			       "world-writable)\n",
			       ww);
	r = run("MODVMM_MODINFO", ww, NULL);
	ck_assert_str_eq(r.out, meta);
	ck_assert_str_eq(r.err, want);
	ck_assert_int_eq(r.status, 0);
	run_clear(&r);
	g_clear_pointer(&meta, g_free);

	/* Not in the allowlist given. */
	ck_assert(g_file_set_contents(allow, "# nothing\n", -1, NULL));
	ck_assert_int_eq(chmod(allow, 0644), 0);
	meta = counter_metadata(src);
	r = run("MODVMM_MODINFO", "--module-allowlist", allow, src, NULL);
	ck_assert_str_eq(r.out, meta);
	ck_assert_msg(g_str_has_prefix(r.err, "modvmm-modinfo: metadata only, "
					      "not loaded: fx-counter-2.0.so: "
					      "refusing module: sha256 "),
		      "%s", r.err);
	ck_assert_int_eq(r.status, 0);
	run_clear(&r);

	/* Another ABI major, with a constructor that aborts. */
	r = run("MODVMM_MODINFO", major, NULL);
	m = run("MODVMM_MODINFO", "--metadata-only", major, NULL);
	ck_assert_str_eq(r.out, m.out);
	ck_assert_str_eq(r.err, "modvmm-modinfo: metadata only, not loaded: "
				"fx-abort-ctor.so: built for ABI 2.0, this "
				"host provides ABI " MODVMM_ABI_STRING
				" (a different major version)\n");
	ck_assert_int_eq(r.status, 0);
	run_clear(&r);
	run_clear(&m);
	r = run("MODVMM_MODINFO", "--json", major, NULL);
	ck_assert(json_parser_load_from_data(p, r.out, -1, NULL));
	ck_assert(!json_object_has_member(
		json_node_get_object(json_parser_get_root(p)), "types"));
	run_clear(&r);
	scratch_remove(g_steal_pointer(&dir));
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
	tcase_add_test(tc, test_modinfo_tool_types_after_metadata);
	tcase_add_loop_test(tc, test_modinfo_tool_type_lines, 0,
			    G_N_ELEMENTS(type_lines));
	tcase_add_test(tc, test_modinfo_tool_types_json);
	tcase_add_test(tc, test_modinfo_tool_refused_module_metadata_only);
	suite_add_tcase(s, tc);
	return check_run(s);
}
