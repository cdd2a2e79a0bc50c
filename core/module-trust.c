// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/module-trust.c - the trust rules for a module file: owner and mode
 * of the file and of its directory, the module directories, and with an
 * allowlist the file's SHA-256.
 *
 * Every check is made on a descriptor, never again on a path: the loader
 * opens a module here once and reads, digests and maps it through that
 * descriptor. A refusal by a rule starts with the file's name, names both
 * values that disagree and ends with "(rule: NAME)".
 */
#define _GNU_SOURCE /* O_PATH */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "module-trust.h"

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
 * The checks are made on descriptors, and the file is opened relative to
 * the directory's descriptor without following a link: whatever is
 * renamed or swapped in meanwhile, what the caller reads through *ret_fd
 * is what was checked.
 */
int trust_open(const char *path, const char *whose, char **ret_real,
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
 * one of them: the rule is applied here, to the file trust_open()
 * resolved and opened, whether it was named by a path, found by a bare
 * name or listed at start-up, so that no symbolic link leads out of the
 * directories. A loader without directories (one a test drives) loads
 * the files it is given.
 */
int trust_dir_check(const GPtrArray *dirs, const char *file, const char *real,
		    GError **error)
{
	g_autofree char *dir = g_path_get_dirname(real);
	g_autoptr(GString) list = g_string_new(NULL);

	if (!dirs->len)
		return 0;
	for (guint i = 0; i < dirs->len; i++) {
		g_autofree char *d = realpath(dirs->pdata[i], NULL);

		if (d && !strcmp(d, dir))
			return 0;
		g_string_append_printf(list, "%s%s", i ? ", " : "",
				       (char *)dirs->pdata[i]);
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

int trust_allowlist_read(const char *path, GHashTable **ret, GError **error)
{
	g_autoptr(GHashTable) allow =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autofree char *real = NULL, *text = NULL;
	g_auto(GStrv) lines = NULL;
	ssize_t n;
	int fd, r;

	r = trust_open(path, "allowlist", &real, &fd, error);
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

int trust_digest_check(const char *allow_path, int fd, const char *file,
		       GError **error)
{
	g_autoptr(GHashTable) allow = NULL;
	g_autofree char *digest = NULL;
	int r;

	r = trust_allowlist_read(allow_path, &allow, error);
	if (r < 0)
		return r;
	r = fd_sha256(fd, file, &digest, error);
	if (r < 0)
		return r;
	if (!g_hash_table_contains(allow, digest))
		return error_setf(error, EPERM,
				  "%s: refusing module: sha256 %s is not in "
				  "allowlist %s (rule: --module-allowlist)",
				  file, digest, allow_path);
	return 0;
}
