// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/vmstate-types.c - what each field kind is: its name, width, sizes
 * in the state and on the wire, its own import checks, its save and its
 * load, in one table (vmstate_kinds) that the import checks, the
 * interpreter and the layouts all read instead of each switching on the
 * kind.
 *
 * The wire is little-endian. Loads read from a section reader, checked
 * against the end of the section they belong to, into a copy of the
 * state (vmstate.c), so a loader may leave it half written on failure.
 */
#include <errno.h>

#include "base/error.h"
#include "vmstate.h"
#include "vmstate-internal.h"

int vmstate_kind_width(uint32_t kind)
{
	return kind < G_N_ELEMENTS(vmstate_kinds) ? vmstate_kinds[kind].width
						  : 0;
}

const char *vmstate_kind_name(uint32_t kind)
{
	return kind < G_N_ELEMENTS(vmstate_kinds) && vmstate_kinds[kind].name
		       ? vmstate_kinds[kind].name
		       : "?";
}

uint64_t vmstate_varray_length(const struct state_desc *v,
			       const struct state_field *vf,
			       const uint8_t *state)
{
	const struct state_field *lf = &v->fields[vf->length_index];

	return state_get(state + lf->f.offset, field_ops(lf)->width);
}

/* ---- sizes ------------------------------------------------------------ */

static uint64_t size_none(const struct state_field *vf)
{
	(void)vf;
	return 0;
}

static uint64_t size_width(const struct state_field *vf)
{
	return (uint64_t)field_ops(vf)->width;
}

static uint64_t size_count(const struct state_field *vf)
{
	return vf->f.count;
}

static uint64_t size_stride(const struct state_field *vf)
{
	return vf->f.stride;
}

/* An array's bytes of state: count elements of a width or a stride. */
static uint64_t size_elems(const struct state_field *vf)
{
	const struct modvmm_vmstate_field *f = &vf->f;
	uint64_t elem = f->elem_kind == MODVMM_VMS_STRUCT
				? f->stride
				: (uint64_t)vmstate_kind_width(f->elem_kind);

	return (uint64_t)f->count * elem;
}

/* A fixed array's bytes on the wire: those of structs depend on them. */
static uint64_t wire_size_array(const struct state_field *vf)
{
	const struct modvmm_vmstate_field *f = &vf->f;

	return f->elem_kind == MODVMM_VMS_STRUCT
		       ? 0
		       : (uint64_t)f->count *
				 (uint64_t)vmstate_kind_width(f->elem_kind);
}

/* ---- import checks ---------------------------------------------------- */

static char *check_bound(const char *what, uint32_t count)
{
	if (!count || count > VMS_MAX_COUNT)
		return g_strdup_printf("%s %u bytes", what, count);
	return NULL;
}

static char *check_buffer(struct state_desc *v, uint32_t i)
{
	return check_bound("buffer of", v->fields[i].f.count);
}

static char *check_unused(struct state_desc *v, uint32_t i)
{
	const struct modvmm_vmstate_field *f = &v->fields[i].f;

	if (!f->retired_in || !*f->retired_in)
		return g_strdup("unused slot without the machine type it was "
				"retired in");
	return check_bound("unused slot of", f->count);
}

static char *check_validate(struct state_desc *v, uint32_t i)
{
	if (!v->fields[i].f.validate)
		return g_strdup("validate field without a validate function");
	return NULL;
}

static char *check_array(struct state_desc *v, uint32_t i)
{
	const struct modvmm_vmstate_field *f = &v->fields[i].f;

	if (f->elem_kind != MODVMM_VMS_STRUCT &&
	    !vmstate_kind_width(f->elem_kind))
		return g_strdup_printf("element kind %u is neither an integer "
				       "nor a struct",
				       f->elem_kind);
	if (!f->count || f->count > VMS_MAX_COUNT)
		return g_strdup_printf("%s has no bound (count %u)",
				       f->kind == MODVMM_VMS_ARRAY
					       ? "array"
					       : "variable array",
				       f->count);
	return NULL;
}

/*
 * A variable array's length field: an earlier integer field, no newer
 * than the array, so that a load has it before the elements it counts.
 */
static char *check_varray(struct state_desc *v, uint32_t i)
{
	struct state_field *vf = &v->fields[i];
	const struct modvmm_vmstate_field *f = &vf->f;
	const struct modvmm_vmstate_field *lf;
	char *why = check_array(v, i);
	int found = -1;

	if (why)
		return why;
	for (uint32_t j = 0; j < v->d.n_fields; j++)
		if (f->length_field &&
		    !strcmp(v->fields[j].f.name, f->length_field))
			found = (int)j;
	if (found < 0)
		return g_strdup_printf("length field %s does not exist",
				       f->length_field ? f->length_field
						       : "(none)");
	lf = &v->fields[found].f;
	if ((uint32_t)found > i)
		return g_strdup_printf("length field %s comes after it",
				       f->length_field);
	if (!vmstate_kind_width(lf->kind) || lf->kind == MODVMM_VMS_BOOL)
		return g_strdup_printf("length field %s is not an integer",
				       f->length_field);
	if (lf->since > f->since)
		return g_strdup_printf("length field %s is newer (since %u) "
				       "than it",
				       f->length_field, lf->since);
	vf->length_index = found;
	return NULL;
}

/* ---- save ------------------------------------------------------------- */

/*
 * Integers of a constant width: a wrapper per width lets the compiler
 * unroll put_le and state_get, which the small devices' save feels.
 */
static inline void save_le(const struct state_field *vf, const uint8_t *state,
			   GByteArray *out, int w)
{
	put_le(out, state_get(state + vf->f.offset, w), w);
}

#define SAVE_INT(w)                                                            \
	static int save_int##w(const struct state_desc *v,                     \
			       const struct state_field *vf, uint8_t *state,   \
			       GByteArray *out, GError **error)                \
	{                                                                      \
		(void)v;                                                       \
		(void)error;                                                   \
		save_le(vf, state, out, w);                                    \
		return 0;                                                      \
	}
SAVE_INT(1)
SAVE_INT(2)
SAVE_INT(4)
SAVE_INT(8)
#undef SAVE_INT

static int save_bool(const struct state_desc *v, const struct state_field *vf,
		     uint8_t *state, GByteArray *out, GError **error)
{
	(void)v;
	(void)error;
	put_le(out, state[vf->f.offset] ? 1 : 0, 1);
	return 0;
}

static int save_nothing(const struct state_desc *v,
			const struct state_field *vf, uint8_t *state,
			GByteArray *out, GError **error)
{
	(void)v;
	(void)vf;
	(void)state;
	(void)out;
	(void)error;
	return 0;
}

static int save_buffer(const struct state_desc *v, const struct state_field *vf,
		       uint8_t *state, GByteArray *out, GError **error)
{
	(void)v;
	(void)error;
	g_byte_array_append(out, state + vf->f.offset, vf->f.count);
	return 0;
}

static int save_unused(const struct state_desc *v, const struct state_field *vf,
		       uint8_t *state, GByteArray *out, GError **error)
{
	(void)v;
	(void)state;
	(void)error;
	for (uint32_t k = 0; k < vf->f.count; k++)
		put_le(out, 0, 1);
	return 0;
}

static int save_struct(const struct state_desc *v, const struct state_field *vf,
		       uint8_t *state, GByteArray *out, GError **error)
{
	(void)v;
	return vmstate_section_save(vf->nested, state + vf->f.offset,
				    vf->nested->d.version, 0, out, error);
}

/* The first n elements of an array at `at`. */
static int save_elems(const struct state_field *vf, uint8_t *at, uint32_t n,
		      GByteArray *out, GError **error)
{
	int w = vmstate_kind_width(vf->f.elem_kind);

	/* The wire is little-endian: on such a host, integers move whole. */
	if (G_BYTE_ORDER == G_LITTLE_ENDIAN &&
	    vf->f.elem_kind != MODVMM_VMS_STRUCT &&
	    vf->f.elem_kind != MODVMM_VMS_BOOL) {
		g_byte_array_append(out, at, n * (guint)w);
		return 0;
	}

	for (uint32_t k = 0; k < n; k++) {
		if (vf->f.elem_kind == MODVMM_VMS_STRUCT) {
			int r = vmstate_section_save(
				vf->nested, at + (size_t)k * vf->f.stride,
				vf->nested->d.version, 0, out, error);
			if (r < 0)
				return r;
		} else {
			put_le(out, state_get(at + (size_t)k * (size_t)w, w),
			       w);
		}
	}
	return 0;
}

static int save_array(const struct state_desc *v, const struct state_field *vf,
		      uint8_t *state, GByteArray *out, GError **error)
{
	(void)v;
	return save_elems(vf, state + vf->f.offset, vf->f.count, out, error);
}

static int save_varray(const struct state_desc *v, const struct state_field *vf,
		       uint8_t *state, GByteArray *out, GError **error)
{
	const struct modvmm_vmstate_field *f = &vf->f;
	uint64_t n = vmstate_varray_length(v, vf, state);

	if (n > f->count)
		return error_setf(error, ERANGE,
				  "vmstate %s: field %s=%" G_GUINT64_FORMAT
				  " exceeds bound %u of %s: the device's "
				  "state is inconsistent",
				  v->name, f->length_field, (guint64)n,
				  f->count, f->name);
	return save_elems(vf, state + f->offset, (uint32_t)n, out, error);
}

/* ---- load ------------------------------------------------------------- */

/* Integers of a constant width, as for save_le. */
static inline int load_le(struct section_load *sl, const struct state_field *vf,
			  int w, GError **error)
{
	struct section_reader *rd = sl->rd;
	int r = reader_check_room(rd, sl->end, (size_t)w, sl->v->name,
				  vf->f.name, error);

	if (r < 0)
		return r;
	state_set(sl->state + vf->f.offset, w, get_le(rd->buf + rd->pos, w));
	rd->pos += (size_t)w;
	return 0;
}

#define LOAD_INT(w)                                                            \
	static int load_int##w(struct section_load *sl,                        \
			       const struct state_field *vf, uint32_t *count,  \
			       GError **error)                                 \
	{                                                                      \
		(void)count;                                                   \
		return load_le(sl, vf, w, error);                              \
	}
LOAD_INT(1)
LOAD_INT(2)
LOAD_INT(4)
LOAD_INT(8)
#undef LOAD_INT

static int load_bool(struct section_load *sl, const struct state_field *vf,
		     uint32_t *count, GError **error)
{
	struct section_reader *rd = sl->rd;
	int r = reader_check_room(rd, sl->end, 1, sl->v->name, vf->f.name,
				  error);

	(void)count;
	if (r < 0)
		return r;
	if (rd->buf[rd->pos] > 1)
		return error_setf(error, EPROTO,
				  "%s: %s: field %s: bool value %u at offset "
				  "0x%zx",
				  rd->id, sl->v->name, vf->f.name,
				  rd->buf[rd->pos], rd->base + rd->pos);
	sl->state[vf->f.offset] = rd->buf[rd->pos];
	rd->pos++;
	return 0;
}

static int load_validate(struct section_load *sl, const struct state_field *vf,
			 uint32_t *count, GError **error)
{
	struct section_reader *rd = sl->rd;
	const char *msg = NULL;
	int r = vf->f.validate(sl->state, sl->version, &msg);

	(void)count;
	if (r < 0)
		return error_setf(error, EINVAL,
				  "%s: %s: %s refused the state: %s (offset "
				  "0x%zx)",
				  rd->id, sl->v->name, vf->f.name,
				  msg ? msg : g_strerror(-r),
				  rd->base + rd->pos);
	return 0;
}

static int load_buffer(struct section_load *sl, const struct state_field *vf,
		       uint32_t *count, GError **error)
{
	struct section_reader *rd = sl->rd;
	int r = reader_check_room(rd, sl->end, vf->f.count, sl->v->name,
				  vf->f.name, error);

	(void)count;
	if (r < 0)
		return r;
	memcpy(sl->state + vf->f.offset, rd->buf + rd->pos, vf->f.count);
	rd->pos += vf->f.count;
	return 0;
}

/* A retired slot's bytes are read past, whatever they hold. */
static int load_unused(struct section_load *sl, const struct state_field *vf,
		       uint32_t *count, GError **error)
{
	struct section_reader *rd = sl->rd;
	int r = reader_check_room(rd, sl->end, vf->f.count, sl->v->name,
				  vf->f.name, error);

	(void)count;
	if (r < 0)
		return r;
	rd->pos += vf->f.count;
	return 0;
}

static int load_struct(struct section_load *sl, const struct state_field *vf,
		       uint32_t *count, GError **error)
{
	(void)count;
	return vmstate_nested_load(vf->nested, sl->state + vf->f.offset, sl->rd,
				   sl->end, sl->v->name, error);
}

/* One element of an integer or bool array, k-th of its field. */
static int load_elem(struct section_load *sl, const struct state_field *vf,
		     uint8_t *at, uint32_t k, GError **error)
{
	struct section_reader *rd = sl->rd;
	int w = vmstate_kind_width(vf->f.elem_kind);
	int r = reader_check_room(rd, sl->end, (size_t)w, sl->v->name,
				  vf->f.name, error);

	if (r < 0)
		return r;
	if (vf->f.elem_kind == MODVMM_VMS_BOOL && rd->buf[rd->pos] > 1)
		return error_setf(error, EPROTO,
				  "%s: %s: field %s[%u]: bool value %u at "
				  "offset 0x%zx",
				  rd->id, sl->v->name, vf->f.name, k,
				  rd->buf[rd->pos], rd->base + rd->pos);
	state_set(at + (size_t)k * (size_t)w, w, get_le(rd->buf + rd->pos, w));
	rd->pos += (size_t)w;
	return 0;
}

/* The first n elements of an array at `at`. */
static int load_elems(struct section_load *sl, const struct state_field *vf,
		      uint8_t *at, uint32_t n, GError **error)
{
	struct section_reader *rd = sl->rd;
	size_t w = (size_t)vmstate_kind_width(vf->f.elem_kind);

	/* As in save_elems: integers move whole on a little-endian host. */
	if (G_BYTE_ORDER == G_LITTLE_ENDIAN &&
	    vf->f.elem_kind != MODVMM_VMS_STRUCT &&
	    vf->f.elem_kind != MODVMM_VMS_BOOL) {
		int r = reader_check_room(rd, sl->end, (size_t)n * w,
					  sl->v->name, vf->f.name, error);

		if (r < 0)
			return r;
		memcpy(at, rd->buf + rd->pos, (size_t)n * w);
		rd->pos += (size_t)n * w;
		return 0;
	}

	for (uint32_t k = 0; k < n; k++) {
		int r;

		if (vf->f.elem_kind == MODVMM_VMS_STRUCT)
			r = vmstate_nested_load(
				vf->nested, at + (size_t)k * vf->f.stride, rd,
				sl->end, sl->v->name, error);
		else
			r = load_elem(sl, vf, at, k, error);
		if (r < 0)
			return r;
	}
	return 0;
}

static int load_array(struct section_load *sl, const struct state_field *vf,
		      uint32_t *count, GError **error)
{
	(void)count;
	return load_elems(sl, vf, sl->state + vf->f.offset, vf->f.count, error);
}

static int load_varray(struct section_load *sl, const struct state_field *vf,
		       uint32_t *count, GError **error)
{
	const struct modvmm_vmstate_field *f = &vf->f;
	struct section_reader *rd = sl->rd;
	/* Its length field came earlier and is loaded. */
	uint64_t n = vmstate_varray_length(sl->v, vf, sl->state);

	*count = (uint32_t)n;
	if (n > f->count)
		return error_setf(error, ERANGE,
				  "%s: %s: field %s=%" G_GUINT64_FORMAT
				  " exceeds bound %u of %s (offset 0x%zx)",
				  rd->id, sl->v->name, f->length_field,
				  (guint64)n, f->count, f->name,
				  rd->base + rd->pos);
	return load_elems(sl, vf, sl->state + f->offset, (uint32_t)n, error);
}

/* ---- the table -------------------------------------------------------- */

#define INT_KIND(n, w)                                                         \
	{                                                                      \
		.name = (n), .width = (w), .state_size = size_width,           \
		.wire_size = size_width, .save = save_int##w,                  \
		.load = load_int##w,                                           \
	}

const struct vmstate_kind_ops vmstate_kinds[MODVMM_VMS_VALIDATE + 1] = {
	[MODVMM_VMS_U8] = INT_KIND("u8", 1),
	[MODVMM_VMS_U16] = INT_KIND("u16", 2),
	[MODVMM_VMS_U32] = INT_KIND("u32", 4),
	[MODVMM_VMS_U64] = INT_KIND("u64", 8),
	[MODVMM_VMS_I8] = INT_KIND("i8", 1),
	[MODVMM_VMS_I16] = INT_KIND("i16", 2),
	[MODVMM_VMS_I32] = INT_KIND("i32", 4),
	[MODVMM_VMS_I64] = INT_KIND("i64", 8),
	[MODVMM_VMS_BOOL] = {
		.name = "bool",
		.width = 1,
		.state_size = size_width,
		.wire_size = size_width,
		.save = save_bool,
		.load = load_bool,
	},
	[MODVMM_VMS_BUFFER] = {
		.name = "buffer",
		.state_size = size_count,
		.wire_size = size_count,
		.check = check_buffer,
		.save = save_buffer,
		.load = load_buffer,
	},
	[MODVMM_VMS_ARRAY] = {
		.name = "array",
		.state_size = size_elems,
		.wire_size = wire_size_array,
		.check = check_array,
		.save = save_array,
		.load = load_array,
	},
	[MODVMM_VMS_VARRAY] = {
		.name = "varray",
		.state_size = size_elems,
		.wire_size = size_none,
		.check = check_varray,
		.save = save_varray,
		.load = load_varray,
	},
	[MODVMM_VMS_STRUCT] = {
		.name = "struct",
		.state_size = size_stride,
		.wire_size = size_none,
		.save = save_struct,
		.load = load_struct,
	},
	[MODVMM_VMS_UNUSED] = {
		.name = "unused",
		.state_size = size_count,
		.wire_size = size_count,
		.check = check_unused,
		.save = save_unused,
		.load = load_unused,
	},
	[MODVMM_VMS_VALIDATE] = {
		.name = "validate",
		.no_data = true,
		.state_size = size_none,
		.wire_size = size_none,
		.check = check_validate,
		.save = save_nothing,
		.load = load_validate,
	},
};
