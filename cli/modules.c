// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cli/modules.c - modvmm modules: load every module in the module
 * directories, create the devices asked for, and list them.
 */
#include <stdio.h>

#include <glib.h>

#include "cli/cli.h"
#include "core/modules.h"

static struct modules_config opt_modules;

int cmd_modules(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx =
		g_option_context_new("- load device modules and list them");
	g_autoptr(GPtrArray) errors =
		g_ptr_array_new_with_free_func((GDestroyNotify)g_error_free);
	g_autoptr(GError) err = NULL;
	g_autofree char *text = NULL;
	struct vm_devices *devs;
	int status = STATUS_OK;

	g_option_context_add_main_entries(ctx, modules_options(&opt_modules),
					  NULL);
	g_option_context_add_main_entries(ctx, cli_device_options, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		print_error(err);
		return STATUS_USAGE;
	}
	if (argc > 1) {
		fprintf(stderr, "modvmm: modules: unexpected argument '%s'\n",
			argv[1]);
		return STATUS_USAGE;
	}
	opt_modules.policy = MODULES_EACH;
	opt_modules.log = print_device_log;
	if (modules_open(&opt_modules, &devs, errors, &err) < 0) {
		print_error(err);
		return STATUS_FAILED;
	}
	for (guint i = 0; i < errors->len; i++)
		print_error(errors->pdata[i]);
	if (errors->len)
		status = STATUS_FAILED;
	for (char **d = cli_devices; d && *d; d++) {
		g_autoptr(GError) derr = NULL;

		if (modules_device_add(devs, *d, &derr) < 0) {
			print_error(derr);
			status = STATUS_FAILED;
		}
	}
	if (cli_json) {
		text = modules_to_json(devs);
		printf("%s\n", text);
	} else {
		text = modules_to_text(devs);
		fputs(text, stdout);
	}
	modules_close(devs);
	return status;
}
