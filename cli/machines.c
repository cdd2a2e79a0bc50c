// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cli/machines.c - modvmm machines: the machine types of this build,
 * their release, status and compat properties.
 */
#include <stdio.h>

#include "cli/cli.h"
#include "compat/machine-types.h"

int cmd_machines(int argc, char **argv)
{
	const struct machine_registry *r = machine_registry();

	(void)argc;
	(void)argv;
	printf("%-16s %-10s %-11s %-11s %-11s %s\n", "machine type", "released",
	       "status", "deprecated", "removed", "compat props");
	for (size_t i = 0; i < r->n_types; i++) {
		const struct machine_type *t = &r->types[i];
		char d0[MACHINE_DATE_LEN], d1[MACHINE_DATE_LEN];
		char d2[MACHINE_DATE_LEN];
		uint32_t dep, rem;
		enum machine_status st = machine_status(r, t, &dep, &rem);

		printf("%-16s %s %-11s %s  %s  %zu\n", t->name,
		       machine_date_text(t->released, d0),
		       machine_status_name(st), machine_date_text(dep, d1),
		       machine_date_text(rem, d2), t->n_props);
	}
	printf("%-16s alias of %s (no migration guarantee across releases)\n",
	       r->alias, machine_lookup(r, r->alias)->name);
	return STATUS_OK;
}
