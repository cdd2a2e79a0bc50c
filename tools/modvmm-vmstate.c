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
 * and a "modvmm" object per device naming its module.
 *
 * diff checks both directions between two dumps: forward (a source with
 * OLD's modules migrating to a destination with NEW's) and backward. A
 * direction works for a device when the source can save a version the
 * destination loads (the agreed version is the lower of the two newest),
 * and at that version both describe the same fields in the same order with
 * the same kinds and sizes; every subsection the source may send is known
 * to the destination unless it is optional. One line per finding; exit 1
 * when any direction breaks. matrix prints which pairs of dumps can
 * migrate each way.
 *
 * An unused slot reused as a field is a finding unless the machine type it
 * was retired in is removed: by the machine types a dump lists (the
 * "machine_types" of its "vmschkmachine"), or by this build's for dumps
 * without them.
 *
 * diff --stable treats OLD and NEW as two releases of one stable series:
 * any change to what goes on the wire is a finding, except a subsection
 * that is optional or that a bugfix machine type gates (NEW sends it on
 * some machine type, and on none that OLD has: its "sent_on" key, which
 * dump fills in from a freshly created device of each machine type).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "../core/device.h"
#include "../core/host.h"
#include "../core/machine.h"
#include "../core/vmm.h"

static char **opt_module_dirs;
static char *opt_machine;

static const GOptionEntry options[] = {
	{ "module-dir", 'M', 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_module_dirs,
	  "Load modules from DIR (repeatable; default " MODVMM_MODULE_DIR ")",
	  "DIR" },
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

static int elem_size(const struct vms_field *vf)
{
	int w = vmstate_kind_width(vf->f.elem_kind);

	return w ? w : (int)vf->f.stride;
}

static void describe(JsonBuilder *b, const struct vms *v,
		     const struct vms_sub *sub, GHashTable *sent_on);

/* QEMU's "size" is the size of one element; arrays add a count. */
static void field(JsonBuilder *b, const struct vms_field *vf)
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
		describe(b, vf->nested, NULL, NULL);
	}
	json_builder_end_object(b);
}

/*
 * `sub` is set when v is a subsection: its flags are ours to add, with the
 * machine types on which a new device sends it (`sent_on`: name to
 * GPtrArray of machine type names).
 */
static void describe(JsonBuilder *b, const struct vms *v,
		     const struct vms_sub *sub, GHashTable *sent_on)
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
		field(b, &v->fields[i]);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "Subsections");
	json_builder_begin_array(b);
	for (uint32_t i = 0; i < v->d.n_subsections; i++)
		describe(b, v->subs[i].vms, &v->subs[i], sent_on);
	json_builder_end_array(b);
	json_builder_end_object(b);
}

static void mark_sent(GHashTable *on, const struct vms *v, void *state,
		      const char *machine, int parent_sent)
{
	for (uint32_t i = 0; i < v->d.n_subsections; i++) {
		const struct vms_sub *sub = &v->subs[i];
		int sent = parent_sent && (!sub->needed || sub->needed(state));
		GPtrArray *names = g_hash_table_lookup(on, sub->vms->name);

		if (!names) {
			names = g_ptr_array_new_with_free_func(g_free);
			g_hash_table_insert(on, g_strdup(sub->vms->name), names);
		}
		if (sent)
			g_ptr_array_add(names, g_strdup(machine));
		mark_sent(on, sub->vms, state, machine, sent);
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
static GHashTable *subsections_sent_on(struct vmm *vmm,
				       const struct device_type *dt)
{
	const struct machine_registry *r = machine_registry();
	GHashTable *on = g_hash_table_new_full(
		g_str_hash, g_str_equal, g_free,
		(GDestroyNotify)g_ptr_array_unref);

	struct vmm_sinks sinks = vmm->sinks;

	/* A device that cannot be made from its defaults alone (a disk
	 * needs its file) is not an error here: it shows no subsections. */
	vmm->sinks.log = drop_log;
	for (size_t i = 0; dt->vms && i < r->n_types; i++) {
		const struct machine_type *t = &r->types[i];
		g_autofree char *spec = machine_device_spec(r, t, dt->t.name);
		struct modvmm_device *dev;

		if (machine_status(r, t, NULL, NULL) == MACHINE_REMOVED ||
		    device_create(vmm, spec, &dev, NULL) < 0)
			continue;
		g_mutex_lock(&vmm->lock);
		mark_sent(on, dt->vms, dev->state, t->name, 1);
		g_mutex_unlock(&vmm->lock);
		device_destroy(dev);
	}
	vmm->sinks = sinks;
	return on;
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
	struct vmm *vmm;
	int status = 0;

	g_option_context_add_main_entries(ctx, options, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "modvmm-vmstate: %s\n", err->message);
		return 2;
	}
	vmm = vmm_new(host_services());
	loader_add_dirs(vmm->loader, opt_module_dirs, MODVMM_MODULE_DIR);
	loader_load_all(vmm->loader, errors);
	for (guint i = 0; i < errors->len; i++) {
		fprintf(stderr, "modvmm-vmstate: %s\n",
			((GError *)errors->pdata[i])->message);
		status = 1;
	}
	for (guint i = 0; i < loader_modules(vmm->loader)->len; i++) {
		const struct module *m = loader_modules(vmm->loader)->pdata[i];

		for (guint j = 0; j < m->types->len; j++)
			g_ptr_array_add(types, m->types->pdata[j]);
	}
	g_ptr_array_sort(types, type_cmp);

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "vmschkmachine");
	json_builder_begin_object(b);
	add_str(b, "Name", opt_machine ? opt_machine : "microvm");
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
			GHashTable *on = subsections_sent_on(vmm, dt);

			add_int(b, "version_id", dt->vms->d.version);
			add_int(b, "minimum_version_id",
				dt->vms->d.min_version);
			json_builder_set_member_name(b, "Description");
			describe(b, dt->vms, NULL, on);
			g_hash_table_unref(on);
		}
		json_builder_set_member_name(b, "modvmm");
		json_builder_begin_object(b);
		add_str(b, "module", dt->module->info->name);
		add_str(b, "module_version", dt->module->info->version);
		add_bool(b, "intree", dt->module->info->intree);
		/* A device without a description blocks migration. */
		add_bool(b, "migratable", dt->vms != NULL);
		json_builder_end_object(b);
		json_builder_end_object(b);
	}
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_pretty(gen, TRUE);
	json_generator_set_root(gen, root);
	text = json_generator_to_data(gen, NULL);
	printf("%s\n", text);
	vmm_free(vmm);
	return status;
}

/* ---- diff and matrix -------------------------------------------------- */

static JsonObject *load_dump(const char *path, JsonParser **ret_parser)
{
	g_autoptr(GError) err = NULL;
	JsonParser *p = json_parser_new();
	JsonNode *root;

	if (!json_parser_load_from_file(p, path, &err)) {
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
	va_list ap;

	printf("%s: ", d->dir);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	d->findings++;
}

static void check_desc(struct diff *d, const char *where, JsonObject *src,
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

static void check_fields(struct diff *d, const char *where, JsonObject *src,
			 JsonObject *dst, gint64 v)
{
	g_autoptr(GPtrArray) a = fields_at(src, v), b = fields_at(dst, v);
	guint n = MAX(a->len, b->len);

	for (guint i = 0; i < n; i++) {
		JsonObject *fa = i < a->len ? a->pdata[i] : NULL;
		JsonObject *fb = i < b->len ? b->pdata[i] : NULL;
		g_autofree char *sa = fa ? shape(fa) : NULL;
		g_autofree char *sb = fb ? shape(fb) : NULL;
		const char *na = fa ? str_of(fa, "field") : NULL;
		const char *nb = fb ? str_of(fb, "field") : NULL;

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
		} else if (g_strcmp0(na, nb) &&
			   (!g_strcmp0(str_of(fa, "kind"), "unused") ||
			    !g_strcmp0(str_of(fb, "kind"), "unused"))) {
			int a_is_slot = !g_strcmp0(str_of(fa, "kind"), "unused");
			JsonObject *slot = a_is_slot ? fa : fb;
			JsonObject *field = a_is_slot ? fb : fa;
			const char *retired = str_of(fa, "retired_in")
						      ? str_of(fa, "retired_in")
						      : str_of(fb, "retired_in");

			if (!type_removed(d, retired))
				finding(d,
					"%s: unused slot %s retired in %s is "
					"reused as %s at version "
					"%" G_GINT64_FORMAT
					": allowed only once machine type %s "
					"is removed",
					where, str_of(slot, "field"), retired,
					str_of(field, "field"), v, retired);
			else if (wire_bytes(slot) != wire_bytes(field))
				finding(d,
					"%s: unused slot %s retired in %s is "
					"reused as %s of %" G_GINT64_FORMAT
					" bytes, but the slot has "
					"%" G_GINT64_FORMAT
					": a reuse must keep the slot's size",
					where, str_of(slot, "field"), retired,
					str_of(field, "field"),
					wire_bytes(field), wire_bytes(slot));
		} else if (g_strcmp0(na, nb)) {
			finding(d,
				"%s: field %u at version %" G_GINT64_FORMAT
				" is %s in the source, %s in the destination "
				"(reordered or renamed without a version "
				"bump)",
				where, i, v, na, nb);
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

				check_desc(d, inner, json_node_get_object(nda),
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

/* src saves, dst loads: one direction for one description. */
static void check_desc(struct diff *d, const char *where, JsonObject *src,
		       JsonObject *dst)
{
	gint64 s_max = int_of(src, "version_id", 0);
	gint64 s_min = int_of(src, "minimum_save_version", s_max);
	gint64 d_max = int_of(dst, "version_id", 0);
	gint64 d_min = int_of(dst, "minimum_version_id", d_max);
	gint64 v = MIN(s_max, d_max);
	JsonArray *subs = arr_of(src, "Subsections");

	if (g_strcmp0(str_of(src, "name"), str_of(dst, "name"))) {
		finding(d,
			"%s: state is named %s in the source, %s in the "
			"destination (renamed)",
			where, str_of(src, "name"), str_of(dst, "name"));
		return;
	}
	if (v < s_min || v < d_min) {
		finding(d,
			"%s: versions no longer meet: the source saves "
			"%" G_GINT64_FORMAT "..%" G_GINT64_FORMAT
			", the destination loads %" G_GINT64_FORMAT
			"..%" G_GINT64_FORMAT,
			where, s_min, s_max, d_min, d_max);
		return;
	}
	check_fields(d, where, src, dst, v);
	for (guint i = 0; subs && i < json_array_get_length(subs); i++) {
		JsonObject *ss = json_array_get_object_element(subs, i);
		const char *name = ss ? str_of(ss, "name") : NULL;
		JsonObject *ds = name ? find_sub(dst, name) : NULL;

		if (!ss || !name)
			continue;
		if (!ds) {
			if (!json_object_get_boolean_member_with_default(
				    ss, "optional", FALSE))
				finding(d,
					"%s: subsection %s is unknown to the "
					"destination and not optional: "
					"refused whenever the source sends "
					"it",
					where, name);
			continue;
		}
		check_desc(d, name, ss, ds);
	}
}

/* Every device of src against dst, in src's order. */
static int check_dumps(const char *dir, JsonObject *src, JsonObject *dst)
{
	struct diff d = { .dir = dir, .src = src, .dst = dst };
	g_autoptr(GList) members = json_object_get_members(src);

	for (GList *m = members; m; m = m->next) {
		const char *dev = m->data;
		JsonObject *so, *dobj;
		JsonNode *sd, *dd;

		if (!strcmp(dev, "vmschkmachine"))
			continue;
		so = json_object_get_object_member(src, dev);
		if (!json_object_has_member(dst, dev)) {
			finding(&d,
				"%s: device type removed (no module at the "
				"destination provides it)",
				dev);
			continue;
		}
		dobj = json_object_get_object_member(dst, dev);
		sd = json_object_get_member(so, "Description");
		dd = json_object_get_member(dobj, "Description");
		if (!sd || !JSON_NODE_HOLDS_OBJECT(sd)) {
			finding(&d,
				"%s: no state description at the source: "
				"this device blocks migration",
				dev);
			continue;
		}
		if (!dd || !JSON_NODE_HOLDS_OBJECT(dd)) {
			finding(&d,
				"%s: no state description at the "
				"destination",
				dev);
			continue;
		}
		check_desc(&d, dev, json_node_get_object(sd),
			   json_node_get_object(dd));
	}
	return d.findings;
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

		if (s && !t)
			finding(d, "%s: subsection %s removed", where,
				str_of(s, "name"));
		else if (s)
			stable_desc(d, str_of(s, "name"), s, t);
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
		JsonObject *o, *n;
		JsonNode *od, *nd;

		if (!strcmp(dev, "vmschkmachine"))
			continue;
		if (!json_object_has_member(new, dev)) {
			finding(&d, "%s: device type removed", dev);
			continue;
		}
		o = json_object_get_object_member(old, dev);
		n = json_object_get_object_member(new, dev);
		od = json_object_get_member(o, "Description");
		nd = json_object_get_member(n, "Description");
		if (!od || !nd || !JSON_NODE_HOLDS_OBJECT(od) ||
		    !JSON_NODE_HOLDS_OBJECT(nd)) {
			if (!od != !nd)
				finding(&d, "%s: state description %s", dev,
					od ? "removed" : "added");
			continue;
		}
		stable_desc(&d, dev, json_node_get_object(od),
			    json_node_get_object(nd));
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
		f = check_dumps("forward", old, new);
		b = check_dumps("backward", new, old);
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
	int status = 0, out;

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
	/* Findings go to a scratch stream: the matrix is the output. */
	fflush(stdout);
	out = dup(STDOUT_FILENO);
	if (!freopen("/dev/null", "w", stdout))
		return 2;
	g_autoptr(GArray) cells = g_array_new(FALSE, FALSE, sizeof(int));
	for (guint r = 0; r < dumps->len; r++)
		for (guint c = 0; c < dumps->len; c++) {
			int n = r == c ? 0
				       : check_dumps("", dumps->pdata[r],
						     dumps->pdata[c]);

			g_array_append_val(cells, n);
		}
	fflush(stdout);
	dup2(out, STDOUT_FILENO);
	close(out);
	printf("source \\ destination (ok: every device migrates; N: N "
	       "findings, see diff)\n");
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
