// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The migration verdict: a table of scenarios, one row each, with the
 * whole verdict an operator reads; the retired-slot rule at registration;
 * and generated manifest/inventory pairs checked against a second, plain
 * implementation of the rule written here.
 */
#include <errno.h>

#include "check-tap.h"
#include "compat/manifest.h"
#include "compat/negotiate.h"
#include "core/vmstate.h"

/* Rows override the defaults that FX() fills in. */
#pragma GCC diagnostic ignored "-Woverride-init"

#define FA "aaaaaaaaaaaaaaaa"
#define FB "bbbbbbbbbbbbbbbb"
#define FC "cccccccccccccccc"

/* ---- registries of four releases ------------------------------------ */

static const struct compat_prop extra_off[] = { { "fx", "extra", "off" } };

static const struct machine_type t20 = { "microvm-2.0", 20330101, NULL, 0 };
static const struct machine_type t11 = { "microvm-1.1", 20270601, NULL, 0 };
static const struct machine_type t101 = { "microvm-1.0.1", 20270301, NULL, 0 };
static const struct machine_type t10 = { "microvm-1.0", 20261122, NULL, 0 };
static const struct machine_type t10_props = { "microvm-1.0", 20261122,
					       extra_off, 1 };

enum reg {
	R10,   /* release 1.0: microvm-1.0 */
	R101,  /* release 1.0.1: adds the bugfix type microvm-1.0.1 */
	R11,   /* release 1.1: microvm-1.1, microvm-1.0.1, microvm-1.0 */
	R2030, /* release 1.1, built in 2030: microvm-1.0 deprecated */
	R2033, /* release 2.0 in 2033: microvm-1.0 removed */
	RPROP, /* release 1.0 where microvm-1.0 sets fx.extra=off */
};

static const struct {
	uint32_t build;
	const struct machine_type *types[4];
} regs[] = {
	[R10] = { 20261122, { &t10 } },
	[R101] = { 20270301, { &t101, &t10 } },
	[R11] = { 20270601, { &t11, &t101, &t10 } },
	[R2030] = { 20300101, { &t11, &t10 } },
	[R2033] = { 20330101, { &t20, &t10 } },
	[RPROP] = { 20261122, { &t10_props } },
};

/* ---- building manifests from rows ----------------------------------- */

struct sub_spec {
	const char *name;
	uint32_t min, version;
	int optional, send;
	const char *fp;
};

struct dev_spec {
	const char *type; /* NULL: no such device type (destination) */
	const char *module_version;
	const char *vms; /* description name; NULL: no VMState */
	uint32_t min, max;
	const char *fps[3]; /* layout of versions 1..3 */
	struct sub_spec subs[2];
	/* A property: the source's value, set by the machine type unless
	 * `user` or `unset`; its legacy value; `complete`: the source lists
	 * every property (what a current writer does). */
	const char *prop, *value, *legacy;
	int user, unset, complete;
	const char *bad_version, *bad_reason;
};

static struct manifest_vms *vms_of(struct manifest *m, const char *name,
				   uint32_t min, uint32_t max,
				   const char *const *fps)
{
	struct manifest_vms *v = manifest_vms_new();

	v->name = manifest_str(m, name);
	v->min = min;
	v->version = max;
	for (uint32_t ver = min; ver <= max; ver++)
		manifest_vms_add_layout(v, ver, fps[ver - 1]);
	return v;
}

static void add_dev(struct manifest *m, const struct dev_spec *s,
		    const char *id)
{
	struct manifest_device *d;

	if (!s->type)
		return;
	d = manifest_add_device(m);
	d->id = manifest_str(m, id);
	d->type = manifest_str(m, s->type);
	d->module = manifest_str(m, s->type);
	d->module_version =
		manifest_str(m, s->module_version ? s->module_version : "1.0.0");
	if (s->vms)
		d->vms = vms_of(m, s->vms, s->min, s->max, s->fps);
	for (int i = 0; i < 2 && s->subs[i].name; i++) {
		const struct sub_spec *ss = &s->subs[i];
		const char *fps[3] = { ss->fp, ss->fp, ss->fp };
		struct manifest_vms *v =
			vms_of(m, ss->name,
			       m->kind == MANIFEST_GUEST ? ss->version : ss->min,
			       ss->version, fps);

		v->optional = ss->optional;
		v->send = ss->send;
		g_ptr_array_add(d->subs, v);
	}
	if (s->prop) {
		struct manifest_prop *p = g_new0(struct manifest_prop, 1);

		p->property = manifest_str(m, s->prop);
		p->value = manifest_str(m, s->value);
		p->legacy = manifest_str(m, s->legacy);
		p->set = !s->unset;
		p->machine = !s->unset && !s->user;
		g_ptr_array_add(d->props, p);
	}
	d->props_complete = s->complete;
	if (s->bad_version) {
		struct manifest_known_bad *kb =
			g_new0(struct manifest_known_bad, 1);

		kb->version = manifest_str(m, s->bad_version);
		kb->reason = manifest_str(m, s->bad_reason);
		g_ptr_array_add(d->known_bad, kb);
	}
}

static struct manifest *inventory(enum reg r)
{
	struct manifest *m = manifest_new(MANIFEST_INVENTORY);

	m->abi = "1.1";
	m->registry.alias = "microvm";
	m->registry.build_date = regs[r].build;
	for (int i = 0; i < 4 && regs[r].types[i]; i++)
		manifest_add_machine(m, regs[r].types[i]);
	return m;
}

static struct manifest *guest(const char *machine, int alias)
{
	struct manifest *m = manifest_new(MANIFEST_GUEST);

	m->abi = "1.1";
	m->machine = manifest_str(m, machine);
	m->machine_alias = alias;
	return m;
}

/*
 * What the other host reads: the document written out as JSON and parsed
 * back, so every verdict below also passes through the format.
 */
static struct manifest *wire(struct manifest *m)
{
	g_autofree char *json = manifest_to_json(m);
	struct manifest *back = NULL;
	GError *err = NULL;

	ck_assert_msg(manifest_parse("wire", json, strlen(json), m->kind,
				     &back, &err) == 0,
		      "%s\n%s", err ? err->message : "?", json);
	manifest_free(m);
	return back;
}

/* ---- the scenario table --------------------------------------------- */

#define T1 "machine microvm-1.0: tier 1, versioned (forward migration "       \
	   "guaranteed while the type exists)\n"
#define OK1 "verdict: accepted, 1 device\n"
#define NO1 "verdict: refused, 1 of 1 device refused\n"

/* A device "fx" at state version 1 with layout FA: the common case. */
#define FX(...)                                                                \
	{                                                                      \
		.type = "fx", .vms = "fx", .min = 1, .max = 1,                 \
		.fps = { FA, FB, FC }, __VA_ARGS__                             \
	}
#define EXTRA(opt, snd, f)                                                     \
	.subs = { { "fx/extra", 1, 1, (opt), (snd), (f) } }

static const struct row {
	const char *name;
	const char *machine; /* the source's; NULL: microvm-1.0 */
	int alias;
	enum reg dst_reg;
	const char *dst_machine;
	struct dev_spec src, dst;
	const char *text; /* the whole verdict */
} rows[] = {
	{ "same module on both hosts", NULL, 0, R10, NULL, FX(), FX(),
	  T1 "d0 (fx): accepted at version 1\n" OK1 },
	/* A new subsection behind a compat property: the old machine type
	 * turns it off, so it is not sent; the new type sends it. */
	{ "new subsection, old machine type: not sent, old host accepts",
	  NULL, 0, R10, NULL, FX(EXTRA(0, 0, FB)), FX(),
	  T1 "d0 (fx): accepted at version 1\n" OK1 },
	{ "new subsection, new machine type: sent, old host refuses", NULL, 0,
	  R10, NULL, FX(EXTRA(0, 1, FB)), FX(),
	  T1 "d0 (fx): refused: subsection fx/extra would be sent and is "
	     "unknown here (not optional)\n" NO1 },
	{ "subsection known here", NULL, 0, R10, NULL, FX(EXTRA(0, 1, FB)),
	  FX(EXTRA(0, 0, FB)),
	  T1 "d0 (fx): accepted at version 1; knows fx/extra\n" OK1 },
	{ "subsection not sent, known here at another layout: not known",
	  NULL, 0, R10, NULL, FX(EXTRA(0, 0, FB)), FX(EXTRA(0, 0, FC)),
	  T1 "d0 (fx): accepted at version 1\n" OK1 },
	{ "subsection not sent, known here at its layout: known", NULL, 0,
	  R10, NULL, FX(EXTRA(0, 0, FB)), FX(EXTRA(0, 0, FB)),
	  T1 "d0 (fx): accepted at version 1; knows fx/extra\n" OK1 },
	{ "downstream-only subsection, not optional", NULL, 0, R10, NULL,
	  FX(.subs = { { "fx/downstream", 1, 1, 0, 1, FB } }), FX(),
	  T1 "d0 (fx): refused: subsection fx/downstream would be sent and "
	     "is unknown here (not optional)\n" NO1 },
	{ "downstream-only subsection, optional: dropped", NULL, 0, R10, NULL,
	  FX(.subs = { { "fx/downstream", 1, 1, 1, 1, FB } }), FX(),
	  T1 "d0 (fx): accepted at version 1; drops optional fx/downstream\n" OK1 },
	{ "subsection with another layout", NULL, 0, R10, NULL,
	  FX(EXTRA(0, 1, FB)), FX(EXTRA(0, 0, FC)),
	  T1 "d0 (fx): refused: fx/extra version 1 has a different layout "
	     "here (fingerprint " FB " at the source, " FC " here)\n" NO1 },
	{ "subsection newer than this host loads", NULL, 0, R10, NULL,
	  FX(.subs = { { "fx/extra", 2, 2, 0, 1, FB } }), FX(EXTRA(0, 0, FB)),
	  T1 "d0 (fx): refused: subsection fx/extra is sent at version 2; "
	     "this host loads 1..1\n" NO1 },
	{ "version bump keeping min_version: old to new", NULL, 0, R10, NULL,
	  FX(), FX(.max = 2),
	  T1 "d0 (fx): accepted at version 1\n" OK1 },
	{ "version bump raising min_version: old to new", NULL, 0, R10, NULL,
	  FX(), FX(.min = 2, .max = 2),
	  T1 "d0 (fx): refused: fx: versions do not meet: the source saves "
	     "1..1, this host loads 2..2\n" NO1 },
	{ "backward n to n-1, the source can save the older version", NULL, 0,
	  R10, NULL, FX(.max = 2), FX(),
	  T1 "d0 (fx): accepted at version 1\n" OK1 },
	{ "backward n to n-1, the source cannot", NULL, 0, R10, NULL,
	  FX(.min = 2, .max = 2), FX(),
	  T1 "d0 (fx): refused: fx: versions do not meet: the source saves "
	     "2..2, this host loads 1..1\n" NO1 },
	{ "same version, another layout", NULL, 0, R10, NULL, FX(),
	  FX(.fps = { FB }),
	  T1 "d0 (fx): refused: fx version 1 has a different layout here "
	     "(fingerprint " FA " at the source, " FB " here)\n" NO1 },
	{ "renamed description", NULL, 0, R10, NULL, FX(),
	  FX(.vms = "fx-state"),
	  T1 "d0 (fx): refused: state description renamed: the source sends "
	     "fx, module fx 1.0.0 here loads fx-state\n" NO1 },
	{ "module missing here", NULL, 0, R10, NULL, FX(), { 0 },
	  T1 "d0 (fx): refused: module missing: no module here provides "
	     "device type fx (the source has module fx 1.0.0)\n" NO1 },
	{ "device without VMState", NULL, 0, R10, NULL, FX(.vms = NULL), FX(),
	  T1 "d0 (fx): refused: device type fx (module fx 1.0.0) has no "
	     "VMState: it blocks migration\n" NO1 },
	{ "no VMState here", NULL, 0, R10, NULL, FX(), FX(.vms = NULL),
	  T1 "d0 (fx): refused: module fx 1.0.0 here has no VMState for "
	     "device type fx\n" NO1 },
	{ "source module version known bad here", NULL, 0, R10, NULL,
	  FX(.module_version = "2.0.0"),
	  FX(.module_version = "2.1.0", .bad_version = "2.0.0",
	     .bad_reason = "2.0.0 saved the counter doubled"),
	  T1 "d0 (fx): refused: module fx 2.0.0 is known bad (declared by "
	     "2.1.0 here): 2.0.0 saved the counter doubled\n" NO1 },
	{ "another version known bad: not this one", NULL, 0, R10, NULL,
	  FX(.module_version = "1.9.0"),
	  FX(.module_version = "2.1.0", .bad_version = "2.0.0",
	     .bad_reason = "2.0.0 saved the counter doubled"),
	  T1 "d0 (fx): accepted at version 1\n" OK1 },
	{ "every reason of one device", NULL, 0, R10, NULL,
	  FX(.module_version = "2.0.0", .min = 2, .max = 2,
	     EXTRA(0, 1, FB)),
	  FX(.module_version = "2.1.0", .bad_version = "2.0.0",
	     .bad_reason = "bad"),
	  T1 "d0 (fx): refused: module fx 2.0.0 is known bad (declared by "
	     "2.1.0 here): bad; fx: versions do not meet: the source saves "
	     "2..2, this host loads 1..1; subsection fx/extra would be sent "
	     "and is unknown here (not optional)\n" NO1 },
	{ "machine type removed here", NULL, 0, R2033, NULL, FX(), FX(),
	  T1 "refused: machine type microvm-1.0 was removed here on 2032-11-22 "
	     "(6 years after its release); use microvm-2.0\n"
	     "d0 (fx): accepted at version 1\n"
	     "verdict: refused, 0 of 1 device refused, and the machine type\n" },
	{ "machine type deprecated here: a warning", NULL, 0, R2030, NULL,
	  FX(), FX(),
	  T1 "warning: machine type microvm-1.0 is deprecated here since "
	     "2029-11-22 and will be removed on 2032-11-22; new guests should "
	     "use microvm-1.1\n"
	     "d0 (fx): accepted at version 1\n" OK1 },
	{ "bugfix type, older release without it", "microvm-1.0.1", 0, R10,
	  NULL, FX(), FX(),
	  "machine microvm-1.0.1: tier 1, versioned (forward migration "
	  "guaranteed while the type exists)\n"
	  "refused: machine type microvm-1.0.1 is unknown here (this host has "
	  "microvm-1.0)\n"
	  "d0 (fx): accepted at version 1\n"
	  "verdict: refused, 0 of 1 device refused, and the machine type\n" },
	{ "bugfix type, the release that added it", "microvm-1.0.1", 0, R101,
	  NULL, FX(), FX(),
	  "machine microvm-1.0.1: tier 1, versioned (forward migration "
	  "guaranteed while the type exists)\n"
	  "d0 (fx): accepted at version 1\n" OK1 },
	{ "bugfix type, the next release", "microvm-1.0.1", 0, R11, NULL,
	  FX(), FX(),
	  "machine microvm-1.0.1: tier 1, versioned (forward migration "
	  "guaranteed while the type exists)\n"
	  "d0 (fx): accepted at version 1\n" OK1 },
	{ "unversioned alias: tier 2", NULL, 1, R11, NULL, FX(), FX(),
	  "machine microvm-1.0: tier 2, started as the unversioned alias (no "
	  "guarantee across releases; checked here)\n"
	  "d0 (fx): accepted at version 1\n" OK1 },
	{ "destination asked for another machine type", NULL, 0, R11,
	  "microvm-1.1", FX(), FX(),
	  T1 "refused: the destination was asked for machine type microvm-1.1 "
	     "but the guest runs microvm-1.0\n"
	     "d0 (fx): accepted at version 1\n"
	     "verdict: refused, 0 of 1 device refused, and the machine type\n" },
	{ "destination asked for a machine type it does not have", NULL, 0,
	  R11, "microvm-9.9", FX(), FX(),
	  T1 "refused: the destination was asked for machine type microvm-9.9, "
	     "which is unknown here\n"
	     "d0 (fx): accepted at version 1\n"
	     "verdict: refused, 0 of 1 device refused, and the machine type\n" },
	{ "compat property value differs here", NULL, 0, RPROP, NULL,
	  FX(.prop = "extra", .value = "on"), FX(.prop = "extra"),
	  T1 "d0 (fx): refused: compat property fx.extra is on at the source "
	     "but off here for machine type microvm-1.0\n" NO1 },
	{ "compat property value agrees", NULL, 0, RPROP, NULL,
	  FX(.prop = "extra", .value = "off"), FX(.prop = "extra"),
	  T1 "d0 (fx): accepted at version 1\n" OK1 },
	{ "a value the user gave is not a compat property's", NULL, 0, RPROP,
	  NULL, FX(.prop = "extra", .value = "on", .user = 1),
	  FX(.prop = "extra"), T1 "d0 (fx): accepted at version 1\n" OK1 },
	{ "property unknown here, nobody set it: created without it", NULL, 0,
	  R10, NULL, FX(.prop = "journal", .value = "0", .unset = 1), FX(),
	  T1 "d0 (fx): accepted at version 1; without its property journal\n"
	     OK1 },
	{ "property unknown here, set on the source: refused", NULL, 0, R10,
	  NULL, FX(.prop = "journal", .value = "0", .user = 1), FX(),
	  T1 "d0 (fx): refused: property journal=0, set on the source, is "
	     "unknown to fx 1.0.0 here\n" NO1 },
	{ "property unknown here, at its legacy value: created without it",
	  NULL, 0, R10, NULL,
	  FX(.prop = "journal", .value = "off", .legacy = "off", .user = 1),
	  FX(),
	  T1 "d0 (fx): accepted at version 1; without its property journal\n"
	     OK1 },
	{ "property unknown here, not at its legacy value: refused even unset",
	  NULL, 0, R10, NULL,
	  FX(.prop = "journal", .value = "on", .legacy = "off", .unset = 1),
	  FX(),
	  T1 "d0 (fx): refused: property journal is on at the source; module "
	     "fx 1.0.0 here lacks it and behaves as journal=off\n" NO1 },
	{ "property new here: its legacy value for a source without it",
	  NULL, 0, R10, NULL, FX(.complete = 1),
	  FX(.prop = "journal", .legacy = "off"),
	  T1 "d0 (fx): accepted at version 1; sets new property journal=off\n"
	     OK1 },
	{ "property new here, an older writer's manifest: nothing is set",
	  NULL, 0, R10, NULL, FX(), FX(.prop = "journal", .legacy = "off"),
	  T1 "d0 (fx): accepted at version 1\n" OK1 },
};

START_TEST(test_compat_scenario)
{
	const struct row *r = &rows[_i];
	struct manifest *src = guest(r->machine ? r->machine : "microvm-1.0",
				     r->alias);
	struct manifest *dst = inventory(r->dst_reg);
	struct compat_verdict *v;
	g_autofree char *text = NULL;

	add_dev(src, &r->src, "d0");
	add_dev(dst, &r->dst, NULL);
	src = wire(src);
	dst = wire(dst);
	v = compat_negotiate(src, dst, r->dst_machine);
	text = compat_verdict_text(v);
	ck_assert_msg(!strcmp(text, r->text), "%s:\n%s\nexpected:\n%s",
		      r->name, text, r->text);
	ck_assert_int_eq(v->accepted, !!strstr(r->text, "verdict: accepted"));
	compat_verdict_free(v);
	manifest_free(src);
	manifest_free(dst);
}
END_TEST

/* A verdict lists every device, not the first failure. */
START_TEST(test_compat_two_of_ten_refused)
{
	static const struct dev_spec ok = FX(), fails = FX(.min = 2, .max = 2);
	static const struct dev_spec dst = FX();
	struct manifest *src = guest("microvm-1.0", 0);
	struct manifest *inv = inventory(R10);
	struct compat_verdict *v;
	g_autofree char *text = NULL;
	g_auto(GStrv) lines = NULL;

	for (int i = 0; i < 10; i++) {
		g_autofree char *id = g_strdup_printf("d%d", i);

		add_dev(src, i == 3 || i == 7 ? &fails : &ok, id);
	}
	add_dev(inv, &dst, NULL);
	v = compat_negotiate(src, inv, NULL);
	text = compat_verdict_text(v);
	lines = g_strsplit(text, "\n", -1);
	ck_assert_int_eq(v->accepted, 0);
	ck_assert_uint_eq(v->devices->len, 10);
	ck_assert_uint_eq(v->n_refused, 2);
	for (int i = 0; i < 10; i++) {
		g_autofree char *want =
			i == 3 || i == 7
				? g_strdup_printf(
					  "d%d (fx): refused: fx: versions do "
					  "not meet: the source saves 2..2, "
					  "this host loads 1..1",
					  i)
				: g_strdup_printf(
					  "d%d (fx): accepted at version 1", i);

		ck_assert_str_eq(lines[i + 1], want);
	}
	ck_assert_str_eq(lines[11], "verdict: refused, 2 of 10 devices refused");
	compat_verdict_free(v);
	manifest_free(src);
	manifest_free(inv);
}
END_TEST

/* ---- the retired-slot rule at registration -------------------------- */

struct slot_state {
	uint16_t reused;
	uint32_t a;
};

static const struct modvmm_vmstate_field unused_fields[] = {
	MODVMM_VMS_UNUSED_FIELD(struct slot_state, reused, "microvm-1.0", 1),
	MODVMM_VMS_FIELD(U32, struct slot_state, a, 1),
};

static const struct modvmm_vmstate_field reused_fields[] = {
	MODVMM_VMS_REUSING_FIELD(U16, struct slot_state, reused, "microvm-1.0",
				 1),
	MODVMM_VMS_FIELD(U32, struct slot_state, a, 1),
};

static const struct modvmm_vmstate_field reused_unknown_fields[] = {
	MODVMM_VMS_REUSING_FIELD(U16, struct slot_state, reused, "microvm-0.1",
				 1),
};

#define SLOT_DESC(f)                                                           \
	{                                                                      \
		.size = sizeof(struct modvmm_vmstate), .version = 1,           \
		.min_version = 1, .name = "slot", .fields = (f),               \
		.n_fields = G_N_ELEMENTS(f)                                    \
	}

static const struct modvmm_vmstate unused_desc = SLOT_DESC(unused_fields);
static const struct modvmm_vmstate reused_desc = SLOT_DESC(reused_fields);
static const struct modvmm_vmstate reused_unknown_desc =
	SLOT_DESC(reused_unknown_fields);

static int check_slot(const struct modvmm_vmstate *d, enum reg r,
		      GError **error)
{
	struct manifest *inv = inventory(r);
	struct state_desc *v = NULL;
	int ret;

	ck_assert_int_eq(vmstate_import("module m: device type d", d,
					sizeof(struct slot_state), &v, NULL),
			 0);
	ret = vmstate_check_retired(v, &inv->registry,
				    "module m: device type d", error);
	vmstate_free(v);
	manifest_free(inv);
	return ret;
}

START_TEST(test_compat_slot_reuse_refused_while_type_exists)
{
	g_autoptr(GError) err = NULL;

	ck_assert_int_eq(check_slot(&reused_desc, R10, &err), -EINVAL);
	ck_assert_error(err, "module m: device type d: vmstate slot: field "
			     "reused reuses a slot retired in machine type "
			     "microvm-1.0, which is not removed until "
			     "2032-11-22: a retired slot may be reused only "
			     "once its machine type is removed");
	g_clear_error(&err);
	/* Deprecated is not removed. */
	ck_assert_int_eq(check_slot(&reused_desc, R2030, &err), -EINVAL);
}
END_TEST

START_TEST(test_compat_slot_reuse_accepted_after_removal)
{
	g_autoptr(GError) err = NULL;

	ck_assert_int_eq(check_slot(&reused_desc, R2033, &err), 0);
	/* The slot itself is always fine. */
	ck_assert_int_eq(check_slot(&unused_desc, R10, &err), 0);
	ck_assert_int_eq(check_slot(&reused_unknown_desc, R2033, &err),
			 -EINVAL);
	ck_assert_error(err, "module m: device type d: vmstate slot: field "
			     "reused reuses a slot retired in machine type "
			     "microvm-0.1, which this host does not know: it "
			     "cannot tell whether the type is removed");
}
END_TEST

/* A slot and the field reusing it are the same bytes on the wire. */
START_TEST(test_compat_slot_reuse_keeps_the_layout)
{
	struct state_desc *a = NULL, *b = NULL;
	char fa[VMS_FP_LEN + 1], fb[VMS_FP_LEN + 1];

	ck_assert_int_eq(vmstate_import("m", &unused_desc,
					sizeof(struct slot_state), &a, NULL),
			 0);
	ck_assert_int_eq(vmstate_import("m", &reused_desc,
					sizeof(struct slot_state), &b, NULL),
			 0);
	vmstate_fingerprint(a, 1, fa);
	vmstate_fingerprint(b, 1, fb);
	ck_assert_str_eq(fa, fb);
	vmstate_free(a);
	vmstate_free(b);
}
END_TEST

/*
 * A fingerprint follows the wire, not memory: a nested struct that grows
 * in memory (its stride) keeps it; a nested field of another kind, or a
 * field renamed, changes it.
 */
struct pt16 {
	uint16_t x, y;
};
struct pt32 {
	uint16_t x, y;
	uint32_t private_to_the_module;
};
struct pts {
	struct pt16 a[2];
	struct pt32 b[2];
};

static const struct modvmm_vmstate_field pt_fields[] = {
	MODVMM_VMS_FIELD(U16, struct pt16, x, 1),
	MODVMM_VMS_FIELD(U16, struct pt16, y, 1),
};
static const struct modvmm_vmstate_field pt_u32_fields[] = {
	_MODVMM_VMS(MODVMM_VMS_U32, "x", struct pt32, private_to_the_module,
		    .since = 1),
	MODVMM_VMS_FIELD(U16, struct pt16, y, 1),
};
static const struct modvmm_vmstate_field pt_renamed_fields[] = {
	_MODVMM_VMS(MODVMM_VMS_U16, "z", struct pt16, x, .since = 1),
	MODVMM_VMS_FIELD(U16, struct pt16, y, 1),
};
#define PT_DESC(f)                                                             \
	{                                                                      \
		.size = sizeof(struct modvmm_vmstate), .version = 1,           \
		.min_version = 1, .name = "pt", .fields = (f),                 \
		.n_fields = G_N_ELEMENTS(f)                                    \
	}
static const struct modvmm_vmstate pt_desc = PT_DESC(pt_fields);
static const struct modvmm_vmstate pt_u32_desc = PT_DESC(pt_u32_fields);
static const struct modvmm_vmstate pt_renamed_desc =
	PT_DESC(pt_renamed_fields);
#define PTS_DESC(m, inner)                                                     \
	{                                                                      \
		.size = sizeof(struct modvmm_vmstate), .version = 1,           \
		.min_version = 1, .name = "pts",                               \
		.fields = (const struct modvmm_vmstate_field[]){               \
			_MODVMM_VMS(MODVMM_VMS_ARRAY, "pts", struct pts, m,    \
				    .since = 1, .elem_kind = MODVMM_VMS_STRUCT,\
				    .count = 2,                                \
				    .stride = sizeof(((struct pts *)0)->m[0]), \
				    .vms = (inner)) },                         \
		.n_fields = 1                                                  \
	}

static void fingerprint_of(const struct modvmm_vmstate *d,
			   char out[VMS_FP_LEN + 1])
{
	struct state_desc *v = NULL;
	GError *err = NULL;

	ck_assert_msg(vmstate_import("m", d, sizeof(struct pts), &v, &err) ==
			      0,
		      "%s", err ? err->message : "");
	vmstate_fingerprint(v, 1, out);
	vmstate_free(v);
}

START_TEST(test_compat_fingerprint_follows_the_wire)
{
	const struct modvmm_vmstate narrow = PTS_DESC(a, &pt_desc);
	const struct modvmm_vmstate wide = PTS_DESC(b, &pt_desc);
	const struct modvmm_vmstate kind = PTS_DESC(b, &pt_u32_desc);
	const struct modvmm_vmstate renamed =
		PTS_DESC(a, &pt_renamed_desc);
	char f_narrow[VMS_FP_LEN + 1], f_wide[VMS_FP_LEN + 1];
	char f_kind[VMS_FP_LEN + 1], f_renamed[VMS_FP_LEN + 1];

	fingerprint_of(&narrow, f_narrow);
	fingerprint_of(&wide, f_wide);
	fingerprint_of(&kind, f_kind);
	fingerprint_of(&renamed, f_renamed);
	ck_assert_str_eq(f_narrow, f_wide);
	ck_assert_str_ne(f_narrow, f_kind);
	ck_assert_str_ne(f_narrow, f_renamed);
}
END_TEST

/* ---- generated pairs against a plain reference ----------------------- */

#define GEN_SUBS 3
static const char *const gen_sub_names[GEN_SUBS] = { "g/a", "g/b", "g/c" };
static const char *const gen_fps[2] = { FA, FB };

/* One side of one device, drawn at random, kept as plain arrays. */
struct gen_side {
	int present, has_vms, renamed;
	uint32_t min, max;
	int fp[4]; /* index into gen_fps, per version 1..3 */
	int sub_has[GEN_SUBS], sub_opt[GEN_SUBS], sub_send[GEN_SUBS];
	uint32_t sub_min[GEN_SUBS], sub_max[GEN_SUBS];
	int sub_fp[GEN_SUBS];
	int module_version; /* 1..3 */
	int bad_version;    /* 0 or 1..3 */
};

static void gen_side(GRand *g, struct gen_side *s)
{
	s->present = g_rand_int_range(g, 0, 8) != 0;
	s->has_vms = g_rand_int_range(g, 0, 8) != 0;
	s->renamed = g_rand_int_range(g, 0, 10) == 0;
	s->min = (uint32_t)g_rand_int_range(g, 1, 4);
	s->max = (uint32_t)g_rand_int_range(g, (gint32)s->min, 4);
	for (int v = 1; v <= 3; v++)
		s->fp[v] = g_rand_int_range(g, 0, 5) == 0;
	for (int i = 0; i < GEN_SUBS; i++) {
		s->sub_has[i] = g_rand_boolean(g);
		s->sub_opt[i] = g_rand_boolean(g);
		s->sub_send[i] = g_rand_boolean(g);
		s->sub_min[i] = (uint32_t)g_rand_int_range(g, 1, 3);
		s->sub_max[i] = (uint32_t)g_rand_int_range(
			g, (gint32)s->sub_min[i], 3);
		s->sub_fp[i] = g_rand_int_range(g, 0, 6) == 0;
	}
	s->module_version = g_rand_int_range(g, 1, 4);
	s->bad_version = g_rand_int_range(g, 0, 3) ? 0 : g_rand_int_range(g, 1, 4);
}

static void gen_add(struct manifest *m, const struct gen_side *s,
		    const char *id)
{
	struct manifest_device *d;
	char ver[16];

	if (!s->present)
		return;
	d = manifest_add_device(m);
	d->id = manifest_str(m, id);
	d->type = manifest_str(m, "g");
	d->module = "g";
	g_snprintf(ver, sizeof(ver), "%d.0.0", s->module_version);
	d->module_version = manifest_str(m, ver);
	if (s->has_vms) {
		const char *fps[3];

		for (int v = 1; v <= 3; v++)
			fps[v - 1] = gen_fps[s->fp[v]];
		d->vms = vms_of(m, s->renamed ? "g2" : "g", s->min, s->max,
				fps);
		for (int i = 0; i < GEN_SUBS; i++) {
			const char *sfp[3] = { gen_fps[s->sub_fp[i]],
					       gen_fps[s->sub_fp[i]],
					       gen_fps[s->sub_fp[i]] };
			struct manifest_vms *v;

			if (!s->sub_has[i])
				continue;
			v = vms_of(m, gen_sub_names[i],
				   m->kind == MANIFEST_GUEST ? s->sub_max[i]
							     : s->sub_min[i],
				   s->sub_max[i], sfp);
			v->optional = s->sub_opt[i];
			v->send = s->sub_send[i];
			g_ptr_array_add(d->subs, v);
		}
	}
	if (s->bad_version) {
		struct manifest_known_bad *kb =
			g_new0(struct manifest_known_bad, 1);

		g_snprintf(ver, sizeof(ver), "%d.0.0", s->bad_version);
		kb->version = manifest_str(m, ver);
		kb->reason = "bad";
		g_ptr_array_add(d->known_bad, kb);
	}
}

/*
 * The rule, written out plainly: accepted, and the version agreed: the
 * newest both can use whose layouts agree.
 */
static int reference(const struct gen_side *s, const struct gen_side *d,
		     uint32_t *ret_version, int *ret_dropped)
{
	uint32_t v = s->max < d->max ? s->max : d->max;
	int ok = 1;

	while (v > s->min && v > d->min && s->fp[v] != d->fp[v])
		v--;

	*ret_dropped = 0;
	if (!s->has_vms || !d->present || !d->has_vms || s->renamed != d->renamed)
		return 0;
	if (d->bad_version == s->module_version)
		ok = 0;
	if (v < s->min || v < d->min || s->fp[v] != d->fp[v])
		ok = 0;
	for (int i = 0; i < GEN_SUBS; i++) {
		if (!s->sub_has[i] || !s->sub_send[i])
			continue;
		if (!d->sub_has[i]) {
			if (s->sub_opt[i])
				(*ret_dropped)++;
			else
				ok = 0;
		} else if (s->sub_max[i] < d->sub_min[i] ||
			   s->sub_max[i] > d->sub_max[i] ||
			   s->sub_fp[i] != d->sub_fp[i]) {
			ok = 0;
		}
	}
	*ret_version = ok ? v : 0;
	return ok;
}

START_TEST(test_compat_generated_pairs_match_reference)
{
	GRand *g = g_rand_new_with_seed(20261122);
	unsigned int accepted = 0, total = 0;

	for (int round = 0; round < 2000; round++) {
		struct manifest *src = guest("microvm-1.0", 0);
		struct manifest *dst = inventory(R10);
		struct gen_side s = { 0 }, d = { 0 };
		struct compat_verdict *v;
		const struct compat_device_verdict *dv;
		uint32_t version;
		int dropped, ok;

		gen_side(g, &s);
		gen_side(g, &d);
		s.present = 1;
		gen_add(src, &s, "g0");
		gen_add(dst, &d, NULL);
		src = wire(src);
		dst = wire(dst);
		v = compat_negotiate(src, dst, NULL);
		dv = v->devices->pdata[0];
		ok = reference(&s, &d, &version, &dropped);
		ck_assert_msg(dv->accepted == ok,
			      "round %d: verdict %d, reference %d (%s)", round,
			      dv->accepted, ok,
			      dv->reasons->len ? (char *)dv->reasons->pdata[0]
					       : "no reason");
		ck_assert_msg(!ok || (dv->version == version &&
				      dv->dropped->len == (guint)dropped),
			      "round %d: version %u/%u dropped %u/%d", round,
			      dv->version, version, dv->dropped->len, dropped);
		ck_assert_int_eq(v->accepted, ok);
		accepted += (unsigned int)ok;
		total++;
		compat_verdict_free(v);
		manifest_free(src);
		manifest_free(dst);
	}
	/* Both outcomes must be well represented, or the test proves little. */
	ck_assert_uint_gt(accepted, total / 10);
	ck_assert_uint_lt(accepted, total - total / 10);
	g_rand_free(g);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("compat");
	TCase *tc = tcase_create("compat");

	tcase_add_loop_test(tc, test_compat_scenario, 0, G_N_ELEMENTS(rows));
	tcase_add_test(tc, test_compat_two_of_ten_refused);
	tcase_add_test(tc, test_compat_slot_reuse_refused_while_type_exists);
	tcase_add_test(tc, test_compat_slot_reuse_accepted_after_removal);
	tcase_add_test(tc, test_compat_slot_reuse_keeps_the_layout);
	tcase_add_test(tc, test_compat_fingerprint_follows_the_wire);
	tcase_add_test(tc, test_compat_generated_pairs_match_reference);
	suite_add_tcase(s, tc);
	return check_run(s);
}
