// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/vmstate.c: registration checks, save/load at every version, and
 * every load outcome on a hostile stream, each with its message.
 */
#include <errno.h>

#include "check-tap.h"
#include "core/vmstate.h"

struct inner {
	uint16_t a;
	uint32_t b;
};

struct st {
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	int8_t i8;
	int16_t i16;
	int32_t i32;
	int64_t i64;
	uint8_t flag;
	uint8_t buf[5];
	uint32_t arr[3];
	uint8_t n;
	uint16_t va[4];
	struct inner in;
	struct inner ins[2];
	uint8_t old[2];
	uint32_t v2field;
	uint32_t sub_x;
	uint8_t sub_needed;
	uint32_t opt_y;
};

static const struct modvmm_vmstate_field inner_fields[] = {
	MODVMM_VMS_FIELD(U16, struct inner, a, 1),
	MODVMM_VMS_FIELD(U32, struct inner, b, 1),
};

static const struct modvmm_vmstate inner_vms = {
	.size = sizeof(struct modvmm_vmstate),
	.version = 1,
	.min_version = 1,
	.name = "inner",
	.fields = inner_fields,
	.n_fields = G_N_ELEMENTS(inner_fields),
};

static int32_t u8_not_13(const void *state, uint32_t version,
			 const char **ret_message)
{
	(void)version;
	if (((const struct st *)state)->u8 == 13) {
		*ret_message = "u8 must not be 13";
		return -EINVAL;
	}
	return 0;
}

static int32_t sub_needed(const void *state)
{
	return ((const struct st *)state)->sub_needed;
}

static int32_t opt_needed(const void *state)
{
	return ((const struct st *)state)->opt_y != 0;
}

static const struct modvmm_vmstate_field sub_fields[] = {
	MODVMM_VMS_FIELD(U32, struct st, sub_x, 1),
};

static const struct modvmm_vmstate sub_vms = {
	.size = sizeof(struct modvmm_vmstate),
	.version = 1,
	.min_version = 1,
	.name = "test/extra",
	.fields = sub_fields,
	.n_fields = 1,
};

static const struct modvmm_vmstate_field opt_fields[] = {
	MODVMM_VMS_FIELD(U32, struct st, opt_y, 1),
};

static const struct modvmm_vmstate opt_vms = {
	.size = sizeof(struct modvmm_vmstate),
	.version = 1,
	.min_version = 1,
	.name = "test/opt",
	.fields = opt_fields,
	.n_fields = 1,
};

static const struct modvmm_vmstate_field all_fields[] = {
	MODVMM_VMS_FIELD(U8, struct st, u8, 1),
	MODVMM_VMS_FIELD(U16, struct st, u16, 1),
	MODVMM_VMS_FIELD(U32, struct st, u32, 1),
	MODVMM_VMS_FIELD(U64, struct st, u64, 1),
	MODVMM_VMS_FIELD(I8, struct st, i8, 1),
	MODVMM_VMS_FIELD(I16, struct st, i16, 1),
	MODVMM_VMS_FIELD(I32, struct st, i32, 1),
	MODVMM_VMS_FIELD(I64, struct st, i64, 1),
	MODVMM_VMS_FIELD(BOOL, struct st, flag, 1),
	MODVMM_VMS_BUFFER_FIELD(struct st, buf, 1),
	MODVMM_VMS_ARRAY_FIELD(U32, struct st, arr, 1),
	MODVMM_VMS_FIELD(U8, struct st, n, 1),
	MODVMM_VMS_VARRAY_FIELD(U16, struct st, va, "n", 1),
	MODVMM_VMS_STRUCT_FIELD(struct st, in, &inner_vms, 1),
	_MODVMM_VMS(MODVMM_VMS_ARRAY, "ins", struct st, ins, .since = 1,
		    .elem_kind = MODVMM_VMS_STRUCT, .count = 2,
		    .stride = sizeof(struct inner), .vms = &inner_vms),
	MODVMM_VMS_UNUSED_FIELD(struct st, old, "microvm-1.0", 1),
	MODVMM_VMS_FIELD(U32, struct st, v2field, 2),
	MODVMM_VMS_VALIDATE_FIELD("u8_not_13", u8_not_13, 1),
};

static const struct modvmm_vmstate_subsection all_subs[] = {
	{ .size = sizeof(struct modvmm_vmstate_subsection),
	  .vms = &sub_vms,
	  .needed = sub_needed },
	{ .size = sizeof(struct modvmm_vmstate_subsection),
	  .flags = MODVMM_VMS_OPTIONAL,
	  .vms = &opt_vms,
	  .needed = opt_needed },
};

/* Version 2, loads 1..2, saves 1..2. */
static const struct modvmm_vmstate test_vms = {
	.size = sizeof(struct modvmm_vmstate),
	.version = 2,
	.min_version = 1,
	.min_save_version = 1,
	.name = "test",
	.fields = all_fields,
	.n_fields = G_N_ELEMENTS(all_fields),
	.subsections = all_subs,
	.n_subsections = G_N_ELEMENTS(all_subs),
};

static struct state_desc *imp(const struct modvmm_vmstate *d)
{
	struct state_desc *v = NULL;
	GError *err = NULL;

	if (vmstate_import("module m: device type t", d, sizeof(struct st), &v,
			   &err) < 0)
		ck_abort_msg("import: %s", err->message);
	return v;
}

static void fill(struct st *s, GRand *r)
{
	uint8_t *p = (uint8_t *)s;

	for (size_t i = 0; i < sizeof(*s); i++)
		p[i] = (uint8_t)g_rand_int(r);
	s->flag &= 1;
	s->n = (uint8_t)g_rand_int_range(r, 0, 5);
	s->u8 = 7; /* not 13 */
	s->sub_needed = 1;
	s->opt_y |= 1;
}

static GByteArray *save(const struct state_desc *v, struct st *s,
			uint32_t version)
{
	GByteArray *out = g_byte_array_new();
	GError *err = NULL;

	if (vmstate_save(v, s, version, out, &err) < 0)
		ck_abort_msg("save: %s", err->message);
	return out;
}

/* Everything the stream carries at `version` must come back equal. */
static void assert_loaded(const struct st *a, const struct st *b,
			  uint32_t version)
{
	ck_assert_uint_eq(a->u8, b->u8);
	ck_assert_uint_eq(a->u16, b->u16);
	ck_assert_uint_eq(a->u32, b->u32);
	ck_assert_uint_eq(a->u64, b->u64);
	ck_assert_int_eq(a->i8, b->i8);
	ck_assert_int_eq(a->i16, b->i16);
	ck_assert_int_eq(a->i32, b->i32);
	ck_assert_int_eq(a->i64, b->i64);
	ck_assert_uint_eq(a->flag, b->flag);
	ck_assert_mem_eq(a->buf, b->buf, sizeof(a->buf));
	ck_assert_mem_eq(a->arr, b->arr, sizeof(a->arr));
	ck_assert_uint_eq(a->n, b->n);
	ck_assert_mem_eq(a->va, b->va, a->n * sizeof(a->va[0]));
	ck_assert_uint_eq(a->in.a, b->in.a);
	ck_assert_uint_eq(a->in.b, b->in.b);
	ck_assert_uint_eq(a->ins[1].b, b->ins[1].b);
	ck_assert_uint_eq(a->sub_x, b->sub_x);
	ck_assert_uint_eq(a->opt_y, b->opt_y);
	if (version >= 2)
		ck_assert_uint_eq(a->v2field, b->v2field);
}

START_TEST(test_vmstate_round_trip_every_version)
{
	g_autoptr(GRand) rnd = g_rand_new_with_seed(1234);
	struct state_desc *v = imp(&test_vms);

	for (int round = 0; round < 50; round++) {
		for (uint32_t ver = 1; ver <= 2; ver++) {
			struct st a, b;
			GByteArray *out;
			GError *err = NULL;
			size_t used = 0;

			fill(&a, rnd);
			fill(&b, rnd);
			b.v2field = 0xabcdef;
			out = save(v, &a, ver);
			if (vmstate_load(v, &b, out->data, out->len, 0, "dev0",
					 &used, &err) < 0)
				ck_abort_msg("load v%u: %s", ver, err->message);
			ck_assert_uint_eq(used, out->len);
			assert_loaded(&a, &b, ver);
			/* Version 1 does not carry v2field: it stays. */
			if (ver == 1)
				ck_assert_uint_eq(b.v2field, 0xabcdef);
			g_byte_array_unref(out);
		}
	}
	vmstate_free(v);
}
END_TEST

START_TEST(test_vmstate_subsection_absent_keeps_value)
{
	struct state_desc *v = imp(&test_vms);
	struct st a = { .u8 = 1, .sub_x = 5 }, b = { .sub_x = 99 };
	GByteArray *out = save(v, &a, 2);

	ck_assert_int_eq(
		vmstate_load(v, &b, out->data, out->len, 0, "dev0", NULL, NULL),
		0);
	ck_assert_uint_eq(b.u8, 1);
	ck_assert_uint_eq(b.sub_x, 99);
	g_byte_array_unref(out);
	vmstate_free(v);
}
END_TEST

START_TEST(test_vmstate_save_outside_range_refused)
{
	struct state_desc *v = imp(&test_vms);
	struct st a = { 0 };
	g_autoptr(GByteArray) out = g_byte_array_new();
	GError *err = NULL;

	ck_assert_int_eq(vmstate_save(v, &a, 3, out, &err), -ERANGE);
	ck_assert_error(err, "vmstate test: cannot save version 3: it saves "
			     "1..2");
	ck_assert_uint_eq(out->len, 0);
	g_error_free(err);
	vmstate_free(v);
}
END_TEST

/* ---- registration refusals ------------------------------------------- */

/* 20 bytes, with its padding: the size the refusal below names. */
struct small {
	uint32_t a;
	uint32_t b;
	uint8_t n;
	uint16_t va[4];
	uint8_t pad[2];
};

#define F(kind, m, v) MODVMM_VMS_FIELD(kind, struct small, m, v)
#define DESC(nm, ver, minv, flds, ...)                                         \
	{                                                                      \
		.size = sizeof(struct modvmm_vmstate), .version = (ver),       \
		.min_version = (minv), .name = (nm), .fields = (flds),         \
		.n_fields = G_N_ELEMENTS(flds), __VA_ARGS__                    \
	}

static const struct modvmm_vmstate_field dup_fields[] = { F(U32, a, 1),
							  F(U32, a, 1) };
static const struct modvmm_vmstate_field since0_fields[] = { F(U32, a, 0) };
static const struct modvmm_vmstate_field since9_fields[] = { F(U32, a, 9) };
static const struct modvmm_vmstate_field ok_fields[] = { F(U32, a, 1) };
static const struct modvmm_vmstate_field unbound_fields[] = {
	F(U8, n, 1),
	_MODVMM_VMS(MODVMM_VMS_VARRAY, "va", struct small, va, .since = 1,
		    .elem_kind = MODVMM_VMS_U16, .length_field = "n",
		    .count = 0),
};
static const struct modvmm_vmstate_field late_len_fields[] = {
	MODVMM_VMS_VARRAY_FIELD(U16, struct small, va, "n", 1),
	F(U8, n, 1),
};
static const struct modvmm_vmstate_field no_len_fields[] = {
	MODVMM_VMS_VARRAY_FIELD(U16, struct small, va, "count", 1),
};
static const struct modvmm_vmstate_field unused_fields[] = {
	MODVMM_VMS_UNUSED_FIELD(struct small, pad, NULL, 1),
};
static const struct modvmm_vmstate_field outside_fields[] = {
	_MODVMM_VMS(MODVMM_VMS_BUFFER, "big", struct small, a, .since = 1,
		    .count = 100),
};
static const struct modvmm_vmstate_field nostruct_fields[] = {
	_MODVMM_VMS(MODVMM_VMS_STRUCT, "s", struct small, a, .since = 1,
		    .stride = 4),
};
static const struct modvmm_vmstate child_bad = DESC("other/x", 1, 1, ok_fields);
static const struct modvmm_vmstate child_ok = DESC("s/x", 1, 1, ok_fields);
static const struct modvmm_vmstate_subsection badname_subs[] = {
	{ .size = sizeof(struct modvmm_vmstate_subsection), .vms = &child_bad },
};
static const struct modvmm_vmstate_subsection legacy_subs[] = {
	{ .size = sizeof(struct modvmm_vmstate_subsection),
	  .flags = MODVMM_VMS_LEGACY_NAME,
	  .vms = &child_bad },
};
static const struct modvmm_vmstate_subsection twice_subs[] = {
	{ .size = sizeof(struct modvmm_vmstate_subsection), .vms = &child_ok },
	{ .size = sizeof(struct modvmm_vmstate_subsection), .vms = &child_ok },
};

#define N16 "nnnnnnnnnnnnnnnn"
#define N256 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16 N16

#define W "module m: device type t: vmstate s: "
static const struct {
	const char *name;
	struct modvmm_vmstate d;
	const char *error; /* NULL: accepted */
} registrations[] = {
	{ "accepted", DESC("s", 1, 1, ok_fields), NULL },
	{ "duplicate field", DESC("s", 1, 1, dup_fields),
	  W "field a: declared twice" },
	{ "min_version above version", DESC("s", 1, 2, ok_fields),
	  "module m: device type t: vmstate s: versions make no sense: version "
	  "1, min_version 2, min_save_version 0" },
	{ "since 0", DESC("s", 1, 1, since0_fields),
	  W "field a: since 0 is outside the description's versions 1..1" },
	{ "since after version", DESC("s", 2, 1, since9_fields),
	  W "field a: since 9 is outside the description's versions 1..2" },
	{ "variable array without bound", DESC("s", 1, 1, unbound_fields),
	  W "field va: variable array has no bound (count 0)" },
	{ "length field after the array", DESC("s", 1, 1, late_len_fields),
	  W "field va: length field n comes after it" },
	{ "length field missing", DESC("s", 1, 1, no_len_fields),
	  W "field va: length field count does not exist" },
	{ "unused without retired-in", DESC("s", 1, 1, unused_fields),
	  W "field pad: unused slot without the machine type it was retired "
	    "in" },
	{ "field outside the state", DESC("s", 1, 1, outside_fields),
	  W "field big: 100 bytes at offset 0 lie outside the 20 bytes of "
	    "state" },
	{ "struct without description", DESC("s", 1, 1, nostruct_fields),
	  W "field s: struct without a description or a stride" },
	{ "subsection not parent/child",
	  DESC("s", 1, 1, ok_fields, .subsections = badname_subs,
	       .n_subsections = 1),
	  "module m: device type t: vmstate s: subsection other/x is not named "
	  "s/CHILD (flag it MODVMM_VMS_LEGACY_NAME if that name is on the wire "
	  "already)" },
	{ "legacy name accepted",
	  DESC("s", 1, 1, ok_fields, .subsections = legacy_subs,
	       .n_subsections = 1),
	  NULL },
	{ "name longer than the wire's one-byte length",
	  DESC(N256, 1, 1, ok_fields),
	  "module m: device type t: vmstate name " N16 N16 "nnnnnnnn... is "
	  "longer than 255 bytes" },
	{ "duplicate sibling subsections",
	  DESC("s", 1, 1, ok_fields, .subsections = twice_subs,
	       .n_subsections = 2),
	  "module m: device type t: vmstate s: subsection s/x is declared "
	  "twice" },
};
#undef W

START_TEST(test_vmstate_registration_table)
{
	struct state_desc *v = NULL;
	GError *err = NULL;
	int r = vmstate_import("module m: device type t", &registrations[_i].d,
			       sizeof(struct small), &v, &err);

	if (!registrations[_i].error) {
		ck_assert_msg(r == 0, "%s: %s", registrations[_i].name,
			      err ? err->message : "?");
		vmstate_free(v);
		return;
	}
	ck_assert_msg(r < 0, "%s: accepted", registrations[_i].name);
	ck_assert_error(err, registrations[_i].error);
	g_error_free(err);
}
END_TEST

/*
 * 64 subsections (the most one description may have) each with 3 of
 * their own: 256 at all depths is what a device's manifest may list; one
 * more grandchild is refused when the module registers.
 */
START_TEST(test_vmstate_subsections_bounded_per_device)
{
	enum { CHILDREN = VMS_MAX_SUBSECTIONS, GRAND = 3 };
	struct modvmm_vmstate child[CHILDREN], grand[CHILDREN][GRAND + 1];
	struct modvmm_vmstate_subsection csub[CHILDREN];
	struct modvmm_vmstate_subsection gsub[CHILDREN][GRAND + 1];
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	struct modvmm_vmstate top = DESC("s", 1, 1, ok_fields,
					 .subsections = csub,
					 .n_subsections = CHILDREN);

	for (int i = 0; i < CHILDREN; i++) {
		char *cname = g_strdup_printf("s/c%d", i);

		g_ptr_array_add(names, cname);
		for (int j = 0; j <= GRAND; j++) {
			char *gname = g_strdup_printf("%s/g%d", cname, j);

			g_ptr_array_add(names, gname);
			grand[i][j] = (struct modvmm_vmstate)DESC(gname, 1, 1,
								  ok_fields);
			gsub[i][j] = (struct modvmm_vmstate_subsection){
				.size = sizeof(gsub[i][j]), .vms = &grand[i][j]
			};
		}
		child[i] = (struct modvmm_vmstate)DESC(
			cname, 1, 1, ok_fields, .subsections = gsub[i],
			.n_subsections = GRAND);
		csub[i] = (struct modvmm_vmstate_subsection){
			.size = sizeof(csub[i]), .vms = &child[i]
		};
	}
	for (int extra = 0; extra <= 1; extra++) {
		struct state_desc *v = NULL;
		GError *err = NULL;

		child[0].n_subsections = GRAND + extra;
		if (!extra) {
			ck_assert_int_eq(vmstate_import("m", &top,
							sizeof(struct small),
							&v, &err),
					 0);
			vmstate_free(v);
			continue;
		}
		ck_assert_int_eq(vmstate_import("m", &top, sizeof(struct small),
						&v, &err),
				 -EINVAL);
		ck_assert_ptr_null(v);
		ck_assert_error(err, "m: vmstate s: 257 subsections at all "
				     "depths, at most 256");
		g_error_free(err);
	}
}
END_TEST

/* ---- one name, one description, within a device ----------------------- */

/* Refused at registration with `expected`. */
static void assert_refused(const struct modvmm_vmstate *d, uint32_t size,
			   const char *expected)
{
	struct state_desc *v = NULL;
	GError *err = NULL;

	ck_assert_int_eq(
		vmstate_import("module m: device type t", d, size, &v, &err),
		-EINVAL);
	ck_assert_ptr_null(v);
	ck_assert_error(err, expected);
	g_error_free(err);
}

/*
 * vx/a has a legacy-named subsection vx/b, and vx has a subsection vx/b of
 * its own: siblings differ, but a manifest lists a device's subsections
 * by name, so the device's would list vx/b twice.
 */
static const struct modvmm_vmstate vx_b_deep = DESC("vx/b", 1, 1, ok_fields);
static const struct modvmm_vmstate vx_b_top = DESC("vx/b", 1, 1, ok_fields);
static const struct modvmm_vmstate_subsection vx_a_subs[] = {
	{ .size = sizeof(struct modvmm_vmstate_subsection),
	  .flags = MODVMM_VMS_LEGACY_NAME,
	  .vms = &vx_b_deep },
};
static const struct modvmm_vmstate vx_a = DESC(
	"vx/a", 1, 1, ok_fields, .subsections = vx_a_subs, .n_subsections = 1);
static const struct modvmm_vmstate_subsection vx_subs[] = {
	{ .size = sizeof(struct modvmm_vmstate_subsection), .vms = &vx_a },
	{ .size = sizeof(struct modvmm_vmstate_subsection), .vms = &vx_b_top },
};
static const struct modvmm_vmstate vx =
	DESC("vx", 1, 1, ok_fields, .subsections = vx_subs, .n_subsections = 2);

START_TEST(test_vmstate_duplicate_legacy_name_at_depth_refused)
{
	assert_refused(&vx, sizeof(struct small),
		       "module m: device type t: vmstate vx: name vx/b is used "
		       "twice in one device: subsection of vx/a and "
		       "subsection of vx");
}
END_TEST

/* One description as a subsection of two parents: which one a manifest
 * names would depend on the walk. */
static const struct modvmm_vmstate_subsection vx2_subs[] = {
	{ .size = sizeof(struct modvmm_vmstate_subsection), .vms = &vx_a },
	{ .size = sizeof(struct modvmm_vmstate_subsection),
	  .flags = MODVMM_VMS_LEGACY_NAME,
	  .vms = &vx_b_deep },
};
static const struct modvmm_vmstate vx2 = DESC(
	"vx", 1, 1, ok_fields, .subsections = vx2_subs, .n_subsections = 2);

START_TEST(test_vmstate_subsection_of_two_parents_refused)
{
	assert_refused(&vx2, sizeof(struct small),
		       "module m: device type t: vmstate vx: name vx/b is used "
		       "twice in one device: subsection of vx/a and "
		       "subsection of vx");
}
END_TEST

/* A nested struct's description named like a subsection of the device. */
static const struct modvmm_vmstate s_x_struct = DESC("s/x", 1, 1, ok_fields);
static const struct modvmm_vmstate s_x_sub = DESC("s/x", 1, 1, ok_fields);
static const struct modvmm_vmstate_field s_x_fields[] = {
	F(U32, b, 1),
	_MODVMM_VMS(MODVMM_VMS_STRUCT, "in", struct small, a, .since = 1,
		    .vms = &s_x_struct, .stride = 4),
};
static const struct modvmm_vmstate_subsection s_x_subs[] = {
	{ .size = sizeof(struct modvmm_vmstate_subsection), .vms = &s_x_sub },
};
static const struct modvmm_vmstate s_x = DESC(
	"s", 1, 1, s_x_fields, .subsections = s_x_subs, .n_subsections = 1);

START_TEST(test_vmstate_struct_named_like_subsection_refused)
{
	assert_refused(&s_x, sizeof(struct small),
		       "module m: device type t: vmstate s: name s/x is used "
		       "twice in one device: struct field in of s and "
		       "subsection of s");
}
END_TEST

/* A struct's description named like the device's own. */
static const struct modvmm_vmstate s_struct = DESC("s", 1, 1, ok_fields);
static const struct modvmm_vmstate_field s_self_fields[] = {
	F(U32, b, 1),
	_MODVMM_VMS(MODVMM_VMS_STRUCT, "in", struct small, a, .since = 1,
		    .vms = &s_struct, .stride = 4),
};
static const struct modvmm_vmstate s_self = DESC("s", 1, 1, s_self_fields);

START_TEST(test_vmstate_struct_named_like_device_refused)
{
	assert_refused(&s_self, sizeof(struct small),
		       "module m: device type t: vmstate s: name s is used "
		       "twice in one device: the device's description and "
		       "struct field in of s");
}
END_TEST

/* One description, with a subsection of its own, used by two fields. */
struct pair {
	uint32_t x;
	uint32_t y;
};

struct two {
	struct pair p0;
	uint8_t n;
	struct pair ps[2];
};

static const struct modvmm_vmstate_field pair_y_fields[] = {
	MODVMM_VMS_FIELD(U32, struct pair, y, 1),
};
static const struct modvmm_vmstate pair_y = {
	.size = sizeof(struct modvmm_vmstate),
	.version = 1,
	.min_version = 1,
	.name = "pair/y",
	.fields = pair_y_fields,
	.n_fields = 1,
};
static const struct modvmm_vmstate_subsection pair_subs[] = {
	{ .size = sizeof(struct modvmm_vmstate_subsection), .vms = &pair_y },
};
static const struct modvmm_vmstate_field pair_fields[] = {
	MODVMM_VMS_FIELD(U32, struct pair, x, 1),
};
static const struct modvmm_vmstate pair_vms = {
	.size = sizeof(struct modvmm_vmstate),
	.version = 1,
	.min_version = 1,
	.name = "pair",
	.fields = pair_fields,
	.n_fields = 1,
	.subsections = pair_subs,
	.n_subsections = 1,
};
static const struct modvmm_vmstate_field two_fields[] = {
	MODVMM_VMS_STRUCT_FIELD(struct two, p0, &pair_vms, 1),
	MODVMM_VMS_FIELD(U8, struct two, n, 1),
	_MODVMM_VMS(MODVMM_VMS_VARRAY, "ps", struct two, ps, .since = 1,
		    .elem_kind = MODVMM_VMS_STRUCT, .length_field = "n",
		    .count = 2, .stride = sizeof(struct pair),
		    .vms = &pair_vms),
};
static const struct modvmm_vmstate two_vms = {
	.size = sizeof(struct modvmm_vmstate),
	.version = 1,
	.min_version = 1,
	.name = "two",
	.fields = two_fields,
	.n_fields = G_N_ELEMENTS(two_fields),
};

START_TEST(test_vmstate_description_reused_by_two_fields_accepted)
{
	struct two a = { { 1, 2 }, 2, { { 3, 4 }, { 5, 6 } } }, b = { 0 };
	g_autoptr(GByteArray) out = g_byte_array_new();
	struct state_desc *v = NULL;
	GError *err = NULL;

	if (vmstate_import("module m: device type t", &two_vms, sizeof(a), &v,
			   &err) < 0)
		ck_abort_msg("import: %s", err->message);
	ck_assert_int_eq(vmstate_save(v, &a, 1, out, NULL), 0);
	ck_assert_int_eq(
		vmstate_load(v, &b, out->data, out->len, 0, "dev0", NULL, NULL),
		0);
	ck_assert_uint_eq(b.p0.x, 1);
	ck_assert_uint_eq(b.p0.y, 2);
	ck_assert_uint_eq(b.n, 2);
	ck_assert_uint_eq(b.ps[0].x, 3);
	ck_assert_uint_eq(b.ps[0].y, 4);
	ck_assert_uint_eq(b.ps[1].x, 5);
	ck_assert_uint_eq(b.ps[1].y, 6);
	vmstate_free(v);
}
END_TEST

/* ---- load outcomes ---------------------------------------------------- */

/* What a newer or different source would send, as the destination sees. */
static const struct modvmm_vmstate test_v3 = DESC("test", 3, 1, all_fields);
static const struct modvmm_vmstate test_min2 = DESC("test", 2, 2, all_fields);
static const struct modvmm_vmstate new_sub_vms =
	DESC("test/new", 1, 1, sub_fields);
static const struct modvmm_vmstate_subsection new_subs[] = {
	{ .size = sizeof(struct modvmm_vmstate_subsection),
	  .vms = &new_sub_vms },
};
static const struct modvmm_vmstate_subsection new_opt_subs[] = {
	{ .size = sizeof(struct modvmm_vmstate_subsection),
	  .flags = MODVMM_VMS_OPTIONAL,
	  .vms = &new_sub_vms },
};
static const struct modvmm_vmstate test_newsub = DESC(
	"test", 2, 1, all_fields, .subsections = new_subs, .n_subsections = 1);
static const struct modvmm_vmstate test_newoptsub =
	DESC("test", 2, 1, all_fields, .subsections = new_opt_subs,
	     .n_subsections = 1);
static const struct modvmm_vmstate inner_v2 = DESC("inner", 2, 1, inner_fields);
static const struct modvmm_vmstate_field inner2_fields[] = {
	MODVMM_VMS_STRUCT_FIELD(struct st, in, &inner_v2, 1),
};
static const struct modvmm_vmstate_field inner1_fields[] = {
	MODVMM_VMS_STRUCT_FIELD(struct st, in, &inner_vms, 1),
};
static const struct modvmm_vmstate nest_src = DESC("nest", 1, 1, inner2_fields);
static const struct modvmm_vmstate nest_dst = DESC("nest", 1, 1, inner1_fields);

/* Saves `src` with `a`, loads into `dst`; returns the error or NULL. */
static GError *transfer(const struct modvmm_vmstate *src,
			const struct modvmm_vmstate *dst, struct st *a,
			uint32_t version, struct st *ret)
{
	struct state_desc *vs = imp(src), *vd = imp(dst);
	GByteArray *out = save(vs, a, version);
	GError *err = NULL;

	vmstate_load(vd, ret, out->data, out->len, 0, "dev0", NULL, &err);
	g_byte_array_unref(out);
	vmstate_free(vs);
	vmstate_free(vd);
	return err;
}

START_TEST(test_vmstate_load_too_new)
{
	struct st a = { .u8 = 1 }, b = { 0 };
	GError *err = transfer(&test_v3, &test_vms, &a, 3, &b);

	ck_assert_error(err, "dev0: test version 3 is too new: this host loads "
			     "1..2");
	g_error_free(err);
}
END_TEST

START_TEST(test_vmstate_load_too_old)
{
	struct st a = { .u8 = 1 }, b = { 0 };
	GError *err = transfer(&test_vms, &test_min2, &a, 1, &b);

	ck_assert_error(err, "dev0: test version 1 is too old: this host loads "
			     "2..2");
	g_error_free(err);
}
END_TEST

START_TEST(test_vmstate_load_unknown_subsection_refused)
{
	struct st a = { .u8 = 1 }, b = { 0 };
	GError *err = transfer(&test_newsub, &test_vms, &a, 2, &b);

	ck_assert_ptr_nonnull(err);
	ck_assert_msg(g_str_has_prefix(err->message,
				       "dev0: unknown subsection test/new (not "
				       "optional) at offset 0x"),
		      "%s", err->message);
	ck_assert_uint_eq(b.u8, 0);
	g_error_free(err);
}
END_TEST

START_TEST(test_vmstate_load_optional_subsection_dropped)
{
	struct st a = { .u8 = 1, .sub_x = 42 }, b = { .sub_x = 7 };
	GError *err = transfer(&test_newoptsub, &test_vms, &a, 2, &b);

	ck_assert_ptr_null(err);
	ck_assert_uint_eq(b.u8, 1);
	ck_assert_uint_eq(b.sub_x, 7);
}
END_TEST

START_TEST(test_vmstate_load_nested_version_mismatch)
{
	struct st a = { .in = { 1, 2 } }, b = { 0 };
	GError *err = transfer(&nest_src, &nest_dst, &a, 1, &b);

	ck_assert_error(err,
			"dev0: inner version 2 is too new: this host loads "
			"1..1");
	g_error_free(err);
}
END_TEST

START_TEST(test_vmstate_load_validate_refuses)
{
	struct st a = { .u8 = 13 }, b = { 0 };
	GError *err = transfer(&test_vms, &test_vms, &a, 2, &b);

	ck_assert_ptr_nonnull(err);
	ck_assert_msg(
		g_str_has_prefix(err->message,
				 "dev0: test: u8_not_13 refused the state: "
				 "u8 must not be 13 (offset 0x"),
		"%s", err->message);
	ck_assert_uint_eq(b.u8, 0); /* not committed */
	g_error_free(err);
}
END_TEST

/* Offset of field `n` in the section saved from a zeroed state. */
static size_t n_offset(void)
{
	/* header 'S' flags len "test" version length = 3 + 4 + 8 */
	return 15 + 1 + 2 + 4 + 8 + 1 + 2 + 4 + 8 + 1 + 5 + 12;
}

START_TEST(test_vmstate_load_varray_over_bound)
{
	struct state_desc *v = imp(&test_vms);
	struct st a = { 0 }, b = { 0 };
	GByteArray *out = save(v, &a, 2);
	g_autofree char *expected = NULL;
	GError *err = NULL;

	ck_assert_uint_eq(out->data[n_offset()], 0);
	out->data[n_offset()] = 9;
	expected =
		g_strdup_printf("dev0: test: field n=9 exceeds bound 4 of va "
				"(offset 0x%zx)",
				n_offset() + 1);
	ck_assert_int_lt(
		vmstate_load(v, &b, out->data, out->len, 0, "dev0", NULL, &err),
		0);
	ck_assert_error(err, expected);
	g_error_free(err);
	g_byte_array_unref(out);
	vmstate_free(v);
}
END_TEST

START_TEST(test_vmstate_load_bool_out_of_range)
{
	struct state_desc *v = imp(&test_vms);
	struct st a = { 0 }, b = { 0 };
	GByteArray *out = save(v, &a, 2);
	size_t at = n_offset() - 1 - 12 - 5;
	g_autofree char *expected = g_strdup_printf(
		"dev0: test: field flag: bool value 2 at offset 0x%zx", at);
	GError *err = NULL;

	out->data[at] = 2;
	ck_assert_int_lt(
		vmstate_load(v, &b, out->data, out->len, 0, "dev0", NULL, &err),
		0);
	ck_assert_error(err, expected);
	g_error_free(err);
	g_byte_array_unref(out);
	vmstate_free(v);
}
END_TEST

START_TEST(test_vmstate_load_garbage_inside_section)
{
	struct state_desc *v = imp(&test_vms);
	struct st a = { 0 }, b = { 0 };
	GByteArray *out = save(v, &a, 2);
	uint8_t junk[3] = { 0x99, 0x99, 0x99 };
	uint32_t len;
	GError *err = NULL;

	/* Three bytes before END, and the length grown to cover them. */
	g_byte_array_set_size(out, out->len + 3);
	out->data[out->len - 1] = out->data[out->len - 4];
	memcpy(out->data + out->len - 4, junk, 3);
	memcpy(&len, out->data + 11, 4);
	len += 3;
	memcpy(out->data + 11, &len, 4);
	ck_assert_int_lt(
		vmstate_load(v, &b, out->data, out->len, 0, "dev0", NULL, &err),
		0);
	ck_assert_msg(g_str_has_prefix(err->message,
				       "dev0: test: expected a section start "
				       "(0x53) at offset 0x"),
		      "%s", err->message);
	ck_assert_msg(g_str_has_suffix(err->message, ", found 0x99"), "%s",
		      err->message);
	g_error_free(err);
	g_byte_array_unref(out);
	vmstate_free(v);
}
END_TEST

/* ---- section headers: what docs/stream-format.md allows --------------- */

/* Offset of subsection `name`'s header in a saved section. */
static size_t section_at(const GByteArray *out, const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i + 3 + n <= out->len; i++)
		if (out->data[i] == 0x53 && out->data[i + 2] == n &&
		    !memcmp(out->data + i + 3, name, n))
			return i;
	ck_abort_msg("no section %s", name);
	return 0;
}

/* Loads `out`: refused with `expected`, the state untouched. */
static void assert_load_refused(const struct state_desc *v,
				const GByteArray *out, const char *expected)
{
	struct st b = { 0 }, before;
	GError *err = NULL;

	memcpy(&before, &b, sizeof(b));
	ck_assert_int_lt(
		vmstate_load(v, &b, out->data, out->len, 0, "dev0", NULL, &err),
		0);
	ck_assert_error(err, expected);
	ck_assert_mem_eq(&b, &before, sizeof(b));
	g_error_free(err);
}

/*
 * An optional subsection with an empty name, before the device's END: an
 * unknown optional subsection is skipped, but a name of length 0 is not
 * a name.
 */
START_TEST(test_vmstate_load_empty_subsection_name_refused)
{
	static const uint8_t empty[] = {
		0x53, 0x01, 0x00,    /* start, optional, name length 0 */
		1,    0,    0,	  0, /* version 1 */
		0,    0,    0,	  0, /* payload of 0 bytes */
		0x45,		     /* end */
	};
	struct state_desc *v = imp(&test_vms);
	struct st a = { .u8 = 1 };
	GByteArray *out = save(v, &a, 2);
	size_t at = out->len - 1;
	g_autofree char *expected = g_strdup_printf(
		"dev0: test: section at offset 0x%zx has an empty name "
		"(name length 0)",
		at);
	uint32_t len;

	g_byte_array_set_size(out, out->len + sizeof(empty));
	memcpy(out->data + at, empty, sizeof(empty));
	out->data[out->len - 1] = 0x45;
	memcpy(&len, out->data + 11, 4);
	len += sizeof(empty);
	memcpy(out->data + 11, &len, 4);
	assert_load_refused(v, out, expected);
	g_byte_array_unref(out);
	vmstate_free(v);
}
END_TEST

/* A known subsection whose flags carry a bit the format reserves. */
START_TEST(test_vmstate_load_reserved_flag_refused)
{
	struct state_desc *v = imp(&test_vms);
	struct st a = { .u8 = 1, .opt_y = 5 };
	GByteArray *out = save(v, &a, 2);
	size_t at = section_at(out, "test/opt");
	g_autofree char *expected = g_strdup_printf(
		"dev0: test: section at offset 0x%zx has flags 0x81: bits "
		"other than 0x01 (optional) are reserved",
		at);

	ck_assert_uint_eq(out->data[at + 1], 0x01);
	out->data[at + 1] = 0x81;
	assert_load_refused(v, out, expected);
	g_byte_array_unref(out);
	vmstate_free(v);
}
END_TEST

/* The same on the device's own section. */
START_TEST(test_vmstate_load_reserved_flag_on_device_refused)
{
	struct state_desc *v = imp(&test_vms);
	struct st a = { .u8 = 1 };
	GByteArray *out = save(v, &a, 2);

	out->data[1] = 0x02;
	assert_load_refused(v, out,
			    "dev0: test: section at offset 0x0 has flags 0x02: "
			    "bits other than 0x01 (optional) are reserved");
	g_byte_array_unref(out);
	vmstate_free(v);
}
END_TEST

/* Every prefix of a full stream: a clean error and the state untouched. */
START_TEST(test_vmstate_load_truncated_at_every_offset)
{
	g_autoptr(GRand) rnd = g_rand_new_with_seed(99);
	struct state_desc *v = imp(&test_vms);
	struct st a, b, before;
	GByteArray *out;

	fill(&a, rnd);
	fill(&b, rnd);
	before = b;
	out = save(v, &a, 2);
	for (size_t n = 0; n < out->len; n++) {
		g_autofree uint8_t *cut = g_memdup2(out->data, n);
		GError *err = NULL;

		ck_assert_msg(
			vmstate_load(v, &b, cut, n, 0, "dev0", NULL, &err) < 0,
			"prefix %zu accepted", n);
		ck_assert_ptr_nonnull(err);
		ck_assert_msg(memcmp(&b, &before, sizeof(b)) == 0,
			      "prefix %zu changed the state", n);
		g_error_free(err);
	}
	g_byte_array_unref(out);
	vmstate_free(v);
}
END_TEST

START_TEST(test_vmstate_hooks_run_in_order)
{
	struct state_desc *v = imp(&test_vms);
	struct st a = { .u8 = 5, .n = 2, .va = { 1, 2 } }, b = { 0 };
	GByteArray *out = save(v, &a, 2);

	/* Loading twice gives the same state: nothing accumulates. */
	ck_assert_int_eq(
		vmstate_load(v, &b, out->data, out->len, 0, "dev0", NULL, NULL),
		0);
	ck_assert_int_eq(
		vmstate_load(v, &b, out->data, out->len, 0, "dev0", NULL, NULL),
		0);
	ck_assert_uint_eq(b.u8, 5);
	ck_assert_uint_eq(b.va[1], 2);
	g_byte_array_unref(out);
	vmstate_free(v);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vmstate");

	G_STATIC_ASSERT(sizeof(struct small) == 20);
	TCase *tc = tcase_create("vmstate");

	tcase_add_test(tc, test_vmstate_round_trip_every_version);
	tcase_add_test(tc, test_vmstate_subsection_absent_keeps_value);
	tcase_add_test(tc, test_vmstate_save_outside_range_refused);
	tcase_add_test(tc, test_vmstate_subsections_bounded_per_device);
	tcase_add_loop_test(tc, test_vmstate_registration_table, 0,
			    G_N_ELEMENTS(registrations));
	tcase_add_test(tc, test_vmstate_duplicate_legacy_name_at_depth_refused);
	tcase_add_test(tc, test_vmstate_subsection_of_two_parents_refused);
	tcase_add_test(tc, test_vmstate_struct_named_like_subsection_refused);
	tcase_add_test(tc, test_vmstate_struct_named_like_device_refused);
	tcase_add_test(tc,
		       test_vmstate_description_reused_by_two_fields_accepted);
	tcase_add_test(tc, test_vmstate_load_too_new);
	tcase_add_test(tc, test_vmstate_load_too_old);
	tcase_add_test(tc, test_vmstate_load_unknown_subsection_refused);
	tcase_add_test(tc, test_vmstate_load_optional_subsection_dropped);
	tcase_add_test(tc, test_vmstate_load_nested_version_mismatch);
	tcase_add_test(tc, test_vmstate_load_validate_refuses);
	tcase_add_test(tc, test_vmstate_load_varray_over_bound);
	tcase_add_test(tc, test_vmstate_load_bool_out_of_range);
	tcase_add_test(tc, test_vmstate_load_garbage_inside_section);
	tcase_add_test(tc, test_vmstate_load_empty_subsection_name_refused);
	tcase_add_test(tc, test_vmstate_load_reserved_flag_refused);
	tcase_add_test(tc, test_vmstate_load_reserved_flag_on_device_refused);
	tcase_add_test(tc, test_vmstate_load_truncated_at_every_offset);
	tcase_add_test(tc, test_vmstate_hooks_run_in_order);
	suite_add_tcase(s, tc);
	return check_run(s);
}
