// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/modules.c - opening a VM's module world: the directories, the
 * allowlist and what a refused module means, the same for every command.
 */
#include <errno.h>

#include "base/error.h"
#include "device.h"
#include "host.h"
#include "loader.h"
#include "modules.h"

const char *modules_default_dir(void)
{
	return MODVMM_MODULE_DIR;
}

const GOptionEntry *modules_options(struct modules_config *cfg)
{
	static GOptionEntry entries[] = {
		{ "module-dir", 'M', 0, G_OPTION_ARG_FILENAME_ARRAY, NULL,
		  "Load modules from DIR (repeatable; default " MODVMM_MODULE_DIR
		  ")",
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

static void load(struct loader *l, const struct modules_config *cfg,
		 GPtrArray *errors)
{
	if (cfg->dirs && *cfg->dirs)
		loader_add_dirs(l, cfg->dirs, NULL);
	else if (!cfg->no_default_dir)
		loader_add_dir(l, MODVMM_MODULE_DIR);
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
	devs->sinks = cfg->sinks;
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
