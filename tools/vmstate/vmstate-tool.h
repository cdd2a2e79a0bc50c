/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef TOOLS_VMSTATE_TOOL_H
#define TOOLS_VMSTATE_TOOL_H

/*
 * tools/vmstate/vmstate-tool.h - what the parts of modvmm-vmstate share:
 * the subcommands, reading a state dump (dump-read.c), the findings of a
 * comparison (explain.c) and the manifests made from dumps (manifest.c).
 */

#include <glib.h>
#include <json-glib/json-glib.h>

#include "compat/manifest.h"

/* The subcommands (dump.c, diff.c). */
int cmd_dump(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_matrix(int argc, char **argv);

/* Reading dumps (dump-read.c) --------------------------------------------- */

/*
 * A dump read and checked to be one: its root object, owned by the
 * parser returned in *ret_parser. NULL, with the reason printed, if not.
 */
JsonObject *load_dump(const char *path, JsonParser **ret_parser);

/* A member of `o` of the type asked for, or the default / NULL. */
gint64 int_of(JsonObject *o, const char *key, gint64 dflt);
const char *str_of(JsonObject *o, const char *key);
JsonArray *arr_of(JsonObject *o, const char *key);
JsonObject *obj_of(JsonObject *o, const char *key);

/* A field's wire shape, for comparing two descriptions at one version. */
char *field_shape(JsonObject *f);

/* A dump's "machine_types", or NULL for a dump without them. */
JsonArray *machine_types(JsonObject *dump);

/* The status a dump gives a machine type, or NULL. */
const char *dump_status(JsonObject *dump, const char *name);

/* Whether the host that wrote `dump` has removed machine type `name`. */
int removed_in(JsonObject *dump, const char *name);

/* A device entry's description, or NULL when it has none. */
JsonObject *state_of(JsonObject *dev);

/* The subsection called `name` of a description, or NULL. */
JsonObject *find_sub(JsonObject *desc, const char *name);

/* Fields present at `version`, in order (a new array of borrowed ones). */
GPtrArray *fields_at(JsonObject *desc, gint64 version);

/* Whether a field is a retired slot; bytes a field takes on the wire. */
int is_slot(JsonObject *f);
gint64 wire_bytes(JsonObject *f);

/* Findings (explain.c) ------------------------------------------------------ */

struct diff {
	const char *dir; /* "forward", "backward" or "stable" */
	int findings;
	JsonObject *src, *dst; /* the two dumps */
	GString *out;	       /* findings go here when set, else to stdout */
	const char *indent;    /* before each finding: explanations' */
};

/* One finding, counted, after d->dir and d->indent. */
void finding(struct diff *d, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/*
 * Why the rule refused a device, field by field, at the newest version
 * both sides describe, and in every subsection both have.
 */
void explain_desc(struct diff *d, const char *where, JsonObject *src,
		  JsonObject *dst);

/* Manifests from dumps (manifest.c) ----------------------------------------- */

/*
 * The guest a source with `src`'s modules runs and the host `dst`'s
 * modules make, as compat_negotiate() takes them; -1 (printed) when the
 * dumps make none.
 */
int pair_manifests(const char *src_path, JsonObject *src, const char *dst_path,
		   JsonObject *dst, struct manifest **ret_guest,
		   struct manifest **ret_inv);

/* The stable-series check (stable.c): the number of findings. */
int check_stable(JsonObject *old, JsonObject *new);

#endif
