// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cli/machines.c - modvmm machines: the machine types of this build,
 * their release, status and compat properties, as text or JSON.
 */
#include <stdio.h>

#include <json-glib/json-glib.h>

#include "cli/cli.h"
#include "compat/machine-types.h"

static gboolean opt_json;

static const GOptionEntry machines_options[] = {
	{ "json", 'j', 0, G_OPTION_ARG_NONE, &opt_json,
	  "Print the machine types as JSON", NULL },
	{ NULL },
};

static void put_string(JsonBuilder *b, const char *key, const char *value)
{
	json_builder_set_member_name(b, key);
	json_builder_add_string_value(b, value);
}

/* Dates as YYYY-MM-DD, as the text shows them. */
static void put_date(JsonBuilder *b, const char *key, uint32_t date)
{
	char d[MACHINE_DATE_LEN];

	put_string(b, key, machine_date_text(date, d));
}

static void print_json(const struct machine_registry *r)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonGenerator) gen = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree char *text = NULL;

	json_builder_begin_object(b);
	put_date(b, "build_date", r->build_date);
	put_string(b, "alias", r->alias);
	put_string(b, "alias_of", machine_lookup(r, r->alias)->name);
	json_builder_set_member_name(b, "machines");
	json_builder_begin_array(b);
	for (size_t i = 0; i < r->n_types; i++) {
		const struct machine_type *t = &r->types[i];
		uint32_t dep, rem;
		enum machine_status st = machine_status(r, t, &dep, &rem);

		json_builder_begin_object(b);
		put_string(b, "name", t->name);
		put_date(b, "released", t->released);
		put_string(b, "status", machine_status_name(st));
		put_date(b, "deprecated", dep);
		put_date(b, "removed", rem);
		json_builder_set_member_name(b, "compat_props");
		json_builder_add_int_value(b, (gint64)t->n_props);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	json_generator_set_pretty(gen, TRUE);
	json_generator_set_root(gen, root);
	text = json_generator_to_data(gen, NULL);
	printf("%s\n", text);
}

static void print_text(const struct machine_registry *r)
{
	printf("%-16s %-10s %-11s %-11s %-11s %s\n", "machine type", "released",
	       "status", "deprecated", "removed", "compat props");
	for (size_t i = 0; i < r->n_types; i++) {
		const struct machine_type *t = &r->types[i];
		char d0[MACHINE_DATE_LEN], d1[MACHINE_DATE_LEN];
		char d2[MACHINE_DATE_LEN];
		uint32_t dep, rem;
		enum machine_status st = machine_status(r, t, &dep, &rem);

		printf("%-16s %s %-11s %s  %s  %zu\n", t->name,
		       machine_date_text(t->released, d0),
		       machine_status_name(st), machine_date_text(dep, d1),
		       machine_date_text(rem, d2), t->n_props);
	}
	printf("%-16s alias of %s (no migration guarantee across releases)\n",
	       r->alias, machine_lookup(r, r->alias)->name);
}

int cmd_machines(int argc, char **argv)
{
	g_autoptr(GOptionContext) ctx =
		g_option_context_new("- list machine types and their status");
	g_autoptr(GError) err = NULL;

	g_option_context_add_main_entries(ctx, machines_options, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
		print_error(err);
		return STATUS_USAGE;
	}
	if (argc > 1) {
		fprintf(stderr, "modvmm: machines: unexpected argument '%s'\n",
			argv[1]);
		return STATUS_USAGE;
	}
	if (opt_json)
		print_json(machine_registry());
	else
		print_text(machine_registry());
	return STATUS_OK;
}
