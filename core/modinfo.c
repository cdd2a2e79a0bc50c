// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/modinfo.c - a module's metadata, read from the file.
 *
 * Everything here treats the file as hostile: it is read with libelf into
 * memory (never mapped executable, never dlopen()ed), every size is checked
 * before use, and the section is parsed as a bounded list of NUL-terminated
 * "key=value" strings. The loader refuses a module before running any of
 * its code unless this succeeds.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <modvmm/abi.h>

#include "base/error.h"
#include "modinfo.h"
#include "compat/abi-rules.h"

#define MODINFO_SECTION ".modvmm_modinfo"

void modinfo_free(struct modinfo *mi)
{
	if (!mi)
		return;
	g_free(mi->file);
	g_free(mi->name);
	g_free(mi->version);
	g_free(mi->abi);
	g_free(mi->license);
	g_free(mi->author);
	g_free(mi->description);
	if (mi->devices)
		g_ptr_array_unref(mi->devices);
	if (mi->vmstates)
		g_ptr_array_unref(mi->vmstates);
	if (mi->known_bad)
		g_ptr_array_unref(mi->known_bad);
	if (mi->keys)
		g_ptr_array_unref(mi->keys);
	if (mi->values)
		g_ptr_array_unref(mi->values);
	g_free(mi);
}

static int key_valid(const char *key, size_t len)
{
	if (!len)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!g_ascii_islower(key[i]) && key[i] != '_')
			return 0;
	return 1;
}

static int value_valid(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return 0;
	return 1;
}

/* Module and device type names: what a file name or an id may hold. */
static int name_valid(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 63)
		return 0;
	for (; *s; s++)
		if (!g_ascii_islower(*s) && !g_ascii_isdigit(*s) && *s != '-' &&
		    *s != '_')
			return 0;
	return 1;
}

static char **single_slot(struct modinfo *mi, const char *key)
{
	static const struct {
		const char *key;
		size_t off;
	} slots[] = {
		{ "name", offsetof(struct modinfo, name) },
		{ "version", offsetof(struct modinfo, version) },
		{ "abi", offsetof(struct modinfo, abi) },
		{ "license", offsetof(struct modinfo, license) },
		{ "author", offsetof(struct modinfo, author) },
		{ "description", offsetof(struct modinfo, description) },
	};

	for (size_t i = 0; i < G_N_ELEMENTS(slots); i++)
		if (!strcmp(slots[i].key, key))
			return (char **)((char *)mi + slots[i].off);
	return NULL;
}

static int entry_device(struct modinfo *mi, const char *value, GError **error)
{
	if (!name_valid(value))
		return error_setf(error, EINVAL,
				  "%s: device=%s is not a valid device type "
				  "name (1-63 of a-z 0-9 - _)",
				  mi->file, value);
	for (guint i = 0; i < mi->devices->len; i++)
		if (!strcmp(mi->devices->pdata[i], value))
			return error_setf(error, EINVAL,
					  "%s: device=%s is listed twice",
					  mi->file, value);
	g_ptr_array_add(mi->devices, g_strdup(value));
	return 0;
}

static int entry_vmstate(struct modinfo *mi, const char *value, GError **error)
{
	const char *at = strrchr(value, '@');

	if (!at || at == value || !at[1] ||
	    strspn(at + 1, "0123456789") != strlen(at + 1) ||
	    strlen(at + 1) > 9)
		return error_setf(error, EINVAL,
				  "%s: vmstate=%s is not NAME@VERSION",
				  mi->file, value);
	g_ptr_array_add(mi->vmstates, g_strdup(value));
	return 0;
}

static int entry_known_bad(struct modinfo *mi, const char *value,
			   GError **error)
{
	const char *colon = strstr(value, ": ");

	if (!colon || colon == value || !colon[2] ||
	    memchr(value, ' ', (size_t)(colon - value)))
		return error_setf(error, EINVAL,
				  "%s: known_bad=%s is not "
				  "\"VERSION: reason\"",
				  mi->file, value);
	if (colon - value > MODINFO_MAX_VALUE ||
	    strlen(colon + 2) > MODINFO_MAX_VALUE)
		return error_setf(error, EINVAL,
				  "%s: known_bad=%.40s...: version and "
				  "reason may have %d bytes each",
				  mi->file, value, MODINFO_MAX_VALUE);
	if (mi->known_bad->len == MODINFO_MAX_KNOWN_BAD)
		return error_setf(error, EINVAL,
				  "%s: more than %d known_bad= entries",
				  mi->file, MODINFO_MAX_KNOWN_BAD);
	g_ptr_array_add(mi->known_bad, g_strdup(value));
	return 0;
}

static int entry_intree(struct modinfo *mi, const char *value, GError **error)
{
	if (strcmp(value, "Y"))
		return error_setf(error, EINVAL,
				  "%s: intree=%s: the only value is Y",
				  mi->file, value);
	mi->intree = 1;
	return 0;
}

/* The keys with rules of their own; the rest go to single_slot(). */
static const struct {
	const char *key;
	int (*parse)(struct modinfo *mi, const char *value, GError **error);
} entry_rules[] = {
	{ "device", entry_device },
	{ "vmstate", entry_vmstate },
	{ "known_bad", entry_known_bad },
	{ "intree", entry_intree },
};

static int parse_entry(struct modinfo *mi, const char *entry, size_t off,
		       GError **error)
{
	const char *eq = strchr(entry, '=');
	g_autofree char *key = NULL;
	const char *value;
	char **slot;

	if (!eq || !key_valid(entry, (size_t)(eq - entry)) ||
	    !value_valid(eq + 1))
		return error_setf(
			error, EINVAL,
			"%s: " MODINFO_SECTION
			" entry at offset %zu is not key=value: \"%.40s\"",
			mi->file, off, entry);
	key = g_strndup(entry, (gsize)(eq - entry));
	value = eq + 1;
	g_ptr_array_add(mi->keys, g_strdup(key));
	g_ptr_array_add(mi->values, g_strdup(value));

	for (size_t i = 0; i < G_N_ELEMENTS(entry_rules); i++)
		if (!strcmp(key, entry_rules[i].key))
			return entry_rules[i].parse(mi, value, error);
	slot = single_slot(mi, key);
	if (!slot)
		return 0; /* a key from a newer SDK: kept, not interpreted */
	if (*slot)
		return error_setf(error, EINVAL,
				  "%s: " MODINFO_SECTION
				  " has a second %s= entry at offset %zu",
				  mi->file, key, off);
	*slot = g_strdup(value);
	return 0;
}

static struct modinfo *modinfo_new(const char *file)
{
	struct modinfo *mi = g_new0(struct modinfo, 1);

	mi->file = g_path_get_basename(file);
	mi->devices = g_ptr_array_new_with_free_func(g_free);
	mi->vmstates = g_ptr_array_new_with_free_func(g_free);
	mi->known_bad = g_ptr_array_new_with_free_func(g_free);
	mi->keys = g_ptr_array_new_with_free_func(g_free);
	mi->values = g_ptr_array_new_with_free_func(g_free);
	return mi;
}

/* The entries every module has: name=, version= and abi=, each valid. */
static int required_check(struct modinfo *mi, GError **error)
{
	if (!mi->name)
		return error_setf(error, EINVAL,
				  "%s: " MODINFO_SECTION " has no name= entry",
				  mi->file);
	if (!name_valid(mi->name))
		return error_setf(error, EINVAL,
				  "%s: name=%s is not a valid module name "
				  "(1-63 of a-z 0-9 - _)",
				  mi->file, mi->name);
	if (!mi->version || !*mi->version)
		return error_setf(error, EINVAL,
				  "%s: " MODINFO_SECTION
				  " has no version= entry",
				  mi->file);
	if (strlen(mi->version) > MODINFO_MAX_VALUE)
		return error_setf(error, EINVAL,
				  "%s: version=%.40s... is longer than %d "
				  "bytes",
				  mi->file, mi->version, MODINFO_MAX_VALUE);
	if (!mi->abi)
		return error_setf(error, EINVAL,
				  "%s: " MODINFO_SECTION " has no abi= entry",
				  mi->file);
	if (abi_version_parse(mi->abi, &mi->abi_major, &mi->abi_minor) < 0)
		return error_setf(error, EINVAL,
				  "%s: abi=%s is not MAJOR.MINOR", mi->file,
				  mi->abi);
	return 0;
}

int modinfo_parse(const char *file, const char *data, size_t len,
		  struct modinfo **ret, GError **error)
{
	struct modinfo *mi = modinfo_new(file);
	size_t off = 0;
	int r;

	if (len > MODINFO_MAX_SIZE) {
		r = error_setf(error, EFBIG,
			       "%s: " MODINFO_SECTION
			       " is %zu bytes, more than the limit of %d",
			       mi->file, len, MODINFO_MAX_SIZE);
		goto fail;
	}
	while (off < len) {
		const char *nul = memchr(data + off, '\0', len - off);

		if (!nul) {
			r = error_setf(
				error, EINVAL,
				"%s: corrupt " MODINFO_SECTION
				": entry at offset %zu is not NUL-terminated",
				mi->file, off);
			goto fail;
		}
		/* Empty strings are padding a linker may insert. */
		if (nul != data + off) {
			r = parse_entry(mi, data + off, off, error);
			if (r < 0)
				goto fail;
		}
		off = (size_t)(nul - data) + 1;
	}
	r = required_check(mi, error);
	if (r < 0)
		goto fail;
	*ret = mi;
	return 0;
fail:
	modinfo_free(mi);
	return r;
}

static int elf_fail(const char *file, GError **error)
{
	return error_setf(error, EINVAL, "%s: corrupt ELF file: %s", file,
			  elf_errmsg(-1));
}

/* Does the dynamic symbol table define the entry point as a function? */
static int find_entry(Elf *elf, Elf_Scn *dynsym, GElf_Shdr *sh)
{
	Elf_Data *d = elf_getdata(dynsym, NULL);
	size_t n;

	if (!d || !sh->sh_entsize)
		return 0;
	n = sh->sh_size / sh->sh_entsize;
	for (size_t i = 0; i < n; i++) {
		GElf_Sym sym;
		const char *name;

		if (!gelf_getsym(d, (int)i, &sym))
			return 0;
		if (sym.st_shndx == SHN_UNDEF ||
		    GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
		    GELF_ST_BIND(sym.st_info) != STB_GLOBAL)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (name && !strcmp(name, MODVMM_MODULE_ENTRY))
			return 1;
	}
	return 0;
}

/*
 * An x86-64 shared object whose section headers lie within the file;
 * `eh` is its ELF header.
 */
static int elf_header_check(int fd, Elf *elf, const char *file, GElf_Ehdr *eh,
			    GError **error)
{
	struct stat st;

	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, eh))
		return elf_fail(file, error);
	if (gelf_getclass(elf) != ELFCLASS64 || eh->e_machine != EM_X86_64 ||
	    eh->e_type != ET_DYN)
		return error_setf(error, ENOEXEC,
				  "%s: not an x86-64 ELF shared object", file);
	/* libelf quietly yields no sections when their headers are cut off. */
	if (fstat(fd, &st) < 0 || eh->e_shoff > (uint64_t)st.st_size ||
	    (uint64_t)eh->e_shnum * eh->e_shentsize >
		    (uint64_t)st.st_size - eh->e_shoff)
		return error_setf(
			error, EINVAL,
			"%s: corrupt ELF file: %u section headers at offset "
			"%" G_GUINT64_FORMAT
			" extend past its end (%" G_GUINT64_FORMAT " bytes)",
			file, eh->e_shnum, (guint64)eh->e_shoff,
			(guint64)st.st_size);
	return 0;
}

/* The two sections the metadata is read from; either may be missing. */
struct modinfo_sections {
	Elf_Scn *info, *dynsym;
	GElf_Shdr info_sh, dynsym_sh;
};

static int sections_find(Elf *elf, const char *file,
			 struct modinfo_sections *ret, GError **error)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return elf_fail(file, error);
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			return elf_fail(file, error);
		if (sh.sh_type == SHT_DYNSYM) {
			ret->dynsym = scn;
			ret->dynsym_sh = sh;
			continue;
		}
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && !strcmp(name, MODINFO_SECTION)) {
			ret->info = scn;
			ret->info_sh = sh;
		}
	}
	return 0;
}

/* The contents of the metadata section, bounded before they are read. */
static int info_data(const struct modinfo_sections *sec, const char *file,
		     Elf_Data **ret, GError **error)
{
	Elf_Data *d;

	if (!sec->info)
		return error_setf(error, ENOEXEC,
				  "%s: not a modvmm module: no " MODINFO_SECTION
				  " section",
				  file);
	if (sec->info_sh.sh_type != SHT_PROGBITS)
		return error_setf(error, EINVAL,
				  "%s: corrupt " MODINFO_SECTION
				  ": section type %u, expected PROGBITS",
				  file, sec->info_sh.sh_type);
	if (sec->info_sh.sh_size > MODINFO_MAX_SIZE)
		return error_setf(
			error, EFBIG,
			"%s: " MODINFO_SECTION " is %" G_GUINT64_FORMAT
			" bytes, more than the limit of %d",
			file, (guint64)sec->info_sh.sh_size, MODINFO_MAX_SIZE);
	d = elf_getdata(sec->info, NULL);
	if (!d || d->d_size != sec->info_sh.sh_size || (d->d_size && !d->d_buf))
		return elf_fail(file, error);
	*ret = d;
	return 0;
}

int modinfo_read_fd(int fd, const char *path, struct modinfo **ret,
		    GError **error)
{
	g_autofree char *file = g_path_get_basename(path);
	struct modinfo_sections sec = { 0 };
	struct modinfo *mi = NULL;
	GElf_Ehdr eh;
	Elf_Data *d = NULL;
	char magic[4];
	Elf *elf;
	int r;

	/* libelf reports a text file as ELF_K_NONE; say what it is plainly. */
	if (pread(fd, magic, sizeof(magic), 0) != sizeof(magic) ||
	    memcmp(magic, ELFMAG, SELFMAG))
		return error_setf(error, ENOEXEC, "%s: not an ELF file", file);

	elf_version(EV_CURRENT);
	/* ELF_C_READ copies the file: a truncated file cannot fault us. */
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return elf_fail(file, error);
	r = elf_header_check(fd, elf, file, &eh, error);
	if (r < 0)
		goto out;
	r = sections_find(elf, file, &sec, error);
	if (r < 0)
		goto out;
	r = info_data(&sec, file, &d, error);
	if (r < 0)
		goto out;
	r = modinfo_parse(path, d->d_buf, d->d_size, &mi, error);
	if (r < 0)
		goto out;
	mi->has_entry =
		sec.dynsym ? find_entry(elf, sec.dynsym, &sec.dynsym_sh) : 0;
	*ret = mi;
out:
	elf_end(elf);
	return r;
}

int modinfo_read(const char *path, struct modinfo **ret, GError **error)
{
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = errno;
		return error_setf(error, r, "%s: %s", path, g_strerror(r));
	}
	r = modinfo_read_fd(fd, path, ret, error);
	close(fd);
	return r;
}

JsonNode *modinfo_to_json(const struct modinfo *mi)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	const struct {
		const char *key;
		const char *value;
	} strs[] = {
		{ "name", mi->name },	  { "version", mi->version },
		{ "abi", mi->abi },	  { "license", mi->license },
		{ "author", mi->author }, { "description", mi->description },
	};

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "file");
	json_builder_add_string_value(b, mi->file);
	for (size_t i = 0; i < G_N_ELEMENTS(strs); i++) {
		json_builder_set_member_name(b, strs[i].key);
		if (strs[i].value)
			json_builder_add_string_value(b, strs[i].value);
		else
			json_builder_add_null_value(b);
	}
	json_builder_set_member_name(b, "intree");
	json_builder_add_boolean_value(b, mi->intree);
	json_builder_set_member_name(b, "devices");
	json_builder_begin_array(b);
	for (guint i = 0; i < mi->devices->len; i++)
		json_builder_add_string_value(b, mi->devices->pdata[i]);
	json_builder_end_array(b);
	json_builder_set_member_name(b, "vmstates");
	json_builder_begin_array(b);
	for (guint i = 0; i < mi->vmstates->len; i++)
		json_builder_add_string_value(b, mi->vmstates->pdata[i]);
	json_builder_end_array(b);
	/* Every entry, in section order, keys from newer SDKs included. */
	json_builder_set_member_name(b, "entries");
	json_builder_begin_array(b);
	for (guint i = 0; i < mi->keys->len; i++) {
		json_builder_begin_array(b);
		json_builder_add_string_value(b, mi->keys->pdata[i]);
		json_builder_add_string_value(b, mi->values->pdata[i]);
		json_builder_end_array(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
	return json_builder_get_root(b);
}
