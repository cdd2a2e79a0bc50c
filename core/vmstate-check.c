// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/vmstate-check.c - a module's state description imported and
 * checked, once, at registration: the append-only struct rule on every
 * struct of it, its versions, bounds and names, each field by the checks
 * every kind shares and then its kind's own (vmstate-types.c), nested
 * descriptions at every depth, one place per name within a device; and
 * the retired-slot rule against the machine types.
 *
 * A refusal names the module, device type, description and field. What
 * passes here is what the interpreter (vmstate.c) and the layouts
 * (vmstate-layout.c) assume without checking again.
 */
#include <errno.h>
#include <string.h>

#include "base/error.h"
#include "compat/abi-rules.h"
#include "vmstate.h"
#include "vmstate-internal.h"

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

static int desc_import(const char *where, const struct modvmm_vmstate *src,
		       uint32_t state_size, int depth, struct state_desc **ret,
		       GError **error);

static int field_fail(GError **error, const char *where,
		      const struct state_desc *v, const char *field,
		      const char *why)
{
	return error_setf(error, EINVAL, "%s: vmstate %s: field %s: %s", where,
			  v->name, field, why);
}

/* A struct field, or an array of structs: it has its own description. */
static bool field_is_nested(const struct modvmm_vmstate_field *f)
{
	return f->kind == MODVMM_VMS_STRUCT ||
	       ((f->kind == MODVMM_VMS_ARRAY || f->kind == MODVMM_VMS_VARRAY) &&
		f->elem_kind == MODVMM_VMS_STRUCT);
}

static int field_import_nested(const char *where, struct state_desc *v,
			       struct state_field *vf, int depth,
			       GError **error)
{
	const struct modvmm_vmstate_field *f = &vf->f;
	g_autofree char *inner = NULL;

	if (!f->vms || !f->stride)
		return field_fail(error, where, v, f->name,
				  "struct without a description or a stride");
	inner = g_strdup_printf("%s: vmstate %s: field %s", where, v->name,
				f->name);
	return desc_import(inner, f->vms, f->stride, depth + 1, &vf->nested,
			   error);
}

/*
 * Field i of `v`: what every kind shares, then its kind's own checks,
 * its nested description, and last the state it covers, whose size the
 * kind and the nested description decide.
 */
static int field_check(const char *where, struct state_desc *v, uint32_t i,
		       int depth, GError **error)
{
	struct state_field *vf = &v->fields[i];
	const struct modvmm_vmstate_field *f = &vf->f;
	g_autofree char *why = NULL;
	uint64_t size;
	int r;

	if (f->kind < MODVMM_VMS_U8 || f->kind > MODVMM_VMS_VALIDATE)
		why = g_strdup_printf("unknown kind %u", f->kind);
	else if (!f->since || f->since > v->d.version)
		why = g_strdup_printf("since %u is outside the description's "
				      "versions 1..%u",
				      f->since, v->d.version);
	for (uint32_t j = 0; !why && j < i; j++)
		if (!strcmp(v->fields[j].f.name, f->name))
			why = g_strdup("declared twice");
	if (!why && field_ops(vf)->check)
		why = field_ops(vf)->check(v, i);
	if (why)
		return field_fail(error, where, v, f->name, why);
	if (field_is_nested(f)) {
		r = field_import_nested(where, v, vf, depth, error);
		if (r < 0)
			return r;
	}
	size = field_ops(vf)->state_size(vf);
	if ((uint64_t)f->offset + size > v->state_size) {
		why = g_strdup_printf("%" G_GUINT64_FORMAT " bytes at offset "
				      "%u lie outside the %u bytes of state",
				      size, f->offset, v->state_size);
		return field_fail(error, where, v, f->name, why);
	}
	return 0;
}

/* The description's own struct: size, name, versions, bounds. */
static int desc_import_head(const char *where, struct state_desc *v,
			    const struct modvmm_vmstate *src, GError **error)
{
	if (src->size < sizeof(uint32_t) || src->size > 4096 ||
	    abi_struct_import(&v->d, sizeof(v->d), src, src->size, NULL) < 0)
		return error_setf(error, EPROTO,
				  "%s: struct modvmm_vmstate of size %u is "
				  "not one this host reads",
				  where, src->size);
	v->src = src;
	v->name = g_strdup(v->d.name ? v->d.name : "");
	if (!*v->name)
		return error_setf(error, EINVAL, "%s: a vmstate has no name",
				  where);
	/* Names go on the wire with a one-byte length. */
	if (strlen(v->name) > VMS_MAX_NAME)
		return error_setf(error, ENAMETOOLONG,
				  "%s: vmstate name %.40s... is longer than "
				  "%d bytes",
				  where, v->name, VMS_MAX_NAME);
	if (!v->d.version || v->d.min_version > v->d.version ||
	    !v->d.min_version || v->d.min_save_version > v->d.version)
		return error_setf(error, EINVAL,
				  "%s: vmstate %s: versions make no sense: "
				  "version %u, min_version %u, "
				  "min_save_version %u",
				  where, v->name, v->d.version,
				  v->d.min_version, v->d.min_save_version);
	if (v->d.n_fields > VMS_MAX_FIELDS || (v->d.n_fields && !v->d.fields) ||
	    v->d.n_subsections > VMS_MAX_SUBSECTIONS ||
	    (v->d.n_subsections && !v->d.subsections))
		return error_setf(error, EINVAL,
				  "%s: vmstate %s: %u fields and %u "
				  "subsections, at most %d and %d",
				  where, v->name, v->d.n_fields,
				  v->d.n_subsections, VMS_MAX_FIELDS,
				  VMS_MAX_SUBSECTIONS);
	return 0;
}

static int desc_import_fields(const char *where, struct state_desc *v,
			      int depth, GError **error)
{
	const char *p = (const char *)v->d.fields;
	int r;

	/* Fields first, all of them, so that length fields can be found. */
	v->fields = g_new0(struct state_field, v->d.n_fields);
	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		const struct modvmm_vmstate_field *mf = (const void *)p;
		struct state_field *vf = &v->fields[i];

		if (mf->size < sizeof(uint32_t) || mf->size > 4096 ||
		    abi_struct_import(&vf->f, sizeof(vf->f), mf, mf->size,
				      NULL) < 0)
			return error_setf(error, EPROTO,
					  "%s: vmstate %s: field %u: struct "
					  "of size %u is not one this host "
					  "reads",
					  where, v->name, i, mf->size);
		if (!vf->f.name || !*vf->f.name)
			return error_setf(error, EINVAL,
					  "%s: vmstate %s: field %u has no "
					  "name",
					  where, v->name, i);
		p += mf->size;
	}
	for (uint32_t i = 0; i < v->d.n_fields; i++) {
		r = field_check(where, v, i, depth, error);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Subsection i of `v`, imported: named PARENT/CHILD and only once. */
static int subsection_check_name(const char *where, const struct state_desc *v,
				 uint32_t i, GError **error)
{
	const struct state_sub *sub = &v->subs[i];
	const char *name = sub->vms->name;
	size_t plen = strlen(v->name);

	if (!(sub->flags & MODVMM_VMS_LEGACY_NAME) &&
	    (strncmp(name, v->name, plen) || name[plen] != '/' ||
	     !name[plen + 1] || strchr(name + plen + 1, '/')))
		return error_setf(error, EINVAL,
				  "%s: vmstate %s: subsection %s is not named "
				  "%s/CHILD (flag it MODVMM_VMS_LEGACY_NAME "
				  "if that name is on the wire already)",
				  where, v->name, name, v->name);
	for (uint32_t j = 0; j < i; j++)
		if (!strcmp(v->subs[j].vms->name, name))
			return error_setf(error, EINVAL,
					  "%s: vmstate %s: subsection %s is "
					  "declared twice",
					  where, v->name, name);
	return 0;
}

static int desc_import_subsections(const char *where, struct state_desc *v,
				   int depth, GError **error)
{
	const char *p = (const char *)v->d.subsections;
	int r;

	v->subs = g_new0(struct state_sub, v->d.n_subsections);
	for (uint32_t i = 0; i < v->d.n_subsections; i++) {
		const struct modvmm_vmstate_subsection *ms = (const void *)p;
		struct modvmm_vmstate_subsection s;
		struct state_sub *sub = &v->subs[i];

		if (ms->size < sizeof(uint32_t) || ms->size > 4096 ||
		    abi_struct_import(&s, sizeof(s), ms, ms->size, NULL) < 0 ||
		    !s.vms)
			return error_setf(error, EPROTO,
					  "%s: vmstate %s: subsection %u is "
					  "not one this host reads",
					  where, v->name, i);
		p += ms->size;
		sub->flags = s.flags;
		sub->needed = s.needed;
		/* A subsection describes the same state as its parent. */
		r = desc_import(where, s.vms, v->state_size, depth + 1,
				&sub->vms, error);
		if (r < 0)
			return r;
		r = subsection_check_name(where, v, i, error);
		if (r < 0)
			return r;
	}
	return 0;
}

/* One description at `depth`, its nested ones and subsections with it. */
static int desc_import(const char *where, const struct modvmm_vmstate *src,
		       uint32_t state_size, int depth, struct state_desc **ret,
		       GError **error)
{
	struct state_desc *v = g_new0(struct state_desc, 1);
	int r;

	v->state_size = state_size;
	if (depth > VMS_MAX_DEPTH)
		r = error_setf(error, EINVAL,
			       "%s: vmstate nested more than %d deep", where,
			       VMS_MAX_DEPTH);
	else
		r = desc_import_head(where, v, src, error);
	if (r >= 0)
		r = desc_import_fields(where, v, depth, error);
	if (r >= 0)
		r = desc_import_subsections(where, v, depth, error);
	if (r < 0) {
		vmstate_free(v);
		return r;
	}
	*ret = v;
	return 0;
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

static int check_names_unique(const char *where, const struct state_desc *top,
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

		if (in.v &&
		    (r = check_names_unique(where, top, &in, seen, error)) < 0)
			return r;
	}
	for (uint32_t i = 0; i < v->d.n_subsections; i++) {
		struct name_place in = { v->subs[i].vms, v, NULL };

		if ((r = check_names_unique(where, top, &in, seen, error)) < 0)
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

	r = desc_import(where, src, state_size, 0, ret, error);
	if (r < 0)
		return r;
	/* A manifest lists a device's descriptions and subsections by name,
	 * and a host reads a manifest naming one twice as corrupt: a name
	 * is one description within a device, at every depth. */
	seen = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	top = (struct name_place){ *ret, NULL, NULL };
	r = check_names_unique(where, *ret, &top, seen, error);
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

		if (vf->nested && (ret = vmstate_check_retired(
					   vf->nested, r, where, error)) < 0)
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
		int ret =
			vmstate_check_retired(v->subs[i].vms, r, where, error);

		if (ret < 0)
			return ret;
	}
	return 0;
}
