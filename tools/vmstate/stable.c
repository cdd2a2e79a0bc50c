// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tools/vmstate/stable.c - modvmm-vmstate diff --stable: two releases of
 * one stable series, where any change to what goes on the wire is a
 * finding, but for a subsection added that is optional or that a bugfix
 * machine type gates.
 */
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "vmstate-tool.h"

/* ---- stable series ------------------------------------------------- */

/*
 * A subsection NEW adds is gated by a bugfix machine type when NEW sends
 * it on some machine type and on none that OLD has. A subsection sent on
 * no type at all depends on run-time state, so nothing gates it.
 */
static int gated_by_bugfix_type(const struct diff *d, JsonObject *sub)
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
	g_autofree char *sh = field_shape(f);

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
	JsonArray *so = arr_of(o, "Subsections"),
		  *sn = arr_of(n, "Subsections");
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
		JsonObject *a =
			i < lo ? json_array_get_object_element(fo, i) : NULL;
		JsonObject *b =
			i < ln ? json_array_get_object_element(fn, i) : NULL;
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
		    gated_by_bugfix_type(d, t))
			continue;
		finding(d,
			"%s: subsection %s added: neither optional nor gated "
			"by a bugfix machine type",
			where, name);
	}
}

int check_stable(JsonObject *old, JsonObject *new)
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
