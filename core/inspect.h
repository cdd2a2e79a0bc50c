/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_INSPECT_H
#define CORE_INSPECT_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include <modvmm/device.h>
#include <modvmm/vmstate.h>

#include "compat/manifest.h"

/*
 * What the tools (tools/) see of the core library beyond
 * core/modules.h: loaded modules and device types as opaque handles with
 * their data copied out in plain structs and public ABI structs, state
 * descriptions walked field by field, sections and snapshot records
 * decoded by core's own readers. Nothing here changes a VM.
 */

struct vm_devices;
struct device_type; /* opaque: one device type of a loaded module */
struct state_desc;  /* opaque: one state description as imported */
struct snap_reader; /* opaque: a snapshot or stream being shown */
struct modinfo;	    /* opaque: a module file's metadata */

/* Module metadata, read with no code of the module run ------------------ */

/* What a module file's .modvmm_modinfo section says, as plain data. */
struct inspect_metadata {
	const GPtrArray *keys;	 /* char *: every entry in section order */
	const GPtrArray *values; /* char *: and its value */
	uint32_t abi_major;
	uint32_t abi_minor;
	int intree;
	int has_entry; /* it exports modvmm_module_init */
};

/* Reads and checks the metadata of the module file at `path`. */
int inspect_metadata_read(const char *path, struct modinfo **ret,
			  struct inspect_metadata *md, GError **error);
/* The metadata as a JSON object; the caller owns the node. */
JsonNode *inspect_metadata_json(const struct modinfo *mi);
void inspect_metadata_free(struct modinfo *mi);

/* Loaded modules and their device types --------------------------------- */

/* A device type, as plain data; pointers live as long as the module. */
struct inspect_type {
	const char *name;
	const char *description; /* or NULL */
	const struct modvmm_property *props;
	uint32_t n_props;
	const struct state_desc *state; /* NULL: it has no state */
	const char *module;		/* the module's name, version, file */
	const char *module_version;
	const char *module_path;
	int intree;
	const GPtrArray *known_bad; /* char *: "VERSION: reason" */
};

void inspect_type_get(const struct device_type *dt, struct inspect_type *ret);

/* Every device type of every loaded module, in load order. */
typedef void (*inspect_type_fn)(void *opaque, const struct device_type *dt);
void inspect_foreach_type(struct vm_devices *devs, inspect_type_fn fn,
			  void *opaque);

/* The device type called `name`, or NULL. */
const struct device_type *inspect_type_by_name(struct vm_devices *devs,
					       const char *name);

/* The device type whose state description is called `name`, or NULL. */
const struct device_type *inspect_type_by_state(struct vm_devices *devs,
						const char *name);

/* A property's type name and a value as --device takes it (g_free). */
const char *inspect_prop_type_name(uint32_t type);
char *inspect_prop_text(const struct modvmm_property *p, uint64_t v,
			const char *s);
/* The value that behaves as releases before the property; NULL: none. */
char *inspect_prop_legacy_text(const struct modvmm_property *p);

/* State descriptions ------------------------------------------------------ */

/* A description, or a subsection (`sub` set, with its `flags`). */
struct inspect_desc {
	const char *name;
	uint32_t version;
	uint32_t min_version;
	uint32_t min_save; /* oldest version it can save */
	int sub;
	uint32_t flags; /* MODVMM_VMS_OPTIONAL, MODVMM_VMS_LEGACY_NAME */
};

void inspect_desc_get(const struct state_desc *v, struct inspect_desc *ret);

/*
 * The whole tree of a description, for dumps: desc_begin, then each
 * field (a struct field's description walked between its field_begin
 * and field_end, `nested` set), fields_end, each subsection walked the
 * same way, desc_end.
 */
struct inspect_visitor {
	void (*desc_begin)(void *opaque, const struct inspect_desc *d);
	void (*field_begin)(void *opaque, const struct modvmm_vmstate_field *f,
			    int nested);
	void (*field_end)(void *opaque);
	void (*fields_end)(void *opaque);
	void (*desc_end)(void *opaque);
	void *opaque;
};

void inspect_walk_desc(const struct state_desc *v,
		       const struct inspect_visitor *vis);

/*
 * Every subsection at every depth, parents first, once per name, as
 * vmstate_foreach_subsection() gives them: `parent` the name of the
 * description it sits in, `since` the first version it can be sent at.
 */
typedef void (*inspect_sub_fn)(void *opaque, const struct inspect_desc *sub,
			       const char *parent, uint32_t since);
void inspect_foreach_subsection(const struct state_desc *v, inspect_sub_fn fn,
				void *opaque);

/*
 * The machine types on which a newly created device of type `dt` sends
 * each of its subsections: subsection name to a GPtrArray of machine type
 * names. A device that cannot be made from its defaults shows none.
 */
GHashTable *inspect_subsections_sent_on(struct vm_devices *devs,
					const struct device_type *dt);

/* Manifests (compat/manifest.h) ------------------------------------------ */

/*
 * The inventory of what `devs` has loaded, with this build's machine
 * types; with `devs` NULL, of the machine types alone.
 */
struct manifest *inspect_inventory(struct vm_devices *devs);

/* dt's state in manifest entry `d`, as an inventory lists it. */
void inspect_describe_state(struct manifest *m, struct manifest_device *d,
			    const struct device_type *dt);

/* Device state sections --------------------------------------------------- */

/* Whether buf starts with a section's tag (not that the section is good). */
int inspect_starts_section(const uint8_t *buf, size_t len);

/*
 * The name in the header of the section at buf[0..len), checked as a
 * load checks it; `base` and `id` as for a load, in messages.
 */
int inspect_section_peek(const uint8_t *buf, size_t len, size_t base,
			 const char *id, char **ret_name, GError **error);

/*
 * What a decode saw (struct vmstate_trace's callbacks): `at` is the
 * field's bytes in host order, `count` its elements or bytes, offsets in
 * the whole stream.
 */
struct inspect_trace {
	void (*section)(void *opaque, const char *name, uint32_t version,
			size_t offset, int depth, int end);
	void (*field)(void *opaque, const struct modvmm_vmstate_field *f,
		      const uint8_t *at, uint32_t count, size_t offset,
		      int depth);
	void *opaque;
};

/*
 * One section with dt's description, run through no hook of the module:
 * checked first without the trace, so that a state that does not load
 * shows no half of itself. *ret_used: its bytes on the wire.
 */
int inspect_decode_section(const struct device_type *dt, const uint8_t *buf,
			   size_t len, size_t base, const char *id,
			   const struct inspect_trace *trace, size_t *ret_used,
			   GError **error);

/* "u8", "varray", ...; and bytes of an integer kind (0 for others). */
const char *inspect_kind_name(uint32_t kind);
int inspect_kind_width(uint32_t kind);

/* Snapshots and streams --------------------------------------------------- */

enum inspect_record_kind {
	INSPECT_RECORD_OTHER,
	INSPECT_RECORD_CPU,
	INSPECT_RECORD_VM,
	INSPECT_RECORD_DEVICE,
	INSPECT_RECORD_END,
	INSPECT_RECORD_VERDICT,
};

/* A record as read: its payload lies in the data or the caller's buffer. */
struct inspect_record {
	enum inspect_record_kind kind;
	const char *name; /* "HELLO", "RAM", ... (docs/stream-format.md) */
	size_t at;	  /* offset of its header */
	size_t data_at;	  /* offset of its payload */
	const uint8_t *data;
	uint32_t len;
};

/* A snapshot's head, as plain data owned by the snapshot. */
struct inspect_head {
	const char *machine;
	int alias;
	uint64_t memory;
	unsigned int cpus;
	int check; /* a migration check */
	uint32_t format;
	const struct manifest *manifest;
	size_t first; /* offset of the first record */
};

/*
 * A snapshot file or what a source sent, its head checked as a restore
 * checks it (snapshot_inspect()); `data` must outlive the snapshot.
 */
int inspect_snapshot_open(const char *file, const uint8_t *data, size_t len,
			  struct snap_reader **ret, struct inspect_head *head,
			  GError **error);
void inspect_snapshot_free(struct snap_reader *s);

/*
 * The record at *offset, framing checked; *offset moves past it. A
 * checksum that does not match is in *ret_corrupt, the record returned
 * all the same. Returns 1, or 0 at the end of the data.
 */
int inspect_snapshot_next(struct snap_reader *s, size_t *offset,
			  struct inspect_record *rec, GError **ret_corrupt,
			  GError **error);

/* Whether buf starts as a destination's answers (a VERDICT record). */
int inspect_starts_answers(const uint8_t *buf, size_t len);

/* The format this host writes, its answers' too. */
uint32_t inspect_stream_format(void);

/* Bytes a JSON record (HELLO, VERDICT) may have. */
size_t inspect_json_record_max(void);

/*
 * The destination's answer at *offset of `fd`, read as a source reads
 * it; the payload is in `buf`. `file` names it in messages.
 */
int inspect_answer_next(int fd, const char *file, size_t *offset,
			GByteArray *buf, struct inspect_record *rec,
			GError **error);

/*
 * The guest time a CPU record (u32 vCPU index, a "kvm-cpu" section)
 * holds: *ret_has_tsc unless it lists no TSC. Messages name `path`.
 */
int inspect_cpu_time(const char *path, const struct inspect_record *rec,
		     uint32_t *ret_cpu, uint64_t *ret_tsc, int *ret_has_tsc,
		     GError **error);

/* The guest time the VM record ("kvm-vm" section) holds. */
int inspect_vm_time(const struct inspect_record *rec, uint64_t *ret_kvmclock_ns,
		    uint64_t *ret_device_clock_ns, GError **error);

#endif
