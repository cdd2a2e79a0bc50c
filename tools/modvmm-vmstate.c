// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * modvmm-vmstate - the state descriptions of loaded modules.
 *
 *   modvmm-vmstate dump [--module-dir DIR...] [--machine M]
 *   modvmm-vmstate diff [--stable] OLD.json NEW.json
 *   modvmm-vmstate matrix A.json B.json ...
 *
 * dump writes JSON in the shape of QEMU's -dump-vmstate output: a
 * "vmschkmachine" entry, then one entry per device type with "Name",
 * "version_id", "minimum_version_id" and a "Description" holding "Fields"
 * (each "field", "version_id", "field_exists", "size") and "Subsections".
 * What QEMU has no words for is added under keys of our own: "since",
 * "kind", "optional", "legacy_name", "retired_in", "minimum_save_version",
 * and a "modvmm" object per device naming its module, its known-bad
 * versions, the type's properties, and the type as the compatibility rule
 * sees it ("inventory": what this host loads; "source": what a device of
 * it saves, every subsection sent), with the host's machine types in
 * "vmschkmachine". A device without state has the keys of every other
 * (version 0, no fields): QEMU's checker reads them.
 *
 * diff and matrix do not judge: they make a guest's manifest from one
 * dump and an inventory from the other and ask compat_negotiate(), as
 * modvmm compat check does. A device is refused with the verdict's
 * reasons; the field-by-field comparison below only explains a layout
 * the rule found different. Dumps without the rule's entries (QEMU's,
 * hand-written) are turned into them from their descriptions: each field
 * as vmstate_layout_fields() writes it. QEMU's dumps name their slots
 * "unused" and give no "kind"; any of their fields may fill a slot's bytes.
 * One of our fields reuses a slot only where it names the slot's machine
 * type and its own dump lists that type as removed (this build's types
 * for dumps without the list), as a host loads it only then.
 *
 * diff --stable treats OLD and NEW as two releases of one stable series:
 * any change to what goes on the wire is a finding (a subsection turned
 * optional or mandatory too), except a subsection added that is
 * optional or that a bugfix machine type gates (NEW sends it on
 * some machine type, and on none that OLD has: its "sent_on" key, which
 * dump fills in from a freshly created device of each machine type).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "core/device.h"
#include "core/host.h"
#include "core/modules.h"
#include "core/inventory.h"
#include "core/machine.h"
#include "core/vm-devices.h"
#include "base/json-text.h"
#include "compat/negotiate.h"

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

static int elem_size(const struct state_field *vf)
{
	int w = vmstate_kind_width(vf->f.elem_kind);

	return w ? w : (int)vf->f.stride;
}

static void describe(JsonBuilder *b, const struct state_desc *v,
		     const struct state_sub *sub, GHashTable *sent_on);

/* QEMU's "size" is the size of one element; arrays add a count. */
static void field(JsonBuilder *b, const struct state_field *vf,
		  GHashTable *sent_on)
{
	const struct modvmm_vmstate_field *f = &vf->f;
	int size;

	json_builder_begin_object(b);
	add_str(b, "field", f->name);
	add_int(b, "version_id", f->since);
	add_bool(b, "field_exists", FALSE);
	switch (f->kind) {
	case MODVMM_VMS_BUFFER:
	case MODVMM_VMS_UNUSED:
		size = (int)f->count;
		break;
	case MODVMM_VMS_ARRAY:
	case MODVMM_VMS_VARRAY:
		size = elem_size(vf);
		break;
	case MODVMM_VMS_STRUCT:
		size = (int)f->stride;
		break;
	case MODVMM_VMS_VALIDATE:
		size = 0;
		break;
	default:
		size = vmstate_kind_width(f->kind);
	}
	add_int(b, "size", size);
	/* Ours from here on. */
	add_int(b, "since", f->since);
	add_str(b, "kind", vmstate_kind_name(f->kind));
	if (f->kind == MODVMM_VMS_ARRAY || f->kind == MODVMM_VMS_VARRAY) {
		add_str(b, "element_kind", vmstate_kind_name(f->elem_kind));
		add_int(b, f->kind == MODVMM_VMS_ARRAY ? "count" : "bound",
			f->count);
	}
	if (f->kind == MODVMM_VMS_VARRAY)
		add_str(b, "length_field", f->length_field);
	/* A slot, or the field reusing one. */
	if (f->retired_in)
		add_str(b, "retired_in", f->retired_in);
	if (vf->nested) {
		json_builder_set_member_name(b, "Description");
		describe(b, vf->nested, NULL, sent_on);
	}
	json_builder_end_object(b);
}

/*
 * `sub` is set when v is a subsection: its flags are ours to add, with the
 * machine types on which a new device sends it (`sent_on`: name to
 * GPtrArray of machine type names, for subsections at every depth, those
 * of nested structs' descriptions included).
 */
static void describe(JsonBuilder *b, const struct state_desc *v,
		     const struct state_sub *sub, GHashTable *sent_on)
{
	GPtrArray *on = sub ? g_hash_table_lookup(sent_on, v->name) : NULL;

	json_builder_begin_object(b);
	add_str(b, "name", v->name);
	add_int(b, "version_id", v->d.version);
	add_int(b, "minimum_version_id", v->d.min_version);
	add_int(b, "minimum_save_version", vmstate_min_save(v));
	if (sub) {
		add_bool(b, "optional", !!(sub->flags & MODVMM_VMS_OPTIONAL));
		add_bool(b, "legacy_name",
			 !!(sub->flags & MODVMM_VMS_LEGACY_NAME));
		json_builder_set_member_name(b, "sent_on");
		json_builder_begin_array(b);
		for (guint i = 0; on && i < on->len; i++)
			json_builder_add_string_value(b, on->pdata[i]);
		json_builder_end_array(b);
	}
	json_builder_set_member_name(b, "Fields");
	json_builder_begin_array(b);
	for (uint32_t i = 0; i < v->d.n_fields; i++)
		field(b, &v->fields[i], sent_on);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "Subsections");
	json_builder_begin_array(b);
	for (uint32_t i = 0; i < v->d.n_subsections; i++)
		describe(b, v->subs[i].vms, &v->subs[i], sent_on);
	json_builder_end_array(b);
	json_builder_end_object(b);
}

/* Adds `machine` to the list of each subsection a save would send. */
static void mark_sent(GHashTable *on, const struct state_desc *v, const void *state,
		      const char *machine)
{
	g_autoptr(GHashTable) sent = g_hash_table_new(g_str_hash, g_str_equal);
	GHashTableIter it;
	gpointer name;

	vmstate_subsections_sent(v, state, v->d.version, sent);
	g_hash_table_iter_init(&it, sent);
	while (g_hash_table_iter_next(&it, &name, NULL)) {
		GPtrArray *names = g_hash_table_lookup(on, name);

		if (!names) {
			names = g_ptr_array_new_with_free_func(g_free);
			g_hash_table_insert(on, g_strdup(name), names);
		}
		g_ptr_array_add(names, g_strdup(machine));
	}
}

static void drop_log(void *opaque, const char *id, uint32_t level,
		     const char *msg)
{
	(void)opaque;
	(void)id;
	(void)level;
	(void)msg;
}

/*
 * The machine types on which a newly created device of type `dt` sends
 * each of its subsections: what a bugfix type gates shows here.
 */
static GHashTable *subsections_sent_on(struct vm_devices *devs,
				       const struct device_type *dt)
{
	const struct machine_registry *r = machine_registry();
	GHashTable *on =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
				      (GDestroyNotify)g_ptr_array_unref);

	struct vm_devices_sinks sinks = devs->sinks;

	/* A device that cannot be made from its defaults alone (a disk
	 * needs its file) is not an error here: it shows no subsections. */
	devs->sinks.log = drop_log;
	for (size_t i = 0; dt->vms && i < r->n_types; i++) {
		const struct machine_type *t = &r->types[i];
		g_autofree char *spec = machine_device_spec(r, t, dt->t.name);
		struct modvmm_device *dev;

		if (machine_status(r, t, NULL, NULL) == MACHINE_REMOVED ||
		    device_create(devs, spec, &dev, NULL) < 0)
			continue;
		g_mutex_lock(&devs->lock);
		mark_sent(on, dt->vms, dev->state, t->name);
		g_mutex_unlock(&devs->lock);
		device_destroy(dev);
	}
	devs->sinks = sinks;
	return on;
}

/*
 * A device without state, in the shape every entry of QEMU's has (QEMU's
 * scripts/vmstate-static-checker.py reads "version_id" of every device):
 * version 0 and no fields. Its "migratable" key says it has no state.
 */
static void no_state(JsonBuilder *b, const char *name)
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
static void dump_modvmm(JsonBuilder *b, const struct device_type *dt,
			JsonNode *inventory, JsonNode *source)
{
	const struct modinfo *info = dt->module->info;

	json_builder_begin_object(b);
	add_str(b, "module", info->name);
	add_str(b, "module_version", info->version);
	add_bool(b, "intree", info->intree);
	/* A device without a description blocks migration. */
	add_bool(b, "migratable", dt->vms != NULL);
	json_builder_set_member_name(b, "known_bad");
	json_builder_begin_array(b);
	for (guint i = 0; i < info->known_bad->len; i++) {
		const char *kb = info->known_bad->pdata[i];
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
	for (uint32_t i = 0; i < dt->t.n_properties; i++) {
		const struct modvmm_property *p = &dt->props[i];

		json_builder_begin_object(b);
		add_str(b, "name", p->name);
		add_str(b, "type", device_prop_type_name(p->type));
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
	const struct modinfo *info = dt->module->info;
	struct manifest_device *d = manifest_add_device(m);
	struct source_props sp = { m, d };

	d->id = d->type = manifest_str(m, dt->t.name);
	d->module = manifest_str(m, info->name);
	d->module_version = manifest_str(m, info->version);
	d->intree = info->intree;
	d->props_complete = 1;
	for (uint32_t i = 0; i < dt->t.n_properties; i++) {
		const struct modvmm_property *p = &dt->props[i];
		struct manifest_prop *mp = g_new0(struct manifest_prop, 1);
		g_autofree char *value = device_prop_value_text(
			p, p->default_u64, p->default_str);
		g_autofree char *legacy = device_prop_legacy_text(p);

		mp->property = manifest_str(m, p->name);
		mp->value = manifest_str(m, value);
		mp->legacy = manifest_str(m, legacy);
		g_ptr_array_add(d->props, mp);
	}
	if (t)
		machine_compat_props(machine_registry(), t, source_compat_prop,
				     &sp);
	if (!dt->vms)
		return;
	inventory_describe_state(m, d, dt->vms, NULL, 0);
	d->vms->min = vmstate_min_save(dt->vms);
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

static gint type_cmp(gconstpointer a, gconstpointer b)
{
	const struct device_type *x = *(struct device_type *const *)a;
	const struct device_type *y = *(struct device_type *const *)b;

	return strcmp(x->t.name, y->t.name);
}

static int cmd_dump(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx =
		g_option_context_new("dump - state descriptions as JSON");
	g_autoptr(GPtrArray) errors =
		g_ptr_array_new_with_free_func((GDestroyNotify)g_error_free);
	g_autoptr(GPtrArray) types = g_ptr_array_new();
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(GError) err = NULL;
	g_autofree char *text = NULL;
	g_autoptr(JsonNode) inv = NULL, src_node = NULL;
	const char *machine;
	struct manifest *src;
	struct vm_devices *devs;
	int status = 0;

	g_option_context_add_main_entries(ctx, modules_options(&opt_modules),
					  NULL);
	g_option_context_add_main_entries(ctx, options, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "modvmm-vmstate: %s\n", err->message);
		return 2;
	}
	machine = opt_machine ? opt_machine : "microvm";
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
	for (guint i = 0; i < loader_modules(devs->loader)->len; i++) {
		const struct module *m = loader_modules(devs->loader)->pdata[i];

		for (guint j = 0; j < m->types->len; j++)
			g_ptr_array_add(types, m->types->pdata[j]);
	}
	g_ptr_array_sort(types, type_cmp);
	/* The rule's own view of each type, as an inventory and a source
	 * list it (compat/manifest.h), for diff and matrix. */
	inv = manifest_node(
		inventory_host(devs->loader, machine_registry(), NULL));
	src = manifest_new(MANIFEST_GUEST);
	src->abi = manifest_str(src, MODVMM_ABI_STRING);
	src->machine = manifest_str(src, machine);
	for (guint i = 0; i < types->len; i++)
		source_device(src, types->pdata[i],
			      machine_lookup(machine_registry(), machine));
	src_node = manifest_node(src);

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "vmschkmachine");
	json_builder_begin_object(b);
	add_str(b, "Name", machine);
	json_builder_set_member_name(b, "inventory");
	json_builder_add_value(b, inventory_head(inv));
	json_builder_set_member_name(b, "machine_types");
	json_builder_begin_array(b);
	for (size_t i = 0; i < machine_registry()->n_types; i++) {
		const struct machine_registry *r = machine_registry();

		json_builder_begin_object(b);
		add_str(b, "name", r->types[i].name);
		add_str(b, "status",
			machine_status_name(
				machine_status(r, &r->types[i], NULL, NULL)));
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	for (guint i = 0; i < types->len; i++) {
		const struct device_type *dt = types->pdata[i];

		json_builder_set_member_name(b, dt->t.name);
		json_builder_begin_object(b);
		add_str(b, "Name", dt->t.name);
		if (dt->vms) {
			GHashTable *on = subsections_sent_on(devs, dt);

			add_int(b, "version_id", dt->vms->d.version);
			add_int(b, "minimum_version_id",
				dt->vms->d.min_version);
			json_builder_set_member_name(b, "Description");
			describe(b, dt->vms, NULL, on);
			g_hash_table_unref(on);
		} else {
			no_state(b, dt->t.name);
		}
		json_builder_set_member_name(b, "modvmm");
		dump_modvmm(b, dt, manifest_entry(inv, "types", dt->t.name),
			    manifest_entry(src_node, "devices", dt->t.name));
		json_builder_end_object(b);
	}
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_pretty(gen, TRUE);
	json_generator_set_root(gen, root);
	text = json_generator_to_data(gen, NULL);
	printf("%s\n", text);
	modules_close(devs);
	return status;
}

/* ---- diff and matrix -------------------------------------------------- */

/*
 * Deepest nesting a dump may have: ours nest three levels per struct and
 * two per subsection below a device (VMS_MAX_DEPTH of each at most), and
 * QEMU's are shallower still. json-glib's parser recurses, so a deeper
 * file is refused before it is parsed.
 */
#define DUMP_MAX_DEPTH 64

static JsonObject *load_dump(const char *path, JsonParser **ret_parser)
{
	g_autoptr(GError) err = NULL;
	g_autofree char *text = NULL;
	JsonParser *p;
	JsonNode *root;
	size_t at = 0;
	gsize len;
	int depth;

	if (!g_file_get_contents(path, &text, &len, &err)) {
		fprintf(stderr, "modvmm-vmstate: %s\n", err->message);
		return NULL;
	}
	depth = json_text_depth(text, len, &at);
	if (depth == -2) {
		fprintf(stderr,
			"modvmm-vmstate: %s: a string holds \\u0000 at offset "
			"%zu\n",
			path, at);
		return NULL;
	}
	if (depth < 0) {
		fprintf(stderr,
			"modvmm-vmstate: %s: not JSON: unexpected byte 0x%02x "
			"at offset %zu\n",
			path, (unsigned char)text[at], at);
		return NULL;
	}
	if (depth > DUMP_MAX_DEPTH) {
		fprintf(stderr,
			"modvmm-vmstate: %s: nested %d levels deep, more than "
			"the %d a state dump may have\n",
			path, depth, DUMP_MAX_DEPTH);
		return NULL;
	}
	p = json_parser_new();
	if (!json_parser_load_from_data(p, text, (gssize)len, &err)) {
		fprintf(stderr, "modvmm-vmstate: %s: %s\n", path, err->message);
		g_object_unref(p);
		return NULL;
	}
	root = json_parser_get_root(p);
	if (!root || !JSON_NODE_HOLDS_OBJECT(root) ||
	    !json_object_has_member(json_node_get_object(root),
				    "vmschkmachine")) {
		fprintf(stderr,
			"modvmm-vmstate: %s: not a state dump (no "
			"\"vmschkmachine\"; make one with modvmm-vmstate "
			"dump)\n",
			path);
		g_object_unref(p);
		return NULL;
	}
	*ret_parser = p;
	return json_node_get_object(root);
}

static gint64 int_of(JsonObject *o, const char *key, gint64 dflt)
{
	JsonNode *n = json_object_get_member(o, key);

	return n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_int(n) : dflt;
}

static const char *str_of(JsonObject *o, const char *key)
{
	JsonNode *n = json_object_get_member(o, key);

	return n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_string(n) : NULL;
}

static JsonArray *arr_of(JsonObject *o, const char *key)
{
	JsonNode *n = json_object_get_member(o, key);

	return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
}

/* A field's wire shape, for comparing two descriptions at one version. */
static char *shape(JsonObject *f)
{
	JsonNode *d = json_object_get_member(f, "Description");
	const char *nested = d && JSON_NODE_HOLDS_OBJECT(d)
				     ? str_of(json_node_get_object(d), "name")
				     : NULL;

	/* A struct's size is its stride in memory; the wire carries only
	 * its description's fields, compared on their own. */
	if (nested)
		return g_strdup_printf(
			"%s count %" G_GINT64_FORMAT " of %s",
			str_of(f, "kind") ? str_of(f, "kind") : "?",
			int_of(f, "count", int_of(f, "bound", 1)), nested);
	return g_strdup_printf("%s size %" G_GINT64_FORMAT
			       " count %" G_GINT64_FORMAT,
			       str_of(f, "kind") ? str_of(f, "kind") : "?",
			       int_of(f, "size", -1),
			       int_of(f, "count", int_of(f, "bound", 1)));
}

struct diff {
	const char *dir; /* "forward", "backward" or "stable" */
	int findings;
	JsonObject *src, *dst; /* the two dumps */
	GString *out;	       /* findings go here when set, else to stdout */
	const char *indent;    /* before each finding: explanations' */
};

/* A dump's "machine_types", or NULL for a dump without them. */
static JsonArray *machine_types(JsonObject *dump)
{
	JsonNode *n = json_object_get_member(dump, "vmschkmachine");

	return n && JSON_NODE_HOLDS_OBJECT(n)
		       ? arr_of(json_node_get_object(n), "machine_types")
		       : NULL;
}

/* The status a dump gives a machine type, or NULL. */
static const char *dump_status(JsonObject *dump, const char *name)
{
	JsonArray *a = machine_types(dump);

	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		JsonObject *t = json_array_get_object_element(a, i);

		if (t && !g_strcmp0(str_of(t, "name"), name))
			return str_of(t, "status");
	}
	return NULL;
}

/*
 * Whether a retired slot's machine type is removed: the release that has
 * reused the slot lists it as removed; dumps that list no machine types
 * are judged by this build's registry.
 */
static int type_removed(const struct diff *d, const char *name)
{
	const struct machine_registry *r = machine_registry();
	const struct machine_type *t;

	if (!name)
		return 0;
	if (machine_types(d->src) || machine_types(d->dst))
		return !g_strcmp0(dump_status(d->src, name), "removed") ||
		       !g_strcmp0(dump_status(d->dst, name), "removed");
	t = machine_lookup(r, name);
	return t && machine_status(r, t, NULL, NULL) == MACHINE_REMOVED;
}

static void finding(struct diff *d, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void finding(struct diff *d, const char *fmt, ...)
{
	g_autofree char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (d->out)
		g_string_append_printf(d->out, "%s: %s%s\n", d->dir,
				       d->indent ? d->indent : "", text);
	else
		printf("%s: %s%s\n", d->dir, d->indent ? d->indent : "", text);
	d->findings++;
}

static void explain_desc(struct diff *d, const char *where, JsonObject *src,
			 JsonObject *dst);

/* Bytes a field of a dump takes on the wire (fixed-size kinds). */
static gint64 wire_bytes(JsonObject *f)
{
	return int_of(f, "size", -1) * int_of(f, "count", 1);
}

/* Fields present at `version`, in order, in one description. */
static GPtrArray *fields_at(JsonObject *desc, gint64 version)
{
	JsonArray *a = arr_of(desc, "Fields");
	GPtrArray *out = g_ptr_array_new();

	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		JsonObject *f = json_array_get_object_element(a, i);

		if (f && int_of(f, "version_id", 1) <= version &&
		    g_strcmp0(str_of(f, "kind"), "validate"))
			g_ptr_array_add(out, f);
	}
	return out;
}

/*
 * A retired slot. Ours say "kind": "unused"; QEMU's -dump-vmstate names
 * the slots of VMSTATE_UNUSED "unused" and gives no kind.
 */
static int is_slot(JsonObject *f)
{
	const char *kind = str_of(f, "kind");

	return kind ? !strcmp(kind, "unused")
		    : !g_strcmp0(str_of(f, "field"), "unused");
}

/* One side of a run of fields that lines up, byte for byte, with the
 * other side's. */
struct run {
	GPtrArray *fields;
	guint at;	  /* next field */
	gint64 bytes;	  /* taken so far */
	int all_slots;	  /* every field taken is a slot */
	JsonObject *slot; /* the first slot taken */
	GString *names;	  /* the fields taken that are not slots */
};

static void run_take(struct run *r)
{
	JsonObject *f = r->fields->pdata[r->at++];

	r->bytes += wire_bytes(f);
	if (is_slot(f)) {
		if (!r->slot)
			r->slot = f;
		return;
	}
	r->all_slots = 0;
	g_string_append_printf(r->names, "%s%s", r->names->len ? ", " : "",
			       str_of(f, "field"));
}

/* Whether r may take its next field: another slot always; a field only
 * into bytes the other side has as slots. */
static int run_can_take(const struct run *r, const struct run *other)
{
	return r->at < r->fields->len &&
	       (is_slot(r->fields->pdata[r->at]) || other->all_slots);
}

/*
 * A slot at *i of a or *j of b, where the other side differs: the fields
 * that reuse or split it (QEMU's dumps show a split as a field and a
 * smaller "unused") must fill its bytes exactly. Both sides are taken
 * until their bytes meet; one side is all slots throughout. A reuse of
 * one of our slots waits for its machine type's removal; QEMU's say
 * nothing of when they were retired, so their bytes are all there is to
 * check. Advances *i and *j past the run.
 */
static void check_slot(struct diff *d, const char *where, GPtrArray *a,
		       GPtrArray *b, guint *i, guint *j, gint64 v)
{
	struct run ra = { a, *i, 0, 1, NULL, g_string_new(NULL) };
	struct run rb = { b, *j, 0, 1, NULL, g_string_new(NULL) };
	struct run *slots, *fill;
	const char *retired;

	run_take(&ra);
	run_take(&rb);
	while (ra.bytes != rb.bytes) {
		struct run *r = ra.bytes < rb.bytes ? &ra : &rb;

		if (!run_can_take(r, r == &ra ? &rb : &ra))
			break;
		run_take(r);
	}
	/* The side of slots, and the side that fills them. */
	slots = ra.all_slots ? &ra : &rb;
	fill = slots == &ra ? &rb : &ra;
	retired = str_of(slots->slot, "retired_in");
	if (fill->names->len && retired && !type_removed(d, retired))
		finding(d,
			"%s: unused slot %s retired in %s is reused as %s at "
			"version %" G_GINT64_FORMAT
			": allowed only once machine type %s is removed",
			where, str_of(slots->slot, "field"), retired,
			fill->names->str, v, retired);
	else if (ra.bytes != rb.bytes)
		finding(d,
			"%s: unused slot %s%s%s is reused as %s of "
			"%" G_GINT64_FORMAT " bytes, but the slot has "
			"%" G_GINT64_FORMAT
			": a reuse must keep the slot's size",
			where, str_of(slots->slot, "field"),
			retired ? " retired in " : "", retired ? retired : "",
			fill->names->len ? fill->names->str : "unused",
			fill->bytes, slots->bytes);
	*i = ra.at;
	*j = rb.at;
	g_string_free(ra.names, TRUE);
	g_string_free(rb.names, TRUE);
}

static void check_fields(struct diff *d, const char *where, JsonObject *src,
			 JsonObject *dst, gint64 v)
{
	g_autoptr(GPtrArray) a = fields_at(src, v), b = fields_at(dst, v);
	guint i = 0, j = 0;

	while (i < a->len || j < b->len) {
		JsonObject *fa = i < a->len ? a->pdata[i] : NULL;
		JsonObject *fb = j < b->len ? b->pdata[j] : NULL;
		g_autofree char *sa = fa ? shape(fa) : NULL;
		g_autofree char *sb = fb ? shape(fb) : NULL;
		const char *na = fa ? str_of(fa, "field") : NULL;
		const char *nb = fb ? str_of(fb, "field") : NULL;
		int same_name = fa && fb && !g_strcmp0(na, nb);

		if (fa && fb && (is_slot(fa) || is_slot(fb)) &&
		    !(same_name && !g_strcmp0(sa, sb)) &&
		    !(same_name && is_slot(fa) != is_slot(fb))) {
			check_slot(d, where, a, b, &i, &j, v);
			continue;
		}
		i += !!fa;
		j += !!fb;
		if (!fb) {
			finding(d,
				"%s: field %s is sent at version "
				"%" G_GINT64_FORMAT
				" but the destination does not have it "
				"(removed without a version bump)",
				where, na, v);
		} else if (!fa) {
			finding(d,
				"%s: field %s is expected at version "
				"%" G_GINT64_FORMAT
				" but the source does not send it (added "
				"without a version bump)",
				where, nb, v);
		} else if (g_strcmp0(na, nb)) {
			finding(d,
				"%s: field %u at version %" G_GINT64_FORMAT
				" is %s in the source, %s in the destination "
				"(reordered or renamed without a version "
				"bump)",
				where, i - 1, v, na, nb);
		} else if (g_strcmp0(sa, sb)) {
			const char *retired =
				str_of(fa, "retired_in")
					? str_of(fa, "retired_in")
					: str_of(fb, "retired_in");

			/* An unused slot turned into a field is a reuse. */
			if ((!g_strcmp0(str_of(fa, "kind"), "unused") ||
			     !g_strcmp0(str_of(fb, "kind"), "unused")) &&
			    type_removed(d, retired)) {
				if (wire_bytes(fa) != wire_bytes(fb))
					finding(d,
						"%s: unused slot %s retired in "
						"%s is %" G_GINT64_FORMAT
						" bytes in the source, "
						"%" G_GINT64_FORMAT
						" in the destination: a reuse "
						"must keep the slot's size",
						where, na, retired,
						wire_bytes(fa), wire_bytes(fb));
				continue;
			}
			if (!g_strcmp0(str_of(fa, "kind"), "unused") ||
			    !g_strcmp0(str_of(fb, "kind"), "unused"))
				finding(d,
					"%s: unused slot %s changed (%s, now "
					"%s): a slot retired in %s may be "
					"reused or resized only once that "
					"machine type is removed",
					where, na, sa, sb, retired);
			else
				finding(d,
					"%s: field %s is %s in the source, %s "
					"in the destination (resized or "
					"retyped without a version bump)",
					where, na, sa, sb);
		} else {
			JsonNode *nda =
				json_object_get_member(fa, "Description");
			JsonNode *ndb =
				json_object_get_member(fb, "Description");

			if (nda && ndb && JSON_NODE_HOLDS_OBJECT(nda) &&
			    JSON_NODE_HOLDS_OBJECT(ndb)) {
				g_autofree char *inner =
					g_strdup_printf("%s.%s", where, na);

				explain_desc(d, inner,
					     json_node_get_object(nda),
					     json_node_get_object(ndb));
			}
		}
	}
}

static JsonObject *find_sub(JsonObject *desc, const char *name)
{
	JsonArray *a = arr_of(desc, "Subsections");

	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		JsonObject *s = json_array_get_object_element(a, i);

		if (s && !g_strcmp0(str_of(s, "name"), name))
			return s;
	}
	return NULL;
}

/*
 * Why the rule refused a device, field by field: the explanation printed
 * under its reasons, at the newest version both sides describe, and in
 * every subsection both have.
 */
static void explain_desc(struct diff *d, const char *where, JsonObject *src,
			 JsonObject *dst)
{
	JsonArray *subs = arr_of(src, "Subsections");

	check_fields(d, where, src, dst,
		     MIN(int_of(src, "version_id", 0),
			 int_of(dst, "version_id", 0)));
	for (guint i = 0; subs && i < json_array_get_length(subs); i++) {
		JsonObject *ss = json_array_get_object_element(subs, i);
		const char *name = ss ? str_of(ss, "name") : NULL;
		JsonObject *ds = name ? find_sub(dst, name) : NULL;

		if (ds)
			explain_desc(d, name, ss, ds);
	}
}

static JsonObject *obj_of(JsonObject *o, const char *key)
{
	JsonNode *n = o ? json_object_get_member(o, key) : NULL;

	return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

/*
 * A device entry's description, or NULL when it has none: QEMU's dumps
 * leave it out, ours write an empty one (the shape QEMU's checker reads)
 * and say "migratable": false.
 */
static JsonObject *state_of(JsonObject *dev)
{
	JsonObject *m = obj_of(dev, "modvmm");

	if (m &&
	    !json_object_get_boolean_member_with_default(m, "migratable", TRUE))
		return NULL;
	return obj_of(dev, "Description");
}

/* ---- manifests from dumps -------------------------------------------- */

/*
 * Whether the host that wrote `dump` has removed machine type `name`, by
 * the types it lists (this build's for a dump without them). A host
 * loads a field that reuses a slot only then (vmstate_check_retired()).
 */
static int removed_in(JsonObject *dump, const char *name)
{
	const struct machine_registry *r = machine_registry();
	const struct machine_type *t;

	if (machine_types(dump))
		return !g_strcmp0(dump_status(dump, name), "removed");
	t = machine_lookup(r, name);
	return t && machine_status(r, t, NULL, NULL) == MACHINE_REMOVED;
}

/*
 * A field of a dump in the form of vmstate_layout_fields(), for a dump
 * without the rule's own entries (QEMU's, or one written by hand). QEMU's
 * fields have no "kind" and say nothing of slots they fill: any may take
 * a slot's bytes, so their sizes are what the rule compares.
 */
static char *layout_field(JsonObject *dump, JsonObject *f)
{
	const char *kind = str_of(f, "kind"), *name = str_of(f, "field");
	const char *elem = str_of(f, "element_kind");
	const char *retired = str_of(f, "retired_in");
	JsonObject *nested = obj_of(f, "Description");
	const char *inner = nested ? str_of(nested, "name") : NULL;
	gint64 size = int_of(f, "size", 0), count = 0, bytes = size;

	if (is_slot(f))
		return g_strdup_printf("%" G_GINT64_FORMAT ":s:", size);
	if (!kind)
		return g_strdup_printf("%" G_GINT64_FORMAT ":r:%s:qemu::1%s%s",
				       inner ? 0 : size, name ? name : "",
				       inner ? ":" : "", inner ? inner : "");
	if (!strcmp(kind, "array")) {
		count = int_of(f, "count", 0);
		bytes = inner ? 0 : size * count;
	} else if (!strcmp(kind, "varray")) {
		count = int_of(f, "bound", 0);
		bytes = 0;
	} else if (!strcmp(kind, "buffer")) {
		count = size;
	} else if (inner) {
		bytes = 0;
	}
	return g_strdup_printf(
		"%" G_GINT64_FORMAT ":%c:%s:%s:%s:%" G_GINT64_FORMAT "%s%s",
		bytes, retired && removed_in(dump, retired) ? 'r' : '-',
		name ? name : "", kind, elem ? elem : "", count,
		inner ? ":" : "", inner ? inner : "");
}

static gint i64_cmp(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;

	return x < y ? -1 : x > y;
}

/* A description's layouts, versions 1..`version`: an entry where a field
 * starts, with its fields and a digest of them. */
static JsonArray *layouts_of(JsonObject *dump, JsonObject *desc, gint64 version)
{
	JsonArray *fields = arr_of(desc, "Fields"), *out = json_array_new();
	g_autoptr(GArray) at = g_array_new(FALSE, FALSE, sizeof(gint64));
	g_autofree char *prev = NULL;
	gint64 since = 1;

	g_array_append_val(at, since);
	for (guint i = 0; fields && i < json_array_get_length(fields); i++) {
		JsonObject *f = json_array_get_object_element(fields, i);

		since = f ? MAX(int_of(f, "version_id", 1), 1) : 1;
		if (since <= version)
			g_array_append_val(at, since);
	}
	g_array_sort(at, i64_cmp);
	for (guint k = 0; k < at->len; k++) {
		gint64 v = g_array_index(at, gint64, k);
		g_autoptr(GPtrArray) fs = NULL;
		g_autoptr(GString) all = g_string_new(NULL);
		JsonArray *strs;
		JsonObject *l;
		char *sum;

		if (k && v == g_array_index(at, gint64, k - 1))
			continue;
		fs = fields_at(desc, v);
		strs = json_array_new();
		for (guint i = 0; i < fs->len; i++) {
			g_autofree char *t = layout_field(dump, fs->pdata[i]);

			g_string_append_printf(all, "%s\n", t);
			json_array_add_string_element(strs, t);
		}
		sum = g_compute_checksum_for_string(G_CHECKSUM_SHA256, all->str,
						    -1);
		sum[16] = '\0';
		if (prev && !strcmp(prev, sum)) {
			g_free(sum);
			json_array_unref(strs);
			continue;
		}
		l = json_object_new();
		json_object_set_int_member(l, "since", v);
		json_object_set_string_member(l, "fingerprint", sum);
		json_object_set_array_member(l, "fields", strs);
		json_array_add_object_element(out, l);
		g_free(prev);
		prev = sum;
	}
	return out;
}

enum conv_kind { CONV_TOP, CONV_SUB, CONV_STRUCT };

/*
 * A description as a manifest lists it: a guest's (`guest`: what the
 * source saves; a subsection is always sent, unless optional and
 * unknown to the destination) or an inventory's (what the host loads).
 */
static JsonObject *conv_vms(JsonObject *dump, JsonObject *desc, int guest,
			    enum conv_kind kind, const char *parent,
			    gint64 since)
{
	JsonObject *o = json_object_new();
	gint64 version = CLAMP(int_of(desc, "version_id", 1), 1, G_MAXUINT32);
	gint64 min = !guest ? int_of(desc, "minimum_version_id", 1)
		     : kind == CONV_TOP
			     ? int_of(desc, "minimum_save_version", version)
			     : version;

	json_object_set_string_member(
		o, "name", str_of(desc, "name") ? str_of(desc, "name") : "");
	json_object_set_int_member(o, "version", version);
	if (parent)
		json_object_set_string_member(o, "parent", parent);
	if (guest && kind != CONV_TOP)
		json_object_set_int_member(o, "since", since);
	if (guest && kind == CONV_SUB) {
		json_object_set_boolean_member(
			o, "optional",
			json_object_get_boolean_member_with_default(
				desc, "optional", FALSE));
		json_object_set_boolean_member(o, "send", TRUE);
	} else {
		json_object_set_int_member(o, "min", CLAMP(min, 1, version));
	}
	json_object_set_array_member(o, "layouts",
				     layouts_of(dump, desc, version));
	return o;
}

struct conv {
	JsonObject *dump;
	int guest;
	JsonArray *subs, *structs;
	GHashTable *seen; /* names listed */
};

/*
 * Subsections and structs' descriptions at every depth, parents first,
 * each once, with the first version of the device's description at
 * which it can be on the wire, as vmstate_foreach_subsection() and
 * vmstate_foreach_struct() give them.
 */
static void conv_walk(struct conv *c, JsonObject *desc, gint64 since, int top)
{
	JsonArray *fields = arr_of(desc, "Fields");
	JsonArray *subs = arr_of(desc, "Subsections");
	const char *name = str_of(desc, "name");

	for (guint i = 0; fields && i < json_array_get_length(fields); i++) {
		JsonObject *f = json_array_get_object_element(fields, i);
		JsonObject *nested = f ? obj_of(f, "Description") : NULL;
		const char *inner = nested ? str_of(nested, "name") : NULL;
		gint64 s = top ? MAX(since, int_of(f, "version_id", 0)) : since;

		if (!inner || !g_hash_table_add(c->seen, (char *)inner))
			continue;
		json_array_add_object_element(
			c->structs, conv_vms(c->dump, nested, c->guest,
					     CONV_STRUCT, name, s));
		conv_walk(c, nested, s, 0);
	}
	for (guint i = 0; subs && i < json_array_get_length(subs); i++) {
		JsonObject *ss = json_array_get_object_element(subs, i);
		const char *sub = ss ? str_of(ss, "name") : NULL;

		if (!sub || !g_hash_table_add(c->seen, (char *)sub))
			continue;
		json_array_add_object_element(
			c->subs,
			conv_vms(c->dump, ss, c->guest, CONV_SUB, name, since));
		conv_walk(c, ss, since, 0);
	}
}

/*
 * Device `type` of a dump as a manifest entry: a guest's, with its
 * properties at their defaults, or an inventory's, with the known-bad
 * versions its module declares. A dump without our "modvmm" key names
 * no module: the type stands for it.
 */
static JsonObject *conv_device(JsonObject *dump, const char *type,
			       JsonObject *dev, int guest)
{
	JsonObject *o = json_object_new(), *m = obj_of(dev, "modvmm");
	JsonObject *desc = state_of(dev);
	JsonArray *props = m ? arr_of(m, "properties") : NULL;
	JsonArray *bad = m ? arr_of(m, "known_bad") : NULL;
	JsonArray *out = json_array_new();
	struct conv c = { dump, guest, json_array_new(), json_array_new(),
			  g_hash_table_new(g_str_hash, g_str_equal) };

	if (guest)
		json_object_set_string_member(o, "id", type);
	json_object_set_string_member(o, "type", type);
	json_object_set_string_member(
		o, "module",
		m && str_of(m, "module") ? str_of(m, "module") : type);
	json_object_set_string_member(o, "module_version",
				      m && str_of(m, "module_version")
					      ? str_of(m, "module_version")
					      : "unknown");
	json_object_set_boolean_member(
		o, "intree",
		m && json_object_get_boolean_member_with_default(m, "intree",
								 FALSE));
	if (desc) {
		if (str_of(desc, "name"))
			g_hash_table_add(c.seen, (char *)str_of(desc, "name"));
		json_object_set_object_member(
			o, "vmstate",
			conv_vms(dump, desc, guest, CONV_TOP, NULL, 0));
		conv_walk(&c, desc, 0, 1);
	} else {
		json_object_set_null_member(o, "vmstate");
	}
	json_object_set_array_member(o, "subsections", c.subs);
	json_object_set_array_member(o, "structs", c.structs);
	for (guint i = 0; props && i < json_array_get_length(props); i++) {
		JsonObject *p = json_array_get_object_element(props, i);
		JsonObject *e = json_object_new();

		if (!p || !str_of(p, "name")) {
			json_object_unref(e);
			continue;
		}
		json_object_set_string_member(e, "property", str_of(p, "name"));
		if (str_of(p, "legacy"))
			json_object_set_string_member(e, "legacy",
						      str_of(p, "legacy"));
		if (guest) {
			json_object_set_string_member(
				e, "value",
				str_of(p, "default") ? str_of(p, "default")
						     : "");
			json_object_set_boolean_member(e, "set", FALSE);
			json_object_set_boolean_member(e, "machine", FALSE);
		}
		json_array_add_object_element(out, e);
	}
	json_object_set_array_member(o, "properties", out);
	if (guest) {
		json_object_set_boolean_member(o, "properties_complete",
					       props != NULL);
	} else {
		out = json_array_new();
		for (guint i = 0; bad && i < json_array_get_length(bad); i++) {
			JsonObject *kb = json_array_get_object_element(bad, i);
			JsonObject *e = json_object_new();

			json_object_set_string_member(
				e, "version", kb ? str_of(kb, "version") : "");
			json_object_set_string_member(
				e, "reason", kb ? str_of(kb, "reason") : "");
			json_array_add_object_element(out, e);
		}
		json_object_set_array_member(o, "known_bad", out);
	}
	g_hash_table_unref(c.seen);
	return o;
}

/*
 * The host a dump was written on, as an inventory without device types:
 * its machine types (the dump's own, or this build's for a dump without
 * them). A new object.
 */
static JsonObject *host_of(JsonObject *dump)
{
	JsonObject *head = obj_of(obj_of(dump, "vmschkmachine"), "inventory");
	const struct machine_registry *r = machine_registry();
	g_autoptr(JsonNode) n = NULL;
	g_autofree char *text = NULL;
	struct manifest *m;

	if (head) {
		JsonObject *o = json_object_new();
		g_autoptr(GList) members = json_object_get_members(head);

		for (GList *k = members; k; k = k->next)
			json_object_set_member(
				o, k->data,
				json_node_copy(
					json_object_get_member(head, k->data)));
		return o;
	}
	m = inventory_new(r);
	text = manifest_to_json(m);
	manifest_free(m);
	n = json_from_string(text, NULL);
	return json_object_ref(json_node_get_object(n));
}

/* Reads a document built here, as every manifest is read. */
static struct manifest *doc_parse(const char *what, JsonObject *doc,
				  enum manifest_kind kind)
{
	g_autoptr(JsonNode) n = json_node_new(JSON_NODE_OBJECT);
	g_autoptr(GError) err = NULL;
	g_autofree char *text = NULL;
	struct manifest *m = NULL;

	json_node_take_object(n, doc);
	text = json_to_string(n, FALSE);
	if (manifest_parse(what, text, strlen(text), kind, &m, &err) < 0) {
		fprintf(stderr, "modvmm-vmstate: %s\n", err->message);
		return NULL;
	}
	return m;
}

/*
 * The guest a source with `src`'s modules runs, and the host `dst`'s
 * modules make, as compat_negotiate() takes them. A device whose two
 * entries carry the rule's own ("source" and "inventory", from dump) is
 * listed as they say; any other is made from the dumps' descriptions,
 * on both sides. The guest runs the machine type src's dump names when
 * that dump lists its machine types (ours), else the destination's
 * newest: QEMU's machine types mean nothing to our registry.
 */
static int pair_manifests(const char *src_path, JsonObject *src,
			  const char *dst_path, JsonObject *dst,
			  struct manifest **ret_guest,
			  struct manifest **ret_inv)
{
	g_autoptr(GList) members = json_object_get_members(src);
	JsonObject *host = host_of(dst), *from = host_of(src);
	JsonObject *guest = json_object_new();
	JsonObject *vmschk = obj_of(src, "vmschkmachine");
	JsonArray *devices = json_array_new(), *types = json_array_new();
	const char *machine = str_of(vmschk, "Name");
	int listed = machine_types(src) || obj_of(vmschk, "inventory");

	for (GList *k = members; k; k = k->next) {
		const char *type = k->data;
		JsonObject *so = obj_of(src, type), *dobj = obj_of(dst, type);
		JsonObject *se = obj_of(obj_of(so, "modvmm"), "source");
		JsonObject *de = obj_of(obj_of(dobj, "modvmm"), "inventory");
		int ours = se && (!dobj || de);

		if (!strcmp(type, "vmschkmachine") || !so)
			continue;
		json_array_add_object_element(
			devices, ours ? json_object_ref(se)
				      : conv_device(src, type, so, 1));
		if (dobj)
			json_array_add_object_element(
				types, ours ? json_object_ref(de)
					    : conv_device(dst, type, dobj, 0));
	}
	json_object_set_int_member(guest, "modvmm-manifest", MANIFEST_FORMAT);
	json_object_set_string_member(guest, "abi", str_of(from, "abi"));
	if (!listed || !machine)
		machine = str_of(host, "alias");
	json_object_set_string_member(guest, "machine", machine);
	json_object_set_boolean_member(
		guest, "machine_alias",
		!g_strcmp0(machine, str_of(from, "alias")));
	json_object_set_array_member(guest, "devices", devices);
	json_object_remove_member(host, "types");
	json_object_set_array_member(host, "types", types);
	json_object_unref(from);
	*ret_guest = doc_parse(src_path, guest, MANIFEST_GUEST);
	*ret_inv = doc_parse(dst_path, host, MANIFEST_INVENTORY);
	if (*ret_guest && *ret_inv)
		return 0;
	manifest_free(*ret_guest);
	manifest_free(*ret_inv);
	return -1;
}

/*
 * One direction: a guest with src's devices migrating to a host with
 * dst's, judged by compat_negotiate(). Each refused device with the
 * rule's reasons, and under them the field findings that explain them;
 * the verdict's reasons about the machine type as notes (diff judges
 * what the modules carry; the machine type is the operator's to pick).
 * Returns the number of devices refused, -1 when the dumps make no
 * manifest.
 */
static int judge(const char *dir, const char *src_path, JsonObject *src,
		 const char *dst_path, JsonObject *dst, GString *out)
{
	struct diff d = { .dir = dir, .src = src, .dst = dst, .out = out };
	struct manifest *guest, *inv;
	struct compat_verdict *v;
	int refused = 0;

	if (pair_manifests(src_path, src, dst_path, dst, &guest, &inv) < 0)
		return -1;
	v = compat_negotiate(guest, inv, NULL);
	for (guint i = 0; i < v->reasons->len; i++)
		finding(&d, "note: %s", (char *)v->reasons->pdata[i]);
	for (guint i = 0; i < v->warnings->len; i++)
		finding(&d, "note: %s", (char *)v->warnings->pdata[i]);
	for (guint i = 0; i < v->devices->len; i++) {
		const struct compat_device_verdict *dv = v->devices->pdata[i];
		JsonObject *sd = state_of(obj_of(src, dv->type));
		JsonObject *dd = state_of(obj_of(dst, dv->type));

		if (dv->accepted)
			continue;
		refused++;
		for (guint j = 0; j < dv->reasons->len; j++)
			finding(&d, "%s: refused: %s", dv->type,
				(char *)dv->reasons->pdata[j]);
		if (!sd || !dd)
			continue;
		d.indent = "  ";
		explain_desc(&d, dv->type, sd, dd);
		d.indent = "";
	}
	compat_verdict_free(v);
	manifest_free(guest);
	manifest_free(inv);
	return refused;
}

/* ---- stable series ------------------------------------------------- */

/*
 * A subsection NEW adds is gated by a bugfix machine type when NEW sends
 * it on some machine type and on none that OLD has. A subsection sent on
 * no type at all depends on run-time state, so nothing gates it.
 */
static int gated(const struct diff *d, JsonObject *sub)
{
	JsonArray *on = arr_of(sub, "sent_on");
	JsonArray *old_types = machine_types(d->src);

	if (!on || !json_array_get_length(on) || !old_types)
		return 0;
	for (guint i = 0; i < json_array_get_length(on); i++)
		if (dump_status(d->src, json_array_get_string_element(on, i)))
			return 0;
	return 1;
}

static char *field_text(JsonObject *f)
{
	g_autofree char *sh = shape(f);

	return g_strdup_printf("%s since %" G_GINT64_FORMAT " %s",
			       str_of(f, "field"), int_of(f, "version_id", 1),
			       sh);
}

static void stable_desc(struct diff *d, const char *where, JsonObject *o,
			JsonObject *n);

/* A struct field's own description, compared the same way. */
static void stable_nested(struct diff *d, const char *where, JsonObject *a,
			  JsonObject *b)
{
	JsonNode *da = json_object_get_member(a, "Description");
	JsonNode *db = json_object_get_member(b, "Description");
	g_autofree char *inner = NULL;

	if (!da || !db || !JSON_NODE_HOLDS_OBJECT(da) ||
	    !JSON_NODE_HOLDS_OBJECT(db))
		return;
	inner = g_strdup_printf("%s.%s", where, str_of(a, "field"));
	stable_desc(d, inner, json_node_get_object(da),
		    json_node_get_object(db));
}

static int is_optional(JsonObject *sub)
{
	return json_object_get_boolean_member_with_default(sub, "optional",
							   FALSE);
}

/* OLD's description against NEW's: on a stable series, nothing moves. */
static void stable_desc(struct diff *d, const char *where, JsonObject *o,
			JsonObject *n)
{
	JsonArray *fo = arr_of(o, "Fields"), *fn = arr_of(n, "Fields");
	JsonArray *so = arr_of(o, "Subsections"), *sn = arr_of(n, "Subsections");
	guint lo = fo ? json_array_get_length(fo) : 0;
	guint ln = fn ? json_array_get_length(fn) : 0;
	static const char *const keys[] = { "version_id", "minimum_version_id",
					    "minimum_save_version" };

	for (size_t i = 0; i < G_N_ELEMENTS(keys); i++)
		if (int_of(o, keys[i], 0) != int_of(n, keys[i], 0))
			finding(d,
				"%s: %s changed from %" G_GINT64_FORMAT
				" to %" G_GINT64_FORMAT,
				where, keys[i], int_of(o, keys[i], 0),
				int_of(n, keys[i], 0));
	for (guint i = 0; i < MAX(lo, ln); i++) {
		JsonObject *a = i < lo ? json_array_get_object_element(fo, i)
				       : NULL;
		JsonObject *b = i < ln ? json_array_get_object_element(fn, i)
				       : NULL;
		g_autofree char *ta = a ? field_text(a) : NULL;
		g_autofree char *tb = b ? field_text(b) : NULL;

		if (!a)
			finding(d, "%s: field %s added", where, tb);
		else if (!b)
			finding(d, "%s: field %s removed", where, ta);
		else if (g_strcmp0(ta, tb))
			finding(d, "%s: field %s changed to %s", where, ta, tb);
		else
			stable_nested(d, where, a, b);
	}
	for (guint i = 0; so && i < json_array_get_length(so); i++) {
		JsonObject *s = json_array_get_object_element(so, i);
		JsonObject *t = s ? find_sub(n, str_of(s, "name")) : NULL;

		if (s && !t) {
			finding(d, "%s: subsection %s removed", where,
				str_of(s, "name"));
		} else if (s) {
			/* The flag is on the wire, and a destination without
			 * the subsection refuses it once it is mandatory. */
			if (is_optional(s) != is_optional(t))
				finding(d,
					"%s: subsection %s changed from %s to "
					"%s",
					where, str_of(s, "name"),
					is_optional(s) ? "optional"
						       : "mandatory",
					is_optional(t) ? "optional"
						       : "mandatory");
			stable_desc(d, str_of(s, "name"), s, t);
		}
	}
	for (guint i = 0; sn && i < json_array_get_length(sn); i++) {
		JsonObject *t = json_array_get_object_element(sn, i);
		const char *name = t ? str_of(t, "name") : NULL;

		if (!name || find_sub(o, name) ||
		    json_object_get_boolean_member_with_default(t, "optional",
								FALSE) ||
		    gated(d, t))
			continue;
		finding(d,
			"%s: subsection %s added: neither optional nor gated "
			"by a bugfix machine type",
			where, name);
	}
}

static int check_stable(JsonObject *old, JsonObject *new)
{
	struct diff d = { .dir = "stable", .src = old, .dst = new };
	g_autoptr(GList) members = json_object_get_members(old);

	for (GList *m = members; m; m = m->next) {
		const char *dev = m->data;
		JsonObject *od, *nd;

		if (!strcmp(dev, "vmschkmachine"))
			continue;
		if (!json_object_has_member(new, dev)) {
			finding(&d, "%s: device type removed", dev);
			continue;
		}
		od = state_of(json_object_get_object_member(old, dev));
		nd = state_of(json_object_get_object_member(new, dev));
		if (!od || !nd) {
			if (!od != !nd)
				finding(&d, "%s: state description %s", dev,
					od ? "removed" : "added");
			continue;
		}
		stable_desc(&d, dev, od, nd);
	}
	return d.findings;
}

static int cmd_diff(int argc, char **argv)
{
	JsonParser *po = NULL, *pn = NULL;
	JsonObject *old, *new;
	int stable = argc == 4 && !strcmp(argv[1], "--stable");
	int f, b;

	if (argc != 3 + stable) {
		fprintf(stderr, "Usage: modvmm-vmstate diff [--stable] "
				"OLD.json NEW.json\n");
		return 2;
	}
	argv += stable;
	old = load_dump(argv[1], &po);
	new = old ? load_dump(argv[2], &pn) : NULL;
	if (!new) {
		if (po)
			g_object_unref(po);
		return 2;
	}
	if (stable) {
		f = check_stable(old, new);
		printf("stable (%s -> %s): %s\n", argv[1], argv[2],
		       f ? "the wire changed" : "no change on the wire");
		b = 0;
	} else {
		f = judge("forward", argv[1], old, argv[2], new, NULL);
		b = f < 0 ? 0
			  : judge("backward", argv[2], new, argv[1], old, NULL);
		if (f < 0 || b < 0) {
			g_object_unref(po);
			g_object_unref(pn);
			return 2;
		}
		printf("forward (%s -> %s): %s; backward: %s\n", argv[1],
		       argv[2], f ? "breaks" : "works",
		       b ? "breaks" : "works");
	}
	g_object_unref(po);
	g_object_unref(pn);
	return f || b ? 1 : 0;
}

static int cmd_matrix(int argc, char **argv)
{
	g_autoptr(GPtrArray) parsers =
		g_ptr_array_new_with_free_func(g_object_unref);
	g_autoptr(GPtrArray) dumps = g_ptr_array_new();
	g_autoptr(GString) why = g_string_new(NULL);
	int status = 0;

	if (argc < 3) {
		fprintf(stderr,
			"Usage: modvmm-vmstate matrix A.json B.json ...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		JsonParser *p = NULL;
		JsonObject *o = load_dump(argv[i], &p);

		if (!o)
			return 2;
		g_ptr_array_add(parsers, p);
		g_ptr_array_add(dumps, o);
	}
	/* The findings follow the matrix, each after its pair. */
	g_autoptr(GArray) cells = g_array_new(FALSE, FALSE, sizeof(int));
	for (guint r = 0; r < dumps->len; r++)
		for (guint c = 0; c < dumps->len; c++) {
			g_autofree char *a = g_path_get_basename(argv[r + 1]);
			g_autofree char *b = g_path_get_basename(argv[c + 1]);
			g_autofree char *pair =
				g_strdup_printf("%s -> %s", a, b);
			int n = r == c ? 0
				       : judge(pair, argv[r + 1],
					       dumps->pdata[r], argv[c + 1],
					       dumps->pdata[c], why);

			if (n < 0)
				return 2;
			g_array_append_val(cells, n);
		}
	printf("source \\ destination (ok: every device migrates; N: N "
	       "devices refused, listed below)\n");
	printf("%-28s", "");
	for (int c = 1; c < argc; c++) {
		g_autofree char *name = g_path_get_basename(argv[c]);

		printf(" %-10.10s", name);
	}
	printf("\n");
	for (guint r = 0; r < dumps->len; r++) {
		g_autofree char *name = g_path_get_basename(argv[r + 1]);

		printf("%-28.28s", name);
		for (guint c = 0; c < dumps->len; c++) {
			int n = g_array_index(cells, int, r * dumps->len + c);

			if (n)
				status = 1;
			if (n)
				printf(" %-10d", n);
			else
				printf(" %-10s", r == c ? "-" : "ok");
		}
		printf("\n");
	}
	fputs(why->str, stdout);
	return status;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "diff"))
		return cmd_diff(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "matrix"))
		return cmd_matrix(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "dump"))
		return cmd_dump(argc - 1, argv + 1);
	fprintf(stderr, "Usage: modvmm-vmstate dump [--module-dir DIR...] "
			"[--machine TYPE]\n"
			"       modvmm-vmstate diff [--stable] OLD.json "
			"NEW.json\n"
			"       modvmm-vmstate matrix A.json B.json ...\n");
	return 2;
}
