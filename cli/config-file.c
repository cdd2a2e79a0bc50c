// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * cli/config-file.c - a command's options from a GKeyFile (run --config).
 *
 * The keys are the command's long option names and take their types from
 * its option tables, so the file and the command line cannot drift apart.
 * It lives with the front end, not in core/, because what it maps is the
 * command line: the library sees one struct vm_config either way.
 *
 * Invariants: an option the command line gives is never set from the
 * file (the command line overrides, lists included: a --device on the
 * command line replaces the file's device list); every key is checked,
 * overridden or not, so a file that is wrong is wrong on every host; a
 * value set here is never one GOption allocated, so none is lost.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "cli/config-file.h"

struct config_file {
	char *path;
	GHashTable *set; /* the keys set from the file */
};

/* What the pre-parse of the command line needs to name what it gives. */
struct given {
	const GOptionEntry *const *tables;
	GHashTable *names; /* long names the command line gives */
};

static const GOptionEntry *find_entry(const GOptionEntry *const *tables,
				      const char *name, char short_name)
{
	for (; *tables; tables++)
		for (const GOptionEntry *e = *tables; e->long_name; e++)
			if (name ? !strcmp(e->long_name, name)
				 : e->short_name == short_name)
				return e;
	return NULL;
}

static gboolean note_given(const char *option, const char *value, void *data,
			   GError **error)
{
	struct given *g = data;
	const GOptionEntry *e;

	(void)value;
	(void)error;
	if (option[1] == '-')
		e = find_entry(g->tables, option + 2, 0);
	else
		e = find_entry(g->tables, NULL, option[1]);
	if (e)
		g_hash_table_add(g->names, (char *)e->long_name);
	return TRUE;
}

/*
 * The long names of the options `argv` gives, found by GOption itself
 * (every entry turned into a callback of the same arity), so that a value
 * that looks like an option ("--append --config") is read as the real
 * parse reads it. The real parse has already refused a bad command line.
 */
static void given_options(const GOptionEntry *const *tables, char **argv,
			  GHashTable *names)
{
	g_autoptr(GArray) entries =
		g_array_new(TRUE, TRUE, sizeof(GOptionEntry));
	g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
	g_auto(GStrv) args = g_strdupv(argv);
	int argc = (int)g_strv_length(args);
	/* GOption drops what it consumes from the array it is given: it
	 * gets its own, so that `args` still holds every string to free. */
	g_autofree char **parsed = g_new(char *, argc + 1);
	struct given g = { tables, names };
	GOptionGroup *group;
	char **view;

	for (const GOptionEntry *const *t = tables; *t; t++)
		for (const GOptionEntry *e = *t; e->long_name; e++) {
			GOptionEntry c = *e;

			c.arg = G_OPTION_ARG_CALLBACK;
			c.arg_data = (void *)note_given;
			c.flags = G_OPTION_FLAG_FILENAME |
				  (e->arg == G_OPTION_ARG_NONE
					   ? G_OPTION_FLAG_NO_ARG
					   : 0);
			g_array_append_val(entries, c);
		}
	memcpy(parsed, args, sizeof(char *) * (size_t)(argc + 1));
	group = g_option_group_new("config", "", "", &g, NULL);
	g_option_group_add_entries(group, (GOptionEntry *)entries->data);
	g_option_context_set_main_group(ctx, group);
	g_option_context_set_help_enabled(ctx, FALSE);
	g_option_context_set_ignore_unknown_options(ctx, TRUE);
	view = parsed;
	/* Cannot fail where the real parse did not; its args are a copy. */
	g_option_context_parse(ctx, &argc, &view, NULL);
}

static int read_int(const char *path, const char *key, const char *value,
		    int *ret, GError **error)
{
	gint64 n;

	if (!g_ascii_string_to_signed(value, 10, G_MININT, G_MAXINT, &n, NULL))
		return error_setf(error, EINVAL,
				  "%s:%s: '%s' is not a whole number", path,
				  key, value);
	*ret = (int)n;
	return 0;
}

static int read_bool(const char *path, const char *key, const char *value,
		     gboolean *ret, GError **error)
{
	if (!strcmp(value, "true") || !strcmp(value, "false")) {
		*ret = !strcmp(value, "true");
		return 0;
	}
	return error_setf(error, EINVAL, "%s:%s: '%s' is not true or false",
			  path, key, value);
}

/*
 * One key's value, checked against its option's type and, unless `apply`
 * is false (the command line gives it), stored where the option stores
 * it.
 */
static int read_key(GKeyFile *kf, const char *path, const char *group,
		    const char *key, const GOptionEntry *e, int apply,
		    GError **error)
{
	g_autofree char *value = g_key_file_get_value(kf, group, key, NULL);
	g_autofree char *text = NULL;
	g_auto(GStrv) list = NULL;
	gboolean b = FALSE;
	int n = 0;

	if (!value || !*value)
		return error_setf(error, EINVAL, "%s:%s: no value", path, key);
	switch (e->arg) {
	case G_OPTION_ARG_STRING:
	case G_OPTION_ARG_FILENAME:
		/* Unescaped (\s, \t, \\) as GKeyFile strings are. */
		text = g_key_file_get_string(kf, group, key, NULL);
		if (!text)
			goto bad;
		if (apply)
			*(char **)e->arg_data = g_steal_pointer(&text);
		return 0;
	case G_OPTION_ARG_STRING_ARRAY:
	case G_OPTION_ARG_FILENAME_ARRAY:
		list = g_key_file_get_string_list(kf, group, key, NULL, NULL);
		if (!list || !*list)
			goto bad;
		if (apply)
			*(char ***)e->arg_data = g_steal_pointer(&list);
		return 0;
	case G_OPTION_ARG_INT:
		if (read_int(path, key, value, &n, error) < 0)
			return -EINVAL;
		if (apply)
			*(int *)e->arg_data = n;
		return 0;
	case G_OPTION_ARG_NONE:
		if (read_bool(path, key, value, &b, error) < 0)
			return -EINVAL;
		if (apply)
			*(gboolean *)e->arg_data =
				(e->flags & G_OPTION_FLAG_REVERSE) ? !b : b;
		return 0;
	default:
		return error_setf(error, EINVAL,
				  "%s:%s: not an option a file can set", path,
				  key);
	}
bad:
	return error_setf(error, EINVAL, "%s:%s: '%s' is not valid text", path,
			  key, value);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Edits from a to b (Levenshtein), for the key a slip of the keyboard
 * meant; option names are short. */
static size_t distance(const char *a, const char *b)
{
	size_t lb = strlen(b), row[64], diag, up;

	if (lb >= G_N_ELEMENTS(row))
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; *a; a++, i++) {
		diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			up = row[j];
			row[j] = MIN(MIN(row[j] + 1, row[j - 1] + 1),
				     diag + (*a != b[j - 1]));
			diag = up;
		}
	}
	return row[lb];
}

static const char *closest_key(const GOptionEntry *const *tables,
			       const char *skip, const char *key)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX, d;

	for (; *tables; tables++)
		for (const GOptionEntry *e = *tables; e->long_name; e++) {
			if (!strcmp(e->long_name, skip))
				continue;
			d = distance(key, e->long_name);
			if (d < best_d) {
				best = e->long_name;
				best_d = d;
			}
		}
	/* Close means a slip of the keyboard, not another word. */
	if (best_d > MAX(2, strlen(key) / 3) || best_d >= strlen(key))
		return NULL;
	return best;
}

static char *known_keys(const GOptionEntry *const *tables, const char *skip)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new();

	for (; *tables; tables++)
		for (const GOptionEntry *e = *tables; e->long_name; e++)
			if (strcmp(e->long_name, skip))
				g_ptr_array_add(names, (char *)e->long_name);
	g_ptr_array_sort(names, compare_names);
	g_ptr_array_add(names, NULL);
	return g_strjoinv(", ", (char **)names->pdata);
}

/* Every group but `group` is a mistake, and so is a file without it. */
static int check_groups(GKeyFile *kf, const char *path, const char *group,
			GError **error)
{
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);

	for (char **g = groups; *g; g++)
		if (strcmp(*g, group))
			return error_setf(error, EINVAL,
					  "%s: [%s]: unknown group (the "
					  "options are in [%s])",
					  path, *g, group);
	if (!g_key_file_has_group(kf, group))
		return error_setf(error, EINVAL,
				  "%s: no [%s] group: the options go in it",
				  path, group);
	return 0;
}

static int read_keys(GKeyFile *kf, struct config_file *cf, const char *group,
		     const GOptionEntry *const *tables, const char *skip,
		     GHashTable *given, GError **error)
{
	g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);
	const GOptionEntry *e;

	for (char **k = keys; *k; k++) {
		g_autofree char *known = NULL;
		int apply;

		if (!strcmp(*k, skip))
			return error_setf(error, EINVAL,
					  "%s:%s: a file cannot name another "
					  "(give --%s on the command line)",
					  cf->path, *k, skip);
		e = find_entry(tables, *k, 0);
		if (!e) {
			const char *close = closest_key(tables, skip, *k);

			known = known_keys(tables, skip);
			if (close)
				return error_setf(error, EINVAL,
						  "%s:%s: unknown key: did you "
						  "mean %s? (known: %s)",
						  cf->path, *k, close, known);
			return error_setf(error, EINVAL,
					  "%s:%s: unknown key (known: %s)",
					  cf->path, *k, known);
		}
		apply = !g_hash_table_contains(given, e->long_name);
		if (read_key(kf, cf->path, group, *k, e, apply, error) < 0)
			return -EINVAL;
		if (apply)
			g_hash_table_add(cf->set, g_strdup(*k));
	}
	return 0;
}

int config_file_apply(const char *path, const char *group,
		      const GOptionEntry *const *tables, const char *skip,
		      char **argv, struct config_file **ret, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GHashTable) given = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GError) e = NULL;
	struct config_file *cf;

	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &e)) {
		if (e->domain == G_FILE_ERROR)
			return error_setf(error, ENOENT, "--%s %s: %s", skip,
					  path, e->message);
		return error_setf(error, EINVAL, "%s: %s", path, e->message);
	}
	if (check_groups(kf, path, group, error) < 0)
		return -EINVAL;
	given_options(tables, argv, given);
	cf = g_new0(struct config_file, 1);
	cf->path = g_strdup(path);
	cf->set = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	if (read_keys(kf, cf, group, tables, skip, given, error) < 0) {
		config_file_free(cf);
		return -EINVAL;
	}
	*ret = cf;
	return 0;
}

/* "--KEY" at the start of the message, as a whole option name. */
static int names_option(const char *msg, const char *key)
{
	size_t n = strlen(key);

	return g_str_has_prefix(msg, "--") && !strncmp(msg + 2, key, n) &&
	       strchr(" =:", msg[2 + n]);
}

void config_file_blame(const struct config_file *cf, GError *err)
{
	GHashTableIter it;
	void *key;

	if (!cf || !err)
		return;
	g_hash_table_iter_init(&it, cf->set);
	while (g_hash_table_iter_next(&it, &key, NULL))
		if (names_option(err->message, key)) {
			g_prefix_error(&err, "%s:%s: ", cf->path,
				       (const char *)key);
			return;
		}
}

void config_file_free(struct config_file *cf)
{
	if (!cf)
		return;
	g_free(cf->path);
	g_hash_table_unref(cf->set);
	g_free(cf);
}
