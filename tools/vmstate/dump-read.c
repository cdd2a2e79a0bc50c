// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tools/vmstate/dump-read.c - reading state dumps (ours, QEMU's, hand
 * written): the file checked to be one, and the members diff, matrix and
 * stable read from it, each of the type asked for or none.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "base/json-text.h"
#include "compat/machine-types.h"
#include "vmstate-tool.h"

/* ---- diff and matrix -------------------------------------------------- */

/*
 * Deepest nesting a dump may have: ours nest three levels per struct and
 * two per subsection below a device (VMS_MAX_DEPTH of each at most), and
 * QEMU's are shallower still. json-glib's parser recurses, so a deeper
 * file is refused before it is parsed.
 */
#define DUMP_MAX_DEPTH 64

JsonObject *load_dump(const char *path, JsonParser **ret_parser)
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

gint64 int_of(JsonObject *o, const char *key, gint64 dflt)
{
	JsonNode *n = json_object_get_member(o, key);

	return n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_int(n) : dflt;
}

const char *str_of(JsonObject *o, const char *key)
{
	JsonNode *n = json_object_get_member(o, key);

	return n && JSON_NODE_HOLDS_VALUE(n) ? json_node_get_string(n) : NULL;
}

JsonArray *arr_of(JsonObject *o, const char *key)
{
	JsonNode *n = json_object_get_member(o, key);

	return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
}

/* A field's wire shape, for comparing two descriptions at one version. */
char *field_shape(JsonObject *f)
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

/* A dump's "machine_types", or NULL for a dump without them. */
JsonArray *machine_types(JsonObject *dump)
{
	JsonNode *n = json_object_get_member(dump, "vmschkmachine");

	return n && JSON_NODE_HOLDS_OBJECT(n)
		       ? arr_of(json_node_get_object(n), "machine_types")
		       : NULL;
}

/* The status a dump gives a machine type, or NULL. */
const char *dump_status(JsonObject *dump, const char *name)
{
	JsonArray *a = machine_types(dump);

	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		JsonObject *t = json_array_get_object_element(a, i);

		if (t && !g_strcmp0(str_of(t, "name"), name))
			return str_of(t, "status");
	}
	return NULL;
}

/* Bytes a field of a dump takes on the wire (fixed-size kinds). */
gint64 wire_bytes(JsonObject *f)
{
	return int_of(f, "size", -1) * int_of(f, "count", 1);
}

/* Fields present at `version`, in order, in one description. */
GPtrArray *fields_at(JsonObject *desc, gint64 version)
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
int is_slot(JsonObject *f)
{
	const char *kind = str_of(f, "kind");

	return kind ? !strcmp(kind, "unused")
		    : !g_strcmp0(str_of(f, "field"), "unused");
}

JsonObject *find_sub(JsonObject *desc, const char *name)
{
	JsonArray *a = arr_of(desc, "Subsections");

	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		JsonObject *s = json_array_get_object_element(a, i);

		if (s && !g_strcmp0(str_of(s, "name"), name))
			return s;
	}
	return NULL;
}

JsonObject *obj_of(JsonObject *o, const char *key)
{
	JsonNode *n = o ? json_object_get_member(o, key) : NULL;

	return n && JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
}

/*
 * A device entry's description, or NULL when it has none: QEMU's dumps
 * leave it out, ours write an empty one (the shape QEMU's checker reads)
 * and say "migratable": false.
 */
JsonObject *state_of(JsonObject *dev)
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
int removed_in(JsonObject *dump, const char *name)
{
	const struct machine_registry *r = machine_registry();
	const struct machine_type *t;

	if (machine_types(dump))
		return !g_strcmp0(dump_status(dump, name), "removed");
	t = machine_lookup(r, name);
	return t && machine_status(r, t, NULL, NULL) == MACHINE_REMOVED;
}
