// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/modules.c - opening a VM's module world: the directories, the
 * allowlist and what a refused module means, the same for every command;
 * and what front ends say of an open one (its listing, its inventory).
 */
#include <errno.h>

#include <json-glib/json-glib.h>

#include "base/error.h"
#include "compat/machine-types.h"
#include "device.h"
#include "host.h"
#include "inventory.h"
#include "loader.h"
#include "modinfo.h"
#include "modules.h"
#include "vm-devices.h"

const char *modules_default_dir(void)
{
	return MODVMM_MODULE_DIR;
}

const GOptionEntry *modules_options(struct modules_config *cfg)
{
	static GOptionEntry entries[] = {
		/* No short form: -M is --machine, as in QEMU. */
		{ "module-dir", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, NULL,
		  "Load modules from DIR (repeatable; "
		  "default " MODVMM_MODULE_DIR ")",
		  "DIR" },
		{ "module-allowlist", 0, 0, G_OPTION_ARG_FILENAME, NULL,
		  "Load only modules whose SHA-256 is listed in FILE (the "
		  "output of sha256sum; owned by root or you, not group- or "
		  "world-writable)",
		  "FILE" },
		{ NULL },
	};

	entries[0].arg_data = &cfg->dirs;
	entries[1].arg_data = &cfg->allowlist;
	return entries;
}

/*
 * The directory used when none is given: one that is not there (a build
 * not installed, a package not unpacked) is said so, with the way out.
 */
static void add_default_dir(struct loader *l, GPtrArray *errors)
{
	GError *err = NULL;

	if (g_file_test(MODVMM_MODULE_DIR, G_FILE_TEST_IS_DIR)) {
		loader_add_dir(l, MODVMM_MODULE_DIR);
		return;
	}
	error_setf(&err, ENOENT,
		   "the default module directory %s does not exist: give "
		   "--module-dir DIR, the directory of the device modules",
		   MODVMM_MODULE_DIR);
	g_ptr_array_add(errors, err);
}

static void load(struct loader *l, const struct modules_config *cfg,
		 GPtrArray *errors)
{
	if (cfg->dirs && *cfg->dirs)
		loader_add_dirs(l, cfg->dirs, NULL);
	else if (!cfg->no_default_dir)
		add_default_dir(l, errors);
	loader_load_all(l, errors);
	for (char **f = cfg->files; f && *f; f++) {
		GError *err = NULL;

		if (loader_load(l, *f, NULL, &err) < 0)
			g_ptr_array_add(errors, err);
	}
}

int modules_open(const struct modules_config *cfg, struct vm_devices **ret,
		 GPtrArray *errors, GError **error)
{
	g_autoptr(GPtrArray) own = NULL;
	struct vm_devices *devs = vm_devices_new(host_services());
	guint before;
	int r;

	if (!errors)
		errors = own = g_ptr_array_new_with_free_func(
			(GDestroyNotify)g_error_free);
	devs->sinks.log = cfg->log;
	devs->sinks.opaque = cfg->log_opaque;
	if (cfg->allowlist) {
		r = loader_set_allowlist(devs->loader, cfg->allowlist, error);
		if (r < 0)
			goto fail;
	}
	before = errors->len;
	load(devs->loader, cfg, errors);
	if (cfg->policy == MODULES_ALL && errors->len > before) {
		GError *first = errors->pdata[before];
		guint more = errors->len - before - 1;

		r = error_setf(error, first->code ? first->code : EINVAL,
			       "%s%s", first->message,
			       more ? " (and more module errors)" : "");
		goto fail;
	}
	*ret = devs;
	return 0;
fail:
	vm_devices_free(devs);
	return r;
}

void modules_close(struct vm_devices *devs)
{
	if (!devs)
		return;
	device_destroy_all(devs);
	vm_devices_free(devs);
}

int modules_device_add(struct vm_devices *devs, const char *spec,
		       GError **error)
{
	return device_create(devs, spec, NULL, error);
}

static void module_to_text(GString *out, const struct module *m)
{
	GString *types = g_string_new(NULL);

	for (guint j = 0; j < m->types->len; j++)
		g_string_append_printf(
			types, "%s%s", j ? ", " : "",
			((struct device_type *)m->types->pdata[j])->t.name);
	g_string_append_printf(out,
			       "  %-16s %-10s ABI %-5s %-11s devices: %s\n"
			       "  %16s %s\n",
			       m->info->name, m->info->version, m->info->abi,
			       m->info->intree ? "in-tree" : "out-of-tree",
			       types->len ? types->str : "none", "", m->path);
	g_string_free(types, TRUE);
}

char *modules_to_text(struct vm_devices *devs)
{
	const GPtrArray *mods = loader_modules(devs->loader);
	GString *out = g_string_new(NULL);

	g_string_append_printf(out, "host ABI %s, %u module%s loaded%s\n",
			       MODVMM_ABI_STRING, mods->len,
			       mods->len == 1 ? "" : "s",
			       loader_tainted(devs->loader)
				       ? " (tainted: out-of-tree module)"
				       : "");
	for (guint i = 0; i < mods->len; i++)
		module_to_text(out, mods->pdata[i]);
	for (guint i = 0; i < devs->devices->len; i++) {
		const struct modvmm_device *dev = devs->devices->pdata[i];

		g_string_append_printf(out, "device %s: %s (module %s)\n",
				       dev->id, dev->type->t.name,
				       dev->type->module->info->name);
	}
	return g_string_free(out, FALSE);
}

static void devices_to_json(JsonBuilder *b, struct vm_devices *devs)
{
	json_builder_begin_array(b);
	for (guint i = 0; i < devs->devices->len; i++) {
		const struct modvmm_device *dev = devs->devices->pdata[i];

		json_builder_begin_object(b);
		json_builder_set_member_name(b, "id");
		json_builder_add_string_value(b, dev->id);
		json_builder_set_member_name(b, "type");
		json_builder_add_string_value(b, dev->type->t.name);
		json_builder_set_member_name(b, "module");
		json_builder_add_string_value(b, dev->type->module->info->name);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

char *modules_to_json(struct vm_devices *devs)
{
	const GPtrArray *mods = loader_modules(devs->loader);
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "abi");
	json_builder_add_string_value(b, MODVMM_ABI_STRING);
	json_builder_set_member_name(b, "tainted");
	json_builder_add_boolean_value(b, loader_tainted(devs->loader));
	json_builder_set_member_name(b, "modules");
	json_builder_begin_array(b);
	for (guint i = 0; i < mods->len; i++) {
		const struct module *m = mods->pdata[i];
		JsonNode *n = modinfo_to_json(m->info);

		json_object_set_string_member(json_node_get_object(n), "path",
					      m->path);
		json_builder_add_value(b, n);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "devices");
	devices_to_json(b, devs);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_pretty(gen, TRUE);
	json_generator_set_root(gen, root);
	return json_generator_to_data(gen, NULL);
}

struct manifest *modules_inventory(struct vm_devices *devs,
				   const struct cpu_model *cpu)
{
	return inventory_host(devs->loader, machine_registry(), cpu);
}
