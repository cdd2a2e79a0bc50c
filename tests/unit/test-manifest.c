// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Manifests and inventories as another host sends them: what is written
 * is read back unchanged, and every malformed document is refused with a
 * message naming the member that was wrong. The verdict itself is tested
 * in test-compat.c.
 */
#include <errno.h>

#include "check-tap.h"
#include "compat/manifest.h"

/* A guest manifest with what the format has: subsections on several
 * devices, sent and not, optional and not; a property; no VMState. */
static const char guest_doc[] =
	"{\"modvmm-manifest\":1,\"abi\":\"1.1\",\"machine\":\"microvm-1.0\","
	"\"machine_alias\":false,\"devices\":["
	"{\"id\":\"ex-uart0\",\"type\":\"ex-uart\",\"module\":\"ex-uart\","
	"\"module_version\":\"2.0\",\"intree\":false,"
	"\"vmstate\":{\"name\":\"ex-uart\",\"version\":4,\"min\":1,\"layouts\":["
	"{\"since\":1,\"fingerprint\":\"0123456789abcdef\"},"
	"{\"since\":3,\"fingerprint\":\"fedcba9876543210\"}]},"
	"\"subsections\":["
	"{\"name\":\"ex-uart/dma\",\"version\":2,\"optional\":false,"
	"\"send\":true,\"layouts\":[{\"since\":2,\"fingerprint\":\"00000000000000d2\"}]},"
	"{\"name\":\"ex-uart/irq\",\"version\":1,\"optional\":true,"
	"\"send\":false,\"layouts\":[{\"since\":1,\"fingerprint\":\"00000000000000e1\"}]}],"
	"\"properties\":[{\"property\":\"fifo\",\"value\":\"64\"}]},"
	"{\"id\":\"ex-rtc0\",\"type\":\"ex-rtc\",\"module\":\"ex-rtc\","
	"\"module_version\":\"1.1.0\",\"intree\":true,"
	"\"vmstate\":{\"name\":\"ex-rtc\",\"version\":2,\"min\":2,\"layouts\":["
	"{\"since\":2,\"fingerprint\":\"1111111111111111\"}]},"
	"\"subsections\":["
	"{\"name\":\"ex-rtc/alarm\",\"version\":1,\"optional\":false,"
	"\"send\":true,\"layouts\":[{\"since\":1,\"fingerprint\":\"2222222222222222\"}]}],"
	"\"properties\":[]},"
	"{\"id\":\"blk0\",\"type\":\"virtio-blk\",\"module\":\"virtio-blk\","
	"\"module_version\":\"0.3\",\"intree\":false,\"vmstate\":null,"
	"\"subsections\":[],\"properties\":[]}],"
	/* The CPU it was given: two leaves, its TSC rate, two MSRs. */
	"\"cpu\":{\"model\":\"x86-64-v2\",\"tsc_khz\":2596136,\"leaves\":["
	"{\"function\":1,\"index\":0,\"flags\":0,\"eax\":659217,"
	"\"ebx\":0,\"ecx\":2149589504,\"edx\":126614527},"
	"{\"function\":7,\"index\":0,\"flags\":1,\"eax\":1,\"ebx\":65536,"
	"\"ecx\":0,\"edx\":0}],\"msrs\":[16,3221225600]}}";

/* An inventory: machine types with compat properties, a type with a
 * subsection and a known-bad version. */
static const char inventory_doc[] =
	"{\"modvmm-inventory\":1,\"abi\":\"1.1\",\"alias\":\"microvm\","
	"\"build_date\":20291201,\"machines\":["
	"{\"name\":\"microvm-1.1\",\"released\":20270601,\"properties\":[]},"
	"{\"name\":\"microvm-1.0\",\"released\":20261122,\"properties\":["
	"{\"device\":\"ex-uart\",\"property\":\"fifo\",\"value\":\"16\"}]}],"
	"\"types\":["
	"{\"type\":\"ex-uart\",\"module\":\"ex-uart\",\"module_version\":\"2.1\","
	"\"intree\":false,\"vmstate\":{\"name\":\"ex-uart\",\"version\":3,"
	"\"min\":1,\"layouts\":["
	"{\"since\":1,\"fingerprint\":\"0123456789abcdef\"},"
	"{\"since\":3,\"fingerprint\":\"fedcba9876543210\"}]},"
	"\"subsections\":["
	"{\"name\":\"ex-uart/dma\",\"version\":2,\"min\":1,\"layouts\":["
	"{\"since\":1,\"fingerprint\":\"00000000000000d1\"},"
	"{\"since\":2,\"fingerprint\":\"00000000000000d2\"}]}],"
	"\"known_bad\":[{\"version\":\"2.0\",\"reason\":\"FIFO count not "
	"saved\"}]},"
	"{\"type\":\"pvpanic\",\"module\":\"pvpanic\",\"module_version\":\"1.0\","
	"\"intree\":true,\"vmstate\":null,\"subsections\":[],\"known_bad\":[]}],"
	"\"cpu\":{\"model\":\"host\",\"tsc_khz\":3000000,\"tsc_scaling\":true,"
	"\"leaves\":[{\"function\":1,\"index\":0,\"flags\":0,\"eax\":1,"
	"\"ebx\":2,\"ecx\":3,\"edx\":4}],\"msrs\":[]}}";

static int parse(const char *text, size_t len, enum manifest_kind kind,
		 struct manifest **ret, GError **err)
{
	return manifest_parse("doc.json", text, len, kind, ret, err);
}

/* Written out and read back: the same document, member for member. */
START_TEST(test_manifest_round_trip)
{
	static const struct {
		const char *doc;
		enum manifest_kind kind;
		guint entries;
	} docs[] = { { guest_doc, MANIFEST_GUEST, 3 },
		     { inventory_doc, MANIFEST_INVENTORY, 2 } };

	for (size_t i = 0; i < G_N_ELEMENTS(docs); i++) {
		struct manifest *m = NULL, *back = NULL;
		g_autofree char *json = NULL, *again = NULL;
		GError *err = NULL;

		ck_assert_msg(parse(docs[i].doc, strlen(docs[i].doc),
				    docs[i].kind, &m, &err) == 0,
			      "%s", err ? err->message : "");
		ck_assert_uint_eq(m->devices->len, docs[i].entries);
		json = manifest_to_json(m);
		ck_assert_msg(parse(json, strlen(json), docs[i].kind, &back,
				    &err) == 0,
			      "%s", err ? err->message : "");
		again = manifest_to_json(back);
		ck_assert_str_eq(json, again);
		manifest_free(back);
		manifest_free(m);
	}
}
END_TEST

/* What each document says when read: every member the reader kept. */
START_TEST(test_manifest_read_values)
{
	struct manifest *m = NULL, *inv = NULL;
	const struct manifest_device *d;
	const struct manifest_vms *s;
	const struct manifest_prop *p;
	GError *err = NULL;

	ck_assert_int_eq(parse(guest_doc, strlen(guest_doc), MANIFEST_GUEST,
			       &m, &err), 0);
	ck_assert_str_eq(m->machine, "microvm-1.0");
	ck_assert_int_eq(m->machine_alias, 0);
	d = m->devices->pdata[0];
	ck_assert_str_eq(d->id, "ex-uart0");
	ck_assert_str_eq(d->module_version, "2.0");
	ck_assert_int_eq(d->intree, 0);
	ck_assert_uint_eq(d->vms->min, 1);
	ck_assert_uint_eq(d->vms->version, 4);
	ck_assert_str_eq(manifest_vms_layout(d->vms, 2), "0123456789abcdef");
	ck_assert_str_eq(manifest_vms_layout(d->vms, 4), "fedcba9876543210");
	ck_assert_uint_eq(d->subs->len, 2);
	s = d->subs->pdata[1];
	ck_assert_str_eq(s->name, "ex-uart/irq");
	ck_assert_int_eq(s->optional, 1);
	ck_assert_int_eq(s->send, 0);
	/* An older writer's list: compat properties, set by the machine. */
	ck_assert_int_eq(d->props_complete, 0);
	p = d->props->pdata[0];
	ck_assert_str_eq(p->property, "fifo");
	ck_assert_str_eq(p->value, "64");
	ck_assert_int_eq(p->set, 1);
	ck_assert_int_eq(p->machine, 1);
	d = m->devices->pdata[2];
	ck_assert_ptr_null(d->vms);
	ck_assert_str_eq(m->cpu->name, "x86-64-v2");
	ck_assert_uint_eq(m->cpu->tsc_khz, 2596136);
	ck_assert_uint_eq(m->cpu->leaves->len, 2);
	ck_assert_uint_eq(cpu_model_leaf(m->cpu, 7, 0)->ebx, 65536);
	ck_assert_uint_eq(cpu_model_leaf(m->cpu, 1, 5)->edx, 126614527);
	ck_assert_uint_eq(m->cpu->msrs->len, 2);
	ck_assert_int_eq(cpu_model_has_msr(m->cpu, 0xc0000080), 1);

	ck_assert_int_eq(parse(inventory_doc, strlen(inventory_doc),
			       MANIFEST_INVENTORY, &inv, &err), 0);
	ck_assert_uint_eq(inv->registry.n_types, 2);
	ck_assert_uint_eq(inv->registry.build_date, 20291201);
	ck_assert_str_eq(inv->registry.types[1].name, "microvm-1.0");
	ck_assert_uint_eq(inv->registry.types[1].n_props, 1);
	d = inv->devices->pdata[0];
	ck_assert_uint_eq(((const struct manifest_vms *)d->subs->pdata[0])->min,
			  1);
	ck_assert_str_eq(
		((const struct manifest_known_bad *)d->known_bad->pdata[0])
			->reason,
		"FIFO count not saved");
	ck_assert_str_eq(inv->cpu->name, "host");
	ck_assert_int_eq(inv->cpu->tsc_scaling, 1);
	ck_assert_uint_eq(inv->cpu->tsc_khz, 3000000);
	manifest_free(inv);
	manifest_free(m);
}
END_TEST

/* A document of an older writer has no "cpu": none is listed. */
START_TEST(test_manifest_without_cpu)
{
	g_autofree char *doc = NULL;
	struct manifest *m = NULL;
	GError *err = NULL;
	const char *at = strstr(guest_doc, ",\"cpu\":");

	doc = g_strdup_printf("%.*s}", (int)(at - guest_doc), guest_doc);
	ck_assert_int_eq(parse(doc, strlen(doc), MANIFEST_GUEST, &m, &err), 0);
	ck_assert_ptr_null(m->cpu);
	g_free(doc);
	doc = manifest_to_json(m);
	ck_assert_ptr_null(strstr(doc, "\"cpu\""));
	manifest_free(m);
}
END_TEST

/*
 * Each row changes the first occurrence of `from` in a valid document
 * into `to`; the reader must refuse it with exactly `msg` and return no
 * document. A `msg` ending in '*' is a prefix: the rest is json-glib's.
 */
static const struct bad_row {
	enum manifest_kind kind;
	const char *from, *to;
	int err;
	const char *msg;
} bad_rows[] = {
	{ MANIFEST_GUEST, "3221225600]}}", "3221225600]}", EINVAL,
	  "doc.json: not JSON: *" },
	{ MANIFEST_GUEST, "{\"modvmm", "/* */ {\"modvmm", EINVAL, "doc.json: not JSON: unexpected byte 0x2f at offset 0" },
	{ MANIFEST_GUEST, "{\"modvmm", "'x' {\"modvmm", EINVAL, "doc.json: not JSON: unexpected byte 0x27 at offset 0" },
	{ MANIFEST_GUEST, "3221225600]}}", "3221225600]}}{}", EINVAL,
	  "doc.json: not JSON: unexpected byte 0x7b at offset *" },
	{ MANIFEST_GUEST, "\"modvmm-manifest\":1", "\"modvmm-manifest\":2",
	  EPROTONOSUPPORT, "doc.json: format version 2; this host reads version 1" },
	{ MANIFEST_GUEST, "\"modvmm-manifest\":1", "\"modvmm-manifest\":\"1\"",
	  EINVAL, "doc.json: modvmm-manifest: expected an integer" },
	{ MANIFEST_INVENTORY, "\"modvmm-manifest\":1", "\"modvmm-manifest\":1",
	  EINVAL, "doc.json: not an inventory (no \"modvmm-inventory\" member; this is a "
	  "manifest)" },
	{ MANIFEST_GUEST, "\"machine\":\"microvm-1.0\",", "", EINVAL, "doc.json: machine: missing" },
	{ MANIFEST_GUEST, "\"cpu\":{", "\"cpu\":[],\"x\":{", EINVAL,
	  "doc.json: cpu: expected an object or null" },
	{ MANIFEST_GUEST, "\"model\":\"x86-64-v2\",", "", EINVAL,
	  "doc.json: cpu.model: missing" },
	{ MANIFEST_GUEST, "\"model\":\"x86-64-v2\"", "\"model\":\"\"", EINVAL,
	  "doc.json: cpu.model: empty" },
	{ MANIFEST_GUEST, "\"tsc_khz\":2596136", "\"tsc_khz\":-1", EINVAL,
	  "doc.json: cpu.tsc_khz: -1 is out of range" },
	{ MANIFEST_GUEST, "\"tsc_khz\":2596136,", "", EINVAL,
	  "doc.json: cpu.tsc_khz: missing" },
	{ MANIFEST_INVENTORY, "\"tsc_scaling\":true", "\"tsc_scaling\":1", EINVAL,
	  "doc.json: cpu.tsc_scaling: expected true or false" },
	{ MANIFEST_GUEST, "\"leaves\":[{\"function\":1", "\"leaves\":[],\"x\":[{\"function\":1",
	  EINVAL, "doc.json: cpu.leaves: missing or empty" },
	{ MANIFEST_GUEST, "\"leaves\":[", "\"leaves\":7,\"x\":[", EINVAL,
	  "doc.json: cpu.leaves: expected an array" },
	{ MANIFEST_GUEST, "{\"function\":1,", "7,{\"function\":1,", EINVAL,
	  "doc.json: cpu.leaves[0]: expected an object" },
	{ MANIFEST_GUEST, "\"function\":7,", "\"function\":1,", EINVAL,
	  "doc.json: cpu.leaves[1]: leaf 0x1 index 0 is listed twice" },
	{ MANIFEST_GUEST, "\"ecx\":2149589504", "\"ecx\":4294967296", EINVAL,
	  "doc.json: cpu.leaves[0].ecx: 4294967296 is out of range" },
	{ MANIFEST_GUEST, "\"edx\":126614527", "\"edx\":\"x\"", EINVAL,
	  "doc.json: cpu.leaves[0].edx: expected an integer" },
	{ MANIFEST_GUEST, "\"flags\":1,", "", EINVAL,
	  "doc.json: cpu.leaves[1].flags: missing" },
	{ MANIFEST_GUEST, "\"msrs\":[16,", "\"msrs\":[16,16,", EINVAL,
	  "doc.json: cpu.msrs[1]: MSR 0x10 is listed twice" },
	{ MANIFEST_GUEST, "\"msrs\":[16,", "\"msrs\":[\"16\",", EINVAL,
	  "doc.json: cpu.msrs[0]: expected an integer" },
	{ MANIFEST_GUEST, "\"msrs\":[16,", "\"msrs\":[-16,", EINVAL,
	  "doc.json: cpu.msrs[0]: -16 is out of range" },
	{ MANIFEST_GUEST, "\"msrs\":[", "\"msrs\":{},\"x\":[", EINVAL,
	  "doc.json: cpu.msrs: expected an array" },
	{ MANIFEST_GUEST, "\"id\":\"ex-rtc0\"", "\"id\":\"ex-uart0\"", EINVAL,
	  "doc.json: devices[1].id: ex-uart0 is listed twice" },
	{ MANIFEST_GUEST, "\"id\":\"ex-uart0\"", "\"id\":7", EINVAL, "doc.json: devices[0].id: expected a string" },
	{ MANIFEST_GUEST, "\"version\":4", "\"version\":-1", EINVAL, "doc.json: devices[0].vmstate.version: -1 is out of range" },
	{ MANIFEST_GUEST, "\"version\":4", "\"version\":4294967296", EINVAL,
	  "doc.json: devices[0].vmstate.version: 4294967296 is out of range" },
	{ MANIFEST_GUEST, "\"version\":4", "\"version\":0.5", EINVAL, "doc.json: devices[0].vmstate.version: expected an integer" },
	{ MANIFEST_GUEST, "\"min\":1", "\"min\":5", EINVAL, "doc.json: devices[0].vmstate: version range 5..4: both must be at "
	  "least 1 and in order" },
	{ MANIFEST_GUEST, "\"since\":1", "\"since\":2", EINVAL, "doc.json: devices[0].vmstate.layouts[0].since: 2: the first layout "
	  "must cover the oldest version" },
	{ MANIFEST_GUEST, "\"since\":3", "\"since\":9", EINVAL, "doc.json: devices[0].vmstate.layouts[1].since: 9: after the newest "
	  "version, 4" },
	{ MANIFEST_GUEST, "0123456789abcdef", "0123456789abcdeg", EINVAL,
	  "doc.json: devices[0].vmstate.layouts[0].fingerprint: expected 16 "
	  "lowercase hex digits" },
	{ MANIFEST_GUEST, "\"fingerprint\":\"fedcba9876543210\"",
	  "\"fingerprint\":\"fedcba98\"", EINVAL, "doc.json: devices[0].vmstate.layouts[1].fingerprint: expected 16 "
	  "lowercase hex digits" },
	{ MANIFEST_GUEST, "ex-uart/irq", "ex-uart/dma", EINVAL, "doc.json: devices[0].subsections[1].name: ex-uart/dma is listed twice" },
	{ MANIFEST_GUEST, "\"optional\":true", "\"optional\":1", EINVAL, "doc.json: devices[0].subsections[1].optional: expected true or false" },
	{ MANIFEST_GUEST, "\"devices\":[", "\"devices\":{\"x\":[", EINVAL,
	  "doc.json: not JSON: *" },
	{ MANIFEST_GUEST, "\"properties\":[{\"property\":\"fifo\",",
	  "\"properties\":[{", EINVAL, "doc.json: devices[0].properties[0].property: missing" },
	{ MANIFEST_GUEST, "\"module\":\"ex-uart\"", "\"module\":\"ex\\u0000\"",
	  EINVAL, "doc.json: a string holds \\u0000 at offset 136" },
	{ MANIFEST_GUEST, "\"machine\":\"microvm-1.0\"",
	  "\"machine\":\"\\udc8dovm\"", EINVAL,
	  "doc.json: machine: not UTF-8 at byte 0" },
	{ MANIFEST_INVENTORY, "\"name\":\"microvm-1.0\"",
	  "\"name\":\"microvm-1.1\"", EINVAL, "doc.json: machines[1].name: microvm-1.1 is listed twice" },
	{ MANIFEST_INVENTORY, "\"name\":\"microvm-1.1\"", "\"name\":\"microvm\"",
	  EINVAL, "doc.json: machines[0].name: microvm is the alias, not a "
		  "machine type" },
	{ MANIFEST_INVENTORY, "\"released\":20270601", "\"released\":\"june\"",
	  EINVAL, "doc.json: machines[0].released: expected an integer" },
	{ MANIFEST_INVENTORY, "\"type\":\"pvpanic\"", "\"type\":\"ex-uart\"",
	  EINVAL, "doc.json: types[1].type: ex-uart is listed twice" },
	{ MANIFEST_INVENTORY, "\"known_bad\":[{\"version\":\"2.0\",",
	  "\"known_bad\":[{", EINVAL, "doc.json: types[0].known_bad[0].version: missing" },
	{ MANIFEST_INVENTORY, "\"alias\":\"microvm\",", "", EINVAL, "doc.json: alias: missing" },
};

static char *replace_once(const char *doc, const char *from, const char *to)
{
	const char *at = strstr(doc, from);

	ck_assert_msg(at, "row does not match the document: %s", from);
	return g_strdup_printf("%.*s%s%s", (int)(at - doc), doc, to,
			       at + strlen(from));
}

START_TEST(test_manifest_bad)
{
	const struct bad_row *r = &bad_rows[_i];
	const char *base = r->kind == MANIFEST_GUEST ? guest_doc : inventory_doc;
	g_autofree char *doc = NULL;
	struct manifest *m = NULL;
	GError *err = NULL;
	size_t n;
	int ret;

	/* The inventory row that names the other kind reads the manifest. */
	if (!strstr(base, r->from))
		base = base == guest_doc ? inventory_doc : guest_doc;
	doc = replace_once(base, r->from, r->to);
	ret = parse(doc, strlen(doc), r->kind, &m, &err);
	ck_assert_msg(ret == -r->err && err && !m, "row %d: %d %s", _i, ret,
		      err ? err->message : "accepted");
	n = strlen(r->msg);
	if (r->msg[n - 1] == '*')
		n--;
	else
		n++;
	ck_assert_msg(!strncmp(err->message, r->msg, n),
		      "row %d:\n%s\nexpected:\n%s", _i, err->message, r->msg);
	g_error_free(err);
}
END_TEST

/* Nesting is bounded before the recursive parser sees the document. */
START_TEST(test_manifest_depth)
{
	for (int depth = 15; depth <= 17; depth++) {
		g_autoptr(GString) doc = g_string_new("{\"modvmm-manifest\":1,\"x\":");
		struct manifest *m = NULL;
		GError *err = NULL;

		for (int i = 2; i <= depth; i++)
			g_string_append_c(doc, '[');
		for (int i = 2; i <= depth; i++)
			g_string_append_c(doc, ']');
		g_string_append_c(doc, '}');
		ck_assert_int_lt(parse(doc->str, doc->len, MANIFEST_GUEST, &m,
				       &err), 0);
		ck_assert_msg(
			(depth > 16) ==
				!!strstr(err->message, "nested deeper than 16"),
			"depth %d: %s", depth, err->message);
		g_error_free(err);
	}
}
END_TEST

/* Above the size bound a document is refused unread. */
START_TEST(test_manifest_size_bound)
{
	size_t len = MANIFEST_MAX_BYTES + 1;
	g_autofree char *doc = g_malloc(len);
	struct manifest *m = NULL;
	GError *err = NULL;

	memset(doc, ' ', len);
	ck_assert_int_eq(parse(doc, len, MANIFEST_INVENTORY, &m, &err),
			 -EFBIG);
	ck_assert_str_eq(err->message,
			 "doc.json: 8388609 bytes, more than the 8388608 an "
			 "inventory may have");
	g_error_free(err);
}
END_TEST

/* More CPUID leaves than the bound: refused, naming the bound. */
START_TEST(test_manifest_cpu_leaf_bound)
{
	GString *leaves = g_string_new(NULL);
	g_autofree char *doc = NULL;
	struct manifest *m = NULL;
	GError *err = NULL;
	const char *at = strstr(guest_doc, "\"leaves\":[");

	for (unsigned int i = 0; i <= CPU_MAX_LEAVES; i++)
		g_string_append_printf(leaves,
				       "%s{\"function\":%u,\"index\":0,"
				       "\"flags\":0,\"eax\":0,\"ebx\":0,"
				       "\"ecx\":0,\"edx\":0}",
				       i ? "," : "", i);
	doc = g_strdup_printf("%.*s\"leaves\":[%s],\"msrs\":[]}}",
			      (int)(at - guest_doc), guest_doc, leaves->str);
	g_string_free(leaves, TRUE);
	ck_assert_int_eq(parse(doc, strlen(doc), MANIFEST_GUEST, &m, &err),
			 -EINVAL);
	ck_assert_str_eq(err->message,
			 "doc.json: cpu.leaves: 1025 entries, at most 1024");
	g_error_free(err);
}
END_TEST

/* More devices than the bound: refused, naming the bound. */
START_TEST(test_manifest_device_bound)
{
	g_autoptr(GString) doc = g_string_new(
		"{\"modvmm-manifest\":1,\"abi\":\"1.1\",\"machine\":\"m\","
		"\"machine_alias\":false,\"devices\":[");
	struct manifest *m = NULL;
	GError *err = NULL;

	for (unsigned int i = 0; i <= MANIFEST_MAX_DEVICES; i++)
		g_string_append_printf(
			doc,
			"%s{\"id\":\"d%u\",\"type\":\"t\",\"module\":\"t\","
			"\"module_version\":\"1\",\"intree\":true,"
			"\"vmstate\":null,\"subsections\":[],"
			"\"properties\":[]}",
			i ? "," : "", i);
	g_string_append(doc, "]}");
	ck_assert_int_eq(parse(doc->str, doc->len, MANIFEST_GUEST, &m, &err),
			 -EINVAL);
	ck_assert_str_eq(err->message,
			 "doc.json: devices: 4097 entries, at most 4096");
	g_error_free(err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("manifest");
	TCase *tc = tcase_create("manifest");

	tcase_add_test(tc, test_manifest_round_trip);
	tcase_add_test(tc, test_manifest_read_values);
	tcase_add_test(tc, test_manifest_without_cpu);
	tcase_add_loop_test(tc, test_manifest_bad, 0, G_N_ELEMENTS(bad_rows));
	tcase_add_test(tc, test_manifest_depth);
	tcase_add_test(tc, test_manifest_size_bound);
	tcase_add_test(tc, test_manifest_device_bound);
	tcase_add_test(tc, test_manifest_cpu_leaf_bound);
	suite_add_tcase(s, tc);
	return check_run(s);
}
