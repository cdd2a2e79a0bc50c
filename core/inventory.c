// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/inventory.c - manifests and inventories from loaded modules.
 */
#include <string.h>

#include <modvmm/abi.h>

#include "device.h"
#include "inventory.h"

/* What this host writes, any other host must read. */
G_STATIC_ASSERT(VMS_MAX_ALL_SUBSECTIONS <= MANIFEST_MAX_SUBSECTIONS);
G_STATIC_ASSERT(VMS_MAX_ALL_SUBSECTIONS <= MANIFEST_MAX_STRUCTS);
G_STATIC_ASSERT(VMS_MAX_NAME <= MANIFEST_MAX_STRING);
G_STATIC_ASSERT(VMS_MAX_FIELDS + 1 <= MANIFEST_MAX_LAYOUTS);
G_STATIC_ASSERT(VMS_MAX_FIELDS <= MANIFEST_MAX_FIELDS);
G_STATIC_ASSERT(MODINFO_MAX_KNOWN_BAD <= MANIFEST_MAX_KNOWN_BAD);
G_STATIC_ASSERT(MODINFO_MAX_VALUE <= MANIFEST_MAX_STRING);
G_STATIC_ASSERT(LOADER_MAX_PROPERTIES <= MANIFEST_MAX_PROPS);

static gint u32_cmp(gconstpointer a, gconstpointer b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * v's versions 1..newest (min..newest is what it loads or saves), with a
 * layout entry where a field starts, so that two hosts whose fields agree
 * up to a version list the same entry for it whatever their oldest
 * versions are.
 */
static struct manifest_vms *describe(struct manifest *m,
				     const struct state_desc *v, uint32_t min)
{
	struct manifest_vms *mv = manifest_vms_new();
	g_autofree uint32_t *at = g_new(uint32_t, v->d.n_fields + 1u);
	char fp[VMS_FP_LEN + 1];
	uint32_t n = 0;

	mv->name = manifest_str(m, v->name);
	mv->version = v->d.version;
	mv->min = min;
	at[n++] = 1;
	for (uint32_t i = 0; i < v->d.n_fields; i++)
		if (v->fields[i].f.since <= v->d.version)
			at[n++] = MAX(v->fields[i].f.since, 1u);
	qsort(at, n, sizeof(*at), u32_cmp);
	for (uint32_t i = 0; i < n; i++) {
		GPtrArray *fields;

		if (i && at[i] == at[i - 1])
			continue;
		fields = g_ptr_array_new_with_free_func(g_free);
		vmstate_layout_fields(v, at[i], fields);
		vmstate_fingerprint(v, at[i], fp);
		manifest_vms_add_layout_fields(mv, at[i], fp, fields);
	}
	return mv;
}

struct subs_build {
	struct manifest *m;
	struct manifest_device *d;
	GHashTable *sent; /* a guest's: names it would send now */
};

static void add_sub(void *opaque, const struct state_sub *s,
		    const struct state_desc *parent, uint32_t since)
{
	struct subs_build *b = opaque;
	struct manifest_vms *mv =
		describe(b->m, s->vms,
			 b->sent ? s->vms->d.version : s->vms->d.min_version);

	mv->parent = manifest_str(b->m, parent->name);
	mv->since = since;
	mv->optional = !!(s->flags & MODVMM_VMS_OPTIONAL);
	mv->send = b->sent && g_hash_table_contains(b->sent, s->vms->name);
	g_ptr_array_add(b->d->subs, mv);
}

static void add_struct(void *opaque, const struct state_desc *desc,
		       const struct state_desc *parent, uint32_t since)
{
	struct subs_build *b = opaque;
	/* Always sent at its newest version. */
	struct manifest_vms *mv =
		describe(b->m, desc,
			 b->sent ? desc->d.version : desc->d.min_version);

	mv->parent = manifest_str(b->m, parent->name);
	mv->since = since;
	g_ptr_array_add(b->d->structs, mv);
}

void inventory_describe_state(struct manifest *m, struct manifest_device *d,
			      const struct state_desc *v, const void *state,
			      uint32_t saved)
{
	g_autoptr(GHashTable) sent =
		state ? g_hash_table_new(g_str_hash, g_str_equal) : NULL;
	struct subs_build b = { m, d, sent };

	d->vms = describe(m, v, state ? vmstate_min_save(v) : v->d.min_version);
	d->vms->saved = saved;
	if (state)
		vmstate_subsections_sent(v, state, saved ? saved : v->d.version,
					 sent);
	vmstate_foreach_subsection(v, add_sub, &b);
	vmstate_foreach_struct(v, add_struct, &b);
}

static void describe_type(struct manifest *m, struct manifest_device *d,
			  const struct device_type *dt)
{
	const struct modinfo *mi = dt->module->info;

	d->type = manifest_str(m, dt->t.name);
	d->module = manifest_str(m, mi->name);
	d->module_version = manifest_str(m, mi->version);
	d->intree = mi->intree;
}

/*
 * Every property of the device's type (state NULL: an inventory's), with
 * its legacy value; a guest's with its value and who set it.
 */
static void describe_props(struct manifest *m, struct manifest_device *d,
			   const struct device_type *dt,
			   const struct modvmm_device *dev)
{
	d->props_complete = !!dev;
	for (uint32_t i = 0; i < dt->t.n_properties; i++) {
		const struct modvmm_property *p = &dt->props[i];
		struct manifest_prop *mp = g_new0(struct manifest_prop, 1);
		g_autofree char *legacy = device_prop_legacy_text(p);

		mp->property = manifest_str(m, p->name);
		mp->legacy = manifest_str(m, legacy);
		if (dev) {
			g_autofree char *value = device_prop_text(dev, p);

			mp->value = manifest_str(m, value);
			mp->set = dev->prop_origin[i] != DEVICE_PROP_DEFAULT;
			mp->machine = dev->prop_origin[i] == DEVICE_PROP_MACHINE;
		}
		g_ptr_array_add(d->props, mp);
	}
}

struct manifest *inventory_guest(struct vm_devices *devs,
				 const struct machine_type *t, int alias,
				 const struct cpu_model *cpu, int saved)
{
	struct manifest *m = manifest_new(MANIFEST_GUEST);

	m->cpu = cpu ? cpu_model_copy(cpu) : NULL;
	m->abi = manifest_str(m, MODVMM_ABI_STRING);
	m->machine = manifest_str(m, t->name);
	m->machine_alias = alias;
	g_mutex_lock(&devs->lock);
	for (guint i = 0; i < devs->devices->len; i++) {
		struct modvmm_device *dev = devs->devices->pdata[i];
		struct manifest_device *d = manifest_add_device(m);

		describe_type(m, d, dev->type);
		d->id = manifest_str(m, dev->id);
		if (dev->type->vms)
			inventory_describe_state(
				m, d, dev->type->vms, dev->state,
				saved ? dev->type->vms->d.version : 0);
		describe_props(m, d, dev->type, dev);
	}
	g_mutex_unlock(&devs->lock);
	return m;
}

struct manifest *inventory_new(const struct machine_registry *r)
{
	struct manifest *m = manifest_new(MANIFEST_INVENTORY);

	m->abi = manifest_str(m, MODVMM_ABI_STRING);
	m->registry.alias = manifest_str(m, r->alias);
	m->registry.build_date = r->build_date;
	for (size_t i = 0; i < r->n_types; i++)
		manifest_add_machine(m, &r->types[i]);
	return m;
}

struct manifest *inventory_host(struct loader *l,
				const struct machine_registry *r,
				const struct cpu_model *cpu)
{
	struct manifest *m = inventory_new(r);
	const GPtrArray *mods = loader_modules(l);

	m->cpu = cpu ? cpu_model_copy(cpu) : NULL;
	for (guint i = 0; i < mods->len; i++) {
		const struct module *mod = mods->pdata[i];

		for (guint j = 0; j < mod->types->len; j++) {
			const struct device_type *dt = mod->types->pdata[j];
			struct manifest_device *d = manifest_add_device(m);

			describe_type(m, d, dt);
			describe_props(m, d, dt, NULL);
			if (dt->vms)
				inventory_describe_state(m, d, dt->vms, NULL,
							 0);
			for (guint k = 0; k < mod->info->known_bad->len; k++) {
				const char *kb = mod->info->known_bad->pdata[k];
				const char *colon = strstr(kb, ": ");
				struct manifest_known_bad *b =
					g_new0(struct manifest_known_bad, 1);
				g_autofree char *version =
					g_strndup(kb, (gsize)(colon - kb));

				b->version = manifest_str(m, version);
				b->reason = manifest_str(m, colon + 2);
				g_ptr_array_add(d->known_bad, b);
			}
		}
	}
	return m;
}
