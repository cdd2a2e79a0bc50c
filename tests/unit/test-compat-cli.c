// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * modvmm compat on real module builds: the releases of the fixture
 * module fx-counter (tests/fixtures/fx-counter.c), each copied alone into
 * a module directory as a host would have it, meet through manifests and
 * inventories written by modvmm itself, as an operator runs them.
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "check-tap.h"
#include "spawn.h"

#define run(...)                                                               \
	run_env_argv("MODVMM", (const char *const[]){ "compat", __VA_ARGS__, NULL })

/* One test's files, removed at the end of it. */
static char *tmp;

static void tmp_setup(void)
{
	tmp = scratch_new("modvmm-compat-XXXXXX");
}

static void tmp_teardown(void)
{
	scratch_remove(tmp);
}

/* A host's module directory holding one release, or none (NULL). */
static char *host_dir(const char *release)
{
	g_autofree char *name =
		g_strdup_printf("host-%s", release ? release : "empty");
	char *dir = g_build_filename(tmp, name, NULL);
	g_autofree char *from = NULL, *to = NULL, *data = NULL;
	gsize len;

	if (g_file_test(dir, G_FILE_TEST_IS_DIR))
		return dir;
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	if (!release)
		return dir;
	from = g_strdup_printf("%s/fx-counter-%s.so", g_getenv("FIXTURE_DIR"),
			       release);
	to = g_build_filename(dir, "fx-counter.so", NULL);
	ck_assert(g_file_get_contents(from, &data, &len, NULL));
	ck_assert(g_file_set_contents(to, data, (gssize)len, NULL));
	ck_assert_int_eq(chmod(to, 0644), 0);
	return dir;
}

/* The manifest of a guest with one fx-counter (SPEC) on RELEASE. */
static char *guest_manifest(const char *release, const char *spec)
{
	g_autofree char *dir = host_dir(release);
	g_autofree char *name = g_strdup_printf("guest-%s-%s.json", release,
						spec);
	char *path = g_build_filename(tmp, name, NULL);
	struct run r =
		run("manifest", "--module-dir", dir, "--machine", "microvm-1.0",
		    "--no-defaults", "-d", spec, "-o", path);

	ck_assert_msg(r.status == 0, "manifest: %s", r.err);
	ck_assert_str_eq(r.out, "");
	run_clear(&r);
	return path;
}

#define TIER1                                                                  \
	"machine microvm-1.0: tier 1, versioned (forward migration "          \
	"guaranteed while the type exists)\n"
#define DEV "fx-counter0 (fx-counter): "
#define OK "verdict: accepted, 1 device\n"
#define NO "verdict: refused, 1 of 1 device refused\n"

static const struct check_row {
	const char *name;
	const char *src, *spec; /* release and --device of the source */
	const char *dst;	/* release at the destination; NULL: none */
	int status;
	const char *out;
} check_rows[] = {
	{ "same release", "1.0", "fx-counter", "1.0", 0,
	  TIER1 DEV "accepted at version 1\n" OK },
	{ "older source, newer destination", "1.0", "fx-counter", "2.0", 0,
	  TIER1 DEV "accepted at version 1\n" OK },
	{ "subsection off by property: not sent, older host accepts", "1.1",
	  "fx-counter,extra=off", "1.0", 0,
	  TIER1 DEV "accepted at version 1\n" OK },
	{ "subsection sent: older host refuses, naming it", "1.1",
	  "fx-counter", "1.0", 1,
	  TIER1 DEV "refused: subsection fx-counter/extra would be sent and "
		    "is unknown here (not optional)\n" NO },
	{ "optional subsection: dropped for the older host", "1.1-optional",
	  "fx-counter", "1.0", 0,
	  TIER1 DEV "accepted at version 1; drops optional "
		    "fx-counter/extra\n" OK },
	{ "subsection known at the destination", "1.1", "fx-counter", "2.0",
	  0, TIER1 DEV "accepted at version 1; knows fx-counter/extra\n" OK },
	{ "backward: 2.0 saves version 1 for 1.1", "2.0", "fx-counter", "1.1",
	  0, TIER1 DEV "accepted at version 1; knows fx-counter/extra\n" OK },
	{ "backward: 3.0 cannot save what 2.0 loads", "3.0", "fx-counter",
	  "2.0", 1,
	  TIER1 DEV "refused: fx-counter: versions do not meet: the source "
		    "saves 3..3, this host loads 1..2\n" NO },
	{ "forward: 3.0 raised min_version above 1.1's", "1.1", "fx-counter",
	  "3.0", 1,
	  TIER1 DEV "refused: fx-counter: versions do not meet: the source "
		    "saves 1..1, this host loads 3..3\n" NO },
	{ "known bad: 2.1 refuses state from 2.0", "2.0", "fx-counter", "2.1",
	  1,
	  TIER1 DEV "refused: module fx-counter 2.0.0 is known bad (declared "
		    "by 2.1.0 here): 2.0.0 saved the step as the count\n" NO },
	{ "known bad does not touch other versions", "1.1", "fx-counter",
	  "2.1", 0,
	  TIER1 DEV "accepted at version 1; knows fx-counter/extra\n" OK },
	{ "renamed description", "1.0", "fx-counter", "renamed", 1,
	  TIER1 DEV "refused: state description renamed: the source sends "
		    "fx-counter, module fx-counter 1.2.0 here loads "
		    "fx-count\n" NO },
	{ "module missing at the destination", "1.0", "fx-counter", NULL, 1,
	  TIER1 DEV "refused: module missing: no module here provides device "
		    "type fx-counter (the source has module fx-counter "
		    "1.0.0)\n" NO },
	{ "no VMState at the destination", "1.0", "fx-counter", "nostate", 1,
	  TIER1 DEV "refused: module fx-counter 0.9.0 here has no VMState for "
		    "device type fx-counter\n" NO },
	{ "no VMState at the source: a blocker", "nostate", "fx-counter",
	  "1.0", 1,
	  TIER1 DEV "refused: device type fx-counter (module fx-counter 0.9.0) "
		    "has no VMState: it blocks migration\n" NO },
};

START_TEST(test_compat_cli_check)
{
	const struct check_row *row = &check_rows[_i];
	g_autofree char *src = guest_manifest(row->src, row->spec);
	g_autofree char *dst = host_dir(row->dst);
	struct run r = run("check", "--source", src, "--module-dir", dst);

	ck_assert_msg(!strcmp(r.out, row->out) && r.status == row->status,
		      "%s: exit %d\n%s%s\nexpected exit %d:\n%s", row->name,
		      r.status, r.out, r.err, row->status, row->out);
	ck_assert_str_eq(r.err, "");
	run_clear(&r);
}
END_TEST

START_TEST(test_compat_cli_check_json)
{
	g_autofree char *src = guest_manifest("2.0", "fx-counter");
	g_autofree char *dst = host_dir("1.1");
	g_autoptr(JsonParser) p = json_parser_new();
	struct run r =
		run("check", "--source", src, "--module-dir", dst, "--json");
	JsonObject *v, *d;

	ck_assert_int_eq(r.status, 0);
	ck_assert(json_parser_load_from_data(p, r.out, -1, NULL));
	v = json_node_get_object(json_parser_get_root(p));
	ck_assert(json_object_get_boolean_member(v, "accepted"));
	ck_assert_int_eq(json_object_get_int_member(v, "tier"), 1);
	d = json_array_get_object_element(
		json_object_get_array_member(v, "devices"), 0);
	ck_assert_str_eq(json_object_get_string_member(d, "id"),
			 "fx-counter0");
	ck_assert_int_eq(json_object_get_int_member(d, "version"), 1);
	ck_assert_str_eq(
		json_array_get_string_element(
			json_object_get_array_member(d, "known_subsections"),
			0),
		"fx-counter/extra");
	run_clear(&r);
}
END_TEST

/*
 * The alias promises nothing across releases: a manifest made with it, and
 * a verdict on such a guest or judged against it, say so and name the
 * versioned type to give instead.
 */
START_TEST(test_compat_cli_alias_said)
{
	g_autofree char *dir = host_dir("1.0");
	g_autofree char *path = g_build_filename(tmp, "alias.json", NULL);
	g_autofree char *tier1 = guest_manifest("1.0", "fx-counter");
	struct run r = run("manifest", "--module-dir", dir, "--no-defaults",
			   "-d", "fx-counter", "-o", path);

	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.err, "modvmm: note: the manifest is of the alias "
				"microvm = microvm-1.0: give --machine "
				"microvm-1.0 for a guarantee across releases "
				"(tier 1)\n");
	run_clear(&r);
	r = run("check", "--source", path, "--module-dir", dir);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 "machine microvm-1.0: tier 2, started as the "
			 "unversioned alias (no guarantee across releases; "
			 "checked here)\n"
			 "note: the guest was started as the alias microvm = "
			 "microvm-1.0: start it with --machine microvm-1.0 for "
			 "a guarantee across releases (tier 1)\n" DEV
			 "accepted at version 1\n" OK);
	ck_assert_str_eq(r.err, "");
	run_clear(&r);
	r = run("check", "--source", path, "--module-dir", dir, "--json");
	ck_assert_int_eq(r.status, 0);
	ck_assert(g_str_has_prefix(r.err, "modvmm: note: the guest was "
					  "started as the alias microvm"));
	run_clear(&r);
	/* A tier 1 guest, judged against the alias. */
	r = run("check", "--source", tier1, "--module-dir", dir, "--machine",
		"microvm");
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out,
			 TIER1 "note: judged against the alias microvm = "
			       "microvm-1.0: give --machine microvm-1.0 for a "
			       "guarantee across releases (tier 1)\n" DEV
			       "accepted at version 1\n" OK);
	run_clear(&r);
	/* And against the versioned type: nothing to say. */
	r = run("check", "--source", tier1, "--module-dir", dir, "--machine",
		"microvm-1.0");
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, TIER1 DEV "accepted at version 1\n" OK);
	run_clear(&r);
}
END_TEST

/* The fleet: one guest against several hosts' inventories. */
static char *inventory_of(const char *release)
{
	g_autofree char *dir = host_dir(release);
	g_autofree char *name = g_strdup_printf("inventory-%s.json", release);
	char *path = g_build_filename(tmp, name, NULL);
	struct run r = run("inventory", "--module-dir", dir, "-o", path);

	ck_assert_msg(r.status == 0, "inventory: %s", r.err);
	run_clear(&r);
	return path;
}

START_TEST(test_compat_cli_hosts)
{
	g_autofree char *src = guest_manifest("2.0", "fx-counter");
	g_autofree char *h10 = inventory_of("1.0");
	g_autofree char *h11 = inventory_of("1.1");
	g_autofree char *h21 = inventory_of("2.1");
	g_autofree char *h30 = inventory_of("3.0");
	g_autofree char *expected = g_strdup_printf(
		"%s: cannot take the guest\n"
		"  " TIER1 "  " DEV "refused: subsection fx-counter/extra "
		"would be sent and is unknown here (not optional)\n"
		"  " NO "%s: can take the guest\n"
		"  " TIER1 "  " DEV "accepted at version 1; knows "
		"fx-counter/extra\n"
		"  " OK "%s: cannot take the guest\n"
		"  " TIER1 "  " DEV "refused: module fx-counter 2.0.0 is known "
		"bad (declared by 2.1.0 here): 2.0.0 saved the step as the "
		"count\n"
		"  " NO "%s: cannot take the guest\n"
		"  " TIER1 "  " DEV "refused: fx-counter: versions do not meet: "
		"the source saves 1..2, this host loads 3..3\n"
		"  " NO "1 of 4 hosts can take the guest\n",
		h10, h11, h21, h30);
	struct run r = run("hosts", src, h10, h11, h21, h30);

	ck_assert_str_eq(r.out, expected);
	ck_assert_str_eq(r.err, "");
	ck_assert_int_eq(r.status, 0);
	run_clear(&r);

	r = run("hosts", src, h10, h30);
	ck_assert_int_eq(r.status, 1);
	ck_assert(g_str_has_suffix(r.out, "0 of 2 hosts can take the guest\n"));
	run_clear(&r);
}
END_TEST

/* An unreadable inventory is named; the other hosts are still judged. */
START_TEST(test_compat_cli_hosts_unreadable_inventory)
{
	g_autofree char *src = guest_manifest("2.0", "fx-counter");
	g_autofree char *h11 = inventory_of("1.1");
	g_autofree char *bad = g_build_filename(tmp, "bad.json", NULL);
	g_autofree char *line = NULL;
	g_autoptr(JsonParser) p = json_parser_new();
	JsonArray *a;
	struct run r;

	ck_assert(g_file_set_contents(bad, "garbage", -1, NULL));
	r = run("hosts", src, bad, h11);
	ck_assert_int_eq(r.status, 2);
	line = g_strdup_printf("%s: cannot be read\n  %s: not JSON: unexpected "
			       "byte 0x67 at offset 0\n",
			       bad, bad);
	ck_assert(g_str_has_prefix(r.out, line));
	ck_assert(g_str_has_suffix(r.out, "1 of 2 hosts can take the guest "
					  "(1 could not be read)\n"));
	run_clear(&r);

	r = run("hosts", "--json", src, bad, h11);
	ck_assert_int_eq(r.status, 2);
	ck_assert(json_parser_load_from_data(p, r.out, -1, NULL));
	a = json_node_get_array(json_parser_get_root(p));
	ck_assert_uint_eq(json_array_get_length(a), 2);
	ck_assert(json_object_has_member(json_array_get_object_element(a, 0),
					 "error"));
	ck_assert(json_object_get_boolean_member(
		json_object_get_object_member(
			json_array_get_object_element(a, 1), "verdict"),
		"accepted"));
	run_clear(&r);
}
END_TEST

#define REUSE_REFUSED                                                          \
	"modvmm: fx-counter.so: module fx-counter: device type fx-counter: "   \
	"vmstate fx-counter: field old reuses a slot retired in machine "      \
	"type microvm-1.0, which is not removed until 2032-11-22: a retired "  \
	"slot may be reused only once its machine type is removed\n"          \
	"modvmm: compat: a module is refused: this host would not start a "    \
	"guest\n"

/* A retired slot reused while its machine type exists: the module is
 * refused when loaded, and so, as for modvmm run, is the host: neither
 * its inventory nor a check pretends it takes guests without it. */
START_TEST(test_compat_cli_reused_slot_refused)
{
	g_autofree char *dir = host_dir("reuse");
	g_autofree char *v10 = host_dir("1.0");
	g_autofree char *man = g_build_filename(tmp, "reuse-guest.json", NULL);
	struct run r = run("inventory", "--module-dir", dir);

	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err, REUSE_REFUSED);
	ck_assert_str_eq(r.out, "");
	run_clear(&r);
	r = run("manifest", "--module-dir", v10, "--no-defaults", "-d",
		"fx-counter", "-o", man);
	ck_assert_int_eq(r.status, 0);
	run_clear(&r);
	r = run("check", "--source", man, "--module-dir", dir);
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.err, REUSE_REFUSED);
	run_clear(&r);
}
END_TEST

/* The allowlist of modvmm run: a module not listed is refused here too. */
START_TEST(test_compat_cli_allowlist)
{
	g_autofree char *dir = host_dir("1.0");
	g_autofree char *list = g_build_filename(tmp, "allow.txt", NULL);
	struct run r;

	ck_assert(g_file_set_contents(list, "", 0, NULL));
	r = run("inventory", "--module-dir", dir, "--module-allowlist", list);
	ck_assert_int_eq(r.status, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "(rule: --module-allowlist)"));
	ck_assert_str_eq(r.out, "");
	run_clear(&r);
}
END_TEST

#define USAGE                                                                  \
	"Usage: modvmm compat manifest [--module-dir DIR...] [--machine M] "   \
	"[-d "                                                                 \
	"SPEC...] [--no-defaults] [-o FILE]\n"                                 \
	"       modvmm compat inventory [--module-dir DIR...] [-o FILE]\n"     \
	"       modvmm compat check --source MANIFEST [--module-dir DIR...] "  \
	"[--machine "                                                          \
	"M] [--json]\n"                                                        \
	"       modvmm compat hosts GUEST_MANIFEST INVENTORY.json... "         \
	"[--json]\n"

static const struct {
	const char *args[8];
	int status;
	const char *err; /* @TMP@: the temporary directory */
} bad_rows[] = {
	{ { "check", "--source", "@TMP@/none.json" },
	  2,
	  "modvmm: @TMP@/none.json: No such file or directory\n" },
	{ { "check", "--source", "@TMP@/host-1.0/fx-counter.so" },
	  2,
	  "modvmm: @TMP@/host-1.0/fx-counter.so: not JSON: unexpected byte "
	  "0x7f "
	  "at offset 0\n" },
	{ { "check" },
	  2,
	  "modvmm: compat check: --source MANIFEST is "
	  "required\n" },
	{ { "manifest", "--module-dir", "@TMP@/host-1.0", "--no-defaults", "-d",
	    "fx-nothing" },
	  1,
	  "modvmm: unknown device type 'fx-nothing' (known: fx-counter)\n" },
	/* An unknown machine type is a usage error, as in modvmm run. */
	{ { "manifest", "--module-dir", "@TMP@/host-1.0", "--machine",
	    "microvm-0.1" },
	  2,
	  "modvmm: unknown machine type 'microvm-0.1' (known: microvm, "
	  "microvm-1.0)\n" },
	{ { "check", "--source", "@TMP@/none.json", "--machine", "pc" },
	  2,
	  "modvmm: unknown machine type 'pc' (known: microvm, microvm-1.0)\n" },
	{ { "manifest", "--module-dir", "@TMP@/host-1.0", "--no-defaults", "-d",
	    "fx-counter,extra=maybe" },
	  1,
	  "modvmm: fx-counter0: property extra: 'maybe' is not on or off\n" },
	{ { "frobnicate" },
	  2,
	  "modvmm compat: unknown command 'frobnicate'\n" USAGE },
	{ { NULL }, 2, USAGE },
};

static char *with_tmp(const char *s)
{
	g_auto(GStrv) parts = g_strsplit(s, "@TMP@", -1);

	return g_strjoinv(tmp, parts);
}

START_TEST(test_compat_cli_bad_input)
{
	g_autofree char *dir = host_dir("1.0");
	g_autofree char *err = with_tmp(bad_rows[_i].err);
	const char *args[10] = { "compat" };
	g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func(g_free);
	struct run r;

	for (int i = 0; bad_rows[_i].args[i]; i++) {
		char *a = with_tmp(bad_rows[_i].args[i]);

		g_ptr_array_add(owned, a);
		args[i + 1] = a;
	}
	r = run_env_argv("MODVMM", args);
	ck_assert_msg(r.status == bad_rows[_i].status && !strcmp(r.err, err),
		      "row %d: exit %d\n%s\nexpected exit %d:\n%s", _i,
		      r.status, r.err, bad_rows[_i].status, err);
	run_clear(&r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("compat-cli");
	TCase *tc = tcase_create("compat-cli");

	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_loop_test(tc, test_compat_cli_check, 0,
			    G_N_ELEMENTS(check_rows));
	tcase_add_test(tc, test_compat_cli_check_json);
	tcase_add_test(tc, test_compat_cli_alias_said);
	tcase_add_test(tc, test_compat_cli_hosts);
	tcase_add_test(tc, test_compat_cli_hosts_unreadable_inventory);
	tcase_add_test(tc, test_compat_cli_reused_slot_refused);
	tcase_add_test(tc, test_compat_cli_allowlist);
	tcase_add_loop_test(tc, test_compat_cli_bad_input, 0,
			    G_N_ELEMENTS(bad_rows));
	suite_add_tcase(s, tc);
	return check_run(s);
}
