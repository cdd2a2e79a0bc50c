/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_MODINFO_H
#define CORE_MODINFO_H

#include <stddef.h>
#include <stdint.h>

#include <glib.h>
#include <json-glib/json-glib.h>

/* The .modvmm_modinfo section is refused above this size. */
#define MODINFO_MAX_SIZE (64 * 1024)
/* What goes into migration manifests is bounded as their readers are. */
#define MODINFO_MAX_VALUE 256 /* bytes of version=, of a known_bad reason */
#define MODINFO_MAX_KNOWN_BAD 64

struct modinfo {
	char *file; /* base name of the module file, used in every message */
	char *name;
	char *version;
	char *abi;
	uint32_t abi_major;
	uint32_t abi_minor;
	char *license;
	char *author;
	char *description;
	int intree;
	GPtrArray *devices;  /* char *, one per device= */
	GPtrArray *vmstates; /* char *, one per vmstate= ("NAME@VERSION") */
	/* One per known_bad= ("VERSION: reason"): versions of this module
	 * whose saved state is corrupt; migration from them is refused. */
	GPtrArray *known_bad;
	GPtrArray *keys;     /* char *, every entry in section order ... */
	GPtrArray *values;   /* ... and its value */
	int has_entry;	     /* .dynsym defines modvmm_module_init */
};

/*
 * Reads and checks a module's metadata from an open file, without mapping
 * or running any of it. `path` only names the file in messages.
 */
int modinfo_read_fd(int fd, const char *path, struct modinfo **ret,
		    GError **error);
int modinfo_read(const char *path, struct modinfo **ret, GError **error);

/* Parses section contents; the ELF-free half of modinfo_read_fd(). */
int modinfo_parse(const char *file, const char *data, size_t len,
		  struct modinfo **ret, GError **error);

void modinfo_free(struct modinfo *mi);

/* The metadata as a JSON object; the caller owns the node. */
JsonNode *modinfo_to_json(const struct modinfo *mi);

#endif
