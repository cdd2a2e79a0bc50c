// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tools/vmstate/explain.c - the field-by-field findings under a refused
 * device: fields added, removed, reordered or resized without a version
 * bump, and retired slots reused or resized before their machine type is
 * removed. They explain the rule's verdict; they do not judge.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "compat/machine-types.h"
#include "vmstate-tool.h"

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

void finding(struct diff *d, const char *fmt, ...)
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

/*
 * One field by the same name on both sides whose shapes `sa` and `sb`
 * differ: a slot reused once its machine type is removed must keep its
 * size; any other change is one without a version bump.
 */
static void check_reshaped(struct diff *d, const char *where, JsonObject *fa,
			   JsonObject *fb, const char *sa, const char *sb)
{
	const char *na = str_of(fa, "field");
	const char *retired = str_of(fa, "retired_in")
				      ? str_of(fa, "retired_in")
				      : str_of(fb, "retired_in");
	int unused = !g_strcmp0(str_of(fa, "kind"), "unused") ||
		     !g_strcmp0(str_of(fb, "kind"), "unused");

	/* An unused slot turned into a field is a reuse. */
	if (unused && type_removed(d, retired)) {
		if (wire_bytes(fa) != wire_bytes(fb))
			finding(d,
				"%s: unused slot %s retired in %s is "
				"%" G_GINT64_FORMAT " bytes in the source, "
				"%" G_GINT64_FORMAT " in the destination: a "
				"reuse must keep the slot's size",
				where, na, retired, wire_bytes(fa),
				wire_bytes(fb));
		return;
	}
	if (unused)
		finding(d,
			"%s: unused slot %s changed (%s, now %s): a slot "
			"retired in %s may be reused or resized only once that "
			"machine type is removed",
			where, na, sa, sb, retired);
	else
		finding(d,
			"%s: field %s is %s in the source, %s in the "
			"destination (resized or retyped without a version "
			"bump)",
			where, na, sa, sb);
}

/* A struct field alike on both sides: its own description compared. */
static void explain_nested(struct diff *d, const char *where, JsonObject *fa,
			   JsonObject *fb)
{
	JsonObject *da = obj_of(fa, "Description");
	JsonObject *db = obj_of(fb, "Description");
	g_autofree char *inner = NULL;

	if (!da || !db)
		return;
	inner = g_strdup_printf("%s.%s", where, str_of(fa, "field"));
	explain_desc(d, inner, da, db);
}

static void check_fields(struct diff *d, const char *where, JsonObject *src,
			 JsonObject *dst, gint64 v)
{
	g_autoptr(GPtrArray) a = fields_at(src, v), b = fields_at(dst, v);
	guint i = 0, j = 0;

	while (i < a->len || j < b->len) {
		JsonObject *fa = i < a->len ? a->pdata[i] : NULL;
		JsonObject *fb = j < b->len ? b->pdata[j] : NULL;
		g_autofree char *sa = fa ? field_shape(fa) : NULL;
		g_autofree char *sb = fb ? field_shape(fb) : NULL;
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
			check_reshaped(d, where, fa, fb, sa, sb);
		} else {
			explain_nested(d, where, fa, fb);
		}
	}
}

/*
 * Why the rule refused a device, field by field: the explanation printed
 * under its reasons, at the newest version both sides describe, and in
 * every subsection both have.
 */
void explain_desc(struct diff *d, const char *where, JsonObject *src,
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
