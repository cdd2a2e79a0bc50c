// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * modvmm-vmstate diff and matrix: one row per kind of change, with the
 * finding a release maintainer reads, in both directions.
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "check-tap.h"
#include "spawn.h"

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
/* Fields as QEMU's -dump-vmstate writes them: no "kind"; a slot of
 * VMSTATE_UNUSED is a field named "unused". */
#define QUNUSED(size)                                                          \
	"{\"field\":\"unused\",\"version_id\":0,\"field_exists\":false,"       \
	"\"size\":" size "}"
#define QX                                                                     \
	"{\"field\":\"x\",\"version_id\":0,\"field_exists\":false,\"size\":4}"
/* The rule's reason for a description whose layout differs at version 1,
 * by its fingerprints (compat/negotiate.c); the field findings follow,
 * indented, as its explanation. */
#define LAYOUT(dir, name, a, b)                                                \
	dir ": dev: refused: " name " version 1 has a different layout here "  \
	    "(fingerprint " a " at the source, " b " here)\n"
#define FP_AB "8134823ad00aaa0a"
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

/* One row per case, its findings as the tool prints them. */
/* clang-format off */
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
	  LAYOUT("forward", "dev", FP_AB, "c7d1ce4b266ff83e")
	  "forward:   dev: field c is expected at version 1 but the source "
	  "does not send it (added without a version bump)\n"
	  LAYOUT("backward", "dev", "c7d1ce4b266ff83e", FP_AB)
	  "backward:   dev: field c is sent at version 1 but the destination "
	  "does not have it (removed without a version bump)\n" },
	{ "field resized", "dev", "dev", 1, 1, 1, A "," B, "", 1, 1, 1,
	  A "," B32, "", 1,
	  LAYOUT("forward", "dev", FP_AB, "b3b205479c3a89a0")
	  "forward:   dev: field b is u16 size 2 count 1 in the source, u32 "
	  "size 4 count 1 in the destination (resized or retyped without a "
	  "version bump)\n"
	  LAYOUT("backward", "dev", "b3b205479c3a89a0", FP_AB)
	  "backward:   dev: field b is u32 size 4 count 1 in the source, u16 "
	  "size 2 count 1 in the destination (resized or retyped without a "
	  "version bump)\n" },
	{ "fields reordered", "dev", "dev", 1, 1, 1, A "," B, "", 1, 1, 1,
	  B "," A, "", 1,
	  LAYOUT("forward", "dev", FP_AB, "3c1a15426420dfde")
	  "forward:   dev: field 0 at version 1 is a in the source, b in the "
	  "destination (reordered or renamed without a version bump)\n"
	  "forward:   dev: field 1 at version 1 is b in the source, a in the "
	  "destination (reordered or renamed without a version bump)\n"
	  LAYOUT("backward", "dev", "3c1a15426420dfde", FP_AB)
	  "backward:   dev: field 0 at version 1 is b in the source, a in the "
	  "destination (reordered or renamed without a version bump)\n"
	  "backward:   dev: field 1 at version 1 is a in the source, b in the "
	  "destination (reordered or renamed without a version bump)\n" },
	{ "min_version raised", "dev", "dev", 1, 1, 1, A, "", 3, 3, 3, A, "", 1,
	  "forward: dev: refused: dev: versions do not meet: the source saves "
	  "1..1, this host loads 3..3\n"
	  "backward: dev: refused: dev: versions do not meet: the source saves "
	  "3..3, this host loads 1..1\n" },
	{ "newer saves the older version", "dev", "dev", 1, 1, 1, A, "", 2, 1,
	  1, A "," C2, "", 0, "" },
	{ "subsection only in the new", "dev", "dev", 1, 1, 1, A, "", 1, 1, 1,
	  A, SUB("false"), 1,
	  "backward: dev: refused: subsection dev/x would be sent and is "
	  "unknown here (not optional)\n" },
	{ "optional subsection only in the new", "dev", "dev", 1, 1, 1, A, "",
	  1, 1, 1, A, SUB("true"), 0, "" },
	/* Backward works: a destination that retired a field reads its
	 * bytes as the slot. */
	{ "unused slot reused", "dev", "dev", 1, 1, 1, A "," U, "", 1, 1, 1,
	  A "," D, "", 1,
	  LAYOUT("forward", "dev", "dc95643977a769b4", "120d5638967a248e")
	  "forward:   dev: unused slot old retired in microvm-1.0 is reused as "
	  "d at version 1: allowed only once machine type microvm-1.0 is "
	  "removed\n" },
	{ "struct grown in memory only", "dev", "dev", 1, 1, 1, S("4", A), "",
	  1, 1, 1, S("8", A), "", 0, "" },
	{ "field added inside a struct", "dev", "dev", 1, 1, 1, S("4", A), "",
	  1, 1, 1, S("5", A "," C1), "", 1,
	  LAYOUT("forward", "in", "65c2acfec3e351de", "3c0a1db421113cb9")
	  "forward:   dev.s: field c is expected at version 1 but the source "
	  "does not send it (added without a version bump)\n"
	  LAYOUT("backward", "in", "3c0a1db421113cb9", "65c2acfec3e351de")
	  "backward:   dev.s: field c is sent at version 1 but the destination "
	  "does not have it (removed without a version bump)\n" },
	{ "QEMU's slot split into a field and a smaller slot", "dev", "dev", 1,
	  1, 1, A "," QUNUSED("8") "," B, "", 1, 1, 1,
	  A "," QX "," QUNUSED("4") "," B, "", 0, "" },
	{ "QEMU's slot reused by a field wider than it", "dev", "dev", 1, 1, 1,
	  A "," QUNUSED("2") "," B, "", 1, 1, 1, A "," QX "," B, "", 1,
	  LAYOUT("forward", "dev", "7aff5eebd17a4239", "eb528e20766136e1")
	  "forward:   dev: unused slot unused is reused as x of 4 bytes, but "
	  "the slot has 2: a reuse must keep the slot's size\n"
	  LAYOUT("backward", "dev", "eb528e20766136e1", "7aff5eebd17a4239")
	  "backward:   dev: unused slot unused is reused as x of 4 bytes, but "
	  "the slot has 2: a reuse must keep the slot's size\n" },
	{ "description renamed", "dev", "dev2", 1, 1, 1, A, "", 1, 1, 1, A, "",
	  1,
	  "forward: dev: refused: state description renamed: the source sends "
	  "dev, module dev unknown here loads dev2\n"
	  "backward: dev: refused: state description renamed: the source sends "
	  "dev2, module dev unknown here loads dev\n" },
};
/* clang-format on */

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
	ck_assert_msg(g_str_has_prefix(out, "forward: dev: refused: module "
					    "missing: no module here provides "
					    "device type dev (the source has "
					    "module dev unknown)\n"),
		      "%s", out);
	unlink(po);
	unlink(pn);
}
END_TEST

/*
 * A machine type the destination does not know is a note of the verdict,
 * not a device that breaks: the machine type is the operator's choice.
 */
START_TEST(test_vmstate_diff_machine_type_is_a_note)
{
	g_autofree char *po = tmp_json(
		"{\"vmschkmachine\":{\"Name\":\"microvm-0.9\",\"machine_"
		"types\":"
		"[{\"name\":\"microvm-0.9\",\"status\":\"supported\"}]},"
		"\"dev\":{\"Name\":\"dev\",\"Description\":{\"name\":\"dev\","
		"\"version_id\":1,\"minimum_version_id\":1,\"Fields\":[" A "],"
		"\"Subsections\":[]}}}");
	g_autofree char *pn = tmp_dump(dump("dev", 1, 1, 1, A, ""));
	g_autofree char *out = NULL, *expected = NULL;

	ck_assert_int_eq(tool(&out, "diff", po, pn, NULL), 0);
	expected = g_strdup_printf("forward (%s -> %s): works; backward: "
				   "works\n",
				   po, pn);
	ck_assert_msg(g_str_has_prefix(out, "forward: note: machine type "
					    "microvm-0.9 is unknown here (this "
					    "host has "),
		      "%s", out);
	ck_assert_msg(g_str_has_suffix(out, expected), "%s", out);
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
/* Field d as a dump writes a field that reuses the slot: it names the
 * machine type the slot was retired in. */
#define DR                                                                     \
	"{\"field\":\"d\",\"version_id\":1,\"kind\":\"u16\",\"size\":2,"       \
	"\"retired_in\":\"microvm-1.0\"}"
#define DR32                                                                   \
	"{\"field\":\"d\",\"version_id\":1,\"kind\":\"u32\",\"size\":4,"       \
	"\"retired_in\":\"microvm-1.0\"}"

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
	{ "type still supported", "supported", A "," DR, 1,
	  "allowed only once machine type microvm-1.0 is removed" },
	{ "type deprecated", "deprecated", A "," DR, 1,
	  "allowed only once machine type microvm-1.0 is removed" },
	{ "type removed", "removed", A "," DR, 0, "" },
	/* Only a field that says it reuses the slot may take its bytes. */
	{ "type removed, but the field does not name the slot", "removed",
	  A "," D, 1,
	  "forward: dev: refused: dev version 1 has a different layout here" },
	{ "type removed, but the field is wider than the slot", "removed",
	  A "," DR32, 1,
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

/* ---- dumps of real module builds ------------------------------------- */

/* Runs the tool with `args`; its exit status, stdout and stderr. */
static int tool_argv(char **out, char **err, const char *const *args)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	int wait;

	g_ptr_array_add(argv, (char *)g_getenv("MODVMM_VMSTATE"));
	for (; *args; args++)
		g_ptr_array_add(argv, (char *)*args);
	g_ptr_array_add(argv, NULL);
	ck_assert(g_spawn_sync(NULL, (char **)argv->pdata, NULL,
			       G_SPAWN_DEFAULT, NULL, NULL, out, err, &wait,
			       NULL));
	return WEXITSTATUS(wait);
}

/* One test's files: modules' directories and their dumps. */
static char *scratch;

static void scratch_setup(void)
{
	scratch = g_dir_make_tmp("modvmm-vmstate-XXXXXX", NULL);
	ck_assert(scratch);
}

static void remove_tree(const char *path)
{
	GDir *dir = g_dir_open(path, 0, NULL);
	const char *name;

	while (dir && (name = g_dir_read_name(dir))) {
		g_autofree char *p = g_build_filename(path, name, NULL);

		if (g_file_test(p, G_FILE_TEST_IS_DIR))
			remove_tree(p);
		else
			g_unlink(p);
	}
	if (dir)
		g_dir_close(dir);
	g_rmdir(path);
}

static void scratch_teardown(void)
{
	remove_tree(scratch);
	g_free(scratch);
}

/*
 * The dump of a host whose only module is the build at `from` (installed
 * as `as`, in the directory scratch/NAME): written to scratch/NAME.json,
 * whose path it returns.
 */
static char *dump_from(const char *name, const char *from, const char *as)
{
	g_autofree char *dir = g_build_filename(scratch, name, NULL);
	g_autofree char *to = g_build_filename(dir, as, NULL);
	g_autofree char *data = NULL, *out = NULL, *err = NULL;
	g_autofree char *file = g_strdup_printf("%s.json", name);
	char *path = g_build_filename(scratch, file, NULL);
	gsize len;

	ck_assert_int_eq(g_mkdir(dir, 0700), 0);
	ck_assert(g_file_get_contents(from, &data, &len, NULL));
	ck_assert(g_file_set_contents(to, data, (gssize)len, NULL));
	ck_assert_int_eq(chmod(to, 0644), 0);
	ck_assert_int_eq(tool_argv(&out, &err,
				   (const char *const[]){
					   "dump", "--module-dir", dir, NULL }),
			 0);
	ck_assert_msg(!*err, "%s", err);
	ck_assert(g_file_set_contents(path, out, -1, NULL));
	return path;
}

/* The same for the fixture `so`. */
static char *dump_of(const char *name, const char *so, const char *as)
{
	g_autofree char *from = fixture_path(so);

	return dump_from(name, from, as);
}

/* A release of fx-counter, as fx-counter.so. */
static char *counter_dump(const char *release)
{
	g_autofree char *name = g_strdup_printf("fx-counter-%s", release);
	g_autofree char *so = g_strdup_printf("%s.so", name);

	return dump_of(name, so, "fx-counter.so");
}

/* The entry of device `dev` in the dump at `path`. */
static JsonObject *dump_device(JsonParser *p, const char *path, const char *dev)
{
	ck_assert(json_parser_load_from_file(p, path, NULL));
	return json_object_get_object_member(
		json_node_get_object(json_parser_get_root(p)), dev);
}

static char *node_text(JsonNode *n)
{
	return json_to_string(n, FALSE);
}

/*
 * --module-allowlist (modules_options()): a module whose digest the list
 * lacks is refused with the loader's reason, the dump goes on without
 * it and the exit status says so; once listed, it is dumped.
 */
START_TEST(test_vmstate_dump_module_not_on_allowlist_refused)
{
	g_autofree char *from = fixture_path("fx-counter-2.0.so");
	g_autofree char *dir = g_build_filename(scratch, "mods", NULL);
	g_autofree char *to = g_build_filename(dir, "fx-counter.so", NULL);
	g_autofree char *list = g_build_filename(scratch, "allowlist", NULL);
	g_autofree char *data = NULL, *sum = NULL, *want = NULL;
	g_autofree char *listed = NULL, *out = NULL, *err = NULL;
	g_autofree char *out2 = NULL, *err2 = NULL;
	const char *const args[] = { "dump", "--module-dir", dir,
				     "--module-allowlist", list, NULL };
	gsize len;

	ck_assert_int_eq(g_mkdir(dir, 0700), 0);
	ck_assert(g_file_get_contents(from, &data, &len, NULL));
	ck_assert(g_file_set_contents(to, data, (gssize)len, NULL));
	ck_assert_int_eq(chmod(to, 0644), 0);
	sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
					  (const guchar *)data, len);
	ck_assert(g_file_set_contents(list,
				      "00000000000000000000000000000000"
				      "00000000000000000000000000000000"
				      "  other.so\n",
				      -1, NULL));
	ck_assert_int_eq(chmod(list, 0644), 0);
	want = g_strdup_printf("modvmm-vmstate: fx-counter.so: refusing "
			       "module: sha256 %s is not in allowlist %s "
			       "(rule: --module-allowlist)\n",
			       sum, list);
	ck_assert_int_eq(tool_argv(&out, &err, args), 1);
	ck_assert_str_eq(err, want);
	ck_assert_ptr_null(strstr(out, "\"fx-counter\" : {"));

	listed = g_strdup_printf("%s  fx-counter.so\n", sum);
	ck_assert(g_file_set_contents(list, listed, -1, NULL));
	ck_assert_int_eq(tool_argv(&out2, &err2, args), 0);
	ck_assert_str_eq(err2, "");
	ck_assert_ptr_nonnull(strstr(out2, "\"fx-counter\" : {"));
}
END_TEST

/*
 * A struct's description with a subsection of its own: the dump shows
 * it inside that description, with the machine types that send it, and
 * says nothing on stderr.
 */
START_TEST(test_vmstate_dump_nested_subsection)
{
	g_autofree char *path =
		dump_of("nested", "fx-nested-sub.so", "fx-nested-sub.so");
	g_autoptr(JsonParser) p = json_parser_new();
	JsonObject *dev = dump_device(p, path, "fx-nested-sub");
	JsonObject *inner = json_object_get_object_member(
		json_array_get_object_element(
			json_object_get_array_member(
				json_object_get_object_member(dev,
							      "Description"),
				"Fields"),
			1),
		"Description");
	JsonArray *subs = json_object_get_array_member(inner, "Subsections");
	JsonObject *extra;
	JsonArray *on;

	ck_assert_str_eq(json_object_get_string_member(inner, "name"),
			 "fx-nested-inner");
	ck_assert_int_eq(json_array_get_length(subs), 1);
	extra = json_array_get_object_element(subs, 0);
	ck_assert_str_eq(json_object_get_string_member(extra, "name"),
			 "fx-nested-inner/extra");
	ck_assert(!json_object_get_boolean_member(extra, "optional"));
	/* "extra" is on by default: sent on every machine type. */
	on = json_object_get_array_member(extra, "sent_on");
	ck_assert_int_ge(json_array_get_length(on), 1);
	ck_assert_int_eq(
		json_array_get_length(on),
		json_array_get_length(json_object_get_array_member(
			json_object_get_object_member(
				json_node_get_object(json_parser_get_root(p)),
				"vmschkmachine"),
			"machine_types")));
}
END_TEST

/* Properties with their defaults, and the value a later release's
 * property takes to behave as the releases before it. */
START_TEST(test_vmstate_dump_properties)
{
	g_autofree char *path =
		dump_of("nested", "fx-nested-sub.so", "fx-nested-sub.so");
	g_autoptr(JsonParser) p = json_parser_new();
	JsonObject *dev = dump_device(p, path, "fx-nested-sub");
	g_autofree char *props = node_text(json_object_get_member(
		json_object_get_object_member(dev, "modvmm"), "properties"));

	ck_assert_str_eq(
		props,
		"[{\"name\":\"extra\",\"type\":\"bool\",\"default\":\"on\","
		"\"description\":\"send the inner struct's extra state\"},"
		"{\"name\":\"limit\",\"type\":\"u32\",\"default\":\"8\","
		"\"legacy\":\"0\",\"description\":\"a limit the first "
		"release did not have\"}]");
}
END_TEST

/* A module version the destination's module declares corrupt: diff and
 * matrix refuse it with the module's reason, as negotiation does. */
START_TEST(test_vmstate_diff_known_bad)
{
	g_autofree char *p20 = counter_dump("2.0"), *p21 = counter_dump("2.1");
	g_autofree char *out = NULL, *err = NULL, *expected = NULL;
	g_autofree char *bad = NULL;
	g_autoptr(JsonParser) p = json_parser_new();
	JsonObject *dev = dump_device(p, p21, "fx-counter");
	g_auto(GStrv) lines = NULL;

	bad = node_text(json_object_get_member(
		json_object_get_object_member(dev, "modvmm"), "known_bad"));
	ck_assert_str_eq(bad, "[{\"version\":\"2.0.0\",\"reason\":\"2.0.0 "
			      "saved the step as the count\"}]");
	ck_assert_int_eq(tool(&out, "diff", p20, p21, NULL), 1);
	expected = g_strdup_printf(
		"forward: fx-counter: refused: module fx-counter 2.0.0 is "
		"known bad (declared by 2.1.0 here): 2.0.0 saved the step as "
		"the count\n"
		"forward (%s -> %s): breaks; backward: works\n",
		p20, p21);
	ck_assert_str_eq(out, expected);
	g_free(out);
	ck_assert_int_eq(tool(&out, "matrix", p20, p21, NULL), 1);
	lines = g_strsplit(out, "\n", -1);
	ck_assert_msg(g_regex_match_simple("^\\S+ +- +1 *$", lines[2], 0, 0),
		      "%s", lines[2]);
	ck_assert_msg(g_regex_match_simple("^\\S+ +ok +- *$", lines[3], 0, 0),
		      "%s", lines[3]);
	ck_assert_str_eq(lines[4],
			 "fx-counter-2.0.json -> fx-counter-2.1.json: "
			 "fx-counter: refused: module fx-counter 2.0.0 is "
			 "known bad (declared by 2.1.0 here): 2.0.0 saved the "
			 "step as the count");
	ck_assert_str_eq(lines[5], "");
	(void)err;
}
END_TEST

/*
 * 1.0 -> 1.1-optional adds an optional subsection; 1.1-optional -> 1.1
 * makes it mandatory: each step alone looks harmless, but the flag is on
 * the wire and a 1.0 destination refuses the mandatory one.
 */
START_TEST(test_vmstate_diff_stable_optional_flipped)
{
	g_autofree char *p10 = counter_dump("1.0");
	g_autofree char *popt = counter_dump("1.1-optional");
	g_autofree char *p11 = counter_dump("1.1");
	g_autofree char *out = NULL, *err = NULL, *expected = NULL;

	ck_assert_int_eq(tool_argv(&out, &err,
				   (const char *const[]){ "diff", "--stable",
							  p10, popt, NULL }),
			 0);
	g_free(out);
	g_free(err);
	ck_assert_int_eq(tool_argv(&out, &err,
				   (const char *const[]){ "diff", "--stable",
							  popt, p11, NULL }),
			 1);
	expected = g_strdup_printf(
		"stable: fx-counter: subsection fx-counter/extra changed from "
		"optional to mandatory\n"
		"stable (%s -> %s): the wire changed\n",
		popt, p11);
	ck_assert_str_eq(out, expected);
	g_free(out);
	g_free(err);
	g_free(expected);
	ck_assert_int_eq(tool_argv(&out, &err,
				   (const char *const[]){ "diff", "--stable",
							  p11, popt, NULL }),
			 1);
	expected = g_strdup_printf(
		"stable: fx-counter: subsection fx-counter/extra changed from "
		"mandatory to optional\n"
		"stable (%s -> %s): the wire changed\n",
		p11, popt);
	ck_assert_str_eq(out, expected);
}
END_TEST

/*
 * A device without state has every key QEMU's vmstate-static-checker.py
 * reads of a device (it fails on the first one missing), and still
 * blocks migration in diff.
 */
START_TEST(test_vmstate_dump_no_state_in_qemu_shape)
{
	g_autofree char *none = counter_dump("nostate");
	g_autofree char *p10 = counter_dump("1.0");
	g_autoptr(JsonParser) p = json_parser_new();
	JsonObject *dev = dump_device(p, none, "fx-counter");
	g_autofree char *desc =
		node_text(json_object_get_member(dev, "Description"));
	g_autofree char *out = NULL, *expected = NULL;

	ck_assert_str_eq(json_object_get_string_member(dev, "Name"),
			 "fx-counter");
	ck_assert_int_eq(json_object_get_int_member(dev, "version_id"), 0);
	ck_assert_int_eq(json_object_get_int_member(dev, "minimum_version_id"),
			 0);
	ck_assert_str_eq(desc, "{\"name\":\"fx-counter\",\"version_id\":0,"
			       "\"minimum_version_id\":0,\"Fields\":[],"
			       "\"Subsections\":[]}");
	ck_assert(!json_object_get_boolean_member(
		json_object_get_object_member(dev, "modvmm"), "migratable"));
	ck_assert_int_eq(tool(&out, "diff", none, p10, NULL), 1);
	expected = g_strdup_printf(
		"forward: fx-counter: refused: device type fx-counter (module "
		"fx-counter 0.9.0) has no VMState: it blocks migration\n"
		"backward: fx-counter: refused: module fx-counter 0.9.0 here "
		"has no VMState for device type fx-counter\n"
		"forward (%s -> %s): breaks; backward: breaks\n",
		none, p10);
	ck_assert_str_eq(out, expected);
}
END_TEST

/* A file nested deeper than any dump is refused before it is parsed. */
START_TEST(test_vmstate_diff_deep_nesting_refused)
{
	enum { LEVELS = 100000 };
	GString *text = g_string_new(NULL);
	g_autofree char *path = NULL, *out = NULL, *err = NULL;
	g_autofree char *expected = NULL;

	for (int i = 0; i < LEVELS; i++)
		g_string_append_c(text, '[');
	for (int i = 0; i < LEVELS; i++)
		g_string_append_c(text, ']');
	path = tmp_json(text->str);
	g_string_free(text, TRUE);
	ck_assert_int_eq(
		tool_argv(&out, &err,
			  (const char *const[]){ "diff", path, path, NULL }),
		2);
	expected = g_strdup_printf("modvmm-vmstate: %s: nested 100000 levels "
				   "deep, more than the 64 a state dump may "
				   "have\n",
				   path);
	ck_assert_str_eq(err, expected);
	ck_assert_str_eq(out, "");
	unlink(path);
}
END_TEST

/* ---- diff against modvmm compat -------------------------------------- */

/* Releases of one device type, each a module build installed as `as`. */
static const struct release_set {
	const char *type, *as;
	const char *releases[6]; /* fixtures; "" is the in-tree module */
} release_sets[] = {
	{ "fx-counter",
	  "fx-counter.so",
	  { "fx-counter-1.0.so", "fx-counter-1.1.so",
	    "fx-counter-1.1-optional.so", "fx-counter-2.0.so",
	    "fx-counter-2.1.so", NULL } },
	{ "cmos-rtc",
	  "cmos-rtc.so",
	  { "fx-rtc-1.0.so", "fx-rtc-1.1.so", "", NULL } },
};

/* A release's name: its file without ".so", or "cmos-rtc" in tree. */
static char *release_name(const struct release_set *set, const char *so)
{
	return *so ? g_strndup(so, strlen(so) - 3) : g_strdup(set->type);
}

/*
 * Whether `modvmm compat check` accepts a guest with one device of the
 * set's type on the release in scratch/FROM against the host in
 * scratch/TO: the manifest comes from the release's own module.
 */
static int compat_accepts(const struct release_set *set, const char *from,
			  const char *to)
{
	g_autofree char *src_dir = g_build_filename(scratch, from, NULL);
	g_autofree char *dst_dir = g_build_filename(scratch, to, NULL);
	g_autofree char *file = g_strdup_printf("%s.manifest", from);
	g_autofree char *manifest = g_build_filename(scratch, file, NULL);
	struct run r;
	int accepted;

	if (!g_file_test(manifest, G_FILE_TEST_EXISTS)) {
		r = run_env_argv("MODVMM",
				 (const char *const[]){
					 "compat", "manifest", "--module-dir",
					 src_dir, "--no-defaults", "-d",
					 set->type, "-o", manifest, NULL });
		ck_assert_msg(r.status == 0, "manifest of %s: %s", from, r.err);
		run_clear(&r);
	}
	r = run_env_argv("MODVMM",
			 (const char *const[]){ "compat", "check", "--source",
						manifest, "--module-dir",
						dst_dir, NULL });
	ck_assert_msg(r.status <= 1, "check %s -> %s: %s", from, to, r.err);
	accepted = r.status == 0;
	run_clear(&r);
	return accepted;
}

/*
 * The dump at `path` without the rule's own entries ("inventory" and
 * "source"), as a dump written by hand or by an older build: diff makes
 * them from the descriptions. Written beside it; returns its path.
 */
static char *plain_dump(const char *path)
{
	g_autoptr(JsonParser) p = json_parser_new();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autofree char *text = NULL;
	char *out = g_strdup_printf("%s.plain", path);
	JsonObject *root;
	g_autoptr(GList) members = NULL;

	ck_assert(json_parser_load_from_file(p, path, NULL));
	root = json_node_get_object(json_parser_get_root(p));
	members = json_object_get_members(root);
	for (GList *m = members; m; m = m->next) {
		JsonObject *o = json_object_get_object_member(root, m->data);

		if (!strcmp(m->data, "vmschkmachine")) {
			json_object_remove_member(o, "inventory");
		} else {
			o = json_object_get_object_member(o, "modvmm");
			json_object_remove_member(o, "inventory");
			json_object_remove_member(o, "source");
		}
	}
	json_generator_set_root(gen, json_parser_get_root(p));
	text = json_generator_to_data(gen, NULL);
	ck_assert(g_file_set_contents(out, text, -1, NULL));
	return out;
}

/* diff's forward verdict: 1 works, 0 breaks. */
static int diff_works(const char *a, const char *b)
{
	g_autofree char *out = NULL, *err = NULL;

	tool_argv(&out, &err, (const char *const[]){ "diff", a, b, NULL });
	ck_assert_msg(!*err, "%s", err);
	return strstr(out, "): works; backward:") != NULL;
}

/*
 * diff's forward verdict on every ordered pair of releases of a device
 * agrees with modvmm compat check of a guest on the first against a host
 * with the second: both ask compat_negotiate(). So does diff of dumps
 * without the rule's own entries, made from their descriptions. Every
 * disagreement is listed.
 */
START_TEST(test_vmstate_diff_agrees_with_compat_check)
{
	g_autoptr(GString) wrong = g_string_new(NULL);
	int pairs = 0;

	for (size_t k = 0; k < G_N_ELEMENTS(release_sets); k++) {
		const struct release_set *set = &release_sets[k];
		g_autoptr(GPtrArray) dumps =
			g_ptr_array_new_with_free_func(g_free);
		g_autoptr(GPtrArray) names =
			g_ptr_array_new_with_free_func(g_free);
		g_autoptr(GPtrArray) plain =
			g_ptr_array_new_with_free_func(g_free);

		for (size_t i = 0; set->releases[i]; i++) {
			const char *so = set->releases[i];
			g_autofree char *from =
				*so ? fixture_path(so)
				    : g_build_filename(g_getenv("MODULE_DIR"),
						       set->as, NULL);
			char *name = release_name(set, so);

			g_ptr_array_add(names, name);
			g_ptr_array_add(dumps, dump_from(name, from, set->as));
			g_ptr_array_add(
				plain,
				plain_dump(dumps->pdata[dumps->len - 1]));
		}
		for (guint a = 0; a < dumps->len; a++)
			for (guint b = 0; b < dumps->len; b++) {
				int works, plain_works, accepted;

				if (a == b)
					continue;
				pairs++;
				works = diff_works(dumps->pdata[a],
						   dumps->pdata[b]);
				plain_works = diff_works(plain->pdata[a],
							 plain->pdata[b]);
				accepted = compat_accepts(set, names->pdata[a],
							  names->pdata[b]);
				if (works != accepted ||
				    plain_works != accepted)
					g_string_append_printf(
						wrong,
						"%s -> %s: diff says %s (%s "
						"without the rule's entries), "
						"compat check %s\n",
						(char *)names->pdata[a],
						(char *)names->pdata[b],
						works ? "works" : "breaks",
						plain_works ? "works"
							    : "breaks",
						accepted ? "accepts"
							 : "refuses");
			}
	}
	ck_assert_int_eq(pairs, 26);
	ck_assert_msg(!wrong->len, "diff and compat check disagree:\n%s",
		      wrong->str);
}
END_TEST

/* ---- QEMU's own dumps ------------------------------------------------- */

/* QEMU 7.2's mc146818rtc, as its -dump-vmstate wrote it. */
static char *qemu_rtc_path(void)
{
	return g_build_filename(g_getenv("SOURCE_ROOT"), "tests", "fixtures",
				"qemu-7.2-mc146818rtc.json", NULL);
}

static JsonObject *qemu_field(const char *name, int size)
{
	JsonObject *f = json_object_new();

	json_object_set_string_member(f, "field", name);
	json_object_set_int_member(f, "version_id", 0);
	json_object_set_boolean_member(f, "field_exists", FALSE);
	json_object_set_int_member(f, "size", size);
	return f;
}

/*
 * The same device before its two slots were retired: QEMU retired seven
 * int32 fields of the time (28 bytes) and three 8-byte timer fields into
 * VMSTATE_UNUSED(7 * 4) and VMSTATE_UNUSED(3 * 8), keeping the wire.
 */
static char *qemu_rtc_before_retirement(void)
{
	static const char *const tm[] = {
		"current_tm.tm_sec",  "current_tm.tm_min",
		"current_tm.tm_hour", "current_tm.tm_wday",
		"current_tm.tm_mday", "current_tm.tm_mon",
		"current_tm.tm_year"
	};
	static const char *const timers[] = { "next_second_time",
					      "second_timer", "second_timer2" };
	g_autofree char *path = qemu_rtc_path();
	g_autoptr(JsonParser) p = json_parser_new();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	JsonObject *desc;
	JsonArray *fields, *before = json_array_new();
	g_autofree char *text = NULL;

	ck_assert(json_parser_load_from_file(p, path, NULL));
	desc = json_object_get_object_member(
		json_object_get_object_member(
			json_node_get_object(json_parser_get_root(p)),
			"mc146818rtc"),
		"Description");
	fields = json_object_get_array_member(desc, "Fields");
	for (guint i = 0; i < json_array_get_length(fields); i++) {
		JsonObject *f = json_array_get_object_element(fields, i);
		gint64 size = json_object_get_int_member(f, "size");

		if (strcmp(json_object_get_string_member(f, "field"),
			   "unused")) {
			json_array_add_object_element(before,
						      json_object_ref(f));
		} else if (size == 28) {
			for (size_t k = 0; k < G_N_ELEMENTS(tm); k++)
				json_array_add_object_element(
					before, qemu_field(tm[k], 4));
		} else {
			ck_assert_int_eq(size, 24);
			for (size_t k = 0; k < G_N_ELEMENTS(timers); k++)
				json_array_add_object_element(
					before, qemu_field(timers[k], 8));
		}
	}
	json_object_set_array_member(desc, "Fields", before);
	json_generator_set_root(gen, json_parser_get_root(p));
	text = json_generator_to_data(gen, NULL);
	return tmp_json(text);
}

/*
 * Fields retired into QEMU's "unused" slots line up with the slots byte
 * for byte: not a field reordered or renamed, in either direction.
 */
START_TEST(test_vmstate_diff_qemu_retired_slots)
{
	g_autofree char *now = qemu_rtc_path();
	g_autofree char *before = qemu_rtc_before_retirement();
	g_autofree char *out = NULL, *expected = NULL;

	ck_assert_int_eq(tool(&out, "diff", before, now, NULL), 0);
	expected = g_strdup_printf("forward (%s -> %s): works; backward: "
				   "works\n",
				   before, now);
	ck_assert_str_eq(out, expected);
	unlink(before);
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
	tcase_add_test(tc, test_vmstate_diff_machine_type_is_a_note);
	tcase_add_test(tc, test_vmstate_matrix);
	tcase_add_test(tc, test_vmstate_diff_real_dump_with_itself);
	tcase_add_loop_test(tc, test_vmstate_diff_reuse_after_removal, 0,
			    G_N_ELEMENTS(reuse_cases));
	tcase_add_test(tc, test_vmstate_diff_stable_nested);
	tcase_add_loop_test(tc, test_vmstate_diff_stable, 0,
			    G_N_ELEMENTS(stable_cases));
	tcase_add_test(tc, test_vmstate_diff_deep_nesting_refused);
	tcase_add_test(tc, test_vmstate_diff_qemu_retired_slots);
	suite_add_tcase(s, tc);

	tc = tcase_create("vmstate-dumps");
	tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
	tcase_add_test(tc, test_vmstate_dump_nested_subsection);
	tcase_add_test(tc, test_vmstate_dump_properties);
	tcase_add_test(tc, test_vmstate_diff_known_bad);
	tcase_add_test(tc, test_vmstate_diff_stable_optional_flipped);
	tcase_add_test(tc, test_vmstate_dump_no_state_in_qemu_shape);
	tcase_add_test(tc, test_vmstate_diff_agrees_with_compat_check);
	tcase_add_test(tc, test_vmstate_dump_module_not_on_allowlist_refused);
	suite_add_tcase(s, tc);
	return check_run(s);
}
