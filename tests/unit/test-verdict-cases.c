// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The verdict against the real load, one row per case where it once lied:
 * two releases of a device's description are registered as the loader
 * registers them, described as the source and the destination describe
 * them, judged by the rule, then saved at the agreed version and loaded.
 * Accepted must load; refused must not, with the reason the row names.
 */
#include <errno.h>
#include <string.h>

#include <modvmm/vmstate.h>

#include "compat/negotiate.h"
#include "core/inventory.h"
#include "core/vmstate.h"
#include "check-tap.h"

struct st {
	uint32_t a;
	uint32_t b;
	uint8_t on;
	uint8_t pad[3];
	struct inner {
		uint32_t x;
		uint32_t y;
		uint8_t on;
	} in;
};

static int32_t on_needed(const void *state)
{
	return ((const struct st *)state)->on;
}

static int32_t inner_needed(const void *state)
{
	return ((const struct inner *)state)->on;
}

/* A description with n_subs subsections at `subs`. */
#define DESC_SUBS(n, v, min, save, f, subs, n_subs)                            \
	{                                                                      \
		.size = sizeof(struct modvmm_vmstate), .version = (v),         \
		.min_version = (min), .min_save_version = (save), .name = (n), \
		.fields = (f), .n_fields = G_N_ELEMENTS(f),                    \
		.subsections = (subs), .n_subsections = (n_subs),              \
	}
#define DESC(n, v, min, save, f, subs) DESC_SUBS(n, v, min, save, f, NULL, 0)
#define SUB(d, fl, fn)                                                         \
	{                                                                      \
		.size = sizeof(struct modvmm_vmstate_subsection),              \
		.flags = (fl), .vms = (d), .needed = (fn),                     \
	}

/* ---- a nested struct's subsection (issue case 1) ---------------------- */

static const struct modvmm_vmstate_field in_y_fields[] = {
	MODVMM_VMS_FIELD(U32, struct inner, y, 1),
};
static const struct modvmm_vmstate in_y = DESC("inner/y", 1, 1, 0,
					       in_y_fields, NULL);
static const struct modvmm_vmstate_subsection in_subs[] = {
	SUB(&in_y, 0, inner_needed),
};
static const struct modvmm_vmstate_field in_fields[] = {
	MODVMM_VMS_FIELD(U32, struct inner, x, 1),
};
static const struct modvmm_vmstate inner_v1 = DESC("inner", 1, 1, 0,
						   in_fields, NULL);
static const struct modvmm_vmstate inner_v1_sub = DESC_SUBS("inner", 1, 1, 0,
							    in_fields, in_subs,
							    1);
static const struct modvmm_vmstate_field nest_old_fields[] = {
	MODVMM_VMS_FIELD(U32, struct st, a, 1),
	MODVMM_VMS_STRUCT_FIELD(struct st, in, &inner_v1, 1),
};
static const struct modvmm_vmstate_field nest_new_fields[] = {
	MODVMM_VMS_FIELD(U32, struct st, a, 1),
	MODVMM_VMS_STRUCT_FIELD(struct st, in, &inner_v1_sub, 1),
};
static const struct modvmm_vmstate nest_old = DESC("dev", 1, 1, 0,
						   nest_old_fields, NULL);
static const struct modvmm_vmstate nest_new = DESC("dev", 1, 1, 0,
						   nest_new_fields, NULL);

/* ---- a field retired into a slot, and a slot reused ------------------- */

static const struct modvmm_vmstate_field live_fields[] = {
	MODVMM_VMS_FIELD(U32, struct st, a, 1),
	MODVMM_VMS_FIELD(U32, struct st, b, 1),
};
static const struct modvmm_vmstate_field retired_fields[] = {
	MODVMM_VMS_FIELD(U32, struct st, a, 1),
	MODVMM_VMS_UNUSED_FIELD(struct st, b, "microvm-0.9", 1),
};
static const struct modvmm_vmstate_field reused_b_fields[] = {
	MODVMM_VMS_FIELD(U32, struct st, a, 1),
	MODVMM_VMS_REUSING_FIELD(U32, struct st, b, "microvm-0.9", 1),
};
/* The same slot reused for another purpose in another release. */
static const struct modvmm_vmstate_field reused_y_fields[] = {
	MODVMM_VMS_FIELD(U32, struct st, a, 1),
	_MODVMM_VMS(MODVMM_VMS_U32, "other", struct st, b, .since = 1,
		    .retired_in = "microvm-0.9"),
};
static const struct modvmm_vmstate live = DESC("dev", 1, 1, 0, live_fields,
					       NULL);
static const struct modvmm_vmstate retired = DESC("dev", 1, 1, 0,
						  retired_fields, NULL);
static const struct modvmm_vmstate reused_b = DESC("dev", 1, 1, 0,
						   reused_b_fields, NULL);
static const struct modvmm_vmstate reused_other = DESC("dev", 1, 1, 0,
						       reused_y_fields, NULL);

/* ---- versions: saved, savable, and the newest that loads -------------- */

static const struct modvmm_vmstate_field v2_fields[] = {
	MODVMM_VMS_FIELD(U32, struct st, a, 1),
	MODVMM_VMS_FIELD(U32, struct st, b, 2),
};
static const struct modvmm_vmstate v2_saves1 = DESC("dev", 2, 1, 1,
						    v2_fields, NULL);
static const struct modvmm_vmstate_field v1_fields[] = {
	MODVMM_VMS_FIELD(U32, struct st, a, 1),
};
static const struct modvmm_vmstate v1 = DESC("dev", 1, 1, 0, v1_fields, NULL);
/* Version 2 here reads b as something else: only 1 can go. */
static const struct modvmm_vmstate_field v2_other_fields[] = {
	MODVMM_VMS_FIELD(U32, struct st, a, 1),
	_MODVMM_VMS(MODVMM_VMS_U32, "c", struct st, b, .since = 2),
};
static const struct modvmm_vmstate v2_other = DESC("dev", 2, 1, 1,
						   v2_other_fields, NULL);

/* ---- an optional subsection's own subsection -------------------------- */

static const struct modvmm_vmstate_field sub_b_fields[] = {
	MODVMM_VMS_FIELD(U32, struct st, b, 1),
};
static const struct modvmm_vmstate deep = DESC("dev/opt/deep", 1, 1, 0,
					       sub_b_fields, NULL);
static const struct modvmm_vmstate_subsection deep_subs[] = {
	SUB(&deep, 0, NULL),
};
static const struct modvmm_vmstate_field opt_fields[] = {
	MODVMM_VMS_FIELD(U8, struct st, on, 1),
};
static const struct modvmm_vmstate opt = DESC_SUBS("dev/opt", 1, 1, 0,
						   opt_fields, deep_subs, 1);
static const struct modvmm_vmstate_subsection opt_subs[] = {
	SUB(&opt, MODVMM_VMS_OPTIONAL, on_needed),
};
static const struct modvmm_vmstate with_opt = DESC_SUBS("dev", 1, 1, 0,
							v1_fields, opt_subs, 1);

/* ---- the rows --------------------------------------------------------- */

static const struct row {
	const char *name;
	const struct modvmm_vmstate *src, *dst;
	uint32_t saved; /* the source's state is a snapshot's, at this */
	int accepted;
	uint32_t version;   /* agreed, when accepted */
	const char *reason; /* when refused: the device's verdict line */
	/* Refused although the bytes would load: into a field that means
	 * something else there. Otherwise no savable version loads. */
	int misread;
} rows[] = {
	{ "a nested struct's subsection unknown here: refused up front",
	  &nest_new, &nest_old, 0, 0, 0,
	  "d0 (dev): refused: subsection inner/y would be sent and is "
	  "unknown here (not optional)" },
	{ "a nested struct's subsection known here", &nest_new, &nest_new, 0,
	  1, 1, NULL },
	{ "a field retired here into a slot: accepted", &live, &retired, 0, 1,
	  1, NULL },
	{ "a slot reused here: accepted", &retired, &reused_b, 0, 1, 1, NULL },
	{ "a live field here where the source has a slot: refused", &retired,
	  &live, 0, 0, 0,
	  "d0 (dev): refused: dev version 1 has a different layout here", 1 },
	{ "one slot reused for two things: refused", &reused_b, &reused_other,
	  0, 0, 0,
	  "d0 (dev): refused: dev version 1 has a different layout here", 1 },
	{ "a snapshot saved at version 2 where 1 loads: refused", &v2_saves1,
	  &v1, 2, 0, 0,
	  "d0 (dev): refused: dev: the state was saved at version 2, this "
	  "host loads 1..1" },
	{ "live, the same source saves version 1 for that host", &v2_saves1,
	  &v1, 0, 1, 1, NULL },
	{ "the newest common version does not load, an older one does",
	  &v2_saves1, &v2_other, 0, 1, 1, NULL },
	{ "an optional subsection dropped takes its own along", &with_opt, &v1,
	  0, 1, 1, NULL },
};

static struct manifest *guest(const struct state_desc *v, void *state,
			      uint32_t saved)
{
	struct manifest *m = manifest_new(MANIFEST_GUEST);
	struct manifest_device *d = manifest_add_device(m);

	m->abi = "1.3";
	m->machine = manifest_str(m, machine_registry()->types[0].name);
	d->id = "d0";
	d->type = d->module = "dev";
	d->module_version = "1.0.0";
	d->props_complete = 1;
	inventory_describe_state(m, d, v, state, saved);
	return m;
}

static struct manifest *inventory(const struct state_desc *v)
{
	struct manifest *m = inventory_new(machine_registry());
	struct manifest_device *d = manifest_add_device(m);

	d->type = d->module = "dev";
	d->module_version = "1.0.0";
	inventory_describe_state(m, d, v, NULL, 0);
	return m;
}

/* What crosses the wire: the JSON, read back as a host reads it. */
static struct manifest *wire(struct manifest *m)
{
	g_autofree char *text = manifest_to_json(m);
	struct manifest *back = NULL;
	GError *err = NULL;

	ck_assert_msg(manifest_parse("wire", text, strlen(text), m->kind,
				     &back, &err) == 0,
		      "%s", err ? err->message : "");
	manifest_free(m);
	return back;
}

START_TEST(test_verdict_case_matches_load)
{
	const struct row *r = &rows[_i];
	struct state_desc *a = NULL, *b = NULL;
	struct st state = { .a = 7, .b = 9, .on = 1, .in = { 3, 4, 1 } };
	struct st into = { 0 };
	g_autoptr(GByteArray) out = g_byte_array_new();
	g_autofree char *text = NULL;
	struct manifest *src, *dst;
	struct compat_verdict *v;
	const struct compat_device_verdict *dv;
	GError *err = NULL;
	int loads;

	ck_assert_int_eq(vmstate_import("src", r->src, sizeof(state), &a, &err),
			 0);
	ck_assert_int_eq(vmstate_import("dst", r->dst, sizeof(state), &b, &err),
			 0);
	src = wire(guest(a, &state, r->saved));
	dst = wire(inventory(b));
	v = compat_negotiate(src, dst, NULL);
	text = compat_verdict_text(v);
	dv = v->devices->pdata[0];
	ck_assert_msg(dv->accepted == r->accepted, "%s:\n%s", r->name, text);
	if (r->accepted) {
		ck_assert_uint_eq(dv->version, r->version);
		ck_assert_int_eq(vmstate_save(a, &state, dv->version, out,
					      &err),
				 0);
		loads = vmstate_load(b, &into, out->data, out->len, 0, "d0",
				     NULL, &err) == 0;
		ck_assert_msg(loads, "%s: accepted, but: %s", r->name,
			      err ? err->message : "");
		ck_assert_uint_eq(into.a, state.a);
	} else {
		ck_assert_msg(strstr(text, r->reason), "%s:\n%s\nexpected: %s",
			      r->name, text, r->reason);
		/* No version the source can save would load. */
		for (uint32_t ver = r->saved ? r->saved : vmstate_min_save(a);
		     !r->misread &&
		     ver <= (r->saved ? r->saved : a->d.version);
		     ver++) {
			g_byte_array_set_size(out, 0);
			ck_assert_int_eq(vmstate_save(a, &state, ver, out,
						      NULL),
					 0);
			ck_assert_msg(vmstate_load(b, &into, out->data,
						   out->len, 0, "d0", NULL,
						   NULL) < 0,
				      "%s: refused, but version %u loads",
				      r->name, ver);
		}
	}
	g_clear_error(&err);
	compat_verdict_free(v);
	manifest_free(src);
	manifest_free(dst);
	vmstate_free(a);
	vmstate_free(b);
}
END_TEST

/*
 * A source holds an accepted verdict to what it offered (dev0 saves
 * versions 2-3; nodev has no state): one row per verdict, the reason it
 * is refused or NULL.
 */
static const struct {
	const char *verdict;
	const char *error;
} offer_rows[] = {
	{ "{\"accepted\":true,\"versions\":{\"dev0\":3}}", NULL },
	{ "{\"accepted\":true,\"versions\":{\"dev0\":2}}", NULL },
	{ "{\"accepted\":false,\"verdict\":\"no\"}", NULL },
	{ "{\"accepted\":true}",
	  "src: the destination's verdict agrees to what this source did not "
	  "offer: dev0 (t): no agreed state version (0); this source saves "
	  "versions 2-3" },
	{ "{\"accepted\":true,\"known\":{\"dev0\":[]}}",
	  "src: the destination's verdict agrees to what this source did not "
	  "offer: dev0 (t): no agreed state version (0); this source saves "
	  "versions 2-3" },
	{ "{\"accepted\":true,\"versions\":{\"dev0\":1}}",
	  "src: the destination's verdict agrees to what this source did not "
	  "offer: dev0 (t): agreed state version 1, this source saves "
	  "versions 2-3" },
	{ "{\"accepted\":true,\"versions\":{\"dev0\":4,\"ghost\":1}}",
	  "src: the destination's verdict agrees to what this source did not "
	  "offer: dev0 (t): agreed state version 4, this source saves "
	  "versions 2-3; ghost: a device this guest does not have" },
};

START_TEST(test_verdict_held_to_what_was_offered)
{
	struct manifest *m = manifest_new(MANIFEST_GUEST);
	struct manifest_device *d = manifest_add_device(m);
	struct compat_verdict *v = NULL;
	GError *err = NULL;
	int r;

	d->id = manifest_str(m, "dev0");
	d->type = manifest_str(m, "t");
	d->vms = manifest_vms_new();
	d->vms->name = manifest_str(m, "t");
	d->vms->version = 3;
	d->vms->min = 2;
	d = manifest_add_device(m);
	d->id = manifest_str(m, "nodev");
	d->type = manifest_str(m, "u");
	ck_assert_int_eq(compat_verdict_parse("src", offer_rows[_i].verdict,
					      strlen(offer_rows[_i].verdict),
					      &v, NULL),
			 0);
	r = compat_verdict_check("src", v, m, &err);
	if (offer_rows[_i].error) {
		ck_assert_int_eq(r, -EPROTO);
		ck_assert_error(err, offer_rows[_i].error);
		g_error_free(err);
	} else {
		ck_assert_int_eq(r, 0);
	}
	compat_verdict_free(v);
	manifest_free(m);
}
END_TEST

/* A destination's verdict is hostile text: nesting is bounded before
 * json-glib recurses into it, and the refusal says why. */
START_TEST(test_verdict_nesting_bounded)
{
	const char *text = "{\"accepted\":true,\"known\":{\"d\":"
			   "[[[[[[[[\"x\"]]]]]]]]}}";
	struct compat_verdict *v = NULL;
	GError *err = NULL;

	ck_assert_int_eq(compat_verdict_parse("src", text, strlen(text), &v,
					      &err),
			 -EPROTO);
	ck_assert_ptr_null(v);
	ck_assert_error(err, "src: the destination's verdict is not one: "
			     "nested deeper than 8 levels");
	g_error_free(err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("verdict-cases");
	TCase *tc = tcase_create("verdict-cases");

	tcase_add_loop_test(tc, test_verdict_case_matches_load, 0,
			    G_N_ELEMENTS(rows));
	tcase_add_test(tc, test_verdict_nesting_bounded);
	tcase_add_loop_test(tc, test_verdict_held_to_what_was_offered, 0,
			    G_N_ELEMENTS(offer_rows));
	suite_add_tcase(s, tc);
	return check_run(s);
}
