// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/vmstate.c - device state: description checks, framed save, and a
 * bounded load that commits only on success.
 *
 * Descriptions come from modules and are imported (append-only struct
 * rule) and checked once, at registration; a bad one is refused with the
 * module, device type, description and field named. Streams are hostile:
 * every read is checked against the end of the section it belongs to, and
 * a load goes into a copy of the state that replaces it only at the end.
 */
#include <errno.h>
#include <string.h>

#include "base/error.h"
#include "vmstate.h"
#include "compat/abi-rules.h"

int vmstate_kind_width(uint32_t kind)
{
	switch (kind) {
	case MODVMM_VMS_U8:
	case MODVMM_VMS_I8:
	case MODVMM_VMS_BOOL:
		return 1;
	case MODVMM_VMS_U16:
	case MODVMM_VMS_I16:
		return 2;
	case MODVMM_VMS_U32:
	case MODVMM_VMS_I32:
		return 4;
	case MODVMM_VMS_U64:
	case MODVMM_VMS_I64:
		return 8;
	}
	return 0;
}

const char *vmstate_kind_name(uint32_t kind)
{
	static const char *const names[] = {
		[MODVMM_VMS_U8] = "u8",
		[MODVMM_VMS_U16] = "u16",
		[MODVMM_VMS_U32] = "u32",
		[MODVMM_VMS_U64] = "u64",
		[MODVMM_VMS_I8] = "i8",
		[MODVMM_VMS_I16] = "i16",
		[MODVMM_VMS_I32] = "i32",
		[MODVMM_VMS_I64] = "i64",
		[MODVMM_VMS_BOOL] = "bool",
		[MODVMM_VMS_BUFFER] = "buffer",
		[MODVMM_VMS_ARRAY] = "array",
		[MODVMM_VMS_VARRAY] = "varray",
		[MODVMM_VMS_STRUCT] = "struct",
		[MODVMM_VMS_UNUSED] = "unused",
		[MODVMM_VMS_VALIDATE] = "validate",
	};

	return kind < G_N_ELEMENTS(names) && names[kind] ? names[kind] : "?";
}

void vmstate_free(struct state_desc *v)
{
	if (!v)
		return;
	for (uint32_t i = 0; v->fields && i < v->d.n_fields; i++)
		vmstate_free(v->fields[i].nested);
	for (uint32_t i = 0; v->subs && i < v->d.n_subsections; i++)
		vmstate_free(v->subs[i].vms);
	g_free(v->fields);
	g_free(v->subs);
	g_free(v->name);
	g_free(v);
}

uint32_t vmstate_min_save(const struct state_desc *v)
{
	return v->d.min_save_version ? v->d.min_save_version : v->d.version;
}

/* Bytes of state a field covers, or 0 if it covers none. */
static uint64_t field_state_size(const struct state_field *vf)
{
	const struct modvmm_vmstate_field *f = &vf->f;
	uint64_t elem = f->elem_kind == MODVMM_VMS_STRUCT
				? f->stride
				: (uint64_t)vmstate_kind_width(f->elem_kind);

	switch (f->kind) {
	case MODVMM_VMS_BUFFER:
	case MODVMM_VMS_UNUSED:
		return f->count;
	case MODVMM_VMS_ARRAY:
	case MODVMM_VMS_VARRAY:
		return (uint64_t)f->count * elem;
	case MODVMM_VMS_STRUCT:
		return f->stride;
	case MODVMM_VMS_VALIDATE:
		return 0;
	}
	return (uint64_t)vmstate_kind_width(f->kind);
}

static int import(const char *where, const struct modvmm_vmstate *src,
		  uint32_t state_size, int depth, struct state_desc **ret,
		  GError **error);

static int field_check(const char *where, struct state_desc *v, uint32_t i, int depth,
		       GError **error)
{
	struct state_field *vf = &v->fields[i];
	const struct modvmm_vmstate_field *f = &vf->f;
	const char *n = f->name;
	uint64_t size;

#define FAIL(...)                                                              \
	do {                                                                   \
		g_autofree char *why_ = g_strdup_printf(__VA_ARGS__);          \
		return error_setf(error, EINVAL,                               \
				  "%s: vmstate %s: field %s: %s", where,       \
				  v->name, n, why_);                           \
	} while (0)

	if (f->kind < MODVMM_VMS_U8 || f->kind > MODVMM_VMS_VALIDATE)
		FAIL("unknown kind %u", f->kind);
	if (!f->since || f->since > v->d.version)
		FAIL("since %u is outside the description's versions 1..%u",
		     f->since, v->d.version);
	for (uint32_t j = 0; j < i; j++)
		if (!strcmp(v->fields[j].f.name, n))
			FAIL("declared twice");
	switch (f->kind) {
	case MODVMM_VMS_ARRAY:
	case MODVMM_VMS_VARRAY:
		if (f->elem_kind != MODVMM_VMS_STRUCT &&
		    !vmstate_kind_width(f->elem_kind))
			FAIL("element kind %u is neither an integer nor a "
			     "struct",
			     f->elem_kind);
		if (!f->count || f->count > VMS_MAX_COUNT)
			FAIL("%s has no bound (count %u)",
			     f->kind == MODVMM_VMS_ARRAY ? "array"
							 : "variable array",
			     f->count);
		break;
	case MODVMM_VMS_BUFFER:
		if (!f->count || f->count > VMS_MAX_COUNT)
			FAIL("buffer of %u bytes", f->count);
		break;
	case MODVMM_VMS_UNUSED:
		if (!f->retired_in || !*f->retired_in)
			FAIL("unused slot without the machine type it was "
			     "retired in");
		if (!f->count || f->count > VMS_MAX_COUNT)
			FAIL("unused slot of %u bytes", f->count);
		break;
	case MODVMM_VMS_VALIDATE:
		if (!f->validate)
			FAIL("validate field without a validate function");
		break;
	}
	if (f->kind == MODVMM_VMS_VARRAY) {
		int found = -1;

		for (uint32_t j = 0; j < v->d.n_fields; j++)
			if (f->length_field &&
			    !strcmp(v->fields[j].f.name, f->length_field))
				found = (int)j;
		if (found < 0)
			FAIL("length field %s does not exist",
			     f->length_field ? f->length_field : "(none)");
		if ((uint32_t)found > i)
			FAIL("length field %s comes after it", f->length_field);
		if (!vmstate_kind_width(v->fields[found].f.kind) ||
		    v->fields[found].f.kind == MODVMM_VMS_BOOL)
			FAIL("length field %s is not an integer",
			     f->length_field);
		if (v->fields[found].f.since > f->since)
			FAIL("length field %s is newer (since %u) than it",
			     f->length_field, v->fields[found].f.since);
		vf->length_index = found;
	}
	if (f->kind == MODVMM_VMS_STRUCT ||
	    ((f->kind == MODVMM_VMS_ARRAY || f->kind == MODVMM_VMS_VARRAY) &&
	     f->elem_kind == MODVMM_VMS_STRUCT)) {
		g_autofree char *inner = NULL;
		int r;

		if (!f->vms || !f->stride)
			FAIL("struct without a description or a stride");
		inner = g_strdup_printf("%s: vmstate %s: field %s", where,
					v->name, n);
		r = import(inner, f->vms, f->stride, depth + 1, &vf->nested,
			   error);
		if (r < 0)
			return r;
	}
	size = field_state_size(vf);
	if ((uint64_t)f->offset + size > v->state_size)
		FAIL("%" G_GUINT64_FORMAT " bytes at offset %u lie outside the "
		     "%u bytes of state",
		     size, f->offset, v->state_size);
#undef FAIL
	return 0;
}

static int import(const char *where, const struct modvmm_vmstate *src,
		  uint32_t state_size, int depth, struct state_desc **ret,
		  GError **error)
{
	struct state_desc *v = g_new0(struct state_desc, 1);
	const char *p;
	int r;

	if (depth > VMS_MAX_DEPTH) {
		r = error_setf(error, EINVAL,
			       "%s: vmstate nested more than %d deep", where,
			       VMS_MAX_DEPTH);
		goto fail;
	}
	if (src->size < sizeof(uint32_t) || src->size > 4096 ||
	    abi_struct_import(&v->d, sizeof(v->d), src, src->size, NULL) < 0) {
		r = error_setf(
			error, EPROTO,
			"%s: struct modvmm_vmstate of size %u is not one "
			"this host reads",
			where, src->size);
		goto fail;
	}
	v->src = src;
	v->state_size = state_size;
	v->name = g_strdup(v->d.name ? v->d.name : "");
	if (!*v->name) {
		r = error_setf(error, EINVAL, "%s: a vmstate has no name",
			       where);
		goto fail;
	}
	/* Names go on the wire with a one-byte length. */
	if (strlen(v->name) > VMS_MAX_NAME) {
		r = error_setf(error, ENAMETOOLONG,
			       "%s: vmstate name %.40s... is longer than %d "
			       "bytes",
			       where, v->name, VMS_MAX_NAME);
		goto fail;
	}
	if (!v->d.version || v->d.min_version > v->d.version ||
	    !v->d.min_version || v->d.min_save_version > v->d.version) {
		r = error_setf(
			error, EINVAL,
			"%s: vmstate %s: versions make no sense: version "
			"%u, min_version %u, min_save_version %u",
			where, v->name, v->d.version, v->d.min_version,
			v->d.min_save_version);
		goto fail;
	}
	if (v->d.n_fields > VMS_MAX_FIELDS || (v->d.n_fields && !v->d.fields) ||
	    v->d.n_subsections > VMS_MAX_SUBSECTIONS ||
	    (v->d.n_subsections && !v->d.subsections)) {
		r = error_setf(error, EINVAL,
			       "%s: vmstate %s: %u fields and %u subsections, "
			       "at most %d and %d",
			       where, v->name, v->d.n_fields,
			       v->d.n_subsections, VMS_MAX_FIELDS,
			       VMS_MAX_SUBSECTIONS);
		goto fail;
	}
	/* Fields first, all of them, so that length fields can be found. */
	v->fields = g_new0(struct state_field, v->d.n_fields);
	p = (const char *)v->d.fields;
	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		const struct modvmm_vmstate_field *mf = (const void *)p;

		if (mf->size < sizeof(uint32_t) || mf->size > 4096 ||
		    abi_struct_import(&v->fields[i].f, sizeof(v->fields[i].f),
				      mf, mf->size, NULL) < 0) {
			r = error_setf(
				error, EPROTO,
				"%s: vmstate %s: field %u: struct of size "
				"%u is not one this host reads",
				where, v->name, i, mf->size);
			goto fail;
		}
		if (!v->fields[i].f.name || !*v->fields[i].f.name) {
			r = error_setf(error, EINVAL,
				       "%s: vmstate %s: field %u has no name",
				       where, v->name, i);
			goto fail;
		}
		p += mf->size;
	}
	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		r = field_check(where, v, i, depth, error);
		if (r < 0)
			goto fail;
	}

	v->subs = g_new0(struct state_sub, v->d.n_subsections);
	p = (const char *)v->d.subsections;
	for (uint32_t i = 0; i < v->d.n_subsections; i++) {
		const struct modvmm_vmstate_subsection *ms = (const void *)p;
		struct modvmm_vmstate_subsection s;
		struct state_sub *sub = &v->subs[i];
		size_t plen = strlen(v->name);

		if (ms->size < sizeof(uint32_t) || ms->size > 4096 ||
		    abi_struct_import(&s, sizeof(s), ms, ms->size, NULL) < 0 ||
		    !s.vms) {
			r = error_setf(
				error, EPROTO,
				"%s: vmstate %s: subsection %u is not one "
				"this host reads",
				where, v->name, i);
			goto fail;
		}
		p += ms->size;
		sub->flags = s.flags;
		sub->needed = s.needed;
		r = import(where, s.vms, state_size, depth + 1, &sub->vms,
			   error);
		if (r < 0)
			goto fail;
		if (!(s.flags & MODVMM_VMS_LEGACY_NAME) &&
		    (strncmp(sub->vms->name, v->name, plen) ||
		     sub->vms->name[plen] != '/' || !sub->vms->name[plen + 1] ||
		     strchr(sub->vms->name + plen + 1, '/'))) {
			r = error_setf(
				error, EINVAL,
				"%s: vmstate %s: subsection %s is not named "
				"%s/CHILD (flag it MODVMM_VMS_LEGACY_NAME "
				"if that name is on the wire already)",
				where, v->name, sub->vms->name, v->name);
			goto fail;
		}
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(v->subs[j].vms->name, sub->vms->name)) {
				r = error_setf(
					error, EINVAL,
					"%s: vmstate %s: subsection %s is "
					"declared twice",
					where, v->name, sub->vms->name);
				goto fail;
			}
	}
	*ret = v;
	return 0;
fail:
	vmstate_free(v);
	return r;
}

static uint32_t count_subsections(const struct state_desc *v)
{
	uint32_t n = v->d.n_subsections;

	for (uint32_t i = 0; i < v->d.n_subsections; i++)
		n += count_subsections(v->subs[i].vms);
	return n;
}

/*
 * Where a name sits in a device: the device's description, a struct
 * field's description or a subsection, with the description it sits in.
 */
struct name_place {
	const struct state_desc *v;
	const struct state_desc *parent; /* NULL for the device's description */
	const char *field;	  /* the struct field's name, or NULL */
};

static char *name_place_text(const struct name_place *p)
{
	if (!p->parent)
		return g_strdup("the device's description");
	if (p->field)
		return g_strdup_printf("struct field %s of %s", p->field,
				       p->parent->name);
	return g_strdup_printf("subsection of %s", p->parent->name);
}

/*
 * The same place twice: one description used by several struct fields,
 * or a subsection met again because the description holding it is. Its
 * subtree is then the one already walked.
 */
static int name_place_same(const struct name_place *a,
			   const struct name_place *b)
{
	if (a->v->src != b->v->src || !a->parent != !b->parent ||
	    !a->field != !b->field)
		return 0;
	return a->field || !a->parent || a->parent->src == b->parent->src;
}

static int check_names(const char *where, const struct state_desc *top,
		       const struct name_place *here, GHashTable *seen,
		       GError **error)
{
	const struct state_desc *v = here->v;
	const struct name_place *first = g_hash_table_lookup(seen, v->name);
	struct name_place *p;
	int r;

	if (first) {
		g_autofree char *a = NULL, *b = NULL;

		if (name_place_same(first, here))
			return 0;
		a = name_place_text(first);
		b = name_place_text(here);
		return error_setf(error, EINVAL,
				  "%s: vmstate %s: name %s is used twice in "
				  "one device: %s and %s",
				  where, top->name, v->name, a, b);
	}
	p = g_new(struct name_place, 1);
	*p = *here;
	g_hash_table_insert(seen, v->name, p);
	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		struct name_place in = { v->fields[i].nested, v,
					 v->fields[i].f.name };

		if (in.v && (r = check_names(where, top, &in, seen, error)) < 0)
			return r;
	}
	for (uint32_t i = 0; i < v->d.n_subsections; i++) {
		struct name_place in = { v->subs[i].vms, v, NULL };

		if ((r = check_names(where, top, &in, seen, error)) < 0)
			return r;
	}
	return 0;
}

int vmstate_import(const char *where, const struct modvmm_vmstate *src,
		   uint32_t state_size, struct state_desc **ret, GError **error)
{
	g_autoptr(GHashTable) seen = NULL;
	struct name_place top;
	uint32_t n;
	int r;

	r = import(where, src, state_size, 0, ret, error);
	if (r < 0)
		return r;
	/* A manifest lists a device's descriptions and subsections by name,
	 * and a host reads a manifest naming one twice as corrupt: a name
	 * is one description within a device, at every depth. */
	seen = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	top = (struct name_place){ *ret, NULL, NULL };
	r = check_names(where, *ret, &top, seen, error);
	if (r < 0) {
		vmstate_free(*ret);
		*ret = NULL;
		return r;
	}
	/* Every device's subsections, at every depth, are listed in its
	 * migration manifest, which another host reads within bounds. */
	n = count_subsections(*ret);
	if (n > VMS_MAX_ALL_SUBSECTIONS) {
		r = error_setf(error, EINVAL,
			       "%s: vmstate %s: %u subsections at all depths, "
			       "at most %d",
			       where, (*ret)->name, n, VMS_MAX_ALL_SUBSECTIONS);
		vmstate_free(*ret);
		*ret = NULL;
	}
	return r;
}

/* ---- save ------------------------------------------------------------ */

static void put_le(GByteArray *out, uint64_t v, int n)
{
	uint8_t b[8];

	for (int i = 0; i < n; i++, v >>= 8)
		b[i] = (uint8_t)v;
	g_byte_array_append(out, b, (guint)n);
}

static uint64_t get_state(const uint8_t *at, int n)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (n) {
	case 1:
		memcpy(&u8, at, 1);
		return u8;
	case 2:
		memcpy(&u16, at, 2);
		return u16;
	case 4:
		memcpy(&u32, at, 4);
		return u32;
	}
	memcpy(&u64, at, 8);
	return u64;
}

static void set_state(uint8_t *at, int n, uint64_t v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	switch (n) {
	case 1:
		memcpy(at, &u8, 1);
		return;
	case 2:
		memcpy(at, &u16, 2);
		return;
	case 4:
		memcpy(at, &u32, 4);
		return;
	}
	memcpy(at, &v, 8);
}

static int save_section(const struct state_desc *v, uint8_t *state, uint32_t version,
			uint8_t flags, GByteArray *out, GError **error);

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
			int r = save_section(
				vf->nested, at + (size_t)k * vf->f.stride,
				vf->nested->d.version, 0, out, error);
			if (r < 0)
				return r;
		} else {
			put_le(out, get_state(at + (size_t)k * (size_t)w, w),
			       w);
		}
	}
	return 0;
}

static int save_section(const struct state_desc *v, uint8_t *state, uint32_t version,
			uint8_t flags, GByteArray *out, GError **error)
{
	size_t nlen = strlen(v->name), len_at;
	uint32_t len;
	int r;

	if (nlen > VMS_MAX_NAME)
		return error_setf(error, ENAMETOOLONG,
				  "vmstate %s: name longer than %d bytes",
				  v->name, VMS_MAX_NAME);
	if (version < vmstate_min_save(v) || version > v->d.version)
		return error_setf(
			error, ERANGE,
			"vmstate %s: cannot save version %u: it saves "
			"%u..%u",
			v->name, version, vmstate_min_save(v), v->d.version);
	if (v->d.pre_save && (r = v->d.pre_save(state)) < 0)
		return error_setf(error, -r, "vmstate %s: pre_save failed: %s",
				  v->name, g_strerror(-r));
	put_le(out, VMS_TAG_START, 1);
	put_le(out, flags, 1);
	put_le(out, nlen, 1);
	g_byte_array_append(out, (const guint8 *)v->name, (guint)nlen);
	put_le(out, version, 4);
	len_at = out->len;
	put_le(out, 0, 4);

	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		const struct state_field *vf = &v->fields[i];
		const struct modvmm_vmstate_field *f = &vf->f;
		uint8_t *at = state + f->offset;
		uint64_t n = 0;

		if (f->since > version)
			continue;
		switch (f->kind) {
		case MODVMM_VMS_VALIDATE:
			break;
		case MODVMM_VMS_BUFFER:
			g_byte_array_append(out, at, f->count);
			break;
		case MODVMM_VMS_UNUSED:
			for (uint32_t k = 0; k < f->count; k++)
				put_le(out, 0, 1);
			break;
		case MODVMM_VMS_STRUCT:
			r = save_section(vf->nested, at, vf->nested->d.version,
					 0, out, error);
			if (r < 0)
				return r;
			break;
		case MODVMM_VMS_ARRAY:
			r = save_elems(vf, at, f->count, out, error);
			if (r < 0)
				return r;
			break;
		case MODVMM_VMS_VARRAY:
			n = get_state(
				state + v->fields[vf->length_index].f.offset,
				vmstate_kind_width(
					v->fields[vf->length_index].f.kind));
			if (n > f->count)
				return error_setf(
					error, ERANGE,
					"vmstate %s: field "
					"%s=%" G_GUINT64_FORMAT
					" exceeds bound %u of %s: the "
					"device's state is inconsistent",
					v->name, f->length_field, (guint64)n,
					f->count, f->name);
			r = save_elems(vf, at, (uint32_t)n, out, error);
			if (r < 0)
				return r;
			break;
		case MODVMM_VMS_BOOL:
			put_le(out, *at ? 1 : 0, 1);
			break;
		default:
			put_le(out, get_state(at, vmstate_kind_width(f->kind)),
			       vmstate_kind_width(f->kind));
			break;
		}
	}
	for (uint32_t i = 0; i < v->d.n_subsections; i++) {
		const struct state_sub *s = &v->subs[i];

		if (s->needed && !s->needed(state))
			continue;
		r = save_section(s->vms, state, s->vms->d.version,
				 (s->flags & MODVMM_VMS_OPTIONAL)
					 ? VMS_FLAG_OPTIONAL
					 : 0,
				 out, error);
		if (r < 0)
			return r;
	}
	len = (uint32_t)(out->len - len_at - 4);
	for (int i = 0; i < 4; i++)
		out->data[len_at + (size_t)i] = (uint8_t)(len >> (8 * i));
	put_le(out, VMS_TAG_END, 1);
	return 0;
}

int vmstate_save(const struct state_desc *v, void *state, uint32_t version,
		 GByteArray *out, GError **error)
{
	guint start = out->len;
	int r = save_section(v, state, version, 0, out, error);

	if (r < 0)
		g_byte_array_set_size(out, start);
	return r;
}

/* ---- what a save would send ------------------------------------------ */

/* Elements of a struct-kind field in `state`: 0 for any other kind. */
static uint32_t struct_elems(const struct state_desc *v, const struct state_field *vf,
			     const uint8_t *state)
{
	const struct modvmm_vmstate_field *f = &vf->f;
	const struct state_field *lf;

	if (!vf->nested)
		return 0;
	if (f->kind == MODVMM_VMS_STRUCT)
		return 1;
	if (f->kind == MODVMM_VMS_ARRAY)
		return f->count;
	lf = &v->fields[vf->length_index];
	/* A length over the bound fails the save itself. */
	return (uint32_t)MIN(get_state(state + lf->f.offset,
				       vmstate_kind_width(lf->f.kind)),
			     (uint64_t)f->count);
}

static void foreach_sub(const struct state_desc *v, uint32_t since, int top,
			GHashTable *seen, vmstate_sub_fn fn, void *opaque)
{
	for (uint32_t i = 0; i < v->d.n_fields; i++)
		if (v->fields[i].nested)
			foreach_sub(v->fields[i].nested,
				    top ? MAX(since, v->fields[i].f.since)
					: since,
				    0, seen, fn, opaque);
	for (uint32_t i = 0; i < v->d.n_subsections; i++) {
		const struct state_sub *s = &v->subs[i];

		/* A description used by two fields has its subsections
		 * once: a name means one description within a device. */
		if (!g_hash_table_add(seen, s->vms->name))
			continue;
		fn(opaque, s, v, since);
		foreach_sub(s->vms, since, 0, seen, fn, opaque);
	}
}

void vmstate_foreach_subsection(const struct state_desc *v, vmstate_sub_fn fn,
				void *opaque)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	foreach_sub(v, 0, 1, seen, fn, opaque);
}

static void foreach_struct(const struct state_desc *v, uint32_t since, int top,
			   GHashTable *seen, vmstate_struct_fn fn, void *opaque)
{
	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		const struct state_field *vf = &v->fields[i];
		uint32_t s = top ? MAX(since, vf->f.since) : since;

		if (!vf->nested || !g_hash_table_add(seen, vf->nested->name))
			continue;
		fn(opaque, vf->nested, v, s);
		foreach_struct(vf->nested, s, 0, seen, fn, opaque);
	}
	for (uint32_t i = 0; i < v->d.n_subsections; i++)
		foreach_struct(v->subs[i].vms, since, 0, seen, fn, opaque);
}

void vmstate_foreach_struct(const struct state_desc *v, vmstate_struct_fn fn,
			    void *opaque)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	foreach_struct(v, 0, 1, seen, fn, opaque);
}

void vmstate_subsections_sent(const struct state_desc *v, const void *state,
			      uint32_t version, GHashTable *ret)
{
	const uint8_t *st = state;

	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		const struct state_field *vf = &v->fields[i];
		uint32_t n;

		if (vf->f.since > version)
			continue;
		n = struct_elems(v, vf, st);
		for (uint32_t k = 0; k < n; k++)
			vmstate_subsections_sent(
				vf->nested,
				st + vf->f.offset + (size_t)k * vf->f.stride,
				vf->nested->d.version, ret);
	}
	for (uint32_t i = 0; i < v->d.n_subsections; i++) {
		const struct state_sub *s = &v->subs[i];

		if (s->needed && !s->needed(state))
			continue;
		g_hash_table_add(ret, s->vms->name);
		vmstate_subsections_sent(s->vms, state, s->vms->d.version, ret);
	}
}

/* ---- load ------------------------------------------------------------ */

struct reader {
	unsigned int flags; /* VMSTATE_* */
	const struct vmstate_trace *trace;
	int depth;
	const uint8_t *buf;
	size_t pos;  /* next byte, relative to buf */
	size_t base; /* buf's offset in the whole stream */
	const char *id;
};

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Checks that n bytes remain before `end`; names what needed them. */
static int need(struct reader *rd, size_t end, size_t n, const char *sec,
		const char *what, GError **error)
{
	if (n > end - rd->pos)
		return error_setf(
			error, EPROTO,
			"%s: %s: truncated: %s needs %zu bytes at offset "
			"0x%zx, the section ends at 0x%zx",
			rd->id, sec, what, n, rd->base + rd->pos,
			rd->base + end);
	return 0;
}

/* A section header: where its payload starts and ends. */
struct header {
	uint8_t flags;
	char name[256];
	uint32_t version;
	size_t payload, end; /* relative to buf; end is where END sits */
};

static int read_header(struct reader *rd, size_t end, const char *within,
		       struct header *h, GError **error)
{
	size_t at = rd->pos, nlen;
	uint32_t len;
	int r;

	r = need(rd, end, 3, within, "a section header", error);
	if (r < 0)
		return r;
	if (rd->buf[rd->pos] != VMS_TAG_START)
		return error_setf(
			error, EPROTO,
			"%s: %s: expected a section start (0x%02x) at "
			"offset 0x%zx, found 0x%02x",
			rd->id, within, VMS_TAG_START, rd->base + at,
			rd->buf[rd->pos]);
	h->flags = rd->buf[rd->pos + 1];
	nlen = rd->buf[rd->pos + 2];
	/* Reserved bits stay zero, so that a future meaning of one is never
	 * taken for no meaning by a host that predates it. */
	if (h->flags & ~VMS_FLAG_OPTIONAL)
		return error_setf(error, EPROTO,
				  "%s: %s: section at offset 0x%zx has flags "
				  "0x%02x: bits other than 0x%02x (optional) "
				  "are reserved",
				  rd->id, within, rd->base + at, h->flags,
				  VMS_FLAG_OPTIONAL);
	if (!nlen)
		return error_setf(error, EPROTO,
				  "%s: %s: section at offset 0x%zx has an "
				  "empty name (name length 0)",
				  rd->id, within, rd->base + at);
	rd->pos += 3;
	r = need(rd, end, nlen + 8, within, "a section header", error);
	if (r < 0)
		return r;
	memcpy(h->name, rd->buf + rd->pos, nlen);
	h->name[nlen] = '\0';
	if (strlen(h->name) != nlen)
		return error_setf(
			error, EPROTO,
			"%s: %s: section name at offset 0x%zx holds a "
			"NUL byte",
			rd->id, within, rd->base + rd->pos);
	rd->pos += nlen;
	h->version = (uint32_t)get_le(rd->buf + rd->pos, 4);
	len = (uint32_t)get_le(rd->buf + rd->pos + 4, 4);
	rd->pos += 8;
	/* The payload and its END byte must fit in what encloses them. */
	if ((size_t)len + 1 > end - rd->pos)
		return error_setf(
			error, EPROTO,
			"%s: %s: section %s at offset 0x%zx claims %u "
			"bytes, only %zu remain",
			rd->id, within, h->name, rd->base + at, len,
			end - rd->pos > 0 ? end - rd->pos - 1 : 0);
	h->payload = rd->pos;
	h->end = rd->pos + len;
	return 0;
}

static int load_section(const struct state_desc *v, uint8_t *state, struct reader *rd,
			const struct header *h, GError **error);

/* A section that must be `v` (a nested struct): header, then the body. */
static int load_nested(const struct state_desc *v, uint8_t *state, struct reader *rd,
		       size_t end, const char *within, GError **error)
{
	struct header h;
	int r = read_header(rd, end, within, &h, error);

	if (r < 0)
		return r;
	if (strcmp(h.name, v->name))
		return error_setf(
			error, EPROTO,
			"%s: %s: expected section %s at offset 0x%zx, "
			"found %s",
			rd->id, within, v->name,
			rd->base + h.payload - 11 - strlen(h.name), h.name);
	return load_section(v, state, rd, &h, error);
}

static int load_elems(const struct state_desc *v, const struct state_field *vf,
		      uint8_t *at, uint32_t n, struct reader *rd, size_t end,
		      GError **error)
{
	int w = vmstate_kind_width(vf->f.elem_kind);

	if (G_BYTE_ORDER == G_LITTLE_ENDIAN &&
	    vf->f.elem_kind != MODVMM_VMS_STRUCT &&
	    vf->f.elem_kind != MODVMM_VMS_BOOL) {
		int r = need(rd, end, (size_t)n * (size_t)w, v->name,
			     vf->f.name, error);

		if (r < 0)
			return r;
		memcpy(at, rd->buf + rd->pos, (size_t)n * (size_t)w);
		rd->pos += (size_t)n * (size_t)w;
		return 0;
	}

	for (uint32_t k = 0; k < n; k++) {
		int r;

		if (vf->f.elem_kind == MODVMM_VMS_STRUCT) {
			r = load_nested(vf->nested,
					at + (size_t)k * vf->f.stride, rd, end,
					v->name, error);
		} else {
			r = need(rd, end, (size_t)w, v->name, vf->f.name,
				 error);
			if (!r && vf->f.elem_kind == MODVMM_VMS_BOOL &&
			    rd->buf[rd->pos] > 1)
				r = error_setf(
					error, EPROTO,
					"%s: %s: field %s[%u]: bool value "
					"%u at offset 0x%zx",
					rd->id, v->name, vf->f.name, k,
					rd->buf[rd->pos], rd->base + rd->pos);
			if (!r) {
				set_state(at + (size_t)k * (size_t)w, w,
					  get_le(rd->buf + rd->pos, w));
				rd->pos += (size_t)w;
			}
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int load_fields(const struct state_desc *v, uint8_t *state, uint32_t version,
		       struct reader *rd, size_t end, GError **error)
{
	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		const struct state_field *vf = &v->fields[i];
		const struct modvmm_vmstate_field *f = &vf->f;
		uint8_t *at = state + f->offset;
		const char *msg = NULL;
		size_t here = rd->pos;
		uint64_t n = 0;
		int w = vmstate_kind_width(f->kind), r = 0;

		if (f->since > version)
			continue;
		switch (f->kind) {
		case MODVMM_VMS_VALIDATE:
			r = f->validate(state, version, &msg);
			if (r < 0)
				return error_setf(
					error, EINVAL,
					"%s: %s: %s refused the state: %s "
					"(offset 0x%zx)",
					rd->id, v->name, f->name,
					msg ? msg : g_strerror(-r),
					rd->base + here);
			break;
		case MODVMM_VMS_BUFFER:
		case MODVMM_VMS_UNUSED:
			r = need(rd, end, f->count, v->name, f->name, error);
			if (r < 0)
				return r;
			if (f->kind == MODVMM_VMS_BUFFER)
				memcpy(at, rd->buf + rd->pos, f->count);
			rd->pos += f->count;
			break;
		case MODVMM_VMS_STRUCT:
			r = load_nested(vf->nested, at, rd, end, v->name,
					error);
			break;
		case MODVMM_VMS_ARRAY:
			r = load_elems(v, vf, at, f->count, rd, end, error);
			break;
		case MODVMM_VMS_VARRAY:
			/* Its length field came earlier and is loaded. */
			n = get_state(
				state + v->fields[vf->length_index].f.offset,
				vmstate_kind_width(
					v->fields[vf->length_index].f.kind));
			if (n > f->count)
				return error_setf(
					error, ERANGE,
					"%s: %s: field %s=%" G_GUINT64_FORMAT
					" exceeds bound %u of %s (offset "
					"0x%zx)",
					rd->id, v->name, f->length_field,
					(guint64)n, f->count, f->name,
					rd->base + here);
			r = load_elems(v, vf, at, (uint32_t)n, rd, end, error);
			break;
		default:
			r = need(rd, end, (size_t)w, v->name, f->name, error);
			if (r < 0)
				return r;
			n = get_le(rd->buf + rd->pos, w);
			if (f->kind == MODVMM_VMS_BOOL && n > 1)
				return error_setf(error, EPROTO,
						  "%s: %s: field %s: bool "
						  "value %" G_GUINT64_FORMAT
						  " at offset 0x%zx",
						  rd->id, v->name, f->name,
						  (guint64)n, rd->base + here);
			set_state(at, w, n);
			rd->pos += (size_t)w;
			break;
		}
		if (r < 0)
			return r;
		if (rd->trace && rd->trace->field &&
		    f->kind != MODVMM_VMS_STRUCT)
			rd->trace->field(rd->trace->opaque, f, at,
					 f->kind == MODVMM_VMS_VARRAY
						 ? (uint32_t)n
						 : f->count,
					 rd->base + here, rd->depth);
	}
	return 0;
}

static int load_subsections(const struct state_desc *v, uint8_t *state,
			    struct reader *rd, size_t end, GError **error)
{
	g_autofree uint8_t *seen = g_malloc0(v->d.n_subsections + 1u);

	while (rd->pos < end) {
		const struct state_sub *sub = NULL;
		size_t at = rd->pos;
		struct header h;
		uint32_t i;
		int r;

		r = read_header(rd, end, v->name, &h, error);
		if (r < 0)
			return r;
		for (i = 0; i < v->d.n_subsections && !sub; i++)
			if (!strcmp(v->subs[i].vms->name, h.name))
				sub = &v->subs[i];
		if (!sub) {
			if (!(h.flags & VMS_FLAG_OPTIONAL))
				return error_setf(
					error, ENOENT,
					"%s: unknown subsection %s (not "
					"optional) at offset 0x%zx",
					rd->id, h.name, rd->base + at);
			/* Optional and unknown here: skip it whole. */
			rd->pos = h.end;
			if (rd->buf[rd->pos] != VMS_TAG_END)
				return error_setf(
					error, EPROTO,
					"%s: %s: expected a section end "
					"at offset 0x%zx",
					rd->id, h.name, rd->base + rd->pos);
			rd->pos++;
			continue;
		}
		if (seen[i - 1]++)
			return error_setf(
				error, EPROTO,
				"%s: subsection %s appears twice (offset "
				"0x%zx)",
				rd->id, h.name, rd->base + at);
		r = load_section(sub->vms, state, rd, &h, error);
		if (r < 0)
			return r;
	}
	return 0;
}

static int load_section(const struct state_desc *v, uint8_t *state, struct reader *rd,
			const struct header *h, GError **error)
{
	int r;

	if (h->version > v->d.version)
		return error_setf(
			error, ERANGE,
			"%s: %s version %u is too new: this host loads "
			"%u..%u",
			rd->id, v->name, h->version, v->d.min_version,
			v->d.version);
	if (h->version < v->d.min_version)
		return error_setf(
			error, ERANGE,
			"%s: %s version %u is too old: this host loads "
			"%u..%u",
			rd->id, v->name, h->version, v->d.min_version,
			v->d.version);
	if (rd->trace && rd->trace->section)
		rd->trace->section(rd->trace->opaque, v->name, h->version,
				   rd->base + h->payload, rd->depth, 0);
	if (!(rd->flags & VMSTATE_NO_HOOKS) && v->d.pre_load &&
	    (r = v->d.pre_load(state)) < 0)
		return error_setf(error, -r, "%s: %s: pre_load failed: %s",
				  rd->id, v->name, g_strerror(-r));
	rd->depth++;
	r = load_fields(v, state, h->version, rd, h->end, error);
	if (r >= 0)
		r = load_subsections(v, state, rd, h->end, error);
	rd->depth--;
	if (r < 0)
		return r;
	if (rd->pos != h->end)
		return error_setf(error, EPROTO,
				  "%s: %s: %zu bytes of unknown data at offset "
				  "0x%zx",
				  rd->id, v->name, h->end - rd->pos,
				  rd->base + rd->pos);
	if (rd->buf[rd->pos] != VMS_TAG_END)
		return error_setf(error, EPROTO,
				  "%s: %s: expected a section end (0x%02x) at "
				  "offset 0x%zx, found 0x%02x",
				  rd->id, v->name, VMS_TAG_END,
				  rd->base + rd->pos, rd->buf[rd->pos]);
	rd->pos++;
	if (rd->trace && rd->trace->section)
		rd->trace->section(rd->trace->opaque, v->name, h->version,
				   rd->base + rd->pos, rd->depth, 1);
	if (!(rd->flags & VMSTATE_NO_HOOKS) && v->d.post_load &&
	    (r = v->d.post_load(state, h->version)) < 0)
		return error_setf(error, -r,
				  "%s: %s: post_load refused version "
				  "%u: %s",
				  rd->id, v->name, h->version, g_strerror(-r));
	return 0;
}

int vmstate_load_flags(const struct state_desc *v, void *state, const uint8_t *buf,
		       size_t len, size_t base, const char *id,
		       unsigned int flags, const struct vmstate_trace *trace,
		       size_t *ret_used, GError **error)
{
	struct reader rd = {
		.flags = flags,
		.trace = trace,
		.buf = buf,
		.base = base,
		.id = id,
	};
	g_autofree uint8_t *scratch = g_memdup2(state, v->state_size);
	struct header h;
	int r;

	r = read_header(&rd, len, v->name, &h, error);
	if (r < 0)
		return r;
	if (strcmp(h.name, v->name))
		return error_setf(
			error, ENOENT,
			"%s: expected state %s at offset 0x%zx, found %s", id,
			v->name, base, h.name);
	r = load_section(v, scratch, &rd, &h, error);
	if (r < 0)
		return r;
	memcpy(state, scratch, v->state_size);
	if (ret_used)
		*ret_used = rd.pos;
	return 0;
}

int vmstate_section_name(const uint8_t *buf, size_t len, size_t base,
			 const char *id, char ret_name[VMS_MAX_NAME + 1],
			 GError **error)
{
	struct reader rd = { .buf = buf, .base = base, .id = id };
	struct header h;
	int r = read_header(&rd, len, "device state", &h, error);

	if (r < 0)
		return r;
	memcpy(ret_name, h.name, VMS_MAX_NAME + 1);
	return 0;
}

/* ---- compatibility --------------------------------------------------- */

/*
 * The wire layout at `version` as text. A retired slot and a field that
 * reuses it are the same bytes on the wire, so both read "slot"; other
 * fields are named, so that two swapped fields of one kind differ.
 */
static void layout_text(const struct state_desc *v, uint32_t version, GString *s)
{
	g_string_append_printf(s, "%s@%u(", v->name, version);
	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		const struct state_field *vf = &v->fields[i];
		const struct modvmm_vmstate_field *f = &vf->f;

		if (f->since > version || f->kind == MODVMM_VMS_VALIDATE)
			continue;
		if (f->kind == MODVMM_VMS_UNUSED || f->retired_in) {
			g_string_append_printf(s, "slot:%" G_GUINT64_FORMAT
						  ";",
					       field_state_size(vf));
			continue;
		}
		/* Not the stride: it is the element's size in memory, and
		 * the wire carries only the nested fields. */
		g_string_append_printf(s, "%s:%s:%s:%u", f->name,
				       vmstate_kind_name(f->kind),
				       f->elem_kind ? vmstate_kind_name(
							      f->elem_kind)
						    : "",
				       f->count);
		if (vf->nested)
			layout_text(vf->nested, vf->nested->d.version, s);
		g_string_append_c(s, ';');
	}
	g_string_append_c(s, ')');
}

/* Bytes a field always takes on the wire, or 0 if that depends. */
static uint64_t wire_bytes(const struct state_field *vf)
{
	const struct modvmm_vmstate_field *f = &vf->f;

	switch (f->kind) {
	case MODVMM_VMS_STRUCT:
	case MODVMM_VMS_VARRAY:
	case MODVMM_VMS_VALIDATE:
		return 0;
	case MODVMM_VMS_ARRAY:
		return f->elem_kind == MODVMM_VMS_STRUCT
			       ? 0
			       : (uint64_t)f->count *
					 (uint64_t)vmstate_kind_width(
						 f->elem_kind);
	}
	return field_state_size(vf);
}

void vmstate_layout_fields(const struct state_desc *v, uint32_t version,
			   GPtrArray *ret)
{
	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		const struct state_field *vf = &v->fields[i];
		const struct modvmm_vmstate_field *f = &vf->f;

		if (f->since > version || f->kind == MODVMM_VMS_VALIDATE)
			continue;
		if (f->kind == MODVMM_VMS_UNUSED) {
			g_ptr_array_add(ret, g_strdup_printf("%u:s:", f->count));
			continue;
		}
		g_ptr_array_add(
			ret, g_strdup_printf(
				     "%" G_GUINT64_FORMAT ":%c:%s:%s:%s:%u%s%s",
				     wire_bytes(vf), f->retired_in ? 'r' : '-',
				     f->name, vmstate_kind_name(f->kind),
				     f->elem_kind ? vmstate_kind_name(
							    f->elem_kind)
						  : "",
				     f->count, vf->nested ? ":" : "",
				     vf->nested ? vf->nested->name : ""));
	}
}

void vmstate_fingerprint(const struct state_desc *v, uint32_t version,
			 char out[VMS_FP_LEN + 1])
{
	g_autoptr(GString) s = g_string_new(NULL);
	g_autofree char *sum = NULL;

	layout_text(v, version, s);
	sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, s->str,
					    (gssize)s->len);
	g_strlcpy(out, sum, VMS_FP_LEN + 1);
}

int vmstate_check_retired(const struct state_desc *v,
			  const struct machine_registry *r, const char *where,
			  GError **error)
{
	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		const struct state_field *vf = &v->fields[i];
		const struct machine_type *t;
		char date[MACHINE_DATE_LEN];
		uint32_t removed;
		int ret;

		if (vf->nested &&
		    (ret = vmstate_check_retired(vf->nested, r, where,
						 error)) < 0)
			return ret;
		if (vf->f.kind == MODVMM_VMS_UNUSED || !vf->f.retired_in)
			continue;
		t = machine_lookup(r, vf->f.retired_in);
		if (!t)
			return error_setf(
				error, EINVAL,
				"%s: vmstate %s: field %s reuses a slot "
				"retired in machine type %s, which this host "
				"does not know: it cannot tell whether the "
				"type is removed",
				where, v->name, vf->f.name, vf->f.retired_in);
		if (machine_status(r, t, NULL, &removed) != MACHINE_REMOVED)
			return error_setf(
				error, EINVAL,
				"%s: vmstate %s: field %s reuses a slot "
				"retired in machine type %s, which is not "
				"removed until %s: a retired slot may be "
				"reused only once its machine type is removed",
				where, v->name, vf->f.name, t->name,
				machine_date_text(removed, date));
	}
	for (uint32_t i = 0; i < v->d.n_subsections; i++) {
		int ret = vmstate_check_retired(v->subs[i].vms, r, where,
						error);

		if (ret < 0)
			return ret;
	}
	return 0;
}
