// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core/transport.c - the transports a migration runs on: "unix:PATH",
 * "tcp:HOST:PORT" and "fd:N" (a connection made by someone else).
 *
 * Invariant: every wait on the peer is bounded. connect() and each read
 * or write that moves nothing fail after the timeout given (SO_RCVTIMEO,
 * SO_SNDTIMEO) instead of waiting for TCP to give up; only waiting for a
 * source to come (accept) is not.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/error.h"
#include "fault.h"
#include "sandbox.h"
#include "tls.h"
#include "transport.h"

static int parse_hostport(const char *hp, char **ret_host, char **ret_port,
			  GError **error)
{
	const char *colon = strrchr(hp, ':');

	if (!colon || colon == hp || !colon[1])
		return error_setf(error, EINVAL,
				  "tcp:%s: expected tcp:HOST:PORT", hp);
	*ret_host = g_strndup(hp, (gsize)(colon - hp));
	*ret_port = g_strdup(colon + 1);
	return 0;
}

/*
 * Name lookup reads files and may load NSS modules, which the migration
 * thread's system call filter does not allow: it runs on the caller's.
 */
static int tcp_resolve(const char *hp, int listening, struct addrinfo **ret,
		       GError **error)
{
	g_autofree char *host = NULL, *port = NULL;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	int r;

	r = parse_hostport(hp, &host, &port, error);
	if (r < 0)
		return r;
	hints.ai_flags = listening ? AI_PASSIVE : 0;
	sandbox_lookup_begin();
	r = getaddrinfo(host, port, &hints, ret);
	sandbox_lookup_end();
	if (r)
		return error_setf(error, EHOSTUNREACH, "tcp:%s: %s", hp,
				  gai_strerror(r));
	return 0;
}

/*
 * Bounds every wait on the peer: connect(), and each read or write that
 * moves nothing, fail after `s` seconds (EINPROGRESS, EAGAIN) instead of
 * waiting for TCP to give up, which takes minutes, or forever.
 */
static void set_timeouts(int fd, uint32_t s)
{
	struct timeval tv = { .tv_sec = s };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* `timeout`: seconds the peer has for each step; 0 when listening. */
static int tcp_open(const char *hp, const struct addrinfo *ai, int listening,
		    uint32_t timeout, GError **error)
{
	const struct addrinfo *a;
	int fd = -1, r = EHOSTUNREACH, one = 1;

	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC,
			    a->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!listening)
			set_timeouts(fd, timeout);
		if (listening ? !bind(fd, a->ai_addr, a->ai_addrlen) &&
					!listen(fd, 1)
			      : !connect(fd, a->ai_addr, a->ai_addrlen))
			break;
		r = errno;
		close(fd);
		fd = -1;
	}
	if (fd < 0 && r == EINPROGRESS)
		return error_setf(error, ETIMEDOUT,
				  "tcp:%s: no connection within %u s", hp,
				  timeout);
	if (fd < 0)
		return error_setf(error, r, "tcp:%s: %s", hp, g_strerror(r));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int tcp_socket(const char *hp, int listening, uint32_t timeout,
		      GError **error)
{
	struct addrinfo *ai;
	int r = tcp_resolve(hp, listening, &ai, error);

	if (r < 0)
		return r;
	r = tcp_open(hp, ai, listening, timeout, error);
	freeaddrinfo(ai);
	return r;
}

static int unix_socket(const char *path, int listening, uint32_t timeout,
		       GError **error)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return error_setf(error, ENAMETOOLONG,
				  "unix:%s: the path is too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return error_setf(error, errno, "unix:%s: %s", path,
				  g_strerror(errno));
	if (listening)
		unlink(path);
	else
		set_timeouts(fd, timeout);
	r = listening ? bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
				listen(fd, 1)
		      : connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (r) {
		r = errno;
		close(fd);
		/* A listener that accepts nothing, its backlog full. */
		if (r == EAGAIN)
			return error_setf(error, ETIMEDOUT,
					  "unix:%s: not accepted within %u s",
					  path, timeout);
		return error_setf(error, r, "unix:%s: %s", path, g_strerror(r));
	}
	return fd;
}

/*
 * A tcp: connection with `tls` set goes through the TLS handshake; its
 * records then go through *ret_io, over the same descriptor.
 */
static int secure(int fd, const char *uri, const char *host, uint32_t timeout,
		  struct tls_creds *tls, struct stream_io **ret_io,
		  GError **error)
{
	int r;

	*ret_io = NULL;
	if (!tls || !g_str_has_prefix(uri, "tcp:"))
		return fd;
	r = tls_wrap(tls, fd, host, timeout, ret_io, error);
	if (r < 0) {
		g_prefix_error(error, "%s: ", uri);
		return r;
	}
	return fd;
}

/* The source's side: the destination's certificate must name HOST. */
static int secure_client(int fd, const char *hp, uint32_t timeout,
			 struct tls_creds *tls, struct stream_io **ret_io,
			 GError **error)
{
	g_autofree char *host = NULL, *port = NULL, *uri = NULL;
	int r;

	*ret_io = NULL;
	if (!tls)
		return fd;
	r = parse_hostport(hp, &host, &port, error);
	if (r < 0) {
		close(fd);
		return r;
	}
	/* "[::1]": the address inside the brackets. */
	if (host[0] == '[' && g_str_has_suffix(host, "]")) {
		memmove(host, host + 1, strlen(host) - 2);
		host[strlen(host) - 2] = '\0';
	}
	uri = g_strconcat("tcp:", hp, NULL);
	return secure(fd, uri, host, timeout, tls, ret_io, error);
}

int transport_fd(const char *n, GError **error)
{
	char *end;
	long v = strtol(n, &end, 10);

	struct stat st;

	if (!*n || *end || v < 0 || v > G_MAXINT)
		return error_setf(error, EINVAL, "fd:%s: not a descriptor", n);
	/* Only a socket bounds its waits (SO_RCVTIMEO): a read on an
	 * eventfd or a pipe could hold the control thread for ever, and a
	 * write could reach a disk image. */
	if (fstat((int)v, &st) < 0)
		return error_setf(error, errno, "fd:%s: %s", n,
				  g_strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return error_setf(error, ENOTSOCK, "fd:%s: not a socket", n);
	return (int)v;
}

static int uri_open(const char *uri, int listening, uint32_t timeout,
		    GError **error)
{
	int fd;

	if (g_str_has_prefix(uri, "unix:"))
		return unix_socket(uri + 5, listening, timeout, error);
	if (g_str_has_prefix(uri, "tcp:"))
		return tcp_socket(uri + 4, listening, timeout, error);
	if (g_str_has_prefix(uri, "fd:")) {
		fd = transport_fd(uri + 3, error);
		if (fd >= 0 && !listening)
			set_timeouts(fd, timeout);
		return fd;
	}
	return error_setf(error, EINVAL,
			  "migration URI '%s': expected unix:PATH, "
			  "tcp:HOST:PORT or fd:N",
			  uri);
}

int transport_listen(const char *uri, GError **error)
{
	return uri_open(uri, 1, 0, error);
}

void transport_unlisten(int listener, const char *uri)
{
	if (listener < 0 || g_str_has_prefix(uri, "fd:"))
		return;
	close(listener);
	if (g_str_has_prefix(uri, "unix:"))
		unlink(uri + 5);
}

int transport_accept(int listener, const char *uri, uint32_t timeout_s,
		     struct tls_creds *tls, int *ret_fd,
		     struct stream_io **ret_io, GError **error)
{
	int fd;

	*ret_io = NULL;
	if (g_str_has_prefix(uri, "fd:")) {
		set_timeouts(listener, timeout_s);
		*ret_fd = listener;
		fault_point(FAULT_INCOMING_CONNECT);
		return 0;
	}
	fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return error_setf(error, errno, "%s: accept: %s", uri,
				  g_strerror(errno));
	/* Waiting for a source to come is not bounded; what it sends is. */
	set_timeouts(fd, timeout_s);
	fd = secure(fd, uri, NULL, timeout_s, tls, ret_io, error);
	if (fd < 0)
		return fd;
	*ret_fd = fd;
	fault_point(FAULT_INCOMING_CONNECT);
	return 0;
}

int transport_open(const char *uri, uint32_t timeout, struct tls_creds *tls,
		   struct stream_io **ret_io, GError **error)
{
	int fd = uri_open(uri, 0, timeout, error);

	*ret_io = NULL;
	if (fd < 0 || !g_str_has_prefix(uri, "tcp:"))
		return fd;
	return secure_client(fd, uri + 4, timeout, tls, ret_io, error);
}

int transport_resolve(const char *hp, struct addrinfo **ret, GError **error)
{
	return tcp_resolve(hp, 0, ret, error);
}

int transport_connect_tcp(const char *hp, const struct addrinfo *ai,
			  uint32_t timeout, struct tls_creds *tls,
			  struct stream_io **ret_io, GError **error)
{
	int fd = tcp_open(hp, ai, 0, timeout, error);

	*ret_io = NULL;
	if (fd < 0)
		return fd;
	return secure_client(fd, hp, timeout, tls, ret_io, error);
}
