// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * modvmm-modinfo - print a module's metadata without loading it.
 *
 * Reads only the .modvmm_modinfo section: no code of the module runs, so it
 * is safe on any file, including modules built for another ABI.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <json-glib/json-glib.h>

#include <modvmm/abi.h>

#include "../compat/abi.h"
#include "../core/modinfo.h"

static gboolean opt_json;

static const GOptionEntry options[] = {
	{ "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
	  "Print JSON instead of text", NULL },
	{ NULL },
};

static const char *abi_verdict(const struct modinfo *mi)
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
static void print_text(const char *path, const struct modinfo *mi)
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

static void print_json(const char *path, const struct modinfo *mi)
{
	g_autoptr(JsonNode) node = modinfo_to_json(mi);
	JsonObject *o = json_node_get_object(node);
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autofree char *text = NULL;

	json_object_set_string_member(o, "path", path);
	json_object_set_string_member(o, "host_abi", MODVMM_ABI_STRING);
	json_object_set_string_member(o, "abi_verdict", abi_verdict(mi));
	json_object_set_boolean_member(o, "exports_entry", mi->has_entry);
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

	g_option_context_add_main_entries(ctx, options, NULL);
	g_option_context_set_description(
		ctx, "Reads the .modvmm_modinfo section; runs no module code.");
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		fprintf(stderr, "modvmm-modinfo: %s\n", err->message);
		return 2;
	}
	if (argc != 2) {
		fprintf(stderr, "modvmm-modinfo: expected one MODULE.so "
				"(--help for usage)\n");
		return 2;
	}
	if (modinfo_read(argv[1], &mi, &err) < 0) {
		fprintf(stderr, "modvmm-modinfo: %s\n", err->message);
		return 1;
	}
	if (opt_json)
		print_json(argv[1], mi);
	else
		print_text(argv[1], mi);
	modinfo_free(mi);
	return 0;
}
