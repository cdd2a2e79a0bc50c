// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * compat/machine-types.c - the machine types of this build and their lifecycle.
 *
 * Pure functions over the tables below: no I/O, no clock. The lifecycle
 * is computed from the build's release date so that the same build always
 * answers the same.
 */
#include <stdio.h>
#include <string.h>

#include "compat/machine-types.h"

#define DEPRECATED_AFTER_YEARS 3
#define REMOVED_AFTER_YEARS 6

/* Newest first. Compat entries go on the type whose behaviour they keep. */
static const struct machine_type types[] = {
	{ .name = "microvm-1.0", .released = 20261122 },
};

static const struct machine_registry registry = {
	.types = types,
	.n_types = sizeof(types) / sizeof(types[0]),
	.alias = "microvm",
	.build_date = 20261122,
};

const struct machine_registry *machine_registry(void)
{
	return &registry;
}

const struct machine_type *machine_lookup(const struct machine_registry *r,
					  const char *name)
{
	if (!strcmp(name, r->alias))
		return r->n_types ? &r->types[0] : NULL;
	for (size_t i = 0; i < r->n_types; i++)
		if (!strcmp(r->types[i].name, name))
			return &r->types[i];
	return NULL;
}

uint32_t machine_date_add_years(uint32_t date, unsigned int years)
{
	return date + years * 10000u;
}

const char *machine_date_text(uint32_t date, char buf[MACHINE_DATE_LEN])
{
	snprintf(buf, MACHINE_DATE_LEN, "%04u-%02u-%02u", date / 10000 % 10000,
		 date / 100 % 100, date % 100);
	return buf;
}

enum machine_status machine_status(const struct machine_registry *r,
				   const struct machine_type *t,
				   uint32_t *ret_deprecated,
				   uint32_t *ret_removed)
{
	uint32_t dep = machine_date_add_years(t->released,
					      DEPRECATED_AFTER_YEARS);
	uint32_t rem = machine_date_add_years(t->released, REMOVED_AFTER_YEARS);

	if (ret_deprecated)
		*ret_deprecated = dep;
	if (ret_removed)
		*ret_removed = rem;
	if (r->build_date >= rem)
		return MACHINE_REMOVED;
	if (r->build_date >= dep)
		return MACHINE_DEPRECATED;
	return MACHINE_SUPPORTED;
}

const char *machine_status_name(enum machine_status s)
{
	static const char *const names[] = {
		[MACHINE_SUPPORTED] = "supported",
		[MACHINE_DEPRECATED] = "deprecated",
		[MACHINE_REMOVED] = "removed",
	};

	return names[s];
}

const struct machine_type *machine_replacement(const struct machine_registry *r)
{
	for (size_t i = 0; i < r->n_types; i++)
		if (machine_status(r, &r->types[i], NULL, NULL) !=
		    MACHINE_REMOVED)
			return &r->types[i];
	return NULL;
}

void machine_compat_props(const struct machine_registry *r,
			  const struct machine_type *t,
			  void (*fn)(void *opaque, const struct compat_prop *p),
			  void *opaque)
{
	/* Newest first, down to t: later calls (older types) win. */
	for (size_t i = 0; i < r->n_types; i++) {
		const struct machine_type *m = &r->types[i];

		for (size_t j = 0; j < m->n_props; j++)
			fn(opaque, &m->props[j]);
		if (m == t)
			break;
	}
}
