/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef CORE_TRANSPORT_H
#define CORE_TRANSPORT_H

#include <stdint.h>

#include <glib.h>

struct addrinfo;
struct stream_io;
struct tls_creds;

/*
 * Migration transports: "unix:PATH", "tcp:HOST:PORT" and "fd:N". Every
 * wait on the peer of a connection made here ends after `timeout`
 * seconds (0: no bound).
 *
 * `tls` (NULL: plaintext) secures a tcp: connection (core/tls.c): the
 * handshake is done before these return, and the records go through the
 * layer returned in *ret_io (NULL: plaintext, the descriptor's own reads
 * and writes); the descriptor stays the socket, for its timeouts and
 * shutdown(). stream_close() closes both. unix: and fd: stay plaintext:
 * their peer is on this host, and the socket's permissions decide who
 * it may be.
 */

/* A connection to URI; the file descriptor, or a negative errno. */
int transport_open(const char *uri, uint32_t timeout, struct tls_creds *tls,
		   struct stream_io **ret_io, GError **error);

/* The N of "fd:N", checked. */
int transport_fd(const char *n, GError **error);

/*
 * "HOST:PORT" looked up, and connected to: name lookup reads files and
 * loads NSS modules, which a migration thread's system call filter does
 * not allow, so it is done first, on the caller's thread.
 */
int transport_resolve(const char *hp, struct addrinfo **ret, GError **error);
int transport_connect_tcp(const char *hp, const struct addrinfo *ai,
			  uint32_t timeout, struct tls_creds *tls,
			  struct stream_io **ret_io, GError **error);

/*
 * Destination side. transport_listen() listens on "unix:PATH" or
 * "tcp:HOST:PORT" (or takes "fd:N", the connection itself), and keeps
 * listening through migration checks until transport_unlisten(), so that
 * a source that checks and then migrates always finds it.
 * transport_accept() returns the next connection's fd, on which every
 * read and write then waits at most timeout_s seconds for the source.
 */
int transport_listen(const char *uri, GError **error);
int transport_accept(int listener, const char *uri, uint32_t timeout_s,
		     struct tls_creds *tls, int *ret_fd,
		     struct stream_io **ret_io, GError **error);
void transport_unlisten(int listener, const char *uri);

#endif
