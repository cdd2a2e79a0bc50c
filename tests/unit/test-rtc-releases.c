// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The releases of modules/cmos-rtc against each other: 1.0.0 and 1.1.0
 * are fixtures built from the in-tree source (tests/fixtures/meson.build),
 * 2.0.0 is the in-tree module. First as an operator sees them, through
 * modvmm compat with each release copied alone into a module directory;
 * then the state itself, saved by one build and loaded by another.
 */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "check-tap.h"
#include "spawn.h"
#include "core/device.h"
#include "core/host.h"
#include "core/vm-devices.h"
#include "core/vmstate.h"

#define run(...)                                                               \
	run_env_argv("MODVMM", (const char *const[]){ "compat", __VA_ARGS__, NULL })

/* One test's files, removed at the end of it. */
static char *tmp;

static void tmp_setup(void)
{
	tmp = scratch_new("modvmm-rtc-XXXXXX");
}

static void tmp_teardown(void)
{
	scratch_remove(tmp);
}

/* The build of a release: "1.0", "1.1" (fixtures) or "2.0" (in tree). */
static char *release_path(const char *release)
{
	g_autofree char *name = NULL;

	if (!strcmp(release, "2.0"))
		return g_build_filename(g_getenv("MODULE_DIR"), "cmos-rtc.so",
					NULL);
	name = g_strdup_printf("fx-rtc-%s.so", release);
	return fixture_path(name);
}

/* A host's module directory holding one release as cmos-rtc.so. */
static char *host_dir(const char *release)
{
	g_autofree char *name = g_strdup_printf("host-%s", release);
	char *dir = g_build_filename(tmp, name, NULL);
	g_autofree char *from = release_path(release), *to = NULL;
	g_autofree char *data = NULL;
	gsize len;

	if (g_file_test(dir, G_FILE_TEST_IS_DIR))
		return dir;
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	to = g_build_filename(dir, "cmos-rtc.so", NULL);
	ck_assert(g_file_get_contents(from, &data, &len, NULL));
	ck_assert(g_file_set_contents(to, data, (gssize)len, NULL));
	ck_assert_int_eq(chmod(to, 0644), 0);
	return dir;
}

/* The manifest of a guest with one cmos-rtc (SPEC) on RELEASE. */
static char *guest_manifest(const char *release, const char *spec)
{
	g_autofree char *dir = host_dir(release);
	g_autofree char *name =
		g_strdup_printf("guest-%s-%s.json", release, spec);
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
	"machine microvm-1.0: tier 1, versioned (forward migration "           \
	"guaranteed while the type exists)\n"
#define DEV "cmos-rtc0 (cmos-rtc): "
#define OK "verdict: accepted, 1 device\n"
#define NO "verdict: refused, 1 of 1 device refused\n"
#define LOST_TICKS_UNKNOWN                                                     \
	"refused: subsection cmos-rtc/lost-ticks would be sent and is "        \
	"unknown here (not optional); property lost-ticks is on at the "       \
	"source; module cmos-rtc 1.0.0 here lacks it and behaves as "          \
	"lost-ticks=off\n"
/* The property 1.1 added goes with the guest only at its legacy value. */
#define WITHOUT "; without its property lost-ticks"
#define SETS "; sets new property lost-ticks=off"

static const struct check_row {
	const char *name;
	const char *src, *spec; /* release and --device of the source */
	const char *dst;	/* release at the destination */
	int status;
	const char *out;
} check_rows[] = {
	{ "1.0 -> 2.0: forward, at the version 1.0 saves, as 1.0 behaved",
	  "1.0", "cmos-rtc", "2.0", 0,
	  TIER1 DEV "accepted at version 1" SETS "\n" OK },
	{ "1.0 -> 1.1: forward, as 1.0 behaved", "1.0", "cmos-rtc", "1.1", 0,
	  TIER1 DEV "accepted at version 1" SETS "\n" OK },
	{ "1.1 -> 2.0: forward, the subsection known", "1.1", "cmos-rtc", "2.0",
	  0,
	  TIER1 DEV "accepted at version 1; knows cmos-rtc/lost-ticks\n" OK },
	{ "1.1 lost-ticks on -> 1.0: refused, naming the subsection", "1.1",
	  "cmos-rtc", "1.0", 1, TIER1 DEV LOST_TICKS_UNKNOWN NO },
	{ "1.1 lost-ticks off -> 1.0: nothing unknown is sent", "1.1",
	  "cmos-rtc,lost-ticks=off", "1.0", 0,
	  TIER1 DEV "accepted at version 1" WITHOUT "\n" OK },
	{ "2.0 -> 1.1: backward, 2.0 saves version 1", "2.0", "cmos-rtc", "1.1",
	  0,
	  TIER1 DEV "accepted at version 1; knows cmos-rtc/lost-ticks\n" OK },
	{ "2.0 lost-ticks on -> 1.0: refused, naming the subsection", "2.0",
	  "cmos-rtc", "1.0", 1, TIER1 DEV LOST_TICKS_UNKNOWN NO },
	{ "2.0 lost-ticks off -> 1.0: backward at version 1", "2.0",
	  "cmos-rtc,lost-ticks=off", "1.0", 0,
	  TIER1 DEV "accepted at version 1" WITHOUT "\n" OK },
	{ "2.0 -> 2.0: the newest version", "2.0", "cmos-rtc", "2.0", 0,
	  TIER1 DEV "accepted at version 2; knows cmos-rtc/lost-ticks\n" OK },
};

START_TEST(test_rtc_releases_compat_check)
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

/* What each release's manifest says it saves and sends. */
static const struct manifest_row {
	const char *release, *spec, *module_version;
	int64_t version, min; /* of cmos-rtc: newest saved, oldest saved */
	const char *sub;      /* its subsection, NULL for none */
	gboolean send;
} manifest_rows[] = {
	{ "1.0", "cmos-rtc", "1.0.0", 1, 1, NULL, FALSE },
	{ "1.1", "cmos-rtc", "1.1.0", 1, 1, "cmos-rtc/lost-ticks", TRUE },
	{ "1.1", "cmos-rtc,lost-ticks=off", "1.1.0", 1, 1,
	  "cmos-rtc/lost-ticks", FALSE },
	{ "2.0", "cmos-rtc", "2.0.0", 2, 1, "cmos-rtc/lost-ticks", TRUE },
	{ "2.0", "cmos-rtc,lost-ticks=off", "2.0.0", 2, 1,
	  "cmos-rtc/lost-ticks", FALSE },
};

START_TEST(test_rtc_releases_manifest)
{
	const struct manifest_row *row = &manifest_rows[_i];
	g_autofree char *path = guest_manifest(row->release, row->spec);
	g_autoptr(JsonParser) p = json_parser_new();
	JsonObject *d, *vms;
	JsonArray *subs;

	ck_assert(json_parser_load_from_file(p, path, NULL));
	d = json_array_get_object_element(
		json_object_get_array_member(
			json_node_get_object(json_parser_get_root(p)),
			"devices"),
		0);
	ck_assert_str_eq(json_object_get_string_member(d, "module_version"),
			 row->module_version);
	vms = json_object_get_object_member(d, "vmstate");
	ck_assert_str_eq(json_object_get_string_member(vms, "name"),
			 "cmos-rtc");
	ck_assert_int_eq(json_object_get_int_member(vms, "version"),
			 row->version);
	ck_assert_int_eq(json_object_get_int_member(vms, "min"), row->min);
	subs = json_object_get_array_member(d, "subsections");
	if (!row->sub) {
		ck_assert_uint_eq(json_array_get_length(subs), 0);
		return;
	}
	ck_assert_uint_eq(json_array_get_length(subs), 1);
	ck_assert_str_eq(
		json_object_get_string_member(
			json_array_get_object_element(subs, 0), "name"),
		row->sub);
	ck_assert_int_eq(
		json_object_get_boolean_member(
			json_array_get_object_element(subs, 0), "send"),
		row->send);
}
END_TEST

/* ---- the state between builds ------------------------------------------ */

/* One host: a VM with one release loaded and one cmos-rtc on it. */
struct host {
	struct vm_devices *devs;
	struct modvmm_device *dev;
};

static void host_open(struct host *h, const char *release, const char *props)
{
	g_autofree char *path = release_path(release);
	g_autofree char *spec = g_strdup_printf("cmos-rtc,id=rtc0%s", props);
	GError *err = NULL;

	h->devs = vm_devices_new(host_services());
	ck_assert_int_eq(loader_load(h->devs->loader, path, NULL, &err), 0);
	ck_assert_int_eq(device_create(h->devs, spec, &h->dev, &err), 0);
}

static void host_close(struct host *h)
{
	device_destroy_all(h->devs);
	vm_devices_free(h->devs);
}

static uint8_t host_rd(struct host *h, uint8_t idx)
{
	uint64_t v;

	ck_assert_int_eq(vm_devices_pio_write(h->devs, 0x70, 1, idx), 0);
	ck_assert_int_eq(vm_devices_pio_read(h->devs, 0x71, 1, &v), 0);
	return (uint8_t)v;
}

static void host_wr(struct host *h, uint8_t idx, uint8_t v)
{
	ck_assert_int_eq(vm_devices_pio_write(h->devs, 0x70, 1, idx), 0);
	ck_assert_int_eq(vm_devices_pio_write(h->devs, 0x71, 1, v), 0);
}

static int host_save(struct host *h, uint32_t version, GByteArray *out,
		     GError **err)
{
	int r;

	g_mutex_lock(&h->devs->lock);
	r = vmstate_save(h->dev->type->vms, h->dev->state, version, out, err);
	g_mutex_unlock(&h->devs->lock);
	return r;
}

static int host_load(struct host *h, GByteArray *in, GError **err)
{
	int r;

	g_mutex_lock(&h->devs->lock);
	r = vmstate_load(h->dev->type->vms, h->dev->state, in->data, in->len, 0,
			 "rtc0", NULL, err);
	g_mutex_unlock(&h->devs->lock);
	return r;
}

/*
 * A source whose clock is stopped (divider in reset), so that the real
 * guest clock cannot move the time under the test: its time, a RAM byte,
 * moved to the destination, which shows them.
 */
static void state_moves(const char *from, const char *from_props,
			const char *to, uint32_t version)
{
	struct host src, dst;
	g_autoptr(GByteArray) saved = g_byte_array_new();
	GError *err = NULL;

	host_open(&src, from, from_props);
	host_open(&dst, to, ",base=2001-01-01T00:00:00");
	host_wr(&src, 0x0a, 0x76);
	host_wr(&src, 0x40, 0x99);
	ck_assert_int_eq(host_save(&src, version, saved, &err), 0);
	ck_assert_msg(host_load(&dst, saved, &err) == 0, "%s -> %s: %s", from,
		      to, err ? err->message : "");
	ck_assert_uint_eq(host_rd(&dst, 0x0a), 0x76);
	ck_assert_uint_eq(host_rd(&dst, 0x40), 0x99);
	ck_assert_uint_eq(host_rd(&dst, 0x32), 0x20);
	ck_assert_uint_eq(host_rd(&dst, 9), 0x24);
	ck_assert_uint_eq(host_rd(&dst, 8), 0x02);
	ck_assert_uint_eq(host_rd(&dst, 7), 0x29);
	ck_assert_uint_eq(host_rd(&dst, 4), 0x13);
	ck_assert_uint_eq(host_rd(&dst, 2), 0x45);
	ck_assert_uint_eq(host_rd(&dst, 0), 0x07);
	host_close(&dst);
	host_close(&src);
}

#define BASE_PROPS ",base=2024-02-29T13:45:07"

START_TEST(test_rtc_releases_state_1_0_loads_in_2_0)
{
	state_moves("1.0", BASE_PROPS, "2.0", 1);
}
END_TEST

START_TEST(test_rtc_releases_state_1_1_loads_in_2_0)
{
	state_moves("1.1", BASE_PROPS, "2.0", 1);
}
END_TEST

START_TEST(test_rtc_releases_state_2_0_saves_1_for_1_1)
{
	state_moves("2.0", BASE_PROPS, "1.1", 1);
}
END_TEST

START_TEST(test_rtc_releases_state_2_0_saves_1_for_1_0_without_lost_ticks)
{
	state_moves("2.0", BASE_PROPS ",lost-ticks=off", "1.0", 1);
}
END_TEST

/* What the verdicts refuse, the loads refuse too, naming the reason. */
static const struct refuse_row {
	const char *from, *props, *to;
	uint32_t version;
	const char *message;
} refuse_rows[] = {
	{ "2.0", "", "1.1", 2,
	  "rtc0: cmos-rtc version 2 is too new: this host loads 1..1" },
	{ "1.1", "", "1.0", 1,
	  "rtc0: unknown subsection cmos-rtc/lost-ticks (not optional) at "
	  "offset 0x94" },
	{ "2.0", "", "1.0", 1,
	  "rtc0: unknown subsection cmos-rtc/lost-ticks (not optional) at "
	  "offset 0x94" },
};

START_TEST(test_rtc_releases_state_refused)
{
	const struct refuse_row *row = &refuse_rows[_i];
	struct host src, dst;
	g_autoptr(GByteArray) saved = g_byte_array_new();
	GError *err = NULL;

	host_open(&src, row->from, row->props);
	host_open(&dst, row->to, "");
	ck_assert_int_eq(host_save(&src, row->version, saved, NULL), 0);
	ck_assert_int_lt(host_load(&dst, saved, &err), 0);
	ck_assert_error(err, row->message);
	g_error_free(err);
	host_close(&dst);
	host_close(&src);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cmos-rtc releases");
	TCase *tc = tcase_create("compat");
	TCase *st = tcase_create("state");

	tcase_add_checked_fixture(tc, tmp_setup, tmp_teardown);
	tcase_add_loop_test(tc, test_rtc_releases_compat_check, 0,
			    G_N_ELEMENTS(check_rows));
	tcase_add_loop_test(tc, test_rtc_releases_manifest, 0,
			    G_N_ELEMENTS(manifest_rows));
	suite_add_tcase(s, tc);
	tcase_add_test(st, test_rtc_releases_state_1_0_loads_in_2_0);
	tcase_add_test(st, test_rtc_releases_state_1_1_loads_in_2_0);
	tcase_add_test(st, test_rtc_releases_state_2_0_saves_1_for_1_1);
	tcase_add_test(
		st,
		test_rtc_releases_state_2_0_saves_1_for_1_0_without_lost_ticks);
	tcase_add_loop_test(st, test_rtc_releases_state_refused, 0,
			    G_N_ELEMENTS(refuse_rows));
	suite_add_tcase(s, st);
	return check_run(s);
}
