/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CLI_CONFIG_FILE_H
#define CLI_CONFIG_FILE_H

#include <glib.h>

/*
 * A command's options read from a file (run --config FILE): a GKeyFile
 * whose one group is the command's name and whose keys are its long
 * option names, typed as the options are. The option tables are the one
 * list of keys, so a new option is a new key without a line here.
 */

struct config_file;

/*
 * Reads `path` and sets, through the entries of `tables` (a
 * NULL-terminated list of option tables), every key of group [`group`]
 * whose option the command line `argv` (as given to the command, before
 * it was parsed) does not give: the command line overrides the file. Every
 * key is checked, given or not: an unknown group or key, a value of the
 * wrong type or an empty one is an error naming FILE:key. The key
 * `skip` (the option that names the file) is not one a file may set.
 */
int config_file_apply(const char *path, const char *group,
		      const GOptionEntry *const *tables, const char *skip,
		      char **argv, struct config_file **ret, GError **error);

/*
 * When `err`, from a check of the options after config_file_apply(),
 * begins with an option the file set ("--memory ...: ..."), prefixes it
 * with FILE:key, so that the operator knows which line to change.
 */
void config_file_blame(const struct config_file *cf, GError *err);

void config_file_free(struct config_file *cf);

#endif
