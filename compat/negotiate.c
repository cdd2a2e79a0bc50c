// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * compat/negotiate.c - the verdict: can this host load this guest's state?
 * The one owner of the compatibility rule (docs/compat.md, "The rule"):
 * every command that judges compatibility calls compat_negotiate(), and
 * the source's stop-time re-check reads the verdict a destination sent
 * with compat_verdict_parse() and judges it with compat_recheck().
 *
 * Per device: the newest version both can use at which the state loads
 * here (a snapshot's: the one it was saved at); layouts compared field by
 * field at that version; every subsection and nested struct on the wire
 * then known here, at a version loaded here, with a matching layout,
 * unless optional (then the source drops it, and what is inside it);
 * properties one side lacks judged by their legacy values; a source
 * module version the destination's module declares known-bad refused
 * with the module's reason. The machine type must be known and not
 * removed here; the guest's CPU is judged by compat_cpu_judge()
 * (compat/cpu.c). Every failure is collected, none stops the others, so
 * an operator sees the whole list at once.
 */
#include <errno.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "base/error.h"
#include "base/json-read.h"
#include "compat/negotiate.h"

static void device_verdict_free(struct compat_device_verdict *d)
{
	g_free((char *)d->id);
	g_free((char *)d->type);
	g_ptr_array_unref(d->known);
	g_ptr_array_unref(d->dropped);
	g_ptr_array_unref(d->reasons);
	g_ptr_array_unref(d->ignored);
	g_ptr_array_unref(d->added);
	g_free(d);
}

void compat_verdict_free(struct compat_verdict *v)
{
	if (!v)
		return;
	g_free((char *)v->machine);
	g_free(v->text);
	g_ptr_array_unref(v->reasons);
	g_ptr_array_unref(v->warnings);
	g_ptr_array_unref(v->cpu);
	g_ptr_array_unref(v->devices);
	g_free(v);
}

static struct compat_device_verdict *device_verdict_new(const char *id,
							const char *type)
{
	struct compat_device_verdict *d =
		g_new0(struct compat_device_verdict, 1);

	d->id = g_strdup(id);
	d->type = g_strdup(type);
	d->known = g_ptr_array_new_with_free_func(g_free);
	d->dropped = g_ptr_array_new_with_free_func(g_free);
	d->reasons = g_ptr_array_new_with_free_func(g_free);
	d->ignored = g_ptr_array_new_with_free_func(g_free);
	d->added = g_ptr_array_new_with_free_func(g_free);
	return d;
}

static void reason(GPtrArray *to, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void reason(GPtrArray *to, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	g_ptr_array_add(to, g_strdup_vprintf(fmt, ap));
	va_end(ap);
}

/*
 * The destination's subsection `src` is: the same name, in the same
 * description where both sides say where (elsewhere, the loader would not
 * know it there).
 */
static const struct manifest_vms *find_sub(const struct manifest_device *d,
					   const struct manifest_vms *src)
{
	for (guint i = 0; i < d->subs->len; i++) {
		const struct manifest_vms *s = d->subs->pdata[i];

		if (!strcmp(s->name, src->name))
			return !s->parent || !src->parent ||
					       !strcmp(s->parent, src->parent)
				       ? s
				       : NULL;
	}
	return NULL;
}

/* The layouts of one description at `version` on both sides. */
/* A field of a layout (vmstate_layout_fields()): its bytes, its flag. */
static uint64_t field_bytes(const char *f)
{
	return g_ascii_strtoull(f, NULL, 10);
}

static char field_flag(const char *f)
{
	const char *colon = strchr(f, ':');

	return colon ? colon[1] : '?';
}

/*
 * The fields the source sends (a) against those this host reads (b). Equal
 * fields pair up. Where either side has a retired slot, the bytes are
 * lined up until both sides end together: one side must be all slots
 * there (a field and a slot share bytes, two fields never do), fixed in
 * size, and this host may read a slot's zeros only into fields that
 * reuse a slot. A field this host retired is dropped; a slot split or
 * merged is the same bytes.
 */
static int fields_match(const GPtrArray *a, const GPtrArray *b)
{
	guint i = 0, j = 0;

	while (i < a->len && j < b->len) {
		const char *x = a->pdata[i], *y = b->pdata[j];
		uint64_t na, nb;
		int a_slots, b_slots, b_takes;

		if (field_flag(x) != 's' && field_flag(y) != 's') {
			if (strcmp(x, y))
				return 0;
			i++, j++;
			continue;
		}
		na = field_bytes(x);
		nb = field_bytes(y);
		a_slots = field_flag(x) == 's';
		b_slots = field_flag(y) == 's';
		b_takes = field_flag(y) != '-';
		i++, j++;
		while (na && nb && na != nb) {
			const char *t;

			if (na < nb) {
				if (i == a->len || !field_bytes(a->pdata[i]))
					return 0;
				t = a->pdata[i++];
				na += field_bytes(t);
				a_slots &= field_flag(t) == 's';
			} else {
				if (j == b->len || !field_bytes(b->pdata[j]))
					return 0;
				t = b->pdata[j++];
				nb += field_bytes(t);
				b_slots &= field_flag(t) == 's';
				b_takes &= field_flag(t) != '-';
			}
		}
		if (!na || na != nb || (!a_slots && !b_slots) ||
		    (a_slots && !b_takes))
			return 0;
	}
	return i == a->len && j == b->len;
}

/* The layouts of one description at `version` on both sides. */
static void check_layout(GPtrArray *reasons, const struct manifest_vms *src,
			 const struct manifest_vms *dst, uint32_t version)
{
	const struct manifest_layout *a = manifest_vms_layout_at(src, version);
	const struct manifest_layout *b = manifest_vms_layout_at(dst, version);

	/* Field by field where both list their fields; else the digests. */
	if (a && b && a->fields && b->fields ? fields_match(a->fields, b->fields)
	    : a && b			     ? !strcmp(a->fp, b->fp)
					     : 0)
		return;
	reason(reasons,
	       "%s version %u has a different layout here (fingerprint %s at "
	       "the source, %s here)",
	       src->name, version, a ? a->fp : "none", b ? b->fp : "none");
}

/*
 * A subsection or a struct's description at the version the source sends
 * it (its newest), against this host's.
 */
static void check_sent(GPtrArray *reasons, const char *what,
		       const struct manifest_vms *s,
		       const struct manifest_vms *d)
{
	if (s->version < d->min || s->version > d->version)
		reason(reasons,
		       "%s %s is sent at version %u; this host loads "
		       "%u..%u",
		       what, s->name, s->version, d->min, d->version);
	else
		check_layout(reasons, s, d, s->version);
}

static const struct manifest_vms *find_vms(const GPtrArray *list,
					   const char *name)
{
	for (guint i = 0; i < list->len; i++) {
		const struct manifest_vms *v = list->pdata[i];

		if (!strcmp(v->name, name))
			return v;
	}
	return NULL;
}

/*
 * A subsection or nested struct's description of the source, judged once
 * against this host's (its version and layout do not depend on the
 * agreed version); whether it is on the wire does, and is worked out per
 * version from its parent's.
 */
struct part {
	const struct manifest_vms *s, *d; /* d: this host's, or NULL */
	int sub;			  /* a subsection, else a struct */
	int parent;			  /* index of its parent part, or -1 */
	GPtrArray *why;			  /* check_sent()'s reasons */
	unsigned int gen;		  /* the try `on` and `inner` are of */
	int on;				  /* on the wire at the version tried */
	int inner;			  /* and so are its own parts */
};

struct parts {
	GArray *all;	  /* struct part */
	unsigned int gen; /* one per version tried */
};

static void parts_clear(struct parts *ps)
{
	for (guint i = 0; i < ps->all->len; i++) {
		struct part *p = &g_array_index(ps->all, struct part, i);

		g_ptr_array_unref(p->why);
	}
	g_array_unref(ps->all);
}

static void parts_add(struct parts *ps, GHashTable *index, const GPtrArray *list,
		      int sub, const struct manifest_device *dst)
{
	for (guint i = 0; i < list->len; i++) {
		struct part p = { .s = list->pdata[i], .sub = sub, .parent = -1 };

		p.d = sub ? find_sub(dst, p.s) : find_vms(dst->structs, p.s->name);
		p.why = g_ptr_array_new_with_free_func(g_free);
		if (p.d)
			check_sent(p.why, sub ? "subsection" : "struct", p.s, p.d);
		g_hash_table_insert(index, (char *)p.s->name,
				    GUINT_TO_POINTER(ps->all->len + 1));
		g_array_append_val(ps->all, p);
	}
}

/* A parent not listed is taken as the top. */
static void parts_init(struct parts *ps, const struct manifest_device *src,
		       const struct manifest_device *dst)
{
	g_autoptr(GHashTable) index = g_hash_table_new(g_str_hash, g_str_equal);

	ps->all = g_array_new(FALSE, TRUE, sizeof(struct part));
	parts_add(ps, index, src->subs, 1, dst);
	parts_add(ps, index, src->structs, 0, dst);
	for (guint i = 0; i < ps->all->len; i++) {
		struct part *p = &g_array_index(ps->all, struct part, i);
		guint at = p->s->parent ? GPOINTER_TO_UINT(g_hash_table_lookup(
						  index, p->s->parent))
					: 0;

		p->parent = at && at - 1 != i ? (int)at - 1 : -1;
	}
}

/*
 * The subsections and structs at `version`: on the wire when a field the
 * version sends holds them and their parent is on the wire here (a
 * subsection not sent, unknown here, or dropped takes its own along).
 */
static void part_on(struct parts *ps, int i, uint32_t version)
{
	struct part *p = &g_array_index(ps->all, struct part, i);

	if (p->gen == ps->gen)
		return; /* done, or a parent of its own: off */
	p->gen = ps->gen;
	p->on = p->inner = 0;
	if (p->parent >= 0)
		part_on(ps, p->parent, version);
	p->on = p->s->since <= version &&
		(p->parent < 0 ||
		 g_array_index(ps->all, struct part, p->parent).inner);
	p->inner = p->on && (!p->sub || (p->s->send && p->d));
}

static void check_parts(struct compat_device_verdict *dv, GPtrArray *reasons,
			struct parts *ps, uint32_t version)
{
	ps->gen++;
	for (guint i = 0; i < ps->all->len; i++) {
		struct part *p = &g_array_index(ps->all, struct part, i);

		part_on(ps, (int)i, version);
		if (!p->on)
			continue;
		if (!p->sub) {
			/* None here: the field that holds it differs. */
			for (guint j = 0; p->d && j < p->why->len; j++)
				g_ptr_array_add(reasons,
						g_strdup(p->why->pdata[j]));
			continue;
		}
		if (!p->d) {
			if (!p->s->send)
				continue; /* re-checked when the guest stops */
			if (p->s->optional)
				g_ptr_array_add(dv->dropped,
						g_strdup(p->s->name));
			else
				reason(reasons,
				       "subsection %s would be sent and is "
				       "unknown here (not optional)",
				       p->s->name);
			continue;
		}
		/* One not sent now is listed as known only if it would load
		 * should it become needed: the stop-time re-check relies on
		 * the list. */
		if (p->s->send || !p->why->len)
			g_ptr_array_add(dv->known, g_strdup(p->s->name));
		for (guint j = 0; p->s->send && j < p->why->len; j++)
			g_ptr_array_add(reasons, g_strdup(p->why->pdata[j]));
	}
}

/* Every reason the state would not load here at `version`. */
static void check_version(struct compat_device_verdict *dv, GPtrArray *reasons,
			  const struct manifest_device *src,
			  const struct manifest_device *dst, struct parts *ps,
			  uint32_t version)
{
	g_ptr_array_set_size(dv->known, 0);
	g_ptr_array_set_size(dv->dropped, 0);
	check_layout(reasons, src->vms, dst->vms, version);
	check_parts(dv, reasons, ps, version);
}

static void add_breaks(GArray *at, const struct manifest_vms *v, int layouts)
{
	for (guint i = 0; layouts && i < v->layouts->len; i++)
		g_array_append_val(
			at, g_array_index(v->layouts, struct manifest_layout, i)
				    .since);
	if (!layouts && v->since)
		g_array_append_val(at, v->since);
}

static gint u32_desc(gconstpointer a, gconstpointer b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x > y ? -1 : x < y;
}

/*
 * The agreed version: the newest in lo..hi at which the state loads here.
 * What the rule looks at changes only where a layout or a field holding a
 * subsection or struct starts, so the newest version before each such
 * point is tried, newest first. None: the reasons for `hi`.
 */
static uint32_t agree(struct compat_device_verdict *dv,
		      const struct manifest_device *src,
		      const struct manifest_device *dst, struct parts *ps,
		      uint32_t lo, uint32_t hi)
{
	g_autoptr(GArray) at = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	g_autoptr(GPtrArray) newest = g_ptr_array_new_with_free_func(g_free);
	uint32_t last = 0;

	add_breaks(at, src->vms, 1);
	add_breaks(at, dst->vms, 1);
	for (guint i = 0; i < src->subs->len; i++)
		add_breaks(at, src->subs->pdata[i], 0);
	for (guint i = 0; i < src->structs->len; i++)
		add_breaks(at, src->structs->pdata[i], 0);
	g_array_sort(at, u32_desc);
	check_version(dv, newest, src, dst, ps, hi);
	if (!newest->len)
		return hi;
	for (guint i = 0; i < at->len; i++) {
		uint32_t v = g_array_index(at, uint32_t, i) - 1;
		g_autoptr(GPtrArray) why = NULL;

		if (v >= hi || v < lo || v == last)
			continue;
		last = v;
		why = g_ptr_array_new_with_free_func(g_free);
		check_version(dv, why, src, dst, ps, v);
		if (!why->len)
			return v;
	}
	/* The lists of the newest version, with its reasons. */
	check_version(dv, dv->reasons, src, dst, ps, hi);
	return hi;
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

static const struct manifest_prop *find_prop(const struct manifest_device *d,
					     const char *name)
{
	for (guint i = 0; i < d->props->len; i++) {
		const struct manifest_prop *p = d->props->pdata[i];

		if (!strcmp(p->property, name))
			return p;
	}
	return NULL;
}

/*
 * Properties. One this host's type lacks goes with the guest only where
 * it cannot change how the device behaves: at its legacy value, or, if
 * it declares none, when nobody set it; the destination then creates the
 * device without it. One the source's type lacked gets its legacy value
 * here. A value a compat property of the machine type gave must be what
 * that type gives here.
 */
static void check_props(struct compat_device_verdict *dv,
			const struct manifest_device *src,
			const struct manifest_device *dst,
			const struct dest *ds)
{
	for (guint i = 0; i < src->props->len; i++) {
		const struct manifest_prop *p = src->props->pdata[i];
		g_autofree char *key = NULL;
		const struct compat_prop *here;

		if (!find_prop(dst, p->property)) {
			if (p->legacy ? !strcmp(p->value, p->legacy) : !p->set)
				g_ptr_array_add(dv->ignored,
						g_strdup(p->property));
			else if (p->legacy)
				reason(dv->reasons,
				       "property %s is %s at the source; module "
				       "%s %s here lacks it and behaves as %s=%s",
				       p->property, p->value, dst->module,
				       dst->module_version, p->property,
				       p->legacy);
			else
				reason(dv->reasons,
				       "property %s=%s, set on the source, is "
				       "unknown to %s %s here",
				       p->property, p->value, dst->module,
				       dst->module_version);
			continue;
		}
		if (!p->machine || !ds->t)
			continue;
		key = g_strconcat(src->type, "\n", p->property, NULL);
		here = g_hash_table_lookup(ds->props, key);
		if (here && strcmp(here->value, p->value))
			reason(dv->reasons,
			       "compat property %s.%s is %s at the source "
			       "but %s here for machine type %s",
			       src->type, p->property, p->value, here->value,
			       ds->t->name);
	}
	for (guint i = 0; src->props_complete && i < dst->props->len; i++) {
		const struct manifest_prop *p = dst->props->pdata[i];

		if (p->legacy && !find_prop(src, p->property))
			g_ptr_array_add(dv->added,
					g_strdup_printf("%s=%s", p->property,
							p->legacy));
	}
}

static struct compat_device_verdict *
negotiate_device(const struct manifest_device *src, const struct dest *ds)
{
	struct compat_device_verdict *dv =
		device_verdict_new(src->id, src->type);
	const struct manifest_device *d = g_hash_table_lookup(ds->types,
							      src->type);
	struct parts ps;
	uint32_t lo, hi;
	int meet;

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
	/* A snapshot's state is saved already: at that version only. */
	lo = src->vms->saved ? src->vms->saved : src->vms->min;
	hi = src->vms->saved ? src->vms->saved : src->vms->version;
	meet = MIN(hi, d->vms->version) >= MAX(lo, d->vms->min);
	if (!meet && src->vms->saved)
		reason(dv->reasons,
		       "%s: the state was saved at version %u, this host "
		       "loads %u..%u",
		       src->vms->name, src->vms->saved, d->vms->min,
		       d->vms->version);
	else if (!meet)
		reason(dv->reasons,
		       "%s: versions do not meet: the source saves %u..%u, "
		       "this host loads %u..%u",
		       src->vms->name, lo, hi, d->vms->min, d->vms->version);
	parts_init(&ps, src, d);
	if (!meet) /* Every reason: the rest, at the newest common version. */
		check_parts(dv, dv->reasons, &ps, MIN(hi, d->vms->version));
	else
		dv->version = agree(dv, src, d, &ps, MAX(lo, d->vms->min),
				    MIN(hi, d->vms->version));
	parts_clear(&ps);
	check_props(dv, src, d, ds);
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

/*
 * The guest's CPU against what this host offers. A guest that lists none
 * is judged as before, with a warning where this host could have checked
 * it; a guest that lists one cannot go to a host that lists none.
 */
static void check_cpu(struct compat_verdict *v, const struct manifest *src,
		      const struct manifest *dst)
{
	if (!src->cpu) {
		if (dst->cpu)
			reason(v->warnings,
			       "the guest's manifest lists no CPU: its CPU is "
			       "not checked");
		return;
	}
	if (!dst->cpu)
		reason(v->cpu,
		       "the guest runs CPU model %s, and this host's inventory "
		       "lists no CPU",
		       src->cpu->name);
	else
		compat_cpu_judge(src->cpu, dst->cpu, v->cpu);
	for (guint i = 0; i < v->cpu->len; i++)
		g_ptr_array_add(v->reasons, g_strdup(v->cpu->pdata[i]));
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
	v->cpu = g_ptr_array_new_with_free_func(g_free);
	v->devices = g_ptr_array_new_with_free_func(
		(GDestroyNotify)device_verdict_free);

	dest_init(&ds, dst, check_machine(v, src, dst, dst_machine));
	check_cpu(v, src, dst);
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
			join(s, "; without its property ", d->ignored, ", ");
			join(s, "; sets new property ", d->added, ", ");
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
			s, "verdict: refused, %u of %u device%s refused%s%s\n",
			v->n_refused, v->devices->len,
			v->devices->len == 1 ? "" : "s",
			v->reasons->len > v->cpu->len ? ", and the machine type"
						      : "",
			v->cpu->len ? ", and the CPU" : "");
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
	g_autofree char *text = compat_verdict_text(v);

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "accepted");
	json_builder_add_boolean_value(b, v->accepted);
	json_builder_set_member_name(b, "verdict");
	json_builder_add_string_value(b, text);
	json_builder_set_member_name(b, "machine");
	json_builder_add_string_value(b, v->machine);
	json_builder_set_member_name(b, "tier");
	json_builder_add_int_value(b, v->tier);
	strings(b, "reasons", v->reasons);
	strings(b, "warnings", v->warnings);
	strings(b, "cpu_reasons", v->cpu);
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
		strings(b, "ignored_properties", d->ignored);
		strings(b, "added_properties", d->added);
		strings(b, "reasons", d->reasons);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	/* What a source needs of it, as every release has read it: per
	 * accepted device, the version to save at and the subsections known
	 * here, for the re-check when it stops the guest. */
	json_builder_set_member_name(b, "versions");
	json_builder_begin_object(b);
	for (guint i = 0; i < v->devices->len; i++) {
		const struct compat_device_verdict *d = v->devices->pdata[i];

		if (!d->accepted)
			continue;
		json_builder_set_member_name(b, d->id);
		json_builder_add_int_value(b, d->version);
	}
	json_builder_end_object(b);
	json_builder_set_member_name(b, "known");
	json_builder_begin_object(b);
	for (guint i = 0; i < v->devices->len; i++) {
		const struct compat_device_verdict *d = v->devices->pdata[i];

		if (!d->accepted)
			continue;
		strings(b, d->id, d->known);
	}
	json_builder_end_object(b);
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

/* ---- the verdict on the wire --------------------------------------------- */

char *compat_verdict_wire(const struct compat_verdict *v)
{
	g_autoptr(JsonNode) n = compat_verdict_node(v);

	return json_to_string(n, FALSE);
}

static struct compat_device_verdict *wire_device(struct compat_verdict *v,
						 const char *id)
{
	struct compat_device_verdict *d;

	for (guint i = 0; i < v->devices->len; i++) {
		d = v->devices->pdata[i];
		if (!strcmp(d->id, id))
			return d;
	}
	/* The wire carries no type: only what a source needs. */
	d = device_verdict_new(id, NULL);
	d->accepted = 1;
	g_ptr_array_add(v->devices, d);
	return d;
}

/* The verdict's "versions": each device's agreed state version. */
static int wire_versions(struct json_read *rd, JsonObject *o,
			 struct compat_verdict *v)
{
	JsonObject *versions;
	JsonObjectIter it;
	const char *id;
	JsonNode *m;
	int r = json_read_object(rd, o, NULL, "versions", &versions);

	if (r < 0 || !versions)
		return r;
	json_object_iter_init(&it, versions);
	while (json_object_iter_next(&it, &id, &m)) {
		int64_t version;

		r = json_read_node_int(rd, m, "versions", id, 1, UINT32_MAX,
				       &version);
		if (r < 0)
			return r;
		wire_device(v, id)->version = (uint32_t)version;
	}
	return 0;
}

static int wire_known(struct json_read *rd, JsonObject *o,
		      struct compat_verdict *v)
{
	JsonObject *known;
	JsonObjectIter it;
	const char *id;
	JsonNode *m;
	int r = json_read_object(rd, o, NULL, "known", &known);

	if (r < 0 || !known)
		return r;
	json_object_iter_init(&it, known);
	while (json_object_iter_next(&it, &id, &m)) {
		struct compat_device_verdict *d;
		GPtrArray *names;

		if (!JSON_NODE_HOLDS_ARRAY(m))
			return json_read_fail(rd, "known", id,
					      "expected an array");
		r = json_read_strings(rd, known, "known", id,
				      MANIFEST_MAX_SUBSECTIONS +
					      MANIFEST_MAX_STRUCTS,
				      MANIFEST_MAX_STRING, &names);
		if (r < 0)
			return r;
		d = wire_device(v, id);
		for (guint i = 0; i < names->len; i++)
			g_ptr_array_add(d->known, g_strdup(names->pdata[i]));
		g_ptr_array_unref(names);
	}
	return 0;
}

static int wire_read(struct json_read *rd, JsonObject *o,
		     struct compat_verdict *v)
{
	JsonNode *text = json_object_get_member(o, "verdict");
	int accepted, r;

	r = json_read_bool(rd, o, NULL, "accepted", &accepted);
	if (r < 0)
		return r;
	v->accepted = accepted;
	/* Free text, lines and all: only its type is checked. */
	if (text && json_read_type(text) != G_TYPE_STRING)
		return json_read_fail(rd, NULL, "verdict", "expected a string");
	v->text = g_strdup(text ? json_node_get_string(text) : "");
	r = wire_versions(rd, o, v);
	return r < 0 ? r : wire_known(rd, o, v);
}

int compat_verdict_parse(const char *what, const char *data, size_t len,
			 struct compat_verdict **ret, GError **error)
{
	g_autoptr(JsonParser) p = json_parser_new_immutable();
	struct compat_verdict *v = g_new0(struct compat_verdict, 1);
	g_autoptr(GError) err = NULL;
	struct json_read rd = { .error = &err };
	JsonObject *o;
	int r;

	v->reasons = g_ptr_array_new_with_free_func(g_free);
	v->warnings = g_ptr_array_new_with_free_func(g_free);
	v->cpu = g_ptr_array_new_with_free_func(g_free);
	v->devices = g_ptr_array_new_with_free_func(
		(GDestroyNotify)device_verdict_free);
	r = json_read_parse(p, data, len, COMPAT_VERDICT_MAX_DEPTH, &err);
	if (!r && !(o = json_read_root_object(p)))
		r = error_setf(&err, EINVAL, "not an object");
	if (!r)
		r = wire_read(&rd, o, v);
	if (r < 0) {
		compat_verdict_free(v);
		return error_setf(
			error, EPROTO,
			"%s: the destination's verdict is not one: %s", what,
			err->message);
	}
	*ret = v;
	return 0;
}

static const struct manifest_device *find_guest_device(const struct manifest *m,
							const char *id)
{
	for (guint i = 0; i < m->devices->len; i++) {
		const struct manifest_device *d = m->devices->pdata[i];

		if (d->id && !strcmp(d->id, id))
			return d;
	}
	return NULL;
}

int compat_verdict_check(const char *what, const struct compat_verdict *v,
			 const struct manifest *offered, GError **error)
{
	g_autoptr(GPtrArray) reasons = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GString) all = g_string_new(NULL);

	if (!v->accepted)
		return 0;
	for (guint i = 0; i < offered->devices->len; i++) {
		const struct manifest_device *d = offered->devices->pdata[i];
		uint32_t agreed = compat_verdict_version(v, d->id);

		if (!d->vms)
			continue;
		if (!agreed)
			reason(reasons,
			       "%s (%s): no agreed state version (0); this "
			       "source saves versions %u-%u",
			       d->id, d->type, d->vms->min, d->vms->version);
		else if (agreed < d->vms->min || agreed > d->vms->version)
			reason(reasons,
			       "%s (%s): agreed state version %u, this source "
			       "saves versions %u-%u",
			       d->id, d->type, agreed, d->vms->min,
			       d->vms->version);
	}
	for (guint i = 0; i < v->devices->len; i++) {
		const struct compat_device_verdict *dv = v->devices->pdata[i];

		if (!find_guest_device(offered, dv->id))
			reason(reasons,
			       "%.64s: a device this guest does not have",
			       dv->id);
	}
	if (!reasons->len)
		return 0;
	for (guint i = 0; i < reasons->len; i++)
		g_string_append_printf(all, "%s%s", i ? "; " : "",
				       (const char *)reasons->pdata[i]);
	return error_setf(error, EPROTO,
			  "%s: the destination's verdict agrees to what this "
			  "source did not offer: %s",
			  what, all->str);
}

uint32_t compat_verdict_version(const struct compat_verdict *v, const char *id)
{
	for (guint i = 0; i < v->devices->len; i++) {
		const struct compat_device_verdict *d = v->devices->pdata[i];

		if (d->accepted && !strcmp(d->id, id))
			return d->version;
	}
	return 0;
}

void compat_recheck(const struct compat_verdict *v, const struct manifest *now,
		    GPtrArray *reasons)
{
	for (guint i = 0; i < now->devices->len; i++) {
		const struct manifest_device *d = now->devices->pdata[i];
		const struct compat_device_verdict *dv = NULL;
		g_autoptr(GHashTable) known =
			g_hash_table_new(g_str_hash, g_str_equal);
		/* Subsections that go on the wire there, parents first. */
		g_autoptr(GHashTable) going =
			g_hash_table_new(g_str_hash, g_str_equal);

		for (guint j = 0; j < v->devices->len && !dv; j++)
			if (!strcmp(((struct compat_device_verdict *)
					     v->devices->pdata[j])
					    ->id,
				    d->id))
				dv = v->devices->pdata[j];
		for (guint k = 0; dv && k < dv->known->len; k++)
			g_hash_table_add(known, dv->known->pdata[k]);
		for (guint j = 0; j < d->subs->len; j++) {
			const struct manifest_vms *s = d->subs->pdata[j];

			/* Not sent, in a field the agreed version leaves
			 * out, or in a subsection that does not go. */
			if (!s->send || (dv && s->since > dv->version) ||
			    (s->parent && find_vms(d->subs, s->parent) &&
			     !g_hash_table_contains(going, s->parent)))
				continue;
			if (g_hash_table_contains(known, s->name))
				g_hash_table_add(going, (char *)s->name);
			else if (!s->optional) /* optional: skipped there */
				reason(reasons,
				       "%s (%s): subsection %s became needed "
				       "after the verdict and the destination "
				       "does not know it",
				       d->id, d->type, s->name);
		}
	}
}
