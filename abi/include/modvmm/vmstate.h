/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef MODVMM_VMSTATE_H
#define MODVMM_VMSTATE_H

/*
 * Device state descriptions (since ABI 1.1). A module only declares what
 * its state is; the host saves, frames, checks and loads it. A description
 * is data: fields in wire order, each with the version it appeared in,
 * and subsections sent only when needed.
 *
 * Versions: a description is at `version` now; it loads any version from
 * `min_version` up, and can save any version from `min_save_version` up
 * (for migrating to an older host; fields newer than the version saved are
 * left out).
 */

#include <modvmm/abi.h>

_MODVMM_BEGIN_DECLARATIONS

enum {
	MODVMM_VMS_U8 = 1,
	MODVMM_VMS_U16 = 2,
	MODVMM_VMS_U32 = 3,
	MODVMM_VMS_U64 = 4,
	MODVMM_VMS_I8 = 5,
	MODVMM_VMS_I16 = 6,
	MODVMM_VMS_I32 = 7,
	MODVMM_VMS_I64 = 8,
	MODVMM_VMS_BOOL = 9,	  /* uint8_t in the state, 0 or 1 */
	MODVMM_VMS_BUFFER = 10,	  /* count bytes */
	MODVMM_VMS_ARRAY = 11,	  /* count elements of elem_kind */
	MODVMM_VMS_VARRAY = 12,	  /* length_field elements, at most count */
	MODVMM_VMS_STRUCT = 13,	  /* nested description, stride bytes */
	MODVMM_VMS_UNUSED = 14,	  /* count zero bytes; retired_in says when */
	MODVMM_VMS_VALIDATE = 15, /* no data: validate() on load */
};

/* Subsection flags. */
#define MODVMM_VMS_OPTIONAL 0x1u    /* may be dropped for a host without it */
#define MODVMM_VMS_LEGACY_NAME 0x2u /* name need not be "parent/child" */

struct modvmm_vmstate;

struct modvmm_vmstate_field {
	uint32_t size;
	uint32_t kind; /* MODVMM_VMS_* */
	const char *name;
	uint32_t offset;    /* in the state (or in the enclosing struct) */
	uint32_t since;	    /* first version of the description with it */
	uint32_t elem_kind; /* ARRAY, VARRAY: an integer kind or STRUCT */
	uint32_t count;	    /* BUFFER, UNUSED: bytes; ARRAY: elements;
			    VARRAY: most elements */
	uint32_t stride;    /* STRUCT, arrays of STRUCT: bytes per element */
	uint32_t reserved;
	const char *length_field;	  /* VARRAY: an earlier integer field */
	const struct modvmm_vmstate *vms; /* STRUCT and arrays of STRUCT */
	/* UNUSED: the machine type it was retired in. Another kind: the
	 * retired slot it reuses, allowed once that type is removed. */
	const char *retired_in;
	/* VALIDATE: 0, or a negative errno with *ret_message set. */
	int32_t (*validate)(const void *state, uint32_t version,
			    const char **ret_message);
};

struct modvmm_vmstate_subsection {
	uint32_t size;
	uint32_t flags; /* MODVMM_VMS_OPTIONAL | MODVMM_VMS_LEGACY_NAME */
	const struct modvmm_vmstate *vms;
	/* Whether it goes on the wire now; NULL means always. */
	int32_t (*needed)(const void *state);
};

struct modvmm_vmstate {
	uint32_t size;
	uint32_t version;
	uint32_t min_version;
	uint32_t min_save_version; /* 0: only `version` */
	const char *name;
	const struct modvmm_vmstate_field *fields;
	uint32_t n_fields;
	uint32_t n_subsections;
	const struct modvmm_vmstate_subsection *subsections;
	/* Optional; 0 or a negative errno (refuses the save or load). */
	int32_t (*pre_save)(void *state);
	int32_t (*pre_load)(void *state);
	int32_t (*post_load)(void *state, uint32_t version);
};

#define _MODVMM_VMS(k, n, s, m, ...)                                           \
	{                                                                      \
		.size = sizeof(struct modvmm_vmstate_field), .kind = (k),      \
		.name = (n), .offset = offsetof(s, m), __VA_ARGS__             \
	}
/* A scalar of kind MODVMM_VMS_<kind>, e.g. MODVMM_VMS_FIELD(U8, ...). */
#define MODVMM_VMS_FIELD(kind, s, m, v)                                        \
	_MODVMM_VMS(MODVMM_VMS_##kind, #m, s, m, .since = (v))
#define MODVMM_VMS_BUFFER_FIELD(s, m, v)                                       \
	_MODVMM_VMS(MODVMM_VMS_BUFFER, #m, s, m, .since = (v),                 \
		    .count = sizeof(((s *)0)->m))
#define MODVMM_VMS_ARRAY_FIELD(ekind, s, m, v)                                 \
	_MODVMM_VMS(MODVMM_VMS_ARRAY, #m, s, m, .since = (v),                  \
		    .elem_kind = MODVMM_VMS_##ekind,                           \
		    .count = sizeof(((s *)0)->m) / sizeof(((s *)0)->m[0]))
#define MODVMM_VMS_VARRAY_FIELD(ekind, s, m, lenfield, v)                      \
	_MODVMM_VMS(MODVMM_VMS_VARRAY, #m, s, m, .since = (v),                 \
		    .elem_kind = MODVMM_VMS_##ekind,                           \
		    .length_field = (lenfield),                                \
		    .count = sizeof(((s *)0)->m) / sizeof(((s *)0)->m[0]))
#define MODVMM_VMS_STRUCT_FIELD(s, m, desc, v)                                 \
	_MODVMM_VMS(MODVMM_VMS_STRUCT, #m, s, m, .since = (v), .vms = (desc),  \
		    .stride = sizeof(((s *)0)->m))
#define MODVMM_VMS_UNUSED_FIELD(s, m, retired, v)                              \
	_MODVMM_VMS(MODVMM_VMS_UNUSED, #m, s, m, .since = (v),                 \
		    .count = sizeof(((s *)0)->m), .retired_in = (retired))
/* A field in the bytes of a slot retired in machine type `retired`. */
#define MODVMM_VMS_REUSING_FIELD(kind, s, m, retired, v)                       \
	_MODVMM_VMS(MODVMM_VMS_##kind, #m, s, m, .since = (v),                 \
		    .retired_in = (retired))
#define MODVMM_VMS_VALIDATE_FIELD(n, fn, v)                                    \
	{                                                                      \
		.size = sizeof(struct modvmm_vmstate_field),                   \
		.kind = MODVMM_VMS_VALIDATE, .name = (n), .since = (v),        \
		.validate = (fn)                                               \
	}

_MODVMM_END_DECLARATIONS

#endif
