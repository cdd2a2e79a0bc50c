// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cli/cli.c - what the commands share: the device options and how
 * errors and devices' messages reach the terminal.
 */
#include <stdio.h>

#include <modvmm/host.h>

#include "cli/cli.h"

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
