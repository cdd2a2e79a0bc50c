// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tools/vmstate/main.c - modvmm-vmstate, the state descriptions of loaded
 * modules: picks the subcommand.
 *
 *   modvmm-vmstate dump [--module-dir DIR...] [--machine M]
 *   modvmm-vmstate diff [--stable] OLD.json NEW.json
 *   modvmm-vmstate matrix A.json B.json ...
 *   modvmm-vmstate --help | --version
 *
 * dump writes JSON in the shape of QEMU's -dump-vmstate output: a
 * "vmschkmachine" entry, then one entry per device type with "Name",
 * "version_id", "minimum_version_id" and a "Description" holding "Fields"
 * (each "field", "version_id", "field_exists", "size") and "Subsections".
 * What QEMU has no words for is added under keys of our own: "since",
 * "kind", "optional", "legacy_name", "retired_in", "minimum_save_version",
 * and a "modvmm" object per device naming its module, its known-bad
 * versions, the type's properties, and the type as the compatibility rule
 * sees it ("inventory": what this host loads; "source": what a device of
 * it saves, every subsection sent), with the host's machine types in
 * "vmschkmachine". A device without state has the keys of every other
 * (version 0, no fields): QEMU's checker reads them.
 *
 * diff and matrix do not judge: they make a guest's manifest from one
 * dump and an inventory from the other and ask compat_negotiate(), as
 * modvmm compat check does. A device is refused with the verdict's
 * reasons; the field-by-field comparison below only explains a layout
 * the rule found different. Dumps without the rule's entries (QEMU's,
 * hand-written) are turned into them from their descriptions: each field
 * as vmstate_layout_fields() writes it. QEMU's dumps name their slots
 * "unused" and give no "kind"; any of their fields may fill a slot's bytes.
 * One of our fields reuses a slot only where it names the slot's machine
 * type and its own dump lists that type as removed (this build's types
 * for dumps without the list), as a host loads it only then.
 *
 * diff --stable treats OLD and NEW as two releases of one stable series:
 * any change to what goes on the wire is a finding (a subsection turned
 * optional or mandatory too), except a subsection added that is
 * optional or that a bugfix machine type gates (NEW sends it on
 * some machine type, and on none that OLD has: its "sent_on" key, which
 * dump fills in from a freshly created device of each machine type).
 */
#include <stdio.h>
#include <string.h>

#include <modvmm/abi.h>

#include "compat/machine-types.h"
#include "vmstate-tool.h"

static const char usage_dump[] =
	"modvmm-vmstate dump [--module-dir DIR...] [--module-allowlist FILE] "
	"[--machine TYPE]\n";
static const char usage_diff[] =
	"modvmm-vmstate diff [--stable] OLD.json NEW.json\n";
static const char usage_matrix[] = "modvmm-vmstate matrix A.json B.json ...\n";

static int usage(FILE *f, int status)
{
	fprintf(f,
		"Usage: %s       %s       %s"
		"       modvmm-vmstate --version\n\n"
		"Options:\n"
		"  -h, --help     Show this help (COMMAND --help: its "
		"options)\n"
		"  -V, --version  Print the version, the module ABI and the "
		"build date\n",
		usage_dump, usage_diff, usage_matrix);
	return status;
}

static int is_help(const char *arg)
{
	return !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

/* The build date is the one the machine types' lifecycle is computed from. */
static int print_version(void)
{
	char date[MACHINE_DATE_LEN];

	printf("modvmm-vmstate %s, module ABI %s, build date %s\n",
	       MODVMM_VERSION, MODVMM_ABI_STRING,
	       machine_date_text(machine_registry()->build_date, date));
	return 0;
}

/* diff and matrix take only file names, so their --help is answered here
 * (dump's by GOption). */
static int command_help(int argc, char **argv)
{
	if (argc < 3 || !is_help(argv[2]))
		return -1;
	if (!strcmp(argv[1], "diff"))
		printf("Usage: %s", usage_diff);
	else if (!strcmp(argv[1], "matrix"))
		printf("Usage: %s", usage_matrix);
	else
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr, 2);
	if (command_help(argc, argv) == 0)
		return 0;
	if (!strcmp(argv[1], "diff"))
		return cmd_diff(argc - 1, argv + 1);
	if (!strcmp(argv[1], "matrix"))
		return cmd_matrix(argc - 1, argv + 1);
	if (!strcmp(argv[1], "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (is_help(argv[1]))
		return usage(stdout, 0);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		return print_version();
	return usage(stderr, 2);
}
