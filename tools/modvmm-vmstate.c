// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * modvmm-vmstate - the state descriptions of loaded modules.
 *
 *   modvmm-vmstate dump [--module-dir DIR...] [--machine M]
 *
 * dump writes JSON in the shape of QEMU's -dump-vmstate output: a
 * "vmschkmachine" entry, then one entry per device type with "Name",
 * "version_id", "minimum_version_id" and a "Description" holding "Fields"
 * (each "field", "version_id", "field_exists", "size") and "Subsections".
 * What QEMU has no words for is added under keys of our own: "since",
 * "kind", "optional", "legacy_name", "retired_in", "minimum_save_version",
 * and a "modvmm" object per device naming its module.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include "../core/device.h"
#include "../core/host.h"
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

static const char *const kind_names[] = {
	[MODVMM_VMS_U8] = "u8",
	[MODVMM_VMS_U16] = "u16",
	[MODVMM_VMS_U32] = "u32",
	[MODVMM_VMS_U64] = "u64",
	[MODVMM_VMS_I8] = "i8",
	[MODVMM_VMS_I16] = "i16",
	[MODVMM_VMS_I32] = "i32",
	[MODVMM_VMS_I64] = "i64",
	[MODVMM_VMS_BOOL] = "bool",
	[MODVMM_VMS_BUFFER] = "buffer",
	[MODVMM_VMS_ARRAY] = "array",
	[MODVMM_VMS_VARRAY] = "varray",
	[MODVMM_VMS_STRUCT] = "struct",
	[MODVMM_VMS_UNUSED] = "unused",
	[MODVMM_VMS_VALIDATE] = "validate",
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
	switch (vf->f.elem_kind) {
	case MODVMM_VMS_U8:
	case MODVMM_VMS_I8:
	case MODVMM_VMS_BOOL:
		return 1;
	case MODVMM_VMS_U16:
	case MODVMM_VMS_I16:
		return 2;
	case MODVMM_VMS_U32:
	case MODVMM_VMS_I32:
		return 4;
	case MODVMM_VMS_U64:
	case MODVMM_VMS_I64:
		return 8;
	}
	return (int)vf->f.stride;
}

static void describe(JsonBuilder *b, const struct vms *v,
		     const struct vms_sub *sub);

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
		size = f->kind == MODVMM_VMS_BOOL ? 1
		       : f->kind == MODVMM_VMS_U16 || f->kind == MODVMM_VMS_I16
			       ? 2
		       : f->kind == MODVMM_VMS_U32 || f->kind == MODVMM_VMS_I32
			       ? 4
		       : f->kind == MODVMM_VMS_U64 || f->kind == MODVMM_VMS_I64
			       ? 8
			       : 1;
	}
	add_int(b, "size", size);
	/* Ours from here on. */
	add_int(b, "since", f->since);
	add_str(b, "kind", kind_names[f->kind]);
	if (f->kind == MODVMM_VMS_ARRAY || f->kind == MODVMM_VMS_VARRAY) {
		add_str(b, "element_kind", kind_names[f->elem_kind]);
		add_int(b, f->kind == MODVMM_VMS_ARRAY ? "count" : "bound",
			f->count);
	}
	if (f->kind == MODVMM_VMS_VARRAY)
		add_str(b, "length_field", f->length_field);
	if (f->kind == MODVMM_VMS_UNUSED)
		add_str(b, "retired_in", f->retired_in);
	if (vf->nested) {
		json_builder_set_member_name(b, "Description");
		describe(b, vf->nested, NULL);
	}
	json_builder_end_object(b);
}

/* `sub` is set when v is a subsection: its flags are ours to add. */
static void describe(JsonBuilder *b, const struct vms *v,
		     const struct vms_sub *sub)
{
	json_builder_begin_object(b);
	add_str(b, "name", v->name);
	add_int(b, "version_id", v->d.version);
	add_int(b, "minimum_version_id", v->d.min_version);
	add_int(b, "minimum_save_version", vmstate_min_save(v));
	if (sub) {
		add_bool(b, "optional", !!(sub->flags & MODVMM_VMS_OPTIONAL));
		add_bool(b, "legacy_name",
			 !!(sub->flags & MODVMM_VMS_LEGACY_NAME));
	}
	json_builder_set_member_name(b, "Fields");
	json_builder_begin_array(b);
	for (uint32_t i = 0; i < v->d.n_fields; i++)
		field(b, &v->fields[i]);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "Subsections");
	json_builder_begin_array(b);
	for (uint32_t i = 0; i < v->d.n_subsections; i++)
		describe(b, v->subs[i].vms, &v->subs[i]);
	json_builder_end_array(b);
	json_builder_end_object(b);
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
	if (!opt_module_dirs || !*opt_module_dirs)
		loader_add_dir(vmm->loader, MODVMM_MODULE_DIR);
	for (char **d = opt_module_dirs; d && *d; d++)
		loader_add_dir(vmm->loader, *d);
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
	json_builder_end_object(b);
	for (guint i = 0; i < types->len; i++) {
		const struct device_type *dt = types->pdata[i];

		json_builder_set_member_name(b, dt->t.name);
		json_builder_begin_object(b);
		add_str(b, "Name", dt->t.name);
		if (dt->vms) {
			add_int(b, "version_id", dt->vms->d.version);
			add_int(b, "minimum_version_id",
				dt->vms->d.min_version);
			json_builder_set_member_name(b, "Description");
			describe(b, dt->vms, NULL);
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

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "dump"))
		return cmd_dump(argc - 1, argv + 1);
	fprintf(stderr, "Usage: modvmm-vmstate dump [--module-dir DIR...] "
			"[--machine TYPE]\n");
	return 2;
}
