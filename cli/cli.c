// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cli/cli.c - what the commands share: the device options and how
 * errors and devices' messages reach the terminal.
 */
#include <stdio.h>

#include <modvmm/host.h>

#include "cli/cli.h"
#include "compat/machine-types.h"

char **cli_devices;
gboolean cli_json;
gboolean cli_verbose;

const GOptionEntry cli_device_options[] = {
	{ "device", 'd', 0, G_OPTION_ARG_STRING_ARRAY, &cli_devices,
	  "Create a device: TYPE[,id=ID][,PROP=VALUE...] (repeatable)",
	  "SPEC" },
	{ "json", 'j', 0, G_OPTION_ARG_NONE, &cli_json,
	  "Print JSON instead of text", NULL },
	{ "verbose", 'v', 0, G_OPTION_ARG_NONE, &cli_verbose,
	  "Also print devices' informational messages", NULL },
	{ NULL },
};

int cli_check_machine(const char *name)
{
	const struct machine_registry *r = machine_registry();
	g_autoptr(GString) known = NULL;

	if (!name || machine_lookup(r, name))
		return 0;
	known = g_string_new(r->alias);
	for (size_t i = 0; i < r->n_types; i++)
		if (machine_status(r, &r->types[i], NULL, NULL) !=
		    MACHINE_REMOVED)
			g_string_append_printf(known, ", %s", r->types[i].name);
	fprintf(stderr, "modvmm: unknown machine type '%s' (known: %s)\n", name,
		known->str);
	return -1;
}

void print_error(const GError *err)
{
	fprintf(stderr, "modvmm: %s\n", err->message);
}

void print_line(void *opaque, const char *line)
{
	(void)opaque;
	fprintf(stderr, "modvmm: %s\n", line);
}

void print_device_log(void *opaque, const char *id, uint32_t level,
		      const char *msg)
{
	(void)opaque;
	if (level <= MODVMM_LOG_WARNING || cli_verbose)
		fprintf(stderr, "modvmm: %s: %s\n", id, msg);
}
