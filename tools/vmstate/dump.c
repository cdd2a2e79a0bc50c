// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tools/vmstate/dump.c - modvmm-vmstate dump: the loaded modules' state
 * descriptions as JSON in the shape of QEMU's -dump-vmstate, with our own
 * keys (main.c says which), read through core/inspect.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include <modvmm/abi.h>

#include "base/json-text.h"
#include "compat/machine-types.h"
#include "compat/manifest.h"
#include "core/inspect.h"
#include "core/modules.h"
#include "vmstate-tool.h"

static struct modules_config opt_modules;
static char *opt_machine;

static const GOptionEntry options[] = {
	{ "machine", 0, 0, G_OPTION_ARG_STRING, &opt_machine,
	  "Machine type named in the dump (default microvm)", "TYPE" },
	{ NULL },
};

static void add_int(JsonBuilder *b, const char *key, gint64 v)
{
	json_builder_set_member_name(b, key);
	json_builder_add_int_value(b, v);
}

static void add_str(JsonBuilder *b, const char *key, const char *v)
{
	json_builder_set_member_name(b, key);
	json_builder_add_string_value(b, v);
}

static void add_bool(JsonBuilder *b, const char *key, gboolean v)
{
	json_builder_set_member_name(b, key);
	json_builder_add_boolean_value(b, v);
}

static int elem_size(const struct modvmm_vmstate_field *f)
{
	int w = inspect_kind_width(f->elem_kind);

	return w ? w : (int)f->stride;
}

/* What a description is written with: the builder, and `sent_on`. */
struct describe {
	JsonBuilder *b;
	/* Subsection name to GPtrArray of the machine types on which a new
	 * device sends it, for subsections at every depth. */
	GHashTable *sent_on;
};

/* QEMU's "size" is the size of one element; arrays add a count. */
static int field_size(const struct modvmm_vmstate_field *f)
{
	switch (f->kind) {
	case MODVMM_VMS_BUFFER:
	case MODVMM_VMS_UNUSED:
		return (int)f->count;
	case MODVMM_VMS_ARRAY:
	case MODVMM_VMS_VARRAY:
		return elem_size(f);
	case MODVMM_VMS_STRUCT:
		return (int)f->stride;
	case MODVMM_VMS_VALIDATE:
		return 0;
	}
	return inspect_kind_width(f->kind);
}

/* A field's object, left open for a struct field's "Description". */
static void field_begin(void *opaque, const struct modvmm_vmstate_field *f,
			int nested)
{
	JsonBuilder *b = ((struct describe *)opaque)->b;

	json_builder_begin_object(b);
	add_str(b, "field", f->name);
	add_int(b, "version_id", f->since);
	add_bool(b, "field_exists", FALSE);
	add_int(b, "size", field_size(f));
	/* Ours from here on. */
	add_int(b, "since", f->since);
	add_str(b, "kind", inspect_kind_name(f->kind));
	if (f->kind == MODVMM_VMS_ARRAY || f->kind == MODVMM_VMS_VARRAY) {
		add_str(b, "element_kind", inspect_kind_name(f->elem_kind));
		add_int(b, f->kind == MODVMM_VMS_ARRAY ? "count" : "bound",
			f->count);
	}
	if (f->kind == MODVMM_VMS_VARRAY)
		add_str(b, "length_field", f->length_field);
	/* A slot, or the field reusing one. */
	if (f->retired_in)
		add_str(b, "retired_in", f->retired_in);
	if (nested)
		json_builder_set_member_name(b, "Description");
}

static void field_end(void *opaque)
{
	json_builder_end_object(((struct describe *)opaque)->b);
}

/*
 * A description's object, its "Fields" left open. A subsection's flags
 * are ours to add, with the machine types on which a new device sends it.
 */
static void desc_begin(void *opaque, const struct inspect_desc *d)
{
	struct describe *w = opaque;
	JsonBuilder *b = w->b;
	GPtrArray *on =
		d->sub ? g_hash_table_lookup(w->sent_on, d->name) : NULL;

	json_builder_begin_object(b);
	add_str(b, "name", d->name);
	add_int(b, "version_id", d->version);
	add_int(b, "minimum_version_id", d->min_version);
	add_int(b, "minimum_save_version", d->min_save);
	if (d->sub) {
		add_bool(b, "optional", !!(d->flags & MODVMM_VMS_OPTIONAL));
		add_bool(b, "legacy_name",
			 !!(d->flags & MODVMM_VMS_LEGACY_NAME));
		json_builder_set_member_name(b, "sent_on");
		json_builder_begin_array(b);
		for (guint i = 0; on && i < on->len; i++)
			json_builder_add_string_value(b, on->pdata[i]);
		json_builder_end_array(b);
	}
	json_builder_set_member_name(b, "Fields");
	json_builder_begin_array(b);
}

static void fields_end(void *opaque)
{
	JsonBuilder *b = ((struct describe *)opaque)->b;

	json_builder_end_array(b);
	json_builder_set_member_name(b, "Subsections");
	json_builder_begin_array(b);
}

static void desc_end(void *opaque)
{
	JsonBuilder *b = ((struct describe *)opaque)->b;

	json_builder_end_array(b);
	json_builder_end_object(b);
}

/* A description with its nested structs' and its subsections. */
static void describe(JsonBuilder *b, const struct state_desc *v,
		     GHashTable *sent_on)
{
	struct describe w = { b, sent_on };
	const struct inspect_visitor vis = { desc_begin, field_begin, field_end,
					     fields_end, desc_end,    &w };

	inspect_walk_desc(v, &vis);
}

/*
 * A device without state, in the shape every entry of QEMU's has (QEMU's
 * scripts/vmstate-static-checker.py reads "version_id" of every device):
 * version 0 and no fields. Its "migratable" key says it has no state.
 */
static void dump_no_state(JsonBuilder *b, const char *name)
{
	add_int(b, "version_id", 0);
	add_int(b, "minimum_version_id", 0);
	json_builder_set_member_name(b, "Description");
	json_builder_begin_object(b);
	add_str(b, "name", name);
	add_int(b, "version_id", 0);
	add_int(b, "minimum_version_id", 0);
	json_builder_set_member_name(b, "Fields");
	json_builder_begin_array(b);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "Subsections");
	json_builder_begin_array(b);
	json_builder_end_array(b);
	json_builder_end_object(b);
}

/* A property value as --device takes it; NULL for an unset string. */
static char *prop_value(uint32_t type, uint64_t u, const char *s)
{
	if (type == MODVMM_PROP_STR)
		return g_strdup(s);
	if (type == MODVMM_PROP_BOOL)
		return g_strdup(u ? "on" : "off");
	return g_strdup_printf("%" G_GUINT64_FORMAT, (guint64)u);
}

static void add_value(JsonBuilder *b, const char *key, char *value)
{
	json_builder_set_member_name(b, key);
	if (value)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
	g_free(value);
}

/*
 * Ours: the module, its known-bad versions ("known_bad": a destination
 * refuses state saved by them) and the device type's properties with
 * their defaults, and, for a property a release added, the value that
 * behaves as the releases before it ("legacy").
 */
static void dump_modvmm(JsonBuilder *b, const struct inspect_type *t,
			JsonNode *inventory, JsonNode *source)
{
	json_builder_begin_object(b);
	add_str(b, "module", t->module);
	add_str(b, "module_version", t->module_version);
	add_bool(b, "intree", t->intree);
	/* A device without a description blocks migration. */
	add_bool(b, "migratable", t->state != NULL);
	json_builder_set_member_name(b, "known_bad");
	json_builder_begin_array(b);
	for (guint i = 0; i < t->known_bad->len; i++) {
		const char *kb = t->known_bad->pdata[i];
		const char *colon = strstr(kb, ": ");
		g_autofree char *version =
			colon ? g_strndup(kb, (gsize)(colon - kb))
			      : g_strdup(kb);

		json_builder_begin_object(b);
		add_str(b, "version", version);
		add_str(b, "reason", colon ? colon + 2 : "");
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "properties");
	json_builder_begin_array(b);
	for (uint32_t i = 0; i < t->n_props; i++) {
		const struct modvmm_property *p = &t->props[i];

		json_builder_begin_object(b);
		add_str(b, "name", p->name);
		add_str(b, "type", inspect_prop_type_name(p->type));
		add_value(b, "default",
			  prop_value(p->type, p->default_u64, p->default_str));
		if (p->flags & MODVMM_PROP_LEGACY)
			add_value(b, "legacy",
				  prop_value(p->type, p->legacy_u64,
					     p->legacy_str));
		if (p->description)
			add_str(b, "description", p->description);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	/* What diff and matrix hand to the compatibility rule. */
	if (inventory) {
		json_builder_set_member_name(b, "inventory");
		json_builder_add_value(b, json_node_copy(inventory));
	}
	if (source) {
		json_builder_set_member_name(b, "source");
		json_builder_add_value(b, json_node_copy(source));
	}
	json_builder_end_object(b);
}

struct source_props {
	struct manifest *m;
	struct manifest_device *d;
};

static void source_compat_prop(void *opaque, const struct compat_prop *p)
{
	struct source_props *sp = opaque;

	if (strcmp(p->device, sp->d->type))
		return;
	for (guint i = 0; i < sp->d->props->len; i++) {
		struct manifest_prop *mp = sp->d->props->pdata[i];

		if (!strcmp(mp->property, p->property)) {
			mp->value = manifest_str(sp->m, p->value);
			mp->set = mp->machine = 1;
		}
	}
}

/*
 * Device type dt as a guest's manifest lists it on a source: the versions
 * it can save, every subsection on the wire (whether a `needed` hook
 * sends one depends on the guest, so each may be sent), its properties
 * at their defaults or as machine type t's compat properties set them.
 */
static void source_device(struct manifest *m, const struct device_type *dt,
			  const struct machine_type *t)
{
	struct manifest_device *d = manifest_add_device(m);
	struct source_props sp = { m, d };
	struct inspect_type it;
	struct inspect_desc desc;

	inspect_type_get(dt, &it);
	d->id = d->type = manifest_str(m, it.name);
	d->module = manifest_str(m, it.module);
	d->module_version = manifest_str(m, it.module_version);
	d->intree = it.intree;
	d->props_complete = 1;
	for (uint32_t i = 0; i < it.n_props; i++) {
		const struct modvmm_property *p = &it.props[i];
		struct manifest_prop *mp = g_new0(struct manifest_prop, 1);
		g_autofree char *value =
			inspect_prop_text(p, p->default_u64, p->default_str);
		g_autofree char *legacy = inspect_prop_legacy_text(p);

		mp->property = manifest_str(m, p->name);
		mp->value = manifest_str(m, value);
		mp->legacy = manifest_str(m, legacy);
		g_ptr_array_add(d->props, mp);
	}
	if (t)
		machine_compat_props(machine_registry(), t, source_compat_prop,
				     &sp);
	if (!it.state)
		return;
	inspect_describe_state(m, d, dt);
	inspect_desc_get(it.state, &desc);
	d->vms->min = desc.min_save;
	for (guint i = 0; i < d->subs->len; i++) {
		struct manifest_vms *s = d->subs->pdata[i];

		s->min = s->version;
		s->send = 1;
	}
	for (guint i = 0; i < d->structs->len; i++) {
		struct manifest_vms *s = d->structs->pdata[i];

		s->min = s->version;
	}
}

/* A manifest as JSON, which it frees. */
static JsonNode *manifest_node(struct manifest *m)
{
	g_autofree char *text = manifest_to_json(m);

	manifest_free(m);
	return json_from_string(text, NULL);
}

/* The entry of device type `type` in a manifest's list `key`. */
static JsonNode *manifest_entry(JsonNode *doc, const char *key,
				const char *type)
{
	JsonArray *a =
		json_object_get_array_member(json_node_get_object(doc), key);

	for (guint i = 0; i < json_array_get_length(a); i++) {
		JsonObject *o = json_array_get_object_element(a, i);

		if (!g_strcmp0(json_object_get_string_member(o, "type"), type))
			return json_array_get_element(a, i);
	}
	return NULL;
}

/* An inventory without its device types: the host's machine types. */
static JsonNode *inventory_head(JsonNode *doc)
{
	JsonObject *o = json_node_get_object(doc), *head = json_object_new();
	g_autoptr(GList) members = json_object_get_members(o);
	JsonNode *n = json_node_new(JSON_NODE_OBJECT);

	for (GList *m = members; m; m = m->next)
		if (strcmp(m->data, "types"))
			json_object_set_member(
				head, m->data,
				json_node_copy(
					json_object_get_member(o, m->data)));
	json_node_take_object(n, head);
	return n;
}

/* Device types in name order. */
static gint type_cmp(gconstpointer a, gconstpointer b)
{
	struct inspect_type x, y;

	inspect_type_get(*(const struct device_type *const *)a, &x);
	inspect_type_get(*(const struct device_type *const *)b, &y);
	return strcmp(x.name, y.name);
}

static void add_type(void *opaque, const struct device_type *dt)
{
	g_ptr_array_add(opaque, (void *)dt);
}

/* The host's machine types, and the rule's view of it, for diff. */
static void dump_machine(JsonBuilder *b, const char *machine, JsonNode *inv)
{
	const struct machine_registry *r = machine_registry();

	json_builder_set_member_name(b, "vmschkmachine");
	json_builder_begin_object(b);
	add_str(b, "Name", machine);
	json_builder_set_member_name(b, "inventory");
	json_builder_add_value(b, inventory_head(inv));
	json_builder_set_member_name(b, "machine_types");
	json_builder_begin_array(b);
	for (size_t i = 0; i < r->n_types; i++) {
		json_builder_begin_object(b);
		add_str(b, "name", r->types[i].name);
		add_str(b, "status",
			machine_status_name(
				machine_status(r, &r->types[i], NULL, NULL)));
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
}

/* One device type's entry: QEMU's keys, then ours under "modvmm". */
static void dump_type(JsonBuilder *b, struct vm_devices *devs,
		      const struct device_type *dt, JsonNode *inv,
		      JsonNode *src)
{
	struct inspect_type t;
	struct inspect_desc d;

	inspect_type_get(dt, &t);
	json_builder_set_member_name(b, t.name);
	json_builder_begin_object(b);
	add_str(b, "Name", t.name);
	if (t.state) {
		GHashTable *on = inspect_subsections_sent_on(devs, dt);

		inspect_desc_get(t.state, &d);
		add_int(b, "version_id", d.version);
		add_int(b, "minimum_version_id", d.min_version);
		json_builder_set_member_name(b, "Description");
		describe(b, t.state, on);
		g_hash_table_unref(on);
	} else {
		dump_no_state(b, t.name);
	}
	json_builder_set_member_name(b, "modvmm");
	dump_modvmm(b, &t, manifest_entry(inv, "types", t.name),
		    manifest_entry(src, "devices", t.name));
	json_builder_end_object(b);
}

/*
 * The whole dump of `devs`: the rule's own view of each type, as an
 * inventory and a source list it (compat/manifest.h), goes in with the
 * descriptions, for diff and matrix.
 */
static JsonNode *dump_json(struct vm_devices *devs, const char *machine)
{
	g_autoptr(GPtrArray) types = g_ptr_array_new();
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) inv = NULL, src_node = NULL;
	struct manifest *src;

	inspect_foreach_type(devs, add_type, types);
	g_ptr_array_sort(types, type_cmp);
	inv = manifest_node(inspect_inventory(devs));
	src = manifest_new(MANIFEST_GUEST);
	src->abi = manifest_str(src, MODVMM_ABI_STRING);
	src->machine = manifest_str(src, machine);
	for (guint i = 0; i < types->len; i++)
		source_device(src, types->pdata[i],
			      machine_lookup(machine_registry(), machine));
	src_node = manifest_node(src);

	json_builder_begin_object(b);
	dump_machine(b, machine, inv);
	for (guint i = 0; i < types->len; i++)
		dump_type(b, devs, types->pdata[i], inv, src_node);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

int cmd_dump(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx =
		g_option_context_new("dump - state descriptions as JSON");
	g_autoptr(GPtrArray) errors =
		g_ptr_array_new_with_free_func((GDestroyNotify)g_error_free);
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(GError) err = NULL;
	g_autofree char *text = NULL;
	struct vm_devices *devs;
	int status = 0;

	g_option_context_add_main_entries(ctx, modules_options(&opt_modules),
					  NULL);
	g_option_context_add_main_entries(ctx, options, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "modvmm-vmstate: %s\n", err->message);
		return 2;
	}
	opt_modules.policy = MODULES_EACH;
	if (modules_open(&opt_modules, &devs, errors, &err) < 0) {
		fprintf(stderr, "modvmm-vmstate: %s\n", err->message);
		return 1;
	}
	for (guint i = 0; i < errors->len; i++) {
		fprintf(stderr, "modvmm-vmstate: %s\n",
			((GError *)errors->pdata[i])->message);
		status = 1;
	}
	root = dump_json(devs, opt_machine ? opt_machine : "microvm");
	json_generator_set_pretty(gen, TRUE);
	json_generator_set_root(gen, root);
	text = json_generator_to_data(gen, NULL);
	printf("%s\n", text);
	modules_close(devs);
	return status;
}
