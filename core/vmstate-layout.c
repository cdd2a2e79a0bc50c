// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/vmstate-layout.c - what a description puts on the wire, read from
 * the description alone or with a state in hand, without saving: the
 * walkers over its nested structs and subsections at every depth, the
 * subsections a save would send, and the layouts the compatibility rule
 * compares (fingerprints, field lists; docs/compat.md).
 *
 * A layout must change whenever the bytes on the wire do, and only then:
 * sizes come from the per-kind table (vmstate-types.c), as they do for a
 * save.
 */
#include "vmstate.h"
#include "vmstate-internal.h"

/* ---- walkers and what a save would send ------------------------------ */

/* Elements of a struct-kind field in `state`: 0 for any other kind. */
static uint32_t struct_elems(const struct state_desc *v,
			     const struct state_field *vf, const uint8_t *state)
{
	const struct modvmm_vmstate_field *f = &vf->f;

	if (!vf->nested)
		return 0;
	if (f->kind == MODVMM_VMS_STRUCT)
		return 1;
	if (f->kind == MODVMM_VMS_ARRAY)
		return f->count;
	/* A length over the bound fails the save itself. */
	return (uint32_t)MIN(vmstate_varray_length(v, vf, state),
			     (uint64_t)f->count);
}

static void walk_subsections(const struct state_desc *v, uint32_t since,
			     int top, GHashTable *seen, vmstate_sub_fn fn,
			     void *opaque)
{
	for (uint32_t i = 0; i < v->d.n_fields; i++)
		if (v->fields[i].nested)
			walk_subsections(v->fields[i].nested,
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
		walk_subsections(s->vms, since, 0, seen, fn, opaque);
	}
}

void vmstate_foreach_subsection(const struct state_desc *v, vmstate_sub_fn fn,
				void *opaque)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	walk_subsections(v, 0, 1, seen, fn, opaque);
}

static void walk_structs(const struct state_desc *v, uint32_t since, int top,
			 GHashTable *seen, vmstate_struct_fn fn, void *opaque)
{
	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		const struct state_field *vf = &v->fields[i];
		uint32_t s = top ? MAX(since, vf->f.since) : since;

		if (!vf->nested || !g_hash_table_add(seen, vf->nested->name))
			continue;
		fn(opaque, vf->nested, v, s);
		walk_structs(vf->nested, s, 0, seen, fn, opaque);
	}
	for (uint32_t i = 0; i < v->d.n_subsections; i++)
		walk_structs(v->subs[i].vms, since, 0, seen, fn, opaque);
}

void vmstate_foreach_struct(const struct state_desc *v, vmstate_struct_fn fn,
			    void *opaque)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	walk_structs(v, 0, 1, seen, fn, opaque);
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

/* ---- layouts --------------------------------------------------------- */

/*
 * The wire layout at `version` as text. A retired slot and a field that
 * reuses it are the same bytes on the wire, so both read "slot"; other
 * fields are named, so that two swapped fields of one kind differ.
 */
static void layout_text(const struct state_desc *v, uint32_t version,
			GString *s)
{
	g_string_append_printf(s, "%s@%u(", v->name, version);
	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		const struct state_field *vf = &v->fields[i];
		const struct modvmm_vmstate_field *f = &vf->f;

		if (f->since > version || field_ops(vf)->no_data)
			continue;
		if (f->kind == MODVMM_VMS_UNUSED || f->retired_in) {
			g_string_append_printf(s, "slot:%" G_GUINT64_FORMAT ";",
					       field_ops(vf)->state_size(vf));
			continue;
		}
		/* Not the stride: it is the element's size in memory, and
		 * the wire carries only the nested fields. */
		g_string_append_printf(
			s, "%s:%s:%s:%u", f->name, vmstate_kind_name(f->kind),
			f->elem_kind ? vmstate_kind_name(f->elem_kind) : "",
			f->count);
		if (vf->nested)
			layout_text(vf->nested, vf->nested->d.version, s);
		g_string_append_c(s, ';');
	}
	g_string_append_c(s, ')');
}

void vmstate_layout_fields(const struct state_desc *v, uint32_t version,
			   GPtrArray *ret)
{
	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		const struct state_field *vf = &v->fields[i];
		const struct modvmm_vmstate_field *f = &vf->f;

		if (f->since > version || field_ops(vf)->no_data)
			continue;
		if (f->kind == MODVMM_VMS_UNUSED) {
			g_ptr_array_add(ret,
					g_strdup_printf("%u:s:", f->count));
			continue;
		}
		g_ptr_array_add(
			ret,
			g_strdup_printf(
				"%" G_GUINT64_FORMAT ":%c:%s:%s:%s:%u%s%s",
				field_ops(vf)->wire_size(vf),
				f->retired_in ? 'r' : '-', f->name,
				vmstate_kind_name(f->kind),
				f->elem_kind ? vmstate_kind_name(f->elem_kind)
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
