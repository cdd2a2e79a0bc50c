/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef COMPAT_MACHINE_TYPES_H
#define COMPAT_MACHINE_TYPES_H

#include <stddef.h>
#include <stdint.h>

/*
 * Machine types and their lifecycle, as plain data and pure functions.
 *
 * A versioned type ("microvm-1.0") promises the same guest-visible machine
 * in every later release that still has it; a bugfix type ("microvm-1.0.1")
 * sits between its release and the next and is known to both; the alias
 * ("microvm") is the newest and promises nothing across releases.
 * A versioned type is deprecated 3 years after its release and removed
 * after 6, counted against the build's release date, not the clock.
 */

struct compat_prop {
	const char *device;   /* device type */
	const char *property; /* one of its properties */
	const char *value;
};

struct machine_type {
	const char *name;
	uint32_t released; /* YYYYMMDD */
	/* What this type changes relative to the next newer one; it also
	 * gets everything the newer ones change (older types inherit). */
	const struct compat_prop *props;
	size_t n_props;
};

enum machine_status {
	MACHINE_SUPPORTED,
	MACHINE_DEPRECATED, /* usable, with a warning */
	MACHINE_REMOVED,    /* refused */
};

struct machine_registry {
	const struct machine_type *types; /* newest first */
	size_t n_types;
	const char *alias;   /* "microvm": the newest */
	uint32_t build_date; /* YYYYMMDD of this release */
};

/* This build's machine types. */
const struct machine_registry *machine_registry(void);

/* The type a name means (the alias resolves to the newest), or NULL. */
const struct machine_type *machine_lookup(const struct machine_registry *r,
					  const char *name);

enum machine_status machine_status(const struct machine_registry *r,
				   const struct machine_type *t,
				   uint32_t *ret_deprecated,
				   uint32_t *ret_removed);

/* "supported", "deprecated", "removed". */
const char *machine_status_name(enum machine_status s);

/* Newest type that is not removed: what to use instead. */
const struct machine_type *
machine_replacement(const struct machine_registry *r);

/*
 * Compat properties in effect for `t`: its own and every newer type's.
 * Calls fn once per entry, older types' entries last so that they win.
 */
void machine_compat_props(const struct machine_registry *r,
			  const struct machine_type *t,
			  void (*fn)(void *opaque, const struct compat_prop *p),
			  void *opaque);

/* YYYYMMDD plus whole years; days past the end of February move on. */
uint32_t machine_date_add_years(uint32_t date, unsigned int years);

/* YYYYMMDD as YYYY-MM-DD, in buf; returns buf. */
#define MACHINE_DATE_LEN 11
const char *machine_date_text(uint32_t date, char buf[MACHINE_DATE_LEN]);

#endif
