// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * compat/manifest.c - manifests and inventories: data, JSON in and out.
 *
 * The JSON comes from another host or a file, so reading it trusts
 * nothing: the size is checked here, the nesting depth (base/json-read.c)
 * before json-glib sees a byte, then every member's type, length and
 * range, and every error names the member by its path
 * ("devices[2].vmstate.layouts[0].since").
 * Members this format version does not define are ignored, so that a
 * later writer may add some within the same format version.
 */
#include <errno.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "base/error.h"
#include "base/json-read.h"
#include "compat/manifest.h"

#define MAX_DEPTH 16

static const char *const kind_key[] = {
	[MANIFEST_GUEST] = "modvmm-manifest",
	[MANIFEST_INVENTORY] = "modvmm-inventory",
};

/* ---- data ------------------------------------------------------------ */

static void layout_clear(struct manifest_layout *l)
{
	if (l->fields)
		g_ptr_array_unref(l->fields);
}

static void vms_free(struct manifest_vms *v)
{
	if (!v)
		return;
	g_array_unref(v->layouts);
	g_free(v);
}

static void device_free(struct manifest_device *d)
{
	vms_free(d->vms);
	g_ptr_array_unref(d->subs);
	g_ptr_array_unref(d->structs);
	g_ptr_array_unref(d->props);
	g_ptr_array_unref(d->known_bad);
	g_free(d);
}

struct manifest *manifest_new(enum manifest_kind kind)
{
	struct manifest *m = g_new0(struct manifest, 1);

	m->kind = kind;
	m->strings = g_string_chunk_new(4096);
	m->machines = g_array_new(FALSE, TRUE, sizeof(struct machine_type));
	m->devices = g_ptr_array_new_with_free_func((GDestroyNotify)device_free);
	return m;
}

void manifest_free(struct manifest *m)
{
	if (!m)
		return;
	for (guint i = 0; i < m->machines->len; i++)
		g_free((void *)g_array_index(m->machines, struct machine_type,
					     i).props);
	g_array_unref(m->machines);
	g_ptr_array_unref(m->devices);
	cpu_model_free(m->cpu);
	g_string_chunk_free(m->strings);
	g_free(m);
}

const char *manifest_str(struct manifest *m, const char *s)
{
	return s ? g_string_chunk_insert_const(m->strings, s) : NULL;
}

struct manifest_device *manifest_add_device(struct manifest *m)
{
	struct manifest_device *d = g_new0(struct manifest_device, 1);

	d->subs = g_ptr_array_new_with_free_func((GDestroyNotify)vms_free);
	d->structs = g_ptr_array_new_with_free_func((GDestroyNotify)vms_free);
	d->props = g_ptr_array_new_with_free_func(g_free);
	d->known_bad = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(m->devices, d);
	return d;
}

struct manifest_vms *manifest_vms_new(void)
{
	struct manifest_vms *v = g_new0(struct manifest_vms, 1);

	v->layouts = g_array_new(FALSE, TRUE, sizeof(struct manifest_layout));
	g_array_set_clear_func(v->layouts, (GDestroyNotify)layout_clear);
	return v;
}

void manifest_vms_add_layout_fields(struct manifest_vms *v, uint32_t since,
				    const char *fp, GPtrArray *fields)
{
	struct manifest_layout l = { .since = since, .fields = fields };

	if (v->layouts->len &&
	    !strcmp(g_array_index(v->layouts, struct manifest_layout,
				  v->layouts->len - 1)
			    .fp,
		    fp)) {
		layout_clear(&l);
		return;
	}
	g_strlcpy(l.fp, fp, sizeof(l.fp));
	g_array_append_val(v->layouts, l);
}

void manifest_vms_add_layout(struct manifest_vms *v, uint32_t since,
			     const char *fp)
{
	manifest_vms_add_layout_fields(v, since, fp, NULL);
}

const struct manifest_layout *manifest_vms_layout_at(const struct manifest_vms *v,
						     uint32_t version)
{
	const struct manifest_layout *at = NULL;

	for (guint i = 0; i < v->layouts->len; i++) {
		const struct manifest_layout *l =
			&g_array_index(v->layouts, struct manifest_layout, i);

		if (l->since > version)
			break;
		at = l;
	}
	return at;
}

const char *manifest_vms_layout(const struct manifest_vms *v,
				uint32_t version)
{
	const struct manifest_layout *l = manifest_vms_layout_at(v, version);

	return l ? l->fp : NULL;
}

void manifest_add_machine(struct manifest *m, const struct machine_type *t)
{
	struct compat_prop *props = g_new0(struct compat_prop, t->n_props + 1);
	struct machine_type c = {
		.name = manifest_str(m, t->name),
		.released = t->released,
		.props = props,
		.n_props = t->n_props,
	};

	for (size_t i = 0; i < t->n_props; i++) {
		props[i].device = manifest_str(m, t->props[i].device);
		props[i].property = manifest_str(m, t->props[i].property);
		props[i].value = manifest_str(m, t->props[i].value);
	}
	g_array_append_val(m->machines, c);
	m->registry.types = (const struct machine_type *)m->machines->data;
	m->registry.n_types = m->machines->len;
}

/* ---- reading --------------------------------------------------------- */

/* The reader's state: where messages go, and the manifest being built,
 * which holds every string read (rd->json.strings). */
struct reader {
	struct json_read json;
	struct manifest *m;
};

/* A name, a type, an id: 1..MANIFEST_MAX_STRING printable bytes. */
static int read_name(struct reader *rd, JsonObject *o, const char *path,
		     const char *key, const char **ret)
{
	return json_read_string(&rd->json, o, path, key, MANIFEST_MAX_STRING, 0,
				ret);
}

/* A property's value: 0..MANIFEST_MAX_VALUE printable bytes. */
static int read_value(struct reader *rd, JsonObject *o, const char *path,
		      const char *key, const char **ret)
{
	return json_read_string(&rd->json, o, path, key, MANIFEST_MAX_VALUE,
				JSON_READ_EMPTY_OK, ret);
}

static int fp_valid(const char *s)
{
	if (strlen(s) != MANIFEST_FP_LEN)
		return 0;
	for (; *s; s++)
		if (!g_ascii_isdigit(*s) && !(*s >= 'a' && *s <= 'f'))
			return 0;
	return 1;
}

/* What an entry of read_vms() describes. */
enum vms_kind {
	VMS_TOP,	/* the device's description */
	VMS_SUBSECTION, /* a subsection, at any depth */
	VMS_STRUCT,	/* a nested struct's description, at any depth */
};

/* A description's "layouts": at least one, in order, within its versions. */
static int read_layouts(struct reader *rd, JsonObject *o, const char *path,
			struct manifest_vms *v)
{
	struct json_read *in = &rd->json;
	JsonArray *a;
	int r;

	if ((r = json_read_array(in, o, path, "layouts", MANIFEST_MAX_LAYOUTS,
				 &a)) < 0)
		return r;
	if (!a || !json_array_get_length(a))
		return json_read_fail(in, path, "layouts", "missing or empty");
	for (guint i = 0; i < json_array_get_length(a); i++) {
		g_autofree char *p = json_read_index(path, "layouts", i);
		struct manifest_layout l = { 0 };
		JsonObject *lo;
		const char *fp;

		if ((r = json_read_element(in, a, i, p, &lo)) < 0 ||
		    (r = json_read_u32(in, lo, p, "since", &l.since)) < 0 ||
		    (r = read_name(rd, lo, p, "fingerprint", &fp)) < 0)
			return r;
		if (!fp_valid(fp))
			return json_read_fail(
				in, p, "fingerprint",
				"expected %u lowercase hex digits",
				MANIFEST_FP_LEN);
		if (i ? l.since <= g_array_index(v->layouts,
						 struct manifest_layout, i - 1)
					    .since
		      : l.since > v->min)
			return json_read_fail(
				in, p, "since",
				i ? "%u: layouts must be in ascending order"
				  : "%u: the first layout must cover the "
				    "oldest version",
				l.since);
		if (l.since > v->version)
			return json_read_fail(
				in, p, "since",
				"%u: after the newest version, %u", l.since,
				v->version);
		memcpy(l.fp, fp, sizeof(l.fp));
		if ((r = json_read_strings(in, lo, p, "fields",
					   MANIFEST_MAX_FIELDS,
					   MANIFEST_MAX_VALUE, &l.fields)) < 0)
			return r;
		g_array_append_val(v->layouts, l);
	}
	return 0;
}

/* A description's versions: which members a kind has depends on the
 * document (a guest's subsections say whether they are sent). */
static int read_versions(struct reader *rd, JsonObject *o, const char *path,
			 enum vms_kind kind, struct manifest_vms *v)
{
	struct json_read *in = &rd->json;
	int guest = rd->m->kind == MANIFEST_GUEST;
	int r;

	if (kind != VMS_TOP && guest && json_object_has_member(o, "since") &&
	    (r = json_read_u32(in, o, path, "since", &v->since)) < 0)
		return r;
	if (kind == VMS_SUBSECTION && guest) {
		v->min = v->version;
		if ((r = json_read_flag(in, o, path, "optional",
					&v->optional)) < 0 ||
		    (r = json_read_flag(in, o, path, "send", &v->send)) < 0)
			return r;
	} else if ((r = json_read_u32(in, o, path, "min", &v->min)) < 0) {
		return r;
	}
	if (kind == VMS_TOP && guest && json_object_has_member(o, "saved") &&
	    (r = json_read_u32(in, o, path, "saved", &v->saved)) < 0)
		return r;
	if (!v->version || !v->min || v->min > v->version)
		return json_read_fail(in, path, NULL,
				      "version range %u..%u: both must be at "
				      "least 1 and in order",
				      v->min, v->version);
	if (v->saved && (v->saved < v->min || v->saved > v->version))
		return json_read_fail(in, path, "saved",
				      "%u is outside the versions it saves, "
				      "%u..%u",
				      v->saved, v->min, v->version);
	return 0;
}

static int read_vms(struct reader *rd, JsonObject *o, const char *path,
		    enum vms_kind kind, struct manifest_vms **ret)
{
	struct manifest_vms *v = manifest_vms_new();
	int r;

	/* The order of the checks is the order of the messages. */
	if ((r = read_name(rd, o, path, "name", &v->name)) < 0 ||
	    (r = json_read_u32(&rd->json, o, path, "version", &v->version)) <
		    0 ||
	    (kind != VMS_TOP && json_object_has_member(o, "parent") &&
	     (r = read_name(rd, o, path, "parent", &v->parent)) < 0) ||
	    (r = read_versions(rd, o, path, kind, v)) < 0 ||
	    (r = read_layouts(rd, o, path, v)) < 0) {
		vms_free(v);
		return r;
	}
	*ret = v;
	return 0;
}

static int name_listed(const struct manifest_device *d, const char *name,
		       const struct manifest_vms *self)
{
	const GPtrArray *lists[] = { d->subs, d->structs };

	if (d->vms && !strcmp(d->vms->name, name))
		return 1;
	for (size_t k = 0; k < G_N_ELEMENTS(lists); k++)
		for (guint i = 0; i < lists[k]->len; i++)
			if (lists[k]->pdata[i] != self &&
			    !strcmp(((struct manifest_vms *)lists[k]->pdata[i])
					    ->name,
				    name))
				return 1;
	return 0;
}

/* Subsections or structs: a name means one description in a device. */
static int read_vms_list(struct reader *rd, JsonObject *o, const char *path,
			 const char *key, guint max, enum vms_kind kind,
			 GPtrArray *to, const struct manifest_device *d)
{
	JsonArray *a;
	int r;

	if ((r = json_read_array(&rd->json, o, path, key, max, &a)) < 0)
		return r;
	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		g_autofree char *p = json_read_index(path, key, i);
		struct manifest_vms *s;
		JsonObject *so;

		if ((r = json_read_element(&rd->json, a, i, p, &so)) < 0 ||
		    (r = read_vms(rd, so, p, kind, &s)) < 0)
			return r;
		g_ptr_array_add(to, s);
		if (name_listed(d, s->name, s))
			return json_read_fail(&rd->json, p, "name",
					      "%s is listed twice", s->name);
	}
	return 0;
}

/* A device's properties: a guest's with their values, each once. */
static int read_device_props(struct reader *rd, JsonObject *o,
			     const char *path, struct manifest_device *d)
{
	struct json_read *in = &rd->json;
	JsonArray *a;
	int r;

	if ((r = json_read_array(in, o, path, "properties", MANIFEST_MAX_PROPS,
				 &a)) < 0)
		return r;
	if (rd->m->kind == MANIFEST_GUEST &&
	    (r = json_read_flag(in, o, path, "properties_complete",
				&d->props_complete)) < 0)
		return r;
	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		g_autofree char *p = json_read_index(path, "properties", i);
		struct manifest_prop *mp = g_new0(struct manifest_prop, 1);
		JsonObject *po;

		g_ptr_array_add(d->props, mp);
		if ((r = json_read_element(in, a, i, p, &po)) < 0 ||
		    (r = read_name(rd, po, p, "property", &mp->property)) < 0 ||
		    (json_object_has_member(po, "legacy") &&
		     (r = read_value(rd, po, p, "legacy", &mp->legacy)) < 0))
			return r;
		if (rd->m->kind != MANIFEST_GUEST)
			continue;
		/* An older writer listed only compat properties. */
		mp->set = mp->machine = 1;
		if ((r = read_value(rd, po, p, "value", &mp->value)) < 0 ||
		    (json_object_has_member(po, "set") &&
		     (r = json_read_bool(in, po, p, "set", &mp->set)) < 0) ||
		    (json_object_has_member(po, "machine") &&
		     (r = json_read_bool(in, po, p, "machine", &mp->machine)) <
			     0))
			return r;
		for (guint j = 0; j < i; j++)
			if (!strcmp(((struct manifest_prop *)d->props->pdata[j])
					    ->property,
				    mp->property))
				return json_read_fail(in, p, "property",
						      "%s is listed twice",
						      mp->property);
	}
	return 0;
}

/* An inventory's versions of a device type known not to migrate. */
static int read_known_bad(struct reader *rd, JsonObject *o, const char *path,
			  struct manifest_device *d)
{
	JsonArray *a;
	int r;

	if ((r = json_read_array(&rd->json, o, path, "known_bad",
				 MANIFEST_MAX_KNOWN_BAD, &a)) < 0)
		return r;
	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		g_autofree char *p = json_read_index(path, "known_bad", i);
		struct manifest_known_bad *kb =
			g_new0(struct manifest_known_bad, 1);
		JsonObject *ko;

		g_ptr_array_add(d->known_bad, kb);
		if ((r = json_read_element(&rd->json, a, i, p, &ko)) < 0 ||
		    (r = read_name(rd, ko, p, "version", &kb->version)) < 0 ||
		    (r = read_name(rd, ko, p, "reason", &kb->reason)) < 0)
			return r;
	}
	return 0;
}

static int read_device(struct reader *rd, JsonObject *o, const char *path,
		       struct manifest_device *d)
{
	g_autofree char *vp = g_strdup_printf("%s.vmstate", path);
	JsonObject *vo;
	int r;

	if (rd->m->kind == MANIFEST_GUEST &&
	    (r = read_name(rd, o, path, "id", &d->id)) < 0)
		return r;
	if ((r = read_name(rd, o, path, "type", &d->type)) < 0 ||
	    (r = read_name(rd, o, path, "module", &d->module)) < 0 ||
	    (r = read_name(rd, o, path, "module_version", &d->module_version)) <
		    0 ||
	    (r = json_read_flag(&rd->json, o, path, "intree", &d->intree)) <
		    0 ||
	    (r = json_read_object(&rd->json, o, path, "vmstate", &vo)) < 0)
		return r;
	if (vo && (r = read_vms(rd, vo, vp, VMS_TOP, &d->vms)) < 0)
		return r;
	if ((r = read_vms_list(rd, o, path, "subsections",
			       MANIFEST_MAX_SUBSECTIONS, VMS_SUBSECTION,
			       d->subs, d)) < 0 ||
	    (r = read_vms_list(rd, o, path, "structs", MANIFEST_MAX_STRUCTS,
			       VMS_STRUCT, d->structs, d)) < 0)
		return r;
	if ((d->subs->len || d->structs->len) && !d->vms)
		return json_read_fail(&rd->json, path,
				      d->subs->len ? "subsections" : "structs",
				      "present without a vmstate");
	if ((r = read_device_props(rd, o, path, d)) < 0)
		return r;
	return read_known_bad(rd, o, path, d);
}

static int date_valid(uint32_t d)
{
	return g_date_valid_dmy((GDateDay)(d % 100),
				(GDateMonth)(d / 100 % 100),
				(GDateYear)(d / 10000));
}

/* One machine type of an inventory, with its compat properties. */
static int read_machine(struct reader *rd, JsonArray *a, guint i)
{
	struct json_read *in = &rd->json;
	g_autofree char *p = json_read_index("", "machines", i);
	g_autofree struct compat_prop *props = NULL;
	struct machine_type t = { 0 };
	JsonObject *mo;
	JsonArray *pa;
	int r;

	if ((r = json_read_element(in, a, i, p, &mo)) < 0 ||
	    (r = read_name(rd, mo, p, "name", &t.name)) < 0 ||
	    (r = json_read_u32(in, mo, p, "released", &t.released)) < 0 ||
	    (r = json_read_array(in, mo, p, "properties", MANIFEST_MAX_PROPS,
				 &pa)) < 0)
		return r;
	if (!date_valid(t.released))
		return json_read_fail(in, p, "released",
				      "%u is not a date YYYYMMDD", t.released);
	if (!strcmp(t.name, rd->m->registry.alias))
		return json_read_fail(in, p, "name",
				      "%s is the alias, not a machine type",
				      t.name);
	if (machine_lookup(&rd->m->registry, t.name))
		return json_read_fail(in, p, "name", "%s is listed twice",
				      t.name);
	t.n_props = pa ? json_array_get_length(pa) : 0;
	props = g_new0(struct compat_prop, t.n_props + 1);
	for (guint j = 0; j < t.n_props; j++) {
		g_autofree char *pp = json_read_index(p, "properties", j);
		JsonObject *po;

		if ((r = json_read_element(in, pa, j, pp, &po)) < 0 ||
		    (r = read_name(rd, po, pp, "device", &props[j].device)) <
			    0 ||
		    (r = read_name(rd, po, pp, "property",
				   &props[j].property)) < 0 ||
		    (r = read_name(rd, po, pp, "value", &props[j].value)) < 0)
			return r;
	}
	t.props = props;
	manifest_add_machine(rd->m, &t);
	return 0;
}

static int read_machines(struct reader *rd, JsonObject *root)
{
	JsonArray *a;
	int r;

	if ((r = read_name(rd, root, "", "alias", &rd->m->registry.alias)) <
		    0 ||
	    (r = json_read_u32(&rd->json, root, "", "build_date",
			       &rd->m->registry.build_date)) < 0)
		return r;
	if (!date_valid(rd->m->registry.build_date))
		return json_read_fail(&rd->json, "", "build_date",
				      "%u is not a date YYYYMMDD",
				      rd->m->registry.build_date);
	if ((r = json_read_array(&rd->json, root, "", "machines",
				 MANIFEST_MAX_MACHINES, &a)) < 0)
		return r;
	for (guint i = 0; a && i < json_array_get_length(a); i++)
		if ((r = read_machine(rd, a, i)) < 0)
			return r;
	if (!rd->m->machines->len)
		return json_read_fail(&rd->json, "", "machines",
				      "missing or empty");
	return 0;
}

static int read_leaf(struct reader *rd, JsonArray *a, guint i,
		     struct cpu_model *cpu)
{
	static const char *const regs[] = { "eax", "ebx", "ecx", "edx" };
	g_autofree char *p = json_read_index("cpu", "leaves", i);
	struct cpu_leaf l = { 0 };
	uint32_t *v[] = { &l.eax, &l.ebx, &l.ecx, &l.edx };
	struct json_read *in = &rd->json;
	JsonObject *o;
	int r;

	if ((r = json_read_element(in, a, i, p, &o)) < 0 ||
	    (r = json_read_u32(in, o, p, "function", &l.function)) < 0 ||
	    (r = json_read_u32(in, o, p, "index", &l.index)) < 0 ||
	    (r = json_read_u32(in, o, p, "flags", &l.flags)) < 0)
		return r;
	for (size_t k = 0; k < G_N_ELEMENTS(regs); k++)
		if ((r = json_read_u32(in, o, p, regs[k], v[k])) < 0)
			return r;
	for (guint j = 0; j < cpu->leaves->len; j++) {
		const struct cpu_leaf *e =
			&g_array_index(cpu->leaves, struct cpu_leaf, j);

		if (e->function == l.function && e->index == l.index)
			return json_read_fail(in, p, NULL,
					      "leaf 0x%x index %u is listed "
					      "twice",
					      l.function, l.index);
	}
	cpu_model_add_leaf(cpu, &l);
	return 0;
}

static int read_msrs(struct reader *rd, JsonObject *o, struct cpu_model *cpu)
{
	JsonArray *a;
	int r;

	if ((r = json_read_array(&rd->json, o, "cpu", "msrs", CPU_MAX_MSRS,
				 &a)) < 0)
		return r;
	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		g_autofree char *p = json_read_index("cpu", "msrs", i);
		uint32_t msr;

		if ((r = json_read_node_u32(&rd->json,
					    json_array_get_element(a, i), p,
					    NULL, &msr)) < 0)
			return r;
		if (cpu_model_has_msr(cpu, msr))
			return json_read_fail(&rd->json, p, NULL,
					      "MSR 0x%x is listed twice", msr);
		g_array_append_vals(cpu->msrs, &msr, 1);
	}
	return 0;
}

/* "cpu": a guest's CPU, or what a host offers; absent or null: none. */
static int read_cpu(struct reader *rd, JsonObject *root)
{
	struct json_read *in = &rd->json;
	const char *name;
	JsonObject *o;
	JsonArray *a;
	int r;

	if ((r = json_read_object(in, root, "", "cpu", &o)) < 0 || !o)
		return r;
	if ((r = read_name(rd, o, "cpu", "model", &name)) < 0)
		return r;
	rd->m->cpu = cpu_model_new(name);
	if ((r = json_read_u32(in, o, "cpu", "tsc_khz",
			       &rd->m->cpu->tsc_khz)) < 0)
		return r;
	if (rd->m->kind == MANIFEST_INVENTORY &&
	    (r = json_read_flag(in, o, "cpu", "tsc_scaling",
				&rd->m->cpu->tsc_scaling)) < 0)
		return r;
	if ((r = json_read_array(in, o, "cpu", "leaves", CPU_MAX_LEAVES, &a)) <
	    0)
		return r;
	if (!a || !json_array_get_length(a))
		return json_read_fail(in, "cpu", "leaves", "missing or empty");
	for (guint i = 0; i < json_array_get_length(a); i++)
		if ((r = read_leaf(rd, a, i, rd->m->cpu)) < 0)
			return r;
	return read_msrs(rd, o, rd->m->cpu);
}

/* The devices of a manifest, the device types of an inventory. */
static int read_devices(struct reader *rd, JsonObject *root)
{
	enum manifest_kind kind = rd->m->kind;
	const char *key = kind == MANIFEST_GUEST ? "devices" : "types";
	JsonArray *a;
	int r;

	if ((r = json_read_array(&rd->json, root, "", key,
				 MANIFEST_MAX_DEVICES, &a)) < 0)
		return r;
	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		g_autofree char *p = json_read_index("", key, i);
		struct manifest_device *d;
		JsonObject *o;

		if ((r = json_read_element(&rd->json, a, i, p, &o)) < 0)
			return r;
		d = manifest_add_device(rd->m);
		if ((r = read_device(rd, o, p, d)) < 0)
			return r;
		for (guint j = 0; j + 1 < rd->m->devices->len; j++) {
			const struct manifest_device *e =
				rd->m->devices->pdata[j];

			if (kind == MANIFEST_GUEST && !strcmp(e->id, d->id))
				return json_read_fail(&rd->json, p, "id",
						      "%s is listed twice",
						      d->id);
			if (kind == MANIFEST_INVENTORY &&
			    !strcmp(e->type, d->type))
				return json_read_fail(&rd->json, p, "type",
						      "%s is listed twice",
						      d->type);
		}
	}
	return 0;
}

/*
 * The text, up to the root object that says what it is: its size, then
 * what json_read_parse() checks, each refused with its own message.
 */
static int parse_root(const char *what, const char *data, size_t len,
		      enum manifest_kind kind, JsonParser *parser,
		      JsonObject **ret, GError **error)
{
	const char *a = kind == MANIFEST_GUEST ? "a manifest" : "an inventory";
	g_autoptr(GError) err = NULL;
	JsonObject *root;
	int r;

	if (len > MANIFEST_MAX_BYTES)
		return error_setf(error, EFBIG,
				  "%s: %zu bytes, more than the %u %s may "
				  "have",
				  what, len, MANIFEST_MAX_BYTES, a);
	r = json_read_parse(parser, data, len, MAX_DEPTH, &err);
	if (r < 0)
		return error_setf(error, EINVAL, "%s: %s%s", what,
				  r == -EBADMSG ? "not JSON: " : "",
				  err->message);
	root = json_read_root_object(parser);
	if (!root)
		return error_setf(error, EINVAL, "%s: not a JSON object", what);
	if (!json_object_has_member(root, kind_key[kind]))
		return error_setf(
			error, EINVAL, "%s: not %s (no \"%s\" member%s)", what,
			a, kind_key[kind],
			json_object_has_member(root, kind_key[!kind])
				? kind == MANIFEST_GUEST
					  ? "; this is an inventory"
					  : "; this is a manifest"
				: "");
	*ret = root;
	return 0;
}

static int read_manifest(struct reader *rd, JsonObject *root)
{
	struct json_read *in = &rd->json;
	uint32_t format;
	int r;

	if ((r = json_read_u32(in, root, "", kind_key[rd->m->kind], &format)) <
	    0)
		return r;
	if (format != MANIFEST_FORMAT)
		return error_setf(in->error, EPROTONOSUPPORT,
				  "%s: format version %u; this host reads "
				  "version %u",
				  in->what, format, MANIFEST_FORMAT);
	if ((r = read_name(rd, root, "", "abi", &rd->m->abi)) < 0)
		return r;
	if (rd->m->kind == MANIFEST_GUEST) {
		if ((r = read_name(rd, root, "", "machine", &rd->m->machine)) <
			    0 ||
		    (r = json_read_flag(in, root, "", "machine_alias",
					&rd->m->machine_alias)) < 0)
			return r;
	} else if ((r = read_machines(rd, root)) < 0) {
		return r;
	}
	if ((r = read_cpu(rd, root)) < 0)
		return r;
	return read_devices(rd, root);
}

int manifest_parse(const char *what, const char *data, size_t len,
		   enum manifest_kind kind, struct manifest **ret,
		   GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new_immutable();
	struct reader rd = { .json = { .what = what, .error = error } };
	JsonObject *root = NULL;
	int r = parse_root(what, data, len, kind, parser, &root, error);

	if (r < 0)
		return r;
	rd.m = manifest_new(kind);
	rd.json.strings = rd.m->strings;
	r = read_manifest(&rd, root);
	if (r < 0) {
		manifest_free(rd.m);
		return r;
	}
	*ret = rd.m;
	return 0;
}

/* ---- writing --------------------------------------------------------- */

static void put_string(JsonBuilder *b, const char *key, const char *v)
{
	json_builder_set_member_name(b, key);
	json_builder_add_string_value(b, v);
}

static void put_int(JsonBuilder *b, const char *key, gint64 v)
{
	json_builder_set_member_name(b, key);
	json_builder_add_int_value(b, v);
}

static void put_bool(JsonBuilder *b, const char *key, gboolean v)
{
	json_builder_set_member_name(b, key);
	json_builder_add_boolean_value(b, v);
}

static void write_vms(JsonBuilder *b, const struct manifest *m,
		  const struct manifest_vms *v, enum vms_kind kind)
{
	json_builder_begin_object(b);
	put_string(b, "name", v->name);
	put_int(b, "version", v->version);
	if (v->parent)
		put_string(b, "parent", v->parent);
	if (kind != VMS_TOP && m->kind == MANIFEST_GUEST && v->since)
		put_int(b, "since", v->since);
	if (kind == VMS_SUBSECTION && m->kind == MANIFEST_GUEST) {
		put_bool(b, "optional", v->optional);
		put_bool(b, "send", v->send);
	} else {
		put_int(b, "min", v->min);
	}
	if (v->saved)
		put_int(b, "saved", v->saved);
	json_builder_set_member_name(b, "layouts");
	json_builder_begin_array(b);
	for (guint i = 0; i < v->layouts->len; i++) {
		const struct manifest_layout *l =
			&g_array_index(v->layouts, struct manifest_layout, i);

		json_builder_begin_object(b);
		put_int(b, "since", l->since);
		put_string(b, "fingerprint", l->fp);
		if (l->fields) {
			json_builder_set_member_name(b, "fields");
			json_builder_begin_array(b);
			for (guint j = 0; j < l->fields->len; j++)
				json_builder_add_string_value(
					b, l->fields->pdata[j]);
			json_builder_end_array(b);
		}
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
}

static void write_device(JsonBuilder *b, const struct manifest *m,
		     const struct manifest_device *d)
{
	json_builder_begin_object(b);
	if (d->id)
		put_string(b, "id", d->id);
	put_string(b, "type", d->type);
	put_string(b, "module", d->module);
	put_string(b, "module_version", d->module_version);
	put_bool(b, "intree", d->intree);
	json_builder_set_member_name(b, "vmstate");
	if (d->vms)
		write_vms(b, m, d->vms, VMS_TOP);
	else
		json_builder_add_null_value(b);
	json_builder_set_member_name(b, "subsections");
	json_builder_begin_array(b);
	for (guint i = 0; i < d->subs->len; i++)
		write_vms(b, m, d->subs->pdata[i], VMS_SUBSECTION);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "structs");
	json_builder_begin_array(b);
	for (guint i = 0; i < d->structs->len; i++)
		write_vms(b, m, d->structs->pdata[i], VMS_STRUCT);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "properties");
	json_builder_begin_array(b);
	for (guint i = 0; i < d->props->len; i++) {
		const struct manifest_prop *p = d->props->pdata[i];

		json_builder_begin_object(b);
		put_string(b, "property", p->property);
		if (p->legacy)
			put_string(b, "legacy", p->legacy);
		if (m->kind == MANIFEST_GUEST) {
			put_string(b, "value", p->value);
			put_bool(b, "set", p->set);
			put_bool(b, "machine", p->machine);
		}
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	if (m->kind == MANIFEST_GUEST) {
		put_bool(b, "properties_complete", d->props_complete);
	} else {
		json_builder_set_member_name(b, "known_bad");
		json_builder_begin_array(b);
		for (guint i = 0; i < d->known_bad->len; i++) {
			const struct manifest_known_bad *kb =
				d->known_bad->pdata[i];

			json_builder_begin_object(b);
			put_string(b, "version", kb->version);
			put_string(b, "reason", kb->reason);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
	}
	json_builder_end_object(b);
}

static void write_machines(JsonBuilder *b, const struct manifest *m)
{
	put_string(b, "alias", m->registry.alias);
	put_int(b, "build_date", m->registry.build_date);
	json_builder_set_member_name(b, "machines");
	json_builder_begin_array(b);
	for (size_t i = 0; i < m->registry.n_types; i++) {
		const struct machine_type *t = &m->registry.types[i];

		json_builder_begin_object(b);
		put_string(b, "name", t->name);
		put_int(b, "released", t->released);
		/* Derived from the dates; readers recompute it. */
		put_string(b, "status",
		      machine_status_name(
			      machine_status(&m->registry, t, NULL, NULL)));
		json_builder_set_member_name(b, "properties");
		json_builder_begin_array(b);
		for (size_t j = 0; j < t->n_props; j++) {
			json_builder_begin_object(b);
			put_string(b, "device", t->props[j].device);
			put_string(b, "property", t->props[j].property);
			put_string(b, "value", t->props[j].value);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

static void write_cpu(JsonBuilder *b, const struct manifest *m)
{
	const struct cpu_model *c = m->cpu;

	json_builder_set_member_name(b, "cpu");
	json_builder_begin_object(b);
	put_string(b, "model", c->name);
	put_int(b, "tsc_khz", c->tsc_khz);
	if (m->kind == MANIFEST_INVENTORY)
		put_bool(b, "tsc_scaling", c->tsc_scaling);
	json_builder_set_member_name(b, "leaves");
	json_builder_begin_array(b);
	for (guint i = 0; i < c->leaves->len; i++) {
		const struct cpu_leaf *l =
			&g_array_index(c->leaves, struct cpu_leaf, i);

		json_builder_begin_object(b);
		put_int(b, "function", l->function);
		put_int(b, "index", l->index);
		put_int(b, "flags", l->flags);
		put_int(b, "eax", l->eax);
		put_int(b, "ebx", l->ebx);
		put_int(b, "ecx", l->ecx);
		put_int(b, "edx", l->edx);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "msrs");
	json_builder_begin_array(b);
	for (guint i = 0; i < c->msrs->len; i++)
		json_builder_add_int_value(b,
					   g_array_index(c->msrs, uint32_t, i));
	json_builder_end_array(b);
	json_builder_end_object(b);
}

char *manifest_to_json(const struct manifest *m)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(b);
	put_int(b, kind_key[m->kind], MANIFEST_FORMAT);
	put_string(b, "abi", m->abi);
	if (m->kind == MANIFEST_GUEST) {
		put_string(b, "machine", m->machine);
		put_bool(b, "machine_alias", m->machine_alias);
	} else {
		write_machines(b, m);
	}
	json_builder_set_member_name(
		b, m->kind == MANIFEST_GUEST ? "devices" : "types");
	json_builder_begin_array(b);
	for (guint i = 0; i < m->devices->len; i++)
		write_device(b, m, m->devices->pdata[i]);
	json_builder_end_array(b);
	if (m->cpu)
		write_cpu(b, m);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_pretty(gen, TRUE);
	json_generator_set_root(gen, root);
	return json_generator_to_data(gen, NULL);
}
