/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * core/vmstate-internal.h - what the files of the VMState engine share and
 * nothing else includes: the table of per-kind operations
 * (vmstate-types.c), the reader of a section on the wire and the
 * interpreter's entry points the per-kind codecs recurse into (vmstate.c),
 * and the byte helpers of both.
 *
 * Every function here may assume a description vmstate_import() accepted:
 * kinds are known, length fields exist and come first, nested structs
 * have their description.
 *
 * It names the engine's structs of vmstate.h without including it, so
 * that vmstate.c, which includes both, is no include cycle.
 */
#ifndef CORE_VMSTATE_INTERNAL_H
#define CORE_VMSTATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include <modvmm/vmstate.h>

struct state_desc;
struct state_field;
struct vmstate_trace;

/* ---- reading a section ------------------------------------------------ */

/* A stream being read; every read is checked against an `end`. */
struct section_reader {
	unsigned int flags; /* VMSTATE_* */
	const struct vmstate_trace *trace;
	int depth;
	const uint8_t *buf;
	size_t pos;  /* next byte, relative to buf */
	size_t base; /* buf's offset in the whole stream */
	const char *id;
};

/* One section's body being loaded: what every field's loader needs. */
struct section_load {
	const struct state_desc *v;
	uint8_t *state;
	uint32_t version; /* the section's, from its header */
	size_t end;	  /* where its END byte sits, relative to buf */
	struct section_reader *rd;
};

/* The message of a read past `end` (vmstate.c). */
int vmstate_truncated(const struct section_reader *rd, size_t end, size_t n,
		      const char *sec, const char *what, GError **error);

/*
 * Checks that n bytes remain before `end`; `sec` and `what` name the
 * section and what needed them in the message. Inline: every field's
 * load asks, and the small devices' load feels a call.
 */
static inline int reader_check_room(const struct section_reader *rd, size_t end,
				    size_t n, const char *sec, const char *what,
				    GError **error)
{
	if (n > end - rd->pos)
		return vmstate_truncated(rd, end, n, sec, what, error);
	return 0;
}

/* ---- the interpreter, for the codecs of nested structs (vmstate.c) ---- */

/* Appends one framed section of `v` with header flags `flags`. */
int vmstate_section_save(const struct state_desc *v, uint8_t *state,
			 uint32_t version, uint8_t flags, GByteArray *out,
			 GError **error);

/* Loads a section that must be `v`: header, then the body. */
int vmstate_nested_load(const struct state_desc *v, uint8_t *state,
			struct section_reader *rd, size_t end,
			const char *within, GError **error);

/* ---- one table of operations per field kind (vmstate-types.c) --------- */

struct vmstate_kind_ops {
	const char *name; /* "u8", "varray", ...: messages and layouts */
	int width;	  /* bytes of an integer kind, 0 for the others */
	bool no_data;	  /* puts nothing on the wire (validate) */
	/* Bytes of state the field covers, 0 if none. */
	uint64_t (*state_size)(const struct state_field *vf);
	/* Bytes it always takes on the wire, 0 if that depends. */
	uint64_t (*wire_size)(const struct state_field *vf);
	/*
	 * Why field `i` of `v` cannot be imported (the caller frees it), or
	 * NULL; after the checks every kind shares, before its nested
	 * description is imported. NULL for kinds with nothing to check.
	 */
	char *(*check)(struct state_desc *v, uint32_t i);
	/* Puts the field of `state` on the wire. */
	int (*save)(const struct state_desc *v, const struct state_field *vf,
		    uint8_t *state, GByteArray *out, GError **error);
	/*
	 * Reads the field into the state; *count is the field's count on
	 * entry and the elements read (variable arrays) on return, for a
	 * trace.
	 */
	int (*load)(struct section_load *sl, const struct state_field *vf,
		    uint32_t *count, GError **error);
};

/* Indexed by MODVMM_VMS_*; index 0 is no kind. */
extern const struct vmstate_kind_ops vmstate_kinds[MODVMM_VMS_VALIDATE + 1];

/* The operations of a field's kind. */
#define field_ops(vf) (&vmstate_kinds[(vf)->f.kind])

/* A variable array's length: its length field's value in `state`. */
uint64_t vmstate_varray_length(const struct state_desc *v,
			       const struct state_field *vf,
			       const uint8_t *state);

/* ---- bytes ------------------------------------------------------------ */

/* Appends the low n bytes of v, little-endian as the wire is. */
static inline void put_le(GByteArray *out, uint64_t v, int n)
{
	uint8_t b[8];

	for (int i = 0; i < n; i++, v >>= 8)
		b[i] = (uint8_t)v;
	g_byte_array_append(out, b, (guint)n);
}

static inline uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* An integer of n bytes in the state, in the host's order. */
static inline uint64_t state_get(const uint8_t *at, int n)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (n) {
	case 1:
		memcpy(&u8, at, 1);
		return u8;
	case 2:
		memcpy(&u16, at, 2);
		return u16;
	case 4:
		memcpy(&u32, at, 4);
		return u32;
	}
	memcpy(&u64, at, 8);
	return u64;
}

static inline void state_set(uint8_t *at, int n, uint64_t v)
{
	uint8_t u8 = (uint8_t)v;
	uint16_t u16 = (uint16_t)v;
	uint32_t u32 = (uint32_t)v;

	switch (n) {
	case 1:
		memcpy(at, &u8, 1);
		return;
	case 2:
		memcpy(at, &u16, 2);
		return;
	case 4:
		memcpy(at, &u32, 4);
		return;
	}
	memcpy(at, &v, 8);
}

#endif
