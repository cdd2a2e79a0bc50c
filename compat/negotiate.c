// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * compat/negotiate.c - the verdict: can this host load this guest's state?
 *
 * Per device: agreed version = min(source newest, destination newest),
 * valid if >= the source's oldest savable and the destination's oldest
 * loadable; the layouts at that version must match; every subsection the
 * source would send must be known here unless optional (then the source
 * drops it); a source module version the destination's module declares
 * known-bad is refused with the module's reason. The machine type must be
 * known and not removed here. Every failure is collected, none stops the
 * others, so an operator sees the whole list at once.
 */
#include <string.h>

#include <json-glib/json-glib.h>

#include "negotiate.h"

static void device_verdict_free(struct compat_device_verdict *d)
{
	g_free((char *)d->id);
	g_free((char *)d->type);
	g_ptr_array_unref(d->known);
	g_ptr_array_unref(d->dropped);
	g_ptr_array_unref(d->reasons);
	g_free(d);
}

void compat_verdict_free(struct compat_verdict *v)
{
	if (!v)
		return;
	g_free((char *)v->machine);
	g_ptr_array_unref(v->reasons);
	g_ptr_array_unref(v->warnings);
	g_ptr_array_unref(v->devices);
	g_free(v);
}

static void reason(GPtrArray *to, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void reason(GPtrArray *to, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_ptr_array_add(to, g_strdup_vprintf(fmt, ap));
	va_end(ap);
}

static const struct manifest_vms *find_sub(const struct manifest_device *d,
					   const char *name)
{
	for (guint i = 0; i < d->subs->len; i++) {
		const struct manifest_vms *s = d->subs->pdata[i];

		if (!strcmp(s->name, name))
			return s;
	}
	return NULL;
}

/* The layouts of one description at `version` on both sides. */
static void check_layout(GPtrArray *reasons, const struct manifest_vms *src,
			 const struct manifest_vms *dst, uint32_t version)
{
	const char *a = manifest_vms_layout(src, version);
	const char *b = manifest_vms_layout(dst, version);

	if (!a || !b || strcmp(a, b))
		reason(reasons,
		       "%s version %u has a different layout here "
		       "(fingerprint %s at the source, %s here)",
		       src->name, version, a ? a : "none", b ? b : "none");
}

/* One subsection at the version the source sends, against this host's. */
static void check_sub(GPtrArray *reasons, const struct manifest_vms *s,
		      const struct manifest_vms *d)
{
	if (s->version < d->min || s->version > d->version)
		reason(reasons,
		       "subsection %s is sent at version %u; this host loads "
		       "%u..%u",
		       s->name, s->version, d->min, d->version);
	else
		check_layout(reasons, s, d, s->version);
}

static void check_subsections(struct compat_device_verdict *dv,
			      const struct manifest_device *src,
			      const struct manifest_device *dst)
{
	for (guint i = 0; i < src->subs->len; i++) {
		const struct manifest_vms *s = src->subs->pdata[i];
		const struct manifest_vms *d = find_sub(dst, s->name);

		if (!d) {
			if (!s->send)
				continue; /* re-checked when the guest stops */
			if (s->optional)
				g_ptr_array_add(dv->dropped,
						g_strdup(s->name));
			else
				reason(dv->reasons,
				       "subsection %s would be sent and is "
				       "unknown here (not optional)",
				       s->name);
			continue;
		}
		if (!s->send) {
			g_autoptr(GPtrArray) would =
				g_ptr_array_new_with_free_func(g_free);

			/* Listed as known only if it would load should it
			 * become needed: the stop-time re-check relies on
			 * the list. */
			check_sub(would, s, d);
			if (!would->len)
				g_ptr_array_add(dv->known, g_strdup(s->name));
			continue;
		}
		g_ptr_array_add(dv->known, g_strdup(s->name));
		check_sub(dv->reasons, s, d);
	}
}

/*
 * What the destination looks up once per guest device, indexed once per
 * verdict so that a verdict costs linear time in the number of devices.
 */
struct dest {
	const struct machine_type *t;
	GHashTable *types; /* device type -> its manifest_device */
	GHashTable *props; /* "type\nproperty" -> compat_prop in effect */
};

static void dest_add_prop(void *opaque, const struct compat_prop *p)
{
	/* Older types come last and win, as when devices are created. */
	g_hash_table_insert(opaque, g_strconcat(p->device, "\n", p->property,
						NULL),
			    (void *)p);
}

static void dest_init(struct dest *ds, const struct manifest *dst,
		      const struct machine_type *t)
{
	ds->t = t;
	ds->types = g_hash_table_new(g_str_hash, g_str_equal);
	ds->props = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					  NULL);
	for (guint i = 0; i < dst->devices->len; i++) {
		struct manifest_device *d = dst->devices->pdata[i];

		/* The first provider of a type wins, as in the loader. */
		if (!g_hash_table_contains(ds->types, d->type))
			g_hash_table_insert(ds->types, (char *)d->type, d);
	}
	if (t)
		machine_compat_props(&dst->registry, t, dest_add_prop,
				     ds->props);
}

static void dest_clear(struct dest *ds)
{
	g_hash_table_unref(ds->types);
	g_hash_table_unref(ds->props);
}

/* The source's compat values against what this host's type sets. */
static void check_props(struct compat_device_verdict *dv,
			const struct manifest_device *src,
			const struct dest *ds)
{
	for (guint i = 0; ds->t && i < src->props->len; i++) {
		const struct compat_prop *p = src->props->pdata[i];
		g_autofree char *key =
			g_strconcat(src->type, "\n", p->property, NULL);
		const struct compat_prop *here =
			g_hash_table_lookup(ds->props, key);

		if (here && strcmp(here->value, p->value))
			reason(dv->reasons,
			       "compat property %s.%s is %s at the source "
			       "but %s here for machine type %s",
			       src->type, p->property, p->value, here->value,
			       ds->t->name);
	}
}

static struct compat_device_verdict *
negotiate_device(const struct manifest_device *src, const struct dest *ds)
{
	struct compat_device_verdict *dv = g_new0(struct compat_device_verdict, 1);
	const struct manifest_device *d = g_hash_table_lookup(ds->types,
							      src->type);
	uint32_t v;

	dv->id = g_strdup(src->id);
	dv->type = g_strdup(src->type);
	dv->known = g_ptr_array_new_with_free_func(g_free);
	dv->dropped = g_ptr_array_new_with_free_func(g_free);
	dv->reasons = g_ptr_array_new_with_free_func(g_free);

	if (!src->vms) {
		reason(dv->reasons,
		       "device type %s (module %s %s) has no VMState: it "
		       "blocks migration",
		       src->type, src->module, src->module_version);
		goto out;
	}
	if (!d) {
		reason(dv->reasons,
		       "module missing: no module here provides device type "
		       "%s (the source has module %s %s)",
		       src->type, src->module, src->module_version);
		goto out;
	}
	if (!d->vms) {
		reason(dv->reasons,
		       "module %s %s here has no VMState for device type %s",
		       d->module, d->module_version, src->type);
		goto out;
	}
	if (strcmp(src->vms->name, d->vms->name)) {
		reason(dv->reasons,
		       "state description renamed: the source sends %s, "
		       "module %s %s here loads %s",
		       src->vms->name, d->module, d->module_version,
		       d->vms->name);
		goto out;
	}
	for (guint i = 0; !strcmp(src->module, d->module) &&
			  i < d->known_bad->len;
	     i++) {
		const struct manifest_known_bad *kb = d->known_bad->pdata[i];

		if (!strcmp(kb->version, src->module_version))
			reason(dv->reasons,
			       "module %s %s is known bad (declared by %s "
			       "here): %s",
			       src->module, src->module_version,
			       d->module_version, kb->reason);
	}
	v = MIN(src->vms->version, d->vms->version);
	if (v < src->vms->min || v < d->vms->min)
		reason(dv->reasons,
		       "%s: versions do not meet: the source saves %u..%u, "
		       "this host loads %u..%u",
		       src->vms->name, src->vms->min, src->vms->version,
		       d->vms->min, d->vms->version);
	else
		check_layout(dv->reasons, src->vms, d->vms, v);
	dv->version = v;
	check_subsections(dv, src, d);
	check_props(dv, src, ds);
out:
	dv->accepted = !dv->reasons->len;
	if (!dv->accepted)
		dv->version = 0;
	return dv;
}

/* The machine type: known here, not removed, and the one asked for. */
static const struct machine_type *check_machine(struct compat_verdict *v,
						const struct manifest *src,
						const struct manifest *dst,
						const char *dst_machine)
{
	const struct machine_registry *r = &dst->registry;
	const struct machine_type *t = machine_lookup(r, src->machine);
	const struct machine_type *repl = machine_replacement(r);
	char d1[MACHINE_DATE_LEN], d2[MACHINE_DATE_LEN];
	uint32_t dep, rem;

	if (!t) {
		g_autoptr(GString) names = g_string_new(NULL);

		for (size_t i = 0; i < r->n_types; i++)
			g_string_append_printf(names, "%s%s", i ? ", " : "",
					       r->types[i].name);
		reason(v->reasons,
		       "machine type %s is unknown here (this host has %s)",
		       src->machine, names->str);
		return NULL;
	}
	switch (machine_status(r, t, &dep, &rem)) {
	case MACHINE_REMOVED:
		reason(v->reasons,
		       "machine type %s was removed here on %s (6 years "
		       "after its release)%s%s",
		       t->name, machine_date_text(rem, d1),
		       repl ? "; use " : "", repl ? repl->name : "");
		break;
	case MACHINE_DEPRECATED:
		reason(v->warnings,
		       "machine type %s is deprecated here since %s and "
		       "will be removed on %s%s%s",
		       t->name, machine_date_text(dep, d1),
		       machine_date_text(rem, d2),
		       repl != t ? "; new guests should use " : "",
		       repl != t ? repl->name : "");
		break;
	case MACHINE_SUPPORTED:
		break;
	}
	if (dst_machine && !machine_lookup(r, dst_machine))
		reason(v->reasons,
		       "the destination was asked for machine type %s, "
		       "which is unknown here",
		       dst_machine);
	else if (dst_machine && machine_lookup(r, dst_machine) != t)
		reason(v->reasons,
		       "the destination was asked for machine type %s but "
		       "the guest runs %s",
		       dst_machine, t->name);
	return t;
}

struct compat_verdict *compat_negotiate(const struct manifest *src,
					const struct manifest *dst,
					const char *dst_machine)
{
	struct compat_verdict *v = g_new0(struct compat_verdict, 1);
	struct dest ds;

	v->machine = g_strdup(src->machine);
	v->tier = src->machine_alias ? COMPAT_TIER_UNVERSIONED
				     : COMPAT_TIER_VERSIONED;
	v->reasons = g_ptr_array_new_with_free_func(g_free);
	v->warnings = g_ptr_array_new_with_free_func(g_free);
	v->devices = g_ptr_array_new_with_free_func(
		(GDestroyNotify)device_verdict_free);

	dest_init(&ds, dst, check_machine(v, src, dst, dst_machine));
	for (guint i = 0; i < src->devices->len; i++) {
		struct compat_device_verdict *dv =
			negotiate_device(src->devices->pdata[i], &ds);

		v->n_refused += !dv->accepted;
		g_ptr_array_add(v->devices, dv);
	}
	dest_clear(&ds);
	v->accepted = !v->n_refused && !v->reasons->len;
	return v;
}

/* ---- output ---------------------------------------------------------- */

static void join(GString *s, const char *lead, const GPtrArray *a,
		 const char *sep)
{
	for (guint i = 0; i < a->len; i++)
		g_string_append_printf(s, "%s%s", i ? sep : lead,
				       (const char *)a->pdata[i]);
}

char *compat_verdict_text(const struct compat_verdict *v)
{
	GString *s = g_string_new(NULL);

	g_string_append_printf(
		s, "machine %s: %s\n", v->machine,
		v->tier == COMPAT_TIER_VERSIONED
			? "tier 1, versioned (forward migration guaranteed "
			  "while the type exists)"
			: "tier 2, started as the unversioned alias (no "
			  "guarantee across releases; checked here)");
	for (guint i = 0; i < v->warnings->len; i++)
		g_string_append_printf(s, "warning: %s\n",
				       (const char *)v->warnings->pdata[i]);
	for (guint i = 0; i < v->reasons->len; i++)
		g_string_append_printf(s, "refused: %s\n",
				       (const char *)v->reasons->pdata[i]);
	for (guint i = 0; i < v->devices->len; i++) {
		const struct compat_device_verdict *d = v->devices->pdata[i];

		g_string_append_printf(s, "%s (%s): ", d->id, d->type);
		if (d->accepted) {
			g_string_append_printf(s, "accepted at version %u",
					       d->version);
			join(s, "; knows ", d->known, ", ");
			join(s, "; drops optional ", d->dropped, ", ");
		} else {
			join(s, "refused: ", d->reasons, "; ");
		}
		g_string_append_c(s, '\n');
	}
	if (v->accepted)
		g_string_append_printf(s, "verdict: accepted, %u device%s\n",
				       v->devices->len,
				       v->devices->len == 1 ? "" : "s");
	else
		g_string_append_printf(
			s, "verdict: refused, %u of %u device%s refused%s\n",
			v->n_refused, v->devices->len,
			v->devices->len == 1 ? "" : "s",
			v->reasons->len ? ", and the machine type" : "");
	return g_string_free(s, FALSE);
}

static void strings(JsonBuilder *b, const char *key, const GPtrArray *a)
{
	json_builder_set_member_name(b, key);
	json_builder_begin_array(b);
	for (guint i = 0; i < a->len; i++)
		json_builder_add_string_value(b, a->pdata[i]);
	json_builder_end_array(b);
}

JsonNode *compat_verdict_node(const struct compat_verdict *v)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "accepted");
	json_builder_add_boolean_value(b, v->accepted);
	json_builder_set_member_name(b, "machine");
	json_builder_add_string_value(b, v->machine);
	json_builder_set_member_name(b, "tier");
	json_builder_add_int_value(b, v->tier);
	strings(b, "reasons", v->reasons);
	strings(b, "warnings", v->warnings);
	json_builder_set_member_name(b, "devices");
	json_builder_begin_array(b);
	for (guint i = 0; i < v->devices->len; i++) {
		const struct compat_device_verdict *d = v->devices->pdata[i];

		json_builder_begin_object(b);
		json_builder_set_member_name(b, "id");
		json_builder_add_string_value(b, d->id);
		json_builder_set_member_name(b, "type");
		json_builder_add_string_value(b, d->type);
		json_builder_set_member_name(b, "accepted");
		json_builder_add_boolean_value(b, d->accepted);
		if (d->accepted) {
			json_builder_set_member_name(b, "version");
			json_builder_add_int_value(b, d->version);
		}
		strings(b, "known_subsections", d->known);
		strings(b, "dropped_subsections", d->dropped);
		strings(b, "reasons", d->reasons);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}

char *compat_verdict_json(const struct compat_verdict *v)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = compat_verdict_node(v);

	json_generator_set_pretty(gen, TRUE);
	json_generator_set_root(gen, root);
	return json_generator_to_data(gen, NULL);
}
