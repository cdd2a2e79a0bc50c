// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/loader.c - loading and unloading device modules: the registry of
 * what is loaded, the order of the checks, mapping the checked file.
 *
 * Order of checks, so that nothing of a bad module ever runs:
 *   1. file and directory trust (owner, not group/world-writable) and the
 *      module directories (core/module-trust.c);
 *   2. with an allowlist, the file's SHA-256 must be in it (likewise);
 *   3. metadata (.modvmm_modinfo) read from the file (core/modinfo.c):
 *      ABI version, name, device types, the entry symbol, duplicates
 *      against what is loaded (here);
 *   4. only then dlopen(), the entry point, and the descriptor, which must
 *      agree with the metadata and follow the struct-size rule
 *      (core/module-import.c), and no state name loaded twice (here);
 *   5. init(), then the device types are registered.
 * The file is opened once: trust is checked, the digest taken, the
 * metadata read and the code mapped through that one descriptor, so a
 * path changed meanwhile cannot make what runs differ from what was
 * checked. Any failure undoes everything before it. Every message starts
 * with the module's file name and names both values that disagree; a
 * refusal by a trust rule ends with "(rule: NAME)".
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "compat/abi-rules.h"
#include "loader.h"
#include "module-import.h"
#include "module-trust.h"

struct loader {
	const struct modvmm_host *host;
	GPtrArray *dirs;    /* char * */
	GPtrArray *modules; /* struct module *, load order */
	GHashTable *types;  /* name -> struct device_type *, not owned */
	int tainted;
	char *allow_path; /* --module-allowlist as given, or NULL */
};

static void module_free(struct module *m)
{
	if (!m)
		return;
	if (m->handle)
		dlclose(m->handle);
	if (m->fd >= 0)
		close(m->fd);
	if (m->types)
		g_ptr_array_unref(m->types);
	modinfo_free(m->info);
	g_free(m->path);
	g_free(m);
}

struct loader *loader_new(const struct modvmm_host *host)
{
	struct loader *l = g_new0(struct loader, 1);

	l->host = host;
	l->dirs = g_ptr_array_new_with_free_func(g_free);
	l->modules = g_ptr_array_new();
	l->types = g_hash_table_new(g_str_hash, g_str_equal);
	return l;
}

static void module_remove(struct loader *l, struct module *m)
{
	for (guint i = 0; i < m->types->len; i++) {
		struct device_type *dt = m->types->pdata[i];

		g_hash_table_remove(l->types, dt->t.name);
	}
	if (m->initialized && m->desc.exit)
		m->desc.exit();
	g_ptr_array_remove(l->modules, m);
	module_free(m);
}

void loader_free(struct loader *l)
{
	if (!l)
		return;
	while (l->modules->len)
		module_remove(l, l->modules->pdata[l->modules->len - 1]);
	g_ptr_array_unref(l->modules);
	g_ptr_array_unref(l->dirs);
	g_hash_table_unref(l->types);
	g_free(l->allow_path);
	g_free(l);
}

void loader_add_dir(struct loader *l, const char *dir)
{
	g_ptr_array_add(l->dirs, g_strdup(dir));
}

void loader_add_dirs(struct loader *l, char **dirs, const char *fallback)
{
	if ((!dirs || !*dirs) && fallback)
		loader_add_dir(l, fallback);
	for (char **d = dirs; d && *d; d++)
		loader_add_dir(l, *d);
}

const GPtrArray *loader_dirs(struct loader *l)
{
	return l->dirs;
}

const GPtrArray *loader_modules(struct loader *l)
{
	return l->modules;
}

int loader_tainted(struct loader *l)
{
	return l->tainted;
}

struct module *loader_find_module(struct loader *l, const char *name)
{
	for (guint i = 0; i < l->modules->len; i++) {
		struct module *m = l->modules->pdata[i];

		if (!strcmp(m->info->name, name))
			return m;
	}
	return NULL;
}

struct device_type *loader_find_type(struct loader *l, const char *name)
{
	return g_hash_table_lookup(l->types, name);
}

/*
 * Edit distance between a and b (insertions, deletions, substitutions and
 * swaps of two neighbours each cost 1): "uart1655" is 1 from "uart16550".
 */
static size_t type_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), w = lb + 1;
	g_autofree size_t *d = g_new(size_t, (la + 1) * w);

	for (size_t i = 0; i <= la; i++)
		for (size_t j = 0; j <= lb; j++) {
			size_t v = i + j;

			if (i && j) {
				v = MIN(d[(i - 1) * w + j] + 1,
					d[i * w + j - 1] + 1);
				v = MIN(v, d[(i - 1) * w + j - 1] +
						   (a[i - 1] != b[j - 1]));
				if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
				    a[i - 2] == b[j - 1])
					v = MIN(v, d[(i - 2) * w + j - 2] + 1);
			}
			d[i * w + j] = v;
		}
	return d[la * w + lb];
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *loader_type_names(struct loader *l)
{
	guint n;
	g_autofree gpointer *names =
		g_hash_table_get_keys_as_array(l->types, &n);

	qsort(names, n, sizeof(*names), name_cmp);
	return g_strjoinv(", ", (char **)names);
}

const char *loader_closest_type(struct loader *l, const char *name)
{
	const char *best = NULL;
	size_t best_d = SIZE_MAX;
	GHashTableIter it;
	gpointer key;

	g_hash_table_iter_init(&it, l->types);
	while (g_hash_table_iter_next(&it, &key, NULL)) {
		size_t d = type_distance(name, key);

		/* Ties go to the smaller name: the same answer every time. */
		if (d < best_d || (d == best_d && strcmp(key, best) < 0)) {
			best = key;
			best_d = d;
		}
	}
	/* Close means a slip of the keyboard, not another word. */
	return best && best_d <= MAX(2, strlen(name) / 3) &&
			       best_d < strlen(name)
		       ? best
		       : NULL;
}

static int dir_has_module(const char *dirname)
{
	GDir *dir = g_dir_open(dirname, 0, NULL);
	const char *name;
	int found = 0;

	if (!dir)
		return 1; /* that one is reported where it is opened */
	while (!found && (name = g_dir_read_name(dir)))
		found = g_str_has_suffix(name, ".so");
	g_dir_close(dir);
	return found;
}

const char *loader_empty_dir(struct loader *l)
{
	if (l->modules->len)
		return NULL;
	for (guint i = 0; i < l->dirs->len; i++)
		if (!dir_has_module(l->dirs->pdata[i]))
			return l->dirs->pdata[i];
	return NULL;
}

char *loader_type_hint(struct loader *l, const char *name)
{
	const char *empty = loader_empty_dir(l);
	const char *close = NULL;
	g_autofree char *known = NULL;

	if (empty)
		return g_strdup_printf(": module directory %s holds no module "
				       "(no .so file): give --module-dir the "
				       "directory of the device modules",
				       empty);
	if (!g_hash_table_size(l->types))
		return g_strdup(": no module is loaded");
	known = loader_type_names(l);
	close = loader_closest_type(l, name);
	if (close)
		return g_strdup_printf(": did you mean %s? (known: %s)", close,
				       known);
	return g_strdup_printf(" (known: %s)", known);
}

int loader_set_allowlist(struct loader *l, const char *path, GError **error)
{
	GHashTable *allow;
	int r;

	r = trust_allowlist_read(path, &allow, error);
	if (r < 0)
		return r;
	g_hash_table_unref(allow);
	g_free(l->allow_path);
	l->allow_path = g_strdup(path);
	return 0;
}

static int metadata_check(struct loader *l, const struct modinfo *mi,
			  GError **error)
{
	struct module *other;
	int r;

	r = abi_version_check(MODVMM_ABI_MAJOR, MODVMM_ABI_MINOR, mi->abi_major,
			      mi->abi_minor);
	if (r < 0)
		return error_setf(
			error, -r,
			"%s: built for ABI %u.%u, this host provides ABI "
			"%s%s",
			mi->file, mi->abi_major, mi->abi_minor,
			MODVMM_ABI_STRING,
			r == -EPROTONOSUPPORT ? " (a different major version)"
					      : "");
	if (!mi->has_entry)
		return error_setf(error, ENOEXEC,
				  "%s: does not export " MODVMM_MODULE_ENTRY
				  "()",
				  mi->file);
	other = loader_find_module(l, mi->name);
	if (other)
		return error_setf(error, EEXIST,
				  "%s: module %s is already loaded from %s",
				  mi->file, mi->name, other->path);
	for (guint i = 0; i < mi->devices->len; i++) {
		const char *name = mi->devices->pdata[i];
		struct device_type *dt = loader_find_type(l, name);

		if (dt)
			return error_setf(
				error, EEXIST,
				"%s: device type %s is already provided "
				"by module %s (%s)",
				mi->file, name, dt->module->info->name,
				dt->module->path);
	}
	return 0;
}

/* A state name identifies its device type in every stream: one owner. */
static int vmstate_unique_check(struct loader *l, struct module *m,
				GError **error)
{
	for (guint i = 0; i < m->types->len; i++) {
		struct device_type *dt = m->types->pdata[i];
		GHashTableIter it;
		gpointer value;

		if (!dt->vms)
			continue;
		for (guint j = 0; j < i; j++) {
			struct device_type *o = m->types->pdata[j];

			if (o->vms && !strcmp(o->vms->name, dt->vms->name))
				return error_setf(
					error, EEXIST,
					"%s: device types %s and %s both "
					"have state %s",
					m->info->file, o->t.name, dt->t.name,
					dt->vms->name);
		}
		g_hash_table_iter_init(&it, l->types);
		while (g_hash_table_iter_next(&it, NULL, &value)) {
			struct device_type *o = value;

			if (o->vms && !strcmp(o->vms->name, dt->vms->name))
				return error_setf(
					error, EEXIST,
					"%s: state %s of device type %s "
					"is already the state of %s "
					"(module %s)",
					m->info->file, dt->vms->name,
					dt->t.name, o->t.name,
					o->module->info->name);
		}
	}
	return 0;
}

/* Room for "/proc/self/fd/" and any int. */
#define FD_NAME_LEN 32
/* Descriptor numbers tried before giving up on an unused name. */
#define FD_NAME_TRIES 32

/*
 * Maps the module through the name /proc/self/fd/N of the descriptor it
 * was checked through. glibc hands back an object already loaded under
 * the same name without opening anything: loaded modules keep their
 * descriptors open so that no two share a number, and a name still held
 * by an object dlclose() could not unmap is stepped over by moving the
 * descriptor to a higher number.
 */
static int module_map(struct module *m, const char *file, GError **error)
{
	char name[FD_NAME_LEN];

	for (int i = 0;; i++) {
		void *stale;
		int fd;

		snprintf(name, sizeof(name), "/proc/self/fd/%d", m->fd);
		stale = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
		if (!stale)
			break;
		dlclose(stale);
		if (i == FD_NAME_TRIES)
			return error_setf(
				error, EBUSY,
				"%s: cannot map it: %d names up to %s belong "
				"to an object still mapped (a module that an "
				"unload could not unmap)",
				file, FD_NAME_TRIES + 1, name);
		fd = fcntl(m->fd, F_DUPFD_CLOEXEC, m->fd + 1);
		if (fd < 0) {
			int e = errno;

			return error_setf(error, e, "%s: %s", file,
					  g_strerror(e));
		}
		close(m->fd);
		m->fd = fd;
	}
	m->handle = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (!m->handle) {
		if (access("/proc/self/fd", F_OK) < 0)
			return error_setf(
				error, ENOENT,
				"%s: cannot map it by its descriptor: "
				"/proc/self/fd is missing (is /proc "
				"mounted?)",
				file);
		return error_setf(error, ENOEXEC, "%s: dlopen failed: %s", file,
				  dlerror());
	}
	return 0;
}

/*
 * Steps 1 to 3: opens the file once, applies the trust rules to that
 * descriptor and reads the metadata through it, into a new *ret.
 */
static int module_open(struct loader *l, const char *path, const char *file,
		       struct module **ret, GError **error)
{
	g_autofree char *real = NULL;
	struct module *m;
	int fd, r;

	r = trust_open(path, "module", &real, &fd, error);
	if (r < 0)
		return r;
	r = trust_dir_check(l->dirs, file, real, error);
	if (r < 0) {
		close(fd);
		return r;
	}
	m = g_new0(struct module, 1);
	m->fd = fd;
	m->types = g_ptr_array_new_with_free_func(device_type_free);
	m->path = g_steal_pointer(&real);
	if (l->allow_path) {
		r = trust_digest_check(l->allow_path, m->fd, file, error);
		if (r < 0)
			goto fail;
	}
	r = modinfo_read_fd(m->fd, m->path, &m->info, error);
	if (r < 0)
		goto fail;
	r = metadata_check(l, m->info, error);
	if (r < 0)
		goto fail;
	*ret = m;
	return 0;
fail:
	module_free(m);
	return r;
}

/*
 * Step 4 after the mapping: the first of the module's code to run is its
 * entry point, whose descriptor is imported before init() runs.
 */
static int module_start(struct loader *l, struct module *m, const char *file,
			GError **error)
{
	const struct modvmm_module *src;
	modvmm_module_init_fn entry;
	int r;

	entry = (modvmm_module_init_fn)dlsym(m->handle, MODVMM_MODULE_ENTRY);
	if (!entry)
		return error_setf(
			error, ENOEXEC,
			"%s: does not export " MODVMM_MODULE_ENTRY "()", file);
	src = entry(l->host);
	if (!src)
		return error_setf(error, EPROTO,
				  "%s: " MODVMM_MODULE_ENTRY "() returned NULL",
				  file);
	r = descriptor_import(m, src, error);
	if (r < 0)
		return r;
	r = vmstate_unique_check(l, m, error);
	if (r < 0)
		return r;
	if (m->desc.init) {
		int32_t ir = m->desc.init();

		if (ir < 0)
			return error_setf(error, -ir,
					  "%s: module init failed: %s", file,
					  g_strerror(-ir));
	}
	m->initialized = 1;
	return 0;
}

int loader_load(struct loader *l, const char *path, struct module **ret,
		GError **error)
{
	g_autofree char *file = g_path_get_basename(path);
	struct module *m = NULL;
	int r;

	r = module_open(l, path, file, &m, error);
	if (r < 0)
		return r;
	r = module_map(m, file, error);
	if (r < 0)
		goto fail;
	r = module_start(l, m, file, error);
	if (r < 0)
		goto fail;
	for (guint i = 0; i < m->types->len; i++) {
		struct device_type *dt = m->types->pdata[i];

		g_hash_table_insert(l->types, (gpointer)dt->t.name, dt);
	}
	g_ptr_array_add(l->modules, m);
	if (!m->info->intree)
		l->tainted = 1;
	if (ret)
		*ret = m;
	return 0;
fail:
	module_free(m);
	return r;
}

static gint path_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Why opendir() refuses `dirname`, as errno: said without GLib's words. */
static int dir_errno(const char *dirname)
{
	DIR *d = opendir(dirname);

	if (!d)
		return errno;
	closedir(d);
	return EIO;
}

int loader_load_all(struct loader *l, GPtrArray *errors)
{
	int loaded = 0;

	for (guint i = 0; i < l->dirs->len; i++) {
		const char *dirname = l->dirs->pdata[i];
		g_autoptr(GPtrArray) files =
			g_ptr_array_new_with_free_func(g_free);
		GError *err = NULL;
		const char *name;
		GDir *dir;

		dir = g_dir_open(dirname, 0, NULL);
		if (!dir) {
			int e = dir_errno(dirname);

			error_setf(&err, e, "module directory %s: %s", dirname,
				   g_strerror(e));
			g_ptr_array_add(errors, err);
			continue;
		}
		while ((name = g_dir_read_name(dir)))
			if (g_str_has_suffix(name, ".so"))
				g_ptr_array_add(
					files,
					g_build_filename(dirname, name, NULL));
		g_dir_close(dir);
		g_ptr_array_sort(files, path_cmp);
		for (guint j = 0; j < files->len; j++) {
			if (loader_load(l, files->pdata[j], NULL, &err) < 0)
				g_ptr_array_add(errors, err);
			else
				loaded++;
			err = NULL;
		}
	}
	return loaded;
}

int loader_unload(struct loader *l, struct module *m, GError **error)
{
	for (guint i = 0; i < m->types->len; i++) {
		struct device_type *dt = m->types->pdata[i];

		if (dt->instances)
			return error_setf(
				error, EBUSY,
				"cannot unload module %s: %u instance%s "
				"of device type %s exist%s",
				m->info->name, dt->instances,
				dt->instances == 1 ? "" : "s", dt->t.name,
				dt->instances == 1 ? "s" : "");
	}
	module_remove(l, m);
	return 0;
}
