/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef COMPAT_NEGOTIATE_H
#define COMPAT_NEGOTIATE_H

#include <glib.h>
#include <json-glib/json-glib.h>

#include "compat/manifest.h"

/*
 * The negotiation of ARCHITECTURE.md, per device: a guest's manifest (what
 * the source would send) against a host's inventory (what the destination
 * loads). The verdict lists every device, accepted or not, with every
 * reason; nothing stops at the first failure.
 */

enum compat_tier {
	COMPAT_TIER_VERSIONED = 1,   /* forward migration guaranteed */
	COMPAT_TIER_UNVERSIONED = 2, /* works or is refused up front */
};

struct compat_device_verdict {
	const char *id;
	const char *type;
	int accepted;
	uint32_t version;  /* agreed state version, when accepted */
	GPtrArray *known;  /* char *: the source's subsections known here */
	GPtrArray *dropped; /* char *: optional ones the source drops */
	GPtrArray *reasons; /* char *: every reason it cannot load */
	/* How the destination creates it: without these properties of the
	 * source (char *: names) and with these (char *: "PROP=VALUE"). */
	GPtrArray *ignored;
	GPtrArray *added;
};

struct compat_verdict {
	int accepted; /* every device, and the machine type */
	const char *machine;
	enum compat_tier tier;
	GPtrArray *reasons;  /* char *: refusals not tied to one device */
	GPtrArray *warnings; /* char *: e.g. a deprecated machine type */
	/* char *: what of the guest's CPU this host cannot give
	 * (compat_cpu_judge()); also in `reasons` */
	GPtrArray *cpu;
	GPtrArray *devices;  /* struct compat_device_verdict * */
	unsigned int n_refused;
	char *text; /* parsed from the wire: the destination's text */
};

/*
 * `dst_machine`, when set, is the machine type the destination was asked
 * to run (a name or the alias); it must be the source's.
 */
struct compat_verdict *compat_negotiate(const struct manifest *src,
					const struct manifest *dst,
					const char *dst_machine);
void compat_verdict_free(struct compat_verdict *v);

/* One line per device, then a summary line. */
char *compat_verdict_text(const struct compat_verdict *v);
char *compat_verdict_json(const struct compat_verdict *v);
JsonNode *compat_verdict_node(const struct compat_verdict *v);

/*
 * The verdict's one JSON shape (docs/compat.md): `compat check --json`
 * prints it, a destination sends it to its source (SNAP_VERDICT) as one
 * line. Besides the per-device list, "verdict" (the text), and per
 * accepted device "versions" {ID: VERSION} and "known" {ID: [NAME...]},
 * which is what a source reads of it.
 */
char *compat_verdict_wire(const struct compat_verdict *v);

/* The deepest nesting a destination's verdict may have; it needs three. */
#define COMPAT_VERDICT_MAX_DEPTH 8

/*
 * Reads a destination's verdict, hostile input: `len` bytes of JSON of
 * that shape (anything else is refused, naming the member that is wrong). The
 * result's devices are the accepted ones, with version and known
 * subsections; `text` is the destination's.
 */
int compat_verdict_parse(const char *what, const char *data, size_t len,
			 struct compat_verdict **ret, GError **error);

/*
 * A source holds an accepted verdict to what it offered (`offered`, the
 * guest's manifest it sent): every device with state has an agreed
 * version within the versions it saves (never 0), and the verdict names
 * no device the guest does not have. -EPROTO naming every device that
 * is not so; a refused verdict passes (the refusal is its own answer).
 */
int compat_verdict_check(const char *what, const struct compat_verdict *v,
			 const struct manifest *offered, GError **error);

/* The agreed version of device `id`, or 0 if not accepted. */
uint32_t compat_verdict_version(const struct compat_verdict *v,
				const char *id);

/*
 * The stop-time re-check: the guest ran on after the verdict, so a
 * subsection may have become needed. A reason in `reasons` for each one
 * the manifest `now` would send that the verdict did not list as known
 * (optional ones excepted: the destination skips them).
 */
void compat_recheck(const struct compat_verdict *v, const struct manifest *now,
		    GPtrArray *reasons);

#endif
