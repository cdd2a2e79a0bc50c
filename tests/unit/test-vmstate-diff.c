// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * modvmm-vmstate diff and matrix: one row per kind of change, with the
 * finding a release maintainer reads, in both directions.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "check-tap.h"

#define A "{\"field\":\"a\",\"version_id\":1,\"kind\":\"u32\",\"size\":4}"
#define B "{\"field\":\"b\",\"version_id\":1,\"kind\":\"u16\",\"size\":2}"
#define B32 "{\"field\":\"b\",\"version_id\":1,\"kind\":\"u32\",\"size\":4}"
#define C1 "{\"field\":\"c\",\"version_id\":1,\"kind\":\"u8\",\"size\":1}"
#define C2 "{\"field\":\"c\",\"version_id\":2,\"kind\":\"u8\",\"size\":1}"
#define U                                                                      \
	"{\"field\":\"old\",\"version_id\":1,\"kind\":\"unused\",\"size\":2,"  \
	"\"retired_in\":\"microvm-1.0\"}"
#define D "{\"field\":\"d\",\"version_id\":1,\"kind\":\"u16\",\"size\":2}"
/* A struct field s of `size` bytes in memory, whose description "in"
 * holds `fields`. */
#define S(size, fields)                                                        \
	"{\"field\":\"s\",\"version_id\":1,\"kind\":\"struct\",\"size\":" size  \
	",\"Description\":{\"name\":\"in\",\"version_id\":1,"                  \
	"\"minimum_version_id\":1,\"minimum_save_version\":1,\"Fields\":["     \
	fields "],\"Subsections\":[]}}"
#define SUB(flag)                                                              \
	"{\"name\":\"dev/x\",\"version_id\":1,\"minimum_version_id\":1,"       \
	"\"optional\":" flag ",\"Fields\":[" C1 "],\"Subsections\":[]}"

/* One device "dev" with the given description parts. */
static char *dump(const char *name, int ver, int minv, int minsave,
		  const char *fields, const char *subs)
{
	return g_strdup_printf(
		"{\"vmschkmachine\":{\"Name\":\"microvm\"},"
		"\"dev\":{\"Name\":\"dev\",\"Description\":{\"name\":\"%s\","
		"\"version_id\":%d,\"minimum_version_id\":%d,"
		"\"minimum_save_version\":%d,\"Fields\":[%s],"
		"\"Subsections\":[%s]}}}",
		name, ver, minv, minsave, fields, subs);
}

/* Writes `text` to a new temporary file; returns its path. */
static char *tmp_json(const char *text)
{
	char *path = NULL;
	int fd = g_file_open_tmp("modvmm-dump-XXXXXX.json", &path, NULL);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert(g_file_set_contents(path, text, -1, NULL));
	return path;
}

/* The same for a dump() result, which it frees. */
static char *tmp_dump(char *text)
{
	char *path = tmp_json(text);

	g_free(text);
	return path;
}

static int tool(char **out, const char *cmd, const char *a, const char *b,
		const char *c)
{
	const char *argv[] = { g_getenv("MODVMM_VMSTATE"), cmd, a, b, c, NULL };
	int wait;

	ck_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL,
			       NULL, out, NULL, &wait, NULL));
	return WEXITSTATUS(wait);
}

static const struct {
	const char *name;
	const char *old_name, *new_name;
	int old_ver, old_min, old_save;
	const char *old_fields, *old_subs;
	int new_ver, new_min, new_save;
	const char *new_fields, *new_subs;
	int status;
	const char *findings; /* every line diff prints, in order */
} cases[] = {
	{ "identical", "dev", "dev", 1, 1, 1, A "," B, "", 1, 1, 1, A "," B, "",
	  0, "" },
	{ "field added with a version bump", "dev", "dev", 1, 1, 1, A "," B, "",
	  2, 1, 1, A "," B "," C2, "", 0, "" },
	{ "field added without a version bump", "dev", "dev", 1, 1, 1, A "," B,
	  "", 1, 1, 1, A "," B "," C1, "", 1,
	  "forward: dev: field c is expected at version 1 but the source does "
	  "not send it (added without a version bump)\n"
	  "backward: dev: field c is sent at version 1 but the destination "
	  "does not have it (removed without a version bump)\n" },
	{ "field resized", "dev", "dev", 1, 1, 1, A "," B, "", 1, 1, 1,
	  A "," B32, "", 1,
	  "forward: dev: field b is u16 size 2 count 1 in the source, u32 size "
	  "4 count 1 in the destination (resized or retyped without a version "
	  "bump)\n"
	  "backward: dev: field b is u32 size 4 count 1 in the source, u16 "
	  "size 2 count 1 in the destination (resized or retyped without a "
	  "version bump)\n" },
	{ "fields reordered", "dev", "dev", 1, 1, 1, A "," B, "", 1, 1, 1,
	  B "," A, "", 1,
	  "forward: dev: field 0 at version 1 is a in the source, b in the "
	  "destination (reordered or renamed without a version bump)\n"
	  "forward: dev: field 1 at version 1 is b in the source, a in the "
	  "destination (reordered or renamed without a version bump)\n"
	  "backward: dev: field 0 at version 1 is b in the source, a in the "
	  "destination (reordered or renamed without a version bump)\n"
	  "backward: dev: field 1 at version 1 is a in the source, b in the "
	  "destination (reordered or renamed without a version bump)\n" },
	{ "min_version raised", "dev", "dev", 1, 1, 1, A, "", 3, 3, 3, A, "", 1,
	  "forward: dev: versions no longer meet: the source saves 1..1, the "
	  "destination loads 3..3\n"
	  "backward: dev: versions no longer meet: the source saves 3..3, the "
	  "destination loads 1..1\n" },
	{ "newer saves the older version", "dev", "dev", 1, 1, 1, A, "", 2, 1,
	  1, A "," C2, "", 0, "" },
	{ "subsection only in the new", "dev", "dev", 1, 1, 1, A, "", 1, 1, 1,
	  A, SUB("false"), 1,
	  "backward: dev: subsection dev/x is unknown to the destination and "
	  "not optional: refused whenever the source sends it\n" },
	{ "optional subsection only in the new", "dev", "dev", 1, 1, 1, A, "",
	  1, 1, 1, A, SUB("true"), 0, "" },
	{ "unused slot reused", "dev", "dev", 1, 1, 1, A "," U, "", 1, 1, 1,
	  A "," D, "", 1,
	  "forward: dev: unused slot old retired in microvm-1.0 is reused as d "
	  "at version 1: allowed only once machine type microvm-1.0 is "
	  "removed\n"
	  "backward: dev: unused slot old retired in microvm-1.0 is reused as "
	  "d "
	  "at version 1: allowed only once machine type microvm-1.0 is "
	  "removed\n" },
	{ "struct grown in memory only", "dev", "dev", 1, 1, 1, S("4", A), "",
	  1, 1, 1, S("8", A), "", 0, "" },
	{ "field added inside a struct", "dev", "dev", 1, 1, 1, S("4", A), "",
	  1, 1, 1, S("5", A "," C1), "", 1,
	  "forward: dev.s: field c is expected at version 1 but the source "
	  "does not send it (added without a version bump)\n"
	  "backward: dev.s: field c is sent at version 1 but the destination "
	  "does not have it (removed without a version bump)\n" },
	{ "description renamed", "dev", "dev2", 1, 1, 1, A, "", 1, 1, 1, A, "",
	  1,
	  "forward: dev: state is named dev in the source, dev2 in the "
	  "destination (renamed)\n"
	  "backward: dev: state is named dev2 in the source, dev in the "
	  "destination (renamed)\n" },
};

START_TEST(test_vmstate_diff_table)
{
	g_autofree char *o = dump(cases[_i].old_name, cases[_i].old_ver,
				  cases[_i].old_min, cases[_i].old_save,
				  cases[_i].old_fields, cases[_i].old_subs);
	g_autofree char *n = dump(cases[_i].new_name, cases[_i].new_ver,
				  cases[_i].new_min, cases[_i].new_save,
				  cases[_i].new_fields, cases[_i].new_subs);
	g_autofree char *po = tmp_json(o), *pn = tmp_json(n);
	g_autofree char *out = NULL, *expected = NULL;
	int status = tool(&out, "diff", po, pn, NULL);

	expected = g_strdup_printf(
		"%sforward (%s -> %s): %s; backward: %s\n", cases[_i].findings,
		po, pn,
		strstr(cases[_i].findings, "forward:") ? "breaks" : "works",
		strstr(cases[_i].findings, "backward:") ? "breaks" : "works");
	ck_assert_msg(status == cases[_i].status, "%s: status %d",
		      cases[_i].name, status);
	ck_assert_str_eq(out, expected);
	unlink(po);
	unlink(pn);
}
END_TEST

START_TEST(test_vmstate_diff_device_removed)
{
	g_autofree char *po = tmp_dump(dump("dev", 1, 1, 1, A, ""));
	g_autofree char *pn = tmp_json("{\"vmschkmachine\":{\"Name\":\"m\"}}");
	g_autofree char *out = NULL;

	ck_assert_int_eq(tool(&out, "diff", po, pn, NULL), 1);
	ck_assert(g_str_has_prefix(out, "forward: dev: device type removed (no "
					"module at the destination provides "
					"it)\n"));
	unlink(po);
	unlink(pn);
}
END_TEST

START_TEST(test_vmstate_diff_not_a_dump)
{
	g_autofree char *po = tmp_json("{\"hello\":1}");
	g_autofree char *out = NULL;

	ck_assert_int_eq(tool(&out, "diff", po, po, NULL), 2);
	unlink(po);
}
END_TEST

START_TEST(test_vmstate_matrix)
{
	g_autofree char *p1 = tmp_dump(dump("dev", 1, 1, 1, A, ""));
	g_autofree char *p2 = tmp_dump(dump("dev", 2, 1, 1, A "," C2, ""));
	g_autofree char *p3 = tmp_dump(dump("dev", 3, 3, 3, A, ""));
	g_autofree char *out = NULL;
	g_auto(GStrv) lines = NULL;

	ck_assert_int_eq(tool(&out, "matrix", p1, p2, p3), 1);
	lines = g_strsplit(out, "\n", -1);
	/* Rows: source; columns: destination. */
	ck_assert_msg(
		g_regex_match_simple("^\\S+ +- +ok +1 *$", lines[2], 0, 0),
		"%s", lines[2]);
	ck_assert_msg(
		g_regex_match_simple("^\\S+ +ok +- +1 *$", lines[3], 0, 0),
		"%s", lines[3]);
	ck_assert_msg(g_regex_match_simple("^\\S+ +1 +1 +- *$", lines[4], 0, 0),
		      "%s", lines[4]);
	unlink(p1);
	unlink(p2);
	unlink(p3);
}
END_TEST

/* A real dump against itself: both ways work. */
START_TEST(test_vmstate_diff_real_dump_with_itself)
{
	const char *argv[] = { g_getenv("MODVMM_VMSTATE"), "dump",
			       "--module-dir", g_getenv("MODULE_DIR"), NULL };
	g_autofree char *text = NULL, *path = NULL, *out = NULL;
	int wait;

	ck_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL,
			       NULL, &text, NULL, &wait, NULL));
	path = tmp_json(text);
	ck_assert_int_eq(tool(&out, "diff", path, path, NULL), 0);
	ck_assert(g_str_has_prefix(out, "forward ("));
	ck_assert(g_str_has_suffix(out, "works; backward: works\n"));
	unlink(path);
}
END_TEST

/* ---- retired slots once their machine type is removed --------------- */

#define D32 "{\"field\":\"d\",\"version_id\":1,\"kind\":\"u32\",\"size\":4}"

/* A dump of device "dev" at version 1 with the given machine types. */
static char *dump_with(const char *machines, const char *fields,
		       const char *subs)
{
	return g_strdup_printf(
		"{\"vmschkmachine\":%s,\"dev\":{\"Name\":\"dev\","
		"\"Description\":{\"name\":\"dev\",\"version_id\":1,"
		"\"minimum_version_id\":1,\"minimum_save_version\":1,"
		"\"Fields\":[%s],\"Subsections\":[%s]}}}",
		machines, fields, subs);
}

static const struct {
	const char *name;
	const char *status; /* of microvm-1.0 in the new dump */
	const char *new_fields;
	int exit;
	const char *says; /* in the output */
} reuse_cases[] = {
	{ "type still supported", "supported", A "," D, 1,
	  "allowed only once machine type microvm-1.0 is removed" },
	{ "type deprecated", "deprecated", A "," D, 1,
	  "allowed only once machine type microvm-1.0 is removed" },
	{ "type removed", "removed", A "," D, 0, "" },
	{ "type removed, but the field is wider than the slot", "removed",
	  A "," D32, 1,
	  "dev: unused slot old retired in microvm-1.0 is reused as d of 4 "
	  "bytes, but the slot has 2: a reuse must keep the slot's size" },
};

/* Machine types microvm-2.0 and microvm-1.0, the latter with `status`. */
static char *types_with(const char *status)
{
	return g_strdup_printf(
		"{\"Name\":\"microvm\",\"machine_types\":[{\"name\":"
		"\"microvm-2.0\",\"status\":\"supported\"},{\"name\":"
		"\"microvm-1.0\",\"status\":\"%s\"}]}",
		status);
}

START_TEST(test_vmstate_diff_reuse_after_removal)
{
	g_autofree char *old_types = types_with("supported");
	g_autofree char *new_types = types_with(reuse_cases[_i].status);
	g_autofree char *po = tmp_dump(dump_with(old_types, A "," U, ""));
	g_autofree char *pn = tmp_dump(
		dump_with(new_types, reuse_cases[_i].new_fields, ""));
	g_autofree char *out = NULL;

	ck_assert_msg(tool(&out, "diff", po, pn, NULL) == reuse_cases[_i].exit,
		      "%s: %s", reuse_cases[_i].name, out);
	ck_assert_msg(strstr(out, reuse_cases[_i].says), "%s: %s",
		      reuse_cases[_i].name, out);
	unlink(po);
	unlink(pn);
}
END_TEST

/* ---- diff --stable --------------------------------------------------- */

#define OLD_TYPES                                                              \
	"{\"Name\":\"microvm\",\"machine_types\":[{\"name\":"              \
	"\"microvm-1.0\",\"status\":\"supported\"}]}"
#define NEW_TYPES                                                              \
	"{\"Name\":\"microvm\",\"machine_types\":[{\"name\":"              \
	"\"microvm-1.0.1\",\"status\":\"supported\"},{\"name\":"           \
	"\"microvm-1.0\",\"status\":\"supported\"}]}"
/* Subsection dev/fix holding field c, sent on the given machine types. */
#define FIX(opt, on)                                                           \
	"{\"name\":\"dev/fix\",\"version_id\":1,\"minimum_version_id\":1,"   \
	"\"minimum_save_version\":1,\"optional\":" opt ",\"sent_on\":[" on   \
	"],\"Fields\":[" C1 "],\"Subsections\":[]}"

static const struct {
	const char *name;
	const char *new_fields, *new_subs;
	const char *findings;
} stable_cases[] = {
	{ "nothing changed", A, "", "" },
	{ "a field added to the description", A "," C1, "",
	  "stable: dev: field c since 1 u8 size 1 count 1 added\n" },
	{ "a field replaced by another", B32, "",
	  "stable: dev: field a since 1 u32 size 4 count 1 changed to b since "
	  "1 u32 size 4 count 1\n" },
	{ "the field in a subsection sent on every type", A,
	  FIX("false", "\"microvm-1.0.1\",\"microvm-1.0\""),
	  "stable: dev: subsection dev/fix added: neither optional nor gated "
	  "by a bugfix machine type\n" },
	{ "the field in a subsection sent on no type (run-time state)", A,
	  FIX("false", ""),
	  "stable: dev: subsection dev/fix added: neither optional nor gated "
	  "by a bugfix machine type\n" },
	{ "the field in a subsection the bugfix type gates", A,
	  FIX("false", "\"microvm-1.0.1\""), "" },
	{ "the field in an optional subsection", A, FIX("true", ""), "" },
};

START_TEST(test_vmstate_diff_stable)
{
	g_autofree char *po = tmp_dump(dump_with(OLD_TYPES, A, ""));
	g_autofree char *pn = tmp_dump(dump_with(
		NEW_TYPES, stable_cases[_i].new_fields,
		stable_cases[_i].new_subs));
	const char *argv[] = { g_getenv("MODVMM_VMSTATE"), "diff", "--stable",
			       po, pn, NULL };
	g_autofree char *out = NULL, *expected = NULL;
	int wait;

	ck_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL,
			       NULL, &out, NULL, &wait, NULL));
	expected = g_strdup_printf("%sstable (%s -> %s): %s\n",
				   stable_cases[_i].findings, po, pn,
				   *stable_cases[_i].findings
					   ? "the wire changed"
					   : "no change on the wire");
	ck_assert_msg(!strcmp(out, expected), "%s:\n%s", stable_cases[_i].name,
		      out);
	ck_assert_int_eq(WEXITSTATUS(wait), *stable_cases[_i].findings ? 1 : 0);
	unlink(po);
	unlink(pn);
}
END_TEST

/* --stable looks inside structs as well: their fields are on the wire. */
START_TEST(test_vmstate_diff_stable_nested)
{
	g_autofree char *po = tmp_dump(dump_with(OLD_TYPES, S("4", A), ""));
	g_autofree char *same = tmp_dump(dump_with(NEW_TYPES, S("8", A), ""));
	g_autofree char *grown =
		tmp_dump(dump_with(NEW_TYPES, S("5", A "," C1), ""));
	g_autofree char *out = NULL, *expected = NULL;
	const char *argv[] = { g_getenv("MODVMM_VMSTATE"), "diff", "--stable",
			       po, same, NULL };
	int wait;

	ck_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL,
			       NULL, &out, NULL, &wait, NULL));
	ck_assert_int_eq(WEXITSTATUS(wait), 0);
	g_free(out);
	argv[4] = grown;
	ck_assert(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL,
			       NULL, &out, NULL, &wait, NULL));
	expected = g_strdup_printf("stable: dev.s: field c since 1 u8 size 1 "
				   "count 1 added\n"
				   "stable (%s -> %s): the wire changed\n",
				   po, grown);
	ck_assert_str_eq(out, expected);
	ck_assert_int_eq(WEXITSTATUS(wait), 1);
	unlink(po);
	unlink(same);
	unlink(grown);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vmstate-diff");
	TCase *tc = tcase_create("vmstate-diff");

	tcase_add_loop_test(tc, test_vmstate_diff_table, 0,
			    G_N_ELEMENTS(cases));
	tcase_add_test(tc, test_vmstate_diff_device_removed);
	tcase_add_test(tc, test_vmstate_diff_not_a_dump);
	tcase_add_test(tc, test_vmstate_matrix);
	tcase_add_test(tc, test_vmstate_diff_real_dump_with_itself);
	tcase_add_loop_test(tc, test_vmstate_diff_reuse_after_removal, 0,
			    G_N_ELEMENTS(reuse_cases));
	tcase_add_test(tc, test_vmstate_diff_stable_nested);
	tcase_add_loop_test(tc, test_vmstate_diff_stable, 0,
			    G_N_ELEMENTS(stable_cases));
	suite_add_tcase(s, tc);
	return check_run(s);
}
