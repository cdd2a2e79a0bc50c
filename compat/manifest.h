/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef COMPAT_MANIFEST_H
#define COMPAT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include "compat/cpu.h"
#include "compat/machine-types.h"

/*
 * Manifests and inventories (docs/compat.md), as plain data.
 *
 * A manifest describes one guest: its machine type and, per device
 * instance, what the source would send. An inventory describes one host:
 * its machine types and, per device type, what it can load. Both are JSON
 * on the outside and are read as hostile input: bounded in size and
 * count, every member type-checked, every error naming the member.
 */

#define MANIFEST_FORMAT 1
#define MANIFEST_MAX_BYTES (8u << 20)
#define MANIFEST_MAX_DEVICES 4096
#define MANIFEST_MAX_SUBSECTIONS 256 /* per device, at every depth */
#define MANIFEST_MAX_LAYOUTS 2048    /* per description */
#define MANIFEST_MAX_FIELDS 1024     /* per layout */
#define MANIFEST_MAX_STRUCTS 256     /* per device, at every depth */
#define MANIFEST_MAX_PROPS 256	     /* per device or machine type */
#define MANIFEST_MAX_MACHINES 256
#define MANIFEST_MAX_KNOWN_BAD 64
#define MANIFEST_MAX_STRING 256
#define MANIFEST_MAX_VALUE 4096 /* a property's value: a path, say */
#define MANIFEST_FP_LEN 16 /* hex digits of a layout fingerprint */

enum manifest_kind {
	MANIFEST_GUEST,	    /* "modvmm-manifest" */
	MANIFEST_INVENTORY, /* "modvmm-inventory" */
};

/*
 * Versions from `since` up to the next entry have this wire layout: its
 * digest, and (from writers that list them) its fields, one string each
 * as vmstate_layout_fields() writes them, which the rule compares field
 * by field where both sides list them.
 */
struct manifest_layout {
	uint32_t since;
	char fp[MANIFEST_FP_LEN + 1];
	GPtrArray *fields; /* char *, or NULL */
};

/*
 * A state description or subsection. In a guest manifest [min, version]
 * is what the source can save (a subsection is always sent at `version`);
 * in an inventory it is what the host loads.
 */
struct manifest_vms {
	const char *name;
	uint32_t version;
	uint32_t min;
	/* A guest's description: the version its state was saved at (a
	 * snapshot's), 0 when it is yet to be saved at an agreed one. */
	uint32_t saved;
	/* Subsections: the description it sits in (NULL: not listed, as by
	 * an older writer), and, in a guest's, the first version of the
	 * device's description at which it can be on the wire. */
	const char *parent;
	uint32_t since;
	int optional;	 /* subsections: the source may drop it */
	int send;	 /* guest subsections: on the wire if saved now */
	GArray *layouts; /* struct manifest_layout, `since` ascending */
};

struct manifest_known_bad {
	const char *version; /* a module version whose saved state is bad */
	const char *reason;
};

/*
 * A property of a device. In a guest's manifest, every property of its
 * type with its value and who set it (a manifest of an older writer lists
 * only the machine type's compat properties: `props_complete` is 0); in
 * an inventory, every property of the type this host has.
 */
struct manifest_prop {
	const char *property;
	const char *value;  /* guest: its value; inventory: NULL */
	const char *legacy; /* the value that behaves as the releases
			       before the property did; NULL: none declared */
	int set;	    /* guest: given by the user or the machine type */
	int machine;	    /* guest: given by a compat property */
};

struct manifest_device {
	const char *id; /* guest: the instance; inventory: NULL */
	const char *type;
	const char *module;
	const char *module_version;
	int intree;
	struct manifest_vms *vms; /* NULL: the device has no VMState */
	GPtrArray *subs;	  /* struct manifest_vms *, parents first */
	/* Nested structs' descriptions at every depth, parents first: each
	 * goes on the wire at its newest version (guest: `version`). */
	GPtrArray *structs;	  /* struct manifest_vms * */
	GPtrArray *props;	  /* struct manifest_prop * */
	int props_complete;	  /* guest: every property is listed */
	GPtrArray *known_bad;	  /* inventory: struct manifest_known_bad * */
};

struct manifest {
	enum manifest_kind kind;
	const char *abi; /* host ABI "MAJOR.MINOR" */
	/* Guest: the machine type it runs, and whether it was asked for by
	 * the unversioned alias (no guarantee across releases). */
	const char *machine;
	int machine_alias;
	/* Inventory: the host's machine types, newest first. */
	struct machine_registry registry;
	GArray *machines; /* struct machine_type, registry.types */
	GPtrArray *devices; /* struct manifest_device * */
	/* Guest: the CPU it was given; inventory: what this host offers.
	 * NULL: the document lists none (an older writer, or a host that
	 * could not open KVM). */
	struct cpu_model *cpu;
	GStringChunk *strings;
};

struct manifest *manifest_new(enum manifest_kind kind);
void manifest_free(struct manifest *m);

/* Copies s into m's strings. */
const char *manifest_str(struct manifest *m, const char *s);

struct manifest_device *manifest_add_device(struct manifest *m);
struct manifest_vms *manifest_vms_new(void);
/*
 * Adds a layout; consecutive versions with one layout share an entry.
 * `fields` (taken; NULL: none listed) as struct manifest_layout says.
 */
void manifest_vms_add_layout(struct manifest_vms *v, uint32_t since,
			     const char *fp);
void manifest_vms_add_layout_fields(struct manifest_vms *v, uint32_t since,
				    const char *fp, GPtrArray *fields);
/* The layout entry of `version`, or NULL outside the listed layouts. */
const struct manifest_layout *manifest_vms_layout_at(const struct manifest_vms *v,
						     uint32_t version);
/* The fingerprint of `version`, or NULL outside the listed layouts. */
const char *manifest_vms_layout(const struct manifest_vms *v,
				uint32_t version);

/* An inventory's machine types (copied, newest first). */
void manifest_add_machine(struct manifest *m, const struct machine_type *t);

/*
 * Parses `len` bytes of JSON that must be a document of `kind`. `what`
 * names the input in messages (a file name). Refuses anything over
 * MANIFEST_MAX_BYTES or any bound above, unknown format versions, and
 * members of the wrong type, naming the member.
 */
int manifest_parse(const char *what, const char *data, size_t len,
		   enum manifest_kind kind, struct manifest **ret,
		   GError **error);

/* The document as pretty-printed JSON text. */
char *manifest_to_json(const struct manifest *m);

#endif
