// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tools/vmstate/manifest.c - a guest's manifest and a host's inventory
 * made from two dumps, as compat_negotiate() takes them: the rule's own
 * entries where a dump has them, else made from its descriptions, each
 * field as vmstate_layout_fields() writes it.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "base/json-text.h"
#include "compat/machine-types.h"
#include "compat/manifest.h"
#include "core/inspect.h"
#include "vmstate-tool.h"

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
 * A dump's properties as a manifest lists them: a guest's at their
 * defaults, set by nobody; an inventory's with their legacy values.
 */
static JsonArray *conv_props(JsonArray *props, int guest)
{
	JsonArray *out = json_array_new();

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
	return out;
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
	JsonArray *out;
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
	json_object_set_array_member(o, "properties", conv_props(props, guest));
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
	m = inspect_inventory(NULL);
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
int pair_manifests(const char *src_path, JsonObject *src, const char *dst_path,
		   JsonObject *dst, struct manifest **ret_guest,
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
