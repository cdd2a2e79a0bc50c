/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_LOADER_H
#define CORE_LOADER_H

#include <glib.h>

#include <modvmm/module.h>

#include "loader-types.h"

struct loader;

struct loader *loader_new(const struct modvmm_host *host);
/* Unloads every module, instances or not: only for host teardown. */
void loader_free(struct loader *l);

void loader_add_dir(struct loader *l, const char *dir);
/* Each of the NULL-terminated `dirs`, or `fallback` when there are none. */
void loader_add_dirs(struct loader *l, char **dirs, const char *fallback);
const GPtrArray *loader_dirs(struct loader *l);

/*
 * From now on a module loads only if the SHA-256 of its file is in the
 * allowlist `path` (the output of sha256sum: "<64 hex digits>  <name>"
 * lines, '#' comments and blank lines). The file must pass the trust
 * rules of a module file. It is read here, so that a bad list is reported
 * before anything loads, and again at every load, so that a line added
 * while the host runs admits a module to a later load. A malformed line
 * is an error naming path:line; on error the previous list stays.
 */
int loader_set_allowlist(struct loader *l, const char *path, GError **error);

/*
 * Checks and loads one module file. Nothing of the module runs unless its
 * file, directory, digest (with an allowlist) and metadata pass, and,
 * when the loader has module directories, the file `path` resolves to
 * (symbolic links followed) lies in one of them; what is
 * mapped is the file that was checked, whatever happens to the path. On
 * failure nothing stays loaded.
 */
int loader_load(struct loader *l, const char *path, struct module **ret,
		GError **error);

/*
 * Loads every *.so in the configured directories, in name order. Every
 * failure is appended to `errors` (GError *) and the rest still load.
 * Returns the number loaded.
 */
int loader_load_all(struct loader *l, GPtrArray *errors);

/* -EBUSY while any device instance of the module exists. */
int loader_unload(struct loader *l, struct module *m, GError **error);

struct module *loader_find_module(struct loader *l, const char *name);
struct device_type *loader_find_type(struct loader *l, const char *name);
const GPtrArray *loader_modules(struct loader *l);

/* The device types loaded, in name order: "cmos-rtc, debug-exit, ...". */
char *loader_type_names(struct loader *l);
/* The loaded device type `name` is a slip away from, or NULL. */
const char *loader_closest_type(struct loader *l, const char *name);
/*
 * With no module loaded, the first module directory that holds no .so file
 * at all (the likely mistake), else NULL.
 */
const char *loader_empty_dir(struct loader *l);
/*
 * What to tell a user who named device type `name`, which no loaded module
 * provides, as the end of a message: ": did you mean X? (known: ...)",
 * " (known: ...)", or ": " and that a module directory holds no module and
 * what to give instead.
 */
char *loader_type_hint(struct loader *l, const char *name);

/* True once any out-of-tree module has been loaded (like kernel taint). */
int loader_tainted(struct loader *l);

#endif
