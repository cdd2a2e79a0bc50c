/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_MODULE_TRUST_H
#define CORE_MODULE_TRUST_H

#include <glib.h>

/* Bound on an allowlist file: some 12,000 lines of sha256sum output. */
#define LOADER_ALLOWLIST_MAX (1u << 20)

/*
 * The trust rules for a module file, used by the loader before it reads
 * anything of the module. Every refusal starts with the file's name and
 * ends with "(rule: NAME)".
 */

/*
 * Opens the file `path` resolves to and checks it and its directory:
 * owned by root or us, not group- or world-writable. `whose` says what is
 * refused ("module", "allowlist"). What the caller reads through *ret_fd
 * is what was checked, whatever is renamed or swapped in meanwhile.
 */
int trust_open(const char *path, const char *whose, char **ret_real,
	       int *ret_fd, GError **error);

/*
 * With module directories `dirs` (char *), the file `real` must lie in
 * one of them; with none, any file passes. `file` names it in messages.
 */
int trust_dir_check(const GPtrArray *dirs, const char *file, const char *real,
		    GError **error);

/*
 * The digests in the allowlist `path` (sha256sum output), as a set of
 * lower-case hex strings; a malformed line is an error naming path:line.
 */
int trust_allowlist_read(const char *path, GHashTable **ret, GError **error);

/*
 * The SHA-256 of the whole file behind `fd` must be in the allowlist
 * `allow_path`, read afresh so that a line added while the host runs
 * admits a module to a later load.
 */
int trust_digest_check(const char *allow_path, int fd, const char *file,
		       GError **error);

#endif
