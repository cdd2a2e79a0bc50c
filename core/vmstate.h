/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * core/vmstate.h - device state as this host holds it, after QEMU's
 * VMState: a module's description imported and checked once
 * (vmstate-check.c), saved and loaded as framed sections by an
 * interpreter (vmstate.c) that leaves each field to its kind's codec in
 * one table (vmstate-types.c), and read for layouts and walks without a
 * save (vmstate-layout.c). docs/stream-format.md is the wire format.
 */
#ifndef CORE_VMSTATE_H
#define CORE_VMSTATE_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#include <modvmm/vmstate.h>

#include "compat/machine-types.h"

/* Bounds on what a description may declare. */
#define VMS_MAX_FIELDS 1024
#define VMS_MAX_SUBSECTIONS 64	       /* per description */
#define VMS_MAX_ALL_SUBSECTIONS 256    /* per device, at every depth */
#define VMS_MAX_NAME 255	       /* bytes in a description's name */
#define VMS_MAX_DEPTH 8
#define VMS_MAX_COUNT (16u << 20)

/* Section framing on the wire (docs/stream-format.md). */
#define VMS_TAG_START 0x53 /* 'S' */
#define VMS_TAG_END 0x45   /* 'E' */
#define VMS_FLAG_OPTIONAL 0x01

struct state_desc;

/* A field as this host knows it: an imported copy. */
struct state_field {
	struct modvmm_vmstate_field f;
	struct state_desc *nested; /* STRUCT, arrays of STRUCT */
	int length_index;   /* VARRAY: index of its length field */
};

struct state_sub {
	uint32_t flags;
	struct state_desc *vms;
	int32_t (*needed)(const void *state);
};

/* A description as this host knows it, checked once at registration. */
struct state_desc {
	struct modvmm_vmstate d;
	/* The module's own: one description used in two places is one
	 * description, two with one name are a conflict (vmstate_import). */
	const struct modvmm_vmstate *src;
	char *name;
	uint32_t state_size; /* bytes of state it describes */
	struct state_field *fields;
	struct state_sub *subs;
};

/*
 * Imports and checks a module's description of `state_size` bytes of
 * state. `where` names its owner in messages ("module M: device type D").
 */
int vmstate_import(const char *where, const struct modvmm_vmstate *src,
		   uint32_t state_size, struct state_desc **ret,
		   GError **error);
void vmstate_free(struct state_desc *v);

/* "u8", "varray", ...; and bytes of an integer kind (0 for others). */
const char *vmstate_kind_name(uint32_t kind);
int vmstate_kind_width(uint32_t kind);

/* Oldest version this description can save. */
uint32_t vmstate_min_save(const struct state_desc *v);

/* Appends one framed section for `state` at `version` to `out`. */
int vmstate_save(const struct state_desc *v, void *state, uint32_t version,
		 GByteArray *out, GError **error);

/*
 * Every subsection of `v` at every depth, those of nested structs'
 * descriptions included, parents first, once per name: `parent` is the
 * description it sits in, `since` the first version of `v` at which it
 * can be on the wire (one inside a struct field comes with that field).
 */
typedef void (*vmstate_sub_fn)(void *opaque, const struct state_sub *s,
			       const struct state_desc *parent, uint32_t since);
void vmstate_foreach_subsection(const struct state_desc *v, vmstate_sub_fn fn,
				void *opaque);

/*
 * Every nested struct's description of `v` at every depth (those within
 * subsections included), parents first, once per name: `parent` is the
 * description whose field holds it, `since` as for subsections.
 */
typedef void (*vmstate_struct_fn)(void *opaque, const struct state_desc *desc,
				  const struct state_desc *parent,
				  uint32_t since);
void vmstate_foreach_struct(const struct state_desc *v, vmstate_struct_fn fn,
			    void *opaque);

/*
 * Adds to the set `ret` the name of every subsection, at every depth, that
 * vmstate_save() of `state` at `version` would put on the wire. Asks each
 * `needed` as a save does; runs no pre_save and writes nothing.
 */
void vmstate_subsections_sent(const struct state_desc *v, const void *state,
			      uint32_t version, GHashTable *ret);

/* vmstate_load() flags. */
#define VMSTATE_NO_HOOKS 0x1u /* decode only: run no pre_/post_load */

/*
 * What a load saw, as it saw it: for tools that show a stream. `at` is
 * the field in the state being loaded; `count` its elements (arrays) or
 * bytes (buffers); offsets are in the whole stream.
 */
struct vmstate_trace {
	void (*section)(void *opaque, const char *name, uint32_t version,
			size_t offset, int depth, int end);
	void (*field)(void *opaque, const struct modvmm_vmstate_field *f,
		      const uint8_t *at, uint32_t count, size_t offset,
		      int depth);
	void *opaque;
};

/*
 * Loads one framed section from buf[0..len). The state changes only if
 * the whole section loads: it is loaded into a copy first. `id` names the
 * device in messages; `base` is the section's offset in the whole stream,
 * for messages. *ret_used is the section's length on the wire.
 */
int vmstate_load_flags(const struct state_desc *v, void *state,
		       const uint8_t *buf, size_t len, size_t base,
		       const char *id, unsigned int flags,
		       const struct vmstate_trace *trace, size_t *ret_used,
		       GError **error);

static inline int vmstate_load(const struct state_desc *v, void *state,
			       const uint8_t *buf, size_t len, size_t base,
			       const char *id, size_t *ret_used, GError **error)
{
	return vmstate_load_flags(v, state, buf, len, base, id, 0, NULL,
				  ret_used, error);
}

/*
 * The name in the header of the section at buf[0..len), the header
 * checked as a load checks it: for a tool that finds the description to
 * load a section with by its name. Messages as for a load.
 */
int vmstate_section_name(const uint8_t *buf, size_t len, size_t base,
			 const char *id, char ret_name[VMS_MAX_NAME + 1],
			 GError **error);

/* Hex digits of a layout fingerprint (manifests, docs/compat.md). */
#define VMS_FP_LEN 16

/*
 * A digest of what goes on the wire for `v` at `version`: field names,
 * kinds and sizes in order, nested structs at their own version. Two hosts
 * with equal fingerprints for a version read each other's sections.
 */
void vmstate_fingerprint(const struct state_desc *v, uint32_t version,
			 char out[VMS_FP_LEN + 1]);

/*
 * The fields `v` puts on the wire at `version`, one string each, for the
 * compatibility rule to compare field by field (docs/compat.md):
 * "BYTES:s:" for a retired slot, "BYTES:F:NAME:KIND:ELEMENT:COUNT[:STRUCT]"
 * for any other field, F 'r' for a field in a retired slot's bytes and
 * '-' otherwise, BYTES 0 where the size depends on the state, STRUCT the
 * name of a nested description. Appended to `ret`.
 */
void vmstate_layout_fields(const struct state_desc *v, uint32_t version,
			   GPtrArray *ret);

/*
 * The retired-slot rule: a field that reuses a slot (a non-unused field
 * with `retired_in`) is refused unless that machine type is removed in
 * `r`. `where` names the owner, as for vmstate_import().
 */
int vmstate_check_retired(const struct state_desc *v,
			  const struct machine_registry *r, const char *where,
			  GError **error);

#endif
