// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/loader.c - finding, checking, loading and unloading device modules.
 *
 * Order of checks, so that nothing of a bad module ever runs:
 *   1. file and directory trust (owner, not group/world-writable);
 *   2. with an allowlist, the file's SHA-256 must be in it;
 *   3. metadata (.modvmm_modinfo) read from the file: ABI version, name,
 *      device types, the entry symbol, duplicates against what is loaded;
 *   4. only then dlopen(), the entry point, and the descriptor, which must
 *      agree with the metadata and follow the struct-size rule;
 *   5. init(), then the device types are registered.
 * The file is opened once: trust is checked, the digest taken, the
 * metadata read and the code mapped through that one descriptor, so a
 * path changed meanwhile cannot make what runs differ from what was
 * checked. Any failure undoes everything before it. Every message starts
 * with the module's file name and names both values that disagree; a
 * refusal by a trust rule ends with "(rule: NAME)".
 */
#define _GNU_SOURCE /* O_PATH */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "loader.h"
#include "compat/abi-rules.h"

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

static void device_type_free(gpointer p)
{
	struct device_type *dt = p;

	vmstate_free(dt->vms);
	g_free(dt->props);
	g_free(dt);
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
 * Who may have written this file or directory besides us and root? The
 * message starts with `file`, says what is refused (`whose`: "module",
 * "allowlist") and ends with the rule that failed.
 */
static int trust_check(const char *file, const char *whose, const char *what,
		       const char *path, const struct stat *st, GError **error)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return error_setf(error, EPERM,
				  "%s: refusing %s: %s %s is owned by uid %u, "
				  "expected root or uid %u (rule: owner)",
				  file, whose, what, path, st->st_uid,
				  geteuid());
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		const char *rule = (st->st_mode & S_IWOTH) ? "world-writable"
							   : "group-writable";

		return error_setf(error, EPERM,
				  "%s: refusing %s: %s %s is %s, mode %04o "
				  "(rule: %s)",
				  file, whose, what, path, rule,
				  st->st_mode & 07777, rule);
	}
	return 0;
}

/*
 * Opens the file `path` resolves to and checks it and its directory with
 * trust_check(). The checks are made on descriptors, and the file is
 * opened relative to the directory's descriptor without following a
 * link: whatever is renamed or swapped in meanwhile, what the caller
 * reads through *ret_fd is what was checked.
 */
static int trusted_open(const char *path, const char *whose, char **ret_real,
			int *ret_fd, GError **error)
{
	g_autofree char *file = g_path_get_basename(path);
	g_autofree char *real = NULL, *dir = NULL, *base = NULL;
	struct stat st, dst;
	int dfd = -1, fd = -1, r;

	real = realpath(path, NULL);
	if (!real) {
		r = errno;
		return error_setf(error, r, "%s: %s", path, g_strerror(r));
	}
	dir = g_path_get_dirname(real);
	base = g_path_get_basename(real);
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fstat(dfd, &dst) < 0) {
		r = errno;
		r = error_setf(error, r, "%s: %s", dir, g_strerror(r));
		goto out;
	}
	/* Non-blocking: a FIFO in the file's place must not hang the host. */
	fd = openat(dfd, base,
		    O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = errno;
		r = error_setf(error, r, "%s: %s", path, g_strerror(r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = error_setf(error, EINVAL, "%s: not a regular file", file);
		goto out;
	}
	r = trust_check(file, whose, "file", real, &st, error);
	if (r < 0)
		goto out;
	r = trust_check(file, whose, "directory", dir, &dst, error);
	if (r < 0)
		goto out;
	*ret_fd = fd;
	fd = -1;
	*ret_real = g_steal_pointer(&real);
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return r;
}

/*
 * A loader given module directories loads only files that resolve into
 * one of them: the rule is applied here, to the file trusted_open()
 * resolved and opened, whether it was named by a path, found by a bare
 * name or listed at start-up, so that no symbolic link leads out of the
 * directories. A loader without directories (one a test drives) loads
 * the files it is given.
 */
static int dir_rule(struct loader *l, const char *file, const char *real,
		    GError **error)
{
	g_autofree char *dir = g_path_get_dirname(real);
	g_autoptr(GString) list = g_string_new(NULL);

	if (!l->dirs->len)
		return 0;
	for (guint i = 0; i < l->dirs->len; i++) {
		g_autofree char *d = realpath(l->dirs->pdata[i], NULL);

		if (d && !strcmp(d, dir))
			return 0;
		g_string_append_printf(list, "%s%s", i ? ", " : "",
				       (char *)l->dirs->pdata[i]);
	}
	return error_setf(error, EPERM,
			  "%s: refusing module: %s is not in a module "
			  "directory (%s) (rule: module directory)",
			  file, real, list->str);
}

/* Reads `len` bytes at `off`, fewer at the end; the count or -errno. */
static ssize_t read_at_most(int fd, char *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, buf + done, len - done, off + done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* The SHA-256 of the whole file behind `fd`, in lower-case hex. */
static int fd_sha256(int fd, const char *file, char **ret, GError **error)
{
	g_autoptr(GChecksum) sum = g_checksum_new(G_CHECKSUM_SHA256);
	g_autofree char *buf = g_malloc(1 << 16);
	off_t off = 0;

	for (;;) {
		ssize_t n = read_at_most(fd, buf, 1 << 16, off);

		if (n < 0)
			return error_setf(error, (int)-n,
					  "%s: reading it for its sha256: %s",
					  file, g_strerror((int)-n));
		if (!n)
			break;
		g_checksum_update(sum, (const guchar *)buf, n);
		off += n;
	}
	*ret = g_strdup(g_checksum_get_string(sum));
	return 0;
}

/*
 * One line of sha256sum output: "<64 hex digits>  <name>", or " *<name>"
 * after the digest (binary mode), the whole line after a '\' when the
 * name has escapes. Returns NULL and the digest in `digest`, or what is
 * wrong with the line.
 */
static char *allowlist_line(const char *line, char digest[65])
{
	const char *p = line;
	size_t n = 0;

	if (*p == '\\')
		p++;
	while (g_ascii_isxdigit(p[n]))
		n++;
	if (n != 64 && (!p[n] || p[n] == ' ' || p[n] == '\t'))
		return g_strdup_printf("the digest has %zu hex digits, a "
				       "sha256 has 64",
				       n);
	if (n < 64)
		return g_ascii_isprint(p[n])
			       ? g_strdup_printf(
					 "'%c' at column %zu is not a hex "
					 "digit of a sha256",
					 p[n], (size_t)(p - line) + n + 1)
			       : g_strdup_printf(
					 "byte 0x%02x at column %zu is not a "
					 "hex digit of a sha256",
					 (unsigned char)p[n],
					 (size_t)(p - line) + n + 1);
	if (p[64] != ' ' || (p[65] != ' ' && p[65] != '*') || !p[66])
		return g_strdup("expected two spaces and a file name after the "
				"digest, as sha256sum writes");
	for (int i = 0; i < 64; i++)
		digest[i] = g_ascii_tolower(p[i]);
	digest[64] = '\0';
	return NULL;
}

/* The digests in the allowlist `path`, as a set of lower-case hex strings. */
static int allowlist_read(const char *path, GHashTable **ret, GError **error)
{
	g_autoptr(GHashTable) allow =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autofree char *real = NULL, *text = NULL;
	g_auto(GStrv) lines = NULL;
	ssize_t n;
	int fd, r;

	r = trusted_open(path, "allowlist", &real, &fd, error);
	if (r < 0)
		return r;
	/* One byte over the limit tells a file that is too long. */
	text = g_malloc(LOADER_ALLOWLIST_MAX + 1);
	n = read_at_most(fd, text, LOADER_ALLOWLIST_MAX + 1, 0);
	close(fd);
	if (n < 0)
		return error_setf(error, (int)-n, "%s: %s", path,
				  g_strerror((int)-n));
	if ((size_t)n > LOADER_ALLOWLIST_MAX)
		return error_setf(error, EFBIG,
				  "%s: more than the limit of %u bytes for an "
				  "allowlist",
				  path, LOADER_ALLOWLIST_MAX);
	if (memchr(text, '\0', (size_t)n))
		return error_setf(error, EINVAL,
				  "%s: has a NUL byte: not sha256sum output",
				  path);
	text[n] = '\0';
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i]; i++) {
		const char *line = lines[i];
		const char *first = line + strspn(line, " \t\r");
		g_autofree char *why = NULL;
		char digest[65];

		if (!*first || *first == '#')
			continue;
		why = allowlist_line(line, digest);
		if (why)
			return error_setf(error, EINVAL, "%s:%u: %s", path,
					  i + 1, why);
		g_hash_table_add(allow, g_strdup(digest));
	}
	*ret = g_steal_pointer(&allow);
	return 0;
}

int loader_set_allowlist(struct loader *l, const char *path, GError **error)
{
	GHashTable *allow;
	int r;

	r = allowlist_read(path, &allow, error);
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

/*
 * Imports one size-prefixed struct from module memory; `size` is what the
 * module declared, `min` covers the members every version has.
 */
static int struct_import(const char *file, const char *what, void *dst,
			 size_t dst_size, const void *src, uint32_t size,
			 size_t min, GError **error)
{
	size_t off;

	if (size < min || size > LOADER_STRUCT_MAX)
		return error_setf(error, EPROTO,
				  "%s: %s declares size %u, outside %zu..%d",
				  file, what, size, min, LOADER_STRUCT_MAX);
	if (abi_struct_import(dst, dst_size, src, size, &off) < 0)
		return error_setf(
			error, EPROTO,
			"%s: %s is %u bytes with a non-zero byte at offset "
			"%zu; this host knows %zu bytes (ABI %s)",
			file, what, size, off, dst_size, MODVMM_ABI_STRING);
	return 0;
}

static int prop_width(uint32_t type)
{
	switch (type) {
	case MODVMM_PROP_U8:
	case MODVMM_PROP_BOOL:
		return 1;
	case MODVMM_PROP_U16:
		return 2;
	case MODVMM_PROP_U32:
		return 4;
	case MODVMM_PROP_U64:
		return 8;
	case MODVMM_PROP_STR:
		return sizeof(const char *);
	}
	return -1;
}

/* A legacy value must be one the property can hold. */
static int prop_legacy_check(const char *file, const char *type,
			     const struct modvmm_property *p, GError **error)
{
	int w = prop_width(p->type);

	if (p->flags & ~MODVMM_PROP_LEGACY)
		return error_setf(error, EINVAL,
				  "%s: device type %s: property %s has flags "
				  "0x%x this host does not know",
				  file, type, p->name, p->flags);
	if (!(p->flags & MODVMM_PROP_LEGACY))
		return 0;
	if (p->type == MODVMM_PROP_STR ? !p->legacy_str
	    : p->type == MODVMM_PROP_BOOL
		    ? p->legacy_u64 > 1
		    : w < 8 && p->legacy_u64 >> (8 * w))
		return error_setf(error, EINVAL,
				  "%s: device type %s: property %s: its "
				  "legacy value is not a %s",
				  file, type, p->name,
				  p->type == MODVMM_PROP_STR	? "string"
				  : p->type == MODVMM_PROP_BOOL ? "bool"
								: "value of its width");
	return 0;
}

static int type_import(struct module *m, const struct modvmm_device_type *src,
		       struct device_type **ret, GError **error)
{
	const char *file = m->info->file;
	struct device_type *dt = g_new0(struct device_type, 1);
	const char *p;
	int r;

	dt->module = m;
	r = struct_import(file, "struct modvmm_device_type", &dt->t,
			  sizeof(dt->t), src, src->size, sizeof(uint32_t),
			  error);
	if (r < 0)
		goto fail;
	if (!dt->t.name || !*dt->t.name) {
		r = error_setf(error, EINVAL, "%s: a device type has no name",
			       file);
		goto fail;
	}
	if (!dt->t.instance_size ||
	    dt->t.instance_size > LOADER_MAX_INSTANCE_SIZE) {
		r = error_setf(
			error, EINVAL,
			"%s: device type %s: instance_size %u is outside "
			"1..%u",
			file, dt->t.name, dt->t.instance_size,
			LOADER_MAX_INSTANCE_SIZE);
		goto fail;
	}
	if (dt->t.n_properties > LOADER_MAX_PROPERTIES ||
	    (dt->t.n_properties && !dt->t.properties)) {
		r = error_setf(error, EINVAL,
			       "%s: device type %s: %u properties declared, "
			       "at most %d with a non-NULL array",
			       file, dt->t.name, dt->t.n_properties,
			       LOADER_MAX_PROPERTIES);
		goto fail;
	}
	dt->props = g_new0(struct modvmm_property, dt->t.n_properties);
	/* Elements are laid out at the module's struct size, not ours. */
	p = (const char *)dt->t.properties;
	for (uint32_t i = 0; i < dt->t.n_properties; i++) {
		struct modvmm_property *prop = &dt->props[i];
		uint32_t stride = *(const uint32_t *)dt->t.properties;
		int width;

		r = struct_import(file, "struct modvmm_property", prop,
				  sizeof(*prop), p, *(const uint32_t *)p,
				  sizeof(uint32_t), error);
		if (r < 0)
			goto fail;
		if (prop->size != stride) {
			r = error_setf(
				error, EPROTO,
				"%s: device type %s: property %u has size "
				"%u, property 0 has %u",
				file, dt->t.name, i, prop->size, stride);
			goto fail;
		}
		p += stride;
		width = prop_width(prop->type);
		if (!prop->name || !*prop->name || width < 0 ||
		    (uint64_t)prop->offset + (uint64_t)width >
			    dt->t.instance_size) {
			r = error_setf(
				error, EINVAL,
				"%s: device type %s: property %u (%s) has "
				"type %u at offset %u; instance_size is %u",
				file, dt->t.name, i,
				prop->name ? prop->name : "no name", prop->type,
				prop->offset, dt->t.instance_size);
			goto fail;
		}
		r = prop_legacy_check(file, dt->t.name, prop, error);
		if (r < 0)
			goto fail;
		for (uint32_t j = 0; j < i; j++) {
			if (!strcmp(dt->props[j].name, prop->name)) {
				r = error_setf(
					error, EINVAL,
					"%s: device type %s: property %s "
					"is declared twice",
					file, dt->t.name, prop->name);
				goto fail;
			}
		}
	}
	if (dt->t.vmstate) {
		g_autofree char *where =
			g_strdup_printf("%s: module %s: device type %s", file,
					m->info->name, dt->t.name);

		r = vmstate_import(where, dt->t.vmstate, dt->t.instance_size,
				   &dt->vms, error);
		if (r < 0)
			goto fail;
		r = vmstate_check_retired(dt->vms, machine_registry(), where,
					  error);
		if (r < 0)
			goto fail;
	}
	*ret = dt;
	return 0;
fail:
	device_type_free(dt);
	return r;
}

static int strv_has(const GPtrArray *a, const char *s)
{
	for (guint i = 0; i < a->len; i++)
		if (!strcmp(a->pdata[i], s))
			return 1;
	return 0;
}

/*
 * Every state description is announced as vmstate=NAME@VERSION, and every
 * such entry has its description: tools read the metadata alone.
 */
static int vmstate_metadata_check(struct module *m, GError **error)
{
	const struct modinfo *mi = m->info;

	for (guint i = 0; i < m->types->len; i++) {
		struct device_type *dt = m->types->pdata[i];
		g_autofree char *want = NULL;

		if (!dt->vms)
			continue;
		want = g_strdup_printf("%s@%u", dt->vms->name,
				       dt->vms->d.version);
		if (!strv_has(mi->vmstates, want))
			return error_setf(error, EPROTO,
					  "%s: device type %s has state %s, "
					  "metadata has no vmstate=%s",
					  mi->file, dt->t.name, want, want);
	}
	for (guint i = 0; i < mi->vmstates->len; i++) {
		const char *entry = mi->vmstates->pdata[i];
		int found = 0;

		for (guint j = 0; j < m->types->len && !found; j++) {
			struct device_type *dt = m->types->pdata[j];
			g_autofree char *have =
				dt->vms ? g_strdup_printf("%s@%u",
							  dt->vms->name,
							  dt->vms->d.version)
					: NULL;

			found = have && !strcmp(have, entry);
		}
		if (!found)
			return error_setf(
				error, EPROTO,
				"%s: metadata says vmstate=%s, no device "
				"type has that state",
				mi->file, entry);
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

/* The descriptor the module returned, against the metadata we read. */
static int descriptor_check(struct module *m, const struct modvmm_module *src,
			    GError **error)
{
	const struct modinfo *mi = m->info;
	const char *file = mi->file;
	struct modvmm_module *d = &m->desc;
	int r;

	if (src->magic != MODVMM_MODULE_MAGIC)
		return error_setf(error, EPROTO,
				  "%s: module descriptor has magic 0x%08x, "
				  "expected 0x%08x",
				  file, src->magic, MODVMM_MODULE_MAGIC);
	r = struct_import(
		file, "module descriptor", d, sizeof(*d), src, src->size,
		offsetof(struct modvmm_module, size) + sizeof(src->size),
		error);
	if (r < 0)
		return r;
	if (d->abi_major != mi->abi_major || d->abi_minor != mi->abi_minor)
		return error_setf(
			error, EPROTO,
			"%s: metadata says abi=%u.%u, descriptor says "
			"ABI %u.%u",
			file, mi->abi_major, mi->abi_minor, d->abi_major,
			d->abi_minor);
	if (!d->name || strcmp(d->name, mi->name))
		return error_setf(error, EPROTO,
				  "%s: metadata says name=%s, descriptor says "
				  "name=%s",
				  file, mi->name, d->name ? d->name : "(none)");
	if (!d->version || strcmp(d->version, mi->version))
		return error_setf(
			error, EPROTO,
			"%s: metadata says version=%s, descriptor says "
			"version=%s",
			file, mi->version, d->version ? d->version : "(none)");
	if (d->n_device_types > LOADER_MAX_TYPES ||
	    (d->n_device_types && !d->device_types))
		return error_setf(error, EPROTO,
				  "%s: descriptor declares %u device types, at "
				  "most %d with a non-NULL array",
				  file, d->n_device_types, LOADER_MAX_TYPES);

	for (uint32_t i = 0; i < d->n_device_types; i++) {
		struct device_type *dt = NULL;

		if (!d->device_types[i])
			return error_setf(error, EPROTO,
					  "%s: device type %u is NULL", file,
					  i);
		r = type_import(m, d->device_types[i], &dt, error);
		if (r < 0)
			return r;
		g_ptr_array_add(m->types, dt);
		if (!strv_has(mi->devices, dt->t.name))
			return error_setf(error, EPROTO,
					  "%s: descriptor has device type %s, "
					  "metadata has no device=%s",
					  file, dt->t.name, dt->t.name);
		for (guint j = 0; j + 1 < m->types->len; j++) {
			struct device_type *o = m->types->pdata[j];

			if (!strcmp(o->t.name, dt->t.name))
				return error_setf(
					error, EPROTO,
					"%s: device type %s is declared "
					"twice",
					file, dt->t.name);
		}
	}
	for (guint i = 0; i < mi->devices->len; i++) {
		const char *name = mi->devices->pdata[i];
		int found = 0;

		for (guint j = 0; j < m->types->len && !found; j++)
			found = !strcmp(
				((struct device_type *)m->types->pdata[j])
					->t.name,
				name);
		if (!found)
			return error_setf(
				error, EPROTO,
				"%s: metadata says device=%s, descriptor "
				"has no such device type",
				file, name);
	}
	return vmstate_metadata_check(m, error);
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

int loader_load(struct loader *l, const char *path, struct module **ret,
		GError **error)
{
	g_autofree char *file = g_path_get_basename(path);
	g_autofree char *real = NULL;
	const struct modvmm_module *src;
	modvmm_module_init_fn entry;
	struct module *m = NULL;
	int fd, r;

	r = trusted_open(path, "module", &real, &fd, error);
	if (r < 0)
		return r;
	r = dir_rule(l, file, real, error);
	if (r < 0) {
		close(fd);
		return r;
	}
	m = g_new0(struct module, 1);
	m->fd = fd;
	m->types = g_ptr_array_new_with_free_func(device_type_free);
	m->path = g_steal_pointer(&real);
	if (l->allow_path) {
		g_autoptr(GHashTable) allow = NULL;
		g_autofree char *digest = NULL;

		r = allowlist_read(l->allow_path, &allow, error);
		if (r < 0)
			goto fail;
		r = fd_sha256(m->fd, file, &digest, error);
		if (r < 0)
			goto fail;
		if (!g_hash_table_contains(allow, digest)) {
			r = error_setf(error, EPERM,
				       "%s: refusing module: sha256 %s is not "
				       "in allowlist %s (rule: "
				       "--module-allowlist)",
				       file, digest, l->allow_path);
			goto fail;
		}
	}
	r = modinfo_read_fd(m->fd, m->path, &m->info, error);
	if (r < 0)
		goto fail;
	r = metadata_check(l, m->info, error);
	if (r < 0)
		goto fail;
	r = module_map(m, file, error);
	if (r < 0)
		goto fail;
	entry = (modvmm_module_init_fn)dlsym(m->handle, MODVMM_MODULE_ENTRY);
	if (!entry) {
		r = error_setf(error, ENOEXEC,
			       "%s: does not export " MODVMM_MODULE_ENTRY "()",
			       file);
		goto fail;
	}
	src = entry(l->host);
	if (!src) {
		r = error_setf(error, EPROTO,
			       "%s: " MODVMM_MODULE_ENTRY "() returned NULL",
			       file);
		goto fail;
	}
	r = descriptor_check(m, src, error);
	if (r < 0)
		goto fail;
	r = vmstate_unique_check(l, m, error);
	if (r < 0)
		goto fail;

	if (m->desc.init) {
		int32_t ir = m->desc.init();

		if (ir < 0) {
			r = error_setf(error, -ir, "%s: module init failed: %s",
				       file, g_strerror(-ir));
			goto fail;
		}
	}
	m->initialized = 1;
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

		dir = g_dir_open(dirname, 0, &err);
		if (!dir) {
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
