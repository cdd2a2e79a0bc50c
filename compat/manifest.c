// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * compat/manifest.c - manifests and inventories: data, JSON in and out.
 *
 * The JSON comes from another host or a file, so reading it trusts
 * nothing: the size and the nesting depth are checked before json-glib
 * sees a byte, then every member's type, length and range, and every error
 * names the member by its path ("devices[2].vmstate.layouts[0].since").
 * Members this format version does not define are ignored, so that a
 * later writer may add some within the same format version.
 */
#include <errno.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "base/error.h"
#include "base/json-text.h"
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

struct rd {
	const char *what;
	struct manifest *m;
	GError **error;
};

static int bad(struct rd *rd, const char *path, const char *key,
	       const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static int bad(struct rd *rd, const char *path, const char *key,
	       const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	return error_setf(rd->error, EINVAL, "%s: %s%s%s: %s", rd->what,
			  path, *path && key ? "." : "", key ? key : "", msg);
}

static JsonNode *member(JsonObject *o, const char *key)
{
	return json_object_get_member(o, key);
}

static int is_int(JsonNode *n)
{
	return n && JSON_NODE_HOLDS_VALUE(n) &&
	       json_node_get_value_type(n) == G_TYPE_INT64;
}

static int rd_u32(struct rd *rd, JsonObject *o, const char *path,
		  const char *key, uint32_t *ret)
{
	JsonNode *n = member(o, key);
	gint64 v;

	if (!n)
		return bad(rd, path, key, "missing");
	if (!is_int(n))
		return bad(rd, path, key, "expected an integer");
	v = json_node_get_int(n);
	if (v < 0 || v > UINT32_MAX)
		return bad(rd, path, key, "%" G_GINT64_FORMAT " is out of range",
			   v);
	*ret = (uint32_t)v;
	return 0;
}

static int rd_bool(struct rd *rd, JsonObject *o, const char *path,
		   const char *key, int *ret)
{
	JsonNode *n = member(o, key);

	if (!n) {
		*ret = 0; /* absent: false */
		return 0;
	}
	if (!JSON_NODE_HOLDS_VALUE(n) ||
	    json_node_get_value_type(n) != G_TYPE_BOOLEAN)
		return bad(rd, path, key, "expected true or false");
	*ret = json_node_get_boolean(n);
	return 0;
}

/* A printable UTF-8 string of 1..max bytes (0..max for a value). */
static int rd_text(struct rd *rd, JsonObject *o, const char *path,
		   const char *key, int value, const char **ret)
{
	size_t max = value ? MANIFEST_MAX_VALUE : MANIFEST_MAX_STRING;
	JsonNode *n = member(o, key);
	const char *s, *end;

	if (!n)
		return bad(rd, path, key, "missing");
	if (!JSON_NODE_HOLDS_VALUE(n) ||
	    json_node_get_value_type(n) != G_TYPE_STRING)
		return bad(rd, path, key, "expected a string");
	s = json_node_get_string(n);
	if (!*s && !value)
		return bad(rd, path, key, "empty");
	if (strlen(s) > max)
		return bad(rd, path, key, "longer than %zu bytes", max);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return bad(rd, path, key,
				   "control character at byte %zu",
				   (size_t)(p - s));
	/* json-glib turns a lone surrogate escape into bytes that are not
	 * UTF-8, which no JSON reader would take back. */
	if (!g_utf8_validate(s, -1, &end))
		return bad(rd, path, key, "not UTF-8 at byte %zu",
			   (size_t)(end - s));
	*ret = manifest_str(rd->m, s);
	return 0;
}

static int rd_str(struct rd *rd, JsonObject *o, const char *path,
		  const char *key, const char **ret)
{
	return rd_text(rd, o, path, key, 0, ret);
}

static int rd_array(struct rd *rd, JsonObject *o, const char *path,
		    const char *key, guint max, JsonArray **ret)
{
	JsonNode *n = member(o, key);

	if (!n || JSON_NODE_HOLDS_NULL(n)) {
		*ret = NULL;
		return 0;
	}
	if (!JSON_NODE_HOLDS_ARRAY(n))
		return bad(rd, path, key, "expected an array");
	*ret = json_node_get_array(n);
	if (json_array_get_length(*ret) > max)
		return bad(rd, path, key, "%u entries, at most %u",
			   json_array_get_length(*ret), max);
	return 0;
}

/* An array of at most `max` strings, or absent (*ret NULL). */
static int rd_strings(struct rd *rd, JsonObject *o, const char *path,
		      const char *key, guint max, GPtrArray **ret)
{
	JsonArray *a;
	int r = rd_array(rd, o, path, key, max, &a);

	*ret = NULL;
	if (r < 0 || !a)
		return r;
	*ret = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonNode *n = json_array_get_element(a, i);
		const char *s;

		if (!JSON_NODE_HOLDS_VALUE(n) ||
		    json_node_get_value_type(n) != G_TYPE_STRING ||
		    strlen(s = json_node_get_string(n)) > MANIFEST_MAX_VALUE ||
		    !g_utf8_validate(s, -1, NULL)) {
			g_autofree char *p =
				g_strdup_printf("%s.%s[%u]", path, key, i);

			g_clear_pointer(ret, g_ptr_array_unref);
			return bad(rd, p, NULL,
				   "expected a UTF-8 string of at most %u "
				   "bytes",
				   MANIFEST_MAX_VALUE);
		}
		g_ptr_array_add(*ret, g_strdup(s));
	}
	return 0;
}

static JsonObject *element(struct rd *rd, JsonArray *a, guint i,
			   const char *path, int *r)
{
	JsonNode *n = json_array_get_element(a, i);

	if (!JSON_NODE_HOLDS_OBJECT(n)) {
		*r = bad(rd, path, NULL, "expected an object");
		return NULL;
	}
	return json_node_get_object(n);
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

/* What an entry of rd_vms() describes. */
enum vms_kind {
	VMS_TOP,	/* the device's description */
	VMS_SUBSECTION, /* a subsection, at any depth */
	VMS_STRUCT,	/* a nested struct's description, at any depth */
};

static int rd_vms(struct rd *rd, JsonObject *o, const char *path,
		  enum vms_kind kind, struct manifest_vms **ret)
{
	int subsection = kind == VMS_SUBSECTION;
	struct manifest_vms *v = manifest_vms_new();
	JsonArray *a;
	int r;

	if ((r = rd_str(rd, o, path, "name", &v->name)) < 0 ||
	    (r = rd_u32(rd, o, path, "version", &v->version)) < 0)
		goto fail;
	if (kind != VMS_TOP && member(o, "parent") &&
	    (r = rd_str(rd, o, path, "parent", &v->parent)) < 0)
		goto fail;
	if (kind != VMS_TOP && rd->m->kind == MANIFEST_GUEST &&
	    member(o, "since") &&
	    (r = rd_u32(rd, o, path, "since", &v->since)) < 0)
		goto fail;
	if (subsection && rd->m->kind == MANIFEST_GUEST) {
		v->min = v->version;
		if ((r = rd_bool(rd, o, path, "optional", &v->optional)) < 0 ||
		    (r = rd_bool(rd, o, path, "send", &v->send)) < 0)
			goto fail;
	} else {
		if ((r = rd_u32(rd, o, path, "min", &v->min)) < 0)
			goto fail;
	}
	if (kind == VMS_TOP && rd->m->kind == MANIFEST_GUEST &&
	    member(o, "saved") &&
	    (r = rd_u32(rd, o, path, "saved", &v->saved)) < 0)
		goto fail;
	if (!v->version || !v->min || v->min > v->version) {
		r = bad(rd, path, NULL,
			"version range %u..%u: both must be at least 1 and in "
			"order",
			v->min, v->version);
		goto fail;
	}
	if (v->saved && (v->saved < v->min || v->saved > v->version)) {
		r = bad(rd, path, "saved",
			"%u is outside the versions it saves, %u..%u",
			v->saved, v->min, v->version);
		goto fail;
	}
	if ((r = rd_array(rd, o, path, "layouts", MANIFEST_MAX_LAYOUTS, &a)) <
	    0)
		goto fail;
	if (!a || !json_array_get_length(a)) {
		r = bad(rd, path, "layouts", "missing or empty");
		goto fail;
	}
	for (guint i = 0; i < json_array_get_length(a); i++) {
		g_autofree char *p = g_strdup_printf("%s.layouts[%u]", path, i);
		struct manifest_layout l = { 0 };
		JsonObject *lo = element(rd, a, i, p, &r);
		const char *fp;

		if (!lo || (r = rd_u32(rd, lo, p, "since", &l.since)) < 0 ||
		    (r = rd_str(rd, lo, p, "fingerprint", &fp)) < 0)
			goto fail;
		if (!fp_valid(fp)) {
			r = bad(rd, p, "fingerprint",
				"expected %u lowercase hex digits",
				MANIFEST_FP_LEN);
			goto fail;
		}
		if (i ? l.since <= g_array_index(v->layouts,
						 struct manifest_layout, i - 1)
						 .since
		      : l.since > v->min) {
			r = bad(rd, p, "since",
				i ? "%u: layouts must be in ascending order"
				  : "%u: the first layout must cover the "
				    "oldest version",
				l.since);
			goto fail;
		}
		if (l.since > v->version) {
			r = bad(rd, p, "since",
				"%u: after the newest version, %u", l.since,
				v->version);
			goto fail;
		}
		memcpy(l.fp, fp, sizeof(l.fp));
		if ((r = rd_strings(rd, lo, p, "fields", MANIFEST_MAX_FIELDS,
				    &l.fields)) < 0)
			goto fail;
		g_array_append_val(v->layouts, l);
	}
	*ret = v;
	return 0;
fail:
	vms_free(v);
	return r;
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
static int rd_vms_list(struct rd *rd, JsonObject *o, const char *path,
		       const char *key, guint max, enum vms_kind kind,
		       GPtrArray *to, const struct manifest_device *d)
{
	JsonArray *a;
	int r;

	if ((r = rd_array(rd, o, path, key, max, &a)) < 0)
		return r;
	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		g_autofree char *p = g_strdup_printf("%s.%s[%u]", path, key, i);
		JsonObject *so = element(rd, a, i, p, &r);
		struct manifest_vms *s;

		if (!so || (r = rd_vms(rd, so, p, kind, &s)) < 0)
			return r;
		g_ptr_array_add(to, s);
		if (name_listed(d, s->name, s))
			return bad(rd, p, "name", "%s is listed twice",
				   s->name);
	}
	return 0;
}

static int rd_device(struct rd *rd, JsonObject *o, const char *path,
		     struct manifest_device *d)
{
	JsonArray *a;
	JsonNode *n;
	int r;

	if (rd->m->kind == MANIFEST_GUEST &&
	    (r = rd_str(rd, o, path, "id", &d->id)) < 0)
		return r;
	if ((r = rd_str(rd, o, path, "type", &d->type)) < 0 ||
	    (r = rd_str(rd, o, path, "module", &d->module)) < 0 ||
	    (r = rd_str(rd, o, path, "module_version", &d->module_version)) <
		    0 ||
	    (r = rd_bool(rd, o, path, "intree", &d->intree)) < 0)
		return r;
	n = member(o, "vmstate");
	if (n && !JSON_NODE_HOLDS_NULL(n)) {
		g_autofree char *p = g_strdup_printf("%s.vmstate", path);

		if (!JSON_NODE_HOLDS_OBJECT(n))
			return bad(rd, p, NULL, "expected an object or null");
		r = rd_vms(rd, json_node_get_object(n), p, VMS_TOP, &d->vms);
		if (r < 0)
			return r;
	}
	if ((r = rd_vms_list(rd, o, path, "subsections",
			     MANIFEST_MAX_SUBSECTIONS, VMS_SUBSECTION, d->subs,
			     d)) < 0 ||
	    (r = rd_vms_list(rd, o, path, "structs", MANIFEST_MAX_STRUCTS,
			     VMS_STRUCT, d->structs, d)) < 0)
		return r;
	if ((d->subs->len || d->structs->len) && !d->vms)
		return bad(rd, path, d->subs->len ? "subsections" : "structs",
			   "present without a vmstate");
	if ((r = rd_array(rd, o, path, "properties", MANIFEST_MAX_PROPS, &a)) <
	    0)
		return r;
	if (rd->m->kind == MANIFEST_GUEST &&
	    (r = rd_bool(rd, o, path, "properties_complete",
			 &d->props_complete)) < 0)
		return r;
	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		g_autofree char *p =
			g_strdup_printf("%s.properties[%u]", path, i);
		JsonObject *po = element(rd, a, i, p, &r);
		struct manifest_prop *mp = g_new0(struct manifest_prop, 1);

		g_ptr_array_add(d->props, mp);
		if (!po ||
		    (r = rd_str(rd, po, p, "property", &mp->property)) < 0 ||
		    (member(po, "legacy") &&
		     (r = rd_text(rd, po, p, "legacy", 1, &mp->legacy)) < 0))
			return r;
		if (rd->m->kind != MANIFEST_GUEST)
			continue;
		/* An older writer listed only compat properties. */
		mp->set = mp->machine = 1;
		if ((r = rd_text(rd, po, p, "value", 1, &mp->value)) < 0 ||
		    (member(po, "set") &&
		     (r = rd_bool(rd, po, p, "set", &mp->set)) < 0) ||
		    (member(po, "machine") &&
		     (r = rd_bool(rd, po, p, "machine", &mp->machine)) < 0))
			return r;
		for (guint j = 0; j < i; j++)
			if (!strcmp(((struct manifest_prop *)d->props->pdata[j])
					    ->property,
				    mp->property))
				return bad(rd, p, "property",
					   "%s is listed twice", mp->property);
	}
	if ((r = rd_array(rd, o, path, "known_bad", MANIFEST_MAX_KNOWN_BAD,
			  &a)) < 0)
		return r;
	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		g_autofree char *p =
			g_strdup_printf("%s.known_bad[%u]", path, i);
		JsonObject *ko = element(rd, a, i, p, &r);
		struct manifest_known_bad *kb =
			g_new0(struct manifest_known_bad, 1);

		g_ptr_array_add(d->known_bad, kb);
		if (!ko || (r = rd_str(rd, ko, p, "version", &kb->version)) < 0 ||
		    (r = rd_str(rd, ko, p, "reason", &kb->reason)) < 0)
			return r;
	}
	return 0;
}

static int date_valid(uint32_t d)
{
	return g_date_valid_dmy((GDateDay)(d % 100),
				(GDateMonth)(d / 100 % 100),
				(GDateYear)(d / 10000));
}

static int rd_machines(struct rd *rd, JsonObject *root)
{
	JsonArray *a;
	int r;

	if ((r = rd_str(rd, root, "", "alias", &rd->m->registry.alias)) < 0 ||
	    (r = rd_u32(rd, root, "", "build_date",
			&rd->m->registry.build_date)) < 0)
		return r;
	if (!date_valid(rd->m->registry.build_date))
		return bad(rd, "", "build_date", "%u is not a date YYYYMMDD",
			   rd->m->registry.build_date);
	if ((r = rd_array(rd, root, "", "machines", MANIFEST_MAX_MACHINES,
			  &a)) < 0)
		return r;
	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		g_autofree char *p = g_strdup_printf("machines[%u]", i);
		JsonObject *mo = element(rd, a, i, p, &r);
		struct machine_type t = { 0 };
		g_autofree struct compat_prop *props = NULL;
		JsonArray *pa;

		if (!mo || (r = rd_str(rd, mo, p, "name", &t.name)) < 0 ||
		    (r = rd_u32(rd, mo, p, "released", &t.released)) < 0 ||
		    (r = rd_array(rd, mo, p, "properties", MANIFEST_MAX_PROPS,
				  &pa)) < 0)
			return r;
		if (!date_valid(t.released))
			return bad(rd, p, "released",
				   "%u is not a date YYYYMMDD", t.released);
		if (!strcmp(t.name, rd->m->registry.alias))
			return bad(rd, p, "name",
				   "%s is the alias, not a machine type",
				   t.name);
		if (machine_lookup(&rd->m->registry, t.name))
			return bad(rd, p, "name", "%s is listed twice", t.name);
		t.n_props = pa ? json_array_get_length(pa) : 0;
		props = g_new0(struct compat_prop, t.n_props + 1);
		for (guint j = 0; j < t.n_props; j++) {
			g_autofree char *pp =
				g_strdup_printf("%s.properties[%u]", p, j);
			JsonObject *po = element(rd, pa, j, pp, &r);

			if (!po ||
			    (r = rd_str(rd, po, pp, "device",
					&props[j].device)) < 0 ||
			    (r = rd_str(rd, po, pp, "property",
					&props[j].property)) < 0 ||
			    (r = rd_str(rd, po, pp, "value",
					&props[j].value)) < 0)
				return r;
		}
		t.props = props;
		manifest_add_machine(rd->m, &t);
	}
	if (!rd->m->machines->len)
		return bad(rd, "", "machines", "missing or empty");
	return 0;
}

static int rd_leaf(struct rd *rd, JsonArray *a, guint i, struct cpu_model *cpu)
{
	static const char *const regs[] = { "eax", "ebx", "ecx", "edx" };
	g_autofree char *p = g_strdup_printf("cpu.leaves[%u]", i);
	struct cpu_leaf l = { 0 };
	uint32_t *v[] = { &l.eax, &l.ebx, &l.ecx, &l.edx };
	JsonObject *o;
	int r = 0;

	o = element(rd, a, i, p, &r);
	if (!o || (r = rd_u32(rd, o, p, "function", &l.function)) < 0 ||
	    (r = rd_u32(rd, o, p, "index", &l.index)) < 0 ||
	    (r = rd_u32(rd, o, p, "flags", &l.flags)) < 0)
		return r;
	for (size_t k = 0; k < G_N_ELEMENTS(regs); k++)
		if ((r = rd_u32(rd, o, p, regs[k], v[k])) < 0)
			return r;
	for (guint j = 0; j < cpu->leaves->len; j++) {
		const struct cpu_leaf *e =
			&g_array_index(cpu->leaves, struct cpu_leaf, j);

		if (e->function == l.function && e->index == l.index)
			return bad(rd, p, NULL,
				   "leaf 0x%x index %u is listed twice",
				   l.function, l.index);
	}
	cpu_model_add_leaf(cpu, &l);
	return 0;
}

/* "cpu": a guest's CPU, or what a host offers; absent or null: none. */
static int rd_cpu(struct rd *rd, JsonObject *root)
{
	JsonNode *n = member(root, "cpu");
	const char *name;
	JsonObject *o;
	JsonArray *a;
	int r;

	if (!n || JSON_NODE_HOLDS_NULL(n))
		return 0;
	if (!JSON_NODE_HOLDS_OBJECT(n))
		return bad(rd, "", "cpu", "expected an object or null");
	o = json_node_get_object(n);
	if ((r = rd_str(rd, o, "cpu", "model", &name)) < 0)
		return r;
	rd->m->cpu = cpu_model_new(name);
	if ((r = rd_u32(rd, o, "cpu", "tsc_khz", &rd->m->cpu->tsc_khz)) < 0)
		return r;
	if (rd->m->kind == MANIFEST_INVENTORY &&
	    (r = rd_bool(rd, o, "cpu", "tsc_scaling",
			 &rd->m->cpu->tsc_scaling)) < 0)
		return r;
	if ((r = rd_array(rd, o, "cpu", "leaves", CPU_MAX_LEAVES, &a)) < 0)
		return r;
	if (!a || !json_array_get_length(a))
		return bad(rd, "cpu", "leaves", "missing or empty");
	for (guint i = 0; i < json_array_get_length(a); i++)
		if ((r = rd_leaf(rd, a, i, rd->m->cpu)) < 0)
			return r;
	if ((r = rd_array(rd, o, "cpu", "msrs", CPU_MAX_MSRS, &a)) < 0)
		return r;
	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		JsonNode *e = json_array_get_element(a, i);
		g_autofree char *p = g_strdup_printf("cpu.msrs[%u]", i);
		gint64 v;

		if (!is_int(e))
			return bad(rd, p, NULL, "expected an integer");
		v = json_node_get_int(e);
		if (v < 0 || v > UINT32_MAX)
			return bad(rd, p, NULL,
				   "%" G_GINT64_FORMAT " is out of range", v);
		if (cpu_model_has_msr(rd->m->cpu, (uint32_t)v))
			return bad(rd, p, NULL, "MSR 0x%x is listed twice",
				   (uint32_t)v);
		g_array_append_vals(rd->m->cpu->msrs, &(uint32_t){ (uint32_t)v },
				    1);
	}
	return 0;
}

int manifest_parse(const char *what, const char *data, size_t len,
		   enum manifest_kind kind, struct manifest **ret,
		   GError **error)
{
	g_autoptr(JsonParser) parser = NULL;
	g_autoptr(GError) err = NULL;
	struct rd rd = { .what = what, .error = error };
	JsonObject *root;
	JsonArray *a;
	uint32_t format;
	JsonNode *n;
	size_t at;
	int depth, r;

	if (len > MANIFEST_MAX_BYTES)
		return error_setf(error, EFBIG,
				  "%s: %zu bytes, more than the %u %s may "
				  "have",
				  what, len, MANIFEST_MAX_BYTES,
				  kind == MANIFEST_GUEST ? "a manifest"
							 : "an inventory");
	depth = json_text_depth(data, len, &at);
	if (depth == -2)
		return error_setf(error, EINVAL,
				  "%s: a string holds \\u0000 at offset %zu",
				  what, at);
	if (depth < 0)
		return error_setf(error, EINVAL,
				  "%s: not JSON: unexpected byte 0x%02x at "
				  "offset %zu",
				  what, (unsigned char)data[at], at);
	if (depth > MAX_DEPTH)
		return error_setf(error, EINVAL,
				  "%s: nested deeper than %d levels", what,
				  MAX_DEPTH);
	parser = json_parser_new_immutable();
	if (!json_parser_load_from_data(parser, data, (gssize)len, &err))
		return error_setf(error, EINVAL, "%s: not JSON: %s", what,
				  err->message);
	n = json_parser_get_root(parser);
	if (!n || !JSON_NODE_HOLDS_OBJECT(n))
		return error_setf(error, EINVAL, "%s: not a JSON object", what);
	root = json_node_get_object(n);
	if (!member(root, kind_key[kind]))
		return error_setf(
			error, EINVAL, "%s: not %s (no \"%s\" member%s)",
			what,
			kind == MANIFEST_GUEST ? "a manifest" : "an inventory",
			kind_key[kind],
			member(root, kind_key[!kind])
				? kind == MANIFEST_GUEST
					  ? "; this is an inventory"
					  : "; this is a manifest"
				: "");
	rd.m = manifest_new(kind);
	if ((r = rd_u32(&rd, root, "", kind_key[kind], &format)) < 0)
		goto fail;
	if (format != MANIFEST_FORMAT) {
		r = error_setf(error, EPROTONOSUPPORT,
			       "%s: format version %u; this host reads "
			       "version %u",
			       what, format, MANIFEST_FORMAT);
		goto fail;
	}
	if ((r = rd_str(&rd, root, "", "abi", &rd.m->abi)) < 0)
		goto fail;
	if (kind == MANIFEST_GUEST) {
		if ((r = rd_str(&rd, root, "", "machine", &rd.m->machine)) <
			    0 ||
		    (r = rd_bool(&rd, root, "", "machine_alias",
				 &rd.m->machine_alias)) < 0)
			goto fail;
	} else if ((r = rd_machines(&rd, root)) < 0) {
		goto fail;
	}
	if ((r = rd_cpu(&rd, root)) < 0)
		goto fail;
	if ((r = rd_array(&rd, root, "",
			  kind == MANIFEST_GUEST ? "devices" : "types",
			  MANIFEST_MAX_DEVICES, &a)) < 0)
		goto fail;
	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		g_autofree char *p = g_strdup_printf(
			"%s[%u]", kind == MANIFEST_GUEST ? "devices" : "types",
			i);
		JsonObject *o = element(&rd, a, i, p, &r);
		struct manifest_device *d;

		if (!o)
			goto fail;
		d = manifest_add_device(rd.m);
		if ((r = rd_device(&rd, o, p, d)) < 0)
			goto fail;
		for (guint j = 0; j + 1 < rd.m->devices->len; j++) {
			const struct manifest_device *e =
				rd.m->devices->pdata[j];

			if (kind == MANIFEST_GUEST && !strcmp(e->id, d->id)) {
				r = bad(&rd, p, "id", "%s is listed twice",
					d->id);
				goto fail;
			}
			if (kind == MANIFEST_INVENTORY &&
			    !strcmp(e->type, d->type)) {
				r = bad(&rd, p, "type", "%s is listed twice",
					d->type);
				goto fail;
			}
		}
	}
	*ret = rd.m;
	return 0;
fail:
	manifest_free(rd.m);
	return r;
}

/* ---- writing --------------------------------------------------------- */

static void w_str(JsonBuilder *b, const char *key, const char *v)
{
	json_builder_set_member_name(b, key);
	json_builder_add_string_value(b, v);
}

static void w_int(JsonBuilder *b, const char *key, gint64 v)
{
	json_builder_set_member_name(b, key);
	json_builder_add_int_value(b, v);
}

static void w_bool(JsonBuilder *b, const char *key, gboolean v)
{
	json_builder_set_member_name(b, key);
	json_builder_add_boolean_value(b, v);
}

static void w_vms(JsonBuilder *b, const struct manifest *m,
		  const struct manifest_vms *v, enum vms_kind kind)
{
	json_builder_begin_object(b);
	w_str(b, "name", v->name);
	w_int(b, "version", v->version);
	if (v->parent)
		w_str(b, "parent", v->parent);
	if (kind != VMS_TOP && m->kind == MANIFEST_GUEST && v->since)
		w_int(b, "since", v->since);
	if (kind == VMS_SUBSECTION && m->kind == MANIFEST_GUEST) {
		w_bool(b, "optional", v->optional);
		w_bool(b, "send", v->send);
	} else {
		w_int(b, "min", v->min);
	}
	if (v->saved)
		w_int(b, "saved", v->saved);
	json_builder_set_member_name(b, "layouts");
	json_builder_begin_array(b);
	for (guint i = 0; i < v->layouts->len; i++) {
		const struct manifest_layout *l =
			&g_array_index(v->layouts, struct manifest_layout, i);

		json_builder_begin_object(b);
		w_int(b, "since", l->since);
		w_str(b, "fingerprint", l->fp);
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

static void w_device(JsonBuilder *b, const struct manifest *m,
		     const struct manifest_device *d)
{
	json_builder_begin_object(b);
	if (d->id)
		w_str(b, "id", d->id);
	w_str(b, "type", d->type);
	w_str(b, "module", d->module);
	w_str(b, "module_version", d->module_version);
	w_bool(b, "intree", d->intree);
	json_builder_set_member_name(b, "vmstate");
	if (d->vms)
		w_vms(b, m, d->vms, VMS_TOP);
	else
		json_builder_add_null_value(b);
	json_builder_set_member_name(b, "subsections");
	json_builder_begin_array(b);
	for (guint i = 0; i < d->subs->len; i++)
		w_vms(b, m, d->subs->pdata[i], VMS_SUBSECTION);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "structs");
	json_builder_begin_array(b);
	for (guint i = 0; i < d->structs->len; i++)
		w_vms(b, m, d->structs->pdata[i], VMS_STRUCT);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "properties");
	json_builder_begin_array(b);
	for (guint i = 0; i < d->props->len; i++) {
		const struct manifest_prop *p = d->props->pdata[i];

		json_builder_begin_object(b);
		w_str(b, "property", p->property);
		if (p->legacy)
			w_str(b, "legacy", p->legacy);
		if (m->kind == MANIFEST_GUEST) {
			w_str(b, "value", p->value);
			w_bool(b, "set", p->set);
			w_bool(b, "machine", p->machine);
		}
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	if (m->kind == MANIFEST_GUEST) {
		w_bool(b, "properties_complete", d->props_complete);
	} else {
		json_builder_set_member_name(b, "known_bad");
		json_builder_begin_array(b);
		for (guint i = 0; i < d->known_bad->len; i++) {
			const struct manifest_known_bad *kb =
				d->known_bad->pdata[i];

			json_builder_begin_object(b);
			w_str(b, "version", kb->version);
			w_str(b, "reason", kb->reason);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
	}
	json_builder_end_object(b);
}

static void w_machines(JsonBuilder *b, const struct manifest *m)
{
	w_str(b, "alias", m->registry.alias);
	w_int(b, "build_date", m->registry.build_date);
	json_builder_set_member_name(b, "machines");
	json_builder_begin_array(b);
	for (size_t i = 0; i < m->registry.n_types; i++) {
		const struct machine_type *t = &m->registry.types[i];

		json_builder_begin_object(b);
		w_str(b, "name", t->name);
		w_int(b, "released", t->released);
		/* Derived from the dates; readers recompute it. */
		w_str(b, "status",
		      machine_status_name(
			      machine_status(&m->registry, t, NULL, NULL)));
		json_builder_set_member_name(b, "properties");
		json_builder_begin_array(b);
		for (size_t j = 0; j < t->n_props; j++) {
			json_builder_begin_object(b);
			w_str(b, "device", t->props[j].device);
			w_str(b, "property", t->props[j].property);
			w_str(b, "value", t->props[j].value);
			json_builder_end_object(b);
		}
		json_builder_end_array(b);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

static void w_cpu(JsonBuilder *b, const struct manifest *m)
{
	const struct cpu_model *c = m->cpu;

	json_builder_set_member_name(b, "cpu");
	json_builder_begin_object(b);
	w_str(b, "model", c->name);
	w_int(b, "tsc_khz", c->tsc_khz);
	if (m->kind == MANIFEST_INVENTORY)
		w_bool(b, "tsc_scaling", c->tsc_scaling);
	json_builder_set_member_name(b, "leaves");
	json_builder_begin_array(b);
	for (guint i = 0; i < c->leaves->len; i++) {
		const struct cpu_leaf *l =
			&g_array_index(c->leaves, struct cpu_leaf, i);

		json_builder_begin_object(b);
		w_int(b, "function", l->function);
		w_int(b, "index", l->index);
		w_int(b, "flags", l->flags);
		w_int(b, "eax", l->eax);
		w_int(b, "ebx", l->ebx);
		w_int(b, "ecx", l->ecx);
		w_int(b, "edx", l->edx);
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
	w_int(b, kind_key[m->kind], MANIFEST_FORMAT);
	w_str(b, "abi", m->abi);
	if (m->kind == MANIFEST_GUEST) {
		w_str(b, "machine", m->machine);
		w_bool(b, "machine_alias", m->machine_alias);
	} else {
		w_machines(b, m);
	}
	json_builder_set_member_name(
		b, m->kind == MANIFEST_GUEST ? "devices" : "types");
	json_builder_begin_array(b);
	for (guint i = 0; i < m->devices->len; i++)
		w_device(b, m, m->devices->pdata[i]);
	json_builder_end_array(b);
	if (m->cpu)
		w_cpu(b, m);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_pretty(gen, TRUE);
	json_generator_set_root(gen, root);
	return json_generator_to_data(gen, NULL);
}
