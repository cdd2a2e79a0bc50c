// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * modvmm-modinfo - print a module's metadata, then its device types.
 *
 * The metadata comes from the .modvmm_modinfo section alone, with no code
 * of the module run, so it is shown for any file, including modules built
 * for another ABI. What only the module's descriptor says (each device
 * type's properties, state versions and subsections) needs the module
 * loaded: it is, through the loader, so only once the file has passed
 * the same trust, allowlist and metadata checks as for a host; a module
 * the loader refuses is shown by its metadata alone, with the reason on
 * stderr. --metadata-only never loads it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include <modvmm/abi.h>

#include "compat/abi-rules.h"
#include "compat/machine-types.h"
#include "core/inspect.h"
#include "core/modules.h"

static gboolean opt_json;
static gboolean opt_metadata_only;
static char *opt_module_allowlist;
static gboolean opt_version;

static const GOptionEntry options[] = {
	{ "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
	  "Print JSON instead of text", NULL },
	{ "metadata-only", 'm', 0, G_OPTION_ARG_NONE, &opt_metadata_only,
	  "Show the metadata only: do not load the module (runs none of its "
	  "code)",
	  NULL },
	{ "module-allowlist", 0, 0, G_OPTION_ARG_FILENAME,
	  &opt_module_allowlist,
	  "Load the module only if its SHA-256 is listed in FILE, as a host "
	  "with this option would",
	  "FILE" },
	{ "version", 'V', 0, G_OPTION_ARG_NONE, &opt_version,
	  "Print the version, the module ABI and the build date", NULL },
	{ NULL },
};

/* The build date is the one the machine types' lifecycle is computed from. */
static int print_version(void)
{
	char date[MACHINE_DATE_LEN];

	printf("modvmm-modinfo %s, module ABI %s, build date %s\n",
	       MODVMM_VERSION, MODVMM_ABI_STRING,
	       machine_date_text(machine_registry()->build_date, date));
	return 0;
}

static const char *abi_verdict(const struct inspect_metadata *mi)
{
	switch (abi_version_check(MODVMM_ABI_MAJOR, MODVMM_ABI_MINOR,
				  mi->abi_major, mi->abi_minor)) {
	case 0:
		return "loadable";
	case -ENOTSUP:
		return "too new for this host";
	}
	return "different major version, not loadable";
}

static void print_line(const char *key, const char *value)
{
	g_autofree char *label = g_strconcat(key, ":", NULL);

	printf("%-12s %s\n", label, value);
}

/* Known keys in a fixed order, then any others in section order. */
static void print_text(const char *path, const struct inspect_metadata *mi)
{
	static const char *const order[] = { "name",   "version",
					     "abi",    "license",
					     "author", "description",
					     "device", "intree" };

	print_line("file", path);
	for (size_t k = 0; k < G_N_ELEMENTS(order); k++) {
		for (guint i = 0; i < mi->keys->len; i++) {
			const char *value = mi->values->pdata[i];
			g_autofree char *abi = NULL;

			if (strcmp(mi->keys->pdata[i], order[k]))
				continue;
			if (!strcmp(order[k], "abi"))
				value = abi = g_strdup_printf(
					"%s (this host provides %s: %s)", value,
					MODVMM_ABI_STRING, abi_verdict(mi));
			print_line(order[k], value);
		}
	}
	for (guint i = 0; i < mi->keys->len; i++) {
		int known = 0;

		for (size_t k = 0; k < G_N_ELEMENTS(order); k++)
			known |= !strcmp(mi->keys->pdata[i], order[k]);
		if (!known)
			print_line(mi->keys->pdata[i], mi->values->pdata[i]);
	}
	if (!mi->intree)
		print_line("tree", "out-of-tree (taints the host)");
	if (!mi->has_entry)
		print_line("warning",
			   "does not export " MODVMM_MODULE_ENTRY "()");
}

/* Device types, from the loaded module's descriptor ----------------------- */

/* A value as --device takes it; in text, a string is quoted, "" shows. */
static char *prop_shown(const struct modvmm_property *p, char *text)
{
	char *q;

	if (p->type != MODVMM_PROP_STR)
		return text;
	q = g_strdup_printf("\"%s\"", text);
	g_free(text);
	return q;
}

static void print_sub_line(const char *key, const char *value)
{
	g_autofree char *label = g_strconcat(key, ":", NULL);

	printf("  %-12s %s\n", label, value);
}

static void print_sub_text(void *opaque, const struct inspect_desc *s,
			   const char *parent, uint32_t since)
{
	g_autoptr(GString) line = g_string_new(NULL);

	(void)opaque;
	g_string_printf(line, "%s version %u, loads %u..%u, in %s", s->name,
			s->version, s->min_version, s->version, parent);
	/* 0 or 1: from the description's first version on. */
	if (since > 1)
		g_string_append_printf(line, " from version %u", since);
	g_string_append(line, s->flags & MODVMM_VMS_OPTIONAL
				      ? ", optional"
				      : ", not optional");
	print_sub_line("subsection", line->str);
}

static void print_prop_text(const struct modvmm_property *p)
{
	g_autoptr(GString) line = g_string_new(NULL);
	g_autofree char *def = prop_shown(
		p, inspect_prop_text(p, p->default_u64, p->default_str));
	char *legacy = inspect_prop_legacy_text(p);

	g_string_printf(line, "%s (%s), default %s", p->name,
			inspect_prop_type_name(p->type), def);
	if (legacy) {
		legacy = prop_shown(p, legacy);
		g_string_append_printf(line, ", legacy %s", legacy);
		g_free(legacy);
	}
	if (p->description)
		g_string_append_printf(line, ": %s", p->description);
	print_sub_line("property", line->str);
}

static void print_state_text(const struct state_desc *v)
{
	g_autofree char *state = NULL;
	struct inspect_desc d;

	if (!v) {
		print_sub_line(
			"state",
			"none (a guest with this device cannot migrate)");
		return;
	}
	inspect_desc_get(v, &d);
	state = g_strdup_printf("%s version %u, loads %u..%u, saves %u..%u",
				d.name, d.version, d.min_version, d.version,
				d.min_save, d.version);
	print_sub_line("state", state);
	inspect_foreach_subsection(v, print_sub_text, NULL);
}

static void print_type_text(void *opaque, const struct device_type *dt)
{
	g_autofree char *head = NULL;
	struct inspect_type t;

	(void)opaque;
	inspect_type_get(dt, &t);
	head = t.description ? g_strdup_printf("%s: %s", t.name, t.description)
			     : g_strdup(t.name);
	print_line("type", head);
	for (uint32_t j = 0; j < t.n_props; j++)
		print_prop_text(&t.props[j]);
	print_state_text(t.state);
}

static void add_string_or_null(JsonBuilder *b, const char *name,
			       const char *value)
{
	json_builder_set_member_name(b, name);
	if (value)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

static void sub_json(void *opaque, const struct inspect_desc *s,
		     const char *parent, uint32_t since)
{
	JsonBuilder *b = opaque;

	json_builder_begin_object(b);
	add_string_or_null(b, "name", s->name);
	add_string_or_null(b, "parent", parent);
	json_builder_set_member_name(b, "version");
	json_builder_add_int_value(b, s->version);
	json_builder_set_member_name(b, "min_version");
	json_builder_add_int_value(b, s->min_version);
	json_builder_set_member_name(b, "since");
	json_builder_add_int_value(b, MAX(since, 1));
	json_builder_set_member_name(b, "optional");
	json_builder_add_boolean_value(b, !!(s->flags & MODVMM_VMS_OPTIONAL));
	json_builder_end_object(b);
}

/* Values in the form --device takes them, as query-devices gives them. */
static void prop_json(JsonBuilder *b, const struct modvmm_property *p)
{
	g_autofree char *def =
		inspect_prop_text(p, p->default_u64, p->default_str);
	g_autofree char *legacy = inspect_prop_legacy_text(p);

	json_builder_begin_object(b);
	add_string_or_null(b, "name", p->name);
	add_string_or_null(b, "type", inspect_prop_type_name(p->type));
	add_string_or_null(b, "default", def);
	add_string_or_null(b, "legacy", legacy);
	add_string_or_null(b, "description", p->description);
	json_builder_end_object(b);
}

/* A device type's state: its description's versions and subsections. */
static void state_json(JsonBuilder *b, const struct state_desc *v)
{
	struct inspect_desc d;

	json_builder_set_member_name(b, "state");
	if (!v) {
		json_builder_add_null_value(b);
		return;
	}
	inspect_desc_get(v, &d);
	json_builder_begin_object(b);
	add_string_or_null(b, "name", d.name);
	json_builder_set_member_name(b, "version");
	json_builder_add_int_value(b, d.version);
	json_builder_set_member_name(b, "min_version");
	json_builder_add_int_value(b, d.min_version);
	json_builder_set_member_name(b, "min_save_version");
	json_builder_add_int_value(b, d.min_save);
	json_builder_set_member_name(b, "subsections");
	json_builder_begin_array(b);
	inspect_foreach_subsection(v, sub_json, b);
	json_builder_end_array(b);
	json_builder_end_object(b);
}

static void type_json(void *opaque, const struct device_type *dt)
{
	JsonBuilder *b = opaque;
	struct inspect_type t;

	inspect_type_get(dt, &t);
	json_builder_begin_object(b);
	add_string_or_null(b, "name", t.name);
	add_string_or_null(b, "description", t.description);
	json_builder_set_member_name(b, "properties");
	json_builder_begin_array(b);
	for (uint32_t j = 0; j < t.n_props; j++)
		prop_json(b, &t.props[j]);
	json_builder_end_array(b);
	state_json(b, t.state);
	json_builder_end_object(b);
}

/* The device types of the one module `devs` has loaded. */
static JsonNode *types_json(struct vm_devices *devs)
{
	g_autoptr(JsonBuilder) b = json_builder_new();

	json_builder_begin_array(b);
	inspect_foreach_type(devs, type_json, b);
	json_builder_end_array(b);
	return json_builder_get_root(b);
}

/*
 * The module loaded as a host loads it, alone in *ret, or -1 with the
 * reason: the loader's checks come first, and nothing of a module they
 * refuse runs.
 */
static int module_load(const char *path, struct vm_devices **ret,
		       GError **error)
{
	char *files[] = { (char *)path, NULL };
	struct modules_config cfg = {
		.files = files,
		.no_default_dir = 1,
		.allowlist = opt_module_allowlist,
		.policy = MODULES_ALL,
	};

	return modules_open(&cfg, ret, NULL, error);
}

/* `devs`: the module loaded, or NULL for its metadata alone. */
static void print_json(const char *path, const struct modinfo *mi,
		       const struct inspect_metadata *md,
		       struct vm_devices *devs)
{
	g_autoptr(JsonNode) node = inspect_metadata_json(mi);
	JsonObject *o = json_node_get_object(node);
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autofree char *text = NULL;

	json_object_set_string_member(o, "path", path);
	json_object_set_string_member(o, "host_abi", MODVMM_ABI_STRING);
	json_object_set_string_member(o, "abi_verdict", abi_verdict(md));
	json_object_set_boolean_member(o, "exports_entry", md->has_entry);
	if (devs)
		json_object_set_member(o, "types", types_json(devs));
	json_generator_set_pretty(gen, TRUE);
	json_generator_set_root(gen, node);
	text = json_generator_to_data(gen, NULL);
	printf("%s\n", text);
}

int main(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx =
		g_option_context_new("MODULE.so - show a module's metadata");
	g_autoptr(GError) err = NULL;
	struct modinfo *mi = NULL;
	struct inspect_metadata md;
	struct vm_devices *devs = NULL;

	g_option_context_add_main_entries(ctx, options, NULL);
	g_option_context_set_description(
		ctx, "Reads the .modvmm_modinfo section first; then, unless "
		     "--metadata-only, loads the module as a host would (its "
		     "file trusted, its metadata accepted) to show its device "
		     "types.");
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "modvmm-modinfo: %s\n", err->message);
		return 2;
	}
	if (opt_version)
		return print_version();
	if (argc != 2) {
		fprintf(stderr, "modvmm-modinfo: expected one MODULE.so "
				"(--help for usage)\n");
		return 2;
	}
	if (inspect_metadata_read(argv[1], &mi, &md, &err) < 0) {
		fprintf(stderr, "modvmm-modinfo: %s\n", err->message);
		return 1;
	}
	/* The metadata first: a module that crashes as it loads (its code
	 * runs from here on) still has it shown. */
	if (!opt_json) {
		print_text(argv[1], &md);
		fflush(stdout);
	}
	if (!opt_metadata_only) {
		if (module_load(argv[1], &devs, &err) < 0)
			fprintf(stderr,
				"modvmm-modinfo: metadata only, not loaded: "
				"%s\n",
				err->message);
	}
	if (opt_json)
		print_json(argv[1], mi, &md, devs);
	else if (devs)
		inspect_foreach_type(devs, print_type_text, NULL);
	modules_close(devs);
	inspect_metadata_free(mi);
	return 0;
}
