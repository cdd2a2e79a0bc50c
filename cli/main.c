// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cli/main.c - the modvmm command line: the table of commands and the
 * dispatch to them. Each command lives in a file of its own (cli/run.c,
 * cli/modules.c, ...): it parses its options, calls the library, prints.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <modvmm/abi.h>

#include "cli/cli.h"
#include "compat/machine-types.h"

/*
 * The build date is the one the machine types' lifecycle is computed from
 * (deprecated and removed dates), so an operator can tell which types this
 * build still runs.
 */
static int cmd_version(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx = g_option_context_new(
		"- print the version, the module ABI and the build date");
	g_autoptr(GError) err = NULL;
	char date[MACHINE_DATE_LEN];

	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		print_error(err);
		return STATUS_USAGE;
	}
	if (argc > 1) {
		fprintf(stderr, "modvmm: version: unexpected argument '%s'\n",
			argv[1]);
		return STATUS_USAGE;
	}
	printf("modvmm %s, module ABI %s, build date %s\n", MODVMM_VERSION,
	       MODVMM_ABI_STRING,
	       machine_date_text(machine_registry()->build_date, date));
	return STATUS_OK;
}

static const struct command {
	const char *name;
	const char *help;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "run", "boot the built-in guest or a Linux kernel", cmd_run },
	{ "modules", "load device modules and list them", cmd_modules },
	{ "machines", "list machine types and their status", cmd_machines },
	{ "compat", "manifests, inventories and migration verdicts",
	  cmd_compat },
	{ "ctl", "send a command to a running modvmm's control socket",
	  cmd_ctl },
	{ "version", "print the version and the module ABI", cmd_version },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: modvmm COMMAND [OPTIONS]\n\nCommands:\n");
	for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
	fprintf(f,
		"\nOptions:\n"
		"  -h, --help     Show this help\n"
		"  -V, --version  Print the version, the module ABI and the "
		"build date\n"
		"\n'modvmm COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
	/* A peer that goes away is an error to report (EPIPE), not death. */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return STATUS_USAGE;
	}
	for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return STATUS_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		return cmd_version(argc - 1, argv + 1);
	fprintf(stderr, "modvmm: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return STATUS_USAGE;
}
