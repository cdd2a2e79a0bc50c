// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/module-import.c - a module's descriptor and device types, imported
 * from module memory into the host's own copies and checked.
 *
 * Module memory is untrusted: every struct is size-prefixed and copied
 * under the struct-size rule (a larger struct from a newer SDK is taken
 * only if the bytes this host does not know are zero), every count and
 * offset is bounded, and what the descriptor declares must agree with
 * the metadata read from the file before it was mapped (device=,
 * vmstate=, name=, version=, abi=). Every message starts with the
 * module's file name and names both values that disagree.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "base/error.h"
#include "compat/abi-rules.h"
#include "module-import.h"

void device_type_free(gpointer p)
{
	struct device_type *dt = p;

	vmstate_free(dt->vms);
	g_free(dt->props);
	g_free(dt);
}

/*
 * Imports one size-prefixed struct from module memory; `size` is what the
 * module declared, `min` covers the members every version has.
 */
static int struct_import(const char *file, const char *what, void *dst,
			 size_t dst_size, const void *src, uint32_t size,
			 size_t min, GError **error)
{
	size_t off;

	if (size < min || size > LOADER_STRUCT_MAX)
		return error_setf(error, EPROTO,
				  "%s: %s declares size %u, outside %zu..%d",
				  file, what, size, min, LOADER_STRUCT_MAX);
	if (abi_struct_import(dst, dst_size, src, size, &off) < 0)
		return error_setf(
			error, EPROTO,
			"%s: %s is %u bytes with a non-zero byte at offset "
			"%zu; this host knows %zu bytes (ABI %s)",
			file, what, size, off, dst_size, MODVMM_ABI_STRING);
	return 0;
}

static int prop_width(uint32_t type)
{
	switch (type) {
	case MODVMM_PROP_U8:
	case MODVMM_PROP_BOOL:
		return 1;
	case MODVMM_PROP_U16:
		return 2;
	case MODVMM_PROP_U32:
		return 4;
	case MODVMM_PROP_U64:
		return 8;
	case MODVMM_PROP_STR:
		return sizeof(const char *);
	}
	return -1;
}

/* A legacy value must be one the property can hold. */
static int prop_legacy_check(const char *file, const char *type,
			     const struct modvmm_property *p, GError **error)
{
	int w = prop_width(p->type);

	if (p->flags & ~MODVMM_PROP_LEGACY)
		return error_setf(error, EINVAL,
				  "%s: device type %s: property %s has flags "
				  "0x%x this host does not know",
				  file, type, p->name, p->flags);
	if (!(p->flags & MODVMM_PROP_LEGACY))
		return 0;
	if (p->type == MODVMM_PROP_STR	  ? !p->legacy_str
	    : p->type == MODVMM_PROP_BOOL ? p->legacy_u64 > 1
					  : w < 8 && p->legacy_u64 >> (8 * w))
		return error_setf(error, EINVAL,
				  "%s: device type %s: property %s: its "
				  "legacy value is not a %s",
				  file, type, p->name,
				  p->type == MODVMM_PROP_STR ? "string"
				  : p->type == MODVMM_PROP_BOOL
					  ? "bool"
					  : "value of its width");
	return 0;
}

/* Name, instance size and property count, before any property is read. */
static int type_bounds_check(const char *file,
			     const struct modvmm_device_type *t, GError **error)
{
	if (!t->name || !*t->name)
		return error_setf(error, EINVAL,
				  "%s: a device type has no name", file);
	if (!t->instance_size || t->instance_size > LOADER_MAX_INSTANCE_SIZE)
		return error_setf(error, EINVAL,
				  "%s: device type %s: instance_size %u is "
				  "outside 1..%u",
				  file, t->name, t->instance_size,
				  LOADER_MAX_INSTANCE_SIZE);
	if (t->n_properties > LOADER_MAX_PROPERTIES ||
	    (t->n_properties && !t->properties))
		return error_setf(error, EINVAL,
				  "%s: device type %s: %u properties declared, "
				  "at most %d with a non-NULL array",
				  file, t->name, t->n_properties,
				  LOADER_MAX_PROPERTIES);
	return 0;
}

/*
 * Property i of device type dt, read at `src`; every property must have
 * the size of property 0 (`stride`), fit in the instance and be unique.
 */
static int prop_import(const char *file, struct device_type *dt, uint32_t i,
		       const char *src, uint32_t stride, GError **error)
{
	struct modvmm_property *prop = &dt->props[i];
	int width, r;

	r = struct_import(file, "struct modvmm_property", prop, sizeof(*prop),
			  src, *(const uint32_t *)src, sizeof(uint32_t), error);
	if (r < 0)
		return r;
	if (prop->size != stride)
		return error_setf(error, EPROTO,
				  "%s: device type %s: property %u has size "
				  "%u, property 0 has %u",
				  file, dt->t.name, i, prop->size, stride);
	width = prop_width(prop->type);
	if (!prop->name || !*prop->name || width < 0 ||
	    (uint64_t)prop->offset + (uint64_t)width > dt->t.instance_size)
		return error_setf(error, EINVAL,
				  "%s: device type %s: property %u (%s) has "
				  "type %u at offset %u; instance_size is %u",
				  file, dt->t.name, i,
				  prop->name ? prop->name : "no name",
				  prop->type, prop->offset,
				  dt->t.instance_size);
	r = prop_legacy_check(file, dt->t.name, prop, error);
	if (r < 0)
		return r;
	for (uint32_t j = 0; j < i; j++)
		if (!strcmp(dt->props[j].name, prop->name))
			return error_setf(error, EINVAL,
					  "%s: device type %s: property %s "
					  "is declared twice",
					  file, dt->t.name, prop->name);
	return 0;
}

static int props_import(const char *file, struct device_type *dt,
			GError **error)
{
	/* Elements are laid out at the module's struct size, not ours. */
	const char *p = (const char *)dt->t.properties;

	dt->props = g_new0(struct modvmm_property, dt->t.n_properties);
	for (uint32_t i = 0; i < dt->t.n_properties; i++) {
		uint32_t stride = *(const uint32_t *)dt->t.properties;
		int r = prop_import(file, dt, i, p, stride, error);

		if (r < 0)
			return r;
		p += stride;
	}
	return 0;
}

/* The type's state description, imported and checked against retirement. */
static int type_vmstate_import(struct module *m, struct device_type *dt,
			       GError **error)
{
	g_autofree char *where =
		g_strdup_printf("%s: module %s: device type %s", m->info->file,
				m->info->name, dt->t.name);
	int r;

	r = vmstate_import(where, dt->t.vmstate, dt->t.instance_size, &dt->vms,
			   error);
	if (r < 0)
		return r;
	return vmstate_check_retired(dt->vms, machine_registry(), where, error);
}

static int type_import(struct module *m, const struct modvmm_device_type *src,
		       struct device_type **ret, GError **error)
{
	const char *file = m->info->file;
	struct device_type *dt = g_new0(struct device_type, 1);
	int r;

	dt->module = m;
	r = struct_import(file, "struct modvmm_device_type", &dt->t,
			  sizeof(dt->t), src, src->size, sizeof(uint32_t),
			  error);
	if (r < 0)
		goto fail;
	r = type_bounds_check(file, &dt->t, error);
	if (r < 0)
		goto fail;
	r = props_import(file, dt, error);
	if (r < 0)
		goto fail;
	if (dt->t.vmstate) {
		r = type_vmstate_import(m, dt, error);
		if (r < 0)
			goto fail;
	}
	*ret = dt;
	return 0;
fail:
	device_type_free(dt);
	return r;
}

static int strv_has(const GPtrArray *a, const char *s)
{
	for (guint i = 0; i < a->len; i++)
		if (!strcmp(a->pdata[i], s))
			return 1;
	return 0;
}

/*
 * Every state description is announced as vmstate=NAME@VERSION, and every
 * such entry has its description: tools read the metadata alone.
 */
static int vmstate_metadata_check(struct module *m, GError **error)
{
	const struct modinfo *mi = m->info;

	for (guint i = 0; i < m->types->len; i++) {
		struct device_type *dt = m->types->pdata[i];
		g_autofree char *want = NULL;

		if (!dt->vms)
			continue;
		want = g_strdup_printf("%s@%u", dt->vms->name,
				       dt->vms->d.version);
		if (!strv_has(mi->vmstates, want))
			return error_setf(error, EPROTO,
					  "%s: device type %s has state %s, "
					  "metadata has no vmstate=%s",
					  mi->file, dt->t.name, want, want);
	}
	for (guint i = 0; i < mi->vmstates->len; i++) {
		const char *entry = mi->vmstates->pdata[i];
		int found = 0;

		for (guint j = 0; j < m->types->len && !found; j++) {
			struct device_type *dt = m->types->pdata[j];
			g_autofree char *have =
				dt->vms ? g_strdup_printf("%s@%u",
							  dt->vms->name,
							  dt->vms->d.version)
					: NULL;

			found = have && !strcmp(have, entry);
		}
		if (!found)
			return error_setf(
				error, EPROTO,
				"%s: metadata says vmstate=%s, no device "
				"type has that state",
				mi->file, entry);
	}
	return 0;
}

/*
 * The descriptor's own members into m->desc: magic, size, and what the
 * metadata says too.
 */
static int descriptor_head_import(struct module *m,
				  const struct modvmm_module *src,
				  GError **error)
{
	const struct modinfo *mi = m->info;
	const char *file = mi->file;
	struct modvmm_module *d = &m->desc;
	int r;

	if (src->magic != MODVMM_MODULE_MAGIC)
		return error_setf(error, EPROTO,
				  "%s: module descriptor has magic 0x%08x, "
				  "expected 0x%08x",
				  file, src->magic, MODVMM_MODULE_MAGIC);
	r = struct_import(
		file, "module descriptor", d, sizeof(*d), src, src->size,
		offsetof(struct modvmm_module, size) + sizeof(src->size),
		error);
	if (r < 0)
		return r;
	if (d->abi_major != mi->abi_major || d->abi_minor != mi->abi_minor)
		return error_setf(
			error, EPROTO,
			"%s: metadata says abi=%u.%u, descriptor says "
			"ABI %u.%u",
			file, mi->abi_major, mi->abi_minor, d->abi_major,
			d->abi_minor);
	if (!d->name || strcmp(d->name, mi->name))
		return error_setf(error, EPROTO,
				  "%s: metadata says name=%s, descriptor says "
				  "name=%s",
				  file, mi->name, d->name ? d->name : "(none)");
	if (!d->version || strcmp(d->version, mi->version))
		return error_setf(
			error, EPROTO,
			"%s: metadata says version=%s, descriptor says "
			"version=%s",
			file, mi->version, d->version ? d->version : "(none)");
	if (d->n_device_types > LOADER_MAX_TYPES ||
	    (d->n_device_types && !d->device_types))
		return error_setf(error, EPROTO,
				  "%s: descriptor declares %u device types, at "
				  "most %d with a non-NULL array",
				  file, d->n_device_types, LOADER_MAX_TYPES);
	return 0;
}

/* Each device type the descriptor declares, named by a device= entry. */
static int types_import(struct module *m, GError **error)
{
	const struct modinfo *mi = m->info;
	const char *file = mi->file;
	struct modvmm_module *d = &m->desc;
	int r;

	for (uint32_t i = 0; i < d->n_device_types; i++) {
		struct device_type *dt = NULL;

		if (!d->device_types[i])
			return error_setf(error, EPROTO,
					  "%s: device type %u is NULL", file,
					  i);
		r = type_import(m, d->device_types[i], &dt, error);
		if (r < 0)
			return r;
		g_ptr_array_add(m->types, dt);
		if (!strv_has(mi->devices, dt->t.name))
			return error_setf(error, EPROTO,
					  "%s: descriptor has device type %s, "
					  "metadata has no device=%s",
					  file, dt->t.name, dt->t.name);
		for (guint j = 0; j + 1 < m->types->len; j++) {
			struct device_type *o = m->types->pdata[j];

			if (!strcmp(o->t.name, dt->t.name))
				return error_setf(
					error, EPROTO,
					"%s: device type %s is declared "
					"twice",
					file, dt->t.name);
		}
	}
	return 0;
}

/* Every device= entry names a device type the descriptor declares. */
static int types_metadata_check(struct module *m, GError **error)
{
	const struct modinfo *mi = m->info;

	for (guint i = 0; i < mi->devices->len; i++) {
		const char *name = mi->devices->pdata[i];
		int found = 0;

		for (guint j = 0; j < m->types->len && !found; j++)
			found = !strcmp(
				((struct device_type *)m->types->pdata[j])
					->t.name,
				name);
		if (!found)
			return error_setf(
				error, EPROTO,
				"%s: metadata says device=%s, descriptor "
				"has no such device type",
				mi->file, name);
	}
	return 0;
}

/* The descriptor the module returned, against the metadata we read. */
int descriptor_import(struct module *m, const struct modvmm_module *src,
		      GError **error)
{
	int r;

	r = descriptor_head_import(m, src, error);
	if (r < 0)
		return r;
	r = types_import(m, error);
	if (r < 0)
		return r;
	r = types_metadata_check(m, error);
	if (r < 0)
		return r;
	return vmstate_metadata_check(m, error);
}
