// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/inventory.c - manifests and inventories from loaded modules.
 */
#include <string.h>

#include <modvmm/abi.h>

#include "device.h"
#include "inventory.h"

/* Layouts of v from `min` to its version: one entry per change. */
/* What this host writes, any other host must read. */
G_STATIC_ASSERT(VMS_MAX_ALL_SUBSECTIONS <= MANIFEST_MAX_SUBSECTIONS);
G_STATIC_ASSERT(VMS_MAX_NAME <= MANIFEST_MAX_STRING);
G_STATIC_ASSERT(VMS_MAX_FIELDS + 1 <= MANIFEST_MAX_LAYOUTS);
G_STATIC_ASSERT(MODINFO_MAX_KNOWN_BAD <= MANIFEST_MAX_KNOWN_BAD);
G_STATIC_ASSERT(MODINFO_MAX_VALUE <= MANIFEST_MAX_STRING);

static struct manifest_vms *describe(struct manifest *m, const struct vms *v,
				     uint32_t min)
{
	struct manifest_vms *mv = manifest_vms_new();
	char fp[VMS_FP_LEN + 1];

	mv->name = manifest_str(m, v->name);
	mv->version = v->d.version;
	mv->min = min;
	vmstate_fingerprint(v, min, fp);
	manifest_vms_add_layout(mv, min, fp);
	/* The layout changes only where a field starts. */
	for (uint32_t ver = min + 1; ver <= v->d.version; ver++) {
		int starts = 0;

		for (uint32_t i = 0; i < v->d.n_fields && !starts; i++)
			starts = v->fields[i].f.since == ver;
		if (!starts)
			continue;
		vmstate_fingerprint(v, ver, fp);
		manifest_vms_add_layout(mv, ver, fp);
	}
	return mv;
}

/*
 * Subsections at every depth, parents first. `state` is the device's
 * (NULL for an inventory); a child is sent only with its parent.
 */
static void describe_subs(struct manifest *m, struct manifest_device *d,
			  const struct vms *v, void *state, int parent_sent)
{
	for (uint32_t i = 0; i < v->d.n_subsections; i++) {
		const struct vms_sub *s = &v->subs[i];
		struct manifest_vms *mv;

		mv = describe(m, s->vms,
			      state ? s->vms->d.version : s->vms->d.min_version);
		mv->optional = !!(s->flags & MODVMM_VMS_OPTIONAL);
		mv->send = state && parent_sent &&
			   (!s->needed || s->needed(state));
		g_ptr_array_add(d->subs, mv);
		describe_subs(m, d, s->vms, state, mv->send);
	}
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

struct props_build {
	struct manifest *m;
	struct manifest_device *d;
};

static void add_prop(void *opaque, const struct compat_prop *p)
{
	struct props_build *b = opaque;
	struct compat_prop *cp = NULL;

	if (strcmp(p->device, b->d->type))
		return;
	/* Older types come later and win, as at device creation. */
	for (guint i = 0; i < b->d->props->len && !cp; i++)
		if (!strcmp(((struct compat_prop *)b->d->props->pdata[i])
				    ->property,
			    p->property))
			cp = b->d->props->pdata[i];
	if (!cp) {
		cp = g_new0(struct compat_prop, 1);
		cp->device = b->d->type;
		cp->property = manifest_str(b->m, p->property);
		g_ptr_array_add(b->d->props, cp);
	}
	cp->value = manifest_str(b->m, p->value);
}

struct manifest *inventory_guest(struct vmm *vmm,
				 const struct machine_registry *r,
				 const struct machine_type *t, int alias)
{
	struct manifest *m = manifest_new(MANIFEST_GUEST);

	m->abi = manifest_str(m, MODVMM_ABI_STRING);
	m->machine = manifest_str(m, t->name);
	m->machine_alias = alias;
	g_mutex_lock(&vmm->lock);
	for (guint i = 0; i < vmm->devices->len; i++) {
		struct modvmm_device *dev = vmm->devices->pdata[i];
		struct manifest_device *d = manifest_add_device(m);
		struct props_build b = { m, d };

		describe_type(m, d, dev->type);
		d->id = manifest_str(m, dev->id);
		if (dev->type->vms) {
			d->vms = describe(m, dev->type->vms,
					  vmstate_min_save(dev->type->vms));
			describe_subs(m, d, dev->type->vms, dev->state, 1);
		}
		machine_compat_props(r, t, add_prop, &b);
	}
	g_mutex_unlock(&vmm->lock);
	return m;
}

struct manifest *inventory_host(struct loader *l,
				const struct machine_registry *r)
{
	struct manifest *m = manifest_new(MANIFEST_INVENTORY);
	const GPtrArray *mods = loader_modules(l);

	m->abi = manifest_str(m, MODVMM_ABI_STRING);
	m->registry.alias = manifest_str(m, r->alias);
	m->registry.build_date = r->build_date;
	for (size_t i = 0; i < r->n_types; i++)
		manifest_add_machine(m, &r->types[i]);
	for (guint i = 0; i < mods->len; i++) {
		const struct module *mod = mods->pdata[i];

		for (guint j = 0; j < mod->types->len; j++) {
			const struct device_type *dt = mod->types->pdata[j];
			struct manifest_device *d = manifest_add_device(m);

			describe_type(m, d, dt);
			if (dt->vms) {
				d->vms = describe(m, dt->vms,
						  dt->vms->d.min_version);
				describe_subs(m, d, dt->vms, NULL, 0);
			}
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
