/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_TLS_H
#define CORE_TLS_H

#include <stdint.h>

#include <glib.h>

/*
 * TLS for migration connections (docs/security.md), in QEMU's shape: a
 * directory of ca-cert.pem, server-cert.pem and server-key.pem (a
 * destination), client-cert.pem and client-key.pem (a source). Both ends
 * show a certificate signed by the CA; the source checks that the
 * destination's is issued for the host of its URI.
 */

struct tls_creds;
struct stream_io;

#define TLS_NEED_CLIENT (1u << 0) /* client-cert.pem, client-key.pem */
#define TLS_NEED_SERVER (1u << 1) /* server-cert.pem, server-key.pem */

/*
 * Reads DIR's files now (the migration threads may not open files): the
 * CA always, each pair when present, and refuses a directory without the
 * pairs `need` names. Starts the TLS thread the first time.
 */
int tls_creds_load(const char *dir, unsigned int need, struct tls_creds **ret,
		   GError **error);
struct tls_creds *tls_creds_ref(struct tls_creds *c);
void tls_creds_unref(struct tls_creds *c);
const char *tls_creds_dir(const struct tls_creds *c);

/*
 * The handshake on connected socket `fd` (which it takes, on failure
 * too): as the client, checking that the peer's certificate is issued for
 * `host`, or as the server (`host` NULL), requiring a client certificate.
 * Both certificates must be signed by the CA. Returns 0 and in *ret the
 * layer (core/stream.h) through which the records of core/stream.c then
 * go over `fd`, which it owns (stream_close() closes both), or a negative
 * errno with a message naming what was wrong with the peer. `timeout`
 * (s, 0: none) bounds the handshake.
 */
int tls_wrap(struct tls_creds *c, int fd, const char *host, uint32_t timeout,
	     struct stream_io **ret, GError **error);

/* At exit: ASan builds wait for GLib's idle workers to end. */
void tls_shutdown(void);

#endif
